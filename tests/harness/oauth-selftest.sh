#!/usr/bin/env bash
# Self-test of OAuth2 sign-in against the harness: tests/harness/oauth-server.py plus a
# mailserver instance started with MS_OAUTH2_URL. Drives the authorization-code flow (PKCE),
# then logs in with SASL XOAUTH2 and OAUTHBEARER on IMAP, POP3 and submission, and checks
# that expired, revoked and foreign tokens are refused with the replies documented in
# README.md. Needs root, Dovecot, Postfix, openssl and python3 (no swaks).
# Ends with "N passed, M failed"; exit status 0 only if nothing failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MS=$HERE/mailserver
PY=${PYTHON:-python3}
WORK=$(mktemp -d /tmp/ms-oauth-selftest.XXXXXX)
D=$WORK/ms
CLIENT=$WORK/oauth_client.py
OAUTH_PID=""
PW="Canary pass $RANDOM"
export PW

cleanup() {
	"$MS" stop "$D" >/dev/null 2>&1
	if [[ -n $OAUTH_PID ]]; then
		kill "$OAUTH_PID" 2>/dev/null
		wait "$OAUTH_PID" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=tests/harness/selftest-lib.sh
. "$HERE/selftest-lib.sh"

cl() { "$PY" "$CLIENT" "$@" 2>&1; }
minus() { if [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]]; then echo $(($1 - $2)); else echo "not numbers: $1 / $2"; fi; }

# --- the client ---------------------------------------------------------------
# Tokens live in $WORK/tok/NAME.json (mode 0600) and never reach argv, stdout or a log.

cat >"$CLIENT" <<'PYEOF'
"""OAuth2 + SASL probes for oauth-selftest.sh. Every command prints what the shell greps."""
import base64, hashlib, http.client, json, os, secrets, socket, ssl, sys, urllib.parse

HOST = "127.0.0.1"
BASE = urllib.parse.urlsplit(os.environ["OAUTH_URL"])
TOK = os.path.join(os.environ["WORK"], "tok")
REDIRECT = "http://127.0.0.1:53682/callback"
CLIENT_ID = "mail-canary-selftest"


def call(method, path, params=None, ctype="application/x-www-form-urlencoded"):
    c = http.client.HTTPConnection(BASE.hostname, BASE.port, timeout=10)
    body = None
    headers = {}
    if params is not None and method == "POST":
        body = urllib.parse.urlencode(params)
        headers["Content-Type"] = ctype
    elif params:
        path += "?" + urllib.parse.urlencode(params)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read().decode()
    c.close()
    return r.status, dict(r.getheaders()), data


def save(name, d):
    p = os.path.join(TOK, name + ".json")
    fd = os.open(p + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(d, f)
    os.replace(p + ".tmp", p)


def load(name):
    with open(os.path.join(TOK, name + ".json")) as f:
        return json.load(f)


def pkce():
    v = secrets.token_urlsafe(48)
    c = base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).rstrip(b"=").decode()
    return v, c


def authorize(user, challenge, state="st-" + secrets.token_hex(4), **over):
    q = dict(response_type="code", client_id=CLIENT_ID, redirect_uri=REDIRECT, scope="mail",
             state=state, code_challenge=challenge, code_challenge_method="S256", login_hint=user)
    for k, v in over.items():
        if v is None:
            q.pop(k, None)
        else:
            q[k] = v
    st, h, body = call("GET", "/authorize", q)
    loc = h.get("Location", "")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query)) if loc else {}
    return st, loc, params, body, state


def cmd_flow(name, user):
    v, c = pkce()
    st, loc, p, body, state = authorize(user, c)
    if st != 302 or "code" not in p:
        print("AUTHORIZE %d %s %s" % (st, {k: x for k, x in p.items() if k != "code"}, body)); return
    if not loc.startswith(REDIRECT + "?") or p.get("state") != state:
        print("AUTHORIZE bad redirect (state or target differs)"); return
    st, h, body = call("POST", "/token", dict(grant_type="authorization_code", code=p["code"],
                                              redirect_uri=REDIRECT, client_id=CLIENT_ID, code_verifier=v))
    if st != 200:
        print("TOKEN %d %s" % (st, body)); return
    d = json.loads(body)
    save(name, d)
    print("OK token_type=%s expires_in=%s scope=%s refresh=%s no-store=%s" % (
        d.get("token_type"), d.get("expires_in"), d.get("scope"), "refresh_token" in d,
        h.get("Cache-Control") == "no-store"))


def cmd_authorize(*kv):
    """authorize with overrides (k=v; k= drops k): status, redirect error/state or JSON error."""
    v, c = pkce()
    over = {}
    for a in kv:
        k, _, x = a.partition("=")
        over[k] = x if x else None
    st, loc, p, body, state = authorize(over.pop("login_hint", "alice@example.test") or "", c, **over)
    if st == 302:
        shown = {k: x for k, x in p.items() if k not in ("code", "error_description")}
        print("302 %s %s" % ("code" if "code" in p else "nocode", json.dumps(shown, sort_keys=True)))
    else:
        print("%d %s" % (st, body))


def cmd_badexchange(what):
    v, c = pkce()
    st, loc, p, body, state = authorize("alice@example.test", c)
    args = dict(grant_type="authorization_code", code=p["code"], redirect_uri=REDIRECT,
                client_id=CLIENT_ID, code_verifier=v)
    if what == "verifier":
        args["code_verifier"] = pkce()[0]
    elif what == "redirect":
        args["redirect_uri"] = "http://127.0.0.1:53683/callback"
    elif what == "nocode":
        del args["code"]
    elif what == "grant":
        args["grant_type"] = "password"
    elif what == "reuse":
        st, h, body = call("POST", "/token", args)
        if st != 200:
            print("first exchange failed: %d %s" % (st, body)); return
        save("reuse", json.loads(body))
    st, h, body = call("POST", "/token", args)
    print("%d %s" % (st, body if st != 200 else "(tokens)"))


def cmd_refresh(name, which="current"):
    d = load(name)
    rt = d["refresh_token"] if which == "current" else d.get("old_refresh_token", "")
    st, h, body = call("POST", "/token", dict(grant_type="refresh_token", refresh_token=rt, client_id=CLIENT_ID))
    if st != 200:
        print("%d %s" % (st, body)); return
    n = json.loads(body)
    d["old_access_token"] = d["access_token"]
    d["access_token"] = n["access_token"]
    rotated = "refresh_token" in n and n["refresh_token"] != d["refresh_token"]
    if rotated:
        d["old_refresh_token"] = d["refresh_token"]
        d["refresh_token"] = n["refresh_token"]
    save(name, d)
    print("200 new_access=%s rotated=%s" % (d["access_token"] != d["old_access_token"], rotated))


def cmd_revoke(name, kind):
    d = load(name)
    st, h, body = call("POST", "/revoke", dict(token=d[kind + "_token"], token_type_hint=kind + "_token",
                                               client_id=CLIENT_ID))
    print("%d %s" % (st, body))


def cmd_admin(path, *kv):
    st, h, body = call("GET" if path == "stats" else "POST", "/admin/" + path,
                       dict(a.split("=", 1) for a in kv))
    print("%d %s" % (st, body))


def cmd_stat(key):
    st, h, body = call("GET", "/admin/stats")
    print(json.loads(body).get(key, 0))


def cmd_issue(name, user):
    st, h, body = call("POST", "/admin/issue", dict(user=user, scope="mail"))
    if st == 200:
        d = json.loads(body)
        save(name, d)
        print("200 expires_in=%s" % d["expires_in"])
    else:
        print("%d %s" % (st, body))


def cmd_introspect(name, kind="access"):
    st, h, body = call("POST", "/introspect", dict(token=load(name)[kind + "_token"]))
    d = json.loads(body)
    print("%d active=%s username=%s" % (st, d.get("active"), d.get("username", "-")))


def cmd_leakcheck(*files):
    toks = set()
    for fn in os.listdir(TOK):
        if fn.endswith(".json"):
            for k, v in load(fn[:-5]).items():
                if k.endswith("token") and isinstance(v, str) and len(v) >= 20:
                    toks.add(v)
    leaks = []
    for f in files:
        try:
            data = open(f, "rb").read().decode("utf-8", "replace")
        except OSError:
            continue
        for t in toks:
            if t in data or urllib.parse.quote(t, safe="") in data:
                leaks.append(f)
                break
    print("clean (%d tokens, %d files)" % (len(toks), len(files)) if not leaks else "LEAK in " + " ".join(leaks))


# ---- mail protocols -----------------------------------------------------------

def ctx():
    return ssl.create_default_context(cafile=os.environ["MS_CA_FILE"])


class Conn:
    def __init__(self, port, tls):
        self.s = socket.create_connection((HOST, port), timeout=10)
        if tls:
            self.s = ctx().wrap_socket(self.s, server_hostname="localhost")
        self.f = self.s.makefile("rb")

    def starttls(self):
        self.s = ctx().wrap_socket(self.s, server_hostname="localhost")
        self.f = self.s.makefile("rb")

    def line(self):
        l = self.f.readline()
        if not l:
            raise EOFError("connection closed by server")
        return l.decode("utf-8", "replace").rstrip("\r\n")

    def send(self, l):
        self.s.sendall(l.encode() + b"\r\n")


def sasl_ir(mech, user, secret):
    if mech == "XOAUTH2":
        raw = "user=%s\x01auth=Bearer %s\x01\x01" % (user, secret)
    elif mech == "OAUTHBEARER":
        raw = "n,a=%s,\x01host=127.0.0.1\x01port=0\x01auth=Bearer %s\x01\x01" % (
            user.replace("=", "=3D").replace(",", "=2C"), secret)
    else:  # PLAIN
        raw = "\x00%s\x00%s" % (user, secret)
    return base64.b64encode(raw.encode()).decode()


def decode_cont(b64):
    try:
        return base64.b64decode(b64).decode()
    except ValueError:
        return "<not base64: %s>" % b64


def imap_login(c, mech, ir, answer):
    cont = []
    if ir is None:  # no SASL-IR: wait for the empty challenge first
        c.send("a1 AUTHENTICATE %s" % mech)
        l = c.line()
        if not l.startswith("+"):
            return l, cont
        c.send(sasl_ir_cache[0])
    else:
        c.send("a1 AUTHENTICATE %s %s" % (mech, ir))
    while True:
        l = c.line()
        if l.startswith("+"):
            cont.append(decode_cont(l[2:].strip()))
            c.send(answer)
            continue
        if l.startswith("a1 "):
            if l.startswith("a1 OK"):
                c.send("z LOGOUT")
            return l[3:], cont


def smtp_reply(c):
    lines = []
    while True:
        l = c.line()
        lines.append(l)
        if l[3:4] != "-":
            return l, lines


sasl_ir_cache = [""]


def cmd_login(proto, mode, port, mech, user, name, *opts):
    """proto imap|pop3|smtp, mode plain|starttls|ssl; name = token file, or env:VAR (password)."""
    port = int(port)
    kind = "access"
    answer = ""
    noir = False
    for o in opts:
        if o.startswith("answer="):
            answer = o[7:]
        elif o == "noir":
            noir = True
        elif o.startswith("token="):
            kind = o[6:]
    secret = os.environ[name[4:]] if name.startswith("env:") else load(name)[kind + "_token"]
    ir = sasl_ir(mech, user, secret)
    sasl_ir_cache[0] = ir
    cont = []
    try:
        c = Conn(port, mode == "ssl")
        if proto == "imap":
            c.line()
            if mode == "starttls":
                c.send("s STARTTLS")
                while not c.line().startswith("s "):
                    pass
                c.starttls()
            final, cont = imap_login(c, mech, None if noir else ir, answer)
        elif proto == "pop3":
            c.line()
            if mode == "starttls":
                c.send("STLS")
                c.line()
                c.starttls()
            c.send("AUTH %s %s" % (mech, ir))
            while True:
                final = c.line()
                if final == "+" or final.startswith("+ "):
                    cont.append(decode_cont(final[2:].strip()))
                    c.send(answer)
                    continue
                break
            c.send("QUIT")
        else:
            smtp_reply(c)
            c.send("EHLO probe.example.test")
            smtp_reply(c)
            if mode == "starttls":
                c.send("STARTTLS")
                smtp_reply(c)
                c.starttls()
                c.send("EHLO probe.example.test")
                smtp_reply(c)
            c.send("AUTH %s %s" % (mech, ir))
            while True:
                final, _ = smtp_reply(c)
                if final.startswith("334"):
                    cont.append(decode_cont(final[4:].strip()))
                    c.send(answer)
                    continue
                break
            c.send("QUIT")
    except Exception as e:  # noqa: BLE001 - report anything
        final = "ERROR %s: %s" % (type(e).__name__, e)
    print("%s | cont=%s" % (final, " ".join(cont) if cont else "none"))


def cmd_caps(proto, mode, port):
    c = Conn(int(port), mode == "ssl")
    if proto == "imap":
        c.line()
        if mode == "starttls":
            c.send("s STARTTLS")
            while not c.line().startswith("s "):
                pass
            c.starttls()
        c.send("c CAPABILITY")
        out = ""
        while True:
            l = c.line()
            if l.startswith("* CAPABILITY"):
                out = l
            if l.startswith("c "):
                break
        print(out)
    else:
        smtp_reply(c)
        c.send("EHLO probe.example.test")
        _, lines = smtp_reply(c)
        if mode == "starttls":
            pre = [l for l in lines if "AUTH" in l]
            c.send("STARTTLS")
            smtp_reply(c)
            c.starttls()
            c.send("EHLO probe.example.test")
            _, lines = smtp_reply(c)
            print("before-tls: %s" % (pre or "none"))
        print("after-tls: %s" % [l for l in lines if "AUTH" in l])


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    globals()["cmd_" + cmd.replace("-", "_")](*args)
PYEOF

# --- start ------------------------------------------------------------------

[[ $(id -u) -eq 0 ]] || { echo "oauth-selftest: must run as root" >&2; exit 1; }
mkdir -m 0700 "$WORK/tok"
export WORK

"$PY" "$HERE/oauth-server.py" --port-file "$WORK/oauth.port" >"$WORK/oauth.out" 2>"$WORK/oauth.err" &
OAUTH_PID=$!
for ((i = 0; i < 500; i++)); do
	[[ -s $WORK/oauth.out ]] && break
	kill -0 "$OAUTH_PID" 2>/dev/null || break
	sleep 0.01
done
OAUTH_PORT=$(sed -n '1s/^OAUTH_PORT=\([0-9][0-9]*\)$/\1/p' "$WORK/oauth.out")
if [[ -z $OAUTH_PORT ]]; then
	bad "oauth-server prints OAUTH_PORT=N first" "$(cat "$WORK/oauth.out" "$WORK/oauth.err")"
	echo "$PASS passed, $FAIL failed"
	exit 1
fi
ok "oauth-server prints OAUTH_PORT=$OAUTH_PORT first"
expect "--port-file holds the same port" "^$OAUTH_PORT\$" "$(cat "$WORK/oauth.port")"
export OAUTH_URL=http://127.0.0.1:$OAUTH_PORT

if ! out=$(MS_OAUTH2_URL=$OAUTH_URL "$MS" start "$D" 2>"$WORK/start.err"); then
	bad "mailserver starts with MS_OAUTH2_URL" "$(cat "$WORK/start.err")"
	echo "$PASS passed, $FAIL failed"
	exit 1
fi
ok "mailserver starts with MS_OAUTH2_URL"
expect "env shows MS_OAUTH2_URL" "^MS_OAUTH2_URL=$OAUTH_URL\$" "$out"
set -a
# shellcheck disable=SC1091
source "$D/env"
set +a

ALICE=alice@example.test
BOB=bob@example.test
printf '%s\n' "$PW" | "$MS" adduser "$D" "$ALICE" && ok "adduser alice" || bad "adduser alice"
printf '%s\n' "$PW" | "$MS" adduser "$D" "$BOB" && ok "adduser bob" || bad "adduser bob"

# --- what is offered ------------------------------------------------------------

caps=$(cl caps imap starttls "$MS_IMAP_PORT")
expect "IMAP offers AUTH=XOAUTH2 and AUTH=OAUTHBEARER" 'AUTH=PLAIN AUTH=LOGIN AUTH=XOAUTH2 AUTH=OAUTHBEARER' "$caps"
out=$(cl caps smtp starttls "$MS_SMTP_PORT")
expect "submission offers no AUTH before STARTTLS" '^before-tls: none' "$out"
expect "submission offers XOAUTH2 OAUTHBEARER after STARTTLS" "after-tls: \['250-AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER'\]" "$out"
expect "implicit-TLS submission offers XOAUTH2 OAUTHBEARER" "after-tls: \['250-AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER'\]" \
	"$(cl caps smtp ssl "$MS_SMTPS_PORT")"

# --- authorization server ---------------------------------------------------------

expect "metadata document" '"code_challenge_methods_supported": \["S256"\]' \
	"$(curl -s "$OAUTH_URL/.well-known/oauth-authorization-server")"
expect "authorize: 302 with code and the same state" '^302 code \{"state": "st1"\}$' "$(cl authorize state=st1)"
expect "authorize: foreign redirect_uri -> 400, no redirect" '^400 .*"error": "invalid_request"' \
	"$(cl authorize redirect_uri=http://evil.example/callback)"
expect "authorize: https loopback redirect_uri -> 400" '^400 ' "$(cl authorize redirect_uri=https://127.0.0.1:53682/cb)"
expect "authorize: localhost redirect_uri accepted" '^302 code ' "$(cl authorize redirect_uri=http://localhost:53682/cb)"
expect "authorize: code_challenge_method=plain -> error redirect" '^302 nocode \{"error": "invalid_request", "state": "st2"\}' \
	"$(cl authorize code_challenge_method=plain state=st2)"
expect "authorize: no code_challenge -> error redirect" '^302 nocode \{"error": "invalid_request"' "$(cl authorize code_challenge=)"
expect "authorize: response_type=token -> unsupported_response_type" '"error": "unsupported_response_type"' \
	"$(cl authorize response_type=token)"
cl admin deny-authorize >/dev/null
expect "authorize: deny switch -> error=access_denied" '^302 nocode \{"error": "access_denied", "state": "st3"\}' \
	"$(cl authorize state=st3)"
expect "authorize: deny switch is one-shot" '^302 code ' "$(cl authorize)"
cl admin config clients=some-other-app >/dev/null
expect "authorize: client_id outside the allow-list -> 400" '^400 .*unauthorized_client' "$(cl authorize)"
cl admin config clients= >/dev/null
expect "token: wrong PKCE verifier -> invalid_grant" '^400 .*"error": "invalid_grant".*PKCE' "$(cl badexchange verifier)"
expect "token: other redirect_uri -> invalid_grant" '^400 .*"error": "invalid_grant"' "$(cl badexchange redirect)"
expect "token: code used twice -> invalid_grant" '^400 .*"error": "invalid_grant".*already used' "$(cl badexchange reuse)"
expect "token: a replayed code revokes what it produced" '^200 active=False' "$(cl introspect reuse)"
expect "token: no code -> invalid_request" '^400 .*"error": "invalid_request"' "$(cl badexchange nocode)"
expect "token: grant_type=password -> unsupported_grant_type" '^400 .*unsupported_grant_type' "$(cl badexchange grant)"
expect "code flow for alice" '^OK token_type=Bearer expires_in=3600 scope=mail refresh=True no-store=True$' "$(cl flow alice "$ALICE")"
expect "code flow for bob" '^OK ' "$(cl flow bob "$BOB")"
expect "introspect (form token=, as Dovecot posts it)" '^200 active=True username=alice@example.test$' "$(cl introspect alice)"

# --- logins with a valid token ------------------------------------------------------

n0=$(cl stat introspect)
for mech in XOAUTH2 OAUTHBEARER; do
	expect "$mech IMAP STARTTLS login" '^OK .*Logged in \| cont=none$' "$(cl login imap starttls "$MS_IMAP_PORT" "$mech" "$ALICE" alice)"
	expect "$mech IMAPS login" '^OK .*Logged in \| cont=none$' "$(cl login imap ssl "$MS_IMAPS_PORT" "$mech" "$ALICE" alice)"
	expect "$mech POP3 STLS login" '^\+OK Logged in\. \| cont=none$' "$(cl login pop3 starttls "$MS_POP3_PORT" "$mech" "$ALICE" alice)"
	expect "$mech POP3S login" '^\+OK Logged in\. \| cont=none$' "$(cl login pop3 ssl "$MS_POP3S_PORT" "$mech" "$ALICE" alice)"
	expect "$mech SMTP STARTTLS AUTH" '^235 2\.7\.0 Authentication successful \| cont=none$' \
		"$(cl login smtp starttls "$MS_SMTP_PORT" "$mech" "$ALICE" alice)"
	expect "$mech SMTPS AUTH" '^235 2\.7\.0 Authentication successful \| cont=none$' \
		"$(cl login smtp ssl "$MS_SMTPS_PORT" "$mech" "$ALICE" alice)"
done
expect "XOAUTH2 IMAP without SASL-IR (+ then response)" '^OK .*Logged in \| cont=none$' \
	"$(cl login imap starttls "$MS_IMAP_PORT" XOAUTH2 "$ALICE" alice noir)"
expect "XOAUTH2 login with a mixed-case user name" '^OK .*Logged in' "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 Alice@Example.TEST alice)"
n1=$(cl stat introspect)
expect "every OAuth login asked /introspect (no auth cache): 14 logins" '^14$' "$(minus "$n1" "$n0")"

# --- passwords are unchanged ------------------------------------------------------------

expect "password: IMAP AUTHENTICATE PLAIN" '^OK .*Logged in \| cont=none$' "$(cl login imap starttls "$MS_IMAP_PORT" PLAIN "$ALICE" env:PW)"
expect "password: POP3 AUTH PLAIN" '^\+OK Logged in\. ' "$(cl login pop3 ssl "$MS_POP3S_PORT" PLAIN "$ALICE" env:PW)"
expect "password: SMTP AUTH PLAIN" '^235 2\.7\.0 ' "$(cl login smtp starttls "$MS_SMTP_PORT" PLAIN "$ALICE" env:PW)"
expect "password: IMAP LOGIN (selftest_client)" '^OK ' "$("$PY" "$HERE/selftest_client.py" imap starttls "$MS_IMAP_PORT" "$ALICE" env:PW 2>&1)"
out=$("$PY" "$HERE/selftest_client.py" imap starttls "$MS_IMAP_PORT" "$ALICE" wrong-password 2>&1)
expect "password: wrong password -> AUTHENTICATIONFAILED" '^NO .*\[AUTHENTICATIONFAILED\]' "$out"
secs=$(sed -n 's/.*(\([0-9.]*\)s)$/\1/p' <<<"$out")
expect "password: failure still answered at once (${secs}s)" '^yes$' "$(awk -v s="$secs" 'BEGIN { print (s < 0.4) ? "yes" : "no" }')"
expect "password: a token is not a password (PLAIN with the token fails)" '^NO \[AUTHENTICATIONFAILED\]' \
	"$(cl login imap starttls "$MS_IMAP_PORT" PLAIN "$ALICE" alice)"
expect "password logins never reach /introspect" "^$n1\$" "$(cl stat introspect)"

# --- refused tokens ---------------------------------------------------------------------

IMAP_NO='^NO \[AUTHENTICATIONFAILED\] Authentication failed\.'
X_CONT='cont=\{"status":"401","schemes":"bearer","scope":"mail"\}$'
B_CONT='cont=\{"status":"invalid_token"\}$'
expect "bob's token for alice: IMAP NO" "$IMAP_NO \| $X_CONT" "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" bob)"
expect "garbage token: IMAP NO" "$IMAP_NO" "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" env:PW)"
expect "admin issue: tokens for a user without the browser flow" '^200 expires_in=3600$' "$(cl issue carol carol@example.test)"
expect "valid token, user without a mailbox: IMAP NO" "$IMAP_NO \| $X_CONT" "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 carol@example.test carol)"
expect "valid token, user without a mailbox: SMTP 535" '^535 5\.7\.8 ' "$(cl login smtp ssl "$MS_SMTPS_PORT" XOAUTH2 carol@example.test carol)"

# expire every access token now: the same token is refused at the next login
expect "admin expire" '^200 \{"expired": [1-9]' "$(cl admin expire)"
expect "expired: introspection says inactive" '^200 active=False username=-$' "$(cl introspect alice)"
expect "expired XOAUTH2: IMAP NO after a JSON continuation" "$IMAP_NO \| $X_CONT" "$(cl login imap starttls "$MS_IMAP_PORT" XOAUTH2 "$ALICE" alice)"
expect "expired OAUTHBEARER: IMAP NO after a JSON continuation" "$IMAP_NO \| $B_CONT" "$(cl login imap ssl "$MS_IMAPS_PORT" OAUTHBEARER "$ALICE" alice)"
expect "expired XOAUTH2: POP3 -ERR [AUTH]" "^-ERR \[AUTH\] Authentication failed\. \| $X_CONT" "$(cl login pop3 ssl "$MS_POP3S_PORT" XOAUTH2 "$ALICE" alice)"
expect "expired OAUTHBEARER: POP3 -ERR [AUTH]" "^-ERR \[AUTH\] Authentication failed\. \| $B_CONT" "$(cl login pop3 starttls "$MS_POP3_PORT" OAUTHBEARER "$ALICE" alice)"
expect "expired XOAUTH2: SMTP 334 then 535 5.7.8" "^535 5\.7\.8 Error: authentication failed: \(reason unavailable\) \| $X_CONT" \
	"$(cl login smtp starttls "$MS_SMTP_PORT" XOAUTH2 "$ALICE" alice)"
expect "expired OAUTHBEARER: SMTPS 334 then 535 5.7.8" "^535 5\.7\.8 .* \| $B_CONT" "$(cl login smtp ssl "$MS_SMTPS_PORT" OAUTHBEARER "$ALICE" alice)"
expect "continuation answered with AQ== (RFC 7628 style): same NO" "$IMAP_NO \| $B_CONT" \
	"$(cl login imap ssl "$MS_IMAPS_PORT" OAUTHBEARER "$ALICE" alice 'answer=AQ==')"
expect "continuation answered with *: IMAP BAD aborted" '^BAD Authentication aborted by client\. \| cont=' \
	"$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" alice 'answer=*')"
expect "continuation answered with *: POP3 -ERR aborted" '^-ERR Authentication aborted by client\. \| cont=' \
	"$(cl login pop3 ssl "$MS_POP3S_PORT" XOAUTH2 "$ALICE" alice 'answer=*')"
expect "continuation answered with *: SMTP 501 5.7.0" '^501 5\.7\.0 Authentication aborted \| cont=' \
	"$(cl login smtp ssl "$MS_SMTPS_PORT" XOAUTH2 "$ALICE" alice 'answer=*')"

# refresh: a new access token works at once; no rotation by default
r0=$(cl stat refresh)
expect "refresh_token grant: new access token, refresh token kept" '^200 new_access=True rotated=False$' "$(cl refresh alice)"
expect "stats count the refresh" '^1$' "$(minus "$(cl stat refresh)" "$r0")"
expect "refreshed token: IMAP login" '^OK .*Logged in' "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" alice)"
expect "refreshed token: SMTP AUTH" '^235 ' "$(cl login smtp starttls "$MS_SMTP_PORT" OAUTHBEARER "$ALICE" alice)"
expect "the expired token stays refused" "$IMAP_NO" "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" alice token=old_access)"
cl admin config rotate_refresh=on >/dev/null
expect "rotation on: new refresh token" '^200 new_access=True rotated=True$' "$(cl refresh alice)"
expect "rotation on: the old refresh token -> invalid_grant" '^400 .*"error": "invalid_grant"' "$(cl refresh alice old)"
expect "rotation on: the new refresh token works" '^200 new_access=True rotated=True$' "$(cl refresh alice)"
cl admin config rotate_refresh=off >/dev/null

# revocation (RFC 7009) of the refresh token kills its access tokens too
expect "refreshed token logs in before revocation" '^OK ' "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" alice)"
expect "a fresh token for bob" '^OK ' "$(cl flow bob "$BOB")"
expect "revoke the refresh token: 200" '^200 $' "$(cl revoke alice refresh)"
expect "revoked: IMAP NO at the next login" "$IMAP_NO \| $X_CONT" "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" alice)"
expect "revoked: POP3 -ERR [AUTH]" '^-ERR \[AUTH\] ' "$(cl login pop3 ssl "$MS_POP3S_PORT" XOAUTH2 "$ALICE" alice)"
expect "revoked: SMTP 535 5.7.8" '^535 5\.7\.8 ' "$(cl login smtp ssl "$MS_SMTPS_PORT" XOAUTH2 "$ALICE" alice)"
expect "revoked: refresh -> invalid_grant" '^400 \{"error": "invalid_grant"' "$(cl refresh alice)"
expect "revoke an unknown token: still 200" '^200 ' "$(cl revoke alice refresh)"
expect "bob is not affected" '^OK ' "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$BOB" bob)"
expect "admin revoke-user bob (both of his grants)" '^200 \{"revoked_refresh_tokens": 2, "revoked_access_tokens": 2\}' "$(cl admin revoke-user user=$BOB)"
expect "revoke-user: bob's token refused" "$IMAP_NO" "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$BOB" bob)"

# a short lifetime runs out by itself
cl admin config expires_in=1 >/dev/null
expect "expires_in=1: code flow" '^OK token_type=Bearer expires_in=1 ' "$(cl flow short "$ALICE")"
expect "short-lived token works at once" '^OK ' "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" short)"
sleep 1.2
expect "short-lived token refused after its lifetime" "$IMAP_NO" "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" short)"
cl admin config expires_in=3600 >/dev/null

# --- harness switches apply to OAuth logins -----------------------------------------------

expect "fresh token for the switches" '^OK ' "$(cl flow alice2 "$ALICE")"
"$MS" lock "$D" "$ALICE"
expect "lock: XOAUTH2 IMAP NO" "$IMAP_NO \| $X_CONT" "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" alice2)"
expect "lock: SMTP 535" '^535 5\.7\.8 ' "$(cl login smtp ssl "$MS_SMTPS_PORT" XOAUTH2 "$ALICE" alice2)"
"$MS" unlock "$D" "$ALICE"
expect "unlock: XOAUTH2 IMAP OK" '^OK ' "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" alice2)"
"$MS" login-reply "$D" "$ALICE" web-login
expect "web-login: IMAP NO [CONTACTADMIN], no continuation" '^NO \[CONTACTADMIN\] Web login required\. .* \| cont=none$' \
	"$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" alice2)"
expect "web-login: POP3 -ERR [AUTH] with the reason" '^-ERR \[AUTH\] Web login required\. ' "$(cl login pop3 ssl "$MS_POP3S_PORT" OAUTHBEARER "$ALICE" alice2)"
expect "web-login: SMTP AUTH still succeeds (as with passwords)" '^235 ' "$(cl login smtp ssl "$MS_SMTPS_PORT" XOAUTH2 "$ALICE" alice2)"
"$MS" login-reply "$D" "$ALICE" unavailable
expect "unavailable: IMAP NO [UNAVAILABLE], no continuation" '^NO \[UNAVAILABLE\] Temporary authentication failure\. .* \| cont=none$' \
	"$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" alice2)"
"$MS" login-reply "$D" "$ALICE" off
expect "login-reply off: OK" '^OK ' "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" alice2)"

# the authorization server in trouble
cl admin config introspect_status=503 >/dev/null
expect "introspection 503: IMAP NO [UNAVAILABLE]" '^NO \[UNAVAILABLE\] Temporary authentication failure\. .* \| cont=none$' \
	"$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" alice2)"
expect "introspection 503: POP3 -ERR [SYS/TEMP]" '^-ERR \[SYS/TEMP\] Temporary authentication failure\. ' \
	"$(cl login pop3 ssl "$MS_POP3S_PORT" XOAUTH2 "$ALICE" alice2)"
expect "introspection 503: SMTP 535 5.7.8" '^535 5\.7\.8 .* \| cont=none$' "$(cl login smtp ssl "$MS_SMTPS_PORT" XOAUTH2 "$ALICE" alice2)"
cl admin config introspect_status=0 >/dev/null
expect "introspection back: OK" '^OK ' "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" alice2)"
expect "password login unaffected by the token checks" '^OK ' "$(cl login imap ssl "$MS_IMAPS_PORT" PLAIN "$ALICE" env:PW)"

stats=$(cl admin stats)
expect "stats JSON has every counter" '"authorize": [0-9]+, "authorize_ok": [0-9]+, "authorize_error": [0-9]+, "token": [0-9]+, "token_authorization_code": [0-9]+, "token_refresh_token": [0-9]+, "token_error": [0-9]+, "refresh": [0-9]+, "revoke": [0-9]+, "introspect": [0-9]+, "introspect_active": [0-9]+, "introspect_inactive": [0-9]+' "$stats"

# --- no token in any log or config ---------------------------------------------------------

expect "no token in Dovecot/Postfix logs, config or the server's log" '^clean ' \
	"$(cl leakcheck "$D"/log/* "$D"/etc/*.conf "$D"/etc/*.ext "$D"/etc/postfix/* "$WORK/oauth.err" "$WORK/oauth.out")"
expect "server log has one line per request, no query strings" '^0$' "$(grep -c '[?]' "$WORK/oauth.err")"

# --- the authorization server is gone -------------------------------------------------------

kill "$OAUTH_PID" 2>/dev/null
wait "$OAUTH_PID" 2>/dev/null
rc=$?
OAUTH_PID=""
expect "oauth-server ends on SIGTERM with status 0" '^0$' "$rc"
expect "server down: IMAP NO [UNAVAILABLE]" '^NO \[UNAVAILABLE\] ' "$(cl login imap ssl "$MS_IMAPS_PORT" XOAUTH2 "$ALICE" alice2)"
expect "server down: password logins still work" '^OK ' "$(cl login imap ssl "$MS_IMAPS_PORT" PLAIN "$ALICE" env:PW)"

"$MS" stop "$D" && ok "stop" || bad "stop"
left=$(ps -e -o pid=,args= | grep -F -e "$D/" -e "oauth-server.py --port-file $WORK" | grep -v grep)
expect "no process left" '^$' "$left"

echo "$PASS passed, $FAIL failed"
((FAIL == 0))

#!/usr/bin/env python3
"""A small OAuth2 authorization server on 127.0.0.1 for tests (Python 3 standard library only).

    oauth-server.py [--port N] [--port-file PATH]

Listens on 127.0.0.1 (port 0 = ephemeral, the default), prints "OAUTH_PORT=NNNN" as its first
stdout line (and writes the bare number to --port-file, atomically, if given), then serves until
SIGTERM/SIGINT. Every request is logged as one line on stderr, without query string or body:
token values never reach a log.

Endpoints (RFC 6749 authorization code + PKCE S256, refresh; RFC 7009 revocation; RFC 7662
introspection; RFC 8414 metadata):
    GET  /authorize   auto-approves for login_hint (or the admin default_user): 302 to
                      redirect_uri?code=..&state=..   redirect_uri must be http://127.0.0.1:PORT/..
                      or http://localhost:PORT/..; PKCE S256 is required.
    POST /token       grant_type=authorization_code | refresh_token
    POST /revoke      token=.. (a refresh token also revokes every access token of its grant)
    POST /introspect  token=.. (form, as Dovecot's introspection_mode=post sends it), or GET
                      ?token=.., or Authorization: Bearer ..  ->  {"active":true,...}|{"active":false}
    GET  /.well-known/oauth-authorization-server
Admin (loopback only; parameters as form body, JSON body or query string; answers JSON):
    GET  /admin/stats          request counters
    GET  /admin/tokens         every access and refresh token issued (tests look for leaks)
    POST /admin/config         expires_in=N rotate_refresh=on|off default_user=ADDR
                               clients=ID,ID ("" = any) client_secret=S ("" = none wanted)
                               introspect_status=0|HTTP-STATUS token_status=0|HTTP-STATUS
                               refresh_error=ERROR ("" = none): refreshes answer 400 ERROR
                               token_delay_ms=N: /token waits N ms before it looks at a request
                               (requests that arrive together are then handled together)
                               (interaction_required: a policy wants the user in the browser)
    POST /admin/expire         every access token issued so far expires now
    POST /admin/revoke-user    user=ADDR: every token of that user is revoked
    POST /admin/deny-authorize [count=N] [error=access_denied]: the next N authorize requests
                               redirect back with that error
    POST /admin/issue          user=ADDR [scope=..] [client_id=..]: mint tokens without /authorize
    POST /admin/reset          forget every code/token, config back to defaults, counters zero
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import secrets
import signal
import sys
import threading
import time
import urllib.parse

CODE_LIFETIME = 120          # seconds an authorization code may wait for /token
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")

DEFAULTS = {
    "expires_in": 3600,      # access-token lifetime in seconds
    "rotate_refresh": False, # refresh_token grant also returns a new refresh token (old one dies)
    "default_user": "",      # user approved when /authorize has no login_hint
    "clients": [],           # allowed client ids; empty = any
    "client_secret": "",     # when set, /token wants this client_secret (as Google's desktop clients)
    "deny_authorize": 0,     # the next N authorize requests are refused ...
    "deny_error": "access_denied",  # ... with this error
    "introspect_status": 0,  # non-zero: /introspect answers this HTTP status (server trouble)
    "token_status": 0,       # non-zero: /token answers this HTTP status (outage, rate limit)
    "refresh_error": "",     # non-empty: refresh_token grants answer 400 with this error
    "token_delay_ms": 0,     # /token waits this long before it looks at a request
}

STAT_KEYS = (
    "authorize", "authorize_ok", "authorize_error",
    "token", "token_authorization_code", "token_refresh_token", "token_error",
    "refresh", "revoke", "introspect", "introspect_active", "introspect_inactive", "admin",
)


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.config = json.loads(json.dumps(DEFAULTS))
        self.codes = {}      # code -> dict(client_id, redirect_uri, challenge, user, scope, exp, used, grant)
        self.grants = {}     # grant id -> dict(user, client_id, scope, revoked)
        self.refresh = {}    # refresh token -> dict(grant, revoked)
        self.access = {}     # access token -> dict(grant, exp, revoked, iat)
        self.stats = {k: 0 for k in STAT_KEYS}

    def count(self, key):
        self.stats[key] = self.stats.get(key, 0) + 1

    def new_grant(self, user, client_id, scope):
        gid = secrets.token_hex(8)
        self.grants[gid] = {"user": user, "client_id": client_id, "scope": scope, "revoked": False}
        return gid

    def mint(self, gid, with_refresh=True):
        """Issue an access token (and a refresh token) for grant gid: the token response."""
        g = self.grants[gid]
        now = time.time()
        life = int(self.config["expires_in"])
        at = secrets.token_urlsafe(32)
        self.access[at] = {"grant": gid, "exp": now + life, "iat": now, "revoked": False}
        resp = {"access_token": at, "token_type": "Bearer", "expires_in": life, "scope": g["scope"]}
        if with_refresh:
            rt = secrets.token_urlsafe(32)
            self.refresh[rt] = {"grant": gid, "revoked": False}
            resp["refresh_token"] = rt
        return resp

    def revoke_grant(self, gid):
        n_rt = n_at = 0
        self.grants[gid]["revoked"] = True
        for rec in self.refresh.values():
            if rec["grant"] == gid and not rec["revoked"]:
                rec["revoked"] = True
                n_rt += 1
        for rec in self.access.values():
            if rec["grant"] == gid and not rec["revoked"]:
                rec["revoked"] = True
                n_at += 1
        return n_rt, n_at

    def access_info(self, token):
        """The live access-token record with its grant, or None."""
        rec = self.access.get(token)
        if rec is None or rec["revoked"] or rec["exp"] <= time.time():
            return None
        g = self.grants.get(rec["grant"])
        if g is None or g["revoked"]:
            return None
        return rec, g


STATE = State()


def b64url_sha256(s):
    return base64.urlsafe_b64encode(hashlib.sha256(s.encode("ascii")).digest()).rstrip(b"=").decode()


def loopback_redirect(uri):
    try:
        u = urllib.parse.urlsplit(uri)
        port = u.port
    except ValueError:
        return False
    return (u.scheme == "http" and u.hostname in LOOPBACK_HOSTS and port is not None
            and u.username is None and u.password is None and not u.fragment
            and u.netloc.lower() in ("%s:%d" % (h, port) for h in LOOPBACK_HOSTS))


def with_params(uri, params):
    return uri + ("&" if "?" in uri else "?") + urllib.parse.urlencode(params)


def as_bool(v):
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "on", "yes", "true"):
        return True
    if s in ("0", "off", "no", "false"):
        return False
    raise ValueError("want on|off, got %r" % v)


class OAuthError(Exception):
    def __init__(self, error, description, status=400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as Dovecot's HTTP client expects
    server_version = "MailCanaryTestOAuth/1"
    sys_version = ""

    # ---------------------------------------------------------------- logging ---

    def log_request(self, code="-", size="-"):
        path = urllib.parse.urlsplit(self.path).path if hasattr(self, "path") else "?"
        sys.stderr.write("oauth-server: %s %s %s %s\n" % (
            self.client_address[0], getattr(self, "command", "?"), path, code))
        sys.stderr.flush()

    def log_error(self, fmt, *args):
        # the stock message may quote the raw request line, query string (and so tokens) included
        sys.stderr.write("oauth-server: %s bad request\n" % self.client_address[0])

    def log_message(self, fmt, *args):
        pass

    # ---------------------------------------------------------------- helpers ---

    def reply(self, status, body=b"", ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Pragma", "no-cache")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def json_error(self, e):
        hdrs = ()
        if e.status == 401:
            hdrs = (("WWW-Authenticate", 'Basic realm="oauth"'),)
        self.reply(e.status, {"error": e.error, "error_description": e.description}, headers=hdrs)

    def redirect(self, uri):
        self.reply(302, b"", ctype="text/plain", headers=(("Location", uri),))

    def body_params(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not raw:
            return {}
        if ctype == "application/json":
            try:
                d = json.loads(raw.decode("utf-8"))
            except ValueError:
                raise OAuthError("invalid_request", "body is not JSON")
            if not isinstance(d, dict):
                raise OAuthError("invalid_request", "JSON body must be an object")
            return d
        try:
            pairs = urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            raise OAuthError("invalid_request", "body is not application/x-www-form-urlencoded")
        out = {}
        for k, v in pairs:
            if k in out:
                raise OAuthError("invalid_request", "parameter %s given twice" % k)
            out[k] = v
        return out

    def query_params(self):
        q = urllib.parse.urlsplit(self.path).query
        out = {}
        for k, v in urllib.parse.parse_qsl(q, keep_blank_values=True):
            if k in out:
                raise OAuthError("invalid_request", "parameter %s given twice" % k)
            out[k] = v
        return out

    def client_basic(self):
        """client_id from HTTP Basic authentication, if any."""
        a = self.headers.get("Authorization") or ""
        if a[:6].lower() != "basic ":
            return None
        try:
            cid = base64.b64decode(a[6:].strip()).decode("utf-8").split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "bad Basic authorization", 401)
        return urllib.parse.unquote_plus(cid)

    def check_client(self, client_id, status=400):
        allowed = STATE.config["clients"]
        if not client_id:
            raise OAuthError("invalid_client" if status == 401 else "invalid_request", "client_id missing", status)
        if allowed and client_id not in allowed:
            raise OAuthError("invalid_client", "unknown client_id", 401)

    # ---------------------------------------------------------------- routing ---

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_HEAD(self):
        self.route("GET")

    def route(self, method):
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path.startswith("/admin/"):
                if self.client_address[0] not in ("127.0.0.1", "::1"):
                    raise OAuthError("access_denied", "admin endpoints are loopback only", 403)
                return self.admin(method, path[len("/admin/"):])
            routes = {
                ("GET", "/authorize"): self.authorize,
                ("POST", "/token"): self.token,
                ("POST", "/revoke"): self.revoke,
                ("POST", "/introspect"): self.introspect,
                ("GET", "/introspect"): self.introspect,
                ("GET", "/.well-known/oauth-authorization-server"): self.metadata,
            }
            fn = routes.get((method, path))
            if fn is None:
                # drain a body so that a keep-alive connection stays usable
                if method == "POST":
                    self.body_params_safely()
                known = any(p == path for _, p in routes)
                raise OAuthError("invalid_request", "method not allowed" if known else "no such endpoint",
                                 405 if known else 404)
            fn()
        except OAuthError as e:
            self.json_error(e)

    def body_params_safely(self):
        try:
            self.body_params()
        except OAuthError:
            pass

    # ---------------------------------------------------------------- metadata --

    def base_url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def metadata(self):
        b = self.base_url()
        self.reply(200, {
            "issuer": b,
            "authorization_endpoint": b + "/authorize",
            "token_endpoint": b + "/token",
            "revocation_endpoint": b + "/revoke",
            "introspection_endpoint": b + "/introspect",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        })

    # ---------------------------------------------------------------- authorize -

    def authorize(self):
        p = self.query_params()
        with STATE.lock:
            STATE.count("authorize")
            redirect_uri = p.get("redirect_uri", "")
            client_id = p.get("client_id", "")
            # errors about the client or the redirect URI must not redirect (RFC 6749 4.1.2.1)
            try:
                if not redirect_uri:
                    raise OAuthError("invalid_request", "redirect_uri missing")
                if not loopback_redirect(redirect_uri):
                    raise OAuthError("invalid_request",
                                     "redirect_uri must be http://127.0.0.1:PORT/... or http://localhost:PORT/...")
                if not client_id:
                    raise OAuthError("invalid_request", "client_id missing")
                allowed = STATE.config["clients"]
                if allowed and client_id not in allowed:
                    raise OAuthError("unauthorized_client", "unknown client_id")
            except OAuthError:
                STATE.count("authorize_error")
                raise
            back = {}
            if "state" in p:
                back["state"] = p["state"]

            def fail(error, desc):
                STATE.count("authorize_error")
                self.redirect(with_params(redirect_uri, dict(error=error, error_description=desc, **back)))

            if p.get("response_type") != "code":
                return fail("unsupported_response_type", "only response_type=code is supported")
            if not p.get("code_challenge"):
                return fail("invalid_request", "code_challenge (PKCE) is required")
            if p.get("code_challenge_method") != "S256":
                return fail("invalid_request", "code_challenge_method must be S256")
            ch = p["code_challenge"]
            if not (43 <= len(ch) <= 128) or any(c not in
                                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
                                                  for c in ch):
                return fail("invalid_request", "malformed code_challenge")
            if STATE.config["deny_authorize"] > 0:
                STATE.config["deny_authorize"] -= 1
                return fail(STATE.config["deny_error"], "the user denied the request (test switch)")
            user = (p.get("login_hint") or STATE.config["default_user"]).strip().lower()
            if not user:
                return fail("login_required", "no login_hint and no default_user set")
            code = secrets.token_urlsafe(24)
            STATE.codes[code] = {
                "client_id": client_id, "redirect_uri": redirect_uri, "challenge": ch,
                "user": user, "scope": p.get("scope", ""), "exp": time.time() + CODE_LIFETIME,
                "used": False, "grant": None,
            }
            STATE.count("authorize_ok")
            self.redirect(with_params(redirect_uri, dict(code=code, **back)))

    # ---------------------------------------------------------------- token -----

    def token(self):
        try:
            p = self.body_params()   # read before taking the lock: a slow client holds nothing
        except OAuthError as e:
            p = e
        delay = STATE.config["token_delay_ms"]
        if delay:
            time.sleep(delay / 1000.0)   # outside the lock: requests that came together wait together
        with STATE.lock:
            STATE.count("token")
            try:
                if isinstance(p, OAuthError):
                    raise p
                basic = self.client_basic()
                client_id = p.get("client_id") or basic
                if basic and p.get("client_id") and basic != p["client_id"]:
                    raise OAuthError("invalid_request", "client_id differs from Basic authorization")
                trouble = STATE.config["token_status"]
                if trouble:
                    raise OAuthError("temporarily_unavailable", "the token endpoint is down for this test", trouble)
                want = STATE.config["client_secret"]
                if want and not hmac.compare_digest(p.get("client_secret", ""), want):
                    raise OAuthError("invalid_client", "client_secret missing or wrong", 401)
                gt = p.get("grant_type")
                if not gt:
                    raise OAuthError("invalid_request", "grant_type missing")
                if gt == "authorization_code":
                    STATE.count("token_authorization_code")
                    resp = self.grant_code(p, client_id)
                elif gt == "refresh_token":
                    STATE.count("token_refresh_token")
                    resp = self.grant_refresh(p, client_id)
                    STATE.count("refresh")
                else:
                    raise OAuthError("unsupported_grant_type", "grant_type %s is not supported" % gt)
            except OAuthError as e:
                STATE.count("token_error")
                return self.json_error(e)
            self.reply(200, resp)

    def grant_code(self, p, client_id):
        for k in ("code", "redirect_uri", "code_verifier"):
            if not p.get(k):
                raise OAuthError("invalid_request", "%s missing" % k)
        self.check_client(client_id)
        rec = STATE.codes.get(p["code"])
        if rec is None:
            raise OAuthError("invalid_grant", "unknown authorization code")
        if rec["used"]:
            # a replayed code: revoke what it produced (RFC 6749 4.1.2)
            if rec["grant"]:
                STATE.revoke_grant(rec["grant"])
            raise OAuthError("invalid_grant", "authorization code already used")
        if rec["exp"] <= time.time():
            raise OAuthError("invalid_grant", "authorization code expired")
        if rec["client_id"] != client_id:
            raise OAuthError("invalid_grant", "authorization code was issued to another client")
        if rec["redirect_uri"] != p["redirect_uri"]:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
        v = p["code_verifier"]
        if not (43 <= len(v) <= 128):
            raise OAuthError("invalid_grant", "code_verifier must be 43..128 characters")
        if not secrets.compare_digest(b64url_sha256(v), rec["challenge"]):
            raise OAuthError("invalid_grant", "PKCE verification failed")
        rec["used"] = True
        gid = STATE.new_grant(rec["user"], client_id, rec["scope"])
        rec["grant"] = gid
        return STATE.mint(gid)

    def grant_refresh(self, p, client_id):
        rt = p.get("refresh_token")
        if not rt:
            raise OAuthError("invalid_request", "refresh_token missing")
        rec = STATE.refresh.get(rt)
        if rec is None or rec["revoked"] or STATE.grants[rec["grant"]]["revoked"]:
            raise OAuthError("invalid_grant", "refresh token is invalid, expired or revoked")
        g = STATE.grants[rec["grant"]]
        if client_id and client_id != g["client_id"]:
            raise OAuthError("invalid_grant", "refresh token was issued to another client")
        if p.get("scope"):
            want = set(p["scope"].split())
            if not want <= set(g["scope"].split()):
                raise OAuthError("invalid_scope", "scope exceeds the original grant")
        if STATE.config["refresh_error"]:
            raise OAuthError(STATE.config["refresh_error"], "refresh refused by a test switch")
        rotate = STATE.config["rotate_refresh"]
        resp = STATE.mint(rec["grant"], with_refresh=rotate)
        if rotate:
            rec["revoked"] = True
        return resp

    # ---------------------------------------------------------------- revoke ----

    def revoke(self):
        p = self.body_params()
        with STATE.lock:
            STATE.count("revoke")
            client_id = p.get("client_id") or self.client_basic()
            tok = p.get("token")
            if not tok:
                raise OAuthError("invalid_request", "token missing")
            hint = p.get("token_type_hint", "")
            order = ("access", "refresh") if hint == "access_token" else ("refresh", "access")
            for kind in order:
                rec = (STATE.refresh if kind == "refresh" else STATE.access).get(tok)
                if rec is None:
                    continue
                g = STATE.grants[rec["grant"]]
                if client_id and client_id != g["client_id"]:
                    raise OAuthError("unauthorized_client", "token was issued to another client")
                if kind == "refresh":
                    STATE.revoke_grant(rec["grant"])
                else:
                    rec["revoked"] = True
                break
            # RFC 7009 2.2: 200 also for unknown tokens
            self.reply(200, b"", ctype="text/plain")

    # ---------------------------------------------------------------- introspect

    def introspect(self):
        p = self.query_params()
        if self.command == "POST":
            p.update(self.body_params())
        with STATE.lock:
            STATE.count("introspect")
            tok = p.get("token")
            if not tok:
                a = self.headers.get("Authorization") or ""
                if a[:7].lower() == "bearer ":
                    tok = a[7:].strip()
            status = int(STATE.config["introspect_status"])
            if status:
                return self.reply(status, {"error": "temporarily_unavailable",
                                           "error_description": "introspection failure (test switch)"})
            if not tok:
                raise OAuthError("invalid_request", "token missing")
            info = STATE.access_info(tok)
            if info is None:
                STATE.count("introspect_inactive")
                return self.reply(200, {"active": False})
            rec, g = info
            STATE.count("introspect_active")
            self.reply(200, {
                "active": True, "scope": g["scope"], "client_id": g["client_id"],
                "username": g["user"], "email": g["user"], "sub": g["user"],
                "token_type": "Bearer", "exp": int(rec["exp"]), "iat": int(rec["iat"]),
                "iss": self.base_url(),
            })

    # ---------------------------------------------------------------- admin -----

    def admin(self, method, what):
        p = self.query_params()
        if method == "POST":
            p.update(self.body_params())
        with STATE.lock:
            STATE.count("admin")
            if what == "stats" and method == "GET":
                return self.reply(200, dict(STATE.stats))
            if what == "tokens" and method == "GET":
                # Every token issued, so a test can look for them where they must not be.
                return self.reply(200, {"access": sorted(STATE.access), "refresh": sorted(STATE.refresh)})
            if method != "POST":
                raise OAuthError("invalid_request", "use POST for /admin/%s" % what, 405)
            cfg = STATE.config
            if what == "config":
                try:
                    if "expires_in" in p:
                        v = int(p["expires_in"])
                        if v < 0:
                            raise ValueError("expires_in must be >= 0")
                        cfg["expires_in"] = v
                    if "rotate_refresh" in p:
                        cfg["rotate_refresh"] = as_bool(p["rotate_refresh"])
                    if "default_user" in p:
                        cfg["default_user"] = str(p["default_user"]).strip().lower()
                    if "clients" in p:
                        c = p["clients"]
                        cfg["clients"] = [x for x in (c if isinstance(c, list) else str(c).split(",")) if x]
                    if "client_secret" in p:
                        cfg["client_secret"] = str(p["client_secret"])
                    if "refresh_error" in p:
                        cfg["refresh_error"] = str(p["refresh_error"]).strip()
                    if "token_delay_ms" in p:
                        v = int(p["token_delay_ms"])
                        if not 0 <= v <= 60000:
                            raise ValueError("token_delay_ms must be 0..60000")
                        cfg["token_delay_ms"] = v
                    for knob in ("introspect_status", "token_status"):
                        if knob in p:
                            v = int(p[knob])
                            if v and not 100 <= v <= 599:
                                raise ValueError("%s must be 0 or an HTTP status" % knob)
                            cfg[knob] = v
                except ValueError as e:
                    raise OAuthError("invalid_request", str(e))
                return self.reply(200, dict(cfg))
            if what == "expire":
                now = time.time()
                n = 0
                for rec in STATE.access.values():
                    if rec["exp"] > now:
                        rec["exp"] = now
                        n += 1
                return self.reply(200, {"expired": n})
            if what == "revoke-user":
                user = str(p.get("user", "")).strip().lower()
                if not user:
                    raise OAuthError("invalid_request", "user missing")
                n_rt = n_at = 0
                for gid, g in STATE.grants.items():
                    if g["user"] == user:
                        a, b = STATE.revoke_grant(gid)
                        n_rt += a
                        n_at += b
                return self.reply(200, {"revoked_refresh_tokens": n_rt, "revoked_access_tokens": n_at})
            if what == "deny-authorize":
                try:
                    n = int(p.get("count", 1))
                except ValueError:
                    raise OAuthError("invalid_request", "count must be a number")
                cfg["deny_authorize"] = max(0, n)
                cfg["deny_error"] = str(p.get("error") or "access_denied")
                return self.reply(200, {"deny_authorize": cfg["deny_authorize"], "error": cfg["deny_error"]})
            if what == "issue":
                user = str(p.get("user", "")).strip().lower()
                if not user:
                    raise OAuthError("invalid_request", "user missing")
                gid = STATE.new_grant(user, str(p.get("client_id") or "admin-issued"), str(p.get("scope", "")))
                return self.reply(200, STATE.mint(gid))
            if what == "reset":
                STATE.reset()
                return self.reply(200, {"reset": True})
            raise OAuthError("invalid_request", "no such admin endpoint", 404)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description="test OAuth2 authorization server on 127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="TCP port (0 = ephemeral, the default)")
    ap.add_argument("--port-file", help="also write the port number to this file (atomically)")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    port = srv.server_address[1]
    if a.port_file:
        tmp = "%s.%d.tmp" % (a.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, a.port_file)
    sys.stdout.write("OAUTH_PORT=%d\n" % port)
    sys.stdout.flush()

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stderr.write("oauth-server: listening on 127.0.0.1:%d\n" % port)
    sys.stderr.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()

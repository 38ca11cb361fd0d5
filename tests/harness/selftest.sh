#!/usr/bin/env bash
# Self-test of tests/harness/mailserver: two instances side by side, mail
# round trips, and every fault switch checked against the replies it must
# produce. Needs root, Dovecot, Postfix, swaks, openssl and python3.
# Ends with "N passed, M failed"; exit status 0 only if nothing failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MS=$HERE/mailserver
PY=${PYTHON:-python3}
CLIENT=$HERE/selftest_client.py
WORK=$(mktemp -d /tmp/ms-selftest.XXXXXX)
A=$WORK/a
B=$WORK/b
PW='Canary pass 1'
export PW

cleanup() {
	"$MS" stop "$A" >/dev/null 2>&1
	"$MS" stop "$B" >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=tests/harness/selftest-lib.sh
. "$HERE/selftest-lib.sh"

now_ms() { local t=${EPOCHREALTIME/,/.}; echo $(( ${t%.*} * 1000 + 10#${t#*.} / 1000 )); }

envof() { # envof DIR KEY
	sed -n "s/^$2=//p" "$1/env"
}

# --- mail helpers -----------------------------------------------------------

sub_send() { # sub_send DIR PORTKEY FROM PASSWORD TO SUBJECT [swaks args...]
	local d=$1 port=$2 from=$3 pw=$4 to=$5 subj=$6
	shift 6
	local tlsopt=-tls
	[[ $port == MS_SMTPS_PORT ]] && tlsopt=-tlsc
	swaks --server "127.0.0.1:$(envof "$d" "$port")" $tlsopt --tls-verify --tls-ca-path "$(envof "$d" MS_CA_FILE)" \
		--tls-sni localhost -au "$from" -ap "$pw" -f "$from" -t "$to" --h-Subject "$subj" \
		--timeout 10 "$@" 2>&1
}

mx_send() { # mx_send DIR FROM TO SUBJECT [swaks args...]
	local d=$1 from=$2 to=$3 subj=$4
	shift 4
	swaks --server "127.0.0.1:$(envof "$d" MS_MX_PORT)" -f "$from" -t "$to" --h-Subject "$subj" --timeout 10 "$@" 2>&1
}

subjects() { # subjects DIR USER MAILBOX
	"$MS" doveadm "$1" fetch -u "$2" 'hdr.subject' mailbox "$3" all 2>/dev/null | sed -n 's/^hdr.subject: //p'
}

wait_mail() { # wait_mail DIR USER MAILBOX SUBJECT [timeout_s] — 0 when it arrived
	local deadline=$(( $(now_ms) + ${5:-10} * 1000 ))
	while (( $(now_ms) < deadline )); do
		subjects "$1" "$2" "$3" | grep -qxF -- "$4" && return 0
		sleep 0.05
	done
	return 1
}

arrives() { # arrives NAME DIR USER MAILBOX SUBJECT
	local t0=$(now_ms)
	if wait_mail "$2" "$3" "$4" "$5"; then ok "$1 ($(( $(now_ms) - t0 )) ms)"; else
		bad "$1" "$(subjects "$2" "$3" "$4"; tail -n 5 "$2/log/postfix.log" "$2/log/dovecot.log")"
	fi
}

stays_away() { # stays_away NAME DIR USER MAILBOX SUBJECT SECONDS
	if wait_mail "$2" "$3" "$4" "$5" "$6"; then bad "$1" "$(subjects "$2" "$3" "$4")"; else ok "$1"; fi
}

py() { "$PY" "$CLIENT" "$@" 2>&1; }

# --- start ------------------------------------------------------------------

[[ $(id -u) -eq 0 ]] || { echo "selftest: must run as root" >&2; exit 1; }

t0=$(now_ms)
outA=$("$MS" start "$A" 2>"$WORK/startA.err"); rcA=$?
tA=$(( $(now_ms) - t0 ))
t0=$(now_ms)
outB=$(MS_JUNK_NAME='迷惑メール' "$MS" start "$B" 2>"$WORK/startB.err"); rcB=$?
tB=$(( $(now_ms) - t0 ))
echo "start time: instance A ${tA} ms, instance B ${tB} ms"
if ((rcA != 0 || rcB != 0)); then
	bad "both instances start" "$(cat "$WORK/startA.err" "$WORK/startB.err")"
	echo "$PASS passed, $FAIL failed"
	exit 1
fi
ok "both instances start"
expect "start prints every env key" \
	'MS_DIR=.*MS_HOST=127\.0\.0\.1.*MS_SMTP_PORT=[0-9]+.*MS_SMTPS_PORT=[0-9]+.*MS_MX_PORT=[0-9]+.*MS_IMAP_PORT=[0-9]+.*MS_IMAPS_PORT=[0-9]+.*MS_POP3_PORT=[0-9]+.*MS_POP3S_PORT=[0-9]+.*MS_CA_FILE=/.*MS_DOMAIN=example\.test' \
	"$(tr '\n' ' ' <<<"$outA")"
expect "env file equals start output" '^same$' "$([[ $(cat "$A/env") == "$outA" ]] && echo same)"
portsA=$(grep -E '_PORT=' "$A/env" | cut -d= -f2 | sort)
portsB=$(grep -E '_PORT=' "$B/env" | cut -d= -f2 | sort)
expect "instances use disjoint ports" '^0$' "$(comm -12 <(echo "$portsA") <(echo "$portsB") | wc -l)"
"$MS" status "$A" >/dev/null && ok "status A = running" || bad "status A = running"

set -a
# shellcheck disable=SC1091
source "$A/env"
set +a

# --- users ------------------------------------------------------------------

ALICE=alice@example.test
BOB=bob@example.test
printf '%s\n' "$PW" | "$MS" adduser "$A" "$ALICE" && ok "adduser alice (A)" || bad "adduser alice (A)"
printf '%s\n' "$PW" | "$MS" adduser "$A" "$BOB" && ok "adduser bob (A)" || bad "adduser bob (A)"
printf '%s\n' "$PW" | "$MS" adduser "$B" "$ALICE" && ok "adduser alice (B)" || bad "adduser alice (B)"
expect "adduser keeps the password out of argv and files" '^clean$' \
	"$(grep -rqF -- "$PW" "$A/state" "$A/etc" && echo leaked || echo clean)"

# --- submission round trip --------------------------------------------------

out=$(sub_send "$A" MS_SMTP_PORT "$ALICE" "$PW" "$ALICE" "canary-starttls")
expect "STARTTLS submission with AUTH is queued" '<~  250 2\.0\.0 Ok: queued' "$out"
arrives "STARTTLS submission arrives in INBOX" "$A" "$ALICE" INBOX canary-starttls

out=$(sub_send "$A" MS_SMTPS_PORT "$ALICE" "$PW" "$BOB" "canary-smtps")
expect "implicit-TLS submission is queued" '<~  250 2\.0\.0 Ok: queued' "$out"
arrives "implicit-TLS submission arrives" "$A" "$BOB" INBOX canary-smtps

out=$(swaks --server "127.0.0.1:$MS_SMTP_PORT" -f "$ALICE" -t "$ALICE" --timeout 10 2>&1)
expect "submission without STARTTLS is refused" '530 5\.7\.0 Must issue a STARTTLS command first' "$out"
out=$(swaks --server "127.0.0.1:$MS_SMTP_PORT" -tls --tls-verify --tls-ca-path "$MS_CA_FILE" -f "$ALICE" -t "$BOB" --timeout 10 2>&1)
expect "submission without AUTH is refused" '<~\* 5[0-9][0-9] ' "$out"
out=$(swaks --server "127.0.0.1:$MS_SMTP_PORT" --quit-after EHLO --timeout 10 2>&1)
expect_not "AUTH is not offered before TLS" '250-AUTH|250 AUTH' "$out"

out=$(mx_send "$A" sender@outside.invalid "$BOB" "canary-mx")
expect "MX port accepts mail for the local domain" '<-  250 2\.0\.0 Ok: queued' "$out"
arrives "MX mail arrives" "$A" "$BOB" INBOX canary-mx
out=$(mx_send "$A" sender@outside.invalid someone@elsewhere.invalid "relay-attempt")
expect "MX port refuses relaying" '554 5\.7\.1 .*Relay access denied' "$out"

expect_not "instance B does not see A's mail" 'canary-' "$(subjects "$B" "$ALICE" INBOX)"
out=$(sub_send "$B" MS_SMTP_PORT "$ALICE" "$PW" "$ALICE" "canary-b")
arrives "instance B round trip" "$B" "$ALICE" INBOX canary-b

# --- IMAP / POP3 --------------------------------------------------------------

expect "IMAP STARTTLS login (CA verified)" '^OK ' "$(py imap starttls "$MS_IMAP_PORT" "$ALICE" env:PW)"
expect "IMAP plaintext login allowed without TLS" '^OK ' "$(py imap plain "$MS_IMAP_PORT" "$ALICE" env:PW)"
expect "IMAPS login" '^OK ' "$(py imap ssl "$MS_IMAPS_PORT" "$ALICE" env:PW)"
caps=$(py imaplist "$MS_IMAP_PORT" "$ALICE" env:PW)
for c in IDLE UIDPLUS MOVE SPECIAL-USE QUOTA; do
	expect "IMAP capability $c" "(^| )$c( |\$)" "$(head -n1 <<<"$caps")"
done
expect "LIST: Junk has \\Junk" '\\Junk\) "/" Junk' "$caps"
expect "LIST: Trash has \\Trash" '\\Trash\) "/" Trash' "$caps"
expect "LIST: Sent has \\Sent" '\\Sent\) "/" Sent' "$caps"
capsB=$(MS_CA_FILE=$(envof "$B" MS_CA_FILE) py imaplist "$(envof "$B" MS_IMAP_PORT)" "$ALICE" env:PW)
expect "LIST (B): 迷惑メール is \\Junk in modified UTF-7" '\\Junk\) "/" &j,dg0TDhMPww6w-' "$capsB"
expect "POP3 STLS login" '^OK ' "$(py pop3 stls "$MS_POP3_PORT" "$ALICE" env:PW)"
expect "POP3S login" '^OK ' "$(py pop3 ssl "$MS_POP3S_PORT" "$ALICE" env:PW)"

out=$(py imap starttls "$MS_IMAP_PORT" "$ALICE" wrong-password)
expect "IMAP wrong password -> AUTHENTICATIONFAILED" '^NO .*\[AUTHENTICATIONFAILED\]' "$out"
secs=$(sed -n 's/.*(\([0-9.]*\)s)$/\1/p' <<<"$out")
expect "auth failure is answered without delay (${secs}s)" '^yes$' "$(awk -v s="$secs" 'BEGIN { print (s < 0.4) ? "yes" : "no" }')"
expect "IMAP unknown user -> AUTHENTICATIONFAILED" '^NO .*\[AUTHENTICATIONFAILED\]' \
	"$(py imap starttls "$MS_IMAP_PORT" nobody@example.test env:PW)"
expect "a correct login right after failures is not penalised" '^OK ' \
	"$(py imap starttls "$MS_IMAP_PORT" "$ALICE" env:PW)"

# password change takes effect for the very next login
PW2='second Pass 2'
export PW2
printf '%s\n' "$PW2" | "$MS" adduser "$A" "$ALICE"
expect "changed password works at once" '^OK ' "$(py imap starttls "$MS_IMAP_PORT" "$ALICE" env:PW2)"
expect "old password fails at once" '^NO ' "$(py imap starttls "$MS_IMAP_PORT" "$ALICE" env:PW)"
printf '%s\n' "$PW" | "$MS" adduser "$A" "$ALICE"
expect "password changed back at once" '^OK ' "$(py imap starttls "$MS_IMAP_PORT" "$ALICE" env:PW)"
NEWU=fresh$RANDOM@example.test
py imap starttls "$MS_IMAP_PORT" "$NEWU" env:PW >/dev/null
printf '%s\n' "$PW" | "$MS" adduser "$A" "$NEWU"
expect "user added right after a failed lookup logs in at once" '^OK ' "$(py imap starttls "$MS_IMAP_PORT" "$NEWU" env:PW)"

# --- lock / unlock ----------------------------------------------------------

expect "login works before lock" '^OK ' "$(py imap starttls "$MS_IMAP_PORT" "$ALICE" env:PW)"
"$MS" lock "$A" "$ALICE"
expect "locked: IMAP NO [AUTHENTICATIONFAILED]" '^NO .*\[AUTHENTICATIONFAILED\] Authentication failed' \
	"$(py imap starttls "$MS_IMAP_PORT" "$ALICE" env:PW)"
expect "locked: IMAPS NO [AUTHENTICATIONFAILED]" '^NO .*\[AUTHENTICATIONFAILED\]' \
	"$(py imap ssl "$MS_IMAPS_PORT" "$ALICE" env:PW)"
expect "locked: POP3 -ERR [AUTH]" '^ERR -ERR \[AUTH\]' "$(py pop3 stls "$MS_POP3_PORT" "$ALICE" env:PW)"
out=$(sub_send "$A" MS_SMTP_PORT "$ALICE" "$PW" "$BOB" "locked-send")
expect "locked: SMTP AUTH 535 5.7.8" '<~\* 535 5\.7\.8 ' "$out"
expect "locked: other users unaffected" '^OK ' "$(py imap starttls "$MS_IMAP_PORT" "$BOB" env:PW)"
"$MS" unlock "$A" "$ALICE"
expect "unlocked: IMAP login works at once" '^OK ' "$(py imap starttls "$MS_IMAP_PORT" "$ALICE" env:PW)"
out=$(sub_send "$A" MS_SMTP_PORT "$ALICE" "$PW" "$BOB" "unlocked-send")
expect "unlocked: SMTP AUTH works" '<~  250 2\.0\.0 Ok: queued' "$out"

# --- suspended sender -------------------------------------------------------

"$MS" suspend-sender "$A" "$ALICE"
out=$(sub_send "$A" MS_SMTP_PORT "$ALICE" "$PW" "$BOB" "suspended-send")
expect "suspended: 554 5.7.1 at MAIL FROM" \
	'<~\* 554 5\.7\.1 <alice@example\.test>: Sender address rejected: account suspended for sending spam' "$out"
expect "suspended: AUTH itself still succeeds" '<~  235 ' "$out"
out=$(sub_send "$A" MS_SMTP_PORT "$BOB" "$PW" "$ALICE" "bob-not-suspended")
expect "suspended: other senders unaffected" '<~  250 2\.0\.0 Ok: queued' "$out"
"$MS" unsuspend-sender "$A" "$ALICE"
out=$(sub_send "$A" MS_SMTP_PORT "$ALICE" "$PW" "$BOB" "unsuspended-send")
expect "unsuspended: sending works at once" '<~  250 2\.0\.0 Ok: queued' "$out"

# --- junk -------------------------------------------------------------------

"$MS" junk "$A" "$ALICE" on
mx_send "$A" spammer@outside.invalid "$ALICE" "junk-on-a" >/dev/null
arrives "junk on: delivery lands in Junk" "$A" "$ALICE" Junk junk-on-a
expect_not "junk on: not in INBOX" '^junk-on-a$' "$(subjects "$A" "$ALICE" INBOX)"
mx_send "$A" spammer@outside.invalid "$BOB" "junk-other-user" >/dev/null
arrives "junk on: other users still get INBOX" "$A" "$BOB" INBOX junk-other-user
"$MS" junk "$A" "$ALICE" off
mx_send "$A" friend@outside.invalid "$ALICE" "junk-off-a" >/dev/null
arrives "junk off: delivery lands in INBOX again" "$A" "$ALICE" INBOX junk-off-a
"$MS" junk "$B" "$ALICE" on
out=$(sub_send "$B" MS_SMTP_PORT "$ALICE" "$PW" "$ALICE" "junk-on-b")
arrives "junk on (B): lands in 迷惑メール" "$B" "$ALICE" '迷惑メール' junk-on-b

# --- deliver / doveadm --------------------------------------------------------

printf 'From: x@outside.invalid\r\nTo: %s\r\nSubject: delivered-direct\r\nMessage-ID: <d1@outside.invalid>\r\n\r\nhello\r\n' "$ALICE" |
	"$MS" deliver "$A" "$ALICE" && ok "deliver into INBOX" || bad "deliver into INBOX"
expect "delivered message is in INBOX" '^delivered-direct$' "$(subjects "$A" "$ALICE" INBOX)"
printf 'Subject: delivered-trash\r\n\r\nbye\r\n' | "$MS" deliver "$A" "$ALICE" Trash
expect "deliver into Trash" '^delivered-trash$' "$(subjects "$A" "$ALICE" Trash)"
printf 'Subject: delivered-junk-b\r\n\r\nx\r\n' | "$MS" deliver "$B" "$ALICE" '迷惑メール'
expect "deliver into 迷惑メール" '^delivered-junk-b$' "$(subjects "$B" "$ALICE" '迷惑メール')"

# --- quota --------------------------------------------------------------------

CAROL=carol@example.test
printf '%s\n' "$PW" | MS_QUOTA=200K "$MS" adduser "$A" "$CAROL"
"$PY" -c 'import sys; sys.stdout.write("Subject: filler\r\n\r\n" + ("x" * 76 + "\r\n") * 3200)' |
	"$MS" deliver "$A" "$CAROL"
out=$("$MS" doveadm "$A" quota get -u "$CAROL" 2>&1)
expect "quota: limit 200 KiB reported" 'STORAGE +[0-9]+ +200 ' "$out"
mx_send "$A" "$BOB" "$CAROL" "over-quota" >/dev/null
stays_away "quota: mail to a full mailbox is not stored" "$A" "$CAROL" INBOX over-quota 2
expect "quota: Postfix got 552 5.2.2 quota exceeded" 'to=<carol@example\.test>.*status=bounced.*552 5\.2\.2' \
	"$(grep -F 'carol@example.test' "$A/log/postfix.log")"

# --- TLS certificates ---------------------------------------------------------

expect "good cert verifies (IMAPS, localhost)" '^VERIFIED' "$(py tls "$MS_IMAPS_PORT" localhost)"
expect "good cert verifies (SMTPS, 127.0.0.1)" '^VERIFIED' "$(py tls "$MS_SMTPS_PORT" 127.0.0.1)"
expect "good cert verifies (POP3S, mail.example.test)" '^VERIFIED' "$(py tls "$MS_POP3S_PORT" mail.example.test)"
for v in untrusted expired wronghost; do
	t0=$(now_ms)
	if "$MS" cert "$A" "$v"; then ok "cert $v switched ($(( $(now_ms) - t0 )) ms)"; else bad "cert $v switched"; fi
	case $v in
	untrusted) want='REJECTED .*(unable to get local issuer|self.signed)' ;;
	expired) want='REJECTED .*expired' ;;
	wronghost) want='REJECTED .*(Hostname mismatch|IP address mismatch)' ;;
	esac
	expect "cert $v: IMAPS rejected" "$want" "$(py tls "$MS_IMAPS_PORT" localhost)"
	expect "cert $v: SMTPS rejected" "$want" "$(py tls "$MS_SMTPS_PORT" localhost)"
	out=$(openssl s_client -connect "127.0.0.1:$MS_SMTP_PORT" -starttls smtp -CAfile "$MS_CA_FILE" \
		-verify_hostname localhost -verify_return_error </dev/null 2>&1)
	expect "cert $v: SMTP STARTTLS verification fails" 'verify error|Verification error' "$out"
	expect "cert $v: IMAP STARTTLS with verification fails" '^ERROR .*(SSLCertVerificationError|certificate)' \
		"$(py imap starttls "$MS_IMAP_PORT" "$ALICE" env:PW)"
done
"$MS" cert "$A" good
expect "cert good again: IMAPS verifies" '^VERIFIED' "$(py tls "$MS_IMAPS_PORT" localhost)"
expect "cert good again: submission works" '<~  250 2\.0\.0 Ok: queued' \
	"$(sub_send "$A" MS_SMTP_PORT "$ALICE" "$PW" "$BOB" "cert-good-again")"

# --- defer --------------------------------------------------------------------

"$MS" defer "$A" on && ok "defer on" || bad "defer on"
mx_send "$A" x@outside.invalid "$BOB" "deferred-mail" >/dev/null
stays_away "defer on: mail is held" "$A" "$BOB" INBOX deferred-mail 2
"$MS" defer "$A" off && ok "defer off" || bad "defer off"
arrives "defer off: held mail is delivered" "$A" "$BOB" INBOX deferred-mail

# --- drop attachments ---------------------------------------------------------

"$PY" - "$WORK" <<'EOF'
import io, sys, zipfile
d = sys.argv[1]
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("invoice.txt", "plain zip content " * 50)
plain = buf.getvalue()
open(d + "/plain.zip", "wb").write(plain)
enc = bytearray(plain)
enc[6] |= 0x01  # general purpose flag bit 0: encrypted (as ZipCrypto writes it)
open(d + "/enc.zip", "wb").write(bytes(enc))
open(d + "/macro.bin", "wb").write(b"PK\x03\x04 not really a workbook" * 20)
EOF
"$MS" drop-attachments "$A" on
out=$(sub_send "$A" MS_SMTP_PORT "$ALICE" "$PW" "$BOB" "drop-xlsm" \
	--attach-type application/vnd.ms-excel.sheet.macroEnabled.12 --attach-name q3.xlsm --attach "$WORK/macro.bin")
expect "drop on: .xlsm submission still answers 250" '<~  250 2\.0\.0 Ok: queued' "$out"
out=$(sub_send "$A" MS_SMTP_PORT "$ALICE" "$PW" "$BOB" "drop-docm" --attach-name minutes.docm --attach "$WORK/macro.bin")
sub_send "$A" MS_SMTP_PORT "$ALICE" "$PW" "$BOB" "drop-enczip" --attach-type application/zip --attach-name secret.zip --attach "$WORK/enc.zip" >/dev/null
sub_send "$A" MS_SMTP_PORT "$ALICE" "$PW" "$BOB" "keep-plainzip" --attach-type application/zip --attach-name plain.zip --attach "$WORK/plain.zip" >/dev/null
sub_send "$A" MS_SMTP_PORT "$ALICE" "$PW" "$BOB" "keep-xlsx" --attach-name sheet.xlsx --attach "$WORK/plain.zip" >/dev/null
arrives "drop on: plain ZIP passes" "$A" "$BOB" INBOX keep-plainzip
arrives "drop on: .xlsx passes" "$A" "$BOB" INBOX keep-xlsx
got=$(subjects "$A" "$BOB" INBOX)
expect_not "drop on: .xlsm silently discarded" '^drop-xlsm$' "$got"
expect_not "drop on: .docm silently discarded" '^drop-docm$' "$got"
expect_not "drop on: encrypted ZIP silently discarded" '^drop-enczip$' "$got"
"$MS" drop-attachments "$A" off
sub_send "$A" MS_SMTP_PORT "$ALICE" "$PW" "$BOB" "drop-off-xlsm" --attach-name q4.xlsm --attach "$WORK/macro.bin" >/dev/null
arrives "drop off: .xlsm delivered again" "$A" "$BOB" INBOX drop-off-xlsm

# --- pause / resume -----------------------------------------------------------

greeting() { # greeting PORT TIMEOUT — first line or "(none)"
	local fd line=""
	if { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
		IFS= read -r -t "$2" -u "$fd" line || true
		exec {fd}>&-
		echo "${line:-(none)}"
	else
		echo "(refused)"
	fi
}
"$MS" pause "$A"
expect "paused: SMTP accepts TCP but never greets" '^\(none\)$' "$(greeting "$MS_MX_PORT" 1)"
expect "paused: IMAP accepts TCP but never greets" '^\(none\)$' "$(greeting "$MS_IMAP_PORT" 1)"
expect "paused: instance B unaffected" '^\* OK' "$(greeting "$(envof "$B" MS_IMAP_PORT)" 5)"
"$MS" resume "$A"
expect "resumed: SMTP greets" '^220 ' "$(greeting "$MS_MX_PORT" 5)"
expect "resumed: IMAP greets" '^\* OK' "$(greeting "$MS_IMAP_PORT" 5)"
arrives "resumed: mail flows again" "$A" "$BOB" INBOX "$(mx_send "$A" x@outside.invalid "$BOB" after-resume >/dev/null; echo after-resume)"

# --- errors -------------------------------------------------------------------

out=$("$MS" junk "$A" "not an address" on 2>&1) && bad "bad address rejected" "$out" || expect "bad address rejected with a reason" '^mailserver: ' "$out"
out=$("$MS" cert "$WORK/nowhere" good 2>&1) && bad "missing instance rejected" "$out" || expect "missing instance rejected with a reason" '^mailserver: ' "$out"

# --- stop -----------------------------------------------------------------------

"$MS" pause "$B"
t0=$(now_ms)
"$MS" stop "$A" && "$MS" stop "$B" && ok "stop both (B paused) in $(( $(now_ms) - t0 )) ms" || bad "stop both"
"$MS" status "$A" >/dev/null 2>&1 && bad "status after stop is non-zero" || ok "status after stop is non-zero"
"$MS" stop "$A" && ok "stop is idempotent" || bad "stop is idempotent"
left=$(ps -e -o pid=,args= | grep -F -e "$A/" -e "$B/" | grep -v grep)
expect "no daemon process left" '^$' "$left"
expect "ports are free again" '^refused$' "$( { exec 3<>"/dev/tcp/127.0.0.1/$MS_IMAP_PORT"; } 2>/dev/null && echo open || echo refused)"

echo "start time: instance A ${tA} ms, instance B ${tB} ms"
echo "$PASS passed, $FAIL failed"
((FAIL == 0))

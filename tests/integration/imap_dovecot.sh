#!/usr/bin/env bash
# imap_dovecot.sh - `dmarcstat fetch` against a real Dovecot on loopback.
#
# Starts Dovecot as an unprivileged user (nobody when run as root) with a
# temporary configuration on random high ports, plain IMAP and IMAPS with a
# self-signed certificate, puts mail in by IMAP APPEND (curl), and checks:
# reports stored and messages moved to Processed/Invalid; a second fetch is a
# no-op; duplicate delivery; a non-report mail; a message over
# limits.max_input_bytes; wrong password; untrusted certificate; IMAPS and
# STARTTLS with the CA file; the server stopped during a fetch, then a
# re-run: every report stored exactly once.
#
# Env: DMARCSTAT_BIN, DMARCGEN_BIN (optional: else tests/fixtures/intake),
# DMARCSTAT_SRC.  Exit 77 (skip) without dovecot, curl or sqlite3.
set -u
BIN=${DMARCSTAT_BIN:?DMARCSTAT_BIN not set}
SRC=${DMARCSTAT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
GEN=${DMARCGEN_BIN:-}
for t in dovecot curl sqlite3 openssl; do
	command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] ||
		{ echo "skip: $t not installed"; exit 77; }
done
PATH=$PATH:/usr/sbin

T=$(mktemp -d /tmp/dmarcstat-imap.XXXXXX)
chmod 755 "$T"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
# a section is "ok" only when it added no failure
SECTION_FAILS=0
ok() {
	if [ "$FAILS" -eq "$SECTION_FAILS" ]; then echo "ok: $*"; else echo "not ok: $*"; fi
	SECTION_FAILS=$FAILS
}

# ---- Dovecot on loopback ----
. "$SRC/tests/lib/dovecot.sh"
USER_=reports@example.com
PASS='s3cret pass'
dovecot_setup "$T" "$USER_" "$PASS" tls ||
	{ echo "skip: openssl cannot make a certificate"; exit 77; }
cleanup() {
	dovecot_stop
	if [ "$FAILS" -eq 0 ]; then rm -rf "$T"; else echo "kept $T"; fi
}
trap cleanup EXIT
dovecot_start || { echo "skip: dovecot did not start"; cat "$T/dovecot.log" 2>/dev/null; exit 77; }

IMAP="imap://127.0.0.1:$PORT"
append() {   # append FILE [FOLDER]
	curl -sS --user "$USER_:$PASS" -T "$1" "$IMAP/${2:-INBOX}" >/dev/null
}
count() {    # count FOLDER -> number of messages
	curl -sS --user "$USER_:$PASS" "$IMAP/" -X "STATUS \"$1\" (MESSAGES)" 2>/dev/null |
		sed -n 's/.*MESSAGES \([0-9]*\).*/\1/p'
}
q() { sqlite3 -cmd '.timeout 5000' "$DB" "$1"; }

# ---- mail to fetch ----
MAIL=$T/mail
mkdir -p "$MAIL"
if [ -n "$GEN" ] && [ -x "$GEN" ]; then
	"$GEN" --eml --out "$MAIL" --count 40 --days 10 --seed 7 -q || fail "dmarcgen"
else
	cp "$SRC"/tests/fixtures/intake/report-*.eml "$MAIL/"
fi
NMAIL=$(ls "$MAIL" | wc -l)
# expected reports: a control import of the same messages
CTRL=$T/control.db
"$BIN" --db "$CTRL" -q import "$MAIL" >/dev/null 2>&1
EXPECT=$(sqlite3 "$CTRL" 'SELECT count(*) FROM reports')
[ "$EXPECT" -gt 0 ] || fail "control import stored no report"

for f in "$MAIL"/*; do append "$f" || fail "APPEND $f"; done
append "$SRC/tests/fixtures/intake/not-a-report.eml"
# a big message: over the limit set below (300 KiB > 256 KiB)
{
	printf 'From: big@example.org\r\nTo: dmarc@example.com\r\nSubject: big\r\n'
	printf 'MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n'
	head -c 225000 /dev/zero | base64 -w 76 | sed 's/$/\r/'
} > "$T/big.eml"
append "$T/big.eml"
[ "$(count INBOX)" = $((NMAIL + 2)) ] || fail "INBOX should hold $((NMAIL + 2)) messages"

export DS_IMAP_PASSWORD=$PASS
cat > "$T/dmarcstat.conf" <<EOF
[imap]
batch = 7
[limits]
max_input_bytes = 256k
[mailbox plain]
url = imap://127.0.0.1:$PORT/
user = $USER_
password_env = DS_IMAP_PASSWORD
starttls = no
allow_plaintext = yes
EOF
DB=$T/fetch.db
run_fetch() { "$BIN" --db "$DB" --config "$T/dmarcstat.conf" fetch "$@"; }

# 1. plain IMAP: everything fetched, reports stored, messages moved
run_fetch > "$T/out1" 2> "$T/err1"
rc=$?
[ "$rc" = 1 ] || fail "first fetch: exit $rc, want 1 (invalid messages)"; cat "$T/out1"
[ "$(q 'SELECT count(*) FROM reports')" = "$EXPECT" ] || fail "reports: $(q 'SELECT count(*) FROM reports') want $EXPECT"
[ "$(count INBOX)" = 0 ] || fail "INBOX not empty: $(count INBOX)"
[ "$(count Processed)" = "$NMAIL" ] || fail "Processed: $(count Processed) want $NMAIL"
[ "$(count Invalid)" = 2 ] || fail "Invalid: $(count Invalid) want 2"
q "SELECT status, reason FROM ledger WHERE source='imap' AND reason LIKE '%too large%'" | grep -q 'limits.max_input_bytes' ||
	fail "ledger lacks the too-large reason"
[ "$(q "SELECT count(*) FROM ledger WHERE source='imap' AND status='not-a-report'")" -ge 1 ] ||
	fail "ledger lacks the not-a-report row"
[ -n "$(q "SELECT last_success FROM imap_state WHERE mailbox='plain' AND last_error IS NULL")" ] ||
	fail "imap_state not updated"
ok "plain fetch: $EXPECT reports from $NMAIL messages, moved"

# 2. a second fetch finds nothing
run_fetch > "$T/out2" 2>&1 || fail "second fetch: exit $?"
grep -q 'fetched 0,' "$T/out2" || fail "second fetch fetched something: $(cat "$T/out2")"

# 3. duplicate delivery: the same message twice
first=$(ls "$MAIL" | head -1)
append "$MAIL/$first"; append "$MAIL/$first"
run_fetch > "$T/out3" 2>&1 || fail "duplicate fetch: exit $?"
[ "$(q 'SELECT count(*) FROM reports')" = "$EXPECT" ] || fail "duplicates were stored twice"
[ "$(count Processed)" = $((NMAIL + 2)) ] || fail "duplicates not moved to Processed"
ok "duplicate delivery"

# 4. wrong password: temporary failure, nothing moved
append "$MAIL/$first"
DS_IMAP_PASSWORD=wrong run_fetch > /dev/null 2> "$T/err4"
rc=$?
[ "$rc" = 75 ] || fail "wrong password: exit $rc, want 75"
grep -qi 'login\|denied' "$T/err4" || fail "wrong password: no reason: $(cat "$T/err4")"
[ "$(count INBOX)" = 1 ] || fail "wrong password moved mail"
q "SELECT last_error FROM imap_state WHERE mailbox='plain'" | grep -qi 'login\|denied' ||
	fail "imap_state.last_error not set"
ok "wrong password"

# 5. TLS: untrusted certificate fails; with the CA file IMAPS and STARTTLS work
cat > "$T/tls.conf" <<EOF
[mailbox tls]
url = imaps://127.0.0.1:$SPORT/
user = $USER_
password_env = DS_IMAP_PASSWORD
[mailbox starttls]
url = imap://127.0.0.1:$PORT/
user = $USER_
password_env = DS_IMAP_PASSWORD
starttls = yes
EOF
"$BIN" --db "$DB" --config "$T/tls.conf" fetch --mailbox tls > /dev/null 2> "$T/err5"
rc=$?
[ "$rc" = 75 ] || fail "untrusted certificate: exit $rc, want 75"
grep -qi 'certificate\|SSL' "$T/err5" || fail "untrusted certificate: no reason: $(cat "$T/err5")"
[ "$(count INBOX)" = 1 ] || fail "TLS failure moved mail"
"$BIN" --db "$DB" --config "$T/tls.conf" fetch --mailbox tls \
	--set "imap.ca_file=$T/cert.pem" > "$T/out5" 2>&1 || fail "IMAPS with CA: exit $? $(cat "$T/out5")"
[ "$(count INBOX)" = 0 ] || fail "IMAPS did not fetch"
append "$MAIL/$first"
"$BIN" --db "$DB" --config "$T/tls.conf" fetch --mailbox starttls \
	--set "mailbox.starttls.ca_file=$T/cert.pem" > "$T/out5b" 2>&1 || fail "STARTTLS with CA: exit $? $(cat "$T/out5b")"
[ "$(count INBOX)" = 0 ] || fail "STARTTLS did not fetch"
[ "$(q 'SELECT count(*) FROM reports')" = "$EXPECT" ] || fail "TLS fetches doubled reports"
ok "TLS: untrusted refused, IMAPS and STARTTLS with ca_file"

# 6. the server goes away during a fetch; a re-run completes; nothing lost or doubled
DB=$T/kill.db
for i in 1 2 3 4 5 6 7 8; do for f in "$MAIL"/*; do append "$f"; done; done
N2=$(count INBOX)
P0=$(count Processed)
run_fetch --set imap.batch=3 > /dev/null 2>&1 &
fpid=$!
# stop the server once the first batches are moved, while the rest waits
for _ in $(seq 200); do
	p=$(count Processed)
	[ -n "$p" ] && [ "$p" -gt "$P0" ] && break
	sleep 0.02
done
# SIGKILL the master's children, so the connection drops in the middle of
# the pass, then stop the rest.  The master stays alive until it has reaped
# them: a killed process left as a zombie (an orphan under an init that does
# not reap, which a container may have) still answers kill(pid, 0), and
# Dovecot then takes its maildir lock for live and waits two minutes before
# overriding it.
echo "killing the server with $p of $N2 moved"
mpid=$(cat "$T/run/master.pid")
killed=$(pgrep -P "$mpid")
for pid in $killed; do kill -9 "$pid" 2>/dev/null; done
for pid in $killed; do
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$pid" 2>/dev/null && fail "killed dovecot process $pid was not reaped"
done
dovecot_stop
wait "$fpid"
rc=$?
# A process killed while it held a maildir's dovecot-uidlist.lock leaves the
# lock file behind; the next Dovecot overrides it only after checking that
# its owner is gone, or two minutes later, longer than a fetch waits for an
# answer.  This section tests dmarcstat's recovery, not Dovecot's, so the
# stale locks go, as an administrator would remove them after a crash.
find "$T/home" -name '*.lock' -type f -print -delete | sed 's/^/removed stale lock /'
dovecot_start || fail "dovecot restart"
left=$(count INBOX)
echo "fetch during shutdown: exit $rc, INBOX left $left of $N2"
[ "$rc" = 75 ] && [ "$left" -gt 0 ] || echo "note: the fetch was not interrupted (too fast)"
run_fetch > "$T/out6" 2>&1 || fail "re-run after kill: exit $? $(cat "$T/out6")"
[ "$(count INBOX)" = 0 ] || fail "re-run left mail in INBOX"
[ "$(q 'SELECT count(*) FROM reports')" = "$EXPECT" ] ||
	fail "after kill: $(q 'SELECT count(*) FROM reports') reports, want $EXPECT"
ok "server stopped mid-fetch: every report stored exactly once"

# 7. flag mode: messages stay, flagged, and are not fetched again
DB=$T/flag.db
append "$MAIL/$first"
N7=$(count INBOX)
run_fetch --set mailbox.plain.after=flag > /dev/null 2>&1 || fail "flag mode: exit $?"
run_fetch --set mailbox.plain.after=flag > "$T/out7" 2>&1 || fail "flag mode again: exit $?"
grep -q 'fetched 0,' "$T/out7" || fail "flag mode refetched: $(cat "$T/out7")"
[ "$(count INBOX)" = "$N7" ] || fail "flag mode moved mail"
ok "flag mode"

# 8. configuration errors are usage errors, and the password never shows
"$BIN" --db "$DB" --config "$T/dmarcstat.conf" fetch --mailbox nosuch > /dev/null 2>&1
[ $? = 2 ] || fail "unknown mailbox should exit 2"
"$BIN" --config "$T/dmarcstat.conf" config | grep -q "$PASS" && fail "config printed the password"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)"; tail -20 "$T/dovecot.log"; exit 1; }
echo "imap_dovecot: all passed"

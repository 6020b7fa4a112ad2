#!/usr/bin/env bash
# kill9.sh - never lose, never double: `dmarcstat daemon` importing a spool
# folder is killed with SIGKILL at random moments, again and again, and
# restarted; at the end every report is stored exactly once, every file is
# in done/ or failed/ (none lost, none left), and the database is intact.
# (IMAP: imap_dovecot.sh stops the server during a fetch and re-runs it.)
# Env: DMARCSTAT_BIN, DMARCGEN_BIN (optional), DMARCSTAT_SRC.
set -u
BIN=${DMARCSTAT_BIN:?DMARCSTAT_BIN not set}
SRC=${DMARCSTAT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
GEN=${DMARCGEN_BIN:-}
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed"; exit 77; }
T=$(mktemp -d /tmp/dmarcstat-kill9.XXXXXX)
FAILS=0
DPID=
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
cleanup() {
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
	if [ "$FAILS" -eq 0 ]; then rm -rf "$T"; else echo "kept $T"; fi
}
trap cleanup EXIT
MAIL=$T/mail
mkdir -p "$MAIL"
if [ -n "$GEN" ] && [ -x "$GEN" ]; then
	"$GEN" --eml --out "$MAIL" --count 300 --days 20 --seed 11 -q
	"$GEN" --out "$MAIL" --count 100 --days 20 --seed 12 -q
else
	for i in $(seq 50); do
		cp "$SRC/tests/fixtures/intake/report-google.eml" "$MAIL/g$i.eml"
		cp "$SRC/tests/fixtures/intake/report-yahoo.eml" "$MAIL/y$i.eml"
	done
fi
cp "$SRC/tests/fixtures/intake/not-a-report.eml" "$MAIL/zz-junk.eml"
NM=$(ls "$MAIL" | wc -l)
"$BIN" --db "$T/control.db" -q import "$MAIL" > /dev/null 2>&1
EXPECT=$(sqlite3 "$T/control.db" 'SELECT count(*) FROM reports')

S=$T/spool
mkdir -p "$S"
cp "$MAIL"/* "$S/"
DB=$T/k.db
kills=0
for round in $(seq 40); do
	[ "$(find "$S" -maxdepth 1 -type f | wc -l)" = 0 ] && break
	"$BIN" --db "$DB" daemon --set "spool.dirs=$S" --set enrich.enabled=no 2>> "$T/daemon.log" &
	DPID=$!
	sleep "0.0$((RANDOM % 9 + 1))"
	kill -9 "$DPID" 2>/dev/null && kills=$((kills + 1))
	wait "$DPID" 2>/dev/null
	DPID=
done
# finish whatever is left, then check
"$BIN" --db "$DB" daemon --once --set "spool.dirs=$S" --set enrich.enabled=no 2>> "$T/daemon.log"
rc=$?
[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "final pass: exit $rc"
left=$(find "$S" -maxdepth 1 -type f | wc -l)
moved=$(( $(find "$S/done" -type f | wc -l) + $(find "$S/failed" -type f | wc -l) ))
got=$(sqlite3 "$DB" 'SELECT count(*) FROM reports')
echo "kills=$kills reports=$got expected=$EXPECT files=$NM moved=$moved left=$left"
[ "$left" = 0 ] || fail "$left files left in the spool"
[ "$moved" = "$NM" ] || fail "files: $moved in done/+failed/, want $NM"
[ "$got" = "$EXPECT" ] || fail "reports: $got, want $EXPECT"
[ "$(sqlite3 "$DB" 'SELECT count(DISTINCT content_hash) FROM reports')" = "$got" ] ||
	fail "a report is stored twice"
[ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ] || fail "database damaged"
# no orphan records from a half-written report
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM records WHERE report NOT IN (SELECT id FROM reports)')" = 0 ] ||
	fail "orphan records"
[ "$(sqlite3 "$DB" 'SELECT coalesce(sum(n_records),0) FROM reports')" = \
  "$(sqlite3 "$T/control.db" 'SELECT coalesce(sum(n_records),0) FROM reports')" ] ||
	fail "record totals differ from the control import"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)"; tail -20 "$T/daemon.log"; exit 1; }
echo "kill9: all passed"

#!/usr/bin/env bash
# pipe.sh - `dmarcstat import -` as an MTA pipe (docs/postfix.md): one
# message on standard input, sysexits exit codes: 0 stored (or duplicate),
# 1 no usable report, 75 database busy (the MTA keeps the message and
# retries).  The busy case holds a write lock with sqlite3 BEGIN EXCLUSIVE
# longer than dmarcstat's busy timeout; after the lock is gone the retried
# delivery is stored, exactly once.
# Env: DMARCSTAT_BIN, DMARCSTAT_SRC.
set -u
BIN=${DMARCSTAT_BIN:?DMARCSTAT_BIN not set}
SRC=${DMARCSTAT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed"; exit 77; }
T=$(mktemp -d /tmp/dmarcstat-pipe.XXXXXX)
FAILS=0
LPID=
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
cleanup() {
	[ -n "$LPID" ] && kill "$LPID" 2>/dev/null
	if [ "$FAILS" -eq 0 ]; then rm -rf "$T"; else echo "kept $T"; fi
}
trap cleanup EXIT
DB=$T/p.db
R1=$SRC/tests/fixtures/intake/report-google.eml
R2=$SRC/tests/fixtures/intake/report-yahoo.eml
JUNK=$SRC/tests/fixtures/intake/not-a-report.eml
imp() { "$BIN" --db "$DB" -q import --source pipe - < "$1"; }

imp "$R1"; rc=$?
[ "$rc" = 0 ] || fail "report: exit $rc, want 0"
imp "$R1"; rc=$?
[ "$rc" = 0 ] || fail "duplicate: exit $rc, want 0"
imp "$JUNK"; rc=$?
[ "$rc" = 1 ] || fail "not a report: exit $rc, want 1"
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM reports')" = 1 ] || fail "want 1 report"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM ledger WHERE source IN ('pipe','stdin')")" -ge 3 ] ||
	fail "ledger rows for the piped inputs missing"

# hold the write lock for 9 s (dmarcstat waits 5 s, then gives up with 75)
{ echo '.timeout 5000'; echo 'BEGIN EXCLUSIVE;'; echo 'SELECT 1;'; sleep 9; echo 'COMMIT;'; } |
	sqlite3 "$DB" > /dev/null &
LPID=$!
# until the lock is really held
for _ in $(seq 100); do
	sqlite3 "$DB" 'BEGIN IMMEDIATE; ROLLBACK;' >/dev/null 2>&1 || break
	sleep 0.05
done
t0=$(date +%s)
imp "$R2" 2> "$T/err"; rc=$?
[ "$rc" = 75 ] || fail "locked database: exit $rc, want 75 ($(cat "$T/err"))"
[ $(( $(date +%s) - t0 )) -lt 30 ] || fail "busy exit took too long"
wait "$LPID"; LPID=
imp "$R2"; rc=$?
[ "$rc" = 0 ] || fail "retry after the lock: exit $rc"
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM reports')" = 2 ] || fail "want 2 reports after the retry"

# empty input is not a report, never a crash
"$BIN" --db "$DB" -q import --source pipe - < /dev/null; rc=$?
[ "$rc" = 1 ] || fail "empty input: exit $rc, want 1"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)"; exit 1; }
echo "pipe: all passed"

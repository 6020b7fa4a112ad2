#!/usr/bin/env bash
# spool_watch.sh - `dmarcstat daemon` watching a spool folder and a Maildir
# with inotify: files already there at start are imported, new files are
# imported once and moved to done/ (reports) or failed/ (no report), a
# SIGHUP picks up a new folder from the edited config file, a bad config on
# SIGHUP is refused and the daemon goes on, SIGTERM exits 0; `daemon --once`
# and spool.on_success = delete; retention (records, rollups, raw).
# Env: DMARCSTAT_BIN, DMARCGEN_BIN (optional), DMARCSTAT_SRC.
set -u
BIN=${DMARCSTAT_BIN:?DMARCSTAT_BIN not set}
SRC=${DMARCSTAT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
GEN=${DMARCGEN_BIN:-}
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed"; exit 77; }

T=$(mktemp -d /tmp/dmarcstat-spool.XXXXXX)
FAILS=0
DPID=
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	if [ "$FAILS" -eq 0 ]; then rm -rf "$T"; else echo "kept $T"; fi
}
trap cleanup EXIT
DB=$T/s.db
q() { sqlite3 -cmd '.timeout 5000' "$DB" "$1"; }
# wait_for CMD...: up to 10 s
wait_for() {
	for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
	return 1
}
nfiles() { find "$1" -maxdepth 1 -type f | wc -l; }
empty() { [ "$(nfiles "$1")" = 0 ]; }

MAIL=$T/mail
mkdir -p "$MAIL"
if [ -n "$GEN" ] && [ -x "$GEN" ]; then
	"$GEN" --eml --out "$MAIL" --count 12 --days 6 --seed 3 -q
else
	cp "$SRC"/tests/fixtures/intake/report-*.eml "$MAIL/"
fi
ls "$MAIL" > "$T/list"
NM=$(wc -l < "$T/list")
"$BIN" --db "$T/control.db" -q import "$MAIL" >/dev/null 2>&1
EXPECT=$(sqlite3 "$T/control.db" 'SELECT count(*) FROM reports')

S=$T/spool; M=$T/Maildir; S2=$T/spool2
mkdir -p "$S" "$M/new" "$M/cur" "$M/tmp" "$S2"
# two files before the start: picked up by the initial scan
head -2 "$T/list" | while read -r f; do cp "$MAIL/$f" "$S/"; done

cat > "$T/d.conf" <<EOF
[spool]
dirs = $S, $M
rescan_interval = 2s
[log]
level = debug
[enrich]
enabled = no
EOF
"$BIN" --db "$DB" --config "$T/d.conf" daemon 2> "$T/daemon.log" &
DPID=$!
wait_for empty "$S" || fail "initial scan did not import"
[ "$(nfiles "$S/done")" = 2 ] || fail "initial files not in done/"

# spool: write under a dot name, rename in; Maildir: tmp/ then new/
i=0
sed -n '3,$p' "$T/list" | while read -r f; do
	i=$((i + 1))
	if [ $((i % 2)) = 0 ]; then
		cp "$MAIL/$f" "$S/.$f.tmp" && mv "$S/.$f.tmp" "$S/$f"
	else
		cp "$MAIL/$f" "$M/tmp/$i" && mv "$M/tmp/$i" "$M/new/$i.host"
	fi
done
cp "$SRC/tests/fixtures/intake/not-a-report.eml" "$S/junk.eml"
wait_for empty "$S" || fail "spool not emptied"
wait_for empty "$M/new" || fail "Maildir new/ not emptied"
[ "$(nfiles "$S/failed")" = 1 ] || fail "non-report not in failed/"
[ "$(q 'SELECT count(*) FROM reports')" = "$EXPECT" ] ||
	fail "reports $(q 'SELECT count(*) FROM reports'), want $EXPECT"
[ $(( $(nfiles "$S/done") + $(nfiles "$M/done") )) = "$NM" ] || fail "done/ count"
ok "spool and Maildir: $EXPECT reports, files moved"

# the same file again: a duplicate, moved to done/ under a new name
cp "$MAIL/$(head -1 "$T/list")" "$S/again.eml"
wait_for empty "$S" || fail "duplicate not handled"
[ "$(q 'SELECT count(*) FROM reports')" = "$EXPECT" ] || fail "duplicate stored twice"
[ "$(q "SELECT count(*) FROM ledger WHERE status='duplicate'")" -ge 1 ] || fail "no duplicate ledger row"

# SIGHUP: a broken file is refused; then a good one adds spool2
echo "nonsense = 1" >> "$T/d.conf"
kill -HUP "$DPID"
wait_for grep -q 'event=reload_failed' "$T/daemon.log" || fail "bad reload not reported"
kill -0 "$DPID" || fail "daemon died on a bad reload"
sed -i "s|^dirs = .*|dirs = $S, $M, $S2|; /^nonsense/d" "$T/d.conf"
kill -HUP "$DPID"
wait_for grep -q 'event=reload ' "$T/daemon.log" || fail "reload not logged"
cp "$MAIL/$(sed -n 2p "$T/list")" "$S2/x.eml"
wait_for empty "$S2" || fail "new folder after SIGHUP not watched"
ok "SIGHUP reload"

kill -TERM "$DPID"
wait "$DPID"; rc=$?
DPID=
[ "$rc" = 0 ] || fail "SIGTERM: exit $rc"
grep -q 'event=stopped' "$T/daemon.log" || fail "no stopped event"
# every log line is key=value
grep -v '^ts=[^ ]* level=[a-z]* event=[a-z_]*' "$T/daemon.log" | grep . && fail "log lines not key=value"
ok "SIGTERM"

# --once with on_success = delete
cp "$MAIL/$(sed -n 3p "$T/list")" "$S2/y.eml"
"$BIN" --db "$DB" daemon --once --set "spool.dirs=$S2" --set spool.on_success=delete 2>/dev/null
rc=$?
[ "$rc" = 0 ] || fail "--once: exit $rc"
[ "$(nfiles "$S2")" = 0 ] && [ ! -e "$S2/done/y.eml" ] || fail "--once delete mode"
ok "daemon --once, delete mode"

# retention (daemon --once applies it): old reports go, rollups stay unless told
if [ -n "$GEN" ] && [ -x "$GEN" ]; then
	R=$T/r.db
	"$GEN" --out "$T/old" --count 6 --days 10 --end 2024-01-31 --seed 9 -q
	"$BIN" --db "$R" -q import "$T/old" > /dev/null 2>&1
	"$BIN" --db "$R" -q import "$MAIL" > /dev/null 2>&1
	rq() { sqlite3 -cmd '.timeout 5000' "$R" "$1"; }
	old=$(rq 'SELECT count(*) FROM reports WHERE end_ts < CAST(strftime("%s","now","-12 months") AS INTEGER)')
	all=$(rq 'SELECT count(*) FROM reports')
	daily=$(rq 'SELECT count(*) FROM daily')
	"$BIN" --db "$R" daemon --once --set retention.records_months=12 2>/dev/null ||
		fail "retention run: exit $?"
	[ "$(rq 'SELECT count(*) FROM reports')" = $((all - old)) ] || fail "retention: reports left"
	[ "$(rq 'SELECT count(*) FROM records WHERE report NOT IN (SELECT id FROM reports)')" = 0 ] ||
		fail "retention: orphan records"
	[ "$(rq 'SELECT count(*) FROM daily')" = "$daily" ] || fail "retention: rollups not kept"
	"$BIN" --db "$R" daemon --once --set retention.records_months=12 \
		--set retention.keep_rollups=no 2>/dev/null
	[ "$(rq 'SELECT count(*) FROM daily WHERE day < CAST(strftime("%s","now","-12 months") AS INTEGER)')" = 0 ] || fail "retention: old rollups kept"
	"$BIN" --db "$R" daemon --once --set retention.raw_days=1 2>/dev/null
	[ "$(rq 'SELECT count(*) FROM raw_inputs')" -gt 0 ] || fail "retention: fresh raw deleted"
	[ "$(rq 'PRAGMA integrity_check')" = ok ] || fail "retention: database damaged"
	ok "retention: $old old reports deleted, rollups kept, then dropped"
fi

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)"; tail -30 "$T/daemon.log"; exit 1; }
echo "spool_watch: all passed"

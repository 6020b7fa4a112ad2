#!/usr/bin/env bash
# serve_intake.sh - `dmarcstat serve` as the one intake process: the web
# server, the HTTP intake endpoints, the spool watcher and (when Dovecot is
# installed) an IMAP mailbox on a loopback Dovecot, configured by one file.
#
#   1. everything at once: reports POSTed to /api/v1/intake (raw body and
#      multipart) with the bearer token, refused without it or with a wrong
#      one (401); TLS reports POSTed to /tlsrpt (JSON and gzip); files
#      dropped into the spool folder; mail APPENDed to Dovecot.  Every report
#      lands once (the same set as a control import), the ledger shows every
#      input with its origin, /api/mailboxes the mailbox and the folder,
#      /healthz and the /metrics counters agree, logs are key=value lines.
#   2. SIGHUP: a new token (argon2 hash) and a second spool folder apply, a
#      broken file is refused and the old settings stay.
#   3. SIGTERM while an upload is in flight: the upload is answered 200 and
#      committed, the process exits 0.
#   4. kill -9 during uploads, spool imports and a mailbox fetch, restarted
#      again and again: whatever was acknowledged (2xx, moved to done/) is
#      stored; after retries of the unacknowledged uploads every report is
#      stored exactly once, the spool and the INBOX are empty.
#
# Env: DMARCSTAT_BIN, DMARCGEN_BIN, DMARCSTAT_SRC.  Exit 77 (skip) without
# curl, sqlite3, gzip, python3 or dmarcgen; the mailbox parts are skipped
# without dovecot.
set -u
BIN=${DMARCSTAT_BIN:?DMARCSTAT_BIN not set}
SRC=${DMARCSTAT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
GEN=${DMARCGEN_BIN:-}
for t in curl sqlite3 gzip sha256sum python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "skip: $t not installed"; exit 77; }
done
[ -n "$GEN" ] && [ -x "$GEN" ] || { echo "skip: dmarcgen not built"; exit 77; }
PATH=$PATH:/usr/sbin
IMAP_ON=1
command -v dovecot >/dev/null 2>&1 || IMAP_ON=0

T=$(mktemp -d /tmp/dmarcstat-serve.XXXXXX)
chmod 755 "$T"
FAILS=0
SPID=
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
wait_for() {	# wait_for CMD...: up to 15 s
	for _ in $(seq 150); do "$@" && return 0; sleep 0.1; done
	return 1
}
DB=$T/serve.db
q() { sqlite3 -cmd '.timeout 5000' "$DB" "$1"; }
nfiles() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }
empty() { [ "$(nfiles "$1")" = 0 ]; }

# ---- Dovecot on loopback ----
. "$SRC/tests/lib/dovecot.sh"
DV_DIR=$T          # dovecot_stop is a no-op until dovecot_setup ran
if [ "$IMAP_ON" = 1 ]; then
	USER_=reports@example.com
	PASS='s3cret pass'
	dovecot_setup "$T" "$USER_" "$PASS"
	if ! dovecot_start; then
		echo "note: dovecot did not start; mailbox parts skipped"
		cat "$T/dovecot.log" 2>/dev/null
		IMAP_ON=0
	fi
fi
IMAP="imap://127.0.0.1:${PORT:-0}"
append() { curl -sS --user "$USER_:$PASS" -T "$1" "$IMAP/${2:-INBOX}" >/dev/null; }
count() {
	curl -sS --user "$USER_:$PASS" "$IMAP/" -X "STATUS \"$1\" (MESSAGES)" 2>/dev/null |
		sed -n 's/.*MESSAGES \([0-9]*\).*/\1/p'
}

stop_serve() {
	[ -n "$SPID" ] || return 0
	kill -TERM "$SPID" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=
}
cleanup() {
	[ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	dovecot_stop
	if [ "$FAILS" -eq 0 ]; then rm -rf "$T"; else echo "kept $T"; fi
}
trap cleanup EXIT

# ---- inputs ----
MAIL=$T/mail; MAIL2=$T/mail2
mkdir -p "$MAIL" "$MAIL2"
"$GEN" --eml --out "$MAIL" --count 60 --days 30 --seed 21 -q || fail "dmarcgen"
"$GEN" --eml --out "$MAIL2" --count 240 --days 60 --seed 22 --end 2025-12-31 -q || fail "dmarcgen 2"
ls "$MAIL" | sort > "$T/list"
part() { sed -n "$1,$2p" "$T/list"; }     # part FROM TO: file names
# control: what the whole set holds
"$BIN" --db "$T/control.db" -q import "$MAIL" "$MAIL2" >/dev/null 2>&1
sqlite3 "$T/control.db" 'SELECT dedup_key FROM reports ORDER BY 1' > "$T/control.keys"
EXPECT_ALL=$(wc -l < "$T/control.keys")
expect_of() {	# expect_of FILE...: distinct reports in these inputs
	rm -f "$T/x.db"
	"$BIN" --db "$T/x.db" -q import "$@" >/dev/null 2>&1
	sqlite3 "$T/x.db" 'SELECT count(*) FROM reports'
}

TOKEN=first-token-$RANDOM$RANDOM-intake
HASH=sha256:$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
S=$T/spool; S2=$T/spool2
mkdir -p "$S" "$S2"
export DS_IMAP_PASSWORD=${PASS:-}
write_conf() {	# write_conf TOKEN_HASH SPOOL_DIRS
	{
		echo "database = $DB"
		echo "[web]"
		echo "listen = 127.0.0.1:$WPORT"
		echo "[intake]"
		echo "token_hash = $1"
		echo "[spool]"
		echo "dirs = $2"
		echo "rescan_interval = 2s"
		echo "[enrich]"
		echo "enabled = no"
		echo "[log]"
		echo "level = debug"
		echo "[imap]"
		echo "batch = 7"
		echo "poll_interval = 10s"
		if [ "$IMAP_ON" = 1 ]; then
			echo "[mailbox box]"
			echo "url = imap://127.0.0.1:$PORT/"
			echo "user = $USER_"
			echo "password_env = DS_IMAP_PASSWORD"
			echo "starttls = no"
			echo "allow_plaintext = yes"
		fi
	} > "$T/serve.conf.new"
	mv "$T/serve.conf.new" "$T/serve.conf"
}
WPORT=$(free_port)
write_conf "$HASH" "$S"

B=
start_serve() {	# start_serve LOGSUFFIX: serve on a free port (web.listen)
	for _ in 1 2 3 4 5; do
		WPORT=$(free_port)
		sed -i "s|^listen = .*|listen = 127.0.0.1:$WPORT|" "$T/serve.conf"
		: > "$T/serve.out"
		"$BIN" --config "$T/serve.conf" serve >"$T/serve.out" 2>>"$T/serve.err$1" &
		SPID=$!
		for _ in $(seq 100); do
			B=$(sed -n 's|^dmarcstat: dashboard at \(http://[^ ]*\)/$|\1|p' "$T/serve.out")
			[ -n "$B" ] && return 0
			kill -0 "$SPID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=
	done
	fail "serve did not start"; cat "$T/serve.err$1"; exit 1
}
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
label() { printf '%s' "$1" | tr -c 'A-Za-z0-9.!_-' '_'; }   # ?name= without escapes
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
metric() {	# metric NAME SOURCE [MAILBOX]: the sample's value, 0 when absent
	curl -s "$B/metrics" | awk -v k="$1{source=\"$2\",mailbox=\"${3:-}\"}" '$1 == k { v = $2 } END { print v + 0 }'
}

# ======== 1. every path at once ========
if [ "$IMAP_ON" = 1 ]; then
	part 31 45 | while read -r f; do append "$MAIL/$f" || echo "APPEND $f failed"; done
	append "$SRC/tests/fixtures/intake/not-a-report.eml"
	[ "$(count INBOX)" = 16 ] || fail "INBOX should hold 16 messages"
fi
part 16 20 | while read -r f; do cp "$MAIL/$f" "$S/"; done   # there before the start
start_serve ""
ok "serve started at $B (web.listen from the config)"
[ "$(code "$B/healthz")" = 200 ] || fail "/healthz"
curl -s "$B/healthz" | grep -q '"ok"' || fail "/healthz body"

# uploads: raw bodies and one multipart request
up_codes=
for f in $(part 1 10); do
	c=$(code -H "Authorization: Bearer $TOKEN" -H 'Content-Type: message/rfc822' \
		--data-binary "@$MAIL/$f" "$B/api/v1/intake?name=$(label "$f")")
	up_codes="$up_codes$c "
done
[ "$up_codes" = "$(printf '200 %.0s' $(seq 10))" ] || fail "raw uploads: $up_codes"
args=()
for f in $(part 11 15); do args+=(-F "file=@$MAIL/$f"); done
curl -s -H "Authorization: Bearer $TOKEN" "${args[@]}" "$B/api/v1/intake" > "$T/multi.json"
[ "$(json 'd["status"], d["inputs"]' < "$T/multi.json")" = "ok 5" ] || fail "multipart upload: $(cat "$T/multi.json")"
f1=$(part 1 1)
[ "$(code --data-binary "@$MAIL/$f1" "$B/api/v1/intake")" = 401 ] || fail "upload without token not 401"
[ "$(code -H "Authorization: Bearer wrong$TOKEN" --data-binary "@$MAIL/$f1" "$B/api/v1/intake")" = 401 ] ||
	fail "upload with a wrong token not 401"
[ "$(code -X GET -H "Authorization: Bearer $TOKEN" "$B/api/v1/intake")" = 405 ] || fail "GET intake not 405"
# the same report again: acknowledged, a duplicate, not stored twice
curl -s -H "Authorization: Bearer $TOKEN" --data-binary "@$MAIL/$f1" "$B/api/v1/intake?name=again" > "$T/dup.json"
[ "$(json 'd["status"], d["duplicates"]' < "$T/dup.json")" = "ok 1" ] || fail "duplicate upload: $(cat "$T/dup.json")"
# intake answers whatever Host a script or proxy sends; the dashboard does not
[ "$(code -H 'Host: dmarc.example.com' "$B/healthz")" = 200 ] || fail "/healthz with a public Host"
[ "$(code -H 'Host: evil.example' "$B/api/ledger")" = 421 ] || fail "dashboard API with a foreign Host not 421"
ok "upload API: token, multipart, raw, duplicate, 401"

# TLS reports
tls='{"organization-name":"Example Org","date-range":{"start-datetime":"2026-06-01T00:00:00Z","end-datetime":"2026-06-01T23:59:59Z"},"contact-info":"tlsrpt@example.org","report-id":"tls-1","policies":[]}'
[ "$(code -H 'Content-Type: application/tlsrpt+json' --data "$tls" "$B/tlsrpt")" = 200 ] || fail "tlsrpt json"
printf '%s' "${tls/tls-1/tls-2}" | gzip > "$T/tls.json.gz"
[ "$(code -H 'Content-Type: application/tlsrpt+gzip' --data-binary "@$T/tls.json.gz" "$B/tlsrpt")" = 200 ] || fail "tlsrpt gzip"
[ "$(code -H 'Content-Type: text/plain' --data "$tls" "$B/tlsrpt")" = 415 ] || fail "tlsrpt wrong type not 415"
ok "TLS reports"

# spool: written under a dot name and renamed in
for f in $(part 21 30); do cp "$MAIL/$f" "$S/.$f.tmp" && mv "$S/.$f.tmp" "$S/$f"; done
cp "$SRC/tests/fixtures/intake/not-a-report.eml" "$S/junk.eml"
wait_for empty "$S" || fail "spool not emptied"
[ "$(nfiles "$S/done")" = 15 ] || fail "spool done/: $(nfiles "$S/done") want 15"
[ "$(nfiles "$S/failed")" = 1 ] || fail "spool failed/: $(nfiles "$S/failed") want 1"
ok "spool"

if [ "$IMAP_ON" = 1 ]; then
	wait_for test "$(count INBOX)" = 0 || fail "INBOX not emptied: $(count INBOX)"
	[ "$(count Processed)" = 15 ] || fail "Processed: $(count Processed) want 15"
	[ "$(count Invalid)" = 1 ] || fail "Invalid: $(count Invalid) want 1"
	ok "mailbox fetched and moved"
	mfiles=$(part 31 45 | sed "s|^|$MAIL/|")
else
	mfiles=
fi

# every report once: the same set as a control import of the same inputs
# shellcheck disable=SC2046
want=$(expect_of $(part 1 30 | sed "s|^|$MAIL/|") $mfiles)
got=$(q 'SELECT count(*) FROM reports')
[ "$got" = "$want" ] || fail "reports $got, want $want"
[ "$(q "SELECT count(*) FROM ledger WHERE status='imported' AND kind='aggregate'")" = "$got" ] ||
	fail "ledger imported rows differ from reports"
[ "$(q "SELECT count(*) FROM ledger WHERE kind='smtp_tls' AND status='unsupported'")" = 2 ] || fail "TLS ledger rows"
[ "$(q "SELECT count(*) FROM raw_inputs")" -gt 0 ] || fail "no raw originals"
ok "every report stored once ($got)"

# the dashboard's view of it
curl -s "$B/api/ledger?limit=1" > "$T/l.json"
o=$(json '" ".join(str(d["origins"][k]) for k in ["upload","spool","mailbox","pipe"])' < "$T/l.json")
set -- $o
[ "$1" -ge 18 ] || fail "ledger origin upload: $1"
[ "$2" -ge 16 ] || fail "ledger origin spool: $2"
if [ "$IMAP_ON" = 1 ]; then [ "$3" -ge 16 ] || fail "ledger origin mailbox: $3"; fi
n=$(curl -s "$B/api/ledger?origin=spool&limit=1000" | json 'len([e for e in d["entries"] if e["origin"] != "spool"]), d["total"]')
[ "$n" = "0 $2" ] || fail "ledger origin=spool filter: $n"
[ "$(code "$B/api/ledger?origin=nonsense")" = 400 ] || fail "bad origin not 400"
# a mailbox polled once but no longer in the config file
q "INSERT INTO imap_state (mailbox, folder, last_uid, last_poll, last_success, last_error, fetched) VALUES ('aa-gone', 'INBOX', 3, 100, 90, 'gone', 3)"
curl -s "$B/api/mailboxes" > "$T/mb.json"
[ "$(json 'd["spool"][0]["state"], d["spool"][0]["pending"], d["spool"][0]["failed"], d["spool"][0]["last_import"] is not None' < "$T/mb.json")" = "ok 0 1 True" ] ||
	fail "mailboxes: spool status $(cat "$T/mb.json")"
if [ "$IMAP_ON" = 1 ]; then
	[ "$(json 'd["mailboxes"][0]["name"], d["mailboxes"][0]["state"], d["mailboxes"][0]["fetched"], d["mailboxes"][0]["last_error"]' < "$T/mb.json")" = "box ok 16 None" ] ||
		fail "mailboxes: mailbox status $(cat "$T/mb.json")"
	grep -q "$PASS" "$T/mb.json" && fail "password in /api/mailboxes"
	[ "$(json '[(m["name"], m["state"], m["configured"]) for m in d["mailboxes"]][1:]' < "$T/mb.json")" = "[('aa-gone', 'removed', False)]" ] ||
		fail "mailboxes: a removed mailbox $(cat "$T/mb.json")"
	mbn=$(curl -s "$B/api/ledger?mailbox=box&limit=1000" | json 'd["total"], all(e["source"] == "imap" for e in d["entries"])')
	[ "$mbn" = "$3 True" ] || fail "ledger mailbox=box filter: $mbn"
fi
ok "ledger origins and mailbox panel API"

# metrics
up_imp=$(q "SELECT count(*) FROM ledger WHERE source='upload' AND status='imported'")
[ "$(metric dmarcstat_reports_imported_total upload)" = "$up_imp" ] || fail "metrics: upload imported $(metric dmarcstat_reports_imported_total upload) want $up_imp"
[ "$(metric dmarcstat_reports_duplicate_total upload)" -ge 1 ] || fail "metrics: upload duplicate"
[ "$(metric dmarcstat_inputs_unsupported_total tlsrpt)" = 2 ] || fail "metrics: tlsrpt"
[ "$(metric dmarcstat_inputs_not_report_total spool)" = 1 ] || fail "metrics: spool not a report"
sp_imp=$(q "SELECT count(*) FROM ledger WHERE source='spool' AND status='imported'")
[ "$(metric dmarcstat_reports_imported_total spool)" = "$sp_imp" ] || fail "metrics: spool imported"
if [ "$IMAP_ON" = 1 ]; then
	[ "$(metric dmarcstat_messages_fetched_total imap box)" = 16 ] || fail "metrics: fetched $(metric dmarcstat_messages_fetched_total imap box)"
	[ "$(metric dmarcstat_mailbox_up imap box)" = 1 ] || fail "metrics: mailbox up"
	[ "$(metric dmarcstat_mailbox_last_success_timestamp_seconds imap box)" -gt 0 ] || fail "metrics: last success"
fi
curl -s "$B/metrics" | grep -q '^dmarcstat_up 1$' || fail "metrics: dmarcstat_up"
ok "/metrics counters"

# logs: one key=value line per event
for ev in http_start start upload upload_unauthorized tlsrpt spool; do
	grep -q "^ts=[^ ]* level=[a-z]* event=$ev\( \|$\)" "$T/serve.err" || fail "no event=$ev log line"
done
[ "$IMAP_ON" = 1 ] && { grep -q "event=imap_poll .*mailbox=box" "$T/serve.err" || fail "no imap_poll line"; }
grep -q "$TOKEN" "$T/serve.err" && fail "token in the log"
ok "key=value logs"

# ======== 2. SIGHUP ========
TOKEN2=second-token-$RANDOM$RANDOM-intake
HASH2=$(printf '%s' "$TOKEN2" | "$BIN" config --hash-token 2>/dev/null)
case $HASH2 in '$argon2'*) ;; *) fail "config --hash-token: $HASH2"; HASH2=sha256:$(printf '%s' "$TOKEN2" | sha256sum | cut -d' ' -f1) ;; esac
cp "$T/serve.conf" "$T/serve.conf.good"
echo "nonsense = 1" >> "$T/serve.conf"
kill -HUP "$SPID"
wait_for grep -q 'event=reload_failed' "$T/serve.err" || fail "broken config not refused"
[ "$(code -H "Authorization: Bearer $TOKEN" --data-binary "@$MAIL/$f1" "$B/api/v1/intake")" = 200 ] ||
	fail "old token refused after a failed reload"
write_conf "$HASH2" "$S, $S2"
kill -HUP "$SPID"
wait_for grep -q 'event=reload ' "$T/serve.err" || fail "no reload line"
wait_for test "$(curl -s "$B/api/mailboxes" | json 'len(d["spool"])')" = 2 || fail "mailbox panel: second spool folder missing"
[ "$(code -H "Authorization: Bearer $TOKEN" --data-binary "@$MAIL/$f1" "$B/api/v1/intake")" = 401 ] ||
	fail "old token accepted after the reload"
f2=$(part 2 2)
[ "$(code -H "Authorization: Bearer $TOKEN2" --data-binary "@$MAIL/$f2" "$B/api/v1/intake")" = 200 ] ||
	fail "new token refused after the reload"
for f in $(part 46 50); do cp "$MAIL/$f" "$S2/.t" && mv "$S2/.t" "$S2/$f"; done
wait_for empty "$S2" || fail "second spool folder not watched after SIGHUP"
[ "$(nfiles "$S2/done")" = 5 ] || fail "spool2 done/"
ok "SIGHUP: new token, new folder; a broken file refused"
TOKEN=$TOKEN2

# ======== 3. SIGTERM drains an upload in flight ========
args=()
for f in $(part 51 60); do args+=(-F "file=@$MAIL/$f"); done
curl -s -o "$T/slow.json" -w '%{http_code}' --limit-rate 16k -H "Authorization: Bearer $TOKEN" \
	"${args[@]}" "$B/api/v1/intake" > "$T/slow.code" &
cpid=$!
sleep 0.7
kill -TERM "$SPID"
wait "$SPID"; rc=$?
SPID=
wait "$cpid"
[ "$rc" = 0 ] || fail "SIGTERM: exit $rc"
[ "$(cat "$T/slow.code")" = 200 ] || fail "upload in flight at SIGTERM: $(cat "$T/slow.code") $(cat "$T/slow.json")"
# shellcheck disable=SC2046
w=$(expect_of $(part 51 60 | sed "s|^|$MAIL/|"))
[ "$(json 'd["imported"] + d["duplicates"]' < "$T/slow.json")" = "$w" ] || fail "drained upload: $(cat "$T/slow.json")"
grep -q 'event=stopped' "$T/serve.err" || fail "no stopped line"
ok "SIGTERM: in-flight upload answered and committed, exit 0"

# ======== 4. kill -9 at any moment: nothing acknowledged lost, nothing doubled ========
# Eight rounds; each brings new work (15 uploads, 10 spool files, 5 mails),
# starts serve, retries the uploads not yet acknowledged, and kills it
# 10..300 ms later, in the middle of whatever it was doing.
ls "$MAIL2" | sort > "$T/list2"
: > "$T/acked"; : > "$T/k_up"; : > "$T/k_sp"; : > "$T/k_im"
check_acked() {	# every 2xx upload and every file in done/ is stored
	sort -u "$T/acked" | while read -r f; do
		n=$(q "SELECT count(*) FROM ledger WHERE source='upload' AND input='upload $(label "$f") from 127.0.0.1' AND status IN ('imported','duplicate')")
		[ "$n" -ge 1 ] || echo "lost: upload $f"
	done > "$T/lost"
	for f in "$S"/done/*; do
		[ -e "$f" ] || continue
		n=$(q "SELECT count(*) FROM ledger WHERE input='$S/$(basename "$f")' AND status IN ('imported','duplicate')")
		[ "$n" -ge 1 ] || echo "lost: spool $(basename "$f")"
	done >> "$T/lost"
	[ -s "$T/lost" ] && { fail "$1: acknowledged but not stored"; cat "$T/lost"; }
}
upload_rest() {	# upload_rest: every upload not yet acknowledged, in parallel
	while read -r f; do
		grep -qxF "$f" "$T/acked" && continue
		( c=$(code -m 20 -H "Authorization: Bearer $TOKEN" --data-binary "@$MAIL2/$f" \
			"$B/api/v1/intake?name=$(label "$f")")
		  [ "$c" = 200 ] && echo "$f" >> "$T/acked" ) &
	done < "$T/k_up"
}
kills=0
for round in 1 2 3 4 5 6 7 8; do
	base=$(( (round - 1) * 30 ))
	sed -n "$((base + 1)),$((base + 15))p" "$T/list2" >> "$T/k_up"
	sed -n "$((base + 16)),$((base + 25))p" "$T/list2" | tee -a "$T/k_sp" |
		while read -r f; do cp "$MAIL2/$f" "$S/"; done
	sed -n "$((base + 26)),$((base + 30))p" "$T/list2" >> "$T/k_im"
	if [ "$IMAP_ON" = 1 ]; then
		sed -n "$((base + 26)),$((base + 30))p" "$T/list2" |
			while read -r f; do append "$MAIL2/$f"; done
	fi
	start_serve ".k"
	upload_rest
	sleep "$(printf '0.%02d' $((RANDOM % 30 + 1)))"
	kill -9 "$SPID" && kills=$((kills + 1))
	wait "$SPID" 2>/dev/null
	SPID=
	wait
	check_acked "round $round"
	left="spool left $(nfiles "$S")/$(wc -l < "$T/k_sp")"
	[ "$IMAP_ON" = 1 ] && left="$left, INBOX left $(count INBOX)/$(wc -l < "$T/k_im")"
	echo "round $round: uploads acknowledged $(sort -u "$T/acked" | wc -l)/$(wc -l < "$T/k_up"), $left"
done
# a last run without killing: retries the rest
start_serve ".k"
upload_rest
wait_for empty "$S" || fail "spool not emptied after the restarts"
if [ "$IMAP_ON" = 1 ]; then
	wait_for test "$(count INBOX)" = 0 || fail "INBOX not emptied after the restarts: $(count INBOX)"
fi
for _ in $(seq 100); do jobs -pr | grep -vx "$SPID" | grep -q . || break; sleep 0.1; done
stop_serve
wait
check_acked "at the end"
[ "$(sort -u "$T/acked" | wc -l)" = 120 ] || fail "uploads acknowledged: $(sort -u "$T/acked" | wc -l) of 120"
q 'SELECT dedup_key FROM reports ORDER BY 1' > "$T/got.keys"
if [ "$IMAP_ON" = 1 ]; then
	# every input of MAIL and MAIL2 went in by one path or another
	cmp -s "$T/got.keys" "$T/control.keys" || fail "reports differ from the control import ($(wc -l < "$T/got.keys") vs $EXPECT_ALL)"
else
	# without Dovecot the mailbox shares never went in
	# shellcheck disable=SC2046
	w=$(expect_of $( (part 1 30; part 46 60) | sed "s|^|$MAIL/|") \
		$(cat "$T/k_up" "$T/k_sp" | sed "s|^|$MAIL2/|"))
	[ "$(wc -l < "$T/got.keys")" = "$w" ] || fail "reports $(wc -l < "$T/got.keys") want $w"
fi
[ "$(q 'PRAGMA integrity_check')" = ok ] || fail "database integrity"
[ "$(q "SELECT count(*) FROM ledger WHERE status='imported' AND kind='aggregate'")" = "$(wc -l < "$T/got.keys")" ] ||
	fail "a report imported twice in the ledger"
[ "$(nfiles "$S")" = 0 ] || fail "files left in the spool"
echo "kills=$kills reports=$(wc -l < "$T/got.keys") control=$EXPECT_ALL imap=$IMAP_ON"
ok "kill -9: nothing acknowledged lost, nothing doubled"

[ "$IMAP_ON" = 1 ] || echo "note: the mailbox parts were skipped (no dovecot)"
[ "$FAILS" -eq 0 ] && echo "all ok"
exit $((FAILS > 0))

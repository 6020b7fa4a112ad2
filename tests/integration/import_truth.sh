#!/usr/bin/env bash
# import_truth.sh - the importer against generated reports with known
# totals (dmarcgen's truth file), through every container at once (bare
# gz/zip files, .eml mails, an mbox) and the two-thread pipeline:
#   1. first import: reports, records and messages equal the truth, and the
#      per-day rollup holds exactly the messages (counts, never rows);
#   2. second import: nothing new, every report a duplicate;
#   3. reparse from the kept originals: the same totals again;
#   4. the same inputs in one thread give the same database content;
#   5. a subset packed in a .tar.bz2 and in .bz2 files: the same totals;
#   6. the CLI finds a report by (a part of) its Report-ID.
set -euo pipefail
BIN=${DMARCSTAT_BIN:?}
GEN=${DMARCGEN_BIN:-}
SRC=${DMARCSTAT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
[ -x "$GEN" ] || { echo "skip: dmarcgen not built"; exit 77; }
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed"; exit 77; }
T=$(mktemp -d /tmp/dmarcstat-truth.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$GEN" --out "$T/in" --count 600 --mixed --mbox "$T/in/all.mbox" --seed 7 \
	--truth "$T/truth.json" -q
read -r want_reports want_records want_messages < <(python3 -c "
import json; t = json.load(open('$T/truth.json'))['totals']
print(t['reports'], t['records'], t['messages'])")

totals() {	# DB -> "reports records messages daily_messages"
	sqlite3 -separator ' ' "$1" "SELECT count(*), coalesce(sum(n_records),0),
	    coalesce(sum(msg_total),0), (SELECT coalesce(sum(messages),0) FROM daily)
	    FROM reports"
}

rc=0; "$BIN" --db "$T/a.db" -q import --no-progress "$T/in" || rc=$?
[ $rc = 0 ] || fail "first import exit $rc"
read -r r n m d < <(totals "$T/a.db")
[ "$r $n $m" = "$want_reports $want_records $want_messages" ] ||
	fail "stored $r reports, $n records, $m messages; truth $want_reports $want_records $want_messages"
[ "$d" = "$want_messages" ] || fail "daily rollup holds $d messages, want $want_messages"

out=$("$BIN" --db "$T/a.db" --json import --no-progress "$T/in")
python3 - "$out" "$want_reports" <<'PY' || fail "second import was not all duplicates: $out"
import json, sys
s = json.loads(sys.argv[1]); want = int(sys.argv[2])
assert s["imported"] == 0 and s["duplicates"] >= want, s
PY
read -r r2 n2 m2 d2 < <(totals "$T/a.db")
[ "$r2 $n2 $m2 $d2" = "$r $n $m $d" ] || fail "second import changed the totals"

# reports.msg_fail is what the records say, after import and after reparse
msgfail_ok() {
	[ "$(sqlite3 "$1" "SELECT count(*) FROM reports p WHERE msg_fail<>(SELECT coalesce(sum(count),0)
	    FROM records WHERE report=p.id AND dmarc<>'pass')")" = 0 ] &&
		[ "$(sqlite3 "$1" "SELECT sum(msg_fail)>0 FROM reports")" = 1 ]
}
msgfail_ok "$T/a.db" || fail "reports.msg_fail differs from the records"
"$BIN" --db "$T/a.db" -q reparse || fail "reparse exit $?"
msgfail_ok "$T/a.db" || fail "after reparse: reports.msg_fail differs from the records"
read -r r3 n3 m3 d3 < <(totals "$T/a.db")
[ "$r3 $n3 $m3 $d3" = "$r $n $m $d" ] ||
	fail "after reparse: $r3 $n3 $m3 $d3, before: $r $n $m $d"

DMARCSTAT_THREADS=1 "$BIN" --db "$T/b.db" -q import --no-progress "$T/in" || true
q="SELECT policy_domain, day, source_ip, org_name, header_from, disposition,
    dkim_eval, spf_eval, messages FROM daily ORDER BY 1,2,3,4,5,6,7,8"
[ "$(sqlite3 "$T/a.db" "$q" | md5sum)" = "$(sqlite3 "$T/b.db" "$q" | md5sum)" ] ||
	fail "one thread and two threads built different rollups"

# 5. the same files inside a .tar.bz2 and one by one in bzip2: the same
#    totals as the bare files, and again after reparse from the originals
if command -v bzip2 >/dev/null; then
	mkdir -p "$T/packed" "$T/bare"
	# (no `| head` under pipefail: the writer's SIGPIPE would fail the test)
	mapfile -t files < <(cd "$T/in" && find . -maxdepth 1 -type f \( -name '*.gz' -o -name '*.zip' \) | sort)
	files=("${files[@]:0:40}")
	(cd "$T/in" && cp "${files[@]}" "$T/bare/" && tar cjf "$T/packed/set.tar.bz2" "${files[@]}")
	for f in "${files[@]:0:5}"; do
		bzip2 -c "$T/bare/${f#./}" > "$T/packed/${f#./}.bz2"
	done
	"$BIN" --db "$T/bare.db" -q import --no-progress "$T/bare" || fail "bare import exit $?"
	rc=0; "$BIN" --db "$T/packed.db" -q import --no-progress "$T/packed" || rc=$?
	[ $rc = 0 ] || fail "tar.bz2 / bz2 import exit $rc"
	read -r r n m d < <(totals "$T/bare.db")
	[ "$r" -ge 30 ] || fail "bare subset holds only $r reports"
	[ "$(totals "$T/packed.db")" = "$r $n $m $d" ] ||
		fail "tar.bz2 / bz2: $(totals "$T/packed.db"), bare files: $r $n $m $d"
	[ "$(sqlite3 "$T/packed.db" "SELECT count(*) FROM ledger WHERE status='duplicate'")" -ge 5 ] ||
		fail "the bz2 copies were not seen as duplicates"
	"$BIN" --db "$T/packed.db" -q reparse || fail "reparse of tar.bz2 exit $?"
	[ "$(totals "$T/packed.db")" = "$r $n $m $d" ] || fail "tar.bz2 after reparse: $(totals "$T/packed.db")"
else
	echo "note: bzip2 missing, packed inputs not checked"
fi

# 6. the CLI finds a report by its Report-ID: `reports --report-id` (a
#    part, any case) and `show` (the whole ID, any case); an ID two reports
#    share lists both and exits 2
rid=$(sqlite3 "$T/a.db" "SELECT report_id FROM reports GROUP BY lower(report_id) HAVING count(*)=1 ORDER BY id LIMIT 1")
num=$(sqlite3 "$T/a.db" "SELECT id FROM reports WHERE report_id='$rid'")
up=$(tr '[:lower:]' '[:upper:]' <<<"$rid")
out=$("$BIN" --db "$T/a.db" --json reports --report-id "${up:1:8}")
python3 - "$out" "$num" <<'PY' || fail "reports --report-id ${up:1:8} did not list report $num: $out"
import json, sys
assert int(sys.argv[2]) in [r["id"] for r in json.loads(sys.argv[1])]
PY
out=$("$BIN" --db "$T/a.db" --json show "$up") || fail "show $up: exit $?"
[ "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$out")" = "$num" ] ||
	fail "show $up did not show report $num"
sed 's|<org_name>[^<]*</org_name>|<org_name>second.example</org_name>|' \
	"$SRC/tests/fixtures/containers/report.xml" > "$T/second.xml"
"$BIN" --db "$T/shared.db" -q import "$SRC/tests/fixtures/containers/report.xml" "$T/second.xml" ||
	fail "import of two reports sharing an ID"
rc=0; out=$("$BIN" --db "$T/shared.db" show R-0001 2>"$T/shared.err") || rc=$?
[ $rc = 2 ] && grep -q "several reports" "$T/shared.err" && [ "$(grep -c 'r-0001' <<<"$out")" = 2 ] ||
	fail "show of a shared Report-ID: exit $rc, $(cat "$T/shared.err") $out"
rc=0; "$BIN" --db "$T/shared.db" show no-such-id 2>/dev/null || rc=$?
[ $rc = 1 ] || fail "show of an unknown Report-ID: exit $rc, want 1"

echo "import_truth: $want_reports reports, $want_records records, $want_messages messages"
[ $fails = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
[ $fails = 0 ]

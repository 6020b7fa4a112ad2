#!/usr/bin/env bash
# web_api.sh - the JSON API and the HTTP server against a real
# `dmarcstat serve` on loopback (random high port) over the web fixtures:
# every endpoint, numbers checked against sqlite3, errors as JSON with the
# right status, security headers, ETag/304, gzip, upload, path traversal,
# graceful shutdown on SIGTERM.  Sender intelligence: senders, classified
# sources (filters, sorting, paging), countries, readiness, rules (CSRF
# guard, validation, immediate reclassification), catalog; and the
# background enrichment of `serve` against dnsmasq on loopback (when
# installed): an uploaded report's new IP gets its host name.
set -euo pipefail
BIN=${DMARCSTAT_BIN:?}
SRC=${DMARCSTAT_SRC:?}
command -v curl >/dev/null || { echo "curl missing"; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 missing"; exit 77; }
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
T=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
no() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else no "$1"; fi; }

DB=$T/w.db
"$BIN" --db "$DB" -q import "$SRC/tests/fixtures/web/reports" >/dev/null 2>&1 || true
[ "$(sqlite3 "$DB" 'select count(*) from reports')" -gt 100 ] || { echo "import failed"; exit 1; }

. "$SRC/tests/lib/serve.sh"
start() {	# start [extra args]: serve on a random free port
	serve_start "$T/serve" env DMARCSTAT_NOW=1782885600 "$BIN" --db "$DB" serve "$@" ||
		{ echo "server did not start"; cat "$T/serve.err"; exit 1; }
	PID=$SPID
}
start --no-enrich
B=http://127.0.0.1:$PORT
J() { curl -s "$B/api/$1"; }
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

S=1780272000; U=1782864000   # June 2026 UTC
Q="since=$S&until=$U"
check "health" '[ "$(J health | jq_ "d[\"ok\"]")" = True ]'
check "meta lists 3 domains" '[ "$(J meta | jq_ "len(d[\"domains\"])")" = 3 ]'
check "meta now is DMARCSTAT_NOW" '[ "$(J meta | jq_ "d[\"now\"]")" = 1782885600 ]'

# Numbers are sums of messages from the rollup, the same as SQL over records.
want=$(sqlite3 "$DB" "select sum(count) from records r join reports p on p.id=r.report where p.policy_domain='example.com'")
got=$(J "overview?$Q" | jq_ "[x for x in d['domains'] if x['domain']=='example.com'][0]['messages']")
check "overview messages = sum(count) ($want)" '[ "$got" = "$want" ]'
wantf=$(sqlite3 "$DB" "select sum(count) from records r join reports p on p.id=r.report where p.policy_domain='example.com' and r.dmarc<>'pass'")
gotf=$(J "overview?$Q" | jq_ "[x for x in d['domains'] if x['domain']=='example.com'][0]['fail']")
check "overview failing = sum(count) where dmarc fails ($wantf)" '[ "$gotf" = "$wantf" ]'
# The in-memory copy of daily (store/dashmem.c) is built in the background;
# answers are the same with and without it.
before=$(J "sources?$Q&limit=1000&sort=ip&order=asc")
beforeo=$(J "overview?$Q")
for _ in $(seq 100); do [ "$(J health | jq_ 'd["dashmem"]["state"]')" = ready ] && break; sleep 0.1; done
check "dashmem copy ready" '[ "$(J health | jq_ "d[\"dashmem\"][\"state\"]")" = ready ]'
check "dashmem holds every daily row" '[ "$(J health | jq_ "d[\"dashmem\"][\"rows\"]")" = "$(sqlite3 "$DB" "select count(*) from daily")" ]'
# and the copy of the records for the sender views (store/recmem.c)
for _ in $(seq 100); do [ "$(J health | jq_ 'd["recmem"]["state"]')" = ready ] && break; sleep 0.1; done
check "recmem copy ready" '[ "$(J health | jq_ "d[\"recmem\"][\"state\"]")" = ready ]'
check "recmem holds every record" '[ "$(J health | jq_ "d[\"recmem\"][\"records\"]")" = "$(sqlite3 "$DB" "select count(*) from records")" ]'
check "sources: same answer from the copy" '[ "$(J "sources?$Q&limit=1000&sort=ip&order=asc")" = "$before" ]'
check "overview: same answer from the copy" '[ "$(J "overview?$Q")" = "$beforeo" ]'
check "overview status key" '[ "$(J "overview?$Q" | jq_ "d[\"domains\"][0][\"status\"][\"key\"]")" != "" ]'
check "overview policy from newest report" '[ "$(J "overview?$Q" | jq_ "[x for x in d[\"domains\"] if x[\"domain\"]==\"example.jp\"][0][\"policy\"][\"p\"]")" = reject ]'
d=$(J "domains/example.com?$Q")
check "domain series sums to total" '[ "$(echo "$d" | jq_ "sum(d[\"series\"][\"pass\"])+sum(d[\"series\"][\"fail_none\"])+sum(d[\"series\"][\"fail_quarantine\"])+sum(d[\"series\"][\"fail_reject\"]) == d[\"totals\"][\"messages\"]")" = True ]'
check "domain advice names the failing ESP" 'grep -q 198.51.100.25 <<<"$d"'
check "domain top reporters" '[ "$(echo "$d" | jq_ "len(d[\"top_reporters\"])")" -ge 2 ]'
check "domain policy history" '[ "$(J "domains/example.jp?$Q" | jq_ "len(d[\"policy_history\"])")" = 2 ]'
# Midpoint rule: a range of one day holds exactly that UTC day's bucket.
one=$(J "domains/example.com?since=1780272000&until=1780358400" | jq_ "d['series']['days']")
check "one-day range = one bucket" '[ "$one" = "[1780272000]" ]'
check "Asia/Tokyo day (UTC-9h) = same bucket" '[ "$(J "domains/example.com?since=1780239600&until=1780326000" | jq_ "d[\"series\"][\"days\"]")" = "[1780272000]" ]'
check "result filter" '[ "$(J "domains/example.com?$Q&result=fail" | jq_ "d[\"totals\"][\"pass\"]")" = 0 ]'
check "reporter filter" '[ "$(J "domains/example.com?$Q&reporter=Yahoo" | jq_ "d[\"totals\"][\"messages\"]")" = 0 ]'
s=$(J "sources?domain=example.com&$Q&only_failures=1&limit=5")
check "sources only failures" '[ "$(echo "$s" | jq_ "all(x[\"fail\"]>0 for x in d[\"sources\"])")" = True ]'
check "sources paging total" '[ "$(echo "$s" | jq_ "d[\"total\"] > 5 and len(d[\"sources\"]) == 5")" = True ]'
check "sources sorted" '[ "$(J "sources?$Q&sort=messages&order=asc" | jq_ "[x[\"messages\"] for x in d[\"sources\"]] == sorted(x[\"messages\"] for x in d[\"sources\"])")" = True ]'
check "sources envelope_from and DKIM" '[ "$(J "sources?domain=example.com&$Q" | jq_ "[x for x in d[\"sources\"] if x[\"ip\"]==\"198.51.100.25\"][0][\"dkim\"][0][\"selector\"]")" = k1 ]'
check "source records drill-down" '[ "$(J "sources/192.0.2.66/records?$Q" | jq_ "d[\"total\"]")" = 2 ]'
check "IPv6 source" '[ "$(J "sources/2001:db8::25/records?$Q&limit=1" | jq_ "d[\"ip\"]")" = 2001:db8::25 ]'
r=$(J "reporters?$Q")
check "reporters: Yahoo silent" '[ "$(echo "$r" | jq_ "[x for x in d[\"reporters\"] if x[\"reporter\"]==\"Yahoo\"][0][\"silent\"]")" = True ]'
check "reporters: google active" '[ "$(echo "$r" | jq_ "[x for x in d[\"reporters\"] if x[\"reporter\"]==\"google.com\"][0][\"silent\"]")" = False ]'
check "reports list total" '[ "$(J "reports?$Q&limit=5" | jq_ "d[\"total\"]")" = "$(sqlite3 "$DB" "select count(*) from reports")" ]'
check "reports filter by reporter" '[ "$(J "reports?reporter=Yahoo" | jq_ "d[\"total\"]")" = 20 ]'
check "reports filter by source" '[ "$(J "reports?source=192.0.2.66" | jq_ "d[\"total\"]")" = 2 ]'
# result= on the reports list: by messages, as the records say
check "reports filter by result=fail" '[ "$(J "reports?result=fail" | jq_ "d[\"total\"]")" = "$(sqlite3 "$DB" "select count(*) from reports p where (select coalesce(sum(count),0) from records where report=p.id and dmarc<>'"'"'pass'"'"')>0")" ]'
check "reports filter by result=pass" '[ "$(J "reports?result=pass" | jq_ "d[\"total\"]")" = "$(sqlite3 "$DB" "select count(*) from reports p where (select coalesce(sum(count),0) from records where report=p.id and dmarc='"'"'pass'"'"')>0")" ]'
check "reports list: failing messages per report" '[ "$(J "reports?limit=1000" | jq_ "sum(x[\"fail\"] for x in d[\"reports\"])")" = "$(sqlite3 "$DB" "select coalesce(sum(count),0) from records where dmarc<>'"'"'pass'"'"'")" ]'
# a Report-ID of plain characters; a part of it, upper-cased, finds it
rid=$(sqlite3 "$DB" "select report_id from reports where length(report_id)>=8 and report_id not glob '*[^A-Za-z0-9.-]*' order by id limit 1")
part=$(printf '%s' "${rid:1:6}" | tr '[:lower:]' '[:upper:]')
want=$(sqlite3 "$DB" "select count(*) from reports where instr(lower(report_id), lower('$part'))>0")
r=$(J "reports?report_id=$part")
check "reports search by part of the Report-ID" '[ -n "$rid" ] && [ "$want" -ge 1 ] && [ "$(jq_ "d[\"total\"]" <<<"$r")" = "$want" ] && grep -qi -- "$rid" <<<"$r"'
# a broad search (one digit): order, paging and total as SQL has them
ids=$(sqlite3 "$DB" "select group_concat(id) from (select id from reports where instr(report_id, '1')>0 order by begin_ts desc, id desc)")
check "reports search: order and total" '[ "$(J "reports?report_id=1&limit=1000" | jq_ "\",\".join(str(x[\"id\"]) for x in d[\"reports\"]) + \" \" + str(d[\"total\"])")" = "$ids $(tr , "\n" <<<"$ids" | wc -l)" ]'
check "reports search: a page" '[ "$(J "reports?report_id=1&limit=2&offset=1" | jq_ "\",\".join(str(x[\"id\"]) for x in d[\"reports\"])")" = "$(cut -d, -f2,3 <<<"$ids")" ]'
check "reports search: past the end keeps the total" '[ "$(J "reports?report_id=1&offset=100000" | jq_ "str(len(d[\"reports\"])) + \" \" + str(d[\"total\"])")" = "0 $(tr , "\n" <<<"$ids" | wc -l)" ]'
check "reports search: % and _ are no wildcards" '[ "$(J "reports?report_id=%25" | jq_ "d[\"total\"]")" = "$(sqlite3 "$DB" "select count(*) from reports where instr(report_id, '"'"'%'"'"')>0")" ] && [ "$(J "reports?report_id=_" | jq_ "d[\"total\"]")" = "$(sqlite3 "$DB" "select count(*) from reports where instr(report_id, '"'"'_'"'"')>0")" ]'
check "reports search without a match" '[ "$(J "reports?report_id=no-such-report-id" | jq_ "d[\"total\"]")" = 0 ]'
check "reports search: too long is a 400" '[ "$(code "$B/api/reports?report_id=$(printf "x%.0s" $(seq 300))")" = 400 ]'
id=$(sqlite3 "$DB" "select id from reports where org_name like '%Evil%' limit 1")
check "report detail keeps hostile text verbatim" '[ "$(J "reports/$id" | jq_ "d[\"report\"][\"reporter\"]")" = "<script>window.__pwned=1</script>Evil \"Corp\" & <b>Co</b>" ]'
check "report detail records" '[ "$(J "reports/$id" | jq_ "len(d[\"records\"])")" = 2 ]'
curl -s -D "$T/h" -o "$T/raw" "$B/api/reports/$id/raw"
check "raw download is the original" 'grep -q "<feedback>" "$T/raw"'
check "raw download is an attachment" 'grep -qi "content-disposition: attachment; filename=\"report-$id.xml\"" "$T/h"'
check "ledger" '[ "$(J "ledger?status=imported&limit=3" | jq_ "len(d[\"entries\"])")" = 3 ]'

# Sender intelligence.
sqlite3 "$DB" < "$SRC/tests/fixtures/web/ip_info.sql"
g=$(J "senders?$Q")
check "senders: groups with sections" '[ "$(echo "$g" | jq_ "sorted(set(x[\"section\"] for x in d[\"groups\"]))")" = "['"'"'forwarders'"'"', '"'"'others'"'"', '"'"'own'"'"', '"'"'services'"'"']" ]'
check "senders: totals = sum(count)" '[ "$(echo "$g" | jq_ "d[\"totals\"][\"messages\"]")" = "$(sqlite3 "$DB" "select sum(count) from records r join reports p on p.id=r.report")" ]'
check "senders: SendGrid is a service" '[ "$(echo "$g" | jq_ "[x[\"section\"] for x in d[\"groups\"] if x[\"service\"]==\"sendgrid\"][0]")" = services ]'
ss=$(J "senders/sources?$Q&limit=1000")
check "senders/sources: one row per IP" '[ "$(echo "$ss" | jq_ "d[\"total\"]")" = "$(sqlite3 "$DB" "select count(distinct source_ip) from records")" ]'
check "senders/sources: class counts add up" '[ "$(echo "$ss" | jq_ "sum(d[\"classes\"].values()) == d[\"total\"]")" = True ]'
check "senders/sources: host, ASN, country" '[ "$(echo "$ss" | jq_ "[(x[\"ptr\"],x[\"asn\"],x[\"country\"]) for x in d[\"sources\"] if x[\"ip\"]==\"203.0.113.5\"][0]")" = "('"'"'o1.ptr4021.sendgrid.net'"'"', 11377, '"'"'US'"'"')" ]'
check "senders/sources: reason in both languages" '[ "$(echo "$ss" | jq_ "all(x[\"reason\"][\"messages\"][\"en\"] and x[\"reason\"][\"messages\"][\"ja\"] for x in d[\"sources\"])")" = True ]'
check "senders/sources: class filter" '[ "$(J "senders/sources?$Q&class=spoofing" | jq_ "len(d[\"sources\"])>0 and all(x[\"class\"]==\"spoofing\" for x in d[\"sources\"])")" = True ]'
check "senders/sources: only failures" '[ "$(J "senders/sources?$Q&only_failures=1" | jq_ "all(x[\"fail\"]>0 for x in d[\"sources\"])")" = True ]'
check "senders/sources: country filter" '[ "$(J "senders/sources?$Q&country=JP" | jq_ "sorted(x[\"ip\"] for x in d[\"sources\"])")" = "['"'"'192.0.2.10'"'"', '"'"'192.0.2.11'"'"', '"'"'198.51.100.25'"'"']" ]'
check "senders/sources: sort by host asc" '[ "$(J "senders/sources?$Q&sort=host&order=asc&limit=3" | jq_ "[x[\"ptr\"] for x in d[\"sources\"]] == sorted(x[\"ptr\"] for x in d[\"sources\"])")" = True ]'
check "senders/sources: paging" '[ "$(J "senders/sources?$Q&limit=5&offset=5" | jq_ "len(d[\"sources\"])")" = 5 ]'
# an enrichment write by another process (a new resolution: resolved_at
# moves, as enrich.c writes it) shows once the fingerprint is re-read (at
# most SENDERS_FP_TTL, 1 s, later), and so does the next one
J "senders/sources?$Q&source=203.0.113.5" >/dev/null
sqlite3 "$DB" "update ip_info set country = 'DE', resolved_at = (select max(resolved_at) + 1 from ip_info) where ip = '203.0.113.5'"
sleep 1.2
check "senders/sources: an ip_info write shows" '[ "$(J "senders/sources?$Q&source=203.0.113.5" | jq_ "d[\"sources\"][0][\"country\"]")" = DE ]'
sqlite3 "$DB" "update ip_info set country = 'US', resolved_at = (select max(resolved_at) + 1 from ip_info) where ip = '203.0.113.5'"
sleep 1.2
check "senders/sources: and the next one" '[ "$(J "senders/sources?$Q&source=203.0.113.5" | jq_ "d[\"sources\"][0][\"country\"]")" = US ]'
check "senders/sources: hostile PTR verbatim" '[ "$(J "senders/sources?$Q&source=203.0.113.80" | jq_ "d[\"sources\"][0][\"ptr\"]")" = "<img src=x onerror=window.__pwned=5>.evil.example" ]'
c=$(J "senders/countries?$Q")
check "senders/countries: messages per country" '[ "$(echo "$c" | jq_ "sum(x[\"messages\"] for x in d[\"countries\"]) + d[\"unknown\"][\"messages\"]")" = "$(echo "$g" | jq_ "d[\"totals\"][\"messages\"]")" ]'
rd=$(J "readiness/example.com?$Q")
check "readiness: verdict, simulation, checklist" '[ "$(echo "$rd" | jq_ "bool(d[\"verdict\"][\"verdict\"]) and len(d[\"simulation\"])==2 and len(d[\"checklist\"])>=5")" = True ]'
check "readiness: forwarded counted apart" '[ "$(echo "$rd" | jq_ "\"forwarded\" in d[\"simulation\"][1]")" = True ]'
check "catalog" '[ "$(J catalog | jq_ "any(x[\"id\"]==\"sendgrid\" for x in d[\"services\"])")" = True ]'
check "400 bad class" '[ "$(code "$B/api/senders/sources?class=evil")" = 400 ]'
check "400 bad country" '[ "$(code "$B/api/senders/countries?country=jp1")" = 400 ]'
check "400 bad senders sort" '[ "$(code "$B/api/senders/sources?sort=1;drop")" = 400 ]'
check "rules: POST without the header refused" '[ "$(code -X POST -H "Content-Type: application/json" -d "{\"action\":\"approve\",\"kind\":\"ip\",\"pattern\":\"198.51.100.25\"}" "$B/api/rules")" = 403 ]'
check "rules: form body refused" '[ "$(code -X POST -H "X-Dmarcstat-Action: 1" -d "action=approve" "$B/api/rules")" = 400 ]'
check "rules: bad pattern refused" '[ "$(code -X POST -H "X-Dmarcstat-Action: 1" -H "Content-Type: application/json" -d "{\"action\":\"approve\",\"kind\":\"ip\",\"pattern\":\"nope\"}" "$B/api/rules")" = 400 ]'
check "rules: unknown member refused" '[ "$(code -X POST -H "X-Dmarcstat-Action: 1" -H "Content-Type: application/json" -d "{\"action\":\"approve\",\"kind\":\"ip\",\"pattern\":\"192.0.2.1\",\"x\":1}" "$B/api/rules")" = 400 ]'
check "rules: 413 on a big body" '[ "$(head -c 20000 /dev/zero | tr "\0" a | code -X POST -H "X-Dmarcstat-Action: 1" -H "Content-Type: application/json" --data-binary @- "$B/api/rules")" = 413 ]'
before=$(J "senders/sources?$Q&source=198.51.100.25" | jq_ "d[\"sources\"][0][\"class\"]")
rid=$(curl -s -X POST -H "X-Dmarcstat-Action: 1" -H "Content-Type: application/json" -d '{"action":"approve","kind":"ip","pattern":"198.51.100.25","note":"<b>ESP</b>"}' "$B/api/rules" | jq_ "d[\"id\"]")
after=$(J "senders/sources?$Q&source=198.51.100.25" | jq_ "d[\"sources\"][0][\"class\"]")
check "rules: approve reclassifies at once ($before -> $after)" '[ "$before" = spoofing ] && [ "$after" = misconfigured ]'
check "rules: listed" '[ "$(J rules | jq_ "d[\"rules\"][0][\"note\"]")" = "<b>ESP</b>" ]'
check "readiness: approved ESP is a legitimate source hit" '[ "$(J "readiness/example.com?$Q" | jq_ "d[\"simulation\"][1][\"sources\"][0][\"ip\"]")" = 198.51.100.25 ]'
check "rules: DELETE" '[ "$(code -X DELETE -H "X-Dmarcstat-Action: 1" "$B/api/rules/$rid")" = 200 ]'
check "rules: DELETE again is 404" '[ "$(code -X DELETE -H "X-Dmarcstat-Action: 1" "$B/api/rules/$rid")" = 404 ]'
check "rules: removal reclassifies at once" '[ "$(J "senders/sources?$Q&source=198.51.100.25" | jq_ "d[\"sources\"][0][\"class\"]")" = spoofing ]'
check "405 PUT on rules" '[ "$(code -X PUT "$B/api/rules")" = 405 ]'
check "enrichment status" '[ "$(J enrichment | jq_ "d[\"ips\"] == $(sqlite3 "$DB" "select count(distinct source_ip) from records")")" = True ]'
# Filtering and sorting a computed period answers the same as asking
# afresh (from the cache; its speed is measured by bench/bench_api.sh, not
# in a test)
J "senders/sources?$Q" >/dev/null
a1=$(J "senders/sources?$Q&class=spoofing&sort=host")
a2=$(J "senders/sources?$Q&class=spoofing&sort=host")
check "senders/sources: a repeated request answers the same" '[ -n "$a1" ] && [ "$a1" = "$a2" ]'

# Errors: JSON with the right status.
check "404 unknown endpoint" '[ "$(code "$B/api/nope")" = 404 ]'
check "404 unknown report" '[ "$(code "$B/api/reports/999999")" = 404 ]'
check "404 error is JSON" '[ "$(J reports/999999 | jq_ "d[\"error\"][\"code\"]")" = not_found ]'
check "400 bad since" '[ "$(code "$B/api/overview?since=abc")" = 400 ]'
check "400 bad result" '[ "$(code "$B/api/overview?result=maybe")" = 400 ]'
check "400 bad sort" '[ "$(code "$B/api/sources?sort=1;drop")" = 400 ]'
check "400 since after until" '[ "$(code "$B/api/overview?since=10&until=5")" = 400 ]'
check "405 POST to a GET endpoint" '[ "$(code -X POST "$B/api/overview")" = 405 ]'
check "404 raw of unknown report" '[ "$(code "$B/api/reports/999999/raw")" = 404 ]'

# Static files, headers, caching, compression.
curl -s -D "$T/h" -o "$T/index" "$B/"
check "index.html served" 'grep -q "<script type=\"module\" src=\"/js/app.js\">" "$T/index"'
check "no inline script or style in index.html" '! grep -Eiq "<script>|<style|style=|onload=|onclick=" "$T/index"'
check "CSP header" 'grep -qi "^content-security-policy: default-src .self.; script-src .self.; style-src .self.;" "$T/h"'
check "CSP frame-ancestors none" 'grep -qi "frame-ancestors .none." "$T/h"'
check "nosniff" 'grep -qi "^x-content-type-options: nosniff" "$T/h"'
check "referrer policy" 'grep -qi "^referrer-policy: no-referrer" "$T/h"'
etag=$(grep -i '^etag:' "$T/h" | cut -d' ' -f2 | tr -d '\r')
check "strong ETag" '[[ "$etag" == \"* ]]'
check "304 on If-None-Match" '[ "$(code -H "If-None-Match: $etag" "$B/")" = 304 ]'
check "Cache-Control on index" 'grep -qi "^cache-control: no-cache" "$T/h"'
curl -s -D "$T/h" -o "$T/gz" -H 'Accept-Encoding: gzip' "$B/vendor/uplot/uPlot.esm.js"
check "gzip variant of a vendored file" 'grep -qi "^content-encoding: gzip" "$T/h" && gzip -t "$T/gz"'
check "gzip ETag differs" '[ "$(grep -i "^etag:" "$T/h" | tr -d "\r" | cut -d" " -f2)" != "$(curl -sI "$B/vendor/uplot/uPlot.esm.js" | grep -i "^etag:" | tr -d "\r" | cut -d" " -f2)" ]'
check "no gzip when q=0" '! curl -sI -H "Accept-Encoding: gzip;q=0" "$B/vendor/uplot/uPlot.esm.js" | grep -qi "content-encoding"'
curl -s -D "$T/h" -o "$T/gz" -H 'Accept-Encoding: gzip' "$B/api/overview?$Q"
check "gzip JSON" 'grep -qi "^content-encoding: gzip" "$T/h" && gzip -dc "$T/gz" | python3 -m json.tool >/dev/null'
aetag=$(grep -i '^etag:' "$T/h" | cut -d' ' -f2 | tr -d '\r')
check "API 304 on If-None-Match" '[ "$(code -H "Accept-Encoding: gzip" -H "If-None-Match: $aetag" "$B/api/overview?$Q")" = 304 ]'
check "catalogs served" '[ "$(code "$B/i18n/ja.json")" = 200 ]'
check "404 unknown file" '[ "$(code "$B/nope.js")" = 404 ]'
check "traversal refused" '[ "$(code --path-as-is "$B/../../etc/passwd")" = 404 ]'
check "DNS rebinding Host refused" '[ "$(code -H "Host: evil.example" "$B/api/meta")" = 421 ]'

# Catalogs: same keys in both languages.
check "en and ja catalogs have the same keys" 'python3 -c "
import json,sys
e=json.load(open(\"$SRC/web/i18n/en.json\")); j=json.load(open(\"$SRC/web/i18n/ja.json\"))
sys.exit(0 if set(e)==set(j) and all(j.values()) else 1)"'

# Upload: CSRF guard, results per file from the ledger, duplicates.
check "upload without the dashboard header is refused" '[ "$(code -F "file=@$SRC/tests/fixtures/web/upload/notes.txt" "$B/api/upload")" = 403 ]'
check "upload of form-urlencoded refused" '[ "$(code -H "X-Dmarcstat-Upload: 1" -d "a=b" "$B/api/upload")" = 400 ]'
up=$(curl -s -H 'X-Dmarcstat-Upload: 1' -F "file=@$SRC/tests/fixtures/web/upload/upload-report.xml.gz" -F "file=@$SRC/tests/fixtures/web/upload/notes.txt" "$B/api/upload")
check "upload imports a report" '[ "$(echo "$up" | jq_ "[f[\"status\"] for f in d[\"files\"]]")" = "['"'"'imported'"'"', '"'"'not-a-report'"'"']" ]'
check "upload is in the ledger as upload" '[ "$(sqlite3 "$DB" "select count(*) from ledger where source='"'"'upload'"'"'")" = 2 ]'
up=$(curl -s -H 'X-Dmarcstat-Upload: 1' -F "file=@$SRC/tests/fixtures/web/upload/upload-report.xml.gz" "$B/api/upload")
# a change between two requests is seen by the second one (no stale copy)
wantall=$(sqlite3 "$DB" "select sum(messages) from daily")
check "overview sees the upload at once ($wantall)" '[ "$(J overview | jq_ "d[\"totals\"][\"messages\"]")" = "$wantall" ]'
check "sources see the upload at once" '[ "$(J "sources?limit=1000" | jq_ "sum(x[\"messages\"] for x in d[\"sources\"])")" = "$wantall" ]'
check "second upload is a duplicate" '[ "$(echo "$up" | jq_ "d[\"files\"][0][\"status\"]")" = duplicate ]'
head -c 70000000 /dev/zero > "$T/big"
check "too large upload refused with 413" '[ "$(code -H "X-Dmarcstat-Upload: 1" -F "file=@$T/big" "$B/api/upload")" = 413 ]'
check "server still answers" '[ "$(code "$B/api/health")" = 200 ]'

# A slow client does not stall others.
( exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'GET /api/meta HTTP/1.1\r\nHost: 127.0.0.1\r\n' >&3; sleep 3 ) &
slow=$!
sleep 0.2
t0=$(date +%s%N); code "$B/api/meta" >/dev/null; t1=$(date +%s%N)
check "slow client does not stall others ($(( (t1 - t0) / 1000000 )) ms)" '[ $(( (t1 - t0) / 1000000 )) -lt 1000 ]'
kill $slow 2>/dev/null || true

# Graceful shutdown.
kill -TERM $PID
for _ in $(seq 50); do kill -0 $PID 2>/dev/null || break; sleep 0.1; done
check "SIGTERM stops the server" '! kill -0 $PID 2>/dev/null'
wait $PID; rc=$?
check "exit status 0 after SIGTERM" '[ $rc = 0 ]'
PID=

# --assets-dir serves from disk without traversal.
mkdir -p "$T/assets/sub"; echo "hello" > "$T/assets/sub/a.txt"; echo secret > "$T/secret.txt"
ln -s "$T/secret.txt" "$T/assets/link.txt"
start --assets-dir "$T/assets"
B=http://127.0.0.1:$PORT
check "--assets-dir serves a file" '[ "$(curl -s "$B/sub/a.txt")" = hello ]'
check "--assets-dir refuses .." '[ "$(code --path-as-is "$B/sub/../../secret.txt")" = 404 ]'
check "--assets-dir refuses symlink escape" '[ "$(code "$B/link.txt")" = 404 ]'
check "--assets-dir refuses encoded .." '[ "$(code --path-as-is "$B/sub/%2e%2e/%2e%2e/secret.txt")" = 404 ]'
kill -TERM $PID; wait $PID || true; PID=

# Background enrichment: serve looks up new source IPs (here the uploaded
# report's) against dnsmasq on loopback, without blocking requests.
DNSMASQ=$(command -v dnsmasq 2>/dev/null || echo /usr/sbin/dnsmasq)
if [ -x "$DNSMASQ" ]; then
	DPORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	newip=198.18.6.30       # a known source whose lookup is due
	sqlite3 "$DB" "delete from ip_info where ip = '$newip'"
	upip=192.0.2.77         # a new source, arriving by upload
	rev=$(echo "$newip" | awk -F. '{print $4"."$3"."$2"."$1".in-addr.arpa"}')
	"$DNSMASQ" --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --port="$DPORT" \
		--listen-address=127.0.0.1 --bind-interfaces --user=nobody --pid-file= \
		--local=/in-addr.arpa/ --local=/ip6.arpa/ --local=/example.org/ \
		--ptr-record="$rev",mta1.example.org --address=/mta1.example.org/"$newip" \
		--ptr-record=77.2.0.192.in-addr.arpa,out.example.org --address=/out.example.org/"$upip" \
		2>"$T/dnsmasq.err" &
	DNSPID=$!
	. "$SRC/tests/lib/dns.sh"
	dns_wait "$DPORT" || echo "dnsmasq does not answer yet"
	start --resolver 127.0.0.1:$DPORT
	B=http://127.0.0.1:$PORT
	for _ in $(seq 50); do
		[ "$(sqlite3 "$DB" "select ptr from ip_info where ip='$newip'")" = mta1.example.org ] && break
		sleep 0.1
	done
	check "background enrichment resolved $newip" '[ "$(sqlite3 "$DB" "select ptr || \" \" || fcrdns from ip_info where ip='"'"'$newip'"'"'")" = "mta1.example.org 1" ]'
	check "enrichment status: nothing pending" '[ "$(J enrichment | jq_ "d[\"pending\"]")" = 0 ]'
	check "enrichment status: worker ran" '[ "$(J enrichment | jq_ "d[\"worker\"][\"state\"] in (\"idle\",\"running\") and d[\"worker\"][\"last_run\"] is not None")" = True ]'
	check "enriched host shown in senders/sources" '[ "$(J "senders/sources?source=$newip" | jq_ "d[\"sources\"][0][\"ptr\"]")" = mta1.example.org ]'
	cat > "$T/new-report.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<feedback><report_metadata><org_name>example.net</org_name><email>noreply@example.net</email>
<report_id>web-api-enrich-1</report_id><date_range><begin>1782777600</begin><end>1782863999</end></date_range></report_metadata>
<policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>
<record><row><source_ip>$upip</source_ip><count>3</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
<identifiers><header_from>example.com</header_from></identifiers><auth_results><dkim><domain>example.com</domain><result>pass</result></dkim><spf><domain>example.com</domain><result>pass</result></spf></auth_results></record>
</feedback>
XML
	check "upload of a report with a new source" '[ "$(curl -s -H "X-Dmarcstat-Upload: 1" -F "file=@$T/new-report.xml" "$B/api/upload" | jq_ "d[\"files\"][0][\"status\"]")" = imported ]'
	t0=$(date +%s%N)
	for _ in $(seq 100); do
		[ "$(sqlite3 "$DB" "select ptr from ip_info where ip='$upip'")" = out.example.org ] && break
		sleep 0.1
	done
	t1=$(date +%s%N)
	check "uploaded source enriched in the background ($(( (t1 - t0) / 1000000 )) ms)" '[ "$(sqlite3 "$DB" "select ptr from ip_info where ip='"'"'$upip'"'"'")" = out.example.org ]'
	t0=$(date +%s%N); kill -TERM $PID; wait $PID || true; t1=$(date +%s%N); PID=
	check "SIGTERM with the enrichment thread ($(( (t1 - t0) / 1000000 )) ms)" '[ $(( (t1 - t0) / 1000000 )) -lt 5000 ]'
	kill $DNSPID 2>/dev/null; wait $DNSPID 2>/dev/null || true
else
	echo "skip background enrichment: no dnsmasq"
fi
check "--resolver is checked" '[ "$("$BIN" --db "$DB" serve --resolver "not a server" --listen 127.0.0.1:0 >/dev/null 2>&1; echo $?)" = 2 ]'

echo "$pass passed, $fail failed"
[ $fail = 0 ]

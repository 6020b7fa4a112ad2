#!/usr/bin/env bash
# bench/bench_api.sh BUILD_DIR - dashboard API latency with ~1,000,000
# records (issue 3 part 8: every API call behind a view < 100 ms p95 on
# loopback).
#
# 1. dmarcgen writes BENCH_API_REPORTS (350,000) gzip reports, about 2.9
#    records each, over the last 730 days up to BENCH_END; `dmarcstat
#    import` loads them into bench/out/api.db (kept and reused while the
#    seed, end and count are unchanged: delete it to rebuild).
# 2. `dmarcstat serve --no-enrich` on a random loopback port; for each
#    endpoint a view calls (with the parameters the dashboard sends: 30-
#    and 365-day ranges, one domain, one source, one report), BENCH_API_N
#    (200) requests in one
#    curl process (keep-alive, no ETag revalidation, so every request runs
#    its queries), after 5 warm-up requests.  Prints p50 and p95 per endpoint
#    and the server's CPU time per request (/proc/PID/stat: on a shared
#    machine the figure that does not depend on the neighbours), and the
#    load average before and after.
#    Before that: the first overview requests right after the server
#    answers (the in-memory copy of `daily`, src/store/dashmem.c, is still
#    being built: SQL answers), the time until the copy is ready, then the
#    same for the copy of the records the sender analysis reads
#    (src/store/recmem.c, built after the first one; its build time and
#    size are printed), the server's CPU until its background work (copies,
#    sender-analysis warm-up of the default periods) is done, and its
#    memory (RSS, anonymous part).
# 3. The sender views (/api/senders, /senders/sources, /readiness): their
#    analysis classifies every record of the period on the first request
#    (from the copy of the records) and is cached per period
#    (src/web/api_senders.c), so the first ("cold") request of a period
#    nobody asked for is timed on its own, then the cached ones as above;
#    and the default period (30 days ending today, Asia/Tokyo), which the
#    server warms in the background.  One scan fills the groups and the
#    sources entries of a period, so the sources list is timed cold on a
#    period of its own.
# Bounded: loopback only, a fixed number of requests, one client.
# Environment from bench/run.sh: DMARCGEN DMARCSTAT BENCH_OUT BENCH_SEED BENCH_END.
set -uo pipefail
BUILD=${1:?usage: bench/bench_api.sh BUILD_DIR}
SRC=$(cd "$(dirname "$0")/.." && pwd)
GEN=${DMARCGEN:-$BUILD/dmarcgen}
DS=${DMARCSTAT:-$BUILD/dmarcstat}
OUT=${BENCH_OUT:-$SRC/bench/out}
SEED=${BENCH_SEED:-42}
END=${BENCH_END:-2026-11-30}
NREP=${BENCH_API_REPORTS:-350000}
N=${BENCH_API_N:-200}
TARGET_MS=100
DB=$OUT/api.db
STAMP=$OUT/api.db.stamp
fails=0

line() { printf '%-42s %18s  %-30s %s\n' "$1" "$2" "$3" "$4"; case $4 in FAIL*) fails=$((fails + 1)) ;; esac; }
note() { printf '  %s\n' "$*"; }

for tool in curl sqlite3 awk; do
	command -v $tool >/dev/null || { line "dashboard API latency" "-" "" "SKIP ($tool missing)"; exit 0; }
done
[ -x "$GEN" ] && [ -x "$DS" ] || { line "dashboard API latency" "-" "" "SKIP (build dmarcgen and dmarcstat)"; exit 0; }
mkdir -p "$OUT"

# --- 1. data ---------------------------------------------------------------
want="seed=$SEED end=$END reports=$NREP"
if [ ! -f "$DB" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
	rm -rf "$OUT/api-reports" "$DB" "$DB-wal" "$DB-shm"
	t0=$(date +%s.%N)
	"$GEN" -q --out "$OUT/api-reports" --count "$NREP" --gzip --days 730 --seed "$SEED" --end "$END" >&2 || exit 1
	t1=$(date +%s.%N)
	"$DS" --db "$DB" -q import "$OUT/api-reports" >&2
	t2=$(date +%s.%N)
	rm -rf "$OUT/api-reports"
	echo "$want" >"$STAMP"
	note "$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "data set: generated in %.0f s, imported in %.0f s", b - a, c - b }')"
fi
records=$(sqlite3 "$DB" "select count(*) from records")
daily=$(sqlite3 "$DB" "select count(*) from daily")
reports=$(sqlite3 "$DB" "select count(*) from reports")
note "database: $records records, $reports reports, $daily daily rows ($(du -m "$DB" | cut -f1) MiB)"
[ "$records" -ge 1000000 ] || note "fewer than 1,000,000 records: raise BENCH_API_REPORTS"

# --- 2. server --------------------------------------------------------------
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null' EXIT
for _ in 1 2 3 4 5; do
	PORT=$((20000 + RANDOM % 20000))
	"$DS" --db "$DB" -q serve --no-enrich --listen 127.0.0.1:$PORT >/dev/null 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && break 2
		kill -0 $PID 2>/dev/null || break
		sleep 0.1
	done
	kill $PID 2>/dev/null; wait $PID 2>/dev/null; PID=
done
[ -n "$PID" ] || { line "dashboard API latency" "-" "" "FAIL (server did not start)"; exit 1; }
B=http://127.0.0.1:$PORT/api

last=$(sqlite3 "$DB" "select max(day) from daily")
until=$((last + 86400))
s30=$((until - 30 * 86400)); s365=$((until - 365 * 86400))
dom=$(sqlite3 "$DB" "select policy_domain from daily where day >= $s30 group by 1 order by sum(messages) desc limit 1")
ip=$(sqlite3 "$DB" "select source_ip from daily where day >= $s30 and policy_domain='$dom' group by 1 order by sum(messages) desc limit 1")
rid=$(sqlite3 "$DB" "select id from reports order by n_records desc limit 1")
rep=$(sqlite3 "$DB" "select org_name from reports group by 1 order by count(*) desc limit 1" | sed 's/ /%20/g')

TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
# CPU time of the server so far, in ms
srv_cpu() { awk -v t="$TCK" '{ printf "%.0f\n", ($14 + $15) * 1000 / t }' "/proc/$PID/stat" 2>/dev/null || echo 0; }
rss() { awk '/^VmRSS/ { r = $2 } /^RssAnon/ { a = $2 } END { printf "%d MiB (anonymous %d MiB)", r / 1024, a / 1024 }' "/proc/$PID/status"; }
ms_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

# --- 2a. right after start: SQL answers while the copy is built ---------------
one() { curl -s -o /dev/null -w '%{http_code} %{time_total}' "$1" | awk '{ printf "%s %.1f", $1, $2 * 1000 }'; }
first() {	# label path: one request right after start, < 1 s
	local r st
	st=$(curl -s "$B/health" | sed -n 's/.*"dashmem":{"state":"\([a-z]*\)".*/\1/p')
	r=$(one "$B/$2")
	line "api: $1, right after start" "${r#* } ms" "< 1000 ms (copy was $st)" \
		"$(awk -v c="${r% *}" -v p="${r#* }" 'BEGIN { print (c == 200 && p < 1000 ? "PASS" : "FAIL") }')"
}
first "overview, 30 days" "overview?since=$s30&until=$until"
first "overview, 365 days" "overview?since=$s365&until=$until"
# copy_ready NAME COUNT_KEY LABEL UNIT TRIES: waits (TRIES x 50 ms at most)
# until the in-memory copy NAME of /api/health is no longer building or
# waiting, and prints its figure line and a note with its size
copy_ready() {
	local name=$1 key=$2 label=$3 unit=$4 st= h n bytes build ready
	for _ in $(seq "$5"); do
		st=$(curl -s "$B/health" | sed -n "s/.*\"$name\":{\"state\":\"\([a-z]*\)\".*/\1/p")
		[ "$st" = building ] || [ "$st" = waiting ] || break
		sleep 0.05
	done
	h=$(curl -s "$B/health" | sed -n "s/.*\"$name\":{\([^}]*\)}.*/\1/p")
	n=$(printf '%s' "$h" | sed -n "s/.*\"$key\":\([0-9]*\).*/\1/p")
	bytes=$(printf '%s' "$h" | sed -n 's/.*"bytes":\([0-9]*\).*/\1/p')
	build=$(printf '%s' "$h" | sed -n 's/.*"build_ms":\([0-9.]*\).*/\1/p')
	ready=$(printf '%s' "$h" | sed -n 's/.*"ready_ms":\([0-9.]*\).*/\1/p')
	line "copy of $label ready after start" "${ready%.*} ms" "reference (build ${build%.*} ms)" \
		"$([ "$st" = ready ] || echo "FAIL (state $st)")"
	note "copy of $label: $n $unit, $((${bytes:-0} / 1048576)) MiB"
}
copy_ready dashmem rows daily rows 600
# the sender analysis' copy of the records (src/store/recmem.c): until it
# is ready, the sender views classify from SQL
copy_ready recmem records records records 1200
# background work (copy, sender warm-up) done: CPU still for 2 s, at most 120 s
t0=$(date +%s.%N)
c_prev=$(srv_cpu)
for _ in $(seq 60); do
	sleep 2
	c_now=$(srv_cpu)
	[ $((c_now - c_prev)) -lt 40 ] && break
	c_prev=$c_now
done
note "background work at start: $(srv_cpu) ms server CPU in all, idle $(ms_since "$t0") ms after the copy was ready; RSS $(rss)"

# p50 p95 cpu_per_request in ms of N requests to URL (one curl,
# keep-alive); "ERR n" when some answer was not 200.
measure() {
	local url=$1 args=() i out c0 c1
	for i in $(seq 5); do args+=(-o /dev/null "$url"); done
	curl -s "${args[@]}"
	args=()
	for i in $(seq "$N"); do args+=(-o /dev/null "$url"); done
	c0=$(srv_cpu)
	out=$(curl -s --compressed -w '%{http_code} %{time_total}\n' "${args[@]}")
	c1=$(srv_cpu)
	i=$(printf '%s\n' "$out" | awk '$1 != 200' | wc -l)
	[ "$i" = 0 ] || { echo "ERR $i"; return; }
	printf '%s\n' "$out" | awk '{ printf "%.3f\n", $2 * 1000 }' | sort -n | awk -v n="$N" -v c=$((c1 - c0)) '
		{ t[NR] = $1 }
		END { p50 = t[int((n + 1) * 0.50)]; p95 = t[int(n * 0.95 + 0.5)]; printf "%.1f %.1f %.1f\n", p50, p95, c / n }'
}

bench() {	# label path
	local r p50 p95 cpu
	r=$(measure "$B/$2")
	case $r in ERR*) line "api: $1" "-" "< $TARGET_MS ms p95" "FAIL (HTTP errors: ${r#ERR })"; return ;; esac
	read -r p50 p95 cpu <<<"$r"
	line "api: $1" "$p95 ms" "< $TARGET_MS ms p95 (p50 $p50, cpu $cpu)" \
		"$(awk -v p="$p95" -v t=$TARGET_MS 'BEGIN { print (p < t ? "PASS" : "FAIL") }')"
}

# a cached view: the first request alone, then the cached ones.  The first
# request meets the target of every call (< 100 ms) only when the period
# was warmed; one that classifies a period afresh is at least usable (< 1 s)
# but counts as a miss.
bench_cold() {	# label path [target text]
	local t what=${3:-classifies} c0 c1
	c0=$(srv_cpu)
	t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$B/$2")
	c1=$(srv_cpu)
	what="$what, cpu $((c1 - c0))"
	case $t in 200\ *) ;; *) line "api: $1, first request" "-" "< $TARGET_MS ms" "FAIL (HTTP ${t% *})"; return ;; esac
	t=$(awk -v s="${t#* }" 'BEGIN { printf "%.1f", s * 1000 }')
	line "api: $1, first request" "$t ms" "< $TARGET_MS ms ($what)" \
		"$(awk -v p="$t" -v t=$TARGET_MS 'BEGIN { print (p < t ? "PASS" : p < 1000 ? "FAIL (usable: < 1 s)" : "FAIL") }')"
	bench "$1, cached" "$2"
}

# the dashboard's default period for a viewer in Asia/Tokyo: the 30 days ending today
now=$(date +%s)
tokyo_mid=$(( (now + 32400) / 86400 * 86400 - 32400 ))
d_until=$((tokyo_mid + 86400)); d_since=$((d_until - 30 * 86400))

note "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs); cpu = server CPU ms per request"
bench "meta" "meta"
bench "overview, 30 days" "overview?since=$s30&until=$until"
bench "overview, 365 days" "overview?since=$s365&until=$until"
bench "domain, 30 days" "domains/$dom?since=$s30&until=$until"
bench "domain, 365 days" "domains/$dom?since=$s365&until=$until"
bench "sources, 30 days" "sources?domain=$dom&since=$s30&until=$until&limit=50"
bench "sources, 365 days, failures" "sources?since=$s365&until=$until&only_failures=1&limit=50"
bench "source drill-down" "sources/$ip/records?since=$s30&until=$until&limit=100"
bench "reporters, 30 days" "reporters?since=$s30&until=$until"
bench "reporters, 365 days" "reporters?since=$s365&until=$until"
bench "reports, 30 days" "reports?since=$s30&until=$until&limit=50"
bench "reports, one reporter" "reports?reporter=$rep&limit=50"
bench "reports, 365 days, failing" "reports?since=$s365&until=$until&result=fail&limit=50"
# a part of a Report-ID (a substring, no index can seek it) over a year
ridpart=$(sqlite3 "$DB" "select substr(report_id, 3, 5) from reports order by id desc limit 1")
bench "reports, Report-ID search, 365 days" "reports?since=$s365&until=$until&report_id=$ridpart&limit=50"
bench "report detail" "reports/$rid?limit=200"
bench "ledger" "ledger?limit=100"
bench_cold "senders, default 30 days" "senders?since=$d_since&until=$d_until" "warmed at start"
bench_cold "senders/sources, default 30 days" "senders/sources?since=$d_since&until=$d_until&limit=50" "warmed at start"
bench_cold "senders, 365 days" "senders?since=$s365&until=$until"
# one scan fills both entries of a period: the sources list's own first
# request is timed on another period (the same year on Tokyo midnights)
bench_cold "senders/sources, 365 days (UTC+9)" "senders/sources?since=$((s365 - 32400))&until=$((until - 32400))&limit=50"
bench_cold "readiness, 365 days" "readiness/$dom?since=$s365&until=$until"
note "load average after: $(cut -d' ' -f1-3 /proc/loadavg); server RSS at the end $(rss)"
kill $PID 2>/dev/null; wait $PID 2>/dev/null; PID=
[ $fails = 0 ]

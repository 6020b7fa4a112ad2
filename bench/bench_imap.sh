#!/usr/bin/env bash
# bench_imap.sh [BUILD_DIR] [N] - N (default 10,000) report messages fetched
# from a local Dovecot and imported by `dmarcstat fetch`, timed, with the
# peak RSS.  Target (issue 5): under 60 s, memory bounded (independent of N).
# The messages are written straight into the Maildir (APPEND of 10,000
# messages would time curl, not dmarcstat).  Needs dovecot, dmarcgen.
set -eu
B=${1:-build}
N=${2:-10000}
BIN=$(cd "$B" && pwd)/dmarcstat
GEN=$(cd "$B" && pwd)/dmarcgen
PATH=$PATH:/usr/sbin
command -v dovecot >/dev/null || { echo "bench_imap: dovecot not installed"; exit 77; }
[ -x "$GEN" ] || { echo "bench_imap: $GEN missing"; exit 77; }
T=$(mktemp -d /tmp/dmarcstat-bench-imap.XXXXXX)
. "$(dirname "$0")/../tests/lib/dovecot.sh"
dovecot_setup "$T" bench@example.com bench
MD=$T/home/bench@example.com/Maildir
mkdir -p "$MD/cur" "$MD/tmp"
echo "generating $N messages..."
"$GEN" --eml --out "$MD/new" --count "$N" --seed 5 -q
i=0
for f in "$MD/new"/*; do i=$((i + 1)); mv "$f" "$MD/new/$i.bench:2,${FLAGS:-}"; done
dovecot_own
trap 'dovecot_stop; rm -rf "$T"' EXIT
dovecot_start || { echo "bench_imap: dovecot did not start"; exit 1; }
cat > "$T/d.conf" <<CONF
[mailbox bench]
url = imap://127.0.0.1:$PORT/
user = bench@example.com
password_env = BENCH_PW
starttls = no
allow_plaintext = yes
batch = 500
CONF
export BENCH_PW=bench
t0=$(date +%s.%N)
DMARCSTAT_IMAP_VERBOSE=${VERBOSE:-} ${WRAP:-} /usr/bin/time -f '%M' -o "$T/rss" "$BIN" --db "$T/b.db" --config "$T/d.conf" fetch
t1=$(date +%s.%N)
reports=$(sqlite3 "$T/b.db" 'SELECT count(*) FROM reports')
secs=$(echo "$t1 - $t0" | bc)
echo "bench_imap: messages=$N reports=$reports seconds=$secs max_rss_kb=$(cat "$T/rss")"
awk -v s="$secs" 'BEGIN { exit !(s < 60) }' || { echo "bench_imap: SLOWER than 60 s"; exit 1; }

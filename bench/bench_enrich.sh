#!/usr/bin/env bash
# bench_enrich.sh BUILD_DIR - enrichment speed: 10,000 distinct IPs (PTR +
# forward confirmation + libloc) against dnsmasq on loopback, which serves
# them from an addn-hosts file.  Target: under 10 s.  Prints one line;
# exit 1 when the target is missed, 77 when dnsmasq is missing.
set -uo pipefail
BUILD=${1:?usage: bench/bench_enrich.sh BUILD_DIR}
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_ENRICH_IPS:-10000}
DNSMASQ=$(command -v dnsmasq 2>/dev/null || echo /usr/sbin/dnsmasq)
[ -x "$DNSMASQ" ] || { echo "enrich: skipped (no dnsmasq)"; exit 77; }
T=$(mktemp -d /tmp/bench_enrich.XXXXXX)
chmod 755 "$T"
DPID=
trap '[ -n "$DPID" ] && kill $DPID 2>/dev/null; rm -rf "$T"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# 90 % with a PTR (forward-confirmed), 10 % NXDOMAIN.
python3 - "$N" "$T" <<'PY'
import sys
n, t = int(sys.argv[1]), sys.argv[2]
with open(t + "/hosts", "w") as h, open(t + "/ips", "w") as ips:
    for i in range(n):
        ip = "10.%d.%d.%d" % (i // 62500, i // 250 % 250, i % 250 + 1)
        ips.write(ip + "\n")
        if i % 10:
            h.write("%s h%d.mail%d.example.net\n" % (ip, i, i % 97))
PY
"$DNSMASQ" --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --addn-hosts="$T/hosts" \
	--port="$PORT" --listen-address=127.0.0.1 --bind-interfaces --user=nobody --pid-file= \
	--cache-size=0 --local=/in-addr.arpa/ --local=/example.net/ 2>"$T/err" &
DPID=$!
. "$SRC/tests/lib/dns.sh"
dns_wait "$PORT" || { echo "enrich: dnsmasq does not answer"; cat "$T/err"; exit 1; }
export DMARCSTAT_DB="$T/b.db"
start=$(date +%s.%N)
xargs -a "$T/ips" "$BUILD/dmarcstat" enrich --json --resolver 127.0.0.1:"$PORT" > "$T/out" || { cat "$T/out"; exit 1; }
end=$(date +%s.%N)
python3 - "$start" "$end" "$T/out" "$N" <<'PY'
import json, sys
d = float(sys.argv[2]) - float(sys.argv[1])
o = json.load(open(sys.argv[3]))
n = int(sys.argv[4])
ok = d < 10.0 * n / 10000 and o["ok"] + o["nxdomain"] == n
print("enrich: %d IPs in %.2f s (%.0f IPs/s; PTR %d, forward-confirmed %d, NXDOMAIN %d, timeouts %d) - target < 10 s per 10,000: %s"
      % (n, d, n / d, o["ok"], o["fcrdns_ok"], o["nxdomain"], o["timeout"], "OK" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PY

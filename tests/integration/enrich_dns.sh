#!/bin/bash
# enrich_dns.sh - `dmarcstat enrich` against a real DNS server on loopback.
#
# Starts dnsmasq on a random high port with PTR/A/AAAA fixtures and a tiny
# Python UDP server with two sockets: one never answers ("slow"), one
# answers SERVFAIL ("failing"); dnsmasq forwards one reverse zone to each.
# Fixtures: good v4 + v6 (forward-confirmed), lying (PTR name whose A does
# not point back), NXDOMAIN, SERVFAIL, timeout, a known service
# (o1.sendgrid.net), and a libloc lookup (8.8.8.8 -> AS15169, US).
# Then checks ip_info, the cache (second run looks nothing up), the
# stale-while-error rule, offline mode and an unreachable resolver.
# Exit 77 (skip) when dnsmasq or python3 is missing.
set -u
BIN=${DMARCSTAT_BIN:?}
SRC=${DMARCSTAT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || { echo "skip: no dnsmasq"; exit 77; }
DNSMASQ=$(command -v dnsmasq 2>/dev/null || echo /usr/sbin/dnsmasq)
command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }
command -v sqlite3 >/dev/null 2>&1 || { echo "skip: no sqlite3"; exit 77; }

T=$(mktemp -d /tmp/enrich_dns.XXXXXX)
chmod 755 "$T"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

free_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PORT=$(free_port); SLOW=$(free_port); BAD=$(free_port)

# The fake upstreams: SLOW never answers, BAD answers SERVFAIL to everything.
cat > "$T/fake.py" <<'PY'
import socket, select, sys
slow = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); slow.bind(("127.0.0.1", int(sys.argv[1])))
bad = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); bad.bind(("127.0.0.1", int(sys.argv[2])))
open(sys.argv[3], "w").write("ready\n")
while True:
    r, _, _ = select.select([slow, bad], [], [])
    for s in r:
        q, addr = s.recvfrom(4096)
        if s is bad and len(q) >= 12:
            # same id and question, QR=1, RD/RA, RCODE=2 (SERVFAIL), no answers
            s.sendto(q[:2] + bytes([0x81, 0x82]) + q[4:6] + b"\0\0\0\0\0\0" + q[12:], addr)
PY
python3 "$T/fake.py" "$SLOW" "$BAD" "$T/fake.ready" &
PIDS+=($!)

"$DNSMASQ" --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
	--port="$PORT" --listen-address=127.0.0.1 --bind-interfaces --user=nobody --pid-file= \
	--local=/in-addr.arpa/ --local=/ip6.arpa/ --local=/example.co.jp/ --local=/sendgrid.net/ \
	--local=/example.net/ \
	--server=/8.100.51.198.in-addr.arpa/127.0.0.1#"$SLOW" \
	--server=/9.100.51.198.in-addr.arpa/127.0.0.1#"$BAD" \
	--ptr-record=10.2.0.192.in-addr.arpa,mail.example.co.jp \
	--address=/mail.example.co.jp/192.0.2.10 \
	--ptr-record=5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa,mx6.example.co.jp \
	--host-record=mx6.example.co.jp,2001:db8::25 \
	--ptr-record=66.2.0.192.in-addr.arpa,liar.example.net \
	--address=/liar.example.net/192.0.2.99 \
	--ptr-record=5.1.89.167.in-addr.arpa,o1.ptr1234.sendgrid.net \
	--address=/o1.ptr1234.sendgrid.net/167.89.1.5 \
	--log-queries --log-facility="$T/dnsmasq.log" 2>"$T/dnsmasq.err" &
PIDS+=($!)

. "$SRC/tests/lib/dns.sh"
for _ in $(seq 50); do
	[ -f "$T/fake.ready" ] && dns_answers "$PORT" && break
	sleep 0.1
done
[ -s "$T/dnsmasq.err" ] && grep -qi "failed\|error" "$T/dnsmasq.err" && { cat "$T/dnsmasq.err"; fail "dnsmasq did not start"; }

export DMARCSTAT_DB="$T/e.db"
IPS="192.0.2.10 2001:db8::25 192.0.2.66 192.0.2.77 198.51.100.8 198.51.100.9 167.89.1.5 8.8.8.8"
start=$(date +%s.%N)
# shellcheck disable=SC2086
"$BIN" enrich --resolver 127.0.0.1:"$PORT" --timeout 300 --tries 2 $IPS > "$T/out1" || fail "enrich exited $?"
end=$(date +%s.%N)
cat "$T/out1"
q() { sqlite3 -separator '|' "$DMARCSTAT_DB" "$1"; }
row() { q "SELECT coalesce(ptr,''), ptr_status, coalesce(fcrdns,''), coalesce(base_domain,''), coalesce(service,'') FROM ip_info WHERE ip='$1'"; }

[ "$(row 192.0.2.10)" = "mail.example.co.jp|ok|1|example.co.jp|" ] || fail "good v4: $(row 192.0.2.10)"
[ "$(row 2001:db8::25)" = "mx6.example.co.jp|ok|1|example.co.jp|" ] || fail "good v6: $(row 2001:db8::25)"
[ "$(row 192.0.2.66)" = "liar.example.net|ok|0|example.net|" ] || fail "lying: $(row 192.0.2.66)"
[ "$(row 192.0.2.77)" = "|nxdomain|||" ] || fail "nxdomain: $(row 192.0.2.77)"
[ "$(row 198.51.100.8)" = "|timeout|||" ] || fail "slow: $(row 198.51.100.8)"
[ "$(row 198.51.100.9)" = "|servfail|||" ] || fail "failing: $(row 198.51.100.9)"
[ "$(row 167.89.1.5)" = "o1.ptr1234.sendgrid.net|ok|1|sendgrid.net|sendgrid" ] || fail "service: $(row 167.89.1.5)"
# libloc (Debian's libloc-database): Google's resolver.
geo=$(q "SELECT asn, country FROM ip_info WHERE ip='8.8.8.8'")
if [ -n "$(q "SELECT 1 FROM ip_info WHERE ip='8.8.8.8' AND asn IS NOT NULL")" ]; then
	[ "$geo" = "15169|US" ] || fail "libloc 8.8.8.8: $geo"
else
	echo "note: no libloc database: geo not checked"
fi
# TTLs: negative cached for a day, transient failures for an hour.
[ "$(q "SELECT expires_at - resolved_at FROM ip_info WHERE ip='192.0.2.77'")" = 86400 ] || fail "negative TTL"
[ "$(q "SELECT expires_at - resolved_at FROM ip_info WHERE ip='198.51.100.8'")" = 3600 ] || fail "error TTL"
[ "$(q "SELECT expires_at - resolved_at FROM ip_info WHERE ip='192.0.2.10'")" = 604800 ] || fail "positive TTL"
# The slow one is bounded: 300 ms + 600 ms, not seconds per IP.
python3 -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); print('elapsed %.2f s' % d); sys.exit(0 if d < 4 else 1)" "$start" "$end" \
	|| fail "too slow"

# A source table driven by records: import one report holding these IPs,
# then `enrich` without arguments looks up only what is not cached.
cat > "$T/r.xml" <<XML
<?xml version="1.0"?>
<feedback><report_metadata><org_name>test</org_name><email>t@example.org</email>
<report_id>enrich-1</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range>
</report_metadata><policy_published><domain>example.co.jp</domain><p>none</p></policy_published>
$(for ip in 192.0.2.10 192.0.2.66 203.0.113.200; do echo "<record><row><source_ip>$ip</source_ip><count>3</count><policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.co.jp</header_from></identifiers><auth_results><spf><domain>example.co.jp</domain><result>fail</result></spf></auth_results></record>"; done)
</feedback>
XML
"$BIN" import -q "$T/r.xml" || fail "import"
before=$(grep -c 'query\[PTR\]' "$T/dnsmasq.log")
"$BIN" enrich --json --resolver 127.0.0.1:"$PORT" --timeout 300 > "$T/out2" || fail "enrich 2"
cat "$T/out2"
grep -q '"ips":1,' "$T/out2" || fail "cache: only the new IP should be looked up"
after=$(grep -c 'query\[PTR\]' "$T/dnsmasq.log")
[ $((after - before)) -eq 1 ] || fail "cache: $((after - before)) PTR queries, want 1"
[ "$(row 203.0.113.200)" = "|nxdomain|||" ] || fail "new IP: $(row 203.0.113.200)"

# Stale-while-error: a known PTR survives a run where DNS times out.
"$BIN" enrich --refresh --resolver 127.0.0.1:"$SLOW" --timeout 200 --tries 1 192.0.2.10 >/dev/null || fail "enrich slow"
[ "$(row 192.0.2.10)" = "mail.example.co.jp|ok|1|example.co.jp|" ] || fail "stale PTR lost: $(row 192.0.2.10)"

# An unreachable resolver: give up after one round of timeouts, do not wait per IP.
many=$(python3 -c 'print(" ".join("10.9.%d.%d" % (i // 250, i % 250 + 1) for i in range(400)))')
start=$(date +%s.%N)
# shellcheck disable=SC2086
"$BIN" enrich --resolver 127.0.0.1:"$SLOW" --timeout 200 --tries 1 --concurrency 50 $many > "$T/out3" || fail "enrich unreachable"
end=$(date +%s.%N)
cat "$T/out3"
python3 -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); sys.exit(0 if d < 3 else 1)" "$start" "$end" || fail "unreachable resolver: waited too long"
grep -q "did not answer" "$T/out3" || fail "unreachable resolver not reported"
[ "$(q "SELECT count(*) FROM ip_info WHERE ip LIKE '10.9.%' AND ptr_status IN ('unresolved','timeout')")" = 400 ] || fail "unreachable: statuses"

# Offline: no DNS at all, geo still filled, returns at once.
rm -f "$T/e.db"
"$BIN" import -q "$T/r.xml" || fail "import 2"
"$BIN" enrich --offline > "$T/out4" || fail "offline"
cat "$T/out4"
[ "$(q "SELECT count(*) FROM ip_info WHERE ptr_status = 'unresolved'")" = 3 ] || fail "offline statuses"
"$BIN" --lang en sources --domain example.co.jp > "$T/out5" || fail "sources"
grep -q "not resolved" "$T/out5" || fail "sources: offline hosts should read 'not resolved'"
echo "enrich_dns: ok"

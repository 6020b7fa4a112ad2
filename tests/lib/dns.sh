# tests/lib/dns.sh - waiting for a DNS server on loopback (dnsmasq started by
# a test or benchmark script; source this file).
#
#   dns_answers PORT   0 when 127.0.0.1:PORT answers one PTR query within
#                      0.2 s (any answer: NXDOMAIN is an answer too)
#   dns_wait PORT      polls dns_answers for up to 10 s; 1 if it never did
# A fixed pause after starting the server is not enough on a loaded machine.

dns_answers() {
	python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
# a PTR query for 10.2.0.192.in-addr.arpa
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"".join(bytes([len(l)]) + l.encode() for l in "10.2.0.192.in-addr.arpa".split(".")) + b"\x00\x00\x0c\x00\x01"
s.sendto(q, ("127.0.0.1", int(sys.argv[1])))
try:
    s.recvfrom(512); sys.exit(0)
except Exception:
    sys.exit(1)
PY
}

dns_wait() {
	local _
	for _ in $(seq 100); do
		dns_answers "$1" && return 0
		sleep 0.1
	done
	return 1
}

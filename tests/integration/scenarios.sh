#!/bin/bash
# scenarios.sh - sender intelligence end to end: reports with a known truth
# (own servers, an ESP without aligned DKIM, a forwarder, a mailing list,
# a spoofer) are imported, enriched against dnsmasq on loopback, and must
# come out in the right class with the right advice, in English and
# Japanese.  A second part checks dmarcgen's generated month, whose truth is
# known by construction (SendGrid misconfigured on the p=none domain).
# Exit 77 when dnsmasq or python3 is missing.
set -u
BIN=${DMARCSTAT_BIN:?}
SRC=${DMARCSTAT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
DNSMASQ=$(command -v dnsmasq 2>/dev/null || echo /usr/sbin/dnsmasq)
[ -x "$DNSMASQ" ] || { echo "skip: no dnsmasq"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

T=$(mktemp -d /tmp/scenarios.XXXXXX)
chmod 755 "$T"
DPID=
cleanup() { [ -n "$DPID" ] && kill "$DPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat > "$T/hosts" <<H
192.0.2.10 mail.example.co.jp
192.0.2.11 mail2.example.co.jp
167.89.1.5 o1.ptr1234.sendgrid.net
198.51.100.20 relay.university.example
198.51.100.30 lists.example.org
H
"$DNSMASQ" --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --addn-hosts="$T/hosts" \
	--port="$PORT" --listen-address=127.0.0.1 --bind-interfaces --user=nobody --pid-file= \
	--local=/in-addr.arpa/ --local=/ip6.arpa/ 2>"$T/dnsmasq.err" &
DPID=$!
. "$SRC/tests/lib/dns.sh"
dns_wait "$PORT" || fail "dnsmasq does not answer"

# Reports: 16 days, two reporters, p=none.  Each record is (ip, count,
# dkim_eval, spf_eval, dkim results, spf results, override reason).
python3 - "$T" <<'PY'
import sys, os
T = sys.argv[1]
rows = [
  ("192.0.2.10", 40, "pass", "pass", [("example.co.jp", "pass")], [("example.co.jp", "pass")], None),   # own
  ("192.0.2.11", 5, "fail", "pass", [], [("example.co.jp", "pass")], None),                         # own, SPF only
  ("167.89.1.5", 20, "fail", "fail", [("sendgrid.net", "pass")], [("sendgrid.net", "pass")], None), # ESP
  ("198.51.100.20", 2, "pass", "fail", [("example.co.jp", "pass")], [("example.co.jp", "fail")], None),  # forwarder
  ("198.51.100.30", 1, "fail", "fail", [("example.co.jp", "fail")], [("lists.example.org", "pass")], None),  # list
  ("203.0.113.99", 3, "fail", "fail", [], [("example.co.jp", "fail")], None),                       # spoofer
]
t0 = 1700006400
n = 0
for day in range(16):
    for org in ("google.com", "Yahoo"):
        recs = []
        for ip, c, de, se, dk, sp, rs in rows:
            auth = "".join("<dkim><domain>%s</domain><result>%s</result></dkim>" % d for d in dk)
            auth += "".join("<spf><domain>%s</domain><result>%s</result></spf>" % s for s in sp)
            recs.append("<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated>"
                "<disposition>none</disposition><dkim>%s</dkim><spf>%s</spf></policy_evaluated></row>"
                "<identifiers><header_from>example.co.jp</header_from></identifiers>"
                "<auth_results>%s</auth_results></record>" % (ip, c, de, se, auth))
        b = t0 + day * 86400
        open(os.path.join(T, "r%03d.xml" % n), "w").write(
            "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>%s</org_name>"
            "<email>d@%s</email><report_id>s-%d</report_id><date_range><begin>%d</begin><end>%d</end>"
            "</date_range></report_metadata><policy_published><domain>example.co.jp</domain>"
            "<adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>%s</feedback>"
            % (org, org, n, b, b + 86399, "".join(recs)))
        n += 1
PY
export DMARCSTAT_DB="$T/s.db"
"$BIN" import -q "$T"/r*.xml || fail "import"

# Before enrichment: nothing waits on DNS; unidentified failures are "not enriched yet".
"$BIN" sources --json > "$T/pre.json" || fail "sources before enrich"
python3 - "$T/pre.json" <<'PY' || fail "before enrichment"
import json, sys
s = {x["ip"]: x for x in json.load(open(sys.argv[1]))["sources"]}
assert s["203.0.113.99"]["ptr_status"] == "pending", s["203.0.113.99"]["ptr_status"]
assert s["203.0.113.99"]["reason"]["code"] == "unknown.not_enriched", s["203.0.113.99"]["reason"]
PY

"$BIN" enrich --resolver 127.0.0.1:"$PORT" --timeout 500 || fail "enrich"
"$BIN" sources --domain example.co.jp --json > "$T/src.json" || fail "sources"
python3 - "$T/src.json" <<'PY' || fail "classes"
import json, sys
s = {x["ip"]: x for x in json.load(open(sys.argv[1]))["sources"]}
want = {
  "192.0.2.10": ("legitimate", "legitimate.dkim_spf_aligned"),
  "192.0.2.11": ("legitimate", "legitimate.spf_only"),
  "167.89.1.5": ("misconfigured", "misconfigured.dkim_other_domain"),
  "198.51.100.20": ("forwarded", "forwarded.dkim_survived"),
  "198.51.100.30": ("forwarded", "forwarded.mailing_list"),
  "203.0.113.99": ("spoofing", "spoofing.no_auth"),
}
bad = 0
for ip, (cls, code) in want.items():
    x = s[ip]
    got = (x["class"], x["reason"]["code"])
    if got != (cls, code):
        print("%s: got %s, want %s" % (ip, got, (cls, code))); bad += 1
    for lang in ("en", "ja"):
        assert x["reason"]["messages"][lang], (ip, lang)
sg = s["167.89.1.5"]
assert sg["service"] == "sendgrid" and sg["fcrdns"] is True and sg["group"] == "service:sendgrid", sg
assert "SendGrid" in sg["reason"]["messages"]["en"] and "d=sendgrid.net" in sg["reason"]["messages"]["en"]
assert "d=example.co.jp" in sg["advice"]["messages"]["en"], sg["advice"]
assert s["192.0.2.10"]["own"] is True and s["192.0.2.10"]["group_kind"] == "own"
assert s["198.51.100.30"]["service"] == "mailing-lists"
sys.exit(1 if bad else 0)
PY

# Readiness: not ready, the ESP first, forwarded counted apart, no forwarder in SPF.
"$BIN" readiness example.co.jp --json > "$T/ready.json" || fail "readiness"
python3 - "$T/ready.json" <<'PY' || fail "readiness content"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["verdict"]["verdict"] == "not_ready", r["verdict"]
sim = {x["policy"]: x for x in r["simulation"]}
assert sim["reject"]["legitimate"] == 16 * 2 * 20, sim["reject"]
assert sim["reject"]["forwarded"] == 16 * 2 * 1, sim["reject"]
assert sim["reject"]["spoofing"] == 16 * 2 * 3, sim["reject"]
steps = r["steps"]
assert steps[0]["code"] == "step.dkim_at_service", steps[0]
assert "Add DKIM signing with d=example.co.jp at SendGrid" in steps[0]["messages"]["en"], steps[0]
assert "SendGrid" in steps[0]["messages"]["ja"] and "d=example.co.jp" in steps[0]["messages"]["ja"]
codes = [s["code"] for s in steps]
assert "step.add_dkim_spf_only" in codes and "step.forwarded_info" in codes and "step.policy_keep" in codes, codes
for s in steps:
    en = s["messages"]["en"]
    assert not ("198.51.100" in en and "SPF" in en), en
    assert "university" not in en and "lists.example.org" not in en, en
PY
"$BIN" --lang ja readiness example.co.jp > "$T/ready.ja" || fail "readiness ja"
grep -q "SendGrid.* で d=example.co.jp の DKIM 署名を設定してください" "$T/ready.ja" || { cat "$T/ready.ja"; fail "japanese step"; }
grep -q "準備ができていません" "$T/ready.ja" || fail "japanese verdict"
"$BIN" --lang en senders > "$T/senders.txt" || fail "senders"
head -3 "$T/senders.txt" | grep -q "example.co.jp" || { cat "$T/senders.txt"; fail "own group should be listed first"; }

# The user's knowledge applies at once: reject the spoofer, approve the ESP by service.
"$BIN" sources reject 203.0.113.0/24 --note "not ours" >/dev/null || fail "reject"
"$BIN" sources --source 203.0.113.99 --json | grep -q '"spoofing.rejected_by_user"' || fail "rejected rule"
"$BIN" sources approve --service sendgrid >/dev/null || fail "approve service"
"$BIN" sources list --json | python3 -c 'import json,sys; r=json.load(sys.stdin)["rules"]; assert len(r)==2 and r[1]["kind"]=="service", r' || fail "list"
"$BIN" sources remove 1 >/dev/null || fail "remove"
"$BIN" sources remove 99 >/dev/null 2>&1 && fail "remove of a missing rule should fail"
"$BIN" sources approve --service no-such-thing >/dev/null 2>&1 && fail "unknown service should be refused"

# dmarcgen's month: SendGrid is misconfigured on the p=none domain only.
if [ -x "${DMARCGEN_BIN:-}" ]; then
	"$DMARCGEN_BIN" --out "$T/gen" --days 20 --seed 7 -q || fail "dmarcgen"
	export DMARCSTAT_DB="$T/g.db"
	"$BIN" import -q "$T/gen" || fail "import gen"
	"$BIN" -q enrich --offline || fail "enrich offline"
	"$BIN" sources --domain shop.example.net --json --limit 100000 > "$T/g1.json" || fail "gen sources"
	"$BIN" sources --domain example.com --json --limit 100000 > "$T/g2.json" || fail "gen sources 2"
	python3 - "$T/g1.json" "$T/g2.json" <<'PY' || fail "dmarcgen truth"
import json, sys, ipaddress
sg = [ipaddress.ip_network(n) for n in ("167.89.0.0/17", "149.72.0.0/16")]
def is_sg(ip):
    a = ipaddress.ip_address(ip)
    return a.version == 4 and any(a in n for n in sg)
for path, want in ((sys.argv[1], "misconfigured"), (sys.argv[2], "legitimate")):
    n = 0
    for x in json.load(open(path))["sources"]:
        if is_sg(x["ip"]):
            n += 1
            assert x["class"] == want and x["service"] == "sendgrid", (path, x["ip"], x["class"], x["service"])
    assert n > 0, path
PY
	"$BIN" readiness shop.example.net --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["verdict"]["verdict"] == "not_ready", r["verdict"]
assert r["steps"][0]["code"] == "step.dkim_at_service" and r["steps"][0]["params"]["service_id"] == "sendgrid", r["steps"][0]
' || fail "dmarcgen readiness"
fi
echo "scenarios: ok"

#!/usr/bin/env python3
"""Cross-check dmarcstat against parsedmarc's reading of the shared corpus.

For each sample, report by report: record count, message total, the source
IPs, and the messages per (source IP, disposition).  parsedmarc splits a
report spanning more than 24 h into per-day records; comparisons are made on
sums per (IP, disposition), which that split keeps.

Deliberate differences are listed in EXPECTED with the reason; any other
difference fails the test.  Then the whole corpus is imported into one
database and the ledger is checked: every report imported once.
"""
import json, os, subprocess, sys, tempfile
from collections import Counter

BIN, CORPUS = sys.argv[1], sys.argv[2]

# path -> (what we do, why)
EXPECTED = {
    "dmarcgo/testdata/fixtures/aol.com!georgestarcher.com!1342497600!1342584000.zip":
        ("accept", "parsedmarc rejects <policy_evaluated> without <dkim>/<spf>; we keep the "
                   "record with verdicts 'unknown' (RFC 7489 reality, quirk 13)"),
    "dmarc-report-converter/pkg/dmarc/testdata/test.xml.gz.gz":
        ("accept", "parsedmarc removes one compression layer only; we peel every gzip layer"),
    "dmarc-report-converter/pkg/dmarc/testdata/test_empty.xml":
        ("accept", "metadata and policy are valid, the one record has only empty values "
                   "(count 0): kept with a warning; parsedmarc rejects the empty source IP"),
    "parsedmarc/samples/empty.xml": ("reject", "zero bytes"),
    "dmarc-report-parser/tests/fixtures/plain.txt": ("reject", "11 bytes of text, not a report"),
    "mail-auth/resources/arf/001.eml":
        ("reject", "an ARF abuse complaint (Feedback-Type: abuse), not a DMARC report"),
    "mail-auth/resources/tlsrpt/rpt03.json":
        ("tls", "SMTP TLS report; parsedmarc rejects the missing policy-domain, we recognise it"),
}

def run_parse(path):
    p = subprocess.run([BIN, "parse", "--json", path], capture_output=True, timeout=120)
    try:
        out = json.loads(p.stdout.decode() or "[]")
    except ValueError as e:
        raise AssertionError("%s: parse --json printed invalid JSON: %s" % (path, e))
    return p.returncode, out, p.stderr.decode(errors="replace")

def pd_reports(ref):
    """parsedmarc's aggregate reports, whatever the container."""
    if "report_type" in ref:
        return [ref["report"]] if ref["report_type"] == "aggregate" else []
    for k in ("mbox_results", "maildir_results"):
        if k in ref:
            return ref[k].get("aggregate_reports", [])
    return []

def pd_kind(ref):
    if "report_type" in ref:
        return ref["report_type"]
    for k in ("mbox_results", "maildir_results"):
        if k in ref:
            return "container"
    return "error"

def norm_id(rid):
    rid = (rid or "").strip()
    if rid.startswith("<") and rid.endswith(">"):
        rid = rid[1:-1]
    return rid.split("@")[0]

def by_ip_disp(records, ipkey):
    c = Counter()
    for r in records:
        c[(ipkey(r), r_disp(r))] += int(r["count"])
    return c

def r_disp(r):
    if "policy_evaluated" in r:
        return r["policy_evaluated"]["disposition"]
    return r["disposition"]

def compare(path, ours, theirs, problems):
    if len(ours) < len(set(norm_id(t["report_metadata"]["report_id"]) for t in theirs)):
        problems.append("%s: %d reports, parsedmarc %d" % (path, len(ours), len(theirs)))
        return
    mine = {}
    for o in ours:
        mine.setdefault(norm_id(o["report_id"]), []).append(o)
    for t in theirs:
        rid = norm_id(t["report_metadata"]["report_id"])
        if rid not in mine:
            problems.append("%s: report %s missing" % (path, rid))
            continue
        o = mine[rid][0]
        trec = t["records"]
        want = by_ip_disp(trec, lambda r: r["source"]["ip_address"])
        got = by_ip_disp(o["records"], lambda r: r["source_ip"])
        if want != got:
            problems.append("%s: report %s: messages per (ip, disposition) differ:\n  ours %s\n  theirs %s"
                            % (path, rid, dict(got), dict(want)))
        if sum(want.values()) != o.get("message_total", sum(got.values())):
            problems.append("%s: report %s: message total %s, parsedmarc %d"
                            % (path, rid, o.get("message_total"), sum(want.values())))
        split = t["report_metadata"].get("timespan_requires_normalization")
        if not split and len(trec) != len(o["records"]):
            problems.append("%s: report %s: %d records, parsedmarc %d"
                            % (path, rid, len(o["records"]), len(trec)))
        if {r["source"]["ip_address"] for r in trec} != {r["source_ip"] for r in o["records"]}:
            problems.append("%s: report %s: source IPs differ" % (path, rid))
        if o["policy_domain"] != t["policy_published"]["domain"].lower():
            problems.append("%s: policy domain %s, parsedmarc %s"
                            % (path, o["policy_domain"], t["policy_published"]["domain"]))

def main():
    samples = []
    for d, dirs, names in os.walk(CORPUS):
        dirs.sort()
        rel = os.path.relpath(d, CORPUS)
        if rel.startswith("derived/Maildir"):
            continue
        for n in sorted(names):
            if n.endswith(".parsedmarc.json") or n.startswith("LICENSE") or n == "README.md" or n.startswith("COPYING"):
                continue
            samples.append(os.path.relpath(os.path.join(d, n), CORPUS))
    samples.append("derived/Maildir")
    problems, checked, reports = [], 0, 0
    for rel in samples:
        path = os.path.join(CORPUS, rel)
        refp = path + ".parsedmarc.json"
        if not os.path.exists(refp):
            continue
        ref = json.load(open(refp))
        rc, ours, err = run_parse(path)
        checked += 1
        kind = pd_kind(ref)
        exp = EXPECTED.get(rel)
        if exp:
            what = exp[0]
            if what == "accept" and not ours:
                problems.append("%s: expected a report (%s), got none: %s" % (rel, exp[1], err.strip()))
            if what == "reject" and (ours or rc != 1 or not err.strip()):
                problems.append("%s: expected a one-line rejection (%s), rc=%d" % (rel, exp[1], rc))
            if what == "tls" and ("SMTP TLS" not in err or rc != 1):
                problems.append("%s: expected 'SMTP TLS' recognition, got %r" % (rel, err))
            reports += len(ours)
            continue
        if kind == "aggregate" or kind == "container":
            compare(rel, ours, pd_reports(ref), problems)
            reports += len(ours)
            if kind == "container":
                n_tls = len(ref.get("mbox_results", ref.get("maildir_results", {})).get("smtp_tls_reports", []))
                n_fail = len(ref.get("mbox_results", ref.get("maildir_results", {})).get("failure_reports", []))
                if n_tls and "SMTP TLS" not in err:
                    problems.append("%s: TLS reports inside not recognised" % rel)
                if n_fail and "failure" not in err:
                    problems.append("%s: failure reports inside not recognised" % rel)
        elif kind == "smtp_tls":
            if ours or "SMTP TLS" not in err or rc != 1:
                problems.append("%s: SMTP TLS report not recognised as such (rc=%d): %s" % (rel, rc, err.strip()))
        elif kind == "failure":
            if ours or "failure" not in err or rc != 1:
                problems.append("%s: failure report not recognised as such (rc=%d): %s" % (rel, rc, err.strip()))
        else:
            problems.append("%s: parsedmarc error not in EXPECTED: %s" % (rel, ref))
        for line in err.splitlines():
            if not line.startswith("dmarcstat: "):
                problems.append("%s: stderr line not in the one-line format: %r" % (rel, line))
    # whole corpus into one database: import twice, the second run is all duplicates
    with tempfile.TemporaryDirectory() as t:
        db = os.path.join(t, "c.db")
        p1 = subprocess.run([BIN, "--db", db, "--json", "import", "--no-progress", CORPUS],
                            capture_output=True, timeout=300)
        s1 = json.loads(p1.stdout.decode())
        p2 = subprocess.run([BIN, "--db", db, "--json", "import", "--no-progress", CORPUS],
                            capture_output=True, timeout=300)
        s2 = json.loads(p2.stdout.decode())
        if p1.returncode != 1:
            problems.append("import of the corpus: exit %d, expected 1 (some samples are not reports)" % p1.returncode)
        if s1["imported"] < 40:
            problems.append("import of the corpus: only %d reports imported" % s1["imported"])
        if s2["imported"] != 0 or s2["duplicates"] < s1["imported"]:
            problems.append("re-import: %d imported, %d duplicates (first run imported %d)"
                            % (s2["imported"], s2["duplicates"], s1["imported"]))
        print("corpus import: %s" % json.dumps(s1))
    print("corpus: %d samples checked, %d reports compared, %d problems" % (checked, reports, len(problems)))
    for p in problems:
        print("PROBLEM: " + p)
    print("%d passed, %d failed" % (checked - len({p.split(":")[0] for p in problems}), len({p.split(":")[0] for p in problems})))
    sys.exit(1 if problems else 0)

main()

/*
 * test_aggregate.c - unit tests of the streaming aggregate parser
 * (src/parse/aggregate*.c) and its JSON writer (src/parse/report_json.c).
 *
 * Each fixture in tests/fixtures/aggregate/ shows one quirk.  Every fixture
 * is parsed three times, fed whole, in 7-byte pieces and byte by byte, and
 * the three outcomes must be identical (chunk boundaries must not matter).
 * Records are flattened into "key=value" tokens so a test reads as a list
 * of expectations: has(rec, "spf=fail/hardfail").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "parse/aggregate.h"
#include "parse/report_json.h"

#define MAX_RECS 16

struct result {
	int rc;
	char err[256];
	char header[2048];
	char warnings[4096];
	char recs[MAX_RECS][2048];
	unsigned n_recs;          /* records seen by on_record */
	unsigned n_header_calls;
	unsigned records_before_header;
	unsigned long long n_records, msg_total;
	int stop_at;              /* on_record returns 5 at this record */
};

static const char *
nz(const char *s)
{
	return s ? s : "-";
}

static void
cat(char *dst, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cat(char *dst, size_t len, const char *fmt, ...)
{
	size_t used = strlen(dst);
	va_list ap;

	if (used >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(dst + used, len - used, fmt, ap);
	va_end(ap);
}

static void
flatten_header(char *h, size_t len, const struct report *r)
{
	size_t i;

	h[0] = '\0';
	cat(h, len, " org=%s org_raw=%s email=%s extra=%s rid=%s rid_raw=%s",
	    nz(r->org_name), nz(r->org_name_raw), nz(r->email),
	    nz(r->extra_contact_info), nz(r->report_id), nz(r->report_id_raw));
	cat(h, len, " begin=%lld end=%lld version=%s ns=%s gen=%s",
	    (long long)r->begin, (long long)r->end, nz(r->version),
	    nz(r->xml_namespace), nz(r->generator));
	cat(h, len, " domain=%s adkim=%s aspf=%s p=%s sp=%s np=%s pct=%d "
	    "fo=%s testing=%s disc=%s ext=%s", nz(r->policy.domain),
	    nz(r->policy.adkim), nz(r->policy.aspf), nz(r->policy.p),
	    nz(r->policy.sp), nz(r->policy.np), r->policy.pct,
	    nz(r->policy.fo), nz(r->policy.testing),
	    nz(r->policy.discovery_method), nz(r->extensions));
	for (i = 0; i < r->n_errors; i++)
		cat(h, len, " error%zu=%s", i, r->errors[i]);
	cat(h, len, " ");
}

static int
on_header(void *ctx, const struct report *r)
{
	struct result *res = ctx;

	res->n_header_calls++;
	res->records_before_header = res->n_recs;
	return 0;
}

static int
on_record(void *ctx, const struct report *r, const struct report_record *x)
{
	struct result *res = ctx;
	char *s;
	size_t i, len = sizeof(res->recs[0]);

	if (res->n_recs < MAX_RECS) {
		s = res->recs[res->n_recs];
		s[0] = '\0';
		cat(s, len, " ip=%s ip_raw=%s count=%llu disp=%s/%s "
		    "dkim=%s/%s spf=%s/%s hf=%s ef=%s et=%s ext=%s",
		    nz(x->source_ip), nz(x->source_ip_raw),
		    (unsigned long long)x->count, nz(x->disposition),
		    nz(x->disposition_raw), nz(x->dkim), nz(x->dkim_raw),
		    nz(x->spf), nz(x->spf_raw), nz(x->header_from),
		    nz(x->envelope_from), nz(x->envelope_to),
		    nz(x->extensions));
		for (i = 0; i < x->n_reasons; i++)
			cat(s, len, " reason%zu=%s/%s/%s", i,
			    nz(x->reasons[i].type), nz(x->reasons[i].type_raw),
			    nz(x->reasons[i].comment));
		for (i = 0; i < x->n_dkim; i++) {
			const struct report_dkim *d = &x->dkim_results[i];

			cat(s, len, " dk%zu=%s/%s/%s/%s/%s", i, nz(d->domain),
			    nz(d->selector), nz(d->result), nz(d->result_raw),
			    nz(d->human_result));
		}
		for (i = 0; i < x->n_spf; i++) {
			const struct report_spf *p = &x->spf_results[i];

			cat(s, len, " sf%zu=%s/%s/%s/%s/%s", i, nz(p->domain),
			    nz(p->scope), nz(p->result), nz(p->result_raw),
			    nz(p->human_result));
		}
		cat(s, len, " ");
	}
	res->n_recs++;
	if (res->stop_at > 0 && res->n_recs == (unsigned)res->stop_at)
		return 5;
	return 0;
}

static char *
fixture_path(const char *name)
{
	const char *src = getenv("DMARCSTAT_SRC");
	static char path[4096];

	if (src != NULL) {
		snprintf(path, sizeof(path), "%s/tests/fixtures/aggregate/%s",
		    src, name);
	} else {
		/* __FILE__ is .../tests/unit/test_aggregate.c */
		const char *f = __FILE__, *u = strstr(f, "unit/test_aggregate");
		int n = u ? (int)(u - f) : 0;

		snprintf(path, sizeof(path), "%.*sfixtures/aggregate/%s", n, f,
		    name);
	}
	return path;
}

static char *
load(const char *name, size_t *len)
{
	FILE *fp = fopen(fixture_path(name), "rb");
	char *buf;
	long n;

	if (fp == NULL)
		fail_msg("cannot open fixture %s", fixture_path(name));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void
run(struct result *res, const struct limits *lim, const char *buf, size_t len,
    size_t chunk)
{
	static const struct aggregate_cb cb = { on_header, on_record };
	struct aggregate *a;
	const struct report *r = NULL;
	size_t off = 0, i;
	int stop_at = res->stop_at;

	memset(res, 0, sizeof(*res));
	res->stop_at = stop_at;
	a = aggregate_new(lim, &cb, res);
	assert_non_null(a);
	while (off < len) {
		size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;

		res->rc = aggregate_feed(a, buf + off, n, res->err,
		    sizeof(res->err));
		if (res->rc != 0)
			break;
		off += n;
	}
	if (res->rc == 0)
		res->rc = aggregate_finish(a, &r, res->err, sizeof(res->err));
	if (res->rc == 0) {
		assert_non_null(r);
		flatten_header(res->header, sizeof(res->header), r);
		for (i = 0; i < r->n_warnings; i++)
			cat(res->warnings, sizeof(res->warnings), "%s\n",
			    r->warnings[i]);
		res->n_records = r->n_records;
		res->msg_total = r->msg_total;
	}
	aggregate_free(&a);
	assert_null(a);
}

/* Parses buf whole, in 7-byte pieces and byte by byte; all agree. */
static void
parse_mem_lim(struct result *res, const char *buf, size_t len,
    const struct limits *lim)
{
	static struct result other;
	size_t chunks[] = { 7, 1 }, i, k;

	other.stop_at = res->stop_at;
	run(res, lim, buf, len, 0);
	for (k = 0; k < 2; k++) {
		run(&other, lim, buf, len, chunks[k]);
		assert_int_equal(other.rc, res->rc);
		assert_string_equal(other.err, res->err);
		assert_string_equal(other.header, res->header);
		assert_string_equal(other.warnings, res->warnings);
		assert_int_equal(other.n_recs, res->n_recs);
		for (i = 0; i < res->n_recs && i < MAX_RECS; i++)
			assert_string_equal(other.recs[i], res->recs[i]);
	}
}

/* The same for a fixture file. */
static void
parse_lim(struct result *res, const char *name, const struct limits *lim)
{
	size_t len;
	char *buf = load(name, &len);

	parse_mem_lim(res, buf, len, lim);
	free(buf);
}

static void
parse_mem(struct result *res, const char *buf, size_t len)
{
	struct limits lim;

	limits_default(&lim);
	parse_mem_lim(res, buf, len, &lim);
}

static void
parse(struct result *res, const char *name)
{
	struct limits lim;

	limits_default(&lim);
	parse_lim(res, name, &lim);
}

static void
has_(const char *hay, const char *needle, const char *file, int line)
{
	char tok[512];

	/* Tokens are " key=value " (values may hold spaces): whole match. */
	snprintf(tok, sizeof(tok), " %s ", needle);
	if (strstr(hay, tok) == NULL) {
		print_error("token \"%s\" not in:\n%s\n", needle, hay);
		_fail(file, line);
	}
}

#define has(hay, needle) has_((hay), (needle), __FILE__, __LINE__)

static void
warned_(const struct result *res, const char *part, const char *file,
    int line)
{
	if (strstr(res->warnings, part) == NULL) {
		print_error("no warning containing \"%s\" in:\n%s", part,
		    res->warnings);
		_fail(file, line);
	}
}

#define warned(res, part) warned_((res), (part), __FILE__, __LINE__)

static struct result R;

/* ---- well-formed reports ----------------------------------------------- */

static void
test_basic(void **state)
{
	parse(&R, "basic.xml");
	assert_int_equal(R.rc, 0);
	assert_string_equal(R.warnings, "");
	has(R.header, "org=reporter.example");
	has(R.header, "rid=rid-0001");
	has(R.header, "begin=1700006400");
	has(R.header, "end=1700092799");
	has(R.header, "version=1.0");
	has(R.header, "ns=-");
	has(R.header, "domain=example.com");
	has(R.header, "aspf=s");
	has(R.header, "p=reject");
	has(R.header, "sp=quarantine");
	has(R.header, "np=-");
	has(R.header, "pct=100");
	has(R.header, "error1=second");
	assert_int_equal(R.n_recs, 2);
	assert_int_equal(R.n_records, 2);
	assert_int_equal(R.msg_total, 7);
	assert_int_equal(R.n_header_calls, 1);
	assert_int_equal(R.records_before_header, 0);
	has(R.recs[0], "ip=192.0.2.10");
	has(R.recs[0], "count=3");
	has(R.recs[0], "dkim=pass/pass");
	has(R.recs[0], "hf=example.com");
	has(R.recs[0], "ef=bounce.example.com");
	has(R.recs[0], "et=rcpt.example");
	has(R.recs[0], "dk0=example.com/s1/pass/pass/-");
	has(R.recs[0], "dk1=esp.example/s2/fail/fail/body hash mismatch");
	has(R.recs[0], "sf0=bounce.example.com/mfrom/softfail/softfail/-");
	has(R.recs[1], "disp=reject/reject");
	has(R.recs[1], "reason0=local_policy/local_policy/first");
	has(R.recs[1], "reason1=mailing_list/mailing_list/-");
	has(R.recs[1], "sf0=example.com/helo/fail/fail/-");
	has(R.recs[1], "ef=-");
}

static void
test_rfc9990(void **state)
{
	parse(&R, "rfc9990.xml");
	assert_int_equal(R.rc, 0);
	assert_string_equal(R.warnings, "");
	has(R.header, "ns=urn:ietf:params:xml:ns:dmarc-2.0");
	has(R.header, "gen=ExampleGen 2.1");
	has(R.header, "np=reject");
	has(R.header, "testing=n");
	has(R.header, "disc=treewalk");
	has(R.header, "pct=-1");
	has(R.header, "error0=one error");
	/* <extension> kept as re-serialised XML */
	assert_non_null(strstr(R.header, "ext=<extension>"));
	assert_non_null(strstr(R.header,
	    "<x:hint a=\"1&amp;2\">free &lt;text&gt;</x:hint>"));
	has(R.recs[0], "ip=2001:db8::1");
	has(R.recs[0], "disp=pass/pass");
	has(R.recs[0], "ef=");
	has(R.recs[0], "reason0=policy_test_mode/policy_test_mode/t=y");
	has(R.recs[0], "dk0=example.org/k1/pass/pass/good signature");
	has(R.recs[0], "sf0=example.org/-/pass/pass/ok");
	has(R.recs[0], "ext=<x:seen>yes</x:seen>");
}

static void
test_namespace_prefixes(void **state)
{
	parse(&R, "namespace_prefixes.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "ns=http://dmarc.org/dmarc-xml/0.1");
	has(R.header, "org=Prefixed");
	has(R.recs[0], "count=6");
	/* unknown prefix, never declared: still kept, never fatal */
	has(R.recs[0], "ext=<zz:thing>x</zz:thing>");
}

static void
test_any_order_comments_no_declaration(void **state)
{
	parse(&R, "comments_before_root_no_decl.xml");
	assert_int_equal(R.rc, 0);
	assert_string_equal(R.warnings, "");
	has(R.header, "begin=1700006400");
	has(R.header, "end=1700092799");
	has(R.header, "pct=100");
	has(R.recs[0], "ip=192.0.2.11");
	has(R.recs[0], "count=2");
	has(R.recs[0], "dkim=pass/pass");
	has(R.recs[0], "dk0=example.com/-/pass/pass/");
	has(R.recs[0], "sf0=example.com/-/pass/pass/-");
}

static void
test_one_line_and_bom(void **state)
{
	parse(&R, "one_line_no_newline.xml");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n_records, 1);
	parse(&R, "bom_utf8_one_line.xml");
	assert_int_equal(R.rc, 0);
	assert_string_equal(R.warnings, "");
	has(R.header, "org=bom.example");
	assert_int_equal(R.n_records, 1);
}

static void
test_utf16(void **state)
{
	parse(&R, "utf16le_bom.xml");
	assert_int_equal(R.rc, 0);
	assert_string_equal(R.warnings, "");
	has(R.header, "org=Sixteen \xc3\xa9\xf0\x9f\x98\x80");
	has(R.recs[0], "count=2");
	parse(&R, "utf16be_bom.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "org=Big");
	has(R.recs[0], "count=7");
}

static void
test_windows1252_missing_verdicts(void **state)
{
	parse(&R, "windows1252_missing_verdicts.xml");
	assert_int_equal(R.rc, 0);
	/* e-acute, euro sign, curly quotes transcoded to UTF-8 */
	assert_non_null(strstr(R.header, "org=Soci\xc3\xa9t\xc3\xa9 "
	    "\xe2\x82\xac \xe2\x80\x9c" "AOL\xe2\x80\x9d "));
	/* missing policy_evaluated verdicts are unknown, not fail */
	has(R.recs[0], "dkim=unknown/-");
	has(R.recs[0], "spf=unknown/-");
	has(R.recs[0], "disp=none/none");
}

static void
test_other_encodings(void **state)
{
	parse(&R, "iso8859_15.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "org=Euro \xe2\x82\xac");
}

/* Japanese generators: Shift_JIS (Windows-31J), EUC-JP, ISO-2022-JP. */
static void
test_japanese_encodings(void **state)
{
	/* 株式会社エヌ・ティ・ティ・ドコモ */
	static const char org[] = "org=\xe6\xa0\xaa\xe5\xbc\x8f\xe4\xbc"
	    "\x9a\xe7\xa4\xbe\xe3\x82\xa8\xe3\x83\x8c\xe3\x83\xbb"
	    "\xe3\x83\x86\xe3\x82\xa3\xe3\x83\xbb\xe3\x83\x86\xe3"
	    "\x82\xa3\xe3\x83\xbb\xe3\x83\x89\xe3\x82\xb3\xe3\x83"
	    "\xa2";
	/* 署名は有効です */
	static const char human[] = "/\xe7\xbd\xb2\xe5\x90\x8d\xe3\x81"
	    "\xaf\xe6\x9c\x89\xe5\x8a\xb9\xe3\x81\xa7\xe3\x81\x99";
	/* 表示 (its Shift_JIS bytes hold 0x5C, a backslash in ASCII) */
	static const char hyoji[] = "\xe8\xa1\xa8\xe7\xa4\xba";
	const char *const files[] = { "shift_jis.xml", "euc_jp.xml",
		"iso2022jp.xml" };
	size_t i;

	for (i = 0; i < 3; i++) {
		parse(&R, files[i]);
		assert_int_equal(R.rc, 0);
		assert_string_equal(R.warnings, "");
		has(R.header, org);
		assert_non_null(strstr(R.header, hyoji));
		assert_int_equal(R.n_recs, 1);
		has(R.recs[0], "count=5");
		assert_non_null(strstr(R.recs[0], human));
		/* 転送 in the reason comment */
		assert_non_null(strstr(R.recs[0], "reason0=forwarded/"
		    "forwarded/\xe8\xbb\xa2\xe9\x80\x81"));
	}
	/* half-width katakana (one byte each in Shift_JIS) and a circled
	 * digit (an NEC extension of Windows-31J) */
	parse(&R, "shift_jis.xml");
	assert_non_null(strstr(R.recs[0], "\xef\xbd\xb1\xef\xbd\xb2"
	    "\xef\xbd\xb3 \xe2\x91\xa0"));
}

#define MB_DOC(enc, org) "<?xml version=\"1.0\" encoding=\"" enc "\"?>" \
	"<feedback><report_metadata><org_name>" org "</org_name>" \
	"<report_id>r</report_id></report_metadata><policy_published>" \
	"<domain>example.com</domain></policy_published><record><row>" \
	"<source_ip>192.0.2.1</source_ip><count>1</count></row>" \
	"</record></feedback>"

/* Chinese and Korean labels, aliases, invalid bytes. */
static void
test_multibyte_encodings(void **state)
{
	static const char gbk[] = MB_DOC("GB2312", "\xd6\xd0\xce\xc4");
	static const char gb18030[] = MB_DOC("gb18030",
	    "\x81\x30\x81\x30");
	static const char big5[] = MB_DOC("Big5", "\xa4\xa4\xa4\xe5");
	static const char euckr[] = MB_DOC("EUC-KR", "\xc7\xd1\xb1\xb9");
	static const char cp932[] = MB_DOC("Windows-31J", "\x93\xfa\x96\x7b");
	/* 0x82 0x20: a lead byte followed by a space; 0xa0 is unused */
	static const char bad[] = MB_DOC("Shift_JIS",
	    "a\x82 b\xa0\xfd\x93\xfa");
	static const char cut[] = MB_DOC("Shift_JIS", "x") "\x93";

	parse_mem(&R, gbk, sizeof(gbk) - 1);
	assert_int_equal(R.rc, 0);
	has(R.header, "org=\xe4\xb8\xad\xe6\x96\x87");
	parse_mem(&R, gb18030, sizeof(gb18030) - 1);
	assert_int_equal(R.rc, 0);
	has(R.header, "org=\xc2\x80");
	parse_mem(&R, big5, sizeof(big5) - 1);
	assert_int_equal(R.rc, 0);
	has(R.header, "org=\xe4\xb8\xad\xe6\x96\x87");
	parse_mem(&R, euckr, sizeof(euckr) - 1);
	assert_int_equal(R.rc, 0);
	has(R.header, "org=\xed\x95\x9c\xea\xb5\xad");
	parse_mem(&R, cp932, sizeof(cp932) - 1);
	assert_int_equal(R.rc, 0);
	has(R.header, "org=\xe6\x97\xa5\xe6\x9c\xac");
	assert_null(strstr(R.warnings, "U+FFFD"));

	/* invalid bytes: U+FFFD each, decoding goes on, one warning */
	parse_mem(&R, bad, sizeof(bad) - 1);
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n_recs, 1);
	assert_non_null(strstr(R.header, "org=a\xef\xbf\xbd"));
	assert_non_null(strstr(R.header, "\xe6\x97\xa5 "));
	warned(&R, "invalid in CP932 with U+FFFD");
	assert_null(strstr(strstr(R.warnings, "CP932") + 1, "CP932"));

	/* a lead byte cut by the end of input: one U+FFFD, a warning */
	parse_mem(&R, cut, sizeof(cut) - 1);
	assert_int_equal(R.rc, 0);
	warned(&R, "invalid in CP932");
}

/* UTF-32 with and without a byte order mark, both byte orders. */
static void
test_utf32(void **state)
{
	static const char doc[] = MB_DOC("UTF-32", "\xc3\xa9t\xc3\xa9");
	unsigned char buf[4 * sizeof(doc) + 4];
	size_t n, i, k;
	int be, bom;

	for (k = 0; k < 4; k++) {
		uint32_t cp;
		const unsigned char *p = (const unsigned char *)doc;

		be = k & 1;
		bom = k >> 1;
		n = 0;
		if (bom) {
			static const unsigned char le[] = { 0xff, 0xfe, 0, 0 };
			static const unsigned char bem[] = { 0, 0, 0xfe, 0xff };

			memcpy(buf, be ? bem : le, 4);
			n = 4;
		}
		/* the document's UTF-8 (ASCII and U+00E9 only) as UTF-32 */
		for (i = 0; p[i] != '\0'; i++) {
			if (p[i] == 0xc3) {
				cp = 0xc0 | (p[++i] & 0x3f);
			} else {
				cp = p[i];
			}
			buf[n + (be ? 3 : 0)] = (unsigned char)(cp & 0xff);
			buf[n + (be ? 2 : 1)] = (unsigned char)(cp >> 8);
			buf[n + (be ? 1 : 2)] = 0;
			buf[n + (be ? 0 : 3)] = 0;
			n += 4;
		}
		parse_mem(&R, (const char *)buf, n);
		assert_int_equal(R.rc, 0);
		has(R.header, "org=\xc3\xa9t\xc3\xa9");
		assert_int_equal(R.n_recs, 1);
	}
}

static void
test_invalid_utf8(void **state)
{
	parse(&R, "invalid_utf8.xml");
	assert_int_equal(R.rc, 0);
	assert_non_null(strstr(R.header, "org=Bad \xef\xbf\xbd\xef\xbf\xbd "
	    "bytes \xef\xbf\xbd( and \xef\xbf\xbd "));
	has(R.header, "rid=iu\xef\xbf\xbd");
	has(R.recs[0], "hf=caf\xef\xbf\xbd.example");
	warned(&R, "invalid UTF-8");
	warned(&R, "not allowed in XML");
}

/* ---- broken XML -------------------------------------------------------- */

static void
test_broken_lt(void **state)
{
	parse(&R, "broken_lt.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "email=<someone@broken.example>");
	assert_int_equal(R.n_records, 2);
	assert_int_equal(R.msg_total, 3);
	has(R.recs[0], "hf=bad<mail.example");
	has(R.recs[0], "sf0=at&t.example/-/none/none/-");
	has(R.recs[1], "count=2");
	has(R.recs[1], "hf=example.com");
	warned(&R, "stray '<'");
	warned(&R, "stray '&'");
	warned(&R, "</bogus>");
	warned(&R, "left open (first <br>)");
}

static void
test_kddi_missing_lt(void **state)
{
	parse(&R, "kddi_missing_lt.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "rid=20240101.kddi.1");
	has(R.header, "begin=1700006400");
	assert_int_equal(R.n_records, 1);
	warned(&R, "missing its '<': <report_id>");
}

static void
test_junk_schema_before_root(void **state)
{
	parse(&R, "junk_schema_before_root.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "org=Wrapped Inc");
	has(R.recs[0], "count=9");
	warned(&R, "<xs:schema> wrapped around <feedback>");
}

static void
test_junk_after_root(void **state)
{
	parse(&R, "junk_after_root.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "rid=ja-1");
	warned(&R, "after the root element");
}

static void
test_truncated(void **state)
{
	parse(&R, "truncated.xml");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n_records, 1);
	assert_int_equal(R.msg_total, 1);
	warned(&R, "input ends inside a tag");
	warned(&R, "element(s) open");
	warned(&R, "dropped 1 incomplete record");
}

static void
test_duplicate_attribute(void **state)
{
	/* expat refuses repeated attributes; the filter drops the repeat */
	parse(&R, "duplicate_attribute.xml");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n_records, 3);
	assert_int_equal(R.msg_total, 104);
	has(R.recs[1], "ip=192.0.2.41");
	has(R.recs[1], "dkim=unknown/-");
	warned(&R, "repaired 1 tag(s)");
}

static void
test_records_before_metadata(void **state)
{
	/* Streaming: on_header comes before the first record regardless. */
	parse(&R, "records_before_metadata.xml");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n_header_calls, 1);
	assert_int_equal(R.records_before_header, 0);
	assert_int_equal(R.n_records, 1);
	has(R.header, "org=late.example");
	has(R.header, "domain=example.com");
	warned(&R, "<report_metadata> after the first <record>");
	warned(&R, "<policy_published> after the first <record>");
}

/* ---- values ------------------------------------------------------------ */

static void
test_whitespace(void **state)
{
	parse(&R, "whitespace_numbers.xml");
	assert_int_equal(R.rc, 0);
	assert_string_equal(R.warnings, "");
	has(R.header, "org=Spaces Inc");
	has(R.header, "email=x@spaces.example");
	has(R.header, "rid=ws-1");
	has(R.header, "end=1524268799");
	has(R.header, "begin=1524182400");
	has(R.header, "pct=50");
	has(R.header, "p=none");
	has(R.recs[0], "ip=192.0.2.13");
	has(R.recs[0], "count=12");
	has(R.recs[0], "spf=fail/fail");
}

static void
test_empty_values(void **state)
{
	parse(&R, "empty_values.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "org=empty.example");
	has(R.header, "org_raw=");
	has(R.header, "adkim=-");
	has(R.header, "pct=-1");
	warned(&R, "using the email domain \"empty.example\"");
	warned(&R, "missing or empty source_ip");
	has(R.recs[0], "ip=-");
	has(R.recs[0], "ip_raw=");
	has(R.recs[0], "count=0");
	has(R.recs[0], "disp=unknown/");
	has(R.recs[0], "dkim=unknown/");
	has(R.recs[0], "ef=");
	has(R.recs[1], "sf0=/-/none/none/-");
}

static void
test_mixed_case_aliases(void **state)
{
	parse(&R, "mixed_case_aliases.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "adkim=r");
	has(R.header, "aspf=s");
	has(R.header, "p=reject");
	has(R.header, "sp=none");
	has(R.header, "np=quarantine");
	has(R.recs[0], "disp=none/None");
	has(R.recs[0], "dkim=pass/Pass");
	has(R.recs[0], "spf=fail/HardFail");
	has(R.recs[0], "hf=example.com");
	has(R.recs[0], "dk0=example.com/Sel/fail/FAIL/-");
	has(R.recs[0], "dk1=example.com/x/weird-word/weird-Word/-");
	has(R.recs[0], "sf0=example.com/mfrom/fail/hardfail/-");
	has(R.recs[0], "sf1=example.com/helo/temperror/unknown/-");
	has(R.recs[0], "sf2=example.com/helo/permerror/Error/-");
	has(R.recs[1], "disp=quarantine/QUARANTINE");
	has(R.recs[1], "spf=temperror/temperror");
}

static void
test_reasons(void **state)
{
	parse(&R, "reasons_empty_type.xml");
	assert_int_equal(R.rc, 0);
	has(R.recs[0], "reason0=other//");
	has(R.recs[0], "reason1=forwarded/Forwarded/via list");
	has(R.recs[0], "reason2=other/-/no type at all");
}

static void
test_report_id_and_version(void **state)
{
	parse(&R, "report_id_brackets.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "rid=1559613526.307161@yahoo.example");
	has(R.header, "rid_raw=<1559613526.307161@yahoo.example>");
	parse(&R, "version_in_metadata.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "version=2.0");
}

static void
test_times(void **state)
{
	parse(&R, "times_fraction_millis.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "begin=1700000000");
	has(R.header, "end=1700086399");
	warned(&R, "looks like milliseconds");
	parse(&R, "times_reversed.xml");
	assert_int_equal(R.rc, 0);
	warned(&R, "begin 1700086399 is after end 1700000000");
	parse(&R, "times_implausible.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "begin=100");
	has(R.header, "end=-1");
	warned(&R, "invalid <end> \"yesterday\"");
	warned(&R, "implausible date_range");
}

static void
test_ip_forms(void **state)
{
	parse(&R, "ip_forms.xml");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n_records, 4);
	has(R.recs[0], "ip=2a01:111:f400::1");
	has(R.recs[1], "ip=2001:db8::1");
	has(R.recs[1], "ip_raw=2001:0DB8:0000:0000:0000:0000:0000:0001");
	has(R.recs[2], "ip=192.0.2.33");
	has(R.recs[3], "ip=999.1.2.3");
	warned(&R, "invalid source_ip kept as written in 1 record(s) "
	    "(first: \"999.1.2.3\")");
}

static void
test_count_invalid(void **state)
{
	parse(&R, "count_invalid.xml");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n_records, 4);
	assert_int_equal(R.msg_total, 5);
	has(R.recs[0], "count=0");
	has(R.recs[1], "count=0");
	has(R.recs[2], "count=0");
	has(R.header, "pct=-1");
	warned(&R, "taken as 0 in 3 record(s) (first: \"ten\")");
	warned(&R, "invalid <pct> \"abc\"");
}

static void
test_repeated_policy(void **state)
{
	parse(&R, "repeated_policy.xml");
	assert_int_equal(R.rc, 0);
	has(R.header, "domain=first.example");
	has(R.header, "p=reject");
	warned(&R, "repeated <policy_published>");
}

/* ---- rejections -------------------------------------------------------- */

static void
test_not_reports(void **state)
{
	static const struct {
		const char *file, *err;
	} t[] = {
		{ "empty.xml", "empty input" },
		{ "whitespace_only.xml", "empty input" },
		{ "garbage_unused.xml",
		  "not a DMARC aggregate report: no XML element found" },
		{ "not_feedback.xml",
		  "not a DMARC aggregate report: root element is <html>" },
		{ "doctype_refused.xml", "DTD not allowed" },
		{ "no_policy.xml",
		  "unusable aggregate report: no <policy_published>" },
		{ "no_metadata_no_policy.xml", "not a DMARC aggregate report: "
		  "<feedback> has neither report_metadata nor "
		  "policy_published" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		parse(&R, t[i].file);
		if (R.rc != -1 || strcmp(R.err, t[i].err) != 0)
			fail_msg("%s: rc %d err \"%s\", want \"%s\"",
			    t[i].file, R.rc, R.err, t[i].err);
		assert_int_equal(R.n_recs, 0);
	}
}

/* ---- limits and callbacks ---------------------------------------------- */

static void
test_limits(void **state)
{
	struct limits lim;

	limits_default(&lim);
	lim.max_xml_depth = 8;
	parse_lim(&R, "deep_nesting.xml", &lim);
	assert_int_equal(R.rc, -1);
	assert_string_equal(R.err, "XML nesting deeper than max_xml_depth (8)");

	limits_default(&lim);
	lim.max_records = 1;
	parse_lim(&R, "basic.xml", &lim);
	assert_int_equal(R.rc, -1);
	assert_string_equal(R.err, "too many records (more than max_records "
	    "= 1)");
	assert_int_equal(R.n_recs, 1);

	limits_default(&lim);
	lim.max_results = 1;
	parse_lim(&R, "basic.xml", &lim);
	assert_int_equal(R.rc, 0);
	has(R.recs[0], "dk0=example.com/s1/pass/pass/-");
	assert_null(strstr(R.recs[0], " dk1="));
	warned(&R, "beyond max_results (1)");

	/* Truncation never cuts a UTF-8 sequence: "Sixteen " + e-acute. */
	limits_default(&lim);
	lim.max_text = 9;
	parse_lim(&R, "utf16le_bom.xml", &lim);
	assert_int_equal(R.rc, 0);
	has(R.header, "org=Sixteen");
	warned(&R, "longer than max_text (9 bytes)");
	limits_default(&lim);
	lim.max_text = 10;
	parse_lim(&R, "utf16le_bom.xml", &lim);
	has(R.header, "org=Sixteen \xc3\xa9");

	limits_default(&lim);
	lim.max_expanded_bytes = 100;
	parse_lim(&R, "basic.xml", &lim);
	assert_int_equal(R.rc, -1);
	assert_non_null(strstr(R.err, "max_expanded_bytes"));
}

static void
test_callback_stop(void **state)
{
	R.stop_at = 1;
	parse(&R, "basic.xml");
	R.stop_at = 0;
	assert_int_equal(R.rc, 5);
	assert_string_equal(R.err, "stopped");
	assert_int_equal(R.n_recs, 1);
}

/* Many records fed in odd pieces: counts add up and time stays linear. */
static void
test_large_report(void **state)
{
	static const char head[] = "<?xml version=\"1.0\"?><feedback>"
	    "<report_metadata><org_name>big</org_name><email>a@b.example"
	    "</email><report_id>big-1</report_id><date_range><begin>"
	    "1700006400</begin><end>1700092799</end></date_range>"
	    "</report_metadata><policy_published><domain>example.com"
	    "</domain><p>none</p></policy_published>\n";
	static const char rec[] = "<record><row><source_ip>192.0.2.%u"
	    "</source_ip><count>%u</count><policy_evaluated><disposition>none"
	    "</disposition><dkim>pass</dkim><spf>fail</spf>"
	    "</policy_evaluated></row><identifiers><header_from>example.com"
	    "</header_from></identifiers><auth_results><dkim><domain>"
	    "example.com</domain><selector>s</selector><result>pass</result>"
	    "</dkim><spf><domain>example.com</domain><result>fail</result>"
	    "</spf></auth_results></record>\n";
	const unsigned n = 100000;
	size_t cap = n * 512 + 1024, len = 0, off = 0;
	char *buf = malloc(cap), err[256];
	unsigned long long want = 0;
	struct limits lim;
	struct aggregate *a;
	const struct report *r;
	unsigned i;
	clock_t t0;
	double secs;

	assert_non_null(buf);
	len += (size_t)snprintf(buf, cap, "%s", head);
	for (i = 0; i < n; i++) {
		len += (size_t)snprintf(buf + len, cap - len, rec, i % 250,
		    i % 7 + 1);
		want += i % 7 + 1;
	}
	len += (size_t)snprintf(buf + len, cap - len, "</feedback>\n");
	limits_default(&lim);
	a = aggregate_new(&lim, NULL, NULL);
	t0 = clock();
	while (off < len) {
		size_t k = len - off < 65537 ? len - off : 65537;

		assert_int_equal(aggregate_feed(a, buf + off, k, err,
		    sizeof(err)), 0);
		off += k;
	}
	assert_int_equal(aggregate_finish(a, &r, err, sizeof(err)), 0);
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	assert_int_equal(r->n_records, n);
	assert_int_equal(r->msg_total, want);
	assert_int_equal(r->n_warnings, 0);
	print_message("    %zu bytes in %.3f s (%.0f MB/s)\n", len, secs,
	    secs > 0 ? len / secs / 1e6 : 0.0);
	aggregate_free(&a);
	free(buf);
}

/* ---- JSON -------------------------------------------------------------- */

static json_t *
json_of(const char *const *files, size_t nfiles)
{
	struct limits lim;
	char *out = NULL, err[256], *buf;
	size_t outlen = 0, len, i;
	FILE *fp = open_memstream(&out, &outlen);
	struct report_json *j;
	json_error_t jerr;
	json_t *doc;

	assert_non_null(fp);
	limits_default(&lim);
	j = report_json_new(fp);
	for (i = 0; i < nfiles; i++) {
		struct aggregate *a;
		const struct report *r = NULL;
		int rc;

		buf = load(files[i], &len);
		report_json_input(j, files[i]);
		a = aggregate_new(&lim, &report_json_cb, j);
		rc = aggregate_feed(a, buf, len, err, sizeof(err));
		if (rc == 0)
			rc = aggregate_finish(a, &r, err, sizeof(err));
		report_json_report_end(j, rc == 0 ? r : NULL,
		    rc == 0 ? NULL : err);
		aggregate_free(&a);
		free(buf);
	}
	report_json_object(j, json_pack("{s:s}", "kind", "other"));
	assert_int_equal(report_json_free(&j), 0);
	fclose(fp);
	doc = json_loadb(out, outlen, 0, &jerr);
	if (doc == NULL)
		fail_msg("invalid JSON (%s):\n%s", jerr.text, out);
	free(out);
	return doc;
}

static void
test_json(void **state)
{
	static const char *const files[] = { "basic.xml",
		"mixed_case_aliases.xml", "not_feedback.xml",
		"report_id_brackets.xml" };
	json_t *doc = json_of(files, 4), *o, *r, *p;

	assert_true(json_is_array(doc));
	assert_int_equal(json_array_size(doc), 5);

	o = json_array_get(doc, 0);
	assert_string_equal(json_string_value(json_object_get(o, "kind")),
	    "aggregate");
	assert_string_equal(json_string_value(json_object_get(o, "input")),
	    "basic.xml");
	assert_string_equal(json_string_value(json_object_get(o,
	    "policy_domain")), "example.com");
	assert_int_equal(json_integer_value(json_object_get(o, "begin")),
	    1700006400);
	assert_null(json_object_get(o, "org_name_raw"));
	assert_true(json_is_null(json_object_get(o, "xml_namespace")));
	assert_int_equal(json_array_size(json_object_get(o, "errors")), 2);
	p = json_object_get(o, "policy_published");
	assert_string_equal(json_string_value(json_object_get(p, "p")),
	    "reject");
	assert_true(json_is_null(json_object_get(p, "np")));
	assert_int_equal(json_integer_value(json_object_get(p, "pct")), 100);
	assert_int_equal(json_integer_value(json_object_get(o,
	    "record_count")), 2);
	assert_int_equal(json_integer_value(json_object_get(o,
	    "message_total")), 7);
	assert_int_equal(json_array_size(json_object_get(o, "warnings")), 0);
	r = json_array_get(json_object_get(o, "records"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "dmarc")),
	    "pass");
	assert_int_equal(json_integer_value(json_object_get(r, "count")), 3);
	assert_null(json_object_get(r, "dkim_raw"));
	assert_int_equal(json_array_size(json_object_get(json_object_get(r,
	    "auth_results"), "dkim")), 2);
	r = json_array_get(json_object_get(o, "records"), 1);
	assert_string_equal(json_string_value(json_object_get(r, "dmarc")),
	    "fail");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(json_object_get(r, "reasons"), 0), "type")),
	    "local_policy");

	o = json_array_get(doc, 1);
	r = json_array_get(json_object_get(o, "records"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "spf")),
	    "fail");
	assert_string_equal(json_string_value(json_object_get(r, "spf_raw")),
	    "HardFail");
	r = json_array_get(json_object_get(o, "records"), 1);
	assert_string_equal(json_string_value(json_object_get(r, "dmarc")),
	    "unknown");

	o = json_array_get(doc, 2);
	assert_string_equal(json_string_value(json_object_get(o, "error")),
	    "not a DMARC aggregate report: root element is <html>");
	assert_null(json_object_get(o, "records"));

	o = json_array_get(doc, 3);
	assert_string_equal(json_string_value(json_object_get(o,
	    "report_id_raw")), "<1559613526.307161@yahoo.example>");
	assert_int_equal(json_array_size(json_object_get(o, "records")), 0);

	o = json_array_get(doc, 4);
	assert_string_equal(json_string_value(json_object_get(o, "kind")),
	    "other");
	json_decref(doc);
}

/* A report that fails half-way still closes its object, with "error". */
static void
test_json_failure_midway(void **state)
{
	struct limits lim;
	char *out = NULL, err[256], *buf;
	size_t outlen = 0, len;
	FILE *fp = open_memstream(&out, &outlen);
	struct report_json *j = report_json_new(fp);
	struct aggregate *a;
	json_t *doc, *o;
	int rc;

	limits_default(&lim);
	lim.max_records = 1;
	buf = load("basic.xml", &len);
	report_json_input(j, "x");
	a = aggregate_new(&lim, &report_json_cb, j);
	rc = aggregate_feed(a, buf, len, err, sizeof(err));
	assert_int_equal(rc, -1);
	report_json_report_end(j, NULL, err);
	aggregate_free(&a);
	assert_int_equal(report_json_free(&j), 0);
	fclose(fp);
	doc = json_loadb(out, outlen, 0, NULL);
	assert_non_null(doc);
	o = json_array_get(doc, 0);
	assert_int_equal(json_integer_value(json_object_get(o,
	    "record_count")), 1);
	assert_int_equal(json_integer_value(json_object_get(o,
	    "message_total")), 3);
	assert_string_equal(json_string_value(json_object_get(o, "error")),
	    "too many records (more than max_records = 1)");
	json_decref(doc);
	free(out);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_rfc9990),
		cmocka_unit_test(test_namespace_prefixes),
		cmocka_unit_test(test_any_order_comments_no_declaration),
		cmocka_unit_test(test_one_line_and_bom),
		cmocka_unit_test(test_utf16),
		cmocka_unit_test(test_windows1252_missing_verdicts),
		cmocka_unit_test(test_other_encodings),
		cmocka_unit_test(test_japanese_encodings),
		cmocka_unit_test(test_multibyte_encodings),
		cmocka_unit_test(test_utf32),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_broken_lt),
		cmocka_unit_test(test_kddi_missing_lt),
		cmocka_unit_test(test_junk_schema_before_root),
		cmocka_unit_test(test_junk_after_root),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_duplicate_attribute),
		cmocka_unit_test(test_records_before_metadata),
		cmocka_unit_test(test_whitespace),
		cmocka_unit_test(test_empty_values),
		cmocka_unit_test(test_mixed_case_aliases),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_report_id_and_version),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_ip_forms),
		cmocka_unit_test(test_count_invalid),
		cmocka_unit_test(test_repeated_policy),
		cmocka_unit_test(test_not_reports),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_callback_stop),
		cmocka_unit_test(test_large_report),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_failure_midway),
	};

	return cmocka_run_group_tests_name("aggregate", tests, NULL, NULL);
}

/*
 * test_unpack.c - unit tests of parse/unpack (gzip, zip, tar, bzip2 / lz4 /
 * compress, MIME, mbox layers).
 *
 * Inputs are the fixtures of tests/fixtures/containers (made by make.sh
 * there) plus a few built in memory (bombs, odd mbox separators).  Every
 * leaf is read to its end and recorded, then compared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>
#include <archive.h>
#include <archive_entry.h>

#include "lib/rd.h"
#include "lib/xalloc.h"
#include "parse/unpack.h"

#define MAX_LEAVES 16

struct got_leaf {
	char *label, *ctype, *filename, *subject, *from, *message_id;
	enum sniff_kind kind;
	const char *what;       /* static */
	int in_fb;
	unsigned char *data;
	size_t len;
	int read_failed;
	char read_err[256];
};

struct got {
	struct got_leaf leaf[MAX_LEAVES];
	int n;
	int stop_after;         /* return -1 after this many leaves (0: never) */
};

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static int
collect(void *ctx, struct unpack_leaf *l)
{
	struct got *g = ctx;
	struct got_leaf *o;
	unsigned char buf[4096];
	ssize_t r;

	assert_true(g->n < MAX_LEAVES);
	o = &g->leaf[g->n++];
	memset(o, 0, sizeof *o);
	o->label = xstrdup(l->label);
	o->ctype = dup_or_null(l->ctype);
	o->filename = dup_or_null(l->filename);
	o->subject = dup_or_null(l->subject);
	o->from = dup_or_null(l->from);
	o->message_id = dup_or_null(l->message_id);
	o->kind = l->kind;
	o->what = l->what;
	o->in_fb = l->in_feedback_report;
	while ((r = rd_read(l->rd, buf, sizeof buf)) > 0) {
		o->data = xrealloc(o->data, o->len + (size_t)r + 1);
		memcpy(o->data + o->len, buf, (size_t)r);
		o->len += (size_t)r;
		o->data[o->len] = '\0';
	}
	if (r < 0) {
		o->read_failed = 1;
		snprintf(o->read_err, sizeof o->read_err, "%s", l->rd->err);
	}
	if (g->stop_after && g->n >= g->stop_after)
		return -1;
	return 0;
}

static void
got_free(struct got *g)
{
	int i;

	for (i = 0; i < g->n; i++) {
		struct got_leaf *o = &g->leaf[i];
		free(o->label);
		free(o->ctype);
		free(o->filename);
		free(o->subject);
		free(o->from);
		free(o->message_id);
		free(o->data);
	}
	memset(g, 0, sizeof *g);
}

static char *
fixture_path(const char *name)
{
	const char *src = getenv("DMARCSTAT_SRC");

	return xasprintf("%s/tests/fixtures/containers/%s", src ? src : "..",
	    name);
}

static unsigned char *
slurp(const char *name, size_t *len)
{
	char *path = fixture_path(name);
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	size_t n = 0, cap = 0, r;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			p = xrealloc(p, cap);
		}
		r = fread(p + n, 1, cap - n, f);
		if (r == 0)
			break;
		n += r;
	}
	fclose(f);
	free(path);
	*len = n;
	return p;
}

/* Runs unpack_run over a fixture file (through a file stream). */
static int
run_file(const char *name, const struct limits *lim, struct got *g,
    char *err, size_t errlen)
{
	char *path = fixture_path(name);
	struct rd *in = rd_file_open(path, err, errlen);
	int r;

	assert_non_null(in);
	err[0] = '\0';
	r = unpack_run(in, lim, collect, g, err, errlen);
	rd_close(&in);
	free(path);
	return r;
}

static int
run_mem(const void *p, size_t len, const struct limits *lim, struct got *g,
    char *err, size_t errlen)
{
	struct rd *in = rd_mem_new(p, len);
	int r;

	err[0] = '\0';
	r = unpack_run(in, lim, collect, g, err, errlen);
	rd_close(&in);
	return r;
}

static void
assert_is_report_xml(const struct got_leaf *o)
{
	size_t len;
	unsigned char *want = slurp("report.xml", &len);

	assert_int_equal(o->kind, SNIFF_XML);
	assert_int_equal(o->read_failed, 0);
	assert_int_equal(o->len, len);
	assert_memory_equal(o->data, want, len);
	free(want);
}

static void
test_plain_xml(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("report.xml", &lim, &g, err, sizeof err), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.leaf[0].label, "");
	assert_null(g.leaf[0].ctype);
	assert_is_report_xml(&g.leaf[0]);
	got_free(&g);
}

static void
test_gzip_variants(void **state)
{
	static const char *const names[] = {
		"report.xml.gz", "report.xml.gz.gz", "multi-member.xml.gz",
		"trailing-crlf.xml.gz",
	};
	struct limits lim;
	size_t i;

	(void)state;
	limits_default(&lim);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct got g = { 0 };
		char err[512];

		assert_int_equal(run_file(names[i], &lim, &g, err, sizeof err),
		    0);
		assert_int_equal(g.n, 1);
		assert_string_equal(g.leaf[0].label, "");
		assert_is_report_xml(&g.leaf[0]);
		got_free(&g);
	}
}

static void
test_gzip_truncated(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("truncated.xml.gz", &lim, &g, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "truncated"));
	/* what could be inflated is offered; its reader meets the error */
	assert_int_equal(g.n, 1);
	assert_int_equal(g.leaf[0].kind, SNIFF_XML);
	assert_int_equal(g.leaf[0].read_failed, 1);
	got_free(&g);
}

static void
test_gzip_garbage_payload(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("unused.xml.gz", &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.leaf[0].kind, SNIFF_UNKNOWN);
	assert_int_equal(g.leaf[0].len, 7);
	assert_memory_equal(g.leaf[0].data, "unused\n", 7);
	got_free(&g);
}

/* gzip of `n` bytes of `c`, made with zlib. */
static unsigned char *
make_gzip(int c, size_t n, size_t *outlen)
{
	unsigned char *in = xmalloc(n), *out;
	size_t cap = n / 100 + 1024;
	z_stream z;

	memset(in, c, n);
	memset(&z, 0, sizeof z);
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	out = xmalloc(cap);
	z.next_in = in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*outlen = cap - z.avail_out;
	deflateEnd(&z);
	free(in);
	return out;
}

static void
test_gzip_bomb(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];
	size_t len;
	unsigned char *bomb = make_gzip(' ', 4u << 20, &len);

	(void)state;
	limits_default(&lim);
	lim.max_expanded_bytes = 1u << 20;
	assert_int_equal(run_mem(bomb, len, &lim, &g, err, sizeof err), -1);
	assert_non_null(strstr(err, "max_expanded_bytes"));
	assert_null(strchr(err, '\n'));
	/* 4 KiB of blanks sniff as empty; the leaf stops at the limit */
	assert_int_equal(g.n, 1);
	assert_int_equal(g.leaf[0].read_failed, 1);
	assert_true(g.leaf[0].len <= lim.max_expanded_bytes);
	assert_non_null(strstr(g.leaf[0].read_err, "max_expanded_bytes"));
	got_free(&g);
	free(bomb);
}

/*
 * A small gzip is inflated in one call (libdeflate) only when its trailer
 * tells the truth; otherwise zlib's path decides, with zlib's reasons.
 */
static void
test_gzip_trailer_lies(void **state)
{
	static const struct {
		size_t off;             /* from the end */
		int delta;
		const char *why;
	} cases[] = {
		{ 4, -1, "incorrect length check" },    /* ISIZE one too small */
		{ 4, +1, "incorrect length check" },    /* one too large */
		{ 8, +1, "incorrect data check" },      /* CRC-32 wrong */
	};
	struct limits lim;
	size_t len, i;
	unsigned char *gz = slurp("report.xml.gz", &len);

	(void)state;
	limits_default(&lim);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned char *bad = xmalloc(len);
		struct got g = { 0 };
		char err[512];

		memcpy(bad, gz, len);
		bad[len - cases[i].off] = (unsigned char)(bad[len - cases[i].off] +
		    cases[i].delta);
		assert_int_equal(run_mem(bad, len, &lim, &g, err, sizeof err), -1);
		assert_non_null(strstr(err, cases[i].why));
		assert_null(strchr(err, '\n'));
		/* zlib finds it in the call that inflated the whole (small)
		 * member, so nothing is offered */
		assert_int_equal(g.n, 0);
		got_free(&g);
		free(bad);
	}
	/* the truth, from memory this time: the one-call path */
	{
		struct got g = { 0 };
		char err[512];

		assert_int_equal(run_mem(gz, len, &lim, &g, err, sizeof err), 0);
		assert_int_equal(g.n, 1);
		assert_is_report_xml(&g.leaf[0]);
		got_free(&g);
	}
	free(gz);
}

static void
test_nesting_limit(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	lim.max_nesting = 1;
	assert_int_equal(run_file("report.xml.gz.gz", &lim, &g, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "max_nesting"));
	assert_int_equal(g.n, 0);
	got_free(&g);
}

static void
test_input_limit(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	lim.max_input_bytes = 100;
	assert_int_equal(run_file("report.xml", &lim, &g, err, sizeof err),
	    -1);
	assert_non_null(strstr(err, "max_input_bytes"));
	assert_int_equal(g.n, 1);
	assert_int_equal(g.leaf[0].read_failed, 1);
	assert_int_equal(g.leaf[0].len, 100);
	got_free(&g);
}

static void
test_zip_single(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("report.zip", &lim, &g, err, sizeof err), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.leaf[0].label, "member "
	    "reporter.example!example.org!1700000000!1700086399.xml");
	assert_string_equal(g.leaf[0].filename,
	    "reporter.example!example.org!1700000000!1700086399.xml");
	assert_is_report_xml(&g.leaf[0]);
	got_free(&g);
}

static void
test_zip_directories_and_gzip_member(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("dir-first.zip", &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.leaf[0].label, "member reports/a.xml");
	assert_is_report_xml(&g.leaf[0]);
	assert_string_equal(g.leaf[1].label, "member reports/b.xml.gz");
	assert_int_equal(g.leaf[1].kind, SNIFF_XML);
	assert_non_null(strstr((char *)g.leaf[1].data, "other.example"));
	got_free(&g);
}

static void
test_zip_odd(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("noname.zip", &lim, &g, err, sizeof err), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.leaf[0].label, "member 1 (no name)");
	assert_null(g.leaf[0].filename);
	assert_is_report_xml(&g.leaf[0]);
	got_free(&g);

	assert_int_equal(run_file("empty.zip", &lim, &g, err, sizeof err), 0);
	assert_int_equal(g.n, 0);
	got_free(&g);

	assert_int_equal(run_file("zip-in-zip.zip", &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.leaf[0].label,
	    "member inner.zip > member deep.xml");
	assert_int_equal(g.leaf[0].kind, SNIFF_XML);
	got_free(&g);
}

static void
test_zip_names_sanitised(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];
	const char *p;

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("evil-names.zip", &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 1);
	assert_true(strncmp(g.leaf[0].label, "member a?b?[31mxxx", 18) == 0);
	assert_true(strlen(g.leaf[0].label) <= strlen("member ") + 200);
	for (p = g.leaf[0].label; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
	got_free(&g);
}

static void
test_zip_limits(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	lim.max_archive_members = 1;
	assert_int_equal(run_file("dir-first.zip", &lim, &g, err, sizeof err),
	    -1);
	assert_non_null(strstr(err, "max_archive_members"));
	got_free(&g);

	limits_default(&lim);
	lim.max_expanded_bytes = 100;
	assert_int_equal(run_file("report.zip", &lim, &g, err, sizeof err), -1);
	assert_non_null(strstr(err, "max_expanded_bytes"));
	assert_int_equal(g.n, 0);
	got_free(&g);
}

static void
test_mime_body_is_zip(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("body-is-zip.eml", &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.leaf[0].label, "part 1 (application/zip, "
	    "reporter.example!example.org!1700000000!1700086399.zip) > member "
	    "reporter.example!example.org!1700000000!1700086399.xml");
	assert_is_report_xml(&g.leaf[0]);
	assert_string_equal(g.leaf[0].subject, "Report domain: example.org "
	    "Submitter: reporter.example Report-ID: r-0001");
	assert_string_equal(g.leaf[0].message_id, "r-0001@reporter.example");
	assert_non_null(strstr(g.leaf[0].from, "noreply@reporter.example"));
	assert_int_equal(g.leaf[0].in_fb, 0);
	got_free(&g);
}

static void
test_mime_multipart(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("multipart.eml", &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.leaf[0].label, "part 1 (text/plain)");
	assert_int_equal(g.leaf[0].kind, SNIFF_UNKNOWN);
	assert_string_equal(g.leaf[1].label,
	    "part 2 (application/gzip, a.xml.gz)");
	assert_string_equal(g.leaf[1].ctype, "application/gzip");
	assert_string_equal(g.leaf[1].filename, "a.xml.gz");
	assert_is_report_xml(&g.leaf[1]);
	assert_string_equal(g.leaf[2].label,
	    "part 3 (application/octet-stream, b.zip) > member b.xml");
	assert_int_equal(g.leaf[2].kind, SNIFF_XML);
	/* RFC 2047 subject decoded */
	assert_string_equal(g.leaf[1].subject,
	    "Report domain: example.org \xe2\x9c\x93");
	got_free(&g);
}

static void
test_mime_inline_and_qp(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("inline-xml.eml", &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.leaf[0].label, "part 1 (text/xml)");
	assert_is_report_xml(&g.leaf[0]);
	got_free(&g);

	assert_int_equal(run_file("from-line.eml", &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.leaf[0].label, "part 1 (text/xml)");
	assert_is_report_xml(&g.leaf[0]);
	got_free(&g);

	assert_int_equal(run_file("qp-xml.eml", &lim, &g, err, sizeof err), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.leaf[0].kind, SNIFF_XML);
	assert_non_null(strstr((char *)g.leaf[0].data,
	    "<?xml version=\"1.0\"?>"));
	assert_non_null(strstr((char *)g.leaf[0].data,
	    "</report_metadata></feedback>"));
	got_free(&g);
}

static void
test_mime_mislabelled_and_tlsrpt(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("mislabelled.eml", &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.leaf[0].label,
	    "part 1 (application/zip, mimecast.zip)");
	assert_is_report_xml(&g.leaf[0]);
	got_free(&g);

	assert_int_equal(run_file("tlsrpt.eml", &lim, &g, err, sizeof err), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.leaf[1].kind, SNIFF_JSON);
	assert_string_equal(g.leaf[1].ctype, "application/tlsrpt+gzip");
	assert_int_equal(g.leaf[1].in_fb, 0);
	got_free(&g);
}

static void
test_mime_forwarded(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("forwarded.eml", &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.leaf[0].subject, "Fwd: report");
	{
		const char *want = "part 2 (message/rfc822) > "
		    "part 1 (application/zip, ";
		assert_true(strncmp(g.leaf[1].label, want, strlen(want)) == 0);
	}
	assert_is_report_xml(&g.leaf[1]);
	/* the nearest enclosing message */
	assert_string_equal(g.leaf[1].message_id, "r-0001@reporter.example");
	got_free(&g);
}

static void
test_mime_broken_headers_fallback(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];
	int i, found = 0;

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("broken-ctype.eml", &lim, &g, err,
	    sizeof err), 0);
	for (i = 0; i < g.n; i++) {
		if (g.leaf[i].kind != SNIFF_XML)
			continue;
		found++;
		assert_true(strncmp(g.leaf[i].label, "base64 block 1 (line ",
		    21) == 0);
		assert_is_report_xml(&g.leaf[i]);
		assert_string_equal(g.leaf[i].message_id,
		    "r-0001@reporter.example");
	}
	assert_int_equal(found, 1);
	got_free(&g);
}

static void
test_mime_failure_report(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];
	int i;

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("failure.eml", &lim, &g, err, sizeof err), 0);
	assert_int_equal(g.n, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(g.leaf[i].in_fb, 1);
	assert_string_equal(g.leaf[1].ctype, "message/feedback-report");
	assert_non_null(strstr((char *)g.leaf[1].data,
	    "Feedback-Type: auth-failure"));
	/* the reported message comes whole, headers included */
	assert_string_equal(g.leaf[2].label, "part 3 (message/rfc822)");
	assert_int_equal(g.leaf[2].kind, SNIFF_MIME);
	assert_non_null(strstr((char *)g.leaf[2].data,
	    "Message-ID: <orig@spoof.example>"));
	assert_string_equal(g.leaf[2].message_id, "f-1@reporter.example");
	got_free(&g);
}

static void
test_mime_limits_and_stop(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	lim.max_mime_parts = 1;
	assert_int_equal(run_file("multipart.eml", &lim, &g, err, sizeof err),
	    -1);
	assert_non_null(strstr(err, "max_mime_parts"));
	assert_int_equal(g.n, 1);
	got_free(&g);

	limits_default(&lim);
	g.stop_after = 2;
	assert_int_equal(run_file("multipart.eml", &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 2);
	got_free(&g);
}

struct msgs {
	int n;
	char *data[8];
	size_t len[8];
	int failed[8];
	char err[8][256];
};

static int
collect_msg(void *ctx, unsigned long index, struct rd *m)
{
	struct msgs *ms = ctx;
	unsigned char buf[7];     /* small reads exercise the splitter */
	ssize_t r;
	int i = ms->n++;

	assert_true(i < 8);
	assert_int_equal(index, (unsigned long)i + 1);
	ms->data[i] = xstrdup("");
	while ((r = rd_read(m, buf, sizeof buf)) > 0) {
		ms->data[i] = xrealloc(ms->data[i], ms->len[i] + (size_t)r + 1);
		memcpy(ms->data[i] + ms->len[i], buf, (size_t)r);
		ms->len[i] += (size_t)r;
		ms->data[i][ms->len[i]] = '\0';
	}
	if (r < 0) {
		ms->failed[i] = 1;
		snprintf(ms->err[i], sizeof ms->err[i], "%s", m->err);
	}
	return 0;
}

static void
msgs_free(struct msgs *ms)
{
	int i;

	for (i = 0; i < ms->n; i++)
		free(ms->data[i]);
	memset(ms, 0, sizeof *ms);
}

static int
mbox_mem(const char *text, const struct limits *lim, struct msgs *ms,
    char *err, size_t errlen)
{
	struct rd *in = rd_mem_new(text, strlen(text));
	int r = unpack_mbox(in, lim, collect_msg, ms, err, errlen);

	rd_close(&in);
	return r;
}

static void
test_mbox_split(void **state)
{
	struct limits lim;
	struct msgs ms = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	assert_int_equal(mbox_mem(
	    "From a@b Mon Jan  1 00:00:00 2024\n"
	    "Subject: one\n\nbody\n\n\nnot from\nFrom without a blank before\n"
	    ">From escaped\n>>From twice\n>Fromage\n\n"
	    "From c@d Mon Jan  1 00:00:00 2024\r\n"
	    "Subject: two\r\n\r\nlast line without newline",
	    &lim, &ms, err, sizeof err), 0);
	assert_int_equal(ms.n, 2);
	assert_string_equal(ms.data[0], "Subject: one\n\nbody\n\n\n"
	    "not from\nFrom without a blank before\nFrom escaped\n"
	    ">From twice\n>Fromage\n");
	assert_string_equal(ms.data[1],
	    "Subject: two\r\n\r\nlast line without newline");
	msgs_free(&ms);

	/* CRLF separators, and the blank before a From_ line is dropped */
	assert_int_equal(mbox_mem("\r\nFrom x\r\nA: 1\r\n\r\nb\r\n\r\n"
	    "From y\r\nA: 2\r\n\r\nc\r\n", &lim, &ms, err, sizeof err), 0);
	assert_int_equal(ms.n, 2);
	assert_string_equal(ms.data[0], "A: 1\r\n\r\nb\r\n");
	assert_string_equal(ms.data[1], "A: 2\r\n\r\nc\r\n");
	msgs_free(&ms);

	assert_int_equal(mbox_mem("Subject: not an mbox\n\nx\n", &lim, &ms,
	    err, sizeof err), -1);
	assert_non_null(strstr(err, "From_"));
	assert_int_equal(ms.n, 0);
	msgs_free(&ms);
}

static void
test_mbox_message_limit(void **state)
{
	struct limits lim;
	struct msgs ms = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	lim.max_input_bytes = 20;
	assert_int_equal(mbox_mem("From a\nSubject: a long first message\n\n"
	    "with a body longer than twenty bytes\n\nFrom b\nS: 2\n\nok\n",
	    &lim, &ms, err, sizeof err), 0);
	assert_int_equal(ms.n, 2);
	assert_int_equal(ms.failed[0], 1);
	assert_non_null(strstr(ms.err[0], "max_input_bytes"));
	assert_int_equal(ms.failed[1], 0);
	assert_string_equal(ms.data[1], "S: 2\n\nok\n");
	msgs_free(&ms);
}

static void
test_mbox_fixture(void **state)
{
	struct limits lim;
	struct msgs ms = { 0 };
	struct got g = { 0 };
	char err[512];
	char *path = fixture_path("reports.mbox");
	struct rd *in;

	(void)state;
	limits_default(&lim);
	in = rd_file_open(path, err, sizeof err);
	assert_non_null(in);
	assert_int_equal(unpack_mbox(in, &lim, collect_msg, &ms, err,
	    sizeof err), 0);
	rd_close(&in);
	assert_int_equal(ms.n, 3);
	assert_non_null(strstr(ms.data[1], "\nFrom the start of a body line\n"
	    ">From an already quoted line\n"));
	msgs_free(&ms);

	/* the same file through unpack_run: every message walked */
	assert_int_equal(run_file("reports.mbox", &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 5);
	assert_true(strncmp(g.leaf[0].label, "part 1 (application/zip", 23) ==
	    0);
	assert_string_equal(g.leaf[1].label, "message 2 > part 1 (text/plain)");
	assert_string_equal(g.leaf[3].label,
	    "message 3 > part 2 (application/gzip, a.xml.gz)");
	assert_is_report_xml(&g.leaf[3]);
	got_free(&g);
	free(path);
}

/* The tar fixture's two reports: a.xml as is, b.xml.gz peeled. */
static void
assert_tar_reports(const struct got *g)
{
	assert_int_equal(g->n, 2);
	assert_string_equal(g->leaf[0].label, "member reports/a.xml");
	assert_string_equal(g->leaf[0].filename, "reports/a.xml");
	assert_is_report_xml(&g->leaf[0]);
	assert_string_equal(g->leaf[1].label, "member reports/b.xml.gz");
	assert_int_equal(g->leaf[1].kind, SNIFF_XML);
	assert_non_null(strstr((char *)g->leaf[1].data, "other.example"));
}

static void
test_tar(void **state)
{
	static const char *const names[] = {
		"reports.tar", "reports.tar.gz", "reports.tar.bz2",
	};
	struct limits lim;
	size_t i;

	(void)state;
	limits_default(&lim);
	/* the directory and the symbolic link are no members */
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct got g = { 0 };
		char err[512];

		assert_int_equal(run_file(names[i], &lim, &g, err, sizeof err),
		    0);
		assert_tar_reports(&g);
		got_free(&g);
	}
}

static void
test_tar_limits(void **state)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];
	size_t len;
	unsigned char *tar = slurp("reports.tar", &len);

	(void)state;
	limits_default(&lim);
	lim.max_archive_members = 2;    /* the directory counts */
	assert_int_equal(run_file("reports.tar.gz", &lim, &g, err, sizeof err),
	    -1);
	assert_non_null(strstr(err, "tar has more than max_archive_members"));
	assert_int_equal(g.n, 1);
	got_free(&g);

	limits_default(&lim);
	lim.max_expanded_bytes = 100;
	assert_int_equal(run_file("reports.tar", &lim, &g, err, sizeof err), -1);
	assert_non_null(strstr(err, "tar member declares"));
	assert_int_equal(g.n, 0);
	got_free(&g);

	/* cut in the middle of a member: the reader of that member fails */
	limits_default(&lim);
	assert_int_equal(run_mem(tar, 512 + 300, &lim, &g, err, sizeof err),
	    -1);
	assert_non_null(strstr(err, "tar"));
	free(tar);
	got_free(&g);
}

/* `data` compressed by libarchive's writer with one filter (raw format). */
static unsigned char *
compress_with(int (*add_filter)(struct archive *), const void *data,
    size_t n, size_t *outlen)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t cap = n + 65536, used = 0;
	unsigned char *buf = xmalloc(cap);

	assert_int_equal(add_filter(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(a, 1),
	    ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used),
	    ARCHIVE_OK);
	archive_entry_set_pathname(e, "data");
	archive_entry_set_filetype(e, AE_IFREG);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, data, n), (la_ssize_t)n);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
	*outlen = used;
	return buf;
}

/* `p` is one leaf of a format dmarcstat names and does not read. */
static void
assert_refused(const void *p, size_t n, const char *what)
{
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	limits_default(&lim);
	assert_int_equal(run_mem(p, n, &lim, &g, err, sizeof err), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.leaf[0].kind, SNIFF_OTHER_ARCHIVE);
	assert_string_equal(g.leaf[0].what, what);
	got_free(&g);
}

static void
test_compressed(void **state)
{
	int (*filters[])(struct archive *) = {
		archive_write_add_filter_lz4, archive_write_add_filter_compress,
		archive_write_add_filter_bzip2,
	};
	struct limits lim;
	struct got g = { 0 };
	char err[512];
	unsigned char *x, *c, *big;
	size_t xlen, clen, i;

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_file("report.xml.bz2", &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.leaf[0].label, "");
	assert_is_report_xml(&g.leaf[0]);
	got_free(&g);
	/* xz and zstd are named and never decoded: their window is the
	 * stream's to choose (unpack_archive.c); nor inside another
	 * compressor (bzip2 around xz) */
	x = slurp("report.xml.xz", &xlen);
	assert_refused(x, xlen, "xz");
	c = compress_with(archive_write_add_filter_bzip2, x, xlen, &clen);
	assert_refused(c, clen, "xz");
	free(c);
	free(x);
	x = slurp("report.xml", &xlen);
	c = compress_with(archive_write_add_filter_zstd, x, xlen, &clen);
	assert_refused(c, clen, "zstd");
	free(c);
	for (i = 0; i < sizeof filters / sizeof filters[0]; i++) {
		c = compress_with(filters[i], x, xlen, &clen);
		assert_int_equal(sniff(c, clen), SNIFF_COMPRESSED);
		assert_int_equal(run_mem(c, clen, &lim, &g, err, sizeof err), 0);
		assert_int_equal(g.n, 1);
		assert_is_report_xml(&g.leaf[0]);
		got_free(&g);
		free(c);
	}
	free(x);

	/* truncated: a reason naming the compressor, no crash */
	assert_int_equal(run_file("truncated.xml.bz2", &lim, &g, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "bzip2"));
	got_free(&g);

	/* a bomb: 4 MiB of blanks is stopped at max_expanded_bytes */
	big = xmalloc(4u << 20);
	memset(big, ' ', 4u << 20);
	c = compress_with(archive_write_add_filter_bzip2, big, 4u << 20, &clen);
	assert_true(clen < 4096);
	lim.max_expanded_bytes = 1u << 20;
	assert_int_equal(run_mem(c, clen, &lim, &g, err, sizeof err), -1);
	assert_non_null(strstr(err, "bzip2 data expands to more than "
	    "max_expanded_bytes"));
	assert_int_equal(g.n, 1);
	assert_int_equal(g.leaf[0].read_failed, 1);
	assert_true(g.leaf[0].len <= (1u << 20));
	got_free(&g);
	free(c);
	free(big);
}

static void
test_odd_inputs(void **state)
{
	static const unsigned char junk[] = { 0x00, 0xff, 0x13, 0x37, 0x42 };
	struct limits lim;
	struct got g = { 0 };
	char err[512];

	(void)state;
	limits_default(&lim);
	assert_int_equal(run_mem("", 0, &lim, &g, err, sizeof err), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.leaf[0].kind, SNIFF_EMPTY);
	got_free(&g);

	assert_int_equal(run_mem(junk, sizeof junk, &lim, &g, err, sizeof err),
	    0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.leaf[0].kind, SNIFF_UNKNOWN);
	got_free(&g);

	/* broken containers: reasons, never a crash */
	assert_int_equal(run_mem("\x1f\x8b\x08\x00garbage", 11, &lim, &g, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "gzip"));
	got_free(&g);
	assert_int_equal(run_mem("PK\x03\x04garbage", 11, &lim, &g, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "zip"));
	got_free(&g);
	assert_int_equal(run_mem("BZh91AY&SY", 10, &lim, &g, err, sizeof err),
	    -1);
	assert_non_null(strstr(err, "bzip2"));
	assert_int_equal(g.n, 0);
	got_free(&g);
	/* formats dmarcstat does not read are leaves, named for the reason */
	assert_int_equal(run_mem("7z\xbc\xaf\x27\x1c\0\4", 8, &lim, &g, err,
	    sizeof err), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.leaf[0].kind, SNIFF_OTHER_ARCHIVE);
	got_free(&g);
}

static int
teardown_all(void **state)
{
	(void)state;
	unpack_global_fini();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_xml),
		cmocka_unit_test(test_gzip_variants),
		cmocka_unit_test(test_gzip_truncated),
		cmocka_unit_test(test_gzip_garbage_payload),
		cmocka_unit_test(test_gzip_bomb),
		cmocka_unit_test(test_gzip_trailer_lies),
		cmocka_unit_test(test_tar),
		cmocka_unit_test(test_tar_limits),
		cmocka_unit_test(test_compressed),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_input_limit),
		cmocka_unit_test(test_zip_single),
		cmocka_unit_test(test_zip_directories_and_gzip_member),
		cmocka_unit_test(test_zip_odd),
		cmocka_unit_test(test_zip_names_sanitised),
		cmocka_unit_test(test_zip_limits),
		cmocka_unit_test(test_mime_body_is_zip),
		cmocka_unit_test(test_mime_multipart),
		cmocka_unit_test(test_mime_inline_and_qp),
		cmocka_unit_test(test_mime_mislabelled_and_tlsrpt),
		cmocka_unit_test(test_mime_forwarded),
		cmocka_unit_test(test_mime_broken_headers_fallback),
		cmocka_unit_test(test_mime_failure_report),
		cmocka_unit_test(test_mime_limits_and_stop),
		cmocka_unit_test(test_mbox_split),
		cmocka_unit_test(test_mbox_message_limit),
		cmocka_unit_test(test_mbox_fixture),
		cmocka_unit_test(test_odd_inputs),
	};

	unpack_global_init();
	return cmocka_run_group_tests(tests, NULL, teardown_all);
}

/*
 * test_query.c - the read queries of store/query.h on a small fixture set
 * built by hand: summaries by domain, source, reporter and day with every
 * filter, the reports list, one report in full, the ledger.
 *
 * Fixture (T0 = 2023-11-15 00:00 UTC):
 *   r1 google.com   example.com  day 0       192.0.2.1  100 none  pass/pass
 *                                            192.0.2.2   20 reject fail/fail
 *   r2 Yahoo        example.com  day 1       192.0.2.1   50 none  fail/pass
 *                                            198.51.100.7 10 quarantine fail/fail
 *   r3 google.com   other.org    days 1..2   192.0.2.9   30 none  pass/fail
 *      (noon to noon: 15 + 15), 1 warning
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/query.h"
#include "store/store.h"

#define DAY 86400
#define T0 1700006400

struct fx {
	char dir[64], db[96];
	struct store *st;
	int64_t r1, r2, r3;
};

static int64_t
fx_put(struct store *st, const char *org, const char *id, const char *dom,
    int64_t begin, int64_t end, struct report_record *recs, size_t n,
    unsigned seed, const char **warn, size_t nwarn)
{
	struct report r;
	int64_t rid, dup;
	uint8_t h[32];
	size_t i;

	memset(&r, 0, sizeof r);
	r.org_name = org;
	r.email = "dmarc@reporter.example";
	r.report_id = id;
	r.policy.domain = dom;
	r.policy.p = "reject";
	r.policy.pct = -1;
	r.begin = begin;
	r.end = end;
	r.warnings = warn;
	r.n_warnings = nwarn;
	memset(h, (int)seed, sizeof h);
	assert_int_equal(store_report_begin(st, &r, 0, &rid, &dup), 0);
	assert_int_equal(dup, 0);
	for (i = 0; i < n; i++)
		assert_int_equal(store_report_record(st, rid, &r, &recs[i]), 0);
	assert_int_equal(store_report_end(st, rid, &r, h, &dup), 0);
	assert_int_equal(dup, 0);
	return rid;
}

static void
rec_set(struct report_record *rec, const char *ip, uint64_t count,
    const char *disp, const char *dkim, const char *spf)
{
	memset(rec, 0, sizeof *rec);
	rec->source_ip = ip;
	rec->count = count;
	rec->disposition = disp;
	rec->dkim = dkim;
	rec->spf = spf;
	rec->header_from = "example.com";
}

static struct report_dkim fx_dkim[2] = {
	{ "example.com", "s1", "pass", "pass", NULL },
	{ "esp.example", "k2", "fail", "hardfail", "bad sig" },
};
static struct report_spf fx_spf = { "example.com", "mfrom", "pass", "pass", NULL };
static struct report_reason fx_reason = { "forwarded", "Forwarded", "via list" };

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct report_record rec[2];
	const char *warn[] = { "stray element ignored" };
	struct ledger_entry le = { 0 };
	char err[256];

	snprintf(f->dir, sizeof f->dir, "/tmp/test_query.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof f->db, "%s/db.sqlite", f->dir);
	f->st = store_open(f->db, 0, err, sizeof err);
	assert_non_null(f->st);
	assert_int_equal(store_begin(f->st), 0);

	rec_set(&rec[0], "192.0.2.1", 100, "none", "pass", "pass");
	rec[0].dkim_results = fx_dkim;
	rec[0].n_dkim = 2;
	rec[0].spf_results = &fx_spf;
	rec[0].n_spf = 1;
	rec_set(&rec[1], "192.0.2.2", 20, "reject", "fail", "fail");
	rec[1].reasons = &fx_reason;
	rec[1].n_reasons = 1;
	f->r1 = fx_put(f->st, "google.com", "g1", "example.com", T0,
	    T0 + DAY - 1, rec, 2, 1, NULL, 0);

	rec_set(&rec[0], "192.0.2.1", 50, "none", "fail", "pass");
	rec_set(&rec[1], "198.51.100.7", 10, "quarantine", "fail", "fail");
	f->r2 = fx_put(f->st, "Yahoo", "y1", "example.com", T0 + DAY,
	    T0 + 2 * DAY - 1, rec, 2, 2, NULL, 0);

	rec_set(&rec[0], "192.0.2.9", 30, "none", "pass", "fail");
	rec[0].header_from = "other.org";
	f->r3 = fx_put(f->st, "google.com", "g2", "other.org", T0 + DAY + DAY / 2,
	    T0 + 2 * DAY + DAY / 2, rec, 1, 3, warn, 1);

	le.source = "file";
	le.input = "a.xml";
	le.status = "imported";
	le.kind = "aggregate";
	le.report = f->r1;
	assert_int_equal(store_ledger_add(f->st, &le, NULL), 0);
	le.input = "junk.txt";
	le.status = "not-a-report";
	le.reason = "no XML";
	le.report = 0;
	assert_int_equal(store_ledger_add(f->st, &le, NULL), 0);
	le.input = "a-again.xml";
	le.status = "duplicate";
	le.report = f->r1;
	assert_int_equal(store_ledger_add(f->st, &le, NULL), 0);
	assert_int_equal(store_commit(f->st), 0);
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	store_close(&f->st);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(f);
	return 0;
}

static json_int_t
geti(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", k);
	return json_integer_value(v);
}

static double
getr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_real(v))
		fail_msg("%s is not a real", k);
	return json_real_value(v);
}

static const char *
gets_(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void
test_summary_by_domain(void **state)
{
	struct fx *f = *state;
	json_t *rows, *r;

	rows = query_summary(f->st, NULL, "domain");
	assert_non_null(rows);
	assert_int_equal(json_array_size(rows), 2);
	/* most messages first */
	r = json_array_get(rows, 0);
	assert_string_equal(gets_(r, "domain"), "example.com");
	assert_int_equal(geti(r, "messages"), 180);
	assert_int_equal(geti(r, "dmarc_pass"), 150);
	assert_int_equal(geti(r, "dmarc_fail"), 30);
	assert_true(getr(r, "pass_pct") == 83.3);
	assert_int_equal(geti(r, "spf_aligned"), 150);
	assert_int_equal(geti(r, "dkim_aligned"), 100);
	assert_true(getr(r, "dkim_aligned_pct") == 55.6);
	assert_int_equal(geti(r, "none"), 150);
	assert_int_equal(geti(r, "quarantine"), 10);
	assert_int_equal(geti(r, "reject"), 20);
	assert_int_equal(geti(r, "disposition_pass"), 0);
	assert_int_equal(geti(r, "disposition_unknown"), 0);
	r = json_array_get(rows, 1);
	assert_string_equal(gets_(r, "domain"), "other.org");
	assert_int_equal(geti(r, "messages"), 30);
	assert_true(getr(r, "pass_pct") == 100.0);
	assert_true(getr(r, "spf_aligned_pct") == 0.0);
	json_decref(rows);
}

static void
test_summary_filters(void **state)
{
	struct fx *f = *state;
	struct query q;
	json_t *rows;

	/* reporter, case-insensitive */
	memset(&q, 0, sizeof q);
	q.reporter = "GOOGLE.com";
	rows = query_summary(f->st, &q, "domain");
	assert_int_equal(json_array_size(rows), 2);
	assert_int_equal(geti(json_array_get(rows, 0), "messages"), 120);
	json_decref(rows);

	/* result=fail, by source */
	memset(&q, 0, sizeof q);
	q.result = "fail";
	rows = query_summary(f->st, &q, "source");
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(gets_(json_array_get(rows, 0), "source_ip"),
	    "192.0.2.2");
	assert_int_equal(geti(json_array_get(rows, 0), "messages"), 20);
	assert_true(json_is_null(json_object_get(json_array_get(rows, 0),
	    "ptr")));
	json_decref(rows);

	/* domain + source */
	memset(&q, 0, sizeof q);
	q.domain = "example.com";
	q.source_ip = "192.0.2.1";
	rows = query_summary(f->st, &q, "reporter");
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(gets_(json_array_get(rows, 0), "reporter"),
	    "google.com");
	assert_int_equal(geti(json_array_get(rows, 0), "messages"), 100);
	assert_int_equal(geti(json_array_get(rows, 1), "messages"), 50);
	json_decref(rows);

	/* day-granular range: only day 1 (an until in the middle of day 1
	 * still includes that day) */
	memset(&q, 0, sizeof q);
	q.since = T0 + DAY + 3600;
	q.until = T0 + DAY + 7200;
	rows = query_summary(f->st, &q, "domain");
	assert_int_equal(json_array_size(rows), 2);
	assert_int_equal(geti(json_array_get(rows, 0), "messages"), 60);
	assert_int_equal(geti(json_array_get(rows, 1), "messages"), 15);
	json_decref(rows);

	/* limit, sort */
	memset(&q, 0, sizeof q);
	q.limit = 1;
	q.sort = "pass_pct";
	q.desc = 1;
	rows = query_summary(f->st, &q, "domain");
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(gets_(json_array_get(rows, 0), "domain"),
	    "other.org");
	json_decref(rows);
	q.offset = 1;
	rows = query_summary(f->st, &q, "domain");
	assert_string_equal(gets_(json_array_get(rows, 0), "domain"),
	    "example.com");
	json_decref(rows);

	/* errors */
	memset(&q, 0, sizeof q);
	q.sort = "messages; DROP TABLE daily";
	assert_null(query_summary(f->st, &q, "domain"));
	assert_non_null(strstr(store_errmsg(f->st), "cannot sort"));
	q.sort = NULL;
	q.result = "maybe";
	assert_null(query_summary(f->st, &q, "domain"));
	assert_null(query_summary(f->st, NULL, "weekday"));
	assert_null(query_summary(f->st, NULL, NULL));
}

static void
test_summary_by_day(void **state)
{
	struct fx *f = *state;
	json_t *rows, *r;
	json_int_t sum = 0;
	size_t i;

	rows = query_summary(f->st, NULL, "day");
	assert_int_equal(json_array_size(rows), 3);
	json_array_foreach(rows, i, r)
		sum += geti(r, "messages");
	assert_int_equal(sum, 210);
	r = json_array_get(rows, 0);
	assert_int_equal(geti(r, "day"), T0);
	assert_string_equal(gets_(r, "date"), "2023-11-15");
	assert_int_equal(geti(r, "messages"), 120);
	assert_int_equal(geti(json_array_get(rows, 1), "messages"), 75);
	assert_int_equal(geti(json_array_get(rows, 2), "messages"), 15);
	assert_string_equal(gets_(json_array_get(rows, 2), "date"), "2023-11-17");
	json_decref(rows);
}

static void
test_reports_list(void **state)
{
	struct fx *f = *state;
	struct query q;
	json_t *rows, *r;

	rows = query_reports(f->st, NULL);
	assert_int_equal(json_array_size(rows), 3);
	/* newest first */
	r = json_array_get(rows, 0);
	assert_int_equal(geti(r, "id"), f->r3);
	assert_string_equal(gets_(r, "org_name"), "google.com");
	assert_string_equal(gets_(r, "report_id"), "g2");
	assert_string_equal(gets_(r, "policy_domain"), "other.org");
	assert_int_equal(geti(r, "n_records"), 1);
	assert_int_equal(geti(r, "msg_total"), 30);
	assert_int_equal(geti(r, "n_warnings"), 1);
	assert_int_equal(geti(r, "begin"), T0 + DAY + DAY / 2);
	assert_int_equal(geti(json_array_get(rows, 1), "id"), f->r2);
	assert_int_equal(geti(json_array_get(rows, 2), "id"), f->r1);
	assert_int_equal(geti(json_array_get(rows, 2), "n_warnings"), 0);
	json_decref(rows);

	memset(&q, 0, sizeof q);
	q.domain = "example.com";
	q.source_ip = "192.0.2.1";
	rows = query_reports(f->st, &q);
	assert_int_equal(json_array_size(rows), 2);
	json_decref(rows);

	memset(&q, 0, sizeof q);
	q.result = "fail";
	q.reporter = "yahoo";
	rows = query_reports(f->st, &q);
	assert_int_equal(json_array_size(rows), 1);
	assert_int_equal(geti(json_array_get(rows, 0), "id"), f->r2);
	json_decref(rows);

	memset(&q, 0, sizeof q);
	q.until = T0 + DAY;  /* overlap with day 0 only */
	rows = query_reports(f->st, &q);
	assert_int_equal(json_array_size(rows), 1);
	assert_int_equal(geti(json_array_get(rows, 0), "id"), f->r1);
	json_decref(rows);

	memset(&q, 0, sizeof q);
	q.sort = "msg_total";
	q.limit = 2;
	rows = query_reports(f->st, &q);
	assert_int_equal(json_array_size(rows), 2);
	assert_int_equal(geti(json_array_get(rows, 0), "msg_total"), 30);
	assert_int_equal(geti(json_array_get(rows, 1), "msg_total"), 60);
	json_decref(rows);

	/* Report-ID search: a part of it, in any case */
	memset(&q, 0, sizeof q);
	q.report_id = "G2";
	rows = query_reports(f->st, &q);
	assert_int_equal(json_array_size(rows), 1);
	assert_int_equal(geti(json_array_get(rows, 0), "id"), f->r3);
	json_decref(rows);
	q.report_id = "2%";     /* no LIKE wildcards */
	rows = query_reports(f->st, &q);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);

	memset(&q, 0, sizeof q);
	q.sort = "nope";
	assert_null(query_reports(f->st, &q));
}

static void
test_report_detail(void **state)
{
	struct fx *f = *state;
	json_t *r, *recs, *rec, *a;

	r = query_report(f->st, f->r1);
	assert_non_null(r);
	assert_string_equal(gets_(r, "org_name"), "google.com");
	assert_string_equal(gets_(r, "email"), "dmarc@reporter.example");
	assert_int_equal(geti(r, "msg_total"), 120);
	assert_int_equal(strlen(gets_(r, "content_hash")), 64);
	assert_true(json_is_null(json_object_get(r, "raw_id")));
	assert_string_equal(gets_(json_object_get(r, "policy_published"), "p"),
	    "reject");
	assert_true(json_is_null(json_object_get(json_object_get(r,
	    "policy_published"), "pct")));
	assert_int_equal(json_array_size(json_object_get(r, "warnings")), 0);
	recs = json_object_get(r, "records");
	assert_int_equal(json_array_size(recs), 2);
	rec = json_array_get(recs, 0);
	assert_string_equal(gets_(rec, "source_ip"), "192.0.2.1");
	assert_int_equal(geti(rec, "count"), 100);
	assert_string_equal(gets_(rec, "dkim"), "pass");
	assert_string_equal(gets_(rec, "dmarc"), "pass");
	a = json_object_get(rec, "dkim_results");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(gets_(json_array_get(a, 1), "selector"), "k2");
	assert_string_equal(gets_(json_array_get(a, 1), "result_raw"),
	    "hardfail");
	assert_int_equal(json_array_size(json_object_get(rec, "spf_results")), 1);
	assert_int_equal(json_array_size(json_object_get(rec, "reasons")), 0);
	rec = json_array_get(recs, 1);
	assert_string_equal(gets_(rec, "dmarc"), "fail");
	a = json_object_get(rec, "reasons");
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(gets_(json_array_get(a, 0), "comment"), "via list");
	assert_int_equal(json_array_size(json_object_get(rec, "dkim_results")), 0);
	/* inputs that brought it */
	assert_int_equal(json_array_size(json_object_get(r, "ledger")), 2);
	json_decref(r);

	r = query_report(f->st, f->r3);
	assert_int_equal(json_array_size(json_object_get(r, "warnings")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(r,
	    "warnings"), 0)), "stray element ignored");
	json_decref(r);

	assert_null(query_report(f->st, 424242));
	assert_non_null(strstr(store_errmsg(f->st), "no such report"));
}

static void
test_ledger(void **state)
{
	struct fx *f = *state;
	struct query q;
	json_t *rows;

	rows = query_ledger(f->st, NULL, NULL);
	assert_int_equal(json_array_size(rows), 3);
	/* newest first (same second: by id) */
	assert_string_equal(gets_(json_array_get(rows, 0), "input"),
	    "a-again.xml");
	assert_string_equal(gets_(json_array_get(rows, 2), "input"), "a.xml");
	json_decref(rows);
	rows = query_ledger(f->st, NULL, "not-a-report");
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(gets_(json_array_get(rows, 0), "reason"), "no XML");
	assert_true(json_is_null(json_object_get(json_array_get(rows, 0),
	    "report")));
	json_decref(rows);
	memset(&q, 0, sizeof q);
	q.limit = 1;
	rows = query_ledger(f->st, &q, NULL);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	memset(&q, 0, sizeof q);
	q.until = 1000;
	rows = query_ledger(f->st, &q, NULL);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
}

static void
test_readonly_queries(void **state)
{
	struct fx *f = *state;
	struct store *ro;
	char err[256];
	json_t *rows;

	ro = store_open(f->db, 1, err, sizeof err);
	assert_non_null(ro);
	rows = query_summary(ro, NULL, "reporter");
	assert_int_equal(json_array_size(rows), 2);
	json_decref(rows);
	store_close(&ro);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_summary_by_domain),
		cmocka_unit_test(test_summary_filters),
		cmocka_unit_test(test_summary_by_day),
		cmocka_unit_test(test_reports_list),
		cmocka_unit_test(test_report_detail),
		cmocka_unit_test(test_ledger),
		cmocka_unit_test(test_readonly_queries),
	};

	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}

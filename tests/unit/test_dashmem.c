/*
 * test_dashmem.c - the in-memory copy of `daily` (store/dashmem.c) against
 * its oracle, the SQL of store/query_dash.c: the overview and the sources
 * list must serialise to the same bytes for every filter combination
 * (domain, reporter, source, result, periods on UTC and shifted time-zone
 * midnights, empty ranges, only_failures, every sort both ways, pages past
 * the end), on generated data with ties, shared header_from values, commas
 * in names and IPs whose text order differs from their numeric order.
 * Then freshness: the fingerprint moves with an import and with a
 * retention-style delete of old days, not with an ip_info write; the
 * keeper builds at start, refuses a stale copy at once and rebuilds.
 *
 * DASHMEM_TEST_DB=PATH runs the same comparison on an existing database
 * (read only; e.g. bench/out/api.db) instead of the generated one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/dashmem.h"
#include "store/query.h"
#include "store/query_dash.h"
#include "store/store.h"

#define DAY 86400
#define T0 1767225600           /* 2026-01-01 00:00 UTC */
#define NDAYS 40

struct fx {
	char dir[64], db[96];
	struct store *st;
	unsigned rng;
	int seq;
};

static unsigned
fx_rand(struct fx *f, unsigned n)
{
	f->rng = f->rng * 1103515245u + 12345u;
	return (f->rng >> 8) % n;
}

static const char *const fx_domains[] = {"example.com", "b.example", "shop,example.net",
	"\xe4\xbe\x8b.jp", "z.example"};
static const char *const fx_ips[] = {"10.0.0.1", "10.0.0.10", "10.0.0.2", "192.0.2.1",
	"192.0.2.10", "198.51.100.7", "2001:db8::1", "2001:db8::a", "203.0.113.5",
	"9.9.9.9", "10.0.0.100", "172.16.0.1"};
static const char *const fx_orgs[] = {"google.com", "Yahoo", "Outlook.com", "mail.ru"};
static const char *const fx_hfs[] = {"example.com", "news.example.com", "b.example",
	"a,b.example", "other.org", "x.example", "y.example", "z.example", "w.example"};
static const char *const fx_disp[] = {"none", "quarantine", "reject", "none"};
static const char *const fx_eval[] = {"pass", "fail", "pass"};

/* One report of random records for a domain over 1 or 2 days. */
static void
fx_report(struct fx *f, const char *dom, int day, int noon)
{
	struct report r;
	struct report_record rec[8];
	char id[32];
	int64_t rid, dup;
	uint8_t h[32];
	unsigned n = 1 + fx_rand(f, 6);

	memset(&r, 0, sizeof r);
	snprintf(id, sizeof id, "r%d", f->seq);
	r.org_name = fx_orgs[fx_rand(f, 4)];
	r.email = "dmarc@reporter.example";
	r.report_id = id;
	r.policy.domain = dom;
	r.policy.p = "reject";
	r.policy.pct = -1;
	r.begin = T0 + (int64_t)day * DAY + (noon ? DAY / 2 : 0);
	r.end = r.begin + (noon ? DAY : DAY - 1);
	memset(h, 0, sizeof h);
	memcpy(h, &f->seq, sizeof f->seq);
	f->seq++;
	assert_int_equal(store_report_begin(f->st, &r, 0, &rid, &dup), 0);
	for (unsigned i = 0; i < n; i++) {
		memset(&rec[i], 0, sizeof rec[i]);
		rec[i].source_ip = fx_ips[fx_rand(f, 12)];
		/* few distinct counts: ties in every sort */
		rec[i].count = 10 * (1 + fx_rand(f, 3));
		rec[i].disposition = fx_disp[fx_rand(f, 4)];
		rec[i].dkim = fx_eval[fx_rand(f, 3)];
		rec[i].spf = fx_eval[fx_rand(f, 3)];
		rec[i].header_from = fx_hfs[fx_rand(f, 9)];
		assert_int_equal(store_report_record(f->st, rid, &r, &rec[i]), 0);
	}
	assert_int_equal(store_report_end(f->st, rid, &r, h, &dup), 0);
}

static void
fx_fill(struct fx *f, int reports)
{
	assert_int_equal(store_begin(f->st), 0);
	for (int i = 0; i < reports; i++)
		fx_report(f, fx_domains[fx_rand(f, 5)], (int)fx_rand(f, NDAYS), (int)fx_rand(f, 3) == 0);
	assert_int_equal(store_commit(f->st), 0);
}

static void
fx_exec(struct fx *f, const char *sql)
{
	assert_int_equal(sqlite3_exec(store_sqlite_handle(f->st), sql, NULL, NULL, NULL), SQLITE_OK);
}

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char err[256];

	snprintf(f->dir, sizeof f->dir, "/tmp/test_dashmem.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof f->db, "%s/db.sqlite", f->dir);
	f->st = store_open(f->db, 0, err, sizeof err);
	assert_non_null(f->st);
	f->rng = 42;
	fx_fill(f, 400);
	/* a domain with reports but no daily rows */
	fx_exec(f, "INSERT INTO reports(org_name,report_id,policy_domain,begin_ts,end_ts,"
	    "content_hash,dedup_key,imported_at) VALUES('x','empty','empty.example',"
	    "1767225600,1767311999,x'00','empty-key',0)");
	fx_exec(f, "INSERT INTO ip_info(ip,ptr,ptr_status,fcrdns,country,asn,as_name,service)"
	    " VALUES('10.0.0.1','mx.example.com','ok',1,'JP',64500,'Example AS','own'),"
	    "('192.0.2.1','b.example.net','ok',0,NULL,NULL,NULL,NULL),"
	    "('2001:db8::1',NULL,'nxdomain',NULL,'US',64501,'AS,with comma',NULL)");
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

/* ---- the comparison ---------------------------------------------------------- */

static char *
dump(json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(6)) : strdup("(null)");

	json_decref(v);
	return s;
}

static int compared, failed;

static void
same(const char *what, const struct query *q, char *a, char *b)
{
	compared++;
	if (strcmp(a, b) != 0) {
		if (failed++ < 5)
			fprintf(stderr, "%s differs (domain=%s reporter=%s source=%s result=%s since=%lld "
			    "until=%lld sort=%s desc=%d limit=%d offset=%d)\n  sql: %.600s\n  mem: %.600s\n",
			    what, q->domain ? q->domain : "-", q->reporter ? q->reporter : "-",
			    q->source_ip ? q->source_ip : "-", q->result ? q->result : "-",
			    (long long)q->since, (long long)q->until, q->sort ? q->sort : "-", q->desc,
			    q->limit, q->offset, a, b);
	}
	free(a);
	free(b);
}

static void
compare_one(struct store *st, const struct dashmem *dm, const struct query *q, int64_t now,
    int full)
{
	static const char *const sorts[] = {NULL, "ip", "messages", "fail", "pass_pct",
		"reporters", "hostname"};
	struct query_dash_err e1 = {0}, e2 = {0};
	struct query s = *q;

	same("overview", q, dump(query_dash_overview(st, q, now, &e1)),
	    dump(query_dash_overview_mem(st, dm, q, now, &e2)));
	for (size_t i = 0; i < (full ? sizeof(sorts) / sizeof(sorts[0]) : 2); i++)
		for (int desc = 0; desc < 2; desc++)
			for (int of = 0; of < 2; of++) {
				s.sort = sorts[i];
				s.desc = sorts[i] == NULL ? 1 : desc;
				s.limit = of ? 3 : 0;
				s.offset = of ? 2 : 0;
				same("sources", &s, dump(query_dash_sources(st, &s, of, &e1)),
				    dump(query_dash_sources_mem(st, dm, &s, of, &e2)));
			}
	s.sort = "messages";
	s.limit = 5;
	s.offset = 100000;              /* past the end: no rows, total 0 */
	same("sources", &s, dump(query_dash_sources(st, &s, 0, &e1)),
	    dump(query_dash_sources_mem(st, dm, &s, 0, &e2)));
}

/* Every filter combination over a set of periods. */
static void
compare_all(struct store *st, const struct dashmem *dm, const char *const *doms, size_t ndom,
    const char *const *reps, size_t nrep, const char *const *ips, size_t nip, int64_t first,
    int64_t last, int quick)
{
	static const char *const results[] = {NULL, "pass", "fail"};
	static const int64_t shifts[] = {0, 9 * 3600, -5 * 3600, 19800};
	int64_t span = last + DAY - first, periods[10][2];
	size_t np = 0;

	periods[np][0] = 0, periods[np++][1] = 0;
	for (size_t z = 0; z < 4; z++) {
		periods[np][0] = first - shifts[z];
		periods[np++][1] = first + span - shifts[z];
	}
	periods[np][0] = first + span / 2 - 9 * 3600, periods[np++][1] = first + span / 2 + DAY - 9 * 3600;
	periods[np][0] = first + span / 3, periods[np++][1] = 0;
	periods[np][0] = 0, periods[np++][1] = first + span / 3;
	periods[np][0] = first - 100 * DAY, periods[np++][1] = first - 50 * DAY;    /* empty */
	periods[np][0] = first + 7 * DAY, periods[np++][1] = first + 37 * DAY;
	for (size_t p = 0; p < np; p++)
		for (size_t d = 0; d <= ndom; d++)
			for (size_t r = 0; r <= nrep; r++)
				for (size_t i = 0; i <= nip; i++)
					for (size_t res = 0; res < 3; res++) {
						struct query q = {0};

						if (quick && (r > 0 && i > 0))
							continue;
						q.domain = d < ndom ? doms[d] : NULL;
						q.reporter = r < nrep ? reps[r] : NULL;
						q.source_ip = i < nip ? ips[i] : NULL;
						q.result = results[res];
						q.since = periods[p][0];
						q.until = periods[p][1];
						if (q.since && q.until && q.since >= q.until)
							continue;
						compare_one(st, dm, &q, periods[p][1] ? periods[p][1] : last + DAY,
						    r == nrep && i == nip && (d == ndom || d == 0));
					}
}

static struct dashmem *
build(struct store *st)
{
	char err[256] = "";
	struct dashmem *dm = dashmem_build(store_sqlite_handle(st), 0, err, sizeof err);

	if (dm == NULL)
		fprintf(stderr, "dashmem_build: %s\n", err);
	assert_non_null(dm);
	return dm;
}

static void
compare_fixture(struct fx *f, const struct dashmem *dm, int quick)
{
	static const char *const doms[] = {"example.com", "shop,example.net", "\xe4\xbe\x8b.jp",
		"empty.example", "missing.example"};
	static const char *const reps[] = {"Yahoo", "google.com", "nobody.example"};
	static const char *const ips[] = {"10.0.0.1", "2001:db8::a", "203.0.113.99"};

	compared = failed = 0;
	compare_all(f->st, dm, doms, quick ? 2 : 5, reps, quick ? 1 : 3, ips, quick ? 1 : 3, T0,
	    T0 + (NDAYS - 1) * DAY, quick);
	fprintf(stderr, "  %d answers compared, %d differ\n", compared, failed);
	assert_int_equal(failed, 0);
	assert_true(compared > (quick ? 500 : 5000));
}

static void
test_same_answers(void **state)
{
	struct fx *f = *state;
	struct dashmem *dm = build(f->st);
	struct query q = {0};
	struct query_dash_err e = {0};
	json_t *v;

	assert_true(dm->nrow > 100);
	assert_int_equal(dm->ndom, 5);
	compare_fixture(f, dm, 0);
	/* the comparison sees what it compares: the copy answers with rows */
	v = query_dash_overview_mem(f->st, dm, &q, T0, &e);
	assert_int_equal(json_array_size(json_object_get(v, "domains")), 6);
	json_decref(v);
	dashmem_free(&dm);
}

static void
test_fingerprint(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = store_sqlite_handle(f->st);
	struct dashmem *dm = build(f->st);
	struct dashmem_fp fp;

	assert_int_equal(dashmem_fp_read(db, &fp), 0);
	assert_true(dashmem_fp_equal(&fp, &dm->fp));
	/* enrichment and rules do not move it */
	fx_exec(f, "INSERT OR REPLACE INTO ip_info(ip,ptr,ptr_status) VALUES('9.9.9.9','dns9','ok')");
	assert_int_equal(dashmem_fp_read(db, &fp), 0);
	assert_true(dashmem_fp_equal(&fp, &dm->fp));
	/* an import does */
	fx_fill(f, 3);
	assert_int_equal(dashmem_fp_read(db, &fp), 0);
	assert_false(dashmem_fp_equal(&fp, &dm->fp));
	dashmem_free(&dm);
	dm = build(f->st);
	compare_fixture(f, dm, 1);
	/* retention deleting old days of daily (rollups only) does */
	fx_exec(f, "DELETE FROM daily WHERE day < 1767225600 + 2 * 86400");
	assert_int_equal(dashmem_fp_read(db, &fp), 0);
	assert_false(dashmem_fp_equal(&fp, &dm->fp));
	dashmem_free(&dm);
	dm = build(f->st);
	compare_fixture(f, dm, 1);
	dashmem_free(&dm);
	/* more than 64 reporters: distinct reporters per source by hash set */
	fx_exec(f, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 80)"
	    " INSERT INTO daily SELECT 1767225600 + (i % 30) * 86400, 'example.com', 'example.com',"
	    " CASE WHEN i % 3 = 0 THEN '10.0.0.1' ELSE '192.0.2.10' END, 'org' || i, 'none',"
	    " CASE WHEN i % 2 = 0 THEN 'pass' ELSE 'fail' END, 'fail', i FROM n");
	dm = build(f->st);
	assert_true(dm->orgs.n > 64);
	compare_fixture(f, dm, 1);
	dashmem_free(&dm);
}

/* values the copy cannot hold exactly: no copy */
static void
test_refuses(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct dashmem *dm;

	fx_exec(f, "INSERT INTO daily VALUES(1767225600,'example.com','x','10.9.9.9','o','none',"
	    "'pass','pass',5000000000)");
	dm = dashmem_build(store_sqlite_handle(f->st), 0, err, sizeof err);
	assert_null(dm);
	assert_non_null(strstr(err, "messages"));
	fx_exec(f, "UPDATE daily SET messages=5, source_ip=x'0a09' WHERE source_ip='10.9.9.9'");
	dm = dashmem_build(store_sqlite_handle(f->st), 0, err, sizeof err);
	assert_null(dm);
	fx_exec(f, "DELETE FROM daily WHERE messages=5 AND org_name='o'");
	dm = dashmem_build(store_sqlite_handle(f->st), 10, err, sizeof err);
	assert_null(dm);
	assert_non_null(strstr(err, "too many"));
	dm = build(f->st);
	dashmem_free(&dm);
}

static json_t *
wait_ready(struct dashmem_keeper *k, json_int_t builds)
{
	for (int i = 0; i < 200; i++) {
		json_t *s = dashmem_keeper_status(k);

		if (strcmp(json_string_value(json_object_get(s, "state")), "ready") == 0 &&
		    json_integer_value(json_object_get(s, "builds")) >= builds)
			return s;
		json_decref(s);
		usleep(50000);
	}
	fail_msg("the keeper did not become ready");
	return NULL;
}

static void
test_keeper(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = store_sqlite_handle(f->st);
	struct dashmem_keeper *k = dashmem_keeper_new(f->db, 0, NULL, NULL);
	struct dashmem *dm;
	struct query q = {0};
	struct query_dash_err e = {0};

	assert_non_null(k);
	json_decref(wait_ready(k, 1));
	dm = dashmem_keeper_get(k, db);
	assert_non_null(dm);
	dashmem_keeper_put(k, dm);
	/* a change between two requests: the second one must not use the copy */
	fx_fill(f, 2);
	assert_null(dashmem_keeper_get(k, db));
	json_decref(wait_ready(k, 2));
	dm = dashmem_keeper_get(k, db);
	assert_non_null(dm);
	/* and the new copy has the new data */
	{
		char *a = dump(query_dash_overview(f->st, &q, T0, &e));
		char *b = dump(query_dash_overview_mem(f->st, dm, &q, T0, &e));

		assert_string_equal(a, b);
		free(a);
		free(b);
	}
	dashmem_keeper_put(k, dm);
	dashmem_keeper_free(&k);
}

/* DASHMEM_TEST_DB: the comparison on a real database (read only) */
static void
test_external(void **state)
{
	const char *path = getenv("DASHMEM_TEST_DB");
	char err[256];
	struct store *st;
	struct dashmem *dm;
	sqlite3_stmt *s;
	const char *doms[2], *reps[1], *ips[1];
	char d0[256], d1[256], r0[256], i0[64];
	int64_t first = 0, last = 0;

	(void)state;
	if (path == NULL || *path == '\0')
		skip();
	st = store_open(path, 1, err, sizeof err);
	assert_non_null(st);
	dm = build(st);
	fprintf(stderr, "  copy: %u rows, %u domains, %u IPs, %zu bytes, %.0f ms\n", dm->nrow,
	    dm->ndom, dm->ips.n, dm->bytes, dm->build_ms);
	assert_int_equal(sqlite3_prepare_v2(store_sqlite_handle(st), "SELECT (SELECT min(day) FROM"
	    " daily), (SELECT max(day) FROM daily), (SELECT policy_domain FROM daily LIMIT 1),"
	    " (SELECT max(policy_domain) FROM reports), (SELECT org_name FROM reports LIMIT 1),"
	    " (SELECT source_ip FROM records LIMIT 1)", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	first = sqlite3_column_int64(s, 0);
	last = sqlite3_column_int64(s, 1);
	snprintf(d0, sizeof d0, "%s", (const char *)sqlite3_column_text(s, 2));
	snprintf(d1, sizeof d1, "%s", (const char *)sqlite3_column_text(s, 3));
	snprintf(r0, sizeof r0, "%s", (const char *)sqlite3_column_text(s, 4));
	snprintf(i0, sizeof i0, "%s", (const char *)sqlite3_column_text(s, 5));
	sqlite3_finalize(s);
	doms[0] = d0;
	doms[1] = d1;
	reps[0] = r0;
	ips[0] = i0;
	compared = failed = 0;
	{
		int64_t until = last + DAY, y = until - 365 * DAY;
		struct query qs[] = {
			{.since = y, .until = until},
			{.since = y - 9 * 3600, .until = until - 9 * 3600},
			{.domain = doms[0], .since = until - 30 * DAY, .until = until},
			{.result = "fail", .since = y, .until = until},
			{.reporter = reps[0], .since = until - 90 * DAY, .until = until},
			{.source_ip = ips[0]},
			{.domain = doms[1], .result = "pass", .since = first - 5 * 3600,
			    .until = first + 40 * DAY - 5 * 3600},
		};

		for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
			compare_one(st, dm, &qs[i], until, i < 2 || i == 3);
	}
	fprintf(stderr, "  %d answers compared, %d differ\n", compared, failed);
	assert_int_equal(failed, 0);
	dashmem_free(&dm);
	store_close(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_answers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fingerprint, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_refuses, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_keeper, fx_setup, fx_teardown),
		cmocka_unit_test(test_external),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

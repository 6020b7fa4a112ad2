/*
 * test_store.c - the SQLite store: schema and migrations, the report write
 * path (abort, dedup by key and by content hash, per-day spreading, delete
 * for reparse, a failed write poisoning its batch, daily deltas kept per
 * transaction staying exact through aborts and deletes, migration of old
 * data), busy handling, raw
 * originals.  Reports are built by
 * hand; every test works in its own temporary directory.
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
#include <sqlite3.h>
#include <zlib.h>

#include "lib/rd.h"
#include "store/query.h"
#include "store/store.h"
#include "store/store_impl.h"

#define DAY 86400
#define T0 1700006400 /* 2023-11-15 00:00:00 UTC */

struct tdir {
	char dir[64];
	char db[96];
};

static int
tdir_setup(void **state)
{
	struct tdir *t = calloc(1, sizeof *t);

	snprintf(t->dir, sizeof t->dir, "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->db, sizeof t->db, "%s/db.sqlite", t->dir);
	*state = t;
	return 0;
}

static int
tdir_teardown(void **state)
{
	struct tdir *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", t->dir);
	free(t);
	return 0;
}

static struct store *
open_rw(const struct tdir *t)
{
	char err[512] = "";
	struct store *st = store_open(t->db, 0, err, sizeof err);

	if (st == NULL)
		fail_msg("store_open: %s", err);
	return st;
}

/* first column of the first row of sql, as an integer */
static int64_t
q1(struct store *st, const char *fmt, ...)
{
	sqlite3 *db = store_sqlite_handle(st);
	sqlite3_stmt *stmt;
	char sql[2048];
	va_list ap;
	int64_t v = -1;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

/* ---- building reports by hand ---------------------------------------- */

static struct report_dkim fx_dkim = { "example.com", "s1", "pass", "pass", NULL };
static struct report_spf fx_spf = { "example.com", "mfrom", "pass", "pass", NULL };
static struct report_reason fx_reason = { "forwarded", "forwarded", "list" };

static void
fx_report(struct report *r, const char *org, const char *id, const char *dom,
    int64_t begin, int64_t end)
{
	memset(r, 0, sizeof *r);
	r->org_name = org;
	r->org_name_raw = org;
	r->email = "noreply@example.net";
	r->report_id = id;
	r->report_id_raw = id;
	r->begin = begin;
	r->end = end;
	r->policy.domain = dom;
	r->policy.p = "none";
	r->policy.pct = 100;
	r->policy.adkim = "r";
	r->policy.aspf = "r";
}

static void
fx_record(struct report_record *rec, const char *ip, uint64_t count,
    const char *disp, const char *dkim, const char *spf, const char *from)
{
	memset(rec, 0, sizeof *rec);
	rec->source_ip = ip;
	rec->source_ip_raw = ip;
	rec->count = count;
	rec->disposition = disp;
	rec->dkim = dkim;
	rec->spf = spf;
	rec->header_from = from;
	rec->dkim_results = &fx_dkim;
	rec->n_dkim = 1;
	rec->spf_results = &fx_spf;
	rec->n_spf = 1;
}

static void
fx_hash(uint8_t h[32], unsigned seed)
{
	unsigned i;

	for (i = 0; i < 32; i++)
		h[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

/*
 * Stores a report with `n` records from `recs`; returns the new id, or the
 * duplicate's id negated.
 */
static int64_t
put_report(struct store *st, const struct report *r,
    const struct report_record *recs, size_t n, unsigned hash_seed)
{
	int64_t id = 0, dup = 0;
	uint8_t h[32];
	size_t i;

	fx_hash(h, hash_seed);
	assert_int_equal(store_report_begin(st, r, 0, &id, &dup), 0);
	if (dup)
		return -dup;
	assert_true(id > 0);
	for (i = 0; i < n; i++)
		assert_int_equal(store_report_record(st, id, r, &recs[i]), 0);
	assert_int_equal(store_report_end(st, id, r, h, &dup), 0);
	if (dup)
		return -dup;
	return id;
}

/* daily_org is exactly `daily` summed per reporter and day */
static void
check_daily_org(struct store *st)
{
	static const char grouped[] = "SELECT org_name, day, sum(messages),"
	    " sum(CASE WHEN dkim_eval='pass' OR spf_eval='pass' THEN messages"
	    " ELSE 0 END), sum(CASE WHEN spf_eval='pass' THEN messages ELSE 0"
	    " END), sum(CASE WHEN dkim_eval='pass' THEN messages ELSE 0 END)"
	    " FROM daily GROUP BY org_name, day";
	static const char rollup[] = "SELECT org_name, day, messages, pass,"
	    " spf, dkim FROM daily_org";

	assert_int_equal(q1(st, "SELECT count(*) FROM (%s EXCEPT %s)", grouped,
	    rollup), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM (%s EXCEPT %s)", rollup,
	    grouped), 0);
}

/* ---- schema ---------------------------------------------------------- */

static void
test_schema_embedded_matches_file(void **state)
{
	const char *src = getenv("DMARCSTAT_SRC");
	char path[1024], *buf;
	FILE *f;
	long n;

	(void)state;
	if (src == NULL)
		skip();
	snprintf(path, sizeof path, "%s/src/store/schema.sql", src);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (strcmp(buf, store_sqlite_schema()) != 0)
		fail_msg("src/store/schema.sql and the copy embedded in "
		    "store_sqlite.c differ: update both");
	free(buf);
}

static void
test_migrate_and_reopen(void **state)
{
	struct tdir *t = *state;
	struct store *st;
	char err[512];
	int64_t tables;

	st = open_rw(t);
	assert_int_equal(q1(st, "PRAGMA user_version"),
	    store_sqlite_schema_version());
	assert_true(store_sqlite_schema_version() >= 2);
	tables = q1(st, "SELECT count(*) FROM sqlite_master WHERE type='table'");
	assert_true(tables >= 7);
	/* migration 9: DKIM/SPF results and reasons are views over records */
	assert_int_equal(q1(st, "SELECT count(*) FROM sqlite_master WHERE "
	    "type='view' AND name IN ('record_dkim','record_spf',"
	    "'record_reasons')"), 3);
	assert_int_equal(q1(st, "SELECT count(*) FROM sqlite_master WHERE "
	    "name='ledger_report'"), 1);
	assert_int_equal(q1(st, "PRAGMA foreign_keys"), 1);
	assert_int_equal(q1(st, "PRAGMA synchronous"), 1); /* NORMAL */
	store_close(&st);
	assert_null(st);

	/* reopen: no migration, same schema */
	st = open_rw(t);
	assert_int_equal(q1(st, "SELECT count(*) FROM sqlite_master WHERE "
	    "type='table'"), tables);
	store_close(&st);

	/* read-only */
	st = store_open(t->db, 1, err, sizeof err);
	assert_non_null(st);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_rollback(st), 0);
	store_close(&st);

	/* WAL is persistent in the file */
	{
		sqlite3 *db;
		sqlite3_stmt *s;
		assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode",
		    -1, &s, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_string_equal(sqlite3_column_text(s, 0), "wal");
		sqlite3_finalize(s);
		sqlite3_close(db);
	}
}

static void
test_migrate_from_v1(void **state)
{
	struct tdir *t = *state;
	sqlite3 *db;
	struct store *st;

	/* a database as the first release left it */
	assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, store_sqlite_schema(), NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=1", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);

	st = open_rw(t);
	assert_int_equal(q1(st, "PRAGMA user_version"),
	    store_sqlite_schema_version());
	assert_int_equal(q1(st, "SELECT count(*) FROM sqlite_master WHERE "
	    "name='reports_raw'"), 1);
	store_close(&st);
}

static void
test_refuse_newer_and_foreign(void **state)
{
	struct tdir *t = *state;
	char err[512] = "", path[128];
	sqlite3 *db;
	struct store *st;

	st = open_rw(t);
	store_close(&st);
	assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	st = store_open(t->db, 0, err, sizeof err);
	assert_null(st);
	assert_non_null(strstr(err, "newer"));
	assert_non_null(strstr(err, "99"));
	st = store_open(t->db, 1, err, sizeof err);
	assert_null(st);

	/* some other application's database */
	snprintf(path, sizeof path, "%s/other.sqlite", t->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	st = store_open(path, 0, err, sizeof err);
	assert_null(st);
	assert_non_null(strstr(err, "not a dmarcstat database"));

	/* read-only on nothing */
	snprintf(path, sizeof path, "%s/missing.sqlite", t->dir);
	st = store_open(path, 1, err, sizeof err);
	assert_null(st);
	assert_int_equal(access(path, F_OK), -1);
}

/* ---- write path ------------------------------------------------------ */

static void
test_report_roundtrip(void **state)
{
	struct tdir *t = *state;
	struct store *st = open_rw(t);
	struct report r;
	struct report_record rec[2];
	const char *warn[] = { "recovered: stray </foo>" };
	int64_t id, lid;
	struct ledger_entry le = { 0 };
	uint8_t sha[32];

	fx_report(&r, "google.com", "123", "example.com", T0, T0 + DAY - 1);
	r.warnings = warn;
	r.n_warnings = 1;
	fx_record(&rec[0], "192.0.2.1", 10, "none", "pass", "fail", "example.com");
	fx_record(&rec[1], "192.0.2.2", 5, "reject", "fail", "fail", "example.com");
	rec[1].reasons = &fx_reason;
	rec[1].n_reasons = 1;
	assert_int_equal(store_begin(st), 0);
	id = put_report(st, &r, rec, 2, 1);
	assert_true(id > 0);
	fx_hash(sha, 99);
	le.source = "file";
	le.input = "/tmp/x.xml";
	le.size = 1234;
	le.sha256 = sha;
	le.status = "imported";
	le.kind = "aggregate";
	le.report = id;
	assert_int_equal(store_ledger_add(st, &le, &lid), 0);
	assert_true(lid > 0);
	assert_int_equal(store_commit(st), 0);

	assert_int_equal(q1(st, "SELECT n_records FROM reports WHERE id=%lld",
	    (long long)id), 2);
	assert_int_equal(q1(st, "SELECT msg_total FROM reports WHERE id=%lld",
	    (long long)id), 15);
	assert_int_equal(q1(st, "SELECT msg_fail FROM reports WHERE id=%lld",
	    (long long)id), 5);
	assert_int_equal(q1(st, "SELECT json_array_length(warnings) FROM "
	    "reports"), 1);
	assert_int_equal(q1(st, "SELECT count(*) FROM records"), 2);
	assert_int_equal(q1(st, "SELECT count(*) FROM records WHERE "
	    "dmarc='pass'"), 1);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_dkim"), 2);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_spf"), 2);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_reasons"), 1);
	assert_int_equal(q1(st, "SELECT sum(messages) FROM daily"), 15);
	assert_int_equal(q1(st, "SELECT count(DISTINCT day) FROM daily"), 1);
	assert_int_equal(q1(st, "SELECT day FROM daily LIMIT 1"), T0);
	assert_int_equal(q1(st, "SELECT report FROM ledger"), id);
	store_close(&st);
}

static void
test_dedup_by_key_case_insensitive(void **state)
{
	struct tdir *t = *state;
	struct store *st = open_rw(t);
	struct report r;
	struct report_record rec;
	int64_t a, b;

	fx_record(&rec, "192.0.2.1", 3, "none", "pass", "pass", "example.com");
	fx_report(&r, "Google.com", "ABC-1", "example.com", T0, T0 + DAY);
	assert_int_equal(store_begin(st), 0);
	a = put_report(st, &r, &rec, 1, 1);
	assert_true(a > 0);
	/* same key in other letter case, other content */
	fx_report(&r, "google.COM", "abc-1", "example.com", T0, T0 + DAY);
	b = put_report(st, &r, &rec, 1, 2);
	assert_int_equal(b, -a);
	/* store_report_abort after a duplicate is harmless */
	assert_int_equal(store_report_abort(st, 0), 0);
	/* another period is another report */
	fx_report(&r, "google.com", "abc-1", "example.com", T0 + DAY,
	    T0 + 2 * DAY);
	b = put_report(st, &r, &rec, 1, 3);
	assert_true(b > 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM reports"), 2);
	assert_int_equal(q1(st, "SELECT sum(messages) FROM daily"), 6);
	store_close(&st);
}

static void
test_dedup_by_hash(void **state)
{
	struct tdir *t = *state;
	struct store *st = open_rw(t);
	struct report r;
	struct report_record rec;
	int64_t a, b;

	fx_record(&rec, "192.0.2.1", 3, "none", "pass", "pass", "example.com");
	fx_report(&r, "google.com", "1", "example.com", T0, T0 + DAY);
	a = put_report(st, &r, &rec, 1, 7);  /* no batch: own transaction */
	assert_true(a > 0);
	/* other key, same document hash: duplicate, nothing remains */
	fx_report(&r, "google.com", "2", "example.com", T0, T0 + DAY);
	b = put_report(st, &r, &rec, 1, 7);
	assert_int_equal(b, -a);
	assert_int_equal(q1(st, "SELECT count(*) FROM reports"), 1);
	assert_int_equal(q1(st, "SELECT count(*) FROM records"), 1);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_dkim"), 1);
	assert_int_equal(q1(st, "SELECT sum(messages) FROM daily"), 3);
	/* the connection is back in autocommit */
	assert_int_equal(sqlite3_get_autocommit(store_sqlite_handle(st)), 1);
	store_close(&st);
}

static void
test_abort_leaves_nothing(void **state)
{
	struct tdir *t = *state;
	struct store *st = open_rw(t);
	struct report r;
	struct report_record rec[3];
	int64_t id, dup, keep;

	fx_record(&rec[0], "192.0.2.1", 3, "none", "pass", "pass", "example.com");
	fx_record(&rec[1], "192.0.2.2", 4, "none", "fail", "pass", "example.com");
	fx_record(&rec[2], "192.0.2.3", 5, "none", "fail", "fail", "example.com");
	assert_int_equal(store_begin(st), 0);
	fx_report(&r, "a.example", "keep", "example.com", T0, T0 + DAY);
	keep = put_report(st, &r, rec, 1, 1);
	assert_true(keep > 0);
	/* a report that breaks half way (e.g. the parser rejects it) */
	fx_report(&r, "b.example", "broken", "example.com", T0, T0 + 3 * DAY);
	assert_int_equal(store_report_begin(st, &r, 0, &id, &dup), 0);
	assert_int_equal(store_report_record(st, id, &r, &rec[1]), 0);
	assert_int_equal(store_report_record(st, id, &r, &rec[2]), 0);
	assert_int_equal(store_report_abort(st, id), 0);
	assert_int_equal(store_report_abort(st, id), 0);  /* idempotent */
	/* a record count out of range is refused */
	fx_report(&r, "c.example", "huge", "example.com", T0, T0 + DAY);
	assert_int_equal(store_report_begin(st, &r, 0, &id, &dup), 0);
	rec[2].count = STORE_MAX_COUNT + 1;
	assert_int_equal(store_report_record(st, id, &r, &rec[2]), -1);
	assert_non_null(strstr(store_errmsg(st), "too large"));
	assert_int_equal(store_report_abort(st, id), 0);
	assert_int_equal(store_commit(st), 0);

	assert_int_equal(q1(st, "SELECT count(*) FROM reports"), 1);
	assert_int_equal(q1(st, "SELECT id FROM reports"), keep);
	assert_int_equal(q1(st, "SELECT count(*) FROM records"), 1);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_spf"), 1);
	assert_int_equal(q1(st, "SELECT sum(messages) FROM daily"), 3);
	assert_int_equal(q1(st, "SELECT count(*) FROM daily"), 1);

	/* the same report can be imported completely afterwards */
	rec[2].count = 5;
	fx_report(&r, "b.example", "broken", "example.com", T0, T0 + 3 * DAY);
	id = put_report(st, &r, &rec[1], 2, 2);
	assert_true(id > 0);
	assert_int_equal(q1(st, "SELECT sum(messages) FROM daily"), 12);

	/* a whole batch rolled back (kill -9 before commit is the same) */
	assert_int_equal(store_begin(st), 0);
	fx_report(&r, "d.example", "gone", "example.com", T0, T0 + DAY);
	assert_true(put_report(st, &r, rec, 3, 3) > 0);
	assert_int_equal(store_rollback(st), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM reports"), 2);
	assert_int_equal(q1(st, "SELECT sum(messages) FROM daily"), 12);
	check_daily_org(st);
	store_close(&st);
}

static void
test_spread_function(void **state)
{
	int64_t days[STORE_SPREAD_MAX_DAYS];
	uint64_t parts[STORE_SPREAD_MAX_DAYS];
	int capped;
	size_t n, i;
	uint64_t sum;

	(void)state;
	/* the usual one-day report, end as 23:59:59 or as next midnight */
	n = store_spread(T0, T0 + DAY - 1, 10, days, parts, &capped);
	assert_int_equal(n, 1);
	assert_int_equal(days[0], T0);
	assert_int_equal(parts[0], 10);
	n = store_spread(T0, T0 + DAY, 10, days, parts, &capped);
	assert_int_equal(n, 1);
	/* begin == end and end < begin: day of begin */
	n = store_spread(T0 + 5000, T0 + 5000, 7, days, parts, &capped);
	assert_int_equal(n, 1);
	assert_int_equal(days[0], T0);
	n = store_spread(T0 + 3 * DAY + 5, T0, 7, days, parts, &capped);
	assert_int_equal(n, 1);
	assert_int_equal(days[0], T0 + 3 * DAY);
	assert_int_equal(parts[0], 7);
	/* noon to noon: half each; odd count goes to the earlier day */
	n = store_spread(T0 + DAY / 2, T0 + DAY + DAY / 2, 11, days, parts,
	    &capped);
	assert_int_equal(n, 2);
	assert_int_equal(parts[0], 6);
	assert_int_equal(parts[1], 5);
	assert_int_equal(days[1], T0 + DAY);
	/* three equal days, 10 messages: 4 3 3 */
	n = store_spread(T0, T0 + 3 * DAY, 10, days, parts, &capped);
	assert_int_equal(n, 3);
	assert_int_equal(parts[0], 4);
	assert_int_equal(parts[1], 3);
	assert_int_equal(parts[2], 3);
	/* largest remainder: 6h on day 1, 24h on day 2, 18h on day 3 */
	n = store_spread(T0 + 18 * 3600, T0 + 2 * DAY + 18 * 3600, 5, days,
	    parts, &capped);
	assert_int_equal(n, 3);
	assert_int_equal(parts[0], 1);   /* 0.625 */
	assert_int_equal(parts[1], 2);   /* 2.5 */
	assert_int_equal(parts[2], 2);   /* 1.875 */
	/* one message over 3 days: a single day, no zero parts */
	n = store_spread(T0, T0 + 3 * DAY, 1, days, parts, &capped);
	assert_int_equal(n, 1);
	assert_int_equal(parts[0], 1);
	/* every count over odd ranges sums exactly */
	for (i = 0; i < 500; i++) {
		uint64_t c = i * 7919 % 100003;
		int64_t b = T0 + (int64_t)(i * 3607 % DAY);
		int64_t e = b + (int64_t)(i * 104729 % (40 * DAY)) + 1;
		size_t k;
		n = store_spread(b, e, c, days, parts, &capped);
		for (k = 0, sum = 0; k < n; k++)
			sum += parts[k];
		assert_int_equal(sum, c);
		assert_int_equal(capped, 0);
	}
	/* huge counts do not overflow */
	n = store_spread(T0, T0 + 7 * DAY, STORE_MAX_COUNT, days, parts, &capped);
	for (i = 0, sum = 0; i < n; i++)
		sum += parts[i];
	assert_int_equal(sum, STORE_MAX_COUNT);
	/* more than 62 days: all on the begin day, capped */
	n = store_spread(T0 + 100, T0 + 90 * DAY, 9, days, parts, &capped);
	assert_int_equal(n, 1);
	assert_int_equal(capped, 1);
	assert_int_equal(days[0], T0);
	/* exactly 62 days still spreads */
	n = store_spread(T0, T0 + 62 * DAY, 62, days, parts, &capped);
	assert_int_equal(n, 62);
	assert_int_equal(capped, 0);
	/* missing begin */
	n = store_spread(-1, T0 + 10, 3, days, parts, &capped);
	assert_int_equal(n, 1);
	assert_int_equal(days[0], T0);
	/* both missing: day 0 */
	n = store_spread(-1, -1, 3, days, parts, &capped);
	assert_int_equal(n, 1);
	assert_int_equal(days[0], 0);
	assert_int_equal(parts[0], 3);
}

static void
test_dedup_key_function(void **state)
{
	char buf[128], small[8];
	size_t n;

	(void)state;
	n = store_dedup_key(buf, sizeof buf, "Google.COM", "<AbC>", "example.com",
	    1, 2);
	assert_string_equal(buf, "google.com|<abc>|example.com|1|2");
	assert_int_equal(n, strlen(buf));
	n = store_dedup_key(small, sizeof small, "Google.COM", "x", "y", 1, 2);
	assert_true(n >= sizeof small);
	assert_int_equal(strlen(small), sizeof small - 1);
}

static void
test_multiday_daily_sums(void **state)
{
	struct tdir *t = *state;
	struct store *st = open_rw(t);
	struct report r;
	struct report_record rec[2];
	const char *w;
	int64_t id;

	fx_record(&rec[0], "192.0.2.1", 7, "none", "pass", "pass", "example.com");
	fx_record(&rec[1], "192.0.2.2", 1000, "quarantine", "fail", "fail",
	    "example.com");
	/* 3.5 days: 06:00 day 0 .. 18:00 day 3 */
	fx_report(&r, "google.com", "multi", "example.com", T0 + 6 * 3600,
	    T0 + 3 * DAY + 18 * 3600);
	id = put_report(st, &r, rec, 2, 1);
	assert_true(id > 0);
	assert_int_equal(q1(st, "SELECT sum(messages) FROM daily"), 1007);
	assert_int_equal(q1(st, "SELECT count(DISTINCT day) FROM daily"), 4);
	assert_int_equal(q1(st, "SELECT sum(messages) FROM daily WHERE "
	    "source_ip='192.0.2.1'"), 7);
	assert_int_equal(q1(st, "SELECT sum(messages) FROM daily WHERE "
	    "source_ip='192.0.2.2'"), 1000);
	/* 1000 * 18/84 = 214.3, 24/84 = 285.7 x2, 18/84 = 214.3 */
	assert_int_equal(q1(st, "SELECT messages FROM daily WHERE "
	    "source_ip='192.0.2.2' AND day=%d", T0), 214);
	assert_int_equal(q1(st, "SELECT messages FROM daily WHERE "
	    "source_ip='192.0.2.2' AND day=%d", T0 + DAY), 286);
	assert_int_equal(q1(st, "SELECT messages FROM daily WHERE "
	    "source_ip='192.0.2.2' AND day=%d", T0 + 2 * DAY), 286);
	assert_int_equal(q1(st, "SELECT messages FROM daily WHERE "
	    "source_ip='192.0.2.2' AND day=%d", T0 + 3 * DAY), 214);
	/* the original range is kept on the report */
	assert_int_equal(q1(st, "SELECT end_ts-begin_ts FROM reports"),
	    3 * DAY + 12 * 3600);

	/* over 62 days: on the begin day, with a note in the warnings */
	fx_report(&r, "google.com", "long", "example.com", T0, T0 + 100 * DAY);
	id = put_report(st, &r, rec, 1, 2);
	assert_true(id > 0);
	assert_int_equal(q1(st, "SELECT messages FROM daily WHERE "
	    "source_ip='192.0.2.1' AND day=%d", T0), 7 + 2);
	{
		sqlite3_stmt *s;
		sqlite3_prepare_v2(store_sqlite_handle(st), "SELECT warnings "
		    "FROM reports WHERE report_id='long'", -1, &s, NULL);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		w = (const char *)sqlite3_column_text(s, 0);
		assert_non_null(w);
		assert_non_null(strstr(w, "more than 62 days"));
		sqlite3_finalize(s);
	}
	check_daily_org(st);
	store_close(&st);
}

/* daily as one string, to compare snapshots */
static char *
daily_dump(struct store *st)
{
	sqlite3 *db = store_sqlite_handle(st);
	sqlite3_stmt *s;
	char *out;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT coalesce(group_concat("
	    "day||policy_domain||header_from||source_ip||org_name||disposition||"
	    "dkim_eval||spf_eval||':'||messages, ';'),'') FROM (SELECT * FROM "
	    "daily ORDER BY 1,2,3,4,5,6,7,8)", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	out = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return out;
}

static void
test_delete_decrements_daily(void **state)
{
	struct tdir *t = *state;
	struct store *st = open_rw(t);
	struct report r;
	struct report_record rec[3];
	int64_t a, b, again;
	char *before, *after;

	fx_record(&rec[0], "192.0.2.1", 7, "none", "pass", "pass", "example.com");
	fx_record(&rec[1], "192.0.2.2", 13, "none", "fail", "fail", "example.com");
	fx_record(&rec[2], "192.0.2.9", 5, "reject", "fail", "fail", "example.com");
	rec[1].reasons = &fx_reason;
	rec[1].n_reasons = 1;
	assert_int_equal(store_begin(st), 0);
	fx_report(&r, "google.com", "a", "example.com", T0, T0 + 2 * DAY);
	a = put_report(st, &r, rec, 2, 1);
	assert_int_equal(store_commit(st), 0);
	before = daily_dump(st);

	/* b shares daily rows with a and adds its own, over uneven days */
	fx_report(&r, "google.com", "b", "example.com", T0 + 3600,
	    T0 + 2 * DAY + 7200);
	b = put_report(st, &r, rec, 3, 2);
	assert_true(b > 0);
	assert_int_equal(q1(st, "SELECT sum(messages) FROM daily"), 20 + 25);

	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_report_delete(st, b), 0);
	assert_int_equal(store_commit(st), 0);
	after = daily_dump(st);
	assert_string_equal(before, after);
	free(after);
	assert_int_equal(q1(st, "SELECT count(*) FROM reports"), 1);
	assert_int_equal(q1(st, "SELECT count(*) FROM records"), 2);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_reasons"), 1);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_dkim"), 2);

	/* delete everything: daily empty; reparse can re-import */
	assert_int_equal(store_report_delete(st, a), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM daily"), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM records"), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_reasons"), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_spf"), 0);
	assert_int_equal(store_report_delete(st, a), -1);
	fx_report(&r, "google.com", "a", "example.com", T0, T0 + 2 * DAY);
	again = put_report(st, &r, rec, 2, 1);
	assert_true(again > 0);
	after = daily_dump(st);
	assert_string_equal(before, after);
	free(after);
	free(before);
	check_daily_org(st);
	store_close(&st);
}

static void
test_final_header_rekeys(void **state)
{
	struct tdir *t = *state;
	struct store *st = open_rw(t);
	struct report r, fin;
	struct report_record rec;
	int64_t id, dup;
	uint8_t h[32];

	/* begin saw a one-day range, the final header says two days */
	fx_record(&rec, "192.0.2.1", 10, "none", "pass", "pass", "example.com");
	fx_report(&r, "google.com", "x", "example.com", T0, T0 + DAY);
	fin = r;
	fin.end = T0 + 2 * DAY;
	fx_hash(h, 1);
	assert_int_equal(store_report_begin(st, &r, 0, &id, &dup), 0);
	assert_int_equal(store_report_record(st, id, &r, &rec), 0);
	assert_int_equal(store_report_end(st, id, &fin, h, &dup), 0);
	assert_int_equal(dup, 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM daily"), 2);
	assert_int_equal(q1(st, "SELECT sum(messages) FROM daily"), 10);
	assert_int_equal(q1(st, "SELECT end_ts FROM reports"), T0 + 2 * DAY);
	check_daily_org(st);
	store_close(&st);
}

static void
test_failed_write_rolls_batch_back(void **state)
{
	struct tdir *t = *state;
	struct store *st = open_rw(t);
	struct report r;
	struct report_record rec[2];
	int64_t id, dup, keep;
	uint8_t h[32];

	/* make the insert of a record with SPF domain "boom" fail after its
	 * report's row went in */
	assert_int_equal(sqlite3_exec(store_sqlite_handle(st), "CREATE TEMP "
	    "TRIGGER boom BEFORE INSERT ON records WHEN new.detail LIKE "
	    "'%\"boom\"%' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
	    NULL, NULL, NULL), SQLITE_OK);
	fx_record(&rec[0], "192.0.2.1", 3, "none", "pass", "pass", "example.com");
	fx_record(&rec[1], "192.0.2.2", 4, "none", "pass", "pass", "example.com");

	/* without a batch: the report is its own transaction */
	fx_report(&r, "a.example", "solo", "example.com", T0, T0 + DAY);
	keep = put_report(st, &r, rec, 1, 1);
	assert_true(keep > 0);
	/* rows are buffered: the failure shows at store_report_end */
	fx_report(&r, "a.example", "solo-bad", "example.com", T0, T0 + DAY);
	assert_int_equal(store_report_begin(st, &r, 0, &id, &dup), 0);
	assert_int_equal(store_report_record(st, id, &r, &rec[0]), 0);
	{
		struct report_record bad = rec[1];
		struct report_spf boom = { "boom", NULL, "pass", "pass", NULL };
		bad.spf_results = &boom;
		assert_int_equal(store_report_record(st, id, &r, &bad), 0);
		fx_hash(h, 9);
		assert_int_equal(store_report_end(st, id, &r, h, &dup), -1);
		assert_non_null(strstr(store_errmsg(st), "disk on fire"));
		assert_int_equal(store_report_abort(st, id), 0);
	}
	assert_int_equal(q1(st, "SELECT count(*) FROM reports"), 1);
	assert_int_equal(q1(st, "SELECT sum(messages) FROM daily"), 3);

	/* in a batch: the batch cannot be committed, it is rolled back */
	assert_int_equal(store_begin(st), 0);
	fx_report(&r, "b.example", "in-batch", "example.com", T0, T0 + DAY);
	assert_true(put_report(st, &r, rec, 1, 2) > 0);
	fx_report(&r, "b.example", "bad", "example.com", T0, T0 + DAY);
	assert_int_equal(store_report_begin(st, &r, 0, &id, &dup), 0);
	assert_int_equal(store_report_record(st, id, &r, &rec[0]), 0);
	{
		struct report_record bad = rec[1];
		struct report_spf boom = { "boom", NULL, "pass", "pass", NULL };
		bad.spf_results = &boom;
		assert_int_equal(store_report_record(st, id, &r, &bad), 0);
		fx_hash(h, 10);
		assert_int_equal(store_report_end(st, id, &r, h, &dup), -1);
	}
	store_report_abort(st, id);
	fx_report(&r, "b.example", "after", "example.com", T0, T0 + DAY);
	assert_int_equal(store_report_begin(st, &r, 0, &id, &dup), -1);
	assert_int_equal(store_commit(st), -1);
	assert_non_null(strstr(store_errmsg(st), "rolled back"));
	assert_int_equal(q1(st, "SELECT count(*) FROM reports"), 1);
	assert_int_equal(q1(st, "SELECT count(*) FROM records"), 1);
	assert_int_equal(q1(st, "SELECT sum(messages) FROM daily"), 3);
	/* and the handle works again */
	assert_true(put_report(st, &r, rec, 1, 3) > 0);
	check_daily_org(st);
	store_close(&st);
}

/* ---- daily accumulated per transaction -------------------------------- */

static char fx_ips[300][24];

/* report i of the exactness test: few shared keys, spans of 1-3 days */
static void
fx_batch_report(struct report *r, struct report_record *rec, size_t *n,
    char *id, size_t idlen, unsigned i)
{
	static const char *const orgs[] = { "google.com", "Yahoo", "Mail.Ru" };
	static const char *const verdict[] = { "pass", "fail" };
	size_t j;

	snprintf(id, idlen, "batch-%u", i);
	fx_report(r, orgs[i % 3], id, i % 5 ? "example.com" : "example.net",
	    T0 + (int64_t)(i % 7) * DAY + (i % 2) * 3600,
	    T0 + (int64_t)(i % 7 + 1 + i % 3) * DAY);
	*n = 1 + i % 4;
	for (j = 0; j < *n; j++)
		fx_record(&rec[j], fx_ips[(i + j) % 6], 1 + (i * 7 + j) % 11,
		    j % 3 ? "none" : "reject", verdict[(i + j) % 2],
		    verdict[j % 2], "example.com");
}

/* one report with n records from distinct IPs over 62 days */
static int64_t
fx_big_report(struct store *st, const char *id, size_t n, int commit)
{
	struct report r;
	struct report_record rec;
	int64_t rid, dup;
	uint8_t h[32];
	size_t i;

	fx_report(&r, "big.example", id, "example.org", T0, T0 + 62 * DAY);
	assert_int_equal(store_report_begin(st, &r, 0, &rid, &dup), 0);
	assert_true(rid > 0);
	for (i = 0; i < n; i++) {
		/* DMARC pass, fail and unknown in turn */
		fx_record(&rec, fx_ips[i], 1000 + i, "none",
		    i % 3 == 0 ? "pass" : i % 3 == 1 ? "fail" : "unknown",
		    i % 3 == 2 ? "unknown" : "fail", "example.org");
		assert_int_equal(store_report_record(st, rid, &r, &rec), 0);
	}
	if (!commit) {
		assert_int_equal(store_report_abort(st, rid), 0);
		return 0;
	}
	fx_hash(h, 5000 + (unsigned)n);
	assert_int_equal(store_report_end(st, rid, &r, h, &dup), 0);
	assert_int_equal(dup, 0);
	return rid;
}

/*
 * One batch with aborts, a delete of a report written earlier in the same
 * batch, a big report whose rows and daily deltas are written early, and
 * one aborted after its early writes, gives exactly the daily table of the
 * surviving reports stored one transaction each.
 */
static void
test_batch_daily_exact(void **state)
{
	struct tdir *t = *state;
	struct tdir t2 = *t;
	struct store *a, *b;
	struct report r;
	struct report_record rec[4];
	char id[32], *da, *db;
	int64_t rid, dup, del = 0;
	size_t n, j;
	unsigned i;

	for (i = 0; i < 300; i++)
		snprintf(fx_ips[i], sizeof fx_ips[i], "198.51.%u.%u", i / 200,
		    i % 200 + 1);
	snprintf(t2.db, sizeof t2.db, "%s/b.sqlite", t->dir);
	a = open_rw(t);
	b = open_rw(&t2);

	/* committed before: the batch adds to and takes from existing rows */
	fx_batch_report(&r, rec, &n, id, sizeof id, 1000);
	assert_true(put_report(a, &r, rec, n, 1000) > 0);
	assert_true(put_report(b, &r, rec, n, 1000) > 0);

	assert_int_equal(store_begin(a), 0);
	for (i = 0; i < 120; i++) {
		fx_batch_report(&r, rec, &n, id, sizeof id, i);
		if (i % 10 == 3) {
			/* aborted half way: none of it may remain */
			assert_int_equal(store_report_begin(a, &r, 0, &rid,
			    &dup), 0);
			for (j = 0; j < n; j++)
				assert_int_equal(store_report_record(a, rid, &r,
				    &rec[j]), 0);
			assert_int_equal(store_report_abort(a, rid), 0);
			continue;
		}
		rid = put_report(a, &r, rec, n, i + 1);
		assert_true(rid > 0);
		if (i == 50)
			del = rid;
		else
			assert_true(put_report(b, &r, rec, n, i + 1) > 0);
		if (i == 60) {
			/* report 50 is still in the open batch */
			assert_int_equal(store_report_delete(a, del), 0);
		}
	}
	/* > SQ_ROWS_MAX records, > SQ_DMAP_MAX daily keys */
	assert_int_equal(fx_big_report(a, "big-aborted", 300, 0), 0);
	assert_true(fx_big_report(a, "big", 290, 1) > 0);
	assert_true(fx_big_report(b, "big", 290, 1) > 0);
	/* the report before the one deleted, too, now that it is written */
	assert_int_equal(store_report_delete(a, 1), 0);
	assert_int_equal(store_commit(a), 0);
	assert_int_equal(store_report_delete(b, 1), 0);

	da = daily_dump(a);
	db = daily_dump(b);
	assert_true(strlen(da) > 1000);
	assert_string_equal(da, db);
	free(da);
	free(db);
	assert_int_equal(q1(a, "SELECT count(*) FROM reports"),
	    q1(b, "SELECT count(*) FROM reports"));
	assert_int_equal(q1(a, "SELECT count(*) FROM records"),
	    q1(b, "SELECT count(*) FROM records"));
	assert_int_equal(q1(a, "SELECT count(*) FROM record_dkim"),
	    q1(b, "SELECT count(*) FROM record_dkim"));
	assert_int_equal(q1(a, "SELECT sum(msg_total) FROM reports"),
	    q1(a, "SELECT sum(messages) FROM daily"));
	assert_int_equal(q1(a, "SELECT sum(count) FROM records"),
	    q1(a, "SELECT sum(messages) FROM daily"));
	assert_int_equal(q1(a, "SELECT count(*) FROM daily WHERE messages<=0"), 0);
	/* every record belongs to its report: ids given in the batch */
	assert_int_equal(q1(a, "SELECT count(*) FROM records r JOIN reports p "
	    "ON p.id=r.report WHERE p.report_id='big'"), 290);
	assert_int_equal(q1(a, "SELECT sum(n_records) FROM reports"),
	    q1(a, "SELECT count(*) FROM records"));
	/* msg_fail, also of the big report written early (INSERT_MIN, then
	 * FINISH), is what its records say */
	assert_int_equal(q1(a, "SELECT count(*) FROM reports p WHERE msg_fail<>"
	    "(SELECT coalesce(sum(count),0) FROM records WHERE report=p.id AND "
	    "dmarc<>'pass')"), 0);
	assert_true(q1(a, "SELECT msg_fail FROM reports WHERE report_id='big'")
	    > 0);
	check_daily_org(a);
	store_close(&a);
	check_daily_org(b);
	store_close(&b);
}

/* A database of schema 1 with data moves to the current schema intact. */
static void
test_migrate_v1_data(void **state)
{
	struct tdir *t = *state;
	sqlite3 *db;
	struct store *st;
	json_t *rep;

	assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, store_sqlite_schema(), NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=1;"
	    "INSERT INTO reports(id,org_name,report_id,policy_domain,begin_ts,"
	    "end_ts,content_hash,dedup_key,imported_at) VALUES(7,'g','r',"
	    "'example.com',0,86400,x'00','g|r|example.com|0|86400',0);"
	    "INSERT INTO records(id,report,source_ip,count,disposition,dkim_eval,"
	    "spf_eval,dmarc,header_from) VALUES(3,7,'192.0.2.1',5,'none','pass',"
	    "'pass','pass','example.com'),(4,7,'192.0.2.2',3,'none','fail',"
	    "'fail','fail','example.com'),(5,7,'192.0.2.3',2,'none','unknown',"
	    "'unknown','unknown','example.com');"
	    "INSERT INTO record_dkim(record,domain,selector,result) VALUES"
	    "(3,'b.example','s2','fail'),(3,'a.example','s1','pass');"
	    "INSERT INTO record_spf(record,domain,scope,result) VALUES"
	    "(3,'example.com','mfrom','pass');"
	    "INSERT INTO record_reasons(record,type,comment) VALUES"
	    "(3,'forwarded','x'),(3,'other','y');"
	    "INSERT INTO daily VALUES(0,'example.com','example.com','192.0.2.1',"
	    "'g','none','pass','pass',5)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	st = open_rw(t);
	assert_int_equal(q1(st, "PRAGMA user_version"),
	    store_sqlite_schema_version());
	assert_int_equal(q1(st, "SELECT count(*) FROM sqlite_master WHERE "
	    "name IN ('daily_day','daily_ip')"), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM sqlite_master WHERE "
	    "name='record_dkim_record'"), 0);
	/* migration 9 moved the results into records.detail, in order */
	assert_int_equal(q1(st, "SELECT detail='{\"dkim\":[[\"b.example\","
	    "\"s2\",\"fail\",null,null],[\"a.example\",\"s1\",\"pass\",null,"
	    "null]],\"spf\":[[\"example.com\",\"mfrom\",\"pass\",null,null]],"
	    "\"reasons\":[[\"forwarded\",null,\"x\"],[\"other\",null,\"y\"]]}' "
	    "FROM records WHERE id=3"), 1);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_dkim"), 2);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_reasons"), 2);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_spf"), 1);
	assert_int_equal(q1(st, "SELECT messages FROM daily"), 5);
	/* migration 11: the messages not passing DMARC (fail and unknown) */
	assert_int_equal(q1(st, "SELECT msg_fail FROM reports WHERE id=7"), 5);
	/* migration 4 filled records.auth from the child rows, in their order */
	assert_int_equal(q1(st, "SELECT auth='b.example'||char(9)||'fail'||"
	    "char(10)||'a.example'||char(9)||'pass'||char(30)||'example.com'||"
	    "char(9)||'pass'||char(30)||'forwarded'||char(10)||'other' "
	    "FROM records WHERE id=3"), 1);
	rep = query_report(st, 7);
	assert_non_null(rep);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(json_array_get(json_object_get(rep, "records"), 0),
	    "dkim_results"), 1), "domain")), "a.example");
	json_decref(rep);
	/* the cascade still reaches the results */
	assert_int_equal(store_report_delete(st, 7), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_dkim"), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_reasons"), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM daily"), 0);
	/* new reports get ids from the (now empty) tables */
	{
		struct report r;
		struct report_record rec;
		fx_record(&rec, "192.0.2.2", 1, "none", "pass", "pass",
		    "example.com");
		fx_report(&r, "g", "new", "example.com", 0, 86400);
		assert_true(put_report(st, &r, &rec, 1, 3) > 0);
		assert_int_equal(q1(st, "SELECT count(*) FROM records"), 1);
		assert_int_equal(q1(st, "SELECT count(*) FROM record_dkim"), 1);
	}
	check_daily_org(st);
	store_close(&st);
}

/*
 * records.auth, written with each record, is what the child tables say
 * (the expression of migration 4): several DKIM results (NULL domain,
 * NULL result), none, reasons with and without a type.
 */
static void
test_auth_column(void **state)
{
	struct tdir *t = *state;
	struct store *st = open_rw(t);
	struct report r;
	struct report_record rec[3];
	struct report_dkim dk[3] = {
		{ "a.example", "s1", "pass", "pass", NULL },
		{ NULL, NULL, "fail", "fail", NULL },
		{ "c.example", "s3", NULL, NULL, NULL },
	};
	struct report_spf sp[2] = {
		{ "example.com", "mfrom", "softfail", "softfail", NULL },
		{ NULL, "helo", "pass", "pass", NULL },
	};
	struct report_reason rs[2] = {
		{ "forwarded", "forwarded", "list" },
		{ NULL, "weird", NULL },
	};

	fx_record(&rec[0], "192.0.2.1", 3, "none", "pass", "fail", "example.com");
	rec[0].dkim_results = dk;
	rec[0].n_dkim = 3;
	rec[0].spf_results = sp;
	rec[0].n_spf = 2;
	rec[0].reasons = rs;
	rec[0].n_reasons = 2;
	fx_record(&rec[1], "192.0.2.2", 1, "reject", "fail", "fail", "example.com");
	rec[1].n_dkim = 0;
	rec[1].n_spf = 0;
	fx_record(&rec[2], "192.0.2.3", 2, "none", "pass", "pass", "example.com");
	fx_report(&r, "g", "auth", "example.com", 0, 86400);
	assert_int_equal(store_begin(st), 0);
	assert_true(put_report(st, &r, rec, 3, 11) > 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM records WHERE auth IS NULL"), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM records r WHERE auth IS NOT "
	    "coalesce((SELECT group_concat(coalesce(domain,'')||char(9)||result,"
	    "char(10)) FROM record_dkim WHERE record=r.id),'')||char(30)||"
	    "coalesce((SELECT group_concat(coalesce(domain,'')||char(9)||result,"
	    "char(10)) FROM record_spf WHERE record=r.id),'')||char(30)||"
	    "coalesce((SELECT group_concat(type,char(10)) FROM record_reasons "
	    "WHERE record=r.id),'')"), 0);
	assert_int_equal(q1(st, "SELECT auth=char(30,30) FROM records WHERE "
	    "source_ip='192.0.2.2'"), 1);
	assert_int_equal(q1(st, "SELECT instr(auth,'other') > 0 FROM records "
	    "WHERE source_ip='192.0.2.1'"), 1);
	store_close(&st);
}

/*
 * records.detail (migration 9) holds a record's DKIM/SPF results and
 * reasons as JSON; the views give back exactly what was stored, in order,
 * NULLs as NULL, whatever the bytes (quotes, backslashes, controls, UTF-8).
 */
static void
test_detail_roundtrip(void **state)
{
	struct tdir *t = *state;
	struct store *st = open_rw(t);
	struct report r;
	struct report_record rec[2];
	struct report_dkim dk[2] = {
		{ "q\"uote.example", "s\\1", "pass", "Pass", "\x01ctl\ttab\n" },
		{ NULL, NULL, "fail", NULL, "\xe6\x97\xa5\xe6\x9c\xac</script>" },
	};
	struct report_spf sp = { "example.com", NULL, "softfail", "SoftFail", NULL };
	struct report_reason rs = { "local_policy", "Local_Policy", "a \"b\" \\ c" };
	sqlite3 *db;
	sqlite3_stmt *q;
	int i;

	fx_record(&rec[0], "192.0.2.1", 3, "none", "pass", "fail", "example.com");
	rec[0].dkim_results = dk;
	rec[0].n_dkim = 2;
	rec[0].spf_results = &sp;
	rec[0].reasons = &rs;
	rec[0].n_reasons = 1;
	fx_record(&rec[1], "192.0.2.2", 1, "reject", "fail", "fail", "example.com");
	rec[1].n_dkim = 0;
	rec[1].n_spf = 0;
	fx_report(&r, "g", "detail", "example.com", 0, 86400);
	assert_true(put_report(st, &r, rec, 2, 12) > 0);
	db = store_sqlite_handle(st);
	assert_int_equal(q1(st, "SELECT count(*) FROM records WHERE detail IS NULL"), 1);
	assert_int_equal(q1(st, "SELECT json_valid(detail) FROM records WHERE "
	    "source_ip='192.0.2.1'"), 1);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT n, domain, selector, "
	    "result, result_raw, human_result FROM record_dkim ORDER BY record, n",
	    -1, &q, NULL), SQLITE_OK);
	for (i = 0; i < 2; i++) {
		const struct report_dkim *d = &dk[i];
		const char *want[5] = { d->domain, d->selector, d->result,
		    d->result_raw, d->human_result };

		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(q, 0), i);
		for (int c = 0; c < 5; c++) {
			const char *got = (const char *)sqlite3_column_text(q, c + 1);
			if (want[c] == NULL)
				assert_null(got);
			else
				assert_string_equal(got, want[c]);
		}
	}
	assert_int_equal(sqlite3_step(q), SQLITE_DONE);
	sqlite3_finalize(q);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_spf WHERE "
	    "domain='example.com' AND scope IS NULL AND result='softfail' AND "
	    "result_raw='SoftFail' AND human_result IS NULL"), 1);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_reasons WHERE "
	    "type='local_policy' AND type_raw='Local_Policy' AND "
	    "comment='a \"b\" \\ c'"), 1);
	/* bytes that are not UTF-8 (not from the parser, which repairs them)
	 * are stored as U+FFFD: the JSON stays readable for the views */
	{
		struct report_dkim bad = { "bad\xff.example", "s\xc3", "pass", NULL, NULL };
		struct report_record r2;

		fx_record(&r2, "192.0.2.9", 1, "none", "pass", "pass", "example.com");
		r2.dkim_results = &bad;
		fx_report(&r, "g", "detail-bad-utf8", "example.com", 0, 86400);
		assert_true(put_report(st, &r, &r2, 1, 13) > 0);
		assert_int_equal(q1(st, "SELECT count(*) FROM record_dkim WHERE "
		    "domain='bad'||char(65533)||'.example' AND selector='s'||char(65533)"), 1);
		assert_int_equal(store_report_delete(st, q1(st, "SELECT id FROM "
		    "reports WHERE report_id='detail-bad-utf8'")), 0);
	}
	/* the records go, their results with them */
	assert_int_equal(store_report_delete(st, q1(st, "SELECT id FROM reports")), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_dkim"), 0);
	assert_int_equal(q1(st, "SELECT count(*) FROM record_reasons"), 0);
	store_close(&st);
}

/* ---- busy ------------------------------------------------------------ */

static void
test_busy(void **state)
{
	struct tdir *t = *state;
	struct store *a = open_rw(t), *b = open_rw(t);
	struct report r;
	struct report_record rec;
	int64_t id, dup;

	fx_record(&rec, "192.0.2.1", 1, "none", "pass", "pass", "example.com");
	fx_report(&r, "google.com", "busy", "example.com", T0, T0 + DAY);
	assert_int_equal(store_begin(a), 0);      /* a holds the write lock */
	assert_int_equal(store_set_busy_timeout(b, 50), 0);
	assert_int_equal(store_begin(b), STORE_BUSY);
	assert_non_null(strstr(store_errmsg(b), "locked"));
	/* without a batch: the report's own write waits, then gives up */
	assert_int_equal(store_report_begin(b, &r, 0, &id, &dup), STORE_BUSY);
	assert_int_equal(store_report_abort(b, id), 0);
	/* readers are not blocked by the writer (WAL) */
	assert_int_equal(q1(b, "SELECT count(*) FROM reports"), 0);
	assert_int_equal(store_commit(a), 0);
	/* lock gone: b works */
	assert_true(put_report(b, &r, &rec, 1, 1) > 0);
	store_close(&a);
	store_close(&b);
}

/* ---- raw originals --------------------------------------------------- */

static void
check_stream(struct store *st, int64_t id, const void *want, size_t len)
{
	struct rd *rd = store_raw_open(st, id);
	unsigned char *buf = malloc(len + 1);
	ssize_t n;

	assert_non_null(rd);
	n = rd_read_full(rd, buf, len + 1);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(buf, want, len);
	rd_close(&rd);
	free(buf);
}

static int
write_temp(const struct tdir *t, const char *name, const void *p, size_t len)
{
	char path[160];
	FILE *f;
	int fd;

	snprintf(path, sizeof path, "%s/%s", t->dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	fclose(f);
	f = fopen(path, "rb");
	assert_non_null(f);
	fd = dup(fileno(f));
	fclose(f);
	return fd;
}

static void
test_raw_roundtrip(void **state)
{
	struct tdir *t = *state;
	struct store *st = open_rw(t);
	size_t xlen = 300000, i, glen;
	char *xml = malloc(xlen);
	unsigned char *gz, *big;
	uint8_t h1[32], h2[32], h3[32], h4[32];
	int64_t id1, id2, again, id3, id4;
	void *out;
	size_t outlen;
	int fd;
	z_stream z;

	/* compressible XML -> deflate */
	for (i = 0; i < xlen; i++)
		xml[i] = "<record><row>192.0.2.1</row></record>\n"[i % 39];
	fx_hash(h1, 1);
	assert_int_equal(store_raw_put(st, h1, xml, xlen, &id1), 0);
	assert_true(id1 > 0);
	assert_int_equal(q1(st, "SELECT encoding='deflate' FROM raw_inputs "
	    "WHERE id=%lld", (long long)id1), 1);
	assert_true(q1(st, "SELECT length(data) FROM raw_inputs WHERE "
	    "id=%lld", (long long)id1) < (int64_t)xlen / 10);
	assert_int_equal(store_raw_get(st, id1, &out, &outlen), 0);
	assert_int_equal(outlen, xlen);
	assert_memory_equal(out, xml, xlen);
	free(out);
	check_stream(st, id1, xml, xlen);
	/* same sha256: same row, nothing written */
	assert_int_equal(store_raw_put(st, h1, "other", 5, &again), 0);
	assert_int_equal(again, id1);

	/* gzip -> identity */
	glen = compressBound(xlen) + 64;
	gz = malloc(glen);
	memset(&z, 0, sizeof z);
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)xml;
	z.avail_in = (uInt)xlen;
	z.next_out = gz;
	z.avail_out = (uInt)glen;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	glen = z.total_out;
	deflateEnd(&z);
	assert_int_equal(gz[0], 0x1f);
	fx_hash(h2, 2);
	assert_int_equal(store_raw_put(st, h2, gz, glen, &id2), 0);
	assert_int_equal(q1(st, "SELECT encoding='identity' FROM raw_inputs "
	    "WHERE id=%lld", (long long)id2), 1);
	assert_int_equal(store_raw_get(st, id2, &out, &outlen), 0);
	assert_int_equal(outlen, glen);
	assert_memory_equal(out, gz, glen);
	free(out);
	check_stream(st, id2, gz, glen);

	/* streaming from a descriptor, both encodings, more than one chunk */
	big = malloc(xlen);
	memcpy(big, xml, xlen);
	fd = write_temp(t, "big.xml", big, xlen);
	fx_hash(h3, 3);
	assert_int_equal(store_raw_put_fd(st, h3, fd, xlen, &id3), 0);
	close(fd);
	assert_int_equal(q1(st, "SELECT encoding='deflate' FROM raw_inputs "
	    "WHERE id=%lld", (long long)id3), 1);
	assert_int_equal(store_raw_get(st, id3, &out, &outlen), 0);
	assert_int_equal(outlen, xlen);
	assert_memory_equal(out, xml, xlen);
	free(out);
	check_stream(st, id3, xml, xlen);

	fd = write_temp(t, "big.gz", gz, glen);
	fx_hash(h4, 4);
	assert_int_equal(store_raw_put_fd(st, h4, fd, glen, &id4), 0);
	assert_int_equal(q1(st, "SELECT encoding='identity' FROM raw_inputs "
	    "WHERE id=%lld", (long long)id4), 1);
	/* again by sha: nothing read */
	assert_int_equal(store_raw_put_fd(st, h4, fd, glen, &again), 0);
	assert_int_equal(again, id4);
	close(fd);
	check_stream(st, id4, gz, glen);

	/* a descriptor shorter than announced leaves no row */
	fd = write_temp(t, "short.xml", xml, 1000);
	fx_hash(h4, 5);
	assert_int_equal(store_raw_put_fd(st, h4, fd, 2000, &again), -1);
	close(fd);
	assert_int_equal(q1(st, "SELECT count(*) FROM raw_inputs"), 4);

	/* empty input and missing ids */
	fx_hash(h4, 6);
	assert_int_equal(store_raw_put(st, h4, "", 0, &again), 0);
	assert_int_equal(store_raw_get(st, again, &out, &outlen), 0);
	assert_int_equal(outlen, 0);
	free(out);
	assert_int_equal(store_raw_get(st, 9999, &out, &outlen), -1);
	assert_null(store_raw_open(st, 9999));

	/* a report refers to its raw input */
	{
		struct report r;
		int64_t id, dup;
		uint8_t h[32];
		fx_report(&r, "google.com", "raw", "example.com", T0, T0 + DAY);
		fx_hash(h, 10);
		assert_int_equal(store_report_begin(st, &r, id2, &id, &dup), 0);
		assert_int_equal(store_report_end(st, id, &r, h, &dup), 0);
		assert_int_equal(q1(st, "SELECT raw_id FROM reports"), id2);
	}
	free(big);
	free(gz);
	free(xml);
	store_close(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_embedded_matches_file),
		cmocka_unit_test(test_spread_function),
		cmocka_unit_test(test_dedup_key_function),
		cmocka_unit_test_setup_teardown(test_migrate_and_reopen,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_v1,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_refuse_newer_and_foreign,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_report_roundtrip,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_dedup_by_key_case_insensitive,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_dedup_by_hash,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_abort_leaves_nothing,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_multiday_daily_sums,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_delete_decrements_daily,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_final_header_rekeys,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_failed_write_rolls_batch_back,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_batch_daily_exact,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v1_data,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_auth_column,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_detail_roundtrip,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_busy,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_raw_roundtrip,
		    tdir_setup, tdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

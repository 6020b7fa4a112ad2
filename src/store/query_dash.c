/*
 * query_dash.c - the dashboard's read queries, returning jansson values.
 *
 * Every count is a sum of messages read from `daily` (the per-UTC-day
 * rollup; `daily_org`, its per-reporter sums, for the reporters view);
 * `daily` is searched through its primary key, domain by domain when no
 * domain is given.  `records` is read only for what `daily` cannot answer (envelope
 * from, DKIM selectors, one report's rows, a source's drill-down), and then
 * always bounded by LIMIT.  SQL is assembled by a tiny builder (struct qb)
 * whose values are all bound parameters; only fixed column names picked from
 * whitelists are ever pasted into the text.
 *
 * Public: query_dash_* in query_dash.h.  Returned values belong to the
 * caller.  Strings that are not valid UTF-8 are repaired (U+FFFD) so the
 * JSON encoder never fails on hostile report contents.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/dashmem.h"
#include "lib/utf8.h"
#include "store/query_dash.h"

#define PASS_EXPR "(dkim_eval='pass' OR spf_eval='pass')"
#define DAY 86400
#define SILENT_DAYS 3
#define LIST_DEFAULT 50
#define LIST_MAX 1000
#define SAMPLE_RECORDS 300     /* records looked at per source for from/DKIM */
#define SAMPLE_SCAN 1000       /* ... among its newest this many */

/* ---- errors ---------------------------------------------------------- */

static void
dash_seterr(struct query_dash_err *err, enum query_dash_status st, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->status = st;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static void
dash_dberr(struct query_dash_err *err, sqlite3 *db, int rc)
{
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		dash_seterr(err, QUERY_DASH_BUSY, "database is busy");
	else
		dash_seterr(err, QUERY_DASH_FAIL, "database: %s", sqlite3_errmsg(db));
}

/* ---- SQL builder ------------------------------------------------------ */

struct qb_bind {
	int is_text;
	int64_t i;
	const char *s;
};

struct qb {
	char sql[6144];
	size_t len;
	int overflow;
	struct qb_bind b[32];
	int nb;
};

static void
qb_add(struct qb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->sql + b->len, sizeof(b->sql) - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(b->sql) - b->len)
		b->overflow = 1;
	else
		b->len += (size_t)n;
}

static void
qb_int(struct qb *b, int64_t v)
{
	if (b->nb >= (int)(sizeof(b->b) / sizeof(b->b[0]))) {
		b->overflow = 1;
		return;
	}
	b->b[b->nb].is_text = 0;
	b->b[b->nb].i = v;
	b->nb++;
	qb_add(b, "?%d", b->nb);
}

static void
qb_text(struct qb *b, const char *s)
{
	if (b->nb >= (int)(sizeof(b->b) / sizeof(b->b[0]))) {
		b->overflow = 1;
		return;
	}
	b->b[b->nb].is_text = 1;
	b->b[b->nb].s = s;
	b->nb++;
	qb_add(b, "?%d", b->nb);
}

static sqlite3_stmt *
qb_prepare(sqlite3 *db, struct qb *b, struct query_dash_err *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (b->overflow) {
		dash_seterr(err, QUERY_DASH_FAIL, "query too long");
		return NULL;
	}
	rc = sqlite3_prepare_v2(db, b->sql, (int)b->len, &stmt, NULL);
	if (rc != SQLITE_OK) {
		dash_dberr(err, db, rc);
		return NULL;
	}
	for (int i = 0; i < b->nb; i++) {
		if (b->b[i].is_text)
			rc = sqlite3_bind_text(stmt, i + 1, b->b[i].s, -1, SQLITE_STATIC);
		else
			rc = sqlite3_bind_int64(stmt, i + 1, b->b[i].i);
		if (rc != SQLITE_OK) {
			dash_dberr(err, db, rc);
			sqlite3_finalize(stmt);
			return NULL;
		}
	}
	return stmt;
}

static sqlite3 *
dash_db(struct store *st, struct query_dash_err *err)
{
	sqlite3 *db = store_sqlite_handle(st);

	if (db == NULL)
		dash_seterr(err, QUERY_DASH_FAIL, "dashboard queries need the SQLite backend");
	return db;
}

/* ---- JSON values -------------------------------------------------------- */

/* A JSON string from bytes that may not be valid UTF-8. */
static json_t *
dash_str(const char *p, size_t n)
{
	json_t *v;
	char *fix;
	size_t o = 0;

	if (p == NULL)
		return json_null();
	v = json_stringn(p, n);
	if (v != NULL)
		return v;
	fix = malloc(n * 3 + 1);
	if (fix == NULL)
		return json_null();
	for (size_t i = 0; i < n;) {
		size_t l = utf8_len((const unsigned char *)p + i, n - i);

		if (l == 0) {
			memcpy(fix + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(fix + o, p + i, l);
			o += l;
			i += l;
		}
	}
	v = json_stringn(fix, o);
	free(fix);
	return v != NULL ? v : json_null();
}

static json_t *
dash_hex(const unsigned char *p, int n)
{
	static const char hexd[] = "0123456789abcdef";
	char buf[129];
	int o = 0;

	for (int i = 0; i < n && o < (int)sizeof(buf) - 2; i++) {
		buf[o++] = hexd[p[i] >> 4];
		buf[o++] = hexd[p[i] & 15];
	}
	return json_stringn(buf, (size_t)o);
}

/* Columns whose text holds JSON produced by SQLite or the store. */
static int
dash_is_json_col(const char *name)
{
	static const char *const cols[] = {"dkim", "spf", "reasons", "warnings", "errors",
		"dkim_list", "spf_list", NULL};

	for (int i = 0; cols[i]; i++)
		if (strcmp(name, cols[i]) == 0)
			return 1;
	return 0;
}

static json_t *
dash_col(sqlite3_stmt *stmt, int i)
{
	const char *name = sqlite3_column_name(stmt, i);

	switch (sqlite3_column_type(stmt, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(stmt, i));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(stmt, i));
	case SQLITE_TEXT: {
		const char *t = (const char *)sqlite3_column_text(stmt, i);
		size_t n = (size_t)sqlite3_column_bytes(stmt, i);

		if (dash_is_json_col(name)) {
			json_t *v = json_loadb(t, n, JSON_DECODE_ANY, NULL);

			if (v != NULL)
				return v;
		}
		return dash_str(t, n);
	}
	case SQLITE_BLOB:
		return dash_hex(sqlite3_column_blob(stmt, i), sqlite3_column_bytes(stmt, i));
	default:
		return json_null();
	}
}

static json_t *
dash_row(sqlite3_stmt *stmt)
{
	json_t *o = json_object();
	int n = sqlite3_column_count(stmt);

	for (int i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(stmt, i);

		if (name[0] == '_')     /* helper columns */
			continue;
		json_object_set_new(o, name, dash_col(stmt, i));
	}
	return o;
}

/* Steps `stmt` to the end, collecting row objects; finalizes it. */
static json_t *
dash_rows(sqlite3 *db, sqlite3_stmt *stmt, struct query_dash_err *err)
{
	json_t *a = json_array();
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		json_array_append_new(a, dash_row(stmt));
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		dash_dberr(err, db, rc);
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *
dash_query_rows(sqlite3 *db, struct qb *b, struct query_dash_err *err)
{
	sqlite3_stmt *stmt = qb_prepare(db, b, err);

	return stmt ? dash_rows(db, stmt, err) : NULL;
}

/* Percentage rounded down to 0.1 so "100" only ever means all. */
static double
dash_pct(json_int_t part, json_int_t whole)
{
	if (whole <= 0)
		return 0.0;
	return floor(1000.0 * (double)part / (double)whole) / 10.0;
}

static json_int_t
dash_geti(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (json_int_t)json_real_value(v);
	return 0;
}

static const char *
dash_gets(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Adds pass_pct, spf_aligned_pct, dkim_aligned_pct, fail_pct to `o`. */
static void
dash_add_pcts(json_t *o)
{
	json_int_t m = dash_geti(o, "messages");

	json_object_set_new(o, "pass_pct", json_real(dash_pct(dash_geti(o, "pass"), m)));
	if (json_object_get(o, "spf_aligned"))
		json_object_set_new(o, "spf_aligned_pct",
		    json_real(dash_pct(dash_geti(o, "spf_aligned"), m)));
	if (json_object_get(o, "dkim_aligned"))
		json_object_set_new(o, "dkim_aligned_pct",
		    json_real(dash_pct(dash_geti(o, "dkim_aligned"), m)));
}

/* ---- filters ------------------------------------------------------------ */

#define STATS_COLS \
	"sum(messages) AS messages," \
	" sum(CASE WHEN " PASS_EXPR " THEN messages ELSE 0 END) AS pass," \
	" sum(CASE WHEN " PASS_EXPR " THEN 0 ELSE messages END) AS fail," \
	" sum(CASE WHEN spf_eval='pass' THEN messages ELSE 0 END) AS spf_aligned," \
	" sum(CASE WHEN dkim_eval='pass' THEN messages ELSE 0 END) AS dkim_aligned"

/* the distinct policy domains of daily, one primary-key seek each */
#define DASH_DOMAINS "(WITH RECURSIVE dash_dom(v) AS (SELECT min(policy_domain)" \
	" FROM daily UNION ALL SELECT (SELECT min(policy_domain) FROM daily" \
	" WHERE policy_domain>dash_dom.v) FROM dash_dom WHERE dash_dom.v IS NOT NULL)" \
	" SELECT v FROM dash_dom WHERE v IS NOT NULL)"

/*
 * WHERE for `daily`.  daily has no index but its primary key (policy_domain,
 * day, source_ip, ...): without a domain, the few domains are listed by
 * skipping through the key and each one's day range is searched.
 */
static void
dash_daily_where(struct qb *b, const struct query *q)
{
	qb_add(b, " WHERE 1=1");
	if (q->domain) {
		qb_add(b, " AND policy_domain=");
		qb_text(b, q->domain);
	} else
		qb_add(b, " AND policy_domain IN " DASH_DOMAINS);
	if (q->since) {
		qb_add(b, " AND day>=");
		qb_int(b, q->since - QUERY_DASH_MIDPOINT);
	}
	if (q->until) {
		qb_add(b, " AND day<");
		qb_int(b, q->until - QUERY_DASH_MIDPOINT);
	}
	if (q->reporter) {
		qb_add(b, " AND org_name=");
		qb_text(b, q->reporter);
	}
	if (q->source_ip) {
		qb_add(b, " AND source_ip=");
		qb_text(b, q->source_ip);
	}
	if (q->result && strcmp(q->result, "pass") == 0)
		qb_add(b, " AND " PASS_EXPR);
	else if (q->result && strcmp(q->result, "fail") == 0)
		qb_add(b, " AND NOT " PASS_EXPR);
}

/* Conditions on reports p (alias) for overlap with the range and filters. */
static void
dash_reports_where(struct qb *b, const struct query *q, const char *alias)
{
	if (q->domain) {
		qb_add(b, " AND %s.policy_domain=", alias);
		qb_text(b, q->domain);
	}
	if (q->reporter) {
		qb_add(b, " AND %s.org_name=", alias);
		qb_text(b, q->reporter);
	}
	if (q->until) {
		qb_add(b, " AND %s.begin_ts<", alias);
		qb_int(b, q->until);
	}
	if (q->since) {
		qb_add(b, " AND %s.end_ts>", alias);
		qb_int(b, q->since);
	}
}

static int
dash_limit(const struct query *q)
{
	if (q->limit <= 0)
		return LIST_DEFAULT;
	return q->limit > LIST_MAX ? LIST_MAX : q->limit;
}

static int
dash_valid_result(const struct query *q, struct query_dash_err *err)
{
	if (q->result && strcmp(q->result, "pass") != 0 && strcmp(q->result, "fail") != 0) {
		dash_seterr(err, QUERY_DASH_BAD, "result must be pass or fail");
		return 0;
	}
	if (q->since && q->until && q->since >= q->until) {
		dash_seterr(err, QUERY_DASH_BAD, "since must be before until");
		return 0;
	}
	return 1;
}

/* ---- prepare ------------------------------------------------------------ */

int
query_dash_prepare(struct store *st, struct query_dash_err *err)
{
	sqlite3 *db = dash_db(st, err);

	if (db == NULL)
		return -1;
	/* Nothing to create: older versions made a covering index daily_dash
	 * here, which cost every later import ~50 us per report; migration 4
	 * drops it and the queries walk daily's primary key per domain. */
	return 0;
}

/* ---- meta --------------------------------------------------------------- */

json_t *
query_dash_meta(struct store *st, int64_t now, struct query_dash_err *err)
{
	sqlite3 *db = dash_db(st, err);
	struct qb b = {0};
	json_t *out, *domains, *reporters, *extent;

	if (db == NULL)
		return NULL;
	/* Per key, by skipping through reports_domain_time / reports_org: the
	 * counts are tight index-range counts, about twice as fast as one
	 * GROUP BY pass over all the index entries. */
	qb_add(&b, "WITH RECURSIVE d(v) AS (SELECT min(policy_domain) FROM reports"
	    " UNION ALL SELECT (SELECT min(policy_domain) FROM reports WHERE policy_domain>d.v)"
	    " FROM d WHERE d.v IS NOT NULL)"
	    " SELECT v AS domain, (SELECT count(*) FROM reports WHERE policy_domain=v) AS reports,"
	    " (SELECT min(begin_ts) FROM reports WHERE policy_domain=v) AS first,"
	    " (SELECT max(begin_ts) FROM reports WHERE policy_domain=v) AS last"
	    " FROM d WHERE v IS NOT NULL");
	if ((domains = dash_query_rows(db, &b, err)) == NULL)
		return NULL;
	memset(&b, 0, sizeof(b));
	qb_add(&b, "WITH RECURSIVE o(v) AS (SELECT min(org_name) FROM reports"
	    " UNION ALL SELECT (SELECT min(org_name) FROM reports WHERE org_name>o.v)"
	    " FROM o WHERE o.v IS NOT NULL)"
	    " SELECT v AS reporter, (SELECT count(*) FROM reports WHERE org_name=v) AS reports,"
	    " (SELECT max(begin_ts) FROM reports WHERE org_name=v) AS last"
	    " FROM o WHERE v IS NOT NULL");
	if ((reporters = dash_query_rows(db, &b, err)) == NULL) {
		json_decref(domains);
		return NULL;
	}
	memset(&b, 0, sizeof(b));
	qb_add(&b, "SELECT (SELECT min((SELECT min(day) FROM daily WHERE policy_domain=v))"
	    " FROM " DASH_DOMAINS ") AS first_day,"
	    " (SELECT max((SELECT max(day) FROM daily WHERE policy_domain=v))"
	    " FROM " DASH_DOMAINS ") AS last_day,"
	    " (SELECT count(*) FROM ledger) AS ledger_rows");
	extent = dash_query_rows(db, &b, err);
	if (extent == NULL) {
		json_decref(domains);
		json_decref(reporters);
		return NULL;
	}
	out = json_pack("{s:o, s:o, s:O, s:I, s:s}", "domains", domains, "reporters", reporters,
	    "extent", json_array_get(extent, 0), "now", (json_int_t)now,
	    "version", DMARCSTAT_VERSION);
	json_decref(extent);
	return out;
}

/* ---- overview ------------------------------------------------------------ */

static json_t *
dash_policy_latest(sqlite3 *db, const char *domain, int64_t until, struct query_dash_err *err)
{
	struct qb b = {0};
	json_t *rows, *v;

	qb_add(&b, "SELECT p, sp, np, pct, testing, adkim, aspf, begin_ts AS seen"
	    " FROM reports WHERE policy_domain=");
	qb_text(&b, domain);
	if (until) {
		qb_add(&b, " AND begin_ts<");
		qb_int(&b, until);
	}
	qb_add(&b, " ORDER BY begin_ts DESC, id DESC LIMIT 1");
	if ((rows = dash_query_rows(db, &b, err)) == NULL)
		return NULL;
	v = json_array_size(rows) ? json_incref(json_array_get(rows, 0)) : json_null();
	json_decref(rows);
	return v;
}

/* Per-day [day, messages, pass] for the last 30 days up to q->until. */
static json_t *
dash_spark(sqlite3 *db, const struct query *q, const char *domain, int64_t now,
    struct query_dash_err *err)
{
	struct query sq = *q;
	struct qb b = {0};
	sqlite3_stmt *stmt;
	json_t *a;
	int rc;

	sq.domain = domain;
	sq.until = q->until ? q->until : now;
	sq.since = sq.until - 30 * DAY;
	if (q->since > sq.since)
		sq.since = q->since;
	qb_add(&b, "SELECT day, sum(messages), sum(CASE WHEN " PASS_EXPR
	    " THEN messages ELSE 0 END) FROM daily");
	dash_daily_where(&b, &sq);
	qb_add(&b, " GROUP BY day ORDER BY day");
	if ((stmt = qb_prepare(db, &b, err)) == NULL)
		return NULL;
	a = json_array();
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		json_array_append_new(a, json_pack("[I,I,I]",
		    (json_int_t)sqlite3_column_int64(stmt, 0),
		    (json_int_t)sqlite3_column_int64(stmt, 1),
		    (json_int_t)sqlite3_column_int64(stmt, 2)));
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		dash_dberr(err, db, rc);
		json_decref(a);
		return NULL;
	}
	return a;
}

/* Plain-language status: a catalog key plus parameters and a level. */
static json_t *
dash_status(const json_t *d)
{
	json_int_t m = dash_geti(d, "messages");
	json_int_t fs = dash_geti(d, "fail_sources");
	double pp = json_real_value(json_object_get(d, "pass_pct"));
	const char *level = pp >= 98.0 ? "ok" : pp >= 90.0 ? "warn" : "bad";

	if (m == 0)
		return json_pack("{s:s, s:{}, s:s}", "key", "status.no_data", "params",
		    "level", "none");
	if (fs == 0)
		return json_pack("{s:s, s:{s:f}, s:s}", "key", "status.all_pass", "params",
		    "pass_pct", pp, "level", "ok");
	return json_pack("{s:s, s:{s:I, s:f}, s:s}", "key", "status.failing_sources",
	    "params", "sources", fs, "pass_pct", pp, "level", level);
}

/* ---- the in-memory copy of daily (store/dashmem.h) ------------------------ */

/*
 * The same answers as the SQL above, aggregated from the copy: rows are
 * walked in daily's primary-key order (domain, day, source_ip, org_name,
 * header_from, ...), which is also the order in which SQLite feeds them to
 * its aggregates, so even first-seen orders (group_concat) agree.  Distinct
 * counts use per-id epoch stamps: no clearing between domains.
 */
struct dash_mf {
	int64_t lo, hi;                 /* day bounds, INT64_MIN/MAX = open */
	uint32_t org, ip;               /* UINT32_MAX - 1 = any */
	int result;                     /* 0 any, 1 pass, 2 fail */
	int none;                       /* a filter value the copy does not hold */
};

#define DASH_MF_ANY (UINT32_MAX - 1)

static void
dash_mf_init(struct dash_mf *f, const struct dashmem *dm, const struct query *q)
{
	memset(f, 0, sizeof(*f));
	f->lo = q->since ? q->since - QUERY_DASH_MIDPOINT : INT64_MIN;
	f->hi = q->until ? q->until - QUERY_DASH_MIDPOINT : INT64_MAX;
	f->org = f->ip = DASH_MF_ANY;
	if (q->reporter && (f->org = dashmem_find(&dm->orgs, q->reporter,
	    strlen(q->reporter))) == UINT32_MAX)
		f->none = 1;
	if (q->source_ip && (f->ip = dashmem_find(&dm->ips, q->source_ip,
	    strlen(q->source_ip))) == UINT32_MAX)
		f->none = 1;
	if (q->result)
		f->result = strcmp(q->result, "pass") == 0 ? 1 : 2;
}

static inline int
dash_mf_row(const struct dash_mf *f, const struct dashmem *dm, uint32_t r)
{
	if (f->org != DASH_MF_ANY && dm->org[r] != f->org)
		return 0;
	if (f->ip != DASH_MF_ANY && dm->ip[r] != f->ip)
		return 0;
	if (f->result == 1 && !(dm->fl[r] & DASHMEM_PASS))
		return 0;
	if (f->result == 2 && (dm->fl[r] & DASHMEM_PASS))
		return 0;
	return 1;
}

/* The domains a query covers: [*d0, *d1) of dm->dv; 0 when none. */
static int
dash_mf_domains(const struct dashmem *dm, const struct query *q, const struct dashmem_domain **d0,
    const struct dashmem_domain **d1)
{
	if (q->domain) {
		const struct dashmem_domain *d = dashmem_domain(dm, q->domain);

		if (d == NULL)
			return 0;
		*d0 = d;
		*d1 = d + 1;
	} else {
		*d0 = dm->dv;
		*d1 = dm->dv + dm->ndom;
	}
	return 1;
}

static json_t *
dash_mem_name(const struct dashmem_strs *s, uint32_t id)
{
	size_t n;
	const char *p = dashmem_str(s, id, &n);

	return dash_str(p, n);
}

static json_t *
dash_mem_overview(const struct dashmem *dm, const struct query *q)
{
	struct dash_mf f;
	const struct dashmem_domain *d0, *d1, *d;
	uint32_t *seen, *seenf, epoch = 0;
	json_t *rows = json_array();

	dash_mf_init(&f, dm, q);
	if (f.none || !dash_mf_domains(dm, q, &d0, &d1))
		return rows;
	seen = calloc((size_t)dm->ips.n + 1, sizeof(*seen));
	seenf = calloc((size_t)dm->ips.n + 1, sizeof(*seenf));
	if (seen == NULL || seenf == NULL) {
		free(seen);
		free(seenf);
		json_decref(rows);
		return NULL;
	}
	for (d = d0; d < d1; d++) {
		uint32_t g0, g1, nrows = 0;
		json_int_t m = 0, p = 0, spf = 0, dk = 0, src = 0, fsrc = 0;

		epoch++;
		dashmem_range(dm, d, f.lo, f.hi, &g0, &g1);
		for (uint32_t r = dm->gstart[g0]; r < dm->gstart[g1]; r++) {
			uint32_t ip = dm->ip[r];
			uint8_t fl = dm->fl[r];

			if (!dash_mf_row(&f, dm, r))
				continue;
			nrows++;
			m += dm->msg[r];
			if (fl & DASHMEM_PASS)
				p += dm->msg[r];
			else if (seenf[ip] != epoch) {
				seenf[ip] = epoch;
				fsrc++;
			}
			if (fl & DASHMEM_SPF)
				spf += dm->msg[r];
			if (fl & DASHMEM_DKIM)
				dk += dm->msg[r];
			if (seen[ip] != epoch) {
				seen[ip] = epoch;
				src++;
			}
		}
		if (nrows == 0)
			continue;
		json_array_append_new(rows, json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "domain", dash_mem_name(&dm->doms, d->name), "messages", m, "pass", p,
		    "fail", m - p, "spf_aligned", spf, "dkim_aligned", dk, "fail_sources", fsrc,
		    "sources", src));
	}
	free(seen);
	free(seenf);
	return rows;
}

/* dash_spark from the copy. */
static json_t *
dash_mem_spark(const struct dashmem *dm, const struct query *q, const char *domain, int64_t now)
{
	struct query sq = *q;
	struct dash_mf f;
	const struct dashmem_domain *d;
	json_t *a = json_array();
	uint32_t g0, g1;

	sq.domain = domain;
	sq.until = q->until ? q->until : now;
	sq.since = sq.until - 30 * DAY;
	if (q->since > sq.since)
		sq.since = q->since;
	dash_mf_init(&f, dm, &sq);
	if (f.none || (d = dashmem_domain(dm, domain)) == NULL)
		return a;
	dashmem_range(dm, d, f.lo, f.hi, &g0, &g1);
	for (uint32_t g = g0; g < g1; g++) {
		json_int_t m = 0, p = 0;
		int any = 0;

		for (uint32_t r = dm->gstart[g]; r < dm->gstart[g + 1]; r++) {
			if (!dash_mf_row(&f, dm, r))
				continue;
			any = 1;
			m += dm->msg[r];
			if (dm->fl[r] & DASHMEM_PASS)
				p += dm->msg[r];
		}
		if (any)
			json_array_append_new(a, json_pack("[I,I,I]", (json_int_t)dm->gday[g], m, p));
	}
	return a;
}

json_t *
query_dash_overview(struct store *st, const struct query *q, int64_t now,
    struct query_dash_err *err)
{
	return query_dash_overview_mem(st, NULL, q, now, err);
}

json_t *
query_dash_overview_mem(struct store *st, const struct dashmem *dm, const struct query *q,
    int64_t now, struct query_dash_err *err)
{
	sqlite3 *db = dash_db(st, err);
	struct qb b = {0};
	json_t *rows, *known, *out, *byname, *tot;
	size_t i;
	json_t *d;
	json_int_t tm = 0, tp = 0, tf = 0;

	if (db == NULL || !dash_valid_result(q, err))
		return NULL;
	if (dm != NULL)
		rows = dash_mem_overview(dm, q);
	else {
		qb_add(&b, "SELECT policy_domain AS domain, " STATS_COLS ","
		    " count(DISTINCT CASE WHEN NOT " PASS_EXPR " THEN source_ip END) AS fail_sources,"
		    " count(DISTINCT source_ip) AS sources FROM daily");
		dash_daily_where(&b, q);
		qb_add(&b, " GROUP BY policy_domain");
		rows = dash_query_rows(db, &b, err);
	}
	if (rows == NULL)
		return NULL;
	/* Domains with reports but no messages in range are listed too (one
	 * reports_domain_time seek per domain, in BINARY order). */
	memset(&b, 0, sizeof(b));
	if (q->domain) {
		qb_add(&b, "SELECT DISTINCT policy_domain AS domain FROM reports WHERE policy_domain=");
		qb_text(&b, q->domain);
	} else
		qb_add(&b, "WITH RECURSIVE d(v) AS (SELECT min(policy_domain) FROM reports"
		    " UNION ALL SELECT (SELECT min(policy_domain) FROM reports WHERE policy_domain>d.v)"
		    " FROM d WHERE d.v IS NOT NULL) SELECT v AS domain FROM d WHERE v IS NOT NULL");
	if ((known = dash_query_rows(db, &b, err)) == NULL) {
		json_decref(rows);
		return NULL;
	}
	byname = json_object();
	json_array_foreach(rows, i, d)
		json_object_set(byname, dash_gets(d, "domain"), d);
	json_array_foreach(known, i, d) {
		const char *name = dash_gets(d, "domain");

		if (name && json_object_get(byname, name) == NULL) {
			json_t *z = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
			    "domain", name, "messages", 0, "pass", 0, "fail", 0,
			    "spf_aligned", 0, "dkim_aligned", 0, "fail_sources", 0, "sources", 0);

			json_array_append_new(rows, z);
			json_object_set(byname, name, z);
		}
	}
	json_decref(known);
	json_decref(byname);
	json_array_foreach(rows, i, d) {
		json_t *pol, *spark;
		const char *name = dash_gets(d, "domain");

		dash_add_pcts(d);
		tm += dash_geti(d, "messages");
		tp += dash_geti(d, "pass");
		tf += dash_geti(d, "fail");
		if ((pol = dash_policy_latest(db, name, q->until, err)) == NULL ||
		    (spark = dm ? dash_mem_spark(dm, q, name, now) :
		    dash_spark(db, q, name, now, err)) == NULL) {
			json_decref(pol);
			json_decref(rows);
			return NULL;
		}
		json_object_set_new(d, "policy", pol);
		json_object_set_new(d, "spark", spark);
		json_object_set_new(d, "status", dash_status(d));
	}
	tot = json_pack("{s:I, s:I, s:I, s:f, s:I}", "messages", tm, "pass", tp, "fail", tf,
	    "pass_pct", dash_pct(tp, tm), "domains", (json_int_t)json_array_size(rows));
	out = json_pack("{s:o, s:o}", "domains", rows, "totals", tot);
	return out;
}

/* ---- domain ---------------------------------------------------------------- */

/* Columnar per-day series for uPlot: days[] and one array per stack. */
static json_t *
dash_series(sqlite3 *db, const struct query *q, struct query_dash_err *err)
{
	struct qb b = {0};
	sqlite3_stmt *stmt;
	json_t *days = json_array(), *pass = json_array(), *fnone = json_array(),
	    *fq = json_array(), *fr = json_array();
	int rc;

	qb_add(&b, "SELECT day,"
	    " sum(CASE WHEN " PASS_EXPR " THEN messages ELSE 0 END),"
	    " sum(CASE WHEN NOT " PASS_EXPR " AND disposition NOT IN ('quarantine','reject')"
	    " THEN messages ELSE 0 END),"
	    " sum(CASE WHEN NOT " PASS_EXPR " AND disposition='quarantine' THEN messages ELSE 0 END),"
	    " sum(CASE WHEN NOT " PASS_EXPR " AND disposition='reject' THEN messages ELSE 0 END)"
	    " FROM daily");
	dash_daily_where(&b, q);
	qb_add(&b, " GROUP BY day ORDER BY day");
	if ((stmt = qb_prepare(db, &b, err)) == NULL)
		goto fail;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		json_array_append_new(days, json_integer(sqlite3_column_int64(stmt, 0)));
		json_array_append_new(pass, json_integer(sqlite3_column_int64(stmt, 1)));
		json_array_append_new(fnone, json_integer(sqlite3_column_int64(stmt, 2)));
		json_array_append_new(fq, json_integer(sqlite3_column_int64(stmt, 3)));
		json_array_append_new(fr, json_integer(sqlite3_column_int64(stmt, 4)));
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		dash_dberr(err, db, rc);
		goto fail;
	}
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "days", days, "pass", pass,
	    "fail_none", fnone, "fail_quarantine", fq, "fail_reject", fr);
fail:
	json_decref(days);
	json_decref(pass);
	json_decref(fnone);
	json_decref(fq);
	json_decref(fr);
	return NULL;
}

static json_t *
dash_top(sqlite3 *db, const struct query *q, const char *col, int limit,
    struct query_dash_err *err)
{
	struct qb b = {0};
	json_t *rows, *r;
	size_t i;
	int is_ip = strcmp(col, "source_ip") == 0;

	if (is_ip)
		qb_add(&b, "SELECT t.*, i.ptr AS hostname, i.country, i.as_name FROM (");
	qb_add(&b, "SELECT %s AS %s, " STATS_COLS " FROM daily", col, is_ip ? "ip" : "reporter");
	dash_daily_where(&b, q);
	qb_add(&b, " GROUP BY %s ORDER BY messages DESC, %s LIMIT ", col, col);
	qb_int(&b, limit);
	if (is_ip)
		qb_add(&b, ") t LEFT JOIN ip_info i ON i.ip=t.ip ORDER BY t.messages DESC, t.ip");
	if ((rows = dash_query_rows(db, &b, err)) == NULL)
		return NULL;
	json_array_foreach(rows, i, r)
		dash_add_pcts(r);
	return rows;
}

static json_t *
dash_policy_history(sqlite3 *db, const struct query *q, struct query_dash_err *err)
{
	struct qb b = {0};

	qb_add(&b, "SELECT p, sp, np, pct, testing, adkim, aspf, min(begin_ts) AS first,"
	    " max(end_ts) AS last, count(*) AS reports FROM reports WHERE policy_domain=");
	qb_text(&b, q->domain);
	qb_add(&b, " GROUP BY p, sp, np, pct, testing, adkim, aspf ORDER BY first DESC LIMIT 20");
	return dash_query_rows(db, &b, err);
}

static void
dash_advise(json_t *adv, const char *key, json_t *params, const char *level)
{
	json_array_append_new(adv, json_pack("{s:s, s:o, s:s}", "key", key, "params",
	    params ? params : json_object(), "level", level));
}

/*
 * "What to do next", in order of importance.  The rules follow the usual
 * path to enforcement: fix your own failing senders first (aligned DKIM
 * preferred; never add a forwarder's IPs to SPF), then p=quarantine, then
 * p=reject, with pct=100 and without t=y.
 */
static json_t *
dash_advice(const json_t *tot, const json_t *pol, const json_t *top_fail, const char *domain)
{
	json_t *adv = json_array();
	json_int_t m = dash_geti(tot, "messages");
	double pp = dash_pct(dash_geti(tot, "pass"), m);
	double spf = dash_pct(dash_geti(tot, "spf_aligned"), m);
	double dkim = dash_pct(dash_geti(tot, "dkim_aligned"), m);
	const char *p = json_is_object(pol) ? dash_gets(pol, "p") : NULL;
	const char *t = json_is_object(pol) ? dash_gets(pol, "testing") : NULL;
	json_int_t pct = json_is_object(pol) && json_is_integer(json_object_get(pol, "pct")) ?
	    dash_geti(pol, "pct") : 100;
	size_t i, shown = 0;
	json_t *s;

	if (m == 0) {
		dash_advise(adv, "advice.no_data", json_pack("{s:s}", "domain", domain), "info");
		return adv;
	}
	json_array_foreach(top_fail, i, s) {
		json_int_t f = dash_geti(s, "fail");

		if (shown >= 3 || f * 100 < m)    /* sources with >= 1 % of the mail */
			break;
		dash_advise(adv, "advice.check_source", json_pack("{s:O, s:O, s:I, s:f}",
		    "ip", json_object_get(s, "ip"), "hostname", json_object_get(s, "hostname"),
		    "fail", f, "fail_pct", dash_pct(f, m)), "warn");
		shown++;
	}
	if (json_array_size(top_fail) > shown && json_array_size(top_fail) >= 5)
		dash_advise(adv, "advice.small_failures", json_pack("{s:I}", "sources",
		    (json_int_t)json_array_size(top_fail) - (json_int_t)shown), "info");
	if (dkim + 5.0 < spf)
		dash_advise(adv, "advice.enable_dkim", json_pack("{s:f, s:f}", "dkim_pct", dkim,
		    "spf_pct", spf), "warn");
	if (p == NULL)
		dash_advise(adv, "advice.no_policy", NULL, "warn");
	else if (strcmp(p, "none") == 0)
		dash_advise(adv, pp >= 98.0 ? "advice.move_quarantine" : "advice.fix_before_enforce",
		    json_pack("{s:f}", "pass_pct", pp), pp >= 98.0 ? "action" : "warn");
	else if (strcmp(p, "quarantine") == 0)
		dash_advise(adv, pp >= 99.0 ? "advice.move_reject" : "advice.fix_before_reject",
		    json_pack("{s:f}", "pass_pct", pp), pp >= 99.0 ? "action" : "warn");
	if (p != NULL && strcmp(p, "none") != 0 && pct < 100)
		dash_advise(adv, "advice.raise_pct", json_pack("{s:I}", "pct", pct), "action");
	if (t != NULL && strcmp(t, "y") == 0)
		dash_advise(adv, "advice.testing_flag", NULL, "action");
	if (p != NULL && strcmp(p, "reject") == 0 && pct >= 100 && pp >= 98.0)
		dash_advise(adv, "advice.keep_watching", json_pack("{s:f}", "pass_pct", pp), "ok");
	return adv;
}

json_t *
query_dash_domain(struct store *st, const struct query *q, int64_t now,
    struct query_dash_err *err)
{
	sqlite3 *db = dash_db(st, err);
	struct qb b = {0};
	struct query fq;
	json_t *tot = NULL, *series = NULL, *hist = NULL, *srcs = NULL, *reps = NULL,
	    *pol = NULL, *fails = NULL, *rows, *out;

	if (db == NULL || !dash_valid_result(q, err))
		return NULL;
	if (q->domain == NULL || q->domain[0] == '\0') {
		dash_seterr(err, QUERY_DASH_BAD, "domain is required");
		return NULL;
	}
	qb_add(&b, "SELECT " STATS_COLS ","
	    " sum(CASE WHEN NOT " PASS_EXPR " AND disposition='quarantine' THEN messages ELSE 0 END)"
	    " AS quarantined,"
	    " sum(CASE WHEN NOT " PASS_EXPR " AND disposition='reject' THEN messages ELSE 0 END)"
	    " AS rejected,"
	    " count(DISTINCT source_ip) AS sources, count(DISTINCT org_name) AS reporters"
	    " FROM daily");
	dash_daily_where(&b, q);
	if ((rows = dash_query_rows(db, &b, err)) == NULL)
		return NULL;
	tot = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	/* sum() over no rows is NULL: make the totals zeros. */
	{
		const char *k;
		json_t *v;

		json_object_foreach(tot, k, v)
			if (json_is_null(v))
				json_object_set_new(tot, k, json_integer(0));
	}
	dash_add_pcts(tot);
	fq = *q;
	fq.result = "fail";
	if ((series = dash_series(db, q, err)) == NULL ||
	    (hist = dash_policy_history(db, q, err)) == NULL ||
	    (srcs = dash_top(db, q, "source_ip", 10, err)) == NULL ||
	    (reps = dash_top(db, q, "org_name", 10, err)) == NULL ||
	    (pol = dash_policy_latest(db, q->domain, q->until, err)) == NULL ||
	    (fails = dash_top(db, &fq, "source_ip", 50, err)) == NULL)
		goto fail;
	out = json_pack("{s:s, s:O, s:o, s:o, s:o, s:o, s:O, s:o, s:I}", "domain", q->domain,
	    "totals", tot, "series", series, "policy_history", hist, "top_sources", srcs,
	    "top_reporters", reps, "policy", pol,
	    "advice", dash_advice(tot, pol, fails, q->domain), "now", (json_int_t)now);
	json_decref(tot);
	json_decref(pol);
	json_decref(fails);
	return out;
fail:
	json_decref(tot);
	json_decref(series);
	json_decref(hist);
	json_decref(srcs);
	json_decref(reps);
	json_decref(pol);
	return NULL;
}

/* ---- sources --------------------------------------------------------------- */

static const char *
dash_sources_order(const char *sort)
{
	static const char *const map[][2] = {
		{"ip", "s.ip"}, {"messages", "s.messages"}, {"fail", "s.fail"},
		{"pass_pct", "CAST(s.pass AS REAL)/s.messages"}, {"hostname", "i.ptr"},
		{"reporters", "s.reporters"}, {NULL, NULL}};

	if (sort == NULL)
		return "s.messages";
	for (int i = 0; map[i][0]; i++)
		if (strcmp(sort, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

/*
 * envelope_from values, DKIM domain/selectors and SPF domains seen from one
 * IP: from its newest SAMPLE_RECORDS records in range among its newest
 * SAMPLE_SCAN records (newest report first: the order of records_ip
 * (source_ip, report), read without the records table).  Bounded so that
 * an IP with 10,000s of records, few of them in range, costs a page of
 * the sources view ~1 ms, not ~50; such an IP's samples then come from
 * the in-range part of its newest records only.
 */
static int
dash_source_ids(sqlite3 *db, const struct query *q, json_t *row, struct query_dash_err *err)
{
	struct qb b = {0};
	sqlite3_stmt *stmt;
	json_t *env = json_array(), *dkim = json_array(), *spf = json_array();
	int rc;

	qb_add(&b, "WITH c AS (SELECT r.id, r.report FROM records r WHERE r.source_ip=");
	qb_text(&b, dash_gets(row, "ip"));
	qb_add(&b, " ORDER BY r.report DESC, r.id DESC LIMIT %d),"
	    " r AS (SELECT c.id, (SELECT envelope_from FROM records WHERE id=c.id) AS envelope_from"
	    " FROM c JOIN reports p ON p.id=c.report WHERE 1=1", SAMPLE_SCAN);
	dash_reports_where(&b, q, "p");
	qb_add(&b, " ORDER BY c.report DESC, c.id DESC LIMIT %d)"
	    " SELECT * FROM (SELECT DISTINCT 'e', envelope_from, NULL FROM r"
	    "  WHERE envelope_from IS NOT NULL AND envelope_from<>'' LIMIT 5)"
	    " UNION ALL SELECT * FROM (SELECT DISTINCT 'd', d.domain, d.selector FROM record_dkim d"
	    "  WHERE d.record IN (SELECT id FROM r) LIMIT 8)"
	    " UNION ALL SELECT * FROM (SELECT DISTINCT 's', s.domain, NULL FROM record_spf s"
	    "  WHERE s.record IN (SELECT id FROM r) LIMIT 5)", SAMPLE_RECORDS);
	if ((stmt = qb_prepare(db, &b, err)) == NULL)
		goto fail;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(stmt, 0);
		json_t *v = dash_col(stmt, 1);

		if (k[0] == 'e')
			json_array_append_new(env, v);
		else if (k[0] == 's')
			json_array_append_new(spf, v);
		else
			json_array_append_new(dkim, json_pack("{s:o, s:o}", "domain", v,
			    "selector", dash_col(stmt, 2)));
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		dash_dberr(err, db, rc);
		goto fail;
	}
	json_object_set_new(row, "envelope_from", env);
	json_object_set_new(row, "dkim", dkim);
	json_object_set_new(row, "spf_domains", spf);
	return 0;
fail:
	json_decref(env);
	json_decref(dkim);
	json_decref(spf);
	return -1;
}

/* "a.example,b.example" (group_concat) -> ["a.example", ...] (first 5). */
static void
dash_split_list(json_t *row, const char *from, const char *to)
{
	const char *s = dash_gets(row, from);
	json_t *a = json_array();
	int more = 0;

	while (s && *s) {
		const char *c = strchr(s, ',');
		size_t n = c ? (size_t)(c - s) : strlen(s);

		if (json_array_size(a) < 5)
			json_array_append_new(a, dash_str(s, n));
		else
			more++;
		s = c ? c + 1 : NULL;
	}
	json_object_del(row, from);
	json_object_set_new(row, to, a);
	json_object_set_new(row, "header_from_more", json_integer(more));
}

/* ---- sources from the copy -------------------------------------------------- */

struct dash_macc {
	int64_t m, p, spf, dk, quar, rej;
	uint32_t reporters, nrows;
};

struct dash_msort {
	const struct dashmem *dm;
	const struct dash_macc *acc;
	int key, desc;                  /* key: 0 messages 1 fail 2 pass_pct 3 ip 4 reporters */
};

/* An open-addressing set of 64-bit keys (never 0), grown by doubling. */
struct dash_set {
	uint64_t *v;
	size_t n, cap;
	int bits;                       /* cap = 1 << bits */
};

/* slot of k: the high bits of a Fibonacci product (they depend on every bit of k) */
#define DASH_SET_SLOT(k, bits) ((size_t)(((k) * 0x9e3779b97f4a7c15ULL) >> (64 - (bits))))

static int
dash_set_add(struct dash_set *s, uint64_t k)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		int nb = s->cap ? s->bits + 1 : 12;
		size_t nc = (size_t)1 << nb;
		uint64_t *nv = calloc(nc, sizeof(*nv));

		if (nv == NULL)
			return -1;
		for (size_t j = 0; j < s->cap; j++) {
			if (s->v[j] == 0)
				continue;
			for (i = DASH_SET_SLOT(s->v[j], nb); nv[i]; i = (i + 1) & (nc - 1))
				;
			nv[i] = s->v[j];
		}
		free(s->v);
		s->v = nv;
		s->cap = nc;
		s->bits = nb;
	}
	for (i = DASH_SET_SLOT(k, s->bits); s->v[i]; i = (i + 1) & (s->cap - 1))
		if (s->v[i] == k)
			return 0;
	s->v[i] = k;
	s->n++;
	return 1;
}

static int
dash_msort_cmp(const void *x, const void *y, void *arg)
{
	const struct dash_msort *o = arg;
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	const struct dash_macc *A = &o->acc[a], *B = &o->acc[b];
	int c = 0;

	switch (o->key) {
	case 0:
		c = A->m < B->m ? -1 : A->m > B->m;
		break;
	case 1:
		c = A->m - A->p < B->m - B->p ? -1 : A->m - A->p > B->m - B->p;
		break;
	case 2:
		/* CAST(pass AS REAL)/messages: NULL (0 messages) before any number */
		if (A->m == 0 || B->m == 0)
			c = (A->m != 0) - (B->m != 0);
		else {
			double da = (double)A->p / (double)A->m, db = (double)B->p / (double)B->m;

			c = da < db ? -1 : da > db;
		}
		break;
	case 3:
		c = o->dm->ips.rank[a] < o->dm->ips.rank[b] ? -1 : o->dm->ips.rank[a] > o->dm->ips.rank[b];
		break;
	default:
		c = A->reporters < B->reporters ? -1 : A->reporters > B->reporters;
		break;
	}
	if (o->desc)
		c = -c;
	if (c == 0)
		c = o->dm->ips.rank[a] < o->dm->ips.rank[b] ? -1 : o->dm->ips.rank[a] > o->dm->ips.rank[b];
	return c;
}

/* ip_info columns of one page row, as the SQL's LEFT JOIN gives them */
static int
dash_mem_ipinfo(sqlite3 *db, sqlite3_stmt *st, json_t *row, const char *ip, size_t n,
    struct query_dash_err *err)
{
	static const char *const names[] = {"hostname", "fcrdns", "country", "asn", "as_name",
		"service"};
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, ip, (int)n, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		dash_dberr(err, db, rc);
		return -1;
	}
	for (int c = 0; c < 6; c++)
		json_object_set_new(row, names[c], rc == SQLITE_ROW ? dash_col(st, c) : json_null());
	return 0;
}

/*
 * The rows of query_dash_sources (before dash_add_pcts and the samples) from
 * the copy; *total as count(*) OVER () (0 when the page is empty).  Returns
 * NULL with err set, or with err->status 0 when the query needs SQL (sort by
 * host name: ip_info is not in the copy).
 */
static json_t *
dash_mem_sources(sqlite3 *db, const struct dashmem *dm, const struct query *q, int only_failures,
    json_int_t *total, struct query_dash_err *err)
{
	static const char *const keys[] = {"messages", "fail", "pass_pct", "ip", "reporters"};
	struct dash_mf f;
	const struct dashmem_domain *d0, *d1, *d;
	struct dash_macc *acc = NULL;
	struct dash_set pairs = {0}, hfs = {0};
	struct dash_msort o = {dm, NULL, 0, q->desc};
	uint32_t *cand = NULL, *page = NULL, ncand = 0, nip = dm->ips.n;
	uint32_t *hfl = NULL, nhfl = 0, hcap = 0;
	uint64_t *orgbits = NULL;
	sqlite3_stmt *st = NULL;
	json_t *rows = json_array();
	size_t off = q->offset > 0 ? (size_t)q->offset : 0, lim = (size_t)dash_limit(q), end;

	*total = 0;
	if (q->sort != NULL) {
		o.key = -1;
		for (int k = 0; k < 5; k++)
			if (strcmp(q->sort, keys[k]) == 0)
				o.key = k;
		if (o.key < 0) {               /* hostname */
			json_decref(rows);
			err->status = QUERY_DASH_OK;
			return NULL;
		}
	}
	dash_mf_init(&f, dm, q);
	if (f.none || !dash_mf_domains(dm, q, &d0, &d1))
		return rows;
	acc = calloc((size_t)nip + 1, sizeof(*acc));
	/* distinct reporters per source: a bit mask when there are few reporters */
	if (dm->orgs.n <= 64 && (orgbits = calloc((size_t)nip + 1, sizeof(*orgbits))) == NULL)
		goto oom;
	cand = malloc(((size_t)nip + 1) * sizeof(*cand));
	page = calloc((size_t)nip + 1, sizeof(*page));
	if (acc == NULL || cand == NULL || page == NULL)
		goto oom;
	/* pass 1: the numbers per source */
	for (d = d0; d < d1; d++) {
		uint32_t g0, g1;
		uint64_t last = 0;

		dashmem_range(dm, d, f.lo, f.hi, &g0, &g1);
		for (uint32_t r = dm->gstart[g0]; r < dm->gstart[g1]; r++) {
			struct dash_macc *a = &acc[dm->ip[r]];
			uint8_t fl = dm->fl[r];
			int64_t m = dm->msg[r];
			uint64_t key;

			if (!dash_mf_row(&f, dm, r))
				continue;
			a->nrows++;
			a->m += m;
			if (fl & DASHMEM_PASS)
				a->p += m;
			else if (fl & DASHMEM_QUAR)
				a->quar += m;
			else if (fl & DASHMEM_REJ)
				a->rej += m;
			if (fl & DASHMEM_SPF)
				a->spf += m;
			if (fl & DASHMEM_DKIM)
				a->dk += m;
			if (orgbits != NULL) {
				uint64_t bit = (uint64_t)1 << dm->org[r];

				if (!(orgbits[dm->ip[r]] & bit)) {
					orgbits[dm->ip[r]] |= bit;
					a->reporters++;
				}
				continue;
			}
			key = ((uint64_t)dm->ip[r] << 32 | dm->org[r]) + 1;
			if (key != last) {
				int added = dash_set_add(&pairs, key);

				if (added < 0)
					goto oom;
				a->reporters += (uint32_t)added;
				last = key;
			}
		}
	}
	for (uint32_t i = 0; i < nip; i++)
		if (acc[i].nrows > 0 && (!only_failures || acc[i].m - acc[i].p > 0))
			cand[ncand++] = i;
	o.acc = acc;
	qsort_r(cand, ncand, sizeof(*cand), dash_msort_cmp, &o);
	if (off >= ncand)
		goto done;
	*total = ncand;
	end = off + lim < ncand ? off + lim : ncand;
	for (size_t i = off; i < end; i++)
		page[cand[i]] = (uint32_t)(i - off) + 1;
	/* pass 2: the header_from values of the page's sources, first seen first */
	for (d = d0; d < d1; d++) {
		uint32_t g0, g1;

		dashmem_range(dm, d, f.lo, f.hi, &g0, &g1);
		for (uint32_t r = dm->gstart[g0]; r < dm->gstart[g1]; r++) {
			uint32_t pi = page[dm->ip[r]];
			int added;

			if (pi == 0 || !dash_mf_row(&f, dm, r))
				continue;
			if ((added = dash_set_add(&hfs, ((uint64_t)(pi - 1) << 32 | dm->hf[r]) + 1)) < 0)
				goto oom;
			if (added) {
				if (nhfl + 2 > hcap) {
					uint32_t nc = hcap ? hcap * 2 : 1024, *nl = realloc(hfl, nc * sizeof(*nl));

					if (nl == NULL)
						goto oom;
					hfl = nl;
					hcap = nc;
				}
				hfl[nhfl++] = pi - 1;
				hfl[nhfl++] = dm->hf[r];
			}
		}
	}
	if (sqlite3_prepare_v2(db, "SELECT ptr, fcrdns, country, asn, as_name, service"
	    " FROM ip_info WHERE ip=?1", -1, &st, NULL) != SQLITE_OK) {
		dash_dberr(err, db, sqlite3_errcode(db));
		goto fail;
	}
	for (size_t i = off; i < end; i++) {
		uint32_t ip = cand[i], pi = (uint32_t)(i - off);
		const struct dash_macc *a = &acc[ip];
		size_t n, hl = 0;
		const char *ipp = dashmem_str(&dm->ips, ip, &n);
		json_t *row = json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "ip", dash_str(ipp, n), "messages", (json_int_t)a->m, "pass", (json_int_t)a->p,
		    "fail", (json_int_t)(a->m - a->p), "spf_aligned", (json_int_t)a->spf,
		    "dkim_aligned", (json_int_t)a->dk, "quarantined", (json_int_t)a->quar,
		    "rejected", (json_int_t)a->rej, "reporters", (json_int_t)a->reporters);
		char *cat;

		json_array_append_new(rows, row);
		if (dash_mem_ipinfo(db, st, row, ipp, n, err) != 0)
			goto fail;
		/* group_concat(DISTINCT header_from): joined with ',' */
		for (uint32_t k = 0; k < nhfl; k += 2)
			if (hfl[k] == pi) {
				dashmem_str(&dm->hfs, hfl[k + 1], &n);
				hl += n + 1;
			}
		if ((cat = malloc(hl + 1)) == NULL)
			goto oom;
		hl = 0;
		for (uint32_t k = 0; k < nhfl; k += 2)
			if (hfl[k] == pi) {
				const char *h = dashmem_str(&dm->hfs, hfl[k + 1], &n);

				if (hl > 0)
					cat[hl++] = ',';
				memcpy(cat + hl, h, n);
				hl += n;
			}
		json_object_set_new(row, "_hf", dash_str(cat, hl));
		free(cat);
	}
	goto done;
oom:
	dash_seterr(err, QUERY_DASH_FAIL, "out of memory");
fail:
	json_decref(rows);
	rows = NULL;
done:
	sqlite3_finalize(st);
	free(acc);
	free(orgbits);
	free(cand);
	free(page);
	free(pairs.v);
	free(hfs.v);
	free(hfl);
	return rows;
}

json_t *
query_dash_sources(struct store *st, const struct query *q, int only_failures,
    struct query_dash_err *err)
{
	return query_dash_sources_mem(st, NULL, q, only_failures, err);
}

json_t *
query_dash_sources_mem(struct store *st, const struct dashmem *dm, const struct query *q,
    int only_failures, struct query_dash_err *err)
{
	sqlite3 *db = dash_db(st, err);
	struct qb b = {0};
	const char *order;
	json_t *rows = NULL, *r;
	json_int_t total = 0;
	size_t i;

	if (db == NULL || !dash_valid_result(q, err))
		return NULL;
	if ((order = dash_sources_order(q->sort)) == NULL) {
		dash_seterr(err, QUERY_DASH_BAD, "sort must be one of ip messages fail pass_pct "
		    "hostname reporters");
		return NULL;
	}
	if (dm != NULL) {
		struct query_dash_err merr = {0};

		rows = dash_mem_sources(db, dm, q, only_failures, &total, &merr);
		if (rows == NULL && merr.status != QUERY_DASH_OK) {
			if (err != NULL)
				*err = merr;
			return NULL;
		}
		if (rows != NULL)
			goto have_rows;
	}
	qb_add(&b, "SELECT s.*, i.ptr AS hostname, i.fcrdns, i.country, i.asn, i.as_name,"
	    " i.service, count(*) OVER () AS _total FROM (SELECT source_ip AS ip, " STATS_COLS ","
	    " sum(CASE WHEN NOT " PASS_EXPR " AND disposition='quarantine' THEN messages ELSE 0 END)"
	    " AS quarantined,"
	    " sum(CASE WHEN NOT " PASS_EXPR " AND disposition='reject' THEN messages ELSE 0 END)"
	    " AS rejected,"
	    " count(DISTINCT org_name) AS reporters, group_concat(DISTINCT header_from) AS _hf"
	    " FROM daily");
	dash_daily_where(&b, q);
	qb_add(&b, " GROUP BY source_ip%s) s LEFT JOIN ip_info i ON i.ip=s.ip ORDER BY %s %s,"
	    " s.ip LIMIT ", only_failures ? " HAVING fail>0" : "", order, q->desc ? "DESC" : "ASC");
	qb_int(&b, dash_limit(q));
	qb_add(&b, " OFFSET ");
	qb_int(&b, q->offset > 0 ? q->offset : 0);
	{
		sqlite3_stmt *stmt = qb_prepare(db, &b, err);
		int rc;

		if (stmt == NULL)
			return NULL;
		rows = json_array();
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			json_t *row = dash_row(stmt);
			int n = sqlite3_column_count(stmt);

			for (int c = 0; c < n; c++) {
				const char *name = sqlite3_column_name(stmt, c);

				if (strcmp(name, "_total") == 0)
					total = sqlite3_column_int64(stmt, c);
				else if (strcmp(name, "_hf") == 0)
					json_object_set_new(row, "_hf", dash_col(stmt, c));
			}
			json_array_append_new(rows, row);
		}
		sqlite3_finalize(stmt);
		if (rc != SQLITE_DONE) {
			dash_dberr(err, db, rc);
			json_decref(rows);
			return NULL;
		}
	}
have_rows:
	json_array_foreach(rows, i, r) {
		dash_add_pcts(r);
		dash_split_list(r, "_hf", "header_from");
		if (dash_source_ids(db, q, r, err) < 0) {
			json_decref(rows);
			return NULL;
		}
	}
	return json_pack("{s:o, s:I, s:i, s:i}", "sources", rows, "total", total,
	    "limit", dash_limit(q), "offset", q->offset > 0 ? q->offset : 0);
}

#define RECORD_COLS \
	"r.id, r.source_ip AS ip, r.count, r.disposition, r.dkim_eval, r.spf_eval, r.dmarc," \
	" r.header_from, r.envelope_from, r.envelope_to," \
	" (SELECT json_group_array(json_object('domain',domain,'selector',selector," \
	"  'result',result,'human_result',human_result)) FROM record_dkim WHERE record=r.id) AS dkim," \
	" (SELECT json_group_array(json_object('domain',domain,'scope',scope,'result',result," \
	"  'human_result',human_result)) FROM record_spf WHERE record=r.id) AS spf," \
	" (SELECT json_group_array(json_object('type',type,'comment',comment))" \
	"  FROM record_reasons WHERE record=r.id) AS reasons"

json_t *
query_dash_source_records(struct store *st, const struct query *q,
    struct query_dash_err *err)
{
	sqlite3 *db = dash_db(st, err);
	struct qb b = {0};
	json_t *rows, *info, *v;
	json_int_t total;

	if (db == NULL || !dash_valid_result(q, err))
		return NULL;
	if (q->source_ip == NULL || q->source_ip[0] == '\0') {
		dash_seterr(err, QUERY_DASH_BAD, "source IP is required");
		return NULL;
	}
	qb_add(&b, "SELECT " RECORD_COLS ", p.id AS report, p.org_name AS reporter,"
	    " p.report_id, p.policy_domain AS domain, p.begin_ts, p.end_ts"
	    " FROM records r JOIN reports p ON p.id=r.report WHERE r.source_ip=");
	qb_text(&b, q->source_ip);
	dash_reports_where(&b, q, "p");
	if (q->result && strcmp(q->result, "fail") == 0)
		qb_add(&b, " AND r.dmarc<>'pass'");
	else if (q->result)
		qb_add(&b, " AND r.dmarc='pass'");
	qb_add(&b, " ORDER BY p.begin_ts DESC, r.id DESC LIMIT ");
	qb_int(&b, dash_limit(q));
	qb_add(&b, " OFFSET ");
	qb_int(&b, q->offset > 0 ? q->offset : 0);
	if ((rows = dash_query_rows(db, &b, err)) == NULL)
		return NULL;
	memset(&b, 0, sizeof(b));
	qb_add(&b, "SELECT count(*) AS n FROM records r JOIN reports p ON p.id=r.report"
	    " WHERE r.source_ip=");
	qb_text(&b, q->source_ip);
	dash_reports_where(&b, q, "p");
	if (q->result && strcmp(q->result, "fail") == 0)
		qb_add(&b, " AND r.dmarc<>'pass'");
	else if (q->result)
		qb_add(&b, " AND r.dmarc='pass'");
	if ((info = dash_query_rows(db, &b, err)) == NULL) {
		json_decref(rows);
		return NULL;
	}
	total = dash_geti(json_array_get(info, 0), "n");
	json_decref(info);
	memset(&b, 0, sizeof(b));
	qb_add(&b, "SELECT ip, ptr AS hostname, ptr_status, fcrdns, base_domain, asn, as_name,"
	    " country, service FROM ip_info WHERE ip=");
	qb_text(&b, q->source_ip);
	if ((info = dash_query_rows(db, &b, err)) == NULL) {
		json_decref(rows);
		return NULL;
	}
	v = json_pack("{s:s, s:O, s:o, s:I}", "ip", q->source_ip, "info",
	    json_array_size(info) ? json_array_get(info, 0) : json_null(), "records", rows,
	    "total", total);
	json_decref(info);
	return v;
}

/* ---- reporters ------------------------------------------------------------- */

/* the policy domains of reporter v (a column of the outer query), one
 * reports_org_dom seek each; x(d) */
#define DASH_ORG_DOMAINS "WITH RECURSIVE x(d) AS (SELECT min(policy_domain) FROM reports" \
	" WHERE org_name=v UNION ALL SELECT (SELECT min(policy_domain) FROM reports" \
	" WHERE org_name=v AND policy_domain>x.d) FROM x WHERE x.d IS NOT NULL)"

json_t *
query_dash_reporters(struct store *st, const struct query *q, int64_t now,
    struct query_dash_err *err)
{
	sqlite3 *db = dash_db(st, err);
	struct qb b = {0};
	json_t *reps, *msgs, *byname, *r;
	size_t i;

	if (db == NULL || !dash_valid_result(q, err))
		return NULL;
	/* Reports and the last report date ignore the range's end so that a
	 * reporter which stopped sending is visible as silent. */
	if (q->domain == NULL && q->reporter == NULL) {
		/* per reporter, by skipping through reports_org_dom /
		 * reports_org_end: no pass over all reports */
		qb_add(&b, "WITH RECURSIVE o(v) AS (SELECT min(org_name) FROM reports"
		    " UNION ALL SELECT (SELECT min(org_name) FROM reports WHERE org_name>o.v)"
		    " FROM o WHERE o.v IS NOT NULL)"
		    " SELECT v AS reporter, (SELECT max(email) FROM (" DASH_ORG_DOMAINS
		    " SELECT (SELECT max(email) FROM reports WHERE org_name=v AND policy_domain=x.d)"
		    "  AS email FROM x WHERE x.d IS NOT NULL)) AS email,"
		    " (SELECT count(*) FROM reports WHERE org_name=v");
		if (q->since) {
			qb_add(&b, " AND end_ts>");
			qb_int(&b, q->since);
		}
		if (q->until) {
			qb_add(&b, " AND begin_ts<");
			qb_int(&b, q->until);
		}
		qb_add(&b, ") AS reports,"
		    " (SELECT max(end_ts) FROM reports WHERE org_name=v) AS last_end,"
		    " (SELECT max(begin_ts) FROM reports WHERE org_name=v) AS last_begin,"
		    " (SELECT count(*) FROM (" DASH_ORG_DOMAINS " SELECT d FROM x"
		    "  WHERE x.d IS NOT NULL)) AS domains"
		    " FROM o WHERE v IS NOT NULL");
	} else {
		qb_add(&b, "SELECT p.org_name AS reporter, max(p.email) AS email,"
		    " sum(CASE WHEN 1=1");
		if (q->since) {
			qb_add(&b, " AND p.end_ts>");
			qb_int(&b, q->since);
		}
		if (q->until) {
			qb_add(&b, " AND p.begin_ts<");
			qb_int(&b, q->until);
		}
		qb_add(&b, " THEN 1 ELSE 0 END) AS reports, max(p.end_ts) AS last_end,"
		    " max(p.begin_ts) AS last_begin, count(DISTINCT p.policy_domain) AS domains"
		    " FROM reports p WHERE 1=1");
		if (q->domain) {
			qb_add(&b, " AND p.policy_domain=");
			qb_text(&b, q->domain);
		}
		if (q->reporter) {
			qb_add(&b, " AND p.org_name=");
			qb_text(&b, q->reporter);
		}
		qb_add(&b, " GROUP BY p.org_name");
	}
	if ((reps = dash_query_rows(db, &b, err)) == NULL)
		return NULL;
	memset(&b, 0, sizeof(b));
	if (q->domain == NULL && q->source_ip == NULL && q->result == NULL) {
		/* daily_org: `daily` summed per reporter and day */
		qb_add(&b, "SELECT org_name AS reporter, sum(messages) AS messages,"
		    " sum(pass) AS pass, sum(messages)-sum(pass) AS fail,"
		    " sum(spf) AS spf_aligned, sum(dkim) AS dkim_aligned FROM daily_org"
		    " WHERE 1=1");
		if (q->reporter) {
			qb_add(&b, " AND org_name=");
			qb_text(&b, q->reporter);
		}
		if (q->since) {
			qb_add(&b, " AND day>=");
			qb_int(&b, q->since - QUERY_DASH_MIDPOINT);
		}
		if (q->until) {
			qb_add(&b, " AND day<");
			qb_int(&b, q->until - QUERY_DASH_MIDPOINT);
		}
	} else {
		qb_add(&b, "SELECT org_name AS reporter, " STATS_COLS " FROM daily");
		dash_daily_where(&b, q);
	}
	qb_add(&b, " GROUP BY org_name");
	if ((msgs = dash_query_rows(db, &b, err)) == NULL) {
		json_decref(reps);
		return NULL;
	}
	byname = json_object();
	json_array_foreach(msgs, i, r)
		json_object_set(byname, dash_gets(r, "reporter"), r);
	json_array_foreach(reps, i, r) {
		json_t *m = json_object_get(byname, dash_gets(r, "reporter"));
		json_int_t last = dash_geti(r, "last_end");
		static const char *const keys[] = {"messages", "pass", "fail", "spf_aligned",
			"dkim_aligned", NULL};

		for (int k = 0; keys[k]; k++)
			json_object_set_new(r, keys[k], json_integer(m ? dash_geti(m, keys[k]) : 0));
		dash_add_pcts(r);
		json_object_set_new(r, "silent_days", json_integer(now > last ? (now - last) / DAY : 0));
		json_object_set_new(r, "silent", json_boolean(now - last > SILENT_DAYS * DAY));
	}
	json_decref(byname);
	json_decref(msgs);
	/* Most messages first, then by name. */
	{
		size_t n = json_array_size(reps);
		json_t **v = calloc(n ? n : 1, sizeof(*v));
		json_t *sorted = json_array();

		for (i = 0; i < n; i++)
			v[i] = json_array_get(reps, i);
		for (i = 1; i < n; i++) {
			json_t *x = v[i];
			size_t j = i;

			while (j > 0 && dash_geti(v[j - 1], "messages") < dash_geti(x, "messages")) {
				v[j] = v[j - 1];
				j--;
			}
			v[j] = x;
		}
		for (i = 0; i < n; i++)
			json_array_append(sorted, v[i]);
		free(v);
		json_decref(reps);
		reps = sorted;
	}
	return json_pack("{s:o, s:I, s:i}", "reporters", reps, "now", (json_int_t)now,
	    "silent_after_days", SILENT_DAYS);
}

/* ---- reports ----------------------------------------------------------------- */

/* Every reporter, one index seek each: with `org_name IN` this, a query
 * walks reports_org_end reporter by reporter over end_ts. */
#define DASH_ALL_ORGS "(WITH RECURSIVE o(v) AS (SELECT min(org_name)" \
	" FROM reports UNION ALL SELECT (SELECT min(org_name) FROM reports" \
	" WHERE org_name>o.v) FROM o WHERE o.v IS NOT NULL)" \
	" SELECT v FROM o WHERE v IS NOT NULL)"

/* A row of the reports list (reports aliased p). */
#define DASH_REPORT_COLS "p.id, p.org_name AS reporter, p.email, p.report_id," \
	" p.policy_domain AS domain, p.begin_ts, p.end_ts, p.n_records AS records," \
	" p.msg_total AS messages, p.p, p.imported_at, p.raw_id IS NOT NULL AS has_raw," \
	" coalesce(json_array_length(p.warnings),0) AS n_warnings," \
	" coalesce(json_array_length(p.errors),0) AS n_errors, p.msg_fail AS fail"

/* `like`: the report_id pattern (query_like_contains), NULL without one. */
static void
dash_reports_filter(struct qb *b, const struct query *q, const char *like)
{
	qb_add(b, " WHERE 1=1");
	dash_reports_where(b, q, "p");
	if (like != NULL) {
		/* evaluated on reports_org_end's entries (it holds report_id):
		 * only matching rows are fetched */
		qb_add(b, " AND p.report_id LIKE ");
		qb_text(b, like);
		qb_add(b, " ESCAPE '\\'");
		if (q->reporter == NULL)
			qb_add(b, " AND p.org_name IN " DASH_ALL_ORGS);
	}
	if (q->source_ip) {
		qb_add(b, " AND EXISTS (SELECT 1 FROM records r WHERE r.report=p.id AND r.source_ip=");
		qb_text(b, q->source_ip);
		qb_add(b, ")");
	}
	/* by messages (reports.msg_fail), not by record rows; both counts
	 * are in reports_org_end, walked reporter by reporter */
	if (q->result && strcmp(q->result, "fail") == 0)
		qb_add(b, " AND p.msg_fail>0");
	else if (q->result)
		qb_add(b, " AND p.msg_fail<p.msg_total");
	if (q->result && like == NULL && q->reporter == NULL)
		qb_add(b, " AND p.org_name IN " DASH_ALL_ORGS);
}

json_t *
query_dash_reports(struct store *st, const struct query *q, struct query_dash_err *err)
{
	sqlite3 *db = dash_db(st, err);
	struct qb b = {0};
	json_t *rows, *cnt, *row;
	json_int_t total = -1;
	char *like = NULL;
	size_t i;

	if (db == NULL || !dash_valid_result(q, err))
		return NULL;
	if (q->report_id != NULL && (like = query_like_contains(q->report_id)) == NULL) {
		dash_seterr(err, QUERY_DASH_FAIL, "out of memory");
		return NULL;
	}
	if (like == NULL) {
		qb_add(&b, "SELECT " DASH_REPORT_COLS " FROM reports p");
		dash_reports_filter(&b, q, NULL);
		qb_add(&b, " ORDER BY p.begin_ts DESC, p.id DESC LIMIT ");
		qb_int(&b, dash_limit(q));
		qb_add(&b, " OFFSET ");
		qb_int(&b, q->offset > 0 ? q->offset : 0);
	} else {
		/* A Report-ID search pages and counts its matches in one pass
		 * over index entries (id and begin_ts are in reports_org_end);
		 * only the page's rows are read whole, so a search that matches
		 * half the reports costs no more than one that matches a few. */
		qb_add(&b, "SELECT " DASH_REPORT_COLS ", m.total_ FROM (SELECT p.id AS mid,"
		    " p.begin_ts AS mb, count(*) OVER () AS total_"
		    " FROM reports p INDEXED BY reports_org_end");
		dash_reports_filter(&b, q, like);
		qb_add(&b, " ORDER BY p.begin_ts DESC, p.id DESC LIMIT ");
		qb_int(&b, dash_limit(q));
		qb_add(&b, " OFFSET ");
		qb_int(&b, q->offset > 0 ? q->offset : 0);
		qb_add(&b, ") m JOIN reports p ON p.id=m.mid ORDER BY m.mb DESC, m.mid DESC");
	}
	if ((rows = dash_query_rows(db, &b, err)) == NULL) {
		free(like);
		return NULL;
	}
	if (like && json_array_size(rows) > 0)
		total = dash_geti(json_array_get(rows, 0), "total_");
	else if (like && q->offset <= 0)
		total = 0;
	if (like)
		json_array_foreach(rows, i, row)
			json_object_del(row, "total_");
	if (total < 0) {
		memset(&b, 0, sizeof(b));
		qb_add(&b, "SELECT count(*) AS n FROM reports p");
		dash_reports_filter(&b, q, like);
		if (q->since && !q->domain && !q->reporter && !like && !q->result)
			/* reporter by reporter through reports_org_end (org_name,
			 * end_ts, begin_ts): only the reports that end after `since` */
			qb_add(&b, " AND p.org_name IN " DASH_ALL_ORGS);
		if ((cnt = dash_query_rows(db, &b, err)) == NULL) {
			json_decref(rows);
			free(like);
			return NULL;
		}
		total = dash_geti(json_array_get(cnt, 0), "n");
		json_decref(cnt);
	}
	free(like);
	return json_pack("{s:o, s:I, s:i, s:i}", "reports", rows, "total", total,
	    "limit", dash_limit(q), "offset", q->offset > 0 ? q->offset : 0);
}

json_t *
query_dash_report(struct store *st, int64_t id, int limit, int offset,
    struct query_dash_err *err)
{
	sqlite3 *db = dash_db(st, err);
	struct qb b = {0};
	json_t *meta, *recs, *ledger, *out;
	struct query lq = {.limit = limit};

	if (db == NULL)
		return NULL;
	qb_add(&b, "SELECT id, kind, org_name AS reporter, org_name_raw, email, extra_contact,"
	    " report_id, report_id_raw, policy_domain AS domain, begin_ts, end_ts, version,"
	    " xml_namespace, generator, errors, warnings, p, sp, np, pct, adkim, aspf, fo,"
	    " testing, discovery_method, n_records AS records, msg_total AS messages,"
	    " content_hash, raw_id IS NOT NULL AS has_raw, imported_at,"
	    " msg_fail AS fail"
	    " FROM reports WHERE id=");
	qb_int(&b, id);
	if ((meta = dash_query_rows(db, &b, err)) == NULL)
		return NULL;
	if (json_array_size(meta) == 0) {
		json_decref(meta);
		dash_seterr(err, QUERY_DASH_NOT_FOUND, "no report %lld", (long long)id);
		return NULL;
	}
	memset(&b, 0, sizeof(b));
	qb_add(&b, "SELECT " RECORD_COLS ", i.ptr AS hostname FROM records r"
	    " LEFT JOIN ip_info i ON i.ip=r.source_ip WHERE r.report=");
	qb_int(&b, id);
	qb_add(&b, " ORDER BY r.count DESC, r.id LIMIT ");
	qb_int(&b, dash_limit(&lq));
	qb_add(&b, " OFFSET ");
	qb_int(&b, offset > 0 ? offset : 0);
	if ((recs = dash_query_rows(db, &b, err)) == NULL) {
		json_decref(meta);
		return NULL;
	}
	memset(&b, 0, sizeof(b));
	qb_add(&b, "SELECT id, ts, source, input, member, status, reason FROM ledger"
	    " WHERE report=");
	qb_int(&b, id);
	qb_add(&b, " ORDER BY id LIMIT 20");
	if ((ledger = dash_query_rows(db, &b, err)) == NULL) {
		json_decref(meta);
		json_decref(recs);
		return NULL;
	}
	out = json_pack("{s:O, s:o, s:o, s:i, s:i}", "report", json_array_get(meta, 0),
	    "records", recs, "ledger", ledger, "limit", dash_limit(&lq),
	    "offset", offset > 0 ? offset : 0);
	json_decref(meta);
	return out;
}

/* ---- ledger ------------------------------------------------------------------- */

static const char *const dash_statuses[] = {"imported", "duplicate", "rejected",
	"not-a-report", "unsupported", "error", NULL};

#define LEDGER_COLS "id, ts, source, input, member, size, status, reason, kind, report"

json_t *
query_dash_ledger(struct store *st, const struct query *q, const char *status,
    struct query_dash_err *err)
{
	sqlite3 *db = dash_db(st, err);
	struct qb b = {0}, w = {0};
	json_t *rows, *counts, *byst, *r;
	json_int_t total = 0;
	size_t i;
	int ok = status == NULL;

	if (db == NULL)
		return NULL;
	for (int k = 0; status && dash_statuses[k]; k++)
		ok |= strcmp(status, dash_statuses[k]) == 0;
	if (!ok) {
		dash_seterr(err, QUERY_DASH_BAD, "unknown status");
		return NULL;
	}
	qb_add(&b, "SELECT " LEDGER_COLS " FROM ledger WHERE 1=1");
	if (status) {
		qb_add(&b, " AND status=");
		qb_text(&b, status);
	}
	if (q->since) {
		qb_add(&b, " AND ts>=");
		qb_int(&b, q->since);
	}
	if (q->until) {
		qb_add(&b, " AND ts<");
		qb_int(&b, q->until);
	}
	qb_add(&b, " ORDER BY id DESC LIMIT ");
	qb_int(&b, dash_limit(q));
	qb_add(&b, " OFFSET ");
	qb_int(&b, q->offset > 0 ? q->offset : 0);
	if ((rows = dash_query_rows(db, &b, err)) == NULL)
		return NULL;
	qb_add(&w, "SELECT status, count(*) AS n FROM ledger WHERE 1=1");
	if (q->since) {
		qb_add(&w, " AND ts>=");
		qb_int(&w, q->since);
	}
	if (q->until) {
		qb_add(&w, " AND ts<");
		qb_int(&w, q->until);
	}
	qb_add(&w, " GROUP BY status");
	if ((counts = dash_query_rows(db, &w, err)) == NULL) {
		json_decref(rows);
		return NULL;
	}
	byst = json_object();
	for (int k = 0; dash_statuses[k]; k++)
		json_object_set_new(byst, dash_statuses[k], json_integer(0));
	json_array_foreach(counts, i, r) {
		const char *s = dash_gets(r, "status");

		if (s) {
			json_object_set_new(byst, s, json_integer(dash_geti(r, "n")));
			if (status == NULL || strcmp(s, status) == 0)
				total += dash_geti(r, "n");
		}
	}
	json_decref(counts);
	return json_pack("{s:o, s:o, s:I, s:i, s:i}", "entries", rows, "counts", byst,
	    "total", total, "limit", dash_limit(q), "offset", q->offset > 0 ? q->offset : 0);
}

json_t *
query_dash_ledger_since(struct store *st, int64_t after_id, struct query_dash_err *err)
{
	sqlite3 *db = dash_db(st, err);
	struct qb b = {0};

	if (db == NULL)
		return NULL;
	qb_add(&b, "SELECT " LEDGER_COLS " FROM ledger WHERE id>");
	qb_int(&b, after_id);
	qb_add(&b, " ORDER BY id LIMIT 10000");
	return dash_query_rows(db, &b, err);
}

int64_t
query_dash_ledger_max(struct store *st, struct query_dash_err *err)
{
	sqlite3 *db = dash_db(st, err);
	sqlite3_stmt *stmt;
	int64_t v = 0;
	int rc;

	if (db == NULL)
		return -1;
	rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(id),0) FROM ledger", -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		dash_dberr(err, db, rc);
		return -1;
	}
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW) {
		dash_dberr(err, db, rc);
		return -1;
	}
	return v;
}

/* ---- raw ---------------------------------------------------------------------- */

int
query_dash_raw(struct store *st, int64_t id, void **data_out, size_t *len_out,
    char *name_out, size_t name_len, struct query_dash_err *err)
{
	sqlite3 *db = dash_db(st, err);
	sqlite3_stmt *stmt;
	int64_t raw = 0;
	int rc;
	const unsigned char *d;
	const char *ext = "bin";

	if (db == NULL)
		return -1;
	rc = sqlite3_prepare_v2(db, "SELECT raw_id FROM reports WHERE id=?1", -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		dash_dberr(err, db, rc);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		raw = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		dash_dberr(err, db, rc);
		return -1;
	}
	if (rc == SQLITE_DONE) {
		dash_seterr(err, QUERY_DASH_NOT_FOUND, "no report %lld", (long long)id);
		return -1;
	}
	if (raw <= 0) {
		dash_seterr(err, QUERY_DASH_NOT_FOUND, "the original of report %lld was not kept",
		    (long long)id);
		return -1;
	}
	if (store_raw_get(st, raw, data_out, len_out) != 0) {
		dash_seterr(err, QUERY_DASH_FAIL, "%s", store_errmsg(st));
		return -1;
	}
	/* Name the download after what it is. */
	d = *data_out;
	if (*len_out >= 2 && d[0] == 0x1f && d[1] == 0x8b)
		ext = "xml.gz";
	else if (*len_out >= 4 && memcmp(d, "PK\x03\x04", 4) == 0)
		ext = "zip";
	else {
		size_t i = 0;

		if (*len_out >= 3 && memcmp(d, "\xef\xbb\xbf", 3) == 0)
			i = 3;
		while (i < *len_out && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
			i++;
		ext = i < *len_out && d[i] == '<' ? "xml" : "eml";
	}
	snprintf(name_out, name_len, "report-%lld.%s", (long long)id, ext);
	return 0;
}

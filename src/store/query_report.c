/*
 * query_report.c - the read queries of query.h: summaries from the per-day
 * rollup, the reports list, one report in full, the ingest ledger.
 *
 * Every function builds one SQL statement from fixed fragments (filters and
 * sort columns are chosen from whitelists, values are always bound), runs it
 * on the store's SQLite handle and returns a new jansson value that the
 * caller owns.  Errors: NULL with a reason in store_errmsg().
 *
 * Counts are messages (sum of `count`), percentages are of messages,
 * rounded to one decimal here so the CLI and the web show the same number.
 * Summaries read only `daily`, through its primary key (policy_domain, day,
 * ...): without a domain filter, per domain (QR_DOMAINS);
 * query_report reads one report's records, which can be many: its size is
 * bounded only by the report (and by limits.max_records at import).
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/query.h"
#include "store/store_impl.h"

#define QR_DAY 86400

/* SQL under construction plus the values to bind, in order */
struct qr_sql {
	char text[4096];
	size_t len;
	int overflow;
	int n;
	struct {
		const char *s;      /* text when non-NULL, else i */
		int64_t i;
	} arg[16];
};

static void
qr_add(struct qr_sql *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
qr_add(struct qr_sql *q, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(q->text + q->len, sizeof q->text - q->len, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof q->text - q->len)
		q->overflow = 1;
	else
		q->len += (size_t)r;
}

static void
qr_arg_text(struct qr_sql *q, const char *s)
{
	if (q->n >= (int)(sizeof q->arg / sizeof q->arg[0])) {
		q->overflow = 1;
		return;
	}
	q->arg[q->n].s = s;
	q->arg[q->n].i = 0;
	q->n++;
}

static void
qr_arg_int(struct qr_sql *q, int64_t i)
{
	if (q->n >= (int)(sizeof q->arg / sizeof q->arg[0])) {
		q->overflow = 1;
		return;
	}
	q->arg[q->n].s = NULL;
	q->arg[q->n].i = i;
	q->n++;
}

/* " WHERE " the first time, " AND " after */
static void
qr_cond(struct qr_sql *q, int *first, const char *cond)
{
	qr_add(q, "%s%s", *first ? " WHERE " : " AND ", cond);
	*first = 0;
}

static void
qr_limit(struct qr_sql *q, const struct query *f)
{
	qr_add(q, " LIMIT ? OFFSET ?");
	qr_arg_int(q, f->limit > 0 ? f->limit : -1);
	qr_arg_int(q, f->offset > 0 ? f->offset : 0);
}

static sqlite3_stmt *
qr_prepare(struct store *st, struct qr_sql *q)
{
	sqlite3 *db = store_sqlite_handle(st);
	sqlite3_stmt *stmt;
	int i, rc;

	if (db == NULL) {
		store_seterr(st, "queries need the SQLite backend");
		return NULL;
	}
	if (q->overflow) {
		store_seterr(st, "query too long");
		return NULL;
	}
	rc = sqlite3_prepare_v2(db, q->text, (int)q->len, &stmt, NULL);
	if (rc != SQLITE_OK) {
		store_seterr(st, "query: %s", sqlite3_errmsg(db));
		return NULL;
	}
	for (i = 0; i < q->n; i++) {
		if (q->arg[i].s != NULL)
			sqlite3_bind_text(stmt, i + 1, q->arg[i].s, -1,
			    SQLITE_STATIC);
		else
			sqlite3_bind_int64(stmt, i + 1, q->arg[i].i);
	}
	return stmt;
}

/* finishes a stepping loop: NULL + error unless it ended with DONE */
static json_t *
qr_finish(struct store *st, sqlite3_stmt *stmt, int rc, json_t *out)
{
	if (rc != SQLITE_DONE) {
		int prim = rc & 0xff;
		if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
			store_seterr(st, "query: database is locked");
		else
			store_seterr(st, "query: %s",
			    sqlite3_errmsg(sqlite3_db_handle(stmt)));
		json_decref(out);
		out = NULL;
	}
	sqlite3_finalize(stmt);
	return out;
}

/* column as a JSON string, null when SQL NULL */
static json_t *
qr_str(sqlite3_stmt *stmt, int col)
{
	const unsigned char *s = sqlite3_column_text(stmt, col);

	return s ? json_string((const char *)s) : json_null();
}

static json_t *
qr_int(sqlite3_stmt *stmt, int col)
{
	if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
		return json_null();
	return json_integer(sqlite3_column_int64(stmt, col));
}

static json_t *
qr_hex(sqlite3_stmt *stmt, int col)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *p = sqlite3_column_blob(stmt, col);
	int i, n = sqlite3_column_bytes(stmt, col);
	char buf[129];

	if (p == NULL || n <= 0)
		return json_null();
	if (n > 64)
		n = 64;
	for (i = 0; i < n; i++) {
		buf[2 * i] = hx[p[i] >> 4];
		buf[2 * i + 1] = hx[p[i] & 15];
	}
	buf[2 * n] = '\0';
	return json_string(buf);
}

/* a JSON-array text column parsed back (null when NULL or not JSON) */
static json_t *
qr_json(sqlite3_stmt *stmt, int col)
{
	const char *s = (const char *)sqlite3_column_text(stmt, col);
	json_t *v;

	if (s == NULL)
		return json_array();
	v = json_loads(s, 0, NULL);
	return v ? v : json_array();
}

/* part of whole in percent, one decimal */
static double
qr_pct(int64_t part, int64_t whole)
{
	if (whole <= 0)
		return 0.0;
	return round((double)part * 1000.0 / (double)whole) / 10.0;
}

static void
qr_date(char buf[16], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, 16, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, 16, "?");
}

/* ---- summary --------------------------------------------------------- */

struct qr_by {
	const char *name;       /* the `by` argument */
	const char *key;        /* JSON name of the group column */
	const char *expr;       /* SQL of the group column */
};

static const struct qr_by qr_bys[] = {
	{ "domain", "domain", "d.policy_domain" },
	{ "source", "source_ip", "d.source_ip" },
	{ "reporter", "reporter", "d.org_name" },
	{ "day", "day", "d.day" },
};

/* sortable summary columns (SQL over the aggregate aliases) */
static const struct {
	const char *name, *expr;
} qr_summary_sorts[] = {
	{ "messages", "messages" },
	{ "dmarc_pass", "pass" },
	{ "dmarc_fail", "messages-pass" },
	{ "pass_pct", "pass*1.0/messages" },
	{ "spf_aligned", "spf" },
	{ "spf_aligned_pct", "spf*1.0/messages" },
	{ "dkim_aligned", "dkim" },
	{ "dkim_aligned_pct", "dkim*1.0/messages" },
	{ "none", "d_none" },
	{ "quarantine", "d_quarantine" },
	{ "reject", "d_reject" },
	{ "disposition_pass", "d_pass" },
};

#define QR_PASS "(d.dkim_eval='pass' OR d.spf_eval='pass')"
/* the distinct policy domains of daily, one primary-key seek each */
#define QR_DOMAINS "WITH RECURSIVE qr_dom(v) AS (SELECT min(policy_domain) " \
	"FROM daily UNION ALL SELECT (SELECT min(policy_domain) FROM daily " \
	"WHERE policy_domain>qr_dom.v) FROM qr_dom WHERE qr_dom.v IS NOT NULL) " \
	"SELECT v FROM qr_dom WHERE v IS NOT NULL"

/* adds the daily filters of q; returns -1 on a bad filter value */
static int
qr_daily_where(struct store *st, struct qr_sql *s, const struct query *q)
{
	int first = 1;

	if (q->domain) {
		qr_cond(s, &first, "d.policy_domain=?");
		qr_arg_text(s, q->domain);
	} else if (q->since || q->until || q->source_ip) {
		/* daily has no index but its key (policy_domain, day, ...):
		 * list the few domains by skipping through the key, then
		 * search each one's day range */
		qr_cond(s, &first, "d.policy_domain IN (" QR_DOMAINS ")");
	}
	if (q->reporter) {
		qr_cond(s, &first, "d.org_name=? COLLATE NOCASE");
		qr_arg_text(s, q->reporter);
	}
	if (q->source_ip) {
		qr_cond(s, &first, "d.source_ip=?");
		qr_arg_text(s, q->source_ip);
	}
	if (q->result) {
		if (strcmp(q->result, "pass") == 0)
			qr_cond(s, &first, QR_PASS);
		else if (strcmp(q->result, "fail") == 0)
			qr_cond(s, &first, "NOT " QR_PASS);
		else
			return store_seterr(st, "result must be pass or fail, "
			    "not \"%s\"", q->result);
	}
	/* day-granular: every day that overlaps [since, until) */
	if (q->since) {
		qr_cond(s, &first, "d.day>?");
		qr_arg_int(s, q->since - QR_DAY);
	}
	if (q->until) {
		qr_cond(s, &first, "d.day<?");
		qr_arg_int(s, q->until);
	}
	return 0;
}

json_t *
query_summary(struct store *st, const struct query *q, const char *by)
{
	static const struct query none;
	const struct qr_by *b = NULL;
	struct qr_sql *s;
	sqlite3_stmt *stmt = NULL;
	json_t *out = NULL;
	size_t i;
	int rc, is_source, is_day;

	if (q == NULL)
		q = &none;
	for (i = 0; i < sizeof qr_bys / sizeof qr_bys[0]; i++)
		if (by != NULL && strcmp(by, qr_bys[i].name) == 0)
			b = &qr_bys[i];
	if (b == NULL) {
		store_seterr(st, "summary by \"%s\": use domain, source, "
		    "reporter or day", by ? by : "");
		return NULL;
	}
	is_source = strcmp(b->name, "source") == 0;
	is_day = strcmp(b->name, "day") == 0;
	s = calloc(1, sizeof *s);
	if (s == NULL) {
		store_seterr(st, "out of memory");
		return NULL;
	}
	qr_add(s, "SELECT k, messages, pass, spf, dkim, d_none, d_quarantine, "
	    "d_reject, d_pass, d_unknown%s FROM (SELECT %s AS k, "
	    "sum(d.messages) AS messages, "
	    "sum(CASE WHEN " QR_PASS " THEN d.messages ELSE 0 END) AS pass, "
	    "sum(CASE WHEN d.spf_eval='pass' THEN d.messages ELSE 0 END) AS spf, "
	    "sum(CASE WHEN d.dkim_eval='pass' THEN d.messages ELSE 0 END) AS dkim, "
	    "sum(CASE d.disposition WHEN 'none' THEN d.messages ELSE 0 END) "
	    "AS d_none, "
	    "sum(CASE d.disposition WHEN 'quarantine' THEN d.messages ELSE 0 END) "
	    "AS d_quarantine, "
	    "sum(CASE d.disposition WHEN 'reject' THEN d.messages ELSE 0 END) "
	    "AS d_reject, "
	    "sum(CASE d.disposition WHEN 'pass' THEN d.messages ELSE 0 END) "
	    "AS d_pass, "
	    "sum(CASE WHEN d.disposition NOT IN ('none','quarantine','reject',"
	    "'pass') THEN d.messages ELSE 0 END) AS d_unknown "
	    "FROM daily d",
	    is_source ? ", i.ptr, i.country, i.asn, i.as_name" : "", b->expr);
	if (qr_daily_where(st, s, q) != 0)
		goto done;
	qr_add(s, " GROUP BY k) g");
	if (is_source)
		qr_add(s, " LEFT JOIN ip_info i ON i.ip=g.k");
	if (q->sort == NULL) {
		qr_add(s, is_day ? " ORDER BY k" : " ORDER BY messages DESC, k");
	} else {
		const char *expr = NULL;
		if (strcmp(q->sort, b->key) == 0 || strcmp(q->sort, b->name) == 0)
			expr = "k";
		for (i = 0; expr == NULL && i < sizeof qr_summary_sorts /
		    sizeof qr_summary_sorts[0]; i++)
			if (strcmp(q->sort, qr_summary_sorts[i].name) == 0)
				expr = qr_summary_sorts[i].expr;
		if (expr == NULL) {
			store_seterr(st, "cannot sort a summary by \"%s\"",
			    q->sort);
			goto done;
		}
		qr_add(s, " ORDER BY %s %s, k", expr, q->desc ? "DESC" : "ASC");
	}
	qr_limit(s, q);
	if ((stmt = qr_prepare(st, s)) == NULL)
		goto done;
	out = json_array();
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		json_t *row = json_object();
		int64_t msgs = sqlite3_column_int64(stmt, 1);
		int64_t pass = sqlite3_column_int64(stmt, 2);
		int64_t spf = sqlite3_column_int64(stmt, 3);
		int64_t dkim = sqlite3_column_int64(stmt, 4);

		if (is_day) {
			char date[16];
			int64_t day = sqlite3_column_int64(stmt, 0);
			qr_date(date, day);
			json_object_set_new(row, "day", json_integer(day));
			json_object_set_new(row, "date", json_string(date));
		} else {
			json_object_set_new(row, b->key, qr_str(stmt, 0));
		}
		json_object_set_new(row, "messages", json_integer(msgs));
		json_object_set_new(row, "dmarc_pass", json_integer(pass));
		json_object_set_new(row, "dmarc_fail", json_integer(msgs - pass));
		json_object_set_new(row, "pass_pct", json_real(qr_pct(pass, msgs)));
		json_object_set_new(row, "spf_aligned", json_integer(spf));
		json_object_set_new(row, "spf_aligned_pct",
		    json_real(qr_pct(spf, msgs)));
		json_object_set_new(row, "dkim_aligned", json_integer(dkim));
		json_object_set_new(row, "dkim_aligned_pct",
		    json_real(qr_pct(dkim, msgs)));
		json_object_set_new(row, "none", qr_int(stmt, 5));
		json_object_set_new(row, "quarantine", qr_int(stmt, 6));
		json_object_set_new(row, "reject", qr_int(stmt, 7));
		json_object_set_new(row, "disposition_pass", qr_int(stmt, 8));
		json_object_set_new(row, "disposition_unknown", qr_int(stmt, 9));
		if (is_source) {
			json_object_set_new(row, "ptr", qr_str(stmt, 10));
			json_object_set_new(row, "country", qr_str(stmt, 11));
			json_object_set_new(row, "asn", qr_int(stmt, 12));
			json_object_set_new(row, "as_name", qr_str(stmt, 13));
		}
		json_array_append_new(out, row);
	}
	out = qr_finish(st, stmt, rc, out);
done:
	free(s);
	return out;
}

/* ---- reports list ---------------------------------------------------- */

static const struct {
	const char *name, *expr;
} qr_report_sorts[] = {
	{ "begin", "r.begin_ts" },
	{ "end", "r.end_ts" },
	{ "id", "r.id" },
	{ "org_name", "r.org_name COLLATE NOCASE" },
	{ "reporter", "r.org_name COLLATE NOCASE" },
	{ "policy_domain", "r.policy_domain" },
	{ "domain", "r.policy_domain" },
	{ "report_id", "r.report_id" },
	{ "n_records", "r.n_records" },
	{ "msg_total", "r.msg_total" },
	{ "messages", "r.msg_total" },
	{ "imported_at", "r.imported_at" },
};

char *
query_like_contains(const char *s)
{
	size_t n = strlen(s), i, o = 0;
	char *p = malloc(2 * n + 3);

	if (p == NULL)
		return NULL;
	p[o++] = '%';
	for (i = 0; i < n; i++) {
		if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
			p[o++] = '\\';
		p[o++] = s[i];
	}
	p[o++] = '%';
	p[o] = '\0';
	return p;
}

json_t *
query_reports(struct store *st, const struct query *q)
{
	static const struct query none;
	struct qr_sql *s;
	sqlite3_stmt *stmt = NULL;
	json_t *out = NULL;
	const char *order = "r.begin_ts";
	const char *dir = "DESC";
	char *like = NULL;
	size_t i;
	int rc, first = 1;

	if (q == NULL)
		q = &none;
	if (q->sort != NULL) {
		order = NULL;
		for (i = 0; i < sizeof qr_report_sorts / sizeof qr_report_sorts[0];
		    i++)
			if (strcmp(q->sort, qr_report_sorts[i].name) == 0)
				order = qr_report_sorts[i].expr;
		if (order == NULL) {
			store_seterr(st, "cannot sort reports by \"%s\"", q->sort);
			return NULL;
		}
		dir = q->desc ? "DESC" : "ASC";
	}
	if (q->result && strcmp(q->result, "pass") != 0 &&
	    strcmp(q->result, "fail") != 0) {
		store_seterr(st, "result must be pass or fail, not \"%s\"",
		    q->result);
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		store_seterr(st, "out of memory");
		return NULL;
	}
	qr_add(s, "SELECT r.id, r.org_name, r.report_id, r.policy_domain, "
	    "r.begin_ts, r.end_ts, r.n_records, r.msg_total, "
	    "coalesce(json_array_length(r.warnings),0), "
	    "coalesce(json_array_length(r.errors),0), r.imported_at, r.raw_id, "
	    "r.p FROM reports r");
	if (q->domain) {
		qr_cond(s, &first, "r.policy_domain=?");
		qr_arg_text(s, q->domain);
	}
	if (q->reporter) {
		qr_cond(s, &first, "r.org_name=? COLLATE NOCASE");
		qr_arg_text(s, q->reporter);
	}
	if (q->source_ip) {
		qr_cond(s, &first, "EXISTS (SELECT 1 FROM records x WHERE "
		    "x.report=r.id AND x.source_ip=?)");
		qr_arg_text(s, q->source_ip);
	}
	if (q->result) {
		/* reports with messages of that verdict (reports.msg_fail) */
		qr_cond(s, &first, strcmp(q->result, "pass") == 0 ?
		    "r.msg_fail<r.msg_total" : "r.msg_fail>0");
	}
	if (q->report_id) {
		qr_cond(s, &first, "r.report_id LIKE ? ESCAPE '\\'");
		if ((like = query_like_contains(q->report_id)) == NULL) {
			store_seterr(st, "out of memory");
			goto done;
		}
		qr_arg_text(s, like);
	}
	/* reports whose range overlaps [since, until) */
	if (q->since) {
		qr_cond(s, &first, "r.end_ts>?");
		qr_arg_int(s, q->since);
	}
	if (q->until) {
		qr_cond(s, &first, "r.begin_ts<?");
		qr_arg_int(s, q->until);
	}
	qr_add(s, " ORDER BY %s %s, r.id %s", order, dir, dir);
	qr_limit(s, q);
	if ((stmt = qr_prepare(st, s)) == NULL)
		goto done;
	out = json_array();
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		json_t *row = json_object();
		json_object_set_new(row, "id", qr_int(stmt, 0));
		json_object_set_new(row, "org_name", qr_str(stmt, 1));
		json_object_set_new(row, "report_id", qr_str(stmt, 2));
		json_object_set_new(row, "policy_domain", qr_str(stmt, 3));
		json_object_set_new(row, "begin", qr_int(stmt, 4));
		json_object_set_new(row, "end", qr_int(stmt, 5));
		json_object_set_new(row, "n_records", qr_int(stmt, 6));
		json_object_set_new(row, "msg_total", qr_int(stmt, 7));
		json_object_set_new(row, "n_warnings", qr_int(stmt, 8));
		json_object_set_new(row, "n_errors", qr_int(stmt, 9));
		json_object_set_new(row, "imported_at", qr_int(stmt, 10));
		json_object_set_new(row, "raw_id", qr_int(stmt, 11));
		json_object_set_new(row, "p", qr_str(stmt, 12));
		json_array_append_new(out, row);
	}
	out = qr_finish(st, stmt, rc, out);
done:
	free(like);
	free(s);
	return out;
}

/* ---- one report ------------------------------------------------------ */

static sqlite3_stmt *
qr_prepare_id(struct store *st, const char *sql, int64_t id)
{
	struct qr_sql s;

	memset(&s, 0, sizeof s);
	qr_add(&s, "%s", sql);
	qr_arg_int(&s, id);
	return qr_prepare(st, &s);
}

/*
 * Attaches child rows (ordered by record id) to the record objects (ordered
 * by id) under `name`: one merge pass, O(records + children).
 */
static int
qr_attach(struct store *st, json_t *records, const char *sql, int64_t id,
    const char *name, const char *const *cols, int ncols)
{
	sqlite3_stmt *stmt = qr_prepare_id(st, sql, id);
	size_t at = 0, n = json_array_size(records);
	int rc, c;

	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t rec = sqlite3_column_int64(stmt, 0);
		json_t *o, *child;

		while (at < n && json_integer_value(json_object_get(
		    json_array_get(records, at), "id")) < rec)
			at++;
		if (at == n)
			break;
		o = json_array_get(records, at);
		if (json_integer_value(json_object_get(o, "id")) != rec)
			continue;
		child = json_object();
		for (c = 0; c < ncols; c++)
			json_object_set_new(child, cols[c], qr_str(stmt, c + 1));
		json_array_append_new(json_object_get(o, name), child);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_seterr(st, "query: %s",
		    sqlite3_errmsg(sqlite3_db_handle(stmt)));
		sqlite3_finalize(stmt);
		return -1;
	}
	sqlite3_finalize(stmt);
	return 0;
}

json_t *
query_report(struct store *st, int64_t id)
{
	static const char *const reason_cols[] = { "type", "type_raw", "comment" };
	static const char *const dkim_cols[] = { "domain", "selector", "result",
	    "result_raw", "human_result" };
	static const char *const spf_cols[] = { "domain", "scope", "result",
	    "result_raw", "human_result" };
	sqlite3_stmt *stmt;
	json_t *out = NULL, *pol, *records, *ledger;
	int rc;

	stmt = qr_prepare_id(st, "SELECT id, kind, org_name, org_name_raw, "
	    "email, extra_contact, report_id, report_id_raw, policy_domain, "
	    "begin_ts, end_ts, version, xml_namespace, generator, errors, "
	    "warnings, extensions, p, sp, np, pct, adkim, aspf, fo, testing, "
	    "discovery_method, n_records, msg_total, content_hash, raw_id, "
	    "imported_at FROM reports WHERE id=?", id);
	if (stmt == NULL)
		return NULL;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			store_seterr(st, "report %" PRId64 ": no such report", id);
		else
			store_seterr(st, "query: %s",
			    sqlite3_errmsg(sqlite3_db_handle(stmt)));
		sqlite3_finalize(stmt);
		return NULL;
	}
	out = json_object();
	json_object_set_new(out, "id", qr_int(stmt, 0));
	json_object_set_new(out, "kind", qr_str(stmt, 1));
	json_object_set_new(out, "org_name", qr_str(stmt, 2));
	json_object_set_new(out, "org_name_raw", qr_str(stmt, 3));
	json_object_set_new(out, "email", qr_str(stmt, 4));
	json_object_set_new(out, "extra_contact", qr_str(stmt, 5));
	json_object_set_new(out, "report_id", qr_str(stmt, 6));
	json_object_set_new(out, "report_id_raw", qr_str(stmt, 7));
	json_object_set_new(out, "policy_domain", qr_str(stmt, 8));
	json_object_set_new(out, "begin", qr_int(stmt, 9));
	json_object_set_new(out, "end", qr_int(stmt, 10));
	json_object_set_new(out, "version", qr_str(stmt, 11));
	json_object_set_new(out, "xml_namespace", qr_str(stmt, 12));
	json_object_set_new(out, "generator", qr_str(stmt, 13));
	json_object_set_new(out, "errors", qr_json(stmt, 14));
	json_object_set_new(out, "warnings", qr_json(stmt, 15));
	json_object_set_new(out, "extensions", qr_str(stmt, 16));
	pol = json_object();
	json_object_set_new(pol, "domain", qr_str(stmt, 8));
	json_object_set_new(pol, "p", qr_str(stmt, 17));
	json_object_set_new(pol, "sp", qr_str(stmt, 18));
	json_object_set_new(pol, "np", qr_str(stmt, 19));
	json_object_set_new(pol, "pct", qr_int(stmt, 20));
	json_object_set_new(pol, "adkim", qr_str(stmt, 21));
	json_object_set_new(pol, "aspf", qr_str(stmt, 22));
	json_object_set_new(pol, "fo", qr_str(stmt, 23));
	json_object_set_new(pol, "testing", qr_str(stmt, 24));
	json_object_set_new(pol, "discovery_method", qr_str(stmt, 25));
	json_object_set_new(out, "policy_published", pol);
	json_object_set_new(out, "n_records", qr_int(stmt, 26));
	json_object_set_new(out, "msg_total", qr_int(stmt, 27));
	json_object_set_new(out, "content_hash", qr_hex(stmt, 28));
	json_object_set_new(out, "raw_id", qr_int(stmt, 29));
	json_object_set_new(out, "imported_at", qr_int(stmt, 30));
	sqlite3_finalize(stmt);

	records = json_array();
	json_object_set_new(out, "records", records);
	stmt = qr_prepare_id(st, "SELECT id, source_ip, source_ip_raw, count, "
	    "disposition, disposition_raw, dkim_eval, dkim_raw, spf_eval, "
	    "spf_raw, dmarc, header_from, envelope_from, envelope_to, "
	    "extensions FROM records WHERE report=? ORDER BY id", id);
	if (stmt == NULL)
		goto fail;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		json_t *r = json_object();
		json_object_set_new(r, "id", qr_int(stmt, 0));
		json_object_set_new(r, "source_ip", qr_str(stmt, 1));
		json_object_set_new(r, "source_ip_raw", qr_str(stmt, 2));
		json_object_set_new(r, "count", qr_int(stmt, 3));
		json_object_set_new(r, "disposition", qr_str(stmt, 4));
		json_object_set_new(r, "disposition_raw", qr_str(stmt, 5));
		json_object_set_new(r, "dkim", qr_str(stmt, 6));
		json_object_set_new(r, "dkim_raw", qr_str(stmt, 7));
		json_object_set_new(r, "spf", qr_str(stmt, 8));
		json_object_set_new(r, "spf_raw", qr_str(stmt, 9));
		json_object_set_new(r, "dmarc", qr_str(stmt, 10));
		json_object_set_new(r, "header_from", qr_str(stmt, 11));
		json_object_set_new(r, "envelope_from", qr_str(stmt, 12));
		json_object_set_new(r, "envelope_to", qr_str(stmt, 13));
		json_object_set_new(r, "extensions", qr_str(stmt, 14));
		json_object_set_new(r, "reasons", json_array());
		json_object_set_new(r, "dkim_results", json_array());
		json_object_set_new(r, "spf_results", json_array());
		json_array_append_new(records, r);
	}
	if (qr_finish(st, stmt, rc, json_null()) == NULL)
		goto fail;
	if (qr_attach(st, records, "SELECT record, type, type_raw, comment "
	    "FROM record_reasons WHERE record IN (SELECT id FROM records WHERE "
	    "report=?) ORDER BY record, n", id, "reasons", reason_cols, 3) ||
	    qr_attach(st, records, "SELECT record, domain, selector, result, "
	    "result_raw, human_result FROM record_dkim WHERE record IN (SELECT "
	    "id FROM records WHERE report=?) ORDER BY record, n", id,
	    "dkim_results", dkim_cols, 5) ||
	    qr_attach(st, records, "SELECT record, domain, scope, result, "
	    "result_raw, human_result FROM record_spf WHERE record IN (SELECT "
	    "id FROM records WHERE report=?) ORDER BY record, n", id,
	    "spf_results", spf_cols, 5))
		goto fail;

	ledger = json_array();
	json_object_set_new(out, "ledger", ledger);
	stmt = qr_prepare_id(st, "SELECT id, ts, source, input, member, status "
	    "FROM ledger WHERE report=? ORDER BY ts, id", id);
	if (stmt == NULL)
		goto fail;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		json_t *l = json_object();
		json_object_set_new(l, "id", qr_int(stmt, 0));
		json_object_set_new(l, "ts", qr_int(stmt, 1));
		json_object_set_new(l, "source", qr_str(stmt, 2));
		json_object_set_new(l, "input", qr_str(stmt, 3));
		json_object_set_new(l, "member", qr_str(stmt, 4));
		json_object_set_new(l, "status", qr_str(stmt, 5));
		json_array_append_new(ledger, l);
	}
	if (qr_finish(st, stmt, rc, json_null()) == NULL)
		goto fail;
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* ---- ledger ---------------------------------------------------------- */

json_t *
query_ledger(struct store *st, const struct query *q, const char *status)
{
	static const struct query none;
	struct qr_sql s;
	sqlite3_stmt *stmt;
	json_t *out;
	int rc, first = 1;

	if (q == NULL)
		q = &none;
	memset(&s, 0, sizeof s);
	qr_add(&s, "SELECT id, ts, source, input, member, size, sha256, status, "
	    "reason, kind, report, raw_id FROM ledger");
	if (status) {
		qr_cond(&s, &first, "status=?");
		qr_arg_text(&s, status);
	}
	if (q->since) {
		qr_cond(&s, &first, "ts>=?");
		qr_arg_int(&s, q->since);
	}
	if (q->until) {
		qr_cond(&s, &first, "ts<?");
		qr_arg_int(&s, q->until);
	}
	qr_add(&s, " ORDER BY ts DESC, id DESC");
	qr_limit(&s, q);
	if ((stmt = qr_prepare(st, &s)) == NULL)
		return NULL;
	out = json_array();
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		json_t *l = json_object();
		json_object_set_new(l, "id", qr_int(stmt, 0));
		json_object_set_new(l, "ts", qr_int(stmt, 1));
		json_object_set_new(l, "source", qr_str(stmt, 2));
		json_object_set_new(l, "input", qr_str(stmt, 3));
		json_object_set_new(l, "member", qr_str(stmt, 4));
		json_object_set_new(l, "size", qr_int(stmt, 5));
		json_object_set_new(l, "sha256", qr_hex(stmt, 6));
		json_object_set_new(l, "status", qr_str(stmt, 7));
		json_object_set_new(l, "reason", qr_str(stmt, 8));
		json_object_set_new(l, "kind", qr_str(stmt, 9));
		json_object_set_new(l, "report", qr_int(stmt, 10));
		json_object_set_new(l, "raw_id", qr_int(stmt, 11));
		json_array_append_new(out, l);
	}
	return qr_finish(st, stmt, rc, out);
}

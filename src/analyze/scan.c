/*
 * scan.c - reads records (joined with their report, DKIM/SPF results and
 * override reasons) and classifies each one.  Public: scan_records.
 *
 * One SQL statement returns every record with its auth results folded
 * into one string (records.auth, written with the record: DKIM results,
 * 0x1e, SPF results, 0x1e, reason types; tab between domain and result,
 * newline between results), so there is a single pass over `records` and
 * `reports`.  Rows without records.auth (inserted by other means) get the
 * same string from the child tables (group_concat, as store_sqlite.c's
 * migration 4 computes it).  What is known about each (source IP, policy domain) is
 * looked up once and cached for the scan: ip_info row, catalog service of
 * the host name / ASN, the user's source rules.
 * Limits: 32 DKIM / SPF results and 16 reasons per record are considered
 * (the parser's limits are lower in practice).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/amap.h"
#include "analyze/analyze.h"
#include "analyze/catalog.h"
#include "analyze/scan.h"
#include "lib/xalloc.h"

#define SCAN_AUTH_MAX 32
#define SCAN_REASONS_MAX 16

static const char scan_sql[] =
	"SELECT r.id, r.source_ip, r.count, r.dmarc, r.dkim_eval, r.spf_eval, "
	"r.header_from, r.disposition, rep.policy_domain, rep.adkim, rep.aspf, "
	"rep.begin_ts, rep.end_ts, rep.org_name, rep.p, rep.sp, rep.np, rep.pct, "
	"rep.testing, r.report, "
	"coalesce(r.auth, "
	"  coalesce((SELECT group_concat(coalesce(domain,'') || char(9) || result, char(10)) "
	"    FROM record_dkim WHERE record = r.id), '') || char(30) || "
	"  coalesce((SELECT group_concat(coalesce(domain,'') || char(9) || result, char(10)) "
	"    FROM record_spf WHERE record = r.id), '') || char(30) || "
	"  coalesce((SELECT group_concat(type, char(10)) FROM record_reasons "
	"    WHERE record = r.id), '')) "
	"FROM records r JOIN reports rep ON rep.id = r.report "
	"WHERE (?1 IS NULL OR rep.policy_domain = ?1) "
	"AND (?2 = 0 OR rep.end_ts > ?2) AND (?3 = 0 OR rep.begin_ts < ?3) "
	"AND (?4 IS NULL OR r.source_ip = ?4) AND (?5 IS NULL OR rep.org_name = ?5)";

static const char scan_ipinfo_sql[] =
	"SELECT ptr, ptr_status, fcrdns, base_domain, asn, as_name, country, resolved_at "
	"FROM ip_info WHERE ip = ?";

static char *
scan_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL && *t ? xstrdup((const char *)t) : NULL;
}

static void
scan_source_free(struct scan_source *x)
{
	if (x->next != NULL)
		scan_source_free(x->next);
	free(x->domain);
	free(x->ip);
	free(x->ptr);
	free(x->ptr_status);
	free(x->base_domain);
	free(x->as_name);
	free(x->country);
	free(x);
}

static struct scan_source *
scan_source_load(sqlite3_stmt *q, const struct catalog *cat, const struct userrules *rules,
    const char *ip, const char *domain)
{
	struct scan_source *x = xcalloc(1, sizeof(*x));
	const struct catalog_service *svc = NULL;

	x->ip = xstrdup(ip);
	x->domain = xstrdup(domain);
	x->cs.ip = x->ip;
	x->cs.fcrdns = -1;
	x->cs.pending = 1;
	if (q != NULL) {
		sqlite3_reset(q);
		sqlite3_bind_text(q, 1, ip, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(q) == SQLITE_ROW) {
			x->ptr = scan_dup(q, 0);
			x->ptr_status = scan_dup(q, 1);
			if (sqlite3_column_type(q, 2) != SQLITE_NULL)
				x->cs.fcrdns = sqlite3_column_int(q, 2);
			x->base_domain = scan_dup(q, 3);
			x->asn = sqlite3_column_int64(q, 4);
			x->as_name = scan_dup(q, 5);
			x->country = scan_dup(q, 6);
			x->resolved_at = sqlite3_column_int64(q, 7);
			x->cs.pending = x->ptr_status == NULL || strcmp(x->ptr_status, "pending") == 0;
		}
	}
	x->cs.ptr = x->ptr;
	x->cs.base_domain = x->base_domain;
	if (x->ptr != NULL && x->cs.fcrdns != 0)
		svc = catalog_by_host(cat, x->ptr);
	if (svc == NULL && x->asn > 0)
		svc = catalog_by_asn(cat, (uint32_t)x->asn);
	x->cs.service = svc;
	userrules_match_init(&x->cs.rules);
	if (rules != NULL)
		userrules_match_source(rules, domain, ip, x->ptr, svc ? svc->id : NULL, &x->cs.rules);
	return x;
}

/* Splits "d\tr\nd\tr" (modified in place) into auth pairs. */
static size_t
scan_auth(char *s, struct classify_auth *a, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	if (s == NULL)
		return 0;
	for (char *line = strtok_r(s, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		if (tab == NULL)
			continue;
		*tab = '\0';
		a[n].domain = line;
		a[n].result = tab + 1;
		n++;
	}
	return n;
}

static size_t
scan_reasons(char *s, const char **v, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	if (s == NULL)
		return 0;
	for (char *t = strtok_r(s, "\n", &save); t && n < max; t = strtok_r(NULL, "\n", &save))
		v[n++] = t;
	return n;
}

/* Cuts "dkim 0x1e spf 0x1e reasons" (modified in place) into its parts. */
static void
scan_sections(char *s, char *sec[3])
{
	for (int i = 0; i < 3 && s != NULL; i++) {
		char *e = strchr(s, '\x1e');

		sec[i] = s;
		if (e != NULL)
			*e++ = '\0';
		s = e;
	}
}

static const char *
scan_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL ? (const char *)t : NULL;
}

/* Copies column i into buf (NULL when NULL / too long). */
static char *
scan_copy(sqlite3_stmt *s, int i, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	int n = sqlite3_column_bytes(s, i);

	if (t == NULL || n <= 0)
		return NULL;
	if ((size_t)n >= len)
		n = (int)len - 1;
	memcpy(buf, t, (size_t)n);
	buf[n] = '\0';
	return buf;
}

int64_t
scan_records(sqlite3 *db, const struct scan_filter *f, scan_fn fn, void *arg,
    char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL, *q = NULL;
	struct userrules *rules = NULL;
	const struct catalog *cat = catalog_default();
	struct classify_ctx ctx;
	struct amap *cache = amap_new(1024);
	char abuf[8192 + 8192 + 1024];
	struct classify_auth dk[SCAN_AUTH_MAX], sp[SCAN_AUTH_MAX];
	const char *rs[SCAN_REASONS_MAX];
	int64_t n = 0;
	int rc;

	if (userrules_load(db, &rules, err, errlen) != 0)
		rules = userrules_empty();
	ctx.cat = cat;
	ctx.rules = rules;
	if (sqlite3_prepare_v2(db, scan_sql, -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "records: %s", sqlite3_errmsg(db));
		n = -1;
		goto done;
	}
	/* ip_info may be missing in an old database: then all sources are pending. */
	if (sqlite3_prepare_v2(db, scan_ipinfo_sql, -1, &q, NULL) != SQLITE_OK)
		q = NULL;
	if (f->domain)
		sqlite3_bind_text(s, 1, f->domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, f->since);
	sqlite3_bind_int64(s, 3, f->until);
	if (f->source_ip)
		sqlite3_bind_text(s, 4, f->source_ip, -1, SQLITE_STATIC);
	if (f->reporter)
		sqlite3_bind_text(s, 5, f->reporter, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct classify_input in;
		struct classify_result res;
		struct scan_row row;
		struct scan_source *src, *head;
		const char *ip = scan_text(s, 1), *domain = scan_text(s, 8);

		if (ip == NULL || domain == NULL)
			continue;
		/* cache: IP -> list of (IP, domain) sources, usually one long */
		head = amap_get(cache, ip);
		for (src = head; src != NULL && strcmp(src->domain, domain) != 0; src = src->next)
			;
		if (src == NULL) {
			src = scan_source_load(q, cat, rules, ip, domain);
			src->next = head;
			amap_put(cache, ip, src);
		}
		memset(&in, 0, sizeof(in));
		in.policy_domain = domain;
		in.header_from = scan_text(s, 6);
		in.dmarc = scan_text(s, 3);
		in.dkim_eval = scan_text(s, 4);
		in.spf_eval = scan_text(s, 5);
		in.adkim = scan_text(s, 9);
		in.aspf = scan_text(s, 10);
		{
			char *sec[3] = { NULL, NULL, NULL };

			scan_sections(scan_copy(s, 20, abuf, sizeof(abuf)), sec);
			in.dkim = dk;
			in.n_dkim = scan_auth(sec[0], dk, SCAN_AUTH_MAX);
			in.spf = sp;
			in.n_spf = scan_auth(sec[1], sp, SCAN_AUTH_MAX);
			in.reasons = rs;
			in.n_reasons = scan_reasons(sec[2], rs, SCAN_REASONS_MAX);
		}
		in.src = &src->cs;
		classify_record(&ctx, &in, &res);

		memset(&row, 0, sizeof(row));
		row.record_id = sqlite3_column_int64(s, 0);
		row.count = sqlite3_column_int64(s, 2);
		row.begin = sqlite3_column_int64(s, 11);
		row.end = sqlite3_column_int64(s, 12);
		row.policy_domain = domain;
		row.header_from = in.header_from;
		row.disposition = scan_text(s, 7);
		row.reporter = scan_text(s, 13);
		row.p = scan_text(s, 14);
		row.sp = scan_text(s, 15);
		row.np = scan_text(s, 16);
		row.pct = sqlite3_column_type(s, 17) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 17);
		row.testing = scan_text(s, 18);
		row.report_id = sqlite3_column_int64(s, 19);
		row.adkim = in.adkim;
		row.aspf = in.aspf;
		row.in = &in;
		row.res = &res;
		row.src = src;
		fn(arg, &row);
		n++;
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "records: %s", sqlite3_errmsg(db));
		n = -1;
	}
done:
	sqlite3_finalize(s);
	sqlite3_finalize(q);
	{
		size_t pos = 0;
		void *v;
		while (amap_next(cache, &pos, NULL, &v))
			scan_source_free(v);
	}
	amap_free(&cache);
	userrules_free(&rules);
	return n;
}

/*
 * scan.c - reads records (with their report, DKIM/SPF results and override
 * reasons) and classifies each one.  Public: scan_records.
 *
 * Two statements, no join: the reports that pass the filter (domain,
 * reporter, period) are read once, in id order, into an array whose
 * strings are interned (a few distinct policy words, domains and
 * reporters); then `records` is read in rowid order (the order the join
 * used to give, so every first-seen order of the consumers is unchanged)
 * and each record finds its report by binary search, remembered while the
 * report does not change (a report's records are consecutive).  A record
 * whose report is not in the array is skipped before any work.  Reading
 * `reports` row by row for every record was about half the cost of a
 * year's scan.
 *
 * Each record carries its auth results folded into one string
 * (records.auth, written with the record: DKIM results, 0x1e, SPF results,
 * 0x1e, reason types; tab between domain and result, newline between
 * results).  Rows without records.auth (inserted by other means) get the
 * same string from the child tables (group_concat, as store_sqlite.c's
 * migration 4 computes it).  What is known about each (source IP, policy
 * domain) is looked up once and cached for the scan: ip_info row, catalog
 * service of the host name / ASN, the user's source rules.
 * Limits: 32 DKIM / SPF results and 16 reasons per record are considered
 * (the parser's limits are lower in practice).
 *
 * scan_mem_* give the same classification for the keys of the server's
 * in-memory copy of the records (store/recmem.h): the same source loading
 * and auth string cutting, each source, signature and key once per shared
 * context: a context kept with the copy across scans while the rules and
 * the ip_info rows of the copy's IPs are those it was made with (checked
 * by every scan; see "The shared context" below).
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/amap.h"
#include "analyze/analyze.h"
#include "analyze/catalog.h"
#include "analyze/scan.h"
#include "lib/arena.h"
#include "lib/xalloc.h"
#include "store/recmem.h"

#define SCAN_AUTH_MAX 32
#define SCAN_REASONS_MAX 16

static const char scan_reports_sql[] =
	"SELECT id, policy_domain, adkim, aspf, begin_ts, end_ts, org_name, p, sp, np, pct, "
	"testing FROM reports "
	"WHERE (?1 IS NULL OR policy_domain = ?1) "
	"AND (?2 = 0 OR end_ts > ?2) AND (?3 = 0 OR begin_ts < ?3) "
	"AND (?5 IS NULL OR org_name = ?5) ORDER BY id";

#define SCAN_RECORD_COLS \
	"SELECT r.id, r.source_ip, r.count, r.dmarc, r.dkim_eval, r.spf_eval, " \
	"r.header_from, r.disposition, r.report, " RECMEM_AUTH_SQL " FROM records r "

static const char scan_records_sql[] = SCAN_RECORD_COLS
	"WHERE dmarcstat_scan_in(r.report)";
static const char scan_records_ip_sql[] = SCAN_RECORD_COLS
	"WHERE r.source_ip = ?1 AND dmarcstat_scan_in(r.report) ORDER BY r.id";

/* One report that passes the filter; strings are interned. */
struct scan_report {
	int64_t id, begin, end;
	const char *domain, *adkim, *aspf, *reporter, *p, *sp, *np, *testing;
	int pct;
};

struct scan_reports {
	struct scan_report *v;
	size_t n, cap;
	struct amap *words;             /* interned strings: text -> the copy */
};

static const char *
scan_intern(struct scan_reports *rs, sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	char *c;

	if (t == NULL)
		return NULL;
	if ((c = amap_get(rs->words, t)) == NULL) {
		c = xstrdup(t);
		amap_put(rs->words, t, c);
	}
	return c;
}

static void
scan_reports_free(struct scan_reports *rs)
{
	size_t pos = 0;
	void *v;

	while (rs->words != NULL && amap_next(rs->words, &pos, NULL, &v))
		free(v);
	amap_free(&rs->words);
	free(rs->v);
}

static int
scan_reports_load(sqlite3 *db, const struct scan_filter *f, struct scan_reports *rs,
    char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int rc;

	memset(rs, 0, sizeof(*rs));
	rs->words = amap_new(256);
	if (sqlite3_prepare_v2(db, scan_reports_sql, -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "reports: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (f->domain)
		sqlite3_bind_text(s, 1, f->domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, f->since);
	sqlite3_bind_int64(s, 3, f->until);
	if (f->reporter)
		sqlite3_bind_text(s, 5, f->reporter, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct scan_report *r;

		if (rs->n == rs->cap) {
			rs->cap = rs->cap ? rs->cap * 2 : 1024;
			rs->v = xrealloc(rs->v, rs->cap * sizeof(*rs->v));
		}
		r = &rs->v[rs->n++];
		r->id = sqlite3_column_int64(s, 0);
		r->domain = scan_intern(rs, s, 1);
		r->adkim = scan_intern(rs, s, 2);
		r->aspf = scan_intern(rs, s, 3);
		r->begin = sqlite3_column_int64(s, 4);
		r->end = sqlite3_column_int64(s, 5);
		r->reporter = scan_intern(rs, s, 6);
		r->p = scan_intern(rs, s, 7);
		r->sp = scan_intern(rs, s, 8);
		r->np = scan_intern(rs, s, 9);
		r->pct = sqlite3_column_type(s, 10) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 10);
		r->testing = scan_intern(rs, s, 11);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "reports: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* The report with this id, or NULL (not in the filter). */
static const struct scan_report *
scan_report_find(const struct scan_reports *rs, int64_t id)
{
	size_t lo = 0, hi = rs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rs->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < rs->n && rs->v[lo].id == id ? &rs->v[lo] : NULL;
}

/*
 * dmarcstat_scan_in(report): whether the record's report is in the array,
 * so that SQLite skips the other records before reading their columns.
 * Registered on the connection for the duration of one scan (the
 * connection is used by one thread at a time).
 */
struct scan_in {
	const struct scan_reports *rs;
	int64_t last;
	int last_in;
};

static void
scan_in_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	struct scan_in *si = sqlite3_user_data(cx);
	int64_t id = sqlite3_value_int64(argv[0]);

	(void)argc;
	if (id != si->last) {
		si->last = id;
		si->last_in = scan_report_find(si->rs, id) != NULL;
	}
	sqlite3_result_int(cx, si->last_in);
}

static const char scan_ipinfo_sql[] =
	"SELECT ptr, ptr_status, fcrdns, base_domain, asn, as_name, country, resolved_at "
	"FROM ip_info WHERE ip = ?";

/* Column i as a new string (from ar when not NULL), NULL when NULL or empty. */
static char *
scan_dup(sqlite3_stmt *s, int i, struct arena *ar)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	if (t == NULL || *t == '\0')
		return NULL;
	return ar != NULL ? arena_strdup(ar, t) : xstrdup(t);
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

/* An ip_info row as scan_source_load reads it. */
struct scan_ipinfo {
	char *ptr, *ptr_status, *base_domain, *as_name, *country;
	int fcrdns;                     /* -1 when NULL */
	int64_t asn, resolved_at;
};

/* The current row of an ip_info statement from column c (ptr, ptr_status,
 * fcrdns, base_domain, asn, as_name, country, resolved_at). */
static void
scan_ipinfo_read(sqlite3_stmt *q, int c, struct arena *ar, struct scan_ipinfo *r)
{
	r->ptr = scan_dup(q, c, ar);
	r->ptr_status = scan_dup(q, c + 1, ar);
	r->fcrdns = sqlite3_column_type(q, c + 2) != SQLITE_NULL ? sqlite3_column_int(q, c + 2) : -1;
	r->base_domain = scan_dup(q, c + 3, ar);
	r->asn = sqlite3_column_int64(q, c + 4);
	r->as_name = scan_dup(q, c + 5, ar);
	r->country = scan_dup(q, c + 6, ar);
	r->resolved_at = sqlite3_column_int64(q, c + 7);
}

/*
 * What is known about (ip, domain): when pre_read, the caller read ip_info
 * and `pre` is the IP's row (NULL: none), else it is looked up with q.
 * Allocated from ar when not NULL (then never given to scan_source_free),
 * else by malloc.
 */
static struct scan_source *
scan_source_load(sqlite3_stmt *q, const struct catalog *cat, const struct userrules *rules,
    const char *ip, const char *domain, struct arena *ar, const struct scan_ipinfo *pre,
    int pre_read)
{
	struct scan_source *x;
	const struct catalog_service *svc = NULL;
	struct scan_ipinfo row;
	int found = 0;

	if (ar != NULL) {
		x = arena_alloc(ar, sizeof(*x));
		memset(x, 0, sizeof(*x));
		x->ip = arena_strdup(ar, ip);
		x->domain = arena_strdup(ar, domain);
	} else {
		x = xcalloc(1, sizeof(*x));
		x->ip = xstrdup(ip);
		x->domain = xstrdup(domain);
	}
	x->cs.ip = x->ip;
	x->cs.fcrdns = -1;
	x->cs.pending = 1;
	if (pre_read) {
		if ((found = pre != NULL) != 0)
			row = *pre;             /* strings owned by the caller's arena */
	} else if (q != NULL) {
		sqlite3_reset(q);
		sqlite3_bind_text(q, 1, ip, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(q) == SQLITE_ROW) {
			scan_ipinfo_read(q, 0, ar, &row);
			found = 1;
		}
	}
	if (found) {
		x->ptr = row.ptr;
		x->ptr_status = row.ptr_status;
		x->cs.fcrdns = row.fcrdns;
		x->base_domain = row.base_domain;
		x->asn = row.asn;
		x->as_name = row.as_name;
		x->country = row.country;
		x->resolved_at = row.resolved_at;
		x->cs.pending = x->ptr_status == NULL || strcmp(x->ptr_status, "pending") == 0;
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
	struct scan_reports rs;
	struct scan_in si;
	const struct scan_report *rep = NULL;
	int64_t rep_id = 0;
	char abuf[8192 + 8192 + 1024];
	struct classify_auth dk[SCAN_AUTH_MAX], sp[SCAN_AUTH_MAX];
	const char *rs_[SCAN_REASONS_MAX];
	int64_t n = 0;
	int rc;

	memset(&rs, 0, sizeof(rs));
	if (userrules_load(db, &rules, err, errlen) != 0)
		rules = userrules_empty();
	ctx.cat = cat;
	ctx.rules = rules;
	if (scan_reports_load(db, f, &rs, err, errlen) != 0) {
		n = -1;
		goto done;
	}
	if (rs.n == 0)
		goto done;
	si.rs = &rs;
	si.last = INT64_MIN;
	if (sqlite3_create_function(db, "dmarcstat_scan_in", 1, SQLITE_UTF8, &si, scan_in_fn,
	    NULL, NULL) != SQLITE_OK || sqlite3_prepare_v2(db, f->source_ip ? scan_records_ip_sql :
	    scan_records_sql, -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "records: %s", sqlite3_errmsg(db));
		n = -1;
		goto done;
	}
	/* ip_info may be missing in an old database: then all sources are pending. */
	if (sqlite3_prepare_v2(db, scan_ipinfo_sql, -1, &q, NULL) != SQLITE_OK)
		q = NULL;
	if (f->source_ip)
		sqlite3_bind_text(s, 1, f->source_ip, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct classify_input in;
		struct classify_result res;
		struct scan_row row;
		struct scan_source *src, *head;
		int64_t report = sqlite3_column_int64(s, 8);
		const char *ip, *domain;

		if (report != rep_id || rep == NULL) {
			rep_id = report;
			rep = scan_report_find(&rs, report);
		}
		if (rep == NULL)
			continue;              /* its report is not in the filter */
		ip = scan_text(s, 1);
		domain = rep->domain;
		if (ip == NULL || domain == NULL)
			continue;
		/* cache: IP -> list of (IP, domain) sources, usually one long */
		head = amap_get(cache, ip);
		for (src = head; src != NULL && src->domain_key != domain; src = src->next)
			;
		if (src == NULL) {
			src = scan_source_load(q, cat, rules, ip, domain, NULL, NULL, 0);
			src->domain_key = domain;
			src->next = head;
			amap_put(cache, ip, src);
		}
		memset(&in, 0, sizeof(in));
		in.policy_domain = domain;
		in.header_from = scan_text(s, 6);
		in.dmarc = scan_text(s, 3);
		in.dkim_eval = scan_text(s, 4);
		in.spf_eval = scan_text(s, 5);
		in.adkim = rep->adkim;
		in.aspf = rep->aspf;
		{
			char *sec[3] = { NULL, NULL, NULL };

			scan_sections(scan_copy(s, 9, abuf, sizeof(abuf)), sec);
			in.dkim = dk;
			in.n_dkim = scan_auth(sec[0], dk, SCAN_AUTH_MAX);
			in.spf = sp;
			in.n_spf = scan_auth(sec[1], sp, SCAN_AUTH_MAX);
			in.reasons = rs_;
			in.n_reasons = scan_reasons(sec[2], rs_, SCAN_REASONS_MAX);
		}
		in.src = &src->cs;
		classify_record(&ctx, &in, &res);

		memset(&row, 0, sizeof(row));
		row.record_id = sqlite3_column_int64(s, 0);
		row.count = sqlite3_column_int64(s, 2);
		row.begin = rep->begin;
		row.end = rep->end;
		row.policy_domain = domain;
		row.header_from = in.header_from;
		row.disposition = scan_text(s, 7);
		row.reporter = rep->reporter;
		row.p = rep->p;
		row.sp = rep->sp;
		row.np = rep->np;
		row.pct = rep->pct;
		row.testing = rep->testing;
		row.report_id = report;
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
	sqlite3_create_function(db, "dmarcstat_scan_in", 1, SQLITE_UTF8, NULL, NULL, NULL, NULL);
	{
		size_t pos = 0;
		void *v;
		while (amap_next(cache, &pos, NULL, &v))
			scan_source_free(v);
	}
	amap_free(&cache);
	scan_reports_free(&rs);
	userrules_free(&rules);
	return n;
}

/* ---- over the in-memory copy (store/recmem.h) ------------------------------- */

/* A signature's auth string cut as scan_records cuts it, kept for the scan
 * (the results of classify_record point into it). */
struct scan_sigp {
	struct classify_auth *dk, *sp;
	const char **rs;
	size_t ndk, nsp, nrs;
};

#define SCAN_MEM_SEEN 16                /* connections remembered (the server's pool) */

struct scan_mem {
	const struct recmem *rm;
	struct userrules *rules;
	struct classify_ctx ctx;
	sqlite3_stmt *q;                /* ip_info lookup, or NULL (always for the shared one) */
	struct scan_source **src;       /* by the copy's source id */
	struct scan_sigp **sigp;        /* by signature */
	struct scan_ipinfo **info;      /* by IP id once read in bulk (NULL: no row) */
	uint32_t ninfo;                 /* rows in info */
	uint32_t nlookup;               /* sources looked up one by one */
	/* the shared context (below): each key's classification once made */
	struct scan_class *cls;         /* by key, valid where done[key] */
	uint8_t *done;
	uint64_t gen;                   /* scan_mem_gen when made; 0 when private */
	int busy;                       /* under the copy's user_mu */
	struct scan_seen {              /* connections it was last found valid on */
		sqlite3 *db;
		int64_t version, changes;
	} seen[SCAN_MEM_SEEN];
	uint32_t seen_next;
	void *scratch;                  /* scan_mem_scratch */
	size_t scratch_len;
	struct arena ar;
};

/*
 * The shared context.  What a key's classification depends on besides the
 * copy (ip_info, the user's rules; the catalog is loaded once per process)
 * is read afresh by every scan, so a context made for a copy stays valid
 * while the rules are the same (userrules_equal, a few rows) and ip_info
 * holds the same rows for the copy's IPs (scan_mem_same_info: one read of
 * the table, ~3 ms at 28,000 rows, instead of building ~15,000 sources and
 * classifying ~60,000 keys: ~50 ms for a year with every IP enriched).
 * It hangs on the copy (recmem's user slot, freed with it) and is used by
 * one scan at a time (busy); a scan that finds it busy makes a private
 * context as before.  An enrichment write or a rule change therefore shows
 * in the next scan, as without the cache.
 *
 * Even that check (~10 ms with every IP enriched) is skipped when nothing
 * at all was written since the context was last found valid on the same
 * connection: PRAGMA data_version, read inside the scan's read
 * transaction, moves with every commit of another connection, and
 * sqlite3_total_changes64 with the connection's own writes.
 */
static uint64_t scan_mem_gen;

/*
 * ip_info is looked up source by source (~3 us each with a row); a scan
 * that needs more than SCAN_MEM_LOOKUPS of them, or more than an eighth of
 * the copy's sources (a year: ~15,000 of 28,000), reads the whole table
 * once instead (~0.5 us a row: about as many rows as the copy has IPs),
 * keeping the rows of the IPs the copy holds.  The shared context always
 * reads it whole.
 */
#define SCAN_MEM_LOOKUPS 1000

static const char scan_mem_bulk_sql[] =
	"SELECT ip, ptr, ptr_status, fcrdns, base_domain, asn, as_name, country, resolved_at "
	"FROM ip_info";

static void
scan_mem_bulk(struct scan_mem *m, sqlite3 *db)
{
	sqlite3_stmt *s = NULL;

	m->info = xcalloc(m->rm->ips.n ? m->rm->ips.n : 1, sizeof(*m->info));
	if (sqlite3_prepare_v2(db, scan_mem_bulk_sql, -1, &s, NULL) != SQLITE_OK)
		return;                 /* no ip_info: every source is pending */
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *ip = (const char *)sqlite3_column_text(s, 0);
		uint32_t id = recmem_find(&m->rm->ips, ip);

		if (ip == NULL || id == RECMEM_NONE || id == 0)
			continue;
		m->info[id] = arena_alloc(&m->ar, sizeof(**m->info));
		scan_ipinfo_read(s, 1, &m->ar, m->info[id]);
		m->ninfo++;
	}
	sqlite3_finalize(s);
}

/* Whether column i is the string x as scan_dup reads it (empty = NULL). */
static int
scan_col_is(sqlite3_stmt *s, int i, const char *x)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	if (t == NULL || *t == '\0')
		return x == NULL;
	return x != NULL && strcmp(t, x) == 0;
}

/* Whether ip_info holds, for the copy's IPs, exactly the rows in m->info. */
static int
scan_mem_same_info(const struct scan_mem *m, sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	uint32_t n = 0;
	int same = 1, rc = SQLITE_DONE;

	if (sqlite3_prepare_v2(db, scan_mem_bulk_sql, -1, &s, NULL) != SQLITE_OK)
		return m->ninfo == 0;
	while (same && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *ip = (const char *)sqlite3_column_text(s, 0);
		uint32_t id = recmem_find(&m->rm->ips, ip);
		const struct scan_ipinfo *r;

		if (ip == NULL || id == RECMEM_NONE || id == 0)
			continue;
		n++;
		r = m->info[id];
		same = r != NULL && scan_col_is(s, 1, r->ptr) && scan_col_is(s, 2, r->ptr_status) &&
		    (sqlite3_column_type(s, 3) != SQLITE_NULL ? sqlite3_column_int(s, 3) : -1) ==
		    r->fcrdns && scan_col_is(s, 4, r->base_domain) &&
		    sqlite3_column_int64(s, 5) == r->asn && scan_col_is(s, 6, r->as_name) &&
		    scan_col_is(s, 7, r->country) && sqlite3_column_int64(s, 8) == r->resolved_at;
	}
	if (same && rc != SQLITE_DONE)
		same = 0;
	sqlite3_finalize(s);
	return same && n == m->ninfo;
}

/* PRAGMA data_version of db inside its read transaction (begun here if
 * need be), or -1 (not in a transaction: no snapshot to compare). */
static int64_t
scan_data_version(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (sqlite3_get_autocommit(db))
		return -1;
	/* the snapshot first: a commit after it must not be counted as seen */
	if (sqlite3_exec(db, "SELECT 1 FROM sqlite_schema LIMIT 1", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Whether m was found valid on db when it was at (version, changes). */
static int
scan_mem_seen(const struct scan_mem *m, sqlite3 *db, int64_t version, int64_t changes)
{
	if (version < 0)
		return 0;
	for (int i = 0; i < SCAN_MEM_SEEN; i++)
		if (m->seen[i].db == db)
			return m->seen[i].version == version && m->seen[i].changes == changes;
	return 0;
}

static void
scan_mem_saw(struct scan_mem *m, sqlite3 *db, int64_t version, int64_t changes)
{
	int i;

	if (version < 0)
		return;
	for (i = 0; i < SCAN_MEM_SEEN && m->seen[i].db != db; i++)
		;
	if (i == SCAN_MEM_SEEN)
		i = (int)(m->seen_next++ % SCAN_MEM_SEEN);
	m->seen[i].db = db;
	m->seen[i].version = version;
	m->seen[i].changes = changes;
}

static struct scan_mem *
scan_mem_make(sqlite3 *db, const struct recmem *rm, struct userrules *rules, int shared)
{
	struct scan_mem *m = xcalloc(1, sizeof(*m));

	m->rm = rm;
	m->rules = rules;
	m->ctx.cat = catalog_default();
	m->ctx.rules = m->rules;
	m->src = xcalloc(rm->nsrc ? rm->nsrc : 1, sizeof(*m->src));
	m->sigp = xcalloc(rm->nsig ? rm->nsig : 1, sizeof(*m->sigp));
	arena_init(&m->ar, 256 * 1024);
	if (shared) {
		m->gen = __atomic_add_fetch(&scan_mem_gen, 1, __ATOMIC_SEQ_CST);
		m->cls = xcalloc(rm->nkey ? rm->nkey : 1, sizeof(*m->cls));
		m->done = xcalloc(rm->nkey ? rm->nkey : 1, 1);
		m->busy = 1;
		scan_mem_bulk(m, db);
	} else if (sqlite3_prepare_v2(db, scan_ipinfo_sql, -1, &m->q, NULL) != SQLITE_OK)
		m->q = NULL;
	return m;
}

static void
scan_mem_destroy(void *arg)
{
	struct scan_mem *m = arg;

	free(m->src);                   /* the sources are in the arena */
	free(m->sigp);
	free(m->info);
	free(m->cls);
	free(m->done);
	free(m->scratch);
	arena_fini(&m->ar);
	sqlite3_finalize(m->q);
	userrules_free(&m->rules);
	free(m);
}

struct scan_mem *
scan_mem_new(sqlite3 *db, const struct recmem *rm, char *err, size_t errlen)
{
	struct recmem *w = (struct recmem *)rm;         /* its user slot only */
	struct userrules *rules = NULL;
	struct scan_mem *m;
	int64_t version = scan_data_version(db), changes = sqlite3_total_changes64(db);

	pthread_mutex_lock(&w->user_mu);
	m = w->user;
	if (m != NULL && !m->busy)
		m->busy = 1;
	else
		m = NULL;               /* none, or in use: loaded below */
	pthread_mutex_unlock(&w->user_mu);
	if (m != NULL && scan_mem_seen(m, db, version, changes))
		return m;               /* nothing written since it was checked here */
	if (userrules_load(db, &rules, err, errlen) != 0) {
		if (m != NULL)
			scan_mem_free(&m);
		return scan_mem_make(db, rm, userrules_empty(), 0);   /* not to be kept */
	}
	if (m != NULL && userrules_equal(m->rules, rules) && scan_mem_same_info(m, db)) {
		userrules_free(&rules);
		scan_mem_saw(m, db, version, changes);
		return m;
	}
	pthread_mutex_lock(&w->user_mu);
	if (m == NULL && w->user != NULL) {
		pthread_mutex_unlock(&w->user_mu);      /* in use by another scan */
		return scan_mem_make(db, rm, rules, 0);
	}
	/* none yet, or made with other rules or ip_info: a new one in its place */
	w->user = NULL;
	pthread_mutex_unlock(&w->user_mu);
	if (m != NULL)
		scan_mem_destroy(m);
	m = scan_mem_make(db, rm, rules, 1);
	scan_mem_saw(m, db, version, changes);
	pthread_mutex_lock(&w->user_mu);
	if (w->user == NULL) {
		w->user = m;
		w->user_free = scan_mem_destroy;
	} else
		m->gen = 0;             /* another scan installed one meanwhile: private */
	pthread_mutex_unlock(&w->user_mu);
	return m;
}

void
scan_mem_free(struct scan_mem **mp)
{
	struct scan_mem *m = mp ? *mp : NULL;
	struct recmem *w;

	if (m == NULL)
		return;
	*mp = NULL;
	w = (struct recmem *)m->rm;
	pthread_mutex_lock(&w->user_mu);
	if (w->user == m) {
		m->busy = 0;
		m = NULL;
	}
	pthread_mutex_unlock(&w->user_mu);
	if (m != NULL)
		scan_mem_destroy(m);
}

void *
scan_mem_scratch(struct scan_mem *m, size_t len)
{
	if (len > m->scratch_len) {
		free(m->scratch);
		m->scratch = xmalloc(len);
		m->scratch_len = len;
	}
	return m->scratch;
}

uint64_t
scan_mem_shared_gen(const struct recmem *rm)
{
	struct recmem *w = (struct recmem *)rm;
	uint64_t gen;

	pthread_mutex_lock(&w->user_mu);
	gen = w->user != NULL ? ((struct scan_mem *)w->user)->gen : 0;
	pthread_mutex_unlock(&w->user_mu);
	return gen;
}

/* The auth string of signature i, cut once per scan. */
static const struct scan_sigp *
scan_mem_sigp(struct scan_mem *m, uint32_t i)
{
	struct classify_auth dk[SCAN_AUTH_MAX], sp[SCAN_AUTH_MAX];
	const char *rs[SCAN_REASONS_MAX];
	const char *auth = recmem_str(&m->rm->strs, m->rm->sig[i].auth);
	char *sec[3] = { NULL, NULL, NULL };
	struct scan_sigp *p;

	if (m->sigp[i] != NULL)
		return m->sigp[i];
	p = arena_alloc(&m->ar, sizeof(*p));
	/* as scan_copy: NULL when empty, at most the SQL scan's buffer */
	if (auth != NULL && *auth != '\0') {
		size_t n = strnlen(auth, 8192 + 8192 + 1024 - 1);

		scan_sections(arena_strndup(&m->ar, auth, n), sec);
	}
	p->ndk = scan_auth(sec[0], dk, SCAN_AUTH_MAX);
	p->nsp = scan_auth(sec[1], sp, SCAN_AUTH_MAX);
	p->nrs = scan_reasons(sec[2], rs, SCAN_REASONS_MAX);
	p->dk = arena_alloc(&m->ar, (p->ndk + 1) * sizeof(*p->dk));
	p->sp = arena_alloc(&m->ar, (p->nsp + 1) * sizeof(*p->sp));
	p->rs = arena_alloc(&m->ar, (p->nrs + 1) * sizeof(*p->rs));
	memcpy(p->dk, dk, p->ndk * sizeof(*dk));
	memcpy(p->sp, sp, p->nsp * sizeof(*sp));
	memcpy(p->rs, rs, p->nrs * sizeof(*rs));
	m->sigp[i] = p;
	return p;
}

void
scan_mem_classify(struct scan_mem *m, uint32_t k, struct scan_class *c)
{
	const struct recmem *rm = m->rm;
	const struct recmem_key *key = &rm->key[k];
	const struct recmem_sig *sig = &rm->sig[key->sig];
	const struct scan_sigp *p;
	struct scan_source *src;
	struct classify_input in;

	if (m->done != NULL && m->done[k]) {
		*c = m->cls[k];
		return;
	}
	memset(c, 0, sizeof(*c));
	c->policy_domain = recmem_str(&rm->strs, key->domain);
	if ((src = m->src[key->src]) == NULL) {
		if (m->info == NULL && m->q != NULL && (++m->nlookup > SCAN_MEM_LOOKUPS ||
		    m->nlookup > rm->nsrc / 8))
			scan_mem_bulk(m, sqlite3_db_handle(m->q));
		src = scan_source_load(m->q, m->ctx.cat, m->rules, recmem_str(&rm->ips, key->ip),
		    c->policy_domain, &m->ar, m->info ? m->info[key->ip] : NULL, m->info != NULL);
		src->domain_key = c->policy_domain;
		m->src[key->src] = src;
	}
	c->src = src;
	c->header_from = recmem_str(&rm->strs, sig->hf);
	c->dmarc = recmem_str(&rm->strs, sig->dmarc);
	c->dkim_eval = recmem_str(&rm->strs, sig->dkim);
	c->spf_eval = recmem_str(&rm->strs, sig->spf);
	c->disposition = recmem_str(&rm->strs, sig->disp);
	p = scan_mem_sigp(m, key->sig);
	memset(&in, 0, sizeof(in));
	in.policy_domain = c->policy_domain;
	in.header_from = c->header_from;
	in.dmarc = c->dmarc;
	in.dkim_eval = c->dkim_eval;
	in.spf_eval = c->spf_eval;
	in.adkim = recmem_str(&rm->strs, key->adkim);
	in.aspf = recmem_str(&rm->strs, key->aspf);
	in.dkim = p->dk;
	in.n_dkim = p->ndk;
	in.spf = p->sp;
	in.n_spf = p->nsp;
	in.reasons = p->rs;
	in.n_reasons = p->nrs;
	in.src = &src->cs;
	classify_record(&m->ctx, &in, &c->res);
	if (m->done != NULL) {
		m->cls[k] = *c;
		m->done[k] = 1;
	}
}

int
scan_mem_prime(sqlite3 *db, const struct recmem *rm)
{
	int txn = sqlite3_get_autocommit(db) && sqlite3_exec(db, "BEGIN", NULL, NULL,
	    NULL) == SQLITE_OK;
	char err[256];
	struct scan_mem *m = scan_mem_new(db, rm, err, sizeof(err));
	struct scan_class c;
	int n = 0;

	if (m->gen != 0) {
		for (uint32_t k = 0; k < rm->nkey; k++) {
			if (m->done[k] || rm->key[k].ip == 0 || rm->key[k].domain == 0)
				continue;
			scan_mem_classify(m, k, &c);
			n++;
		}
	}
	scan_mem_free(&m);
	if (txn)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return n;
}

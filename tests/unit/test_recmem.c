/*
 * test_recmem.c - the sender analysis over the in-memory copy of the
 * records (store/recmem.c, sources.c's scan of it) against its oracle, the
 * SQL scan (analyze/scan.c): the whole sources_set (every source with all
 * its fields, buckets, header_from list and tags, in order; the
 * period-wide facts, reporters and policies in their map order), the
 * sender groups and the readiness JSON must be the same bytes for every
 * filter: policy domains, reporters, source IPs (present, absent, none),
 * periods (open on either side, whole, partial, on UTC and shifted
 * midnights, empty, before and after the data).
 *
 * The data: dmarcgen's reports imported by dmarcstat (DMARCGEN_BIN,
 * DMARCSTAT_BIN), then what the generator does not make: ip_info rows
 * (catalog services by host name and ASN, forward-confirmed own hosts,
 * pending ones), the user's approve / reject / tag rules, records without
 * records.auth (read from the child views), a source with more header_from
 * domains and result combinations than a source keeps (folded buckets), a
 * report whose records are not consecutive, a record whose report is gone,
 * reports without policy words.  Then freshness: the fingerprint moves
 * with an import and a retention-style delete, not with ip_info or rules
 * (which the scan reads afresh: the same copy still gives the SQL answer
 * after them); the keeper refuses a stale copy and rebuilds; values the
 * copy cannot hold and a size cap give no copy.  The classification kept
 * with a copy across scans (scan.c's shared context) is made anew after
 * each kind of ip_info write and rule change, primed, and bypassed while
 * in use, every answer still the SQL scan's.
 *
 * RECMEM_TEST_DB=PATH runs the comparison on an existing database (read
 * only, e.g. bench/out/api.db) with a smaller set of filters.
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

#include "analyze/analyze.h"
#include "analyze/groups.h"
#include "analyze/readiness.h"
#include "analyze/sources.h"
#include "store/recmem.h"
#include "store/store.h"

#define DAY 86400
#define END "2026-02-09"
#define T_END 1770681600        /* 2026-02-10 00:00 UTC: the end of the data */
#define NDAYS 24

struct fx {
	char dir[64], db[96];
	struct store *st;
};

static void
fx_exec(struct fx *f, const char *sql)
{
	char *e = NULL;

	if (sqlite3_exec(store_sqlite_handle(f->st), sql, NULL, NULL, &e) != SQLITE_OK)
		fail_msg("%s: %s", sql, e ? e : "?");
}

static void
fx_run(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

/* dmarcgen's reports for days [end - ndays, end) with a seed, imported. */
static void
fx_import(struct fx *f, int ndays, const char *end, int seed)
{
	const char *gen = getenv("DMARCGEN_BIN"), *bin = getenv("DMARCSTAT_BIN");
	char cmd[1024];

	assert_non_null(gen);
	assert_non_null(bin);
	snprintf(cmd, sizeof cmd, "rm -rf '%s/gen' && '%s' -q --out '%s/gen' --days %d --end %s "
	    "--seed %d && '%s' --db '%s' -q import '%s/gen'", f->dir, gen, f->dir, ndays, end, seed,
	    bin, f->db, f->dir);
	fx_run(cmd);
}

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char err[256];
	int64_t id;

	snprintf(f->dir, sizeof f->dir, "/tmp/test_recmem.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof f->db, "%s/db.sqlite", f->dir);
	fx_import(f, NDAYS, END, 11);
	f->st = store_open(f->db, 0, err, sizeof err);
	assert_non_null(f->st);
	assert_int_equal(analyze_schema_ensure(store_sqlite_handle(f->st)), 0);
	/* what enrichment would know: services by host and ASN, own hosts, pending */
	fx_exec(f, "INSERT OR REPLACE INTO ip_info(ip, ptr, ptr_status, fcrdns, base_domain, asn,"
	    " as_name, country, resolved_at, expires_at)"
	    " SELECT source_ip, CASE abs(h) % 5 WHEN 0 THEN 'mail-' || (abs(h) % 97) || '.google.com'"
	    "  WHEN 1 THEN 'o' || (abs(h) % 7) || '.ptr.sendgrid.net' WHEN 2 THEN 'mx.example.com'"
	    "  WHEN 3 THEN 'host' || (abs(h) % 11) || '.isp.example.net' ELSE NULL END,"
	    " CASE abs(h) % 7 WHEN 6 THEN 'pending' ELSE 'ok' END, abs(h) % 3 = 0,"
	    " CASE abs(h) % 5 WHEN 0 THEN 'google.com' WHEN 1 THEN 'sendgrid.net'"
	    "  WHEN 2 THEN 'example.com' WHEN 3 THEN 'example.net' ELSE NULL END,"
	    " CASE abs(h) % 4 WHEN 0 THEN 15169 WHEN 1 THEN 11377 WHEN 2 THEN 64500 ELSE NULL END,"
	    " 'AS name', CASE abs(h) % 3 WHEN 0 THEN 'JP' WHEN 1 THEN 'US' ELSE NULL END, 1, 2"
	    " FROM (SELECT source_ip, (unicode(source_ip) * 31 + length(source_ip) * 7"
	    "  + unicode(substr(source_ip, -1)) * 13) AS h FROM records GROUP BY source_ip)"
	    " WHERE abs(h) % 9 <> 8");
	assert_int_equal(analyze_rule_add(f->st, "approve", "host", "*.isp.example.net", NULL, NULL,
	    NULL, &id, err, sizeof err), 0);
	assert_int_equal(analyze_rule_add(f->st, "reject", "service", "sendgrid", NULL, NULL,
	    "example.com", &id, err, sizeof err), 0);
	assert_int_equal(analyze_rule_add(f->st, "tag", "host", "mx.example.com", "ours", NULL,
	    NULL, &id, err, sizeof err), 0);
	/* records without records.auth: read from the child views */
	fx_exec(f, "UPDATE records SET auth = NULL WHERE id % 5 = 0");
	/* one source with more From domains and combinations than it keeps */
	/* (each combination three times, with other counts: a combination that
	 * found no room goes to whichever bucket of its class is largest then) */
	fx_exec(f, "WITH RECURSIVE n(i, j) AS (SELECT 1, 1 UNION ALL SELECT i + 1, (i + 1) % 40"
	    " FROM n WHERE i < 120)"
	    " INSERT INTO records(report, source_ip, count, disposition, dkim_eval, spf_eval, dmarc,"
	    " header_from, auth) SELECT (SELECT min(id) + i % 9 FROM reports), '198.51.100.77',"
	    " i * 7 % 23 + 1, CASE j % 3 WHEN 0 THEN 'none' WHEN 1 THEN 'reject' ELSE 'quarantine'"
	    " END, CASE j % 4 WHEN 0 THEN 'pass' ELSE 'fail' END, 'fail', CASE j % 4 WHEN 0 THEN"
	    " 'pass' ELSE 'fail' END, CASE j % 13 WHEN 0 THEN '' ELSE 'sub' || (j % 11) ||"
	    " '.example.com' END, 'd' || (j % 19) || '.example' || char(9) || CASE j % 2 WHEN 0"
	    " THEN 'pass' ELSE 'fail' END || char(30) || 'example.com' || char(9) || 'softfail' ||"
	    " char(30) || CASE j % 5 WHEN 0 THEN 'forwarded' ELSE '' END FROM n");
	/* a report's records that are not consecutive; a record whose report is gone */
	fx_exec(f, "INSERT INTO records(report, source_ip, count, disposition, dkim_eval, spf_eval,"
	    " dmarc, header_from, auth) SELECT report, source_ip, count + 1, disposition, dkim_eval,"
	    " spf_eval, dmarc, header_from, auth FROM records WHERE id IN"
	    " (SELECT min(id) FROM records GROUP BY report ORDER BY report LIMIT 30)");
	fx_exec(f, "PRAGMA foreign_keys = OFF");
	fx_exec(f, "INSERT INTO records(report, source_ip, count, disposition, dkim_eval, spf_eval,"
	    " dmarc, header_from, auth) VALUES (999999, '192.0.2.99', 5, 'none', 'pass', 'pass',"
	    " 'pass', 'example.com', '')");
	fx_exec(f, "PRAGMA foreign_keys = ON");
	/* reports without policy words, and with other alignment modes */
	fx_exec(f, "UPDATE reports SET p = NULL, sp = NULL, pct = NULL, adkim = NULL WHERE id % 7 = 0");
	fx_exec(f, "UPDATE reports SET adkim = 's', aspf = 's', testing = 'y' WHERE id % 7 = 1");
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

/* ---- the comparison ------------------------------------------------------------ */

static void
dump_add(char **s, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
dump_add(char **s, size_t *n, const char *fmt, ...)
{
	va_list ap;
	char buf[512];
	int k;

	va_start(ap, fmt);
	k = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	assert_true(k >= 0 && (size_t)k < sizeof buf);
	*s = realloc(*s, *n + (size_t)k + 1);
	memcpy(*s + *n, buf, (size_t)k + 1);
	*n += (size_t)k;
}

static void
dump_json(char **s, size_t *n, json_t *v)
{
	char *t = v ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(6)) : strdup("(null)");

	*s = realloc(*s, *n + strlen(t) + 2);
	memcpy(*s + *n, t, strlen(t) + 1);
	*n += strlen(t);
	(*s)[(*n)++] = '\n';
	(*s)[*n] = '\0';
	free(t);
	json_decref(v);
}

#define S(x) ((x) ? (x) : "(null)")

/* Everything a sources_set holds, in its order. */
static char *
dump_set(struct sources_set *set)
{
	char *s = NULL;
	size_t n = 0, pos = 0;
	const char *k;
	void *v;

	if (set == NULL)
		return strdup("(no set)");
	dump_add(&s, &n, "records=%lld n=%zu policy_ts=%lld p=%s sp=%s np=%s adkim=%s aspf=%s "
	    "t=%s pct=%d begin=%lld end=%lld sub=%lld subfail=%lld\n", (long long)set->records,
	    set->n, (long long)set->policy_ts, S(set->p), S(set->sp), S(set->np), S(set->adkim),
	    S(set->aspf), S(set->testing), set->pct, (long long)set->min_begin,
	    (long long)set->max_end, (long long)set->subdomain_messages,
	    (long long)set->subdomain_fail);
	while (amap_next(set->reporters, &pos, &k, &v))
		dump_add(&s, &n, "reporter %s\n", k);
	pos = 0;
	while (amap_next(set->policies, &pos, &k, &v))
		dump_add(&s, &n, "policy %s: %ld\n", k, (long)(intptr_t)v);
	for (size_t i = 0; i < set->n; i++) {
		const struct sources_agg *a = set->v[i];

		dump_add(&s, &n, "%s domain=%s pending=%d disp=%lld/%lld/%lld\n", a->ip, S(a->domain),
		    a->pending, (long long)a->disp_none, (long long)a->disp_quarantine,
		    (long long)a->disp_reject);
		for (size_t j = 0; j < a->n_b; j++)
			dump_add(&s, &n, " b%zu %d %d %d %s dk=%s spf=%s ov=%s from=%s own=%d ap=%d %lld\n",
			    j, a->b[j].cls, a->b[j].reason, a->b[j].detail,
			    a->b[j].service ? a->b[j].service->id : "-", S(a->b[j].dkim_domain),
			    S(a->b[j].spf_domain), S(a->b[j].override), S(a->b[j].from), a->b[j].own,
			    a->b[j].approved, (long long)a->b[j].messages);
		dump_json(&s, &n, sources_agg_json(a));
	}
	return s;
}

static int compared, failed;

static void
same(const char *what, const struct scan_filter *f, char *a, char *b)
{
	compared++;
	if (strcmp(a, b) != 0) {
		if (failed++ < 3) {
			size_t i = 0;

			while (a[i] && a[i] == b[i])
				i++;
			i = i > 200 ? i - 200 : 0;
			fprintf(stderr, "%s differs (domain=%s reporter=%s source=%s since=%lld "
			    "until=%lld)\n  sql: %.700s\n  mem: %.700s\n", what, S(f->domain),
			    S(f->reporter), S(f->source_ip), (long long)f->since, (long long)f->until,
			    a + i, b + i);
		}
	}
	free(a);
	free(b);
}

/* One filter: the set, the groups and (with a domain) the readiness. */
static int64_t
compare_one(struct store *st, const struct recmem *rm, const struct scan_filter *f)
{
	sqlite3 *db = store_sqlite_handle(st);
	char err[256];
	struct sources_set *a = sources_collect_from(db, NULL, f, err, sizeof err);
	struct sources_set *b = sources_collect_from(db, rm, f, err, sizeof err);
	int64_t records = a ? a->records : -1;

	assert_non_null(a);
	assert_non_null(b);
	if (f->source_ip == NULL) {
		char *ga = NULL, *gb = NULL;
		size_t na = 0, nb = 0;

		dump_json(&ga, &na, groups_json(a, 1000));
		dump_json(&gb, &nb, groups_json(b, 1000));
		same("groups", f, ga, gb);
	}
	same("sources", f, dump_set(a), dump_set(b));
	sources_set_free(&a);
	sources_set_free(&b);
	if (f->domain != NULL && f->reporter == NULL && f->source_ip == NULL) {
		char *ra = NULL, *rb = NULL;
		size_t na = 0, nb = 0;

		dump_json(&ra, &na, analyze_readiness_json_mem(st, NULL, f->domain, f->since, f->until));
		dump_json(&rb, &nb, analyze_readiness_json_mem(st, rm, f->domain, f->since, f->until));
		same("readiness", f, ra, rb);
	}
	return records;
}

/* Every combination of the filters over a set of periods; returns the
 * records seen in all (so a comparison of empty answers cannot pass). */
static int64_t
compare_all(struct store *st, const struct recmem *rm, const char *const *doms, size_t ndom,
    const char *const *reps, size_t nrep, const char *const *ips, size_t nip, int64_t first,
    int64_t last)
{
	static const int64_t shifts[] = {0, 9 * 3600, -5 * 3600};
	int64_t span = last - first, periods[12][2], seen = 0;
	size_t np = 0;

	periods[np][0] = 0, periods[np++][1] = 0;
	for (size_t z = 0; z < 3; z++) {
		periods[np][0] = first - shifts[z];
		periods[np++][1] = last - shifts[z];
	}
	periods[np][0] = last - 7 * DAY - 9 * 3600, periods[np++][1] = last - 9 * 3600;
	periods[np][0] = first + span / 3, periods[np++][1] = 0;
	periods[np][0] = 0, periods[np++][1] = first + span / 3;
	periods[np][0] = first + span / 2, periods[np++][1] = first + span / 2 + DAY;
	periods[np][0] = first - 100 * DAY, periods[np++][1] = first - 50 * DAY;    /* empty */
	periods[np][0] = last + 10 * DAY, periods[np++][1] = 0;                      /* empty */
	for (size_t p = 0; p < np; p++)
		for (size_t d = 0; d <= ndom; d++)
			for (size_t r = 0; r <= nrep; r++)
				for (size_t i = 0; i <= nip; i++) {
					struct scan_filter f = {0};

					if (r < nrep && i < nip)
						continue;
					f.domain = d < ndom ? doms[d] : NULL;
					f.reporter = r < nrep ? reps[r] : NULL;
					f.source_ip = i < nip ? ips[i] : NULL;
					f.since = periods[p][0];
					f.until = periods[p][1];
					seen += compare_one(st, rm, &f);
				}
	return seen;
}

static struct recmem *
build(struct store *st)
{
	char err[256] = "";
	struct recmem *rm = recmem_build(store_sqlite_handle(st), 0, err, sizeof err);

	if (rm == NULL)
		fprintf(stderr, "recmem_build: %s\n", err);
	assert_non_null(rm);
	return rm;
}

/* A reporter and a source IP that the data has (the busiest ones). */
static void
pick(struct store *st, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *s = NULL;

	assert_int_equal(sqlite3_prepare_v2(store_sqlite_handle(st), sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
}

static void
compare_fixture(struct store *st, const struct recmem *rm, int quick)
{
	static const char *const doms[] = {"example.com", "example.co.jp", "shop.example.net",
		"missing.example"};
	char rep[128], ip[64], ip2[64];
	const char *reps[] = {rep, "nobody.example"};
	const char *ips[] = {ip, ip2, "198.51.100.77", "203.0.113.254"};
	int64_t seen;

	pick(st, "SELECT org_name FROM reports GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
	    rep, sizeof rep);
	pick(st, "SELECT source_ip FROM records GROUP BY 1 ORDER BY sum(count) DESC, 1 LIMIT 1",
	    ip, sizeof ip);
	pick(st, "SELECT source_ip FROM records GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1 OFFSET 5",
	    ip2, sizeof ip2);
	compared = failed = 0;
	seen = compare_all(st, rm, doms, quick ? 2 : 4, reps, quick ? 1 : 2, ips, quick ? 1 : 4,
	    T_END - NDAYS * DAY, T_END);
	fprintf(stderr, "  %d answers compared (%lld records), %d differ\n", compared,
	    (long long)seen, failed);
	assert_int_equal(failed, 0);
	assert_true(compared > (quick ? 100 : 500));
	assert_true(seen > 10000);
}

static void
test_same_answers(void **state)
{
	struct fx *f = *state;
	struct recmem *rm = build(f->st);

	assert_true(rm->nrec > 1000);
	assert_true(rm->nrun > rm->nrep);      /* the report whose records are not consecutive */
	/* the source that has more than it keeps does */
	{
		struct scan_filter one = {.source_ip = "198.51.100.77"};
		char err[256];
		struct sources_set *set = sources_collect_from(store_sqlite_handle(f->st), rm, &one,
		    err, sizeof err);

		assert_int_equal(set->n, 1);
		assert_int_equal(set->v[0]->n_b, SOURCES_BUCKETS_MAX);
		assert_int_equal(set->v[0]->n_from, SOURCES_FROM_MAX);
		sources_set_free(&set);
	}
	compare_fixture(f->st, rm, 0);
	recmem_free(&rm);
}

static void
test_fingerprint(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = store_sqlite_handle(f->st);
	struct recmem *rm = build(f->st);
	struct recmem_fp fp;
	char err[256];
	int64_t id;

	assert_int_equal(recmem_fp_read(db, &fp), 0);
	assert_true(recmem_fp_equal(&fp, &rm->fp));
	/* enrichment and rules do not move it, and the copy still answers as SQL */
	fx_exec(f, "UPDATE ip_info SET ptr = 'mail-1.google.com', fcrdns = 1, ptr_status = 'ok'"
	    " WHERE ptr_status = 'pending' OR ptr IS NULL");
	fx_exec(f, "INSERT OR REPLACE INTO ip_info(ip, ptr, ptr_status, fcrdns) VALUES"
	    " ('198.51.100.77', 'lists.example.org', 'ok', 1)");
	assert_int_equal(analyze_rule_add(f->st, "approve", "ip", "198.51.100.77", NULL, NULL, NULL,
	    &id, err, sizeof err), 0);
	assert_int_equal(recmem_fp_read(db, &fp), 0);
	assert_true(recmem_fp_equal(&fp, &rm->fp));
	compare_fixture(f->st, rm, 1);
	/* an import does */
	recmem_free(&rm);
	rm = build(f->st);
	fx_import(f, 3, "2026-02-12", 12);
	assert_int_equal(recmem_fp_read(db, &fp), 0);
	assert_false(recmem_fp_equal(&fp, &rm->fp));
	recmem_free(&rm);
	rm = build(f->st);
	compare_fixture(f->st, rm, 1);
	/* retention deleting old reports does */
	fx_exec(f, "DELETE FROM records WHERE report IN (SELECT id FROM reports WHERE end_ts < "
	    "1770681600 - 20 * 86400)");
	fx_exec(f, "DELETE FROM reports WHERE end_ts < 1770681600 - 20 * 86400");
	assert_int_equal(recmem_fp_read(db, &fp), 0);
	assert_false(recmem_fp_equal(&fp, &rm->fp));
	recmem_free(&rm);
	rm = build(f->st);
	compare_fixture(f->st, rm, 1);
	recmem_free(&rm);
}

/* values the copy cannot hold exactly, and the size cap: no copy */
static void
test_refuses(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct recmem *rm;

	fx_exec(f, "UPDATE records SET count = 5000000000 WHERE id = (SELECT max(id) FROM records)");
	rm = recmem_build(store_sqlite_handle(f->st), 0, err, sizeof err);
	assert_null(rm);
	assert_non_null(strstr(err, "count"));
	fx_exec(f, "UPDATE records SET count = 5 WHERE id = (SELECT max(id) FROM records)");
	fx_exec(f, "UPDATE reports SET begin_ts = -86400 WHERE id = (SELECT min(id) FROM reports)");
	rm = recmem_build(store_sqlite_handle(f->st), 0, err, sizeof err);
	assert_null(rm);
	assert_non_null(strstr(err, "period"));
	fx_exec(f, "UPDATE reports SET begin_ts = 0 WHERE id = (SELECT min(id) FROM reports)");
	rm = recmem_build(store_sqlite_handle(f->st), 100, err, sizeof err);
	assert_null(rm);
	assert_non_null(strstr(err, "too many"));
	rm = build(f->st);
	recmem_free(&rm);
}

static json_t *
wait_ready(struct recmem_keeper *k, json_int_t builds)
{
	for (int i = 0; i < 400; i++) {
		json_t *s = recmem_keeper_status(k);

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
	struct recmem_keeper *k = recmem_keeper_new(f->db, 0, 1, NULL, NULL);
	struct recmem *rm;
	struct scan_filter all = {0};

	assert_non_null(k);
	/* it waits for the first poke */
	usleep(100000);
	{
		json_t *st = recmem_keeper_status(k);

		assert_string_equal(json_string_value(json_object_get(st, "state")), "waiting");
		json_decref(st);
	}
	recmem_keeper_poke(k);
	json_decref(wait_ready(k, 1));
	rm = recmem_keeper_get(k, db);
	assert_non_null(rm);
	recmem_keeper_put(k, rm);
	/* a change between two requests: the second one must not use the copy */
	fx_import(f, 2, "2026-02-14", 13);
	assert_null(recmem_keeper_get(k, db));
	json_decref(wait_ready(k, 2));
	rm = recmem_keeper_get(k, db);
	assert_non_null(rm);
	/* and the new copy has the new data */
	compared = failed = 0;
	assert_true(compare_one(f->st, rm, &all) > 0);
	assert_int_equal(failed, 0);
	recmem_keeper_put(k, rm);
	recmem_keeper_free(&k);
	assert_null(k);
}

/*
 * The classification kept with the copy across scans (scan.c's shared
 * context): reused while the rules and the ip_info rows of the copy's IPs
 * stay, made anew at the next scan after an enrichment write or a rule
 * change; primed for every key; a scan that finds it in use makes its
 * own.  Every answer meanwhile is the SQL scan's.
 */
static void
test_shared_context(void **state)
{
	static const char *const changes[] = {
		/* a PTR of a catalog service for the busiest source */
		"INSERT OR REPLACE INTO ip_info(ip, ptr, ptr_status, fcrdns, base_domain, asn, "
		"as_name, country, resolved_at, expires_at) SELECT source_ip, "
		"'o1.sendgrid.net', 'ok', 1, 'sendgrid.net', 11377, 'SENDGRID', 'US', 1770000000, "
		"1770600000 FROM records GROUP BY 1 ORDER BY sum(count) DESC, 1 LIMIT 1",
		/* one column of one row at a time */
		"UPDATE ip_info SET country = 'JP' WHERE ptr = 'o1.sendgrid.net'",
		"UPDATE ip_info SET fcrdns = 0 WHERE ptr = 'o1.sendgrid.net'",
		"UPDATE ip_info SET resolved_at = resolved_at + 1 WHERE ptr = 'o1.sendgrid.net'",
		"UPDATE ip_info SET ptr_status = 'pending' WHERE ptr = 'o1.sendgrid.net'",
		"DELETE FROM ip_info WHERE ptr = 'o1.sendgrid.net'",
		/* a new row */
		"INSERT OR REPLACE INTO ip_info(ip, ptr, ptr_status, fcrdns, asn, country) "
		"SELECT source_ip, NULL, 'nxdomain', NULL, 4134, 'CN' FROM records "
		"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1 OFFSET 3",
	};
	struct fx *f = *state;
	sqlite3 *db = store_sqlite_handle(f->st);
	struct recmem *rm = build(f->st);
	struct scan_mem *held;
	char err[256];
	uint64_t gen;
	int64_t id;

	assert_true(scan_mem_shared_gen(rm) == 0);
	compare_fixture(f->st, rm, 1);
	gen = scan_mem_shared_gen(rm);
	assert_true(gen != 0);
	compare_fixture(f->st, rm, 1);
	assert_true(scan_mem_shared_gen(rm) == gen);            /* kept */
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		fx_exec(f, changes[i]);
		compare_fixture(f->st, rm, 1);
		assert_true(scan_mem_shared_gen(rm) != gen);    /* made anew */
		gen = scan_mem_shared_gen(rm);
	}
	/* an enrichment write by another connection (the server's enrichment
	 * worker, `dmarcstat enrich`) */
	{
		sqlite3 *other = NULL;

		assert_int_equal(sqlite3_open(f->db, &other), SQLITE_OK);
		sqlite3_busy_timeout(other, 5000);
		assert_int_equal(sqlite3_exec(other, "UPDATE ip_info SET country = 'DE' WHERE ip = "
		    "(SELECT ip FROM ip_info WHERE country = 'CN' LIMIT 1)", NULL, NULL, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_changes(other), 1);
		sqlite3_close(other);
		compare_fixture(f->st, rm, 1);
		assert_true(scan_mem_shared_gen(rm) != gen);
		gen = scan_mem_shared_gen(rm);
		/* and one that changes nothing the copy uses: checked, kept */
		assert_int_equal(sqlite3_open(f->db, &other), SQLITE_OK);
		sqlite3_busy_timeout(other, 5000);
		assert_int_equal(sqlite3_exec(other, "INSERT INTO ip_info(ip, ptr_status) VALUES "
		    "('192.0.2.251', 'pending')", NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(other);
		compare_fixture(f->st, rm, 1);
		assert_true(scan_mem_shared_gen(rm) == gen);
	}
	/* a row for an IP the copy does not have changes nothing it uses */
	fx_exec(f, "INSERT INTO ip_info(ip, ptr, ptr_status, fcrdns) VALUES "
	    "('192.0.2.250', 'mx.example.org', 'ok', 1)");
	compare_fixture(f->st, rm, 1);
	assert_true(scan_mem_shared_gen(rm) == gen);
	/* rules: added, then removed */
	assert_int_equal(analyze_rule_add(f->st, "reject", "ip", "198.51.100.77", NULL, NULL,
	    NULL, &id, err, sizeof err), 0);
	compare_fixture(f->st, rm, 1);
	assert_true(scan_mem_shared_gen(rm) != gen);
	gen = scan_mem_shared_gen(rm);
	/* removed, then primed: a new context with every key, then nothing
	 * left to prime; the answers come from it */
	assert_int_equal(analyze_rule_remove(f->st, id, err, sizeof err), 0);
	assert_true(scan_mem_prime(db, rm) > 0);
	assert_true(scan_mem_shared_gen(rm) != gen);
	gen = scan_mem_shared_gen(rm);
	assert_int_equal(scan_mem_prime(db, rm), 0);
	assert_true(scan_mem_shared_gen(rm) == gen);
	compare_fixture(f->st, rm, 1);
	assert_true(scan_mem_shared_gen(rm) == gen);
	/* a host rule, primed */
	assert_int_equal(analyze_rule_add(f->st, "approve", "host", "*.example.com", NULL, NULL,
	    NULL, &id, err, sizeof err), 0);
	assert_true(scan_mem_prime(db, rm) > 0);
	assert_true(scan_mem_shared_gen(rm) != gen);
	gen = scan_mem_shared_gen(rm);
	compare_fixture(f->st, rm, 1);
	assert_true(scan_mem_shared_gen(rm) == gen);
	/* in use by another scan: a private context, the shared one untouched */
	held = scan_mem_new(db, rm, err, sizeof err);
	assert_non_null(held);
	assert_int_equal(scan_mem_prime(db, rm), 0);
	compare_fixture(f->st, rm, 1);
	assert_true(scan_mem_shared_gen(rm) == gen);
	scan_mem_free(&held);
	assert_null(held);
	recmem_free(&rm);                                       /* frees it too */
}

/* RECMEM_TEST_DB: the same comparison on an existing database. */
static void
test_existing_db(void **state)
{
	const char *path = getenv("RECMEM_TEST_DB");
	struct store *st;
	struct recmem *rm;
	char err[256];
	sqlite3_stmt *s = NULL;
	int64_t last = 0;
	struct scan_filter f = {0};

	(void)state;
	if (path == NULL || *path == '\0')
		skip();
	st = store_open(path, 1, err, sizeof err);
	assert_non_null(st);
	rm = build(st);
	fprintf(stderr, "  copy: %u records, %u reports, %u keys, %u signatures, %zu MiB, %.0f ms\n",
	    rm->nrec, rm->nrep, rm->nkey, rm->nsig, rm->bytes >> 20, rm->build_ms);
	assert_int_equal(sqlite3_prepare_v2(store_sqlite_handle(st),
	    "SELECT max(end_ts) FROM reports", -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		last = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	compared = failed = 0;
	for (int days = 30; days <= 730; days = days * 3 + 60) {
		f.since = last - days * DAY;
		f.until = last + DAY;
		f.domain = NULL;
		compare_one(st, rm, &f);
		f.domain = "example.com";
		compare_one(st, rm, &f);
	}
	fprintf(stderr, "  %d answers compared, %d differ\n", compared, failed);
	assert_int_equal(failed, 0);
	recmem_free(&rm);
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
		cmocka_unit_test_setup_teardown(test_shared_context, fx_setup, fx_teardown),
		cmocka_unit_test(test_existing_db),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * api_senders.c - sender intelligence in the dashboard API (docs/api.yaml):
 *
 *   GET    /api/senders            sender groups with a dashboard section each
 *                                  (own, services, forwarders, others)
 *   GET    /api/senders/sources    classified sources: filter by class, group,
 *                                  service, country, failures; sort; page
 *   GET    /api/senders/countries  messages / sources / classes per country
 *   GET    /api/readiness/DOMAIN   policy readiness for one domain and period
 *   GET    /api/rules              the user's approve / tag / reject rules
 *   POST   /api/rules              add one (JSON body)
 *   DELETE /api/rules/ID           remove one
 *   GET    /api/catalog            the known-senders catalog
 *   GET    /api/enrichment         enrichment coverage and the background worker
 *
 * The analysis (src/analyze/) classifies every record of the period at
 * query time.  It reads the server's in-memory copy of the records
 * (store/recmem.h, kept by a thread like the copy of `daily`) when that
 * copy matches what the request's connection sees: a year at 1,000,000
 * records then takes ~45-70 ms (summing its records per key of the copy;
 * each key's classification is kept with the copy across requests while
 * ip_info and the rules are unchanged, analyze/scan.c, and the warm-up
 * thread classifies every key after a build or a change); otherwise, and
 * until the copy is built after a start or a change, the SQL scan does
 * (~1 s).  The results are cached
 * here per (kind, domain, reporter, since, until), so paging, sorting and
 * filtering of the same period are answered from memory: a sources entry
 * keeps the analysed sources themselves (filtered, sorted and counted in
 * C; only a page's rows are rendered as JSON).  An entry is valid while
 * the database fingerprint (reports, ip_info and sender_rules counters,
 * re-read at most once a second, and then only when the connection saw a
 * commit since it last read it), the in-process generation (bumped by
 * every rule change) and its age (5 minutes) say so.  Entries are shared
 * read-only between threads; page items are deep-copied before they are
 * changed.  What leaves the cache is freed by the warm-up thread, not by
 * the request that pushed it out.
 *
 * Warming (api_senders_warm_*): a background thread keeps the groups and
 * sources entries of the dashboard's default period (the 30 days ending
 * today, for viewers in UTC and in Asia/Tokyo, the Japanese default) and
 * of the periods users asked for in the last SENDERS_WARM_RECENT seconds
 * fresh: at start, when the server pokes it (a keeper of the copies of
 * `daily` and of the records built a new one), and every SENDERS_WARM_EVERY ms for
 * entries whose fingerprint moved (enrichment, rules) or that are within
 * SENDERS_WARM_MARGIN seconds of their age limit; each round then has
 * every key of the copy of the records classified (analyze_prime_mem:
 * nothing to do while the copy, ip_info and the rules stay).  So a user
 * opening the Senders view normally gets a cached answer; the first
 * request for any other period sums the copy's records on demand.
 */
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/analyze.h"
#include "analyze/enrich.h"
#include "store/query.h"
#include "web/api.h"
#include "web/server.h"

#define SENDERS_CACHE_N 8
#define SENDERS_CACHE_TTL 300           /* seconds */
#define SENDERS_FP_TTL 1000             /* milliseconds */
#define SENDERS_PAGE_DEFAULT 50
#define SENDERS_PAGE_MAX 1000
#define SENDERS_STR_MAX 255
#define SENDERS_WARM_RECENT 1800        /* seconds a period asked for stays warm */
#define SENDERS_WARM_EVERY 10000        /* milliseconds between checks */
#define SENDERS_WARM_GAP 3000           /* milliseconds at least between rounds */
#define SENDERS_WARM_MARGIN 60          /* seconds before the age limit: refresh */
#define SENDERS_WARM_ASKED 2            /* user periods kept warm besides the defaults */
#define SENDERS_DAY 86400

static const char *const senders_classes[] = {
	"legitimate", "misconfigured", "forwarded", "spoofing", "unknown",
};
#define SENDERS_NCLASS 5
/* Sort rank of a class: the ones needing attention first. */
static const int senders_class_rank[SENDERS_NCLASS] = { 4, 0, 3, 1, 2 };

/* What a sources entry keeps besides its summaries: the analysed sources, to
 * render the full JSON of a page's rows (reference counted: an entry and
 * the requests that read it share it). */
struct senders_aux {
	int refs;
	struct analyze_sources *s;
};

struct senders_entry {
	struct senders_aux *aux;        /* sources entries; else NULL */
	char key[1100];
	char fp[200];
	uint64_t gen;
	int64_t made;                   /* monotonic seconds */
	uint64_t used;                  /* LRU tick */
	json_t *v;
};

static pthread_mutex_t senders_mu = PTHREAD_MUTEX_INITIALIZER;
static struct senders_entry senders_cache[SENDERS_CACHE_N];
static uint64_t senders_tick;
static uint64_t senders_gen = 1;       /* bumped by rule changes */
static char senders_fp_cur[200];
static int64_t senders_fp_at;           /* monotonic ms of senders_fp_cur */
static uint64_t senders_fp_gen;

/* Background enrichment status (api_enrich_status_set). */
static pthread_mutex_t senders_enrich_mu = PTHREAD_MUTEX_INITIALIZER;
static char senders_enrich_state[16] = "off";
static int64_t senders_enrich_last;
static struct enrich_stats senders_enrich_stats;
static int senders_enrich_has_stats;
static char senders_enrich_err[256];

static int64_t
senders_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
senders_bump(void)
{
	__atomic_add_fetch(&senders_gen, 1, __ATOMIC_SEQ_CST);
}

/* ---- data fingerprint ---------------------------------------------------- */

static int
senders_fp_read(struct store *st, char *out, size_t outlen)
{
	static const char sql[] =
	    "SELECT (SELECT coalesce(max(id), 0) FROM reports), (SELECT count(*) FROM reports),"
	    " (SELECT count(*) FROM ip_info), (SELECT coalesce(max(resolved_at), 0) FROM ip_info),"
	    " (SELECT coalesce(max(expires_at), 0) FROM ip_info),"
	    " (SELECT coalesce(sum(CASE WHEN ptr_status = 'pending' THEN 1 ELSE 0 END), 0) FROM ip_info),"
	    " (SELECT count(*) FROM sender_rules), (SELECT coalesce(max(id), 0) FROM sender_rules)";
	sqlite3 *db = store_sqlite_handle(st);
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (db == NULL || sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto done;
	if (sqlite3_step(s) == SQLITE_ROW) {
		snprintf(out, outlen, "%lld/%lld/%lld/%lld/%lld/%lld/%lld/%lld",
		    (long long)sqlite3_column_int64(s, 0), (long long)sqlite3_column_int64(s, 1),
		    (long long)sqlite3_column_int64(s, 2), (long long)sqlite3_column_int64(s, 3),
		    (long long)sqlite3_column_int64(s, 4), (long long)sqlite3_column_int64(s, 5),
		    (long long)sqlite3_column_int64(s, 6), (long long)sqlite3_column_int64(s, 7));
		rc = 0;
	}
done:
	sqlite3_finalize(s);
	if (rc != 0)
		snprintf(out, outlen, "?%lld", (long long)senders_mono_ms());  /* never matches */
	return rc;
}

/*
 * Reading the fingerprint walks ip_info (~13 ms with 28,000 enriched
 * IPs), so each connection remembers the last one it read with the state
 * of the database then: PRAGMA data_version (moves with every commit of
 * another connection) and sqlite3_total_changes64 (its own writes).  When
 * both are unchanged nothing was written since, and the fingerprint it
 * would read is the same.
 */
#define SENDERS_FP_CONNS 16

static struct senders_fp_conn {
	sqlite3 *db;
	int64_t version, changes;
	char fp[200];
} senders_fp_conns[SENDERS_FP_CONNS];   /* under senders_mu */
static unsigned senders_fp_next;

static int64_t
senders_data_version(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (db != NULL && sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* The fingerprint st would read now: remembered or read. */
static void
senders_fp_conn(struct store *st, char *out, size_t outlen)
{
	sqlite3 *db = store_sqlite_handle(st);
	int64_t version = senders_data_version(db);
	int64_t changes = db != NULL ? sqlite3_total_changes64(db) : 0;
	struct senders_fp_conn *c = NULL;
	int i;

	pthread_mutex_lock(&senders_mu);
	for (i = 0; version >= 0 && i < SENDERS_FP_CONNS; i++)
		if (senders_fp_conns[i].db == db) {
			c = &senders_fp_conns[i];
			break;
		}
	if (c != NULL && c->version == version && c->changes == changes) {
		snprintf(out, outlen, "%s", c->fp);
		pthread_mutex_unlock(&senders_mu);
		return;
	}
	pthread_mutex_unlock(&senders_mu);
	/* read after the version: a commit in between is seen again next time */
	if (senders_fp_read(st, out, outlen) != 0 || version < 0)
		return;
	pthread_mutex_lock(&senders_mu);
	if (c == NULL)
		c = &senders_fp_conns[senders_fp_next++ % SENDERS_FP_CONNS];
	c->db = db;
	c->version = version;
	c->changes = changes;
	snprintf(c->fp, sizeof(c->fp), "%s", out);
	pthread_mutex_unlock(&senders_mu);
}

/* The current fingerprint, re-read when older than SENDERS_FP_TTL or when
 * the generation moved (from the connection's memory when nothing was
 * written since it last read it). */
static void
senders_fp(struct store *st, char *out, size_t outlen, uint64_t *gen_out)
{
	int64_t now = senders_mono_ms();
	uint64_t gen = __atomic_load_n(&senders_gen, __ATOMIC_SEQ_CST);
	char fresh[200];

	pthread_mutex_lock(&senders_mu);
	if (senders_fp_gen == gen && now - senders_fp_at < SENDERS_FP_TTL) {
		snprintf(out, outlen, "%s", senders_fp_cur);
		pthread_mutex_unlock(&senders_mu);
		*gen_out = gen;
		return;
	}
	pthread_mutex_unlock(&senders_mu);
	senders_fp_conn(st, fresh, sizeof(fresh));
	pthread_mutex_lock(&senders_mu);
	snprintf(senders_fp_cur, sizeof(senders_fp_cur), "%s", fresh);
	senders_fp_at = now;
	senders_fp_gen = gen;
	pthread_mutex_unlock(&senders_mu);
	snprintf(out, outlen, "%s", fresh);
	*gen_out = gen;
}

/* ---- the cache ----------------------------------------------------------- */

static void senders_asked(const struct query *q);

typedef json_t *(*senders_make_fn)(struct server *srv, struct store *st, const struct query *q,
    const char *arg, struct senders_aux **aux);

static struct senders_aux *
senders_aux_ref(struct senders_aux *a)
{
	if (a != NULL)
		__atomic_add_fetch(&a->refs, 1, __ATOMIC_SEQ_CST);
	return a;
}

static void
senders_aux_unref(struct senders_aux **ap)
{
	struct senders_aux *a = *ap;

	*ap = NULL;
	if (a != NULL && __atomic_sub_fetch(&a->refs, 1, __ATOMIC_SEQ_CST) == 0) {
		analyze_sources_free(&a->s);
		free(a);
	}
}

/*
 * Values that left the cache are freed by the warm-up thread, not by the
 * request that pushed them out: freeing a year's analysis (15,000 sources
 * with their strings) costs ~10 ms.  Under senders_mu; freed inline when
 * there is no warm-up thread.
 */
struct senders_grave {
	json_t *v;
	struct senders_aux *aux;
	struct senders_grave *next;
};

static struct senders_grave *senders_graves;
static struct senders_warm *senders_reaper;    /* the warm-up thread, or NULL */

static void senders_reaper_wake(void);

static void
senders_discard(json_t *v, struct senders_aux *aux)
{
	struct senders_grave *g;

	if (v == NULL && aux == NULL)
		return;
	pthread_mutex_lock(&senders_mu);
	if (senders_reaper != NULL && (g = malloc(sizeof(*g))) != NULL) {
		g->v = v;
		g->aux = aux;
		g->next = senders_graves;
		senders_graves = g;
		pthread_mutex_unlock(&senders_mu);
		senders_reaper_wake();
		return;
	}
	pthread_mutex_unlock(&senders_mu);
	json_decref(v);
	senders_aux_unref(&aux);
}

/* Frees what senders_discard left; returns whether there was anything. */
static int
senders_reap(void)
{
	struct senders_grave *g;

	pthread_mutex_lock(&senders_mu);
	g = senders_graves;
	senders_graves = NULL;
	pthread_mutex_unlock(&senders_mu);
	if (g == NULL)
		return 0;
	while (g != NULL) {
		struct senders_grave *next = g->next;

		json_decref(g->v);
		senders_aux_unref(&g->aux);
		free(g);
		g = next;
	}
	return 1;
}

/* Puts v (a new reference is taken) under key with the fingerprint fp. */
static void
senders_store_fp(const char *key, json_t *v, struct senders_aux *aux, const char *fp,
    uint64_t gen)
{
	json_t *old_v;
	struct senders_aux *old_aux;
	int64_t now_s = senders_mono_ms() / 1000;
	struct senders_entry *e, *victim = NULL;

	pthread_mutex_lock(&senders_mu);
	for (int i = 0; i < SENDERS_CACHE_N; i++) {
		e = &senders_cache[i];
		if (e->v != NULL && strcmp(e->key, key) == 0) {
			victim = e;                 /* same key: replace */
			break;
		}
		if (victim == NULL || (victim->v != NULL && (e->v == NULL || e->used < victim->used)))
			victim = e;
	}
	old_v = victim->v;
	old_aux = victim->aux;
	victim->aux = senders_aux_ref(aux);
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	snprintf(victim->fp, sizeof(victim->fp), "%s", fp);
	victim->gen = gen;
	victim->made = now_s;
	victim->used = ++senders_tick;
	victim->v = json_incref(v);
	pthread_mutex_unlock(&senders_mu);
	senders_discard(old_v, old_aux);
}

/* A new reference to the entry of key fresh for (fp, gen), and its aux; or NULL. */
static json_t *
senders_find(const char *key, const char *fp, uint64_t gen, struct senders_aux **aux_out)
{
	int64_t now_s = senders_mono_ms() / 1000;
	json_t *v = NULL;

	pthread_mutex_lock(&senders_mu);
	for (int i = 0; i < SENDERS_CACHE_N && v == NULL; i++) {
		struct senders_entry *e = &senders_cache[i];

		if (e->v != NULL && strcmp(e->key, key) == 0 && e->gen == gen &&
		    strcmp(e->fp, fp) == 0 && now_s - e->made < SENDERS_CACHE_TTL) {
			e->used = ++senders_tick;
			v = json_incref(e->v);
			if (aux_out != NULL)
				*aux_out = senders_aux_ref(e->aux);
		}
	}
	pthread_mutex_unlock(&senders_mu);
	return v;
}

/*
 * Returns a new reference to the cached value of `key`, computing it with
 * make(st, q, arg) when missing or stale; NULL when make fails (reason in
 * analyze_errmsg()).  *hit says which.
 */
static json_t *
senders_cached(struct server *srv, struct store *st, const char *key, senders_make_fn make,
    const struct query *q, const char *arg, int *hit, struct senders_aux **aux_out)
{
	struct senders_aux *aux = NULL;
	char fp[200];
	uint64_t gen;
	json_t *v;

	senders_fp(st, fp, sizeof(fp), &gen);
	if ((v = senders_find(key, fp, gen, aux_out)) != NULL) {
		*hit = 1;
		return v;
	}
	*hit = 0;
	v = make(srv, st, q, arg, &aux);
	if (v == NULL)
		return NULL;
	senders_store_fp(key, v, aux, fp, gen);
	if (aux_out != NULL)
		*aux_out = aux;
	else
		senders_aux_unref(&aux);
	return v;
}

/* A new reference to the fresh entry of key (and its aux), or NULL. */
static json_t *
senders_lookup(struct store *st, const char *key, struct senders_aux **aux_out)
{
	char fp[200];
	uint64_t gen;

	senders_fp(st, fp, sizeof(fp), &gen);
	return senders_find(key, fp, gen, aux_out);
}

/* The cache key of one kind of result for one filter. */
static void
senders_key(char *out, size_t outlen, const char *kind, const struct query *q, const char *extra)
{
	snprintf(out, outlen, "%s\x1f%s\x1f%s\x1f%" PRId64 "\x1f%" PRId64 "\x1f%s", kind,
	    q->domain ? q->domain : "", q->reporter ? q->reporter : "", q->since, q->until,
	    extra ? extra : "");
}

/* Whether `key` has an entry that is fresh for `margin` more seconds. */
static int
senders_fresh(struct store *st, const char *key, int64_t margin)
{
	char fp[200];
	uint64_t gen;
	int64_t now_s = senders_mono_ms() / 1000;
	int ok = 0;

	senders_fp(st, fp, sizeof(fp), &gen);
	pthread_mutex_lock(&senders_mu);
	for (int i = 0; i < SENDERS_CACHE_N && !ok; i++) {
		struct senders_entry *e = &senders_cache[i];

		ok = e->v != NULL && strcmp(e->key, key) == 0 && e->gen == gen &&
		    strcmp(e->fp, fp) == 0 && now_s - e->made < SENDERS_CACHE_TTL - margin;
	}
	pthread_mutex_unlock(&senders_mu);
	return ok;
}

/* ---- makers --------------------------------------------------------------- */

static int
senders_int(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

static json_int_t
senders_i64(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static const char *
senders_s(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Dashboard section of a group: our own servers, the services we use,
 * forwarders and lists, everyone else. */
static const char *
senders_section(json_t *g)
{
	const char *kind = senders_s(g, "kind"), *type = senders_s(g, "service_type");
	json_t *cls = json_object_get(g, "classes");
	json_int_t msgs = senders_i64(g, "messages");
	json_int_t ours = senders_i64(cls, "legitimate") + senders_i64(cls, "misconfigured");

	if (kind && strcmp(kind, "own") == 0)
		return "own";
	if (type && (strcmp(type, "forwarder") == 0 || strcmp(type, "mailing_list") == 0))
		return "forwarders";
	if (2 * senders_i64(cls, "forwarded") > msgs)
		return "forwarders";
	if (kind && strcmp(kind, "service") == 0 && 2 * ours >= msgs && msgs > 0)
		return "services";
	return "others";
}

/* Adds each group's dashboard section and the counts per section. */
static json_t *
senders_sections(json_t *v)
{
	json_t *groups, *g, *counts;
	size_t i;

	if (v == NULL)
		return NULL;
	groups = json_object_get(v, "groups");
	counts = json_pack("{s:i, s:i, s:i, s:i}", "own", 0, "services", 0, "forwarders", 0,
	    "others", 0);
	json_array_foreach(groups, i, g) {
		const char *sec = senders_section(g);

		json_object_set_new(g, "section", json_string(sec));
		json_object_set_new(counts, sec, json_integer(senders_int(counts, sec) + 1));
	}
	json_object_set_new(v, "sections", counts);
	return v;
}

/*
 * Both entries of a period from one scan: the groups ("G", with sections)
 * and the sources ("S": summaries for the lists, the analysed sources in
 * *aux for the full JSON of a page's rows).  0, or -1 (analyze_errmsg()).
 */
static int
senders_make_pair(struct server *srv, struct store *st, const struct query *q, json_t **g,
    json_t **src, struct senders_aux **aux)
{
	struct query all = *q;
	struct senders_aux *a;
	struct recmem *rm;

	*g = *src = NULL;
	*aux = NULL;
	all.limit = 1 << 30;
	all.offset = 0;
	all.sort = NULL;
	all.source_ip = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -1;
	rm = server_recmem_get(srv, st);
	a->s = analyze_sources_collect_mem(st, rm, &all);
	server_recmem_put(srv, rm);
	if (a->s == NULL) {
		free(a);
		return -1;
	}
	a->refs = 1;
	*src = analyze_sources_summary_json(a->s);
	*g = senders_sections(analyze_sources_groups_json(a->s, 100000));
	*aux = a;
	if (*src == NULL || *g == NULL) {
		json_decref(*src);
		json_decref(*g);
		senders_aux_unref(aux);
		return -1;
	}
	return 0;
}

/*
 * The groups (kind 'G') or sources ('S') entry of q's period, computed with
 * its twin when missing.  One computation at a time (senders_pair_mu): a
 * request that waited finds the entry the other one made, so the Senders
 * view's two parallel requests scan once.  *aux gets the sources' analysis
 * for 'S' (caller unrefs).  force: recompute even when fresh for less than
 * `margin` more seconds (the warmer).
 */
static pthread_mutex_t senders_pair_mu = PTHREAD_MUTEX_INITIALIZER;

static json_t *
senders_pair_get(struct server *srv, struct store *st, const struct query *q, char kind,
    struct senders_aux **aux, int *hit, int64_t margin)
{
	char kg[1100], ks[1100], fp[200];
	const char *want = kind == 'G' ? kg : ks;
	uint64_t gen;
	json_t *g = NULL, *src = NULL, *v;
	struct senders_aux *a = NULL;

	senders_key(kg, sizeof(kg), "G", q, NULL);
	senders_key(ks, sizeof(ks), "S", q, NULL);
	if (margin == 0 && (v = senders_lookup(st, want, aux)) != NULL) {
		*hit = 1;
		return v;
	}
	pthread_mutex_lock(&senders_pair_mu);
	if (margin == 0 && (v = senders_lookup(st, want, aux)) != NULL) {
		pthread_mutex_unlock(&senders_pair_mu);
		*hit = 1;
		return v;
	}
	if (margin > 0 && senders_fresh(st, kg, margin) && senders_fresh(st, ks, margin)) {
		pthread_mutex_unlock(&senders_pair_mu);
		return NULL;
	}
	*hit = 0;
	/* the fingerprint before the work: a change meanwhile is not masked */
	senders_fp(st, fp, sizeof(fp), &gen);
	if (senders_make_pair(srv, st, q, &g, &src, &a) != 0) {
		pthread_mutex_unlock(&senders_pair_mu);
		return NULL;
	}
	senders_store_fp(kg, g, NULL, fp, gen);
	senders_store_fp(ks, src, a, fp, gen);
	pthread_mutex_unlock(&senders_pair_mu);
	if (kind == 'G') {
		json_decref(src);
		senders_aux_unref(&a);
		v = g;
	} else {
		json_decref(g);
		v = src;
		if (aux != NULL)
			*aux = a;
		else
			senders_aux_unref(&a);
	}
	return v;
}

static json_t *
senders_make_readiness(struct server *srv, struct store *st, const struct query *q,
    const char *arg, struct senders_aux **aux)
{
	struct recmem *rm = server_recmem_get(srv, st);
	json_t *v = analyze_readiness_json_mem(st, rm, arg, q->since, q->until);

	(void)aux;
	server_recmem_put(srv, rm);
	return v;
}

static json_t *
senders_make_enrichment(struct server *srv, struct store *st, const struct query *q,
    const char *arg, struct senders_aux **aux)
{
	static const char sql[] =
	    "SELECT count(*),"
	    " coalesce(sum(i.ip IS NULL OR i.ptr_status IS NULL OR i.ptr_status = 'pending'), 0),"
	    " coalesce(sum(i.ptr_status = 'ok'), 0), coalesce(sum(i.ptr_status = 'nxdomain'), 0),"
	    " coalesce(sum(i.ptr_status = 'unresolved'), 0),"
	    " coalesce(sum(i.ptr_status IN ('timeout', 'servfail', 'error')), 0),"
	    " coalesce(sum(i.fcrdns = 1), 0),"
	    " coalesce(sum(i.asn IS NOT NULL OR i.country IS NOT NULL), 0)"
	    " FROM (SELECT DISTINCT source_ip AS ip FROM records) s LEFT JOIN ip_info i ON i.ip = s.ip";
	sqlite3 *db = store_sqlite_handle(st);
	sqlite3_stmt *s = NULL;
	json_t *v = NULL;

	if (db == NULL || sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		sqlite3_finalize(s);
		return NULL;
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		v = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "ips", (json_int_t)sqlite3_column_int64(s, 0),
		    "pending", (json_int_t)sqlite3_column_int64(s, 1),
		    "ptr_ok", (json_int_t)sqlite3_column_int64(s, 2),
		    "nxdomain", (json_int_t)sqlite3_column_int64(s, 3),
		    "unresolved", (json_int_t)sqlite3_column_int64(s, 4),
		    "failed", (json_int_t)sqlite3_column_int64(s, 5),
		    "fcrdns", (json_int_t)sqlite3_column_int64(s, 6),
		    "geo", (json_int_t)sqlite3_column_int64(s, 7));
	sqlite3_finalize(s);
	return v;
}

/* ---- parameters ------------------------------------------------------------ */

struct senders_params {
	const char *cls, *group, *service, *country, *sort, *ip;
	int only_failures, desc, limit, offset;
	char bad[160];
};

static const char *
senders_arg(struct MHD_Connection *c, struct senders_params *p, const char *name)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

	if (v == NULL || v[0] == '\0')
		return NULL;
	if (strlen(v) > SENDERS_STR_MAX) {
		if (!p->bad[0])
			snprintf(p->bad, sizeof(p->bad), "%s is too long", name);
		return NULL;
	}
	return v;
}

static int
senders_class_index(const char *s)
{
	for (int i = 0; i < SENDERS_NCLASS; i++)
		if (strcmp(s, senders_classes[i]) == 0)
			return i;
	return -1;
}

static void
senders_params_read(struct MHD_Connection *c, const struct query *q, struct senders_params *p)
{
	static const char *const sorts[] = { "messages", "ip", "class", "pass", "fail", "host",
	    "group", "service", "asn", "country" };
	const char *order, *of;
	size_t i;

	memset(p, 0, sizeof(*p));
	p->cls = senders_arg(c, p, "class");
	p->group = senders_arg(c, p, "group");
	p->service = senders_arg(c, p, "service");
	p->country = senders_arg(c, p, "country");
	p->sort = senders_arg(c, p, "sort");
	order = senders_arg(c, p, "order");
	of = senders_arg(c, p, "only_failures");
	if (p->cls && senders_class_index(p->cls) < 0 && !p->bad[0])
		snprintf(p->bad, sizeof(p->bad), "class must be legitimate, misconfigured, "
		    "forwarded, spoofing or unknown");
	if (p->country && !(strcmp(p->country, "none") == 0 || (strlen(p->country) == 2 &&
	    p->country[0] >= 'A' && p->country[0] <= 'Z' && p->country[1] >= 'A' &&
	    p->country[1] <= 'Z')) && !p->bad[0])
		snprintf(p->bad, sizeof(p->bad), "country must be an ISO 3166 alpha-2 code or none");
	if (p->sort) {
		for (i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
			if (strcmp(p->sort, sorts[i]) == 0)
				break;
		if (i == sizeof(sorts) / sizeof(sorts[0]) && !p->bad[0])
			snprintf(p->bad, sizeof(p->bad), "sort must be one of messages ip class pass "
			    "fail host group service asn country");
	} else
		p->sort = "messages";
	if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0 && !p->bad[0])
		snprintf(p->bad, sizeof(p->bad), "order must be asc or desc");
	/* Numbers descend by default, names ascend. */
	if (order)
		p->desc = strcmp(order, "desc") == 0;
	else
		p->desc = strcmp(p->sort, "messages") == 0 || strcmp(p->sort, "fail") == 0 ||
		    strcmp(p->sort, "pass") == 0;
	if (of && strcmp(of, "1") == 0)
		p->only_failures = 1;
	else if (of && strcmp(of, "0") != 0 && !p->bad[0])
		snprintf(p->bad, sizeof(p->bad), "only_failures must be 0 or 1");
	p->limit = q->limit > 0 ? q->limit : SENDERS_PAGE_DEFAULT;
	if (p->limit > SENDERS_PAGE_MAX)
		p->limit = SENDERS_PAGE_MAX;
	p->offset = q->offset;
	p->ip = q->source_ip;
}

/* ---- /api/senders/sources ---------------------------------------------------- */

struct senders_row {
	struct analyze_source_row v;
	size_t idx;             /* position in the entry's sources */
	const char *s;          /* string sort key */
	double d;               /* numeric sort key */
};

static int
senders_row_cmp(const void *x, const void *y, void *arg)
{
	const struct senders_row *a = x, *b = y;
	int desc = *(const int *)arg, c;

	if (a->s != NULL || b->s != NULL) {
		/* Missing names last in both directions. */
		if (a->s == NULL)
			return 1;
		if (b->s == NULL)
			return -1;
		c = strcmp(a->s, b->s);
	} else
		c = a->d < b->d ? -1 : a->d > b->d;
	if (desc)
		c = -c;
	if (c == 0)
		c = strcmp(a->v.ip, b->v.ip);
	return c;
}

static void
senders_row_key(struct senders_row *r, const char *sort)
{
	const struct analyze_source_row *v = &r->v;
	json_int_t m = v->messages, p = v->dmarc_pass;

	r->s = NULL;
	r->d = 0;
	if (strcmp(sort, "ip") == 0)
		r->s = v->ip;
	else if (strcmp(sort, "host") == 0)
		r->s = v->ptr;
	else if (strcmp(sort, "group") == 0)
		r->s = v->group_name;
	else if (strcmp(sort, "service") == 0)
		r->s = v->service_name;
	else if (strcmp(sort, "country") == 0)
		r->s = v->country;
	else if (strcmp(sort, "asn") == 0)
		r->d = v->asn > 0 ? (double)v->asn : -1;
	else if (strcmp(sort, "class") == 0)
		r->d = v->cls >= 0 && v->cls < SENDERS_NCLASS ? senders_class_rank[v->cls] : 9;
	else if (strcmp(sort, "pass") == 0)
		r->d = m ? (double)p / (double)m : 0;
	else if (strcmp(sort, "fail") == 0)
		r->d = (double)(m - p);
	else
		r->d = (double)m;
}

/* Whether a source passes the filters other than class. */
static int
senders_keep(const struct analyze_source_row *v, const struct senders_params *p)
{
	const char *s;

	if (p->only_failures && v->messages <= v->dmarc_pass)
		return 0;
	if (p->ip && ((s = v->ip) == NULL || strcmp(s, p->ip) != 0))
		return 0;
	if (p->group && ((s = v->group) == NULL || strcmp(s, p->group) != 0))
		return 0;
	if (p->service && ((s = v->service) == NULL || strcmp(s, p->service) != 0))
		return 0;
	if (p->country) {
		s = v->country;
		if (strcmp(p->country, "none") == 0 ? s != NULL : (s == NULL ||
		    strcmp(s, p->country) != 0))
			return 0;
	}
	return 1;
}

static json_t *
senders_sources_page(json_t *all, const struct senders_aux *aux, const struct senders_params *p)
{
	json_t *page, *counts, *msgs;
	struct senders_row *rows;
	size_t i, n = 0, total, nsrc = analyze_sources_n(aux->s);
	json_int_t cc[SENDERS_NCLASS] = {0}, cm[SENDERS_NCLASS] = {0};
	int want = p->cls ? senders_class_index(p->cls) : -1;

	rows = calloc(nsrc + 1, sizeof(*rows));
	if (rows == NULL)
		return NULL;
	for (i = 0; i < nsrc; i++) {
		struct senders_row *r = &rows[n];
		int ci;

		analyze_sources_row(aux->s, i, &r->v);
		ci = r->v.cls;
		if (!senders_keep(&r->v, p))
			continue;
		if (ci >= 0 && ci < SENDERS_NCLASS) {
			cc[ci]++;
			cm[ci] += r->v.messages;
		}
		if (want >= 0 && ci != want)
			continue;
		r->idx = i;
		senders_row_key(r, p->sort);
		n++;
	}
	qsort_r(rows, n, sizeof(*rows), senders_row_cmp, (void *)&p->desc);
	page = json_array();
	total = n;
	for (i = (size_t)p->offset; i < n && i < (size_t)p->offset + (size_t)p->limit; i++) {
		json_t *o = analyze_sources_item_json(aux->s, rows[i].idx);

		if (o == NULL)
			continue;
		json_object_set_new(o, "fail", json_integer(senders_i64(o, "messages") -
		    senders_i64(o, "dmarc_pass")));
		json_array_append_new(page, o);
	}
	free(rows);
	counts = json_object();
	msgs = json_object();
	for (int k = 0; k < SENDERS_NCLASS; k++) {
		json_object_set_new(counts, senders_classes[k], json_integer(cc[k]));
		json_object_set_new(msgs, senders_classes[k], json_integer(cm[k]));
	}
	return json_pack("{s:o, s:I, s:o, s:o, s:O}", "sources", page, "total", (json_int_t)total,
	    "classes", counts, "class_messages", msgs, "catalog_version",
	    json_object_get(all, "catalog_version") ? json_object_get(all, "catalog_version") :
	    json_null());
}

/* ---- /api/senders/countries ----------------------------------------------------- */

struct senders_cc {
	char cc[4];
	json_int_t sources, messages, pass, cls[SENDERS_NCLASS];
};

static int
senders_cc_cmp(const void *x, const void *y)
{
	const struct senders_cc *a = x, *b = y;

	if (a->messages != b->messages)
		return a->messages > b->messages ? -1 : 1;
	return strcmp(a->cc, b->cc);
}

static json_t *
senders_countries(const struct senders_aux *aux, const struct senders_params *p)
{
	json_t *arr;
	struct senders_cc *cc = NULL, none;
	size_t i, n = 0, cap = 0, nsrc = analyze_sources_n(aux->s);
	int want = p->cls ? senders_class_index(p->cls) : -1;

	memset(&none, 0, sizeof(none));
	for (i = 0; i < nsrc; i++) {
		struct analyze_source_row v;
		const char *c;
		int ci;
		struct senders_cc *e = NULL;

		analyze_sources_row(aux->s, i, &v);
		c = v.country;
		ci = v.cls;
		if (!senders_keep(&v, p) || (want >= 0 && ci != want))
			continue;
		if (c == NULL || strlen(c) != 2)
			e = &none;
		else {
			for (size_t k = 0; k < n; k++)
				if (strcmp(cc[k].cc, c) == 0) {
					e = &cc[k];
					break;
				}
			if (e == NULL) {
				if (n == cap) {
					struct senders_cc *nc;

					cap = cap ? cap * 2 : 64;
					nc = realloc(cc, cap * sizeof(*cc));
					if (nc == NULL) {
						free(cc);
						return NULL;
					}
					cc = nc;
				}
				e = &cc[n++];
				memset(e, 0, sizeof(*e));
				memcpy(e->cc, c, 2);
			}
		}
		e->sources++;
		e->messages += v.messages;
		e->pass += v.dmarc_pass;
		for (int k = 0; k < SENDERS_NCLASS; k++)
			e->cls[k] += v.classes[k];
	}
	if (n > 1)
		qsort(cc, n, sizeof(*cc), senders_cc_cmp);
	arr = json_array();
	for (size_t k = 0; k < n; k++) {
		json_t *cls = json_object();

		for (int j = 0; j < SENDERS_NCLASS; j++)
			json_object_set_new(cls, senders_classes[j], json_integer(cc[k].cls[j]));
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I, s:f, s:o}",
		    "country", cc[k].cc, "sources", cc[k].sources, "messages", cc[k].messages,
		    "dmarc_pass", cc[k].pass, "pass_rate", cc[k].messages ?
		    100.0 * (double)cc[k].pass / (double)cc[k].messages : 0.0, "classes", cls));
	}
	free(cc);
	return json_pack("{s:o, s:{s:I, s:I}}", "countries", arr, "unknown",
	    "sources", none.sources, "messages", none.messages);
}

/* ---- GET routes ------------------------------------------------------------------ */

static void
senders_fail(struct api_reply *out)
{
	const char *m = analyze_errmsg();

	if (strstr(m, "unknown class") != NULL)
		api_error(out, 400, "bad_request", m);
	else if (strstr(m, "locked") != NULL || strstr(m, "busy") != NULL)
		api_error(out, 503, "busy", "the database is busy; try again");
	else
		api_error(out, 500, "internal", m);
}

static void
senders_enrichment_reply(json_t *counts, struct api_reply *out)
{
	json_t *v = json_deep_copy(counts), *w;

	pthread_mutex_lock(&senders_enrich_mu);
	w = json_pack("{s:s, s:o}", "state", senders_enrich_state,
	    "last_run", senders_enrich_last ? json_integer(senders_enrich_last) : json_null());
	if (senders_enrich_has_stats) {
		const struct enrich_stats *s = &senders_enrich_stats;

		json_object_set_new(w, "last", json_pack("{s:I, s:I, s:I, s:I, s:I, s:b, s:s, s:f}",
		    "ips", (json_int_t)s->candidates, "ok", (json_int_t)s->ok,
		    "nxdomain", (json_int_t)s->nxdomain, "unresolved", (json_int_t)s->unresolved,
		    "geo", (json_int_t)s->geo, "dns_gave_up", s->dns_gave_up,
		    "geo_source", s->geo_source ? s->geo_source : "none", "seconds", s->seconds));
	}
	if (senders_enrich_err[0])
		json_object_set_new(w, "error", json_string(senders_enrich_err));
	pthread_mutex_unlock(&senders_enrich_mu);
	json_object_set_new(v, "worker", w);
	api_json(out, 200, v);
}

int
api_senders_get(struct server *srv, struct MHD_Connection *c, char **seg, int n,
    const struct query *q, struct api_reply *out)
{
	struct senders_params p;
	struct senders_aux *aux = NULL;
	struct store *st;
	char key[1100];
	int hit = 0;
	json_t *v;

	if (!((strcmp(seg[1], "senders") == 0 && (n == 2 || (n == 3 &&
	    (strcmp(seg[2], "sources") == 0 || strcmp(seg[2], "countries") == 0)))) ||
	    (strcmp(seg[1], "readiness") == 0 && n == 3) ||
	    (strcmp(seg[1], "rules") == 0 && n == 2) ||
	    (strcmp(seg[1], "catalog") == 0 && n == 2) ||
	    (strcmp(seg[1], "enrichment") == 0 && n == 2)))
		return 0;
	senders_params_read(c, q, &p);
	if (p.bad[0]) {
		api_error(out, 400, "bad_request", p.bad);
		return 1;
	}
	if (q->since && q->until && q->since >= q->until) {
		api_error(out, 400, "bad_request", "since must be before until");
		return 1;
	}
	if (strcmp(seg[1], "catalog") == 0) {
		api_json(out, 200, analyze_catalog_json());
		return 1;
	}
	st = server_store_get(srv);
	if (strcmp(seg[1], "rules") == 0) {
		v = analyze_rules_json(st);
		server_store_put(srv, st);
		if (v == NULL)
			senders_fail(out);
		else
			api_json(out, 200, v);
		return 1;
	}
	if (strcmp(seg[1], "enrichment") == 0) {
		senders_key(key, sizeof(key), "E", &(struct query){0}, NULL);
		v = senders_cached(srv, st, key, senders_make_enrichment, q, NULL, &hit, NULL);
		server_store_put(srv, st);
		if (v == NULL)
			api_error(out, 500, "internal", "cannot count the enriched sources");
		else
			senders_enrichment_reply(v, out);
		json_decref(v);
		return 1;
	}
	if (strcmp(seg[1], "readiness") == 0) {
		if (strlen(seg[2]) > SENDERS_STR_MAX) {
			server_store_put(srv, st);
			api_error(out, 400, "bad_request", "domain is too long");
			return 1;
		}
		senders_key(key, sizeof(key), "R", q, seg[2]);
		v = senders_cached(srv, st, key, senders_make_readiness, q, seg[2], &hit, NULL);
		server_store_put(srv, st);
		if (v == NULL)
			senders_fail(out);
		else
			api_json(out, 200, v);
		return 1;
	}
	if (n == 2 || strcmp(seg[2], "sources") == 0 || strcmp(seg[2], "countries") == 0)
		senders_asked(q);
	if (n == 2) {
		senders_key(key, sizeof(key), "G", q, NULL);
		v = senders_pair_get(srv, st, q, 'G', NULL, &hit, 0);
		server_store_put(srv, st);
		if (v == NULL)
			senders_fail(out);
		else
			api_json(out, 200, v);
		return 1;
	}
	senders_key(key, sizeof(key), "S", q, NULL);
	v = senders_pair_get(srv, st, q, 'S', &aux, &hit, 0);
	server_store_put(srv, st);
	if (v == NULL) {
		senders_fail(out);
		return 1;
	}
	if (strcmp(seg[2], "sources") == 0)
		api_json(out, 200, senders_sources_page(v, aux, &p));
	else
		api_json(out, 200, senders_countries(aux, &p));
	json_decref(v);
	senders_aux_unref(&aux);
	return 1;
}

/* ---- warming ------------------------------------------------------------------------ */

struct senders_asked {
	char domain[SENDERS_STR_MAX + 1], reporter[SENDERS_STR_MAX + 1];
	int has_domain, has_reporter;
	int64_t since, until;
	int64_t at;                     /* monotonic seconds of the last ask */
};

static struct senders_asked senders_recent[SENDERS_WARM_ASKED];

struct senders_warm {
	struct server *srv;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, poke;
};

/* Remembers the period of a sender view request (the last few). */
static void
senders_asked(const struct query *q)
{
	struct senders_asked *slot = NULL;
	int64_t now_s = senders_mono_ms() / 1000;

	pthread_mutex_lock(&senders_mu);
	for (int i = 0; i < SENDERS_WARM_ASKED; i++) {
		struct senders_asked *a = &senders_recent[i];

		if (a->at != 0 && a->since == q->since && a->until == q->until &&
		    a->has_domain == (q->domain != NULL) && a->has_reporter == (q->reporter != NULL) &&
		    (!q->domain || strcmp(a->domain, q->domain) == 0) &&
		    (!q->reporter || strcmp(a->reporter, q->reporter) == 0)) {
			slot = a;
			break;
		}
		if (slot == NULL || a->at < slot->at)
			slot = a;
	}
	slot->has_domain = q->domain != NULL;
	slot->has_reporter = q->reporter != NULL;
	snprintf(slot->domain, sizeof(slot->domain), "%s", q->domain ? q->domain : "");
	snprintf(slot->reporter, sizeof(slot->reporter), "%s", q->reporter ? q->reporter : "");
	slot->since = q->since;
	slot->until = q->until;
	slot->at = now_s;
	pthread_mutex_unlock(&senders_mu);
}

/* Computes the groups and sources entries of q unless they are fresh for
 * SENDERS_WARM_MARGIN more seconds. */
static void
senders_warm_one(struct server *srv, const struct query *q)
{
	struct store *st = server_store_get(srv);
	int hit;

	json_decref(senders_pair_get(srv, st, q, 'G', NULL, &hit, SENDERS_WARM_MARGIN));
	server_store_put(srv, st);
}

/* Every key of the copy of the records classified into the context kept
 * with it (nothing to do while the copy, ip_info and the rules stay): the
 * first request of any other period then only sums. */
static void
senders_warm_prime(struct server *srv)
{
	struct store *st = server_store_get(srv);
	struct recmem *rm = server_recmem_get(srv, st);

	if (rm != NULL)
		analyze_prime_mem(st, rm);
	server_recmem_put(srv, rm);
	server_store_put(srv, st);
}

/* The default period (30 days ending today) for a zone at a fixed offset. */
static void
senders_default_period(int64_t now, int64_t offset, struct query *q)
{
	int64_t local = now + offset, mid = local - ((local % SENDERS_DAY) + SENDERS_DAY) %
	    SENDERS_DAY - offset;

	memset(q, 0, sizeof(*q));
	q->until = mid + SENDERS_DAY;
	q->since = q->until - 30 * SENDERS_DAY;
}

/* Frees the discarded values without holding w->mu meanwhile. */
static void
senders_warm_reap_locked(struct senders_warm *w)
{
	pthread_mutex_unlock(&w->mu);
	senders_reap();
	pthread_mutex_lock(&w->mu);
}

static void
senders_reaper_wake(void)
{
	struct senders_warm *w;

	pthread_mutex_lock(&senders_mu);
	w = senders_reaper;
	if (w != NULL) {
		/* under senders_mu: api_senders_warm_free clears senders_reaper
		 * under it before destroying w */
		pthread_mutex_lock(&w->mu);
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
	pthread_mutex_unlock(&senders_mu);
}

static void *
senders_warm_main(void *arg)
{
	struct senders_warm *w = arg;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		static const int64_t zones[] = {0, 9 * 3600};   /* UTC, Asia/Tokyo */
		struct senders_asked asked[SENDERS_WARM_ASKED];
		int64_t now_s = senders_mono_ms() / 1000;
		struct timespec ts;
		struct query q;

		w->poke = 0;
		pthread_mutex_unlock(&w->mu);
		for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
			senders_default_period(server_now(w->srv), zones[z], &q);
			senders_warm_one(w->srv, &q);
		}
		senders_warm_prime(w->srv);
		pthread_mutex_lock(&senders_mu);
		memcpy(asked, senders_recent, sizeof(asked));
		pthread_mutex_unlock(&senders_mu);
		for (int i = 0; i < SENDERS_WARM_ASKED; i++) {
			if (asked[i].at == 0 || now_s - asked[i].at > SENDERS_WARM_RECENT)
				continue;
			memset(&q, 0, sizeof(q));
			q.domain = asked[i].has_domain ? asked[i].domain : NULL;
			q.reporter = asked[i].has_reporter ? asked[i].reporter : NULL;
			q.since = asked[i].since;
			q.until = asked[i].until;
			senders_warm_one(w->srv, &q);
		}
		/* a round that did work is followed by a pause even when poked:
		 * the data may change every second, the analysis takes longer;
		 * what left the cache meanwhile is freed while waiting */
		pthread_mutex_lock(&w->mu);
		if (w->stop)
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += SENDERS_WARM_GAP / 1000;
		do {
			senders_warm_reap_locked(w);
		} while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0);
		if (w->stop || w->poke)
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (SENDERS_WARM_EVERY - SENDERS_WARM_GAP) / 1000;
		do {
			senders_warm_reap_locked(w);
		} while (!w->stop && !w->poke && pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct senders_warm *
api_senders_warm_new(struct server *srv)
{
	struct senders_warm *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->srv = srv;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->th, NULL, senders_warm_main, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return NULL;
	}
	pthread_mutex_lock(&senders_mu);
	senders_reaper = w;
	/* a server's connections are not those of one run before in this
	 * process (tests): what they remembered goes */
	memset(senders_fp_conns, 0, sizeof(senders_fp_conns));
	pthread_mutex_unlock(&senders_mu);
	return w;
}

void
api_senders_warm_poke(struct senders_warm *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->poke = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
api_senders_warm_free(struct senders_warm **wp)
{
	struct senders_warm *w = wp ? *wp : NULL;

	if (w == NULL)
		return;
	pthread_mutex_lock(&senders_mu);
	if (senders_reaper == w)
		senders_reaper = NULL;
	memset(senders_fp_conns, 0, sizeof(senders_fp_conns));
	pthread_mutex_unlock(&senders_mu);
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	senders_reap();
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
	*wp = NULL;
}

/* ---- POST /api/rules, DELETE /api/rules/ID ------------------------------------------ */

/* Optional string member: 0 with *out (NULL when absent/null), -1 when
 * it is not a string or too long. */
static int
senders_member(json_t *o, const char *k, size_t max, const char **out)
{
	json_t *v = json_object_get(o, k);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) > max)
		return -1;
	*out = json_string_value(v)[0] ? json_string_value(v) : NULL;
	return 0;
}

static void
senders_rule_add(struct server *srv, const char *body, size_t len, struct api_reply *out)
{
	static const char *const allowed[] = { "action", "kind", "pattern", "tag", "note", "domain" };
	const char *action, *kind, *pattern, *tag, *note, *domain, *k;
	json_error_t jerr;
	json_t *o, *v;
	struct store *w;
	char err[256];
	int64_t id = 0;
	int rc;

	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		api_error(out, 400, "bad_request", "the body must be a JSON object");
		return;
	}
	json_object_foreach(o, k, v) {
		size_t i;

		for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (i == sizeof(allowed) / sizeof(allowed[0])) {
			snprintf(err, sizeof(err), "unknown member \"%.40s\"", k);
			json_decref(o);
			api_error(out, 400, "bad_request", err);
			return;
		}
	}
	if (senders_member(o, "action", 16, &action) || senders_member(o, "kind", 16, &kind) ||
	    senders_member(o, "pattern", SENDERS_STR_MAX, &pattern) ||
	    senders_member(o, "tag", 64, &tag) || senders_member(o, "note", 500, &note) ||
	    senders_member(o, "domain", SENDERS_STR_MAX, &domain)) {
		json_decref(o);
		api_error(out, 400, "bad_request", "action, kind, pattern, tag (64), note (500) and "
		    "domain must be strings of bounded length");
		return;
	}
	if (action == NULL || kind == NULL || pattern == NULL) {
		json_decref(o);
		api_error(out, 400, "bad_request", "action, kind and pattern are required");
		return;
	}
	if ((w = server_writer_get(srv, err, sizeof(err))) == NULL) {
		json_decref(o);
		api_error(out, 503, "busy", err);
		return;
	}
	rc = analyze_rule_add(w, action, kind, pattern, tag, note, domain, &id, err, sizeof(err));
	server_writer_put(srv);
	json_decref(o);
	if (rc != 0) {
		api_error(out, 400, "bad_request", err);
		return;
	}
	senders_bump();
	api_json(out, 201, json_pack("{s:I}", "id", (json_int_t)id));
}

static void
senders_rule_remove(struct server *srv, const char *ids, struct api_reply *out)
{
	struct store *w;
	char err[256], *end;
	long long id;
	int rc;

	errno = 0;
	id = strtoll(ids, &end, 10);
	if (errno || *end || id <= 0 || ids[0] == '+' || ids[0] == '-') {
		api_error(out, 404, "not_found", "no such rule");
		return;
	}
	if ((w = server_writer_get(srv, err, sizeof(err))) == NULL) {
		api_error(out, 503, "busy", err);
		return;
	}
	rc = analyze_rule_remove(w, id, err, sizeof(err));
	server_writer_put(srv);
	if (rc == 1) {
		api_error(out, 404, "not_found", "no such rule");
		return;
	}
	if (rc != 0) {
		api_error(out, 500, "internal", err);
		return;
	}
	senders_bump();
	api_json(out, 200, json_pack("{s:I}", "removed", (json_int_t)id));
}

void
api_action(struct server *srv, struct MHD_Connection *c, const char *method,
    const char *url, const char *body, size_t len, struct api_reply *out)
{
	memset(out, 0, sizeof(*out));
	if (strcmp(method, "POST") == 0 && strcmp(url, "/api/rules") == 0)
		senders_rule_add(srv, body, len, out);
	else if (strcmp(method, "DELETE") == 0 && strncmp(url, "/api/rules/", 11) == 0 &&
	    strchr(url + 11, '/') == NULL)
		senders_rule_remove(srv, url + 11, out);
	else
		api_error(out, 404, "not_found", "no such API endpoint");
}

void
api_enrich_status_set(const char *state, int64_t last_run, const struct enrich_stats *last,
    const char *error)
{
	pthread_mutex_lock(&senders_enrich_mu);
	snprintf(senders_enrich_state, sizeof(senders_enrich_state), "%s", state ? state : "off");
	if (last_run)
		senders_enrich_last = last_run;
	if (last != NULL) {
		senders_enrich_stats = *last;
		senders_enrich_has_stats = 1;
	}
	snprintf(senders_enrich_err, sizeof(senders_enrich_err), "%s", error ? error : "");
	pthread_mutex_unlock(&senders_enrich_mu);
}

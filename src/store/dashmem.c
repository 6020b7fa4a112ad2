/*
 * dashmem.c - the in-memory copy of `daily` and its keeper (dashmem.h).
 *
 * Build: one statement reads `daily` in primary-key order inside a read
 * transaction that also reads the fingerprint, so both describe the same
 * snapshot.  Strings are interned into one byte pool per column with an
 * open-addressing hash (FNV-1a); consecutive rows usually repeat the
 * previous row's strings, which are then not hashed again.  Columns grow by
 * doubling (amortised, never per row).  After the load each string table
 * gets its BINARY-collation rank, so sorting by IP in C orders exactly as
 * SQLite's ORDER BY does.
 *
 * Keeper: a thread with its own read-only connection.  It builds, then
 * waits on a condition variable for DASHMEM_POLL_MS at a time; on wake-up
 * it reads PRAGMA data_version (free) and only when that moved (any commit
 * by another connection, enrichment included) the fingerprint (~1 ms);
 * only when the fingerprint moved it rebuilds.  Copies are reference
 * counted under the keeper's mutex; the old copy is freed by whoever drops
 * the last reference.
 *
 * Public: dashmem_* (dashmem.h).
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/dashmem.h"
#include "store/memkeep.h"
#include "store/store.h"

/* ---- fingerprint ----------------------------------------------------------- */

static const char dm_fp_sql[] =
	"SELECT (SELECT coalesce(max(id), 0) FROM reports),"
	" (SELECT coalesce(max(id), 0) FROM ledger),"
	" (SELECT count(*) FROM daily_org),"
	" (SELECT coalesce(sum(messages), 0) FROM daily_org),"
	" (SELECT coalesce(sum(messages * (day / 86400 % 1000)), 0) FROM daily_org),"
	" count(*), coalesce(sum((SELECT min(day) FROM daily WHERE policy_domain=v)"
	"  + 3 * (SELECT max(day) FROM daily WHERE policy_domain=v)), 0)"
	" FROM (WITH RECURSIVE dd(v) AS (SELECT min(policy_domain) FROM daily"
	" UNION ALL SELECT (SELECT min(policy_domain) FROM daily WHERE policy_domain>dd.v)"
	" FROM dd WHERE dd.v IS NOT NULL) SELECT v FROM dd WHERE v IS NOT NULL)";

int
dashmem_fp_read(sqlite3 *db, struct dashmem_fp *fp)
{
	return memkeep_read_row(db, dm_fp_sql, fp->v, DASHMEM_FP_N);
}

int
dashmem_fp_equal(const struct dashmem_fp *a, const struct dashmem_fp *b)
{
	return memcmp(a->v, b->v, sizeof(a->v)) == 0;
}

/* ---- string tables ------------------------------------------------------------ */

static uint32_t
dm_hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 16777619u;
	}
	return h;
}

static int
dm_strs_init(struct dashmem_strs *s)
{
	memset(s, 0, sizeof(*s));
	s->cap = 256;
	s->nslot = 512;
	s->pool_cap = 4096;
	s->off = malloc((s->cap + 1) * sizeof(*s->off));
	s->slot = calloc(s->nslot, sizeof(*s->slot));
	s->pool = malloc(s->pool_cap);
	if (s->off == NULL || s->slot == NULL || s->pool == NULL)
		return -1;
	s->off[0] = 0;
	return 0;
}

static void
dm_strs_free(struct dashmem_strs *s)
{
	free(s->pool);
	free(s->off);
	free(s->slot);
	free(s->rank);
	memset(s, 0, sizeof(*s));
}

static int
dm_str_eq(const struct dashmem_strs *s, uint32_t id, const char *p, size_t n)
{
	size_t len = (size_t)(s->off[id + 1] - s->off[id]);

	return len == n && memcmp(s->pool + s->off[id], p, n) == 0;
}

uint32_t
dashmem_find(const struct dashmem_strs *s, const char *p, size_t n)
{
	uint32_t mask = s->nslot - 1, i = dm_hash(p, n) & mask;

	for (; s->slot[i] != 0; i = (i + 1) & mask)
		if (dm_str_eq(s, s->slot[i] - 1, p, n))
			return s->slot[i] - 1;
	return UINT32_MAX;
}

static int
dm_rehash(struct dashmem_strs *s)
{
	uint32_t nslot = s->nslot * 2, mask = nslot - 1;
	uint32_t *slot = calloc(nslot, sizeof(*slot));

	if (slot == NULL)
		return -1;
	for (uint32_t id = 0; id < s->n; id++) {
		size_t len;
		const char *p = dashmem_str(s, id, &len);
		uint32_t i = dm_hash(p, len) & mask;

		while (slot[i] != 0)
			i = (i + 1) & mask;
		slot[i] = id + 1;
	}
	free(s->slot);
	s->slot = slot;
	s->nslot = nslot;
	return 0;
}

/* Id of bytes p[0..n), added when new; UINT32_MAX when out of memory. */
static uint32_t
dm_intern(struct dashmem_strs *s, const char *p, size_t n)
{
	uint32_t mask = s->nslot - 1, i = dm_hash(p, n) & mask, id;

	for (; s->slot[i] != 0; i = (i + 1) & mask)
		if (dm_str_eq(s, s->slot[i] - 1, p, n))
			return s->slot[i] - 1;
	if (s->n == UINT32_MAX - 1)
		return UINT32_MAX;
	if (s->n == s->cap) {
		uint64_t *o = realloc(s->off, ((size_t)s->cap * 2 + 1) * sizeof(*o));

		if (o == NULL)
			return UINT32_MAX;
		s->off = o;
		s->cap *= 2;
	}
	while (s->pool_len + n > s->pool_cap) {
		char *np = realloc(s->pool, s->pool_cap * 2);

		if (np == NULL)
			return UINT32_MAX;
		s->pool = np;
		s->pool_cap *= 2;
	}
	memcpy(s->pool + s->pool_len, p, n);
	s->pool_len += n;
	id = s->n++;
	s->off[s->n] = s->pool_len;
	s->slot[i] = id + 1;
	if ((uint64_t)s->n * 2 > s->nslot && dm_rehash(s) != 0)
		return UINT32_MAX;
	return id;
}

/* BINARY collation: memcmp over the common length, then the shorter first. */
static int
dm_bincmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c != 0)
		return c;
	return an < bn ? -1 : an > bn;
}

static int
dm_rank_cmp(const void *x, const void *y, void *arg)
{
	const struct dashmem_strs *s = arg;
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	size_t an, bn;
	const char *ap = dashmem_str(s, a, &an), *bp = dashmem_str(s, b, &bn);

	return dm_bincmp(ap, an, bp, bn);
}

static int
dm_strs_rank(struct dashmem_strs *s)
{
	uint32_t *order = malloc(((size_t)s->n + 1) * sizeof(*order));

	s->rank = malloc(((size_t)s->n + 1) * sizeof(*s->rank));
	if (order == NULL || s->rank == NULL) {
		free(order);
		return -1;
	}
	for (uint32_t i = 0; i < s->n; i++)
		order[i] = i;
	qsort_r(order, s->n, sizeof(*order), dm_rank_cmp, s);
	for (uint32_t i = 0; i < s->n; i++)
		s->rank[order[i]] = i;
	free(order);
	return 0;
}

static size_t
dm_strs_bytes(const struct dashmem_strs *s)
{
	return s->pool_cap + ((size_t)s->cap + 1) * sizeof(*s->off) +
	    (size_t)s->nslot * sizeof(*s->slot) + (size_t)s->n * sizeof(*s->rank);
}

/* ---- the copy ------------------------------------------------------------------- */

void
dashmem_free(struct dashmem **dmp)
{
	struct dashmem *dm = dmp ? *dmp : NULL;

	if (dm == NULL)
		return;
	dm_strs_free(&dm->doms);
	dm_strs_free(&dm->ips);
	dm_strs_free(&dm->orgs);
	dm_strs_free(&dm->hfs);
	free(dm->dv);
	free(dm->gday);
	free(dm->gstart);
	free(dm->ip);
	free(dm->org);
	free(dm->hf);
	free(dm->msg);
	free(dm->fl);
	free(dm);
	*dmp = NULL;
}

static double
dm_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* grows the row columns to hold `want` rows */
static int
dm_grow_rows(struct dashmem *dm, uint32_t *cap, uint32_t want)
{
	uint32_t nc = *cap ? *cap : 65536;

	while (nc < want)
		nc = nc > UINT32_MAX / 2 ? UINT32_MAX : nc * 2;
#define DM_RE(f) do { \
		void *p_ = realloc(dm->f, (size_t)nc * sizeof(*dm->f)); \
		if (p_ == NULL) \
			return -1; \
		dm->f = p_; \
	} while (0)
	DM_RE(ip);
	DM_RE(org);
	DM_RE(hf);
	DM_RE(msg);
	DM_RE(fl);
#undef DM_RE
	*cap = nc;
	return 0;
}

static int
dm_grow_groups(struct dashmem *dm, uint32_t *cap, uint32_t want)
{
	uint32_t nc = *cap ? *cap * 2 : 4096;
	int64_t *d;
	uint32_t *s;

	if (want < *cap)
		return 0;
	while (nc <= want)
		nc *= 2;
	if ((d = realloc(dm->gday, (size_t)nc * sizeof(*d))) == NULL)
		return -1;
	dm->gday = d;
	if ((s = realloc(dm->gstart, ((size_t)nc + 1) * sizeof(*s))) == NULL)
		return -1;
	dm->gstart = s;
	*cap = nc;
	return 0;
}

static int
dm_grow_doms(struct dashmem *dm, uint32_t *cap)
{
	uint32_t nc = *cap ? *cap * 2 : 64;
	struct dashmem_domain *v;

	if (dm->ndom < *cap)
		return 0;
	if ((v = realloc(dm->dv, (size_t)nc * sizeof(*v))) == NULL)
		return -1;
	dm->dv = v;
	*cap = nc;
	return 0;
}

/* A text column: bytes and length; -1 when it is not TEXT. */
static int
dm_text(sqlite3_stmt *s, int i, const char **p, size_t *n)
{
	if (sqlite3_column_type(s, i) != SQLITE_TEXT)
		return -1;
	*p = (const char *)sqlite3_column_text(s, i);
	*n = (size_t)sqlite3_column_bytes(s, i);
	return *p != NULL ? 0 : -1;
}

static int
dm_is(const char *p, size_t n, const char *word)
{
	size_t w = strlen(word);

	return n == w && memcmp(p, word, w) == 0;
}

struct dm_last {
	size_t n;
	uint32_t id;
	char buf[256];
};

/* Intern with a one-entry memo of the previous row's value. */
static uint32_t
dm_intern_memo(struct dashmem_strs *s, struct dm_last *m, const char *p, size_t n)
{
	uint32_t id;

	if (m->id != UINT32_MAX && n == m->n && memcmp(m->buf, p, n) == 0)
		return m->id;
	id = dm_intern(s, p, n);
	if (id != UINT32_MAX && n <= sizeof(m->buf)) {
		memcpy(m->buf, p, n);
		m->n = n;
		m->id = id;
	} else
		m->id = UINT32_MAX;      /* too long to remember: looked up next time */
	return id;
}

static const char dm_load_sql[] =
	"SELECT policy_domain, day, source_ip, org_name, header_from, disposition,"
	" dkim_eval, spf_eval, messages FROM daily ORDER BY policy_domain, day";

struct dashmem *
dashmem_build(sqlite3 *db, uint32_t max_rows, char *err, size_t errlen)
{
	struct dashmem *dm = calloc(1, sizeof(*dm));
	sqlite3_stmt *s = NULL;
	uint32_t rcap = 0, gcap = 0, dcap = 0, cur_dom = UINT32_MAX;
	struct dm_last lip = {.id = UINT32_MAX}, lorg = {.id = UINT32_MAX},
	    lhf = {.id = UINT32_MAX};
	int64_t last_day = 0;
	double t0 = dm_ms();
	int rc, in_txn = 0;
	const char *why = NULL;

	if (max_rows == 0)
		max_rows = DASHMEM_ROWS_MAX;
	if (dm == NULL || dm_strs_init(&dm->doms) || dm_strs_init(&dm->ips) ||
	    dm_strs_init(&dm->orgs) || dm_strs_init(&dm->hfs)) {
		why = "out of memory";
		goto fail;
	}
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		why = sqlite3_errmsg(db);
		goto fail;
	}
	in_txn = 1;
	if (dashmem_fp_read(db, &dm->fp) != 0) {
		why = "cannot read the fingerprint";
		goto fail;
	}
	if (sqlite3_prepare_v2(db, dm_load_sql, -1, &s, NULL) != SQLITE_OK) {
		why = sqlite3_errmsg(db);
		goto fail;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *dp, *ipp, *op, *hp, *disp, *dk, *sp;
		size_t dn, ipn, on, hn, dispn, dkn, spn;
		int64_t day, m;
		uint32_t r = dm->nrow, d;
		uint8_t f = 0;

		if (dm_text(s, 0, &dp, &dn) || dm_text(s, 2, &ipp, &ipn) || dm_text(s, 3, &op, &on) ||
		    dm_text(s, 4, &hp, &hn) || dm_text(s, 5, &disp, &dispn) ||
		    dm_text(s, 6, &dk, &dkn) || dm_text(s, 7, &sp, &spn) ||
		    sqlite3_column_type(s, 1) != SQLITE_INTEGER ||
		    sqlite3_column_type(s, 8) != SQLITE_INTEGER) {
			why = "a daily row with a value of another type";
			goto fail;
		}
		day = sqlite3_column_int64(s, 1);
		m = sqlite3_column_int64(s, 8);
		if (m < 0 || m > (int64_t)UINT32_MAX) {
			why = "a daily row with messages outside 0..2^32-1";
			goto fail;
		}
		if (r >= max_rows) {
			why = "too many daily rows";
			goto fail;
		}
		/* a new domain? rows come in BINARY order of the domain */
		if (cur_dom == UINT32_MAX || !dm_str_eq(&dm->doms, cur_dom, dp, dn)) {
			size_t pn;
			const char *pp = cur_dom == UINT32_MAX ? NULL : dashmem_str(&dm->doms, cur_dom, &pn);

			if (pp != NULL && dm_bincmp(pp, pn, dp, dn) >= 0) {
				why = "daily rows out of order";
				goto fail;
			}
			if ((d = dm_intern(&dm->doms, dp, dn)) == UINT32_MAX ||
			    dm_grow_doms(dm, &dcap) != 0) {
				why = "out of memory";
				goto fail;
			}
			if (dm->ndom > 0)
				dm->dv[dm->ndom - 1].g1 = dm->ngroup;
			dm->dv[dm->ndom].name = d;
			dm->dv[dm->ndom].g0 = dm->ngroup;
			dm->ndom++;
			cur_dom = d;
			last_day = INT64_MIN;
		}
		if (dm->ngroup == 0 || day != last_day ||
		    dm->dv[dm->ndom - 1].g0 == dm->ngroup) {
			if (day < last_day) {
				why = "daily rows out of order";
				goto fail;
			}
			if (dm_grow_groups(dm, &gcap, dm->ngroup + 1) != 0) {
				why = "out of memory";
				goto fail;
			}
			dm->gday[dm->ngroup] = day;
			dm->gstart[dm->ngroup] = r;
			dm->ngroup++;
			last_day = day;
		}
		if (r >= rcap && dm_grow_rows(dm, &rcap, r + 1) != 0) {
			why = "out of memory";
			goto fail;
		}
		if (dm_is(dk, dkn, "pass"))
			f |= DASHMEM_DKIM;
		if (dm_is(sp, spn, "pass"))
			f |= DASHMEM_SPF;
		if (dm_is(disp, dispn, "quarantine"))
			f |= DASHMEM_QUAR;
		else if (dm_is(disp, dispn, "reject"))
			f |= DASHMEM_REJ;
		dm->ip[r] = dm_intern_memo(&dm->ips, &lip, ipp, ipn);
		dm->org[r] = dm_intern_memo(&dm->orgs, &lorg, op, on);
		dm->hf[r] = dm_intern_memo(&dm->hfs, &lhf, hp, hn);
		if (dm->ip[r] == UINT32_MAX || dm->org[r] == UINT32_MAX || dm->hf[r] == UINT32_MAX) {
			why = "out of memory";
			goto fail;
		}
		dm->msg[r] = (uint32_t)m;
		dm->fl[r] = f;
		dm->nrow++;
	}
	if (rc != SQLITE_DONE) {
		why = sqlite3_errmsg(db);
		goto fail;
	}
	sqlite3_finalize(s);
	s = NULL;
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	in_txn = 0;
	if (dm->ndom > 0)
		dm->dv[dm->ndom - 1].g1 = dm->ngroup;
	if (dm_grow_groups(dm, &gcap, dm->ngroup + 1) != 0 || dm_strs_rank(&dm->ips) != 0 ||
	    dm_strs_rank(&dm->doms) != 0) {
		why = "out of memory";
		goto fail;
	}
	dm->gstart[dm->ngroup] = dm->nrow;
	dm->bytes = sizeof(*dm) + (size_t)rcap * 17 + (size_t)gcap * 12 + (size_t)dcap *
	    sizeof(*dm->dv) + dm_strs_bytes(&dm->doms) + dm_strs_bytes(&dm->ips) +
	    dm_strs_bytes(&dm->orgs) + dm_strs_bytes(&dm->hfs);
	dm->build_ms = dm_ms() - t0;
	return dm;
fail:
	snprintf(err, errlen, "%s", why ? why : "failed");
	sqlite3_finalize(s);
	if (in_txn)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	dashmem_free(&dm);
	return NULL;
}

const struct dashmem_domain *
dashmem_domain(const struct dashmem *dm, const char *name)
{
	uint32_t id = dashmem_find(&dm->doms, name, strlen(name));
	uint32_t lo = 0, hi = dm->ndom;

	if (id == UINT32_MAX)
		return NULL;
	/* dv is in BINARY order of the name: rank of the id */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (dm->doms.rank[dm->dv[mid].name] < dm->doms.rank[id])
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < dm->ndom && dm->dv[lo].name == id ? &dm->dv[lo] : NULL;
}

/* first group of [g0, g1) whose day is >= day */
static uint32_t
dm_lower(const struct dashmem *dm, uint32_t g0, uint32_t g1, int64_t day)
{
	while (g0 < g1) {
		uint32_t mid = g0 + (g1 - g0) / 2;

		if (dm->gday[mid] < day)
			g0 = mid + 1;
		else
			g1 = mid;
	}
	return g0;
}

void
dashmem_range(const struct dashmem *dm, const struct dashmem_domain *d, int64_t lo,
    int64_t hi, uint32_t *g0, uint32_t *g1)
{
	*g0 = lo == INT64_MIN ? d->g0 : dm_lower(dm, d->g0, d->g1, lo);
	*g1 = hi == INT64_MAX ? d->g1 : dm_lower(dm, *g0, d->g1, hi);
}

/* ---- the keeper (store/memkeep.c) ------------------------------------------------- */

/* rebuilds start at least DASHMEM_GAP_MIN_MS apart and leave the thread
 * idle DASHMEM_GAP_X times as long as they took: at most ~1/4 of a core */
#define DASHMEM_GAP_MIN_MS 1000.0
#define DASHMEM_GAP_X 3.0

struct dashmem_keeper {
	struct memkeep *mk;
};

static void *
dm_mk_build(sqlite3 *db, uint32_t max, char *err, size_t errlen)
{
	return dashmem_build(db, max, err, errlen);
}

static int
dm_mk_fp_read(sqlite3 *db, void *fp)
{
	return dashmem_fp_read(db, fp);
}

static const void *
dm_mk_fp_of(const void *c)
{
	return &((const struct dashmem *)c)->fp;
}

static int *
dm_mk_refs(void *c)
{
	return &((struct dashmem *)c)->refs;
}

static void
dm_mk_free(void *c)
{
	struct dashmem *dm = c;

	dashmem_free(&dm);
}

static void
dm_mk_stats(const void *c, int64_t *count, int64_t *bytes, double *build_ms)
{
	const struct dashmem *dm = c;

	*count = dm->nrow;
	*bytes = (int64_t)dm->bytes;
	*build_ms = dm->build_ms;
}

static const struct memkeep_ops dm_mk_ops = {
	.count_key = "rows", .fp_size = sizeof(struct dashmem_fp),
	.build = dm_mk_build, .fp_read = dm_mk_fp_read, .fp_of = dm_mk_fp_of,
	.refs = dm_mk_refs, .free = dm_mk_free, .stats = dm_mk_stats,
	.poll_ms = DASHMEM_POLL_MS, .gap_min_ms = DASHMEM_GAP_MIN_MS, .gap_x = DASHMEM_GAP_X,
};

struct dashmem_keeper *
dashmem_keeper_new(const char *db_path, uint32_t max_rows, dashmem_hook hook, void *arg)
{
	struct dashmem_keeper *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	if ((k->mk = memkeep_new(&dm_mk_ops, db_path, max_rows, 0, hook, arg)) == NULL) {
		free(k);
		return NULL;
	}
	return k;
}

void
dashmem_keeper_free(struct dashmem_keeper **kp)
{
	if (kp == NULL || *kp == NULL)
		return;
	memkeep_free(&(*kp)->mk);
	free(*kp);
	*kp = NULL;
}

struct dashmem *
dashmem_keeper_get(struct dashmem_keeper *k, sqlite3 *db)
{
	return k != NULL ? memkeep_get(k->mk, db) : NULL;
}

void
dashmem_keeper_put(struct dashmem_keeper *k, struct dashmem *dm)
{
	if (k != NULL)
		memkeep_put(k->mk, dm);
}

json_t *
dashmem_keeper_status(struct dashmem_keeper *k)
{
	return memkeep_status(k != NULL ? k->mk : NULL);
}

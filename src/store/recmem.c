/*
 * recmem.c - the in-memory copy of reports and records for the sender
 * analysis, and its keeper (recmem.h).
 *
 * Build: two statements inside one read transaction that also reads the
 * fingerprint: `reports` in id order, then `records` in rowid order with
 * the auth string the SQL scan reads (RECMEM_AUTH_SQL).  Each record finds
 * its report by binary search, remembered while the report does not change
 * (a report's records are consecutive), which also cuts the runs.  Strings
 * are interned into one pool per table with an open-addressing hash
 * (FNV-1a); tuples of ids (policies, signatures, sources, keys) into
 * tables of fixed-width uint32 rows with the same kind of hash.  All
 * arrays grow by doubling.
 *
 * Keeper: as dashmem.c's, with its own thread and read-only connection;
 * copies are reference counted under the keeper's mutex and freed by
 * whoever drops the last reference.
 *
 * Public: recmem_* (recmem.h).
 */
#include <sqlite3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/memkeep.h"
#include "store/recmem.h"
#include "store/store.h"

/* ---- fingerprint ------------------------------------------------------------ */

static const char rm_fp_sql[] =
	"SELECT (SELECT coalesce(max(id), 0) FROM reports), (SELECT count(*) FROM reports),"
	" (SELECT coalesce(max(id), 0) FROM records), (SELECT coalesce(max(id), 0) FROM ledger)";

int
recmem_fp_read(sqlite3 *db, struct recmem_fp *fp)
{
	return memkeep_read_row(db, rm_fp_sql, fp->v, RECMEM_FP_N);
}

int
recmem_fp_equal(const struct recmem_fp *a, const struct recmem_fp *b)
{
	return memcmp(a->v, b->v, sizeof(a->v)) == 0;
}

/* ---- string tables ------------------------------------------------------------ */

static uint32_t
rm_hash(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

static int
rm_strs_init(struct recmem_strs *s)
{
	memset(s, 0, sizeof(*s));
	s->cap = 256;
	s->nslot = 512;
	s->pool_cap = 4096;
	s->off = malloc(s->cap * sizeof(*s->off));
	s->slot = calloc(s->nslot, sizeof(*s->slot));
	s->pool = malloc(s->pool_cap);
	if (s->off == NULL || s->slot == NULL || s->pool == NULL)
		return -1;
	s->off[0] = 0;                  /* id 0: NULL, never looked up */
	s->pool[0] = '\0';
	s->pool_len = 1;
	s->n = 1;
	return 0;
}

static void
rm_strs_free(struct recmem_strs *s)
{
	free(s->pool);
	free(s->off);
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

uint32_t
recmem_find(const struct recmem_strs *s, const char *str)
{
	size_t n;
	uint32_t mask, i;

	if (str == NULL)
		return 0;
	n = strlen(str);
	mask = s->nslot - 1;
	for (i = rm_hash(str, n) & mask; s->slot[i] != 0; i = (i + 1) & mask)
		if (strcmp(s->pool + s->off[s->slot[i]], str) == 0)
			return s->slot[i];
	return RECMEM_NONE;
}

static int
rm_strs_rehash(struct recmem_strs *s)
{
	uint32_t nslot = s->nslot * 2, mask = nslot - 1;
	uint32_t *slot = calloc(nslot, sizeof(*slot));

	if (slot == NULL)
		return -1;
	for (uint32_t id = 1; id < s->n; id++) {
		const char *p = s->pool + s->off[id];
		uint32_t i = rm_hash(p, strlen(p)) & mask;

		while (slot[i] != 0)
			i = (i + 1) & mask;
		slot[i] = id;
	}
	free(s->slot);
	s->slot = slot;
	s->nslot = nslot;
	return 0;
}

/* Id of a C string (0 for NULL), added when new; RECMEM_NONE when out of memory. */
static uint32_t
rm_intern(struct recmem_strs *s, const char *p)
{
	size_t n;
	uint32_t mask, i, id;

	if (p == NULL)
		return 0;
	n = strlen(p);
	mask = s->nslot - 1;
	for (i = rm_hash(p, n) & mask; s->slot[i] != 0; i = (i + 1) & mask)
		if (strcmp(s->pool + s->off[s->slot[i]], p) == 0)
			return s->slot[i];
	if (s->n == RECMEM_NONE - 1)
		return RECMEM_NONE;
	if (s->n == s->cap) {
		uint64_t *o = realloc(s->off, (size_t)s->cap * 2 * sizeof(*o));

		if (o == NULL)
			return RECMEM_NONE;
		s->off = o;
		s->cap *= 2;
	}
	while (s->pool_len + n + 1 > s->pool_cap) {
		char *np = realloc(s->pool, s->pool_cap * 2);

		if (np == NULL)
			return RECMEM_NONE;
		s->pool = np;
		s->pool_cap *= 2;
	}
	memcpy(s->pool + s->pool_len, p, n + 1);
	id = s->n++;
	s->off[id] = s->pool_len;
	s->pool_len += n + 1;
	s->slot[i] = id;
	if ((uint64_t)s->n * 2 > s->nslot && rm_strs_rehash(s) != 0)
		return RECMEM_NONE;
	return id;
}

static size_t
rm_strs_bytes(const struct recmem_strs *s)
{
	return s->pool_cap + (size_t)s->cap * sizeof(*s->off) + (size_t)s->nslot * sizeof(*s->slot);
}

/* ---- tuple tables: rows of `w` uint32, interned ------------------------------- */

struct rm_tup {
	uint32_t *v;                    /* n rows of w */
	uint32_t w, n, cap;
	uint32_t *slot;                 /* row + 1, 0 = empty */
	uint32_t nslot;
};

static int
rm_tup_init(struct rm_tup *t, uint32_t w)
{
	memset(t, 0, sizeof(*t));
	t->w = w;
	t->cap = 256;
	t->nslot = 512;
	t->v = malloc((size_t)t->cap * w * sizeof(*t->v));
	t->slot = calloc(t->nslot, sizeof(*t->slot));
	return t->v != NULL && t->slot != NULL ? 0 : -1;
}

static void
rm_tup_fini(struct rm_tup *t)
{
	free(t->v);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

static int
rm_tup_rehash(struct rm_tup *t)
{
	uint32_t nslot = t->nslot * 2, mask = nslot - 1;
	uint32_t *slot = calloc(nslot, sizeof(*slot));

	if (slot == NULL)
		return -1;
	for (uint32_t r = 0; r < t->n; r++) {
		uint32_t i = rm_hash(t->v + (size_t)r * t->w, t->w * sizeof(*t->v)) & mask;

		while (slot[i] != 0)
			i = (i + 1) & mask;
		slot[i] = r + 1;
	}
	free(t->slot);
	t->slot = slot;
	t->nslot = nslot;
	return 0;
}

/* Row index of the tuple x[0..w), added when new; RECMEM_NONE when out of memory. */
static uint32_t
rm_tup_intern(struct rm_tup *t, const uint32_t *x)
{
	size_t bytes = t->w * sizeof(*x);
	uint32_t mask = t->nslot - 1, i, r;

	for (i = rm_hash(x, bytes) & mask; t->slot[i] != 0; i = (i + 1) & mask)
		if (memcmp(t->v + (size_t)(t->slot[i] - 1) * t->w, x, bytes) == 0)
			return t->slot[i] - 1;
	if (t->n == RECMEM_NONE - 1)
		return RECMEM_NONE;
	if (t->n == t->cap) {
		uint32_t *v = realloc(t->v, (size_t)t->cap * 2 * bytes);

		if (v == NULL)
			return RECMEM_NONE;
		t->v = v;
		t->cap *= 2;
	}
	r = t->n++;
	memcpy(t->v + (size_t)r * t->w, x, bytes);
	t->slot[i] = r + 1;
	if ((uint64_t)t->n * 2 > t->nslot && rm_tup_rehash(t) != 0)
		return RECMEM_NONE;
	return r;
}

/* Moves the rows into a new array of n structs of size w * 4 (the structs
 * of recmem.h are rows of uint32 / int32 without padding). */
static void *
rm_tup_take(struct rm_tup *t, size_t size)
{
	void *p = malloc(t->n ? (size_t)t->n * size : 1);

	if (p != NULL && t->n)
		memcpy(p, t->v, (size_t)t->n * size);
	return p;
}

_Static_assert(sizeof(struct recmem_pol) == 7 * 4, "recmem_pol is 7 uint32");
_Static_assert(sizeof(struct recmem_sig) == 6 * 4, "recmem_sig is 6 uint32");
_Static_assert(sizeof(struct recmem_key) == 6 * 4, "recmem_key is 6 uint32");

/* ---- the copy ------------------------------------------------------------------- */

void
recmem_free(struct recmem **rmp)
{
	struct recmem *rm = rmp ? *rmp : NULL;

	if (rm == NULL)
		return;
	if (rm->user != NULL && rm->user_free != NULL)
		rm->user_free(rm->user);
	pthread_mutex_destroy(&rm->user_mu);
	rm_strs_free(&rm->ips);
	rm_strs_free(&rm->strs);
	free(rm->rep);
	free(rm->pol);
	free(rm->sig);
	free(rm->key);
	free(rm->r_key);
	free(rm->r_count);
	free(rm->run);
	free(rm);
	*rmp = NULL;
}

static double
rm_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static const char *
rm_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

/* State of one build. */
struct rm_build {
	struct recmem *rm;
	struct rm_tup pols, sigs, srcs, keys;
	uint32_t repcap, reccap, runcap;
	const char *why;
};

#define RM_OOM(b) ((b)->why = "out of memory", -1)

static const char rm_reports_sql[] =
	"SELECT id, policy_domain, adkim, aspf, begin_ts, end_ts, org_name, p, sp, np, pct, "
	"testing FROM reports ORDER BY id";

static int
rm_load_reports(struct rm_build *b, sqlite3 *db)
{
	struct recmem *rm = b->rm;
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, rm_reports_sql, -1, &s, NULL) != SQLITE_OK) {
		b->why = sqlite3_errmsg(db);
		return -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct recmem_report *r;
		uint32_t pol[7];

		if (sqlite3_column_type(s, 0) != SQLITE_INTEGER ||
		    sqlite3_column_type(s, 4) != SQLITE_INTEGER ||
		    sqlite3_column_type(s, 5) != SQLITE_INTEGER) {
			b->why = "a report with a period that is not an integer";
			goto fail;
		}
		if (sqlite3_column_int64(s, 4) < 0 || sqlite3_column_int64(s, 4) > UINT32_MAX ||
		    sqlite3_column_int64(s, 5) < 0 || sqlite3_column_int64(s, 5) > UINT32_MAX) {
			b->why = "a report with a period outside 1970..2106";
			goto fail;
		}
		if (rm->nrep == RECMEM_NONE - 1) {
			b->why = "too many reports";
			goto fail;
		}
		if (rm->nrep == b->repcap) {
			uint32_t nc = b->repcap ? b->repcap * 2 : 4096;
			struct recmem_report *v = realloc(rm->rep, (size_t)nc * sizeof(*v));

			if (v == NULL)
				goto oom;
			rm->rep = v;
			b->repcap = nc;
		}
		r = &rm->rep[rm->nrep];
		r->id = sqlite3_column_int64(s, 0);
		r->begin = sqlite3_column_int64(s, 4);
		r->end = sqlite3_column_int64(s, 5);
		r->domain = rm_intern(&rm->strs, rm_text(s, 1));
		r->org = rm_intern(&rm->strs, rm_text(s, 6));
		pol[0] = rm_intern(&rm->strs, rm_text(s, 7));
		pol[1] = rm_intern(&rm->strs, rm_text(s, 8));
		pol[2] = rm_intern(&rm->strs, rm_text(s, 9));
		pol[3] = rm_intern(&rm->strs, rm_text(s, 2));
		pol[4] = rm_intern(&rm->strs, rm_text(s, 3));
		pol[5] = rm_intern(&rm->strs, rm_text(s, 11));
		pol[6] = sqlite3_column_type(s, 10) == SQLITE_NULL ? (uint32_t)-1 :
		    (uint32_t)sqlite3_column_int(s, 10);
		r->pol = rm_tup_intern(&b->pols, pol);
		if (r->domain == RECMEM_NONE || r->org == RECMEM_NONE || r->pol == RECMEM_NONE ||
		    pol[0] == RECMEM_NONE || pol[1] == RECMEM_NONE || pol[2] == RECMEM_NONE ||
		    pol[3] == RECMEM_NONE || pol[4] == RECMEM_NONE || pol[5] == RECMEM_NONE)
			goto oom;
		rm->nrep++;
	}
	if (rc != SQLITE_DONE) {
		b->why = sqlite3_errmsg(db);
		goto fail;
	}
	sqlite3_finalize(s);
	return 0;
oom:
	b->why = "out of memory";
fail:
	sqlite3_finalize(s);
	return -1;
}

/* Index of the report with this id, or RECMEM_NONE. */
static uint32_t
rm_report_find(const struct recmem *rm, int64_t id)
{
	uint32_t lo = 0, hi = rm->nrep;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (rm->rep[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < rm->nrep && rm->rep[lo].id == id ? lo : RECMEM_NONE;
}

static const char rm_records_sql[] =
	"SELECT r.report, r.count, r.source_ip, r.dmarc, r.dkim_eval, r.spf_eval, "
	"r.header_from, r.disposition, " RECMEM_AUTH_SQL " FROM records r ORDER BY r.id";

static int
rm_grow_records(struct rm_build *b)
{
	struct recmem *rm = b->rm;
	uint32_t nc = b->reccap ? b->reccap * 2 : 65536;
	uint32_t *k, *c;

	if ((k = realloc(rm->r_key, (size_t)nc * sizeof(*k))) == NULL)
		return -1;
	rm->r_key = k;
	if ((c = realloc(rm->r_count, (size_t)nc * sizeof(*c))) == NULL)
		return -1;
	rm->r_count = c;
	b->reccap = nc;
	return 0;
}

static int
rm_add_run(struct rm_build *b, uint32_t rep, uint32_t start)
{
	struct recmem *rm = b->rm;

	if (rm->nrun + 1 >= b->runcap) {
		uint32_t nc = b->runcap ? b->runcap * 2 : 4096;
		struct recmem_run *v = realloc(rm->run, (size_t)nc * sizeof(*v));

		if (v == NULL)
			return -1;
		rm->run = v;
		b->runcap = nc;
	}
	rm->run[rm->nrun].rep = rep;
	rm->run[rm->nrun].start = start;
	rm->nrun++;
	return 0;
}

/* The key of the current row of the records statement. */
static uint32_t
rm_record_key(struct rm_build *b, sqlite3_stmt *s, uint32_t rep)
{
	struct recmem *rm = b->rm;
	uint32_t sig[6], src[2], key[6];

	sig[0] = rm_intern(&rm->strs, rm_text(s, 6));
	sig[1] = rm_intern(&rm->strs, rm_text(s, 3));
	sig[2] = rm_intern(&rm->strs, rm_text(s, 4));
	sig[3] = rm_intern(&rm->strs, rm_text(s, 5));
	sig[4] = rm_intern(&rm->strs, rm_text(s, 7));
	sig[5] = rm_intern(&rm->strs, rm_text(s, 8));
	for (int i = 0; i < 6; i++)
		if (sig[i] == RECMEM_NONE)
			return RECMEM_NONE;
	src[0] = rm_intern(&rm->ips, rm_text(s, 2));
	src[1] = rep == RECMEM_NONE ? 0 : rm->rep[rep].domain;
	key[0] = src[0];
	key[1] = src[1];
	key[2] = rm_tup_intern(&b->sigs, sig);
	if (rep != RECMEM_NONE) {
		const uint32_t *pol = b->pols.v + (size_t)rm->rep[rep].pol * b->pols.w;

		key[3] = pol[3];
		key[4] = pol[4];
	} else
		key[3] = key[4] = 0;
	key[5] = src[0] == RECMEM_NONE ? RECMEM_NONE : rm_tup_intern(&b->srcs, src);
	if (key[2] == RECMEM_NONE || key[5] == RECMEM_NONE)
		return RECMEM_NONE;
	return rm_tup_intern(&b->keys, key);
}

static int
rm_load_records(struct rm_build *b, sqlite3 *db, uint32_t max_records)
{
	struct recmem *rm = b->rm;
	sqlite3_stmt *s = NULL;
	int64_t last_report = 0;
	uint32_t rep = RECMEM_NONE;
	int rc;

	if (sqlite3_prepare_v2(db, rm_records_sql, -1, &s, NULL) != SQLITE_OK) {
		b->why = sqlite3_errmsg(db);
		return -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t report = sqlite3_column_int64(s, 0), count = sqlite3_column_int64(s, 1);
		uint32_t r = rm->nrec;

		if (sqlite3_column_type(s, 1) != SQLITE_INTEGER || count < 0 ||
		    count > (int64_t)UINT32_MAX) {
			b->why = "a record with a count outside 0..2^32-1";
			goto fail;
		}
		if (r >= max_records) {
			b->why = "too many records";
			goto fail;
		}
		if (r == b->reccap && rm_grow_records(b) != 0)
			goto oom;
		if (r == 0 || report != last_report) {
			uint32_t nrep = rm_report_find(rm, report);

			if (r == 0 || nrep != rep) {
				if (rm_add_run(b, nrep, r) != 0)
					goto oom;
			}
			rep = nrep;
			last_report = report;
		}
		if ((rm->r_key[r] = rm_record_key(b, s, rep)) == RECMEM_NONE)
			goto oom;
		rm->r_count[r] = (uint32_t)count;
		rm->nrec++;
	}
	if (rc != SQLITE_DONE) {
		b->why = sqlite3_errmsg(db);
		goto fail;
	}
	sqlite3_finalize(s);
	/* the sentinel run */
	if (rm_add_run(b, RECMEM_NONE, rm->nrec) != 0)
		return RM_OOM(b);
	rm->nrun--;
	return 0;
oom:
	b->why = "out of memory";
fail:
	sqlite3_finalize(s);
	return -1;
}

struct recmem *
recmem_build(sqlite3 *db, uint32_t max_records, char *err, size_t errlen)
{
	struct rm_build b;
	struct recmem *rm = calloc(1, sizeof(*rm));
	double t0 = rm_ms();
	int in_txn = 0;

	memset(&b, 0, sizeof(b));
	b.rm = rm;
	if (rm != NULL)
		pthread_mutex_init(&rm->user_mu, NULL);
	if (max_records == 0)
		max_records = RECMEM_RECORDS_MAX;
	if (rm == NULL || rm_strs_init(&rm->ips) || rm_strs_init(&rm->strs) ||
	    rm_tup_init(&b.pols, 7) || rm_tup_init(&b.sigs, 6) || rm_tup_init(&b.srcs, 2) ||
	    rm_tup_init(&b.keys, 6)) {
		b.why = "out of memory";
		goto fail;
	}
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		b.why = sqlite3_errmsg(db);
		goto fail;
	}
	in_txn = 1;
	if (recmem_fp_read(db, &rm->fp) != 0) {
		b.why = "cannot read the fingerprint";
		goto fail;
	}
	if (rm_load_reports(&b, db) != 0 || rm_load_records(&b, db, max_records) != 0)
		goto fail;
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	in_txn = 0;
	rm->pol = rm_tup_take(&b.pols, sizeof(*rm->pol));
	rm->sig = rm_tup_take(&b.sigs, sizeof(*rm->sig));
	rm->key = rm_tup_take(&b.keys, sizeof(*rm->key));
	if (rm->pol == NULL || rm->sig == NULL || rm->key == NULL) {
		b.why = "out of memory";
		goto fail;
	}
	rm->npol = b.pols.n;
	rm->nsig = b.sigs.n;
	rm->nkey = b.keys.n;
	rm->nsrc = b.srcs.n;
	rm->bytes = sizeof(*rm) + (size_t)b.repcap * sizeof(*rm->rep) +
	    (size_t)b.reccap * 2 * sizeof(uint32_t) + (size_t)b.runcap * sizeof(*rm->run) +
	    (size_t)rm->npol * sizeof(*rm->pol) + (size_t)rm->nsig * sizeof(*rm->sig) +
	    (size_t)rm->nkey * sizeof(*rm->key) + rm_strs_bytes(&rm->ips) +
	    rm_strs_bytes(&rm->strs);
	rm_tup_fini(&b.pols);
	rm_tup_fini(&b.sigs);
	rm_tup_fini(&b.srcs);
	rm_tup_fini(&b.keys);
	rm->build_ms = rm_ms() - t0;
	return rm;
fail:
	snprintf(err, errlen, "%s", b.why ? b.why : "failed");
	if (in_txn)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	rm_tup_fini(&b.pols);
	rm_tup_fini(&b.sigs);
	rm_tup_fini(&b.srcs);
	rm_tup_fini(&b.keys);
	recmem_free(&rm);
	return NULL;
}

/* ---- the keeper (store/memkeep.c, as dashmem's) ---------------------------------- */

/* as dashmem.c: rebuilds start at least RECMEM_GAP_MIN_MS apart and leave
 * the thread idle RECMEM_GAP_X times as long as they took */
#define RECMEM_GAP_MIN_MS 1000.0
#define RECMEM_GAP_X 3.0

struct recmem_keeper {
	struct memkeep *mk;
};

static void *
rm_mk_build(sqlite3 *db, uint32_t max, char *err, size_t errlen)
{
	return recmem_build(db, max, err, errlen);
}

static int
rm_mk_fp_read(sqlite3 *db, void *fp)
{
	return recmem_fp_read(db, fp);
}

static const void *
rm_mk_fp_of(const void *c)
{
	return &((const struct recmem *)c)->fp;
}

static int *
rm_mk_refs(void *c)
{
	return &((struct recmem *)c)->refs;
}

static void
rm_mk_free(void *c)
{
	struct recmem *rm = c;

	recmem_free(&rm);
}

static void
rm_mk_stats(const void *c, int64_t *count, int64_t *bytes, double *build_ms)
{
	const struct recmem *rm = c;

	*count = rm->nrec;
	*bytes = (int64_t)rm->bytes;
	*build_ms = rm->build_ms;
}

static const struct memkeep_ops rm_mk_ops = {
	.count_key = "records", .fp_size = sizeof(struct recmem_fp),
	.build = rm_mk_build, .fp_read = rm_mk_fp_read, .fp_of = rm_mk_fp_of,
	.refs = rm_mk_refs, .free = rm_mk_free, .stats = rm_mk_stats,
	.poll_ms = RECMEM_POLL_MS, .gap_min_ms = RECMEM_GAP_MIN_MS, .gap_x = RECMEM_GAP_X,
};

struct recmem_keeper *
recmem_keeper_new(const char *db_path, uint32_t max_records, int wait_first, recmem_hook hook,
    void *arg)
{
	struct recmem_keeper *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->mk = memkeep_new(&rm_mk_ops, db_path, max_records, wait_first, hook, arg);
	if (k->mk == NULL) {
		free(k);
		return NULL;
	}
	return k;
}

void
recmem_keeper_free(struct recmem_keeper **kp)
{
	if (kp == NULL || *kp == NULL)
		return;
	memkeep_free(&(*kp)->mk);
	free(*kp);
	*kp = NULL;
}

struct recmem *
recmem_keeper_get(struct recmem_keeper *k, sqlite3 *db)
{
	return k != NULL ? memkeep_get(k->mk, db) : NULL;
}

void
recmem_keeper_poke(struct recmem_keeper *k)
{
	if (k != NULL)
		memkeep_poke(k->mk);
}

void
recmem_keeper_put(struct recmem_keeper *k, struct recmem *rm)
{
	if (k != NULL)
		memkeep_put(k->mk, rm);
}

json_t *
recmem_keeper_status(struct recmem_keeper *k)
{
	return memkeep_status(k != NULL ? k->mk : NULL);
}

/*
 * dashmem.h - an in-memory, columnar copy of the `daily` rollup for the
 * dashboard's per-domain and per-source views (issue 3 part 8: every API
 * call behind a view under 100 ms with 1,000,000 records).
 *
 * `daily` rows are copied in primary-key order (policy_domain, day, ...):
 * strings become small integer ids (source IP, reporter, header_from; the
 * domains are the runs of the order), the three verdict columns one flag
 * byte, messages 32 bits: 17 bytes a row.  A period is a binary search
 * over each domain's day groups.  The copy is immutable once built and
 * shared by reference; query_dash.c aggregates it in C and gives exactly
 * the answers of its SQL (the SQL stays the fallback and the tests' oracle).
 *
 * Freshness: the copy carries the fingerprint of the snapshot it was read
 * from (dashmem_fp_read); a request compares it with the fingerprint of its
 * own connection (~1 ms) and falls back to SQL when they differ, so a copy
 * never answers for other data.  The fingerprint is built from what every
 * write of `daily` also changes: reports max(id), ledger max(id), the count
 * and message sums of daily_org, and each domain's first and last day in
 * `daily` (retention deletes old rows there); enrichment (ip_info) and
 * sender rules leave it alone.
 *
 * The keeper (dashmem_keeper_*) owns a read connection and a thread: it
 * builds the copy at start, polls PRAGMA data_version every
 * DASHMEM_POLL_MS, and rebuilds when the fingerprint moved or a request
 * found it stale, at most every max(1 s, 4 x the last build's time) so a
 * steady trickle of imports costs at most ~1/4 of a core (requests use SQL
 * in between); after each build it calls the owner's hook (the server
 * warms its sender-analysis cache there).  A database with more than
 * DASHMEM_ROWS_MAX daily rows, or with values the copy cannot hold exactly
 * (non-text keys, messages outside 0..2^32-1, days out of order), is not
 * copied: every request then uses SQL.
 */
#ifndef DMARCSTAT_DASHMEM_H
#define DMARCSTAT_DASHMEM_H
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct sqlite3;

#define DASHMEM_ROWS_MAX 8000000u    /* ~17 bytes each: ~140 MiB plus strings */
#define DASHMEM_POLL_MS 250
#define DASHMEM_FP_N 7

/* flag byte of a row */
#define DASHMEM_DKIM 1u              /* dkim_eval = 'pass' */
#define DASHMEM_SPF 2u               /* spf_eval = 'pass' */
#define DASHMEM_QUAR 4u              /* disposition = 'quarantine' */
#define DASHMEM_REJ 8u               /* disposition = 'reject' */
#define DASHMEM_PASS (DASHMEM_DKIM | DASHMEM_SPF)

struct dashmem_fp {
	int64_t v[DASHMEM_FP_N];
};

/* Interned strings: id -> bytes (exact, not NUL-terminated inside). */
struct dashmem_strs {
	char *pool;
	size_t pool_len, pool_cap;
	uint64_t *off;                  /* off[id] .. off[id + 1] */
	uint32_t n, cap;
	uint32_t *slot;                 /* open addressing: id + 1, 0 = empty */
	uint32_t nslot;                 /* power of two */
	uint32_t *rank;                 /* rank[id]: position in BINARY order */
};

struct dashmem_domain {
	uint32_t name;                  /* id in doms */
	uint32_t g0, g1;                /* its day groups [g0, g1) */
};

struct dashmem {
	struct dashmem_fp fp;
	struct dashmem_strs doms, ips, orgs, hfs;
	struct dashmem_domain *dv;      /* in BINARY order of the name */
	uint32_t ndom;
	int64_t *gday;                  /* day of group g */
	uint32_t *gstart;               /* first row of group g; gstart[ngroup] = nrow */
	uint32_t ngroup;
	uint32_t *ip, *org, *hf, *msg;  /* columns, nrow each */
	uint8_t *fl;
	uint32_t nrow;
	size_t bytes;                   /* memory held */
	double build_ms;
	int refs;                       /* under the keeper's lock */
};

/* Fingerprint of the database as this connection sees it now.  0 or -1. */
int dashmem_fp_read(struct sqlite3 *db, struct dashmem_fp *fp);
int dashmem_fp_equal(const struct dashmem_fp *a, const struct dashmem_fp *b);

/* Reads `daily` (inside one read transaction, with its fingerprint).
 * NULL with a reason in err (too big, a value it cannot hold, database
 * error).  `max_rows` 0 = DASHMEM_ROWS_MAX. */
struct dashmem *dashmem_build(struct sqlite3 *db, uint32_t max_rows, char *err, size_t errlen);
void dashmem_free(struct dashmem **dm);

/* Id of a string, or UINT32_MAX when the copy does not hold it. */
uint32_t dashmem_find(const struct dashmem_strs *s, const char *p, size_t n);
static inline const char *
dashmem_str(const struct dashmem_strs *s, uint32_t id, size_t *len)
{
	*len = (size_t)(s->off[id + 1] - s->off[id]);
	return s->pool + s->off[id];
}
/* The domain entry of a name, or NULL. */
const struct dashmem_domain *dashmem_domain(const struct dashmem *dm, const char *name);
/* Rows of domain d whose day is in [lo, hi) (lo/hi INT64_MIN/MAX = open):
 * *r0, *r1, and the groups *g0, *g1 they span. */
void dashmem_range(const struct dashmem *dm, const struct dashmem_domain *d, int64_t lo,
    int64_t hi, uint32_t *g0, uint32_t *g1);

/* ---- the keeper ---------------------------------------------------------- */

struct dashmem_keeper;
typedef void (*dashmem_hook)(void *arg);

/* Starts the thread with its own read connection to db_path; the first
 * build begins at once.  hook(arg) runs in that thread after each build
 * (may be NULL).  max_rows 0 = DASHMEM_ROWS_MAX.  NULL when the thread or
 * the connection cannot be had (the dashboard then uses SQL). */
struct dashmem_keeper *dashmem_keeper_new(const char *db_path, uint32_t max_rows,
    dashmem_hook hook, void *arg);
void dashmem_keeper_free(struct dashmem_keeper **k);
/* The copy when it matches what `db` sees now (a new reference: give it
 * back with dashmem_keeper_put), else NULL (and the keeper is woken). */
struct dashmem *dashmem_keeper_get(struct dashmem_keeper *k, struct sqlite3 *db);
void dashmem_keeper_put(struct dashmem_keeper *k, struct dashmem *dm);
/* {"state": building|ready|off|error, "rows", "bytes", "builds",
 * "build_ms", "ready_ms" (since the keeper started, first copy),
 * "error"} for /api/health. */
json_t *dashmem_keeper_status(struct dashmem_keeper *k);

#endif

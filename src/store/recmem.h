/*
 * recmem.h - an in-memory copy of the aggregate records as the sender
 * analysis reads them (src/analyze/scan.c), so that the first request for
 * a period classifies it without reading a million rows from SQLite
 * (issue 3 part 8: every API call behind a view under 100 ms with
 * 1,000,000 records).  The precedent is store/dashmem.h (the copy of
 * `daily`); this is its twin for `records` and `reports`.
 *
 * What is kept: every report with its id, period, policy domain, reporter
 * and published policy (p, sp, np, pct, adkim, aspf, testing: one interned
 * tuple), and every record in rowid order as two 32-bit columns, its
 * message count and its key, its report being that of its run (below).  A
 * key is one interned (source, signature, adkim, aspf) where a source is
 * (source IP, policy domain) and a signature is (header_from, dmarc,
 * dkim_eval, spf_eval, disposition, auth string): everything the
 * classification of a record depends on besides ip_info, the catalog and
 * the user's rules, which are not in the copy (enrichment and rule changes
 * do not touch it; the scan reads them from the request's connection).
 * The analysis may hang what it derives from the copy on it (the user
 * slot: analyze/scan.c keeps each key's classification there, checked
 * against ip_info and the rules by every scan); it is freed with the copy.
 * Strings are interned NUL-terminated (id 0 = SQL NULL) and read exactly
 * as the SQL path reads them (sqlite3_column_text), so a scan over the
 * copy sees the same bytes.  Records are also cut into runs of one report
 * (consecutive rowids), so a scan walks the runs of the reports a filter
 * selects in rowid order: the order of the SQL path.
 *
 * Cost at 1,000,000 records / 350,000 reports / 28,000 IPs (bench/
 * api.db): 8 bytes a record, 40 a report, 8 a run, 24 a key (~110,000),
 * 24 a signature (~14,000), plus the strings with their hash tables:
 * 36 MiB, built in ~1 s (idle machine) by the keeper's thread.  More than
 * RECMEM_RECORDS_MAX records, a count outside 0..2^32-1 or a report period
 * that is not an integer in 0..2^32-1 (the scan keeps 32-bit times): no
 * copy (SQL).
 *
 * Freshness: the copy carries the fingerprint of the snapshot it was read
 * from: reports max(id) and count, records max(id), ledger max(id) (an
 * import adds reports, records and a ledger row; retention deletes reports
 * with their records).  A request compares it with what its own connection
 * sees (~2 ms) and uses SQL when they differ.  The keeper is dashmem's,
 * with the same rules (see dashmem.h): build at start, poll PRAGMA
 * data_version every RECMEM_POLL_MS, rebuild when the fingerprint moved,
 * at most every max(1 s, 4 x the last build), then call the owner's hook.
 */
#ifndef DMARCSTAT_RECMEM_H
#define DMARCSTAT_RECMEM_H
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct sqlite3;

#define RECMEM_RECORDS_MAX 4000000u  /* ~12 bytes each plus keys: ~120 MiB */
#define RECMEM_POLL_MS 250
#define RECMEM_FP_N 4
#define RECMEM_NONE UINT32_MAX       /* a record whose report is not in `reports` */

/*
 * records.auth of a record `r`, or the same string from the child views
 * when it is NULL (as store_sqlite.c's migration 4 computes it): what both
 * the SQL scan and the copy read.
 */
#define RECMEM_AUTH_SQL \
	"coalesce(r.auth, " \
	"  coalesce((SELECT group_concat(coalesce(domain,'') || char(9) || result, char(10)) " \
	"    FROM record_dkim WHERE record = r.id), '') || char(30) || " \
	"  coalesce((SELECT group_concat(coalesce(domain,'') || char(9) || result, char(10)) " \
	"    FROM record_spf WHERE record = r.id), '') || char(30) || " \
	"  coalesce((SELECT group_concat(type, char(10)) FROM record_reasons " \
	"    WHERE record = r.id), ''))"

struct recmem_fp {
	int64_t v[RECMEM_FP_N];
};

/* Interned NUL-terminated strings; id 0 is NULL. */
struct recmem_strs {
	char *pool;
	size_t pool_len, pool_cap;
	uint64_t *off;                  /* off[id]: start of string id */
	uint32_t n, cap;
	uint32_t *slot;                 /* open addressing: id, 0 = empty */
	uint32_t nslot;                 /* power of two */
};

struct recmem_report {
	int64_t id, begin, end;
	uint32_t domain, org;           /* ids in strs */
	uint32_t pol;                   /* index into pols */
};

struct recmem_pol {                     /* a report's published policy */
	uint32_t p, sp, np, adkim, aspf, testing;
	int32_t pct;                    /* -1 when NULL */
};

struct recmem_sig {                     /* ids in strs */
	uint32_t hf, dmarc, dkim, spf, disp, auth;
};

struct recmem_key {                     /* what a classification depends on */
	uint32_t ip;                    /* id in ips */
	uint32_t domain;                /* id in strs */
	uint32_t sig;                   /* index into sigs */
	uint32_t adkim, aspf;           /* ids in strs */
	uint32_t src;                   /* dense id of (ip, domain) */
};

struct recmem_run {                     /* records [start, next run's start) */
	uint32_t rep;                   /* report index or RECMEM_NONE */
	uint32_t start;
};

struct recmem {
	struct recmem_fp fp;
	struct recmem_strs ips, strs;
	struct recmem_report *rep;      /* in id order */
	uint32_t nrep;
	struct recmem_pol *pol;
	uint32_t npol;
	struct recmem_sig *sig;
	uint32_t nsig;
	struct recmem_key *key;
	uint32_t nkey, nsrc;
	uint32_t *r_key, *r_count;      /* columns, nrec each, rowid order */
	uint32_t nrec;
	struct recmem_run *run;         /* nrun + 1 (a sentinel with start = nrec) */
	uint32_t nrun;
	size_t bytes;                   /* memory held */
	double build_ms;
	int refs;                       /* under the keeper's lock */
	/* What the analysis keeps for this copy (analyze/scan.c: the
	 * classification of its sources and keys), under user_mu; freed
	 * with the copy by user_free(user).  The copy itself stays
	 * read-only. */
	pthread_mutex_t user_mu;
	void *user;
	void (*user_free)(void *);
};

/* Fingerprint of the database as this connection sees it now.  0 or -1. */
int recmem_fp_read(struct sqlite3 *db, struct recmem_fp *fp);
int recmem_fp_equal(const struct recmem_fp *a, const struct recmem_fp *b);

/* Reads reports and records inside one read transaction (with its
 * fingerprint).  NULL with a reason in err (too many records, a value it
 * cannot hold, database error).  max_records 0 = RECMEM_RECORDS_MAX. */
struct recmem *recmem_build(struct sqlite3 *db, uint32_t max_records, char *err,
    size_t errlen);
void recmem_free(struct recmem **rm);

/* The string of an id (NULL for 0). */
static inline const char *
recmem_str(const struct recmem_strs *s, uint32_t id)
{
	return id == 0 ? NULL : s->pool + s->off[id];
}
/* Id of a string, 0 for NULL, RECMEM_NONE when the copy does not hold it. */
uint32_t recmem_find(const struct recmem_strs *s, const char *str);

/* ---- the keeper (as dashmem's) -------------------------------------------- */

struct recmem_keeper;
typedef void (*recmem_hook)(void *arg);

/* Starts the thread with its own read connection to db_path; the first
 * build begins at once, or with wait_first at the first recmem_keeper_poke
 * (the server builds the copy of `daily` first: two builds at once on a
 * small machine slow the SQL answers given meanwhile).  hook(arg) runs in
 * that thread after each build (may be NULL).  NULL when the thread or the
 * connection cannot be had (the analysis then reads SQL). */
struct recmem_keeper *recmem_keeper_new(const char *db_path, uint32_t max_records,
    int wait_first, recmem_hook hook, void *arg);
/* Wakes the keeper: the first build, or a check of the fingerprint. */
void recmem_keeper_poke(struct recmem_keeper *k);
void recmem_keeper_free(struct recmem_keeper **k);
/* The copy when it matches what `db` sees now (a new reference: give it
 * back with recmem_keeper_put), else NULL (and the keeper is woken). */
struct recmem *recmem_keeper_get(struct recmem_keeper *k, struct sqlite3 *db);
void recmem_keeper_put(struct recmem_keeper *k, struct recmem *rm);
/* {"state": waiting|building|ready|off|error, "records", "bytes", "builds",
 * "build_ms", "ready_ms", "error"} for /api/health. */
json_t *recmem_keeper_status(struct recmem_keeper *k);

#endif

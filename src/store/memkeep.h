/*
 * memkeep.h - the keeper of an in-memory copy of some tables (private to
 * store/): one thread with its own read connection that builds the copy,
 * watches PRAGMA data_version and rebuilds when the copy's fingerprint
 * moved; requests borrow the newest copy by reference and get it only when
 * their own connection sees the same fingerprint (else NULL: use SQL, and
 * the keeper is woken).  dashmem.c (the `daily` rollup) and recmem.c (the
 * records for the sender analysis) are its two users; each supplies what
 * differs in a `struct memkeep_ops`.
 *
 * Rebuilds come at most every max(gap_min_ms, gap_x x the last build's
 * time), so a steady trickle of imports costs a bounded share of a core
 * (requests use SQL in between).  After each build the owner's hook runs
 * in the keeper's thread.  A build that fails with a reason containing
 * "too many" means the data is over the copy's size limit: state "off".
 */
#ifndef DMARCSTAT_MEMKEEP_H
#define DMARCSTAT_MEMKEEP_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct sqlite3;
struct memkeep;

#define MEMKEEP_FP_MAX 256       /* largest fingerprint */

struct memkeep_ops {
	const char *count_key;   /* its size in the status JSON: "rows", "records" */
	size_t fp_size;          /* bytes of a fingerprint (compared with memcmp), <= MEMKEEP_FP_MAX */
	void *(*build)(struct sqlite3 *db, uint32_t max, char *err, size_t errlen);
	int (*fp_read)(struct sqlite3 *db, void *fp);          /* 0 = read */
	const void *(*fp_of)(const void *copy);
	int *(*refs)(void *copy);                               /* its counter */
	void (*free)(void *copy);
	void (*stats)(const void *copy, int64_t *count, int64_t *bytes,
	    double *build_ms);
	int poll_ms;
	double gap_min_ms, gap_x;
};

typedef void (*memkeep_hook)(void *arg);

/* NULL when the database cannot be opened or the thread not started.  With
 * wait_first the first build waits for memkeep_poke (state "waiting"). */
struct memkeep *memkeep_new(const struct memkeep_ops *ops, const char *db_path,
    uint32_t max, int wait_first, memkeep_hook hook, void *arg);
void memkeep_free(struct memkeep **kp);
/* The copy (a reference: give it back with memkeep_put) when db sees the
 * data it was built from, else NULL (and the keeper is woken). */
void *memkeep_get(struct memkeep *k, struct sqlite3 *db);
void memkeep_put(struct memkeep *k, void *copy);
/* Wakes the keeper: the first build, or a check of the fingerprint. */
void memkeep_poke(struct memkeep *k);
/* Helper for fp_read: the n integer columns of the one row `sql` gives, into
 * v (zeroed first); 0, or -1 when it could not be read. */
int memkeep_read_row(struct sqlite3 *db, const char *sql, int64_t *v, int n);
/* {"state", count_key, "bytes", "builds", "build_ms", "ready_ms"[, "error"]} */
json_t *memkeep_status(struct memkeep *k);

#endif

/*
 * store_impl.h - what a storage backend implements.  Only store/ includes
 * this file.  store.c dispatches every public store_* call through the
 * backend's `struct store_ops`; a backend allocates a struct that starts
 * with `struct store` and fills `ops`.  SQLite (store_sqlite.c) is the one
 * backend today; PostgreSQL will be the second.
 *
 * Also here: the backend-independent rules every backend must apply the
 * same way (dedup key, per-day spreading), so that a report stored by one
 * backend rolls up exactly like one stored by the other.
 */
#ifndef DMARCSTAT_STORE_IMPL_H
#define DMARCSTAT_STORE_IMPL_H
#include <stddef.h>
#include <stdint.h>

#include "lib/rd.h"
#include "store/store.h"

struct store_ops {
	const char *name;
	void (*close)(struct store *st);
	int (*set_busy_timeout)(struct store *st, int ms);
	int (*begin)(struct store *st);
	int (*commit)(struct store *st);
	int (*rollback)(struct store *st);
	int (*raw_put)(struct store *st, const uint8_t sha256[32],
	    const void *data, size_t len, int64_t *raw_id_out);
	int (*raw_put_fd)(struct store *st, const uint8_t sha256[32], int fd,
	    uint64_t len, int64_t *raw_id_out);
	int (*raw_get)(struct store *st, int64_t raw_id, void **data_out,
	    size_t *len_out);
	struct rd *(*raw_open)(struct store *st, int64_t raw_id);
	int (*ledger_add)(struct store *st, const struct ledger_entry *e,
	    int64_t *id_out);
	int (*report_begin)(struct store *st, const struct report *hdr,
	    int64_t raw_id, int64_t *report_out, int64_t *dup_out);
	int (*report_record)(struct store *st, int64_t report,
	    const struct report *hdr, const struct report_record *rec);
	int (*report_end)(struct store *st, int64_t report,
	    const struct report *final, const uint8_t content_hash[32],
	    int64_t *dup_out);
	int (*report_abort)(struct store *st, int64_t report);
	int (*report_delete)(struct store *st, int64_t report);
	struct sqlite3 *(*sqlite_handle)(struct store *st);
};

struct store {
	const struct store_ops *ops;
	char err[512];
};

/* printf into st->err; returns -1 so that `return store_seterr(...)` reads well. */
int store_seterr(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct store *store_sqlite_open(const char *path, int readonly, char *err,
    size_t errlen);
/* The embedded copy of schema.sql (migration 1); a unit test diffs the two. */
const char *store_sqlite_schema(void);
/* Highest schema version this binary knows. */
int store_sqlite_schema_version(void);

/*
 * Per-day spreading.  A report's [begin, end) range is cut at UTC midnights;
 * `count` is split over the days in proportion to the overlap, rounded by
 * largest remainder (ties go to the earlier day) so the parts add up to
 * `count` exactly.  end <= begin puts everything on the day of begin; a
 * missing begin (< 0) uses end, both missing uses day 0.  A range of more
 * than STORE_SPREAD_MAX_DAYS days is not spread: all on the begin day, and
 * *capped_out is set so the caller can note it.  Returns the number of
 * (day, part) pairs written, at most STORE_SPREAD_MAX_DAYS; parts of 0 are
 * left out.  Pure function, no allocation.
 */
#define STORE_SPREAD_MAX_DAYS 62
#define STORE_DAY 86400
size_t store_spread(int64_t begin, int64_t end, uint64_t count,
    int64_t days_out[STORE_SPREAD_MAX_DAYS],
    uint64_t parts_out[STORE_SPREAD_MAX_DAYS], int *capped_out);

/*
 * Dedup key lower(org)|lower(report_id)|policy_domain|begin|end into
 * buf (ASCII case folding; policy_domain is already lower case).  Returns the
 * length it needs; when that is >= buflen the key was truncated and the
 * caller retries with a larger buffer.
 */
size_t store_dedup_key(char *buf, size_t buflen, const char *org,
    const char *report_id, const char *domain, int64_t begin, int64_t end);

#endif

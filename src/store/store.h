/*
 * store.h - the one interface to persistent data.  SQLite is the backend
 * today (store_sqlite.c); a PostgreSQL backend will implement the same
 * functions through the vtable in store_impl.h, so nothing above store/
 * writes SQL.  Schema: schema.sql (migration 1) + migrations in the backend.
 *
 * Transactions: the ingest layer groups many inputs into one transaction
 * (store_begin/store_commit); each report is written between
 * store_report_begin and store_report_end, and store_report_abort undoes it
 * exactly (SQLite: a compensating delete, cheaper than a savepoint), so a bad
 * or duplicate report never leaves a partial row and never spoils the batch.
 * Only a database failure half way through a report (disk full, I/O error)
 * spoils the batch: store_commit then rolls it back and returns -1.
 *
 * Errors: functions return 0 on success, -1 with a reason in the store's
 * error buffer (store_errmsg), or STORE_BUSY when the database is locked
 * (the CLI maps that to exit code 75 so an MTA retries).
 */
#ifndef DMARCSTAT_STORE_H
#define DMARCSTAT_STORE_H
#include <stdint.h>
#include <stddef.h>

#include "parse/report.h"

#define STORE_BUSY (-2)

struct store;

/*
 * `uri` is a path (SQLite; "sqlite:" prefix optional).  Creates the file and
 * migrates the schema unless readonly (query commands).  A database newer
 * than this binary, or not ours, is refused.  NULL on failure with a reason
 * in err and errno == EBUSY when another process held the lock (exit 75).
 */
struct store *store_open(const char *uri, int readonly, char *err, size_t errlen);
void store_close(struct store **st);
const char *store_errmsg(struct store *st);
/* How long a writer waits for another writer's lock before STORE_BUSY
 * (default 5000 ms; 0 = fail at once). */
int store_set_busy_timeout(struct store *st, int ms);

int store_begin(struct store *st);
int store_commit(struct store *st);
int store_rollback(struct store *st);

/* Raw originals for reparse: deflated unless already compressed. Dedup by sha256. */
int store_raw_put(struct store *st, const uint8_t sha256[32], const void *data,
    size_t len, int64_t *raw_id_out);
/* Streaming variant for large inputs: `len` bytes are read from `fd` at its
 * current position (memory stays bounded: compressed through a temp file);
 * when the sha256 is already stored nothing is read and the existing id is
 * returned. */
int store_raw_put_fd(struct store *st, const uint8_t sha256[32], int fd,
    uint64_t len, int64_t *raw_id_out);
/* Returns a malloc'd buffer with the original bytes (inflated). */
int store_raw_get(struct store *st, int64_t raw_id, void **data_out, size_t *len_out);
/* Streams the original bytes (inflating on the fly, bounded memory) for
 * reparse of large inputs.  NULL with a reason in store_errmsg when there is
 * no such raw input.  The stream must be closed before store_close. */
struct rd;
struct rd *store_raw_open(struct store *st, int64_t raw_id);

struct ledger_entry {
	const char *source;   /* file stdin mbox maildir imap spool upload pipe reparse */
	const char *input;
	const char *member;   /* NULL for the input itself */
	uint64_t size;
	const uint8_t *sha256; /* may be NULL */
	const char *status;   /* imported duplicate rejected not-a-report unsupported error */
	const char *reason;
	const char *kind;     /* aggregate failure smtp_tls or NULL */
	int64_t report;       /* 0 when none */
	int64_t raw_id;       /* 0 when none */
};
int store_ledger_add(struct store *st, const struct ledger_entry *e, int64_t *id_out);

/*
 * Writing one aggregate report, streamed:
 *   store_report_begin(hdr)      -> opens the report and gives its id;
 *                                   *dup_out = existing report id when the
 *                                   dedup key is known (then skip it)
 *   store_report_record(rec) ... -> one per record (also feeds `daily`)
 *   store_report_end(final, hash)-> re-checks dedup by content hash, writes
 *                                   the report with its totals;
 *                                   *dup_out as above when the hash matched
 *   store_report_abort()         -> undoes everything of the open report
 *
 * All return 0 on success (a duplicate is a success: *dup_out != 0),
 * -1 / STORE_BUSY on failure; after a failure call store_report_abort.
 * When begin or end reports a duplicate, nothing of the new report remains
 * and it is already closed; store_report_abort is then a no-op.
 * `report` of a duplicate at begin is 0.  Without store_begin, the report
 * is its own transaction (committed by store_report_end).  The backend may
 * write the report's rows only at store_report_end: between begin and end
 * its id names nothing readable yet.
 * If `final` changes a dedup-key field (org, report_id, domain, begin, end)
 * seen at begin, the key is re-checked and `daily` re-spread.
 * A record count above STORE_MAX_COUNT is refused (-1): the caller aborts.
 */
#define STORE_MAX_COUNT 1000000000000ULL
int store_report_begin(struct store *st, const struct report *hdr,
    int64_t raw_id, int64_t *report_out, int64_t *dup_out);
int store_report_record(struct store *st, int64_t report,
    const struct report *hdr, const struct report_record *rec);
int store_report_end(struct store *st, int64_t report, const struct report *final,
    const uint8_t content_hash[32], int64_t *dup_out);
int store_report_abort(struct store *st, int64_t report);

/* Deletes the parsed data of one report (for reparse); keeps raw + ledger. */
int store_report_delete(struct store *st, int64_t report);

/* Generic read access for the CLI, the web API and analysis code. */
struct sqlite3;
struct sqlite3 *store_sqlite_handle(struct store *st); /* NULL for non-SQLite backends */

#endif

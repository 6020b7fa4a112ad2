/*
 * ingest.h - from an input to stored reports, with one ledger row per input,
 * message or archive member.
 *
 * ingest_path() takes a file (any container), a directory tree (recursive;
 * a Maildir's cur/ and new/ are messages, tmp/ is ignored), or an mbox; the
 * caller decides nothing by name.  ingest_rd() takes one stream (stdin, an
 * IMAP message, an upload).  Each input is read once: its bytes are hashed,
 * kept raw (compressed) for reparse, unpacked (parse/unpack), and each XML
 * leaf is parsed (parse/aggregate) straight into the store.
 *
 * A bad input gets one line on the error stream naming it and the reason,
 * and a ledger row; the other inputs go on.  Reports are committed in
 * batches (one transaction per batch, a savepoint per report), so a crash
 * leaves no partial report and re-running completes the import.
 */
#ifndef DMARCSTAT_INGEST_H
#define DMARCSTAT_INGEST_H
#include <stdint.h>
#include <stdio.h>

#include "lib/rd.h"
#include "parse/limits.h"
#include "store/store.h"

struct ingest_stats {
	uint64_t inputs;        /* files / messages looked at */
	uint64_t imported;      /* reports newly stored */
	uint64_t duplicates;    /* reports already stored */
	uint64_t rejected;      /* documents that looked like reports but were unusable */
	uint64_t not_report;    /* inputs that held no report */
	uint64_t unsupported;   /* recognised but not (yet) handled: TLS-RPT, failure, .msg */
	uint64_t errors;        /* temporary failures (database busy, I/O) */
	uint64_t records;
	uint64_t messages;      /* sum of count over imported reports */
	uint64_t bytes;         /* input bytes read */
};

/*
 * Inputs per transaction by default.  Each commit rewrites in the WAL every
 * page its batch touched, and the pages of the random-keyed indexes (hashes,
 * source IPs, dedup keys) are touched by every batch: 2,000 inputs per
 * commit write 31 % fewer WAL bytes than 500 over 20,000 reports, for at
 * most one batch (~5 MB of reports) redone after a crash.
 */
#define INGEST_BATCH 2000

struct ingest_opts {
	const char *source;     /* ledger source: file stdin imap spool upload pipe */
	int keep_raw;           /* store originals (default 1) */
	unsigned batch;         /* inputs per transaction (INGEST_BATCH) */
	FILE *errors;           /* one line per bad input; NULL = silent */
	int progress;           /* draw a progress line on stderr (terminal) */
	/* The word for a status in the error lines ("rejected", "not a report",
	 * "unsupported", "error"), e.g. translated; NULL = as is. */
	const char *(*status_word)(const char *status);
	/* The reason of an error line in the user's language (the ledger
	 * keeps the English one): writes to buf, returns it; NULL = as is. */
	const char *(*reason_text)(const char *reason, char *buf, size_t len);
	unsigned threads;       /* ingest_paths: 2 = parse and store in two
	                         * threads (bulk import); 0/1 = one thread */
	int external_txn;       /* the caller holds a transaction open around
	                         * every ingest_* call and commits it; ingest
	                         * then never begins, commits or rolls back */
};

struct ingest;

struct ingest *ingest_new(struct store *st, const struct limits *lim,
    const struct ingest_opts *opts);
/* Returns 0 when every input was imported or duplicate, 1 when some were
 * rejected / not reports, STORE_BUSY (-2) / -1 on a temporary failure. */
int ingest_path(struct ingest *ig, const char *path);
/* Several paths; with opts.threads > 1 parsing runs in a second thread
 * while this one writes to the store.  Same return values. */
int ingest_paths(struct ingest *ig, char *const *paths, size_t n);
/* `name` labels the input in the ledger and in messages. */
int ingest_rd(struct ingest *ig, const char *name, struct rd *rd);
int ingest_buffer(struct ingest *ig, const char *name, const void *p, size_t len);
/* Commits the open batch. */
int ingest_flush(struct ingest *ig);
const struct ingest_stats *ingest_stats(const struct ingest *ig);
/* Flushes and frees. */
int ingest_free(struct ingest **ig);

#endif

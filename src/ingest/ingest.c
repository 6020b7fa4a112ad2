/*
 * ingest.c - inputs to stored reports (see ingest.h).
 *
 * Two halves joined by a stream of events:
 *
 *   producer: path walk -> read the input once (memory up to INGEST_MEM_MAX,
 *             else an unlinked temporary file), hash it (BLAKE2b) ->
 *             parse/unpack -> parse/aggregate, emitting
 *             INPUT, REPORT_BEGIN, RECORD..., REPORT_END, LEDGER, INPUT_END
 *   consumer: applies each event to the store: raw original, report rows,
 *             deduplication, ledger rows, the one-line messages on the
 *             error stream, statistics, batching of transactions.
 *
 * Synchronously (the default, and for ingest_rd/ingest_buffer) the consumer
 * runs inside the producer's emit call and events point at the parser's own
 * memory.  With opts.threads > 1, ingest_paths() runs the producer in a
 * second thread and events carry deep copies through a bounded queue, so
 * parsing and SQLite writing use both cores; a 200 MB report still streams,
 * because the queue's byte budget makes the parser wait for the writer.
 *
 * Transactions: a batch of `opts.batch` inputs shares one transaction; a
 * report that fails half-way is undone by store_report_abort, so nothing
 * partial is ever committed.  A temporary failure (STORE_BUSY, I/O) rolls
 * the open batch back and stops the walk: re-running redoes it, and reports
 * committed before are recognised as duplicates.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "ingest/leaf.h"
#include "ingest/walk.h"
#include "lib/xalloc.h"
#include "parse/aggregate.h"
#include "parse/report_dup.h"
#include "parse/unpack.h"

#define INGEST_MEM_MAX   (16u << 20)   /* inputs above this are spilled to a temp file */
#define INGEST_CHUNK     (64u << 10)
#define INGEST_LABEL_MAX 240
#define QUEUE_EVENTS     16384         /* ~2,700 small reports: a commit or */
#define QUEUE_BYTES      (4u << 20)    /* checkpoint does not stall the parser */
#define QUEUE_WAKE       256           /* events before a sleeping consumer is woken */

enum ev_kind {
	EV_INPUT,          /* a new input: name, size, hash, raw bytes */
	EV_REPORT_BEGIN,   /* header of an aggregate report */
	EV_RECORD,
	EV_REPORT_END,     /* parse result: final header or error */
	EV_LEDGER,         /* a ledger row that needs no store decision */
	EV_INPUT_END,
};

struct ev {
	enum ev_kind kind;
	/* EV_INPUT */
	const char *source, *name, *member;
	uint64_t size;
	uint8_t hash[32];
	const void *raw;
	size_t raw_len;
	int raw_fd;                  /* -1 when raw is in memory */
	/* EV_REPORT_BEGIN / EV_RECORD / EV_REPORT_END */
	const char *label;           /* member label of the report leaf */
	const struct report *hdr;
	const struct report_record *rec;
	int rc;                      /* REPORT_END: 0 ok, <0 error, >0 stopped */
	const char *err;
	/* EV_LEDGER */
	const char *status, *reason, *lkind, *say_status;
	int counter;                 /* which statistic: see enum ctr */
	/* queue mode: blocks to free once applied */
	void *own[4];
	size_t bytes;
};

enum ctr { CTR_NONE, CTR_REJECTED, CTR_NOT_REPORT, CTR_UNSUPPORTED, CTR_ERRORS };

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct ev *v;
	size_t head, len;
	size_t bytes;
	int done;
	int full_wait;          /* the producer sleeps until the queue drains */
	int empty_wait;         /* the consumer sleeps on not_empty */
};

struct ingest {
	struct store *st;
	struct limits lim;
	struct ingest_opts opts;
	struct ingest_stats stats;
	unsigned in_batch;
	int txn_open;
	atomic_int failed;       /* temporary failure: stop everything */
	/* producer */
	unsigned char *buf;      /* reusable input buffer */
	size_t buf_cap;
	unsigned char *chunk;    /* INGEST_CHUNK bytes for reading leaves */
	struct queue *q;         /* non-NULL while a pipeline runs */
	/* consumer state for the current input and report */
	struct {
		const char *source, *name, *member;
		char *name_own, *member_own, *source_own;
		uint64_t size;
		int64_t raw_id;
		int bad;
		int64_t report, dup;
		int store_err;
		const struct report *hdr;   /* queue mode: owned copy */
		void *hdr_own;
		uint64_t records, messages;
	} c;
	struct timespec last_progress;
};

/* Producer state for one input. */
struct input {
	struct ingest *ig;
	const char *member;
	unsigned reports;        /* report-like leaves seen */
	struct leaf_others others; /* what the non-report leaves were */
};

/* ---- messages ------------------------------------------------------- */

static void
sanitize(char *dst, size_t dstlen, const char *src)
{
	size_t j = 0;

	if (dstlen == 0)
		return;
	for (size_t i = 0; src && src[i] && j + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[j] = '\0';
}

static void
say(struct ingest *ig, const char *name, const char *member,
    const char *status, const char *reason)
{
	char n[INGEST_LABEL_MAX], mem[INGEST_LABEL_MAX * 2], why[512];
	char said[1024];

	if (ig->opts.errors == NULL)
		return;
	if (ig->opts.status_word)
		status = ig->opts.status_word(status);
	if (ig->opts.reason_text && reason)
		reason = ig->opts.reason_text(reason, said, sizeof said);
	sanitize(n, sizeof n, name);
	sanitize(why, sizeof why, reason);
	if (member && *member) {
		sanitize(mem, sizeof mem, member);
		fprintf(ig->opts.errors, "dmarcstat: %s [%s]: %s: %s\n", n, mem,
		    status, why);
	} else
		fprintf(ig->opts.errors, "dmarcstat: %s: %s: %s\n", n, status, why);
}

static void
progress(struct ingest *ig)
{
	struct timespec now;

	if (!ig->opts.progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((now.tv_sec - ig->last_progress.tv_sec) * 1000 +
	    (now.tv_nsec - ig->last_progress.tv_nsec) / 1000000 < 200)
		return;
	ig->last_progress = now;
	fprintf(stderr, "\r\033[K%llu inputs, %llu imported, %llu duplicate, "
	    "%llu rejected, %llu messages",
	    (unsigned long long)ig->stats.inputs,
	    (unsigned long long)ig->stats.imported,
	    (unsigned long long)ig->stats.duplicates,
	    (unsigned long long)(ig->stats.rejected + ig->stats.not_report),
	    (unsigned long long)ig->stats.messages);
}

/* ---- consumer: events to the store ---------------------------------- */

static int
txn_ensure(struct ingest *ig)
{
	int rc;

	if (ig->txn_open || ig->opts.external_txn)
		return 0;
	rc = store_begin(ig->st);
	if (rc != 0)
		return rc;
	ig->txn_open = 1;
	return 0;
}

static void
fail(struct ingest *ig, int rc)
{
	say(ig, ig->c.name, ig->c.member, "error", store_errmsg(ig->st));
	atomic_store(&ig->failed, rc == STORE_BUSY ? STORE_BUSY : -1);
	ig->stats.errors++;
}

static void
ledger(struct ingest *ig, const char *member, const char *status,
    const char *reason, const char *kind, int64_t report, const uint8_t *hash)
{
	struct ledger_entry e = {
		.source = ig->c.source, .input = ig->c.name, .member = member,
		.size = ig->c.size, .sha256 = hash, .status = status,
		.reason = reason, .kind = kind, .report = report,
		.raw_id = ig->c.raw_id,
	};
	int rc;

	if (atomic_load(&ig->failed))
		return;
	rc = txn_ensure(ig);
	if (rc == 0)
		rc = store_ledger_add(ig->st, &e, NULL);
	if (rc != 0)
		fail(ig, rc);
}

static void
count(struct ingest *ig, int ctr)
{
	switch (ctr) {
	case CTR_REJECTED: ig->stats.rejected++; break;
	case CTR_NOT_REPORT: ig->stats.not_report++; break;
	case CTR_UNSUPPORTED: ig->stats.unsupported++; break;
	case CTR_ERRORS: ig->stats.errors++; break;
	default: break;
	}
	if (ctr != CTR_NONE)
		ig->c.bad = 1;
}

static void
apply_input(struct ingest *ig, const struct ev *e)
{
	int rc;

	ig->c.source = e->source;
	ig->c.name = e->name;
	ig->c.member = e->member;
	ig->c.size = e->size;
	ig->c.raw_id = 0;
	ig->c.bad = 0;
	ig->stats.inputs++;
	ig->stats.bytes += e->size;
	if (atomic_load(&ig->failed))
		return;
	if ((rc = txn_ensure(ig)) != 0) {
		fail(ig, rc);
		return;
	}
	if (!ig->opts.keep_raw || (e->raw == NULL && e->raw_fd < 0) || e->size == 0)
		return;
	if (e->raw_fd >= 0)
		rc = store_raw_put_fd(ig->st, e->hash, e->raw_fd, e->size,
		    &ig->c.raw_id);
	else
		rc = store_raw_put(ig->st, e->hash, e->raw, e->raw_len,
		    &ig->c.raw_id);
	if (rc != 0)
		fail(ig, rc);
}

static void
apply_report_begin(struct ingest *ig, const struct ev *e)
{
	int rc;

	ig->c.report = ig->c.dup = 0;
	ig->c.store_err = 0;
	ig->c.records = ig->c.messages = 0;
	ig->c.hdr = e->hdr;
	if (atomic_load(&ig->failed) || e->hdr == NULL)
		return;
	rc = store_report_begin(ig->st, e->hdr, ig->c.raw_id, &ig->c.report,
	    &ig->c.dup);
	if (rc != 0)
		ig->c.store_err = rc;
}

static void
apply_record(struct ingest *ig, const struct ev *e)
{
	int rc;

	if (atomic_load(&ig->failed) || ig->c.store_err || ig->c.dup ||
	    ig->c.report == 0)
		return;
	rc = store_report_record(ig->st, ig->c.report, ig->c.hdr, e->rec);
	if (rc != 0) {
		ig->c.store_err = rc;
		return;
	}
	ig->c.records++;
	ig->c.messages += e->rec->count;
}

static void
apply_report_end(struct ingest *ig, const struct ev *e)
{
	const char *member = e->label;
	int64_t dup = 0;
	int rc;

	if (atomic_load(&ig->failed))
		return;
	if (ig->c.store_err) {
		/* the database failed us: not the report's fault */
		if (ig->c.report)
			store_report_abort(ig->st, ig->c.report);
		fail(ig, ig->c.store_err);
	} else if (ig->c.dup) {
		ledger(ig, member, "duplicate", "already imported (same reporter, "
		    "report id, domain and period)", "aggregate", ig->c.dup, e->hash);
		ig->stats.duplicates++;
	} else if (e->rc != 0) {
		if (ig->c.report)
			store_report_abort(ig->st, ig->c.report);
		count(ig, CTR_REJECTED);
		say(ig, ig->c.name, member, "rejected", e->err);
		ledger(ig, member, "rejected", e->err, "aggregate", 0, e->hash);
	} else {
		rc = store_report_end(ig->st, ig->c.report, e->hdr, e->hash, &dup);
		if (rc != 0) {
			store_report_abort(ig->st, ig->c.report);
			fail(ig, rc);
		} else if (dup) {
			ledger(ig, member, "duplicate", "already imported (same content)",
			    "aggregate", dup, e->hash);
			ig->stats.duplicates++;
		} else {
			char why[160];
			snprintf(why, sizeof why, "%llu records, %llu messages%s",
			    (unsigned long long)ig->c.records,
			    (unsigned long long)ig->c.messages,
			    e->hdr->n_warnings ? ", with warnings" : "");
			ledger(ig, member, "imported", why, "aggregate", ig->c.report,
			    e->hash);
			ig->stats.imported++;
			ig->stats.records += ig->c.records;
			ig->stats.messages += ig->c.messages;
		}
	}
	ig->c.report = 0;
	ig->c.hdr = NULL;
}

static void
apply_input_end(struct ingest *ig)
{
	if (atomic_load(&ig->failed)) {
		if (ig->txn_open && !ig->opts.external_txn)
			store_rollback(ig->st);
		ig->txn_open = 0;
		ig->in_batch = 0;
		return;
	}
	if (++ig->in_batch >= ig->opts.batch)
		ingest_flush(ig);
	progress(ig);
}

/* Returns 1 when the producer may stop parsing the current report. */
static int
apply(struct ingest *ig, const struct ev *e)
{
	switch (e->kind) {
	case EV_INPUT:
		apply_input(ig, e);
		break;
	case EV_REPORT_BEGIN:
		apply_report_begin(ig, e);
		return ig->c.dup || ig->c.store_err;
	case EV_RECORD:
		apply_record(ig, e);
		return ig->c.store_err != 0;
	case EV_REPORT_END:
		apply_report_end(ig, e);
		break;
	case EV_LEDGER:
		count(ig, e->counter);
		if (e->say_status)
			say(ig, ig->c.name, e->member, e->say_status, e->reason);
		ledger(ig, e->member, e->status, e->reason, e->lkind, 0,
		    e->raw ? e->hash : NULL);
		break;
	case EV_INPUT_END:
		apply_input_end(ig);
		break;
	}
	return atomic_load(&ig->failed) != 0;
}

/* ---- the queue between the two threads ------------------------------ */

static char *
dupn(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Turns an event pointing at producer memory into one that owns copies. */
static void
ev_own(struct ev *e)
{
	e->bytes = sizeof *e;
	switch (e->kind) {
	case EV_INPUT:
		e->own[0] = (void *)(e->source = dupn(e->source));
		e->own[1] = (void *)(e->name = dupn(e->name));
		e->own[2] = (void *)(e->member = dupn(e->member));
		if (e->raw) {
			void *c = xmalloc(e->raw_len ? e->raw_len : 1);
			memcpy(c, e->raw, e->raw_len);
			e->raw = e->own[3] = c;
			e->bytes += e->raw_len;
		}
		break;
	case EV_REPORT_BEGIN:
	case EV_REPORT_END:
		e->own[0] = (void *)(e->label = dupn(e->label));
		e->own[1] = (void *)(e->err = dupn(e->err));
		if (e->hdr) {
			e->hdr = report_dup(e->hdr);
			e->own[2] = (void *)e->hdr;
		}
		e->bytes += 512;
		break;
	case EV_RECORD:
		e->rec = report_record_dup(e->rec);
		e->own[0] = (void *)e->rec;
		e->bytes += 256;
		break;
	case EV_LEDGER:
		e->own[0] = (void *)(e->member = dupn(e->member));
		e->own[1] = (void *)(e->reason = dupn(e->reason));
		break;
	case EV_INPUT_END:
		break;
	}
}

static void
ev_free(struct ev *e)
{
	for (size_t i = 0; i < sizeof e->own / sizeof e->own[0]; i++)
		free(e->own[i]);
	if (e->kind == EV_INPUT && e->raw_fd >= 0)
		close(e->raw_fd);
}

static struct queue *
queue_new(void)
{
	struct queue *q = xcalloc(1, sizeof *q);

	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	q->v = xcalloc(QUEUE_EVENTS, sizeof *q->v);
	return q;
}

static void
queue_free(struct queue *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	free(q->v);
	free(q);
}

/*
 * A full queue makes the producer sleep until the consumer has taken it
 * down to half (queue_pop), not just by one event: otherwise a slower
 * consumer would wake the producer once per event, and each wake-up costs
 * both threads far more than handling the event.
 */
static void
queue_push(struct queue *q, struct ev *e)
{
	pthread_mutex_lock(&q->mu);
	while (q->len == QUEUE_EVENTS || (q->bytes > QUEUE_BYTES && q->len > 0)) {
		q->full_wait = 1;
		pthread_cond_signal(&q->not_empty);
		pthread_cond_wait(&q->not_full, &q->mu);
	}
	q->v[(q->head + q->len) % QUEUE_EVENTS] = *e;
	q->len++;
	q->bytes += e->bytes;
	/* Wake a waiting consumer only once a few events are there: one wake
	 * (a futex call and a context switch) per event cost more than the
	 * event.  It cannot sleep for ever: a full queue and queue_finish wake
	 * it too. */
	if (q->empty_wait && (q->len >= QUEUE_WAKE || q->bytes >= QUEUE_BYTES / 2)) {
		q->empty_wait = 0;
		pthread_cond_signal(&q->not_empty);
	}
	pthread_mutex_unlock(&q->mu);
}

/* Returns 0 with *e filled, -1 when the producer is done and all is taken. */
static int
queue_pop(struct queue *q, struct ev *e)
{
	pthread_mutex_lock(&q->mu);
	while (q->len == 0 && !q->done) {
		q->empty_wait = 1;
		pthread_cond_wait(&q->not_empty, &q->mu);
	}
	if (q->len == 0) {
		pthread_mutex_unlock(&q->mu);
		return -1;
	}
	*e = q->v[q->head];
	q->head = (q->head + 1) % QUEUE_EVENTS;
	q->len--;
	q->bytes -= e->bytes;
	if (q->full_wait && q->len <= QUEUE_EVENTS / 2 &&
	    q->bytes <= QUEUE_BYTES / 2) {
		q->full_wait = 0;
		pthread_cond_signal(&q->not_full);
	}
	pthread_mutex_unlock(&q->mu);
	return 0;
}

static void
queue_finish(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->done = 1;
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}

/* Producer side: apply at once, or copy into the queue.  Returns 1 when
 * the producer may stop the current report (sync mode only) or should stop
 * altogether. */
static int
emit(struct ingest *ig, struct ev *e)
{
	if (ig->q == NULL)
		return apply(ig, e);
	ev_own(e);
	queue_push(ig->q, e);
	return atomic_load(&ig->failed) != 0;
}

/* ---- producer: inputs to events ------------------------------------- */

static char *
member_label(const struct input *in, const char *leaf_label)
{
	if (in->member && leaf_label && *leaf_label)
		return xasprintf("%s > %s", in->member, leaf_label);
	if (in->member)
		return xstrdup(in->member);
	if (leaf_label && *leaf_label)
		return xstrdup(leaf_label);
	return NULL;
}

static void
emit_ledger(struct ingest *ig, const char *member, const char *status,
    const char *say_status, const char *reason, const char *kind, int ctr,
    const uint8_t *hash)
{
	struct ev e = { .kind = EV_LEDGER, .member = member, .status = status,
	    .say_status = say_status, .reason = reason, .lkind = kind,
	    .counter = ctr, .raw_fd = -1 };

	if (hash) {
		memcpy(e.hash, hash, 32);
		e.raw = e.hash;       /* marks "hash present" */
	}
	emit(ig, &e);
}

struct leaf_state {
	struct ingest *ig;
	const char *label;
	int began;
};

static int
leaf_on_header(void *ctx, const struct report *r)
{
	struct leaf_state *ls = ctx;
	struct ev e = { .kind = EV_REPORT_BEGIN, .label = ls->label, .hdr = r,
	    .raw_fd = -1 };

	ls->began = 1;
	return emit(ls->ig, &e);
}

static int
leaf_on_record(void *ctx, const struct report *r, const struct report_record *rec)
{
	struct leaf_state *ls = ctx;
	struct ev e = { .kind = EV_RECORD, .rec = rec, .raw_fd = -1 };

	(void)r;
	return emit(ls->ig, &e);
}

static const struct aggregate_cb leaf_cb = {
	.on_header = leaf_on_header,
	.on_record = leaf_on_record,
};

static void
produce_aggregate(struct input *in, struct unpack_leaf *leaf)
{
	struct ingest *ig = in->ig;
	struct leaf_state ls = { .ig = ig };
	crypto_generichash_state hs;
	struct aggregate *ag;
	const struct report *final = NULL;
	struct ev end = { .kind = EV_REPORT_END, .raw_fd = -1 };
	char err[512] = "";
	char *member = member_label(in, leaf->label);
	int rc = 0;

	ls.label = member;
	crypto_generichash_init(&hs, NULL, 0, 32);
	ag = aggregate_new(&ig->lim, &leaf_cb, &ls);
	for (;;) {
		ssize_t n = rd_read(leaf->rd, ig->chunk, INGEST_CHUNK);
		if (n < 0) {
			snprintf(err, sizeof err, "%s", leaf->rd->err);
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		crypto_generichash_update(&hs, ig->chunk, (size_t)n);
		rc = aggregate_feed(ag, ig->chunk, (size_t)n, err, sizeof err);
		if (rc != 0)
			break;
	}
	if (rc == 0)
		rc = aggregate_finish(ag, &final, err, sizeof err);
	crypto_generichash_final(&hs, end.hash, 32);
	if (rc < 0 && !ls.began && aggregate_not_dmarc(ag)) {
		/* an HTML or other XML part of a mail: not a report at all */
		leaf_others_add_xml(&in->others, err);
		goto out;
	}
	in->reports++;
	if (!ls.began) {
		/* no records, or failed before the header was complete: a
		 * begin event with the final header (or none) resets the
		 * consumer's report state and, on success, opens the report */
		struct ev b = { .kind = EV_REPORT_BEGIN, .label = member,
		    .hdr = rc == 0 ? final : NULL, .raw_fd = -1 };
		emit(ig, &b);
	}
	end.label = member;
	end.hdr = rc == 0 ? final : NULL;
	end.rc = rc;
	end.err = rc ? err : NULL;
	emit(ig, &end);
out:
	aggregate_free(&ag);
	free(member);
}

static int
on_leaf(void *ctx, struct unpack_leaf *leaf)
{
	struct input *in = ctx;
	struct ingest *ig = in->ig;
	enum leaf_class c;
	char *member;

	if (atomic_load(&ig->failed))
		return -1;
	c = leaf_classify(leaf);
	switch (c) {
	case LEAF_AGGREGATE:
		produce_aggregate(in, leaf);
		break;
	case LEAF_FAILURE:
	case LEAF_TLSRPT:
	case LEAF_MSG:
		member = member_label(in, leaf->label);
		in->reports++;
		/* a .msg is worth a line: the user can act on it */
		emit_ledger(ig, member, "unsupported", c == LEAF_MSG ?
		    "unsupported" : NULL, leaf_reason(c), leaf_kind(c),
		    CTR_UNSUPPORTED, NULL);
		free(member);
		break;
	case LEAF_OTHER:
		leaf_others_add_leaf(&in->others, leaf);
		break;
	}
	return atomic_load(&ig->failed) ? -1 : 0;
}

/*
 * Reads the whole input into ig->buf, or spills it to an unlinked temporary
 * file when it is larger than INGEST_MEM_MAX.  Returns 0 with *fd_out = -1
 * (memory) or an open descriptor at offset 0; -1 with a reason.
 */
static int
slurp(struct ingest *ig, struct rd *rd, size_t *len_out, int *fd_out,
    uint8_t hash[32], char *err, size_t errlen)
{
	crypto_generichash_state hs;
	size_t len = 0;
	int fd = -1;

	crypto_generichash_init(&hs, NULL, 0, 32);
	*fd_out = -1;
	for (;;) {
		ssize_t n;
		if (fd < 0 && ig->buf_cap - len < INGEST_CHUNK) {
			if (ig->buf_cap >= INGEST_MEM_MAX) {
				/* spill what we have and go on in a file */
				const char *tmp = getenv("TMPDIR");
				char *path = xasprintf("%s/dmarcstat.XXXXXX",
				    tmp && *tmp ? tmp : "/tmp");
				fd = mkstemp(path);
				if (fd >= 0)
					unlink(path);
				free(path);
				if (fd < 0 || write(fd, ig->buf, len) != (ssize_t)len) {
					snprintf(err, errlen, "cannot spill to a temporary "
					    "file: %s", strerror(errno));
					if (fd >= 0)
						close(fd);
					return -1;
				}
			} else {
				ig->buf_cap *= 2;
				ig->buf = xrealloc(ig->buf, ig->buf_cap);
			}
		}
		if (fd < 0) {
			n = rd_read(rd, ig->buf + len, ig->buf_cap - len);
		} else {
			n = rd_read(rd, ig->buf, INGEST_CHUNK);
			if (n > 0 && write(fd, ig->buf, (size_t)n) != n) {
				snprintf(err, errlen, "cannot write a temporary file: %s",
				    strerror(errno));
				close(fd);
				return -1;
			}
		}
		if (n < 0) {
			snprintf(err, errlen, "%s", rd->err);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		if (n == 0)
			break;
		crypto_generichash_update(&hs, fd < 0 ? ig->buf + len : ig->buf,
		    (size_t)n);
		len += (size_t)n;
	}
	crypto_generichash_final(&hs, hash, 32);
	if (fd >= 0 && lseek(fd, 0, SEEK_SET) != 0) {
		snprintf(err, errlen, "cannot rewind a temporary file");
		close(fd);
		return -1;
	}
	*len_out = len;
	*fd_out = fd;
	return 0;
}

/* A second descriptor with its own offset on the same (unlinked) file. */
static int
reopen_fd(int fd)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static int
produce_input(struct ingest *ig, const char *source, const char *name,
    const char *member, struct rd *rd)
{
	struct input in = { .ig = ig, .member = member };
	struct ev e = { .kind = EV_INPUT, .source = source, .name = name,
	    .member = member, .raw_fd = -1 };
	struct ev end = { .kind = EV_INPUT_END, .raw_fd = -1 };
	char err[512] = "";
	size_t len = 0;
	int fd = -1;
	struct rd *body = NULL;

	if (atomic_load(&ig->failed))
		return -1;
	if (slurp(ig, rd, &len, &fd, e.hash, err, sizeof err) != 0) {
		e.size = rd->total;
		emit(ig, &e);
		emit_ledger(ig, member, "rejected", "rejected", err, NULL,
		    CTR_REJECTED, NULL);
		goto done;
	}
	e.size = len;
	if (fd < 0) {
		e.raw = ig->buf;
		e.raw_len = len;
	} else {
		e.raw_fd = ig->q ? reopen_fd(fd) : dup(fd);
		if (e.raw_fd < 0) {
			emit(ig, &e);
			emit_ledger(ig, member, "error", "error", "cannot reopen the "
			    "temporary file", NULL, CTR_ERRORS, NULL);
			goto done;
		}
	}
	emit(ig, &e);
	if (fd >= 0 && ig->q == NULL && e.raw_fd >= 0) {
		/* sync mode: the raw copy read through the shared offset */
		close(e.raw_fd);
		if (lseek(fd, 0, SEEK_SET) != 0)
			goto done;
	}
	body = fd < 0 ? rd_mem_new(ig->buf, len) : rd_fd_new(fd);
	if (unpack_run(body, &ig->lim, on_leaf, &in, err, sizeof err) != 0
	    && !atomic_load(&ig->failed)) {
		emit_ledger(ig, member, "rejected", "rejected", err, NULL,
		    CTR_REJECTED, NULL);
		goto done;
	}
	if (atomic_load(&ig->failed))
		goto done;
	if (in.reports == 0) {
		char why[300];
		leaf_not_report_reason(&in.others, len, why, sizeof why);
		emit_ledger(ig, member, "not-a-report", "not a report", why, NULL,
		    CTR_NOT_REPORT, e.hash);
	}
done:
	rd_close(&body);
	if (fd >= 0)
		close(fd);
	emit(ig, &end);
	return atomic_load(&ig->failed) ? -1 : 0;
}

static int
walk_on_input(void *ctx, const char *source, const char *name,
    const char *member, struct rd *rd)
{
	struct ingest *ig = ctx;
	/* an explicit --source (pipe, spool...) names every input; otherwise
	 * the walk's own kind (file, stdin, mbox, maildir) */
	const char *src = ig->opts.source ? ig->opts.source : source;

	return produce_input(ig, src, name, member, rd) < 0 ? -1 : 0;
}

static void
walk_on_error(void *ctx, const char *name, const char *reason)
{
	struct ingest *ig = ctx;
	struct ev e = { .kind = EV_INPUT, .source = ig->opts.source ?
	    ig->opts.source : "file", .name = name,
	    .raw_fd = -1 };
	struct ev end = { .kind = EV_INPUT_END, .raw_fd = -1 };

	emit(ig, &e);
	emit_ledger(ig, NULL, "error", "error", reason, NULL, CTR_REJECTED, NULL);
	emit(ig, &end);
}

/* ---- public --------------------------------------------------------- */

struct ingest *
ingest_new(struct store *st, const struct limits *lim,
    const struct ingest_opts *opts)
{
	struct ingest *ig = xcalloc(1, sizeof *ig);

	if (sodium_init() < 0)
		abort();
	unpack_global_init();
	ig->st = st;
	ig->lim = *lim;
	if (opts)
		ig->opts = *opts;
	else
		ig->opts.keep_raw = 1;
	if (ig->opts.batch == 0)
		ig->opts.batch = INGEST_BATCH;
	ig->buf_cap = 256u << 10;
	ig->buf = xmalloc(ig->buf_cap);
	ig->chunk = xmalloc(INGEST_CHUNK);
	atomic_init(&ig->failed, 0);
	return ig;
}

static uint64_t
bad_count(const struct ingest *ig)
{
	return ig->stats.rejected + ig->stats.not_report + ig->stats.unsupported;
}

static int
result_code(const struct ingest *ig, uint64_t bad_before)
{
	int f = atomic_load(&ig->failed);

	if (f)
		return f == STORE_BUSY ? STORE_BUSY : -1;
	return bad_count(ig) > bad_before ? 1 : 0;
}

struct producer_job {
	struct ingest *ig;
	char *const *paths;
	size_t n;
};

static void *
producer_main(void *arg)
{
	struct producer_job *job = arg;
	struct walk_cb cb = { walk_on_input, walk_on_error, job->ig };

	for (size_t i = 0; i < job->n && !atomic_load(&job->ig->failed); i++)
		walk_path(job->paths[i], &job->ig->lim, &cb);
	queue_finish(job->ig->q);
	return NULL;
}

int
ingest_paths(struct ingest *ig, char *const *paths, size_t n)
{
	uint64_t bad = bad_count(ig);
	struct producer_job job = { ig, paths, n };
	pthread_t th;
	struct ev e;

	atomic_store(&ig->failed, 0);   /* a previous failure rolled its batch back */
	if (ig->opts.threads <= 1 || n == 0) {
		struct walk_cb cb = { walk_on_input, walk_on_error, ig };
		for (size_t i = 0; i < n && !atomic_load(&ig->failed); i++)
			walk_path(paths[i], &ig->lim, &cb);
		return result_code(ig, bad);
	}
	ig->q = queue_new();
	if (pthread_create(&th, NULL, producer_main, &job) != 0) {
		queue_free(ig->q);
		ig->q = NULL;
		ig->opts.threads = 1;
		return ingest_paths(ig, paths, n);
	}
	while (queue_pop(ig->q, &e) == 0) {
		/* after a failure, drain without applying so the producer ends */
		if (!atomic_load(&ig->failed) || e.kind == EV_INPUT_END)
			apply(ig, &e);
		if (e.kind == EV_REPORT_END || e.kind == EV_INPUT_END)
			ig->c.hdr = NULL;
		/* the input's names live until the next input */
		if (e.kind == EV_INPUT) {
			free(ig->c.source_own);
			free(ig->c.name_own);
			free(ig->c.member_own);
			ig->c.source_own = e.own[0];
			ig->c.name_own = e.own[1];
			ig->c.member_own = e.own[2];
			e.own[0] = e.own[1] = e.own[2] = NULL;
		}
		/* the header copy lives until the next report begins */
		if (e.kind == EV_REPORT_BEGIN) {
			free(ig->c.hdr_own);
			ig->c.hdr_own = e.own[2];
			e.own[2] = NULL;
		}
		ev_free(&e);
	}
	pthread_join(th, NULL);
	free(ig->c.hdr_own);
	free(ig->c.source_own);
	free(ig->c.name_own);
	free(ig->c.member_own);
	ig->c.hdr_own = ig->c.source_own = ig->c.name_own = ig->c.member_own = NULL;
	ig->c.source = ig->c.name = ig->c.member = NULL;
	queue_free(ig->q);
	ig->q = NULL;
	return result_code(ig, bad);
}

int
ingest_path(struct ingest *ig, const char *path)
{
	char *paths[1] = { (char *)path };

	return ingest_paths(ig, paths, 1);
}

int
ingest_rd(struct ingest *ig, const char *name, struct rd *rd)
{
	uint64_t bad = bad_count(ig);

	atomic_store(&ig->failed, 0);
	if (rd->limit == 0 || rd->limit > ig->lim.max_input_bytes)
		rd->limit = ig->lim.max_input_bytes;
	produce_input(ig, ig->opts.source ? ig->opts.source : "file", name,
	    NULL, rd);
	return result_code(ig, bad);
}

int
ingest_buffer(struct ingest *ig, const char *name, const void *p, size_t len)
{
	struct rd *rd = rd_mem_new(p, len);
	int rc = ingest_rd(ig, name, rd);

	rd_close(&rd);
	return rc;
}

int
ingest_flush(struct ingest *ig)
{
	int rc;

	ig->in_batch = 0;
	if (!ig->txn_open || ig->opts.external_txn)
		return atomic_load(&ig->failed);
	ig->txn_open = 0;
	rc = store_commit(ig->st);
	if (rc != 0) {
		if (ig->opts.errors)
			fprintf(ig->opts.errors, "dmarcstat: commit failed: %s\n",
			    store_errmsg(ig->st));
		store_rollback(ig->st);
		atomic_store(&ig->failed, rc == STORE_BUSY ? STORE_BUSY : -1);
		return atomic_load(&ig->failed);
	}
	return 0;
}

const struct ingest_stats *
ingest_stats(const struct ingest *ig)
{
	return &ig->stats;
}

int
ingest_free(struct ingest **igp)
{
	struct ingest *ig;
	int rc;

	if (igp == NULL || *igp == NULL)
		return 0;
	ig = *igp;
	if (!atomic_load(&ig->failed))
		rc = ingest_flush(ig);
	else
		rc = atomic_load(&ig->failed);
	if (ig->opts.progress)
		fprintf(stderr, "\r\033[K");
	free(ig->buf);
	free(ig->chunk);
	free(ig);
	*igp = NULL;
	return rc;
}

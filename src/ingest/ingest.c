/*
 * ingest.c - inputs to stored reports (see ingest.h).
 *
 * Life of one input: its bytes are read once into memory (up to
 * INGEST_MEM_MAX) or spilled to an unlinked temporary file; they are hashed
 * (BLAKE2b) and kept raw in the store; then parse/unpack peels the
 * containers and every XML leaf is streamed through parse/aggregate straight
 * into store_report_*.  The ledger gets one row per report-like leaf, or one
 * row for the whole input when it held nothing that looked like a report.
 *
 * Transactions: a batch of `opts.batch` inputs shares one transaction; each
 * report has its own savepoint inside the store, so a rejected report never
 * leaves a partial row.  A temporary failure (STORE_BUSY, I/O) rolls the
 * open batch back and stops: re-running the import redoes it, and reports
 * that were committed before are recognised as duplicates.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "ingest/walk.h"
#include "lib/xalloc.h"
#include "parse/aggregate.h"
#include "parse/unpack.h"

#define INGEST_MEM_MAX   (16u << 20)   /* inputs above this are spilled to a temp file */
#define INGEST_CHUNK     (64u << 10)
#define INGEST_LABEL_MAX 240

struct ingest {
	struct store *st;
	struct limits lim;
	struct ingest_opts opts;
	struct ingest_stats stats;
	unsigned in_batch;
	int txn_open;
	int failed;              /* temporary failure: stop everything */
	unsigned char *buf;      /* reusable input buffer */
	size_t buf_cap;
	unsigned char *chunk;    /* INGEST_CHUNK bytes for reading leaves */
	struct timespec last_progress;
};

/* Per input. */
struct input {
	struct ingest *ig;
	const char *source, *name, *member;
	int64_t raw_id;
	uint64_t size;
	unsigned reports;        /* report-like leaves seen */
	unsigned bad;            /* of which rejected / unsupported */
	char others[200];        /* what the non-report leaves were */
};

/* Per aggregate leaf being parsed. */
struct leaf_state {
	struct input *in;
	int64_t report;          /* id once store_report_begin succeeded */
	int64_t dup;
	int store_err;           /* store error code (-1 / STORE_BUSY) */
	crypto_generichash_state hash;
	uint64_t records, messages;
};

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
say(struct ingest *ig, const struct input *in, const char *member,
    const char *status, const char *reason)
{
	char name[INGEST_LABEL_MAX], mem[INGEST_LABEL_MAX], why[512];

	if (ig->opts.errors == NULL)
		return;
	sanitize(name, sizeof name, in->name);
	sanitize(why, sizeof why, reason);
	if (member && *member) {
		sanitize(mem, sizeof mem, member);
		fprintf(ig->opts.errors, "dmarcstat: %s [%s]: %s: %s\n", name, mem,
		    status, why);
	} else
		fprintf(ig->opts.errors, "dmarcstat: %s: %s: %s\n", name, status, why);
}

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
ledger(struct input *in, const char *member, const char *status,
    const char *reason, const char *kind, int64_t report, const uint8_t *hash)
{
	struct ingest *ig = in->ig;
	struct ledger_entry e = {
		.source = in->source, .input = in->name, .member = member,
		.size = in->size, .sha256 = hash, .status = status,
		.reason = reason, .kind = kind, .report = report,
		.raw_id = in->raw_id,
	};
	int rc = store_ledger_add(ig->st, &e, NULL);

	if (rc != 0) {
		say(ig, in, member, "error", store_errmsg(ig->st));
		ig->failed = rc == STORE_BUSY ? STORE_BUSY : -1;
	}
}

/* ---- aggregate leaf ------------------------------------------------ */

static int
leaf_on_header(void *ctx, const struct report *r)
{
	struct leaf_state *ls = ctx;
	int rc = store_report_begin(ls->in->ig->st, r, ls->in->raw_id,
	    &ls->report, &ls->dup);

	if (rc != 0) {
		ls->store_err = rc;
		return 1;
	}
	return ls->dup ? 1 : 0;
}

static int
leaf_on_record(void *ctx, const struct report *r, const struct report_record *rec)
{
	struct leaf_state *ls = ctx;
	int rc = store_report_record(ls->in->ig->st, ls->report, r, rec);

	if (rc != 0) {
		ls->store_err = rc;
		return 1;
	}
	ls->records++;
	ls->messages += rec->count;
	return 0;
}

static const struct aggregate_cb leaf_cb = {
	.on_header = leaf_on_header,
	.on_record = leaf_on_record,
};

static void
ingest_aggregate(struct input *in, struct unpack_leaf *leaf)
{
	struct ingest *ig = in->ig;
	struct leaf_state ls = { .in = in };
	struct aggregate *ag;
	const struct report *final = NULL;
	unsigned char *chunk = ig->chunk;
	uint8_t hash[32];
	char err[512] = "";
	char *member = member_label(in, leaf->label);
	int rc = 0, stopped = 0;

	if (txn_ensure(ig) != 0) {
		say(ig, in, member, "error", store_errmsg(ig->st));
		ig->failed = STORE_BUSY;
		free(member);
		return;
	}
	crypto_generichash_init(&ls.hash, NULL, 0, sizeof hash);
	ag = aggregate_new(&ig->lim, &leaf_cb, &ls);
	for (;;) {
		ssize_t n = rd_read(leaf->rd, chunk, INGEST_CHUNK);
		if (n < 0) {
			snprintf(err, sizeof err, "%s", leaf->rd->err);
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		crypto_generichash_update(&ls.hash, chunk, (size_t)n);
		rc = aggregate_feed(ag, chunk, (size_t)n, err, sizeof err);
		if (rc != 0)
			break;
	}
	if (rc > 0)
		stopped = 1;
	if (rc == 0)
		rc = aggregate_finish(ag, &final, err, sizeof err);
	crypto_generichash_final(&ls.hash, hash, sizeof hash);

	if (rc < 0 && !ls.report && aggregate_not_dmarc(err)) {
		/* an HTML or other XML part of a mail: not a report at all */
		size_t len = strlen(in->others);
		const char *root = strstr(err, "<");
		if (len + 20 < sizeof in->others)
			snprintf(in->others + len, sizeof in->others - len, "%sXML %.12s",
			    len ? ", " : "", root ? root : "");
		goto out;
	}
	in->reports++;
	if (ls.store_err) {
		/* the database failed us: not the report's fault */
		if (ls.report)
			store_report_abort(ig->st, ls.report);
		say(ig, in, member, "error", store_errmsg(ig->st));
		ig->failed = ls.store_err == STORE_BUSY ? STORE_BUSY : -1;
		ig->stats.errors++;
	} else if (stopped && ls.dup) {
		/* duplicate found by its key at the header */
		ledger(in, member, "duplicate", "already imported (same reporter, "
		    "report id, domain and period)", "aggregate", ls.dup, hash);
		ig->stats.duplicates++;
	} else if (rc != 0) {
		if (ls.report)
			store_report_abort(ig->st, ls.report);
		in->bad++;
		ig->stats.rejected++;
		say(ig, in, member, "rejected", err);
		ledger(in, member, "rejected", err, "aggregate", 0, hash);
	} else {
		int64_t dup = 0;
		if (ls.report == 0) {
			/* no records: the header arrives only now */
			if (leaf_on_header(&ls, final) != 0 && ls.store_err) {
				say(ig, in, member, "error", store_errmsg(ig->st));
				ig->failed = ls.store_err == STORE_BUSY ? STORE_BUSY : -1;
				goto out;
			}
		}
		if (ls.dup) {
			ledger(in, member, "duplicate", "already imported", "aggregate",
			    ls.dup, hash);
			ig->stats.duplicates++;
			goto out;
		}
		rc = store_report_end(ig->st, ls.report, final, hash, &dup);
		if (rc != 0) {
			store_report_abort(ig->st, ls.report);
			say(ig, in, member, "error", store_errmsg(ig->st));
			ig->failed = rc == STORE_BUSY ? STORE_BUSY : -1;
			ig->stats.errors++;
		} else if (dup) {
			ledger(in, member, "duplicate", "already imported (same content)",
			    "aggregate", dup, hash);
			ig->stats.duplicates++;
		} else {
			char why[160];
			snprintf(why, sizeof why, "%llu records, %llu messages%s",
			    (unsigned long long)ls.records,
			    (unsigned long long)ls.messages,
			    final->n_warnings ? ", with warnings" : "");
			ledger(in, member, "imported", why, "aggregate", ls.report, hash);
			ig->stats.imported++;
			ig->stats.records += ls.records;
			ig->stats.messages += ls.messages;
		}
	}
out:
	aggregate_free(&ag);
	free(member);
}

static int
looks_like_tlsrpt(struct unpack_leaf *leaf, unsigned char *buf, size_t cap,
    size_t *n_out)
{
	ssize_t n = rd_read_full(leaf->rd, buf, cap);

	*n_out = n > 0 ? (size_t)n : 0;
	return n > 0 && memmem(buf, (size_t)n, "\"organization-name\"", 19) != NULL;
}

static void
note_other(struct input *in, const struct unpack_leaf *leaf)
{
	size_t len = strlen(in->others);
	const char *what = leaf->ctype ? leaf->ctype : sniff_name(leaf->kind);

	if (len + strlen(what) + 3 >= sizeof in->others)
		return;
	snprintf(in->others + len, sizeof in->others - len, "%s%s",
	    len ? ", " : "", what);
}

static int
on_leaf(void *ctx, struct unpack_leaf *leaf)
{
	struct input *in = ctx;
	struct ingest *ig = in->ig;
	char *member;
	size_t n;

	if (ig->failed)
		return -1;
	if (leaf->in_feedback_report) {
		member = member_label(in, leaf->label);
		in->reports++;
		in->bad++;
		ig->stats.unsupported++;
		if (txn_ensure(ig) == 0)
			ledger(in, member, "unsupported", "DMARC failure (forensic) "
			    "report: recognised and kept raw; not analysed yet",
			    "failure", 0, NULL);
		free(member);
		/* the other parts of a feedback report are its own pieces */
		return 0;
	}
	switch (leaf->kind) {
	case SNIFF_XML:
		ingest_aggregate(in, leaf);
		break;
	case SNIFF_JSON:
		if (looks_like_tlsrpt(leaf, ig->chunk, 4096, &n)) {
			member = member_label(in, leaf->label);
			in->reports++;
			in->bad++;
			ig->stats.unsupported++;
			if (txn_ensure(ig) == 0)
				ledger(in, member, "unsupported", "SMTP TLS report "
				    "(RFC 8460): recognised and kept raw; not analysed "
				    "yet", "smtp_tls", 0, NULL);
			free(member);
		} else
			note_other(in, leaf);
		break;
	case SNIFF_OLE:
		member = member_label(in, leaf->label);
		in->reports++;
		in->bad++;
		ig->stats.unsupported++;
		say(ig, in, member, "unsupported", "Outlook .msg attachment: save "
		    "the report inside it as a file and import that");
		if (txn_ensure(ig) == 0)
			ledger(in, member, "unsupported", "Outlook .msg attachment "
			    "(not supported)", NULL, 0, NULL);
		free(member);
		break;
	default:
		note_other(in, leaf);
		break;
	}
	return ig->failed ? -1 : 0;
}

/* ---- one input ------------------------------------------------------ */

/*
 * Reads the whole input into ig->buf, or spills it to a temporary file when
 * it is larger than INGEST_MEM_MAX.  Returns 0 with *fd_out = -1 (memory) or
 * an open descriptor positioned at 0, -1 with a reason.
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
			if (ig->buf_cap + INGEST_CHUNK > INGEST_MEM_MAX + INGEST_CHUNK) {
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
				ig->buf_cap = ig->buf_cap ? ig->buf_cap * 2 : 256u << 10;
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

static int
ingest_one(struct ingest *ig, const char *source, const char *name,
    const char *member, struct rd *rd)
{
	struct input in = { .ig = ig, .source = source, .name = name,
	    .member = member };
	uint8_t hash[32];
	char err[512] = "";
	size_t len = 0;
	int fd = -1, rc;
	struct rd *body = NULL;

	if (ig->failed)
		return -1;
	ig->stats.inputs++;
	if (slurp(ig, rd, &len, &fd, hash, err, sizeof err) != 0) {
		in.size = rd->total;
		ig->stats.rejected++;
		say(ig, &in, member, "rejected", err);
		if (txn_ensure(ig) == 0)
			ledger(&in, member, "rejected", err, NULL, 0, NULL);
		goto done;
	}
	in.size = len;
	ig->stats.bytes += len;
	if (txn_ensure(ig) != 0) {
		say(ig, &in, member, "error", store_errmsg(ig->st));
		ig->failed = STORE_BUSY;
		goto done;
	}
	if (ig->opts.keep_raw && len > 0) {
		rc = fd < 0 ? store_raw_put(ig->st, hash, ig->buf, len, &in.raw_id)
		    : store_raw_put_fd(ig->st, hash, fd, len, &in.raw_id);
		if (rc != 0) {
			say(ig, &in, member, "error", store_errmsg(ig->st));
			ig->failed = rc == STORE_BUSY ? STORE_BUSY : -1;
			goto done;
		}
		if (fd >= 0 && lseek(fd, 0, SEEK_SET) != 0) {
			ig->failed = -1;
			goto done;
		}
	}
	if (fd < 0)
		body = rd_mem_new(ig->buf, len);
	else
		body = rd_fd_new(fd);
	if (unpack_run(body, &ig->lim, on_leaf, &in, err, sizeof err) != 0
	    && !ig->failed) {
		in.bad++;
		ig->stats.rejected++;
		say(ig, &in, member, "rejected", err);
		ledger(&in, member, "rejected", err, NULL, 0, NULL);
		goto done;
	}
	if (ig->failed)
		goto done;
	if (in.reports == 0) {
		char why[300];
		if (len == 0)
			snprintf(why, sizeof why, "empty input");
		else
			snprintf(why, sizeof why, "no DMARC report found (held: %s)",
			    in.others[0] ? in.others : "nothing recognisable");
		ig->stats.not_report++;
		in.bad++;
		say(ig, &in, member, "not a report", why);
		ledger(&in, member, "not-a-report", why, NULL, 0, hash);
	}
done:
	rd_close(&body);
	if (fd >= 0)
		close(fd);
	if (ig->failed) {
		if (ig->txn_open && !ig->opts.external_txn)
			store_rollback(ig->st);
		ig->txn_open = 0;
		ig->in_batch = 0;
		return -1;
	}
	if (++ig->in_batch >= ig->opts.batch && ingest_flush(ig) != 0)
		return -1;
	progress(ig);
	return in.bad ? 1 : 0;
}

static int
walk_on_input(void *ctx, const char *source, const char *name,
    const char *member, struct rd *rd)
{
	struct ingest *ig = ctx;
	const char *src = strcmp(source, "file") == 0 ? ig->opts.source : source;

	return ingest_one(ig, src, name, member, rd) < 0 ? -1 : 0;
}

static void
walk_on_error(void *ctx, const char *name, const char *reason)
{
	struct ingest *ig = ctx;
	struct input in = { .ig = ig, .source = ig->opts.source, .name = name };

	ig->stats.inputs++;
	ig->stats.rejected++;
	say(ig, &in, NULL, "error", reason);
	if (txn_ensure(ig) == 0)
		ledger(&in, NULL, "error", reason, NULL, 0, NULL);
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
	if (ig->opts.source == NULL)
		ig->opts.source = "file";
	if (ig->opts.batch == 0)
		ig->opts.batch = 500;
	ig->buf_cap = 256u << 10;
	ig->buf = xmalloc(ig->buf_cap);
	ig->chunk = xmalloc(INGEST_CHUNK);
	return ig;
}

static int
result_code(const struct ingest *ig, uint64_t bad_before)
{
	if (ig->failed)
		return ig->failed == STORE_BUSY ? STORE_BUSY : -1;
	return ig->stats.rejected + ig->stats.not_report + ig->stats.unsupported
	    > bad_before ? 1 : 0;
}

int
ingest_path(struct ingest *ig, const char *path)
{
	struct walk_cb cb = { walk_on_input, walk_on_error, ig };
	uint64_t bad = ig->stats.rejected + ig->stats.not_report +
	    ig->stats.unsupported;

	ig->failed = 0;         /* a previous failure rolled its batch back */
	walk_path(path, &ig->lim, &cb);
	return result_code(ig, bad);
}

int
ingest_rd(struct ingest *ig, const char *name, struct rd *rd)
{
	uint64_t bad = ig->stats.rejected + ig->stats.not_report +
	    ig->stats.unsupported;

	ig->failed = 0;
	if (rd->limit == 0 || rd->limit > ig->lim.max_input_bytes)
		rd->limit = ig->lim.max_input_bytes;
	ingest_one(ig, ig->opts.source, name, NULL, rd);
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
		return 0;
	ig->txn_open = 0;
	rc = store_commit(ig->st);
	if (rc != 0) {
		if (ig->opts.errors)
			fprintf(ig->opts.errors, "dmarcstat: commit failed: %s\n",
			    store_errmsg(ig->st));
		store_rollback(ig->st);
		ig->failed = rc == STORE_BUSY ? STORE_BUSY : -1;
		return ig->failed;
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
	int rc = 0;

	if (igp == NULL || *igp == NULL)
		return 0;
	ig = *igp;
	if (!ig->failed)
		rc = ingest_flush(ig);
	else
		rc = ig->failed;
	if (ig->opts.progress)
		fprintf(stderr, "\r\033[K");
	free(ig->buf);
	free(ig->chunk);
	free(ig);
	*igp = NULL;
	return rc;
}

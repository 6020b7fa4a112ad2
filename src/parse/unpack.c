/*
 * unpack.c - the container walk: sniff a stream, peel gzip / zip / tar /
 * bzip2-lz4-compress / MIME / mbox layers, hand every leaf to the caller
 * (see unpack.h).
 *
 * Public: unpack_run(), unpack_global_init(), unpack_global_fini().
 * Private helpers shared with unpack_{gzip,archive,mime,mbox}.c are declared in
 * unpack_int.h: the walk state and its error note, labels, the peek stream
 * (sniffed bytes then the rest) and the spool (memory, then a temp file).
 *
 * Ownership: unpack_run never closes the caller's stream; every stream and
 * label made here is freed before the function that made it returns.  A leaf
 * stream is valid only during the callback.
 *
 * Limits (parse/limits.h), each failure reported with the limit's name:
 * max_input_bytes (the input as a whole, a spooled zip or message),
 * max_expanded_bytes (what one gzip layer, archive member or compressed
 * stream expands to),
 * max_nesting (container layers), max_archive_members, max_mime_parts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "parse/unpack_int.h"

/* ---- global set-up ---------------------------------------------------- */

static pthread_once_t unpack_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t unpack_fini_lock = PTHREAD_MUTEX_INITIALIZER;
static int unpack_finished;

void unpack_gzip_thread_fini(void);   /* unpack_gzip.c */
void unpack_mime_global_init(void);   /* unpack_mime.c */
void unpack_mime_global_fini(void);   /* unpack_mime.c */

static void
unpack_once_fn(void)
{
	unpack_mime_global_init();
}

void
unpack_mime_init_once(void)
{
	pthread_once(&unpack_once, unpack_once_fn);
}

void
unpack_global_init(void)
{
	unpack_mime_init_once();
}

void
unpack_global_fini(void)
{
	unpack_gzip_thread_fini();
	pthread_mutex_lock(&unpack_fini_lock);
	/* GMime is shut down at most once and never started again (the MIME
	 * module checks whether it was started at all). */
	if (!unpack_finished) {
		unpack_finished = 1;
		unpack_mime_global_fini();
	}
	pthread_mutex_unlock(&unpack_fini_lock);
}

/* ---- notes and labels ------------------------------------------------- */

void
unpack_note(struct unpack_walk *w, const char *label, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	char *p;

	w->errors++;
	if (w->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	for (p = msg; *p; p++)          /* one line, whatever the library said */
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (label != NULL && label[0] != '\0')
		snprintf(w->err, sizeof w->err, "%s: %s", label, msg);
	else
		snprintf(w->err, sizeof w->err, "%s", msg);
}

char *
unpack_label(const char *parent, const char *fmt, ...)
{
	char child[3 * UNPACK_NAME_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(child, sizeof child, fmt, ap);
	va_end(ap);
	if (parent == NULL || parent[0] == '\0')
		return xstrdup(child);
	return xasprintf("%s > %s", parent, child);
}

char *
unpack_sanitize(char *dst, size_t dstlen, const char *src)
{
	size_t max = dstlen - 1, i = 0;

	if (max > UNPACK_NAME_MAX)
		max = UNPACK_NAME_MAX;
	if (src == NULL)
		src = "";
	for (; src[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (src[i] != '\0') {
		/* cut: do not leave half a UTF-8 sequence behind */
		size_t j = i;
		while (j > 0 && ((unsigned char)dst[j - 1] & 0xc0) == 0x80)
			j--;
		if (j > 0 && ((unsigned char)dst[j - 1] & 0xc0) == 0xc0)
			i = j - 1;
	}
	dst[i] = '\0';
	return dst;
}

int
unpack_depth_ok(struct unpack_walk *w, unsigned depth, const char *label)
{
	if (depth < w->lim->max_nesting)
		return 1;
	unpack_note(w, label, "containers nested deeper than max_nesting (%u)",
	    w->lim->max_nesting);
	return 0;
}

/* ---- peek stream ------------------------------------------------------ */

struct unpack_peek {
	struct rd rd;
	struct rd *inner;
	uint64_t limit, got;
	const char *limit_name;
	size_t n, off;
	unsigned char buf[];
};

static ssize_t
unpack_peek_read(struct rd *rd, void *buf, size_t n)
{
	struct unpack_peek *p = (struct unpack_peek *)rd;
	ssize_t r;

	if (p->limit && p->got >= p->limit) {
		unsigned char c;
		if (p->off < p->n)
			r = 1;
		else if ((r = rd_read(p->inner, &c, 1)) < 0)
			goto fail;
		if (r == 0)
			return 0;
		snprintf(rd->err, sizeof rd->err,
		    "larger than %s (%llu bytes)", p->limit_name,
		    (unsigned long long)p->limit);
		return -1;
	}
	if (p->limit && n > p->limit - p->got)
		n = (size_t)(p->limit - p->got);
	if (p->off < p->n) {
		if (n > p->n - p->off)
			n = p->n - p->off;
		memcpy(buf, p->buf + p->off, n);
		p->off += n;
		p->got += n;
		return (ssize_t)n;
	}
	r = rd_read(p->inner, buf, n);
	if (r < 0)
		goto fail;
	p->got += (uint64_t)r;
	return r;
fail:
	memcpy(rd->err, p->inner->err, sizeof rd->err);
	if (rd->err[0] == '\0')
		snprintf(rd->err, sizeof rd->err, "read error");
	return -1;
}

static void
unpack_peek_close(struct rd *rd)
{
	free(rd);
}

struct rd *
unpack_peek_new(const void *pre, size_t n, struct rd *inner, uint64_t limit,
    const char *limit_name)
{
	struct unpack_peek *p = xmalloc(sizeof *p + n);

	memset(p, 0, sizeof *p);
	p->rd.read = unpack_peek_read;
	p->rd.close = unpack_peek_close;
	p->inner = inner;
	p->limit = limit;
	p->limit_name = limit_name;
	p->n = n;
	if (n)
		memcpy(p->buf, pre, n);
	return &p->rd;
}

/* ---- spool ------------------------------------------------------------ */

static int
unpack_spool_tmpfile(char *err, size_t errlen)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	int fd;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	path = xasprintf("%s/dmarcstat-spool-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		snprintf(err, errlen, "cannot create a temp file in %s: %s", dir,
		    strerror(errno));
	else
		unlink(path);
	free(path);
	return fd;
}

static int
unpack_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t r = write(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

int
unpack_spool_fill(struct unpack_spool *sp, const void *pre, size_t n,
    struct rd *rd, uint64_t max, const char *limit_name, char *err,
    size_t errlen)
{
	size_t cap = n + UNPACK_BUF;
	uint64_t total = 0;

	memset(sp, 0, sizeof *sp);
	sp->fd = -1;
	sp->mem = xmalloc(cap);
	memcpy(sp->mem, pre, n);
	sp->len = n;
	for (;;) {
		ssize_t r;

		if (sp->fd < 0 && cap - sp->len < UNPACK_BUF / 2) {
			if (cap >= UNPACK_SPOOL_MEM) {
				/* big: continue in an unlinked temp file */
				sp->fd = unpack_spool_tmpfile(err, errlen);
				if (sp->fd < 0)
					goto fail;
				if (unpack_write_all(sp->fd, sp->mem, sp->len) < 0)
					goto wfail;
				cap = UNPACK_BUF;
				sp->mem = xrealloc(sp->mem, cap);
				total = sp->len;
				sp->len = 0;
			} else {
				cap *= 2;
				sp->mem = xrealloc(sp->mem, cap);
			}
		}
		if (sp->fd < 0) {
			r = rd_read(rd, sp->mem + sp->len, cap - sp->len);
			total = sp->len;
		} else {
			r = rd_read(rd, sp->mem, cap);
		}
		if (r < 0) {
			snprintf(err, errlen, "%s", rd->err[0] ? rd->err :
			    "read error");
			goto fail;
		}
		if (r == 0)
			break;
		if (total + (uint64_t)r > max) {
			snprintf(err, errlen, "larger than %s (%llu bytes)",
			    limit_name, (unsigned long long)max);
			goto fail;
		}
		if (sp->fd < 0) {
			sp->len += (size_t)r;
		} else {
			if (unpack_write_all(sp->fd, sp->mem, (size_t)r) < 0)
				goto wfail;
			total += (uint64_t)r;
		}
	}
	if (sp->fd >= 0) {
		void *map;

		free(sp->mem);
		sp->mem = NULL;
		if (total > SIZE_MAX) {
			snprintf(err, errlen, "larger than the address space");
			goto fail;
		}
		map = mmap(NULL, (size_t)total, PROT_READ, MAP_PRIVATE,
		    sp->fd, 0);
		if (map == MAP_FAILED) {
			snprintf(err, errlen, "cannot map the temp file: %s",
			    strerror(errno));
			goto fail;
		}
		sp->mem = map;
		sp->len = (size_t)total;
		sp->mapped = 1;
	}
	return 0;
wfail:
	snprintf(err, errlen, "cannot write a temp file: %s", strerror(errno));
fail:
	unpack_spool_fini(sp);
	return -1;
}

void
unpack_spool_fini(struct unpack_spool *sp)
{
	if (sp->mapped)
		munmap(sp->mem, sp->len);
	else
		free(sp->mem);
	if (sp->fd >= 0)
		close(sp->fd);
	memset(sp, 0, sizeof *sp);
	sp->fd = -1;
}

/* ---- dispatch --------------------------------------------------------- */

static int
unpack_leaf(struct unpack_walk *w, const unsigned char *pre, size_t n,
    struct rd *rd, enum sniff_kind kind, unsigned depth, const char *label,
    const struct unpack_meta *meta)
{
	struct unpack_leaf leaf;
	struct rd *lrd;
	int r;

	/* At the top the leaf is the input itself: bound it by
	 * max_input_bytes.  Below, the layer that decodes it bounds it. */
	lrd = unpack_peek_new(pre, n, rd, depth == 0 ?
	    w->lim->max_input_bytes : 0, "max_input_bytes");
	memset(&leaf, 0, sizeof leaf);
	leaf.label = label;
	leaf.kind = kind;
	leaf.what = sniff_describe(pre, n);
	leaf.rd = lrd;
	if (meta != NULL) {
		leaf.ctype = meta->ctype;
		leaf.filename = meta->filename;
		leaf.subject = meta->subject;
		leaf.from = meta->from;
		leaf.message_id = meta->message_id;
		leaf.in_feedback_report = meta->in_feedback_report;
	}
	if (kind == SNIFF_XML || kind == SNIFF_JSON)
		w->reports++;
	r = w->fn(w->ctx, &leaf);
	if (lrd->err[0] != '\0' && depth == 0)
		unpack_note(w, label, "%s", lrd->err);
	rd_close(&lrd);
	if (r < 0) {
		w->stopped = 1;
		return -1;
	}
	return 0;
}

static int
unpack_gzip(struct unpack_walk *w, const unsigned char *pre, size_t n,
    struct rd *rd, unsigned depth, const char *label,
    const struct unpack_meta *meta)
{
	struct rd *gz;
	int r;

	if (!unpack_depth_ok(w, depth, label))
		return 0;
	w->containers++;
	gz = unpack_gzip_new(rd, pre, n, w->peek_all, w->lim->max_expanded_bytes);
	r = unpack_stream(w, gz, depth + 1, label, meta);
	if (gz->err[0] != '\0')
		unpack_note(w, label, "%s", gz->err);
	rd_close(&gz);
	return r;
}

int
unpack_dispatch(struct unpack_walk *w, const unsigned char *pre, size_t n,
    struct rd *rd, unsigned depth, const char *label,
    const struct unpack_meta *meta)
{
	enum sniff_kind kind = sniff(pre, n);

	/* Inside a failure report an embedded message or header block is
	 * what the caller wants whole: offer it, do not walk it. */
	if (meta != NULL && meta->in_feedback_report &&
	    (kind == SNIFF_MIME || kind == SNIFF_MBOX))
		return unpack_leaf(w, pre, n, rd, kind, depth, label, meta);
	switch (kind) {
	case SNIFF_GZIP:
		return unpack_gzip(w, pre, n, rd, depth, label, meta);
	case SNIFF_ZIP:
		return unpack_zip(w, pre, n, rd, depth, label, meta);
	case SNIFF_TAR:
	case SNIFF_COMPRESSED:
		return unpack_libarchive(w, pre, n, rd, depth, label, meta);
	case SNIFF_MIME:
		return unpack_mime(w, pre, n, rd, depth, label, meta);
	case SNIFF_MBOX:
		return unpack_mbox_walk(w, pre, n, rd, depth, label);
	default:
		return unpack_leaf(w, pre, n, rd, kind, depth, label, meta);
	}
}

int
unpack_stream(struct unpack_walk *w, struct rd *rd, unsigned depth,
    const char *label, const struct unpack_meta *meta)
{
	unsigned char pre[UNPACK_PEEK];     /* max_nesting frames deep at most */
	size_t n = 0;
	int r = 0, failed = 0;

	/* Like rd_read_full, but bytes read before an error are kept: a
	 * truncated gzip still yields its leaf, whose reader then meets the
	 * error (and the layer reports it). */
	while (n < UNPACK_PEEK) {
		ssize_t k = rd_read(rd, pre + n, UNPACK_PEEK - n);
		if (k < 0) {
			failed = 1;
			if (n == 0)
				unpack_note(w, label, "%s", rd->err[0] ? rd->err :
				    "read error");
			break;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	/* Read to its end already: a small gzip can be inflated in one call. */
	w->peek_all = n < UNPACK_PEEK && !failed;
	if (n > 0 || !failed)
		r = unpack_dispatch(w, pre, n, rd, depth, label, meta);
	return r;
}

int
unpack_run(struct rd *in, const struct limits *lim, unpack_leaf_fn fn,
    void *ctx, char *err, size_t errlen)
{
	struct unpack_walk w;

	memset(&w, 0, sizeof w);
	w.lim = lim;
	w.fn = fn;
	w.ctx = ctx;
	unpack_stream(&w, in, 0, "", NULL);
	if (w.err[0] == '\0')
		return 0;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", w.err);
	return -1;
}

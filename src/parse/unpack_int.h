/*
 * unpack_int.h - private glue between the unpack_*.c files (not for use
 * outside src/parse/unpack*.c).
 *
 * One walk (struct unpack_walk) is shared by every layer of one unpack_run.
 * Each layer function gets the bytes already peeked from its stream (`pre`,
 * at most UNPACK_PEEK bytes, owned by the caller) and the stream positioned
 * just after them (not owned: the caller closes it).  Layer functions return
 * 0 to go on or -1 when the leaf callback asked to stop; problems with the
 * input are noted in the walk (first reason kept) and never stop siblings.
 */
#ifndef DMARCSTAT_UNPACK_INT_H
#define DMARCSTAT_UNPACK_INT_H
#include <stddef.h>
#include <stdint.h>

#include "parse/unpack.h"

#define UNPACK_PEEK 4096            /* bytes sniffed per layer */
#define UNPACK_BUF 65536            /* read buffer of a decoding layer */
#define UNPACK_NAME_MAX 200         /* bytes of a name kept in a label */
#define UNPACK_SPOOL_MEM (8u << 20) /* above this a spool goes to a temp file */

/* What the enclosing layers say about a leaf (all informative). */
struct unpack_meta {
	const char *ctype, *filename;
	const char *subject, *from, *message_id;
	int in_feedback_report;
};

struct unpack_walk {
	const struct limits *lim;
	unpack_leaf_fn fn;
	void *ctx;
	int stopped;                /* the callback returned -1 */
	int peek_all;               /* the layer being dispatched: `pre` is all of it */
	unsigned long reports;      /* XML/JSON leaves delivered */
	unsigned long containers;   /* gzip/zip/tar/compressor layers opened */
	unsigned long errors;
	char err[512];              /* the first problem, "label: reason" */
};

/* Records a problem (first one kept) prefixed with the label when not "". */
void unpack_note(struct unpack_walk *w, const char *label, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/*
 * A new label "parent > child", or "child" when parent is "" (xmalloc'd).
 * The child text is formatted and its printf arguments must already be
 * sanitised with unpack_sanitize.
 */
char *unpack_label(const char *parent, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Copies a declared name into dst (size dstlen, at least 1): control
 * characters become '?', at most UNPACK_NAME_MAX bytes, never a cut UTF-8
 * sequence.  NULL becomes "".  Returns dst.
 */
char *unpack_sanitize(char *dst, size_t dstlen, const char *src);

/*
 * Sniffs `rd` (not owned) and hands it to the layer for its kind, or to the
 * callback as a leaf.  `depth` is the number of container layers above.
 */
int unpack_stream(struct unpack_walk *w, struct rd *rd, unsigned depth,
    const char *label, const struct unpack_meta *meta);

/* Same, when the first n bytes were already read into pre. */
int unpack_dispatch(struct unpack_walk *w, const unsigned char *pre, size_t n,
    struct rd *rd, unsigned depth, const char *label,
    const struct unpack_meta *meta);

/* unpack.c: is there room for one more container layer below `depth`? */
int unpack_depth_ok(struct unpack_walk *w, unsigned depth, const char *label);

/*
 * A stream returning pre[0..n) (copied) and then the rest of `inner` (not
 * owned).  With limit != 0, more than `limit` bytes fail with a reason
 * naming `limit_name`.
 */
struct rd *unpack_peek_new(const void *pre, size_t n, struct rd *inner,
    uint64_t limit, const char *limit_name);

/*
 * Spool: a whole stream kept for a library that needs random access.  Up
 * to UNPACK_SPOOL_MEM bytes live in memory, more go to an unlinked temp
 * file (fd >= 0) that is mapped read-only (`mem` then points at the map).
 */
struct unpack_spool {
	unsigned char *mem;
	size_t len;
	int fd;
	int mapped;
};

int unpack_spool_fill(struct unpack_spool *sp, const void *pre, size_t n,
    struct rd *rd, uint64_t max, const char *limit_name, char *err,
    size_t errlen);
void unpack_spool_fini(struct unpack_spool *sp);

/* unpack_gzip.c: a stream of the inflated `inner` (not owned); `whole`
 * says pre[0..n) is all of the compressed input. */
struct rd *unpack_gzip_new(struct rd *inner, const void *pre, size_t n,
    int whole, uint64_t max_out);

/* unpack_archive.c: every member of a zip (spooled for random access) */
int unpack_zip(struct unpack_walk *w, const unsigned char *pre, size_t n,
    struct rd *rd, unsigned depth, const char *label,
    const struct unpack_meta *meta);
/* unpack_archive.c: every member of a tar, or the one stream of bzip2, lz4
 * or compress data (streamed) */
int unpack_libarchive(struct unpack_walk *w, const unsigned char *pre,
    size_t n, struct rd *rd, unsigned depth, const char *label,
    const struct unpack_meta *meta);

/* unpack_mime.c */
int unpack_mime(struct unpack_walk *w, const unsigned char *pre, size_t n,
    struct rd *rd, unsigned depth, const char *label,
    const struct unpack_meta *meta);
/* unpack.c: g_mime_init() once (also called by unpack_global_init). */
void unpack_mime_init_once(void);

/* unpack_mbox.c: every message of an mbox, each walked as a mail. */
int unpack_mbox_walk(struct unpack_walk *w, const unsigned char *pre, size_t n,
    struct rd *rd, unsigned depth, const char *label);

#endif

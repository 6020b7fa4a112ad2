/*
 * aggregate_filter.h - private to the aggregate parser: the byte stage in
 * front of expat.  It turns untrusted bytes in any supported encoding into
 * well-formed-enough UTF-8 XML so that expat rarely has to give up:
 *
 *   decode   BOM / <?xml encoding=?> sniffing; UTF-8 (invalid sequences and
 *            non-XML characters -> U+FFFD), UTF-16LE/BE, windows-1252 for
 *            ISO-8859-1/ASCII/cp1252 labels, other single-byte encodings via
 *            a 256-entry table built with iconv; anything else is refused.
 *   repair   a small XML lexer: stray '<' and '&' escaped, '>' in text
 *            escaped, comments and processing instructions (including the
 *            XML declaration) dropped, DOCTYPE refused, junk before and after
 *            the root dropped, end tags balanced against an element stack
 *            (unclosed elements closed, stray end tags dropped, a start tag
 *            missing its '<' restored when its end tag follows).
 *
 * Every repair is counted; aggregate_filter_summary() reports them as
 * one-line warnings.  Memory: two growable buffers bounded by the input
 * slice the caller pushes (callers push at most AGGREGATE_FILTER_SLICE bytes
 * at a time) plus a held text run of at most 4 KiB and a held tag of at
 * most 64 KiB.
 */
#ifndef DMARCSTAT_AGGREGATE_FILTER_H
#define DMARCSTAT_AGGREGATE_FILTER_H
#include <stddef.h>

#define AGGREGATE_FILTER_SLICE (64 * 1024)

struct aggregate_filter;

typedef void (*aggregate_filter_warn_fn)(void *ctx, const char *msg);

struct aggregate_filter *aggregate_filter_new(unsigned max_depth,
    aggregate_filter_warn_fn warn, void *ctx);
void aggregate_filter_free(struct aggregate_filter **f);
/* Ready for a new document, keeping the buffers. */
void aggregate_filter_reset(struct aggregate_filter *f, unsigned max_depth,
    aggregate_filter_warn_fn warn, void *ctx);

/*
 * Consumes in[0..len) and points *out at repaired UTF-8 to hand to expat
 * (valid until the next call).  Returns 0, or -1 with a reason in err
 * (DTD, unsupported encoding, nesting deeper than max_depth); *out then
 * holds what came before the problem, so that the records delivered do not
 * depend on how the input was sliced.
 */
int aggregate_filter_push(struct aggregate_filter *f, const void *in,
    size_t len, const char **out, size_t *outlen, char *err, size_t errlen);
/*
 * End of input: flushes what is held, then appends an end tag for every
 * element still open.  *closes_at is the offset in *out where those
 * synthetic end tags start (== *outlen when none).
 */
int aggregate_filter_finish(struct aggregate_filter *f, const char **out,
    size_t *outlen, size_t *closes_at, char *err, size_t errlen);
/*
 * After expat gave up: drop everything up to the next start tag whose local
 * name is "record", then emit "<feedback>" before it.
 */
void aggregate_filter_resync(struct aggregate_filter *f);
/*
 * After expat was restarted on "<feedback>" + a <record> found in output
 * already handed over: forget open elements below the innermost open
 * <feedback> (wrappers), so the end tags added at end of input match the
 * restarted document.
 */
void aggregate_filter_rebase(struct aggregate_filter *f);
/* Non-zero once any element start tag went through. */
int aggregate_filter_saw_element(const struct aggregate_filter *f);
/* Non-zero when the input held nothing but whitespace (so far). */
int aggregate_filter_is_blank(const struct aggregate_filter *f);
/* Emits one warning per kind of repair that happened. */
void aggregate_filter_summary(struct aggregate_filter *f);

#endif

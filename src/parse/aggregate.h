/*
 * aggregate.h - streaming parser for DMARC aggregate reports (RFC 7489,
 * RFC 9990 and the pre-RFC draft) on expat.
 *
 * Push model: feed bytes as they arrive; the parser calls on_record() once
 * per complete <record> and the caller gets the finished header from
 * aggregate_finish().  on_header() is called once, before the first record
 * (or from aggregate_finish() when there are none), with the metadata and
 * policy seen so far; in every real report these precede the records.
 *
 * Namespace-agnostic (local names), any child order, trimmed values,
 * case-insensitive enumerations with raw values kept, DTDs and entities
 * refused, any declared encoding (incl. windows-1252) transcoded to UTF-8,
 * invalid UTF-8 replaced, small syntax errors recovered with a warning.
 *
 * Callbacks return 0 to go on, non-zero to stop (aggregate_feed then returns
 * the same value with err "stopped").  Strings handed to on_record() are
 * valid only during the call.
 */
#ifndef DMARCSTAT_AGGREGATE_H
#define DMARCSTAT_AGGREGATE_H
#include <stddef.h>

#include "parse/limits.h"
#include "parse/report.h"

struct aggregate;

struct aggregate_cb {
	int (*on_header)(void *ctx, const struct report *r);
	int (*on_record)(void *ctx, const struct report *r,
	    const struct report_record *rec);
};

struct aggregate *aggregate_new(const struct limits *lim,
    const struct aggregate_cb *cb, void *ctx);
/* Returns 0, -1 on a fatal error (reason in err), or a callback's value. */
int aggregate_feed(struct aggregate *a, const void *buf, size_t len,
    char *err, size_t errlen);
/*
 * Ends the document.  On success *out points at the complete header (valid
 * until aggregate_free) and 0 is returned.  -1 when the input was not an
 * aggregate report or was unusable: err says why in one line, e.g.
 * "not a DMARC aggregate report: root element is <html>".
 */
int aggregate_finish(struct aggregate *a, const struct report **out,
    char *err, size_t errlen);
/*
 * Ends the parser's life (accepts NULL; nulls the pointer).  The object is
 * kept for the next aggregate_new() in the same thread, so a stream of
 * small documents costs no parser set-up each.
 */
void aggregate_free(struct aggregate **a);
/*
 * Makes a ready for a new document with new limits, callbacks and ctx, as
 * if freed and made again but keeping its memory (expat, buffers).  The
 * report of the previous document is gone.
 */
void aggregate_reset(struct aggregate *a, const struct limits *lim,
    const struct aggregate_cb *cb, void *ctx);

/* Convenience: parse a whole buffer, collecting nothing (used by fuzzers). */
int aggregate_parse_buffer(const struct limits *lim, const void *buf,
    size_t len, const struct aggregate_cb *cb, void *ctx,
    const struct report **out, struct aggregate **owner,
    char *err, size_t errlen);

/*
 * After a failed aggregate_finish(): 1 when the document was some other XML
 * (an HTML mail part, another root element) rather than a damaged report;
 * callers then treat the leaf as "not a report" instead of "rejected".
 */
int aggregate_not_dmarc(const struct aggregate *a);
#endif

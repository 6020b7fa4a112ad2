/*
 * leaf.h - what one unpacked document is, for the importer and for
 * `dmarcstat parse` alike: an aggregate report candidate (XML), a report
 * kind recognised but not analysed yet (failure report, SMTP TLS report,
 * Outlook .msg), or something else (a text or HTML part), and the wording
 * both use when an input held no report.
 */
#ifndef DMARCSTAT_LEAF_H
#define DMARCSTAT_LEAF_H
#include <stddef.h>

#include "parse/unpack.h"

enum leaf_class {
	LEAF_AGGREGATE,   /* XML: parse it */
	LEAF_FAILURE,     /* part of a DMARC failure (forensic) report */
	LEAF_TLSRPT,      /* SMTP TLS report (RFC 8460) */
	LEAF_MSG,         /* Outlook .msg attachment */
	LEAF_OTHER,
};

/* May read the first bytes of a JSON leaf (it is not used further then). */
enum leaf_class leaf_classify(struct unpack_leaf *leaf);
/* One-line reason for the unsupported classes; kind for the ledger. */
const char *leaf_reason(enum leaf_class c);
const char *leaf_kind(enum leaf_class c);

/*
 * What an input held besides reports, for the "no DMARC report found
 * (held: ...)" line: appends `what` to a bounded list.
 */
struct leaf_others {
	char text[200];
};
void leaf_others_add(struct leaf_others *o, const char *what);
void leaf_others_add_leaf(struct leaf_others *o, const struct unpack_leaf *leaf);
/* An XML part that the aggregate parser said is no report (`err`). */
void leaf_others_add_xml(struct leaf_others *o, const char *err);
/* The whole "not a report" reason for an input of `len` bytes. */
void leaf_not_report_reason(const struct leaf_others *o, size_t len,
    char *buf, size_t buflen);

#endif

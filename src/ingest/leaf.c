/*
 * leaf.c - classifying unpacked documents (see leaf.h).
 */
#include <stdio.h>
#include <string.h>

#include "ingest/leaf.h"

enum leaf_class
leaf_classify(struct unpack_leaf *leaf)
{
	unsigned char head[4096];
	ssize_t n;

	if (leaf->in_feedback_report)
		return LEAF_FAILURE;
	switch (leaf->kind) {
	case SNIFF_XML:
		return LEAF_AGGREGATE;
	case SNIFF_JSON:
		n = rd_read_full(leaf->rd, head, sizeof head);
		if (n > 0 && memmem(head, (size_t)n, "\"organization-name\"", 19))
			return LEAF_TLSRPT;
		return LEAF_OTHER;
	case SNIFF_OLE:
		return LEAF_MSG;
	default:
		return LEAF_OTHER;
	}
}

const char *
leaf_reason(enum leaf_class c)
{
	switch (c) {
	case LEAF_FAILURE:
		return "DMARC failure (forensic) report: recognised; "
		    "not analysed yet";
	case LEAF_TLSRPT:
		return "SMTP TLS report (RFC 8460): recognised; "
		    "not analysed yet";
	case LEAF_MSG:
		return "Outlook .msg attachment: save the report inside it as a "
		    "file and import that";
	default:
		return "";
	}
}

const char *
leaf_kind(enum leaf_class c)
{
	switch (c) {
	case LEAF_AGGREGATE: return "aggregate";
	case LEAF_FAILURE: return "failure";
	case LEAF_TLSRPT: return "smtp_tls";
	default: return NULL;
	}
}

void
leaf_others_add(struct leaf_others *o, const char *what)
{
	size_t len = strlen(o->text);

	if (len + strlen(what) + 3 < sizeof o->text)
		snprintf(o->text + len, sizeof o->text - len, "%s%s",
		    len ? ", " : "", what);
}

void
leaf_others_add_leaf(struct leaf_others *o, const struct unpack_leaf *leaf)
{
	leaf_others_add(o, leaf->ctype ? leaf->ctype : leaf->what ? leaf->what :
	    sniff_name(leaf->kind));
}

void
leaf_others_add_xml(struct leaf_others *o, const char *err)
{
	const char *root = strchr(err, '<');
	char what[24];

	snprintf(what, sizeof what, "XML %.12s", root ? root : "");
	leaf_others_add(o, what);
}

void
leaf_not_report_reason(const struct leaf_others *o, size_t len, char *buf,
    size_t buflen)
{
	if (len == 0)
		snprintf(buf, buflen, "empty input");
	else
		snprintf(buf, buflen, "no DMARC report found (held: %s)",
		    o->text[0] ? o->text : "nothing recognisable");
}

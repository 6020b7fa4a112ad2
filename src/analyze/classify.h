/*
 * classify.h - deterministic classification of one DMARC aggregate record
 * into legitimate / misconfigured / forwarded / spoofing suspected /
 * unknown, with a reason code and the parameters its message needs.
 * The rules and their order are documented in docs/classification.md;
 * every rule is a pure function of the input (no I/O, no allocation), so
 * the same data always gets the same class.
 */
#ifndef DMARCSTAT_CLASSIFY_H
#define DMARCSTAT_CLASSIFY_H
#include <stddef.h>

#include "analyze/catalog.h"
#include "analyze/userrules.h"

enum classify_class {
	CLASSIFY_LEGITIMATE,
	CLASSIFY_MISCONFIGURED,
	CLASSIFY_FORWARDED,
	CLASSIFY_SPOOFING,
	CLASSIFY_UNKNOWN,
	CLASSIFY_CLASS_N
};

enum classify_reason {
	CLASSIFY_R_NONE,
	CLASSIFY_R_LEGIT_DKIM_SPF,      /* DKIM and SPF aligned pass */
	CLASSIFY_R_LEGIT_DKIM,          /* DKIM aligned pass, SPF not aligned */
	CLASSIFY_R_LEGIT_SPF_ONLY,      /* SPF aligned pass only: fragile */
	CLASSIFY_R_FWD_DKIM_SURVIVED,   /* aligned DKIM survived, SPF fails */
	CLASSIFY_R_FWD_OVERRIDE,        /* receiver said forwarded/mailing_list/... */
	CLASSIFY_R_FWD_KNOWN,           /* known forwarding service */
	CLASSIFY_R_FWD_MAILING_LIST,    /* known mailing-list host */
	CLASSIFY_R_FWD_DKIM_BROKEN,     /* provider that forwards; our DKIM broke */
	CLASSIFY_R_FWD_VIA_PROVIDER,    /* provider that forwards; no auth at all */
	CLASSIFY_R_MIS_DKIM_OTHER,      /* DKIM passes for another domain (ESP's) */
	CLASSIFY_R_MIS_DKIM_FAILS,      /* a DKIM signature fails */
	CLASSIFY_R_MIS_DKIM_MISSING,    /* no DKIM signature */
	CLASSIFY_R_SPF_OTHER,           /* detail: SPF passes for another domain */
	CLASSIFY_R_SPF_FAILS,           /* detail: SPF fails for the From domain */
	CLASSIFY_R_SPF_NONE,            /* detail: no SPF result */
	CLASSIFY_R_SPOOF_REJECTED,      /* the user rejected this source */
	CLASSIFY_R_SPOOF_REJECTED_PASSES, /* rejected source that passes DMARC */
	CLASSIFY_R_SPOOF_OTHER_DOMAIN,  /* authenticated only as some other domain */
	CLASSIFY_R_SPOOF_NO_AUTH,       /* nothing authenticated */
	CLASSIFY_R_UNK_NO_DATA,         /* the reporter gave no results */
	CLASSIFY_R_UNK_DKIM_BROKEN,     /* our DKIM failed from an unidentified source */
	CLASSIFY_R_UNK_PENDING,         /* source not yet enriched */
	CLASSIFY_REASON_N
};

struct classify_auth {
	const char *domain;
	const char *result;     /* pass fail softfail none neutral ... */
};

/* What is known about the sending IP (cached per IP by the caller). */
struct classify_source {
	const char *ip;
	const char *ptr;        /* NULL when none or unknown */
	int fcrdns;             /* 1 confirmed, 0 not, -1 unknown */
	int pending;            /* never enriched */
	const char *base_domain;
	const struct catalog_service *service; /* by host name or ASN, or NULL */
	struct userrules_match rules;          /* ip / host / service-of-host rules */
};

struct classify_input {
	const char *policy_domain;
	const char *header_from;
	const char *dmarc, *dkim_eval, *spf_eval;  /* pass / fail / unknown */
	const char *adkim, *aspf;                  /* "s" strict, else relaxed */
	const struct classify_auth *dkim; size_t n_dkim;
	const struct classify_auth *spf; size_t n_spf;
	const char *const *reasons; size_t n_reasons; /* override types */
	const struct classify_source *src;
};

struct classify_result {
	enum classify_class cls;
	enum classify_reason reason;
	enum classify_reason detail;           /* SPF part or CLASSIFY_R_NONE */
	const struct catalog_service *service; /* the service it is about, or NULL */
	const char *dkim_domain;               /* pointers into the input */
	const char *spf_domain;
	const char *override;
	int approved;                          /* 1 approved by a rule */
	int own;                               /* the user's own server */
};

struct classify_ctx {
	const struct catalog *cat;
	const struct userrules *rules;
};

void classify_record(const struct classify_ctx *ctx, const struct classify_input *in,
    struct classify_result *out);

const char *classify_class_name(enum classify_class c);   /* "legitimate" ... */
int classify_class_parse(const char *s);                  /* -1 when unknown */
const char *classify_reason_code(enum classify_reason r); /* "misconfigured.dkim_missing" */

#endif

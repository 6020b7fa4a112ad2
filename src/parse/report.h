/*
 * report.h - the in-memory model of one DMARC aggregate report.
 *
 * One model covers RFC 7489, RFC 9990 and the pre-RFC draft: every field that
 * one of them lacks is simply NULL (strings) or -1 (numbers).  Strings are
 * NUL-terminated UTF-8, trimmed, and owned by the parser's arena: they live
 * until the callback that received them returns (records) or until
 * aggregate_free() (header).  Normalised values sit beside the raw ones:
 * `result` is lower case and mapped ("hardfail" -> "fail"), `result_raw` is
 * what the reporter wrote.
 *
 * Records are streamed: a report of 200 MB never exists in memory at once.
 * The parser calls back once per <record> and then once at the end.
 */
#ifndef DMARCSTAT_REPORT_H
#define DMARCSTAT_REPORT_H

#include <stddef.h>
#include <stdint.h>

/* Policy-evaluated verdicts and auth results that are missing are "unknown". */
#define REPORT_UNKNOWN "unknown"

struct report_policy {
	const char *domain;           /* lower case */
	const char *adkim, *aspf;     /* "r" / "s" or NULL when absent */
	const char *p, *sp, *np;      /* none/quarantine/reject, NULL when absent */
	int pct;                      /* 0..100, -1 when absent (RFC 9989 removed it) */
	const char *fo;
	const char *testing;          /* "y"/"n" (RFC 9990 t=), NULL when absent */
	const char *discovery_method; /* "psl"/"treewalk", NULL when absent */
};

struct report_dkim {
	const char *domain, *selector;
	const char *result, *result_raw; /* none pass fail policy neutral temperror permerror */
	const char *human_result;
};

struct report_spf {
	const char *domain, *scope;      /* scope "mfrom"/"helo" or NULL */
	const char *result, *result_raw; /* none neutral pass fail softfail temperror permerror */
	const char *human_result;
};

struct report_reason {
	const char *type, *type_raw;     /* type normalised, "other" when empty */
	const char *comment;
};

struct report_record {
	const char *source_ip;           /* normalised text form (inet_ntop) */
	const char *source_ip_raw;
	uint64_t count;
	const char *disposition, *disposition_raw; /* none quarantine reject pass | unknown */
	const char *dkim, *dkim_raw;     /* policy_evaluated: pass / fail / unknown */
	const char *spf, *spf_raw;
	const char *header_from;         /* lower case */
	const char *envelope_from;       /* NULL when absent, "" when empty */
	const char *envelope_to;
	struct report_reason *reasons;   size_t n_reasons;
	struct report_dkim *dkim_results; size_t n_dkim;
	struct report_spf *spf_results;  size_t n_spf;
	const char *extensions;          /* raw XML of namespaced extension children, or NULL */
};

struct report {
	const char *version;             /* <version> text or NULL */
	const char *xml_namespace;       /* namespace URI of <feedback>, NULL when none */
	const char *org_name, *org_name_raw;
	const char *email, *extra_contact_info;
	const char *report_id, *report_id_raw; /* report_id: <> stripped; raw kept */
	int64_t begin, end;              /* epoch seconds UTC; -1 when missing */
	const char *generator;
	const char **errors;  size_t n_errors;
	struct report_policy policy;
	const char *extensions;          /* raw XML of <extension>, or NULL */
	const char **warnings; size_t n_warnings; /* parser recoveries, one line each */
	/* filled while streaming */
	uint64_t n_records;
	uint64_t msg_total;              /* sum of count */
};

#endif

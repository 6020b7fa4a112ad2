/*
 * sources.h - per-source aggregation of classified records (internal to
 * src/analyze/): the sources view, and the input of the sender groups and
 * readiness views.  One struct sources_agg per source IP.
 */
#ifndef DMARCSTAT_SOURCES_H
#define DMARCSTAT_SOURCES_H
#include <jansson.h>
#include <stdint.h>

#include "analyze/amap.h"
#include "analyze/classify.h"
#include "analyze/scan.h"

#define SOURCES_BUCKETS_MAX 16
#define SOURCES_FROM_MAX 8

/* One (class, reason, detail, service, domains) combination of a source. */
struct sources_bucket {
	enum classify_class cls;
	enum classify_reason reason, detail;
	const struct catalog_service *service;
	char *dkim_domain, *spf_domain, *override, *from;
	int own, approved;
	int64_t messages;
	uint32_t hash;         /* scan of the copy: sources.c's hash of the fields above */
};

struct sources_agg {
	char *ip, *ptr, *ptr_status, *base_domain, *as_name, *country;
	int64_t asn;
	int fcrdns;            /* 1, 0, -1 */
	int pending;
	const struct catalog_service *service;  /* by host / ASN, else by auth */
	int own, approved, rejected;
	char *tags[USERRULES_TAGS_MAX];
	size_t n_tags;
	char *domain;          /* first policy domain seen */
	int64_t messages, dmarc_pass, dkim_pass, spf_pass;
	int64_t classes[CLASSIFY_CLASS_N];
	int64_t disp_none, disp_quarantine, disp_reject;
	int64_t first_seen, last_seen;
	struct sources_from {
		char *domain;
		int64_t messages;
		uint32_t key;  /* scan of the copy: the string id of domain */
	} *from;               /* n_from of them (room for cap_from, at most SOURCES_FROM_MAX) */
	size_t n_from, cap_from;
	struct sources_bucket *b;  /* n_b of them (room for cap_b, at most SOURCES_BUCKETS_MAX):
				      most sources have one or two */
	size_t n_b, cap_b;
	/* derived by sources_finish */
	enum classify_class cls;
	const struct sources_bucket *main;
	char *group, *group_name, *group_kind;
};

struct sources_set {
	struct sources_agg **v;
	size_t n;
	int64_t records;
	/* whole-period policy facts for readiness (latest report wins) */
	int64_t policy_ts;
	char *p, *sp, *np, *adkim, *aspf, *testing;
	int pct;
	int64_t min_begin, max_end;
	struct amap *reporters;
	struct amap *policies;   /* "p=..;sp=..;..." -> count (as intptr) */
	int64_t subdomain_messages, subdomain_fail;
};

/* Scans and aggregates; sources sorted by messages (desc), then IP.
 * Returns NULL with a reason in err. */
struct sources_set *sources_collect(struct sqlite3 *db, const struct scan_filter *f,
    char *err, size_t errlen);
/* The same from the in-memory copy of the records when rm is not NULL (it
 * must match what db sees: store/recmem.h), else from SQL.  Same result,
 * field by field and in the same order. */
struct recmem;
struct sources_set *sources_collect_from(struct sqlite3 *db, const struct recmem *rm,
    const struct scan_filter *f, char *err, size_t errlen);
void sources_set_free(struct sources_set **s);

/* {code, params, messages:{en,ja}} for a bucket's reason (which = 0),
 * detail (1) or advice (2); NULL when there is none. */
json_t *sources_reason_json(const struct sources_agg *a, const struct sources_bucket *b, int which);
/* Display name of whoever sends ("SendGrid", "mx1.example.jp (192.0.2.1)"). */
char *sources_who(const struct sources_agg *a, const struct catalog_service *svc, int ja);
/* One source as JSON (the sources view row). */
json_t *sources_agg_json(const struct sources_agg *a);

/* Sets analyze_errmsg() for this thread (analyze.c). */
void analyze_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

/*
 * scan.h - one pass over the aggregate records matching a filter, each
 * classified (classify.c) with what is known about its source (ip_info,
 * catalog, user rules).  Shared by the sources, senders and readiness
 * views so they can never disagree.
 */
#ifndef DMARCSTAT_SCAN_H
#define DMARCSTAT_SCAN_H
#include <stdint.h>

#include "analyze/classify.h"

struct sqlite3;

struct scan_filter {
	const char *domain;      /* policy domain or NULL */
	const char *source_ip;
	const char *reporter;    /* org_name */
	int64_t since, until;    /* report period overlaps [since, until); 0 = open */
};

/* Per (source IP, policy domain): ip_info plus derived facts. */
struct scan_source {
	struct classify_source cs;
	char *ip, *ptr, *ptr_status, *base_domain, *as_name, *country;
	int64_t asn;
	int64_t resolved_at;
	void *user;              /* for the scan's consumer (its aggregate) */
	char *domain;
	const char *domain_key;  /* the scan's interned domain (compared by pointer) */
	struct scan_source *next;/* same IP, other policy domain */
};

struct scan_row {
	int64_t record_id, report_id, count, begin, end;
	const char *policy_domain, *header_from, *disposition, *reporter;
	const char *p, *sp, *np, *adkim, *aspf, *testing;
	int pct;                       /* -1 when absent */
	const struct classify_input *in;
	const struct classify_result *res;
	const struct scan_source *src;
};

typedef void (*scan_fn)(void *arg, const struct scan_row *row);

/* Calls fn for each record.  Returns the number of records, or -1 with a
 * reason in err. */
int64_t scan_records(struct sqlite3 *db, const struct scan_filter *f,
    scan_fn fn, void *arg, char *err, size_t errlen);

/*
 * The same classification over the in-memory copy of the records
 * (store/recmem.h), for sources.c's scan of it: scan_mem_classify
 * classifies a key of the copy (one source, record signature and alignment
 * mode) with exactly the inputs scan_records gives classify_record for a
 * record of that key (ip_info and the user's rules read from db; each
 * source and signature prepared once).  The strings and the source it
 * points to live until scan_mem_free.
 *
 * scan_mem_new gives the copy's shared context when no other scan uses it
 * and it is still valid for what db sees (the same rules, the same ip_info
 * rows for the copy's IPs: checked at each scan, inside the caller's read
 * transaction), so sources and keys classified by an earlier scan of the
 * copy are not classified again; else a new context (installed as the
 * shared one when there is none or it was stale; private when the shared
 * one is in use).  scan_mem_free gives it back.  scan_mem_prime classifies
 * every key of the copy into the shared context (the server's warm-up
 * thread, after a build or a change); returns the keys it classified.
 * scan_mem_shared_gen: a number that changes each time a new shared
 * context is made (0: none), for tests.  scan_mem_scratch: len bytes
 * (not zeroed, 16-byte aligned) that the caller may use until
 * scan_mem_free, kept with the context for the next scan (a year's scan
 * allocated and freed ~5 MiB of per-key and per-IP arrays each time).
 */
struct recmem;
struct scan_class {
	const struct scan_source *src;
	const char *policy_domain, *header_from, *dmarc, *dkim_eval, *spf_eval, *disposition;
	struct classify_result res;
};
struct scan_mem;
struct scan_mem *scan_mem_new(struct sqlite3 *db, const struct recmem *rm, char *err,
    size_t errlen);
void scan_mem_classify(struct scan_mem *m, uint32_t key, struct scan_class *out);
void scan_mem_free(struct scan_mem **m);
int scan_mem_prime(struct sqlite3 *db, const struct recmem *rm);
uint64_t scan_mem_shared_gen(const struct recmem *rm);
void *scan_mem_scratch(struct scan_mem *m, size_t len);

#endif

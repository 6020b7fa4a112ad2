/*
 * analyze.h - sender intelligence: the public interface of src/analyze/
 * for the CLI, the web API and the daemon.
 *
 *   sources   every sending IP with host name, group, service, ASN,
 *             country, class, reason and pass counts
 *   senders   the sources grouped by the organisational domain of their
 *             host name (or by service), as in "sender group analysis"
 *   readiness per policy domain: published policy, quarantine / reject
 *             simulation, verdict, checklist and next steps
 *   rules     the user's approve / tag / reject rules
 *   enrich    see analyze/enrich.h (PTR, FCrDNS, base domain, ASN, country)
 *
 * JSON functions return a new reference (caller json_decref's it), or NULL
 * with a one-line reason in analyze_errmsg() (per thread).  Every reason
 * carries {code, params, messages:{en, ja}} so the UI and the CLI render
 * the same sentences.  Classification is computed at query time from the
 * records, ip_info, the catalog and the rules, so an approval shows at
 * once.  Nothing here does DNS.
 */
#ifndef DMARCSTAT_ANALYZE_H
#define DMARCSTAT_ANALYZE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/query.h"
#include "store/store.h"

struct sqlite3;

/*
 * Creates the analysis module's own tables when missing (CREATE TABLE IF
 * NOT EXISTS; today: sender_rules).  Idempotent and cheap after the first
 * call per connection.  Returns 0 or -1 (sqlite3_errmsg has the reason).
 */
int analyze_schema_ensure(struct sqlite3 *db);

/* Reason of the last failed call in this thread. */
const char *analyze_errmsg(void);

/*
 * Sources: one object per source IP, most messages first.  Honours
 * q->domain, q->source_ip, q->reporter, q->since/until (reports whose
 * period overlaps [since, until)), q->limit (default 500), q->offset and
 * q->sort ("messages" | "ip" | "class" | "pass"), q->desc.
 * Result: {"sources":[{ip, ptr, ptr_status, fcrdns, base_domain, asn,
 * as_name, country, service, service_name, service_type, group,
 * group_name, own, approved, rejected, tags, class, classes:{...},
 * reason:{code, params, messages}, detail, advice, messages, dmarc_pass,
 * dkim_aligned_pass, spf_aligned_pass, header_from:[...], first_seen,
 * last_seen}], "total": N, "catalog_version": "..."}.
 * `cls` (may be NULL) keeps only sources whose main class is it.
 */
json_t *analyze_sources_json(struct store *st, const struct query *q);
json_t *analyze_sources_filter_json(struct store *st, const struct query *q, const char *cls);

/*
 * The same sources kept in memory for a cache (the web API pages, sorts and
 * filters them many times): analyze_sources_collect scans once (filters as
 * above, no sort, no paging: most messages first); _n and _row give the
 * members lists filter and sort by of source i of that order (pointers
 * into s), _summary_json {"total", "catalog_version"} and _item_json the
 * full object of source i (what analyze_sources_json returns for it).
 * Rendering every source's reasons in both languages took about as long
 * as the scan, and a JSON summary of every source a quarter of it.
 */
struct analyze_sources;
struct analyze_sources *analyze_sources_collect(struct store *st, const struct query *q);
/* The same from the in-memory copy of the records (store/recmem.h) when
 * rm is not NULL: the caller checked that it matches what st sees. */
struct recmem;
struct analyze_sources *analyze_sources_collect_mem(struct store *st, const struct recmem *rm,
    const struct query *q);
/* Classifies every key of the copy rm (matching what st sees) into the
 * classification context kept with it (analyze/scan.h: scan_mem_prime),
 * so that a later first request of any period only sums.  Returns the
 * keys it classified (0: nothing left, or the context is in use). */
int analyze_prime_mem(struct store *st, const struct recmem *rm);
struct analyze_source_row {
	const char *ip, *ptr, *country;         /* ptr, country: NULL when unknown */
	const char *service, *service_name;     /* NULL when none */
	const char *group, *group_name;
	int64_t asn;                            /* 0 when unknown */
	int cls;                                /* the main class: legitimate, misconfigured,
						   forwarded, spoofing, unknown = 0..4 */
	int64_t classes[5];                     /* messages per class, same order */
	int64_t messages, dmarc_pass;
};
size_t analyze_sources_n(const struct analyze_sources *s);
void analyze_sources_row(const struct analyze_sources *s, size_t i,
    struct analyze_source_row *out);
json_t *analyze_sources_summary_json(const struct analyze_sources *s);
json_t *analyze_sources_item_json(const struct analyze_sources *s, size_t i);
/* analyze_senders_json's answer for the same filter, from the same scan. */
json_t *analyze_sources_groups_json(const struct analyze_sources *s, size_t limit);
void analyze_sources_free(struct analyze_sources **s);

/*
 * Sender groups: {"groups":[{group, name, kind (own|service|domain|asn|
 * none), service_type, sources, messages, dmarc_pass, pass_rate,
 * classes:{...}, countries:[...], top_sources:[ip...]}], "totals":{...}}.
 * Same filters as analyze_sources_json.
 */
json_t *analyze_senders_json(struct store *st, const struct query *q);

/*
 * Policy readiness for one policy domain over [since, until) (0 = open):
 * {domain, period, policy, totals, simulation:[quarantine, reject],
 * verdict, checklist, steps}.  See docs/classification.md.
 */
json_t *analyze_readiness_json(struct store *st, const char *domain,
    int64_t since, int64_t until);
/* The same from the in-memory copy of the records when rm is not NULL. */
json_t *analyze_readiness_json_mem(struct store *st, const struct recmem *rm,
    const char *domain, int64_t since, int64_t until);

/* User rules. */
json_t *analyze_rules_json(struct store *st);
/* action: approve | tag | reject; kind: ip | host | service | dkim.
 * Returns 0 with *id_out, or -1 with a reason in err. */
int analyze_rule_add(struct store *st, const char *action, const char *kind,
    const char *pattern, const char *tag, const char *note, const char *domain,
    int64_t *id_out, char *err, size_t errlen);
/* 0 removed, 1 no such rule, -1 error (reason in err). */
int analyze_rule_remove(struct store *st, int64_t id, char *err, size_t errlen);

/* The known-senders catalog: {version, services:[{id, name, name_ja, type,
 * forwards, include}]}. */
json_t *analyze_catalog_json(void);

#endif

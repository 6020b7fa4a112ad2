/*
 * query.h - read queries shared by the CLI and the web API.  Every function
 * returns a new jansson value (caller json_decref's it) or NULL with a reason
 * in the store's error buffer.  Counts are messages (sum of `count`), never
 * rows.  Time series come from the per-day rollup table `daily`.
 *
 * The CLI renders these values as a table or CSV (cli/output.c), the web API
 * sends them as they are; so the CLI and the dashboard can never disagree.
 */
#ifndef DMARCSTAT_QUERY_H
#define DMARCSTAT_QUERY_H
#include <jansson.h>
#include <stdint.h>

#include "store/store.h"

struct query {
	const char *domain;     /* policy domain, NULL = all */
	const char *reporter;   /* org_name, NULL = all */
	const char *source_ip;  /* NULL = all */
	const char *result;     /* "pass" | "fail" (DMARC), NULL = all */
	const char *report_id;  /* reports whose report_id contains it
	                         * (ASCII case-insensitive); NULL = all */
	int64_t since, until;   /* epoch seconds UTC, [since, until); 0 = open */
	int limit;              /* rows, 0 = default */
	int offset;
	const char *sort;       /* column name, validated by each query */
	int desc;
};

/*
 * Common to all: `q` may be NULL (no filter); limit 0 = all rows; an
 * unknown sort column or result value is an error (NULL).  Times are epoch
 * seconds UTC.  Implementation: store/query_report.c.
 */

/*
 * Summary per domain | source | reporter | day, from `daily`.  Filters:
 * domain, reporter (case-insensitive), source_ip, result, since/until (whole
 * UTC days overlapping [since, until)).  Returns an array of objects:
 *   the group key: "domain" | "source_ip" | "reporter" | "day" + "date"
 *       ("YYYY-MM-DD"); by source also "ptr", "country", "asn", "as_name"
 *       from ip_info (null until enriched)
 *   "messages", "dmarc_pass", "dmarc_fail" (= messages - dmarc_pass),
 *   "pass_pct", "spf_aligned", "spf_aligned_pct", "dkim_aligned",
 *   "dkim_aligned_pct" (percent of messages, one decimal, real),
 *   dispositions "none", "quarantine", "reject", "disposition_pass"
 *   (RFC 9990's pass), "disposition_unknown" (they add up to messages).
 * Default order: messages descending (by day: day ascending); `sort` may
 * name the key or any numeric field above, `desc` picks the direction.
 */
json_t *query_summary(struct store *st, const struct query *q, const char *by);
/*
 * Reports list, newest (begin) first.  Filters: domain, reporter, source_ip
 * (has a record from it), result (has messages of that DMARC verdict),
 * report_id (contains it), since/until (report range overlaps).  Array of objects: "id", "org_name",
 * "report_id", "policy_domain", "begin", "end", "n_records", "msg_total",
 * "n_warnings", "n_errors", "imported_at", "raw_id", "p".  sort: begin end
 * id org_name reporter policy_domain domain report_id n_records msg_total
 * messages imported_at.
 */
json_t *query_reports(struct store *st, const struct query *q);
/*
 * The LIKE pattern (ESCAPE '\\') matching any text that contains `s`:
 * '%' + s with '%', '_' and '\\' escaped + '%'.  SQLite's LIKE folds ASCII
 * case.  Free with free().
 */
char *query_like_contains(const char *s);
/*
 * One report: the header fields as stored ("id", "org_name", "report_id",
 * "policy_domain", "begin", "end", "version", "generator", ...,
 * "content_hash" hex, "raw_id"), "policy_published" {domain p sp np pct
 * adkim aspf fo testing discovery_method}, "errors" and "warnings" (arrays
 * of strings), "records" (names as in parse/report.h: "id", "count",
 * "source_ip", "disposition", "dkim" and "spf" (policy-evaluated), "dmarc"
 * (pass|fail|unknown), "header_from", "envelope_from", "envelope_to",
 * *_raw values, arrays "reasons" {type type_raw comment}, "dkim_results"
 * {domain selector result result_raw human_result}, "spf_results" {domain
 * scope result result_raw human_result}), "ledger" (inputs that brought it:
 * id ts source input member status).  NULL when there is no
 * such report ("no such report" in store_errmsg).
 */
json_t *query_report(struct store *st, int64_t id);
/*
 * Ingest ledger, newest first; `status` filter may be NULL; since/until on
 * the ledger time.  Array of objects: "id", "ts", "source", "input",
 * "member", "size", "sha256" (hex), "status", "reason", "kind", "report",
 * "raw_id".
 */
json_t *query_ledger(struct store *st, const struct query *q, const char *status);

#endif

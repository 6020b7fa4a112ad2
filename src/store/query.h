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
	int64_t since, until;   /* epoch seconds UTC, [since, until); 0 = open */
	int limit;              /* rows, 0 = default */
	int offset;
	const char *sort;       /* column name, validated by each query */
	int desc;
};

/* summary per domain | source | reporter | day: messages, pass %, aligned %. */
json_t *query_summary(struct store *st, const struct query *q, const char *by);
/* reports list (newest first) and one report with records. */
json_t *query_reports(struct store *st, const struct query *q);
json_t *query_report(struct store *st, int64_t id);
/* ingest ledger, newest first; `status` filter may be NULL. */
json_t *query_ledger(struct store *st, const struct query *q, const char *status);

#endif

/*
 * query_dash.h - the dashboard's read queries (web API, issue 3).  Each
 * function returns a new jansson value that the caller json_decref's, or
 * NULL with the reason in `err`.  The web API sends these values as they are;
 * every number the dashboard shows comes from here.
 *
 * Counts are messages (sum of `count`, read from the per-UTC-day rollup
 * `daily`), never rows.  Time: `since`/`until` are epoch seconds UTC chosen
 * by the viewer (usually local midnights).  A UTC day bucket `day` belongs to
 * [since, until) when its midpoint day+12h does; the browser assigns each
 * bucket to the calendar date of its midpoint in the viewer's time zone, so
 * table totals and chart bars always agree.  Reports (which have their own
 * begin/end) are in range when they overlap [since, until).
 *
 * Domains, reporters, IPs and every other string are returned as stored:
 * they come from the Internet and must be shown as text, never as markup.
 */
#ifndef DMARCSTAT_QUERY_DASH_H
#define DMARCSTAT_QUERY_DASH_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/query.h"
#include "store/store.h"

enum query_dash_status {
	QUERY_DASH_OK = 0,
	QUERY_DASH_BAD,         /* bad parameter (HTTP 400) */
	QUERY_DASH_NOT_FOUND,   /* no such report / source (HTTP 404) */
	QUERY_DASH_BUSY,        /* database locked (HTTP 503) */
	QUERY_DASH_FAIL         /* database error (HTTP 500) */
};

struct query_dash_err {
	enum query_dash_status status;
	char msg[256];
};

/* Half a day: a UTC bucket is in a range when day + this is. */
#define QUERY_DASH_MIDPOINT 43200

/* Run once per connection: creates helper indexes that the dashboard needs
 * when they are missing (CREATE INDEX IF NOT EXISTS); harmless on a
 * read-only connection (skipped).  Returns 0 or -1. */
int query_dash_prepare(struct store *st, struct query_dash_err *err);

/* Domains and reporters known, data extent, counts: for the filter bar. */
json_t *query_dash_meta(struct store *st, int64_t now, struct query_dash_err *err);
/* One row per policy domain: messages, pass %, aligned %, failing messages,
 * latest policy, 30-day sparkline, plain-language status key + params. */
json_t *query_dash_overview(struct store *st, const struct query *q, int64_t now,
    struct query_dash_err *err);
/* One domain (q->domain required): totals, per-day series stacked by
 * result/disposition, policy history, top sources, top reporters, advice. */
json_t *query_dash_domain(struct store *st, const struct query *q, int64_t now,
    struct query_dash_err *err);
/* One row per source IP, sortable (q->sort: ip messages pass_pct fail
 * hostname), paged; `only_failures` keeps IPs with DMARC-failing messages. */
json_t *query_dash_sources(struct store *st, const struct query *q, int only_failures,
    struct query_dash_err *err);
/*
 * The same two queries answered from an in-memory copy of `daily`
 * (store/dashmem.h) that matches the database (the caller checked its
 * fingerprint); dm NULL = SQL.  The answers are identical to the SQL's,
 * byte for byte once serialised; sources sorted by host name use SQL.
 */
struct dashmem;
json_t *query_dash_overview_mem(struct store *st, const struct dashmem *dm,
    const struct query *q, int64_t now, struct query_dash_err *err);
json_t *query_dash_sources_mem(struct store *st, const struct dashmem *dm,
    const struct query *q, int only_failures, struct query_dash_err *err);
/* Records (with their reports) behind one source IP (q->source_ip). */
json_t *query_dash_source_records(struct store *st, const struct query *q,
    struct query_dash_err *err);
/* Reporters: messages, reports, last report, silent flag (> 3 days). */
json_t *query_dash_reporters(struct store *st, const struct query *q, int64_t now,
    struct query_dash_err *err);
/* Reports list, newest first, paged; and one report with its records. */
json_t *query_dash_reports(struct store *st, const struct query *q,
    struct query_dash_err *err);
json_t *query_dash_report(struct store *st, int64_t id, int limit, int offset,
    struct query_dash_err *err);
/* Ingest ledger, newest first; `status` may be NULL.  Also counts by status. */
json_t *query_dash_ledger(struct store *st, const struct query *q, const char *status,
    struct query_dash_err *err);
/* Ledger rows with id > after_id (an upload's results); newest last. */
json_t *query_dash_ledger_since(struct store *st, int64_t after_id,
    struct query_dash_err *err);
/* Highest ledger id now (0 when empty), or -1. */
int64_t query_dash_ledger_max(struct store *st, struct query_dash_err *err);
/* Original bytes of the input a report came from (malloc'd, caller frees).
 * *name_out gets a file name suggestion "report-ID.xml[.gz|.zip|.eml]". */
int query_dash_raw(struct store *st, int64_t id, void **data_out, size_t *len_out,
    char *name_out, size_t name_len, struct query_dash_err *err);

#endif

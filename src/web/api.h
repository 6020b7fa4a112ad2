/*
 * api.h - the JSON API under /api/ (docs/api.yaml).  Routing, parameter
 * checking and error mapping; the numbers come from store/query_dash.c.
 *
 * Errors are JSON {"error":{"code":"...","message":"..."}} with a matching
 * HTTP status: 400 bad_request, 404 not_found, 405 method_not_allowed,
 * 413 too_large, 500 internal, 503 busy.
 */
#ifndef DMARCSTAT_API_H
#define DMARCSTAT_API_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct server;

struct api_reply {
	unsigned status;          /* HTTP status */
	char *body;               /* malloc'd; caller frees */
	size_t len;
	const char *mime;         /* static string */
	char filename[96];        /* non-empty: Content-Disposition attachment */
	const char *allow;        /* Allow header for 405 */
};

/* Handles one GET (or HEAD) under /api/.  Always fills `out`. */
void api_handle(struct server *srv, struct MHD_Connection *c, const char *method,
    const char *url, struct api_reply *out);
/* `out` = JSON error reply. */
void api_error(struct api_reply *out, unsigned status, const char *code, const char *msg);
/* `out` = `v` serialised (v is stolen). */
void api_json(struct api_reply *out, unsigned status, json_t *v);

/*
 * upload.c - POST /api/upload (multipart/form-data, any number of files).
 * upload_new() starts reading a body of at most `max` bytes; upload_feed()
 * takes the body as it arrives (returns -1 once it is too large or
 * malformed; upload_error() then says why and which HTTP status); when the
 * body is complete upload_finish() imports every file through the ingest
 * layer (ledger source "upload") and replies with the per-file ledger rows.
 */
struct upload;
struct upload *upload_new(struct MHD_Connection *c, size_t max);
int upload_feed(struct upload *u, const char *data, size_t len);
const char *upload_error(const struct upload *u, unsigned *status_out);
void upload_finish(struct upload *u, struct server *srv, struct api_reply *out);
void upload_free(struct upload **u);

/*
 * api_senders.c - sender intelligence (src/analyze/) under /api/:
 *   GET /api/senders, /api/senders/sources, /api/senders/countries,
 *   /api/readiness/DOMAIN, /api/rules, /api/catalog, /api/enrichment;
 *   POST /api/rules, DELETE /api/rules/ID (api_action).
 * Results of the analysis are cached per filter and invalidated when the
 * data changes (reports, ip_info, rules), so paging, sorting and class
 * filters are answered from memory.
 */
#define API_ACTION_MAX 16384      /* bytes of a rule change body */
struct query;
/* Handles GET seg[1]... when it is one of the routes above: returns 1 with
 * `out` filled, else 0 (not ours).  `q` holds the common filters. */
int api_senders_get(struct server *srv, struct MHD_Connection *c, char **seg, int n,
    const struct query *q, struct api_reply *out);
/* POST /api/rules and DELETE /api/rules/ID with the (NUL-terminated) body. */
void api_action(struct server *srv, struct MHD_Connection *c, const char *method,
    const char *url, const char *body, size_t len, struct api_reply *out);

/*
 * The sender analysis of the periods the dashboard opens by default (30
 * days ending today, in UTC and Asia/Tokyo) and of the periods users asked
 * for recently is computed in a background thread, at start and whenever
 * poked (the data changed), so a user opening the Senders view gets a
 * cached answer.  NULL when the thread cannot start (requests then compute
 * on demand, as before).
 */
struct senders_warm;
struct senders_warm *api_senders_warm_new(struct server *srv);
void api_senders_warm_poke(struct senders_warm *w);
void api_senders_warm_free(struct senders_warm **w);

/* The background enrichment worker (cli/cmd_serve.c) reports here what it
 * does, for GET /api/enrichment.  state: "off", "idle", "running",
 * "offline" (the resolver did not answer), "error". */
struct enrich_stats;
void api_enrich_status_set(const char *state, int64_t last_run,
    const struct enrich_stats *last, const char *error);

#endif

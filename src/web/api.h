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

#endif

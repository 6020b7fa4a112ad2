/*
 * intake.h - HTTP intake endpoints, for web/server.c to route to:
 *
 *   POST /api/v1/intake   upload for scripts: `Authorization: Bearer TOKEN`
 *                         (checked against intake.token_hash); body is either
 *                         multipart/form-data (every file part is one input)
 *                         or any other type (the whole body is one input;
 *                         ?name=LABEL names it in the ledger).  Answers after
 *                         the commit: 200 {"status":"ok"|"partial",...counts},
 *                         422 nothing usable, 401 bad token, 403 disabled,
 *                         413 too large, 503 + Retry-After database busy.
 *   POST /tlsrpt          RFC 8460 SMTP TLS reports, unauthenticated:
 *                         Content-Type application/tlsrpt+gzip or
 *                         application/tlsrpt+json; stored raw, ledger status
 *                         "unsupported" (reason "SMTP TLS report stored raw")
 *                         until TLS reports are parsed.  200 after commit.
 *   GET  /healthz         200 {"status":"ok"}; 503 {"status":"draining"} after SIGTERM
 *   GET  /metrics         Prometheus text format (ingest/daemon.c counters)
 *
 * Bodies are streamed into unlinked temporary files (never held in memory),
 * cut at intake.max_upload_bytes / intake.tlsrpt_max_bytes.
 *
 * Wiring (server.c), with MHD's access-handler semantics:
 *
 *     in = intake_new(cfg, db_path, NULL);        // once, next to server_new
 *     // in the access handler, where the server keeps its per-request state:
 *     if (intake_match(url)) {
 *         return intake_handle(in, c, url, method, upload_data,
 *             upload_data_size, &rq->intake);      // rq->intake: void *, NULL at first
 *     }
 *     // in MHD_OPTION_NOTIFY_COMPLETED:
 *     intake_request_free(&rq->intake);
 *     // on SIGHUP (daemon_set_reload_hook): intake_reload(in, new_cfg);
 *     intake_free(&in);                           // after MHD_stop_daemon
 *
 * intake_handle() does the two-phase answer (headers on the first call,
 * body chunks, the reply on the last call), so keep-alive works.
 * Thread-safe: any number of MHD worker threads may call it.
 */
#ifndef DMARCSTAT_INTAKE_H
#define DMARCSTAT_INTAKE_H
#include <microhttpd.h>

#include "lib/config.h"
#include "store/store.h"

/*
 * How intake gets a writing store: the server's exclusive writer
 * (server_writer_get/put) or, when `ops` is NULL, a connection intake opens
 * per request on db_path.
 */
struct intake_store_ops {
	struct store *(*get)(void *arg, char *err, size_t errlen);
	void (*put)(void *arg, struct store *st);
	void *arg;
};

struct intake;

/* Copies what it needs from cfg (token hash, limits).  Never NULL. */
struct intake *intake_new(const struct config *cfg, const char *db_path,
    const struct intake_store_ops *ops);
/* New settings after a reload (thread-safe). */
void intake_reload(struct intake *in, const struct config *cfg);
void intake_free(struct intake **in);

/* Whether `url` is one of intake's paths (any method: intake answers 405). */
int intake_match(const char *url);
/*
 * The MHD access handler for intake's paths.  `*req` is intake's
 * per-request state: NULL on the first call; free it with
 * intake_request_free() when MHD reports the request completed.
 */
enum MHD_Result intake_handle(struct intake *in, struct MHD_Connection *c,
    const char *url, const char *method, const char *upload_data,
    size_t *upload_data_size, void **req);
void intake_request_free(void **req);

#endif

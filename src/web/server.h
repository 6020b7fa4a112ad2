/*
 * server.h - the dashboard's HTTP server (libmicrohttpd): embedded assets,
 * the JSON API (api.c), uploads (upload.c) and, when given a configuration,
 * the HTTP intake endpoints (intake.c: /api/v1/intake, /tlsrpt, /healthz,
 * /metrics) on one listening socket.
 *
 * Threads: a pool of MHD worker threads, each handling many connections
 * with epoll/poll; every connection has a timeout and a memory limit so a
 * slow or hostile client ties up neither memory nor a worker.  Each request
 * borrows one read-only database connection from a pool (one per worker);
 * uploads share a single writing connection, one at a time.
 */
#ifndef DMARCSTAT_SERVER_H
#define DMARCSTAT_SERVER_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/config.h"
#include "store/store.h"

#define SERVER_DEFAULT_LISTEN "127.0.0.1:8025"

struct json_t;

struct server_opts {
	const char *listen;       /* "ADDR:PORT", "[v6]:PORT"; NULL = default */
	const char *db_path;      /* the SQLite database */
	const char *assets_dir;   /* serve web/ from disk (development), NULL = embedded */
	unsigned threads;         /* worker threads, 0 = 2 x CPUs (4..16) */
	unsigned timeout;         /* idle seconds per connection, 0 = 30 */
	size_t conn_memory;       /* bytes per connection, 0 = 256 KiB */
	size_t upload_max;        /* total bytes per upload, 0 = 64 MiB */
	int64_t now;              /* fixed "now" for tests, 0 = the clock */
	int log;                  /* key=value lines (ingest/daemon.h) per start/stop/error */
	const struct config *cfg; /* intake settings, mailboxes, spool folders; NULL =
	                           * no intake endpoints; read only in server_new() */
};

struct server;

/* Opens the database connections and binds the socket.  Returns NULL with a
 * reason in err (port in use, database unreadable...). */
struct server *server_new(const struct server_opts *opts, char *err, size_t errlen);
/* The bound address as "http://ADDR:PORT/" (port resolved when 0 was asked). */
const char *server_url(const struct server *srv);
/* Serves until SIGTERM or SIGINT (sigwait), then server_stop(); returns 0.
 * For a server alone; with ingest/daemon.c running, the daemon takes the
 * signals and the caller calls server_stop() once daemon_run() returned. */
int server_run(struct server *srv);
/* Stops accepting, lets requests in flight finish (up to 5 s), stops. */
void server_stop(struct server *srv);
/* A new configuration after SIGHUP (thread-safe): intake settings and the
 * mailbox/spool list of GET /api/mailboxes.  The listen address stays. */
void server_reload(struct server *srv, const struct config *cfg);
void server_free(struct server **srv);

/* For api.c / upload.c: borrow a read connection (never NULL; waits when all
 * are busy) and give it back. */
struct store *server_store_get(struct server *srv);
void server_store_put(struct server *srv, struct store *st);
/* The writing connection, exclusive until released; NULL with a reason. */
struct store *server_writer_get(struct server *srv, char *err, size_t errlen);
void server_writer_put(struct server *srv);
/* For api.c: the in-memory copy of `daily` (store/dashmem.h) when it matches
 * what `st` sees now, else NULL (then SQL); give it back with _put.  Status
 * for /api/health. */
struct dashmem;
struct dashmem *server_dashmem_get(struct server *srv, struct store *st);
void server_dashmem_put(struct server *srv, struct dashmem *dm);
struct json_t *server_dashmem_status(struct server *srv);
/* For api_senders.c: the same for the in-memory copy of the records
 * (store/recmem.h) that the sender analysis scans. */
struct recmem;
struct recmem *server_recmem_get(struct server *srv, struct store *st);
void server_recmem_put(struct server *srv, struct recmem *rm);
struct json_t *server_recmem_status(struct server *srv);
int64_t server_now(const struct server *srv);
size_t server_upload_max(const struct server *srv);
/*
 * For api.c: what the configuration says about intake, without secrets, as
 * a new JSON reference: {"intake": true|false (a configuration was given),
 * "mailboxes": [{"name","url" (scheme://host:port/ only),"folder",
 * "enabled","after","poll_interval"}], "spool": [{"path","done_dir","failed_dir",
 * "on_success"}], "rescan_interval"}.
 */
struct json_t *server_intake_config(struct server *srv);

#endif

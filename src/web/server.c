/*
 * server.c - the dashboard's HTTP server on libmicrohttpd.
 *
 *   GET  /...          embedded assets (web/ at build time; exact-path lookup,
 *                      no filesystem), or files under --assets-dir (development;
 *                      no "..", no dot files, realpath must stay inside)
 *   GET  /api/...      JSON API (api.c)
 *   POST /api/upload   report upload (upload.c)
 *   POST /api/rules, DELETE /api/rules/ID
 *                      sender rules (api_senders.c): small JSON bodies, only
 *                      with the X-Dmarcstat-Action header (CSRF guard)
 *   POST /api/v1/intake, POST /tlsrpt, GET /healthz, GET /metrics
 *                      HTTP intake (intake.c), when server_new() was given a
 *                      configuration: bearer token / RFC 8460 / monitoring;
 *                      exempt from the loopback Host check (scripts, MTAs
 *                      and reverse proxies send their own Host names)
 *
 * Every response carries the security headers (strict CSP: nothing inline,
 * nosniff, no referrer, no framing).  Assets and API replies have strong
 * ETags and answer If-None-Match with 304; a gzip variant is sent when the
 * client accepts it (precomputed for assets, on the fly for JSON > 1 KiB).
 *
 * Threads and limits: MHD's thread pool (each worker polls many connections),
 * per-connection idle timeout and memory limit, a global connection limit.
 * Requests use the two-call pattern (first call only records the request) so
 * MHD keeps connections alive.  Read connections to the database come from a
 * pool with one per worker; the writing connection (uploads) is exclusive.
 *
 * Shutdown: SIGTERM/SIGINT are blocked in every thread and taken either by
 * sigwait() in server_run() or, in `dmarcstat serve`, by the intake daemon
 * (ingest/daemon.c); then server_stop() stops accepting, lets requests in
 * flight finish (up to 5 s), and stops.  Intake uploads answer only after
 * their commit, so a request cut short was never acknowledged.
 *
 * Logging: key=value lines through ingest/daemon.c's daemon_log().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "analyze/analyze.h"
#include "ingest/daemon.h"
#include "store/dashmem.h"
#include "store/recmem.h"
#include "store/query_dash.h"
#include "web/api.h"
#include "web/assets.h"
#include "web/intake.h"
#include "web/server.h"

#define SERVER_CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; " \
	"form-action 'self'"
#define SERVER_MAX_CONNECTIONS 512
#define SERVER_MAX_ASSET (16u << 20)
#define SERVER_GZIP_MIN 1024

struct server {
	struct server_opts o;
	struct MHD_Daemon *d;
	char url[160];
	int loopback;
	char *assets_real;          /* realpath of --assets-dir */
	sigset_t sigs, oldmask;
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	struct store **pool;        /* all read connections */
	struct store **idle;        /* stack of free ones */
	size_t npool, nidle;
	pthread_mutex_t writer_mu;
	struct store *writer;
	struct intake *intake;      /* NULL without a configuration */
	pthread_mutex_t cfg_mu;
	json_t *intake_cfg;         /* server_intake_config()'s snapshot */
	struct dashmem_keeper *dashk; /* in-memory copy of daily; NULL = SQL only */
	struct recmem_keeper *reck; /* in-memory copy of the records; NULL = SQL only */
	struct senders_warm *warm;  /* api_senders.c's background cache filler */
};

struct server_req {
	struct upload *up;          /* POST /api/upload */
	unsigned reject;            /* HTTP status decided before the body was read */
	const char *reject_code, *reject_msg;
	uint64_t body;              /* body bytes seen */
	int action;                 /* POST/DELETE /api/rules...: body kept in abuf */
	char *abuf;
	size_t alen;
	void *intake;               /* intake.c's request state */
	int is_intake;
};

/* ---- small helpers ------------------------------------------------------- */

/* Strong ETag of bytes: FNV-1a 64 plus length. */
static void
server_etag(const void *p, size_t n, const char *suffix, char *out, size_t outlen)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	snprintf(out, outlen, "\"%016llx%zx%s\"", (unsigned long long)h, n, suffix);
}

/* Does the client accept gzip?  A "gzip" (or "*") token without q=0. */
static int
server_accepts_gzip(struct MHD_Connection *c)
{
	const char *p = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT_ENCODING);

	while (p && *p) {
		size_t n = strcspn(p, ",");
		const char *semi = memchr(p, ';', n);
		size_t name = semi ? (size_t)(semi - p) : n;
		const char *q;

		while (name && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
			name--;
		}
		while (name && (p[name - 1] == ' ' || p[name - 1] == '\t'))
			name--;
		if ((name == 4 && strncasecmp(p, "gzip", 4) == 0) || (name == 1 && *p == '*')) {
			q = semi ? strstr(semi, "q=") : NULL;
			if (q == NULL || q >= p + n || strtod(q + 2, NULL) > 0.0)
				return 1;
			return 0;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* If-None-Match matches `etag` (a list, or "*"). */
static int
server_not_modified(struct MHD_Connection *c, const char *etag)
{
	const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_NONE_MATCH);

	if (inm == NULL)
		return 0;
	if (strcmp(inm, "*") == 0)
		return 1;
	return strstr(inm, etag) != NULL;
}

/* gzip of buf (level 6), malloc'd, or NULL when not smaller. */
static void *
server_gzip(const void *buf, size_t len, size_t *out_len)
{
	z_stream z;
	size_t cap = len + len / 1000 + 64;
	unsigned char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (unsigned char *)(uintptr_t)buf;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END || z.total_out >= len) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*out_len = z.total_out;
	deflateEnd(&z);
	return out;
}

static void
server_security_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Security-Policy", SERVER_CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(r, "Permissions-Policy",
	    "camera=(), microphone=(), geolocation=(), payment=(), usb=()");
}

static enum MHD_Result
server_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	server_security_headers(r);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
server_not_modified_reply(struct MHD_Connection *c, const char *etag, const char *cache)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	return server_queue(c, MHD_HTTP_NOT_MODIFIED, r);
}

/* Sends an API reply: ETag/304, gzip when worth it, attachment name. */
static enum MHD_Result
server_send_reply(struct MHD_Connection *c, struct api_reply *rep)
{
	struct MHD_Response *r;
	char etag[64];
	void *gz = NULL;
	size_t gzlen = 0;
	int use_gz = 0;

	/* gzip is decided first: each representation has its own ETag. */
	use_gz = rep->len >= SERVER_GZIP_MIN && rep->filename[0] == '\0' && server_accepts_gzip(c);
	if (rep->status == 200 && rep->filename[0] == '\0') {
		server_etag(rep->body, rep->len, use_gz ? "-gz" : "", etag, sizeof(etag));
		if (server_not_modified(c, etag)) {
			free(rep->body);
			rep->body = NULL;
			return server_not_modified_reply(c, etag, "no-cache");
		}
	} else
		etag[0] = '\0';
	if (use_gz && (gz = server_gzip(rep->body, rep->len, &gzlen)) != NULL) {
		free(rep->body);
		rep->body = NULL;
		r = MHD_create_response_from_buffer(gzlen, gz, MHD_RESPMEM_MUST_FREE);
	} else {
		if (use_gz && etag[0])     /* not smaller: plain body, plain ETag */
			server_etag(rep->body, rep->len, "", etag, sizeof(etag));
		use_gz = 0;
		r = MHD_create_response_from_buffer(rep->len, rep->body ? rep->body : (void *)"",
		    rep->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
		rep->body = NULL;
	}
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rep->mime ? rep->mime :
	    "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	if (use_gz)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	if (etag[0]) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	} else
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (rep->filename[0]) {
		char cd[160];

		/* The name is ours ("report-ID.ext"), never taken from the input. */
		snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"", rep->filename);
		MHD_add_response_header(r, "Content-Disposition", cd);
	}
	if (rep->allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rep->allow);
	return server_queue(c, rep->status, r);
}

static enum MHD_Result
server_error(struct MHD_Connection *c, unsigned status, const char *code, const char *msg)
{
	struct api_reply rep;

	memset(&rep, 0, sizeof(rep));
	api_error(&rep, status, code, msg);
	return server_send_reply(c, &rep);
}

/* ---- static files ---------------------------------------------------------- */

static const char *
server_mime(const char *path)
{
	static const char *const map[][2] = {
		{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
		{".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
		{".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"},
		{".woff2", "font/woff2"}, {".map", "application/json"}, {NULL, NULL}};
	const char *dot = strrchr(path, '.');

	for (int i = 0; dot && map[i][0]; i++)
		if (strcmp(dot, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

/* index.html must be re-checked on each load; other files too, but they are
 * cheap 304s thanks to ETags. */
static const char *
server_cache_control(const char *path)
{
	if (strncmp(path, "/vendor/", 8) == 0)
		return "public, max-age=3600";
	return "no-cache";
}

static enum MHD_Result
server_send_asset(struct MHD_Connection *c, const char *path, const char *mime,
    const void *data, size_t len, const void *gz, size_t gzlen, const char *etag_plain,
    enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	char etag[80];
	int use_gz = gz != NULL && server_accepts_gzip(c);
	const char *cache = server_cache_control(path);

	/* Each representation has its own strong ETag. */
	if (use_gz)
		snprintf(etag, sizeof(etag), "%.*s-gz\"", (int)strlen(etag_plain) - 1, etag_plain);
	else
		snprintf(etag, sizeof(etag), "%s", etag_plain);
	if (server_not_modified(c, etag))
		return server_not_modified_reply(c, etag, cache);
	r = MHD_create_response_from_buffer(use_gz ? gzlen : len,
	    (void *)(uintptr_t)(use_gz ? gz : data), mode);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, mime);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
	if (gz != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	if (use_gz)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	return server_queue(c, MHD_HTTP_OK, r);
}

/* Development: a file under --assets-dir.  The URL path must be plain
 * ("/a/b.js": no "..", no dot files, no backslash) and its realpath must stay
 * inside the directory (no symlink escapes). */
static enum MHD_Result
server_disk_asset(struct server *srv, struct MHD_Connection *c, const char *path)
{
	char full[PATH_MAX], real[PATH_MAX], etag[64];
	const char *mime = server_mime(path);
	struct stat sb;
	unsigned char *buf;
	size_t rlen = strlen(srv->assets_real);
	int fd;
	ssize_t got;
	enum MHD_Result ret;
	void *gz;
	size_t gzlen = 0;

	if (mime == NULL || strstr(path, "/.") != NULL || strchr(path, '\\') != NULL ||
	    strstr(path, "//") != NULL)
		return server_error(c, 404, "not_found", "no such file");
	if ((size_t)snprintf(full, sizeof(full), "%s%s", srv->assets_real, path) >= sizeof(full) ||
	    realpath(full, real) == NULL || strncmp(real, srv->assets_real, rlen) != 0 ||
	    real[rlen] != '/')
		return server_error(c, 404, "not_found", "no such file");
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return server_error(c, 404, "not_found", "no such file");
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > SERVER_MAX_ASSET) {
		close(fd);
		return server_error(c, 404, "not_found", "no such file");
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return server_error(c, 500, "internal", "out of memory");
	}
	got = read(fd, buf, (size_t)sb.st_size);
	close(fd);
	if (got != sb.st_size) {
		free(buf);
		return server_error(c, 500, "internal", "read error");
	}
	server_etag(buf, (size_t)got, "", etag, sizeof(etag));
	gz = server_gzip(buf, (size_t)got, &gzlen);
	/* MHD sends after we return: it copies the bytes (MUST_COPY). */
	ret = server_send_asset(c, path, mime, buf, (size_t)got, gz, gzlen, etag,
	    MHD_RESPMEM_MUST_COPY);
	free(buf);
	free(gz);
	return ret;
}

static enum MHD_Result
server_static(struct server *srv, struct MHD_Connection *c, const char *url)
{
	const struct asset *a;
	const char *path = strcmp(url, "/") == 0 ? "/index.html" : url;

	if (srv->assets_real)
		return server_disk_asset(srv, c, path);
	a = assets_find(path);
	if (a == NULL)
		return server_error(c, 404, "not_found", "no such file");
	return server_send_asset(c, path, a->mime, a->data, a->len, a->gz, a->gz_len, a->etag,
	    MHD_RESPMEM_PERSISTENT);
}

/* ---- request handling ---------------------------------------------------- */

/* With a loopback listener, only loopback Host names are served, so a web
 * page cannot read the dashboard through DNS rebinding. */
static int
server_host_ok(const struct server *srv, struct MHD_Connection *c)
{
	const char *h;

	if (!srv->loopback)
		return 1;
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	if (h == NULL)
		return 1;              /* HTTP/1.0 without Host */
	return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost", 9) == 0 ||
	    strncmp(h, "[::1]", 5) == 0;
}

/* A cross-site page can POST a form to us but cannot add a custom header
 * without a CORS preflight (which we never allow): require one. */
static const char *
server_upload_check(struct server *srv, struct MHD_Connection *c, unsigned *status)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);

	*status = 400;
	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Dmarcstat-Upload") == NULL) {
		*status = 403;
		return "uploads must come from the dashboard (X-Dmarcstat-Upload header missing)";
	}
	if (ct == NULL || strncasecmp(ct, "multipart/form-data", 19) != 0)
		return "use multipart/form-data";
	if (cl != NULL && strtoull(cl, NULL, 10) > server_upload_max(srv)) {
		*status = 413;
		return "upload too large";
	}
	return NULL;
}

/* Rule changes: same guard as uploads (a custom header a cross-site page
 * cannot send without a preflight), JSON bodies of at most API_ACTION_MAX. */
static int
server_is_action(const char *url, const char *method)
{
	if (strcmp(method, "POST") == 0)
		return strcmp(url, "/api/rules") == 0;
	if (strcmp(method, "DELETE") == 0)
		return strncmp(url, "/api/rules/", 11) == 0;
	return 0;
}

static const char *
server_action_check(struct MHD_Connection *c, const char *method, unsigned *status)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);

	*status = 400;
	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Dmarcstat-Action") == NULL) {
		*status = 403;
		return "changes must come from the dashboard (X-Dmarcstat-Action header missing)";
	}
	if (strcmp(method, "POST") == 0 &&
	    (ct == NULL || strncasecmp(ct, "application/json", 16) != 0))
		return "use Content-Type: application/json";
	if (cl != NULL && strtoull(cl, NULL, 10) > API_ACTION_MAX) {
		*status = 413;
		return "request body too large";
	}
	return NULL;
}

static enum MHD_Result
server_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct server *srv = cls;
	struct server_req *rq = *con_cls;
	int is_upload = strcmp(url, "/api/upload") == 0 && strcmp(method, "POST") == 0;

	if (rq != NULL && rq->is_intake)
		return intake_handle(srv->intake, c, url, method, upload_data, upload_data_size,
		    &rq->intake);
	if (rq == NULL) {
		/* First call: headers only.  Answering later keeps the connection alive. */
		rq = calloc(1, sizeof(*rq));
		if (rq == NULL)
			return MHD_NO;
		*con_cls = rq;
		if (srv->intake != NULL && intake_match(url)) {
			rq->is_intake = 1;
			return intake_handle(srv->intake, c, url, method, upload_data,
			    upload_data_size, &rq->intake);
		}
		if (!server_host_ok(srv, c)) {
			rq->reject = 421;
			rq->reject_code = "misdirected";
			rq->reject_msg = "unexpected Host header";
		} else if (is_upload) {
			unsigned st = 0;
			const char *why = server_upload_check(srv, c, &st);

			if (why) {
				rq->reject = st;
				rq->reject_code = rq->reject == 413 ? "too_large" :
				    rq->reject == 403 ? "forbidden" : "bad_request";
				rq->reject_msg = why;
			} else if ((rq->up = upload_new(c, server_upload_max(srv))) == NULL) {
				rq->reject = 400;
				rq->reject_code = "bad_request";
				rq->reject_msg = "cannot read this multipart body";
			}
		} else if (server_is_action(url, method)) {
			unsigned st = 0;
			const char *why = server_action_check(c, method, &st);

			rq->action = 1;
			if (why) {
				rq->reject = st;
				rq->reject_code = st == 413 ? "too_large" : st == 403 ? "forbidden" :
				    "bad_request";
				rq->reject_msg = why;
			}
		} else
			rq->reject = 0;
		/* Refused from the headers alone: answer now, the body is not read. */
		if (rq->reject)
			return server_error(c, rq->reject, rq->reject_code, rq->reject_msg);
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		/* MHD accepts a response only before or after the body: a body
		 * that went wrong is read to its end (up to twice the limit, then
		 * the connection is dropped) and answered then. */
		rq->body += *upload_data_size;
		if (rq->up && !rq->reject && upload_feed(rq->up, upload_data, *upload_data_size) != 0) {
			unsigned st = 400;

			rq->reject_msg = upload_error(rq->up, &st);
			rq->reject = st;
			rq->reject_code = st == 413 ? "too_large" : "bad_request";
		}
		if (rq->action && !rq->reject) {
			if (rq->alen + *upload_data_size > API_ACTION_MAX) {
				rq->reject = 413;
				rq->reject_code = "too_large";
				rq->reject_msg = "request body too large";
			} else {
				char *nb = realloc(rq->abuf, rq->alen + *upload_data_size + 1);

				if (nb == NULL)
					return MHD_NO;
				memcpy(nb + rq->alen, upload_data, *upload_data_size);
				rq->abuf = nb;
				rq->alen += *upload_data_size;
				rq->abuf[rq->alen] = '\0';
			}
		}
		*upload_data_size = 0;   /* bodies of other requests are ignored */
		if (rq->body > 2 * server_upload_max(srv) + 65536)
			return MHD_NO;
		return MHD_YES;
	}
	if (rq->reject)
		return server_error(c, rq->reject, rq->reject_code, rq->reject_msg);
	if (is_upload) {
		struct api_reply rep;

		upload_finish(rq->up, srv, &rep);
		return server_send_reply(c, &rep);
	}
	if (rq->action) {
		struct api_reply rep;

		api_action(srv, c, method, url, rq->abuf ? rq->abuf : "", rq->alen, &rep);
		return server_send_reply(c, &rep);
	}
	if (strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0) {
		struct api_reply rep;

		api_handle(srv, c, method, url, &rep);
		return server_send_reply(c, &rep);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		struct api_reply rep;

		memset(&rep, 0, sizeof(rep));
		api_error(&rep, 405, "method_not_allowed", "use GET");
		rep.allow = "GET, HEAD";
		return server_send_reply(c, &rep);
	}
	return server_static(srv, c, url);
}

static void
server_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct server_req *rq = *con_cls;

	if (rq == NULL)
		return;
	upload_free(&rq->up);
	intake_request_free(&rq->intake);
	free(rq->abuf);
	free(rq);
	*con_cls = NULL;
}

static void
server_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct server *srv = cls;
	char msg[512];
	size_t n;

	if (!srv->o.log)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	daemon_log(DAEMON_LOG_WARN, "http_error", "msg=%s", daemon_logq(msg));
}

/* ---- connections to the database ------------------------------------------ */

struct store *
server_store_get(struct server *srv)
{
	struct store *st;

	pthread_mutex_lock(&srv->pool_mu);
	while (srv->nidle == 0)
		pthread_cond_wait(&srv->pool_cv, &srv->pool_mu);
	st = srv->idle[--srv->nidle];
	pthread_mutex_unlock(&srv->pool_mu);
	return st;
}

void
server_store_put(struct server *srv, struct store *st)
{
	pthread_mutex_lock(&srv->pool_mu);
	srv->idle[srv->nidle++] = st;
	pthread_cond_signal(&srv->pool_cv);
	pthread_mutex_unlock(&srv->pool_mu);
}

struct store *
server_writer_get(struct server *srv, char *err, size_t errlen)
{
	pthread_mutex_lock(&srv->writer_mu);
	if (srv->writer == NULL)
		srv->writer = store_open(srv->o.db_path, 0, err, errlen);
	if (srv->writer == NULL) {
		pthread_mutex_unlock(&srv->writer_mu);
		return NULL;
	}
	return srv->writer;
}

void
server_writer_put(struct server *srv)
{
	pthread_mutex_unlock(&srv->writer_mu);
}

/* ---- the in-memory copy of daily ------------------------------------------- */

/* keeper thread, after each build: the data changed, so refill the caches */
static void
server_dash_built(void *arg)
{
	struct server *srv = arg;

	api_senders_warm_poke(srv->warm);
}

/* the copy of daily was built (or could not be): the copy of the records next */
static void
server_daily_built(void *arg)
{
	struct server *srv = arg;

	server_dash_built(srv);
	recmem_keeper_poke(srv->reck);
}

struct dashmem *
server_dashmem_get(struct server *srv, struct store *st)
{
	return dashmem_keeper_get(srv->dashk, store_sqlite_handle(st));
}

void
server_dashmem_put(struct server *srv, struct dashmem *dm)
{
	dashmem_keeper_put(srv->dashk, dm);
}

json_t *
server_dashmem_status(struct server *srv)
{
	return dashmem_keeper_status(srv->dashk);
}

struct recmem *
server_recmem_get(struct server *srv, struct store *st)
{
	return recmem_keeper_get(srv->reck, store_sqlite_handle(st));
}

void
server_recmem_put(struct server *srv, struct recmem *rm)
{
	recmem_keeper_put(srv->reck, rm);
}

json_t *
server_recmem_status(struct server *srv)
{
	return recmem_keeper_status(srv->reck);
}

int64_t
server_now(const struct server *srv)
{
	return srv->o.now ? srv->o.now : (int64_t)time(NULL);
}

size_t
server_upload_max(const struct server *srv)
{
	return srv->o.upload_max;
}

const char *
server_url(const struct server *srv)
{
	return srv->url;
}

/* ---- intake ---------------------------------------------------------------- */

/* Intake imports through the server's one writing connection. */
static struct store *
server_intake_get(void *arg, char *err, size_t errlen)
{
	return server_writer_get(arg, err, errlen);
}

static void
server_intake_put(void *arg, struct store *st)
{
	(void)st;
	server_writer_put(arg);
}

/* "imaps://user@host:993/path" -> "imaps://host:993/": no user, no path. */
static json_t *
server_url_public(const char *url)
{
	const char *p = strstr(url, "://"), *host, *end, *at;

	if (p == NULL)
		return json_string("");
	host = p + 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	if (at != NULL)
		host = at + 1;
	return json_sprintf("%.*s%.*s/", (int)(p + 3 - url), url, (int)(end - host), host);
}

/* A done/failed folder as watch.c resolves it against the watched folder. */
static json_t *
server_spool_path(const char *root, const char *rel)
{
	if (rel[0] == '/')
		return json_string(rel);
	return json_sprintf("%s/%s", root, rel);
}

static json_t *
server_intake_snapshot(const struct config *cfg)
{
	json_t *mbs = json_array(), *spool = json_array();
	char **dirs = NULL;
	size_t n, i;

	for (i = 0; cfg != NULL && i < config_mailbox_count(cfg); i++) {
		const struct config_mailbox *mb = config_mailbox_at(cfg, i);

		/* json_pack gives NULL for a value that is not UTF-8: no entry */
		json_array_append_new(mbs, json_pack("{s:s, s:o, s:s, s:b, s:s, s:I}",
		    "name", config_mailbox_name(mb),
		    "url", server_url_public(config_mb_str(cfg, mb, "url")),
		    "folder", config_mb_str(cfg, mb, "folder"),
		    "enabled", config_mb_bool(cfg, mb, "enabled"),
		    "after", config_mb_str(cfg, mb, "after"),
		    "poll_interval", (json_int_t)config_mb_uint(cfg, mb, "poll_interval")));
	}
	n = cfg != NULL ? config_list(cfg, "spool.dirs", &dirs) : 0;
	for (i = 0; i < n; i++) {
		char *root = dirs[i];
		size_t len = strlen(root);

		while (len > 1 && root[len - 1] == '/')
			root[--len] = '\0';
		json_array_append_new(spool, json_pack("{s:s, s:o, s:o, s:s}", "path", root,
		    "done_dir", server_spool_path(root, config_str(cfg, "spool.done_dir")),
		    "failed_dir", server_spool_path(root, config_str(cfg, "spool.failed_dir")),
		    "on_success", config_str(cfg, "spool.on_success")));
	}
	if (n > 0)
		config_list_free(dirs, n);
	return json_pack("{s:b, s:o, s:o, s:I}", "intake", cfg != NULL, "mailboxes", mbs,
	    "spool", spool, "rescan_interval",
	    (json_int_t)(cfg ? config_uint(cfg, "spool.rescan_interval") : 0));
}

struct json_t *
server_intake_config(struct server *srv)
{
	json_t *v;

	pthread_mutex_lock(&srv->cfg_mu);
	v = json_deep_copy(srv->intake_cfg);
	pthread_mutex_unlock(&srv->cfg_mu);
	return v;
}

void
server_reload(struct server *srv, const struct config *cfg)
{
	json_t *snap = server_intake_snapshot(cfg), *old;

	if (srv->intake != NULL && cfg != NULL)
		intake_reload(srv->intake, cfg);
	pthread_mutex_lock(&srv->cfg_mu);
	old = srv->intake_cfg;
	srv->intake_cfg = snap;
	pthread_mutex_unlock(&srv->cfg_mu);
	json_decref(old);
}

/* ---- life cycle ---------------------------------------------------------- */

/* "ADDR:PORT", "[V6]:PORT", ":PORT" or "PORT" -> socket address. */
static int
server_parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *sslen,
    char *err, size_t errlen)
{
	char host[256] = "127.0.0.1";
	const char *port = spec, *colon;
	struct addrinfo hints, *res = NULL;
	int rc;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(host))
			goto bad;
		memcpy(host, spec + 1, (size_t)(close - spec - 1));
		host[close - spec - 1] = '\0';
		port = close + 2;
	} else if ((colon = strrchr(spec, ':')) != NULL) {
		if ((size_t)(colon - spec) >= sizeof(host))
			goto bad;
		if (colon != spec) {
			memcpy(host, spec, (size_t)(colon - spec));
			host[colon - spec] = '\0';
		}
		port = colon + 1;
	}
	if (port[0] == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    strtol(port, NULL, 10) > 65535)
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || res == NULL) {
		snprintf(err, errlen, "--listen %s: %s", spec, rc ? gai_strerror(rc) : "no address");
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	snprintf(err, errlen, "--listen %s: expected ADDR:PORT", spec);
	return -1;
}

static int
server_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return 0;
}

/*
 * A first sender-analysis request of a year allocates ~40 MiB in small
 * pieces (15,000 sources of ~1.5 KB with their strings, the scan's
 * tables) and frees as much when the result it replaces leaves the cache.
 * With glibc's defaults a thread's heap gives that back to the kernel
 * after every such request and takes it again, zero-filled, on the next
 * one: a third of that request's time in page faults.  The server keeps
 * up to SERVER_HEAP_KEEP of freed heap per arena instead, grows a heap by
 * as much at once (not page by page, a system call each), and takes big
 * blocks from the heap rather than from fresh mappings.
 */
#define SERVER_HEAP_KEEP (64 << 20)

static void
server_malloc_tune(void)
{
#ifdef __GLIBC__
	mallopt(M_TRIM_THRESHOLD, SERVER_HEAP_KEEP);
	mallopt(M_TOP_PAD, SERVER_HEAP_KEEP);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
}

struct server *
server_new(const struct server_opts *opts, char *err, size_t errlen)
{
	struct server *srv;
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	struct query_dash_err qe = {0};
	const union MHD_DaemonInfo *info;
	char host[INET6_ADDRSTRLEN];
	unsigned flags;
	long ncpu;

	server_malloc_tune();
	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->o = *opts;
	if (srv->o.listen == NULL)
		srv->o.listen = SERVER_DEFAULT_LISTEN;
	if (srv->o.threads == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		srv->o.threads = ncpu > 0 ? (unsigned)ncpu * 2 : 4;
		if (srv->o.threads < 4)
			srv->o.threads = 4;
		if (srv->o.threads > 16)
			srv->o.threads = 16;
	}
	if (srv->o.timeout == 0)
		srv->o.timeout = 30;
	if (srv->o.conn_memory == 0)
		srv->o.conn_memory = 256 * 1024;
	if (srv->o.upload_max == 0)
		srv->o.upload_max = 64u << 20;
	pthread_mutex_init(&srv->pool_mu, NULL);
	pthread_cond_init(&srv->pool_cv, NULL);
	pthread_mutex_init(&srv->writer_mu, NULL);
	pthread_mutex_init(&srv->cfg_mu, NULL);
	srv->intake_cfg = server_intake_snapshot(srv->o.cfg);
	sigemptyset(&srv->sigs);
	sigaddset(&srv->sigs, SIGINT);
	sigaddset(&srv->sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &srv->sigs, &srv->oldmask);
	signal(SIGPIPE, SIG_IGN);

	if (server_parse_listen(srv->o.listen, &ss, &sslen, err, errlen) != 0)
		goto fail;
	srv->loopback = server_is_loopback(&ss);
	if (srv->o.assets_dir) {
		srv->assets_real = realpath(srv->o.assets_dir, NULL);
		if (srv->assets_real == NULL) {
			snprintf(err, errlen, "--assets-dir %s: %s", srv->o.assets_dir, strerror(errno));
			goto fail;
		}
	}
	/* The writing connection first: it creates and migrates the database
	 * and adds the dashboard's helper index. */
	srv->writer = store_open(srv->o.db_path, 0, err, errlen);
	if (srv->writer == NULL)
		goto fail;
	if (query_dash_prepare(srv->writer, &qe) != 0) {
		snprintf(err, errlen, "%s: %s", srv->o.db_path, qe.msg);
		goto fail;
	}
	/* Sender rules live in the analysis module's own table. */
	if (store_sqlite_handle(srv->writer) != NULL &&
	    analyze_schema_ensure(store_sqlite_handle(srv->writer)) != 0) {
		snprintf(err, errlen, "%s: cannot create the sender_rules table", srv->o.db_path);
		goto fail;
	}
	srv->pool = calloc(srv->o.threads, sizeof(*srv->pool));
	srv->idle = calloc(srv->o.threads, sizeof(*srv->idle));
	if (srv->pool == NULL || srv->idle == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < srv->o.threads; i++) {
		struct store *st = store_open(srv->o.db_path, 1, err, errlen);

		if (st == NULL)
			goto fail;
		srv->pool[srv->npool++] = st;
		srv->idle[srv->nidle++] = st;
	}
	/* The dashboard's copy of daily and the sender-analysis cache are
	 * filled in the background from now on; requests use SQL until then. */
	srv->warm = api_senders_warm_new(srv);
	/* the sender analysis' copy of the records, built after the copy of
	 * daily (the warm-up uses it once built) */
	srv->reck = recmem_keeper_new(srv->o.db_path, 0, 1, server_dash_built, srv);
	srv->dashk = dashmem_keeper_new(srv->o.db_path, 0, server_daily_built, srv);
	if (srv->dashk == NULL)
		recmem_keeper_poke(srv->reck);
	if (srv->o.cfg != NULL) {
		struct intake_store_ops ops = { server_intake_get, server_intake_put, srv };

		srv->intake = intake_new(srv->o.cfg, srv->o.db_path, &ops);
	}

	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
#ifdef __linux__
	flags |= MHD_USE_EPOLL;
#else
	flags |= MHD_USE_POLL;
#endif
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->d = MHD_start_daemon(flags, 0, NULL, NULL, server_handle, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, server_mhd_log, srv,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, srv->o.threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, srv->o.timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, srv->o.conn_memory,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVER_MAX_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)128,
	    MHD_OPTION_NOTIFY_COMPLETED, server_completed, srv,
	    MHD_OPTION_END);
	if (srv->d == NULL) {
		snprintf(err, errlen, "cannot listen on %s (address in use or not permitted)",
		    srv->o.listen);
		goto fail;
	}
	info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
	snprintf(srv->url, sizeof(srv->url), ss.ss_family == AF_INET6 ? "http://[%s]:%u/" :
	    "http://%s:%u/", host, info ? (unsigned)info->port : 0);
	if (srv->o.log)
		daemon_log(DAEMON_LOG_INFO, "http_start", "url=%s threads=%u intake=%s",
		    daemon_logq(srv->url), srv->o.threads, srv->intake ? "on" : "off");
	return srv;
fail:
	server_free(&srv);
	return NULL;
}

int
server_run(struct server *srv)
{
	int sig = 0;

	while (sigwait(&srv->sigs, &sig) != 0)
		;
	if (srv->o.log)
		daemon_log(DAEMON_LOG_INFO, "stopping", "signal=%s", sig == SIGTERM ? "TERM" : "INT");
	server_stop(srv);
	return 0;
}

void
server_stop(struct server *srv)
{
	if (srv->d == NULL)
		return;
	MHD_quiesce_daemon(srv->d);
	for (int i = 0; i < 50; i++) {
		const union MHD_DaemonInfo *ci = MHD_get_daemon_info(srv->d,
		    MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		struct timespec ts = {0, 100 * 1000 * 1000};

		if (ci == NULL || ci->num_connections == 0)
			break;
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(srv->d);
	srv->d = NULL;
	if (srv->o.log)
		daemon_log(DAEMON_LOG_INFO, "http_stopped", "url=%s", daemon_logq(srv->url));
}

void
server_free(struct server **srvp)
{
	struct server *srv = srvp ? *srvp : NULL;

	if (srv == NULL)
		return;
	if (srv->d)
		MHD_stop_daemon(srv->d);
	dashmem_keeper_free(&srv->dashk);
	recmem_keeper_free(&srv->reck);
	api_senders_warm_free(&srv->warm);
	for (size_t i = 0; i < srv->npool; i++)
		store_close(&srv->pool[i]);
	free(srv->pool);
	free(srv->idle);
	if (srv->writer)
		store_close(&srv->writer);
	intake_free(&srv->intake);
	json_decref(srv->intake_cfg);
	pthread_mutex_destroy(&srv->cfg_mu);
	free(srv->assets_real);
	pthread_mutex_destroy(&srv->pool_mu);
	pthread_cond_destroy(&srv->pool_cv);
	pthread_mutex_destroy(&srv->writer_mu);
	pthread_sigmask(SIG_SETMASK, &srv->oldmask, NULL);
	free(srv);
	*srvp = NULL;
}

/*
 * intake.c - the HTTP intake endpoints (see intake.h for the contract):
 * the authenticated upload API, the RFC 8460 TLS-RPT endpoint, /healthz
 * and /metrics.
 *
 * Public: intake_new, intake_reload, intake_free, intake_match,
 * intake_handle, intake_request_free.
 *
 * Per request: a struct intake_req holding up to INTAKE_MAX_PARTS
 * unlinked temporary files (one per uploaded input) and a running SHA-256
 * of the body.  Memory per request is constant; disk use is bounded by the
 * size settings.  The token check: a crypto_pwhash string is verified with
 * crypto_pwhash_str_verify (serialised by a mutex, since each verification
 * takes tens of MB), and the SHA-256 of a token that passed is cached so
 * later requests compare 32 bytes in constant time; "sha256:HEX" hashes are
 * compared in constant time directly.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sodium.h>

#include "ingest/daemon.h"
#include "ingest/ingest.h"
#include "lib/rd.h"
#include "lib/xalloc.h"
#include "web/intake.h"

#define INTAKE_MAX_PARTS 32
#define INTAKE_PP_BUF (64 * 1024)

enum intake_route { ROUTE_UPLOAD, ROUTE_TLSRPT, ROUTE_HEALTH, ROUTE_METRICS };

struct intake {
	pthread_mutex_t lock;         /* settings below */
	pthread_mutex_t verify_lock;  /* one argon2 verification at a time */
	char *token_hash;
	uint8_t token_cache[crypto_hash_sha256_BYTES];
	int token_cached;
	uint64_t max_upload, max_tlsrpt;
	int tlsrpt_on;
	struct limits lim;
	char *db_path;
	struct intake_store_ops ops;
	int has_ops;
};

struct intake_part {
	FILE *fp;
	char *name;
	uint64_t size;
};

struct intake_req {
	enum intake_route route;
	unsigned status;              /* != 0: answer this error */
	const char *error;
	struct MHD_PostProcessor *pp;
	struct intake_part parts[INTAKE_MAX_PARTS];
	size_t n_parts;
	uint64_t total, max;
	crypto_hash_sha256_state sha;
	char peer[INET6_ADDRSTRLEN];
};

/* ---- setup ---- */

static void
intake_apply(struct intake *in, const struct config *cfg)
{
	free(in->token_hash);
	in->token_hash = xstrdup(config_str(cfg, "intake.token_hash"));
	in->token_cached = 0;
	in->max_upload = config_uint(cfg, "intake.max_upload_bytes");
	in->max_tlsrpt = config_uint(cfg, "intake.tlsrpt_max_bytes");
	in->tlsrpt_on = config_bool(cfg, "intake.tlsrpt");
	config_limits(cfg, &in->lim);
}

struct intake *
intake_new(const struct config *cfg, const char *db_path,
    const struct intake_store_ops *ops)
{
	struct intake *in = xcalloc(1, sizeof *in);

	if (sodium_init() < 0)
		daemon_log(DAEMON_LOG_ERROR, "sodium_init_failed", "what=intake");
	pthread_mutex_init(&in->lock, NULL);
	pthread_mutex_init(&in->verify_lock, NULL);
	in->db_path = xstrdup(db_path);
	if (ops != NULL) {
		in->ops = *ops;
		in->has_ops = 1;
	}
	intake_apply(in, cfg);
	return in;
}

void
intake_reload(struct intake *in, const struct config *cfg)
{
	pthread_mutex_lock(&in->lock);
	intake_apply(in, cfg);
	pthread_mutex_unlock(&in->lock);
}

void
intake_free(struct intake **inp)
{
	struct intake *in;

	if (inp == NULL || *inp == NULL)
		return;
	in = *inp;
	free(in->token_hash);
	free(in->db_path);
	sodium_memzero(in->token_cache, sizeof in->token_cache);
	pthread_mutex_destroy(&in->lock);
	pthread_mutex_destroy(&in->verify_lock);
	free(in);
	*inp = NULL;
}

int
intake_match(const char *url)
{
	return strcmp(url, "/api/v1/intake") == 0 || strcmp(url, "/tlsrpt") == 0 ||
	    strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0;
}

void
intake_request_free(void **reqp)
{
	struct intake_req *rq;
	size_t i;

	if (reqp == NULL || *reqp == NULL)
		return;
	rq = *reqp;
	if (rq->pp != NULL)
		MHD_destroy_post_processor(rq->pp);
	for (i = 0; i < rq->n_parts; i++) {
		if (rq->parts[i].fp != NULL)
			fclose(rq->parts[i].fp);
		free(rq->parts[i].name);
	}
	free(rq);
	*reqp = NULL;
}

/* ---- replies ---- */

static enum MHD_Result
intake_reply(struct MHD_Connection *c, unsigned status, const char *ctype,
    const char *body, size_t len, const char *extra_name, const char *extra_value)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	/* machine endpoints: nothing in a reply may load or be framed */
	MHD_add_response_header(r, "Content-Security-Policy",
	    "default-src 'none'; frame-ancestors 'none'");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	if (extra_name != NULL)
		MHD_add_response_header(r, extra_name, extra_value);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
intake_reply_str(struct MHD_Connection *c, unsigned status, const char *json)
{
	return intake_reply(c, status, "application/json", json, strlen(json),
	    NULL, NULL);
}

/* {"status":"error","error":MSG}; MSG is one of our own constant strings. */
static enum MHD_Result
intake_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	char body[512];
	int n = snprintf(body, sizeof body, "{\"status\":\"error\",\"error\":\"%s\"}\n", msg);

	if (status == 401)
		return intake_reply(c, status, "application/json", body, (size_t)n,
		    MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"dmarcstat\"");
	if (status == 503)
		return intake_reply(c, status, "application/json", body, (size_t)n,
		    MHD_HTTP_HEADER_RETRY_AFTER, "60");
	if (status == 405)
		return intake_reply(c, status, "application/json", body, (size_t)n,
		    MHD_HTTP_HEADER_ALLOW, "POST");
	return intake_reply(c, status, "application/json", body, (size_t)n, NULL, NULL);
}

/* ---- request pieces ---- */

static void
intake_peer(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(out, len, "?");
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)
		    ci->client_addr)->sin_addr, out, (socklen_t)len);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)
		    ci->client_addr)->sin6_addr, out, (socklen_t)len);
}

/* 1 when the Authorization header carries the token. */
static int
intake_authorized(struct intake *in, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	uint8_t digest[crypto_hash_sha256_BYTES];
	char *hash;
	const char *tok;
	size_t n;
	int ok = 0;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	tok = h + 7;
	while (*tok == ' ')
		tok++;
	n = strlen(tok);
	if (n == 0 || n > 1024)
		return 0;
	crypto_hash_sha256(digest, (const unsigned char *)tok, n);
	pthread_mutex_lock(&in->lock);
	hash = xstrdup(in->token_hash);
	if (in->token_cached && sodium_memcmp(digest, in->token_cache, sizeof digest) == 0)
		ok = 1;
	pthread_mutex_unlock(&in->lock);
	if (ok)
		goto out;
	if (strncmp(hash, "sha256:", 7) == 0) {
		uint8_t want[crypto_hash_sha256_BYTES];
		size_t bin_len = 0;
		if (sodium_hex2bin(want, sizeof want, hash + 7, strlen(hash + 7), NULL,
		    &bin_len, NULL) == 0 && bin_len == sizeof want)
			ok = sodium_memcmp(digest, want, sizeof want) == 0;
	} else if (hash[0] == '$') {
		pthread_mutex_lock(&in->verify_lock);
		ok = crypto_pwhash_str_verify(hash, tok, n) == 0;
		pthread_mutex_unlock(&in->verify_lock);
		if (ok) {
			pthread_mutex_lock(&in->lock);
			/* only if the settings did not change meanwhile */
			if (strcmp(hash, in->token_hash) == 0) {
				memcpy(in->token_cache, digest, sizeof digest);
				in->token_cached = 1;
			}
			pthread_mutex_unlock(&in->lock);
		}
	}
out:
	free(hash);
	return ok;
}

static int
intake_part_new(struct intake_req *rq, const char *name)
{
	struct intake_part *p;

	if (rq->n_parts == INTAKE_MAX_PARTS) {
		rq->status = 413;
		rq->error = "too many files in one upload";
		return -1;
	}
	p = &rq->parts[rq->n_parts];
	if ((p->fp = tmpfile()) == NULL) {
		rq->status = 503;
		rq->error = "no space for the upload";
		return -1;
	}
	p->name = xstrdup(name);
	p->size = 0;
	rq->n_parts++;
	return 0;
}

static int
intake_write(struct intake_req *rq, const char *data, size_t size)
{
	struct intake_part *p;

	if (size == 0)
		return 0;
	if (rq->total + size > rq->max) {
		rq->status = 413;
		rq->error = "body too large";
		return -1;
	}
	rq->total += size;
	p = &rq->parts[rq->n_parts - 1];
	if (fwrite(data, 1, size, p->fp) != size) {
		rq->status = 503;
		rq->error = "no space for the upload";
		return -1;
	}
	p->size += size;
	crypto_hash_sha256_update(&rq->sha, (const unsigned char *)data, size);
	return 0;
}

/* multipart/form-data: every part with a file name (or named "file") is an input */
static enum MHD_Result
intake_pp_iter(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *filename, const char *content_type,
    const char *transfer_encoding, const char *data, uint64_t off, size_t size)
{
	struct intake_req *rq = cls;

	if (filename == NULL && (key == NULL || strcmp(key, "file") != 0))
		return MHD_YES;   /* other form fields are ignored */
	if (off == 0) {
		char *name = xasprintf("upload %s", filename ? filename : key);
		int r = intake_part_new(rq, name);
		free(name);
		if (r != 0)
			return MHD_NO;
	}
	return intake_write(rq, data, size) == 0 ? MHD_YES : MHD_NO;
}

/* ---- store access ---- */

static struct store *
intake_store_get(struct intake *in, char *err, size_t errlen)
{
	if (in->has_ops)
		return in->ops.get(in->ops.arg, err, errlen);
	return store_open(in->db_path, 0, err, errlen);
}

static void
intake_store_put(struct intake *in, struct store *st)
{
	if (st == NULL)
		return;
	if (in->has_ops)
		in->ops.put(in->ops.arg, st);
	else
		store_close(&st);
}

/* ---- the endpoints' final step ---- */

static enum MHD_Result
intake_finish_upload(struct intake *in, struct MHD_Connection *c,
    struct intake_req *rq)
{
	struct ingest_opts opts;
	struct ingest *ig;
	struct store *st;
	struct limits lim;
	const struct ingest_stats *s;
	char err[256], body[512];
	size_t i;
	int worst = 0, r, n;

	if (rq->n_parts == 0)
		return intake_error(c, 400, "no file in the request");
	pthread_mutex_lock(&in->lock);
	lim = in->lim;
	pthread_mutex_unlock(&in->lock);
	if ((st = intake_store_get(in, err, sizeof err)) == NULL)
		return intake_error(c, 503, "database unavailable");
	memset(&opts, 0, sizeof opts);
	opts.source = "upload";
	opts.keep_raw = 1;
	opts.batch = INTAKE_MAX_PARTS + 1;
	if ((ig = ingest_new(st, &lim, &opts)) == NULL) {
		intake_store_put(in, st);
		return intake_error(c, 503, "cannot start the import");
	}
	for (i = 0; i < rq->n_parts && worst >= 0; i++) {
		struct intake_part *p = &rq->parts[i];
		struct rd *rd;
		char *name = xasprintf("%s from %s", p->name, rq->peer);

		if (fflush(p->fp) != 0 || lseek(fileno(p->fp), 0, SEEK_SET) != 0) {
			free(name);
			worst = -1;
			break;
		}
		rd = rd_fd_new(fileno(p->fp));
		r = ingest_rd(ig, name, rd);
		rd_close(&rd);
		free(name);
		if (r < 0 || r > worst)
			worst = r;
	}
	r = ingest_flush(ig);
	if (r < 0 && worst >= 0)
		worst = r;
	s = ingest_stats(ig);
	daemon_metrics_ingest("upload", NULL, s);
	n = snprintf(body, sizeof body,
	    "{\"status\":\"%s\",\"inputs\":%llu,\"imported\":%llu,\"duplicates\":%llu,"
	    "\"rejected\":%llu,\"not_report\":%llu,\"unsupported\":%llu}\n",
	    worst < 0 ? "error" : worst == 0 ? "ok" :
	    s->imported + s->duplicates + s->unsupported > 0 ? "partial" : "rejected",
	    (unsigned long long)s->inputs, (unsigned long long)s->imported,
	    (unsigned long long)s->duplicates, (unsigned long long)s->rejected,
	    (unsigned long long)s->not_report, (unsigned long long)s->unsupported);
	daemon_log(worst < 0 ? DAEMON_LOG_WARN : DAEMON_LOG_INFO, "upload",
	    "peer=%s inputs=%llu imported=%llu duplicates=%llu result=%d",
	    daemon_logq(rq->peer), (unsigned long long)s->inputs,
	    (unsigned long long)s->imported, (unsigned long long)s->duplicates, worst);
	r = ingest_free(&ig);
	if (r < 0 && worst >= 0)
		worst = r;
	intake_store_put(in, st);
	if (worst < 0)
		return intake_error(c, 503, worst == STORE_BUSY ? "database busy, retry later" :
		    "temporary failure, retry later");
	if (worst > 0 && strstr(body, "\"rejected\",") != NULL)
		return intake_reply(c, 422, "application/json", body, (size_t)n, NULL, NULL);
	return intake_reply(c, 200, "application/json", body, (size_t)n, NULL, NULL);
}

static enum MHD_Result
intake_finish_tlsrpt(struct intake *in, struct MHD_Connection *c,
    struct intake_req *rq)
{
	struct intake_part *p = &rq->parts[0];
	uint8_t sha[crypto_hash_sha256_BYTES];
	unsigned char head[2] = { 0, 0 };
	const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	int gz = ctype != NULL && strncasecmp(ctype, "application/tlsrpt+gzip", 23) == 0;
	struct ledger_entry e;
	struct store *st;
	int64_t raw_id = 0;
	char err[256], *name;
	int r, ch;

	crypto_hash_sha256_final(&rq->sha, sha);
	if (p->size == 0)
		return intake_error(c, 400, "empty report");
	/* a light check of the format; the TLS report parser does the rest */
	if (fflush(p->fp) != 0 || fseek(p->fp, 0, SEEK_SET) != 0)
		return intake_error(c, 503, "temporary failure, retry later");
	if (gz) {
		if (fread(head, 1, 2, p->fp) != 2 || head[0] != 0x1f || head[1] != 0x8b)
			return intake_error(c, 400, "not gzip data");
	} else {
		while ((ch = fgetc(p->fp)) == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			;
		if (ch != '{')
			return intake_error(c, 400, "not a JSON object");
	}
	/* the store reads the descriptor: stdio may only have moved its buffer */
	if (lseek(fileno(p->fp), 0, SEEK_SET) != 0)
		return intake_error(c, 503, "temporary failure, retry later");
	if ((st = intake_store_get(in, err, sizeof err)) == NULL)
		return intake_error(c, 503, "database unavailable");
	name = xasprintf("POST /tlsrpt from %s", rq->peer);
	if ((r = store_begin(st)) != 0)
		goto fail;
	r = store_raw_put_fd(st, sha, fileno(p->fp), p->size, &raw_id);
	if (r == 0) {
		memset(&e, 0, sizeof e);
		e.source = "upload";
		e.input = name;
		e.size = p->size;
		e.sha256 = sha;
		e.status = "unsupported";
		e.reason = "SMTP TLS report stored raw";
		e.kind = "smtp_tls";
		e.raw_id = raw_id;
		r = store_ledger_add(st, &e, NULL);
	}
	if (r == 0)
		r = store_commit(st);
	if (r != 0) {
		store_rollback(st);
		goto fail;
	}
	intake_store_put(in, st);
	daemon_log(DAEMON_LOG_INFO, "tlsrpt", "peer=%s bytes=%llu raw_id=%lld",
	    daemon_logq(rq->peer), (unsigned long long)p->size, (long long)raw_id);
	{
		struct ingest_stats d;
		memset(&d, 0, sizeof d);
		d.inputs = 1;
		d.unsupported = 1;
		d.bytes = p->size;
		daemon_metrics_ingest("tlsrpt", NULL, &d);
	}
	free(name);
	return intake_reply_str(c, 200, "{\"status\":\"ok\",\"stored\":\"raw\"}\n");
fail:
	daemon_log(DAEMON_LOG_WARN, "tlsrpt_failed", "peer=%s error=%s",
	    daemon_logq(rq->peer), daemon_logq(r == STORE_BUSY ? "database busy" :
	    store_errmsg(st)));
	intake_store_put(in, st);
	free(name);
	return intake_error(c, 503, r == STORE_BUSY ? "database busy, retry later" :
	    "could not store the report, retry later");
}

/* ---- the handler ---- */

/* First call: route, method, auth, size and type checks; set up the body. */
static struct intake_req *
intake_begin(struct intake *in, struct MHD_Connection *c, const char *url,
    const char *method)
{
	struct intake_req *rq = xcalloc(1, sizeof *rq);
	const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	int post = strcmp(method, "POST") == 0;
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	intake_peer(c, rq->peer, sizeof rq->peer);
	crypto_hash_sha256_init(&rq->sha);
	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0) {
		rq->route = url[1] == 'h' ? ROUTE_HEALTH : ROUTE_METRICS;
		if (!get) {
			rq->status = 405;
			rq->error = "use GET";
		}
		return rq;
	}
	rq->route = strcmp(url, "/tlsrpt") == 0 ? ROUTE_TLSRPT : ROUTE_UPLOAD;
	if (!post) {
		rq->status = 405;
		rq->error = "use POST";
		return rq;
	}
	pthread_mutex_lock(&in->lock);
	rq->max = rq->route == ROUTE_TLSRPT ? in->max_tlsrpt : in->max_upload;
	if (rq->route == ROUTE_TLSRPT && !in->tlsrpt_on) {
		rq->status = 404;
		rq->error = "TLS report intake is disabled";
	} else if (rq->route == ROUTE_UPLOAD && in->token_hash[0] == '\0') {
		rq->status = 403;
		rq->error = "upload API disabled: set intake.token_hash";
	}
	pthread_mutex_unlock(&in->lock);
	if (rq->status != 0)
		return rq;
	if (rq->route == ROUTE_UPLOAD && !intake_authorized(in, c)) {
		rq->status = 401;
		rq->error = "missing or wrong bearer token";
		daemon_log(DAEMON_LOG_WARN, "upload_unauthorized", "peer=%s",
		    daemon_logq(rq->peer));
		return rq;
	}
	if (clen != NULL && strtoull(clen, NULL, 10) > rq->max) {
		rq->status = 413;
		rq->error = "body too large";
		return rq;
	}
	if (rq->route == ROUTE_TLSRPT) {
		if (ctype == NULL ||
		    (strncasecmp(ctype, "application/tlsrpt+gzip", 23) != 0 &&
		    strncasecmp(ctype, "application/tlsrpt+json", 23) != 0)) {
			rq->status = 415;
			rq->error = "Content-Type must be application/tlsrpt+gzip or application/tlsrpt+json";
			return rq;
		}
		intake_part_new(rq, "tlsrpt");
		return rq;
	}
	if (ctype != NULL && strncasecmp(ctype, "multipart/form-data", 19) == 0) {
		rq->pp = MHD_create_post_processor(c, INTAKE_PP_BUF, intake_pp_iter, rq);
		if (rq->pp == NULL) {
			rq->status = 400;
			rq->error = "cannot read this multipart body";
		}
		return rq;
	}
	{
		const char *label = MHD_lookup_connection_value(c,
		    MHD_GET_ARGUMENT_KIND, "name");
		char *name = xasprintf("upload %.200s", label && *label ? label : "body");
		intake_part_new(rq, name);
		free(name);
	}
	return rq;
}

enum MHD_Result
intake_handle(struct intake *in, struct MHD_Connection *c, const char *url,
    const char *method, const char *upload_data, size_t *upload_data_size,
    void **req)
{
	struct intake_req *rq = *req;

	if (rq == NULL) {
		*req = intake_begin(in, c, url, method);
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (rq->status == 0) {
			if (rq->pp != NULL) {
				if (MHD_post_process(rq->pp, upload_data,
				    *upload_data_size) != MHD_YES && rq->status == 0) {
					rq->status = 400;
					rq->error = "cannot read this multipart body";
				}
			} else if (rq->n_parts > 0)
				intake_write(rq, upload_data, *upload_data_size);
		}
		*upload_data_size = 0;   /* after an error the rest is read and dropped */
		return MHD_YES;
	}
	if (rq->status != 0)
		return intake_error(c, rq->status, rq->error);
	switch (rq->route) {
	case ROUTE_HEALTH:
		if (daemon_draining())
			return intake_reply_str(c, 503, "{\"status\":\"draining\"}\n");
		return intake_reply_str(c, 200, "{\"status\":\"ok\"}\n");
	case ROUTE_METRICS: {
		char *buf = NULL;
		size_t len = 0;
		FILE *fp = open_memstream(&buf, &len);
		enum MHD_Result r;
		if (fp == NULL)
			return MHD_NO;
		daemon_metrics_write(fp);
		fclose(fp);
		r = intake_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8",
		    buf, len, NULL, NULL);
		free(buf);
		return r;
	}
	case ROUTE_TLSRPT:
		return intake_finish_tlsrpt(in, c, rq);
	case ROUTE_UPLOAD:
		return intake_finish_upload(in, c, rq);
	}
	return MHD_NO;
}

/*
 * api.c - routes /api/... GET requests to the dashboard queries
 * (store/query_dash.c) and turns their results or errors into JSON replies.
 *
 * Sender intelligence routes are handed to api_senders.c.
 *
 * Every parameter is checked here before it reaches a query: integers are
 * parsed strictly, strings are bounded, enumerations are whitelisted.  A bad
 * parameter is a 400 with the parameter named, never a silently ignored
 * filter.  Routes and parameters are documented in docs/api.yaml.
 */
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/query_dash.h"
#include "web/api.h"
#include "web/server.h"

#define API_MAX_STR 255

void
api_error(struct api_reply *out, unsigned status, const char *code, const char *msg)
{
	json_t *v = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);

	api_json(out, status, v);
}

void
api_json(struct api_reply *out, unsigned status, json_t *v)
{
	out->status = status;
	out->mime = "application/json";
	out->body = v ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
	json_decref(v);
	if (out->body == NULL) {
		static const char fallback[] =
		    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";

		out->status = 500;
		out->body = strdup(fallback);
		out->len = out->body ? sizeof(fallback) - 1 : 0;
		return;
	}
	out->len = strlen(out->body);
}

/* ---- parameters ---------------------------------------------------------- */

struct api_args {
	struct MHD_Connection *c;
	char bad[128];            /* first bad parameter's message */
};

static const char *
api_str(struct api_args *a, const char *name)
{
	const char *v = MHD_lookup_connection_value(a->c, MHD_GET_ARGUMENT_KIND, name);

	if (v == NULL || v[0] == '\0')
		return NULL;
	if (strlen(v) > API_MAX_STR) {
		if (!a->bad[0])
			snprintf(a->bad, sizeof(a->bad), "%s is too long", name);
		return NULL;
	}
	return v;
}

static int64_t
api_int(struct api_args *a, const char *name, int64_t lo, int64_t hi, int64_t dflt)
{
	const char *v = MHD_lookup_connection_value(a->c, MHD_GET_ARGUMENT_KIND, name);
	char *end;
	long long n;

	if (v == NULL || v[0] == '\0')
		return dflt;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < lo || n > hi) {
		if (!a->bad[0])
			snprintf(a->bad, sizeof(a->bad), "%s must be an integer from %" PRId64
			    " to %" PRId64, name, lo, hi);
		return dflt;
	}
	return n;
}

static int
api_bool(struct api_args *a, const char *name)
{
	const char *v = api_str(a, name);

	if (v == NULL)
		return 0;
	if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
		return 1;
	if (strcmp(v, "0") != 0 && strcmp(v, "false") != 0 && !a->bad[0])
		snprintf(a->bad, sizeof(a->bad), "%s must be 0 or 1", name);
	return 0;
}

/* The common filters: domain since until reporter result source limit
 * offset sort order. */
static void
api_query(struct api_args *a, struct query *q)
{
	const char *order;

	memset(q, 0, sizeof(*q));
	q->domain = api_str(a, "domain");
	q->reporter = api_str(a, "reporter");
	q->source_ip = api_str(a, "source");
	q->result = api_str(a, "result");
	q->since = api_int(a, "since", 0, INT64_C(253402300800), 0);
	q->until = api_int(a, "until", 0, INT64_C(253402300800), 0);
	q->limit = (int)api_int(a, "limit", 1, 1000, 0);
	q->offset = (int)api_int(a, "offset", 0, 10000000, 0);
	q->sort = api_str(a, "sort");
	order = api_str(a, "order");
	q->desc = q->sort == NULL || (order != NULL && strcmp(order, "desc") == 0);
	if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0 && !a->bad[0])
		snprintf(a->bad, sizeof(a->bad), "order must be asc or desc");
}

/* ---- replies -------------------------------------------------------------- */

static void
api_from_query(struct api_reply *out, json_t *v, const struct query_dash_err *err)
{
	if (v != NULL) {
		api_json(out, 200, v);
		return;
	}
	switch (err->status) {
	case QUERY_DASH_BAD:
		api_error(out, 400, "bad_request", err->msg);
		break;
	case QUERY_DASH_NOT_FOUND:
		api_error(out, 404, "not_found", err->msg);
		break;
	case QUERY_DASH_BUSY:
		api_error(out, 503, "busy", "the database is busy; try again");
		break;
	default:
		api_error(out, 500, "internal", err->msg[0] ? err->msg : "query failed");
		break;
	}
}

/* Splits "/api/a/b/c" after "/api/" into at most `max` segments in buf. */
static int
api_segments(const char *url, char *buf, size_t buflen, char **seg, int max)
{
	int n = 0;
	char *p;

	if (strlen(url) >= buflen)
		return -1;
	memcpy(buf, url, strlen(url) + 1);
	p = buf;
	while (*p && n < max) {
		char *s;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		s = strchr(p, '/');
		seg[n++] = p;
		if (s == NULL)
			break;
		*s = '\0';
		p = s + 1;
	}
	if (*p && n == max && strchr(p, '/') != NULL)
		return -1;
	return n;
}

static int
api_parse_id(const char *s, int64_t *id)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0 || s[0] == '+' || s[0] == '-')
		return -1;
	*id = v;
	return 0;
}

static void
api_raw(struct server *srv, struct api_reply *out, int64_t id)
{
	struct store *st = server_store_get(srv);
	struct query_dash_err err = {0};
	void *data = NULL;
	size_t len = 0;

	if (query_dash_raw(st, id, &data, &len, out->filename, sizeof(out->filename), &err) == 0) {
		out->status = 200;
		out->body = data;
		out->len = len;
		out->mime = "application/octet-stream";
	} else {
		out->filename[0] = '\0';
		api_from_query(out, NULL, &err);
	}
	server_store_put(srv, st);
}

void
api_handle(struct server *srv, struct MHD_Connection *c, const char *method,
    const char *url, struct api_reply *out)
{
	struct api_args a = {.c = c};
	struct query q;
	struct query_dash_err err = {0};
	struct store *st;
	char buf[1024];
	char *seg[5];
	int n;
	int64_t id = 0, now = server_now(srv);
	json_t *v = NULL;

	memset(out, 0, sizeof(*out));
	n = api_segments(url, buf, sizeof(buf), seg, 5);
	if (n < 2 || strcmp(seg[0], "api") != 0) {
		api_error(out, 404, "not_found", "no such API endpoint");
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		int rules = strcmp(seg[1], "rules") == 0;

		out->allow = strcmp(seg[1], "upload") == 0 ? "POST" :
		    rules ? (n == 2 ? "GET, HEAD, POST" : "DELETE") : "GET, HEAD";
		api_error(out, 405, "method_not_allowed", strcmp(seg[1], "upload") == 0 ?
		    "use POST with multipart/form-data" : rules ?
		    "use GET, POST /api/rules or DELETE /api/rules/ID" : "use GET");
		return;
	}
	api_query(&a, &q);
	if (a.bad[0]) {
		api_error(out, 400, "bad_request", a.bad);
		return;
	}
	if (n == 2 && strcmp(seg[1], "health") == 0) {
		api_json(out, 200, json_pack("{s:b, s:s}", "ok", 1, "version", DMARCSTAT_VERSION));
		return;
	}
	if (api_senders_get(srv, c, seg, n, &q, out))
		return;
	if (n >= 3 && strcmp(seg[1], "reports") == 0) {
		if (api_parse_id(seg[2], &id) != 0 || n > 4 || (n == 4 && strcmp(seg[3], "raw") != 0)) {
			api_error(out, 404, "not_found", "no such report");
			return;
		}
		if (n == 4) {
			api_raw(srv, out, id);
			return;
		}
	}
	st = server_store_get(srv);
	if (n == 2 && strcmp(seg[1], "meta") == 0)
		v = query_dash_meta(st, now, &err);
	else if (n == 2 && strcmp(seg[1], "overview") == 0)
		v = query_dash_overview(st, &q, now, &err);
	else if (n == 3 && strcmp(seg[1], "domains") == 0) {
		q.domain = seg[2];
		v = query_dash_domain(st, &q, now, &err);
	} else if (n == 2 && strcmp(seg[1], "sources") == 0) {
		int only = api_bool(&a, "only_failures");

		if (a.bad[0]) {
			err.status = QUERY_DASH_BAD;
			snprintf(err.msg, sizeof(err.msg), "%s", a.bad);
		} else
			v = query_dash_sources(st, &q, only, &err);
	} else if (n == 4 && strcmp(seg[1], "sources") == 0 && strcmp(seg[3], "records") == 0) {
		q.source_ip = seg[2];
		v = query_dash_source_records(st, &q, &err);
	} else if (n == 2 && strcmp(seg[1], "reporters") == 0)
		v = query_dash_reporters(st, &q, now, &err);
	else if (n == 2 && strcmp(seg[1], "reports") == 0)
		v = query_dash_reports(st, &q, &err);
	else if (n == 3 && strcmp(seg[1], "reports") == 0)
		v = query_dash_report(st, id, q.limit, q.offset, &err);
	else if (n == 2 && strcmp(seg[1], "ledger") == 0)
		v = query_dash_ledger(st, &q, api_str(&a, "status"), &err);
	else {
		err.status = QUERY_DASH_NOT_FOUND;
		snprintf(err.msg, sizeof(err.msg), "no such API endpoint");
	}
	server_store_put(srv, st);
	api_from_query(out, v, &err);
}

/*
 * api.c - routes /api/... GET requests to the dashboard queries
 * (store/query_dash.c) and turns their results or errors into JSON replies.
 *
 * Sender intelligence routes are handed to api_senders.c.  The intake
 * routes are here: GET /api/ledger (every input from every source, with
 * status, source-group and mailbox filters) and GET /api/mailboxes (the
 * configured mailboxes with their imap_state, and the spool folders).
 *
 * Every parameter is checked here before it reaches a query: integers are
 * parsed strictly, strings are bounded, enumerations are whitelisted.  A bad
 * parameter is a 400 with the parameter named, never a silently ignored
 * filter.  Routes and parameters are documented in docs/api.yaml.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/query_dash.h"
#include "web/api.h"
#include "web/server.h"

#define API_MAX_STR 255
#define API_COUNT_MAX 10000       /* files counted per spool folder */

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

/* The common filters: domain since until reporter result source report_id
 * limit offset sort order. */
static void
api_query(struct api_args *a, struct query *q)
{
	const char *order;

	memset(q, 0, sizeof(*q));
	q->domain = api_str(a, "domain");
	q->reporter = api_str(a, "reporter");
	q->source_ip = api_str(a, "source");
	q->result = api_str(a, "result");
	q->report_id = api_str(a, "report_id");
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

/* ---- intake: ledger by source group, mailboxes, spool folders ---------------- */

/*
 * Ledger sources (store/schema.sql) in the groups the dashboard filters by:
 * mailbox (IMAP), pipe (an MTA piping into `import -`), spool (watched
 * folders and Maildirs), upload (dashboard, intake API, /tlsrpt) and
 * import (the command line: files, mbox, reparse, anything else).
 */
static const struct {
	const char *origin, *sql;
} api_origins[] = {
	{"mailbox", "source='imap'"},
	{"pipe", "source IN ('stdin','pipe')"},
	{"spool", "source IN ('spool','maildir')"},
	{"upload", "source='upload'"},
	{"import", "source NOT IN ('imap','stdin','pipe','spool','maildir','upload')"},
	{NULL, NULL}
};

static const char *const api_statuses[] = {"imported", "duplicate", "rejected",
	"not-a-report", "unsupported", "error", NULL};

static const char *
api_origin_of(const char *source)
{
	if (source == NULL)
		return "import";
	if (strcmp(source, "imap") == 0)
		return "mailbox";
	if (strcmp(source, "stdin") == 0 || strcmp(source, "pipe") == 0)
		return "pipe";
	if (strcmp(source, "spool") == 0 || strcmp(source, "maildir") == 0)
		return "spool";
	if (strcmp(source, "upload") == 0)
		return "upload";
	return "import";
}

/* Text from the database as a JSON string: invalid UTF-8 becomes U+FFFD. */
static json_t *
api_text(const unsigned char *s, int len)
{
	char *buf;
	json_t *v;
	size_t o = 0;
	int i = 0;

	if (s == NULL)
		return json_null();
	if ((v = json_stringn((const char *)s, (size_t)len)) != NULL)
		return v;
	if ((buf = malloc((size_t)len * 3 + 1)) == NULL)
		return json_null();
	while (i < len) {
		unsigned char b = s[i];
		int n = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 :
		    (b & 0xf8) == 0xf0 ? 4 : 0;
		int k;

		for (k = 1; n > 1 && k < n; k++)
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				break;
		if (n == 0 || k < n || b == 0) {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(buf + o, s + i, (size_t)n);
		o += (size_t)n;
		i += n;
	}
	v = json_stringn(buf, o);
	free(buf);
	return v ? v : json_null();
}

static json_t *
api_col(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		return json_null();
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	default:
		return api_text(sqlite3_column_text(st, i), sqlite3_column_bytes(st, i));
	}
}

/* The WHERE clause of a ledger query; `skip` leaves one filter out ("status"
 * or "origin", for the counts of the filter chips).  Values are bound in
 * api_ledger_bind() in the same order. */
struct api_ledger_filter {
	const char *status, *origin, *mailbox;
	int64_t since, until;
};

static void
api_ledger_where(const struct api_ledger_filter *f, const char *skip, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	o += (size_t)snprintf(buf + o, len - o, " WHERE 1=1");
	if (f->status && strcmp(skip, "status") != 0)
		o += (size_t)snprintf(buf + o, len - o, " AND status=?");
	if (f->origin && strcmp(skip, "origin") != 0)
		for (int i = 0; api_origins[i].origin; i++)
			if (strcmp(f->origin, api_origins[i].origin) == 0)
				o += (size_t)snprintf(buf + o, len - o, " AND %s", api_origins[i].sql);
	if (f->mailbox)
		o += (size_t)snprintf(buf + o, len - o,
		    " AND source='imap' AND substr(input,1,length(?))=?");
	if (f->since)
		o += (size_t)snprintf(buf + o, len - o, " AND ts>=?");
	if (f->until && o < len)
		snprintf(buf + o, len - o, " AND ts<?");
}

static int
api_ledger_bind(sqlite3_stmt *st, const struct api_ledger_filter *f, const char *skip)
{
	int n = 1;

	if (f->status && strcmp(skip, "status") != 0)
		sqlite3_bind_text(st, n++, f->status, -1, SQLITE_STATIC);
	if (f->mailbox) {
		/* IMAP ledger inputs are "NAME/FOLDER;UIDVALIDITY=..;UID=..":
		 * substr(input, 1, length("NAME/")) = "NAME/" */
		sqlite3_bind_text(st, n++, sqlite3_mprintf("%s/", f->mailbox), -1, sqlite3_free);
		sqlite3_bind_text(st, n++, sqlite3_mprintf("%s/", f->mailbox), -1, sqlite3_free);
	}
	if (f->since)
		sqlite3_bind_int64(st, n++, f->since);
	if (f->until)
		sqlite3_bind_int64(st, n++, f->until);
	return n;
}

/* SELECT key, count(*) ... GROUP BY key into {key: n}. */
static int
api_ledger_counts(sqlite3 *db, const struct api_ledger_filter *f, const char *skip,
    const char *key, json_t *into, json_int_t *total, struct query_dash_err *err)
{
	char where[512], sql[768];
	sqlite3_stmt *st = NULL;
	int rc;

	api_ledger_where(f, skip, where, sizeof(where));
	snprintf(sql, sizeof(sql), "SELECT %s, count(*) FROM ledger%s GROUP BY 1", key, where);
	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		goto fail;
	api_ledger_bind(st, f, skip);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		json_int_t n = sqlite3_column_int64(st, 1);
		json_t *old;

		if (strcmp(key, "source") == 0)
			k = api_origin_of(k);
		if (k == NULL || (old = json_object_get(into, k)) == NULL)
			continue;          /* a status the dashboard does not know */
		json_integer_set(old, json_integer_value(old) + n);
		if (total)
			*total += n;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return 0;
fail:
	err->status = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? QUERY_DASH_BUSY : QUERY_DASH_FAIL;
	snprintf(err->msg, sizeof(err->msg), "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return -1;
}

/*
 * GET /api/ledger: {"entries": [...], "counts": {status: n} (within the
 * origin/mailbox filter), "origins": {group: n} (within the status filter),
 * "total", "limit", "offset"}.  Each entry also has "origin".
 */
static json_t *
api_ledger(struct store *store, const struct query *q, const struct api_ledger_filter *f,
    struct query_dash_err *err)
{
	sqlite3 *db = store_sqlite_handle(store);
	json_t *entries = NULL, *counts = json_object(), *origins = json_object();
	json_int_t total = 0;
	sqlite3_stmt *st = NULL;
	char where[512], sql[1024];
	int limit = q->limit > 0 ? q->limit : 100, offset = q->offset > 0 ? q->offset : 0;
	int rc, n;

	for (int i = 0; api_statuses[i]; i++)
		json_object_set_new(counts, api_statuses[i], json_integer(0));
	for (int i = 0; api_origins[i].origin; i++)
		json_object_set_new(origins, api_origins[i].origin, json_integer(0));
	if (db == NULL) {
		err->status = QUERY_DASH_FAIL;
		snprintf(err->msg, sizeof(err->msg), "the ledger needs the SQLite backend");
		goto fail;
	}
	api_ledger_where(f, "", where, sizeof(where));
	snprintf(sql, sizeof(sql), "SELECT id, ts, source, input, member, size, status, reason, "
	    "kind, report FROM ledger%s ORDER BY id DESC LIMIT ? OFFSET ?", where);
	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		goto dbfail;
	n = api_ledger_bind(st, f, "");
	sqlite3_bind_int(st, n, limit);
	sqlite3_bind_int(st, n + 1, offset);
	entries = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		static const char *const cols[] = {"id", "ts", "source", "input", "member", "size",
			"status", "reason", "kind", "report"};
		json_t *e = json_object();

		for (int i = 0; i < 10; i++)
			json_object_set_new(e, cols[i], api_col(st, i));
		json_object_set_new(e, "origin",
		    json_string(api_origin_of((const char *)sqlite3_column_text(st, 2))));
		json_array_append_new(entries, e);
	}
	if (rc != SQLITE_DONE)
		goto dbfail;
	sqlite3_finalize(st);
	st = NULL;
	if (api_ledger_counts(db, f, "status", "status", counts, NULL, err) != 0 ||
	    api_ledger_counts(db, f, "origin", "source", origins, NULL, err) != 0)
		goto fail;
	/* total: the rows the filters match = the count of the chosen status */
	if (f->status)
		total = json_integer_value(json_object_get(counts, f->status));
	else {
		const char *k;
		json_t *v;

		json_object_foreach(counts, k, v)
			total += json_integer_value(v);
	}
	return json_pack("{s:o, s:o, s:o, s:I, s:i, s:i}", "entries", entries, "counts", counts,
	    "origins", origins, "total", total, "limit", limit, "offset", offset);
dbfail:
	err->status = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? QUERY_DASH_BUSY : QUERY_DASH_FAIL;
	snprintf(err->msg, sizeof(err->msg), "%s", sqlite3_errmsg(db));
fail:
	sqlite3_finalize(st);
	json_decref(entries);
	json_decref(counts);
	json_decref(origins);
	return NULL;
}

/* Regular, non-dot files in `dir`, counted up to API_COUNT_MAX; -1 when
 * the folder cannot be read. */
static int
api_count_files(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (dh == NULL)
		return -1;
	while ((de = readdir(dh)) != NULL && n < API_COUNT_MAX) {
		struct stat sb;
		char path[4096];

		if (de->d_name[0] == '.')
			continue;
		if (de->d_type == DT_REG) {
			n++;
			continue;
		}
		if (de->d_type != DT_UNKNOWN)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < sizeof(path) &&
		    lstat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			n++;
	}
	closedir(dh);
	return n;
}

static int
api_is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* A mailbox's state from its imap_state row and the clock. */
static const char *
api_mailbox_state(json_t *mb, int64_t now)
{
	json_t *poll = json_object_get(mb, "last_poll"), *ok = json_object_get(mb, "last_success");
	json_int_t ival = json_integer_value(json_object_get(mb, "poll_interval"));

	if (!json_is_true(json_object_get(mb, "configured")))
		return "removed";
	if (!json_is_true(json_object_get(mb, "enabled")))
		return "disabled";
	if (!json_is_integer(poll))
		return "never";
	if (!json_is_null(json_object_get(mb, "last_error")) &&
	    (!json_is_integer(ok) || json_integer_value(ok) < json_integer_value(poll)))
		return "error";
	if (ival > 0 && now - json_integer_value(poll) > 3 * ival + 60)
		return "late";
	return "ok";
}

/*
 * GET /api/mailboxes: {"intake": bool, "now", "mailboxes": [{"name",
 * "url", "folder", "enabled", "after", "poll_interval", "configured",
 * "last_poll", "last_success", "last_error", "fetched", "last_uid",
 * "uidvalidity", "state": ok|error|late|never|disabled|removed}],
 * "spool": [{"path", "kind": spool|maildir, "state": ok|missing,
 * "pending", "failed" (files, at most API_COUNT_MAX; null when unreadable),
 * "last_import" (ledger time of its newest file, or null)}]}.
 * Mailboxes in imap_state but no longer configured are listed as
 * "removed".  Times are the real clock (polls happen in real time).
 */
static json_t *
api_mailboxes(struct server *srv, struct store *store, struct query_dash_err *err)
{
	sqlite3 *db = store_sqlite_handle(store);
	json_t *cfg = server_intake_config(srv), *mbs, *spool, *mb, *sp;
	sqlite3_stmt *st = NULL;
	int64_t now = (int64_t)time(NULL);
	size_t i;
	int rc;

	if (cfg == NULL || db == NULL) {
		json_decref(cfg);
		err->status = QUERY_DASH_FAIL;
		snprintf(err->msg, sizeof(err->msg), "intake status unavailable");
		return NULL;
	}
	mbs = json_object_get(cfg, "mailboxes");
	spool = json_object_get(cfg, "spool");
	json_array_foreach(mbs, i, mb) {
		json_object_set_new(mb, "configured", json_true());
		json_object_set_new(mb, "last_poll", json_null());
		json_object_set_new(mb, "last_success", json_null());
		json_object_set_new(mb, "last_error", json_null());
		json_object_set_new(mb, "fetched", json_integer(0));
		json_object_set_new(mb, "last_uid", json_null());
		json_object_set_new(mb, "uidvalidity", json_null());
	}
	/* no imap_state table yet (no poll ever): every mailbox "never" */
	if (sqlite3_prepare_v2(db, "SELECT mailbox, folder, uidvalidity, last_uid, last_poll, "
	    "last_success, last_error, fetched FROM imap_state ORDER BY mailbox", -1, &st,
	    NULL) != SQLITE_OK)
		rc = sqlite3_errcode(db);
	else
		rc = SQLITE_ROW;
	while (st != NULL && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		json_t *row = NULL;

		json_array_foreach(mbs, i, mb)
			if (name && strcmp(json_string_value(json_object_get(mb, "name")), name) == 0)
				row = mb;
		if (row == NULL) {
			row = json_pack("{s:o, s:o, s:b, s:b, s:n, s:n, s:n}", "name", api_col(st, 0),
			    "folder", api_col(st, 1), "configured", 0, "enabled", 0, "url",
			    "after", "poll_interval");
			if (row == NULL)
				continue;
			json_array_append_new(mbs, row);
		}
		json_object_set_new(row, "uidvalidity", api_col(st, 2));
		json_object_set_new(row, "last_uid", api_col(st, 3));
		json_object_set_new(row, "last_poll", api_col(st, 4));
		json_object_set_new(row, "last_success", api_col(st, 5));
		json_object_set_new(row, "last_error", api_col(st, 6));
		json_object_set_new(row, "fetched", api_col(st, 7));
	}
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
		sqlite3_finalize(st);
		json_decref(cfg);
		err->status = QUERY_DASH_BUSY;
		snprintf(err->msg, sizeof(err->msg), "database busy");
		return NULL;
	}
	sqlite3_finalize(st);
	st = NULL;
	json_array_foreach(mbs, i, mb)
		json_object_set_new(mb, "state", json_string(api_mailbox_state(mb, now)));

	rc = sqlite3_prepare_v2(db, "SELECT ts FROM ledger WHERE source IN ('spool','maildir') "
	    "AND substr(input,1,length(?1))=?1 ORDER BY id DESC LIMIT 1", -1, &st, NULL);
	json_array_foreach(spool, i, sp) {
		const char *path = json_string_value(json_object_get(sp, "path"));
		char *newdir = sqlite3_mprintf("%s/new", path), *curdir = sqlite3_mprintf("%s/cur", path);
		int maildir = api_is_dir(newdir) && api_is_dir(curdir);
		const char *scanned = maildir ? newdir : path;
		int pending = api_count_files(scanned);
		int failed = api_count_files(json_string_value(json_object_get(sp, "failed_dir")));
		json_t *last = json_null();

		if (st != NULL) {
			char *pfx = sqlite3_mprintf("%s/", scanned);

			sqlite3_reset(st);
			sqlite3_bind_text(st, 1, pfx, -1, sqlite3_free);
			if (sqlite3_step(st) == SQLITE_ROW) {
				json_decref(last);
				last = json_integer(sqlite3_column_int64(st, 0));
			}
		}
		json_object_set_new(sp, "kind", json_string(maildir ? "maildir" : "spool"));
		json_object_set_new(sp, "state", json_string(api_is_dir(path) ? "ok" : "missing"));
		json_object_set_new(sp, "pending", pending < 0 ? json_null() : json_integer(pending));
		json_object_set_new(sp, "failed", failed < 0 ? json_null() : json_integer(failed));
		json_object_set_new(sp, "last_import", last);
		sqlite3_free(newdir);
		sqlite3_free(curdir);
	}
	sqlite3_finalize(st);
	json_object_set_new(cfg, "now", json_integer(now));
	return cfg;
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
		api_json(out, 200, json_pack("{s:b, s:s, s:o, s:o}", "ok", 1, "version",
		    DMARCSTAT_VERSION, "dashmem", server_dashmem_status(srv),
		    "recmem", server_recmem_status(srv)));
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
	else if (n == 2 && strcmp(seg[1], "overview") == 0) {
		struct dashmem *dm = server_dashmem_get(srv, st);

		v = query_dash_overview_mem(st, dm, &q, now, &err);
		server_dashmem_put(srv, dm);
	}
	else if (n == 3 && strcmp(seg[1], "domains") == 0) {
		q.domain = seg[2];
		v = query_dash_domain(st, &q, now, &err);
	} else if (n == 2 && strcmp(seg[1], "sources") == 0) {
		int only = api_bool(&a, "only_failures");

		if (a.bad[0]) {
			err.status = QUERY_DASH_BAD;
			snprintf(err.msg, sizeof(err.msg), "%s", a.bad);
		} else {
			struct dashmem *dm = server_dashmem_get(srv, st);

			v = query_dash_sources_mem(st, dm, &q, only, &err);
			server_dashmem_put(srv, dm);
		}
	} else if (n == 4 && strcmp(seg[1], "sources") == 0 && strcmp(seg[3], "records") == 0) {
		q.source_ip = seg[2];
		v = query_dash_source_records(st, &q, &err);
	} else if (n == 2 && strcmp(seg[1], "reporters") == 0)
		v = query_dash_reporters(st, &q, now, &err);
	else if (n == 2 && strcmp(seg[1], "reports") == 0)
		v = query_dash_reports(st, &q, &err);
	else if (n == 3 && strcmp(seg[1], "reports") == 0)
		v = query_dash_report(st, id, q.limit, q.offset, &err);
	else if (n == 2 && strcmp(seg[1], "ledger") == 0) {
		struct api_ledger_filter f = {api_str(&a, "status"), api_str(&a, "origin"),
			api_str(&a, "mailbox"), q.since, q.until};
		int ok_status = f.status == NULL, ok_origin = f.origin == NULL;

		for (int k = 0; f.status && api_statuses[k]; k++)
			ok_status |= strcmp(f.status, api_statuses[k]) == 0;
		for (int k = 0; f.origin && api_origins[k].origin; k++)
			ok_origin |= strcmp(f.origin, api_origins[k].origin) == 0;
		err.status = QUERY_DASH_BAD;
		if (a.bad[0])
			snprintf(err.msg, sizeof(err.msg), "%s", a.bad);
		else if (!ok_status)
			snprintf(err.msg, sizeof(err.msg), "unknown status");
		else if (!ok_origin)
			snprintf(err.msg, sizeof(err.msg),
			    "origin must be mailbox, pipe, spool, upload or import");
		else {
			err.status = 0;
			v = api_ledger(st, &q, &f, &err);
		}
	} else if (n == 2 && strcmp(seg[1], "mailboxes") == 0)
		v = api_mailboxes(srv, st, &err);
	else {
		err.status = QUERY_DASH_NOT_FOUND;
		snprintf(err.msg, sizeof(err.msg), "no such API endpoint");
	}
	server_store_put(srv, st);
	api_from_query(out, v, &err);
}

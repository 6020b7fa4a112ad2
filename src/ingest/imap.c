/*
 * imap.c - one polling pass over one IMAP mailbox with libcurl (see imap.h
 * for the protocol sequence and the never-lose-a-report argument).
 *
 * Public: imap_state_init, imap_poll.
 *
 * One curl easy handle per pass, so every command reuses one connection.
 * Untagged responses of custom commands arrive in the write callback; the
 * SEARCH result is parsed as it streams (memory O(batch), not O(mailbox)),
 * other responses go to a buffer capped at IMAP_RESP_MAX.  Message bodies
 * go to a buffer of at most IMAP_MEM_MAX bytes, then spill to an unlinked
 * temporary file, and are cut at limits.max_input_bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "ingest/daemon.h"
#include "ingest/imap.h"
#include "lib/xalloc.h"

#define IMAP_RESP_MAX (4u * 1024 * 1024)
#define IMAP_MEM_MAX (1u * 1024 * 1024)
#define IMAP_PASSWORD_MAX 1024
/*
 * UIDs per FETCH-size / MOVE / STORE command.  Each of these answers with
 * one untagged line per message, and libcurl 7.88 (Debian 12) counts
 * untagged lines against its 300 KB response-header cap in a way that
 * fails after a few dozen lines in one response, so commands stay small.
 */
#define IMAP_CMD_CHUNK 10
/*
 * UIDs per SEARCH.  libcurl passes long untagged lines on cut (a SEARCH of
 * 10,000 UIDs arrives with a hole in the middle), so a SEARCH covers a
 * range of at most this many UIDs and its answer stays a few KB long.
 * ESEARCH (RETURN (MIN)) finds the next UID so gaps cost one round trip.
 */
#define IMAP_SEARCH_WINDOW 500

enum imap_sink_mode { SINK_TEXT, SINK_SEARCH, SINK_BODY };

struct imap_sink {
	enum imap_sink_mode mode;
	/* SINK_TEXT and SINK_BODY (in memory) */
	char *buf;
	size_t len, cap;
	/* SINK_BODY */
	FILE *spill;
	uint64_t total, limit;
	int too_big;
	/* SINK_SEARCH: the `want` smallest UIDs > min_uid, ascending */
	uint32_t *uids;
	size_t n_uids, want;
	uint32_t min_uid;
	char prefix[16];
	size_t prefix_len;
	int in_search, in_num;
	uint64_t num;
};

struct imap_conn {
	CURL *curl;
	char *user, *password, *ca_file;
	long timeout;
	int starttls, verbose;
	char *base;              /* scheme://host[:port] */
	char *folder_url;        /* escaped folder */
	char errbuf[CURL_ERROR_SIZE];
	struct imap_sink sink;
};

static pthread_once_t imap_once = PTHREAD_ONCE_INIT;

static void
imap_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
imap_seterr(struct imap_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->err, sizeof res->err, fmt, ap);
	va_end(ap);
}

/* ---- state table ---- */

int
imap_state_init(struct store *st, char *err, size_t errlen)
{
	sqlite3 *db = store_sqlite_handle(st);
	char *msg = NULL;
	int rc;

	if (db == NULL) {
		snprintf(err, errlen, "imap state needs the SQLite backend");
		return -1;
	}
	rc = sqlite3_exec(db,
	    "CREATE TABLE IF NOT EXISTS imap_state ("
	    " mailbox TEXT PRIMARY KEY,"      /* [mailbox NAME] */
	    " folder TEXT NOT NULL,"
	    " uidvalidity INTEGER,"
	    " last_uid INTEGER NOT NULL DEFAULT 0," /* all UIDs <= this are handled */
	    " last_poll INTEGER,"
	    " last_success INTEGER,"
	    " last_error TEXT,"
	    " fetched INTEGER NOT NULL DEFAULT 0)", NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "imap_state: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? STORE_BUSY : -1;
	}
	return 0;
}

struct imap_state {
	int64_t uidvalidity;
	uint32_t last_uid;
	int found;
};

static int
imap_state_get(struct store *st, const char *mailbox, const char *folder,
    struct imap_state *s)
{
	sqlite3 *db = store_sqlite_handle(st);
	sqlite3_stmt *q = NULL;
	int rc;

	memset(s, 0, sizeof *s);
	if (sqlite3_prepare_v2(db, "SELECT uidvalidity, last_uid, folder FROM "
	    "imap_state WHERE mailbox = ?", -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, mailbox, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const unsigned char *f = sqlite3_column_text(q, 2);
		/* another folder: its UIDs mean nothing here */
		if (f != NULL && strcmp((const char *)f, folder) == 0) {
			s->found = 1;
			s->uidvalidity = sqlite3_column_int64(q, 0);
			s->last_uid = (uint32_t)sqlite3_column_int64(q, 1);
		}
		rc = SQLITE_DONE;
	}
	sqlite3_finalize(q);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return STORE_BUSY;
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Writes the state row.  `last_uid` < 0 leaves it; `error` NULL marks a
 * successful poll, else records the error.
 */
static int
imap_state_put(struct store *st, const char *mailbox, const char *folder,
    int64_t uidvalidity, int64_t last_uid, uint64_t fetched, const char *error)
{
	sqlite3 *db = store_sqlite_handle(st);
	sqlite3_stmt *q = NULL;
	int64_t now = (int64_t)time(NULL);
	int rc;

	rc = sqlite3_prepare_v2(db,
	    "INSERT INTO imap_state (mailbox, folder, uidvalidity, last_uid,"
	    " last_poll, last_success, last_error, fetched)"
	    " VALUES (?1, ?2, ?3, max(?4, 0), ?5, CASE WHEN ?6 IS NULL THEN ?5 END, ?6, ?7)"
	    " ON CONFLICT(mailbox) DO UPDATE SET folder = ?2,"
	    " uidvalidity = coalesce(?3, uidvalidity),"
	    " last_uid = CASE WHEN ?4 >= 0 THEN ?4 ELSE last_uid END,"
	    " last_poll = ?5,"
	    " last_success = CASE WHEN ?6 IS NULL THEN ?5 ELSE last_success END,"
	    " last_error = ?6, fetched = fetched + ?7", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? STORE_BUSY : -1;
	sqlite3_bind_text(q, 1, mailbox, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, folder, -1, SQLITE_STATIC);
	if (uidvalidity > 0)
		sqlite3_bind_int64(q, 3, uidvalidity);
	else
		sqlite3_bind_null(q, 3);
	sqlite3_bind_int64(q, 4, last_uid);
	sqlite3_bind_int64(q, 5, now);
	if (error != NULL)
		sqlite3_bind_text(q, 6, error, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 6);
	sqlite3_bind_int64(q, 7, (int64_t)fetched);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return STORE_BUSY;
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- write callback ---- */

static int
imap_sink_append(struct imap_sink *s, const char *p, size_t n, size_t max)
{
	if (s->len + n > max)
		return -1;
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n + 1)
			cap *= 2;
		s->buf = xrealloc(s->buf, cap);
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return 0;
}

/* Keeps the `want` smallest UIDs above min_uid, sorted. */
static void
imap_search_add(struct imap_sink *s, uint64_t v)
{
	size_t i;

	if (v <= s->min_uid || v > UINT32_MAX)
		return;
	if (s->n_uids == s->want && v >= s->uids[s->n_uids - 1])
		return;
	i = s->n_uids == s->want ? s->n_uids - 1 : s->n_uids++;
	while (i > 0 && s->uids[i - 1] > v) {
		s->uids[i] = s->uids[i - 1];
		i--;
	}
	if (i > 0 && s->uids[i - 1] == v) {
		/* duplicate: undo the shift */
		memmove(&s->uids[i], &s->uids[i + 1],
		    (s->n_uids - i - 1) * sizeof s->uids[0]);
		s->n_uids--;
		return;
	}
	s->uids[i] = (uint32_t)v;
}

/* "* SEARCH 1 2 3\r\n" possibly split anywhere; other untagged lines skipped. */
static void
imap_search_feed(struct imap_sink *s, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c == '\n') {
			if (s->in_search && s->in_num)
				imap_search_add(s, s->num);
			s->prefix_len = 0;
			s->in_search = s->in_num = 0;
			continue;
		}
		if (!s->in_search) {
			if (s->prefix_len < sizeof s->prefix - 1) {
				s->prefix[s->prefix_len++] = c;
				s->prefix[s->prefix_len] = '\0';
				if (strcasecmp(s->prefix, "* SEARCH") == 0)
					s->in_search = 1;
			}
			continue;
		}
		if (isdigit((unsigned char)c)) {
			if (!s->in_num) {
				s->in_num = 1;
				s->num = 0;
			}
			if (s->num < UINT32_MAX + 1ULL)
				s->num = s->num * 10 + (uint64_t)(c - '0');
		} else if (s->in_num) {
			imap_search_add(s, s->num);
			s->in_num = 0;
		}
	}
}

static size_t
imap_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct imap_sink *s = arg;
	size_t n = size * nmemb;

	switch (s->mode) {
	case SINK_TEXT:
		if (imap_sink_append(s, p, n, IMAP_RESP_MAX) != 0)
			return 0;
		return n;
	case SINK_SEARCH:
		imap_search_feed(s, p, n);
		return n;
	case SINK_BODY:
		if (s->limit && s->total + n > s->limit) {
			s->too_big = 1;
			return 0;
		}
		s->total += n;
		if (s->spill == NULL && s->len + n > IMAP_MEM_MAX) {
			if ((s->spill = tmpfile()) == NULL)
				return 0;
			if (s->len > 0 && fwrite(s->buf, 1, s->len, s->spill) != s->len)
				return 0;
			s->len = 0;
		}
		if (s->spill != NULL)
			return fwrite(p, 1, n, s->spill) == n ? n : 0;
		if (imap_sink_append(s, p, n, IMAP_MEM_MAX) != 0)
			return 0;
		return n;
	}
	return 0;
}

static void
imap_sink_reset(struct imap_sink *s, enum imap_sink_mode mode)
{
	s->mode = mode;
	s->len = 0;
	if (s->buf != NULL)
		s->buf[0] = '\0';
	if (s->spill != NULL) {
		fclose(s->spill);
		s->spill = NULL;
	}
	s->total = 0;
	s->too_big = 0;
	s->n_uids = 0;
	s->prefix_len = 0;
	s->in_search = s->in_num = 0;
}

/* ---- connection ---- */

/* Reads the password from the file's first line or the environment. */
static char *
imap_password(const struct config *cfg, const struct config_mailbox *mb,
    struct imap_result *res)
{
	const char *file = config_mb_str(cfg, mb, "password_file");
	const char *env = config_mb_str(cfg, mb, "password_env");
	char buf[IMAP_PASSWORD_MAX + 2];
	FILE *fp;

	if (*env != '\0') {
		const char *v = getenv(env);
		if (v == NULL || *v == '\0') {
			imap_seterr(res, "password_env %s is not set", env);
			return NULL;
		}
		return xstrdup(v);
	}
	if ((fp = fopen(file, "r")) == NULL) {
		imap_seterr(res, "password_file %s: %s", file, strerror(errno));
		return NULL;
	}
	if (fgets(buf, sizeof buf, fp) == NULL) {
		fclose(fp);
		imap_seterr(res, "password_file %s: empty", file);
		return NULL;
	}
	fclose(fp);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		imap_seterr(res, "password_file %s: empty first line", file);
		return NULL;
	}
	return xstrdup(buf);
}

/* "imaps://host:993/whatever" -> "imaps://host:993" */
static char *
imap_base_url(const char *url)
{
	const char *host = strstr(url, "://");
	size_t n;

	host = host ? host + 3 : url;
	n = strcspn(host, "/?#");
	return xstrndup(url, (size_t)(host - url) + n);
}

static void
imap_conn_close(struct imap_conn *c)
{
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	curl_free(c->folder_url);
	free(c->base);
	free(c->user);
	free(c->ca_file);
	if (c->password != NULL) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	imap_sink_reset(&c->sink, SINK_TEXT);
	free(c->sink.buf);
	free(c->sink.uids);
	memset(c, 0, sizeof *c);
}

/*
 * Options of every request.  Set again before each one after
 * curl_easy_reset(): libcurl counts untagged responses as "headers" and
 * sums them over the life of the handle (capped at 300 KB), so a long pass
 * must reset the handle; the reset keeps the live connection.
 */
static void
imap_conn_setopts(struct imap_conn *c)
{
	curl_easy_setopt(c->curl, CURLOPT_USERNAME, c->user);
	curl_easy_setopt(c->curl, CURLOPT_PASSWORD, c->password);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "imap,imaps");
	if (c->starttls)
		curl_easy_setopt(c->curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file != NULL)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, c->timeout);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, c->timeout);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, imap_write_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->sink);
	if (c->verbose)
		curl_easy_setopt(c->curl, CURLOPT_VERBOSE, 1L);
}

static int
imap_conn_open(struct imap_conn *c, const struct config *cfg,
    const struct config_mailbox *mb, struct imap_result *res)
{
	const char *url = config_mb_str(cfg, mb, "url");
	const char *ca = config_mb_str(cfg, mb, "ca_file");

	pthread_once(&imap_once, imap_global_init);
	memset(c, 0, sizeof *c);
	if ((c->password = imap_password(cfg, mb, res)) == NULL)
		return -1;
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		imap_seterr(res, "curl_easy_init failed");
		return -1;
	}
	c->user = xstrdup(config_mb_str(cfg, mb, "user"));
	c->ca_file = *ca != '\0' ? xstrdup(ca) : NULL;
	c->timeout = (long)config_mb_uint(cfg, mb, "timeout");
	c->starttls = strncmp(url, "imap://", 7) == 0 &&
	    config_mb_bool(cfg, mb, "starttls");
	c->verbose = getenv("DMARCSTAT_IMAP_VERBOSE") != NULL &&
	    *getenv("DMARCSTAT_IMAP_VERBOSE") != '\0';
	c->base = imap_base_url(url);
	c->folder_url = curl_easy_escape(c->curl, config_mb_str(cfg, mb, "folder"), 0);
	return 0;
}

/* Runs one request; 0 or -1 with the curl error in res->err. */
static int
imap_do(struct imap_conn *c, const char *url, const char *command,
    enum imap_sink_mode mode, struct imap_result *res)
{
	CURLcode rc;

	imap_sink_reset(&c->sink, mode);
	curl_easy_reset(c->curl);
	imap_conn_setopts(c);
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, command);
	rc = curl_easy_perform(c->curl);
	if (rc == CURLE_OK)
		return 0;
	imap_seterr(res, "%s%s%s", curl_easy_strerror(rc),
	    c->errbuf[0] ? ": " : "", c->errbuf);
	return -1;
}

/* IMAP quoted string (folder names are validated: no " \ or controls). */
static char *
imap_quote(const char *s)
{
	return xasprintf("\"%s\"", s);
}

/* "1:3,5,7:9" from sorted UIDs; caller frees. */
static char *
imap_uid_set(const uint32_t *uids, size_t n)
{
	size_t i = 0, cap = n * 12 + 1, len = 0;
	char *out = xmalloc(cap);

	out[0] = '\0';
	while (i < n) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (j > i)
			len += (size_t)snprintf(out + len, cap - len, "%s%u:%u",
			    len ? "," : "", uids[i], uids[j]);
		else
			len += (size_t)snprintf(out + len, cap - len, "%s%u",
			    len ? "," : "", uids[i]);
		i = j + 1;
	}
	return out;
}

/*
 * The number after `key` ("UIDVALIDITY ", "UIDNEXT ", "MIN ") in a STATUS
 * or ESEARCH response; -1 when absent.
 */
static int64_t
imap_parse_num(const char *text, const char *key)
{
	const char *p = text;
	size_t klen = strlen(key);

	while ((p = strstr(p, key)) != NULL) {
		char *end;
		unsigned long long v;
		p += klen;
		v = strtoull(p, &end, 10);
		if (end != p && v > 0 && v <= UINT32_MAX)
			return (int64_t)v;
	}
	return -1;
}

static int
imap_has_capability(const char *text, const char *cap)
{
	const char *p = text;
	size_t n = strlen(cap);

	while ((p = strcasestr(p, cap)) != NULL) {
		if ((p == text || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\r' || p[n] == '\n' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/*
 * Sizes from "* 3 FETCH (UID 7 RFC822.SIZE 1234)" lines (either order);
 * fills sizes[] parallel to uids[] (0 = unknown).
 */
static void
imap_parse_sizes(const char *text, const uint32_t *uids, size_t n,
    uint64_t *sizes)
{
	const char *line = text;

	memset(sizes, 0, n * sizeof *sizes);
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char tmp[256];
		const char *u, *s;

		if (len < sizeof tmp) {
			memcpy(tmp, line, len);
			tmp[len] = '\0';
			u = strstr(tmp, "UID ");
			s = strstr(tmp, "RFC822.SIZE ");
			if (u != NULL && s != NULL) {
				unsigned long long uid = strtoull(u + 4, NULL, 10);
				unsigned long long sz = strtoull(s + 12, NULL, 10);
				size_t lo = 0, hi = n;
				while (lo < hi) {   /* uids[] is sorted */
					size_t mid = (lo + hi) / 2;
					if (uids[mid] < uid)
						lo = mid + 1;
					else
						hi = mid;
				}
				if (lo < n && uids[lo] == uid)
					sizes[lo] = sz;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
}

static void
imap_stats_add(struct ingest_stats *a, const struct ingest_stats *b)
{
	a->inputs += b->inputs;
	a->imported += b->imported;
	a->duplicates += b->duplicates;
	a->rejected += b->rejected;
	a->not_report += b->not_report;
	a->unsupported += b->unsupported;
	a->errors += b->errors;
	a->records += b->records;
	a->messages += b->messages;
	a->bytes += b->bytes;
}

static void
imap_stats_delta(struct ingest_stats *d, const struct ingest_stats *now,
    const struct ingest_stats *before)
{
	d->inputs = now->inputs - before->inputs;
	d->imported = now->imported - before->imported;
	d->duplicates = now->duplicates - before->duplicates;
	d->rejected = now->rejected - before->rejected;
	d->not_report = now->not_report - before->not_report;
	d->unsupported = now->unsupported - before->unsupported;
	d->errors = now->errors - before->errors;
	d->records = now->records - before->records;
	d->messages = now->messages - before->messages;
	d->bytes = now->bytes - before->bytes;
}

/* Moves (or flags) a set of UIDs; 0 or -1. */
static int
imap_dispose(struct imap_conn *c, const char *folder_url_uv, int use_move,
    const uint32_t *uids, size_t n, const char *target, const char *keyword,
    struct imap_result *res)
{
	char *set, *cmd, *q = imap_quote(target);
	size_t i;
	int r = 0;

	for (i = 0; i < n && r == 0; i += IMAP_CMD_CHUNK) {
		set = imap_uid_set(uids + i, n - i < IMAP_CMD_CHUNK ? n - i :
		    IMAP_CMD_CHUNK);
		if (use_move)
			cmd = xasprintf("UID MOVE %s %s", set, q);
		else
			cmd = xasprintf("UID STORE %s +FLAGS.SILENT (\\Seen %s)", set,
			    keyword);
		r = imap_do(c, folder_url_uv, cmd, SINK_TEXT, res);
		free(cmd);
		free(set);
	}
	free(q);
	return r;
}

/* Ledger row for a message we did not download. */
static int
imap_ledger_reject(struct store *st, const char *name, uint64_t size,
    const char *reason)
{
	struct ledger_entry e;

	memset(&e, 0, sizeof e);
	e.source = "imap";
	e.input = name;
	e.size = size;
	e.status = "rejected";
	e.reason = reason;
	return store_ledger_add(st, &e, NULL);
}

int
imap_poll(const struct config *cfg, const struct config_mailbox *mb,
    struct store *st, const struct limits *lim, FILE *errors,
    const volatile int *stop, struct imap_result *res)
{
	const char *mbname = config_mailbox_name(mb);
	const char *folder = config_mb_str(cfg, mb, "folder");
	const char *processed = config_mb_str(cfg, mb, "processed_folder");
	const char *invalid = config_mb_str(cfg, mb, "invalid_folder");
	size_t batch = (size_t)config_mb_uint(cfg, mb, "batch");
	int want_move = strcmp(config_mb_str(cfg, mb, "after"), "move") == 0;
	struct imap_conn c;
	struct imap_state state;
	struct ingest *ig = NULL;
	struct ingest_opts opts;
	char *url = NULL, *url_uv = NULL, *cmd = NULL, *q = NULL;
	uint32_t *ok_uids = NULL, *bad_uids = NULL;
	uint64_t *sizes = NULL;
	int64_t uidvalidity, uidnext;
	uint32_t from, window = batch < IMAP_SEARCH_WINDOW ? (uint32_t)batch :
	    IMAP_SEARCH_WINDOW;
	int use_move = 0, use_esearch, ret = -1, any_invalid = 0, r;
	char why[256];

	memset(res, 0, sizeof *res);
	memset(&opts, 0, sizeof opts);
	if (imap_conn_open(&c, cfg, mb, res) != 0) {
		imap_state_put(st, mbname, folder, 0, -1, 0, res->err);
		return -1;
	}
	c.sink.want = batch;
	c.sink.uids = xcalloc(batch, sizeof *c.sink.uids);
	ok_uids = xcalloc(batch, sizeof *ok_uids);
	bad_uids = xcalloc(batch, sizeof *bad_uids);
	sizes = xcalloc(batch, sizeof *sizes);

	/* STATUS: the UIDVALIDITY of the folder */
	url = xasprintf("%s/", c.base);
	q = imap_quote(folder);
	cmd = xasprintf("STATUS %s (UIDVALIDITY UIDNEXT MESSAGES)", q);
	if (imap_do(&c, url, cmd, SINK_TEXT, res) != 0)
		goto out;
	if ((uidvalidity = imap_parse_num(c.sink.buf ? c.sink.buf : "",
	    "UIDVALIDITY ")) < 0 ||
	    (uidnext = imap_parse_num(c.sink.buf ? c.sink.buf : "", "UIDNEXT ")) < 0) {
		imap_seterr(res, "no UIDVALIDITY/UIDNEXT in the STATUS response for %s",
		    folder);
		goto out;
	}
	r = imap_state_get(st, mbname, folder, &state);
	if (r != 0) {
		imap_seterr(res, "imap_state: %s", r == STORE_BUSY ?
		    "database busy" : "read failed");
		ret = r == STORE_BUSY ? STORE_BUSY : -1;
		goto out;
	}
	if (state.found && state.uidvalidity != uidvalidity) {
		daemon_log(DAEMON_LOG_WARN, "imap_uidvalidity_changed",
		    "mailbox=%s folder=%s old=%lld new=%lld", daemon_logq(mbname),
		    daemon_logq(folder), (long long)state.uidvalidity,
		    (long long)uidvalidity);
		state.last_uid = 0;
	}
	if (!state.found || state.uidvalidity != uidvalidity)
		imap_state_put(st, mbname, folder, uidvalidity, 0, 0, NULL);

	/* CAPABILITY: MOVE?  ESEARCH? */
	if (imap_do(&c, url, "CAPABILITY", SINK_TEXT, res) != 0)
		goto out;
	use_esearch = imap_has_capability(c.sink.buf ? c.sink.buf : "", "ESEARCH");
	if (want_move) {
		use_move = imap_has_capability(c.sink.buf ? c.sink.buf : "", "MOVE");
		if (!use_move)
			daemon_log(DAEMON_LOG_WARN, "imap_no_move",
			    "mailbox=%s action=flag", daemon_logq(mbname));
	}
	if (use_move) {
		const char *targets[2] = { processed, invalid };
		for (int i = 0; i < 2; i++) {
			char *qt = imap_quote(targets[i]), *cc = xasprintf("CREATE %s", qt);
			char keep[sizeof res->err];
			/* fails when it exists: fine */
			memcpy(keep, res->err, sizeof keep);
			imap_do(&c, url, cc, SINK_TEXT, res);
			memcpy(res->err, keep, sizeof keep);
			free(cc);
			free(qt);
		}
	}
	free(url);
	url = NULL;
	/* Every later command checks the UIDVALIDITY on SELECT (curl fails
	 * the request when it changed). */
	url_uv = xasprintf("%s/%s;UIDVALIDITY=%lld", c.base, c.folder_url,
	    (long long)uidvalidity);

	opts.source = "imap";
	opts.keep_raw = 1;
	opts.batch = (unsigned)batch + 1;   /* we flush per IMAP batch */
	opts.errors = errors;
	if ((ig = ingest_new(st, lim, &opts)) == NULL) {
		imap_seterr(res, "cannot start the import");
		goto out;
	}

	for (;;) {
		size_t n, i, n_ok = 0, n_bad = 0;
		uint32_t *uids;
		char *set;
		int temp = 0;

		uint32_t end;

		if (stop != NULL && *stop)
			break;
		from = state.last_uid + 1;
		if (from == 0 || (int64_t)from >= uidnext)
			break;
		if (use_esearch) {
			/* jump over gaps in the UID space */
			int64_t min;
			free(cmd);
			cmd = xasprintf("UID SEARCH RETURN (MIN) UID %u:* NOT KEYWORD "
			    "$DmarcstatDone NOT KEYWORD $DmarcstatInvalid", from);
			if (imap_do(&c, url_uv, cmd, SINK_TEXT, res) != 0)
				goto out;
			min = imap_parse_num(c.sink.buf ? c.sink.buf : "", "MIN ");
			if (min < 0 || min < from)
				break;
			from = (uint32_t)min;
		}
		end = from + window - 1 < from ? UINT32_MAX : from + window - 1;
		free(cmd);
		c.sink.min_uid = from - 1;
		cmd = xasprintf("UID SEARCH UID %u:%u NOT KEYWORD $DmarcstatDone "
		    "NOT KEYWORD $DmarcstatInvalid", from, end);
		if (imap_do(&c, url_uv, cmd, SINK_SEARCH, res) != 0)
			goto out;
		n = c.sink.n_uids;
		if (n == 0) {
			/* nothing new in this window: skip it for good */
			state.last_uid = end;
			continue;
		}
		uids = xmalloc(n * sizeof *uids);
		memcpy(uids, c.sink.uids, n * sizeof *uids);

		/*
		 * \Seen for the whole batch in one command: fetching BODY[]
		 * sets it per message otherwise, and a flag change per message
		 * costs the server a write (Maildir: a rename) - 5x slower.
		 */
		set = imap_uid_set(uids, n);
		free(cmd);
		cmd = xasprintf("UID STORE %s +FLAGS.SILENT (\\Seen)", set);
		free(set);
		if (imap_do(&c, url_uv, cmd, SINK_TEXT, res) != 0) {
			free(uids);
			goto out;
		}
		/* sizes first: never download what the limits reject */
		for (i = 0; i < n; i += IMAP_CMD_CHUNK) {
			size_t k = n - i < IMAP_CMD_CHUNK ? n - i : IMAP_CMD_CHUNK;
			set = imap_uid_set(uids + i, k);
			free(cmd);
			cmd = xasprintf("UID FETCH %s (UID RFC822.SIZE)", set);
			free(set);
			if (imap_do(&c, url_uv, cmd, SINK_TEXT, res) != 0) {
				free(uids);
				goto out;
			}
			imap_parse_sizes(c.sink.buf ? c.sink.buf : "", uids + i, k,
			    sizes + i);
		}

		for (i = 0; i < n; i++) {
			char *name = xasprintf("%s/%s;UIDVALIDITY=%lld;UID=%u", mbname,
			    folder, (long long)uidvalidity, uids[i]);
			char *murl;
			struct ingest_stats before = *ingest_stats(ig), d;

			if (stop != NULL && *stop && i > 0) {
				free(name);
				n = i;   /* finish what we have */
				break;
			}
			if (lim->max_input_bytes && sizes[i] > lim->max_input_bytes) {
				snprintf(why, sizeof why,
				    "message too large: %llu bytes > limits.max_input_bytes (%llu)",
				    (unsigned long long)sizes[i],
				    (unsigned long long)lim->max_input_bytes);
				r = imap_ledger_reject(st, name, sizes[i], why);
				if (errors != NULL)
					fprintf(errors, "%s: %s\n", name, why);
				free(name);
				if (r != 0) {
					imap_seterr(res, "ledger: %s", store_errmsg(st));
					temp = 1;
					break;
				}
				res->fetched++;
				res->stats.rejected++;
				bad_uids[n_bad++] = uids[i];
				continue;
			}
			murl = xasprintf("%s/;UID=%u", url_uv, uids[i]);
			c.sink.limit = lim->max_input_bytes;
			r = imap_do(&c, murl, NULL, SINK_BODY, res);
			free(murl);
			if (r != 0 && c.sink.too_big) {
				snprintf(why, sizeof why,
				    "message too large: more than limits.max_input_bytes (%llu)",
				    (unsigned long long)lim->max_input_bytes);
				r = imap_ledger_reject(st, name, c.sink.total, why);
				free(name);
				if (r != 0) {
					temp = 1;
					break;
				}
				res->fetched++;
				res->stats.rejected++;
				bad_uids[n_bad++] = uids[i];
				continue;
			}
			if (r != 0) {
				free(name);
				temp = 1;
				break;
			}
			res->fetched++;
			if (c.sink.spill != NULL) {
				int fd = fileno(c.sink.spill);
				struct rd *rd;
				if (fflush(c.sink.spill) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
					imap_seterr(res, "temporary file: %s", strerror(errno));
					free(name);
					temp = 1;
					break;
				}
				rd = rd_fd_new(fd);
				r = ingest_rd(ig, name, rd);
				rd_close(&rd);
			} else {
				r = ingest_buffer(ig, name, c.sink.buf ? c.sink.buf : "",
				    c.sink.len);
			}
			free(name);
			imap_stats_delta(&d, ingest_stats(ig), &before);
			if (r < 0) {
				imap_seterr(res, "import: %s", r == STORE_BUSY ?
				    "database busy" : "temporary failure");
				ret = r;
				temp = 1;
				break;
			}
			if (d.imported + d.duplicates + d.unsupported > 0)
				ok_uids[n_ok++] = uids[i];
			else
				bad_uids[n_bad++] = uids[i];
		}
		/*
		 * Commit before any move.  After a temporary failure nothing of
		 * this batch is moved: what was committed is found again next
		 * time as duplicates.
		 */
		r = ingest_flush(ig);
		if (r != 0 && !temp) {
			imap_seterr(res, "commit: %s", r == STORE_BUSY ?
			    "database busy" : store_errmsg(st));
			ret = r == STORE_BUSY ? STORE_BUSY : -1;
			temp = 1;
		}
		if (temp) {
			res->left += n;
			free(uids);
			if (ret == 0 || ret == 1)
				ret = -1;
			goto out_err;
		}
		if (imap_dispose(&c, url_uv, use_move, ok_uids, n_ok, processed,
		    "$DmarcstatDone", res) != 0 ||
		    imap_dispose(&c, url_uv, use_move, bad_uids, n_bad, invalid,
		    "$DmarcstatInvalid", res) != 0) {
			res->left += n;
			free(uids);
			goto out;
		}
		res->processed += n_ok;
		res->invalid += n_bad;
		any_invalid |= n_bad > 0;
		state.last_uid = uids[n - 1];
		free(uids);
		r = imap_state_put(st, mbname, folder, uidvalidity, state.last_uid,
		    n, NULL);
		if (r != 0) {
			/* the messages are moved: a stale last_uid only costs a search */
			daemon_log(DAEMON_LOG_WARN, "imap_state_write_failed",
			    "mailbox=%s", daemon_logq(mbname));
		}
		daemon_log(DAEMON_LOG_INFO, "imap_batch",
		    "mailbox=%s messages=%zu processed=%zu invalid=%zu last_uid=%u",
		    daemon_logq(mbname), n, n_ok, n_bad, state.last_uid);
		if (n == window)
			continue;
		/* the window held fewer: everything up to its end is handled */
		if (!(stop != NULL && *stop))
			state.last_uid = end;
	}
	if (state.last_uid >= (uint32_t)uidnext)
		state.last_uid = (uint32_t)uidnext - 1;
	ret = any_invalid ? 1 : 0;
	imap_state_put(st, mbname, folder, 0, state.last_uid, 0, NULL);
	goto done;
out:
	if (ret == 0 || ret == 1)
		ret = -1;
out_err:
	if (res->err[0] == '\0')
		imap_seterr(res, "temporary failure");
	imap_state_put(st, mbname, folder, 0, -1, 0, res->err);
done:
	if (ig != NULL) {
		imap_stats_add(&res->stats, ingest_stats(ig));
		if (ingest_free(&ig) != 0 && ret >= 0) {
			ret = -1;
			imap_seterr(res, "commit at the end failed");
		}
	}
	free(url);
	free(url_uv);
	free(cmd);
	free(q);
	free(ok_uids);
	free(bad_uids);
	free(sizes);
	imap_conn_close(&c);
	return ret;
}

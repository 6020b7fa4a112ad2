/*
 * test_intake.c - web/intake.c behind a real libmicrohttpd daemon on a
 * loopback port, driven by libcurl: upload auth (argon2 and sha256 hashes),
 * raw and multipart bodies, size limit, TLS-RPT storage and ledger row,
 * /healthz, /metrics.  Wired the way intake.h tells server.c to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "lib/config.h"
#include "lib/xalloc.h"
#include "web/intake.h"

#define TOKEN "correct-horse-battery-staple-42"

struct fixture {
	struct intake *in;
	struct MHD_Daemon *mhd;
	struct config *cfg;
	char db[64];
	char base[64];
	char *src;
};

static struct fixture fx;

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size,
    void **con_cls)
{
	(void)cls;
	(void)version;
	if (!intake_match(url))
		return MHD_NO;
	return intake_handle(fx.in, c, url, method, upload_data, upload_data_size,
	    con_cls);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	intake_request_free(con_cls);
}

struct resp {
	long status;
	char body[8192];
	size_t len;
};

static size_t
resp_write(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n, room = sizeof r->body - 1 - r->len;

	if (len < room)
		room = len;
	memcpy(r->body + r->len, p, room);
	r->len += room;
	r->body[r->len] = '\0';
	return size * n;
}

/* One request.  body/file: raw body, or a multipart file part when form. */
static void
request(const char *method, const char *path, const char *ctype,
    const char *auth, const void *body, size_t len, const char *form_file,
    struct resp *r)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	curl_mime *mime = NULL;
	char *url = xasprintf("%s%s", fx.base, path), *tmp;

	memset(r, 0, sizeof *r);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, resp_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (ctype != NULL) {
		tmp = xasprintf("Content-Type: %s", ctype);
		hdr = curl_slist_append(hdr, tmp);
		free(tmp);
	}
	if (auth != NULL) {
		tmp = xasprintf("Authorization: Bearer %s", auth);
		hdr = curl_slist_append(hdr, tmp);
		free(tmp);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	if (form_file != NULL) {
		curl_mimepart *part;
		mime = curl_mime_init(h);
		part = curl_mime_addpart(mime);
		curl_mime_name(part, "file");
		curl_mime_filedata(part, form_file);
		part = curl_mime_addpart(mime);
		curl_mime_name(part, "comment");
		curl_mime_data(part, "ignored", CURL_ZERO_TERMINATED);
		curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
	} else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_mime_free(mime);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(url);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (fp == NULL)
		fail_msg("cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static long long
db_count(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	long long n = -1;

	assert_int_equal(sqlite3_open(fx.db, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW)
			n = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
	return n;
}

static int
setup(void **state)
{
	char err[512], hash[crypto_pwhash_STRBYTES], *set;
	const union MHD_DaemonInfo *di;
	const char *src = getenv("DMARCSTAT_SRC");

	(void)state;
	assert_true(sodium_init() >= 0);
	fx.src = xstrdup(src ? src : ".");
	snprintf(fx.db, sizeof fx.db, "/tmp/test_intake.%d.db", (int)getpid());
	unlink(fx.db);
	assert_int_equal(crypto_pwhash_str(hash, TOKEN, strlen(TOKEN),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE), 0);
	fx.cfg = config_new();
	set = xasprintf("intake.token_hash=%s", hash);
	assert_int_equal(config_set(fx.cfg, set, err, sizeof err), 0);
	free(set);
	assert_int_equal(config_set(fx.cfg, "intake.max_upload_bytes=100k", err,
	    sizeof err), 0);
	fx.in = intake_new(fx.cfg, fx.db, NULL);
	fx.mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handler, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_END);
	assert_non_null(fx.mhd);
	di = MHD_get_daemon_info(fx.mhd, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(fx.base, sizeof fx.base, "http://127.0.0.1:%u", (unsigned)di->port);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	MHD_stop_daemon(fx.mhd);
	intake_free(&fx.in);
	config_free(&fx.cfg);
	unlink(fx.db);
	free(fx.src);
	return 0;
}

static void
test_health_metrics(void **state)
{
	struct resp r;

	(void)state;
	request("GET", "/healthz", NULL, NULL, NULL, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"ok\""));
	request("POST", "/healthz", NULL, NULL, "x", 1, NULL, &r);
	assert_int_equal(r.status, 405);
	request("GET", "/metrics", NULL, NULL, NULL, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "# TYPE dmarcstat_up gauge"));
}

static void
test_upload_auth(void **state)
{
	struct resp r;

	(void)state;
	request("POST", "/api/v1/intake", "application/xml", NULL, "<x/>", 4, NULL, &r);
	assert_int_equal(r.status, 401);
	request("POST", "/api/v1/intake", "application/xml", "wrong-token-wrong-token",
	    "<x/>", 4, NULL, &r);
	assert_int_equal(r.status, 401);
	request("GET", "/api/v1/intake", NULL, TOKEN, NULL, 0, NULL, &r);
	assert_int_equal(r.status, 405);
}

static void
test_upload_raw_and_multipart(void **state)
{
	struct resp r;
	char *path = xasprintf("%s/tests/fixtures/intake/report-google.eml", fx.src);
	char *path2 = xasprintf("%s/tests/fixtures/intake/report-yahoo.eml", fx.src);
	char *junk = xasprintf("%s/tests/fixtures/intake/not-a-report.eml", fx.src);
	size_t len;
	char *body = slurp(path, &len), *big;

	(void)state;
	request("POST", "/api/v1/intake?name=script", "message/rfc822", TOKEN, body,
	    len, NULL, &r);
	if (r.status != 200)
		fail_msg("raw upload: %ld %s", r.status, r.body);
	assert_non_null(strstr(r.body, "\"imported\":1"));
	assert_int_equal(db_count("SELECT count(*) FROM reports"), 1);
	/* again: a duplicate, still 200 (cached token path) */
	request("POST", "/api/v1/intake", "message/rfc822", TOKEN, body, len, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"duplicates\":1"));
	/* multipart */
	request("POST", "/api/v1/intake", NULL, TOKEN, NULL, 0, path2, &r);
	if (r.status != 200)
		fail_msg("multipart upload: %ld %s", r.status, r.body);
	assert_int_equal(db_count("SELECT count(*) FROM reports"), 2);
	assert_int_equal(db_count("SELECT count(*) FROM ledger WHERE source='upload' "
	    "AND input LIKE 'upload report-yahoo.eml from %'"), 1);
	/* nothing usable */
	request("POST", "/api/v1/intake", NULL, TOKEN, NULL, 0, junk, &r);
	assert_int_equal(r.status, 422);
	/* too large (limit 100k) */
	big = xcalloc(1, 200 * 1024);
	request("POST", "/api/v1/intake", "application/octet-stream", TOKEN, big,
	    200 * 1024, NULL, &r);
	assert_int_equal(r.status, 413);
	free(big);
	free(body);
	free(path);
	free(path2);
	free(junk);
}

static void
test_sha256_token(void **state)
{
	struct resp r;
	uint8_t d[32];
	char hex[65], *set, err[256];
	struct config *cfg = config_new();

	(void)state;
	crypto_hash_sha256(d, (const unsigned char *)"another-token-0123456789", 24);
	sodium_bin2hex(hex, sizeof hex, d, sizeof d);
	set = xasprintf("intake.token_hash=sha256:%s", hex);
	assert_int_equal(config_set(cfg, set, err, sizeof err), 0);
	intake_reload(fx.in, cfg);
	request("POST", "/api/v1/intake", "application/xml", TOKEN, "<x/>", 4, NULL, &r);
	assert_int_equal(r.status, 401);   /* the old token no longer works */
	request("POST", "/api/v1/intake", "application/xml", "another-token-0123456789",
	    "<x/>", 4, NULL, &r);
	assert_int_equal(r.status, 422);   /* authorised; not a report */
	/* disabled */
	assert_int_equal(config_set(cfg, "intake.token_hash=", err, sizeof err), 0);
	intake_reload(fx.in, cfg);
	request("POST", "/api/v1/intake", "application/xml", "another-token-0123456789",
	    "<x/>", 4, NULL, &r);
	assert_int_equal(r.status, 403);
	intake_reload(fx.in, fx.cfg);
	config_free(&cfg);
	free(set);
}

static void
test_tlsrpt(void **state)
{
	static const char json[] =
	    "{\"organization-name\":\"Example\",\"date-range\":{\"start-datetime\":"
	    "\"2026-12-01T00:00:00Z\",\"end-datetime\":\"2026-12-01T23:59:59Z\"},"
	    "\"contact-info\":\"tlsrpt@example.net\",\"report-id\":\"r1\",\"policies\":[]}";
	static const unsigned char gz[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0,
	    0, 0, 0, 0, 0, 0, 0, 0 };
	struct resp r;

	(void)state;
	request("POST", "/tlsrpt", "application/tlsrpt+json", NULL, json,
	    sizeof json - 1, NULL, &r);
	if (r.status != 200)
		fail_msg("tlsrpt json: %ld %s", r.status, r.body);
	request("POST", "/tlsrpt", "application/tlsrpt+gzip", NULL, gz, sizeof gz,
	    NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(db_count("SELECT count(*) FROM ledger WHERE kind='smtp_tls' "
	    "AND status='unsupported' AND reason='SMTP TLS report stored raw' "
	    "AND raw_id IS NOT NULL"), 2);
	request("POST", "/tlsrpt", "application/json", NULL, json, sizeof json - 1,
	    NULL, &r);
	assert_int_equal(r.status, 415);
	request("POST", "/tlsrpt", "application/tlsrpt+gzip", NULL, json,
	    sizeof json - 1, NULL, &r);
	assert_int_equal(r.status, 400);
	request("POST", "/tlsrpt", "application/tlsrpt+json", NULL, "[1]", 3, NULL, &r);
	assert_int_equal(r.status, 400);
	request("GET", "/metrics", NULL, NULL, NULL, 0, NULL, &r);
	assert_non_null(strstr(r.body,
	    "dmarcstat_inputs_unsupported_total{source=\"tlsrpt\",mailbox=\"\"} 2"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_metrics),
		cmocka_unit_test(test_upload_auth),
		cmocka_unit_test(test_upload_raw_and_multipart),
		cmocka_unit_test(test_sha256_token),
		cmocka_unit_test(test_tlsrpt),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

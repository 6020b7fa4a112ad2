/*
 * upload.c - POST /api/upload: report files dropped in the browser go
 * through the same import path as `dmarcstat import` (ingest_buffer), with
 * ledger source "upload", and the reply lists the ledger rows each file
 * produced (imported / duplicate / rejected ... and why).
 *
 * The multipart body is parsed by MHD's post processor as it arrives; file
 * parts are kept in memory up to the server's upload limit (64 MiB by
 * default, whole body) and at most UPLOAD_MAX_FILES files.  Import happens
 * once the body is complete, on the server's single writing connection.
 * Names are the browser's file names, reduced to their last path component
 * and cleaned of control characters; they label ledger rows only.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "parse/limits.h"
#include "store/query_dash.h"
#include "web/api.h"
#include "web/server.h"

#define UPLOAD_MAX_FILES 200
#define UPLOAD_NAME_MAX 200

struct upload_file {
	char name[UPLOAD_NAME_MAX + 16];
	unsigned char *data;
	size_t len, cap;
};

struct upload {
	struct MHD_PostProcessor *pp;
	size_t max, total;
	struct upload_file *files;
	size_t nfiles;
	int cur;                  /* index of the part being received, -1 none */
	unsigned status;          /* non-zero: failed with this HTTP status */
	const char *why;
};

/* Last path component, control characters replaced, bounded. */
static void
upload_clean_name(const char *in, char *out, size_t outlen)
{
	const char *base = in;
	size_t o = 0;

	for (const char *p = in; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	for (const unsigned char *p = (const unsigned char *)base; *p && o + 1 < outlen &&
	    o < UPLOAD_NAME_MAX; p++)
		out[o++] = *p < 0x20 || *p == 0x7f ? '_' : (char)*p;
	out[o] = '\0';
	if (o == 0)
		snprintf(out, outlen, "upload");
}

static int
upload_name_taken(const struct upload *u, const char *name)
{
	for (size_t i = 0; i < u->nfiles; i++)
		if (strcmp(u->files[i].name, name) == 0)
			return 1;
	return 0;
}

static int
upload_fail(struct upload *u, unsigned status, const char *why)
{
	if (!u->status) {
		u->status = status;
		u->why = why;
	}
	return -1;
}

static int
upload_start_file(struct upload *u, const char *filename)
{
	struct upload_file *f, *nf;
	char clean[UPLOAD_NAME_MAX + 1];

	if (u->nfiles >= UPLOAD_MAX_FILES)
		return upload_fail(u, 413, "too many files in one upload (at most 200)");
	nf = realloc(u->files, (u->nfiles + 1) * sizeof(*nf));
	if (nf == NULL)
		return upload_fail(u, 500, "out of memory");
	u->files = nf;
	f = &u->files[u->nfiles];
	memset(f, 0, sizeof(*f));
	upload_clean_name(filename, clean, sizeof(clean));
	{
		json_t *probe = json_string(clean);    /* NULL when not UTF-8 */

		if (probe == NULL)
			for (char *p = clean; *p; p++)
				if ((unsigned char)*p >= 0x80)
					*p = '_';
		json_decref(probe);
	}
	/* Ledger rows are matched to files by name: keep names unique. */
	snprintf(f->name, sizeof(f->name), "%s", clean);
	for (int k = 2; upload_name_taken(u, f->name) && k < 1000; k++)
		snprintf(f->name, sizeof(f->name), "%s (%d)", clean, k);
	u->cur = (int)u->nfiles++;
	return 0;
}

static enum MHD_Result
upload_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
    const char *content_type, const char *transfer_encoding, const char *data,
    uint64_t off, size_t size)
{
	struct upload *u = cls;
	struct upload_file *f;

	if (filename == NULL)      /* plain form fields are ignored */
		return MHD_YES;
	if (off == 0 && upload_start_file(u, filename) != 0)
		return MHD_NO;
	if (u->cur < 0)
		return MHD_YES;
	f = &u->files[u->cur];
	if (size == 0)
		return MHD_YES;
	if (u->total + size > u->max) {
		upload_fail(u, 413, "upload too large");
		return MHD_NO;
	}
	if (f->len + size > f->cap) {
		size_t cap = f->cap ? f->cap : 64 * 1024;
		unsigned char *nd;

		while (cap < f->len + size)
			cap *= 2;
		if ((nd = realloc(f->data, cap)) == NULL) {
			upload_fail(u, 500, "out of memory");
			return MHD_NO;
		}
		f->data = nd;
		f->cap = cap;
	}
	memcpy(f->data + f->len, data, size);
	f->len += size;
	u->total += size;
	return MHD_YES;
}

struct upload *
upload_new(struct MHD_Connection *c, size_t max)
{
	struct upload *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->max = max;
	u->cur = -1;
	u->pp = MHD_create_post_processor(c, 64 * 1024, upload_iter, u);
	if (u->pp == NULL) {
		free(u);
		return NULL;
	}
	return u;
}

int
upload_feed(struct upload *u, const char *data, size_t len)
{
	if (u->status)
		return -1;
	if (MHD_post_process(u->pp, data, len) != MHD_YES)
		return upload_fail(u, 400, "malformed multipart body");
	return u->status ? -1 : 0;
}

const char *
upload_error(const struct upload *u, unsigned *status_out)
{
	*status_out = u->status ? u->status : 400;
	return u->why ? u->why : "bad upload";
}

/* The ledger rows of one file (input == its name). */
static json_t *
upload_rows_for(json_t *rows, const char *name)
{
	json_t *out = json_array(), *r;
	size_t i;

	json_array_foreach(rows, i, r) {
		const char *in = json_string_value(json_object_get(r, "input"));

		if (in && strcmp(in, name) == 0)
			json_array_append(out, r);
	}
	return out;
}

/* One word for a file: imported when anything in it was, else the first
 * status seen (duplicate, rejected, not-a-report...). */
static const char *
upload_summary(json_t *entries)
{
	json_t *r;
	size_t i;
	const char *first = NULL;

	json_array_foreach(entries, i, r) {
		const char *s = json_string_value(json_object_get(r, "status"));

		if (s && strcmp(s, "imported") == 0)
			return "imported";
		if (first == NULL)
			first = s;
	}
	return first ? first : "error";
}

void
upload_finish(struct upload *u, struct server *srv, struct api_reply *out)
{
	struct query_dash_err qe = {0};
	struct limits lim;
	struct ingest_opts io;
	struct ingest *ig = NULL;
	struct store *st;
	char err[256] = "";
	int64_t before;
	int busy = 0;
	json_t *rows = NULL, *files, *stats;
	const struct ingest_stats *s;

	memset(out, 0, sizeof(*out));
	if (u == NULL || u->status) {
		unsigned status = 400;
		const char *why = u ? upload_error(u, &status) : "bad upload";

		api_error(out, status, status == 413 ? "too_large" : "bad_request", why);
		return;
	}
	if (MHD_destroy_post_processor(u->pp) != MHD_YES) {
		u->pp = NULL;
		api_error(out, 400, "bad_request", "malformed multipart body");
		return;
	}
	u->pp = NULL;
	if (u->nfiles == 0) {
		api_error(out, 400, "bad_request", "no files in the upload (use a file field)");
		return;
	}
	if ((st = server_writer_get(srv, err, sizeof(err))) == NULL) {
		api_error(out, 503, "busy", err[0] ? err : "database unavailable");
		return;
	}
	before = query_dash_ledger_max(st, &qe);
	limits_default(&lim);
	lim.max_input_bytes = u->max;
	memset(&io, 0, sizeof(io));
	io.source = "upload";
	io.keep_raw = 1;
	io.batch = 500;
	if (before < 0 || (ig = ingest_new(st, &lim, &io)) == NULL) {
		server_writer_put(srv);
		api_error(out, 500, "internal", before < 0 ? qe.msg : "cannot start the import");
		return;
	}
	for (size_t i = 0; i < u->nfiles; i++) {
		int rc = ingest_buffer(ig, u->files[i].name, u->files[i].data ?
		    (const void *)u->files[i].data : (const void *)"", u->files[i].len);

		if (rc == STORE_BUSY)
			busy = 1;
	}
	s = ingest_stats(ig);
	stats = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "imported", (json_int_t)s->imported, "duplicates", (json_int_t)s->duplicates,
	    "rejected", (json_int_t)s->rejected, "not_report", (json_int_t)s->not_report,
	    "unsupported", (json_int_t)s->unsupported, "errors", (json_int_t)s->errors,
	    "records", (json_int_t)s->records, "messages", (json_int_t)s->messages);
	if (ingest_free(&ig) == STORE_BUSY)
		busy = 1;
	rows = query_dash_ledger_since(st, before, &qe);
	server_writer_put(srv);
	if (busy && (rows == NULL || json_array_size(rows) == 0)) {
		json_decref(stats);
		json_decref(rows);
		api_error(out, 503, "busy", "the database is busy; try again");
		return;
	}
	files = json_array();
	for (size_t i = 0; i < u->nfiles; i++) {
		json_t *entries = upload_rows_for(rows, u->files[i].name);

		json_array_append_new(files, json_pack("{s:s, s:I, s:s, s:o}",
		    "name", u->files[i].name, "size", (json_int_t)u->files[i].len,
		    "status", upload_summary(entries), "entries", entries));
	}
	json_decref(rows);
	api_json(out, 200, json_pack("{s:o, s:o}", "files", files, "stats", stats));
}

void
upload_free(struct upload **up)
{
	struct upload *u = up ? *up : NULL;

	if (u == NULL)
		return;
	if (u->pp)
		MHD_destroy_post_processor(u->pp);
	for (size_t i = 0; i < u->nfiles; i++)
		free(u->files[i].data);
	free(u->files);
	free(u);
	*up = NULL;
}

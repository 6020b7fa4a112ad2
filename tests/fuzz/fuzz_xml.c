/*
 * fuzz_xml.c - libFuzzer harness for the aggregate report parser
 * (src/parse/aggregate*.c) and its JSON writer.
 *
 * The input is parsed twice with tight limits: once whole, once fed in
 * pieces whose sizes come from the first input byte, and both runs must
 * agree on the outcome and on every delivered record.  Each record and the
 * header also go through report_json_record()/report_json_header(), which
 * must produce valid JSON (jansson refuses invalid UTF-8, so this checks the
 * parser's promise that all strings are UTF-8), and the streaming writer
 * (report_json_on_header/on_record, which formats by hand) must write
 * exactly the bytes jansson dumps for those objects.  Built with
 * -DFUZZ_REPLAY_MAIN it is a plain program replaying the files and
 * directories named on its command line (tests/fuzz/replay.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "parse/aggregate.h"
#include "parse/report_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_run {
	unsigned long long records, total, hash;
};

static unsigned long long
fuzz_hash(unsigned long long h, const char *s)
{
	if (s == NULL)
		return h * 31 + 7;
	while (*s != '\0')
		h = h * 131 + (unsigned char)*s++;
	return h * 31 + 1;
}

static void
fuzz_check_json(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	if (s == NULL)
		abort();
	free(s);
	json_decref(o);
}

/*
 * The streaming writer's text for the header (without its closing brace)
 * and for rec, cut out of a whole array written to memory, must be what
 * jansson dumps for report_json_header()/report_json_record().
 */
static void
fuzz_check_writer(const struct report *r, const struct report_record *rec)
{
	static const char mid[] = ",\"records\":[\n", end[] = "\n],\"record_count";
	char *buf = NULL, *h, *x;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	struct report_json *j;
	const char *m, *e;
	json_t *o;

	if (fp == NULL)
		abort();
	j = report_json_new(fp);
	report_json_input(j, "fuzz");
	report_json_on_header(j, r);
	if (rec != NULL)
		report_json_on_record(j, r, rec);
	report_json_report_end(j, NULL, NULL);
	if (report_json_free(&j) != 0 || fclose(fp) != 0)
		abort();
	m = strstr(buf, rec != NULL ? mid : ",\"records\":[]");
	if (strncmp(buf, "[\n", 2) != 0 || m == NULL)
		abort();
	o = report_json_header("fuzz", r);
	h = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (h == NULL || strlen(h) != (size_t)(m - buf - 2) + 1 ||
	    strncmp(h, buf + 2, (size_t)(m - buf - 2)) != 0)
		abort();
	free(h);
	if (rec != NULL) {
		o = report_json_record(rec);
		m += sizeof(mid) - 1;
		e = strstr(m, end);
		x = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (e == NULL || x == NULL || strlen(x) != (size_t)(e - m) ||
		    strncmp(x, m, (size_t)(e - m)) != 0)
			abort();
		free(x);
	}
	free(buf);
}

static int
fuzz_on_header(void *ctx, const struct report *r)
{
	fuzz_check_json(report_json_header("fuzz", r));
	fuzz_check_writer(r, NULL);
	return 0;
}

static int
fuzz_on_record(void *ctx, const struct report *r,
    const struct report_record *rec)
{
	struct fuzz_run *run = ctx;
	json_t *o = report_json_record(rec);
	unsigned long long h = run->hash;
	size_t i;

	/* Every JSON string must be there: NULL from jansson = bad UTF-8. */
	if (json_object_get(o, "dmarc") == NULL)
		abort();
	fuzz_check_json(o);
	fuzz_check_writer(r, rec);
	h = fuzz_hash(h, rec->source_ip);
	h = fuzz_hash(h, rec->disposition);
	h = fuzz_hash(h, rec->dkim);
	h = fuzz_hash(h, rec->spf);
	h = fuzz_hash(h, rec->header_from);
	h = fuzz_hash(h, rec->extensions);
	for (i = 0; i < rec->n_dkim; i++)
		h = fuzz_hash(h, rec->dkim_results[i].result);
	for (i = 0; i < rec->n_spf; i++)
		h = fuzz_hash(h, rec->spf_results[i].result);
	for (i = 0; i < rec->n_reasons; i++)
		h = fuzz_hash(h, rec->reasons[i].type);
	run->hash = h;
	run->records++;
	run->total += rec->count;
	return 0;
}

static int
fuzz_parse(const uint8_t *data, size_t size, size_t piece,
    struct fuzz_run *run, char *err, size_t errlen)
{
	static const struct aggregate_cb cb = { fuzz_on_header,
		fuzz_on_record };
	struct limits lim;
	struct aggregate *a;
	const struct report *r = NULL;
	size_t off = 0;
	int rc = 0;

	limits_default(&lim);
	lim.max_records = 1000;
	lim.max_results = 8;
	lim.max_text = 256;
	lim.max_xml_depth = 16;
	memset(run, 0, sizeof(*run));
	a = aggregate_new(&lim, &cb, run);
	while (rc == 0 && off < size) {
		size_t n = piece == 0 || size - off < piece ? size - off :
		    piece;

		rc = aggregate_feed(a, data + off, n, err, errlen);
		off += n;
	}
	if (rc == 0)
		rc = aggregate_finish(a, &r, err, errlen);
	if (rc == 0) {
		size_t i;

		if (r == NULL || r->n_records != run->records ||
		    r->msg_total != run->total)
			abort();
		for (i = 0; i < r->n_warnings; i++)
			run->hash = fuzz_hash(run->hash, r->warnings[i]);
		fuzz_check_json(report_json_header("fuzz", r));
	}
	aggregate_free(&a);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_run whole, pieces;
	char err1[256] = "", err2[256] = "";
	size_t piece;
	int rc1, rc2;

	if (size < 1)
		return 0;
	piece = (size_t)(data[0] % 17) + 1;
	data++;
	size--;
	rc1 = fuzz_parse(data, size, 0, &whole, err1, sizeof(err1));
	rc2 = fuzz_parse(data, size, piece, &pieces, err2, sizeof(err2));
	if (rc1 != rc2 || strcmp(err1, err2) != 0 ||
	    whole.records != pieces.records || whole.total != pieces.total ||
	    whole.hash != pieces.hash) {
		fprintf(stderr, "whole: rc %d \"%s\" %llu records; "
		    "pieces of %zu: rc %d \"%s\" %llu records\n", rc1, err1,
		    whole.records, piece, rc2, err2, pieces.records);
		abort();
	}
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "replay_main.h"
#endif

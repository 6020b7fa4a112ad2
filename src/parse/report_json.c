/*
 * report_json.c - streaming JSON writer for parsed aggregate reports
 * (report_json.h, docs/json-format.md).
 *
 * The array and the report object are framed by hand; every piece of data
 * (a header, a record, the trailer) is a small jansson tree dumped and freed
 * at once, so the writer holds O(1 record) of memory.  The header object is
 * dumped without its closing brace and the trailer without its opening one,
 * which lets "records" sit between them.
 *
 * Ownership: the writer owns a copy of the input label; it never owns the
 * FILE* or the report.  Strings that are not valid UTF-8 (which the parser
 * never produces) are written with the bad bytes replaced by '?'.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "parse/report_json.h"

struct report_json {
	FILE *fp;
	char *input;
	int n_objects;          /* elements written to the array */
	int in_report;          /* a report object is open */
	unsigned long long n_records, msg_total;
	int failed;             /* a write failed */
};

const struct aggregate_cb report_json_cb = {
	report_json_on_header, report_json_on_record
};

/* ---- value helpers ----------------------------------------------------- */

static json_t *
rj_str(const char *s)
{
	json_t *v;
	char *copy;
	size_t i, n;

	if (s == NULL)
		return json_null();
	v = json_string(s);
	if (v != NULL)
		return v;
	/* Not UTF-8: keep ASCII, replace the rest. */
	n = strlen(s);
	copy = xstrndup(s, n);
	for (i = 0; i < n; i++)
		if ((unsigned char)copy[i] >= 0x80)
			copy[i] = '?';
	v = json_string(copy);
	free(copy);
	return v != NULL ? v : json_null();
}

static void
rj_set(json_t *o, const char *key, const char *s)
{
	json_object_set_new(o, key, rj_str(s));
}

/* "<key>_raw" only when raw exists and differs from the normalised value. */
static void
rj_set_raw(json_t *o, const char *key, const char *norm, const char *raw)
{
	char k[64];

	if (raw == NULL || (norm != NULL && strcmp(norm, raw) == 0))
		return;
	snprintf(k, sizeof(k), "%s_raw", key);
	rj_set(o, k, raw);
}

static json_t *
rj_u64(unsigned long long v)
{
	return json_integer(v > (unsigned long long)LLONG_MAX ? LLONG_MAX :
	    (json_int_t)v);
}

static json_t *
rj_epoch(int64_t v)
{
	return v < 0 ? json_null() : json_integer((json_int_t)v);
}

static json_t *
rj_strings(const char *const *v, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(arr, rj_str(v[i]));
	return arr;
}

/* ---- objects ----------------------------------------------------------- */

const char *
report_json_dmarc(const struct report_record *rec)
{
	int dp = rec->dkim != NULL && strcmp(rec->dkim, "pass") == 0;
	int sp = rec->spf != NULL && strcmp(rec->spf, "pass") == 0;
	int df = rec->dkim != NULL && strcmp(rec->dkim, "fail") == 0;
	int sf = rec->spf != NULL && strcmp(rec->spf, "fail") == 0;

	if (dp || sp)
		return "pass";
	if (df && sf)
		return "fail";
	return REPORT_UNKNOWN;
}

json_t *
report_json_header(const char *input, const struct report *r)
{
	json_t *o = json_object(), *p = json_object();

	rj_set(o, "kind", "aggregate");
	if (input != NULL)
		rj_set(o, "input", input);
	rj_set(o, "org_name", r->org_name);
	rj_set_raw(o, "org_name", r->org_name, r->org_name_raw);
	rj_set(o, "email", r->email);
	rj_set(o, "extra_contact_info", r->extra_contact_info);
	rj_set(o, "report_id", r->report_id);
	rj_set_raw(o, "report_id", r->report_id, r->report_id_raw);
	rj_set(o, "policy_domain", r->policy.domain);
	json_object_set_new(o, "begin", rj_epoch(r->begin));
	json_object_set_new(o, "end", rj_epoch(r->end));
	rj_set(o, "version", r->version);
	rj_set(o, "xml_namespace", r->xml_namespace);
	rj_set(o, "generator", r->generator);
	json_object_set_new(o, "errors", rj_strings(r->errors, r->n_errors));

	rj_set(p, "domain", r->policy.domain);
	rj_set(p, "adkim", r->policy.adkim);
	rj_set(p, "aspf", r->policy.aspf);
	rj_set(p, "p", r->policy.p);
	rj_set(p, "sp", r->policy.sp);
	rj_set(p, "np", r->policy.np);
	json_object_set_new(p, "pct", r->policy.pct < 0 ? json_null() :
	    json_integer(r->policy.pct));
	rj_set(p, "fo", r->policy.fo);
	rj_set(p, "testing", r->policy.testing);
	rj_set(p, "discovery_method", r->policy.discovery_method);
	json_object_set_new(o, "policy_published", p);
	if (r->extensions != NULL)
		rj_set(o, "extensions", r->extensions);
	return o;
}

json_t *
report_json_record(const struct report_record *rec)
{
	json_t *o = json_object(), *reasons = json_array();
	json_t *auth = json_object(), *dkim = json_array(), *spf = json_array();
	size_t i;

	rj_set(o, "source_ip", rec->source_ip);
	rj_set_raw(o, "source_ip", rec->source_ip, rec->source_ip_raw);
	json_object_set_new(o, "count", rj_u64(rec->count));
	rj_set(o, "disposition", rec->disposition);
	rj_set_raw(o, "disposition", rec->disposition, rec->disposition_raw);
	rj_set(o, "dkim", rec->dkim);
	rj_set_raw(o, "dkim", rec->dkim, rec->dkim_raw);
	rj_set(o, "spf", rec->spf);
	rj_set_raw(o, "spf", rec->spf, rec->spf_raw);
	rj_set(o, "dmarc", report_json_dmarc(rec));
	rj_set(o, "header_from", rec->header_from);
	rj_set(o, "envelope_from", rec->envelope_from);
	rj_set(o, "envelope_to", rec->envelope_to);
	for (i = 0; i < rec->n_reasons; i++) {
		const struct report_reason *re = &rec->reasons[i];
		json_t *x = json_object();

		rj_set(x, "type", re->type);
		rj_set_raw(x, "type", re->type, re->type_raw);
		rj_set(x, "comment", re->comment);
		json_array_append_new(reasons, x);
	}
	json_object_set_new(o, "reasons", reasons);
	for (i = 0; i < rec->n_dkim; i++) {
		const struct report_dkim *d = &rec->dkim_results[i];
		json_t *x = json_object();

		rj_set(x, "domain", d->domain);
		rj_set(x, "selector", d->selector);
		rj_set(x, "result", d->result);
		rj_set_raw(x, "result", d->result, d->result_raw);
		rj_set(x, "human_result", d->human_result);
		json_array_append_new(dkim, x);
	}
	for (i = 0; i < rec->n_spf; i++) {
		const struct report_spf *s = &rec->spf_results[i];
		json_t *x = json_object();

		rj_set(x, "domain", s->domain);
		rj_set(x, "scope", s->scope);
		rj_set(x, "result", s->result);
		rj_set_raw(x, "result", s->result, s->result_raw);
		rj_set(x, "human_result", s->human_result);
		json_array_append_new(spf, x);
	}
	json_object_set_new(auth, "dkim", dkim);
	json_object_set_new(auth, "spf", spf);
	json_object_set_new(o, "auth_results", auth);
	if (rec->extensions != NULL)
		rj_set(o, "extensions", rec->extensions);
	return o;
}

/* ---- framing ----------------------------------------------------------- */

#define RJ_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

/*
 * Writes obj (then drops the reference) with `skip_head` bytes cut from
 * the front and `skip_tail` from the back of its text.
 */
static void
rj_dump(struct report_json *j, json_t *obj, size_t skip_head,
    size_t skip_tail)
{
	char *s = json_dumps(obj, RJ_FLAGS);
	size_t n;

	json_decref(obj);
	if (s == NULL) {
		j->failed = 1;
		return;
	}
	n = strlen(s);
	if (n >= skip_head + skip_tail &&
	    fwrite(s + skip_head, 1, n - skip_head - skip_tail, j->fp) !=
	    n - skip_head - skip_tail)
		j->failed = 1;
	free(s);
}

static void
rj_puts(struct report_json *j, const char *s)
{
	if (fputs(s, j->fp) == EOF)
		j->failed = 1;
}

static void
rj_next_element(struct report_json *j)
{
	rj_puts(j, j->n_objects++ ? ",\n" : "\n");
}

struct report_json *
report_json_new(FILE *fp)
{
	struct report_json *j = xcalloc(1, sizeof(*j));

	j->fp = fp;
	rj_puts(j, "[");
	return j;
}

void
report_json_input(struct report_json *j, const char *input)
{
	free(j->input);
	j->input = input != NULL ? xstrdup(input) : NULL;
}

int
report_json_on_header(void *ctx, const struct report *hdr)
{
	struct report_json *j = ctx;

	if (j->in_report)
		report_json_report_end(j, NULL, "report header seen twice");
	rj_next_element(j);
	/* The object without its closing brace, then the records array. */
	rj_dump(j, report_json_header(j->input, hdr), 0, 1);
	rj_puts(j, ",\"records\":[");
	j->in_report = 1;
	j->n_records = 0;
	j->msg_total = 0;
	return j->failed;
}

int
report_json_on_record(void *ctx, const struct report *r,
    const struct report_record *rec)
{
	struct report_json *j = ctx;

	if (!j->in_report)
		report_json_on_header(j, r);
	rj_puts(j, j->n_records++ ? ",\n" : "\n");
	rj_dump(j, report_json_record(rec), 0, 0);
	j->msg_total += rec->count;
	return j->failed;
}

void
report_json_report_end(struct report_json *j, const struct report *final,
    const char *error)
{
	json_t *t;

	if (!j->in_report) {
		if (error == NULL)
			return;
		t = json_object();
		rj_set(t, "kind", "aggregate");
		if (j->input != NULL)
			rj_set(t, "input", j->input);
		rj_set(t, "error", error);
		rj_next_element(j);
		rj_dump(j, t, 0, 0);
		return;
	}
	rj_puts(j, j->n_records ? "\n]," : "],");
	t = json_object();
	json_object_set_new(t, "record_count",
	    rj_u64(final ? final->n_records : j->n_records));
	json_object_set_new(t, "message_total",
	    rj_u64(final ? final->msg_total : j->msg_total));
	json_object_set_new(t, "warnings", final ?
	    rj_strings(final->warnings, final->n_warnings) : json_array());
	if (error != NULL)
		rj_set(t, "error", error);
	/* The trailer without its opening brace closes the report object. */
	rj_dump(j, t, 1, 0);
	j->in_report = 0;
}

void
report_json_object(struct report_json *j, json_t *obj)
{
	if (j->in_report)
		report_json_report_end(j, NULL, "report left open");
	rj_next_element(j);
	rj_dump(j, obj, 0, 0);
}

int
report_json_free(struct report_json **jp)
{
	struct report_json *j = *jp;
	int r;

	if (j == NULL)
		return 0;
	if (j->in_report)
		report_json_report_end(j, NULL, "report left open");
	rj_puts(j, "\n]\n");
	if (fflush(j->fp) != 0 || ferror(j->fp))
		j->failed = 1;
	r = j->failed ? -1 : 0;
	free(j->input);
	free(j);
	*jp = NULL;
	return r;
}

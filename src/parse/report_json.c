/*
 * report_json.c - streaming JSON writer for parsed aggregate reports
 * (report_json.h, docs/json-format.md).
 *
 * The streaming writer formats by hand into a buffer of its own (flushed
 * to the FILE* at the end of every top-level element and when full): no
 * tree, no allocation per record.  Its output is byte for byte what
 * jansson's json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) gives for the
 * trees report_json_header()/report_json_record() build (those stay, for
 * other writers and for the fuzz harness, which checks that the two agree):
 * '"' '\\' and control characters escaped (\b \f \n \r \t, else \u00XX
 * in upper case), everything else verbatim, integers as %lld.
 *
 * Ownership: the writer owns a copy of the input label; it never owns the
 * FILE* or the report.  Strings that are not valid UTF-8 (which the parser
 * never produces) are written with every byte >= 0x80 replaced by '?', as
 * the jansson path does.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lib/utf8.h"
#include "lib/xalloc.h"
#include "parse/report_json.h"

#define RJ_BUF (64 * 1024)

struct report_json {
	FILE *fp;
	char *input;
	int n_objects;          /* elements written to the array */
	int in_report;          /* a report object is open */
	unsigned long long n_records, msg_total;
	int failed;             /* a write failed */
	size_t len;             /* bytes in buf */
	char buf[RJ_BUF];
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

/* ---- hand-written output ---------------------------------------------- */

static void
rj_flush(struct report_json *j)
{
	if (j->len > 0 && fwrite(j->buf, 1, j->len, j->fp) != j->len)
		j->failed = 1;
	j->len = 0;
}

static void
rj_put(struct report_json *j, const char *s, size_t n)
{
	if (RJ_BUF - j->len < n) {
		rj_flush(j);
		if (n > RJ_BUF) {
			if (fwrite(s, 1, n, j->fp) != n)
				j->failed = 1;
			return;
		}
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

#define RJ_LIT(j, lit) rj_put((j), (lit), sizeof(lit) - 1)

/* 1 for bytes that need an escape in a JSON string. */
static const unsigned char rj_esc[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	['"'] = 1, ['\\'] = 1,
};

/* A JSON string (with quotes), or null for NULL. */
static void
rj_string(struct report_json *j, const char *str)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)str;
	size_t n, i, from = 0;
	int bad;

	if (str == NULL) {
		RJ_LIT(j, "null");
		return;
	}
	n = strlen(str);
	bad = 0;
	for (i = 0; i < n; i++) {
		if (s[i] >= 0x80) {
			bad = !utf8_valid(s + i, n - i);
			break;
		}
	}
	rj_put(j, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];
		char e[6];
		size_t el = 2;

		if (bad && c >= 0x80) {
			rj_put(j, str + from, i - from);
			rj_put(j, "?", 1);
			from = i + 1;
			continue;
		}
		if (!rj_esc[c])
			continue;
		rj_put(j, str + from, i - from);
		from = i + 1;
		e[0] = '\\';
		switch (c) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		default:
			e[1] = 'u';
			e[2] = '0';
			e[3] = '0';
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			el = 6;
			break;
		}
		rj_put(j, e, el);
	}
	rj_put(j, str + from, n - from);
	rj_put(j, "\"", 1);
}

static void
rj_int(struct report_json *j, long long v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v :
	    (unsigned long long)v;

	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		tmp[--i] = '-';
	rj_put(j, tmp + i, sizeof(tmp) - i);
}

static void
rj_u64_out(struct report_json *j, unsigned long long v)
{
	rj_int(j, v > (unsigned long long)LLONG_MAX ? LLONG_MAX : (long long)v);
}

/* ,"key": (key is a literal needing no escapes); first: no comma. */
static void
rj_key(struct report_json *j, const char *key, int first)
{
	if (!first)
		rj_put(j, ",", 1);
	rj_put(j, "\"", 1);
	rj_put(j, key, strlen(key));
	rj_put(j, "\":", 2);
}

static void
rj_kv(struct report_json *j, const char *key, const char *s)
{
	rj_key(j, key, 0);
	rj_string(j, s);
}

/* "<key>_raw" only when raw exists and differs from the normalised value. */
static void
rj_kv_raw(struct report_json *j, const char *key, const char *norm,
    const char *raw)
{
	if (raw == NULL || (norm != NULL && (norm == raw ||
	    strcmp(norm, raw) == 0)))
		return;
	rj_put(j, ",\"", 2);
	rj_put(j, key, strlen(key));
	rj_put(j, "_raw\":", 6);
	rj_string(j, raw);
}

static void
rj_str_array(struct report_json *j, const char *const *v, size_t n)
{
	size_t i;

	rj_put(j, "[", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			rj_put(j, ",", 1);
		rj_string(j, v[i]);
	}
	rj_put(j, "]", 1);
}

/* The header object without its closing brace. */
static void
rj_write_header(struct report_json *j, const char *input,
    const struct report *r)
{
	const struct report_policy *p = &r->policy;

	RJ_LIT(j, "{\"kind\":\"aggregate\"");
	if (input != NULL)
		rj_kv(j, "input", input);
	rj_kv(j, "org_name", r->org_name);
	rj_kv_raw(j, "org_name", r->org_name, r->org_name_raw);
	rj_kv(j, "email", r->email);
	rj_kv(j, "extra_contact_info", r->extra_contact_info);
	rj_kv(j, "report_id", r->report_id);
	rj_kv_raw(j, "report_id", r->report_id, r->report_id_raw);
	rj_kv(j, "policy_domain", p->domain);
	rj_key(j, "begin", 0);
	if (r->begin < 0)
		RJ_LIT(j, "null");
	else
		rj_int(j, r->begin);
	rj_key(j, "end", 0);
	if (r->end < 0)
		RJ_LIT(j, "null");
	else
		rj_int(j, r->end);
	rj_kv(j, "version", r->version);
	rj_kv(j, "xml_namespace", r->xml_namespace);
	rj_kv(j, "generator", r->generator);
	rj_key(j, "errors", 0);
	rj_str_array(j, r->errors, r->n_errors);
	RJ_LIT(j, ",\"policy_published\":{\"domain\":");
	rj_string(j, p->domain);
	rj_kv(j, "adkim", p->adkim);
	rj_kv(j, "aspf", p->aspf);
	rj_kv(j, "p", p->p);
	rj_kv(j, "sp", p->sp);
	rj_kv(j, "np", p->np);
	rj_key(j, "pct", 0);
	if (p->pct < 0)
		RJ_LIT(j, "null");
	else
		rj_int(j, p->pct);
	rj_kv(j, "fo", p->fo);
	rj_kv(j, "testing", p->testing);
	rj_kv(j, "discovery_method", p->discovery_method);
	rj_put(j, "}", 1);
	if (r->extensions != NULL)
		rj_kv(j, "extensions", r->extensions);
}

static void
rj_write_record(struct report_json *j, const struct report_record *rec)
{
	size_t i;

	RJ_LIT(j, "{\"source_ip\":");
	rj_string(j, rec->source_ip);
	rj_kv_raw(j, "source_ip", rec->source_ip, rec->source_ip_raw);
	rj_key(j, "count", 0);
	rj_u64_out(j, rec->count);
	rj_kv(j, "disposition", rec->disposition);
	rj_kv_raw(j, "disposition", rec->disposition, rec->disposition_raw);
	rj_kv(j, "dkim", rec->dkim);
	rj_kv_raw(j, "dkim", rec->dkim, rec->dkim_raw);
	rj_kv(j, "spf", rec->spf);
	rj_kv_raw(j, "spf", rec->spf, rec->spf_raw);
	rj_kv(j, "dmarc", report_json_dmarc(rec));
	rj_kv(j, "header_from", rec->header_from);
	rj_kv(j, "envelope_from", rec->envelope_from);
	rj_kv(j, "envelope_to", rec->envelope_to);
	RJ_LIT(j, ",\"reasons\":[");
	for (i = 0; i < rec->n_reasons; i++) {
		const struct report_reason *re = &rec->reasons[i];

		if (i > 0)
			rj_put(j, ",", 1);
		RJ_LIT(j, "{\"type\":");
		rj_string(j, re->type);
		rj_kv_raw(j, "type", re->type, re->type_raw);
		rj_kv(j, "comment", re->comment);
		rj_put(j, "}", 1);
	}
	RJ_LIT(j, "],\"auth_results\":{\"dkim\":[");
	for (i = 0; i < rec->n_dkim; i++) {
		const struct report_dkim *d = &rec->dkim_results[i];

		if (i > 0)
			rj_put(j, ",", 1);
		RJ_LIT(j, "{\"domain\":");
		rj_string(j, d->domain);
		rj_kv(j, "selector", d->selector);
		rj_kv(j, "result", d->result);
		rj_kv_raw(j, "result", d->result, d->result_raw);
		rj_kv(j, "human_result", d->human_result);
		rj_put(j, "}", 1);
	}
	RJ_LIT(j, "],\"spf\":[");
	for (i = 0; i < rec->n_spf; i++) {
		const struct report_spf *s = &rec->spf_results[i];

		if (i > 0)
			rj_put(j, ",", 1);
		RJ_LIT(j, "{\"domain\":");
		rj_string(j, s->domain);
		rj_kv(j, "scope", s->scope);
		rj_kv(j, "result", s->result);
		rj_kv_raw(j, "result", s->result, s->result_raw);
		rj_kv(j, "human_result", s->human_result);
		rj_put(j, "}", 1);
	}
	RJ_LIT(j, "]}");
	if (rec->extensions != NULL)
		rj_kv(j, "extensions", rec->extensions);
	rj_put(j, "}", 1);
}

/* ---- framing ----------------------------------------------------------- */

#define RJ_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

/* Writes obj (then drops the reference) through jansson. */
static void
rj_dump(struct report_json *j, json_t *obj)
{
	char *s = json_dumps(obj, RJ_FLAGS);

	json_decref(obj);
	if (s == NULL) {
		j->failed = 1;
		return;
	}
	rj_put(j, s, strlen(s));
	free(s);
}

static void
rj_puts(struct report_json *j, const char *s)
{
	rj_put(j, s, strlen(s));
}

static void
rj_next_element(struct report_json *j)
{
	rj_puts(j, j->n_objects++ ? ",\n" : "\n");
}

struct report_json *
report_json_new(FILE *fp)
{
	struct report_json *j = xmalloc(sizeof(*j));

	j->fp = fp;
	j->input = NULL;
	j->n_objects = 0;
	j->in_report = 0;
	j->n_records = j->msg_total = 0;
	j->failed = 0;
	j->len = 0;
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
	rj_write_header(j, j->input, hdr);
	RJ_LIT(j, ",\"records\":[");
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
	rj_write_record(j, rec);
	j->msg_total += rec->count;
	return j->failed;
}

void
report_json_report_end(struct report_json *j, const struct report *final,
    const char *error)
{
	if (!j->in_report) {
		if (error == NULL)
			return;
		rj_next_element(j);
		RJ_LIT(j, "{\"kind\":\"aggregate\"");
		if (j->input != NULL)
			rj_kv(j, "input", j->input);
		rj_kv(j, "error", error);
		rj_put(j, "}", 1);
		rj_flush(j);
		return;
	}
	rj_puts(j, j->n_records ? "\n]," : "],");
	/* The trailer without its opening brace closes the report object. */
	RJ_LIT(j, "\"record_count\":");
	rj_u64_out(j, final ? final->n_records : j->n_records);
	RJ_LIT(j, ",\"message_total\":");
	rj_u64_out(j, final ? final->msg_total : j->msg_total);
	RJ_LIT(j, ",\"warnings\":");
	if (final != NULL)
		rj_str_array(j, final->warnings, final->n_warnings);
	else
		RJ_LIT(j, "[]");
	if (error != NULL)
		rj_kv(j, "error", error);
	rj_put(j, "}", 1);
	j->in_report = 0;
	rj_flush(j);
}

void
report_json_object(struct report_json *j, json_t *obj)
{
	if (j->in_report)
		report_json_report_end(j, NULL, "report left open");
	rj_next_element(j);
	rj_dump(j, obj);
	rj_flush(j);
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
	rj_flush(j);
	if (fflush(j->fp) != 0 || ferror(j->fp))
		j->failed = 1;
	r = j->failed ? -1 : 0;
	free(j->input);
	free(j);
	*jp = NULL;
	return r;
}

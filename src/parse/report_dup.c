/*
 * report_dup.c - one-allocation deep copies of struct report and struct
 * report_record (see report_dup.h).  Two passes: measure, then copy; the
 * strings follow the structs and arrays in the same block.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "parse/report_dup.h"

struct bump {
	char *p;
	size_t used, cap;   /* cap 0: measuring only */
};

static void *
bump(struct bump *b, size_t n, size_t align)
{
	size_t at = (b->used + align - 1) & ~(align - 1);

	b->used = at + n;
	return b->cap ? b->p + at : NULL;
}

static const char *
bstr(struct bump *b, const char *s)
{
	size_t n;
	char *d;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	d = bump(b, n, 1);
	if (d)
		memcpy(d, s, n);
	return d;
}

static const char **
bstrv(struct bump *b, const char **v, size_t n)
{
	const char **d;

	if (n == 0)
		return NULL;
	d = bump(b, n * sizeof *d, sizeof(void *));
	for (size_t i = 0; i < n; i++) {
		const char *s = bstr(b, v[i]);
		if (d)
			d[i] = s;
	}
	return d;
}

static void
copy_report(struct bump *b, const struct report *r, struct report *d)
{
	const char **errors, **warnings;

	if (d)
		*d = *r;
#define S(f) do { const char *s_ = bstr(b, r->f); if (d) d->f = s_; } while (0)
	S(version); S(xml_namespace); S(org_name); S(org_name_raw); S(email);
	S(extra_contact_info); S(report_id); S(report_id_raw); S(generator);
	S(extensions); S(policy.domain); S(policy.adkim); S(policy.aspf);
	S(policy.p); S(policy.sp); S(policy.np); S(policy.fo); S(policy.testing);
	S(policy.discovery_method);
#undef S
	errors = bstrv(b, r->errors, r->n_errors);
	warnings = bstrv(b, r->warnings, r->n_warnings);
	if (d) {
		d->errors = errors;
		d->warnings = warnings;
	}
}

struct report *
report_dup(const struct report *r)
{
	struct bump b = { NULL, 0, 0 };
	struct report *d;

	bump(&b, sizeof *d, sizeof(void *));
	copy_report(&b, r, NULL);
	b.cap = b.used;
	b.p = xmalloc(b.cap);
	b.used = 0;
	d = bump(&b, sizeof *d, sizeof(void *));
	copy_report(&b, r, d);
	return d;
}

static void
copy_record(struct bump *b, const struct report_record *r,
    struct report_record *d)
{
	struct report_reason *rs;
	struct report_dkim *dk;
	struct report_spf *sp;

	if (d)
		*d = *r;
#define S(f) do { const char *s_ = bstr(b, r->f); if (d) d->f = s_; } while (0)
	S(source_ip); S(source_ip_raw); S(disposition); S(disposition_raw);
	S(dkim); S(dkim_raw); S(spf); S(spf_raw); S(header_from);
	S(envelope_from); S(envelope_to); S(extensions);
#undef S
	rs = r->n_reasons ? bump(b, r->n_reasons * sizeof *rs, sizeof(void *)) : NULL;
	dk = r->n_dkim ? bump(b, r->n_dkim * sizeof *dk, sizeof(void *)) : NULL;
	sp = r->n_spf ? bump(b, r->n_spf * sizeof *sp, sizeof(void *)) : NULL;
	for (size_t i = 0; i < r->n_reasons; i++) {
		const struct report_reason *s = &r->reasons[i];
		const char *t = bstr(b, s->type), *tr = bstr(b, s->type_raw),
		    *c = bstr(b, s->comment);
		if (rs)
			rs[i] = (struct report_reason){ t, tr, c };
	}
	for (size_t i = 0; i < r->n_dkim; i++) {
		const struct report_dkim *s = &r->dkim_results[i];
		const char *a = bstr(b, s->domain), *se = bstr(b, s->selector),
		    *re = bstr(b, s->result), *rr = bstr(b, s->result_raw),
		    *h = bstr(b, s->human_result);
		if (dk)
			dk[i] = (struct report_dkim){ a, se, re, rr, h };
	}
	for (size_t i = 0; i < r->n_spf; i++) {
		const struct report_spf *s = &r->spf_results[i];
		const char *a = bstr(b, s->domain), *sc = bstr(b, s->scope),
		    *re = bstr(b, s->result), *rr = bstr(b, s->result_raw),
		    *h = bstr(b, s->human_result);
		if (sp)
			sp[i] = (struct report_spf){ a, sc, re, rr, h };
	}
	if (d) {
		d->reasons = rs;
		d->dkim_results = dk;
		d->spf_results = sp;
	}
}

struct report_record *
report_record_dup(const struct report_record *r)
{
	struct bump b = { NULL, 0, 0 };
	struct report_record *d;

	bump(&b, sizeof *d, sizeof(void *));
	copy_record(&b, r, NULL);
	b.cap = b.used;
	b.p = xmalloc(b.cap);
	b.used = 0;
	d = bump(&b, sizeof *d, sizeof(void *));
	copy_record(&b, r, d);
	return d;
}

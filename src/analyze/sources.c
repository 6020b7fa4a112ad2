/*
 * sources.c - aggregation of classified records per source IP, and the
 * JSON of one source.  Public (internal API, sources.h): sources_collect,
 * sources_set_free, sources_reason_json, sources_who, sources_agg_json.
 *
 * Each source keeps up to SOURCES_BUCKETS_MAX distinct (class, reason,
 * domains) buckets with message counts; further combinations are folded
 * into the last bucket's counts so totals stay exact.  The main class of a
 * source is the class with the most messages (ties: the one that needs
 * attention first: misconfigured, spoofing, unknown, forwarded,
 * legitimate); its main reason is the largest bucket of that class.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/amap.h"
#include "analyze/messages.h"
#include "analyze/sources.h"
#include "lib/xalloc.h"

static char *
sources_dup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static int
sources_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
sources_agg_free(struct sources_agg *a)
{
	free(a->ip);
	free(a->ptr);
	free(a->ptr_status);
	free(a->base_domain);
	free(a->as_name);
	free(a->country);
	free(a->domain);
	for (size_t i = 0; i < a->n_tags; i++)
		free(a->tags[i]);
	for (size_t i = 0; i < a->n_from; i++)
		free(a->from[i].domain);
	for (size_t i = 0; i < a->n_b; i++) {
		free(a->b[i].dkim_domain);
		free(a->b[i].spf_domain);
		free(a->b[i].override);
		free(a->b[i].from);
	}
	free(a->group);
	free(a->group_name);
	free(a->group_kind);
	free(a);
}

void
sources_set_free(struct sources_set **sp)
{
	struct sources_set *s;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	for (size_t i = 0; i < s->n; i++)
		sources_agg_free(s->v[i]);
	free(s->v);
	free(s->p);
	free(s->sp);
	free(s->np);
	free(s->adkim);
	free(s->aspf);
	free(s->testing);
	amap_free(&s->reporters);
	amap_free(&s->policies);
	free(s);
	*sp = NULL;
}

struct sources_ctx {
	struct sources_set *set;
	struct amap *byip;
	size_t cap;
	int64_t last_report;
};

static struct sources_agg *
sources_new_agg(struct sources_ctx *c, const struct scan_row *r)
{
	const struct scan_source *x = r->src;
	struct sources_agg *a = xcalloc(1, sizeof(*a));

	a->ip = xstrdup(x->ip);
	a->ptr = sources_dup(x->ptr);
	a->ptr_status = sources_dup(x->ptr_status);
	a->base_domain = sources_dup(x->base_domain);
	a->as_name = sources_dup(x->as_name);
	a->country = sources_dup(x->country);
	a->asn = x->asn;
	a->fcrdns = x->cs.fcrdns;
	a->pending = x->cs.pending;
	a->service = x->cs.service;
	a->domain = xstrdup(r->policy_domain);
	for (size_t i = 0; i < x->cs.rules.n_tags; i++)
		a->tags[a->n_tags++] = xstrdup(x->cs.rules.tags[i]);
	a->first_seen = r->begin;
	a->last_seen = r->end;
	if (c->set->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->set->v = xrealloc(c->set->v, c->cap * sizeof(*c->set->v));
	}
	c->set->v[c->set->n++] = a;
	amap_put(c->byip, a->ip, a);
	return a;
}

static void
sources_add_bucket(struct sources_agg *a, const struct scan_row *r)
{
	const struct classify_result *res = r->res;
	const char *from = r->header_from && *r->header_from ? r->header_from : r->policy_domain;
	struct sources_bucket *b = NULL;

	for (size_t i = 0; i < a->n_b; i++) {
		struct sources_bucket *x = &a->b[i];
		if (x->cls == res->cls && x->reason == res->reason && x->detail == res->detail &&
		    x->service == res->service && sources_streq(x->dkim_domain, res->dkim_domain) &&
		    sources_streq(x->spf_domain, res->spf_domain) &&
		    sources_streq(x->override, res->override) && sources_streq(x->from, from)) {
			b = x;
			break;
		}
	}
	if (b == NULL && a->n_b < SOURCES_BUCKETS_MAX) {
		b = &a->b[a->n_b++];
		b->cls = res->cls;
		b->reason = res->reason;
		b->detail = res->detail;
		b->service = res->service;
		b->dkim_domain = sources_dup(res->dkim_domain);
		b->spf_domain = sources_dup(res->spf_domain);
		b->override = sources_dup(res->override);
		b->from = xstrdup(from);
		b->own = res->own;
		b->approved = res->approved;
	}
	if (b == NULL) {
		/* Too many combinations: count it with the largest bucket of its class. */
		for (size_t i = 0; i < a->n_b; i++)
			if (a->b[i].cls == res->cls && (b == NULL || a->b[i].messages > b->messages))
				b = &a->b[i];
		if (b == NULL)
			b = &a->b[a->n_b - 1];
	}
	b->messages += r->count;
}

static void
sources_on_row(void *arg, const struct scan_row *r)
{
	struct sources_ctx *c = arg;
	struct sources_set *set = c->set;
	/* scan_source is per (IP, domain): remember its aggregate there. */
	struct sources_agg *a = r->src->user;
	const struct classify_result *res = r->res;
	int64_t n = r->count;

	if (a == NULL && (a = amap_get(c->byip, r->src->ip)) == NULL)
		a = sources_new_agg(c, r);
	((struct scan_source *)r->src)->user = a;
	a->messages += n;
	if (sources_streq(r->in->dkim_eval, "pass"))
		a->dkim_pass += n;
	if (sources_streq(r->in->spf_eval, "pass"))
		a->spf_pass += n;
	if (sources_streq(r->in->dmarc, "pass") || sources_streq(r->in->dkim_eval, "pass") ||
	    sources_streq(r->in->spf_eval, "pass"))
		a->dmarc_pass += n;
	a->classes[res->cls] += n;
	if (res->own)
		a->own = 1;
	if (res->approved)
		a->approved = 1;
	if (res->reason == CLASSIFY_R_SPOOF_REJECTED || res->reason == CLASSIFY_R_SPOOF_REJECTED_PASSES)
		a->rejected = 1;
	if (a->service == NULL && res->service != NULL)
		a->service = res->service;
	if (r->disposition != NULL) {
		if (strcmp(r->disposition, "reject") == 0)
			a->disp_reject += n;
		else if (strcmp(r->disposition, "quarantine") == 0)
			a->disp_quarantine += n;
		else
			a->disp_none += n;
	}
	if (r->begin < a->first_seen)
		a->first_seen = r->begin;
	if (r->end > a->last_seen)
		a->last_seen = r->end;
	if (r->header_from != NULL) {
		size_t i;
		for (i = 0; i < a->n_from; i++)
			if (strcmp(a->from[i].domain, r->header_from) == 0)
				break;
		if (i == a->n_from && a->n_from < SOURCES_FROM_MAX)
			a->from[a->n_from++].domain = xstrdup(r->header_from);
		if (i < a->n_from)
			a->from[i].messages += n;
	}
	sources_add_bucket(a, r);

	/* Period-wide facts for readiness, once per report. */
	set->records++;
	if (r->report_id == c->last_report)
		goto subdomain;
	c->last_report = r->report_id;
	if (set->min_begin == 0 || r->begin < set->min_begin)
		set->min_begin = r->begin;
	if (r->end > set->max_end)
		set->max_end = r->end;
	if (r->reporter != NULL)
		amap_put(set->reporters, r->reporter, (void *)1);
	if (r->end >= set->policy_ts) {
		set->policy_ts = r->end;
		free(set->p); set->p = sources_dup(r->p);
		free(set->sp); set->sp = sources_dup(r->sp);
		free(set->np); set->np = sources_dup(r->np);
		free(set->adkim); set->adkim = sources_dup(r->adkim);
		free(set->aspf); set->aspf = sources_dup(r->aspf);
		free(set->testing); set->testing = sources_dup(r->testing);
		set->pct = r->pct;
	}
	{
		char key[160];
		snprintf(key, sizeof(key), "p=%s sp=%s np=%s pct=%d adkim=%s aspf=%s t=%s",
		    r->p ? r->p : "-", r->sp ? r->sp : "-", r->np ? r->np : "-", r->pct,
		    r->adkim ? r->adkim : "-", r->aspf ? r->aspf : "-", r->testing ? r->testing : "-");
		intptr_t v = (intptr_t)amap_get(set->policies, key);
		amap_put(set->policies, key, (void *)(v + 1));
	}
subdomain:
	if (r->header_from != NULL && r->policy_domain != NULL &&
	    strcmp(r->header_from, r->policy_domain) != 0) {
		set->subdomain_messages += n;
		if (res->cls != CLASSIFY_LEGITIMATE && res->reason != CLASSIFY_R_FWD_DKIM_SURVIVED)
			set->subdomain_fail += n;
	}
}

/* Severity for tie-breaks: lower = shown first. */
static int
sources_rank(enum classify_class c)
{
	static const int rank[CLASSIFY_CLASS_N] = {
		[CLASSIFY_MISCONFIGURED] = 0, [CLASSIFY_SPOOFING] = 1, [CLASSIFY_UNKNOWN] = 2,
		[CLASSIFY_FORWARDED] = 3, [CLASSIFY_LEGITIMATE] = 4,
	};
	return rank[c];
}

static void
sources_group(struct sources_agg *a)
{
	int own = a->own || a->approved;

	if (a->service != NULL && a->service->type != CATALOG_OWN) {
		a->group = xasprintf("service:%s", a->service->id);
		a->group_name = xstrdup(a->service->name);
		a->group_kind = xstrdup(own ? "own" : "service");
	} else if (a->base_domain != NULL) {
		a->group = xstrdup(a->base_domain);
		a->group_name = xstrdup(a->base_domain);
		a->group_kind = xstrdup(own || a->service ? "own" : "domain");
	} else if (a->asn > 0) {
		a->group = xasprintf("AS%lld", (long long)a->asn);
		a->group_name = xasprintf("AS%lld %s", (long long)a->asn, a->as_name ? a->as_name : "");
		a->group_kind = xstrdup(own ? "own" : "asn");
	} else {
		a->group = xstrdup(own ? "own" : "none");
		a->group_name = xstrdup(own ? "(approved, no host name)" : "(no host name)");
		a->group_kind = xstrdup(own ? "own" : "none");
	}
}

static void
sources_finish(struct sources_agg *a)
{
	enum classify_class best = CLASSIFY_UNKNOWN;
	int64_t bestn = -1;

	for (int c = 0; c < CLASSIFY_CLASS_N; c++) {
		if (a->classes[c] > bestn ||
		    (a->classes[c] == bestn && sources_rank((enum classify_class)c) < sources_rank(best))) {
			best = (enum classify_class)c;
			bestn = a->classes[c];
		}
	}
	a->cls = best;
	for (size_t i = 0; i < a->n_b; i++)
		if (a->b[i].cls == best && (a->main == NULL || a->b[i].messages > a->main->messages))
			a->main = &a->b[i];
	sources_group(a);
}

static int
sources_cmp(const void *x, const void *y)
{
	const struct sources_agg *a = *(struct sources_agg *const *)x;
	const struct sources_agg *b = *(struct sources_agg *const *)y;

	if (a->messages != b->messages)
		return a->messages > b->messages ? -1 : 1;
	return strcmp(a->ip, b->ip);
}

struct sources_set *
sources_collect(struct sqlite3 *db, const struct scan_filter *f, char *err, size_t errlen)
{
	struct sources_ctx c;

	memset(&c, 0, sizeof(c));
	c.set = xcalloc(1, sizeof(*c.set));
	c.set->reporters = amap_new(16);
	c.set->policies = amap_new(16);
	c.set->pct = -1;
	c.byip = amap_new(1024);
	if (scan_records(db, f, sources_on_row, &c, err, errlen) < 0) {
		amap_free(&c.byip);
		sources_set_free(&c.set);
		return NULL;
	}
	amap_free(&c.byip);
	for (size_t i = 0; i < c.set->n; i++)
		sources_finish(c.set->v[i]);
	if (c.set->n > 1)
		qsort(c.set->v, c.set->n, sizeof(*c.set->v), sources_cmp);
	return c.set;
}

char *
sources_who(const struct sources_agg *a, const struct catalog_service *svc, int ja)
{
	if (svc != NULL && svc->type != CATALOG_OWN)
		return xstrdup(ja && svc->name_ja ? svc->name_ja : svc->name);
	if (a->ptr != NULL && a->fcrdns != 0)
		return xasprintf("%s (%s)", a->ptr, a->ip);
	return xstrdup(a->ip);
}

/* Reason JSON: the params are shared, {who} and {service} differ per language. */
json_t *
sources_reason_json(const struct sources_agg *a, const struct sources_bucket *b, int which)
{
	enum classify_reason r = which == 1 ? b->detail : b->reason;
	const char *code = classify_reason_code(r);
	char key[96];
	json_t *params, *msgs, *o;
	char *who_en, *who_ja, *en, *ja;
	const struct catalog_service *svc = b->service;

	if (r == CLASSIFY_R_NONE)
		return NULL;
	if (which == 2) {
		snprintf(key, sizeof(key), "advice.%s", code);
		if (messages_get(key, "en") == NULL)
			return NULL;
		code = key;
	}
	params = json_object();
	json_object_set_new(params, "from", json_string(b->from));
	json_object_set_new(params, "ip", json_string(a->ip));
	if (a->ptr)
		json_object_set_new(params, "host", json_string(a->ptr));
	if (svc) {
		json_object_set_new(params, "service", json_string(svc->name));
		json_object_set_new(params, "service_id", json_string(svc->id));
		if (svc->dkim_setup)
			json_object_set_new(params, "hint", json_string(svc->dkim_setup));
	}
	if (b->dkim_domain)
		json_object_set_new(params, "dkim_domain", json_string(b->dkim_domain));
	if (b->spf_domain)
		json_object_set_new(params, "spf_domain", json_string(b->spf_domain));
	if (b->override)
		json_object_set_new(params, "override", json_string(b->override));
	who_en = sources_who(a, svc, 0);
	who_ja = sources_who(a, svc, 1);
	json_object_set_new(params, "who", json_string(who_en));
	/* Render: {hint} reads " (where)" in both languages. */
	{
		json_t *pe = json_deep_copy(params), *pj = json_deep_copy(params);
		if (svc && svc->dkim_setup) {
			char *h = xasprintf(" (%s)", svc->dkim_setup);
			char *hj = xasprintf("（%s）", svc->dkim_setup);
			json_object_set_new(pe, "hint", json_string(h));
			json_object_set_new(pj, "hint", json_string(hj));
			free(h);
			free(hj);
		}
		json_object_set_new(pj, "who", json_string(who_ja));
		if (svc && svc->name_ja)
			json_object_set_new(pj, "service", json_string(svc->name_ja));
		en = messages_render(code, "en", pe);
		ja = messages_render(code, "ja", pj);
		json_decref(pe);
		json_decref(pj);
	}
	msgs = json_pack("{s:s, s:s}", "en", en, "ja", ja);
	o = json_pack("{s:s, s:o, s:o}", "code", code, "params", params, "messages", msgs);
	free(who_en);
	free(who_ja);
	free(en);
	free(ja);
	return o;
}

static json_t *
sources_str(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *
sources_agg_json(const struct sources_agg *a)
{
	json_t *o = json_object(), *classes = json_object(), *tags = json_array();
	json_t *from = json_array(), *reasons = json_array();
	const char *status = a->pending ? "pending" : a->ptr_status;

	json_object_set_new(o, "ip", json_string(a->ip));
	json_object_set_new(o, "ptr", sources_str(a->ptr));
	json_object_set_new(o, "ptr_status", sources_str(status));
	json_object_set_new(o, "fcrdns", a->fcrdns < 0 ? json_null() : json_boolean(a->fcrdns));
	json_object_set_new(o, "base_domain", sources_str(a->base_domain));
	json_object_set_new(o, "asn", a->asn > 0 ? json_integer(a->asn) : json_null());
	json_object_set_new(o, "as_name", sources_str(a->as_name));
	json_object_set_new(o, "country", sources_str(a->country));
	json_object_set_new(o, "service", a->service ? json_string(a->service->id) : json_null());
	json_object_set_new(o, "service_name", a->service ? json_string(a->service->name) : json_null());
	json_object_set_new(o, "service_type",
	    a->service ? json_string(catalog_type_name(a->service->type)) : json_null());
	json_object_set_new(o, "group", json_string(a->group));
	json_object_set_new(o, "group_name", json_string(a->group_name));
	json_object_set_new(o, "group_kind", json_string(a->group_kind));
	json_object_set_new(o, "own", json_boolean(a->own));
	json_object_set_new(o, "approved", json_boolean(a->approved));
	json_object_set_new(o, "rejected", json_boolean(a->rejected));
	for (size_t i = 0; i < a->n_tags; i++)
		json_array_append_new(tags, json_string(a->tags[i]));
	json_object_set_new(o, "tags", tags);
	json_object_set_new(o, "class", json_string(classify_class_name(a->cls)));
	for (int c = 0; c < CLASSIFY_CLASS_N; c++)
		json_object_set_new(classes, classify_class_name((enum classify_class)c),
		    json_integer(a->classes[c]));
	json_object_set_new(o, "classes", classes);
	if (a->main != NULL) {
		json_t *r = sources_reason_json(a, a->main, 0);
		json_t *d = sources_reason_json(a, a->main, 1);
		json_t *adv = sources_reason_json(a, a->main, 2);
		json_object_set_new(o, "reason", r ? r : json_null());
		json_object_set_new(o, "detail", d ? d : json_null());
		json_object_set_new(o, "advice", adv ? adv : json_null());
	}
	for (size_t i = 0; i < a->n_b; i++) {
		const struct sources_bucket *b = &a->b[i];
		json_t *r = sources_reason_json(a, b, 0), *d = sources_reason_json(a, b, 1);
		json_t *x = json_pack("{s:s, s:I, s:o}", "class", classify_class_name(b->cls),
		    "messages", (json_int_t)b->messages, "reason", r ? r : json_null());
		if (d)
			json_object_set_new(x, "detail", d);
		json_array_append_new(reasons, x);
	}
	json_object_set_new(o, "reasons", reasons);
	json_object_set_new(o, "messages", json_integer(a->messages));
	json_object_set_new(o, "dmarc_pass", json_integer(a->dmarc_pass));
	json_object_set_new(o, "dkim_aligned_pass", json_integer(a->dkim_pass));
	json_object_set_new(o, "spf_aligned_pass", json_integer(a->spf_pass));
	json_object_set_new(o, "pass_rate", json_real(a->messages ? 100.0 * (double)a->dmarc_pass / (double)a->messages : 0.0));
	json_object_set_new(o, "disposition", json_pack("{s:I, s:I, s:I}",
	    "none", (json_int_t)a->disp_none, "quarantine", (json_int_t)a->disp_quarantine,
	    "reject", (json_int_t)a->disp_reject));
	for (size_t i = 0; i < a->n_from; i++)
		json_array_append_new(from, json_pack("{s:s, s:I}", "domain", a->from[i].domain,
		    "messages", (json_int_t)a->from[i].messages));
	json_object_set_new(o, "header_from", from);
	json_object_set_new(o, "first_seen", json_integer(a->first_seen));
	json_object_set_new(o, "last_seen", json_integer(a->last_seen));
	return o;
}

json_t *
sources_agg_summary_json(const struct sources_agg *a)
{
	json_t *o = json_object(), *classes = json_object();

	json_object_set_new(o, "ip", json_string(a->ip));
	json_object_set_new(o, "ptr", sources_str(a->ptr));
	json_object_set_new(o, "asn", a->asn > 0 ? json_integer(a->asn) : json_null());
	json_object_set_new(o, "country", sources_str(a->country));
	json_object_set_new(o, "service", a->service ? json_string(a->service->id) : json_null());
	json_object_set_new(o, "service_name", a->service ? json_string(a->service->name) : json_null());
	json_object_set_new(o, "group", json_string(a->group));
	json_object_set_new(o, "group_name", json_string(a->group_name));
	json_object_set_new(o, "class", json_string(classify_class_name(a->cls)));
	for (int c = 0; c < CLASSIFY_CLASS_N; c++)
		json_object_set_new(classes, classify_class_name((enum classify_class)c),
		    json_integer(a->classes[c]));
	json_object_set_new(o, "classes", classes);
	json_object_set_new(o, "messages", json_integer(a->messages));
	json_object_set_new(o, "dmarc_pass", json_integer(a->dmarc_pass));
	return o;
}

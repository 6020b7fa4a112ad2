/*
 * groups.c - "sender group analysis": folds the per-source aggregates
 * (sources.c) into groups keyed by sources_agg.group (service, base
 * domain, ASN, or none), ordered own first, then services, then everyone
 * else, each by messages.  Public: groups_json.
 */
#include <stdlib.h>
#include <string.h>

#include "analyze/amap.h"
#include "analyze/groups.h"
#include "lib/xalloc.h"

#define GROUPS_TOP 5
#define GROUPS_CC 8

struct groups_g {
	const char *key, *name, *kind;
	const struct catalog_service *service;
	size_t sources;
	int64_t messages, dmarc_pass, dkim_pass, spf_pass;
	int64_t classes[CLASSIFY_CLASS_N];
	const struct sources_agg *top[GROUPS_TOP];
	size_t n_top;
	struct { const char *cc; int64_t messages; } cc[GROUPS_CC];
	size_t n_cc;
};

static int
groups_kind_rank(const char *k)
{
	if (strcmp(k, "own") == 0)
		return 0;
	if (strcmp(k, "service") == 0)
		return 1;
	return 2;
}

static int
groups_cmp(const void *x, const void *y)
{
	const struct groups_g *a = *(struct groups_g *const *)x;
	const struct groups_g *b = *(struct groups_g *const *)y;
	int ra = groups_kind_rank(a->kind), rb = groups_kind_rank(b->kind);

	if (ra != rb)
		return ra - rb;
	if (a->messages != b->messages)
		return a->messages > b->messages ? -1 : 1;
	return strcmp(a->key, b->key);
}

json_t *
groups_json(const struct sources_set *set, size_t limit)
{
	struct amap *m = amap_new(256);
	struct groups_g **v = NULL;
	size_t n = 0, cap = 0;
	int64_t tot_msgs = 0, tot_pass = 0, tot_cls[CLASSIFY_CLASS_N] = { 0 };
	json_t *arr = json_array(), *out, *tc = json_object();

	for (size_t i = 0; i < set->n; i++) {
		const struct sources_agg *a = set->v[i];
		struct groups_g *g = amap_get(m, a->group);

		if (g == NULL) {
			g = xcalloc(1, sizeof(*g));
			g->key = a->group;
			g->name = a->group_name;
			g->kind = a->group_kind;
			g->service = a->service;
			amap_put(m, a->group, g);
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				v = xrealloc(v, cap * sizeof(*v));
			}
			v[n++] = g;
		}
		/* A group is "own" as soon as one of its sources is. */
		if (strcmp(a->group_kind, "own") == 0)
			g->kind = a->group_kind;
		g->sources++;
		g->messages += a->messages;
		g->dmarc_pass += a->dmarc_pass;
		g->dkim_pass += a->dkim_pass;
		g->spf_pass += a->spf_pass;
		for (int c = 0; c < CLASSIFY_CLASS_N; c++) {
			g->classes[c] += a->classes[c];
			tot_cls[c] += a->classes[c];
		}
		tot_msgs += a->messages;
		tot_pass += a->dmarc_pass;
		if (g->n_top < GROUPS_TOP)    /* set is sorted by messages */
			g->top[g->n_top++] = a;
		if (a->country != NULL) {
			size_t k;
			for (k = 0; k < g->n_cc; k++)
				if (strcmp(g->cc[k].cc, a->country) == 0)
					break;
			if (k == g->n_cc && g->n_cc < GROUPS_CC)
				g->cc[g->n_cc++].cc = a->country;
			if (k < g->n_cc)
				g->cc[k].messages += a->messages;
		}
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), groups_cmp);
	for (size_t i = 0; i < n && i < limit; i++) {
		struct groups_g *g = v[i];
		json_t *o, *cls = json_object(), *top = json_array(), *cc = json_array();
		enum classify_class main = CLASSIFY_UNKNOWN;

		for (int c = 0; c < CLASSIFY_CLASS_N; c++) {
			json_object_set_new(cls, classify_class_name((enum classify_class)c),
			    json_integer(g->classes[c]));
			if (g->classes[c] > g->classes[main])
				main = (enum classify_class)c;
		}
		for (size_t k = 0; k < g->n_top; k++)
			json_array_append_new(top, json_pack("{s:s, s:o, s:I, s:s}",
			    "ip", g->top[k]->ip,
			    "ptr", g->top[k]->ptr ? json_string(g->top[k]->ptr) : json_null(),
			    "messages", (json_int_t)g->top[k]->messages,
			    "class", classify_class_name(g->top[k]->cls)));
		for (size_t k = 0; k < g->n_cc; k++)
			json_array_append_new(cc, json_pack("{s:s, s:I}", "country", g->cc[k].cc,
			    "messages", (json_int_t)g->cc[k].messages));
		o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:f, s:s, s:o, s:o, s:o}",
		    "group", g->key, "name", g->name, "kind", g->kind,
		    "service", g->service ? json_string(g->service->id) : json_null(),
		    "service_type", g->service ? json_string(catalog_type_name(g->service->type)) : json_null(),
		    "sources", (json_int_t)g->sources, "messages", (json_int_t)g->messages,
		    "dmarc_pass", (json_int_t)g->dmarc_pass,
		    "dkim_aligned_pass", (json_int_t)g->dkim_pass,
		    "spf_aligned_pass", (json_int_t)g->spf_pass,
		    "pass_rate", g->messages ? 100.0 * (double)g->dmarc_pass / (double)g->messages : 0.0,
		    "class", classify_class_name(main),
		    "classes", cls, "countries", cc, "top_sources", top);
		json_array_append_new(arr, o);
	}
	for (int c = 0; c < CLASSIFY_CLASS_N; c++)
		json_object_set_new(tc, classify_class_name((enum classify_class)c), json_integer(tot_cls[c]));
	out = json_pack("{s:o, s:{s:I, s:I, s:I, s:f, s:o}}", "groups", arr, "totals",
	    "groups", (json_int_t)n, "sources", (json_int_t)set->n, "messages", (json_int_t)tot_msgs,
	    "pass_rate", tot_msgs ? 100.0 * (double)tot_pass / (double)tot_msgs : 0.0, "classes", tc);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	amap_free(&m);
	return out;
}

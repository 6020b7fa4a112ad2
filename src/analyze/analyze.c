/*
 * analyze.c - the public entry points of src/analyze/ (analyze.h): the
 * module's schema, the sources / senders / rules / catalog JSON, and the
 * per-thread error message.  Readiness lives in readiness.c, groups in
 * groups.c, enrichment in enrich.c.
 */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "analyze/catalog.h"
#include "analyze/groups.h"
#include "analyze/sources.h"
#include "analyze/userrules.h"
#include "lib/xalloc.h"

static _Thread_local char analyze_err[512];

/* The module's own tables.  The store owner may move these into the
 * store's numbered migrations; IF NOT EXISTS keeps both paths safe. */
static const char analyze_schema_sql[] =
	"CREATE TABLE IF NOT EXISTS sender_rules ("
	"  id          INTEGER PRIMARY KEY,"
	"  action      TEXT NOT NULL,"          /* approve | tag | reject */
	"  kind        TEXT NOT NULL,"          /* ip | host | service | dkim */
	"  pattern     TEXT NOT NULL,"          /* CIDR, glob, service id, domain */
	"  tag         TEXT,"
	"  note        TEXT,"
	"  domain      TEXT,"                   /* policy domain, NULL = all */
	"  created_at  INTEGER NOT NULL"
	");";

const char *
analyze_errmsg(void)
{
	return analyze_err[0] ? analyze_err : "unknown error";
}

void
analyze_seterr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(analyze_err, sizeof(analyze_err), fmt, ap);
	va_end(ap);
}

int
analyze_schema_ensure(sqlite3 *db)
{
	if (db == NULL)
		return -1;
	return sqlite3_exec(db, analyze_schema_sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static sqlite3 *
analyze_db(struct store *st)
{
	sqlite3 *db = st ? (sqlite3 *)store_sqlite_handle(st) : NULL;

	if (db == NULL)
		analyze_seterr("sender intelligence needs the SQLite store");
	return db;
}

static void
analyze_filter(const struct query *q, struct scan_filter *f)
{
	memset(f, 0, sizeof(*f));
	if (q == NULL)
		return;
	f->domain = q->domain;
	f->source_ip = q->source_ip;
	f->reporter = q->reporter;
	f->since = q->since;
	f->until = q->until;
}

struct analyze_sort {
	const char *key;
	int desc;
};

static int
analyze_sort_cmp(const void *x, const void *y, void *arg)
{
	const struct sources_agg *a = *(struct sources_agg *const *)x;
	const struct sources_agg *b = *(struct sources_agg *const *)y;
	const struct analyze_sort *o = arg;
	int c = 0;

	if (strcmp(o->key, "ip") == 0)
		c = strcmp(a->ip, b->ip);
	else if (strcmp(o->key, "class") == 0)
		c = (int)a->cls - (int)b->cls;
	else if (strcmp(o->key, "pass") == 0) {
		double pa = a->messages ? (double)a->dmarc_pass / (double)a->messages : 0;
		double pb = b->messages ? (double)b->dmarc_pass / (double)b->messages : 0;
		c = pa < pb ? -1 : pa > pb;
	} else
		c = a->messages < b->messages ? -1 : a->messages > b->messages;
	if (o->desc)
		c = -c;
	return c != 0 ? c : strcmp(a->ip, b->ip);
}

json_t *
analyze_sources_filter_json(struct store *st, const struct query *q, const char *cls)
{
	sqlite3 *db = analyze_db(st);
	struct scan_filter f;
	struct sources_set *set;
	json_t *out, *arr;
	int want = -1;
	size_t limit, offset, total = 0;
	char err[256];

	if (db == NULL)
		return NULL;
	if (cls != NULL && *cls && (want = classify_class_parse(cls)) < 0) {
		analyze_seterr("unknown class \"%.32s\"", cls);
		return NULL;
	}
	analyze_filter(q, &f);
	set = sources_collect(db, &f, err, sizeof(err));
	if (set == NULL) {
		analyze_seterr("%s", err);
		return NULL;
	}
	if (q != NULL && q->sort != NULL && set->n > 1) {
		static const char *const ok[] = { "messages", "ip", "class", "pass" };
		for (size_t i = 0; i < 4; i++)
			if (strcmp(q->sort, ok[i]) == 0) {
				struct analyze_sort o = { ok[i], q->desc };
				qsort_r(set->v, set->n, sizeof(*set->v), analyze_sort_cmp, &o);
				break;
			}
	}
	limit = q && q->limit > 0 ? (size_t)q->limit : 500;
	offset = q && q->offset > 0 ? (size_t)q->offset : 0;
	arr = json_array();
	for (size_t i = 0; i < set->n; i++) {
		const struct sources_agg *a = set->v[i];
		if (want >= 0 && (int)a->cls != want)
			continue;
		if (total >= offset && total < offset + limit)
			json_array_append_new(arr, sources_agg_json(a));
		total++;
	}
	out = json_pack("{s:o, s:I, s:s}", "sources", arr, "total", (json_int_t)total,
	    "catalog_version", catalog_version(catalog_default()));
	sources_set_free(&set);
	return out;
}

json_t *
analyze_sources_json(struct store *st, const struct query *q)
{
	return analyze_sources_filter_json(st, q, NULL);
}

struct analyze_sources {
	struct sources_set *set;
};

struct analyze_sources *
analyze_sources_collect(struct store *st, const struct query *q)
{
	return analyze_sources_collect_mem(st, NULL, q);
}

struct analyze_sources *
analyze_sources_collect_mem(struct store *st, const struct recmem *rm, const struct query *q)
{
	sqlite3 *db = analyze_db(st);
	struct analyze_sources *s;
	struct scan_filter f;
	char err[256];

	if (db == NULL)
		return NULL;
	analyze_filter(q, &f);
	s = xcalloc(1, sizeof(*s));
	if ((s->set = sources_collect_from(db, rm, &f, err, sizeof(err))) == NULL) {
		analyze_seterr("%s", err);
		free(s);
		return NULL;
	}
	return s;
}

int
analyze_prime_mem(struct store *st, const struct recmem *rm)
{
	sqlite3 *db = analyze_db(st);

	if (db == NULL || rm == NULL)
		return 0;
	return scan_mem_prime(db, rm);
}

size_t
analyze_sources_n(const struct analyze_sources *s)
{
	return s->set->n;
}

_Static_assert(CLASSIFY_CLASS_N == 5, "analyze_source_row.classes has 5 classes");

void
analyze_sources_row(const struct analyze_sources *s, size_t i, struct analyze_source_row *out)
{
	const struct sources_agg *a = s->set->v[i];

	out->ip = a->ip;
	out->ptr = a->ptr;
	out->country = a->country;
	out->service = a->service ? a->service->id : NULL;
	out->service_name = a->service ? a->service->name : NULL;
	out->group = a->group;
	out->group_name = a->group_name;
	out->asn = a->asn > 0 ? a->asn : 0;
	out->cls = (int)a->cls;
	for (int c = 0; c < CLASSIFY_CLASS_N; c++)
		out->classes[c] = a->classes[c];
	out->messages = a->messages;
	out->dmarc_pass = a->dmarc_pass;
}

json_t *
analyze_sources_summary_json(const struct analyze_sources *s)
{
	return json_pack("{s:I, s:s}", "total", (json_int_t)s->set->n,
	    "catalog_version", catalog_version(catalog_default()));
}

json_t *
analyze_sources_item_json(const struct analyze_sources *s, size_t i)
{
	return i < s->set->n ? sources_agg_json(s->set->v[i]) : NULL;
}

json_t *
analyze_sources_groups_json(const struct analyze_sources *s, size_t limit)
{
	return groups_json(s->set, limit > 0 ? limit : 200);
}

void
analyze_sources_free(struct analyze_sources **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	sources_set_free(&(*sp)->set);
	free(*sp);
	*sp = NULL;
}

json_t *
analyze_senders_json(struct store *st, const struct query *q)
{
	sqlite3 *db = analyze_db(st);
	struct scan_filter f;
	struct sources_set *set;
	json_t *out;
	char err[256];

	if (db == NULL)
		return NULL;
	analyze_filter(q, &f);
	set = sources_collect(db, &f, err, sizeof(err));
	if (set == NULL) {
		analyze_seterr("%s", err);
		return NULL;
	}
	out = groups_json(set, q && q->limit > 0 ? (size_t)q->limit : 200);
	sources_set_free(&set);
	return out;
}

json_t *
analyze_rules_json(struct store *st)
{
	sqlite3 *db = analyze_db(st);
	struct userrules *r = NULL;
	json_t *arr;
	char err[256];

	if (db == NULL)
		return NULL;
	if (userrules_load(db, &r, err, sizeof(err)) != 0) {
		analyze_seterr("%s", err);
		return NULL;
	}
	arr = json_array();
	for (size_t i = 0; i < r->n; i++) {
		const struct userrule *u = &r->v[i];
		json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:I}",
		    "id", (json_int_t)u->id, "action", userrules_action_name(u->action),
		    "kind", userrules_kind_name(u->kind), "pattern", u->pattern,
		    "tag", u->tag ? json_string(u->tag) : json_null(),
		    "note", u->note ? json_string(u->note) : json_null(),
		    "domain", u->domain ? json_string(u->domain) : json_null(),
		    "created_at", (json_int_t)u->created_at));
	}
	userrules_free(&r);
	return json_pack("{s:o}", "rules", arr);
}

int
analyze_rule_add(struct store *st, const char *action, const char *kind,
    const char *pattern, const char *tag, const char *note, const char *domain,
    int64_t *id_out, char *err, size_t errlen)
{
	sqlite3 *db = analyze_db(st);
	int a = action ? userrules_action_parse(action) : -1;
	int k = kind ? userrules_kind_parse(kind) : -1;

	if (db == NULL) {
		snprintf(err, errlen, "%s", analyze_errmsg());
		return -1;
	}
	if (a < 0) {
		snprintf(err, errlen, "action must be approve, tag or reject");
		return -1;
	}
	if (k < 0) {
		snprintf(err, errlen, "kind must be ip, host, service or dkim");
		return -1;
	}
	if (k == USERRULES_SERVICE && catalog_by_id(catalog_default(), pattern) == NULL) {
		snprintf(err, errlen, "unknown service \"%.64s\" (see dmarcstat senders --catalog)",
		    pattern ? pattern : "");
		return -1;
	}
	return userrules_add(db, (enum userrules_action)a, (enum userrules_kind)k, pattern,
	    tag, note, domain, id_out, err, errlen);
}

int
analyze_rule_remove(struct store *st, int64_t id, char *err, size_t errlen)
{
	sqlite3 *db = analyze_db(st);

	if (db == NULL) {
		snprintf(err, errlen, "%s", analyze_errmsg());
		return -1;
	}
	return userrules_remove(db, id, err, errlen);
}

json_t *
analyze_catalog_json(void)
{
	const struct catalog *c = catalog_default();
	json_t *arr = json_array();

	for (size_t i = 0; i < catalog_count(c); i++) {
		const struct catalog_service *s = catalog_at(c, i);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:s, s:b, s:o}",
		    "id", s->id, "name", s->name,
		    "name_ja", s->name_ja ? json_string(s->name_ja) : json_null(),
		    "type", catalog_type_name(s->type), "forwards", s->forwards,
		    "include", s->spf_include ? json_string(s->spf_include) : json_null()));
	}
	return json_pack("{s:s, s:o, s:o}", "version", catalog_version(c), "services", arr,
	    "error", catalog_default_error() ? json_string(catalog_default_error()) : json_null());
}

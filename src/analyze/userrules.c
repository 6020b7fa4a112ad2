/*
 * userrules.c - the user's approve / tag / reject rules (table
 * sender_rules): validation, storage and matching.
 * Public: userrules_load/free/empty/equal/normalise/add/remove, the
 * userrules_match_* helpers and the name/parse helpers.
 * Rule sets are small (hundreds), so matching is a linear scan per source;
 * callers cache the result per IP.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "analyze/analyze.h"
#include "analyze/userrules.h"
#include "lib/xalloc.h"

static const char *const userrules_actions[] = { "none", "tag", "approve", "reject" };
static const char *const userrules_kinds[] = { "ip", "host", "service", "dkim" };

const char *
userrules_action_name(enum userrules_action a)
{
	return (unsigned)a < 4 ? userrules_actions[a] : "none";
}

const char *
userrules_kind_name(enum userrules_kind k)
{
	return (unsigned)k < 4 ? userrules_kinds[k] : "ip";
}

int
userrules_action_parse(const char *s)
{
	for (int i = 1; i < 4; i++)
		if (strcmp(s, userrules_actions[i]) == 0)
			return i;
	return -1;
}

int
userrules_kind_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, userrules_kinds[i]) == 0)
			return i;
	return -1;
}

static void
userrules_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

int
userrules_normalise(enum userrules_kind kind, const char *pattern,
    char *norm, size_t normlen, char *err, size_t errlen)
{
	struct ipnet net;
	size_t n = pattern ? strlen(pattern) : 0;

	if (n == 0 || n >= normlen || n > 253) {
		snprintf(err, errlen, "empty or too long pattern");
		return -1;
	}
	switch (kind) {
	case USERRULES_IP:
		if (ipnet_parse(pattern, &net) != 0) {
			snprintf(err, errlen, "not an IP address or CIDR range: %.64s", pattern);
			return -1;
		}
		ipnet_format(&net, norm, normlen);
		return 0;
	case USERRULES_HOST:
	case USERRULES_SERVICE:
	case USERRULES_DKIM:
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)pattern[i];
			int ok = isalnum(c) || c == '-' || c == '.' || c == '_' ||
			    (kind == USERRULES_HOST && (c == '*' || c == '?' || c == '[' || c == ']'));
			if (!ok) {
				snprintf(err, errlen, "invalid character in \"%.64s\"", pattern);
				return -1;
			}
		}
		memcpy(norm, pattern, n + 1);
		userrules_lower(norm);
		if (kind != USERRULES_SERVICE && norm[n - 1] == '.')
			norm[n - 1] = '\0';
		return 0;
	}
	snprintf(err, errlen, "unknown rule kind");
	return -1;
}

struct userrules *
userrules_empty(void)
{
	return xcalloc(1, sizeof(struct userrules));
}

void
userrules_free(struct userrules **rp)
{
	struct userrules *r;

	if (rp == NULL || *rp == NULL)
		return;
	r = *rp;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].pattern);
		free(r->v[i].tag);
		free(r->v[i].note);
		free(r->v[i].domain);
	}
	free(r->v);
	free(r);
	*rp = NULL;
}

static int
userrules_streq(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

int
userrules_equal(const struct userrules *a, const struct userrules *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct userrule *x = &a->v[i], *y = &b->v[i];

		if (x->id != y->id || x->action != y->action || x->kind != y->kind ||
		    x->created_at != y->created_at || !userrules_streq(x->pattern, y->pattern) ||
		    !userrules_streq(x->tag, y->tag) || !userrules_streq(x->note, y->note) ||
		    !userrules_streq(x->domain, y->domain))
			return 0;
	}
	return 1;
}

static char *
userrules_col(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

int
userrules_load(sqlite3 *db, struct userrules **out, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	struct userrules *r = userrules_empty();
	size_t cap = 0;
	int rc;

	*out = NULL;
	if (analyze_schema_ensure(db) != 0 ||
	    sqlite3_prepare_v2(db, "SELECT id, action, kind, pattern, tag, note, domain, "
	    "created_at FROM sender_rules ORDER BY id", -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "sender_rules: %s", sqlite3_errmsg(db));
		userrules_free(&r);
		return -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *action = (const char *)sqlite3_column_text(s, 1);
		const char *kind = (const char *)sqlite3_column_text(s, 2);
		int a = action ? userrules_action_parse(action) : -1;
		int k = kind ? userrules_kind_parse(kind) : -1;
		struct userrule *u;

		if (a < 0 || k < 0 || sqlite3_column_text(s, 3) == NULL)
			continue;   /* a row written by a newer version: skip */
		if (r->n == cap) {
			cap = cap ? cap * 2 : 16;
			r->v = xrealloc(r->v, cap * sizeof(*r->v));
		}
		u = &r->v[r->n];
		memset(u, 0, sizeof(*u));
		u->id = sqlite3_column_int64(s, 0);
		u->action = (enum userrules_action)a;
		u->kind = (enum userrules_kind)k;
		u->pattern = userrules_col(s, 3);
		u->tag = userrules_col(s, 4);
		u->note = userrules_col(s, 5);
		u->domain = userrules_col(s, 6);
		u->created_at = sqlite3_column_int64(s, 7);
		if (u->kind == USERRULES_IP && ipnet_parse(u->pattern, &u->net) != 0) {
			free(u->pattern);
			free(u->tag);
			free(u->note);
			free(u->domain);
			continue;
		}
		r->n++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "sender_rules: %s", sqlite3_errmsg(db));
		userrules_free(&r);
		return -1;
	}
	*out = r;
	return 0;
}

int
userrules_add(sqlite3 *db, enum userrules_action action, enum userrules_kind kind,
    const char *pattern, const char *tag, const char *note, const char *domain,
    int64_t *id_out, char *err, size_t errlen)
{
	char norm[256];
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (action == USERRULES_NONE) {
		snprintf(err, errlen, "no action");
		return -1;
	}
	if (action == USERRULES_TAG && (tag == NULL || *tag == '\0')) {
		snprintf(err, errlen, "a tag rule needs a tag name");
		return -1;
	}
	if (userrules_normalise(kind, pattern, norm, sizeof(norm), err, errlen) != 0)
		return -1;
	if (analyze_schema_ensure(db) != 0 ||
	    sqlite3_prepare_v2(db, "INSERT INTO sender_rules(action, kind, pattern, tag, "
	    "note, domain, created_at) VALUES (?,?,?,?,?,?,?)", -1, &s, NULL) != SQLITE_OK)
		goto done;
	sqlite3_bind_text(s, 1, userrules_action_name(action), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, userrules_kind_name(kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, norm, -1, SQLITE_TRANSIENT);
	if (tag && *tag)
		sqlite3_bind_text(s, 4, tag, -1, SQLITE_TRANSIENT);
	if (note && *note)
		sqlite3_bind_text(s, 5, note, -1, SQLITE_TRANSIENT);
	if (domain && *domain)
		sqlite3_bind_text(s, 6, domain, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)time(NULL));
	if (sqlite3_step(s) != SQLITE_DONE)
		goto done;
	if (id_out)
		*id_out = sqlite3_last_insert_rowid(db);
	rc = 0;
done:
	if (rc != 0)
		snprintf(err, errlen, "sender_rules: %s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return rc;
}

int
userrules_remove(sqlite3 *db, int64_t id, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (analyze_schema_ensure(db) != 0 ||
	    sqlite3_prepare_v2(db, "DELETE FROM sender_rules WHERE id = ?", -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "sender_rules: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_DONE)
		rc = sqlite3_changes(db) > 0 ? 0 : 1;
	else
		snprintf(err, errlen, "sender_rules: %s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return rc;
}

void
userrules_match_init(struct userrules_match *m)
{
	memset(m, 0, sizeof(*m));
}

static void
userrules_hit(const struct userrule *u, struct userrules_match *m)
{
	if (u->tag != NULL && m->n_tags < USERRULES_TAGS_MAX) {
		size_t i;
		for (i = 0; i < m->n_tags; i++)
			if (strcmp(m->tags[i], u->tag) == 0)
				break;
		if (i == m->n_tags)
			m->tags[m->n_tags++] = u->tag;
	}
	if (u->action > m->action) {
		m->action = u->action;
		m->rule_id = u->id;
		m->note = u->note;
	}
}

static int
userrules_domain_ok(const struct userrule *u, const char *policy_domain)
{
	return u->domain == NULL || (policy_domain != NULL && strcmp(u->domain, policy_domain) == 0);
}

static int
userrules_domain_match(const char *pattern, const char *d)
{
	size_t pl = strlen(pattern), dl = strlen(d);

	if (dl == pl)
		return strcasecmp(d, pattern) == 0;
	return dl > pl && d[dl - pl - 1] == '.' && strcasecmp(d + dl - pl, pattern) == 0;
}

void
userrules_match_source(const struct userrules *r, const char *policy_domain,
    const char *ip, const char *ptr, const char *service_id, struct userrules_match *m)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct userrule *u = &r->v[i];
		int hit = 0;

		if (!userrules_domain_ok(u, policy_domain))
			continue;
		if (u->kind == USERRULES_IP)
			hit = ipnet_contains(&u->net, ip);
		else if (u->kind == USERRULES_HOST)
			hit = ptr != NULL && fnmatch(u->pattern, ptr, FNM_CASEFOLD) == 0;
		else if (u->kind == USERRULES_SERVICE)
			hit = service_id != NULL && strcmp(u->pattern, service_id) == 0;
		if (hit)
			userrules_hit(u, m);
	}
}

void
userrules_match_service(const struct userrules *r, const char *policy_domain,
    const char *service_id, struct userrules_match *m)
{
	if (service_id == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		const struct userrule *u = &r->v[i];
		if (u->kind == USERRULES_SERVICE && userrules_domain_ok(u, policy_domain) &&
		    strcmp(u->pattern, service_id) == 0)
			userrules_hit(u, m);
	}
}

void
userrules_match_dkim(const struct userrules *r, const char *policy_domain,
    const char *dkim_domain, struct userrules_match *m)
{
	if (dkim_domain == NULL || *dkim_domain == '\0')
		return;
	for (size_t i = 0; i < r->n; i++) {
		const struct userrule *u = &r->v[i];
		if (u->kind == USERRULES_DKIM && userrules_domain_ok(u, policy_domain) &&
		    userrules_domain_match(u->pattern, dkim_domain))
			userrules_hit(u, m);
	}
}

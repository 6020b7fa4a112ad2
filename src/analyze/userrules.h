/*
 * userrules.h - the user's own knowledge about sending sources: approve,
 * tag or reject by IP range (CIDR), host name pattern (glob on the PTR
 * name), catalog service id, or DKIM d= domain; optionally limited to one
 * policy domain.  Stored in table sender_rules (analyze_schema_ensure).
 *
 * Precedence when several rules match: reject > approve > tag; all
 * matching tags are collected.  Deterministic: rules are kept in id order.
 */
#ifndef DMARCSTAT_USERRULES_H
#define DMARCSTAT_USERRULES_H
#include <stddef.h>
#include <stdint.h>

#include "analyze/ipnet.h"

struct sqlite3;

enum userrules_action { USERRULES_NONE, USERRULES_TAG, USERRULES_APPROVE, USERRULES_REJECT };
enum userrules_kind { USERRULES_IP, USERRULES_HOST, USERRULES_SERVICE, USERRULES_DKIM };

struct userrule {
	int64_t id;
	enum userrules_action action;
	enum userrules_kind kind;
	char *pattern;      /* CIDR, glob, service id or domain (normalised) */
	char *tag;          /* NULL when none */
	char *note;
	char *domain;       /* policy domain, NULL = all */
	int64_t created_at;
	struct ipnet net;   /* kind == USERRULES_IP */
};

struct userrules {
	struct userrule *v;
	size_t n;
};

#define USERRULES_TAGS_MAX 8
struct userrules_match {
	enum userrules_action action;
	int64_t rule_id;            /* the rule deciding `action`, 0 when none */
	const char *note;           /* of that rule */
	const char *tags[USERRULES_TAGS_MAX];
	size_t n_tags;
};

const char *userrules_action_name(enum userrules_action a);
const char *userrules_kind_name(enum userrules_kind k);
int userrules_action_parse(const char *s);  /* -1 when unknown */
int userrules_kind_parse(const char *s);

/* Loads all rules (id order).  Returns 0, or -1 with a reason. */
int userrules_load(struct sqlite3 *db, struct userrules **out, char *err, size_t errlen);
void userrules_free(struct userrules **r);
/* Whether two loaded rule sets are the same rules (every column, in
 * order): what a cached classification made with one is valid for. */
int userrules_equal(const struct userrules *a, const struct userrules *b);
/* An empty rule set (for tests and when the table cannot be read). */
struct userrules *userrules_empty(void);

/*
 * Validates and normalises `pattern` for `kind` into `norm` (CIDR
 * canonical form, lower-cased names).  Returns 0 or -1 with a reason.
 */
int userrules_normalise(enum userrules_kind kind, const char *pattern,
    char *norm, size_t normlen, char *err, size_t errlen);
/* Adds a rule; *id_out gets its id.  0 or -1 with a reason. */
int userrules_add(struct sqlite3 *db, enum userrules_action action,
    enum userrules_kind kind, const char *pattern, const char *tag,
    const char *note, const char *domain, int64_t *id_out, char *err, size_t errlen);
/* 0 removed, 1 no such rule, -1 error. */
int userrules_remove(struct sqlite3 *db, int64_t id, char *err, size_t errlen);

/* Matching.  `m` accumulates: call _init once, then the _source and _dkim
 * helpers for everything known about a message's source. */
void userrules_match_init(struct userrules_match *m);
void userrules_match_source(const struct userrules *r, const char *policy_domain,
    const char *ip, const char *ptr, const char *service_id, struct userrules_match *m);
void userrules_match_service(const struct userrules *r, const char *policy_domain,
    const char *service_id, struct userrules_match *m);
void userrules_match_dkim(const struct userrules *r, const char *policy_domain,
    const char *dkim_domain, struct userrules_match *m);

#endif

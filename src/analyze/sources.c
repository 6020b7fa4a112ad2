/*
 * sources.c - aggregation of classified records per source IP, and the
 * JSON of one source.  Public (internal API, sources.h): sources_collect,
 * sources_collect_from, sources_set_free, sources_reason_json, sources_who,
 * sources_agg_json.
 *
 * The records come from the SQL scan (scan_records: sources_on_row per
 * record) or from the server's in-memory copy of the records
 * (store/recmem.h: sources_mem_*, per key of the copy, see struct
 * sources_key); both give the same set, field by field and in the same
 * order (tests/unit/test_recmem.c).
 *
 * Each source keeps up to SOURCES_BUCKETS_MAX distinct (class, reason,
 * domains) buckets with message counts; further combinations are folded
 * into the last bucket's counts so totals stay exact.  The main class of a
 * source is the class with the most messages (ties: the one that needs
 * attention first: misconfigured, spoofing, unknown, forwarded,
 * legitimate); its main reason is the largest bucket of that class.
 */
#include <assert.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/amap.h"
#include "analyze/messages.h"
#include "analyze/sources.h"
#include "lib/xalloc.h"
#include "store/recmem.h"

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
	free(a->ip);                    /* with ptr .. domain (sources_pack) */
	for (size_t i = 0; i < a->n_tags; i++)
		free(a->tags[i]);
	for (size_t i = 0; i < a->n_from; i++)
		free(a->from[i].domain);
	free(a->from);
	for (size_t i = 0; i < a->n_b; i++)
		free(a->b[i].from);     /* with its other strings (sources_pack) */
	free(a->b);
	free(a->group);                 /* with group_name and group_kind */
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

/*
 * Copies the strings v[0..n) into one allocation: *out[i] points to the
 * copy of v[i] (NULL for NULL), *out[0] (v[0] is never NULL) to the
 * start, the one pointer to free.  An aggregate's strings and a bucket's
 * are made this way: a year's analysis has ~15,000 aggregates and ~20,000
 * buckets, and one allocation instead of seven (four) saves ~150,000
 * allocations and as many frees.
 */
#define SOURCES_PACK_MAX 8

static void
sources_pack(char **const out[], const char *const v[], size_t n)
{
	size_t len[SOURCES_PACK_MAX], total = 0;
	char *p;

	assert(n <= SOURCES_PACK_MAX && v[0] != NULL);
	for (size_t i = 0; i < n; i++) {
		len[i] = v[i] != NULL ? strlen(v[i]) + 1 : 0;
		total += len[i];
	}
	p = xmalloc(total);
	for (size_t i = 0; i < n; i++) {
		*out[i] = v[i] != NULL ? memcpy(p, v[i], len[i]) : NULL;
		p += len[i];
	}
}

/* Adds a header_from domain (taken) to a->from, which has room. */
static void
sources_from_add(struct sources_agg *a, char *domain, uint32_t key)
{
	if (a->n_from == a->cap_from) {
		a->cap_from = a->cap_from ? a->cap_from * 2 : 1;
		a->from = xrealloc(a->from, a->cap_from * sizeof(*a->from));
	}
	a->from[a->n_from].domain = domain;
	a->from[a->n_from].messages = 0;
	a->from[a->n_from++].key = key;
}

static struct sources_agg *
sources_new_agg(struct sources_ctx *c, const struct scan_source *x, const char *policy_domain,
    int64_t begin, int64_t end)
{
	struct sources_agg *a = xcalloc(1, sizeof(*a));
	char **const out[] = { &a->ip, &a->ptr, &a->ptr_status, &a->base_domain, &a->as_name,
	    &a->country, &a->domain };
	const char *const v[] = { x->ip, x->ptr, x->ptr_status, x->base_domain, x->as_name,
	    x->country, policy_domain };

	sources_pack(out, v, sizeof(v) / sizeof(v[0]));
	a->asn = x->asn;
	a->fcrdns = x->cs.fcrdns;
	a->pending = x->cs.pending;
	a->service = x->cs.service;
	for (size_t i = 0; i < x->cs.rules.n_tags; i++)
		a->tags[a->n_tags++] = xstrdup(x->cs.rules.tags[i]);
	a->first_seen = begin;
	a->last_seen = end;
	if (c->set->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->set->v = xrealloc(c->set->v, c->cap * sizeof(*c->set->v));
	}
	c->set->v[c->set->n++] = a;
	if (c->byip != NULL)
		amap_put(c->byip, a->ip, a);
	return a;
}

/* The largest bucket of class cls at this moment (the first of equals),
 * else the last one: where a combination that has no bucket of its own
 * is counted once a source's buckets are full. */
static struct sources_bucket *
sources_bucket_largest(struct sources_agg *a, enum classify_class cls)
{
	struct sources_bucket *b = NULL;

	for (size_t i = 0; i < a->n_b; i++)
		if (a->b[i].cls == cls && (b == NULL || a->b[i].messages > b->messages))
			b = &a->b[i];
	return b != NULL ? b : &a->b[a->n_b - 1];
}

/*
 * The bucket of a classification result for `from`: the one with the same
 * combination, else a new one while there is room (*stable = 1: the same
 * combination always finds it again), else the largest bucket of its class
 * at this moment (*stable = 0).
 */
static struct sources_bucket *
sources_bucket(struct sources_agg *a, const struct classify_result *res, const char *from,
    uint32_t hash, int *stable)
{
	struct sources_bucket *b = NULL;

	*stable = 1;

	for (size_t i = 0; i < a->n_b; i++) {
		struct sources_bucket *x = &a->b[i];
		if (x->hash == hash && x->cls == res->cls && x->reason == res->reason &&
		    x->detail == res->detail && x->service == res->service &&
		    sources_streq(x->dkim_domain, res->dkim_domain) &&
		    sources_streq(x->spf_domain, res->spf_domain) &&
		    sources_streq(x->override, res->override) && sources_streq(x->from, from)) {
			b = x;
			break;
		}
	}
	if (b == NULL && a->n_b < SOURCES_BUCKETS_MAX) {
		if (a->n_b == a->cap_b) {
			a->cap_b = a->cap_b ? a->cap_b * 2 : 2;
			if (a->cap_b > SOURCES_BUCKETS_MAX)
				a->cap_b = SOURCES_BUCKETS_MAX;
			a->b = xrealloc(a->b, a->cap_b * sizeof(*a->b));
		}
		b = &a->b[a->n_b++];
		memset(b, 0, sizeof(*b));
		b->cls = res->cls;
		b->reason = res->reason;
		b->detail = res->detail;
		b->service = res->service;
		{
			char **const out[] = { &b->from, &b->dkim_domain, &b->spf_domain,
			    &b->override };
			const char *const v[] = { from, res->dkim_domain, res->spf_domain,
			    res->override };

			sources_pack(out, v, sizeof(v) / sizeof(v[0]));
		}
		b->own = res->own;
		b->approved = res->approved;
		b->hash = hash;
	}
	if (b == NULL) {
		/* Too many combinations: count it with the largest bucket of its class. */
		*stable = 0;
		b = sources_bucket_largest(a, res->cls);
	}
	return b;
}

static void
sources_add_bucket(struct sources_agg *a, const struct scan_row *r)
{
	const char *from = r->header_from && *r->header_from ? r->header_from : r->policy_domain;
	int stable;

	sources_bucket(a, r->res, from, 0, &stable)->messages += r->count;
}

/* Counts n reports with this published policy in set->policies. */
static void
sources_policy_count(struct sources_set *set, const char *p, const char *sp, const char *np,
    int pct, const char *adkim, const char *aspf, const char *testing, intptr_t n)
{
	char key[160];
	intptr_t v;

	snprintf(key, sizeof(key), "p=%s sp=%s np=%s pct=%d adkim=%s aspf=%s t=%s",
	    p ? p : "-", sp ? sp : "-", np ? np : "-", pct, adkim ? adkim : "-",
	    aspf ? aspf : "-", testing ? testing : "-");
	v = (intptr_t)amap_get(set->policies, key);
	amap_put(set->policies, key, (void *)(v + n));
}

/* What a classified record says about its source whatever its count. */
static void
sources_note_result(struct sources_agg *a, const struct classify_result *res)
{
	if (res->own)
		a->own = 1;
	if (res->approved)
		a->approved = 1;
	if (res->reason == CLASSIFY_R_SPOOF_REJECTED || res->reason == CLASSIFY_R_SPOOF_REJECTED_PASSES)
		a->rejected = 1;
	if (a->service == NULL && res->service != NULL)
		a->service = res->service;
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
		a = sources_new_agg(c, r->src, r->policy_domain, r->begin, r->end);
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
	sources_note_result(a, res);
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
			sources_from_add(a, xstrdup(r->header_from), 0);
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
	sources_policy_count(set, r->p, r->sp, r->np, r->pct, r->adkim, r->aspf, r->testing, 1);
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

/* group = g1 g2, group_name = n1 n2 n3, group_kind = kind: one allocation
 * starting at a->group. */
static void
sources_group_set(struct sources_agg *a, const char *g1, const char *g2, const char *n1,
    const char *n2, const char *n3, const char *kind)
{
	size_t lg1 = strlen(g1), lg2 = strlen(g2), ln1 = strlen(n1), ln2 = strlen(n2);
	size_t ln3 = strlen(n3), lk = strlen(kind);
	char *p = xmalloc(lg1 + lg2 + 1 + ln1 + ln2 + ln3 + 1 + lk + 1);

	a->group = p;
	memcpy(p, g1, lg1);
	memcpy(p + lg1, g2, lg2);
	p[lg1 + lg2] = '\0';
	p += lg1 + lg2 + 1;
	a->group_name = p;
	memcpy(p, n1, ln1);
	memcpy(p + ln1, n2, ln2);
	memcpy(p + ln1 + ln2, n3, ln3);
	p[ln1 + ln2 + ln3] = '\0';
	p += ln1 + ln2 + ln3 + 1;
	a->group_kind = p;
	memcpy(p, kind, lk + 1);
}

static void
sources_group(struct sources_agg *a)
{
	int own = a->own || a->approved;

	char as[32];

	/* group, group_name and group_kind in one allocation (sources_pack) */
	if (a->service != NULL && a->service->type != CATALOG_OWN) {
		sources_group_set(a, "service:", a->service->id, a->service->name, "", "",
		    own ? "own" : "service");
	} else if (a->base_domain != NULL) {
		sources_group_set(a, a->base_domain, "", a->base_domain, "", "",
		    own || a->service ? "own" : "domain");
	} else if (a->asn > 0) {
		snprintf(as, sizeof(as), "AS%lld", (long long)a->asn);
		sources_group_set(a, as, "", as, " ", a->as_name ? a->as_name : "",
		    own ? "own" : "asn");
	} else {
		sources_group_set(a, own ? "own" : "none", "", own ? "(approved, no host name)" :
		    "(no host name)", "", "", own ? "own" : "none");
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

/* ---- the same over the in-memory copy (store/recmem.h) ---------------------- */

static uint32_t
sources_mix(uint32_t h, uint64_t v)
{
	h ^= (uint32_t)v ^ (uint32_t)(v >> 32);
	return h * 2654435761u ^ (h >> 15);
}

static uint64_t
sources_len(const char *s)
{
	return s != NULL ? strlen(s) : UINT64_MAX;
}

/*
 * A hash of a bucket's combination in a scan of the copy: equal
 * combinations have equal hashes (the From domain is one of the copy's
 * interned strings, so equal ones are the same pointer; the other strings
 * count by their length), so sources_bucket compares a bucket's strings
 * only when its hash matches (the SQL scan's buckets all have hash 0).
 */
static uint32_t
sources_bucket_hash(const struct classify_result *res, const char *from)
{
	uint32_t h = (uint32_t)res->cls ^ ((uint32_t)res->reason << 4) ^ ((uint32_t)res->detail << 12);

	h = sources_mix(h, (uintptr_t)res->service);
	h = sources_mix(h, (uintptr_t)from);
	h = sources_mix(h, sources_len(res->dkim_domain));
	h = sources_mix(h, sources_len(res->spf_domain));
	return sources_mix(h, sources_len(res->override));
}

/*
 * What sources_on_row derives from a record, derived once per key of the
 * copy (scan_mem_classify): its IP's aggregate, its verdict and disposition
 * words as flags, its header_from slot and its bucket.  A key's records
 * are only summed here (messages, period); sources_mem_fold adds the sums
 * to the aggregates at the end.  This is exact because everything
 * sources_on_row decides in the order of the records is decided on the
 * first record of some key: an aggregate is created, a header_from or a
 * bucket gets its slot, and the flags own / approved / rejected / service
 * change only on a record whose combination was not seen before, i.e. the
 * first record of its key.  The one exception is a record whose bucket
 * combination found no room (SOURCES_BUCKETS_MAX): it goes to the largest
 * bucket of its class at that moment.  So when an aggregate's buckets fill
 * up, its keys' sums so far are added to their buckets and from then on
 * its records count in their buckets at once (`eager`), and such a record
 * (bucket -1) finds the same bucket as sources_on_row.  Summing per key
 * keeps most records to one cache line (the aggregates are ~1.5 KB each,
 * tens of MiB for a year).
 */
struct sources_key {
	struct sources_agg *a;
	uint32_t next;                  /* the aggregate's next key + 1, 0 = none */
	uint32_t ovf;                   /* its sources_ovf + 1 when its bucket had no room */
	int16_t bucket;                 /* index in a->b, -1 = no room: per record */
	int8_t from;                    /* index in a->from, -1 = none */
	uint8_t cls;
	unsigned char dkim : 1, spf : 1, dmarc : 1, sub : 1, subfail : 1;
	unsigned char disp : 2;         /* 0 NULL, 1 none (or other), 2 quarantine, 3 reject */
};

/* What a key whose bucket had no room needs for each of its records (the
 * strings live as long as the scan). */
struct sources_ovf {
	enum classify_class cls;        /* its records go to the largest bucket of it */
};

/* What a record adds to its key, apart (16 bytes a key: what the records
 * of a year touch stays in the caches). */
struct sources_sum {
	int64_t messages;
	uint32_t first, last;           /* period (the copy holds 32-bit times) */
};

/* A key's state for its records. */
enum { SOURCES_K_NEW, SOURCES_K_SUM, SOURCES_K_EAGER, SOURCES_K_OVERFLOW };

struct sources_mem {
	struct sources_ctx c;
	const struct recmem *rm;
	struct scan_mem *sm;
	struct sources_key *keys;       /* by key */
	struct sources_sum *sum;        /* by key */
	uint8_t *state;                 /* by key: SOURCES_K_* */
	uint32_t pass, reject, quarantine;  /* ids of these words in the copy */
	struct sources_ovf *ovf;
	uint32_t n_ovf, cap_ovf;
	struct sources_agg **byip;      /* by IP id */
	uint32_t *head;                 /* by IP id: the aggregate's first key + 1 */
	uint32_t best;                  /* report of the latest policy, or RECMEM_NONE */
	uint32_t *pols, npols;          /* policies in first-seen order */
	uint32_t *polcount;             /* reports per policy */
	uint32_t *orgs, norgs;          /* reporters in first-seen order */
	uint8_t *orgseen;               /* by string id */
};

/* The slot of header_from `hf` in a->from, added while there is room (as
 * sources_on_row); -1 when there is none. */
static int
sources_mem_from(struct sources_agg *a, uint32_t hf, const char *header_from)
{
	size_t i;

	if (hf == 0)
		return -1;
	for (i = 0; i < a->n_from; i++)
		if (a->from[i].key == hf)
			return (int)i;
	if (a->n_from == SOURCES_FROM_MAX)
		return -1;
	sources_from_add(a, xstrdup(header_from), hf);
	return (int)a->n_from - 1;
}

static void
sources_mem_key(struct sources_mem *m, uint32_t k, const struct recmem_report *rep)
{
	const struct recmem_key *key = &m->rm->key[k];
	const struct recmem_sig *sig = &m->rm->sig[key->sig];
	struct scan_class c;
	const struct scan_class *cl = &c;
	const struct classify_result *res = &c.res;
	struct sources_key *sk = &m->keys[k];
	struct sources_agg *a = m->byip[key->ip];
	const char *from;
	struct sources_bucket *b;
	uint32_t hash;
	int stable, full;

	scan_mem_classify(m->sm, k, &c);
	from = cl->header_from && *cl->header_from ? cl->header_from : cl->policy_domain;
	memset(sk, 0, sizeof(*sk));
	if (a == NULL)
		a = m->byip[key->ip] = sources_new_agg(&m->c, cl->src, cl->policy_domain,
		    rep->begin, rep->end);
	sk->a = a;
	sk->cls = res->cls;
	sk->next = m->head[key->ip];
	m->head[key->ip] = k + 1;
	m->sum[k].first = (uint32_t)rep->begin;
	m->sum[k].last = (uint32_t)rep->end;
	/* the words by their ids (interned: equal strings, equal ids) */
	sk->dkim = sig->dkim == m->pass;
	sk->spf = sig->spf == m->pass;
	sk->dmarc = sig->dmarc == m->pass || sk->dkim || sk->spf;
	if (sig->disp != 0)
		sk->disp = sig->disp == m->reject ? 3 : sig->disp == m->quarantine ? 2 : 1;
	sk->sub = sig->hf != 0 && sig->hf != key->domain;
	sk->subfail = res->cls != CLASSIFY_LEGITIMATE && res->reason != CLASSIFY_R_FWD_DKIM_SURVIVED;
	sources_note_result(a, res);
	sk->from = (int8_t)sources_mem_from(a, sig->hf, cl->header_from);
	full = a->n_b == SOURCES_BUCKETS_MAX;
	hash = sources_bucket_hash(res, from);
	b = sources_bucket(a, res, from, hash, &stable);
	sk->bucket = stable ? (int16_t)(b - a->b) : -1;
	m->state[k] = !stable ? SOURCES_K_OVERFLOW : full ? SOURCES_K_EAGER : SOURCES_K_SUM;
	if (!stable) {
		/* its records go to the largest bucket of its class each time */
		if (m->n_ovf == m->cap_ovf) {
			m->cap_ovf = m->cap_ovf ? m->cap_ovf * 2 : 64;
			m->ovf = xrealloc(m->ovf, m->cap_ovf * sizeof(*m->ovf));
		}
		m->ovf[m->n_ovf++].cls = res->cls;
		sk->ovf = m->n_ovf;
	}
	if (!full && a->n_b == SOURCES_BUCKETS_MAX) {
		/* this key's bucket filled them: the sums so far into the buckets */
		for (uint32_t x = k + 1; x != 0; x = m->keys[x - 1].next) {
			assert(m->state[x - 1] == SOURCES_K_SUM);  /* none overflows before */
			a->b[m->keys[x - 1].bucket].messages += m->sum[x - 1].messages;
			m->state[x - 1] = SOURCES_K_EAGER;
		}
	}
}

/* Period-wide facts of a report, on its first record (as sources_on_row). */
static void
sources_mem_report(struct sources_mem *m, uint32_t ri)
{
	const struct recmem_report *rep = &m->rm->rep[ri];
	struct sources_set *set = m->c.set;

	m->c.last_report = rep->id;
	if (set->min_begin == 0 || rep->begin < set->min_begin)
		set->min_begin = rep->begin;
	if (rep->end > set->max_end)
		set->max_end = rep->end;
	if (rep->org != 0 && !m->orgseen[rep->org]) {
		m->orgseen[rep->org] = 1;
		m->orgs[m->norgs++] = rep->org;
	}
	if (rep->end >= set->policy_ts) {
		set->policy_ts = rep->end;
		m->best = ri;
	}
	if (m->polcount[rep->pol]++ == 0)
		m->pols[m->npols++] = rep->pol;
}

static inline void
sources_mem_record(struct sources_mem *m, uint32_t k, const struct recmem_report *rep,
    uint32_t ri, int64_t n)
{
	struct sources_sum *x = &m->sum[k];

	x->messages += n;
	if ((uint32_t)rep->begin < x->first)
		x->first = (uint32_t)rep->begin;
	if ((uint32_t)rep->end > x->last)
		x->last = (uint32_t)rep->end;
	if (m->state[k] != SOURCES_K_SUM) {
		const struct sources_key *sk = &m->keys[k];

		if (m->state[k] == SOURCES_K_EAGER)
			sk->a->b[sk->bucket].messages += n;
		else {
			/* its combination had no bucket when the buckets were
			 * full, and no bucket is made after: only the largest of
			 * its class is looked for, as sources_bucket would */
			sources_bucket_largest(sk->a, m->ovf[sk->ovf - 1].cls)->messages += n;
		}
	}
	m->c.set->records++;
	if (rep->id != m->c.last_report)
		sources_mem_report(m, ri);
}

/* The keys' sums into their aggregates and the set. */
static void
sources_mem_fold(struct sources_mem *m)
{
	struct sources_set *set = m->c.set;

	for (uint32_t k = 0; k < m->rm->nkey; k++) {
		const struct sources_key *sk = &m->keys[k];
		struct sources_agg *a;
		int64_t n;

		if (m->state[k] == SOURCES_K_NEW)
			continue;               /* not in the period */
		a = sk->a;
		n = m->sum[k].messages;
		a->messages += n;
		if (sk->dkim)
			a->dkim_pass += n;
		if (sk->spf)
			a->spf_pass += n;
		if (sk->dmarc)
			a->dmarc_pass += n;
		a->classes[sk->cls] += n;
		if (sk->disp == 3)
			a->disp_reject += n;
		else if (sk->disp == 2)
			a->disp_quarantine += n;
		else if (sk->disp == 1)
			a->disp_none += n;
		if (m->sum[k].first < a->first_seen)
			a->first_seen = m->sum[k].first;
		if (m->sum[k].last > a->last_seen)
			a->last_seen = m->sum[k].last;
		if (sk->from >= 0)
			a->from[sk->from].messages += n;
		if (m->state[k] == SOURCES_K_SUM)
			a->b[sk->bucket].messages += n;
		if (sk->sub) {
			set->subdomain_messages += n;
			if (sk->subfail)
				set->subdomain_fail += n;
		}
	}
}

/* Which reports pass the filter (as scan_records' reports statement). */
static uint8_t *
sources_mem_select(const struct recmem *rm, const struct scan_filter *f)
{
	uint8_t *sel = xcalloc(rm->nrep ? rm->nrep : 1, 1);
	uint32_t dom = recmem_find(&rm->strs, f->domain);
	uint32_t org = recmem_find(&rm->strs, f->reporter);

	for (uint32_t i = 0; i < rm->nrep; i++) {
		const struct recmem_report *r = &rm->rep[i];

		sel[i] = (f->domain == NULL || r->domain == dom) &&
		    (f->since == 0 || r->end > f->since) && (f->until == 0 || r->begin < f->until) &&
		    (f->reporter == NULL || r->org == org);
	}
	return sel;
}

/* The period-wide facts kept in first-seen order, into the set. */
static void
sources_mem_facts(struct sources_mem *m)
{
	const struct recmem *rm = m->rm;
	struct sources_set *set = m->c.set;

	for (uint32_t i = 0; i < m->norgs; i++)
		amap_put(set->reporters, recmem_str(&rm->strs, m->orgs[i]), (void *)1);
	if (m->best != RECMEM_NONE) {
		const struct recmem_pol *p = &rm->pol[rm->rep[m->best].pol];

		set->p = sources_dup(recmem_str(&rm->strs, p->p));
		set->sp = sources_dup(recmem_str(&rm->strs, p->sp));
		set->np = sources_dup(recmem_str(&rm->strs, p->np));
		set->adkim = sources_dup(recmem_str(&rm->strs, p->adkim));
		set->aspf = sources_dup(recmem_str(&rm->strs, p->aspf));
		set->testing = sources_dup(recmem_str(&rm->strs, p->testing));
		set->pct = p->pct;
	}
	for (uint32_t i = 0; i < m->npols; i++) {
		const struct recmem_pol *p = &rm->pol[m->pols[i]];

		sources_policy_count(set, recmem_str(&rm->strs, p->p), recmem_str(&rm->strs, p->sp),
		    recmem_str(&rm->strs, p->np), p->pct, recmem_str(&rm->strs, p->adkim),
		    recmem_str(&rm->strs, p->aspf), recmem_str(&rm->strs, p->testing),
		    (intptr_t)m->polcount[m->pols[i]]);
	}
}

/*
 * sources_on_row over the copy: the records of the selected reports in
 * rowid order (the runs), each key classified once, each IP's aggregate
 * found by index.  Same set as the SQL scan, field by field
 * (tests/unit/test_recmem.c compares them).
 */
static void
sources_mem_scan(struct sources_mem *m, const struct scan_filter *f)
{
	const struct recmem *rm = m->rm;
	uint8_t *sel = sources_mem_select(rm, f);
	uint32_t ip = RECMEM_NONE;

	if (f->source_ip != NULL && (ip = recmem_find(&rm->ips, f->source_ip)) == RECMEM_NONE)
		goto done;
	for (uint32_t r = 0; r < rm->nrun; r++) {
		uint32_t ri = rm->run[r].rep, end = rm->run[r + 1].start;
		const struct recmem_report *rep;

		if (ri == RECMEM_NONE || !sel[ri])
			continue;
		rep = &rm->rep[ri];
		if (rep->domain == 0)
			continue;               /* no policy domain: skipped by the SQL scan */
		for (uint32_t i = rm->run[r].start; i < end; i++) {
			uint32_t k = rm->r_key[i];
			if (m->state[k] == SOURCES_K_NEW) {
				uint32_t kip = rm->key[k].ip;

				if (kip == 0 || (f->source_ip != NULL && kip != ip))
					continue;
				sources_mem_key(m, k, rep);
			} else if (f->source_ip != NULL && rm->key[k].ip != ip)
				continue;
			sources_mem_record(m, k, rep, ri, rm->r_count[i]);
		}
	}
done:
	free(sel);
}

/* Room for n elements of size sz at *off in the scratch block, 16-byte
 * aligned; returns its offset. */
static size_t
sources_mem_room(size_t *off, size_t n, size_t sz)
{
	size_t at = *off;

	*off = (at + (n ? n : 1) * sz + 15) & ~(size_t)15;
	return at;
}

/* The per-key and per-IP arrays of a scan, in the context's scratch
 * block; the ones read before they are written are zeroed. */
static void
sources_mem_arrays(struct sources_mem *m)
{
	const struct recmem *rm = m->rm;
	size_t off = 0, o_keys, o_sum, o_state, o_byip, o_head, o_pols, o_polcount, o_orgs,
	    o_orgseen;
	char *p;

	o_keys = sources_mem_room(&off, rm->nkey, sizeof(*m->keys));
	o_sum = sources_mem_room(&off, rm->nkey, sizeof(*m->sum));
	o_state = sources_mem_room(&off, rm->nkey, 1);
	o_byip = sources_mem_room(&off, rm->ips.n, sizeof(*m->byip));
	o_head = sources_mem_room(&off, rm->ips.n, sizeof(*m->head));
	o_polcount = sources_mem_room(&off, rm->npol, sizeof(*m->polcount));
	o_orgseen = sources_mem_room(&off, rm->strs.n, 1);
	o_pols = sources_mem_room(&off, rm->npol, sizeof(*m->pols));
	o_orgs = sources_mem_room(&off, rm->strs.n, sizeof(*m->orgs));
	p = scan_mem_scratch(m->sm, off);
	memset(p + o_sum, 0, o_pols - o_sum);   /* sum .. orgseen */
	m->keys = (struct sources_key *)(void *)(p + o_keys);
	m->sum = (struct sources_sum *)(void *)(p + o_sum);
	m->state = (uint8_t *)(p + o_state);
	m->byip = (struct sources_agg **)(void *)(p + o_byip);
	m->head = (uint32_t *)(void *)(p + o_head);
	m->polcount = (uint32_t *)(void *)(p + o_polcount);
	m->orgseen = (uint8_t *)(p + o_orgseen);
	m->pols = (uint32_t *)(void *)(p + o_pols);
	m->orgs = (uint32_t *)(void *)(p + o_orgs);
}

static struct sources_set *
sources_collect_mem(struct sqlite3 *db, const struct recmem *rm, const struct scan_filter *f,
    struct sources_ctx *c, char *err, size_t errlen)
{
	struct sources_mem m;
	/* ip_info is read source by source: in one read transaction, not one
	 * lock and unlock of the database file per lookup (the SQL scan's
	 * open statement holds one for the same reason) */
	int txn = sqlite3_get_autocommit(db) && sqlite3_exec(db, "BEGIN", NULL, NULL,
	    NULL) == SQLITE_OK;

	memset(&m, 0, sizeof(m));
	m.c = *c;
	m.rm = rm;
	m.sm = scan_mem_new(db, rm, err, errlen);
	sources_mem_arrays(&m);
	m.pass = recmem_find(&rm->strs, "pass");
	m.reject = recmem_find(&rm->strs, "reject");
	m.quarantine = recmem_find(&rm->strs, "quarantine");
	m.best = RECMEM_NONE;
	sources_mem_scan(&m, f);
	sources_mem_fold(&m);
	sources_mem_facts(&m);
	*c = m.c;
	free(m.ovf);
	scan_mem_free(&m.sm);
	if (txn)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return c->set;
}

struct sources_set *
sources_collect_from(struct sqlite3 *db, const struct recmem *rm, const struct scan_filter *f,
    char *err, size_t errlen)
{
	struct sources_ctx c;

	memset(&c, 0, sizeof(c));
	c.set = xcalloc(1, sizeof(*c.set));
	c.set->reporters = amap_new(16);
	c.set->policies = amap_new(16);
	c.set->pct = -1;
	if (rm != NULL)
		sources_collect_mem(db, rm, f, &c, err, errlen);
	else {
		c.byip = amap_new(1024);
		if (scan_records(db, f, sources_on_row, &c, err, errlen) < 0) {
			amap_free(&c.byip);
			sources_set_free(&c.set);
			return NULL;
		}
		amap_free(&c.byip);
	}
	for (size_t i = 0; i < c.set->n; i++)
		sources_finish(c.set->v[i]);
	if (c.set->n > 1)
		qsort(c.set->v, c.set->n, sizeof(*c.set->v), sources_cmp);
	return c.set;
}

struct sources_set *
sources_collect(struct sqlite3 *db, const struct scan_filter *f, char *err, size_t errlen)
{
	return sources_collect_from(db, NULL, f, err, errlen);
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
		/* shallow: only top-level members are replaced, the leaves
		 * (strings) are shared and never changed */
		json_t *pe = json_copy(params), *pj = json_copy(params);
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
		json_t *r, *d;

		if (b == a->main) {
			/* the same objects as "reason" and "detail" above (never
			 * changed after: shared, not rendered twice) */
			r = json_incref(json_is_null(json_object_get(o, "reason")) ? NULL :
			    json_object_get(o, "reason"));
			d = json_incref(json_is_null(json_object_get(o, "detail")) ? NULL :
			    json_object_get(o, "detail"));
		} else {
			r = sources_reason_json(a, b, 0);
			d = sources_reason_json(a, b, 1);
		}
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

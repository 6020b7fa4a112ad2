/*
 * readiness.c - "what to fix before p=reject" for one policy domain.
 * Public: readiness_json (and analyze_readiness_json, analyze.h).
 *
 * Input is the per-source aggregate of the period (sources.c).  A message
 * is "hit" by an enforcing policy when it fails DMARC; hit messages are
 * split by class so forwarded mail is counted apart from the legitimate
 * mail that would be lost (misconfigured sources).  The verdict and the
 * checklist use the thresholds in readiness.h; next steps are derived from
 * the reasons of misconfigured and SPF-only sources and never advise
 * adding a forwarder to SPF.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "analyze/messages.h"
#include "analyze/readiness.h"
#include "analyze/scan.h"
#include "lib/xalloc.h"

#define READINESS_SIM_SOURCES 20

struct readiness_step {
	char *key;
	const char *code;
	int order;
	json_t *params;         /* owned; "service_ja"/"who_ja" for Japanese */
	int64_t messages, sources;
};

struct readiness_steps {
	struct readiness_step *v;
	size_t n, cap;
};

static struct readiness_step *
readiness_step(struct readiness_steps *s, const char *key, const char *code, int order)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].key, key) == 0)
			return &s->v[i];
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	struct readiness_step *x = &s->v[s->n++];
	memset(x, 0, sizeof(*x));
	x->key = xstrdup(key);
	x->code = code;
	x->order = order;
	x->params = json_object();
	return x;
}

static int
readiness_step_cmp(const void *a, const void *b)
{
	const struct readiness_step *x = a, *y = b;

	if (x->order != y->order)
		return x->order - y->order;
	if (x->messages != y->messages)
		return x->messages > y->messages ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* {code, params, messages:{en, ja}} with the Japanese variants applied. */
static json_t *
readiness_msg(const char *code, json_t *params)
{
	json_t *pj = json_deep_copy(params);
	const char *sj = json_string_value(json_object_get(params, "service_ja"));
	const char *wj = json_string_value(json_object_get(params, "who_ja"));
	const char *hint = json_string_value(json_object_get(params, "hint_raw"));
	json_t *pe = json_deep_copy(params);
	char *en, *ja;
	json_t *o;

	if (sj)
		json_object_set_new(pj, "service", json_string(sj));
	if (wj)
		json_object_set_new(pj, "who", json_string(wj));
	if (hint) {
		char *h = xasprintf(" (%s)", hint), *hj = xasprintf("（%s）", hint);
		json_object_set_new(pe, "hint", json_string(h));
		json_object_set_new(pj, "hint", json_string(hj));
		free(h);
		free(hj);
	}
	en = messages_render(code, "en", pe);
	ja = messages_render(code, "ja", pj);
	o = json_pack("{s:s, s:O, s:{s:s, s:s}}", "code", code, "params", params,
	    "messages", "en", en, "ja", ja);
	free(en);
	free(ja);
	json_decref(pe);
	json_decref(pj);
	return o;
}

static int
readiness_bucket_passes(const struct sources_bucket *b)
{
	return b->cls == CLASSIFY_LEGITIMATE || b->reason == CLASSIFY_R_FWD_DKIM_SURVIVED ||
	    b->reason == CLASSIFY_R_SPOOF_REJECTED_PASSES;
}

static void
readiness_set_service(json_t *p, const struct catalog_service *svc)
{
	json_object_set_new(p, "service", json_string(svc->name));
	json_object_set_new(p, "service_id", json_string(svc->id));
	if (svc->name_ja)
		json_object_set_new(p, "service_ja", json_string(svc->name_ja));
	if (svc->dkim_setup)
		json_object_set_new(p, "hint_raw", json_string(svc->dkim_setup));
}

static void
readiness_set_who(json_t *p, const struct sources_agg *a, const struct catalog_service *svc)
{
	char *w = sources_who(a, svc, 0), *wj = sources_who(a, svc, 1);

	json_object_set_new(p, "who", json_string(w));
	json_object_set_new(p, "who_ja", json_string(wj));
	json_object_set_new(p, "ip", json_string(a->ip));
	free(w);
	free(wj);
}

/* Steps for one failing bucket of a misconfigured source. */
static void
readiness_misconfigured(struct readiness_steps *st, const struct sources_agg *a,
    const struct sources_bucket *b)
{
	const struct catalog_service *svc = b->service;
	int use_svc = svc != NULL && svc->type != CATALOG_OWN;
	struct readiness_step *x;
	char key[320];

	if (b->reason == CLASSIFY_R_MIS_DKIM_FAILS) {
		snprintf(key, sizeof(key), "dkimfix|%s|%s", use_svc ? svc->id : a->ip,
		    b->dkim_domain ? b->dkim_domain : "");
		x = readiness_step(st, key, "step.dkim_fix", 1);
		if (x->sources == 0) {
			readiness_set_who(x->params, a, use_svc ? svc : NULL);
			json_object_set_new(x->params, "dkim_domain", json_string(b->dkim_domain ? b->dkim_domain : ""));
		}
	} else if (use_svc) {
		snprintf(key, sizeof(key), "dkim|%s|%s", svc->id, b->from);
		x = readiness_step(st, key, "step.dkim_at_service", 0);
		if (x->sources == 0) {
			readiness_set_service(x->params, svc);
			json_object_set_new(x->params, "domain", json_string(b->from));
		}
	} else {
		snprintf(key, sizeof(key), "dkimown|%s|%s", a->ip, b->from);
		x = readiness_step(st, key, "step.dkim_own_server", 0);
		if (x->sources == 0) {
			readiness_set_who(x->params, a, NULL);
			json_object_set_new(x->params, "domain", json_string(b->from));
		}
	}
	x->messages += b->messages;
	x->sources++;

	/* SPF part: only for the user's sources and services, never forwarders. */
	if (b->detail == CLASSIFY_R_SPF_FAILS && b->spf_domain != NULL) {
		if (use_svc && svc->spf_include != NULL) {
			snprintf(key, sizeof(key), "spfinc|%s|%s", svc->id, b->spf_domain);
			x = readiness_step(st, key, "step.spf_include", 2);
			if (x->sources == 0) {
				readiness_set_service(x->params, svc);
				json_object_set_new(x->params, "spf_domain", json_string(b->spf_domain));
				json_object_set_new(x->params, "include", json_string(svc->spf_include));
			}
		} else if (!use_svc) {
			snprintf(key, sizeof(key), "spfip|%s|%s", a->ip, b->spf_domain);
			x = readiness_step(st, key, "step.spf_own_ip", 2);
			if (x->sources == 0) {
				readiness_set_who(x->params, a, NULL);
				json_object_set_new(x->params, "spf_domain", json_string(b->spf_domain));
			}
		} else
			return;
		x->messages += b->messages;
		x->sources++;
	} else if (b->detail == CLASSIFY_R_SPF_OTHER && use_svc) {
		snprintf(key, sizeof(key), "rp|%s|%s", svc->id, b->from);
		x = readiness_step(st, key, "step.return_path", 3);
		if (x->sources == 0) {
			readiness_set_service(x->params, svc);
			json_object_set_new(x->params, "domain", json_string(b->from));
		}
		x->messages += b->messages;
		x->sources++;
	}
}

static void
readiness_check(json_t *list, const char *id, int ok, json_t *params)
{
	char code[64];
	json_t *m;

	snprintf(code, sizeof(code), "check.%s", id);
	m = readiness_msg(code, params);
	json_object_set_new(m, "id", json_string(id));
	json_object_set_new(m, "ok", json_boolean(ok));
	json_array_append_new(list, m);
	json_decref(params);
}

static json_t *
readiness_str(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static char *
readiness_share(double x)
{
	return xasprintf("%.1f %%", 100.0 * x);
}

json_t *
readiness_json(const struct sources_set *set, const char *domain, int64_t since, int64_t until)
{
	int64_t total = 0, byc[CLASSIFY_CLASS_N] = { 0 }, hitc[CLASSIFY_CLASS_N] = { 0 };
	int64_t pass = 0, legit_dkim = 0, hit_sources = 0, unknown_sources = 0;
	int64_t spoof_sources = 0, pending_sources = 0, spf_only_sources = 0;
	int64_t pending_msgs = 0, review_msgs = 0;
	struct readiness_steps st = { 0 };
	json_t *out, *sims = json_array(), *checks = json_array(), *steps = json_array();
	json_t *hit_list = json_array(), *variants = json_array();
	const char *p = set->p ? set->p : "none";
	int enforced, pct = set->pct;
	double days, hit_share, unknown_share, dkim_share;
	size_t reporters = amap_count(set->reporters);
	const char *verdict;
	char key[320];

	for (size_t i = 0; i < set->n; i++) {
		const struct sources_agg *a = set->v[i];
		int64_t hit_here = 0, unk_here = 0, spf_only = 0;

		total += a->messages;
		pass += a->dmarc_pass;
		for (int c = 0; c < CLASSIFY_CLASS_N; c++)
			byc[c] += a->classes[c];
		legit_dkim += a->dkim_pass;
		for (size_t k = 0; k < a->n_b; k++) {
			const struct sources_bucket *b = &a->b[k];
			if (b->reason == CLASSIFY_R_LEGIT_SPF_ONLY)
				spf_only += b->messages;
			if (b->reason == CLASSIFY_R_SPOOF_REJECTED_PASSES) {
				snprintf(key, sizeof(key), "rejpass|%s", a->ip);
				struct readiness_step *x = readiness_step(&st, key, "step.rejected_passes", 4);
				if (x->sources == 0)
					readiness_set_who(x->params, a, b->service);
				x->messages += b->messages;
				x->sources++;
			}
			if (readiness_bucket_passes(b))
				continue;
			hitc[b->cls] += b->messages;
			if (b->cls == CLASSIFY_MISCONFIGURED) {
				hit_here += b->messages;
				readiness_misconfigured(&st, a, b);
			} else if (b->cls == CLASSIFY_UNKNOWN) {
				unk_here += b->messages;
				if (b->reason == CLASSIFY_R_UNK_PENDING)
					pending_msgs += b->messages;
				else
					review_msgs += b->messages;
			}
		}
		if (hit_here > 0 || unk_here > 0) {
			if (hit_here > 0)
				hit_sources++;
			if (unk_here > 0) {
				unknown_sources++;
				if (a->pending)
					pending_sources++;
			}
			if (json_array_size(hit_list) < READINESS_SIM_SOURCES) {
				json_t *o = json_pack("{s:s, s:o, s:o, s:s, s:I, s:I}", "ip", a->ip,
				    "ptr", readiness_str(a->ptr),
				    "service", a->service ? json_string(a->service->name) : json_null(),
				    "class", hit_here > 0 ? "misconfigured" : "unknown",
				    "messages", (json_int_t)(hit_here + unk_here),
				    "legitimate", (json_int_t)hit_here);
				if (a->main != NULL) {
					json_t *r = sources_reason_json(a, a->main, 0);
					json_object_set_new(o, "reason", r ? r : json_null());
				}
				json_array_append_new(hit_list, o);
			}
		}
		if (spf_only > 0) {
			const struct catalog_service *svc = a->service;
			spf_only_sources++;
			snprintf(key, sizeof(key), "spfonly|%s", svc && svc->type != CATALOG_OWN ? svc->id : a->ip);
			struct readiness_step *x = readiness_step(&st, key, "step.add_dkim_spf_only", 5);
			if (x->sources == 0) {
				readiness_set_who(x->params, a, svc);
				json_object_set_new(x->params, "domain", json_string(domain));
			}
			x->messages += spf_only;
			x->sources++;
		}
		if (a->classes[CLASSIFY_SPOOFING] > 0)
			spoof_sources++;
	}

	days = set->max_end > set->min_begin ? (double)(set->max_end - set->min_begin) / 86400.0 : 0;
	hit_share = byc[CLASSIFY_LEGITIMATE] + hitc[CLASSIFY_MISCONFIGURED] > 0 ?
	    (double)hitc[CLASSIFY_MISCONFIGURED] /
	    (double)(byc[CLASSIFY_LEGITIMATE] + byc[CLASSIFY_MISCONFIGURED]) : 0;
	unknown_share = total ? (double)byc[CLASSIFY_UNKNOWN] / (double)total : 0;
	dkim_share = byc[CLASSIFY_LEGITIMATE] + byc[CLASSIFY_MISCONFIGURED] + byc[CLASSIFY_FORWARDED] > 0 ?
	    (double)legit_dkim / (double)(byc[CLASSIFY_LEGITIMATE] + byc[CLASSIFY_MISCONFIGURED]) : 0;
	if (dkim_share > 1)
		dkim_share = 1;
	enforced = strcmp(p, "reject") == 0 && (pct < 0 || pct == 100) &&
	    (set->sp == NULL || strcmp(set->sp, "reject") == 0);

	if (total == 0)
		verdict = "no_data";
	else if (enforced && hitc[CLASSIFY_MISCONFIGURED] == 0)
		verdict = "enforced";
	else if (hit_share > READINESS_MAX_HIT_SHARE)
		verdict = "not_ready";
	else if (days < READINESS_MIN_DAYS || reporters < READINESS_MIN_REPORTERS)
		verdict = "insufficient_data";
	else if (hitc[CLASSIFY_MISCONFIGURED] > 0 || unknown_share > READINESS_MAX_UNKNOWN_SHARE)
		verdict = "almost";
	else
		verdict = "ready";

	/* Simulation: the same messages fail under both; what differs is the effect. */
	for (int k = 0; k < 2; k++) {
		const char *pol = k == 0 ? "quarantine" : "reject";
		int64_t affected = hitc[0] + hitc[1] + hitc[2] + hitc[3] + hitc[4];
		json_array_append_new(sims, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:O}",
		    "policy", pol, "effect", k == 0 ? "spam_folder" : "refused",
		    "affected", (json_int_t)affected,
		    "legitimate", (json_int_t)hitc[CLASSIFY_MISCONFIGURED],
		    "forwarded", (json_int_t)hitc[CLASSIFY_FORWARDED],
		    "spoofing", (json_int_t)hitc[CLASSIFY_SPOOFING],
		    "unknown", (json_int_t)hitc[CLASSIFY_UNKNOWN],
		    "legitimate_share", 100.0 * hit_share,
		    "subdomain_affected", (json_int_t)set->subdomain_fail,
		    "sources", hit_list));
	}

	/* Checklist. */
	{
		char *pcts;
		readiness_check(checks, "reports_received", reporters >= READINESS_MIN_REPORTERS,
		    json_pack("{s:I}", "reporters", (json_int_t)reporters));
		readiness_check(checks, "observation_period", days >= READINESS_MIN_DAYS,
		    json_pack("{s:I}", "days", (json_int_t)floor(days + 0.5)));
		pcts = readiness_share(dkim_share);
		readiness_check(checks, "dkim_coverage", dkim_share >= READINESS_MIN_DKIM_SHARE,
		    json_pack("{s:s}", "pct", pcts));
		free(pcts);
		readiness_check(checks, "no_misconfigured", hitc[CLASSIFY_MISCONFIGURED] == 0,
		    json_pack("{s:I, s:I}", "sources", (json_int_t)hit_sources,
		    "messages", (json_int_t)hitc[CLASSIFY_MISCONFIGURED]));
		readiness_check(checks, "spf_only", spf_only_sources == 0,
		    json_pack("{s:I}", "sources", (json_int_t)spf_only_sources));
		pcts = readiness_share(unknown_share);
		readiness_check(checks, "unknown_low", unknown_share <= READINESS_MAX_UNKNOWN_SHARE,
		    json_pack("{s:s}", "pct", pcts));
		free(pcts);
		readiness_check(checks, "policy", strcmp(p, "reject") == 0, json_pack("{s:s}", "p", p));
		readiness_check(checks, "pct_full", pct < 0 || pct == 100,
		    json_pack("{s:s}", "pct", pct < 0 ? "-" : (pct == 100 ? "100" : "<100")));
		if (pct >= 0 && pct != 100) {
			json_t *last = json_array_get(checks, json_array_size(checks) - 1);
			json_object_set_new(json_object_get(last, "params"), "pct", json_integer(pct));
			json_t *msgs = json_object_get(last, "messages");
			char *en = messages_render("check.pct_full", "en", json_object_get(last, "params"));
			char *ja = messages_render("check.pct_full", "ja", json_object_get(last, "params"));
			json_object_set_new(msgs, "en", json_string(en));
			json_object_set_new(msgs, "ja", json_string(ja));
			free(en);
			free(ja);
		}
		readiness_check(checks, "subdomain_policy",
		    set->sp == NULL ? strcmp(p, "reject") == 0 : strcmp(set->sp, "reject") == 0,
		    json_pack("{s:s}", "p", set->sp ? set->sp : "(p)"));
		readiness_check(checks, "testing_off", set->testing == NULL || strcmp(set->testing, "y") != 0,
		    json_object());
	}

	/* Informational and policy steps. */
	if (pending_sources > 0) {
		struct readiness_step *x = readiness_step(&st, "enrich", "step.run_enrich", 6);
		x->sources = pending_sources;
		x->messages = pending_msgs;
	}
	if (review_msgs > 0) {
		struct readiness_step *x = readiness_step(&st, "review", "step.review_unknown", 6);
		x->sources = unknown_sources - pending_sources > 0 ? unknown_sources - pending_sources : unknown_sources;
		x->messages = review_msgs;
	}
	if (byc[CLASSIFY_FORWARDED] > 0) {
		struct readiness_step *x = readiness_step(&st, "fwd", "step.forwarded_info", 8);
		x->messages = byc[CLASSIFY_FORWARDED];
	}
	if (hitc[CLASSIFY_SPOOFING] > 0) {
		struct readiness_step *x = readiness_step(&st, "spoof", "step.spoofing_info", 9);
		x->messages = hitc[CLASSIFY_SPOOFING];
		x->sources = spoof_sources;
	}
	if (total > 0 && (days < READINESS_MIN_DAYS || reporters < READINESS_MIN_REPORTERS))
		readiness_step(&st, "collect", "step.collect_more", 7);
	if (total > 0 && !enforced) {
		struct readiness_step *x;
		if (strcmp(verdict, "ready") == 0 || strcmp(verdict, "almost") == 0) {
			if (strcmp(p, "reject") != 0) {
				x = readiness_step(&st, "policy", "step.policy_next", 10);
				json_object_set_new(x->params, "next",
				    json_string(strcmp(p, "none") == 0 ? "quarantine" : "reject"));
			}
			if (pct >= 0 && pct != 100)
				readiness_step(&st, "pct", "step.policy_pct", 11);
			if (set->sp != NULL && strcmp(set->sp, "reject") != 0 && strcmp(p, "reject") == 0)
				readiness_step(&st, "sp", "step.policy_sp", 11);
		} else {
			x = readiness_step(&st, "policy", "step.policy_keep", 10);
			json_object_set_new(x->params, "p", json_string(p));
		}
	}
	if (st.n > 1)
		qsort(st.v, st.n, sizeof(*st.v), readiness_step_cmp);
	for (size_t i = 0; i < st.n; i++) {
		struct readiness_step *x = &st.v[i];
		json_object_set_new(x->params, "messages", json_integer(x->messages));
		json_object_set_new(x->params, "sources", json_integer(x->sources));
		if (json_object_get(x->params, "domain") == NULL)
			json_object_set_new(x->params, "domain", json_string(domain));
		json_array_append_new(steps, readiness_msg(x->code, x->params));
		json_decref(x->params);
		free(x->key);
	}
	free(st.v);

	{
		size_t pos = 0;
		const char *k;
		void *v;
		while (amap_next(set->policies, &pos, &k, &v))
			json_array_append_new(variants, json_pack("{s:s, s:I}", "policy", k,
			    "records", (json_int_t)(intptr_t)v));
	}
	{
		char *share = readiness_share(hit_share);
		json_t *vp = json_pack("{s:s, s:I, s:I, s:s, s:I, s:I, s:s}", "domain", domain,
		    "messages", (json_int_t)hitc[CLASSIFY_MISCONFIGURED], "sources", (json_int_t)hit_sources,
		    "share", share, "days", (json_int_t)floor(days + 0.5),
		    "reporters", (json_int_t)reporters, "p", p);
		char code[48];
		snprintf(code, sizeof(code), "verdict.%s", verdict);
		json_t *v = readiness_msg(code, vp);
		json_decref(vp);
		free(share);
		json_object_set_new(v, "verdict", json_string(verdict));
		out = json_pack("{s:s, s:{s:I, s:I, s:I, s:I}, s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:s}, "
		    "s:{s:I, s:I, s:f, s:{s:I, s:I, s:I, s:I, s:I}}, s:o, s:o, s:o, s:o}",
		    "domain", domain,
		    "period", "since", (json_int_t)since, "until", (json_int_t)until,
		    "first", (json_int_t)set->min_begin, "last", (json_int_t)set->max_end,
		    "policy", "p", readiness_str(set->p), "sp", readiness_str(set->sp),
		    "np", readiness_str(set->np), "pct", pct < 0 ? json_null() : json_integer(pct),
		    "testing", readiness_str(set->testing), "adkim", readiness_str(set->adkim),
		    "aspf", readiness_str(set->aspf), "variants", variants,
		    "reporters", (json_int_t)reporters,
		    "rua", reporters > 0 ? json_string("working") : json_null(),
		    "note", "as seen in reports; rua/ruf addresses are not part of aggregate reports",
		    "totals", "messages", (json_int_t)total, "dmarc_pass", (json_int_t)pass,
		    "pass_rate", total ? 100.0 * (double)pass / (double)total : 0.0,
		    "classes", "legitimate", (json_int_t)byc[CLASSIFY_LEGITIMATE],
		    "misconfigured", (json_int_t)byc[CLASSIFY_MISCONFIGURED],
		    "forwarded", (json_int_t)byc[CLASSIFY_FORWARDED],
		    "spoofing", (json_int_t)byc[CLASSIFY_SPOOFING],
		    "unknown", (json_int_t)byc[CLASSIFY_UNKNOWN],
		    "simulation", sims, "verdict", v, "checklist", checks, "steps", steps);
	}
	json_decref(hit_list);
	return out;
}

json_t *
analyze_readiness_json(struct store *stp, const char *domain, int64_t since, int64_t until)
{
	return analyze_readiness_json_mem(stp, NULL, domain, since, until);
}

json_t *
analyze_readiness_json_mem(struct store *stp, const struct recmem *rm, const char *domain,
    int64_t since, int64_t until)
{
	struct sqlite3 *db = stp ? store_sqlite_handle(stp) : NULL;
	struct scan_filter f;
	struct sources_set *set;
	char err[256];
	json_t *out;

	if (db == NULL || domain == NULL || *domain == '\0') {
		analyze_seterr(db == NULL ? "sender intelligence needs the SQLite store" : "no domain given");
		return NULL;
	}
	memset(&f, 0, sizeof(f));
	f.domain = domain;
	f.since = since;
	f.until = until;
	set = sources_collect_from(db, rm, &f, err, sizeof(err));
	if (set == NULL) {
		analyze_seterr("%s", err);
		return NULL;
	}
	out = readiness_json(set, domain, since, until);
	sources_set_free(&set);
	return out;
}

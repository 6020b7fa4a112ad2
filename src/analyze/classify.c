/*
 * classify.c - the classification rules (docs/classification.md).
 * Public: classify_record, classify_class_name/parse, classify_reason_code.
 *
 * classify_record() first derives facts from the record (which DKIM/SPF
 * results passed, which are aligned with the From domain, which services
 * the authenticated domains belong to, what the user's rules say), then
 * walks the rules R1..R12 in order; the first that applies decides.  No
 * allocation and no I/O: the cost is a few Public Suffix List lookups per
 * record, so a million records classify in well under a second.
 */
#include <string.h>

#include "analyze/classify.h"
#include "analyze/orgdom.h"

static const char *const classify_classes[CLASSIFY_CLASS_N] = {
	"legitimate", "misconfigured", "forwarded", "spoofing", "unknown",
};

static const char *const classify_codes[CLASSIFY_REASON_N] = {
	[CLASSIFY_R_NONE] = "",
	[CLASSIFY_R_LEGIT_DKIM_SPF] = "legitimate.dkim_spf_aligned",
	[CLASSIFY_R_LEGIT_DKIM] = "legitimate.dkim_aligned",
	[CLASSIFY_R_LEGIT_SPF_ONLY] = "legitimate.spf_only",
	[CLASSIFY_R_FWD_DKIM_SURVIVED] = "forwarded.dkim_survived",
	[CLASSIFY_R_FWD_OVERRIDE] = "forwarded.override",
	[CLASSIFY_R_FWD_KNOWN] = "forwarded.known_forwarder",
	[CLASSIFY_R_FWD_MAILING_LIST] = "forwarded.mailing_list",
	[CLASSIFY_R_FWD_DKIM_BROKEN] = "forwarded.dkim_broken",
	[CLASSIFY_R_FWD_VIA_PROVIDER] = "forwarded.via_provider",
	[CLASSIFY_R_MIS_DKIM_OTHER] = "misconfigured.dkim_other_domain",
	[CLASSIFY_R_MIS_DKIM_FAILS] = "misconfigured.dkim_fails",
	[CLASSIFY_R_MIS_DKIM_MISSING] = "misconfigured.dkim_missing",
	[CLASSIFY_R_SPF_OTHER] = "spf.other_domain",
	[CLASSIFY_R_SPF_FAILS] = "spf.fails",
	[CLASSIFY_R_SPF_NONE] = "spf.none",
	[CLASSIFY_R_SPOOF_REJECTED] = "spoofing.rejected_by_user",
	[CLASSIFY_R_SPOOF_REJECTED_PASSES] = "spoofing.rejected_but_passes",
	[CLASSIFY_R_SPOOF_OTHER_DOMAIN] = "spoofing.other_domain_auth",
	[CLASSIFY_R_SPOOF_NO_AUTH] = "spoofing.no_auth",
	[CLASSIFY_R_UNK_NO_DATA] = "unknown.no_data",
	[CLASSIFY_R_UNK_DKIM_BROKEN] = "unknown.aligned_dkim_failed",
	[CLASSIFY_R_UNK_PENDING] = "unknown.not_enriched",
};

const char *
classify_class_name(enum classify_class c)
{
	return (unsigned)c < CLASSIFY_CLASS_N ? classify_classes[c] : "unknown";
}

int
classify_class_parse(const char *s)
{
	for (int i = 0; i < CLASSIFY_CLASS_N; i++)
		if (strcmp(s, classify_classes[i]) == 0)
			return i;
	if (strcmp(s, "spoofing_suspected") == 0)
		return CLASSIFY_SPOOFING;
	return -1;
}

const char *
classify_reason_code(enum classify_reason r)
{
	return (unsigned)r < CLASSIFY_REASON_N ? classify_codes[r] : "";
}

static int
classify_is(const char *v, const char *want)
{
	return v != NULL && strcmp(v, want) == 0;
}

/* What the record's authentication results say, computed once. */
struct classify_facts {
	const char *from;                    /* header_from, else policy domain */
	int dkim_aligned_pass, spf_aligned_pass;
	const char *dkim_aligned_sig;        /* aligned d= present (any result) */
	int dkim_aligned_sig_fails;
	const char *dkim_other_pass;         /* passing, not aligned */
	const char *dkim_other_fail;         /* failing, not aligned */
	const char *spf_other_pass;          /* passing, not aligned */
	const char *spf_aligned_fail;        /* aligned domain, result not pass */
	const struct catalog_service *auth_service;   /* of a passing domain */
	const struct catalog_service *list_service;   /* forwarder / list */
	const char *override;
	int any_pass;
	int no_data;
};

/* Services a domain owner sends through (R8); consumer mail, carriers,
 * ISPs, forwarders and lists are not. */
static int
classify_sending_type(const struct catalog_service *s)
{
	switch (s->type) {
	case CATALOG_WEBMAIL:
	case CATALOG_CARRIER:
	case CATALOG_ISP:
	case CATALOG_FORWARDER:
	case CATALOG_MAILING_LIST:
		return 0;
	default:
		return 1;
	}
}

static int
classify_forwarding_type(const struct catalog_service *s)
{
	return s != NULL && (s->type == CATALOG_FORWARDER || s->type == CATALOG_MAILING_LIST);
}

static void
classify_facts(const struct classify_ctx *ctx, const struct classify_input *in,
    struct classify_facts *f)
{
	int dstrict = classify_is(in->adkim, "s"), sstrict = classify_is(in->aspf, "s");

	memset(f, 0, sizeof(*f));
	f->from = in->header_from && *in->header_from ? in->header_from : in->policy_domain;
	f->dkim_aligned_pass = classify_is(in->dkim_eval, "pass");
	f->spf_aligned_pass = classify_is(in->spf_eval, "pass");
	for (size_t i = 0; i < in->n_dkim; i++) {
		const struct classify_auth *a = &in->dkim[i];
		int pass = classify_is(a->result, "pass");
		int aligned = orgdom_aligned(a->domain, f->from, dstrict);

		if (a->domain == NULL || *a->domain == '\0')
			continue;
		if (aligned) {
			if (f->dkim_aligned_sig == NULL || pass)
				f->dkim_aligned_sig = a->domain;
			if (pass)
				f->dkim_aligned_pass = 1;
		} else if (pass) {
			const struct catalog_service *s = ctx->cat ? catalog_by_dkim(ctx->cat, a->domain) : NULL;
			if (f->dkim_other_pass == NULL || (s != NULL && f->auth_service == NULL))
				f->dkim_other_pass = a->domain;
			if (s != NULL && f->auth_service == NULL)
				f->auth_service = s;
			if (classify_forwarding_type(s) && f->list_service == NULL)
				f->list_service = s;
		} else if (f->dkim_other_fail == NULL)
			f->dkim_other_fail = a->domain;
		if (pass)
			f->any_pass = 1;
	}
	f->dkim_aligned_sig_fails = f->dkim_aligned_sig != NULL && !f->dkim_aligned_pass;
	for (size_t i = 0; i < in->n_spf; i++) {
		const struct classify_auth *a = &in->spf[i];
		int pass = classify_is(a->result, "pass");

		if (a->domain == NULL || *a->domain == '\0')
			continue;
		if (orgdom_aligned(a->domain, f->from, sstrict)) {
			if (pass)
				f->spf_aligned_pass = 1;
			else if (f->spf_aligned_fail == NULL)
				f->spf_aligned_fail = a->domain;
		} else if (pass) {
			const struct catalog_service *s = ctx->cat ? catalog_by_spf(ctx->cat, a->domain) : NULL;
			if (f->spf_other_pass == NULL)
				f->spf_other_pass = a->domain;
			if (s != NULL && f->auth_service == NULL)
				f->auth_service = s;
			if (classify_forwarding_type(s) && f->list_service == NULL)
				f->list_service = s;
		}
		if (pass)
			f->any_pass = 1;
	}
	if (f->list_service == NULL && in->src && classify_forwarding_type(in->src->service))
		f->list_service = in->src->service;
	for (size_t i = 0; i < in->n_reasons; i++) {
		const char *t = in->reasons[i];
		if (classify_is(t, "forwarded") || classify_is(t, "mailing_list") ||
		    classify_is(t, "trusted_forwarder") || classify_is(t, "local_policy")) {
			f->override = t;
			break;
		}
	}
	f->no_data = !classify_is(in->dmarc, "pass") && !classify_is(in->dmarc, "fail") &&
	    !classify_is(in->dkim_eval, "pass") && !classify_is(in->dkim_eval, "fail") &&
	    !classify_is(in->spf_eval, "pass") && !classify_is(in->spf_eval, "fail") &&
	    in->n_dkim == 0 && in->n_spf == 0;
}

/* Which part fails, for misconfigured sources (and the SPF-only note). */
static void
classify_parts(const struct classify_facts *f, struct classify_result *r, int dkim_too)
{
	if (dkim_too) {
		if (f->dkim_other_pass != NULL) {
			r->reason = CLASSIFY_R_MIS_DKIM_OTHER;
			r->dkim_domain = f->dkim_other_pass;
		} else if (f->dkim_aligned_sig_fails) {
			r->reason = CLASSIFY_R_MIS_DKIM_FAILS;
			r->dkim_domain = f->dkim_aligned_sig;
		} else if (f->dkim_other_fail != NULL) {
			r->reason = CLASSIFY_R_MIS_DKIM_FAILS;
			r->dkim_domain = f->dkim_other_fail;
		} else
			r->reason = CLASSIFY_R_MIS_DKIM_MISSING;
	}
	if (f->spf_aligned_pass)
		r->detail = CLASSIFY_R_NONE;
	else if (f->spf_other_pass != NULL) {
		r->detail = CLASSIFY_R_SPF_OTHER;
		r->spf_domain = f->spf_other_pass;
	} else if (f->spf_aligned_fail != NULL) {
		r->detail = CLASSIFY_R_SPF_FAILS;
		r->spf_domain = f->spf_aligned_fail;
	} else
		r->detail = CLASSIFY_R_SPF_NONE;
}

void
classify_record(const struct classify_ctx *ctx, const struct classify_input *in,
    struct classify_result *r)
{
	struct classify_facts f;
	struct userrules_match m;
	const struct classify_source *src = in->src;
	const struct catalog_service *host_svc = src ? src->service : NULL;
	int forwards_host;

	classify_facts(ctx, in, &f);
	memset(r, 0, sizeof(*r));
	r->service = host_svc != NULL ? host_svc : f.auth_service;

	/* The user's rules: source-level matches plus DKIM and service ones. */
	if (src != NULL)
		m = src->rules;
	else
		userrules_match_init(&m);
	if (ctx->rules != NULL) {
		for (size_t i = 0; i < in->n_dkim; i++)
			if (classify_is(in->dkim[i].result, "pass"))
				userrules_match_dkim(ctx->rules, in->policy_domain, in->dkim[i].domain, &m);
		if (f.auth_service != NULL && f.auth_service != host_svc)
			userrules_match_service(ctx->rules, in->policy_domain, f.auth_service->id, &m);
	}
	r->approved = m.action == USERRULES_APPROVE;
	r->own = (host_svc != NULL && host_svc->type == CATALOG_OWN) ||
	    (src != NULL && src->fcrdns == 1 && src->base_domain != NULL &&
	    orgdom_aligned(src->base_domain, f.from, 0));
	forwards_host = host_svc != NULL && host_svc->forwards;

	/* R1: the reporter gave no evaluation and no results. */
	if (f.no_data) {
		r->cls = CLASSIFY_UNKNOWN;
		r->reason = CLASSIFY_R_UNK_NO_DATA;
		return;
	}
	/* R2: the user rejected this source. */
	if (m.action == USERRULES_REJECT) {
		r->cls = CLASSIFY_SPOOFING;
		r->reason = f.dkim_aligned_pass || f.spf_aligned_pass ?
		    CLASSIFY_R_SPOOF_REJECTED_PASSES : CLASSIFY_R_SPOOF_REJECTED;
		return;
	}
	/* R3: DMARC passes (aligned DKIM or aligned SPF). */
	if (f.dkim_aligned_pass) {
		r->dkim_domain = f.dkim_aligned_sig;
		if (!f.spf_aligned_pass && !r->approved && !r->own &&
		    (f.override != NULL || f.list_service != NULL || f.spf_aligned_fail != NULL)) {
			r->cls = CLASSIFY_FORWARDED;
			r->reason = CLASSIFY_R_FWD_DKIM_SURVIVED;
			r->override = f.override;
			if (f.list_service != NULL)
				r->service = f.list_service;
			return;
		}
		r->cls = CLASSIFY_LEGITIMATE;
		r->reason = f.spf_aligned_pass ? CLASSIFY_R_LEGIT_DKIM_SPF : CLASSIFY_R_LEGIT_DKIM;
		if (!f.spf_aligned_pass)
			classify_parts(&f, r, 0);
		return;
	}
	if (f.spf_aligned_pass || classify_is(in->dmarc, "pass")) {
		r->cls = CLASSIFY_LEGITIMATE;
		classify_parts(&f, r, 1);
		r->detail = r->reason;          /* the DKIM part */
		r->reason = CLASSIFY_R_LEGIT_SPF_ONLY;
		return;
	}
	/* R4: the receiver applied a forwarding / local-policy override. */
	if (f.override != NULL) {
		r->cls = CLASSIFY_FORWARDED;
		r->reason = CLASSIFY_R_FWD_OVERRIDE;
		r->override = f.override;
		return;
	}
	/* R5: a known forwarder or mailing-list host. */
	if (f.list_service != NULL && !r->approved && !r->own) {
		r->cls = CLASSIFY_FORWARDED;
		r->service = f.list_service;
		r->reason = f.list_service->type == CATALOG_MAILING_LIST ?
		    CLASSIFY_R_FWD_MAILING_LIST : CLASSIFY_R_FWD_KNOWN;
		return;
	}
	/* R6: the user's own or approved source failing alignment. */
	if (r->approved || r->own) {
		r->cls = CLASSIFY_MISCONFIGURED;
		classify_parts(&f, r, 1);
		return;
	}
	/* R7: a provider that forwards its users' mail broke our DKIM. */
	if (forwards_host && f.dkim_aligned_sig_fails) {
		r->cls = CLASSIFY_FORWARDED;
		r->reason = CLASSIFY_R_FWD_DKIM_BROKEN;
		r->dkim_domain = f.dkim_aligned_sig;
		return;
	}
	/* R8: a known service authenticating as its own domain. */
	if (r->service != NULL && classify_sending_type(r->service) &&
	    (f.dkim_other_pass != NULL || f.spf_other_pass != NULL)) {
		r->cls = CLASSIFY_MISCONFIGURED;
		classify_parts(&f, r, 1);
		return;
	}
	/* R9: a forwarding provider, nothing authenticated. */
	if (forwards_host && !f.any_pass) {
		r->cls = CLASSIFY_FORWARDED;
		r->reason = CLASSIFY_R_FWD_VIA_PROVIDER;
		return;
	}
	/* R10: our DKIM signature failed from an unidentified source. */
	if (f.dkim_aligned_sig_fails) {
		r->cls = CLASSIFY_UNKNOWN;
		r->reason = CLASSIFY_R_UNK_DKIM_BROKEN;
		r->dkim_domain = f.dkim_aligned_sig;
		return;
	}
	/* R11: not enriched yet: the host name may still identify it. */
	if (src != NULL && src->pending) {
		r->cls = CLASSIFY_UNKNOWN;
		r->reason = CLASSIFY_R_UNK_PENDING;
		return;
	}
	/* R12: spoofing suspected. */
	r->cls = CLASSIFY_SPOOFING;
	if (f.dkim_other_pass != NULL || f.spf_other_pass != NULL) {
		r->reason = CLASSIFY_R_SPOOF_OTHER_DOMAIN;
		r->dkim_domain = f.dkim_other_pass;
		r->spf_domain = f.spf_other_pass;
	} else
		r->reason = CLASSIFY_R_SPOOF_NO_AUTH;
}

/*
 * test_classify.c - the classification rules (docs/classification.md),
 * one table row per rule and per part of the misconfigured reasons, with
 * the shipped catalog; plus determinism, the message catalog (every
 * reason has English and Japanese text with the same placeholders) and
 * a speed check of one million classifications.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analyze/catalog.h"
#include "analyze/classify.h"
#include "analyze/messages.h"
#include "analyze/userrules.h"

#define MAXA 4

struct tcase {
	const char *name;
	const char *dmarc, *dkim_eval, *spf_eval;
	const char *dkim[MAXA][2];     /* domain, result */
	const char *spf[MAXA][2];
	const char *reason;            /* override type or NULL */
	const char *ptr;               /* host name of the source, NULL none */
	int fcrdns, pending;
	enum userrules_action user;
	/* expected */
	enum classify_class cls;
	const char *code, *detail;
	const char *service;
	const char *dkim_domain, *spf_domain;
};

#define FROM "example.co.jp"

static const struct tcase cases[] = {
	{ "no data", "unknown", "unknown", "unknown", {{0}}, {{0}}, NULL, NULL, -1, 0, 0,
	  CLASSIFY_UNKNOWN, "unknown.no_data", "", NULL, NULL, NULL },
	{ "own server, all aligned", "pass", "pass", "pass", {{ FROM, "pass" }}, {{ FROM, "pass" }},
	  NULL, "mx1.example.co.jp", 1, 0, 0,
	  CLASSIFY_LEGITIMATE, "legitimate.dkim_spf_aligned", "", NULL, FROM, NULL },
	{ "ESP with aligned DKIM, own bounce domain", "pass", "pass", "fail",
	  {{ FROM, "pass" }, { "sendgrid.net", "pass" }}, {{ "sendgrid.net", "pass" }},
	  NULL, "o1.sendgrid.net", 1, 0, 0,
	  CLASSIFY_LEGITIMATE, "legitimate.dkim_aligned", "spf.other_domain", "sendgrid", FROM, "sendgrid.net" },
	{ "SPF only", "pass", "fail", "pass", {{0}}, {{ FROM, "pass" }}, NULL, NULL, -1, 0, 0,
	  CLASSIFY_LEGITIMATE, "legitimate.spf_only", "misconfigured.dkim_missing", NULL, NULL, NULL },
	{ "forwarder: DKIM survived, SPF fails for our domain", "pass", "pass", "fail",
	  {{ FROM, "pass" }}, {{ FROM, "fail" }}, NULL, "relay.university.example", 1, 0, 0,
	  CLASSIFY_FORWARDED, "forwarded.dkim_survived", "", NULL, FROM, NULL },
	{ "approved own server with DKIM, missing from SPF: legitimate", "pass", "pass", "fail",
	  {{ FROM, "pass" }}, {{ FROM, "fail" }}, NULL, NULL, -1, 0, USERRULES_APPROVE,
	  CLASSIFY_LEGITIMATE, "legitimate.dkim_aligned", "spf.fails", NULL, FROM, FROM },
	{ "override forwarded", "fail", "fail", "fail", {{ FROM, "fail" }}, {{ FROM, "fail" }},
	  "forwarded", NULL, -1, 0, 0,
	  CLASSIFY_FORWARDED, "forwarded.override", "", NULL, NULL, NULL },
	{ "override local_policy", "fail", "fail", "fail", {{0}}, {{ FROM, "softfail" }},
	  "local_policy", NULL, -1, 0, 0,
	  CLASSIFY_FORWARDED, "forwarded.override", "", NULL, NULL, NULL },
	{ "sampled_out is not an override", "fail", "fail", "fail", {{0}}, {{ FROM, "fail" }},
	  "sampled_out", "dyn-1-2-3-4.isp.example", 1, 0, 0,
	  CLASSIFY_SPOOFING, "spoofing.no_auth", "", NULL, NULL, NULL },
	{ "mailing list by host label", "fail", "fail", "fail", {{ FROM, "fail" }},
	  {{ "lists.example.org", "pass" }}, NULL, "lists.example.org", 1, 0, 0,
	  CLASSIFY_FORWARDED, "forwarded.mailing_list", "", "mailing-lists", NULL, NULL },
	{ "Google Groups by DKIM", "fail", "fail", "fail",
	  {{ FROM, "fail" }, { "googlegroups.com", "pass" }}, {{ "googlegroups.com", "pass" }},
	  NULL, "mail-sor-f69.google.com", 1, 0, 0,
	  CLASSIFY_FORWARDED, "forwarded.mailing_list", "", "google-groups", NULL, NULL },
	{ "iCloud relay", "fail", "fail", "fail", {{0}}, {{ "privaterelay.appleid.com", "pass" }},
	  NULL, NULL, -1, 0, 0,
	  CLASSIFY_FORWARDED, "forwarded.known_forwarder", "", "icloud-relay", NULL, NULL },
	{ "SendGrid without aligned DKIM", "fail", "fail", "fail",
	  {{ "sendgrid.net", "pass" }}, {{ "sendgrid.net", "pass" }}, NULL, "o1.sendgrid.net", 1, 0, 0,
	  CLASSIFY_MISCONFIGURED, "misconfigured.dkim_other_domain", "spf.other_domain", "sendgrid",
	  "sendgrid.net", "sendgrid.net" },
	{ "SendGrid identified by DKIM only (no PTR)", "fail", "fail", "fail",
	  {{ "sendgrid.net", "pass" }}, {{0}}, NULL, NULL, -1, 0, 0,
	  CLASSIFY_MISCONFIGURED, "misconfigured.dkim_other_domain", "spf.none", "sendgrid",
	  "sendgrid.net", NULL },
	{ "Workspace without DKIM for the domain", "fail", "fail", "fail",
	  {{ "example-co-jp.20230601.gappssmtp.com", "pass" }}, {{ FROM, "softfail" }},
	  NULL, "mail-pj1-f41.google.com", 1, 0, 0,
	  CLASSIFY_MISCONFIGURED, "misconfigured.dkim_other_domain", "spf.fails", "google-workspace",
	  "example-co-jp.20230601.gappssmtp.com", FROM },
	{ "approved server without DKIM", "fail", "fail", "fail", {{0}}, {{ FROM, "fail" }},
	  NULL, "old-mta.example.net", 1, 0, USERRULES_APPROVE,
	  CLASSIFY_MISCONFIGURED, "misconfigured.dkim_missing", "spf.fails", NULL, NULL, FROM },
	{ "own host name (FCrDNS) with failing DKIM", "fail", "fail", "fail",
	  {{ FROM, "fail" }}, {{ "mx1.example.co.jp", "pass" }}, NULL, "mx1.example.co.jp", 1, 0, 0,
	  CLASSIFY_LEGITIMATE, "legitimate.spf_only", "misconfigured.dkim_fails", NULL, FROM, NULL },
	{ "own host name without FCrDNS is not own", "fail", "fail", "fail",
	  {{0}}, {{ FROM, "fail" }}, NULL, "mx1.example.co.jp", 0, 0, 0,
	  CLASSIFY_SPOOFING, "spoofing.no_auth", "", NULL, NULL, NULL },
	{ "provider that forwards broke our DKIM", "fail", "fail", "fail",
	  {{ FROM, "fail" }}, {{ FROM, "fail" }}, NULL, "mail-x.outbound.protection.outlook.com", 1, 0, 0,
	  CLASSIFY_FORWARDED, "forwarded.dkim_broken", "", "microsoft365", FROM, NULL },
	{ "carrier relays with nothing authenticated", "fail", "fail", "fail",
	  {{0}}, {{ FROM, "fail" }}, NULL, "mta01.ezweb.ne.jp", 1, 0, 0,
	  CLASSIFY_FORWARDED, "forwarded.via_provider", "", "kddi", NULL, NULL },
	{ "consumer webmail domain auth from elsewhere is spoofing", "fail", "fail", "fail",
	  {{ "outlook.com", "pass" }}, {{ "hotmail.com", "pass" }}, NULL, NULL, -1, 0, 0,
	  CLASSIFY_SPOOFING, "spoofing.other_domain_auth", "", "outlook-com", "outlook.com", "hotmail.com" },
	{ "aligned DKIM fails from nowhere known", "fail", "fail", "fail",
	  {{ FROM, "fail" }}, {{ FROM, "fail" }}, NULL, "host.example.net", 1, 0, 0,
	  CLASSIFY_UNKNOWN, "unknown.aligned_dkim_failed", "", NULL, FROM, NULL },
	{ "not enriched yet", "fail", "fail", "fail", {{0}}, {{ FROM, "fail" }}, NULL, NULL, -1, 1, 0,
	  CLASSIFY_UNKNOWN, "unknown.not_enriched", "", NULL, NULL, NULL },
	{ "spoofer", "fail", "fail", "fail", {{0}}, {{ FROM, "fail" }}, NULL, NULL, -1, 0, 0,
	  CLASSIFY_SPOOFING, "spoofing.no_auth", "", NULL, NULL, NULL },
	{ "spoofer signing with its own domain", "fail", "fail", "fail",
	  {{ "spammer.example", "pass" }}, {{ "spammer.example", "pass" }}, NULL, NULL, -1, 0, 0,
	  CLASSIFY_SPOOFING, "spoofing.other_domain_auth", "", NULL, "spammer.example", "spammer.example" },
	{ "rejected source", "fail", "fail", "fail", {{0}}, {{ FROM, "fail" }}, NULL, NULL, -1, 0,
	  USERRULES_REJECT, CLASSIFY_SPOOFING, "spoofing.rejected_by_user", "", NULL, NULL, NULL },
	{ "rejected source that passes", "pass", "fail", "pass", {{0}}, {{ FROM, "pass" }}, NULL,
	  NULL, -1, 0, USERRULES_REJECT,
	  CLASSIFY_SPOOFING, "spoofing.rejected_but_passes", "", NULL, NULL, NULL },
};

static void
run_case(const struct tcase *t, const struct classify_ctx *ctx, struct classify_result *r)
{
	struct classify_auth dk[MAXA], sp[MAXA];
	const char *rs[1];
	struct classify_source src;
	struct classify_input in;
	size_t nd = 0, ns = 0;

	for (size_t i = 0; i < MAXA && t->dkim[i][0]; i++, nd++)
		dk[i] = (struct classify_auth){ t->dkim[i][0], t->dkim[i][1] };
	for (size_t i = 0; i < MAXA && t->spf[i][0]; i++, ns++)
		sp[i] = (struct classify_auth){ t->spf[i][0], t->spf[i][1] };
	memset(&src, 0, sizeof(src));
	src.ip = "192.0.2.1";
	src.ptr = t->ptr;
	src.fcrdns = t->fcrdns;
	src.pending = t->pending;
	if (t->ptr) {
		const char *dot = strchr(t->ptr, '.');
		/* base domain as libpsl would give it for these fixtures */
		src.base_domain = strstr(t->ptr, "example.co.jp") ? "example.co.jp" : (dot ? dot + 1 : NULL);
		if (t->fcrdns != 0)
			src.service = catalog_by_host(ctx->cat, t->ptr);
	}
	userrules_match_init(&src.rules);
	src.rules.action = t->user;
	memset(&in, 0, sizeof(in));
	in.policy_domain = FROM;
	in.header_from = FROM;
	in.dmarc = t->dmarc;
	in.dkim_eval = t->dkim_eval;
	in.spf_eval = t->spf_eval;
	in.dkim = dk;
	in.n_dkim = nd;
	in.spf = sp;
	in.n_spf = ns;
	rs[0] = t->reason;
	in.reasons = rs;
	in.n_reasons = t->reason ? 1 : 0;
	in.src = &src;
	classify_record(ctx, &in, r);
}

static int
streq_null(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void
test_rules(void **state)
{
	struct classify_ctx ctx = { catalog_default(), NULL };
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *t = &cases[i];
		struct classify_result r;
		const char *svc;

		run_case(t, &ctx, &r);
		svc = r.service ? r.service->id : NULL;
		if (r.cls != t->cls || strcmp(classify_reason_code(r.reason), t->code) != 0 ||
		    strcmp(classify_reason_code(r.detail), t->detail) != 0 ||
		    !streq_null(svc, t->service) || !streq_null(r.dkim_domain, t->dkim_domain) ||
		    !streq_null(r.spf_domain, t->spf_domain)) {
			print_error("case \"%s\": got %s %s / %s service=%s dkim=%s spf=%s\n", t->name,
			    classify_class_name(r.cls), classify_reason_code(r.reason),
			    classify_reason_code(r.detail), svc ? svc : "-",
			    r.dkim_domain ? r.dkim_domain : "-", r.spf_domain ? r.spf_domain : "-");
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void
test_deterministic(void **state)
{
	struct classify_ctx ctx = { catalog_default(), NULL };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct classify_result a, b;
		run_case(&cases[i], &ctx, &a);
		run_case(&cases[i], &ctx, &b);
		assert_memory_equal(&a, &b, sizeof(a));
	}
}

/* Placeholders of a template, in order, as one string. */
static void
placeholders(const char *t, char *out, size_t len)
{
	size_t k = 0;

	out[0] = '\0';
	for (const char *p = strchr(t, '{'); p; p = strchr(p + 1, '{')) {
		const char *e = strchr(p, '}');
		if (e == NULL || k + (size_t)(e - p) + 2 >= len)
			break;
		memcpy(out + k, p, (size_t)(e - p + 1));
		k += (size_t)(e - p + 1);
		out[k] = '\0';
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_messages(void **state)
{
	char pe[512], pj[512];

	(void)state;
	/* every reason code and class has en + ja text */
	for (int r = 1; r < CLASSIFY_REASON_N; r++) {
		const char *code = classify_reason_code((enum classify_reason)r);
		if (messages_get(code, "en") == NULL || messages_get(code, "ja") == NULL)
			fail_msg("no message for %s", code);
	}
	for (int c = 0; c < CLASSIFY_CLASS_N; c++) {
		char key[64];
		snprintf(key, sizeof(key), "class.%s", classify_class_name((enum classify_class)c));
		assert_non_null(messages_get(key, "ja"));
	}
	/* the same set of placeholders in both languages (order may differ) */
	for (size_t i = 0; i < messages_count(); i++) {
		const char *k = messages_key(i);
		char *a[32], *b[32];
		size_t na = 0, nb = 0;
		placeholders(messages_get(k, "en"), pe, sizeof(pe));
		placeholders(messages_get(k, "ja"), pj, sizeof(pj));
		/* split into tokens without strtok: each "{name}" */
		for (char *p = pe; (p = strchr(p, '{')) && na < 32; p++)
			a[na++] = p;
		for (char *p = pj; (p = strchr(p, '{')) && nb < 32; p++)
			b[nb++] = p;
		for (char *p = pe; *p; p++) if (*p == '}') *p = '\0';
		for (char *p = pj; *p; p++) if (*p == '}') *p = '\0';
		qsort(a, na, sizeof(*a), cmp_str);
		qsort(b, nb, sizeof(*b), cmp_str);
		if (na != nb)
			fail_msg("%s: %zu placeholders in en, %zu in ja", k, na, nb);
		for (size_t j = 0; j < na; j++)
			if (strcmp(a[j], b[j]) != 0)
				fail_msg("%s: en has %s}, ja has %s}", k, a[j], b[j]);
	}
	/* rendering */
	{
		json_t *p = json_pack("{s:s, s:s, s:s}", "who", "SendGrid", "dkim_domain", "sendgrid.net",
		    "from", "example.co.jp");
		char *en = messages_render("misconfigured.dkim_other_domain", "en", p);
		char *ja = messages_render("misconfigured.dkim_other_domain", "ja", p);
		assert_string_equal(en, "SendGrid signs with DKIM d=sendgrid.net, which is not aligned with example.co.jp.");
		assert_non_null(strstr(ja, "d=sendgrid.net"));
		free(en);
		free(ja);
		en = messages_render("no.such.key", "en", p);
		assert_string_equal(en, "no.such.key");
		free(en);
		json_decref(p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

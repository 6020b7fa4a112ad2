/*
 * test_catalog.c - the known-senders catalog: the shipped data/senders.conf
 * parses and names the services the issue lists; lookups match on label
 * boundaries, longest suffix first; a user file extends and overrides;
 * malformed files are rejected with file:line; user rules' CIDR and glob
 * matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "analyze/catalog.h"
#include "analyze/ipnet.h"
#include "analyze/orgdom.h"
#include "analyze/userrules.h"

static const char *
id_of(const struct catalog_service *s)
{
	return s ? s->id : "(none)";
}

static void
test_shipped_parses(void **state)
{
	const struct catalog *c = catalog_default();
	static const char *const must[] = {
		"google-workspace", "microsoft365", "amazon-ses", "sendgrid", "mailchimp",
		"mandrill", "mailgun", "postmark", "sparkpost", "salesforce", "salesforce-mc",
		"zendesk", "hubspot", "zoho", "kddi", "docomo", "softbank", "biglobe", "nifty",
		"so-net", "ocn", "sakura", "xserver", "benchmark-email", "cuenote", "blastmail",
		"willmail", "aspic", "google-groups", "groups-io", "mailing-lists", "icloud-relay",
	};

	(void)state;
	assert_null(catalog_default_error());
	assert_true(catalog_count(c) >= 60);
	assert_string_not_equal(catalog_version(c), "unknown");
	for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++) {
		if (catalog_by_id(c, must[i]) == NULL)
			fail_msg("catalog lacks %s", must[i]);
	}
	/* every service has a name and a valid type */
	for (size_t i = 0; i < catalog_count(c); i++) {
		const struct catalog_service *s = catalog_at(c, i);
		assert_non_null(s->name);
		assert_true(s->type < CATALOG_TYPE_N);
	}
}

static void
test_lookups(void **state)
{
	const struct catalog *c = catalog_default();

	(void)state;
	assert_string_equal(id_of(catalog_by_host(c, "o1.ptr1234.sendgrid.net")), "sendgrid");
	assert_string_equal(id_of(catalog_by_host(c, "O1.SendGrid.NET.")), "sendgrid");
	assert_string_equal(id_of(catalog_by_host(c, "a8-1.smtp-out.amazonses.com")), "amazon-ses");
	/* longest suffix wins: outbound.protection.outlook.com is M365, outlook.com is consumer */
	assert_string_equal(id_of(catalog_by_host(c, "mail-ty1jpn01on2101.outbound.protection.outlook.com")),
	    "microsoft365");
	assert_string_equal(id_of(catalog_by_host(c, "mail-x.hotmail.com")), "outlook-com");
	/* label boundary: notsendgrid.net is not sendgrid.net */
	assert_null(catalog_by_host(c, "mail.notsendgrid.net"));
	/* first-label rule */
	assert_string_equal(id_of(catalog_by_host(c, "lists.example.org")), "mailing-lists");
	assert_null(catalog_by_host(c, "lists"));
	assert_string_equal(id_of(catalog_by_dkim(c, "example-co-jp.20230601.gappssmtp.com")),
	    "google-workspace");
	assert_string_equal(id_of(catalog_by_dkim(c, "googlegroups.com")), "google-groups");
	assert_string_equal(id_of(catalog_by_spf(c, "bounces.mcsv.net")), "mailchimp");
	assert_string_equal(id_of(catalog_by_spf(c, "lists.debian.org")), "mailing-lists");
	assert_string_equal(id_of(catalog_by_asn(c, 11377)), "sendgrid");
	assert_null(catalog_by_asn(c, 15169));  /* shared Google AS is deliberately absent */
	assert_string_equal(id_of(catalog_by_host(c, "mta.ezweb.ne.jp")), "kddi");
	assert_int_equal(catalog_by_id(c, "kddi")->type, CATALOG_CARRIER);
	assert_true(catalog_by_id(c, "kddi")->forwards);
	assert_int_equal(catalog_by_id(c, "gmail")->type, CATALOG_WEBMAIL);
	assert_null(catalog_by_host(c, NULL));
	assert_null(catalog_by_host(c, ""));
}

static void
test_user_file(void **state)
{
	struct catalog *c = catalog_new();
	char err[256];
	static const char base[] =
	    "[catalog]\nformat = 1\nversion = 9\n\n[acme]\nname = Acme Mail\ntype = esp\n"
	    "host = acme-mail.test\ndkim = acme-mail.test\n";
	static const char user[] =
	    "# ours\n[acme]\ndkim = mail.example.co.jp\n\n[our-mta]\nname = Our MTA\ntype = own\n"
	    "host = mx.example.co.jp\nasn = AS64500\n";

	(void)state;
	assert_int_equal(catalog_load_buf(c, base, strlen(base), "base", err, sizeof(err)), 0);
	assert_int_equal(catalog_load_buf(c, user, strlen(user), "user", err, sizeof(err)), 0);
	assert_string_equal(catalog_version(c), "9");
	assert_string_equal(id_of(catalog_by_dkim(c, "s1.mail.example.co.jp")), "acme");
	assert_string_equal(id_of(catalog_by_dkim(c, "acme-mail.test")), "acme");
	assert_string_equal(catalog_by_id(c, "acme")->name, "Acme Mail");
	assert_int_equal(catalog_by_id(c, "our-mta")->type, CATALOG_OWN);
	assert_string_equal(id_of(catalog_by_asn(c, 64500)), "our-mta");
	assert_int_equal(catalog_count(c), 2);
	catalog_free(&c);
	assert_null(c);
}

static void
test_errors(void **state)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "name = x\n", "base:1: key outside a section" },
		{ "[catalog]\nformat = 2\n", "base:2: unsupported format 2" },
		{ "[a]\ntype = spaceship\n", "base:2: unknown type" },
		{ "[a]\nhost = bad/name\n", "base:2: bad name" },
		{ "[a]\nasn = 12x\n", "base:2: bad ASN" },
		{ "[a]\ncolour = red\n", "base:2: unknown key" },
		{ "[A B]\n", "base:1: bad service id" },
		{ "[a\n", "base:1: malformed section header" },
		{ "[a]\njust text\n", "base:2: expected key = value" },
		{ "[a]\nforwards = maybe\n", "base:2: forwards must be yes or no" },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct catalog *c = catalog_new();
		assert_int_equal(catalog_load_buf(c, bad[i].text, strlen(bad[i].text), "base",
		    err, sizeof(err)), -1);
		if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err, bad[i].want);
		catalog_free(&c);
	}
	{
		/* a line longer than the limit, and a NUL byte */
		struct catalog *c = catalog_new();
		char big[5000];
		memset(big, 'a', sizeof(big));
		big[0] = '[';
		assert_int_equal(catalog_load_buf(c, big, sizeof(big), "base", err, sizeof(err)), -1);
		assert_int_equal(catalog_load_buf(c, "[a]\nname = x\0y\n", 15, "base", err, sizeof(err)), -1);
		catalog_free(&c);
	}
}

static void
test_ipnet_and_orgdom(void **state)
{
	struct ipnet n;
	char buf[64];

	(void)state;
	assert_int_equal(ipnet_parse("203.0.113.77/24", &n), 0);
	ipnet_format(&n, buf, sizeof(buf));
	assert_string_equal(buf, "203.0.113.0/24");
	assert_true(ipnet_contains(&n, "203.0.113.5"));
	assert_false(ipnet_contains(&n, "203.0.114.5"));
	assert_false(ipnet_contains(&n, "2001:db8::1"));
	assert_int_equal(ipnet_parse("2001:db8::/32", &n), 0);
	assert_true(ipnet_contains(&n, "2001:db8:1::25"));
	assert_false(ipnet_contains(&n, "2001:db9::1"));
	assert_int_equal(ipnet_parse("10.0.0.0/33", &n), -1);
	assert_int_equal(ipnet_parse("10.0.0/8", &n), -1);
	assert_int_equal(ipnet_parse("/8", &n), -1);
	assert_int_equal(ipnet_parse("0.0.0.0/0", &n), 0);
	assert_true(ipnet_contains(&n, "198.51.100.1"));

	assert_string_equal(orgdom_get("mail-out.bounce.example.co.uk"), "example.co.uk");
	assert_string_equal(orgdom_get("mx1.example.co.jp"), "example.co.jp");
	assert_null(orgdom_get("203.0.113.4"));
	assert_null(orgdom_get(""));
	assert_true(orgdom_aligned("mail.example.co.jp", "example.co.jp", 0));
	assert_false(orgdom_aligned("mail.example.co.jp", "example.co.jp", 1));
	assert_false(orgdom_aligned("example.co.jp", "other.co.jp", 0));
	assert_false(orgdom_aligned(NULL, "example.co.jp", 0));
}

static void
test_userrules_match(void **state)
{
	struct userrules r = { 0 };
	struct userrule v[4];
	struct userrules_match m;
	char norm[64], err[128];

	(void)state;
	memset(v, 0, sizeof(v));
	v[0] = (struct userrule){ .id = 1, .action = USERRULES_APPROVE, .kind = USERRULES_IP,
	    .pattern = "203.0.113.0/24", .note = "our MTA" };
	ipnet_parse(v[0].pattern, &v[0].net);
	v[1] = (struct userrule){ .id = 2, .action = USERRULES_TAG, .kind = USERRULES_HOST,
	    .pattern = "*.mail.example.co.jp", .tag = "newsletter" };
	v[2] = (struct userrule){ .id = 3, .action = USERRULES_REJECT, .kind = USERRULES_IP,
	    .pattern = "203.0.113.66" };
	ipnet_parse(v[2].pattern, &v[2].net);
	v[3] = (struct userrule){ .id = 4, .action = USERRULES_APPROVE, .kind = USERRULES_DKIM,
	    .pattern = "example.co.jp", .domain = "example.co.jp" };
	r.v = v;
	r.n = 4;

	userrules_match_init(&m);
	userrules_match_source(&r, "example.co.jp", "203.0.113.5", "a.mail.example.co.jp", NULL, &m);
	assert_int_equal(m.action, USERRULES_APPROVE);
	assert_int_equal(m.rule_id, 1);
	assert_int_equal(m.n_tags, 1);
	assert_string_equal(m.tags[0], "newsletter");
	/* reject beats approve */
	userrules_match_init(&m);
	userrules_match_source(&r, "example.co.jp", "203.0.113.66", NULL, NULL, &m);
	assert_int_equal(m.action, USERRULES_REJECT);
	/* DKIM rule limited to one policy domain, subdomains match, look-alikes do not */
	userrules_match_init(&m);
	userrules_match_dkim(&r, "example.co.jp", "s.example.co.jp", &m);
	assert_int_equal(m.action, USERRULES_APPROVE);
	userrules_match_init(&m);
	userrules_match_dkim(&r, "other.jp", "example.co.jp", &m);
	assert_int_equal(m.action, USERRULES_NONE);
	userrules_match_init(&m);
	userrules_match_dkim(&r, "example.co.jp", "badexample.co.jp", &m);
	assert_int_equal(m.action, USERRULES_NONE);

	assert_int_equal(userrules_normalise(USERRULES_IP, "192.0.2.9/16", norm, sizeof(norm), err, sizeof(err)), 0);
	assert_string_equal(norm, "192.0.0.0/16");
	assert_int_equal(userrules_normalise(USERRULES_HOST, "*.Mail.Example.CO.JP", norm, sizeof(norm), err, sizeof(err)), 0);
	assert_string_equal(norm, "*.mail.example.co.jp");
	assert_int_equal(userrules_normalise(USERRULES_IP, "not-an-ip", norm, sizeof(norm), err, sizeof(err)), -1);
	assert_int_equal(userrules_normalise(USERRULES_DKIM, "a b", norm, sizeof(norm), err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_parses),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_user_file),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_ipnet_and_orgdom),
		cmocka_unit_test(test_userrules_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

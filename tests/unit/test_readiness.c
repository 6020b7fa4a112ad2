/*
 * test_readiness.c - policy readiness, sources and sender groups over a
 * real store (store_open on a temporary file) filled with hand-written
 * rows: own server, an ESP without aligned DKIM, forwarders and a spoofer.
 * Checks the simulation counts (forwarded apart), the verdict, the
 * checklist and that the next steps name the ESP and never advise adding
 * a forwarder to SPF; then that user rules change the result at once.
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
#include <jansson.h>
#include <sqlite3.h>

#include "analyze/analyze.h"
#include "store/store.h"

#define DAY 86400
#define T0 1700006400

struct fx {
	char dir[64], db[96];
	struct store *st;
	sqlite3 *h;
	int64_t report;
};

static void
exec(sqlite3 *h, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static void
add_report(struct fx *f, const char *org, const char *domain, const char *p, int day0, int days)
{
	char sql[1024];
	static int n;

	snprintf(sql, sizeof(sql),
	    "INSERT INTO reports(org_name, report_id, policy_domain, begin_ts, end_ts, p, sp, pct, adkim, aspf, "
	    "content_hash, dedup_key, imported_at) VALUES ('%s', 'r%d', '%s', %d, %d, '%s', NULL, 100, 'r', 'r', "
	    "x'00', 'k%d', 0)", org, n, domain, T0 + day0 * DAY, T0 + (day0 + days) * DAY - 1, p, n);
	n++;
	exec(f->h, sql);
	f->report = sqlite3_last_insert_rowid(f->h);
}

/* dkim/spf: "domain:result,domain:result"; written to records.detail
 * (store_sqlite.c migration 9) as the store writes it */
static void
add_record(struct fx *f, const char *ip, int count, const char *dkim_eval, const char *spf_eval,
    const char *dkim, const char *spf, const char *reason)
{
	char sql[2048], buf[256], detail[1024];
	size_t o = 0;
	const char *dmarc = strcmp(dkim_eval, "pass") == 0 || strcmp(spf_eval, "pass") == 0 ? "pass" : "fail";

	o += (size_t)snprintf(detail + o, sizeof(detail) - o, "{");
	for (int k = 0; k < 2; k++) {
		const char *list = k == 0 ? dkim : spf;
		char *save = NULL;
		int first = 1;
		if (list == NULL)
			continue;
		o += (size_t)snprintf(detail + o, sizeof(detail) - o, "%s\"%s\":[",
		    o > 1 ? "," : "", k == 0 ? "dkim" : "spf");
		snprintf(buf, sizeof(buf), "%s", list);
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			char *colon = strchr(t, ':');
			*colon = '\0';
			o += (size_t)snprintf(detail + o, sizeof(detail) - o,
			    "%s[\"%s\",null,\"%s\",null,null]", first ? "" : ",", t, colon + 1);
			first = 0;
		}
		o += (size_t)snprintf(detail + o, sizeof(detail) - o, "]");
	}
	if (reason != NULL)
		o += (size_t)snprintf(detail + o, sizeof(detail) - o, "%s\"reasons\":[[\"%s\",null,null]]",
		    o > 1 ? "," : "", reason);
	snprintf(detail + o, sizeof(detail) - o, "}");
	snprintf(sql, sizeof(sql), "INSERT INTO records(report, source_ip, count, disposition, dkim_eval, "
	    "spf_eval, dmarc, header_from, detail) VALUES (%lld, '%s', %d, 'none', '%s', '%s', '%s', "
	    "'example.co.jp', nullif('%s', '{}'))", (long long)f->report, ip, count, dkim_eval, spf_eval,
	    dmarc, detail);
	exec(f->h, sql);
}

static void
add_ipinfo(struct fx *f, const char *ip, const char *ptr, const char *base, int fcrdns)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "INSERT INTO ip_info(ip, ptr, ptr_status, fcrdns, base_domain, "
	    "resolved_at, expires_at) VALUES ('%s', %s%s%s, '%s', %d, %s%s%s, 0, 0)", ip,
	    ptr ? "'" : "", ptr ? ptr : "NULL", ptr ? "'" : "", ptr ? "ok" : "nxdomain", fcrdns,
	    base ? "'" : "", base ? base : "NULL", base ? "'" : "");
	exec(f->h, sql);
}

/* A month of mail for example.co.jp as two reporters see it. */
static void
fill(struct fx *f, int sendgrid_aligned)
{
	for (int d = 0; d < 20; d++) {
		for (int r = 0; r < 2; r++) {
			add_report(f, r ? "Yahoo" : "google.com", "example.co.jp", "none", d, 1);
			add_record(f, "192.0.2.10", 50, "pass", "pass", "example.co.jp:pass", "example.co.jp:pass", NULL);
			if (sendgrid_aligned)
				add_record(f, "167.89.1.5", 15, "pass", "fail", "example.co.jp:pass,sendgrid.net:pass",
				    "sendgrid.net:pass", NULL);
			else
				add_record(f, "167.89.1.5", 15, "fail", "fail", "sendgrid.net:pass", "sendgrid.net:pass", NULL);
			/* forwarders: one keeps our DKIM, one breaks it and the receiver says so */
			add_record(f, "198.51.100.20", 2, "pass", "fail", "example.co.jp:pass", "example.co.jp:fail", NULL);
			if (d % 4 == 0)
				add_record(f, "198.51.100.21", 1, "fail", "fail", "example.co.jp:fail",
				    "example.co.jp:fail", "forwarded");
			/* spoofer */
			add_record(f, "203.0.113.99", 3, "fail", "fail", NULL, "example.co.jp:fail", NULL);
		}
	}
	add_ipinfo(f, "192.0.2.10", "mx1.example.co.jp", "example.co.jp", 1);
	add_ipinfo(f, "167.89.1.5", "o1.ptr1234.sendgrid.net", "sendgrid.net", 1);
	add_ipinfo(f, "198.51.100.20", "relay.university.example", "university.example", 1);
	add_ipinfo(f, "198.51.100.21", NULL, NULL, 0);
	add_ipinfo(f, "203.0.113.99", NULL, NULL, 0);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_readiness.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/db.sqlite", f->dir);
	f->st = store_open(f->db, 0, err, sizeof(err));
	if (f->st == NULL)
		fail_msg("store_open: %s", err);
	f->h = (sqlite3 *)store_sqlite_handle(f->st);
	assert_non_null(f->h);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	store_close(&f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return 1;
	free(f);
	return 0;
}

static json_int_t
geti(json_t *o, const char *path)
{
	json_t *v = json_object_get(o, path);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", path);
	return json_integer_value(v);
}

static const char *
gets_(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void
test_not_ready(void **state)
{
	struct fx *f = *state;
	json_t *r, *sim, *steps, *v;
	size_t i;
	int saw_dkim_step = 0;

	fill(f, 0);
	r = analyze_readiness_json(f->st, "example.co.jp", 0, 0);
	if (r == NULL)
		fail_msg("readiness: %s", analyze_errmsg());
	sim = json_array_get(json_object_get(r, "simulation"), 1);
	assert_string_equal(gets_(sim, "policy"), "reject");
	assert_int_equal(geti(sim, "legitimate"), 20 * 2 * 15);
	assert_int_equal(geti(sim, "forwarded"), 5 * 2 * 1);
	assert_int_equal(geti(sim, "spoofing"), 20 * 2 * 3);
	assert_int_equal(geti(sim, "affected"), 600 + 10 + 120);
	assert_string_equal(gets_(json_object_get(r, "verdict"), "verdict"), "not_ready");
	assert_string_equal(gets_(json_object_get(r, "policy"), "p"), "none");
	assert_int_equal(geti(json_object_get(r, "policy"), "reporters"), 2);
	steps = json_object_get(r, "steps");
	json_array_foreach(steps, i, v) {
		const char *en = gets_(json_object_get(v, "messages"), "en");
		const char *ja = gets_(json_object_get(v, "messages"), "ja");
		assert_true(strlen(ja) > 0);
		if (strcmp(gets_(v, "code"), "step.dkim_at_service") == 0) {
			saw_dkim_step = 1;
			assert_int_equal(i, 0);   /* the most important step comes first */
			assert_non_null(strstr(en, "Add DKIM signing with d=example.co.jp at SendGrid"));
			assert_non_null(strstr(ja, "SendGrid"));
		}
		/* never: add the forwarder to SPF */
		if (strstr(en, "198.51.100.2") != NULL && strstr(en, "SPF") != NULL &&
		    strstr(en, "Do not add") == NULL)
			fail_msg("forwarder advice: %s", en);
		if (strcmp(gets_(v, "code"), "step.spf_own_ip") == 0 || strcmp(gets_(v, "code"), "step.spf_include") == 0)
			fail_msg("no SPF step expected here: %s", en);
	}
	assert_true(saw_dkim_step);
	{
		/* checklist: no_misconfigured is not ok, reports_received is */
		json_t *c;
		json_array_foreach(json_object_get(r, "checklist"), i, c) {
			if (strcmp(gets_(c, "id"), "no_misconfigured") == 0)
				assert_false(json_is_true(json_object_get(c, "ok")));
			if (strcmp(gets_(c, "id"), "reports_received") == 0)
				assert_true(json_is_true(json_object_get(c, "ok")));
		}
	}
	json_decref(r);

	/* sources: classes and reasons per IP */
	{
		struct query q = { .domain = "example.co.jp" };
		json_t *s = analyze_sources_json(f->st, &q), *x;
		const char *want[][3] = {
			{ "192.0.2.10", "legitimate", "legitimate.dkim_spf_aligned" },
			{ "167.89.1.5", "misconfigured", "misconfigured.dkim_other_domain" },
			{ "198.51.100.20", "forwarded", "forwarded.dkim_survived" },
			{ "198.51.100.21", "forwarded", "forwarded.override" },
			{ "203.0.113.99", "spoofing", "spoofing.no_auth" },
		};
		assert_non_null(s);
		assert_int_equal(geti(s, "total"), 5);
		json_array_foreach(json_object_get(s, "sources"), i, x) {
			for (size_t k = 0; k < 5; k++) {
				if (strcmp(gets_(x, "ip"), want[k][0]) != 0)
					continue;
				if (strcmp(gets_(x, "class"), want[k][1]) != 0 ||
				    strcmp(gets_(json_object_get(x, "reason"), "code"), want[k][2]) != 0)
					fail_msg("%s: %s %s", want[k][0], gets_(x, "class"),
					    gets_(json_object_get(x, "reason"), "code"));
			}
			if (strcmp(gets_(x, "ip"), "167.89.1.5") == 0) {
				assert_string_equal(gets_(x, "service"), "sendgrid");
				assert_string_equal(gets_(x, "group"), "service:sendgrid");
			}
			if (strcmp(gets_(x, "ip"), "192.0.2.10") == 0)
				assert_true(json_is_true(json_object_get(x, "own")));
		}
		json_decref(s);
		q.sort = "ip";
		s = analyze_sources_filter_json(f->st, &q, "spoofing");
		assert_int_equal(geti(s, "total"), 1);
		json_decref(s);
		assert_null(analyze_sources_filter_json(f->st, &q, "nonsense"));
	}
	/* sender groups: own first */
	{
		struct query q = { .domain = "example.co.jp" };
		json_t *g = analyze_senders_json(f->st, &q);
		json_t *first = json_array_get(json_object_get(g, "groups"), 0);
		assert_string_equal(gets_(first, "kind"), "own");
		assert_string_equal(gets_(first, "group"), "example.co.jp");
		assert_int_equal(geti(first, "messages"), 20 * 2 * 50);
		json_decref(g);
	}
}

static void
test_rules_apply_at_once(void **state)
{
	struct fx *f = *state;
	struct query q = { .domain = "example.co.jp", .source_ip = "203.0.113.99" };
	json_t *s;
	char err[256];
	int64_t id;

	fill(f, 0);
	/* The user says the "spoofer" is an old server of theirs. */
	assert_int_equal(analyze_rule_add(f->st, "approve", "ip", "203.0.113.0/24", NULL, "old MTA",
	    NULL, &id, err, sizeof(err)), 0);
	s = analyze_sources_json(f->st, &q);
	assert_string_equal(gets_(json_array_get(json_object_get(s, "sources"), 0), "class"), "misconfigured");
	assert_string_equal(gets_(json_object_get(json_array_get(json_object_get(s, "sources"), 0), "reason"), "code"),
	    "misconfigured.dkim_missing");
	json_decref(s);
	{
		/* ...and its SPF step names the IP, in the readiness steps */
		json_t *r = analyze_readiness_json(f->st, "example.co.jp", 0, 0), *v;
		size_t i;
		int saw = 0;
		json_array_foreach(json_object_get(r, "steps"), i, v)
			if (strcmp(gets_(v, "code"), "step.spf_own_ip") == 0)
				saw = 1;
		assert_true(saw);
		json_decref(r);
	}
	assert_int_equal(analyze_rule_remove(f->st, id, err, sizeof(err)), 0);
	assert_int_equal(analyze_rule_remove(f->st, id, err, sizeof(err)), 1);
	assert_int_equal(analyze_rule_add(f->st, "reject", "service", "sendgrid", NULL, NULL, NULL,
	    &id, err, sizeof(err)), 0);
	q.source_ip = "167.89.1.5";
	s = analyze_sources_json(f->st, &q);
	assert_string_equal(gets_(json_array_get(json_object_get(s, "sources"), 0), "class"), "spoofing");
	json_decref(s);
	/* bad input */
	assert_int_equal(analyze_rule_add(f->st, "approve", "service", "no-such-service", NULL, NULL, NULL,
	    &id, err, sizeof(err)), -1);
	assert_int_equal(analyze_rule_add(f->st, "approve", "ip", "300.1.1.1", NULL, NULL, NULL,
	    &id, err, sizeof(err)), -1);
	assert_int_equal(analyze_rule_add(f->st, "bless", "ip", "192.0.2.1", NULL, NULL, NULL,
	    &id, err, sizeof(err)), -1);
	s = analyze_rules_json(f->st);
	assert_int_equal(json_array_size(json_object_get(s, "rules")), 1);
	json_decref(s);
}

static void
test_ready_and_enforced(void **state)
{
	struct fx *f = *state;
	json_t *r, *v;
	size_t i;
	int next = 0;

	fill(f, 1);
	r = analyze_readiness_json(f->st, "example.co.jp", 0, 0);
	assert_string_equal(gets_(json_object_get(r, "verdict"), "verdict"), "ready");
	assert_int_equal(geti(json_array_get(json_object_get(r, "simulation"), 0), "legitimate"), 0);
	json_array_foreach(json_object_get(r, "steps"), i, v)
		if (strcmp(gets_(v, "code"), "step.policy_next") == 0) {
			next = 1;
			assert_non_null(strstr(gets_(json_object_get(v, "messages"), "en"), "p=quarantine"));
		}
	assert_true(next);
	json_decref(r);

	exec(f->h, "UPDATE reports SET p = 'reject'");
	r = analyze_readiness_json(f->st, "example.co.jp", 0, 0);
	assert_string_equal(gets_(json_object_get(r, "verdict"), "verdict"), "enforced");
	json_decref(r);

	/* a period with no reports, and too little data */
	r = analyze_readiness_json(f->st, "example.co.jp", T0 + 100 * DAY, 0);
	assert_string_equal(gets_(json_object_get(r, "verdict"), "verdict"), "no_data");
	json_decref(r);
	exec(f->h, "UPDATE reports SET p = 'none'");
	r = analyze_readiness_json(f->st, "example.co.jp", T0 + 15 * DAY, 0);
	assert_string_equal(gets_(json_object_get(r, "verdict"), "verdict"), "insufficient_data");
	json_decref(r);
	assert_null(analyze_readiness_json(f->st, "", 0, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_not_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules_apply_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ready_and_enforced, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_config.c - the settings table, the config file parser, --set, the
 * limits mapping, and that docs/configuration.md matches the table.
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

#include "lib/config.h"
#include "lib/xalloc.h"

static char *
write_tmp(const char *text)
{
	char *path = xstrdup("/tmp/test_config.XXXXXX");
	int fd = mkstemp(path);
	size_t n = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

/* Loads `text` as a config file; returns the load result, err filled. */
static int
load_text(struct config *cfg, const char *text, char *err, size_t errlen)
{
	char *path = write_tmp(text);
	int r = config_load_file(cfg, path, err, errlen);

	unlink(path);
	free(path);
	return r;
}

static void
test_defaults_match_limits(void **state)
{
	struct config *cfg = config_new();
	struct limits a, b;

	(void)state;
	memset(&a, 0, sizeof a);   /* padding */
	memset(&b, 0, sizeof b);
	limits_default(&a);
	config_limits(cfg, &b);
	assert_memory_equal(&a, &b, sizeof a);
	config_free(&cfg);
	assert_null(cfg);
}

static void
test_table_sane(void **state)
{
	size_t i, j;
	char err[256];

	(void)state;
	for (i = 0; config_settings[i].name != NULL; i++) {
		const struct config_setting *s = &config_settings[i];
		struct config *cfg = config_new();
		char assign[512];

		assert_non_null(s->desc);
		assert_true(strlen(s->desc) > 5);
		for (j = i + 1; config_settings[j].name != NULL; j++)
			assert_false(s->scope == config_settings[j].scope &&
			    strcmp(s->name, config_settings[j].name) == 0);
		/* every non-empty default passes its own validator */
		if (s->scope == CONFIG_GLOBAL && s->def != NULL && *s->def) {
			snprintf(assign, sizeof assign, "%s=%s", s->name, s->def);
			if (config_set(cfg, assign, err, sizeof err) != 0)
				fail_msg("default of %s rejected: %s", s->name, err);
		}
		if (s->inherit != NULL)
			assert_string_equal(config_str(cfg, s->inherit),
			    config_str(cfg, s->inherit));
		config_free(&cfg);
	}
}

static void
test_parse_units(void **state)
{
	uint64_t v;
	int b;

	(void)state;
	assert_int_equal(config_parse_size("64k", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(config_parse_size("1G", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(config_parse_size("12", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(config_parse_size("12x", &v), -1);
	assert_int_equal(config_parse_size("", &v), -1);
	assert_int_equal(config_parse_size("-1", &v), -1);
	assert_int_equal(config_parse_size("99999999999999999999", &v), -1);
	assert_int_equal(config_parse_size("17179869184G", &v), -1);
	assert_int_equal(config_parse_duration("5m", &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(config_parse_duration("2d", &v), 0);
	assert_int_equal(v, 172800);
	assert_int_equal(config_parse_duration("10 s", &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(config_parse_bool("Yes", &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(config_parse_bool("off", &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(config_parse_bool("maybe", &b), -1);
}

static void
test_file_and_set(void **state)
{
	struct config *cfg = config_new();
	struct limits lim;
	char err[512];
	const struct config_mailbox *mb;
	char **list;
	size_t n;

	(void)state;
	if (load_text(cfg,
	    "# comment\n"
	    "; another\n"
	    "database = /tmp/x.db\n"
	    "limits.max_input_bytes = 2M\n"
	    "[imap]\n"
	    "batch = 50\n"
	    "poll_interval = 2m\n"
	    "[spool]\n"
	    "dirs = /a , /b,,/c \n"
	    "[mailbox reports]\n"
	    "url = imaps://mail.example.com/\n"
	    "user = dmarc@example.com\n"
	    "password_file = \"/etc/pw file\"\n"
	    "batch = 7\n"
	    "[mailbox second]\n"
	    "url = imap://127.0.0.1:10143/\n"
	    "user = u\n"
	    "password_env = PW\n"
	    "starttls = no\n"
	    "allow_plaintext = yes\n", err, sizeof err) != 0)
		fail_msg("load: %s", err);
	assert_int_equal(config_check(cfg, err, sizeof err), 0);
	assert_string_equal(config_str(cfg, "database"), "/tmp/x.db");
	assert_int_equal(config_uint(cfg, "imap.batch"), 50);
	assert_int_equal(config_uint(cfg, "imap.poll_interval"), 120);
	assert_true(config_is_set(cfg, "imap.batch"));
	assert_false(config_is_set(cfg, "imap.timeout"));
	config_limits(cfg, &lim);
	assert_int_equal(lim.max_input_bytes, 2 * 1024 * 1024);
	n = config_list(cfg, "spool.dirs", &list);
	assert_int_equal(n, 3);
	assert_string_equal(list[0], "/a");
	assert_string_equal(list[1], "/b");
	assert_string_equal(list[2], "/c");
	config_list_free(list, n);

	assert_int_equal(config_mailbox_count(cfg), 2);
	mb = config_mailbox_find(cfg, "reports");
	assert_non_null(mb);
	assert_string_equal(config_mailbox_name(mb), "reports");
	assert_string_equal(config_mb_str(cfg, mb, "password_file"), "/etc/pw file");
	assert_int_equal(config_mb_uint(cfg, mb, "batch"), 7);
	/* inherited from [imap] */
	assert_int_equal(config_mb_uint(cfg, mb, "poll_interval"), 120);
	assert_string_equal(config_mb_str(cfg, mb, "folder"), "INBOX");
	assert_string_equal(config_mb_str(cfg, mb, "processed_folder"), "Processed");
	mb = config_mailbox_at(cfg, 1);
	assert_int_equal(config_mb_uint(cfg, mb, "batch"), 50);

	/* --set overrides, also for mailbox settings, and creates mailboxes */
	assert_int_equal(config_set(cfg, "imap.batch=9", err, sizeof err), 0);
	assert_int_equal(config_uint(cfg, "imap.batch"), 9);
	assert_int_equal(config_set(cfg, "mailbox.second.folder = DMARC", err,
	    sizeof err), 0);
	assert_string_equal(config_mb_str(cfg, mb, "folder"), "DMARC");
	assert_int_equal(config_set(cfg, "mailbox.third.url=imaps://h/", err,
	    sizeof err), 0);
	assert_int_equal(config_mailbox_count(cfg), 3);
	/* third has no user: check fails */
	assert_int_equal(config_check(cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "third"));
	config_free(&cfg);
}

struct bad_case {
	const char *text;
	const char *want;   /* substring of the error */
};

static void
test_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ "nosuch = 1\n", ":1: unknown setting 'nosuch'" },
		{ "\n\nimap.batch = 0\n", ":3: imap.batch: out of range" },
		{ "imap.batch = lots\n", "whole number" },
		{ "imap.timeout = 5 weeks\n", "duration" },
		{ "log.target = file\n", "stderr|syslog" },
		{ "enrich.enabled = perhaps\n", "yes or no" },
		{ "[mailbox a b]\n", "letters, digits" },
		{ "[mailbox x]\nurl = http://x/\n", "imaps://" },
		{ "[mailbox x]\nurl = imaps://u:p@x/\n", "no user or password" },
		{ "[mailbox x]\nfolder = a\"b\n", "folder names" },
		{ "[mailbox x]\nnosuch = 1\n", "unknown mailbox setting" },
		{ "[mailbox x]\n[mailbox x]\n", "defined twice" },
		{ "[broken\n", "bad section" },
		{ "just words\n", "expected key = value" },
		{ "web.listen = 8080\n", "ADDRESS:PORT" },
		{ "intake.token_hash = secret\n", "sha256:" },
		{ "limits.max_xml_depth = 2\n", "out of range" },
	};
	size_t i;
	char err[512];

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config *cfg = config_new();
		if (load_text(cfg, cases[i].text, err, sizeof err) != -1)
			fail_msg("case %zu accepted: %s", i, cases[i].text);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: error '%s' lacks '%s'", i, err,
			    cases[i].want);
		config_free(&cfg);
	}
}

static void
test_check_rules(void **state)
{
	static const struct bad_case cases[] = {
		{ "[mailbox x]\nurl = imaps://h/\nuser = u\n", "exactly one of" },
		{ "[mailbox x]\nurl = imaps://h/\nuser = u\npassword_env = A\n"
		  "password_file = /f\n", "exactly one of" },
		{ "[mailbox x]\nurl = imap://h/\nuser = u\npassword_env = A\n"
		  "starttls = no\n", "in clear" },
		{ "[mailbox x]\nurl = imaps://h/\nuser = u\npassword_env = A\n"
		  "folder = Processed\n", "must differ" },
	};
	size_t i;
	char err[512];

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config *cfg = config_new();
		assert_int_equal(load_text(cfg, cases[i].text, err, sizeof err), 0);
		assert_int_equal(config_check(cfg, err, sizeof err), -1);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: error '%s' lacks '%s'", i, err,
			    cases[i].want);
		config_free(&cfg);
	}
}

/* The effective print reads back to the same configuration. */
static void
test_print_roundtrip(void **state)
{
	struct config *a = config_new(), *b = config_new();
	char err[512], *buf1 = NULL, *buf2 = NULL;
	size_t n1 = 0, n2 = 0;
	FILE *fp;

	(void)state;
	assert_int_equal(config_set(a, "spool.dirs=/var/spool/dmarc, /srv/md",
	    err, sizeof err), 0);
	assert_int_equal(config_set(a, "mailbox.m1.url=imaps://h/", err,
	    sizeof err), 0);
	assert_int_equal(config_set(a, "mailbox.m1.user=u", err, sizeof err), 0);
	assert_int_equal(config_set(a, "mailbox.m1.password_env=PW", err,
	    sizeof err), 0);
	fp = open_memstream(&buf1, &n1);
	config_print_effective(a, fp, 0);
	fclose(fp);
	assert_int_equal(load_text(b, buf1, err, sizeof err), 0);
	fp = open_memstream(&buf2, &n2);
	config_print_effective(b, fp, 0);
	fclose(fp);
	/* only the "# file:" first line differs */
	assert_string_equal(strchr(buf1, '\n'), strchr(buf2, '\n'));
	assert_non_null(strstr(buf1, "spool.dirs = /var/spool/dmarc, /srv/md\n"));
	assert_non_null(strstr(buf1, "[mailbox m1]\nurl = imaps://h/\n"));
	free(buf1);
	free(buf2);
	config_free(&a);
	config_free(&b);
}

/* docs/configuration.md holds exactly the generated settings table. */
static void
test_docs_match_table(void **state)
{
	const char *src = getenv("DMARCSTAT_SRC");
	char *path, *doc = NULL, *gen = NULL, *begin, *end;
	size_t n = 0, len = 0, cap = 0;
	FILE *fp;
	char chunk[4096];

	(void)state;
	if (src == NULL)
		src = ".";
	path = xasprintf("%s/docs/configuration.md", src);
	fp = fopen(path, "r");
	if (fp == NULL)
		fail_msg("cannot open %s", path);
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			doc = xrealloc(doc, cap);
		}
		memcpy(doc + len, chunk, n);
		len += n;
	}
	fclose(fp);
	assert_non_null(doc);
	doc[len] = '\0';
	begin = strstr(doc, CONFIG_DOC_BEGIN "\n");
	end = strstr(doc, CONFIG_DOC_END);
	if (begin == NULL || end == NULL || end < begin)
		fail_msg("%s: settings table markers missing", path);
	begin += strlen(CONFIG_DOC_BEGIN "\n");
	*end = '\0';
	fp = open_memstream(&gen, &n);
	config_print_markdown(fp);
	fclose(fp);
	if (strcmp(begin, gen) != 0)
		fail_msg("%s is out of date: regenerate the table with "
		    "`dmarcstat config --markdown`", path);
	free(gen);
	free(doc);
	free(path);
}

/* The shipped sample configuration loads and passes the checks. */
static void
test_sample_config(void **state)
{
	const char *src = getenv("DMARCSTAT_SRC");
	char *path, err[512];
	struct config *cfg = config_new();

	(void)state;
	path = xasprintf("%s/dist/dmarcstat.conf.sample", src ? src : ".");
	if (config_load_file(cfg, path, err, sizeof err) != 0)
		fail_msg("%s", err);
	if (config_check(cfg, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_int_equal(config_mailbox_count(cfg), 1);
	config_free(&cfg);
	free(path);
}

/*
 * Every setting has its Japanese description in data/i18n/settings.ja.conf
 * (what `dmarcstat --lang ja config --help` shows), and every entry there
 * is a setting or a word config_print_help asks for.
 */
static void
test_settings_japanese(void **state)
{
	static const char *const words[] = { "@type.string", "@type.path",
	    "@type.bool", "@type.number", "@type.size", "@type.duration",
	    "@type.list", "@default", "@empty", "@none" };
	const char *src = getenv("DMARCSTAT_SRC");
	char path[1024], line[4096], key[128];
	char *keys[512];
	size_t nkeys = 0, i, w;
	FILE *fp;

	(void)state;
	if (src == NULL)
		skip();
	snprintf(path, sizeof path, "%s/data/i18n/settings.ja.conf", src);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof line, fp) != NULL && nkeys < 512) {
		char *eq = strstr(line, " = ");

		if (line[0] == '#' || eq == NULL)
			continue;
		*eq = '\0';
		assert_true(strlen(eq + 3) > 2);
		keys[nkeys++] = xstrdup(line);
	}
	fclose(fp);
	for (i = 0; config_setting_key(i, key, sizeof key) != NULL; i++) {
		size_t k;

		for (k = 0; k < nkeys && strcmp(keys[k], key) != 0; k++)
			;
		if (k == nkeys)
			fail_msg("%s: no Japanese description in settings.ja.conf", key);
	}
	for (w = 0; w < sizeof words / sizeof words[0]; w++) {
		size_t k;

		for (k = 0; k < nkeys && strcmp(keys[k], words[w]) != 0; k++)
			;
		if (k == nkeys)
			fail_msg("%s missing in settings.ja.conf", words[w]);
	}
	/* nothing stale: as many entries as settings and words */
	assert_int_equal(nkeys, i + sizeof words / sizeof words[0]);
	for (size_t k = 0; k < nkeys; k++)
		free(keys[k]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_match_limits),
		cmocka_unit_test(test_table_sane),
		cmocka_unit_test(test_parse_units),
		cmocka_unit_test(test_file_and_set),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_check_rules),
		cmocka_unit_test(test_print_roundtrip),
		cmocka_unit_test(test_docs_match_table),
		cmocka_unit_test(test_sample_config),
		cmocka_unit_test(test_settings_japanese),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

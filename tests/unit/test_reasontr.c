/*
 * test_reasontr.c - the Japanese of English reasons and warnings
 * (src/lib/reasontr.c, catalog web/i18n/reasons.json).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "lib/reasontr.h"
#include "parse/limits.h"
#include "store/store.h"

static char out[4096];

static const char *
ja(const char *text, int *done)
{
	return reason_tr("ja", text, out, sizeof out, done);
}

static void
test_examples(void **state)
{
	int done;

	(void)state;
	assert_string_equal(ja("DTD not allowed", &done), "DTD (文書型定義) は受け付けません");
	assert_int_equal(done, 1);
	/* holes: integers and text, put back in another order */
	assert_string_equal(ja("truncated 3 text value(s) longer than max_text "
	    "(65536 bytes)", NULL), "max_text (65536 バイト) より長いテキスト値を 3 個切り詰めました");
	/* a reason inside a reason, and a label in front */
	assert_string_equal(ja("part 2 (text/xml): XML error: not well-formed "
	    "(invalid token) (line 3, column 17 of the repaired text)", &done),
	    "part 2 (text/xml): XML エラー: 整形式ではありません (不正なトークン) "
	    "(修復後のテキストの 3 行 17 列)");
	assert_int_equal(done, 1);
	/* a list, item by item; unknown items stay */
	assert_string_equal(ja("no DMARC report found (held: XML <html>, "
	    "text/plain, unknown)", NULL),
	    "DMARC レポートが見つかりません (中身: XML <html>, text/plain, 不明なデータ)");
	assert_string_equal(ja("gzip: truncated stream", NULL),
	    "gzip: データが途中で切れています");
	assert_string_equal(ja("cannot open: No such file or directory", NULL),
	    "開けません: ファイルまたはフォルダがありません");
	/* the more specific entry wins over the general one after it */
	assert_string_equal(ja("12 records, 40 messages, with warnings", NULL),
	    "レコード 12 件、メッセージ 40 通 (警告あり)");
	assert_string_equal(ja("empty or missing org_name; using the email domain "
	    "\"example.net\"", NULL),
	    "org_name がない、または空なので、email のドメイン \"example.net\" を使います");
	/* %d is an integer, not any text */
	assert_string_equal(ja("date_range spans many days", &done), "date_range spans many days");
	assert_int_equal(done, 0);
}

static void
test_untranslated_and_english(void **state)
{
	int done;

	(void)state;
	assert_string_equal(ja("something nobody wrote down", &done), "something nobody wrote down");
	assert_int_equal(done, 0);
	assert_string_equal(ja("", &done), "");
	assert_string_equal(reason_tr("en", "DTD not allowed", out, sizeof out, &done),
	    "DTD not allowed");
	assert_int_equal(done, 0);
	assert_string_equal(reason_tr(NULL, "DTD not allowed", out, sizeof out, NULL),
	    "DTD not allowed");
	/* a label with an untranslatable rest is left whole */
	assert_string_equal(ja("part 2: not known: at all", NULL), "part 2: not known: at all");
	/* the output is cut, never overrun */
	{
		char small[8];

		reason_tr("ja", "DTD not allowed", small, sizeof small, NULL);
		assert_true(strlen(small) < sizeof small);
	}
}

/*
 * Hostile text: many places a hole could end.  The walk is bounded by a
 * step budget (a hang would show as the ctest timeout); such text matches
 * nothing and comes back as it is.
 */
static void
test_hostile_is_bounded(void **state)
{
	char text[2000];
	size_t i;
	int done;

	(void)state;
	for (i = 0; i + 4 < sizeof text; i += 4)
		memcpy(text + i, "(: ,", 4);
	text[i] = '\0';
	for (int k = 0; k < 20; k++) {
		ja(text, &done);
		assert_string_equal(out, text);
		assert_int_equal(done, 0);
	}
}

/* Counts %s / %d holes of an English pattern. */
static int
holes(const char *en)
{
	int n = 0;

	for (const char *p = en; *p; p++)
		if (p[0] == '%' && (p[1] == 's' || p[1] == 'd')) {
			n++;
			p++;
		} else if (p[0] == '%' && p[1] == '%')
			p++;
	return n;
}

/*
 * Every catalog entry: loads, refers only to holes it has, and is the one
 * chosen for a text made from its own pattern (so no earlier, more general
 * entry hides it).
 */
static void
test_catalog_entries(void **state)
{
	const char *src = getenv("DMARCSTAT_SRC");
	char path[1024];
	json_t *root, *list, *e;
	size_t i;

	(void)state;
	if (src == NULL)
		skip();
	snprintf(path, sizeof path, "%s/web/i18n/reasons.json", src);
	root = json_load_file(path, 0, NULL);
	assert_non_null(root);
	list = json_object_get(root, "reasons");
	assert_true(json_array_size(list) > 100);
	assert_int_equal(reason_tr_count(), json_array_size(list));
	json_array_foreach(list, i, e) {
		const char *en = json_string_value(json_object_get(e, "en"));
		const char *jt = json_string_value(json_object_get(e, "ja"));
		char text[1024], want[1024];
		size_t o = 0, w = 0;
		int n = holes(en), done;

		assert_non_null(en);
		assert_non_null(jt);
		for (const char *p = jt; *p; p++) {
			if (p[0] == '%' && p[1] >= '1' && p[1] <= '9') {
				if (p[1] - '0' > n)
					fail_msg("\"%s\": %%%c but only %d holes", jt, p[1], n);
				p++;
			} else if (p[0] == '%' && p[1] == '%')
				p++;
			else if (p[0] == '%')
				fail_msg("\"%s\": stray %%", jt);
		}
		/* the text: holes filled with Q1, Q2 ... (text) and 71, 72 ... */
		for (const char *p = en; *p && o + 8 < sizeof text; p++) {
			if (p[0] == '%' && (p[1] == 's' || p[1] == 'd')) {
				int k = 0;

				for (const char *q = en; q < p; q++)
					if (q[0] == '%' && (q[1] == 's' || q[1] == 'd'))
						k++;
				o += (size_t)snprintf(text + o, sizeof text - o, "%s%d",
				    p[1] == 's' ? "Q" : "7", k + 1);
				p++;
			} else if (p[0] == '%' && p[1] == '%') {
				text[o++] = '%';
				p++;
			} else
				text[o++] = *p;
		}
		text[o] = '\0';
		for (const char *p = jt; *p && w + 8 < sizeof want; p++) {
			if (p[0] == '%' && p[1] >= '1' && p[1] <= '9') {
				int k = p[1] - '0', kind = 0, seen = 0;

				for (const char *q = en; *q; q++)
					if (q[0] == '%' && (q[1] == 's' || q[1] == 'd') &&
					    ++seen == k) {
						kind = q[1];
						break;
					}
				w += (size_t)snprintf(want + w, sizeof want - w, "%s%d",
				    kind == 's' ? "Q" : "7", k);
				p++;
			} else if (p[0] == '%' && p[1] == '%') {
				want[w++] = '%';
				p++;
			} else
				want[w++] = *p;
		}
		want[w] = '\0';
		ja(text, &done);
		if (!done || strcmp(out, want) != 0)
			fail_msg("entry %zu \"%s\": \"%s\" gave \"%s\", want \"%s\"",
			    i, en, text, out, want);
	}
	json_decref(root);
}

/*
 * Everything the program says of real inputs is in the catalog: imports
 * the project's fixtures and, when present, the shared corpus of real
 * reports, then checks that every ledger reason and every report warning
 * stored (in English) has a Japanese translation.
 */
static void
test_all_said_is_translated(void **state)
{
	const char *src = getenv("DMARCSTAT_SRC");
	char dir[] = "/tmp/test_reasontr.XXXXXX", db[256], path[1024], err[512];
	const char *inputs[] = { "tests/fixtures/aggregate", "tests/fixtures/containers",
	    "../shared/corpus" };
	struct ingest_opts io = { .keep_raw = 0, .batch = 50 };
	struct limits lim;
	struct store *st;
	struct ingest *ig;
	sqlite3_stmt *q;
	struct stat sb;
	int n = 0, missing = 0;

	(void)state;
	if (src == NULL)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof db, "%s/t.db", dir);
	st = store_open(db, 0, err, sizeof err);
	assert_non_null(st);
	limits_default(&lim);
	ig = ingest_new(st, &lim, &io);
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", src, inputs[i]);
		if (stat(path, &sb) == 0)
			ingest_path(ig, path);
	}
	ingest_flush(ig);
	ingest_free(&ig);
	assert_int_equal(sqlite3_prepare_v2(store_sqlite_handle(st),
	    "SELECT reason FROM ledger WHERE reason IS NOT NULL UNION "
	    "SELECT j.value FROM reports, json_each(reports.warnings) j",
	    -1, &q, NULL), SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(q, 0);
		int done;

		n++;
		ja(text, &done);
		if (!done) {
			print_message("no Japanese for: %s\n", text);
			missing++;
		}
	}
	sqlite3_finalize(q);
	store_close(&st);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
	print_message("%d reasons and warnings checked\n", n);
	assert_true(n > 20);
	assert_int_equal(missing, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_untranslated_and_english),
		cmocka_unit_test(test_hostile_is_bounded),
		cmocka_unit_test(test_catalog_entries),
		cmocka_unit_test(test_all_said_is_translated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_msg.c - the CLI message catalogs (data/i18n/cli.*.conf) have the
 * same keys in English and Japanese, and the same printf conversions in the
 * same order for each key (a mismatch would be undefined behaviour).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "web/assets.h"

struct kv {
	char key[64];
	char conv[64];   /* conversions, e.g. "llu,s," */
};

static size_t
load(const char *name, struct kv *v, size_t max)
{
	const struct asset *a = datafiles_find(name);
	const char *p, *end;
	size_t n = 0;

	assert_non_null(a);
	p = (const char *)a->data;
	end = p + a->len;
	while (p < end && n < max) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *eq;
		const char *ls = p;

		p = nl ? nl + 1 : end;
		while (ls < le && (*ls == ' ' || *ls == '\t'))
			ls++;
		if (ls == le || *ls == '#')
			continue;
		eq = memchr(ls, '=', (size_t)(le - ls));
		assert_non_null(eq);
		{
			const char *ke = eq;
			while (ke > ls && (ke[-1] == ' ' || ke[-1] == '\t'))
				ke--;
			assert_true((size_t)(ke - ls) < sizeof v[n].key);
			memcpy(v[n].key, ls, (size_t)(ke - ls));
			v[n].key[ke - ls] = '\0';
		}
		v[n].conv[0] = '\0';
		for (const char *q = eq + 1; q < le; q++) {
			if (*q != '%')
				continue;
			q++;
			if (q < le && *q == '%')
				continue;
			{
				char c[8];
				size_t k = 0;
				while (q < le && strchr("lhzjt", *q) && k < 5)
					c[k++] = *q++;
				if (q < le)
					c[k++] = *q;
				c[k] = '\0';
				strncat(v[n].conv, c, sizeof v[n].conv - strlen(v[n].conv) - 2);
				strncat(v[n].conv, ",", sizeof v[n].conv - strlen(v[n].conv) - 1);
			}
		}
		n++;
	}
	return n;
}

static void
test_catalogs_match(void **state)
{
	static struct kv en[512], ja[512];
	size_t ne = load("/i18n/cli.en.conf", en, 512);
	size_t nj = load("/i18n/cli.ja.conf", ja, 512);

	(void)state;
	assert_true(ne > 20);
	for (size_t i = 0; i < ne; i++) {
		size_t j;
		for (j = 0; j < nj; j++)
			if (strcmp(en[i].key, ja[j].key) == 0)
				break;
		if (j == nj)
			fail_msg("key %s missing in Japanese", en[i].key);
		if (strcmp(en[i].conv, ja[j].conv) != 0)
			fail_msg("key %s: conversions differ: en %s ja %s",
			    en[i].key, en[i].conv, ja[j].conv);
	}
	for (size_t j = 0; j < nj; j++) {
		size_t i;
		for (i = 0; i < ne; i++)
			if (strcmp(en[i].key, ja[j].key) == 0)
				break;
		if (i == ne)
			fail_msg("key %s missing in English", ja[j].key);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalogs_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * msg.c - the CLI's translated messages.  Catalogs are files
 * (data/i18n/cli.en.conf, cli.ja.conf: "key = text" lines) embedded in the
 * binary; a key missing in Japanese falls back to English, a key missing in
 * both is shown as itself so that the gap is visible (and caught by
 * tests/unit/test_msg.c, which checks both catalogs have the same keys).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/xalloc.h"
#include "web/assets.h"

struct entry {
	char *key, *text;
};

struct catalog {
	struct entry *v;
	size_t n;
};

static struct catalog cat_en, cat_ja, cat_settings_ja;
static const char *msg_lang = "en";   /* for callers without a struct cli */
static pthread_once_t cat_once = PTHREAD_ONCE_INIT;

static void
trim(char **s, char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
		(*e)--;
}

/* "\n" in a catalog text is a newline. */
static char *
unescape(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'n') {
			*o++ = '\n';
			i++;
		} else
			*o++ = s[i];
	}
	*o = '\0';
	return out;
}

static void
catalog_load(struct catalog *c, const char *name)
{
	const struct asset *a = datafiles_find(name);
	const char *p, *end;

	if (a == NULL)
		return;
	p = (const char *)a->data;
	end = p + a->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char *ls = (char *)p, *le = (char *)(nl ? nl : end), *eq;

		p = nl ? nl + 1 : end;
		trim(&ls, &le);
		if (ls == le || *ls == '#')
			continue;
		eq = memchr(ls, '=', (size_t)(le - ls));
		if (eq == NULL)
			continue;
		{
			char *ks = ls, *ke = eq, *vs = eq + 1, *ve = le;
			trim(&ks, &ke);
			trim(&vs, &ve);
			c->v = xrealloc(c->v, (c->n + 1) * sizeof *c->v);
			c->v[c->n].key = xstrndup(ks, (size_t)(ke - ks));
			c->v[c->n].text = unescape(vs, (size_t)(ve - vs));
			c->n++;
		}
	}
}

static void
catalogs_load(void)
{
	catalog_load(&cat_en, "/i18n/cli.en.conf");
	catalog_load(&cat_ja, "/i18n/cli.ja.conf");
	catalog_load(&cat_settings_ja, "/i18n/settings.ja.conf");
}

static const char *
lookup(const struct catalog *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].key, key) == 0)
			return c->v[i].text;
	return NULL;
}

const char *
cli_msg(const struct cli *cli, const char *key)
{
	const char *t = NULL;

	pthread_once(&cat_once, catalogs_load);
	if ((cli && cli->lang ? cli->lang : msg_lang)[0] == 'j')
		t = lookup(&cat_ja, key);
	if (t == NULL)
		t = lookup(&cat_en, key);
	return t ? t : key;
}

void
cli_msg_set_lang(const char *lang)
{
	msg_lang = lang && strncmp(lang, "ja", 2) == 0 ? "ja" : "en";
}

/*
 * Catalog texts with printf conversions are formats we ship ourselves;
 * tests/unit/test_msg.c checks that the Japanese text of every key has the
 * same conversions in the same order as the English one.
 */
void
cli_msgf(const struct cli *cli, FILE *fp, const char *key, ...)
{
	va_list ap;

	va_start(ap, key);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	vfprintf(fp, cli_msg(cli, key), ap);
#pragma GCC diagnostic pop
	va_end(ap);
}

const char *
cli_msg_lang(void)
{
	return msg_lang;
}

/* Settings reference (config_print_help): data/i18n/settings.ja.conf. */
const char *
cli_setting_text(const char *key, const char *en)
{
	const char *t;

	if (msg_lang[0] != 'j')
		return en;
	pthread_once(&cat_once, catalogs_load);
	t = lookup(&cat_settings_ja, key);
	return t ? t : en;
}

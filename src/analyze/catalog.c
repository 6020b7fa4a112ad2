/*
 * catalog.c - parser and lookups for the known-senders catalog
 * (data/senders.conf, format described in docs/senders-catalog.md).
 *
 * Public: catalog_new/free, catalog_load_buf/file, catalog_by_host/asn/
 * dkim/spf/id, catalog_count/at/version, catalog_type_name/parse,
 * catalog_default, catalog_set_user_file, catalog_default_error.
 *
 * The file is INI-like: a [catalog] header section with `format` and
 * `version`, then one [service-id] section per service.  A later section
 * with an existing id extends that service (lists are added to, scalars
 * replaced), which is how the user file customises the shipped one.  Each
 * name key lives in a hash map from the lower-cased key to the service
 * index; lookups walk the name's suffixes on label boundaries, so a host
 * name costs at most one probe per label.  Limits: lines of 4096 bytes,
 * 10,000 services.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analyze/amap.h"
#include "analyze/catalog.h"
#include "lib/xalloc.h"
#include "web/assets.h"

#define CATALOG_LINE_MAX 4096
#define CATALOG_SERVICES_MAX 10000
#define CATALOG_FORMAT 1

enum catalog_key {
	CATALOG_K_HOST, CATALOG_K_HOST_LABEL, CATALOG_K_ASN, CATALOG_K_DKIM,
	CATALOG_K_SPF, CATALOG_K_SPF_LABEL, CATALOG_K_N
};

struct catalog {
	struct catalog_service *sv;
	size_t n, cap;
	struct amap *ids;              /* id -> index + 1 */
	struct amap *keys[CATALOG_K_N];/* name -> index + 1 */
	char *version;
	int format;
};

static const char *const catalog_types[CATALOG_TYPE_N] = {
	"esp", "mailbox_provider", "webmail", "crm", "helpdesk", "forwarder",
	"mailing_list", "carrier", "isp", "hosting", "gateway", "saas",
	"own", "other",
};

const char *
catalog_type_name(enum catalog_type t)
{
	return (unsigned)t < CATALOG_TYPE_N ? catalog_types[t] : "other";
}

int
catalog_type_parse(const char *s)
{
	for (int i = 0; i < CATALOG_TYPE_N; i++)
		if (strcmp(s, catalog_types[i]) == 0)
			return i;
	return -1;
}

struct catalog *
catalog_new(void)
{
	struct catalog *c = xcalloc(1, sizeof(*c));

	c->ids = amap_new(256);
	for (int k = 0; k < CATALOG_K_N; k++)
		c->keys[k] = amap_new(512);
	return c;
}

void
catalog_free(struct catalog **cp)
{
	struct catalog *c;

	if (cp == NULL || *cp == NULL)
		return;
	c = *cp;
	for (size_t i = 0; i < c->n; i++) {
		free(c->sv[i].id);
		free(c->sv[i].name);
		free(c->sv[i].name_ja);
		free(c->sv[i].spf_include);
		free(c->sv[i].dkim_setup);
	}
	free(c->sv);
	amap_free(&c->ids);
	for (int k = 0; k < CATALOG_K_N; k++)
		amap_free(&c->keys[k]);
	free(c->version);
	free(c);
	*cp = NULL;
}

static char *
catalog_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
catalog_valid_id(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
		    *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

/* A DNS name (or a single label): letters, digits, '-', '_', '.'. */
static int
catalog_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

static size_t
catalog_service_get(struct catalog *c, const char *id)
{
	uintptr_t v = (uintptr_t)amap_get(c->ids, id);

	if (v != 0)
		return v - 1;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->sv = xrealloc(c->sv, c->cap * sizeof(*c->sv));
	}
	memset(&c->sv[c->n], 0, sizeof(c->sv[c->n]));
	c->sv[c->n].id = xstrdup(id);
	c->sv[c->n].name = xstrdup(id);
	c->sv[c->n].type = CATALOG_OTHER;
	amap_put(c->ids, id, (void *)(uintptr_t)(c->n + 1));
	return c->n++;
}

static void
catalog_set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = *v ? xstrdup(v) : NULL;
}

/* Adds each space-separated word of `v` to key map `k`. */
static int
catalog_add_list(struct catalog *c, enum catalog_key k, size_t idx, char *v,
    char *why, size_t whylen)
{
	char *save = NULL;

	for (char *w = strtok_r(v, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		for (char *p = w; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (k == CATALOG_K_ASN) {
			char *end;
			const char *num = strncmp(w, "as", 2) == 0 ? w + 2 : w;
			unsigned long a;

			errno = 0;
			a = strtoul(num, &end, 10);
			if (*num == '\0' || *end != '\0' || errno || a == 0 || a > UINT32_MAX) {
				snprintf(why, whylen, "bad ASN \"%s\"", w);
				return -1;
			}
			char key[16];
			snprintf(key, sizeof(key), "%lu", a);
			amap_put(c->keys[k], key, (void *)(uintptr_t)(idx + 1));
			continue;
		}
		if (!catalog_valid_name(w)) {
			snprintf(why, whylen, "bad name \"%.64s\"", w);
			return -1;
		}
		amap_put(c->keys[k], w, (void *)(uintptr_t)(idx + 1));
	}
	return 0;
}

static int
catalog_yesno(const char *v)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		return 1;
	if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return 0;
	return -1;
}

/* One key = value line inside a service section. */
static int
catalog_service_kv(struct catalog *c, size_t idx, const char *k, char *v,
    char *why, size_t whylen)
{
	struct catalog_service *s = &c->sv[idx];

	if (strcmp(k, "name") == 0)
		catalog_set_str(&s->name, v);
	else if (strcmp(k, "name_ja") == 0)
		catalog_set_str(&s->name_ja, v);
	else if (strcmp(k, "include") == 0)
		catalog_set_str(&s->spf_include, v);
	else if (strcmp(k, "dkim_setup") == 0)
		catalog_set_str(&s->dkim_setup, v);
	else if (strcmp(k, "type") == 0) {
		int t = catalog_type_parse(v);
		if (t < 0) {
			snprintf(why, whylen, "unknown type \"%.32s\"", v);
			return -1;
		}
		s->type = (enum catalog_type)t;
	} else if (strcmp(k, "forwards") == 0) {
		int b = catalog_yesno(v);
		if (b < 0) {
			snprintf(why, whylen, "forwards must be yes or no");
			return -1;
		}
		s->forwards = b;
	} else if (strcmp(k, "host") == 0)
		return catalog_add_list(c, CATALOG_K_HOST, idx, v, why, whylen);
	else if (strcmp(k, "host_label") == 0)
		return catalog_add_list(c, CATALOG_K_HOST_LABEL, idx, v, why, whylen);
	else if (strcmp(k, "asn") == 0)
		return catalog_add_list(c, CATALOG_K_ASN, idx, v, why, whylen);
	else if (strcmp(k, "dkim") == 0)
		return catalog_add_list(c, CATALOG_K_DKIM, idx, v, why, whylen);
	else if (strcmp(k, "spf") == 0)
		return catalog_add_list(c, CATALOG_K_SPF, idx, v, why, whylen);
	else if (strcmp(k, "spf_label") == 0)
		return catalog_add_list(c, CATALOG_K_SPF_LABEL, idx, v, why, whylen);
	else {
		snprintf(why, whylen, "unknown key \"%.32s\"", k);
		return -1;
	}
	return 0;
}

int
catalog_load_buf(struct catalog *c, const char *buf, size_t len,
    const char *origin, char *err, size_t errlen)
{
	char line[CATALOG_LINE_MAX];
	char why[160] = "";
	size_t pos = 0, lineno = 0;
	long cur = -2;           /* -2 none yet, -1 [catalog], else index */

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		char *s, *eq;

		lineno++;
		if (n >= sizeof(line)) {
			snprintf(why, sizeof(why), "line too long");
			goto fail;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos += n + (nl ? 1 : 0);
		if (memchr(line, '\0', n) != NULL) {
			snprintf(why, sizeof(why), "NUL byte");
			goto fail;
		}
		s = catalog_trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (e == NULL || catalog_trim(e + 1)[0] != '\0') {
				snprintf(why, sizeof(why), "malformed section header");
				goto fail;
			}
			*e = '\0';
			s = catalog_trim(s + 1);
			if (strcmp(s, "catalog") == 0) {
				cur = -1;
				continue;
			}
			if (!catalog_valid_id(s)) {
				snprintf(why, sizeof(why), "bad service id \"%.64s\"", s);
				goto fail;
			}
			if (c->n >= CATALOG_SERVICES_MAX && amap_get(c->ids, s) == NULL) {
				snprintf(why, sizeof(why), "too many services");
				goto fail;
			}
			cur = (long)catalog_service_get(c, s);
			continue;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			snprintf(why, sizeof(why), "expected key = value");
			goto fail;
		}
		*eq = '\0';
		char *k = catalog_trim(s), *v = catalog_trim(eq + 1);
		if (cur == -2) {
			snprintf(why, sizeof(why), "key outside a section");
			goto fail;
		}
		if (cur == -1) {
			if (strcmp(k, "format") == 0) {
				if (strcmp(v, "1") != 0) {
					snprintf(why, sizeof(why), "unsupported format %.16s (this program reads %d)",
					    v, CATALOG_FORMAT);
					goto fail;
				}
				c->format = CATALOG_FORMAT;
			} else if (strcmp(k, "version") == 0) {
				if (c->version == NULL)   /* the shipped file names the version */
					c->version = xstrdup(v);
			} else {
				snprintf(why, sizeof(why), "unknown key \"%.32s\" in [catalog]", k);
				goto fail;
			}
			continue;
		}
		if (catalog_service_kv(c, (size_t)cur, k, v, why, sizeof(why)) != 0)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s:%zu: %s", origin, lineno, why);
	return -1;
}

int
catalog_load_file(struct catalog *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	int rc;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	do {
		if (len + 65536 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > (size_t)16 << 20) {
				fclose(f);
				free(buf);
				snprintf(err, errlen, "%s: larger than 16 MB", path);
				return -1;
			}
			buf = xrealloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	rc = catalog_load_buf(c, buf, len, path, err, errlen);
	free(buf);
	return rc;
}

static const struct catalog_service *
catalog_idx(const struct catalog *c, void *v)
{
	uintptr_t i = (uintptr_t)v;

	return i != 0 ? &c->sv[i - 1] : NULL;
}

/* Longest label-boundary suffix of `name` present in map `k`. */
static const struct catalog_service *
catalog_suffix(const struct catalog *c, enum catalog_key k, const char *name)
{
	char low[256];
	size_t n;
	const char *p;

	if (name == NULL || (n = strlen(name)) == 0 || n >= sizeof(low))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	if (n > 0 && low[n - 1] == '.')
		low[n - 1] = '\0';
	for (p = low; p != NULL; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL) {
		void *v = amap_get(c->keys[k], p);
		if (v != NULL)
			return catalog_idx(c, v);
	}
	return NULL;
}

static const struct catalog_service *
catalog_first_label(const struct catalog *c, enum catalog_key k, const char *name)
{
	char label[64];
	size_t n;

	if (name == NULL || amap_count(c->keys[k]) == 0)
		return NULL;
	n = strcspn(name, ".");
	if (n == 0 || n >= sizeof(label) || name[n] != '.')
		return NULL;
	for (size_t i = 0; i < n; i++)
		label[i] = (char)tolower((unsigned char)name[i]);
	label[n] = '\0';
	return catalog_idx(c, amap_get(c->keys[k], label));
}

const struct catalog_service *
catalog_by_host(const struct catalog *c, const char *host)
{
	const struct catalog_service *s = catalog_suffix(c, CATALOG_K_HOST, host);

	return s != NULL ? s : catalog_first_label(c, CATALOG_K_HOST_LABEL, host);
}

const struct catalog_service *
catalog_by_asn(const struct catalog *c, uint32_t asn)
{
	char key[16];

	if (asn == 0)
		return NULL;
	snprintf(key, sizeof(key), "%u", asn);
	return catalog_idx(c, amap_get(c->keys[CATALOG_K_ASN], key));
}

const struct catalog_service *
catalog_by_dkim(const struct catalog *c, const char *domain)
{
	return catalog_suffix(c, CATALOG_K_DKIM, domain);
}

const struct catalog_service *
catalog_by_spf(const struct catalog *c, const char *domain)
{
	const struct catalog_service *s = catalog_suffix(c, CATALOG_K_SPF, domain);

	return s != NULL ? s : catalog_first_label(c, CATALOG_K_SPF_LABEL, domain);
}

const struct catalog_service *
catalog_by_id(const struct catalog *c, const char *id)
{
	return id != NULL ? catalog_idx(c, amap_get(c->ids, id)) : NULL;
}

size_t
catalog_count(const struct catalog *c)
{
	return c->n;
}

const struct catalog_service *
catalog_at(const struct catalog *c, size_t i)
{
	return i < c->n ? &c->sv[i] : NULL;
}

const char *
catalog_version(const struct catalog *c)
{
	return c->version ? c->version : "unknown";
}

/* --- process-wide catalog --- */

static pthread_once_t catalog_once = PTHREAD_ONCE_INIT;
static struct catalog *catalog_global;
static char *catalog_user_path;
static char catalog_global_err[512];

void
catalog_set_user_file(const char *path)
{
	free(catalog_user_path);
	catalog_user_path = path ? xstrdup(path) : NULL;
}

static void
catalog_default_init(void)
{
	const struct asset *a = datafiles_find("/senders.conf");
	const char *user = catalog_user_path ? catalog_user_path : getenv("DMARCSTAT_SENDERS");
	char err[512];

	catalog_global = catalog_new();
	if (a != NULL &&
	    catalog_load_buf(catalog_global, (const char *)a->data, a->len, "senders.conf",
	    err, sizeof(err)) != 0)
		snprintf(catalog_global_err, sizeof(catalog_global_err), "%s", err);
	if (user != NULL && *user != '\0' &&
	    catalog_load_file(catalog_global, user, err, sizeof(err)) != 0)
		snprintf(catalog_global_err, sizeof(catalog_global_err), "%s", err);
}

const struct catalog *
catalog_default(void)
{
	pthread_once(&catalog_once, catalog_default_init);
	return catalog_global;
}

const char *
catalog_default_error(void)
{
	catalog_default();
	return catalog_global_err[0] ? catalog_global_err : NULL;
}

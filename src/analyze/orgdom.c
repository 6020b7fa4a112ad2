/*
 * orgdom.c - Organizational Domain lookup over libpsl.  Public:
 * orgdom_get, orgdom_aligned.  The psl context is created once
 * (pthread_once) and never freed; IP literals are filtered first because
 * psl gives nonsense for them (203.0.113.4 -> 113.4).
 *
 * A PSL lookup costs about a microsecond and classification does several
 * per record, for a handful of distinct names; a small direct-mapped cache
 * per thread (2048 names of up to 95 bytes, 200 KB, freed at thread exit)
 * removes nearly all of them.
 */
#include <libpsl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analyze/ipnet.h"
#include "analyze/orgdom.h"

static const psl_ctx_t *orgdom_psl;
static pthread_once_t orgdom_once = PTHREAD_ONCE_INIT;
static pthread_key_t orgdom_key;

static void
orgdom_init(void)
{
	/* the per-thread cache is freed when its thread exits */
	pthread_key_create(&orgdom_key, free);
	orgdom_psl = psl_latest(NULL);
	if (orgdom_psl == NULL)
		orgdom_psl = psl_builtin();
}

#define ORGDOM_CACHE 2048
#define ORGDOM_KEYMAX 96

struct orgdom_slot {
	char key[ORGDOM_KEYMAX];
	short off;              /* offset of the org domain, -1 = NULL */
};


static const char *
orgdom_lookup(const char *domain)
{
	const char *r;

	if (ipnet_is_ip(domain))
		return NULL;
	pthread_once(&orgdom_once, orgdom_init);
	if (orgdom_psl == NULL)
		return domain;
	r = psl_registrable_domain(orgdom_psl, domain);
	return r != NULL ? r : domain;
}

const char *
orgdom_get(const char *domain)
{
	uint32_t h = 2166136261u;
	size_t n;
	struct orgdom_slot *s, *cache;
	const char *r;

	if (domain == NULL || *domain == '\0')
		return NULL;
	for (n = 0; domain[n] != '\0'; n++) {
		h ^= (unsigned char)domain[n];
		h *= 16777619u;
	}
	if (n >= ORGDOM_KEYMAX)
		return orgdom_lookup(domain);
	pthread_once(&orgdom_once, orgdom_init);
	cache = pthread_getspecific(orgdom_key);
	if (cache == NULL) {
		cache = calloc(ORGDOM_CACHE, sizeof(*cache));
		if (cache == NULL || pthread_setspecific(orgdom_key, cache) != 0) {
			free(cache);
			return orgdom_lookup(domain);
		}
	}
	s = &cache[h % ORGDOM_CACHE];
	if (strcmp(s->key, domain) == 0)
		return s->off < 0 ? NULL : domain + s->off;
	r = orgdom_lookup(domain);
	memcpy(s->key, domain, n + 1);
	s->off = r != NULL ? (short)(r - domain) : -1;
	return r;
}

int
orgdom_aligned(const char *a, const char *b, int strict)
{
	const char *oa, *ob;

	if (a == NULL || b == NULL || *a == '\0' || *b == '\0')
		return 0;
	if (strcasecmp(a, b) == 0)
		return 1;
	if (strict)
		return 0;
	oa = orgdom_get(a);
	ob = orgdom_get(b);
	return oa != NULL && ob != NULL && strcasecmp(oa, ob) == 0;
}

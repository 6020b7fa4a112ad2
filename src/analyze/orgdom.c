/*
 * orgdom.c - Organizational Domain lookup over libpsl.  Public:
 * orgdom_get, orgdom_aligned.  The psl context is created once
 * (pthread_once) and never freed; IP literals are filtered first because
 * psl gives nonsense for them (203.0.113.4 -> 113.4).
 */
#include <libpsl.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "analyze/ipnet.h"
#include "analyze/orgdom.h"

static const psl_ctx_t *orgdom_psl;
static pthread_once_t orgdom_once = PTHREAD_ONCE_INIT;

static void
orgdom_init(void)
{
	orgdom_psl = psl_latest(NULL);
	if (orgdom_psl == NULL)
		orgdom_psl = psl_builtin();
}

const char *
orgdom_get(const char *domain)
{
	const char *r;

	if (domain == NULL || *domain == '\0' || ipnet_is_ip(domain))
		return NULL;
	pthread_once(&orgdom_once, orgdom_init);
	if (orgdom_psl == NULL)
		return domain;
	r = psl_registrable_domain(orgdom_psl, domain);
	return r != NULL ? r : domain;
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

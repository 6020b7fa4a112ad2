/*
 * readiness.h - policy readiness of one domain (internal): published
 * policy, quarantine / reject simulation, verdict, checklist, next steps.
 */
#ifndef DMARCSTAT_READINESS_H
#define DMARCSTAT_READINESS_H
#include <jansson.h>
#include <stdint.h>

#include "analyze/sources.h"

/* Thresholds (documented in docs/classification.md). */
#define READINESS_MIN_DAYS 14
#define READINESS_MIN_REPORTERS 2
#define READINESS_MAX_HIT_SHARE 0.005   /* > 0.5 % of legitimate mail hit: not ready */
#define READINESS_MIN_DKIM_SHARE 0.99
#define READINESS_MAX_UNKNOWN_SHARE 0.01

json_t *readiness_json(const struct sources_set *set, const char *domain,
    int64_t since, int64_t until);

#endif

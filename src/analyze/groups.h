/*
 * groups.h - sender groups: sources grouped by the organisational domain
 * of their host name, or by catalog service where known (internal).
 */
#ifndef DMARCSTAT_GROUPS_H
#define DMARCSTAT_GROUPS_H
#include <jansson.h>
#include <stddef.h>

#include "analyze/sources.h"

/* The senders view for a collected set; at most `limit` groups. */
json_t *groups_json(const struct sources_set *set, size_t limit);

#endif

/*
 * aggregate_util.c - small predicates over aggregate_finish() reasons.
 */
#include <string.h>

#include "parse/aggregate.h"

int
aggregate_not_dmarc(const char *err)
{
	return strncmp(err, "not a DMARC aggregate report: root element", 42) == 0
	    || strncmp(err, "not a DMARC aggregate report: no XML element", 44) == 0;
}

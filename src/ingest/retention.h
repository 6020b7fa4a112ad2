/*
 * retention.h - deleting old data on the retention.* settings.
 *
 * Reports (with their records, results and ledger rows) whose period ended
 * more than `records_months` months ago are deleted; the per-day rollups
 * (`daily`) of that period are kept when `keep_rollups`, so the long-term
 * charts stay complete.  Raw originals older than `raw_days` days are
 * deleted (reports and ledger rows then point at no original: reparse is no
 * longer possible for them).  Deletes run in chunks of a few thousand rows,
 * each in its own transaction, so intake is never blocked for long.
 */
#ifndef DMARCSTAT_RETENTION_H
#define DMARCSTAT_RETENTION_H
#include <stdint.h>
#include <time.h>

#include "store/store.h"

struct retention_result {
	uint64_t reports;
	uint64_t daily;
	uint64_t raw;
	uint64_t ledger;
};

/*
 * 0 = keep for each of the two ages.  Returns 0, STORE_BUSY (retry later;
 * what was deleted stays deleted), or -1 with a reason in err.
 */
int retention_run(struct store *st, unsigned records_months, int keep_rollups,
    unsigned raw_days, time_t now, struct retention_result *res, char *err,
    size_t errlen);

#endif

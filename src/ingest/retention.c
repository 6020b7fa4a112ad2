/*
 * retention.c - deletes old reports and raw originals (see retention.h).
 *
 * Public: retention_run.
 *
 * Works on the SQLite handle of the store (the schema of schema.sql): the
 * store interface has no bulk delete yet.  Each chunk of RETENTION_CHUNK
 * reports (children first: records, with their DKIM/SPF results; then ledger rows,
 * then the reports) is one transaction, so a busy database or a crash
 * leaves whole reports, never half of one.
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "ingest/retention.h"

#define RETENTION_CHUNK 2000

static int
retention_exec(sqlite3 *db, const char *sql, int64_t arg, uint64_t *changes,
    char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
	if (rc == SQLITE_OK) {
		if (sqlite3_bind_parameter_count(q) >= 1)
			sqlite3_bind_int64(q, 1, arg);
		if (sqlite3_bind_parameter_count(q) >= 2)
			sqlite3_bind_int(q, 2, RETENTION_CHUNK);
		rc = sqlite3_step(q);
		if (rc == SQLITE_DONE || rc == SQLITE_ROW)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	if (rc == SQLITE_OK) {
		if (changes != NULL)
			*changes += (uint64_t)sqlite3_changes(db);
		return 0;
	}
	snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? STORE_BUSY : -1;
}

/* Subtracts `months` calendar months from `now` (UTC). */
static time_t
retention_months_ago(time_t now, unsigned months)
{
	struct tm tm;

	gmtime_r(&now, &tm);
	tm.tm_mon -= (int)(months % 12);
	tm.tm_year -= (int)(months / 12);
	while (tm.tm_mon < 0) {
		tm.tm_mon += 12;
		tm.tm_year--;
	}
	return timegm(&tm);
}

int
retention_run(struct store *st, unsigned records_months, int keep_rollups,
    unsigned raw_days, time_t now, struct retention_result *res, char *err,
    size_t errlen)
{
	sqlite3 *db = store_sqlite_handle(st);
	static const char *const chunk_sql[] = {
		"CREATE TEMP TABLE IF NOT EXISTS retention_ids (id INTEGER PRIMARY KEY)",
		"DELETE FROM temp.retention_ids",
		"INSERT INTO temp.retention_ids SELECT id FROM reports WHERE end_ts < ?1 LIMIT ?2",
		"DELETE FROM records WHERE report IN temp.retention_ids",
		"DELETE FROM ledger WHERE report IN temp.retention_ids",
	};
	time_t cutoff;
	uint64_t got;
	size_t i;
	int r;

	memset(res, 0, sizeof *res);
	if (db == NULL) {
		snprintf(err, errlen, "retention needs the SQLite backend");
		return -1;
	}
	if (records_months > 0) {
		cutoff = retention_months_ago(now, records_months);
		do {
			if ((r = store_begin(st)) != 0) {
				snprintf(err, errlen, "%s", store_errmsg(st));
				return r;
			}
			for (i = 0; i < sizeof chunk_sql / sizeof chunk_sql[0]; i++) {
				r = retention_exec(db, chunk_sql[i], (int64_t)cutoff,
				    strstr(chunk_sql[i], "FROM ledger") ? &res->ledger : NULL,
				    err, errlen);
				if (r != 0)
					goto fail;
			}
			got = 0;
			r = retention_exec(db, "DELETE FROM reports WHERE id IN temp.retention_ids",
			    0, &got, err, errlen);
			if (r != 0)
				goto fail;
			res->reports += got;
			if ((r = store_commit(st)) != 0) {
				snprintf(err, errlen, "%s", store_errmsg(st));
				store_rollback(st);
				return r;
			}
		} while (got > 0);
		if (!keep_rollups) {
			r = retention_exec(db, "DELETE FROM daily WHERE day < ?1",
			    (int64_t)cutoff, &res->daily, err, errlen);
			if (r != 0)
				return r;
		}
		/* ledger rows of inputs without a report (rejected, not a report) */
		r = retention_exec(db, "DELETE FROM ledger WHERE ts < ?1 AND report IS NULL",
		    (int64_t)cutoff, &res->ledger, err, errlen);
		if (r != 0)
			return r;
	}
	if (raw_days > 0) {
		cutoff = now - (time_t)raw_days * 86400;
		do {
			if ((r = store_begin(st)) != 0) {
				snprintf(err, errlen, "%s", store_errmsg(st));
				return r;
			}
			r = retention_exec(db, "DELETE FROM temp.retention_ids", 0, NULL,
			    err, errlen);
			if (r == 0)
				r = retention_exec(db, "INSERT INTO temp.retention_ids "
				    "SELECT id FROM raw_inputs WHERE created_at < ?1 LIMIT ?2",
				    (int64_t)cutoff, NULL, err, errlen);
			if (r == 0)
				r = retention_exec(db, "UPDATE reports SET raw_id = NULL "
				    "WHERE raw_id IN temp.retention_ids", 0, NULL, err, errlen);
			if (r == 0)
				r = retention_exec(db, "UPDATE ledger SET raw_id = NULL "
				    "WHERE raw_id IN temp.retention_ids", 0, NULL, err, errlen);
			got = 0;
			if (r == 0)
				r = retention_exec(db, "DELETE FROM raw_inputs WHERE id IN "
				    "temp.retention_ids", 0, &got, err, errlen);
			if (r != 0)
				goto fail;
			res->raw += got;
			if ((r = store_commit(st)) != 0) {
				snprintf(err, errlen, "%s", store_errmsg(st));
				store_rollback(st);
				return r;
			}
		} while (got > 0);
	}
	return 0;
fail:
	store_rollback(st);
	return r;
}

/*
 * reparse.c - listing kept originals and deleting the reports built from
 * one (see reparse.h).  Reads through the SQLite handle of the store.
 */
#include <sqlite3.h>
#include <stdlib.h>

#include "lib/xalloc.h"
#include "store/reparse.h"
#include "store/store_impl.h"

long
reparse_list(struct store *st, struct reparse_item **items_out)
{
	sqlite3 *db = store_sqlite_handle(st);
	sqlite3_stmt *s = NULL;
	struct reparse_item *v = NULL;
	long n = 0, cap = 0;
	int rc;

	*items_out = NULL;
	if (db == NULL)
		return store_seterr(st, "reparse: needs the SQLite backend");
	rc = sqlite3_prepare_v2(db,
	    "SELECT raw_id, min(source), min(input) FROM ledger "
	    "WHERE raw_id IS NOT NULL AND raw_id > 0 AND status <> 'duplicate' "
	    "GROUP BY raw_id ORDER BY raw_id", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store_seterr(st, "reparse: %s", sqlite3_errmsg(db));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = xrealloc(v, (size_t)cap * sizeof *v);
		}
		v[n].raw_id = sqlite3_column_int64(s, 0);
		v[n].source = xstrdup((const char *)sqlite3_column_text(s, 1) ?
		    (const char *)sqlite3_column_text(s, 1) : "file");
		v[n].input = xstrdup((const char *)sqlite3_column_text(s, 2) ?
		    (const char *)sqlite3_column_text(s, 2) : "?");
		n++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		reparse_items_free(v, n);
		return store_seterr(st, "reparse: %s", sqlite3_errmsg(db));
	}
	*items_out = v;
	return n;
}

void
reparse_items_free(struct reparse_item *items, long n)
{
	for (long i = 0; i < n; i++) {
		free(items[i].source);
		free(items[i].input);
	}
	free(items);
}

long
reparse_delete_reports(struct store *st, int64_t raw_id)
{
	sqlite3 *db = store_sqlite_handle(st);
	sqlite3_stmt *s = NULL;
	int64_t *ids = NULL;
	long n = 0, cap = 0;
	int rc;

	if (db == NULL)
		return store_seterr(st, "reparse: needs the SQLite backend");
	rc = sqlite3_prepare_v2(db, "SELECT id FROM reports WHERE raw_id = ?",
	    -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store_seterr(st, "reparse: %s", sqlite3_errmsg(db));
	sqlite3_bind_int64(s, 1, raw_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			ids = xrealloc(ids, (size_t)cap * sizeof *ids);
		}
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	for (long i = 0; i < n; i++)
		if (store_report_delete(st, ids[i]) != 0) {
			free(ids);
			return -1;
		}
	free(ids);
	return n;
}

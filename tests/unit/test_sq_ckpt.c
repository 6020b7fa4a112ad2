/*
 * test_sq_ckpt.c - checkpoints off the writer's thread (store/sq_ckpt.c),
 * on a real WAL database in a temporary directory, with small thresholds:
 *  - the checkpoint thread copies pages into the database while the writer
 *    goes on committing (the database file grows before any close);
 *  - the WAL stays bounded: once it reaches `max` frames the writer waits
 *    for a full checkpoint, after which the WAL starts over, so its file
 *    never grows far past `max` frames however much is written;
 *  - every committed row is there and the file is sound after close;
 *  - a store that never reaches the threshold never starts the thread,
 *    and freeing works in every state (never started, idle, NULL);
 *  - an in-memory database gets no checkpointer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/sq_ckpt.h"

#define PAGE 4096
#define PAGES 64                 /* frames that start a checkpoint */
#define MAX 256                  /* frames that make the writer wait */
#define ROW 3000                 /* bytes of one row: about one page */
#define ROWS_PER_TXN 40
#define TXNS 200                 /* 8,000 rows: ~8,000 frames written */

struct fx {
	char dir[64], db[96], wal[112];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	snprintf(f->dir, sizeof f->dir, "/tmp/test_sq_ckpt.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
	snprintf(f->wal, sizeof f->wal, "%s-wal", f->db);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char path[160];

	unlink(f->wal);
	snprintf(path, sizeof path, "%s-shm", f->db);
	unlink(path);
	unlink(f->db);
	rmdir(f->dir);
	free(f);
	return 0;
}

static off_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : 0;
}

static sqlite3 *
open_wal(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA page_size=4096;"
	    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    "PRAGMA cache_size=-1024;"
	    "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)",
	    NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void
test_bounded_and_complete(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = open_wal(f->db);
	struct sq_ckpt *c = sq_ckpt_new(db, PAGES, MAX);
	sqlite3_stmt *ins = NULL, *q = NULL;
	off_t db_before, wal_max = 0;
	int id = 0;

	assert_non_null(c);
	db_before = file_size(f->db);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t(id, v) VALUES (?1, "
	    "randomblob(?2))", -1, &ins, NULL), SQLITE_OK);
	for (int t = 0; t < TXNS; t++) {
		assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
		for (int r = 0; r < ROWS_PER_TXN; r++) {
			sqlite3_bind_int(ins, 1, ++id);
			sqlite3_bind_int(ins, 2, ROW);
			assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
			sqlite3_reset(ins);
		}
		assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
		if (file_size(f->wal) > wal_max)
			wal_max = file_size(f->wal);
	}
	sqlite3_finalize(ins);
	/* pages reached the database file while the writer never checkpointed */
	assert_true(file_size(f->db) > db_before + (off_t)PAGES * PAGE);
	/* the WAL started over: far below the ~TXNS * ROWS_PER_TXN frames
	 * written (one transaction's frames may come on top of MAX) */
	assert_true(wal_max <= (off_t)(MAX + 2 * ROWS_PER_TXN + 16) * (PAGE + 24));
	sq_ckpt_free(&c);
	assert_null(c);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	db = open_wal(f->db);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), sum(length(v)) "
	    "FROM t", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), TXNS * ROWS_PER_TXN);
	assert_int_equal(sqlite3_column_int64(q, 1), (int64_t)TXNS * ROWS_PER_TXN * ROW);
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void
test_small_store_and_free(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = open_wal(f->db);
	struct sq_ckpt *c = sq_ckpt_new(db, 1000000, 2000000), *none = NULL;
	off_t db_before = file_size(f->db);

	assert_non_null(c);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO t(v) VALUES (randomblob(100000))",
	    NULL, NULL, NULL), SQLITE_OK);
	/* below the threshold nothing is checkpointed before the close */
	assert_int_equal(file_size(f->db), db_before);
	assert_true(file_size(f->wal) > 100000);
	sq_ckpt_free(&c);            /* thread never started */
	sq_ckpt_free(&c);            /* NULL */
	sq_ckpt_free(&none);
	sq_ckpt_free(NULL);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	/* the close checkpointed and removed the WAL, as SQLite always does */
	assert_true(file_size(f->db) > db_before + 100000);
	assert_int_equal(file_size(f->wal), 0);

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_null(sq_ckpt_new(db, PAGES, MAX));
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bounded_and_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_store_and_free, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * sq_ckpt.h - WAL checkpoints of a writing SQLite connection, done by a
 * thread of their own (private to store/).
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that pushed the WAL
 * over its threshold: the committing thread copies the WAL's pages into the
 * database and waits for two fdatasync() calls.  For an import that is the
 * writer thread, which the parser thread then waits for; over 20,000
 * reports that was ~0.2 s of a ~1.1 s import (bench/README.md).
 *
 * sq_ckpt_new() replaces the automatic checkpoint of `db` with a WAL hook
 * that, once the WAL holds `pages` frames, wakes a thread with its own
 * connection to run a PASSIVE checkpoint (it never blocks the writer nor
 * readers).  The thread and its connection are made on first need, so a
 * store that never writes much never has them.  If they cannot be made,
 * the hook checkpoints in the committing thread as SQLite would have.
 *
 * A PASSIVE checkpoint copies the frames that existed when it started.
 * The WAL starts over from its beginning at the first commit after a
 * checkpoint that caught up with every frame; the writer appends frames
 * only at commits (or when its cache spills), so a checkpoint that runs
 * between two commits catches up, and the WAL stays near `pages` frames.
 * Should it lag anyway, every further commit wakes the thread again.
 *
 * sq_ckpt_free() stops the thread (waiting for a checkpoint under way) and
 * removes the hook; call it before closing `db`, whose close then
 * checkpoints what is left, as before.
 */
#ifndef DMARCSTAT_SQ_CKPT_H
#define DMARCSTAT_SQ_CKPT_H

struct sqlite3;
struct sq_ckpt;

/* NULL (nothing installed) for a database without a file name. */
struct sq_ckpt *sq_ckpt_new(struct sqlite3 *db, int pages, int max);
void sq_ckpt_free(struct sq_ckpt **cp);

#endif

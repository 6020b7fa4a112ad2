/*
 * sq_ckpt.c - WAL checkpoints in a thread of their own (see sq_ckpt.h).
 *
 * Locking: `mu` guards the counters, stop and state.  The hook (in the
 * writer's COMMIT) counts a request and signals; it waits only when the
 * WAL has reached `max` frames, for a checkpoint that started after its
 * request (asked/taken/done count requests, so "after" is exact).
 * The thread owns `cdb`, a second connection to the same file, opened and
 * closed by the thread itself.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "store/sq_ckpt.h"

enum ck_state { CK_IDLE, CK_RUNNING, CK_FAILED };

struct sq_ckpt {
	sqlite3 *db;             /* the writer's connection (not owned) */
	char *path;
	int pages, max;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	enum ck_state state;
	int created;             /* th exists: join it */
	int stop;
	unsigned long asked;     /* checkpoints asked for (by the hook) */
	unsigned long taken;     /* the last one the thread started on */
	unsigned long done;      /* the last one the thread finished */
};

static void *
ck_main(void *arg)
{
	struct sq_ckpt *c = arg;
	sqlite3 *cdb = NULL;

	if (sqlite3_open_v2(c->path, &cdb, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(cdb, "PRAGMA synchronous=NORMAL", NULL, NULL,
	    NULL) != SQLITE_OK) {
		/* the writer's hook checkpoints from now on */
		sqlite3_close_v2(cdb);
		pthread_mutex_lock(&c->mu);
		c->state = CK_FAILED;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		return NULL;
	}
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->taken == c->asked && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->taken = c->asked;
		pthread_mutex_unlock(&c->mu);
		/* SQLITE_BUSY (another process checkpointing) and errors
		 * leave the frames for the next round or the final close. */
		sqlite3_wal_checkpoint_v2(cdb, NULL, SQLITE_CHECKPOINT_PASSIVE,
		    NULL, NULL);
		pthread_mutex_lock(&c->mu);
		c->done = c->taken;
		pthread_cond_broadcast(&c->cv);
	}
	c->done = c->asked;          /* nobody may wait for a thread that left */
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	sqlite3_close_v2(cdb);
	return NULL;
}

/* The WAL hook: runs in the writer's thread after each commit. */
static int
ck_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct sq_ckpt *c = arg;
	int inline_ckpt = 0;

	if (frames < c->pages)
		return SQLITE_OK;
	pthread_mutex_lock(&c->mu);
	if (c->state == CK_IDLE && !c->stop) {
		if (pthread_create(&c->th, NULL, ck_main, c) == 0) {
			c->state = CK_RUNNING;
			c->created = 1;
		} else
			c->state = CK_FAILED;
	}
	if (c->state == CK_RUNNING) {
		unsigned long mine = ++c->asked;

		pthread_cond_broadcast(&c->cv);
		/* Too far behind: wait for a checkpoint of every frame, so
		 * that the next transaction starts the WAL over. */
		while (frames >= c->max && c->done < mine &&
		    c->state == CK_RUNNING)
			pthread_cond_wait(&c->cv, &c->mu);
	} else {
		inline_ckpt = 1;
	}
	pthread_mutex_unlock(&c->mu);
	if (inline_ckpt)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
		    NULL, NULL);
	return SQLITE_OK;
}

struct sq_ckpt *
sq_ckpt_new(sqlite3 *db, int pages, int max)
{
	const char *path = sqlite3_db_filename(db, "main");
	struct sq_ckpt *c;

	if (path == NULL || path[0] == '\0')
		return NULL;
	c = xcalloc(1, sizeof *c);
	c->db = db;
	c->path = xstrdup(path);
	c->pages = pages > 0 ? pages : 1;
	c->max = max > c->pages ? max : c->pages;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	sqlite3_wal_hook(db, ck_hook, c);
	return c;
}

void
sq_ckpt_free(struct sq_ckpt **cp)
{
	struct sq_ckpt *c = cp != NULL ? *cp : NULL;
	int join;

	if (c == NULL)
		return;
	*cp = NULL;
	sqlite3_wal_hook(c->db, NULL, NULL);
	pthread_mutex_lock(&c->mu);
	join = c->created;

	c->stop = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (join)
		pthread_join(c->th, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c->path);
	free(c);
}

/*
 * memkeep.c - the keeper of an in-memory copy (see memkeep.h).
 *
 * Locking: `mu` guards cur (and every copy's reference count), state,
 * error, counters, poke and stop.  The thread alone reads and writes
 * fp_last and uses the keeper's connection.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/memkeep.h"
#include "store/store.h"

enum mk_state { MK_BUILDING, MK_READY, MK_OFF, MK_ERROR, MK_WAITING };
static const char *const mk_state_names[] = {
	"building", "ready", "off", "error", "waiting",
};

struct memkeep {
	const struct memkeep_ops *ops;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, poke, started, wait_first;
	struct store *st;
	uint32_t max;
	memkeep_hook hook;
	void *arg;
	void *cur;                      /* the newest copy (one reference held here) */
	enum mk_state state;
	char error[200];
	uint64_t builds;
	double t_start, ready_ms;
	unsigned char fp_last[MEMKEEP_FP_MAX];  /* of the last build, good or not */
	unsigned char fp_now[MEMKEEP_FP_MAX];   /* scratch of the thread */
};

static double
mk_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void
mk_unref_locked(struct memkeep *k, void **cp)
{
	if (*cp != NULL && --*k->ops->refs(*cp) == 0)
		k->ops->free(*cp);
	*cp = NULL;
}

static int64_t
mk_data_version(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void
mk_build(struct memkeep *k, sqlite3 *db)
{
	const struct memkeep_ops *o = k->ops;
	char err[200];
	void *c, *old;

	if (o->fp_read(db, k->fp_last) != 0)
		memset(k->fp_last, 0xff, o->fp_size);
	c = o->build(db, k->max, err, sizeof(err));
	if (c != NULL)
		memcpy(k->fp_last, o->fp_of(c), o->fp_size);
	pthread_mutex_lock(&k->mu);
	old = k->cur;
	if (c != NULL) {
		*o->refs(c) = 1;
		k->cur = c;
		k->state = MK_READY;
		k->error[0] = '\0';
		k->builds++;
		if (k->ready_ms == 0)
			k->ready_ms = mk_ms() - k->t_start;
	} else {
		k->cur = NULL;
		k->state = strstr(err, "too many") ? MK_OFF : MK_ERROR;
		snprintf(k->error, sizeof(k->error), "%s", err);
	}
	mk_unref_locked(k, &old);
	pthread_mutex_unlock(&k->mu);
	if (k->hook != NULL)
		k->hook(k->arg);
}

/* One wake-up: rebuild when the data moved (not sooner than *next). */
static void
mk_check(struct memkeep *k, sqlite3 *db, int64_t *seen, int poked, int *pending,
    double *next)
{
	const struct memkeep_ops *o = k->ops;
	int64_t v = mk_data_version(db);
	double t0;

	if (v == *seen && !poked && !*pending)
		return;
	if (mk_ms() < *next) {
		*pending = 1;
		return;
	}
	*pending = 0;
	*seen = v;
	if (o->fp_read(db, k->fp_now) != 0 ||
	    memcmp(k->fp_now, k->fp_last, o->fp_size) == 0)
		return;
	t0 = mk_ms();
	pthread_mutex_lock(&k->mu);
	k->state = MK_BUILDING;
	pthread_mutex_unlock(&k->mu);
	mk_build(k, db);
	*next = mk_ms() + o->gap_x * (mk_ms() - t0);
	if (*next < t0 + o->gap_min_ms)
		*next = t0 + o->gap_min_ms;
}

static void *
mk_main(void *arg)
{
	struct memkeep *k = arg;
	sqlite3 *db = store_sqlite_handle(k->st);
	int64_t seen = mk_data_version(db);
	double next = 0;
	int pending = 0;

	pthread_mutex_lock(&k->mu);
	while (k->wait_first && !k->poke && !k->stop)
		pthread_cond_wait(&k->cv, &k->mu);
	k->state = MK_BUILDING;
	k->poke = 0;
	pthread_mutex_unlock(&k->mu);
	if (!k->stop)
		mk_build(k, db);
	pthread_mutex_lock(&k->mu);
	while (!k->stop) {
		struct timespec ts;
		int poked;

		if (!k->poke) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)k->ops->poll_ms * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&k->cv, &k->mu, &ts);
		}
		if (k->stop)
			break;
		poked = k->poke;
		k->poke = 0;
		pthread_mutex_unlock(&k->mu);
		mk_check(k, db, &seen, poked, &pending, &next);
		pthread_mutex_lock(&k->mu);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

static void
mk_release(struct memkeep *k)
{
	store_close(&k->st);
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
	free(k);
}

struct memkeep *
memkeep_new(const struct memkeep_ops *ops, const char *db_path, uint32_t max,
    int wait_first, memkeep_hook hook, void *arg)
{
	struct memkeep *k = calloc(1, sizeof(*k));
	char err[256];

	if (k == NULL)
		return NULL;
	k->st = store_open(db_path, 1, err, sizeof(err));
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	if (k->st == NULL || store_sqlite_handle(k->st) == NULL ||
	    ops->fp_size > MEMKEEP_FP_MAX) {
		mk_release(k);
		return NULL;
	}
	k->ops = ops;
	k->max = max;
	k->hook = hook;
	k->arg = arg;
	k->wait_first = wait_first;
	k->state = wait_first ? MK_WAITING : MK_BUILDING;
	k->t_start = mk_ms();
	if (pthread_create(&k->th, NULL, mk_main, k) != 0) {
		mk_release(k);
		return NULL;
	}
	k->started = 1;
	return k;
}

void
memkeep_free(struct memkeep **kp)
{
	struct memkeep *k = kp ? *kp : NULL;

	if (k == NULL)
		return;
	pthread_mutex_lock(&k->mu);
	k->stop = 1;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	if (k->started)
		pthread_join(k->th, NULL);
	pthread_mutex_lock(&k->mu);
	mk_unref_locked(k, &k->cur);
	pthread_mutex_unlock(&k->mu);
	mk_release(k);
	*kp = NULL;
}

void *
memkeep_get(struct memkeep *k, sqlite3 *db)
{
	unsigned char fp[MEMKEEP_FP_MAX];
	void *c;

	if (k == NULL || db == NULL)
		return NULL;
	pthread_mutex_lock(&k->mu);
	if ((c = k->cur) != NULL)
		++*k->ops->refs(c);
	pthread_mutex_unlock(&k->mu);
	if (c == NULL)
		return NULL;
	if (k->ops->fp_read(db, fp) == 0 &&
	    memcmp(fp, k->ops->fp_of(c), k->ops->fp_size) == 0)
		return c;
	/* this connection sees other data: SQL now, a new copy soon */
	pthread_mutex_lock(&k->mu);
	mk_unref_locked(k, &c);
	k->poke = 1;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

void
memkeep_put(struct memkeep *k, void *copy)
{
	if (k == NULL || copy == NULL)
		return;
	pthread_mutex_lock(&k->mu);
	mk_unref_locked(k, &copy);
	pthread_mutex_unlock(&k->mu);
}

void
memkeep_poke(struct memkeep *k)
{
	if (k == NULL)
		return;
	pthread_mutex_lock(&k->mu);
	k->poke = 1;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

json_t *
memkeep_status(struct memkeep *k)
{
	int64_t count = 0, bytes = 0;
	double build_ms = 0;
	json_t *v;

	if (k == NULL)
		return json_pack("{s:s}", "state", "off");
	pthread_mutex_lock(&k->mu);
	if (k->cur != NULL)
		k->ops->stats(k->cur, &count, &bytes, &build_ms);
	v = json_pack("{s:s, s:I, s:I, s:I, s:f, s:f}", "state", mk_state_names[k->state],
	    k->ops->count_key, (json_int_t)count, "bytes", (json_int_t)bytes,
	    "builds", (json_int_t)k->builds, "build_ms", build_ms, "ready_ms", k->ready_ms);
	if (k->error[0])
		json_object_set_new(v, "error", json_string(k->error));
	pthread_mutex_unlock(&k->mu);
	return v;
}

int
memkeep_read_row(sqlite3 *db, const char *sql, int64_t *v, int n)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	memset(v, 0, (size_t)n * sizeof(*v));
	if (db == NULL || sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto done;
	if (sqlite3_step(s) == SQLITE_ROW) {
		for (int i = 0; i < n; i++)
			v[i] = sqlite3_column_int64(s, i);
		rc = 0;
	}
done:
	sqlite3_finalize(s);
	return rc;
}

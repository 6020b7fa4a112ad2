/*
 * watch.c - importing the files dropped in spool folders and Maildirs
 * (see watch.h for the once-only rename protocol).
 *
 * Public: watch_new, watch_fd, watch_read_events, watch_process,
 * watch_free.
 *
 * An inotify event only marks its folder; the folder is then scanned with
 * readdir, so an event queue overflow loses nothing (the periodic rescan
 * catches anything missed too).  Files are handled in sorted order, in
 * batches of WATCH_BATCH: imported, committed with one ingest_flush, then
 * renamed.  Memory: the file names of one folder (bounded by
 * WATCH_MAX_FILES per scan; the rest waits for the next scan).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/daemon.h"
#include "ingest/watch.h"
#include "lib/xalloc.h"

#define WATCH_BATCH 100
#define WATCH_MAX_FILES 20000

struct watch_dir {
	char *dir;        /* the folder scanned (a Maildir's new/) */
	char *done;       /* absolute */
	char *failed;
	int is_maildir;
	int wd;
	int dirty;
};

struct watch {
	struct watch_dir *dirs;
	size_t n;
	int fd;
	int delete_done;
};

static int
watch_mkdir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0750) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
watch_is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static char *
watch_resolve(const char *root, const char *rel)
{
	if (rel[0] == '/')
		return xstrdup(rel);
	return xasprintf("%s/%s", root, rel);
}

struct watch *
watch_new(const struct config *cfg, int use_inotify, char *err, size_t errlen)
{
	struct watch *w = xcalloc(1, sizeof *w);
	char **list;
	size_t n = config_list(cfg, "spool.dirs", &list), i;

	w->fd = -1;
	w->delete_done = strcmp(config_str(cfg, "spool.on_success"), "delete") == 0;
	if (use_inotify && n > 0) {
		w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (w->fd < 0) {
			snprintf(err, errlen, "inotify_init1: %s", strerror(errno));
			goto fail;
		}
	}
	w->dirs = xcalloc(n ? n : 1, sizeof *w->dirs);
	for (i = 0; i < n; i++) {
		struct watch_dir *wd = &w->dirs[w->n++];
		char *root = list[i], *newdir, *curdir;
		size_t len = strlen(root);

		while (len > 1 && root[len - 1] == '/')
			root[--len] = '\0';
		if (!watch_is_dir(root)) {
			snprintf(err, errlen, "spool folder %s: not a directory", root);
			goto fail;
		}
		newdir = xasprintf("%s/new", root);
		curdir = xasprintf("%s/cur", root);
		wd->is_maildir = watch_is_dir(newdir) && watch_is_dir(curdir);
		wd->dir = wd->is_maildir ? newdir : xstrdup(root);
		if (!wd->is_maildir)
			free(newdir);
		free(curdir);
		wd->done = watch_resolve(root, config_str(cfg, "spool.done_dir"));
		wd->failed = watch_resolve(root, config_str(cfg, "spool.failed_dir"));
		wd->wd = -1;
		wd->dirty = 1;
		if ((!w->delete_done && watch_mkdir(wd->done, err, errlen) != 0) ||
		    watch_mkdir(wd->failed, err, errlen) != 0)
			goto fail;
		if (strcmp(wd->done, wd->dir) == 0 || strcmp(wd->failed, wd->dir) == 0) {
			snprintf(err, errlen, "spool folder %s: done/failed folder is the folder itself",
			    wd->dir);
			goto fail;
		}
		if (w->fd >= 0) {
			wd->wd = inotify_add_watch(w->fd, wd->dir,
			    IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR);
			if (wd->wd < 0) {
				snprintf(err, errlen, "inotify %s: %s", wd->dir,
				    strerror(errno));
				goto fail;
			}
		}
	}
	config_list_free(list, n);
	return w;
fail:
	config_list_free(list, n);
	watch_free(&w);
	return NULL;
}

int
watch_fd(const struct watch *w)
{
	return w->fd;
}

int
watch_read_events(struct watch *w)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	int marked = 0;
	ssize_t n;
	size_t i;

	if (w->fd < 0)
		return 0;
	while ((n = read(w->fd, buf, sizeof buf)) > 0) {
		char *p = buf;
		while (p < buf + n) {
			struct inotify_event *ev = (struct inotify_event *)p;
			for (i = 0; i < w->n; i++) {
				/* IN_Q_OVERFLOW: wd -1, everything is rescanned */
				if (ev->wd == w->dirs[i].wd || ev->wd == -1) {
					if (!w->dirs[i].dirty)
						marked++;
					w->dirs[i].dirty = 1;
				}
			}
			p += sizeof *ev + ev->len;
		}
	}
	return marked;
}

static int
watch_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Renames src into folder `to`, never replacing a file: name, name.1, ... */
static int
watch_move(const char *src, const char *to, const char *base)
{
	char *dst = xasprintf("%s/%s", to, base);
	int i, r = -1;

	for (i = 1; i < 1000; i++) {
		if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0) {
			r = 0;
			break;
		}
		if (errno != EEXIST)
			break;
		free(dst);
		dst = xasprintf("%s/%s.%d", to, base, i);
	}
	if (r != 0)
		daemon_log(DAEMON_LOG_ERROR, "spool_move_failed", "file=%s to=%s error=%s",
		    daemon_logq(src), daemon_logq(to), daemon_logq(strerror(errno)));
	free(dst);
	return r;
}

static void
watch_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static void
watch_stats_add(struct ingest_stats *a, const struct ingest_stats *b)
{
	a->inputs += b->inputs;
	a->imported += b->imported;
	a->duplicates += b->duplicates;
	a->rejected += b->rejected;
	a->not_report += b->not_report;
	a->unsupported += b->unsupported;
	a->errors += b->errors;
	a->records += b->records;
	a->messages += b->messages;
	a->bytes += b->bytes;
}

/* One folder.  0, 1 (some failed), or <0 (some left for a retry). */
static int
watch_folder(struct watch *w, struct watch_dir *wd, struct store *st,
    const struct limits *lim, FILE *errors, const volatile int *stop,
    struct ingest_stats *stats)
{
	DIR *dh;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i, start;
	int ret = 0;
	struct ingest_opts opts;

	if ((dh = opendir(wd->dir)) == NULL) {
		daemon_log(DAEMON_LOG_ERROR, "spool_scan_failed", "dir=%s error=%s",
		    daemon_logq(wd->dir), daemon_logq(strerror(errno)));
		return -1;
	}
	while ((de = readdir(dh)) != NULL && n < WATCH_MAX_FILES) {
		char *path;
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", wd->dir, de->d_name);
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			names = xrealloc(names, (n + 1) * sizeof *names);
			names[n++] = xstrdup(de->d_name);
		}
		free(path);
	}
	closedir(dh);
	if (n == 0)
		return 0;
	qsort(names, n, sizeof *names, watch_cmp);

	memset(&opts, 0, sizeof opts);
	opts.source = wd->is_maildir ? "maildir" : "spool";
	opts.keep_raw = 1;
	opts.batch = WATCH_BATCH + 1;
	opts.errors = errors;
	for (start = 0; start < n && ret >= 0 && !(stop && *stop); start += WATCH_BATCH) {
		size_t end = start + WATCH_BATCH < n ? start + WATCH_BATCH : n;
		char *ok = xcalloc(end - start, 1);
		struct ingest *ig = ingest_new(st, lim, &opts);
		int temp = 0, r;

		if (ig == NULL) {
			free(ok);
			ret = -1;
			break;
		}
		for (i = start; i < end; i++) {
			char *path = xasprintf("%s/%s", wd->dir, names[i]);
			struct ingest_stats before = *ingest_stats(ig);
			const struct ingest_stats *now;

			if (stop && *stop && i > start) {
				free(path);
				end = i;
				break;
			}
			r = ingest_path(ig, path);
			free(path);
			if (r < 0) {
				temp = 1;
				ret = r;
				end = i;
				break;
			}
			now = ingest_stats(ig);
			ok[i - start] = (now->imported - before.imported) +
			    (now->duplicates - before.duplicates) +
			    (now->unsupported - before.unsupported) > 0 ? 1 : 2;
		}
		r = ingest_flush(ig);
		if (stats != NULL)
			watch_stats_add(stats, ingest_stats(ig));
		if (ingest_free(&ig) != 0 || r != 0) {
			temp = 1;
			if (ret >= 0)
				ret = r != 0 ? r : -1;
		}
		/* committed: now, and only now, the files leave the folder */
		for (i = start; i < end && !temp; i++) {
			char *path = xasprintf("%s/%s", wd->dir, names[i]);
			if (ok[i - start] == 1 && w->delete_done) {
				if (unlink(path) != 0)
					daemon_log(DAEMON_LOG_ERROR, "spool_unlink_failed",
					    "file=%s error=%s", daemon_logq(path),
					    daemon_logq(strerror(errno)));
			} else if (ok[i - start] == 1)
				watch_move(path, wd->done, names[i]);
			else if (ok[i - start] == 2) {
				watch_move(path, wd->failed, names[i]);
				if (ret == 0)
					ret = 1;
			}
			free(path);
		}
		if (!temp) {
			watch_sync_dir(wd->dir);
			if (!w->delete_done)
				watch_sync_dir(wd->done);
			watch_sync_dir(wd->failed);
		}
		free(ok);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

int
watch_process(struct watch *w, struct store *st, const struct limits *lim,
    int all, FILE *errors, const volatile int *stop, struct ingest_stats *stats)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < w->n && !(stop && *stop); i++) {
		struct watch_dir *wd = &w->dirs[i];
		int r;

		if (!all && !wd->dirty)
			continue;
		wd->dirty = 0;
		r = watch_folder(w, wd, st, lim, errors, stop, stats);
		if (r < 0) {
			wd->dirty = 1;   /* the rescan retries */
			ret = r;
		} else if (r == 1 && ret == 0)
			ret = 1;
	}
	return ret;
}

void
watch_free(struct watch **wp)
{
	struct watch *w;
	size_t i;

	if (wp == NULL || *wp == NULL)
		return;
	w = *wp;
	for (i = 0; i < w->n; i++) {
		free(w->dirs[i].dir);
		free(w->dirs[i].done);
		free(w->dirs[i].failed);
	}
	free(w->dirs);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
	*wp = NULL;
}

/*
 * walk.c - paths to inputs: files, directory trees, Maildir, mbox, stdin
 * (see walk.h).  Directory entries are sorted so imports are reproducible;
 * symbolic links to directories are not followed (no loops).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/walk.h"
#include "lib/xalloc.h"
#include "parse/sniff.h"
#include "parse/unpack.h"

#define WALK_MAX_DEPTH 32

struct mbox_ctx {
	const struct walk_cb *cb;
	const char *name;
	int stopped;
};

static int
mbox_msg(void *vctx, unsigned long index, struct rd *msg)
{
	struct mbox_ctx *m = vctx;
	char member[64];

	snprintf(member, sizeof member, "message %lu", index);
	if (m->cb->on_input(m->cb->ctx, "mbox", m->name, member, msg) != 0) {
		m->stopped = 1;
		return -1;
	}
	return 0;
}

/* One file: an mbox is split into messages, anything else is one input. */
static int
walk_file(const char *path, const char *source, const struct limits *lim,
    const struct walk_cb *cb)
{
	char err[256], head[512];
	struct rd *rd;
	ssize_t n;
	int rc;

	rd = rd_file_open(path, err, sizeof err);
	if (rd == NULL) {
		cb->on_error(cb->ctx, path, err);
		return 0;
	}
	n = rd_read_full(rd, head, sizeof head);
	if (n < 0) {
		cb->on_error(cb->ctx, path, rd->err);
		rd_close(&rd);
		return 0;
	}
	rd = rd_prefix_new(head, (size_t)n, rd);
	if (strcmp(source, "file") == 0 && sniff(head, (size_t)n) == SNIFF_MBOX) {
		struct mbox_ctx m = { cb, path, 0 };
		rd->limit = 0;          /* an mbox may exceed the per-message limit */
		if (unpack_mbox(rd, lim, mbox_msg, &m, err, sizeof err) < 0
		    && !m.stopped)
			cb->on_error(cb->ctx, path, err);
		rd_close(&rd);
		return m.stopped ? -1 : 0;
	}
	rd->limit = lim->max_input_bytes;
	rc = cb->on_input(cb->ctx, source, path, NULL, rd);
	rd_close(&rd);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of a directory, hidden entries skipped; NULL on error. */
static char **
list_dir(const char *path, size_t *n_out, char *err, size_t errlen)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;

	if (d == NULL) {
		snprintf(err, errlen, "cannot open directory: %s", strerror(errno));
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof *v, name_cmp);
	*n_out = n;
	return v ? v : xcalloc(1, sizeof *v);
}

static int is_dir(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int walk_dir(const char *path, const struct limits *lim,
    const struct walk_cb *cb, int depth);

static int
walk_maildir_sub(const char *path, const char *sub, const struct limits *lim,
    const struct walk_cb *cb)
{
	char *dir = xasprintf("%s/%s", path, sub), err[256];
	size_t n = 0;
	char **names = list_dir(dir, &n, err, sizeof err);
	int rc = 0;

	if (names == NULL) {
		free(dir);
		return 0;       /* a Maildir may lack new/ or cur/ */
	}
	for (size_t i = 0; i < n; i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);
		struct stat sb;
		if (rc == 0 && lstat(p, &sb) == 0 && S_ISREG(sb.st_mode))
			rc = walk_file(p, "maildir", lim, cb);
		free(p);
		free(names[i]);
	}
	free(names);
	free(dir);
	return rc;
}

static int
walk_dir(const char *path, const struct limits *lim, const struct walk_cb *cb,
    int depth)
{
	char err[256];
	size_t n = 0;
	char **names;
	int rc = 0;

	if (depth > WALK_MAX_DEPTH) {
		cb->on_error(cb->ctx, path, "directory tree too deep");
		return 0;
	}
	/* A Maildir: messages live in cur/ and new/; its subfolders (.Name) too. */
	{
		char *cur = xasprintf("%s/cur", path), *new = xasprintf("%s/new", path);
		int maildir = is_dir(cur) || is_dir(new);
		free(cur);
		free(new);
		if (maildir) {
			rc = walk_maildir_sub(path, "new", lim, cb);
			if (rc == 0)
				rc = walk_maildir_sub(path, "cur", lim, cb);
			return rc;
		}
	}
	names = list_dir(path, &n, err, sizeof err);
	if (names == NULL) {
		cb->on_error(cb->ctx, path, err);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		char *p = xasprintf("%s/%s", path, names[i]);
		struct stat sb;
		if (rc == 0 && lstat(p, &sb) == 0) {
			if (S_ISDIR(sb.st_mode))
				rc = walk_dir(p, lim, cb, depth + 1);
			else if (S_ISREG(sb.st_mode))
				rc = walk_file(p, "file", lim, cb);
		}
		free(p);
		free(names[i]);
	}
	free(names);
	return rc;
}

int
walk_path(const char *path, const struct limits *lim, const struct walk_cb *cb)
{
	struct stat sb;

	if (strcmp(path, "-") == 0) {
		struct rd *rd = rd_fd_new(0);
		char head[512];
		ssize_t n = rd_read_full(rd, head, sizeof head);
		int rc;

		if (n < 0) {
			cb->on_error(cb->ctx, "(stdin)", rd->err);
			rd_close(&rd);
			return 0;
		}
		rd = rd_prefix_new(head, (size_t)n, rd);
		rd->limit = lim->max_input_bytes;
		rc = cb->on_input(cb->ctx, "stdin", "(stdin)", NULL, rd);
		rd_close(&rd);
		return rc;
	}
	if (stat(path, &sb) != 0) {
		cb->on_error(cb->ctx, path, strerror(errno));
		return 0;
	}
	if (S_ISDIR(sb.st_mode))
		return walk_dir(path, lim, cb, 0);
	return walk_file(path, "file", lim, cb);
}

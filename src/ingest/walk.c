/*
 * walk.c - paths to inputs: files, directory trees, Maildir, mbox, stdin
 * (see walk.h).  Directory entries are sorted so imports are reproducible;
 * symbolic links inside a tree are not followed (no loops).
 *
 * Cost per file of a big tree: the entry's type comes from readdir (lstat
 * only when the file system does not say), the file is opened relative to
 * its directory, read into one buffer reused for the whole walk, and no
 * memory is allocated for it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

/*
 * Per-walk state: the limits and callbacks, and one read buffer for the
 * head of every file, so a tree of small files costs no allocation per
 * file and, for a file smaller than the buffer, two read(2) calls.
 */
struct walk {
	const struct limits *lim;
	const struct walk_cb *cb;
	unsigned char *head;
};

#define WALK_HEAD (64 * 1024)
#define WALK_SNIFF 512          /* bytes sniffed for an mbox */

/*
 * A file stream that first serves what the walk already read into its head
 * buffer, and knows when that read met the end of the file.  Lives on the
 * stack of walk_file (close does nothing; the descriptor is closed there).
 */
struct walk_rd {
	struct rd rd;
	int fd;
	int eof;
	const unsigned char *buf;
	size_t n, off;
};

static ssize_t
walk_rd_read(struct rd *rd, void *out, size_t n)
{
	struct walk_rd *w = (struct walk_rd *)rd;
	ssize_t r;

	if (w->off < w->n) {
		if (n > w->n - w->off)
			n = w->n - w->off;
		memcpy(out, w->buf + w->off, n);
		w->off += n;
		return (ssize_t)n;
	}
	if (w->eof || n == 0)
		return 0;
	do
		r = read(w->fd, out, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		snprintf(rd->err, sizeof rd->err, "read error: %s",
		    strerror(errno));
	else if (r == 0)
		w->eof = 1;
	return r;
}

static void
walk_rd_close(struct rd *rd)
{
	(void)rd;
}

/* Fills the head buffer: until it is full or the file ends; -1 on error. */
static ssize_t
walk_fill(struct walk_rd *w, unsigned char *buf, size_t cap)
{
	size_t got = 0;

	while (got < cap) {
		ssize_t r = read(w->fd, buf + got, cap - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(w->rd.err, sizeof w->rd.err, "read error: %s",
			    strerror(errno));
			return -1;
		}
		if (r == 0) {
			w->eof = 1;
			break;
		}
		got += (size_t)r;
	}
	w->buf = buf;
	w->n = got;
	w->off = 0;
	return (ssize_t)got;
}

/*
 * One file (opened relative to dirfd, or by path when dirfd is AT_FDCWD):
 * an mbox is split into messages, anything else is one input.
 */
static int
walk_file(struct walk *wk, int dirfd, const char *rel, const char *path,
    const char *source)
{
	const struct walk_cb *cb = wk->cb;
	struct walk_rd w;
	char err[256];
	ssize_t n;
	int rc;

	memset(&w, 0, sizeof w);
	w.rd.read = walk_rd_read;
	w.rd.close = walk_rd_close;
	w.fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (w.fd < 0) {
		snprintf(err, sizeof err, "cannot open: %s", strerror(errno));
		cb->on_error(cb->ctx, path, err);
		return 0;
	}
	n = walk_fill(&w, wk->head, WALK_HEAD);
	if (n < 0) {
		cb->on_error(cb->ctx, path, w.rd.err);
		close(w.fd);
		return 0;
	}
	if (strcmp(source, "file") == 0 &&
	    sniff(wk->head, (size_t)n < WALK_SNIFF ? (size_t)n : WALK_SNIFF) ==
	    SNIFF_MBOX) {
		struct mbox_ctx m = { cb, path, 0 };
		w.rd.limit = 0;       /* an mbox may exceed the per-message limit */
		if (unpack_mbox(&w.rd, wk->lim, mbox_msg, &m, err, sizeof err) < 0
		    && !m.stopped)
			cb->on_error(cb->ctx, path, err);
		close(w.fd);
		return m.stopped ? -1 : 0;
	}
	w.rd.limit = wk->lim->max_input_bytes;
	rc = cb->on_input(cb->ctx, source, path, NULL, &w.rd);
	close(w.fd);
	return rc;
}

/* A directory listing: names back to back in one buffer, sorted. */
struct walk_ent {
	size_t off;             /* of the name in names */
	unsigned char type;     /* d_type (DT_UNKNOWN: ask lstat) */
};

struct walk_list {
	char *names;            /* NUL-terminated names back to back */
	size_t len, cap;
	struct walk_ent *v;
	size_t n;
};

static int
name_cmp(const void *a, const void *b, void *names)
{
	return strcmp((const char *)names + ((const struct walk_ent *)a)->off,
	    (const char *)names + ((const struct walk_ent *)b)->off);
}

static void
walk_list_free(struct walk_list *l)
{
	free(l->names);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* Sorted names of directory dfd (taken over), hidden entries skipped. */
static int
list_dir(int dfd, struct walk_list *l, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *de;
	size_t cap = 0;

	memset(l, 0, sizeof *l);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (d == NULL) {
		snprintf(err, errlen, "cannot open directory: %s", strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name) + 1;

		if (de->d_name[0] == '.')
			continue;
		if (l->n == cap) {
			cap = cap ? cap * 2 : 64;
			l->v = xrealloc(l->v, cap * sizeof *l->v);
		}
		if (l->cap - l->len < len) {
			l->cap = l->cap ? l->cap * 2 : 4096;
			while (l->cap - l->len < len)
				l->cap *= 2;
			l->names = xrealloc(l->names, l->cap);
		}
		memcpy(l->names + l->len, de->d_name, len);
		l->v[l->n].off = l->len;
		l->v[l->n].type = de->d_type;
		l->len += len;
		l->n++;
	}
	closedir(d);
	if (l->n > 1)
		qsort_r(l->v, l->n, sizeof *l->v, name_cmp, l->names);
	return 0;
}

/* A path buffer: "dir/" then a name, grown as needed. */
struct walk_path {
	char *p;
	size_t base, cap;
};

static const char *
walk_join(struct walk_path *wp, const char *name)
{
	size_t n = strlen(name) + 1;

	if (wp->cap - wp->base < n) {
		wp->cap = wp->base + n + 256;
		wp->p = xrealloc(wp->p, wp->cap);
	}
	memcpy(wp->p + wp->base, name, n);
	return wp->p;
}

static void
walk_path_init(struct walk_path *wp, const char *dir)
{
	size_t n = strlen(dir);

	wp->cap = n + 256;
	wp->p = xmalloc(wp->cap);
	memcpy(wp->p, dir, n);
	wp->p[n] = '/';
	wp->base = n + 1;
}

/* Regular file / directory / other, from d_type or lstat. */
enum walk_kind { WK_OTHER, WK_FILE, WK_DIR };

static enum walk_kind
walk_kind(int dfd, const char *name, unsigned char type)
{
	struct stat sb;

	switch (type) {
	case DT_REG:
		return WK_FILE;
	case DT_DIR:
		return WK_DIR;
	case DT_UNKNOWN:
		break;
	default:
		return WK_OTHER;       /* symbolic links and devices */
	}
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return WK_OTHER;
	if (S_ISDIR(sb.st_mode))
		return WK_DIR;
	return S_ISREG(sb.st_mode) ? WK_FILE : WK_OTHER;
}

static int
is_dir(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int walk_dir(struct walk *wk, const char *path, int depth);

static int
walk_maildir_sub(struct walk *wk, const char *path, const char *sub)
{
	char *dir = xasprintf("%s/%s", path, sub), err[256];
	struct walk_list l;
	struct walk_path wp;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (dfd < 0 || list_dir(dup(dfd), &l, err, sizeof err) < 0) {
		if (dfd >= 0)
			close(dfd);
		free(dir);
		return 0;       /* a Maildir may lack new/ or cur/ */
	}
	walk_path_init(&wp, dir);
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		const char *name = l.names + l.v[i].off;

		if (walk_kind(dfd, name, l.v[i].type) == WK_FILE)
			rc = walk_file(wk, dfd, name, walk_join(&wp, name),
			    "maildir");
	}
	free(wp.p);
	walk_list_free(&l);
	close(dfd);
	free(dir);
	return rc;
}

static int
walk_dir(struct walk *wk, const char *path, int depth)
{
	const struct walk_cb *cb = wk->cb;
	char err[256];
	struct walk_list l;
	struct walk_path wp;
	int rc = 0, dfd;

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
			rc = walk_maildir_sub(wk, path, "new");
			if (rc == 0)
				rc = walk_maildir_sub(wk, path, "cur");
			return rc;
		}
	}
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, sizeof err, "cannot open directory: %s",
		    strerror(errno));
		cb->on_error(cb->ctx, path, err);
		return 0;
	}
	if (list_dir(dup(dfd), &l, err, sizeof err) < 0) {
		cb->on_error(cb->ctx, path, err);
		close(dfd);
		return 0;
	}
	walk_path_init(&wp, path);
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		const char *name = l.names + l.v[i].off;

		switch (walk_kind(dfd, name, l.v[i].type)) {
		case WK_DIR:
			rc = walk_dir(wk, walk_join(&wp, name), depth + 1);
			break;
		case WK_FILE:
			rc = walk_file(wk, dfd, name, walk_join(&wp, name),
			    "file");
			break;
		default:
			break;
		}
	}
	free(wp.p);
	walk_list_free(&l);
	close(dfd);
	return rc;
}

int
walk_path(const char *path, const struct limits *lim, const struct walk_cb *cb)
{
	struct walk wk = { lim, cb, NULL };
	struct stat sb;
	int rc;

	if (strcmp(path, "-") == 0) {
		struct rd *rd = rd_fd_new(0);
		char head[512];
		ssize_t n = rd_read_full(rd, head, sizeof head);

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
	wk.head = xmalloc(WALK_HEAD);
	if (S_ISDIR(sb.st_mode))
		rc = walk_dir(&wk, path, 0);
	else
		rc = walk_file(&wk, AT_FDCWD, path, path, "file");
	free(wk.head);
	return rc;
}

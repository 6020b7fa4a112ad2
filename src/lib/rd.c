/*
 * rd.c - pull streams over files, descriptors and memory (see rd.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/rd.h"
#include "lib/xalloc.h"

ssize_t
rd_read(struct rd *rd, void *buf, size_t n)
{
	ssize_t r;

	if (rd->limit && rd->total >= rd->limit) {
		/* probe one byte: exactly `limit` bytes is fine */
		char c;
		r = rd->read(rd, &c, 1);
		if (r == 0)
			return 0;
		if (r > 0)
			snprintf(rd->err, sizeof rd->err,
			    "too large: more than %llu bytes",
			    (unsigned long long)rd->limit);
		return -1;
	}
	if (rd->limit && n > rd->limit - rd->total)
		n = rd->limit - rd->total;
	r = rd->read(rd, buf, n);
	if (r > 0)
		rd->total += (uint64_t)r;
	return r;
}

ssize_t
rd_read_full(struct rd *rd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = rd_read(rd, (char *)buf + got, n - got);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

void
rd_close(struct rd **rd)
{
	if (rd == NULL || *rd == NULL)
		return;
	(*rd)->close(*rd);
	*rd = NULL;
}

struct rd_fd {
	struct rd rd;
	int fd;
	int owned;
};

static ssize_t
fd_read(struct rd *rd, void *buf, size_t n)
{
	struct rd_fd *f = (struct rd_fd *)rd;
	ssize_t r;

	do
		r = read(f->fd, buf, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		snprintf(rd->err, sizeof rd->err, "read error: %s", strerror(errno));
	return r;
}

static void
fd_close(struct rd *rd)
{
	struct rd_fd *f = (struct rd_fd *)rd;

	if (f->owned)
		close(f->fd);
	free(f);
}

static struct rd *
fd_new(int fd, int owned)
{
	struct rd_fd *f = xcalloc(1, sizeof *f);

	f->rd.read = fd_read;
	f->rd.close = fd_close;
	f->fd = fd;
	f->owned = owned;
	return &f->rd;
}

struct rd *
rd_file_open(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return NULL;
	}
	return fd_new(fd, 1);
}

struct rd *
rd_fd_new(int fd)
{
	return fd_new(fd, 0);
}

struct rd_mem {
	struct rd rd;
	const unsigned char *p;
	size_t len, off;
};

static ssize_t
mem_read(struct rd *rd, void *buf, size_t n)
{
	struct rd_mem *m = (struct rd_mem *)rd;

	if (n > m->len - m->off)
		n = m->len - m->off;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static void
mem_close(struct rd *rd)
{
	free(rd);
}

struct rd *
rd_mem_new(const void *p, size_t len)
{
	struct rd_mem *m = xcalloc(1, sizeof *m);

	m->rd.read = mem_read;
	m->rd.close = mem_close;
	m->p = p;
	m->len = len;
	return &m->rd;
}

struct rd_prefix {
	struct rd rd;
	struct rd *inner;
	size_t n, off;
	unsigned char buf[];
};

static ssize_t
prefix_read(struct rd *rd, void *buf, size_t n)
{
	struct rd_prefix *p = (struct rd_prefix *)rd;
	ssize_t r;

	if (p->off < p->n) {
		if (n > p->n - p->off)
			n = p->n - p->off;
		memcpy(buf, p->buf + p->off, n);
		p->off += n;
		return (ssize_t)n;
	}
	r = rd_read(p->inner, buf, n);
	if (r < 0)
		memcpy(rd->err, p->inner->err, sizeof rd->err);
	return r;
}

static void
prefix_close(struct rd *rd)
{
	struct rd_prefix *p = (struct rd_prefix *)rd;

	rd_close(&p->inner);
	free(p);
}

struct rd *
rd_prefix_new(const void *prefix, size_t n, struct rd *inner)
{
	struct rd_prefix *p = xcalloc(1, sizeof *p + n);

	p->rd.read = prefix_read;
	p->rd.close = prefix_close;
	p->inner = inner;
	p->n = n;
	memcpy(p->buf, prefix, n);
	return &p->rd;
}

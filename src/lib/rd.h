/*
 * rd.h - a pull stream of bytes: a file, a descriptor, memory, or a filter
 * (gzip, zip member, MIME part) stacked on another stream.  Every container
 * layer in parse/ reads through this one interface, so a 1 GB input never has
 * to be in memory.
 *
 * read() returns the number of bytes read, 0 at end of stream, or -1 with a
 * one-line reason in rd->err.  close() frees the stream (not the stream it
 * reads from, unless documented by the constructor).
 */
#ifndef DMARCSTAT_RD_H
#define DMARCSTAT_RD_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rd {
	ssize_t (*read)(struct rd *rd, void *buf, size_t n);
	void (*close)(struct rd *rd);
	uint64_t total;           /* bytes returned so far (maintained by rd_read) */
	uint64_t limit;           /* 0 = none; past it rd_read fails with "too large" */
	char err[256];
};

/* Reads through rd->read, counts bytes, enforces rd->limit. */
ssize_t rd_read(struct rd *rd, void *buf, size_t n);
/* Reads until `n` bytes or end of stream; returns bytes read or -1. */
ssize_t rd_read_full(struct rd *rd, void *buf, size_t n);
void rd_close(struct rd **rd);

/* Opens a file; NULL with errno and a reason in err on failure. */
struct rd *rd_file_open(const char *path, char *err, size_t errlen);
/* Reads from a descriptor it does not own (stdin). */
struct rd *rd_fd_new(int fd);
/* Reads from memory it does not own. */
struct rd *rd_mem_new(const void *p, size_t len);
/*
 * A stream that first returns `n` bytes of `prefix` (copied) and then the
 * rest of `inner`, which it owns and closes.  Used after sniffing.
 */
struct rd *rd_prefix_new(const void *prefix, size_t n, struct rd *inner);

#endif

/*
 * unpack_gzip.c - a pull stream that inflates gzip with zlib (libdeflate
 * for small inputs).
 *
 * Private (unpack_int.h): unpack_gzip_new(), unpack_gzip_thread_fini().
 * Handles multi-member files (members are concatenated), ignores trailing
 * bytes after a complete member that do not start another member (Mimecast
 * appends CRLF), reports a truncated or corrupt stream as an error.  A gzip
 * inside the output (gzip of gzip) is the caller's business: unpack sniffs
 * the output again.
 *
 * Speed: this is the path of nearly every report (a few KB .xml.gz), so it
 * avoids libarchive and per-call set-up.  Each thread keeps one z_stream and
 * its 64 KiB input buffer (reset, not re-made, per use); a nested or
 * concurrent second gzip layer in the same thread gets its own.
 *
 * Small inputs: when the sniffed bytes are the whole input (under
 * UNPACK_PEEK) and the member's trailer announces at most GZ_FAST_MAX bytes,
 * the member is inflated in one call with libdeflate, which takes about half
 * of zlib's instructions on a 3 KB report (its table building and CRC are
 * faster).  That path is taken only when libdeflate succeeds, consumes every
 * byte (one member, nothing after it) and produces exactly the announced
 * size with a matching CRC; anything else (a corrupt, truncated, multi-member
 * or lying stream) starts over with zlib from the first byte, so errors,
 * partial output and limits are exactly those of the zlib path.
 *
 * Ownership: the stream does not own `inner` nor `pre` (the sniffed first
 * bytes, which must stay valid while the stream is read).
 * Limit: more than max_out inflated bytes fail with a reason naming
 * max_expanded_bytes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>
#include <zlib.h>

#include "lib/xalloc.h"
#include "parse/unpack_int.h"

#define GZ_FAST_MAX (4u << 20)  /* largest output inflated in one call */

struct unpack_gz {
	struct rd rd;
	struct rd *inner;
	z_stream z;
	int z_ready;            /* inflateInit2 succeeded */
	unsigned char *inbuf;   /* UNPACK_BUF bytes */
	struct libdeflate_decompressor *ld;
	unsigned char *fast;    /* one-call output: fast[fast_pos..fast_len) */
	size_t fast_cap, fast_len, fast_pos;
	int in_fast;
	uint64_t out, max_out;
	int inner_eof;
	int in_member;          /* inside a member: EOF now means truncated */
	int done, failed;
	int is_cache, busy;     /* the thread's reusable instance */
};

void unpack_gzip_thread_fini(void);

static pthread_once_t unpack_gz_once = PTHREAD_ONCE_INIT;
static pthread_key_t unpack_gz_key;

static void
unpack_gz_destroy(struct unpack_gz *g)
{
	if (g->z_ready)
		inflateEnd(&g->z);
	if (g->ld != NULL)
		libdeflate_free_decompressor(g->ld);
	free(g->fast);
	free(g->inbuf);
	free(g);
}

static void
unpack_gz_key_dtor(void *p)
{
	unpack_gz_destroy(p);
}

static void
unpack_gz_key_init(void)
{
	pthread_key_create(&unpack_gz_key, unpack_gz_key_dtor);
}

void
unpack_gzip_thread_fini(void)
{
	struct unpack_gz *g;

	pthread_once(&unpack_gz_once, unpack_gz_key_init);
	g = pthread_getspecific(unpack_gz_key);
	if (g != NULL && !g->busy) {
		pthread_setspecific(unpack_gz_key, NULL);
		unpack_gz_destroy(g);
	}
}

static int
unpack_gz_fail(struct unpack_gz *g, const char *what)
{
	g->failed = 1;
	snprintf(g->rd.err, sizeof g->rd.err, "gzip: %.200s", what);
	return -1;
}

/*
 * At the end of a member: is another member next?  Needs two bytes of
 * input; moves a lone leftover byte to the buffer start to read more.
 * Returns 1 (another member), 0 (end: nothing or trailing bytes), -1.
 */
static int
unpack_gz_next_member(struct unpack_gz *g)
{
	while (g->z.avail_in < 2 && !g->inner_eof) {
		ssize_t r;

		if (g->z.avail_in > 0)
			memmove(g->inbuf, g->z.next_in, g->z.avail_in);
		g->z.next_in = g->inbuf;
		r = rd_read(g->inner, g->inbuf + g->z.avail_in,
		    UNPACK_BUF - g->z.avail_in);
		if (r < 0)
			return unpack_gz_fail(g, g->inner->err[0] ?
			    g->inner->err : "read error");
		if (r == 0)
			g->inner_eof = 1;
		g->z.avail_in += (uInt)r;
	}
	if (g->z.avail_in >= 2 && g->z.next_in[0] == 0x1f &&
	    g->z.next_in[1] == 0x8b)
		return 1;
	return 0;
}

static ssize_t
unpack_gz_read(struct rd *rd, void *buf, size_t n)
{
	struct unpack_gz *g = (struct unpack_gz *)rd;
	size_t want;

	if (g->failed)
		return -1;
	if (g->done || n == 0)
		return 0;
	if (g->in_fast) {
		size_t k = g->fast_len - g->fast_pos;

		if (k > n)
			k = n;
		memcpy(buf, g->fast + g->fast_pos, k);
		g->fast_pos += k;
		g->out += k;
		if (g->fast_pos == g->fast_len)
			g->done = 1;
		return (ssize_t)k;
	}
	/* Ask for at most one byte past the limit, to notice it. */
	if (g->max_out && n > g->max_out - g->out + 1)
		n = (size_t)(g->max_out - g->out + 1);
	want = n > UINT32_MAX ? UINT32_MAX : n;
	g->z.next_out = buf;
	g->z.avail_out = (uInt)want;
	while (g->z.avail_out == want) {
		int ret;

		if (g->z.avail_in == 0 && !g->inner_eof) {
			ssize_t r = rd_read(g->inner, g->inbuf, UNPACK_BUF);
			if (r < 0)
				return unpack_gz_fail(g, g->inner->err[0] ?
				    g->inner->err : "read error");
			if (r == 0)
				g->inner_eof = 1;
			g->z.next_in = g->inbuf;
			g->z.avail_in = (uInt)r;
		}
		if (g->z.avail_in == 0 && g->inner_eof) {
			if (g->in_member)
				return unpack_gz_fail(g, "truncated stream");
			g->done = 1;
			break;
		}
		g->in_member = 1;
		ret = inflate(&g->z, Z_NO_FLUSH);
		if (ret == Z_STREAM_END) {
			int next;

			g->in_member = 0;
			next = unpack_gz_next_member(g);
			if (next < 0)
				return -1;
			if (next == 0) {
				g->done = 1;    /* trailing bytes ignored */
				break;
			}
			if (inflateReset(&g->z) != Z_OK)
				return unpack_gz_fail(g, "cannot reset zlib");
		} else if (ret == Z_OK) {
			continue;
		} else if (ret == Z_BUF_ERROR && g->z.avail_in == 0) {
			continue;               /* needs more input */
		} else if (ret == Z_MEM_ERROR) {
			return unpack_gz_fail(g, "out of memory in zlib");
		} else {
			char why[128];
			snprintf(why, sizeof why, "corrupt data (%s)",
			    g->z.msg ? g->z.msg : "bad stream");
			return unpack_gz_fail(g, why);
		}
	}
	n = want - g->z.avail_out;
	if (g->max_out && g->out + n > g->max_out) {
		g->failed = 1;
		snprintf(rd->err, sizeof rd->err,
		    "gzip: expands to more than max_expanded_bytes (%llu bytes)",
		    (unsigned long long)g->max_out);
		return -1;
	}
	g->out += n;
	return (ssize_t)n;
}

static void
unpack_gz_close(struct rd *rd)
{
	struct unpack_gz *g = (struct unpack_gz *)rd;

	if (g->is_cache)
		g->busy = 0;
	else
		unpack_gz_destroy(g);
}

/*
 * Inflates pre[0..n), the whole input, in one call when it is one small
 * clean member.  Returns 1 (g->fast holds the output) or 0 (use zlib).
 */
static int
unpack_gz_fast(struct unpack_gz *g, const unsigned char *pre, size_t n)
{
	size_t isize, used = 0, got = 0;
	enum libdeflate_result r;

	if (n < 18)
		return 0;
	isize = (size_t)pre[n - 4] | (size_t)pre[n - 3] << 8 |
	    (size_t)pre[n - 2] << 16 | (size_t)pre[n - 1] << 24;
	if (isize == 0 || isize > GZ_FAST_MAX ||
	    (g->max_out && isize > g->max_out))
		return 0;
	if (g->ld == NULL && (g->ld = libdeflate_alloc_decompressor()) == NULL)
		return 0;
	if (g->fast_cap < isize) {
		free(g->fast);
		g->fast_cap = isize < 65536 ? 65536 : isize;
		g->fast = xmalloc(g->fast_cap);
	}
	r = libdeflate_gzip_decompress_ex(g->ld, pre, n, g->fast, isize,
	    &used, &got);
	if (r != LIBDEFLATE_SUCCESS || used != n || got != isize)
		return 0;
	g->fast_len = got;
	g->fast_pos = 0;
	return 1;
}

struct rd *
unpack_gzip_new(struct rd *inner, const void *pre, size_t n, int whole,
    uint64_t max_out)
{
	struct unpack_gz *g;

	pthread_once(&unpack_gz_once, unpack_gz_key_init);
	g = pthread_getspecific(unpack_gz_key);
	if (g != NULL && !g->busy && g->z_ready &&
	    inflateReset(&g->z) == Z_OK) {
		struct unpack_gz keep = *g;

		/* reuse: keep the z_stream and buffers, reset the rest */
		memset(g, 0, sizeof *g);
		g->z = keep.z;
		g->z_ready = 1;
		g->inbuf = keep.inbuf;
		g->ld = keep.ld;
		g->fast = keep.fast;
		g->fast_cap = keep.fast_cap;
		g->is_cache = 1;
	} else {
		g = xcalloc(1, sizeof *g);
		g->inbuf = xmalloc(UNPACK_BUF);
		g->z_ready = inflateInit2(&g->z, 16 + MAX_WBITS) == Z_OK;
		if (pthread_getspecific(unpack_gz_key) == NULL && g->z_ready &&
		    pthread_setspecific(unpack_gz_key, g) == 0)
			g->is_cache = 1;
	}
	g->busy = g->is_cache;
	g->rd.read = unpack_gz_read;
	g->rd.close = unpack_gz_close;
	g->inner = inner;
	g->max_out = max_out;
	g->z.next_in = (Bytef *)(uintptr_t)pre;
	g->z.avail_in = (uInt)n;
	if (!g->z_ready)
		unpack_gz_fail(g, "cannot initialise zlib");
	else if (whole && unpack_gz_fast(g, pre, n))
		g->in_fast = 1;
	return &g->rd;
}

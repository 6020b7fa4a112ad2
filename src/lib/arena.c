/*
 * arena.c - bump allocator (see arena.h).
 *
 * Chunks are singly linked, newest first; an allocation larger than a chunk
 * gets a chunk of its own.  arena_reset() keeps a single chunk sized for the
 * previous cycle's total so that per-record resets settle into zero mallocs.
 * Sizes come from callers that have already bounded them (limits.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/xalloc.h"

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, off;
	max_align_t data[];
};

#define ARENA_ALIGN (sizeof(max_align_t))

static struct arena_chunk *
arena_chunk_new(size_t size)
{
	struct arena_chunk *c = xmalloc(sizeof(*c) + size);

	c->next = NULL;
	c->size = size;
	c->off = 0;
	return c;
}

void
arena_init(struct arena *a, size_t chunk_size)
{
	a->head = NULL;
	a->chunk_size = chunk_size < 256 ? 256 : chunk_size;
	a->used = 0;
}

void
arena_fini(struct arena *a)
{
	struct arena_chunk *c, *next;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
	a->used = 0;
}

void
arena_reset(struct arena *a)
{
	size_t want;

	if (a->head == NULL)
		return;
	if (a->head->next == NULL) {
		a->head->off = 0;
		a->used = 0;
		return;
	}
	/* Several chunks: replace them by one that holds a whole cycle. */
	want = a->used + a->used / 4;
	if (want < a->chunk_size)
		want = a->chunk_size;
	arena_fini(a);
	a->head = arena_chunk_new(want);
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	size_t need = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	void *p;

	if (need < n)
		need = n;               /* cannot happen with bounded sizes */
	if (c == NULL || c->size - c->off < need) {
		size_t size = need > a->chunk_size ? need : a->chunk_size;

		c = arena_chunk_new(size);
		c->next = a->head;
		a->head = c;
	}
	p = (char *)c->data + c->off;
	c->off += need;
	a->used += need;
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

/*
 * arena.h - a bump allocator for data whose lifetimes end together (one
 * report header, one record).  Allocation never fails (xalloc), memory is
 * given back all at once by arena_reset() or arena_fini().
 */
#ifndef DMARCSTAT_ARENA_H
#define DMARCSTAT_ARENA_H
#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;  /* newest chunk first */
	size_t chunk_size;         /* size of a normal chunk */
	size_t used;               /* bytes handed out since the last reset */
};

/* Sets up an empty arena; nothing is allocated until the first use. */
void arena_init(struct arena *a, size_t chunk_size);
/* Frees every chunk; the arena may be initialised again. */
void arena_fini(struct arena *a);
/*
 * Forgets every allocation but keeps one chunk big enough for what the last
 * cycle used, so a steady stream of similar cycles (records) stops calling
 * malloc after the first few.
 */
void arena_reset(struct arena *a);
/* n bytes aligned for any scalar type; valid until reset/fini. */
void *arena_alloc(struct arena *a, size_t n);
/* Copy of s[0..n) plus a NUL (s may contain no NUL in that range). */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);

#endif

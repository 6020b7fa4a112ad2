/*
 * amap.h - a string-keyed open-addressing hash map for the analysis code
 * (IP -> source aggregate, domain -> catalog entry).  Keys are copied;
 * values are opaque pointers owned by the caller.  Not thread-safe.
 */
#ifndef DMARCSTAT_AMAP_H
#define DMARCSTAT_AMAP_H
#include <stddef.h>

struct amap;

struct amap *amap_new(size_t hint);
/* Frees the map and its key copies (not the values). Accepts NULL. */
void amap_free(struct amap **m);
/* Returns the value for `key`, or NULL. */
void *amap_get(const struct amap *m, const char *key);
/* Inserts or replaces; returns the previous value or NULL. */
void *amap_put(struct amap *m, const char *key, void *value);
size_t amap_count(const struct amap *m);
/* Iteration: *pos starts at 0; returns 0 when done. */
int amap_next(const struct amap *m, size_t *pos, const char **key_out, void **value_out);

#endif

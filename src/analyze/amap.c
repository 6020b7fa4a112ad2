/*
 * amap.c - string-keyed hash map (FNV-1a, linear probing, grows at 70 %).
 * Public functions: amap_new, amap_free, amap_get, amap_put, amap_count,
 * amap_next.  The map owns copies of its keys, never the values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/amap.h"
#include "lib/xalloc.h"

struct amap_slot {
	char *key;
	void *value;
	uint32_t hash;
};

struct amap {
	struct amap_slot *slots;
	size_t cap;     /* power of two */
	size_t count;
};

static uint32_t
amap_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

struct amap *
amap_new(size_t hint)
{
	struct amap *m = xcalloc(1, sizeof(*m));

	m->cap = 16;
	while (m->cap < hint * 2)
		m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	return m;
}

void
amap_free(struct amap **mp)
{
	struct amap *m;

	if (mp == NULL || *mp == NULL)
		return;
	m = *mp;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
	*mp = NULL;
}

static size_t
amap_find(const struct amap *m, const char *key, uint32_t h)
{
	size_t i = h & (m->cap - 1);

	while (m->slots[i].key != NULL) {
		if (m->slots[i].hash == h && strcmp(m->slots[i].key, key) == 0)
			return i;
		i = (i + 1) & (m->cap - 1);
	}
	return i;
}

void *
amap_get(const struct amap *m, const char *key)
{
	size_t i = amap_find(m, key, amap_hash(key));

	return m->slots[i].key != NULL ? m->slots[i].value : NULL;
}

static void
amap_grow(struct amap *m)
{
	struct amap_slot *old = m->slots;
	size_t oldcap = m->cap;

	m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].key == NULL)
			continue;
		size_t j = amap_find(m, old[i].key, old[i].hash);
		m->slots[j] = old[i];
	}
	free(old);
}

void *
amap_put(struct amap *m, const char *key, void *value)
{
	uint32_t h = amap_hash(key);
	size_t i = amap_find(m, key, h);
	void *prev;

	if (m->slots[i].key != NULL) {
		prev = m->slots[i].value;
		m->slots[i].value = value;
		return prev;
	}
	if ((m->count + 1) * 10 > m->cap * 7) {
		amap_grow(m);
		i = amap_find(m, key, h);
	}
	m->slots[i].key = xstrdup(key);
	m->slots[i].hash = h;
	m->slots[i].value = value;
	m->count++;
	return NULL;
}

size_t
amap_count(const struct amap *m)
{
	return m->count;
}

int
amap_next(const struct amap *m, size_t *pos, const char **key_out, void **value_out)
{
	while (*pos < m->cap) {
		size_t i = (*pos)++;
		if (m->slots[i].key != NULL) {
			if (key_out)
				*key_out = m->slots[i].key;
			if (value_out)
				*value_out = m->slots[i].value;
			return 1;
		}
	}
	return 0;
}

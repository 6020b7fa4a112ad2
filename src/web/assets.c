/*
 * assets.c - exact-path lookup in the embedded asset table.
 */
#include <string.h>

#include "web/assets.h"

const struct asset *
assets_find(const char *path)
{
	for (size_t i = 0; i < assets_count; i++)
		if (strcmp(assets_table[i].path, path) == 0)
			return &assets_table[i];
	return NULL;
}

const struct asset *
datafiles_find(const char *name)
{
	for (size_t i = 0; i < datafiles_count; i++)
		if (strcmp(datafiles_table[i].path, name) == 0)
			return &datafiles_table[i];
	return NULL;
}

/*
 * assets.h - the dashboard's files embedded in the binary at build time
 * (scripts/embed_assets.py).  Lookup is by exact path; there is no
 * filesystem access and so no path traversal.
 */
#ifndef DMARCSTAT_ASSETS_H
#define DMARCSTAT_ASSETS_H
#include <stddef.h>

struct asset {
	const char *path;          /* "/index.html", "/vendor/uplot/uPlot.iife.min.js" */
	const char *mime;
	const unsigned char *data;
	size_t len;
	const unsigned char *gz;   /* gzip -9 variant or NULL when not smaller */
	size_t gz_len;
	const char *etag;          /* strong ETag, quoted */
};

extern const struct asset assets_table[];
extern const size_t assets_count;

/* Files of data/ (known-senders catalog...), embedded the same way. */
extern const struct asset datafiles_table[];
extern const size_t datafiles_count;
/* `name` is "/senders.conf" etc. */
const struct asset *datafiles_find(const char *name);

/* Returns the asset at exactly `path`, or NULL. */
const struct asset *assets_find(const char *path);

#endif

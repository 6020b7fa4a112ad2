/*
 * xalloc.h - allocation that cannot fail.  Out of memory is not bad input:
 * it is a broken promise of the machine, so it aborts with a message.
 * Untrusted sizes never reach these functions unchecked: callers bound them
 * with the limits in parse/limits.h first.
 */
#ifndef DMARCSTAT_XALLOC_H
#define DMARCSTAT_XALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

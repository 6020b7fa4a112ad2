/*
 * orgdom.h - Organizational Domains (RFC 7489 3.2) from the packaged Public
 * Suffix List (libpsl, psl_latest; the built-in list when no file exists).
 * ICANN and private sections both count, as most receivers do.  Used for
 * relaxed alignment and for the base domain of PTR host names.
 * Thread-safe: the list is loaded once.
 */
#ifndef DMARCSTAT_ORGDOM_H
#define DMARCSTAT_ORGDOM_H

/* Returns a pointer into `domain` at its Organizational Domain, `domain`
 * itself when it is a public suffix or unknown, NULL for NULL, "" or an IP
 * literal.  `domain` must be lower case without a trailing dot. */
const char *orgdom_get(const char *domain);
/* DMARC identifier alignment of `a` with `b`: strict = same name, relaxed =
 * same Organizational Domain.  Case-insensitive; NULL never aligns. */
int orgdom_aligned(const char *a, const char *b, int strict);

#endif

/*
 * ipaddr.h - IP address text normalisation (no DMARC knowledge).
 */
#ifndef DMARCSTAT_IPADDR_H
#define DMARCSTAT_IPADDR_H
#include <stddef.h>

/* Enough for any inet_ntop() output plus the NUL. */
#define IPADDR_STRLEN 48

/*
 * Parses s[0..len) as an IPv4 or IPv6 address (surrounding spaces and one
 * pair of [] brackets allowed) and writes its canonical text form into out
 * (outlen >= IPADDR_STRLEN): dotted quad for IPv4 and for IPv4-mapped IPv6
 * (::ffff:a.b.c.d), RFC 5952 compressed lower-case form for IPv6.
 * Returns 4 or 6, or 0 when s is not an address (out is then "").
 */
int ipaddr_normalize(const char *s, size_t len, char *out, size_t outlen);

#endif

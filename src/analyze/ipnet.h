/*
 * ipnet.h - IPv4/IPv6 addresses and CIDR ranges for user rules and
 * enrichment.  IPv4 is kept as an IPv4-mapped IPv6 address so that one
 * comparison covers both families.
 */
#ifndef DMARCSTAT_IPNET_H
#define DMARCSTAT_IPNET_H
#include <stdint.h>

struct ipnet {
	uint8_t addr[16];   /* IPv4 as ::ffff:a.b.c.d */
	int prefix;         /* 0..128, in the IPv6 sense */
	int v4;             /* 1 when written as IPv4 */
};

/* Parses "a.b.c.d", "a.b.c.d/nn", "2001:db8::1", "2001:db8::/32".
 * Host bits are cleared.  Returns 0, or -1 when malformed. */
int ipnet_parse(const char *s, struct ipnet *out);
/* 1 when `ip` (a bare address string) lies inside `net`, 0 otherwise. */
int ipnet_contains(const struct ipnet *net, const char *ip);
int ipnet_contains_addr(const struct ipnet *net, const uint8_t addr[16]);
/* Formats back to "a.b.c.d/nn" or "2001:db8::/32" (no /nn for hosts). */
void ipnet_format(const struct ipnet *net, char *buf, size_t len);
/* 1 when `s` is an IP literal (v4 or v6). */
int ipnet_is_ip(const char *s);

#endif

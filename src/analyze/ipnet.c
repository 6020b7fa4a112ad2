/*
 * ipnet.c - parsing and matching of IP addresses and CIDR ranges
 * (inet_pton based, no allocation).  Public: ipnet_parse, ipnet_contains,
 * ipnet_contains_addr, ipnet_format, ipnet_is_ip.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/ipnet.h"

static int
ipnet_addr(const char *s, uint8_t out[16], int *v4_out)
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		*v4_out = 1;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*v4_out = 0;
		return 0;
	}
	return -1;
}

int
ipnet_is_ip(const char *s)
{
	uint8_t a[16];
	int v4;

	return s != NULL && ipnet_addr(s, a, &v4) == 0;
}

int
ipnet_parse(const char *s, struct ipnet *out)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	long plen = -1;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (ipnet_addr(buf, out->addr, &out->v4) != 0)
		return -1;
	if (slash != NULL) {
		char *end;

		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		plen = strtol(slash + 1, &end, 10);
		if (*end != '\0' || plen < 0 || plen > (out->v4 ? 32 : 128))
			return -1;
	}
	if (plen < 0)
		plen = out->v4 ? 32 : 128;
	out->prefix = (int)plen + (out->v4 ? 96 : 0);
	for (int bit = out->prefix; bit < 128; bit++)
		out->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	return 0;
}

int
ipnet_contains_addr(const struct ipnet *net, const uint8_t addr[16])
{
	int full = net->prefix / 8, rest = net->prefix % 8;

	if (memcmp(net->addr, addr, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (net->addr[full] & mask) == (addr[full] & mask);
}

int
ipnet_contains(const struct ipnet *net, const char *ip)
{
	uint8_t a[16];
	int v4;

	if (ip == NULL || ipnet_addr(ip, a, &v4) != 0)
		return 0;
	return ipnet_contains_addr(net, a);
}

void
ipnet_format(const struct ipnet *net, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	int plen = net->v4 ? net->prefix - 96 : net->prefix;

	if (net->v4)
		inet_ntop(AF_INET, net->addr + 12, a, sizeof(a));
	else
		inet_ntop(AF_INET6, net->addr, a, sizeof(a));
	if (plen == (net->v4 ? 32 : 128))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%d", a, plen);
}

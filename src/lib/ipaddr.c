/*
 * ipaddr.c - IP address normalisation with inet_pton()/inet_ntop().
 * Input is untrusted text of any length; only a bounded copy is parsed.
 * No allocation.
 */
#include <arpa/inet.h>
#include <string.h>

#include "lib/ipaddr.h"

static int
ipaddr_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
ipaddr_normalize(const char *s, size_t len, char *out, size_t outlen)
{
	char tmp[IPADDR_STRLEN + 16];
	unsigned char bin[16];

	if (outlen > 0)
		out[0] = '\0';
	if (outlen < IPADDR_STRLEN)
		return 0;
	while (len > 0 && ipaddr_is_space(*s)) {
		s++;
		len--;
	}
	while (len > 0 && ipaddr_is_space(s[len - 1]))
		len--;
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, bin) == 1) {
		if (inet_ntop(AF_INET, bin, out, (socklen_t)outlen) == NULL)
			return 0;
		return 4;
	}
	if (inet_pton(AF_INET6, tmp, bin) == 1) {
		static const unsigned char mapped[12] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
		};

		if (memcmp(bin, mapped, sizeof(mapped)) == 0) {
			if (inet_ntop(AF_INET, bin + 12, out,
			    (socklen_t)outlen) == NULL)
				return 0;
			return 4;
		}
		if (inet_ntop(AF_INET6, bin, out, (socklen_t)outlen) == NULL)
			return 0;
		return 6;
	}
	return 0;
}

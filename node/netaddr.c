/* netaddr.c: see netaddr.h. */
#include "node/netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int node_addr_parse_ip(const char *s, uint16_t port, struct swim_addr *out)
{
	struct swim_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, a.ip) == 1)
		a.family = 4;
	else if (inet_pton(AF_INET6, s, a.ip) == 1)
		a.family = 6;
	else
		return -1;
	a.port = port;
	*out = a;
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)s[0]) || strlen(s) > 5)
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* Host names: letters, digits, '-', '.', '_' (RFC 1123 and then some). */
static int name_ok(const char *h)
{
	if (!h[0] || strlen(h) > 253)
		return 0;
	for (const char *p = h; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return 0;
	return 1;
}

int node_addr_parse_hostport(const char *s, int resolve, struct swim_addr *out,
			     char *err, size_t errlen)
{
	char host[256];
	const char *colon, *hs;
	size_t hl;
	uint16_t port;
	struct swim_addr a;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':') {
			snprintf(err, errlen, "'%s' is not [IPv6]:PORT", s);
			return -1;
		}
		hs = s + 1;
		hl = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			snprintf(err, errlen, "'%s' has no :PORT (expected HOST:PORT)", s);
			return -1;
		}
		if (memchr(s, ':', (size_t)(colon - s))) {
			snprintf(err, errlen, "'%s': an IPv6 address needs brackets: [ADDR]:PORT", s);
			return -1;
		}
		hs = s;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host)) {
		snprintf(err, errlen, "'%s' has an empty or too long HOST (expected HOST:PORT)", s);
		return -1;
	}
	memcpy(host, hs, hl);
	host[hl] = 0;
	if (parse_port(colon + 1, &port) < 0) {
		snprintf(err, errlen, "'%s' has an invalid PORT (expected HOST:PORT, PORT 1-65535)", s);
		return -1;
	}
	if (node_addr_parse_ip(host, port, &a) == 0) {
		if (s[0] == '[' && a.family != 6) {
			snprintf(err, errlen, "'%s': brackets hold an IPv6 address", s);
			return -1;
		}
		if (node_addr_is_any(&a)) {
			snprintf(err, errlen, "'%s': HOST cannot be a wildcard address", s);
			return -1;
		}
		*out = a;
		return 0;
	}
	if (s[0] == '[' || !name_ok(host)) {
		snprintf(err, errlen, "'%s' has an invalid HOST (expected an IP, [IPv6] or a host name)", s);
		return -1;
	}
	if (!resolve)
		return 0;
	struct addrinfo hints, *res = NULL, *ai;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	int e = getaddrinfo(host, NULL, &hints, &res);
	if (e) {
		snprintf(err, errlen, "'%s': cannot resolve %s: %s", s, host, gai_strerror(e));
		return -1;
	}
	int found = -1;
	for (int want = 4; want >= 0 && found < 0; want -= 2)   /* IPv4 first, then IPv6 */
		for (ai = res; ai && found < 0; ai = ai->ai_next)
			if (node_addr_from_sockaddr(ai->ai_addr, ai->ai_addrlen, &a) == 0 &&
			    (want == 0 || a.family == want))
				found = 0;
	freeaddrinfo(res);
	if (found < 0) {
		snprintf(err, errlen, "'%s': %s has no IPv4/IPv6 address", s, host);
		return -1;
	}
	a.port = port;
	*out = a;
	return 0;
}

char *node_addr_format_ip(const struct swim_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->family == 4)
		inet_ntop(AF_INET, a->ip, ip, sizeof(ip));
	else if (a->family == 6)
		inet_ntop(AF_INET6, a->ip, ip, sizeof(ip));
	else
		strcpy(ip, "-");
	snprintf(buf, len, "%s", ip);
	return buf;
}

char *node_addr_format(const struct swim_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	node_addr_format_ip(a, ip, sizeof(ip));
	if (a->family == 4)
		snprintf(buf, len, "%s:%u", ip, a->port);
	else if (a->family == 6)
		snprintf(buf, len, "[%s]:%u", ip, a->port);
	else
		snprintf(buf, len, "-");
	return buf;
}

socklen_t node_addr_to_sockaddr(const struct swim_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		memcpy(&s4->sin_addr, a->ip, 4);
		return sizeof(*s4);
	}
	if (a->family == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		memcpy(&s6->sin6_addr, a->ip, 16);
		return sizeof(*s6);
	}
	return 0;
}

int node_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct swim_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		out->family = 4;
		memcpy(out->ip, &s4->sin_addr, 4);
		out->port = ntohs(s4->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			out->family = 4;
			memcpy(out->ip, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			out->family = 6;
			memcpy(out->ip, &s6->sin6_addr, 16);
		}
		out->port = ntohs(s6->sin6_port);
		return 0;
	}
	return -1;
}

int node_addr_is_loopback(const struct swim_addr *a)
{
	static const uint8_t v6lo[16] = { [15] = 1 };

	if (a->family == 4)
		return a->ip[0] == 127;
	if (a->family == 6)
		return memcmp(a->ip, v6lo, 16) == 0;
	return 0;
}

int node_addr_is_any(const struct swim_addr *a)
{
	static const uint8_t zero[16];

	if (a->family == 4)
		return memcmp(a->ip, zero, 4) == 0;
	if (a->family == 6)
		return memcmp(a->ip, zero, 16) == 0;
	return 0;
}

void node_addr_default_advertise(uint16_t port, struct swim_addr *out)
{
	struct ifaddrs *ifs = NULL;

	*out = swim_addr_v4(0x7f000001u, port);
	if (getifaddrs(&ifs) < 0)
		return;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		struct swim_addr a;
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (node_addr_from_sockaddr(i->ifa_addr, sizeof(struct sockaddr_in), &a) == 0 &&
		    !node_addr_is_loopback(&a)) {
			a.port = port;
			*out = a;
			break;
		}
	}
	freeifaddrs(ifs);
}

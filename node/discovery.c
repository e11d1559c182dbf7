/* discovery.c: see discovery.h. */
#include "node/discovery.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DISC_VERSION 1

int disc_announce_encode(const struct disc_announce *a, uint8_t *buf, size_t cap)
{
	size_t nl = strnlen(a->cluster, DISC_NAME_MAX + 1), iplen;
	size_t n = 0;

	if (nl == 0 || nl > DISC_NAME_MAX || (a->gossip.family != 4 && a->gossip.family != 6))
		return -1;
	iplen = a->gossip.family == 4 ? 4 : 16;
	if (cap < 3 + 1 + 1 + nl + SWIM_ID_LEN + 1 + iplen + 2)
		return -1;
	memcpy(buf, "SMA", 3);
	n = 3;
	buf[n++] = DISC_VERSION;
	buf[n++] = (uint8_t)nl;
	memcpy(buf + n, a->cluster, nl);
	n += nl;
	memcpy(buf + n, a->id, SWIM_ID_LEN);
	n += SWIM_ID_LEN;
	buf[n++] = a->gossip.family;
	memcpy(buf + n, a->gossip.ip, iplen);
	n += iplen;
	buf[n++] = (uint8_t)(a->gossip.port >> 8);
	buf[n++] = (uint8_t)a->gossip.port;
	return (int)n;
}

int disc_announce_decode(const uint8_t *buf, size_t len, struct disc_announce *a)
{
	static const uint8_t zero[16];
	size_t n = 0, nl, iplen;

	memset(a, 0, sizeof(*a));
	if (len < 5)
		return DISC_E_SHORT;
	if (memcmp(buf, "SMA", 3) != 0)
		return DISC_E_MAGIC;
	if (buf[3] != DISC_VERSION)
		return DISC_E_VERSION;
	nl = buf[4];
	n = 5;
	if (nl == 0 || nl > DISC_NAME_MAX)
		return DISC_E_NAME;
	if (len < n + nl + SWIM_ID_LEN + 1)
		return DISC_E_SHORT;
	for (size_t i = 0; i < nl; i++)
		if (buf[n + i] < 0x21 || buf[n + i] > 0x7e)
			return DISC_E_NAME;
	memcpy(a->cluster, buf + n, nl);
	n += nl;
	memcpy(a->id, buf + n, SWIM_ID_LEN);
	if (memcmp(a->id, zero, SWIM_ID_LEN) == 0)
		return DISC_E_ID;
	n += SWIM_ID_LEN;
	a->gossip.family = buf[n++];
	if (a->gossip.family != 4 && a->gossip.family != 6)
		return DISC_E_ADDR;
	iplen = a->gossip.family == 4 ? 4 : 16;
	if (len < n + iplen + 2)
		return DISC_E_SHORT;
	if (len != n + iplen + 2)
		return DISC_E_LENGTH;
	memcpy(a->gossip.ip, buf + n, iplen);
	n += iplen;
	a->gossip.port = (uint16_t)(buf[n] << 8 | buf[n + 1]);
	if (a->gossip.port == 0 || memcmp(a->gossip.ip, zero, iplen) == 0)
		return DISC_E_ADDR;
	return 0;
}

const char *disc_strerror(int code)
{
	switch (code) {
	case DISC_E_SHORT: return "announcement: truncated";
	case DISC_E_MAGIC: return "announcement: bad magic";
	case DISC_E_VERSION: return "announcement: unknown version";
	case DISC_E_NAME: return "announcement: bad cluster name";
	case DISC_E_ADDR: return "announcement: bad address";
	case DISC_E_ID: return "announcement: zero node id";
	case DISC_E_LENGTH: return "announcement: trailing bytes";
	default: return "announcement: unknown error";
	}
}

int disc_socket_open(const char *group, uint16_t port, const uint8_t iface[4])
{
	struct sockaddr_in sa;
	struct ip_mreqn mr;
	struct in_addr grp;
	int one = 1, ttl = 1, e;

	if (inet_pton(AF_INET, group, &grp) != 1 || !IN_MULTICAST(ntohl(grp.s_addr)))
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* several nodes of one host share the group port */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr = grp;          /* bound to the group: no unicast lands here */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	memset(&mr, 0, sizeof(mr));
	mr.imr_multiaddr = grp;
	memcpy(&mr.imr_address, iface, 4);
	if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof(one)) < 0)
		goto fail;
	/* only what was sent to the group itself, not other groups on this port */
	int zero = 0;
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero));
	return fd;
fail:
	e = errno;
	close(fd);
	return -e;
}

double disc_next_delay(unsigned n)
{
	static const double start[] = { 1.0, 1.0, 2.0 };   /* 0 -> 1 -> 2 -> 4 s */

	return n < sizeof(start) / sizeof(start[0]) ? start[n] : DISC_STEADY_S;
}

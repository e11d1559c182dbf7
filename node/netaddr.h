/*
 * netaddr.h: addresses of the gossip adapter: parsing --join/--advertise,
 * printing "ip:port" / "[v6]:port", struct swim_addr <-> sockaddr, and the
 * default advertised address.  No state; errors are one line in err.
 */
#ifndef NODE_NETADDR_H
#define NODE_NETADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gossip/member.h"

#define NODE_ADDR_STRLEN 56   /* "[" + INET6_ADDRSTRLEN + "]:65535" */

/* "HOST:PORT" with HOST an IPv4 address, "[IPv6]" or a name; PORT 1-65535.
 * resolve = 0: syntax only (names are accepted unresolved, *out untouched
 * unless HOST is numeric); resolve = 1: names go through getaddrinfo (IPv4
 * first).  0 or -1 (err says what is wrong with the value). */
int node_addr_parse_hostport(const char *s, int resolve, struct swim_addr *out,
			     char *err, size_t errlen);
/* A numeric IPv4 or IPv6 address (no port); out->port = port.  0 or -1. */
int node_addr_parse_ip(const char *s, uint16_t port, struct swim_addr *out);
/* "1.2.3.4:7000" or "[::1]:7000" ("-" for family 0); returns buf. */
char *node_addr_format(const struct swim_addr *a, char *buf, size_t len);
/* Same without the port. */
char *node_addr_format_ip(const struct swim_addr *a, char *buf, size_t len);
/* sockaddr <-> swim_addr.  to_sockaddr returns the length (0 for family 0);
 * from_sockaddr returns 0 or -1 (not IPv4/IPv6).  IPv4-mapped IPv6 becomes IPv4. */
socklen_t node_addr_to_sockaddr(const struct swim_addr *a, struct sockaddr_storage *ss);
int node_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct swim_addr *out);
/* 1 for 127/8 and ::1 (and v4-mapped loopback). */
int node_addr_is_loopback(const struct swim_addr *a);
/* 1 for 0.0.0.0 and ::. */
int node_addr_is_any(const struct swim_addr *a);
/* The first non-loopback, up IPv4 address of the host (getifaddrs), else
 * 127.0.0.1.  Port set to port. */
void node_addr_default_advertise(uint16_t port, struct swim_addr *out);

#endif

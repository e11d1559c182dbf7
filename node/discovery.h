/*
 * discovery.h: multicast discovery of sheepnodes on a LAN.
 *
 * An announcement is a small binary body, sealed like a gossip packet
 * (gossip/seal.h, so a keyed cluster only hears its own members):
 *
 *   "SMA" version(1)=1 name_len(1) name[name_len] id[16]
 *   family(1)=4|6 ip[4|16] port(2, big-endian)
 *
 * name = cluster name, id = node id, ip:port = its gossip UDP address.
 * Decoding checks every byte (exact length, name 1-63 bytes, family,
 * non-zero id and port, no wildcard address).  Hearing an unknown node of
 * our cluster makes the adapter push-pull its table to it (swim_join).
 *
 * Defaults (CONFIG.md): group 239.192.77.77 (IPv4 organisation-local scope,
 * RFC 2365), port 7477 (outside the 7000.. range used by data/gossip ports
 * of several nodes on one host), TTL 1, loopback on.
 */
#ifndef NODE_DISCOVERY_H
#define NODE_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/member.h"

#define DISC_GROUP_DEFAULT "239.192.77.77"
#define DISC_PORT_DEFAULT  7477
#define DISC_NAME_MAX      63
#define DISC_BODY_MAX      (3 + 1 + 1 + DISC_NAME_MAX + SWIM_ID_LEN + 1 + 16 + 2)

struct disc_announce {
	char             cluster[DISC_NAME_MAX + 1];
	uint8_t          id[SWIM_ID_LEN];
	struct swim_addr gossip;
};

/* Decoding errors (distinct, for counting). */
#define DISC_E_SHORT    (-5301)
#define DISC_E_MAGIC    (-5302)
#define DISC_E_VERSION  (-5303)
#define DISC_E_NAME     (-5304)
#define DISC_E_ADDR     (-5305)
#define DISC_E_ID       (-5306)
#define DISC_E_LENGTH   (-5307)

/* Encoded length, or -1 (invalid announce or cap too small). */
int disc_announce_encode(const struct disc_announce *a, uint8_t *buf, size_t cap);
/* 0 or DISC_E_*. */
int disc_announce_decode(const uint8_t *buf, size_t len, struct disc_announce *a);
const char *disc_strerror(int code);

/* A UDP socket bound to group:port, member of the group on the interface
 * of `iface` (an IPv4 address; 0.0.0.0 lets the kernel choose), sending
 * through that interface with TTL 1 and loopback on.  fd or -errno. */
int disc_socket_open(const char *group, uint16_t port, const uint8_t iface[4]);

/* Announcement schedule: seconds after start 0, 1, 2, 4, then every
 * DISC_STEADY_S.  Returns the delay before announcement number n+1. */
#define DISC_STEADY_S 30.0
double disc_next_delay(unsigned n);

#endif

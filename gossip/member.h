/*
 * gossip/member.h: the member table, one per node (the simulator holds
 * thousands of them, so entries are compact: ~120 bytes each).
 *
 * A table is a dense array of entries in arrival order (indices are stable:
 * entries are never removed, a dead or left member stays so that stale
 * gossip about it can be recognised) plus an index sorted by id for
 * O(log N) lookups.  Insertion is O(N) (memmove of the index), fine for the
 * tens of thousands of members we aim at.
 *
 * Caller memory (_init/_fini), no globals, not thread-safe per instance.
 */
#ifndef SHEEPMESH_GOSSIP_MEMBER_H
#define SHEEPMESH_GOSSIP_MEMBER_H

#include <stddef.h>
#include <stdint.h>

#define SWIM_ID_LEN 16

/* An IPv4 or IPv6 address + port, network-independent byte form. */
struct swim_addr {
	uint8_t  family;               /* 4, 6, or 0 = none */
	uint8_t  ip[16];               /* IPv4 uses ip[0..3] */
	uint16_t port;                 /* host order */
};

enum swim_state {
	SWIM_ALIVE = 0,
	SWIM_SUSPECT = 1,
	SWIM_DEAD = 2,
	SWIM_LEFT = 3,
};
#define SWIM_STATE_MAX SWIM_LEFT

/* Placement metadata, owned by the member itself; changed only together
 * with a new incarnation (swim_set_meta). */
struct swim_meta {
	uint16_t weight;               /* ring weight, RING_WEIGHT_DEFAULT = one default node */
	uint32_t zone;                 /* failure domain, 0 = none */
	uint64_t capacity;             /* bytes the node offers */
	uint64_t generation;           /* membership generation the ring uses (epoch.h point 3) */
};

struct swim_member {
	uint8_t          id[SWIM_ID_LEN];
	struct swim_addr gossip;       /* UDP, where SWIM talks to it */
	struct swim_addr data;         /* TCP, Sheepdog protocol */
	uint64_t         incarnation;  /* raised only by the member itself */
	struct swim_meta meta;
	uint64_t         since;        /* ms, local time of the last state change */
	uint64_t         rx_seq_max;   /* replay window: highest packet seq seen from it */
	uint64_t         rx_seq_bits;  /* bit i = seq (rx_seq_max - i) seen */
	uint8_t          state;        /* enum swim_state */
};

struct member_table {
	struct swim_member *m;         /* dense, arrival order; index 0 is self in swim */
	uint32_t           *by_id;     /* indices into m, sorted by id */
	uint32_t            n, cap;
};

void member_table_init(struct member_table *t);
void member_table_fini(struct member_table *t);

/* Index of the member with this id, or -1. O(log N). */
int64_t member_table_find(const struct member_table *t, const uint8_t id[SWIM_ID_LEN]);

/* Append a copy of *m (its id must be absent). Returns its index (>= 0),
 * -EEXIST if the id is present, -ENOMEM. */
int64_t member_table_add(struct member_table *t, const struct swim_member *m);

/* Addresses: equal (family, ip, port)? */
int swim_addr_equal(const struct swim_addr *a, const struct swim_addr *b);

/* Helpers to build addresses (tests, adapters). */
struct swim_addr swim_addr_v4(uint32_t ip_host_order, uint16_t port);

/* "alive", "suspect", "dead", "left" or "?" */
const char *swim_state_name(int state);

#endif

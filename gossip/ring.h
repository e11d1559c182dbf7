/*
 * gossip/ring.h: object placement on a consistent-hash ring of vnodes.
 *
 * Pure and deterministic: a ring is a function of (the set of placed members,
 * vnodes_per_unit) and nothing else: no clock, no RNG, no globals, no I/O.
 * Two nodes that agree on the membership (see gossip/epoch.h) compute
 * identical placements without talking to each other.  Background, the
 * measurements behind the defaults and the agreement argument:
 * gossip/RING.md.
 *
 * Model
 *   - Each placed member owns weight * vnodes_per_unit vnodes.  Vnode i of
 *     member m sits at hash64_xxh64(m.id || le32(i), seed 0) on a 2^64 ring.
 *   - An object key (ring_oid_hash(oid)) belongs to the first vnode clockwise
 *     at or after it (wrapping past 2^64-1 to the smallest position).
 *   - Equal positions are ordered by member id, so the order is total.
 *   - Members are sorted by id at build time; "node index" below is the
 *     position in that order, stable for the life of one ring.
 *
 * Immutability: a ring is never changed after ring_new(); any number of
 * threads (or simulated nodes with the same membership) may share one for
 * reading.  Membership changes build a new ring.
 */
#ifndef SHEEPMESH_GOSSIP_RING_H
#define SHEEPMESH_GOSSIP_RING_H

#include <stddef.h>
#include <stdint.h>

#define RING_ID_LEN          16
#define RING_DIGEST_LEN      16
#define RING_MAX_COPIES      31           /* = SD_MAX_COPIES */
#define RING_HASH_VERSION    1            /* bump if vnode or oid hashing changes */

/*
 * Weights: a member of default capacity has weight RING_WEIGHT_DEFAULT, so
 * weight expresses capacity in 1/16ths of a default node.  With
 * RING_VNODES_PER_UNIT_DEFAULT = 8 a default node has 128 vnodes.  Measured
 * (bench_ring, mean of 10 id sets, max/mean share of the hash space):
 *            64 vnodes   128 vnodes   256 vnodes
 *   N=100      1.32        1.26         1.18
 *   N=1000     1.46        1.33         1.21
 * 128 keeps the fullest node within ~1.3x of the mean at 12 bytes per vnode
 * (1.5 MB and ~25-60 ms to build at N=1000); 256 buys ~0.1 for twice the
 * memory and build time, which the simulator pays per distinct ring.  The
 * value is cluster-wide (it is part of ring_digest()).  gossip/RING.md.
 */
#define RING_WEIGHT_DEFAULT          16
#define RING_VNODES_PER_UNIT_DEFAULT 8
#define RING_MAX_VNODES              (UINT32_C(1) << 22)  /* 48 MiB of vnodes */

/*
 * One member as the ring sees it.  The caller passes only members that are
 * placed (alive or suspect; never dead or left).  weight 0 = known but not
 * placed: such a member is ignored.  zone 0 = no zone: the member is treated
 * as its own zone (it never conflicts with another member's zone).
 */
struct ring_member {
	uint8_t  id[RING_ID_LEN];
	uint16_t weight;               /* capacity, RING_WEIGHT_DEFAULT = one default node */
	uint32_t zone;                 /* failure domain, 0 = none */
};

struct ring;                           /* opaque, immutable after ring_new() */

/*
 * Build a ring from n members (any order).  vnodes_per_unit 0 means
 * RING_VNODES_PER_UNIT_DEFAULT.  Members with weight 0 are skipped.  An empty
 * ring (no placed member) is valid: ring_locate() then returns 0.
 * Returns 0 and *out on success; -EINVAL if two members share an id (or
 * members is NULL with n > 0), -E2BIG if the ring would exceed
 * RING_MAX_VNODES vnodes, -ENOMEM.  The caller's array is not kept.
 */
int ring_new(struct ring **out, const struct ring_member *members, size_t n, uint32_t vnodes_per_unit);

/* Free a ring; NULL is fine. */
void ring_free(struct ring *r);

/*
 * Replica set for a key: writes up to `copies` DISTINCT node indices to
 * out[], primary first, and returns how many (min(copies, ring_nr_nodes())),
 * or -EINVAL if copies > RING_MAX_COPIES.
 *
 * Walk clockwise from the key's vnode.  First pass: take a node if it is new
 * and its zone is not taken yet (zone 0 never conflicts); stop when `copies`
 * nodes are taken or as many as there are distinct zones.  Second pass, only
 * if short: walk again from the same start and take any node not taken yet.
 * Without zones both passes reduce to "first `copies` distinct nodes
 * clockwise".  O(log V) to find the start plus a walk that is short unless
 * nodes or zones are few relative to copies (bounded by V).  Measured:
 * 12-80 ns for the primary, 27-125 ns for 3 copies at N = 10..1000
 * (loaded machine; gossip/RING.md).
 */
int ring_locate(const struct ring *r, uint64_t key_hash, unsigned copies, uint32_t *out);

/* Primary only: node index of the first vnode at or after key_hash; -ENOENT if empty. */
int ring_primary(const struct ring *r, uint64_t key_hash);

/* Object key hash: XXH64 of the oid's 8 little-endian bytes, seed 0. */
uint64_t ring_oid_hash(uint64_t oid);

/* Hash position of vnode `index` of the member with this id (exposed for tests/tools). */
uint64_t ring_vnode_hash(const uint8_t id[RING_ID_LEN], uint32_t index);

/* Number of placed nodes and of vnodes. */
size_t ring_nr_nodes(const struct ring *r);
size_t ring_nr_vnodes(const struct ring *r);

/* Member behind a node index, NULL if idx is out of range. */
const struct ring_member *ring_node(const struct ring *r, uint32_t idx);

/* Node index of the member with this id, -ENOENT if it is not placed.  O(log N). */
int ring_find(const struct ring *r, const uint8_t id[RING_ID_LEN]);

/*
 * Fraction of the 2^64 hash space owned (as primary) by a node, in [0, 1].
 * O(V) per call: for tests, tools and benchmarks, not the data path.
 */
double ring_share(const struct ring *r, uint32_t idx);

/*
 * 16-byte digest of the ring: BLAKE2b-128 (libsodium crypto_generichash)
 * over RING_HASH_VERSION, vnodes_per_unit and the placed members sorted by
 * id (id, weight, zone as little-endian bytes).  Equal digests mean equal
 * placement; computed once in ring_new().
 */
void ring_digest(const struct ring *r, uint8_t out[RING_DIGEST_LEN]);

#endif

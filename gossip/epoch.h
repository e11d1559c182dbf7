/*
 * gossip/epoch.h: what the cluster agrees on, without a coordinator.
 *
 * Two pieces of state, both merged by a join (least upper bound), so every
 * node that has seen the same events holds the same value, whatever order
 * or grouping the events arrived in:
 *
 *   epoch_state  the ring-defining state: id -> (version, in|out, weight,
 *                zone).  The ring is a function of it (epoch_state_ring()).
 *   epoch_vec    a version vector: id -> number of ring-affecting events that
 *                node originated or confirmed (and that changed the state).
 *                compare() says who is behind; the scalar epoch is its sum.
 *
 * struct epoch holds both; epoch_digest() (16 bytes) rides on every gossip
 * packet: unequal digests mean "pull the peer's epoch and merge".
 *
 * Design note (the argument; gossip/RING.md has the longer version)
 *
 * 1. epoch_state merge is a join-semilattice.  For one id, entries are
 *    totally ordered by the key (version, state with OUT > IN, weight, zone);
 *    merging two entries keeps the larger.  max over a total order is
 *    commutative (max(a,b) = max(b,a)), associative (max(max(a,b),c) =
 *    max(a,max(b,c))) and idempotent (max(a,a) = a).  A state is a map with
 *    "absent" as the bottom element, merged id by id; a product of
 *    semilattices is a semilattice.  epoch_state_apply(s, ev) is merge with
 *    the one-entry state {ev}.  Hence: the merged state of a set of events is
 *    the per-id maximum over the set; order, duplication and partitioning
 *    (merge the parts in any tree shape) cannot change it.
 *
 * 2. The ring is a function of the merged state only.  epoch_state_ring()
 *    passes ring_new() exactly the entries with state IN and weight > 0, as
 *    (id, weight, zone); ring_new() sorts by id and hashes only those fields
 *    plus the fixed vnodes_per_unit: no clock, no arrival order, no local
 *    data.  Equal merged states -> equal member sets -> equal rings (and equal
 *    ring_digest()).
 *
 * 3. Suspicion never changes the ring.  There is no "suspect" state here:
 *    only join (IN at a new version), leave and confirmed death (OUT) are
 *    events.  SWIM's suspect/alive flapping and its incarnation refutations
 *    stay inside gossip/swim*; a suspect member is still placed.  The adapter
 *    must use a per-node membership *generation* as version (bumped by the
 *    node when it joins, rejoins or changes weight/zone), not SWIM's
 *    incarnation: refutations then produce no event at all.
 *    Dead vs alive at the same generation: OUT wins, so a death declared for
 *    generation g cannot be undone by stale gossip of the node alive at g;
 *    the node comes back by rejoining at g+1.
 *
 * 4. epoch_vec merge is pointwise max, a join-semilattice by the same
 *    argument (max over integers, per id, absent = 0).  Each counter has a
 *    single writer (node X only bumps vec[X], in epoch_record()), so event
 *    number k of X is a fixed event e(X,k).  struct epoch keeps
 *    state = join{ e(X,k) : k <= vec[X] } true: record applies e(X,k) and
 *    sets vec[X] = k together; merge joins both sides of two epochs that each
 *    satisfy it, and join distributes over the union of event sets (X's
 *    events 1..max(a,b) = union of 1..a and 1..b, because a node that holds
 *    vec[X] = k got it, directly or via others, from X's own epoch, which
 *    already held all of e(X,1..k)).  Hence vec_a <= vec_b pointwise implies
 *    state_a <= state_b, equal vectors imply equal rings, and the order
 *    compare() reports is an order on rings too.  The scalar epoch (sum of
 *    counters, saturating) is monotonic: merge and record only raise
 *    counters.  It can differ between two nodes with the same ring (two nodes
 *    confirmed the same death, each bumping its own counter); the digest
 *    covers the vector, so they sync and agree after one exchange.
 *
 * Memory: both structs live in caller memory (_init/_fini), hold sorted
 * heap arrays, no globals.  Not thread-safe per instance.  Digests use
 * libsodium's crypto_generichash (BLAKE2b); no sodium_init() is needed for
 * it, the result is the same either way.
 */
#ifndef SHEEPMESH_GOSSIP_EPOCH_H
#define SHEEPMESH_GOSSIP_EPOCH_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/ring.h"

#define EPOCH_ID_LEN        RING_ID_LEN
#define EPOCH_DIGEST_LEN    16
#define EPOCH_MAX_ENTRIES   65536          /* hard cap for decoders */
#define EPOCH_FORMAT        1              /* first element of every encoding */

/*
 * Decoder error codes (negative, own range).  Each names the field.
 * X(name, value, message)
 */
#define EPOCH_ERRORS(X)                                                                      \
	X(EPOCH_E_TRUNCATED, -4001, "epoch: input ends inside the encoding")                  \
	X(EPOCH_E_TRAILING, -4002, "epoch: bytes after the end of the encoding")              \
	X(EPOCH_E_ENVELOPE, -4003, "epoch: top level is not a 3-element array")               \
	X(EPOCH_E_FORMAT, -4004, "epoch: format is not an unsigned integer equal to 1")       \
	X(EPOCH_E_ENTRIES, -4005, "epoch: members or vector is not a map")                              \
	X(EPOCH_E_TOO_MANY, -4006, "epoch: more entries than allowed")                        \
	X(EPOCH_E_ID_TYPE, -4007, "epoch: entry id is not a bin")                             \
	X(EPOCH_E_ID_LEN, -4008, "epoch: entry id is not 16 bytes")                           \
	X(EPOCH_E_ORDER, -4009, "epoch: entry ids not strictly ascending (duplicate/unsorted)") \
	X(EPOCH_E_COUNTER, -4010, "epoch: counter is not an unsigned integer")                \
	X(EPOCH_E_ZERO, -4011, "epoch: counter is 0 (absent entries are not encoded)")       \
	X(EPOCH_E_MEMBER, -4012, "epoch: member value is not a 4-element array")              \
	X(EPOCH_E_VERSION, -4013, "epoch: member version is not an unsigned integer")         \
	X(EPOCH_E_STATE, -4014, "epoch: member state is not 1 (in) or 2 (out)")               \
	X(EPOCH_E_WEIGHT, -4015, "epoch: member weight is not an unsigned integer <= 65535")  \
	X(EPOCH_E_ZONE, -4016, "epoch: member zone is not an unsigned integer < 2^32")

enum epoch_error {
#define EPOCH_X_ENUM(name, val, msg) name = (val),
	EPOCH_ERRORS(EPOCH_X_ENUM)
#undef EPOCH_X_ENUM
};

/* Message for an EPOCH_E_* code or a -errno; never NULL. */
const char *epoch_strerror(int code);

/* ---- version vector ---- */

struct epoch_entry {
	uint8_t  id[EPOCH_ID_LEN];
	uint64_t counter;              /* events originated/confirmed by id; > 0 */
};

struct epoch_vec {                     /* sorted by id, no zero counters */
	struct epoch_entry *e;
	uint32_t n, cap;
};

enum epoch_order {
	EPOCH_EQUAL,                   /* same counters */
	EPOCH_OLDER,                   /* a <= b pointwise, a != b: a is behind */
	EPOCH_NEWER,                   /* a >= b pointwise, a != b */
	EPOCH_CONCURRENT,              /* each has something the other lacks */
};

void epoch_vec_init(struct epoch_vec *v);
void epoch_vec_fini(struct epoch_vec *v);
/* dst := src.  0 or -ENOMEM (dst unchanged). */
int epoch_vec_copy(struct epoch_vec *dst, const struct epoch_vec *src);
/* Counter of id, 0 if absent. */
uint64_t epoch_vec_get(const struct epoch_vec *v, const uint8_t id[EPOCH_ID_LEN]);
/* The node with this id originated/confirmed one more event: counter + 1.
 * 0, -ENOMEM, or -EOVERFLOW at UINT64_MAX (unchanged). */
int epoch_vec_bump(struct epoch_vec *v, const uint8_t id[EPOCH_ID_LEN]);
/* counter(id) := max(counter(id), c).  1 changed, 0 not, -ENOMEM. */
int epoch_vec_raise(struct epoch_vec *v, const uint8_t id[EPOCH_ID_LEN], uint64_t c);
/* dst := pointwise max(dst, src).  1 changed, 0 not, -ENOMEM (dst unchanged). */
int epoch_vec_merge(struct epoch_vec *dst, const struct epoch_vec *src);
/* Order of a relative to b.  O(n + m). */
enum epoch_order epoch_vec_compare(const struct epoch_vec *a, const struct epoch_vec *b);
/* Scalar epoch: sum of counters, saturating at UINT64_MAX; monotonic under
 * bump/raise/merge.  Sheepdog reply epochs may carry its low 32 bits. */
uint64_t epoch_vec_scalar(const struct epoch_vec *v);
/* BLAKE2b-128 over a tag and the sorted (id, le64 counter) entries. */
void epoch_vec_digest(const struct epoch_vec *v, uint8_t out[EPOCH_DIGEST_LEN]);

/* ---- ring-defining state ---- */

enum epoch_mstate {
	EPOCH_IN = 1,                  /* joined: placed on the ring if weight > 0 */
	EPOCH_OUT = 2,                 /* left or confirmed dead: not placed */
};

struct epoch_member {
	uint8_t  id[EPOCH_ID_LEN];
	uint64_t version;              /* membership generation of id (not SWIM incarnation) */
	uint8_t  state;                /* enum epoch_mstate */
	uint16_t weight;               /* see ring.h, RING_WEIGHT_DEFAULT */
	uint32_t zone;                 /* 0 = none */
};

struct epoch_state {                   /* sorted by id, one entry per id */
	struct epoch_member *m;
	uint32_t n, cap;
};

/* <0, 0, >0 as a loses to, equals, beats b (same id assumed): the total
 * order (version, state OUT > IN, weight, zone). */
int epoch_member_cmp(const struct epoch_member *a, const struct epoch_member *b);

void epoch_state_init(struct epoch_state *s);
void epoch_state_fini(struct epoch_state *s);
int epoch_state_copy(struct epoch_state *dst, const struct epoch_state *src);
/* Entry for id or NULL; valid until the next change of s. */
const struct epoch_member *epoch_state_get(const struct epoch_state *s, const uint8_t id[EPOCH_ID_LEN]);
/* Merge one event.  1 changed, 0 not (older or equal), -EINVAL bad state, -ENOMEM. */
int epoch_state_apply(struct epoch_state *s, const struct epoch_member *ev);
/* dst := join(dst, src).  1 changed, 0 not, -ENOMEM (dst unchanged). */
int epoch_state_merge(struct epoch_state *dst, const struct epoch_state *src);
/* Placed members (IN, weight > 0) in id order into out[cap]; returns how
 * many there are (may exceed cap: then only cap were written). */
size_t epoch_state_placed(const struct epoch_state *s, struct ring_member *out, size_t cap);
/* ring_new() over epoch_state_placed(): the ring of this state. */
int epoch_state_ring(const struct epoch_state *s, uint32_t vnodes_per_unit, struct ring **out);
/* BLAKE2b-128 over a tag and every entry (OUT entries included). */
void epoch_state_digest(const struct epoch_state *s, uint8_t out[EPOCH_DIGEST_LEN]);

/* ---- both together: what nodes keep, gossip and store ---- */

/*
 * Invariant (kept by using only these calls): state = join of every event
 * counted in vec.  Then vec_a <= vec_b implies state_a <= state_b, and equal
 * vectors imply equal states and rings.  A decoded peer epoch may break it
 * (bug, corruption): merge is still a join, so nodes still converge, and the
 * digest covers the state, so the difference is still seen; only
 * compare()'s "equal vectors, equal rings" would not hold for it.
 */
struct epoch {
	struct epoch_state state;
	struct epoch_vec   vec;
};

void epoch_init(struct epoch *e);
void epoch_fini(struct epoch *e);
/* dst := src.  0 or -ENOMEM (dst unchanged). */
int epoch_copy(struct epoch *dst, const struct epoch *src);

/*
 * Node `self` originates or confirms a ring event (join/rejoin/weight change
 * as IN at a new generation, leave or confirmed death as OUT).  The event is
 * applied to the state; only if it changed the state is vec[self] bumped, so
 * a stale or duplicate report leaves the version alone.
 * 1 changed, 0 no-op, -EINVAL bad event, -ENOMEM / -EOVERFLOW (e unchanged).
 */
int epoch_record(struct epoch *e, const uint8_t self[EPOCH_ID_LEN], const struct epoch_member *ev);

/* dst := join(dst, src), state and vector together.  1 changed, 0 not,
 * -ENOMEM (dst unchanged). */
int epoch_merge(struct epoch *dst, const struct epoch *src);

/* Order of a's version relative to b's (the vectors). */
enum epoch_order epoch_compare(const struct epoch *a, const struct epoch *b);

/* Scalar epoch = epoch_vec_scalar(&e->vec); 0 for a fresh epoch. */
uint64_t epoch_scalar(const struct epoch *e);

/*
 * The 16 bytes that ride on every gossip packet: BLAKE2b-128 over the state
 * digest and the vector digest.  It covers the vector as well as the ring-
 * defining state so that nodes with the same ring but different counters
 * (two nodes confirmed the same death) also sync, and end up with the same
 * scalar epoch, which requests between nodes compare.
 */
void epoch_digest(const struct epoch *e, uint8_t out[EPOCH_DIGEST_LEN]);

/*
 * Wire and storage form (msgpack, canonical: equal epochs, equal bytes):
 *   [ EPOCH_FORMAT,
 *     { id: [version, state, weight, zone], ... },   ids ascending
 *     { id: counter, ... } ]                          ids ascending, counters > 0
 * where id is a msgpack bin of exactly 16 bytes (written as bin 8).
 * encode: 0 and *len (<= epoch_encoded_max()), or -ENOSPC if cap is short.
 * decode: 0 and *e replaced, or EPOCH_E_* / -ENOMEM with *e unchanged and
 * *err_off (may be NULL) = byte offset where decoding stopped.  Every field
 * is checked; max_entries (0 = EPOCH_MAX_ENTRIES, larger is clamped) bounds
 * each map, and no allocation exceeds what the input's length can justify.
 */
size_t epoch_encoded_max(uint32_t nr_members, uint32_t nr_counters);
int epoch_encode(const struct epoch *e, uint8_t *buf, size_t cap, size_t *len);
int epoch_decode(struct epoch *e, const uint8_t *buf, size_t len, uint32_t max_entries, size_t *err_off);

#endif

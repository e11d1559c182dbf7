/*
 * gossip/wire.h: the SWIM packet body codec (msgpack-c).
 *
 * Every packet body is one msgpack array of 9 or 10 elements:
 *
 *   [version=1, type, sender bin16, seq uint, probe uint, flags uint,
 *    target (nil | bin16), target_addr (nil | bin6 | bin18), updates array,
 *    (optional) ring_digest bin16]
 *
 * ring_digest is opaque here (the sender's ring version digest, set by the
 * layer above): absent when the sender has none, an all-zero bin16 is read
 * as absent, anything other than a 16-byte bin is rejected (WIRE_E_DIGEST).
 * A 9-element body is the same message without a digest, so senders that
 * do not set one produce exactly the bytes they did before.
 *
 *   PING      probe = prober's probe seq, target = id the ping is meant for
 *   ACK       probe = the probe seq being answered
 *   PING_REQ  probe = requester's probe seq, target + target_addr = who to ping
 *   NACK      probe = the requester's probe seq the relay could not reach
 *   PUSHPULL  probe = push-pull exchange id, flags = WIRE_PP_* ; updates =
 *             one chunk of the sender's full table (chunks are independent)
 *   GOSSIP    updates only (gossip fanout while updates wait, graceful leave)
 *
 * An update is either full, a 9-array
 *   [id bin16, incarnation, state, gossip_addr bin, data_addr bin,
 *    weight, zone, capacity, generation]
 * or short (suspect/dead/left only), a 4-array [id bin16, incarnation, state, from bin16]
 * where `from` is the member that suspected/declared it (Lifeguard counts
 * distinct `from`s as independent confirmations).
 * Addresses: 6 bytes (IPv4 + big-endian port) or 18 bytes (IPv6 + port).
 *
 * Decoding validates every field and rejects anything else with a distinct
 * code (WIRE_E_*), so the caller can count drops per reason. Encoding writes
 * into caller memory and never allocates.
 */
#ifndef SHEEPMESH_GOSSIP_WIRE_H
#define SHEEPMESH_GOSSIP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/member.h"

#define WIRE_VERSION      1
#define WIRE_MAX_UPDATES  64           /* per packet; 1400 bytes hold < 40 full updates */
#define WIRE_HDR_MAX      116          /* upper bound of the encoded header + array header */
#define WIRE_DIGEST_LEN   16           /* opaque ring digest (optional 10th field) */
#define WIRE_UPDATE_MAX   96           /* upper bound of one encoded update (IPv6, max ints) */
/* Incarnations and packet seqs only ever grow by 1 from small values; a
 * value near 2^64 can only be forged, and would wrap on the next +1 (a
 * refutation that loses, or a replay window that rejects the sender for
 * good).  Both are rejected at 2^63 and above. */
#define WIRE_COUNTER_MAX  ((UINT64_C(1) << 63) - 1)

enum wire_type {
	WIRE_PING = 1,
	WIRE_ACK = 2,
	WIRE_PING_REQ = 3,
	WIRE_NACK = 4,
	WIRE_PUSHPULL = 5,
	WIRE_GOSSIP = 6,
};
#define WIRE_TYPE_MAX WIRE_GOSSIP

#define WIRE_PP_REPLY 1u               /* sender wants the receiver's table back */
#define WIRE_PP_JOIN  2u               /* sender is joining */

/* X(name, value, message): decoder errors; swim keeps one drop counter each. */
#define WIRE_ERRORS(X)                                                                    \
	X(WIRE_E_PARSE, -5001, "wire: not valid msgpack or truncated")                    \
	X(WIRE_E_TRAILING, -5002, "wire: bytes after the message")                        \
	X(WIRE_E_ENVELOPE, -5003, "wire: top level is not a 9- or 10-element array")     \
	X(WIRE_E_VERSION, -5004, "wire: unknown version")                                  \
	X(WIRE_E_TYPE, -5005, "wire: unknown message type")                                \
	X(WIRE_E_SENDER, -5006, "wire: sender is not a 16-byte bin")                       \
	X(WIRE_E_SEQ, -5007, "wire: seq is not an unsigned integer < 2^63")                \
	X(WIRE_E_PROBE, -5008, "wire: probe is not an unsigned integer < 2^32")            \
	X(WIRE_E_FLAGS, -5009, "wire: flags is not an unsigned integer of known bits")     \
	X(WIRE_E_TARGET, -5010, "wire: target missing, not nil or not a 16-byte bin")     \
	X(WIRE_E_TADDR, -5011, "wire: target_addr missing or not a 6/18-byte bin")        \
	X(WIRE_E_UPDATES, -5012, "wire: updates is not an array of at most 64")           \
	X(WIRE_E_UPD_SHAPE, -5013, "wire: update is not a 4- or 9-element array")         \
	X(WIRE_E_UPD_ID, -5014, "wire: update id is not a 16-byte bin")                   \
	X(WIRE_E_UPD_INC, -5015, "wire: update incarnation is not an unsigned integer < 2^63") \
	X(WIRE_E_UPD_STATE, -5016, "wire: update state unknown or not allowed in short form") \
	X(WIRE_E_UPD_ADDR, -5017, "wire: update address is not a 6/18-byte bin or port 0") \
	X(WIRE_E_UPD_META, -5018, "wire: update weight/zone/capacity/generation out of range") \
	X(WIRE_E_UPD_FROM, -5019, "wire: update from is not a 16-byte bin")               \
	X(WIRE_E_DIGEST, -5020, "wire: ring_digest is not a 16-byte bin")

enum wire_error {
#define WIRE_X_ENUM(name, val, msg) name = (val),
	WIRE_ERRORS(WIRE_X_ENUM)
#undef WIRE_X_ENUM
};
#define WIRE_E_FIRST WIRE_E_PARSE
#define WIRE_E_COUNT 20                /* number of WIRE_E_* codes */

/* Message for a WIRE_E_* code or -errno; never NULL. */
const char *wire_strerror(int code);

struct wire_update {
	uint8_t          id[SWIM_ID_LEN];
	uint64_t         incarnation;
	uint8_t          state;        /* enum swim_state */
	uint8_t          full;         /* 1: addresses and meta valid; 0: `from` valid */
	struct swim_addr gossip, data;
	struct swim_meta meta;
	uint8_t          from[SWIM_ID_LEN];
};

struct wire_msg {
	uint8_t          type;         /* enum wire_type */
	uint8_t          sender[SWIM_ID_LEN];
	uint64_t         seq;          /* per-sender packet sequence (replay window) */
	uint32_t         probe;
	uint32_t         flags;
	uint8_t          has_target;
	uint8_t          target[SWIM_ID_LEN];
	struct swim_addr target_addr;  /* family 0 if absent */
	uint32_t         n_updates;
	struct wire_update *updates;   /* decode: caller array of WIRE_MAX_UPDATES */
	uint8_t          has_digest;   /* 1: ring_digest present and not all zero */
	uint8_t          digest[WIRE_DIGEST_LEN];
};

/*
 * Encode msg (header and all msg->n_updates updates) into buf[cap].
 * 0 and *len, -ENOSPC if it does not fit, -EINVAL on a bad field.
 */
int wire_encode(const struct wire_msg *msg, uint8_t *buf, size_t cap, size_t *len);

/* Exact encoded size of one update (for packing packets to a budget). */
size_t wire_update_size(const struct wire_update *u);

/*
 * Decode buf[len] into *msg; msg->updates must point at WIRE_MAX_UPDATES
 * entries. 0, or WIRE_E_* (msg content then undefined), or -ENOMEM.
 */
int wire_decode(struct wire_msg *msg, const uint8_t *buf, size_t len);

#endif

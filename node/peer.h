/*
 * peer.h: the node-to-node protocol on the data port (node/PEER.md).
 *
 * Peer requests are ordinary 48-byte Sheepdog headers (object variant:
 * oid, cow_oid, offset) with opcodes in the daemon range the spec leaves
 * free (0xA0-0xAA), always with the WRITE flag: the payload starts with a
 * 32-byte peer prefix, then the operation's bytes.
 *
 *   prefix  [0,16)  ring digest of the sender's view (epoch digest)
 *           [16,24) version (LE64): the gateway's hybrid logical clock for
 *                   writes and puts, 0 otherwise
 *           [24,28) arg (LE32): bytes to read for PEER_READ_OBJ, else 0
 *           [28,32) magic "SMP1"
 *
 * A node whose current ring digest differs answers SD_RES_SM_RING_STALE
 * (reply epoch = its scalar epoch) and does nothing: the sender waits for
 * the new ring and retries (issue 4's "refuse a request made under another
 * ring version"). PEER_VDI_LIST and PEER_VDI_GET are not checked: catalog
 * catch-up must work while rings differ.
 *
 * The client half (struct peer_pool) keeps idle blocking connections per
 * address for worker threads. Thread-safe; no global state.
 */
#ifndef NODE_PEER_H
#define NODE_PEER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip/ring.h"
#include "gossip/swim.h"
#include "sheepdog_proto.h"

struct sd_client;

#define SD_OP_PEER_WRITE_OBJ   0xA0   /* partial write of an existing replica */
#define SD_OP_PEER_CREATE_OBJ  0xA1   /* create (or replace) + write; COW flag + cow_oid */
#define SD_OP_PEER_READ_OBJ    0xA2   /* arg bytes at offset */
#define SD_OP_PEER_PUT_OBJ     0xA3   /* install a whole replica (repair) */
#define SD_OP_PEER_VDI_PUT     0xA4   /* store_vdi_import() of the bytes */
#define SD_OP_PEER_VDI_GET     0xA5   /* store_vdi_export() of vid = obj.oid */
#define SD_OP_PEER_VDI_LIST    0xA6   /* (vid LE32, mver LE64) * n */
#define SD_OP_PEER_FORWARD     0xA7   /* a client request (header + payload) for the leader */
#define SD_OP_PEER_STAT_OBJ    0xA8   /* version, size, flags of our copy (recovery, anti-entropy) */
#define SD_OP_PEER_FIRST       SD_OP_PEER_WRITE_OBJ
#define SD_OP_PEER_SUMMARY     0xA9   /* anti-entropy: per-bucket digests of what two nodes share */
#define SD_OP_PEER_LOCK_PUT    0xAA   /* the leader's lock of one VDI, as a whole */
#define SD_OP_PEER_LAST        SD_OP_PEER_LOCK_PUT

/* PEER_LOCK_PUT payload after the prefix: vid LE32, held LE32 (0/1), type
 * LE32, holders LE32, time LE64 */
#define PEER_LOCK_LEN          24

/* PEER_SUMMARY: the prefix arg is the requester's node index in the ring
 * both have (digests must match); the reply is PEER_SUMMARY_BUCKETS
 * digests of PEER_SUMMARY_DIGEST bytes: bucket b is the XOR of
 * BLAKE2b-128(oid LE64 || version LE64) over the responder's objects whose
 * key hash has top byte b and whose replicas include both nodes. Equal
 * digests: the two hold the same (oid, version) set in that bucket. */
#define PEER_SUMMARY_BUCKETS   256
#define PEER_SUMMARY_DIGEST    16
#define PEER_SUMMARY_LEN       (PEER_SUMMARY_BUCKETS * PEER_SUMMARY_DIGEST)

/* PEER_STAT_OBJ reply: version LE64, size LE64, checksum 32 (zero if not
 * valid), flags LE32 (PEER_STAT_*). */
#define PEER_STAT_LEN          52
#define PEER_STAT_UNVERIFIED   0x1
#define PEER_STAT_CSUM_VALID   0x2
#define PEER_STAT_HASHED       0x4    /* checksum field = BLAKE2b of the bytes now */
#define PEER_STAT_WANT_HASH    0x1    /* request prefix arg: hash the copy (scrub) */

/* Internal results: never sent to clients (dispatch maps them to EIO). */
#define SD_RES_SM_RING_STALE   0x90   /* different ring: refresh and retry */
#define SD_RES_SM_NEED_VDI     0x91   /* replica lacks the VDI's catalog record: push it, retry */
#define SD_RES_SM_UNVERIFIED   0x92   /* replica's copy predates its (re)join: may be stale */
#define SD_RES_SM_AUTH         0x93   /* sealed request did not open (key, time, replay, mode) */

/* PEER_READ_OBJ replies: 8-byte version (LE64), then the bytes; this flag
 * in the reply header says the copy predates the replica's (re)join to the
 * ring, so a newer one may exist elsewhere (node/PEER.md, "Stale copies"). */
#define PEER_READ_VERSION_LEN  8
#define PEER_RSP_UNVERIFIED    0x0100

#define PEER_PREFIX_LEN 32
#define PEER_MAGIC      0x31504d53u   /* "SMP1" little-endian */

static inline int sd_op_is_peer(uint8_t op) { return op >= SD_OP_PEER_FIRST && op <= SD_OP_PEER_LAST; }
static inline int peer_op_checks_ring(uint8_t op) { return op != SD_OP_PEER_VDI_GET && op != SD_OP_PEER_VDI_LIST; }

struct peer_prefix {
	uint8_t digest[RING_DIGEST_LEN];
	uint64_t version;
	uint32_t arg;
};

void peer_prefix_encode(uint8_t *b, const struct peer_prefix *p);
/* -EINVAL if len < PEER_PREFIX_LEN or the magic is wrong. */
int peer_prefix_decode(struct peer_prefix *p, const uint8_t *b, size_t len);
const char *peer_opcode_name(uint8_t op);

/* ---- sealing with the cluster key (node/peer_seal.c, node/PEER.md "Sealing") ----
 *
 * With keys, a request's payload after the 48-byte header is
 *   [nonce 24][XChaCha20-Poly1305-IETF(send time LE64 ms || prefix 32 || data)][tag 16]
 * with PEER_FLAG_SEALED in the header flags; AD = the header re-encoded with
 * id and data_length zeroed, then the cluster name. A SUCCESS reply's
 * payload (even an empty one) is [nonce 24][AEAD(payload)][tag 16] with
 * PEER_FLAG_SEALED in the reply flags; AD = the request's nonce, result
 * LE32, reply flags LE16, cluster name. Error replies carry no payload and
 * are not sealed. Without keys nothing changes (byte-identical format). */

#define PEER_FLAG_SEALED        0x4000   /* request or reply header flag: payload sealed */
#define PEER_SEAL_KEY_LEN       32
#define PEER_SEAL_MAX_KEYS      4        /* as gossip/seal.h */
#define PEER_SEAL_NAME_MAX      63
#define PEER_SEAL_NONCE_LEN     24
#define PEER_SEAL_TIME_LEN      8
#define PEER_SEAL_TAG_LEN       16
#define PEER_SEAL_REQ_OVERHEAD  (PEER_SEAL_NONCE_LEN + PEER_SEAL_TIME_LEN + PEER_SEAL_TAG_LEN)   /* 48 */
#define PEER_SEAL_RSP_OVERHEAD  (PEER_SEAL_NONCE_LEN + PEER_SEAL_TAG_LEN)                        /* 40 */
/* a request is accepted if its send time is within this of the receiver's
 * clock, either way: tolerates that much clock skew minus transit time */
#define PEER_SEAL_WINDOW_MS     30000
/* nonces remembered (24 bytes each + 8 bytes of index: 8 MiB with keys) */
#define PEER_REPLAY_MAX         (1u << 18)

#define PEER_SEAL_ERRORS(X)                                                                       \
	X(PEER_SEAL_E_PLAIN, -5401, "plaintext request, but this node has --key-file "            \
	  "(the sender has no key?)")                                                             \
	X(PEER_SEAL_E_NOKEY, -5408, "sealed request, but this node has no --key-file")            \
	X(PEER_SEAL_E_SHORT, -5402, "sealed payload shorter than nonce + time + prefix + tag")    \
	X(PEER_SEAL_E_OPEN, -5403, "authentication failed with every key")                       \
	X(PEER_SEAL_E_OLD, -5404, "send time more than 30 s in the past")                        \
	X(PEER_SEAL_E_FUTURE, -5405, "send time more than 30 s in the future")                   \
	X(PEER_SEAL_E_REPLAY, -5406, "nonce already seen (replayed request)")                    \
	X(PEER_SEAL_E_FORGOTTEN, -5407, "send time not after the newest forgotten nonce's "       \
	  "(replay cache full, or the clock stepped back)")

enum peer_seal_error {
#define PEER_SEAL_X_ENUM(name, val, msg) name = (val),
	PEER_SEAL_ERRORS(PEER_SEAL_X_ENUM)
#undef PEER_SEAL_X_ENUM
};

/* Keys, cluster name and the replay cache. Thread-safe after setup (the
 * cache has its own mutex); keys are wiped by peer_keys_fini. */
struct peer_keys {
	uint8_t key[PEER_SEAL_MAX_KEYS][PEER_SEAL_KEY_LEN];   /* key[0] is the primary (sends) */
	unsigned n_keys;                                     /* 0 = plaintext mode */
	uint8_t name_len;
	char name[PEER_SEAL_NAME_MAX + 1];
	pthread_mutex_t mu;                                  /* the replay cache below */
	/* FIFO of accepted nonces (first 16 bytes: random, so unique) with their
	 * send times, plus an open-addressing index of ring position + 1 */
	struct peer_replay_ent {
		uint8_t nonce[16];
		uint64_t ms;                             /* send time, ms since the epoch */
	} *ring;
	uint32_t *index;                                     /* 2 * PEER_REPLAY_MAX slots, 0 = empty */
	uint32_t head, count;
	/* every nonce sent at or before this may have been forgotten: such
	 * requests are refused (invariant: an accepted nonce sent later is in
	 * the ring) */
	uint64_t floor_ms;
};

/* Plaintext mode, empty name. 0 or -ENOMEM. */
int peer_keys_init(struct peer_keys *k);
/* The cluster name (1..63 bytes), part of every AD. 0 or -EINVAL. */
int peer_keys_set_name(struct peer_keys *k, const char *name);
/* Add a key (primary != 0: sends with it); the first allocates the replay
 * cache. 0, -EEXIST, -ENOSPC, -ENOMEM. */
int peer_keys_add(struct peer_keys *k, const uint8_t key[PEER_SEAL_KEY_LEN], int primary);
/* Wipe keys (sodium_memzero), free the cache. Safe on a zeroed struct. */
void peer_keys_fini(struct peer_keys *k);
static inline int peer_keys_sealed(const struct peer_keys *k) { return k->n_keys > 0; }
const char *peer_seal_strerror(int code);
/* The send/receive clock: CLOCK_REALTIME in ms (both ends must agree, so
 * not a monotonic clock; see PEER_SEAL_WINDOW_MS). */
uint64_t peer_seal_now_ms(void);

/* Seal a request whose header h is final but for id and data_length (flags
 * must include PEER_FLAG_SEALED). out needs PEER_SEAL_REQ_OVERHEAD +
 * PEER_PREFIX_LEN + len bytes; nonce_out gets the nonce (to open the reply).
 * Returns the payload length. Keys required. */
size_t peer_seal_req(struct peer_keys *k, const struct sd_req *h, uint64_t now_ms,
		     const uint8_t prefix[PEER_PREFIX_LEN], const void *data, uint32_t len, uint8_t *out,
		     uint8_t nonce_out[PEER_SEAL_NONCE_LEN]);
/* Open a request's payload in[len] in place. 0: *body and *body_len = prefix ||
 * data (plaintext mode: in/len as they are; nonce_out zeroed), and the
 * nonce is recorded (replay). Else PEER_SEAL_E_*, nothing recorded, and
 * in[] may have been overwritten. */
int peer_open_req(struct peer_keys *k, const struct sd_req *h, uint64_t now_ms, uint8_t *in, size_t len,
		  uint8_t **body, size_t *body_len, uint8_t nonce_out[PEER_SEAL_NONCE_LEN]);
/* Seal a reply payload in[len] into out (len + PEER_SEAL_RSP_OVERHEAD
 * bytes, returned); flags must be the reply's final flags. */
size_t peer_seal_rsp(struct peer_keys *k, const uint8_t req_nonce[PEER_SEAL_NONCE_LEN], uint32_t result,
		     uint16_t flags, const void *in, size_t len, uint8_t *out);
/* Open a reply: nonce, ciphertext buf[len] (plaintext replaces it), tag.
 * 0 or PEER_SEAL_E_OPEN. */
int peer_open_rsp(struct peer_keys *k, const uint8_t req_nonce[PEER_SEAL_NONCE_LEN], uint32_t result,
		  uint16_t flags, const uint8_t nonce[PEER_SEAL_NONCE_LEN], uint8_t *buf, size_t len,
		  const uint8_t tag[PEER_SEAL_TAG_LEN]);

/* ---- client side ---- */

#define PEER_POOL_IDLE 64             /* idle connections kept, all peers */

struct peer_pool {
	pthread_mutex_t mu;
	struct peer_idle {
		struct swim_addr addr;
		struct sd_client *c;
	} idle[PEER_POOL_IDLE];
	unsigned nr_idle;
	unsigned timeout_ms;          /* per request (connect, send, receive) */
	struct peer_keys keys;        /* both directions: we seal calls, node_repl_serve opens */
};

/* Plaintext mode; for sealing, add keys to p->keys (peer_keys_set_name,
 * peer_keys_add) before the first call. fini closes the idle connections
 * and wipes the keys. */
int peer_pool_init(struct peer_pool *p, unsigned timeout_ms);
void peer_pool_fini(struct peer_pool *p);

/* One call in flight to one peer. */
struct peer_call {
	struct swim_addr to;
	struct sd_client *c;          /* NULL until sent */
	struct sd_req req;
	struct sd_rsp rsp;
	uint8_t *rbuf;                /* reply payload goes here (caller's) */
	size_t rcap;
	int rc;                       /* 0 / SD_RES_* / -errno after peer_call_finish */
	uint8_t nonce[PEER_SEAL_NONCE_LEN];  /* sealed request's nonce: binds the reply */
};

/* Prepare a call: req gets opcode, WRITE flag, epoch = low bits of scalar,
 * data_length = PEER_PREFIX_LEN + len. */
void peer_call_init(struct peer_call *pc, const struct swim_addr *to, uint8_t op, uint64_t oid,
		    uint64_t offset, uint32_t epoch);
/* Sends header + prefix + data (connection from the pool or new); with keys
 * sealed (PEER_FLAG_SEALED added to pc->req.flags, data_length the sealed
 * length, pc->nonce kept for the reply). 0 or -errno (pc->rc set too;
 * nothing to finish then). */
int peer_call_send(struct peer_pool *p, struct peer_call *pc, const struct peer_prefix *pre,
		   const void *data, uint32_t len);
/* Waits for the reply; returns pc->rc. The connection goes back to the pool
 * on a clean reply, else is closed. With keys a SUCCESS reply must be
 * sealed and open (else -EBADMSG); pc->rsp.data_length is then the
 * plaintext's length, in pc->rbuf as without keys. */
int peer_call_finish(struct peer_pool *p, struct peer_call *pc);
/* send + finish */
int peer_call(struct peer_pool *p, struct peer_call *pc, const struct peer_prefix *pre,
	      const void *data, uint32_t len);

#endif

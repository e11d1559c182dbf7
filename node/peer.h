/*
 * peer.h: the node-to-node protocol on the data port (node/PEER.md).
 *
 * Peer requests are ordinary 48-byte Sheepdog headers (object variant:
 * oid, cow_oid, offset) with opcodes in the daemon range the spec leaves
 * free (0xA0-0xA7), always with the WRITE flag: the payload starts with a
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
#define SD_OP_PEER_LAST        SD_OP_PEER_STAT_OBJ

/* PEER_STAT_OBJ reply: version LE64, size LE64, checksum 32 (zero if not
 * valid), flags LE32 (PEER_STAT_*). */
#define PEER_STAT_LEN          52
#define PEER_STAT_UNVERIFIED   0x1
#define PEER_STAT_CSUM_VALID   0x2

/* Internal results: never sent to clients (dispatch maps them to EIO). */
#define SD_RES_SM_RING_STALE   0x90   /* different ring: refresh and retry */
#define SD_RES_SM_NEED_VDI     0x91   /* replica lacks the VDI's catalog record: push it, retry */
#define SD_RES_SM_UNVERIFIED   0x92   /* replica's copy predates its (re)join: may be stale */

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
};

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
};

/* Prepare a call: req gets opcode, WRITE flag, epoch = low bits of scalar,
 * data_length = PEER_PREFIX_LEN + len. */
void peer_call_init(struct peer_call *pc, const struct swim_addr *to, uint8_t op, uint64_t oid,
		    uint64_t offset, uint32_t epoch);
/* Sends header + prefix + data (connection from the pool or new). 0 or -errno
 * (pc->rc set too; nothing to finish then). */
int peer_call_send(struct peer_pool *p, struct peer_call *pc, const struct peer_prefix *pre,
		   const void *data, uint32_t len);
/* Waits for the reply; returns pc->rc. The connection goes back to the pool
 * on a clean reply, else is closed. */
int peer_call_finish(struct peer_pool *p, struct peer_call *pc);
/* send + finish */
int peer_call(struct peer_pool *p, struct peer_call *pc, const struct peer_prefix *pre,
	      const void *data, uint32_t len);

#endif

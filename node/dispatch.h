/*
 * dispatch.h: what a request means. node_dispatch_check() validates a
 * header in the loop thread (before any payload is read); node_dispatch_run()
 * executes a valid request against the store in a worker thread and fills
 * the response. Neither touches sockets.
 */
#ifndef NODE_DISPATCH_H
#define NODE_DISPATCH_H

#include <stdatomic.h>
#include <stdint.h>

#include "node/log.h"
#include "node/pool.h"
#include "sheepdog_proto.h"

struct store;
struct node_conn;
struct node_gossip;
struct node_recovery;

/* Shared by the loop and the workers; counters are atomics because
 * SM_STATUS reads them from a worker. */
struct node_ctx {
	struct store *store;
	struct node_log *log;
	uint32_t max_request;                /* node_config_max_request() */
	atomic_uint_fast64_t connections;    /* open client connections */
	atomic_uint_fast64_t inflight;       /* requests read, reply not yet sent */
	atomic_uint_fast64_t requests;       /* requests answered since start */
	atomic_uint_fast64_t refused;        /* connections over --max-connections */
	atomic_uint_fast64_t buffered;       /* bytes charged by requests in flight */
	struct node_gossip *gossip;          /* membership, or NULL (SM_MEMBERS, SM_STATUS) */
	struct node_repl *repl;              /* replication (node/repl.h), or NULL: all local */
	struct node_recovery *recovery;      /* node/recovery.h, or NULL */
	uint32_t max_peer_request;           /* peer payloads (prefix + object, or a VDI export) */
	/* SM_RING (node/dispatch_ring.c; ringparts): the node's current epoch
	 * as epoch_encode() bytes, malloc'd into *buf; 0 or -errno. Called from
	 * worker threads. The gossip adapter sets it to serve the agreed epoch;
	 * NULL: a one-member epoch of this node (node_dispatch_ring_local). */
	int (*ring_epoch)(void *arg, uint8_t **buf, size_t *len);
	void *ring_epoch_arg;
};

/* One request from header to the last byte of its reply. */
struct node_req {
	struct node_job job;                 /* must stay first */
	struct node_ctx *ctx;
	struct node_conn *conn;              /* owner; see server.c refcount */
	struct node_req *next;               /* conn output queue */
	struct sd_req hdr;
	uint8_t *in;                         /* payload received (WRITE flag) */
	uint32_t in_len;
	struct sd_rsp rsp;                   /* rsp.data_length == out_len */
	uint8_t *out;                        /* reply payload */
	uint32_t out_len;
	uint8_t rsp_buf[SD_RSP_SIZE];        /* encoded header */
	size_t sent;                         /* bytes of header+payload written */
	uint32_t charge;                     /* bytes counted against --max-buffer-mb */
};

/* The header cannot be served and the connection must close (framing is
 * lost): returned by node_dispatch_check for oversize WRITE payloads. */
#define NODE_CHECK_CLOSE (-1)

/* 0 = run it; NODE_CHECK_CLOSE; or a wire result code (SD_RES_*) to answer
 * at once (after discarding any payload). *why says what to count. */
int node_dispatch_check(const struct node_ctx *ctx, const struct sd_req *h,
			enum node_bad_reason *why);

/* Fills r->rsp (and r->out) with an error result and no payload. */
void node_dispatch_fail(struct node_req *r, uint32_t result);

/* Executes r (worker thread), sets r->rsp, r->out, r->out_len. */
void node_dispatch_run(struct node_job *job);

/* node/dispatch_ring.c. SM_RING in a worker: fills r->out; SD_RES_*. */
int node_dispatch_ring_run(struct node_req *r);
/* The fallback epoch: this node alone (id from DIR/node-id, created if
 * absent; IN at generation 1, default weight, zone 0). 0 or -errno. */
int node_dispatch_ring_local(struct store *st, uint8_t **buf, size_t *len);

/* Encodes r->rsp into r->rsp_buf (loop thread, before sending). */
void node_dispatch_encode(struct node_req *r);

#endif

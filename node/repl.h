/*
 * repl.h: the replicated data path (issue 5): gateway routing of client
 * requests by the ring, the replica side of the peer protocol, and the VDI
 * catalog kept on every node. Design and limits: node/PEER.md.
 *
 *   data and vmstate objects  on the ring's N replicas (N = the request's
 *                             copies, 0 = the cluster default); a write is
 *                             acknowledged once every replica has it durably
 *   VDI catalog and inodes    on every placed node; the catalog leader (the
 *                             placed member with the lowest id: a function
 *                             of the agreed ring, so no election) executes
 *                             NEW/DEL/LOCK/RELEASE/GET_VDI_INFO/READ_VDIS and
 *                             inode reads and writes, and ships each changed
 *                             VDI to every other node before it answers
 *
 * All entry points run in worker threads. No global state.
 */
#ifndef NODE_REPL_H
#define NODE_REPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "node/peer.h"
#include "node/view.h"

struct node_req;
struct node_ctx;

#define REPL_RETRY_MS_DEFAULT   30000   /* how long a request waits for a usable ring */
#define REPL_PEER_TIMEOUT_MS    5000    /* one peer round trip */
#define REPL_SAME_VIEW_RETRY_MS 500     /* a peer failed but the ring did not change */

struct node_repl {
	struct node_views views;
	struct peer_pool peers;
	unsigned retry_ms;
	/* hybrid logical clock: (ms since the epoch << 16) + counter */
	pthread_mutex_t hlc_mu;
	uint64_t hlc_last;
	/* catalog (leader side): one metadata operation at a time */
	pthread_mutex_t cat_mu;
	uint8_t synced_digest[RING_DIGEST_LEN];  /* the ring the leader last synced under */
	int synced;
	uint64_t pushed_mver;                /* every VDI with mver <= this went out */
	/* copies older than this predate our (re)join: they may have missed
	 * writes made while we were away (node/PEER.md, "Stale copies") */
	atomic_uint_fast64_t join_ver;
	/* copies found current since then (recovery compared them with the
	 * other replicas), so no longer suspect: an open-addressing set of
	 * oids, emptied when the join point moves (a rejoin) */
	pthread_mutex_t ver_mu;
	uint64_t *verified;
	size_t ver_cap, ver_n;
	uint64_t ver_join;
	/* counters (SM_STATUS) */
	atomic_uint_fast64_t fwd, pushes, push_failed, stale_refused, stale_retries,
			     read_fallbacks, read_newest, repairs, waits, reconciles;
	/* peer requests refused unopened: wrong/no key, mode mismatch, too old
	 * or new, replayed (node/peer.h PEER_SEAL_E_*) */
	atomic_uint_fast64_t auth_failed;
};

int node_repl_init(struct node_repl *rp, unsigned retry_ms);
void node_repl_fini(struct node_repl *rp);

/* At start: everything stored so far is unverified; the HLC starts past it. */
void node_repl_start(struct node_repl *rp, uint64_t last_stored_version);
/* 1 if our copy of oid at this version may be stale. */
int node_repl_unverified(struct node_repl *rp, uint64_t oid, uint64_t version);
/* Recovery found our copy of oid current: stop suspecting it. */
void node_repl_verified(struct node_repl *rp, uint64_t oid);

/* The next version for a write (monotonic on this node, > any observed). */
uint64_t node_repl_hlc(struct node_repl *rp);

/* Gateway: if the request must be routed (more than one placed node, and an
 * object or VDI request), do it, fill r->rsp/out and return 1 with *res the
 * result; 0 = run it locally as a single node would. */
struct store_vdi_rsp;
int node_repl_route(struct node_req *r, struct store_vdi_rsp *vrsp, int *vdi, int *res);

/* Replica side of a peer opcode (SD_OP_PEER_*), payload in r->in. */
int node_repl_serve(struct node_req *r);

/* Runs a client request on the local store (node/dispatch.c). */
int node__dispatch_local(struct node_req *r, struct store_vdi_rsp *vrsp, int *vdi);
/* Fills r->rsp from a result (node/dispatch.c; also for forwarded replies). */
void node__dispatch_finish(struct node_req *r, int res, const struct store_vdi_rsp *vrsp, int vdi);

/* SM_STATUS "repl" object into buf; length or -1. */
int node_repl_status_json(struct node_repl *rp, char *buf, size_t cap);

#endif

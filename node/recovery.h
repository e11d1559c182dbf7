/*
 * recovery.h: one background thread per node that keeps every object on
 * the replicas the current ring names (issue 5, "Recovery" and
 * "Anti-entropy and scrub"). Design: node/PEER.md, "Recovery".
 *
 * A pass walks the local object index. For each data or vmstate object it
 * asks the object's current replicas for their copy's version
 * (PEER_STAT_OBJ) and then:
 *   - pushes our copy (PEER_PUT_OBJ) to every replica that lacks it or
 *     holds an older one, when ours is the newest;
 *   - pulls the newest copy when ours is older and we are a replica;
 *   - marks our copy verified (node_repl_verified) once it is the newest;
 *   - removes our copy when we are no longer a replica and every replica
 *     confirmed a copy at least as new as ours.
 * Before that, the pass trades one summary per peer (PEER_SUMMARY: 256
 * bucket digests of the (oid, version) pairs the two nodes should share):
 * objects whose bucket matches on every replica are current and skipped,
 * so a pass over a cluster in sync costs one request per peer.
 * A pass starts when the ring changes and every --anti-entropy-interval
 * seconds; a scrub (re-read, BLAKE2b against the stored checksum, repair
 * from a replica with a matching checksum) runs with a pass every
 * --scrub-interval seconds. Bytes moved and read are limited to
 * --recovery-rate MB/s, and the thread yields to client requests in flight.
 */
#ifndef NODE_RECOVERY_H
#define NODE_RECOVERY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct node_ctx;

struct node_recovery {
	struct node_ctx *ctx;
	pthread_t th;
	int on, stopping, kick;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	unsigned ae_interval_s;              /* 0 = only on ring changes */
	unsigned scrub_interval_s;           /* 0 = never */
	unsigned rate_mb;                    /* MB/s moved or scrubbed */
	/* progress of the running (or last) pass; any thread reads them */
	atomic_int running;
	atomic_uint_fast64_t ring_epoch, total, done, bytes_total, bytes_done, bytes, pushed, pulled, removed, verified,
			     scrubbed, corrupt, repaired, in_sync, passes, started_ms;
};

int node_recovery_start(struct node_recovery *rc, struct node_ctx *ctx, unsigned ae_interval_s,
			unsigned scrub_interval_s, unsigned rate_mb);
/* Ask for a pass now (a new ring); any thread. */
void node_recovery_kick(struct node_recovery *rc);
void node_recovery_stop(struct node_recovery *rc);
/* SM_STATUS "recovery" object; length or -1. */
int node_recovery_status_json(struct node_recovery *rc, char *buf, size_t cap);

#endif

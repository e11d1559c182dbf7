/*
 * gossip.h: the daemon side of membership (issue 3): UDP sockets, sealing,
 * multicast discovery, seeds and libev timers around the sans-I/O SWIM core
 * (gossip/swim.h), plus the views the status opcodes serve.
 *
 * Threads: everything runs in the loop thread except the two *_json
 * functions, which worker threads call; one mutex guards the core, so a
 * status request sees a consistent table.
 *
 * Identity (node/node_id.h): DIR/node-id, and DIR/gossip-state holding the
 * incarnation, raised at every start and saved whenever the core raises it.
 * seq_base is CLOCK_REALTIME in microseconds (gossip/SWIM.md, replay).
 */
#ifndef NODE_GOSSIP_H
#define NODE_GOSSIP_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "node/config.h"
#include "node/log.h"

struct node_gossip;
struct store;

/* Binds the gossip sockets (--listen addresses, --gossip-port), loads the
 * keys and identity, starts discovery and the timers.  0, or -1 with the
 * reason logged (naming the flag or file).  st (may be NULL) keeps the
 * ring history (store_ring_*): the newest version is merged in at start,
 * every new version saved (node/gossip_ring.c). */
int node_gossip_start(struct node_gossip **out, struct ev_loop *loop,
		      const struct node_config *cfg, struct node_log *log, struct store *st);

/* Publish every agreed ring (and member address change) as a routing
 * view into vs (node/view.h); call before the loop runs. */
struct node_views;
void node_gossip_set_views(struct node_gossip *g, struct node_views *vs);

/* Graceful leave (SIGTERM): tells the others, keeps answering until the
 * news went out (pending updates sent, at most NODE_GOSSIP_LEAVE_MAX_MS),
 * then calls done(arg) from the loop.  Returns 1 if nothing needs waiting
 * (done is then not called), 0 if done will be called. */
#define NODE_GOSSIP_LEAVE_MAX_MS 1000
int node_gossip_leave(struct node_gossip *g, void (*done)(void *arg), void *arg);
/* 1 once the leave had its moment (or there was none to wait for). */
int node_gossip_leave_done(const struct node_gossip *g);

/* Stops timers, closes sockets, frees.  NULL is fine. */
void node_gossip_stop(struct node_gossip *g);

/* Any thread.  The SM_MEMBERS document (doc/sheeptool.md):
 * {"self":HEX,"cluster":NAME,"members":[{"id","gossip","data","state",
 * "incarnation","generation","zone","weight"}...]}, malloc'd, NUL-terminated,
 * *len without the NUL.  NULL if out of memory. */
char *node_gossip_members_json(struct node_gossip *g, size_t *len);
/* Any thread.  Writes the SM_STATUS "gossip" object ({...}) into buf.
 * Returns its length, or -1 if cap is too small. */
int node_gossip_status_json(struct node_gossip *g, char *buf, size_t cap);

/* Any thread (node_ctx.ring_epoch): the agreed epoch as epoch_encode()
 * bytes, malloc'd into *buf.  0 or -errno. */
int node_gossip_ring_epoch(void *arg, uint8_t **buf, size_t *len);
/* Any thread.  The SM_STATUS "ring" object: {"epoch":N,"digest":HEX,
 * "members":N (placed),...counters}.  Its length, or -1 if cap is short. */
int node_gossip_ring_json(struct node_gossip *g, char *buf, size_t cap);

#endif

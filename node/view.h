/*
 * view.h: the placement view a worker thread routes by. An immutable,
 * reference-counted snapshot of the agreed ring (gossip/ring.h) plus what
 * routing needs beside it: each placed member's data address, which index
 * is this node, the catalog leader, and the view it replaced (reads of
 * objects not yet recovered fall back to their previous holders).
 *
 * The gossip adapter builds a new view whenever the agreed ring or a placed
 * member's address changes (loop thread) and swaps it into a node_views;
 * workers take a reference for the length of one request. No global state.
 */
#ifndef NODE_VIEW_H
#define NODE_VIEW_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gossip/ring.h"
#include "gossip/swim.h"

/* A ring shared by the views built from it (a new view for a changed
 * member address keeps the ring it already has: no rebuild). */
struct node_shared_ring {
	atomic_uint refs;
	struct ring *ring;              /* owned */
};
/* Takes ownership of ring; NULL (ring freed) if out of memory. */
struct node_shared_ring *node_shared_ring_new(struct ring *ring);
void node_shared_ring_put(struct node_shared_ring *sr);

struct node_view_member {
	uint8_t id[RING_ID_LEN];
	struct swim_addr data;          /* port 0: address not known (yet) */
};

struct node_view {
	atomic_uint refs;
	struct node_shared_ring *sr;    /* a reference; never NULL */
	struct ring *ring;              /* = sr->ring */
	uint8_t digest[RING_DIGEST_LEN];/* the epoch digest requests carry */
	uint64_t scalar;                /* epoch_scalar(), for logs */
	uint32_t nr;                    /* = ring_nr_nodes() */
	int self;                       /* our node index, -1 if not placed */
	uint32_t leader;                /* catalog leader: the lowest id (index 0) */
	struct node_view *prev;         /* the view this one replaced, or NULL
	                                 * (only one level is kept: prev->prev == NULL) */
	struct node_view_member m[];    /* by node index */
};

/* The current view behind a mutex; `changed` wakes waiters on a new one. */
struct node_views {
	pthread_mutex_t mu;
	pthread_cond_t changed;
	struct node_view *cur;          /* NULL until the first publish */
	uint64_t seq;                   /* publishes so far */
	atomic_uint_fast64_t rejoin_ver;/* HLC-format time of our last rejoin (gossip sets it) */
};

int node_views_init(struct node_views *vs);
void node_views_fini(struct node_views *vs);
/* Takes a reference to sr; members[i] are by ring node index (nr entries);
 * self_id: our id. The old current view becomes the new one's prev. 0 or
 * -ENOMEM. */
int node_views_publish(struct node_views *vs, struct node_shared_ring *sr, const uint8_t digest[RING_DIGEST_LEN],
		       uint64_t scalar, const struct node_view_member *members,
		       const uint8_t self_id[RING_ID_LEN]);
/* A reference to the current view (NULL if none); drop it with node_view_put. */
struct node_view *node_views_get(struct node_views *vs);
/* Waits until a view other than `than` is current or timeout_ms passes;
 * returns a reference to the current view (maybe still `than`). */
struct node_view *node_views_wait(struct node_views *vs, const struct node_view *than,
				  unsigned timeout_ms);
void node_view_put(struct node_view *v);

/* Replica node indices of oid (primary first) for `copies` (0 = 3; clipped
 * to the number of nodes). Returns the count, or <0. */
int node_view_locate(const struct node_view *v, uint64_t oid, unsigned copies, uint32_t *out);
/* 1 if node index i of v is this node. */
static inline int node_view_is_self(const struct node_view *v, uint32_t i) { return v->self >= 0 && (uint32_t)v->self == i; }
/* 1 if this view routes everything to the local store (we are the only placed member). */
static inline int node_view_alone(const struct node_view *v) { return !v || (v->nr == 1 && v->self == 0); }

#endif

/* gossip_int.h: what node/gossip.c (I/O, timers) and node/gossip_view.c
 * (the JSON views) share; private to node/. */
#ifndef NODE_GOSSIP_INT_H
#define NODE_GOSSIP_INT_H

#include <netinet/in.h>
#include <pthread.h>

#include "node/gossip.h"
#include "gossip/epoch.h"
#include "gossip/ring.h"
#include "gossip/seal.h"
#include "node/view.h"
#include "gossip/swim.h"

struct store;

#define DGRAM_MAX         2048          /* > 1400-byte packets; bigger is counted as truncated */
#define RX_BATCH          64            /* datagrams per wakeup before yielding to the loop */
#define DROP_LOG_INTERVAL_MS 10000      /* one drop line per reason class per 10 s */
#define SEED_RETRY_FAST_S 2.0           /* alone: retry the seeds this often ... */
#define SEED_FAST_WINDOW_MS 30000       /* ... for the first 30 s, then */
#define SEED_RETRY_SLOW_S 30.0
#define ANNOUNCE_BACKOFF_MS 5000        /* one join per announced id per 5 s */
#define NR_RECENT 16
#define MAX_SOCKS (NODE_MAX_LISTEN + 2)

enum drop_class { DROP_SEAL, DROP_WIRE, DROP_ANNOUNCE, DROP_RING, DROP_CLASSES };

/* ring agreement (node/gossip_ring.c) */
#define RING_PULL_SLOTS     8            /* pulls queued or in flight, one per peer */
#define RING_PULL_TIMEOUT_MS 2000        /* connect/send/receive of one SM_RING pull */
#define RING_PULL_MAX       (1u << 20)   /* reply bytes offered (~40 bytes per member) */
#define RING_MAX_MEMBERS    16384        /* decode bound for a peer's epoch */
#define RING_HISTORY_KEEP   16           /* ring versions kept in LMDB */

struct ring_pull {
	int state;                           /* 0 free, 1 queued, 2 running, 3 done */
	uint8_t id[SWIM_ID_LEN];
	struct swim_addr data;               /* the peer's TCP data address */
	int rc;                              /* 0, or -errno / EPOCH_E_* / SD_RES_* */
	struct epoch e;                      /* decoded, when rc == 0 */
};

struct node_ring {
	struct store *store;                 /* NULL: no history (tests) */
	struct epoch e;                      /* the agreed version (g->mu) */
	struct node_shared_ring *sring;      /* epoch_state_ring(e), or NULL; views share it */
	uint8_t digest[EPOCH_DIGEST_LEN];
	uint64_t generation;                 /* ours, as in swim meta */
	uint32_t placed;                     /* IN members with weight > 0 */
	int dirty;                           /* changed since last publish */
	struct node_views *views;            /* routing views to publish (node/view.h), or NULL */
	int view_dirty;                      /* a placed member's address may have changed */
	int inited;                          /* node__ring_start ran */
	/* puller: one thread, RING_PULL_SLOTS slots, guarded by pmu */
	pthread_t thread;
	int thread_on, stopping;
	pthread_mutex_t pmu;
	pthread_cond_t pcond;
	struct ring_pull slot[RING_PULL_SLOTS];
	ev_async done;                       /* puller -> loop */
	/* counters (g->mu) */
	uint64_t changes, pulls, pull_failed, pull_bad, pull_busy, merges, rejoins, saves_failed;
};

struct gsock {
	ev_io io;
	int fd;
	struct swim_addr bound;             /* family + ip (port = gossip port) */
	struct node_gossip *g;
};

struct node_gossip {
	struct ev_loop *loop;
	struct node_log *log;
	const struct node_config *cfg;
	pthread_mutex_t mu;                 /* guards swim, seal and the counters */
	struct swim *swim;
	struct seal seal;
	struct gsock socks[MAX_SOCKS];
	unsigned nr_socks;
	struct gsock mcast;                 /* fd -1: discovery off */
	struct sockaddr_in mcast_to;
	ev_timer tick, announce, seeds, leave_poll;
	unsigned n_announce;
	struct swim_addr gossip_addr, data_addr;
	uint8_t id[SWIM_ID_LEN];
	char idhex[2 * SWIM_ID_LEN + 1];
	uint64_t saved_inc, started_ms, leave_deadline;
	int leaving, leave_done;
	void (*done)(void *);
	void *done_arg;
	struct { uint8_t id[SWIM_ID_LEN]; uint64_t at; } recent[NR_RECENT];
	unsigned recent_next;
	struct { uint64_t last_ms, suppressed; } droplog[DROP_CLASSES];
	/* adapter counters (the core's and seal's have their own) */
	uint64_t rx_dgrams, tx_dgrams, tx_errors, rx_truncated, rx_errors;
	uint64_t ann_tx, ann_rx, ann_bad, ann_other, ann_joins, seed_joins;
	struct node_ring r;
	uint8_t rxbuf[DGRAM_MAX], body[DGRAM_MAX], txbuf[DGRAM_MAX];
};

/* node/gossip_ring.c; all but node__ring_stop with g->mu held, loop thread */
/* before swim_new: history, our join; *generation may be raised */
int node__ring_start(struct node_gossip *g, struct store *st, uint64_t *generation);
void node__ring_on_event(struct node_gossip *g, const struct swim_member *m, enum swim_event ev);
void node__ring_on_digest(void *ctx, const struct swim_member *from, const uint8_t d[SWIM_DIGEST_LEN]);
void node__ring_after_core(struct node_gossip *g, uint64_t now);     /* publish, rejoin */
void node__ring_leave(struct node_gossip *g);                        /* record our OUT */
void node__ring_stop(struct node_gossip *g);                         /* no lock held */
void node__after_core(struct node_gossip *g, uint64_t now);          /* gossip.c */
void node__drop_log(struct node_gossip *g, enum drop_class c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif

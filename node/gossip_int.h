/* gossip_int.h: what node/gossip.c (I/O, timers) and node/gossip_view.c
 * (the JSON views) share; private to node/. */
#ifndef NODE_GOSSIP_INT_H
#define NODE_GOSSIP_INT_H

#include <netinet/in.h>
#include <pthread.h>

#include "node/gossip.h"
#include "gossip/seal.h"
#include "gossip/swim.h"

#define DGRAM_MAX         2048          /* > 1400-byte packets; bigger is counted as truncated */
#define RX_BATCH          64            /* datagrams per wakeup before yielding to the loop */
#define DROP_LOG_INTERVAL_MS 10000      /* one drop line per reason class per 10 s */
#define SEED_RETRY_FAST_S 2.0           /* alone: retry the seeds this often ... */
#define SEED_FAST_WINDOW_MS 30000       /* ... for the first 30 s, then */
#define SEED_RETRY_SLOW_S 30.0
#define ANNOUNCE_BACKOFF_MS 5000        /* one join per announced id per 5 s */
#define NR_RECENT 16
#define MAX_SOCKS (NODE_MAX_LISTEN + 2)

enum drop_class { DROP_SEAL, DROP_WIRE, DROP_ANNOUNCE, DROP_CLASSES };

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
	uint8_t rxbuf[DGRAM_MAX], body[DGRAM_MAX], txbuf[DGRAM_MAX];
};

#endif

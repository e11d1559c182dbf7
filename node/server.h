/*
 * server.h: sockets and connections of sheepnode, on one libev loop.
 * The loop thread reads whole requests, hands valid ones to the worker pool
 * and writes whole responses in completion order. Nothing here is global.
 */
#ifndef NODE_SERVER_H
#define NODE_SERVER_H

#include <ev.h>

#include "node/config.h"
#include "node/dispatch.h"
#include "node/repl.h"
#include "node/recovery.h"
#include "node/pool.h"

#define NODE_MAX_LISTENERS (NODE_MAX_LISTEN + 2)

struct node_conn;
struct node_gossip;

struct node_listener {
	ev_io io;
	ev_timer retry;                      /* re-arms io after EMFILE & co */
	int fd;
	int is_unix;
	struct node_server *srv;
};

struct node_server {
	struct ev_loop *loop;
	const struct node_config *cfg;
	struct node_ctx ctx;
	struct node_pool pool;               /* client requests (and PEER_FORWARD) */
	struct node_pool peer_pool;          /* peer requests: leaves, never wait on a node */
	struct node_repl repl;               /* routing, peers, catalog (node/repl.h) */
	int repl_on;
	struct node_recovery recovery;       /* background recovery/anti-entropy/scrub */
	struct node_listener lis[NODE_MAX_LISTENERS];
	unsigned nr_lis;
	struct node_conn *conns;             /* doubly linked list of open ones */
	unsigned nr_conns;
	unsigned nr_dead;                    /* closed, waiting for their workers */
	int draining;                        /* SIGTERM seen: no new requests */
	ev_signal sig_term, sig_int;
	ev_timer drain_timer;                /* cap on waiting for slow readers */
	/* Memory budget (loop thread only): a request is charged its payload
	 * or reply size from its header until its reply is sent. */
	uint64_t mem_used, mem_budget;
	unsigned nr_mem_wait;                /* connections paused for memory */
	ev_idle mem_wake;                    /* resumes them at top level */
	struct node_gossip *gossip;          /* membership (node/gossip.h) */
};

/* Opens the listening sockets (logs each address). 0 or -1 (logged). */
int node_server_init(struct node_server *srv, struct ev_loop *loop,
		     const struct node_config *cfg, struct store *store, struct node_log *log);
/* Runs until SIGTERM/SIGINT, every in-flight request is answered and the
 * gossip leave had its moment. */
void node_server_run(struct node_server *srv);
/* Closes everything left; joins the workers. Does not close the store. */
void node_server_fini(struct node_server *srv);

#endif

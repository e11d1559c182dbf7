/* server_int.h: what server.c and conn.c share inside node/. */
#ifndef NODE_SERVER_INT_H
#define NODE_SERVER_INT_H

#include <sys/socket.h>

#include "node/server.h"

static inline struct node_log *srv_log(struct node_server *srv) { return srv->ctx.log; }

/* server.c: ends the loop once draining and nothing is in flight. */
void node__server_maybe_stop(struct node_server *srv);

/* conn.c */
/* Takes over fd (non-blocking) and starts reading it. 0 or -ENOMEM (fd
 * then still the caller's). */
int node__conn_open(struct node_server *srv, int fd, int is_unix,
		    const struct sockaddr_storage *ss, socklen_t len);
/* Closes the socket now; the struct lives on while workers hold requests. */
void node__conn_close(struct node_conn *c, const char *why);
/* Shutdown: stop reading, serve the whole requests already buffered. */
void node__conn_drain(struct node_conn *c);
struct node_conn *node__conn_next(struct node_conn *c);
/* ev_idle callback: resumes connections paused for memory. */
void node__mem_wake_cb(struct ev_loop *loop, ev_idle *w, int revents);
/* Pool completion callback (ctx = the server). */
void node__job_done(void *ctx, struct node_job *job);

#endif

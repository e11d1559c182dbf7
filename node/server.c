/*
 * server.c: see server.h. Listening sockets, accept, signals and the
 * shutdown sequence; connections themselves are conn.c.
 *
 * Threads: everything here runs in the loop thread; workers only run
 * node_dispatch_run() on a request they were handed.
 */
#include "node/server_int.h"
#include "node/gossip.h"
#include "node/node_id.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DRAIN_TIMEOUT_S 30.0     /* at shutdown, wait this long for slow readers */

void node__server_maybe_stop(struct node_server *srv)
{
	if (srv->draining && atomic_load(&srv->ctx.inflight) == 0 &&
	    node_gossip_leave_done(srv->gossip))
		ev_break(srv->loop, EVBREAK_ALL);
}

static void gossip_left_cb(void *arg)
{
	node__server_maybe_stop(arg);
}

static void listener_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct node_listener *l = w->data;
	struct node_server *srv = l->srv;
	(void)revents;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			node_log_limited(srv_log(srv), NODE_LIMIT_ACCEPT_ERROR, NODE_LOG_WARN,
					 "accept failed: %s", strerror(errno));
			/* out of fds/memory: the socket stays readable, so polling it
			 * again at once would spin; pause this listener briefly */
			ev_io_stop(loop, &l->io);
			ev_timer_start(loop, &l->retry);
			return;
		}
		if (srv->nr_conns >= srv->cfg->max_connections) {
			atomic_fetch_add(&srv->ctx.refused, 1);
			node_log_limited(srv_log(srv), NODE_LIMIT_CONN_REFUSED, NODE_LOG_WARN,
					 "connection refused: --max-connections %u reached",
					 srv->cfg->max_connections);
			close(fd);
			continue;
		}
		if (node__conn_open(srv, fd, l->is_unix, &ss, len) < 0) {
			node_log_limited(srv_log(srv), NODE_LIMIT_ACCEPT_ERROR, NODE_LOG_WARN,
					 "connection refused: out of memory");
			close(fd);
		}
	}
}

static void listener_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node_listener *l = w->data;
	(void)revents;
	ev_io_start(loop, &l->io);
}

static void listeners_close(struct node_server *srv)
{
	for (unsigned i = 0; i < srv->nr_lis; i++) {
		struct node_listener *l = &srv->lis[i];
		ev_io_stop(srv->loop, &l->io);
		ev_timer_stop(srv->loop, &l->retry);
		close(l->fd);
		if (l->is_unix && srv->cfg->unix_path)
			unlink(srv->cfg->unix_path);
	}
	srv->nr_lis = 0;
}

static int listener_add(struct node_server *srv, int fd, int is_unix)
{
	struct node_listener *l = &srv->lis[srv->nr_lis++];
	l->fd = fd;
	l->is_unix = is_unix;
	l->srv = srv;
	ev_io_init(&l->io, listener_cb, fd, EV_READ);
	ev_timer_init(&l->retry, listener_retry_cb, 0.1, 0.);
	l->io.data = l->retry.data = l;
	ev_io_start(srv->loop, &l->io);
	return 0;
}

/* -1 fatal; 1 skipped (default :: without IPv6); 0 listening. */
static int listen_tcp(struct node_server *srv, const char *addr, int is_default)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fam;

	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		fam = s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)srv->cfg->port);
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		fam = s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)srv->cfg->port);
		len = sizeof(*s6);
	} else {
		log_err(srv_log(srv), "listen address '%s' is not numeric IPv4/IPv6", addr);
		return -1;
	}
	int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fam == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1024) < 0)
		goto fail;
	listener_add(srv, fd, 0);
	log_info(srv_log(srv), "listening on %s%s%s:%u", fam == AF_INET6 ? "[" : "", addr,
		 fam == AF_INET6 ? "]" : "", srv->cfg->port);
	return 0;
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (is_default && fam == AF_INET6 &&
	    (e == EAFNOSUPPORT || e == EADDRNOTAVAIL || e == EPROTONOSUPPORT)) {
		log_warn(srv_log(srv), "IPv6 unavailable (%s): not listening on [::]:%u",
			 strerror(e), srv->cfg->port);
		return 1;
	}
	log_err(srv_log(srv), "cannot listen on %s port %u: %s", addr, srv->cfg->port, strerror(e));
	return -1;
}

static int listen_unix(struct node_server *srv, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err(srv_log(srv), "unix socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err(srv_log(srv), "--unix %s exists and is not a socket; not removing it", path);
			return -1;
		}
		log_info(srv_log(srv), "removing stale unix socket %s", path);
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 1024) < 0) {
		log_err(srv_log(srv), "cannot listen on unix socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	listener_add(srv, fd, 1);
	log_info(srv_log(srv), "listening on unix:%s", path);
	return 0;
}

static void drain_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node_server *srv = w->data;
	(void)revents;
	log_warn(srv_log(srv), "shutdown: %llu responses still unsent after %.0f s; giving up on them",
		 (unsigned long long)atomic_load(&srv->ctx.inflight), DRAIN_TIMEOUT_S);
	ev_break(loop, EVBREAK_ALL);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct node_server *srv = w->data;
	(void)revents;
	if (srv->draining)
		return;
	log_info(srv_log(srv), "signal %d: stopping (finishing %llu requests in flight)", w->signum,
		 (unsigned long long)atomic_load(&srv->ctx.inflight));
	srv->draining = 1;
	/* tell the cluster first: the leave news travels while we drain */
	node_gossip_leave(srv->gossip, gossip_left_cb, srv);
	listeners_close(srv);
	for (struct node_conn *c = srv->conns, *next; c; c = next) {
		next = node__conn_next(c);   /* draining touches only c, never its neighbours */
		node__conn_drain(c);
	}
	ev_timer_start(loop, &srv->drain_timer);
	node__server_maybe_stop(srv);
}

/* The peer protocol is sealed with the same keys as gossip (--key-file,
 * first = primary), wiped by node_repl_fini -> peer_pool_fini. */
static int load_peer_keys(struct node_server *srv)
{
	const struct node_config *cfg = srv->cfg;
	struct peer_keys *k = &srv->repl.peers.keys;
	char err[600];

	if (!cfg->nr_key_files)
		return 0;
	if (peer_keys_set_name(k, cfg->cluster_name) < 0) {
		log_err(srv_log(srv), "peer sealing: --cluster-name '%s' must be 1..%d bytes",
			cfg->cluster_name ? cfg->cluster_name : "", PEER_SEAL_NAME_MAX);
		return -1;
	}
	for (unsigned i = 0; i < cfg->nr_key_files; i++) {
		uint8_t key[NODE_KEY_LEN];
		if (node_key_load(cfg->key_files[i], key, err, sizeof(err)) < 0) {
			log_err(srv_log(srv), "%s", err);
			return -1;
		}
		int rc = peer_keys_add(k, key, i == 0);
		sodium_memzero(key, sizeof(key));
		if (rc < 0) {
			log_err(srv_log(srv), "--key-file %s: %s", cfg->key_files[i],
				rc == -EEXIST ? "same key as an earlier --key-file" :
				rc == -ENOSPC ? "too many keys" : "out of memory for the replay cache");
			return -1;
		}
	}
	log_info(srv_log(srv), "peer protocol: sealed with XChaCha20-Poly1305, %u key(s)", k->n_keys);
	return 0;
}

int node_server_init(struct node_server *srv, struct ev_loop *loop,
		     const struct node_config *cfg, struct store *store, struct node_log *log)
{
	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->cfg = cfg;
	srv->ctx.store = store;
	srv->ctx.log = log;
	srv->ctx.max_request = node_config_max_request(cfg);
	/* a whole object plus prefix, or a VDI export (record + sparse index) */
	srv->ctx.max_peer_request = srv->ctx.max_request + 65536 > 16u << 20 ?
				    srv->ctx.max_request + 65536 : 16u << 20;
	atomic_init(&srv->ctx.connections, 0);
	atomic_init(&srv->ctx.inflight, 0);
	atomic_init(&srv->ctx.requests, 0);
	atomic_init(&srv->ctx.refused, 0);
	atomic_init(&srv->ctx.buffered, 0);
	srv->mem_budget = (uint64_t)cfg->max_buffer_mb << 20;
	ev_idle_init(&srv->mem_wake, node__mem_wake_cb);
	srv->mem_wake.data = srv;

	if (cfg->nr_listen) {
		for (unsigned i = 0; i < cfg->nr_listen; i++)
			if (listen_tcp(srv, cfg->listen[i], 0) < 0)
				goto fail;
	} else {
		if (listen_tcp(srv, "0.0.0.0", 1) < 0 || listen_tcp(srv, "::", 1) < 0)
			goto fail;
	}
	if (cfg->unix_path && listen_unix(srv, cfg->unix_path) < 0)
		goto fail;
	if (node_gossip_start(&srv->gossip, loop, cfg, log, store) < 0)
		goto fail;
	srv->ctx.gossip = srv->gossip;
	if (node_repl_init(&srv->repl, cfg->retry_ms) < 0) {
		log_err(log, "cannot set up replication: out of memory");
		goto fail;
	}
	srv->repl_on = 1;
	if (load_peer_keys(srv) < 0)
		goto fail;
	node_repl_start(&srv->repl, store_last_version(store));
	srv->ctx.repl = &srv->repl;
	node_gossip_set_views(srv->gossip, &srv->repl.views);
	/* SM_RING serves the agreed epoch (node/gossip_ring.c) */
	srv->ctx.ring_epoch = node_gossip_ring_epoch;
	srv->ctx.ring_epoch_arg = srv->gossip;
	int e = node_pool_start(&srv->pool, loop, cfg->workers, node__job_done, srv);
	if (e < 0) {
		log_err(log, "cannot start %u worker threads: %s", cfg->workers, strerror(-e));
		goto fail;
	}
	e = node_pool_start(&srv->peer_pool, loop, cfg->workers, node__job_done, srv);
	if (e < 0) {
		log_err(log, "cannot start %u peer worker threads: %s", cfg->workers, strerror(-e));
		node_pool_stop(&srv->pool);
		goto fail;
	}
	if (node_recovery_start(&srv->recovery, &srv->ctx, cfg->ae_interval_s, cfg->scrub_interval_s,
				cfg->recovery_rate_mb) < 0) {
		log_err(log, "cannot start the recovery thread");
		node_pool_stop(&srv->peer_pool);
		node_pool_stop(&srv->pool);
		goto fail;
	}
	srv->ctx.recovery = &srv->recovery;
	ev_signal_init(&srv->sig_term, signal_cb, SIGTERM);
	ev_signal_init(&srv->sig_int, signal_cb, SIGINT);
	srv->sig_term.data = srv->sig_int.data = srv;
	ev_signal_start(loop, &srv->sig_term);
	ev_signal_start(loop, &srv->sig_int);
	ev_timer_init(&srv->drain_timer, drain_timeout_cb, DRAIN_TIMEOUT_S, 0.);
	srv->drain_timer.data = srv;
	log_info(log, "%u workers, max %u connections, %u requests in flight per connection, "
		 "max request %u bytes, %u MiB of request buffers", cfg->workers,
		 cfg->max_connections, cfg->max_inflight, srv->ctx.max_request, cfg->max_buffer_mb);
	return 0;
fail:
	node_gossip_stop(srv->gossip);
	srv->gossip = srv->ctx.gossip = NULL;
	if (srv->repl_on)
		node_repl_fini(&srv->repl);
	srv->repl_on = 0;
	srv->ctx.repl = NULL;
	listeners_close(srv);
	return -1;
}

void node_server_run(struct node_server *srv)
{
	ev_run(srv->loop, 0);
}

void node_server_fini(struct node_server *srv)
{
	listeners_close(srv);
	/* hold every connection so none is freed while we walk the list */
	while (srv->conns)
		node__conn_close(srv->conns, "shutdown");
	node_recovery_stop(&srv->recovery);   /* first: it calls peers and the store */
	srv->ctx.recovery = NULL;
	node_pool_stop(&srv->pool);   /* reaps: closed connections free their requests */
	node_pool_stop(&srv->peer_pool);
	node_gossip_stop(srv->gossip);  /* after the workers: SM_MEMBERS reads it */
	srv->gossip = srv->ctx.gossip = NULL;
	if (srv->repl_on)
		node_repl_fini(&srv->repl);   /* after gossip: it publishes views */
	srv->repl_on = 0;
	srv->ctx.repl = NULL;
	srv->ctx.ring_epoch = NULL;
	srv->ctx.ring_epoch_arg = NULL;
	ev_signal_stop(srv->loop, &srv->sig_term);
	ev_signal_stop(srv->loop, &srv->sig_int);
	ev_timer_stop(srv->loop, &srv->drain_timer);
	ev_idle_stop(srv->loop, &srv->mem_wake);
	if (srv->nr_dead)
		log_warn(srv_log(srv), "%u connections still referenced at exit", srv->nr_dead);
}

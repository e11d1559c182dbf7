/*
 * server.c: see server.h.
 *
 * Threads: everything here runs in the loop thread; workers only run
 * node_dispatch_run() on a request they were handed.
 *
 * Connection lifetime: refs = 1 while the socket is open + 1 per request
 * held by a worker + 1 while a callback runs on it. A client that hangs up
 * mid-request gets its socket closed at once; the struct goes when the last
 * worker hands its request back.
 *
 * Flow control: conn->inflight counts requests read but not yet fully
 * answered. At --max-inflight the connection stops being read (bytes already
 * buffered stay buffered) until a response has been written.
 */
#include "node/server.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define CONN_RBUF 16384          /* bytes read per read(2) for headers/small payloads */
#define CONN_IOV_MAX 64          /* iovecs per sendmsg */
#define DRAIN_TIMEOUT_S 30.0     /* at shutdown, wait this long for slow readers */

struct node_conn {
	struct node_server *srv;
	struct node_conn *prev, *next;
	int fd;
	int closed;
	int paused;                  /* not reading: inflight limit or draining */
	unsigned refs;
	unsigned inflight;           /* submitted or queued, reply not fully sent */
	ev_io rio, wio;
	uint8_t hdr[SD_REQ_SIZE];
	size_t hdr_got;
	struct node_req *cur;        /* payload being read */
	uint32_t pay_got;
	uint64_t discard;            /* payload bytes of a refused request to skip */
	struct node_req *out_head, *out_tail;
	char peer[80];
	size_t rpos, rlen;
	uint8_t rbuf[CONN_RBUF];
};

static struct node_log *srv_log(struct node_server *srv) { return srv->ctx.log; }

static void server_maybe_stop(struct node_server *srv)
{
	if (srv->draining && atomic_load(&srv->ctx.inflight) == 0)
		ev_break(srv->loop, EVBREAK_ALL);
}

static void req_free(struct node_req *r)
{
	free(r->in);
	free(r->out);
	free(r);
}

static void conn_get(struct node_conn *c) { c->refs++; }

static void conn_put(struct node_conn *c)
{
	if (--c->refs)
		return;
	struct node_server *srv = c->srv;
	srv->nr_dead--;
	free(c);
	server_maybe_stop(srv);
}

/* One request leaves the connection's accounting (answered or dropped). */
static void conn_req_done(struct node_conn *c, struct node_req *r)
{
	c->inflight--;
	atomic_fetch_sub(&c->srv->ctx.inflight, 1);
	req_free(r);
}

static void conn_close(struct node_conn *c, const char *why)
{
	struct node_server *srv = c->srv;
	if (c->closed)
		return;
	log_debug(srv_log(srv), "connection %s closed: %s", c->peer, why);
	c->closed = 1;
	ev_io_stop(srv->loop, &c->rio);
	ev_io_stop(srv->loop, &c->wio);
	close(c->fd);
	c->fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nr_conns--;
	srv->nr_dead++;
	atomic_fetch_sub(&srv->ctx.connections, 1);
	while (c->out_head) {
		struct node_req *r = c->out_head;
		c->out_head = r->next;
		conn_req_done(c, r);
	}
	c->out_tail = NULL;
	if (c->cur) {                /* never counted: payload was incomplete */
		req_free(c->cur);
		c->cur = NULL;
	}
	conn_put(c);
	server_maybe_stop(srv);
}

/* Writes queued responses until done or EAGAIN. Never resumes reading (the
 * callers do, at top level, so consume() is not re-entered). */
static void conn_flush(struct node_conn *c)
{
	struct node_server *srv = c->srv;

	while (c->out_head && !c->closed) {
		struct iovec iov[CONN_IOV_MAX];
		int n = 0;
		for (struct node_req *r = c->out_head; r && n + 2 <= CONN_IOV_MAX; r = r->next) {
			size_t skip = r == c->out_head ? r->sent : 0;
			if (skip < SD_RSP_SIZE) {
				iov[n].iov_base = r->rsp_buf + skip;
				iov[n++].iov_len = SD_RSP_SIZE - skip;
				skip = 0;
			} else {
				skip -= SD_RSP_SIZE;
			}
			if (r->out_len > skip) {
				iov[n].iov_base = r->out + skip;
				iov[n++].iov_len = r->out_len - skip;
			}
		}
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				ev_io_start(srv->loop, &c->wio);
				return;
			}
			node_log_limited(srv_log(srv), NODE_LIMIT_CONN_ERROR, NODE_LOG_INFO,
					 "connection %s: write failed: %s", c->peer, strerror(errno));
			conn_close(c, "write error");
			return;
		}
		size_t left = (size_t)w;
		while (left && c->out_head) {
			struct node_req *r = c->out_head;
			size_t total = SD_RSP_SIZE + r->out_len, rest = total - r->sent;
			if (left < rest) {
				r->sent += left;
				break;
			}
			left -= rest;
			c->out_head = r->next;
			if (!c->out_head)
				c->out_tail = NULL;
			atomic_fetch_add(&srv->ctx.requests, 1);
			conn_req_done(c, r);
		}
	}
	if (!c->closed)
		ev_io_stop(srv->loop, &c->wio);
	server_maybe_stop(srv);
}

static void conn_respond(struct node_conn *c, struct node_req *r)
{
	log_debug(srv_log(c->srv), "connection %s: id %u -> %s, %u bytes", c->peer, r->hdr.id,
		  sd_result_name(r->rsp.result), r->out_len);
	node_dispatch_encode(r);
	r->next = NULL;
	r->sent = 0;
	if (c->out_tail)
		c->out_tail->next = r;
	else
		c->out_head = r;
	c->out_tail = r;
	if (!ev_is_active(&c->wio))
		conn_flush(c);
}

static void conn_submit(struct node_conn *c, struct node_req *r)
{
	struct node_server *srv = c->srv;
	c->inflight++;
	atomic_fetch_add(&srv->ctx.inflight, 1);
	if (c->inflight >= srv->cfg->max_inflight)
		c->paused = 1;
	if (r->rsp.result) {          /* refused at the header: answer now */
		conn_respond(c, r);
		return;
	}
	conn_get(c);
	r->job.run = node_dispatch_run;
	node_pool_submit(&srv->pool, &r->job);
}

/* A whole header arrived. -1 if the connection was closed. */
static int conn_on_header(struct node_conn *c)
{
	struct node_server *srv = c->srv;
	struct node_req *r;
	enum node_bad_reason why = NODE_BAD_OPCODE;
	struct sd_req h;

	sd_req_decode(&h, c->hdr);
	int check = node_dispatch_check(&srv->ctx, &h, &why);
	const char *opname = sd_opcode_name(h.opcode);
	if (check == NODE_CHECK_CLOSE) {
		node_log_bad(srv_log(srv), why, "connection %s: %s (0x%02x) id %u: payload of %u bytes "
			     "exceeds the limit %u; closing the connection", c->peer,
			     opname ? opname : "?", h.opcode, h.id, h.data_length, srv->ctx.max_request);
		conn_close(c, "oversize payload");
		return -1;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		node_log_bad(srv_log(srv), NODE_BAD_NO_MEM, "connection %s: out of memory", c->peer);
		conn_close(c, "out of memory");
		return -1;
	}
	r->ctx = &srv->ctx;
	r->conn = c;
	r->hdr = h;
	int write = (h.flags & SD_FLAG_CMD_WRITE) && h.data_length;
	log_debug(srv_log(srv), "connection %s: %s id %u flags 0x%x len %u oid %016llx", c->peer,
		  opname ? opname : "?", h.id, h.flags, h.data_length, (unsigned long long)h.obj.oid);
	if (check) {
		node_log_bad(srv_log(srv), why, "connection %s: %s (0x%02x) id %u flags 0x%x "
			     "data_length %u proto_ver %u refused: %s (%s)", c->peer,
			     opname ? opname : "unknown opcode", h.opcode, h.id, h.flags,
			     h.data_length, h.proto_ver, sd_result_name((uint32_t)check),
			     node_bad_reason_name(why));
		node_dispatch_fail(r, (uint32_t)check);
		if (write)
			c->discard = h.data_length;
		conn_submit(c, r);
		return c->closed ? -1 : 0;
	}
	if (write) {
		if (!(r->in = malloc(h.data_length))) {
			node_log_bad(srv_log(srv), NODE_BAD_NO_MEM, "connection %s: no memory for a "
				     "payload of %u bytes", c->peer, h.data_length);
			node_dispatch_fail(r, SD_RES_NO_MEM);
			c->discard = h.data_length;
			conn_submit(c, r);
			return c->closed ? -1 : 0;
		}
		r->in_len = h.data_length;
		c->cur = r;
		c->pay_got = 0;
		return 0;
	}
	conn_submit(c, r);
	return c->closed ? -1 : 0;
}

/* Parses buffered bytes until they run out, the connection pauses or it
 * closes. -1 if closed. */
static int conn_consume(struct node_conn *c)
{
	while (c->rpos < c->rlen && !c->paused && !c->closed) {
		size_t avail = c->rlen - c->rpos, n;
		const uint8_t *p = c->rbuf + c->rpos;
		if (c->discard) {
			n = avail < c->discard ? avail : (size_t)c->discard;
			c->discard -= n;
			c->rpos += n;
		} else if (c->cur) {
			struct node_req *r = c->cur;
			n = r->in_len - c->pay_got;
			if (n > avail)
				n = avail;
			memcpy(r->in + c->pay_got, p, n);
			c->pay_got += (uint32_t)n;
			c->rpos += n;
			if (c->pay_got == r->in_len) {
				c->cur = NULL;
				conn_submit(c, r);
			}
		} else {
			n = SD_REQ_SIZE - c->hdr_got;
			if (n > avail)
				n = avail;
			memcpy(c->hdr + c->hdr_got, p, n);
			c->hdr_got += n;
			c->rpos += n;
			if (c->hdr_got == SD_REQ_SIZE) {
				c->hdr_got = 0;
				if (conn_on_header(c) < 0)
					return -1;
			}
		}
	}
	return c->closed ? -1 : 0;
}

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct node_conn *c = w->data;
	(void)loop;
	(void)revents;

	conn_get(c);
	while (!c->closed && !c->paused) {
		ssize_t n;
		if (c->cur && c->rpos == c->rlen && c->cur->in_len - c->pay_got >= CONN_RBUF) {
			/* big payload: straight into its buffer, no copy */
			n = read(c->fd, c->cur->in + c->pay_got, c->cur->in_len - c->pay_got);
			if (n > 0) {
				c->pay_got += (uint32_t)n;
				if (c->pay_got == c->cur->in_len) {
					struct node_req *r = c->cur;
					c->cur = NULL;
					conn_submit(c, r);
				}
				continue;
			}
		} else {
			if (c->rpos < c->rlen) {
				if (conn_consume(c) < 0)
					break;
				continue;
			}
			n = read(c->fd, c->rbuf, sizeof(c->rbuf));
			if (n > 0) {
				c->rpos = 0;
				c->rlen = (size_t)n;
				if (conn_consume(c) < 0)
					break;
				continue;
			}
		}
		if (n == 0) {
			if (c->cur || c->hdr_got || c->discard)
				node_log_limited(srv_log(c->srv), NODE_LIMIT_CONN_ERROR, NODE_LOG_INFO,
						 "connection %s: closed by the client mid-request", c->peer);
			conn_close(c, "closed by peer");
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		node_log_limited(srv_log(c->srv), NODE_LIMIT_CONN_ERROR, NODE_LOG_INFO,
				 "connection %s: read failed: %s", c->peer, strerror(errno));
		conn_close(c, "read error");
		break;
	}
	if (!c->closed && c->paused)
		ev_io_stop(c->srv->loop, &c->rio);
	conn_put(c);
}

/* After a response went out: read again if we had stopped. Top level only. */
static void conn_resume(struct node_conn *c)
{
	struct node_server *srv = c->srv;
	if (c->closed || !c->paused || srv->draining || c->inflight >= srv->cfg->max_inflight)
		return;
	c->paused = 0;
	if (conn_consume(c) < 0)
		return;
	if (!c->paused)
		ev_io_start(srv->loop, &c->rio);
}

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct node_conn *c = w->data;
	(void)loop;
	(void)revents;
	conn_get(c);
	conn_flush(c);
	conn_resume(c);
	conn_put(c);
}

/* Pool completion (loop thread). */
static void server_job_done(void *ctx, struct node_job *job)
{
	struct node_server *srv = ctx;
	struct node_req *r = (struct node_req *)job;
	struct node_conn *c = r->conn;
	(void)srv;

	if (c->closed) {
		atomic_fetch_sub(&c->srv->ctx.inflight, 1);
		c->inflight--;
		req_free(r);
		conn_put(c);
		return;
	}
	conn_respond(c, r);
	conn_resume(c);
	conn_put(c);
}

static void conn_peer_name(struct node_conn *c, const struct sockaddr_storage *ss, socklen_t len)
{
	char host[INET6_ADDRSTRLEN], port[8];
	if (ss->ss_family == AF_UNIX ||
	    getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(c->peer, sizeof(c->peer), "unix:%d", c->fd);
		return;
	}
	snprintf(c->peer, sizeof(c->peer), ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
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
		struct node_conn *c = malloc(sizeof(*c));
		if (!c) {
			node_log_limited(srv_log(srv), NODE_LIMIT_ACCEPT_ERROR, NODE_LOG_WARN,
					 "connection refused: out of memory");
			close(fd);
			continue;
		}
		memset(c, 0, offsetof(struct node_conn, rbuf));
		c->srv = srv;
		c->fd = fd;
		c->refs = 1;
		if (!l->is_unix) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		conn_peer_name(c, &ss, len);
		ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
		ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
		c->rio.data = c->wio.data = c;
		c->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = c;
		srv->conns = c;
		srv->nr_conns++;
		atomic_fetch_add(&srv->ctx.connections, 1);
		ev_io_start(loop, &c->rio);
		log_debug(srv_log(srv), "connection %s accepted", c->peer);
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
	listeners_close(srv);
	for (struct node_conn *c = srv->conns, *next; c; c = next) {
		next = c->next;          /* consume touches only c, never its neighbours */
		ev_io_stop(loop, &c->rio);
		/* whole requests already buffered count as sent: serve them */
		conn_get(c);
		c->paused = 0;
		conn_consume(c);
		c->paused = 1;
		conn_put(c);
	}
	ev_timer_start(loop, &srv->drain_timer);
	server_maybe_stop(srv);
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
	atomic_init(&srv->ctx.connections, 0);
	atomic_init(&srv->ctx.inflight, 0);
	atomic_init(&srv->ctx.requests, 0);
	atomic_init(&srv->ctx.refused, 0);

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
	int e = node_pool_start(&srv->pool, loop, cfg->workers, server_job_done, srv);
	if (e < 0) {
		log_err(log, "cannot start %u worker threads: %s", cfg->workers, strerror(-e));
		goto fail;
	}
	ev_signal_init(&srv->sig_term, signal_cb, SIGTERM);
	ev_signal_init(&srv->sig_int, signal_cb, SIGINT);
	srv->sig_term.data = srv->sig_int.data = srv;
	ev_signal_start(loop, &srv->sig_term);
	ev_signal_start(loop, &srv->sig_int);
	ev_timer_init(&srv->drain_timer, drain_timeout_cb, DRAIN_TIMEOUT_S, 0.);
	srv->drain_timer.data = srv;
	log_info(log, "%u workers, max %u connections, %u requests in flight per connection, "
		 "max request %u bytes", cfg->workers, cfg->max_connections, cfg->max_inflight,
		 srv->ctx.max_request);
	return 0;
fail:
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
		conn_close(srv->conns, "shutdown");
	node_pool_stop(&srv->pool);   /* reaps: closed connections free their requests */
	ev_signal_stop(srv->loop, &srv->sig_term);
	ev_signal_stop(srv->loop, &srv->sig_int);
	ev_timer_stop(srv->loop, &srv->drain_timer);
	if (srv->nr_dead)
		log_warn(srv_log(srv), "%u connections still referenced at exit", srv->nr_dead);
}

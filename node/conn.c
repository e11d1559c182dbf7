/*
 * conn.c: one client connection: reading requests, handing them to the
 * pool, writing responses. Loop thread only.
 *
 * Lifetime: refs = 1 while the socket is open + 1 per request held by a
 * worker + 1 while a callback runs on it. A client that hangs up
 * mid-request gets its socket closed at once; the struct goes when the last
 * worker hands its request back.
 *
 * Flow control: conn->inflight counts requests read but not yet fully
 * answered. At --max-inflight the connection stops being read (bytes already
 * buffered stay buffered) until a response has been written. Responses go
 * out whole, in completion order, from one queue, so two never interleave.
 *
 * Memory: every request is charged its payload or reply size from its
 * header until its reply is sent, against --max-buffer-mb over all
 * connections. A header that does not fit waits (the connection pauses
 * with the header kept) until memory is released, unless its connection
 * has nothing in flight: each connection may always hold one request, so
 * a few clients that never read their replies cannot stall everyone else.
 */
#include "node/server_int.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CONN_RBUF 16384          /* bytes per read(2); larger payloads are read in place */
#define CONN_IOV_MAX 64          /* iovecs per sendmsg */

struct node_conn {
	struct node_server *srv;
	struct node_conn *prev, *next;
	int fd;
	int closed;
	int paused;                  /* not reading: inflight limit, memory or draining */
	int mem_wait;                /* paused with a whole header kept in hdr */
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

static void req_free(struct node_server *srv, struct node_req *r)
{
	if (r->charge) {
		srv->mem_used -= r->charge;
		atomic_fetch_sub(&srv->ctx.buffered, r->charge);
		if (srv->nr_mem_wait && !ev_is_active(&srv->mem_wake))
			ev_idle_start(srv->loop, &srv->mem_wake);
	}
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
	node__server_maybe_stop(srv);
}

/* One request leaves the connection's accounting (answered or dropped). */
static void conn_req_done(struct node_conn *c, struct node_req *r)
{
	c->inflight--;
	atomic_fetch_sub(&c->srv->ctx.inflight, 1);
	req_free(c->srv, r);
}

void node__conn_close(struct node_conn *c, const char *why)
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
	if (c->mem_wait) {
		c->mem_wait = 0;
		srv->nr_mem_wait--;
	}
	while (c->out_head) {
		struct node_req *r = c->out_head;
		c->out_head = r->next;
		conn_req_done(c, r);
	}
	c->out_tail = NULL;
	if (c->cur) {                /* never counted: payload was incomplete */
		req_free(srv, c->cur);
		c->cur = NULL;
	}
	conn_put(c);
	node__server_maybe_stop(srv);
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
			node__conn_close(c, "write error");
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
	node__server_maybe_stop(srv);
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
	/* peer leaves get their own workers, so a node whose client workers all
	 * wait on replicas still serves the replicas' requests of others */
	if (sd_op_is_peer(r->hdr.opcode) && r->hdr.opcode != SD_OP_PEER_FORWARD)
		node_pool_submit(&srv->peer_pool, &r->job);
	else
		node_pool_submit(&srv->pool, &r->job);
}

/* A whole header arrived. -1 if the connection was closed, 1 if it must
 * wait for memory (header kept, connection paused), else 0. */
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
		node__conn_close(c, "oversize payload");
		return -1;
	}
	if (check == 0 && c->inflight && srv->mem_used + h.data_length > srv->mem_budget) {
		if (!c->mem_wait) {
			c->mem_wait = 1;
			srv->nr_mem_wait++;
			node_log_limited(srv_log(srv), NODE_LIMIT_MEMORY, NODE_LOG_INFO,
					 "request buffers full (%llu of %llu bytes): connection %s "
					 "waits", (unsigned long long)srv->mem_used,
					 (unsigned long long)srv->mem_budget, c->peer);
		}
		c->paused = 1;
		return 1;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		node_log_bad(srv_log(srv), NODE_BAD_NO_MEM, "connection %s: out of memory", c->peer);
		node__conn_close(c, "out of memory");
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
	r->charge = h.data_length;   /* the payload, or the reply it asks for */
	srv->mem_used += r->charge;
	atomic_fetch_add(&srv->ctx.buffered, r->charge);
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
	if (c->hdr_got == SD_REQ_SIZE && !c->paused && !c->closed) {
		/* a header kept while waiting for memory */
		int rc = conn_on_header(c);
		if (rc < 0)
			return -1;
		if (rc == 0)
			c->hdr_got = 0;
	}
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
				int rc = conn_on_header(c);
				if (rc < 0)
					return -1;
				if (rc == 0)
					c->hdr_got = 0;
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
			node__conn_close(c, "closed by peer");
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		node_log_limited(srv_log(c->srv), NODE_LIMIT_CONN_ERROR, NODE_LOG_INFO,
				 "connection %s: read failed: %s", c->peer, strerror(errno));
		node__conn_close(c, "read error");
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
	if (c->mem_wait) {           /* retried below; re-armed if still short */
		c->mem_wait = 0;
		srv->nr_mem_wait--;
	}
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

void node__mem_wake_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct node_server *srv = w->data;
	(void)revents;
	ev_idle_stop(loop, w);
	for (struct node_conn *c = srv->conns, *next; c && srv->nr_mem_wait; c = next) {
		conn_get(c);
		if (c->mem_wait)
			conn_resume(c);
		next = c->next;      /* c is still linked or closed; held by our ref */
		conn_put(c);
	}
}

/* Pool completion (loop thread). */
void node__job_done(void *ctx, struct node_job *job)
{
	struct node_server *srv = ctx;
	struct node_req *r = (struct node_req *)job;
	struct node_conn *c = r->conn;
	(void)srv;

	if (c->closed) {
		atomic_fetch_sub(&c->srv->ctx.inflight, 1);
		c->inflight--;
		req_free(c->srv, r);
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

int node__conn_open(struct node_server *srv, int fd, int is_unix,
		    const struct sockaddr_storage *ss, socklen_t len)
{
	struct node_conn *c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(c, 0, offsetof(struct node_conn, rbuf));
	c->srv = srv;
	c->fd = fd;
	c->refs = 1;
	if (!is_unix) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	conn_peer_name(c, ss, len);
	ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nr_conns++;
	atomic_fetch_add(&srv->ctx.connections, 1);
	ev_io_start(srv->loop, &c->rio);
	log_debug(srv_log(srv), "connection %s accepted", c->peer);
	return 0;
}

struct node_conn *node__conn_next(struct node_conn *c)
{
	return c->next;
}

void node__conn_drain(struct node_conn *c)
{
	ev_io_stop(c->srv->loop, &c->rio);
	/* whole requests already buffered count as sent: serve them */
	conn_get(c);
	c->paused = 0;
	conn_consume(c);
	c->paused = 1;
	conn_put(c);
}

/*
 * dispatch.h: what a request means. node_dispatch_check() validates a
 * header in the loop thread (before any payload is read); node_dispatch_run()
 * executes a valid request against the store in a worker thread and fills
 * the response. Neither touches sockets.
 */
#ifndef NODE_DISPATCH_H
#define NODE_DISPATCH_H

#include <stdatomic.h>
#include <stdint.h>

#include "node/log.h"
#include "node/pool.h"
#include "sheepdog_proto.h"

struct store;
struct node_conn;

/* Shared by the loop and the workers; counters are atomics because
 * SM_STATUS reads them from a worker. */
struct node_ctx {
	struct store *store;
	struct node_log *log;
	uint32_t max_request;                /* node_config_max_request() */
	atomic_uint_fast64_t connections;    /* open client connections */
	atomic_uint_fast64_t inflight;       /* requests read, reply not yet sent */
	atomic_uint_fast64_t requests;       /* requests answered since start */
	atomic_uint_fast64_t refused;        /* connections over --max-connections */
	atomic_uint_fast64_t buffered;       /* bytes charged by requests in flight */
};

/* One request from header to the last byte of its reply. */
struct node_req {
	struct node_job job;                 /* must stay first */
	struct node_ctx *ctx;
	struct node_conn *conn;              /* owner; see server.c refcount */
	struct node_req *next;               /* conn output queue */
	struct sd_req hdr;
	uint8_t *in;                         /* payload received (WRITE flag) */
	uint32_t in_len;
	struct sd_rsp rsp;                   /* rsp.data_length == out_len */
	uint8_t *out;                        /* reply payload */
	uint32_t out_len;
	uint8_t rsp_buf[SD_RSP_SIZE];        /* encoded header */
	size_t sent;                         /* bytes of header+payload written */
	uint32_t charge;                     /* bytes counted against --max-buffer-mb */
};

/* The header cannot be served and the connection must close (framing is
 * lost): returned by node_dispatch_check for oversize WRITE payloads. */
#define NODE_CHECK_CLOSE (-1)

/* 0 = run it; NODE_CHECK_CLOSE; or a wire result code (SD_RES_*) to answer
 * at once (after discarding any payload). *why says what to count. */
int node_dispatch_check(const struct node_ctx *ctx, const struct sd_req *h,
			enum node_bad_reason *why);

/* Fills r->rsp (and r->out) with an error result and no payload. */
void node_dispatch_fail(struct node_req *r, uint32_t result);

/* Executes r (worker thread), sets r->rsp, r->out, r->out_len. */
void node_dispatch_run(struct node_job *job);

/* Encodes r->rsp into r->rsp_buf (loop thread, before sending). */
void node_dispatch_encode(struct node_req *r);

#endif

/* peer.c: see peer.h. */
#include "node/peer.h"
#include "tools/sdclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void peer_prefix_encode(uint8_t *b, const struct peer_prefix *p)
{
	memcpy(b, p->digest, RING_DIGEST_LEN);
	sd_put64(b + 16, p->version);
	sd_put32(b + 24, p->arg);
	sd_put32(b + 28, PEER_MAGIC);
}

int peer_prefix_decode(struct peer_prefix *p, const uint8_t *b, size_t len)
{
	if (len < PEER_PREFIX_LEN || sd_get32(b + 28) != PEER_MAGIC)
		return -EINVAL;
	memcpy(p->digest, b, RING_DIGEST_LEN);
	p->version = sd_get64(b + 16);
	p->arg = sd_get32(b + 24);
	return 0;
}

const char *peer_opcode_name(uint8_t op)
{
	switch (op) {
	case SD_OP_PEER_WRITE_OBJ: return "PEER_WRITE_OBJ";
	case SD_OP_PEER_CREATE_OBJ: return "PEER_CREATE_OBJ";
	case SD_OP_PEER_READ_OBJ: return "PEER_READ_OBJ";
	case SD_OP_PEER_PUT_OBJ: return "PEER_PUT_OBJ";
	case SD_OP_PEER_VDI_PUT: return "PEER_VDI_PUT";
	case SD_OP_PEER_VDI_GET: return "PEER_VDI_GET";
	case SD_OP_PEER_VDI_LIST: return "PEER_VDI_LIST";
	case SD_OP_PEER_FORWARD: return "PEER_FORWARD";
	case SD_OP_PEER_STAT_OBJ: return "PEER_STAT_OBJ";
	case SD_OP_PEER_SUMMARY: return "PEER_SUMMARY";
	case SD_OP_PEER_LOCK_PUT: return "PEER_LOCK_PUT";
	default: return NULL;
	}
}

int peer_pool_init(struct peer_pool *p, unsigned timeout_ms)
{
	memset(p, 0, sizeof(*p));
	p->timeout_ms = timeout_ms;
	if (peer_keys_init(&p->keys) < 0)
		return -ENOMEM;
	if (pthread_mutex_init(&p->mu, NULL)) {
		peer_keys_fini(&p->keys);
		return -ENOMEM;
	}
	return 0;
}

void peer_pool_fini(struct peer_pool *p)
{
	for (unsigned i = 0; i < p->nr_idle; i++)
		sd_client_close(p->idle[i].c);
	p->nr_idle = 0;
	pthread_mutex_destroy(&p->mu);
	peer_keys_fini(&p->keys);
}

static int addr_eq(const struct swim_addr *a, const struct swim_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16);
}

/* An idle connection the peer closed (it restarted, or timed us out) reads
 * EOF or an error at once; one that is fine would block. */
static int idle_alive(struct sd_client *c)
{
	char b;
	ssize_t n = recv(sd_client_fd(c), &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static struct sd_client *pool_take(struct peer_pool *p, const struct swim_addr *to)
{
	struct sd_client *c = NULL;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		c = NULL;
		for (unsigned i = p->nr_idle; i-- > 0;) {
			if (addr_eq(&p->idle[i].addr, to)) {
				c = p->idle[i].c;
				p->idle[i] = p->idle[--p->nr_idle];
				break;
			}
		}
		pthread_mutex_unlock(&p->mu);
		if (!c || idle_alive(c))
			return c;
		sd_client_close(c);
	}
}

static void pool_give(struct peer_pool *p, const struct swim_addr *to, struct sd_client *c)
{
	pthread_mutex_lock(&p->mu);
	if (p->nr_idle < PEER_POOL_IDLE) {
		p->idle[p->nr_idle].addr = *to;
		p->idle[p->nr_idle++].c = c;
		c = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	sd_client_close(c);
}

static int pool_connect(struct peer_pool *p, const struct swim_addr *to, struct sd_client **out)
{
	char ip[INET6_ADDRSTRLEN];
	struct sd_addr a;

	if (to->port == 0 || !inet_ntop(to->family == 4 ? AF_INET : AF_INET6, to->ip, ip, sizeof(ip)))
		return -EHOSTUNREACH;
	if (sd_addr_tcp(&a, ip, to->port) < 0)
		return -EINVAL;
	a.timeout_ms = p->timeout_ms;
	return sd_client_connect(out, &a);
}

void peer_call_init(struct peer_call *pc, const struct swim_addr *to, uint8_t op, uint64_t oid,
		    uint64_t offset, uint32_t epoch)
{
	memset(pc, 0, sizeof(*pc));
	pc->to = *to;
	pc->req.proto_ver = SD_PROTO_VER;
	pc->req.opcode = op;
	pc->req.flags = SD_FLAG_CMD_WRITE;
	pc->req.epoch = epoch;
	pc->req.obj.oid = oid;
	pc->req.obj.offset = offset;
}

/* Header, prefix and data in order; a pooled connection may have been
 * closed by the peer meanwhile, so one failed send on it is retried on a
 * fresh connection (nothing was executed: the peer saw no whole request). */
int peer_call_send(struct peer_pool *p, struct peer_call *pc, const struct peer_prefix *pre,
		   const void *data, uint32_t len)
{
	uint8_t hdr[SD_REQ_SIZE + PEER_PREFIX_LEN];
	uint8_t *sealed = NULL;
	size_t slen = 0;
	int rc = 0;

	if (peer_keys_sealed(&p->keys)) {
		/* one copy of the data: the price of encrypting without
		 * touching the caller's buffer. The AD leaves id out, so the
		 * sealed bytes survive a retry on a fresh connection */
		pc->req.flags |= PEER_FLAG_SEALED;
		sealed = malloc(PEER_SEAL_REQ_OVERHEAD + PEER_PREFIX_LEN + (size_t)len);
		if (!sealed) {
			pc->rc = -ENOMEM;
			return pc->rc;
		}
		uint8_t pre_b[PEER_PREFIX_LEN];
		peer_prefix_encode(pre_b, pre);
		slen = peer_seal_req(&p->keys, &pc->req, peer_seal_now_ms(), pre_b, data, len, sealed, pc->nonce);
		pc->req.data_length = (uint32_t)slen;
	} else {
		pc->req.data_length = PEER_PREFIX_LEN + len;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		int pooled = 0;

		if (attempt == 0 && (pc->c = pool_take(p, &pc->to)))
			pooled = 1;
		else if ((rc = pool_connect(p, &pc->to, &pc->c)) < 0)
			break;
		pc->req.id = sd_client_next_id(pc->c);
		sd_req_encode(hdr, &pc->req);
		if (sealed) {
			rc = sd_client_send_raw(pc->c, hdr, SD_REQ_SIZE);
			if (rc == 0)
				rc = sd_client_send_raw(pc->c, sealed, slen);
		} else {
			peer_prefix_encode(hdr + SD_REQ_SIZE, pre);
			rc = sd_client_send_raw(pc->c, hdr, sizeof(hdr));
			if (rc == 0 && len)
				rc = sd_client_send_raw(pc->c, data, len);
		}
		if (rc == 0) {
			free(sealed);
			return 0;
		}
		sd_client_close(pc->c);
		pc->c = NULL;
		if (!pooled)
			break;
	}
	free(sealed);
	pc->rc = rc < 0 ? rc : -EIO;
	return pc->rc;
}

/* A SUCCESS reply to a sealed request: [nonce][ciphertext into rbuf][tag],
 * opened in place; rsp.data_length becomes the plaintext's. -EBADMSG if it
 * does not open (wrong key, forged, or a keyless peer answered). */
static int recv_sealed(struct peer_pool *p, struct peer_call *pc)
{
	uint8_t nonce[PEER_SEAL_NONCE_LEN], tag[PEER_SEAL_TAG_LEN];
	uint32_t n = pc->rsp.data_length;

	if (!(pc->rsp.flags & PEER_FLAG_SEALED) || n < PEER_SEAL_RSP_OVERHEAD ||
	    n - PEER_SEAL_RSP_OVERHEAD > pc->rcap)
		return -EBADMSG;
	n -= PEER_SEAL_RSP_OVERHEAD;
	int rc = sd_client_recv_raw(pc->c, nonce, sizeof(nonce));
	if (rc == 0 && n)
		rc = sd_client_recv_raw(pc->c, pc->rbuf, n);
	if (rc == 0)
		rc = sd_client_recv_raw(pc->c, tag, sizeof(tag));
	if (rc < 0)
		return rc;
	if (peer_open_rsp(&p->keys, pc->nonce, pc->rsp.result, pc->rsp.flags, nonce, pc->rbuf, n, tag) < 0)
		return -EBADMSG;
	pc->rsp.data_length = n;
	return 0;
}

int peer_call_finish(struct peer_pool *p, struct peer_call *pc)
{
	int rc;

	if (!pc->c)
		return pc->rc;
	rc = sd_client_recv_header(pc->c, &pc->rsp);
	if (rc == 0 && pc->rsp.id != pc->req.id)
		rc = -EPROTO;
	if (rc == 0 && (pc->req.flags & PEER_FLAG_SEALED) && pc->rsp.result == SD_RES_SUCCESS)
		rc = recv_sealed(p, pc);
	else if (rc == 0 && pc->rsp.data_length > pc->rcap)
		rc = -EPROTO;   /* more than we asked for: the stream is not ours to trust */
	else if (rc == 0 && pc->rsp.data_length)
		rc = sd_client_recv_payload(pc->c, pc->rbuf, pc->rsp.data_length);
	if (rc == 0) {
		pool_give(p, &pc->to, pc->c);
		pc->rc = (int)pc->rsp.result;
	} else {
		sd_client_close(pc->c);
		pc->rc = rc;
	}
	pc->c = NULL;
	return pc->rc;
}

int peer_call(struct peer_pool *p, struct peer_call *pc, const struct peer_prefix *pre,
	      const void *data, uint32_t len)
{
	if (peer_call_send(p, pc, pre, data, len) < 0)
		return pc->rc;
	return peer_call_finish(p, pc);
}

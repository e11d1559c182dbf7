/* repl_serve.c: the replica side of the peer protocol (node/peer.h). Every
 * handler but PEER_FORWARD is a leaf: it touches the local store only, so
 * the peer worker pool can never wait on another node. */
#include "node/dispatch.h"
#include "node/repl_int.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct list_acc {
	uint8_t *b;
	size_t n, cap;
};

static int list_add(void *ctx, uint32_t vid, uint64_t mver)
{
	struct list_acc *a = ctx;

	if (a->n + 12 > a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 4096;
		uint8_t *b = realloc(a->b, cap);
		if (!b)
			return -ENOMEM;
		a->b = b;
		a->cap = cap;
	}
	sd_put32(a->b + a->n, vid);
	sd_put64(a->b + a->n + 4, mver);
	a->n += 12;
	return 0;
}

static int serve_list(struct node_req *r)
{
	struct list_acc a = { 0 };
	int rc = store_vdi_versions(r->ctx->store, list_add, &a);

	if (rc < 0 || a.n > CATALOG_LIST_MAX) {
		free(a.b);
		return rc == -ENOMEM ? SD_RES_NO_MEM : SD_RES_EIO;
	}
	r->out = a.b;
	r->out_len = (uint32_t)a.n;
	return SD_RES_SUCCESS;
}

static int serve_get(struct node_req *r)
{
	uint8_t *exp;
	size_t len;
	uint64_t vid = r->hdr.obj.oid;

	if (vid >= SD_NR_VDIS)
		return SD_RES_INVALID_PARMS;
	int rc = store_vdi_export(r->ctx->store, (uint32_t)vid, &exp, &len);
	if (rc != SD_RES_SUCCESS)
		return rc;
	if (len > CATALOG_EXPORT_MAX) {
		free(exp);
		return SD_RES_EIO;
	}
	r->out = exp;
	r->out_len = (uint32_t)len;
	return SD_RES_SUCCESS;
}

/* A data write that found no VDI: say so in a way the gateway acts on. */
static int need_vdi(struct node_ctx *c, uint64_t oid, int res)
{
	if ((res == SD_RES_NO_VDI || res == SD_RES_NO_OBJ) && !node__catalog_has(c, sd_oid_vid(oid)))
		return SD_RES_SM_NEED_VDI;
	return res;
}

int node__copy_unverified(struct node_ctx *c, uint64_t oid)
{
	struct store_obj_info oi;

	return store_obj_stat(c->store, oid, &oi) == SD_RES_SUCCESS &&
	       node_repl_unverified(c->repl, oid, oi.version);
}
#define copy_unverified node__copy_unverified

/* Reply: version, then the bytes; flagged when the copy may be stale. */
static int serve_read(struct node_req *r, uint64_t oid, uint64_t off, uint32_t len)
{
	struct repl_got g;

	if (len > r->ctx->max_request)
		return SD_RES_INVALID_PARMS;
	int rc = node__local_get(r->ctx, oid, off, len, &g);
	if (rc != SD_RES_SUCCESS)
		return rc;
	uint8_t *out = malloc((size_t)g.len + PEER_READ_VERSION_LEN);
	if (!out) {
		free(g.b);
		return SD_RES_NO_MEM;
	}
	sd_put64(out, g.version);
	memcpy(out + PEER_READ_VERSION_LEN, g.b, g.len);
	free(g.b);
	r->out = out;
	r->out_len = g.len + PEER_READ_VERSION_LEN;
	if (g.unverified)
		r->rsp.flags |= PEER_RSP_UNVERIFIED;
	return SD_RES_SUCCESS;
}

static int serve_stat(struct node_req *r, uint64_t oid, uint32_t arg)
{
	struct store_obj_info oi;
	int rc = store_obj_stat(r->ctx->store, oid, &oi);

	if (rc != SD_RES_SUCCESS)
		return rc;
	if (arg & PEER_STAT_WANT_HASH) {
		/* scrub of a copy without a recorded checksum: hash what is here */
		struct repl_got g;
		rc = node__local_get(r->ctx, oid, 0, 0, &g);
		if (rc != SD_RES_SUCCESS)
			return rc;
		crypto_generichash(oi.csum, sizeof(oi.csum), g.b, g.len, NULL, 0);
		free(g.b);
	}
	uint8_t *out = calloc(1, PEER_STAT_LEN);
	if (!out)
		return SD_RES_NO_MEM;
	uint32_t flags = (node_repl_unverified(r->ctx->repl, oid, oi.version) ? PEER_STAT_UNVERIFIED : 0) |
			 (oi.csum_valid ? PEER_STAT_CSUM_VALID : 0) |
			 (arg & PEER_STAT_WANT_HASH ? PEER_STAT_HASHED : 0);
	sd_put64(out, oi.version);
	sd_put64(out + 8, oi.size);
	if (oi.csum_valid || (arg & PEER_STAT_WANT_HASH))
		memcpy(out + 16, oi.csum, 32);
	sd_put32(out + 48, flags);
	r->out = out;
	r->out_len = PEER_STAT_LEN;
	return SD_RES_SUCCESS;
}

static int serve_lock_put(struct node_req *r, const uint8_t *data, uint32_t len)
{
	struct store_lock_state ls;

	if (len != PEER_LOCK_LEN) {
		node_log_bad(r->ctx->log, NODE_BAD_LENGTH, "PEER_LOCK_PUT of %u bytes: expected %d", len,
			     PEER_LOCK_LEN);
		return SD_RES_INVALID_PARMS;
	}
	ls.vid = sd_get32(data);
	uint32_t held = sd_get32(data + 4);
	ls.held = held == 1;
	ls.type = sd_get32(data + 8);
	ls.count = sd_get32(data + 12);
	ls.time = sd_get64(data + 16);
	int rc = held > 1 ? -EINVAL : store_lock_apply(r->ctx->store, &ls);
	if (rc == -EINVAL) {
		node_log_bad(r->ctx->log, NODE_BAD_LENGTH, "PEER_LOCK_PUT: bad lock (vid %06x held %u "
			     "type %u holders %u)", ls.vid, held, ls.type, ls.count);
		return SD_RES_INVALID_PARMS;
	}
	return rc ? SD_RES_EIO : SD_RES_SUCCESS;
}

static int serve_summary(struct node_req *r, struct node_view *v, uint32_t peer)
{
	if (!v || peer >= v->nr || v->self < 0 || peer == (uint32_t)v->self)
		return SD_RES_INVALID_PARMS;
	uint8_t *out = malloc(PEER_SUMMARY_LEN);
	if (!out)
		return SD_RES_NO_MEM;
	int rc = node__summary(r->ctx, v, peer, out);
	if (rc != SD_RES_SUCCESS) {
		free(out);
		return rc;
	}
	r->out = out;
	r->out_len = PEER_SUMMARY_LEN;
	return SD_RES_SUCCESS;
}

/* The request once opened: in[in_len] = prefix || data. */
static int serve_opened(struct node_req *r, const uint8_t *in, uint32_t in_len)
{
	struct node_ctx *c = r->ctx;
	struct node_repl *rp = c->repl;
	const struct sd_req *h = &r->hdr;
	struct peer_prefix pre;
	struct node_view *v = NULL;
	int res;

	if (peer_prefix_decode(&pre, in, in_len) < 0) {
		node_log_bad(c->log, NODE_BAD_LENGTH, "%s: payload of %u bytes has no valid peer prefix",
			     peer_opcode_name(h->opcode), in_len);
		return SD_RES_INVALID_PARMS;
	}
	const uint8_t *data = in + PEER_PREFIX_LEN;
	uint32_t len = in_len - PEER_PREFIX_LEN;
	uint64_t oid = h->obj.oid;

	v = node_views_get(&rp->views);
	if (peer_op_checks_ring(h->opcode) && (!v || memcmp(v->digest, pre.digest, RING_DIGEST_LEN))) {
		r->rsp.epoch = v ? (uint32_t)v->scalar : 0;
		atomic_fetch_add(&rp->stale_refused, 1);
		node_view_put(v);
		return SD_RES_SM_RING_STALE;
	}
	if (pre.version)
		node__repl_observe(rp, pre.version);
	/* objects only: inodes change through the leader (PEER_FORWARD) */
	int obj_op = h->opcode == SD_OP_PEER_WRITE_OBJ || h->opcode == SD_OP_PEER_CREATE_OBJ ||
		     h->opcode == SD_OP_PEER_PUT_OBJ;
	if (obj_op && !(sd_oid_is_data(oid) || sd_oid_is_vmstate(oid))) {
		node_log_bad(c->log, NODE_BAD_OPCODE, "%s of oid %016" PRIx64 ": not a data or vmstate object",
			     peer_opcode_name(h->opcode), oid);
		node_view_put(v);
		return SD_RES_INVALID_PARMS;
	}
	switch (h->opcode) {
	case SD_OP_PEER_WRITE_OBJ:
		/* a partial write on a copy that may be stale would make it look
		 * new: the gateway brings the whole object instead */
		if (copy_unverified(c, oid)) {
			res = SD_RES_SM_UNVERIFIED;
			break;
		}
		res = need_vdi(c, oid, store_write_obj_v(c->store, oid, h->obj.offset, len, data, pre.version));
		break;
	case SD_OP_PEER_CREATE_OBJ:
		res = need_vdi(c, oid, store_create_and_write_obj_v(c->store, oid, (h->flags & SD_FLAG_CMD_COW) != 0,
								    h->obj.cow_oid, h->obj.offset, len, data,
								    pre.version));
		break;
	case SD_OP_PEER_PUT_OBJ:
		res = need_vdi(c, oid, store_obj_put(c->store, oid, data, len, pre.version));
		break;
	case SD_OP_PEER_READ_OBJ:
		res = serve_read(r, oid, h->obj.offset, pre.arg);
		break;
	case SD_OP_PEER_VDI_PUT: {
		int rc = store_vdi_import(c->store, data, len);
		if (rc == -EBADMSG)
			node_log_bad(c->log, NODE_BAD_LENGTH, "PEER_VDI_PUT: the export does not decode");
		res = rc >= 0 ? SD_RES_SUCCESS : rc == -EBADMSG ? SD_RES_INVALID_PARMS : SD_RES_EIO;
		break;
	}
	case SD_OP_PEER_VDI_GET:
		res = serve_get(r);
		break;
	case SD_OP_PEER_VDI_LIST:
		res = serve_list(r);
		break;
	case SD_OP_PEER_FORWARD:
		res = node__catalog_serve_forward(r, v, data, len);
		break;
	case SD_OP_PEER_SUMMARY:
		res = serve_summary(r, v, pre.arg);
		break;
	case SD_OP_PEER_LOCK_PUT:
		res = serve_lock_put(r, data, len);
		break;
	case SD_OP_PEER_STAT_OBJ:
		res = serve_stat(r, oid, pre.arg);
		break;
	default:
		res = SD_RES_INVALID_PARMS;
		break;
	}
	node_view_put(v);
	return res;
}

/* With the cluster key: open the request first (nothing runs if it does not
 * open), seal a SUCCESS reply's payload, even an empty one, bound to the
 * request's nonce (node/PEER.md, "Sealing"). Without: as it always was. */
int node_repl_serve(struct node_req *r)
{
	struct node_ctx *c = r->ctx;
	struct node_repl *rp = c->repl;
	struct peer_keys *k = &rp->peers.keys;
	uint8_t nonce[PEER_SEAL_NONCE_LEN];
	uint8_t *in;
	size_t in_len;

	int rc = peer_open_req(k, &r->hdr, peer_seal_now_ms(), r->in, r->in_len, &in, &in_len, nonce);
	if (rc < 0) {
		atomic_fetch_add(&rp->auth_failed, 1);
		node_log_limited(c->log, NODE_LIMIT_PEER, NODE_LOG_WARN,
				 "%s id %u (%u bytes, flags 0x%x) refused: %s", peer_opcode_name(r->hdr.opcode),
				 r->hdr.id, r->in_len, r->hdr.flags, peer_seal_strerror(rc));
		return SD_RES_SM_AUTH;
	}
	int res = serve_opened(r, in, (uint32_t)in_len);
	if (res != SD_RES_SUCCESS || !peer_keys_sealed(k))
		return res;
	uint8_t *out = malloc((size_t)r->out_len + PEER_SEAL_RSP_OVERHEAD);
	if (!out)
		return SD_RES_NO_MEM;   /* dispatch frees r->out */
	r->rsp.flags |= PEER_FLAG_SEALED;
	size_t n = peer_seal_rsp(k, nonce, SD_RES_SUCCESS, r->rsp.flags, r->out, r->out_len, out);
	free(r->out);
	r->out = out;
	r->out_len = (uint32_t)n;
	return res;
}

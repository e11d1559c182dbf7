/* catalog.c: the VDI catalog on every node (node/repl.h). The leader (the
 * lowest placed id) runs every metadata request, then ships each VDI whose
 * metadata version (mver) moved to every other node before it answers; a
 * node that becomes leader first pulls whatever another node holds newer. */
#include "node/dispatch.h"
#include "node/repl_int.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int node__catalog_has(struct node_ctx *c, uint32_t vid)
{
	uint8_t b;

	/* the header is synthesised from the catalog record: cheap */
	return store_read_obj(c->store, sd_inode_oid(vid), 0, 1, &b) == SD_RES_SUCCESS;
}

/* ---- local version table ---- */

struct vver { uint32_t vid; uint64_t mver; };
struct vvers { struct vver *a; size_t n, cap; };

static int vvers_add(void *ctx, uint32_t vid, uint64_t mver)
{
	struct vvers *t = ctx;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		struct vver *a = realloc(t->a, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		t->a = a;
		t->cap = cap;
	}
	t->a[t->n].vid = vid;
	t->a[t->n++].mver = mver;
	return 0;
}

/* vid order (store_vdi_versions); 0 if absent */
static uint64_t vvers_find(const struct vvers *t, uint32_t vid)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->a[mid].vid < vid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n && t->a[lo].vid == vid ? t->a[lo].mver : 0;
}

static int vvers_load(struct store *st, struct vvers *t)
{
	memset(t, 0, sizeof(*t));
	int rc = store_vdi_versions(st, vvers_add, t);
	if (rc < 0) {
		free(t->a);
		memset(t, 0, sizeof(*t));
	}
	return rc;
}

/* ---- peer calls ---- */

static int fetch_export(struct node_ctx *c, const struct node_view *v, uint32_t from, uint32_t vid,
			uint8_t **buf, uint32_t *len)
{
	struct peer_call pc;
	struct peer_prefix pre;
	uint8_t *b = malloc(CATALOG_EXPORT_MAX);

	if (!b)
		return SD_RES_NO_MEM;
	peer_call_init(&pc, &v->m[from].data, SD_OP_PEER_VDI_GET, vid, 0, (uint32_t)v->scalar);
	pc.rbuf = b;
	pc.rcap = CATALOG_EXPORT_MAX;
	node__prefix(&pre, v, 0, 0);
	int rc = peer_call(&c->repl->peers, &pc, &pre, NULL, 0);
	if (rc != SD_RES_SUCCESS) {
		free(b);
		return rc;
	}
	*buf = b;
	*len = pc.rsp.data_length;
	return SD_RES_SUCCESS;
}

static int import_bytes(struct node_ctx *c, const uint8_t *buf, uint32_t len, const char *from)
{
	int rc = store_vdi_import(c->store, buf, len);

	if (rc < 0) {
		node_log_limited(c->log, NODE_LIMIT_CATALOG, NODE_LOG_ERR,
				 "catalog: cannot import a VDI from %s: %s", from, strerror(-rc));
		return rc == -EBADMSG ? SD_RES_INVALID_PARMS : SD_RES_EIO;
	}
	return SD_RES_SUCCESS;
}

/* Pull from member `from` every VDI it holds newer than we do. */
static int sync_from(struct node_ctx *c, const struct node_view *v, uint32_t from, const struct vvers *mine)
{
	struct peer_call pc;
	struct peer_prefix pre;
	uint8_t *list = malloc(CATALOG_LIST_MAX);
	int rc, pulled = 0;

	if (!list)
		return SD_RES_NO_MEM;
	peer_call_init(&pc, &v->m[from].data, SD_OP_PEER_VDI_LIST, 0, 0, (uint32_t)v->scalar);
	pc.rbuf = list;
	pc.rcap = CATALOG_LIST_MAX;
	node__prefix(&pre, v, 0, 0);
	rc = peer_call(&c->repl->peers, &pc, &pre, NULL, 0);
	if (rc == SD_RES_SUCCESS && pc.rsp.data_length % 12)
		rc = SD_RES_INVALID_PARMS;
	for (uint32_t off = 0; rc == SD_RES_SUCCESS && off < pc.rsp.data_length; off += 12) {
		uint32_t vid = sd_get32(list + off);
		uint64_t mver = sd_get64(list + off + 4);
		uint8_t *exp;
		uint32_t elen;

		if (mver <= vvers_find(mine, vid))
			continue;
		rc = fetch_export(c, v, from, vid, &exp, &elen);
		if (rc == SD_RES_SUCCESS) {
			rc = import_bytes(c, exp, elen, "a peer");
			free(exp);
			pulled++;
		}
	}
	free(list);
	if (pulled)
		node_log(c->log, NODE_LOG_INFO, "catalog: pulled %d newer VDIs from a peer", pulled);
	return rc;
}

/* Leader takeover: everything newer anywhere comes here first. Members that
 * do not answer are skipped (they may be the reason the ring changed). */
static void sync_all(struct node_ctx *c, const struct node_view *v)
{
	struct vvers mine;

	if (vvers_load(c->store, &mine) < 0)
		return;
	for (uint32_t i = 0; i < v->nr; i++) {
		if (node_view_is_self(v, i))
			continue;
		int rc = sync_from(c, v, i, &mine);
		if (rc != SD_RES_SUCCESS)
			node_log_limited(c->log, NODE_LIMIT_CATALOG, NODE_LOG_WARN,
					 "catalog: sync from a member failed (result %d); continuing", rc);
	}
	free(mine.a);
}

/* Send op with data to every other member of v, in parallel a ring's
 * worth at a time. 0 if all answered SUCCESS, else 1. */
static int broadcast(struct node_ctx *c, const struct node_view *v, uint8_t op, const void *data, uint32_t len)
{
	struct peer_call pc[RING_MAX_COPIES];
	struct peer_prefix pre;
	int failed = 0;

	node__prefix(&pre, v, 0, 0);
	for (uint32_t base = 0; base < v->nr; base += RING_MAX_COPIES) {
		uint32_t end = base + RING_MAX_COPIES < v->nr ? base + RING_MAX_COPIES : v->nr;
		for (uint32_t i = base; i < end; i++)
			if (!node_view_is_self(v, i)) {
				peer_call_init(&pc[i - base], &v->m[i].data, op, 0, 0, (uint32_t)v->scalar);
				peer_call_send(&c->repl->peers, &pc[i - base], &pre, data, len);
			}
		for (uint32_t i = base; i < end; i++)
			if (!node_view_is_self(v, i) && peer_call_finish(&c->repl->peers, &pc[i - base]) != SD_RES_SUCCESS)
				failed = 1;
	}
	return failed;
}

/* Ship every VDI with mver > pushed_mver to all other members. 0, or
 * -EAGAIN when some member did not take it (wait for a new ring, retry). */
static int push_changes(struct node_ctx *c, const struct node_view *v)
{
	struct node_repl *rp = c->repl;
	struct vvers mine;
	uint64_t top = rp->pushed_mver;
	int failed = 0;

	if (vvers_load(c->store, &mine) < 0)
		return -EAGAIN;
	for (size_t k = 0; k < mine.n; k++) {
		uint8_t *exp;
		size_t elen;

		if (mine.a[k].mver <= rp->pushed_mver)
			continue;
		if (store_vdi_export(c->store, mine.a[k].vid, &exp, &elen) != SD_RES_SUCCESS) {
			failed = 1;
			continue;
		}
		failed |= broadcast(c, v, SD_OP_PEER_VDI_PUT, exp, (uint32_t)elen);
		free(exp);
		atomic_fetch_add(&rp->pushes, 1);
		if (mine.a[k].mver > top)
			top = mine.a[k].mver;
	}
	free(mine.a);
	if (failed) {
		atomic_fetch_add(&rp->push_failed, 1);
		return -EAGAIN;
	}
	rp->pushed_mver = top;
	return 0;
}

/* The locks of these vids as the leader holds them, to every other member
 * (so a node that becomes leader holds them already). 0 or -EAGAIN. */
static int push_locks(struct node_ctx *c, const struct node_view *v, const uint32_t *vids, int nv)
{
	int failed = 0;

	for (int k = 0; k < nv; k++) {
		struct store_lock_state ls;
		uint8_t b[PEER_LOCK_LEN];

		if (vids[k] == 0 || store_lock_state(c->store, vids[k], &ls) < 0) {
			failed |= vids[k] != 0;
			continue;
		}
		sd_put32(b, ls.vid);
		sd_put32(b + 4, ls.held ? 1 : 0);
		sd_put32(b + 8, ls.type);
		sd_put32(b + 12, ls.count);
		sd_put64(b + 16, ls.time);
		failed |= broadcast(c, v, SD_OP_PEER_LOCK_PUT, b, sizeof(b));
	}
	return failed ? -EAGAIN : 0;
}

/* The vids whose lock a successful request changed (LOCK, RELEASE, and a
 * snapshot, which moves the lock to the new working vid); 0-2. */
static int lock_vids(const struct node_req *r, const struct store_vdi_rsp *vrsp, uint32_t *vids)
{
	const struct sd_req *h = &r->hdr;

	if (!store_locks_enforced(r->ctx->store))
		return 0;
	switch (h->opcode) {
	case SD_OP_LOCK_VDI:
		vids[0] = vrsp->vid;
		return 1;
	case SD_OP_RELEASE_VDI:
		vids[0] = h->vdi.base_vdi_id;
		return 1;
	case SD_OP_NEW_VDI:
		if (!h->vdi.snapid)
			return 0;
		vids[0] = vrsp->vid;
		vids[1] = h->vdi.base_vdi_id;
		return 2;
	default:
		return 0;
	}
}

static int mutates(const struct sd_req *h)
{
	return h->opcode == SD_OP_NEW_VDI || h->opcode == SD_OP_DEL_VDI ||
	       ((h->opcode == SD_OP_WRITE_OBJ || h->opcode == SD_OP_CREATE_AND_WRITE_OBJ) &&
		sd_oid_is_inode(h->obj.oid));
}

/* As the leader of *vp: sync if the ring changed, run, ship the change. */
static int leader_exec(struct node_req *r, struct node_view **vp, struct store_vdi_rsp *vrsp, int *vdi)
{
	struct node_ctx *c = r->ctx;
	struct node_repl *rp = c->repl;
	uint64_t deadline = node__mono_ms() + rp->retry_ms;
	int res;

	pthread_mutex_lock(&rp->cat_mu);
	if (memcmp(rp->synced_digest, (*vp)->digest, RING_DIGEST_LEN) || !rp->synced) {
		sync_all(c, *vp);
		memcpy(rp->synced_digest, (*vp)->digest, RING_DIGEST_LEN);
		rp->synced = 1;
		rp->pushed_mver = 0;    /* members may have missed anything: ship all once */
	}
	res = node__dispatch_local(r, vrsp, vdi);
	uint32_t lv[2];
	int nlv = res == SD_RES_SUCCESS ? lock_vids(r, vrsp, lv) : 0;
	if (res == SD_RES_SUCCESS && (mutates(&r->hdr) || nlv)) {
		while (push_changes(c, *vp) < 0 || push_locks(c, *vp, lv, nlv) < 0) {
			if (node__repl_wait(rp, vp, deadline) < 0) {
				node_log_limited(c->log, NODE_LIMIT_CATALOG, NODE_LOG_ERR,
						 "catalog: %s done here but not every member took it within %u ms: "
						 "answering EIO", sd_opcode_name(r->hdr.opcode), rp->retry_ms);
				res = SD_RES_EIO;
				break;
			}
		}
	}
	pthread_mutex_unlock(&rp->cat_mu);
	return res;
}

static int forward(struct node_req *r, struct node_view *v, struct store_vdi_rsp *vrsp, int *vdi)
{
	struct node_ctx *c = r->ctx;
	const struct sd_req *h = &r->hdr;
	uint32_t want = (h->flags & SD_FLAG_CMD_WRITE) ? 0 : h->data_length;
	uint32_t in_len = r->in_len;
	uint8_t *send = malloc(SD_REQ_SIZE + (size_t)in_len);
	uint8_t *rbuf = malloc(SD_RSP_SIZE + (size_t)want);
	struct peer_call pc;
	struct peer_prefix pre;
	int rc;

	if (!send || !rbuf) {
		free(send);
		free(rbuf);
		return SD_RES_NO_MEM;
	}
	sd_req_encode(send, h);
	if (in_len)
		memcpy(send + SD_REQ_SIZE, r->in, in_len);
	peer_call_init(&pc, &v->m[v->leader].data, SD_OP_PEER_FORWARD, 0, 0, (uint32_t)v->scalar);
	pc.rbuf = rbuf;
	pc.rcap = SD_RSP_SIZE + (size_t)want;
	node__prefix(&pre, v, 0, 0);
	rc = peer_call(&c->repl->peers, &pc, &pre, send, SD_REQ_SIZE + in_len);
	free(send);
	if (rc == SD_RES_SUCCESS && pc.rsp.data_length < SD_RSP_SIZE)
		rc = -EPROTO;
	if (rc != SD_RES_SUCCESS) {
		free(rbuf);
		return rc < 0 ? rc : (rc == SD_RES_SM_RING_STALE ? rc : -EIO);
	}
	struct sd_rsp in;
	sd_rsp_decode(&in, rbuf);
	uint32_t plen = pc.rsp.data_length - SD_RSP_SIZE;
	if (plen) {
		memmove(rbuf, rbuf + SD_RSP_SIZE, plen);
		r->out = rbuf;
		r->out_len = plen;
	} else {
		free(rbuf);
	}
	atomic_fetch_add(&c->repl->fwd, 1);
	r->rsp.cluster = in.cluster;
	vrsp->vid = in.vdi.vdi_id;
	vrsp->copies = in.vdi.copies;
	vrsp->block_size_shift = in.vdi.block_size_shift;
	*vdi = sd_op_is_vdi(h->opcode) && h->opcode != SD_OP_READ_VDIS && h->opcode != SD_OP_RELEASE_VDI;
	return (int)in.result;
}

int node__catalog_route(struct node_req *r, struct node_view **vp, struct store_vdi_rsp *vrsp, int *vdi)
{
	struct node_repl *rp = r->ctx->repl;
	uint64_t deadline = node__mono_ms() + rp->retry_ms;

	for (;;) {
		struct node_view *v = *vp;
		if (v->self >= 0 && (uint32_t)v->self == v->leader)
			return leader_exec(r, vp, vrsp, vdi);
		int rc = forward(r, v, vrsp, vdi);
		if (rc >= 0 && rc != SD_RES_SM_RING_STALE)
			return rc;
		if (node__repl_wait(rp, vp, deadline) < 0) {
			node_log_limited(r->ctx->log, NODE_LIMIT_CATALOG, NODE_LOG_ERR,
					 "catalog: the leader did not answer %s within %u ms: answering EIO",
					 sd_opcode_name(r->hdr.opcode), rp->retry_ms);
			return SD_RES_EIO;
		}
	}
}

int node__catalog_serve_forward(struct node_req *r, struct node_view *v, const uint8_t *data, uint32_t len)
{
	struct node_ctx *c = r->ctx;
	struct node_req in;
	struct store_vdi_rsp vrsp = { 0 };
	enum node_bad_reason why;
	int vdi = 0;

	if (len < SD_REQ_SIZE) {
		node_log_bad(c->log, NODE_BAD_LENGTH, "PEER_FORWARD of %u bytes: shorter than a header", len);
		return SD_RES_INVALID_PARMS;
	}
	memset(&in, 0, sizeof(in));
	in.ctx = c;
	sd_req_decode(&in.hdr, data);
	in.in = len > SD_REQ_SIZE ? (uint8_t *)data + SD_REQ_SIZE : NULL;
	in.in_len = len - SD_REQ_SIZE;
	int wr = (in.hdr.flags & SD_FLAG_CMD_WRITE) != 0;
	if (!node__is_meta(&in.hdr) || node_dispatch_check(c, &in.hdr, &why) != 0 ||
	    (wr ? in.hdr.data_length != in.in_len : in.in_len != 0)) {
		node_log_bad(c->log, NODE_BAD_OPCODE, "PEER_FORWARD of opcode 0x%02x: not a valid metadata request",
			     in.hdr.opcode);
		return SD_RES_INVALID_PARMS;
	}
	if (v->self < 0 || (uint32_t)v->self != v->leader)
		return SD_RES_SM_RING_STALE;   /* same digest, so this cannot happen; be safe */
	in.rsp.proto_ver = SD_PROTO_VER;
	in.rsp.opcode = in.hdr.opcode;
	in.rsp.id = in.hdr.id;
	struct node_view *vv = v;
	atomic_fetch_add(&v->refs, 1);
	int res = leader_exec(&in, &vv, &vrsp, &vdi);
	node_view_put(vv);
	node__dispatch_finish(&in, res, &vrsp, vdi);
	uint8_t *out = malloc(SD_RSP_SIZE + (size_t)in.out_len);
	if (!out) {
		free(in.out);
		return SD_RES_NO_MEM;
	}
	in.rsp.data_length = in.out_len;
	sd_rsp_encode(out, &in.rsp);
	if (in.out_len)
		memcpy(out + SD_RSP_SIZE, in.out, in.out_len);
	free(in.out);
	r->out = out;
	r->out_len = SD_RSP_SIZE + in.out_len;
	return SD_RES_SUCCESS;
}

int node__catalog_give(struct node_req *r, struct node_view *v, uint32_t target, uint32_t vid)
{
	struct node_ctx *c = r->ctx;
	uint8_t *exp = NULL;
	size_t elen = 0;
	int rc = store_vdi_export(c->store, vid, &exp, &elen);

	if (rc == SD_RES_NO_VDI && !(v->self >= 0 && (uint32_t)v->self == v->leader)) {
		uint8_t *b;
		uint32_t blen;
		rc = fetch_export(c, v, v->leader, vid, &b, &blen);
		if (rc == SD_RES_SUCCESS) {
			rc = import_bytes(c, b, blen, "the leader");
			free(b);
		}
		if (rc == SD_RES_SUCCESS)
			rc = store_vdi_export(c->store, vid, &exp, &elen);
	}
	if (rc != SD_RES_SUCCESS)
		return rc;
	if (node_view_is_self(v, target)) {
		rc = import_bytes(c, exp, (uint32_t)elen, "ourselves");
	} else {
		struct peer_call pc;
		struct peer_prefix pre;
		peer_call_init(&pc, &v->m[target].data, SD_OP_PEER_VDI_PUT, 0, 0, (uint32_t)v->scalar);
		node__prefix(&pre, v, 0, 0);
		rc = peer_call(&c->repl->peers, &pc, &pre, exp, (uint32_t)elen);
	}
	free(exp);
	return rc;
}

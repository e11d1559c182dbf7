/* dispatch.c: see dispatch.h. Wire rules from spec §1.2, §2, §3, §5-§6, §11. */
#include "node/dispatch.h"
#include "node/dispatch_locks.h"
#include "node/dispatch_objects.h"
#include "node/config.h"
#include "node/gossip.h"
#include "node/repl.h"
#include "node/recovery.h"
#include "store/store.h"

#include <stdio.h>
#include <sys/statvfs.h>
#include <stdlib.h>
#include <string.h>

/* Requests whose payload may exceed the names' 512 bytes are object writes
 * only; VDI requests carry at most name + tag. */
#define VDI_PAYLOAD_MAX 512

int node_dispatch_check(const struct node_ctx *ctx, const struct sd_req *h,
			enum node_bad_reason *why)
{
	int write = (h->flags & SD_FLAG_CMD_WRITE) != 0;

	/* framing first: a payload we will not buffer loses the stream */
	if (write && h->data_length > ctx->max_request && !sd_op_is_peer(h->opcode)) {
		*why = NODE_BAD_OVERSIZE_WRITE;
		return NODE_CHECK_CLOSE;
	}
	/* §2.6 applies below 0x80; daemon opcodes above carried 0x0a and get
	 * INVALID_PARMS like any opcode we do not serve (§10) */
	if (h->proto_ver > SD_PROTO_VER_MAX && (h->opcode < 0x80 || h->opcode == SD_OP_SM_STATUS ||
						       h->opcode == SD_OP_SM_MEMBERS || h->opcode == SD_OP_SM_RING ||
						       h->opcode == SD_OP_SM_LOCKS ||
						       node_dispatch_objects_op(h->opcode))) {
		*why = NODE_BAD_VERSION;
		return SD_RES_VER_MISMATCH;
	}
	if (sd_op_is_peer(h->opcode)) {
		if (write && h->data_length > ctx->max_peer_request) {
			*why = NODE_BAD_OVERSIZE_WRITE;
			return NODE_CHECK_CLOSE;
		}
		/* an old daemon's 0x0a-era opcode in our range: not ours (§10) */
		if (h->proto_ver > SD_PROTO_VER_MAX) {
			*why = NODE_BAD_OPCODE;
			return SD_RES_INVALID_PARMS;
		}
		if (!write || h->data_length < PEER_PREFIX_LEN) {
			*why = write ? NODE_BAD_LENGTH : NODE_BAD_FLAGS;
			return SD_RES_INVALID_PARMS;
		}
		return 0;
	}
	switch (h->opcode) {
	case SD_OP_CREATE_AND_WRITE_OBJ:
	case SD_OP_WRITE_OBJ:
		if (!write) {
			*why = NODE_BAD_FLAGS;
			return SD_RES_INVALID_PARMS;
		}
		return 0;
	case SD_OP_READ_OBJ:
		if (write) {
			*why = NODE_BAD_FLAGS;
			return SD_RES_INVALID_PARMS;
		}
		if (h->data_length > ctx->max_request) {
			*why = NODE_BAD_OVERSIZE_READ;
			return SD_RES_INVALID_PARMS;
		}
		return 0;
	case SD_OP_NEW_VDI:
		if (!write || h->data_length != SD_NAME_LEN) {
			*why = write ? NODE_BAD_LENGTH : NODE_BAD_FLAGS;
			return SD_RES_INVALID_PARMS;
		}
		return 0;
	case SD_OP_LOCK_VDI:
	case SD_OP_GET_VDI_INFO:
	case SD_OP_DEL_VDI:
		if (!write || (h->data_length != SD_NAME_LEN && h->data_length != SD_NAME_LEN + SD_TAG_LEN)) {
			*why = write ? NODE_BAD_LENGTH : NODE_BAD_FLAGS;
			return SD_RES_INVALID_PARMS;
		}
		return 0;
	case SD_OP_RELEASE_VDI:
		/* payload (the name) is ignored, as the daemon did (§2.4) */
		if (write && h->data_length > VDI_PAYLOAD_MAX) {
			*why = NODE_BAD_LENGTH;
			return SD_RES_INVALID_PARMS;
		}
		return 0;
	case SD_OP_READ_VDIS:
		if (write || h->data_length != SD_BITMAP_SIZE) {
			*why = write ? NODE_BAD_FLAGS : NODE_BAD_LENGTH;
			return SD_RES_INVALID_PARMS;
		}
		return 0;
	case SD_OP_FLUSH_VDI:
	case SD_OP_GET_CLUSTER_DEFAULT:
		/* nothing to read back; a payload would be discarded by the caller */
		if (write && h->data_length) {
			*why = NODE_BAD_FLAGS;
			return SD_RES_INVALID_PARMS;
		}
		return 0;
	case SD_OP_SM_STATUS:
	case SD_OP_SM_MEMBERS:
	case SD_OP_SM_RING:
	case SD_OP_SM_LOCKS:
		if (write) {
			*why = NODE_BAD_FLAGS;
			return SD_RES_INVALID_PARMS;
		}
		if (h->data_length > ctx->max_request) {
			*why = NODE_BAD_OVERSIZE_READ;
			return SD_RES_INVALID_PARMS;
		}
		return 0;
	case SD_OP_SM_OBJECTS:
	case SD_OP_SM_RECOVER:
		return node_dispatch_objects_check(ctx, h, why);
	default:
		/* REMOVE_OBJ, DISCARD_OBJ, daemon opcodes >= 0x80: not served (§3.1, §10) */
		*why = NODE_BAD_OPCODE;
		return SD_RES_INVALID_PARMS;
	}
}

static void rsp_init(struct node_req *r)
{
	memset(&r->rsp, 0, sizeof(r->rsp));
	r->rsp.proto_ver = SD_PROTO_VER;
	r->rsp.opcode = r->hdr.opcode;
	r->rsp.id = r->hdr.id;
}

void node_dispatch_fail(struct node_req *r, uint32_t result)
{
	free(r->out);
	r->out = NULL;
	r->out_len = 0;
	rsp_init(r);
	r->rsp.result = result;
}

/* Only codes QEMU knows may leave the node (§3.3, §11.19). */
static uint32_t result_checked(struct node_req *r, int res)
{
	if (res < 0 || res > SD_RES_READONLY) {
		node_log_limited(r->ctx->log, NODE_LIMIT_STORE_RESULT, NODE_LOG_ERR,
				 "store returned result %d for %s: answering EIO", res,
				 sd_opcode_name(r->hdr.opcode));
		return SD_RES_EIO;
	}
	return (uint32_t)res;
}

static void vdi_req_fill(struct store_vdi_req *v, const struct node_req *r)
{
	memset(v, 0, sizeof(*v));
	if (r->in_len >= SD_NAME_LEN)
		memcpy(v->name, r->in, SD_NAME_LEN);
	if (r->in_len >= SD_NAME_LEN + SD_TAG_LEN)
		memcpy(v->tag, r->in + SD_NAME_LEN, SD_TAG_LEN);
	v->snapid = r->hdr.vdi.snapid;
	v->vdi_size = r->hdr.vdi.vdi_size;
	v->base_vid = r->hdr.vdi.base_vdi_id;
	v->copies = r->hdr.vdi.copies;
	v->copy_policy = r->hdr.vdi.copy_policy;
	v->store_policy = r->hdr.vdi.store_policy;
	v->block_size_shift = r->hdr.vdi.block_size_shift;
	v->snapshot = r->hdr.vdi.snapid != 0;
	v->lock_type = r->hdr.vdi.type;
}

static int run_status(struct node_req *r)
{
	struct node_ctx *c = r->ctx;
	struct store_stats st;
	char *doc;
	size_t cap = 8192, n;

	if (store_get_stats(c->store, &st) != 0)
		memset(&st, 0, sizeof(st));
	if (!(doc = malloc(cap)))
		return SD_RES_NO_MEM;
	n = (size_t)snprintf(doc, cap,
		"{\"version\":\"%s\",\"backend\":\"%s\",\"vdis\":%llu,\"objects\":%llu,"
		"\"bytes\":%llu,\"connections\":%llu,\"inflight\":%llu,\"requests\":%llu,"
		"\"refused_connections\":%llu,\"buffered_bytes\":%llu,\"bad_requests\":{",
		SHEEPNODE_VERSION, store_backend_name(c->store),
		(unsigned long long)st.vdis, (unsigned long long)st.objects,
		(unsigned long long)st.bytes, (unsigned long long)atomic_load(&c->connections),
		(unsigned long long)atomic_load(&c->inflight),
		(unsigned long long)atomic_load(&c->requests),
		(unsigned long long)atomic_load(&c->refused),
		(unsigned long long)atomic_load(&c->buffered));
	for (int i = 0; i < NODE_BAD_COUNT && n < cap; i++)
		n += (size_t)snprintf(doc + n, cap - n, "%s\"%s\":%llu", i ? "," : "",
				      node_bad_reason_name(i),
				      (unsigned long long)node_log_bad_count(c->log, i));
	if (n < cap)
		n += (size_t)snprintf(doc + n, cap - n, "}");
	struct statvfs fs;   /* the data directory's file system: node list's CAPACITY */
	if (n < cap && statvfs(store_dir(c->store), &fs) == 0)
		n += (size_t)snprintf(doc + n, cap - n, ",\"disk_total\":%llu,\"disk_avail\":%llu",
				      (unsigned long long)fs.f_blocks * fs.f_frsize,
				      (unsigned long long)fs.f_bavail * fs.f_frsize);
	/* one sub-object per module that is present: ,"name":{...} */
#define STATUS_SECTION(name, fn, obj)                                                  \
	do {                                                                           \
		if (n < cap && (obj)) {                                                \
			n += (size_t)snprintf(doc + n, cap - n, ",\"" name "\":");         \
			int k = n < cap ? fn((obj), doc + n, cap - n) : -1;              \
			n = k < 0 ? cap : n + (size_t)k;                                 \
		}                                                                      \
	} while (0)
	STATUS_SECTION("gossip", node_gossip_status_json, c->gossip);
	STATUS_SECTION("ring", node_gossip_ring_json, c->gossip);
	STATUS_SECTION("recovery", node_recovery_status_json, c->recovery);
	STATUS_SECTION("repl", node_repl_status_json, c->repl);
#undef STATUS_SECTION
	if (n < cap)
		n += (size_t)snprintf(doc + n, cap - n, "}\n");
	if (n >= cap) {
		free(doc);
		return SD_RES_SYSTEM_ERROR;
	}
	/* the request's data_length is the reply buffer the client offers */
	if (n > r->hdr.data_length) {
		free(doc);
		return SD_RES_INVALID_PARMS;
	}
	r->out = (uint8_t *)doc;
	r->out_len = (uint32_t)n;
	return SD_RES_SUCCESS;
}

/* SM_MEMBERS: the gossip view as JSON (schema in node/gossip.h). */
static int run_members(struct node_req *r)
{
	size_t n;
	char *doc;

	if (!r->ctx->gossip)
		return SD_RES_SYSTEM_ERROR;
	if (!(doc = node_gossip_members_json(r->ctx->gossip, &n)))
		return SD_RES_NO_MEM;
	/* the request's data_length is the reply buffer the client offers */
	if (n > r->hdr.data_length || n > UINT32_MAX) {
		free(doc);
		return SD_RES_INVALID_PARMS;
	}
	r->out = (uint8_t *)doc;
	r->out_len = (uint32_t)n;
	return SD_RES_SUCCESS;
}

static int run_read_obj(struct node_req *r)
{
	uint32_t len = r->hdr.data_length;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		node_log_bad(r->ctx->log, NODE_BAD_NO_MEM, "READ_OBJ of %u bytes: out of memory", len);
		return SD_RES_NO_MEM;
	}
	int res = store_read_obj(r->ctx->store, r->hdr.obj.oid, r->hdr.obj.offset, len, buf);
	if (res != SD_RES_SUCCESS) {
		free(buf);
		return res;
	}
	r->out = buf;
	r->out_len = len;
	return res;
}

int node__dispatch_local(struct node_req *r, struct store_vdi_rsp *vrsp, int *vdi)
{
	struct store *st = r->ctx->store;
	const struct sd_req *h = &r->hdr;
	struct store_vdi_req vreq;
	static const uint8_t no_payload[1];
	/* zero-length writes are valid (§6.2); never hand the store a NULL */
	const void *in = r->in ? (const void *)r->in : no_payload;
	int res;

	*vdi = 0;
	switch (h->opcode) {
	case SD_OP_READ_OBJ:
		res = run_read_obj(r);
		break;
	case SD_OP_WRITE_OBJ:
		res = store_write_obj(st, h->obj.oid, h->obj.offset, r->in_len, in);
		break;
	case SD_OP_CREATE_AND_WRITE_OBJ:
		res = store_create_and_write_obj(st, h->obj.oid, (h->flags & SD_FLAG_CMD_COW) != 0,
						 h->obj.cow_oid, h->obj.offset, r->in_len, in);
		break;
	case SD_OP_FLUSH_VDI:
		res = store_flush_vdi(st, h->obj.oid);
		break;
	case SD_OP_NEW_VDI:
		vdi_req_fill(&vreq, r);
		res = store_new_vdi(st, &vreq, vrsp);
		*vdi = 1;
		break;
	case SD_OP_GET_VDI_INFO:
		vdi_req_fill(&vreq, r);
		res = store_get_vdi_info(st, &vreq, vrsp);
		*vdi = 1;
		break;
	case SD_OP_LOCK_VDI:
		vdi_req_fill(&vreq, r);
		res = store_lock_vdi(st, &vreq, vrsp);
		*vdi = 1;
		break;
	case SD_OP_DEL_VDI:
		vdi_req_fill(&vreq, r);
		res = store_del_vdi(st, &vreq, vrsp);
		*vdi = 1;
		break;
	case SD_OP_RELEASE_VDI:
		res = store_release_vdi(st, h->vdi.base_vdi_id, h->vdi.type);
		break;
	case SD_OP_READ_VDIS:
		if (!(r->out = calloc(1, SD_BITMAP_SIZE))) {
			node_log_bad(r->ctx->log, NODE_BAD_NO_MEM, "READ_VDIS: out of memory");
			res = SD_RES_NO_MEM;
			break;
		}
		/* QEMU ignores the result (§5.8): the bitmap goes out whatever it is */
		res = store_read_vdis(st, r->out);
		r->out_len = SD_BITMAP_SIZE;
		break;
	case SD_OP_GET_CLUSTER_DEFAULT:
		store_cluster_default(st, &r->rsp.cluster.nr_copies, &r->rsp.cluster.copy_policy,
				      &r->rsp.cluster.block_size_shift);
		res = SD_RES_SUCCESS;
		break;
	case SD_OP_SM_STATUS:
		res = run_status(r);
		break;
	case SD_OP_SM_MEMBERS:
		res = run_members(r);
		break;
	case SD_OP_SM_RING:
		res = node_dispatch_ring_run(r);
		break;
	case SD_OP_SM_LOCKS:
		res = node_dispatch_locks_run(r);
		break;
	case SD_OP_SM_OBJECTS:
	case SD_OP_SM_RECOVER:
		res = node_dispatch_objects_run(r);
		break;
	default:
		res = SD_RES_INVALID_PARMS;   /* node_dispatch_check keeps these out */
		break;
	}
	return res;
}

void node__dispatch_finish(struct node_req *r, int res, const struct store_vdi_rsp *vrsp, int vdi)
{
	const struct sd_req *h = &r->hdr;
	uint32_t result = result_checked(r, res);

	if (result != SD_RES_SUCCESS && h->opcode != SD_OP_READ_VDIS) {
		node_dispatch_fail(r, result);
		return;
	}
	r->rsp.result = result;
	r->rsp.data_length = r->out_len;
	if (vdi) {
		r->rsp.vdi.vdi_id = vrsp->vid;
		r->rsp.vdi.copies = vrsp->copies;
		r->rsp.vdi.block_size_shift = vrsp->block_size_shift;
	} else if (!sd_op_is_vdi(h->opcode)) {
		r->rsp.obj.copies = h->obj.copies;
	}
}

void node_dispatch_run(struct node_job *job)
{
	struct node_req *r = (struct node_req *)job;
	struct store_vdi_rsp vrsp = { 0 };
	int res, vdi = 0;

	rsp_init(r);
	if (sd_op_is_peer(r->hdr.opcode)) {
		/* peers get our internal codes as they are (node/peer.h) */
		if (!r->ctx->repl) {
			node_dispatch_fail(r, SD_RES_INVALID_PARMS);
			return;
		}
		res = node_repl_serve(r);
		if (res != SD_RES_SUCCESS) {
			uint32_t epoch = r->rsp.epoch;
			node_dispatch_fail(r, (uint32_t)res);
			r->rsp.epoch = epoch;
			return;
		}
		r->rsp.result = SD_RES_SUCCESS;
		r->rsp.data_length = r->out_len;
		return;
	}
	if (!r->ctx->repl || !node_repl_route(r, &vrsp, &vdi, &res))
		res = node__dispatch_local(r, &vrsp, &vdi);
	node__dispatch_finish(r, res, &vrsp, vdi);
}

void node_dispatch_encode(struct node_req *r)
{
	r->rsp.data_length = r->out_len;
	sd_rsp_encode(r->rsp_buf, &r->rsp);
}

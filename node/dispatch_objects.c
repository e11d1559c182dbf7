/*
 * dispatch_objects.c: SD_OP_SM_OBJECTS and SD_OP_SM_RECOVER, see
 * dispatch_objects.h.
 *
 * The page is written straight into one buffer of the client's size: each
 * entry is formatted on the stack first and appended only if it and the
 * closing `],"next":"<16 hex>"}` still fit, so the document is always
 * complete and never larger than offered. Whether the object file exists
 * is asked of the store with a one-byte read (the store's public API has no
 * exists call; the read costs one open + pread of a cached page).
 */
#include "node/dispatch_objects.h"
#include "node/recovery.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `],"next":"0123456789abcdef"}` */
#define TAIL_MAX 32
#define ENTRY_MAX 256

int node_dispatch_objects_op(uint8_t op)
{
	return op == SD_OP_SM_OBJECTS || op == SD_OP_SM_RECOVER;
}

int node_dispatch_objects_check(const struct node_ctx *ctx, const struct sd_req *h,
				enum node_bad_reason *why)
{
	if (h->flags & SD_FLAG_CMD_WRITE) {
		*why = NODE_BAD_FLAGS;
		return SD_RES_INVALID_PARMS;
	}
	if (h->opcode == SD_OP_SM_RECOVER) {
		if (h->data_length) {
			*why = NODE_BAD_LENGTH;
			return SD_RES_INVALID_PARMS;
		}
		return 0;
	}
	if (h->data_length > ctx->max_request) {
		*why = NODE_BAD_OVERSIZE_READ;
		return SD_RES_INVALID_PARMS;
	}
	if (h->data_length < SM_OBJECTS_MIN_REPLY) {
		*why = NODE_BAD_LENGTH;
		return SD_RES_INVALID_PARMS;
	}
	return 0;
}

static int obj_is_plain(uint64_t oid)
{
	return sd_oid_is_data(oid) || sd_oid_is_vmstate(oid);
}

/* 1 if the object file is there, 0 if gone, -1 if unknown (read error). */
static int file_present(struct store *st, uint64_t oid)
{
	uint8_t b;
	int r = store_read_obj(st, oid, 0, 1, &b);

	return r == SD_RES_SUCCESS ? 1 : r == SD_RES_NO_OBJ ? 0 : -1;
}

struct page {
	struct store *st;
	char *buf;
	size_t cap, len, count;
	uint64_t next;
	int more;
};

static int page_add(void *arg, const struct store_obj_info *o)
{
	struct page *p = arg;
	char e[ENTRY_MAX];
	int n;

	if (!obj_is_plain(o->oid))
		return 0;
	n = snprintf(e, sizeof(e), "%s{\"oid\":\"%016" PRIx64 "\",\"size\":%" PRIu64 ",\"version\":%" PRIu64
		     ",\"csum_valid\":%s", p->count ? "," : "", o->oid, o->size, o->version,
		     o->csum_valid ? "true" : "false");
	if (o->csum_valid) {
		memcpy(e + n, ",\"csum\":\"", 9);
		n += 9;
		for (int i = 0; i < 32; i++)
			n += snprintf(e + n, sizeof(e) - (size_t)n, "%02x", o->csum[i]);
		e[n++] = '"';
	}
	n += snprintf(e + n, sizeof(e) - (size_t)n, ",\"file\":%s}",
		      file_present(p->st, o->oid) == 0 ? "false" : "true");
	if (p->len + (size_t)n + TAIL_MAX > p->cap) {
		p->more = 1;
		p->next = o->oid;
		return 1;
	}
	memcpy(p->buf + p->len, e, (size_t)n);
	p->len += (size_t)n;
	p->count++;
	return 0;
}

int node_dispatch_objects_json(struct store *st, uint64_t from, size_t max, char **doc, size_t *len,
			       size_t *count)
{
	struct page p = { .st = st, .cap = max };
	int rc;

	*doc = NULL;
	*len = 0;
	*count = 0;
	if (max < SM_OBJECTS_MIN_REPLY)
		return -EINVAL;
	if (!(p.buf = malloc(max)))
		return -ENOMEM;
	p.len = (size_t)snprintf(p.buf, max, "{\"objects\":[");
	rc = store_obj_list(st, from, page_add, &p);
	if (rc) {
		free(p.buf);
		return rc;
	}
	if (p.more)
		p.len += (size_t)snprintf(p.buf + p.len, max - p.len, "],\"next\":\"%016" PRIx64 "\"}", p.next);
	else
		p.len += (size_t)snprintf(p.buf + p.len, max - p.len, "],\"next\":null}");
	*doc = p.buf;
	*len = p.len;
	*count = p.count;
	return 0;
}

struct missing {
	uint64_t *oids;
	size_t n, cap;
	struct store *st;
};

static int missing_add(void *arg, const struct store_obj_info *o)
{
	struct missing *m = arg;

	if (!obj_is_plain(o->oid) || file_present(m->st, o->oid) != 0)
		return 0;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		uint64_t *a = realloc(m->oids, cap * sizeof(*a));
		if (!a)
			return 1;
		m->oids = a;
		m->cap = cap;
	}
	m->oids[m->n++] = o->oid;
	return 0;
}

int node_dispatch_objects_drop_missing(struct store *st)
{
	struct missing m = { .st = st };
	int rc = store_obj_list(st, 0, missing_add, &m), dropped = 0;

	/* removal after the walk: store_obj_list's callback may call the
	 * store, but a walk that deletes under itself is harder to reason about */
	for (size_t i = 0; !rc && i < m.n; i++) {
		/* re-checked: a recovery put may have installed it meanwhile */
		if (file_present(st, m.oids[i]) == 0 && store_obj_remove(st, m.oids[i]) == SD_RES_SUCCESS)
			dropped++;
	}
	free(m.oids);
	return rc ? rc : dropped;
}

static int run_objects(struct node_req *r)
{
	struct node_ctx *c = r->ctx;
	char *doc;
	size_t len, count;
	int rc = node_dispatch_objects_json(c->store, r->hdr.obj.oid, r->hdr.data_length, &doc, &len, &count);

	switch (rc) {
	case 0:
		break;
	case -EINVAL:       /* node_dispatch_check keeps these out */
		return SD_RES_INVALID_PARMS;
	case -ENOMEM:
		return SD_RES_NO_MEM;
	default:
		node_log_limited(c->log, NODE_LIMIT_STORE_RESULT, NODE_LOG_ERR,
				 "SM_OBJECTS: cannot list the objects: %s", strerror(-rc));
		return SD_RES_EIO;
	}
	r->out = (uint8_t *)doc;
	r->out_len = (uint32_t)len;
	return SD_RES_SUCCESS;
}

static int run_recover(struct node_req *r)
{
	struct node_ctx *c = r->ctx;

	if (!c->recovery)
		return SD_RES_SYSTEM_ERROR;
	int dropped = node_dispatch_objects_drop_missing(c->store);
	if (dropped < 0)
		node_log_limited(c->log, NODE_LIMIT_STORE_RESULT, NODE_LOG_ERR,
				 "SM_RECOVER: cannot look for missing object files: %s", strerror(-dropped));
	else if (dropped > 0)
		node_log(c->log, NODE_LOG_WARN, "SM_RECOVER: %d object file(s) gone from disk: their "
			 "index records are dropped so recovery brings the copies back", dropped);
	node_log(c->log, NODE_LOG_INFO, "SM_RECOVER: recovery pass requested");
	node_recovery_kick(c->recovery);
	return SD_RES_SUCCESS;
}

int node_dispatch_objects_run(struct node_req *r)
{
	return r->hdr.opcode == SD_OP_SM_OBJECTS ? run_objects(r) : run_recover(r);
}

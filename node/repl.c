/* repl.c: the gateway half of node/repl.h: routing client requests by the
 * ring, waiting out ring changes, read fallback and write-time repair. */
#include "node/repl.h"
#include "node/dispatch.h"
#include "node/repl_int.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int node_repl_init(struct node_repl *rp, unsigned retry_ms)
{
	memset(rp, 0, sizeof(*rp));
	rp->retry_ms = retry_ms ? retry_ms : REPL_RETRY_MS_DEFAULT;
	if (node_views_init(&rp->views) < 0)
		return -ENOMEM;
	if (peer_pool_init(&rp->peers, REPL_PEER_TIMEOUT_MS) < 0) {
		node_views_fini(&rp->views);
		return -ENOMEM;
	}
	pthread_mutex_init(&rp->hlc_mu, NULL);
	pthread_mutex_init(&rp->cat_mu, NULL);
	pthread_mutex_init(&rp->ver_mu, NULL);
	return 0;
}

void node_repl_fini(struct node_repl *rp)
{
	peer_pool_fini(&rp->peers);
	node_views_fini(&rp->views);
	pthread_mutex_destroy(&rp->hlc_mu);
	pthread_mutex_destroy(&rp->cat_mu);
	pthread_mutex_destroy(&rp->ver_mu);
	free(rp->verified);
}

uint64_t node__mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t node_repl_hlc(struct node_repl *rp)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t v = ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) << 16;
	pthread_mutex_lock(&rp->hlc_mu);
	if (v <= rp->hlc_last)
		v = rp->hlc_last + 1;
	rp->hlc_last = v;
	pthread_mutex_unlock(&rp->hlc_mu);
	return v;
}

void node_repl_start(struct node_repl *rp, uint64_t last_stored_version)
{
	node__repl_observe(rp, last_stored_version);
	atomic_store(&rp->join_ver, node_repl_hlc(rp));
}

static uint64_t join_point(struct node_repl *rp)
{
	uint64_t j = atomic_load(&rp->join_ver), rj = atomic_load(&rp->views.rejoin_ver);

	return rj > j ? rj : j;
}

/* ver_mu held: forget the set if the join point moved */
static void ver_refresh(struct node_repl *rp, uint64_t jp)
{
	if (rp->ver_join != jp) {
		if (rp->verified)
			memset(rp->verified, 0, rp->ver_cap * sizeof(uint64_t));
		rp->ver_n = 0;
		rp->ver_join = jp;
	}
}

/* oid 0 is a valid oid but never a data object of a live VDI (vid 0 is
 * never allocated, spec 5.3), so 0 marks an empty slot */
static size_t ver_slot(uint64_t oid, size_t cap)
{
	return (size_t)((oid * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

static int ver_has(struct node_repl *rp, uint64_t oid)
{
	if (!rp->ver_n)
		return 0;
	for (size_t i = ver_slot(oid, rp->ver_cap);; i = (i + 1) & (rp->ver_cap - 1)) {
		if (rp->verified[i] == oid)
			return 1;
		if (rp->verified[i] == 0)
			return 0;
	}
}

void node_repl_verified(struct node_repl *rp, uint64_t oid)
{
	if (oid == 0)
		return;
	pthread_mutex_lock(&rp->ver_mu);
	ver_refresh(rp, join_point(rp));
	if (2 * (rp->ver_n + 1) > rp->ver_cap) {
		size_t cap = rp->ver_cap ? 2 * rp->ver_cap : 1024;
		uint64_t *a = calloc(cap, sizeof(*a));
		if (!a) {
			pthread_mutex_unlock(&rp->ver_mu);
			return;      /* it stays suspect: slower, still correct */
		}
		for (size_t i = 0; i < rp->ver_cap; i++) {
			if (!rp->verified[i])
				continue;
			size_t k = ver_slot(rp->verified[i], cap);
			while (a[k])
				k = (k + 1) & (cap - 1);
			a[k] = rp->verified[i];
		}
		free(rp->verified);
		rp->verified = a;
		rp->ver_cap = cap;
	}
	if (!ver_has(rp, oid)) {
		size_t k = ver_slot(oid, rp->ver_cap);
		while (rp->verified[k])
			k = (k + 1) & (rp->ver_cap - 1);
		rp->verified[k] = oid;
		rp->ver_n++;
	}
	pthread_mutex_unlock(&rp->ver_mu);
}

int node_repl_unverified(struct node_repl *rp, uint64_t oid, uint64_t version)
{
	uint64_t jp = join_point(rp);

	if (version >= jp)
		return 0;
	pthread_mutex_lock(&rp->ver_mu);
	ver_refresh(rp, jp);
	int known = ver_has(rp, oid);
	pthread_mutex_unlock(&rp->ver_mu);
	return !known;
}

void node__repl_observe(struct node_repl *rp, uint64_t version)
{
	pthread_mutex_lock(&rp->hlc_mu);
	if (version > rp->hlc_last)
		rp->hlc_last = version;
	pthread_mutex_unlock(&rp->hlc_mu);
}

/* A request failed in a way a new ring may cure: wait for one (at most
 * REPL_SAME_VIEW_RETRY_MS, then try again on the same ring: a restarted
 * peer keeps its place). Swaps *v; 0, or -ETIMEDOUT past the deadline. */
int node__repl_wait(struct node_repl *rp, struct node_view **v, uint64_t deadline)
{
	uint64_t now = node__mono_ms();

	if (now >= deadline)
		return -ETIMEDOUT;
	uint64_t wait = deadline - now < REPL_SAME_VIEW_RETRY_MS ? deadline - now : REPL_SAME_VIEW_RETRY_MS;
	struct node_view *nv = node_views_wait(&rp->views, *v, (unsigned)wait);
	atomic_fetch_add(&rp->waits, 1);
	node_view_put(*v);
	*v = nv;
	return nv ? 0 : -ETIMEDOUT;
}

/* Retry-worthy peer outcomes: another ring, or the peer not answering. */
static int transient(int rc)
{
	return rc < 0 || rc == SD_RES_SM_RING_STALE || rc == SD_RES_SM_NEED_VDI;
}

void node__prefix(struct peer_prefix *p, const struct node_view *v, uint64_t version, uint32_t arg)
{
	memcpy(p->digest, v->digest, RING_DIGEST_LEN);
	p->version = version;
	p->arg = arg;
}

/* ---- reads ---- */

/* Local read of len bytes (0 = the whole object) into a new buffer, with
 * the copy's version and whether it predates our (re)join. */
int node__local_get(struct node_ctx *c, uint64_t oid, uint64_t off, uint32_t len, struct repl_got *g)
{
	struct store_obj_info oi;
	int rc = store_obj_stat(c->store, oid, &oi);

	memset(g, 0, sizeof(*g));
	if (rc != SD_RES_SUCCESS)
		return rc;
	if (len == 0) {
		if (oi.size > UINT32_MAX || off > oi.size)
			return SD_RES_EIO;
		len = (uint32_t)(oi.size - off);
	}
	uint8_t *b = malloc(len ? len : 1);
	if (!b)
		return SD_RES_NO_MEM;
	rc = store_read_obj(c->store, oid, off, len, b);
	if (rc != SD_RES_SUCCESS) {
		free(b);
		return rc;
	}
	g->b = b;
	g->len = len;
	g->version = oi.version;
	g->unverified = c->repl ? node_repl_unverified(c->repl, oid, oi.version) : 0;
	return SD_RES_SUCCESS;
}

int node__remote_get(struct node_ctx *c, const struct node_view *v, const struct swim_addr *to,
		      uint64_t oid, uint64_t off, uint32_t len, struct repl_got *g)
{
	struct peer_call pc;
	struct peer_prefix pre;
	size_t cap = (len ? len : c->max_request) + PEER_READ_VERSION_LEN;
	uint8_t *b = malloc(cap);

	memset(g, 0, sizeof(*g));
	if (!b)
		return SD_RES_NO_MEM;
	peer_call_init(&pc, to, SD_OP_PEER_READ_OBJ, oid, off, (uint32_t)v->scalar);
	pc.rbuf = b;
	pc.rcap = cap;
	node__prefix(&pre, v, 0, len);
	int rc = peer_call(&c->repl->peers, &pc, &pre, NULL, 0);
	if (rc == SD_RES_SUCCESS && (pc.rsp.data_length < PEER_READ_VERSION_LEN ||
				     (len && pc.rsp.data_length != len + PEER_READ_VERSION_LEN)))
		rc = -EPROTO;
	if (rc != SD_RES_SUCCESS) {
		free(b);
		return rc;
	}
	g->version = sd_get64(b);
	g->len = pc.rsp.data_length - PEER_READ_VERSION_LEN;
	memmove(b, b + PEER_READ_VERSION_LEN, g->len);
	g->b = b;
	g->unverified = (pc.rsp.flags & PEER_RSP_UNVERIFIED) != 0;
	return SD_RES_SUCCESS;
}

/* Where a read may find oid: the current replicas (this node first), then
 * its holders under the previous ring (not recovered yet). */
struct read_plan {
	uint32_t n;
	struct { struct swim_addr a; int self; int current; } c[2 * RING_MAX_COPIES];
};

static void plan_add(struct read_plan *p, const struct node_view *v, uint32_t idx, int current)
{
	const struct node_view_member *m = &v->m[idx];

	for (uint32_t i = 0; i < p->n; i++)
		if (!memcmp(&p->c[i].a, &m->data, sizeof(m->data)))
			return;
	if (p->n == 2 * RING_MAX_COPIES)
		return;
	p->c[p->n].a = m->data;
	p->c[p->n].self = node_view_is_self(v, idx);
	p->c[p->n].current = current;
	p->n++;
}

static void read_plan(struct read_plan *p, const struct node_view *v, uint64_t oid, unsigned copies)
{
	uint32_t idx[RING_MAX_COPIES];
	int n = node_view_locate(v, oid, copies, idx);

	p->n = 0;
	for (int i = 0; i < n; i++)
		if (node_view_is_self(v, idx[i]))
			plan_add(p, v, idx[i], 1);
	for (int i = 0; i < n; i++)
		plan_add(p, v, idx[i], 1);
	if (v->prev) {
		const struct node_view *pv = v->prev;
		n = node_view_locate(pv, oid, copies, idx);
		for (int i = 0; i < n; i++)
			plan_add(p, pv, idx[i], 0);
	}
}

/* Reads len bytes (0 = whole object) of oid from some replica: the first
 * copy that is not suspect of being stale, else the newest copy found. */
int node__repl_read(struct node_req *r, struct node_view **vp, uint64_t oid, uint64_t off,
		    uint32_t len, unsigned copies, uint8_t **out, uint32_t *out_len)
{
	struct node_ctx *c = r->ctx;
	struct node_repl *rp = c->repl;
	uint64_t deadline = node__mono_ms() + rp->retry_ms;
	struct read_plan plan;
	int last = SD_RES_NO_OBJ;

	for (;;) {
		int unsure = 0;
		struct repl_got best = { 0 }, g;

		read_plan(&plan, *vp, oid, copies);
		for (uint32_t i = 0; i < plan.n; i++) {
			int rc = plan.c[i].self ? node__local_get(c, oid, off, len, &g)
						: node__remote_get(c, *vp, &plan.c[i].a, oid, off, len, &g);
			if (rc == SD_RES_SUCCESS && !g.unverified) {
				free(best.b);
				if (i)
					atomic_fetch_add(&rp->read_fallbacks, 1);
				*out = g.b;
				*out_len = g.len;
				return rc;
			}
			if (rc == SD_RES_SUCCESS) {
				if (!best.b || g.version > best.version) {
					free(best.b);
					best = g;
				} else {
					free(g.b);
				}
				continue;
			}
			if (rc == SD_RES_NO_OBJ)
				continue;
			if (transient(rc) || rc == SD_RES_NO_VDI || rc == SD_RES_EIO) {
				if (plan.c[i].current)
					unsure++;
				last = rc < 0 ? SD_RES_EIO : rc;
				continue;
			}
			free(best.b);
			return rc;      /* the request itself is wrong (INVALID_PARMS...) */
		}
		if (best.b && !unsure) {
			/* every holder answered and none is above suspicion: the
			 * newest copy is the truth (versions only grow) */
			atomic_fetch_add(&rp->read_newest, 1);
			*out = best.b;
			*out_len = best.len;
			return SD_RES_SUCCESS;
		}
		free(best.b);
		if (!unsure)
			return SD_RES_NO_OBJ;
		if (node__repl_wait(rp, vp, deadline) < 0) {
			node_log_limited(c->log, NODE_LIMIT_PEER, NODE_LOG_ERR,
					 "read of %016" PRIx64 ": no replica answered within %u ms", oid, rp->retry_ms);
			return last == SD_RES_SM_RING_STALE || last == SD_RES_SM_NEED_VDI ? SD_RES_EIO : last;
		}
	}
}

/* ---- writes ---- */

/* A replica that lacks oid (it became a holder after the object was made,
 * and recovery has not brought it yet) gets the whole object from one
 * that has it, with the write already in. */
static int repair_replica(struct node_req *r, struct node_view *v, uint64_t oid, uint32_t target,
			  uint32_t source, uint64_t version)
{
	struct node_ctx *c = r->ctx;
	struct repl_got g;
	int rc = node_view_is_self(v, source) ? node__local_get(c, oid, 0, 0, &g)
					      : node__remote_get(c, v, &v->m[source].data, oid, 0, 0, &g);
	if (rc != SD_RES_SUCCESS)
		return rc;
	uint8_t *buf = g.b;
	uint32_t len = g.len;
	if (node_view_is_self(v, target)) {
		rc = store_obj_put(c->store, oid, buf, len, version);
	} else {
		struct peer_call pc;
		struct peer_prefix pre;
		peer_call_init(&pc, &v->m[target].data, SD_OP_PEER_PUT_OBJ, oid, 0, (uint32_t)v->scalar);
		node__prefix(&pre, v, version, 0);
		rc = peer_call(&c->repl->peers, &pc, &pre, buf, len);
	}
	free(buf);
	if (rc == SD_RES_SUCCESS)
		atomic_fetch_add(&c->repl->repairs, 1);
	return rc;
}

/* Every replica of oid in *vp gets the newest copy found (a fresh version),
 * so a partial write has one base everywhere. */
static int reconcile(struct node_req *r, struct node_view **vp, uint64_t oid, unsigned copies)
{
	struct node_ctx *c = r->ctx;
	uint8_t *buf;
	uint32_t len;
	uint32_t idx[RING_MAX_COPIES];
	int rc = node__repl_read(r, vp, oid, 0, 0, copies, &buf, &len);

	if (rc != SD_RES_SUCCESS)
		return rc;
	uint64_t version = node_repl_hlc(c->repl);
	struct node_view *v = *vp;
	int n = node_view_locate(v, oid, copies, idx);
	for (int i = 0; i < n && rc == SD_RES_SUCCESS; i++) {
		if (node_view_is_self(v, idx[i])) {
			rc = store_obj_put(c->store, oid, buf, len, version);
		} else {
			struct peer_call pc;
			struct peer_prefix pre;
			peer_call_init(&pc, &v->m[idx[i]].data, SD_OP_PEER_PUT_OBJ, oid, 0, (uint32_t)v->scalar);
			node__prefix(&pre, v, version, 0);
			rc = peer_call(&c->repl->peers, &pc, &pre, buf, len);
		}
	}
	free(buf);
	if (rc == SD_RES_SUCCESS)
		atomic_fetch_add(&c->repl->reconciles, 1);
	return rc;
}

/* One round: the write to every replica of v in parallel. res[i] per replica. */
static void write_round(struct node_req *r, struct node_view *v, const uint32_t *idx, int n,
			int create, uint64_t off, const uint8_t *data, uint32_t len, uint64_t version,
			int *res)
{
	struct node_ctx *c = r->ctx;
	uint64_t oid = r->hdr.obj.oid;
	struct peer_call pc[RING_MAX_COPIES];
	struct peer_prefix pre;
	int local = -1;

	node__prefix(&pre, v, version, 0);
	for (int i = 0; i < n; i++) {
		if (node_view_is_self(v, idx[i])) {
			local = i;
			continue;
		}
		peer_call_init(&pc[i], &v->m[idx[i]].data, create ? SD_OP_PEER_CREATE_OBJ : SD_OP_PEER_WRITE_OBJ,
			       oid, off, (uint32_t)v->scalar);
		peer_call_send(&c->repl->peers, &pc[i], &pre, data, len);
	}
	if (local >= 0) {
		if (!create && node__copy_unverified(c, oid))
			res[local] = SD_RES_SM_UNVERIFIED;
		else
			res[local] = create ? store_create_and_write_obj_v(c->store, oid, 0, 0, off, len, data, version)
					    : store_write_obj_v(c->store, oid, off, len, data, version);
	}
	for (int i = 0; i < n; i++)
		if (i != local)
			res[i] = peer_call_finish(&c->repl->peers, &pc[i]);
	/* the local store says NO_OBJ/NO_VDI for a VDI it has not heard of */
	if (local >= 0 && (res[local] == SD_RES_NO_VDI || res[local] == SD_RES_NO_OBJ) &&
	    !node__catalog_has(c, sd_oid_vid(oid)))
		res[local] = SD_RES_SM_NEED_VDI;
}

static int repl_write(struct node_req *r, struct node_view **vp)
{
	struct node_ctx *c = r->ctx;
	struct node_repl *rp = c->repl;
	const struct sd_req *h = &r->hdr;
	uint64_t oid = h->obj.oid, off = h->obj.offset;
	int create = h->opcode == SD_OP_CREATE_AND_WRITE_OBJ;
	const uint8_t *data = r->in ? r->in : (const uint8_t *)"";
	uint32_t len = r->in_len;
	uint8_t *whole = NULL;
	uint64_t deadline = node__mono_ms() + rp->retry_ms;
	uint64_t version = node_repl_hlc(rp);
	int result;

	if (create && (h->flags & SD_FLAG_CMD_COW)) {
		/* the copy source may live elsewhere: build the object here */
		uint32_t wlen;
		int rc = node__repl_read(r, vp, h->obj.cow_oid, 0, 0, h->obj.copies, &whole, &wlen);
		if (rc != SD_RES_SUCCESS)
			return rc;
		if (off > wlen || len > wlen - off) {
			free(whole);
			return SD_RES_INVALID_PARMS;
		}
		memcpy(whole + off, data, len);
		data = whole;
		off = 0;
		len = wlen;
	}
	for (;;) {
		struct node_view *v = *vp;
		uint32_t idx[RING_MAX_COPIES];
		int res[RING_MAX_COPIES];
		int n = node_view_locate(v, oid, h->obj.copies, idx), again = 0, fatal = 0, ok = -1, noobj = 0;

		if (n <= 0) {
			result = SD_RES_SYSTEM_ERROR;
			break;
		}
		write_round(r, v, idx, n, create, off, data, len, version, res);
		int unver = 0;
		for (int i = 0; i < n; i++) {
			if (res[i] == SD_RES_SUCCESS)
				ok = i;
			else if (res[i] == SD_RES_NO_OBJ && !create)
				noobj++;
			else if (res[i] == SD_RES_SM_UNVERIFIED)
				unver++;
		}
		if (unver && ok < 0 && unver + noobj == n) {
			/* no copy here is above suspicion: settle on the newest
			 * one everywhere first, then write on top of it */
			if (reconcile(r, vp, oid, h->obj.copies) != SD_RES_SUCCESS)
				again = 1;
			else
				again = 2;
			noobj = 0;
			goto decide;
		}
		for (int i = 0; i < n && !fatal; i++) {
			int rc = res[i];
			if (rc == SD_RES_SUCCESS)
				continue;
			if (rc == SD_RES_SM_NEED_VDI) {
				if (node__catalog_give(r, v, idx[i], sd_oid_vid(oid)) != 0)
					again = 1;
				else
					again = again ? again : 2;   /* retry at once */
			} else if ((rc == SD_RES_NO_OBJ || rc == SD_RES_SM_UNVERIFIED) && !create && ok >= 0) {
				if (repair_replica(r, v, oid, idx[i], idx[ok], version) != SD_RES_SUCCESS)
					again = 1;
			} else if (transient(rc)) {
				if (rc == SD_RES_SM_RING_STALE)
					atomic_fetch_add(&rp->stale_retries, 1);
				again = 1;
			} else if (!(rc == SD_RES_NO_OBJ && noobj < n)) {
				fatal = rc;
			}
		}
decide:
		if (fatal) {
			result = fatal;
			break;
		}
		if (noobj == n) {
			result = SD_RES_NO_OBJ;
			break;
		}
		if (!again) {
			result = SD_RES_SUCCESS;
			break;
		}
		if (again == 2 && node__mono_ms() < deadline)
			continue;
		if (node__repl_wait(rp, vp, deadline) < 0) {
			node_log_limited(c->log, NODE_LIMIT_PEER, NODE_LOG_ERR,
					 "write of %016" PRIx64 ": not every replica took it within %u ms: answering EIO",
					 oid, rp->retry_ms);
			result = SD_RES_EIO;
			break;
		}
	}
	free(whole);
	return result;
}

/* ---- routing ---- */

int node__is_meta(const struct sd_req *h)
{
	switch (h->opcode) {
	case SD_OP_NEW_VDI:
	case SD_OP_DEL_VDI:
	case SD_OP_LOCK_VDI:
	case SD_OP_RELEASE_VDI:
	case SD_OP_GET_VDI_INFO:
	case SD_OP_READ_VDIS:
		return 1;
	case SD_OP_READ_OBJ:
	case SD_OP_WRITE_OBJ:
	case SD_OP_CREATE_AND_WRITE_OBJ:
		return sd_oid_is_inode(h->obj.oid);
	default:
		return 0;
	}
}

int node_repl_route(struct node_req *r, struct store_vdi_rsp *vrsp, int *vdi, int *res)
{
	struct node_repl *rp = r->ctx->repl;
	const struct sd_req *h = &r->hdr;
	int obj = h->opcode == SD_OP_READ_OBJ || h->opcode == SD_OP_WRITE_OBJ ||
		  h->opcode == SD_OP_CREATE_AND_WRITE_OBJ;

	if (!node__is_meta(h) && !obj)
		return 0;
	struct node_view *v = node_views_get(&rp->views);
	if (node_view_alone(v)) {
		node_view_put(v);
		return 0;
	}
	if (node__is_meta(h)) {
		*res = node__catalog_route(r, &v, vrsp, vdi);
	} else if (h->opcode == SD_OP_READ_OBJ) {
		uint8_t *out = NULL;
		uint32_t n = 0;
		*vdi = 0;
		if (h->data_length == 0) {
			*res = SD_RES_SUCCESS;   /* nothing to read; the store would agree */
		} else {
			*res = node__repl_read(r, &v, h->obj.oid, h->obj.offset, h->data_length,
					       h->obj.copies, &out, &n);
			if (*res == SD_RES_SUCCESS) {
				r->out = out;
				r->out_len = n;
			}
		}
	} else {
		*vdi = 0;
		*res = repl_write(r, &v);
	}
	node_view_put(v);
	return 1;
}

int node_repl_status_json(struct node_repl *rp, char *buf, size_t cap)
{
	struct node_view *v = node_views_get(&rp->views);
	int n = snprintf(buf, cap,
			 "{\"nodes\":%u,\"leader\":%s,\"forwarded\":%" PRIuFAST64 ",\"pushes\":%" PRIuFAST64
			 ",\"push_failed\":%" PRIuFAST64 ",\"stale_refused\":%" PRIuFAST64
			 ",\"stale_retries\":%" PRIuFAST64 ",\"read_fallbacks\":%" PRIuFAST64
			 ",\"read_newest\":%" PRIuFAST64 ",\"repairs\":%" PRIuFAST64 ",\"reconciles\":%" PRIuFAST64
			 ",\"ring_waits\":%" PRIuFAST64 ",\"auth_failed\":%" PRIuFAST64 "}",
			 v ? v->nr : 0, v && v->self >= 0 && (uint32_t)v->self == v->leader ? "true" : "false",
			 atomic_load(&rp->fwd), atomic_load(&rp->pushes), atomic_load(&rp->push_failed),
			 atomic_load(&rp->stale_refused), atomic_load(&rp->stale_retries),
			 atomic_load(&rp->read_fallbacks), atomic_load(&rp->read_newest), atomic_load(&rp->repairs),
			 atomic_load(&rp->reconciles), atomic_load(&rp->waits), atomic_load(&rp->auth_failed));
	node_view_put(v);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

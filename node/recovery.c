/* recovery.c: see recovery.h. */
#include "node/recovery.h"
#include "node/dispatch.h"
#include "node/repl_int.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MS 200

struct vcopies { uint32_t vid; uint8_t copies; };

struct pass {
	struct node_recovery *rc;
	struct node_ctx *c;
	struct node_view *v;
	uint64_t *oids;
	uint64_t *sizes;        /* bytes of oids[i], for "bytes left" */
	size_t n, cap;
	struct vcopies *vc;
	size_t nvc, capvc;
	int scrub;
	uint64_t budget_start_ms, budget_bytes;
	uint8_t *diff;          /* [node index][bucket]: summaries differ; NULL = all differ */
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Rate limit: after moving `bytes`, sleep until the average is back under
 * the rate; and let client requests go first. */
static void throttle(struct pass *p, uint64_t bytes)
{
	uint64_t rate = (uint64_t)p->rc->rate_mb * 1000000u;

	p->budget_bytes += bytes;
	if (rate) {
		uint64_t due_ms = p->budget_start_ms + p->budget_bytes * 1000 / rate;
		uint64_t now = node__mono_ms();
		if (due_ms > now)
			sleep_ms((unsigned)(due_ms - now < 1000 ? due_ms - now : 1000));
	}
	for (int i = 0; i < 50 && atomic_load(&p->c->inflight) > 0; i++)
		sleep_ms(1);
}

static int collect_oid(void *ctx, const struct store_obj_info *o)
{
	struct pass *p = ctx;

	if (!(sd_oid_is_data(o->oid) || sd_oid_is_vmstate(o->oid)))
		return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 1024;
		uint64_t *a = realloc(p->oids, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		p->oids = a;
		uint64_t *b = realloc(p->sizes, cap * sizeof(*b));
		if (!b)
			return -ENOMEM;
		p->sizes = b;
		p->cap = cap;
	}
	p->sizes[p->n] = o->size;
	p->oids[p->n++] = o->oid;
	return 0;
}

static int collect_vdi(void *ctx, const struct store_vdi_info *vi)
{
	struct pass *p = ctx;

	if (p->nvc == p->capvc) {
		size_t cap = p->capvc ? 2 * p->capvc : 64;
		struct vcopies *a = realloc(p->vc, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		p->vc = a;
		p->capvc = cap;
	}
	p->vc[p->nvc].vid = vi->vid;
	p->vc[p->nvc++].copies = vi->nr_copies;
	return 0;
}

static int vc_find(const struct vcopies *vc, size_t n, uint32_t vid)
{
	size_t lo = 0, hi = n;     /* store_list_vdis gives vid order */

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (vc[mid].vid < vid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && vc[lo].vid == vid ? (vc[lo].copies ? vc[lo].copies : 3) : -1;
}

static int copies_of(const struct pass *p, uint32_t vid)
{
	return vc_find(p->vc, p->nvc, vid);
}

/* ---- summaries (anti-entropy without a request per object) ---- */

struct summ {
	struct node_view *v;
	struct vcopies *vc;
	size_t nvc;
	uint32_t only;          /* a node index, or UINT32_MAX for every node */
	uint8_t *out;           /* v->nr * PEER_SUMMARY_LEN, or one summary if only is set */
};

static int summ_cb(void *ctx, const struct store_obj_info *o)
{
	struct summ *s = ctx;
	uint32_t idx[RING_MAX_COPIES];
	uint8_t kv[16], h[PEER_SUMMARY_DIGEST];

	if (!(sd_oid_is_data(o->oid) || sd_oid_is_vmstate(o->oid)))
		return 0;
	int copies = vc_find(s->vc, s->nvc, sd_oid_vid(o->oid));
	if (copies < 0)
		return 0;
	int n = node_view_locate(s->v, o->oid, (unsigned)copies, idx), self = 0;
	for (int i = 0; i < n; i++)
		self |= node_view_is_self(s->v, idx[i]);
	if (!self)
		return 0;
	sd_put64(kv, o->oid);
	sd_put64(kv + 8, o->version);
	crypto_generichash(h, sizeof(h), kv, sizeof(kv), NULL, 0);
	unsigned b = (unsigned)(ring_oid_hash(o->oid) >> 56);
	for (int i = 0; i < n; i++) {
		if (node_view_is_self(s->v, idx[i]) || (s->only != UINT32_MAX && idx[i] != s->only))
			continue;
		uint8_t *d = s->out + (s->only == UINT32_MAX ? (size_t)idx[i] * PEER_SUMMARY_LEN : 0) +
			     (size_t)b * PEER_SUMMARY_DIGEST;
		for (int k = 0; k < PEER_SUMMARY_DIGEST; k++)
			d[k] ^= h[k];
	}
	return 0;
}

static int summarize(struct node_ctx *c, struct node_view *v, struct vcopies *vc, size_t nvc, uint32_t only,
		     uint8_t *out)
{
	struct summ s = { .v = v, .vc = vc, .nvc = nvc, .only = only, .out = out };

	memset(out, 0, only == UINT32_MAX ? (size_t)v->nr * PEER_SUMMARY_LEN : PEER_SUMMARY_LEN);
	return store_obj_list(c->store, 0, summ_cb, &s) < 0 ? SD_RES_EIO : SD_RES_SUCCESS;
}

int node__summary(struct node_ctx *c, struct node_view *v, uint32_t peer, uint8_t *out)
{
	struct pass p = { .c = c };

	if (store_list_vdis(c->store, collect_vdi, &p) < 0) {
		free(p.vc);
		return SD_RES_EIO;
	}
	int rc = summarize(c, v, p.vc, p.nvc, peer, out);
	free(p.vc);
	return rc;
}

struct peer_copy {
	int rc;                 /* SD_RES_SUCCESS, NO_OBJ, or a failure */
	uint64_t version, size;
	uint8_t csum[32];
	uint32_t flags;
};

static void stat_peer(struct pass *p, uint32_t idx, uint64_t oid, struct peer_copy *out, uint32_t arg)
{
	struct peer_call pc;
	struct peer_prefix pre;
	uint8_t buf[PEER_STAT_LEN];

	memset(out, 0, sizeof(*out));
	peer_call_init(&pc, &p->v->m[idx].data, SD_OP_PEER_STAT_OBJ, oid, 0, (uint32_t)p->v->scalar);
	pc.rbuf = buf;
	pc.rcap = sizeof(buf);
	node__prefix(&pre, p->v, 0, arg);
	out->rc = peer_call(&p->c->repl->peers, &pc, &pre, NULL, 0);
	if (out->rc == SD_RES_SUCCESS && pc.rsp.data_length != PEER_STAT_LEN)
		out->rc = -EPROTO;
	if (out->rc == SD_RES_SUCCESS) {
		out->version = sd_get64(buf);
		out->size = sd_get64(buf + 8);
		memcpy(out->csum, buf + 16, 32);
		out->flags = sd_get32(buf + 48);
	}
}

static int put_peer(struct pass *p, uint32_t idx, uint64_t oid, const uint8_t *b, uint32_t len, uint64_t version)
{
	struct peer_call pc;
	struct peer_prefix pre;

	peer_call_init(&pc, &p->v->m[idx].data, SD_OP_PEER_PUT_OBJ, oid, 0, (uint32_t)p->v->scalar);
	node__prefix(&pre, p->v, version, 0);
	int rc = peer_call(&p->c->repl->peers, &pc, &pre, b, len);
	if (rc == SD_RES_SM_NEED_VDI) {
		struct node_req fake;
		memset(&fake, 0, sizeof(fake));
		fake.ctx = p->c;
		if (node__catalog_give(&fake, p->v, idx, sd_oid_vid(oid)) == 0)
			rc = peer_call(&p->c->repl->peers, &pc, &pre, b, len);
	}
	return rc;
}

/* The whole copy at node idx, with its version. */
static int read_peer(struct pass *p, uint32_t idx, uint64_t oid, struct repl_got *g)
{
	return node__remote_get(p->c, p->v, &p->v->m[idx].data, oid, 0, 0, g);
}

/* Replace our copy with the one at node idx if its bytes hash to want
 * (and it has our version). 1 on success. */
static int fetch_good(struct pass *p, uint32_t idx, uint64_t oid, uint64_t version, const uint8_t *want)
{
	struct repl_got g;
	uint8_t h[32];

	if (read_peer(p, idx, oid, &g) != SD_RES_SUCCESS)
		return 0;
	crypto_generichash(h, sizeof(h), g.b, g.len, NULL, 0);
	int good = !memcmp(h, want, sizeof(h)) && g.version == version &&
		   store_obj_put(p->c->store, oid, g.b, g.len, g.version) == SD_RES_SUCCESS;
	throttle(p, g.len);
	free(g.b);
	return good;
}

/* Scrub our copy: 1 if it was corrupt and got repaired, 0 if fine or not
 * decidable, <0 if corrupt and not repaired. With a recorded checksum the
 * bytes must hash to it; without one (last written partially) the copies
 * of the same version vote: ours is corrupt when every other replica's
 * bytes agree with each other and not with ours. */
static int scrub_one(struct pass *p, uint64_t oid, const struct store_obj_info *oi, const uint32_t *idx,
		     int n, const struct peer_copy *pcs)
{
	struct node_recovery *rc = p->rc;
	struct repl_got g;
	uint8_t h[32];

	if (node__local_get(p->c, oid, 0, 0, &g) != SD_RES_SUCCESS) {
		/* the index has it but the bytes cannot be read (file lost,
		 * I/O error): any replica's copy of our version will do,
		 * checked against our checksum when we have one */
		atomic_fetch_add(&rc->corrupt, 1);
		node_log(p->c->log, NODE_LOG_ERR, "scrub: object %016" PRIx64 " cannot be read here: "
			 "fetching it from a replica", oid);
		for (int i = 0; i < n; i++) {
			struct peer_copy hc;
			if (node_view_is_self(p->v, idx[i]) || pcs[i].rc != SD_RES_SUCCESS ||
			    pcs[i].version != oi->version)
				continue;
			if (!oi->csum_valid) {
				stat_peer(p, idx[i], oid, &hc, PEER_STAT_WANT_HASH);
				if (hc.rc != SD_RES_SUCCESS || !(hc.flags & PEER_STAT_HASHED))
					continue;
			}
			if (fetch_good(p, idx[i], oid, oi->version, oi->csum_valid ? oi->csum : hc.csum)) {
				atomic_fetch_add(&rc->repaired, 1);
				node_log(p->c->log, NODE_LOG_INFO, "scrub: object %016" PRIx64 " repaired", oid);
				return 1;
			}
		}
		return -1;
	}
	crypto_generichash(h, sizeof(h), g.b, g.len, NULL, 0);
	free(g.b);
	atomic_fetch_add(&rc->scrubbed, 1);
	throttle(p, g.len);
	const uint8_t *want = oi->csum;
	struct peer_copy hc;
	uint8_t other[32];
	if (!oi->csum_valid) {
		int agree = 0, differ = 0, split = 0;
		for (int i = 0; i < n; i++) {
			if (node_view_is_self(p->v, idx[i]) || pcs[i].rc != SD_RES_SUCCESS ||
			    pcs[i].version != oi->version)
				continue;
			stat_peer(p, idx[i], oid, &hc, PEER_STAT_WANT_HASH);
			if (hc.rc != SD_RES_SUCCESS || !(hc.flags & PEER_STAT_HASHED) || hc.version != oi->version)
				continue;
			if (!memcmp(hc.csum, h, 32)) {
				agree++;
			} else if (!differ++) {
				memcpy(other, hc.csum, 32);
			} else if (memcmp(hc.csum, other, 32)) {
				split = 1;
			}
		}
		if (!differ)
			return 0;
		if (agree || split) {
			node_log(p->c->log, NODE_LOG_WARN, "scrub: copies of object %016" PRIx64 " differ and "
				 "no checksum decides (%d agree with ours, %d differ)", oid, agree, differ);
			return 0;
		}
		want = other;   /* every other copy agrees: ours is the odd one */
	} else if (!memcmp(h, oi->csum, sizeof(h))) {
		return 0;
	}
	atomic_fetch_add(&rc->corrupt, 1);
	node_log(p->c->log, NODE_LOG_ERR, "scrub: object %016" PRIx64 " %s: repairing from a replica", oid,
		 oi->csum_valid ? "does not match its checksum" : "differs from every other copy");
	/* a copy of the same version whose bytes hash to what we want is the
	 * good one, whatever that replica recorded */
	for (int i = 0; i < n; i++) {
		if (node_view_is_self(p->v, idx[i]) || pcs[i].rc != SD_RES_SUCCESS ||
		    pcs[i].version != oi->version)
			continue;
		if (fetch_good(p, idx[i], oid, oi->version, want)) {
			atomic_fetch_add(&rc->repaired, 1);
			node_log(p->c->log, NODE_LOG_INFO, "scrub: object %016" PRIx64 " repaired", oid);
			return 1;
		}
	}
	node_log(p->c->log, NODE_LOG_ERR, "scrub: object %016" PRIx64 " is corrupt and no replica has a "
		 "good copy", oid);
	return -1;
}

/* One object. Returns 0, or -EAGAIN if the ring moved under us. */
static int recover_one(struct pass *p, uint64_t oid)
{
	struct node_recovery *rc = p->rc;
	struct store_obj_info oi;
	uint32_t idx[RING_MAX_COPIES];
	struct peer_copy pcs[RING_MAX_COPIES];
	int copies = copies_of(p, sd_oid_vid(oid));

	if (copies < 0 || store_obj_stat(p->c->store, oid, &oi) != SD_RES_SUCCESS)
		return 0;       /* a deleted VDI's object (reclaim takes it) or gone meanwhile */
	int n = node_view_locate(p->v, oid, (unsigned)copies, idx);
	int self = -1, failed = 0;
	uint64_t maxv = oi.version;
	int newest = -1;            /* a replica index holding maxv when it is not ours */

	for (int i = 0; i < n; i++) {
		if (node_view_is_self(p->v, idx[i])) {
			self = i;
			pcs[i].rc = SD_RES_SUCCESS;
			pcs[i].version = oi.version;
			continue;
		}
		stat_peer(p, idx[i], oid, &pcs[i], 0);
		if (pcs[i].rc == SD_RES_SM_RING_STALE)
			return -EAGAIN;
		if (pcs[i].rc == SD_RES_SUCCESS && pcs[i].version > maxv) {
			maxv = pcs[i].version;
			newest = i;
		} else if (pcs[i].rc != SD_RES_SUCCESS && pcs[i].rc != SD_RES_NO_OBJ) {
			failed = 1;
		}
	}
	if (p->scrub && self >= 0)
		scrub_one(p, oid, &oi, idx, n, pcs);
	if (newest >= 0) {
		/* ours is older: fetch the newest if we are a holder */
		if (self >= 0) {
			struct repl_got g;
			if (read_peer(p, idx[newest], oid, &g) == SD_RES_SUCCESS) {
				if (g.version >= oi.version &&
				    store_obj_put(p->c->store, oid, g.b, g.len, g.version) == SD_RES_SUCCESS) {
					atomic_fetch_add(&rc->pulled, 1);
					atomic_fetch_add(&rc->bytes, g.len);
					node_repl_verified(p->c->repl, oid);
				}
				throttle(p, g.len);
				free(g.b);
			}
		}
		return 0;
	}
	/* ours is the newest: bring the others up to it. One holder does the
	 * pushing: the first current replica (in ring order) that has the
	 * newest copy; if none has it, every old holder pushes (rare: a whole
	 * new replica set), and the store keeps whichever copy is newest. */
	int pusher = self < 0;
	for (int i = 0; i < n; i++) {
		if (pcs[i].rc == SD_RES_SUCCESS && pcs[i].version == oi.version) {
			pusher = i == self;
			break;
		}
	}
	struct repl_got g = { 0 };
	int confirmed = 0;
	for (int i = 0; i < n; i++) {
		if (i == self) {
			confirmed++;
			continue;
		}
		if (pcs[i].rc == SD_RES_SUCCESS && pcs[i].version == oi.version) {
			confirmed++;
			continue;
		}
		if (!pusher || (pcs[i].rc != SD_RES_SUCCESS && pcs[i].rc != SD_RES_NO_OBJ))
			continue;
		if (!g.b && node__local_get(p->c, oid, 0, 0, &g) != SD_RES_SUCCESS)
			break;
		int r = put_peer(p, idx[i], oid, g.b, g.len, oi.version);
		if (r == SD_RES_SM_RING_STALE) {
			free(g.b);
			return -EAGAIN;
		}
		if (r == SD_RES_SUCCESS) {
			confirmed++;
			atomic_fetch_add(&rc->pushed, 1);
			atomic_fetch_add(&rc->bytes, g.len);
		}
		throttle(p, g.len);
	}
	free(g.b);
	if (self >= 0 && !failed) {
		node_repl_verified(p->c->repl, oid);
		atomic_fetch_add(&rc->verified, 1);
	}
	/* not ours any more: drop it once every holder has it */
	if (self < 0 && n > 0 && confirmed == n) {
		if (store_obj_remove(p->c->store, oid) == SD_RES_SUCCESS)
			atomic_fetch_add(&rc->removed, 1);
	}
	return 0;
}

/* A replicated object whose bucket matches on every other replica: our
 * (oid, version) is what they hold, so ours is current. */
static int in_sync(struct pass *p, uint64_t oid)
{
	uint32_t idx[RING_MAX_COPIES];
	int copies = copies_of(p, sd_oid_vid(oid)), self = 0;

	if (!p->diff || copies < 0)
		return 0;
	int n = node_view_locate(p->v, oid, (unsigned)copies, idx);
	unsigned b = (unsigned)(ring_oid_hash(oid) >> 56);
	for (int i = 0; i < n; i++) {
		if (node_view_is_self(p->v, idx[i]))
			self = 1;
		else if (p->diff[(size_t)idx[i] * PEER_SUMMARY_BUCKETS + b])
			return 0;
	}
	if (!self)
		return 0;       /* not ours any more: hand it over */
	node_repl_verified(p->c->repl, oid);
	return 1;
}

static void run_pass(struct node_recovery *rc, struct node_view *v, int scrub)
{
	struct node_ctx *c = rc->ctx;
	struct pass p = { .rc = rc, .c = c, .v = v, .scrub = scrub };
	uint64_t t0 = node__mono_ms();

	p.budget_start_ms = t0;
	if (store_list_vdis(c->store, collect_vdi, &p) < 0 || store_obj_list(c->store, 0, collect_oid, &p) < 0) {
		node_log(c->log, NODE_LOG_ERR, "recovery: cannot list the local objects");
		goto out;
	}
	/* which buckets differ with which peer: objects in buckets that match
	 * on every replica are in sync and need no request of their own */
	p.diff = calloc((size_t)v->nr, PEER_SUMMARY_BUCKETS);
	uint8_t *mine = malloc((size_t)v->nr * PEER_SUMMARY_LEN), *theirs = malloc(PEER_SUMMARY_LEN);
	if (!p.diff || !mine || !theirs ||
	    (v->self >= 0 && summarize(c, v, p.vc, p.nvc, UINT32_MAX, mine) != SD_RES_SUCCESS)) {
		free(p.diff);
		p.diff = NULL;          /* every object on its own, as if all differed */
	}
	for (uint32_t r = 0; p.diff && v->self >= 0 && r < v->nr; r++) {
		if (node_view_is_self(v, r))
			continue;
		struct peer_call pc;
		struct peer_prefix pre;
		peer_call_init(&pc, &v->m[r].data, SD_OP_PEER_SUMMARY, 0, 0, (uint32_t)v->scalar);
		pc.rbuf = theirs;
		pc.rcap = PEER_SUMMARY_LEN;
		node__prefix(&pre, v, 0, (uint32_t)v->self);
		int ok = peer_call(&c->repl->peers, &pc, &pre, NULL, 0) == SD_RES_SUCCESS &&
			 pc.rsp.data_length == PEER_SUMMARY_LEN;
		for (unsigned b = 0; b < PEER_SUMMARY_BUCKETS; b++)
			p.diff[(size_t)r * PEER_SUMMARY_BUCKETS + b] =
				!ok || memcmp(mine + (size_t)r * PEER_SUMMARY_LEN + (size_t)b * PEER_SUMMARY_DIGEST,
					      theirs + (size_t)b * PEER_SUMMARY_DIGEST, PEER_SUMMARY_DIGEST) != 0;
	}
	free(mine);
	free(theirs);
	atomic_store(&rc->ring_epoch, v->scalar);
	atomic_store(&rc->total, p.n);
	atomic_store(&rc->done, 0);
	uint64_t tb = 0;
	for (size_t k = 0; k < p.n; k++)
		tb += p.sizes[k];
	atomic_store(&rc->bytes_total, tb);
	atomic_store(&rc->bytes_done, 0);
	atomic_store(&rc->started_ms, t0);
	atomic_store(&rc->running, 1);
	uint64_t b0 = atomic_load(&rc->bytes), pu0 = atomic_load(&rc->pushed), pl0 = atomic_load(&rc->pulled),
		 rm0 = atomic_load(&rc->removed), co0 = atomic_load(&rc->corrupt);
	size_t i;
	for (i = 0; i < p.n; i++) {
		pthread_mutex_lock(&rc->mu);
		int stop = rc->stopping;
		pthread_mutex_unlock(&rc->mu);
		if (stop)
			break;
		pthread_mutex_lock(&c->repl->views.mu);
		int moved_on = c->repl->views.cur != v;
		pthread_mutex_unlock(&c->repl->views.mu);
		if (moved_on)
			break;      /* a newer ring: the next pass starts over */
		if (!scrub && in_sync(&p, p.oids[i])) {
			atomic_fetch_add(&rc->in_sync, 1);
		} else if (recover_one(&p, p.oids[i]) == -EAGAIN) {
			break;
		}
		atomic_store(&rc->done, i + 1);
		atomic_fetch_add(&rc->bytes_done, p.sizes[i]);
	}
	atomic_store(&rc->running, 0);
	atomic_fetch_add(&rc->passes, 1);
	uint64_t moved = atomic_load(&rc->bytes) - b0;
	if (moved || atomic_load(&rc->removed) != rm0 || atomic_load(&rc->corrupt) != co0 || i < p.n)
		node_log(c->log, NODE_LOG_INFO,
			 "recovery: ring %" PRIu64 ": %zu of %zu objects checked, %" PRIu64 " pushed, %" PRIu64
			 " pulled (%.1f MiB), %" PRIu64 " removed, %" PRIu64 " corrupt found%s in %.1f s",
			 v->scalar, i, p.n, atomic_load(&rc->pushed) - pu0, atomic_load(&rc->pulled) - pl0,
			 moved / 1048576.0, atomic_load(&rc->removed) - rm0, atomic_load(&rc->corrupt) - co0,
			 i < p.n ? " (interrupted: ring changed or stopping)" : "",
			 (node__mono_ms() - t0) / 1000.0);
out:
	free(p.oids);
	free(p.sizes);
	free(p.vc);
	free(p.diff);
}

static void *recovery_main(void *arg)
{
	struct node_recovery *rc = arg;
	struct node_repl *rp = rc->ctx->repl;
	uint64_t seen = 0, last_pass = node__mono_ms(), last_scrub = node__mono_ms();

	for (;;) {
		pthread_mutex_lock(&rc->mu);
		if (!rc->stopping && !rc->kick) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += POLL_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&rc->cond, &rc->mu, &ts);
		}
		int stop = rc->stopping, kick = rc->kick;
		rc->kick = 0;
		pthread_mutex_unlock(&rc->mu);
		if (stop)
			break;
		pthread_mutex_lock(&rp->views.mu);
		uint64_t seq = rp->views.seq;
		pthread_mutex_unlock(&rp->views.mu);
		uint64_t now = node__mono_ms();
		int scrub = rc->scrub_interval_s && now - last_scrub >= (uint64_t)rc->scrub_interval_s * 1000;
		int due = seq != seen || kick || scrub ||
			  (rc->ae_interval_s && now - last_pass >= (uint64_t)rc->ae_interval_s * 1000);
		if (!due)
			continue;
		struct node_view *v = node_views_get(&rp->views);
		if (v && !node_view_alone(v)) {
			/* let a fresh ring settle: joins come in bursts */
			if (seq != seen)
				sleep_ms(POLL_MS);
			run_pass(rc, v, scrub);
		}
		node_view_put(v);
		seen = seq;
		last_pass = node__mono_ms();
		if (scrub)
			last_scrub = last_pass;
	}
	return NULL;
}

int node_recovery_start(struct node_recovery *rc, struct node_ctx *ctx, unsigned ae_interval_s,
			unsigned scrub_interval_s, unsigned rate_mb)
{
	memset(rc, 0, sizeof(*rc));
	rc->ctx = ctx;
	rc->ae_interval_s = ae_interval_s;
	rc->scrub_interval_s = scrub_interval_s;
	rc->rate_mb = rate_mb;
	pthread_mutex_init(&rc->mu, NULL);
	pthread_cond_init(&rc->cond, NULL);
	if (pthread_create(&rc->th, NULL, recovery_main, rc)) {
		pthread_cond_destroy(&rc->cond);
		pthread_mutex_destroy(&rc->mu);
		return -EAGAIN;
	}
	rc->on = 1;
	return 0;
}

void node_recovery_kick(struct node_recovery *rc)
{
	pthread_mutex_lock(&rc->mu);
	rc->kick = 1;
	pthread_cond_signal(&rc->cond);
	pthread_mutex_unlock(&rc->mu);
}

void node_recovery_stop(struct node_recovery *rc)
{
	if (!rc->on)
		return;
	pthread_mutex_lock(&rc->mu);
	rc->stopping = 1;
	pthread_cond_signal(&rc->cond);
	pthread_mutex_unlock(&rc->mu);
	pthread_join(rc->th, NULL);
	pthread_cond_destroy(&rc->cond);
	pthread_mutex_destroy(&rc->mu);
	rc->on = 0;
}

int node_recovery_status_json(struct node_recovery *rc, char *buf, size_t cap)
{
	uint64_t now = node__mono_ms(), st = atomic_load(&rc->started_ms);
	int running = atomic_load(&rc->running);
	uint64_t total = atomic_load(&rc->total), done = atomic_load(&rc->done);
	uint64_t btotal = atomic_load(&rc->bytes_total), bdone = atomic_load(&rc->bytes_done);
	double el = running && now > st ? (now - st) / 1000.0 : 0;
	int n = snprintf(buf, cap,
			 "{\"running\":%s,\"ring_epoch\":%" PRIuFAST64 ",\"objects_total\":%" PRIu64
			 ",\"objects_done\":%" PRIu64 ",\"objects_left\":%" PRIu64 ",\"objects_per_s\":%.1f"
			 ",\"bytes_total\":%" PRIu64 ",\"bytes_left\":%" PRIu64
			 ",\"bytes_moved\":%" PRIuFAST64 ",\"pushed\":%" PRIuFAST64 ",\"pulled\":%" PRIuFAST64
			 ",\"removed\":%" PRIuFAST64 ",\"verified\":%" PRIuFAST64 ",\"scrubbed\":%" PRIuFAST64
			 ",\"corrupt\":%" PRIuFAST64 ",\"repaired\":%" PRIuFAST64 ",\"in_sync\":%" PRIuFAST64 ",\"passes\":%" PRIuFAST64
			 ",\"anti_entropy_interval_s\":%u,\"scrub_interval_s\":%u,\"rate_mb\":%u}",
			 running ? "true" : "false", atomic_load(&rc->ring_epoch), total, done,
			 running && total > done ? total - done : 0, el > 0 ? done / el : 0.0, btotal,
			 running && btotal > bdone ? btotal - bdone : 0,
			 atomic_load(&rc->bytes), atomic_load(&rc->pushed), atomic_load(&rc->pulled),
			 atomic_load(&rc->removed), atomic_load(&rc->verified), atomic_load(&rc->scrubbed),
			 atomic_load(&rc->corrupt), atomic_load(&rc->repaired), atomic_load(&rc->in_sync),
			 atomic_load(&rc->passes),
			 rc->ae_interval_s, rc->scrub_interval_s, rc->rate_mb);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

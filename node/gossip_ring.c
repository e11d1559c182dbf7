/*
 * gossip_ring.c: one ring, agreed without a coordinator (issue 4), on top
 * of the gossip adapter (node/gossip.c).  The rules are gossip/epoch.h's
 * and gossip/RING.md's "Rules for the adapter"; sim/sim_ep.c is the same
 * logic in the simulator.
 *
 *  - our own join is recorded at start (IN at our generation), our leave
 *    on SIGTERM (OUT); SWIM events about others become ring events through
 *    node_ring_event() (node/ring_agree.h); suspicion is never one.
 *  - after any change (loop thread, g->mu held, from node__ring_after_core):
 *    the epoch digest goes on every gossip packet (swim_set_digest), the
 *    version is saved in the ring history (LMDB), the ring is rebuilt and
 *    one info line logged.
 *  - a peer whose packets carry another digest (env.on_digest, rate-
 *    limited by the core) is asked for its epoch with SD_OP_SM_RING over
 *    TCP by one puller thread (never the loop: a pull may take up to
 *    RING_PULL_TIMEOUT_MS); at most one pull per peer is queued or in
 *    flight.  The decoded epoch comes back through an ev_async and is
 *    merged in the loop thread.
 *  - found OUT at our own generation (declared dead across a partition or
 *    a pause): rejoin at generation + 1 with swim_set_meta, like the sim.
 *
 * Lock order: g->mu, then r->pmu.  The puller takes only pmu.
 */
#include "node/gossip_int.h"
#include "node/view.h"
#include "node/netaddr.h"
#include "node/node_id.h"
#include "node/ring_agree.h"
#include "store/store.h"
#include "tools/sdclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t ring_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *ring_err(int rc)
{
	if (rc > 0)
		return "the node answered SM_RING with an error result";
	return epoch_strerror(rc);
}

/* ---- history (LMDB) ---- */

struct keep_scan {
	uint64_t scalars[RING_HISTORY_KEEP + 1];
	uint32_t n;
};

/* keeps the newest RING_HISTORY_KEEP scalars of the oldest-first listing */
static int keep_scan_cb(void *ctx, const struct store_ring_version *v)
{
	struct keep_scan *k = ctx;

	if (k->n == RING_HISTORY_KEEP + 1) {
		memmove(k->scalars, k->scalars + 1, RING_HISTORY_KEEP * sizeof(k->scalars[0]));
		k->n--;
	}
	k->scalars[k->n++] = v->scalar;
	return 0;
}

/*
 * Only the newest RING_HISTORY_KEEP versions are kept: until the replicated
 * data path exists no stored object was placed under an older ring, so
 * nothing depends on them (store_ring_prune() wants the oldest scalar any
 * local object depends on; recovery will pass its own once it exists).
 */
static void history_prune(struct node_gossip *g)
{
	struct keep_scan k = { .n = 0 };

	if (store_ring_list(g->r.store, keep_scan_cb, &k) < 0)
		return;
	uint64_t from = node_ring_keep_from(k.scalars, k.n, RING_HISTORY_KEEP);
	if (from) {
		int rc = store_ring_prune(g->r.store, from);
		if (rc < 0)
			log_warn(g->log, "ring: cannot prune the ring history: %s", strerror(-rc));
	}
}

static void history_save(struct node_gossip *g, uint64_t scalar)
{
	struct node_ring *r = &g->r;
	size_t cap = epoch_encoded_max(r->e.state.n, r->e.vec.n), len;
	uint8_t *buf;
	int rc;

	if (!r->store)
		return;
	if (!(buf = malloc(cap))) {
		rc = -ENOMEM;
	} else {
		rc = epoch_encode(&r->e, buf, cap, &len);
		if (rc == 0)
			rc = store_ring_save(r->store, buf, len, scalar, r->digest);
		free(buf);
	}
	if (rc < 0) {
		r->saves_failed++;
		log_err(g->log, "ring: cannot save ring version %" PRIu64 " in the history: %s", scalar,
			rc == -ENOSPC || rc == -ENOMEM ? strerror(-rc) : epoch_strerror(rc));
		return;
	}
	if (rc == 1)
		history_prune(g);
}

/* merges the newest stored version into r->e (before our own join) */
static void history_load(struct node_gossip *g)
{
	struct node_ring *r = &g->r;
	struct store_ring_version v;
	uint8_t *bytes = NULL;
	struct epoch old;
	size_t off = 0;

	int rc = store_ring_latest(r->store, &v, &bytes);
	if (rc == -ENOENT) {
		log_info(g->log, "ring: no ring history yet");
		return;
	}
	if (rc < 0) {
		log_warn(g->log, "ring: cannot read the ring history: %s (starting without it)", strerror(-rc));
		return;
	}
	epoch_init(&old);
	rc = epoch_decode(&old, v.epoch, v.len, RING_MAX_MEMBERS, &off);
	if (rc < 0)
		log_warn(g->log, "ring: stored ring version %" PRIu64 " does not decode at byte %zu: %s",
			 v.scalar, off, epoch_strerror(rc));
	else if (epoch_merge(&r->e, &old) >= 0)
		log_info(g->log, "ring: previous ring version %" PRIu64 " (%u members) from the history",
			 v.scalar, old.state.n);
	epoch_fini(&old);
	free(bytes);
}

/* ---- publish (loop thread, g->mu held) ---- */

static void publish_view(struct node_gossip *g);

static void publish(struct node_gossip *g)
{
	struct node_ring *r = &g->r;
	struct ring *ring = NULL;
	char hex[2 * EPOCH_DIGEST_LEN + 1];

	r->dirty = 0;
	r->changes++;
	epoch_digest(&r->e, r->digest);
	swim_set_digest(g->swim, r->digest);
	uint64_t scalar = epoch_scalar(&r->e);
	r->placed = (uint32_t)epoch_state_placed(&r->e.state, NULL, 0);
	int rc = epoch_state_ring(&r->e.state, RING_VNODES_PER_UNIT_DEFAULT, &ring);
	struct node_shared_ring *sr = rc < 0 ? NULL : node_shared_ring_new(ring);
	if (!sr) {
		log_err(g->log, "ring: cannot build the ring of version %" PRIu64 ": %s", scalar,
			strerror(rc < 0 ? -rc : ENOMEM));
	} else {
		node_shared_ring_put(r->sring);
		r->sring = sr;
	}
	for (int i = 0; i < EPOCH_DIGEST_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", r->digest[i]);
	log_info(g->log, "ring version %" PRIu64 " digest %.8s members %u", scalar, hex, r->placed);
	history_save(g, scalar);
	if (sr)
		publish_view(g);   /* never the old ring under the new digest */
}

/* The routing view of the agreed ring (shared with publish(), not rebuilt
 * when only a member's address changed), each placed member's data address
 * from the member table. */
static void publish_view(struct node_gossip *g)
{
	struct node_ring *r = &g->r;

	r->view_dirty = 0;
	if (!r->views || !r->sring)
		return;
	const struct ring *ring = r->sring->ring;
	size_t nr = ring_nr_nodes(ring);
	struct node_view_member *mm = calloc(nr ? nr : 1, sizeof(*mm));
	if (!mm)
		return;
	for (size_t i = 0; i < nr; i++) {
		const struct ring_member *rm = ring_node(ring, (uint32_t)i);
		const struct swim_member *sm = swim_member_find(g->swim, rm->id);
		memcpy(mm[i].id, rm->id, RING_ID_LEN);
		if (sm)
			mm[i].data = sm->data;
	}
	if (node_views_publish(r->views, r->sring, r->digest, epoch_scalar(&r->e), mm, g->id) < 0)
		log_err(g->log, "ring: cannot publish the routing view: out of memory");
	free(mm);
}

void node_gossip_set_views(struct node_gossip *g, struct node_views *vs)
{
	pthread_mutex_lock(&g->mu);
	g->r.views = vs;
	if (g->r.inited && g->swim)
		publish_view(g);
	pthread_mutex_unlock(&g->mu);
}

static void record(struct node_gossip *g, const struct epoch_member *ev)
{
	int rc = epoch_record(&g->r.e, g->id, ev);

	if (rc > 0)
		g->r.dirty = 1;
	else if (rc < 0)
		log_err(g->log, "ring: cannot record a ring event: %s", strerror(-rc));
}

void node__ring_on_event(struct node_gossip *g, const struct swim_member *m, enum swim_event ev)
{
	struct epoch_member e;

	if (!g->r.inited)
		return;     /* ring not started */
	/* a placed member's address may be new: the routing view needs it */
	if ((ev == SWIM_EV_JOIN || ev == SWIM_EV_UPDATE) && g->r.sring && ring_find(g->r.sring->ring, m->id) >= 0)
		g->r.view_dirty = 1;
	if (node_ring_event(m, ev, &e))
		record(g, &e);
}

void node__ring_leave(struct node_gossip *g)
{
	struct epoch_member e;

	if (!g->r.inited)
		return;
	node_ring_self_event(g->id, g->r.generation, EPOCH_OUT, (uint16_t)g->cfg->weight, g->cfg->zone, &e);
	record(g, &e);
}

void node__ring_after_core(struct node_gossip *g, uint64_t now)
{
	struct node_ring *r = &g->r;
	uint64_t next;

	if (!g->swim)
		return;
	if (node_ring_must_rejoin(&r->e, g->id, r->generation, g->leaving, &next)) {
		struct swim_meta meta = swim_member_at(g->swim, 0)->meta;
		struct epoch_member e;

		meta.generation = next;
		int rc = swim_set_meta(g->swim, &meta, now);
		if (rc < 0) {
			node__drop_log(g, DROP_RING, "ring: cannot rejoin at generation %" PRIu64 ": %s", next,
				       swim_strerror(rc));
		} else {
			log_warn(g->log, "ring: the cluster holds us out at generation %" PRIu64
				 " (declared dead); rejoining at generation %" PRIu64, r->generation, next);
			r->generation = next;
			r->rejoins++;
			if (r->views) {
				/* what we hold may have missed writes while we were out */
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				atomic_store(&r->views->rejoin_ver,
					     ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) << 16);
			}
			node_ring_self_event(g->id, next, EPOCH_IN, meta.weight, meta.zone, &e);
			record(g, &e);
		}
	}
	if (r->dirty)
		publish(g);
	else if (r->view_dirty)
		publish_view(g);
}

/* ---- pulls ---- */

void node__ring_on_digest(void *ctx, const struct swim_member *from, const uint8_t d[SWIM_DIGEST_LEN])
{
	struct node_gossip *g = ctx;
	struct node_ring *r = &g->r;
	int free_slot = -1;
	(void)d;

	if (g->leaving || !r->thread_on || from->data.family == 0)
		return;
	pthread_mutex_lock(&r->pmu);
	for (int i = 0; i < RING_PULL_SLOTS; i++) {
		if (r->slot[i].state == 0) {
			if (free_slot < 0)
				free_slot = i;
		} else if (memcmp(r->slot[i].id, from->id, SWIM_ID_LEN) == 0) {
			free_slot = -2;     /* one pull per peer at a time */
			break;
		}
	}
	if (free_slot >= 0) {
		struct ring_pull *p = &r->slot[free_slot];
		memcpy(p->id, from->id, SWIM_ID_LEN);
		p->data = from->data;
		p->state = 1;
		pthread_cond_signal(&r->pcond);
	}
	pthread_mutex_unlock(&r->pmu);
	if (free_slot < 0)
		r->pull_busy++;
}

/* One SM_RING round trip (puller thread, no lock held). */
static int pull_one(const struct swim_addr *to, struct epoch *out)
{
	struct sd_addr a;
	struct sd_client *c = NULL;
	struct sd_req req;
	struct sd_rsp rsp;
	char ip[INET6_ADDRSTRLEN];
	uint8_t *buf;
	int rc;

	if (!inet_ntop(to->family == 4 ? AF_INET : AF_INET6, to->ip, ip, sizeof(ip)) ||
	    sd_addr_tcp(&a, ip, to->port) < 0)
		return -EINVAL;
	a.timeout_ms = RING_PULL_TIMEOUT_MS;
	if (!(buf = malloc(RING_PULL_MAX)))
		return -ENOMEM;
	rc = sd_client_connect(&c, &a);
	if (rc == 0) {
		memset(&req, 0, sizeof(req));
		req.opcode = SD_OP_SM_RING;
		req.data_length = RING_PULL_MAX;
		rc = sd_client_request(c, &req, NULL, buf, RING_PULL_MAX, &rsp);
		sd_client_close(c);
	}
	if (rc == 0)
		rc = epoch_decode(out, buf, rsp.data_length, RING_MAX_MEMBERS, NULL);
	free(buf);
	return rc;
}

static void *puller_main(void *arg)
{
	struct node_gossip *g = arg;
	struct node_ring *r = &g->r;

	pthread_mutex_lock(&r->pmu);
	for (;;) {
		struct ring_pull *p = NULL;
		for (int i = 0; i < RING_PULL_SLOTS && !p; i++)
			if (r->slot[i].state == 1)
				p = &r->slot[i];
		if (r->stopping)
			break;
		if (!p) {
			pthread_cond_wait(&r->pcond, &r->pmu);
			continue;
		}
		struct swim_addr to = p->data;
		struct epoch e;
		p->state = 2;
		pthread_mutex_unlock(&r->pmu);
		epoch_init(&e);
		int rc = pull_one(&to, &e);
		pthread_mutex_lock(&r->pmu);
		p->rc = rc;
		p->e = e;           /* moved: the slot owns it now */
		p->state = 3;
		ev_async_send(g->loop, &r->done);
	}
	pthread_mutex_unlock(&r->pmu);
	return NULL;
}

/* puller -> loop: merge what arrived */
static void pulled_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct node_gossip *g = w->data;
	struct node_ring *r = &g->r;
	struct ring_pull got[RING_PULL_SLOTS];
	int n = 0;
	(void)loop;
	(void)revents;

	pthread_mutex_lock(&g->mu);
	pthread_mutex_lock(&r->pmu);
	for (int i = 0; i < RING_PULL_SLOTS; i++)
		if (r->slot[i].state == 3) {
			got[n++] = r->slot[i];
			epoch_init(&r->slot[i].e);
			r->slot[i].state = 0;
		}
	pthread_mutex_unlock(&r->pmu);
	for (int i = 0; i < n; i++) {
		char hex[2 * SWIM_ID_LEN + 1], da[NODE_ADDR_STRLEN];
		r->pulls++;
		if (got[i].rc != 0) {
			/* a dead or slow peer (-errno) is ordinary; bad bytes are not */
			if (got[i].rc <= EPOCH_E_TRUNCATED && got[i].rc >= EPOCH_E_ZONE)
				r->pull_bad++;
			else
				r->pull_failed++;
			node_id_hex(got[i].id, hex);
			node__drop_log(g, DROP_RING, "ring: pulling the epoch of node %s at %s failed: %s", hex,
				       node_addr_format(&got[i].data, da, sizeof(da)),
				       got[i].rc < 0 && got[i].rc > -4000 ? strerror(-got[i].rc) : ring_err(got[i].rc));
		} else {
			int rc = epoch_merge(&r->e, &got[i].e);
			if (rc > 0) {
				r->merges++;
				r->dirty = 1;
			} else if (rc < 0) {
				log_err(g->log, "ring: cannot merge a pulled epoch: %s", strerror(-rc));
			}
		}
		epoch_fini(&got[i].e);
	}
	node__after_core(g, ring_mono_ms());
	pthread_mutex_unlock(&g->mu);
}

/* ---- start / stop ---- */

int node__ring_start(struct node_gossip *g, struct store *st, uint64_t *generation)
{
	struct node_ring *r = &g->r;
	struct epoch_member e;
	const struct epoch_member *me;

	r->store = st;
	epoch_init(&r->e);
	pthread_mutex_init(&r->pmu, NULL);
	pthread_cond_init(&r->pcond, NULL);
	for (int i = 0; i < RING_PULL_SLOTS; i++)
		epoch_init(&r->slot[i].e);
	ev_async_init(&r->done, pulled_cb);
	r->done.data = g;
	r->inited = 1;
	if (st)
		history_load(g);
	/* the history may know a later life of ours (lost gossip-state file) */
	me = epoch_state_get(&r->e.state, g->id);
	if (me && me->version >= *generation)
		*generation = me->version + 1;
	r->generation = *generation;
	node_ring_self_event(g->id, r->generation, EPOCH_IN, (uint16_t)g->cfg->weight, g->cfg->zone, &e);
	record(g, &e);
	ev_async_start(g->loop, &r->done);
	int rc = pthread_create(&r->thread, NULL, puller_main, g);
	if (rc) {
		log_err(g->log, "ring: cannot start the epoch puller thread: %s", strerror(rc));
		return -1;
	}
	r->thread_on = 1;
	return 0;
}

void node__ring_stop(struct node_gossip *g)
{
	struct node_ring *r = &g->r;

	if (!r->inited)
		return;
	if (r->thread_on) {
		pthread_mutex_lock(&r->pmu);
		r->stopping = 1;
		pthread_cond_broadcast(&r->pcond);
		pthread_mutex_unlock(&r->pmu);
		pthread_join(r->thread, NULL);
		r->thread_on = 0;
	}
	ev_async_stop(g->loop, &r->done);
	for (int i = 0; i < RING_PULL_SLOTS; i++)
		epoch_fini(&r->slot[i].e);
	node_shared_ring_put(r->sring);
	r->sring = NULL;
	epoch_fini(&r->e);
	pthread_cond_destroy(&r->pcond);
	pthread_mutex_destroy(&r->pmu);
	r->inited = 0;
}

/* ---- views (any thread) ---- */

int node_gossip_ring_epoch(void *arg, uint8_t **buf, size_t *len)
{
	struct node_gossip *g = arg;
	int rc;

	pthread_mutex_lock(&g->mu);
	size_t cap = epoch_encoded_max(g->r.e.state.n, g->r.e.vec.n);
	if (!(*buf = malloc(cap)))
		rc = -ENOMEM;
	else
		rc = epoch_encode(&g->r.e, *buf, cap, len);
	pthread_mutex_unlock(&g->mu);
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
		return rc == -ENOSPC ? -ENOSPC : -ENOMEM;
	}
	return 0;
}

int node_gossip_ring_json(struct node_gossip *g, char *buf, size_t cap)
{
	char hex[2 * EPOCH_DIGEST_LEN + 1];

	pthread_mutex_lock(&g->mu);
	const struct node_ring *r = &g->r;
	for (int i = 0; i < EPOCH_DIGEST_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", r->digest[i]);
	int k = snprintf(buf, cap,
		"{\"epoch\":%" PRIu64 ",\"digest\":\"%s\",\"members\":%u,\"generation\":%" PRIu64
		",\"changes\":%" PRIu64 ",\"pulls\":%" PRIu64 ",\"pulls_failed\":%" PRIu64
		",\"pulls_bad\":%" PRIu64 ",\"pulls_busy\":%" PRIu64 ",\"merges\":%" PRIu64
		",\"rejoins\":%" PRIu64 ",\"history_save_errors\":%" PRIu64 "}",
		epoch_scalar(&r->e), hex, r->placed, r->generation, r->changes, r->pulls, r->pull_failed,
		r->pull_bad, r->pull_busy, r->merges, r->rejoins, r->saves_failed);
	pthread_mutex_unlock(&g->mu);
	return k < 0 || (size_t)k >= cap ? -1 : k;
}

/*
 * sim/sim.c: the engine (event loop, simulated network, node lifecycle,
 * scenario actions).  See sim.h.
 */
#include "sim/sim_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gossip/swim_int.h"   /* swim__apply for the warm start, see sim_boot_warm() */

/* ---- randomness: splitmix64, one stream per sim ---- */

static uint64_t sim_mix(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

uint64_t sim__rand(struct sim *s)
{
	return sim_mix(&s->rng);
}

double sim__rand01(struct sim *s)
{
	return (double)(sim__rand(s) >> 11) / 9007199254740992.0;
}

double sim__wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- node ids and addresses ---- */

static struct swim_addr sim_addr(uint32_t i)
{
	return swim_addr_v4(0x0a000000u + i, SIM_PORT);
}

static int64_t sim_addr_node(const struct sim *s, const struct swim_addr *a)
{
	uint32_t ip = (uint32_t)a->ip[0] << 24 | (uint32_t)a->ip[1] << 16 | (uint32_t)a->ip[2] << 8 | a->ip[3];

	if (a->family != 4 || a->port != SIM_PORT || (ip >> 24) != 10)
		return -1;
	ip -= 0x0a000000u;
	return ip < s->n ? (int64_t)ip : -1;
}

static uint64_t sim_id_hash(const uint8_t *id)
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return h;
}

static void sim_idmap_put(struct sim *s, uint32_t i)
{
	uint32_t m = s->idmap_cap - 1, k = (uint32_t)sim_id_hash(s->nodes[i].id) & m;

	while (s->idmap[k])
		k = (k + 1) & m;
	s->idmap[k] = i + 1;
}

int64_t sim__node_by_id(const struct sim *s, const uint8_t id[SWIM_ID_LEN])
{
	uint32_t m = s->idmap_cap - 1, k = (uint32_t)sim_id_hash(id) & m;

	while (s->idmap[k]) {
		uint32_t i = s->idmap[k] - 1;

		if (!memcmp(s->nodes[i].id, id, SWIM_ID_LEN))
			return i;
		k = (k + 1) & m;
	}
	return -1;
}

/* ---- scheduling ---- */

static int sim_push(struct sim *s, uint64_t at, uint32_t kind, uint32_t node, uint32_t from,
                    uint32_t life, uint8_t *buf, uint32_t len)
{
	struct sim_ev ev = { .at = at, .kind = kind, .node = node, .from = from, .len = len,
	                     .life = life, .buf = buf };

	if (sim_heap_push(&s->heap, ev)) {
		free(buf);
		return -ENOMEM;
	}
	return 0;
}

/* queue a TICK at the node's deadline unless an earlier one is queued */
static void sim_node_sched(struct sim *s, struct sim_node *nd)
{
	uint64_t d;

	if (!nd->up)
		return;
	sim__ep_publish(s, nd);
	d = swim_next_deadline(nd->swim);
	if (d == UINT64_MAX || d >= nd->sched)
		return;
	if (d < s->now)
		d = s->now;
	nd->sched = d;
	sim_push(s, d, SIM_EV_TICK, nd->i, 0, nd->life, NULL, 0);
}

/* ---- network ---- */

/* one-way latency in ms for a->b */
static uint64_t sim_latency(struct sim *s, uint32_t a, uint32_t b)
{
	switch (s->sc.latency) {
	case SIM_LAT_FIXED:
		return s->sc.latency_ms;
	case SIM_LAT_WAN: {
		/* 8 regions by node index; base by region pair, +-10% jitter */
		static const uint16_t base[8] = { 2, 25, 40, 60, 80, 100, 140, 180 };
		uint32_t ra = (a * 2654435761u) >> 29, rb = (b * 2654435761u) >> 29;
		uint64_t d = ra == rb ? 2 : base[(ra ^ rb) & 7];

		return d + sim__rand(s) % (d / 10 + 1);
	}
	default: {
		/* LAN: 1 ms, a tail of 2-5 ms for 1 packet in 16 */
		uint64_t r = sim__rand(s);

		return 1 + ((r & 15) == 0 ? 1 + (r >> 4) % 4 : 0);
	}
	}
}

static void sim_net_send(void *ctx, const struct swim_addr *to, const uint8_t *buf, size_t len)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->sim;
	int64_t dst = sim_addr_node(s, to);
	uint8_t *copy;
	uint64_t at;

	s->pkts++;
	s->bytes += len + SIM_SEAL_OVERHEAD;
	nd->tx_pkts++;
	if (len + SIM_SEAL_OVERHEAD > s->sc.mtu) {
		s->too_big++;
		return;
	}
	if (dst < 0)
		return;
	if (s->loss > 0 && sim__rand01(s) < s->loss) {
		s->lost++;
		return;
	}
	if (s->part_mode && nd->part != s->nodes[dst].part &&
	    (s->part_mode == 1 || nd->part == 1)) {
		s->cut++;
		return;
	}
	copy = malloc(len ? len : 1);
	if (!copy)
		return;
	memcpy(copy, buf, len);
	/* a slow node is slow to send and slow to process what it receives */
	at = s->now + sim_latency(s, nd->i, (uint32_t)dst) + nd->slow_ms + s->nodes[dst].slow_ms;
	sim_push(s, at, SIM_EV_PKT, (uint32_t)dst, nd->i, 0, copy, (uint32_t)len);
}

static void sim_net_event(void *ctx, const struct swim_member *m, enum swim_event ev)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->sim;
	uint8_t rec[8 + 4 + SWIM_ID_LEN + 1];

	if (s->booting)
		return;
	s->ev[ev]++;
	memcpy(rec, &s->now, 8);
	memcpy(rec + 8, &nd->i, 4);
	memcpy(rec + 12, m->id, SWIM_ID_LEN);
	rec[12 + SWIM_ID_LEN] = (uint8_t)ev;
	crypto_generichash_update(&s->log, rec, sizeof(rec));
	sim__track_event(s, nd, m, ev);
	if (ev == SWIM_EV_DEAD && s->ring)
		/* a confirmed death is recorded by each node that confirms it */
		sim__ep_record(s, nd, m->id, m->meta.generation, EPOCH_OUT, m->meta.weight, m->meta.zone);
}

#ifdef SWIM_DIGEST_LEN
/* swim saw a ring digest unlike ours from `from`: pull its epoch (a TCP
 * request and reply: one round trip; refused if it is gone or cut off) */
static void sim_net_digest(void *ctx, const struct swim_member *from, const uint8_t d[SWIM_DIGEST_LEN])
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->sim;
	int64_t a = sim__node_by_id(s, from->id);

	(void)d;
	if (a < 0 || !s->ring)
		return;
	sim_push(s, s->now + sim_latency(s, nd->i, (uint32_t)a) + sim_latency(s, (uint32_t)a, nd->i),
	         SIM_EV_PULL, nd->i, (uint32_t)a, nd->life, NULL, 0);
}
#endif

/* ---- node lifecycle ---- */

static void sim_up_account(struct sim *s)
{
	s->up_ms_acc += (uint64_t)s->n_up * (s->now - s->up_acc_t);
	s->up_acc_t = s->now;
}

static int sim_node_create(struct sim *s, struct sim_node *nd)
{
	struct swim_config cfg = s->opts.swim;
	struct swim_env env = { .ctx = nd, .send = sim_net_send, .on_event = sim_net_event };

#ifdef SWIM_DIGEST_LEN
	env.on_digest = sim_net_digest;
#endif
	uint64_t x = s->sc.seed ^ (UINT64_C(0x51ED27) * (nd->i + 1)) ^ ((uint64_t)nd->life << 48);

	memcpy(cfg.id, nd->id, SWIM_ID_LEN);
	cfg.gossip = sim_addr(nd->i);
	cfg.data = sim_addr(nd->i);
	cfg.meta.weight = RING_WEIGHT_DEFAULT;
	cfg.meta.capacity = UINT64_C(1) << 40;
	cfg.meta.generation = nd->generation;
	cfg.incarnation = nd->incarnation;
	cfg.seed = sim_mix(&x);
	cfg.seq_base = (uint64_t)nd->life << 40;    /* grows across restarts */
	cfg.packet_max = s->swim_pkt_max;
	if (swim_new(&nd->swim, &cfg, &env, s->now))
		return -EINVAL;
	sim_up_account(s);
	nd->up = 1;
	nd->leaving = 0;
	nd->sched = UINT64_MAX;
	nd->dg_dirty = 1;              /* a new swim instance: hand it our epoch digest */
	s->n_up++;
	sim__ep_node_up(s, nd, 1);
	return 0;
}

/* a random up node that is not leaving, UINT32_MAX if none */
static uint32_t sim_pick_up(struct sim *s, uint32_t not)
{
	for (int tries = 0; tries < 64; tries++) {
		uint32_t i = (uint32_t)(sim__rand(s) % s->n);

		if (s->nodes[i].up && !s->nodes[i].leaving && i != not)
			return i;
	}
	for (uint32_t k = 0, i = (uint32_t)(sim__rand(s) % s->n); k < s->n; k++, i = (i + 1) % s->n)
		if (s->nodes[i].up && !s->nodes[i].leaving && i != not)
			return i;
	return UINT32_MAX;
}

static void sim_node_down(struct sim *s, struct sim_node *nd)
{
	if (!nd->up)
		return;
	nd->incarnation = swim_member_at(nd->swim, 0)->incarnation;   /* persisted by the adapter */
	swim_free(nd->swim);
	nd->swim = NULL;
	sim_up_account(s);
	nd->up = 0;
	if (nd->leaving)
		s->n_leaving--;
	else
		sim__ep_node_up(s, nd, 0);
	nd->leaving = 0;
	nd->slow_ms = 0;
	nd->life++;                    /* drops its queued ticks */
	s->n_up--;
	sim__track_observer_down(s, nd->i);
	sim__track_check_all(s);
}

static void sim_node_crash(struct sim *s, uint32_t i)
{
	if (!s->nodes[i].up || s->nodes[i].leaving)
		return;
	sim__subject_new(s, i, 0, 0);
	sim_node_down(s, &s->nodes[i]);
}

/* (re)start: new generation (epoch.h: rejoin at g+1), join via random live seeds */
static int sim_node_start(struct sim *s, uint32_t i)
{
	struct sim_node *nd = &s->nodes[i];
	struct swim_addr seeds[SIM_JOIN_SEEDS];
	size_t ns = 0;

	if (nd->up)
		return 0;
	for (int k = 0; k < SIM_JOIN_SEEDS; k++) {
		uint32_t j = sim_pick_up(s, i);

		if (j != UINT32_MAX)
			seeds[ns++] = sim_addr(j);
	}
	nd->generation++;
	nd->started = 1;
	if (sim_node_create(s, nd))
		return -EINVAL;
	if (s->ring)
		sim__ep_record(s, nd, nd->id, nd->generation, EPOCH_IN, RING_WEIGHT_DEFAULT, 0);
	sim__subject_new(s, i, 1, 0);
	if (ns)
		swim_join(nd->swim, seeds, ns, s->now);
	sim_node_sched(s, nd);
	return 0;
}

static void sim_node_leave(struct sim *s, uint32_t i)
{
	struct sim_node *nd = &s->nodes[i];

	if (!nd->up || nd->leaving)
		return;
	sim__subject_new(s, i, 0, 1);
	/* a leaver no longer counts as an observer nor for ring convergence */
	sim__track_observer_down(s, i);
	nd->leaving = 1;
	s->n_leaving++;
	sim__ep_node_up(s, nd, 0);
	if (s->ring)
		sim__ep_record(s, nd, nd->id, nd->generation, EPOCH_OUT, RING_WEIGHT_DEFAULT, 0);
	swim_leave(nd->swim, s->now);
	sim_push(s, s->now + SIM_LINGER_MS, SIM_EV_FREE, i, 0, nd->life, NULL, 0);
	sim_node_sched(s, nd);
}

/*
 * epoch.h point 3: OUT beats IN at the same generation, so a node that
 * was declared dead (e.g. across a partition) and refuted in SWIM is
 * still off the ring; the adapter sees its own OUT entry and rejoins at
 * generation + 1 (new metadata, gossiped like any update).
 */
void sim__node_rejoin(struct sim *s, struct sim_node *nd)
{
	struct swim_meta meta;

	if (!nd->up || nd->leaving)
		return;
	meta = swim_member_at(nd->swim, 0)->meta;
	meta.generation = ++nd->generation;
	if (swim_set_meta(nd->swim, &meta, s->now))
		return;
	s->rejoins++;
	sim__ep_record(s, nd, nd->id, nd->generation, EPOCH_IN, meta.weight, meta.zone);
	sim_node_sched(s, nd);
}

int sim__partition_recent(const struct sim *s)
{
	uint64_t max = swim_suspicion_min_ms(s->opts.swim.suspicion_mult, s->sc.nodes,
	                                     s->opts.swim.probe_interval_ms) *
	               s->opts.swim.suspicion_max_mult;

	return s->part_mode || (s->part_healed != UINT64_MAX && s->now <= s->part_healed + max);
}

/* ---- scenario actions ---- */

/* up to n distinct random live nodes (not leaving) into out; returns count */
static uint32_t sim_pick_many(struct sim *s, uint32_t n, uint32_t *out)
{
	uint32_t *cand = malloc((size_t)s->n * sizeof(*cand)), m = 0;

	if (!cand)
		return 0;
	for (uint32_t i = 0; i < s->n; i++)
		if (s->nodes[i].up && !s->nodes[i].leaving)
			cand[m++] = i;
	if (n > m)
		n = m;
	for (uint32_t k = 0; k < n; k++) {   /* partial Fisher-Yates */
		uint32_t j = k + (uint32_t)(sim__rand(s) % (m - k)), t = cand[k];

		cand[k] = cand[j];
		cand[j] = t;
		out[k] = cand[k];
	}
	free(cand);
	return n;
}

static void sim_action(struct sim *s, uint32_t ai)
{
	const struct sim_action *a = &s->sc.acts[ai];
	uint32_t cnt = sim_action_count(a, s->sc.nodes), *pick, n;
	uint64_t down = a->dur ? a->dur : SIM_DOWN_MS;

	if (a->kind == SIM_ACT_PARTITION)
		cnt = (uint32_t)(a->count * s->n_up / 100.0 + 0.5);
	pick = calloc(cnt ? cnt : 1, sizeof(*pick));
	if (!pick)
		return;
	switch (a->kind) {
	case SIM_ACT_CRASH:
		n = sim_pick_many(s, cnt, pick);
		for (uint32_t k = 0; k < n; k++)
			sim_node_crash(s, pick[k]);
		break;
	case SIM_ACT_RESTART:
		n = sim_pick_many(s, cnt, pick);
		for (uint32_t k = 0; k < n; k++) {
			sim_node_crash(s, pick[k]);
			sim_push(s, s->now + down, SIM_EV_START, pick[k], 0, 0, NULL, 0);
		}
		break;
	case SIM_ACT_ROLLING:
		n = sim_pick_many(s, cnt, pick);
		for (uint32_t k = 0; k < n; k++)
			sim_push(s, s->now + k * a->every, SIM_EV_CRASH, pick[k], (uint32_t)down, 0, NULL, 0);
		break;
	case SIM_ACT_LEAVE:
		n = sim_pick_many(s, cnt, pick);
		for (uint32_t k = 0; k < n; k++)
			sim_node_leave(s, pick[k]);
		break;
	case SIM_ACT_JOIN:
		for (uint32_t k = 0; k < cnt && s->n < s->cap; k++) {
			struct sim_node *nd = &s->nodes[s->n];

			nd->i = s->n++;
			sim_push(s, s->now + (cnt > 1 ? a->dur * k / (cnt - 1) : 0), SIM_EV_START, nd->i, 0, 0,
			         NULL, 0);
		}
		break;
	case SIM_ACT_PARTITION:
		for (uint32_t i = 0; i < s->n; i++)
			s->nodes[i].part = 0;
		n = sim_pick_many(s, cnt, pick);
		for (uint32_t k = 0; k < n; k++)
			s->nodes[pick[k]].part = 1;
		s->part_mode = a->oneway ? 2 : 1;
		if (a->dur)
			sim_push(s, s->now + a->dur, SIM_EV_HEAL, 0, 0, 0, NULL, 0);
		break;
	case SIM_ACT_HEAL:
		if (s->part_mode)
			s->part_healed = s->now;
		s->part_mode = 0;
		break;
	case SIM_ACT_SLOW:
		n = sim_pick_many(s, cnt, pick);
		for (uint32_t k = 0; k < n; k++) {
			s->nodes[pick[k]].slow_ms = (uint32_t)a->delay;
			if (a->dur)
				sim_push(s, s->now + a->dur, SIM_EV_UNSLOW, pick[k], 0, s->nodes[pick[k]].life,
				         NULL, 0);
		}
		break;
	case SIM_ACT_LOSS:
		s->loss = a->loss;
		if (a->dur)
			sim_push(s, s->now + a->dur, SIM_EV_LOSS, 0, 0, 0, NULL, 0);
		break;
	}
	free(pick);
}

static void sim_sample(struct sim *s)
{
	struct sim_sample *x;

	if (s->n_samples == s->cap_samples) {
		uint32_t ncap = s->cap_samples ? s->cap_samples * 2 : 256;
		struct sim_sample *ns = realloc(s->samples, (size_t)ncap * sizeof(*ns));

		if (!ns)
			return;
		s->samples = ns;
		s->cap_samples = ncap;
	}
	x = &s->samples[s->n_samples++];
	x->t = s->now;
	x->up = s->n_up;
	x->distinct = s->ep_distinct;
	x->pkts = s->pkts - s->s_pkts;
	x->bytes = s->bytes - s->s_bytes;
	s->s_pkts = s->pkts;
	s->s_bytes = s->bytes;
	x->suspects = s->ev[SWIM_EV_SUSPECT];
	x->deaths = s->ev[SWIM_EV_DEAD];
	x->false_deaths = s->false_deaths;
	x->down_known = s->last_down >= 0 ? (float)sim__subject_frac(s, &s->subj[s->last_down]) : -1;
	x->join_known = s->last_up >= 0 ? (float)sim__subject_frac(s, &s->subj[s->last_up]) : -1;
	x->wall = sim__wall() - s->wall_built;
}

/* ---- the event loop ---- */

static void sim_dispatch(struct sim *s, struct sim_ev *ev)
{
	struct sim_node *nd = ev->kind == SIM_EV_ACTION || ev->kind == SIM_EV_SAMPLE ||
	                      ev->kind == SIM_EV_LOSS || ev->kind == SIM_EV_HEAL ? NULL : &s->nodes[ev->node];

	switch (ev->kind) {
	case SIM_EV_PKT:
		if (nd->up) {
			struct swim_addr from = sim_addr(ev->from);
			struct sim_node *src = &s->nodes[ev->from];

			swim_on_packet(nd->swim, &from, ev->buf, ev->len, s->now);
#ifndef SWIM_DIGEST_LEN
			/* no digest in swim: pull on every packet from a different epoch */
			if (s->ring && src->ep != nd->ep)
				sim__ep_sync(s, nd, src);
#else
			(void)src;
#endif
			sim_node_sched(s, nd);
		}
		free(ev->buf);
		break;
	case SIM_EV_TICK:
		if (!nd->up || ev->life != nd->life)
			break;
		if (ev->at == nd->sched)
			nd->sched = UINT64_MAX;
		if (swim_next_deadline(nd->swim) <= s->now)
			swim_tick(nd->swim, s->now);
		sim_node_sched(s, nd);
		break;
	case SIM_EV_ACTION:
		sim_action(s, ev->node);
		break;
	case SIM_EV_START:
		sim_node_start(s, ev->node);
		break;
	case SIM_EV_CRASH:
		if (nd->up && !nd->leaving) {
			sim_node_crash(s, ev->node);
			sim_push(s, s->now + ev->from, SIM_EV_START, ev->node, 0, 0, NULL, 0);
		}
		break;
	case SIM_EV_FREE:
		if (nd->up && nd->leaving && ev->life == nd->life)
			sim_node_down(s, nd);
		break;
	case SIM_EV_UNSLOW:
		if (ev->life == nd->life)
			nd->slow_ms = 0;
		break;
	case SIM_EV_LOSS:
		s->loss = s->base_loss;
		break;
	case SIM_EV_HEAL:
		if (s->part_mode)
			s->part_healed = s->now;
		s->part_mode = 0;
		break;
	case SIM_EV_PULL: {
		struct sim_node *src = &s->nodes[ev->from];

		if (nd->up && ev->life == nd->life && src->up &&
		    !(s->part_mode && src->part != nd->part)) {
			sim__ep_sync(s, nd, src);
			sim_node_sched(s, nd);
		}
		break;
	}
	case SIM_EV_SAMPLE:
		sim_sample(s);
		if (s->now + s->sc.sample_ms <= s->end)
			sim_push(s, s->now + s->sc.sample_ms, SIM_EV_SAMPLE, 0, 0, 0, NULL, 0);
		break;
	}
}

int sim_run(struct sim *s, uint64_t until_ms)
{
	struct sim_ev ev;
	uint64_t stop = until_ms < s->end ? until_ms : s->end;

	while (sim_heap_peek(&s->heap) <= stop) {
		sim_heap_pop(&s->heap, &ev);
		s->now = ev.at > s->now ? ev.at : s->now;
		s->events++;
		sim_dispatch(s, &ev);
		if (s->opts.progress && (s->events & 0xffff) == 0)
			s->opts.progress(s->opts.progress_ctx, s->now, s->end);
	}
	if (stop > s->now)
		s->now = stop;
	sim_up_account(s);
	if (s->opts.progress)
		s->opts.progress(s->opts.progress_ctx, s->now, s->end);
	return s->now < s->end;
}

uint64_t sim_now(const struct sim *s)
{
	return s->now;
}

uint32_t sim_nodes_up(const struct sim *s)
{
	return s->n_up;
}

/* ---- construction ---- */

static int sim_id_cmp(const void *a, const void *b)
{
	return memcmp(((const struct sim_node *)a)->id, ((const struct sim_node *)b)->id, SWIM_ID_LEN);
}

/*
 * Warm start: every node's table as after a converged boot with the
 * gossip drained (all alive, incarnation 0).  The records go through the
 * core's own merge (swim__apply, enqueue off): going through packets would
 * leave N entries in every piggyback queue (sorted per packet, O(N log N))
 * and make 10,000 nodes spend minutes gossiping what they all know.
 * Inserting in id order keeps member_table_add's index insert O(1).
 */
static int sim_boot_warm(struct sim *s)
{
	struct sim_node *sorted = malloc((size_t)s->n * sizeof(*sorted));
	struct wire_update u;

	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, s->nodes, (size_t)s->n * sizeof(*sorted));
	qsort(sorted, s->n, sizeof(*sorted), sim_id_cmp);
	s->booting = 1;
	for (uint32_t i = 0; i < s->n; i++) {
		struct sim_node *nd = &s->nodes[i];

		for (uint32_t k = 0; k < s->n; k++) {
			const struct sim_node *o = &sorted[k];

			if (o->i == nd->i)
				continue;
			memset(&u, 0, sizeof(u));
			memcpy(u.id, o->id, SWIM_ID_LEN);
			u.state = SWIM_ALIVE;
			u.full = 1;
			u.gossip = sim_addr(o->i);
			u.data = sim_addr(o->i);
			u.meta.weight = RING_WEIGHT_DEFAULT;
			u.meta.capacity = UINT64_C(1) << 40;
			u.meta.generation = 1;
			swim__apply(nd->swim, &u, o->id, 0, s->now);
		}
		if (s->opts.progress && (i & 63) == 0)
			s->opts.progress(s->opts.progress_ctx, 0, 0);
	}
	s->booting = 0;
	free(sorted);
	return 0;
}

static int sim_boot_cold(struct sim *s)
{
	struct swim_addr seed = sim_addr(0);

	for (uint32_t i = 1; i < s->n; i++)
		swim_join(s->nodes[i].swim, &seed, 1, s->now);
	return 0;
}

int sim_new(struct sim **out, const struct sim_scenario *sc, const struct sim_opts *opts)
{
	struct sim *s;
	uint64_t joins = 0;
	int rc = -ENOMEM;

	if (sodium_init() < 0)
		return -EINVAL;
	if (sc->nodes < 2 || sc->mtu < SWIM_PACKET_MIN + SIM_SEAL_OVERHEAD)
		return -EINVAL;
	for (uint32_t k = 0; k < sc->n_acts; k++)
		if (sc->acts[k].kind == SIM_ACT_JOIN)
			joins += sim_action_count(&sc->acts[k], sc->nodes);
	if (sc->nodes + joins > (1u << 22))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->wall_start = sim__wall();
	s->rss0 = sim__rss();
	s->sc = *sc;
	s->sc.acts = NULL;
	if (sc->n_acts) {
		s->sc.acts = malloc(sc->n_acts * sizeof(*sc->acts));
		if (!s->sc.acts)
			goto err;
		memcpy(s->sc.acts, sc->acts, sc->n_acts * sizeof(*sc->acts));
	}
	s->opts = *opts;
	sim_heap_init(&s->heap);
	crypto_generichash_init(&s->log, NULL, 0, 16);
	s->rng = sc->seed * UINT64_C(0x2545F4914F6CDD1D) + 7;
	s->end = sc->duration_ms;
	s->loss = s->base_loss = sc->loss;
	s->last_down = s->last_up = -1;
	s->ep_diverged = UINT64_MAX;
	s->part_healed = UINT64_MAX;
	/* SWIM's body budget: the configured one, but never more than the MTU
	 * minus the largest envelope (81, SWIM.md) */
	s->swim_pkt_max = opts->swim.packet_max ? opts->swim.packet_max : SWIM_PACKET_MAX_DEFAULT;
	if (sc->mtu - 81 < s->swim_pkt_max)
		s->swim_pkt_max = sc->mtu - 81;
	s->ring = sc->ring < 0 ? sc->nodes <= 2000 : sc->ring;
	s->cap = sc->nodes + (uint32_t)joins;
	s->n = sc->nodes;
	s->nodes = calloc(s->cap, sizeof(*s->nodes));
	s->idmap_cap = 16;
	while (s->idmap_cap < 2 * s->cap)
		s->idmap_cap *= 2;
	s->idmap = calloc(s->idmap_cap, sizeof(*s->idmap));
	if (!s->nodes || !s->idmap)
		goto err;
	for (uint32_t i = 0; i < s->cap; i++) {
		struct sim_node *nd = &s->nodes[i];
		uint64_t x = s->sc.seed * 1000003u + i, a, b;

		a = sim_mix(&x);
		b = sim_mix(&x);
		memcpy(nd->id, &a, 8);
		memcpy(nd->id + 8, &b, 8);
		nd->sim = s;
		nd->i = i;
		nd->subj = -1;
		nd->sched = UINT64_MAX;
		sim_idmap_put(s, i);
	}
	for (uint32_t i = 0; i < s->n; i++) {
		s->nodes[i].generation = 1;
		s->nodes[i].started = 1;
		rc = sim_node_create(s, &s->nodes[i]);
		if (rc)
			goto err;
	}
	rc = sc->cold_boot ? sim_boot_cold(s) : sim_boot_warm(s);
	if (rc)
		goto err;
	if (s->ring && (rc = sim__ep_boot(s)))
		goto err;
	for (uint32_t i = 0; i < s->n; i++)
		sim_node_sched(s, &s->nodes[i]);
	for (uint32_t k = 0; k < s->sc.n_acts; k++)
		if (sim_push(s, s->sc.acts[k].at, SIM_EV_ACTION, k, 0, 0, NULL, 0))
			goto err;
	sim_push(s, 0, SIM_EV_SAMPLE, 0, 0, 0, NULL, 0);
	s->wall_built = sim__wall();
	*out = s;
	return 0;
err:
	sim_free(s);
	return rc ? rc : -ENOMEM;
}

void sim_free(struct sim *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->cap && s->nodes; i++)
		swim_free(s->nodes[i].swim);
	sim__ep_free(s);
	sim__track_free(s);
	sim_heap_fini(&s->heap);
	free(s->nodes);
	free(s->idmap);
	free(s->samples);
	free(s->sc.acts);
	free(s);
}

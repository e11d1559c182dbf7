/*
 * gossip/swim.c: SWIM failure detection with Lifeguard, and the merge rules
 * of membership updates.  See swim.h for the contract, SWIM.md for the why.
 */
#include "gossip/swim_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG: xoshiro256**, seeded by splitmix64 ---- */

static uint64_t swim_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t swim__rand(struct swim *s)
{
	uint64_t *r = s->rng;
	uint64_t out = swim_rotl(r[1] * 5, 7) * 9;
	uint64_t t = r[1] << 17;

	r[2] ^= r[0];
	r[3] ^= r[1];
	r[1] ^= r[2];
	r[0] ^= r[3];
	r[2] ^= t;
	r[3] = swim_rotl(r[3], 45);
	return out;
}

uint32_t swim__rand_below(struct swim *s, uint32_t n)
{
	return n ? (uint32_t)(((unsigned __int128)swim__rand(s) * n) >> 64) : 0;
}

static void swim_seed(struct swim *s, uint64_t seed)
{
	for (int i = 0; i < 4; i++) {
		uint64_t z = (seed += UINT64_C(0x9E3779B97F4A7C15));

		z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
		s->rng[i] = z ^ (z >> 31);
	}
}

/* ---- small helpers ---- */

static int swim_id_eq(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, SWIM_ID_LEN) == 0;
}

static int swim_live(uint8_t state)
{
	return state == SWIM_ALIVE || state == SWIM_SUSPECT;
}

static void swim_event(struct swim *s, uint32_t idx, enum swim_event ev)
{
	if (s->env.on_event)
		s->env.on_event(s->env.ctx, &s->t.m[idx], ev);
}

static void swim_set_state(struct swim *s, uint32_t idx, uint8_t state, uint64_t now)
{
	struct swim_member *m = &s->t.m[idx];

	if (swim_live(m->state) && !swim_live(state))
		s->n_live--;
	else if (!swim_live(m->state) && swim_live(state))
		s->n_live++;
	m->state = state;
	m->since = now;
}

void swim__send(struct swim *s, const struct swim_addr *to, struct wire_msg *msg)
{
	size_t len;

	memcpy(msg->sender, s->t.m[0].id, SWIM_ID_LEN);
	msg->seq = ++s->tx_seq;
	if (wire_encode(msg, s->txbuf, s->cfg.packet_max, &len) != 0)
		return;    /* cannot happen: sizes are budgeted; never send a partial packet */
	s->stats.tx_packets++;
	s->stats.tx_bytes += len;
	s->env.send(s->env.ctx, to, s->txbuf, len);
}

static void swim_msg_init(struct wire_msg *msg, uint8_t type, uint32_t probe)
{
	memset(msg, 0, sizeof(*msg));
	msg->type = type;
	msg->probe = probe;
}

/* ---- probe list: round-robin over a shuffled list ---- */

static int swim_order_reserve(struct swim *s, uint32_t n)
{
	uint32_t *no;

	if (n <= s->cap_order)
		return 0;
	no = realloc(s->order, (size_t)n * 2 * sizeof(*no));
	if (!no)
		return -ENOMEM;
	s->order = no;
	s->cap_order = n * 2;
	return 0;
}

static void swim_order_rebuild(struct swim *s)
{
	s->n_order = 0;
	s->pos = 0;
	if (swim_order_reserve(s, s->t.n))
		return;
	for (uint32_t i = 1; i < s->t.n; i++)
		if (swim_live(s->t.m[i].state))
			s->order[s->n_order++] = i;
	for (uint32_t i = s->n_order; i > 1; i--) {
		uint32_t j = swim__rand_below(s, i);
		uint32_t tmp = s->order[i - 1];

		s->order[i - 1] = s->order[j];
		s->order[j] = tmp;
	}
}

/* A new member goes to a random place among those not yet probed this round. */
static void swim_order_insert(struct swim *s, uint32_t idx)
{
	uint32_t j;

	if (swim_order_reserve(s, s->n_order + 1))
		return;
	s->order[s->n_order++] = idx;
	j = s->pos + swim__rand_below(s, s->n_order - s->pos);
	s->order[s->n_order - 1] = s->order[j];
	s->order[j] = idx;
}

/* ---- suspicion (Lifeguard) ---- */

static struct swim_suspicion *swim_sus_find(struct swim *s, uint32_t idx)
{
	for (uint32_t i = 0; i < s->n_sus; i++)
		if (s->sus[i].idx == idx)
			return &s->sus[i];
	return NULL;
}

static void swim_sus_remove(struct swim *s, uint32_t idx)
{
	struct swim_suspicion *x = swim_sus_find(s, idx);

	if (x)
		*x = s->sus[--s->n_sus];
}

static void swim_sus_start(struct swim *s, uint32_t idx, const uint8_t *from, uint64_t now)
{
	struct swim_suspicion *x = swim_sus_find(s, idx);
	uint32_t n = s->n_live;

	if (!x) {
		if (s->n_sus == s->cap_sus) {
			uint32_t ncap = s->cap_sus ? s->cap_sus * 2 : 8;
			struct swim_suspicion *ns = realloc(s->sus, (size_t)ncap * sizeof(*ns));

			if (!ns) {
				s->stats.rx_nomem++;
				return;
			}
			s->sus = ns;
			s->cap_sus = ncap;
		}
		x = &s->sus[s->n_sus++];
	}
	memset(x, 0, sizeof(*x));
	x->idx = idx;
	x->start = now;
	/* k = alpha - 2 expected confirmations, none if too few could confirm */
	x->k = s->cfg.suspicion_mult > 2 ? s->cfg.suspicion_mult - 2 : 0;
	if (x->k > SWIM_CONFIRM_MAX - 1)
		x->k = SWIM_CONFIRM_MAX - 1;
	if (n < x->k + 2)
		x->k = 0;
	x->min_ms = swim_suspicion_min_ms(s->cfg.suspicion_mult, n, s->cfg.probe_interval_ms);
	x->max_ms = x->min_ms * s->cfg.suspicion_max_mult;
	x->deadline = now + swim_suspicion_timeout_ms(0, x->k, x->min_ms, x->max_ms);
	x->check_at = now + x->min_ms / 2;
	memcpy(x->from[0], from, SWIM_ID_LEN);   /* the originator is no confirmation */
	x->n_from = 1;
}

/* 1 if `from` is a new independent confirmation (deadline moved). */
static int swim_sus_confirm(struct swim *s, uint32_t idx, const uint8_t *from)
{
	struct swim_suspicion *x = swim_sus_find(s, idx);

	if (!x || x->n >= x->k || x->n_from >= SWIM_CONFIRM_MAX)
		return 0;
	for (uint32_t i = 0; i < x->n_from; i++)
		if (swim_id_eq(x->from[i], from))
			return 0;
	memcpy(x->from[x->n_from++], from, SWIM_ID_LEN);
	x->n++;
	x->deadline = x->start + swim_suspicion_timeout_ms(x->n, x->k, x->min_ms, x->max_ms);
	return 1;
}

/* ---- merge rules ---- */

static void swim_refute(struct swim *s, uint64_t inc, uint64_t now)
{
	struct swim_member *self = &s->t.m[0];

	if (s->leaving)
		return;
	self->incarnation = (inc > self->incarnation ? inc : self->incarnation) + 1;
	self->since = now;
	s->stats.refutes++;
	/* Lifeguard: being suspected hints that we are the slow one */
	if (s->awareness + 1 < s->cfg.awareness_max)
		s->awareness++;
	swim__bq_push(s, 0, NULL);
}

static void swim_apply_self(struct swim *s, const struct wire_update *u, uint64_t now)
{
	struct swim_member *self = &s->t.m[0];

	if (u->state == SWIM_ALIVE) {
		/* others hold a newer alive record of us (we restarted): jump past it */
		if (u->incarnation > self->incarnation && !s->leaving)
			swim_refute(s, u->incarnation, now);
		return;
	}
	if (u->incarnation >= self->incarnation)
		swim_refute(s, u->incarnation, now);
	else if (!s->leaving)
		/* someone still holds an old suspicion of us: our refutation did
		 * not reach it.  Send our record again, first in the reply. */
		swim__bq_push(s, 0, NULL);
}

static void swim_apply_new(struct swim *s, const struct wire_update *u, const uint8_t *from,
                           int enqueue, uint64_t now)
{
	struct swim_member m;
	int64_t idx;

	/* short records carry no address, dead/left strangers are of no use */
	if (!u->full || !swim_live(u->state))
		return;
	memset(&m, 0, sizeof(m));
	memcpy(m.id, u->id, SWIM_ID_LEN);
	m.gossip = u->gossip;
	m.data = u->data;
	m.meta = u->meta;
	m.incarnation = u->incarnation;
	m.state = SWIM_DEAD;           /* swim_set_state counts the transition */
	m.since = now;
	idx = member_table_add(&s->t, &m);
	if (idx < 0) {
		s->stats.rx_nomem++;
		return;
	}
	if ((uint32_t)idx >= s->cap_pp_seen) {
		uint32_t ncap = s->t.cap;
		uint32_t *np = realloc(s->pp_seen, (size_t)ncap * sizeof(*np));

		if (np) {
			memset(np + s->cap_pp_seen, 0, (size_t)(ncap - s->cap_pp_seen) * sizeof(*np));
			s->pp_seen = np;
			s->cap_pp_seen = ncap;
		}
	}
	swim_set_state(s, (uint32_t)idx, u->state, now);
	s->stats.updates_applied++;
	swim_order_insert(s, (uint32_t)idx);
	swim_event(s, (uint32_t)idx, SWIM_EV_JOIN);
	if (u->state == SWIM_SUSPECT) {
		swim_sus_start(s, (uint32_t)idx, from, now);
		swim_event(s, (uint32_t)idx, SWIM_EV_SUSPECT);
	}
	if (enqueue)
		swim__bq_push(s, (uint32_t)idx, from);
}

static int swim_meta_eq(const struct swim_member *m, const struct wire_update *u)
{
	return swim_addr_equal(&m->gossip, &u->gossip) && swim_addr_equal(&m->data, &u->data) &&
	       m->meta.weight == u->meta.weight && m->meta.zone == u->meta.zone &&
	       m->meta.capacity == u->meta.capacity && m->meta.generation == u->meta.generation;
}

static void swim_apply_alive(struct swim *s, uint32_t idx, const struct wire_update *u, int enqueue,
                             uint64_t now)
{
	struct swim_member *m = &s->t.m[idx];
	uint8_t old = m->state;
	int same = swim_meta_eq(m, u);

	if (u->incarnation <= m->incarnation) {
		s->stats.updates_stale++;
		return;
	}
	m->incarnation = u->incarnation;
	m->gossip = u->gossip;
	m->data = u->data;
	m->meta = u->meta;
	if (old != SWIM_ALIVE)
		swim_set_state(s, idx, SWIM_ALIVE, now);
	swim_sus_remove(s, idx);
	s->stats.updates_applied++;
	if (enqueue)
		swim__bq_push(s, idx, NULL);
	if (old == SWIM_SUSPECT)
		swim_event(s, idx, SWIM_EV_ALIVE);
	else if (old == SWIM_DEAD || old == SWIM_LEFT) {
		swim_order_insert(s, idx);
		swim_event(s, idx, SWIM_EV_JOIN);
	} else if (!same)
		swim_event(s, idx, SWIM_EV_UPDATE);
}

static void swim_apply_suspect(struct swim *s, uint32_t idx, const uint8_t *from, uint64_t inc,
                               int enqueue, uint64_t now)
{
	struct swim_member *m = &s->t.m[idx];

	if (inc < m->incarnation || !swim_live(m->state)) {
		s->stats.updates_stale++;
		return;
	}
	if (m->state == SWIM_SUSPECT) {
		m->incarnation = inc;
		/* re-gossip only news: a new independent confirmation */
		if (swim_sus_confirm(s, idx, from) && enqueue)
			swim__bq_push(s, idx, from);
		return;
	}
	m->incarnation = inc;
	swim_set_state(s, idx, SWIM_SUSPECT, now);
	swim_sus_start(s, idx, from, now);
	s->stats.updates_applied++;
	if (enqueue)
		swim__bq_push(s, idx, from);
	swim_event(s, idx, SWIM_EV_SUSPECT);
}

static void swim_apply_down(struct swim *s, uint32_t idx, const uint8_t *from, uint64_t inc,
                            uint8_t state, int enqueue, uint64_t now)
{
	struct swim_member *m = &s->t.m[idx];

	/* left is final at its incarnation; dead may still turn into left */
	if (inc < m->incarnation || m->state == SWIM_LEFT ||
	    (m->state == SWIM_DEAD && state == SWIM_DEAD)) {
		s->stats.updates_stale++;
		return;
	}
	m->incarnation = inc;
	swim_set_state(s, idx, state, now);
	swim_sus_remove(s, idx);
	s->stats.updates_applied++;
	if (state == SWIM_DEAD)
		s->stats.deaths++;
	if (enqueue)
		swim__bq_push(s, idx, from);
	swim_event(s, idx, state == SWIM_DEAD ? SWIM_EV_DEAD : SWIM_EV_LEFT);
}

void swim__apply(struct swim *s, const struct wire_update *u, const uint8_t *sender, int enqueue,
                 uint64_t now)
{
	const uint8_t *from = u->full ? sender : u->from;
	int64_t idx = member_table_find(&s->t, u->id);

	if (idx == 0) {
		swim_apply_self(s, u, now);
		return;
	}
	if (idx < 0) {
		swim_apply_new(s, u, from, enqueue, now);
		return;
	}
	switch (u->state) {
	case SWIM_ALIVE:
		swim_apply_alive(s, (uint32_t)idx, u, enqueue, now);
		break;
	case SWIM_SUSPECT:
		swim_apply_suspect(s, (uint32_t)idx, from, u->incarnation, enqueue, now);
		break;
	default:
		swim_apply_down(s, (uint32_t)idx, from, u->incarnation, u->state, enqueue, now);
	}
}

/* ---- probing ---- */

static uint64_t swim_scaled(const struct swim *s, uint32_t ms)
{
	return swim_awareness_scale(ms, s->awareness);
}

static void swim_awareness_apply(struct swim *s, int delta)
{
	int64_t v = (int64_t)s->awareness + delta;

	if (v < 0)
		v = 0;
	if (v > (int64_t)s->cfg.awareness_max - 1)
		v = (int64_t)s->cfg.awareness_max - 1;
	s->awareness = (uint32_t)v;
}

static void swim_ping(struct swim *s, const struct swim_addr *to, const uint8_t *target,
                      uint32_t probe)
{
	struct wire_msg msg;

	int64_t idx = member_table_find(&s->t, target);

	swim_msg_init(&msg, WIRE_PING, probe);
	msg.has_target = 1;
	memcpy(msg.target, target, SWIM_ID_LEN);
	/* Lifeguard buddy system: a suspect hears of it from whoever probes it */
	if (idx > 0 && s->t.m[idx].state == SWIM_SUSPECT)
		swim__send_piggyback_first(s, to, &msg, (uint32_t)idx);
	else
		swim__send_piggyback(s, to, &msg);
}

static void swim_probe_start(struct swim *s, uint64_t now)
{
	uint32_t idx = 0;

	while (!idx) {
		if (s->pos >= s->n_order) {
			swim_order_rebuild(s);
			if (!s->n_order)
				break;
		}
		idx = s->order[s->pos++];
		if (!swim_live(s->t.m[idx].state))
			idx = 0;
	}
	s->next_probe = now + swim_scaled(s, s->cfg.probe_interval_ms);
	if (!idx)
		return;
	memset(&s->probe, 0, sizeof(s->probe));
	s->probe.active = 1;
	s->probe.idx = idx;
	s->probe.seq = ++s->probe_seq;
	s->probe.direct_deadline = now + swim_scaled(s, s->cfg.probe_timeout_ms);
	s->probe.end = s->next_probe;
	s->stats.probes++;
	swim_ping(s, &s->t.m[idx].gossip, s->t.m[idx].id, s->probe.seq);
}

static void swim_probe_indirect(struct swim *s)
{
	struct swim_member *target = &s->t.m[s->probe.idx];
	uint32_t k = s->cfg.indirect_k < 16 ? s->cfg.indirect_k : 16;
	uint32_t cand = s->n_live > 2 ? s->n_live - 2 : 0;   /* minus self and target */
	uint32_t tries = 0;

	s->probe.indirect_sent = 1;
	if (k > cand)
		k = cand;
	/* random distinct alive members other than the target; rejection
	 * sampling is fine while k is much smaller than the live count */
	while (s->probe.n_relays < k && tries++ < 8 * k + 32) {
		uint32_t i = 1 + swim__rand_below(s, s->t.n - 1);
		int dup = 0;

		if (i == s->probe.idx || s->t.m[i].state != SWIM_ALIVE)
			continue;
		for (uint32_t j = 0; j < s->probe.n_relays; j++)
			dup |= s->probe.relays[j] == i;
		if (!dup)
			s->probe.relays[s->probe.n_relays++] = i;
	}
	for (uint32_t j = 0; j < s->probe.n_relays; j++) {
		struct wire_msg msg;

		swim_msg_init(&msg, WIRE_PING_REQ, s->probe.seq);
		msg.has_target = 1;
		memcpy(msg.target, target->id, SWIM_ID_LEN);
		msg.target_addr = target->gossip;
		s->stats.ping_reqs++;
		swim__send_piggyback(s, &s->t.m[s->probe.relays[j]].gossip, &msg);
	}
}

static void swim_probe_failed(struct swim *s, uint64_t now)
{
	uint32_t idx = s->probe.idx;
	struct swim_member *m = &s->t.m[idx];
	int delta;

	s->probe.active = 0;
	s->stats.probes_failed++;
	/* Lifeguard: relays that did not even nack point at our own trouble */
	if (s->probe.n_relays)
		delta = s->probe.nacks < s->probe.n_relays ? (int)(s->probe.n_relays - s->probe.nacks) : 0;
	else
		delta = 1;
	swim_awareness_apply(s, delta);
	if (!swim_live(m->state))
		return;
	/* alive: we start the suspicion; suspect: our failure confirms it */
	if (m->state == SWIM_ALIVE)
		s->stats.suspects++;
	swim_apply_suspect(s, idx, s->t.m[0].id, m->incarnation, 1, now);
}

static void swim_probe_acked(struct swim *s)
{
	s->probe.active = 0;
	swim_awareness_apply(s, -1);
}

/* ---- relays for others' ping-req ---- */

static void swim_relay_start(struct swim *s, const struct wire_msg *msg, const struct swim_addr *from,
                             uint64_t now)
{
	struct swim_relay *r = NULL;

	for (int i = 0; i < SWIM_RELAY_MAX; i++)
		if (!s->relays[i].used) {
			r = &s->relays[i];
			break;
		}
	if (!r)
		return;                /* overloaded: the requester sees no nack, as it should */
	memset(r, 0, sizeof(*r));
	r->used = 1;
	r->my_probe = ++s->probe_seq;
	r->req_probe = msg->probe;
	memcpy(r->target, msg->target, SWIM_ID_LEN);
	memcpy(r->requester, msg->sender, SWIM_ID_LEN);
	r->req_addr = *from;
	/* nack at 80% of the timeout so it arrives before the requester gives up */
	r->nack_at = now + (uint64_t)s->cfg.probe_timeout_ms * 4 / 5;
	r->expire = now + s->cfg.probe_interval_ms;
	swim_ping(s, &msg->target_addr, msg->target, r->my_probe);
}

static int swim_relay_ack(struct swim *s, const struct wire_msg *msg)
{
	for (int i = 0; i < SWIM_RELAY_MAX; i++) {
		struct swim_relay *r = &s->relays[i];
		struct wire_msg fwd;

		if (!r->used || r->my_probe != msg->probe || !swim_id_eq(r->target, msg->sender))
			continue;
		swim_msg_init(&fwd, WIRE_ACK, r->req_probe);
		r->used = 0;
		swim__send_piggyback(s, &r->req_addr, &fwd);
		return 1;
	}
	return 0;
}

/* ---- receive ---- */

/* Replay window of 64 packets per sender (as IPsec/DTLS anti-replay).
 * Returns 0 and records seq, or a SWIM_DROP_* code. */
static int swim_replay_check(struct swim_member *m, uint64_t seq, int commit)
{
	uint64_t d;

	if (m->rx_seq_max == 0 && m->rx_seq_bits == 0)
		goto accept;
	if (seq > m->rx_seq_max)
		goto accept;
	d = m->rx_seq_max - seq;
	if (d >= 64)
		return SWIM_DROP_TOO_OLD;
	if (m->rx_seq_bits & (UINT64_C(1) << d))
		return SWIM_DROP_REPLAY;
	if (commit)
		m->rx_seq_bits |= UINT64_C(1) << d;
	return 0;
accept:
	if (commit) {
		d = seq - m->rx_seq_max;
		if (m->rx_seq_max == 0 && m->rx_seq_bits == 0)
			m->rx_seq_bits = 1;
		else
			m->rx_seq_bits = (d >= 64 ? 0 : m->rx_seq_bits << d) | 1;
		m->rx_seq_max = seq;
	}
	return 0;
}

static void swim_count_drop(struct swim *s, int rc)
{
	if (rc <= WIRE_E_FIRST && rc > WIRE_E_FIRST - WIRE_E_COUNT)
		s->stats.rx_bad[WIRE_E_FIRST - rc]++;
	else if (rc == SWIM_DROP_REPLAY)
		s->stats.rx_replay++;
	else if (rc == SWIM_DROP_TOO_OLD)
		s->stats.rx_too_old++;
	else if (rc == SWIM_DROP_SELF)
		s->stats.rx_self++;
	else if (rc == SWIM_DROP_MISDIRECT)
		s->stats.rx_misdirected++;
	else
		s->stats.rx_nomem++;
}

static void swim_handle(struct swim *s, const struct wire_msg *msg, const struct swim_addr *from,
                        uint64_t now)
{
	int64_t sidx = member_table_find(&s->t, msg->sender);
	struct wire_msg out;

	switch (msg->type) {
	case WIRE_PING:
		swim_msg_init(&out, WIRE_ACK, msg->probe);
		swim__send_piggyback(s, from, &out);
		break;
	case WIRE_PING_REQ:
		if (swim_id_eq(msg->target, s->t.m[0].id)) {
			swim_msg_init(&out, WIRE_ACK, msg->probe);
			swim__send_piggyback(s, from, &out);
		} else {
			swim_relay_start(s, msg, from, now);
		}
		break;
	case WIRE_ACK:
		if (swim_relay_ack(s, msg))
			break;
		if (s->probe.active && msg->probe == s->probe.seq) {
			int ok = sidx == (int64_t)s->probe.idx;

			for (uint32_t j = 0; j < s->probe.n_relays; j++)
				ok |= sidx == (int64_t)s->probe.relays[j];
			if (ok)
				swim_probe_acked(s);
		}
		break;
	case WIRE_NACK:
		if (s->probe.active && msg->probe == s->probe.seq)
			for (uint32_t j = 0; j < s->probe.n_relays; j++)
				if (sidx == (int64_t)s->probe.relays[j]) {
					s->probe.nacks++;
					s->stats.nacks_rx++;
				}
		break;
	case WIRE_PUSHPULL:
		if ((msg->flags & WIRE_PP_REPLY) && sidx > 0 && (uint32_t)sidx < s->cap_pp_seen) {
			if (s->pp_seen[sidx] != msg->probe) {
				s->pp_seen[sidx] = msg->probe;
				swim__pushpull_send(s, from, 0);
			}
		}
		break;
	default:
		break;
	}
}

int swim_on_packet(struct swim *s, const struct swim_addr *from, const uint8_t *buf, size_t len,
                   uint64_t now)
{
	struct wire_msg msg;
	int64_t sidx;
	int rc, enqueue;

	s->stats.rx_packets++;
	s->stats.rx_bytes += len;
	memset(&msg, 0, sizeof(msg));
	msg.updates = s->scratch;
	rc = wire_decode(&msg, buf, len);
	if (rc == 0 && swim_id_eq(msg.sender, s->t.m[0].id))
		rc = SWIM_DROP_SELF;
	if (rc == 0 && msg.type == WIRE_PING && !swim_id_eq(msg.target, s->t.m[0].id))
		rc = SWIM_DROP_MISDIRECT;   /* e.g. for the id that used this address before */
	sidx = rc == 0 ? member_table_find(&s->t, msg.sender) : -1;
	if (rc == 0 && sidx > 0)
		rc = swim_replay_check(&s->t.m[sidx], msg.seq, 0);
	if (rc) {
		swim_count_drop(s, rc);
		return rc;
	}
	if (sidx > 0)
		swim_replay_check(&s->t.m[sidx], msg.seq, 1);
	s->stats.rx_type[msg.type]++;
	/* a fresh joiner does not re-gossip the table it is being handed:
	 * everybody else knows it already */
	enqueue = !(msg.type == WIRE_PUSHPULL && s->t.n == 1);
	for (uint32_t i = 0; i < msg.n_updates; i++)
		swim__apply(s, &msg.updates[i], msg.sender, enqueue, now);
	if (sidx < 0) {
		sidx = member_table_find(&s->t, msg.sender);
		if (sidx > 0) {
			swim_replay_check(&s->t.m[sidx], msg.seq, 1);
		} else if (msg.type != WIRE_PUSHPULL && now >= s->next_stranger_pp && !s->leaving) {
			/* it knows us, we do not know it (its join news died out
			 * before reaching us): ask for its table, at most once a
			 * period so spoofed senders cannot make us flood */
			s->next_stranger_pp = now + s->cfg.probe_interval_ms;
			swim__pushpull_send(s, from, WIRE_PP_REPLY);
		}
	}
	swim_handle(s, &msg, from, now);
	return 0;
}

/* ---- timers ---- */

uint64_t swim_next_deadline(const struct swim *s)
{
	uint64_t d = UINT64_MAX;

#define SWIM_MIN(x) do { if ((x) < d) d = (x); } while (0)
	if (s->probe.active) {
		if (!s->probe.indirect_sent)
			SWIM_MIN(s->probe.direct_deadline);
		SWIM_MIN(s->probe.end);
	}
	if (!s->leaving)
		SWIM_MIN(s->next_probe);
	if (s->cfg.pushpull_interval_ms && !s->leaving)
		SWIM_MIN(s->next_pushpull);
	if (s->cfg.gossip_fanout && s->n_bq && s->n_live > 1)
		SWIM_MIN(s->next_gossip);
	for (uint32_t i = 0; i < s->n_sus; i++) {
		SWIM_MIN(s->sus[i].deadline);
		SWIM_MIN(s->sus[i].check_at);
	}
	for (int i = 0; i < SWIM_RELAY_MAX; i++)
		if (s->relays[i].used)
			SWIM_MIN(s->relays[i].nack_sent ? s->relays[i].expire : s->relays[i].nack_at);
#undef SWIM_MIN
	return d;
}

static void swim_tick_relays(struct swim *s, uint64_t now)
{
	for (int i = 0; i < SWIM_RELAY_MAX; i++) {
		struct swim_relay *r = &s->relays[i];

		if (!r->used)
			continue;
		if (!r->nack_sent && now >= r->nack_at) {
			struct wire_msg msg;

			r->nack_sent = 1;
			s->stats.nacks_tx++;
			swim_msg_init(&msg, WIRE_NACK, r->req_probe);
			swim__send_piggyback(s, &r->req_addr, &msg);
		}
		if (now >= r->expire)
			r->used = 0;
	}
}

static void swim_tick_suspicions(struct swim *s, uint64_t now)
{
	uint32_t i = 0;

	while (i < s->n_sus) {
		struct swim_suspicion *x = &s->sus[i];

		if (now < x->deadline) {
			/* Gossip may miss a few nodes with the refutation (each gets
			 * it with probability ~1 - e^(-lambda log N)); a direct ping
			 * carrying the suspicion makes the suspect answer us itself. */
			if (now >= x->check_at) {
				struct swim_member *m = &s->t.m[x->idx];

				/* again every min/2: a lost ping or ack must not decide */
				x->check_at = now + (x->min_ms / 2 ? x->min_ms / 2 : 1);
				if (m->state == SWIM_SUSPECT)
					swim_ping(s, &m->gossip, m->id, ++s->probe_seq);
			}
			i++;
			continue;
		}
		/* removing refills slot i from the end: re-check the same slot */
		uint32_t idx = x->idx;

		swim_sus_remove(s, idx);
		if (s->t.m[idx].state == SWIM_SUSPECT)
			swim_apply_down(s, idx, s->t.m[0].id, s->t.m[idx].incarnation, SWIM_DEAD, 1, now);
	}
}

static void swim_tick_gossip(struct swim *s, uint64_t now)
{
	uint32_t sent = 0, want = s->cfg.gossip_fanout;

	s->next_gossip = now + s->cfg.gossip_interval_ms;
	if (s->n_live > 1 && want > s->n_live - 1)
		want = s->n_live - 1;
	/* suspects too: they are the ones that most need the news */
	for (uint32_t tries = 0; s->n_bq && sent < want && tries < 4 * want + 16; tries++) {
		uint32_t i = 1 + swim__rand_below(s, s->t.n - 1);
		struct wire_msg msg;

		if (s->t.n < 2 || !swim_live(s->t.m[i].state))
			continue;
		swim_msg_init(&msg, WIRE_GOSSIP, 0);
		swim__send_piggyback(s, &s->t.m[i].gossip, &msg);
		sent++;
	}
}

static void swim_tick_pushpull(struct swim *s, uint64_t now)
{
	uint32_t cand = s->n_live > 1 ? s->n_live - 1 : 0;

	s->next_pushpull = now + swim_pushpull_scale(s->cfg.pushpull_interval_ms, s->n_live);
	for (uint32_t tries = 0; cand && tries < 16; tries++) {
		uint32_t i = 1 + swim__rand_below(s, s->t.n - 1);

		if (s->t.m[i].state == SWIM_ALIVE) {
			swim__pushpull_send(s, &s->t.m[i].gossip, WIRE_PP_REPLY);
			return;
		}
	}
}

uint64_t swim_tick(struct swim *s, uint64_t now)
{
	swim_tick_relays(s, now);
	if (s->probe.active && !s->probe.indirect_sent && now >= s->probe.direct_deadline)
		swim_probe_indirect(s);
	if (s->probe.active && now >= s->probe.end)
		swim_probe_failed(s, now);
	if (!s->leaving && !s->probe.active && now >= s->next_probe)
		swim_probe_start(s, now);
	swim_tick_suspicions(s, now);
	if (s->cfg.pushpull_interval_ms && !s->leaving && now >= s->next_pushpull)
		swim_tick_pushpull(s, now);
	if (s->cfg.gossip_fanout && now >= s->next_gossip)
		swim_tick_gossip(s, now);
	return swim_next_deadline(s);
}

/* ---- lifecycle and API ---- */

static int swim_config_check(struct swim_config *c)
{
	struct swim_config d;

	swim_config_lan(&d);
#define SWIM_DEF(f) do { if (!c->f) c->f = d.f; } while (0)
	SWIM_DEF(probe_interval_ms);
	SWIM_DEF(probe_timeout_ms);
	SWIM_DEF(indirect_k);
	SWIM_DEF(suspicion_mult);
	SWIM_DEF(suspicion_max_mult);
	SWIM_DEF(retransmit_mult);
	SWIM_DEF(awareness_max);
	SWIM_DEF(leave_fanout);
	SWIM_DEF(packet_max);
	SWIM_DEF(gossip_interval_ms);
#undef SWIM_DEF
	if (c->probe_timeout_ms >= c->probe_interval_ms || c->packet_max < SWIM_PACKET_MIN ||
	    c->packet_max > 65507 || c->indirect_k > 16 || c->awareness_max > 64)
		return -EINVAL;
	if ((c->gossip.family != 4 && c->gossip.family != 6) || (c->data.family != 4 && c->data.family != 6))
		return -EINVAL;
	return 0;
}

int swim_new(struct swim **out, const struct swim_config *cfg, const struct swim_env *env, uint64_t now)
{
	struct swim *s;
	struct swim_member self;
	int rc;

	if (!env || !env->send)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->env = *env;
	rc = swim_config_check(&s->cfg);
	if (rc)
		goto err;
	rc = -ENOMEM;
	swim_seed(s, cfg->seed);
	member_table_init(&s->t);
	s->scratch = calloc(WIRE_MAX_UPDATES, sizeof(*s->scratch));
	s->scratch_tx = calloc(WIRE_MAX_UPDATES, sizeof(*s->scratch_tx));
	s->txbuf = malloc(s->cfg.packet_max);
	s->pp_seen = calloc(16, sizeof(*s->pp_seen));
	if (!s->scratch || !s->scratch_tx || !s->txbuf || !s->pp_seen)
		goto err;
	s->cap_pp_seen = 16;
	memset(&self, 0, sizeof(self));
	memcpy(self.id, cfg->id, SWIM_ID_LEN);
	self.gossip = cfg->gossip;
	self.data = cfg->data;
	self.meta = cfg->meta;
	self.incarnation = cfg->incarnation;
	self.state = SWIM_ALIVE;
	self.since = now;
	if (member_table_add(&s->t, &self) != 0)
		goto err;
	s->n_live = 1;
	s->tx_seq = cfg->seq_base;
	/* spread nodes started together over the period */
	s->next_probe = now + swim__rand_below(s, s->cfg.probe_interval_ms);
	s->next_pushpull = now + s->cfg.pushpull_interval_ms / 2 +
	                   swim__rand_below(s, s->cfg.pushpull_interval_ms / 2 + 1);
	swim__bq_push(s, 0, NULL);
	*out = s;
	return 0;
err:
	swim_free(s);
	return rc;
}

void swim_free(struct swim *s)
{
	if (!s)
		return;
	member_table_fini(&s->t);
	free(s->order);
	free(s->bq);
	free(s->pick);
	free(s->sus);
	free(s->pp_seen);
	free(s->scratch);
	free(s->scratch_tx);
	free(s->txbuf);
	free(s);
}

int swim_join(struct swim *s, const struct swim_addr *seeds, size_t n, uint64_t now)
{
	(void)now;
	for (size_t i = 0; i < n; i++) {
		if (seeds[i].family != 4 && seeds[i].family != 6)
			return -EINVAL;
		if (swim_addr_equal(&seeds[i], &s->t.m[0].gossip))
			continue;
		swim__pushpull_send(s, &seeds[i], WIRE_PP_REPLY | WIRE_PP_JOIN);
	}
	return 0;
}

int swim_leave(struct swim *s, uint64_t now)
{
	struct wire_msg msg;
	uint32_t told = 0;

	if (s->leaving)
		return 0;
	s->t.m[0].incarnation++;
	swim_set_state(s, 0, SWIM_LEFT, now);
	s->leaving = 1;
	s->probe.active = 0;
	swim__bq_push(s, 0, s->t.m[0].id);
	/* tell a few members directly; they spread it by piggyback */
	for (uint32_t tries = 0; told < s->cfg.leave_fanout && tries < 8 * s->cfg.leave_fanout + 32 &&
	                         s->t.n > 1; tries++) {
		uint32_t i = 1 + swim__rand_below(s, s->t.n - 1);

		if (s->t.m[i].state != SWIM_ALIVE)
			continue;
		swim_msg_init(&msg, WIRE_GOSSIP, 0);
		msg.updates = s->scratch_tx;
		swim__record(s, 0, s->t.m[0].id, &s->scratch_tx[0]);
		msg.n_updates = 1;
		swim__send(s, &s->t.m[i].gossip, &msg);
		told++;
	}
	return 0;
}

int swim_set_meta(struct swim *s, const struct swim_meta *meta, uint64_t now)
{
	if (s->leaving)
		return -EINVAL;
	s->t.m[0].meta = *meta;
	s->t.m[0].incarnation++;
	s->t.m[0].since = now;
	swim__bq_push(s, 0, NULL);
	return 0;
}

uint32_t swim_member_count(const struct swim *s)
{
	return s->t.n;
}

const struct swim_member *swim_member_at(const struct swim *s, uint32_t i)
{
	return i < s->t.n ? &s->t.m[i] : NULL;
}

const struct swim_member *swim_member_find(const struct swim *s, const uint8_t id[SWIM_ID_LEN])
{
	int64_t i = member_table_find(&s->t, id);

	return i < 0 ? NULL : &s->t.m[i];
}

uint32_t swim_live_count(const struct swim *s)
{
	return s->n_live;
}

const struct swim_stats *swim_get_stats(const struct swim *s)
{
	return &s->stats;
}

uint32_t swim_awareness(const struct swim *s)
{
	return s->awareness;
}

uint32_t swim_pending_updates(const struct swim *s)
{
	return s->n_bq;
}

/*
 * gossip/swim_probe.c: failure detection (SWIM probe, ping-req relays,
 * Lifeguard local health) and the timers behind swim_tick().
 */
#include "gossip/swim_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* probe list: round-robin over a shuffled list */

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
		if (swim__live(s->t.m[i].state))
			s->order[s->n_order++] = i;
	for (uint32_t i = s->n_order; i > 1; i--) {
		uint32_t j = swim__rand_below(s, i);
		uint32_t tmp = s->order[i - 1];

		s->order[i - 1] = s->order[j];
		s->order[j] = tmp;
	}
}

/* A new member goes to a random place among those not yet probed this round. */
void swim__order_insert(struct swim *s, uint32_t idx)
{
	uint32_t j;

	if (swim_order_reserve(s, s->n_order + 1))
		return;
	s->order[s->n_order++] = idx;
	j = s->pos + swim__rand_below(s, s->n_order - s->pos);
	s->order[s->n_order - 1] = s->order[j];
	s->order[j] = idx;
}

/* probing */

static uint64_t swim_scaled(const struct swim *s, uint32_t ms)
{
	return swim_awareness_scale(ms, s->awareness);
}

void swim__awareness_apply(struct swim *s, int delta)
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

	swim__msg_init(&msg, WIRE_PING, probe);
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
		if (!swim__live(s->t.m[idx].state))
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

		swim__msg_init(&msg, WIRE_PING_REQ, s->probe.seq);
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
	swim__awareness_apply(s, delta);
	if (!swim__live(m->state))
		return;
	/* alive: we start the suspicion; suspect: our failure confirms it */
	if (m->state == SWIM_ALIVE)
		s->stats.suspects++;
	swim__apply_suspect(s, idx, s->t.m[0].id, m->incarnation, 1, now);
}

void swim__probe_acked(struct swim *s)
{
	s->probe.active = 0;
	swim__awareness_apply(s, -1);
}

/* relays for others' ping-req */

void swim__relay_start(struct swim *s, const struct wire_msg *msg, const struct swim_addr *from,
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

int swim__relay_ack(struct swim *s, const struct wire_msg *msg)
{
	for (int i = 0; i < SWIM_RELAY_MAX; i++) {
		struct swim_relay *r = &s->relays[i];
		struct wire_msg fwd;

		if (!r->used || r->my_probe != msg->probe || !swim__id_eq(r->target, msg->sender))
			continue;
		swim__msg_init(&fwd, WIRE_ACK, r->req_probe);
		r->used = 0;
		swim__send_piggyback(s, &r->req_addr, &fwd);
		return 1;
	}
	return 0;
}

/* timers */

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
			swim__msg_init(&msg, WIRE_NACK, r->req_probe);
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

		swim__sus_remove(s, idx);
		if (s->t.m[idx].state == SWIM_SUSPECT)
			swim__apply_down(s, idx, s->t.m[0].id, s->t.m[idx].incarnation, SWIM_DEAD, 1, now);
	}
}

static void swim_tick_gossip(struct swim *s, uint64_t now)
{
	uint32_t sent = 0, want = s->cfg.gossip_fanout;

	s->next_gossip = now + s->cfg.gossip_interval_ms;
	if (s->t.n < 2 || s->n_live < 2)
		return;
	if (want > s->n_live - 1)
		want = s->n_live - 1;
	/* suspects too: they are the ones that most need the news */
	for (uint32_t tries = 0; s->n_bq && sent < want && tries < 4 * want + 16; tries++) {
		uint32_t i = 1 + swim__rand_below(s, s->t.n - 1);
		struct wire_msg msg;

		if (!swim__live(s->t.m[i].state))
			continue;
		swim__msg_init(&msg, WIRE_GOSSIP, 0);
		swim__send_piggyback(s, &s->t.m[i].gossip, &msg);
		sent++;
	}
}

static void swim_tick_pushpull(struct swim *s, uint64_t now)
{
	s->next_pushpull = now + swim_pushpull_scale(s->cfg.pushpull_interval_ms, s->n_live);
	for (uint32_t tries = 0; s->t.n > 1 && tries < 16; tries++) {
		uint32_t i = 1 + swim__rand_below(s, s->t.n - 1);
		const struct swim_member *m = &s->t.m[i];

		/* recently dead members too: after a partition heals, this is
		 * how the two sides find each other again */
		if (m->state == SWIM_ALIVE || (m->state == SWIM_DEAD && now - m->since < SWIM_DEAD_RETRY_MS)) {
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

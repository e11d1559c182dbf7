/*
 * gossip/swim_merge.c: how a membership update changes the table (the
 * incarnation rules), refutation, and Lifeguard suspicion timers.
 */
#include "gossip/swim_int.h"

#include <stdlib.h>
#include <string.h>

/* suspicion (Lifeguard) */

static struct swim_suspicion *swim_sus_find(struct swim *s, uint32_t idx)
{
	for (uint32_t i = 0; i < s->n_sus; i++)
		if (s->sus[i].idx == idx)
			return &s->sus[i];
	return NULL;
}

void swim__sus_remove(struct swim *s, uint32_t idx)
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
		if (swim__id_eq(x->from[i], from))
			return 0;
	memcpy(x->from[x->n_from++], from, SWIM_ID_LEN);
	x->n++;
	x->deadline = x->start + swim_suspicion_timeout_ms(x->n, x->k, x->min_ms, x->max_ms);
	return 1;
}

/* merge rules */

static void swim_refute(struct swim *s, uint64_t inc, uint64_t now)
{
	struct swim_member *self = &s->t.m[0];

	if (s->leaving)
		return;
	inc = inc > self->incarnation ? inc : self->incarnation;
	/* saturate: only a forged record can get here, and a value the wire
	 * refuses would make every packet carrying our record unsendable */
	self->incarnation = inc < WIRE_COUNTER_MAX ? inc + 1 : WIRE_COUNTER_MAX;
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
	if (!u->full || !swim__live(u->state))
		return;
	memset(&m, 0, sizeof(m));
	memcpy(m.id, u->id, SWIM_ID_LEN);
	m.gossip = u->gossip;
	m.data = u->data;
	m.meta = u->meta;
	m.incarnation = u->incarnation;
	m.state = SWIM_DEAD;           /* swim__set_state counts the transition */
	m.since = now;
	if (s->t.n >= s->cap_aux) {
		uint32_t ncap = s->cap_aux * 2;
		struct swim_aux *na = realloc(s->aux, (size_t)ncap * sizeof(*na));

		if (!na) {
			s->stats.rx_nomem++;
			return;
		}
		memset(na + s->cap_aux, 0, (size_t)(ncap - s->cap_aux) * sizeof(*na));
		s->aux = na;
		s->cap_aux = ncap;
	}
	idx = member_table_add(&s->t, &m);
	if (idx < 0) {
		s->stats.rx_nomem++;
		return;
	}
	swim__set_state(s, (uint32_t)idx, u->state, now);
	s->stats.updates_applied++;
	swim__order_insert(s, (uint32_t)idx);
	swim__event(s, (uint32_t)idx, SWIM_EV_JOIN);
	if (u->state == SWIM_SUSPECT) {
		swim_sus_start(s, (uint32_t)idx, from, now);
		swim__event(s, (uint32_t)idx, SWIM_EV_SUSPECT);
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
		swim__set_state(s, idx, SWIM_ALIVE, now);
	swim__sus_remove(s, idx);
	s->stats.updates_applied++;
	if (enqueue)
		swim__bq_push(s, idx, NULL);
	if (old == SWIM_SUSPECT)
		swim__event(s, idx, SWIM_EV_ALIVE);
	else if (old == SWIM_DEAD || old == SWIM_LEFT) {
		swim__order_insert(s, idx);
		swim__event(s, idx, SWIM_EV_JOIN);
	} else if (!same)
		swim__event(s, idx, SWIM_EV_UPDATE);
}

void swim__apply_suspect(struct swim *s, uint32_t idx, const uint8_t *from, uint64_t inc,
                               int enqueue, uint64_t now)
{
	struct swim_member *m = &s->t.m[idx];

	if (inc < m->incarnation || !swim__live(m->state)) {
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
	swim__set_state(s, idx, SWIM_SUSPECT, now);
	swim_sus_start(s, idx, from, now);
	s->stats.updates_applied++;
	if (enqueue)
		swim__bq_push(s, idx, from);
	swim__event(s, idx, SWIM_EV_SUSPECT);
}

void swim__apply_down(struct swim *s, uint32_t idx, const uint8_t *from, uint64_t inc,
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
	swim__set_state(s, idx, state, now);
	swim__sus_remove(s, idx);
	s->stats.updates_applied++;
	if (state == SWIM_DEAD)
		s->stats.deaths++;
	if (enqueue)
		swim__bq_push(s, idx, from);
	swim__event(s, idx, state == SWIM_DEAD ? SWIM_EV_DEAD : SWIM_EV_LEFT);
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
		swim__apply_suspect(s, (uint32_t)idx, from, u->incarnation, enqueue, now);
		break;
	default:
		swim__apply_down(s, (uint32_t)idx, from, u->incarnation, u->state, enqueue, now);
	}
}

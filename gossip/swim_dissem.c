/*
 * gossip/swim_dissem.c: dissemination.  Piggyback queue (one entry per
 * member, least transmitted first, each sent lambda*ceil(log10(N+1)) times)
 * and push-pull of the full table in independent UDP chunks.
 *
 * Cost: enqueue O(1) (slot kept per member); each packet sorts the queue,
 * O(Q log Q), fine while queues hold tens of entries.  A joiner of a
 * 10,000-node cluster queues 10,000: buckets by transmit count would make
 * that O(packet) if the simulator shows it matters.
 */
#include "gossip/swim_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void swim__bq_push(struct swim *s, uint32_t idx, const uint8_t *from)
{
	struct swim_bcast *b = NULL;

	if (s->aux[idx].bq_slot) {
		b = &s->bq[s->aux[idx].bq_slot - 1];
	} else {
		if (s->n_bq == s->cap_bq) {
			uint32_t ncap = s->cap_bq ? s->cap_bq * 2 : 32;
			struct swim_bcast *nb = realloc(s->bq, (size_t)ncap * sizeof(*nb));
			struct swim_bcast **np;

			if (!nb) {
				s->stats.rx_nomem++;   /* update lost to gossip; push-pull repairs it */
				return;
			}
			s->bq = nb;
			np = realloc(s->pick, (size_t)ncap * sizeof(*np));
			if (!np) {
				s->stats.rx_nomem++;
				return;
			}
			s->pick = np;
			s->cap_bq = ncap;
		}
		b = &s->bq[s->n_bq++];
		b->idx = idx;
		s->aux[idx].bq_slot = s->n_bq;
	}
	b->transmits = 0;
	b->order = ++s->bq_order;
	memcpy(b->from, from ? from : s->t.m[0].id, SWIM_ID_LEN);
}

void swim__record(const struct swim *s, uint32_t idx, const uint8_t *from, struct wire_update *u)
{
	const struct swim_member *m = &s->t.m[idx];

	memset(u, 0, sizeof(*u));
	memcpy(u->id, m->id, SWIM_ID_LEN);
	u->incarnation = m->incarnation;
	u->state = m->state;
	if (m->state == SWIM_ALIVE || !from) {
		u->full = 1;
		u->gossip = m->gossip;
		u->data = m->data;
		u->meta = m->meta;
	} else {
		memcpy(u->from, from, SWIM_ID_LEN);
	}
}

/* least transmitted first; among equals the most recent first (total order) */
static int swim_bcast_cmp(const void *a, const void *b)
{
	const struct swim_bcast *x = *(const struct swim_bcast *const *)a;
	const struct swim_bcast *y = *(const struct swim_bcast *const *)b;

	if (x->transmits != y->transmits)
		return x->transmits < y->transmits ? -1 : 1;
	return x->order > y->order ? -1 : x->order < y->order;
}

/* Encoded size of msg without updates, plus room for an array16 header. */
static size_t swim_header_size(struct swim *s, struct wire_msg *msg)
{
	size_t len = 0;
	uint32_t n = msg->n_updates;

	msg->n_updates = 0;
	msg->seq = WIRE_COUNTER_MAX;           /* worst case; swim__send sets the real one */
	swim__stamp(s, msg);
	if (wire_encode(msg, s->txbuf, s->cfg.packet_max, &len) != 0)
		len = s->cfg.packet_max;
	msg->n_updates = n;
	return len + 2;
}

void swim__send_piggyback(struct swim *s, const struct swim_addr *to, struct wire_msg *msg)
{
	swim__send_piggyback_first(s, to, msg, 0);
}

void swim__send_piggyback_first(struct swim *s, const struct swim_addr *to, struct wire_msg *msg,
                                uint32_t first)
{
	size_t budget, hdr, used = 0;
	uint32_t limit = swim_retransmit_limit(s->cfg.retransmit_mult, s->n_live);
	uint32_t n = 0, w = 0;

	msg->updates = s->scratch_tx;
	msg->n_updates = 0;
	hdr = swim_header_size(s, msg);
	budget = s->cfg.packet_max > hdr ? s->cfg.packet_max - hdr : 0;
	if (first) {
		/* no queue entry needed: the record is rebuilt from the table */
		swim__record(s, first, s->t.m[0].id, &s->scratch_tx[0]);
		used = wire_update_size(&s->scratch_tx[0]);
		n = 1;
	}
	for (uint32_t i = 0; i < s->n_bq; i++)
		s->pick[i] = &s->bq[i];
	qsort(s->pick, s->n_bq, sizeof(*s->pick), swim_bcast_cmp);
	for (uint32_t i = 0; i < s->n_bq && n < WIRE_MAX_UPDATES; i++) {
		struct swim_bcast *b = s->pick[i];
		struct wire_update *u = &s->scratch_tx[n];
		size_t sz;

		if (first && b->idx == first)
			continue;
		swim__record(s, b->idx, b->from, u);
		sz = wire_update_size(u);
		if (used + sz > budget)
			continue;          /* a smaller record may still fit */
		used += sz;
		n++;
		b->transmits++;
	}
	msg->n_updates = n;
	swim__send(s, to, msg);
	/* drop what has been sent often enough, keep the rest in place */
	for (uint32_t i = 0; i < s->n_bq; i++) {
		if (s->bq[i].transmits < limit) {
			s->bq[w] = s->bq[i];
			s->aux[s->bq[w].idx].bq_slot = w + 1;
			w++;
		} else {
			s->aux[s->bq[i].idx].bq_slot = 0;
		}
	}
	s->n_bq = w;
}

void swim__pushpull_send(struct swim *s, const struct swim_addr *to, uint32_t flags)
{
	struct wire_msg msg;
	size_t budget, hdr, used, selfsz;
	uint32_t i = 1, n;

	memset(&msg, 0, sizeof(msg));
	msg.type = WIRE_PUSHPULL;
	msg.flags = flags;
	msg.probe = ++s->pp_id;
	msg.updates = s->scratch_tx;
	hdr = swim_header_size(s, &msg);
	budget = s->cfg.packet_max > hdr ? s->cfg.packet_max - hdr : 0;
	s->stats.pushpulls++;
	/* every chunk starts with our own record, so each one stands alone:
	 * a lost chunk costs its members until the next exchange, nothing more */
	swim__record(s, 0, NULL, &s->scratch_tx[0]);
	selfsz = wire_update_size(&s->scratch_tx[0]);
	do {
		n = 1;
		used = selfsz;
		for (; i < s->t.n && n < WIRE_MAX_UPDATES; i++) {
			struct wire_update *u = &s->scratch_tx[n];
			size_t sz;

			swim__record(s, i, NULL, u);
			sz = wire_update_size(u);
			if (used + sz > budget)
				break;
			used += sz;
			n++;
		}
		msg.n_updates = n;
		swim__send(s, to, &msg);
	} while (i < s->t.n);
}

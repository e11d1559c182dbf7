/*
 * gossip/swim.c: SWIM core: PRNG, sending, the receive path (decode,
 * replay window, dispatch) and the lifecycle/API.  Failure detection and
 * timers: swim_probe.c; merge rules and suspicion: swim_merge.c;
 * dissemination: swim_dissem.c.  Contract: swim.h; design: SWIM.md.
 */
#include "gossip/swim_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* PRNG: xoshiro256**, seeded by splitmix64 */

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



void swim__event(struct swim *s, uint32_t idx, enum swim_event ev)
{
	if (s->env.on_event)
		s->env.on_event(s->env.ctx, &s->t.m[idx], ev);
}

void swim__set_state(struct swim *s, uint32_t idx, uint8_t state, uint64_t now)
{
	struct swim_member *m = &s->t.m[idx];

	if (swim__live(m->state) && !swim__live(state))
		s->n_live--;
	else if (!swim__live(m->state) && swim__live(state))
		s->n_live++;
	m->state = state;
	m->since = now;
}

void swim__send(struct swim *s, const struct swim_addr *to, struct wire_msg *msg)
{
	size_t len;

	swim__stamp(s, msg);
	msg->seq = ++s->tx_seq;
	if (wire_encode(msg, s->txbuf, s->cfg.packet_max, &len) != 0)
		return;    /* cannot happen: sizes are budgeted; never send a partial packet */
	s->stats.tx_packets++;
	s->stats.tx_bytes += len;
	s->env.send(s->env.ctx, to, s->txbuf, len);
}


/* receive */

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

const char *swim_strerror(int code)
{
	switch (code) {
	case SWIM_DROP_REPLAY: return "swim: packet seq already seen from this sender (replay)";
	case SWIM_DROP_TOO_OLD: return "swim: packet seq below the sender's replay window";
	case SWIM_DROP_SELF: return "swim: packet claims our own id as sender";
	case SWIM_DROP_MISDIRECT: return "swim: ping for another node id";
	}
	return wire_strerror(code);
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

	/* a sender we hold suspect or dead is evidently running: put that
	 * record first in our answer so it refutes now, not when gossip or
	 * push-pull happens to reach it (heals a false death quickly) */
	uint32_t first = sidx > 0 && (s->t.m[sidx].state == SWIM_SUSPECT ||
	                              s->t.m[sidx].state == SWIM_DEAD) ? (uint32_t)sidx : 0;

	switch (msg->type) {
	case WIRE_PING:
		swim__msg_init(&out, WIRE_ACK, msg->probe);
		swim__send_piggyback_first(s, from, &out, first);
		break;
	case WIRE_PING_REQ:
		if (swim__id_eq(msg->target, s->t.m[0].id)) {
			swim__msg_init(&out, WIRE_ACK, msg->probe);
			swim__send_piggyback_first(s, from, &out, first);
		} else {
			swim__relay_start(s, msg, from, now);
		}
		break;
	case WIRE_ACK:
		if (swim__relay_ack(s, msg))
			break;
		if (s->probe.active && msg->probe == s->probe.seq) {
			int ok = sidx == (int64_t)s->probe.idx;

			for (uint32_t j = 0; j < s->probe.n_relays; j++)
				ok |= sidx == (int64_t)s->probe.relays[j];
			if (ok)
				swim__probe_acked(s);
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
		if ((msg->flags & WIRE_PP_REPLY) && sidx > 0) {
			if (s->aux[sidx].pp_seen != msg->probe) {
				s->aux[sidx].pp_seen = msg->probe;
				swim__pushpull_send(s, from, 0);
			}
		}
		break;
	default:
		break;
	}
}

/* A different ring digest from a known member: tell the layer above, at
 * most once per sender per period (every packet carries the digest, so
 * without the limit a ring change would fire once per packet).  Unknown
 * senders are skipped: there is no slot to rate-limit them by, and a
 * spoofed stranger must not make us pull rings. */
static void swim_digest_check(struct swim *s, const struct wire_msg *msg, uint64_t now)
{
	int64_t sidx;

	if (!s->env.on_digest || !s->has_digest || !msg->has_digest ||
	    memcmp(msg->digest, s->digest, SWIM_DIGEST_LEN) == 0)
		return;
	sidx = member_table_find(&s->t, msg->sender);
	if (sidx <= 0 || now < s->aux[sidx].digest_next)
		return;
	s->aux[sidx].digest_next = now + s->cfg.probe_interval_ms;
	s->stats.digest_mismatch++;
	s->env.on_digest(s->env.ctx, &s->t.m[sidx], msg->digest);
}

int swim_on_packet(struct swim *s, const struct swim_addr *from, const uint8_t *buf, size_t len,
                   uint64_t now)
{
	struct wire_msg msg;
	int64_t sidx;
	int rc;

	s->stats.rx_packets++;
	s->stats.rx_bytes += len;
	memset(&msg, 0, sizeof(msg));
	msg.updates = s->scratch;
	rc = wire_decode(&msg, buf, len);
	if (rc == 0 && swim__id_eq(msg.sender, s->t.m[0].id))
		rc = SWIM_DROP_SELF;
	if (rc == 0 && msg.type == WIRE_PING && !swim__id_eq(msg.target, s->t.m[0].id))
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
	/* What we learn from push-pull is gossiped on like the rest.  A joiner
	 * thus re-gossips the table it is handed (~N * lambda log N / 17
	 * piggyback slots, 141 packets at N = 200; receivers that know it
	 * already do not pass it on), which is what makes a boot storm (all
	 * nodes joining one seed at once) converge in about a second rather
	 * than waiting for periodic push-pulls (17 s at N = 50 without). */
	for (uint32_t i = 0; i < msg.n_updates; i++)
		swim__apply(s, &msg.updates[i], msg.sender, 1, now);
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
	swim_digest_check(s, &msg, now);
	return 0;
}

/* lifecycle and API */

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
	/* room for 2^62 more packets and refutations */
	if (c->incarnation > WIRE_COUNTER_MAX / 2 || c->seq_base > WIRE_COUNTER_MAX / 2)
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
	s->aux = calloc(16, sizeof(*s->aux));
	if (!s->scratch || !s->scratch_tx || !s->txbuf || !s->aux)
		goto err;
	s->cap_aux = 16;
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
	free(s->aux);
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
	if (s->t.m[0].incarnation < WIRE_COUNTER_MAX)
		s->t.m[0].incarnation++;
	swim__set_state(s, 0, SWIM_LEFT, now);
	s->leaving = 1;
	s->probe.active = 0;
	swim__bq_push(s, 0, s->t.m[0].id);
	/* tell a few members directly; they spread it by piggyback */
	for (uint32_t tries = 0; told < s->cfg.leave_fanout && tries < 8 * s->cfg.leave_fanout + 32 &&
	                         s->t.n > 1; tries++) {
		uint32_t i = 1 + swim__rand_below(s, s->t.n - 1);

		if (s->t.m[i].state != SWIM_ALIVE)
			continue;
		swim__msg_init(&msg, WIRE_GOSSIP, 0);
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
	if (s->t.m[0].incarnation >= WIRE_COUNTER_MAX)
		return -EOVERFLOW;
	s->t.m[0].meta = *meta;
	s->t.m[0].incarnation++;
	s->t.m[0].since = now;
	swim__bq_push(s, 0, NULL);
	return 0;
}

void swim_set_digest(struct swim *s, const uint8_t d[SWIM_DIGEST_LEN])
{
	static const uint8_t zero[SWIM_DIGEST_LEN];

	memcpy(s->digest, d, SWIM_DIGEST_LEN);
	s->has_digest = memcmp(d, zero, SWIM_DIGEST_LEN) != 0;
}

const uint8_t *swim_get_digest(const struct swim *s)
{
	return s->digest;
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

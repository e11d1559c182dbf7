/*
 * tests/unit/test_swim.c: SWIM + Lifeguard on the in-process fake network
 * (tests/unit/fakenet.h), virtual time, fixed seeds.  No timing assertions:
 * "within T" below is virtual time, a protocol property.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <cmocka.h>

#include <msgpack.h>

#include "tests/unit/fakenet.h"

#define SEED 42

/* ---- protocol math ---- */

static void test_math(void **state)
{
	(void)state;
	/* ln to 1e-12 against known constants */
	assert_true(swim_ln(2.0) > 0.693147180559 && swim_ln(2.0) < 0.693147180560);
	assert_true(swim_ln(10.0) > 2.302585092993 && swim_ln(10.0) < 2.302585092995);
	assert_true(swim_ln(1.0) > -1e-15 && swim_ln(1.0) < 1e-15);
	assert_true(swim_ln(0.5) < -0.693147180559 && swim_ln(0.5) > -0.693147180560);
	/* min suspicion: alpha * max(1, log10 n) * P */
	assert_int_equal(swim_suspicion_min_ms(4, 5, 1000), 4000);
	assert_int_equal(swim_suspicion_min_ms(4, 100, 1000), 8000);
	assert_int_equal(swim_suspicion_min_ms(4, 1000, 500), 6000);
	/* Lifeguard: max with no confirmation, min once k confirmations, in between decreasing */
	assert_int_equal(swim_suspicion_timeout_ms(0, 3, 1000, 6000), 6000);
	assert_int_equal(swim_suspicion_timeout_ms(3, 3, 1000, 6000), 1000);
	assert_int_equal(swim_suspicion_timeout_ms(9, 3, 1000, 6000), 1000);
	assert_int_equal(swim_suspicion_timeout_ms(0, 0, 1000, 6000), 1000);
	/* 6000 - 5000 * ln 2 / ln 4 = 3500 */
	assert_int_equal(swim_suspicion_timeout_ms(1, 3, 1000, 6000), 3500);
	assert_true(swim_suspicion_timeout_ms(2, 3, 1000, 6000) < 3500);
	/* retransmits: lambda * ceil(log10(n + 1)) */
	assert_int_equal(swim_retransmit_limit(4, 1), 4);
	assert_int_equal(swim_retransmit_limit(4, 9), 4);
	assert_int_equal(swim_retransmit_limit(4, 10), 8);
	assert_int_equal(swim_retransmit_limit(4, 200), 12);
	assert_int_equal(swim_awareness_scale(500, 0), 500);
	assert_int_equal(swim_awareness_scale(500, 3), 2000);
	assert_int_equal(swim_pushpull_scale(30000, 32), 30000);
	assert_int_equal(swim_pushpull_scale(30000, 33), 60000);
	assert_int_equal(swim_pushpull_scale(30000, 200), 120000);
}

/* ---- single node driven by hand ---- */

struct capture {
	uint32_t n;
	size_t   max_len;
	uint8_t  last[2048];
	size_t   last_len;
	struct swim_addr last_to;
	uint32_t events[SWIM_EV_UPDATE + 1];
};

static void cap_send(void *ctx, const struct swim_addr *to, const uint8_t *buf, size_t len)
{
	struct capture *c = ctx;

	c->n++;
	if (len > c->max_len)
		c->max_len = len;
	if (len <= sizeof(c->last)) {
		memcpy(c->last, buf, len);
		c->last_len = len;
	}
	c->last_to = *to;
}

static void cap_event(void *ctx, const struct swim_member *m, enum swim_event ev)
{
	struct capture *c = ctx;

	(void)m;
	c->events[ev]++;
}

static struct swim_addr addr6(uint32_t i)
{
	struct swim_addr a;

	memset(&a, 0, sizeof(a));
	a.family = 6;
	memset(a.ip, 0xfe, 16);
	memcpy(a.ip + 12, &i, 4);
	a.port = 65535;
	return a;
}

static struct swim *solo(struct capture *c, uint64_t seed)
{
	struct swim_config cfg;
	struct swim_env env = { .ctx = c, .send = cap_send, .on_event = cap_event };
	struct swim *s;

	memset(&cfg, 0, sizeof(cfg));
	swim_config_lan(&cfg);
	memset(cfg.id, 0xAA, SWIM_ID_LEN);
	cfg.gossip = addr6(0);
	cfg.data = addr6(0);
	cfg.seed = seed;
	assert_int_equal(swim_new(&s, &cfg, &env, 1000), 0);
	return s;
}

static void mk_update(struct wire_update *u, uint32_t i, uint64_t inc, uint8_t state)
{
	memset(u, 0, sizeof(*u));
	memset(u->id, 0x10, SWIM_ID_LEN);
	memcpy(u->id + 8, &i, 4);
	u->incarnation = inc;
	u->state = state;
	u->full = 1;
	u->gossip = addr6(i);
	u->data = addr6(i);
	u->meta.weight = 65535;
	u->meta.zone = UINT32_MAX;
	u->meta.capacity = UINT64_MAX;
	u->meta.generation = UINT64_MAX;
}

/* feed one message from a fake sender; returns swim_on_packet's code */
static int feed(struct swim *s, uint8_t type, uint32_t sender, uint64_t seq, struct wire_update *u,
                uint32_t n)
{
	struct wire_msg msg;
	uint8_t buf[8192];
	size_t len;
	struct swim_addr from = addr6(sender);

	memset(&msg, 0, sizeof(msg));
	msg.type = type;
	memset(msg.sender, 0x10, SWIM_ID_LEN);
	memcpy(msg.sender + 8, &sender, 4);
	msg.seq = seq;
	msg.updates = u;
	msg.n_updates = n;
	if (type == WIRE_PUSHPULL) {
		msg.flags = WIRE_PP_REPLY;
		msg.probe = 1;         /* exchange ids start at 1 */
	}
	assert_int_equal(wire_encode(&msg, buf, sizeof(buf), &len), 0);
	return swim_on_packet(s, &from, buf, len, 2000);
}

/* Merge rules, one by one. */
static void test_merge_rules(void **state)
{
	struct capture c;
	struct swim *s;
	struct wire_update u[2];
	const struct swim_member *m;

	(void)state;
	memset(&c, 0, sizeof(c));
	s = solo(&c, 1);
	mk_update(&u[0], 1, 5, SWIM_ALIVE);
	assert_int_equal(feed(s, WIRE_GOSSIP, 1, 1, u, 1), 0);
	m = swim_member_find(s, u[0].id);
	assert_non_null(m);
	assert_int_equal(m->state, SWIM_ALIVE);
	assert_int_equal(c.events[SWIM_EV_JOIN], 1);
	assert_int_equal(swim_live_count(s), 2);
	/* stale suspect (inc 4 < 5) ignored */
	u[0].state = SWIM_SUSPECT;
	u[0].incarnation = 4;
	assert_int_equal(feed(s, WIRE_GOSSIP, 1, 2, u, 1), 0);
	assert_int_equal(swim_member_find(s, u[0].id)->state, SWIM_ALIVE);
	/* suspect at 5 applies */
	u[0].incarnation = 5;
	assert_int_equal(feed(s, WIRE_GOSSIP, 1, 3, u, 1), 0);
	assert_int_equal(swim_member_find(s, u[0].id)->state, SWIM_SUSPECT);
	assert_int_equal(c.events[SWIM_EV_SUSPECT], 1);
	/* alive at the same incarnation does not refute; a higher one does */
	u[0].state = SWIM_ALIVE;
	assert_int_equal(feed(s, WIRE_GOSSIP, 1, 4, u, 1), 0);
	assert_int_equal(swim_member_find(s, u[0].id)->state, SWIM_SUSPECT);
	u[0].incarnation = 6;
	assert_int_equal(feed(s, WIRE_GOSSIP, 1, 5, u, 1), 0);
	assert_int_equal(swim_member_find(s, u[0].id)->state, SWIM_ALIVE);
	assert_int_equal(c.events[SWIM_EV_ALIVE], 1);
	/* dead at 6, then left at 6 overrides, then dead cannot undo left */
	u[0].state = SWIM_DEAD;
	assert_int_equal(feed(s, WIRE_GOSSIP, 1, 6, u, 1), 0);
	assert_int_equal(swim_member_find(s, u[0].id)->state, SWIM_DEAD);
	assert_int_equal(swim_live_count(s), 1);
	u[0].state = SWIM_LEFT;
	assert_int_equal(feed(s, WIRE_GOSSIP, 1, 7, u, 1), 0);
	assert_int_equal(swim_member_find(s, u[0].id)->state, SWIM_LEFT);
	u[0].state = SWIM_DEAD;
	u[0].incarnation = 9;
	assert_int_equal(feed(s, WIRE_GOSSIP, 1, 8, u, 1), 0);
	assert_int_equal(swim_member_find(s, u[0].id)->state, SWIM_LEFT);
	/* back alive at a higher incarnation: join again */
	u[0].state = SWIM_ALIVE;
	u[0].incarnation = 10;
	assert_int_equal(feed(s, WIRE_GOSSIP, 1, 9, u, 1), 0);
	assert_int_equal(swim_member_find(s, u[0].id)->state, SWIM_ALIVE);
	assert_int_equal(c.events[SWIM_EV_JOIN], 2);
	/* metadata change at a new incarnation: update event */
	u[0].incarnation = 11;
	u[0].meta.generation = 2;
	assert_int_equal(feed(s, WIRE_GOSSIP, 1, 10, u, 1), 0);
	assert_int_equal(c.events[SWIM_EV_UPDATE], 1);
	assert_int_equal(swim_member_find(s, u[0].id)->meta.generation, 2);
	/* suspicion of ourselves: refuted with a higher incarnation */
	memset(u[1].id, 0xAA, SWIM_ID_LEN);
	u[1].incarnation = 0;
	u[1].state = SWIM_SUSPECT;
	u[1].full = 0;
	memcpy(u[1].from, u[0].id, SWIM_ID_LEN);
	assert_int_equal(feed(s, WIRE_GOSSIP, 1, 11, &u[1], 1), 0);
	assert_int_equal(swim_member_at(s, 0)->incarnation, 1);
	assert_int_equal(swim_member_at(s, 0)->state, SWIM_ALIVE);
	assert_int_equal(swim_get_stats(s)->refutes, 1);
	assert_int_equal(swim_awareness(s), 1);   /* Lifeguard: refuting counts against our health */
	/* a forged suspicion at the largest incarnation: we saturate, and our
	 * packets (which carry our record) can still be encoded and sent */
	memset(u[1].id, 0xAA, SWIM_ID_LEN);
	u[1].incarnation = WIRE_COUNTER_MAX;
	assert_int_equal(feed(s, WIRE_GOSSIP, 1, 13, &u[1], 1), 0);
	assert_int_equal(swim_member_at(s, 0)->incarnation, WIRE_COUNTER_MAX);
	{
		uint32_t sent = c.n;
		uint64_t now = 2000;

		for (int i = 0; i < 20; i++)
			now = swim_tick(s, now);
		assert_true(c.n > sent);
	}
	assert_int_equal(swim_set_meta(s, &swim_member_at(s, 0)->meta, 3000), -EOVERFLOW);
	/* short record about an unknown member: ignored (no address to reach it) */
	memset(u[1].id, 0x77, SWIM_ID_LEN);
	u[1].incarnation = 0;
	assert_int_equal(feed(s, WIRE_GOSSIP, 1, 14, &u[1], 1), 0);
	assert_null(swim_member_find(s, u[1].id));
	swim_free(s);
}

/* Packets stay within packet_max even with IPv6 and maximal integers. */
static void test_packet_bound_ipv6(void **state)
{
	struct capture c;
	struct swim *s;
	struct wire_update u[WIRE_MAX_UPDATES];
	uint64_t now = 2000;

	(void)state;
	memset(&c, 0, sizeof(c));
	s = solo(&c, 2);
	/* 600 members arrive through push-pull chunks of 12 */
	for (uint32_t k = 0; k < 50; k++) {
		for (uint32_t j = 0; j < 12; j++)
			mk_update(&u[j], 1 + k * 12 + j, WIRE_COUNTER_MAX, SWIM_ALIVE);
		assert_int_equal(feed(s, WIRE_PUSHPULL, 1 + k * 12, 1, u, 12), 0);
	}
	assert_int_equal(swim_member_count(s), 601);
	assert_true(c.n > 0);                     /* push-pull replies went out */
	/* ticks for a while: probes, ping-reqs, push-pulls, all with piggyback */
	for (int i = 0; i < 200; i++)
		now = swim_tick(s, now);
	assert_true(c.n > 200);
	assert_true(c.max_len <= SWIM_PACKET_MAX_DEFAULT);
	assert_true(c.max_len + 81 <= 1400);
	assert_true(c.max_len > SWIM_PACKET_MAX_DEFAULT - 2 * WIRE_UPDATE_MAX);   /* it did fill them */
	swim_free(s);
}

/* ---- fake network ---- */

static void test_join_convergence(void **state)
{
	static const uint32_t sizes[] = { 3, 50, 200 };

	(void)state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct fakenet net;
		uint64_t ms;

		fn_init(&net, sizes[k], SEED, NULL);
		ms = fn_boot(&net, sizes[k], SEED, 60000);
		printf("# join N=%u converged after %llu ms (virtual)\n", sizes[k], (unsigned long long)ms);
		assert_true(ms != UINT64_MAX);
		for (uint32_t i = 0; i < net.n; i++) {
			assert_int_equal(swim_member_count(net.nodes[i].swim), sizes[k]);
			assert_int_equal(net.nodes[i].events[SWIM_EV_DEAD], 0);
		}
		fn_fini(&net);
	}
}

static void test_crash_detected(void **state)
{
	struct fakenet net;
	const uint32_t n = 20, victim = 5;
	uint64_t t;

	(void)state;
	fn_init(&net, n, SEED + 1, NULL);
	assert_true(fn_boot(&net, n, SEED + 1, 60000) != UINT64_MAX);
	net.nodes[victim].up = 0;
	for (t = 0; t < 120000; t += 500) {
		fn_run(&net, 500);
		if (fn_count_state(&net, victim, SWIM_DEAD) == n - 1)
			break;
	}
	printf("# crash at N=%u: dead at all after %llu ms (virtual)\n", n, (unsigned long long)t + 500);
	assert_int_equal(fn_count_state(&net, victim, SWIM_DEAD), n - 1);
	/* nobody else died */
	assert_int_equal(fn_count_state(&net, UINT32_MAX, SWIM_DEAD), n - 1);
	/* Lifeguard: the relays nacked, so failing to reach the victim did not
	 * count against the probers' own health */
	{
		uint64_t nacks = 0;

		for (uint32_t i = 0; i < n; i++) {
			if (i == victim)
				continue;
			nacks += swim_get_stats(net.nodes[i].swim)->nacks_rx;
			assert_int_equal(swim_awareness(net.nodes[i].swim), 0);
		}
		assert_true(nacks > 0);
	}
	fn_fini(&net);
}

/* drops every ACK the victim sends (bodies travel unsealed here) */
static int drop_acks_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *buf, size_t len)
{
	const uint32_t *victim = ctx;
	struct wire_update u[WIRE_MAX_UPDATES];
	struct wire_msg msg = { .updates = u };

	(void)to;
	return from == *victim && wire_decode(&msg, buf, len) == 0 && msg.type == WIRE_ACK;
}

static void test_refute_false_suspicion(void **state)
{
	struct fakenet net;
	const uint32_t n = 10, victim = 3;
	uint64_t inc0, suspects = 0;

	(void)state;
	fn_init(&net, n, SEED + 2, NULL);
	assert_true(fn_boot(&net, n, SEED + 2, 60000) != UINT64_MAX);
	inc0 = swim_member_at(net.nodes[victim].swim, 0)->incarnation;
	net.trace = getenv("SWIM_TRACE") != NULL;
	net.filter = drop_acks_filter;  /* its acks vanish, direct or relayed */
	net.filter_ctx = (void *)&victim;
	fn_run(&net, 5000);
	net.filter = NULL;
	fn_run(&net, 30000);
	for (uint32_t i = 0; i < n; i++)
		suspects += net.nodes[i].events[SWIM_EV_SUSPECT];
	assert_true(suspects > 0);                      /* it was suspected */
	assert_true(swim_get_stats(net.nodes[victim].swim)->refutes > 0);
	for (uint32_t i = 0; i < n; i++) {
		const struct swim_member *m;

		if (i == victim)
			continue;
		m = fn_view(&net, i, victim);
		assert_non_null(m);
		assert_int_equal(m->state, SWIM_ALIVE);
		assert_true(m->incarnation > inc0);
		assert_int_equal(net.nodes[i].events[SWIM_EV_DEAD], 0);
	}
	assert_true(fn_converged(&net));
	fn_fini(&net);
}

/* 10% random loss on every packet, default settings, 5 seeds x 5 minutes
 * at N=50: not one dead event (each run sees ~100 suspicions refuted) */
static void test_no_false_death_at_loss(void **state)
{
	const uint32_t n = 50;

	(void)state;
	for (uint64_t seed = SEED + 3; seed < SEED + 8; seed++) {
		struct fakenet net;
		uint64_t suspects = 0, refutes = 0;

		fn_init(&net, n, seed, NULL);
		assert_true(fn_boot(&net, n, seed, 60000) != UINT64_MAX);
		net.loss = 0.10;
		net.trace = getenv("SWIM_TRACE") != NULL;
		fn_run(&net, 300000);
		for (uint32_t i = 0; i < n; i++) {
			assert_int_equal(net.nodes[i].events[SWIM_EV_DEAD], 0);
			suspects += swim_get_stats(net.nodes[i].swim)->suspects;
			refutes += swim_get_stats(net.nodes[i].swim)->refutes;
		}
		printf("# 10%% loss N=%u 300 s seed %llu: %llu of %llu packets lost, %llu suspicions, "
		       "%llu refutations, 0 deaths\n", n, (unsigned long long)seed,
		       (unsigned long long)net.lost, (unsigned long long)net.sent_pkts,
		       (unsigned long long)suspects, (unsigned long long)refutes);
		assert_true(net.lost > net.sent_pkts / 20);
		assert_true(refutes > 0);       /* the loss did bite */
		net.loss = 0;
		fn_run(&net, 20000);
		assert_true(fn_converged(&net));
		assert_int_equal(net.bad_deadlines, 0);
		fn_fini(&net);
	}
}

static void test_slow_node_not_dead(void **state)
{
	struct fakenet net;
	const uint32_t n = 20, slow = 7;
	uint32_t max_aw = 0;

	(void)state;
	fn_init(&net, n, SEED + 4, NULL);
	assert_true(fn_boot(&net, n, SEED + 4, 60000) != UINT64_MAX);
	net.trace = getenv("SWIM_TRACE") != NULL;
	net.nodes[slow].delay_ms = 1200;  /* everything it sends arrives 1.2 s late: > probe period */
	for (int k = 0; k < 240; k++) {
		uint32_t aw;

		fn_run(&net, 500);
		aw = swim_awareness(net.nodes[slow].swim);
		if (aw > max_aw)
			max_aw = aw;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct swim_member *m = fn_view(&net, i, slow);

		assert_int_equal(net.nodes[i].events[SWIM_EV_DEAD], 0);
		if (i != slow)
			assert_true(m->state == SWIM_ALIVE || m->state == SWIM_SUSPECT);
	}
	printf("# slow node: max Lifeguard score %u, %llu refutations\n", max_aw,
	       (unsigned long long)swim_get_stats(net.nodes[slow].swim)->refutes);
	assert_true(max_aw > 0);           /* it noticed its own trouble */
	net.nodes[slow].delay_ms = 0;
	fn_run(&net, 20000);
	assert_true(fn_converged(&net));
	fn_fini(&net);
}

static void test_graceful_leave(void **state)
{
	struct fakenet net;
	const uint32_t n = 20, leaver = 4;

	(void)state;
	fn_init(&net, n, SEED + 5, NULL);
	assert_true(fn_boot(&net, n, SEED + 5, 60000) != UINT64_MAX);
	assert_int_equal(swim_leave(net.nodes[leaver].swim, net.now), 0);
	net.nodes[leaver].deadline = swim_next_deadline(net.nodes[leaver].swim);
	fn_run(&net, 2000);
	net.nodes[leaver].up = 0;       /* the process exits */
	fn_run(&net, 30000);
	assert_int_equal(fn_count_state(&net, leaver, SWIM_LEFT), n - 1);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(net.nodes[i].events[SWIM_EV_DEAD], 0);
	fn_fini(&net);
}

static int partition_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *buf, size_t len)
{
	const uint32_t *split = ctx;

	(void)buf;
	(void)len;
	return (from < *split) != (to < *split);
}

/* A partition long enough for each side to declare the other dead heals
 * by itself: push-pull still tries recently dead members, and a sender
 * held dead gets its death record first in our reply, refutes, rejoins. */
static void test_partition_heals(void **state)
{
	struct fakenet net;
	const uint32_t n = 10;
	uint32_t split = 5;
	uint64_t t;

	(void)state;
	fn_init(&net, n, SEED + 11, NULL);
	assert_true(fn_boot(&net, n, SEED + 11, 60000) != UINT64_MAX);
	net.filter = partition_filter;
	net.filter_ctx = &split;
	fn_run(&net, 60000);
	/* each side sees the other side dead: 2 * 5 * 5 views */
	assert_int_equal(fn_count_state(&net, UINT32_MAX, SWIM_DEAD), 2 * 5 * 5);
	net.filter = NULL;
	for (t = 0; t < 300000 && !fn_converged(&net); t += 1000)
		fn_run(&net, 1000);
	printf("# partition of 5|5 healed %llu ms after the network did\n", (unsigned long long)t);
	assert_true(fn_converged(&net));
	fn_fini(&net);
}

/* New metadata (e.g. the ring generation) reaches everybody as an update. */
static void test_meta_update(void **state)
{
	struct fakenet net;
	const uint32_t n = 12;
	struct swim_meta meta;

	(void)state;
	fn_init(&net, n, SEED + 12, NULL);
	assert_true(fn_boot(&net, n, SEED + 12, 60000) != UINT64_MAX);
	meta = swim_member_at(net.nodes[2].swim, 0)->meta;
	meta.generation = 7;
	meta.weight = 32;
	assert_int_equal(swim_set_meta(net.nodes[2].swim, &meta, net.now), 0);
	net.nodes[2].deadline = swim_next_deadline(net.nodes[2].swim);
	fn_run(&net, 5000);
	for (uint32_t i = 0; i < n; i++) {
		const struct swim_member *m = fn_view(&net, i, 2);

		assert_int_equal(m->meta.generation, 7);
		assert_int_equal(m->meta.weight, 32);
		if (i != 2)
			assert_int_equal(net.nodes[i].events[SWIM_EV_UPDATE], 1);
	}
	fn_fini(&net);
}

static void test_config_and_args(void **state)
{
	struct capture c;
	struct swim_config cfg;
	struct swim_env env = { .ctx = &c, .send = cap_send, .on_event = NULL };
	struct swim *s;
	struct swim_addr none;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&cfg, 0, sizeof(cfg));
	cfg.gossip = addr6(1);
	cfg.data = addr6(1);
	/* zero timers take the defaults */
	assert_int_equal(swim_new(&s, &cfg, &env, 0), 0);
	memset(&none, 0, sizeof(none));
	assert_int_equal(swim_join(s, &none, 1, 0), -EINVAL);
	assert_int_equal(swim_leave(s, 0), 0);
	assert_int_equal(swim_member_at(s, 0)->state, SWIM_LEFT);
	assert_int_equal(swim_set_meta(s, &cfg.meta, 0), -EINVAL);
	assert_null(swim_member_at(s, 1));
	swim_free(s);
	swim_free(NULL);
	cfg.probe_timeout_ms = 2000;            /* timeout >= interval */
	assert_int_equal(swim_new(&s, &cfg, &env, 0), -EINVAL);
	cfg.probe_timeout_ms = 0;
	cfg.packet_max = 100;
	assert_int_equal(swim_new(&s, &cfg, &env, 0), -EINVAL);
	cfg.packet_max = 0;
	cfg.gossip.family = 5;
	assert_int_equal(swim_new(&s, &cfg, &env, 0), -EINVAL);
	cfg.gossip.family = 4;
	env.send = NULL;
	assert_int_equal(swim_new(&s, &cfg, &env, 0), -EINVAL);
}

/* Sealed and plain-with-longest-name networks: every packet <= 1400. */
static void test_packet_size_sealed(void **state)
{
	for (int mode = 0; mode < 2; mode++) {
		struct fakenet net;
		struct seal seal;
		uint8_t key[SEAL_KEY_LEN];

		(void)state;
		assert_int_equal(seal_init(&seal, "a-cluster-name-of-the-longest-allowed-length-63-bytes-xxxxxxxxx"), 0);
		if (mode) {
			memset(key, 7, sizeof(key));
			assert_int_equal(seal_key_add(&seal, key, 1), 0);
		}
		fn_init(&net, 100, SEED + 6, NULL);
		net.seal = &seal;
		assert_true(fn_boot(&net, 100, SEED + 6, 120000) != UINT64_MAX);
		for (uint32_t v = 10; v < 15; v++)
			net.nodes[v].up = 0;
		fn_run(&net, 60000);
		printf("# %s N=100: %llu packets, max %llu bytes\n", mode ? "sealed" : "plain",
		       (unsigned long long)net.sent_pkts, (unsigned long long)net.max_len);
		assert_true(net.max_len <= 1400);
		assert_int_equal(net.open_failed, 0);
		assert_int_equal(seal.stats.opened + 0 > 0, 1);
		fn_fini(&net);
		seal_fini(&seal);
	}
}

/* ---- hostile input ---- */

struct grab {
	uint8_t buf[2048];
	size_t  len;
	int     have;
	uint32_t from, to;
};

static int grab_filter(void *ctx, uint32_t from, uint32_t to, const uint8_t *buf, size_t len)
{
	struct grab *g = ctx;

	if (!g->have && to == 0 && from == 1 && len <= sizeof(g->buf)) {
		memcpy(g->buf, buf, len);
		g->len = len;
		g->have = 1;
	}
	return 0;
}

struct snap {
	uint32_t n;
	uint8_t  state[16];
	uint64_t inc[16];
};

static void take(const struct swim *s, struct snap *p)
{
	p->n = swim_member_count(s);
	for (uint32_t i = 0; i < p->n && i < 16; i++) {
		p->state[i] = swim_member_at(s, i)->state;
		p->inc[i] = swim_member_at(s, i)->incarnation;
	}
}

static void same(const struct snap *a, const struct snap *b)
{
	assert_int_equal(a->n, b->n);
	for (uint32_t i = 0; i < a->n && i < 16; i++) {
		assert_int_equal(a->state[i], b->state[i]);
		assert_int_equal(a->inc[i], b->inc[i]);
	}
}

static size_t pack_raw(uint8_t *out, size_t cap, uint64_t ver, uint64_t type)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t id[16];
	size_t len;

	memset(id, 0x55, sizeof(id));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 9);
	msgpack_pack_uint64(&pk, ver);
	msgpack_pack_uint64(&pk, type);
	msgpack_pack_bin_with_body(&pk, id, 16);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_nil(&pk);
	msgpack_pack_nil(&pk);
	msgpack_pack_array(&pk, 0);
	len = sb.size < cap ? sb.size : cap;
	memcpy(out, sb.data, len);
	msgpack_sbuffer_destroy(&sb);
	return len;
}

static void test_hostile_packets(void **state)
{
	struct fakenet net;
	struct grab g;
	struct snap before, after;
	struct swim *s;
	struct swim_addr from = fn_addr(1);
	const struct swim_stats *st;
	uint64_t rng = 99, bad_before, parse_before;
	uint8_t buf[2048];
	size_t len;

	(void)state;
	memset(&g, 0, sizeof(g));
	fn_init(&net, 5, SEED + 7, NULL);
	net.base.pushpull_interval_ms = 0;
	assert_true(fn_boot(&net, 5, SEED + 7, 60000) != UINT64_MAX);
	net.filter = grab_filter;
	net.filter_ctx = &g;
	while (!g.have)
		fn_run(&net, 100);
	fn_run(&net, 50);               /* delivered */
	s = net.nodes[0].swim;
	st = swim_get_stats(s);
	take(s, &before);

	/* replayed: the exact packet again */
	assert_int_equal(swim_on_packet(s, &from, g.buf, g.len, net.now), SWIM_DROP_REPLAY);
	assert_int_equal(st->rx_replay, 1);

	/* truncated at every length */
	parse_before = st->rx_bad[WIRE_E_FIRST - WIRE_E_PARSE];
	for (size_t l = 0; l < g.len; l++)
		assert_true(swim_on_packet(s, &from, g.buf, l, net.now) < 0);
	assert_int_equal(st->rx_bad[WIRE_E_FIRST - WIRE_E_PARSE] - parse_before, g.len);

	/* trailing garbage */
	memcpy(buf, g.buf, g.len);
	buf[g.len] = 0xc0;
	assert_int_equal(swim_on_packet(s, &from, buf, g.len + 1, net.now), WIRE_E_TRAILING);

	/* unknown version and type: rejected and counted */
	len = pack_raw(buf, sizeof(buf), 2, WIRE_PING);
	assert_int_equal(swim_on_packet(s, &from, buf, len, net.now), WIRE_E_VERSION);
	len = pack_raw(buf, sizeof(buf), 1, 9);
	assert_int_equal(swim_on_packet(s, &from, buf, len, net.now), WIRE_E_TYPE);
	len = pack_raw(buf, sizeof(buf), 1, 0);
	assert_int_equal(swim_on_packet(s, &from, buf, len, net.now), WIRE_E_TYPE);
	assert_int_equal(st->rx_bad[WIRE_E_FIRST - WIRE_E_VERSION], 1);
	assert_int_equal(st->rx_bad[WIRE_E_FIRST - WIRE_E_TYPE], 2);
	/* ping without a target */
	len = pack_raw(buf, sizeof(buf), 1, WIRE_PING);
	assert_int_equal(swim_on_packet(s, &from, buf, len, net.now), WIRE_E_TARGET);

	/* random bytes and bit flips of a valid packet */
	bad_before = 0;
	for (int k = 0; k < WIRE_E_COUNT; k++)
		bad_before += st->rx_bad[k];
	for (int k = 0; k < 2000; k++) {
		size_t l = (size_t)(k % 300);

		for (size_t j = 0; j < l; j++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			buf[j] = (uint8_t)(rng >> 56);
		}
		if (k & 1)
			buf[0] = 0x99;             /* looks like a 9-array */
		{
			int rc = swim_on_packet(s, &from, buf, l, net.now);
			if (rc >= 0 || rc < WIRE_E_FIRST - WIRE_E_COUNT + 1)
				printf("rc %d at k=%d\n", rc, k);
			assert_true(rc < 0);
		}
	}
	{
		uint64_t bad_after = 0;

		for (int k = 0; k < WIRE_E_COUNT; k++)
			bad_after += st->rx_bad[k];
		assert_true(bad_after - bad_before >= 2000);
	}
	/* claims to come from us; a ping meant for another id */
	{
		struct wire_update none[1];
		struct wire_msg m;

		memset(&m, 0, sizeof(m));
		m.type = WIRE_GOSSIP;
		memcpy(m.sender, swim_member_at(s, 0)->id, SWIM_ID_LEN);
		m.seq = 1;
		m.updates = none;
		assert_int_equal(wire_encode(&m, buf, sizeof(buf), &len), 0);
		assert_int_equal(swim_on_packet(s, &from, buf, len, net.now), SWIM_DROP_SELF);
		m.type = WIRE_PING;
		memset(m.sender, 0x31, SWIM_ID_LEN);
		m.has_target = 1;
		memset(m.target, 0x32, SWIM_ID_LEN);
		assert_int_equal(wire_encode(&m, buf, sizeof(buf), &len), 0);
		assert_int_equal(swim_on_packet(s, &from, buf, len, net.now), SWIM_DROP_MISDIRECT);
		assert_int_equal(st->rx_self, 1);
		assert_int_equal(st->rx_misdirected, 1);
		assert_string_equal(swim_strerror(SWIM_DROP_MISDIRECT), "swim: ping for another node id");
		assert_string_equal(swim_strerror(WIRE_E_VERSION), "wire: unknown version");
	}
	take(s, &after);
	same(&before, &after);
	/* bit flips of a valid body: some still decode (a flipped seq is just
	 * another packet; on the wire the checksum or AEAD rejects them, see
	 * test_seal).  Here: no crash, and every packet is accounted for. */
	for (size_t j = 0; j < g.len * 8; j++) {
		memcpy(buf, g.buf, g.len);
		buf[j / 8] ^= (uint8_t)(1u << (j % 8));
		(void)swim_on_packet(s, &from, buf, g.len, net.now);
	}
	{
		uint64_t acc = st->rx_replay + st->rx_too_old + st->rx_self + st->rx_misdirected + st->rx_nomem;

		for (int k = 0; k < WIRE_E_COUNT; k++)
			acc += st->rx_bad[k];
		for (int k = 0; k <= WIRE_TYPE_MAX; k++)
			acc += st->rx_type[k];
		assert_int_equal(acc, st->rx_packets);
	}

	fn_fini(&net);
}

/* Forged sealed packets are dropped by seal_open and never reach swim. */
static void test_forged_sealed(void **state)
{
	struct fakenet net;
	struct seal seal, other;
	struct grab g;
	uint8_t key[SEAL_KEY_LEN], key2[SEAL_KEY_LEN], body[2048], buf[2048];
	size_t len;
	uint64_t rx_before;

	(void)state;
	memset(key, 1, sizeof(key));
	memset(key2, 2, sizeof(key2));
	memset(&g, 0, sizeof(g));
	assert_int_equal(seal_init(&seal, "sheep"), 0);
	assert_int_equal(seal_key_add(&seal, key, 1), 0);
	fn_init(&net, 4, SEED + 8, NULL);
	net.seal = &seal;
	assert_true(fn_boot(&net, 4, SEED + 8, 60000) != UINT64_MAX);
	net.filter = grab_filter;
	net.filter_ctx = &g;
	while (!g.have)
		fn_run(&net, 100);
	fn_run(&net, 50);
	rx_before = swim_get_stats(net.nodes[0].swim)->rx_packets;
	/* tampered ciphertext */
	memcpy(buf, g.buf, g.len);
	buf[g.len - 3] ^= 1;
	fn_inject(&net, 1, 0, buf, g.len, 1);
	/* sealed under another key */
	assert_int_equal(seal_init(&other, "sheep"), 0);
	assert_int_equal(seal_key_add(&other, key2, 1), 0);
	assert_int_equal(seal_open(&seal, g.buf, g.len, body, sizeof(body), &len), 0);
	assert_int_equal(seal_pack(&other, key2, body, len, buf, sizeof(buf), &len), 0);
	fn_inject(&net, 1, 0, buf, len, 1);
	/* replayed sealed packet: opens, then swim's replay window drops it */
	fn_inject(&net, 1, 0, g.buf, g.len, 1);
	net.filter = NULL;
	fn_run(&net, 5);
	assert_int_equal(net.open_failed, 2);
	assert_true(seal.stats.open_failed >= 2);
	assert_int_equal(swim_get_stats(net.nodes[0].swim)->rx_replay, 1);
	(void)rx_before;
	fn_fini(&net);
	seal_fini(&seal);
	seal_fini(&other);
}

/* Same seed, same inputs: same outputs. */
static void run_digest(uint64_t seed, uint64_t out[4])
{
	struct fakenet net;

	fn_init(&net, 30, seed, NULL);
	net.loss = 0.05;
	fn_boot(&net, 30, seed, 20000);
	net.nodes[3].up = 0;
	fn_run(&net, 20000);
	out[0] = net.sent_pkts;
	out[1] = net.sent_bytes;
	out[2] = net.now;
	out[3] = 0;
	assert_int_equal(net.bad_deadlines, 0);
	for (uint32_t i = 0; i < net.n; i++)
		for (int e = 0; e <= SWIM_EV_UPDATE; e++)
			out[3] = out[3] * 31 + net.nodes[i].events[e];
	fn_fini(&net);
}

static void test_determinism(void **state)
{
	uint64_t a[4], b[4], c[4];

	(void)state;
	run_digest(SEED + 9, a);
	run_digest(SEED + 9, b);
	run_digest(SEED + 10, c);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, c, sizeof(a));
}

/* ---- ring digest (swim_set_digest / on_digest) ---- */

struct dcap {
	uint32_t calls;
	uint8_t  last[SWIM_DIGEST_LEN];
	uint8_t  last_from[SWIM_ID_LEN];
};

static void dcap_digest(void *ctx, const struct swim_member *from, const uint8_t d[SWIM_DIGEST_LEN])
{
	struct capture *c = ctx;
	struct dcap *dc = (struct dcap *)(c + 1);

	dc->calls++;
	memcpy(dc->last, d, SWIM_DIGEST_LEN);
	memcpy(dc->last_from, from->id, SWIM_ID_LEN);
}

/* capture + digest capture side by side, as one ctx */
struct dctx {
	struct capture c;
	struct dcap    d;
};

static struct swim *solo_digest(struct dctx *x, uint64_t seed)
{
	struct swim_config cfg;
	struct swim_env env = { .ctx = &x->c, .send = cap_send, .on_event = cap_event,
	                        .on_digest = dcap_digest };
	struct swim *s;

	_Static_assert(offsetof(struct dctx, d) == sizeof(struct capture), "dctx layout");
	memset(x, 0, sizeof(*x));
	memset(&cfg, 0, sizeof(cfg));
	swim_config_lan(&cfg);
	memset(cfg.id, 0xAA, SWIM_ID_LEN);
	cfg.gossip = addr6(0);
	cfg.data = addr6(0);
	cfg.seed = seed;
	assert_int_equal(swim_new(&s, &cfg, &env, 1000), 0);
	return s;
}

/* like feed(), with a digest (NULL = none) and a time */
static int feed_d(struct swim *s, uint8_t type, uint32_t sender, uint64_t seq, struct wire_update *u,
                  uint32_t n, const uint8_t *digest, uint64_t now)
{
	struct wire_msg msg;
	uint8_t buf[8192];
	size_t len;
	struct swim_addr from = addr6(sender);

	memset(&msg, 0, sizeof(msg));
	msg.type = type;
	memset(msg.sender, 0x10, SWIM_ID_LEN);
	memcpy(msg.sender + 8, &sender, 4);
	msg.seq = seq;
	msg.updates = u;
	msg.n_updates = n;
	if (digest) {
		msg.has_digest = 1;
		memcpy(msg.digest, digest, SWIM_DIGEST_LEN);
	}
	assert_int_equal(wire_encode(&msg, buf, sizeof(buf), &len), 0);
	return swim_on_packet(s, &from, buf, len, now);
}

static int decode_last(const struct capture *c, struct wire_msg *d)
{
	static struct wire_update upd[WIRE_MAX_UPDATES];

	memset(d, 0, sizeof(*d));
	d->updates = upd;
	return wire_decode(d, c->last, c->last_len);
}

/* Every packet carries our digest once set; none while unset; the bound
 * still holds with the 18 extra bytes. */
static void test_digest_carried(void **state)
{
	struct dctx x;
	struct swim *s;
	struct wire_update u[WIRE_MAX_UPDATES];
	struct wire_msg d;
	uint8_t dg[SWIM_DIGEST_LEN], zero[SWIM_DIGEST_LEN] = { 0 };
	uint64_t now = 2000;
	uint32_t sent;

	(void)state;
	s = solo_digest(&x, 3);
	/* unset: a ping answered with a 9-element body, no digest */
	mk_update(&u[0], 1, 1, SWIM_ALIVE);
	assert_int_equal(feed_d(s, WIRE_GOSSIP, 1, 1, u, 1, NULL, now), 0);
	for (int i = 0; i < 20 && x.c.n == 0; i++)
		now = swim_tick(s, now);
	assert_true(x.c.n > 0);
	assert_int_equal(decode_last(&x.c, &d), 0);
	assert_int_equal(d.has_digest, 0);
	assert_int_equal(x.c.last[0], 0x99);
	assert_memory_equal(swim_get_digest(s), zero, SWIM_DIGEST_LEN);
	/* set: every packet from now on carries it */
	for (int i = 0; i < SWIM_DIGEST_LEN; i++)
		dg[i] = (uint8_t)(0x11 * (i + 1));
	swim_set_digest(s, dg);
	assert_memory_equal(swim_get_digest(s), dg, SWIM_DIGEST_LEN);
	/* 600 members with maximal records: full packets of every kind */
	for (uint32_t k = 0; k < 50; k++) {
		for (uint32_t j = 0; j < 12; j++)
			mk_update(&u[j], 2 + k * 12 + j, WIRE_COUNTER_MAX, SWIM_ALIVE);
		assert_int_equal(feed_d(s, WIRE_PUSHPULL, 2 + k * 12, 1, u, 12, NULL, now), 0);
	}
	x.c.max_len = 0;
	sent = x.c.n;
	for (int i = 0; i < 200; i++) {
		uint32_t before = x.c.n;

		now = swim_tick(s, now);
		if (x.c.n != before) {      /* the last packet of this tick */
			assert_int_equal(decode_last(&x.c, &d), 0);
			assert_int_equal(d.has_digest, 1);
			assert_memory_equal(d.digest, dg, SWIM_DIGEST_LEN);
		}
	}
	assert_true(x.c.n - sent > 200);
	assert_true(x.c.max_len <= SWIM_PACKET_MAX_DEFAULT);
	assert_true(x.c.max_len + 81 <= 1400);
	assert_true(x.c.max_len > SWIM_PACKET_MAX_DEFAULT - 2 * WIRE_UPDATE_MAX);
	/* back to unset: not sent any more */
	swim_set_digest(s, zero);
	sent = x.c.n;
	for (int i = 0; i < 50 && x.c.n == sent; i++)
		now = swim_tick(s, now);
	assert_true(x.c.n > sent);
	assert_int_equal(decode_last(&x.c, &d), 0);
	assert_int_equal(d.has_digest, 0);
	swim_free(s);
}

/* A different digest from a known member fires on_digest at most once per
 * sender per probe period; equal digests, unknown senders and an unset own
 * digest never fire it. */
static void test_digest_mismatch_rate(void **state)
{
	struct dctx x;
	struct swim *s;
	struct wire_update u[1];
	uint8_t mine[SWIM_DIGEST_LEN], other[SWIM_DIGEST_LEN], third[SWIM_DIGEST_LEN];
	uint64_t seq = 1, t0 = 5000, P;
	struct swim_config lan;
	uint8_t id1[SWIM_ID_LEN], id2[SWIM_ID_LEN];

	(void)state;
	swim_config_lan(&lan);
	P = lan.probe_interval_ms;
	memset(mine, 0x5A, sizeof(mine));
	memset(other, 0xA5, sizeof(other));
	memset(third, 0x3C, sizeof(third));
	s = solo_digest(&x, 4);
	/* members 1 and 2 become known */
	mk_update(&u[0], 1, 1, SWIM_ALIVE);
	memcpy(id1, u[0].id, SWIM_ID_LEN);
	assert_int_equal(feed_d(s, WIRE_GOSSIP, 1, seq++, u, 1, other, t0), 0);
	mk_update(&u[0], 2, 1, SWIM_ALIVE);
	memcpy(id2, u[0].id, SWIM_ID_LEN);
	assert_int_equal(feed_d(s, WIRE_GOSSIP, 2, 1, u, 1, other, t0), 0);
	/* own digest unset: ignored */
	assert_int_equal(feed_d(s, WIRE_ACK, 1, seq++, NULL, 0, other, t0), 0);
	assert_int_equal(x.d.calls, 0);
	swim_set_digest(s, mine);
	/* same digest: nothing; no digest: nothing */
	assert_int_equal(feed_d(s, WIRE_ACK, 1, seq++, NULL, 0, mine, t0), 0);
	assert_int_equal(feed_d(s, WIRE_ACK, 1, seq++, NULL, 0, NULL, t0), 0);
	assert_int_equal(x.d.calls, 0);
	/* a storm of mismatching packets in one period: exactly one call */
	for (uint64_t k = 0; k < 40; k++)
		assert_int_equal(feed_d(s, WIRE_ACK, 1, seq++, NULL, 0, other, t0 + k * (P - 1) / 40), 0);
	assert_int_equal(x.d.calls, 1);
	assert_memory_equal(x.d.last, other, SWIM_DIGEST_LEN);
	assert_memory_equal(x.d.last_from, id1, SWIM_ID_LEN);
	/* another sender has its own budget */
	assert_int_equal(feed_d(s, WIRE_ACK, 2, 2, NULL, 0, third, t0 + 1), 0);
	assert_int_equal(x.d.calls, 2);
	assert_memory_equal(x.d.last, third, SWIM_DIGEST_LEN);
	assert_memory_equal(x.d.last_from, id2, SWIM_ID_LEN);
	assert_int_equal(feed_d(s, WIRE_ACK, 2, 3, NULL, 0, other, t0 + 2), 0);
	assert_int_equal(x.d.calls, 2);
	/* next period: one more per sender */
	assert_int_equal(feed_d(s, WIRE_ACK, 1, seq++, NULL, 0, other, t0 + P - 1), 0);
	assert_int_equal(x.d.calls, 2);
	assert_int_equal(feed_d(s, WIRE_ACK, 1, seq++, NULL, 0, other, t0 + P), 0);
	assert_int_equal(x.d.calls, 3);
	assert_int_equal(feed_d(s, WIRE_ACK, 1, seq++, NULL, 0, other, t0 + P + 1), 0);
	assert_int_equal(x.d.calls, 3);
	/* a stranger (never announced, no record of itself) is not reported */
	assert_int_equal(feed_d(s, WIRE_ACK, 99, 1, NULL, 0, other, t0 + 10 * P), 0);
	assert_int_equal(x.d.calls, 3);
	/* a dropped packet (replay) is not reported either */
	assert_int_equal(feed_d(s, WIRE_ACK, 1, 2, NULL, 0, other, t0 + 20 * P), SWIM_DROP_REPLAY);
	assert_int_equal(x.d.calls, 3);
	assert_int_equal(swim_get_stats(s)->digest_mismatch, 3);
	swim_free(s);

	/* no callback set: mismatches are harmless */
	{
		struct capture c;
		struct swim *s2;

		memset(&c, 0, sizeof(c));
		s2 = solo(&c, 5);
		swim_set_digest(s2, mine);
		mk_update(&u[0], 1, 1, SWIM_ALIVE);
		assert_int_equal(feed_d(s2, WIRE_GOSSIP, 1, 1, u, 1, other, t0), 0);
		assert_int_equal(feed_d(s2, WIRE_ACK, 1, 2, NULL, 0, other, t0 + P), 0);
		assert_int_equal(swim_get_stats(s2)->digest_mismatch, 0);
		swim_free(s2);
	}
}

/* A malformed digest field drops the whole packet, counted, changing nothing. */
static void test_digest_garbage(void **state)
{
	struct dctx x;
	struct swim *s;
	struct wire_update u[1];
	struct wire_msg msg;
	uint8_t plain[2048], mine[SWIM_DIGEST_LEN];
	size_t plen;
	struct swim_addr from = addr6(7);
	uint32_t sender = 7;

	(void)state;
	s = solo_digest(&x, 6);
	memset(mine, 0x5A, sizeof(mine));
	swim_set_digest(s, mine);
	mk_update(&u[0], 7, 1, SWIM_ALIVE);
	memset(&msg, 0, sizeof(msg));
	msg.type = WIRE_GOSSIP;
	memset(msg.sender, 0x10, SWIM_ID_LEN);
	memcpy(msg.sender + 8, &sender, 4);
	msg.seq = 1;
	msg.updates = u;
	msg.n_updates = 1;
	assert_int_equal(wire_encode(&msg, plain, sizeof(plain), &plen), 0);
	for (int kind = 0; kind < 3; kind++) {
		msgpack_sbuffer sb;
		msgpack_packer pk;
		static const uint8_t b15[15] = { 1 };

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_array(&pk, 10);
		msgpack_sbuffer_write(&sb, (const char *)plain + 1, plen - 1);
		if (kind == 0)
			msgpack_pack_bin_with_body(&pk, b15, sizeof(b15));
		else if (kind == 1)
			msgpack_pack_str_with_body(&pk, "ZZZZZZZZZZZZZZZZ", 16);
		else
			msgpack_pack_uint32(&pk, 77);
		assert_int_equal(swim_on_packet(s, &from, (const uint8_t *)sb.data, sb.size, 3000),
		                 WIRE_E_DIGEST);
		msgpack_sbuffer_destroy(&sb);
	}
	assert_int_equal(swim_get_stats(s)->rx_bad[WIRE_E_FIRST - WIRE_E_DIGEST], 3);
	assert_null(swim_member_find(s, u[0].id));      /* the update was not applied */
	assert_int_equal(swim_member_count(s), 1);
	assert_int_equal(x.d.calls, 0);
	assert_int_equal(x.c.n, 0);                      /* nothing answered */
	/* the same body with a proper digest is accepted */
	memset(msg.digest, 0x77, SWIM_DIGEST_LEN);
	msg.has_digest = 1;
	assert_int_equal(wire_encode(&msg, plain, sizeof(plain), &plen), 0);
	assert_int_equal(swim_on_packet(s, &from, plain, plen, 3000), 0);
	assert_non_null(swim_member_find(s, u[0].id));
	assert_int_equal(x.d.calls, 1);
	swim_free(s);
}

/* On the fake network: one node with another ring digest is noticed by
 * the others within a round, callbacks stay within one per sender per
 * period, and stop once it adopts the common digest. */
static void test_digest_mesh(void **state)
{
	struct fakenet net;
	uint8_t a[SWIM_DIGEST_LEN], b[SWIM_DIGEST_LEN];
	const uint32_t n = 8;
	uint64_t P, t_set, calls_mid = 0, calls_end = 0;

	(void)state;
	memset(a, 0xAB, sizeof(a));
	memset(b, 0xCD, sizeof(b));
	fn_init(&net, n, SEED, NULL);
	assert_true(fn_boot(&net, n, SEED, 60000) != UINT64_MAX);
	P = net.base.probe_interval_ms;
	for (uint32_t i = 0; i < n; i++) {
		swim_set_digest(net.nodes[i].swim, i == 3 ? b : a);
		net.nodes[i].digest_calls = 0;
	}
	t_set = net.now;
	/* node 3 hears from someone (a probe, an ack) within one period */
	fn_run(&net, P + 50);
	assert_true(net.nodes[3].digest_calls >= 1);
	assert_true(net.nodes[3].digest_last_at > t_set);
	/* within a round of probes (n - 1 periods) everyone has exchanged
	 * packets with node 3 and noticed */
	fn_run(&net, 8 * P - 50);
	for (uint32_t i = 0; i < n; i++) {
		struct fn_node *nd = &net.nodes[i];
		/* at most one per sender per period: 9 period starts in 9 P */
		uint64_t bound = (i == 3 ? (n - 1) : 1) * 9;

		assert_true(nd->digest_calls >= 1);
		assert_true(nd->digest_calls <= bound);
		assert_memory_equal(nd->digest_last, i == 3 ? a : b, SWIM_DIGEST_LEN);
		calls_mid += nd->digest_calls;
	}
	/* node 3 pulls the ring and adopts a: quiet after the in-flight packets */
	swim_set_digest(net.nodes[3].swim, a);
	fn_run(&net, 100);
	for (uint32_t i = 0; i < n; i++)
		net.nodes[i].digest_calls = 0;
	fn_run(&net, 5 * P);
	for (uint32_t i = 0; i < n; i++)
		calls_end += net.nodes[i].digest_calls;
	printf("# digest mesh: %llu callbacks in 9 periods with one odd node, %llu after agreement\n",
	       (unsigned long long)calls_mid, (unsigned long long)calls_end);
	assert_int_equal(calls_end, 0);
	fn_fini(&net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_math),
		cmocka_unit_test(test_merge_rules),
		cmocka_unit_test(test_packet_bound_ipv6),
		cmocka_unit_test(test_join_convergence),
		cmocka_unit_test(test_crash_detected),
		cmocka_unit_test(test_refute_false_suspicion),
		cmocka_unit_test(test_no_false_death_at_loss),
		cmocka_unit_test(test_slow_node_not_dead),
		cmocka_unit_test(test_graceful_leave),
		cmocka_unit_test(test_partition_heals),
		cmocka_unit_test(test_meta_update),
		cmocka_unit_test(test_config_and_args),
		cmocka_unit_test(test_packet_size_sealed),
		cmocka_unit_test(test_hostile_packets),
		cmocka_unit_test(test_forged_sealed),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_digest_carried),
		cmocka_unit_test(test_digest_mismatch_rate),
		cmocka_unit_test(test_digest_garbage),
		cmocka_unit_test(test_digest_mesh),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

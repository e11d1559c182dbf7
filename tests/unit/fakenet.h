/*
 * tests/unit/fakenet.h: an in-process network of N swim nodes in virtual
 * time, for tests and bench/bench_swim.c (header-only: each test file is
 * its own binary).  Deterministic: one seed drives ids, delays and loss.
 *
 * Events (packet deliveries and node deadlines) run in time order; at equal
 * times packets go first, then nodes by index, so runs are reproducible.
 * Packets optionally go through gossip/seal.h (nonce = a counter: fine for a
 * test, never for real use).
 */
#ifndef SHEEPMESH_TESTS_FAKENET_H
#define SHEEPMESH_TESTS_FAKENET_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/seal.h"
#include "gossip/swim.h"

#define FN_PORT 7000

struct fakenet;

struct fn_node {
	struct fakenet *net;
	uint32_t        i;
	struct swim    *swim;
	uint64_t        deadline;
	uint8_t         up;           /* 0 = crashed: no ticks, inbound dropped */
	uint8_t         mute;         /* drop everything it sends */
	uint32_t        delay_ms;     /* extra delay on everything it sends (slow node) */
	uint64_t        events[SWIM_EV_UPDATE + 1];
	uint64_t        digest_calls;  /* on_digest callbacks received */
	uint64_t        digest_last_at;   /* virtual time of the last one */
	uint8_t         digest_last[SWIM_DIGEST_LEN];
};

struct fn_pkt {
	uint64_t at, seq;
	uint32_t from, to, len;
	uint8_t *buf;
};

struct fakenet {
	uint32_t        n, cap;
	struct fn_node *nodes;
	uint64_t        now, rng, pkt_seq, nonce;
	struct fn_pkt  *heap;
	uint32_t        n_heap, cap_heap;
	double          loss;          /* random loss probability per packet */
	struct seal    *seal;          /* NULL: bodies travel as they are */
	struct swim_config base;       /* template for new nodes */
	/* optional: return 1 to drop a packet (sealed bytes if sealing) */
	int (*filter)(void *ctx, uint32_t from, uint32_t to, const uint8_t *buf, size_t len);
	void *filter_ctx;
	/* figures */
	uint64_t sent_pkts, sent_bytes, lost, max_len;
	uint64_t open_failed;
	uint64_t bad_deadlines;        /* swim_tick() returned a deadline <= now (contract breach) */
	int      trace;                /* print every membership event */
};

static inline uint64_t fn_rand(struct fakenet *net)
{
	uint64_t z = (net->rng += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static inline struct swim_addr fn_addr(uint32_t i)
{
	return swim_addr_v4(0x0a000000u + i, FN_PORT);
}

static inline int64_t fn_index(const struct fakenet *net, const struct swim_addr *a)
{
	uint32_t ip = (uint32_t)a->ip[0] << 24 | (uint32_t)a->ip[1] << 16 | (uint32_t)a->ip[2] << 8 | a->ip[3];

	if (a->family != 4 || a->port != FN_PORT || (ip >> 24) != 10)
		return -1;
	ip -= 0x0a000000u;
	return ip < net->n ? (int64_t)ip : -1;
}

static inline int fn_pkt_less(const struct fn_pkt *a, const struct fn_pkt *b)
{
	return a->at != b->at ? a->at < b->at : a->seq < b->seq;
}

static inline void fn_heap_push(struct fakenet *net, struct fn_pkt p)
{
	uint32_t i;

	if (net->n_heap == net->cap_heap) {
		net->cap_heap = net->cap_heap ? net->cap_heap * 2 : 1024;
		net->heap = realloc(net->heap, net->cap_heap * sizeof(*net->heap));
		if (!net->heap)
			abort();
	}
	i = net->n_heap++;
	while (i > 0 && fn_pkt_less(&p, &net->heap[(i - 1) / 2])) {
		net->heap[i] = net->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	net->heap[i] = p;
}

static inline struct fn_pkt fn_heap_pop(struct fakenet *net)
{
	struct fn_pkt top = net->heap[0], last = net->heap[--net->n_heap];
	uint32_t i = 0;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= net->n_heap)
			break;
		if (c + 1 < net->n_heap && fn_pkt_less(&net->heap[c + 1], &net->heap[c]))
			c++;
		if (!fn_pkt_less(&net->heap[c], &last))
			break;
		net->heap[i] = net->heap[c];
		i = c;
	}
	if (net->n_heap)
		net->heap[i] = last;
	return top;
}

/* Inject raw bytes (already sealed if the net seals) from `from` to `to`. */
static inline void fn_inject(struct fakenet *net, uint32_t from, uint32_t to, const uint8_t *buf,
                             size_t len, uint64_t delay)
{
	struct fn_pkt p = { net->now + delay, ++net->pkt_seq, from, to, (uint32_t)len, malloc(len ? len : 1) };

	if (!p.buf)
		abort();
	memcpy(p.buf, buf, len);
	fn_heap_push(net, p);
}

static inline void fn_send(void *ctx, const struct swim_addr *to, const uint8_t *buf, size_t len)
{
	struct fn_node *nd = ctx;
	struct fakenet *net = nd->net;
	uint8_t sealed[65536];
	const uint8_t *out = buf;
	size_t outlen = len;
	int64_t dst = fn_index(net, to);

	if (net->seal) {
		uint8_t nonce[SEAL_NONCE_LEN] = { 0 };
		uint64_t c = ++net->nonce;

		memcpy(nonce, &c, sizeof(c));
		memcpy(nonce + 8, &nd->i, sizeof(nd->i));
		if (seal_pack(net->seal, nonce, buf, len, sealed, sizeof(sealed), &outlen) != 0)
			abort();
		out = sealed;
	}
	net->sent_pkts++;
	net->sent_bytes += outlen;
	if (outlen > net->max_len)
		net->max_len = outlen;
	if (dst < 0 || nd->mute)
		return;
	if (net->loss > 0 && (double)(fn_rand(net) >> 11) / 9007199254740992.0 < net->loss) {
		net->lost++;
		return;
	}
	if (net->filter && net->filter(net->filter_ctx, nd->i, (uint32_t)dst, out, outlen))
		return;
	fn_inject(net, nd->i, (uint32_t)dst, out, outlen, 1 + fn_rand(net) % 4 + nd->delay_ms);
}

static inline void fn_on_event(void *ctx, const struct swim_member *m, enum swim_event ev)
{
	struct fn_node *nd = ctx;

	nd->events[ev]++;
	if (nd->net->trace) {
		static const char *names[] = { "?", "join", "alive", "suspect", "dead", "left", "update" };

		printf("# t=%llu node %u: %02x%02x.. %s inc %llu\n", (unsigned long long)nd->net->now, nd->i,
		       m->id[0], m->id[1], names[ev], (unsigned long long)m->incarnation);
	}
}

static inline void fn_on_digest(void *ctx, const struct swim_member *from, const uint8_t d[SWIM_DIGEST_LEN])
{
	struct fn_node *nd = ctx;

	(void)from;
	nd->digest_calls++;
	nd->digest_last_at = nd->net->now;
	memcpy(nd->digest_last, d, SWIM_DIGEST_LEN);
}

/* Node ids: 16 bytes from the net's PRNG, stable per (seed, index). */
static inline void fn_node_id(uint64_t seed, uint32_t i, uint8_t id[SWIM_ID_LEN])
{
	struct fakenet tmp = { .rng = seed * 1000003u + i };
	uint64_t a = fn_rand(&tmp), b = fn_rand(&tmp);

	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
}

/* Add one node (not yet joined). Returns its index. */
static inline uint32_t fn_add(struct fakenet *net, uint64_t seed)
{
	struct swim_config cfg = net->base;
	struct swim_env env;
	struct fn_node *nd;
	uint32_t i = net->n;

	if (net->n == net->cap) {
		/* nodes are referenced by ctx pointers: never move them */
		abort();
	}
	nd = &net->nodes[i];
	memset(nd, 0, sizeof(*nd));
	nd->net = net;
	nd->i = i;
	nd->up = 1;
	fn_node_id(seed, i, cfg.id);
	cfg.gossip = fn_addr(i);
	cfg.data = fn_addr(i);
	cfg.meta.weight = 16;
	cfg.meta.generation = 1;
	cfg.seed = seed ^ (UINT64_C(0x1234567) * (i + 1));
	cfg.seq_base = 0;
	memset(&env, 0, sizeof(env));
	env.ctx = nd;
	env.send = fn_send;
	env.on_event = fn_on_event;
	env.on_digest = fn_on_digest;
	if (swim_new(&nd->swim, &cfg, &env, net->now) != 0)
		abort();
	nd->deadline = swim_next_deadline(nd->swim);
	net->n++;
	return i;
}

static inline void fn_init(struct fakenet *net, uint32_t cap, uint64_t seed, const struct swim_config *base)
{
	memset(net, 0, sizeof(*net));
	net->cap = cap;
	net->nodes = calloc(cap, sizeof(*net->nodes));
	if (!net->nodes)
		abort();
	net->rng = seed;
	net->now = 1000;
	if (base)
		net->base = *base;
	else
		swim_config_lan(&net->base);
}

static inline void fn_fini(struct fakenet *net)
{
	for (uint32_t i = 0; i < net->n; i++)
		swim_free(net->nodes[i].swim);
	for (uint32_t i = 0; i < net->n_heap; i++)
		free(net->heap[i].buf);
	free(net->heap);
	free(net->nodes);
}

static inline void fn_deliver(struct fakenet *net, struct fn_pkt *p)
{
	struct fn_node *nd = &net->nodes[p->to];
	uint8_t body[65536];
	const uint8_t *in = p->buf;
	size_t len = p->len;
	struct swim_addr from = fn_addr(p->from);

	if (nd->up) {
		if (net->seal) {
			if (seal_open(net->seal, p->buf, p->len, body, sizeof(body), &len) != 0) {
				net->open_failed++;
				goto out;
			}
			in = body;
		}
		swim_on_packet(nd->swim, &from, in, len, net->now);
		nd->deadline = swim_next_deadline(nd->swim);
	}
out:
	free(p->buf);
}

/* One event; returns 0 if nothing is due by t_end (time then = t_end). */
static inline int fn_step(struct fakenet *net, uint64_t t_end)
{
	uint64_t tn = UINT64_MAX;
	uint32_t who = UINT32_MAX;
	uint64_t tp = net->n_heap ? net->heap[0].at : UINT64_MAX;

	for (uint32_t i = 0; i < net->n; i++)
		if (net->nodes[i].up && net->nodes[i].deadline < tn) {
			tn = net->nodes[i].deadline;
			who = i;
		}
	if (tp > t_end && tn > t_end) {
		net->now = t_end;
		return 0;
	}
	if (tp <= tn) {
		struct fn_pkt p = fn_heap_pop(net);

		net->now = p.at > net->now ? p.at : net->now;
		fn_deliver(net, &p);
	} else {
		struct fn_node *nd = &net->nodes[who];

		net->now = tn > net->now ? tn : net->now;
		nd->deadline = swim_tick(nd->swim, net->now);
		if (nd->deadline <= net->now)
			net->bad_deadlines++;
	}
	return 1;
}

static inline void fn_run(struct fakenet *net, uint64_t ms)
{
	uint64_t end = net->now + ms;

	while (fn_step(net, end))
		;
}

/* Node i's view of node j (NULL if unknown). */
static inline const struct swim_member *fn_view(const struct fakenet *net, uint32_t i, uint32_t j)
{
	uint8_t id[SWIM_ID_LEN];

	memcpy(id, swim_member_at(net->nodes[j].swim, 0)->id, SWIM_ID_LEN);
	return swim_member_find(net->nodes[i].swim, id);
}

/* Number of (up i, j != i) pairs where i sees j in `state` (j up or not). */
static inline uint64_t fn_count_state(const struct fakenet *net, uint32_t j_only, int state)
{
	uint64_t c = 0;

	for (uint32_t i = 0; i < net->n; i++) {
		if (!net->nodes[i].up)
			continue;
		for (uint32_t j = 0; j < net->n; j++) {
			const struct swim_member *m;

			if (j == i || (j_only != UINT32_MAX && j != j_only))
				continue;
			m = fn_view(net, i, j);
			if (m && m->state == state)
				c++;
		}
	}
	return c;
}

/* Every up node sees every other up node alive? */
static inline int fn_converged(const struct fakenet *net)
{
	for (uint32_t i = 0; i < net->n; i++) {
		if (!net->nodes[i].up)
			continue;
		for (uint32_t j = 0; j < net->n; j++) {
			const struct swim_member *m;

			if (j == i || !net->nodes[j].up)
				continue;
			m = fn_view(net, i, j);
			if (!m || m->state != SWIM_ALIVE)
				return 0;
		}
	}
	return 1;
}

/* n nodes, all joining node 0; returns ms until converged or UINT64_MAX. */
static inline uint64_t fn_boot(struct fakenet *net, uint32_t n, uint64_t seed, uint64_t limit_ms)
{
	struct swim_addr seed_addr = fn_addr(0);
	uint64_t start = net->now;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = fn_add(net, seed);

		if (k > 0)
			swim_join(net->nodes[k].swim, &seed_addr, 1, net->now);
		net->nodes[k].deadline = swim_next_deadline(net->nodes[k].swim);
	}
	while (net->now - start < limit_ms) {
		fn_run(net, 100);
		if (fn_converged(net))
			return net->now - start;
	}
	return UINT64_MAX;
}

#endif

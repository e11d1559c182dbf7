/*
 * bench/bench_ring.c: the figures behind gossip/ring.h's defaults
 * (results in gossip/RING.md).  Standalone; no arguments needed.
 *
 *   balance   max/mean share of the hash space at N = 10, 100, 1000 for
 *             64, 128 and 256 vnodes per default node, over SEEDS random
 *             id sets (mean and worst of the max/mean ratio).
 *   movement  fraction of OBJECTS objects whose primary moves, and of
 *             replica copies (3 per object) that move, when one node joins
 *             or leaves, at N = 10 and 100, next to the ideal 1/(N+1), 1/N.
 *   lookup    ns per ring_locate(3 copies) and ring_primary, against the cost
 *             of one ring_oid_hash() (an 8-byte XXH64) measured in the same
 *             run, and libsodium's crypto_shorthash (SipHash-2-4) on the
 *             20-byte vnode input vs XXH64 on the same input.
 *
 * Usage: bench_ring [seeds]   (default 10)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "gossip/hash64.h"
#include "gossip/ring.h"

#define OBJECTS 200000
#define COPIES  3

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void members_make(struct ring_member *m, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t a = splitmix(&seed), b = splitmix(&seed);
		memcpy(m[i].id, &a, 8);
		memcpy(m[i].id + 8, &b, 8);
		m[i].weight = RING_WEIGHT_DEFAULT;
		m[i].zone = 0;
	}
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct ring *build(const struct ring_member *m, size_t n, uint32_t vpu)
{
	struct ring *r;
	int rc = ring_new(&r, m, n, vpu);

	if (rc) {
		fprintf(stderr, "ring_new: %d\n", rc);
		exit(1);
	}
	return r;
}

static double max_over_mean(const struct ring *r)
{
	double mx = 0;
	size_t n = ring_nr_nodes(r);

	for (uint32_t i = 0; i < n; i++) {
		double s = ring_share(r, i);
		if (s > mx)
			mx = s;
	}
	return mx * (double)n;
}

static void bench_balance(int seeds)
{
	static const size_t ns[] = { 10, 100, 1000 };
	static const uint32_t vpus[] = { 4, 8, 16 };

	printf("== balance: max/mean share of the hash space (%d id sets; mean / worst)\n", seeds);
	printf("%8s", "N");
	for (int v = 0; v < 3; v++)
		printf("   %4u vnodes/node  ", vpus[v] * RING_WEIGHT_DEFAULT);
	printf("  build ms (default)\n");
	for (int k = 0; k < 3; k++) {
		struct ring_member *m = malloc(ns[k] * sizeof(*m));
		double build_ms = 0;
		printf("%8zu", ns[k]);
		for (int v = 0; v < 3; v++) {
			double sum = 0, worst = 0;
			for (int s = 0; s < seeds; s++) {
				members_make(m, ns[k], 1000 + (uint64_t)s);
				double t0 = now_ns();
				struct ring *r = build(m, ns[k], vpus[v]);
				if (vpus[v] == RING_VNODES_PER_UNIT_DEFAULT)
					build_ms += (now_ns() - t0) / 1e6;
				double q = max_over_mean(r);
				sum += q;
				if (q > worst)
					worst = q;
				ring_free(r);
			}
			printf("   %6.3f / %6.3f    ", sum / seeds, worst);
		}
		printf("  %.2f\n", build_ms / seeds);
		free(m);
	}
}

/* Fraction of primaries and of replica copies that differ between a and b. */
static void moved(const struct ring *a, const struct ring *b, double *prim, double *copies)
{
	size_t pm = 0, cm = 0;
	uint64_t seed = 77;

	for (int o = 0; o < OBJECTS; o++) {
		uint64_t h = ring_oid_hash(splitmix(&seed));
		uint32_t ra[COPIES], rb[COPIES];
		int na = ring_locate(a, h, COPIES, ra), nb = ring_locate(b, h, COPIES, rb);
		/* compare by id: node indices differ between rings */
		pm += memcmp(ring_node(a, ra[0])->id, ring_node(b, rb[0])->id, RING_ID_LEN) != 0;
		for (int i = 0; i < nb; i++) {
			int found = 0;
			for (int j = 0; j < na; j++)
				found |= !memcmp(ring_node(b, rb[i])->id, ring_node(a, ra[j])->id, RING_ID_LEN);
			cm += !found;
		}
	}
	*prim = (double)pm / OBJECTS;
	*copies = (double)cm / ((double)OBJECTS * COPIES);
}

static void bench_movement(int seeds)
{
	static const size_t ns[] = { 10, 100 };

	printf("\n== movement: %d objects, %d copies, default %u vnodes/node, mean over %d id sets\n", OBJECTS,
	       COPIES, RING_VNODES_PER_UNIT_DEFAULT * RING_WEIGHT_DEFAULT, seeds);
	printf("%6s %6s %10s %10s %10s\n", "N", "event", "primaries", "copies", "ideal");
	for (int k = 0; k < 2; k++) {
		size_t n = ns[k];
		struct ring_member *m = malloc((n + 1) * sizeof(*m));
		double jp = 0, jc = 0, lp = 0, lc = 0;
		for (int s = 0; s < seeds; s++) {
			double p, c;
			members_make(m, n + 1, 5000 + (uint64_t)s);
			struct ring *base = build(m, n, 0);
			struct ring *joined = build(m, n + 1, 0);   /* m[n] joins */
			struct ring *left = build(m, n - 1, 0);     /* m[n-1] leaves */
			moved(base, joined, &p, &c);
			jp += p;
			jc += c;
			moved(base, left, &p, &c);
			lp += p;
			lc += c;
			ring_free(base);
			ring_free(joined);
			ring_free(left);
		}
		printf("%6zu %6s %10.4f %10.4f %10.4f\n", n, "join", jp / seeds, jc / seeds, 1.0 / (double)(n + 1));
		printf("%6zu %6s %10.4f %10.4f %10.4f\n", n, "leave", lp / seeds, lc / seeds, 1.0 / (double)n);
		free(m);
	}
}

/* Timed loops run REPS times; the fastest counts (the machine is shared). */
#define REPS 5
#define BEST(var, body)                                    \
	do {                                               \
		var = 1e18;                                \
		for (int rep_ = 0; rep_ < REPS; rep_++) {  \
			double t0_ = now_ns();             \
			body;                              \
			double d_ = (now_ns() - t0_) / KEYS; \
			if (d_ < var)                      \
				var = d_;                  \
		}                                          \
	} while (0)

static void bench_lookup(void)
{
	enum { KEYS = 1 << 20 };
	static const size_t ns[] = { 10, 100, 1000 };
	uint64_t *keys = malloc(KEYS * sizeof(*keys)), seed = 99, sink = 0;
	uint8_t in[20] = { 1, 2, 3 }, key[crypto_shorthash_KEYBYTES] = { 0 }, out[8];
	double hash_ns, xxh20_ns, sip20_ns;

	/* reference: one object-key hash (a call into libsheepcore, like lookups) */
	BEST(hash_ns, for (int i = 0; i < KEYS; i++) sink += ring_oid_hash((uint64_t)i * 0x9E3779B97F4A7C15u));
	BEST(xxh20_ns, for (int i = 0; i < KEYS; i++) sink += ring_vnode_hash(in, (uint32_t)i));
	BEST(sip20_ns, for (int i = 0; i < KEYS; i++) {
		in[16] = (uint8_t)i;
		in[17] = (uint8_t)(i >> 8);
		crypto_shorthash(out, in, sizeof(in), key);
		sink += out[0];
	});

	printf("\n== lookup (%d random keys, hash precomputed, default vnodes, best of %d)\n", KEYS, REPS);
	printf("reference: ring_oid_hash (XXH64, 8 bytes) %.1f ns; 20-byte vnode input: XXH64 %.1f ns, "
	       "SipHash-2-4 %.1f ns\n", hash_ns, xxh20_ns, sip20_ns);
	for (int i = 0; i < KEYS; i++)
		keys[i] = splitmix(&seed);
	printf("%6s %8s %12s %12s %14s\n", "N", "vnodes", "primary ns", "locate3 ns", "locate3/hash");
	for (int k = 0; k < 3; k++) {
		struct ring_member *m = malloc(ns[k] * sizeof(*m));
		uint32_t rep[COPIES];
		double p_ns, l_ns;
		members_make(m, ns[k], 42);
		struct ring *r = build(m, ns[k], 0);
		BEST(p_ns, for (int i = 0; i < KEYS; i++) sink += (uint64_t)ring_primary(r, keys[i]));
		BEST(l_ns, for (int i = 0; i < KEYS; i++) sink += (uint64_t)ring_locate(r, keys[i], COPIES, rep) + rep[0]);
		printf("%6zu %8zu %12.1f %12.1f %14.1f\n", ns[k], ring_nr_vnodes(r), p_ns, l_ns, l_ns / hash_ns);
		ring_free(r);
		free(m);
	}
	free(keys);
	printf("(sink %llu)\n", (unsigned long long)(sink & 1));
}

int main(int argc, char **argv)
{
	int seeds = argc > 1 ? atoi(argv[1]) : 10;

	if (seeds < 1 || seeds > 1000) {
		fprintf(stderr, "usage: bench_ring [seeds 1..1000]\n");
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "sodium_init failed\n");
		return 1;
	}
	bench_balance(seeds);
	bench_movement(seeds);
	bench_lookup();
	return 0;
}

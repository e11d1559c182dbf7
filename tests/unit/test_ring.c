/*
 * tests/unit/test_ring.c: placement (gossip/ring.h) and its hash
 * (gossip/hash64.h).  Member ids come from a seeded generator, so every
 * figure below is reproducible; the statistical bounds are the ones measured
 * by bench/bench_ring (gossip/RING.md) with margin, and each says so.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gossip/hash64.h"
#include "gossip/ring.h"

static uint64_t rng_next(uint64_t *s)          /* splitmix64 */
{
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void members_make(struct ring_member *m, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		for (int b = 0; b < RING_ID_LEN; b += 8) {
			uint64_t v = rng_next(&seed);
			memcpy(m[i].id + b, &v, 8);
		}
		m[i].weight = RING_WEIGHT_DEFAULT;
		m[i].zone = 0;
	}
}

static void shuffle(struct ring_member *m, size_t n, uint64_t *seed)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rng_next(seed) % i;
		struct ring_member t = m[i - 1];
		m[i - 1] = m[j];
		m[j] = t;
	}
}

static struct ring *build(const struct ring_member *m, size_t n, uint32_t vpu)
{
	struct ring *r = NULL;

	assert_int_equal(ring_new(&r, m, n, vpu), 0);
	assert_non_null(r);
	return r;
}

static const uint8_t *id_of(const struct ring *r, uint32_t idx)
{
	const struct ring_member *m = ring_node(r, idx);

	assert_non_null(m);
	return m->id;
}

/* ---- the hash: XXH64 reference vectors ---- */

static void test_xxh64_vectors(void **state)
{
	/* The XXH64 reference sanity buffer: byte i = top byte of
	 * 2654435761 * 11400714785074694797^i (mod 2^64). */
	uint8_t buf[222];
	uint64_t g = 2654435761u;
	const uint64_t p = 2654435761u;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++) {
		buf[i] = (uint8_t)(g >> 56);
		g *= UINT64_C(11400714785074694797);
	}
	assert_true(hash64_xxh64(buf, 0, 0) == UINT64_C(0xEF46DB3751D8E999));
	assert_true(hash64_xxh64(buf, 0, p) == UINT64_C(0xAC75FDA2929B17EF));
	assert_true(hash64_xxh64(buf, 1, 0) == UINT64_C(0xE934A84ADB052768));
	assert_true(hash64_xxh64(buf, 1, p) == UINT64_C(0x5014607643A9B4C3));
	assert_true(hash64_xxh64(buf, 14, 0) == UINT64_C(0x8282DCC4994E35C8));
	assert_true(hash64_xxh64(buf, 14, p) == UINT64_C(0xC3BD6BF63DEB6DF0));
	assert_true(hash64_xxh64(buf, 222, 0) == UINT64_C(0xB641AE8CB691C174));
	assert_true(hash64_xxh64(buf, 222, p) == UINT64_C(0x20CB8AB7AE10C14A));
	assert_true(hash64_xxh64("abc", 3, 0) == UINT64_C(0x44BC2CF5AD770999));
}

/* Placement is a cluster-wide contract: pin the key and vnode hashes so a
 * change cannot slip in without bumping RING_HASH_VERSION. */
static void test_hash_inputs_pinned(void **state)
{
	uint8_t le[8] = { 0x21, 0x43, 0x65, 0x87, 0x09, 0xba, 0xdc, 0xfe }, id[RING_ID_LEN], in[20];

	(void)state;
	assert_int_equal(RING_HASH_VERSION, 1);
	assert_true(ring_oid_hash(UINT64_C(0xfedcba0987654321)) == hash64_xxh64(le, 8, 0));
	for (int i = 0; i < RING_ID_LEN; i++)
		id[i] = (uint8_t)(i * 17 + 1);
	memcpy(in, id, RING_ID_LEN);
	in[16] = 0x07;
	in[17] = 0x01;
	in[18] = 0;
	in[19] = 0;
	assert_true(ring_vnode_hash(id, 0x107) == hash64_xxh64(in, 20, 0));
	assert_true(ring_oid_hash(0) == UINT64_C(0x34C96ACDCADB1BBB));
}

/* ---- determinism ---- */

static void test_deterministic_any_order(void **state)
{
	enum { N = 60, KEYS = 5000 };
	struct ring_member m[N];
	uint8_t d0[RING_DIGEST_LEN], d[RING_DIGEST_LEN];
	uint64_t seed = 7;
	struct ring *r0;

	(void)state;
	members_make(m, N, 1);
	m[3].weight = 40;
	m[5].zone = 2;
	r0 = build(m, N, 0);
	ring_digest(r0, d0);
	for (int round = 0; round < 20; round++) {
		shuffle(m, N, &seed);
		struct ring *r = build(m, N, 0);
		ring_digest(r, d);
		assert_memory_equal(d, d0, RING_DIGEST_LEN);
		assert_int_equal(ring_nr_vnodes(r), ring_nr_vnodes(r0));
		uint64_t ks = 99;
		for (int k = 0; k < KEYS; k++) {
			uint64_t h = rng_next(&ks);
			uint32_t a[5], b[5];
			assert_int_equal(ring_locate(r, h, 5, a), 5);
			assert_int_equal(ring_locate(r0, h, 5, b), 5);
			for (int i = 0; i < 5; i++)
				assert_memory_equal(id_of(r, a[i]), id_of(r0, b[i]), RING_ID_LEN);
		}
		ring_free(r);
	}
	/* a different member set, weight, zone or vnode count changes the digest */
	m[0].weight++;
	struct ring *r = build(m, N, 0);
	ring_digest(r, d);
	assert_memory_not_equal(d, d0, RING_DIGEST_LEN);
	ring_free(r);
	m[0].weight--;
	m[0].zone++;
	r = build(m, N, 0);
	ring_digest(r, d);
	assert_memory_not_equal(d, d0, RING_DIGEST_LEN);
	ring_free(r);
	m[0].zone--;
	r = build(m, N - 1, 0);
	ring_digest(r, d);
	assert_memory_not_equal(d, d0, RING_DIGEST_LEN);
	ring_free(r);
	r = build(m, N, RING_VNODES_PER_UNIT_DEFAULT + 1);
	ring_digest(r, d);
	assert_memory_not_equal(d, d0, RING_DIGEST_LEN);
	ring_free(r);
	ring_free(r0);
}

/* Brute force: owner of the first vnode clockwise, ties to the smaller id. */
static int brute_primary(const struct ring *r, uint64_t key)
{
	uint64_t best = 0, lowest = 0;
	int best_i = -1, low_i = -1;

	for (uint32_t i = 0; i < ring_nr_nodes(r); i++) {
		const struct ring_member *m = ring_node(r, i);
		uint32_t cnt = (uint32_t)m->weight * RING_VNODES_PER_UNIT_DEFAULT;
		for (uint32_t j = 0; j < cnt; j++) {
			uint64_t p = ring_vnode_hash(m->id, j);
			if (p >= key && (best_i < 0 || p < best)) {
				best = p;
				best_i = (int)i;
			}
			if (low_i < 0 || p < lowest) {
				lowest = p;
				low_i = (int)i;
			}
		}
	}
	return best_i >= 0 ? best_i : low_i;
}

static void test_lookup_matches_brute_force(void **state)
{
	enum { N = 9 };
	struct ring_member m[N];
	uint64_t seed = 3, keys[400];
	struct ring *r;
	size_t nk = 0;

	(void)state;
	members_make(m, N, 11);
	m[2].weight = 3;                      /* few vnodes: long arcs */
	r = build(m, N, 0);
	keys[nk++] = 0;
	keys[nk++] = UINT64_MAX;
	keys[nk++] = 1;
	/* exactly on vnode positions and next to them */
	for (int j = 0; j < 10; j++) {
		uint64_t p = ring_vnode_hash(m[j % N].id, (uint32_t)j);
		keys[nk++] = p;
		keys[nk++] = p - 1;
		keys[nk++] = p + 1;
	}
	while (nk < 400)
		keys[nk++] = rng_next(&seed);
	for (size_t k = 0; k < nk; k++) {
		uint32_t out[1];
		int want = brute_primary(r, keys[k]);
		assert_int_equal(ring_primary(r, keys[k]), want);
		assert_int_equal(ring_locate(r, keys[k], 1, out), 1);
		assert_int_equal(out[0], want);
	}
	ring_free(r);
}

/* ---- replicas ---- */

struct bvnode {
	uint64_t pos;
	uint32_t node;
};

static int bvnode_cmp(const void *a, const void *b)
{
	const struct bvnode *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return (x->node > y->node) - (x->node < y->node);
}

/* No zones: replicas are the first `copies` distinct nodes met walking
 * clockwise from the key, checked against an independently built walk. */
static void test_replicas_distinct_clockwise(void **state)
{
	enum { N = 20, V = N * RING_WEIGHT_DEFAULT * RING_VNODES_PER_UNIT_DEFAULT };
	struct ring_member m[N];
	struct bvnode *all = malloc(V * sizeof(*all));
	uint64_t seed = 5;
	struct ring *r;
	size_t k = 0;

	(void)state;
	assert_non_null(all);
	members_make(m, N, 21);
	r = build(m, N, 0);
	for (uint32_t x = 0; x < N; x++)
		for (uint32_t j = 0; j < RING_WEIGHT_DEFAULT * RING_VNODES_PER_UNIT_DEFAULT; j++)
			all[k++] = (struct bvnode){ ring_vnode_hash(id_of(r, x), j), x };
	qsort(all, V, sizeof(*all), bvnode_cmp);
	for (int t = 0; t < 3000; t++) {
		uint64_t h = t == 0 ? UINT64_MAX : rng_next(&seed);
		uint32_t out[RING_MAX_COPIES], want[7];
		int n = ring_locate(r, h, 7, out), got = 0;
		assert_int_equal(n, 7);
		assert_int_equal(out[0], ring_primary(r, h));
		size_t v = 0;
		while (v < V && all[v].pos < h)
			v++;
		for (size_t step = 0; step < V && got < 7; step++, v++) {
			uint32_t node = all[v % V].node;
			int dup = 0;
			for (int i = 0; i < got; i++)
				dup |= want[i] == node;
			if (!dup)
				want[got++] = node;
		}
		assert_int_equal(got, 7);
		for (int i = 0; i < 7; i++)
			assert_int_equal(out[i], want[i]);
	}
	ring_free(r);
	free(all);
}

static void test_fewer_nodes_than_copies(void **state)
{
	struct ring_member m[3];
	uint32_t out[RING_MAX_COPIES];
	struct ring *r;

	(void)state;
	members_make(m, 3, 31);
	for (size_t n = 0; n <= 3; n++) {
		r = build(m, n, 0);
		assert_int_equal(ring_nr_nodes(r), n);
		for (uint64_t k = 0; k < 50; k++) {
			int got = ring_locate(r, ring_oid_hash(k), 3, out);
			assert_int_equal(got, (int)n);
			for (int i = 0; i < got; i++)
				for (int j = 0; j < i; j++)
					assert_int_not_equal(out[i], out[j]);
			assert_int_equal(ring_locate(r, ring_oid_hash(k), RING_MAX_COPIES, out), (int)n);
		}
		if (!n)
			assert_int_equal(ring_primary(r, 1), -ENOENT);
		ring_free(r);
	}
	/* weight 0: known but not placed */
	m[1].weight = 0;
	r = build(m, 3, 0);
	assert_int_equal(ring_nr_nodes(r), 2);
	assert_int_equal(ring_find(r, m[1].id), -ENOENT);
	assert_true(ring_find(r, m[0].id) >= 0);
	assert_int_equal(ring_locate(r, 5, 3, out), 2);
	ring_free(r);
}

static void test_errors(void **state)
{
	struct ring_member m[2];
	uint32_t out[RING_MAX_COPIES + 1];
	struct ring *r = (struct ring *)1;

	(void)state;
	members_make(m, 2, 41);
	m[1] = m[0];
	assert_int_equal(ring_new(&r, m, 2, 0), -EINVAL);
	assert_null(r);
	m[1].weight = 0;                      /* duplicate even if unplaced */
	assert_int_equal(ring_new(&r, m, 2, 0), -EINVAL);
	assert_int_equal(ring_new(&r, NULL, 1, 0), -EINVAL);
	members_make(m, 2, 41);
	m[0].weight = UINT16_MAX;
	assert_int_equal(ring_new(&r, m, 2, 1024), -E2BIG);
	r = build(m, 2, 1);
	assert_int_equal(ring_locate(r, 1, RING_MAX_COPIES + 1, out), -EINVAL);
	assert_int_equal(ring_locate(r, 1, 0, out), 0);
	assert_null(ring_node(r, 2));
	ring_free(r);
	ring_free(NULL);
}

/* ---- zones ---- */

static void test_zone_spreading(void **state)
{
	enum { N = 12 };
	struct ring_member m[N];
	uint32_t out[RING_MAX_COPIES];
	struct ring *r;
	uint64_t seed = 8;

	(void)state;
	/* 4 zones x 3 nodes, 3 copies: always 3 distinct zones */
	members_make(m, N, 51);
	for (int i = 0; i < N; i++)
		m[i].zone = 1 + (uint32_t)i % 4;
	r = build(m, N, 0);
	for (int k = 0; k < 5000; k++) {
		uint64_t h = rng_next(&seed);
		assert_int_equal(ring_locate(r, h, 3, out), 3);
		uint32_t z0 = ring_node(r, out[0])->zone, z1 = ring_node(r, out[1])->zone,
			 z2 = ring_node(r, out[2])->zone;
		assert_true(z0 != z1 && z0 != z2 && z1 != z2);
		assert_int_equal(out[0], ring_primary(r, h));   /* primary unchanged by zones */
		/* 6 copies over 4 zones: all 4 zones, 6 distinct nodes */
		assert_int_equal(ring_locate(r, h, 6, out), 6);
		unsigned zmask = 0;
		for (int i = 0; i < 6; i++) {
			zmask |= 1u << ring_node(r, out[i])->zone;
			for (int j = 0; j < i; j++)
				assert_int_not_equal(out[i], out[j]);
		}
		assert_int_equal(zmask, 0x1e);
		/* the first 4 replicas are in 4 distinct zones */
		zmask = 0;
		for (int i = 0; i < 4; i++)
			zmask |= 1u << ring_node(r, out[i])->zone;
		assert_int_equal(zmask, 0x1e);
	}
	ring_free(r);

	/* 2 zones, 3 copies: both zones, then any third node */
	for (int i = 0; i < N; i++)
		m[i].zone = 7 + (uint32_t)i % 2;
	r = build(m, N, 0);
	for (int k = 0; k < 2000; k++) {
		uint64_t h = rng_next(&seed);
		assert_int_equal(ring_locate(r, h, 3, out), 3);
		assert_int_not_equal(ring_node(r, out[0])->zone, ring_node(r, out[1])->zone);
		assert_true(out[2] != out[0] && out[2] != out[1]);
	}
	ring_free(r);

	/* zone 0 = its own zone: 1 zoned node + 2 unzoned; copies 3 = all */
	members_make(m, 5, 61);
	m[0].zone = 9;
	m[1].zone = 9;
	m[2].zone = 9;
	r = build(m, 5, 0);                   /* zones: {9}, node3, node4 */
	for (int k = 0; k < 2000; k++) {
		uint64_t h = rng_next(&seed);
		assert_int_equal(ring_locate(r, h, 3, out), 3);
		int zoned = 0;
		for (int i = 0; i < 3; i++)
			zoned += ring_node(r, out[i])->zone == 9;
		assert_int_equal(zoned, 1);
	}
	ring_free(r);
}

/* ---- balance and movement (bounds from gossip/RING.md) ---- */

static double max_over_mean(const struct ring *r)
{
	double mx = 0, sum = 0;
	size_t n = ring_nr_nodes(r);

	for (uint32_t i = 0; i < n; i++) {
		double s = ring_share(r, i);
		sum += s;
		if (s > mx)
			mx = s;
	}
	assert_true(sum > 0.999999 && sum < 1.000001);
	return mx * (double)n;
}

static void test_balance(void **state)
{
	struct ring_member *m = malloc(1000 * sizeof(*m));
	struct ring *r;
	double q;

	(void)state;
	assert_non_null(m);
	/* Measured (bench_ring, 10 id sets, 128 vnodes/node): N=100 mean 1.26
	 * worst 1.32; N=1000 mean 1.33 worst 1.39.  Bounds with margin. */
	members_make(m, 100, 71);
	r = build(m, 100, 0);
	q = max_over_mean(r);
	print_message("      N=100 max/mean %.3f\n", q);
	assert_true(q < 1.40);
	ring_free(r);
	members_make(m, 1000, 72);
	r = build(m, 1000, 0);
	q = max_over_mean(r);
	print_message("      N=1000 max/mean %.3f\n", q);
	assert_true(q < 1.45);
	ring_free(r);
	free(m);
}

/*
 * Shares match what lookups do: 100,000 object keys over 10 nodes, counts
 * against the expected count from ring_share(); chi-squared with 9 degrees
 * of freedom, critical value 27.88 at p = 0.001 (keys are seeded, so this
 * is a fixed check, not a flaky one).
 */
static void test_share_matches_lookups(void **state)
{
	enum { N = 10, KEYS = 100000 };
	struct ring_member m[N];
	unsigned cnt[N] = { 0 };
	double chi = 0;
	struct ring *r;

	(void)state;
	members_make(m, N, 81);
	m[4].weight = 2 * RING_WEIGHT_DEFAULT;
	r = build(m, N, 0);
	for (uint64_t k = 0; k < KEYS; k++)
		cnt[ring_primary(r, ring_oid_hash(k))]++;
	for (uint32_t i = 0; i < N; i++) {
		double e = ring_share(r, i) * KEYS;
		chi += (cnt[i] - e) * (cnt[i] - e) / e;
	}
	print_message("      chi2 = %.2f (df 9, critical 27.88)\n", chi);
	assert_true(chi < 27.88);
	/* weight 2x: about twice the mean share of the others */
	int w2 = ring_find(r, m[4].id);
	double others = (1.0 - ring_share(r, (uint32_t)w2)) / (N - 1);
	double ratio = ring_share(r, (uint32_t)w2) / others;
	print_message("      weight 2x: share ratio %.2f\n", ratio);
	assert_true(ratio > 1.6 && ratio < 2.4);
	ring_free(r);
}

static int same_id(const struct ring *a, uint32_t ia, const struct ring *b, uint32_t ib)
{
	return !memcmp(id_of(a, ia), id_of(b, ib), RING_ID_LEN);
}

/* Join: objects move only to the newcomer; leave: only the leaver's
 * objects move.  Fraction moved < 2/N (ideal 1/N; bench measured ~1/N). */
static void test_movement_join_leave(void **state)
{
	enum { N = 100, KEYS = 50000 };
	struct ring_member m[N + 1];
	struct ring *base, *joined, *left;
	size_t pj = 0, pl = 0, cj = 0, cl = 0;

	(void)state;
	members_make(m, N + 1, 91);
	base = build(m, N, 0);
	joined = build(m, N + 1, 0);
	left = build(m, N - 1, 0);
	int newcomer = ring_find(joined, m[N].id);
	int leaver = ring_find(base, m[N - 1].id);
	assert_true(newcomer >= 0 && leaver >= 0);
	for (uint64_t k = 0; k < KEYS; k++) {
		uint64_t h = ring_oid_hash(k);
		uint32_t b[3], j[3], l[3];
		assert_int_equal(ring_locate(base, h, 3, b), 3);
		assert_int_equal(ring_locate(joined, h, 3, j), 3);
		assert_int_equal(ring_locate(left, h, 3, l), 3);
		if (!same_id(base, b[0], joined, j[0])) {
			assert_int_equal(j[0], newcomer);
			pj++;
		}
		if (!same_id(base, b[0], left, l[0])) {
			assert_int_equal(b[0], leaver);
			pl++;
		}
		for (int i = 0; i < 3; i++) {
			int in_base = 0, in_base2 = 0;
			for (int x = 0; x < 3; x++) {
				in_base |= same_id(joined, j[i], base, b[x]);
				in_base2 |= same_id(left, l[i], base, b[x]);
			}
			if (!in_base) {
				assert_int_equal(j[i], newcomer);
				cj++;
			}
			cl += !in_base2;
		}
	}
	double fpj = (double)pj / KEYS, fpl = (double)pl / KEYS;
	double fcj = (double)cj / (3.0 * KEYS), fcl = (double)cl / (3.0 * KEYS);
	print_message("      N=100 moved: join %.4f (copies %.4f), leave %.4f (copies %.4f), ideal %.4f\n", fpj,
		      fcj, fpl, fcl, 1.0 / N);
	assert_true(fpj > 0 && fpj < 2.0 / N);
	assert_true(fpl > 0 && fpl < 2.0 / N);
	assert_true(fcj > 0 && fcj < 2.0 / N);
	assert_true(fcl > 0 && fcl < 2.0 / N);
	ring_free(base);
	ring_free(joined);
	ring_free(left);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xxh64_vectors),
		cmocka_unit_test(test_hash_inputs_pinned),
		cmocka_unit_test(test_deterministic_any_order),
		cmocka_unit_test(test_lookup_matches_brute_force),
		cmocka_unit_test(test_replicas_distinct_clockwise),
		cmocka_unit_test(test_fewer_nodes_than_copies),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_zone_spreading),
		cmocka_unit_test(test_balance),
		cmocka_unit_test(test_share_matches_lookups),
		cmocka_unit_test(test_movement_join_leave),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

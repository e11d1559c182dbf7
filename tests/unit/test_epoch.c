/*
 * tests/unit/test_epoch.c: epoch vectors, ring-defining state, their merge
 * laws (property tests over seeded random events, orders and partitions)
 * and the msgpack codec (hand-made bad inputs, every truncation, random and
 * mutated bytes).
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

#include "gossip/epoch.h"
#include "gossip/ring.h"

#define NIDS 10

static uint64_t rng_next(uint64_t *s)          /* splitmix64 */
{
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static unsigned rnd(uint64_t *s, unsigned n)
{
	return (unsigned)(rng_next(s) % n);
}

/* Ids: k-th id of a fixed pseudo-random set, so sort order != k order. */
static void mkid(uint8_t id[EPOCH_ID_LEN], unsigned k)
{
	uint64_t s = 1000 + k, a = rng_next(&s), b = rng_next(&s);

	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
}

static struct epoch_member mkev(unsigned k, uint64_t version, uint8_t st, uint16_t weight, uint32_t zone)
{
	struct epoch_member m;

	memset(&m, 0, sizeof(m));
	mkid(m.id, k);
	m.version = version;
	m.state = st;
	m.weight = weight;
	m.zone = zone;
	return m;
}

static struct epoch_member rand_ev(uint64_t *s)
{
	static const uint16_t w[] = { 0, 16, 16, 32 };

	return mkev(rnd(s, NIDS), 1 + rnd(s, 4), (uint8_t)(1 + rnd(s, 2)), w[rnd(s, 4)], rnd(s, 4));
}

/* A random epoch (not necessarily reachable: the merge laws hold for all). */
static void rand_epoch(struct epoch *e, uint64_t *s)
{
	epoch_init(e);
	for (unsigned k = 0; k < NIDS; k++) {
		if (rnd(s, 10) < 7) {
			struct epoch_member m = rand_ev(s);
			mkid(m.id, k);
			assert_true(epoch_state_apply(&e->state, &m) >= 0);
		}
		if (rnd(s, 10) < 6) {
			uint8_t id[EPOCH_ID_LEN];
			mkid(id, k);
			assert_true(epoch_vec_raise(&e->vec, id, 1 + rnd(s, 10)) >= 0);
		}
	}
}

/* Equality through the canonical encoding (covers every field, no padding). */
static int epoch_eq(const struct epoch *a, const struct epoch *b)
{
	uint8_t ba[4096], bb[4096];
	size_t la, lb;

	assert_int_equal(epoch_encode(a, ba, sizeof(ba), &la), 0);
	assert_int_equal(epoch_encode(b, bb, sizeof(bb), &lb), 0);
	return la == lb && !memcmp(ba, bb, la);
}

static int state_eq(const struct epoch_state *a, const struct epoch_state *b)
{
	if (a->n != b->n)
		return 0;
	for (uint32_t i = 0; i < a->n; i++)
		if (memcmp(a->m[i].id, b->m[i].id, EPOCH_ID_LEN) || epoch_member_cmp(&a->m[i], &b->m[i]))
			return 0;
	return 1;
}

static void ring_digest_of(const struct epoch_state *s, uint8_t d[RING_DIGEST_LEN])
{
	struct ring *r;

	assert_int_equal(epoch_state_ring(s, 0, &r), 0);
	ring_digest(r, d);
	ring_free(r);
}

/* ---- vectors ---- */

static void test_vec_basics_and_compare(void **state)
{
	struct epoch_vec a, b;
	uint8_t x[EPOCH_ID_LEN], y[EPOCH_ID_LEN], z[EPOCH_ID_LEN];

	(void)state;
	mkid(x, 1);
	mkid(y, 2);
	mkid(z, 3);
	epoch_vec_init(&a);
	epoch_vec_init(&b);
	assert_int_equal(epoch_vec_compare(&a, &b), EPOCH_EQUAL);
	assert_int_equal(epoch_vec_get(&a, x), 0);
	assert_int_equal(epoch_vec_bump(&a, x), 0);
	assert_int_equal(epoch_vec_get(&a, x), 1);
	assert_int_equal(epoch_vec_compare(&a, &b), EPOCH_NEWER);   /* absent = 0 */
	assert_int_equal(epoch_vec_compare(&b, &a), EPOCH_OLDER);
	assert_int_equal(epoch_vec_raise(&b, x, 1), 1);
	assert_int_equal(epoch_vec_raise(&b, x, 1), 0);
	assert_int_equal(epoch_vec_raise(&b, y, 0), 0);             /* no zero entries */
	assert_int_equal(b.n, 1);
	assert_int_equal(epoch_vec_compare(&a, &b), EPOCH_EQUAL);
	assert_int_equal(epoch_vec_raise(&b, y, 4), 1);
	assert_int_equal(epoch_vec_compare(&a, &b), EPOCH_OLDER);
	assert_int_equal(epoch_vec_raise(&a, x, 5), 1);
	assert_int_equal(epoch_vec_compare(&a, &b), EPOCH_CONCURRENT);
	assert_int_equal(epoch_vec_compare(&b, &a), EPOCH_CONCURRENT);
	/* concurrent through disjoint ids only */
	struct epoch_vec c, d;
	epoch_vec_init(&c);
	epoch_vec_init(&d);
	assert_int_equal(epoch_vec_raise(&c, z, 1), 1);
	assert_int_equal(epoch_vec_raise(&d, y, 1), 1);
	assert_int_equal(epoch_vec_compare(&c, &d), EPOCH_CONCURRENT);
	/* merge gives the least upper bound: newer-or-equal than both */
	assert_int_equal(epoch_vec_merge(&a, &b), 1);
	assert_int_equal(epoch_vec_get(&a, x), 5);
	assert_int_equal(epoch_vec_get(&a, y), 4);
	assert_int_equal(epoch_vec_compare(&a, &b), EPOCH_NEWER);
	assert_int_equal(epoch_vec_merge(&a, &b), 0);
	assert_int_equal(epoch_vec_copy(&c, &a), 0);
	assert_int_equal(epoch_vec_compare(&c, &a), EPOCH_EQUAL);
	/* overflow is refused, not wrapped */
	assert_int_equal(epoch_vec_raise(&d, z, UINT64_MAX), 1);
	assert_int_equal(epoch_vec_bump(&d, z), -EOVERFLOW);
	assert_true(epoch_vec_get(&d, z) == UINT64_MAX);
	epoch_vec_fini(&a);
	epoch_vec_fini(&b);
	epoch_vec_fini(&c);
	epoch_vec_fini(&d);
}

static void test_scalar_monotonic(void **state)
{
	struct epoch_vec v, o;
	uint64_t s = 17, prev = 0;
	uint8_t id[EPOCH_ID_LEN];

	(void)state;
	epoch_vec_init(&v);
	epoch_vec_init(&o);
	for (int i = 0; i < 3000; i++) {
		mkid(id, rnd(&s, NIDS));
		switch (rnd(&s, 3)) {
		case 0:
			assert_int_equal(epoch_vec_bump(&v, id), 0);
			break;
		case 1:
			assert_true(epoch_vec_raise(&v, id, rnd(&s, 50)) >= 0);
			break;
		default:
			assert_true(epoch_vec_raise(&o, id, rnd(&s, 60)) >= 0);
			assert_true(epoch_vec_merge(&v, &o) >= 0);
		}
		uint64_t now = epoch_vec_scalar(&v);
		assert_true(now >= prev);
		prev = now;
	}
	assert_true(prev > 0);
	/* saturates instead of wrapping */
	mkid(id, 0);
	assert_int_equal(epoch_vec_raise(&v, id, UINT64_MAX - 1), 1);
	assert_true(epoch_vec_scalar(&v) == UINT64_MAX);
	epoch_vec_fini(&v);
	epoch_vec_fini(&o);
}

/* ---- state and record ---- */

static void test_state_rules_and_record(void **state)
{
	struct epoch e;
	uint8_t self[EPOCH_ID_LEN], d1[EPOCH_DIGEST_LEN], d2[EPOCH_DIGEST_LEN];
	struct epoch_member in1 = mkev(4, 1, EPOCH_IN, 16, 0), out1 = mkev(4, 1, EPOCH_OUT, 16, 0),
			    in2 = mkev(4, 2, EPOCH_IN, 16, 0), bad = mkev(4, 9, 3, 16, 0);

	(void)state;
	mkid(self, 7);
	epoch_init(&e);
	assert_int_equal(epoch_scalar(&e), 0);
	assert_int_equal(epoch_record(&e, self, &bad), -EINVAL);
	assert_int_equal(epoch_record(&e, self, &in1), 1);
	assert_int_equal(epoch_scalar(&e), 1);
	assert_int_equal(epoch_record(&e, self, &in1), 0);        /* duplicate: no event */
	assert_int_equal(epoch_scalar(&e), 1);
	epoch_digest(&e, d1);
	assert_int_equal(epoch_record(&e, self, &out1), 1);       /* death at the same generation wins */
	assert_int_equal(epoch_state_get(&e.state, in1.id)->state, EPOCH_OUT);
	assert_int_equal(epoch_record(&e, self, &in1), 0);        /* stale "alive" cannot undo it */
	assert_int_equal(epoch_scalar(&e), 2);
	epoch_digest(&e, d2);
	assert_memory_not_equal(d1, d2, EPOCH_DIGEST_LEN);
	assert_int_equal(epoch_record(&e, self, &in2), 1);        /* rejoin at g+1 */
	assert_int_equal(epoch_state_get(&e.state, in1.id)->state, EPOCH_IN);
	assert_int_equal(epoch_vec_get(&e.vec, self), 3);
	/* same generation: total order by weight then zone, so both sides agree */
	struct epoch_member a = mkev(5, 1, EPOCH_IN, 16, 2), b = mkev(5, 1, EPOCH_IN, 32, 1);
	assert_true(epoch_member_cmp(&a, &b) < 0 && epoch_member_cmp(&b, &a) > 0);
	assert_int_equal(epoch_member_cmp(&a, &a), 0);
	assert_int_equal(epoch_state_apply(&e.state, &bad), -EINVAL);
	assert_null(epoch_state_get(&e.state, self));
	assert_string_equal(epoch_strerror(EPOCH_E_ZONE), "epoch: member zone is not an unsigned integer < 2^32");
	assert_string_equal(epoch_strerror(-ENOMEM), "epoch: out of memory");
	epoch_fini(&e);
}

/* The ring is exactly the IN members with weight > 0. */
static void test_state_ring(void **state)
{
	struct epoch_state s;
	struct ring_member rm[NIDS];
	size_t n = 0;
	uint8_t d1[RING_DIGEST_LEN], d2[RING_DIGEST_LEN];
	struct ring *r;

	(void)state;
	epoch_state_init(&s);
	for (unsigned k = 0; k < NIDS; k++) {
		struct epoch_member m = mkev(k, 3, k % 3 == 0 ? EPOCH_OUT : EPOCH_IN, k % 4 == 1 ? 0 : 16 + k,
					     k % 2);
		assert_int_equal(epoch_state_apply(&s, &m), 1);
		if (m.state == EPOCH_IN && m.weight) {
			memcpy(rm[n].id, m.id, RING_ID_LEN);
			rm[n].weight = m.weight;
			rm[n++].zone = m.zone;
		}
	}
	assert_int_equal(epoch_state_placed(&s, NULL, 0), n);
	ring_digest_of(&s, d1);
	assert_int_equal(ring_new(&r, rm, n, 0), 0);
	ring_digest(r, d2);
	assert_memory_equal(d1, d2, RING_DIGEST_LEN);
	assert_int_equal(ring_nr_nodes(r), n);
	ring_free(r);
	epoch_state_fini(&s);
}

/* ---- merge laws ---- */

static void test_merge_laws(void **state)
{
	uint64_t s = 2024;

	(void)state;
	for (int it = 0; it < 500; it++) {
		struct epoch a, b, c, ab, ba, ab_c, bc, a_bc, t;
		rand_epoch(&a, &s);
		rand_epoch(&b, &s);
		rand_epoch(&c, &s);
		epoch_init(&ab);
		epoch_init(&ba);
		epoch_init(&ab_c);
		epoch_init(&bc);
		epoch_init(&a_bc);
		epoch_init(&t);
		/* commutative */
		assert_int_equal(epoch_copy(&ab, &a), 0);
		assert_true(epoch_merge(&ab, &b) >= 0);
		assert_int_equal(epoch_copy(&ba, &b), 0);
		assert_true(epoch_merge(&ba, &a) >= 0);
		assert_true(epoch_eq(&ab, &ba));
		/* associative */
		assert_int_equal(epoch_copy(&ab_c, &ab), 0);
		assert_true(epoch_merge(&ab_c, &c) >= 0);
		assert_int_equal(epoch_copy(&bc, &b), 0);
		assert_true(epoch_merge(&bc, &c) >= 0);
		assert_int_equal(epoch_copy(&a_bc, &a), 0);
		assert_true(epoch_merge(&a_bc, &bc) >= 0);
		assert_true(epoch_eq(&ab_c, &a_bc));
		/* idempotent, and the join absorbs its parts */
		assert_int_equal(epoch_copy(&t, &a), 0);
		assert_int_equal(epoch_merge(&t, &a), 0);
		assert_true(epoch_eq(&t, &a));
		assert_int_equal(epoch_merge(&ab, &a), 0);
		assert_int_equal(epoch_merge(&ab, &b), 0);
		assert_int_equal(epoch_merge(&ab, &ab), 0);
		assert_true(epoch_eq(&ab, &ba));
		/* upper bound: the vector of the join is newer or equal */
		enum epoch_order o = epoch_compare(&a, &ab);
		assert_true(o == EPOCH_OLDER || o == EPOCH_EQUAL);
		o = epoch_compare(&ab, &b);
		assert_true(o == EPOCH_NEWER || o == EPOCH_EQUAL);
		assert_true(epoch_scalar(&ab) >= epoch_scalar(&a) && epoch_scalar(&ab) >= epoch_scalar(&b));
		/* equal epochs, equal digests */
		uint8_t d1[EPOCH_DIGEST_LEN], d2[EPOCH_DIGEST_LEN];
		epoch_digest(&ab, d1);
		epoch_digest(&ba, d2);
		assert_memory_equal(d1, d2, EPOCH_DIGEST_LEN);
		epoch_fini(&a);
		epoch_fini(&b);
		epoch_fini(&c);
		epoch_fini(&ab);
		epoch_fini(&ba);
		epoch_fini(&ab_c);
		epoch_fini(&bc);
		epoch_fini(&a_bc);
		epoch_fini(&t);
	}
}

/*
 * A small history: ORIG originators record random events (and now and then
 * merge another originator's epoch, as gossip would), and every epoch they
 * hold after a change is a message.  Receivers then merge all messages in
 * random orders, random partitions (merge groups separately, then the
 * groups) and with duplicates.  All must end equal, with the ring of the
 * per-id maximum over all events, and every intermediate receiver must
 * satisfy the invariant of epoch.h point 4.
 */
#define ORIG  6
#define STEPS 80
#define MSGS  (STEPS * 2)

struct history {
	struct epoch msg[MSGS];
	unsigned nmsg;
	uint8_t orig[ORIG][EPOCH_ID_LEN];
	struct epoch_member ev[ORIG][STEPS + 1];   /* ev[x][k-1] = e(x, k) */
	unsigned nev[ORIG];
	struct epoch_state truth;                  /* per-id max over all events, computed by hand */
};

static int ev_beats(const struct epoch_member *a, const struct epoch_member *b)
{
	/* independent of epoch_member_cmp: the order written in epoch.h */
	if (a->version != b->version)
		return a->version > b->version;
	if (a->state != b->state)
		return a->state == EPOCH_OUT;
	if (a->weight != b->weight)
		return a->weight > b->weight;
	return a->zone > b->zone;
}

static void truth_add(struct epoch_state *t, const struct epoch_member *ev)
{
	const struct epoch_member *cur = epoch_state_get(t, ev->id);

	if (!cur || ev_beats(ev, cur)) {
		struct epoch_member m = *ev;
		/* apply() with a larger entry always replaces */
		assert_int_equal(epoch_state_apply(t, &m), 1);
	}
}

static void history_make(struct history *h, uint64_t seed)
{
	struct epoch node[ORIG];

	memset(h, 0, sizeof(*h));
	epoch_state_init(&h->truth);
	for (unsigned x = 0; x < ORIG; x++) {
		mkid(h->orig[x], 100 + x);
		epoch_init(&node[x]);
	}
	for (unsigned step = 0; step < STEPS; step++) {
		unsigned x = rnd(&seed, ORIG);
		if (rnd(&seed, 4) == 0 && h->nmsg) {
			/* gossip: x learns some earlier message */
			assert_true(epoch_merge(&node[x], &h->msg[rnd(&seed, h->nmsg)]) >= 0);
		}
		struct epoch_member ev = rand_ev(&seed);
		truth_add(&h->truth, &ev);
		int rc = epoch_record(&node[x], h->orig[x], &ev);
		assert_true(rc == 0 || rc == 1);
		if (rc == 1) {
			h->ev[x][h->nev[x]++] = ev;
			assert_int_equal(epoch_vec_get(&node[x].vec, h->orig[x]), h->nev[x]);
		}
		epoch_init(&h->msg[h->nmsg]);
		assert_int_equal(epoch_copy(&h->msg[h->nmsg++], &node[x]), 0);
	}
	for (unsigned x = 0; x < ORIG; x++)
		epoch_fini(&node[x]);
}

static void history_free(struct history *h)
{
	for (unsigned i = 0; i < h->nmsg; i++)
		epoch_fini(&h->msg[i]);
	epoch_state_fini(&h->truth);
}

/* epoch.h point 4: state = join{ e(X,k) : k <= vec[X] } */
static void check_invariant(const struct history *h, const struct epoch *e)
{
	struct epoch_state want;

	epoch_state_init(&want);
	for (unsigned x = 0; x < ORIG; x++) {
		uint64_t k = epoch_vec_get(&e->vec, h->orig[x]);
		assert_true(k <= h->nev[x]);
		for (uint64_t i = 0; i < k; i++)
			assert_true(epoch_state_apply(&want, &h->ev[x][i]) >= 0);
	}
	assert_true(state_eq(&want, &e->state));
	epoch_state_fini(&want);
}

static void perm(unsigned *p, unsigned n, uint64_t *s)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = i;
	for (unsigned i = n; i > 1; i--) {
		unsigned j = rnd(s, i), t = p[i - 1];
		p[i - 1] = p[j];
		p[j] = t;
	}
}

static void test_convergence_any_order(void **state)
{
	uint64_t s = 77;

	(void)state;
	for (int hist = 0; hist < 8; hist++) {
		struct history *h = malloc(sizeof(*h));
		struct epoch ref;
		uint8_t want_ring[RING_DIGEST_LEN], got_ring[RING_DIGEST_LEN], d_ref[EPOCH_DIGEST_LEN],
			d[EPOCH_DIGEST_LEN];
		unsigned p[MSGS];

		assert_non_null(h);
		history_make(h, 1000 + (uint64_t)hist);
		ring_digest_of(&h->truth, want_ring);
		epoch_init(&ref);
		for (unsigned i = 0; i < h->nmsg; i++)
			assert_true(epoch_merge(&ref, &h->msg[i]) >= 0);
		assert_true(state_eq(&ref.state, &h->truth));
		check_invariant(h, &ref);
		epoch_digest(&ref, d_ref);

		for (int order = 0; order < 25; order++) {
			struct epoch r;
			uint64_t prev = 0;
			epoch_init(&r);
			perm(p, h->nmsg, &s);
			for (unsigned i = 0; i < h->nmsg; i++) {
				assert_true(epoch_merge(&r, &h->msg[p[i]]) >= 0);
				if (rnd(&s, 5) == 0)  /* duplicates change nothing */
					assert_int_equal(epoch_merge(&r, &h->msg[p[i]]), 0);
				assert_true(epoch_scalar(&r) >= prev);
				prev = epoch_scalar(&r);
				if (i % 16 == 0)
					check_invariant(h, &r);
			}
			assert_true(epoch_eq(&r, &ref));
			epoch_digest(&r, d);
			assert_memory_equal(d, d_ref, EPOCH_DIGEST_LEN);
			ring_digest_of(&r.state, got_ring);
			assert_memory_equal(got_ring, want_ring, RING_DIGEST_LEN);
			epoch_fini(&r);
		}
		for (int part = 0; part < 25; part++) {
			enum { G = 5 };
			struct epoch g[G], r;
			unsigned q[G];
			for (int i = 0; i < G; i++)
				epoch_init(&g[i]);
			epoch_init(&r);
			perm(p, h->nmsg, &s);
			for (unsigned i = 0; i < h->nmsg; i++)
				assert_true(epoch_merge(&g[rnd(&s, G)], &h->msg[p[i]]) >= 0);
			for (int i = 0; i < G; i++)
				check_invariant(h, &g[i]);
			/* tree shape: fold groups pairwise in a random order */
			perm(q, G, &s);
			assert_true(epoch_merge(&g[q[1]], &g[q[0]]) >= 0);
			assert_true(epoch_merge(&g[q[3]], &g[q[2]]) >= 0);
			assert_true(epoch_merge(&g[q[4]], &g[q[3]]) >= 0);
			assert_true(epoch_merge(&r, &g[q[4]]) >= 0);
			assert_true(epoch_merge(&r, &g[q[1]]) >= 0);
			assert_true(epoch_eq(&r, &ref));
			ring_digest_of(&r.state, got_ring);
			assert_memory_equal(got_ring, want_ring, RING_DIGEST_LEN);
			for (int i = 0; i < G; i++)
				epoch_fini(&g[i]);
			epoch_fini(&r);
		}
		epoch_fini(&ref);
		history_free(h);
		free(h);
	}
}

/* Same ring, different counters: digests differ, one merge fixes it. */
static void test_digest_covers_vector(void **state)
{
	struct epoch a, b;
	uint8_t x[EPOCH_ID_LEN], y[EPOCH_ID_LEN], da[EPOCH_DIGEST_LEN], db[EPOCH_DIGEST_LEN];
	struct epoch_member death = mkev(3, 1, EPOCH_OUT, 16, 0);

	(void)state;
	mkid(x, 1);
	mkid(y, 2);
	epoch_init(&a);
	epoch_init(&b);
	assert_int_equal(epoch_record(&a, x, &death), 1);
	assert_int_equal(epoch_record(&b, y, &death), 1);    /* both confirm the same death */
	epoch_state_digest(&a.state, da);
	epoch_state_digest(&b.state, db);
	assert_memory_equal(da, db, EPOCH_DIGEST_LEN);
	epoch_digest(&a, da);
	epoch_digest(&b, db);
	assert_memory_not_equal(da, db, EPOCH_DIGEST_LEN);
	assert_int_equal(epoch_compare(&a, &b), EPOCH_CONCURRENT);
	assert_int_equal(epoch_merge(&a, &b), 1);
	assert_int_equal(epoch_merge(&b, &a), 1);
	epoch_digest(&a, da);
	epoch_digest(&b, db);
	assert_memory_equal(da, db, EPOCH_DIGEST_LEN);
	assert_int_equal(epoch_scalar(&a), 2);
	assert_int_equal(epoch_compare(&a, &b), EPOCH_EQUAL);
	epoch_fini(&a);
	epoch_fini(&b);
}

/* ---- codec ---- */

static void test_codec_roundtrip(void **state)
{
	uint64_t s = 5;
	uint8_t buf[4096], buf2[4096];
	size_t len, len2;

	(void)state;
	for (int it = 0; it < 300; it++) {
		struct epoch a, b;
		rand_epoch(&a, &s);
		epoch_init(&b);
		assert_int_equal(epoch_encode(&a, buf, sizeof(buf), &len), 0);
		assert_true(len <= epoch_encoded_max(a.state.n, a.vec.n));
		assert_int_equal(epoch_decode(&b, buf, len, 0, NULL), 0);
		assert_true(epoch_eq(&a, &b));
		assert_int_equal(epoch_encode(&b, buf2, sizeof(buf2), &len2), 0);
		assert_int_equal(len, len2);
		assert_memory_equal(buf, buf2, len);
		if (it < 20)
			for (size_t cap = 0; cap < len; cap++)
				assert_int_equal(epoch_encode(&a, buf2, cap, &len2), -ENOSPC);
		epoch_fini(&a);
		epoch_fini(&b);
	}
}

/* Exact bytes for a small epoch (pins the format) and the maximal sizes. */
static void test_codec_pinned(void **state)
{
	struct epoch e, d;
	struct epoch_member m;
	uint8_t buf[256], want[64];
	size_t len, n = 0;

	(void)state;
	epoch_init(&e);
	memset(&m, 0, sizeof(m));
	memset(m.id, 0xab, EPOCH_ID_LEN);
	m.version = 1;
	m.state = EPOCH_IN;
	m.weight = 16;
	m.zone = 0;
	assert_int_equal(epoch_record(&e, m.id, &m), 1);
	assert_int_equal(epoch_encode(&e, buf, sizeof(buf), &len), 0);
	want[n++] = 0x93;
	want[n++] = 0x01;
	want[n++] = 0x81;
	want[n++] = 0xc4;
	want[n++] = 0x10;
	memset(want + n, 0xab, 16);
	n += 16;
	want[n++] = 0x94;
	want[n++] = 0x01;
	want[n++] = 0x01;
	want[n++] = 0x10;
	want[n++] = 0x00;
	want[n++] = 0x81;
	want[n++] = 0xc4;
	want[n++] = 0x10;
	memset(want + n, 0xab, 16);
	n += 16;
	want[n++] = 0x01;
	assert_int_equal(len, n);
	assert_memory_equal(buf, want, n);

	/* largest field values: encoded_max is exact, decode restores them */
	m.version = UINT64_MAX;
	m.state = EPOCH_OUT;
	m.weight = UINT16_MAX;
	m.zone = UINT32_MAX;
	assert_int_equal(epoch_state_apply(&e.state, &m), 1);
	assert_int_equal(epoch_vec_raise(&e.vec, m.id, UINT64_MAX), 1);
	assert_int_equal(epoch_encode(&e, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, epoch_encoded_max(1, 1) - 8);    /* fixmap headers: 4 bytes each less */
	epoch_init(&d);
	assert_int_equal(epoch_decode(&d, buf, len, 0, NULL), 0);
	assert_true(epoch_eq(&d, &e));
	assert_true(epoch_state_get(&d.state, m.id)->version == UINT64_MAX);
	assert_int_equal(epoch_state_get(&d.state, m.id)->zone, UINT32_MAX);
	epoch_fini(&d);
	epoch_fini(&e);
}

struct bad_case {
	const char *name;
	uint8_t b[64];
	size_t len;
	int rc;
};

/* id of 16 bytes 0x01.. as bin8 */
#define ID1 0xc4, 0x10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
#define ID2 0xc4, 0x10, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2

static void test_decode_bad_fields(void **state)
{
	static const struct bad_case cases[] = {
		{ "empty", { 0 }, 0, EPOCH_E_TRUNCATED },
		{ "not array", { 0x81 }, 1, EPOCH_E_ENVELOPE },
		{ "2-array", { 0x92, 0x01, 0x80 }, 3, EPOCH_E_ENVELOPE },
		{ "array32 of 3", { 0xdd, 0, 0, 0, 3, 0x01, 0x80, 0x80 }, 8, 0 },
		{ "format 2", { 0x93, 0x02, 0x80, 0x80 }, 4, EPOCH_E_FORMAT },
		{ "format str", { 0x93, 0xa1, 'x', 0x80, 0x80 }, 5, EPOCH_E_FORMAT },
		{ "format -1", { 0x93, 0xff, 0x80, 0x80 }, 4, EPOCH_E_FORMAT },
		{ "members not map", { 0x93, 0x01, 0x90, 0x80 }, 4, EPOCH_E_ENTRIES },
		{ "vec not map", { 0x93, 0x01, 0x80, 0x01 }, 4, EPOCH_E_ENTRIES },
		{ "ok empty", { 0x93, 0x01, 0x80, 0x80 }, 4, 0 },
		{ "trailing", { 0x93, 0x01, 0x80, 0x80, 0x00 }, 5, EPOCH_E_TRAILING },
		{ "huge map32", { 0x93, 0x01, 0xdf, 0xff, 0xff, 0xff, 0xff }, 7, EPOCH_E_TOO_MANY },
		{ "map16 > input", { 0x93, 0x01, 0xde, 0xff, 0xff, 0x80 }, 6, EPOCH_E_TRUNCATED },
		{ "id str", { 0x93, 0x01, 0x81, 0xa1, 'x', 0x94, 1, 1, 16, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 34, EPOCH_E_ID_TYPE },
		{ "id 15 bytes", { 0x93, 0x01, 0x81, 0xc4, 0x0f, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x94, 1, 1, 16, 0, 0x80 }, 26, EPOCH_E_ID_LEN },
		{ "member 3-array", { 0x93, 0x01, 0x81, ID1, 0x93, 1, 1, 16, 0x80, 0, 0 }, 28, EPOCH_E_MEMBER },
		{ "member map", { 0x93, 0x01, 0x81, ID1, 0x80, 0, 0, 0, 0, 0x80 }, 27, EPOCH_E_MEMBER },
		{ "version neg", { 0x93, 0x01, 0x81, ID1, 0x94, 0xe0, 1, 16, 0, 0x80 }, 27, EPOCH_E_VERSION },
		{ "state 0", { 0x93, 0x01, 0x81, ID1, 0x94, 1, 0, 16, 0, 0x80 }, 27, EPOCH_E_STATE },
		{ "state 3", { 0x93, 0x01, 0x81, ID1, 0x94, 1, 3, 16, 0, 0x80 }, 27, EPOCH_E_STATE },
		{ "weight 65536", { 0x93, 0x01, 0x81, ID1, 0x94, 1, 1, 0xce, 0, 1, 0, 0, 0, 0x80 }, 31, EPOCH_E_WEIGHT },
		{ "weight nil", { 0x93, 0x01, 0x81, ID1, 0x94, 1, 1, 0xc0, 0, 0x80 }, 27, EPOCH_E_WEIGHT },
		{ "zone 2^32", { 0x93, 0x01, 0x81, ID1, 0x94, 1, 1, 16, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 0x80 }, 35, EPOCH_E_ZONE },
		{ "dup id", { 0x93, 0x01, 0x82, ID1, 0x94, 1, 1, 16, 0, ID1, 0x94, 1, 1, 16, 0, 0x80 }, 50, EPOCH_E_ORDER },
		{ "counter 0", { 0x93, 0x01, 0x80, 0x81, ID1, 0x00 }, 23, EPOCH_E_ZERO },
		{ "counter str", { 0x93, 0x01, 0x80, 0x81, ID1, 0xa1, 'x' }, 24, EPOCH_E_COUNTER },
		{ "counters unsorted", { 0x93, 0x01, 0x80, 0x82, ID2, 0x01, ID1, 0x01 }, 42, EPOCH_E_ORDER },
		{ "ok one counter", { 0x93, 0x01, 0x80, 0x81, ID1, 0xcc, 0x05 }, 24, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		struct epoch e;
		size_t off = 12345, len = c->len;
		epoch_init(&e);
		int rc = epoch_decode(&e, c->b, len, 0, &off);
		print_message("      %-18s -> %d (%s) at %zu\n", c->name, rc, epoch_strerror(rc), off);
		assert_int_equal(rc, c->rc);
		assert_true(off <= len);
		if (rc)
			assert_int_equal(e.state.n + e.vec.n, 0);
		epoch_fini(&e);
	}
}

/* Every proper prefix fails as truncated and leaves the target untouched. */
static void test_decode_truncations(void **state)
{
	uint64_t s = 9;
	uint8_t buf[4096], before[4096], after[4096];
	size_t len, lb, la;

	(void)state;
	for (int it = 0; it < 20; it++) {
		struct epoch a, t;
		rand_epoch(&a, &s);
		rand_epoch(&t, &s);
		assert_int_equal(epoch_encode(&a, buf, sizeof(buf), &len), 0);
		assert_int_equal(epoch_encode(&t, before, sizeof(before), &lb), 0);
		for (size_t cut = 0; cut < len; cut++) {
			size_t off;
			assert_int_equal(epoch_decode(&t, buf, cut, 0, &off), EPOCH_E_TRUNCATED);
			assert_true(off <= cut);
		}
		assert_int_equal(epoch_encode(&t, after, sizeof(after), &la), 0);
		assert_int_equal(la, lb);
		assert_memory_equal(before, after, la);
		/* max_entries is enforced */
		if (a.state.n > 1)
			assert_int_equal(epoch_decode(&t, buf, len, a.state.n - 1, NULL), EPOCH_E_TOO_MANY);
		epoch_fini(&a);
		epoch_fini(&t);
	}
}

static void check_decoded_sane(const struct epoch *e)
{
	for (uint32_t i = 0; i < e->state.n; i++) {
		assert_true(e->state.m[i].state == EPOCH_IN || e->state.m[i].state == EPOCH_OUT);
		if (i)
			assert_true(memcmp(e->state.m[i - 1].id, e->state.m[i].id, EPOCH_ID_LEN) < 0);
	}
	for (uint32_t i = 0; i < e->vec.n; i++) {
		assert_true(e->vec.e[i].counter > 0);
		if (i)
			assert_true(memcmp(e->vec.e[i - 1].id, e->vec.e[i].id, EPOCH_ID_LEN) < 0);
	}
}

/* Random bytes and mutated valid encodings: an error code or a valid epoch,
 * never a crash (run under ASan+UBSan too). */
static void test_decode_fuzz(void **state)
{
	uint64_t s = 31337;
	uint8_t buf[4096];
	unsigned ok = 0, errs = 0;

	(void)state;
	for (int it = 0; it < 40000; it++) {
		size_t len;
		if (it % 2 == 0) {
			len = rnd(&s, 300);
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rng_next(&s);
			if (len >= 2 && rnd(&s, 2)) {    /* get past the envelope often */
				buf[0] = 0x93;
				buf[1] = 0x01;
			}
		} else {
			struct epoch a;
			rand_epoch(&a, &s);
			assert_int_equal(epoch_encode(&a, buf, sizeof(buf) - 8, &len), 0);
			epoch_fini(&a);
			for (unsigned k = 1 + rnd(&s, 4); k > 0; k--) {
				unsigned op = rnd(&s, 3), at = len ? rnd(&s, (unsigned)len) : 0;
				if (op == 0 && len)
					buf[at] = (uint8_t)rng_next(&s);
				else if (op == 1 && len) {
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
				} else if (len < sizeof(buf) - 1) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = (uint8_t)rng_next(&s);
					len++;
				}
			}
		}
		struct epoch e;
		size_t off;
		epoch_init(&e);
		int rc = epoch_decode(&e, buf, len, 0, &off);
		if (rc == 0) {
			ok++;
			check_decoded_sane(&e);
			/* what decodes re-encodes and decodes to the same */
			uint8_t b2[4096];
			size_t l2;
			struct epoch e2;
			epoch_init(&e2);
			assert_int_equal(epoch_encode(&e, b2, sizeof(b2), &l2), 0);
			assert_int_equal(epoch_decode(&e2, b2, l2, 0, NULL), 0);
			assert_true(epoch_eq(&e, &e2));
			epoch_fini(&e2);
		} else {
			errs++;
			assert_true(rc <= EPOCH_E_TRUNCATED && rc >= EPOCH_E_ZONE);
			assert_true(off <= len);
			assert_int_equal(e.state.n + e.vec.n, 0);
		}
		epoch_fini(&e);
	}
	print_message("      fuzz: %u decoded, %u rejected\n", ok, errs);
	assert_true(ok > 0 && errs > 0);
	/* NULL buffer */
	struct epoch e;
	epoch_init(&e);
	assert_int_equal(epoch_decode(&e, NULL, 10, 0, NULL), EPOCH_E_TRUNCATED);
	epoch_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vec_basics_and_compare),
		cmocka_unit_test(test_scalar_monotonic),
		cmocka_unit_test(test_state_rules_and_record),
		cmocka_unit_test(test_state_ring),
		cmocka_unit_test(test_merge_laws),
		cmocka_unit_test(test_convergence_any_order),
		cmocka_unit_test(test_digest_covers_vector),
		cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_codec_pinned),
		cmocka_unit_test(test_decode_bad_fields),
		cmocka_unit_test(test_decode_truncations),
		cmocka_unit_test(test_decode_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

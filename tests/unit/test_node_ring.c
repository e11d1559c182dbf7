/*
 * test_node_ring.c: node/ring_agree.c, the pure rules of the ring adapter:
 * SWIM event -> ring event, suspicion is never one, the self-rejoin rule,
 * history pruning; and small multi-node scenarios driven through those
 * rules the way node/gossip_ring.c drives them (record, then merge on
 * pull), checking that the nodes end on one epoch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gossip/epoch.h"
#include "node/ring_agree.h"

static void mk_member(struct swim_member *m, uint8_t idbyte, uint64_t gen, uint8_t state)
{
	memset(m, 0, sizeof(*m));
	memset(m->id, idbyte, SWIM_ID_LEN);
	m->meta.generation = gen;
	m->meta.weight = RING_WEIGHT_DEFAULT;
	m->meta.zone = 7;
	m->state = state;
	m->incarnation = 42;
}

static void test_event_translation(void **st)
{
	struct swim_member m;
	struct epoch_member e;
	(void)st;

	mk_member(&m, 0xAA, 3, SWIM_ALIVE);
	assert_int_equal(node_ring_event(&m, SWIM_EV_JOIN, &e), 1);
	assert_int_equal(e.state, EPOCH_IN);
	assert_int_equal(e.version, 3);            /* the generation, not the incarnation */
	assert_int_equal(e.weight, RING_WEIGHT_DEFAULT);
	assert_int_equal(e.zone, 7);
	assert_memory_equal(e.id, m.id, EPOCH_ID_LEN);

	assert_int_equal(node_ring_event(&m, SWIM_EV_UPDATE, &e), 1);
	assert_int_equal(e.state, EPOCH_IN);

	/* suspicion and its refutation are never ring events */
	m.state = SWIM_SUSPECT;
	assert_int_equal(node_ring_event(&m, SWIM_EV_SUSPECT, &e), 0);
	m.state = SWIM_ALIVE;
	assert_int_equal(node_ring_event(&m, SWIM_EV_ALIVE, &e), 0);

	/* a member first heard of while suspect is still a join */
	m.state = SWIM_SUSPECT;
	assert_int_equal(node_ring_event(&m, SWIM_EV_JOIN, &e), 1);
	assert_int_equal(e.state, EPOCH_IN);

	m.state = SWIM_DEAD;
	assert_int_equal(node_ring_event(&m, SWIM_EV_DEAD, &e), 1);
	assert_int_equal(e.state, EPOCH_OUT);
	assert_int_equal(e.version, 3);
	/* learnt already dead (push-pull): a death, not a join */
	assert_int_equal(node_ring_event(&m, SWIM_EV_JOIN, &e), 1);
	assert_int_equal(e.state, EPOCH_OUT);

	m.state = SWIM_LEFT;
	assert_int_equal(node_ring_event(&m, SWIM_EV_LEFT, &e), 1);
	assert_int_equal(e.state, EPOCH_OUT);

	/* generation 0 is no node's: ignored */
	mk_member(&m, 0xAB, 0, SWIM_ALIVE);
	assert_int_equal(node_ring_event(&m, SWIM_EV_JOIN, &e), 0);
	/* unknown event codes are ignored */
	mk_member(&m, 0xAB, 1, SWIM_ALIVE);
	assert_int_equal(node_ring_event(&m, (enum swim_event)99, &e), 0);
}

/* feed a SWIM event to node `self`'s epoch as the adapter does */
static int feed(struct epoch *ep, const uint8_t *self, const struct swim_member *m, enum swim_event ev)
{
	struct epoch_member e;

	if (!node_ring_event(m, ev, &e))
		return 0;
	return epoch_record(ep, self, &e);
}

static void test_flaps_change_nothing(void **st)
{
	struct epoch ep;
	struct swim_member a, b;
	uint8_t self[EPOCH_ID_LEN], d0[EPOCH_DIGEST_LEN], d1[EPOCH_DIGEST_LEN];
	(void)st;

	memset(self, 1, sizeof(self));
	epoch_init(&ep);
	mk_member(&a, 2, 1, SWIM_ALIVE);
	mk_member(&b, 3, 1, SWIM_ALIVE);
	assert_int_equal(feed(&ep, self, &a, SWIM_EV_JOIN), 1);
	assert_int_equal(feed(&ep, self, &b, SWIM_EV_JOIN), 1);
	epoch_digest(&ep, d0);
	uint64_t s0 = epoch_scalar(&ep);
	for (int i = 0; i < 50; i++) {
		a.state = SWIM_SUSPECT;
		a.incarnation++;
		assert_int_equal(feed(&ep, self, &a, SWIM_EV_SUSPECT), 0);
		a.state = SWIM_ALIVE;
		a.incarnation++;
		assert_int_equal(feed(&ep, self, &a, SWIM_EV_ALIVE), 0);
		/* a refutation may arrive as an update at the same generation */
		assert_int_equal(feed(&ep, self, &a, SWIM_EV_UPDATE), 0);
		/* duplicate join reports are no events either */
		assert_int_equal(feed(&ep, self, &b, SWIM_EV_JOIN), 0);
	}
	epoch_digest(&ep, d1);
	assert_memory_equal(d0, d1, EPOCH_DIGEST_LEN);
	assert_int_equal(epoch_scalar(&ep), s0);
	epoch_fini(&ep);
}

static void test_must_rejoin(void **st)
{
	struct epoch ep;
	struct epoch_member e;
	uint8_t self[EPOCH_ID_LEN], other[EPOCH_ID_LEN];
	uint64_t next = 0;
	(void)st;

	memset(self, 5, sizeof(self));
	memset(other, 6, sizeof(other));
	epoch_init(&ep);
	/* unknown to the epoch: nothing to do */
	assert_int_equal(node_ring_must_rejoin(&ep, self, 4, 0, &next), 0);
	node_ring_self_event(self, 4, EPOCH_IN, 16, 0, &e);
	assert_int_equal(epoch_record(&ep, self, &e), 1);
	assert_int_equal(node_ring_must_rejoin(&ep, self, 4, 0, &next), 0);
	/* declared dead at our generation by another node */
	node_ring_self_event(self, 4, EPOCH_OUT, 16, 0, &e);
	assert_int_equal(epoch_record(&ep, other, &e), 1);
	assert_int_equal(node_ring_must_rejoin(&ep, self, 4, 0, &next), 1);
	assert_int_equal(next, 5);
	/* leaving: never */
	assert_int_equal(node_ring_must_rejoin(&ep, self, 4, 1, &next), 0);
	/* an OUT of an older life does not matter once we are at 5 ... */
	assert_int_equal(node_ring_must_rejoin(&ep, self, 5, 0, &next), 0);
	/* ... and our IN at 5 beats it */
	node_ring_self_event(self, 5, EPOCH_IN, 16, 0, &e);
	assert_int_equal(epoch_record(&ep, self, &e), 1);
	assert_int_equal(node_ring_must_rejoin(&ep, self, 5, 0, &next), 0);
	/* an OUT of a later life (lost state file): rejoin above it */
	node_ring_self_event(self, 9, EPOCH_OUT, 16, 0, &e);
	assert_int_equal(epoch_record(&ep, other, &e), 1);
	assert_int_equal(node_ring_must_rejoin(&ep, self, 5, 0, &next), 1);
	assert_int_equal(next, 10);
	epoch_fini(&ep);
}

static void test_keep_from(void **st)
{
	uint64_t s[20];
	(void)st;

	for (int i = 0; i < 20; i++)
		s[i] = 100 + (uint64_t)i;
	assert_int_equal(node_ring_keep_from(s, 0, 16), 0);
	assert_int_equal(node_ring_keep_from(s, 16, 16), 0);
	assert_int_equal(node_ring_keep_from(s, 17, 16), 101);
	assert_int_equal(node_ring_keep_from(s, 20, 16), 104);
	assert_int_equal(node_ring_keep_from(s, 20, 0), 0);
	assert_int_equal(node_ring_keep_from(s, 20, 1), 119);
}

/*
 * Three nodes: each records its own join and the others' joins (in
 * different orders), two of them confirm the third's death, the third is
 * resumed, pulls, finds itself OUT and rejoins at g+1.  After pull/merge
 * rounds, every node holds the same epoch with the expected ring.
 */
#define NN 3
static void sync_all(struct epoch *ep)
{
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < NN; i++)
			for (int j = 0; j < NN; j++)
				if (i != j)
					assert_true(epoch_merge(&ep[i], &ep[j]) >= 0);
}

static void assert_all_equal(struct epoch *ep)
{
	uint8_t d0[EPOCH_DIGEST_LEN], d[EPOCH_DIGEST_LEN];

	epoch_digest(&ep[0], d0);
	for (int i = 1; i < NN; i++) {
		epoch_digest(&ep[i], d);
		assert_memory_equal(d0, d, EPOCH_DIGEST_LEN);
	}
}

static void test_scenario_death_and_rejoin(void **st)
{
	struct epoch ep[NN];
	struct swim_member m[NN];
	struct epoch_member e;
	uint64_t gen[NN] = { 1, 1, 1 }, next;
	(void)st;

	for (int i = 0; i < NN; i++) {
		epoch_init(&ep[i]);
		mk_member(&m[i], (uint8_t)(0x10 + i), 1, SWIM_ALIVE);
		node_ring_self_event(m[i].id, 1, EPOCH_IN, m[i].meta.weight, m[i].meta.zone, &e);
		assert_int_equal(epoch_record(&ep[i], m[i].id, &e), 1);
	}
	/* joins seen in different orders */
	for (int k = 0; k < NN; k++)
		for (int i = 0; i < NN; i++) {
			int j = (i + k + 1) % NN;
			if (j != i)
				feed(&ep[i], m[i].id, &m[j], SWIM_EV_JOIN);
		}
	sync_all(ep);
	assert_all_equal(ep);
	assert_int_equal(epoch_state_placed(&ep[0].state, NULL, 0), 3);

	/* node 2 paused: 0 and 1 both confirm its death */
	m[2].state = SWIM_DEAD;
	assert_int_equal(feed(&ep[0], m[0].id, &m[2], SWIM_EV_DEAD), 1);
	assert_int_equal(feed(&ep[1], m[1].id, &m[2], SWIM_EV_DEAD), 1);
	assert_true(epoch_merge(&ep[0], &ep[1]) >= 0);
	assert_true(epoch_merge(&ep[1], &ep[0]) >= 0);
	assert_int_equal(epoch_state_placed(&ep[0].state, NULL, 0), 2);
	/* node 2 resumes: the others see it alive again at generation 1 (no
	 * ring change: OUT wins at the same generation) */
	m[2].state = SWIM_ALIVE;
	assert_int_equal(feed(&ep[0], m[0].id, &m[2], SWIM_EV_JOIN), 0);
	/* node 2 pulls, finds itself OUT, rejoins at 2 */
	assert_true(epoch_merge(&ep[2], &ep[0]) >= 0);
	assert_int_equal(node_ring_must_rejoin(&ep[2], m[2].id, gen[2], 0, &next), 1);
	assert_int_equal(next, 2);
	gen[2] = next;
	node_ring_self_event(m[2].id, gen[2], EPOCH_IN, m[2].meta.weight, m[2].meta.zone, &e);
	assert_int_equal(epoch_record(&ep[2], m[2].id, &e), 1);
	assert_int_equal(node_ring_must_rejoin(&ep[2], m[2].id, gen[2], 0, &next), 0);
	/* the others see the new generation as an update */
	m[2].meta.generation = 2;
	feed(&ep[1], m[1].id, &m[2], SWIM_EV_UPDATE);
	sync_all(ep);
	assert_all_equal(ep);
	assert_int_equal(epoch_state_placed(&ep[1].state, NULL, 0), 3);
	const struct epoch_member *me = epoch_state_get(&ep[1].state, m[2].id);
	assert_non_null(me);
	assert_int_equal(me->state, EPOCH_IN);
	assert_int_equal(me->version, 2);
	for (int i = 0; i < NN; i++)
		epoch_fini(&ep[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_translation),
		cmocka_unit_test(test_flaps_change_nothing),
		cmocka_unit_test(test_must_rejoin),
		cmocka_unit_test(test_keep_from),
		cmocka_unit_test(test_scenario_death_and_rejoin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

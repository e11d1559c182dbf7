/* test_node_peer.c: the peer prefix codec (node/peer.h) and routing views
 * (node/view.h): publish, references, history depth, wait, locate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "node/peer.h"
#include "node/view.h"

static void test_prefix_roundtrip(void **state)
{
	(void)state;
	struct peer_prefix p = { .version = 0x0102030405060708ull, .arg = 4194304 }, q;
	uint8_t b[PEER_PREFIX_LEN];

	for (int i = 0; i < RING_DIGEST_LEN; i++)
		p.digest[i] = (uint8_t)(i * 7 + 1);
	peer_prefix_encode(b, &p);
	assert_int_equal(b[16], 0x08);            /* little-endian version */
	assert_memory_equal(b + 28, "SMP1", 4);
	assert_int_equal(peer_prefix_decode(&q, b, sizeof(b)), 0);
	assert_memory_equal(q.digest, p.digest, RING_DIGEST_LEN);
	assert_true(q.version == p.version);
	assert_int_equal(q.arg, p.arg);
	/* short or with a wrong magic: refused */
	assert_int_equal(peer_prefix_decode(&q, b, sizeof(b) - 1), -EINVAL);
	b[31] ^= 1;
	assert_int_equal(peer_prefix_decode(&q, b, sizeof(b)), -EINVAL);
	assert_string_equal(peer_opcode_name(SD_OP_PEER_FORWARD), "PEER_FORWARD");
	assert_null(peer_opcode_name(0x9f));
	assert_true(peer_op_checks_ring(SD_OP_PEER_WRITE_OBJ));
	assert_false(peer_op_checks_ring(SD_OP_PEER_VDI_LIST));
}

static void members(struct ring_member *rm, struct node_view_member *vm, int n, int base)
{
	for (int i = 0; i < n; i++) {
		memset(&rm[i], 0, sizeof(rm[i]));
		rm[i].id[0] = (uint8_t)(base + i);
		rm[i].id[15] = 0x5a;
		rm[i].weight = RING_WEIGHT_DEFAULT;
	}
	for (int i = 0; i < n; i++) {
		memset(&vm[i], 0, sizeof(vm[i]));
		vm[i].data.family = 4;
		vm[i].data.port = (uint16_t)(7000 + i);
	}
}

/* a shared ring; the caller drops its reference after publishing */
static struct node_shared_ring *mkring(const struct ring_member *rm, int n)
{
	struct ring *r;
	assert_int_equal(ring_new(&r, rm, (size_t)n, 0), 0);
	struct node_shared_ring *sr = node_shared_ring_new(r);
	assert_non_null(sr);
	return sr;
}

static int publish(struct node_views *vs, const struct ring_member *rm, int n, const uint8_t *digest,
		   uint64_t scalar, const struct node_view_member *vm, const uint8_t *self)
{
	struct node_shared_ring *sr = mkring(rm, n);
	int rc = node_views_publish(vs, sr, digest, scalar, vm, self);
	node_shared_ring_put(sr);
	return rc;
}

static void test_views(void **state)
{
	(void)state;
	struct node_views vs;
	struct ring_member rm[5];
	struct node_view_member vm[5];
	uint8_t d1[RING_DIGEST_LEN] = { 1 }, d2[RING_DIGEST_LEN] = { 2 }, d3[RING_DIGEST_LEN] = { 3 };

	assert_int_equal(node_views_init(&vs), 0);
	assert_null(node_views_get(&vs));
	assert_true(node_view_alone(NULL));

	/* alone: one member, ourselves */
	members(rm, vm, 1, 10);
	assert_int_equal(publish(&vs, rm, 1, d1, 1, vm, rm[0].id), 0);
	struct node_view *v1 = node_views_get(&vs);
	assert_non_null(v1);
	assert_true(node_view_alone(v1));
	assert_int_equal(v1->self, 0);
	assert_null(v1->prev);

	/* three members, we are the middle id; the leader is index 0 (lowest id) */
	members(rm, vm, 3, 10);
	assert_int_equal(publish(&vs, rm, 3, d2, 2, vm, rm[1].id), 0);
	struct node_view *v2 = node_views_get(&vs);
	assert_false(node_view_alone(v2));
	assert_int_equal(v2->nr, 3);
	assert_int_equal(v2->self, 1);
	assert_int_equal(v2->leader, 0);
	assert_ptr_equal(v2->prev, v1);
	assert_memory_equal(v2->digest, d2, RING_DIGEST_LEN);

	uint32_t idx[RING_MAX_COPIES];
	for (uint64_t oid = 1; oid < 200; oid++) {
		/* copies 0 means 3; all 3 nodes, distinct */
		assert_int_equal(node_view_locate(v2, oid, 0, idx), 3);
		assert_true(idx[0] != idx[1] && idx[1] != idx[2] && idx[0] != idx[2]);
		assert_int_equal(node_view_locate(v2, oid, 1, idx), 1);
		/* the same ring gives the same answer */
		uint32_t again[RING_MAX_COPIES];
		assert_int_equal(node_view_locate(v2, oid, 2, again), 2);
		assert_int_equal(again[0], idx[0]);
	}

	/* a third view keeps one level of history only; v1 lives while we hold it */
	members(rm, vm, 5, 10);
	assert_int_equal(publish(&vs, rm, 5, d3, 3, vm, (uint8_t[16]){ 0x77 }), 0);
	struct node_view *v3 = node_views_get(&vs);
	assert_int_equal(v3->self, -1);             /* we are not placed */
	assert_ptr_equal(v3->prev, v2);
	assert_null(v2->prev);
	assert_int_equal(v1->self, 0);              /* still readable: our reference */

	/* wait: returns at once if the view already differs, else after the timeout */
	struct node_view *w = node_views_wait(&vs, v2, 1000);
	assert_ptr_equal(w, v3);
	node_view_put(w);
	w = node_views_wait(&vs, v3, 50);
	assert_ptr_equal(w, v3);
	node_view_put(w);

	node_view_put(v1);
	node_view_put(v2);
	node_view_put(v3);
	node_views_fini(&vs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_roundtrip),
		cmocka_unit_test(test_views),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

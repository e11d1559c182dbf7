/* test_node_dispatch.c: node_dispatch_check(), the header rules of spec
 * §1.2, §2.4, §2.6, §3.1 and §10, without a store or sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "node/dispatch.h"
#include "node/dispatch_objects.h"
#include "node/peer.h"

static struct node_ctx ctx = { .max_request = 1u << 25, .max_peer_request = (1u << 25) + 65536 };

static int check(uint8_t ver, uint8_t op, uint16_t flags, uint32_t len, enum node_bad_reason *why)
{
	struct sd_req h;
	memset(&h, 0, sizeof(h));
	h.proto_ver = ver;
	h.opcode = op;
	h.flags = flags;
	h.data_length = len;
	*why = NODE_BAD_COUNT;
	return node_dispatch_check(&ctx, &h, why);
}

static void test_qemu_requests_pass(void **state)
{
	(void)state;
	enum node_bad_reason why;
	/* every request shape QEMU 5.2 sends (§2.4, §3.2 flag table) */
	assert_int_equal(check(0, SD_OP_CREATE_AND_WRITE_OBJ, 0x05, 4 << 20, &why), 0);
	assert_int_equal(check(0, SD_OP_CREATE_AND_WRITE_OBJ, 0x07, 512, &why), 0);
	assert_int_equal(check(0, SD_OP_WRITE_OBJ, 0x09, 0, &why), 0);       /* zero-length write */
	assert_int_equal(check(0, SD_OP_READ_OBJ, 0x04, SD_INODE_SIZE, &why), 0);
	assert_int_equal(check(0, SD_OP_READ_OBJ, 0x08, 4 << 20, &why), 0);
	assert_int_equal(check(0, SD_OP_FLUSH_VDI, 0x04, 0, &why), 0);
	assert_int_equal(check(0, SD_OP_NEW_VDI, 0x01, 256, &why), 0);
	assert_int_equal(check(1, SD_OP_LOCK_VDI, 0x01, 512, &why), 0);
	assert_int_equal(check(1, SD_OP_GET_VDI_INFO, 0x01, 512, &why), 0);
	assert_int_equal(check(0, SD_OP_RELEASE_VDI, 0x01, 5, &why), 0);
	assert_int_equal(check(0, SD_OP_READ_VDIS, 0, SD_BITMAP_SIZE, &why), 0);
	assert_int_equal(check(0, SD_OP_DEL_VDI, 0x01, 256, &why), 0);
	assert_int_equal(check(0, SD_OP_DEL_VDI, 0x01, 512, &why), 0);
	assert_int_equal(check(1, SD_OP_GET_CLUSTER_DEFAULT, 0, 0, &why), 0);
	assert_int_equal(check(2, SD_OP_SM_STATUS, 0, 65536, &why), 0);
	assert_int_equal(check(0, SD_OP_SM_LOCKS, 0, 4u << 20, &why), 0);
}

static void test_sm_locks(void **state)
{
	(void)state;
	enum node_bad_reason why;
	/* a read-only request: a payload (WRITE flag) is refused and counted */
	assert_int_equal(check(0, SD_OP_SM_LOCKS, SD_FLAG_CMD_WRITE, 16, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_FLAGS);
	assert_int_equal(check(0, SD_OP_SM_LOCKS, SD_FLAG_CMD_WRITE, 0, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_FLAGS);
	/* a reply buffer over max_request: answered, the stream stays usable */
	assert_int_equal(check(0, SD_OP_SM_LOCKS, 0, (1u << 25) + 1, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_OVERSIZE_READ);
	assert_int_equal(check(0, SD_OP_SM_LOCKS, 0, 0xffffffffu, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(check(0, SD_OP_SM_LOCKS, 0, 1u << 25, &why), 0);
	/* an oversize payload loses the framing, as for any opcode */
	assert_int_equal(check(0, SD_OP_SM_LOCKS, SD_FLAG_CMD_WRITE, (1u << 25) + 1, &why),
			 NODE_CHECK_CLOSE);
	assert_int_equal(why, NODE_BAD_OVERSIZE_WRITE);
	/* daemon opcodes follow §2.6: a newer proto_ver is refused */
	assert_int_equal(check(3, SD_OP_SM_LOCKS, 0, 4096, &why), SD_RES_VER_MISMATCH);
	assert_int_equal(why, NODE_BAD_VERSION);
}

/* SM_OBJECTS: read-only, a reply buffer from SM_OBJECTS_MIN_REPLY to
 * max_request; SM_RECOVER: no payload either way */
static void test_sm_objects_recover(void **state)
{
	(void)state;
	enum node_bad_reason why;
	assert_int_equal(check(0, SD_OP_SM_OBJECTS, 0, SM_OBJECTS_MIN_REPLY, &why), 0);
	assert_int_equal(check(2, SD_OP_SM_OBJECTS, 0, 1u << 25, &why), 0);
	assert_int_equal(check(0, SD_OP_SM_OBJECTS, 0, SM_OBJECTS_MIN_REPLY - 1, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_LENGTH);
	assert_int_equal(check(0, SD_OP_SM_OBJECTS, 0, 0, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_LENGTH);
	assert_int_equal(check(0, SD_OP_SM_OBJECTS, 0, (1u << 25) + 1, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_OVERSIZE_READ);
	assert_int_equal(check(0, SD_OP_SM_OBJECTS, SD_FLAG_CMD_WRITE, 8192, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_FLAGS);
	assert_int_equal(check(0, SD_OP_SM_OBJECTS, SD_FLAG_CMD_WRITE, (1u << 25) + 1, &why),
			 NODE_CHECK_CLOSE);
	assert_int_equal(check(3, SD_OP_SM_OBJECTS, 0, 8192, &why), SD_RES_VER_MISMATCH);
	assert_int_equal(why, NODE_BAD_VERSION);

	assert_int_equal(check(0, SD_OP_SM_RECOVER, 0, 0, &why), 0);
	assert_int_equal(check(2, SD_OP_SM_RECOVER, 0, 0, &why), 0);
	assert_int_equal(check(0, SD_OP_SM_RECOVER, 0, 4096, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_LENGTH);
	assert_int_equal(check(0, SD_OP_SM_RECOVER, SD_FLAG_CMD_WRITE, 0, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_FLAGS);
	assert_int_equal(check(0, SD_OP_SM_RECOVER, SD_FLAG_CMD_WRITE, 16, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_FLAGS);
	assert_int_equal(check(3, SD_OP_SM_RECOVER, 0, 0, &why), SD_RES_VER_MISMATCH);
	assert_int_equal(why, NODE_BAD_VERSION);
	/* the neighbour opcode is still not served */
	assert_int_equal(check(0, SD_OP_SM_RECOVER + 1, 0, 0, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_OPCODE);
}

static void test_version(void **state)
{
	(void)state;
	enum node_bad_reason why;
	assert_int_equal(check(3, SD_OP_GET_CLUSTER_DEFAULT, 0, 0, &why), SD_RES_VER_MISMATCH);
	assert_int_equal(why, NODE_BAD_VERSION);
	assert_int_equal(check(0xff, SD_OP_READ_OBJ, 0, 0, &why), SD_RES_VER_MISMATCH);
	/* daemon opcodes (0x0a era) are simply not served */
	assert_int_equal(check(0x0a, 0xa4, 0, 0, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_OPCODE);
}

/* peer opcodes (node/peer.h): WRITE flag and a prefix always; their own
 * size bound; an old daemon's proto_ver in this range is not ours (§10) */
static void test_peer(void **state)
{
	(void)state;
	enum node_bad_reason why;
	for (uint8_t op = SD_OP_PEER_FIRST; op <= SD_OP_PEER_LAST; op++) {
		assert_int_equal(check(2, op, SD_FLAG_CMD_WRITE, PEER_PREFIX_LEN, &why), 0);
		assert_int_equal(check(2, op, SD_FLAG_CMD_WRITE, PEER_PREFIX_LEN + (1u << 25), &why), 0);
		assert_int_equal(check(2, op, SD_FLAG_CMD_WRITE, PEER_PREFIX_LEN - 1, &why), SD_RES_INVALID_PARMS);
		assert_int_equal(why, NODE_BAD_LENGTH);
		assert_int_equal(check(2, op, 0, 4096, &why), SD_RES_INVALID_PARMS);
		assert_int_equal(why, NODE_BAD_FLAGS);
		assert_int_equal(check(2, op, SD_FLAG_CMD_WRITE, (1u << 25) + 65537, &why), NODE_CHECK_CLOSE);
		assert_int_equal(why, NODE_BAD_OVERSIZE_WRITE);
		assert_int_equal(check(0x0a, op, SD_FLAG_CMD_WRITE, 64, &why), SD_RES_INVALID_PARMS);
		assert_int_equal(why, NODE_BAD_OPCODE);
	}
	/* the neighbours of the range are not served */
	assert_int_equal(check(2, SD_OP_PEER_FIRST - 1, SD_FLAG_CMD_WRITE, 64, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_OPCODE);
	assert_int_equal(check(2, SD_OP_PEER_LAST + 1, SD_FLAG_CMD_WRITE, 64, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_OPCODE);
}

static void test_opcodes(void **state)
{
	(void)state;
	enum node_bad_reason why;
	static const uint8_t unknown[] = { 0x00, SD_OP_REMOVE_OBJ, SD_OP_DISCARD_OBJ, 0x06, 0x10,
					   0x19, 0x7f, 0x80, 0xdf, 0xef, 0xff };
	for (size_t i = 0; i < sizeof(unknown); i++) {
		assert_int_equal(check(0, unknown[i], 0, 0, &why), SD_RES_INVALID_PARMS);
		assert_int_equal(why, NODE_BAD_OPCODE);
	}
}

static void test_lengths_and_flags(void **state)
{
	(void)state;
	enum node_bad_reason why;
	assert_int_equal(check(0, SD_OP_NEW_VDI, 1, 255, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_LENGTH);
	assert_int_equal(check(0, SD_OP_NEW_VDI, 1, 512, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(check(0, SD_OP_NEW_VDI, 0, 256, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_FLAGS);
	assert_int_equal(check(0, SD_OP_GET_VDI_INFO, 1, 300, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(check(0, SD_OP_LOCK_VDI, 1, 0, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(check(0, SD_OP_DEL_VDI, 1, 511, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(check(0, SD_OP_READ_VDIS, 0, 4096, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_LENGTH);
	assert_int_equal(check(0, SD_OP_READ_OBJ, 1, 4096, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_FLAGS);
	assert_int_equal(check(0, SD_OP_WRITE_OBJ, 0x04, 4096, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_FLAGS);
	assert_int_equal(check(0, SD_OP_RELEASE_VDI, 1, 513, &why), SD_RES_INVALID_PARMS);
}

static void test_oversize(void **state)
{
	(void)state;
	enum node_bad_reason why;
	/* a write payload above the limit: framing cannot be kept */
	assert_int_equal(check(0, SD_OP_WRITE_OBJ, 1, (1u << 25) + 1, &why), NODE_CHECK_CLOSE);
	assert_int_equal(why, NODE_BAD_OVERSIZE_WRITE);
	/* even for opcodes that would be refused anyway */
	assert_int_equal(check(0, 0x99, 1, 0xffffffffu, &why), NODE_CHECK_CLOSE);
	assert_int_equal(check(0, SD_OP_WRITE_OBJ, 1, 1u << 25, &why), 0);
	/* a read above the limit: an answer, the stream stays usable */
	assert_int_equal(check(0, SD_OP_READ_OBJ, 0, (1u << 25) + 1, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_OVERSIZE_READ);
	assert_int_equal(check(0, SD_OP_SM_STATUS, 0, 0xffffffffu, &why), SD_RES_INVALID_PARMS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qemu_requests_pass),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_opcodes),
		cmocka_unit_test(test_lengths_and_flags),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_sm_locks),
		cmocka_unit_test(test_sm_objects_recover),
		cmocka_unit_test(test_peer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

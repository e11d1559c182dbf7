/*
 * test_inode.c: the inode header layout (spec §4.3), header synthesis from
 * a catalog record, and the write rules of §6.2 (store/inode.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/store_int.h"

/* Offsets and sizes straight from the §4.3 table. */
static void test_layout(void **state)
{
	(void)state;
	assert_int_equal(SD_INODE_OFF_NAME, 0);
	assert_int_equal(SD_INODE_OFF_TAG, 256);
	assert_int_equal(SD_INODE_OFF_CREATE_TIME, 512);
	assert_int_equal(SD_INODE_OFF_SNAP_CTIME, 520);
	assert_int_equal(SD_INODE_OFF_VM_CLOCK_NSEC, 528);
	assert_int_equal(SD_INODE_OFF_VDI_SIZE, 536);
	assert_int_equal(SD_INODE_OFF_VM_STATE_SIZE, 544);
	assert_int_equal(SD_INODE_OFF_COPY_POLICY, 552);
	assert_int_equal(SD_INODE_OFF_STORE_POLICY, 553);
	assert_int_equal(SD_INODE_OFF_NR_COPIES, 554);
	assert_int_equal(SD_INODE_OFF_BLOCK_SHIFT, 555);
	assert_int_equal(SD_INODE_OFF_SNAP_ID, 556);
	assert_int_equal(SD_INODE_OFF_VDI_ID, 560);
	assert_int_equal(SD_INODE_OFF_PARENT_VDI_ID, 564);
	assert_int_equal(SD_INODE_OFF_CHILDREN, 568);
	assert_int_equal(SD_INODE_HEADER_SIZE, 4664);
	assert_int_equal(SD_INODE_HEADER_SIZE, 0x1238);
	assert_int_equal(SD_INODE_INDEX_OFF + 4 * 7, 4664 + 28);
	assert_int_equal(SD_INODE_SIZE, 4198968);
	assert_int_equal(SD_INODE_SIZE, 0x401238);
	assert_true(inode_max_size(22) == UINT64_C(4) << 40);   /* 4 TiB */
	assert_true(inode_max_size(20) == UINT64_C(1) << 40);
}

static void sample(struct meta_vdi *v)
{
	memset(v, 0, sizeof(*v));
	v->vid = 0x7c2b25;
	strcpy((char *)v->name, "test");
	strcpy((char *)v->tag, "snap-a");
	v->create_time = sd_time_encode(1700000000, 123456789);
	v->snap_ctime = sd_time_encode(1700000100, 5);
	v->vm_clock_nsec = 0x1122334455667788ULL;
	v->vdi_size = UINT64_C(1) << 30;
	v->vm_state_size = 0x99;
	v->copy_policy = 0;
	v->store_policy = 0;
	v->nr_copies = 3;
	v->block_size_shift = 22;
	v->snap_id = 7;
	v->parent_vid = 0x7c2b24;
}

static void test_build(void **state)
{
	struct meta_vdi v;
	uint8_t h[SD_INODE_HEADER_SIZE], zero[SD_INODE_CHILDREN_LEN] = {0};
	(void)state;
	sample(&v);
	memset(h, 0xAA, sizeof(h));
	inode_header_build(&v, h);
	assert_string_equal((char *)h, "test");
	assert_int_equal(h[4], 0);
	assert_int_equal(h[255], 0);
	assert_string_equal((char *)h + 256, "snap-a");
	/* little-endian bytes at the spec's offsets */
	assert_int_equal(h[528], 0x88);
	assert_int_equal(h[535], 0x11);
	assert_true(sd_get64(h + 512) == v.create_time);
	assert_true(sd_get64(h + 520) == v.snap_ctime);
	assert_true(sd_get64(h + 536) == UINT64_C(1) << 30);
	assert_true(sd_get64(h + 544) == 0x99);
	assert_int_equal(h[552], 0);
	assert_int_equal(h[553], 0);
	assert_int_equal(h[554], 3);
	assert_int_equal(h[555], 22);
	assert_int_equal(sd_get32(h + 556), 7);
	assert_int_equal(h[560], 0x25);
	assert_int_equal(h[561], 0x2b);
	assert_int_equal(h[562], 0x7c);
	assert_int_equal(h[563], 0);
	assert_int_equal(sd_get32(h + 564), 0x7c2b24);
	assert_memory_equal(h + 568, zero, sizeof(zero));

	/* a deleted VDI: name, tag and size cleared, vid still its own */
	v.deleted = 1;
	inode_header_build(&v, h);
	assert_int_equal(h[0], 0);
	assert_int_equal(h[256], 0);
	assert_true(sd_get64(h + 536) == 0);
	assert_int_equal(sd_get32(h + 560), 0x7c2b25);
}

static int apply(const struct meta_vdi *cur, uint64_t off, const uint8_t *buf, size_t len,
		 struct meta_vdi *out, int *changed)
{
	return inode_header_apply(cur, off, buf, len, out, changed);
}

static void test_apply_allowed(void **state)
{
	struct meta_vdi v, out;
	uint8_t h[SD_INODE_HEADER_SIZE];
	int changed;
	(void)state;
	sample(&v);
	v.snap_ctime = 0;

	/* unchanged header written back (what QEMU does most often) */
	inode_header_build(&v, h);
	assert_int_equal(apply(&v, 0, h, sizeof(h), &out, &changed), SD_RES_SUCCESS);
	assert_int_equal(changed, 0);

	/* snapshot create: tag (all 256 bytes, no NUL), vm fields */
	memset(h + SD_INODE_OFF_TAG, 'x', SD_TAG_LEN);
	sd_put64(h + SD_INODE_OFF_VM_CLOCK_NSEC, 42);
	sd_put64(h + SD_INODE_OFF_VM_STATE_SIZE, 4096);
	assert_int_equal(apply(&v, 0, h, sizeof(h), &out, &changed), SD_RES_SUCCESS);
	assert_int_equal(changed, 1);
	assert_int_equal(out.tag[0], 'x');
	assert_int_equal(out.tag[255], 'x');
	assert_true(out.vm_clock_nsec == 42);
	assert_true(out.vm_state_size == 4096);
	assert_memory_equal(out.name, v.name, SD_NAME_LEN);

	/* resize: grow up to the limit */
	inode_header_build(&v, h);
	sd_put64(h + SD_INODE_OFF_VDI_SIZE, inode_max_size(22));
	assert_int_equal(apply(&v, 0, h, sizeof(h), &out, &changed), SD_RES_SUCCESS);
	assert_true(out.vdi_size == inode_max_size(22));

	/* a partial write of just the size field */
	uint8_t sz[8];
	sd_put64(sz, v.vdi_size * 2);
	assert_int_equal(apply(&v, SD_INODE_OFF_VDI_SIZE, sz, 8, &out, &changed), SD_RES_SUCCESS);
	assert_true(out.vdi_size == v.vdi_size * 2);
	assert_int_equal(changed, 1);
}

static void test_apply_refused(void **state)
{
	struct meta_vdi v, out;
	uint8_t h[SD_INODE_HEADER_SIZE];
	int changed;
	(void)state;
	sample(&v);

	static const struct { size_t off; uint8_t val; } bad[] = {
		{ SD_INODE_OFF_NAME, 'X' }, { SD_INODE_OFF_NAME + 10, 'y' },
		{ SD_INODE_OFF_CREATE_TIME, 1 }, { SD_INODE_OFF_SNAP_CTIME + 3, 1 },
		{ SD_INODE_OFF_COPY_POLICY, 0x21 }, { SD_INODE_OFF_STORE_POLICY, 1 },
		{ SD_INODE_OFF_NR_COPIES, 1 }, { SD_INODE_OFF_BLOCK_SHIFT, 23 },
		{ SD_INODE_OFF_SNAP_ID, 9 }, { SD_INODE_OFF_VDI_ID, 0x26 },
		{ SD_INODE_OFF_PARENT_VDI_ID, 1 }, { SD_INODE_OFF_CHILDREN, 1 },
		{ SD_INODE_HEADER_SIZE - 1, 1 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		inode_header_build(&v, h);
		h[bad[i].off] = bad[i].val;
		assert_int_equal(apply(&v, 0, h, sizeof(h), &out, &changed), SD_RES_INVALID_PARMS);
	}
	/* shrink, and above the §4.2 limit */
	inode_header_build(&v, h);
	sd_put64(h + SD_INODE_OFF_VDI_SIZE, v.vdi_size - 512);
	assert_int_equal(apply(&v, 0, h, sizeof(h), &out, &changed), SD_RES_INVALID_PARMS);
	sd_put64(h + SD_INODE_OFF_VDI_SIZE, inode_max_size(22) + 1);
	assert_int_equal(apply(&v, 0, h, sizeof(h), &out, &changed), SD_RES_INVALID_PARMS);
	/* a write at an offset, changing the vid byte */
	uint8_t b = 0x99;
	assert_int_equal(apply(&v, SD_INODE_OFF_VDI_ID + 2, &b, 1, &out, &changed), SD_RES_INVALID_PARMS);
}

static void test_index_rules(void **state)
{
	const uint32_t vid = 0x7c2b26;
	uint8_t cur[16], buf[16];
	(void)state;
	/* four slots: 0, own, ancestor, ancestor */
	sd_put32(cur, 0);
	sd_put32(cur + 4, vid);
	sd_put32(cur + 8, 0x7c2b25);
	sd_put32(cur + 12, 0x7c2b25);

	/* QEMU rewrites [mn, mx] with own, current, 0 */
	sd_put32(buf, vid);
	sd_put32(buf + 4, vid);
	sd_put32(buf + 8, 0x7c2b25);
	sd_put32(buf + 12, 0);
	assert_int_equal(inode_index_check(vid, cur, 0, 16, 0, buf, 16), SD_RES_SUCCESS);
	/* a foreign vid in a slot that held 0 */
	sd_put32(buf, 0x123456);
	assert_int_equal(inode_index_check(vid, cur, 0, 16, 0, buf, 16), SD_RES_INVALID_PARMS);
	/* ancestor vid moved to another slot */
	sd_put32(buf, 0x7c2b25);
	assert_int_equal(inode_index_check(vid, cur, 0, 16, 0, buf, 16), SD_RES_INVALID_PARMS);
	/* discard of one slot: 4 zero bytes */
	uint8_t z[4] = {0};
	assert_int_equal(inode_index_check(vid, cur + 8, 8, 12, 8, z, 4), SD_RES_SUCCESS);
	/* unaligned 2-byte write that leaves slot 2 = 0x7c0000|... mixed: refused */
	uint8_t two[2] = { 0x00, 0x00 };
	assert_int_equal(inode_index_check(vid, cur + 8, 8, 12, 9, two, 2), SD_RES_INVALID_PARMS);
	/* unaligned write producing the own vid from an ancestor (0x7c2b25 -> 26) */
	uint8_t one = 0x26;
	assert_int_equal(inode_index_check(vid, cur + 8, 8, 12, 8, &one, 1), SD_RES_SUCCESS);
	/* zero-length write */
	assert_int_equal(inode_index_check(vid, cur, 0, 0, 0, buf, 0), SD_RES_SUCCESS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_apply_allowed),
		cmocka_unit_test(test_apply_refused),
		cmocka_unit_test(test_index_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

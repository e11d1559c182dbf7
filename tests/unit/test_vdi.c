/*
 * test_vdi.c: the VDI namespace of store/vdi.c against a real store in a
 * temp dir (plain backend): allocation (§5.3), lookup (§5.4), NEW_VDI's
 * four cases (§5.6), READ_VDIS (§5.8), DEL_VDI (§5.9) and reclaiming,
 * GET_CLUSTER_DEFAULT, locks, and persistence across a reopen.
 *
 * Names with known hashes (computed offline, checked again below):
 *   "c9808" and "c18330" both hash to 0x84121b (collision)
 *   "w23454810" hashes to 0xffffff, "w35360566" to 0 (start 1)
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_test_util.h"

#define GiB (UINT64_C(1) << 30)

static void test_create_lookup(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	uint32_t vid, v2;
	uint8_t h[SD_INODE_HEADER_SIZE];
	struct store_vdi_req r;
	struct store_vdi_rsp rsp;

	assert_int_equal(sd_hash_vid("test", 4), 0x7c2b25);
	assert_int_equal(tlookup(st, "test", NULL, 0, &vid), SD_RES_NO_VDI);
	assert_int_equal(tnew(st, "test", GiB, 0, 0, 0, &vid), SD_RES_SUCCESS);
	assert_int_equal(vid, 0x7c2b25);
	assert_int_equal(tnew(st, "test", GiB, 0, 0, 0, &v2), SD_RES_VDI_EXIST);
	assert_int_equal(tlookup(st, "test", NULL, 0, &v2), SD_RES_SUCCESS);
	assert_int_equal(v2, 0x7c2b25);
	/* a name that is a prefix of another is another name */
	assert_int_equal(tlookup(st, "tes", NULL, 0, NULL), SD_RES_NO_VDI);
	assert_int_equal(tlookup(st, "test2", NULL, 0, NULL), SD_RES_NO_VDI);

	/* reply fields: defaults copies 3, shift 22 */
	treq(&r, "test", NULL, 0);
	memset(&rsp, 0, sizeof(rsp));
	assert_int_equal(store_get_vdi_info(st, &r, &rsp), SD_RES_SUCCESS);
	assert_int_equal(rsp.copies, 3);
	assert_int_equal(rsp.block_size_shift, 22);

	/* the synthesised header (§5.6 fresh create) */
	assert_int_equal(theader(st, vid, h), SD_RES_SUCCESS);
	assert_string_equal((char *)h, "test");
	assert_int_equal(h[SD_INODE_OFF_TAG], 0);
	assert_true(sd_get64(h + SD_INODE_OFF_CREATE_TIME) != 0);
	assert_true(sd_get64(h + SD_INODE_OFF_SNAP_CTIME) == 0);
	assert_true(sd_get64(h + SD_INODE_OFF_VDI_SIZE) == GiB);
	assert_int_equal(h[SD_INODE_OFF_NR_COPIES], 3);
	assert_int_equal(h[SD_INODE_OFF_BLOCK_SHIFT], 22);
	assert_int_equal(h[SD_INODE_OFF_STORE_POLICY], 0);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_SNAP_ID), 1);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_VDI_ID), vid);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_PARENT_VDI_ID), 0);
	assert_int_equal(tslot(st, vid, 0), 0);
	assert_int_equal(tslot(st, vid, SD_MAX_DATA_OBJS - 1), 0);

	/* explicit copies and shift are kept */
	treq(&r, "shift20", NULL, 0);
	r.vdi_size = GiB;
	r.copies = 2;
	r.block_size_shift = 20;
	assert_int_equal(store_new_vdi(st, &r, &rsp), SD_RES_SUCCESS);
	assert_int_equal(rsp.copies, 2);
	assert_int_equal(rsp.block_size_shift, 20);
}

static void test_new_vdi_refused(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	struct store_vdi_req r;
	struct store_vdi_rsp rsp;

	assert_int_equal(tnew(st, "", GiB, 0, 0, 0, NULL), SD_RES_INVALID_PARMS);
	assert_int_equal(tnew(st, "x", GiB, 0, 0, 19, NULL), SD_RES_INVALID_PARMS);
	assert_int_equal(tnew(st, "x", GiB, 0, 0, 32, NULL), SD_RES_INVALID_PARMS);
	/* size limit 2^shift * 2^20 (§4.2) */
	assert_int_equal(tnew(st, "x", inode_max_size(20) + 1, 0, 0, 20, NULL), SD_RES_INVALID_PARMS);
	assert_int_equal(tnew(st, "x", inode_max_size(20), 0, 0, 20, NULL), SD_RES_SUCCESS);
	/* erasure coding is not served; store_policy must be 0; copies <= 31 */
	treq(&r, "y", NULL, 0);
	r.vdi_size = GiB;
	r.copies = 3;
	r.copy_policy = 0x21;
	assert_int_equal(store_new_vdi(st, &r, &rsp), SD_RES_INVALID_PARMS);
	r.copy_policy = 0;
	r.store_policy = 1;
	assert_int_equal(store_new_vdi(st, &r, &rsp), SD_RES_INVALID_PARMS);
	r.store_policy = 0;
	r.copies = 32;
	assert_int_equal(store_new_vdi(st, &r, &rsp), SD_RES_INVALID_PARMS);
	/* copies 0 takes the default together with the policy */
	r.copies = 0;
	r.copy_policy = 0x21;
	assert_int_equal(store_new_vdi(st, &r, &rsp), SD_RES_SUCCESS);
	assert_int_equal(rsp.copies, 3);
	/* snapshot of a name without a working VDI */
	assert_int_equal(tnew(st, "nothere", GiB, 0x7c2b25, 1, 0, NULL), SD_RES_NO_VDI);
	/* clone from a base that does not exist */
	assert_int_equal(tnew(st, "clone", GiB, 0x424242, 0, 0, NULL), SD_RES_BASE_VDI_READ);
	/* none of the refused ones left a bit set */
	uint8_t *bm = malloc(SD_BITMAP_SIZE);
	assert_non_null(bm);
	assert_int_equal(store_read_vdis(st, bm), SD_RES_SUCCESS);
	size_t bits = 0;
	for (size_t i = 0; i < SD_BITMAP_SIZE; i++)
		bits += (size_t)__builtin_popcount(bm[i]);
	assert_int_equal(bits, 2);      /* "x" and "y" */
	free(bm);
}

static void test_probe(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	uint32_t a, b, w, s;

	assert_int_equal(sd_hash_vid("c9808", 5), 0x84121b);
	assert_int_equal(sd_hash_vid("c18330", 6), 0x84121b);
	assert_int_equal(tnew(st, "c9808", GiB, 0, 0, 0, &a), SD_RES_SUCCESS);
	assert_int_equal(tnew(st, "c18330", GiB, 0, 0, 0, &b), SD_RES_SUCCESS);
	assert_int_equal(a, 0x84121b);
	assert_int_equal(b, 0x84121c);  /* linear probing */
	/* snapshot of the first: its new working VDI goes past the run */
	assert_int_equal(tnew(st, "c9808", GiB, a, 1, 0, &w), SD_RES_SUCCESS);
	assert_int_equal(w, 0x84121d);
	assert_int_equal(tlookup(st, "c9808", NULL, 0, &s), SD_RES_SUCCESS);
	assert_int_equal(s, w);
	assert_int_equal(tlookup(st, "c18330", NULL, 0, &s), SD_RES_SUCCESS);
	assert_int_equal(s, b);
	assert_int_equal(tlookup(st, "c9808", NULL, 1, &s), SD_RES_SUCCESS);
	assert_int_equal(s, a);
	assert_int_equal(tlookup(st, "c18330", NULL, 1, &s), SD_RES_NO_TAG);
}

static void test_wrap(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	uint32_t z, m, w1, w2, s;

	assert_int_equal(sd_hash_vid("w35360566", 9), 0);
	assert_int_equal(sd_hash_vid("w23454810", 9), 0xffffff);
	/* hash 0 starts at vid 1: vid 0 is never allocated */
	assert_int_equal(tnew(st, "w35360566", GiB, 0, 0, 0, &z), SD_RES_SUCCESS);
	assert_int_equal(z, 1);
	assert_int_equal(tnew(st, "w23454810", GiB, 0, 0, 0, &m), SD_RES_SUCCESS);
	assert_int_equal(m, 0xffffff);
	/* two snapshots: the run wraps past 2^24 to 1 (taken), then 2, 3 */
	assert_int_equal(tnew(st, "w23454810", GiB, m, 1, 0, &w1), SD_RES_SUCCESS);
	assert_int_equal(w1, 2);
	assert_int_equal(tnew(st, "w23454810", GiB, w1, 1, 0, &w2), SD_RES_SUCCESS);
	assert_int_equal(w2, 3);
	/* lookups walk [1, end) downwards, then [start, 2^24) */
	assert_int_equal(tlookup(st, "w23454810", NULL, 0, &s), SD_RES_SUCCESS);
	assert_int_equal(s, 3);
	assert_int_equal(tlookup(st, "w23454810", NULL, 1, &s), SD_RES_SUCCESS);
	assert_int_equal(s, 0xffffff);
	assert_int_equal(tlookup(st, "w23454810", NULL, 2, &s), SD_RES_SUCCESS);
	assert_int_equal(s, 2);
	assert_int_equal(tlookup(st, "w35360566", NULL, 0, &s), SD_RES_SUCCESS);
	assert_int_equal(s, 1);
	uint8_t h[SD_INODE_HEADER_SIZE];
	assert_int_equal(theader(st, 3, h), SD_RES_SUCCESS);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_SNAP_ID), 3);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_PARENT_VDI_ID), 2);
}

/* Write a tag into the working VDI's header the way QEMU does (§7.7). */
static void set_tag(struct store *st, uint32_t vid, const char *tag)
{
	uint8_t h[SD_INODE_HEADER_SIZE];
	assert_int_equal(theader(st, vid, h), SD_RES_SUCCESS);
	memset(h + SD_INODE_OFF_TAG, 0, SD_TAG_LEN);
	size_t n = strlen(tag);
	memcpy(h + SD_INODE_OFF_TAG, tag, n < SD_TAG_LEN ? n : SD_TAG_LEN);
	sd_put64(h + SD_INODE_OFF_VM_STATE_SIZE, 12345);
	assert_int_equal(store_write_obj(st, sd_inode_oid(vid), 0, SD_INODE_HEADER_SIZE, h),
			 SD_RES_SUCCESS);
}

static int index_equal(struct store *st, uint32_t a, uint32_t b)
{
	uint8_t *x = malloc(SD_INODE_INDEX_SIZE), *y = malloc(SD_INODE_INDEX_SIZE);
	int eq = x && y &&
		 store_read_obj(st, sd_inode_oid(a), SD_INODE_INDEX_OFF, SD_INODE_INDEX_SIZE, x) == 0 &&
		 store_read_obj(st, sd_inode_oid(b), SD_INODE_INDEX_OFF, SD_INODE_INDEX_SIZE, y) == 0 &&
		 memcmp(x, y, SD_INODE_INDEX_SIZE) == 0;
	free(x);
	free(y);
	return eq;
}

static void test_snapshot_clone_rebase(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	uint32_t w, w2, s, c, w3, w4;
	uint8_t h[SD_INODE_HEADER_SIZE];

	assert_int_equal(tnew(st, "test", GiB, 0, 0, 0, &w), SD_RES_SUCCESS);
	assert_int_equal(twrite_new(st, w, 0, 0x11), SD_RES_SUCCESS);
	assert_int_equal(twrite_new(st, w, 200, 0x22), SD_RES_SUCCESS);
	set_tag(st, w, "s1");

	/* snapshot: W keeps its vid and becomes the snapshot (§5.5, §5.6) */
	assert_int_equal(tnew(st, "test", 2 * GiB, w, 1, 0, &w2), SD_RES_SUCCESS);
	assert_int_equal(w2, 0x7c2b26);
	assert_int_equal(theader(st, w, h), SD_RES_SUCCESS);
	assert_true(sd_get64(h + SD_INODE_OFF_SNAP_CTIME) != 0);
	assert_string_equal((char *)h + SD_INODE_OFF_TAG, "s1");
	assert_true(sd_get64(h + SD_INODE_OFF_VM_STATE_SIZE) == 12345);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_SNAP_ID), 1);
	assert_true(sd_get64(h + SD_INODE_OFF_VDI_SIZE) == GiB);
	assert_int_equal(theader(st, w2, h), SD_RES_SUCCESS);
	assert_string_equal((char *)h, "test");
	assert_true(sd_get64(h + SD_INODE_OFF_SNAP_CTIME) == 0);
	assert_int_equal(h[SD_INODE_OFF_TAG], 0);
	assert_true(sd_get64(h + SD_INODE_OFF_VM_STATE_SIZE) == 0);
	assert_true(sd_get64(h + SD_INODE_OFF_VDI_SIZE) == 2 * GiB);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_SNAP_ID), 2);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_PARENT_VDI_ID), w);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_VDI_ID), w2);
	assert_true(index_equal(st, w, w2));
	assert_int_equal(tslot(st, w2, 200), w);

	/* lookups (§5.4) */
	assert_int_equal(tlookup(st, "test", NULL, 0, &s), SD_RES_SUCCESS);
	assert_int_equal(s, w2);
	assert_int_equal(tlookup(st, "test", "s1", 0, &s), SD_RES_SUCCESS);
	assert_int_equal(s, w);
	assert_int_equal(tlookup(st, "test", NULL, 1, &s), SD_RES_SUCCESS);
	assert_int_equal(s, w);
	assert_int_equal(tlookup(st, "test", NULL, 2, NULL), SD_RES_NO_TAG);   /* working skipped */
	assert_int_equal(tlookup(st, "test", "nope", 0, NULL), SD_RES_NO_TAG);
	assert_int_equal(tlookup(st, "other", "s1", 0, NULL), SD_RES_NO_VDI);
	/* the snapshot's data is frozen; the working VDI COW-copies it */
	uint8_t b[16];
	memset(b, 0x33, sizeof(b));
	assert_int_equal(store_write_obj(st, sd_data_oid(w, 0), 0, 16, b), SD_RES_READONLY);
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(w2, 0), 1, sd_data_oid(w, 0), 0, 16, b),
			 SD_RES_SUCCESS);
	assert_int_equal(tset_slot(st, w2, 0, w2), SD_RES_SUCCESS);

	/* rollback the way QEMU branches (§7.9): delete W, clone the snapshot */
	assert_int_equal(tdel(st, "test", NULL, 0, &s), SD_RES_SUCCESS);
	assert_int_equal(s, w2);
	assert_int_equal(tlookup(st, "test", NULL, 0, NULL), SD_RES_NO_VDI);   /* newest is a snapshot */
	assert_int_equal(tlookup(st, "test", "s1", 0, &s), SD_RES_SUCCESS);
	assert_int_equal(s, w);
	assert_int_equal(tlookup(st, "test", "nope", 0, NULL), SD_RES_NO_VDI); /* no working seen */
	assert_int_equal(tnew(st, "test", GiB, w, 0, 0, &c), SD_RES_SUCCESS);
	assert_int_equal(c, 0x7c2b27);
	assert_int_equal(theader(st, c, h), SD_RES_SUCCESS);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_PARENT_VDI_ID), w);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_SNAP_ID), 2);  /* newest live (snap 1) + 1 */
	assert_true(sd_get64(h + SD_INODE_OFF_SNAP_CTIME) == 0);
	assert_true(index_equal(st, w, c));
	/* a clone under another name; a clone with a different shift is refused */
	assert_int_equal(tnew(st, "other", GiB, w, 0, 0, &s), SD_RES_SUCCESS);
	assert_int_equal(tslot(st, s, 0), w);
	assert_int_equal(tnew(st, "other2", GiB, w, 0, 21, NULL), SD_RES_INVALID_PARMS);
	assert_int_equal(tnew(st, "test", GiB, w, 0, 0, NULL), SD_RES_VDI_EXIST);

	/* rebase (snapid != 0, base != W): W = c becomes a snapshot, the new
	 * working VDI takes the base's index */
	assert_int_equal(twrite_new(st, c, 5, 0x55), SD_RES_SUCCESS);
	assert_int_equal(tnew(st, "test", GiB, w, 1, 0, &w3), SD_RES_SUCCESS);
	assert_int_equal(theader(st, c, h), SD_RES_SUCCESS);
	assert_true(sd_get64(h + SD_INODE_OFF_SNAP_CTIME) != 0);
	assert_int_equal(theader(st, w3, h), SD_RES_SUCCESS);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_PARENT_VDI_ID), w);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_SNAP_ID), 3);
	assert_true(index_equal(st, w, w3));
	assert_int_equal(tslot(st, w3, 5), 0);
	assert_int_equal(tslot(st, c, 5), c);
	/* rebase onto a missing base */
	assert_int_equal(tnew(st, "test", GiB, 0x515151, 1, 0, &w4), SD_RES_BASE_VDI_READ);
	assert_int_equal(tlookup(st, "test", NULL, 0, &s), SD_RES_SUCCESS);
	assert_int_equal(s, w3);
	/* snapshots by id: 1 = w, 2 = c */
	assert_int_equal(tlookup(st, "test", NULL, 2, &s), SD_RES_SUCCESS);
	assert_int_equal(s, c);
}

static size_t popcount_bm(const uint8_t *bm)
{
	size_t n = 0;
	for (size_t i = 0; i < SD_BITMAP_SIZE; i++)
		n += (size_t)__builtin_popcount(bm[i]);
	return n;
}

static void test_read_vdis_and_delete(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	uint8_t *bm = malloc(SD_BITMAP_SIZE);
	uint8_t h[SD_INODE_HEADER_SIZE];
	uint32_t a, s1, a2, b, v;

	assert_non_null(bm);
	memset(bm, 0xff, SD_BITMAP_SIZE);
	assert_int_equal(store_read_vdis(st, bm), SD_RES_SUCCESS);
	assert_int_equal(popcount_bm(bm), 0);
	assert_int_equal(tnew(st, "vdi", GiB, 0, 0, 0, &a), SD_RES_SUCCESS);
	assert_int_equal(a, 0xdff0ba);
	assert_int_equal(tnew(st, "vdi", GiB, a, 1, 0, &a2), SD_RES_SUCCESS);
	s1 = a;
	assert_int_equal(tnew(st, "disk1", GiB, 0, 0, 0, &b), SD_RES_SUCCESS);
	assert_int_equal(b, 0xe8b18f);
	assert_int_equal(store_read_vdis(st, bm), SD_RES_SUCCESS);
	assert_int_equal(popcount_bm(bm), 3);
	assert_true(sd_bitmap_test(bm, s1));
	assert_true(sd_bitmap_test(bm, a2));
	assert_true(sd_bitmap_test(bm, b));
	/* byte/bit position: vid n is bit n&7 of byte n>>3 */
	assert_int_equal(bm[0xe8b18f >> 3], 1 << (0xe8b18f & 7));

	/* delete the snapshot by id; base_vid is ignored */
	assert_int_equal(tdel(st, "vdi", NULL, 1, &v), SD_RES_SUCCESS);
	assert_int_equal(v, s1);
	assert_int_equal(tdel(st, "vdi", NULL, 1, NULL), SD_RES_NO_TAG);
	assert_int_equal(tlookup(st, "vdi", NULL, 1, NULL), SD_RES_NO_TAG);
	assert_int_equal(tlookup(st, "vdi", NULL, 0, &v), SD_RES_SUCCESS);
	assert_int_equal(v, a2);
	/* the deleted inode stays readable, cleared (§5.8, §5.9) */
	assert_int_equal(theader(st, s1, h), SD_RES_SUCCESS);
	assert_int_equal(h[0], 0);
	assert_true(sd_get64(h + SD_INODE_OFF_VDI_SIZE) == 0);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_VDI_ID), s1);
	assert_int_equal(tslot(st, s1, 0), 0);
	/* delete the working VDI, then the name is free again */
	assert_int_equal(tdel(st, "vdi", NULL, 0, &v), SD_RES_SUCCESS);
	assert_int_equal(v, a2);
	assert_int_equal(tdel(st, "vdi", NULL, 0, NULL), SD_RES_NO_VDI);
	assert_int_equal(tlookup(st, "vdi", NULL, 0, NULL), SD_RES_NO_VDI);
	assert_int_equal(tdel(st, "", NULL, 0, NULL), SD_RES_NO_VDI);
	/* writes to the deleted inode are refused */
	uint8_t z[4] = {0};
	assert_int_equal(store_write_obj(st, sd_inode_oid(a2), SD_INODE_INDEX_OFF, 4, z), SD_RES_NO_VDI);
	/* bits stay set; a new "vdi" probes past them and restarts snap_id */
	assert_int_equal(store_read_vdis(st, bm), SD_RES_SUCCESS);
	assert_int_equal(popcount_bm(bm), 3);
	assert_int_equal(tnew(st, "vdi", GiB, 0, 0, 0, &v), SD_RES_SUCCESS);
	assert_int_equal(v, 0xdff0bc);
	assert_int_equal(theader(st, v, h), SD_RES_SUCCESS);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_SNAP_ID), 1);

	/* stats count live VDIs */
	struct store_stats stats;
	assert_int_equal(store_get_stats(st, &stats), 0);
	assert_true(stats.vdis == 2);
	free(bm);
}

static void test_reclaim(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	uint32_t s, w, v;
	uint8_t b[16];

	assert_int_equal(tnew(st, "r", GiB, 0, 0, 0, &s), SD_RES_SUCCESS);
	assert_int_equal(twrite_new(st, s, 0, 0x10), SD_RES_SUCCESS);
	assert_int_equal(twrite_new(st, s, 1, 0x11), SD_RES_SUCCESS);
	assert_int_equal(store_create_and_write_obj(st, sd_vmstate_oid(s, 0), 0, 0, 0, 4, "vmst"),
			 SD_RES_SUCCESS);
	assert_int_equal(tnew(st, "r", GiB, s, 1, 0, &w), SD_RES_SUCCESS);
	/* the working VDI overwrites object 1 with its own copy */
	memset(b, 0x99, sizeof(b));
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(w, 1), 1, sd_data_oid(s, 1), 0, 16, b),
			 SD_RES_SUCCESS);
	assert_int_equal(tset_slot(st, w, 1, w), SD_RES_SUCCESS);

	/* delete the snapshot: w still refers to its object 0 (and it is
	 * w's parent), so nothing is reclaimed and reads still work */
	assert_int_equal(tdel(st, "r", NULL, 1, &v), SD_RES_SUCCESS);
	assert_int_equal(v, s);
	assert_int_equal(chunk_vdi_exists(st->cs, s), 1);
	assert_int_equal(store_read_obj(st, sd_data_oid(s, 0), 0, 16, b), SD_RES_SUCCESS);
	assert_int_equal(b[0], 0x10);
	assert_int_equal(store_read_obj(st, sd_vmstate_oid(s, 0), 0, 4, b), SD_RES_SUCCESS);
	assert_memory_equal(b, "vmst", 4);
	struct store_stats before, after;
	assert_int_equal(store_get_stats(st, &before), 0);

	/* delete the working VDI: now nothing refers to either */
	assert_int_equal(tdel(st, "r", NULL, 0, &v), SD_RES_SUCCESS);
	assert_int_equal(v, w);
	assert_int_equal(chunk_vdi_exists(st->cs, s), 0);
	assert_int_equal(chunk_vdi_exists(st->cs, w), 0);
	assert_int_equal(store_read_obj(st, sd_data_oid(s, 0), 0, 16, b), SD_RES_NO_OBJ);
	assert_int_equal(store_read_obj(st, sd_data_oid(w, 1), 0, 16, b), SD_RES_NO_OBJ);
	assert_int_equal(store_get_stats(st, &after), 0);
	assert_true(after.objects < before.objects);
	assert_true(after.vdis == 0);
	/* the inodes are still readable (bits set, §5.8) */
	uint8_t h[SD_INODE_HEADER_SIZE];
	assert_int_equal(theader(st, s, h), SD_RES_SUCCESS);
	assert_int_equal(theader(st, w, h), SD_RES_SUCCESS);
	assert_int_equal(sd_get32(h + SD_INODE_OFF_VDI_ID), w);
}

/* A deleted snapshot with a clone (another name) is kept for the clone. */
static void test_reclaim_clone(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	uint32_t s, w, c;
	uint8_t b[4];

	assert_int_equal(tnew(st, "base", GiB, 0, 0, 0, &s), SD_RES_SUCCESS);
	assert_int_equal(twrite_new(st, s, 3, 0x33), SD_RES_SUCCESS);
	assert_int_equal(tnew(st, "base", GiB, s, 1, 0, &w), SD_RES_SUCCESS);
	assert_int_equal(tnew(st, "clone", GiB, s, 0, 0, &c), SD_RES_SUCCESS);
	assert_int_equal(tdel(st, "base", NULL, 0, NULL), SD_RES_SUCCESS);
	assert_int_equal(tdel(st, "base", NULL, 1, NULL), SD_RES_SUCCESS);
	assert_int_equal(chunk_vdi_exists(st->cs, w), 0);
	assert_int_equal(chunk_vdi_exists(st->cs, s), 1);
	assert_int_equal(store_read_obj(st, sd_data_oid(s, 3), 0, 4, b), SD_RES_SUCCESS);
	assert_int_equal(b[0], 0x33);
	/* a deleted VDI cannot be a base */
	assert_int_equal(tnew(st, "clone2", GiB, s, 0, 0, NULL), SD_RES_BASE_VDI_READ);
	/* the clone drops its reference (discard); the next reclaim frees s */
	assert_int_equal(tset_slot(st, c, 3, 0), SD_RES_SUCCESS);
	assert_int_equal(tdel(st, "clone", NULL, 0, NULL), SD_RES_SUCCESS);
	assert_int_equal(chunk_vdi_exists(st->cs, s), 0);
}

/* The working VDI loads vmstate from its parent (§6.5): a deleted parent
 * with no shared data is still kept for that. */
static void test_reclaim_parent_vmstate(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	uint32_t s, w;
	uint8_t b[4];

	assert_int_equal(tnew(st, "vm", GiB, 0, 0, 0, &s), SD_RES_SUCCESS);
	assert_int_equal(store_create_and_write_obj(st, sd_vmstate_oid(s, 0), 0, 0, 0, 4, "save"),
			 SD_RES_SUCCESS);
	assert_int_equal(tnew(st, "vm", GiB, s, 1, 0, &w), SD_RES_SUCCESS);
	assert_int_equal(tdel(st, "vm", NULL, 1, NULL), SD_RES_SUCCESS);
	assert_int_equal(chunk_vdi_exists(st->cs, s), 1);
	assert_int_equal(store_read_obj(st, sd_vmstate_oid(s, 0), 0, 4, b), SD_RES_SUCCESS);
	assert_memory_equal(b, "save", 4);
	assert_int_equal(tdel(st, "vm", NULL, 0, NULL), SD_RES_SUCCESS);
	assert_int_equal(chunk_vdi_exists(st->cs, s), 0);
	assert_int_equal(store_read_obj(st, sd_vmstate_oid(s, 0), 0, 4, b), SD_RES_NO_OBJ);
}

/* Names and tags that fill all 256 bytes (no NUL) still work. */
static void test_full_width_fields(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	char name[SD_NAME_LEN + 1], tag[SD_TAG_LEN + 1];
	uint32_t w, w2, v;
	uint8_t h[SD_INODE_HEADER_SIZE];

	memset(name, 'n', SD_NAME_LEN);
	name[SD_NAME_LEN] = 0;
	memset(tag, 't', SD_TAG_LEN);
	tag[SD_TAG_LEN] = 0;
	assert_int_equal(tnew(st, name, GiB, 0, 0, 0, &w), SD_RES_SUCCESS);
	assert_int_equal(w, sd_vid_start(name, SD_NAME_LEN));
	set_tag(st, w, tag);
	assert_int_equal(tnew(st, name, GiB, w, 1, 0, &w2), SD_RES_SUCCESS);
	assert_int_equal(tlookup(st, name, tag, 0, &v), SD_RES_SUCCESS);
	assert_int_equal(v, w);
	tag[SD_TAG_LEN - 1] = 'u';
	assert_int_equal(tlookup(st, name, tag, 0, NULL), SD_RES_NO_TAG);
	assert_int_equal(tlookup(st, name, NULL, 0, &v), SD_RES_SUCCESS);
	assert_int_equal(v, w2);
	name[SD_NAME_LEN - 1] = 'm';
	assert_int_equal(tlookup(st, name, NULL, 0, NULL), SD_RES_NO_VDI);
	assert_int_equal(theader(st, w, h), SD_RES_SUCCESS);
	assert_int_equal(h[SD_INODE_OFF_TAG + SD_TAG_LEN - 1], 't');
	assert_int_equal(h[SD_NAME_LEN - 1], 'n');
}

struct racer {
	struct store *st;
	int res;
	uint32_t vid;
};

static void *race_new(void *arg)
{
	struct racer *r = arg;
	r->res = tnew(r->st, "race", GiB, 0, 0, 0, &r->vid);
	return NULL;
}

/* Two NEW_VDIs of one name at once: exactly one wins. */
static void test_concurrent_create(void **state)
{
	struct tstore *ts = *state;
	pthread_t th[4];
	struct racer r[4];
	int ok = 0, exist = 0;

	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){ .st = ts->st };
		assert_int_equal(pthread_create(&th[i], NULL, race_new, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ok += r[i].res == SD_RES_SUCCESS;
		exist += r[i].res == SD_RES_VDI_EXIST;
	}
	assert_int_equal(ok, 1);
	assert_int_equal(exist, 3);
	struct store_stats s;
	assert_int_equal(store_get_stats(ts->st, &s), 0);
	assert_true(s.vdis == 1);
}

static void test_cluster_default_and_locks(void **state)
{
	struct tstore *ts = *state;
	uint8_t copies, policy, shift;
	struct store_vdi_req r;
	struct store_vdi_rsp rsp;
	uint32_t v;

	store_cluster_default(ts->st, &copies, &policy, &shift);
	assert_int_equal(copies, 3);
	assert_int_equal(policy, 0);
	assert_int_equal(shift, 22);

	/* default: LOCK_VDI is GET_VDI_INFO; RELEASE always succeeds */
	assert_int_equal(tnew(ts->st, "lk", GiB, 0, 0, 0, &v), SD_RES_SUCCESS);
	treq(&r, "lk", NULL, 0);
	assert_int_equal(store_lock_vdi(ts->st, &r, &rsp), SD_RES_SUCCESS);
	assert_int_equal(rsp.vid, v);
	assert_int_equal(store_lock_vdi(ts->st, &r, &rsp), SD_RES_SUCCESS);
	assert_int_equal(store_release_vdi(ts->st, v, 0), SD_RES_SUCCESS);
	assert_int_equal(store_release_vdi(ts->st, 0x424242, 0), SD_RES_SUCCESS);
	treq(&r, "nolk", NULL, 0);
	assert_int_equal(store_lock_vdi(ts->st, &r, &rsp), SD_RES_NO_VDI);

	/* defaults QEMU could not use are refused at open */
	struct store_config bad = ts->cfg;
	struct store *st2 = NULL;
	bad.default_shift = 19;
	assert_int_equal(store_open(&st2, &bad), -EINVAL);
	bad.default_shift = 32;
	assert_int_equal(store_open(&st2, &bad), -EINVAL);
	bad.default_shift = 24;
	bad.max_shift = 23;
	assert_int_equal(store_open(&st2, &bad), -EINVAL);
	bad.default_shift = 22;
	bad.max_shift = 0;
	bad.default_copies = 32;
	assert_int_equal(store_open(&st2, &bad), -EINVAL);
	assert_null(st2);

	/* enforcing mode, with other defaults */
	ts->cfg.enforce_locks = 1;
	ts->cfg.default_copies = 2;
	ts->cfg.default_shift = 23;
	assert_int_equal(tstore_reopen(ts), 0);
	store_cluster_default(ts->st, &copies, &policy, &shift);
	assert_int_equal(copies, 2);
	assert_int_equal(shift, 23);
	treq(&r, "lk", NULL, 0);
	assert_int_equal(store_lock_vdi(ts->st, &r, &rsp), SD_RES_SUCCESS);
	assert_int_equal(store_lock_vdi(ts->st, &r, &rsp), SD_RES_VDI_LOCKED);
	assert_int_equal(store_release_vdi(ts->st, v, 0), SD_RES_SUCCESS);
	assert_int_equal(store_lock_vdi(ts->st, &r, &rsp), SD_RES_SUCCESS);
	assert_int_equal(store_release_vdi(ts->st, v, 0), SD_RES_SUCCESS);
	r.lock_type = 1;                /* shared */
	assert_int_equal(store_lock_vdi(ts->st, &r, &rsp), SD_RES_SUCCESS);
	assert_int_equal(store_lock_vdi(ts->st, &r, &rsp), SD_RES_SUCCESS);
	r.lock_type = 0;
	assert_int_equal(store_lock_vdi(ts->st, &r, &rsp), SD_RES_VDI_LOCKED);
	r.lock_type = 7;
	assert_int_equal(store_lock_vdi(ts->st, &r, &rsp), SD_RES_INVALID_PARMS);
	/* new VDIs take the new defaults */
	assert_int_equal(tnew(ts->st, "lk2", GiB, 0, 0, 0, &v), SD_RES_SUCCESS);
	treq(&r, "lk2", NULL, 0);
	assert_int_equal(store_get_vdi_info(ts->st, &r, &rsp), SD_RES_SUCCESS);
	assert_int_equal(rsp.copies, 2);
	assert_int_equal(rsp.block_size_shift, 23);
	/* a snapshot of a locked VDI moves the lock to the new working vid,
	 * the one its holder goes on writing and will release */
	uint32_t v2, w2;
	assert_int_equal(tnew(ts->st, "lk3", GiB, 0, 0, 0, &v2), SD_RES_SUCCESS);
	treq(&r, "lk3", NULL, 0);
	assert_int_equal(store_lock_vdi(ts->st, &r, &rsp), SD_RES_SUCCESS);
	assert_int_equal(tnew(ts->st, "lk3", GiB, v2, 1, 0, &w2), SD_RES_SUCCESS);
	assert_int_not_equal(w2, v2);
	assert_int_equal(store_lock_vdi(ts->st, &r, &rsp), SD_RES_VDI_LOCKED);
	assert_int_equal(store_release_vdi(ts->st, w2, 0), SD_RES_SUCCESS);
	assert_int_equal(store_lock_vdi(ts->st, &r, &rsp), SD_RES_SUCCESS);
	assert_int_equal(rsp.vid, w2);
}

static int list_cb(void *ctx, const struct store_vdi_info *v)
{
	int *n = ctx;
	(*n)++;
	return v->vid == 0;             /* never stops early */
}

static void test_reopen(void **state)
{
	struct tstore *ts = *state;
	uint32_t w, w2, v, d;
	uint8_t h1[SD_INODE_HEADER_SIZE], h2[SD_INODE_HEADER_SIZE], b[16];

	assert_int_equal(tnew(ts->st, "test", GiB, 0, 0, 0, &w), SD_RES_SUCCESS);
	assert_int_equal(twrite_new(ts->st, w, 7, 0x77), SD_RES_SUCCESS);
	set_tag(ts->st, w, "keep");
	assert_int_equal(tnew(ts->st, "test", GiB, w, 1, 0, &w2), SD_RES_SUCCESS);
	assert_int_equal(tnew(ts->st, "gone", GiB, 0, 0, 0, &d), SD_RES_SUCCESS);
	assert_int_equal(tdel(ts->st, "gone", NULL, 0, NULL), SD_RES_SUCCESS);
	assert_int_equal(theader(ts->st, w2, h1), SD_RES_SUCCESS);

	assert_int_equal(tstore_reopen(ts), 0);
	assert_int_equal(tlookup(ts->st, "test", NULL, 0, &v), SD_RES_SUCCESS);
	assert_int_equal(v, w2);
	assert_int_equal(tlookup(ts->st, "test", "keep", 0, &v), SD_RES_SUCCESS);
	assert_int_equal(v, w);
	assert_int_equal(tlookup(ts->st, "gone", NULL, 0, NULL), SD_RES_NO_VDI);
	assert_int_equal(theader(ts->st, w2, h2), SD_RES_SUCCESS);
	assert_memory_equal(h1, h2, sizeof(h1));
	assert_int_equal(tslot(ts->st, w2, 7), w);
	assert_int_equal(store_read_obj(ts->st, sd_data_oid(w, 7), 0, 16, b), SD_RES_SUCCESS);
	assert_int_equal(b[15], 0x77);
	uint8_t *bm = malloc(SD_BITMAP_SIZE);
	assert_non_null(bm);
	assert_int_equal(store_read_vdis(ts->st, bm), SD_RES_SUCCESS);
	assert_true(sd_bitmap_test(bm, d));
	assert_int_equal(popcount_bm(bm), 3);
	free(bm);
	int n = 0;
	assert_int_equal(store_list_vdis(ts->st, list_cb, &n), 0);
	assert_int_equal(n, 2);
	/* allocation continues after the reopen */
	assert_int_equal(tnew(ts->st, "test", GiB, w2, 1, 0, &v), SD_RES_SUCCESS);
	assert_int_equal(v, w2 + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_lookup, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_new_vdi_refused, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_probe, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_wrap, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_clone_rebase, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_read_vdis_and_delete, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_reclaim, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_clone, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_parent_vmstate, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_full_width_fields, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_create, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_cluster_default_and_locks, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_reopen, tstore_setup, tstore_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_store.c: object semantics of store/store.c (§6) against a real
 * store in a temp dir (plain backend): READ/WRITE/CREATE_AND_WRITE with
 * and without COW, zero fill, ranges, snapshots READONLY, inode reads and
 * writes through the store, FLUSH_VDI, stats.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_test_util.h"

#define GiB (UINT64_C(1) << 30)
#define OBJ (UINT64_C(1) << 22)

static int all_equal(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static void test_create_read_write(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	uint32_t v;
	uint8_t *big = malloc(OBJ), b[64];

	assert_non_null(big);
	assert_int_equal(tnew(st, "obj", GiB, 0, 0, 0, &v), SD_RES_SUCCESS);
	uint64_t oid = sd_data_oid(v, 3);
	/* missing object */
	assert_int_equal(store_read_obj(st, oid, 0, 64, b), SD_RES_NO_OBJ);
	memset(b, 0x5a, sizeof(b));
	assert_int_equal(store_write_obj(st, oid, 0, 64, b), SD_RES_NO_OBJ);
	assert_int_equal(store_write_obj(st, oid, 0, 0, b), SD_RES_NO_OBJ);
	/* objects of a vid that does not exist */
	assert_int_equal(store_read_obj(st, sd_data_oid(0x424242, 0), 0, 64, b), SD_RES_NO_OBJ);
	assert_int_equal(store_read_obj(st, sd_inode_oid(0x424242), 0, 64, b), SD_RES_NO_OBJ);

	/* create: zero fill, then the payload at its offset */
	assert_int_equal(store_create_and_write_obj(st, oid, 0, 0, 1000, 64, b), SD_RES_SUCCESS);
	memset(big, 0xee, OBJ);
	assert_int_equal(store_read_obj(st, oid, 0, (uint32_t)OBJ, big), SD_RES_SUCCESS);
	assert_true(all_equal(big, 1000, 0));
	assert_true(all_equal(big + 1000, 64, 0x5a));
	assert_true(all_equal(big + 1064, OBJ - 1064, 0));

	/* byte-range merge; zero-length write on an existing object */
	memset(b, 0x77, 8);
	assert_int_equal(store_write_obj(st, oid, 1060, 8, b), SD_RES_SUCCESS);
	assert_int_equal(store_write_obj(st, oid, OBJ, 0, b), SD_RES_SUCCESS);
	assert_int_equal(store_read_obj(st, oid, 1056, 16, b), SD_RES_SUCCESS);
	assert_true(all_equal(b, 4, 0x5a));
	assert_true(all_equal(b + 4, 8, 0x77));
	assert_true(all_equal(b + 12, 4, 0));
	/* the last byte */
	b[0] = 9;
	assert_int_equal(store_write_obj(st, oid, OBJ - 1, 1, b), SD_RES_SUCCESS);
	assert_int_equal(store_read_obj(st, oid, OBJ - 1, 1, b + 1), SD_RES_SUCCESS);
	assert_int_equal(b[1], 9);

	/* create replaces: no old bytes survive (§6.3) */
	memset(big, 0xaa, OBJ);
	assert_int_equal(store_create_and_write_obj(st, oid, 0, 0, 0, (uint32_t)OBJ, big), SD_RES_SUCCESS);
	memset(b, 0x01, 4);
	assert_int_equal(store_create_and_write_obj(st, oid, 0, 0, 4, 4, b), SD_RES_SUCCESS);
	assert_int_equal(store_read_obj(st, oid, 0, (uint32_t)OBJ, big), SD_RES_SUCCESS);
	assert_true(all_equal(big, 4, 0));
	assert_true(all_equal(big + 4, 4, 1));
	assert_true(all_equal(big + 8, OBJ - 8, 0));
	free(big);
}

static void test_ranges_and_kinds(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	uint32_t v, v20;
	uint8_t b[64] = {0};

	assert_int_equal(tnew(st, "r", GiB, 0, 0, 0, &v), SD_RES_SUCCESS);
	assert_int_equal(tnew(st, "r20", GiB, 0, 0, 20, &v20), SD_RES_SUCCESS);
	uint64_t oid = sd_data_oid(v, 0);
	assert_int_equal(store_create_and_write_obj(st, oid, 0, 0, 0, 4, b), SD_RES_SUCCESS);
	assert_int_equal(store_read_obj(st, oid, OBJ - 63, 64, b), SD_RES_INVALID_PARMS);
	assert_int_equal(store_read_obj(st, oid, UINT64_MAX - 10, 64, b), SD_RES_INVALID_PARMS);
	assert_int_equal(store_write_obj(st, oid, OBJ, 1, b), SD_RES_INVALID_PARMS);
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(v, 1), 0, 0, OBJ - 4, 8, b),
			 SD_RES_INVALID_PARMS);
	/* a 1 MiB-object VDI: its own limit */
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(v20, 0), 0, 0, (1 << 20) - 4, 8, b),
			 SD_RES_INVALID_PARMS);
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(v20, 0), 0, 0, (1 << 20) - 8, 8, b),
			 SD_RES_SUCCESS);
	/* COW across object sizes cannot be right */
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(v, 2), 1, sd_data_oid(v20, 0), 0, 8, b),
			 SD_RES_INVALID_PARMS);
	/* inode: full view and not one byte more */
	uint8_t *ino = malloc(SD_INODE_SIZE + 1);
	assert_non_null(ino);
	assert_int_equal(store_read_obj(st, sd_inode_oid(v), 0, SD_INODE_SIZE, ino), SD_RES_SUCCESS);
	assert_int_equal(sd_get32(ino + SD_INODE_OFF_VDI_ID), v);
	assert_true(all_equal(ino + SD_INODE_INDEX_OFF, SD_INODE_INDEX_SIZE, 0));
	assert_int_equal(store_read_obj(st, sd_inode_oid(v), 0, SD_INODE_SIZE + 1, ino), SD_RES_INVALID_PARMS);
	assert_int_equal(store_read_obj(st, sd_inode_oid(v), SD_INODE_SIZE, 0, ino), SD_RES_SUCCESS);
	free(ino);
	/* oid kinds: attribute, btree, ledger, reserved bits, big index */
	assert_int_equal(store_read_obj(st, SD_VDI_ATTR_BIT | oid, 0, 4, b), SD_RES_INVALID_PARMS);
	assert_int_equal(store_read_obj(st, SD_VDI_BTREE_BIT | oid, 0, 4, b), SD_RES_INVALID_PARMS);
	assert_int_equal(store_read_obj(st, SD_LEDGER_BIT | oid, 0, 4, b), SD_RES_INVALID_PARMS);
	assert_int_equal(store_read_obj(st, (UINT64_C(1) << 56) | oid, 0, 4, b), SD_RES_INVALID_PARMS);
	assert_int_equal(store_write_obj(st, sd_data_oid(v, SD_MAX_DATA_OBJS), 0, 4, b), SD_RES_INVALID_PARMS);
	assert_int_equal(store_read_obj(st, sd_inode_oid(v) | 1, 0, 4, b), SD_RES_INVALID_PARMS);
	/* QEMU never creates inodes */
	assert_int_equal(store_create_and_write_obj(st, sd_inode_oid(v), 0, 0, 0, 4, b), SD_RES_INVALID_PARMS);
}

static void test_cow(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	uint32_t s, w;
	uint8_t *big = malloc(OBJ), b[16];

	assert_non_null(big);
	assert_int_equal(tnew(st, "cow", GiB, 0, 0, 0, &s), SD_RES_SUCCESS);
	for (size_t i = 0; i < OBJ; i++)
		big[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(s, 4), 0, 0, 0, (uint32_t)OBJ, big),
			 SD_RES_SUCCESS);
	assert_int_equal(tset_slot(st, s, 4, s), SD_RES_SUCCESS);
	assert_int_equal(tnew(st, "cow", GiB, s, 1, 0, &w), SD_RES_SUCCESS);

	/* the snapshot's data is frozen (§6.2, §6.3); its vmstate is not */
	assert_int_equal(store_write_obj(st, sd_data_oid(s, 4), 0, 4, b), SD_RES_READONLY);
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(s, 4), 0, 0, 0, 4, b), SD_RES_READONLY);
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(s, 9), 0, 0, 0, 4, b), SD_RES_READONLY);
	assert_int_equal(store_create_and_write_obj(st, sd_vmstate_oid(s, 0), 0, 0, 0, 4, "abcd"),
			 SD_RES_SUCCESS);
	assert_int_equal(store_write_obj(st, sd_vmstate_oid(s, 0), 2, 2, "XY"), SD_RES_SUCCESS);
	assert_int_equal(store_read_obj(st, sd_vmstate_oid(s, 0), 0, 4, b), SD_RES_SUCCESS);
	assert_memory_equal(b, "abXY", 4);
	/* reads of the snapshot are always allowed */
	assert_int_equal(store_read_obj(st, sd_data_oid(s, 4), 0, 16, b), SD_RES_SUCCESS);
	assert_memory_equal(b, big, 16);

	/* COW: a copy of the source, then the payload */
	memset(b, 0xcc, sizeof(b));
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(w, 4), 1, sd_data_oid(s, 4), 4096, 16, b),
			 SD_RES_SUCCESS);
	uint8_t *got = malloc(OBJ);
	assert_non_null(got);
	assert_int_equal(store_read_obj(st, sd_data_oid(w, 4), 0, (uint32_t)OBJ, got), SD_RES_SUCCESS);
	assert_memory_equal(got, big, 4096);
	assert_true(all_equal(got + 4096, 16, 0xcc));
	assert_memory_equal(got + 4112, big + 4112, OBJ - 4112);
	/* the source is untouched */
	assert_int_equal(store_read_obj(st, sd_data_oid(s, 4), 4096, 16, b), SD_RES_SUCCESS);
	assert_memory_equal(b, big + 4096, 16);
	/* missing source: NO_OBJ, unless the payload covers everything */
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(w, 5), 1, sd_data_oid(s, 5), 0, 16, b),
			 SD_RES_NO_OBJ);
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(w, 5), 1, sd_data_oid(s, 5), 0,
						    (uint32_t)OBJ, big), SD_RES_SUCCESS);
	assert_int_equal(store_read_obj(st, sd_data_oid(w, 5), OBJ - 16, 16, b), SD_RES_SUCCESS);
	assert_memory_equal(b, big + OBJ - 16, 16);
	free(big);
	free(got);
}

static void test_inode_io(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	uint32_t v, o;
	uint8_t h[SD_INODE_HEADER_SIZE], b[32];

	assert_int_equal(tnew(st, "ino", GiB, 0, 0, 0, &v), SD_RES_SUCCESS);
	assert_int_equal(tnew(st, "other", GiB, 0, 0, 0, &o), SD_RES_SUCCESS);
	assert_int_equal(theader(st, v, h), SD_RES_SUCCESS);
	/* unchanged header, and a zero-length write at the end of the index */
	assert_int_equal(store_write_obj(st, sd_inode_oid(v), 0, SD_INODE_HEADER_SIZE, h), SD_RES_SUCCESS);
	assert_int_equal(store_write_obj(st, sd_inode_oid(v), SD_INODE_SIZE, 0, h), SD_RES_SUCCESS);
	assert_int_equal(store_write_obj(st, sd_inode_oid(v), SD_INODE_INDEX_OFF + 4 * 256, 0, h),
			 SD_RES_SUCCESS);
	/* refused header changes */
	h[0] = 'X';
	assert_int_equal(store_write_obj(st, sd_inode_oid(v), 0, SD_INODE_HEADER_SIZE, h), SD_RES_INVALID_PARMS);
	h[0] = 'i';
	sd_put32(h + SD_INODE_OFF_VDI_ID, o);
	assert_int_equal(store_write_obj(st, sd_inode_oid(v), 0, SD_INODE_HEADER_SIZE, h), SD_RES_INVALID_PARMS);
	sd_put32(h + SD_INODE_OFF_VDI_ID, v);
	sd_put64(h + SD_INODE_OFF_VDI_SIZE, GiB / 2);
	assert_int_equal(store_write_obj(st, sd_inode_oid(v), 0, SD_INODE_HEADER_SIZE, h), SD_RES_INVALID_PARMS);
	/* resize (grow) is kept */
	sd_put64(h + SD_INODE_OFF_VDI_SIZE, 3 * GiB);
	assert_int_equal(store_write_obj(st, sd_inode_oid(v), 0, SD_INODE_HEADER_SIZE, h), SD_RES_SUCCESS);
	assert_int_equal(theader(st, v, h), SD_RES_SUCCESS);
	assert_true(sd_get64(h + SD_INODE_OFF_VDI_SIZE) == 3 * GiB);
	assert_string_equal((char *)h, "ino");
	/* the refused writes changed nothing */
	assert_int_equal(sd_get32(h + SD_INODE_OFF_VDI_ID), v);

	/* index: QEMU's [mn, mx] update, with an unchanged slot in between */
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(v, 10), 0, 0, 0, 4, b), SD_RES_SUCCESS);
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(v, 12), 0, 0, 0, 4, b), SD_RES_SUCCESS);
	sd_put32(b, v);
	sd_put32(b + 4, 0);
	sd_put32(b + 8, v);
	assert_int_equal(store_write_obj(st, sd_inode_oid(v), SD_INODE_INDEX_OFF + 40, 12, b), SD_RES_SUCCESS);
	assert_int_equal(tslot(st, v, 10), v);
	assert_int_equal(tslot(st, v, 11), 0);
	assert_int_equal(tslot(st, v, 12), v);
	/* a foreign vid is refused and changes nothing */
	assert_int_equal(tset_slot(st, v, 11, o), SD_RES_INVALID_PARMS);
	assert_int_equal(tslot(st, v, 11), 0);
	/* discard: one slot to 0 */
	assert_int_equal(tset_slot(st, v, 12, 0), SD_RES_SUCCESS);
	assert_int_equal(tslot(st, v, 12), 0);
	/* a write spanning the header's end and the first slot */
	uint8_t span[8];
	memcpy(span, h + SD_INODE_HEADER_SIZE - 4, 4);
	sd_put32(span + 4, v);
	assert_int_equal(store_write_obj(st, sd_inode_oid(v), SD_INODE_HEADER_SIZE - 4, 8, span), SD_RES_SUCCESS);
	assert_int_equal(tslot(st, v, 0), v);
	/* the full inode read shows both */
	uint8_t *ino = malloc(SD_INODE_SIZE);
	assert_non_null(ino);
	assert_int_equal(store_read_obj(st, sd_inode_oid(v), 0, SD_INODE_SIZE, ino), SD_RES_SUCCESS);
	assert_memory_equal(ino, h, SD_INODE_HEADER_SIZE);
	assert_int_equal(sd_get32(ino + SD_INODE_INDEX_OFF + 40), v);
	assert_int_equal(sd_get32(ino + SD_INODE_INDEX_OFF), v);
	free(ino);
	/* header writes to a snapshot's inode are allowed (tag) */
	uint32_t w;
	assert_int_equal(tnew(st, "ino", GiB, v, 1, 0, &w), SD_RES_SUCCESS);
	assert_int_equal(theader(st, v, h), SD_RES_SUCCESS);
	memcpy(h + SD_INODE_OFF_TAG, "late", 4);
	assert_int_equal(store_write_obj(st, sd_inode_oid(v), 0, SD_INODE_HEADER_SIZE, h), SD_RES_SUCCESS);
	assert_int_equal(tlookup(st, "ino", "late", 0, &o), SD_RES_SUCCESS);
	assert_int_equal(o, v);
}

static void test_flush_and_stats(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	struct store_stats s0, s1;
	uint32_t v;
	uint8_t b[8] = {1};

	assert_int_equal(store_get_stats(st, &s0), 0);
	assert_true(s0.vdis == 0);
	assert_int_equal(tnew(st, "fl", GiB, 0, 0, 0, &v), SD_RES_SUCCESS);
	assert_int_equal(store_flush_vdi(st, sd_inode_oid(v)), SD_RES_SUCCESS);
	assert_int_equal(store_flush_vdi(st, sd_inode_oid(0x424242)), SD_RES_NO_VDI);
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(v, 0), 0, 0, 0, 8, b), SD_RES_SUCCESS);
	assert_int_equal(store_create_and_write_obj(st, sd_data_oid(v, 1), 0, 0, 0, 8, b), SD_RES_SUCCESS);
	assert_int_equal(store_get_stats(st, &s1), 0);
	assert_true(s1.vdis == 1);
	assert_true(s1.objects >= s0.objects + 2);
	assert_true(s1.bytes >= s0.bytes + 2 * OBJ);
	assert_int_equal(tdel(st, "fl", NULL, 0, NULL), SD_RES_SUCCESS);
	assert_int_equal(store_flush_vdi(st, sd_inode_oid(v)), SD_RES_NO_VDI);
	assert_int_equal(store_get_stats(st, &s1), 0);
	assert_true(s1.vdis == 0);
	assert_true(s1.objects == s0.objects);
	assert_string_equal(store_backend_name(st), "plain");
}

struct wctx {
	struct store *st;
	uint64_t oid;
	int id, res;
};

static void *writer(void *arg)
{
	struct wctx *c = arg;
	uint8_t b[512];
	for (int round = 0; round < 20 && !c->res; round++) {
		memset(b, (uint8_t)(c->id * 16 + round), sizeof(b));
		c->res = store_write_obj(c->st, c->oid, (uint64_t)c->id * sizeof(b), sizeof(b), b);
	}
	return NULL;
}

/* §11.7: disjoint concurrent writes to one object all land. */
static void test_concurrent_disjoint(void **state)
{
	struct tstore *ts = *state;
	uint32_t v;
	uint8_t z[4] = {0};
	assert_int_equal(tnew(ts->st, "cc", GiB, 0, 0, 0, &v), SD_RES_SUCCESS);
	uint64_t oid = sd_data_oid(v, 0);
	assert_int_equal(store_create_and_write_obj(ts->st, oid, 0, 0, 0, 4, z), SD_RES_SUCCESS);
	pthread_t th[4];
	struct wctx c[4];
	for (int i = 0; i < 4; i++) {
		c[i] = (struct wctx){ .st = ts->st, .oid = oid, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, writer, &c[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(c[i].res, SD_RES_SUCCESS);
	}
	uint8_t got[2048];
	assert_int_equal(store_read_obj(ts->st, oid, 0, sizeof(got), got), SD_RES_SUCCESS);
	for (int i = 0; i < 4; i++)
		assert_true(all_equal(got + i * 512, 512, (uint8_t)(i * 16 + 19)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_read_write, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_ranges_and_kinds, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_cow, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_inode_io, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_flush_and_stats, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_disjoint, tstore_setup, tstore_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

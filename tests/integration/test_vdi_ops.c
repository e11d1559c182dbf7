/*
 * test_vdi_ops.c: VDI life cycle against a real sheepnode, through the
 * client library's QEMU-like disk layer (tools/sdclient.h), checking the
 * server's state after each step against the spec (§5, §6, §7, §9).
 */
#include "tests/integration/itest.h"

#define MiB (UINT64_C(1) << 20)
#define OBJ (4 * MiB)

/* ------------------------------------------------------------- helpers */

static uint32_t vdi_create(const struct sd_addr *a, const char *name, uint64_t size,
			   uint32_t base)
{
	struct sd_client *s;
	struct sd_vdi_new_args na = { .name = name, .size = size, .base_vid = base };
	uint32_t vid = 0;
	int ret;

	assert_int_equal(sd_client_connect(&s, a), 0);
	ret = sd_vdi_new(s, &na, &vid);
	sd_client_close(s);
	if (ret)
		print_error("NEW_VDI %s: %s\n", name, sd_client_strerror(ret));
	assert_int_equal(ret, 0);
	assert_int_not_equal(vid, 0);
	return vid;
}

static void srv_header(const struct sd_addr *a, uint32_t vid, struct sd_inode_hdr *h)
{
	struct sd_client *s;
	uint8_t buf[SD_INODE_HEADER_SIZE];
	int ret;

	assert_int_equal(sd_client_connect(&s, a), 0);
	ret = sd_inode_read_header(s, vid, buf, SD_FLAG_CMD_CACHE);
	sd_client_close(s);
	if (ret)
		print_error("read header of %#x: %s\n", vid, sd_client_strerror(ret));
	assert_int_equal(ret, 0);
	sd_inode_hdr_decode(h, buf);
}

/* Index slot i as stored on the server (a 4-byte inode read). */
static uint32_t srv_slot(const struct sd_addr *a, uint32_t vid, uint32_t i)
{
	struct sd_client *s;
	uint8_t b[4];
	int ret;

	assert_int_equal(sd_client_connect(&s, a), 0);
	ret = sd_obj_read(s, sd_inode_oid(vid), SD_INODE_INDEX_OFF + 4 * (uint64_t)i, 4, b,
			  SD_FLAG_CMD_CACHE, 0);
	sd_client_close(s);
	assert_int_equal(ret, 0);
	return sd_get32(b);
}

static int srv_info(const struct sd_addr *a, const char *name, const char *tag,
		    uint32_t snapid, uint32_t *vid)
{
	struct sd_client *s;
	int ret;

	assert_int_equal(sd_client_connect(&s, a), 0);
	ret = sd_vdi_info(s, name, tag, snapid, vid);
	sd_client_close(s);
	return ret;
}

static uint8_t *srv_bitmap(const struct sd_addr *a)
{
	struct sd_client *s;
	uint8_t *bm = malloc(SD_BITMAP_SIZE);
	int ret;

	assert_non_null(bm);
	assert_int_equal(sd_client_connect(&s, a), 0);
	ret = sd_read_vdis(s, bm);
	sd_client_close(s);
	assert_int_equal(ret, 0);
	return bm;
}

static size_t bitmap_count(const uint8_t *bm)
{
	size_t n = 0;

	for (size_t i = 0; i < SD_BITMAP_SIZE; i++)
		n += (size_t)__builtin_popcount(bm[i]);
	return n;
}

static struct sd_disk *disk_open(const struct sd_addr *a, const char *name, const char *tag,
				 uint32_t snapid)
{
	struct sd_disk *d = NULL;
	int ret = sd_disk_open(&d, a, name, tag, snapid, 0);

	if (ret)
		print_error("open %s (tag '%s', snapid %u): %s\n", name, tag ? tag : "", snapid,
			    sd_client_strerror(ret));
	assert_int_equal(ret, 0);
	return d;
}

/* Write pattern seed over [off, off+len) through the disk, checking it. */
static void disk_put(struct sd_disk *d, uint64_t off, size_t len, uint32_t seed)
{
	uint8_t *b = malloc(len);
	int ret;

	assert_non_null(b);
	itest_pattern(b, len, off, seed);
	ret = sd_disk_write(d, off, len, b);
	if (ret)
		print_error("write %zu at %llu: %s\n", len, (unsigned long long)off,
			    sd_client_strerror(ret));
	assert_int_equal(ret, 0);
	free(b);
}

static void disk_expect(struct sd_disk *d, uint64_t off, size_t len, uint32_t seed)
{
	uint8_t *b = malloc(len);
	int ret;

	assert_non_null(b);
	memset(b, 0xa5, len);
	ret = sd_disk_read(d, off, len, b);
	if (ret)
		print_error("read %zu at %llu: %s\n", len, (unsigned long long)off,
			    sd_client_strerror(ret));
	assert_int_equal(ret, 0);
	if (seed)
		assert_true(itest_pattern_check(b, len, off, seed));
	else
		assert_true(itest_is_zero(b, len));
	free(b);
}

/* Create, write across an object boundary, read back, snapshot, COW, read
 * both: the part every transport must carry. Returns the working vid. */
static uint32_t basic_io(const struct sd_addr *a, const char *name)
{
	struct sd_disk *d, *snap;
	uint32_t v1, v2;

	v1 = vdi_create(a, name, 64 * MiB, 0);
	assert_int_equal(v1, sd_vid_start(name, SD_NAME_LEN));    /* fresh store, §5.3 */
	d = disk_open(a, name, NULL, 0);
	assert_int_equal(sd_disk_vid(d), v1);
	disk_put(d, OBJ - 4096, 8192, 1);
	disk_expect(d, OBJ - 4096, 8192, 1);
	disk_expect(d, OBJ - 8192, 4096, 0);            /* rest of object 0 is zero */
	disk_expect(d, OBJ + 4096, 4096, 0);
	assert_int_equal(sd_disk_flush(d), 0);
	assert_int_equal(sd_disk_snapshot(d, "s1", 0, 0), 0);
	v2 = sd_disk_vid(d);
	assert_int_equal(v2, v1 + 1);                   /* §9.4 */
	disk_put(d, OBJ - 2048, 4096, 2);               /* COW both objects */
	disk_expect(d, OBJ - 4096, 2048, 1);
	disk_expect(d, OBJ - 2048, 4096, 2);
	disk_expect(d, OBJ + 2048, 2048, 1);
	snap = disk_open(a, name, "s1", 0);
	assert_int_equal(sd_disk_vid(snap), v1);
	disk_expect(snap, OBJ - 4096, 8192, 1);
	assert_int_equal(sd_disk_close(snap), 0);
	assert_int_equal(sd_disk_close(d), 0);
	return v2;
}

/* --------------------------------------------------------------- tests */

static void test_cluster_default(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_client *c = itest_connect(n);
	uint8_t copies = 0, policy = 0xff, shift = 0;

	assert_int_equal(sd_cluster_default(c, &copies, &policy, &shift), 0);
	assert_int_equal(shift, 22);            /* §5.10: 20-31, 22 recommended */
	assert_true(copies >= 1 && copies <= SD_MAX_COPIES);
	assert_int_equal(policy, 0);
	sd_client_close(c);
}

/* The whole life cycle on TCP, then a restart of the daemon. */
static void test_lifecycle(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_addr a = itest_addr(n, NULL);
	struct sd_inode_hdr h, h1, h2;
	struct sd_disk *d, *snap, *cl;
	struct sd_client *s;
	uint8_t *bm, *bm_before;
	uint32_t v1, v2, v3, vid;
	int ret;

	/* create (§9.1) */
	v1 = vdi_create(&a, "itest", 64 * MiB, 0);
	assert_int_equal(v1, sd_vid_start("itest", SD_NAME_LEN));
	assert_int_equal(sd_client_connect(&s, &a), 0);
	{
		struct sd_vdi_new_args na = { .name = "itest", .size = 64 * MiB };

		assert_int_equal(sd_vdi_new(s, &na, NULL), SD_RES_VDI_EXIST);
	}
	sd_client_close(s);
	srv_header(&a, v1, &h);
	assert_string_equal(h.name, "itest");
	assert_string_equal(h.tag, "");
	assert_int_equal(h.vdi_id, v1);
	assert_true(h.vdi_size == 64 * MiB);
	assert_true(h.snap_ctime == 0);
	assert_true(h.create_time != 0);
	assert_int_equal(h.snap_id, 1);
	assert_int_equal(h.parent_vdi_id, 0);
	assert_int_equal(h.block_size_shift, 22);
	assert_int_equal(h.store_policy, 0);
	assert_true(h.nr_copies >= 1);

	/* open (§7.1): full inode, index all zero */
	d = disk_open(&a, "itest", NULL, 0);
	assert_int_equal(sd_disk_vid(d), v1);
	assert_true(sd_disk_size(d) == 64 * MiB);
	assert_int_equal(sd_disk_obj_size(d), OBJ);
	assert_true(itest_is_zero(sd_disk_inode(d) + SD_INODE_INDEX_OFF, SD_INODE_INDEX_SIZE));

	/* write across the object boundary (§7.4), read back (§7.3) */
	disk_put(d, OBJ - 4096, 8192, 11);
	disk_expect(d, OBJ - 4096, 8192, 11);
	disk_expect(d, 0, OBJ - 4096, 0);
	disk_expect(d, OBJ + 4096, OBJ - 4096, 0);
	assert_int_equal(srv_slot(&a, v1, 0), v1);
	assert_int_equal(srv_slot(&a, v1, 1), v1);
	assert_int_equal(srv_slot(&a, v1, 2), 0);
	/* an overwrite of an own object is a plain WRITE_OBJ */
	disk_put(d, 512, 512, 12);
	disk_expect(d, 512, 512, 12);
	assert_int_equal(sd_disk_flush(d), 0);

	/* snapshot (§7.7, §9.4) */
	assert_int_equal(sd_disk_snapshot(d, "s1", 0, 0), 0);
	v2 = sd_disk_vid(d);
	assert_int_equal(v2, v1 + 1);
	srv_header(&a, v1, &h1);
	srv_header(&a, v2, &h2);
	assert_true(h1.snap_ctime != 0);
	assert_string_equal(h1.tag, "s1");
	assert_int_equal(h1.snap_id, 1);
	assert_string_equal(h2.name, "itest");
	assert_true(h2.snap_ctime == 0);
	assert_string_equal(h2.tag, "");
	assert_int_equal(h2.snap_id, 2);
	assert_int_equal(h2.parent_vdi_id, v1);
	assert_int_equal(h2.vdi_id, v2);
	assert_true(h2.vdi_size == 64 * MiB);
	assert_int_equal(srv_slot(&a, v2, 0), v1);      /* index copied exactly */
	assert_int_equal(srv_slot(&a, v2, 1), v1);
	assert_int_equal(srv_slot(&a, v2, 2), 0);

	/* snapshot data objects are read-only (§6.2, §11.9) */
	assert_int_equal(sd_client_connect(&s, &a), 0);
	{
		uint8_t b[512] = { 1 };

		assert_int_equal(sd_obj_write(s, sd_data_oid(v1, 0), 0, sizeof(b), b,
					      SD_FLAG_CMD_CACHE, 1), SD_RES_READONLY);
		assert_int_equal(sd_obj_create(s, sd_data_oid(v1, 5), 0, 0, sizeof(b), b,
					       SD_FLAG_CMD_CACHE, 1), SD_RES_READONLY);
	}
	sd_client_close(s);

	/* copy-on-write to the working VDI */
	disk_put(d, OBJ - 2048, 4096, 21);
	assert_int_equal(srv_slot(&a, v2, 0), v2);
	assert_int_equal(srv_slot(&a, v2, 1), v2);
	disk_expect(d, 512, 512, 12);                   /* copied from the snapshot */
	disk_expect(d, OBJ - 4096, 2048, 11);
	disk_expect(d, OBJ - 2048, 4096, 21);
	disk_expect(d, OBJ + 2048, 2048, 11);

	/* the snapshot still has the old data, by tag and by id (§9.6) */
	snap = disk_open(&a, "itest", "s1", 0);
	assert_int_equal(sd_disk_vid(snap), v1);
	disk_expect(snap, OBJ - 4096, 8192, 11);
	disk_expect(snap, 512, 512, 12);
	assert_int_equal(sd_disk_close(snap), 0);
	snap = disk_open(&a, "itest", NULL, 1);
	assert_int_equal(sd_disk_vid(snap), v1);
	disk_expect(snap, OBJ - 4096, 8192, 11);
	assert_int_equal(sd_disk_close(snap), 0);

	/* lookups (§5.4) */
	assert_int_equal(srv_info(&a, "itest", NULL, 0, &vid), 0);
	assert_int_equal(vid, v2);
	assert_int_equal(srv_info(&a, "itest", "s1", 0, &vid), 0);
	assert_int_equal(vid, v1);
	assert_int_equal(srv_info(&a, "itest", "nope", 0, NULL), SD_RES_NO_TAG);
	assert_int_equal(srv_info(&a, "itest", NULL, 9, NULL), SD_RES_NO_TAG);
	assert_int_equal(srv_info(&a, "nope", NULL, 0, NULL), SD_RES_NO_VDI);
	assert_int_equal(srv_info(&a, "nope", "s1", 0, NULL), SD_RES_NO_VDI);

	/* clone from the snapshot (§5.6 clone, §7.2 backing file) */
	v3 = vdi_create(&a, "itest-clone", 64 * MiB, v1);
	srv_header(&a, v3, &h);
	assert_int_equal(h.parent_vdi_id, v1);
	assert_true(h.snap_ctime == 0);
	cl = disk_open(&a, "itest-clone", NULL, 0);
	assert_int_equal(sd_inode_slot(sd_disk_inode(cl), 0), v1);
	assert_int_equal(sd_inode_slot(sd_disk_inode(cl), 1), v1);
	disk_expect(cl, OBJ - 4096, 8192, 11);
	disk_put(cl, OBJ, 1024, 31);                    /* COW into the clone */
	assert_int_equal(srv_slot(&a, v3, 1), v3);
	assert_int_equal(srv_slot(&a, v3, 0), v1);
	disk_expect(cl, OBJ - 4096, 4096, 11);
	disk_expect(cl, OBJ, 1024, 31);
	disk_expect(cl, OBJ + 1024, 3072, 11);
	assert_int_equal(sd_disk_close(cl), 0);
	snap = disk_open(&a, "itest", "s1", 0);
	disk_expect(snap, OBJ - 4096, 8192, 11);        /* base untouched */
	assert_int_equal(sd_disk_close(snap), 0);

	/* resize, grow (§7.11) */
	assert_int_equal(sd_disk_resize(d, 128 * MiB), 0);
	srv_header(&a, v2, &h);
	assert_true(h.vdi_size == 128 * MiB);
	disk_put(d, 100 * MiB, 65536, 41);
	disk_expect(d, 100 * MiB, 65536, 41);
	assert_int_equal(sd_disk_resize(d, 64 * MiB), -EINVAL);    /* client refuses */

	/* discard object 1 (§7.6): slot 0 on the server, reads zero */
	assert_int_equal(sd_disk_discard(d, OBJ, OBJ), 0);
	assert_int_equal(srv_slot(&a, v2, 1), 0);
	assert_int_equal(srv_slot(&a, v2, 0), v2);
	disk_expect(d, OBJ, OBJ, 0);
	assert_int_equal(sd_disk_close(d), 0);
	d = disk_open(&a, "itest", NULL, 0);            /* a fresh open agrees */
	assert_int_equal(sd_inode_slot(sd_disk_inode(d), 1), 0);
	disk_expect(d, OBJ, OBJ, 0);
	disk_expect(d, OBJ - 2048, 2048, 21);
	assert_true(sd_disk_size(d) == 128 * MiB);
	/* writing a discarded object creates it again, zero-filled (§6.3) */
	disk_put(d, OBJ + 8192, 512, 42);
	disk_expect(d, OBJ, 8192, 0);
	disk_expect(d, OBJ + 8192, 512, 42);
	disk_expect(d, OBJ + 8704, OBJ - 8704, 0);
	assert_int_equal(sd_disk_close(d), 0);

	/* READ_VDIS (§5.8): exactly the three allocated vids */
	bm = srv_bitmap(&a);
	assert_true(sd_bitmap_test(bm, v1));
	assert_true(sd_bitmap_test(bm, v2));
	assert_true(sd_bitmap_test(bm, v3));
	assert_false(sd_bitmap_test(bm, 0));
	assert_int_equal(bitmap_count(bm), 3);
	free(bm);

	/* delete the clone (§5.9): gone from lookups, bit kept, inode readable */
	assert_int_equal(sd_client_connect(&s, &a), 0);
	assert_int_equal(sd_vdi_delete(s, "itest-clone", NULL, 0, &vid), 0);
	assert_int_equal(vid, v3);
	assert_int_equal(sd_vdi_delete(s, "itest-clone", NULL, 0, NULL), SD_RES_NO_VDI);
	sd_client_close(s);
	assert_int_equal(srv_info(&a, "itest-clone", NULL, 0, NULL), SD_RES_NO_VDI);
	srv_header(&a, v3, &h);
	assert_string_equal(h.name, "");
	bm = srv_bitmap(&a);
	assert_true(sd_bitmap_test(bm, v3));
	free(bm);

	/* restart: SIGTERM, exit 0, start again on the same directory */
	bm_before = srv_bitmap(&a);
	itest_node_restart(n);
	a = itest_addr(n, NULL);
	bm = srv_bitmap(&a);
	assert_memory_equal(bm, bm_before, SD_BITMAP_SIZE);
	free(bm);
	free(bm_before);
	assert_int_equal(srv_info(&a, "itest", NULL, 0, &vid), 0);
	assert_int_equal(vid, v2);
	assert_int_equal(srv_info(&a, "itest", "s1", 0, &vid), 0);
	assert_int_equal(vid, v1);
	assert_int_equal(srv_info(&a, "itest-clone", NULL, 0, NULL), SD_RES_NO_VDI);
	d = disk_open(&a, "itest", NULL, 0);
	assert_true(sd_disk_size(d) == 128 * MiB);
	disk_expect(d, 512, 512, 12);
	disk_expect(d, OBJ - 4096, 2048, 11);
	disk_expect(d, OBJ - 2048, 2048, 21);
	disk_expect(d, OBJ, 8192, 0);
	disk_expect(d, OBJ + 8192, 512, 42);
	disk_expect(d, 100 * MiB, 65536, 41);
	assert_int_equal(sd_disk_close(d), 0);
	snap = disk_open(&a, "itest", "s1", 0);
	disk_expect(snap, OBJ - 4096, 8192, 11);
	assert_int_equal(sd_disk_close(snap), 0);

	/* delete the snapshot by id (QEMU's DEL_VDI with 512 bytes, §7.10) */
	assert_int_equal(sd_client_connect(&s, &a), 0);
	ret = sd_vdi_delete(s, "itest", NULL, 1, &vid);
	assert_int_equal(ret, 0);
	assert_int_equal(vid, v1);
	sd_client_close(s);
	assert_int_equal(srv_info(&a, "itest", "s1", 0, NULL), SD_RES_NO_TAG);
	d = disk_open(&a, "itest", NULL, 0);            /* working VDI unaffected */
	disk_expect(d, OBJ - 2048, 2048, 21);
	disk_expect(d, 512, 512, 12);
	assert_int_equal(sd_disk_close(d), 0);
}

/* §7.9: the first write to an image opened as a snapshot deletes the
 * working VDI and continues on a clone of the snapshot. */
static void test_branch_from_snapshot(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_addr a = itest_addr(n, NULL);
	struct sd_inode_hdr h;
	struct sd_disk *d;
	uint32_t v1, v2, v3, vid;

	v1 = vdi_create(&a, "br", 16 * MiB, 0);
	d = disk_open(&a, "br", NULL, 0);
	disk_put(d, 0, 8192, 51);
	assert_int_equal(sd_disk_snapshot(d, "base", 0, 0), 0);
	v2 = sd_disk_vid(d);
	disk_put(d, 0, 4096, 52);
	assert_int_equal(sd_disk_close(d), 0);

	d = disk_open(&a, "br", "base", 0);
	assert_int_equal(sd_disk_vid(d), v1);
	disk_put(d, OBJ, 4096, 53);                     /* branch happens here */
	v3 = sd_disk_vid(d);
	assert_int_not_equal(v3, v1);
	assert_int_not_equal(v3, v2);
	disk_expect(d, 0, 8192, 51);
	disk_expect(d, OBJ, 4096, 53);
	assert_int_equal(sd_disk_close(d), 0);

	assert_int_equal(srv_info(&a, "br", NULL, 0, &vid), 0);
	assert_int_equal(vid, v3);
	srv_header(&a, v3, &h);
	assert_int_equal(h.parent_vdi_id, v1);
	assert_int_equal(h.snap_id, 2);                 /* newest remaining (V1: 1) + 1, §9.6 */
	srv_header(&a, v2, &h);
	assert_string_equal(h.name, "");                /* old working VDI deleted */
	d = disk_open(&a, "br", "base", 0);             /* snapshot intact */
	disk_expect(d, 0, 8192, 51);
	disk_expect(d, OBJ, 4096, 0);
	assert_int_equal(sd_disk_close(d), 0);
}

static void test_unix_socket(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_addr a = itest_addr_unix(n);
	struct sd_addr t = itest_addr(n, NULL);
	uint32_t v, vid;

	v = basic_io(&a, "over-unix");
	assert_int_equal(srv_info(&t, "over-unix", NULL, 0, &vid), 0);  /* same store */
	assert_int_equal(vid, v);
}

static void test_ipv6(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_addr a;
	struct sd_client *c;

	if (!itest_have_ipv6()) {
		printf("no IPv6 loopback (::1) on this machine\n");
		skip();
	}
	a = itest_addr(n, "::1");
	assert_int_equal(sd_client_connect(&c, &a), 0);
	sd_client_close(c);
	basic_io(&a, "over-v6");
}

/* Odd but legal things QEMU 5.2 sends (§0, §4.5, §5.7, §7.10, §7.14), and
 * the refusals the spec recommends for what QEMU can never use (§5.6). */
static void test_qemu_quirks(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_addr a = itest_addr(n, NULL);
	struct sd_client *s;
	struct sd_disk *d;
	struct sd_inode_hdr h;
	uint8_t zeros[512] = { 0 };
	char tag256[SD_TAG_LEN + 1];
	uint32_t v1, v2, vid;
	int ret;

	v1 = vdi_create(&a, "quirk", 16 * MiB, 0);
	d = disk_open(&a, "quirk", NULL, 0);
	disk_put(d, 0, 4096, 61);
	disk_put(d, 3 * OBJ, 4096, 62);
	s = sd_disk_conn(d);
	/* §7.14: a flush re-sent after reconnect is a zero-length inode write at 0 */
	assert_int_equal(sd_obj_write(s, sd_inode_oid(v1), 0, 0, NULL,
				      SD_FLAG_CMD_CACHE, 1), 0);
	/* §4.5: zero-length writes up to the end of the index */
	assert_int_equal(sd_obj_write(s, sd_inode_oid(v1), SD_INODE_INDEX_OFF + 4 * 4, 0, NULL,
				      SD_FLAG_CMD_CACHE, 1), 0);
	assert_int_equal(sd_obj_write(s, sd_inode_oid(v1), SD_INODE_SIZE, 0, NULL,
				      SD_FLAG_CMD_CACHE, 1), 0);
	/* §6.4: either answer is compliant */
	ret = sd_vdi_flush(s, v1, SD_FLAG_CMD_CACHE, 1);
	assert_true(ret == 0 || ret == SD_RES_INVALID_PARMS);
	assert_int_equal(sd_disk_close(d), 0);

	assert_int_equal(sd_client_connect(&s, &a), 0);
	/* §5.7: no exclusive locks by default; release always succeeds */
	assert_int_equal(sd_vdi_lock(s, "quirk", NULL, 0, &vid), 0);
	assert_int_equal(sd_vdi_lock(s, "quirk", NULL, 0, &vid), 0);
	assert_int_equal(vid, v1);
	assert_int_equal(sd_vdi_release(s, "quirk", v1), 0);
	/* §5.7: GET_VDI_INFO with a 256-byte payload (name only) */
	{
		uint8_t name[SD_NAME_LEN] = "quirk";
		struct sd_req r = { .proto_ver = 1, .opcode = SD_OP_GET_VDI_INFO,
				    .flags = SD_FLAG_CMD_WRITE, .data_length = SD_NAME_LEN };
		struct sd_rsp rsp;

		assert_int_equal(sd_client_request(s, &r, name, NULL, 0, &rsp), 0);
		assert_int_equal(rsp.vdi.vdi_id, v1);
	}
	/* §5.6 refusals: too large, erasure code, shift other than the base's */
	{
		struct sd_vdi_new_args na = { .name = "toolarge", .size = (UINT64_C(4) << 40) + OBJ };

		assert_int_equal(sd_vdi_new(s, &na, NULL), SD_RES_INVALID_PARMS);
		na = (struct sd_vdi_new_args){ .name = "ec", .size = OBJ, .copies = 3,
					       .copy_policy = 0x11 };
		assert_int_equal(sd_vdi_new(s, &na, NULL), SD_RES_INVALID_PARMS);
	}
	sd_client_close(s);

	/* snapshot with a tag filling all 256 bytes (QEMU may write that, §4.2) */
	memset(tag256, 'g', SD_TAG_LEN);
	tag256[SD_TAG_LEN] = 0;
	d = disk_open(&a, "quirk", NULL, 0);
	assert_int_equal(sd_disk_snapshot(d, tag256, 0, 0), 0);
	v2 = sd_disk_vid(d);
	srv_header(&a, v1, &h);
	assert_true(h.snap_ctime != 0);
	assert_int_equal(strlen(h.tag), SD_TAG_LEN);
	assert_memory_equal(h.tag, tag256, SD_TAG_LEN);
	{
		struct sd_vdi_new_args na = { .name = "quirk-cl", .size = 16 * MiB, .base_vid = v1,
					      .block_size_shift = 23 };

		assert_int_equal(sd_client_connect(&s, &a), 0);
		assert_int_equal(sd_vdi_new(s, &na, NULL), SD_RES_INVALID_PARMS);
		sd_client_close(s);
	}

	/* §7.10 snapshot delete as QEMU does it: zero the WORKING index in
	 * slices, end with a zero-length write at 4664 + 4 * nr_objects, then
	 * LOCK_VDI and DEL_VDI (512 bytes) by snapshot id */
	assert_int_equal(sd_client_connect(&s, &a), 0);
	assert_int_equal(sd_obj_write(s, sd_inode_oid(v2), SD_INODE_INDEX_OFF, 16, zeros,
				      SD_FLAG_CMD_CACHE, 1), 0);
	assert_int_equal(sd_obj_write(s, sd_inode_oid(v2), SD_INODE_INDEX_OFF + 4 * 4, 0, NULL,
				      SD_FLAG_CMD_CACHE, 1), 0);
	assert_int_equal(sd_vdi_lock(s, "quirk", NULL, 1, &vid), 0);
	assert_int_equal(vid, v1);
	assert_int_equal(sd_vdi_delete(s, "quirk", NULL, 1, &vid), 0);
	assert_int_equal(vid, v1);
	assert_int_equal(sd_vdi_delete(s, "quirk", NULL, 1, NULL), SD_RES_NO_TAG);
	sd_client_close(s);
	assert_int_equal(sd_disk_close(d), 0);
	srv_header(&a, v1, &h);
	assert_string_equal(h.name, "");                /* §5.9: really deleted */
	assert_true(h.vdi_size == 0);
	d = disk_open(&a, "quirk", NULL, 0);            /* working reads zeros now */
	assert_int_equal(sd_disk_vid(d), v2);
	disk_expect(d, 0, 4096, 0);
	disk_expect(d, 3 * OBJ, 4096, 0);
	assert_int_equal(sd_disk_close(d), 0);
}

/* §5.3/§5.4 linear probing with real hash collisions. The names were found
 * offline by brute force; the asserts on sd_hash_vid re-check them. */
static void test_vid_probing(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_addr a = itest_addr(n, NULL);
	struct sd_client *s;
	struct sd_inode_hdr h;
	uint8_t *bm;
	uint32_t vid;
	const char *col1 = "c25742012", *col2 = "c37208184";     /* hash like "test" */
	const char *top1 = "c22254066", *top2 = "c23133036";     /* hash 0xffffff */
	const char *zero = "z10376570";                          /* hash 0 */

	assert_int_equal(sd_hash_vid(col1, SD_NAME_LEN), 0x7c2b25);
	assert_int_equal(sd_hash_vid(col2, SD_NAME_LEN), 0x7c2b25);
	assert_int_equal(sd_hash_vid(top1, SD_NAME_LEN), 0xffffff);
	assert_int_equal(sd_hash_vid(top2, SD_NAME_LEN), 0xffffff);
	assert_int_equal(sd_hash_vid(zero, SD_NAME_LEN), 0);

	assert_int_equal(vdi_create(&a, "test", 8 * MiB, 0), 0x7c2b25);
	assert_int_equal(vdi_create(&a, col1, 8 * MiB, 0), 0x7c2b26);
	assert_int_equal(sd_client_connect(&s, &a), 0);
	{
		struct sd_vdi_new_args na = { .name = "test", .size = 8 * MiB,
					      .base_vid = 0x7c2b25, .snapshot = 1 };

		assert_int_equal(sd_vdi_new(s, &na, &vid), 0);
		assert_int_equal(vid, 0x7c2b27);
	}
	sd_client_close(s);
	assert_int_equal(vdi_create(&a, col2, 8 * MiB, 0), 0x7c2b28);

	assert_int_equal(srv_info(&a, "test", NULL, 0, &vid), 0);
	assert_int_equal(vid, 0x7c2b27);
	assert_int_equal(srv_info(&a, "test", NULL, 1, &vid), 0);
	assert_int_equal(vid, 0x7c2b25);
	assert_int_equal(srv_info(&a, col1, NULL, 0, &vid), 0);
	assert_int_equal(vid, 0x7c2b26);
	assert_int_equal(srv_info(&a, col2, NULL, 0, &vid), 0);
	assert_int_equal(vid, 0x7c2b28);
	assert_int_equal(srv_info(&a, col2, NULL, 1, NULL), SD_RES_NO_TAG);
	srv_header(&a, 0x7c2b27, &h);
	assert_string_equal(h.name, "test");
	assert_int_equal(h.snap_id, 2);
	assert_int_equal(h.parent_vdi_id, 0x7c2b25);

	/* a deleted VDI keeps its bit, so the run stays walkable */
	assert_int_equal(sd_client_connect(&s, &a), 0);
	assert_int_equal(sd_vdi_delete(s, col1, NULL, 0, &vid), 0);
	assert_int_equal(vid, 0x7c2b26);
	sd_client_close(s);
	assert_int_equal(srv_info(&a, col1, NULL, 0, NULL), SD_RES_NO_VDI);
	assert_int_equal(srv_info(&a, col2, NULL, 0, &vid), 0);
	assert_int_equal(vid, 0x7c2b28);
	assert_int_equal(srv_info(&a, "test", NULL, 0, &vid), 0);
	assert_int_equal(vid, 0x7c2b27);
	assert_int_equal(vdi_create(&a, col1, 8 * MiB, 0), 0x7c2b29);   /* bits never reused */
	srv_header(&a, 0x7c2b29, &h);
	assert_int_equal(h.snap_id, 1);

	/* wrap past 2^24 - 1 to 1; hash 0 starts at 1 (§5.3 step 1, 3) */
	assert_int_equal(vdi_create(&a, top1, 8 * MiB, 0), 0xffffff);
	assert_int_equal(vdi_create(&a, top2, 8 * MiB, 0), 1);
	assert_int_equal(vdi_create(&a, zero, 8 * MiB, 0), 2);
	assert_int_equal(srv_info(&a, top1, NULL, 0, &vid), 0);
	assert_int_equal(vid, 0xffffff);
	assert_int_equal(srv_info(&a, top2, NULL, 0, &vid), 0);
	assert_int_equal(vid, 1);
	assert_int_equal(srv_info(&a, zero, NULL, 0, &vid), 0);
	assert_int_equal(vid, 2);

	bm = srv_bitmap(&a);
	for (uint32_t v = 0x7c2b25; v <= 0x7c2b29; v++)
		assert_true(sd_bitmap_test(bm, v));
	assert_true(sd_bitmap_test(bm, 0xffffff));
	assert_true(sd_bitmap_test(bm, 1));
	assert_true(sd_bitmap_test(bm, 2));
	assert_false(sd_bitmap_test(bm, 0));
	assert_int_equal(bitmap_count(bm), 8);
	/* §5.8: every set bit has a readable inode header, deleted ones too */
	for (uint32_t v = 1; v < SD_NR_VDIS; v++) {
		if (!sd_bitmap_test(bm, v))
			continue;
		srv_header(&a, v, &h);
		assert_int_equal(h.vdi_id, v);
	}
	free(bm);

	/* the same after a restart */
	itest_node_restart(n);
	a = itest_addr(n, NULL);
	assert_int_equal(srv_info(&a, top2, NULL, 0, &vid), 0);
	assert_int_equal(vid, 1);
	assert_int_equal(srv_info(&a, col1, NULL, 0, &vid), 0);
	assert_int_equal(vid, 0x7c2b29);
	assert_int_equal(vdi_create(&a, "test-after", 8 * MiB, 0),
			 sd_vid_start("test-after", SD_NAME_LEN));
}

/* Object sizes other than 4 MiB (QEMU's object_size option, §4.2): the
 * shift comes from the inode and splits I/O at 1 MiB and 32 MiB. */
static void test_other_object_sizes(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_addr a = itest_addr(n, NULL);
	static const uint8_t shifts[] = { 20, 25 };

	for (size_t k = 0; k < sizeof(shifts); k++) {
		char name[32];
		uint64_t osz = UINT64_C(1) << shifts[k];
		struct sd_vdi_new_args na = { .name = name, .size = 4 * osz,
					      .block_size_shift = shifts[k] };
		struct sd_client *s;
		struct sd_inode_hdr h;
		struct sd_disk *d;
		uint32_t vid;

		snprintf(name, sizeof(name), "shift%u", shifts[k]);
		assert_int_equal(sd_client_connect(&s, &a), 0);
		assert_int_equal(sd_vdi_new(s, &na, &vid), 0);
		sd_client_close(s);
		srv_header(&a, vid, &h);
		assert_int_equal(h.block_size_shift, shifts[k]);
		d = disk_open(&a, name, NULL, 0);
		assert_true(sd_disk_obj_size(d) == osz);
		disk_put(d, osz - 8192, 3 * 8192, 80 + (uint32_t)k);   /* spans 0 -> 1 */
		disk_put(d, 3 * osz - 512, 512, 90 + (uint32_t)k);      /* end of object 2 */
		assert_int_equal(srv_slot(&a, vid, 0), vid);
		assert_int_equal(srv_slot(&a, vid, 1), vid);
		assert_int_equal(srv_slot(&a, vid, 2), vid);
		assert_int_equal(srv_slot(&a, vid, 3), 0);
		disk_expect(d, osz - 8192, 3 * 8192, 80 + (uint32_t)k);
		disk_expect(d, 3 * osz - 512, 512, 90 + (uint32_t)k);
		disk_expect(d, 2 * osz, osz - 512, 0);
		/* a whole object in one request, then read past its end fails */
		assert_int_equal(sd_client_connect(&s, &a), 0);
		{
			uint8_t *b = malloc(osz);

			assert_non_null(b);
			assert_int_equal(sd_obj_read(s, sd_data_oid(vid, 1), 0, (uint32_t)osz, b,
						     SD_FLAG_CMD_CACHE, 0), 0);
			assert_true(itest_pattern_check(b, 16384, osz, 80 + (uint32_t)k));
			assert_true(itest_is_zero(b + 16384, osz - 16384));
			assert_int_equal(sd_obj_read(s, sd_data_oid(vid, 1), 512, (uint32_t)osz, b,
						     SD_FLAG_CMD_CACHE, 0), SD_RES_INVALID_PARMS);
			free(b);
		}
		sd_client_close(s);
		assert_int_equal(sd_disk_close(d), 0);
	}
}

struct dur_ctx {
	uint32_t ids[128];
	int acked[128];
};

static int dur_lookup(void *ctx, const struct sd_rsp *rsp, void **buf, size_t *cap)
{
	struct dur_ctx *dc = ctx;

	for (int i = 0; i < 128; i++) {
		if (dc->ids[i] == rsp->id) {
			dc->acked[i] = rsp->result == 0 ? 1 : -1;
			*buf = NULL;
			*cap = 0;
			return 0;
		}
	}
	return -1;
}

/* An acknowledged write survives SIGKILL of the daemon with more writes
 * in flight (the rules: durable before acknowledged, §11.18). */
static void test_kill_durability(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_addr a = itest_addr(n, NULL);
	struct sd_disk *d;
	struct sd_client *c;
	struct dur_ctx dc;
	uint32_t vid;
	uint8_t *blk = malloc(4096);
	int acked = 0;

	assert_non_null(blk);
	vid = vdi_create(&a, "dur", 64 * MiB, 0);
	d = disk_open(&a, "dur", NULL, 0);
	disk_put(d, 0, 4 * OBJ, 71);                    /* creates + index update */
	assert_int_equal(sd_disk_close(d), 0);

	memset(&dc, 0, sizeof(dc));
	assert_int_equal(sd_client_connect(&c, &a), 0);
	for (int i = 0; i < 128; i++) {
		uint64_t pos = (uint64_t)i * 131072;     /* spread over objects 0-3 */
		struct sd_req r = { .opcode = SD_OP_WRITE_OBJ, .data_length = 4096,
				    .flags = SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE };

		itest_pattern(blk, 4096, pos, 72);
		r.id = dc.ids[i] = 1000 + (uint32_t)i;
		r.obj.oid = sd_data_oid(vid, (uint32_t)(pos / OBJ));
		r.obj.offset = pos % OBJ;
		r.obj.copies = 1;
		assert_int_equal(sd_client_send(c, &r, blk), 0);
	}
	while (acked < 48) {
		struct sd_rsp rsp;

		assert_int_equal(sd_client_recv_reply(c, &rsp, dur_lookup, &dc), 0);
		assert_int_equal(rsp.result, 0);
		acked++;
	}
	itest_node_kill(n);                             /* the rest is in flight */
	sd_client_close(c);
	assert_int_equal(itest_node_start(n), 0);
	a = itest_addr(n, NULL);

	d = disk_open(&a, "dur", NULL, 0);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(sd_inode_slot(sd_disk_inode(d), i), vid);
	for (int i = 0; i < 128; i++) {
		uint64_t pos = (uint64_t)i * 131072;

		assert_int_equal(sd_disk_read(d, pos, 4096, blk), 0);
		if (dc.acked[i] == 1 && !itest_pattern_check(blk, 4096, pos, 72))
			fail_msg("acknowledged write %d at %llu lost after SIGKILL", i,
				 (unsigned long long)pos);
		/* untouched neighbours keep the first pattern */
		disk_expect(d, pos + 4096, 4096, 71);
	}
	assert_int_equal(sd_disk_close(d), 0);
	free(blk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_default, itest_setup, itest_teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle, itest_setup, itest_teardown),
		cmocka_unit_test_setup_teardown(test_branch_from_snapshot, itest_setup, itest_teardown),
		cmocka_unit_test_setup_teardown(test_qemu_quirks, itest_setup, itest_teardown),
		cmocka_unit_test_setup_teardown(test_vid_probing, itest_setup, itest_teardown),
		cmocka_unit_test_setup_teardown(test_other_object_sizes, itest_setup, itest_teardown),
		cmocka_unit_test_setup_teardown(test_kill_durability, itest_setup, itest_teardown),
		cmocka_unit_test_setup_teardown(test_unix_socket, itest_setup, itest_teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, itest_setup, itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_store_repl.c: store/repl.c (issue 5) against real stores in temp
 * dirs (plain backend): versioned writes and the local seq, the object
 * index walk, whole-replica put/remove, and VDI export/import between two
 * stores (byte-identical inodes, bitmap and lookups; idempotence; older
 * exports refused; deletion with reclaim; malformed exports refused with
 * nothing changed; the import roll-forward at open).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <msgpack.h>
#include <sodium.h>

#include "store_test_util.h"

#define MiB (UINT64_C(1) << 20)
#define OBJ (UINT64_C(1) << 20)     /* objects of shift 20 */

struct two {
	struct tstore *a, *b;
};

static int two_setup(void **state)
{
	struct two *t = calloc(1, sizeof(*t));
	void *x = NULL, *y = NULL;
	if (!t || tstore_setup(&x) || tstore_setup(&y))
		return -1;
	t->a = x;
	t->b = y;
	*state = t;
	return 0;
}

static int two_teardown(void **state)
{
	struct two *t = *state;
	void *x = t->a, *y = t->b;
	tstore_teardown(&x);
	tstore_teardown(&y);
	free(t);
	return 0;
}

static void set_tag(struct store *st, uint32_t vid, const char *tag)
{
	uint8_t h[SD_INODE_HEADER_SIZE];
	assert_int_equal(theader(st, vid, h), SD_RES_SUCCESS);
	memset(h + SD_INODE_OFF_TAG, 0, SD_TAG_LEN);
	memcpy(h + SD_INODE_OFF_TAG, tag, strlen(tag));
	assert_int_equal(store_write_obj(st, sd_inode_oid(vid), 0, SD_INODE_HEADER_SIZE, h),
			 SD_RES_SUCCESS);
}

struct vers {
	uint32_t vid[64];
	uint64_t mver[64];
	size_t n;
};

static int vers_cb(void *ctx, uint32_t vid, uint64_t mver)
{
	struct vers *v = ctx;
	if (v->n < 64) {
		v->vid[v->n] = vid;
		v->mver[v->n] = mver;
		v->n++;
	}
	return 0;
}

static uint64_t mver_of(struct store *st, uint32_t vid)
{
	struct vers v = { .n = 0 };
	assert_int_equal(store_vdi_versions(st, vers_cb, &v), 0);
	for (size_t i = 0; i < v.n; i++)
		if (v.vid[i] == vid)
			return v.mver[i];
	return 0;
}

/* --- versioned writes, stat, list --- */

struct oids {
	uint64_t oid[64];
	uint64_t version[64];
	size_t n, stop_after;
};

static int oids_cb(void *ctx, const struct store_obj_info *o)
{
	struct oids *s = ctx;
	if (s->n < 64) {
		s->oid[s->n] = o->oid;
		s->version[s->n] = o->version;
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static void test_versioned_writes(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	struct store_obj_info info;
	uint32_t vid;
	uint8_t buf[4096];
	const uint64_t V1 = UINT64_C(1) << 40, V2 = V1 + 7, V3 = V1 + 100;

	assert_int_equal(tnew(st, "v", 16 * MiB, 0, 0, 20, &vid), SD_RES_SUCCESS);
	uint64_t o0 = sd_data_oid(vid, 0), o1 = sd_data_oid(vid, 1), o2 = sd_data_oid(vid, 2);

	assert_int_equal(store_obj_stat(st, o0, &info), SD_RES_NO_OBJ);
	memset(buf, 0xa1, sizeof(buf));
	assert_int_equal(store_create_and_write_obj_v(st, o0, 0, 0, 0, sizeof(buf), buf, V1),
			 SD_RES_SUCCESS);
	assert_int_equal(store_obj_stat(st, o0, &info), SD_RES_SUCCESS);
	assert_true(info.oid == o0 && info.version == V1 && info.size == OBJ);
	assert_int_equal(info.csum_valid, 0);           /* partial payload */
	assert_true(atomic_load(&st->seq) >= V1);

	memset(buf, 0xb2, sizeof(buf));
	assert_int_equal(store_write_obj_v(st, o0, 8192, sizeof(buf), buf, V2), SD_RES_SUCCESS);
	assert_int_equal(store_obj_stat(st, o0, &info), SD_RES_SUCCESS);
	assert_true(info.version == V2);
	uint8_t back[4096];
	assert_int_equal(store_read_obj(st, o0, 8192, sizeof(back), back), SD_RES_SUCCESS);
	assert_memory_equal(back, buf, sizeof(buf));

	/* local versions afterwards are larger than any version stored */
	assert_int_equal(store_create_and_write_obj(st, o1, 0, 0, 0, sizeof(buf), buf), SD_RES_SUCCESS);
	assert_int_equal(store_obj_stat(st, o1, &info), SD_RES_SUCCESS);
	assert_true(info.version > V2);
	uint64_t local1 = info.version;

	/* a versioned inode index write records that version for the index
	 * and moves the VDI's mver past it */
	uint64_t m0 = mver_of(st, vid);
	uint8_t slot[4];
	sd_put32(slot, vid);
	assert_int_equal(store_write_obj_v(st, sd_inode_oid(vid), SD_INODE_INDEX_OFF, 4, slot, V3),
			 SD_RES_SUCCESS);
	assert_int_equal(store_obj_stat(st, sd_inode_oid(vid), &info), SD_RES_SUCCESS);
	assert_true(info.version == V3);
	assert_true(mver_of(st, vid) > V3 && mver_of(st, vid) > m0);

	/* the raised seq survives a reopen */
	assert_int_equal(tstore_reopen(ts), 0);
	st = ts->st;
	assert_int_equal(store_create_and_write_obj(st, o2, 0, 0, 0, sizeof(buf), buf), SD_RES_SUCCESS);
	assert_int_equal(store_obj_stat(st, o2, &info), SD_RES_SUCCESS);
	assert_true(info.version > V3 && info.version > local1);
	assert_int_equal(store_obj_stat(st, o0, &info), SD_RES_SUCCESS);
	assert_true(info.version == V2);

	/* list: oid order, from_oid, early stop */
	struct oids s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_obj_list(st, 0, oids_cb, &s), 0);
	assert_int_equal(s.n, 4);                       /* o0, o1, o2, inode index */
	assert_true(s.oid[0] == o0 && s.oid[1] == o1 && s.oid[2] == o2 &&
		    s.oid[3] == sd_inode_oid(vid));
	assert_true(s.version[0] == V2 && s.version[3] == V3);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_obj_list(st, o1, oids_cb, &s), 0);
	assert_int_equal(s.n, 3);
	assert_true(s.oid[0] == o1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_obj_list(st, o2 + 1, oids_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.oid[0] == sd_inode_oid(vid));
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(store_obj_list(st, 0, oids_cb, &s), 0);
	assert_int_equal(s.n, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_obj_list(st, UINT64_MAX, oids_cb, &s), 0);
	assert_int_equal(s.n, 0);
}

/* More records than one list batch (256): every one, in order. */
struct many {
	uint64_t prev;
	size_t n;
	int ok;
};

static int many_cb(void *ctx, const struct store_obj_info *o)
{
	struct many *c = ctx;
	if (c->n && o->oid <= c->prev)
		c->ok = 0;
	if (sd_oid_is_data(o->oid) && o->version != 1000 + 599 - sd_oid_index(o->oid))
		c->ok = 0;
	c->prev = o->oid;
	c->n++;
	return 0;
}

static void test_list_many(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	uint32_t vid;
	uint8_t b = 1;

	assert_int_equal(tnew(st, "many", 1024 * MiB, 0, 0, 20, &vid), SD_RES_SUCCESS);
	for (uint32_t i = 0; i < 600; i++)
		assert_int_equal(store_create_and_write_obj_v(st, sd_data_oid(vid, 599 - i), 0, 0, 0, 1,
							      &b, 1000 + i), SD_RES_SUCCESS);
	struct many c = { 0, 0, 1 };
	assert_int_equal(store_obj_list(st, 0, many_cb, &c), 0);
	assert_int_equal(c.n, 601);                     /* + the inode index */
	assert_true(c.ok);
}

/* --- obj_put / obj_remove --- */

static void test_obj_put_remove(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	struct store_obj_info info;
	uint32_t vid, snap;
	uint8_t *full = malloc(OBJ), *back = malloc(OBJ), part[4096];
	assert_non_null(full);
	assert_non_null(back);

	assert_int_equal(tnew(st, "p", 16 * MiB, 0, 0, 20, &vid), SD_RES_SUCCESS);
	uint64_t oid = sd_data_oid(vid, 3);
	memset(part, 0xaa, sizeof(part));
	assert_int_equal(store_create_and_write_obj(st, oid, 0, 0, OBJ - sizeof(part), sizeof(part), part),
			 SD_RES_SUCCESS);
	for (size_t i = 0; i < OBJ; i++)
		full[i] = (uint8_t)(i * 7 + 1);
	full[OBJ - 1] = 0;              /* the tail the old object had 0xaa in */

	/* full replace with the given version and the checksum */
	assert_int_equal(store_obj_put(st, oid, full, OBJ, 555), SD_RES_SUCCESS);
	assert_int_equal(store_read_obj(st, oid, 0, OBJ, back), SD_RES_SUCCESS);
	assert_memory_equal(back, full, OBJ);
	assert_int_equal(store_obj_stat(st, oid, &info), SD_RES_SUCCESS);
	assert_true(info.version == 555 && info.size == OBJ && info.csum_valid);
	uint8_t csum[32];
	crypto_generichash(csum, sizeof(csum), full, OBJ, NULL, 0);
	assert_memory_equal(info.csum, csum, 32);

	/* wrong length, inode oid, NULL buffer, unknown VDI */
	assert_int_equal(store_obj_put(st, oid, full, OBJ - 1, 556), SD_RES_INVALID_PARMS);
	assert_int_equal(store_obj_put(st, oid, full, OBJ * 2, 556), SD_RES_INVALID_PARMS);
	assert_int_equal(store_obj_put(st, sd_inode_oid(vid), full, OBJ, 556), SD_RES_INVALID_PARMS);
	assert_int_equal(store_obj_put(st, oid, NULL, OBJ, 556), SD_RES_INVALID_PARMS);
	assert_int_equal(store_obj_put(st, sd_data_oid(0x777777, 0), full, OBJ, 556), SD_RES_NO_VDI);
	assert_int_equal(store_obj_stat(st, oid, &info), SD_RES_SUCCESS);
	assert_true(info.version == 555);               /* rejected puts changed nothing */

	/* a snapshot's objects are installed this way too (recovery) */
	assert_int_equal(tnew(st, "p", 16 * MiB, vid, 1, 0, &snap), SD_RES_SUCCESS);
	assert_int_equal(store_obj_put(st, sd_data_oid(vid, 4), full, OBJ, 0), SD_RES_SUCCESS);
	assert_int_equal(store_read_obj(st, sd_data_oid(vid, 4), 0, OBJ, back), SD_RES_SUCCESS);
	assert_memory_equal(back, full, OBJ);
	assert_int_equal(store_obj_stat(st, sd_data_oid(vid, 4), &info), SD_RES_SUCCESS);
	assert_true(info.version > 555);                /* version 0: next local seq */

	/* remove: gone from index and disk; removing again is fine */
	assert_int_equal(store_obj_remove(st, oid), SD_RES_SUCCESS);
	assert_int_equal(store_obj_stat(st, oid, &info), SD_RES_NO_OBJ);
	assert_int_equal(store_read_obj(st, oid, 0, 16, back), SD_RES_NO_OBJ);
	assert_int_equal(store_obj_remove(st, oid), SD_RES_SUCCESS);
	assert_int_equal(store_obj_remove(st, sd_inode_oid(vid)), SD_RES_INVALID_PARMS);
	assert_int_equal(store_obj_stat(st, sd_data_oid(vid, 4), &info), SD_RES_SUCCESS);
	free(full);
	free(back);
}

/* --- export / import --- */

/* READ_OBJ of the whole inode: result code and bytes. */
static int inode_all(struct store *st, uint32_t vid, uint8_t *buf)
{
	memset(buf, 0x5a, SD_INODE_SIZE);
	return store_read_obj(st, sd_inode_oid(vid), 0, SD_INODE_SIZE, buf);
}

static void assert_inode_same(struct store *a, struct store *b, uint32_t vid)
{
	uint8_t *x = malloc(SD_INODE_SIZE), *y = malloc(SD_INODE_SIZE);
	assert_non_null(x);
	assert_non_null(y);
	int ra = inode_all(a, vid, x), rb = inode_all(b, vid, y);
	assert_int_equal(ra, rb);
	assert_int_equal(ra, SD_RES_SUCCESS);
	assert_memory_equal(x, y, SD_INODE_SIZE);
	free(x);
	free(y);
}

static void assert_bitmap_same(struct store *a, struct store *b)
{
	uint8_t *x = malloc(SD_BITMAP_SIZE), *y = malloc(SD_BITMAP_SIZE);
	assert_non_null(x);
	assert_non_null(y);
	assert_int_equal(store_read_vdis(a, x), SD_RES_SUCCESS);
	assert_int_equal(store_read_vdis(b, y), SD_RES_SUCCESS);
	assert_memory_equal(x, y, SD_BITMAP_SIZE);
	free(x);
	free(y);
}

static int ship(struct store *from, struct store *to, uint32_t vid)
{
	uint8_t *buf;
	size_t len;
	assert_int_equal(store_vdi_export(from, vid, &buf, &len), SD_RES_SUCCESS);
	int r = store_vdi_import(to, buf, len);
	free(buf);
	return r;
}

static int ship_all(struct store *from, struct store *to, int expect)
{
	struct vers v = { .n = 0 };
	assert_int_equal(store_vdi_versions(from, vers_cb, &v), 0);
	for (size_t i = 0; i < v.n; i++)
		assert_int_equal(ship(from, to, v.vid[i]), expect);
	return (int)v.n;
}

static void assert_lookup_same(struct store *a, struct store *b, const char *name, const char *tag,
			       uint32_t snapid)
{
	uint32_t va = 1, vb = 2;
	int ra = tlookup(a, name, tag, snapid, &va), rb = tlookup(b, name, tag, snapid, &vb);
	assert_int_equal(ra, rb);
	assert_int_equal(va, vb);
}

static void test_export_import(void **state)
{
	struct two *t = *state;
	struct store *a = t->a->st, *b = t->b->st;
	uint32_t w, s1, w2, cl, gone;
	uint8_t *buf;
	size_t len;

	/* A: a disk with data, a tagged snapshot, more data, a clone of the
	 * snapshot with its own data, and a deleted VDI */
	assert_int_equal(tnew(a, "disk", 64 * MiB, 0, 0, 20, &w), SD_RES_SUCCESS);
	assert_int_equal(twrite_new(a, w, 0, 1), SD_RES_SUCCESS);
	assert_int_equal(twrite_new(a, w, 1, 2), SD_RES_SUCCESS);
	assert_int_equal(twrite_new(a, w, 40, 3), SD_RES_SUCCESS);
	set_tag(a, w, "snap1");
	assert_int_equal(tnew(a, "disk", 64 * MiB, w, 1, 0, &w2), SD_RES_SUCCESS);
	s1 = w;
	assert_int_equal(twrite_new(a, w2, 2, 4), SD_RES_SUCCESS);
	assert_int_equal(tnew(a, "clone", 64 * MiB, s1, 0, 0, &cl), SD_RES_SUCCESS);
	assert_int_equal(twrite_new(a, cl, 7, 5), SD_RES_SUCCESS);
	assert_int_equal(tnew(a, "gone", 8 * MiB, 0, 0, 20, &gone), SD_RES_SUCCESS);
	assert_int_equal(tdel(a, "gone", NULL, 0, NULL), SD_RES_SUCCESS);

	assert_int_equal(store_vdi_export(a, 0x4242, &buf, &len), SD_RES_NO_VDI);
	assert_int_equal(store_vdi_export(a, 0, &buf, &len), SD_RES_NO_VDI);

	/* B (fresh): import everything A has */
	assert_int_equal(ship_all(a, b, 1), 4);
	assert_bitmap_same(a, b);
	assert_lookup_same(a, b, "disk", NULL, 0);
	assert_lookup_same(a, b, "disk", "snap1", 0);
	assert_lookup_same(a, b, "disk", NULL, 1);
	assert_lookup_same(a, b, "clone", NULL, 0);
	assert_lookup_same(a, b, "gone", NULL, 0);
	assert_int_equal(tlookup(b, "disk", "snap1", 0, NULL), SD_RES_SUCCESS);
	assert_int_equal(tlookup(b, "gone", NULL, 0, NULL), SD_RES_NO_VDI);
	uint32_t vids[] = { s1, w2, cl, gone };
	for (size_t i = 0; i < 4; i++)
		assert_inode_same(a, b, vids[i]);
	assert_int_equal(tslot(b, cl, 7), cl);
	assert_int_equal(tslot(b, cl, 0), s1);
	assert_int_equal(tslot(b, w2, 2), w2);

	/* versions are the same; the local seq passed every mver */
	struct vers va = { .n = 0 }, vb = { .n = 0 };
	assert_int_equal(store_vdi_versions(a, vers_cb, &va), 0);
	assert_int_equal(store_vdi_versions(b, vers_cb, &vb), 0);
	assert_int_equal(va.n, vb.n);
	assert_memory_equal(va.vid, vb.vid, va.n * sizeof(va.vid[0]));
	assert_memory_equal(va.mver, vb.mver, va.n * sizeof(va.mver[0]));
	for (size_t i = 0; i < vb.n; i++) {
		assert_true(vb.mver[i] > 0);
		assert_true(atomic_load(&b->seq) >= vb.mver[i]);
	}

	/* a second import changes nothing */
	assert_int_equal(ship_all(a, b, 0), 4);

	/* an older export after a newer change is not applied */
	uint8_t *old;
	size_t oldlen;
	assert_int_equal(store_vdi_export(a, w2, &old, &oldlen), SD_RES_SUCCESS);
	assert_int_equal(twrite_new(a, w2, 9, 6), SD_RES_SUCCESS);
	assert_true(mver_of(a, w2) > va.mver[1] || mver_of(a, w2) > mver_of(b, w2));
	assert_int_equal(ship(a, b, w2), 1);
	assert_int_equal(tslot(b, w2, 9), w2);
	assert_int_equal(store_vdi_import(b, old, oldlen), 0);
	assert_int_equal(tslot(b, w2, 9), w2);
	assert_inode_same(a, b, w2);
	/* a slot cleared on A is cleared on B (unlisted slots become 0) */
	assert_int_equal(tset_slot(a, w2, 9, 0), SD_RES_SUCCESS);
	assert_int_equal(ship(a, b, w2), 1);
	assert_int_equal(tslot(b, w2, 9), 0);
	assert_inode_same(a, b, w2);
	free(old);

	/* header changes travel too */
	set_tag(a, w2, "t2");
	assert_int_equal(ship(a, b, w2), 1);
	assert_inode_same(a, b, w2);

	/* DEL_VDI on A, then export/import: deleted on B, objects reclaimed */
	uint8_t *full = malloc(OBJ);
	assert_non_null(full);
	memset(full, 0x3c, OBJ);
	assert_int_equal(store_obj_put(b, sd_data_oid(cl, 7), full, OBJ, 77), SD_RES_SUCCESS);
	free(full);
	struct store_obj_info info;
	assert_int_equal(store_obj_stat(b, sd_data_oid(cl, 7), &info), SD_RES_SUCCESS);
	assert_int_equal(tdel(a, "clone", NULL, 0, NULL), SD_RES_SUCCESS);
	assert_int_equal(ship(a, b, cl), 1);
	assert_int_equal(tlookup(b, "clone", NULL, 0, NULL), SD_RES_NO_VDI);
	assert_inode_same(a, b, cl);
	assert_int_equal(store_obj_stat(b, sd_data_oid(cl, 7), &info), SD_RES_NO_OBJ);
	assert_int_equal(store_read_obj(b, sd_data_oid(cl, 7), 0, 16, &info), SD_RES_NO_OBJ);
	assert_int_equal(ship(a, b, cl), 0);
	assert_bitmap_same(a, b);

	/* survives a reopen of B */
	assert_int_equal(tstore_reopen(t->b), 0);
	b = t->b->st;
	for (size_t i = 0; i < 4; i++)
		assert_inode_same(a, b, vids[i]);
	assert_int_equal(ship_all(a, b, 0), 4);
}

/* --- malformed exports --- */

struct run { uint64_t first; const uint8_t *p; size_t n; };

/* [fmt, vid, mver, bin(rec), [[first, bin], ...]] with free choice of each. */
static void build(uint8_t **out, size_t *outlen, uint64_t fmt, uint64_t vid, uint64_t mver,
		  const struct meta_vdi *rec, const struct run *runs, size_t nruns)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	void *rb;
	size_t rl;
	assert_int_equal(meta_vdi_encode(rec, &rb, &rl), 0);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint64(&pk, fmt);
	msgpack_pack_uint64(&pk, vid);
	msgpack_pack_uint64(&pk, mver);
	msgpack_pack_bin(&pk, rl);
	msgpack_pack_bin_body(&pk, rb, rl);
	msgpack_pack_array(&pk, nruns);
	for (size_t i = 0; i < nruns; i++) {
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint64(&pk, runs[i].first);
		msgpack_pack_bin(&pk, runs[i].n);
		msgpack_pack_bin_body(&pk, runs[i].p, runs[i].n);
	}
	free(rb);
	*outlen = sb.size;
	*out = (uint8_t *)msgpack_sbuffer_release(&sb);
}

static void sample_rec(struct meta_vdi *v, uint32_t vid, uint64_t mver)
{
	memset(v, 0, sizeof(*v));
	v->vid = vid;
	memcpy(v->name, "crafted", 7);
	v->create_time = 1;
	v->vdi_size = 64 * MiB;
	v->nr_copies = 3;
	v->block_size_shift = 22;
	v->snap_id = 1;
	v->mver = mver;
}

struct snap {
	uint8_t *bm;
	uint8_t *inode;
	int inode_res;
};

static void snap_take(struct store *st, uint32_t vid, struct snap *s)
{
	s->bm = malloc(SD_BITMAP_SIZE);
	s->inode = malloc(SD_INODE_SIZE);
	assert_non_null(s->bm);
	assert_non_null(s->inode);
	assert_int_equal(store_read_vdis(st, s->bm), SD_RES_SUCCESS);
	s->inode_res = inode_all(st, vid, s->inode);
}

static void snap_check(struct store *st, uint32_t vid, const struct snap *s)
{
	struct snap now;
	snap_take(st, vid, &now);
	assert_memory_equal(now.bm, s->bm, SD_BITMAP_SIZE);
	assert_int_equal(now.inode_res, s->inode_res);
	if (s->inode_res == SD_RES_SUCCESS)
		assert_memory_equal(now.inode, s->inode, SD_INODE_SIZE);
	free(now.bm);
	free(now.inode);
}

static void test_import_malformed(void **state)
{
	struct two *t = *state;
	struct store *a = t->a->st, *b = t->b->st;
	uint32_t w;
	uint8_t *good, *bad;
	size_t glen, blen;
	struct snap before, fresh;

	/* a real export, already on B at the same mver */
	assert_int_equal(tnew(a, "disk", 64 * MiB, 0, 0, 20, &w), SD_RES_SUCCESS);
	for (uint32_t i = 0; i < 6; i++)
		assert_int_equal(twrite_new(a, w, i * 3, 1), SD_RES_SUCCESS);
	assert_int_equal(store_vdi_export(a, w, &good, &glen), SD_RES_SUCCESS);
	assert_int_equal(store_vdi_import(b, good, glen), 1);
	snap_take(b, w, &before);

	/* every truncation, and a trailing byte */
	for (size_t n = 0; n < glen; n++)
		assert_int_equal(store_vdi_import(b, good, n), -EBADMSG);
	assert_int_equal(store_vdi_import(b, NULL, 0), -EBADMSG);
	bad = malloc(glen + 1);
	memcpy(bad, good, glen);
	bad[glen] = 0;
	assert_int_equal(store_vdi_import(b, bad, glen + 1), -EBADMSG);
	free(bad);

	/* seeded fuzz: flipped bytes are refused, or (a field that still
	 * decodes, same mver) not newer; never applied */
	bad = malloc(glen);
	uint64_t x = 0x9e3779b97f4a7c15;
	int refused = 0;
	for (int it = 0; it < 3000; it++) {
		memcpy(bad, good, glen);
		for (int k = 0; k < 1 + it % 3; k++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			bad[(x >> 8) % glen] ^= (uint8_t)(1 + (x & 0xfe));
		}
		int r = store_vdi_import(b, bad, glen);
		assert_true(r == -EBADMSG || r == 0);
		refused += r == -EBADMSG;
	}
	/* most flips land in the 512 name/tag bytes, which still decode
	 * (and are then not newer): about 600 of 3000 are refused */
	assert_true(refused > 300);
	free(bad);
	snap_check(b, w, &before);

	/* crafted: each one wrong in one field, for a vid B does not have */
	/* where a lookup of "crafted" starts, so the control case is found */
	char cname[SD_NAME_LEN] = "crafted";
	const uint32_t vid = sd_vid_start(cname, SD_NAME_LEN);
	assert_true(vid != 0 && vid != w);
	struct meta_vdi rec;
	uint8_t slots[12], zero_mid[12], big[4];
	sd_put32(slots, vid); sd_put32(slots + 4, vid); sd_put32(slots + 8, 0x55);
	sd_put32(zero_mid, vid); sd_put32(zero_mid + 4, 0); sd_put32(zero_mid + 8, vid);
	sd_put32(big, 0x1000000);
	struct run ok_runs[] = { { 0, slots, 12 }, { 100, slots, 4 } };
	snap_take(b, vid, &fresh);
	assert_int_equal(fresh.inode_res, SD_RES_NO_OBJ);
	struct {
		const char *what;
		uint64_t fmt, vid, mver;
		uint32_t rvid;
		uint64_t rmver;
		uint8_t shift, deleted;
		struct run runs[2];
		size_t nruns;
	} cases[] = {
		{ "unknown format", 2, vid, 50, vid, 50, 22, 0, { { 0, slots, 12 } }, 1 },
		{ "vid mismatch", 1, vid + 1, 50, vid, 50, 22, 0, { { 0, slots, 12 } }, 1 },
		{ "vid 0", 1, 0, 50, 0, 50, 22, 0, { { 0, slots, 12 } }, 1 },
		{ "vid too large", 1, 0x1000000, 50, vid, 50, 22, 0, { { 0, slots, 12 } }, 1 },
		{ "mver mismatch", 1, vid, 51, vid, 50, 22, 0, { { 0, slots, 12 } }, 1 },
		{ "mver 0", 1, vid, 0, vid, 0, 22, 0, { { 0, slots, 12 } }, 1 },
		{ "shift 0", 1, vid, 50, vid, 50, 0, 0, { { 0, slots, 12 } }, 1 },
		{ "slot out of range", 1, vid, 50, vid, 50, 22, 0, { { SD_MAX_DATA_OBJS, slots, 4 } }, 1 },
		{ "run past the end", 1, vid, 50, vid, 50, 22, 0, { { SD_MAX_DATA_OBJS - 2, slots, 12 } }, 1 },
		{ "bin not a multiple of 4", 1, vid, 50, vid, 50, 22, 0, { { 0, slots, 10 } }, 1 },
		{ "empty bin", 1, vid, 50, vid, 50, 22, 0, { { 0, slots, 0 } }, 1 },
		{ "zero slot in a run", 1, vid, 50, vid, 50, 22, 0, { { 0, zero_mid, 12 } }, 1 },
		{ "slot value > 2^24-1", 1, vid, 50, vid, 50, 22, 0, { { 5, big, 4 } }, 1 },
		{ "runs out of order", 1, vid, 50, vid, 50, 22, 0, { { 100, slots, 4 }, { 0, slots, 12 } }, 2 },
		{ "runs touching", 1, vid, 50, vid, 50, 22, 0, { { 0, slots, 12 }, { 3, slots, 4 } }, 2 },
		{ "runs overlapping", 1, vid, 50, vid, 50, 22, 0, { { 0, slots, 12 }, { 1, slots, 4 } }, 2 },
		{ "index on a deleted record", 1, vid, 50, vid, 50, 22, 1, { { 0, slots, 12 } }, 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sample_rec(&rec, cases[i].rvid, cases[i].rmver);
		rec.block_size_shift = cases[i].shift;
		rec.deleted = cases[i].deleted;
		build(&bad, &blen, cases[i].fmt, cases[i].vid, cases[i].mver, &rec, cases[i].runs,
		      cases[i].nruns);
		int r = store_vdi_import(b, bad, blen);
		if (r != -EBADMSG)
			print_error("case \"%s\": %d\n", cases[i].what, r);
		assert_int_equal(r, -EBADMSG);
		free(bad);
	}
	/* a record that is not a VDI record, and a wrong top-level shape */
	uint8_t junk[] = { 0x95, 0x01, 0xcd, 0x01, 0x00, 0x32, 0xc4, 0x01, 0x00, 0x90 };
	assert_int_equal(store_vdi_import(b, junk, sizeof(junk)), -EBADMSG);
	uint8_t arr4[] = { 0x94, 0x01, 0xcd, 0x01, 0x00, 0x32, 0x90 };
	assert_int_equal(store_vdi_import(b, arr4, sizeof(arr4)), -EBADMSG);
	uint8_t huge[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01 };
	assert_int_equal(store_vdi_import(b, huge, sizeof(huge)), -EBADMSG);
	snap_check(b, vid, &fresh);
	snap_check(b, w, &before);

	/* control: the well-formed crafted export is applied */
	sample_rec(&rec, vid, 50);
	build(&bad, &blen, 1, vid, 50, &rec, ok_runs, 2);
	assert_int_equal(store_vdi_import(b, bad, blen), 1);
	assert_int_equal(tslot(b, vid, 0), vid);
	assert_int_equal(tslot(b, vid, 2), 0x55);
	assert_int_equal(tslot(b, vid, 3), 0);
	assert_int_equal(tslot(b, vid, 100), vid);
	assert_int_equal(tlookup(b, "crafted", NULL, 0, NULL), SD_RES_SUCCESS);
	assert_true(atomic_load(&b->seq) >= 50);
	free(bad);

	free(good);
	free(before.bm);
	free(before.inode);
	free(fresh.bm);
	free(fresh.inode);
}

/* A crash after the import's commit, before the index file was written:
 * the roll-forward record finishes it at open. */
static void test_import_roll_forward(void **state)
{
	struct two *t = *state;
	struct store *a = t->a->st, *b = t->b->st;
	uint32_t w;
	uint8_t *exp;
	size_t len;

	assert_int_equal(tnew(a, "rf", 64 * MiB, 0, 0, 20, &w), SD_RES_SUCCESS);
	assert_int_equal(twrite_new(a, w, 4, 9), SD_RES_SUCCESS);
	assert_int_equal(store_vdi_export(a, w, &exp, &len), SD_RES_SUCCESS);
	assert_int_equal(store_vdi_import(b, exp, len), 1);
	assert_inode_same(a, b, w);

	/* simulate: the record committed with the roll-forward record, the
	 * index file still the old (all zero) one */
	static const uint8_t nothing[1];
	assert_int_equal(chunk_create(b->cs, sd_inode_oid(w), SD_INODE_INDEX_SIZE, 0, 0, 0, nothing), 0);
	assert_int_equal(tslot(b, w, 4), 0);
	struct meta_txn *txn;
	assert_int_equal(meta_txn_begin(b->meta, 1, &txn), 0);
	assert_int_equal(meta_misc_put_raw(txn, "repl_import", exp, len), 0);
	assert_int_equal(meta_txn_commit(txn), 0);

	assert_int_equal(tstore_reopen(t->b), 0);
	b = t->b->st;
	assert_int_equal(tslot(b, w, 4), w);
	assert_inode_same(a, b, w);
	const void *v;
	size_t vl;
	assert_int_equal(meta_txn_begin(b->meta, 0, &txn), 0);
	assert_int_equal(meta_misc_get_raw(txn, "repl_import", &v, &vl), -ENOENT);
	meta_txn_abort(txn);

	/* a stale roll-forward record (the VDI changed since) is dropped
	 * without touching the newer index */
	assert_int_equal(tset_slot(b, w, 5, w), SD_RES_SUCCESS);
	assert_int_equal(meta_txn_begin(b->meta, 1, &txn), 0);
	assert_int_equal(meta_misc_put_raw(txn, "repl_import", exp, len), 0);
	assert_int_equal(meta_txn_commit(txn), 0);
	assert_int_equal(tstore_reopen(t->b), 0);
	b = t->b->st;
	assert_int_equal(tslot(b, w, 5), w);
	assert_int_equal(tslot(b, w, 4), w);
	free(exp);
}

/* Records written before mver existed (format 1) still decode, mver 0. */
static void test_format1_record(void **state)
{
	(void)state;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t name[256] = "old", tag[256] = {0};
	struct meta_vdi v;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 18);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 0x42);
	msgpack_pack_bin(&pk, 256);
	msgpack_pack_bin_body(&pk, name, 256);
	msgpack_pack_bin(&pk, 256);
	msgpack_pack_bin_body(&pk, tag, 256);
	for (int i = 0; i < 14; i++)
		msgpack_pack_uint64(&pk, i == 8 ? 22 : 0);   /* field 12: shift */
	assert_int_equal(meta_vdi_decode(sb.data, sb.size, &v), 0);
	assert_int_equal(v.vid, 0x42);
	assert_int_equal(v.block_size_shift, 22);
	assert_true(v.mver == 0);
	/* format 2 needs its 19th field; format 1 must not have it */
	sb.data[1] = 2;
	assert_int_equal(meta_vdi_decode(sb.data, sb.size, &v), -EBADMSG);
	msgpack_sbuffer_destroy(&sb);

	struct meta_vdi w;
	memset(&w, 0, sizeof(w));
	w.vid = 7;
	w.block_size_shift = 22;
	w.mver = UINT64_C(1) << 50;
	void *buf;
	size_t len;
	assert_int_equal(meta_vdi_encode(&w, &buf, &len), 0);
	assert_int_equal(meta_vdi_decode(buf, len, &v), 0);
	assert_true(v.mver == w.mver);
	free(buf);
}

/* A record without mver (written before it existed) gets one at open,
 * above the local seq, and can then be exported. */
static void test_mver_upgrade(void **state)
{
	struct tstore *ts = *state;
	struct store *st = ts->st;
	struct meta_txn *t;
	struct meta_vdi v;
	uint32_t vid;
	uint8_t *buf;
	size_t len;

	assert_int_equal(tnew(st, "old", 16 * MiB, 0, 0, 20, &vid), SD_RES_SUCCESS);
	assert_int_equal(meta_txn_begin(st->meta, 1, &t), 0);
	assert_int_equal(meta_vdi_get(t, vid, &v), 0);
	v.mver = 0;
	assert_int_equal(meta_vdi_put(t, &v), 0);
	assert_int_equal(meta_txn_commit(t), 0);
	assert_true(mver_of(st, vid) == 0);
	uint64_t seq = atomic_load(&st->seq);
	assert_int_equal(store_vdi_export(st, vid, &buf, &len), SD_RES_SUCCESS);
	assert_int_equal(store_vdi_import(st, buf, len), -EBADMSG);   /* mver 0 */
	free(buf);

	assert_int_equal(tstore_reopen(ts), 0);
	st = ts->st;
	assert_true(mver_of(st, vid) > seq);
	assert_int_equal(store_vdi_export(st, vid, &buf, &len), SD_RES_SUCCESS);
	assert_int_equal(store_vdi_import(st, buf, len), 0);          /* valid, not newer */
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_versioned_writes, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_list_many, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_obj_put_remove, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_export_import, two_setup, two_teardown),
		cmocka_unit_test_setup_teardown(test_import_malformed, two_setup, two_teardown),
		cmocka_unit_test_setup_teardown(test_import_roll_forward, two_setup, two_teardown),
		cmocka_unit_test(test_format1_record),
		cmocka_unit_test_setup_teardown(test_mver_upgrade, tstore_setup, tstore_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

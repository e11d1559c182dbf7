/*
 * test_meta.c: store/meta.h: msgpack codecs (round trips, strict rejection
 * of other format versions and bad shapes) and the LMDB side (get/put/
 * next/foreach/del, per-VDI deletion, counts, group commit).
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>

#include "sheepdog_proto.h"
#include "store/meta.h"
#include "store/meta_int.h"

/* --- codecs --- */

static void sample_vdi(struct meta_vdi *v, uint32_t vid)
{
	memset(v, 0, sizeof(*v));
	v->vid = vid;
	snprintf((char *)v->name, sizeof(v->name), "disk-%u", vid);
	memset(v->tag, 'T', sizeof(v->tag));        /* tag may fill all 256 bytes */
	v->create_time = UINT64_C(0x5f00000012345678);
	v->snap_ctime = 7;
	v->vm_clock_nsec = UINT64_MAX;
	v->vdi_size = UINT64_C(1) << 40;
	v->vm_state_size = 12345;
	v->copy_policy = 2;
	v->store_policy = 1;
	v->nr_copies = 3;
	v->block_size_shift = 22;
	v->snap_id = 9;
	v->parent_vid = 0xabcdef;
	v->deleted = 1;
	v->data_reclaimed = 1;
	v->delete_time = 42;
}

static void sample_obj(struct meta_obj *o, uint64_t oid, uint64_t version)
{
	memset(o, 0, sizeof(*o));
	o->oid = oid;
	o->size = UINT64_C(4) << 20;
	o->version = version;
	for (int i = 0; i < 32; i++)
		o->csum[i] = (uint8_t)(i * 7 + 1);
	o->csum_valid = 1;
	o->mtime = 99;
}

static void test_codec_vdi_roundtrip(void **state)
{
	(void)state;
	struct meta_vdi v, w;
	sample_vdi(&v, 0x7c2b25);
	void *buf;
	size_t len;
	assert_int_equal(meta_vdi_encode(&v, &buf, &len), 0);
	memset(&w, 0, sizeof(w));   /* padding compares equal too */
	assert_int_equal(meta_vdi_decode(buf, len, &w), 0);
	assert_memory_equal(&v, &w, sizeof(v));

	/* every truncation is refused, never half decoded */
	for (size_t n = 0; n < len; n++)
		assert_int_equal(meta_vdi_decode(buf, n, &w), -EBADMSG);
	/* trailing garbage too */
	uint8_t *big = malloc(len + 1);
	memcpy(big, buf, len);
	big[len] = 0;
	assert_int_equal(meta_vdi_decode(big, len + 1, &w), -EBADMSG);
	free(big);
	free(buf);

	/* out-of-range values are not written */
	v.vid = SD_VID_MASK + 1;
	assert_int_equal(meta_vdi_encode(&v, &buf, &len), -EINVAL);
}

static void test_codec_obj_lock_u64_roundtrip(void **state)
{
	(void)state;
	struct meta_obj o, p;
	sample_obj(&o, UINT64_C(0x80abcdef00000000), 77);
	void *buf;
	size_t len;
	assert_int_equal(meta_obj_encode(&o, &buf, &len), 0);
	memset(&p, 0, sizeof(p));
	assert_int_equal(meta_obj_decode(buf, len, &p), 0);
	assert_memory_equal(&o, &p, sizeof(o));
	free(buf);

	struct meta_lock l = { .vid = 0x123456, .type = 1, .count = 5, .time = 1234 }, m;
	assert_int_equal(meta__lock_encode(&l, &buf, &len), 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(meta__lock_decode(buf, len, &m), 0);
	assert_int_equal(m.vid, l.vid);
	assert_int_equal(m.type, l.type);
	assert_int_equal(m.count, l.count);
	assert_int_equal(m.time, l.time);
	/* a lock record is not an object record */
	assert_int_equal(meta_obj_decode(buf, len, &p), -EBADMSG);
	free(buf);

	uint64_t u = 0;
	assert_int_equal(meta__u64_encode(UINT64_MAX, &buf, &len), 0);
	assert_int_equal(meta__u64_decode(buf, len, &u), 0);
	assert_true(u == UINT64_MAX);
	free(buf);
}

/* Packs an array like the codec's, with chosen version / field count /
 * field types, to check what decode refuses. */
static void pack_obj(msgpack_sbuffer *sb, uint64_t fmt, int nfields, int csum_len, int str_size)
{
	msgpack_packer pk;
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, (size_t)nfields);
	msgpack_pack_uint64(&pk, fmt);
	if (nfields > 1)
		msgpack_pack_uint64(&pk, 0x1234);       /* oid */
	if (nfields > 2) {
		if (str_size) {                         /* size as a string: wrong type */
			msgpack_pack_str(&pk, 3);
			msgpack_pack_str_body(&pk, "abc", 3);
		} else {
			msgpack_pack_uint64(&pk, 4096);
		}
	}
	if (nfields > 3)
		msgpack_pack_uint64(&pk, 5);            /* version */
	if (nfields > 4) {
		uint8_t c[64] = { 0 };
		msgpack_pack_bin(&pk, (size_t)csum_len);
		msgpack_pack_bin_body(&pk, c, (size_t)csum_len);
	}
	if (nfields > 5)
		msgpack_pack_uint64(&pk, 0);
	if (nfields > 6)
		msgpack_pack_uint64(&pk, 0);
	for (int i = 7; i < nfields; i++)
		msgpack_pack_uint64(&pk, 0);
}

static void test_codec_rejects(void **state)
{
	(void)state;
	struct meta_obj o;
	msgpack_sbuffer sb;

	pack_obj(&sb, META_FORMAT, 7, 32, 0);       /* control: well formed */
	assert_int_equal(meta_obj_decode(sb.data, sb.size, &o), 0);
	assert_true(o.oid == 0x1234 && o.size == 4096 && o.version == 5);
	msgpack_sbuffer_destroy(&sb);

	pack_obj(&sb, META_FORMAT + 1, 7, 32, 0);   /* another format version */
	assert_int_equal(meta_obj_decode(sb.data, sb.size, &o), -EBADMSG);
	msgpack_sbuffer_destroy(&sb);

	pack_obj(&sb, META_FORMAT, 6, 32, 0);       /* too few fields */
	assert_int_equal(meta_obj_decode(sb.data, sb.size, &o), -EBADMSG);
	msgpack_sbuffer_destroy(&sb);

	pack_obj(&sb, META_FORMAT, 8, 32, 0);       /* too many fields */
	assert_int_equal(meta_obj_decode(sb.data, sb.size, &o), -EBADMSG);
	msgpack_sbuffer_destroy(&sb);

	pack_obj(&sb, META_FORMAT, 7, 31, 0);       /* checksum of the wrong length */
	assert_int_equal(meta_obj_decode(sb.data, sb.size, &o), -EBADMSG);
	msgpack_sbuffer_destroy(&sb);

	pack_obj(&sb, META_FORMAT, 7, 32, 1);       /* wrong type */
	assert_int_equal(meta_obj_decode(sb.data, sb.size, &o), -EBADMSG);
	msgpack_sbuffer_destroy(&sb);

	/* not an array at all; and empty input */
	uint8_t junk[] = { 0xc0 };
	assert_int_equal(meta_obj_decode(junk, sizeof(junk), &o), -EBADMSG);
	assert_int_equal(meta_obj_decode(junk, 0, &o), -EBADMSG);

	/* a corrupt record declaring 2^32-1 elements: rejected without
	 * msgpack-c trying to allocate for them (ASan would abort) */
	uint8_t huge[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01 };
	assert_int_equal(meta_obj_decode(huge, sizeof(huge), &o), -EBADMSG);
	uint8_t nested[] = { 0x97, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00 };
	assert_int_equal(meta_obj_decode(nested, sizeof(nested), &o), -EBADMSG);

	/* a vdi record with an out-of-range shift */
	struct meta_vdi v;
	sample_vdi(&v, 1);
	void *buf;
	size_t len;
	assert_int_equal(meta_vdi_encode(&v, &buf, &len), 0);
	/* block_size_shift 22 is the fixint 0x16 right before snap_id 9 (0x09);
	 * patch it to 40 (0x28, still a positive fixint) */
	uint8_t *p = buf;
	int patched = 0;
	for (size_t i = 0; i + 1 < len; i++)
		if (p[i] == 0x16 && p[i + 1] == 0x09) {
			p[i] = 0x28;
			patched = 1;
			break;
		}
	assert_true(patched);
	assert_int_equal(meta_vdi_decode(buf, len, &v), -EBADMSG);
	free(buf);
}

/* --- LMDB --- */

struct tmeta {
	char dir[64];
	struct meta *m;
};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb; (void)flag; (void)f;
	return remove(p);
}

static int setup(void **state)
{
	struct tmeta *tm = calloc(1, sizeof(*tm));
	if (!tm)
		return -1;
	strcpy(tm->dir, "/tmp/sm-metatest-XXXXXX");
	if (!mkdtemp(tm->dir) || meta_open(&tm->m, tm->dir)) {
		free(tm);
		return -1;
	}
	*state = tm;
	return 0;
}

static int teardown(void **state)
{
	struct tmeta *tm = *state;
	meta_close(tm->m);
	nftw(tm->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(tm);
	return 0;
}

struct seen { uint32_t vids[16]; int n; int stop_after; };

static int foreach_cb(void *ctx, const struct meta_vdi *v)
{
	struct seen *s = ctx;
	s->vids[s->n++] = v->vid;
	return s->stop_after && s->n >= s->stop_after;
}

static void test_vdi_lock_ops(void **state)
{
	struct tmeta *tm = *state;
	struct meta_txn *t;
	struct meta_vdi v, w;
	const uint32_t vids[] = { 0x300, 0x10, 0xffffff, 0x2000 };

	assert_int_equal(meta_txn_begin(tm->m, 1, &t), 0);
	for (size_t i = 0; i < 4; i++) {
		sample_vdi(&v, vids[i]);
		assert_int_equal(meta_vdi_put(t, &v), 0);
	}
	struct meta_lock l = { .vid = 0x10, .type = 0, .count = 1, .time = 5 };
	assert_int_equal(meta_lock_put(t, &l), 0);
	assert_int_equal(meta_txn_commit(t), 0);

	/* an aborted txn leaves nothing */
	assert_int_equal(meta_txn_begin(tm->m, 1, &t), 0);
	sample_vdi(&v, 0x555);
	assert_int_equal(meta_vdi_put(t, &v), 0);
	meta_txn_abort(t);

	assert_int_equal(meta_txn_begin(tm->m, 0, &t), 0);
	assert_int_equal(meta_vdi_get(t, 0x555, &w), -ENOENT);
	assert_int_equal(meta_vdi_get(t, 0x2000, &w), 0);
	sample_vdi(&v, 0x2000);
	assert_memory_equal(&v, &w, sizeof(v));

	uint32_t vid = 0;
	assert_int_equal(meta_vdi_next(t, 0, &vid), 0);
	assert_int_equal(vid, 0x10);
	assert_int_equal(meta_vdi_next(t, 0x11, &vid), 0);
	assert_int_equal(vid, 0x300);         /* numeric, not lexical, order */
	assert_int_equal(meta_vdi_next(t, 0x2000, &vid), 0);
	assert_int_equal(vid, 0x2000);
	assert_int_equal(meta_vdi_next(t, 0x2001, &vid), 0);
	assert_int_equal(vid, 0xffffff);
	assert_int_equal(meta_vdi_next(t, 0x1000000, &vid), -ENOENT);

	struct seen s = { .n = 0 };
	assert_int_equal(meta_vdi_foreach(t, foreach_cb, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.vids[0], 0x10);
	assert_int_equal(s.vids[1], 0x300);
	assert_int_equal(s.vids[2], 0x2000);
	assert_int_equal(s.vids[3], 0xffffff);
	struct seen s2 = { .n = 0, .stop_after = 2 };
	assert_int_equal(meta_vdi_foreach(t, foreach_cb, &s2), 0);
	assert_int_equal(s2.n, 2);

	struct meta_lock lk;
	assert_int_equal(meta_lock_get(t, 0x10, &lk), 0);
	assert_int_equal(lk.count, 1);
	assert_int_equal(meta_lock_get(t, 0x300, &lk), -ENOENT);
	meta_txn_abort(t);

	assert_int_equal(meta_txn_begin(tm->m, 1, &t), 0);
	assert_int_equal(meta_lock_del(t, 0x10), 0);
	assert_int_equal(meta_lock_del(t, 0x10), -ENOENT);
	assert_int_equal(meta_misc_put_u64(t, "seq", 1234), 0);
	assert_int_equal(meta_txn_commit(t), 0);

	/* survives reopening */
	meta_close(tm->m);
	assert_int_equal(meta_open(&tm->m, tm->dir), 0);
	assert_int_equal(meta_txn_begin(tm->m, 0, &t), 0);
	assert_int_equal(meta_lock_get(t, 0x10, &lk), -ENOENT);
	assert_int_equal(meta_vdi_get(t, 0xffffff, &w), 0);
	uint64_t seq = 0;
	assert_int_equal(meta_misc_get_u64(t, "seq", &seq), 0);
	assert_true(seq == 1234);
	assert_int_equal(meta_misc_get_u64(t, "nothing", &seq), -ENOENT);
	meta_txn_abort(t);
}

static void test_obj_ops(void **state)
{
	struct tmeta *tm = *state;
	struct meta_txn *t;
	struct meta_obj o, p;
	const uint32_t vid = 0x42, other = 0x43;

	assert_int_equal(meta_txn_begin(tm->m, 1, &t), 0);
	for (uint32_t i = 0; i < 10; i++) {
		sample_obj(&o, sd_data_oid(vid, i), i + 1);
		assert_int_equal(meta_obj_put(t, &o), 0);
	}
	sample_obj(&o, sd_inode_oid(vid), 100);
	assert_int_equal(meta_obj_put(t, &o), 0);
	sample_obj(&o, sd_vmstate_oid(vid, 3), 101);
	assert_int_equal(meta_obj_put(t, &o), 0);
	for (uint32_t i = 0; i < 3; i++) {
		sample_obj(&o, sd_data_oid(other, i), 200 + i);
		assert_int_equal(meta_obj_put(t, &o), 0);
	}
	sample_obj(&o, sd_inode_oid(other), 300);
	assert_int_equal(meta_obj_put(t, &o), 0);
	assert_int_equal(meta_txn_commit(t), 0);

	uint64_t n = 0, bytes = 0;
	assert_int_equal(meta_txn_begin(tm->m, 0, &t), 0);
	assert_int_equal(meta_obj_count(t, &n, &bytes), 0);
	assert_true(n == 16);
	assert_true(bytes == 16 * (UINT64_C(4) << 20));
	assert_int_equal(meta_obj_get(t, sd_data_oid(vid, 7), &p), 0);
	assert_true(p.version == 8);
	meta_txn_abort(t);

	assert_int_equal(meta_txn_begin(tm->m, 1, &t), 0);
	assert_int_equal(meta_obj_del(t, sd_data_oid(vid, 0)), 0);
	assert_int_equal(meta_obj_del(t, sd_data_oid(vid, 0)), -ENOENT);
	assert_int_equal(meta_obj_del_vid(t, vid), 0);
	assert_int_equal(meta_obj_del_vid(t, 0x999), 0);     /* nothing there */
	assert_int_equal(meta_obj_del_vid(t, SD_VID_MASK + 1), -EINVAL);
	assert_int_equal(meta_txn_commit(t), 0);

	assert_int_equal(meta_txn_begin(tm->m, 0, &t), 0);
	assert_int_equal(meta_obj_count(t, &n, &bytes), 0);
	assert_true(n == 4);                         /* only the other VDI's */
	assert_int_equal(meta_obj_get(t, sd_inode_oid(vid), &p), -ENOENT);
	assert_int_equal(meta_obj_get(t, sd_vmstate_oid(vid, 3), &p), -ENOENT);
	assert_int_equal(meta_obj_get(t, sd_data_oid(vid, 9), &p), -ENOENT);
	assert_int_equal(meta_obj_get(t, sd_inode_oid(other), &p), 0);
	assert_int_equal(meta_obj_get(t, sd_data_oid(other, 2), &p), 0);
	assert_true(p.version == 202);
	meta_txn_abort(t);
}

#define GC_THREADS 8
#define GC_PER 40

struct gc_arg { struct meta *m; uint32_t tid; int fails; };

static void *gc_thread(void *p)
{
	struct gc_arg *a = p;
	for (uint32_t i = 0; i < GC_PER; i++) {
		struct meta_obj o;
		sample_obj(&o, sd_data_oid(0x100 + a->tid, i), (uint64_t)a->tid * 1000 + i + 1);
		if (meta_obj_commit(a->m, &o, 1))
			a->fails++;
	}
	return NULL;
}

static void test_group_commit(void **state)
{
	struct tmeta *tm = *state;
	uint64_t before = meta_obj_commit_txns(tm->m);
	pthread_t th[GC_THREADS];
	struct gc_arg args[GC_THREADS];
	for (uint32_t i = 0; i < GC_THREADS; i++) {
		args[i] = (struct gc_arg){ .m = tm->m, .tid = i };
		assert_int_equal(pthread_create(&th[i], NULL, gc_thread, &args[i]), 0);
	}
	for (int i = 0; i < GC_THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].fails, 0);
	}
	uint64_t txns = meta_obj_commit_txns(tm->m) - before;
	assert_true(txns >= 1);
	assert_true(txns <= GC_THREADS * GC_PER);
	printf("# group commit: %d calls in %llu txns\n", GC_THREADS * GC_PER, (unsigned long long)txns);

	struct meta_txn *t;
	assert_int_equal(meta_txn_begin(tm->m, 0, &t), 0);
	uint64_t n = 0, bytes = 0;
	assert_int_equal(meta_obj_count(t, &n, &bytes), 0);
	assert_true(n == GC_THREADS * GC_PER);
	for (uint32_t tid = 0; tid < GC_THREADS; tid++)
		for (uint32_t i = 0; i < GC_PER; i++) {
			struct meta_obj o;
			assert_int_equal(meta_obj_get(t, sd_data_oid(0x100 + tid, i), &o), 0);
			assert_true(o.version == (uint64_t)tid * 1000 + i + 1);
		}
	uint64_t seq = 0;
	assert_int_equal(meta_misc_get_u64(t, "seq", &seq), 0);
	assert_true(seq == (uint64_t)(GC_THREADS - 1) * 1000 + GC_PER);  /* the largest version */
	meta_txn_abort(t);

	/* a batch never lowers "seq" */
	struct meta_obj o;
	sample_obj(&o, sd_data_oid(0x200, 0), 3);
	assert_int_equal(meta_obj_commit(tm->m, &o, 1), 0);
	assert_int_equal(meta_txn_begin(tm->m, 0, &t), 0);
	assert_int_equal(meta_misc_get_u64(t, "seq", &seq), 0);
	assert_true(seq == (uint64_t)(GC_THREADS - 1) * 1000 + GC_PER);
	meta_txn_abort(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_vdi_roundtrip),
		cmocka_unit_test(test_codec_obj_lock_u64_roundtrip),
		cmocka_unit_test(test_codec_rejects),
		cmocka_unit_test_setup_teardown(test_vdi_lock_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_obj_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

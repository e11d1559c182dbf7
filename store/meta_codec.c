/*
 * meta_codec.c: msgpack encoding of the catalog records (meta.h).
 *
 * Every record is a fixed-length msgpack array whose first element is
 * META_FORMAT (VDI records: META_VDI_FORMAT, or 1 for records written
 * before mver existed; the format fixes the length). Decoding is strict: the buffer must hold exactly one array
 * of the expected length, every element must have the expected msgpack type
 * (unsigned integers as positive integers, byte strings as bin of the exact
 * length) and be in range. Anything else is -EBADMSG: a record we cannot
 * read exactly is never guessed at. Encoding validates the same ranges
 * (-EINVAL), so we never write what we would refuse to read back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "store/meta.h"
#include "gossip/mpcheck.h"
#include "store/meta_int.h"
#include "sheepdog_proto.h"

#define VDI_FIELDS_V1 18
#define VDI_FIELDS 19
#define OBJ_FIELDS 7
#define LOCK_FIELDS 5
#define U64_FIELDS 2

/* Largest object we index: one data object of block_size_shift 31. */
#define META_OBJ_MAX_SIZE (UINT64_C(1) << SD_MAX_SHIFT)

/* --- range checks shared by encode and decode --- */

static int vdi_valid(const struct meta_vdi *v)
{
	return v->vid <= SD_VID_MASK && v->parent_vid <= SD_VID_MASK &&
	       v->block_size_shift <= 31 && v->nr_copies <= SD_MAX_COPIES &&
	       v->deleted <= 1 && v->data_reclaimed <= 1;
}

static int obj_valid(const struct meta_obj *o)
{
	return o->size <= META_OBJ_MAX_SIZE && o->csum_valid <= 1;
}

static int lock_valid(const struct meta_lock *l)
{
	return l->vid <= SD_VID_MASK && l->type <= 1;
}

/* --- encoding --- */

struct enc {
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int err;    /* sticky: any packer failure (only ENOMEM is possible) */
};

static void enc_init_fmt(struct enc *e, size_t nfields, uint64_t fmt)
{
	msgpack_sbuffer_init(&e->sb);
	msgpack_packer_init(&e->pk, &e->sb, msgpack_sbuffer_write);
	e->err = msgpack_pack_array(&e->pk, nfields);
	if (!e->err)
		e->err = msgpack_pack_uint64(&e->pk, fmt);
}

static void enc_init(struct enc *e, size_t nfields)
{
	enc_init_fmt(e, nfields, META_FORMAT);
}

static void enc_u64(struct enc *e, uint64_t v)
{
	if (!e->err)
		e->err = msgpack_pack_uint64(&e->pk, v);
}

static void enc_bin(struct enc *e, const uint8_t *p, size_t n)
{
	if (!e->err)
		e->err = msgpack_pack_bin(&e->pk, n);
	if (!e->err)
		e->err = msgpack_pack_bin_body(&e->pk, p, n);
}

static int enc_finish(struct enc *e, void **buf, size_t *len)
{
	if (e->err) {
		msgpack_sbuffer_destroy(&e->sb);
		return -ENOMEM;
	}
	*len = e->sb.size;
	*buf = msgpack_sbuffer_release(&e->sb);
	return 0;
}

int meta_vdi_encode(const struct meta_vdi *v, void **buf, size_t *len)
{
	struct enc e;

	if (!vdi_valid(v))
		return -EINVAL;
	enc_init_fmt(&e, VDI_FIELDS, META_VDI_FORMAT);
	enc_u64(&e, v->vid);
	enc_bin(&e, v->name, sizeof(v->name));
	enc_bin(&e, v->tag, sizeof(v->tag));
	enc_u64(&e, v->create_time);
	enc_u64(&e, v->snap_ctime);
	enc_u64(&e, v->vm_clock_nsec);
	enc_u64(&e, v->vdi_size);
	enc_u64(&e, v->vm_state_size);
	enc_u64(&e, v->copy_policy);
	enc_u64(&e, v->store_policy);
	enc_u64(&e, v->nr_copies);
	enc_u64(&e, v->block_size_shift);
	enc_u64(&e, v->snap_id);
	enc_u64(&e, v->parent_vid);
	enc_u64(&e, v->deleted);
	enc_u64(&e, v->data_reclaimed);
	enc_u64(&e, v->delete_time);
	enc_u64(&e, v->mver);
	return enc_finish(&e, buf, len);
}

int meta_obj_encode(const struct meta_obj *o, void **buf, size_t *len)
{
	struct enc e;

	if (!obj_valid(o))
		return -EINVAL;
	enc_init(&e, OBJ_FIELDS);
	enc_u64(&e, o->oid);
	enc_u64(&e, o->size);
	enc_u64(&e, o->version);
	enc_bin(&e, o->csum, sizeof(o->csum));
	enc_u64(&e, o->csum_valid);
	enc_u64(&e, o->mtime);
	return enc_finish(&e, buf, len);
}

int meta__lock_encode(const struct meta_lock *l, void **buf, size_t *len)
{
	struct enc e;

	if (!lock_valid(l))
		return -EINVAL;
	enc_init(&e, LOCK_FIELDS);
	enc_u64(&e, l->vid);
	enc_u64(&e, l->type);
	enc_u64(&e, l->count);
	enc_u64(&e, l->time);
	return enc_finish(&e, buf, len);
}

int meta__u64_encode(uint64_t v, void **buf, size_t *len)
{
	struct enc e;

	enc_init(&e, U64_FIELDS);
	enc_u64(&e, v);
	return enc_finish(&e, buf, len);
}

/* --- decoding --- */

struct dec {
	msgpack_unpacked up;
	const msgpack_object *f;    /* the array's elements */
	uint32_t n;
	int err;                    /* sticky -EBADMSG */
};

/* Unpacks exactly one array whose first element is a format f with
 * nf[f] != 0 (f < nfmt) and which has nf[f] elements; *fmt = f. */
static int dec_init_fmt(struct dec *d, const void *buf, size_t len, const uint32_t *nf,
			uint32_t nfmt, uint64_t *fmt)
{
	size_t off = 0;
	msgpack_unpack_return r;

	msgpack_unpacked_init(&d->up);
	d->err = 0;
	d->f = NULL;
	d->n = 0;
	if (!buf || len == 0)
		return d->err = -EBADMSG;
	/* records are flat arrays; a corrupt header must not make msgpack-c
	 * allocate for billions of elements */
	if (mpcheck_bounded(buf, len, 2))
		return d->err = -EBADMSG;
	r = msgpack_unpack_next(&d->up, buf, len, &off);
	if (r == MSGPACK_UNPACK_NOMEM_ERROR)
		return d->err = -ENOMEM;
	if (r != MSGPACK_UNPACK_SUCCESS || off != len)
		return d->err = -EBADMSG;   /* torn, garbage or trailing bytes */
	if (d->up.data.type != MSGPACK_OBJECT_ARRAY || d->up.data.via.array.size < 1)
		return d->err = -EBADMSG;
	d->f = d->up.data.via.array.ptr;
	if (d->f[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || d->f[0].via.u64 >= nfmt ||
	    !nf[d->f[0].via.u64] || d->up.data.via.array.size != nf[d->f[0].via.u64]) {
		d->f = NULL;
		return d->err = -EBADMSG;
	}
	*fmt = d->f[0].via.u64;
	d->n = nf[*fmt];
	return 0;
}

/* Exactly one array of nfields elements whose first is META_FORMAT. */
static int dec_init(struct dec *d, const void *buf, size_t len, uint32_t nfields)
{
	uint32_t nf[META_FORMAT + 1] = {0};
	uint64_t fmt;

	nf[META_FORMAT] = nfields;
	return dec_init_fmt(d, buf, len, nf, META_FORMAT + 1, &fmt);
}

static uint64_t dec_u64(struct dec *d, uint32_t i, uint64_t max)
{
	if (d->err || i >= d->n) {
		d->err = -EBADMSG;
		return 0;
	}
	if (d->f[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER || d->f[i].via.u64 > max) {
		d->err = -EBADMSG;
		return 0;
	}
	return d->f[i].via.u64;
}

static void dec_bin(struct dec *d, uint32_t i, uint8_t *out, size_t n)
{
	if (d->err || i >= d->n || d->f[i].type != MSGPACK_OBJECT_BIN ||
	    d->f[i].via.bin.size != n) {
		d->err = -EBADMSG;
		return;
	}
	memcpy(out, d->f[i].via.bin.ptr, n);
}

static int dec_finish(struct dec *d)
{
	msgpack_unpacked_destroy(&d->up);
	return d->err;
}

int meta_vdi_decode(const void *buf, size_t len, struct meta_vdi *v)
{
	static const uint32_t nf[META_VDI_FORMAT + 1] = { 0, VDI_FIELDS_V1, VDI_FIELDS };
	struct dec d;
	struct meta_vdi t;
	uint64_t fmt = 0;

	memset(&t, 0, sizeof(t));
	if (dec_init_fmt(&d, buf, len, nf, META_VDI_FORMAT + 1, &fmt) == 0) {
		t.vid = (uint32_t)dec_u64(&d, 1, SD_VID_MASK);
		dec_bin(&d, 2, t.name, sizeof(t.name));
		dec_bin(&d, 3, t.tag, sizeof(t.tag));
		t.create_time = dec_u64(&d, 4, UINT64_MAX);
		t.snap_ctime = dec_u64(&d, 5, UINT64_MAX);
		t.vm_clock_nsec = dec_u64(&d, 6, UINT64_MAX);
		t.vdi_size = dec_u64(&d, 7, UINT64_MAX);
		t.vm_state_size = dec_u64(&d, 8, UINT64_MAX);
		t.copy_policy = (uint8_t)dec_u64(&d, 9, UINT8_MAX);
		t.store_policy = (uint8_t)dec_u64(&d, 10, UINT8_MAX);
		t.nr_copies = (uint8_t)dec_u64(&d, 11, SD_MAX_COPIES);
		t.block_size_shift = (uint8_t)dec_u64(&d, 12, 31);
		t.snap_id = (uint32_t)dec_u64(&d, 13, UINT32_MAX);
		t.parent_vid = (uint32_t)dec_u64(&d, 14, SD_VID_MASK);
		t.deleted = (uint8_t)dec_u64(&d, 15, 1);
		t.data_reclaimed = (uint8_t)dec_u64(&d, 16, 1);
		t.delete_time = dec_u64(&d, 17, UINT64_MAX);
		if (fmt >= 2)
			t.mver = dec_u64(&d, 18, UINT64_MAX);
	}
	int rc = dec_finish(&d);
	if (rc == 0)
		*v = t;
	return rc;
}

int meta_obj_decode(const void *buf, size_t len, struct meta_obj *o)
{
	struct dec d;
	struct meta_obj t;

	memset(&t, 0, sizeof(t));
	if (dec_init(&d, buf, len, OBJ_FIELDS) == 0) {
		t.oid = dec_u64(&d, 1, UINT64_MAX);
		t.size = dec_u64(&d, 2, META_OBJ_MAX_SIZE);
		t.version = dec_u64(&d, 3, UINT64_MAX);
		dec_bin(&d, 4, t.csum, sizeof(t.csum));
		t.csum_valid = (uint8_t)dec_u64(&d, 5, 1);
		t.mtime = dec_u64(&d, 6, UINT64_MAX);
	}
	int rc = dec_finish(&d);
	if (rc == 0)
		*o = t;
	return rc;
}

int meta__lock_decode(const void *buf, size_t len, struct meta_lock *l)
{
	struct dec d;
	struct meta_lock t;

	memset(&t, 0, sizeof(t));
	if (dec_init(&d, buf, len, LOCK_FIELDS) == 0) {
		t.vid = (uint32_t)dec_u64(&d, 1, SD_VID_MASK);
		t.type = (uint32_t)dec_u64(&d, 2, 1);
		t.count = (uint32_t)dec_u64(&d, 3, UINT32_MAX);
		t.time = dec_u64(&d, 4, UINT64_MAX);
	}
	int rc = dec_finish(&d);
	if (rc == 0)
		*l = t;
	return rc;
}

int meta__u64_decode(const void *buf, size_t len, uint64_t *v)
{
	struct dec d;
	uint64_t t = 0;

	if (dec_init(&d, buf, len, U64_FIELDS) == 0)
		t = dec_u64(&d, 1, UINT64_MAX);
	int rc = dec_finish(&d);
	if (rc == 0)
		*v = t;
	return rc;
}

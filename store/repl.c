/*
 * repl.c: the store side of the replicated data path (issue 5): object
 * index access for recovery and anti-entropy (stat, list, put, remove) and
 * VDI metadata export/import for catalog replication (store.h, section
 * "replication").
 *
 * Export/import format (msgpack):
 *   [META_FORMAT, vid, mver, bin(meta_vdi_encode bytes), [[first_slot, bin], ...]]
 * The index runs hold only non-zero slots, so an export is small for a
 * sparse disk (a 10 GiB VDI written everywhere: 2560 slots, ~10 KiB).
 *
 * Import crash safety: one catalog txn stores the record, the index's
 * object record, the raised "seq" and the export bytes themselves under
 * misc key "repl_import" (the roll-forward record); that commit is the
 * commit point. The index file is then replaced (chunk_create: temp file +
 * rename) and the roll-forward record deleted. After a crash in between,
 * store_open (or the next import) rewrites the index from the stored
 * export, provided the record still carries that export's mver. So a crash
 * leaves the old state (before the commit) or the new one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "gossip/mpcheck.h"
#include "store/store_int.h"

#define REPL_IMPORT_KEY "repl_import"
#define OBJ_LIST_BATCH 256
#define EXPORT_FIELDS 5

static int oid_plain_ok(uint64_t oid)
{
	return (sd_oid_is_data(oid) && sd_oid_index(oid) < SD_MAX_DATA_OBJS) || sd_oid_is_vmstate(oid);
}

static void info_from(struct store_obj_info *o, const struct meta_obj *m)
{
	memset(o, 0, sizeof(*o));
	o->oid = m->oid;
	o->size = m->size;
	o->version = m->version;
	o->mtime = m->mtime;
	memcpy(o->csum, m->csum, sizeof(o->csum));
	o->csum_valid = m->csum_valid;
}

/* --- object index --- */

int store_obj_stat(struct store *st, uint64_t oid, struct store_obj_info *out)
{
	struct meta_txn *t;
	struct meta_obj m;
	int r = meta_txn_begin(st->meta, 0, &t);
	if (r)
		return SD_RES_EIO;
	r = meta_obj_get(t, oid, &m);
	meta_txn_abort(t);
	if (r == -ENOENT)
		return SD_RES_NO_OBJ;
	if (r) {
		store__log(st, STORE_LOG_ERR, "store: object record %016llx: %s",
			   (unsigned long long)oid, strerror(-r));
		return SD_RES_EIO;
	}
	info_from(out, &m);
	return SD_RES_SUCCESS;
}

int store_obj_list(struct store *st, uint64_t from_oid,
		   int (*cb)(void *ctx, const struct store_obj_info *o), void *ctx)
{
	struct meta_obj *batch = malloc(OBJ_LIST_BATCH * sizeof(*batch));
	uint64_t from = from_oid;
	int r = 0;

	if (!batch)
		return -ENOMEM;
	for (;;) {
		struct meta_txn *t;
		size_t n = 0;
		r = meta_txn_begin(st->meta, 0, &t);
		if (r)
			break;
		r = meta_obj_scan(t, from, batch, OBJ_LIST_BATCH, &n);
		meta_txn_abort(t);
		if (r || n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			struct store_obj_info o;
			info_from(&o, &batch[i]);
			if (cb(ctx, &o))
				goto out;
		}
		if (n < OBJ_LIST_BATCH || batch[n - 1].oid == UINT64_MAX)
			break;
		from = batch[n - 1].oid + 1;
	}
out:
	if (r)
		store__log(st, STORE_LOG_ERR, "store: listing objects from %016llx: %s",
			   (unsigned long long)from, strerror(-r));
	free(batch);
	return r;
}

int store_obj_put(struct store *st, uint64_t oid, const void *buf, uint64_t len, uint64_t version)
{
	struct meta_vdi v;
	int r;

	if (!oid_plain_ok(oid) || !buf)
		return SD_RES_INVALID_PARMS;
	pthread_rwlock_rdlock(&st->ns);
	r = store__vdi_get(st, sd_oid_vid(oid), &v);
	if (r || (v.deleted && v.data_reclaimed)) {
		r = r && r != -ENOENT ? SD_RES_EIO : SD_RES_NO_VDI;
		goto out;
	}
	uint64_t size = UINT64_C(1) << v.block_size_shift;
	if (len != size) {
		store__log(st, STORE_LOG_WARN, "store: obj_put %016llx: len %llu, object size is %llu",
			   (unsigned long long)oid, (unsigned long long)len, (unsigned long long)size);
		r = SD_RES_INVALID_PARMS;
		goto out;
	}
	uint8_t csum[crypto_generichash_BYTES];
	crypto_generichash(csum, sizeof(csum), buf, size, NULL, 0);
	pthread_mutex_t *m = store__stripe(st, oid);
	pthread_mutex_lock(m);
	uint64_t seq;
	if (version) {
		/* never replace a newer copy with an older one: a repair or a
		 * recovery push can race a client write of the same object */
		struct meta_txn *t;
		struct meta_obj cur;
		int newer = 0;
		if (meta_txn_begin(st->meta, 0, &t) == 0) {
			newer = meta_obj_get(t, oid, &cur) == 0 && cur.version > version;
			meta_txn_abort(t);
		}
		if (newer) {
			pthread_mutex_unlock(m);
			r = SD_RES_SUCCESS;
			goto out;
		}
	}
	if (version) {
		store__seq_raise(st, version);
		seq = version;
	} else {
		seq = store__next_seq(st);
	}
	r = chunk_vdi_create(st->cs, v.vid);   /* a replica may be the first object here */
	if (!r)
		r = chunk_create(st->cs, oid, size, 0, 0, (size_t)size, buf);
	if (r == 0)
		r = store__obj_commit(st, oid, size, seq, csum) ? -EIO : 0;
	else
		store__log(st, STORE_LOG_ERR, "store: obj_put %016llx: %s",
			   (unsigned long long)oid, strerror(-r));
	pthread_mutex_unlock(m);
	r = store__res_from_errno(r);
	if (r == SD_RES_NO_OBJ)
		r = SD_RES_EIO;
out:
	pthread_rwlock_unlock(&st->ns);
	return r;
}

int store_obj_remove(struct store *st, uint64_t oid)
{
	struct meta_txn *t;
	int r;

	if (!oid_plain_ok(oid))
		return SD_RES_INVALID_PARMS;
	pthread_rwlock_rdlock(&st->ns);
	pthread_mutex_t *m = store__stripe(st, oid);
	pthread_mutex_lock(m);
	r = chunk_remove(st->cs, oid);
	if (r == -ENOENT)
		r = 0;
	if (!r)
		r = meta_txn_begin(st->meta, 1, &t);
	if (!r) {
		r = meta_obj_del(t, oid);
		if (r == -ENOENT) {
			meta_txn_abort(t);
			r = 0;
		} else if (r) {
			meta_txn_abort(t);
		} else {
			r = meta_txn_commit(t);
		}
	}
	pthread_mutex_unlock(m);
	pthread_rwlock_unlock(&st->ns);
	if (r) {
		store__log(st, STORE_LOG_ERR, "store: removing %016llx: %s",
			   (unsigned long long)oid, strerror(-r));
		return SD_RES_EIO;
	}
	return SD_RES_SUCCESS;
}

/* --- VDI export --- */

int store_vdi_export(struct store *st, uint32_t vid, uint8_t **buf, size_t *len)
{
	struct meta_vdi v;
	uint8_t *idx = NULL;
	void *rec = NULL;
	size_t reclen = 0;
	int r, res = SD_RES_SUCCESS;

	*buf = NULL;
	*len = 0;
	if (vid == 0 || vid > SD_VID_MASK)
		return SD_RES_NO_VDI;
	/* ns read + the inode's stripe: header writes and namespace changes
	 * hold ns for writing, index writes the stripe */
	pthread_rwlock_rdlock(&st->ns);
	pthread_mutex_t *m = store__stripe(st, sd_inode_oid(vid));
	pthread_mutex_lock(m);
	r = store__vdi_get(st, vid, &v);
	if (r == 0 && !v.deleted) {
		idx = malloc(SD_INODE_INDEX_SIZE);
		if (!idx) {
			r = -ENOMEM;
		} else {
			r = chunk_read(st->cs, sd_inode_oid(vid), 0, SD_INODE_INDEX_SIZE, idx);
			if (r == -ENOENT) {
				memset(idx, 0, SD_INODE_INDEX_SIZE);
				r = 0;
			} else if (r) {
				store__log(st, STORE_LOG_ERR, "store: export: index of %06x: %s",
					   vid, strerror(-r));
				r = -EIO;
			}
		}
	}
	pthread_mutex_unlock(m);
	pthread_rwlock_unlock(&st->ns);
	if (r) {
		free(idx);
		return r == -ENOENT ? SD_RES_NO_VDI : r == -ENOMEM ? SD_RES_NO_MEM : SD_RES_EIO;
	}
	r = meta_vdi_encode(&v, &rec, &reclen);
	if (r) {
		free(idx);
		return r == -ENOMEM ? SD_RES_NO_MEM : SD_RES_EIO;
	}

	msgpack_sbuffer sb;
	msgpack_packer pk;
	int err = 0;
	size_t runs = 0;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (idx) {
		for (size_t i = 0; i < SD_MAX_DATA_OBJS; i++)
			if (sd_get32(idx + 4 * i) && (i == 0 || !sd_get32(idx + 4 * (i - 1))))
				runs++;
	}
	err |= msgpack_pack_array(&pk, EXPORT_FIELDS);
	err |= msgpack_pack_uint64(&pk, META_FORMAT);
	err |= msgpack_pack_uint64(&pk, vid);
	err |= msgpack_pack_uint64(&pk, v.mver);
	err |= msgpack_pack_bin(&pk, reclen);
	err |= msgpack_pack_bin_body(&pk, rec, reclen);
	err |= msgpack_pack_array(&pk, runs);
	for (size_t i = 0; idx && i < SD_MAX_DATA_OBJS && !err; i++) {
		if (!sd_get32(idx + 4 * i))
			continue;
		size_t j = i;
		while (j < SD_MAX_DATA_OBJS && sd_get32(idx + 4 * j))
			j++;
		err |= msgpack_pack_array(&pk, 2);
		err |= msgpack_pack_uint64(&pk, i);
		err |= msgpack_pack_bin(&pk, 4 * (j - i));
		err |= msgpack_pack_bin_body(&pk, idx + 4 * i, 4 * (j - i));
		i = j;
	}
	free(idx);
	free(rec);
	if (err) {
		msgpack_sbuffer_destroy(&sb);
		return SD_RES_NO_MEM;
	}
	*len = sb.size;
	*buf = (uint8_t *)msgpack_sbuffer_release(&sb);
	(void)res;
	return SD_RES_SUCCESS;
}

/* --- VDI import --- */

struct imp {
	uint32_t vid;
	uint64_t mver;
	struct meta_vdi rec;
	uint8_t *idx;               /* SD_INODE_INDEX_SIZE bytes; NULL for a deleted record */
};

static int u64_of(const msgpack_object *o, uint64_t max, uint64_t *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
		return -EBADMSG;
	*v = o->via.u64;
	return 0;
}

/* Validates everything before anything is changed; on 0, im->idx is the
 * whole index (malloc'd) for a live record. -EBADMSG or -ENOMEM. */
static int import_parse(const uint8_t *buf, size_t len, struct imp *im)
{
	msgpack_unpacked up;
	size_t off = 0;
	uint64_t fmt, vid, mver, first, prev_end = 0;
	int r = -EBADMSG;

	memset(im, 0, sizeof(*im));
	if (!buf || len == 0 || mpcheck_bounded(buf, len, 3))
		return -EBADMSG;
	msgpack_unpacked_init(&up);
	msgpack_unpack_return ur = msgpack_unpack_next(&up, (const char *)buf, len, &off);
	if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
		r = -ENOMEM;
		goto out;
	}
	if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
		goto out;
	const msgpack_object *top = &up.data;
	if (top->type != MSGPACK_OBJECT_ARRAY || top->via.array.size != EXPORT_FIELDS)
		goto out;
	const msgpack_object *f = top->via.array.ptr;
	if (u64_of(&f[0], UINT64_MAX, &fmt) || fmt != META_FORMAT ||
	    u64_of(&f[1], SD_VID_MASK, &vid) || vid == 0 ||
	    u64_of(&f[2], UINT64_MAX, &mver) || mver == 0 ||
	    f[3].type != MSGPACK_OBJECT_BIN || f[4].type != MSGPACK_OBJECT_ARRAY)
		goto out;
	if (meta_vdi_decode(f[3].via.bin.ptr, f[3].via.bin.size, &im->rec))
		goto out;
	if (im->rec.vid != vid || im->rec.mver != mver ||
	    im->rec.block_size_shift < SD_MIN_SHIFT || im->rec.block_size_shift > SD_MAX_SHIFT)
		goto out;
	im->vid = (uint32_t)vid;
	im->mver = mver;
	const msgpack_object_array *runs = &f[4].via.array;
	if (im->rec.deleted) {
		r = runs->size ? -EBADMSG : 0;     /* a deleted VDI has no index */
		goto out;
	}
	im->idx = calloc(1, SD_INODE_INDEX_SIZE);
	if (!im->idx) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < runs->size; i++) {
		const msgpack_object *run = &runs->ptr[i];
		if (run->type != MSGPACK_OBJECT_ARRAY || run->via.array.size != 2)
			goto out;
		const msgpack_object *rf = run->via.array.ptr;
		if (u64_of(&rf[0], SD_MAX_DATA_OBJS - 1, &first) || rf[1].type != MSGPACK_OBJECT_BIN)
			goto out;
		uint32_t n = rf[1].via.bin.size;
		const uint8_t *p = (const uint8_t *)rf[1].via.bin.ptr;
		/* ascending, not touching the previous run (else it would be one) */
		if (n == 0 || n % 4 || (i && first <= prev_end) ||
		    n / 4 > SD_MAX_DATA_OBJS - first)
			goto out;
		for (uint32_t k = 0; k < n; k += 4) {
			uint32_t s = sd_get32(p + k);
			if (s == 0 || s > SD_VID_MASK)
				goto out;
		}
		memcpy(im->idx + 4 * first, p, n);
		prev_end = first + n / 4;
	}
	r = 0;
out:
	msgpack_unpacked_destroy(&up);
	if (r) {
		free(im->idx);
		im->idx = NULL;
	}
	return r;
}

/* Replace vid's index file with idx. Caller holds ns for writing. */
static int index_replace(struct store *st, uint32_t vid, const uint8_t *idx)
{
	int r = chunk_vdi_create(st->cs, vid);
	if (!r)
		r = chunk_create(st->cs, sd_inode_oid(vid), SD_INODE_INDEX_SIZE, 0, 0,
				 SD_INODE_INDEX_SIZE, idx);
	if (r)
		store__log(st, STORE_LOG_ERR, "store: import: writing index of %06x: %s", vid, strerror(-r));
	return r;
}

static int pending_drop(struct store *st)
{
	struct meta_txn *t;
	int r = meta_txn_begin(st->meta, 1, &t);
	if (r)
		return r;
	r = meta_misc_del(t, REPL_IMPORT_KEY);
	if (r == -ENOENT) {
		meta_txn_abort(t);
		return 0;
	}
	if (r) {
		meta_txn_abort(t);
		return r;
	}
	return meta_txn_commit(t);
}

/* Finish a committed import whose index file may not be written yet.
 * Caller holds ns for writing (or is store_open). 0 or -errno. */
static int pending_finish(struct store *st)
{
	struct meta_txn *t;
	const void *val;
	size_t vlen;
	uint8_t *copy = NULL;
	struct meta_vdi cur;
	struct imp im;
	int r = meta_txn_begin(st->meta, 0, &t);
	if (r)
		return r;
	r = meta_misc_get_raw(t, REPL_IMPORT_KEY, &val, &vlen);
	if (r == 0) {
		copy = malloc(vlen ? vlen : 1);
		if (copy)
			memcpy(copy, val, vlen);
		else
			r = -ENOMEM;
	}
	meta_txn_abort(t);
	if (r == -ENOENT)
		return 0;
	if (r)
		return r;
	r = import_parse(copy, vlen, &im);
	free(copy);
	if (r == -EBADMSG) {
		store__log(st, STORE_LOG_ERR, "store: import roll-forward record is corrupt; dropped");
		return pending_drop(st);
	}
	if (r)
		return r;
	r = store__vdi_get(st, im.vid, &cur);
	/* only while the record is still the imported one: a later change
	 * (which a local index write would be) makes the file newer */
	if (r == 0 && cur.mver == im.mver && !cur.deleted && im.idx) {
		r = index_replace(st, im.vid, im.idx);
		if (!r)
			store__log(st, STORE_LOG_INFO, "store: import of %06x (mver %llu) completed",
				   im.vid, (unsigned long long)im.mver);
	} else if (r == -ENOENT) {
		r = 0;
	}
	free(im.idx);
	return r ? r : pending_drop(st);
}

struct unversioned {
	uint32_t *vid;
	size_t n, cap;
	int err;
};

static int unversioned_cb(void *ctx, const struct meta_vdi *v)
{
	struct unversioned *u = ctx;
	if (v->mver)
		return 0;
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 64;
		uint32_t *p = realloc(u->vid, cap * sizeof(*p));
		if (!p) {
			u->err = -ENOMEM;
			return 1;
		}
		u->vid = p;
		u->cap = cap;
	}
	u->vid[u->n++] = v->vid;
	return 0;
}

/* Records from before mver existed (format 1, mver 0) get one now, so
 * every record can be exported (an export with mver 0 is refused). One
 * txn: all or none. */
static int mver_upgrade(struct store *st)
{
	struct unversioned u;
	struct meta_txn *t;
	uint64_t top = 0;
	int r;

	memset(&u, 0, sizeof(u));
	r = meta_txn_begin(st->meta, 1, &t);
	if (r)
		return r;
	r = meta_vdi_foreach(t, unversioned_cb, &u);
	if (!r)
		r = u.err;
	for (size_t i = 0; !r && i < u.n; i++) {
		struct meta_vdi v;
		r = meta_vdi_get(t, u.vid[i], &v);
		if (!r) {
			v.mver = top = store__next_seq(st);
			r = meta_vdi_put(t, &v);
		}
	}
	if (!r && u.n)
		r = store__misc_seq_raise(t, top);
	if (!r && u.n) {
		r = meta_txn_commit(t);
		if (!r)
			store__log(st, STORE_LOG_INFO, "store: %zu VDI records given a metadata version", u.n);
	} else {
		meta_txn_abort(t);
	}
	free(u.vid);
	return r;
}

int store__repl_recover(struct store *st)
{
	int r = pending_finish(st);
	return r ? r : mver_upgrade(st);
}

int store_vdi_import(struct store *st, const uint8_t *buf, size_t len)
{
	struct imp im;
	struct meta_txn *t = NULL;
	struct meta_vdi cur;
	int r = import_parse(buf, len, &im);
	if (r)
		return r;

	pthread_rwlock_wrlock(&st->ns);
	r = pending_finish(st);
	if (r)
		goto out;
	r = meta_txn_begin(st->meta, 1, &t);
	if (r) {
		t = NULL;
		goto out;
	}
	int have = meta_vdi_get(t, im.vid, &cur);
	if (have && have != -ENOENT) {
		r = have;
		goto out;
	}
	if (have == 0 && cur.mver >= im.mver) {
		r = 0;                  /* not newer: nothing changes */
		goto out;
	}
	struct meta_vdi nv = im.rec;
	/* data_reclaimed is local: only our own reclaim sets it */
	nv.data_reclaimed = have == 0 && cur.deleted && nv.deleted ? cur.data_reclaimed : 0;
	store__seq_raise(st, im.mver);
	r = meta_vdi_put(t, &nv);
	if (r)
		goto out;
	uint64_t top = im.mver;
	if (nv.deleted) {
		r = meta_lock_del(t, nv.vid);     /* a lock dies with its VDI */
		if (r == -ENOENT)
			r = 0;
	} else {
		struct meta_obj o;
		memset(&o, 0, sizeof(o));
		o.oid = sd_inode_oid(nv.vid);
		o.size = SD_INODE_INDEX_SIZE;
		o.version = top = store__next_seq(st);
		o.mtime = store__now();
		r = meta_obj_put(t, &o);
		if (!r)
			r = meta_misc_put_raw(t, REPL_IMPORT_KEY, buf, len);
	}
	if (!r)
		r = store__misc_seq_raise(t, top);
	if (r)
		goto out;
	r = meta_txn_commit(t);         /* the commit point */
	t = NULL;
	if (r)
		goto out;
	if (nv.deleted) {
		store__log(st, STORE_LOG_INFO, "store: import: vid %06x deleted (mver %llu)",
			   nv.vid, (unsigned long long)nv.mver);
		store__reclaim(st);
	} else {
		r = index_replace(st, nv.vid, im.idx);
		if (!r)
			r = pending_drop(st);
		/* on failure the roll-forward record stays: the next import
		 * or store_open completes it */
	}
	if (!r)
		r = 1;
out:
	if (t)
		meta_txn_abort(t);
	if (r < 0)
		store__log(st, STORE_LOG_ERR, "store: import of %06x: %s", im.vid, strerror(-r));
	pthread_rwlock_unlock(&st->ns);
	free(im.idx);
	return r;
}

/* --- versions --- */

struct ver_scan {
	uint32_t *vid;
	uint64_t *mver;
	size_t n, cap;
	int err;
};

static int ver_collect(void *ctx, const struct meta_vdi *v)
{
	struct ver_scan *s = ctx;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		uint32_t *a = realloc(s->vid, cap * sizeof(*a));
		if (!a) {
			s->err = -ENOMEM;
			return 1;
		}
		s->vid = a;
		uint64_t *b = realloc(s->mver, cap * sizeof(*b));
		if (!b) {
			s->err = -ENOMEM;
			return 1;
		}
		s->mver = b;
		s->cap = cap;
	}
	s->vid[s->n] = v->vid;
	s->mver[s->n] = v->mver;
	s->n++;
	return 0;
}

int store_vdi_versions(struct store *st, int (*cb)(void *ctx, uint32_t vid, uint64_t mver), void *ctx)
{
	struct ver_scan s;
	struct meta_txn *t;
	int r;

	memset(&s, 0, sizeof(s));
	r = meta_txn_begin(st->meta, 0, &t);
	if (r)
		return r;
	r = meta_vdi_foreach(t, ver_collect, &s);
	meta_txn_abort(t);
	if (!r)
		r = s.err;
	for (size_t i = 0; !r && i < s.n; i++)
		if (cb(ctx, s.vid[i], s.mver[i]))
			break;
	free(s.vid);
	free(s.mver);
	return r;
}

/*
 * vdi.c: the VDI namespace (§5): vid allocation by FNV-1a and linear
 * probing (§5.3), the lookup by name/snapid/tag (§5.4), NEW_VDI's four
 * cases (§5.6), LOCK/RELEASE (§5.7), READ_VDIS (§5.8), DEL_VDI (§5.9) and
 * the reclaiming of deleted VDIs' objects.
 *
 * The in-use bitmap is the key set of the catalog's "vdi" database (a
 * deleted VDI keeps its record), so "bit v is set" is "a record for v
 * exists". Runs are walked one record at a time: a run is as long as the
 * number of VDIs whose hashes landed in it, which is small.
 *
 * Every namespace change holds st->ns for writing and does its lookup,
 * allocation and record updates in one catalog write txn, so two NEW_VDIs
 * of one name can never both succeed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* --- names and the bitmap --- */

/* A fixed-width field as the spec compares it: bytes up to the first NUL,
 * at most 256; the copy is NUL padded so memcmp over 256 bytes works. */
static void field_norm(uint8_t *dst, const char *src)
{
	size_t n = strnlen(src, SD_NAME_LEN);
	memset(dst, 0, SD_NAME_LEN);
	memcpy(dst, src, n);
}

static int bit_test(struct meta_txn *t, uint32_t vid, int *set)
{
	uint32_t n;
	int r = meta_vdi_next(t, vid, &n);
	if (r == -ENOENT) {
		*set = 0;
		return 0;
	}
	if (r)
		return r;
	*set = n == vid;
	return 0;
}

/* First vid >= from whose bit is clear, wrapping to 1 (§5.3). *vid = 0
 * if every vid is taken. */
static int first_clear(struct meta_txn *t, uint32_t from, uint32_t *vid)
{
	uint32_t v = from;
	for (uint32_t steps = 0; steps < SD_NR_VDIS; steps++) {
		int set, r = bit_test(t, v, &set);
		if (r)
			return r;
		if (!set) {
			*vid = v;
			return 0;
		}
		if (++v == SD_NR_VDIS)
			v = 1;
		if (v == from)
			break;
	}
	*vid = 0;
	return 0;
}

struct lookup {
	uint32_t vid;               /* the answer (SD_RES_SUCCESS) */
	struct meta_vdi rec;        /* its record */
	uint32_t working;           /* vid of the working VDI of the name, 0 if none */
	uint32_t next_snapid;       /* max snap_id of the name + 1 (§5.5) */
	uint32_t free_vid;          /* where a new VDI of this name goes; 0 = full */
};

/*
 * §5.4. name and tag are normalised (NUL padded); tag all zero and
 * snapid 0 mean "the working VDI". Returns a wire code; out->working,
 * next_snapid and free_vid are filled whatever the answer.
 *
 * Deviation kept on purpose: next_snapid is the largest snap_id seen + 1
 * rather than the newest one's + 1; both agree because a later VDI of a
 * name always has a larger snap_id, and the max cannot go backwards.
 */
static int vdi_lookup(struct meta_txn *t, const uint8_t *name, const uint8_t *tag,
		      uint32_t snapid, struct lookup *out)
{
	uint32_t start = sd_vid_start((const char *)name, SD_NAME_LEN), end;
	int set, r, by_tag = tag[0] != 0 || snapid != 0;
	int res = SD_RES_NO_VDI, decided = 0;

	memset(out, 0, sizeof(*out));
	out->next_snapid = 1;
	r = bit_test(t, start, &set);
	if (r)
		return SD_RES_EIO;
	if (!set) {
		out->free_vid = start;
		return SD_RES_NO_VDI;
	}
	r = first_clear(t, start, &end);
	if (r)
		return SD_RES_EIO;
	out->free_vid = end;
	/* Candidates newest first (§5.4 step 2): a run that wrapped (or
	 * fills the table, end == 0) is [1, low) then [start, 2^24), walked
	 * as [1, low) downwards, then [start, hi) downwards. */
	uint32_t hi = end > start ? end : SD_NR_VDIS;
	uint32_t low = end > start ? 1 : (end ? end : start);
	uint32_t n = (low - 1) + (hi - start);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t v = k < low - 1 ? low - 1 - k : hi - 1 - (k - (low - 1));
		struct meta_vdi rec;
		r = meta_vdi_get(t, v, &rec);
		if (r)
			return SD_RES_EIO;   /* a set bit without a readable record */
		if (rec.deleted || memcmp(rec.name, name, SD_NAME_LEN))
			continue;
		if (rec.snap_id >= out->next_snapid)
			out->next_snapid = rec.snap_id + 1;
		if (!rec.snap_ctime && !out->working)
			out->working = v;
		if (decided)
			continue;
		if (!by_tag) {
			/* the newest VDI of the name decides (§5.4 step 4) */
			decided = 1;
			if (!rec.snap_ctime) {
				out->vid = v;
				out->rec = rec;
				res = SD_RES_SUCCESS;
			}
			continue;
		}
		if (!rec.snap_ctime)
			continue;
		uint8_t rtagn[SD_TAG_LEN];
		field_norm(rtagn, (const char *)rec.tag);
		if ((tag[0] && !memcmp(rtagn, tag, SD_TAG_LEN)) ||
		    (snapid && rec.snap_id == snapid)) {
			decided = 1;
			out->vid = v;
			out->rec = rec;
			res = SD_RES_SUCCESS;
		}
	}
	if (!decided && by_tag && out->working)
		res = SD_RES_NO_TAG;
	return res;
}

/* Normalised name and tag of a request; SD_RES_INVALID_PARMS for an empty
 * name (it would match every deleted VDI's cleared name). */
static int req_names(const struct store_vdi_req *req, uint8_t *name, uint8_t *tag)
{
	field_norm(name, req->name);
	field_norm(tag, req->tag);
	return name[0] ? SD_RES_SUCCESS : SD_RES_INVALID_PARMS;
}

static void rsp_fill(struct store_vdi_rsp *rsp, const struct meta_vdi *v)
{
	if (!rsp)
		return;
	rsp->vid = v->vid;
	rsp->copies = v->nr_copies;
	rsp->block_size_shift = v->block_size_shift;
}

/* --- NEW_VDI --- */

/* Checks and defaults of §5.6; *shift_out 0 = "take the base's". */
static int new_params(struct store *st, const struct store_vdi_req *req,
		      uint8_t *copies, uint8_t *policy, uint8_t *shift_out)
{
	*copies = req->copies;
	*policy = req->copy_policy;
	if (!*copies) {             /* cluster default for both (§5.6) */
		*copies = st->cfg.default_copies;
		*policy = 0;
	}
	if (*policy) {
		store__log(st, STORE_LOG_WARN, "store: NEW_VDI: copy_policy 0x%02x: erasure coding "
			   "is not supported", *policy);
		return SD_RES_INVALID_PARMS;
	}
	if (*copies > SD_MAX_COPIES) {
		store__log(st, STORE_LOG_WARN, "store: NEW_VDI: copies %u > %u", *copies, SD_MAX_COPIES);
		return SD_RES_INVALID_PARMS;
	}
	if (req->store_policy) {
		store__log(st, STORE_LOG_WARN, "store: NEW_VDI: store_policy %u (only 0 is served)",
			   req->store_policy);
		return SD_RES_INVALID_PARMS;
	}
	*shift_out = req->block_size_shift;
	if (*shift_out && (*shift_out < SD_MIN_SHIFT || *shift_out > st->cfg.max_shift)) {
		store__log(st, STORE_LOG_WARN, "store: NEW_VDI: block_size_shift %u outside [%u, %u]",
			   *shift_out, SD_MIN_SHIFT, st->cfg.max_shift);
		return SD_RES_INVALID_PARMS;
	}
	return SD_RES_SUCCESS;
}

/* The new VDI's index object: a copy of src's index (reflink on btrfs)
 * or zeros when src is 0 or has never had an index written. The old
 * file, if any, is replaced: it can only be left over from a NEW_VDI that
 * crashed before its catalog commit. */
static int index_create(struct store *st, uint32_t vid, uint32_t src)
{
	static const uint8_t nothing[1];    /* an empty payload, never NULL */
	uint64_t oid = sd_inode_oid(vid);
	int r = chunk_vdi_create(st->cs, vid);
	if (r)
		return r;
	r = chunk_create(st->cs, oid, SD_INODE_INDEX_SIZE, src ? sd_inode_oid(src) : 0, 0, 0, nothing);
	if (r == -ENOENT && src)    /* the source index was never written: all zero */
		r = chunk_create(st->cs, oid, SD_INODE_INDEX_SIZE, 0, 0, 0, nothing);
	return r;
}

/* Object record of a new index and "seq" raised past its version, in the
 * caller's write txn (meta_obj_commit would need a second one). */
static int index_record(struct store *st, struct meta_txn *t, uint32_t vid)
{
	struct meta_obj o;
	uint64_t seq = store__next_seq(st), cur = 0;
	memset(&o, 0, sizeof(o));
	o.oid = sd_inode_oid(vid);
	o.size = SD_INODE_INDEX_SIZE;
	o.version = seq;
	o.mtime = store__now();
	int r = meta_obj_put(t, &o);
	if (r)
		return r;
	r = meta_misc_get_u64(t, "seq", &cur);
	if (r && r != -ENOENT)
		return r;
	return cur < seq ? meta_misc_put_u64(t, "seq", seq) : 0;
}

int store_new_vdi(struct store *st, const struct store_vdi_req *req, struct store_vdi_rsp *rsp)
{
	uint8_t name[SD_NAME_LEN], tag[SD_TAG_LEN], notag[SD_TAG_LEN] = {0};
	uint8_t copies, policy, shift;
	struct meta_txn *t = NULL;
	struct lookup lk;
	struct meta_vdi base, nv, old;
	uint32_t base_vid = req->base_vid & SD_VID_MASK;
	int res, r, has_base = 0;

	if (req_names(req, name, tag)) {
		store__log(st, STORE_LOG_WARN, "store: NEW_VDI: empty name");
		return SD_RES_INVALID_PARMS;
	}
	res = new_params(st, req, &copies, &policy, &shift);
	if (res)
		return res;

	pthread_rwlock_wrlock(&st->ns);
	r = meta_txn_begin(st->meta, 1, &t);
	if (r) {
		t = NULL;
		res = SD_RES_EIO;
		goto out;
	}
	res = vdi_lookup(t, name, notag, 0, &lk);
	if (res != SD_RES_SUCCESS && res != SD_RES_NO_VDI)
		goto out;
	int w_exists = res == SD_RES_SUCCESS;
	if (!req->snapshot && w_exists) {
		res = SD_RES_VDI_EXIST;
		goto out;
	}
	if (req->snapshot && !w_exists) {
		res = SD_RES_NO_VDI;
		goto out;
	}
	/* the index source: the base (clone, rebase) or W itself (snapshot) */
	if (base_vid || req->snapshot) {
		if (req->snapshot && base_vid == lk.vid) {
			base = lk.rec;
		} else {
			r = base_vid ? meta_vdi_get(t, base_vid, &base) : -ENOENT;
			if (r || base.deleted) {
				store__log(st, STORE_LOG_WARN, "store: NEW_VDI %.256s: base vid %06x %s",
					   (const char *)name, base_vid,
					   r && r != -ENOENT ? strerror(-r) : "does not exist");
				res = SD_RES_BASE_VDI_READ;
				goto out;
			}
		}
		has_base = 1;
		if (!shift)         /* our choice: inherit rather than mix sizes */
			shift = base.block_size_shift;
		if (shift != base.block_size_shift) {
			store__log(st, STORE_LOG_WARN, "store: NEW_VDI %.256s: block_size_shift %u "
				   "differs from base %06x's %u (COW cannot cross object sizes)",
				   (const char *)name, shift, base.vid, base.block_size_shift);
			res = SD_RES_INVALID_PARMS;
			goto out;
		}
	}
	if (!shift)
		shift = st->cfg.default_shift;
	if (req->vdi_size > inode_max_size(shift)) {
		store__log(st, STORE_LOG_WARN, "store: NEW_VDI %.256s: vdi_size %llu above the "
			   "limit %llu for shift %u", (const char *)name,
			   (unsigned long long)req->vdi_size,
			   (unsigned long long)inode_max_size(shift), shift);
		res = SD_RES_INVALID_PARMS;
		goto out;
	}
	if (!lk.free_vid) {
		res = SD_RES_FULL_VDI;
		goto out;
	}

	uint64_t now = store__now();
	memset(&nv, 0, sizeof(nv));
	nv.vid = lk.free_vid;
	memcpy(nv.name, name, SD_NAME_LEN);
	nv.create_time = now;
	nv.vdi_size = req->vdi_size;
	nv.copy_policy = policy;
	nv.nr_copies = copies;
	nv.block_size_shift = shift;
	nv.snap_id = lk.next_snapid;
	nv.parent_vid = has_base ? base.vid : 0;

	r = index_create(st, nv.vid, has_base ? base.vid : 0);
	if (r) {
		store__log(st, STORE_LOG_ERR, "store: NEW_VDI %.256s: index of %06x: %s",
			   (const char *)name, nv.vid, strerror(-r));
		res = store__res_from_errno(r) == SD_RES_NO_OBJ ? SD_RES_EIO : store__res_from_errno(r);
		goto out;
	}
	if (req->snapshot) {        /* W becomes the snapshot (§5.5) */
		old = lk.rec;
		old.snap_ctime = now;
		old.mver = store__next_seq(st);
		r = meta_vdi_put(t, &old);
		if (r)
			goto err_io;
		/* the lock holder goes on writing the new working vid (QEMU
		 * releases that one), so its lock moves there with it */
		struct meta_lock l;
		r = meta_lock_get(t, old.vid, &l);
		if (r == 0) {
			l.vid = nv.vid;
			r = meta_lock_put(t, &l);
			if (!r)
				r = meta_lock_del(t, old.vid);
		} else if (r == -ENOENT) {
			r = 0;
		}
		if (r)
			goto err_io;
	}
	/* mver before index_record's seq: the "seq" it raises covers both */
	nv.mver = store__next_seq(st);
	r = meta_vdi_put(t, &nv);
	if (!r)
		r = index_record(st, t, nv.vid);
	if (r)
		goto err_io;
	r = meta_txn_commit(t);
	t = NULL;
	if (r)
		goto err_io;
	store__log(st, STORE_LOG_INFO, "store: NEW_VDI %.256s: vid %06x (%s, parent %06x, snap_id %u)",
		   (const char *)name, nv.vid,
		   req->snapshot ? (base_vid == lk.vid ? "snapshot" : "rebase") : has_base ? "clone" : "fresh",
		   nv.parent_vid, nv.snap_id);
	rsp_fill(rsp, &nv);
	res = SD_RES_SUCCESS;
	goto out;
err_io:
	store__log(st, STORE_LOG_ERR, "store: NEW_VDI %.256s: catalog: %s", (const char *)name, strerror(-r));
	res = SD_RES_EIO;
out:
	if (t)
		meta_txn_abort(t);
	pthread_rwlock_unlock(&st->ns);
	return res;
}

/* --- lookups and locks --- */

int store_get_vdi_info(struct store *st, const struct store_vdi_req *req, struct store_vdi_rsp *rsp)
{
	uint8_t name[SD_NAME_LEN], tag[SD_TAG_LEN];
	struct meta_txn *t;
	struct lookup lk;

	if (req_names(req, name, tag))
		return SD_RES_NO_VDI;       /* no VDI has an empty name */
	if (meta_txn_begin(st->meta, 0, &t))
		return SD_RES_EIO;
	int res = vdi_lookup(t, name, tag, req->snapid, &lk);
	meta_txn_abort(t);
	if (res == SD_RES_SUCCESS)
		rsp_fill(rsp, &lk.rec);
	return res;
}

#define LOCK_SHARED_MAX 31          /* participants of a shared lock (§5.7) */

int store_lock_vdi(struct store *st, const struct store_vdi_req *req, struct store_vdi_rsp *rsp)
{
	uint8_t name[SD_NAME_LEN], tag[SD_TAG_LEN];
	struct meta_txn *t;
	struct lookup lk;
	struct meta_lock l;

	if (!st->cfg.enforce_locks)         /* the default (§5.7, §0.6) */
		return store_get_vdi_info(st, req, rsp);
	if (req->lock_type > 1)
		return SD_RES_INVALID_PARMS;
	if (req_names(req, name, tag))
		return SD_RES_NO_VDI;
	if (meta_txn_begin(st->meta, 1, &t))
		return SD_RES_EIO;
	int res = vdi_lookup(t, name, tag, req->snapid, &lk);
	if (res)
		goto out;
	int r = meta_lock_get(t, lk.vid, &l);
	if (r == 0) {
		if (req->lock_type == 0 || l.type == 0 || l.count >= LOCK_SHARED_MAX) {
			res = SD_RES_VDI_LOCKED;
			goto out;
		}
		l.count++;
	} else if (r == -ENOENT) {
		memset(&l, 0, sizeof(l));
		l.vid = lk.vid;
		l.type = req->lock_type;
		l.count = 1;
		l.time = store__now();
	} else {
		res = SD_RES_EIO;
		goto out;
	}
	r = meta_lock_put(t, &l);
	if (r) {
		res = SD_RES_EIO;
		goto out;
	}
	r = meta_txn_commit(t);
	t = NULL;
	if (r)
		res = SD_RES_EIO;
	else
		rsp_fill(rsp, &lk.rec);
out:
	if (t)
		meta_txn_abort(t);
	return res;
}

int store_release_vdi(struct store *st, uint32_t vid, uint32_t lock_type)
{
	struct meta_txn *t;
	struct meta_lock l;
	int r;

	(void)lock_type;
	if (!st->cfg.enforce_locks)
		return SD_RES_SUCCESS;
	if (meta_txn_begin(st->meta, 1, &t))
		return SD_RES_SUCCESS;      /* clients only log a failure (§7.12) */
	r = meta_lock_get(t, vid & SD_VID_MASK, &l);
	if (r == 0)
		r = l.count > 1 ? (l.count--, meta_lock_put(t, &l)) : meta_lock_del(t, l.vid);
	if (r == 0)
		r = meta_txn_commit(t);
	else
		meta_txn_abort(t);
	if (r && r != -ENOENT)
		store__log(st, STORE_LOG_ERR, "store: RELEASE_VDI %06x: %s", vid, strerror(-r));
	return SD_RES_SUCCESS;
}

/* --- DEL_VDI and reclaiming --- */

int store_del_vdi(struct store *st, const struct store_vdi_req *req, struct store_vdi_rsp *rsp)
{
	uint8_t name[SD_NAME_LEN], tag[SD_TAG_LEN];
	struct meta_txn *t;
	struct lookup lk;
	int r, res;

	/* base_vid is ignored on purpose (§5.9) */
	if (req_names(req, name, tag))
		return SD_RES_NO_VDI;
	pthread_rwlock_wrlock(&st->ns);
	if (meta_txn_begin(st->meta, 1, &t)) {
		pthread_rwlock_unlock(&st->ns);
		return SD_RES_EIO;
	}
	res = vdi_lookup(t, name, tag, req->snapid, &lk);
	if (res) {
		meta_txn_abort(t);
		goto out;
	}
	struct meta_vdi v = lk.rec;
	memset(v.name, 0, sizeof(v.name));
	memset(v.tag, 0, sizeof(v.tag));
	v.vdi_size = 0;
	v.deleted = 1;
	v.delete_time = store__now();
	v.mver = store__next_seq(st);
	r = meta_vdi_put(t, &v);
	if (!r)
		r = store__misc_seq_raise(t, v.mver);
	if (!r)
		r = meta_lock_del(t, v.vid);      /* a lock dies with its VDI */
	if (r == -ENOENT)
		r = 0;
	if (!r)
		r = meta_txn_commit(t);
	else
		meta_txn_abort(t);
	if (r) {
		store__log(st, STORE_LOG_ERR, "store: DEL_VDI %.256s: catalog: %s", (const char *)name, strerror(-r));
		res = SD_RES_EIO;
		goto out;
	}
	/* The index now reads as zeros (the record says deleted); the file is
	 * dropped with the VDI's directory when reclaimed. */
	store__log(st, STORE_LOG_INFO, "store: DEL_VDI %.256s: vid %06x deleted", (const char *)name, v.vid);
	if (rsp) {
		rsp_fill(rsp, &lk.rec);
	}
	store__reclaim(st);
	res = SD_RES_SUCCESS;
out:
	pthread_rwlock_unlock(&st->ns);
	return res;
}

struct vidset {
	uint32_t *v;
	uint8_t *used;
	size_t n, cap;
};

static int vidset_add(struct vidset *s, uint32_t vid)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		uint32_t *nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = vid;
	return 0;
}

static int vidset_find(const struct vidset *s, uint32_t vid)
{
	size_t lo = 0, hi = s->n;     /* s->v is sorted: filled in vid order */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->v[mid] == vid)
			return (int)mid;
		if (s->v[mid] < vid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

struct reclaim_scan {
	struct vidset dead;         /* deleted, objects not yet reclaimed */
	struct vidset live;
	int err;
};

static int reclaim_collect(void *ctx, const struct meta_vdi *v)
{
	struct reclaim_scan *s = ctx;
	if (v->deleted && !v->data_reclaimed)
		s->err = vidset_add(&s->dead, v->vid);
	else if (!v->deleted)
		s->err = vidset_add(&s->live, v->vid);
	return s->err != 0;
}

/* Marks in s->dead.used every dead vid that live VDI lv refers to: through
 * an index slot (shared data) or as its parent (vmstate is loaded from the
 * parent, §6.5). Reads only the slots that cover vdi_size. */
static int reclaim_mark(struct store *st, struct reclaim_scan *s, const struct meta_vdi *lv)
{
	int i = vidset_find(&s->dead, lv->parent_vid);
	if (i >= 0)
		s->dead.used[i] = 1;
	uint64_t objsz = UINT64_C(1) << lv->block_size_shift;
	uint64_t slots = (lv->vdi_size + objsz - 1) / objsz;
	if (slots > SD_MAX_DATA_OBJS)
		slots = SD_MAX_DATA_OBJS;
	uint8_t buf[4096];
	for (uint64_t at = 0; at < slots * 4; at += sizeof(buf)) {
		size_t n = slots * 4 - at < sizeof(buf) ? (size_t)(slots * 4 - at) : sizeof(buf);
		int r = chunk_read(st->cs, sd_inode_oid(lv->vid), at, n, buf);
		if (r == -ENOENT)
			return 0;
		if (r)
			return r;
		for (size_t k = 0; k < n; k += 4) {
			uint32_t owner = sd_get32(buf + k);
			if (owner && owner != lv->vid && (i = vidset_find(&s->dead, owner)) >= 0)
				s->dead.used[i] = 1;
		}
	}
	return 0;
}

/*
 * A deleted VDI's objects are freed once no live VDI refers to them; a
 * live index can never gain a reference to a deleted VDI (index writes
 * only set 0, the own vid or the current value; NEW_VDI refuses deleted
 * bases), so once unreferenced, always unreferenced. Cost: reading the
 * used part of every live index, once per DEL_VDI.
 */
int store__reclaim(struct store *st)
{
	struct reclaim_scan s;
	struct meta_txn *t;
	int r;

	memset(&s, 0, sizeof(s));
	r = meta_txn_begin(st->meta, 0, &t);
	if (r)
		goto out;
	r = meta_vdi_foreach(t, reclaim_collect, &s);
	if (!r)
		r = s.err;
	if (r || !s.dead.n) {
		meta_txn_abort(t);
		goto out;
	}
	s.dead.used = calloc(s.dead.n, 1);
	if (!s.dead.used) {
		meta_txn_abort(t);
		r = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < s.live.n && !r; k++) {
		struct meta_vdi lv;
		r = meta_vdi_get(t, s.live.v[k], &lv);
		if (!r)
			r = reclaim_mark(st, &s, &lv);
	}
	meta_txn_abort(t);
	if (r)
		goto out;
	for (size_t k = 0; k < s.dead.n; k++) {
		uint32_t vid = s.dead.v[k];
		struct meta_vdi v;
		if (s.dead.used[k])
			continue;
		r = chunk_vdi_destroy(st->cs, vid);
		if (r)
			goto out;
		/* directory gone first: a crash here leaves a record that says
		 * "not reclaimed", and destroying again is idempotent */
		r = meta_txn_begin(st->meta, 1, &t);
		if (r)
			goto out;
		r = meta_vdi_get(t, vid, &v);
		if (!r) {
			/* mver kept on purpose: data_reclaimed is this node's
			 * own fact (replicas reclaim on their own when they
			 * import the deletion), and a deleted record never
			 * changes again, so every replica keeps the same mver */
			v.data_reclaimed = 1;
			r = meta_vdi_put(t, &v);
		}
		if (!r)
			r = meta_obj_del_vid(t, vid);
		if (!r)
			r = meta_txn_commit(t);
		else
			meta_txn_abort(t);
		if (r)
			goto out;
		store__log(st, STORE_LOG_INFO, "store: reclaimed the objects of deleted vid %06x", vid);
	}
out:
	if (r)
		store__log(st, STORE_LOG_ERR, "store: reclaiming deleted VDIs: %s", strerror(-r));
	free(s.dead.v);
	free(s.dead.used);
	free(s.live.v);
	return r;
}

/* --- bitmap, defaults, listing, counts --- */

static int count_cb(void *ctx, const struct meta_vdi *v)
{
	if (!v->deleted)
		++*(uint64_t *)ctx;
	return 0;
}

int store__count_live(struct meta_txn *t, uint64_t *n)
{
	*n = 0;
	return meta_vdi_foreach(t, count_cb, n);
}

static int bitmap_cb(void *ctx, const struct meta_vdi *v)
{
	sd_bitmap_set(ctx, v->vid & SD_VID_MASK);
	return 0;
}

int store_read_vdis(struct store *st, uint8_t *bm)
{
	struct meta_txn *t;
	memset(bm, 0, SD_BITMAP_SIZE);
	int r = meta_txn_begin(st->meta, 0, &t);
	if (!r) {
		r = meta_vdi_foreach(t, bitmap_cb, bm);
		meta_txn_abort(t);
	}
	if (r) {
		store__log(st, STORE_LOG_ERR, "store: READ_VDIS: %s", strerror(-r));
		memset(bm, 0, SD_BITMAP_SIZE);
		return SD_RES_SYSTEM_ERROR;
	}
	return SD_RES_SUCCESS;
}

void store_cluster_default(const struct store *st, uint8_t *copies, uint8_t *policy, uint8_t *shift)
{
	*copies = st->cfg.default_copies;
	*policy = 0;                    /* replication only */
	*shift = st->cfg.default_shift;
}

struct list_scan {
	struct vidset s;
	int err;
};

static int list_cb(void *ctx, const struct meta_vdi *v)
{
	struct list_scan *ls = ctx;
	if (!v->deleted)
		ls->err = vidset_add(&ls->s, v->vid);
	return ls->err != 0;
}

/* The callback runs outside any txn, so it may call back into the store;
 * a VDI deleted meanwhile is skipped. */
int store_list_vdis(struct store *st, int (*cb)(void *ctx, const struct store_vdi_info *v), void *ctx)
{
	struct list_scan ls;
	struct meta_txn *t;
	int r;

	memset(&ls, 0, sizeof(ls));
	r = meta_txn_begin(st->meta, 0, &t);
	if (r)
		return r;
	r = meta_vdi_foreach(t, list_cb, &ls);
	meta_txn_abort(t);
	if (!r)
		r = ls.err;
	struct vidset s = ls.s;
	for (size_t k = 0; !r && k < s.n; k++) {
		struct meta_vdi v;
		struct store_vdi_info info;
		int g = store__vdi_get(st, s.v[k], &v);
		if (g == -ENOENT || (!g && v.deleted))
			continue;
		if (g) {
			r = g;
			break;
		}
		memset(&info, 0, sizeof(info));
		info.vid = v.vid;
		info.parent_vid = v.parent_vid;
		info.snap_id = v.snap_id;
		memcpy(info.name, v.name, SD_NAME_LEN);
		memcpy(info.tag, v.tag, SD_TAG_LEN);
		info.vdi_size = v.vdi_size;
		info.create_time = v.create_time;
		info.snap_ctime = v.snap_ctime;
		info.nr_copies = v.nr_copies;
		info.block_size_shift = v.block_size_shift;
		info.is_snapshot = v.snap_ctime != 0;
		if (cb(ctx, &info))
			break;
	}
	free(s.v);
	return r;
}

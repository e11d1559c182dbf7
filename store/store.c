/*
 * store.c: open/close, journal replay and the object requests of §6
 * (READ_OBJ, WRITE_OBJ, CREATE_AND_WRITE_OBJ, FLUSH_VDI) on top of
 * chunk.h (bytes) and meta.h (catalog and object index).
 *
 * Every mutation takes the next value of one 64-bit sequence (or the
 * gateway's version, issue 5, with the sequence raised to it) as the
 * object's version and is acknowledged only after the object bytes (chunk)
 * and the object record (meta_obj_commit) are both durable. At open, a
 * journal record newer than the object's recorded version is re-applied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "store/store_int.h"

void store_config_defaults(struct store_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->default_copies = 3;        /* Sheepdog's default redundancy */
	cfg->default_shift = SD_DEFAULT_SHIFT;
	cfg->max_shift = SD_MAX_SHIFT;
	cfg->enforce_locks = 0;
	cfg->journal_slots = 16;
}

uint64_t store__now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return sd_time_encode((uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec);
}

uint64_t store__next_seq(struct store *st)
{
	return atomic_fetch_add(&st->seq, 1) + 1;
}

void store__seq_raise(struct store *st, uint64_t v)
{
	uint64_t cur = atomic_load(&st->seq);
	while (cur < v && !atomic_compare_exchange_weak(&st->seq, &cur, v))
		;
}

/* The version a mutation records: the caller's (gateway HLC, issue 5),
 * with the local seq raised to it so later local versions stay larger,
 * or the next local seq. */
static uint64_t version_take(struct store *st, uint64_t version)
{
	if (!version)
		return store__next_seq(st);
	store__seq_raise(st, version);
	return version;
}

int store__misc_seq_raise(struct meta_txn *t, uint64_t v)
{
	uint64_t cur = 0;
	int r = meta_misc_get_u64(t, "seq", &cur);
	if (r && r != -ENOENT)
		return r;
	return cur < v ? meta_misc_put_u64(t, "seq", v) : 0;
}

int store__vdi_touch(struct store *st, uint32_t vid, uint64_t index_oid, uint64_t index_version)
{
	struct meta_txn *t;
	struct meta_vdi v;
	struct meta_obj o;
	int r = meta_txn_begin(st->meta, 1, &t);
	if (r)
		return r;
	if (index_oid) {
		memset(&o, 0, sizeof(o));
		o.oid = index_oid;
		o.size = SD_INODE_INDEX_SIZE;
		o.version = index_version;
		o.mtime = store__now();
		r = meta_obj_put(t, &o);
	}
	if (!r)
		r = meta_vdi_get(t, vid, &v);
	if (!r) {
		v.mver = store__next_seq(st);
		r = meta_vdi_put(t, &v);
	}
	/* mver came after index_version, so it is the larger */
	if (!r)
		r = store__misc_seq_raise(t, v.mver);
	if (r) {
		meta_txn_abort(t);
		return r;
	}
	return meta_txn_commit(t);
}

pthread_mutex_t *store__stripe(struct store *st, uint64_t oid)
{
	/* splitmix64 finaliser: neighbouring oids land on different stripes */
	uint64_t h = oid;
	h = (h ^ (h >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	h = (h ^ (h >> 27)) * UINT64_C(0x94d049bb133111eb);
	h ^= h >> 31;
	return &st->stripes[h % STORE_STRIPES];
}

int store__vdi_get(struct store *st, uint32_t vid, struct meta_vdi *v)
{
	struct meta_txn *t;
	int r = meta_txn_begin(st->meta, 0, &t);
	if (r)
		return r;
	r = meta_vdi_get(t, vid, v);
	meta_txn_abort(t);
	if (r && r != -ENOENT)
		store__log(st, STORE_LOG_ERR, "store: reading VDI record %06x: %s", vid, strerror(-r));
	return r;
}

int store__obj_commit(struct store *st, uint64_t oid, uint64_t size, uint64_t version,
		      const uint8_t *csum)
{
	struct meta_obj o;
	memset(&o, 0, sizeof(o));
	o.oid = oid;
	o.size = size;
	o.version = version;
	o.mtime = store__now();
	if (csum) {
		memcpy(o.csum, csum, sizeof(o.csum));
		o.csum_valid = 1;
	}
	int r = meta_obj_commit(st->meta, &o, 1);
	if (r)
		store__log(st, STORE_LOG_ERR, "store: object index commit of %016llx: %s",
			   (unsigned long long)oid, strerror(-r));
	return r;
}

int store__res_from_errno(int err)
{
	switch (err) {
	case 0: return SD_RES_SUCCESS;
	case -ENOENT: return SD_RES_NO_OBJ;
	case -ENOSPC: case -EDQUOT: return SD_RES_NO_SPACE;
	case -ENOMEM: return SD_RES_NO_MEM;
	default: return SD_RES_EIO;
	}
}

/* --- journal replay --- */

static int replay_need(void *ctx, uint64_t oid, uint64_t seq)
{
	struct store *st = ctx;
	struct meta_txn *t;
	struct meta_obj o;
	int r = meta_txn_begin(st->meta, 0, &t);
	if (r)
		goto fail;
	r = meta_obj_get(t, oid, &o);
	meta_txn_abort(t);
	if (r == 0)
		return seq > o.version;
	if (r == -ENOENT)   /* written before its first record was committed */
		return chunk_exists(st->cs, oid) == 1;
fail:
	/* not knowing the version, re-applying could undo a newer write */
	store__log(st, STORE_LOG_ERR, "store: replay: object record %016llx: %s; record skipped",
		   (unsigned long long)oid, strerror(-r));
	return 0;
}

static uint64_t obj_size_guess(struct store *st, uint64_t oid)
{
	struct meta_vdi v;
	if (sd_oid_is_inode(oid))
		return SD_INODE_INDEX_SIZE;
	if (store__vdi_get(st, sd_oid_vid(oid), &v) == 0)
		return UINT64_C(1) << v.block_size_shift;
	return 0;
}

static int replay_applied(void *ctx, uint64_t oid, uint64_t seq)
{
	struct store *st = ctx;
	struct meta_txn *t;
	struct meta_obj o;
	uint64_t size = 0;
	if (meta_txn_begin(st->meta, 0, &t) == 0) {
		if (meta_obj_get(t, oid, &o) == 0)
			size = o.size;
		meta_txn_abort(t);
	}
	/* a replayed index write changes its VDI: new mver too (issue 5) */
	if (sd_oid_is_inode(oid) && store__vdi_touch(st, sd_oid_vid(oid), oid, seq) == 0)
		return 0;
	if (!size)
		size = obj_size_guess(st, oid);
	return store__obj_commit(st, oid, size, seq, NULL);
}

/* --- open / close --- */

static void store_free(struct store *st)
{
	if (st->meta)
		meta_close(st->meta);
	if (st->cs)
		chunk_close(st->cs);
	for (unsigned i = 0; i < STORE_STRIPES; i++)
		pthread_mutex_destroy(&st->stripes[i]);
	pthread_rwlock_destroy(&st->ns);
	free(st->dir);
	free(st);
}

int store_open(struct store **out, const struct store_config *cfg)
{
	struct store *st;
	int r;

	*out = NULL;
	if (!cfg->dir || !cfg->dir[0])
		return -EINVAL;
	/* QEMU uses GET_CLUSTER_DEFAULT's shift as is (§5.10): 20..31 or
	 * nothing; 0 means "the default" for each of these */
	if ((cfg->max_shift && (cfg->max_shift < SD_MIN_SHIFT || cfg->max_shift > SD_MAX_SHIFT)) ||
	    (cfg->default_shift && (cfg->default_shift < SD_MIN_SHIFT ||
				    cfg->default_shift > (cfg->max_shift ? cfg->max_shift : SD_MAX_SHIFT))) ||
	    cfg->default_copies > SD_MAX_COPIES) {
		if (cfg->log)
			cfg->log(cfg->log_ctx, STORE_LOG_ERR, "store: bad config: default_shift %u, "
				 "max_shift %u (both %u..%u), default_copies %u (<= %u)",
				 cfg->default_shift, cfg->max_shift, SD_MIN_SHIFT, SD_MAX_SHIFT,
				 cfg->default_copies, SD_MAX_COPIES);
		return -EINVAL;
	}
	if (sodium_init() < 0)
		return -EIO;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->cfg = *cfg;
	if (!st->cfg.default_shift)
		st->cfg.default_shift = SD_DEFAULT_SHIFT;
	if (!st->cfg.max_shift)
		st->cfg.max_shift = SD_MAX_SHIFT;
	if (!st->cfg.default_copies)
		st->cfg.default_copies = 1;
	if (!st->cfg.journal_slots)
		st->cfg.journal_slots = 1;
	st->dir = strdup(cfg->dir);
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	/* namespace changes must not starve behind a stream of object I/O */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&st->ns, &ra);
	pthread_rwlockattr_destroy(&ra);
	for (unsigned i = 0; i < STORE_STRIPES; i++)
		pthread_mutex_init(&st->stripes[i], NULL);
	st->cfg.dir = st->dir;
	if (!st->dir) {
		r = -ENOMEM;
		goto err;
	}
	if (mkdir(st->dir, 0755) && errno != EEXIST) {
		r = -errno;
		store__log(st, STORE_LOG_ERR, "store: mkdir %s: %s", st->dir, strerror(errno));
		goto err;
	}

	struct chunk_config cc = {
		.dir = st->dir, .force_plain = cfg->force_plain,
		.journal_slots = st->cfg.journal_slots,
		.test_write_pause_us = cfg->test_write_pause_us,
		.log = cfg->log, .log_ctx = cfg->log_ctx,
	};
	r = chunk_open(&st->cs, &cc);
	if (r) {
		st->cs = NULL;
		store__log(st, STORE_LOG_ERR, "store: opening object files in %s: %s", st->dir, strerror(-r));
		goto err;
	}
	size_t n = strlen(st->dir) + sizeof("/meta");
	char *mdir = malloc(n);
	if (!mdir) {
		r = -ENOMEM;
		goto err;
	}
	snprintf(mdir, n, "%s/meta", st->dir);
	r = meta_open(&st->meta, mdir);
	if (r) {
		st->meta = NULL;
		store__log(st, STORE_LOG_ERR, "store: opening catalog %s: %s", mdir, strerror(-r));
		free(mdir);
		goto err;
	}
	free(mdir);

	uint64_t seq = 0;
	struct meta_txn *t;
	r = meta_txn_begin(st->meta, 0, &t);
	if (r)
		goto err;
	r = meta_misc_get_u64(t, "seq", &seq);
	meta_txn_abort(t);
	if (r && r != -ENOENT)
		goto err;
	if (chunk_journal_max_seq(st->cs) > seq)
		seq = chunk_journal_max_seq(st->cs);
	atomic_store(&st->seq, seq);

	r = chunk_journal_replay(st->cs, replay_need, replay_applied, st);
	if (r < 0) {
		store__log(st, STORE_LOG_ERR, "store: journal replay: %s", strerror(-r));
		goto err;
	}
	st->journal_replayed = (uint64_t)r;

	/* an interrupted VDI import is finished before anything reads it */
	r = store__repl_recover(st);
	if (r < 0) {
		store__log(st, STORE_LOG_ERR, "store: finishing an interrupted VDI import: %s", strerror(-r));
		goto err;
	}

	/* finish reclaiming that a crash may have interrupted */
	pthread_rwlock_wrlock(&st->ns);
	store__reclaim(st);
	pthread_rwlock_unlock(&st->ns);

	store__log(st, STORE_LOG_INFO, "store: %s backend in %s, %llu journal records replayed",
		   store_backend_name(st), st->dir, (unsigned long long)st->journal_replayed);
	*out = st;
	return 0;
err:
	store_free(st);
	return r;
}

void store_close(struct store *st)
{
	if (st)
		store_free(st);
}

const char *store_backend_name(const struct store *st)
{
	return chunk_is_btrfs(st->cs) ? "btrfs" : "plain";
}

/* --- objects --- */

/* Kinds an object request may name: data (index below 2^20, §4.1) and
 * vmstate; inodes are handled apart. */
static int oid_plain_ok(uint64_t oid)
{
	return (sd_oid_is_data(oid) && sd_oid_index(oid) < SD_MAX_DATA_OBJS) || sd_oid_is_vmstate(oid);
}

static int range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* Inode reads: header from the catalog, index from its object file. */
static int inode_read(struct store *st, uint64_t oid, uint64_t off, uint32_t len, uint8_t *buf)
{
	struct meta_vdi v;
	int r = store__vdi_get(st, sd_oid_vid(oid), &v);
	if (r)
		return r == -ENOENT ? SD_RES_NO_OBJ : SD_RES_EIO;
	if (!range_ok(off, len, SD_INODE_SIZE))
		return SD_RES_INVALID_PARMS;
	if (off < SD_INODE_HEADER_SIZE) {
		uint8_t hdr[SD_INODE_HEADER_SIZE];
		uint64_t n = SD_INODE_HEADER_SIZE - off;
		if (n > len)
			n = len;
		inode_header_build(&v, hdr);
		memcpy(buf, hdr + off, n);
		buf += n;
		off += n;
		len -= (uint32_t)n;
	}
	if (!len)
		return SD_RES_SUCCESS;
	if (v.deleted) {            /* §5.8: a deleted VDI's index reads as zeros */
		memset(buf, 0, len);
		return SD_RES_SUCCESS;
	}
	r = chunk_read(st->cs, oid, off - SD_INODE_INDEX_OFF, len, buf);
	if (r == -ENOENT) {
		memset(buf, 0, len);
		r = 0;
	}
	if (r)
		store__log(st, STORE_LOG_ERR, "store: reading index of %06x: %s", v.vid, strerror(-r));
	return store__res_from_errno(r);
}

int store_read_obj(struct store *st, uint64_t oid, uint64_t off, uint32_t len, void *buf)
{
	struct meta_vdi v;
	int r;

	if (sd_oid_is_inode(oid))
		return inode_read(st, oid, off, len, buf);
	if (!oid_plain_ok(oid))
		return SD_RES_INVALID_PARMS;
	r = store__vdi_get(st, sd_oid_vid(oid), &v);
	if (r)
		return r == -ENOENT ? SD_RES_NO_OBJ : SD_RES_EIO;
	/* a deleted snapshot's objects stay readable until reclaimed: live
	 * descendants still read them through their index */
	if (v.deleted && v.data_reclaimed)
		return SD_RES_NO_OBJ;
	if (!range_ok(off, len, UINT64_C(1) << v.block_size_shift))
		return SD_RES_INVALID_PARMS;
	r = chunk_read(st->cs, oid, off, len, buf);
	if (r && r != -ENOENT)
		store__log(st, STORE_LOG_ERR, "store: reading %016llx: %s",
			   (unsigned long long)oid, strerror(-r));
	return store__res_from_errno(r);
}

/* Index part of an inode write: [ioff, ioff+len) relative to the index.
 * Caller holds ns and the inode's stripe. Checks the slot rules, then
 * writes through the journal. */
static int index_write(struct store *st, const struct meta_vdi *v, uint64_t oid,
		       uint64_t ioff, size_t len, const uint8_t *buf, int check_only, uint64_t version)
{
	uint64_t a = ioff & ~UINT64_C(3), b = (ioff + len + 3) & ~UINT64_C(3);
	uint8_t *cur = malloc(b - a);
	int r;
	if (!cur)
		return SD_RES_NO_MEM;
	r = chunk_read(st->cs, oid, a, b - a, cur);
	if (r == -ENOENT) {
		memset(cur, 0, b - a);
		r = 0;
	}
	if (r) {
		free(cur);
		store__log(st, STORE_LOG_ERR, "store: reading index of %06x: %s", v->vid, strerror(-r));
		return store__res_from_errno(r);
	}
	r = inode_index_check(v->vid, cur, a, b, ioff, buf, len);
	free(cur);
	if (r || check_only)
		return r;

	uint64_t seq = version_take(st, version);
	r = chunk_write(st->cs, oid, seq, ioff, len, buf);
	if (r == -ENOENT)           /* index file lost: recreate it, zero filled */
		r = chunk_create(st->cs, oid, SD_INODE_INDEX_SIZE, 0, ioff, len, buf);
	if (r) {
		store__log(st, STORE_LOG_ERR, "store: writing index of %06x: %s", v->vid, strerror(-r));
		return store__res_from_errno(r);
	}
	/* the index's record and the VDI's new mver (issue 5: mver covers
	 * the index) in one txn, so no crash separates them */
	r = store__vdi_touch(st, v->vid, oid, seq);
	if (r) {
		store__log(st, STORE_LOG_ERR, "store: index record / mver of %06x: %s", v->vid, strerror(-r));
		return SD_RES_EIO;
	}
	return SD_RES_SUCCESS;
}

static int header_commit(struct store *st, struct meta_vdi *nv)
{
	struct meta_txn *t;
	int r = meta_txn_begin(st->meta, 1, &t);
	if (!r) {
		nv->mver = store__next_seq(st);
		r = meta_vdi_put(t, nv);
		if (!r)
			r = store__misc_seq_raise(t, nv->mver);
		if (r)
			meta_txn_abort(t);
		else
			r = meta_txn_commit(t);
	}
	if (r)
		store__log(st, STORE_LOG_ERR, "store: updating VDI record %06x: %s", nv->vid, strerror(-r));
	return r ? SD_RES_EIO : SD_RES_SUCCESS;
}

/*
 * Inode writes. A write to a deleted VDI's inode gets NO_VDI: its header
 * is fixed at "deleted" and its index is gone; QEMU only writes inodes of
 * VDIs it has open, so this only happens when another client deleted it.
 * A write spanning header and index checks both parts before applying
 * either; the index part is applied first (two commits, not one txn).
 */
static int inode_write(struct store *st, uint64_t oid, uint64_t off, uint32_t len, const uint8_t *buf,
		       uint64_t version)
{
	struct meta_vdi v, nv;
	int r, changed = 0;
	int has_hdr = len && off < SD_INODE_HEADER_SIZE;

	if (!range_ok(off, len, SD_INODE_SIZE))
		return SD_RES_INVALID_PARMS;
	if (has_hdr)
		pthread_rwlock_wrlock(&st->ns);
	else
		pthread_rwlock_rdlock(&st->ns);
	r = store__vdi_get(st, sd_oid_vid(oid), &v);
	if (r) {
		r = r == -ENOENT ? SD_RES_NO_OBJ : SD_RES_EIO;
		goto out;
	}
	if (v.deleted) {
		r = SD_RES_NO_VDI;
		goto out;
	}
	if (!len) {
		r = SD_RES_SUCCESS;
		goto out;
	}
	if (has_hdr) {
		r = inode_header_apply(&v, off, buf, len, &nv, &changed);
		if (r)
			goto out;
	}
	if (off + len > SD_INODE_HEADER_SIZE) {
		uint64_t skip = off < SD_INODE_HEADER_SIZE ? SD_INODE_HEADER_SIZE - off : 0;
		pthread_mutex_t *m = store__stripe(st, oid);
		pthread_mutex_lock(m);
		r = index_write(st, &v, oid, off + skip - SD_INODE_INDEX_OFF, len - skip, buf + skip, 0, version);
		pthread_mutex_unlock(m);
		if (r)
			goto out;
	}
	r = changed ? header_commit(st, &nv) : SD_RES_SUCCESS;
out:
	pthread_rwlock_unlock(&st->ns);
	return r;
}

int store_write_obj(struct store *st, uint64_t oid, uint64_t off, uint32_t len, const void *buf)
{
	return store_write_obj_v(st, oid, off, len, buf, 0);
}

int store_write_obj_v(struct store *st, uint64_t oid, uint64_t off, uint32_t len, const void *buf,
		      uint64_t version)
{
	struct meta_vdi v;
	int r;

	if (sd_oid_is_inode(oid))
		return inode_write(st, oid, off, len, buf, version);
	if (!oid_plain_ok(oid))
		return SD_RES_INVALID_PARMS;
	pthread_rwlock_rdlock(&st->ns);
	r = store__vdi_get(st, sd_oid_vid(oid), &v);
	if (r) {
		r = r == -ENOENT ? SD_RES_NO_OBJ : SD_RES_EIO;
		goto out;
	}
	if (v.deleted) {
		r = SD_RES_NO_OBJ;
		goto out;
	}
	/* vmstate is written into the vid that is about to become the
	 * snapshot (§6.5); only data objects of snapshots are frozen */
	if (v.snap_ctime && sd_oid_is_data(oid)) {
		r = SD_RES_READONLY;
		goto out;
	}
	if (!range_ok(off, len, UINT64_C(1) << v.block_size_shift)) {
		r = SD_RES_INVALID_PARMS;
		goto out;
	}
	if (!len) {
		r = chunk_exists(st->cs, oid);
		r = r == 1 ? SD_RES_SUCCESS : r == 0 ? SD_RES_NO_OBJ : store__res_from_errno(r);
		goto out;
	}
	pthread_mutex_t *m = store__stripe(st, oid);
	pthread_mutex_lock(m);
	uint64_t seq = version_take(st, version);
	r = chunk_write(st->cs, oid, seq, off, len, buf);
	if (r == 0)
		r = store__obj_commit(st, oid, UINT64_C(1) << v.block_size_shift, seq, NULL) ? -EIO : 0;
	else if (r != -ENOENT)
		store__log(st, STORE_LOG_ERR, "store: writing %016llx: %s",
			   (unsigned long long)oid, strerror(-r));
	pthread_mutex_unlock(m);
	r = store__res_from_errno(r);
out:
	pthread_rwlock_unlock(&st->ns);
	return r;
}

int store_create_and_write_obj(struct store *st, uint64_t oid, int cow, uint64_t cow_oid,
			       uint64_t off, uint32_t len, const void *buf)
{
	return store_create_and_write_obj_v(st, oid, cow, cow_oid, off, len, buf, 0);
}

int store_create_and_write_obj_v(struct store *st, uint64_t oid, int cow, uint64_t cow_oid,
				 uint64_t off, uint32_t len, const void *buf, uint64_t version)
{
	struct meta_vdi v, cv;
	int r;

	if (!oid_plain_ok(oid))
		return SD_RES_INVALID_PARMS;       /* inodes come only from NEW_VDI */
	pthread_rwlock_rdlock(&st->ns);
	r = store__vdi_get(st, sd_oid_vid(oid), &v);
	if (r || v.deleted) {
		r = r && r != -ENOENT ? SD_RES_EIO : SD_RES_NO_VDI;
		goto out;
	}
	if (v.snap_ctime && sd_oid_is_data(oid)) {
		r = SD_RES_READONLY;
		goto out;
	}
	uint64_t size = UINT64_C(1) << v.block_size_shift;
	if (!range_ok(off, len, size)) {
		r = SD_RES_INVALID_PARMS;
		goto out;
	}
	int full = off == 0 && len == size;
	uint64_t src = 0;
	if (cow && !full) {         /* a full payload needs no source (§6.3) */
		if (!oid_plain_ok(cow_oid)) {
			r = SD_RES_INVALID_PARMS;
			goto out;
		}
		r = store__vdi_get(st, sd_oid_vid(cow_oid), &cv);
		if (r || (cv.deleted && cv.data_reclaimed)) {
			r = r && r != -ENOENT ? SD_RES_EIO : SD_RES_NO_OBJ;
			goto out;
		}
		/* COW between object sizes cannot be right (§6.3, §7.2) */
		if (cv.block_size_shift != v.block_size_shift) {
			r = SD_RES_INVALID_PARMS;
			goto out;
		}
		src = cow_oid;
	}
	uint8_t csum[crypto_generichash_BYTES];
	if (full)                   /* whole content known: record its checksum */
		crypto_generichash(csum, sizeof(csum), buf, size, NULL, 0);

	pthread_mutex_t *m = store__stripe(st, oid);
	pthread_mutex_lock(m);
	uint64_t seq = version_take(st, version);
	r = chunk_create(st->cs, oid, size, src, off, len, buf);
	if (r == 0)
		r = store__obj_commit(st, oid, size, seq, full ? csum : NULL) ? -EIO : 0;
	else if (r != -ENOENT)
		store__log(st, STORE_LOG_ERR, "store: creating %016llx: %s",
			   (unsigned long long)oid, strerror(-r));
	pthread_mutex_unlock(m);
	r = store__res_from_errno(r);
out:
	pthread_rwlock_unlock(&st->ns);
	return r;
}

int store_flush_vdi(struct store *st, uint64_t oid)
{
	struct meta_vdi v;
	int r = store__vdi_get(st, sd_oid_vid(oid), &v);
	if (r == -ENOENT || (!r && v.deleted))
		return SD_RES_NO_VDI;
	return r ? SD_RES_EIO : SD_RES_SUCCESS;  /* writes were durable when acked */
}

int store_get_stats(struct store *st, struct store_stats *out)
{
	struct meta_txn *t;
	int r;

	memset(out, 0, sizeof(*out));
	out->journal_replayed = st->journal_replayed;
	r = meta_txn_begin(st->meta, 0, &t);
	if (r)
		return r;
	r = store__count_live(t, &out->vdis);
	if (!r)
		r = meta_obj_count(t, &out->objects, &out->bytes);
	meta_txn_abort(t);
	return r;
}

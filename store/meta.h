/*
 * meta.h: VDI catalog, locks and object index in LMDB. Internal to store/.
 *
 * One LMDB environment in DIR/meta/ with named databases:
 *   "vdi"   vid (4 bytes, big-endian so cursor order = vid order) -> VDI record
 *   "lock"  vid -> lock record
 *   "obj"   oid (8 bytes, big-endian) -> object record
 *   "misc"  string key -> value (e.g. "seq": the highest version handed out;
 *           "repl_import": an interrupted VDI import's roll-forward record,
 *           raw export bytes, see store/repl.c)
 *   "ring"  ring history (issue 4): raw key -> record, both defined by
 *           store/ring_hist.c (big-endian scalar epoch || digest -> msgpack)
 * Records are msgpack arrays whose first element is a format version
 * (META_FORMAT); a record with another version or a bad shape is reported
 * as -EBADMSG, never guessed at.
 *
 * The in-use bitmap of §5.2 is the key set of "vdi": a deleted VDI keeps its
 * record (deleted = 1), so bits are never cleared.
 *
 * Transactions: meta_txn_begin(write=1) serialises writers (LMDB's own
 * writer lock); commit is durable (fsync) when it returns 0. Read txns may
 * run concurrently from any thread (MDB_NOTLS). A txn is used by one thread.
 * All functions return 0 or -errno (-ENOENT: no such record).
 */
#ifndef STORE_META_H
#define STORE_META_H

#include <stddef.h>
#include <stdint.h>

#define META_FORMAT 1
/* VDI records only (issue 5 added mver): format 2 has 19 fields (mver
 * last); format 1 records (18 fields) still decode, with mver 0. Every
 * other record keeps META_FORMAT. */
#define META_VDI_FORMAT 2

struct meta;
struct meta_txn;

struct meta_vdi {
	uint32_t vid;
	uint8_t name[256];          /* NUL padded; all zero once deleted */
	uint8_t tag[256];           /* NUL padded; may fill all 256 bytes */
	uint64_t create_time;       /* sec<<32 | nsec */
	uint64_t snap_ctime;        /* 0 = working VDI */
	uint64_t vm_clock_nsec;
	uint64_t vdi_size;          /* bytes; 0 once deleted */
	uint64_t vm_state_size;
	uint8_t copy_policy, store_policy, nr_copies, block_size_shift;
	uint32_t snap_id;
	uint32_t parent_vid;
	uint8_t deleted;            /* 1 = deleted (record kept: bit stays set) */
	uint8_t data_reclaimed;     /* 1 = its object directory was destroyed */
	uint64_t delete_time;       /* sec<<32 | nsec, 0 if live */
	uint64_t mver;              /* issue 5: store seq of the last change of this
				     * record or of the VDI's data index; 0 = never
				     * versioned (format 1 record) */
};

struct meta_lock {
	uint32_t vid;
	uint32_t type;              /* 0 normal, 1 shared */
	uint32_t count;             /* holders (shared locks) */
	uint64_t time;              /* sec<<32 | nsec when taken */
};

struct meta_obj {
	uint64_t oid;
	uint64_t size;              /* logical object size in bytes */
	uint64_t version;           /* seq of the last write (monotonic per node) */
	uint8_t csum[32];           /* BLAKE2b-256 of the whole object if csum_valid */
	uint8_t csum_valid;         /* 0 after partial writes until scrub recomputes it */
	uint64_t mtime;             /* sec<<32 | nsec of the last write */
};

int meta_open(struct meta **out, const char *dir);   /* dir = DIR/meta, created if missing */
void meta_close(struct meta *m);

int meta_txn_begin(struct meta *m, int write, struct meta_txn **out);
int meta_txn_commit(struct meta_txn *t);   /* frees t, also on error */
void meta_txn_abort(struct meta_txn *t);   /* frees t */

int meta_vdi_get(struct meta_txn *t, uint32_t vid, struct meta_vdi *out);
int meta_vdi_put(struct meta_txn *t, const struct meta_vdi *v);
/* First vid >= from with a record (-ENOENT if none). For the §5.3/§5.4 runs. */
int meta_vdi_next(struct meta_txn *t, uint32_t from, uint32_t *vid);
/* Calls cb for every record in vid order; cb returns non-zero to stop. */
int meta_vdi_foreach(struct meta_txn *t, int (*cb)(void *ctx, const struct meta_vdi *v), void *ctx);

int meta_lock_get(struct meta_txn *t, uint32_t vid, struct meta_lock *out);
int meta_lock_put(struct meta_txn *t, const struct meta_lock *l);
int meta_lock_del(struct meta_txn *t, uint32_t vid);

int meta_obj_get(struct meta_txn *t, uint64_t oid, struct meta_obj *out);
int meta_obj_put(struct meta_txn *t, const struct meta_obj *o);
int meta_obj_del(struct meta_txn *t, uint64_t oid);
/* Every object whose vid (bits 32-55) is vid; used when a VDI is destroyed. */
int meta_obj_del_vid(struct meta_txn *t, uint32_t vid);
int meta_obj_count(struct meta_txn *t, uint64_t *count, uint64_t *bytes);

int meta_misc_get_u64(struct meta_txn *t, const char *key, uint64_t *out);
int meta_misc_put_u64(struct meta_txn *t, const char *key, uint64_t v);
/* Raw "misc" values (issue 5: the import roll-forward record). get: *val
 * points into the txn's snapshot. del: -ENOENT if absent. */
int meta_misc_get_raw(struct meta_txn *t, const char *key, const void **val, size_t *vlen);
int meta_misc_put_raw(struct meta_txn *t, const char *key, const void *val, size_t vlen);
int meta_misc_del(struct meta_txn *t, const char *key);

/* Up to max object records with oid >= from, in oid order, into out;
 * *n = how many. 0 or -errno (-EBADMSG: a corrupt record). Issue 5. */
int meta_obj_scan(struct meta_txn *t, uint64_t from, struct meta_obj *out, size_t max, size_t *n);

/* "ring": raw access for ring_hist.c, which owns the key and record
 * format. get: *val points into the txn's snapshot (valid until the txn
 * ends). foreach: key order; cb returns < 0 to fail with that code, > 0 to
 * stop early (foreach then returns 0). Added by ringparts. */
int meta_ring_get(struct meta_txn *t, const void *key, size_t klen, const void **val, size_t *vlen);
int meta_ring_put(struct meta_txn *t, const void *key, size_t klen, const void *val, size_t vlen);
int meta_ring_del(struct meta_txn *t, const void *key, size_t klen);
int meta_ring_foreach(struct meta_txn *t,
		      int (*cb)(void *ctx, const void *k, size_t klen, const void *v, size_t vlen),
		      void *ctx);

/* Group commit of object-index updates, for the write path: puts all of
 * objs in one write txn shared with any other threads calling at the same
 * time (the first caller commits for everyone waiting), and returns once
 * that txn is durable. Also raises "seq" to the largest version given. */
int meta_obj_commit(struct meta *m, const struct meta_obj *objs, size_t n);
/* Added by store-low: number of write txns meta_obj_commit has committed
 * so far (fewer than calls when commits were shared); for stats and tests. */
uint64_t meta_obj_commit_txns(struct meta *m);

/* msgpack codecs, exposed for the unit tests and the corpus replay. */
int meta_vdi_encode(const struct meta_vdi *v, void **buf, size_t *len);   /* *buf malloc'd */
int meta_vdi_decode(const void *buf, size_t len, struct meta_vdi *v);
int meta_obj_encode(const struct meta_obj *o, void **buf, size_t *len);
int meta_obj_decode(const void *buf, size_t len, struct meta_obj *o);

#endif

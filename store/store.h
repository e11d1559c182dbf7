/*
 * store.h: one node's storage, with Sheepdog's object and VDI semantics
 * (shared/spec/sheepdog-protocol.md §4-§6). node/ calls these from worker
 * threads; every function here is thread-safe unless it says otherwise.
 *
 * Return values: the functions that implement a wire request return a wire
 * result code (SD_RES_*, include/sheepdog_proto.h), because that is what the
 * caller sends back; store_open/store_close return 0 or -errno.
 *
 * Inside: VDI catalog, locks and object index in LMDB (store/meta.h); object
 * bytes in files (store/chunk.h), btrfs subvolume per VDI or plain
 * directories. The inode header (§4.3 bytes [0,4664)) is kept as a catalog
 * record and synthesised on read; the data index (bytes [4664,4198968)) is
 * an object file of its own. One source of truth per byte.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

enum store_log_level { STORE_LOG_ERR = 0, STORE_LOG_WARN, STORE_LOG_INFO, STORE_LOG_DEBUG };

struct store_config {
	const char *dir;            /* data directory; created if missing */
	int force_plain;            /* use the plain backend even on btrfs */
	uint8_t default_copies;     /* GET_CLUSTER_DEFAULT nr_copies; NEW_VDI copies==0 */
	uint8_t default_shift;      /* default block_size_shift (22) */
	uint8_t max_shift;          /* largest shift NEW_VDI accepts (<= 31) */
	int enforce_locks;          /* 0 (default, spec §5.7): LOCK_VDI == GET_VDI_INFO */
	unsigned journal_slots;     /* concurrent partial writes (>= 1) */
	/* Test hook for the crash test: if non-zero, partial writes go to the
	 * object file in two halves with this pause between them. */
	unsigned test_write_pause_us;
	/* Log sink; may be NULL. Called from any thread. */
	void (*log)(void *ctx, int level, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	void *log_ctx;
};

/* Defaults for every field but dir. */
void store_config_defaults(struct store_config *cfg);

/* Opens (creating if needed) the store in cfg->dir, replays the write
 * journal, logs which backend is in use. 0 or -errno. */
int store_open(struct store **out, const struct store_config *cfg);
/* Syncs and closes. No call may be in progress. */
void store_close(struct store *st);
const char *store_backend_name(const struct store *st);   /* "btrfs" or "plain" */

/* --- objects (§6) --- */

/* READ_OBJ: len bytes at off of oid into buf. Unwritten bytes read as 0.
 * Inode oids serve [0, SD_INODE_SIZE), header synthesised from the catalog.
 * NO_OBJ when the object (or for inodes, the VDI) does not exist;
 * INVALID_PARMS when off+len is outside the object or the oid kind is not
 * data/inode/vmstate. */
int store_read_obj(struct store *st, uint64_t oid, uint64_t off, uint32_t len, void *buf);

/* WRITE_OBJ: byte-range write into an existing object; atomic (old or new
 * bytes of the range after a crash) and durable when it returns SUCCESS.
 * len may be 0. Data objects of snapshots: READONLY. Inode header writes may
 * change only tag, vm_clock_nsec, vm_state_size and vdi_size (grow, <= limit);
 * index slots only to 0, the own vid or their current value; violations:
 * INVALID_PARMS. */
int store_write_obj(struct store *st, uint64_t oid, uint64_t off, uint32_t len, const void *buf);

/* CREATE_AND_WRITE_OBJ: (re)create oid at its full size, zero filled, or as
 * a copy of cow_oid when cow is set (reflink on btrfs), then write the
 * payload; replaces an existing object atomically. Inode oids:
 * INVALID_PARMS. Snapshot data objects: READONLY. Missing cow source: NO_OBJ. */
int store_create_and_write_obj(struct store *st, uint64_t oid, int cow, uint64_t cow_oid,
			       uint64_t off, uint32_t len, const void *buf);

/* FLUSH_VDI: every acknowledged write is already durable; returns SUCCESS
 * (or NO_VDI if oid names no VDI). */
int store_flush_vdi(struct store *st, uint64_t oid);

/* --- VDIs (§5) --- */

struct store_vdi_req {
	char name[256];             /* NUL-padded; as received (may lack a NUL) */
	char tag[256];              /* NUL-padded; may fill 256 bytes */
	uint32_t snapid;            /* 0 = none */
	/* NEW_VDI only */
	uint64_t vdi_size;
	uint32_t base_vid;
	uint8_t copies, copy_policy, store_policy, block_size_shift;
	int snapshot;               /* NEW_VDI snapid field != 0 */
	uint32_t lock_type;         /* LOCK_VDI / RELEASE_VDI */
};

struct store_vdi_rsp {
	uint32_t vid;
	uint8_t copies;
	uint8_t block_size_shift;
};

/* NEW_VDI, the four cases of §5.6 (fresh, clone, snapshot, rebase). */
int store_new_vdi(struct store *st, const struct store_vdi_req *req, struct store_vdi_rsp *rsp);
/* GET_VDI_INFO: the §5.4 lookup. NO_VDI / NO_TAG. */
int store_get_vdi_info(struct store *st, const struct store_vdi_req *req, struct store_vdi_rsp *rsp);
/* LOCK_VDI: the lookup, plus a lock when cfg->enforce_locks. */
int store_lock_vdi(struct store *st, const struct store_vdi_req *req, struct store_vdi_rsp *rsp);
/* RELEASE_VDI of vid: SUCCESS (VDI_NOT_LOCKED is never returned). */
int store_release_vdi(struct store *st, uint32_t vid, uint32_t lock_type);
/* DEL_VDI: lookup, then delete (§5.9): name, tag and index cleared, size 0,
 * bit kept; the VDI's objects are reclaimed once nothing refers to them. */
int store_del_vdi(struct store *st, const struct store_vdi_req *req, struct store_vdi_rsp *rsp);
/* READ_VDIS: the 2 MiB in-use bitmap (§5.2) into bm. Always SUCCESS unless
 * the catalog cannot be read (SYSTEM_ERROR; bm then zeroed). */
int store_read_vdis(struct store *st, uint8_t *bm);
/* GET_CLUSTER_DEFAULT values. */
void store_cluster_default(const struct store *st, uint8_t *copies, uint8_t *policy, uint8_t *shift);

/* --- status (for sheeptool and logs) --- */

struct store_stats {
	uint64_t vdis;              /* live (not deleted) VDIs, snapshots included */
	uint64_t objects;           /* entries in the object index */
	uint64_t bytes;             /* sum of object sizes in the index */
	uint64_t journal_replayed;  /* partial writes completed at the last open */
};
int store_get_stats(struct store *st, struct store_stats *out);

/* Iterate live VDIs (for sheeptool vdi list). cb returns non-zero to stop. */
struct store_vdi_info {
	uint32_t vid, parent_vid, snap_id;
	char name[257], tag[257];
	uint64_t vdi_size, create_time, snap_ctime;
	uint8_t nr_copies, block_size_shift;
	int is_snapshot;
};
int store_list_vdis(struct store *st, int (*cb)(void *ctx, const struct store_vdi_info *v), void *ctx);

/* --- ring history (issue 4; added by ringparts, code in ring_hist.c) ---
 *
 * The ring versions (struct epoch of gossip/epoch.h, as epoch_encode()
 * bytes) this node has placed objects under, so that after a restart it
 * knows the previous rings (recovery needs them). One record per version,
 * keyed by (scalar epoch, epoch digest): big-endian scalar first, so key
 * order is scalar order. Not wire requests: these return 0 / >0 or -errno.
 * Records are msgpack [META_FORMAT, scalar, digest, saved_seq, saved_time,
 * epoch bytes]; reading one that does not decode, whose key does not match
 * its content, or whose epoch bytes do not decode to that scalar and digest
 * is -EBADMSG. Durable when a save/prune returns (LMDB commit). */

#define STORE_RING_DIGEST_LEN 16

struct store_ring_version {
	uint64_t scalar;            /* epoch_scalar() */
	uint8_t digest[STORE_RING_DIGEST_LEN];   /* epoch_digest() */
	uint64_t saved_seq;         /* 1, 2, ...: order of first save on this node */
	uint64_t saved_time;        /* sec<<32 | nsec of the first save */
	const uint8_t *epoch;       /* epoch_encode() bytes */
	size_t len;
};

/* Store one version. The bytes must decode (epoch_decode) to an epoch whose
 * epoch_scalar() and epoch_digest() are scalar and digest, else -EINVAL
 * (we never write what we would refuse to read back). Idempotent: 1 if
 * stored now, 0 if this (scalar, digest) was already stored with the same
 * bytes (the first save's seq and time are kept), -EEXIST if stored with
 * other bytes (impossible for canonical encodings: a bug or corruption). */
int store_ring_save(struct store *st, const uint8_t *epoch_bytes, size_t len, uint64_t scalar,
		    const uint8_t digest[STORE_RING_DIGEST_LEN]);
/* Every stored version, oldest first (scalar order; equal scalars, which
 * concurrent versions can have, in digest byte order). v and v->epoch are
 * valid during the call only. cb returns non-zero to stop. 0, -EBADMSG on
 * the first corrupt record (iteration stops there), or -errno. */
int store_ring_list(struct store *st, int (*cb)(void *ctx, const struct store_ring_version *v),
		    void *ctx);
/* The current version: largest scalar, ties broken by the later save.
 * On 0, out->epoch points to *epoch_copy, malloc'd; the caller frees it.
 * -ENOENT if none is stored, -EBADMSG if any record is corrupt. */
int store_ring_latest(struct store *st, struct store_ring_version *out, uint8_t **epoch_copy);
/* Remove every version with scalar < keep_from_scalar except the latest
 * (a node always keeps its current ring). Which versions objects still
 * depend on is the caller's knowledge, not the store's: pass the smallest
 * scalar under which any local object was placed and not yet moved by
 * recovery (0 = keep all). Returns how many were removed, or -errno
 * (-EBADMSG: a corrupt record; nothing removed then). */
int store_ring_prune(struct store *st, uint64_t keep_from_scalar);
/* The data directory the store was opened in (files that live beside the
 * store, e.g. DIR/node-id, are found from it). Valid until store_close. */
const char *store_dir(const struct store *st);

/* --- replication (issue 5) ---
 *
 * For node/'s replicated data path; code in repl.c. Return codes are SD_RES_*
 * where the function answers a (peer) request, else 0 / -errno as stated.
 */

/* WRITE_OBJ / CREATE_AND_WRITE_OBJ with the gateway's version (a hybrid
 * logical clock): version != 0 is what the object index records for this
 * write (journal replay compares it like a local seq); 0 = the next local
 * seq, as the unversioned calls do (they are these with 0). The local seq
 * is first raised to >= version, so any later local version is larger.
 * No ordering check: a version lower than the object's current one is
 * recorded as given (ordering writes is the gateway's job). */
int store_write_obj_v(struct store *st, uint64_t oid, uint64_t off, uint32_t len,
		      const void *buf, uint64_t version);
int store_create_and_write_obj_v(struct store *st, uint64_t oid, int cow, uint64_t cow_oid,
				 uint64_t off, uint32_t len, const void *buf, uint64_t version);

/* One object index record. size: the object's full size; mtime: sec<<32 |
 * nsec of the last write; csum: BLAKE2b-256 of the whole object, valid only
 * after whole-object writes (create with a full payload, store_obj_put). */
struct store_obj_info { uint64_t oid, size, version, mtime; uint8_t csum[32]; int csum_valid; };

/* Index record of oid: SD_RES_SUCCESS, SD_RES_NO_OBJ (no record),
 * SD_RES_EIO (catalog unreadable or the record corrupt). */
int store_obj_stat(struct store *st, uint64_t oid, struct store_obj_info *out);
/* Every index record with oid >= from_oid, in oid order (inode index
 * records included). cb runs outside any lock or txn (it may call the
 * store); records are read in batches, so a record changed during the walk
 * is seen either way. cb != 0 stops (returns 0). 0 or -errno (-EBADMSG: a
 * corrupt record; the walk stops there). */
int store_obj_list(struct store *st, uint64_t from_oid,
		   int (*cb)(void *ctx, const struct store_obj_info *o), void *ctx);
/* Install a whole replica (recovery/repair): data or vmstate oid of a VDI
 * with a catalog record (else SD_RES_NO_VDI; a deleted VDI whose objects
 * were reclaimed too); len must be the full object size 2^block_size_shift
 * and buf non-NULL (else SD_RES_INVALID_PARMS; inode oids too: inodes
 * travel as VDI exports). The object becomes exactly buf with this version
 * (0 = next local seq) and its checksum; a non-zero version older than
 * the copy already here changes nothing (SD_RES_SUCCESS: the newer copy
 * stays; repairs and recovery pushes can race client writes); snapshots'
 * objects are accepted
 * (they are written only this way). Atomic (temp file + rename) and durable
 * on SD_RES_SUCCESS. */
int store_obj_put(struct store *st, uint64_t oid, const void *buf, uint64_t len, uint64_t version);
/* Remove a replica this node no longer owns: the file, then the index
 * record (a crash in between leaves a record without a file, which the
 * next remove clears). SD_RES_SUCCESS (also if absent), SD_RES_EIO;
 * SD_RES_INVALID_PARMS for inode oids (the index goes with its VDI). */
int store_obj_remove(struct store *st, uint64_t oid);

/* VDI metadata export: msgpack [META_FORMAT, vid, mver, bin(meta_vdi_encode
 * bytes), index], index = array of [first_slot, bin(4*k bytes: k
 * consecutive slots, big-endian as on the wire)] runs of non-zero slots in
 * slot order (empty for a deleted VDI: its index reads as zeros). Taken
 * consistently (no index or header write in between). *buf malloc'd.
 * SD_RES_SUCCESS, SD_RES_NO_VDI (no record for vid), SD_RES_NO_MEM,
 * SD_RES_EIO. */
int store_vdi_export(struct store *st, uint32_t vid, uint8_t **buf, size_t *len);
/* Apply an export (untrusted bytes) if its mver is greater than the local
 * record's, or there is none: the catalog record and the whole index
 * become exactly the exported ones (unlisted slots 0). data_reclaimed is
 * not taken from the export: it is this node's own fact. Returns 1
 * applied, 0 not newer (nothing changed), -EBADMSG (malformed: unknown
 * format, vid 0 or mismatched, mver 0 or not the record's, shift outside
 * 20..31, slot out of range, a zero slot or slot value > 2^24-1 in a run,
 * runs not ascending, bin length not a multiple of 4 or 0, index on a
 * deleted record, trailing bytes; nothing changed), or -errno.
 * Crash safety: the catalog commit is the commit point; it also stores the
 * export itself as a roll-forward record, so an index file not yet
 * rewritten is rewritten at the next store_open (or import). A deleted
 * record triggers the same reclaim a local DEL_VDI does. The local seq
 * ends >= mver. */
int store_vdi_import(struct store *st, const uint8_t *buf, size_t len);
/* Every catalog record's (vid, mver), vid order; cb runs outside any txn
 * (it may call store_vdi_export); cb != 0 stops. 0 or -errno. */
int store_vdi_versions(struct store *st, int (*cb)(void *ctx, uint32_t vid, uint64_t mver), void *ctx);

/* --- lock listing (issue 8; added by tool8, code in locks_list.c) --- */

struct store_lock_info {
	uint32_t vid;
	char name[257], tag[257];   /* NUL-terminated (names may fill 256 bytes) */
	uint32_t snap_id;
	int is_snapshot;
	uint32_t type;              /* 0 normal, 1 shared (LOCK_VDI's type) */
	uint32_t holders;           /* 1, or the shared lock's participants */
	uint64_t time;              /* sec<<32 | nsec when first taken */
};
/* Every lock record of this node's catalog, in vid order, from one read
 * txn (a consistent view); l is valid during the call only and cb runs
 * inside that txn (it must not call back into the store). cb returns
 * non-zero to stop. 0, or -errno (-EBADMSG: a corrupt record). Records
 * outlive restarts: a store opened without enforce_locks lists (and
 * ignores) the ones an earlier run took. */
int store_list_locks(struct store *st, int (*cb)(void *ctx, const struct store_lock_info *l),
		     void *ctx);
/* 1 if the store was opened with enforce_locks (LOCK_VDI takes locks), else 0. */
int store_locks_enforced(const struct store *st);

/* --- versions (issue 5; code in seq.c) --- */

/* The largest version this store has handed out or stored (it is raised
 * past every imported or replicated version): anything on disk now is at
 * or below it. */
uint64_t store_last_version(struct store *st);

/* --- lock replication (issue 5; code in locks_repl.c) --- */

/* One VDI's lock as a whole: held or not, and the record if held. */
struct store_lock_state {
	uint32_t vid;
	int held;
	uint32_t type;              /* 0 normal, 1 shared */
	uint32_t count;             /* holders, >= 1 when held */
	uint64_t time;              /* sec<<32 | nsec when first taken */
};
/* The lock of vid (held = 0 if none). 0 or -errno. */
int store_lock_state(struct store *st, uint32_t vid, struct store_lock_state *out);
/* Make the lock of s->vid exactly s (put the record, or drop it); durable.
 * -EINVAL for a vid out of range, a type other than 0/1 or a held lock with
 * no holder; else 0 or -errno. Does not look at the catalog: a lock may
 * arrive before its VDI's record. */
int store_lock_apply(struct store *st, const struct store_lock_state *s);

#endif

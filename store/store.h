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

#endif

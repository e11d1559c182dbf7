/*
 * store_int.h: what store.c, vdi.c and inode.c share. Private to store/.
 *
 * Locking (outermost first; never taken in another order):
 *   1. ns: a rwlock. VDI namespace changes (NEW_VDI, DEL_VDI, reclaiming,
 *      inode header writes) hold it for writing; object reads and writes
 *      hold it for reading. So a snapshot never sees a data write half done,
 *      and an index copy never races an index write.
 *   2. stripes[hash(oid)]: serialises writers of one object across the
 *      journal write, the object write and the meta commit.
 *   3. LMDB's own writer lock inside meta txns.
 */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "sheepdog_proto.h"
#include "store/chunk.h"
#include "store/meta.h"
#include "store/store.h"

#define STORE_STRIPES 1024

struct store {
	struct store_config cfg;
	char *dir;
	struct chunk_store *cs;
	struct meta *meta;
	pthread_rwlock_t ns;
	pthread_mutex_t stripes[STORE_STRIPES];
	_Atomic uint64_t seq;               /* last version handed out */
	uint64_t journal_replayed;          /* set once at open */
};

#define store__log(st, lvl, ...) \
	do { if ((st)->cfg.log) (st)->cfg.log((st)->cfg.log_ctx, (lvl), __VA_ARGS__); } while (0)

/* store.c */
uint64_t store__next_seq(struct store *st);
/* Raise the local seq to at least v (issue 5: versions from elsewhere). */
void store__seq_raise(struct store *st, uint64_t v);
/* Raise "seq" in misc to at least v, in the caller's write txn. */
int store__misc_seq_raise(struct meta_txn *t, uint64_t v);
/* Set vid's mver to a new seq in its own write txn, together with the
 * index record (index_oid, index_version) unless index_oid is 0. 0 or -errno. */
int store__vdi_touch(struct store *st, uint32_t vid, uint64_t index_oid, uint64_t index_version);
uint64_t store__now(void);                       /* CLOCK_REALTIME, sec<<32|nsec */
pthread_mutex_t *store__stripe(struct store *st, uint64_t oid);
/* Catalog record of vid in its own read txn: 0, -ENOENT or -errno. */
int store__vdi_get(struct store *st, uint32_t vid, struct meta_vdi *v);
/* Record a completed mutation of oid (size, version) durably. */
int store__obj_commit(struct store *st, uint64_t oid, uint64_t size, uint64_t version,
		      const uint8_t *csum);
/* -errno from chunk/meta -> wire code for object requests. */
int store__res_from_errno(int err);

/* vdi.c */
/* Reclaim every deleted VDI no live index refers to. Caller holds ns for
 * writing. 0 or -errno (logged; a failure only delays reclaiming). */
int store__reclaim(struct store *st);
/* Number of live (not deleted) VDI records. 0 or -errno. */
int store__count_live(struct meta_txn *t, uint64_t *n);

/* repl.c */
/* At open: complete a VDI import interrupted after its commit point, and
 * give records without an mver (format 1) one. 0 or -errno. */
int store__repl_recover(struct store *st);

/* inode.c */
/* The 4664-byte QEMU header of v (deleted VDIs: name/tag zero, size 0). */
void inode_header_build(const struct meta_vdi *v, uint8_t *hdr);
/* Overlay len bytes at off (off < SD_INODE_HEADER_SIZE, clipped to the
 * header) on cur's header; on SD_RES_SUCCESS *out is cur with the allowed
 * changes (tag, vm_clock_nsec, vm_state_size, vdi_size grown within the
 * limit), else SD_RES_INVALID_PARMS. *changed = 0 if nothing differs. */
int inode_header_apply(const struct meta_vdi *cur, uint64_t off, const uint8_t *buf, size_t len,
		       struct meta_vdi *out, int *changed);
/* Check an index write. cur holds the current bytes of the slot-aligned
 * range [a, b) around [off, off+len) (index-relative offsets), a = off & ~3.
 * Every resulting slot must be 0, vid or its current value. */
int inode_index_check(uint32_t vid, const uint8_t *cur, uint64_t a, uint64_t b,
		      uint64_t off, const uint8_t *buf, size_t len);
/* Largest vdi_size for a shift: 2^shift * 2^20. */
static inline uint64_t inode_max_size(uint8_t shift) { return (UINT64_C(1) << shift) << 20; }

#endif

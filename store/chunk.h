/*
 * chunk.h: object bytes in files. Internal to store/ (node/ uses store.h).
 *
 * Layout under DIR/obj/: one directory per VDI, named by the vid in 6 hex
 * digits ("7c2b25"), holding that VDI's objects as files named by the oid in
 * 16 hex digits. On btrfs (detected with statfs) each VDI directory is a
 * subvolume and copies use FICLONE reflinks; elsewhere they are plain
 * directories and copies are byte copies. Files may be sparse and shorter
 * than the object: bytes past EOF read as zero.
 *
 * Atomicity: chunk_create writes a temporary file and renames it over the
 * object (old or new object after a crash). chunk_write (partial overwrite)
 * first writes an intent record (seq, oid, offset, data, BLAKE2b checksum)
 * into one of N journal slot files under DIR/journal/ and fdatasyncs it,
 * then writes the object and fdatasyncs it. chunk_journal_replay re-applies
 * complete records the caller says are not yet reflected (their seq is newer
 * than the object's recorded version); a torn record fails its checksum and
 * is ignored, leaving the old bytes. All functions return 0 or -errno.
 * Thread-safe; callers serialise writers of one object (store.c does, with
 * a striped lock), chunk.c does not.
 */
#ifndef STORE_CHUNK_H
#define STORE_CHUNK_H

#include <stddef.h>
#include <stdint.h>

struct chunk_store;

struct chunk_config {
	const char *dir;            /* data directory (DIR/obj and DIR/journal go below) */
	int force_plain;
	unsigned journal_slots;     /* >= 1 */
	unsigned test_write_pause_us;   /* see store_config */
	void (*log)(void *ctx, int level, const char *fmt, ...);   /* may be NULL */
	void *log_ctx;
};

int chunk_open(struct chunk_store **out, const struct chunk_config *cfg);
void chunk_close(struct chunk_store *cs);
int chunk_is_btrfs(const struct chunk_store *cs);

/* Create the VDI's directory/subvolume if missing (idempotent). */
int chunk_vdi_create(struct chunk_store *cs, uint32_t vid);
/* Remove the VDI's directory/subvolume and all its objects (idempotent). */
int chunk_vdi_destroy(struct chunk_store *cs, uint32_t vid);
/* 1 if the VDI's directory exists, 0 if not. */
int chunk_vdi_exists(struct chunk_store *cs, uint32_t vid);

/* 1 if the object file exists, 0 if not, <0 on error. */
int chunk_exists(struct chunk_store *cs, uint64_t oid);
/* Read [off, off+len); bytes past EOF are zero. -ENOENT if no file. */
int chunk_read(struct chunk_store *cs, uint64_t oid, uint64_t off, size_t len, void *buf);
/* Partial overwrite of an existing object (-ENOENT if none), journaled as
 * above; durable on return. seq is the caller's version of this write. */
int chunk_write(struct chunk_store *cs, uint64_t oid, uint64_t seq,
		uint64_t off, size_t len, const void *buf);
/* Create or replace oid with logical size obj_size: from src_oid's bytes
 * when src_oid != 0 (reflink on btrfs, -ENOENT if the source is missing),
 * else zeros; then the payload at off. Durable on return (file and
 * directory fsynced). */
int chunk_create(struct chunk_store *cs, uint64_t oid, uint64_t obj_size, uint64_t src_oid,
		 uint64_t off, size_t len, const void *buf);
/* Remove one object (0 if it did not exist). */
int chunk_remove(struct chunk_store *cs, uint64_t oid);

/* Journal replay, called once after chunk_open and before any write.
 * For each complete record, in seq order, calls need(ctx, oid, seq): a
 * return of 1 applies the record to the object (if the object file exists)
 * and then calls applied(ctx, oid, seq); 0 skips it. Returns the number of
 * records applied, or -errno. Afterwards the journal slots are cleared. */
int chunk_journal_replay(struct chunk_store *cs,
			 int (*need)(void *ctx, uint64_t oid, uint64_t seq),
			 int (*applied)(void *ctx, uint64_t oid, uint64_t seq),
			 void *ctx);
/* Highest seq seen in the journal at open (0 if none), so the caller's
 * sequence counter starts above it. */
uint64_t chunk_journal_max_seq(const struct chunk_store *cs);

#endif

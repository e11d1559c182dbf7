/*
 * chunk_int.h: what chunk.c (objects, backends) and journal.c (partial
 * write journal) share. Not part of the store/ contract.
 */
#ifndef STORE_CHUNK_INT_H
#define STORE_CHUNK_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/chunk.h"
#include "store/store.h"     /* STORE_LOG_* levels */

/* On-disk journal record: header, then `length` data bytes.
 *   0  u32 magic  CHUNK_JREC_MAGIC      (all integers little-endian)
 *   4  u32 format CHUNK_JREC_FORMAT
 *   8  u64 seq
 *  16  u64 oid
 *  24  u64 offset
 *  32  u64 length
 *  40  u8[32] BLAKE2b-256 over bytes [0,40) then the data
 *  72  data */
#define CHUNK_JREC_MAGIC   UINT32_C(0x524a4d53)   /* "SMJR" */
#define CHUNK_JREC_FORMAT  1
#define CHUNK_JREC_HDR     72
#define CHUNK_JREC_SUMOFF  40
#define CHUNK_JSLOT_MAX    1024                   /* slot files we look at */
#define CHUNK_JSLOT_FMT    "slot-%04u"            /* DIR/journal/<name> */

struct chunk_jrec {             /* a complete record found at open */
	uint64_t seq, oid, off, len;
	unsigned slot;
};

struct chunk_store {
	char *dir;
	int objfd;                  /* DIR/obj */
	int jfd;                    /* DIR/journal */
	int btrfs;
	unsigned pause_us;
	void (*log)(void *ctx, int level, const char *fmt, ...);
	void *log_ctx;
	_Atomic unsigned long tmp_seq;  /* makes temp names unique */

	/* journal (journal.c) */
	unsigned nslots;            /* slots in use for writes */
	unsigned nfiles;            /* slot_fd entries (>= nslots: old extra slots) */
	int *slot_fd;               /* -1 where no file */
	unsigned *free_slots;       /* stack of free slot numbers < nslots */
	unsigned nfree;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct chunk_jrec *recs;    /* complete records seen at open, seq order */
	size_t nrecs;
	uint64_t max_seq;
};

#define chunk__log(cs, lvl, ...) \
	do { if ((cs)->log) (cs)->log((cs)->log_ctx, (lvl), __VA_ARGS__); } while (0)

/* journal.c */
int chunk__journal_open(struct chunk_store *cs, unsigned nslots);
void chunk__journal_close(struct chunk_store *cs);

/* chunk.c helpers journal.c uses */
int chunk__obj_open(struct chunk_store *cs, uint64_t oid, int flags);
int chunk__pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int chunk__pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got);

/* Encodes a record header (with checksum over hdr + data) into hdr; for
 * journal.c and the unit tests, which craft records by hand. */
void chunk__jrec_encode(uint8_t hdr[CHUNK_JREC_HDR], uint64_t seq, uint64_t oid,
			uint64_t off, const void *data, size_t len);

#endif

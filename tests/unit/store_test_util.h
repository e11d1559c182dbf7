/*
 * store_test_util.h: a real store in a temp dir for test_vdi.c and
 * test_store.c (plain backend), and short request helpers.
 */
#ifndef TESTS_UNIT_STORE_TEST_UTIL_H
#define TESTS_UNIT_STORE_TEST_UTIL_H

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"

struct tstore {
	char dir[64];
	struct store *st;
	struct store_config cfg;
};

static inline int tstore_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb; (void)flag; (void)f;
	return remove(p);
}

static inline void tstore_log(void *ctx, int level, const char *fmt, ...)
{
	(void)ctx;
	if (!getenv("STORE_TEST_LOG") && level > STORE_LOG_ERR)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static inline int tstore_reopen(struct tstore *ts)
{
	if (ts->st)
		store_close(ts->st);
	ts->st = NULL;
	ts->cfg.dir = ts->dir;
	return store_open(&ts->st, &ts->cfg);
}

static inline int tstore_setup(void **state)
{
	struct tstore *ts = calloc(1, sizeof(*ts));
	if (!ts)
		return -1;
	strcpy(ts->dir, "/tmp/sm-storetest-XXXXXX");
	if (!mkdtemp(ts->dir)) {
		free(ts);
		return -1;
	}
	store_config_defaults(&ts->cfg);
	ts->cfg.force_plain = 1;
	ts->cfg.log = tstore_log;
	if (tstore_reopen(ts)) {
		nftw(ts->dir, tstore_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
		free(ts);
		return -1;
	}
	*state = ts;
	return 0;
}

static inline int tstore_teardown(void **state)
{
	struct tstore *ts = *state;
	if (!ts)
		return 0;
	store_close(ts->st);
	nftw(ts->dir, tstore_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(ts);
	return 0;
}

static inline void treq(struct store_vdi_req *r, const char *name, const char *tag, uint32_t snapid)
{
	memset(r, 0, sizeof(*r));
	/* NUL padded by the memset; a 256-byte string fills the field */
	size_t n = strlen(name);
	memcpy(r->name, name, n < sizeof(r->name) ? n : sizeof(r->name));
	if (tag) {
		n = strlen(tag);
		memcpy(r->tag, tag, n < sizeof(r->tag) ? n : sizeof(r->tag));
	}
	r->snapid = snapid;
}

/* NEW_VDI: fresh (base 0, snap 0), clone (base, snap 0), snapshot/rebase (snap 1). */
static inline int tnew(struct store *st, const char *name, uint64_t size, uint32_t base, int snap,
		uint8_t shift, uint32_t *vid)
{
	struct store_vdi_req r;
	struct store_vdi_rsp rsp = {0};
	treq(&r, name, NULL, 0);
	r.vdi_size = size;
	r.base_vid = base;
	r.snapshot = snap;
	r.block_size_shift = shift;
	int res = store_new_vdi(st, &r, &rsp);
	if (vid)
		*vid = res == SD_RES_SUCCESS ? rsp.vid : 0;
	return res;
}

static inline int tlookup(struct store *st, const char *name, const char *tag, uint32_t snapid, uint32_t *vid)
{
	struct store_vdi_req r;
	struct store_vdi_rsp rsp = {0};
	treq(&r, name, tag, snapid);
	int res = store_get_vdi_info(st, &r, &rsp);
	if (vid)
		*vid = res == SD_RES_SUCCESS ? rsp.vid : 0;
	return res;
}

static inline int tdel(struct store *st, const char *name, const char *tag, uint32_t snapid, uint32_t *vid)
{
	struct store_vdi_req r;
	struct store_vdi_rsp rsp = {0};
	treq(&r, name, tag, snapid);
	r.base_vid = 0x123;             /* must be ignored (§5.9) */
	int res = store_del_vdi(st, &r, &rsp);
	if (vid)
		*vid = res == SD_RES_SUCCESS ? rsp.vid : 0;
	return res;
}

static inline int theader(struct store *st, uint32_t vid, uint8_t *hdr)
{
	return store_read_obj(st, sd_inode_oid(vid), 0, SD_INODE_HEADER_SIZE, hdr);
}

/* Index slot i of vid, read through the store (0xffffffff on error). */
static inline uint32_t tslot(struct store *st, uint32_t vid, uint32_t i)
{
	uint8_t b[4];
	if (store_read_obj(st, sd_inode_oid(vid), SD_INODE_INDEX_OFF + 4 * (uint64_t)i, 4, b))
		return 0xffffffff;
	return sd_get32(b);
}

static inline int tset_slot(struct store *st, uint32_t vid, uint32_t i, uint32_t val)
{
	uint8_t b[4];
	sd_put32(b, val);
	return store_write_obj(st, sd_inode_oid(vid), SD_INODE_INDEX_OFF + 4 * (uint64_t)i, 4, b);
}

/* What QEMU does for a first write of object i: create + index update. */
static inline int twrite_new(struct store *st, uint32_t vid, uint32_t i, uint8_t fill)
{
	size_t n = 4096;
	uint8_t *b = malloc(n);
	memset(b, fill, n);
	int res = store_create_and_write_obj(st, sd_data_oid(vid, i), 0, 0, 0, (uint32_t)n, b);
	free(b);
	if (res)
		return res;
	return tset_slot(st, vid, i, vid);
}

#endif

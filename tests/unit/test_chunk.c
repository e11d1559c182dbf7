/*
 * test_chunk.c: store/chunk.h on both backends. The same tests run once on
 * a plain directory under /tmp and once on a loop-mounted btrfs image
 * (skipped, with the reason, where that is impossible).
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/fiemap.h>
#include <linux/fs.h>

#include <cmocka.h>

#include "sheepdog_proto.h"
#include "chunk_test_util.h"

#define OBJ (UINT64_C(4) << 20)

struct ctest {
	struct cbackend *b;
	char dir[160];
	struct chunk_store *cs;
	struct cb_log log;
	unsigned slots;
};

static struct ctest *ct_new(void **state, unsigned slots)
{
	struct cbackend *b = *state;
	if (!b->ok) {
		print_message("# SKIP %s\n", b->why);
		skip();
	}
	struct ctest *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->b = b;
	c->slots = slots;
	snprintf(c->dir, sizeof(c->dir), "%s/st-XXXXXX", b->base);
	assert_non_null(mkdtemp(c->dir));
	return c;
}

static int ct_open(struct ctest *c)
{
	struct chunk_config cfg = {
		.dir = c->dir, .journal_slots = c->slots,
		.log = cb_log_fn, .log_ctx = &c->log,
	};
	c->log.len = 0;
	c->log.text[0] = 0;
	return chunk_open(&c->cs, &cfg);
}

static void ct_close(struct ctest *c)
{
	if (c->cs)
		chunk_close(c->cs);
	c->cs = NULL;
}

static void ct_free(struct ctest *c)
{
	ct_close(c);
	cb_rm_tree(c->dir);
	free(c);
}

static struct ctest *ct_start(void **state)
{
	struct ctest *c = ct_new(state, 4);
	assert_int_equal(ct_open(c), 0);
	return c;
}

static void assert_pattern(const uint8_t *got, size_t len, uint64_t start, uint8_t tag)
{
	uint8_t *want = malloc(len);
	assert_non_null(want);
	cb_pattern(want, len, start, tag);
	assert_memory_equal(got, want, len);
	free(want);
}

static void assert_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i]) {
			print_message("non-zero byte %#x at %zu\n", p[i], i);
			fail();
		}
}

/* --- tests --- */

static void test_backend(void **state)
{
	struct ctest *c = ct_start(state);
	assert_int_equal(chunk_is_btrfs(c->cs), c->b->btrfs);
	assert_non_null(strstr(c->log.text, c->b->btrfs ? "btrfs backend" : "plain backend"));
	ct_close(c);

	/* bad configuration is refused, not guessed at */
	struct chunk_config cfg = { .dir = c->dir, .journal_slots = 0 };
	struct chunk_store *cs = (void *)1;
	assert_int_equal(chunk_open(&cs, &cfg), -EINVAL);
	assert_null(cs);
	cfg.journal_slots = CHUNK_JSLOT_MAX + 1;
	assert_int_equal(chunk_open(&cs, &cfg), -EINVAL);
	char missing[200];
	snprintf(missing, sizeof(missing), "%s/no/such", c->dir);
	cfg.dir = missing;
	cfg.journal_slots = 1;
	assert_int_equal(chunk_open(&cs, &cfg), -ENOENT);

	/* force_plain on btrfs: plain, and the log says so */
	if (c->b->btrfs) {
		cfg.dir = c->dir;
		cfg.force_plain = 1;
		cfg.log = cb_log_fn;
		cfg.log_ctx = &c->log;
		c->log.len = 0;
		assert_int_equal(chunk_open(&cs, &cfg), 0);
		assert_int_equal(chunk_is_btrfs(cs), 0);
		assert_non_null(strstr(c->log.text, "plain forced"));
		chunk_close(cs);
	}
	ct_free(c);
}

static void test_create_read_write_remove(void **state)
{
	struct ctest *c = ct_start(state);
	const uint32_t vid = 0x7c2b25;
	const uint64_t oid = sd_data_oid(vid, 3);
	uint8_t *buf = malloc(OBJ), *pat = malloc(8192);
	assert_non_null(buf);
	assert_non_null(pat);

	assert_int_equal(chunk_vdi_exists(c->cs, vid), 0);
	assert_int_equal(chunk_vdi_create(c->cs, vid), 0);
	assert_int_equal(chunk_vdi_exists(c->cs, vid), 1);
	assert_int_equal(chunk_exists(c->cs, oid), 0);
	assert_int_equal(chunk_read(c->cs, oid, 0, 16, buf), -ENOENT);
	assert_int_equal(chunk_write(c->cs, oid, 1, 0, 16, buf), -ENOENT);
	assert_int_equal(chunk_exists(c->cs, oid), 0);      /* write did not create */

	/* the layout is the contract's: obj/<vid %06x>/<oid %016llx> */
	cb_pattern(pat, 8192, 0, 1);
	assert_int_equal(chunk_create(c->cs, oid, OBJ, 0, 10000, 8192, pat), 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/obj/7c2b25/%016llx", c->dir, (unsigned long long)oid);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_true((uint64_t)sb.st_size == OBJ);
	assert_int_equal(chunk_exists(c->cs, oid), 1);

	assert_int_equal(chunk_read(c->cs, oid, 0, OBJ, buf), 0);
	assert_zero(buf, 10000);
	assert_pattern(buf + 10000, 8192, 0, 1);
	assert_zero(buf + 18192, OBJ - 18192);

	/* partial overwrite straddling the payload's end */
	cb_pattern(pat, 4096, 5000, 2);
	assert_int_equal(chunk_write(c->cs, oid, 2, 16000, 4096, pat), 0);
	assert_int_equal(chunk_read(c->cs, oid, 10000, 12000, buf), 0);
	assert_pattern(buf, 6000, 0, 1);
	assert_pattern(buf + 6000, 4096, 5000, 2);
	assert_zero(buf + 10096, 1904);
	/* zero-length write: fine, changes nothing */
	assert_int_equal(chunk_write(c->cs, oid, 3, 0, 0, pat), 0);

	/* the payload must fit the object */
	assert_int_equal(chunk_create(c->cs, oid, 4096, 0, 4000, 200, pat), -EINVAL);
	assert_int_equal(chunk_read(c->cs, oid, 10000, 100, buf), 0);
	assert_pattern(buf, 100, 0, 1);                     /* still the old object */

	/* create replaces an existing object whole */
	cb_pattern(pat, 100, 0, 3);
	assert_int_equal(chunk_create(c->cs, oid, OBJ, 0, 0, 100, pat), 0);
	assert_int_equal(chunk_read(c->cs, oid, 0, 20000, buf), 0);
	assert_pattern(buf, 100, 0, 3);
	assert_zero(buf + 100, 19900);

	/* a create into a VDI directory that does not exist yet makes it */
	const uint64_t oid2 = sd_data_oid(0x12, 0);
	assert_int_equal(chunk_create(c->cs, oid2, OBJ, 0, 0, 100, pat), 0);
	assert_int_equal(chunk_vdi_exists(c->cs, 0x12), 1);

	/* no temporary files are left behind */
	char vdir[200];
	snprintf(vdir, sizeof(vdir), "%s/obj/7c2b25", c->dir);
	DIR *d = opendir(vdir);
	assert_non_null(d);
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			files++;
		else
			assert_true(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."));
	closedir(d);
	assert_int_equal(files, 1);

	assert_int_equal(chunk_remove(c->cs, oid), 0);
	assert_int_equal(chunk_exists(c->cs, oid), 0);
	assert_int_equal(chunk_remove(c->cs, oid), 0);      /* idempotent */
	assert_int_equal(chunk_read(c->cs, oid, 0, 16, buf), -ENOENT);
	free(buf);
	free(pat);
	ct_free(c);
}

static void test_zero_past_eof(void **state)
{
	struct ctest *c = ct_start(state);
	const uint64_t oid = sd_data_oid(0x99, 1);
	uint8_t pat[2000], buf[3000];
	cb_pattern(pat, sizeof(pat), 0, 5);
	assert_int_equal(chunk_create(c->cs, oid, OBJ, 0, 0, sizeof(pat), pat), 0);

	/* files may be short (e.g. written by an older version): cut it */
	char path[256];
	snprintf(path, sizeof(path), "%s/obj/000099/%016llx", c->dir, (unsigned long long)oid);
	assert_int_equal(truncate(path, 1000), 0);

	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(chunk_read(c->cs, oid, 500, 3000, buf), 0);
	assert_pattern(buf, 500, 500, 5);
	assert_zero(buf + 500, 2500);
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(chunk_read(c->cs, oid, OBJ - 100, 100, buf), 0);   /* wholly past EOF */
	assert_zero(buf, 100);

	/* a write past EOF extends the file; the gap reads as zero */
	assert_int_equal(chunk_write(c->cs, oid, 7, 5000, 1000, pat), 0);
	assert_int_equal(chunk_read(c->cs, oid, 0, 3000, buf), 0);
	assert_pattern(buf, 1000, 0, 5);
	assert_zero(buf + 1000, 2000);
	assert_int_equal(chunk_read(c->cs, oid, 4000, 3000, buf), 0);
	assert_zero(buf, 1000);
	assert_pattern(buf + 1000, 1000, 0, 5);
	assert_zero(buf + 2000, 1000);
	ct_free(c);
}

/* In a child without CAP_SYS_ADMIN (so BTRFS_IOC_SNAP_DESTROY is refused
 * with EPERM): destroy vid and say whether the fallback was taken.
 * Exit 0 = destroyed via the fallback, 4 = capset failed. */
static void destroy_unprivileged(struct ctest *c, uint32_t vid)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
		struct __user_cap_data_struct d[2];
		if (syscall(SYS_capget, &h, d))
			_exit(4);
		d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
		if (syscall(SYS_capset, &h, d))
			_exit(4);
		c->log.len = 0;
		c->log.text[0] = 0;
		int r = chunk_vdi_destroy(c->cs, vid);
		if (r)
			_exit(r == -EPERM ? 5 : 6);
		_exit(strstr(c->log.text, "removing its files instead") ? 0 : 7);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 4) {
		print_message("# capset failed: EPERM fallback not checked\n");
		return;
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_vdi_create_destroy(void **state)
{
	struct ctest *c = ct_start(state);
	const uint32_t vid = 0xabcdef;
	assert_int_equal(chunk_vdi_create(c->cs, vid), 0);
	assert_int_equal(chunk_vdi_create(c->cs, vid), 0);       /* idempotent */

	char vdir[200];
	snprintf(vdir, sizeof(vdir), "%s/obj/abcdef", c->dir);
	struct stat sb;
	assert_int_equal(stat(vdir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	if (c->b->btrfs)
		assert_int_equal(sb.st_ino, 256);   /* the root of a subvolume */
	else
		assert_int_not_equal(sb.st_ino, 256);

	uint8_t pat[512];
	cb_pattern(pat, sizeof(pat), 0, 9);
	for (uint32_t i = 0; i < 5; i++)
		assert_int_equal(chunk_create(c->cs, sd_data_oid(vid, i), OBJ, 0, 0, sizeof(pat), pat), 0);
	assert_int_equal(chunk_create(c->cs, sd_inode_oid(vid), OBJ, 0, 0, sizeof(pat), pat), 0);
	assert_int_equal(chunk_vdi_create(c->cs, vid + 1), 0);
	assert_int_equal(chunk_create(c->cs, sd_data_oid(vid + 1, 0), OBJ, 0, 0, sizeof(pat), pat), 0);

	assert_int_equal(chunk_vdi_destroy(c->cs, vid), 0);
	assert_int_equal(chunk_vdi_exists(c->cs, vid), 0);
	assert_int_equal(stat(vdir, &sb), -1);
	assert_int_equal(chunk_exists(c->cs, sd_data_oid(vid, 2)), 0);
	assert_int_equal(chunk_exists(c->cs, sd_inode_oid(vid)), 0);
	assert_int_equal(chunk_vdi_destroy(c->cs, vid), 0);      /* idempotent */
	/* the neighbour is untouched */
	assert_int_equal(chunk_exists(c->cs, sd_data_oid(vid + 1, 0)), 1);

	/* a plain directory (made while plain was forced) is removed too */
	if (c->b->btrfs) {
		char pdir[220];
		snprintf(pdir, sizeof(pdir), "%s/obj/000777", c->dir);
		assert_int_equal(mkdir(pdir, 0755), 0);
		assert_int_equal(chunk_create(c->cs, sd_data_oid(0x777, 0), OBJ, 0, 0, sizeof(pat), pat), 0);
		assert_int_equal(chunk_vdi_destroy(c->cs, 0x777), 0);
		assert_int_equal(chunk_vdi_exists(c->cs, 0x777), 0);

		/* without the right to delete subvolumes: files + rmdir */
		assert_int_equal(chunk_vdi_create(c->cs, 0x778), 0);
		for (uint32_t i = 0; i < 3; i++)
			assert_int_equal(chunk_create(c->cs, sd_data_oid(0x778, i), OBJ, 0, 0,
						      sizeof(pat), pat), 0);
		destroy_unprivileged(c, 0x778);
		assert_int_equal(chunk_vdi_exists(c->cs, 0x778), 0);
		assert_int_equal(chunk_exists(c->cs, sd_data_oid(0x778, 1)), 0);
	}
	ct_free(c);
}

/* Counts (extents, extents flagged shared) of fd via FIEMAP; -1 if the
 * filesystem does not support it. */
static int fiemap_count(int fd, int *shared)
{
	size_t sz = sizeof(struct fiemap) + 64 * sizeof(struct fiemap_extent);
	struct fiemap *fm = calloc(1, sz);
	assert_non_null(fm);
	fm->fm_start = 0;
	fm->fm_length = FIEMAP_MAX_OFFSET;
	fm->fm_flags = FIEMAP_FLAG_SYNC;
	fm->fm_extent_count = 64;
	if (ioctl(fd, FS_IOC_FIEMAP, fm)) {
		free(fm);
		return -1;
	}
	int n = (int)fm->fm_mapped_extents;
	*shared = 0;
	for (int i = 0; i < n; i++)
		if (fm->fm_extents[i].fe_flags & FIEMAP_EXTENT_SHARED)
			(*shared)++;
	free(fm);
	return n;
}

static void test_cow_create(void **state)
{
	struct ctest *c = ct_start(state);
	const uint32_t parent = 0x100, child = 0x101;
	const uint64_t src = sd_data_oid(parent, 0), dst = sd_data_oid(child, 0);
	const uint64_t same = sd_data_oid(parent, 1);
	const size_t n = 1 << 20;
	uint8_t *pat = malloc(n), *buf = malloc(OBJ);
	assert_non_null(pat);
	assert_non_null(buf);
	cb_pattern(pat, n, 0, 0x11);
	assert_int_equal(chunk_vdi_create(c->cs, parent), 0);
	assert_int_equal(chunk_vdi_create(c->cs, child), 0);
	assert_int_equal(chunk_create(c->cs, src, OBJ, 0, 0, n, pat), 0);

	/* missing source */
	assert_int_equal(chunk_create(c->cs, dst, OBJ, sd_data_oid(parent, 9), 0, 0, NULL), -ENOENT);
	assert_int_equal(chunk_exists(c->cs, dst), 0);

	/* copy into another VDI (a snapshot's child), then a small payload */
	uint8_t small[100];
	cb_pattern(small, sizeof(small), 0, 0x22);
	assert_int_equal(chunk_create(c->cs, dst, OBJ, src, 4096, sizeof(small), small), 0);
	/* and within one VDI */
	assert_int_equal(chunk_create(c->cs, same, OBJ, src, 0, 0, NULL), 0);

	assert_int_equal(chunk_read(c->cs, dst, 0, OBJ, buf), 0);
	assert_pattern(buf, 4096, 0, 0x11);
	assert_pattern(buf + 4096, sizeof(small), 0, 0x22);
	assert_pattern(buf + 4196, n - 4196, 4196, 0x11);
	assert_zero(buf + n, OBJ - n);
	assert_int_equal(chunk_read(c->cs, same, 0, n, buf), 0);
	assert_pattern(buf, n, 0, 0x11);
	/* the source is unchanged */
	assert_int_equal(chunk_read(c->cs, src, 0, n, buf), 0);
	assert_pattern(buf, n, 0, 0x11);

	/* extents: shared with the source on btrfs, private copies on plain */
	const uint64_t oids[] = { dst, same };
	for (int i = 0; i < 2; i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/obj/%06x/%016llx", c->dir, sd_oid_vid(oids[i]),
			 (unsigned long long)oids[i]);
		int fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		int shared = 0, ext = fiemap_count(fd, &shared);
		close(fd);
		if (c->b->btrfs) {
			assert_true(ext >= 1);
			assert_true(shared >= 1);
		} else if (ext >= 0) {
			assert_true(ext >= 1);
			assert_int_equal(shared, 0);
		} else {
			print_message("# FIEMAP unsupported on %s: extent check not made\n", c->b->base);
		}
	}

	/* a short source (bytes past its EOF are zero): the copy is full
	 * size, zero past the source's end */
	char sp[256];
	snprintf(sp, sizeof(sp), "%s/obj/%06x/%016llx", c->dir, parent, (unsigned long long)same);
	assert_int_equal(truncate(sp, 1000), 0);
	const uint64_t dst2 = sd_data_oid(child, 1);
	assert_int_equal(chunk_create(c->cs, dst2, OBJ, same, 0, 0, NULL), 0);
	memset(buf, 0xaa, 8192);
	assert_int_equal(chunk_read(c->cs, dst2, 0, 8192, buf), 0);
	assert_pattern(buf, 1000, 0, 0x11);
	assert_zero(buf + 1000, 8192 - 1000);
	assert_int_equal(chunk_read(c->cs, dst2, OBJ - 10, 10, buf), 0);
	assert_zero(buf, 10);

	/* a write to the copy does not reach the source */
	cb_pattern(small, sizeof(small), 0, 0x33);
	assert_int_equal(chunk_write(c->cs, dst, 5, 0, sizeof(small), small), 0);
	assert_int_equal(chunk_read(c->cs, src, 0, sizeof(small), buf), 0);
	assert_pattern(buf, sizeof(small), 0, 0x11);
	free(pat);
	free(buf);
	ct_free(c);
}

/* --- journal replay --- */

struct replay_ctx {
	uint64_t skip_seq;          /* need() says 0 for this seq */
	uint64_t need_seqs[16], applied_seqs[16];
	int nneed, napplied;
};

static int r_need(void *ctx, uint64_t oid, uint64_t seq)
{
	(void)oid;
	struct replay_ctx *r = ctx;
	if (r->nneed < 16)
		r->need_seqs[r->nneed++] = seq;
	return seq != r->skip_seq;
}

static int r_applied(void *ctx, uint64_t oid, uint64_t seq)
{
	(void)oid;
	struct replay_ctx *r = ctx;
	if (r->napplied < 16)
		r->applied_seqs[r->napplied++] = seq;
	return 0;
}

/* Writes a record into slot file `slot` of dir; corrupt_at >= 0 flips
 * that byte of the record (header or data) after encoding. */
static void put_record(const char *dir, unsigned slot, uint64_t seq, uint64_t oid, uint64_t off,
		       const uint8_t *data, size_t len, long corrupt_at)
{
	uint8_t *rec = malloc(CHUNK_JREC_HDR + len);
	assert_non_null(rec);
	chunk__jrec_encode(rec, seq, oid, off, data, len);
	memcpy(rec + CHUNK_JREC_HDR, data, len);
	if (corrupt_at >= 0)
		rec[corrupt_at] ^= 0x40;
	char name[32], path[256];
	snprintf(name, sizeof(name), CHUNK_JSLOT_FMT, slot);
	snprintf(path, sizeof(path), "%s/journal/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, rec, CHUNK_JREC_HDR + len), (ssize_t)(CHUNK_JREC_HDR + len));
	close(fd);
	free(rec);
}

static void test_journal_replay(void **state)
{
	struct ctest *c = ct_new(state, 4);
	assert_int_equal(ct_open(c), 0);
	const uint64_t oid = sd_data_oid(0x5, 0), gone = sd_data_oid(0x5, 1);
	uint8_t *old = malloc(65536), *nw = malloc(65536), *buf = malloc(65536);
	assert_non_null(old);
	assert_non_null(nw);
	assert_non_null(buf);
	cb_pattern(old, 65536, 0, 0x01);
	assert_int_equal(chunk_create(c->cs, oid, OBJ, 0, 0, 65536, old), 0);
	assert_int_equal(chunk_journal_max_seq(c->cs), 0);
	ct_close(c);

	/* slot 2: complete, seq 10, [1000, +3000) */
	cb_pattern(nw, 3000, 1000, 0x02);
	put_record(c->dir, 2, 10, oid, 1000, nw, 3000, -1);
	/* slot 0: torn (one data byte wrong), seq 11, [20000, +4000) */
	cb_pattern(nw, 4000, 20000, 0x03);
	put_record(c->dir, 0, 11, oid, 20000, nw, 4000, CHUNK_JREC_HDR + 1234);
	/* slot 1: complete but the caller says it is already reflected */
	cb_pattern(nw, 500, 30000, 0x04);
	put_record(c->dir, 1, 9, oid, 30000, nw, 500, -1);
	/* slot 3 (seq 13) and slot 6 (seq 12, beyond the 4 slots: a run
	 * with more slots) overlap: applied in seq order, 13 wins */
	cb_pattern(nw, 2000, 40000, 0x06);
	put_record(c->dir, 6, 12, oid, 40000, nw, 2000, -1);
	cb_pattern(nw, 1000, 40500, 0x07);
	put_record(c->dir, 3, 13, oid, 40500, nw, 1000, -1);
	/* the header's length field corrupted: torn */
	put_record(c->dir, 4, 14, oid, 0, nw, 100, 32);
	/* for an object that no longer exists: skipped */
	put_record(c->dir, 5, 8, gone, 0, nw, 100, -1);

	assert_int_equal(ct_open(c), 0);
	assert_int_equal(chunk_journal_max_seq(c->cs), 13);     /* torn seqs don't count */
	struct replay_ctx r = { .skip_seq = 9 };
	assert_int_equal(chunk_journal_replay(c->cs, r_need, r_applied, &r), 3);
	assert_int_equal(r.nneed, 5);
	const uint64_t want_need[] = { 8, 9, 10, 12, 13 };
	for (int i = 0; i < 5; i++)
		assert_true(r.need_seqs[i] == want_need[i]);
	assert_int_equal(r.napplied, 3);
	assert_true(r.applied_seqs[0] == 10 && r.applied_seqs[1] == 12 && r.applied_seqs[2] == 13);
	assert_int_equal(chunk_exists(c->cs, gone), 0);         /* not created by replay */

	assert_int_equal(chunk_read(c->cs, oid, 0, 65536, buf), 0);
	assert_pattern(buf, 1000, 0, 0x01);
	assert_pattern(buf + 1000, 3000, 1000, 0x02);           /* applied */
	assert_pattern(buf + 4000, 16000, 4000, 0x01);
	assert_pattern(buf + 20000, 4000, 20000, 0x01);         /* torn: old bytes */
	assert_pattern(buf + 24000, 6000, 24000, 0x01);
	assert_pattern(buf + 30000, 500, 30000, 0x01);          /* not needed */
	assert_pattern(buf + 30500, 9500, 30500, 0x01);
	assert_pattern(buf + 40000, 500, 40000, 0x06);          /* seq 12 */
	assert_pattern(buf + 40500, 1000, 40500, 0x07);         /* seq 13 over it */
	assert_pattern(buf + 41500, 500, 41500, 0x06);
	assert_pattern(buf + 42000, 65536 - 42000, 42000, 0x01);
	ct_close(c);

	/* slots are cleared and the extra one removed */
	char p6[256];
	snprintf(p6, sizeof(p6), "%s/journal/slot-0006", c->dir);
	assert_int_equal(access(p6, F_OK), -1);
	assert_int_equal(ct_open(c), 0);
	assert_int_equal(chunk_journal_max_seq(c->cs), 0);
	struct replay_ctx r2 = { .skip_seq = 0 };
	assert_int_equal(chunk_journal_replay(c->cs, r_need, r_applied, &r2), 0);
	assert_int_equal(r2.nneed, 0);

	/* records written by chunk_write itself are found after a reopen */
	cb_pattern(nw, 777, 100, 0x08);
	assert_int_equal(chunk_write(c->cs, oid, 50, 100, 777, nw), 0);
	ct_close(c);
	assert_int_equal(ct_open(c), 0);
	assert_int_equal(chunk_journal_max_seq(c->cs), 50);
	struct replay_ctx r3 = { .skip_seq = 50 };
	assert_int_equal(chunk_journal_replay(c->cs, r_need, r_applied, &r3), 0);
	assert_int_equal(r3.nneed, 1);
	free(old);
	free(nw);
	free(buf);
	ct_free(c);
}

static void test_journal_garbage(void **state)
{
	struct ctest *c = ct_new(state, 2);
	assert_int_equal(ct_open(c), 0);
	const uint64_t oid = sd_data_oid(0x6, 0);
	uint8_t old[4096], buf[4096];
	cb_pattern(old, sizeof(old), 0, 0x01);
	assert_int_equal(chunk_create(c->cs, oid, OBJ, 0, 0, sizeof(old), old), 0);
	ct_close(c);

	/* random bytes, a short file and a record of another format */
	char path[256];
	snprintf(path, sizeof(path), "%s/journal/slot-0000", c->dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 5000; i++)
		fputc((i * 7919) & 0xff, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/journal/slot-0001", c->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("SMJR", f);
	fclose(f);
	uint8_t hdr[CHUNK_JREC_HDR + 16] = { 0 };
	chunk__jrec_encode(hdr, 5, oid, 0, hdr + CHUNK_JREC_HDR, 16);
	hdr[4] = CHUNK_JREC_FORMAT + 1;
	snprintf(path, sizeof(path), "%s/journal/slot-0002", c->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	fclose(f);

	assert_int_equal(ct_open(c), 0);
	assert_int_equal(chunk_journal_max_seq(c->cs), 0);
	struct replay_ctx r = { .skip_seq = 0 };
	assert_int_equal(chunk_journal_replay(c->cs, r_need, r_applied, &r), 0);
	assert_int_equal(r.nneed, 0);
	assert_int_equal(chunk_read(c->cs, oid, 0, sizeof(buf), buf), 0);
	assert_pattern(buf, sizeof(buf), 0, 0x01);
	ct_free(c);
}

/* More writers than journal slots: they wait for a slot, none is lost. */
#define W_THREADS 6
#define W_EACH 20

struct w_arg { struct chunk_store *cs; uint32_t tid; int fails; };

static void *w_thread(void *p)
{
	struct w_arg *a = p;
	uint8_t buf[8192];
	for (uint32_t i = 0; i < W_EACH; i++) {
		uint64_t off = (uint64_t)i * 8192;
		cb_pattern(buf, sizeof(buf), off, (uint8_t)(a->tid + 0x40));
		if (chunk_write(a->cs, sd_data_oid(0x7, a->tid), a->tid * 1000 + i + 1, off, sizeof(buf), buf))
			a->fails++;
	}
	return NULL;
}

static void test_concurrent_writes(void **state)
{
	struct ctest *c = ct_new(state, 2);
	assert_int_equal(ct_open(c), 0);
	for (uint32_t t = 0; t < W_THREADS; t++)
		assert_int_equal(chunk_create(c->cs, sd_data_oid(0x7, t), OBJ, 0, 0, 0, NULL), 0);
	pthread_t th[W_THREADS];
	struct w_arg a[W_THREADS];
	for (uint32_t t = 0; t < W_THREADS; t++) {
		a[t] = (struct w_arg){ .cs = c->cs, .tid = t };
		assert_int_equal(pthread_create(&th[t], NULL, w_thread, &a[t]), 0);
	}
	for (int t = 0; t < W_THREADS; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(a[t].fails, 0);
	}
	uint8_t *buf = malloc(W_EACH * 8192);
	assert_non_null(buf);
	for (uint32_t t = 0; t < W_THREADS; t++) {
		assert_int_equal(chunk_read(c->cs, sd_data_oid(0x7, t), 0, W_EACH * 8192, buf), 0);
		assert_pattern(buf, W_EACH * 8192, 0, (uint8_t)(t + 0x40));
	}
	free(buf);
	ct_free(c);
}

#define T(fn) { #fn, fn }

int main(void)
{
	const struct cb_test tests[] = {
		T(test_backend),
		T(test_create_read_write_remove),
		T(test_zero_past_eof),
		T(test_vdi_create_destroy),
		T(test_cow_create),
		T(test_journal_replay),
		T(test_journal_garbage),
		T(test_concurrent_writes),
	};
	return cb_run_both("chunk", tests, sizeof(tests) / sizeof(tests[0]));
}

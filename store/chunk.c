/*
 * chunk.c: object files and the two backends (chunk.h). The journal and
 * chunk_write live in journal.c.
 *
 * Paths are always relative to cs->objfd (DIR/obj) through the *at()
 * calls, so a moved or renamed data directory cannot send us elsewhere and
 * no path is built longer than "vvvvvv/.tmp-oooooooooooooooo-n".
 *
 * Backends differ in three places only: how a VDI directory is made and
 * removed (subvolume ioctls vs mkdir/unlink) and how chunk_create copies a
 * source (FICLONE vs a byte copy that keeps holes). Everything else is
 * plain POSIX on both.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/btrfs.h>
#include <linux/fs.h>
#include <linux/magic.h>

#include "sheepdog_proto.h"
#include "store/chunk_int.h"

#define COPY_BUF   (1u << 20)      /* byte-copy chunk */
#define HOLE_BLOCK 4096u           /* all-zero blocks of this size stay holes */
#define TMP_PREFIX ".tmp-"

static void vdi_name(char out[8], uint32_t vid)
{
	snprintf(out, 8, "%06" PRIx32, vid & SD_VID_MASK);
}

static void obj_path(char out[32], uint64_t oid)
{
	snprintf(out, 32, "%06" PRIx32 "/%016" PRIx64, sd_oid_vid(oid), oid);
}

int chunk__pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Reads up to len bytes; *got = bytes before EOF (the rest is zeroed). */
int chunk__pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	uint8_t *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	memset(p + done, 0, len - done);
	if (got)
		*got = done;
	return 0;
}

int chunk__obj_open(struct chunk_store *cs, uint64_t oid, int flags)
{
	char path[32];
	obj_path(path, oid);
	int fd = openat(cs->objfd, path, flags | O_CLOEXEC, 0644);
	return fd < 0 ? -errno : fd;
}

static int fsync_dirat(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) ? -errno : 0;
	close(fd);
	return r;
}

/* Leftover temp files of creates a crash interrupted: neither old nor new
 * object, just garbage. One pass over DIR/obj at open. */
static void sweep_tmp(struct chunk_store *cs)
{
	int fd = openat(cs->objfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) != 6)
			continue;
		int vfd = openat(cs->objfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (vfd < 0)
			continue;
		DIR *vd = fdopendir(vfd);
		if (!vd) {
			close(vfd);
			continue;
		}
		struct dirent *f;
		while ((f = readdir(vd)))
			if (!strncmp(f->d_name, TMP_PREFIX, strlen(TMP_PREFIX))) {
				chunk__log(cs, STORE_LOG_WARN, "chunk: removing interrupted create %s/%s",
					   e->d_name, f->d_name);
				unlinkat(dirfd(vd), f->d_name, 0);
			}
		closedir(vd);
	}
	closedir(d);
}

int chunk_open(struct chunk_store **out, const struct chunk_config *cfg)
{
	*out = NULL;
	if (!cfg->dir || !cfg->journal_slots || cfg->journal_slots > CHUNK_JSLOT_MAX)
		return -EINVAL;
	struct chunk_store *cs = calloc(1, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	cs->objfd = cs->jfd = -1;
	cs->log = cfg->log;
	cs->log_ctx = cfg->log_ctx;
	cs->pause_us = cfg->test_write_pause_us;
	int r = -ENOMEM;
	cs->dir = strdup(cfg->dir);
	if (!cs->dir)
		goto err;

	int dfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		chunk__log(cs, STORE_LOG_ERR, "chunk: open %s: %s", cfg->dir, strerror(errno));
		goto err;
	}
	int made = 0;
	if (mkdirat(dfd, "obj", 0755) == 0)
		made = 1;
	else if (errno != EEXIST)
		r = -errno;
	if (mkdirat(dfd, "journal", 0755) == 0)
		made = 1;
	else if (errno != EEXIST && !made)
		r = -errno;
	cs->objfd = openat(dfd, "obj", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cs->objfd >= 0)
		cs->jfd = openat(dfd, "journal", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cs->objfd < 0 || cs->jfd < 0) {
		r = -errno;
		chunk__log(cs, STORE_LOG_ERR, "chunk: open %s/obj or %s/journal: %s",
			   cfg->dir, cfg->dir, strerror(errno));
		close(dfd);
		goto err;
	}
	if (made && fsync(dfd)) {
		r = -errno;
		close(dfd);
		goto err;
	}
	close(dfd);

	struct statfs sfs;
	if (fstatfs(cs->objfd, &sfs)) {
		r = -errno;
		goto err;
	}
	int on_btrfs = sfs.f_type == BTRFS_SUPER_MAGIC;
	cs->btrfs = on_btrfs && !cfg->force_plain;
	if (cs->btrfs)
		chunk__log(cs, STORE_LOG_INFO,
			   "chunk: btrfs backend in %s/obj (subvolume per VDI, reflink copies)", cfg->dir);
	else
		chunk__log(cs, STORE_LOG_INFO,
			   "chunk: plain backend in %s/obj (directory per VDI, byte copies)%s", cfg->dir,
			   on_btrfs ? "; btrfs detected but plain forced" : "");

	sweep_tmp(cs);
	r = chunk__journal_open(cs, cfg->journal_slots);
	if (r) {
		chunk__log(cs, STORE_LOG_ERR, "chunk: journal in %s/journal: %s", cfg->dir, strerror(-r));
		goto err;
	}
	*out = cs;
	return 0;
err:
	if (cs->objfd >= 0)
		close(cs->objfd);
	if (cs->jfd >= 0)
		close(cs->jfd);
	free(cs->dir);
	free(cs);
	return r;
}

void chunk_close(struct chunk_store *cs)
{
	if (!cs)
		return;
	chunk__journal_close(cs);
	close(cs->objfd);
	close(cs->jfd);
	free(cs->dir);
	free(cs);
}

int chunk_is_btrfs(const struct chunk_store *cs)
{
	return cs->btrfs;
}

int chunk_vdi_create(struct chunk_store *cs, uint32_t vid)
{
	char name[8];
	vdi_name(name, vid);
	if (cs->btrfs) {
		struct btrfs_ioctl_vol_args a;
		memset(&a, 0, sizeof(a));
		a.fd = 0;
		snprintf(a.name, sizeof(a.name), "%s", name);
		if (ioctl(cs->objfd, BTRFS_IOC_SUBVOL_CREATE, &a)) {
			if (errno == EEXIST)
				return 0;
			int e = errno;
			chunk__log(cs, STORE_LOG_ERR, "chunk: creating subvolume obj/%s: %s", name, strerror(e));
			return -e;
		}
	} else if (mkdirat(cs->objfd, name, 0755)) {
		if (errno == EEXIST)
			return 0;
		return -errno;
	}
	return fsync(cs->objfd) ? -errno : 0;
}

int chunk_vdi_exists(struct chunk_store *cs, uint32_t vid)
{
	char name[8];
	vdi_name(name, vid);
	struct stat sb;
	return fstatat(cs->objfd, name, &sb, 0) == 0 && S_ISDIR(sb.st_mode);
}

/* Removes everything below pfd/name and name itself. depth guards
 * against a hostile tree; ours is one level deep. */
static int remove_tree(int pfd, const char *name, int depth)
{
	if (depth > 8)
		return -ELOOP;
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return -e;
	}
	int r = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0 || errno == ENOENT)
			continue;
		int rr = (errno == EISDIR || errno == EPERM) ? remove_tree(dirfd(d), e->d_name, depth + 1)
							     : -errno;
		if (rr && !r)
			r = rr;
	}
	closedir(d);
	if (!r && unlinkat(pfd, name, AT_REMOVEDIR) && errno != ENOENT)
		r = -errno;
	return r;
}

int chunk_vdi_destroy(struct chunk_store *cs, uint32_t vid)
{
	char name[8];
	vdi_name(name, vid);
	struct stat sb;
	if (fstatat(cs->objfd, name, &sb, AT_SYMLINK_NOFOLLOW)) {
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	int r = 1;
	/* inode 256 = root of a subvolume; a plain directory (made with
	 * force_plain earlier) takes the unlink path */
	if (cs->btrfs && sb.st_ino == 256) {
		struct btrfs_ioctl_vol_args a;
		memset(&a, 0, sizeof(a));
		snprintf(a.name, sizeof(a.name), "%s", name);
		if (ioctl(cs->objfd, BTRFS_IOC_SNAP_DESTROY, &a) == 0)
			r = 0;
		else if (errno == ENOENT)
			return 0;
		else if (errno != EPERM && errno != EACCES)
			r = -errno;
		else
			chunk__log(cs, STORE_LOG_WARN,
				   "chunk: cannot delete subvolume obj/%s (%s; needs root or "
				   "user_subvol_rm_allowed); removing its files instead", name, strerror(errno));
	}
	if (r == 1)
		r = remove_tree(cs->objfd, name, 0);
	if (r) {
		chunk__log(cs, STORE_LOG_ERR, "chunk: removing obj/%s: %s", name, strerror(-r));
		return r;
	}
	return fsync(cs->objfd) ? -errno : 0;
}

int chunk_exists(struct chunk_store *cs, uint64_t oid)
{
	char path[32];
	obj_path(path, oid);
	struct stat sb;
	if (fstatat(cs->objfd, path, &sb, 0) == 0)
		return S_ISREG(sb.st_mode) ? 1 : -EIO;
	return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
}

int chunk_read(struct chunk_store *cs, uint64_t oid, uint64_t off, size_t len, void *buf)
{
	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EINVAL;
	int fd = chunk__obj_open(cs, oid, O_RDONLY);
	if (fd < 0)
		return fd == -ENOTDIR ? -ENOENT : fd;
	int r = chunk__pread_all(fd, buf, len, off, NULL);
	close(fd);
	return r;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Byte copy of src into dst (both at offset 0) up to limit bytes; blocks
 * of zeros are skipped so sparse sources stay sparse (dst is empty). */
static int copy_bytes(int src, int dst, uint64_t limit)
{
	uint8_t *buf = malloc(COPY_BUF);
	if (!buf)
		return -ENOMEM;
	int r = 0;
	for (uint64_t off = 0; off < limit;) {
		size_t want = limit - off < COPY_BUF ? (size_t)(limit - off) : COPY_BUF;
		size_t got;
		r = chunk__pread_all(src, buf, want, off, &got);
		if (r || got == 0)
			break;
		for (size_t b = 0; b < got; b += HOLE_BLOCK) {
			size_t n = got - b < HOLE_BLOCK ? got - b : HOLE_BLOCK;
			if (all_zero(buf + b, n))
				continue;
			r = chunk__pwrite_all(dst, buf + b, n, off + b);
			if (r)
				goto out;
		}
		off += got;
		if (got < want)
			break;
	}
out:
	free(buf);
	return r;
}

int chunk_create(struct chunk_store *cs, uint64_t oid, uint64_t obj_size, uint64_t src_oid,
		 uint64_t off, size_t len, const void *buf)
{
	if (obj_size > INT64_MAX || off > obj_size || len > obj_size - off)
		return -EINVAL;
	char vname[8], oname[20], tname[48];
	vdi_name(vname, sd_oid_vid(oid));
	snprintf(oname, sizeof(oname), "%016" PRIx64, oid);
	unsigned long n = atomic_fetch_add(&cs->tmp_seq, 1);
	snprintf(tname, sizeof(tname), "%s/" TMP_PREFIX "%s-%lu", vname, oname, n);

	int src = -1;
	if (src_oid) {
		src = chunk__obj_open(cs, src_oid, O_RDONLY);
		if (src < 0)
			return src == -ENOTDIR ? -ENOENT : src;
	}
	/* temp file in the object's own directory: same subvolume, so the
	 * rename is atomic and the reflink stays within one filesystem */
	int fd = openat(cs->objfd, tname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT) {
		int r = chunk_vdi_create(cs, sd_oid_vid(oid));
		if (r) {
			if (src >= 0)
				close(src);
			return r;
		}
		fd = openat(cs->objfd, tname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	}
	if (fd < 0) {
		int e = errno;
		if (src >= 0)
			close(src);
		return -e;
	}
	int r = 0;
	if (src >= 0) {
		if (cs->btrfs && ioctl(fd, FICLONE, src) == 0) {
			/* whole file shared; truncate below fixes the size */
		} else {
			if (cs->btrfs)
				chunk__log(cs, STORE_LOG_WARN, "chunk: reflink %016" PRIx64 " -> %016" PRIx64
					   " failed (%s); copying bytes", src_oid, oid, strerror(errno));
			r = copy_bytes(src, fd, obj_size);
		}
		close(src);
	}
	if (!r && ftruncate(fd, (off_t)obj_size))
		r = -errno;
	if (!r && len)
		r = chunk__pwrite_all(fd, buf, len, off);
	if (!r && fsync(fd))
		r = -errno;
	close(fd);
	char path[32];
	snprintf(path, sizeof(path), "%s/%s", vname, oname);
	if (!r && renameat(cs->objfd, tname, cs->objfd, path))
		r = -errno;
	if (r) {
		unlinkat(cs->objfd, tname, 0);
		return r;
	}
	return fsync_dirat(cs->objfd, vname);
}

int chunk_remove(struct chunk_store *cs, uint64_t oid)
{
	char path[32], vname[8];
	obj_path(path, oid);
	if (unlinkat(cs->objfd, path, 0)) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return -errno;
	}
	vdi_name(vname, sd_oid_vid(oid));
	return fsync_dirat(cs->objfd, vname);
}

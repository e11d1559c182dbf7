/*
 * cmd_vdi_io.c: data transfer commands: vdi read / write (stdin, stdout)
 * and vdi import / export (raw image files, sparse-aware). All I/O goes
 * through sdclient's struct sd_disk, i.e. QEMU's request sequences (§7.3,
 * §7.4), in batches of whole objects so each call pipelines many requests.
 */
#include "tools/sheeptool.h"
#include "tools/units.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IO_BATCH_OBJS 8         /* objects per sd_disk call: 32 MiB at 4 MiB */
#define EXPORT_HOLE_BLOCK 65536 /* export: zero blocks this big become holes */

/* ------------------------------------------------------------ progress */

/* A bar on stderr with rate and time left, only when stderr is a terminal. */
struct progress {
	int on;
	const char *what;
	uint64_t total;
	double start, last;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_init(struct progress *p, const char *what, uint64_t total)
{
	p->on = isatty(STDERR_FILENO);
	p->what = what;
	p->total = total;
	p->start = p->last = now_s();
}

static void progress_show(struct progress *p, uint64_t done, int final)
{
	double t = now_s(), el = t - p->start, rate;
	char r[UNITS_BUF], eta[32];
	int pct, bars;

	if (!p->on || (!final && t - p->last < 0.2))
		return;
	p->last = t;
	pct = p->total ? (int)(done * 100 / p->total) : 100;
	bars = pct * 30 / 100;
	rate = el > 0 ? (double)done / el : 0;
	units_format_size((uint64_t)rate, r, sizeof(r));
	if (final)
		snprintf(eta, sizeof(eta), "in %.1fs", el);
	else if (rate > 0)
		snprintf(eta, sizeof(eta), "ETA %.0fs", (double)(p->total - done) / rate);
	else
		snprintf(eta, sizeof(eta), "ETA ?");
	fprintf(stderr, "\r%s [%.*s%*s] %3d%% %s/s %s   ", p->what, bars,
		"==============================", 30 - bars, "", pct, r, eta);
	if (final)
		fputc('\n', stderr);
}

/* ------------------------------------------------------------ helpers */

static int full_read(int fd, void *buf, size_t len, size_t *got)
{
	size_t n = 0;

	*got = 0;

	while (n < len) {
		ssize_t r = read(fd, (char *)buf + n, len - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*got = n;
	return 0;
}

static int full_pread(int fd, void *buf, size_t len, uint64_t off)
{
	size_t n = 0;

	while (n < len) {
		ssize_t r = pread(fd, (char *)buf + n, len - n, (off_t)(off + n));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;        /* file shrank under us */
		n += (size_t)r;
	}
	return 0;
}

static int full_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t n = 0;

	while (n < len) {
		ssize_t r = off == UINT64_MAX ? write(fd, (const char *)buf + n, len - n)
					      : pwrite(fd, (const char *)buf + n, len - n, (off_t)(off + n));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		n += (size_t)r;
	}
	return 0;
}

static int is_zero(const uint8_t *p, size_t n)
{
	/* memcmp against itself shifted by one: zero iff first byte 0 and all equal */
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Optional OFFSET/LEN argument; 0 or an exit code. */
static int parse_pos(struct st_ctx *ctx, int i, const char *what, uint64_t *v)
{
	if (ctx->argc <= i)
		return 0;
	return st_parse_size(ctx, what, ctx->argv[i], v);
}

/* --------------------------------------------------------- read / write */

int cmd_vdi_read(struct st_ctx *ctx)
{
	const char *name = ctx->argv[0];
	struct sd_disk *d;
	uint64_t off = 0, len = UINT64_MAX, size, step;
	uint8_t *buf;
	int ret;

	if ((ret = st_check_name(ctx, "NAME", name)) || (ret = parse_pos(ctx, 1, "OFFSET", &off)) ||
	    (ret = parse_pos(ctx, 2, "LEN", &len)))
		return ret;
	if ((ret = st_disk_open(ctx, name, ctx->snapshot, &d)))
		return ret;
	size = sd_disk_size(d);
	if (off > size || (len != UINT64_MAX && len > size - off)) {
		sd_disk_close(d);
		return st_usage(ctx, "range %s+%s is beyond the end of VDI '%s' (%llu bytes)",
				ctx->argv[1], ctx->argc > 2 ? ctx->argv[2] : "0", name,
				(unsigned long long)size);
	}
	if (len == UINT64_MAX)
		len = size - off;
	step = (uint64_t)sd_disk_obj_size(d) * IO_BATCH_OBJS;
	buf = malloc(step);
	if (!buf) {
		sd_disk_close(d);
		return st_error(ST_EXIT_ERROR, "out of memory");
	}
	ret = 0;
	while (len) {
		/* stop at object-batch boundaries so requests stay aligned */
		uint64_t n = step - off % step;

		n = n < len ? n : len;
		ret = sd_disk_read(d, off, (size_t)n, buf);
		if (ret) {
			st_fail(ctx, ret, "vdi read: reading VDI '%s' at offset %llu failed", name,
				(unsigned long long)off);
			break;
		}
		ret = full_pwrite(STDOUT_FILENO, buf, (size_t)n, UINT64_MAX);
		if (ret) {
			st_error(ST_EXIT_ERROR, "vdi read: cannot write to stdout: %s", strerror(-ret));
			ret = -EIO;
			break;
		}
		off += n;
		len -= n;
	}
	free(buf);
	sd_disk_close(d);
	return ret > 0 ? st_exit_code(ret) : ret < 0 ? ST_EXIT_ERROR : 0;
}

int cmd_vdi_write(struct st_ctx *ctx)
{
	const char *name = ctx->argv[0];
	struct sd_disk *d;
	struct stat st;
	uint64_t off = 0, size, step, total = 0;
	uint8_t *buf;
	int ret, code = 0;

	if ((ret = st_check_name(ctx, "NAME", name)) || (ret = parse_pos(ctx, 1, "OFFSET", &off)))
		return ret;
	if ((ret = st_disk_open(ctx, name, NULL, &d)))
		return ret;
	size = sd_disk_size(d);
	/* a file on stdin can be checked before anything is written */
	if (off > size || (!fstat(STDIN_FILENO, &st) && S_ISREG(st.st_mode) &&
			   (uint64_t)st.st_size > size - off)) {
		sd_disk_close(d);
		return st_usage(ctx, "the input does not fit in VDI '%s' (%llu bytes) at offset %llu: "
				"resize it with 'sheeptool vdi resize'", name, (unsigned long long)size,
				(unsigned long long)off);
	}
	step = (uint64_t)sd_disk_obj_size(d) * IO_BATCH_OBJS;
	buf = malloc(step);
	if (!buf) {
		sd_disk_close(d);
		return st_error(ST_EXIT_ERROR, "out of memory");
	}
	for (;;) {
		size_t got = 0;
		uint64_t want = step - off % step;

		ret = full_read(STDIN_FILENO, buf, (size_t)want, &got);
		if (ret) {
			code = st_error(ST_EXIT_ERROR, "vdi write: cannot read stdin: %s", strerror(-ret));
			break;
		}
		if (got == 0)
			break;
		if (got > size - off) {
			code = st_error(ST_EXIT_ERROR, "vdi write: the input runs past the end of VDI '%s' "
					"(%llu bytes); %llu bytes were written: resize it with "
					"'sheeptool vdi resize'", name, (unsigned long long)size,
					(unsigned long long)total);
			break;
		}
		ret = sd_disk_write(d, off, got, buf);
		if (ret) {
			code = st_fail(ctx, ret, "vdi write: writing VDI '%s' at offset %llu failed "
				       "(%llu bytes were written before)", name, (unsigned long long)off,
				       (unsigned long long)total);
			break;
		}
		off += got;
		total += got;
		if (got < want)
			break;
	}
	free(buf);
	ret = sd_disk_close(d);         /* flushes: the data is durable after this */
	if (ret && !code)
		code = st_fail(ctx, ret, "vdi write: flushing VDI '%s' failed", name);
	return code;
}

/* --------------------------------------------------------- import / export */

/* First offset >= off holding data, or end if none (SEEK_DATA; files
 * without hole support report everything as data). */
static uint64_t next_data(int fd, uint64_t off, uint64_t end)
{
	off_t r = lseek(fd, (off_t)off, SEEK_DATA);

	if (r < 0)
		return errno == ENXIO ? end : off;
	return (uint64_t)r < end ? (uint64_t)r : end;
}

int cmd_vdi_import(struct st_ctx *ctx)
{
	const char *name = ctx->argv[0], *path = ctx->argv[1];
	struct sd_vdi_new_args na = { .name = name };
	struct sd_client *c;
	struct sd_disk *d;
	struct progress pg;
	uint64_t fsize, vsize, osz, off, stored = 0;
	uint8_t *buf;
	uint8_t shift = SD_DEFAULT_SHIFT;
	uint32_t vid;
	off_t end;
	int fd, ret, code = 0;

	if ((ret = st_check_name(ctx, "NAME", name)))
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return st_error(errno == ENOENT ? ST_EXIT_NOT_FOUND : ST_EXIT_ERROR,
				"vdi import: cannot open '%s': %s", path, strerror(errno));
	end = lseek(fd, 0, SEEK_END);       /* works for block devices too */
	if (end <= 0) {
		close(fd);
		return st_error(ST_EXIT_ERROR, "vdi import: '%s' is %s: nothing to import", path,
				end == 0 ? "empty" : "not seekable");
	}
	fsize = (uint64_t)end;
	vsize = (fsize + 511) & ~UINT64_C(511);
	if ((ret = st_connect(ctx, &c))) {
		close(fd);
		return ret;
	}
	if (sd_cluster_default(c, NULL, NULL, &shift) || shift < SD_MIN_SHIFT || shift > SD_MAX_SHIFT)
		shift = SD_DEFAULT_SHIFT;
	if (vsize > (UINT64_C(1) << shift) * SD_MAX_DATA_OBJS) {
		sd_client_close(c);
		close(fd);
		return st_error(ST_EXIT_ERROR, "vdi import: '%s' (%llu bytes) is larger than the largest "
				"VDI (2^20 objects)", path, (unsigned long long)fsize);
	}
	na.size = vsize;
	na.copies = (uint8_t)ctx->copies;
	na.block_size_shift = shift;
	ret = sd_vdi_new(c, &na, &vid);
	sd_client_close(c);
	if (ret) {
		close(fd);
		return st_fail(ctx, ret, "vdi import: cannot create VDI '%s'", name);
	}
	if ((ret = st_disk_open(ctx, name, NULL, &d))) {
		close(fd);
		return ret;
	}
	osz = sd_disk_obj_size(d);
	buf = malloc(osz * IO_BATCH_OBJS);
	if (!buf) {
		code = st_error(ST_EXIT_ERROR, "out of memory");
		goto out;
	}
	progress_init(&pg, "import", fsize);
	for (off = 0; off < fsize;) {
		uint64_t n = osz * IO_BATCH_OBJS, run_start = 0, run_len = 0;

		n = n < fsize - off ? n : fsize - off;
		/* holes are never read: skip straight to the next data */
		uint64_t data = next_data(fd, off, off + n);

		if (data >= off + n) {
			off += n;
			progress_show(&pg, off, 0);
			continue;
		}
		ret = full_pread(fd, buf, (size_t)n, off);
		if (ret) {
			code = st_error(ST_EXIT_ERROR, "vdi import: reading '%s' at offset %llu failed: %s",
					path, (unsigned long long)off, strerror(-ret));
			goto out;
		}
		/* write runs of non-zero objects; all-zero objects are not stored.
		 * o == n closes the last run. */
		for (uint64_t o = 0;; o += osz) {
			uint64_t len = o < n ? (n - o < osz ? n - o : osz) : 0;

			if (len && !is_zero(buf + o, (size_t)len)) {
				if (!run_len)
					run_start = o;
				run_len += len;
				continue;
			}
			if (run_len) {
				ret = sd_disk_write(d, off + run_start, (size_t)run_len, buf + run_start);
				if (ret) {
					code = st_fail(ctx, ret, "vdi import: writing VDI '%s' at offset %llu "
						       "failed", name, (unsigned long long)(off + run_start));
					goto out;
				}
				stored += run_len;
				run_len = 0;
			}
			if (!len)
				break;
		}
		off += n;
		progress_show(&pg, off, 0);
	}
	progress_show(&pg, fsize, 1);
out:
	free(buf);
	close(fd);
	ret = sd_disk_close(d);
	if (ret && !code)
		code = st_fail(ctx, ret, "vdi import: flushing VDI '%s' failed", name);
	if (code) {
		fprintf(stderr, "sheeptool: VDI '%s' is incomplete: delete it with 'sheeptool vdi delete %s'"
			" and import again\n", name, name);
		return code;
	}
	{
		char s1[UNITS_BUF], s2[UNITS_BUF];

		printf("imported '%s' into VDI '%s' (vid %06x): %s, %s stored\n", path, name, vid,
		       units_format_size(vsize, s1, sizeof(s1)), units_format_size(stored, s2, sizeof(s2)));
	}
	return fflush(stdout) ? ST_EXIT_ERROR : 0;
}

int cmd_vdi_export(struct st_ctx *ctx)
{
	const char *name = ctx->argv[0], *path = ctx->argv[1];
	struct sd_disk *d;
	struct progress pg;
	struct stat st;
	uint64_t size = 0, osz, off;
	uint8_t *buf = NULL;
	int fd, ret, code = 0, regular, created;

	if ((ret = st_check_name(ctx, "NAME", name)))
		return ret;
	if ((ret = st_disk_open(ctx, name, ctx->snapshot, &d)))
		return ret;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (ctx->force ? 0 : O_EXCL), 0644);
	if (fd < 0) {
		code = errno;
		sd_disk_close(d);
		if (code == EEXIST)
			return st_error(ST_EXIT_ERROR, "vdi export: '%s' exists: remove it, or pass --force "
					"to overwrite it", path);
		return st_error(ST_EXIT_ERROR, "vdi export: cannot create '%s': %s", path, strerror(code));
	}
	created = !ctx->force;
	regular = !fstat(fd, &st) && S_ISREG(st.st_mode);
	/* a regular file starts empty so that skipped ranges are holes;
	 * devices get every byte written */
	if (regular && ftruncate(fd, 0)) {
		code = st_error(ST_EXIT_ERROR, "vdi export: cannot truncate '%s': %s", path, strerror(errno));
		goto out;
	}
	size = sd_disk_size(d);
	osz = sd_disk_obj_size(d);
	buf = malloc(osz * IO_BATCH_OBJS);
	if (!buf) {
		code = st_error(ST_EXIT_ERROR, "out of memory");
		goto out;
	}
	progress_init(&pg, "export", size);
	for (off = 0; off < size;) {
		uint64_t n = osz * IO_BATCH_OBJS, idx = off / osz, alloc = 0;

		n = n < size - off ? n : size - off;
		for (uint64_t i = idx; i * osz < off + n; i++)
			alloc |= sd_inode_slot(sd_disk_inode(d), (uint32_t)i);
		if (alloc) {
			ret = sd_disk_read(d, off, (size_t)n, buf);
			if (ret) {
				code = st_fail(ctx, ret, "vdi export: reading VDI '%s' at offset %llu failed",
					       name, (unsigned long long)off);
				goto out;
			}
		} else {
			memset(buf, 0, (size_t)n);
		}
		/* zero blocks become holes; runs of data are written together */
		for (uint64_t o = 0, run = 0, run_len = 0;; o += EXPORT_HOLE_BLOCK) {
			uint64_t len = o < n ? (n - o < EXPORT_HOLE_BLOCK ? n - o : EXPORT_HOLE_BLOCK) : 0;

			if (len && !(regular && is_zero(buf + o, (size_t)len))) {
				if (!run_len)
					run = o;
				run_len += len;
				continue;
			}
			if (run_len) {
				ret = full_pwrite(fd, buf + run, (size_t)run_len, off + run);
				if (ret) {
					code = st_error(ST_EXIT_ERROR, "vdi export: writing '%s' at offset %llu "
							"failed: %s", path, (unsigned long long)(off + run),
							strerror(-ret));
					goto out;
				}
				run_len = 0;
			}
			if (!len)
				break;
		}
		off += n;
		progress_show(&pg, off, 0);
	}
	if (regular && ftruncate(fd, (off_t)size)) {
		code = st_error(ST_EXIT_ERROR, "vdi export: cannot set the size of '%s': %s", path,
				strerror(errno));
		goto out;
	}
	if (fsync(fd)) {
		code = st_error(ST_EXIT_ERROR, "vdi export: cannot sync '%s': %s", path, strerror(errno));
		goto out;
	}
	progress_show(&pg, size, 1);
out:
	free(buf);
	if (close(fd) && !code)
		code = st_error(ST_EXIT_ERROR, "vdi export: cannot close '%s': %s", path, strerror(errno));
	sd_disk_close(d);
	if (code) {
		if (created && regular)
			unlink(path);       /* no half-written image left behind */
		return code;
	}
	{
		char s1[UNITS_BUF];

		printf("exported VDI '%s' to '%s' (%s)\n", name, path, units_format_size(size, s1, sizeof(s1)));
	}
	return fflush(stdout) ? ST_EXIT_ERROR : 0;
}

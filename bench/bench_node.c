/*
 * bench_node.c: throughput of a running sheepnode next to a plain file in
 * the same directory, measured in one run.
 *
 *   bench_node (--port N [--host H] | --unix PATH) --file PATH
 *              [--size-mib 256] [--seconds 4] [--qd 16]
 *
 * Workloads, each on the node and on the file:
 *   seq write: 4 MiB writes, one at a time, over --size-mib (node: the
 *              client library's disk layer, i.e. QEMU's create + index
 *              update; file: pwrite + fdatasync, since the node
 *              acknowledges only durable writes);
 *   seq read:  4 MiB reads over the same range (file: O_DIRECT, or after
 *              posix_fadvise(DONTNEED) when O_DIRECT is refused);
 *   rand write 4 KiB at queue depth --qd for --seconds (node: pipelined on
 *              one connection; file: --qd threads, pwrite + fdatasync);
 *   rand read  4 KiB, same shape (file: O_DIRECT or DONTNEED first).
 * Benchmarks only: no assertion on the numbers. Exit 1 on any I/O error.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/sdclient.h"

#define SEQ_BLOCK (4u << 20)
#define RND_BLOCK 4096u
#define MAX_QD 256

struct opts {
	struct sd_addr addr;
	const char *file;
	uint64_t size;          /* bytes */
	double seconds;
	unsigned qd;
};

struct result {
	double node, file;      /* MB/s or IOPS */
	const char *unit;
	const char *name;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: per-thread, seeded, no global state */
static uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static void die(const char *what, int ret)
{
	fprintf(stderr, "bench_node: %s: %s\n", what, sd_client_strerror(ret));
	exit(1);
}

static void *aligned(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, len))
		die("posix_memalign", -ENOMEM);
	memset(p, 0x5c, len);
	return p;
}

/* ------------------------------------------------------------------ node */

static double node_seq(struct sd_disk *d, uint64_t size, int write)
{
	uint8_t *buf = aligned(SEQ_BLOCK);
	double t0 = now_s();

	for (uint64_t off = 0; off < size; off += SEQ_BLOCK) {
		int ret = write ? sd_disk_write(d, off, SEQ_BLOCK, buf)
				: sd_disk_read(d, off, SEQ_BLOCK, buf);

		if (ret)
			die(write ? "node seq write" : "node seq read", ret);
	}
	double dt = now_s() - t0;
	free(buf);
	return (double)size / dt / 1e6;
}

static int lookup_any(void *ctx, const struct sd_rsp *rsp, void **buf, size_t *cap)
{
	uint8_t *sink = ctx;

	*buf = sink;
	*cap = rsp->result == 0 ? RND_BLOCK : 0;
	return 0;
}

/* Random 4 KiB requests on one connection, qd in flight. All objects of
 * [0, size) are owned by vid (written by the sequential pass). */
static double node_rand(const struct opts *o, uint32_t vid, int write)
{
	struct sd_client *c;
	uint8_t *wbuf = aligned(RND_BLOCK), *sink = aligned(RND_BLOCK);
	uint64_t seed = write ? 0x1234567 : 0x7654321, done = 0, sent = 0;
	uint64_t nblocks = o->size / RND_BLOCK;
	double t0, end;
	int ret = sd_client_connect(&c, &o->addr);

	if (ret)
		die("connect", ret);
	t0 = now_s();
	end = t0 + o->seconds;
	for (;;) {
		int stop = now_s() >= end;

		while (!stop && sent - done < o->qd) {
			uint64_t blk = rnd_next(&seed) % nblocks;
			uint64_t pos = blk * RND_BLOCK;
			struct sd_req r = { .opcode = write ? SD_OP_WRITE_OBJ : SD_OP_READ_OBJ,
					    .flags = SD_FLAG_CMD_CACHE | (write ? SD_FLAG_CMD_WRITE : 0),
					    .data_length = RND_BLOCK };

			r.id = (uint32_t)sent;
			r.obj.oid = sd_data_oid(vid, (uint32_t)(pos / SEQ_BLOCK));
			r.obj.offset = pos % SEQ_BLOCK;
			r.obj.copies = 1;
			ret = sd_client_send(c, &r, write ? wbuf : NULL);
			if (ret)
				die("node send", ret);
			sent++;
		}
		if (done == sent)
			break;
		struct sd_rsp rsp;

		ret = sd_client_recv_reply(c, &rsp, lookup_any, sink);
		if (ret)
			die("node recv", ret);
		if (rsp.result)
			die(write ? "node rand write" : "node rand read", (int)rsp.result);
		done++;
	}
	double dt = now_s() - t0;
	sd_client_close(c);
	free(wbuf);
	free(sink);
	return (double)done / dt;
}

/* ------------------------------------------------------------------ file */

static int file_open_read(const char *path, int *direct)
{
	int fd = open(path, O_RDONLY | O_DIRECT);

	*direct = fd >= 0;
	if (fd < 0) {
		fd = open(path, O_RDONLY);
		if (fd < 0)
			die(path, -errno);
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	}
	return fd;
}

static double file_seq(const struct opts *o, int write, int *direct)
{
	uint8_t *buf = aligned(SEQ_BLOCK);
	int fd = write ? open(o->file, O_RDWR | O_CREAT | O_TRUNC, 0644)
		       : file_open_read(o->file, direct);
	double t0 = now_s();

	if (fd < 0)
		die(o->file, -errno);
	for (uint64_t off = 0; off < o->size; off += SEQ_BLOCK) {
		ssize_t n = write ? pwrite(fd, buf, SEQ_BLOCK, (off_t)off)
				  : pread(fd, buf, SEQ_BLOCK, (off_t)off);

		if (n != (ssize_t)SEQ_BLOCK)
			die(write ? "file seq write" : "file seq read", n < 0 ? -errno : -EIO);
		if (write && fdatasync(fd))
			die("fdatasync", -errno);
	}
	double dt = now_s() - t0;
	close(fd);
	free(buf);
	return (double)o->size / dt / 1e6;
}

struct file_worker {
	const struct opts *o;
	int fd, write;
	double end;
	uint64_t seed, ops;
	int err;
};

static void *file_worker_run(void *arg)
{
	struct file_worker *w = arg;
	uint8_t *buf = aligned(RND_BLOCK);
	uint64_t nblocks = w->o->size / RND_BLOCK;

	while (now_s() < w->end) {
		off_t pos = (off_t)(rnd_next(&w->seed) % nblocks * RND_BLOCK);
		ssize_t n = w->write ? pwrite(w->fd, buf, RND_BLOCK, pos)
				     : pread(w->fd, buf, RND_BLOCK, pos);

		if (n != (ssize_t)RND_BLOCK || (w->write && fdatasync(w->fd))) {
			w->err = errno ? errno : EIO;
			break;
		}
		w->ops++;
	}
	free(buf);
	return NULL;
}

static double file_rand(const struct opts *o, int write, int *direct)
{
	struct file_worker w[MAX_QD];
	pthread_t th[MAX_QD];
	int fd = write ? open(o->file, O_RDWR) : file_open_read(o->file, direct);
	uint64_t ops = 0;
	double t0 = now_s();

	if (fd < 0)
		die(o->file, -errno);
	for (unsigned i = 0; i < o->qd; i++) {
		w[i] = (struct file_worker){ .o = o, .fd = fd, .write = write,
					     .end = t0 + o->seconds, .seed = 0x9e37 + i * 7919 };
		if (pthread_create(&th[i], NULL, file_worker_run, &w[i]))
			die("pthread_create", -EAGAIN);
	}
	for (unsigned i = 0; i < o->qd; i++) {
		pthread_join(th[i], NULL);
		if (w[i].err)
			die(write ? "file rand write" : "file rand read", -w[i].err);
		ops += w[i].ops;
	}
	double dt = now_s() - t0;
	close(fd);
	return (double)ops / dt;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr, "usage: bench_node (--port N [--host H] | --unix PATH) --file PATH "
		"[--size-mib N] [--seconds S] [--qd N]\n");
	exit(2);
}

static unsigned long num_arg(const char *flag, const char *v, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || !*v || x < lo || x > hi || *v == '-') {
		fprintf(stderr, "bench_node: invalid value '%s' for %s (expected %lu-%lu)\n",
			v, flag, lo, hi);
		exit(2);
	}
	return x;
}

int main(int argc, char **argv)
{
	struct opts o = { .size = 256ull << 20, .seconds = 4, .qd = 16 };
	const char *host = "127.0.0.1", *unix_path = NULL;
	unsigned port = 0;
	struct sd_client *c;
	struct sd_disk *d;
	struct sd_vdi_new_args na = { .name = "bench" };
	struct result res[4];
	int direct_seq = 1, direct_rnd = 1, ret;

	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (!strcmp(f, "--port")) port = (unsigned)num_arg(f, v, 1, 65535);
		else if (!strcmp(f, "--host")) host = v;
		else if (!strcmp(f, "--unix")) unix_path = v;
		else if (!strcmp(f, "--file")) o.file = v;
		else if (!strcmp(f, "--size-mib")) o.size = num_arg(f, v, 4, 65536) << 20;
		else if (!strcmp(f, "--seconds")) o.seconds = (double)num_arg(f, v, 1, 600);
		else if (!strcmp(f, "--qd")) o.qd = (unsigned)num_arg(f, v, 1, MAX_QD);
		else usage();
		i++;
	}
	if (!o.file || (!port && !unix_path))
		usage();
	o.size -= o.size % SEQ_BLOCK;
	ret = unix_path ? sd_addr_unix(&o.addr, unix_path) : sd_addr_tcp(&o.addr, host, port);
	if (ret)
		die("address", ret);

	printf("command:");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");

	ret = sd_client_connect(&c, &o.addr);
	if (ret)
		die("connect", ret);
	na.size = o.size;
	ret = sd_vdi_new(c, &na, NULL);
	sd_client_close(c);
	if (ret)
		die("NEW_VDI bench", ret);
	ret = sd_disk_open(&d, &o.addr, "bench", NULL, 0, 0);
	if (ret)
		die("open bench", ret);

	res[0] = (struct result){ .name = "seq write 4 MiB, QD1", .unit = "MB/s" };
	res[0].node = node_seq(d, o.size, 1);
	res[0].file = file_seq(&o, 1, NULL);
	res[1] = (struct result){ .name = "seq read 4 MiB, QD1", .unit = "MB/s" };
	res[1].node = node_seq(d, o.size, 0);
	res[1].file = file_seq(&o, 0, &direct_seq);
	res[2] = (struct result){ .name = "rand write 4 KiB", .unit = "IOPS" };
	res[2].node = node_rand(&o, sd_disk_vid(d), 1);
	res[2].file = file_rand(&o, 1, NULL);
	res[3] = (struct result){ .name = "rand read 4 KiB", .unit = "IOPS" };
	res[3].node = node_rand(&o, sd_disk_vid(d), 0);
	res[3].file = file_rand(&o, 0, &direct_rnd);
	ret = sd_disk_close(d);
	if (ret)
		die("close bench", ret);

	printf("size %llu MiB, random phases %.0f s each at QD %u "
	       "(node: one pipelined connection; file: %u threads)\n",
	       (unsigned long long)(o.size >> 20), o.seconds, o.qd, o.qd);
	printf("file writes: pwrite + fdatasync each; file reads: %s\n",
	       direct_seq && direct_rnd ? "O_DIRECT" : "after posix_fadvise(DONTNEED) (no O_DIRECT here)");
	printf("%-26s %14s %14s %8s\n", "workload", "sheepnode", "plain file", "ratio");
	for (int i = 0; i < 4; i++)
		printf("%-26s %9.1f %-4s %9.1f %-4s %8.2f\n", res[i].name, res[i].node, res[i].unit,
		       res[i].file, res[i].unit, res[i].file > 0 ? res[i].node / res[i].file : 0);
	unlink(o.file);
	return 0;
}

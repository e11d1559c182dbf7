/*
 * journal.c: the intent journal that makes chunk_write atomic (chunk.h).
 *
 * N slot files DIR/journal/slot-NNNN. A writer takes a free slot for the
 * length of one chunk_write, overwrites the slot from offset 0 with one
 * record (header + data, layout in chunk_int.h), fdatasyncs it, then writes
 * the object and fdatasyncs that, and frees the slot. The record is not
 * cleared afterwards: that would cost a third sync per write, and replay
 * does not need it, because the caller's need() compares the record's seq
 * with the version it committed for the object.
 *
 * A slot therefore holds at most one record, the last one written to it.
 * A crash while writing it leaves a record whose checksum fails (torn):
 * the object write had not started, so the old bytes are intact and the
 * record is ignored. A crash after the record is durable leaves the object
 * old, half written or new; replaying the record makes it new.
 *
 * Why slots and not one log: no log rotation or space reclaim, and N
 * writers proceed in parallel, each with its own fdatasync.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "sheepdog_proto.h"
#include "store/chunk_int.h"

#define JBUF (1u << 20)             /* checksum / replay copy chunk */

static void slot_name(char out[16], unsigned i)
{
	snprintf(out, 16, CHUNK_JSLOT_FMT, i % 10000);
}

/* "slot-NNNN" -> NNNN, or -1. */
static int slot_parse(const char *s)
{
	if (strncmp(s, "slot-", 5) || strlen(s) != 9)
		return -1;
	int v = 0;
	for (int i = 5; i < 9; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

void chunk__jrec_encode(uint8_t hdr[CHUNK_JREC_HDR], uint64_t seq, uint64_t oid,
			uint64_t off, const void *data, size_t len)
{
	sd_put32(hdr, CHUNK_JREC_MAGIC);
	sd_put32(hdr + 4, CHUNK_JREC_FORMAT);
	sd_put64(hdr + 8, seq);
	sd_put64(hdr + 16, oid);
	sd_put64(hdr + 24, off);
	sd_put64(hdr + 32, (uint64_t)len);
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, hdr, CHUNK_JREC_SUMOFF);
	if (len)
		crypto_generichash_update(&st, data, len);
	crypto_generichash_final(&st, hdr + CHUNK_JREC_SUMOFF, 32);
}

/* Checks the record in slot file fd: 1 and *rec filled if complete, 0 if
 * empty, torn or foreign, -errno on an I/O error. */
static int jrec_check(struct chunk_store *cs, int fd, unsigned slot, struct chunk_jrec *rec)
{
	struct stat sb;
	if (fstat(fd, &sb))
		return -errno;
	if (sb.st_size < CHUNK_JREC_HDR)
		return 0;
	uint8_t hdr[CHUNK_JREC_HDR];
	size_t got;
	int r = chunk__pread_all(fd, hdr, sizeof(hdr), 0, &got);
	if (r)
		return r;
	uint32_t magic = sd_get32(hdr), fmt = sd_get32(hdr + 4);
	uint64_t len = sd_get64(hdr + 32), off = sd_get64(hdr + 24);
	const char *why = NULL;
	if (magic != CHUNK_JREC_MAGIC)
		why = "magic";
	else if (fmt != CHUNK_JREC_FORMAT)
		why = "format";
	else if (len > (uint64_t)sb.st_size - CHUNK_JREC_HDR)
		why = "length";
	else if (off > INT64_MAX || len > INT64_MAX - off)
		why = "offset";
	if (why) {
		chunk__log(cs, STORE_LOG_WARN, "chunk: journal slot %u: bad record %s; ignored", slot, why);
		return 0;
	}
	uint8_t *buf = malloc(JBUF);
	if (!buf)
		return -ENOMEM;
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, hdr, CHUNK_JREC_SUMOFF);
	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < JBUF ? (size_t)(len - done) : JBUF;
		r = chunk__pread_all(fd, buf, n, CHUNK_JREC_HDR + done, NULL);
		if (r) {
			free(buf);
			return r;
		}
		crypto_generichash_update(&st, buf, n);
		done += n;
	}
	free(buf);
	uint8_t sum[32];
	crypto_generichash_final(&st, sum, sizeof(sum));
	if (sodium_memcmp(sum, hdr + CHUNK_JREC_SUMOFF, sizeof(sum))) {
		/* normal after a crash during the record write */
		chunk__log(cs, STORE_LOG_INFO, "chunk: journal slot %u: torn record (seq %" PRIu64
			   "); ignored", slot, sd_get64(hdr + 8));
		return 0;
	}
	rec->seq = sd_get64(hdr + 8);
	rec->oid = sd_get64(hdr + 16);
	rec->off = off;
	rec->len = len;
	rec->slot = slot;
	return 1;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct chunk_jrec *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int chunk__journal_open(struct chunk_store *cs, unsigned nslots)
{
	if (sodium_init() < 0)
		return -EIO;
	if (pthread_mutex_init(&cs->mu, NULL))
		return -ENOMEM;
	if (pthread_cond_init(&cs->cv, NULL)) {
		pthread_mutex_destroy(&cs->mu);
		return -ENOMEM;
	}
	cs->nslots = nslots;
	cs->nfiles = nslots;

	/* slot files left by a run with more slots still hold records */
	int dfd = openat(cs->jfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		int e = errno;
		if (dfd >= 0)
			close(dfd);
		chunk__journal_close(cs);
		return -e;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		int i = slot_parse(e->d_name);
		if (i >= 0 && i < CHUNK_JSLOT_MAX && (unsigned)i >= cs->nfiles)
			cs->nfiles = (unsigned)i + 1;
	}
	closedir(d);

	int r = -ENOMEM;
	cs->slot_fd = malloc(cs->nfiles * sizeof(*cs->slot_fd));
	cs->free_slots = malloc(nslots * sizeof(*cs->free_slots));
	cs->recs = calloc(cs->nfiles, sizeof(*cs->recs));
	if (!cs->slot_fd || !cs->free_slots || !cs->recs)
		goto err;
	for (unsigned i = 0; i < cs->nfiles; i++)
		cs->slot_fd[i] = -1;
	int created = 0;
	for (unsigned i = 0; i < cs->nfiles; i++) {
		char name[16];
		slot_name(name, i);
		int fd = openat(cs->jfd, name, O_RDWR | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && i < nslots) {
			fd = openat(cs->jfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
			created = 1;
		}
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			r = -errno;
			goto err;
		}
		cs->slot_fd[i] = fd;
		struct chunk_jrec rec;
		r = jrec_check(cs, fd, i, &rec);
		if (r < 0)
			goto err;
		if (r == 1) {
			cs->recs[cs->nrecs++] = rec;
			if (rec.seq > cs->max_seq)
				cs->max_seq = rec.seq;
		}
	}
	if (created && fsync(cs->jfd)) {
		r = -errno;
		goto err;
	}
	qsort(cs->recs, cs->nrecs, sizeof(*cs->recs), rec_cmp);
	for (unsigned i = 0; i < nslots; i++)
		cs->free_slots[i] = nslots - 1 - i;
	cs->nfree = nslots;
	return 0;
err:
	chunk__journal_close(cs);
	return r;
}

void chunk__journal_close(struct chunk_store *cs)
{
	if (cs->slot_fd)
		for (unsigned i = 0; i < cs->nfiles; i++)
			if (cs->slot_fd[i] >= 0)
				close(cs->slot_fd[i]);
	free(cs->slot_fd);
	free(cs->free_slots);
	free(cs->recs);
	cs->slot_fd = NULL;
	cs->free_slots = NULL;
	cs->recs = NULL;
	cs->nrecs = 0;
	pthread_cond_destroy(&cs->cv);
	pthread_mutex_destroy(&cs->mu);
}

uint64_t chunk_journal_max_seq(const struct chunk_store *cs)
{
	return cs->max_seq;
}

static unsigned slot_take(struct chunk_store *cs)
{
	pthread_mutex_lock(&cs->mu);
	while (!cs->nfree)
		pthread_cond_wait(&cs->cv, &cs->mu);
	unsigned s = cs->free_slots[--cs->nfree];
	pthread_mutex_unlock(&cs->mu);
	return s;
}

static void slot_give(struct chunk_store *cs, unsigned s)
{
	pthread_mutex_lock(&cs->mu);
	cs->free_slots[cs->nfree++] = s;
	pthread_cond_signal(&cs->cv);
	pthread_mutex_unlock(&cs->mu);
}

static int obj_write(struct chunk_store *cs, int fd, uint64_t off, size_t len, const void *buf)
{
	if (!cs->pause_us || len < 2)
		return chunk__pwrite_all(fd, buf, len, off);
	/* test hook: a crash between the halves leaves the range half new */
	size_t h = len / 2;
	int r = chunk__pwrite_all(fd, buf, h, off);
	if (r)
		return r;
	usleep(cs->pause_us);
	return chunk__pwrite_all(fd, (const uint8_t *)buf + h, len - h, off + h);
}

int chunk_write(struct chunk_store *cs, uint64_t oid, uint64_t seq,
		uint64_t off, size_t len, const void *buf)
{
	if (off > INT64_MAX || len > INT64_MAX - off || len > INT64_MAX - CHUNK_JREC_HDR)
		return -EINVAL;
	int fd = chunk__obj_open(cs, oid, O_RDWR);
	if (fd < 0)
		return fd == -ENOTDIR ? -ENOENT : fd;
	if (!len) {
		close(fd);
		return 0;
	}
	uint8_t hdr[CHUNK_JREC_HDR];
	chunk__jrec_encode(hdr, seq, oid, off, buf, len);

	unsigned s = slot_take(cs);
	int jfd = cs->slot_fd[s];
	int r = chunk__pwrite_all(jfd, hdr, sizeof(hdr), 0);
	if (!r)
		r = chunk__pwrite_all(jfd, buf, len, CHUNK_JREC_HDR);
	if (!r && fdatasync(jfd))
		r = -errno;
	if (r) {
		chunk__log(cs, STORE_LOG_ERR, "chunk: journal slot %u for %016" PRIx64 ": %s",
			   s, oid, strerror(-r));
		goto out;
	}
	r = obj_write(cs, fd, off, len, buf);
	if (!r && fdatasync(fd))
		r = -errno;
	if (r)
		chunk__log(cs, STORE_LOG_ERR, "chunk: writing %016" PRIx64 " after its journal record: %s",
			   oid, strerror(-r));
out:
	slot_give(cs, s);
	close(fd);
	return r;
}

/* Copies the data of rec from its slot file into the object file fd. */
static int jrec_apply(struct chunk_store *cs, const struct chunk_jrec *rec, int fd)
{
	uint8_t *buf = malloc(JBUF);
	if (!buf)
		return -ENOMEM;
	int r = 0;
	for (uint64_t done = 0; !r && done < rec->len;) {
		size_t n = rec->len - done < JBUF ? (size_t)(rec->len - done) : JBUF;
		r = chunk__pread_all(cs->slot_fd[rec->slot], buf, n, CHUNK_JREC_HDR + done, NULL);
		if (!r)
			r = chunk__pwrite_all(fd, buf, n, rec->off + done);
		done += n;
	}
	free(buf);
	if (!r && fdatasync(fd))
		r = -errno;
	return r;
}

int chunk_journal_replay(struct chunk_store *cs,
			 int (*need)(void *ctx, uint64_t oid, uint64_t seq),
			 int (*applied)(void *ctx, uint64_t oid, uint64_t seq),
			 void *ctx)
{
	int count = 0;
	for (size_t i = 0; i < cs->nrecs; i++) {
		const struct chunk_jrec *rec = &cs->recs[i];
		if (need(ctx, rec->oid, rec->seq) != 1)
			continue;
		int fd = chunk__obj_open(cs, rec->oid, O_RDWR);
		if (fd < 0) {
			if (fd == -ENOENT || fd == -ENOTDIR)
				continue;       /* removed since: nothing to repair */
			return fd;
		}
		int r = jrec_apply(cs, rec, fd);
		close(fd);
		if (r) {
			chunk__log(cs, STORE_LOG_ERR, "chunk: replaying seq %" PRIu64 " into %016" PRIx64
				   ": %s", rec->seq, rec->oid, strerror(-r));
			return r;
		}
		chunk__log(cs, STORE_LOG_INFO, "chunk: replayed journal seq %" PRIu64 " into %016" PRIx64
			   " [%" PRIu64 ", +%" PRIu64 ")", rec->seq, rec->oid, rec->off, rec->len);
		if (applied) {
			r = applied(ctx, rec->oid, rec->seq);
			if (r)
				return r < 0 ? r : -EIO;
		}
		count++;
	}

	/* everything needed is applied and recorded: forget the records */
	int unlinked = 0;
	for (unsigned i = 0; i < cs->nfiles; i++) {
		if (cs->slot_fd[i] < 0)
			continue;
		if (i >= cs->nslots) {
			char name[16];
			slot_name(name, i);
			close(cs->slot_fd[i]);
			cs->slot_fd[i] = -1;
			if (unlinkat(cs->jfd, name, 0) && errno != ENOENT)
				return -errno;
			unlinked = 1;
			continue;
		}
		if (ftruncate(cs->slot_fd[i], 0) || fdatasync(cs->slot_fd[i]))
			return -errno;
	}
	if (unlinked && fsync(cs->jfd))
		return -errno;
	cs->nrecs = 0;
	return count;
}

/*
 * test_chunk_crash.c: chunk_write is atomic across a crash.
 *
 * A child process opens the chunk store with test_write_pause_us set (the
 * object range is then written in two halves with a pause between) and
 * overwrites a range holding an old pattern with a new one. The parent
 * SIGKILLs it at a chosen point, reopens the store, replays the journal
 * (need() always says yes, as for an object whose committed version is
 * older) and checks: the range is entirely old or entirely new, and every
 * byte outside it is untouched. Kill points: before the write starts (the
 * record is not durable: must be old), in the pause after the first half
 * (must be new, and the object must have been half new before replay, which
 * shows the kill landed where intended), after the write returned (new),
 * and a few fixed delays that land wherever they land (old or new).
 *
 * SIGKILL loses no page cache, so this checks the protocol (record before
 * object, replay, torn-record rejection), not the disk's flush behaviour.
 * Runs on plain and, where it can be mounted, btrfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sheepdog_proto.h"
#include "chunk_test_util.h"

#define OBJ      (UINT64_C(4) << 20)
#define OLD_LEN  (512u << 10)         /* old pattern over [0, OLD_LEN) */
#define W_OFF    12345u               /* the overwritten range */
#define W_LEN    (256u << 10)
#define SEQ      77
#define OLD_TAG  0x01
#define NEW_TAG  0x02

enum kill_at { K_BEFORE_WRITE, K_FIRST_HALF, K_AFTER_DONE, K_DELAY };

struct scenario {
	const char *name;
	enum kill_at at;
	unsigned pause_us;
	unsigned delay_us;          /* K_DELAY: after the child says "writing" */
};

static const struct scenario scenarios[] = {
	{ "kill before the write (record not durable)", K_BEFORE_WRITE, 200000, 0 },
	{ "kill between the halves", K_FIRST_HALF, 5000000, 0 },
	{ "kill after the write returned", K_AFTER_DONE, 200000, 0 },
	{ "kill right after the start", K_DELAY, 200000, 0 },
	{ "kill 2 ms in", K_DELAY, 200000, 2000 },
	{ "kill 20 ms in", K_DELAY, 200000, 20000 },
	{ "kill 120 ms in", K_DELAY, 200000, 120000 },
	{ "kill 300 ms in", K_DELAY, 200000, 300000 },
};

static void quiet_log(void *ctx, int level, const char *fmt, ...)
{
	(void)ctx;
	if (!getenv("STORE_TEST_LOG"))
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "# [%d] ", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int open_store(struct chunk_store **cs, const char *dir, unsigned pause_us)
{
	struct chunk_config cfg = {
		.dir = dir, .journal_slots = 2, .test_write_pause_us = pause_us,
		.log = quiet_log,
	};
	return chunk_open(cs, &cfg);
}

/* The child: never returns into cmocka. Tells the parent 'W' just before
 * chunk_write and 'D' after it returned, then waits to be killed. */
static void child(const char *dir, const struct scenario *sc, int wfd, uint64_t oid)
{
	struct chunk_store *cs;
	if (open_store(&cs, dir, sc->pause_us))
		_exit(2);
	uint8_t *buf = malloc(W_LEN);
	if (!buf)
		_exit(2);
	cb_pattern(buf, W_LEN, W_OFF, NEW_TAG);
	if (write(wfd, "W", 1) != 1)
		_exit(2);
	if (sc->at == K_BEFORE_WRITE)
		sleep(30);              /* killed in here */
	if (chunk_write(cs, oid, SEQ, W_OFF, W_LEN, buf))
		_exit(3);
	if (write(wfd, "D", 1) != 1)
		_exit(2);
	for (;;)
		pause();
}

/* Waits for byte c on fd, up to ms milliseconds: 0 or -1. */
static int wait_msg(int fd, char c, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char got;
	if (poll(&p, 1, ms) != 1 || read(fd, &got, 1) != 1 || got != c)
		return -1;
	return 0;
}

static int need_yes(void *ctx, uint64_t oid, uint64_t seq)
{
	(void)ctx; (void)oid; (void)seq;
	return 1;
}

/* 1 = entirely old, 2 = entirely new, 0 = mixed/other. */
static int classify(const uint8_t *range)
{
	uint8_t *o = malloc(W_LEN), *n = malloc(W_LEN);
	assert_non_null(o);
	assert_non_null(n);
	cb_pattern(o, W_LEN, W_OFF, OLD_TAG);
	cb_pattern(n, W_LEN, W_OFF, NEW_TAG);
	int r = !memcmp(range, o, W_LEN) ? 1 : !memcmp(range, n, W_LEN) ? 2 : 0;
	free(o);
	free(n);
	return r;
}

static void run_scenario(struct cbackend *b, const struct scenario *sc)
{
	char dir[160];
	snprintf(dir, sizeof(dir), "%s/crash-XXXXXX", b->base);
	assert_non_null(mkdtemp(dir));
	const uint64_t oid = sd_data_oid(0x2a, 7);
	struct chunk_store *cs;
	uint8_t *obj = malloc(OBJ);
	assert_non_null(obj);

	assert_int_equal(open_store(&cs, dir, 0), 0);
	cb_pattern(obj, OLD_LEN, 0, OLD_TAG);
	assert_int_equal(chunk_create(cs, oid, OBJ, 0, 0, OLD_LEN, obj), 0);
	chunk_close(cs);

	char path[256];
	snprintf(path, sizeof(path), "%s/obj/00002a/%016llx", dir, (unsigned long long)oid);
	int ofd = open(path, O_RDONLY);
	assert_true(ofd >= 0);
	uint8_t first_old;
	cb_pattern(&first_old, 1, W_OFF, OLD_TAG);

	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		child(dir, sc, pfd[1], oid);
	}
	close(pfd[1]);

	int ok = wait_msg(pfd[0], 'W', 10000) == 0;
	if (ok) {
		switch (sc->at) {
		case K_BEFORE_WRITE:
			break;
		case K_FIRST_HALF: {
			/* the first byte of the range turns new once the first
			 * half is in; the child then pauses for 5 s */
			struct timespec t0, t;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			for (;;) {
				uint8_t cur;
				if (pread(ofd, &cur, 1, W_OFF) == 1 && cur != first_old)
					break;
				clock_gettime(CLOCK_MONOTONIC, &t);
				if (t.tv_sec - t0.tv_sec > 10) {
					ok = 0;
					break;
				}
				usleep(200);
			}
			break;
		}
		case K_AFTER_DONE:
			ok = wait_msg(pfd[0], 'D', 10000) == 0;
			break;
		case K_DELAY:
			usleep(sc->delay_us);
			break;
		}
	}
	kill(pid, SIGKILL);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(pfd[0]);
	if (!ok)
		print_message("child did not reach the kill point (status %#x)\n", status);
	assert_true(ok);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);   /* died by our hand */

	/* what the crash left, before any repair */
	assert_int_equal(pread(ofd, obj, W_LEN, W_OFF), (ssize_t)W_LEN);
	close(ofd);
	int before = classify(obj);
	if (sc->at == K_FIRST_HALF) {
		/* shows the kill landed between the halves: first half new,
		 * second half old */
		uint8_t *want = malloc(W_LEN);
		assert_non_null(want);
		cb_pattern(want, W_LEN / 2, W_OFF, NEW_TAG);
		cb_pattern(want + W_LEN / 2, W_LEN - W_LEN / 2, W_OFF + W_LEN / 2, OLD_TAG);
		assert_memory_equal(obj, want, W_LEN);
		free(want);
	}

	assert_int_equal(open_store(&cs, dir, 0), 0);
	uint64_t max = chunk_journal_max_seq(cs);
	int applied = chunk_journal_replay(cs, need_yes, NULL, NULL);
	assert_true(applied >= 0);
	assert_int_equal(chunk_read(cs, oid, 0, OBJ, obj), 0);
	chunk_close(cs);

	int after = classify(obj + W_OFF);
	print_message("# %s (%s): before replay %s, journal max seq %llu, %d applied, after %s\n",
		      sc->name, b->btrfs ? "btrfs" : "plain",
		      before == 1 ? "old" : before == 2 ? "new" : "mixed",
		      (unsigned long long)max, applied,
		      after == 1 ? "old" : after == 2 ? "new" : "MIXED");
	assert_true(after == 1 || after == 2);
	/* a durable record always wins; without one nothing was written */
	if (max == SEQ)
		assert_int_equal(after, 2);
	else
		assert_int_equal(after, 1);
	switch (sc->at) {
	case K_BEFORE_WRITE:
		assert_true(max == 0);
		assert_int_equal(applied, 0);
		assert_int_equal(after, 1);
		break;
	case K_FIRST_HALF:
	case K_AFTER_DONE:
		assert_true(max == SEQ);
		assert_int_equal(applied, 1);
		assert_int_equal(after, 2);
		break;
	case K_DELAY:
		break;
	}

	/* outside the range: untouched */
	uint8_t *want = malloc(OLD_LEN);
	assert_non_null(want);
	cb_pattern(want, OLD_LEN, 0, OLD_TAG);
	assert_memory_equal(obj, want, W_OFF);
	assert_memory_equal(obj + W_OFF + W_LEN, want + W_OFF + W_LEN, OLD_LEN - W_OFF - W_LEN);
	free(want);
	for (uint64_t i = OLD_LEN; i < OBJ; i++)
		if (obj[i]) {
			print_message("non-zero byte at %llu\n", (unsigned long long)i);
			fail();
		}
	free(obj);
	cb_rm_tree(dir);
}

static void run_range(void **state, size_t from, size_t to)
{
	struct cbackend *b = *state;
	if (!b->ok) {
		print_message("# SKIP %s\n", b->why);
		skip();
	}
	for (size_t i = from; i < to; i++)
		run_scenario(b, &scenarios[i]);
}

static void test_crash_before_write(void **state) { run_range(state, 0, 1); }
static void test_crash_between_halves(void **state) { run_range(state, 1, 2); }
static void test_crash_after_write(void **state) { run_range(state, 2, 3); }
static void test_crash_delays(void **state)
{
	run_range(state, 3, sizeof(scenarios) / sizeof(scenarios[0]));
}

#define T(fn) { #fn, fn }

int main(void)
{
	const struct cb_test tests[] = {
		T(test_crash_before_write),
		T(test_crash_between_halves),
		T(test_crash_after_write),
		T(test_crash_delays),
	};
	return cb_run_both("chunk crash", tests, sizeof(tests) / sizeof(tests[0]));
}

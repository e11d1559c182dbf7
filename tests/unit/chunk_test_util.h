/*
 * chunk_test_util.h: backends for test_chunk.c and test_chunk_crash.c.
 *
 * A "backend fixture" is a base directory where the tests make their chunk
 * stores: a temp dir under /tmp (plain), or the mount point of a btrfs
 * image the fixture creates (truncate + mkfs.btrfs + mount -o loop), which
 * needs root, mkfs.btrfs and a free loop device. When btrfs is not
 * possible the fixture records why and every btrfs test skip()s with that
 * reason. Teardown unmounts (the loop device goes with it: mount -o loop
 * sets autoclear) and removes everything, also after failures.
 */
#ifndef TESTS_UNIT_CHUNK_TEST_UTIL_H
#define TESTS_UNIT_CHUNK_TEST_UTIL_H

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/chunk_int.h"

struct cbackend {
	int btrfs;                  /* wanted backend */
	int ok;                     /* usable */
	int mounted;
	char top[64];               /* our temp dir */
	char base[96];              /* where stores go: top or top/mnt */
	char why[160];              /* reason when !ok */
};

static inline int cb_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb; (void)flag; (void)f;
	return remove(p);
}

static inline void cb_rm_tree(const char *dir)
{
	nftw(dir, cb_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs argv quietly; 0 on exit status 0. */
static inline int cb_run(const char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static inline int cb_have_tool(const char *name)
{
	const char *dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };
	char p[128];
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dirs[i], name);
		if (access(p, X_OK) == 0)
			return 1;
	}
	return 0;
}

static inline int cb_setup(void **state, int btrfs)
{
	struct cbackend *b = calloc(1, sizeof(*b));
	if (!b)
		return -1;
	b->btrfs = btrfs;
	strcpy(b->top, "/tmp/sm-chunktest-XXXXXX");
	if (!mkdtemp(b->top)) {
		free(b);
		return -1;
	}
	*state = b;
	if (!btrfs) {
		snprintf(b->base, sizeof(b->base), "%s", b->top);
		b->ok = 1;
		return 0;
	}
	if (geteuid() != 0) {
		snprintf(b->why, sizeof(b->why), "btrfs backend: needs root to mount a loop image");
		return 0;
	}
	if (!cb_have_tool("mkfs.btrfs") || !cb_have_tool("truncate") || !cb_have_tool("mount")) {
		snprintf(b->why, sizeof(b->why), "btrfs backend: mkfs.btrfs, truncate or mount not installed");
		return 0;
	}
	if (access("/dev/loop-control", F_OK)) {
		snprintf(b->why, sizeof(b->why), "btrfs backend: no /dev/loop-control (loop devices unavailable)");
		return 0;
	}
	char img[96];
	snprintf(img, sizeof(img), "%s/img", b->top);
	snprintf(b->base, sizeof(b->base), "%s/mnt", b->top);
	if (mkdir(b->base, 0755))
		return -1;
	const char *tr[] = { "truncate", "-s", "300M", img, NULL };
	const char *mk[] = { "mkfs.btrfs", "-q", img, NULL };
	const char *mo[] = { "mount", "-o", "loop", img, b->base, NULL };
	if (cb_run(tr) || cb_run(mk)) {
		snprintf(b->why, sizeof(b->why), "btrfs backend: truncate/mkfs.btrfs of a 300M image failed");
		return 0;
	}
	if (cb_run(mo)) {
		snprintf(b->why, sizeof(b->why), "btrfs backend: mount -o loop failed (no free loop device?)");
		return 0;
	}
	b->mounted = 1;
	b->ok = 1;
	return 0;
}

static inline int cb_setup_plain(void **state) { return cb_setup(state, 0); }
static inline int cb_setup_btrfs(void **state) { return cb_setup(state, 1); }

static inline int cb_teardown(void **state)
{
	struct cbackend *b = *state;
	if (!b)
		return 0;
	if (b->mounted) {
		const char *um[] = { "umount", b->base, NULL };
		if (cb_run(um) && umount2(b->base, MNT_DETACH))
			fprintf(stderr, "# could not unmount %s\n", b->base);
	}
	cb_rm_tree(b->top);
	free(b);
	return 0;
}

/* Collects the store's log lines so tests can check what it said. */
struct cb_log {
	char text[4096];
	size_t len;
};

static inline void cb_log_fn(void *ctx, int level, const char *fmt, ...)
{
	struct cb_log *l = ctx;
	va_list ap;
	if (getenv("STORE_TEST_LOG")) {
		va_start(ap, fmt);
		fprintf(stderr, "# [%d] ", level);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	if (!l || l->len >= sizeof(l->text) - 1)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(l->text + l->len, sizeof(l->text) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0) {
		l->len += (size_t)n;
		if (l->len > sizeof(l->text) - 2)
			l->len = sizeof(l->text) - 2;
		l->text[l->len++] = '\n';
		l->text[l->len] = 0;
	}
}

/* Fills buf with a pattern identified by tag (distinct tags differ at
 * every byte, so "entirely old or entirely new" is checkable per byte). */
static inline void cb_pattern(uint8_t *buf, size_t len, uint64_t start, uint8_t tag)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(((start + i) * 31 + (start + i) / 251) ^ tag);
}

/* Runs every test once per backend in one cmocka group ("plain/name",
 * "btrfs/name"), so one summary counts both (tests/run.sh reads the last
 * summary). The fixtures live outside cmocka's group setup: a btrfs that
 * cannot be mounted is a skip with its reason, not a group error.
 * Needs <cmocka.h> included first. */
struct cb_test {
	const char *name;
	CMUnitTestFunction fn;
};

static inline int cb_run_both(const char *group, const struct cb_test *list, size_t n)
{
	void *plain = NULL, *btrfs = NULL;
	if (cb_setup(&plain, 0) || cb_setup(&btrfs, 1)) {
		fprintf(stderr, "cannot create a temp dir under /tmp\n");
		cb_teardown(&plain);
		cb_teardown(&btrfs);
		return 1;
	}
	struct CMUnitTest *t = calloc(2 * n, sizeof(*t));
	char (*names)[96] = calloc(2 * n, sizeof(*names));
	int fails = 1;
	if (t && names) {
		for (size_t i = 0; i < 2 * n; i++) {
			const struct cb_test *c = &list[i % n];
			snprintf(names[i], sizeof(names[i]), "%s/%s", i < n ? "plain" : "btrfs", c->name);
			t[i].name = names[i];
			t[i].test_func = c->fn;
			t[i].initial_state = i < n ? plain : btrfs;
		}
		fails = _cmocka_run_group_tests(group, t, 2 * n, NULL, NULL);
	}
	free(t);
	free(names);
	cb_teardown(&plain);
	cb_teardown(&btrfs);
	return fails;
}

#endif

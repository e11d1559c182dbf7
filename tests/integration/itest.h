/*
 * itest.h: helpers shared by the integration tests (header-only, every
 * function static). Start a real sheepnode ($SHEEPNODE) on a free port
 * with a fresh temp directory, stop it by pid, restart it on the same
 * directory, and remove everything again.
 *
 * Each test owns one struct itest_node (made in a cmocka setup, freed in
 * the teardown), so a failing test still stops its daemon and removes its
 * directory. The daemon also gets PR_SET_PDEATHSIG, so it dies with a test
 * binary that crashes before its teardown runs.
 */
#ifndef ITEST_H
#define ITEST_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tools/sdclient.h"

#define ITEST_UNUSED __attribute__((unused))
#define ITEST_START_TIMEOUT_MS 10000
#define ITEST_STOP_TIMEOUT_MS  10000
#define ITEST_IO_TIMEOUT_MS    20000   /* a stalled daemon fails the test, never hangs it */
#define ITEST_MAX_ARGS         16

struct itest_node {
	pid_t pid;                      /* 0: not running */
	unsigned port;
	char root[200];                 /* temp dir we created and remove */
	char data[240];                 /* --dir */
	char sock[240];                 /* --unix (must stay < 108 bytes) */
	char log[240];                  /* daemon stdout+stderr */
	const char *extra[ITEST_MAX_ARGS];  /* extra flags, NULL-terminated */
	int last_status;                /* waitpid status of the last stop */
};

ITEST_UNUSED static uint64_t itest_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

ITEST_UNUSED static void itest_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The daemon to test, or NULL (then tests skip and say why). */
ITEST_UNUSED static const char *itest_sheepnode(void)
{
	const char *p = getenv("SHEEPNODE");

	if (!p || !*p || access(p, X_OK) != 0)
		return NULL;
	return p;
}

/* A port free on both 127.0.0.1 and ::1 right now (bind port 0, read it,
 * close). Another process may take it before the daemon binds; start
 * retries with a new port when the daemon exits early. */
ITEST_UNUSED static unsigned itest_free_port(void)
{
	for (int tries = 0; tries < 20; tries++) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		socklen_t len = sizeof(sin);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		unsigned port = 0;

		if (fd < 0)
			return 0;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
			port = ntohs(sin.sin_port);
		close(fd);
		if (!port)
			continue;
		/* also free on IPv6 (the daemon listens on :: too), if v6 exists */
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
					   .sin6_addr = IN6ADDR_ANY_INIT };
		int one = 1;

		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return port;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		int ok = bind(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0 || errno == EADDRNOTAVAIL;
		close(fd);
		if (ok)
			return port;
	}
	return 0;
}

/* 1 if this machine can bind and connect on ::1. */
ITEST_UNUSED static int itest_have_ipv6(void)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok;

	if (fd < 0)
		return 0;
	ok = bind(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0;
	close(fd);
	return ok;
}

ITEST_UNUSED static void itest_print_log(const struct itest_node *n, int lines)
{
	char cmd[PATH_MAX + 64];

	printf("---- sheepnode log %s (last %d lines)\n", n->log, lines);
	fflush(stdout);
	snprintf(cmd, sizeof(cmd), "tail -n %d '%s'", lines, n->log);
	if (system(cmd) != 0)
		printf("(no log)\n");
	printf("----\n");
	fflush(stdout);
}

/* TCP address of the node on 127.0.0.1 (or host), with the I/O timeout. */
ITEST_UNUSED static struct sd_addr itest_addr(const struct itest_node *n, const char *host)
{
	struct sd_addr a;

	sd_addr_tcp(&a, host ? host : "127.0.0.1", n->port);
	a.timeout_ms = ITEST_IO_TIMEOUT_MS;
	return a;
}

ITEST_UNUSED static struct sd_addr itest_addr_unix(const struct itest_node *n)
{
	struct sd_addr a;

	sd_addr_unix(&a, n->sock);
	a.timeout_ms = ITEST_IO_TIMEOUT_MS;
	return a;
}

/* A fresh connection over TCP 127.0.0.1; fails the test if it cannot. */
ITEST_UNUSED static struct sd_client *itest_connect(const struct itest_node *n)
{
	struct sd_addr a = itest_addr(n, NULL);
	struct sd_client *c = NULL;
	int ret = sd_client_connect(&c, &a);

	if (ret)
		print_error("connect to 127.0.0.1:%u: %s\n", n->port, sd_client_strerror(ret));
	assert_int_equal(ret, 0);
	return c;
}

/* 1 if the child is still running (reaps it otherwise). */
ITEST_UNUSED static int itest_node_alive(struct itest_node *n)
{
	int st;

	if (!n->pid)
		return 0;
	if (waitpid(n->pid, &st, WNOHANG) == n->pid) {
		n->last_status = st;
		n->pid = 0;
		return 0;
	}
	return 1;
}

/* Spawn the daemon on n->port and wait until it accepts (unix, then TCP). 0, or -1
 * with the reason printed (the daemon is gone then). */
ITEST_UNUSED static int itest_node_spawn(struct itest_node *n)
{
	const char *bin = itest_sheepnode();
	char portbuf[16];
	const char *argv[8 + ITEST_MAX_ARGS];
	int argc = 0;
	pid_t pid;

	if (!bin)
		return -1;
	snprintf(portbuf, sizeof(portbuf), "%u", n->port);
	argv[argc++] = bin;
	argv[argc++] = "--port";
	argv[argc++] = portbuf;
	argv[argc++] = "--dir";
	argv[argc++] = n->data;
	argv[argc++] = "--unix";
	argv[argc++] = n->sock;
	for (int i = 0; i < ITEST_MAX_ARGS && n->extra[i]; i++)
		argv[argc++] = n->extra[i];
	argv[argc] = NULL;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(n->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	n->pid = pid;

	uint64_t deadline = itest_now_ms() + ITEST_START_TIMEOUT_MS;
	while (itest_now_ms() < deadline) {
		struct sd_addr a;
		struct sd_client *c;

		if (!itest_node_alive(n))
			return -1;
		/* the unix socket lives in our own temp dir, so an answer there
		 * is our daemon (a TCP answer could be whoever took the port) */
		sd_addr_unix(&a, n->sock);
		if (sd_client_connect(&c, &a) == 0) {
			sd_client_close(c);
			sd_addr_tcp(&a, "127.0.0.1", n->port);
			if (sd_client_connect(&c, &a) == 0) {
				sd_client_close(c);
				if (itest_node_alive(n))
					return 0;
			}
		}
		itest_sleep_ms(20);
	}
	printf("sheepnode did not accept on port %u within %d ms\n", n->port,
	       ITEST_START_TIMEOUT_MS);
	kill(n->pid, SIGKILL);
	waitpid(n->pid, &n->last_status, 0);
	n->pid = 0;
	return -1;
}

/* Start on the existing directory with a new free port. */
ITEST_UNUSED static int itest_node_start(struct itest_node *n)
{
	for (int tries = 0; tries < 3; tries++) {
		n->port = itest_free_port();
		if (!n->port)
			return -1;
		if (itest_node_spawn(n) == 0)
			return 0;
	}
	itest_print_log(n, 30);
	return -1;
}

/* Stop by pid with SIGTERM; SIGKILL after the timeout. Returns the exit
 * code (0 = clean), 128+signal when killed by a signal, -1 on timeout. */
ITEST_UNUSED static int itest_node_stop(struct itest_node *n)
{
	uint64_t deadline;
	int st;

	if (!n->pid)
		return WIFEXITED(n->last_status) ? WEXITSTATUS(n->last_status)
						 : 128 + WTERMSIG(n->last_status);
	kill(n->pid, SIGTERM);
	deadline = itest_now_ms() + ITEST_STOP_TIMEOUT_MS;
	while (itest_now_ms() < deadline) {
		pid_t r = waitpid(n->pid, &st, WNOHANG);

		if (r == n->pid) {
			n->pid = 0;
			n->last_status = st;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		itest_sleep_ms(10);
	}
	printf("sheepnode pid %d ignored SIGTERM for %d ms; killing\n", (int)n->pid,
	       ITEST_STOP_TIMEOUT_MS);
	kill(n->pid, SIGKILL);
	waitpid(n->pid, &st, 0);
	n->pid = 0;
	n->last_status = st;
	return -1;
}

/* SIGTERM, require exit 0, start again on the same directory (the port may
 * change; the unix socket path stays). */
ITEST_UNUSED static void itest_node_restart(struct itest_node *n)
{
	int rc = itest_node_stop(n);

	if (rc != 0)
		itest_print_log(n, 30);
	assert_int_equal(rc, 0);
	assert_int_equal(itest_node_start(n), 0);
}

/* SIGKILL (a crash: nothing is flushed by the daemon), reap it. */
ITEST_UNUSED static void itest_node_kill(struct itest_node *n)
{
	if (!n->pid)
		return;
	kill(n->pid, SIGKILL);
	waitpid(n->pid, &n->last_status, 0);
	n->pid = 0;
	n->last_status = 0;     /* killed on purpose: not a failure */
}

static int itest__rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

ITEST_UNUSED static void itest_rm_rf(const char *path)
{
	nftw(path, itest__rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * cmocka setup: make a temp dir, start the node with extra flags
 * (NULL-terminated list, may be NULL). Without $SHEEPNODE, *state = NULL
 */
ITEST_UNUSED static int itest_setup_with(void **state, const char *const *extra)
{
	struct itest_node *n;
	const char *tmp = getenv("TMPDIR");

	*state = NULL;
	if (!itest_sheepnode())
		return 0;       /* the test skips (cmocka 1.1 cannot skip in a setup) */
	n = calloc(1, sizeof(*n));
	assert_non_null(n);
	snprintf(n->root, sizeof(n->root), "%s/sm-itest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(n->root)) {
		free(n);
		fail_msg("mkdtemp: %s", strerror(errno));
	}
	snprintf(n->data, sizeof(n->data), "%s/data", n->root);
	snprintf(n->sock, sizeof(n->sock), "%s/node.sock", n->root);
	snprintf(n->log, sizeof(n->log), "%s/node.log", n->root);
	mkdir(n->data, 0700);
	for (int i = 0; extra && extra[i] && i < ITEST_MAX_ARGS - 1; i++)
		n->extra[i] = extra[i];
	*state = n;
	if (itest_node_start(n) != 0) {
		itest_rm_rf(n->root);
		free(n);
		*state = NULL;
		return -1;
	}
	return 0;
}

ITEST_UNUSED static int itest_setup(void **state)
{
	return itest_setup_with(state, NULL);
}

/* A test's node; skips the test (saying why) when there is no daemon. */
ITEST_UNUSED static struct itest_node *itest_node(void **state)
{
	if (!*state) {
		printf("SKIP: SHEEPNODE is not set to an executable daemon (run via tests/run.sh)\n");
		skip();
	}
	return *state;
}

/* cmocka teardown: stop (must exit 0: a crash or sanitizer report during
 * the test fails it here), remove the directory. */
ITEST_UNUSED static int itest_teardown(void **state)
{
	struct itest_node *n = *state;
	int rc;

	if (!n)
		return 0;
	rc = itest_node_stop(n);
	if (rc != 0) {
		printf("sheepnode exited with %d (want 0)\n", rc);
		itest_print_log(n, 40);
	}
	itest_rm_rf(n->root);
	free(n);
	*state = NULL;
	return rc == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ raw frames */

/* Byte of pattern seed at absolute position pos: a splitmix64 finaliser
 * over both, so different seeds differ at (almost) every byte. */
static inline uint8_t itest__pattern_byte(uint64_t pos, uint32_t seed)
{
	uint64_t z = pos + (uint64_t)seed * 0x9E3779B97F4A7C15ULL;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return (uint8_t)(z ^ z >> 31 ^ z >> 56);
}

/* Fill a byte pattern that depends on (seed, absolute position). */
ITEST_UNUSED static void itest_pattern(uint8_t *buf, size_t len, uint64_t pos, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = itest__pattern_byte(pos + i, seed);
}

ITEST_UNUSED static int itest_pattern_check(const uint8_t *buf, size_t len, uint64_t pos,
					   uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != itest__pattern_byte(pos + i, seed)) {
			print_error("pattern %u mismatch at %llu\n", seed,
				    (unsigned long long)(pos + i));
			return 0;
		}
	}
	return 1;
}

ITEST_UNUSED static int itest_is_zero(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return 0;
	return 1;
}

/* Wait until the peer closes (EOF or reset): 1, or 0 if it still sends or
 * stays open for timeout_ms. Any reply bytes before the close are dropped. */
ITEST_UNUSED static int itest_wait_closed(int fd, unsigned timeout_ms)
{
	uint64_t deadline = itest_now_ms() + timeout_ms;
	char buf[4096];

	while (itest_now_ms() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, 100);

		if (r < 0 && errno != EINTR)
			return 0;
		if (r <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
	}
	return 0;
}

#endif

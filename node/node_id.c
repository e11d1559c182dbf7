/* node_id.c: see node_id.h. */
#include "node/node_id.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAX 64    /* "incarnation " + 20 digits + "\n" fits easily */

void node_id_hex(const uint8_t id[NODE_ID_LEN], char out[2 * NODE_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < NODE_ID_LEN; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[2 * NODE_ID_LEN] = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int node_id_parse(const char *s, size_t len, uint8_t id[NODE_ID_LEN])
{
	if (len != 2 * NODE_ID_LEN)
		return -1;
	for (int i = 0; i < NODE_ID_LEN; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
		if (h < 0 || l < 0)
			return -1;
		id[i] = (uint8_t)(h << 4 | l);
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Whole small file into buf (at most cap bytes; more is an error: -2). */
static ssize_t read_small(const char *path, char *buf, size_t cap, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t n = 0;

	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0)
		goto fail;
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			char extra;
			r = read(fd, &extra, 1);
			close(fd);
			return r > 0 ? -2 : (ssize_t)n;
		}
	}
	close(fd);
	return (ssize_t)n;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

/* Writes path.tmp durably (0600); the caller renames or links it. */
static int write_tmp(const char *tmp, const void *buf, size_t len)
{
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0600) < 0 || write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	if (close(fd) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int node_id_load_or_create(const char *dir, uint8_t id[NODE_ID_LEN], char *err, size_t errlen)
{
	char path[4096], tmp[4200], buf[2 * NODE_ID_LEN + 2];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, NODE_ID_FILE) >= sizeof(path)) {
		snprintf(err, errlen, "data directory path too long: %s", dir);
		return -1;
	}
	ssize_t n = read_small(path, buf, sizeof(buf), &st);
	if (n >= 0 || n == -2) {
		/* exactly 32 hex digits and one newline; anything else is corrupt */
		if (n != (ssize_t)sizeof(buf) - 1 || buf[2 * NODE_ID_LEN] != '\n' ||
		    node_id_parse(buf, 2 * NODE_ID_LEN, id) < 0) {
			snprintf(err, errlen, "%s is corrupt (expected 32 hex digits and a newline); "
				 "restore it or remove it to give this node a new identity", path);
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise (no entropy source?)");
		return -1;
	}
	randombytes_buf(id, NODE_ID_LEN);
	node_id_hex(id, buf);
	buf[2 * NODE_ID_LEN] = '\n';
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* tmp + link: a crash leaves either no node-id or a whole one, and link
	 * fails rather than replace one created meanwhile */
	if (write_tmp(tmp, buf, sizeof(buf) - 1) < 0 || link(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(e));
		return -1;
	}
	unlink(tmp);
	if (fsync_dir(dir) < 0) {
		snprintf(err, errlen, "cannot sync directory %s: %s", dir, strerror(errno));
		return -1;
	}
	return 1;
}

int node_state_load(const char *dir, uint64_t *inc, char *err, size_t errlen)
{
	char path[4096], buf[STATE_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, NODE_STATE_FILE);
	ssize_t n = read_small(path, buf, sizeof(buf) - 1, &st);
	if (n == -1 && errno == ENOENT) {
		*inc = 0;
		return 0;
	}
	if (n == -1) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (n >= 0) {
		buf[n] = 0;
		const char *p = buf;
		if (strncmp(p, "incarnation ", 12) == 0 && p[12] >= '0' && p[12] <= '9') {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(p + 12, &end, 10);
			/* 2^62: swim_new's limit, with room for raises */
			if (!errno && end[0] == '\n' && end[1] == 0 && v < (UINT64_C(1) << 62)) {
				*inc = v;
				return 0;
			}
		}
	}
	snprintf(err, errlen, "%s is corrupt (expected \"incarnation N\" and a newline); "
		 "restore it or remove it", path);
	return -1;
}

int node_state_save(const char *dir, uint64_t inc, char *err, size_t errlen)
{
	char path[4096], tmp[4200], buf[STATE_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, NODE_STATE_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int n = snprintf(buf, sizeof(buf), "incarnation %" PRIu64 "\n", inc);
	if (write_tmp(tmp, buf, (size_t)n) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
		return -1;
	}
	if (fsync_dir(dir) < 0) {
		snprintf(err, errlen, "cannot sync directory %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int node_key_load(const char *path, uint8_t key[NODE_KEY_LEN], char *err, size_t errlen)
{
	char buf[NODE_KEY_LEN];
	struct stat st;
	ssize_t n = read_small(path, buf, sizeof(buf), &st);

	if (n == -1) {
		snprintf(err, errlen, "--key-file %s: cannot read: %s", path,
			 errno == EINVAL ? "not a regular file" : strerror(errno));
		return -1;
	}
	if (st.st_mode & 077) {
		sodium_memzero(buf, sizeof(buf));
		snprintf(err, errlen, "--key-file %s: mode %04o lets group or others access the key; "
			 "refusing it (chmod 600 %s)", path, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	if (n != NODE_KEY_LEN) {
		sodium_memzero(buf, sizeof(buf));
		snprintf(err, errlen, "--key-file %s: expected exactly %d raw bytes, got %s", path,
			 NODE_KEY_LEN, n == -2 ? "more" : "fewer");
		return -1;
	}
	memcpy(key, buf, NODE_KEY_LEN);
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

int node_keygen(const char *path, char *err, size_t errlen)
{
	uint8_t key[NODE_KEY_LEN];
	char dir[4096], *slash;

	if (!path[0]) {
		snprintf(err, errlen, "--keygen: FILE is empty");
		return -1;
	}
	if (sodium_init() < 0) {
		snprintf(err, errlen, "--keygen: libsodium failed to initialise (no entropy source?)");
		return -1;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			snprintf(err, errlen, "--keygen %s: file exists; refusing to overwrite a key", path);
		else
			snprintf(err, errlen, "--keygen %s: cannot create: %s", path, strerror(errno));
		return -1;
	}
	randombytes_buf(key, sizeof(key));
	int bad = fchmod(fd, 0600) < 0 || write_all(fd, key, sizeof(key)) < 0 || fsync(fd) < 0;
	int e = errno;
	sodium_memzero(key, sizeof(key));
	if (close(fd) < 0 && !bad) {
		bad = 1;
		e = errno;
	}
	if (bad) {
		unlink(path);
		snprintf(err, errlen, "--keygen %s: cannot write: %s", path, strerror(e));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = 0;
	else
		strcpy(dir, ".");
	if (fsync_dir(dir) < 0) {
		snprintf(err, errlen, "--keygen %s: cannot sync its directory: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

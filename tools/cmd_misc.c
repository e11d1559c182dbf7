/* cmd_misc.c: `keygen FILE` and `version`. */
#include "tools/sheeptool.h"
#include "node/config.h"        /* SHEEPNODE_VERSION: one version for the project */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYGEN_LEN 32           /* SEAL_KEY_LEN in gossip/seal.h: raw key bytes */

static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The new name must survive a crash too: fsync its directory. */
static int fsync_parent(const char *path)
{
	char copy[4096];
	int fd, ret = 0;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

int cmd_keygen(struct st_ctx *ctx)
{
	const char *path = ctx->argv[0];
	unsigned char key[KEYGEN_LEN];
	int fd, ret;

	if (!*path)
		return st_usage(ctx, "FILE is empty");
	if (sodium_init() < 0)
		return st_error(ST_EXIT_ERROR, "keygen: libsodium failed to initialise (no entropy source?)");
	/* O_EXCL: an existing key (maybe the cluster's only copy) is never lost */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST)
		return st_error(ST_EXIT_ERROR, "keygen: '%s' already exists; refusing to overwrite a key "
				"(remove it first, or choose another file)", path);
	if (fd < 0)
		return st_error(ST_EXIT_ERROR, "keygen: cannot create '%s': %s", path, strerror(errno));
	randombytes_buf(key, sizeof(key));
	ret = fchmod(fd, 0600) ? -errno : 0;   /* exact mode whatever the umask */
	if (!ret)
		ret = write_all(fd, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret)
		ret = fsync_parent(path);
	if (ret) {
		unlink(path);
		return st_error(ST_EXIT_ERROR, "keygen: cannot write '%s': %s (nothing was kept)", path,
				strerror(-ret));
	}
	printf("wrote a new %d-byte key to %s (mode 0600)\n", KEYGEN_LEN, path);
	return 0;
}

int cmd_version(struct st_ctx *ctx)
{
	(void)ctx;
	printf("sheeptool %s (Sheepdog protocol %#04x, QEMU 5.2 sheepdog: compatible)\n",
	       SHEEPNODE_VERSION, SD_PROTO_VER);
	return 0;
}

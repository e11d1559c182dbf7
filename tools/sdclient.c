/*
 * sdclient.c: blocking Sheepdog client (contract in sdclient.h).
 *
 * Sockets are blocking; send() uses MSG_NOSIGNAL so a server that closes
 * the connection yields -EPIPE instead of killing the process. The disk
 * layer keeps a small window of requests in flight on its async
 * connection, so a large read does not make the server queue the whole
 * reply in memory while we are still sending requests.
 */
#include "tools/sdclient.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

struct sd_client {
	int fd;
	uint32_t next_id;
};

/* ---------------------------------------------------------------- address */

int sd_addr_tcp(struct sd_addr *a, const char *host, unsigned port)
{
	memset(a, 0, sizeof(*a));
	if (!host || !*host)
		host = "localhost";
	if (strlen(host) >= sizeof(a->host) || port > 65535)
		return -EINVAL;
	strcpy(a->host, host);
	snprintf(a->port, sizeof(a->port), "%u", port ? port : SD_DEFAULT_PORT);
	return 0;
}

int sd_addr_unix(struct sd_addr *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	if (!path || !*path || strlen(path) >= sizeof(a->path))
		return -EINVAL;
	a->is_unix = 1;
	strcpy(a->path, path);
	return 0;
}

static int parse_port(const char *s, unsigned *port)
{
	char *end;
	unsigned long v;

	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535 || *s == '-' || *s == '+')
		return -EINVAL;
	*port = (unsigned)v;
	return 0;
}

int sd_addr_parse(struct sd_addr *a, const char *s)
{
	char host[256];
	const char *colon;
	unsigned port = SD_DEFAULT_PORT;

	if (!s || !*s)
		return -EINVAL;
	if (!strncmp(s, "unix:", 5))
		return sd_addr_unix(a, s + 5);
	if (s[0] == '/')
		return sd_addr_unix(a, s);
	if (s[0] == '[') {                  /* [v6]:port or [v6] */
		const char *close = strchr(s, ']');
		size_t n;

		if (!close)
			return -EINVAL;
		n = (size_t)(close - s - 1);
		if (n == 0 || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, n);
		host[n] = 0;
		if (close[1] == ':') {
			if (parse_port(close + 2, &port))
				return -EINVAL;
		} else if (close[1]) {
			return -EINVAL;
		}
		return sd_addr_tcp(a, host, port);
	}
	colon = strchr(s, ':');
	if (colon && strchr(colon + 1, ':'))  /* bare v6 literal, no port */
		return sd_addr_tcp(a, s, port);
	if (colon) {
		size_t n = (size_t)(colon - s);

		if (n == 0 || n >= sizeof(host) || parse_port(colon + 1, &port))
			return -EINVAL;
		memcpy(host, s, n);
		host[n] = 0;
		return sd_addr_tcp(a, host, port);
	}
	return sd_addr_tcp(a, s, port);
}

/* ------------------------------------------------------------- connection */

static int connect_fd(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINTR && errno != EINPROGRESS)
		return -errno;
	/* Interrupted: the connection goes on in the background; wait for it. */
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int err = 0;
		socklen_t el = sizeof(err);

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			return -errno;
		return err ? -err : 0;
	}
}

static int client_wrap(struct sd_client **out, int fd, unsigned timeout_ms)
{
	struct sd_client *c = calloc(1, sizeof(*c));

	if (timeout_ms) {
		struct timeval tv = { .tv_sec = timeout_ms / 1000,
				      .tv_usec = (timeout_ms % 1000) * 1000 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	*out = c;
	return 0;
}

int sd_client_connect(struct sd_client **out, const struct sd_addr *a)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	struct addrinfo *res, *ai;
	int ret, last = -ECONNREFUSED;

	*out = NULL;
	if (a->is_unix) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd;

		if (strlen(a->path) >= sizeof(sun.sun_path))
			return -EINVAL;
		strcpy(sun.sun_path, a->path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		ret = connect_fd(fd, (struct sockaddr *)&sun, sizeof(sun));
		if (ret) {
			close(fd);
			return ret;
		}
		return client_wrap(out, fd, a->timeout_ms);
	}

	ret = getaddrinfo(a->host, a->port, &hints, &res);
	if (ret)
		return ret == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		int one = 1;
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);

		if (fd < 0) {
			last = -errno;
			continue;
		}
		ret = connect_fd(fd, ai->ai_addr, ai->ai_addrlen);
		if (ret) {
			last = ret;
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		freeaddrinfo(res);
		return client_wrap(out, fd, a->timeout_ms);
	}
	freeaddrinfo(res);
	return last;
}

int sd_client_connect_tcp(struct sd_client **out, const char *host, unsigned port)
{
	struct sd_addr a;
	int ret = sd_addr_tcp(&a, host, port);

	if (ret) {
		*out = NULL;
		return ret;
	}
	return sd_client_connect(out, &a);
}

int sd_client_connect_unix(struct sd_client **out, const char *path)
{
	struct sd_addr a;
	int ret = sd_addr_unix(&a, path);

	if (ret) {
		*out = NULL;
		return ret;
	}
	return sd_client_connect(out, &a);
}

void sd_client_close(struct sd_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

int sd_client_fd(const struct sd_client *c) { return c->fd; }
uint32_t sd_client_next_id(struct sd_client *c) { return c->next_id++; }

int sd_client_send_raw(struct sd_client *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sd_client_recv_raw(struct sd_client *c, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = recv(c->fd, p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sd_client_send(struct sd_client *c, const struct sd_req *req, const void *wbuf)
{
	uint8_t hdr[SD_REQ_SIZE];
	int ret;

	sd_req_encode(hdr, req);
	if (!(req->flags & SD_FLAG_CMD_WRITE) || req->data_length == 0)
		return sd_client_send_raw(c, hdr, sizeof(hdr));
	if (!wbuf)
		return -EINVAL;
	/* Header and payload in one sendmsg when possible: fewer packets. */
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)wbuf, .iov_len = req->data_length },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	do
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(hdr)) {
		ret = sd_client_send_raw(c, hdr + n, sizeof(hdr) - (size_t)n);
		if (ret)
			return ret;
		n = 0;
	} else {
		n -= (ssize_t)sizeof(hdr);
	}
	return sd_client_send_raw(c, (const uint8_t *)wbuf + n, req->data_length - (size_t)n);
}

int sd_client_recv_header(struct sd_client *c, struct sd_rsp *rsp)
{
	uint8_t hdr[SD_RSP_SIZE];
	int ret = sd_client_recv_raw(c, hdr, sizeof(hdr));

	if (ret)
		return ret;
	sd_rsp_decode(rsp, hdr);
	return 0;
}

int sd_client_recv_payload(struct sd_client *c, void *buf, size_t len)
{
	uint8_t junk[65536];

	if (buf)
		return sd_client_recv_raw(c, buf, len);
	while (len) {
		size_t n = len < sizeof(junk) ? len : sizeof(junk);
		int ret = sd_client_recv_raw(c, junk, n);

		if (ret)
			return ret;
		len -= n;
	}
	return 0;
}

/* Read a reply payload of len bytes into buf of cap bytes; extra is dropped. */
static int recv_into(struct sd_client *c, size_t len, void *buf, size_t cap)
{
	size_t take = len < cap ? len : cap;
	int ret = 0;

	if (take)
		ret = sd_client_recv_payload(c, buf, take);
	if (!ret && len > take)
		ret = sd_client_recv_payload(c, NULL, len - take);
	if (!ret && len > cap)
		ret = -EPROTO;
	return ret;
}

int sd_client_recv_reply(struct sd_client *c, struct sd_rsp *rsp,
			 int (*lookup)(void *ctx, const struct sd_rsp *rsp, void **buf, size_t *cap),
			 void *ctx)
{
	void *buf = NULL;
	size_t cap = 0;
	int ret = sd_client_recv_header(c, rsp);

	if (ret)
		return ret;
	if (lookup(ctx, rsp, &buf, &cap)) {
		ret = sd_client_recv_payload(c, NULL, rsp->data_length);
		return ret ? ret : -EPROTO;
	}
	return recv_into(c, rsp->data_length, buf, cap);
}

int sd_client_fetch(struct sd_client *c, uint8_t op, uint64_t oid, uint32_t cap, uint8_t **buf,
		    uint32_t *len)
{
	struct sd_req req;
	struct sd_rsp rsp;

	*buf = malloc(cap ? cap : 1);
	*len = 0;
	if (!*buf)
		return -ENOMEM;
	memset(&req, 0, sizeof(req));
	req.opcode = op;
	req.obj.oid = oid;
	req.data_length = cap;             /* the reply buffer we offer */
	int ret = sd_client_request(c, &req, NULL, *buf, cap, &rsp);
	if (ret) {
		free(*buf);
		*buf = NULL;
		return ret;
	}
	*len = rsp.data_length;
	return 0;
}

int sd_client_request(struct sd_client *c, const struct sd_req *req, const void *wbuf,
		      void *rbuf, size_t rbuf_len, struct sd_rsp *rsp)
{
	struct sd_rsp local;
	int ret;

	if (!rsp)
		rsp = &local;
	ret = sd_client_send(c, req, wbuf);
	if (ret)
		return ret;
	ret = sd_client_recv_header(c, rsp);
	if (ret)
		return ret;
	ret = recv_into(c, rsp->data_length, rbuf, rbuf ? rbuf_len : 0);
	if (ret)
		return ret;
	if (rsp->id != req->id)
		return -EPROTO;
	return rsp->result > INT32_MAX ? INT32_MAX : (int)rsp->result;
}

const char *sd_client_strerror(int ret)
{
	const char *s;

	if (ret < 0)
		return strerror(-ret);
	s = sd_result_name((uint32_t)ret);
	return s ? s : "unknown result code";
}

/* --------------------------------------------------------------- wrappers */

static void req_init(struct sd_req *r, uint8_t op, uint8_t ver, uint16_t flags, uint32_t len)
{
	memset(r, 0, sizeof(*r));
	r->proto_ver = ver;
	r->opcode = op;
	r->flags = flags;
	r->data_length = len;
}

/* NUL-padded fixed field; -EINVAL when s does not fit with its NUL
 * (QEMU requires strlen < 256). */
static int put_field(uint8_t *dst, const char *s, size_t width)
{
	size_t n = s ? strlen(s) : 0;

	if (n >= width)
		return -EINVAL;
	memset(dst, 0, width);
	if (n)
		memcpy(dst, s, n);
	return 0;
}

int sd_cluster_default(struct sd_client *c, uint8_t *copies, uint8_t *policy, uint8_t *shift)
{
	struct sd_req r;
	struct sd_rsp rsp;
	int ret;

	req_init(&r, SD_OP_GET_CLUSTER_DEFAULT, 1, 0, 0);
	ret = sd_client_request(c, &r, NULL, NULL, 0, &rsp);
	if (ret)
		return ret;
	if (copies)
		*copies = rsp.cluster.nr_copies;
	if (policy)
		*policy = rsp.cluster.copy_policy;
	if (shift)
		*shift = rsp.cluster.block_size_shift;
	return 0;
}

int sd_vdi_new(struct sd_client *c, const struct sd_vdi_new_args *args, uint32_t *vid)
{
	uint8_t name[SD_NAME_LEN];
	struct sd_req r;
	struct sd_rsp rsp;
	int ret;

	if (put_field(name, args->name, sizeof(name)))
		return -EINVAL;
	req_init(&r, SD_OP_NEW_VDI, 0, SD_FLAG_CMD_WRITE, SD_NAME_LEN);
	r.vdi.vdi_size = args->size;
	r.vdi.base_vdi_id = args->base_vid;
	r.vdi.copies = args->copies;
	r.vdi.copy_policy = args->copy_policy;
	r.vdi.block_size_shift = args->block_size_shift;
	r.vdi.snapid = args->snapshot ? 1 : 0;
	ret = sd_client_request(c, &r, name, NULL, 0, &rsp);
	if (!ret && vid)
		*vid = rsp.vdi.vdi_id;
	return ret;
}

static int vdi_lookup(struct sd_client *c, uint8_t op, const char *name, const char *tag,
		      uint32_t snapid, uint32_t *vid)
{
	uint8_t buf[SD_NAME_LEN + SD_TAG_LEN];
	struct sd_req r;
	struct sd_rsp rsp;
	int ret;

	if (put_field(buf, name, SD_NAME_LEN) || put_field(buf + SD_NAME_LEN, tag, SD_TAG_LEN))
		return -EINVAL;
	req_init(&r, op, 1, SD_FLAG_CMD_WRITE, sizeof(buf));
	r.vdi.snapid = snapid;
	ret = sd_client_request(c, &r, buf, NULL, 0, &rsp);
	if (!ret && vid)
		*vid = rsp.vdi.vdi_id;
	return ret;
}

int sd_vdi_info(struct sd_client *c, const char *name, const char *tag, uint32_t snapid,
		uint32_t *vid)
{
	return vdi_lookup(c, SD_OP_GET_VDI_INFO, name, tag, snapid, vid);
}

int sd_vdi_lock(struct sd_client *c, const char *name, const char *tag, uint32_t snapid,
		uint32_t *vid)
{
	return vdi_lookup(c, SD_OP_LOCK_VDI, name, tag, snapid, vid);
}

int sd_vdi_release(struct sd_client *c, const char *name, uint32_t vid)
{
	struct sd_req r;
	size_t n = strlen(name);

	if (n >= SD_NAME_LEN)
		return -EINVAL;
	req_init(&r, SD_OP_RELEASE_VDI, 0, SD_FLAG_CMD_WRITE, (uint32_t)n + 1);
	r.vdi.base_vdi_id = vid;
	return sd_client_request(c, &r, name, NULL, 0, NULL);
}

int sd_vdi_delete(struct sd_client *c, const char *name, const char *tag, uint32_t snapid,
		  uint32_t *vid)
{
	uint8_t buf[SD_NAME_LEN + SD_TAG_LEN];
	struct sd_req r;
	struct sd_rsp rsp;
	int with_tag = (tag && *tag) || snapid;
	int ret;

	if (put_field(buf, name, SD_NAME_LEN) || put_field(buf + SD_NAME_LEN, tag, SD_TAG_LEN))
		return -EINVAL;
	req_init(&r, SD_OP_DEL_VDI, 0, SD_FLAG_CMD_WRITE,
		 with_tag ? SD_NAME_LEN + SD_TAG_LEN : SD_NAME_LEN);
	r.vdi.snapid = snapid;
	ret = sd_client_request(c, &r, buf, NULL, 0, &rsp);
	if (!ret && vid)
		*vid = rsp.vdi.vdi_id;
	return ret;
}

int sd_read_vdis(struct sd_client *c, uint8_t *bm)
{
	struct sd_req r;
	struct sd_rsp rsp;
	int ret;

	req_init(&r, SD_OP_READ_VDIS, 0, 0, SD_BITMAP_SIZE);
	ret = sd_client_request(c, &r, NULL, bm, SD_BITMAP_SIZE, &rsp);
	if (!ret && rsp.data_length != SD_BITMAP_SIZE)
		return -EPROTO;
	return ret;
}

static void obj_req(struct sd_req *r, uint8_t op, uint64_t oid, uint64_t off, uint32_t len,
		    uint16_t flags, uint8_t copies)
{
	req_init(r, op, 0, flags, len);
	r->obj.oid = oid;
	r->obj.offset = off;
	r->obj.copies = copies;
}

int sd_obj_read(struct sd_client *c, uint64_t oid, uint64_t off, uint32_t len, void *buf,
		uint16_t flags, uint8_t copies)
{
	struct sd_req r;
	struct sd_rsp rsp;
	int ret;

	obj_req(&r, SD_OP_READ_OBJ, oid, off, len, flags & ~SD_FLAG_CMD_WRITE, copies);
	ret = sd_client_request(c, &r, NULL, buf, len, &rsp);
	if (!ret && rsp.data_length != len)
		return -EPROTO;     /* never trimmed (§6.1) */
	return ret;
}

int sd_obj_write(struct sd_client *c, uint64_t oid, uint64_t off, uint32_t len,
		 const void *buf, uint16_t flags, uint8_t copies)
{
	struct sd_req r;

	obj_req(&r, SD_OP_WRITE_OBJ, oid, off, len, flags | SD_FLAG_CMD_WRITE, copies);
	return sd_client_request(c, &r, buf, NULL, 0, NULL);
}

int sd_obj_create(struct sd_client *c, uint64_t oid, uint64_t cow_oid, uint64_t off,
		  uint32_t len, const void *buf, uint16_t flags, uint8_t copies)
{
	struct sd_req r;

	flags |= SD_FLAG_CMD_WRITE;
	if (cow_oid)
		flags |= SD_FLAG_CMD_COW;
	obj_req(&r, SD_OP_CREATE_AND_WRITE_OBJ, oid, off, len, flags, copies);
	r.obj.cow_oid = cow_oid;
	return sd_client_request(c, &r, buf, NULL, 0, NULL);
}

int sd_vdi_flush(struct sd_client *c, uint32_t vid, uint16_t flags, uint8_t copies)
{
	struct sd_req r;

	obj_req(&r, SD_OP_FLUSH_VDI, sd_inode_oid(vid), 0, 0, flags & ~SD_FLAG_CMD_WRITE, copies);
	return sd_client_request(c, &r, NULL, NULL, 0, NULL);
}

int sd_inode_read(struct sd_client *c, uint32_t vid, uint8_t *buf, uint16_t flags)
{
	return sd_obj_read(c, sd_inode_oid(vid), 0, SD_INODE_SIZE, buf, flags, 0);
}

int sd_inode_read_header(struct sd_client *c, uint32_t vid, uint8_t *hdr, uint16_t flags)
{
	return sd_obj_read(c, sd_inode_oid(vid), 0, SD_INODE_HEADER_SIZE, hdr, flags, 0);
}

int sd_inode_write_header(struct sd_client *c, uint32_t vid, const uint8_t *hdr,
			  uint16_t flags, uint8_t copies)
{
	return sd_obj_write(c, sd_inode_oid(vid), 0, SD_INODE_HEADER_SIZE, hdr, flags, copies);
}

void sd_inode_hdr_decode(struct sd_inode_hdr *h, const uint8_t *b)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->name, b + SD_INODE_OFF_NAME, SD_NAME_LEN);
	memcpy(h->tag, b + SD_INODE_OFF_TAG, SD_TAG_LEN);
	h->create_time = sd_get64(b + SD_INODE_OFF_CREATE_TIME);
	h->snap_ctime = sd_get64(b + SD_INODE_OFF_SNAP_CTIME);
	h->vm_clock_nsec = sd_get64(b + SD_INODE_OFF_VM_CLOCK_NSEC);
	h->vdi_size = sd_get64(b + SD_INODE_OFF_VDI_SIZE);
	h->vm_state_size = sd_get64(b + SD_INODE_OFF_VM_STATE_SIZE);
	h->copy_policy = b[SD_INODE_OFF_COPY_POLICY];
	h->store_policy = b[SD_INODE_OFF_STORE_POLICY];
	h->nr_copies = b[SD_INODE_OFF_NR_COPIES];
	h->block_size_shift = b[SD_INODE_OFF_BLOCK_SHIFT];
	h->snap_id = sd_get32(b + SD_INODE_OFF_SNAP_ID);
	h->vdi_id = sd_get32(b + SD_INODE_OFF_VDI_ID);
	h->parent_vdi_id = sd_get32(b + SD_INODE_OFF_PARENT_VDI_ID);
}

/* ------------------------------------------------------------------- disk */

#define DISK_WINDOW 16      /* requests in flight on the async connection */

struct sd_disk {
	struct sd_addr addr;
	struct sd_client *a;        /* async connection */
	char name[SD_NAME_LEN];
	uint8_t *inode;             /* SD_INODE_SIZE bytes, QEMU's in-memory copy */
	uint32_t vid;               /* == inode's vdi_id */
	uint16_t cf;                /* CACHE or DIRECT */
	int flags;
	int is_snapshot;            /* opened by tag/snapid: writes branch first */
	int dirty;                  /* written since the last flush */
};

uint32_t sd_disk_vid(const struct sd_disk *d) { return d->vid; }
uint64_t sd_disk_size(const struct sd_disk *d) { return sd_get64(d->inode + SD_INODE_OFF_VDI_SIZE); }
uint32_t sd_disk_obj_size(const struct sd_disk *d) { return UINT32_C(1) << d->inode[SD_INODE_OFF_BLOCK_SHIFT]; }
const uint8_t *sd_disk_inode(const struct sd_disk *d) { return d->inode; }
struct sd_client *sd_disk_conn(struct sd_disk *d) { return d->a; }

static uint8_t disk_copies(const struct sd_disk *d) { return d->inode[SD_INODE_OFF_NR_COPIES]; }
static uint32_t disk_shift(const struct sd_disk *d) { return d->inode[SD_INODE_OFF_BLOCK_SHIFT]; }

static void disk_set_slot(struct sd_disk *d, uint32_t i, uint32_t v)
{
	sd_put32(d->inode + SD_INODE_INDEX_OFF + 4 * (size_t)i, v);
}

/* The inode the server sent must be usable (§4.3 MUSTs). */
static int disk_check_inode(const struct sd_disk *d, uint32_t vid)
{
	uint32_t shift = disk_shift(d);

	if (sd_get32(d->inode + SD_INODE_OFF_VDI_ID) != vid || shift < SD_MIN_SHIFT ||
	    shift > SD_MAX_SHIFT || d->inode[SD_INODE_OFF_STORE_POLICY] != 0)
		return -EPROTO;
	return 0;
}

/* Open a fresh sync connection to the disk's server. */
static int disk_sync(struct sd_disk *d, struct sd_client **s)
{
	return sd_client_connect(s, &d->addr);
}

int sd_disk_open(struct sd_disk **out, const struct sd_addr *a, const char *name,
		 const char *tag, uint32_t snapid, int flags)
{
	struct sd_disk *d;
	struct sd_client *s = NULL;
	int ret;

	*out = NULL;
	if (!name || strlen(name) >= SD_NAME_LEN || (tag && strlen(tag) >= SD_TAG_LEN))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->inode = malloc(SD_INODE_SIZE);
	if (!d->inode) {
		free(d);
		return -ENOMEM;
	}
	d->addr = *a;
	strcpy(d->name, name);
	d->flags = flags;
	d->cf = (flags & SD_DISK_DIRECT) ? SD_FLAG_CMD_DIRECT : SD_FLAG_CMD_CACHE;
	d->is_snapshot = (tag && *tag) || snapid;

	ret = sd_client_connect(&d->a, a);      /* A first, as QEMU does */
	if (ret)
		goto err;
	ret = disk_sync(d, &s);
	if (ret)
		goto err;
	ret = sd_vdi_lock(s, name, tag, snapid, &d->vid);
	sd_client_close(s);
	if (ret)
		goto err;
	ret = disk_sync(d, &s);
	if (ret)
		goto err;
	ret = sd_inode_read(s, d->vid, d->inode, d->cf);
	sd_client_close(s);
	if (ret)
		goto err;
	ret = disk_check_inode(d, d->vid);
	if (ret)
		goto err;
	*out = d;
	return 0;
err:
	sd_client_close(d->a);
	free(d->inode);
	free(d);
	return ret;
}

int sd_disk_flush(struct sd_disk *d)
{
	struct sd_req r;
	int ret;

	if (d->cf != SD_FLAG_CMD_CACHE)
		return 0;
	obj_req(&r, SD_OP_FLUSH_VDI, sd_inode_oid(d->vid), 0, 0, d->cf, disk_copies(d));
	r.id = sd_client_next_id(d->a);
	ret = sd_client_request(d->a, &r, NULL, NULL, 0, NULL);
	if (ret == SD_RES_INVALID_PARMS) {      /* server has no cache (§6.4) */
		d->cf = SD_FLAG_CMD_DIRECT;
		ret = 0;
	}
	if (!ret)
		d->dirty = 0;
	return ret;
}

int sd_disk_close(struct sd_disk *d)
{
	struct sd_client *s;
	int ret = 0, r;

	if (!d)
		return 0;
	if (d->dirty)
		ret = sd_disk_flush(d);
	if (!(d->flags & SD_DISK_NO_LOCK_RELEASE)) {
		r = disk_sync(d, &s);
		if (!r) {
			r = sd_vdi_release(s, d->name, d->vid);
			if (r == SD_RES_VDI_NOT_LOCKED)
				r = 0;
			sd_client_close(s);
		}
		if (!ret)
			ret = r;
	}
	sd_client_close(d->a);
	free(d->inode);
	free(d);
	return ret;
}

/* One object-sized piece of a read or write in flight on A. */
struct piece {
	uint32_t id;
	uint32_t idx;           /* object index */
	uint32_t off, len;      /* inside the object */
	uint8_t *buf;           /* user buffer for this piece */
	int create;             /* write: created (plain or COW) */
	int is_read;            /* reply payload goes to buf */
	int done;               /* 1: reply header seen, 2: handled */
};

struct window {
	struct piece *p;
	size_t n;
};

static int window_lookup(void *ctx, const struct sd_rsp *rsp, void **buf, size_t *cap)
{
	struct window *w = ctx;

	for (size_t i = 0; i < w->n; i++) {
		struct piece *p = &w->p[i];

		if (p->id == rsp->id && !p->done) {
			p->done = 1;
			/* write replies carry nothing; reads land in place,
			 * only on success (errors must have length 0). */
			*buf = p->is_read ? p->buf : NULL;
			*cap = p->is_read && rsp->result == SD_RES_SUCCESS ? p->len : 0;
			return 0;
		}
	}
	return -1;
}

/* Split [off, off+len) into per-object pieces. */
static struct piece *disk_split(const struct sd_disk *d, uint64_t off, size_t len,
				const void *buf, size_t *count)
{
	uint64_t osz = sd_disk_obj_size(d);
	uint64_t first = off / osz, last = (off + len - 1) / osz;
	size_t n = (size_t)(last - first + 1);
	struct piece *p = calloc(n, sizeof(*p));
	uint64_t pos = off;

	if (!p)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		uint64_t in = pos % osz;
		uint64_t take = osz - in;

		if (take > off + len - pos)
			take = off + len - pos;
		p[i].idx = (uint32_t)(pos / osz);
		p[i].off = (uint32_t)in;
		p[i].len = (uint32_t)take;
		p[i].buf = (uint8_t *)buf + (pos - off);
		pos += take;
	}
	*count = n;
	return p;
}

/*
 * Send every piece (build(d, piece, req) fills the request and returns the
 * payload pointer) with at most DISK_WINDOW in flight; collect all replies.
 * Returns the first non-success result, or a transport error (then the
 * connection is broken and the caller should close the disk).
 */
static int disk_pipeline(struct sd_disk *d, struct piece *p, size_t n,
			 const void *(*build)(struct sd_disk *d, struct piece *pc, struct sd_req *r),
			 void (*done)(struct sd_disk *d, struct piece *pc, int result))
{
	struct window w = { .p = p, .n = n };
	size_t sent = 0, recvd = 0;
	int first_err = 0;

	while (recvd < n) {
		while (sent < n && sent - recvd < DISK_WINDOW) {
			struct sd_req r;
			const void *wbuf = build(d, &p[sent], &r);
			int ret;

			r.id = p[sent].id = sd_client_next_id(d->a);
			ret = sd_client_send(d->a, &r, wbuf);
			if (ret)
				return ret;
			sent++;
		}
		struct sd_rsp rsp;
		int ret = sd_client_recv_reply(d->a, &rsp, window_lookup, &w);

		if (ret)
			return ret;
		for (size_t i = 0; i < n; i++) {
			if (p[i].id == rsp.id && p[i].done == 1) {
				p[i].done = 2;
				/* a read is never trimmed (§6.1) */
				if (p[i].is_read && rsp.result == SD_RES_SUCCESS &&
				    rsp.data_length != p[i].len)
					return -EPROTO;
				done(d, &p[i], (int)rsp.result);
				if (rsp.result && !first_err)
					first_err = (int)rsp.result;
				break;
			}
		}
		recvd++;
	}
	return first_err;
}

static const void *read_build(struct sd_disk *d, struct piece *pc, struct sd_req *r)
{
	uint32_t owner = sd_inode_slot(d->inode, pc->idx);

	obj_req(r, SD_OP_READ_OBJ, sd_data_oid(owner, pc->idx), pc->off, pc->len, d->cf,
		disk_copies(d));
	pc->is_read = 1;
	return NULL;
}

static void nop_done(struct sd_disk *d, struct piece *pc, int result)
{
	(void)d; (void)pc; (void)result;
}

static int disk_range_ok(const struct sd_disk *d, uint64_t off, size_t len)
{
	uint64_t size = sd_disk_size(d);

	return len <= size && off <= size - len;
}

int sd_disk_read(struct sd_disk *d, uint64_t off, size_t len, void *buf)
{
	struct piece *p, *q;
	size_t n, m = 0;
	int ret;

	if (!disk_range_ok(d, off, len))
		return -EINVAL;
	if (len == 0)
		return 0;
	p = disk_split(d, off, len, buf, &n);
	if (!p)
		return -ENOMEM;
	/* Unallocated slots read as zeros locally; the rest goes on the wire. */
	q = p;
	for (size_t i = 0; i < n; i++) {
		if (sd_inode_slot(d->inode, p[i].idx) == 0)
			memset(p[i].buf, 0, p[i].len);
		else
			q[m++] = p[i];
	}
	ret = m ? disk_pipeline(d, q, m, read_build, nop_done) : 0;
	free(p);
	return ret;
}

static const void *write_build(struct sd_disk *d, struct piece *pc, struct sd_req *r)
{
	uint32_t owner = sd_inode_slot(d->inode, pc->idx);
	uint64_t oid = sd_data_oid(d->vid, pc->idx);

	if (owner == d->vid) {
		obj_req(r, SD_OP_WRITE_OBJ, oid, pc->off, pc->len, SD_FLAG_CMD_WRITE | d->cf,
			disk_copies(d));
	} else {
		obj_req(r, SD_OP_CREATE_AND_WRITE_OBJ, oid, pc->off, pc->len,
			SD_FLAG_CMD_WRITE | d->cf, disk_copies(d));
		if (owner) {
			r->flags |= SD_FLAG_CMD_COW;
			r->obj.cow_oid = sd_data_oid(owner, pc->idx);
		}
		pc->create = 1;
	}
	return pc->buf;
}

static void write_done(struct sd_disk *d, struct piece *pc, int result)
{
	if (pc->create && result == SD_RES_SUCCESS)
		disk_set_slot(d, pc->idx, d->vid);
	else
		pc->create = 0;
}

/* §7.9: the first write to an image opened as a snapshot. */
static int disk_branch(struct sd_disk *d)
{
	struct sd_client *s;
	struct sd_vdi_new_args na = { .name = d->name };
	uint32_t snap_vid = d->vid, nv;
	int ret, deleted;

	ret = disk_sync(d, &s);
	if (ret)
		return ret;
	{
		uint8_t buf[SD_NAME_LEN];
		struct sd_req r;

		put_field(buf, d->name, SD_NAME_LEN);
		req_init(&r, SD_OP_DEL_VDI, 0, SD_FLAG_CMD_WRITE, SD_NAME_LEN);
		r.vdi.base_vdi_id = snap_vid;   /* QEMU's value; ignored by servers */
		ret = sd_client_request(s, &r, buf, NULL, 0, NULL);
	}
	sd_client_close(s);
	if (ret < 0)
		return ret;
	deleted = ret == SD_RES_SUCCESS || ret == SD_RES_NO_VDI;

	na.size = sd_disk_size(d);
	na.base_vid = snap_vid;
	na.copies = disk_copies(d);
	na.copy_policy = d->inode[SD_INODE_OFF_COPY_POLICY];
	na.block_size_shift = (uint8_t)disk_shift(d);
	na.snapshot = !deleted;
	ret = disk_sync(d, &s);
	if (ret)
		return ret;
	ret = sd_vdi_new(s, &na, &nv);
	sd_client_close(s);
	if (ret)
		return ret;
	ret = disk_sync(d, &s);
	if (ret)
		return ret;
	ret = sd_inode_read(s, nv, d->inode, d->cf);
	sd_client_close(s);
	if (ret)
		return ret;
	ret = disk_check_inode(d, nv);
	if (ret)
		return ret;
	d->vid = nv;
	d->is_snapshot = 0;
	return 0;
}

int sd_disk_write(struct sd_disk *d, uint64_t off, size_t len, const void *buf)
{
	struct piece *p;
	size_t n;
	uint32_t mn = UINT32_MAX, mx = 0;
	int ret, r2;

	if (!disk_range_ok(d, off, len))
		return -EINVAL;
	if (len == 0)
		return 0;
	if (d->is_snapshot) {
		ret = disk_branch(d);
		if (ret)
			return ret;
	}
	p = disk_split(d, off, len, buf, &n);
	if (!p)
		return -ENOMEM;
	ret = disk_pipeline(d, p, n, write_build, write_done);
	if (ret < 0) {
		free(p);
		return ret;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i].create) {
			mn = p[i].idx < mn ? p[i].idx : mn;
			mx = p[i].idx > mx ? p[i].idx : mx;
		}
	}
	free(p);
	d->dirty = 1;
	if (mn == UINT32_MAX)
		return ret;
	/* Index update after all pieces answered, from the in-memory copy. */
	{
		struct sd_req r;
		size_t ioff = SD_INODE_INDEX_OFF + 4 * (size_t)mn;

		obj_req(&r, SD_OP_WRITE_OBJ, sd_inode_oid(d->vid), ioff, 4 * (mx - mn + 1),
			SD_FLAG_CMD_WRITE | d->cf, disk_copies(d));
		r.id = sd_client_next_id(d->a);
		r2 = sd_client_request(d->a, &r, d->inode + ioff, NULL, 0, NULL);
	}
	return ret ? ret : r2;
}

int sd_disk_discard(struct sd_disk *d, uint64_t off, uint64_t len)
{
	uint64_t osz = sd_disk_obj_size(d);
	uint64_t first, end;
	static const uint8_t zero[4];

	if ((off | len) & 511 || !disk_range_ok(d, off, len))
		return -EINVAL;
	first = (off + osz - 1) / osz;          /* wholly covered objects only */
	end = (off + len) / osz;
	for (uint64_t i = first; i < end; i++) {
		struct sd_req r;
		int ret;

		if (sd_inode_slot(d->inode, (uint32_t)i) == 0)
			continue;
		disk_set_slot(d, (uint32_t)i, 0);   /* QEMU zeroes memory first */
		obj_req(&r, SD_OP_WRITE_OBJ, sd_inode_oid(d->vid), SD_INODE_INDEX_OFF + 4 * i, 4,
			SD_FLAG_CMD_WRITE | d->cf, disk_copies(d));
		r.id = sd_client_next_id(d->a);
		ret = sd_client_request(d->a, &r, zero, NULL, 0, NULL);
		if (ret)
			return ret;
		d->dirty = 1;
	}
	return 0;
}

int sd_disk_snapshot(struct sd_disk *d, const char *tag, uint64_t vm_state_size,
		     uint64_t vm_clock_nsec)
{
	struct sd_client *s1, *s2;
	struct sd_vdi_new_args na = { .name = d->name };
	uint8_t hdr[SD_INODE_HEADER_SIZE];
	uint32_t nv;
	size_t tl = tag ? strlen(tag) : 0;
	int ret;

	if (d->is_snapshot || tl > SD_TAG_LEN)
		return -EINVAL;
	memcpy(hdr, d->inode, sizeof(hdr));
	memset(hdr + SD_INODE_OFF_TAG, 0, SD_TAG_LEN);
	if (tl)
		memcpy(hdr + SD_INODE_OFF_TAG, tag, tl);    /* may fill all 256 */
	sd_put64(hdr + SD_INODE_OFF_VM_STATE_SIZE, vm_state_size);
	sd_put64(hdr + SD_INODE_OFF_VM_CLOCK_NSEC, vm_clock_nsec);

	ret = disk_sync(d, &s1);
	if (ret)
		return ret;
	ret = sd_inode_write_header(s1, d->vid, hdr, d->cf, disk_copies(d));
	if (ret)
		goto out;
	ret = disk_sync(d, &s2);
	if (ret)
		goto out;
	na.size = sd_disk_size(d);
	na.base_vid = d->vid;
	na.copies = disk_copies(d);
	na.copy_policy = d->inode[SD_INODE_OFF_COPY_POLICY];
	na.block_size_shift = (uint8_t)disk_shift(d);
	na.snapshot = 1;
	ret = sd_vdi_new(s2, &na, &nv);
	sd_client_close(s2);
	if (ret)
		goto out;
	ret = sd_obj_read(s1, sd_inode_oid(nv), 0, SD_INODE_HEADER_SIZE, hdr, d->cf,
			  disk_copies(d));
	if (ret)
		goto out;
	if (sd_get32(hdr + SD_INODE_OFF_VDI_ID) != nv) {
		ret = -EPROTO;
		goto out;
	}
	/* Only the header is replaced; the index stays (same as V2's, §5.6). */
	memcpy(d->inode, hdr, sizeof(hdr));
	d->vid = nv;
out:
	sd_client_close(s1);
	return ret;
}

int sd_disk_resize(struct sd_disk *d, uint64_t new_size)
{
	struct sd_client *s;
	uint64_t old = sd_disk_size(d);
	uint64_t limit = (uint64_t)sd_disk_obj_size(d) * SD_MAX_DATA_OBJS;
	int ret;

	if (new_size < old || new_size > limit || d->is_snapshot)
		return -EINVAL;
	sd_put64(d->inode + SD_INODE_OFF_VDI_SIZE, new_size);
	ret = disk_sync(d, &s);
	if (!ret) {
		ret = sd_inode_write_header(s, d->vid, d->inode, d->cf, disk_copies(d));
		sd_client_close(s);
	}
	if (ret) {
		sd_put64(d->inode + SD_INODE_OFF_VDI_SIZE, old);
		return ret;
	}
	d->dirty = 1;       /* the block layer counts a resize as a write */
	return 0;
}

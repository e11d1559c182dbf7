/*
 * sdclient.h: a small blocking client for the Sheepdog wire protocol
 * (include/sheepdog_proto.h, shared/spec/sheepdog-protocol.md). Used by the
 * integration tests, the benchmark and sheeptool.
 *
 * Three layers:
 *   1. connections: connect (TCP or unix), one blocking round trip, and a
 *      pipelined send/receive pair for many requests in flight;
 *   2. request wrappers that send what QEMU 5.2 sends (§7): proto_ver,
 *      flags, lengths and payload layout included;
 *   3. a tiny "disk" (struct sd_disk) that opens a VDI and reads, writes,
 *      discards, snapshots and resizes it with QEMU's request sequences.
 *
 * Return convention everywhere: 0 = success, > 0 = the SD_RES_* result code
 * the server sent, < 0 = -errno for local or transport failures (-EPROTO:
 * the server broke the framing, e.g. a reply id or length that does not
 * match; the connection should then be closed). Nothing here exits, prints
 * or keeps global state. A struct sd_client is not thread-safe: use one per
 * thread (or lock around it).
 */
#ifndef SDCLIENT_H
#define SDCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "include/sheepdog_proto.h"

/* ---------------------------------------------------------------- address */

struct sd_addr {
	int is_unix;               /* 1: path is used; 0: host and port */
	char host[256];            /* name or literal; every getaddrinfo result is tried */
	char port[16];             /* decimal */
	char path[108];            /* unix socket path (sun_path size) */
	unsigned timeout_ms;       /* 0: block forever; else SO_RCVTIMEO/SO_SNDTIMEO
	                            * on every connection made from this address
	                            * (a stalled server then gives -EAGAIN) */
};

/* Fill a TCP address (port 0 means SD_DEFAULT_PORT). -EINVAL if too long. */
int sd_addr_tcp(struct sd_addr *a, const char *host, unsigned port);
/* Fill a unix socket address. -EINVAL if the path is empty or too long. */
int sd_addr_unix(struct sd_addr *a, const char *path);
/* Parse "HOST", "HOST:PORT", "[V6]:PORT", "unix:PATH" or "/PATH".
 * -EINVAL on malformed input. */
int sd_addr_parse(struct sd_addr *a, const char *s);

/* ------------------------------------------------------------- connection */

struct sd_client;

/* Connect (TCP_NODELAY on TCP; a->timeout_ms applied). 0 or -errno of the
 * last attempt. */
int sd_client_connect(struct sd_client **out, const struct sd_addr *a);
int sd_client_connect_tcp(struct sd_client **out, const char *host, unsigned port);
int sd_client_connect_unix(struct sd_client **out, const char *path);
/* Close and free; NULL is allowed. */
void sd_client_close(struct sd_client *c);
/* The socket, for poll() or for tests that send raw bytes. */
int sd_client_fd(const struct sd_client *c);
/* Next request id of the connection's counter (starts at 0, wraps). */
uint32_t sd_client_next_id(struct sd_client *c);

/*
 * One blocking round trip. req->data_length is the payload size when
 * req->flags has SD_FLAG_CMD_WRITE (wbuf holds it), else the number of
 * bytes wanted back. The reply payload goes to rbuf (at most rbuf_len
 * bytes; rbuf may be NULL when rbuf_len is 0). A longer reply payload is
 * read and dropped and the call returns -EPROTO; so does a reply whose id
 * differs from req->id. rsp (may be NULL) receives the decoded reply header.
 * Returns rsp->result (0 = SUCCESS, > 0 = SD_RES_*) or -errno.
 */
int sd_client_request(struct sd_client *c, const struct sd_req *req, const void *wbuf,
		      void *rbuf, size_t rbuf_len, struct sd_rsp *rsp);

/* One read-only round trip of opcode op (obj.oid = oid) into a malloc'd
 * buffer of cap bytes offered as the reply buffer (data_length); *len gets
 * the reply's length. The convention above; *buf is NULL unless 0. */
int sd_client_fetch(struct sd_client *c, uint8_t op, uint64_t oid, uint32_t cap, uint8_t **buf,
		    uint32_t *len);
/* Pipelining: send requests back to back, then collect the replies in
 * whatever order the server sends them. */

/* Send the header and, with the WRITE flag, data_length bytes of wbuf.
 * Handles short writes and EINTR. 0 or -errno. */
int sd_client_send(struct sd_client *c, const struct sd_req *req, const void *wbuf);
/* Receive one 48-byte reply header. 0, -ECONNRESET on EOF, or -errno. */
int sd_client_recv_header(struct sd_client *c, struct sd_rsp *rsp);
/* Receive exactly len payload bytes into buf (NULL: read and drop). */
int sd_client_recv_payload(struct sd_client *c, void *buf, size_t len);
/*
 * Receive one whole reply. lookup(ctx, rsp, &buf, &cap) is called with the
 * decoded header and names where the payload goes; it returns 0, or
 * non-zero for an id it does not know (then the payload is dropped and
 * -EPROTO returned). A payload longer than cap is dropped: -EPROTO.
 * Returns 0 when a reply was delivered (its result is in rsp->result).
 */
int sd_client_recv_reply(struct sd_client *c, struct sd_rsp *rsp,
			 int (*lookup)(void *ctx, const struct sd_rsp *rsp, void **buf, size_t *cap),
			 void *ctx);

/* Raw bytes, for tests that send malformed frames. 0 or -errno. */
int sd_client_send_raw(struct sd_client *c, const void *buf, size_t len);
int sd_client_recv_raw(struct sd_client *c, void *buf, size_t len);

/* --------------------------------------------------------------- wrappers */

/* What QEMU sends on each: see the spec section named. All of them use id 0
 * (sync connections). copies==0 means "the VDI's own" for object requests. */

/* §5.10: GET_CLUSTER_DEFAULT (proto_ver 1). Any out pointer may be NULL. */
int sd_cluster_default(struct sd_client *c, uint8_t *copies, uint8_t *policy, uint8_t *shift);

struct sd_vdi_new_args {
	const char *name;           /* < 256 bytes */
	uint64_t size;
	uint32_t base_vid;          /* 0: fresh; else clone/snapshot base */
	uint8_t copies, copy_policy, block_size_shift;  /* 0: defaults */
	int snapshot;               /* sent as snapid 1 */
};
/* §5.6: NEW_VDI. *vid (may be NULL) receives the new working vid. */
int sd_vdi_new(struct sd_client *c, const struct sd_vdi_new_args *args, uint32_t *vid);
/* §5.7 GET_VDI_INFO / LOCK_VDI (proto_ver 1, 512-byte payload). tag may be
 * NULL or ""; snapid 0 = none. *vid (may be NULL) receives the vid found. */
int sd_vdi_info(struct sd_client *c, const char *name, const char *tag, uint32_t snapid,
		uint32_t *vid);
int sd_vdi_lock(struct sd_client *c, const char *name, const char *tag, uint32_t snapid,
		uint32_t *vid);
/* RELEASE_VDI of vid, payload name + NUL. */
int sd_vdi_release(struct sd_client *c, const char *name, uint32_t vid);
/* §5.9 DEL_VDI: 256-byte payload when tag is empty and snapid 0, else 512.
 * *vid (may be NULL) receives the deleted vid. */
int sd_vdi_delete(struct sd_client *c, const char *name, const char *tag, uint32_t snapid,
		  uint32_t *vid);
/* §5.8 READ_VDIS into bm (SD_BITMAP_SIZE bytes). */
int sd_read_vdis(struct sd_client *c, uint8_t *bm);

/* Object I/O. flags: extra flags (SD_FLAG_CMD_CACHE or _DIRECT); WRITE and
 * COW are added as needed. */
int sd_obj_read(struct sd_client *c, uint64_t oid, uint64_t off, uint32_t len, void *buf,
		uint16_t flags, uint8_t copies);
int sd_obj_write(struct sd_client *c, uint64_t oid, uint64_t off, uint32_t len,
		 const void *buf, uint16_t flags, uint8_t copies);
/* CREATE_AND_WRITE_OBJ; cow_oid != 0 sets the COW flag. */
int sd_obj_create(struct sd_client *c, uint64_t oid, uint64_t cow_oid, uint64_t off,
		  uint32_t len, const void *buf, uint16_t flags, uint8_t copies);
/* FLUSH_VDI on inode(vid). */
int sd_vdi_flush(struct sd_client *c, uint32_t vid, uint16_t flags, uint8_t copies);

/* Inode reads: full QEMU view (SD_INODE_SIZE bytes) or the header
 * (SD_INODE_HEADER_SIZE bytes), copies 0 as QEMU sends at open. */
int sd_inode_read(struct sd_client *c, uint32_t vid, uint8_t *buf, uint16_t flags);
int sd_inode_read_header(struct sd_client *c, uint32_t vid, uint8_t *hdr, uint16_t flags);
int sd_inode_write_header(struct sd_client *c, uint32_t vid, const uint8_t *hdr,
			  uint16_t flags, uint8_t copies);

/* Decoded inode header (§4.3). */
struct sd_inode_hdr {
	char name[SD_NAME_LEN + 1];   /* always NUL-terminated */
	char tag[SD_TAG_LEN + 1];
	uint64_t create_time, snap_ctime, vm_clock_nsec, vdi_size, vm_state_size;
	uint8_t copy_policy, store_policy, nr_copies, block_size_shift;
	uint32_t snap_id, vdi_id, parent_vdi_id;
};
/* Decode the first SD_INODE_HEADER_SIZE bytes of an inode. */
void sd_inode_hdr_decode(struct sd_inode_hdr *h, const uint8_t *buf);
/* Index slot i of a full inode buffer. */
static inline uint32_t sd_inode_slot(const uint8_t *inode, uint32_t i)
{
	return sd_get32(inode + SD_INODE_INDEX_OFF + 4 * (size_t)i);
}

/* Text for a return value of this library (SD_RES_* name or strerror). */
const char *sd_client_strerror(int ret);

/* ------------------------------------------------------------------- disk */

struct sd_disk;

enum {
	SD_DISK_DIRECT = 1,         /* flags DIRECT instead of CACHE (cache=none) */
	SD_DISK_NO_LOCK_RELEASE = 2 /* skip RELEASE_VDI at close */
};

/* §7.1 open: connect the async connection, LOCK_VDI on a sync one, read the
 * full inode on another. tag/snapid select a snapshot (opened as one:
 * the first write branches, §7.9). */
int sd_disk_open(struct sd_disk **out, const struct sd_addr *a, const char *name,
		 const char *tag, uint32_t snapid, int flags);
/* §7.12: flush if written, RELEASE_VDI of the current vid, close. Returns
 * the first error but always frees. */
int sd_disk_close(struct sd_disk *d);

uint32_t sd_disk_vid(const struct sd_disk *d);
uint64_t sd_disk_size(const struct sd_disk *d);
uint32_t sd_disk_obj_size(const struct sd_disk *d);
/* The in-memory inode (SD_INODE_SIZE bytes), as QEMU keeps it. */
const uint8_t *sd_disk_inode(const struct sd_disk *d);
/* The async connection (for tests). */
struct sd_client *sd_disk_conn(struct sd_disk *d);

/* §7.3: read; slot 0 reads zeros locally; pieces are pipelined.
 * -EINVAL beyond the disk size. */
int sd_disk_read(struct sd_disk *d, uint64_t off, size_t len, void *buf);
/* §7.4: write; plain WRITE_OBJ / create / COW create per piece, pipelined,
 * then one index update for [min, max] of the created slots. */
int sd_disk_write(struct sd_disk *d, uint64_t off, size_t len, const void *buf);
/* §7.5: FLUSH_VDI (CACHE mode only; INVALID_PARMS switches to DIRECT). */
int sd_disk_flush(struct sd_disk *d);
/* §7.6: every wholly covered, allocated object: slot = 0 (4-byte index
 * write). off and len must be 512-aligned (-EINVAL). */
int sd_disk_discard(struct sd_disk *d, uint64_t off, uint64_t len);
/* §7.7: header write with tag (and vm fields), NEW_VDI snapshot, header
 * re-read; the disk then acts as the new working vid. */
int sd_disk_snapshot(struct sd_disk *d, const char *tag, uint64_t vm_state_size,
		     uint64_t vm_clock_nsec);
/* §7.11: grow only, up to 2^shift * 2^20 (-EINVAL otherwise). */
int sd_disk_resize(struct sd_disk *d, uint64_t new_size);

#endif

/*
 * sheepdog_proto.h: the client-facing Sheepdog wire protocol, as QEMU 5.2's
 * `sheepdog:` driver speaks it. Facts from shared/spec/sheepdog-protocol.md
 * (section numbers below refer to it).
 *
 * All integers on the wire are little-endian. The structs here are the
 * decoded, host-order form; sd_req_decode()/sd_rsp_encode() etc. convert
 * explicitly, so nothing depends on the host's byte order or padding. The
 * static_asserts pin the byte offsets the spec gives.
 */
#ifndef SHEEPDOG_PROTO_H
#define SHEEPDOG_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SD_PROTO_VER            0x02    /* what we put in replies */
#define SD_PROTO_VER_MAX        0x02    /* accepted from clients: 0..2 (§2.6) */
#define SD_REQ_SIZE             48
#define SD_RSP_SIZE             48
#define SD_DEFAULT_PORT         7000

/* §3.1 opcodes */
#define SD_OP_CREATE_AND_WRITE_OBJ  0x01
#define SD_OP_READ_OBJ              0x02
#define SD_OP_WRITE_OBJ             0x03
#define SD_OP_REMOVE_OBJ            0x04
#define SD_OP_DISCARD_OBJ           0x05
#define SD_OP_NEW_VDI               0x11
#define SD_OP_LOCK_VDI              0x12
#define SD_OP_RELEASE_VDI           0x13
#define SD_OP_GET_VDI_INFO          0x14
#define SD_OP_READ_VDIS             0x15
#define SD_OP_FLUSH_VDI             0x16
#define SD_OP_DEL_VDI               0x17
#define SD_OP_GET_CLUSTER_DEFAULT   0x18
/* ours: status of the node (JSON payload), used by sheeptool; >= 0x80 is
 * daemon space in the spec (§10), so clients never collide with it. */
#define SD_OP_SM_STATUS             0xE0
#define SD_OP_SM_MEMBERS            0xE1   /* sheepmesh: membership as JSON (node/gossip.h) */
#define SD_OP_SM_RING               0xE2   /* sheepmesh: the node's epoch, epoch_encode() bytes */
#define SD_OP_SM_LOCKS              0xE3   /* sheepmesh: the node's VDI locks as JSON (doc/sheeptool.md) */
#define SD_OP_SM_OBJECTS            0xE4   /* sheepmesh: the node's object index from obj.oid, JSON pages (node/dispatch_objects.h) */
#define SD_OP_SM_RECOVER            0xE5   /* sheepmesh: start a recovery/anti-entropy pass now (node/dispatch_objects.h) */

/* §3.2 request flags */
#define SD_FLAG_CMD_WRITE       0x0001
#define SD_FLAG_CMD_COW         0x0002
#define SD_FLAG_CMD_CACHE       0x0004
#define SD_FLAG_CMD_DIRECT      0x0008

/* §3.3 result codes */
#define SD_RES_SUCCESS          0x00
#define SD_RES_UNKNOWN          0x01
#define SD_RES_NO_OBJ           0x02
#define SD_RES_EIO              0x03
#define SD_RES_VDI_EXIST        0x04
#define SD_RES_INVALID_PARMS    0x05
#define SD_RES_SYSTEM_ERROR     0x06
#define SD_RES_VDI_LOCKED       0x07
#define SD_RES_NO_VDI           0x08
#define SD_RES_NO_BASE_VDI      0x09
#define SD_RES_VDI_READ         0x0A
#define SD_RES_VDI_WRITE        0x0B
#define SD_RES_BASE_VDI_READ    0x0C
#define SD_RES_BASE_VDI_WRITE   0x0D
#define SD_RES_NO_TAG           0x0E
#define SD_RES_STARTUP          0x0F
#define SD_RES_VDI_NOT_LOCKED   0x10
#define SD_RES_SHUTDOWN         0x11
#define SD_RES_NO_MEM           0x12
#define SD_RES_FULL_VDI         0x13
#define SD_RES_VER_MISMATCH     0x14
#define SD_RES_NO_SPACE         0x15
#define SD_RES_WAIT_FOR_FORMAT  0x16
#define SD_RES_WAIT_FOR_JOIN    0x17
#define SD_RES_JOIN_FAILED      0x18
#define SD_RES_HALT             0x19
#define SD_RES_READONLY         0x1A

/* §4.1 object ids */
#define SD_VDI_BIT              (UINT64_C(1) << 63)
#define SD_VMSTATE_BIT          (UINT64_C(1) << 62)
#define SD_VDI_ATTR_BIT         (UINT64_C(1) << 61)
#define SD_VDI_BTREE_BIT        (UINT64_C(1) << 60)
#define SD_LEDGER_BIT           (UINT64_C(1) << 59)
#define SD_OID_KIND_MASK        (UINT64_C(0xff) << 56)   /* bits 56-63 */
#define SD_VID_SHIFT            32
#define SD_VID_MASK             UINT32_C(0xffffff)

/* §4.2 sizes */
#define SD_NR_VDIS              (UINT32_C(1) << 24)
#define SD_BITMAP_SIZE          (SD_NR_VDIS / 8)          /* 2,097,152 */
#define SD_DEFAULT_SHIFT        22
#define SD_MIN_SHIFT            20
#define SD_MAX_SHIFT            31
#define SD_MAX_DATA_OBJS        (UINT32_C(1) << 20)
#define SD_MAX_COPIES           31
#define SD_NAME_LEN             256
#define SD_TAG_LEN              256

/* §4.3 inode layout (QEMU's view) */
#define SD_INODE_OFF_NAME           0
#define SD_INODE_OFF_TAG            256
#define SD_INODE_OFF_CREATE_TIME    512
#define SD_INODE_OFF_SNAP_CTIME     520
#define SD_INODE_OFF_VM_CLOCK_NSEC  528
#define SD_INODE_OFF_VDI_SIZE       536
#define SD_INODE_OFF_VM_STATE_SIZE  544
#define SD_INODE_OFF_COPY_POLICY    552
#define SD_INODE_OFF_STORE_POLICY   553
#define SD_INODE_OFF_NR_COPIES      554
#define SD_INODE_OFF_BLOCK_SHIFT    555
#define SD_INODE_OFF_SNAP_ID        556
#define SD_INODE_OFF_VDI_ID         560
#define SD_INODE_OFF_PARENT_VDI_ID  564
#define SD_INODE_OFF_CHILDREN       568
#define SD_INODE_CHILDREN_LEN       4096
#define SD_INODE_HEADER_SIZE        4664
#define SD_INODE_INDEX_OFF          SD_INODE_HEADER_SIZE
#define SD_INODE_INDEX_SIZE         (SD_MAX_DATA_OBJS * 4)    /* 4,194,304 */
#define SD_INODE_SIZE               (SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE) /* 4,198,968 */

_Static_assert(SD_INODE_OFF_CHILDREN + SD_INODE_CHILDREN_LEN == SD_INODE_HEADER_SIZE,
	       "inode header is 4664 bytes (spec 4.3)");
_Static_assert(SD_INODE_SIZE == 4198968, "QEMU's inode view is 4,198,968 bytes");
_Static_assert(SD_BITMAP_SIZE == 2097152, "in-use bitmap is 2 MiB (spec 5.2)");

/* Decoded request header (§2.1-2.3). Both variants are kept in one struct;
 * which fields mean something depends on the opcode. */
struct sd_req {
	uint8_t  proto_ver;
	uint8_t  opcode;
	uint16_t flags;
	uint32_t epoch;
	uint32_t id;
	uint32_t data_length;
	/* object variant (opcodes 0x01-0x05, 0x16) */
	struct {
		uint64_t oid;
		uint64_t cow_oid;
		uint8_t  copies;
		uint8_t  copy_policy;
		uint8_t  ec_index;
		uint32_t tgt_epoch;
		uint64_t offset;
	} obj;
	/* VDI variant (opcodes 0x11-0x18) */
	struct {
		uint64_t vdi_size;
		uint32_t base_vdi_id;
		uint8_t  copies;
		uint8_t  copy_policy;
		uint8_t  store_policy;
		uint8_t  block_size_shift;
		uint32_t snapid;
		uint32_t type;
	} vdi;
};

/* Decoded response header (§2.5). */
struct sd_rsp {
	uint8_t  proto_ver;
	uint8_t  opcode;
	uint16_t flags;
	uint32_t epoch;
	uint32_t id;
	uint32_t data_length;
	uint32_t result;
	struct {                /* object response, §2.5.1 */
		uint8_t  copies;
	} obj;
	struct {                /* VDI response, §2.5.2 */
		uint32_t vdi_id;
		uint32_t attr_id;
		uint8_t  copies;
		uint8_t  block_size_shift;
	} vdi;
	struct {                /* cluster default, §2.5.3 */
		uint8_t  nr_copies;
		uint8_t  copy_policy;
		uint8_t  block_size_shift;
	} cluster;
};

/* Wire byte offsets (§2.1-2.5), used by the codec and pinned here. */
enum {
	SD_HDR_OFF_PROTO_VER = 0, SD_HDR_OFF_OPCODE = 1, SD_HDR_OFF_FLAGS = 2,
	SD_HDR_OFF_EPOCH = 4, SD_HDR_OFF_ID = 8, SD_HDR_OFF_DATA_LENGTH = 12,
	/* request, object variant */
	SD_REQ_OFF_OID = 16, SD_REQ_OFF_COW_OID = 24, SD_REQ_OFF_COPIES = 32,
	SD_REQ_OFF_COPY_POLICY = 33, SD_REQ_OFF_EC_INDEX = 34, SD_REQ_OFF_TGT_EPOCH = 36,
	SD_REQ_OFF_OFFSET = 40,
	/* request, VDI variant */
	SD_REQ_OFF_VDI_SIZE = 16, SD_REQ_OFF_BASE_VDI_ID = 24, SD_REQ_OFF_VDI_COPIES = 28,
	SD_REQ_OFF_VDI_COPY_POLICY = 29, SD_REQ_OFF_STORE_POLICY = 30,
	SD_REQ_OFF_BLOCK_SHIFT = 31, SD_REQ_OFF_SNAPID = 32, SD_REQ_OFF_TYPE = 36,
	/* response */
	SD_RSP_OFF_RESULT = 16, SD_RSP_OFF_OBJ_COPIES = 20, SD_RSP_OFF_OBJ_OFFSET = 24,
	SD_RSP_OFF_VDI_ID = 24, SD_RSP_OFF_ATTR_ID = 28, SD_RSP_OFF_VDI_COPIES = 32,
	SD_RSP_OFF_VDI_SHIFT = 33, SD_RSP_OFF_CL_COPIES = 20, SD_RSP_OFF_CL_POLICY = 21,
	SD_RSP_OFF_CL_SHIFT = 22,
};
_Static_assert(SD_REQ_OFF_OFFSET + 8 == SD_REQ_SIZE, "object request header is 48 bytes");
_Static_assert(SD_REQ_OFF_TYPE + 4 + 8 == SD_REQ_SIZE, "vdi request header is 48 bytes");

static inline uint16_t sd_get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t sd_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t sd_get64(const uint8_t *p)
{
	return (uint64_t)sd_get32(p) | (uint64_t)sd_get32(p + 4) << 32;
}
static inline void sd_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void sd_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void sd_put64(uint8_t *p, uint64_t v) { sd_put32(p, (uint32_t)v); sd_put32(p + 4, (uint32_t)(v >> 32)); }

/* Opcodes whose bytes 16-47 are the VDI variant (the rest use the object
 * variant; READ_VDIS leaves them zero). */
static inline int sd_op_is_vdi(uint8_t op) { return op >= SD_OP_NEW_VDI && op <= SD_OP_GET_CLUSTER_DEFAULT && op != SD_OP_FLUSH_VDI; }

/* Decode/encode 48-byte headers. Decoding never fails: validation is the
 * server's job. Encoding clears every byte not named by the struct. */
static inline void sd_req_decode(struct sd_req *r, const uint8_t *b)
{
	memset(r, 0, sizeof(*r));
	r->proto_ver = b[SD_HDR_OFF_PROTO_VER];
	r->opcode = b[SD_HDR_OFF_OPCODE];
	r->flags = sd_get16(b + SD_HDR_OFF_FLAGS);
	r->epoch = sd_get32(b + SD_HDR_OFF_EPOCH);
	r->id = sd_get32(b + SD_HDR_OFF_ID);
	r->data_length = sd_get32(b + SD_HDR_OFF_DATA_LENGTH);
	r->obj.oid = sd_get64(b + SD_REQ_OFF_OID);
	r->obj.cow_oid = sd_get64(b + SD_REQ_OFF_COW_OID);
	r->obj.copies = b[SD_REQ_OFF_COPIES];
	r->obj.copy_policy = b[SD_REQ_OFF_COPY_POLICY];
	r->obj.ec_index = b[SD_REQ_OFF_EC_INDEX];
	r->obj.tgt_epoch = sd_get32(b + SD_REQ_OFF_TGT_EPOCH);
	r->obj.offset = sd_get64(b + SD_REQ_OFF_OFFSET);
	r->vdi.vdi_size = sd_get64(b + SD_REQ_OFF_VDI_SIZE);
	r->vdi.base_vdi_id = sd_get32(b + SD_REQ_OFF_BASE_VDI_ID);
	r->vdi.copies = b[SD_REQ_OFF_VDI_COPIES];
	r->vdi.copy_policy = b[SD_REQ_OFF_VDI_COPY_POLICY];
	r->vdi.store_policy = b[SD_REQ_OFF_STORE_POLICY];
	r->vdi.block_size_shift = b[SD_REQ_OFF_BLOCK_SHIFT];
	r->vdi.snapid = sd_get32(b + SD_REQ_OFF_SNAPID);
	r->vdi.type = sd_get32(b + SD_REQ_OFF_TYPE);
}

/* The variant written is chosen by the opcode (sd_op_is_vdi). */
static inline void sd_req_encode(uint8_t *b, const struct sd_req *r)
{
	memset(b, 0, SD_REQ_SIZE);
	b[SD_HDR_OFF_PROTO_VER] = r->proto_ver;
	b[SD_HDR_OFF_OPCODE] = r->opcode;
	sd_put16(b + SD_HDR_OFF_FLAGS, r->flags);
	sd_put32(b + SD_HDR_OFF_EPOCH, r->epoch);
	sd_put32(b + SD_HDR_OFF_ID, r->id);
	sd_put32(b + SD_HDR_OFF_DATA_LENGTH, r->data_length);
	if (sd_op_is_vdi(r->opcode)) {
		sd_put64(b + SD_REQ_OFF_VDI_SIZE, r->vdi.vdi_size);
		sd_put32(b + SD_REQ_OFF_BASE_VDI_ID, r->vdi.base_vdi_id);
		b[SD_REQ_OFF_VDI_COPIES] = r->vdi.copies;
		b[SD_REQ_OFF_VDI_COPY_POLICY] = r->vdi.copy_policy;
		b[SD_REQ_OFF_STORE_POLICY] = r->vdi.store_policy;
		b[SD_REQ_OFF_BLOCK_SHIFT] = r->vdi.block_size_shift;
		sd_put32(b + SD_REQ_OFF_SNAPID, r->vdi.snapid);
		sd_put32(b + SD_REQ_OFF_TYPE, r->vdi.type);
	} else {
		sd_put64(b + SD_REQ_OFF_OID, r->obj.oid);
		sd_put64(b + SD_REQ_OFF_COW_OID, r->obj.cow_oid);
		b[SD_REQ_OFF_COPIES] = r->obj.copies;
		b[SD_REQ_OFF_COPY_POLICY] = r->obj.copy_policy;
		b[SD_REQ_OFF_EC_INDEX] = r->obj.ec_index;
		sd_put32(b + SD_REQ_OFF_TGT_EPOCH, r->obj.tgt_epoch);
		sd_put64(b + SD_REQ_OFF_OFFSET, r->obj.offset);
	}
}

static inline void sd_rsp_decode(struct sd_rsp *r, const uint8_t *b)
{
	memset(r, 0, sizeof(*r));
	r->proto_ver = b[SD_HDR_OFF_PROTO_VER];
	r->opcode = b[SD_HDR_OFF_OPCODE];
	r->flags = sd_get16(b + SD_HDR_OFF_FLAGS);
	r->epoch = sd_get32(b + SD_HDR_OFF_EPOCH);
	r->id = sd_get32(b + SD_HDR_OFF_ID);
	r->data_length = sd_get32(b + SD_HDR_OFF_DATA_LENGTH);
	r->result = sd_get32(b + SD_RSP_OFF_RESULT);
	r->obj.copies = b[SD_RSP_OFF_OBJ_COPIES];
	r->vdi.vdi_id = sd_get32(b + SD_RSP_OFF_VDI_ID);
	r->vdi.attr_id = sd_get32(b + SD_RSP_OFF_ATTR_ID);
	r->vdi.copies = b[SD_RSP_OFF_VDI_COPIES];
	r->vdi.block_size_shift = b[SD_RSP_OFF_VDI_SHIFT];
	r->cluster.nr_copies = b[SD_RSP_OFF_CL_COPIES];
	r->cluster.copy_policy = b[SD_RSP_OFF_CL_POLICY];
	r->cluster.block_size_shift = b[SD_RSP_OFF_CL_SHIFT];
}

/* The variant written is chosen by the opcode: object replies keep bytes
 * 24-31 (offset) zero as §2.5.1 requires. */
static inline void sd_rsp_encode(uint8_t *b, const struct sd_rsp *r)
{
	memset(b, 0, SD_RSP_SIZE);
	b[SD_HDR_OFF_PROTO_VER] = r->proto_ver;
	b[SD_HDR_OFF_OPCODE] = r->opcode;
	sd_put16(b + SD_HDR_OFF_FLAGS, r->flags);
	sd_put32(b + SD_HDR_OFF_EPOCH, r->epoch);
	sd_put32(b + SD_HDR_OFF_ID, r->id);
	sd_put32(b + SD_HDR_OFF_DATA_LENGTH, r->data_length);
	sd_put32(b + SD_RSP_OFF_RESULT, r->result);
	if (r->opcode == SD_OP_GET_CLUSTER_DEFAULT) {
		b[SD_RSP_OFF_CL_COPIES] = r->cluster.nr_copies;
		b[SD_RSP_OFF_CL_POLICY] = r->cluster.copy_policy;
		b[SD_RSP_OFF_CL_SHIFT] = r->cluster.block_size_shift;
	} else if (sd_op_is_vdi(r->opcode)) {
		sd_put32(b + SD_RSP_OFF_VDI_ID, r->vdi.vdi_id);
		sd_put32(b + SD_RSP_OFF_ATTR_ID, r->vdi.attr_id);
		b[SD_RSP_OFF_VDI_COPIES] = r->vdi.copies;
		b[SD_RSP_OFF_VDI_SHIFT] = r->vdi.block_size_shift;
	} else {
		b[SD_RSP_OFF_OBJ_COPIES] = r->obj.copies;
	}
}

/* Object id helpers (§4.1). */
static inline uint32_t sd_oid_vid(uint64_t oid) { return (uint32_t)(oid >> SD_VID_SHIFT) & SD_VID_MASK; }
static inline uint32_t sd_oid_index(uint64_t oid) { return (uint32_t)oid; }
static inline uint64_t sd_inode_oid(uint32_t vid) { return SD_VDI_BIT | (uint64_t)vid << SD_VID_SHIFT; }
static inline uint64_t sd_data_oid(uint32_t vid, uint32_t idx) { return (uint64_t)vid << SD_VID_SHIFT | idx; }
static inline uint64_t sd_vmstate_oid(uint32_t vid, uint32_t idx) { return SD_VMSTATE_BIT | (uint64_t)vid << SD_VID_SHIFT | idx; }
static inline int sd_oid_is_inode(uint64_t oid) { return (oid & SD_OID_KIND_MASK) == SD_VDI_BIT && (uint32_t)oid == 0; }
static inline int sd_oid_is_data(uint64_t oid) { return (oid & SD_OID_KIND_MASK) == 0; }
static inline int sd_oid_is_vmstate(uint64_t oid) { return (oid & SD_OID_KIND_MASK) == SD_VMSTATE_BIT; }

/* §5.1: 64-bit FNV-1a over the name up to the first NUL (at most len bytes). */
static inline uint64_t sd_fnv1a64(const char *name, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < len && name[i]; i++) {
		h ^= (uint8_t)name[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}
/* Low 24 bits of the hash; 0 is NOT replaced here (callers that allocate
 * use sd_vid_start()). */
static inline uint32_t sd_hash_vid(const char *name, size_t len) { return (uint32_t)sd_fnv1a64(name, len) & SD_VID_MASK; }
static inline uint32_t sd_vid_start(const char *name, size_t len) { uint32_t v = sd_hash_vid(name, len); return v ? v : 1; }

/* §5.2 bitmap: vid n is bit (n & 7) of byte n >> 3. */
static inline int sd_bitmap_test(const uint8_t *bm, uint32_t vid) { return bm[vid >> 3] >> (vid & 7) & 1; }
static inline void sd_bitmap_set(uint8_t *bm, uint32_t vid) { bm[vid >> 3] |= (uint8_t)(1u << (vid & 7)); }

/* Time encoding of inode timestamps: seconds << 32 | nanoseconds. */
static inline uint64_t sd_time_encode(uint64_t sec, uint32_t nsec) { return sec << 32 | nsec; }

/* Names for logs; NULL for codes not in the tables. */
static inline const char *sd_result_name(uint32_t res)
{
	static const char *const names[] = {
		"SUCCESS", "UNKNOWN", "NO_OBJ", "EIO", "VDI_EXIST", "INVALID_PARMS",
		"SYSTEM_ERROR", "VDI_LOCKED", "NO_VDI", "NO_BASE_VDI", "VDI_READ",
		"VDI_WRITE", "BASE_VDI_READ", "BASE_VDI_WRITE", "NO_TAG", "STARTUP",
		"VDI_NOT_LOCKED", "SHUTDOWN", "NO_MEM", "FULL_VDI", "VER_MISMATCH",
		"NO_SPACE", "WAIT_FOR_FORMAT", "WAIT_FOR_JOIN", "JOIN_FAILED", "HALT",
		"READONLY",
	};
	return res < sizeof(names) / sizeof(names[0]) ? names[res] : NULL;
}

static inline const char *sd_opcode_name(uint8_t op)
{
	switch (op) {
	case SD_OP_CREATE_AND_WRITE_OBJ: return "CREATE_AND_WRITE_OBJ";
	case SD_OP_READ_OBJ: return "READ_OBJ";
	case SD_OP_WRITE_OBJ: return "WRITE_OBJ";
	case SD_OP_REMOVE_OBJ: return "REMOVE_OBJ";
	case SD_OP_DISCARD_OBJ: return "DISCARD_OBJ";
	case SD_OP_NEW_VDI: return "NEW_VDI";
	case SD_OP_LOCK_VDI: return "LOCK_VDI";
	case SD_OP_RELEASE_VDI: return "RELEASE_VDI";
	case SD_OP_GET_VDI_INFO: return "GET_VDI_INFO";
	case SD_OP_READ_VDIS: return "READ_VDIS";
	case SD_OP_FLUSH_VDI: return "FLUSH_VDI";
	case SD_OP_DEL_VDI: return "DEL_VDI";
	case SD_OP_GET_CLUSTER_DEFAULT: return "GET_CLUSTER_DEFAULT";
	case SD_OP_SM_STATUS: return "SM_STATUS";
	case SD_OP_SM_MEMBERS: return "SM_MEMBERS";
	case SD_OP_SM_RING: return "SM_RING";
	case SD_OP_SM_LOCKS: return "SM_LOCKS";
	case SD_OP_SM_OBJECTS: return "SM_OBJECTS";
	case SD_OP_SM_RECOVER: return "SM_RECOVER";
	default: return NULL;
	}
}

#endif

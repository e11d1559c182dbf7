/*
 * test_bad_input.c: malformed and hostile input against a real sheepnode.
 * Each test starts its own daemon (--max-object-shift 22, so the largest
 * request payload is the 4,198,968-byte inode), writes a known pattern to
 * the VDI "keep", sends something bad, and then checks on a new
 * connection that the daemon still serves and the pattern is intact.
 * Expected codes: spec §2.6, §3.1, §3.3, §5.6-5.8, §6.1-6.3, §10, §11.
 */
#include <pthread.h>
#include <sys/resource.h>

#include "tests/integration/itest.h"

#define OBJ (UINT32_C(4) << 20)
#define KEEP_LEN 65536
#define KEEP_SEED 7

static const char *const bad_flags[] = { "--max-object-shift", "22", NULL };

static uint32_t keep_vid(void) { return sd_vid_start("keep", SD_NAME_LEN); }

static int bad_setup(void **state)
{
	struct itest_node *n;
	struct sd_addr a;
	struct sd_client *s;
	struct sd_disk *d;
	struct sd_vdi_new_args na = { .name = "keep", .size = UINT64_C(64) << 20 };
	uint8_t buf[KEEP_LEN];
	uint32_t vid;

	if (itest_setup_with(state, bad_flags) != 0)
		return -1;
	n = *state;
	if (!n)
		return 0;
	a = itest_addr(n, NULL);
	if (sd_client_connect(&s, &a) != 0)
		return -1;
	int ret = sd_vdi_new(s, &na, &vid);
	sd_client_close(s);
	if (ret || vid != keep_vid() || sd_disk_open(&d, &a, "keep", NULL, 0, 0) != 0) {
		printf("fixture: NEW_VDI keep: %s\n", sd_client_strerror(ret));
		return -1;
	}
	itest_pattern(buf, sizeof(buf), 0, KEEP_SEED);
	ret = sd_disk_write(d, 0, sizeof(buf), buf);
	if (sd_disk_close(d) || ret) {
		printf("fixture: write keep: %s\n", sd_client_strerror(ret));
		return -1;
	}
	return 0;
}

/* The daemon still answers a new connection and "keep" is intact. */
static void check_service(struct itest_node *n)
{
	struct sd_client *c;
	uint8_t buf[KEEP_LEN], shift = 0;

	assert_true(itest_node_alive(n));
	c = itest_connect(n);
	assert_int_equal(sd_cluster_default(c, NULL, NULL, &shift), 0);
	assert_int_equal(shift, 22);
	assert_int_equal(sd_obj_read(c, sd_data_oid(keep_vid(), 0), 0, KEEP_LEN, buf,
				     SD_FLAG_CMD_CACHE, 0), 0);
	assert_true(itest_pattern_check(buf, KEEP_LEN, 0, KEEP_SEED));
	/* a part no test writes is still zero */
	assert_int_equal(sd_obj_read(c, sd_data_oid(keep_vid(), 0), OBJ / 2, KEEP_LEN, buf,
				     SD_FLAG_CMD_CACHE, 0), 0);
	assert_true(itest_is_zero(buf, KEEP_LEN));
	sd_client_close(c);
}

/* One request with any header; payload sent only with the WRITE flag.
 * Returns the result, checks the id echo and that an error carries no
 * payload (§6.1, §11.5). */
static int raw_request(struct sd_client *c, uint8_t ver, uint8_t op, uint16_t flags,
		       uint32_t len, uint64_t oid, uint64_t off, const void *payload)
{
	struct sd_req r = { .proto_ver = ver, .opcode = op, .flags = flags, .data_length = len };
	struct sd_rsp rsp;
	int ret;

	r.id = 0x5a5a0000u | op;
	r.obj.oid = oid;
	r.obj.offset = off;
	ret = sd_client_request(c, &r, payload, NULL, 0, &rsp);
	if (ret < 0)
		print_error("op %#x ver %u len %u: transport error %s\n", op, ver, len,
			    sd_client_strerror(ret));
	assert_true(ret >= 0);
	assert_int_equal(rsp.id, r.id);
	if (ret)
		assert_int_equal(rsp.data_length, 0);
	return ret;
}

static void test_unknown_opcode(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_client *c = itest_connect(n);
	uint8_t payload[100];

	memset(payload, 0x11, sizeof(payload));
	/* no payload */
	assert_int_equal(raw_request(c, 0, 0x06, 0, 0, 0, 0, NULL), SD_RES_INVALID_PARMS);
	assert_int_equal(raw_request(c, 0, 0x00, 0, 0, 0, 0, NULL), SD_RES_INVALID_PARMS);
	/* with a payload: it must be consumed, the stream keeps its framing (§1.2) */
	assert_int_equal(raw_request(c, 0, 0x7f, SD_FLAG_CMD_WRITE, sizeof(payload), 0, 0, payload),
			 SD_RES_INVALID_PARMS);
	/* daemon-to-daemon space (§10) */
	assert_int_equal(raw_request(c, 0, 0x90, SD_FLAG_CMD_WRITE, sizeof(payload), 0, 0, payload),
			 SD_RES_INVALID_PARMS);
	assert_int_equal(raw_request(c, 0, 0xa4, 0, 4096, sd_data_oid(keep_vid(), 0), 0, NULL),
			 SD_RES_INVALID_PARMS);
	/* with the daemons' own version byte 0x0a: §2.6 checks versions only
	 * below 0x80 and §10 says INVALID_PARMS, but VER_MISMATCH is an
	 * equally safe refusal */
	{
		int ret = raw_request(c, 0x0a, 0xa4, 0, 4096, sd_data_oid(keep_vid(), 0), 0, NULL);

		assert_true(ret == SD_RES_INVALID_PARMS || ret == SD_RES_VER_MISMATCH);
	}
	/* the same connection still works */
	assert_int_equal(sd_cluster_default(c, NULL, NULL, NULL), 0);
	sd_client_close(c);
	check_service(n);
}

static void test_proto_version(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_client *c = itest_connect(n);
	uint8_t payload[512] = "keep";

	for (uint8_t v = 0; v <= 2; v++)       /* §2.6: 0, 1 and 2 accepted */
		assert_int_equal(raw_request(c, v, SD_OP_GET_CLUSTER_DEFAULT, 0, 0, 0, 0, NULL), 0);
	assert_int_equal(raw_request(c, 3, SD_OP_GET_CLUSTER_DEFAULT, 0, 0, 0, 0, NULL),
			 SD_RES_VER_MISMATCH);
	assert_int_equal(raw_request(c, 0xff, SD_OP_READ_OBJ, 0, 512, sd_data_oid(keep_vid(), 0),
				     0, NULL), SD_RES_VER_MISMATCH);
	/* rejected with a payload: consumed, connection usable */
	assert_int_equal(raw_request(c, 0x0a, SD_OP_GET_VDI_INFO, SD_FLAG_CMD_WRITE, sizeof(payload),
				     0, 0, payload), SD_RES_VER_MISMATCH);
	{
		uint32_t vid = 0;

		assert_int_equal(sd_vdi_info(c, "keep", NULL, 0, &vid), 0);
		assert_int_equal(vid, keep_vid());
	}
	sd_client_close(c);
	check_service(n);
}

/* Header claiming a payload above the limit: connection closed (after an
 * optional error reply); other connections unaffected. */
static void over_max(struct itest_node *n, uint8_t op, uint32_t len)
{
	struct sd_client *other = itest_connect(n);
	struct sd_client *c = itest_connect(n);
	struct sd_req r = { .opcode = op, .flags = SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE,
			    .data_length = len };
	uint8_t hdr[SD_REQ_SIZE];
	static uint8_t junk[65536];

	r.obj.oid = sd_data_oid(keep_vid(), 0);
	sd_req_encode(hdr, &r);
	assert_int_equal(sd_client_send_raw(c, hdr, sizeof(hdr)), 0);
	memset(junk, 0xee, sizeof(junk));
	(void)sd_client_send_raw(c, junk, sizeof(junk));    /* may fail: already closed */
	if (!itest_wait_closed(sd_client_fd(c), 10000))
		fail_msg("op %#x with data_length %u: connection not closed within 10 s", op, len);
	sd_client_close(c);
	assert_int_equal(sd_cluster_default(other, NULL, NULL, NULL), 0);
	sd_client_close(other);
}

static void test_write_over_max(void **state)
{
	struct itest_node *n = itest_node(state);

	over_max(n, SD_OP_WRITE_OBJ, UINT32_MAX);
	over_max(n, SD_OP_CREATE_AND_WRITE_OBJ, 8u << 20);
	over_max(n, SD_OP_WRITE_OBJ, SD_INODE_SIZE + 1);
	check_service(n);
}

static void test_read_oversize(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_client *c = itest_connect(n);
	uint64_t oid = sd_data_oid(keep_vid(), 0);

	/* §6.1: beyond the object -> INVALID_PARMS with no payload */
	assert_int_equal(raw_request(c, 0, SD_OP_READ_OBJ, SD_FLAG_CMD_CACHE, UINT32_MAX, oid, 0,
				     NULL), SD_RES_INVALID_PARMS);
	assert_int_equal(raw_request(c, 0, SD_OP_READ_OBJ, SD_FLAG_CMD_CACHE, OBJ + 1, oid, 0,
				     NULL), SD_RES_INVALID_PARMS);
	assert_int_equal(raw_request(c, 0, SD_OP_READ_OBJ, SD_FLAG_CMD_CACHE, 8u << 20, oid, 0,
				     NULL), SD_RES_INVALID_PARMS);
	/* §5.8: READ_VDIS wants exactly the bitmap size */
	assert_int_equal(raw_request(c, 0, SD_OP_READ_VDIS, 0, 4096, 0, 0, NULL),
			 SD_RES_INVALID_PARMS);
	/* the connection keeps working: exactly one object is fine */
	{
		uint8_t *b = malloc(OBJ);

		assert_non_null(b);
		assert_int_equal(sd_obj_read(c, oid, 0, OBJ, b, SD_FLAG_CMD_CACHE, 0), 0);
		assert_true(itest_pattern_check(b, KEEP_LEN, 0, KEEP_SEED));
		free(b);
	}
	sd_client_close(c);
	check_service(n);
}

static void test_offset_outside_object(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_client *c = itest_connect(n);
	uint64_t oid = sd_data_oid(keep_vid(), 0);
	uint8_t b[1024];

	memset(b, 0xcc, sizeof(b));
	assert_int_equal(raw_request(c, 0, SD_OP_READ_OBJ, SD_FLAG_CMD_CACHE, 1024, oid, OBJ - 512,
				     NULL), SD_RES_INVALID_PARMS);
	assert_int_equal(raw_request(c, 0, SD_OP_READ_OBJ, SD_FLAG_CMD_CACHE, 512, oid, OBJ, NULL),
			 SD_RES_INVALID_PARMS);
	/* the high 32 bits of the offset count (QEMU writes 64 bits, §2.2) */
	assert_int_equal(raw_request(c, 0, SD_OP_READ_OBJ, SD_FLAG_CMD_CACHE, 512, oid,
				     UINT64_C(1) << 32, NULL), SD_RES_INVALID_PARMS);
	assert_int_equal(raw_request(c, 0, SD_OP_WRITE_OBJ, SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE,
				     512, oid, UINT64_C(1) << 32, b), SD_RES_INVALID_PARMS);
	assert_int_equal(raw_request(c, 0, SD_OP_WRITE_OBJ, SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE,
				     512, oid, OBJ, b), SD_RES_INVALID_PARMS);
	assert_int_equal(raw_request(c, 0, SD_OP_WRITE_OBJ, SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE,
				     1024, oid, OBJ - 512, b), SD_RES_INVALID_PARMS);
	assert_int_equal(raw_request(c, 0, SD_OP_CREATE_AND_WRITE_OBJ,
				     SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE, 1024,
				     sd_data_oid(keep_vid(), 3), OBJ - 100, b), SD_RES_INVALID_PARMS);
	/* the last sector of the object is fine (then restore it) */
	assert_int_equal(raw_request(c, 0, SD_OP_WRITE_OBJ, SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE,
				     512, oid, OBJ - 512, b), 0);
	assert_int_equal(sd_obj_read(c, oid, OBJ - 512, 512, b + 512, SD_FLAG_CMD_CACHE, 0), 0);
	assert_memory_equal(b, b + 512, 512);
	memset(b, 0, sizeof(b));
	assert_int_equal(sd_obj_write(c, oid, OBJ - 512, 512, b, SD_FLAG_CMD_CACHE, 0), 0);
	sd_client_close(c);
	check_service(n);
}

static void test_oid_without_vdi(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_client *c = itest_connect(n);
	const uint32_t ghost = 0x123456;        /* bit clear: never allocated */
	uint8_t b[512] = { 1, 2, 3 };
	uint8_t *bm;
	int ret;

	assert_int_not_equal(ghost, keep_vid());
	assert_int_equal(raw_request(c, 0, SD_OP_READ_OBJ, SD_FLAG_CMD_CACHE, 512,
				     sd_inode_oid(ghost), 0, NULL), SD_RES_NO_OBJ);
	assert_int_equal(raw_request(c, 0, SD_OP_READ_OBJ, SD_FLAG_CMD_CACHE, 512,
				     sd_data_oid(ghost, 0), 0, NULL), SD_RES_NO_OBJ);
	assert_int_equal(raw_request(c, 0, SD_OP_WRITE_OBJ, SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE,
				     512, sd_data_oid(ghost, 0), 0, b), SD_RES_NO_OBJ);
	assert_int_equal(raw_request(c, 0, SD_OP_WRITE_OBJ, SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE,
				     512, sd_inode_oid(ghost), 0, b), SD_RES_NO_OBJ);
	/* a create needs the owner's inode for the object size (§6.3) */
	ret = raw_request(c, 0, SD_OP_CREATE_AND_WRITE_OBJ, SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE,
			  512, sd_data_oid(ghost, 0), 0, b);
	printf("CREATE_AND_WRITE_OBJ on vid %#x without inode: %s\n", ghost,
	       sd_client_strerror(ret));
	assert_true(ret == SD_RES_NO_VDI || ret == SD_RES_NO_OBJ || ret == SD_RES_INVALID_PARMS);
	ret = raw_request(c, 0, SD_OP_CREATE_AND_WRITE_OBJ, SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE,
			  512, sd_data_oid(0, 0), 0, b);
	assert_true(ret == SD_RES_NO_VDI || ret == SD_RES_NO_OBJ || ret == SD_RES_INVALID_PARMS);
	/* COW from a missing source (§6.3: NO_OBJ or EIO) */
	{
		struct sd_req r = { .opcode = SD_OP_CREATE_AND_WRITE_OBJ, .data_length = 512,
				    .flags = SD_FLAG_CMD_WRITE | SD_FLAG_CMD_COW | SD_FLAG_CMD_CACHE };

		r.obj.oid = sd_data_oid(keep_vid(), 9);
		r.obj.cow_oid = sd_data_oid(ghost, 9);
		ret = sd_client_request(c, &r, b, NULL, 0, NULL);
		assert_true(ret == SD_RES_NO_OBJ || ret == SD_RES_EIO);
	}
	/* creating an inode object is not a client operation (§6.3) */
	assert_int_equal(raw_request(c, 0, SD_OP_CREATE_AND_WRITE_OBJ,
				     SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE, 512, sd_inode_oid(ghost),
				     0, b), SD_RES_INVALID_PARMS);
	/* kinds QEMU never uses: attribute and ledger bits */
	ret = raw_request(c, 0, SD_OP_READ_OBJ, SD_FLAG_CMD_CACHE, 512,
			  SD_VDI_ATTR_BIT | sd_data_oid(keep_vid(), 0), 0, NULL);
	assert_true(ret == SD_RES_INVALID_PARMS || ret == SD_RES_NO_OBJ);
	ret = raw_request(c, 0, SD_OP_READ_OBJ, SD_FLAG_CMD_CACHE, 512,
			  SD_LEDGER_BIT | sd_data_oid(keep_vid(), 0), 0, NULL);
	assert_true(ret == SD_RES_INVALID_PARMS || ret == SD_RES_NO_OBJ);
	/* nothing was allocated by any of this */
	bm = malloc(SD_BITMAP_SIZE);
	assert_non_null(bm);
	assert_int_equal(sd_read_vdis(c, bm), 0);
	assert_false(sd_bitmap_test(bm, ghost));
	assert_true(sd_bitmap_test(bm, keep_vid()));
	free(bm);
	sd_client_close(c);
	check_service(n);
}

static void test_name_without_nul(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_client *c = itest_connect(n);
	uint8_t p[SD_NAME_LEN + SD_TAG_LEN];
	struct sd_req r;
	struct sd_rsp rsp;
	int ret;

	/* 256 name bytes and no NUL: compared over the whole width (§0) */
	memset(p, 'x', SD_NAME_LEN);
	memset(p + SD_NAME_LEN, 0, SD_TAG_LEN);
	memset(&r, 0, sizeof(r));
	r.proto_ver = 1;
	r.opcode = SD_OP_GET_VDI_INFO;
	r.flags = SD_FLAG_CMD_WRITE;
	r.data_length = sizeof(p);
	ret = sd_client_request(c, &r, p, NULL, 0, &rsp);
	assert_true(ret == SD_RES_NO_VDI || ret == SD_RES_INVALID_PARMS);

	memset(&r, 0, sizeof(r));
	r.opcode = SD_OP_NEW_VDI;
	r.flags = SD_FLAG_CMD_WRITE;
	r.data_length = SD_NAME_LEN;
	r.vdi.vdi_size = 1 << 22;
	ret = sd_client_request(c, &r, p, NULL, 0, &rsp);
	printf("NEW_VDI with a 256-byte name: %s\n", sd_client_strerror(ret));
	assert_true(ret == 0 || ret == SD_RES_INVALID_PARMS);
	if (ret == 0) {
		/* accepted: then it is found under the same 256 bytes */
		uint32_t created = rsp.vdi.vdi_id;

		memset(&r, 0, sizeof(r));
		r.proto_ver = 1;
		r.opcode = SD_OP_GET_VDI_INFO;
		r.flags = SD_FLAG_CMD_WRITE;
		r.data_length = sizeof(p);
		assert_int_equal(sd_client_request(c, &r, p, NULL, 0, &rsp), 0);
		assert_int_equal(rsp.vdi.vdi_id, created);
	}
	/* a 256-byte tag without NUL that matches nothing (§5.4 -> NO_TAG) */
	memset(p, 0, SD_NAME_LEN);
	memcpy(p, "keep", 4);
	memset(p + SD_NAME_LEN, 'T', SD_TAG_LEN);
	memset(&r, 0, sizeof(r));
	r.proto_ver = 1;
	r.opcode = SD_OP_GET_VDI_INFO;
	r.flags = SD_FLAG_CMD_WRITE;
	r.data_length = sizeof(p);
	assert_int_equal(sd_client_request(c, &r, p, NULL, 0, &rsp), SD_RES_NO_TAG);
	/* wrong payload lengths (§5.6, §5.7) and an empty name */
	r.data_length = 300;
	assert_int_equal(sd_client_request(c, &r, p, NULL, 0, &rsp), SD_RES_INVALID_PARMS);
	memset(&r, 0, sizeof(r));
	r.opcode = SD_OP_NEW_VDI;
	r.flags = SD_FLAG_CMD_WRITE;
	r.data_length = 100;
	r.vdi.vdi_size = 1 << 22;
	assert_int_equal(sd_client_request(c, &r, p, NULL, 0, &rsp), SD_RES_INVALID_PARMS);
	memset(p, 0, SD_NAME_LEN);
	r.data_length = SD_NAME_LEN;
	assert_int_equal(sd_client_request(c, &r, p, NULL, 0, &rsp), SD_RES_INVALID_PARMS);
	sd_client_close(c);
	check_service(n);
}

static void test_short_payload_then_disconnect(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_client *c = itest_connect(n);
	struct sd_req r = { .opcode = SD_OP_WRITE_OBJ, .flags = SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE,
			    .data_length = KEEP_LEN };
	uint8_t hdr[SD_REQ_SIZE], junk[1000];

	r.obj.oid = sd_data_oid(keep_vid(), 0);
	sd_req_encode(hdr, &r);
	memset(junk, 0xff, sizeof(junk));
	assert_int_equal(sd_client_send_raw(c, hdr, sizeof(hdr)), 0);
	assert_int_equal(sd_client_send_raw(c, junk, sizeof(junk)), 0);
	sd_client_close(c);
	/* a header cut short too */
	c = itest_connect(n);
	assert_int_equal(sd_client_send_raw(c, hdr, 20), 0);
	sd_client_close(c);
	itest_sleep_ms(200);            /* let the daemon see both closes */
	check_service(n);               /* no partial write was applied */
}

static void test_disconnect_in_flight(void **state)
{
	struct itest_node *n = itest_node(state);
	const uint64_t oid = sd_data_oid(keep_vid(), 0);
	const uint32_t base = KEEP_LEN, blk = 4096, nblk = 64;
	uint8_t *buf = malloc((size_t)nblk * blk);

	assert_non_null(buf);
	for (int round = 0; round < 3; round++) {
		struct sd_client *c = itest_connect(n);

		for (uint32_t i = 0; i < nblk; i++) {
			struct sd_req r = { .opcode = SD_OP_WRITE_OBJ, .data_length = blk,
					    .flags = SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE };
			struct sd_req rd = { .opcode = SD_OP_READ_OBJ, .data_length = blk,
					     .flags = SD_FLAG_CMD_CACHE };
			uint8_t b[4096];

			itest_pattern(b, blk, base + (uint64_t)i * blk, 100 + (uint32_t)round);
			r.id = 2 * i;
			r.obj.oid = oid;
			r.obj.offset = base + (uint64_t)i * blk;
			rd.id = 2 * i + 1;
			rd.obj.oid = oid;
			rd.obj.offset = (uint64_t)(i % 16) * blk;
			if (sd_client_send(c, &r, b) || sd_client_send(c, &rd, NULL))
				break;
		}
		sd_client_close(c);     /* without reading a single reply */
	}
	itest_sleep_ms(300);
	check_service(n);
	/* every block is all-old or all-new: never torn (§11.6, §11.7) */
	{
		struct sd_client *c = itest_connect(n);

		assert_int_equal(sd_obj_read(c, oid, base, nblk * blk, buf, SD_FLAG_CMD_CACHE, 0), 0);
		for (uint32_t i = 0; i < nblk; i++) {
			uint8_t *p = buf + (size_t)i * blk;
			uint64_t pos = base + (uint64_t)i * blk;
			int ok = itest_is_zero(p, blk);

			for (uint32_t s = 100; !ok && s < 103; s++) {
				uint8_t want[4096];

				itest_pattern(want, blk, pos, s);
				ok = memcmp(want, p, blk) == 0;
			}
			if (!ok)
				fail_msg("block %u at %llu is torn", i, (unsigned long long)pos);
		}
		sd_client_close(c);
	}
	free(buf);
}

static void test_connection_flood(void **state)
{
	struct itest_node *n = itest_node(state);
	enum { NCONN = 300 };
	int fds[NCONN];
	int complete[NCONN];
	struct rlimit rl;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint8_t hdr[SD_REQ_SIZE];
	struct sd_req r = { .proto_ver = 1, .opcode = SD_OP_GET_CLUSTER_DEFAULT };
	int opened = 0, answered = 0, want = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < NCONN + 64) {
		rl.rlim_cur = rl.rlim_max < NCONN + 64 ? rl.rlim_max : NCONN + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)n->port);
	for (int i = 0; i < NCONN; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		complete[i] = 0;
		if (fds[i] < 0)
			continue;
		if (connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)) != 0) {
			close(fds[i]);
			fds[i] = -1;
			continue;
		}
		opened++;
	}
	printf("opened %d of %d connections\n", opened, NCONN);
	assert_true(opened >= NCONN - 10);
	/* every other one sends a whole request, the rest half a header */
	for (int i = 0; i < NCONN; i++) {
		if (fds[i] < 0)
			continue;
		r.id = (uint32_t)i;
		sd_req_encode(hdr, &r);
		complete[i] = i % 2 == 0;
		ssize_t len = complete[i] ? SD_REQ_SIZE : SD_REQ_SIZE / 2;
		if (send(fds[i], hdr, (size_t)len, MSG_NOSIGNAL) != len)
			complete[i] = 0;
		want += complete[i];
	}
	/* collect the replies */
	uint64_t deadline = itest_now_ms() + 15000;
	for (int i = 0; i < NCONN; i++) {
		uint8_t rb[SD_RSP_SIZE];
		size_t got = 0;

		if (!complete[i])
			continue;
		while (got < sizeof(rb) && itest_now_ms() < deadline) {
			struct pollfd p = { .fd = fds[i], .events = POLLIN };

			if (poll(&p, 1, 100) <= 0)
				continue;
			ssize_t k = recv(fds[i], rb + got, sizeof(rb) - got, 0);
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		if (got == sizeof(rb)) {
			struct sd_rsp rsp;

			sd_rsp_decode(&rsp, rb);
			if (rsp.id == (uint32_t)i && rsp.result == 0 && rsp.cluster.block_size_shift == 22)
				answered++;
		}
	}
	printf("%d of %d complete requests answered\n", answered, want);
	for (int i = 0; i < NCONN; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	assert_int_equal(answered, want);       /* well under --max-connections 1024 */
	itest_sleep_ms(100);
	check_service(n);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, bad_setup, itest_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_unknown_opcode),
		T(test_proto_version),
		T(test_write_over_max),
		T(test_read_oversize),
		T(test_offset_outside_object),
		T(test_oid_without_vdi),
		T(test_name_without_nul),
		T(test_short_payload_then_disconnect),
		T(test_disconnect_in_flight),
		T(test_connection_flood),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

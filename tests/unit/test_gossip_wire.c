/*
 * tests/unit/test_gossip_wire.c: the SWIM body codec (gossip/wire.h):
 * round trips, one rejection per field with its own code, hostile headers,
 * truncation and a seeded mutation fuzz.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <msgpack.h>

#include "gossip/wire.h"

static struct wire_update dec_upd[WIRE_MAX_UPDATES];

static void mk_full(struct wire_update *u, uint8_t tag, int v6)
{
	memset(u, 0, sizeof(*u));
	memset(u->id, tag, SWIM_ID_LEN);
	u->incarnation = 0x123456789ull * tag;
	u->state = SWIM_ALIVE;
	u->full = 1;
	if (v6) {
		u->gossip.family = 6;
		memset(u->gossip.ip, 0x20 + tag, 16);
	} else {
		u->gossip = swim_addr_v4(0x7f000001, 7000);
	}
	u->gossip.port = 7000 + tag;
	u->data = swim_addr_v4(0xc0a80000u + tag, 7000);
	u->meta.weight = 16;
	u->meta.zone = 3;
	u->meta.capacity = 1ull << 40;
	u->meta.generation = 9;
}

static void upd_equal(const struct wire_update *a, const struct wire_update *b)
{
	assert_memory_equal(a->id, b->id, SWIM_ID_LEN);
	assert_int_equal(a->incarnation, b->incarnation);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->full, b->full);
	if (a->full) {
		assert_true(swim_addr_equal(&a->gossip, &b->gossip));
		assert_true(swim_addr_equal(&a->data, &b->data));
		assert_int_equal(a->meta.weight, b->meta.weight);
		assert_int_equal(a->meta.zone, b->meta.zone);
		assert_int_equal(a->meta.capacity, b->meta.capacity);
		assert_int_equal(a->meta.generation, b->meta.generation);
	} else {
		assert_memory_equal(a->from, b->from, SWIM_ID_LEN);
	}
}

static void test_roundtrip(void **state)
{
	struct wire_update u[4];
	struct wire_msg m, d;
	uint8_t buf[2048];
	size_t len;

	(void)state;
	mk_full(&u[0], 1, 0);
	mk_full(&u[1], 2, 1);
	u[1].state = SWIM_DEAD;                 /* full records may carry any state */
	memset(&u[2], 0, sizeof(u[2]));
	memset(u[2].id, 3, SWIM_ID_LEN);
	u[2].state = SWIM_SUSPECT;
	u[2].incarnation = WIRE_COUNTER_MAX;
	memset(u[2].from, 9, SWIM_ID_LEN);
	u[3] = u[2];
	u[3].state = SWIM_LEFT;
	for (uint8_t type = 1; type <= WIRE_TYPE_MAX; type++) {
		memset(&m, 0, sizeof(m));
		m.type = type;
		memset(m.sender, 0x42, SWIM_ID_LEN);
		m.seq = WIRE_COUNTER_MAX - type;
		m.probe = UINT32_MAX;
		m.flags = type == WIRE_PUSHPULL ? (WIRE_PP_REPLY | WIRE_PP_JOIN) : 0;
		if (type == WIRE_PING || type == WIRE_PING_REQ) {
			m.has_target = 1;
			memset(m.target, 0x43, SWIM_ID_LEN);
		}
		if (type == WIRE_PING_REQ)
			m.target_addr = u[1].gossip;
		m.updates = u;
		m.n_updates = 4;
		assert_int_equal(wire_encode(&m, buf, sizeof(buf), &len), 0);
		memset(&d, 0, sizeof(d));
		d.updates = dec_upd;
		assert_int_equal(wire_decode(&d, buf, len), 0);
		assert_int_equal(d.type, type);
		assert_memory_equal(d.sender, m.sender, SWIM_ID_LEN);
		assert_int_equal(d.seq, m.seq);
		assert_int_equal(d.probe, m.probe);
		assert_int_equal(d.flags, m.flags);
		assert_int_equal(d.has_target, m.has_target);
		if (m.has_target)
			assert_memory_equal(d.target, m.target, SWIM_ID_LEN);
		assert_int_equal(d.target_addr.family, m.target_addr.family);
		if (m.target_addr.family)
			assert_true(swim_addr_equal(&d.target_addr, &m.target_addr));
		assert_int_equal(d.n_updates, 4);
		for (int i = 0; i < 4; i++) {
			upd_equal(&u[i], &d.updates[i]);
			assert_int_equal(wire_update_size(&u[i]) <= WIRE_UPDATE_MAX, 1);
		}
	}
}

static void test_encode_limits(void **state)
{
	struct wire_update u[WIRE_MAX_UPDATES + 1];
	struct wire_msg m;
	uint8_t buf[8192];
	size_t len;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = WIRE_GOSSIP;
	m.updates = u;
	for (int i = 0; i <= WIRE_MAX_UPDATES; i++)
		mk_full(&u[i], (uint8_t)i, 1);
	m.n_updates = 1;
	assert_int_equal(wire_encode(&m, buf, 20, &len), -ENOSPC);
	m.n_updates = WIRE_MAX_UPDATES + 1;
	assert_int_equal(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m.n_updates = 1;
	u[0].full = 0;
	u[0].state = SWIM_ALIVE;                /* alive needs a full record */
	assert_int_equal(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	m.type = 0;
	assert_int_equal(wire_encode(&m, buf, sizeof(buf), &len), -EINVAL);
	/* the worst-case update stays under WIRE_UPDATE_MAX */
	mk_full(&u[0], 0xff, 1);
	u[0].data = u[0].gossip;
	u[0].incarnation = WIRE_COUNTER_MAX;
	u[0].meta.capacity = u[0].meta.generation = UINT64_MAX;
	u[0].meta.zone = UINT32_MAX;
	u[0].meta.weight = UINT16_MAX;
	assert_true(wire_update_size(&u[0]) <= WIRE_UPDATE_MAX);
	assert_string_equal(wire_strerror(WIRE_E_TYPE), "wire: unknown message type");
	assert_non_null(wire_strerror(-EINVAL));
}

/* ---- hand-built bodies, one field wrong at a time ---- */

enum fld { F_NONE, F_VER, F_TYPE, F_SENDER, F_SEQ, F_PROBE, F_FLAGS, F_TARGET, F_TADDR, F_UPDS,
           F_UPD_SHAPE, F_UPD_ID, F_UPD_INC, F_UPD_STATE, F_UPD_ADDR, F_UPD_PORT, F_UPD_W, F_UPD_Z,
           F_SHORT_ALIVE, F_SHORT_FROM, F_COUNT8, F_TOO_MANY, F_SEQ_HUGE, F_INC_HUGE };

static void put_addr(msgpack_packer *pk, uint16_t port, int badlen)
{
	uint8_t a[6] = { 10, 0, 0, 1, (uint8_t)(port >> 8), (uint8_t)port };

	msgpack_pack_bin_with_body(pk, a, badlen ? 5 : 6);
}

static size_t build(uint8_t *out, uint8_t type, enum fld bad)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t id[17];
	size_t len;
	uint32_t nupd = bad == F_TOO_MANY ? WIRE_MAX_UPDATES + 1 : 1;

	memset(id, 7, sizeof(id));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, bad == F_COUNT8 ? 8 : 9);
	msgpack_pack_uint64(&pk, bad == F_VER ? 2 : 1);
	msgpack_pack_uint64(&pk, bad == F_TYPE ? 7 : type);
	msgpack_pack_bin_with_body(&pk, id, bad == F_SENDER ? 15 : 16);
	if (bad == F_SEQ)
		msgpack_pack_int64(&pk, -1);
	else if (bad == F_SEQ_HUGE)
		msgpack_pack_uint64(&pk, WIRE_COUNTER_MAX + 1);
	else
		msgpack_pack_uint64(&pk, 5);
	msgpack_pack_uint64(&pk, bad == F_PROBE ? (1ull << 32) : 3);
	msgpack_pack_uint64(&pk, bad == F_FLAGS ? 4 : 0);
	if ((type == WIRE_PING || type == WIRE_PING_REQ) != (bad == F_TARGET))
		msgpack_pack_bin_with_body(&pk, id, 16);
	else
		msgpack_pack_nil(&pk);
	if ((type == WIRE_PING_REQ) != (bad == F_TADDR))
		put_addr(&pk, 7000, 0);
	else
		msgpack_pack_nil(&pk);
	if (bad == F_COUNT8)
		goto done;             /* 8 elements, as declared */
	if (bad == F_UPDS) {
		msgpack_pack_map(&pk, 0);
		goto done;
	}
	msgpack_pack_array(&pk, nupd);
	for (uint32_t i = 0; i < nupd; i++) {
		if (bad == F_SHORT_ALIVE || bad == F_SHORT_FROM) {
			msgpack_pack_array(&pk, 4);
			msgpack_pack_bin_with_body(&pk, id, 16);
			msgpack_pack_uint64(&pk, 1);
			msgpack_pack_uint64(&pk, bad == F_SHORT_ALIVE ? SWIM_ALIVE : SWIM_SUSPECT);
			if (bad == F_SHORT_FROM)
				msgpack_pack_str_with_body(&pk, "nobody-here-16b!", 16);
			else
				msgpack_pack_bin_with_body(&pk, id, 16);
			continue;
		}
		msgpack_pack_array(&pk, bad == F_UPD_SHAPE ? 8 : 9);
		msgpack_pack_bin_with_body(&pk, id, bad == F_UPD_ID ? 17 : 16);
		if (bad == F_UPD_INC)
			msgpack_pack_double(&pk, 1.5);
		else if (bad == F_INC_HUGE)
			msgpack_pack_uint64(&pk, UINT64_MAX);
		else
			msgpack_pack_uint64(&pk, 1);
		msgpack_pack_uint64(&pk, bad == F_UPD_STATE ? 4 : SWIM_ALIVE);
		put_addr(&pk, bad == F_UPD_PORT ? 0 : 7000, bad == F_UPD_ADDR);
		put_addr(&pk, 7000, 0);
		msgpack_pack_uint64(&pk, bad == F_UPD_W ? 65536 : 16);
		msgpack_pack_uint64(&pk, bad == F_UPD_Z ? (1ull << 32) : 0);
		if (bad != F_UPD_SHAPE)
			msgpack_pack_uint64(&pk, 1);
		msgpack_pack_uint64(&pk, 1);
	}
done:
	len = sb.size;
	memcpy(out, sb.data, len);
	msgpack_sbuffer_destroy(&sb);
	return len;
}

static int dec(const uint8_t *buf, size_t len)
{
	struct wire_msg d;

	memset(&d, 0, sizeof(d));
	d.updates = dec_upd;
	return wire_decode(&d, buf, len);
}

static void test_each_field(void **state)
{
	static const struct { uint8_t type; enum fld bad; int code; } cases[] = {
		{ WIRE_ACK, F_NONE, 0 },
		{ WIRE_PING, F_NONE, 0 },
		{ WIRE_PING_REQ, F_NONE, 0 },
		{ WIRE_ACK, F_VER, WIRE_E_VERSION },
		{ WIRE_ACK, F_TYPE, WIRE_E_TYPE },
		{ WIRE_ACK, F_COUNT8, WIRE_E_ENVELOPE },
		{ WIRE_ACK, F_SENDER, WIRE_E_SENDER },
		{ WIRE_ACK, F_SEQ, WIRE_E_SEQ },
		{ WIRE_ACK, F_SEQ_HUGE, WIRE_E_SEQ },
		{ WIRE_ACK, F_INC_HUGE, WIRE_E_UPD_INC },
		{ WIRE_ACK, F_PROBE, WIRE_E_PROBE },
		{ WIRE_ACK, F_FLAGS, WIRE_E_FLAGS },
		{ WIRE_PUSHPULL, F_FLAGS, WIRE_E_FLAGS },
		{ WIRE_PING, F_TARGET, WIRE_E_TARGET },
		{ WIRE_ACK, F_TARGET, WIRE_E_TARGET },
		{ WIRE_PING_REQ, F_TADDR, WIRE_E_TADDR },
		{ WIRE_NACK, F_TADDR, WIRE_E_TADDR },
		{ WIRE_ACK, F_UPDS, WIRE_E_UPDATES },
		{ WIRE_ACK, F_TOO_MANY, WIRE_E_UPDATES },
		{ WIRE_ACK, F_UPD_SHAPE, WIRE_E_UPD_SHAPE },
		{ WIRE_ACK, F_UPD_ID, WIRE_E_UPD_ID },
		{ WIRE_ACK, F_UPD_INC, WIRE_E_UPD_INC },
		{ WIRE_ACK, F_UPD_STATE, WIRE_E_UPD_STATE },
		{ WIRE_ACK, F_UPD_ADDR, WIRE_E_UPD_ADDR },
		{ WIRE_ACK, F_UPD_PORT, WIRE_E_UPD_ADDR },
		{ WIRE_ACK, F_UPD_W, WIRE_E_UPD_META },
		{ WIRE_ACK, F_UPD_Z, WIRE_E_UPD_META },
		{ WIRE_ACK, F_SHORT_ALIVE, WIRE_E_UPD_STATE },
		{ WIRE_ACK, F_SHORT_FROM, WIRE_E_UPD_FROM },
	};
	uint8_t buf[16384];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = build(buf, cases[i].type, cases[i].bad);
		int rc = dec(buf, len);

		if (rc != cases[i].code)
			printf("case %zu: got %d (%s), want %d\n", i, rc, wire_strerror(rc), cases[i].code);
		assert_int_equal(rc, cases[i].code);
	}
}

static void test_hostile_framing(void **state)
{
	/* array32 / map32 / bin32 declaring 2^32-1 elements or bytes: rejected
	 * before msgpack-c would try to allocate for them */
	static const uint8_t arr32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01 };
	static const uint8_t bin32[] = { 0xc6, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t never[] = { 0xc1 };
	static const uint8_t scalar[] = { 0x01 };
	static const uint8_t empty9[] = { 0x99 };
	uint8_t deep[64], buf[4096];
	size_t len;

	(void)state;
	assert_int_equal(dec(arr32, sizeof(arr32)), WIRE_E_PARSE);
	assert_int_equal(dec(map32, sizeof(map32)), WIRE_E_PARSE);
	assert_int_equal(dec(bin32, sizeof(bin32)), WIRE_E_PARSE);
	assert_int_equal(dec(never, sizeof(never)), WIRE_E_PARSE);
	assert_int_equal(dec(empty9, sizeof(empty9)), WIRE_E_PARSE);
	assert_int_equal(dec(NULL, 0), WIRE_E_PARSE);
	assert_int_equal(dec(scalar, sizeof(scalar)), WIRE_E_ENVELOPE);
	memset(deep, 0x91, sizeof(deep));       /* 63 nested 1-arrays */
	deep[63] = 0x01;
	assert_int_equal(dec(deep, sizeof(deep)), WIRE_E_PARSE);
	/* valid body + one byte: trailing; every strict prefix: parse error */
	len = build(buf, WIRE_PING_REQ, F_NONE);
	buf[len] = 0x00;
	assert_int_equal(dec(buf, len + 1), WIRE_E_TRAILING);
	for (size_t l = 0; l < len; l++)
		assert_int_equal(dec(buf, l), WIRE_E_PARSE);
}

/* Seeded mutations of valid bodies: never a crash; what decodes is valid. */
static void test_fuzz(void **state)
{
	uint8_t base[4096], buf[4096];
	uint64_t r = 12345;
	int ok = 0, bad = 0;

	(void)state;
	for (int it = 0; it < 20000; it++) {
		size_t len = build(base, (uint8_t)(1 + it % WIRE_TYPE_MAX), F_NONE), l = len;
		struct wire_msg d;
		int flips;
		int rc;

		memcpy(buf, base, len);
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		flips = 1 + (int)((r >> 60) & 3);
		for (int f = 0; f < flips; f++) {
			r = r * 6364136223846793005ULL + 1442695040888963407ULL;
			buf[(r >> 33) % len] = (uint8_t)(r >> 20);
		}
		if (it % 7 == 0)
			l = (size_t)((r >> 40) % (len + 1));
		memset(&d, 0, sizeof(d));
		d.updates = dec_upd;
		rc = wire_decode(&d, buf, l);
		if (rc == 0) {
			ok++;
			assert_true(d.type >= 1 && d.type <= WIRE_TYPE_MAX);
			assert_true(d.n_updates <= WIRE_MAX_UPDATES);
			for (uint32_t i = 0; i < d.n_updates; i++)
				assert_true(d.updates[i].state <= SWIM_STATE_MAX);
		} else {
			bad++;
			assert_true(rc <= WIRE_E_FIRST && rc > WIRE_E_FIRST - WIRE_E_COUNT);
		}
	}
	printf("# fuzz: %d decoded, %d rejected\n", ok, bad);
	assert_true(bad > 10000);
}

/* The optional 10th field: ring digest.  Carried when set, absent (9-array,
 * byte-identical to a digest-less body) when unset or all zero, and any
 * other value in that slot is rejected with WIRE_E_DIGEST. */
static void test_digest(void **state)
{
	struct wire_update u[1];
	struct wire_msg m, d;
	uint8_t buf[2048], plain[2048];
	size_t len, plen;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	static const uint8_t short_bin[15], long_bin[17];

	(void)state;
	mk_full(&u[0], 1, 0);
	memset(&m, 0, sizeof(m));
	m.type = WIRE_ACK;
	memset(m.sender, 0x42, SWIM_ID_LEN);
	m.seq = 7;
	m.updates = u;
	m.n_updates = 1;
	assert_int_equal(wire_encode(&m, plain, sizeof(plain), &plen), 0);
	assert_int_equal(plain[0], 0x99);                      /* fixarray 9 */
	/* has_digest with an all-zero digest: not sent */
	m.has_digest = 1;
	assert_int_equal(wire_encode(&m, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, plen);
	assert_memory_equal(buf, plain, len);
	/* a real digest: 10-array, 18 bytes more, decoded back */
	for (int i = 0; i < WIRE_DIGEST_LEN; i++)
		m.digest[i] = (uint8_t)(0xA0 + i);
	assert_int_equal(wire_encode(&m, buf, sizeof(buf), &len), 0);
	assert_int_equal(buf[0], 0x9a);
	assert_int_equal(len, plen + 2 + WIRE_DIGEST_LEN);
	memset(&d, 0xff, sizeof(d));
	d.updates = dec_upd;
	assert_int_equal(wire_decode(&d, buf, len), 0);
	assert_int_equal(d.has_digest, 1);
	assert_memory_equal(d.digest, m.digest, WIRE_DIGEST_LEN);
	upd_equal(&u[0], &d.updates[0]);
	/* too small a buffer for the digest: -ENOSPC, never a partial body */
	assert_int_equal(wire_encode(&m, buf, plen + 1, &len), -ENOSPC);
	/* a digest-less body decodes with has_digest = 0 and a zero digest */
	memset(&d, 0xff, sizeof(d));
	d.updates = dec_upd;
	assert_int_equal(wire_decode(&d, plain, plen), 0);
	assert_int_equal(d.has_digest, 0);
	assert_memory_equal(d.digest, (uint8_t[WIRE_DIGEST_LEN]){ 0 }, WIRE_DIGEST_LEN);
	/* garbage in the digest slot: built by hand from the plain body */
	for (int kind = 0; kind < 6; kind++) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_array(&pk, 10);
		msgpack_sbuffer_write(&sb, (const char *)plain + 1, plen - 1);
		switch (kind) {
		case 0: msgpack_pack_nil(&pk); break;
		case 1: msgpack_pack_uint64(&pk, 12345); break;
		case 2: msgpack_pack_str_with_body(&pk, "0123456789abcdef", 16); break;
		case 3: msgpack_pack_bin_with_body(&pk, short_bin, sizeof(short_bin)); break;
		case 4: msgpack_pack_bin_with_body(&pk, long_bin, sizeof(long_bin)); break;
		case 5: msgpack_pack_array(&pk, 0); break;
		}
		assert_int_equal(dec((const uint8_t *)sb.data, sb.size), WIRE_E_DIGEST);
		msgpack_sbuffer_destroy(&sb);
	}
	/* an all-zero bin16 on the wire reads as "no digest" */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 10);
	msgpack_sbuffer_write(&sb, (const char *)plain + 1, plen - 1);
	msgpack_pack_bin_with_body(&pk, long_bin, WIRE_DIGEST_LEN);
	memset(&d, 0xff, sizeof(d));
	d.updates = dec_upd;
	assert_int_equal(wire_decode(&d, (const uint8_t *)sb.data, sb.size), 0);
	assert_int_equal(d.has_digest, 0);
	msgpack_sbuffer_destroy(&sb);
	/* 11 elements: envelope */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 11);
	msgpack_sbuffer_write(&sb, (const char *)buf + 1, plen - 1 + 2 + WIRE_DIGEST_LEN);
	msgpack_pack_nil(&pk);
	assert_int_equal(dec((const uint8_t *)sb.data, sb.size), WIRE_E_ENVELOPE);
	msgpack_sbuffer_destroy(&sb);
	assert_string_equal(wire_strerror(WIRE_E_DIGEST), "wire: ring_digest is not a 16-byte bin");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_each_field),
		cmocka_unit_test(test_hostile_framing),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_digest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

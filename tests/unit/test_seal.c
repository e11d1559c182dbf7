/*
 * tests/unit/test_seal.c: gossip packet envelopes (gossip/seal.h): sealed
 * (XChaCha20-Poly1305 with a keyring) and plain (name + BLAKE2b checksum).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "gossip/seal.h"

static const uint8_t body[] = "a gossip body of some length, not msgpack but seal does not care";
#define BLEN (sizeof(body) - 1)

static void key(uint8_t k[SEAL_KEY_LEN], uint8_t v)
{
	memset(k, v, SEAL_KEY_LEN);
	k[0] = 0x5a;
}

static void nonce(uint8_t n[SEAL_NONCE_LEN], uint8_t v)
{
	memset(n, v, SEAL_NONCE_LEN);
}

static void test_plain(void **state)
{
	struct seal a, b;
	uint8_t n[SEAL_NONCE_LEN], pkt[512], out[512], bad[512];
	size_t len, olen;

	(void)state;
	nonce(n, 1);
	assert_int_equal(seal_init(&a, ""), -EINVAL);
	assert_int_equal(seal_init(&a, "0123456789012345678901234567890123456789012345678901234567890123"), -EINVAL);
	assert_int_equal(seal_init(&a, "sheep"), 0);
	assert_int_equal(seal_overhead(&a), 1 + 1 + 5 + 16);
	assert_int_equal(seal_pack(&a, n, body, BLEN, pkt, sizeof(pkt), &len), 0);
	assert_int_equal(len, BLEN + seal_overhead(&a));
	assert_int_equal(pkt[0], SEAL_TAG_PLAIN);
	assert_int_equal(seal_open(&a, pkt, len, out, sizeof(out), &olen), 0);
	assert_int_equal(olen, BLEN);
	assert_memory_equal(out, body, BLEN);
	/* other cluster name */
	assert_int_equal(seal_init(&b, "goats"), 0);
	assert_int_equal(seal_open(&b, pkt, len, out, sizeof(out), &olen), SEAL_E_NAME);
	assert_int_equal(b.stats.name_mismatch, 1);
	/* any flipped bit after the header: checksum */
	for (size_t i = 7; i < len; i++) {
		memcpy(bad, pkt, len);
		bad[i] ^= 0x10;
		assert_int_equal(seal_open(&a, bad, len, out, sizeof(out), &olen), SEAL_E_CHECKSUM);
	}
	assert_int_equal(a.stats.bad_checksum, len - 7);
	/* truncated */
	for (size_t l = 0; l < len; l++)
		assert_true(seal_open(&a, pkt, l, out, sizeof(out), &olen) < 0);
	/* unknown tag */
	memcpy(bad, pkt, len);
	bad[0] = 0x00;
	assert_int_equal(seal_open(&a, bad, len, out, sizeof(out), &olen), SEAL_E_TAG);
	/* too small an output buffer */
	assert_int_equal(seal_pack(&a, n, body, BLEN, pkt, BLEN, &len), -ENOSPC);
	assert_string_equal(seal_strerror(SEAL_E_OPEN), "seal: authentication failed with every key");
	seal_fini(&a);
	seal_fini(&b);
}

static void test_sealed(void **state)
{
	struct seal a, plain;
	uint8_t k1[SEAL_KEY_LEN], n[SEAL_NONCE_LEN], pkt[512], out[512], bad[512];
	size_t len, olen;

	(void)state;
	key(k1, 1);
	nonce(n, 2);
	assert_int_equal(seal_init(&a, "sheep"), 0);
	assert_int_equal(seal_key_add(&a, k1, 1), 0);
	assert_int_equal(seal_overhead(&a), SEAL_OVERHEAD_SEALED);
	assert_true(SEAL_OVERHEAD_SEALED <= SEAL_OVERHEAD_MAX);
	assert_int_equal(seal_pack(&a, n, body, BLEN, pkt, sizeof(pkt), &len), 0);
	assert_int_equal(len, BLEN + SEAL_OVERHEAD_SEALED);
	assert_int_equal(pkt[0], SEAL_TAG_SEALED);
	/* ciphertext does not contain the body */
	assert_null(memmem(pkt, len, "gossip body", 11));
	assert_int_equal(seal_open(&a, pkt, len, out, sizeof(out), &olen), 0);
	assert_memory_equal(out, body, BLEN);
	/* every single-byte change fails to open (tag byte: mode/tag error) */
	for (size_t i = 1; i < len; i++) {
		memcpy(bad, pkt, len);
		bad[i] ^= 0x01;
		assert_int_equal(seal_open(&a, bad, len, out, sizeof(out), &olen), SEAL_E_OPEN);
	}
	assert_int_equal(a.stats.open_failed, len - 1);
	for (size_t l = 0; l < len; l++)
		assert_true(seal_open(&a, pkt, l, out, sizeof(out), &olen) < 0);
	/* sealed packet at a keyless node and the reverse: mode mismatch */
	assert_int_equal(seal_init(&plain, "sheep"), 0);
	assert_int_equal(seal_open(&plain, pkt, len, out, sizeof(out), &olen), SEAL_E_MODE);
	assert_int_equal(seal_pack(&plain, n, body, BLEN, bad, sizeof(bad), &olen), 0);
	assert_int_equal(seal_open(&a, bad, olen, out, sizeof(out), &len), SEAL_E_MODE);
	assert_int_equal(a.stats.wrong_mode, 1);
	seal_fini(&a);
	seal_fini(&plain);
}

/* The cluster name is authenticated data: same key, other name, no open. */
static void test_name_bound(void **state)
{
	struct seal a, b;
	uint8_t k[SEAL_KEY_LEN], n[SEAL_NONCE_LEN], pkt[512], out[512];
	size_t len, olen;

	(void)state;
	key(k, 3);
	nonce(n, 3);
	assert_int_equal(seal_init(&a, "sheep"), 0);
	assert_int_equal(seal_init(&b, "sheeq"), 0);
	assert_int_equal(seal_key_add(&a, k, 1), 0);
	assert_int_equal(seal_key_add(&b, k, 1), 0);
	assert_int_equal(seal_pack(&a, n, body, BLEN, pkt, sizeof(pkt), &len), 0);
	assert_int_equal(seal_open(&b, pkt, len, out, sizeof(out), &olen), SEAL_E_OPEN);
	seal_fini(&a);
	seal_fini(&b);
}

/* Rotation without downtime: add new everywhere, switch primary, drop old. */
static void test_rotation(void **state)
{
	struct seal a, b;
	uint8_t k1[SEAL_KEY_LEN], k2[SEAL_KEY_LEN], k3[SEAL_KEY_LEN], n[SEAL_NONCE_LEN];
	uint8_t pa[512], pb[512], out[512];
	size_t la, lb, olen;

	(void)state;
	key(k1, 1);
	key(k2, 2);
	key(k3, 3);
	nonce(n, 4);
	assert_int_equal(seal_init(&a, "sheep"), 0);
	assert_int_equal(seal_init(&b, "sheep"), 0);
	assert_int_equal(seal_key_add(&a, k1, 1), 0);
	assert_int_equal(seal_key_add(&b, k1, 1), 0);
	/* step 1: b learns k2 as primary before a has it: a cannot read b */
	assert_int_equal(seal_key_add(&b, k2, 1), 0);
	assert_int_equal(seal_pack(&b, n, body, BLEN, pb, sizeof(pb), &lb), 0);
	assert_int_equal(seal_open(&a, pb, lb, out, sizeof(out), &olen), SEAL_E_OPEN);
	/* the right order: a adds k2 as secondary: reads both, still sends k1 */
	assert_int_equal(seal_key_add(&a, k2, 0), 0);
	assert_int_equal(seal_key_add(&a, k2, 0), -EEXIST);
	assert_int_equal(seal_open(&a, pb, lb, out, sizeof(out), &olen), 0);
	assert_int_equal(seal_pack(&a, n, body, BLEN, pa, sizeof(pa), &la), 0);
	assert_int_equal(seal_open(&b, pa, la, out, sizeof(out), &olen), 0);   /* b still has k1 */
	/* switch a's primary, then both drop k1 */
	assert_int_equal(seal_key_add(&a, k2, 1), 0);
	assert_int_equal(seal_key_remove(&a, k1), 0);
	assert_int_equal(seal_key_remove(&b, k1), 0);
	assert_int_equal(seal_key_remove(&b, k1), -ENOENT);
	assert_int_equal(seal_pack(&a, n, body, BLEN, pa, sizeof(pa), &la), 0);
	assert_int_equal(seal_open(&b, pa, la, out, sizeof(out), &olen), 0);
	assert_memory_equal(out, body, BLEN);
	/* a packet sealed with the dropped key no longer opens */
	{
		struct seal old;
		assert_int_equal(seal_init(&old, "sheep"), 0);
		assert_int_equal(seal_key_add(&old, k1, 1), 0);
		assert_int_equal(seal_pack(&old, n, body, BLEN, pa, sizeof(pa), &la), 0);
		assert_int_equal(seal_open(&b, pa, la, out, sizeof(out), &olen), SEAL_E_OPEN);
		seal_fini(&old);
	}
	/* ring capacity */
	assert_int_equal(seal_key_add(&b, k1, 0), 0);
	assert_int_equal(seal_key_add(&b, k3, 0), 0);
	k3[1] ^= 1;
	assert_int_equal(seal_key_add(&b, k3, 0), 0);
	k3[1] ^= 2;
	assert_int_equal(seal_key_add(&b, k3, 0), -ENOSPC);
	seal_fini(&a);
	seal_fini(&b);
	for (uint32_t i = 0; i < SEAL_MAX_KEYS; i++)
		for (int j = 0; j < SEAL_KEY_LEN; j++)
			assert_int_equal(b.keys[i][j], 0);
}

static void test_random_nonce(void **state)
{
	struct seal a;
	uint8_t k[SEAL_KEY_LEN], p1[512], p2[512], out[512];
	size_t l1, l2, olen;

	(void)state;
	key(k, 9);
	assert_int_equal(seal_init(&a, "sheep"), 0);
	assert_int_equal(seal_key_add(&a, k, 1), 0);
	assert_int_equal(seal_pack_random(&a, body, BLEN, p1, sizeof(p1), &l1), 0);
	assert_int_equal(seal_pack_random(&a, body, BLEN, p2, sizeof(p2), &l2), 0);
	assert_int_equal(l1, l2);
	assert_memory_not_equal(p1 + 1, p2 + 1, SEAL_NONCE_LEN);
	assert_int_equal(seal_open(&a, p2, l2, out, sizeof(out), &olen), 0);
	assert_int_equal(a.stats.packed, 2);
	assert_int_equal(a.stats.opened, 1);
	seal_fini(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_sealed),
		cmocka_unit_test(test_name_bound),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_random_nonce),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

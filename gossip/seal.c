/* gossip/seal.c: gossip packet envelopes (see seal.h). */
#include "gossip/seal.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#define SEAL_SUM_LEN 16

const char *seal_strerror(int code)
{
	switch (code) {
#define SEAL_X_STR(name, val, msg) case name: return msg;
		SEAL_ERRORS(SEAL_X_STR)
#undef SEAL_X_STR
	case 0: return "ok";
	}
	return code < 0 ? strerror(-code) : "seal: unknown code";
}

int seal_init(struct seal *s, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > SEAL_NAME_MAX)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	memset(s, 0, sizeof(*s));
	memcpy(s->name, name, n);
	s->name_len = (uint8_t)n;
	return 0;
}

void seal_fini(struct seal *s)
{
	sodium_memzero(s->keys, sizeof(s->keys));
	s->n_keys = 0;
}

static int seal_key_find(const struct seal *s, const uint8_t *key)
{
	for (uint32_t i = 0; i < s->n_keys; i++)
		if (sodium_memcmp(s->keys[i], key, SEAL_KEY_LEN) == 0)
			return (int)i;
	return -1;
}

int seal_key_add(struct seal *s, const uint8_t key[SEAL_KEY_LEN], int primary)
{
	int i = seal_key_find(s, key);
	uint8_t tmp[SEAL_KEY_LEN];

	if (i < 0) {
		if (s->n_keys == SEAL_MAX_KEYS)
			return -ENOSPC;
		i = (int)s->n_keys++;
		memcpy(s->keys[i], key, SEAL_KEY_LEN);
	} else if (!primary) {
		return -EEXIST;
	}
	if (primary && i > 0) {
		memcpy(tmp, s->keys[0], SEAL_KEY_LEN);
		memcpy(s->keys[0], s->keys[i], SEAL_KEY_LEN);
		memcpy(s->keys[i], tmp, SEAL_KEY_LEN);
		sodium_memzero(tmp, sizeof(tmp));
	}
	return 0;
}

int seal_key_remove(struct seal *s, const uint8_t key[SEAL_KEY_LEN])
{
	int i = seal_key_find(s, key);

	if (i < 0)
		return -ENOENT;
	memmove(s->keys[i], s->keys[i + 1], (size_t)(s->n_keys - (uint32_t)i - 1) * SEAL_KEY_LEN);
	s->n_keys--;
	sodium_memzero(s->keys[s->n_keys], SEAL_KEY_LEN);
	return 0;
}

size_t seal_overhead(const struct seal *s)
{
	return s->n_keys ? SEAL_OVERHEAD_SEALED : (size_t)(1 + 1 + s->name_len + SEAL_SUM_LEN);
}

/* AD of sealed packets: tag || name */
static size_t seal_ad(const struct seal *s, uint8_t ad[1 + SEAL_NAME_MAX])
{
	ad[0] = SEAL_TAG_SEALED;
	memcpy(ad + 1, s->name, s->name_len);
	return 1 + (size_t)s->name_len;
}

static void seal_sum(const uint8_t *hdr, size_t hdrlen, const uint8_t *body, size_t len,
                     uint8_t out[SEAL_SUM_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, SEAL_SUM_LEN);
	crypto_generichash_update(&st, hdr, hdrlen);
	crypto_generichash_update(&st, body, len);
	crypto_generichash_final(&st, out, SEAL_SUM_LEN);
}

int seal_pack(struct seal *s, const uint8_t nonce[SEAL_NONCE_LEN], const uint8_t *in, size_t len,
              uint8_t *out, size_t cap, size_t *outlen)
{
	size_t need = len + seal_overhead(s);

	if (need > cap || need < len)
		return -ENOSPC;
	if (s->n_keys) {
		uint8_t ad[1 + SEAL_NAME_MAX];
		size_t adlen = seal_ad(s, ad);
		unsigned long long clen;

		out[0] = SEAL_TAG_SEALED;
		memcpy(out + 1, nonce, SEAL_NONCE_LEN);
		crypto_aead_xchacha20poly1305_ietf_encrypt(out + 1 + SEAL_NONCE_LEN, &clen, in, len, ad,
		                                           adlen, NULL, nonce, s->keys[0]);
		*outlen = 1 + SEAL_NONCE_LEN + (size_t)clen;
	} else {
		size_t h = 2 + s->name_len;

		out[0] = SEAL_TAG_PLAIN;
		out[1] = s->name_len;
		memcpy(out + 2, s->name, s->name_len);
		memcpy(out + h, in, len);
		seal_sum(out, h, in, len, out + h + len);
		*outlen = h + len + SEAL_SUM_LEN;
	}
	s->stats.packed++;
	return 0;
}

int seal_pack_random(struct seal *s, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                     size_t *outlen)
{
	uint8_t nonce[SEAL_NONCE_LEN];

	randombytes_buf(nonce, sizeof(nonce));
	return seal_pack(s, nonce, in, len, out, cap, outlen);
}

static int seal_open_sealed(struct seal *s, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                            size_t *outlen)
{
	uint8_t ad[1 + SEAL_NAME_MAX];
	size_t adlen = seal_ad(s, ad);
	const uint8_t *nonce = in + 1;
	const uint8_t *c = in + 1 + SEAL_NONCE_LEN;
	size_t clen = len - 1 - SEAL_NONCE_LEN;
	unsigned long long mlen;

	if (clen - 16 > cap)
		return -ENOSPC;
	for (uint32_t i = 0; i < s->n_keys; i++) {
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, c, clen, ad, adlen, nonce,
		                                               s->keys[i]) == 0) {
			*outlen = (size_t)mlen;
			return 0;
		}
	}
	s->stats.open_failed++;
	return SEAL_E_OPEN;
}

static int seal_open_plain(struct seal *s, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                           size_t *outlen)
{
	size_t h = 2 + (size_t)in[1];
	uint8_t sum[SEAL_SUM_LEN];
	size_t blen;

	if (len < h + SEAL_SUM_LEN) {
		s->stats.short_pkt++;
		return SEAL_E_SHORT;
	}
	blen = len - h - SEAL_SUM_LEN;
	if (in[1] != s->name_len || memcmp(in + 2, s->name, s->name_len) != 0) {
		s->stats.name_mismatch++;
		return SEAL_E_NAME;
	}
	seal_sum(in, h, in + h, blen, sum);
	if (memcmp(sum, in + h + blen, SEAL_SUM_LEN) != 0) {
		s->stats.bad_checksum++;
		return SEAL_E_CHECKSUM;
	}
	if (blen > cap)
		return -ENOSPC;
	memcpy(out, in + h, blen);
	*outlen = blen;
	return 0;
}

int seal_open(struct seal *s, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	int rc;

	if (len < 2) {
		s->stats.short_pkt++;
		return SEAL_E_SHORT;
	}
	if (in[0] != SEAL_TAG_SEALED && in[0] != SEAL_TAG_PLAIN) {
		s->stats.bad_tag++;
		return SEAL_E_TAG;
	}
	if ((in[0] == SEAL_TAG_SEALED) != (s->n_keys > 0)) {
		s->stats.wrong_mode++;
		return SEAL_E_MODE;
	}
	if (in[0] == SEAL_TAG_SEALED) {
		if (len < SEAL_OVERHEAD_SEALED) {
			s->stats.short_pkt++;
			return SEAL_E_SHORT;
		}
		rc = seal_open_sealed(s, in, len, out, cap, outlen);
	} else {
		rc = seal_open_plain(s, in, len, out, cap, outlen);
	}
	if (rc == 0)
		s->stats.opened++;
	return rc;
}

/* peer_seal.c: sealing peer requests and replies with the cluster key
 * (node/peer.h, node/PEER.md "Sealing"). No sockets and no clock here: the
 * caller passes the time, so the unit test drives every path.
 *
 * Replay cache: a FIFO ring of the nonces accepted, indexed by an
 * open-addressing table (linear probing, backward-shift deletion) keyed by
 * the nonce's first bytes, which are random. Entries leave from the head
 * when their send time is out of the window, or when the ring is full; in
 * both cases floor_ms rises to the leaver's send time and any request sent
 * at or before floor_ms is refused. So a replay is always caught: either
 * its nonce is still in the ring or its time is at or below the floor (or
 * out of the window). The price of a full ring is refusing requests older
 * than the newest forgotten one; senders retry with a fresh time. Cost: one
 * mutex-held O(1) (expected) lookup per request. */
#include "node/peer.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INDEX_SLOTS (2 * PEER_REPLAY_MAX)   /* load factor <= 1/2 */
#define INDEX_MASK  (INDEX_SLOTS - 1)

_Static_assert(PEER_SEAL_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key length");
_Static_assert(PEER_SEAL_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce length");
_Static_assert(PEER_SEAL_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag length");
_Static_assert((PEER_REPLAY_MAX & (PEER_REPLAY_MAX - 1)) == 0, "PEER_REPLAY_MAX: a power of two");

const char *peer_seal_strerror(int code)
{
	switch (code) {
#define PEER_SEAL_X_MSG(name, val, msg) case name: return msg;
	PEER_SEAL_ERRORS(PEER_SEAL_X_MSG)
#undef PEER_SEAL_X_MSG
	default: return code < 0 ? strerror(-code) : "success";
	}
}

uint64_t peer_seal_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int peer_keys_init(struct peer_keys *k)
{
	memset(k, 0, sizeof(*k));
	if (sodium_init() < 0)
		return -EIO;
	return pthread_mutex_init(&k->mu, NULL) ? -ENOMEM : 0;
}

int peer_keys_set_name(struct peer_keys *k, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > PEER_SEAL_NAME_MAX)
		return -EINVAL;
	memcpy(k->name, name, n + 1);
	k->name_len = (uint8_t)n;
	return 0;
}

int peer_keys_add(struct peer_keys *k, const uint8_t key[PEER_SEAL_KEY_LEN], int primary)
{
	for (unsigned i = 0; i < k->n_keys; i++)
		if (!sodium_memcmp(k->key[i], key, PEER_SEAL_KEY_LEN))
			return -EEXIST;
	if (k->n_keys >= PEER_SEAL_MAX_KEYS)
		return -ENOSPC;
	if (!k->ring) {
		k->ring = calloc(PEER_REPLAY_MAX, sizeof(*k->ring));
		k->index = calloc(INDEX_SLOTS, sizeof(*k->index));
		if (!k->ring || !k->index) {
			free(k->ring);
			free(k->index);
			k->ring = NULL;
			k->index = NULL;
			return -ENOMEM;
		}
	}
	if (primary) {
		memmove(k->key[1], k->key[0], (size_t)k->n_keys * PEER_SEAL_KEY_LEN);
		memcpy(k->key[0], key, PEER_SEAL_KEY_LEN);
	} else {
		memcpy(k->key[k->n_keys], key, PEER_SEAL_KEY_LEN);
	}
	k->n_keys++;
	return 0;
}

void peer_keys_fini(struct peer_keys *k)
{
	sodium_memzero(k->key, sizeof(k->key));
	k->n_keys = 0;
	free(k->ring);
	free(k->index);
	k->ring = NULL;
	k->index = NULL;
	k->count = k->head = 0;
	pthread_mutex_destroy(&k->mu);   /* glibc: fine on a zeroed one too */
}

/* ---- AD ---- */

/* header with id and data_length zeroed, then the name */
static size_t req_ad(const struct peer_keys *k, const struct sd_req *h, uint8_t *ad)
{
	struct sd_req t = *h;

	t.id = 0;
	t.data_length = 0;
	sd_req_encode(ad, &t);
	memcpy(ad + SD_REQ_SIZE, k->name, k->name_len);
	return SD_REQ_SIZE + k->name_len;
}

static size_t rsp_ad(const struct peer_keys *k, const uint8_t req_nonce[PEER_SEAL_NONCE_LEN], uint32_t result,
		     uint16_t flags, uint8_t *ad)
{
	memcpy(ad, req_nonce, PEER_SEAL_NONCE_LEN);
	sd_put32(ad + PEER_SEAL_NONCE_LEN, result);
	ad[PEER_SEAL_NONCE_LEN + 4] = (uint8_t)flags;
	ad[PEER_SEAL_NONCE_LEN + 5] = (uint8_t)(flags >> 8);
	memcpy(ad + PEER_SEAL_NONCE_LEN + 6, k->name, k->name_len);
	return PEER_SEAL_NONCE_LEN + 6 + k->name_len;
}

/* ---- requests ---- */

size_t peer_seal_req(struct peer_keys *k, const struct sd_req *h, uint64_t now_ms,
		     const uint8_t prefix[PEER_PREFIX_LEN], const void *data, uint32_t len, uint8_t *out,
		     uint8_t nonce_out[PEER_SEAL_NONCE_LEN])
{
	uint8_t ad[SD_REQ_SIZE + PEER_SEAL_NAME_MAX];
	size_t adlen = req_ad(k, h, ad);
	uint8_t *m = out + PEER_SEAL_NONCE_LEN;
	size_t mlen = PEER_SEAL_TIME_LEN + PEER_PREFIX_LEN + (size_t)len;

	randombytes_buf(out, PEER_SEAL_NONCE_LEN);
	memcpy(nonce_out, out, PEER_SEAL_NONCE_LEN);
	sd_put64(m, now_ms);
	memcpy(m + PEER_SEAL_TIME_LEN, prefix, PEER_PREFIX_LEN);
	if (len)
		memcpy(m + PEER_SEAL_TIME_LEN + PEER_PREFIX_LEN, data, len);
	/* in place: libsodium's AEADs accept m == c */
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(m, m + mlen, NULL, m, mlen, ad, adlen, NULL, out,
							    k->key[0]);
	return PEER_SEAL_NONCE_LEN + mlen + PEER_SEAL_TAG_LEN;
}

static uint32_t slot_of(const uint8_t nonce[16])
{
	uint32_t h;

	memcpy(&h, nonce, sizeof(h));   /* random bytes: any four will do */
	return h & INDEX_MASK;
}

/* index slot holding ring position pos, or -1 */
static int64_t index_find(const struct peer_keys *k, const uint8_t nonce[16])
{
	for (uint32_t s = slot_of(nonce);; s = (s + 1) & INDEX_MASK) {
		uint32_t v = k->index[s];
		if (!v)
			return -1;
		if (!memcmp(k->ring[v - 1].nonce, nonce, 16))
			return s;
	}
}

/* backward-shift deletion (linear probing): no tombstones */
static void index_del(struct peer_keys *k, uint32_t i)
{
	for (uint32_t j = i;;) {
		j = (j + 1) & INDEX_MASK;
		uint32_t v = k->index[j];
		if (!v)
			break;
		uint32_t home = slot_of(k->ring[v - 1].nonce);
		/* move v into the hole at i unless its home lies cyclically in (i, j] */
		int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!in_range) {
			k->index[i] = v;
			i = j;
		}
	}
	k->index[i] = 0;
}

static void replay_evict_head(struct peer_keys *k)
{
	struct peer_replay_ent *e = &k->ring[k->head];
	int64_t s = index_find(k, e->nonce);

	if (s >= 0)
		index_del(k, (uint32_t)s);
	if (e->ms > k->floor_ms)
		k->floor_ms = e->ms;
	k->head = (k->head + 1) & (PEER_REPLAY_MAX - 1);
	k->count--;
}

/* 0 and recorded, or PEER_SEAL_E_REPLAY / _FORGOTTEN */
static int replay_check(struct peer_keys *k, const uint8_t nonce[PEER_SEAL_NONCE_LEN], uint64_t ms,
			uint64_t now_ms)
{
	int rc = 0;

	pthread_mutex_lock(&k->mu);
	while (k->count && k->ring[k->head].ms + PEER_SEAL_WINDOW_MS < now_ms)
		replay_evict_head(k);
	if (ms <= k->floor_ms) {
		rc = PEER_SEAL_E_FORGOTTEN;
	} else if (index_find(k, nonce) >= 0) {
		rc = PEER_SEAL_E_REPLAY;
	} else {
		if (k->count == PEER_REPLAY_MAX)
			replay_evict_head(k);
		uint32_t pos = (k->head + k->count) & (PEER_REPLAY_MAX - 1);
		memcpy(k->ring[pos].nonce, nonce, 16);
		k->ring[pos].ms = ms;
		k->count++;
		uint32_t s = slot_of(nonce);
		while (k->index[s])
			s = (s + 1) & INDEX_MASK;
		k->index[s] = pos + 1;
	}
	pthread_mutex_unlock(&k->mu);
	return rc;
}

/* Decrypt c[clen] in place with the first key of the ring that opens it.
 * libsodium zeroes the output when the tag is wrong, which in place would
 * destroy the ciphertext for the next key: so every key but the last is
 * tried first without output (tag check only). A one-key ring (the usual
 * case) costs one pass; during a rotation, two for the old key. */
static int open_any(struct peer_keys *k, uint8_t *c, size_t clen, const uint8_t *tag, const uint8_t *ad,
		    size_t adlen, const uint8_t *nonce)
{
	uint8_t none;

	if (!c)   /* an empty payload may come without a buffer; libsodium wants one */
		c = &none;
	for (unsigned i = 0; i < k->n_keys; i++) {
		if (i + 1 < k->n_keys &&
		    crypto_aead_xchacha20poly1305_ietf_decrypt_detached(NULL, NULL, c, clen, tag, ad, adlen, nonce,
									k->key[i]) != 0)
			continue;
		if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(c, NULL, c, clen, tag, ad, adlen, nonce,
									k->key[i]) == 0)
			return 0;
	}
	return -1;
}

int peer_open_req(struct peer_keys *k, const struct sd_req *h, uint64_t now_ms, uint8_t *in, size_t len,
		  uint8_t **body, size_t *body_len, uint8_t nonce_out[PEER_SEAL_NONCE_LEN])
{
	int sealed = (h->flags & PEER_FLAG_SEALED) != 0;

	memset(nonce_out, 0, PEER_SEAL_NONCE_LEN);
	if (sealed != peer_keys_sealed(k))
		return sealed ? PEER_SEAL_E_NOKEY : PEER_SEAL_E_PLAIN;
	if (!sealed) {
		*body = in;
		*body_len = len;
		return 0;
	}
	if (len < PEER_SEAL_REQ_OVERHEAD + PEER_PREFIX_LEN)
		return PEER_SEAL_E_SHORT;

	uint8_t ad[SD_REQ_SIZE + PEER_SEAL_NAME_MAX];
	size_t adlen = req_ad(k, h, ad);
	uint8_t *c = in + PEER_SEAL_NONCE_LEN;
	size_t clen = len - PEER_SEAL_NONCE_LEN - PEER_SEAL_TAG_LEN;
	const uint8_t *tag = c + clen;

	if (open_any(k, c, clen, tag, ad, adlen, in) < 0)
		return PEER_SEAL_E_OPEN;

	uint64_t ms = sd_get64(c);
	if (ms + PEER_SEAL_WINDOW_MS < now_ms)
		return PEER_SEAL_E_OLD;
	if (ms > now_ms + PEER_SEAL_WINDOW_MS)
		return PEER_SEAL_E_FUTURE;
	int rc = replay_check(k, in, ms, now_ms);
	if (rc < 0)
		return rc;
	memcpy(nonce_out, in, PEER_SEAL_NONCE_LEN);
	*body = c + PEER_SEAL_TIME_LEN;
	*body_len = clen - PEER_SEAL_TIME_LEN;
	return 0;
}

/* ---- replies ---- */

size_t peer_seal_rsp(struct peer_keys *k, const uint8_t req_nonce[PEER_SEAL_NONCE_LEN], uint32_t result,
		     uint16_t flags, const void *in, size_t len, uint8_t *out)
{
	uint8_t ad[PEER_SEAL_NONCE_LEN + 6 + PEER_SEAL_NAME_MAX];
	size_t adlen = rsp_ad(k, req_nonce, result, flags, ad);
	uint8_t *c = out + PEER_SEAL_NONCE_LEN;

	randombytes_buf(out, PEER_SEAL_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(c, c + len, NULL, in, len, ad, adlen, NULL, out,
							    k->key[0]);
	return len + PEER_SEAL_RSP_OVERHEAD;
}

int peer_open_rsp(struct peer_keys *k, const uint8_t req_nonce[PEER_SEAL_NONCE_LEN], uint32_t result,
		  uint16_t flags, const uint8_t nonce[PEER_SEAL_NONCE_LEN], uint8_t *buf, size_t len,
		  const uint8_t tag[PEER_SEAL_TAG_LEN])
{
	uint8_t ad[PEER_SEAL_NONCE_LEN + 6 + PEER_SEAL_NAME_MAX];
	size_t adlen = rsp_ad(k, req_nonce, result, flags, ad);

	return open_any(k, buf, len, tag, ad, adlen, nonce) < 0 ? PEER_SEAL_E_OPEN : 0;
}

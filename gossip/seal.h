/*
 * gossip/seal.h: packet sealing for gossip (libsodium), outside the SWIM
 * core so the core stays deterministic: the adapter seals what swim's send
 * callback hands it and opens what the socket delivers before
 * swim_on_packet().  Nonces come from the caller (seal_pack) or from
 * randombytes_buf (seal_pack_random, for the daemon).
 *
 * Two modes, chosen by whether the keyring holds a key:
 *
 *  sealed  [0xA1][nonce 24][XChaCha20-Poly1305-IETF(body) + tag 16]
 *          AD = 0xA1 || cluster name, so a packet of another cluster that
 *          happens to share the key does not open either.  Sent with the
 *          primary key; received with any key of the ring (rotation: add
 *          the new key everywhere, make it primary everywhere, then
 *          remove the old one).
 *  plain   [0xA2][name_len 1][name][body][BLAKE2b-128(0xA2, name_len, name, body)]
 *          integrity and cluster separation only, no authenticity: anyone
 *          on the LAN can forge these.  The adapter warns once.
 *
 * A sealed node rejects plain packets and vice versa.  Every rejection is
 * counted in seal.stats.  Keys live in caller memory and are wiped by
 * seal_fini().  No globals; seal_init() calls sodium_init() (idempotent).
 */
#ifndef SHEEPMESH_GOSSIP_SEAL_H
#define SHEEPMESH_GOSSIP_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_LEN       32
#define SEAL_NONCE_LEN     24
#define SEAL_MAX_KEYS      4
#define SEAL_NAME_MAX      63
#define SEAL_TAG_SEALED    0xA1
#define SEAL_TAG_PLAIN     0xA2
#define SEAL_OVERHEAD_SEALED (1 + SEAL_NONCE_LEN + 16)
#define SEAL_OVERHEAD_MAX  (1 + 1 + SEAL_NAME_MAX + 16)   /* plain with the longest name: 81 */

#define SEAL_ERRORS(X)                                                              \
	X(SEAL_E_SHORT, -5201, "seal: packet shorter than its envelope")            \
	X(SEAL_E_TAG, -5202, "seal: unknown envelope tag")                           \
	X(SEAL_E_MODE, -5203, "seal: plain packet with a keyring, or sealed without") \
	X(SEAL_E_OPEN, -5204, "seal: authentication failed with every key")         \
	X(SEAL_E_NAME, -5205, "seal: cluster name differs")                         \
	X(SEAL_E_CHECKSUM, -5206, "seal: checksum mismatch")

enum seal_error {
#define SEAL_X_ENUM(name, val, msg) name = (val),
	SEAL_ERRORS(SEAL_X_ENUM)
#undef SEAL_X_ENUM
};

struct seal_stats {
	uint64_t packed, opened;
	uint64_t short_pkt, bad_tag, wrong_mode, open_failed, name_mismatch, bad_checksum;
};

struct seal {
	uint8_t  keys[SEAL_MAX_KEYS][SEAL_KEY_LEN];   /* keys[0] is the primary */
	uint32_t n_keys;
	uint8_t  name_len;
	char     name[SEAL_NAME_MAX + 1];
	struct seal_stats stats;
};

/* Message for a SEAL_E_* code or -errno. */
const char *seal_strerror(int code);

/* Plain mode with this cluster name (1..63 bytes). 0, -EINVAL, -EIO (sodium_init). */
int seal_init(struct seal *s, const char *cluster_name);
/* Wipe keys. */
void seal_fini(struct seal *s);
/* Add a key; primary != 0 makes it the sending key. 0, -EEXIST, -ENOSPC. */
int seal_key_add(struct seal *s, const uint8_t key[SEAL_KEY_LEN], int primary);
/* Remove a key (the next one becomes primary). 0 or -ENOENT. */
int seal_key_remove(struct seal *s, const uint8_t key[SEAL_KEY_LEN]);
/* Bytes added to a body in the current mode. */
size_t seal_overhead(const struct seal *s);

/*
 * Wrap body in[len] into out[cap] (no aliasing). nonce is used in sealed
 * mode only and must never repeat under one key (24 random bytes).
 * 0 and *outlen, or -ENOSPC.
 */
int seal_pack(struct seal *s, const uint8_t nonce[SEAL_NONCE_LEN], const uint8_t *in, size_t len,
              uint8_t *out, size_t cap, size_t *outlen);
/* Same with a fresh randombytes_buf() nonce (daemon use). */
int seal_pack_random(struct seal *s, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                     size_t *outlen);
/*
 * Unwrap in[len] into out[cap] (cap >= len is always enough).
 * 0 and *outlen (the body), or SEAL_E_* (counted), or -ENOSPC.
 */
int seal_open(struct seal *s, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);

#endif

/* test_node_peerseal.c: sealing of the peer protocol with the cluster key
 * (node/peer_seal.c): round trips, every authenticated header field,
 * keys and rotation, the time window, replays, truncation, mode mismatch,
 * replies bound to their request, and the replay cache's eviction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/peer.h"

#define T0 1764806400000ull   /* a send time, ms */
#define DATA_LEN 1000

static const char *NAME = "testcluster";

static void key_fill(uint8_t k[PEER_SEAL_KEY_LEN], uint8_t seed)
{
	for (int i = 0; i < PEER_SEAL_KEY_LEN; i++)
		k[i] = (uint8_t)(seed * 31 + i);
}

/* a ring of keys with these seeds, first = primary */
static void ring_init(struct peer_keys *k, const char *name, const uint8_t *seeds, int n)
{
	assert_int_equal(peer_keys_init(k), 0);
	if (!n)
		return;
	assert_int_equal(peer_keys_set_name(k, name), 0);
	for (int i = 0; i < n; i++) {
		uint8_t key[PEER_SEAL_KEY_LEN];
		key_fill(key, seeds[i]);
		assert_int_equal(peer_keys_add(k, key, 0), 0);   /* appended: first stays primary */
	}
}

static void hdr_init(struct sd_req *h)
{
	memset(h, 0, sizeof(*h));
	h->proto_ver = SD_PROTO_VER;
	h->opcode = SD_OP_PEER_WRITE_OBJ;
	h->flags = SD_FLAG_CMD_WRITE | PEER_FLAG_SEALED;
	h->epoch = 17;
	h->id = 99;
	h->obj.oid = 0x00abcdef00000007ull;
	h->obj.cow_oid = 0x00abcdef00000003ull;
	h->obj.copies = 3;
	h->obj.offset = 4096;
}

struct msg {
	uint8_t prefix[PEER_PREFIX_LEN];
	uint8_t data[DATA_LEN];
	uint8_t buf[PEER_SEAL_REQ_OVERHEAD + PEER_PREFIX_LEN + DATA_LEN];
	size_t len;
	uint8_t nonce[PEER_SEAL_NONCE_LEN];
};

static void msg_seal(struct msg *m, struct peer_keys *k, const struct sd_req *h, uint64_t now)
{
	struct peer_prefix p = { .version = 12345, .arg = 0 };

	memset(p.digest, 0x5a, sizeof(p.digest));
	peer_prefix_encode(m->prefix, &p);
	for (int i = 0; i < DATA_LEN; i++)
		m->data[i] = (uint8_t)(i * 13);
	m->len = peer_seal_req(k, h, now, m->prefix, m->data, DATA_LEN, m->buf, m->nonce);
	assert_int_equal(m->len, sizeof(m->buf));
}

/* open a copy (opening works in place) */
static int msg_open(const struct msg *m, size_t len, struct peer_keys *k, const struct sd_req *h,
		    uint64_t now, uint8_t *copy)
{
	uint8_t *body;
	size_t blen;
	uint8_t nonce[PEER_SEAL_NONCE_LEN];

	memcpy(copy, m->buf, len);
	int rc = peer_open_req(k, h, now, copy, len, &body, &blen, nonce);
	if (rc == 0) {
		assert_int_equal(blen, PEER_PREFIX_LEN + DATA_LEN);
		assert_memory_equal(body, m->prefix, PEER_PREFIX_LEN);
		assert_memory_equal(body + PEER_PREFIX_LEN, m->data, DATA_LEN);
		assert_memory_equal(nonce, m->nonce, PEER_SEAL_NONCE_LEN);
	}
	return rc;
}

static void test_roundtrip(void **state)
{
	(void)state;
	uint8_t s1[] = { 1 };
	struct peer_keys tx, rx;
	struct sd_req h;
	static struct msg m;
	static uint8_t copy[sizeof(m.buf)];

	ring_init(&tx, NAME, s1, 1);
	ring_init(&rx, NAME, s1, 1);
	hdr_init(&h);
	msg_seal(&m, &tx, &h, T0);
	/* the plaintext does not appear in the sealed bytes */
	assert_null(memmem(m.buf, m.len, m.data, 64));
	assert_int_equal(msg_open(&m, m.len, &rx, &h, T0 + 5, copy), 0);

	/* id and data_length are outside the AD: a retry on another connection
	 * (new id) sends the same sealed bytes */
	struct sd_req h2 = h;
	h2.id = 1234;
	h2.data_length = (uint32_t)m.len;
	msg_seal(&m, &tx, &h, T0);
	assert_int_equal(msg_open(&m, m.len, &rx, &h2, T0, copy), 0);

	/* reply bound to the request's nonce, result and flags */
	uint8_t payload[300], sealed[300 + PEER_SEAL_RSP_OVERHEAD], b[300];
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i ^ 0x33);
	uint16_t fl = PEER_FLAG_SEALED | PEER_RSP_UNVERIFIED;
	size_t n = peer_seal_rsp(&rx, m.nonce, SD_RES_SUCCESS, fl, payload, sizeof(payload), sealed);
	assert_int_equal(n, sizeof(sealed));
	const uint8_t *tag = sealed + PEER_SEAL_NONCE_LEN + sizeof(payload);
	memcpy(b, sealed + PEER_SEAL_NONCE_LEN, sizeof(b));
	assert_int_equal(peer_open_rsp(&tx, m.nonce, SD_RES_SUCCESS, fl, sealed, b, sizeof(b), tag), 0);
	assert_memory_equal(b, payload, sizeof(b));
	/* another request's nonce, another result, other flags: refused */
	uint8_t other[PEER_SEAL_NONCE_LEN];
	memcpy(other, m.nonce, sizeof(other));
	other[0] ^= 1;
	memcpy(b, sealed + PEER_SEAL_NONCE_LEN, sizeof(b));
	assert_int_equal(peer_open_rsp(&tx, other, SD_RES_SUCCESS, fl, sealed, b, sizeof(b), tag), PEER_SEAL_E_OPEN);
	memcpy(b, sealed + PEER_SEAL_NONCE_LEN, sizeof(b));
	assert_int_equal(peer_open_rsp(&tx, m.nonce, SD_RES_EIO, fl, sealed, b, sizeof(b), tag), PEER_SEAL_E_OPEN);
	memcpy(b, sealed + PEER_SEAL_NONCE_LEN, sizeof(b));
	assert_int_equal(peer_open_rsp(&tx, m.nonce, SD_RES_SUCCESS, PEER_FLAG_SEALED, sealed, b, sizeof(b), tag),
			 PEER_SEAL_E_OPEN);
	/* a byte of the payload changed: refused */
	memcpy(b, sealed + PEER_SEAL_NONCE_LEN, sizeof(b));
	b[150] ^= 0x80;
	assert_int_equal(peer_open_rsp(&tx, m.nonce, SD_RES_SUCCESS, fl, sealed, b, sizeof(b), tag), PEER_SEAL_E_OPEN);
	/* an empty reply (a write's SUCCESS) is sealed too: 40 bytes */
	uint8_t empty[PEER_SEAL_RSP_OVERHEAD];
	assert_int_equal(peer_seal_rsp(&rx, m.nonce, SD_RES_SUCCESS, PEER_FLAG_SEALED, NULL, 0, empty),
			 PEER_SEAL_RSP_OVERHEAD);
	assert_int_equal(peer_open_rsp(&tx, m.nonce, SD_RES_SUCCESS, PEER_FLAG_SEALED, empty, NULL, 0,
				       empty + PEER_SEAL_NONCE_LEN), 0);
	assert_int_equal(peer_open_rsp(&tx, other, SD_RES_SUCCESS, PEER_FLAG_SEALED, empty, NULL, 0,
				       empty + PEER_SEAL_NONCE_LEN), PEER_SEAL_E_OPEN);
	peer_keys_fini(&tx);
	peer_keys_fini(&rx);
}

static void test_ad_fields(void **state)
{
	(void)state;
	uint8_t s1[] = { 1 };
	struct peer_keys tx, rx, rx_name;
	struct sd_req h;
	static struct msg m;
	static uint8_t copy[sizeof(m.buf)];

	ring_init(&tx, NAME, s1, 1);
	ring_init(&rx, NAME, s1, 1);
	ring_init(&rx_name, "othercluster", s1, 1);
	hdr_init(&h);
	msg_seal(&m, &tx, &h, T0);
	for (int f = 0; f < 9; f++) {
		struct sd_req t = h;
		switch (f) {
		case 0: t.opcode = SD_OP_PEER_CREATE_OBJ; break;
		case 1: t.flags |= SD_FLAG_CMD_COW; break;
		case 2: t.obj.oid ^= 1; break;
		case 3: t.obj.cow_oid ^= 1ull << 40; break;
		case 4: t.obj.offset += 512; break;
		case 5: t.epoch++; break;
		case 6: t.proto_ver++; break;
		case 7: t.obj.copies = 2; break;
		case 8: t.obj.tgt_epoch = 5; break;
		}
		assert_int_equal(msg_open(&m, m.len, &rx, &t, T0, copy), PEER_SEAL_E_OPEN);
	}
	/* another cluster name, same key */
	assert_int_equal(msg_open(&m, m.len, &rx_name, &h, T0, copy), PEER_SEAL_E_OPEN);
	/* a flipped bit anywhere in nonce, time, prefix, data or tag */
	size_t where[] = { 0, 23, 24, 31, 32, 60, 63, 64, 500, m.len - 17, m.len - 16, m.len - 1 };
	for (unsigned i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		struct msg t = m;
		t.buf[where[i]] ^= 0x01;
		assert_int_equal(msg_open(&t, t.len, &rx, &h, T0, copy), PEER_SEAL_E_OPEN);
	}
	/* none of those was recorded: the genuine one still opens once */
	assert_int_equal(msg_open(&m, m.len, &rx, &h, T0, copy), 0);
	peer_keys_fini(&tx);
	peer_keys_fini(&rx);
	peer_keys_fini(&rx_name);
}

static void test_keys(void **state)
{
	(void)state;
	uint8_t s1[] = { 1 }, s2[] = { 2 }, rot_new_first[] = { 2, 1 }, rot_old_first[] = { 1, 2 };
	struct peer_keys k1, k2, r21, r12;
	struct sd_req h;
	static struct msg m;
	static uint8_t copy[sizeof(m.buf)];

	ring_init(&k1, NAME, s1, 1);
	ring_init(&k2, NAME, s2, 1);
	ring_init(&r21, NAME, rot_new_first, 2);
	ring_init(&r12, NAME, rot_old_first, 2);
	hdr_init(&h);
	/* wrong key */
	msg_seal(&m, &k1, &h, T0);
	assert_int_equal(msg_open(&m, m.len, &k2, &h, T0, copy), PEER_SEAL_E_OPEN);
	/* rotation: the old key second in the ring still opens, the new one
	 * second too (nodes switch their primary one by one) */
	assert_int_equal(msg_open(&m, m.len, &r21, &h, T0, copy), 0);
	msg_seal(&m, &k2, &h, T0);
	assert_int_equal(msg_open(&m, m.len, &r12, &h, T0, copy), 0);
	assert_int_equal(msg_open(&m, m.len, &r21, &h, T0, copy), 0);
	/* a ring sends with its primary: r21 seals with key 2, k1 cannot open */
	msg_seal(&m, &r21, &h, T0);
	assert_int_equal(msg_open(&m, m.len, &k1, &h, T0, copy), PEER_SEAL_E_OPEN);
	assert_int_equal(msg_open(&m, m.len, &k2, &h, T0, copy), 0);
	/* a key that is in the ring already, or a fifth */
	uint8_t key[PEER_SEAL_KEY_LEN];
	key_fill(key, 1);
	assert_int_equal(peer_keys_add(&r21, key, 1), -EEXIST);
	for (uint8_t s = 3; s < 5; s++) {
		key_fill(key, s);
		assert_int_equal(peer_keys_add(&r21, key, 0), 0);
	}
	key_fill(key, 9);
	assert_int_equal(peer_keys_add(&r21, key, 0), -ENOSPC);
	/* primary = 1 puts the key first */
	key_fill(key, 7);
	assert_int_equal(peer_keys_add(&k1, key, 1), 0);
	assert_memory_equal(k1.key[0], key, PEER_SEAL_KEY_LEN);
	/* the name: 1..63 bytes */
	assert_int_equal(peer_keys_set_name(&k1, ""), -EINVAL);
	char longname[80];
	memset(longname, 'x', 64);
	longname[64] = 0;
	assert_int_equal(peer_keys_set_name(&k1, longname), -EINVAL);
	/* fini wipes */
	peer_keys_fini(&k1);
	uint8_t zero[sizeof(k1.key)] = { 0 };
	assert_memory_equal(k1.key, zero, sizeof(zero));
	assert_int_equal(k1.n_keys, 0);
	peer_keys_fini(&k2);
	peer_keys_fini(&r21);
	peer_keys_fini(&r12);
}

static void test_time_and_replay(void **state)
{
	(void)state;
	uint8_t s1[] = { 1 };
	struct peer_keys tx, rx;
	struct sd_req h;
	static struct msg m;
	static uint8_t copy[sizeof(m.buf)];

	ring_init(&tx, NAME, s1, 1);
	ring_init(&rx, NAME, s1, 1);
	hdr_init(&h);
	msg_seal(&m, &tx, &h, T0);
	/* one ms past the window either way: refused (and not recorded) */
	assert_int_equal(msg_open(&m, m.len, &rx, &h, T0 + PEER_SEAL_WINDOW_MS + 1, copy), PEER_SEAL_E_OLD);
	assert_int_equal(msg_open(&m, m.len, &rx, &h, T0 - PEER_SEAL_WINDOW_MS - 1, copy), PEER_SEAL_E_FUTURE);
	/* at the edge: accepted once, then a replay */
	assert_int_equal(msg_open(&m, m.len, &rx, &h, T0 + PEER_SEAL_WINDOW_MS, copy), 0);
	assert_int_equal(msg_open(&m, m.len, &rx, &h, T0 + 1, copy), PEER_SEAL_E_REPLAY);
	assert_int_equal(msg_open(&m, m.len, &rx, &h, T0 - PEER_SEAL_WINDOW_MS, copy), PEER_SEAL_E_REPLAY);
	/* once its time is out of the window it is forgotten, and refused as old */
	assert_int_equal(msg_open(&m, m.len, &rx, &h, T0 + PEER_SEAL_WINDOW_MS + 1, copy), PEER_SEAL_E_OLD);
	/* the next accepted request pushes it out of the cache... */
	static struct msg later;
	msg_seal(&later, &tx, &h, T0 + PEER_SEAL_WINDOW_MS + 1);
	assert_int_equal(msg_open(&later, later.len, &rx, &h, T0 + PEER_SEAL_WINDOW_MS + 1, copy), 0);
	assert_int_equal(rx.count, 1);
	assert_true(rx.floor_ms == T0);
	/* ...and if the clock then steps back, the floor keeps it out */
	assert_int_equal(msg_open(&m, m.len, &rx, &h, T0, copy), PEER_SEAL_E_FORGOTTEN);
	/* a fresh message sent later is fine */
	msg_seal(&m, &tx, &h, T0 + 10);
	assert_int_equal(msg_open(&m, m.len, &rx, &h, T0 + 20, copy), 0);
	peer_keys_fini(&tx);
	peer_keys_fini(&rx);
}

static void test_truncated(void **state)
{
	(void)state;
	uint8_t s1[] = { 1 };
	struct peer_keys tx, rx;
	struct sd_req h;
	static struct msg m;
	static uint8_t copy[sizeof(m.buf)];

	ring_init(&tx, NAME, s1, 1);
	ring_init(&rx, NAME, s1, 1);
	hdr_init(&h);
	msg_seal(&m, &tx, &h, T0);
	assert_int_equal(msg_open(&m, 0, &rx, &h, T0, copy), PEER_SEAL_E_SHORT);
	assert_int_equal(msg_open(&m, PEER_SEAL_REQ_OVERHEAD + PEER_PREFIX_LEN - 1, &rx, &h, T0, copy),
			 PEER_SEAL_E_SHORT);
	assert_int_equal(msg_open(&m, PEER_SEAL_REQ_OVERHEAD + PEER_PREFIX_LEN, &rx, &h, T0, copy),
			 PEER_SEAL_E_OPEN);
	assert_int_equal(msg_open(&m, m.len - 1, &rx, &h, T0, copy), PEER_SEAL_E_OPEN);
	assert_int_equal(msg_open(&m, m.len, &rx, &h, T0, copy), 0);
	peer_keys_fini(&tx);
	peer_keys_fini(&rx);
}

static void test_mode_mismatch(void **state)
{
	(void)state;
	uint8_t s1[] = { 1 };
	struct peer_keys keyed, plain;
	struct sd_req h;
	static struct msg m;
	static uint8_t copy[sizeof(m.buf)];
	uint8_t *body, nonce[PEER_SEAL_NONCE_LEN];
	size_t blen;

	ring_init(&keyed, NAME, s1, 1);
	ring_init(&plain, NAME, NULL, 0);
	hdr_init(&h);
	/* a keyed node's request to a keyless node: refused (node_repl_serve
	 * answers SD_RES_SM_AUTH) */
	msg_seal(&m, &keyed, &h, T0);
	assert_int_equal(msg_open(&m, m.len, &plain, &h, T0, copy), PEER_SEAL_E_NOKEY);
	/* a plaintext request to a keyed node: refused, even if it looks like a
	 * valid prefix */
	struct sd_req hp = h;
	hp.flags &= (uint16_t)~PEER_FLAG_SEALED;
	assert_int_equal(peer_open_req(&keyed, &hp, T0, m.prefix, PEER_PREFIX_LEN, &body, &blen, nonce),
			 PEER_SEAL_E_PLAIN);
	/* plaintext both sides: passed through untouched */
	assert_int_equal(peer_open_req(&plain, &hp, T0, m.prefix, PEER_PREFIX_LEN, &body, &blen, nonce), 0);
	assert_ptr_equal(body, m.prefix);
	assert_int_equal(blen, PEER_PREFIX_LEN);
	assert_int_equal(peer_keys_sealed(&plain), 0);
	assert_string_equal(peer_seal_strerror(PEER_SEAL_E_REPLAY), "nonce already seen (replayed request)");
	peer_keys_fini(&keyed);
	peer_keys_fini(&plain);
}

/* Fill the cache past its size: the oldest are forgotten (refused by the
 * floor), the recent ones are still caught as replays, and the index
 * stays consistent through the backward-shift deletions. */
static void test_replay_cache_full(void **state)
{
	(void)state;
	uint8_t s1[] = { 1 };
	struct peer_keys tx, rx;
	struct sd_req h;
	const unsigned n = PEER_REPLAY_MAX + 1000;
	uint8_t (*keep)[PEER_SEAL_REQ_OVERHEAD + PEER_PREFIX_LEN] = calloc(n, sizeof(*keep));
	uint8_t pre[PEER_PREFIX_LEN] = { 0 }, b[PEER_SEAL_REQ_OVERHEAD + PEER_PREFIX_LEN], nonce[PEER_SEAL_NONCE_LEN];
	uint8_t *body;
	size_t blen;

	assert_non_null(keep);
	ring_init(&tx, NAME, s1, 1);
	ring_init(&rx, NAME, s1, 1);
	hdr_init(&h);
	/* all within one window: times T0 + i/16 ms */
	for (unsigned i = 0; i < n; i++) {
		uint64_t t = T0 + i / 16;
		assert_int_equal(peer_seal_req(&tx, &h, t, pre, NULL, 0, keep[i], nonce), sizeof(keep[i]));
		memcpy(b, keep[i], sizeof(b));
		assert_int_equal(peer_open_req(&rx, &h, t, b, sizeof(b), &body, &blen, nonce), 0);
	}
	assert_int_equal(rx.count, PEER_REPLAY_MAX);
	uint64_t now = T0 + n / 16;
	/* the first 1000 were pushed out: refused by the floor */
	for (unsigned i = 0; i < 1000; i += 7) {
		memcpy(b, keep[i], sizeof(b));
		assert_int_equal(peer_open_req(&rx, &h, now, b, sizeof(b), &body, &blen, nonce), PEER_SEAL_E_FORGOTTEN);
	}
	/* everything still in the cache is a replay (sampled), and opening did
	 * not change the count */
	for (unsigned i = n - 1; i >= 1016; i -= 97) {
		memcpy(b, keep[i], sizeof(b));
		assert_int_equal(peer_open_req(&rx, &h, now, b, sizeof(b), &body, &blen, nonce), PEER_SEAL_E_REPLAY);
	}
	assert_int_equal(rx.count, PEER_REPLAY_MAX);
	/* a window later everything expires at the next request */
	uint8_t fresh[sizeof(b)];
	peer_seal_req(&tx, &h, now + PEER_SEAL_WINDOW_MS + 100, pre, NULL, 0, fresh, nonce);
	assert_int_equal(peer_open_req(&rx, &h, now + PEER_SEAL_WINDOW_MS + 100, fresh, sizeof(fresh), &body, &blen,
				       nonce), 0);
	assert_int_equal(rx.count, 1);
	free(keep);
	peer_keys_fini(&tx);
	peer_keys_fini(&rx);
}

/* ---- the client half (node/peer.c) against a scripted server ---- */

enum srv_mode {
	SRV_KEYED,          /* opens the request, answers SUCCESS with a sealed "hello" */
	SRV_KEYLESS,        /* no keys: opens (refuses) like node_repl_serve, SM_AUTH */
	SRV_UNSEALED_OK,    /* keyed, but answers SUCCESS with a plaintext payload */
	SRV_WRONG_NONCE,    /* keyed, reply sealed to another request's nonce */
	SRV_BIT_FLIP,       /* keyed, one bit of the sealed reply flipped */
};

struct srv {
	int lfd;
	uint16_t port;
	pthread_t th;
	atomic_int mode;
	atomic_int last_open;       /* peer_open_req's result for the last request */
	atomic_int handlers;        /* connection threads alive */
	struct peer_keys keys, nokeys;
	uint8_t got[64];            /* the opened operation bytes */
	size_t got_len;
};

static int full_read(int fd, void *b, size_t n)
{
	for (size_t d = 0; d < n;) {
		ssize_t r = read(fd, (uint8_t *)b + d, n - d);
		if (r <= 0)
			return -1;
		d += (size_t)r;
	}
	return 0;
}

static void srv_one(struct srv *sv, int fd)
{
	uint8_t hb[SD_REQ_SIZE], *in;
	struct sd_req h;

	while (full_read(fd, hb, sizeof(hb)) == 0) {
		sd_req_decode(&h, hb);
		in = malloc(h.data_length ? h.data_length : 1);
		if (!in || full_read(fd, in, h.data_length) < 0) {
			free(in);
			return;
		}
		int mode = atomic_load(&sv->mode);
		struct peer_keys *k = mode == SRV_KEYLESS ? &sv->nokeys : &sv->keys;
		uint8_t nonce[PEER_SEAL_NONCE_LEN], *body, out[SD_RSP_SIZE + 64 + PEER_SEAL_RSP_OVERHEAD];
		size_t blen, n = 0;
		int rc = peer_open_req(k, &h, peer_seal_now_ms(), in, h.data_length, &body, &blen, nonce);
		struct sd_rsp rsp = { .proto_ver = SD_PROTO_VER, .opcode = h.opcode, .id = h.id };

		atomic_store(&sv->last_open, rc);
		if (rc < 0) {
			rsp.result = SD_RES_SM_AUTH;
		} else {
			sv->got_len = blen - PEER_PREFIX_LEN < sizeof(sv->got) ? blen - PEER_PREFIX_LEN : sizeof(sv->got);
			memcpy(sv->got, body + PEER_PREFIX_LEN, sv->got_len);
			rsp.result = SD_RES_SUCCESS;
			if (mode == SRV_UNSEALED_OK || !peer_keys_sealed(k)) {
				memcpy(out + SD_RSP_SIZE, "hello", 5);
				n = 5;
			} else {
				rsp.flags = PEER_FLAG_SEALED;
				if (mode == SRV_WRONG_NONCE)
					nonce[3] ^= 1;
				n = peer_seal_rsp(k, nonce, SD_RES_SUCCESS, rsp.flags, "hello", 5, out + SD_RSP_SIZE);
				if (mode == SRV_BIT_FLIP)
					out[SD_RSP_SIZE + PEER_SEAL_NONCE_LEN + 2] ^= 4;
			}
		}
		free(in);
		rsp.data_length = (uint32_t)n;
		sd_rsp_encode(out, &rsp);
		if (write(fd, out, SD_RSP_SIZE + n) != (ssize_t)(SD_RSP_SIZE + n))
			return;
	}
}

struct srv_conn {
	struct srv *sv;
	int fd;
};

static void *srv_conn_main(void *arg)
{
	struct srv_conn *c = arg;

	srv_one(c->sv, c->fd);
	close(c->fd);
	atomic_fetch_sub(&c->sv->handlers, 1);
	free(c);
	return NULL;
}

/* a thread per connection: each pool keeps its own idle one open */
static void *srv_main(void *arg)
{
	struct srv *sv = arg;
	int fd;

	while ((fd = accept(sv->lfd, NULL, NULL)) >= 0) {
		struct srv_conn *c = malloc(sizeof(*c));
		pthread_t th;
		if (!c) {
			close(fd);
			continue;
		}
		c->sv = sv;
		c->fd = fd;
		atomic_fetch_add(&sv->handlers, 1);
		if (pthread_create(&th, NULL, srv_conn_main, c)) {
			atomic_fetch_sub(&sv->handlers, 1);
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(th);
	}
	return NULL;
}

static void srv_start(struct srv *sv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	uint8_t s1[] = { 1 };

	memset(sv, 0, sizeof(*sv));
	ring_init(&sv->keys, NAME, s1, 1);
	ring_init(&sv->nokeys, NAME, NULL, 0);
	sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(sv->lfd >= 0);
	assert_int_equal(bind(sv->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(sv->lfd, 4), 0);
	assert_int_equal(getsockname(sv->lfd, (struct sockaddr *)&a, &len), 0);
	sv->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&sv->th, NULL, srv_main, sv), 0);
}

static void srv_stop(struct srv *sv)
{
	shutdown(sv->lfd, SHUT_RDWR);   /* wakes accept() */
	pthread_join(sv->th, NULL);
	close(sv->lfd);
	/* the pools closed their connections: the handlers see EOF and end */
	for (int i = 0; i < 500 && atomic_load(&sv->handlers); i++)
		usleep(10000);
	assert_int_equal(atomic_load(&sv->handlers), 0);
	peer_keys_fini(&sv->keys);
	peer_keys_fini(&sv->nokeys);
}

/* one PEER_WRITE_OBJ of "payload" to the server; returns pc.rc */
static int call(struct peer_pool *p, struct srv *sv, enum srv_mode mode, uint8_t *rbuf, size_t rcap,
		uint32_t *rlen)
{
	struct swim_addr to = { .family = 4, .port = sv->port, .ip = { 127, 0, 0, 1 } };
	struct peer_prefix pre = { .version = 1 };
	struct peer_call pc;

	atomic_store(&sv->mode, mode);
	peer_call_init(&pc, &to, SD_OP_PEER_WRITE_OBJ, 0x1234, 0, 1);
	pc.rbuf = rbuf;
	pc.rcap = rcap;
	int rc = peer_call(p, &pc, &pre, "payload", 7);
	*rlen = pc.rsp.data_length;
	return rc;
}

static void test_client(void **state)
{
	(void)state;
	static struct srv sv;
	struct peer_pool keyed, plain;
	uint8_t key[PEER_SEAL_KEY_LEN], rbuf[64];
	uint32_t rlen;

	srv_start(&sv);
	assert_int_equal(peer_pool_init(&keyed, 2000), 0);
	assert_int_equal(peer_pool_init(&plain, 2000), 0);
	key_fill(key, 1);
	assert_int_equal(peer_keys_set_name(&keyed.keys, NAME), 0);
	assert_int_equal(peer_keys_add(&keyed.keys, key, 1), 0);

	/* keyed both sides: the data arrives, the sealed reply opens into rbuf
	 * and data_length is the plaintext's */
	memset(rbuf, 0, sizeof(rbuf));
	assert_int_equal(call(&keyed, &sv, SRV_KEYED, rbuf, sizeof(rbuf), &rlen), SD_RES_SUCCESS);
	assert_int_equal(atomic_load(&sv.last_open), 0);
	assert_int_equal(sv.got_len, 7);
	assert_memory_equal(sv.got, "payload", 7);
	assert_int_equal(rlen, 5);
	assert_memory_equal(rbuf, "hello", 5);
	/* again on the pooled connection: a fresh nonce, so no replay */
	assert_int_equal(call(&keyed, &sv, SRV_KEYED, rbuf, sizeof(rbuf), &rlen), SD_RES_SUCCESS);
	assert_int_equal(atomic_load(&sv.last_open), 0);
	/* a reply that only fits sealed: rcap is for the plaintext */
	assert_int_equal(call(&keyed, &sv, SRV_KEYED, rbuf, 5, &rlen), SD_RES_SUCCESS);
	assert_int_equal(call(&keyed, &sv, SRV_KEYED, rbuf, 4, &rlen), -EBADMSG);
	/* a keyed node's request to a keyless node: refused, nothing executed */
	sv.got_len = 0;
	assert_int_equal(call(&keyed, &sv, SRV_KEYLESS, rbuf, sizeof(rbuf), &rlen), SD_RES_SM_AUTH);
	assert_int_equal(atomic_load(&sv.last_open), PEER_SEAL_E_NOKEY);
	assert_int_equal(sv.got_len, 0);
	/* a keyless node's request to a keyed node: refused */
	assert_int_equal(call(&plain, &sv, SRV_KEYED, rbuf, sizeof(rbuf), &rlen), SD_RES_SM_AUTH);
	assert_int_equal(atomic_load(&sv.last_open), PEER_SEAL_E_PLAIN);
	assert_int_equal(sv.got_len, 0);
	/* keyless both sides: plaintext as ever */
	memset(rbuf, 0, sizeof(rbuf));
	assert_int_equal(call(&plain, &sv, SRV_KEYLESS, rbuf, sizeof(rbuf), &rlen), SD_RES_SUCCESS);
	assert_int_equal(atomic_load(&sv.last_open), 0);
	assert_memory_equal(sv.got, "payload", 7);
	assert_int_equal(rlen, 5);
	assert_memory_equal(rbuf, "hello", 5);
	/* forged or misdirected SUCCESS replies are not believed */
	assert_int_equal(call(&keyed, &sv, SRV_UNSEALED_OK, rbuf, sizeof(rbuf), &rlen), -EBADMSG);
	assert_int_equal(call(&keyed, &sv, SRV_WRONG_NONCE, rbuf, sizeof(rbuf), &rlen), -EBADMSG);
	assert_int_equal(call(&keyed, &sv, SRV_BIT_FLIP, rbuf, sizeof(rbuf), &rlen), -EBADMSG);
	/* and after all that the keyed path still works */
	assert_int_equal(call(&keyed, &sv, SRV_KEYED, rbuf, sizeof(rbuf), &rlen), SD_RES_SUCCESS);
	assert_memory_equal(rbuf, "hello", 5);

	peer_pool_fini(&keyed);
	peer_pool_fini(&plain);
	srv_stop(&sv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_ad_fields),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_time_and_replay),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_mode_mismatch),
		cmocka_unit_test(test_replay_cache_full),
		cmocka_unit_test(test_client),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

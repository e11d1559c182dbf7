/*
 * ring_hist.c: ring history in LMDB (store.h "ring history", meta.h "ring").
 *
 * Key:    be64(scalar) || digest[16]   (24 bytes; key order = scalar order)
 * Record: [META_FORMAT, scalar, digest bin16, saved_seq, saved_time, epoch bin]
 *
 * scalar and digest are repeated in the record so that a record filed
 * under the wrong key is caught, and both are checked against the epoch
 * bytes themselves (epoch_decode, epoch_scalar, epoch_digest): a flipped
 * bit anywhere is -EBADMSG, never a wrong ring handed to recovery.
 * saved_seq comes from misc "ring_seq" in the same write txn.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "gossip/epoch.h"
#include "gossip/mpcheck.h"
#include "store/meta.h"
#include "store/store_int.h"

#define RING_KEY_LEN   (8 + STORE_RING_DIGEST_LEN)
#define RING_FIELDS    6
#define RING_SEQ_KEY   "ring_seq"

_Static_assert(STORE_RING_DIGEST_LEN == EPOCH_DIGEST_LEN, "digest sizes");

static void ring_key(uint8_t k[RING_KEY_LEN], uint64_t scalar, const uint8_t *digest)
{
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(scalar >> (56 - 8 * i));
	memcpy(k + 8, digest, STORE_RING_DIGEST_LEN);
}

/* 0 if bytes are an epoch with this scalar and digest, else -EBADMSG. */
static int ring_epoch_check(const uint8_t *buf, size_t len, uint64_t scalar, const uint8_t *digest)
{
	struct epoch e;
	uint8_t d[EPOCH_DIGEST_LEN];
	int rc;

	epoch_init(&e);
	rc = epoch_decode(&e, buf, len, 0, NULL);
	if (rc == 0) {
		epoch_digest(&e, d);
		if (epoch_scalar(&e) != scalar || memcmp(d, digest, EPOCH_DIGEST_LEN) != 0)
			rc = -EBADMSG;
	} else if (rc != -ENOMEM) {
		rc = -EBADMSG;
	}
	epoch_fini(&e);
	return rc;
}

static int ring_rec_encode(const struct store_ring_version *v, void **buf, size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int err = 0;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	err |= msgpack_pack_array(&pk, RING_FIELDS);
	err |= msgpack_pack_uint64(&pk, META_FORMAT);
	err |= msgpack_pack_uint64(&pk, v->scalar);
	err |= msgpack_pack_bin_with_body(&pk, v->digest, STORE_RING_DIGEST_LEN);
	err |= msgpack_pack_uint64(&pk, v->saved_seq);
	err |= msgpack_pack_uint64(&pk, v->saved_time);
	err |= msgpack_pack_bin_with_body(&pk, v->epoch, v->len);
	if (err) {
		msgpack_sbuffer_destroy(&sb);
		return -ENOMEM;
	}
	*len = sb.size;
	*buf = msgpack_sbuffer_release(&sb);
	return 0;
}

static int ring_get_u64(const msgpack_object *o, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -EBADMSG;
	*out = o->via.u64;
	return 0;
}

/*
 * Decode the record stored under key into *v. v->epoch points into buf
 * (the epoch bin is the record's last element, so its body is buf's
 * last v->len bytes), not into the unpacker's memory, which is freed here.
 */
static int ring_rec_decode(const void *key, size_t klen, const void *buf, size_t len,
			   struct store_ring_version *v)
{
	msgpack_unpacked up;
	const msgpack_object *f;
	size_t off = 0;
	uint8_t k[RING_KEY_LEN];
	uint64_t fmt;
	int rc = -EBADMSG;

	if (!buf || len == 0 || klen != RING_KEY_LEN || mpcheck_bounded(buf, len, 2))
		return -EBADMSG;
	msgpack_unpacked_init(&up);
	switch (msgpack_unpack_next(&up, buf, len, &off)) {
	case MSGPACK_UNPACK_SUCCESS:
		break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		rc = -ENOMEM;
		goto out;
	default:
		goto out;
	}
	if (off != len || up.data.type != MSGPACK_OBJECT_ARRAY ||
	    up.data.via.array.size != RING_FIELDS)
		goto out;
	f = up.data.via.array.ptr;
	if (ring_get_u64(&f[0], &fmt) || fmt != META_FORMAT || ring_get_u64(&f[1], &v->scalar) ||
	    f[2].type != MSGPACK_OBJECT_BIN || f[2].via.bin.size != STORE_RING_DIGEST_LEN ||
	    ring_get_u64(&f[3], &v->saved_seq) || ring_get_u64(&f[4], &v->saved_time) ||
	    f[5].type != MSGPACK_OBJECT_BIN || f[5].via.bin.size == 0)
		goto out;
	memcpy(v->digest, f[2].via.bin.ptr, STORE_RING_DIGEST_LEN);
	/* the epoch bin is the record's tail: point into buf, not into up */
	v->len = f[5].via.bin.size;
	v->epoch = (const uint8_t *)buf + len - v->len;
	ring_key(k, v->scalar, v->digest);
	if (memcmp(k, key, RING_KEY_LEN) != 0)
		goto out;   /* filed under the wrong key */
	rc = ring_epoch_check(v->epoch, v->len, v->scalar, v->digest);
out:
	msgpack_unpacked_destroy(&up);
	return rc;
}

const char *store_dir(const struct store *st)
{
	return st->dir;
}

static int ring_txn_begin(struct store *st, int write, struct meta_txn **t)
{
	return meta_txn_begin(st->meta, write, t);
}

int store_ring_save(struct store *st, const uint8_t *epoch_bytes, size_t len, uint64_t scalar,
		    const uint8_t digest[STORE_RING_DIGEST_LEN])
{
	struct store_ring_version v, old;
	struct meta_txn *t;
	uint8_t k[RING_KEY_LEN];
	const void *cur;
	size_t curlen;
	void *rec = NULL;
	size_t reclen = 0;
	uint64_t seq = 0;
	int rc;

	if (!epoch_bytes || len == 0 || !digest)
		return -EINVAL;
	rc = ring_epoch_check(epoch_bytes, len, scalar, digest);
	if (rc)
		return rc == -EBADMSG ? -EINVAL : rc;
	ring_key(k, scalar, digest);
	rc = ring_txn_begin(st, 1, &t);
	if (rc)
		return rc;
	rc = meta_ring_get(t, k, sizeof(k), &cur, &curlen);
	if (rc == 0) {
		rc = ring_rec_decode(k, sizeof(k), cur, curlen, &old);
		if (rc == 0)
			rc = old.len == len && memcmp(old.epoch, epoch_bytes, len) == 0 ? 0 : -EEXIST;
		meta_txn_abort(t);
		return rc;
	}
	if (rc != -ENOENT)
		goto fail;
	rc = meta_misc_get_u64(t, RING_SEQ_KEY, &seq);
	if (rc == -ENOENT)
		seq = 0;
	else if (rc)
		goto fail;
	memset(&v, 0, sizeof(v));
	v.scalar = scalar;
	memcpy(v.digest, digest, STORE_RING_DIGEST_LEN);
	v.saved_seq = seq + 1;
	v.saved_time = store__now();
	v.epoch = epoch_bytes;
	v.len = len;
	rc = ring_rec_encode(&v, &rec, &reclen);
	if (rc)
		goto fail;
	rc = meta_ring_put(t, k, sizeof(k), rec, reclen);
	free(rec);
	if (rc == 0)
		rc = meta_misc_put_u64(t, RING_SEQ_KEY, seq + 1);
	if (rc)
		goto fail;
	rc = meta_txn_commit(t);
	if (rc == 0)
		store__log(st, STORE_LOG_INFO, "ring history: saved epoch %llu (%zu bytes)",
			   (unsigned long long)scalar, len);
	return rc ? rc : 1;
fail:
	meta_txn_abort(t);
	return rc;
}

struct ring_list_ctx {
	int (*cb)(void *ctx, const struct store_ring_version *v);
	void *ctx;
};

static int ring_list_one(void *ctx, const void *k, size_t klen, const void *v, size_t vlen)
{
	struct ring_list_ctx *c = ctx;
	struct store_ring_version rv;
	int rc = ring_rec_decode(k, klen, v, vlen, &rv);

	if (rc)
		return rc;
	return c->cb(c->ctx, &rv) ? 1 : 0;
}

int store_ring_list(struct store *st, int (*cb)(void *ctx, const struct store_ring_version *v),
		    void *ctx)
{
	struct ring_list_ctx c = { cb, ctx };
	struct meta_txn *t;
	int rc;

	if (!cb)
		return -EINVAL;
	rc = ring_txn_begin(st, 0, &t);
	if (rc)
		return rc;
	rc = meta_ring_foreach(t, ring_list_one, &c);
	meta_txn_abort(t);
	return rc;
}

/* latest = max (scalar, saved_seq); the key of the best so far is kept */
struct ring_latest_ctx {
	int found;
	struct store_ring_version best;
};

static int ring_latest_one(void *ctx, const struct store_ring_version *v)
{
	struct ring_latest_ctx *c = ctx;

	if (!c->found || v->scalar > c->best.scalar ||
	    (v->scalar == c->best.scalar && v->saved_seq > c->best.saved_seq)) {
		c->best = *v;
		c->found = 1;
	}
	return 0;
}

/* Within one read txn, so best.epoch stays valid until we copy it. */
static int ring_latest_txn(struct meta_txn *t, struct ring_latest_ctx *c)
{
	struct ring_list_ctx lc = { ring_latest_one, c };

	memset(c, 0, sizeof(*c));
	return meta_ring_foreach(t, ring_list_one, &lc);
}

int store_ring_latest(struct store *st, struct store_ring_version *out, uint8_t **epoch_copy)
{
	struct ring_latest_ctx c;
	struct meta_txn *t;
	int rc;

	*epoch_copy = NULL;
	rc = ring_txn_begin(st, 0, &t);
	if (rc)
		return rc;
	rc = ring_latest_txn(t, &c);
	if (rc == 0 && !c.found)
		rc = -ENOENT;
	if (rc == 0) {
		*epoch_copy = malloc(c.best.len);
		if (!*epoch_copy) {
			rc = -ENOMEM;
		} else {
			memcpy(*epoch_copy, c.best.epoch, c.best.len);
			*out = c.best;
			out->epoch = *epoch_copy;
		}
	}
	meta_txn_abort(t);
	return rc;
}

struct ring_prune_ctx {
	uint64_t keep_from;
	uint8_t latest_key[RING_KEY_LEN];
	uint8_t (*keys)[RING_KEY_LEN];
	size_t n, cap;
};

static int ring_prune_pick(void *ctx, const void *k, size_t klen, const void *v, size_t vlen)
{
	struct ring_prune_ctx *c = ctx;
	struct store_ring_version rv;
	int rc = ring_rec_decode(k, klen, v, vlen, &rv);

	if (rc)
		return rc;
	if (rv.scalar >= c->keep_from)
		return 1;   /* key order = scalar order: nothing older follows */
	if (memcmp(k, c->latest_key, RING_KEY_LEN) == 0)
		return 0;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? 2 * c->cap : 16;
		void *p = realloc(c->keys, ncap * RING_KEY_LEN);

		if (!p)
			return -ENOMEM;
		c->keys = p;
		c->cap = ncap;
	}
	memcpy(c->keys[c->n++], k, RING_KEY_LEN);
	return 0;
}

int store_ring_prune(struct store *st, uint64_t keep_from_scalar)
{
	struct ring_prune_ctx pc;
	struct ring_latest_ctx lc;
	struct meta_txn *t;
	int rc;

	memset(&pc, 0, sizeof(pc));
	pc.keep_from = keep_from_scalar;
	rc = ring_txn_begin(st, 1, &t);
	if (rc)
		return rc;
	/* the whole history is read (and so checked) before anything goes */
	rc = ring_latest_txn(t, &lc);
	if (rc || !lc.found)
		goto done;
	ring_key(pc.latest_key, lc.best.scalar, lc.best.digest);
	rc = meta_ring_foreach(t, ring_prune_pick, &pc);
	for (size_t i = 0; rc == 0 && i < pc.n; i++)
		rc = meta_ring_del(t, pc.keys[i], RING_KEY_LEN);
done:
	free(pc.keys);
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	if (pc.n == 0) {
		meta_txn_abort(t);
		return 0;
	}
	rc = meta_txn_commit(t);
	if (rc)
		return rc;
	store__log(st, STORE_LOG_INFO, "ring history: pruned %zu version(s) below epoch %llu", pc.n,
		   (unsigned long long)keep_from_scalar);
	return (int)pc.n;
}

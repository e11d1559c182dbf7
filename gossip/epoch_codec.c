/*
 * gossip/epoch_codec.c: msgpack form of struct epoch (format in epoch.h).
 *
 * Encoding uses msgpack-c's packer (minimal-width integers, bin8 for ids),
 * so equal epochs give equal bytes.  Decoding does NOT use msgpack_unpack():
 * it allocates count * sizeof(msgpack_object) (32) bytes for an array
 * header before looking at the data, so five hostile bytes (dd ff ff ff ff)
 * ask for 128 GiB (under ASan: abort).  The schema is small and fixed, so a
 * strict cursor reader over (buf, len) checks each field in place and
 * allocates at most what the input's length can hold.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "gossip/epoch.h"

#define ENTRY_MIN_STATE 23               /* bin8 id (18) + fixarray(1) + 4 fixints */
#define ENTRY_MIN_VEC   19               /* bin8 id (18) + fixint */
#define ENTRY_MAX_STATE 37               /* 18 + 1 + u64 (9) + 1 + u16 (3) + u32 (5) */
#define ENTRY_MAX_VEC   27               /* 18 + u64 (9) */

size_t epoch_encoded_max(uint32_t nr_members, uint32_t nr_counters)
{
	/* array hdr + format + two map32 hdrs */
	return 1 + 1 + 5 + 5 + (size_t)nr_members * ENTRY_MAX_STATE + (size_t)nr_counters * ENTRY_MAX_VEC;
}

struct wbuf {
	uint8_t *buf;
	size_t cap, len;
};

static int wbuf_write(void *data, const char *b, size_t n)
{
	struct wbuf *w = data;

	if (n > w->cap - w->len)
		return -1;
	memcpy(w->buf + w->len, b, n);
	w->len += n;
	return 0;
}

int epoch_encode(const struct epoch *e, uint8_t *buf, size_t cap, size_t *len)
{
	struct wbuf w = { buf, cap, 0 };
	msgpack_packer pk;
	int bad = 0;

	msgpack_packer_init(&pk, &w, wbuf_write);
	bad |= msgpack_pack_array(&pk, 3);
	bad |= msgpack_pack_uint64(&pk, EPOCH_FORMAT);
	bad |= msgpack_pack_map(&pk, e->state.n);
	for (uint32_t i = 0; i < e->state.n && !bad; i++) {
		const struct epoch_member *m = &e->state.m[i];
		bad |= msgpack_pack_bin(&pk, EPOCH_ID_LEN);
		bad |= msgpack_pack_bin_body(&pk, m->id, EPOCH_ID_LEN);
		bad |= msgpack_pack_array(&pk, 4);
		bad |= msgpack_pack_uint64(&pk, m->version);
		bad |= msgpack_pack_uint64(&pk, m->state);
		bad |= msgpack_pack_uint64(&pk, m->weight);
		bad |= msgpack_pack_uint64(&pk, m->zone);
	}
	bad |= msgpack_pack_map(&pk, e->vec.n);
	for (uint32_t i = 0; i < e->vec.n && !bad; i++) {
		bad |= msgpack_pack_bin(&pk, EPOCH_ID_LEN);
		bad |= msgpack_pack_bin_body(&pk, e->vec.e[i].id, EPOCH_ID_LEN);
		bad |= msgpack_pack_uint64(&pk, e->vec.e[i].counter);
	}
	if (bad)
		return -ENOSPC;
	*len = w.len;
	return 0;
}

struct rd {
	const uint8_t *p;
	size_t len, off;
};

/* Big-endian n-byte integer after a 1-byte tag at r->off; advances past both. */
static int rd_tagged_be(struct rd *r, unsigned n, uint64_t *v)
{
	if (r->len - r->off < 1 + (size_t)n)
		return EPOCH_E_TRUNCATED;
	*v = 0;
	for (unsigned i = 0; i < n; i++)
		*v = *v << 8 | r->p[r->off + 1 + i];
	r->off += 1 + n;
	return 0;
}

/* Unsigned integer; `err` if the next item is something else.  On error
 * r->off stays at the item's first byte. */
static int rd_uint(struct rd *r, uint64_t *v, int err)
{
	uint8_t t;

	if (r->off >= r->len)
		return EPOCH_E_TRUNCATED;
	t = r->p[r->off];
	if (t <= 0x7f) {
		*v = t;
		r->off++;
		return 0;
	}
	switch (t) {
	case 0xcc: return rd_tagged_be(r, 1, v);
	case 0xcd: return rd_tagged_be(r, 2, v);
	case 0xce: return rd_tagged_be(r, 4, v);
	case 0xcf: return rd_tagged_be(r, 8, v);
	default: return err;
	}
}

/* Array (is_map 0) or map (1) header: element / pair count. */
static int rd_header(struct rd *r, int is_map, uint32_t *n, int err)
{
	uint8_t t, fix = is_map ? 0x80 : 0x90;
	uint64_t v;
	int rc;

	if (r->off >= r->len)
		return EPOCH_E_TRUNCATED;
	t = r->p[r->off];
	if ((t & 0xf0) == fix) {
		*n = t & 0x0f;
		r->off++;
		return 0;
	}
	if (t == (is_map ? 0xde : 0xdc))
		rc = rd_tagged_be(r, 2, &v);
	else if (t == (is_map ? 0xdf : 0xdd))
		rc = rd_tagged_be(r, 4, &v);
	else
		return err;
	if (!rc)
		*n = (uint32_t)v;
	return rc;
}

/* A bin of exactly EPOCH_ID_LEN bytes. */
static int rd_id(struct rd *r, uint8_t id[EPOCH_ID_LEN])
{
	size_t start = r->off;
	uint64_t n;
	int rc;

	if (r->off >= r->len)
		return EPOCH_E_TRUNCATED;
	switch (r->p[r->off]) {
	case 0xc4: rc = rd_tagged_be(r, 1, &n); break;
	case 0xc5: rc = rd_tagged_be(r, 2, &n); break;
	case 0xc6: rc = rd_tagged_be(r, 4, &n); break;
	default: return EPOCH_E_ID_TYPE;
	}
	if (rc)
		return rc;
	if (n != EPOCH_ID_LEN) {
		r->off = start;
		return EPOCH_E_ID_LEN;
	}
	if (r->len - r->off < EPOCH_ID_LEN)
		return EPOCH_E_TRUNCATED;
	memcpy(id, r->p + r->off, EPOCH_ID_LEN);
	r->off += EPOCH_ID_LEN;
	return 0;
}

/* Map header bounded by max and by what the rest of the input can hold. */
static int rd_map_bounded(struct rd *r, uint32_t max, size_t min_entry, uint32_t *n)
{
	size_t start = r->off;
	int rc = rd_header(r, 1, n, EPOCH_E_ENTRIES);

	if (rc)
		return rc;
	if (*n > max) {
		r->off = start;
		return EPOCH_E_TOO_MANY;
	}
	if (*n > (r->len - r->off) / min_entry)
		return EPOCH_E_TRUNCATED;
	return 0;
}

static int rd_members(struct rd *r, uint32_t max, struct epoch_state *s)
{
	uint32_t n, k;
	uint64_t v;
	int rc;

	if ((rc = rd_map_bounded(r, max, ENTRY_MIN_STATE, &n)))
		return rc;
	s->m = malloc((n ? n : 1) * sizeof(*s->m));
	if (!s->m)
		return -ENOMEM;
	s->cap = n ? n : 1;
	for (uint32_t i = 0; i < n; i++) {
		struct epoch_member *m = &s->m[i];
		size_t at = r->off;
		if ((rc = rd_id(r, m->id)))
			return rc;
		if (i && memcmp(s->m[i - 1].id, m->id, EPOCH_ID_LEN) >= 0) {
			r->off = at;
			return EPOCH_E_ORDER;
		}
		at = r->off;
		if ((rc = rd_header(r, 0, &k, EPOCH_E_MEMBER)))
			return rc;
		if (k != 4) {
			r->off = at;
			return EPOCH_E_MEMBER;
		}
		if ((rc = rd_uint(r, &m->version, EPOCH_E_VERSION)))
			return rc;
		at = r->off;
		if ((rc = rd_uint(r, &v, EPOCH_E_STATE)))
			return rc;
		if (v != EPOCH_IN && v != EPOCH_OUT) {
			r->off = at;
			return EPOCH_E_STATE;
		}
		m->state = (uint8_t)v;
		at = r->off;
		if ((rc = rd_uint(r, &v, EPOCH_E_WEIGHT)))
			return rc;
		if (v > UINT16_MAX) {
			r->off = at;
			return EPOCH_E_WEIGHT;
		}
		m->weight = (uint16_t)v;
		at = r->off;
		if ((rc = rd_uint(r, &v, EPOCH_E_ZONE)))
			return rc;
		if (v > UINT32_MAX) {
			r->off = at;
			return EPOCH_E_ZONE;
		}
		m->zone = (uint32_t)v;
		s->n = i + 1;
	}
	return 0;
}

static int rd_counters(struct rd *r, uint32_t max, struct epoch_vec *vec)
{
	uint32_t n;
	int rc;

	if ((rc = rd_map_bounded(r, max, ENTRY_MIN_VEC, &n)))
		return rc;
	vec->e = malloc((n ? n : 1) * sizeof(*vec->e));
	if (!vec->e)
		return -ENOMEM;
	vec->cap = n ? n : 1;
	for (uint32_t i = 0; i < n; i++) {
		struct epoch_entry *e = &vec->e[i];
		size_t at = r->off;
		if ((rc = rd_id(r, e->id)))
			return rc;
		if (i && memcmp(vec->e[i - 1].id, e->id, EPOCH_ID_LEN) >= 0) {
			r->off = at;
			return EPOCH_E_ORDER;
		}
		at = r->off;
		if ((rc = rd_uint(r, &e->counter, EPOCH_E_COUNTER)))
			return rc;
		if (!e->counter) {
			r->off = at;
			return EPOCH_E_ZERO;
		}
		vec->n = i + 1;
	}
	return 0;
}

int epoch_decode(struct epoch *e, const uint8_t *buf, size_t len, uint32_t max_entries, size_t *err_off)
{
	struct rd r = { buf, buf ? len : 0, 0 };
	struct epoch t;
	uint32_t n;
	uint64_t fmt;
	size_t at;
	int rc;

	if (!max_entries || max_entries > EPOCH_MAX_ENTRIES)
		max_entries = EPOCH_MAX_ENTRIES;
	epoch_init(&t);
	if ((rc = rd_header(&r, 0, &n, EPOCH_E_ENVELOPE)))
		goto out;
	if (n != 3) {
		r.off = 0;
		rc = EPOCH_E_ENVELOPE;
		goto out;
	}
	at = r.off;
	if ((rc = rd_uint(&r, &fmt, EPOCH_E_FORMAT)))
		goto out;
	if (fmt != EPOCH_FORMAT) {
		r.off = at;
		rc = EPOCH_E_FORMAT;
		goto out;
	}
	if ((rc = rd_members(&r, max_entries, &t.state)))
		goto out;
	if ((rc = rd_counters(&r, max_entries, &t.vec)))
		goto out;
	if (r.off != r.len)
		rc = EPOCH_E_TRAILING;
out:
	if (err_off)
		*err_off = r.off;
	if (rc) {
		epoch_fini(&t);
		return rc;
	}
	epoch_fini(e);
	*e = t;
	return 0;
}

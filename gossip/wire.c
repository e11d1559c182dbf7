/* gossip/wire.c: SWIM body codec over msgpack-c (see wire.h). */
#include "gossip/wire.h"
#include "gossip/mpcheck.h"

#include <errno.h>
#include <string.h>

#include <msgpack.h>

#define WIRE_X_ONE(name, val, msg) +1
_Static_assert((0 WIRE_ERRORS(WIRE_X_ONE)) == WIRE_E_COUNT, "WIRE_E_COUNT out of date");
#undef WIRE_X_ONE

const char *wire_strerror(int code)
{
	switch (code) {
#define WIRE_X_STR(name, val, msg) case name: return msg;
		WIRE_ERRORS(WIRE_X_STR)
#undef WIRE_X_STR
	case 0: return "ok";
	}
	return code < 0 ? strerror(-code) : "wire: unknown code";
}

/* encoding into caller memory */

struct wire_out {
	uint8_t *buf;
	size_t   cap, len;
	int      overflow;
};

/* msgpack writer callback: fixed buffer, flags overflow instead of growing */
static int wire_out_write(void *data, const char *p, size_t n)
{
	struct wire_out *o = data;

	if (o->overflow || n > o->cap - o->len) {
		o->overflow = 1;
		return -1;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

static void wire_addr_put(msgpack_packer *pk, const struct swim_addr *a)
{
	uint8_t b[18];
	size_t iplen = a->family == 6 ? 16 : 4;

	memcpy(b, a->ip, iplen);
	b[iplen] = a->port >> 8;
	b[iplen + 1] = a->port & 0xff;
	msgpack_pack_bin_with_body(pk, b, iplen + 2);
}

static void wire_update_put(msgpack_packer *pk, const struct wire_update *u)
{
	if (u->full) {
		msgpack_pack_array(pk, 9);
		msgpack_pack_bin_with_body(pk, u->id, SWIM_ID_LEN);
		msgpack_pack_uint64(pk, u->incarnation);
		msgpack_pack_uint8(pk, u->state);
		wire_addr_put(pk, &u->gossip);
		wire_addr_put(pk, &u->data);
		msgpack_pack_uint16(pk, u->meta.weight);
		msgpack_pack_uint32(pk, u->meta.zone);
		msgpack_pack_uint64(pk, u->meta.capacity);
		msgpack_pack_uint64(pk, u->meta.generation);
	} else {
		msgpack_pack_array(pk, 4);
		msgpack_pack_bin_with_body(pk, u->id, SWIM_ID_LEN);
		msgpack_pack_uint64(pk, u->incarnation);
		msgpack_pack_uint8(pk, u->state);
		msgpack_pack_bin_with_body(pk, u->from, SWIM_ID_LEN);
	}
}

static int wire_update_valid(const struct wire_update *u)
{
	if (u->state > SWIM_STATE_MAX || u->incarnation > WIRE_COUNTER_MAX)
		return 0;
	if (!u->full)
		return u->state != SWIM_ALIVE;
	return (u->gossip.family == 4 || u->gossip.family == 6) &&
	       (u->data.family == 4 || u->data.family == 6);
}

size_t wire_update_size(const struct wire_update *u)
{
	uint8_t tmp[WIRE_UPDATE_MAX];
	struct wire_out o = { tmp, sizeof(tmp), 0, 0 };
	msgpack_packer pk;

	msgpack_packer_init(&pk, &o, wire_out_write);
	wire_update_put(&pk, u);
	return o.overflow ? WIRE_UPDATE_MAX : o.len;
}

/* an all-zero digest means "none": it is not sent */
static int wire_digest_set(const struct wire_msg *msg)
{
	static const uint8_t zero[WIRE_DIGEST_LEN];

	return msg->has_digest && memcmp(msg->digest, zero, WIRE_DIGEST_LEN) != 0;
}

int wire_encode(const struct wire_msg *msg, uint8_t *buf, size_t cap, size_t *len)
{
	struct wire_out o = { buf, cap, 0, 0 };
	msgpack_packer pk;

	if (msg->type < 1 || msg->type > WIRE_TYPE_MAX || msg->n_updates > WIRE_MAX_UPDATES ||
	    msg->seq > WIRE_COUNTER_MAX)
		return -EINVAL;
	if (msg->target_addr.family && msg->target_addr.family != 4 && msg->target_addr.family != 6)
		return -EINVAL;
	for (uint32_t i = 0; i < msg->n_updates; i++)
		if (!wire_update_valid(&msg->updates[i]))
			return -EINVAL;
	msgpack_packer_init(&pk, &o, wire_out_write);
	msgpack_pack_array(&pk, wire_digest_set(msg) ? 10 : 9);
	msgpack_pack_uint8(&pk, WIRE_VERSION);
	msgpack_pack_uint8(&pk, msg->type);
	msgpack_pack_bin_with_body(&pk, msg->sender, SWIM_ID_LEN);
	msgpack_pack_uint64(&pk, msg->seq);
	msgpack_pack_uint32(&pk, msg->probe);
	msgpack_pack_uint32(&pk, msg->flags);
	if (msg->has_target)
		msgpack_pack_bin_with_body(&pk, msg->target, SWIM_ID_LEN);
	else
		msgpack_pack_nil(&pk);
	if (msg->target_addr.family)
		wire_addr_put(&pk, &msg->target_addr);
	else
		msgpack_pack_nil(&pk);
	msgpack_pack_array(&pk, msg->n_updates);
	for (uint32_t i = 0; i < msg->n_updates; i++)
		wire_update_put(&pk, &msg->updates[i]);
	if (wire_digest_set(msg))
		msgpack_pack_bin_with_body(&pk, msg->digest, WIRE_DIGEST_LEN);
	if (o.overflow)
		return -ENOSPC;
	*len = o.len;
	return 0;
}

/* decoding: every field checked */

static int wire_get_uint(const msgpack_object *o, uint64_t max, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
		return 0;
	*out = o->via.u64;
	return 1;
}

static int wire_get_id(const msgpack_object *o, uint8_t out[SWIM_ID_LEN])
{
	if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != SWIM_ID_LEN)
		return 0;
	memcpy(out, o->via.bin.ptr, SWIM_ID_LEN);
	return 1;
}

/* 6 or 18 bytes, port != 0 */
static int wire_get_addr(const msgpack_object *o, struct swim_addr *a)
{
	const uint8_t *p;
	size_t iplen;

	if (o->type != MSGPACK_OBJECT_BIN || (o->via.bin.size != 6 && o->via.bin.size != 18))
		return 0;
	p = (const uint8_t *)o->via.bin.ptr;
	iplen = o->via.bin.size - 2;
	memset(a, 0, sizeof(*a));
	a->family = iplen == 16 ? 6 : 4;
	memcpy(a->ip, p, iplen);
	a->port = (uint16_t)(p[iplen] << 8 | p[iplen + 1]);
	return a->port != 0;
}

static int wire_update_get(const msgpack_object *o, struct wire_update *u)
{
	const msgpack_object *f;
	uint64_t v;

	if (o->type != MSGPACK_OBJECT_ARRAY || (o->via.array.size != 4 && o->via.array.size != 9))
		return WIRE_E_UPD_SHAPE;
	f = o->via.array.ptr;
	memset(u, 0, sizeof(*u));
	if (!wire_get_id(&f[0], u->id))
		return WIRE_E_UPD_ID;
	if (!wire_get_uint(&f[1], WIRE_COUNTER_MAX, &u->incarnation))
		return WIRE_E_UPD_INC;
	if (!wire_get_uint(&f[2], SWIM_STATE_MAX, &v))
		return WIRE_E_UPD_STATE;
	u->state = (uint8_t)v;
	if (o->via.array.size == 4) {
		if (u->state == SWIM_ALIVE)
			return WIRE_E_UPD_STATE;
		if (!wire_get_id(&f[3], u->from))
			return WIRE_E_UPD_FROM;
		return 0;
	}
	u->full = 1;
	if (!wire_get_addr(&f[3], &u->gossip) || !wire_get_addr(&f[4], &u->data))
		return WIRE_E_UPD_ADDR;
	if (!wire_get_uint(&f[5], UINT16_MAX, &v))
		return WIRE_E_UPD_META;
	u->meta.weight = (uint16_t)v;
	if (!wire_get_uint(&f[6], UINT32_MAX, &v))
		return WIRE_E_UPD_META;
	u->meta.zone = (uint32_t)v;
	if (!wire_get_uint(&f[7], UINT64_MAX, &u->meta.capacity) ||
	    !wire_get_uint(&f[8], UINT64_MAX, &u->meta.generation))
		return WIRE_E_UPD_META;
	return 0;
}

static int wire_msg_get(const msgpack_object *root, struct wire_msg *msg)
{
	const msgpack_object *f;
	uint64_t v;
	int rc;

	if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size < 2)
		return WIRE_E_ENVELOPE;
	f = root->via.array.ptr;
	/* version and type first: a future version may change the envelope */
	if (!wire_get_uint(&f[0], UINT64_MAX, &v) || v != WIRE_VERSION)
		return WIRE_E_VERSION;
	if (!wire_get_uint(&f[1], WIRE_TYPE_MAX, &v) || v == 0)
		return WIRE_E_TYPE;
	msg->type = (uint8_t)v;
	if (root->via.array.size != 9 && root->via.array.size != 10)
		return WIRE_E_ENVELOPE;
	if (!wire_get_id(&f[2], msg->sender))
		return WIRE_E_SENDER;
	if (!wire_get_uint(&f[3], WIRE_COUNTER_MAX, &msg->seq))
		return WIRE_E_SEQ;
	if (!wire_get_uint(&f[4], UINT32_MAX, &v))
		return WIRE_E_PROBE;
	msg->probe = (uint32_t)v;
	if (!wire_get_uint(&f[5], msg->type == WIRE_PUSHPULL ? (WIRE_PP_REPLY | WIRE_PP_JOIN) : 0, &v))
		return WIRE_E_FLAGS;
	msg->flags = (uint32_t)v;
	msg->has_target = 0;
	if (f[6].type != MSGPACK_OBJECT_NIL) {
		if (!wire_get_id(&f[6], msg->target))
			return WIRE_E_TARGET;
		msg->has_target = 1;
	}
	if ((msg->type == WIRE_PING || msg->type == WIRE_PING_REQ) != msg->has_target)
		return WIRE_E_TARGET;
	memset(&msg->target_addr, 0, sizeof(msg->target_addr));
	if (f[7].type != MSGPACK_OBJECT_NIL && !wire_get_addr(&f[7], &msg->target_addr))
		return WIRE_E_TADDR;
	if ((msg->type == WIRE_PING_REQ) != (msg->target_addr.family != 0))
		return WIRE_E_TADDR;
	if (f[8].type != MSGPACK_OBJECT_ARRAY || f[8].via.array.size > WIRE_MAX_UPDATES)
		return WIRE_E_UPDATES;
	msg->n_updates = f[8].via.array.size;
	for (uint32_t i = 0; i < msg->n_updates; i++) {
		rc = wire_update_get(&f[8].via.array.ptr[i], &msg->updates[i]);
		if (rc)
			return rc;
	}
	msg->has_digest = 0;
	memset(msg->digest, 0, WIRE_DIGEST_LEN);
	if (root->via.array.size == 10) {
		static const uint8_t zero[WIRE_DIGEST_LEN];

		if (f[9].type != MSGPACK_OBJECT_BIN || f[9].via.bin.size != WIRE_DIGEST_LEN)
			return WIRE_E_DIGEST;
		memcpy(msg->digest, f[9].via.bin.ptr, WIRE_DIGEST_LEN);
		msg->has_digest = memcmp(msg->digest, zero, WIRE_DIGEST_LEN) != 0;
	}
	return 0;
}

int wire_decode(struct wire_msg *msg, const uint8_t *buf, size_t len)
{
	msgpack_unpacked up;
	size_t off = 0;
	int rc;

	int sk = mpcheck_bounded(buf, len, 8);
	if (sk == MPCHECK_TRAILING)
		return WIRE_E_TRAILING;
	if (sk)
		return WIRE_E_PARSE;
	msgpack_unpacked_init(&up);
	switch (msgpack_unpack_next(&up, (const char *)buf, len, &off)) {
	case MSGPACK_UNPACK_SUCCESS:
		rc = off != len ? WIRE_E_TRAILING : wire_msg_get(&up.data, msg);
		break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		rc = -ENOMEM;
		break;
	default:
		rc = WIRE_E_PARSE;
	}
	msgpack_unpacked_destroy(&up);
	return rc;
}

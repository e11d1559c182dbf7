/*
 * gossip/epoch.c: version vectors and ring-defining state (contract and the
 * agreement argument in epoch.h).
 *
 * Both are arrays sorted by id: lookups are binary searches, merges are one
 * linear merge-join into a fresh array that replaces the old one only when
 * everything succeeded (so -ENOMEM leaves the destination unchanged).  Sizes
 * are cluster sizes (hundreds to thousands), so O(n) inserts are fine.
 * The msgpack codec is in epoch_codec.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gossip/epoch.h"

const char *epoch_strerror(int code)
{
	switch (code) {
#define EPOCH_X_MSG(name, val, msg) \
	case name:                  \
		return msg;
		EPOCH_ERRORS(EPOCH_X_MSG)
#undef EPOCH_X_MSG
	case 0:
		return "epoch: ok";
	case -ENOMEM:
		return "epoch: out of memory";
	case -ENOSPC:
		return "epoch: output buffer too small";
	case -EINVAL:
		return "epoch: invalid argument";
	case -EOVERFLOW:
		return "epoch: counter at its maximum";
	default:
		return "epoch: unknown error";
	}
}

static void le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Index of id in an array of n structs of `size` bytes whose first field is
 * the id, or -(insertion point) - 1. */
static int64_t id_search(const void *arr, size_t size, uint32_t n, const uint8_t *id)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp((const uint8_t *)arr + (size_t)mid * size, id, EPOCH_ID_LEN);
		if (!c)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(int64_t)lo - 1;
}

/* Make room for one more element; 0 or -ENOMEM. */
static int grow(void **arr, uint32_t *cap, uint32_t n, size_t size)
{
	if (n < *cap)
		return 0;
	uint32_t nc = *cap ? *cap * 2 : 8;
	void *p = realloc(*arr, (size_t)nc * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = nc;
	return 0;
}

/* ---- version vector ---- */

void epoch_vec_init(struct epoch_vec *v)
{
	memset(v, 0, sizeof(*v));
}

void epoch_vec_fini(struct epoch_vec *v)
{
	free(v->e);
	memset(v, 0, sizeof(*v));
}

int epoch_vec_copy(struct epoch_vec *dst, const struct epoch_vec *src)
{
	struct epoch_entry *e;

	if (dst == src)
		return 0;
	e = malloc((src->n ? src->n : 1) * sizeof(*e));
	if (!e)
		return -ENOMEM;
	if (src->n)
		memcpy(e, src->e, src->n * sizeof(*e));
	free(dst->e);
	dst->e = e;
	dst->cap = src->n ? src->n : 1;
	dst->n = src->n;
	return 0;
}

uint64_t epoch_vec_get(const struct epoch_vec *v, const uint8_t id[EPOCH_ID_LEN])
{
	int64_t i = id_search(v->e, sizeof(*v->e), v->n, id);

	return i >= 0 ? v->e[i].counter : 0;
}

int epoch_vec_raise(struct epoch_vec *v, const uint8_t id[EPOCH_ID_LEN], uint64_t c)
{
	int64_t i = id_search(v->e, sizeof(*v->e), v->n, id);

	if (i >= 0) {
		if (v->e[i].counter >= c)
			return 0;
		v->e[i].counter = c;
		return 1;
	}
	if (!c)
		return 0;
	if (grow((void **)&v->e, &v->cap, v->n, sizeof(*v->e)))
		return -ENOMEM;
	i = -i - 1;
	memmove(&v->e[i + 1], &v->e[i], (v->n - (size_t)i) * sizeof(*v->e));
	memcpy(v->e[i].id, id, EPOCH_ID_LEN);
	v->e[i].counter = c;
	v->n++;
	return 1;
}

int epoch_vec_bump(struct epoch_vec *v, const uint8_t id[EPOCH_ID_LEN])
{
	uint64_t c = epoch_vec_get(v, id);
	int rc;

	if (c == UINT64_MAX)
		return -EOVERFLOW;
	rc = epoch_vec_raise(v, id, c + 1);
	return rc < 0 ? rc : 0;
}

static int vec_join(struct epoch_vec *out, const struct epoch_vec *a, const struct epoch_vec *b, int *changed)
{
	uint32_t i = 0, j = 0, k = 0, cap = a->n + b->n;
	struct epoch_entry *e = malloc((cap ? cap : 1) * sizeof(*e));

	if (!e)
		return -ENOMEM;
	*changed = 0;
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : memcmp(a->e[i].id, b->e[j].id, EPOCH_ID_LEN);
		if (c < 0) {
			e[k++] = a->e[i++];
		} else if (c > 0) {
			e[k++] = b->e[j++];
			*changed = 1;
		} else {
			e[k] = a->e[i++];
			if (b->e[j].counter > e[k].counter) {
				e[k].counter = b->e[j].counter;
				*changed = 1;
			}
			k++;
			j++;
		}
	}
	out->e = e;
	out->n = k;
	out->cap = cap ? cap : 1;
	return 0;
}

int epoch_vec_merge(struct epoch_vec *dst, const struct epoch_vec *src)
{
	struct epoch_vec t;
	int changed;

	if (dst == src)
		return 0;
	if (vec_join(&t, dst, src, &changed))
		return -ENOMEM;
	free(dst->e);
	*dst = t;
	return changed;
}

enum epoch_order epoch_vec_compare(const struct epoch_vec *a, const struct epoch_vec *b)
{
	uint32_t i = 0, j = 0;
	int a_more = 0, b_more = 0;   /* a has a larger counter somewhere / b has */

	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : memcmp(a->e[i].id, b->e[j].id, EPOCH_ID_LEN);
		if (c < 0) {
			a_more = 1;       /* absent in b = 0 < counter (counters are > 0) */
			i++;
		} else if (c > 0) {
			b_more = 1;
			j++;
		} else {
			a_more |= a->e[i].counter > b->e[j].counter;
			b_more |= a->e[i].counter < b->e[j].counter;
			i++;
			j++;
		}
	}
	if (a_more && b_more)
		return EPOCH_CONCURRENT;
	return a_more ? EPOCH_NEWER : b_more ? EPOCH_OLDER : EPOCH_EQUAL;
}

uint64_t epoch_vec_scalar(const struct epoch_vec *v)
{
	uint64_t s = 0;

	for (uint32_t i = 0; i < v->n; i++)
		s = v->e[i].counter > UINT64_MAX - s ? UINT64_MAX : s + v->e[i].counter;
	return s;
}

void epoch_vec_digest(const struct epoch_vec *v, uint8_t out[EPOCH_DIGEST_LEN])
{
	static const char tag[] = "sheepmesh-epoch-vec-1";
	crypto_generichash_state st;
	uint8_t b[8];

	crypto_generichash_init(&st, NULL, 0, EPOCH_DIGEST_LEN);
	crypto_generichash_update(&st, (const uint8_t *)tag, sizeof(tag));
	for (uint32_t i = 0; i < v->n; i++) {
		crypto_generichash_update(&st, v->e[i].id, EPOCH_ID_LEN);
		le64_put(b, v->e[i].counter);
		crypto_generichash_update(&st, b, 8);
	}
	crypto_generichash_final(&st, out, EPOCH_DIGEST_LEN);
}

/* ---- ring-defining state ---- */

int epoch_member_cmp(const struct epoch_member *a, const struct epoch_member *b)
{
	if (a->version != b->version)
		return a->version < b->version ? -1 : 1;
	if (a->state != b->state)
		return a->state < b->state ? -1 : 1;      /* OUT (2) beats IN (1) */
	if (a->weight != b->weight)
		return a->weight < b->weight ? -1 : 1;
	if (a->zone != b->zone)
		return a->zone < b->zone ? -1 : 1;
	return 0;
}

void epoch_state_init(struct epoch_state *s)
{
	memset(s, 0, sizeof(*s));
}

void epoch_state_fini(struct epoch_state *s)
{
	free(s->m);
	memset(s, 0, sizeof(*s));
}

int epoch_state_copy(struct epoch_state *dst, const struct epoch_state *src)
{
	struct epoch_member *m;

	if (dst == src)
		return 0;
	m = malloc((src->n ? src->n : 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (src->n)
		memcpy(m, src->m, src->n * sizeof(*m));
	free(dst->m);
	dst->m = m;
	dst->cap = src->n ? src->n : 1;
	dst->n = src->n;
	return 0;
}

const struct epoch_member *epoch_state_get(const struct epoch_state *s, const uint8_t id[EPOCH_ID_LEN])
{
	int64_t i = id_search(s->m, sizeof(*s->m), s->n, id);

	return i >= 0 ? &s->m[i] : NULL;
}

static int member_valid(const struct epoch_member *m)
{
	return m->state == EPOCH_IN || m->state == EPOCH_OUT;
}

int epoch_state_apply(struct epoch_state *s, const struct epoch_member *ev)
{
	int64_t i;

	if (!member_valid(ev))
		return -EINVAL;
	i = id_search(s->m, sizeof(*s->m), s->n, ev->id);
	if (i >= 0) {
		if (epoch_member_cmp(ev, &s->m[i]) <= 0)
			return 0;
		s->m[i] = *ev;
		return 1;
	}
	if (grow((void **)&s->m, &s->cap, s->n, sizeof(*s->m)))
		return -ENOMEM;
	i = -i - 1;
	memmove(&s->m[i + 1], &s->m[i], (s->n - (size_t)i) * sizeof(*s->m));
	s->m[i] = *ev;
	s->n++;
	return 1;
}

static int state_join(struct epoch_state *out, const struct epoch_state *a, const struct epoch_state *b,
                      int *changed)
{
	uint32_t i = 0, j = 0, k = 0, cap = a->n + b->n;
	struct epoch_member *m = malloc((cap ? cap : 1) * sizeof(*m));

	if (!m)
		return -ENOMEM;
	*changed = 0;
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : memcmp(a->m[i].id, b->m[j].id, EPOCH_ID_LEN);
		if (c < 0) {
			m[k++] = a->m[i++];
		} else if (c > 0) {
			m[k++] = b->m[j++];
			*changed = 1;
		} else {
			if (epoch_member_cmp(&b->m[j], &a->m[i]) > 0) {
				m[k++] = b->m[j];
				*changed = 1;
			} else {
				m[k++] = a->m[i];
			}
			i++;
			j++;
		}
	}
	out->m = m;
	out->n = k;
	out->cap = cap ? cap : 1;
	return 0;
}

int epoch_state_merge(struct epoch_state *dst, const struct epoch_state *src)
{
	struct epoch_state t;
	int changed;

	if (dst == src)
		return 0;
	if (state_join(&t, dst, src, &changed))
		return -ENOMEM;
	free(dst->m);
	*dst = t;
	return changed;
}

size_t epoch_state_placed(const struct epoch_state *s, struct ring_member *out, size_t cap)
{
	size_t n = 0;

	for (uint32_t i = 0; i < s->n; i++) {
		const struct epoch_member *m = &s->m[i];
		if (m->state != EPOCH_IN || !m->weight)
			continue;
		if (n < cap) {
			memcpy(out[n].id, m->id, RING_ID_LEN);
			out[n].weight = m->weight;
			out[n].zone = m->zone;
		}
		n++;
	}
	return n;
}

int epoch_state_ring(const struct epoch_state *s, uint32_t vnodes_per_unit, struct ring **out)
{
	size_t n = epoch_state_placed(s, NULL, 0);
	struct ring_member *rm = malloc((n ? n : 1) * sizeof(*rm));
	int rc;

	*out = NULL;
	if (!rm)
		return -ENOMEM;
	epoch_state_placed(s, rm, n);
	rc = ring_new(out, rm, n, vnodes_per_unit);
	free(rm);
	return rc;
}

void epoch_state_digest(const struct epoch_state *s, uint8_t out[EPOCH_DIGEST_LEN])
{
	static const char tag[] = "sheepmesh-epoch-state-1";
	crypto_generichash_state st;
	uint8_t b[15];

	crypto_generichash_init(&st, NULL, 0, EPOCH_DIGEST_LEN);
	crypto_generichash_update(&st, (const uint8_t *)tag, sizeof(tag));
	for (uint32_t i = 0; i < s->n; i++) {
		const struct epoch_member *m = &s->m[i];
		crypto_generichash_update(&st, m->id, EPOCH_ID_LEN);
		le64_put(b, m->version);
		b[8] = m->state;
		b[9] = (uint8_t)m->weight;
		b[10] = (uint8_t)(m->weight >> 8);
		b[11] = (uint8_t)m->zone;
		b[12] = (uint8_t)(m->zone >> 8);
		b[13] = (uint8_t)(m->zone >> 16);
		b[14] = (uint8_t)(m->zone >> 24);
		crypto_generichash_update(&st, b, sizeof(b));
	}
	crypto_generichash_final(&st, out, EPOCH_DIGEST_LEN);
}

/* ---- both together ---- */

void epoch_init(struct epoch *e)
{
	epoch_state_init(&e->state);
	epoch_vec_init(&e->vec);
}

void epoch_fini(struct epoch *e)
{
	epoch_state_fini(&e->state);
	epoch_vec_fini(&e->vec);
}

int epoch_copy(struct epoch *dst, const struct epoch *src)
{
	struct epoch t;

	if (dst == src)
		return 0;
	epoch_init(&t);
	if (epoch_state_copy(&t.state, &src->state) || epoch_vec_copy(&t.vec, &src->vec)) {
		epoch_fini(&t);
		return -ENOMEM;
	}
	epoch_fini(dst);
	*dst = t;
	return 0;
}

int epoch_record(struct epoch *e, const uint8_t self[EPOCH_ID_LEN], const struct epoch_member *ev)
{
	const struct epoch_member *cur;
	int rc;

	if (!member_valid(ev))
		return -EINVAL;
	cur = epoch_state_get(&e->state, ev->id);
	if (cur && epoch_member_cmp(ev, cur) <= 0)
		return 0;                 /* stale or duplicate: no event */
	if (epoch_vec_get(&e->vec, self) == UINT64_MAX)
		return -EOVERFLOW;
	/* Bump first (may allocate), then apply; undo the bump if apply fails. */
	if (epoch_vec_bump(&e->vec, self))
		return -ENOMEM;
	rc = epoch_state_apply(&e->state, ev);
	if (rc < 0) {
		/* Only -ENOMEM gets here: lower the counter again, in place. */
		int64_t i = id_search(e->vec.e, sizeof(*e->vec.e), e->vec.n, self);
		if (e->vec.e[i].counter == 1) {
			memmove(&e->vec.e[i], &e->vec.e[i + 1], (e->vec.n - (size_t)i - 1) * sizeof(*e->vec.e));
			e->vec.n--;
		} else {
			e->vec.e[i].counter--;
		}
		return rc;
	}
	return 1;
}

int epoch_merge(struct epoch *dst, const struct epoch *src)
{
	struct epoch_state ts;
	struct epoch_vec tv;
	int cs, cv;

	if (dst == src)
		return 0;
	if (state_join(&ts, &dst->state, &src->state, &cs))
		return -ENOMEM;
	if (vec_join(&tv, &dst->vec, &src->vec, &cv)) {
		free(ts.m);
		return -ENOMEM;
	}
	epoch_fini(dst);
	dst->state = ts;
	dst->vec = tv;
	return cs || cv;
}

enum epoch_order epoch_compare(const struct epoch *a, const struct epoch *b)
{
	return epoch_vec_compare(&a->vec, &b->vec);
}

uint64_t epoch_scalar(const struct epoch *e)
{
	return epoch_vec_scalar(&e->vec);
}

void epoch_digest(const struct epoch *e, uint8_t out[EPOCH_DIGEST_LEN])
{
	static const char tag[] = "sheepmesh-epoch-1";
	crypto_generichash_state st;
	uint8_t d[EPOCH_DIGEST_LEN];

	crypto_generichash_init(&st, NULL, 0, EPOCH_DIGEST_LEN);
	crypto_generichash_update(&st, (const uint8_t *)tag, sizeof(tag));
	epoch_state_digest(&e->state, d);
	crypto_generichash_update(&st, d, sizeof(d));
	epoch_vec_digest(&e->vec, d);
	crypto_generichash_update(&st, d, sizeof(d));
	crypto_generichash_final(&st, out, EPOCH_DIGEST_LEN);
}

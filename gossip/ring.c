/*
 * gossip/ring.c: consistent-hash ring of vnodes (contract in ring.h).
 *
 * Layout: positions in one dense uint64_t array (binary search touches only
 * it: 8 bytes per vnode, 12,800 vnodes = 100 KiB at N=100) and the owner
 * node index in a parallel uint32_t array.  Built once, never modified.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gossip/hash64.h"
#include "gossip/ring.h"

struct ring {
	uint32_t nr_nodes;
	uint32_t nr_vnodes;
	uint32_t nr_zones;             /* distinct zones, each zone-0 node counted as its own */
	uint32_t vnodes_per_unit;
	struct ring_member *nodes;     /* placed members sorted by id; index = node index */
	uint64_t *pos;                 /* vnode positions, ascending */
	uint32_t *owner;               /* owner[i] = node index of vnode i */
	uint8_t digest[RING_DIGEST_LEN];
};

struct vnode {
	uint64_t pos;
	uint32_t node;
};

static void le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

uint64_t ring_vnode_hash(const uint8_t id[RING_ID_LEN], uint32_t index)
{
	uint8_t buf[RING_ID_LEN + 4];

	memcpy(buf, id, RING_ID_LEN);
	le32_put(buf + RING_ID_LEN, index);
	return hash64_xxh64(buf, sizeof(buf), 0);
}

uint64_t ring_oid_hash(uint64_t oid)
{
	uint8_t buf[8];

	le32_put(buf, (uint32_t)oid);
	le32_put(buf + 4, (uint32_t)(oid >> 32));
	return hash64_xxh64(buf, sizeof(buf), 0);
}

static int member_cmp(const void *a, const void *b)
{
	return memcmp(((const struct ring_member *)a)->id, ((const struct ring_member *)b)->id, RING_ID_LEN);
}

/* Node indices follow id order, so (pos, node) order = (pos, id) order. */
static int vnode_cmp(const void *a, const void *b)
{
	const struct vnode *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return (x->node > y->node) - (x->node < y->node);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int ring_count_zones(struct ring *r)
{
	uint32_t *z = malloc((r->nr_nodes ? r->nr_nodes : 1) * sizeof(*z));
	uint32_t nz = 0, zero = 0, distinct = 0;

	if (!z)
		return -ENOMEM;
	for (uint32_t i = 0; i < r->nr_nodes; i++) {
		if (r->nodes[i].zone)
			z[nz++] = r->nodes[i].zone;
		else
			zero++;
	}
	qsort(z, nz, sizeof(*z), u32_cmp);
	for (uint32_t i = 0; i < nz; i++)
		distinct += (i == 0 || z[i] != z[i - 1]);
	free(z);
	r->nr_zones = distinct + zero;
	return 0;
}

static void ring_compute_digest(struct ring *r)
{
	static const char tag[] = "sheepmesh-ring";
	crypto_generichash_state st;
	uint8_t b[12];

	crypto_generichash_init(&st, NULL, 0, RING_DIGEST_LEN);
	crypto_generichash_update(&st, (const uint8_t *)tag, sizeof(tag));
	le32_put(b, RING_HASH_VERSION);
	le32_put(b + 4, r->vnodes_per_unit);
	le32_put(b + 8, r->nr_nodes);
	crypto_generichash_update(&st, b, 12);
	for (uint32_t i = 0; i < r->nr_nodes; i++) {
		crypto_generichash_update(&st, r->nodes[i].id, RING_ID_LEN);
		b[0] = (uint8_t)r->nodes[i].weight;
		b[1] = (uint8_t)(r->nodes[i].weight >> 8);
		le32_put(b + 2, r->nodes[i].zone);
		crypto_generichash_update(&st, b, 6);
	}
	crypto_generichash_final(&st, r->digest, RING_DIGEST_LEN);
}

int ring_new(struct ring **out, const struct ring_member *members, size_t n, uint32_t vnodes_per_unit)
{
	struct ring_member *sorted = NULL;
	struct vnode *vn = NULL;
	struct ring *r = NULL;
	uint64_t total = 0;
	size_t placed = 0;
	int rc = -ENOMEM;

	*out = NULL;
	if (n && !members)
		return -EINVAL;
	if (!vnodes_per_unit)
		vnodes_per_unit = RING_VNODES_PER_UNIT_DEFAULT;
	/* Sort everything (weight 0 included) so duplicate ids are caught. */
	sorted = malloc((n ? n : 1) * sizeof(*sorted));
	if (!sorted)
		goto err;
	if (n)
		memcpy(sorted, members, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), member_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && !memcmp(sorted[i].id, sorted[i - 1].id, RING_ID_LEN)) {
			rc = -EINVAL;
			goto err;
		}
		if (sorted[i].weight) {
			/* checked per member: each term < 2^48, so no overflow */
			total += (uint64_t)sorted[i].weight * vnodes_per_unit;
			if (total > RING_MAX_VNODES) {
				rc = -E2BIG;
				goto err;
			}
			sorted[placed++] = sorted[i];
		}
	}

	r = calloc(1, sizeof(*r));
	if (!r)
		goto err;
	r->nodes = sorted;
	sorted = NULL;
	r->nr_nodes = (uint32_t)placed;
	r->nr_vnodes = (uint32_t)total;
	r->vnodes_per_unit = vnodes_per_unit;
	r->pos = malloc((total ? total : 1) * sizeof(*r->pos));
	r->owner = malloc((total ? total : 1) * sizeof(*r->owner));
	vn = malloc((total ? total : 1) * sizeof(*vn));
	if (!r->pos || !r->owner || !vn)
		goto err;

	size_t k = 0;
	for (uint32_t i = 0; i < r->nr_nodes; i++) {
		uint32_t cnt = (uint32_t)r->nodes[i].weight * vnodes_per_unit;
		for (uint32_t j = 0; j < cnt; j++) {
			vn[k].pos = ring_vnode_hash(r->nodes[i].id, j);
			vn[k++].node = i;
		}
	}
	/* O(V log V); entries with equal (pos, node) are indistinguishable, so
	 * qsort's instability cannot change the result. */
	qsort(vn, total, sizeof(*vn), vnode_cmp);
	for (size_t i = 0; i < total; i++) {
		r->pos[i] = vn[i].pos;
		r->owner[i] = vn[i].node;
	}
	free(vn);
	vn = NULL;
	rc = ring_count_zones(r);
	if (rc)
		goto err;
	ring_compute_digest(r);
	*out = r;
	return 0;
err:
	free(vn);
	free(sorted);
	ring_free(r);
	return rc;
}

void ring_free(struct ring *r)
{
	if (!r)
		return;
	free(r->nodes);
	free(r->pos);
	free(r->owner);
	free(r);
}

/*
 * Index of the first vnode with pos >= key, wrapping to 0.  Needs V > 0.
 * Branch-free lower bound: random keys make the classic loop mispredict on
 * about half of its log2(V) steps; a conditional move does not.
 */
static uint32_t ring_start(const struct ring *r, uint64_t key)
{
	const uint64_t *base = r->pos;
	uint32_t n = r->nr_vnodes, idx;

	while (n > 1) {
		uint32_t half = n / 2;
		base = base[half] < key ? base + half : base;
		n -= half;
	}
	idx = (uint32_t)(base - r->pos) + (*base < key);
	return idx == r->nr_vnodes ? 0 : idx;
}

int ring_primary(const struct ring *r, uint64_t key_hash)
{
	if (!r->nr_vnodes)
		return -ENOENT;
	return (int)r->owner[ring_start(r, key_hash)];
}

static int taken_has(const uint32_t *set, unsigned n, uint32_t v)
{
	for (unsigned i = 0; i < n; i++)
		if (set[i] == v)
			return 1;
	return 0;
}

int ring_locate(const struct ring *r, uint64_t key_hash, unsigned copies, uint32_t *out)
{
	uint32_t zones[RING_MAX_COPIES];
	unsigned want, got = 0, nz = 0, zone_target;
	uint32_t start, i, v;

	if (copies > RING_MAX_COPIES)
		return -EINVAL;
	want = copies < r->nr_nodes ? copies : r->nr_nodes;
	if (!want)
		return 0;
	zone_target = want < r->nr_zones ? want : r->nr_zones;
	start = ring_start(r, key_hash);

	/* Pass 1: distinct nodes in distinct zones.  A full walk meets every
	 * zone, so it always reaches zone_target within V steps. */
	for (i = 0, v = start; i < r->nr_vnodes && got < zone_target; i++) {
		uint32_t node = r->owner[v], zone = r->nodes[node].zone;
		if (!taken_has(out, got, node) && !(zone && taken_has(zones, nz, zone))) {
			out[got++] = node;
			if (zone)
				zones[nz++] = zone;
		}
		if (++v == r->nr_vnodes)
			v = 0;
	}
	/* Pass 2 (fewer zones than copies): fill with any distinct node. */
	for (i = 0, v = start; i < r->nr_vnodes && got < want; i++) {
		uint32_t node = r->owner[v];
		if (!taken_has(out, got, node))
			out[got++] = node;
		if (++v == r->nr_vnodes)
			v = 0;
	}
	return (int)got;
}

size_t ring_nr_nodes(const struct ring *r) { return r->nr_nodes; }
size_t ring_nr_vnodes(const struct ring *r) { return r->nr_vnodes; }

const struct ring_member *ring_node(const struct ring *r, uint32_t idx)
{
	return idx < r->nr_nodes ? &r->nodes[idx] : NULL;
}

int ring_find(const struct ring *r, const uint8_t id[RING_ID_LEN])
{
	uint32_t lo = 0, hi = r->nr_nodes;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(r->nodes[mid].id, id, RING_ID_LEN);
		if (!c)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

double ring_share(const struct ring *r, uint32_t idx)
{
	double sum = 0;

	if (idx >= r->nr_nodes || !r->nr_vnodes)
		return 0;
	if (r->nr_nodes == 1)
		return 1;
	/* Vnode i owns (pos[i-1], pos[i]]; vnode 0 also owns the wrap-around. */
	for (uint32_t i = 0; i < r->nr_vnodes; i++) {
		if (r->owner[i] != idx)
			continue;
		uint64_t prev = r->pos[i ? i - 1 : r->nr_vnodes - 1];
		sum += (double)(uint64_t)(r->pos[i] - prev);
	}
	return sum / 18446744073709551616.0;
}

void ring_digest(const struct ring *r, uint8_t out[RING_DIGEST_LEN])
{
	memcpy(out, r->digest, RING_DIGEST_LEN);
}

/* ring_view.c: see ring_view.h. No sockets here: cmd_ring.c does the I/O;
 * SM_MEMBERS parsing is in ring_members.c, the picture in ring_svg.c. */
#include "tools/ring_view.h"
#include "tools/json_out.h"
#include "sheepdog_proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void rv_hex(const uint8_t *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = 0;
}

void rv_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int rv_id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, RV_ID_LEN);
}

int ring_view_build(struct ring_view *v, const uint8_t *epoch_bytes, size_t len,
		    struct rv_members *members, char *err, size_t errlen)
{
	uint8_t (*ids)[RV_ID_LEN] = NULL;
	size_t n_ids = 0, off = 0;
	int rc;

	memset(v, 0, sizeof(*v));
	epoch_init(&v->epoch);
	v->vnodes_per_unit = RING_VNODES_PER_UNIT_DEFAULT;
	if (members) {
		v->members = *members;
		v->have_members = 1;
		memset(members, 0, sizeof(*members));
	}
	rc = epoch_decode(&v->epoch, epoch_bytes, len, 0, &off);
	if (rc) {
		rv_err(err, errlen, "epoch: %s (at byte %zu of %zu)", epoch_strerror(rc), off, len);
		return rc;
	}
	v->scalar = epoch_scalar(&v->epoch);
	epoch_digest(&v->epoch, v->digest);
	rc = epoch_state_ring(&v->epoch.state, v->vnodes_per_unit, &v->ring);
	if (rc) {
		rv_err(err, errlen, "cannot build the ring of this epoch: %s", strerror(-rc));
		return rc;
	}
	ring_digest(v->ring, v->ring_digest);
	ids = malloc((v->epoch.state.n + v->members.n + 1) * sizeof(*ids));
	if (!ids) {
		rv_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < v->epoch.state.n; i++)
		memcpy(ids[n_ids++], v->epoch.state.m[i].id, RV_ID_LEN);
	for (size_t i = 0; i < v->members.n; i++)
		memcpy(ids[n_ids++], v->members.m[i].id, RV_ID_LEN);
	qsort(ids, n_ids, sizeof(*ids), rv_id_cmp);
	v->rows = calloc(n_ids + 1, sizeof(*v->rows));
	if (!v->rows) {
		free(ids);
		rv_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_ids; i++) {
		struct rv_row *r;
		int idx;

		if (i && !memcmp(ids[i], ids[i - 1], RV_ID_LEN))
			continue;
		r = &v->rows[v->n_rows++];
		memcpy(r->id, ids[i], RV_ID_LEN);
		r->em = epoch_state_get(&v->epoch.state, r->id);
		r->mem = rv_members_find(&v->members, r->id);
		r->self = v->have_members && !memcmp(r->id, v->members.self, RV_ID_LEN);
		r->objects = -1;
		r->zone = r->em ? r->em->zone : r->mem->zone;
		r->weight = r->em ? r->em->weight : r->mem->weight;
		idx = ring_find(v->ring, r->id);
		r->ring_idx = idx >= 0 ? idx : -1;
		if (idx >= 0) {
			r->vnodes = (uint32_t)r->weight * v->vnodes_per_unit;
			r->share = ring_share(v->ring, (uint32_t)idx);
		}
	}
	free(ids);
	return 0;
}

void ring_view_free(struct ring_view *v)
{
	ring_free(v->ring);
	epoch_fini(&v->epoch);
	rv_members_free(&v->members);
	free(v->rows);
	memset(v, 0, sizeof(*v));
}

const struct rv_row *ring_view_row_of(const struct ring_view *v, uint32_t ring_idx)
{
	const struct ring_member *m = ring_node(v->ring, ring_idx);
	size_t lo = 0, hi = v->n_rows;

	if (!m)
		return NULL;
	while (lo < hi) {              /* rows are sorted by id */
		size_t mid = (lo + hi) / 2;
		int c = memcmp(v->rows[mid].id, m->id, RV_ID_LEN);

		if (c == 0)
			return &v->rows[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *rv_row_addr(const struct rv_row *r)
{
	return r->mem && r->mem->data[0] ? r->mem->data : "-";
}

const char *rv_row_state(const struct rv_row *r)
{
	return r->mem ? r->mem->state : "-";
}

const char *rv_row_ring(const struct rv_row *r)
{
	if (!r->em)
		return "-";
	return r->em->state == EPOCH_IN ? "in" : "out";
}

static uint64_t rv_row_generation(const struct rv_row *r)
{
	return r->em ? r->em->version : r->mem->generation;
}

uint64_t ring_view_objects_total(const struct ring_view *v)
{
	uint64_t t = 0;

	for (size_t i = 0; i < v->n_rows; i++)
		if (v->rows[i].objects > 0)
			t += (uint64_t)v->rows[i].objects;
	return t;
}

/* "N (P%)" of all objects stored, or "-" when not known */
static void rv_objects_cell(const struct ring_view *v, const struct rv_row *r, char *out, size_t cap)
{
	uint64_t t = ring_view_objects_total(v);

	if (r->objects < 0)
		snprintf(out, cap, "-");
	else if (t == 0)
		snprintf(out, cap, "%lld", (long long)r->objects);
	else
		snprintf(out, cap, "%lld (%.1f%%)", (long long)r->objects, 100.0 * (double)r->objects / (double)t);
}

void ring_view_print_text(const struct ring_view *v, FILE *f)
{
	char dg[2 * EPOCH_DIGEST_LEN + 1], rdg[2 * RING_DIGEST_LEN + 1], id[2 * RV_ID_LEN + 1];

	rv_hex(v->digest, EPOCH_DIGEST_LEN, dg);
	rv_hex(v->ring_digest, RING_DIGEST_LEN, rdg);
	fprintf(f, "ring version:  epoch %llu  digest %s\n", (unsigned long long)v->scalar, dg);
	fprintf(f, "placement:     %zu node%s, %zu vnodes (%u per weight unit), ring digest %s\n",
		ring_nr_nodes(v->ring), ring_nr_nodes(v->ring) == 1 ? "" : "s", ring_nr_vnodes(v->ring),
		v->vnodes_per_unit, rdg);
	if (v->have_members && v->members.cluster[0])
		fprintf(f, "cluster:       %s\n", v->members.cluster);
	fprintf(f, "\n  %-32s  %-21s  %-7s  %-4s  %10s  %6s  %6s  %7s  %15s\n", "ID", "ADDRESS", "STATE",
		"RING", "ZONE", "WEIGHT", "VNODES", "SHARE", "OBJECTS");
	for (size_t i = 0; i < v->n_rows; i++) {
		const struct rv_row *r = &v->rows[i];
		char share[16], objs[48];

		rv_hex(r->id, RV_ID_LEN, id);
		if (r->ring_idx >= 0)
			snprintf(share, sizeof(share), "%.2f%%", 100.0 * r->share);
		else
			snprintf(share, sizeof(share), "-");
		rv_objects_cell(v, r, objs, sizeof(objs));
		fprintf(f, "%c %-32s  %-21s  %-7s  %-4s  %10u  %6u  %6u  %7s  %15s\n", r->self ? '*' : ' ',
			id, rv_row_addr(r), rv_row_state(r), rv_row_ring(r), r->zone, r->weight, r->vnodes,
			share, objs);
	}
	if (!v->n_rows)
		fputs("  (no members)\n", f);
	if (v->have_members)
		fputs("\n* = the node asked. SHARE = share of the hash space as primary; OBJECTS = objects "
		      "the node stores (its copies) and their share of all stored copies; '-' = not known "
		      "(not alive, no answer).\n", f);
	else
		fputs("\nADDRESS and STATE unknown: the node did not answer SM_MEMBERS. SHARE = share of "
		      "the hash space as primary; OBJECTS = objects stored, where known.\n", f);
}

static void json_str_or_null(struct json_out *j, const char *key, const char *s)
{
	if (s && *s && strcmp(s, "-"))
		json_out_str(j, key, s);
	else
		json_out_null(j, key);
}

static void json_version(struct json_out *j, const struct ring_view *v)
{
	char dg[2 * EPOCH_DIGEST_LEN + 1];

	rv_hex(v->digest, EPOCH_DIGEST_LEN, dg);
	json_out_u64(j, "epoch", v->scalar);
	json_out_str(j, "digest", dg);
}

/* share as parts per million, rounded; shares of all placed nodes sum to ~1e6 */
static uint64_t rv_ppm(double share)
{
	return (uint64_t)(share * 1e6 + 0.5);
}

void ring_view_print_json(const struct ring_view *v, FILE *f)
{
	struct json_out j;
	char rdg[2 * RING_DIGEST_LEN + 1], id[2 * RV_ID_LEN + 1];

	json_out_init(&j, f);
	json_out_object(&j, NULL);
	json_version(&j, v);
	rv_hex(v->ring_digest, RING_DIGEST_LEN, rdg);
	json_out_str(&j, "ring_digest", rdg);
	json_out_u64(&j, "vnodes_per_unit", v->vnodes_per_unit);
	json_out_u64(&j, "placed_nodes", ring_nr_nodes(v->ring));
	json_out_u64(&j, "vnodes", ring_nr_vnodes(v->ring));
	if (v->have_members) {
		rv_hex(v->members.self, RV_ID_LEN, id);
		json_out_str(&j, "self", id);
		json_str_or_null(&j, "cluster", v->members.cluster);
	} else {
		json_out_null(&j, "self");
		json_out_null(&j, "cluster");
	}
	json_out_array(&j, "nodes");
	for (size_t i = 0; i < v->n_rows; i++) {
		const struct rv_row *r = &v->rows[i];

		rv_hex(r->id, RV_ID_LEN, id);
		json_out_object(&j, NULL);
		json_out_str(&j, "id", id);
		json_out_bool(&j, "self", r->self);
		json_str_or_null(&j, "address", r->mem ? r->mem->data : NULL);
		json_str_or_null(&j, "gossip", r->mem ? r->mem->gossip : NULL);
		json_str_or_null(&j, "state", r->mem ? r->mem->state : NULL);
		json_out_str(&j, "ring", r->em ? rv_row_ring(r) : "none");
		json_out_u64(&j, "generation", rv_row_generation(r));
		json_out_u64(&j, "zone", r->zone);
		json_out_u64(&j, "weight", r->weight);
		json_out_u64(&j, "vnodes", r->vnodes);
		json_out_u64(&j, "share_ppm", r->ring_idx >= 0 ? rv_ppm(r->share) : 0);
		if (r->objects >= 0) {
			uint64_t t = ring_view_objects_total(v);
			json_out_u64(&j, "objects", (uint64_t)r->objects);
			json_out_u64(&j, "objects_share_ppm",
				     t ? (uint64_t)((double)r->objects * 1e6 / (double)t + 0.5) : 0);
		} else {
			json_out_null(&j, "objects");
			json_out_null(&j, "objects_share_ppm");
		}
		json_out_close(&j);
	}
	json_out_close(&j);
	json_out_close(&j);
	json_out_end(&j);
}

/* --locate */

int rv_target_parse(const char *s, struct rv_target *t, char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':');

	memset(t, 0, sizeof(*t));
	if (colon) {
		size_t nlen = (size_t)(colon - s);
		const char *ix = colon + 1;
		uint64_t v = 0;

		if (nlen == 0 || nlen >= SD_NAME_LEN) {
			rv_err(err, errlen, "--locate '%s': VDI name must be 1 to %d bytes before ':'", s,
			       SD_NAME_LEN - 1);
			return -EINVAL;
		}
		if (!*ix || strspn(ix, "0123456789") != strlen(ix) || strlen(ix) > 8 ||
		    (v = strtoull(ix, NULL, 10)) >= SD_MAX_DATA_OBJS) {
			rv_err(err, errlen, "--locate '%s': INDEX must be a decimal object index from 0 to %u",
			       s, SD_MAX_DATA_OBJS - 1);
			return -EINVAL;
		}
		memcpy(t->vdi, s, nlen);
		t->is_vdi = 1;
		t->index = (uint32_t)v;
		return 0;
	}
	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
		s += 2;
	if (!*s || strlen(s) > 16 || strspn(s, "0123456789abcdefABCDEF") != strlen(s)) {
		rv_err(err, errlen, "--locate '%s': not an object id (1 to 16 hex digits, optional 0x) "
		       "nor VDI:INDEX", s);
		return -EINVAL;
	}
	t->oid = strtoull(s, NULL, 16);
	return 0;
}

int ring_view_locate(const struct ring_view *v, uint64_t oid, unsigned copies,
		     const struct rv_row **out)
{
	uint32_t idx[RING_MAX_COPIES];
	int n = ring_locate(v->ring, ring_oid_hash(oid), copies, idx);

	for (int i = 0; i < n; i++)
		out[i] = ring_view_row_of(v, idx[i]);
	return n;
}

void ring_view_print_locate(const struct ring_view *v, const struct rv_target *t, unsigned copies,
			    int json, FILE *f)
{
	const struct rv_row *rows[RING_MAX_COPIES];
	char oid[17], id[2 * RV_ID_LEN + 1], dg[2 * EPOCH_DIGEST_LEN + 1];
	int n = ring_view_locate(v, t->oid, copies, rows);

	snprintf(oid, sizeof(oid), "%016llx", (unsigned long long)t->oid);
	if (json) {
		struct json_out j;

		json_out_init(&j, f);
		json_out_object(&j, NULL);
		json_version(&j, v);
		json_out_str(&j, "oid", oid);
		if (t->is_vdi) {
			json_out_str(&j, "vdi", t->vdi);
			json_out_u64(&j, "index", t->index);
		} else {
			json_out_null(&j, "vdi");
			json_out_null(&j, "index");
		}
		json_out_u64(&j, "copies", copies);
		json_out_array(&j, "replicas");
		for (int i = 0; i < n; i++) {
			rv_hex(rows[i]->id, RV_ID_LEN, id);
			json_out_object(&j, NULL);
			json_out_str(&j, "id", id);
			json_str_or_null(&j, "address", rows[i]->mem ? rows[i]->mem->data : NULL);
			json_str_or_null(&j, "state", rows[i]->mem ? rows[i]->mem->state : NULL);
			json_out_u64(&j, "zone", rows[i]->zone);
			json_out_close(&j);
		}
		json_out_close(&j);
		json_out_close(&j);
		json_out_end(&j);
		return;
	}
	rv_hex(v->digest, EPOCH_DIGEST_LEN, dg);
	fprintf(f, "object %s", oid);
	if (t->is_vdi)
		fprintf(f, " (VDI '%s' index %u)", t->vdi, t->index);
	fprintf(f, ": %d of %u copies, ring epoch %llu digest %s\n", n < 0 ? 0 : n, copies,
		(unsigned long long)v->scalar, dg);
	for (int i = 0; i < n; i++) {
		rv_hex(rows[i]->id, RV_ID_LEN, id);
		fprintf(f, "  %d  %s  %-21s  %-7s  zone %u%s\n", i + 1, id, rv_row_addr(rows[i]),
			rv_row_state(rows[i]), rows[i]->zone, i == 0 ? "  (primary)" : "");
	}
	if (n == 0)
		fputs("  (no node is placed on the ring)\n", f);
}


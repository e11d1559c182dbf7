/*
 * check_view.c: see check_view.h. Pure: no sockets, no printing.
 *
 * Cost: copies are sorted once (n log n) and each object is judged against
 * its replica set (<= RING_MAX_COPIES) and its own copies: linear after the
 * sort. The SM_OBJECTS reader is strict about our flat schema (objects of
 * strings without escapes, unsigned integers and booleans), tolerant of
 * unknown keys and of whitespace, so a newer node can add fields.
 */
#include "tools/check_view.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ck_rep_name(enum ck_rep r)
{
	switch (r) {
	case CK_REP_OK: return "ok";
	case CK_REP_NO_COPY: return "no copy";
	case CK_REP_FILE_GONE: return "file gone";
	case CK_REP_NODE_DOWN: return "node not alive";
	case CK_REP_UNREACHABLE: return "node unreachable";
	case CK_REP_STALE: return "stale";
	case CK_REP_MISMATCH: return "checksum mismatch";
	}
	return "?";
}

int ck_rep_missing(enum ck_rep r)
{
	return r == CK_REP_NO_COPY || r == CK_REP_FILE_GONE || r == CK_REP_NODE_DOWN ||
	       r == CK_REP_UNREACHABLE;
}

const char *ck_status_name(enum ck_status s)
{
	return s == CK_OK ? "ok" : s == CK_DEGRADED ? "degraded" : "orphan";
}

static int copy_cmp(const void *a, const void *b)
{
	const struct ck_copy *x = a, *y = b;

	if (x->oid != y->oid)
		return x->oid < y->oid ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

/* The copy of node among c[0..n) (one oid), or NULL. */
static const struct ck_copy *copy_on(const struct ck_copy *c, size_t n, uint32_t node)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].node == node)
			return &c[i];
	return NULL;
}

static void judge(const struct ring_view *v, const struct ck_node *nodes, uint64_t oid,
		  const struct ck_copy *c, size_t n, unsigned copies, struct ck_object *o,
		  struct ck_summary *sum)
{
	const struct rv_row *rows[RING_MAX_COPIES];
	const struct ck_copy *ref = NULL;   /* a newest copy with a checksum */

	o->oid = oid;
	o->vid = sd_oid_vid(o->oid);
	o->copies = copies;
	o->newest = 0;
	o->found = 0;
	o->n_extra = 0;
	o->lost = 1;
	for (size_t i = 0; i < n; i++) {
		if (c[i].file && c[i].version > o->newest)
			o->newest = c[i].version;
		if (c[i].file)
			o->lost = 0;
	}
	for (size_t i = 0; i < n; i++)
		if (c[i].file && c[i].version == o->newest && c[i].csum_valid && !ref)
			ref = &c[i];
	int nr = copies ? ring_view_locate(v, o->oid, copies > RING_MAX_COPIES ? RING_MAX_COPIES : copies,
					   rows) : 0;
	o->n_rep = nr > 0 ? (unsigned)nr : 0;
	int bad = 0;
	for (unsigned k = 0; k < o->n_rep; k++) {
		uint32_t node = (uint32_t)(rows[k] - v->rows);
		const struct ck_copy *cp = copy_on(c, n, node);

		o->rep[k].node = node;
		o->rep[k].version = cp ? cp->version : 0;
		if (nodes[node].state == CK_NODE_DOWN)
			o->rep[k].rep = CK_REP_NODE_DOWN;
		else if (nodes[node].state == CK_NODE_UNREACHABLE)
			o->rep[k].rep = CK_REP_UNREACHABLE;
		else if (!cp)
			o->rep[k].rep = CK_REP_NO_COPY;
		else if (!cp->file)
			o->rep[k].rep = CK_REP_FILE_GONE;
		else if (cp->version < o->newest)
			o->rep[k].rep = CK_REP_STALE;
		else if (ref && cp->csum_valid && memcmp(cp->csum, ref->csum, 32))
			o->rep[k].rep = CK_REP_MISMATCH;
		else
			o->rep[k].rep = CK_REP_OK;
		if (cp && cp->file && nodes[node].state == CK_NODE_LISTED)
			o->found++;
		if (o->rep[k].rep != CK_REP_OK) {
			bad = 1;
			if (ck_rep_missing(o->rep[k].rep))
				sum->missing++;
			else if (o->rep[k].rep == CK_REP_STALE)
				sum->stale++;
			else
				sum->mismatch++;
		}
	}
	/* an orphan has no replicas, so no copy of it is "extra" either */
	for (size_t i = 0; copies && i < n; i++) {
		int replica = 0;

		for (unsigned k = 0; k < o->n_rep; k++)
			replica |= o->rep[k].node == c[i].node;
		if (replica || !c[i].file)
			continue;
		o->extra[o->n_extra].node = c[i].node;
		o->extra[o->n_extra++].version = c[i].version;
	}
	sum->objects++;
	sum->extra += o->n_extra;
	if (o->n_extra)
		sum->with_extra++;
	if (!copies) {
		o->status = CK_ORPHAN;
		sum->orphan++;
	} else if (bad) {
		o->status = CK_DEGRADED;
		sum->degraded++;
		sum->lost += o->lost != 0;
	} else {
		o->status = CK_OK;
		sum->ok++;
	}
}

int ck_analyze(const struct ring_view *v, const struct ck_node *nodes, struct ck_copy *copies,
	       size_t n_copies, const uint64_t *refs, size_t n_refs, ck_copies_fn copies_of, void *copies_ctx,
	       void (*emit)(void *ctx, const struct ck_object *o), void *emit_ctx,
	       struct ck_summary *sum)
{
	struct ck_object o;

	memset(sum, 0, sizeof(*sum));
	for (size_t i = 0; i < v->n_rows; i++) {
		sum->nodes_down += nodes[i].state == CK_NODE_DOWN;
		sum->nodes_unreachable += nodes[i].state == CK_NODE_UNREACHABLE;
	}
	memset(&o, 0, sizeof(o));
	if (!(o.extra = calloc(v->n_rows + 1, sizeof(*o.extra))))
		return -ENOMEM;
	if (n_copies)
		qsort(copies, n_copies, sizeof(*copies), copy_cmp);
	/* merge the listed oids with the referenced ones, in oid order */
	size_t i = 0, r = 0;
	while (i < n_copies || r < n_refs) {
		uint64_t oid = i < n_copies && (r >= n_refs || copies[i].oid <= refs[r]) ? copies[i].oid
											  : refs[r];
		size_t j = i, w = i;

		while (r < n_refs && refs[r] <= oid)
			r++;
		while (j < n_copies && copies[j].oid == oid)
			j++;
		/* one entry per node and oid: a node never lists an oid twice,
		 * but a hostile one could; keep its first */
		if (j > i) {
			w = i + 1;
			for (size_t k = i + 1; k < j; k++)
				if (copies[k].node != copies[w - 1].node)
					copies[w++] = copies[k];
		}
		judge(v, nodes, oid, w > i ? copies + i : NULL, w - i, copies_of(copies_ctx, sd_oid_vid(oid)),
		      &o, sum);
		if (emit)
			emit(emit_ctx, &o);
		i = j;
	}
	free(o.extra);
	return 0;
}

/* ---- SM_OBJECTS page reader ---- */

struct pr {
	const char *p, *end, *start;
	char *err;
	size_t errlen;
};

static int pr_fail(struct pr *r, const char *what)
{
	if (r->err)
		snprintf(r->err, r->errlen, "%s at byte %zu", what, (size_t)(r->p - r->start));
	return -EBADMSG;
}

static void pr_ws(struct pr *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
		r->p++;
}

static int pr_lit(struct pr *r, const char *lit)
{
	size_t n = strlen(lit);

	pr_ws(r);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n))
		return -1;
	r->p += n;
	return 0;
}

/* A string without escapes: contents in *s, *n. */
static int pr_str(struct pr *r, const char **s, size_t *n)
{
	pr_ws(r);
	if (r->p >= r->end || *r->p != '"')
		return -1;
	*s = ++r->p;
	while (r->p < r->end && *r->p != '"') {
		if (*r->p == '\\' || (unsigned char)*r->p < 0x20)
			return -1;
		r->p++;
	}
	if (r->p >= r->end)
		return -1;
	*n = (size_t)(r->p++ - *s);
	return 0;
}

static int pr_u64(struct pr *r, uint64_t *v)
{
	int digits = 0;

	pr_ws(r);
	*v = 0;
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
		unsigned d = (unsigned)(*r->p++ - '0');
		if (*v > (UINT64_MAX - d) / 10)
			return -1;
		*v = *v * 10 + d;
		digits++;
	}
	return digits ? 0 : -1;
}

static int pr_bool(struct pr *r, uint8_t *v)
{
	if (!pr_lit(r, "true"))
		*v = 1;
	else if (!pr_lit(r, "false"))
		*v = 0;
	else
		return -1;
	return 0;
}

static int hexdig(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int hex_u64(const char *s, size_t n, uint64_t *v)
{
	if (n != 16)
		return -1;
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		int d = hexdig(s[i]);
		if (d < 0)
			return -1;
		*v = *v << 4 | (uint64_t)d;
	}
	return 0;
}

/* skip any value we do not know (scalar or escape-free string) */
static int pr_skip(struct pr *r)
{
	const char *s;
	size_t n;

	pr_ws(r);
	if (r->p < r->end && *r->p == '"')
		return pr_str(r, &s, &n);
	s = r->p;
	while (r->p < r->end && strchr("0123456789+-.eEtruefalsn", *r->p))
		r->p++;
	return r->p > s ? 0 : -1;
}

static int pr_entry(struct pr *r, struct ck_copy *c)
{
	int have_oid = 0, have_ver = 0, have_file = 0;
	const char *s;
	size_t n;

	memset(c, 0, sizeof(*c));
	if (pr_lit(r, "{"))
		return pr_fail(r, "objects[]: '{' expected");
	if (!pr_lit(r, "}"))
		return pr_fail(r, "objects[]: empty entry");
	for (;;) {
		if (pr_str(r, &s, &n))
			return pr_fail(r, "objects[]: key expected");
		if (pr_lit(r, ":"))
			return pr_fail(r, "objects[]: ':' expected");
#define KEY(k) (n == sizeof(k) - 1 && !memcmp(s, k, n))
		if (KEY("oid")) {
			if (pr_str(r, &s, &n) || hex_u64(s, n, &c->oid))
				return pr_fail(r, "objects[].oid: 16 lowercase hex digits expected");
			if (!sd_oid_is_data(c->oid) && !sd_oid_is_vmstate(c->oid))
				return pr_fail(r, "objects[].oid: not a data or vmstate object");
			have_oid = 1;
		} else if (KEY("size")) {
			if (pr_u64(r, &c->size))
				return pr_fail(r, "objects[].size: unsigned integer expected");
		} else if (KEY("version")) {
			if (pr_u64(r, &c->version))
				return pr_fail(r, "objects[].version: unsigned integer expected");
			have_ver = 1;
		} else if (KEY("csum_valid")) {
			if (pr_bool(r, &c->csum_valid))
				return pr_fail(r, "objects[].csum_valid: true or false expected");
		} else if (KEY("file")) {
			if (pr_bool(r, &c->file))
				return pr_fail(r, "objects[].file: true or false expected");
			have_file = 1;
		} else if (KEY("csum")) {
			if (pr_str(r, &s, &n) || n != 64)
				return pr_fail(r, "objects[].csum: 64 hex digits expected");
			for (int i = 0; i < 32; i++) {
				int hi = hexdig(s[2 * i]), lo = hexdig(s[2 * i + 1]);
				if (hi < 0 || lo < 0)
					return pr_fail(r, "objects[].csum: 64 hex digits expected");
				c->csum[i] = (uint8_t)(hi << 4 | lo);
			}
		} else if (pr_skip(r)) {
			return pr_fail(r, "objects[]: unreadable value of an unknown key");
		}
#undef KEY
		if (!pr_lit(r, "}"))
			break;
		if (pr_lit(r, ","))
			return pr_fail(r, "objects[]: ',' or '}' expected");
	}
	if (!have_oid || !have_ver || !have_file)
		return pr_fail(r, "objects[]: oid, version and file are required");
	return 0;
}

int ck_page_parse(const char *doc, size_t len, uint32_t node, struct ck_copy **copies, size_t *n,
		  size_t *cap, uint64_t *next, int *more, char *err, size_t errlen)
{
	struct pr r = { .p = doc, .end = doc + len, .start = doc, .err = err, .errlen = errlen };
	const char *s;
	size_t sn, n0 = *n;
	int rc;

	*more = 0;
	if (pr_lit(&r, "{") || pr_lit(&r, "\"objects\"") || pr_lit(&r, ":") || pr_lit(&r, "["))
		return pr_fail(&r, "'{\"objects\":[' expected");
	if (pr_lit(&r, "]")) {
		for (;;) {
			if (*n == *cap) {
				size_t nc = *cap ? 2 * *cap : 1024;
				struct ck_copy *a = realloc(*copies, nc * sizeof(*a));
				if (!a) {
					*n = n0;
					return -ENOMEM;
				}
				*copies = a;
				*cap = nc;
			}
			rc = pr_entry(&r, &(*copies)[*n]);
			if (rc) {
				*n = n0;
				return rc;
			}
			(*copies)[(*n)++].node = node;
			if (!pr_lit(&r, "]"))
				break;
			if (pr_lit(&r, ",")) {
				*n = n0;
				return pr_fail(&r, "objects: ',' or ']' expected");
			}
		}
	}
	if (pr_lit(&r, ",") || pr_lit(&r, "\"next\"") || pr_lit(&r, ":"))
		goto bad_next;
	if (!pr_lit(&r, "null")) {
		*more = 0;
	} else if (!pr_str(&r, &s, &sn) && !hex_u64(s, sn, next)) {
		*more = 1;
	} else {
		goto bad_next;
	}
	if (pr_lit(&r, "}"))
		goto bad_next;
	pr_ws(&r);
	if (r.p != r.end) {
		*n = n0;
		return pr_fail(&r, "bytes after the document");
	}
	return 0;
bad_next:
	*n = n0;
	*more = 0;
	return pr_fail(&r, "'\"next\": 16 hex digits or null' expected");
}

/*
 * ring_members.c: the SM_MEMBERS JSON reader behind `sheeptool ring`
 * (ring_view.h). The document is untrusted: a small strict reader (no
 * JSON library in our dependencies) checks every known field and skips
 * unknown ones, so nodes may add fields without breaking older tools.
 */
#include "tools/ring_view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int rv_unhex(const char *s, size_t len, uint8_t *out, size_t n)
{
	if (len != 2 * n)
		return -1;
	for (size_t i = 0; i < 2 * n; i++) {
		int c = s[i], v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return 0;
}

#define RV_JSON_DEPTH 16

struct jr {
	const char *p, *start, *end;
	const char *what;              /* field being read, for messages */
};

static void jr_ws(struct jr *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int jr_lit(struct jr *r, char c)
{
	jr_ws(r);
	if (r->p < r->end && *r->p == c) {
		r->p++;
		return 0;
	}
	return -1;
}

/* A string into out[cap] (NUL-terminated; out may be NULL to skip). Only
 * what the schema needs is decoded: \uXXXX beyond ASCII is kept as '?'. */
static int jr_string(struct jr *r, char *out, size_t cap, size_t *outlen)
{
	size_t n = 0;

	jr_ws(r);
	if (r->p >= r->end || *r->p != '"')
		return -1;
	r->p++;
	while (r->p < r->end && *r->p != '"') {
		char c = *r->p++;

		if ((unsigned char)c < 0x20)
			return -1;
		if (c == '\\') {
			if (r->p >= r->end)
				return -1;
			c = *r->p++;
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				unsigned v = 0;

				if (r->end - r->p < 4)
					return -1;
				for (int i = 0; i < 4; i++) {
					char h = *r->p++;

					v <<= 4;
					if (h >= '0' && h <= '9')
						v |= (unsigned)(h - '0');
					else if (h >= 'a' && h <= 'f')
						v |= (unsigned)(h - 'a' + 10);
					else if (h >= 'A' && h <= 'F')
						v |= (unsigned)(h - 'A' + 10);
					else
						return -1;
				}
				c = v >= 0x20 && v < 0x7f ? (char)v : '?';
				break;
			}
			default:
				return -1;
			}
		}
		if (out) {
			if (n + 1 >= cap)
				return -1;      /* longer than the field allows */
			out[n] = c;
		}
		n++;
	}
	if (r->p >= r->end)
		return -1;
	r->p++;
	if (out)
		out[n] = 0;
	if (outlen)
		*outlen = n;
	return 0;
}

static int jr_uint(struct jr *r, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *s;

	jr_ws(r);
	s = r->p;
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
		unsigned d = (unsigned)(*r->p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		r->p++;
	}
	if (r->p == s || (r->p - s > 1 && *s == '0'))
		return -1;
	if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E'))
		return -1;
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static int jr_skip(struct jr *r, int depth)
{
	if (depth > RV_JSON_DEPTH)
		return -1;
	jr_ws(r);
	if (r->p >= r->end)
		return -1;
	if (*r->p == '"')
		return jr_string(r, NULL, 0, NULL);
	if (*r->p == '{' || *r->p == '[') {
		char close = *r->p == '{' ? '}' : ']';

		r->p++;
		if (jr_lit(r, close) == 0)
			return 0;
		for (;;) {
			if (close == '}' && (jr_string(r, NULL, 0, NULL) || jr_lit(r, ':')))
				return -1;
			if (jr_skip(r, depth + 1))
				return -1;
			if (jr_lit(r, close) == 0)
				return 0;
			if (jr_lit(r, ','))
				return -1;
		}
	}
	/* number, true, false, null */
	const char *s = r->p;

	while (r->p < r->end && strchr("0123456789+-.eEtruefalsn", *r->p))
		r->p++;
	if (r->p == s)
		return -1;
	if ((r->p - s == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "null", 4))) ||
	    (r->p - s == 5 && !memcmp(s, "false", 5)))
		return 0;
	return strchr("-0123456789", *s) ? 0 : -1;
}

static int rv_state_ok(const char *s)
{
	return !strcmp(s, "alive") || !strcmp(s, "suspect") || !strcmp(s, "dead") || !strcmp(s, "left");
}

static int jr_member(struct jr *r, struct rv_member *m)
{
	char key[32], buf[80];
	size_t n;
	uint64_t v;
	int have_id = 0;

	memset(m, 0, sizeof(*m));
	r->what = "members[]";
	if (jr_lit(r, '{'))
		return -1;
	if (jr_lit(r, '}') == 0)
		goto done;
	for (;;) {
		r->what = "members[] key";
		if (jr_string(r, key, sizeof(key), NULL)) {
			if (r->p < r->end && *r->p != '"')
				return -1;
			key[0] = 0;    /* a key longer than ours: unknown, skip it */
		}
		if (jr_lit(r, ':'))
			return -1;
		if (!strcmp(key, "id")) {
			r->what = "members[].id";
			if (jr_string(r, buf, sizeof(buf), &n) || rv_unhex(buf, n, m->id, RV_ID_LEN))
				return -1;
			have_id = 1;
		} else if (!strcmp(key, "gossip") || !strcmp(key, "data")) {
			r->what = key[0] == 'g' ? "members[].gossip" : "members[].data";
			if (jr_string(r, key[0] == 'g' ? m->gossip : m->data, RV_ADDR_MAX, NULL))
				return -1;
		} else if (!strcmp(key, "state")) {
			r->what = "members[].state";
			if (jr_string(r, m->state, sizeof(m->state), NULL) || !rv_state_ok(m->state))
				return -1;
		} else if (!strcmp(key, "incarnation")) {
			r->what = "members[].incarnation";
			if (jr_uint(r, UINT64_MAX, &m->incarnation))
				return -1;
		} else if (!strcmp(key, "generation")) {
			r->what = "members[].generation";
			if (jr_uint(r, UINT64_MAX, &m->generation))
				return -1;
		} else if (!strcmp(key, "zone")) {
			r->what = "members[].zone";
			if (jr_uint(r, UINT32_MAX, &v))
				return -1;
			m->zone = (uint32_t)v;
		} else if (!strcmp(key, "weight")) {
			r->what = "members[].weight";
			if (jr_uint(r, UINT16_MAX, &v))
				return -1;
			m->weight = (uint16_t)v;
		} else {
			r->what = "members[] (unknown key)";
			if (jr_skip(r, 2))
				return -1;
		}
		if (jr_lit(r, '}') == 0)
			break;
		r->what = "members[]";
		if (jr_lit(r, ','))
			return -1;
	}
done:
	r->what = "members[].id (missing)";
	return have_id ? 0 : -1;
}

static int rv_member_cmp(const void *a, const void *b)
{
	return memcmp(((const struct rv_member *)a)->id, ((const struct rv_member *)b)->id, RV_ID_LEN);
}

int rv_members_parse(const char *json, size_t len, struct rv_members *out, char *err, size_t errlen)
{
	struct jr r = { json, json, json + len, "document" };
	char key[32], buf[80];
	size_t n, cap = 0;
	int have_self = 0, have_members = 0, rc = -EBADMSG;

	memset(out, 0, sizeof(*out));
	if (!json || jr_lit(&r, '{'))
		goto bad;
	if (jr_lit(&r, '}') == 0)
		goto end;
	for (;;) {
		r.what = "key";
		if (jr_string(&r, key, sizeof(key), NULL)) {
			if (r.p < r.end && *r.p != '"')
				goto bad;
			key[0] = 0;
		}
		if (jr_lit(&r, ':'))
			goto bad;
		if (!strcmp(key, "self")) {
			r.what = "self";
			if (jr_string(&r, buf, sizeof(buf), &n) || rv_unhex(buf, n, out->self, RV_ID_LEN))
				goto bad;
			have_self = 1;
		} else if (!strcmp(key, "cluster")) {
			r.what = "cluster";
			if (jr_string(&r, out->cluster, sizeof(out->cluster), NULL))
				goto bad;
		} else if (!strcmp(key, "members")) {
			r.what = "members";
			if (have_members || jr_lit(&r, '['))
				goto bad;
			have_members = 1;
			if (jr_lit(&r, ']') != 0) {
				for (;;) {
					if (out->n == cap) {
						size_t ncap = cap ? 2 * cap : 16;
						void *p;

						r.what = "members (too many)";
						if (ncap > RV_MEMBERS_MAX)
							goto bad;
						p = realloc(out->m, ncap * sizeof(*out->m));
						if (!p) {
							rc = -ENOMEM;
							goto bad;
						}
						out->m = p;
						cap = ncap;
					}
					if (jr_member(&r, &out->m[out->n]))
						goto bad;
					out->n++;
					if (jr_lit(&r, ']') == 0)
						break;
					r.what = "members";
					if (jr_lit(&r, ','))
						goto bad;
				}
			}
		} else {
			r.what = "unknown key";
			if (jr_skip(&r, 1))
				goto bad;
		}
		if (jr_lit(&r, '}') == 0)
			break;
		r.what = "document";
		if (jr_lit(&r, ','))
			goto bad;
	}
end:
	jr_ws(&r);
	r.what = "document (trailing bytes)";
	if (r.p != r.end)
		goto bad;
	r.what = !have_self ? "self (missing)" : "members (missing)";
	if (!have_self || !have_members)
		goto bad;
	if (out->n)
		qsort(out->m, out->n, sizeof(*out->m), rv_member_cmp);
	for (size_t i = 1; i < out->n; i++)
		if (!memcmp(out->m[i - 1].id, out->m[i].id, RV_ID_LEN)) {
			r.what = "members[].id (duplicate)";
			r.p = r.start;
			goto bad;
		}
	return 0;
bad:
	rv_err(err, errlen, "%s at byte %zu of %zu", rc == -ENOMEM ? "out of memory" : r.what,
	       (size_t)(r.p - r.start), len);
	rv_members_free(out);
	return rc;
}

void rv_members_free(struct rv_members *m)
{
	free(m->m);
	memset(m, 0, sizeof(*m));
}

const struct rv_member *rv_members_find(const struct rv_members *ms, const uint8_t *id)
{
	struct rv_member key;

	if (!ms->n)
		return NULL;
	memcpy(key.id, id, RV_ID_LEN);
	return bsearch(&key, ms->m, ms->n, sizeof(*ms->m), rv_member_cmp);
}


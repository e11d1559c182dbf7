/*
 * cmd_node.c: `node info` and `node list`. Sends SD_OP_SM_STATUS (or SM_MEMBERS) (include/sheepdog_proto.h)
 * and shows the JSON status document node/dispatch.c builds. The document
 * is untrusted input: it is checked by a small reader below before it is
 * printed, whether as is (--json) or as "key: value" lines.
 */
#include "tools/sheeptool.h"
#include "tools/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_MAX 65536        /* reply buffer offered; dispatch.c sends ~1 KiB */
#define LOCKS_MAX (4u << 20)    /* SM_LOCKS reply buffer (every node accepts 4 MiB) */
#define READER_DEPTH 8

struct reader {
	const char *p, *end, *start;
	FILE *out;                  /* NULL: only check */
};

static void skip_ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
		r->p++;
}

/* A JSON string; s and n give its raw (still escaped) contents. */
static int read_string(struct reader *r, const char **s, size_t *n)
{
	if (r->p >= r->end || *r->p != '"')
		return -1;
	*s = ++r->p;
	while (r->p < r->end && *r->p != '"') {
		if ((unsigned char)*r->p < 0x20)
			return -1;
		if (*r->p == '\\' && ++r->p >= r->end)
			return -1;
		r->p++;
	}
	if (r->p >= r->end)
		return -1;
	*n = (size_t)(r->p++ - *s);
	return 0;
}

static int read_scalar(struct reader *r, const char **s, size_t *n)
{
	*s = r->p;
	while (r->p < r->end && strchr("0123456789+-.eEtruefalsn", *r->p))
		r->p++;
	*n = (size_t)(r->p - *s);
	if (*n == 0)
		return -1;
	if ((*n == 4 && !memcmp(*s, "true", 4)) || (*n == 5 && !memcmp(*s, "false", 5)) ||
	    (*n == 4 && !memcmp(*s, "null", 4)))
		return 0;
	char buf[64], *e;

	if (*n >= sizeof(buf) || !strchr("-0123456789", **s))
		return -1;
	memcpy(buf, *s, *n);
	buf[*n] = 0;
	strtod(buf, &e);
	return *e ? -1 : 0;
}

static void print_line(struct reader *r, int indent, const char *key, size_t klen,
		       const char *val, size_t vlen, int is_str)
{
	char human[UNITS_BUF];
	int w = 24 - 2 * indent;

	if (!r->out)
		return;
	if (!val) {
		fprintf(r->out, "%*s%.*s:\n", 2 * indent, "", (int)klen, key);
		return;
	}
	fprintf(r->out, "%*s%.*s:%*s", 2 * indent, "", (int)klen, key,
		w - (int)klen > 1 ? w - (int)klen : 1, "");
	fprintf(r->out, "%.*s", (int)vlen, val);
	/* sizes in bytes also in human units */
	if (!is_str && klen >= 5 && !memcmp(key + klen - 5, "bytes", 5) && vlen < 21) {
		char buf[24];

		memcpy(buf, val, vlen);
		buf[vlen] = 0;
		fprintf(r->out, " (%s)", units_format_size(strtoull(buf, NULL, 10), human, sizeof(human)));
	}
	fputc('\n', r->out);
}

static int read_value(struct reader *r, int depth, const char *key, size_t klen);

static int read_container(struct reader *r, int depth, char close)
{
	int first = 1, index = 0;

	r->p++;
	for (;;) {
		const char *k = NULL;
		size_t kn = 0;
		char ibuf[16];

		skip_ws(r);
		if (r->p < r->end && *r->p == close && first) {
			r->p++;
			return 0;
		}
		if (close == '}') {
			if (read_string(r, &k, &kn))
				return -1;
			skip_ws(r);
			if (r->p >= r->end || *r->p++ != ':')
				return -1;
		} else {
			kn = (size_t)snprintf(ibuf, sizeof(ibuf), "[%d]", index++);
			k = ibuf;
		}
		if (read_value(r, depth + 1, k, kn))
			return -1;
		skip_ws(r);
		if (r->p >= r->end)
			return -1;
		if (*r->p == close) {
			r->p++;
			return 0;
		}
		if (*r->p++ != ',')
			return -1;
		first = 0;
	}
}

static int read_value(struct reader *r, int depth, const char *key, size_t klen)
{
	const char *s;
	size_t n;

	if (depth > READER_DEPTH)
		return -1;
	skip_ws(r);
	if (r->p >= r->end)
		return -1;
	if (*r->p == '{' || *r->p == '[') {
		if (key)
			print_line(r, depth - 1, key, klen, NULL, 0, 0);
		return read_container(r, key ? depth : depth - 1, *r->p == '{' ? '}' : ']');
	}
	if (*r->p == '"') {
		if (read_string(r, &s, &n))
			return -1;
		if (key)
			print_line(r, depth - 1, key, klen, s, n, 1);
		return 0;
	}
	if (read_scalar(r, &s, &n))
		return -1;
	if (key)
		print_line(r, depth - 1, key, klen, s, n, 0);
	return 0;
}

/* 0 if buf is one JSON object (and prints it as lines to out, if set). */
static int status_walk(const char *buf, size_t len, FILE *out, size_t *err_at)
{
	struct reader r = { .p = buf, .end = buf + len, .start = buf, .out = out };

	skip_ws(&r);
	if (r.p >= r.end || *r.p != '{' || read_value(&r, 1, NULL, 0)) {
		*err_at = (size_t)(r.p - r.start);
		return -1;
	}
	skip_ws(&r);
	if (r.p != r.end) {
		*err_at = (size_t)(r.p - r.start);
		return -1;
	}
	return 0;
}

int st_json_get(const char *obj, size_t len, const char *key, const char **val, size_t *vlen)
{
	struct reader r = { .p = obj, .end = obj + len, .start = obj, .out = NULL };
	size_t kl = strlen(key);

	skip_ws(&r);
	if (r.p >= r.end || *r.p++ != '{')
		return -1;
	for (;;) {
		const char *k, *v;
		size_t kn;

		skip_ws(&r);
		if (read_string(&r, &k, &kn))
			return -1;
		skip_ws(&r);
		if (r.p >= r.end || *r.p++ != ':')
			return -1;
		skip_ws(&r);
		v = r.p;
		if (read_value(&r, 1, NULL, 0))
			return -1;
		if (kn == kl && !memcmp(k, key, kl)) {
			/* strings without their quotes; the caller checks the type */
			int str = *v == '"';
			*val = v + str;
			*vlen = (size_t)(r.p - v) - 2 * (size_t)str;
			return 0;
		}
		skip_ws(&r);
		if (r.p >= r.end || *r.p != ',')
			return -1;
		r.p++;
	}
}

int st_json_array_next(const char *arr, size_t len, size_t *pos, const char **val, size_t *vlen)
{
	struct reader r = { .p = arr + *pos, .end = arr + len, .start = arr, .out = NULL };
	const char *v;

	if (*pos > len)
		return -1;
	skip_ws(&r);
	if (r.p >= r.end)
		return -1;
	if (*pos == 0) {
		if (*r.p++ != '[')
			return -1;
		skip_ws(&r);
		if (r.p < r.end && *r.p == ']')
			return 0;
	} else {
		if (*r.p == ']')
			return 0;
		if (*r.p++ != ',')
			return -1;
		skip_ws(&r);
	}
	v = r.p;
	if (r.p >= r.end || read_value(&r, 1, NULL, 0))
		return -1;
	int str = *v == '"';
	*val = v + str;
	*vlen = (size_t)(r.p - v) - 2 * (size_t)str;
	*pos = (size_t)(r.p - arr);
	return 1;
}

static unsigned hexval(char c)
{
	return c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
	       : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
}

size_t st_json_unescape(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < n && o + 4 < cap; i++) {
		unsigned c = (unsigned char)s[i];

		if (c == '\\' && i + 1 < n) {
			c = (unsigned char)s[++i];
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': {
				unsigned u = 0, k;

				for (k = 0; k < 4 && i + 1 + k < n && hexval(s[i + 1 + k]) < 16; k++)
					u = u << 4 | hexval(s[i + 1 + k]);
				if (k < 4) {
					c = '?';
					break;
				}
				i += 4;
				/* \u00XX: one raw byte (how our writers carry non-UTF-8
				 * bytes); above: that code point as UTF-8 (no surrogates) */
				if (u < 0x100) {
					c = u;
				} else if (u < 0x800) {
					out[o++] = (char)(0xc0 | u >> 6);
					c = 0x80 | (u & 0x3f);
				} else if (u < 0xd800 || u > 0xdfff) {
					out[o++] = (char)(0xe0 | u >> 12);
					out[o++] = (char)(0x80 | ((u >> 6) & 0x3f));
					c = 0x80 | (u & 0x3f);
				} else {
					c = '?';
				}
				break;
			}
			default: break;             /* \" \\ \/ */
			}
		}
		out[o++] = (char)c;
	}
	out[o] = 0;
	return o;
}

int st_json_get_u64(const char *obj, size_t len, const char *key, uint64_t *out)
{
	const char *v;
	size_t n;
	char buf[24], *e;

	if (st_json_get(obj, len, key, &v, &n) || n == 0 || n >= sizeof(buf) || *v < '0' || *v > '9')
		return -1;
	memcpy(buf, v, n);
	buf[n] = 0;
	errno = 0;
	*out = strtoull(buf, &e, 10);
	return errno || *e ? -1 : 0;
}

int st_status_fetch(struct st_ctx *ctx, const struct sd_addr *a, uint8_t opcode, char **doc,
		    size_t *len)
{
	struct sd_client *c;
	struct sd_req req;
	struct sd_rsp rsp;
	size_t cap = opcode == SD_OP_SM_MEMBERS ? STATUS_MAX * 16
		     : opcode == SD_OP_SM_LOCKS ? LOCKS_MAX : STATUS_MAX, err_at = 0;
	int ret;

	(void)ctx;
	if (!(*doc = malloc(cap)))
		return -ENOMEM;
	ret = sd_client_connect(&c, a);
	if (ret) {
		free(*doc);
		*doc = NULL;
		return ret;
	}
	memset(&req, 0, sizeof(req));
	req.opcode = opcode;
	req.data_length = (uint32_t)cap;     /* the reply buffer we offer */
	ret = sd_client_request(c, &req, NULL, *doc, cap, &rsp);
	sd_client_close(c);
	if (!ret && status_walk(*doc, rsp.data_length, NULL, &err_at))
		ret = -EBADMSG;
	if (ret) {
		free(*doc);
		*doc = NULL;
		return ret;
	}
	*len = rsp.data_length;
	return 0;
}

int cmd_node_info(struct st_ctx *ctx)
{
	struct sd_client *c;
	struct sd_req req;
	struct sd_rsp rsp;
	char *doc = malloc(STATUS_MAX);
	size_t err_at = 0;
	int ret;

	if (!doc)
		return st_error(ST_EXIT_ERROR, "out of memory");
	ret = st_connect(ctx, &c);
	if (ret) {
		free(doc);
		return ret;
	}
	memset(&req, 0, sizeof(req));
	req.opcode = SD_OP_SM_STATUS;
	req.data_length = STATUS_MAX;       /* the reply buffer we offer */
	ret = sd_client_request(c, &req, NULL, doc, STATUS_MAX, &rsp);
	sd_client_close(c);
	if (ret) {
		free(doc);
		return st_fail(ctx, ret, "node info: node %s did not send its status", st_addr_str(ctx));
	}
	if (status_walk(doc, rsp.data_length, NULL, &err_at)) {
		free(doc);
		return st_error(ST_EXIT_ERROR, "node info: node %s sent a malformed status document "
				"(at byte %zu of %u): check that it runs sheepnode %s", st_addr_str(ctx),
				err_at, rsp.data_length, "of this version");
	}
	if (ctx->json) {
		/* already JSON: pass it through, one line */
		size_t n = rsp.data_length;

		while (n && (doc[n - 1] == '\n' || doc[n - 1] == ' '))
			n--;
		fwrite(doc, 1, n, stdout);
		fputc('\n', stdout);
	} else {
		printf("node:                   %s\n", st_addr_str(ctx));
		status_walk(doc, rsp.data_length, stdout, &err_at);
	}
	free(doc);
	return fflush(stdout) ? st_error(ST_EXIT_ERROR, "cannot write to stdout") : 0;
}

/* ---- node list (SM_MEMBERS) ---- */

/* The value of "key" inside obj[0..len) (our schema: flat objects whose
 * strings hold no quotes or braces); *s, *n the raw text without quotes.
 * 0 or -1. */
static int member_field(const char *obj, size_t len, const char *key, const char **s, size_t *n)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i + kl + 3 <= len; i++) {
		if (obj[i] != '"' || memcmp(obj + i + 1, key, kl) != 0 || obj[i + 1 + kl] != '"')
			continue;
		size_t j = i + kl + 2;
		while (j < len && (obj[j] == ' ' || obj[j] == ':'))
			j++;
		if (j >= len)
			return -1;
		int quoted = obj[j] == '"';
		size_t k = j + quoted;
		while (k < len && (quoted ? obj[k] != '"' : (obj[k] != ',' && obj[k] != '}')))
			k++;
		if (k >= len)
			return -1;
		*s = obj + j + quoted;
		*n = k - j - quoted;
		return 0;
	}
	return -1;
}

#define MEMBER_TIMEOUT_MS 2000     /* per member asked for its used bytes */

/*
 * USED, CAPACITY and OBJECTS of one member, from its own SM_STATUS (asked of alive
 * members at their data address; the node asked: at ctx's address): USED
 * is "bytes", what its object index holds (each node stores only what it
 * serves or replicates); CAPACITY is "disk_total", the size of the file
 * system its data directory is on (shared with anything else there, so
 * free space is not CAPACITY - USED). "-" for anything not known: a member
 * that is not alive, does not answer within MEMBER_TIMEOUT_MS, or runs a
 * sheepnode without those fields.
 */
static void member_capacity(struct st_ctx *ctx, int is_self, int alive, const char *data,
			    size_t data_n, char *used, char *total, char *objects)
{
	struct sd_addr a;
	char addr[128], *doc;
	size_t n;
	uint64_t v;

	strcpy(used, "-");
	strcpy(total, "-");
	strcpy(objects, "-");
	if (!alive)
		return;
	if (is_self) {
		a = ctx->addr;
	} else {
		if (data_n == 0 || data_n >= sizeof(addr))
			return;
		memcpy(addr, data, data_n);
		addr[data_n] = 0;
		if (sd_addr_parse(&a, addr))
			return;
	}
	a.timeout_ms = MEMBER_TIMEOUT_MS;
	if (st_status_fetch(ctx, &a, SD_OP_SM_STATUS, &doc, &n))
		return;
	if (st_json_get_u64(doc, n, "bytes", &v) == 0)
		units_format_size(v, used, UNITS_BUF);
	if (st_json_get_u64(doc, n, "disk_total", &v) == 0)
		units_format_size(v, total, UNITS_BUF);
	if (st_json_get_u64(doc, n, "objects", &v) == 0)
		snprintf(objects, UNITS_BUF, "%llu", (unsigned long long)v);
	free(doc);
}

int cmd_node_list(struct st_ctx *ctx)
{
	struct sd_client *c;
	struct sd_req req;
	struct sd_rsp rsp;
	char *doc = malloc(STATUS_MAX * 16);
	size_t err_at = 0, cap = STATUS_MAX * 16;
	int ret;

	if (!doc)
		return st_error(ST_EXIT_ERROR, "out of memory");
	ret = st_connect(ctx, &c);
	if (ret) {
		free(doc);
		return ret;
	}
	memset(&req, 0, sizeof(req));
	req.opcode = SD_OP_SM_MEMBERS;
	req.data_length = (uint32_t)cap;     /* the reply buffer we offer */
	ret = sd_client_request(c, &req, NULL, doc, cap, &rsp);
	sd_client_close(c);
	if (ret) {
		free(doc);
		return st_fail(ctx, ret, "node list: node %s did not send its member list", st_addr_str(ctx));
	}
	size_t len = rsp.data_length;
	const char *members = NULL;
	if (status_walk(doc, len, NULL, &err_at) == 0)
		members = memmem(doc, len, "\"members\":[", 11);
	if (!members) {
		free(doc);
		return st_error(ST_EXIT_ERROR, "node list: node %s sent a malformed member list "
				"(at byte %zu of %zu): check that it runs sheepnode of this version",
				st_addr_str(ctx), err_at, len);
	}
	if (ctx->json) {
		while (len && (doc[len - 1] == '\n' || doc[len - 1] == ' '))
			len--;
		fwrite(doc, 1, len, stdout);
		fputc('\n', stdout);
		free(doc);
		return fflush(stdout) ? st_error(ST_EXIT_ERROR, "cannot write to stdout") : 0;
	}
	const char *end = doc + len, *s, *self = "";
	size_t n, self_n = 0;
	if (member_field(doc, (size_t)(members - doc), "self", &s, &n) == 0) {
		self = s;
		self_n = n;
	}
	printf("%-2s%-33s %-23s %-23s %-8s %11s %10s %6s %9s %9s %8s\n", "", "ID", "GOSSIP", "DATA",
	       "STATE", "INCARNATION", "ZONE", "WEIGHT", "USED", "CAPACITY", "OBJECTS");
	for (const char *p = members + 11; p < end && *p != ']';) {
		const char *open = memchr(p, '{', (size_t)(end - p)), *close;
		if (!open || !(close = memchr(open, '}', (size_t)(end - open))))
			break;
		static const char *const keys[] = { "id", "gossip", "data", "state", "incarnation",
						    "zone", "weight" };
		const char *v[7];
		size_t vn[7];
		int ok = 1;
		for (int i = 0; i < 7 && ok; i++)
			ok = member_field(open, (size_t)(close - open + 1), keys[i], &v[i], &vn[i]) == 0;
		if (ok) {
			int is_self = vn[0] == self_n && !memcmp(v[0], self, self_n);
			int alive = vn[3] == 5 && !memcmp(v[3], "alive", 5);
			char used[UNITS_BUF], total[UNITS_BUF], objects[UNITS_BUF];

			member_capacity(ctx, is_self, alive, v[2], vn[2], used, total, objects);
			printf("%-2s%-33.*s %-23.*s %-23.*s %-8.*s %11.*s %10.*s %6.*s %9s %9s %8s\n",
			       is_self ? "*" : "", (int)vn[0], v[0], (int)vn[1], v[1], (int)vn[2], v[2],
			       (int)vn[3], v[3], (int)vn[4], v[4], (int)vn[5], v[5], (int)vn[6], v[6],
			       used, total, objects);
		}
		p = close + 1;
		while (p < end && (*p == ',' || *p == ' '))
			p++;
	}
	free(doc);
	return fflush(stdout) ? st_error(ST_EXIT_ERROR, "cannot write to stdout") : 0;
}

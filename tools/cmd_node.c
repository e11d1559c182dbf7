/*
 * cmd_node.c: `node info`. Sends SD_OP_SM_STATUS (include/sheepdog_proto.h)
 * and shows the JSON status document node/dispatch.c builds. The document
 * is untrusted input: it is checked by a small reader below before it is
 * printed, whether as is (--json) or as "key: value" lines.
 */
#include "tools/sheeptool.h"
#include "tools/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_MAX 65536        /* reply buffer offered; dispatch.c sends ~1 KiB */
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

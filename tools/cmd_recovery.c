/*
 * cmd_recovery.c: `node recovery [--all] [--json]`: the "recovery" section
 * of SM_STATUS (node/recovery.h, node_recovery_status_json) of the node
 * asked, or of every alive member (SM_MEMBERS, at their data addresses).
 * The documents are untrusted: st_status_fetch checks each is one JSON
 * object, and the section is passed through (--json) or read field by
 * field (text), "-" for a field a node does not send.
 */
#include "tools/json_out.h"
#include "tools/ring_view.h"
#include "tools/sheeptool.h"
#include "tools/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBERS_REPLY_MAX (1u << 20)
#define MEMBER_TIMEOUT_MS 5000

struct target {
	struct sd_addr a;
	char addr[RV_ADDR_MAX + 8];
	char id[2 * RV_ID_LEN + 1];        /* "" if not known */
};

/* raw text of a member of obj, or "-" */
static void field(const char *obj, size_t len, const char *key, char *out, size_t cap)
{
	const char *v;
	size_t n;

	if (st_json_get(obj, len, key, &v, &n) || n == 0 || n >= cap || memchr(v, '"', n)) {
		snprintf(out, cap, "-");
		return;
	}
	memcpy(out, v, n);
	out[n] = 0;
}

static void print_text(const struct target *t, const char *sec, size_t sn, const char *err)
{
	char f[16][32], human[UNITS_BUF];
	static const char *const keys[16] = { "running", "ring_epoch", "objects_done", "objects_total",
		"objects_left", "objects_per_s", "bytes_moved", "pushed", "pulled", "removed", "verified",
		"scrubbed", "corrupt", "repaired", "passes", "anti_entropy_interval_s" };
	char scrub_i[32], rate_mb[32], in_sync[32];
	uint64_t bytes;

	printf("node %s%s%s%s\n", t->addr, *t->id ? " (id " : "", t->id, *t->id ? ")" : "");
	if (err) {
		printf("  state:        unknown: %s\n", err);
		return;
	}
	if (!sec) {
		printf("  state:        off (the node does not replicate: no recovery thread)\n");
		return;
	}
	for (int i = 0; i < 16; i++)
		field(sec, sn, keys[i], f[i], sizeof(f[i]));
	field(sec, sn, "scrub_interval_s", scrub_i, sizeof(scrub_i));
	field(sec, sn, "rate_mb", rate_mb, sizeof(rate_mb));
	field(sec, sn, "in_sync", in_sync, sizeof(in_sync));
	printf("  state:        %s\n", !strcmp(f[0], "true") ? "running" : !strcmp(f[0], "false") ? "idle" : "-");
	printf("  ring epoch:   %s\n", f[1]);
	printf("  objects:      %s done of %s, %s left\n", f[2], f[3], f[4]);
	if (st_json_get_u64(sec, sn, "bytes_left", &bytes) == 0)
		printf("  bytes left:   %s (the rest of the pass: at most this much moves)\n",
		       units_format_size(bytes, human, sizeof(human)));
	printf("  rate:         %s objects/s\n", f[5]);
	if (st_json_get_u64(sec, sn, "bytes_moved", &bytes) == 0)
		printf("  bytes moved:  %s (%s)\n", f[6], units_format_size(bytes, human, sizeof(human)));
	else
		printf("  bytes moved:  -\n");
	printf("  copies:       %s pushed, %s pulled, %s removed, %s verified, %s in sync by summary\n",
	       f[7], f[8], f[9], f[10], in_sync);
	printf("  scrub:        %s scrubbed, %s corrupt, %s repaired\n", f[11], f[12], f[13]);
	printf("  passes:       %s\n", f[14]);
	printf("  intervals:    anti-entropy %s s (0: only on ring changes), scrub %s s (0: never), "
	       "rate limit %s MB/s\n", f[15], scrub_i, rate_mb);
}

/* The alive members' data addresses (self: ctx's address). 0 or an exit code. */
static int targets_all(struct st_ctx *ctx, struct target **out, size_t *n)
{
	struct sd_client *c;
	struct sd_req req;
	struct sd_rsp rsp;
	struct rv_members ms;
	char *doc = malloc(MEMBERS_REPLY_MAX), err[256];
	int ret;

	*out = NULL;
	*n = 0;
	if (!doc)
		return st_error(ST_EXIT_ERROR, "out of memory");
	ret = st_connect(ctx, &c);
	if (ret) {
		free(doc);
		return ret;
	}
	memset(&req, 0, sizeof(req));
	req.opcode = SD_OP_SM_MEMBERS;
	req.data_length = MEMBERS_REPLY_MAX;
	ret = sd_client_request(c, &req, NULL, doc, MEMBERS_REPLY_MAX, &rsp);
	sd_client_close(c);
	if (ret) {
		free(doc);
		return st_fail(ctx, ret, "node recovery --all: node %s did not send its member list",
			       st_addr_str(ctx));
	}
	ret = rv_members_parse(doc, rsp.data_length, &ms, err, sizeof(err));
	free(doc);
	if (ret)
		return st_error(ST_EXIT_ERROR, "node recovery --all: node %s sent a malformed member list: %s",
				st_addr_str(ctx), err);
	*out = calloc(ms.n + 1, sizeof(**out));
	if (!*out) {
		rv_members_free(&ms);
		return st_error(ST_EXIT_ERROR, "out of memory");
	}
	for (size_t i = 0; i < ms.n; i++) {
		const struct rv_member *m = &ms.m[i];
		struct target *t = &(*out)[*n];

		if (strcmp(m->state, "alive"))
			continue;
		rv_hex(m->id, RV_ID_LEN, t->id);
		if (!memcmp(m->id, ms.self, RV_ID_LEN)) {
			t->a = ctx->addr;
			snprintf(t->addr, sizeof(t->addr), "%s", st_addr_str(ctx));
		} else {
			if (sd_addr_parse(&t->a, m->data))
				continue;
			t->a.timeout_ms = MEMBER_TIMEOUT_MS;
			snprintf(t->addr, sizeof(t->addr), "%s", m->data);
		}
		(*n)++;
	}
	rv_members_free(&ms);
	return 0;
}

int cmd_node_recovery(struct st_ctx *ctx)
{
	struct target *ts = NULL, one;
	size_t n = 1;
	struct json_out j;
	int ret = 0, unreachable = 0, werr = 0;

	if (ctx->all) {
		ret = targets_all(ctx, &ts, &n);
		if (ret)
			return ret;
	} else {
		memset(&one, 0, sizeof(one));
		one.a = ctx->addr;
		snprintf(one.addr, sizeof(one.addr), "%s", st_addr_str(ctx));
		ts = &one;
	}
	if (ctx->json) {
		json_out_init(&j, stdout);
		json_out_object(&j, NULL);
		json_out_array(&j, "nodes");
	}
	for (size_t i = 0; i < n; i++) {
		struct target *t = &ts[i];
		char *doc = NULL, errbuf[200];
		const char *sec = NULL, *err = NULL, *s;
		size_t len = 0, sn = 0;

		ret = st_status_fetch(ctx, &t->a, SD_OP_SM_STATUS, &doc, &len);
		if (ret == -EBADMSG) {
			snprintf(errbuf, sizeof(errbuf), "malformed status document");
			err = errbuf;
		} else if (ret) {
			snprintf(errbuf, sizeof(errbuf), "no answer: %s", sd_client_strerror(ret));
			err = errbuf;
			unreachable = 1;
		} else {
			if (!*t->id && !st_json_get(doc, len, "gossip", &s, &sn) && *s == '{') {
				const char *v;
				size_t vn;
				if (!st_json_get(s, sn, "self", &v, &vn) && vn < sizeof(t->id) && !memchr(v, '"', vn)) {
					memcpy(t->id, v, vn);
					t->id[vn] = 0;
				}
			}
			if (!st_json_get(doc, len, "recovery", &s, &sn) && sn && *s == '{') {
				sec = s;
			}
		}
		if (ctx->json) {
			json_out_object(&j, NULL);
			json_out_str(&j, "node", t->addr);
			if (*t->id)
				json_out_str(&j, "id", t->id);
			else
				json_out_null(&j, "id");
			/* the section as the node sent it (st_status_fetch checked the
			 * whole document, so this span is one JSON object) */
			if (sec)
				json_out_raw(&j, "recovery", sec, sn);
			else
				json_out_null(&j, "recovery");
			if (err)
				json_out_str(&j, "error", err);
			else
				json_out_null(&j, "error");
			json_out_close(&j);
		} else {
			print_text(t, sec, sn, err);
		}
		free(doc);
	}
	if (ctx->json) {
		json_out_close(&j);
		json_out_close(&j);
		if (json_out_end(&j))
			werr = 1;
	}
	if (ts != &one)
		free(ts);
	if (fflush(stdout) || werr)
		return st_error(ST_EXIT_ERROR, "cannot write to stdout");
	if (unreachable && !ctx->all && !ctx->json)
		st_error(0, "node recovery: node %s did not answer: is sheepnode running there?",
			 st_addr_str(ctx));
	return unreachable ? ST_EXIT_UNAVAILABLE : 0;
}

/*
 * cmd_ring.c: `ring [--json] [--locate OID|VDI:INDEX] [--copies N] [--svg FILE]`.
 *
 * Sends SD_OP_SM_RING (the node's epoch, epoch_encode() bytes) and
 * SD_OP_SM_MEMBERS (addresses and gossip states, JSON); both replies are
 * untrusted and checked in tools/ring_view.c, which also computes and
 * renders everything. A node without SM_MEMBERS (no gossip yet) still gets
 * its ring shown, with addresses and states unknown.
 */
#include "tools/sheeptool.h"
#include "tools/ring_view.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_REPLY_MAX    (1u << 20)   /* epoch: ~40 bytes per member */
#define MEMBERS_REPLY_MAX (1u << 20)   /* JSON: ~200 bytes per member */

#define OBJECTS_TIMEOUT_MS 2000   /* per member asked for its object count */

/* OBJECTS: each alive member's "objects" from its own SM_STATUS (the node
 * asked at ctx's address); a member that is not alive, does not answer in
 * time or has no such field stays -1 ("-"). */
static void count_objects(struct st_ctx *ctx, struct ring_view *v)
{
	for (size_t i = 0; i < v->n_rows; i++) {
		struct rv_row *r = &v->rows[i];
		struct sd_addr a;
		char *doc;
		size_t n;
		uint64_t objs;

		if (r->self) {
			a = ctx->addr;
		} else {
			if (!r->mem || strcmp(r->mem->state, "alive") || sd_addr_parse(&a, r->mem->data))
				continue;
		}
		a.timeout_ms = OBJECTS_TIMEOUT_MS;
		if (st_status_fetch(ctx, &a, SD_OP_SM_STATUS, &doc, &n))
			continue;
		if (st_json_get_u64(doc, n, "objects", &objs) == 0 && objs <= INT64_MAX)
			r->objects = (int64_t)objs;
		free(doc);
	}
}

static int write_svg(struct st_ctx *ctx, const struct ring_view *v)
{
	FILE *f = fopen(ctx->svg, "w");
	int ret;

	if (!f)
		return st_error(ST_EXIT_ERROR, "ring: cannot create '%s': %s", ctx->svg, strerror(errno));
	ret = ring_view_svg(v, f);
	if (fclose(f) && !ret)
		ret = -errno;
	if (ret) {
		remove(ctx->svg);
		return st_error(ST_EXIT_ERROR, "ring: cannot write '%s': %s (removed)", ctx->svg,
				strerror(-ret));
	}
	return 0;
}

/* --locate: resolve VDI:INDEX on the node, pick the copies, print. */
static int locate(struct st_ctx *ctx, struct sd_client *c, const struct ring_view *v,
		  struct rv_target *t)
{
	unsigned copies = ctx->copies;
	int ret;

	if (t->is_vdi) {
		uint32_t vid = 0;

		ret = sd_vdi_info(c, t->vdi, NULL, 0, &vid);
		if (ret)
			return st_fail(ctx, ret, "ring: --locate: cannot look up VDI '%s' on node %s",
				       t->vdi, st_addr_str(ctx));
		t->oid = sd_data_oid(vid, t->index);
	}
	if (!copies) {
		uint8_t nr = 0;

		ret = sd_cluster_default(c, &nr, NULL, NULL);
		if (ret)
			return st_fail(ctx, ret, "ring: --locate: node %s did not send the cluster's "
				       "number of copies (give --copies N)", st_addr_str(ctx));
		copies = nr ? nr : 3;
		if (copies > RING_MAX_COPIES)
			copies = RING_MAX_COPIES;
	}
	ring_view_print_locate(v, t, copies, ctx->json, stdout);
	return 0;
}

int cmd_ring(struct st_ctx *ctx)
{
	struct sd_client *c;
	struct rv_target target;
	struct rv_members members;
	struct ring_view view;
	uint8_t *ebuf = NULL, *mbuf = NULL;
	uint32_t elen = 0, mlen = 0;
	char err[256];
	int ret, have_members = 0;

	/* bad arguments fail before anything touches the network */
	if (ctx->locate && rv_target_parse(ctx->locate, &target, err, sizeof(err)))
		return st_usage(ctx, "%s", err);
	if (ctx->svg && !*ctx->svg)
		return st_usage(ctx, "--svg needs a file name");
	ret = st_connect(ctx, &c);
	if (ret)
		return ret;
	ret = sd_client_fetch(c, SD_OP_SM_RING, 0, RING_REPLY_MAX, &ebuf, &elen);
	if (ret) {
		sd_client_close(c);
		return st_fail(ctx, ret, "ring: node %s did not send its epoch (SM_RING)", st_addr_str(ctx));
	}
	ret = sd_client_fetch(c, SD_OP_SM_MEMBERS, 0, MEMBERS_REPLY_MAX, &mbuf, &mlen);
	if (ret == 0) {
		if (rv_members_parse((const char *)mbuf, mlen, &members, err, sizeof(err))) {
			free(ebuf);
			free(mbuf);
			sd_client_close(c);
			return st_error(ST_EXIT_ERROR, "ring: node %s sent a malformed membership document "
					"(SM_MEMBERS): %s", st_addr_str(ctx), err);
		}
		have_members = 1;
	} else if (ret < 0) {
		/* the connection itself failed: nothing more to ask */
		free(ebuf);
		sd_client_close(c);
		return st_fail(ctx, ret, "ring: node %s did not answer SM_MEMBERS", st_addr_str(ctx));
	}
	/* ret > 0: the node does not serve SM_MEMBERS (no gossip): go on without */
	free(mbuf);
	ret = ring_view_build(&view, ebuf, elen, have_members ? &members : NULL, err, sizeof(err));
	free(ebuf);
	if (ret) {
		ring_view_free(&view);
		sd_client_close(c);
		return st_error(ST_EXIT_ERROR, "ring: node %s sent a bad epoch (SM_RING): %s",
				st_addr_str(ctx), err);
	}
	if (!ctx->locate)
		count_objects(ctx, &view);
	if (ctx->locate)
		ret = locate(ctx, c, &view, &target);
	else if (ctx->json)
		ring_view_print_json(&view, stdout);
	else
		ring_view_print_text(&view, stdout);
	sd_client_close(c);
	if (!ret && ctx->svg) {
		ret = write_svg(ctx, &view);
		if (!ret && !ctx->json)
			printf("svg: wrote %s\n", ctx->svg);
	}
	ring_view_free(&view);
	if (!ret && fflush(stdout))
		ret = st_error(ST_EXIT_ERROR, "cannot write to stdout");
	return ret;
}

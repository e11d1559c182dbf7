/*
 * cmd_check.c: `cluster check [--repair] [--json]` and the quick check
 * behind `cluster info`'s health line.
 *
 * One round: SM_RING + SM_MEMBERS from the node asked give the ring and the
 * members (tools/ring_view.c, as `ring` does); every alive member is asked
 * for its object index, page by page (SM_OBJECTS, obj.oid = where to go
 * on, data_length = the page buffer); the catalog is read through the node
 * asked as `vdi list` does (READ_VDIS, each inode's header and the index
 * slots its size covers): each VDI's copies (0 meaning the cluster default,
 * GET_CLUSTER_DEFAULT, 3 if that is 0 too) and every data object an index
 * references, so an object that no node lists at all is reported too.
 * tools/check_view.c judges.
 *
 * --repair: SM_RECOVER to every alive member (each first forgets index
 * records whose file is gone, then starts a pass), wait until every kicked
 * node has finished a pass since (SM_STATUS "recovery": passes went up and
 * running is false, or KICK_WAIT_MS passed), check again; repeat until
 * clean or the deadline (--timeout, default 60 s). Several rounds can be
 * needed: a node's pass may look at a peer before that peer dropped its
 * record for a lost file.
 */
#include "tools/check_view.h"
#include "tools/json_out.h"
#include "tools/sheeptool.h"
#include "tools/units.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RING_REPLY_MAX    (1u << 20)
#define MEMBERS_REPLY_MAX (1u << 20)
#define PAGE_MAX          (1u << 20)   /* SM_OBJECTS page buffer offered (~5000 copies) */
#define NODE_TIMEOUT_MS   10000        /* per member connection stall limit */
#define POLL_MS           500
#define KICK_WAIT_MS      20000        /* re-check even if a pass did not end */

struct vcopies { uint32_t vid; unsigned copies; };

struct round {
	struct st_ctx *ctx;
	struct sd_client *c;           /* to the node asked */
	struct ring_view view;
	struct ck_node *nodes;         /* one per view row */
	struct sd_addr *addrs;         /* where each row's node is asked */
	struct ck_copy *copies;
	size_t n_copies, cap_copies;
	unsigned copies_default;
	struct vcopies *vc;
	size_t n_vc, cap_vc;
	uint64_t *refs;                /* data oids the VDI indexes reference */
	size_t n_refs, cap_refs;
	uint64_t inode_errors;         /* inode headers not readable (default copies used) */
	int progress;                  /* print a progress line on stderr */
	uint8_t *gone;                 /* per node: it has a record whose file is gone */
	struct ck_summary sum;
	/* JSON output of problem objects, or text */
	struct json_out *j;
	int print;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void round_free(struct round *r)
{
	sd_client_close(r->c);
	ring_view_free(&r->view);
	free(r->nodes);
	free(r->addrs);
	free(r->gone);
	free(r->copies);
	free(r->vc);
	free(r->refs);
	memset(r, 0, sizeof(*r));
}

/* The ring and members of the node asked; 0 or an exit code (printed). */
static int round_ring(struct round *r)
{
	struct st_ctx *ctx = r->ctx;
	struct rv_members members;
	uint8_t *ebuf = NULL, *mbuf = NULL;
	uint32_t elen = 0, mlen = 0;
	char err[256];
	int ret, have_members = 0;

	ret = st_connect(ctx, &r->c);
	if (ret)
		return ret;
	ret = sd_client_fetch(r->c, SD_OP_SM_RING, 0, RING_REPLY_MAX, &ebuf, &elen);
	if (ret)
		return st_fail(ctx, ret, "cluster check: node %s did not send its epoch (SM_RING)",
			       st_addr_str(ctx));
	ret = sd_client_fetch(r->c, SD_OP_SM_MEMBERS, 0, MEMBERS_REPLY_MAX, &mbuf, &mlen);
	if (ret == 0) {
		ret = rv_members_parse((const char *)mbuf, mlen, &members, err, sizeof(err));
		free(mbuf);
		if (ret) {
			free(ebuf);
			return st_error(ST_EXIT_ERROR, "cluster check: node %s sent a malformed membership "
					"document (SM_MEMBERS): %s", st_addr_str(ctx), err);
		}
		have_members = 1;
	} else if (ret < 0) {
		free(ebuf);
		return st_fail(ctx, ret, "cluster check: node %s did not answer SM_MEMBERS", st_addr_str(ctx));
	}
	ret = ring_view_build(&r->view, ebuf, elen, have_members ? &members : NULL, err, sizeof(err));
	free(ebuf);
	if (ret)
		return st_error(ST_EXIT_ERROR, "cluster check: node %s sent a bad epoch (SM_RING): %s",
				st_addr_str(ctx), err);
	uint8_t nr = 0;
	ret = sd_cluster_default(r->c, &nr, NULL, NULL);
	if (ret)
		return st_fail(ctx, ret, "cluster check: node %s did not send the cluster defaults",
			       st_addr_str(ctx));
	r->copies_default = nr ? nr : 3;
	return 0;
}

/* Every page of one node; 0 or a library result / -EBADMSG (err set). */
static int list_node(struct round *r, uint32_t node, char *err, size_t errlen)
{
	struct sd_client *c;
	uint64_t from = 0, next = 0;
	size_t n0 = r->n_copies;
	int more = 1, ret;

	ret = sd_client_connect(&c, &r->addrs[node]);
	if (ret) {
		snprintf(err, errlen, "cannot connect: %s", sd_client_strerror(ret));
		return ret;
	}
	while (more) {
		uint8_t *doc;
		uint32_t len;

		ret = sd_client_fetch(c, SD_OP_SM_OBJECTS, from, PAGE_MAX, &doc, &len);
		if (ret) {
			snprintf(err, errlen, "SM_OBJECTS from %016" PRIx64 ": %s", from, sd_client_strerror(ret));
			break;
		}
		ret = ck_page_parse((const char *)doc, len, node, &r->copies, &r->n_copies, &r->cap_copies,
				    &next, &more, err, errlen);
		free(doc);
		if (ret)
			break;
		/* a page that does not move forward would loop forever */
		if (more && next <= from) {
			snprintf(err, errlen, "SM_OBJECTS: \"next\" %016" PRIx64 " does not move past %016" PRIx64,
				 next, from);
			ret = -EBADMSG;
			break;
		}
		from = next;
		if (r->progress)
			fprintf(stderr, "\rcheck: node %u of %zu, %zu copies listed   ", node + 1,
				r->view.n_rows, r->n_copies);
	}
	sd_client_close(c);
	if (ret)
		r->n_copies = n0;   /* an incomplete list would report false "no copy" */
	else
		r->nodes[node].objects = r->n_copies - n0;
	return ret;
}

/* Decide who is asked where, then list them all. */
static int round_list(struct round *r)
{
	struct ring_view *v = &r->view;

	r->nodes = calloc(v->n_rows + 1, sizeof(*r->nodes));
	r->addrs = calloc(v->n_rows + 1, sizeof(*r->addrs));
	r->gone = calloc(v->n_rows + 1, 1);
	if (!r->nodes || !r->addrs || !r->gone)
		return st_error(ST_EXIT_ERROR, "out of memory");
	for (size_t i = 0; i < v->n_rows; i++) {
		const struct rv_row *row = &v->rows[i];
		struct ck_node *n = &r->nodes[i];
		/* without gossip the node is alone: its own epoch's only row */
		int self = row->self || (!v->have_members && v->n_rows == 1);
		int alive = self || (row->mem && !strcmp(row->mem->state, "alive"));

		if (!alive) {
			n->state = CK_NODE_DOWN;
			continue;
		}
		if (self) {
			r->addrs[i] = r->ctx->addr;
		} else if (sd_addr_parse(&r->addrs[i], row->mem->data)) {
			n->state = CK_NODE_UNREACHABLE;
			snprintf(n->err, sizeof(n->err), "bad data address '%s'", row->mem->data);
			continue;
		}
		if (!self || r->addrs[i].timeout_ms == 0 || r->addrs[i].timeout_ms > NODE_TIMEOUT_MS)
			r->addrs[i].timeout_ms = NODE_TIMEOUT_MS;
		int ret = list_node(r, (uint32_t)i, n->err, sizeof(n->err));
		if (ret == -ENOMEM)
			return st_error(ST_EXIT_ERROR, "out of memory");
		if (ret) {
			n->state = CK_NODE_UNREACHABLE;
			if (ret > 0 && ret == SD_RES_INVALID_PARMS)
				strncat(n->err, " (an older sheepnode without SM_OBJECTS?)",
					sizeof(n->err) - strlen(n->err) - 1);
		}
	}
	if (r->progress)
		fputs("\r\033[K", stderr);
	return 0;
}

static int vc_add(struct round *r, uint32_t vid, unsigned copies)
{
	if (r->n_vc == r->cap_vc) {
		size_t cap = r->cap_vc ? 2 * r->cap_vc : 64;
		struct vcopies *a = realloc(r->vc, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		r->vc = a;
		r->cap_vc = cap;
	}
	r->vc[r->n_vc].vid = vid;
	r->vc[r->n_vc++].copies = copies;
	return 0;
}

static unsigned copies_of(void *arg, uint32_t vid)
{
	struct round *r = arg;
	uint8_t hdr[SD_INODE_HEADER_SIZE];
	struct sd_inode_hdr h;
	unsigned copies;

	for (size_t i = r->n_vc; i-- > 0;)   /* vids come grouped: the last is the likely one */
		if (r->vc[i].vid == vid)
			return r->vc[i].copies;
	int ret = sd_inode_read_header(r->c, vid, hdr, 0);
	if (ret == SD_RES_NO_OBJ || ret == SD_RES_NO_VDI) {
		copies = 0;      /* no VDI owns it: orphan */
	} else if (ret) {
		r->inode_errors++;
		copies = r->copies_default;
	} else {
		sd_inode_hdr_decode(&h, hdr);
		copies = h.nr_copies ? h.nr_copies : r->copies_default;
		if (h.vdi_id != vid)
			copies = 0;  /* a header that is not this VDI's: nothing owns it */
	}
	vc_add(r, vid, copies);   /* out of memory: asked again next time */
	return copies;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The objects one live VDI's index references (slots its size covers). */
static int scan_index(struct round *r, uint32_t vid, const struct sd_inode_hdr *h)
{
	uint64_t osz, nslots;
	uint8_t *idx;
	int ret;

	if (h->block_size_shift < SD_MIN_SHIFT || h->block_size_shift > SD_MAX_SHIFT)
		return -EPROTO;
	osz = UINT64_C(1) << h->block_size_shift;
	nslots = (h->vdi_size + osz - 1) / osz;
	if (nslots > SD_MAX_DATA_OBJS)
		nslots = SD_MAX_DATA_OBJS;
	if (!nslots)
		return 0;
	if (!(idx = malloc((size_t)nslots * 4)))
		return -ENOMEM;
	ret = sd_obj_read(r->c, sd_inode_oid(vid), SD_INODE_INDEX_OFF, (uint32_t)nslots * 4, idx,
			  SD_FLAG_CMD_CACHE, 0);
	for (uint64_t i = 0; !ret && i < nslots; i++) {
		uint32_t owner = sd_get32(idx + 4 * i);

		if (!owner)
			continue;
		if (r->n_refs == r->cap_refs) {
			size_t cap = r->cap_refs ? 2 * r->cap_refs : 1024;
			uint64_t *a = realloc(r->refs, cap * sizeof(*a));
			if (!a) {
				ret = -ENOMEM;
				break;
			}
			r->refs = a;
			r->cap_refs = cap;
		}
		r->refs[r->n_refs++] = sd_data_oid(owner & SD_VID_MASK, (uint32_t)i);
	}
	free(idx);
	return ret;
}

/* Every allocated vid of the catalog: copies into the cache, referenced
 * objects into refs (sorted). An unreadable inode is counted in
 * inode_errors and skipped; 0 or an exit code (printed). */
static int round_catalog(struct round *r)
{
	uint8_t *bm = malloc(SD_BITMAP_SIZE), hdr[SD_INODE_HEADER_SIZE];
	int ret;

	if (!bm)
		return st_error(ST_EXIT_ERROR, "out of memory");
	ret = sd_read_vdis(r->c, bm);
	for (uint32_t v = 1; !ret && v < SD_NR_VDIS; v++) {
		struct sd_inode_hdr h;

		if (!bm[v >> 3]) {      /* 2^24 bits, mostly clear */
			v |= 7;
			continue;
		}
		if (!sd_bitmap_test(bm, v))
			continue;
		ret = sd_inode_read_header(r->c, v, hdr, SD_FLAG_CMD_CACHE);
		if (ret == SD_RES_NO_OBJ || ret == SD_RES_NO_VDI) {
			ret = vc_add(r, v, 0);  /* nothing owns its objects: orphans */
			continue;
		}
		if (ret > 0) {
			r->inode_errors++;
			ret = 0;
			continue;
		}
		if (ret)
			break;
		sd_inode_hdr_decode(&h, hdr);
		if (h.vdi_id != v) {
			r->inode_errors++;
			continue;
		}
		ret = vc_add(r, v, h.nr_copies ? h.nr_copies : r->copies_default);
		/* a deleted VDI (no name) keeps its objects only for its
		 * descendants, whose own indexes reference them */
		if (!ret && h.name[0]) {
			ret = scan_index(r, v, &h);
			if (ret > 0 || ret == -EPROTO) {
				r->inode_errors++;
				ret = 0;
			}
		}
	}
	free(bm);
	if (ret == -ENOMEM)
		return st_error(ST_EXIT_ERROR, "out of memory");
	if (ret)
		return st_fail(r->ctx, ret, "cluster check: cannot read the VDI catalog through node %s",
			       st_addr_str(r->ctx));
	if (r->n_refs)
		qsort(r->refs, r->n_refs, sizeof(*r->refs), u64_cmp);
	return 0;
}

/* ---- output ---- */

static const char *node_id(const struct round *r, uint32_t node, char *buf)
{
	rv_hex(r->view.rows[node].id, RV_ID_LEN, buf);
	return buf;
}

static const char *node_addr(const struct round *r, uint32_t node)
{
	return rv_row_addr(&r->view.rows[node]);
}

static void emit_text(const struct round *r, const struct ck_object *o)
{
	char id[2 * RV_ID_LEN + 1];

	if (o->status == CK_DEGRADED) {
		unsigned good = 0;
		for (unsigned k = 0; k < o->n_rep; k++)
			good += o->rep[k].rep == CK_REP_OK;
		printf("degraded %016" PRIx64 " (vdi %06x): %u of %u copies good%s\n", o->oid, o->vid,
		       good, o->n_rep, o->lost ? ", no copy left on any node listed" : "");
		for (unsigned k = 0; k < o->n_rep; k++) {
			if (o->rep[k].rep == CK_REP_OK)
				continue;
			if (o->rep[k].rep == CK_REP_STALE)
				printf("  stale on %s %s: version %" PRIu64 ", newest %" PRIu64 "\n",
				       node_id(r, o->rep[k].node, id), node_addr(r, o->rep[k].node),
				       o->rep[k].version, o->newest);
			else if (o->rep[k].rep == CK_REP_MISMATCH)
				printf("  checksum mismatch on %s %s (version %" PRIu64 ")\n",
				       node_id(r, o->rep[k].node, id), node_addr(r, o->rep[k].node), o->rep[k].version);
			else
				printf("  missing on %s %s: %s\n", node_id(r, o->rep[k].node, id),
				       node_addr(r, o->rep[k].node), ck_rep_name(o->rep[k].rep));
		}
	} else if (o->status == CK_ORPHAN) {
		printf("orphan   %016" PRIx64 " (vdi %06x): no VDI owns it (reclaimed later)\n", o->oid, o->vid);
	}
	for (size_t k = 0; k < o->n_extra; k++)
		printf("extra    %016" PRIx64 " (vdi %06x): copy on %s %s (version %" PRIu64 "), not a "
		       "replica: recovery removes it\n", o->oid, o->vid, node_id(r, o->extra[k].node, id),
		       node_addr(r, o->extra[k].node), o->extra[k].version);
}

static void emit_json(struct round *r, const struct ck_object *o)
{
	struct json_out *j = r->j;
	char id[2 * RV_ID_LEN + 1], oid[17];

	snprintf(oid, sizeof(oid), "%016" PRIx64, o->oid);
	json_out_object(j, NULL);
	json_out_str(j, "oid", oid);
	json_out_u64(j, "vid", o->vid);
	json_out_str(j, "status", ck_status_name(o->status));
	json_out_u64(j, "copies", o->copies);
	json_out_u64(j, "found", o->found);
	json_out_u64(j, "newest_version", o->newest);
	json_out_bool(j, "lost", o->lost);
	json_out_array(j, "replicas");
	for (unsigned k = 0; k < o->n_rep; k++) {
		json_out_object(j, NULL);
		json_out_str(j, "id", node_id(r, o->rep[k].node, id));
		json_out_str(j, "address", node_addr(r, o->rep[k].node));
		json_out_str(j, "copy", ck_rep_name(o->rep[k].rep));
		if (o->rep[k].rep == CK_REP_OK || o->rep[k].rep == CK_REP_STALE ||
		    o->rep[k].rep == CK_REP_MISMATCH || o->rep[k].rep == CK_REP_FILE_GONE)
			json_out_u64(j, "version", o->rep[k].version);
		else
			json_out_null(j, "version");
		json_out_close(j);
	}
	json_out_close(j);
	json_out_array(j, "extra");
	for (size_t k = 0; k < o->n_extra; k++) {
		json_out_object(j, NULL);
		json_out_str(j, "id", node_id(r, o->extra[k].node, id));
		json_out_str(j, "address", node_addr(r, o->extra[k].node));
		json_out_u64(j, "version", o->extra[k].version);
		json_out_close(j);
	}
	json_out_close(j);
	json_out_close(j);
}

static void emit(void *arg, const struct ck_object *o)
{
	struct round *r = arg;

	for (unsigned k = 0; k < o->n_rep; k++)
		if (o->rep[k].rep == CK_REP_FILE_GONE)
			r->gone[o->rep[k].node] = 1;
	if (!r->print || (o->status == CK_OK && !o->n_extra))
		return;
	if (r->j)
		emit_json(r, o);
	else
		emit_text(r, o);
}

/* One whole check. print: 0 quiet, 1 output (text or JSON per ctx) up to
 * but not including the closing brace of the JSON document (the caller
 * may add "repair"). 0 or an exit code (printed). */
static int check_round(struct st_ctx *ctx, struct round *r, int print, int progress, struct json_out *j)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->ctx = ctx;
	r->progress = progress;
	r->print = print;
	ret = round_ring(r);
	if (!ret)
		ret = round_list(r);
	if (!ret)
		ret = round_catalog(r);
	if (ret)
		return ret;
	if (print && ctx->json) {
		char dg[2 * EPOCH_DIGEST_LEN + 1], id[2 * RV_ID_LEN + 1];

		r->j = j;
		json_out_init(j, stdout);
		json_out_object(j, NULL);
		json_out_str(j, "node", st_addr_str(ctx));
		json_out_object(j, "ring");
		json_out_u64(j, "epoch", r->view.scalar);
		rv_hex(r->view.digest, EPOCH_DIGEST_LEN, dg);
		json_out_str(j, "digest", dg);
		json_out_close(j);
		json_out_u64(j, "copies_default", r->copies_default);
		json_out_array(j, "nodes");
		for (size_t i = 0; i < r->view.n_rows; i++) {
			const struct ck_node *n = &r->nodes[i];
			json_out_object(j, NULL);
			json_out_str(j, "id", node_id(r, (uint32_t)i, id));
			json_out_str(j, "address", node_addr(r, (uint32_t)i));
			json_out_str(j, "state", rv_row_state(&r->view.rows[i]));
			json_out_str(j, "listed", n->state == CK_NODE_LISTED ? "yes" :
				     n->state == CK_NODE_DOWN ? "not alive" : "unreachable");
			json_out_u64(j, "objects", n->objects);
			if (n->state == CK_NODE_UNREACHABLE)
				json_out_str(j, "error", n->err);
			else
				json_out_null(j, "error");
			json_out_close(j);
		}
		json_out_close(j);
		json_out_array(j, "objects");
	} else if (print) {
		char dg[2 * EPOCH_DIGEST_LEN + 1], id[2 * RV_ID_LEN + 1];

		rv_hex(r->view.digest, EPOCH_DIGEST_LEN, dg);
		printf("ring epoch %" PRIu64 " (digest %.16s), %zu node(s), default copies %u\n",
		       r->view.scalar, dg, r->view.n_rows, r->copies_default);
		for (size_t i = 0; i < r->view.n_rows; i++) {
			const struct ck_node *n = &r->nodes[i];
			if (n->state == CK_NODE_LISTED)
				printf("node %s %s: %" PRIu64 " object(s) listed\n", node_id(r, (uint32_t)i, id),
				       node_addr(r, (uint32_t)i), n->objects);
			else if (n->state == CK_NODE_DOWN)
				printf("node %s %s: not alive (%s): its copies count as missing\n",
				       node_id(r, (uint32_t)i, id), node_addr(r, (uint32_t)i),
				       rv_row_state(&r->view.rows[i]));
			else
				printf("node %s %s: did not answer (%s): its copies count as missing\n",
				       node_id(r, (uint32_t)i, id), node_addr(r, (uint32_t)i), n->err);
		}
	}
	ret = ck_analyze(&r->view, r->nodes, r->copies, r->n_copies, r->refs, r->n_refs, copies_of, r, emit, r,
			 &r->sum);
	if (ret)
		return st_error(ST_EXIT_ERROR, "out of memory");
	if (print && ctx->json) {
		const struct ck_summary *s = &r->sum;
		json_out_close(j);
		json_out_object(j, "summary");
		json_out_u64(j, "objects", s->objects);
		json_out_u64(j, "ok", s->ok);
		json_out_u64(j, "degraded", s->degraded);
		json_out_u64(j, "extra", s->with_extra);
		json_out_u64(j, "orphan", s->orphan);
		json_out_u64(j, "lost", s->lost);
		json_out_u64(j, "missing_copies", s->missing);
		json_out_u64(j, "stale_copies", s->stale);
		json_out_u64(j, "mismatched_copies", s->mismatch);
		json_out_u64(j, "extra_copies", s->extra);
		json_out_u64(j, "nodes_not_alive", s->nodes_down);
		json_out_u64(j, "nodes_unreachable", s->nodes_unreachable);
		json_out_u64(j, "inode_errors", r->inode_errors);
		json_out_close(j);
		json_out_bool(j, "clean", s->degraded == 0);
	} else if (print) {
		const struct ck_summary *s = &r->sum;
		if (r->inode_errors)
			printf("warning: %" PRIu64 " VDI inode(s) unreadable: their objects were judged with "
			       "the default copies, and objects only they reference may be missed\n",
			       r->inode_errors);
		if (s->lost)
			printf("warning: %" PRIu64 " object(s) referenced by a VDI have no copy on any node "
			       "listed: their data is lost unless a node that holds it returns\n", s->lost);
		printf("objects: %" PRIu64 ", ok: %" PRIu64 ", degraded: %" PRIu64 ", extra: %" PRIu64
		       ", orphan: %" PRIu64 "\n", s->objects, s->ok, s->degraded, s->with_extra, s->orphan);
	}
	return 0;
}

int st_check_quick(struct st_ctx *ctx, struct ck_summary *sum, char *err, size_t errlen)
{
	struct round r;
	/* errors of the check itself go to stderr as for any command; the
	 * caller reports health "unknown" with err */
	int ret = check_round(ctx, &r, 0, 0, NULL);

	if (ret)
		snprintf(err, errlen, "the object check failed (exit code %d): see the message above", ret);
	else
		*sum = r.sum;
	round_free(&r);
	return ret;
}

/* ---- --repair ---- */

/* passes and running of a node's recovery; 0 or -1 */
static int recovery_state(struct st_ctx *ctx, const struct sd_addr *a, uint64_t *passes, int *running)
{
	char *doc;
	size_t len, sn;
	const char *s;
	int ret = st_status_fetch(ctx, a, SD_OP_SM_STATUS, &doc, &len);

	if (ret)
		return -1;
	ret = st_json_get(doc, len, "recovery", &s, &sn) || *s != '{' ||
	      st_json_get_u64(s, sn, "passes", passes) ? -1 : 0;
	if (!ret) {
		const char *rv;
		size_t rn;
		*running = !st_json_get(s, sn, "running", &rv, &rn) && rn == 4 && !memcmp(rv, "true", 4);
	}
	free(doc);
	return ret;
}

static int kick(struct sd_addr *a)
{
	struct sd_client *c;
	struct sd_req req;
	int ret = sd_client_connect(&c, a);

	if (ret)
		return ret;
	memset(&req, 0, sizeof(req));
	req.opcode = SD_OP_SM_RECOVER;
	ret = sd_client_request(c, &req, NULL, NULL, 0, NULL);
	sd_client_close(c);
	return ret;
}

/* SM_RECOVER to every listed node, those that lost files first: their
 * SM_RECOVER drops the records, so the passes the others start next see
 * those copies missing. before[i]: the node's passes count just before;
 * kicked[i]: it accepted. */
static void kick_all(struct st_ctx *ctx, struct round *r, uint64_t *before, uint8_t *kicked)
{
	size_t n = r->view.n_rows;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			char id[2 * RV_ID_LEN + 1];
			int running, k;

			if (r->nodes[i].state != CK_NODE_LISTED || r->gone[i] != (pass == 0))
				continue;
			if (recovery_state(ctx, &r->addrs[i], &before[i], &running))
				before[i] = 0;
			k = kick(&r->addrs[i]);
			if (k == 0) {
				kicked[i] = 1;
				continue;
			}
			st_error(0, "cluster check --repair: node %s %s refused SM_RECOVER: %s%s",
				 node_id(r, (uint32_t)i, id), node_addr(r, (uint32_t)i), sd_client_strerror(k),
				 k == SD_RES_SYSTEM_ERROR ? " (it runs no recovery: not replicating)" : "");
		}
	}
}

struct repair_stat { unsigned rounds; uint64_t ms; int clean; };

/* Rounds of kick + wait + check until clean or the deadline. *r is the
 * last (quiet) check's state, freed by the caller. */
static int repair(struct st_ctx *ctx, struct round *r, struct repair_stat *rs, int tty)
{
	uint64_t t0 = now_ms(), deadline = t0 + ctx->addr.timeout_ms;
	int ret;

	memset(rs, 0, sizeof(*rs));
	ret = check_round(ctx, r, 0, tty, NULL);
	while (!ret && r->sum.degraded && now_ms() < deadline) {
		size_t n = r->view.n_rows;
		uint64_t *before = calloc(n + 1, sizeof(*before));
		uint8_t *kicked = calloc(n + 1, 1);

		if (!before || !kicked) {
			free(before);
			free(kicked);
			return st_error(ST_EXIT_ERROR, "out of memory");
		}
		rs->rounds++;
		kick_all(ctx, r, before, kicked);
		uint64_t kicked_at = now_ms();
		for (;;) {
			size_t idle = 0, total = 0;
			uint64_t done = 0, left = 0;

			for (size_t i = 0; i < n; i++) {
				uint64_t p;
				int running;
				char *doc;
				size_t len, sn;
				const char *s;

				if (!kicked[i])
					continue;
				total++;
				if (recovery_state(ctx, &r->addrs[i], &p, &running) || (p > before[i] && !running))
					idle++;
				if (tty && !st_status_fetch(ctx, &r->addrs[i], SD_OP_SM_STATUS, &doc, &len)) {
					uint64_t d = 0, l = 0;
					if (!st_json_get(doc, len, "recovery", &s, &sn) && *s == '{') {
						st_json_get_u64(s, sn, "objects_done", &d);
						st_json_get_u64(s, sn, "objects_left", &l);
					}
					done += d;
					left += l;
					free(doc);
				}
			}
			if (tty) {
				uint64_t el = (now_ms() - t0) / 1000, lim = ctx->addr.timeout_ms / 1000;
				int w = 20, fill = lim ? (int)(w * el / lim) : w;
				if (fill > w)
					fill = w;
				fprintf(stderr, "\rrepair: round %u, %" PRIu64 " degraded, recovery %zu/%zu node(s) "
					"done, %" PRIu64 " object(s) checked, %" PRIu64 " left [%.*s%*s] %" PRIu64
					"/%" PRIu64 " s \033[K", rs->rounds, r->sum.degraded, idle, total, done, left,
					fill, "####################", w - fill, "", el, lim);
			}
			if (idle == total || now_ms() - kicked_at > KICK_WAIT_MS || now_ms() >= deadline)
				break;
			usleep(POLL_MS * 1000);
		}
		free(before);
		free(kicked);
		round_free(r);
		ret = check_round(ctx, r, 0, 0, NULL);
	}
	if (tty)
		fputs("\r\033[K", stderr);
	rs->ms = now_ms() - t0;
	rs->clean = !ret && r->sum.degraded == 0;
	return ret;
}

int cmd_cluster_check(struct st_ctx *ctx)
{
	struct round r;
	struct json_out j;
	struct repair_stat rs = { 0 };
	int tty = isatty(2), ret;

	if (ctx->repair) {
		/* --timeout (default 60 s) bounds the whole wait, not only a stall */
		ret = repair(ctx, &r, &rs, tty);
		round_free(&r);
		if (ret)
			return ret;
	}
	/* the report: a fresh round, printed */
	ret = check_round(ctx, &r, 1, tty && !ctx->repair, &j);
	if (ret) {
		round_free(&r);
		return ret;
	}
	int degraded = r.sum.degraded != 0;
	if (ctx->json) {
		if (ctx->repair) {
			json_out_object(&j, "repair");
			json_out_u64(&j, "rounds", rs.rounds);
			json_out_u64(&j, "ms", rs.ms);
			json_out_bool(&j, "clean", !degraded);
			json_out_close(&j);
		} else {
			json_out_null(&j, "repair");
		}
		json_out_close(&j);
		if (json_out_end(&j))
			degraded = -1;
	} else if (ctx->repair) {
		printf("repair: %s after %u round(s) of recovery in %.1f s\n",
		       degraded ? "NOT clean" : "clean", rs.rounds, rs.ms / 1000.0);
	}
	round_free(&r);
	if (fflush(stdout) || degraded < 0)
		return st_error(ST_EXIT_ERROR, "cannot write to stdout");
	if (degraded && ctx->repair)
		st_error(0, "cluster check --repair: still degraded after %.0f s: see the nodes' logs, "
			 "or raise --timeout", ctx->addr.timeout_ms / 1000.0);
	return degraded ? ST_EXIT_DEGRADED : 0;
}

/*
 * cmd_vdi.c: the VDI namespace commands (create, list, info, delete,
 * snapshot, clone, rollback, resize). Everything goes through the client
 * protocol exactly as QEMU 5.2 uses it (spec §5, §7): listings come from
 * READ_VDIS plus READ_OBJ of each inode, snapshots use QEMU's sequence.
 * Data transfer commands are in cmd_vdi_io.c.
 */
#include "tools/sheeptool.h"
#include "tools/json_out.h"
#include "tools/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One VDI or snapshot as the listing shows it. */
struct vdi_row {
	struct sd_inode_hdr h;
	uint64_t used;              /* bytes in objects this VDI owns */
	uint64_t shared;            /* bytes in objects owned by an ancestor */
	uint32_t nr_snapshots;      /* working VDIs: snapshots with the same name */
};

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

int st_vdi_lookup(struct sd_client *c, const char *name, const char *sel, uint32_t *vid,
		  uint32_t *snapid, const char **tag)
{
	int ret;

	if (snapid)
		*snapid = 0;
	if (tag)
		*tag = NULL;
	if (!sel)
		return sd_vdi_info(c, name, NULL, 0, vid);
	if (all_digits(sel) && strlen(sel) <= 10) {
		unsigned long long id = strtoull(sel, NULL, 10);

		if (id > 0 && id <= UINT32_MAX) {
			ret = sd_vdi_info(c, name, NULL, (uint32_t)id, vid);
			if (ret != SD_RES_NO_TAG && ret != SD_RES_NO_VDI) {
				if (!ret && snapid)
					*snapid = (uint32_t)id;
				return ret;
			}
		}
		/* not an id: maybe a tag made of digits */
	}
	ret = sd_vdi_info(c, name, sel, 0, vid);
	if (!ret && tag)
		*tag = sel;
	return ret;
}

/* "VDI 'x'" or "snapshot 's' of VDI 'x'" into buf. */
static const char *target_str(char *buf, size_t len, const char *name, const char *sel)
{
	if (sel)
		snprintf(buf, len, "snapshot '%s' of VDI '%s'", sel, name);
	else
		snprintf(buf, len, "VDI '%s'", name);
	return buf;
}

int st_disk_open(struct st_ctx *ctx, const char *name, const char *sel, struct sd_disk **d)
{
	struct sd_client *c;
	const char *tag;
	uint32_t vid, snapid;
	char what[600];
	int ret = st_connect(ctx, &c);

	if (ret)
		return ret;
	ret = st_vdi_lookup(c, name, sel, &vid, &snapid, &tag);
	sd_client_close(c);
	if (!ret)
		ret = sd_disk_open(d, &ctx->addr, name, tag, snapid, 0);
	if (ret)
		return st_fail(ctx, ret, "cannot open %s", target_str(what, sizeof(what), name, sel));
	return 0;
}

/* used/shared of row (its header already loaded) from the index slots its
 * size covers: at most 4 MiB, usually far less. */
static int vdi_count(struct sd_client *c, struct vdi_row *row)
{
	uint32_t vid = row->h.vdi_id;
	uint8_t *idx;
	uint64_t osz, nslots;
	int ret;

	if (row->h.block_size_shift < SD_MIN_SHIFT || row->h.block_size_shift > SD_MAX_SHIFT)
		return -EPROTO;
	osz = UINT64_C(1) << row->h.block_size_shift;
	nslots = (row->h.vdi_size + osz - 1) / osz;
	if (nslots > SD_MAX_DATA_OBJS)
		nslots = SD_MAX_DATA_OBJS;
	if (!nslots)
		return 0;
	idx = malloc((size_t)nslots * 4);
	if (!idx)
		return -ENOMEM;
	ret = sd_obj_read(c, sd_inode_oid(vid), SD_INODE_INDEX_OFF, (uint32_t)nslots * 4, idx,
			  SD_FLAG_CMD_CACHE, 0);
	for (uint64_t i = 0; !ret && i < nslots; i++) {
		uint32_t owner = sd_get32(idx + 4 * i);

		if (owner == vid)
			row->used += osz;
		else if (owner)
			row->shared += osz;
	}
	free(idx);
	return ret;
}

/* Header of vid and, if with_index, its used/shared counts. */
static int vdi_load(struct sd_client *c, uint32_t vid, struct vdi_row *row, int with_index)
{
	uint8_t hdr[SD_INODE_HEADER_SIZE];
	int ret;

	memset(row, 0, sizeof(*row));
	ret = sd_inode_read_header(c, vid, hdr, SD_FLAG_CMD_CACHE);
	if (ret)
		return ret;
	sd_inode_hdr_decode(&row->h, hdr);
	if (!row->h.name[0])
		return 0;               /* deleted: only the name matters */
	if (row->h.vdi_id != vid)
		return -EPROTO;         /* a live inode must name itself (§4.3) */
	if (!with_index)
		return 0;
	return vdi_count(c, row);
}

static int row_cmp(const void *a, const void *b)
{
	const struct vdi_row *x = a, *y = b;
	int r = strcmp(x->h.name, y->h.name);

	if (r)
		return r;
	return x->h.snap_id < y->h.snap_id ? -1 : x->h.snap_id > y->h.snap_id;
}

/* Next vid of the §5.4 run that starts at start, or 0 at its end. */
static uint32_t run_next(const uint8_t *bm, uint32_t start, uint32_t v)
{
	v = v + 1 >= SD_NR_VDIS ? 1 : v + 1;
	if (v == start || !sd_bitmap_test(bm, v))
		return 0;
	return v;
}

/*
 * Rows of every live VDI (name NULL) or of those named name (the §5.4 run
 * of its hash only), sorted by name then snap_id, with snapshot counts.
 * Inodes that cannot be read are reported on stderr and counted in
 * *skipped; a transport error ends the scan.
 */
static int vdi_scan(struct sd_client *c, const char *name, int with_index, struct vdi_row **out,
		    size_t *count, unsigned *skipped)
{
	uint8_t *bm = malloc(SD_BITMAP_SIZE);
	struct vdi_row *rows = NULL, row;
	size_t n = 0, cap = 0;
	uint32_t v, start = 0;
	int ret;

	*out = NULL;
	*count = 0;
	if (!bm)
		return -ENOMEM;
	ret = sd_read_vdis(c, bm);
	if (ret)
		goto out;
	if (name) {
		start = sd_vid_start(name, strlen(name));
		v = sd_bitmap_test(bm, start) ? start : 0;
	} else {
		v = 0;
	}
	for (;;) {
		if (name) {
			if (!v)
				break;
		} else {
			/* skip empty bytes quickly: 2^24 bits, mostly clear */
			v++;
			while (v < SD_NR_VDIS && !bm[v >> 3])
				v = (v | 7) + 1;
			if (v >= SD_NR_VDIS)
				break;
			if (!sd_bitmap_test(bm, v))
				continue;
		}
		ret = vdi_load(c, v, &row, 0);
		if (!ret && row.h.name[0] && (!name || !strcmp(row.h.name, name)) && with_index)
			ret = vdi_count(c, &row);
		if (ret < 0 && ret != -EPROTO)
			goto out;               /* the connection is gone */
		if (ret) {
			/* one bad inode should not hide all the others */
			fprintf(stderr, "sheeptool: warning: cannot read the inode of vid %06x: %s; "
				"skipped (see the node's log)\n", v, sd_client_strerror(ret));
			(*skipped)++;
			ret = 0;
		} else if (row.h.name[0] && (!name || !strcmp(row.h.name, name))) {
			if (n == cap) {
				struct vdi_row *nr = realloc(rows, (cap = cap ? 2 * cap : 64) * sizeof(*rows));

				if (!nr) {
					ret = -ENOMEM;
					goto out;
				}
				rows = nr;
			}
			rows[n++] = row;
		}
		if (name)
			v = run_next(bm, start, v);
	}
	if (n)
		qsort(rows, n, sizeof(*rows), row_cmp);
	for (size_t i = 0; i < n; i++) {
		if (rows[i].h.snap_ctime)
			continue;
		for (size_t k = i; k-- > 0 && !strcmp(rows[k].h.name, rows[i].h.name);)
			rows[i].nr_snapshots += rows[k].h.snap_ctime != 0;
	}
	*out = rows;
	*count = n;
	rows = NULL;
out:
	free(rows);
	free(bm);
	return ret;
}

/* ------------------------------------------------------------ output */

/* Names and tags are raw bytes: keep control characters off the terminal. */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = 0;
	return buf;
}

static const char *time_str(uint64_t t, char *buf, size_t len)
{
	time_t sec = (time_t)(t >> 32);
	struct tm tm;

	if (!t || !localtime_r(&sec, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "-");
	return buf;
}

static void row_json(struct json_out *j, const struct vdi_row *r)
{
	char hex[16];

	json_out_object(j, NULL);
	json_out_str(j, "name", r->h.name);
	json_out_u64(j, "vid", r->h.vdi_id);
	snprintf(hex, sizeof(hex), "%06x", r->h.vdi_id);
	json_out_str(j, "vid_hex", hex);
	json_out_bool(j, "snapshot", r->h.snap_ctime != 0);
	json_out_u64(j, "snap_id", r->h.snap_id);
	json_out_str(j, "tag", r->h.tag);
	json_out_u64(j, "size", r->h.vdi_size);
	json_out_u64(j, "used", r->used);
	json_out_u64(j, "shared", r->shared);
	json_out_u64(j, "object_size", UINT64_C(1) << (r->h.block_size_shift & 63));
	json_out_u64(j, "block_size_shift", r->h.block_size_shift);
	json_out_u64(j, "copies", r->h.nr_copies);
	json_out_u64(j, "copy_policy", r->h.copy_policy);
	json_out_u64(j, "parent_vid", r->h.parent_vdi_id);
	json_out_u64(j, "created", r->h.create_time >> 32);
	if (r->h.snap_ctime)
		json_out_u64(j, "snap_time", r->h.snap_ctime >> 32);
	else
		json_out_null(j, "snap_time");
	if (r->h.snap_ctime)
		json_out_null(j, "snapshots");
	else
		json_out_u64(j, "snapshots", r->nr_snapshots);
	json_out_u64(j, "vm_state_size", r->h.vm_state_size);
	json_out_close(j);
}

static int finish_stdout(void)
{
	if (fflush(stdout) || ferror(stdout))
		return st_error(ST_EXIT_ERROR, "cannot write to stdout");
	return 0;
}

static void list_human(const struct vdi_row *rows, size_t n)
{
	int nw = 4, tw = 3;
	char name[SD_NAME_LEN + 1], tag[SD_TAG_LEN + 1], t[32], s1[UNITS_BUF], s2[UNITS_BUF],
		s3[UNITS_BUF], snap[16], cnt[16];

	for (size_t i = 0; i < n; i++) {
		int l = (int)strlen(rows[i].h.name), m = (int)strlen(rows[i].h.tag);

		nw = l > nw ? (l > 40 ? 40 : l) : nw;
		tw = m > tw ? (m > 24 ? 24 : m) : tw;
	}
	printf("%-*s  %-6s  %-5s  %-*s  %10s  %10s  %10s  %9s  %s\n", nw, "NAME", "VID", "SNAP", tw,
	       "TAG", "SIZE", "USED", "SHARED", "SNAPSHOTS", "CREATED");
	for (size_t i = 0; i < n; i++) {
		const struct vdi_row *r = &rows[i];

		snprintf(snap, sizeof(snap), r->h.snap_ctime ? "%u" : "-", r->h.snap_id);
		snprintf(cnt, sizeof(cnt), r->h.snap_ctime ? "-" : "%u", r->nr_snapshots);
		printf("%-*s  %06x  %-5s  %-*s  %10s  %10s  %10s  %9s  %s\n", nw,
		       printable(r->h.name, name, sizeof(name)), r->h.vdi_id, snap, tw,
		       r->h.tag[0] ? printable(r->h.tag, tag, sizeof(tag)) : "-",
		       units_format_size(r->h.vdi_size, s1, sizeof(s1)),
		       units_format_size(r->used, s2, sizeof(s2)),
		       units_format_size(r->shared, s3, sizeof(s3)), cnt,
		       time_str(r->h.snap_ctime ? r->h.snap_ctime : r->h.create_time, t, sizeof(t)));
	}
}

int cmd_vdi_list(struct st_ctx *ctx)
{
	const char *name = ctx->argc ? ctx->argv[0] : NULL;
	struct sd_client *c;
	struct vdi_row *rows;
	size_t n;
	unsigned skipped = 0;
	int ret;

	if (name && (ret = st_check_name(ctx, "NAME", name)))
		return ret;
	if ((ret = st_connect(ctx, &c)))
		return ret;
	ret = vdi_scan(c, name, 1, &rows, &n, &skipped);
	sd_client_close(c);
	if (ret)
		return st_fail(ctx, ret, "vdi list: cannot read the VDI list from node %s",
			       st_addr_str(ctx));
	if (ctx->json) {
		struct json_out j;

		json_out_init(&j, stdout);
		json_out_object(&j, NULL);
		json_out_array(&j, "vdis");
		for (size_t i = 0; i < n; i++)
			row_json(&j, &rows[i]);
		json_out_close(&j);
		json_out_close(&j);
		json_out_end(&j);
	} else if (n || !name) {
		list_human(rows, n);
	}
	free(rows);
	if (name && n == 0 && !skipped)
		return st_fail(ctx, SD_RES_NO_VDI, "vdi list: VDI '%s'", name);
	ret = finish_stdout();
	if (!ret && skipped)
		ret = st_error(ST_EXIT_ERROR, "vdi list: %u VDI%s could not be read: the list is incomplete",
			       skipped, skipped == 1 ? "" : "s");
	return ret;
}

int cmd_vdi_info(struct st_ctx *ctx)
{
	const char *name = ctx->argv[0];
	struct sd_client *c;
	struct vdi_row row, *rows = NULL;
	size_t n = 0;
	unsigned skipped = 0;       /* only the snapshot count depends on it */
	uint32_t vid;
	char what[600], buf[SD_NAME_LEN + 1], t[32], s1[UNITS_BUF], s2[UNITS_BUF];
	int ret;

	if ((ret = st_check_name(ctx, "NAME", name)))
		return ret;
	if ((ret = st_connect(ctx, &c)))
		return ret;
	target_str(what, sizeof(what), name, ctx->snapshot);
	ret = st_vdi_lookup(c, name, ctx->snapshot, &vid, NULL, NULL);
	if (!ret)
		ret = vdi_load(c, vid, &row, 1);
	if (!ret && !row.h.snap_ctime)
		ret = vdi_scan(c, name, 0, &rows, &n, &skipped);
	sd_client_close(c);
	if (ret)
		return st_fail(ctx, ret, "vdi info: %s", what);
	for (size_t i = 0; i < n; i++)
		row.nr_snapshots += rows[i].h.snap_ctime != 0;
	free(rows);
	if (ctx->json) {
		struct json_out j;

		json_out_init(&j, stdout);
		row_json(&j, &row);
		json_out_end(&j);
		return finish_stdout();
	}
	printf("name:           %s\n", printable(row.h.name, buf, sizeof(buf)));
	if (row.h.snap_ctime) {
		printf("snapshot:       yes, id %u%s%s%s, taken %s\n", row.h.snap_id,
		       row.h.tag[0] ? ", tag '" : "", row.h.tag[0] ? printable(row.h.tag, buf, sizeof(buf)) : "",
		       row.h.tag[0] ? "'" : "", time_str(row.h.snap_ctime, t, sizeof(t)));
	} else {
		printf("snapshot:       no (working VDI, %u snapshot%s)\n", row.nr_snapshots,
		       row.nr_snapshots == 1 ? "" : "s");
	}
	printf("vid:            %06x (%u)\n", row.h.vdi_id, row.h.vdi_id);
	if (row.h.parent_vdi_id)
		printf("parent vid:     %06x\n", row.h.parent_vdi_id);
	else
		printf("parent vid:     none\n");
	printf("size:           %s (%llu bytes)\n", units_format_size(row.h.vdi_size, s1, sizeof(s1)),
	       (unsigned long long)row.h.vdi_size);
	printf("used:           %s\n", units_format_size(row.used, s1, sizeof(s1)));
	printf("shared:         %s\n", units_format_size(row.shared, s1, sizeof(s1)));
	printf("object size:    %s (shift %u)\n",
	       units_format_size(UINT64_C(1) << (row.h.block_size_shift & 63), s2, sizeof(s2)),
	       row.h.block_size_shift);
	printf("copies:         %u%s\n", row.h.nr_copies, row.h.copy_policy ? " (erasure coded)" : "");
	printf("created:        %s\n", time_str(row.h.create_time, t, sizeof(t)));
	if (row.h.vm_state_size)
		printf("vm state:       %s\n", units_format_size(row.h.vm_state_size, s1, sizeof(s1)));
	return finish_stdout();
}

/* ------------------------------------------------------------ changes */

int cmd_vdi_create(struct st_ctx *ctx)
{
	const char *name = ctx->argv[0];
	struct sd_vdi_new_args na = { .name = name };
	struct sd_client *c;
	uint64_t size, limit;
	uint8_t shift = SD_DEFAULT_SHIFT, copies = 0;
	uint32_t vid;
	char s1[UNITS_BUF], s2[UNITS_BUF], s3[UNITS_BUF];
	int ret;

	if ((ret = st_check_name(ctx, "NAME", name)) || (ret = st_parse_size(ctx, "SIZE", ctx->argv[1], &size)))
		return ret;
	if (size == 0)
		return st_usage(ctx, "SIZE must be more than 0");
	if (size > UINT64_MAX - 511)
		return st_usage(ctx, "SIZE '%s' is too large", ctx->argv[1]);
	size = (size + 511) & ~UINT64_C(511);       /* QEMU rounds to sectors too */
	if ((ret = st_connect(ctx, &c)))
		return ret;
	/* as QEMU does: the cluster's shift, 22 if it will not say (§7.2) */
	if (sd_cluster_default(c, &copies, NULL, &shift) || shift < SD_MIN_SHIFT || shift > SD_MAX_SHIFT)
		shift = SD_DEFAULT_SHIFT;
	limit = (UINT64_C(1) << shift) * SD_MAX_DATA_OBJS;
	if (size > limit) {
		sd_client_close(c);
		return st_usage(ctx, "SIZE %s is above the limit of %s for %s objects",
				units_format_size(size, s1, sizeof(s1)), units_format_size(limit, s2, sizeof(s2)),
				units_format_size(UINT64_C(1) << shift, s3, sizeof(s3)));
	}
	na.size = size;
	na.copies = (uint8_t)ctx->copies;
	na.block_size_shift = shift;
	ret = sd_vdi_new(c, &na, &vid);
	sd_client_close(c);
	if (ret)
		return st_fail(ctx, ret, "vdi create: cannot create VDI '%s'", name);
	printf("created VDI '%s': vid %06x, %s, %u cop%s\n", name, vid,
	       units_format_size(size, s1, sizeof(s1)), ctx->copies ? ctx->copies : copies,
	       (ctx->copies ? ctx->copies : copies) == 1 ? "y" : "ies");
	return finish_stdout();
}

/* DEL_VDI with a snapshot selector: id first, then the same text as a tag. */
static int delete_sel(struct sd_client *c, const char *name, const char *sel, uint32_t *vid)
{
	int ret;

	if (!sel)
		return sd_vdi_delete(c, name, NULL, 0, vid);
	if (all_digits(sel) && strlen(sel) <= 10) {
		unsigned long long id = strtoull(sel, NULL, 10);

		if (id > 0 && id <= UINT32_MAX) {
			ret = sd_vdi_delete(c, name, NULL, (uint32_t)id, vid);
			if (ret != SD_RES_NO_TAG && ret != SD_RES_NO_VDI)
				return ret;
		}
	}
	return sd_vdi_delete(c, name, sel, 0, vid);
}

int cmd_vdi_delete(struct st_ctx *ctx)
{
	const char *name = ctx->argv[0];
	struct sd_client *c;
	uint32_t vid;
	char what[600];
	int ret;

	if ((ret = st_check_name(ctx, "NAME", name)))
		return ret;
	if ((ret = st_connect(ctx, &c)))
		return ret;
	target_str(what, sizeof(what), name, ctx->snapshot);
	/* unlike QEMU's snapshot delete (§7.10, §0.7), nothing else is touched:
	 * the working VDI's index stays as it is */
	ret = delete_sel(c, name, ctx->snapshot, &vid);
	sd_client_close(c);
	if (ret)
		return st_fail(ctx, ret, "vdi delete: cannot delete %s", what);
	printf("deleted %s (vid %06x)\n", what, vid);
	return finish_stdout();
}

int cmd_vdi_snapshot(struct st_ctx *ctx)
{
	const char *name = ctx->argv[0];
	struct sd_client *c;
	struct sd_disk *d;
	uint32_t vid, snap_id, old_vid;
	int ret;

	if ((ret = st_check_name(ctx, "NAME", name)))
		return ret;
	if (ctx->tag && !*ctx->tag)
		return st_usage(ctx, "--tag is empty");
	if (ctx->tag) {
		/* a second snapshot with the same tag could never be named again */
		if ((ret = st_connect(ctx, &c)))
			return ret;
		ret = sd_vdi_info(c, name, ctx->tag, 0, &vid);
		sd_client_close(c);
		if (!ret)
			return st_error(ST_EXIT_ERROR, "vdi snapshot: VDI '%s' already has a snapshot tagged "
					"'%s' (vid %06x): choose another tag", name, ctx->tag, vid);
		if (ret != SD_RES_NO_TAG && ret != SD_RES_NO_VDI)
			return st_fail(ctx, ret, "vdi snapshot: cannot check the tags of VDI '%s'", name);
	}
	if ((ret = st_disk_open(ctx, name, NULL, &d)))
		return ret;
	old_vid = sd_disk_vid(d);
	snap_id = sd_get32(sd_disk_inode(d) + SD_INODE_OFF_SNAP_ID);
	ret = sd_disk_snapshot(d, ctx->tag, 0, 0);
	vid = sd_disk_vid(d);
	if (ret) {
		sd_disk_close(d);
		return st_fail(ctx, ret, "vdi snapshot: cannot snapshot VDI '%s'", name);
	}
	ret = sd_disk_close(d);
	if (ret)
		return st_fail(ctx, ret, "vdi snapshot: snapshot of VDI '%s' taken, but closing it failed",
			       name);
	printf("snapshot %u%s%s%s of VDI '%s' taken (vid %06x); the VDI goes on as vid %06x\n", snap_id,
	       ctx->tag ? " (tag '" : "", ctx->tag ? ctx->tag : "", ctx->tag ? "')" : "", name, old_vid,
	       vid);
	return finish_stdout();
}

/* The newest snapshot of name, for `clone NAME NEW` without a selector. */
static int newest_snapshot(struct sd_client *c, const char *name, uint32_t *vid)
{
	struct vdi_row *rows;
	size_t n;
	unsigned skipped = 0;
	int ret = vdi_scan(c, name, 0, &rows, &n, &skipped);

	if (ret)
		return ret;
	ret = SD_RES_NO_TAG;
	for (size_t i = n; i-- > 0;) {
		if (rows[i].h.snap_ctime) {
			*vid = rows[i].h.vdi_id;
			ret = 0;
			break;
		}
	}
	if (ret && n == 0)
		ret = SD_RES_NO_VDI;
	free(rows);
	return ret;
}

/* NEW_VDI name from snapshot vid base (a clone, §5.6), with its geometry. */
static int clone_from(struct sd_client *c, const char *name, uint32_t base, const struct vdi_row *b,
		      uint32_t *vid)
{
	struct sd_vdi_new_args na = {
		.name = name, .size = b->h.vdi_size, .base_vid = base, .copies = b->h.nr_copies,
		.copy_policy = b->h.copy_policy, .block_size_shift = b->h.block_size_shift,
	};

	return sd_vdi_new(c, &na, vid);
}

int cmd_vdi_clone(struct st_ctx *ctx)
{
	char src[SD_NAME_LEN + SD_TAG_LEN + 2], what[600];
	const char *sel = ctx->snapshot, *dst = ctx->argv[1];
	struct sd_client *c;
	struct vdi_row base;
	uint32_t svid, vid;
	int ret;

	snprintf(src, sizeof(src), "%s", ctx->argv[0]);
	if (!sel) {
		char *colon = strrchr(src, ':');

		if (colon) {
			*colon = 0;
			sel = colon + 1;
			if (!*sel)
				return st_usage(ctx, "empty snapshot after ':' in '%s'", ctx->argv[0]);
		}
	}
	if ((ret = st_check_name(ctx, "SNAPNAME", src)) || (ret = st_check_name(ctx, "NEWNAME", dst)))
		return ret;
	if ((ret = st_connect(ctx, &c)))
		return ret;
	if (sel) {
		target_str(what, sizeof(what), src, sel);
		ret = st_vdi_lookup(c, src, sel, &svid, NULL, NULL);
	} else {
		snprintf(what, sizeof(what), "the newest snapshot of VDI '%s'", src);
		ret = newest_snapshot(c, src, &svid);
	}
	if (!ret)
		ret = vdi_load(c, svid, &base, 0);
	if (ret) {
		sd_client_close(c);
		return st_fail(ctx, ret, "vdi clone: cannot find %s", what);
	}
	if (!base.h.snap_ctime) {
		sd_client_close(c);
		return st_error(ST_EXIT_ERROR, "vdi clone: %s is not a snapshot (take one with "
				"'sheeptool vdi snapshot')", what);
	}
	ret = clone_from(c, dst, svid, &base, &vid);
	sd_client_close(c);
	if (ret)
		return st_fail(ctx, ret, "vdi clone: cannot create VDI '%s' from %s", dst, what);
	printf("cloned snapshot %u%s%s%s of VDI '%s' (vid %06x) to VDI '%s' (vid %06x)\n", base.h.snap_id,
	       base.h.tag[0] ? " (tag '" : "", base.h.tag, base.h.tag[0] ? "')" : "", src, svid, dst, vid);
	return finish_stdout();
}

/*
 * Rollback, as QEMU's snapshot goto (§7.10 + §7.9): look the snapshot up,
 * delete the working VDI, clone the snapshot under the same name. Unlike
 * QEMU 5.2: DEL_VDI carries no base_vdi_id, and a failed delete stops here
 * instead of silently turning into a rebase; everything is checked before
 * anything is changed.
 */
int cmd_vdi_rollback(struct st_ctx *ctx)
{
	const char *name = ctx->argv[0], *sel = ctx->snapshot;
	struct sd_client *c;
	struct vdi_row snap;
	uint32_t svid, wvid = 0, vid;
	char what[600];
	int ret, have_working;

	if ((ret = st_check_name(ctx, "NAME", name)))
		return ret;
	if (!sel)
		return st_usage(ctx, "vdi rollback needs --snapshot ID|TAG (see 'sheeptool vdi list %s')",
				name);
	target_str(what, sizeof(what), name, sel);
	if ((ret = st_connect(ctx, &c)))
		return ret;
	ret = st_vdi_lookup(c, name, sel, &svid, NULL, NULL);
	if (!ret)
		ret = vdi_load(c, svid, &snap, 0);
	if (!ret && !snap.h.snap_ctime)
		ret = SD_RES_NO_TAG;
	if (ret) {
		sd_client_close(c);
		return st_fail(ctx, ret, "vdi rollback: cannot find %s", what);
	}
	ret = sd_vdi_info(c, name, NULL, 0, &wvid);
	have_working = ret == 0;
	if (ret && ret != SD_RES_NO_VDI) {
		sd_client_close(c);
		return st_fail(ctx, ret, "vdi rollback: cannot look up VDI '%s'", name);
	}
	if (have_working) {
		ret = sd_vdi_delete(c, name, NULL, 0, NULL);
		if (ret && ret != SD_RES_NO_VDI) {
			sd_client_close(c);
			return st_fail(ctx, ret, "vdi rollback: cannot replace VDI '%s' (nothing was changed)",
				       name);
		}
	}
	ret = clone_from(c, name, svid, &snap, &vid);
	sd_client_close(c);
	if (ret) {
		st_fail(ctx, ret, "vdi rollback: the working VDI '%s' was deleted but recreating it from "
			"%s failed", name, what);
		fprintf(stderr, "sheeptool: hint: the snapshot is intact; retry with "
			"'sheeptool vdi clone %s:%s %s'\n", name, sel, name);
		return st_exit_code(ret);
	}
	if (have_working)
		printf("rolled VDI '%s' back to snapshot '%s': vid %06x replaced by vid %06x\n", name, sel,
		       wvid, vid);
	else
		printf("recreated VDI '%s' from %s as vid %06x\n", name, what, vid);
	return finish_stdout();
}

int cmd_vdi_resize(struct st_ctx *ctx)
{
	const char *name = ctx->argv[0];
	struct sd_disk *d;
	uint64_t size, old, limit;
	char s1[UNITS_BUF], s2[UNITS_BUF];
	int ret;

	if ((ret = st_check_name(ctx, "NAME", name)) || (ret = st_parse_size(ctx, "SIZE", ctx->argv[1], &size)))
		return ret;
	if (size > UINT64_MAX - 511)
		return st_usage(ctx, "SIZE '%s' is too large", ctx->argv[1]);
	size = (size + 511) & ~UINT64_C(511);
	if ((ret = st_disk_open(ctx, name, NULL, &d)))
		return ret;
	old = sd_disk_size(d);
	limit = (uint64_t)sd_disk_obj_size(d) * SD_MAX_DATA_OBJS;
	if (size < old) {
		sd_disk_close(d);
		return st_usage(ctx, "SIZE %s is smaller than VDI '%s' (%s): shrinking is not supported",
				units_format_size(size, s1, sizeof(s1)), name,
				units_format_size(old, s2, sizeof(s2)));
	}
	if (size > limit) {
		sd_disk_close(d);
		return st_usage(ctx, "SIZE %s is above the limit of %s for this VDI's object size",
				units_format_size(size, s1, sizeof(s1)), units_format_size(limit, s2, sizeof(s2)));
	}
	ret = size == old ? 0 : sd_disk_resize(d, size);
	if (ret) {
		sd_disk_close(d);
		return st_fail(ctx, ret, "vdi resize: cannot resize VDI '%s'", name);
	}
	ret = sd_disk_close(d);
	if (ret)
		return st_fail(ctx, ret, "vdi resize: VDI '%s' resized, but closing it failed", name);
	printf("VDI '%s' is now %s (was %s)\n", name, units_format_size(size, s1, sizeof(s1)),
	       units_format_size(old, s2, sizeof(s2)));
	return finish_stdout();
}

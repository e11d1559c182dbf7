/*
 * locks_list.c: store_list_locks() for SM_LOCKS (`sheeptool vdi lock list`).
 *
 * "lock" is keyed by vid like "vdi", but meta.h has no cursor over it, so
 * this walks the catalog and asks for each vid's lock inside the same read
 * txn: O(VDI records) point lookups, fine for a listing an operator asks
 * for (a meta_lock_foreach would make it O(locks)). Deleted VDIs are
 * skipped: DEL_VDI drops their lock in the same txn (vdi.c).
 */
#include "store/store_int.h"

#include <errno.h>
#include <string.h>

struct locks_scan {
	struct meta_txn *t;
	int (*cb)(void *ctx, const struct store_lock_info *l);
	void *ctx;
	int err;
};

static int locks_scan_vdi(void *arg, const struct meta_vdi *v)
{
	struct locks_scan *ls = arg;
	struct store_lock_info info;
	struct meta_lock l;
	int r;

	if (v->deleted)
		return 0;
	r = meta_lock_get(ls->t, v->vid, &l);
	if (r == -ENOENT)
		return 0;
	if (r) {
		ls->err = r;
		return 1;
	}
	memset(&info, 0, sizeof(info));
	info.vid = v->vid;
	memcpy(info.name, v->name, SD_NAME_LEN);
	memcpy(info.tag, v->tag, SD_TAG_LEN);
	info.snap_id = v->snap_id;
	info.is_snapshot = v->snap_ctime != 0;
	info.type = l.type;
	info.holders = l.count;
	info.time = l.time;
	return ls->cb(ls->ctx, &info) ? 1 : 0;
}

int store_list_locks(struct store *st, int (*cb)(void *ctx, const struct store_lock_info *l),
		     void *ctx)
{
	struct locks_scan ls = { .cb = cb, .ctx = ctx };
	int r = meta_txn_begin(st->meta, 0, &ls.t);

	if (r)
		return r;
	r = meta_vdi_foreach(ls.t, locks_scan_vdi, &ls);
	meta_txn_abort(ls.t);
	return r ? r : ls.err;
}

int store_locks_enforced(const struct store *st)
{
	return st->cfg.enforce_locks != 0;
}

/* locks_repl.c: a VDI's lock record read and applied as a whole, so the
 * catalog leader can give its locks to every node (store.h, "lock
 * replication"): a node that becomes leader then holds them already. */
#include "store/store_int.h"

#include <errno.h>
#include <string.h>

int store_lock_state(struct store *st, uint32_t vid, struct store_lock_state *out)
{
	struct meta_txn *t;
	struct meta_lock l;

	memset(out, 0, sizeof(*out));
	out->vid = vid;
	int r = meta_txn_begin(st->meta, 0, &t);
	if (r)
		return r;
	r = meta_lock_get(t, vid, &l);
	meta_txn_abort(t);
	if (r == -ENOENT)
		return 0;               /* not locked */
	if (r)
		return r;
	out->held = 1;
	out->type = l.type;
	out->count = l.count;
	out->time = l.time;
	return 0;
}

int store_lock_apply(struct store *st, const struct store_lock_state *s)
{
	struct meta_txn *t;

	if (s->vid == 0 || s->vid > SD_VID_MASK || (s->held && (s->type > 1 || s->count == 0)))
		return -EINVAL;
	int r = meta_txn_begin(st->meta, 1, &t);
	if (r)
		return r;
	if (s->held) {
		struct meta_lock l = { .vid = s->vid, .type = s->type, .count = s->count, .time = s->time };
		r = meta_lock_put(t, &l);
	} else {
		r = meta_lock_del(t, s->vid);
		if (r == -ENOENT)
			r = 0;
	}
	if (r) {
		meta_txn_abort(t);
		return r;
	}
	return meta_txn_commit(t);
}

/*
 * meta.c: the LMDB side of meta.h (environment, transactions, record
 * get/put, the object-index group commit). Codecs live in meta_codec.c.
 *
 * Keys are big-endian so LMDB's default memcmp ordering is numeric order:
 * meta_vdi_next and the cursor ranges of meta_obj_del_vid rely on it.
 *
 * Group commit (meta_obj_commit): the write path calls it once per object
 * write; an fsync per call would cap us at the disk's sync rate, so callers
 * that arrive while a commit is in flight are gathered in one "pending"
 * batch and committed together by one of them (the leader). Invariants,
 * all under m->mu:
 *   - at most one batch is being committed (m->committing);
 *   - new callers only ever join m->pending, the batch that will be
 *     committed next, so nobody waits longer than the commit in flight
 *     plus its own (no starvation);
 *   - a caller waits on the condvar only after checking, under the mutex,
 *     that it cannot lead and its batch is not done; the leader changes
 *     that state and broadcasts under the same mutex (no lost wakeup);
 *   - a batch is freed by the last of its callers to leave (refs).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "store/meta.h"
#include "store/meta_int.h"
#include "sheepdog_proto.h"

/* Virtual address space only; LMDB grows the file as needed. */
#define META_MAPSIZE (sizeof(size_t) >= 8 ? (size_t)64 << 30 : (size_t)1 << 30)

struct commit_batch {
	struct meta_obj *objs;
	size_t n, cap;
	unsigned refs;              /* callers still holding the batch */
	int done;
	int status;
};

struct meta {
	MDB_env *env;
	MDB_dbi vdi, lock, obj, misc, ring;
	pthread_mutex_t mu;         /* group commit state below */
	pthread_cond_t cv;
	struct commit_batch *pending;
	int committing;
	uint64_t commit_txns;       /* group-commit txns committed (stats/tests) */
};

struct meta_txn {
	struct meta *m;
	MDB_txn *txn;
};

/* LMDB's own codes are negative and outside errno's range. */
static int mdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS: return 0;
	case MDB_NOTFOUND: return -ENOENT;
	case MDB_KEYEXIST: return -EEXIST;
	case MDB_MAP_FULL: case MDB_TXN_FULL: case MDB_DBS_FULL: return -ENOSPC;
	case MDB_READERS_FULL: return -EAGAIN;
	case MDB_CORRUPTED: case MDB_PAGE_NOTFOUND: case MDB_INVALID:
	case MDB_VERSION_MISMATCH: return -EBADMSG;
	case MDB_MAP_RESIZED: case MDB_BAD_RSLOT: case MDB_BAD_TXN:
	case MDB_BAD_VALSIZE: case MDB_BAD_DBI: case MDB_INCOMPATIBLE:
		return -EINVAL;
	default: return rc > 0 ? -rc : -EIO;
	}
}

static void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint32_t be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void be64_put(uint8_t *p, uint64_t v)
{
	be32_put(p, (uint32_t)(v >> 32));
	be32_put(p + 4, (uint32_t)v);
}

static uint64_t be64_get(const uint8_t *p)
{
	return (uint64_t)be32_get(p) << 32 | be32_get(p + 4);
}

static int mkdir_p(const char *dir)
{
	char *p = strdup(dir);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

int meta_open(struct meta **out, const char *dir)
{
	struct meta *m;
	MDB_txn *txn = NULL;
	int rc;

	*out = NULL;
	if (!dir || !*dir)
		return -EINVAL;
	rc = mkdir_p(dir);
	if (rc)
		return rc;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	rc = mdb_err(mdb_env_create(&m->env));
	if (rc) {
		free(m);
		return rc;
	}
	if ((rc = mdb_err(mdb_env_set_maxdbs(m->env, 8))) ||
	    (rc = mdb_err(mdb_env_set_mapsize(m->env, META_MAPSIZE))) ||
	    (rc = mdb_err(mdb_env_set_maxreaders(m->env, 256))) ||
	    (rc = mdb_err(mdb_env_open(m->env, dir, MDB_NOTLS, 0644))) ||
	    (rc = mdb_err(mdb_txn_begin(m->env, NULL, 0, &txn))))
		goto fail;
	if ((rc = mdb_err(mdb_dbi_open(txn, "vdi", MDB_CREATE, &m->vdi))) ||
	    (rc = mdb_err(mdb_dbi_open(txn, "lock", MDB_CREATE, &m->lock))) ||
	    (rc = mdb_err(mdb_dbi_open(txn, "obj", MDB_CREATE, &m->obj))) ||
	    (rc = mdb_err(mdb_dbi_open(txn, "misc", MDB_CREATE, &m->misc))) ||
	    (rc = mdb_err(mdb_dbi_open(txn, "ring", MDB_CREATE, &m->ring)))) {
		mdb_txn_abort(txn);
		goto fail;
	}
	rc = mdb_err(mdb_txn_commit(txn));
	if (rc)
		goto fail;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	*out = m;
	return 0;
fail:
	mdb_env_close(m->env);
	free(m);
	return rc;
}

void meta_close(struct meta *m)
{
	if (!m)
		return;
	mdb_env_sync(m->env, 1);
	mdb_env_close(m->env);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m->pending);   /* only non-NULL if a caller misused close */
	free(m);
}

int meta_txn_begin(struct meta *m, int write, struct meta_txn **out)
{
	struct meta_txn *t = malloc(sizeof(*t));
	int rc;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->m = m;
	rc = mdb_err(mdb_txn_begin(m->env, NULL, write ? 0 : MDB_RDONLY, &t->txn));
	if (rc) {
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int meta_txn_commit(struct meta_txn *t)
{
	int rc = mdb_err(mdb_txn_commit(t->txn));

	free(t);
	return rc;
}

void meta_txn_abort(struct meta_txn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

/* --- generic helpers over (dbi, key bytes) --- */

static int rec_get(struct meta_txn *t, MDB_dbi dbi, void *kp, size_t klen, MDB_val *v)
{
	MDB_val k = { .mv_size = klen, .mv_data = kp };

	return mdb_err(mdb_get(t->txn, dbi, &k, v));
}

/* Puts an encoded record (takes ownership of buf). */
static int rec_put(struct meta_txn *t, MDB_dbi dbi, void *kp, size_t klen, int enc_rc,
		   void *buf, size_t len)
{
	MDB_val k = { .mv_size = klen, .mv_data = kp };
	MDB_val v = { .mv_size = len, .mv_data = buf };
	int rc;

	if (enc_rc)
		return enc_rc;
	rc = mdb_err(mdb_put(t->txn, dbi, &k, &v, 0));
	free(buf);
	return rc;
}

static int rec_del(struct meta_txn *t, MDB_dbi dbi, void *kp, size_t klen)
{
	MDB_val k = { .mv_size = klen, .mv_data = kp };

	return mdb_err(mdb_del(t->txn, dbi, &k, NULL));
}

/* --- vdi --- */

int meta_vdi_get(struct meta_txn *t, uint32_t vid, struct meta_vdi *out)
{
	uint8_t k[4];
	MDB_val v;
	int rc;

	be32_put(k, vid);
	rc = rec_get(t, t->m->vdi, k, sizeof(k), &v);
	if (rc)
		return rc;
	rc = meta_vdi_decode(v.mv_data, v.mv_size, out);
	if (rc == 0 && out->vid != vid)
		rc = -EBADMSG;      /* record filed under the wrong key */
	return rc;
}

int meta_vdi_put(struct meta_txn *t, const struct meta_vdi *v)
{
	uint8_t k[4];
	void *buf = NULL;
	size_t len = 0;
	int rc = meta_vdi_encode(v, &buf, &len);

	be32_put(k, v->vid);
	return rec_put(t, t->m->vdi, k, sizeof(k), rc, buf, len);
}

int meta_vdi_next(struct meta_txn *t, uint32_t from, uint32_t *vid)
{
	uint8_t kb[4];
	MDB_val k = { .mv_size = sizeof(kb), .mv_data = kb }, v;
	MDB_cursor *c;
	int rc;

	be32_put(kb, from);
	rc = mdb_err(mdb_cursor_open(t->txn, t->m->vdi, &c));
	if (rc)
		return rc;
	rc = mdb_err(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE));
	if (rc == 0) {
		if (k.mv_size != 4)
			rc = -EBADMSG;
		else
			*vid = be32_get(k.mv_data);
	}
	mdb_cursor_close(c);
	return rc;
}

int meta_vdi_foreach(struct meta_txn *t, int (*cb)(void *ctx, const struct meta_vdi *v), void *ctx)
{
	MDB_val k, v;
	MDB_cursor *c;
	struct meta_vdi rec;
	int rc;

	rc = mdb_err(mdb_cursor_open(t->txn, t->m->vdi, &c));
	if (rc)
		return rc;
	for (rc = mdb_err(mdb_cursor_get(c, &k, &v, MDB_FIRST)); rc == 0;
	     rc = mdb_err(mdb_cursor_get(c, &k, &v, MDB_NEXT))) {
		rc = meta_vdi_decode(v.mv_data, v.mv_size, &rec);
		if (rc == 0 && (k.mv_size != 4 || be32_get(k.mv_data) != rec.vid))
			rc = -EBADMSG;
		if (rc || cb(ctx, &rec))
			break;
	}
	mdb_cursor_close(c);
	return rc == -ENOENT ? 0 : rc;
}

/* --- lock --- */

int meta_lock_get(struct meta_txn *t, uint32_t vid, struct meta_lock *out)
{
	uint8_t k[4];
	MDB_val v;
	int rc;

	be32_put(k, vid);
	rc = rec_get(t, t->m->lock, k, sizeof(k), &v);
	if (rc)
		return rc;
	rc = meta__lock_decode(v.mv_data, v.mv_size, out);
	if (rc == 0 && out->vid != vid)
		rc = -EBADMSG;
	return rc;
}

int meta_lock_put(struct meta_txn *t, const struct meta_lock *l)
{
	uint8_t k[4];
	void *buf = NULL;
	size_t len = 0;
	int rc = meta__lock_encode(l, &buf, &len);

	be32_put(k, l->vid);
	return rec_put(t, t->m->lock, k, sizeof(k), rc, buf, len);
}

int meta_lock_del(struct meta_txn *t, uint32_t vid)
{
	uint8_t k[4];

	be32_put(k, vid);
	return rec_del(t, t->m->lock, k, sizeof(k));
}

/* --- obj --- */

int meta_obj_get(struct meta_txn *t, uint64_t oid, struct meta_obj *out)
{
	uint8_t k[8];
	MDB_val v;
	int rc;

	be64_put(k, oid);
	rc = rec_get(t, t->m->obj, k, sizeof(k), &v);
	if (rc)
		return rc;
	rc = meta_obj_decode(v.mv_data, v.mv_size, out);
	if (rc == 0 && out->oid != oid)
		rc = -EBADMSG;
	return rc;
}

static int obj_put_txn(MDB_txn *txn, MDB_dbi dbi, const struct meta_obj *o)
{
	uint8_t kb[8];
	void *buf = NULL;
	size_t len = 0;
	int rc = meta_obj_encode(o, &buf, &len);
	MDB_val k = { .mv_size = sizeof(kb), .mv_data = kb };
	MDB_val v;

	if (rc)
		return rc;
	be64_put(kb, o->oid);
	v.mv_size = len;
	v.mv_data = buf;
	rc = mdb_err(mdb_put(txn, dbi, &k, &v, 0));
	free(buf);
	return rc;
}

int meta_obj_put(struct meta_txn *t, const struct meta_obj *o)
{
	return obj_put_txn(t->txn, t->m->obj, o);
}

int meta_obj_del(struct meta_txn *t, uint64_t oid)
{
	uint8_t k[8];

	be64_put(k, oid);
	return rec_del(t, t->m->obj, k, sizeof(k));
}

/* Kind bits (56-63) sit above the vid, so one vid's objects form one key
 * range per kind value; we visit all 256 (a seek each, cheap) rather than
 * hard-code today's kinds. */
int meta_obj_del_vid(struct meta_txn *t, uint32_t vid)
{
	MDB_cursor *c;
	int rc;

	if (vid > SD_VID_MASK)
		return -EINVAL;
	rc = mdb_err(mdb_cursor_open(t->txn, t->m->obj, &c));
	if (rc)
		return rc;
	for (unsigned kind = 0; kind < 256 && rc == 0; kind++) {
		uint64_t lo = (uint64_t)kind << 56 | (uint64_t)vid << SD_VID_SHIFT;
		uint64_t hi = lo | UINT32_MAX;
		uint8_t kb[8];
		MDB_val k = { .mv_size = sizeof(kb), .mv_data = kb }, v;

		be64_put(kb, lo);
		/* MDB_NEXT right after mdb_cursor_del yields the record that
		 * followed the deleted one (LMDB's documented idiom) */
		for (rc = mdb_err(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)); rc == 0;
		     rc = mdb_err(mdb_cursor_get(c, &k, &v, MDB_NEXT))) {
			if (k.mv_size != 8 || be64_get(k.mv_data) > hi)
				break;
			rc = mdb_err(mdb_cursor_del(c, 0));
			if (rc)
				break;
		}
		if (rc == -ENOENT)
			rc = 0;     /* ran off the end of the database */
	}
	mdb_cursor_close(c);
	return rc;
}

int meta_obj_scan(struct meta_txn *t, uint64_t from, struct meta_obj *out, size_t max, size_t *n)
{
	uint8_t kb[8];
	MDB_val k = { .mv_size = sizeof(kb), .mv_data = kb }, v;
	MDB_cursor *c;
	size_t got = 0;
	int rc;

	*n = 0;
	if (!max)
		return 0;
	be64_put(kb, from);
	rc = mdb_err(mdb_cursor_open(t->txn, t->m->obj, &c));
	if (rc)
		return rc;
	for (rc = mdb_err(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)); rc == 0 && got < max;
	     rc = mdb_err(mdb_cursor_get(c, &k, &v, MDB_NEXT))) {
		rc = meta_obj_decode(v.mv_data, v.mv_size, &out[got]);
		if (rc == 0 && (k.mv_size != 8 || be64_get(k.mv_data) != out[got].oid))
			rc = -EBADMSG;      /* record filed under the wrong key */
		if (rc)
			break;
		got++;
	}
	mdb_cursor_close(c);
	if (rc == -ENOENT)
		rc = 0;
	if (rc == 0)
		*n = got;
	return rc;
}

int meta_obj_count(struct meta_txn *t, uint64_t *count, uint64_t *bytes)
{
	MDB_val k, v;
	MDB_cursor *c;
	struct meta_obj o;
	uint64_t n = 0, b = 0;
	int rc;

	rc = mdb_err(mdb_cursor_open(t->txn, t->m->obj, &c));
	if (rc)
		return rc;
	for (rc = mdb_err(mdb_cursor_get(c, &k, &v, MDB_FIRST)); rc == 0;
	     rc = mdb_err(mdb_cursor_get(c, &k, &v, MDB_NEXT))) {
		rc = meta_obj_decode(v.mv_data, v.mv_size, &o);
		if (rc)
			break;
		n++;
		b += o.size;
	}
	mdb_cursor_close(c);
	if (rc == -ENOENT)
		rc = 0;
	if (rc == 0) {
		*count = n;
		*bytes = b;
	}
	return rc;
}

/* --- misc --- */

int meta_misc_get_u64(struct meta_txn *t, const char *key, uint64_t *out)
{
	MDB_val v;
	int rc;

	if (!key || !*key)
		return -EINVAL;
	rc = rec_get(t, t->m->misc, (void *)key, strlen(key), &v);
	if (rc)
		return rc;
	return meta__u64_decode(v.mv_data, v.mv_size, out);
}

static int misc_put_txn(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t val)
{
	MDB_val k = { .mv_size = strlen(key), .mv_data = (void *)key };
	MDB_val v;
	void *buf = NULL;
	size_t len = 0;
	int rc = meta__u64_encode(val, &buf, &len);

	if (rc)
		return rc;
	v.mv_size = len;
	v.mv_data = buf;
	rc = mdb_err(mdb_put(txn, dbi, &k, &v, 0));
	free(buf);
	return rc;
}

int meta_misc_put_u64(struct meta_txn *t, const char *key, uint64_t v)
{
	if (!key || !*key)
		return -EINVAL;
	return misc_put_txn(t->txn, t->m->misc, key, v);
}

int meta_misc_get_raw(struct meta_txn *t, const char *key, const void **val, size_t *vlen)
{
	MDB_val v;
	int rc;

	if (!key || !*key)
		return -EINVAL;
	rc = rec_get(t, t->m->misc, (void *)key, strlen(key), &v);
	if (rc == 0) {
		*val = v.mv_data;
		*vlen = v.mv_size;
	}
	return rc;
}

int meta_misc_put_raw(struct meta_txn *t, const char *key, const void *val, size_t vlen)
{
	MDB_val k, v = { .mv_size = vlen, .mv_data = (void *)val };

	if (!key || !*key)
		return -EINVAL;
	k.mv_size = strlen(key);
	k.mv_data = (void *)key;
	return mdb_err(mdb_put(t->txn, t->m->misc, &k, &v, 0));
}

int meta_misc_del(struct meta_txn *t, const char *key)
{
	if (!key || !*key)
		return -EINVAL;
	return rec_del(t, t->m->misc, (void *)key, strlen(key));
}

/* --- ring (raw records; format owned by ring_hist.c) --- */

int meta_ring_get(struct meta_txn *t, const void *key, size_t klen, const void **val, size_t *vlen)
{
	MDB_val v;
	int rc = rec_get(t, t->m->ring, (void *)key, klen, &v);

	if (rc == 0) {
		*val = v.mv_data;
		*vlen = v.mv_size;
	}
	return rc;
}

int meta_ring_put(struct meta_txn *t, const void *key, size_t klen, const void *val, size_t vlen)
{
	MDB_val k = { .mv_size = klen, .mv_data = (void *)key };
	MDB_val v = { .mv_size = vlen, .mv_data = (void *)val };

	return mdb_err(mdb_put(t->txn, t->m->ring, &k, &v, 0));
}

int meta_ring_del(struct meta_txn *t, const void *key, size_t klen)
{
	return rec_del(t, t->m->ring, (void *)key, klen);
}

int meta_ring_foreach(struct meta_txn *t,
		      int (*cb)(void *ctx, const void *k, size_t klen, const void *v, size_t vlen),
		      void *ctx)
{
	MDB_val k, v;
	MDB_cursor *c;
	int rc;

	rc = mdb_err(mdb_cursor_open(t->txn, t->m->ring, &c));
	if (rc)
		return rc;
	for (rc = mdb_err(mdb_cursor_get(c, &k, &v, MDB_FIRST)); rc == 0;
	     rc = mdb_err(mdb_cursor_get(c, &k, &v, MDB_NEXT))) {
		int r = cb(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size);

		if (r) {
			mdb_cursor_close(c);
			return r > 0 ? 0 : r;   /* > 0: stop early, not an error */
		}
	}
	mdb_cursor_close(c);
	return rc == -ENOENT ? 0 : rc;  /* ran off the end */
}

/* --- group commit --- */

/* One write txn for a whole batch: the puts, then "seq" raised. */
static int commit_batch_apply(struct meta *m, const struct commit_batch *b)
{
	struct meta_txn t = { .m = m, .txn = NULL };
	uint64_t max = 0, seq = 0;
	int rc;

	rc = mdb_err(mdb_txn_begin(m->env, NULL, 0, &t.txn));
	if (rc)
		return rc;
	for (size_t i = 0; i < b->n && rc == 0; i++) {
		rc = obj_put_txn(t.txn, m->obj, &b->objs[i]);
		if (b->objs[i].version > max)
			max = b->objs[i].version;
	}
	if (rc == 0) {
		rc = meta_misc_get_u64(&t, "seq", &seq);
		if (rc == -ENOENT) {
			seq = 0;
			rc = 0;
		}
	}
	if (rc == 0 && max > seq)
		rc = misc_put_txn(t.txn, m->misc, "seq", max);
	if (rc) {
		mdb_txn_abort(t.txn);
		return rc;
	}
	return mdb_err(mdb_txn_commit(t.txn));
}

static int batch_append(struct commit_batch *b, const struct meta_obj *objs, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 16;
		while (cap < b->n + n)
			cap *= 2;
		struct meta_obj *p = realloc(b->objs, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		b->objs = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->objs + b->n, objs, n * sizeof(*objs));
	b->n += n;
	return 0;
}

static void batch_put(struct commit_batch *b)
{
	if (--b->refs == 0) {
		free(b->objs);
		free(b);
	}
}

int meta_obj_commit(struct meta *m, const struct meta_obj *objs, size_t n)
{
	struct commit_batch *b;
	int rc;

	pthread_mutex_lock(&m->mu);
	b = m->pending;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b) {
			pthread_mutex_unlock(&m->mu);
			return -ENOMEM;
		}
		m->pending = b;
	}
	rc = batch_append(b, objs, n);
	if (rc) {
		if (b->refs == 0) {     /* we created it and nobody joined */
			m->pending = NULL;
			free(b->objs);
			free(b);
		}
		pthread_mutex_unlock(&m->mu);
		return rc;
	}
	b->refs++;
	while (!b->done) {
		if (m->pending == b && !m->committing) {
			/* lead: close the batch to newcomers and commit it */
			m->pending = NULL;
			m->committing = 1;
			pthread_mutex_unlock(&m->mu);
			rc = commit_batch_apply(m, b);
			pthread_mutex_lock(&m->mu);
			m->committing = 0;
			m->commit_txns++;
			b->status = rc;
			b->done = 1;
			/* wakes our followers and the next batch's would-be leader */
			pthread_cond_broadcast(&m->cv);
			break;
		}
		pthread_cond_wait(&m->cv, &m->mu);
	}
	rc = b->status;
	batch_put(b);
	pthread_mutex_unlock(&m->mu);
	return rc;
}

uint64_t meta_obj_commit_txns(struct meta *m)
{
	uint64_t n;

	pthread_mutex_lock(&m->mu);
	n = m->commit_txns;
	pthread_mutex_unlock(&m->mu);
	return n;
}

/* view.c: see view.h. */
#include "node/view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int node_views_init(struct node_views *vs)
{
	pthread_condattr_t ca;

	memset(vs, 0, sizeof(*vs));
	if (pthread_mutex_init(&vs->mu, NULL))
		return -ENOMEM;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(&vs->changed, &ca);
	pthread_condattr_destroy(&ca);
	if (rc) {
		pthread_mutex_destroy(&vs->mu);
		return -ENOMEM;
	}
	return 0;
}

struct node_shared_ring *node_shared_ring_new(struct ring *ring)
{
	struct node_shared_ring *sr = malloc(sizeof(*sr));

	if (!sr) {
		ring_free(ring);
		return NULL;
	}
	atomic_init(&sr->refs, 1);
	sr->ring = ring;
	return sr;
}

void node_shared_ring_put(struct node_shared_ring *sr)
{
	if (sr && atomic_fetch_sub(&sr->refs, 1) == 1) {
		ring_free(sr->ring);
		free(sr);
	}
}

static void view_free(struct node_view *v)
{
	node_shared_ring_put(v->sr);
	free(v);
}

void node_view_put(struct node_view *v)
{
	if (v && atomic_fetch_sub(&v->refs, 1) == 1) {
		node_view_put(v->prev);
		view_free(v);
	}
}

void node_views_fini(struct node_views *vs)
{
	node_view_put(vs->cur);
	vs->cur = NULL;
	pthread_cond_destroy(&vs->changed);
	pthread_mutex_destroy(&vs->mu);
}

int node_views_publish(struct node_views *vs, struct node_shared_ring *sr, const uint8_t digest[RING_DIGEST_LEN],
		       uint64_t scalar, const struct node_view_member *members,
		       const uint8_t self_id[RING_ID_LEN])
{
	struct ring *ring = sr->ring;
	size_t nr = ring_nr_nodes(ring);
	struct node_view *v = calloc(1, sizeof(*v) + nr * sizeof(v->m[0]));

	if (!v)
		return -ENOMEM;
	atomic_init(&v->refs, 1);
	atomic_fetch_add(&sr->refs, 1);
	v->sr = sr;
	v->ring = ring;
	memcpy(v->digest, digest, RING_DIGEST_LEN);
	v->scalar = scalar;
	v->nr = (uint32_t)nr;
	memcpy(v->m, members, nr * sizeof(v->m[0]));
	int s = ring_find(ring, self_id);
	v->self = s < 0 ? -1 : s;
	v->leader = 0;          /* ring node indices are in id order */

	pthread_mutex_lock(&vs->mu);
	struct node_view *old = vs->cur;
	if (old) {
		/* keep one level of history: drop old's own prev */
		struct node_view *oprev = old->prev;
		old->prev = NULL;
		node_view_put(oprev);
	}
	v->prev = old;          /* the reference vs held moves to v */
	vs->cur = v;
	vs->seq++;
	pthread_cond_broadcast(&vs->changed);
	pthread_mutex_unlock(&vs->mu);
	return 0;
}

struct node_view *node_views_get(struct node_views *vs)
{
	pthread_mutex_lock(&vs->mu);
	struct node_view *v = vs->cur;
	if (v)
		atomic_fetch_add(&v->refs, 1);
	pthread_mutex_unlock(&vs->mu);
	return v;
}

struct node_view *node_views_wait(struct node_views *vs, const struct node_view *than,
				  unsigned timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&vs->mu);
	while (vs->cur == than) {
		if (pthread_cond_timedwait(&vs->changed, &vs->mu, &ts) == ETIMEDOUT)
			break;
	}
	struct node_view *v = vs->cur;
	if (v)
		atomic_fetch_add(&v->refs, 1);
	pthread_mutex_unlock(&vs->mu);
	return v;
}

int node_view_locate(const struct node_view *v, uint64_t oid, unsigned copies, uint32_t *out)
{
	if (copies == 0)
		copies = 3;
	if (copies > RING_MAX_COPIES)
		copies = RING_MAX_COPIES;
	return ring_locate(v->ring, ring_oid_hash(oid), copies, out);
}

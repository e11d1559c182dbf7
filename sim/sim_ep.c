/*
 * sim/sim_ep.c: every node's struct epoch (gossip/epoch.h), fed as a real
 * node would: its own join (IN at its generation) and leave (OUT), and
 * each SWIM DEAD it sees (OUT at the dead member's generation).  Nodes
 * sync as the adapter would: the epoch digest rides on every packet
 * (swim_set_digest), swim reports a mismatch (on_digest, at most once per
 * sender per period) and the node pulls that member's epoch, arriving one
 * round trip later, and merges it.  (Without the digest API in swim.h the
 * pull is modelled as instant on every packet with a different epoch.)
 *
 * Memory: epochs are interned by digest and shared copy-on-write (N
 * copies of a 10,000-entry epoch would be 5.6 GB); a node's epoch is
 * replaced, never changed in place.  Converged = one distinct epoch among
 * live nodes.  At each convergence on a new ring-defining state the ring
 * is rebuilt and a fixed sample of objects placed (3 copies) to measure
 * movement against the ideal and the load spread.
 */
#include "sim/sim_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SIM_COPIES 3

struct sim_ep {
	struct epoch   e;
	uint8_t        dg[EPOCH_DIGEST_LEN];
	uint32_t       refs, up_refs;
	struct sim_ep *next;           /* hash chain */
};

static uint32_t sim_ep_slot(const struct sim *s, const uint8_t *dg)
{
	uint32_t h;

	memcpy(&h, dg, sizeof(h));
	return h & (s->ep_cap - 1);
}

static struct sim_ep *sim_ep_alloc(void)
{
	struct sim_ep *p = calloc(1, sizeof(*p));

	if (p)
		epoch_init(&p->e);
	return p;
}

static void sim_ep_destroy(struct sim_ep *p)
{
	epoch_fini(&p->e);
	free(p);
}

/* the shared copy equal to fresh (fresh is consumed) */
static struct sim_ep *sim_ep_intern(struct sim *s, struct sim_ep *fresh)
{
	struct sim_ep **b, *p;

	epoch_digest(&fresh->e, fresh->dg);
	b = &s->eptab[sim_ep_slot(s, fresh->dg)];
	for (p = *b; p; p = p->next)
		if (!memcmp(p->dg, fresh->dg, EPOCH_DIGEST_LEN)) {
			sim_ep_destroy(fresh);
			return p;
		}
	fresh->next = *b;
	*b = fresh;
	s->ep_n++;
	return fresh;
}

static void sim_ep_unlink(struct sim *s, struct sim_ep *x)
{
	struct sim_ep **b = &s->eptab[sim_ep_slot(s, x->dg)];

	while (*b && *b != x)
		b = &(*b)->next;
	if (*b)
		*b = x->next;
	s->ep_n--;
	sim_ep_destroy(x);
}

static void sim_ep_ring_figures(struct sim *s, const struct epoch *e, uint64_t converge_ms);

static void sim_ep_converge_check(struct sim *s)
{
	if (s->ep_distinct > s->ep_max_distinct)
		s->ep_max_distinct = s->ep_distinct;
	if (s->ep_distinct > 1 && s->ep_diverged == UINT64_MAX) {
		s->ep_diverged = s->now;
	} else if (s->ep_distinct == 1 && s->ep_diverged != UINT64_MAX) {
		for (uint32_t i = 0; i < s->n; i++)
			if (s->nodes[i].up) {
				sim_ep_ring_figures(s, &s->nodes[i].ep->e, s->now - s->ep_diverged);
				break;
			}
		s->ep_diverged = UINT64_MAX;
	}
}

static void sim_ep_up_inc(struct sim *s, struct sim_ep *p)
{
	if (p->up_refs++ == 0)
		s->ep_distinct++;
}

static void sim_ep_up_dec(struct sim *s, struct sim_ep *p)
{
	if (--p->up_refs == 0)
		s->ep_distinct--;
}

/* nodes whose epoch counts for convergence: live and not leaving */
static int sim_ep_counted(const struct sim_node *nd)
{
	return nd->up && !nd->leaving;
}

static void sim_ep_set(struct sim *s, struct sim_node *nd, struct sim_ep *p)
{
	struct sim_ep *old = nd->ep;

	if (old == p)
		return;
	p->refs++;
	if (sim_ep_counted(nd))
		sim_ep_up_inc(s, p);
	nd->ep = p;
	nd->dg_dirty = 1;
	if (old) {
		if (sim_ep_counted(nd))
			sim_ep_up_dec(s, old);
		if (--old->refs == 0)
			sim_ep_unlink(s, old);
	}
	sim_ep_converge_check(s);
}

void sim__ep_node_up(struct sim *s, struct sim_node *nd, int up)
{
	if (!s->ring || !s->eptab)
		return;
	if (!nd->ep) {
		struct sim_ep *p = sim_ep_alloc();

		if (!p)
			return;
		/* a brand-new node: empty epoch, it records its join next */
		sim_ep_set(s, nd, sim_ep_intern(s, p));
		return;
	}
	if (up)
		sim_ep_up_inc(s, nd->ep);
	else
		sim_ep_up_dec(s, nd->ep);
	sim_ep_converge_check(s);
}

void sim__ep_record(struct sim *s, struct sim_node *nd, const uint8_t id[SWIM_ID_LEN],
                    uint64_t version, uint8_t state, uint16_t weight, uint32_t zone)
{
	struct epoch_member ev;
	struct sim_ep *p;

	if (!nd->ep)
		return;
	memset(&ev, 0, sizeof(ev));
	memcpy(ev.id, id, EPOCH_ID_LEN);
	ev.version = version;
	ev.state = state;
	ev.weight = weight;
	ev.zone = zone;
	p = sim_ep_alloc();
	if (!p)
		return;
	if (epoch_copy(&p->e, &nd->ep->e) || epoch_record(&p->e, nd->id, &ev) <= 0) {
		sim_ep_destroy(p);
		return;
	}
	sim_ep_set(s, nd, sim_ep_intern(s, p));
}

/* after a pull: were we declared dead at our current generation? */
static void sim_ep_self_check(struct sim *s, struct sim_node *nd)
{
	const struct epoch_member *me = epoch_state_get(&nd->ep->e.state, nd->id);

	if (me && me->state == EPOCH_OUT && me->version >= nd->generation && !nd->leaving) {
		if (me->version > nd->generation)
			nd->generation = me->version;   /* learn the last generation first */
		sim__node_rejoin(s, nd);
	}
}

void sim__ep_publish(struct sim *s, struct sim_node *nd)
{
	(void)s;
	if (!nd->dg_dirty || !nd->up || !nd->ep)
		return;
	nd->dg_dirty = 0;
#ifdef SWIM_DIGEST_LEN
	swim_set_digest(nd->swim, nd->ep->dg);
#endif
}

void sim__ep_sync(struct sim *s, struct sim_node *to, struct sim_node *from)
{
	struct sim_ep *p;

	if (!to->ep || !from->ep)
		return;
	s->pulls++;
	s->pull_bytes += epoch_encoded_max(from->ep->e.state.n, from->ep->e.vec.n);
	switch (epoch_compare(&to->ep->e, &from->ep->e)) {
	case EPOCH_NEWER:
		return;                        /* the sender will pull ours */
	case EPOCH_OLDER:
		sim_ep_set(s, to, from->ep);   /* join(older, newer) = newer (epoch.h point 4) */
		sim_ep_self_check(s, to);
		return;
	default:
		break;
	}
	p = sim_ep_alloc();
	if (!p)
		return;
	if (epoch_copy(&p->e, &to->ep->e) || epoch_merge(&p->e, &from->ep->e) < 0) {
		sim_ep_destroy(p);
		return;
	}
	sim_ep_set(s, to, sim_ep_intern(s, p));
	sim_ep_self_check(s, to);
}

static int sim_node_ptr_cmp(const void *a, const void *b)
{
	return memcmp((*(struct sim_node *const *)a)->id, (*(struct sim_node *const *)b)->id, SWIM_ID_LEN);
}

/* ---- ring figures ---- */

static int sim_rm_cmp(const void *a, const void *b)
{
	return memcmp(((const struct ring_member *)a)->id, ((const struct ring_member *)b)->id, RING_ID_LEN);
}

static void sim_ep_ring_figures(struct sim *s, const struct epoch *e, uint64_t converge_ms)
{
	uint8_t sd[EPOCH_DIGEST_LEN];
	struct ring *r = NULL;
	struct ring_member *mem = NULL;
	uint32_t *pl = NULL, *load = NULL, nobj = s->sc.objects, copies;
	size_t nm;
	struct sim_ringchg c;
	uint64_t moved = 0, total = 0, lmax = 0, lsum = 0;
	double w_old = 0, w_new = 0, w_rm = 0, w_add = 0;

	memset(&c, 0, sizeof(c));
	c.t = s->now;
	c.converge_ms = converge_ms;
	epoch_state_digest(&e->state, sd);
	if (s->ring_members && !memcmp(sd, s->ring_state, sizeof(sd))) {
		if (!converge_ms)
			return;                /* a blip (e.g. a leaver stopped counting), no change */
		c.moved = c.ideal = -1;        /* converged back to the same ring */
		c.members = s->ring_n;
		c.load_max_mean = -1;
		goto record;
	}
	nm = epoch_state_placed(&e->state, NULL, 0);
	mem = calloc(nm ? nm : 1, sizeof(*mem));
	pl = calloc((size_t)nobj * SIM_COPIES + 1, sizeof(*pl));
	load = calloc(s->cap, sizeof(*load));
	if (!mem || !pl || !load)
		goto out;
	epoch_state_placed(&e->state, mem, nm);
	qsort(mem, nm, sizeof(*mem), sim_rm_cmp);
	if (epoch_state_ring(&e->state, 0, &r))
		goto out;
	copies = nm < SIM_COPIES ? (uint32_t)nm : SIM_COPIES;
	for (uint32_t o = 0; o < nobj && copies; o++) {
		uint32_t out[SIM_COPIES];
		int k = ring_locate(r, ring_oid_hash(s->oids[o]), copies, out);

		for (int j = 0; j < k; j++) {
			int64_t ni = sim__node_by_id(s, ring_node(r, out[j])->id);

			pl[o * SIM_COPIES + j] = ni < 0 ? UINT32_MAX : (uint32_t)ni;
			if (ni >= 0)
				load[ni]++;
		}
		if (s->placement) {
			for (int j = 0; j < k; j++) {
				int found = 0;

				for (int q = 0; q < SIM_COPIES; q++)
					found |= s->placement[o * SIM_COPIES + q] == pl[o * SIM_COPIES + j];
				moved += !found;
			}
			total += (uint64_t)k;
		}
	}
	for (size_t k = 0; k < nm; k++) {
		int64_t ni = sim__node_by_id(s, mem[k].id);
		uint64_t l = ni >= 0 ? load[ni] : 0;

		lsum += l;
		lmax = l > lmax ? l : lmax;
	}
	c.members = (uint32_t)nm;
	c.load_max_mean = nm && lsum ? (double)lmax / ((double)lsum / nm) : 0;
	/* ideal movement: the removed weight's share of the old ring plus the
	 * added weight's share of the new one */
	for (size_t a = 0, b = 0; a < s->ring_n || b < nm;) {
		int cmp = a == s->ring_n ? 1 : b == nm ? -1 : memcmp(s->ring_members[a].id, mem[b].id, RING_ID_LEN);

		if (cmp < 0) {
			w_old += s->ring_members[a].weight;
			w_rm += s->ring_members[a++].weight;
		} else if (cmp > 0) {
			w_new += mem[b].weight;
			w_add += mem[b++].weight;
		} else {
			w_old += s->ring_members[a++].weight;
			w_new += mem[b++].weight;
		}
	}
	c.moved = total ? (double)moved / total : -1;
	c.ideal = s->ring_members ? (w_old ? w_rm / w_old : 0) + (w_new ? w_add / w_new : 0) : -1;
	if (c.ideal > 1)
		c.ideal = 1;
	free(s->ring_members);
	s->ring_members = mem;
	s->ring_n = (uint32_t)nm;
	mem = NULL;
	free(s->placement);
	s->placement = pl;
	pl = NULL;
	memcpy(s->ring_state, sd, sizeof(sd));
record:
	if (s->n_chg == s->cap_chg) {
		uint32_t ncap = s->cap_chg ? s->cap_chg * 2 : 16;
		struct sim_ringchg *nc = realloc(s->chg, (size_t)ncap * sizeof(*nc));

		if (!nc)
			goto out;
		s->chg = nc;
		s->cap_chg = ncap;
	}
	s->chg[s->n_chg++] = c;
out:
	ring_free(r);
	free(mem);
	free(pl);
	free(load);
}

int sim__ep_boot(struct sim *s)
{
	struct sim_ep *p;
	struct sim_node **by = NULL;
	int rc = -ENOMEM;

	s->ep_cap = 1024;
	while (s->ep_cap < s->cap)
		s->ep_cap *= 2;
	s->eptab = calloc(s->ep_cap, sizeof(*s->eptab));
	s->oids = calloc(s->sc.objects + 1, sizeof(*s->oids));
	p = sim_ep_alloc();
	by = calloc(s->n, sizeof(*by));
	if (!s->eptab || !s->oids || !p || !by)
		goto out;
	for (uint32_t o = 0; o < s->sc.objects; o++)
		s->oids[o] = sim__rand(s) & ((UINT64_C(1) << 56) - 1);
	/* every starting node recorded its own join and all merged */
	for (uint32_t i = 0; i < s->n; i++)
		by[i] = &s->nodes[i];
	qsort(by, s->n, sizeof(*by), sim_node_ptr_cmp);   /* appends: no O(N) inserts */
	for (uint32_t i = 0; i < s->n; i++) {
		struct epoch_member ev;

		memset(&ev, 0, sizeof(ev));
		memcpy(ev.id, by[i]->id, EPOCH_ID_LEN);
		ev.version = by[i]->generation;
		ev.state = EPOCH_IN;
		ev.weight = RING_WEIGHT_DEFAULT;
		if (epoch_record(&p->e, by[i]->id, &ev) < 0)
			goto out;
	}
	p = sim_ep_intern(s, p);
	for (uint32_t i = 0; i < s->n; i++)
		sim_ep_set(s, &s->nodes[i], p);
	p = NULL;
	sim_ep_ring_figures(s, &s->nodes[0].ep->e, 0);
	s->n_chg = 0;                      /* the starting ring is the baseline, not a change */
	rc = 0;
out:
	if (p)
		sim_ep_destroy(p);
	free(by);
	return rc;
}

void sim__ep_free(struct sim *s)
{
	for (uint32_t i = 0; s->eptab && i < s->ep_cap; i++) {
		struct sim_ep *p = s->eptab[i];

		while (p) {
			struct sim_ep *nx = p->next;

			sim_ep_destroy(p);
			p = nx;
		}
	}
	free(s->eptab);
	s->eptab = NULL;
	free(s->oids);
	free(s->ring_members);
	free(s->placement);
	free(s->chg);
}

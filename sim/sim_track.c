/*
 * sim/sim_track.c: how fast the cluster learns what happened.  A
 * "subject" is one crash, leave, join or restart; for each we keep every
 * observer's view of the subject (unknown / live at an older generation /
 * live at the current generation / down) and counts over live observers,
 * fed by SWIM's own membership events.
 *
 * Observers are the live nodes that are not leaving, the subject excluded.
 *
 *   down subject: done when no live observer holds it alive or suspect;
 *   up subject:   done when every live observer holds it alive at its
 *                 new generation.
 */
#include "sim/sim_int.h"

#include <stdlib.h>
#include <string.h>

static int sim_observer_counts(const struct sim *s, uint32_t obs, const struct sim_subject *sj)
{
	return s->nodes[obs].up && !s->nodes[obs].leaving && obs != sj->node;
}

static uint8_t sim_view_member(const struct swim_member *m, uint64_t gen)
{
	if (!m)
		return SIM_VIEW_NONE;
	if (m->state == SWIM_DEAD || m->state == SWIM_LEFT)
		return SIM_VIEW_DOWN;
	return m->meta.generation == gen ? SIM_VIEW_CUR : SIM_VIEW_OLD;
}

double sim__subject_frac(const struct sim *s, const struct sim_subject *sj)
{
	const struct sim_node *sn = &s->nodes[sj->node];
	uint32_t obs = s->n_up - s->n_leaving - (sn->up && !sn->leaving ? 1 : 0);
	uint32_t live = sj->cnt[SIM_VIEW_OLD] + sj->cnt[SIM_VIEW_CUR];

	if (!obs)
		return 1;
	if (sj->up)
		return (double)sj->cnt[SIM_VIEW_CUR] / obs;
	return 1.0 - (double)live / obs;
}

static void sim_subject_close(struct sim_subject *sj)
{
	sj->active = 0;
	free(sj->view);
	sj->view = NULL;
}

static void sim_subject_check(struct sim *s, struct sim_subject *sj)
{
	double f;

	if (!sj->active || sj->t_done != UINT64_MAX)
		return;
	f = sim__subject_frac(s, sj);
	for (int k = 0; k <= 20; k++)
		if (sj->t_frac[k] == UINT64_MAX && f * 20 >= k - 1e-9)
			sj->t_frac[k] = s->now;
	if (sj->t_99 == UINT64_MAX && f >= 0.99 - 1e-12)
		sj->t_99 = s->now;
	if (f >= 1.0 - 1e-12) {
		sj->t_done = s->now;
		if (!sj->up)
			return;        /* keep watching: t_dead, t_suspect still come */
		sim_subject_close(sj);
	}
}

int sim__subject_new(struct sim *s, uint32_t node, int up, int leave)
{
	struct sim_node *nd = &s->nodes[node];
	struct sim_subject *sj;

	if (nd->subj >= 0)
		sim_subject_close(&s->subj[nd->subj]);
	if (s->n_subj == s->cap_subj) {
		uint32_t ncap = s->cap_subj ? s->cap_subj * 2 : 64;
		struct sim_subject *ns = realloc(s->subj, (size_t)ncap * sizeof(*ns));

		if (!ns)
			return -1;
		s->subj = ns;
		s->cap_subj = ncap;
	}
	sj = &s->subj[s->n_subj];
	memset(sj, 0, sizeof(*sj));
	sj->view = calloc(s->cap, 1);
	if (!sj->view)
		return -1;
	sj->node = node;
	sj->up = (uint8_t)up;
	sj->leave = (uint8_t)leave;
	sj->active = 1;
	sj->gen = nd->generation;
	sj->t0 = s->now;
	sj->t_suspect = sj->t_dead = sj->t_done = sj->t_99 = UINT64_MAX;
	for (int k = 0; k <= 20; k++)
		sj->t_frac[k] = UINT64_MAX;
	for (uint32_t o = 0; o < s->n; o++) {
		uint8_t v;

		if (!sim_observer_counts(s, o, sj))
			continue;
		v = sim_view_member(swim_member_find(s->nodes[o].swim, nd->id), sj->gen);
		sj->view[o] = v;
		sj->cnt[v]++;
	}
	nd->subj = (int32_t)s->n_subj;
	if (up)
		s->last_up = (int32_t)s->n_subj;
	else
		s->last_down = (int32_t)s->n_subj;
	s->n_subj++;
	/* a crashed node's own view does not count: subject excluded already */
	sim_subject_check(s, sj);
	return 0;
}

void sim__track_event(struct sim *s, struct sim_node *obs, const struct swim_member *m,
                      enum swim_event ev)
{
	int64_t k = sim__node_by_id(s, m->id);
	struct sim_node *sn;
	struct sim_subject *sj;

	if (k < 0)
		return;
	sn = &s->nodes[k];
	if (ev == SWIM_EV_DEAD && sn->up && !sn->leaving && m->meta.generation == sn->generation) {
		s->false_deaths++;
		if (sim__partition_recent(s))
			s->partition_deaths++;
	}
	if (sn->subj < 0)
		return;
	sj = &s->subj[sn->subj];
	if (!sj->up && sj->t0 <= s->now) {
		if (ev == SWIM_EV_SUSPECT && sj->t_suspect == UINT64_MAX)
			sj->t_suspect = s->now;
		if ((ev == SWIM_EV_DEAD || ev == SWIM_EV_LEFT) && sj->t_dead == UINT64_MAX)
			sj->t_dead = s->now;
	}
	if (!sj->active || !sim_observer_counts(s, obs->i, sj))
		return;
	if (sj->view[obs->i] != SIM_VIEW_NONE)
		sj->cnt[sj->view[obs->i]]--;
	sj->view[obs->i] = sim_view_member(m, sj->gen);
	sj->cnt[sj->view[obs->i]]++;
	sim_subject_check(s, sj);
}

void sim__track_observer_down(struct sim *s, uint32_t obs)
{
	for (uint32_t k = 0; k < s->n_subj; k++) {
		struct sim_subject *sj = &s->subj[k];

		if (!sj->active)
			continue;
		if (sj->node == obs && sj->up) {
			/* a joiner that crashed: its dissemination ends unfinished */
			sim_subject_close(sj);
			continue;
		}
		if (sj->node == obs || sj->view[obs] == SIM_VIEW_NONE)
			continue;
		sj->cnt[sj->view[obs]]--;
		sj->view[obs] = SIM_VIEW_NONE;
	}
}

/* An observer came up (new table: it knows nothing yet) */
void sim__track_check_all(struct sim *s)
{
	for (uint32_t k = 0; k < s->n_subj; k++)
		sim_subject_check(s, &s->subj[k]);
}

void sim__track_free(struct sim *s)
{
	for (uint32_t k = 0; k < s->n_subj; k++)
		free(s->subj[k].view);
	free(s->subj);
	s->subj = NULL;
	s->n_subj = 0;
}

static int sim_dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void sim__pct(double *v, uint32_t n, struct sim_pct *out)
{
	memset(out, 0, sizeof(*out));
	out->n = n;
	if (!n)
		return;
	qsort(v, n, sizeof(*v), sim_dbl_cmp);
	/* nearest rank: the smallest value with at least p% at or below it */
	out->p50 = v[(n * 50 + 99) / 100 - 1];
	out->p90 = v[(n * 90 + 99) / 100 - 1];
	out->p99 = v[(n * 99 + 99) / 100 - 1];
	out->max = v[n - 1];
}

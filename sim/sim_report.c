/* sim/sim_report.c: figures, summary table, CSV and SVG output (see sim.h). */
#include "sim/sim_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sim/svg.h"

uint64_t sim__rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size = 0, res = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static double sim_s(uint64_t from, uint64_t to)
{
	return (double)(to - from) / 1000.0;
}

void sim_result(struct sim *s, struct sim_result *r)
{
	double *a = calloc(s->n_subj + s->n_chg + 1, sizeof(*a)), *b, *c;
	uint32_t na = 0, nb = 0, nc = 0;
	crypto_generichash_state st = s->log;
	uint32_t alpha = s->opts.swim.suspicion_mult, P = s->opts.swim.probe_interval_ms;

	memset(r, 0, sizeof(*r));
	b = calloc(s->n_subj + 1, sizeof(*b));
	c = calloc(s->n_subj + 1, sizeof(*c));
	r->nodes_start = s->sc.nodes;
	r->nodes_up_end = s->n_up;
	r->nodes_total = s->n;
	r->duration_ms = s->now;
	if (a && b && c) {
		for (uint32_t k = 0; k < s->n_subj; k++) {
			const struct sim_subject *sj = &s->subj[k];

			if (sj->up)
				continue;
			r->downs++;
			if (sj->t_suspect != UINT64_MAX)
				a[na++] = sim_s(sj->t0, sj->t_suspect);
			if (sj->t_dead != UINT64_MAX)
				b[nb++] = sim_s(sj->t0, sj->t_dead);
			if (sj->t_done != UINT64_MAX)
				c[nc++] = sim_s(sj->t0, sj->t_done);
			else
				r->downs_unfinished++;
		}
		sim__pct(a, na, &r->first_suspect);
		sim__pct(b, nb, &r->first_dead);
		sim__pct(c, nc, &r->all_know);
		na = nb = nc = 0;
		for (uint32_t k = 0; k < s->n_subj; k++) {
			const struct sim_subject *sj = &s->subj[k];

			if (!sj->up)
				continue;
			r->joins++;
			if (sj->t_frac[10] != UINT64_MAX)
				a[na++] = sim_s(sj->t0, sj->t_frac[10]);
			if (sj->t_99 != UINT64_MAX)
				b[nb++] = sim_s(sj->t0, sj->t_99);
			if (sj->t_done != UINT64_MAX)
				c[nc++] = sim_s(sj->t0, sj->t_done);
			else
				r->joins_unfinished++;
		}
		sim__pct(a, na, &r->join50);
		sim__pct(b, nb, &r->join99);
		sim__pct(c, nc, &r->join100);
		na = nb = 0;
		r->ring = s->ring;
		for (uint32_t k = 0; k < s->n_chg; k++) {
			const struct sim_ringchg *x = &s->chg[k];

			a[na++] = x->converge_ms / 1000.0;
			if (x->moved >= 0) {
				r->moved_mean += x->moved;
				r->ideal_mean += x->ideal;
				nb++;
			}
			if (x->load_max_mean >= 0)
				r->load_max_mean = x->load_max_mean;
		}
		if (nb) {
			r->moved_mean /= nb;
			r->ideal_mean /= nb;
		}
		sim__pct(a, na, &r->ring_converge);
		r->ring_changes = s->n_chg;
		r->ring_unconverged = s->ep_diverged != UINT64_MAX;
		r->epochs_max_distinct = s->ep_max_distinct;
	}
	free(a);
	free(b);
	free(c);
	r->false_deaths = s->false_deaths;
	r->partition_deaths = s->partition_deaths;
	r->rejoins = s->rejoins;
	r->pulls = s->pulls;
	r->pull_bytes = s->pull_bytes;
	r->ev_suspect = s->ev[SWIM_EV_SUSPECT];
	r->ev_dead = s->ev[SWIM_EV_DEAD];
	r->ev_join = s->ev[SWIM_EV_JOIN];
	r->ev_left = s->ev[SWIM_EV_LEFT];
	r->ev_alive = s->ev[SWIM_EV_ALIVE];
	r->pkts = s->pkts;
	r->bytes = s->bytes;
	r->lost = s->lost;
	r->cut = s->cut;
	r->too_big = s->too_big;
	if (s->up_ms_acc) {
		r->msgs_per_node_s = (double)s->pkts / (s->up_ms_acc / 1000.0);
		r->bytes_per_node_s = (double)s->bytes / (s->up_ms_acc / 1000.0);
	}
	if (s->n_samples > 1) {
		double *m = calloc(s->n_samples, sizeof(*m));
		uint32_t k = 0;

		for (uint32_t i = 1; m && i < s->n_samples; i++) {
			const struct sim_sample *p = &s->samples[i];
			double dt = (p->t - s->samples[i - 1].t) / 1000.0;

			if (dt > 0 && p->up)
				m[k++] = p->pkts / dt / p->up;
		}
		if (m && k) {
			struct sim_pct q;

			sim__pct(m, k, &q);
			r->msgs_median = q.p50;
		}
		free(m);
	}
	if (!alpha)
		alpha = 4;
	if (!P)
		P = 1000;
	r->pred_suspicion_min = swim_suspicion_min_ms(alpha, s->sc.nodes, P) / 1000.0;
	r->pred_suspicion_max = r->pred_suspicion_min *
	                        (s->opts.swim.suspicion_max_mult ? s->opts.swim.suspicion_max_mult : 6);
	/* Each of N members probes the victim with probability 1/N per period:
	 * the first probe starts after ~Exp(P) (median P ln 2) and fails at
	 * that period's end, P later: median (1 + ln 2) P, mean 2P. */
	r->pred_first_detect = P / 1000.0 * (1.0 + log(2.0));
	r->pred_retransmits = swim_retransmit_limit(s->opts.swim.retransmit_mult ? s->opts.swim.retransmit_mult : 4,
	                                            s->sc.nodes);
	r->wall_s = sim__wall() - s->wall_start;
	r->build_s = s->wall_built - s->wall_start;
	r->sim_per_wall = r->wall_s > r->build_s ? s->now / 1000.0 / (r->wall_s - r->build_s) : 0;
	r->rss_bytes = sim__rss();
	r->mem_per_node = r->rss_bytes > s->rss0 ? (double)(r->rss_bytes - s->rss0) / s->n : 0;
	r->events = s->events;
	crypto_generichash_final(&st, r->digest, sizeof(r->digest));
}

static void sim_pct_row(FILE *f, const char *name, const struct sim_pct *p, const char *extra)
{
	if (!p->n)
		fprintf(f, "  %-28s %8s %8s %8s %8s   %s\n", name, "-", "-", "-", "-", extra);
	else
		fprintf(f, "  %-28s %8.2f %8.2f %8.2f %8.2f   n=%u %s\n", name, p->p50, p->p90, p->p99, p->max,
		        p->n, extra);
}

void sim_print_summary(const struct sim_result *r, FILE *f)
{
	char buf[128];

	fprintf(f, "sheepsim: %u nodes at start, %u up at end (%u ever), %.1f s simulated\n", r->nodes_start,
	        r->nodes_up_end, r->nodes_total, r->duration_ms / 1000.0);
	fprintf(f, "  %-28s %8s %8s %8s %8s\n", "seconds after the event", "p50", "p90", "p99", "max");
	sim_pct_row(f, "crash: first suspect", &r->first_suspect, "");
	sim_pct_row(f, "crash/leave: first dead/left", &r->first_dead, "");
	snprintf(buf, sizeof(buf), "(%u of %u not finished)", r->downs_unfinished, r->downs);
	sim_pct_row(f, "crash/leave: all live know", &r->all_know, buf);
	sim_pct_row(f, "join: 50% know", &r->join50, "");
	sim_pct_row(f, "join: 99% know", &r->join99, "");
	snprintf(buf, sizeof(buf), "(%u of %u not finished)", r->joins_unfinished, r->joins);
	sim_pct_row(f, "join: 100% know", &r->join100, buf);
	if (r->ring) {
		snprintf(buf, sizeof(buf), "(%u changes, %s at end, max %u distinct epochs)", r->ring_changes,
		         r->ring_unconverged ? "diverged" : "converged", r->epochs_max_distinct);
		sim_pct_row(f, "ring: epochs converge", &r->ring_converge, buf);
		fprintf(f, "  ring: %llu epoch pulls, %.1f KiB per live node (upper bound of the encoding)\n",
		        (unsigned long long)r->pulls,
		        r->nodes_up_end ? r->pull_bytes / 1024.0 / r->nodes_up_end : 0.0);
		if (r->ring_changes)
			fprintf(f, "  ring: copies moved per change %.4f (ideal %.4f), max/mean load %.3f\n",
			        r->moved_mean, r->ideal_mean, r->load_max_mean);
	} else {
		fprintf(f, "  ring: not tracked (ring off)\n");
	}
	fprintf(f, "  false deaths: %llu (%llu during/after a partition), %llu rejoins   events: suspect %llu, "
	           "dead %llu, left %llu, suspect->alive %llu\n",
	        (unsigned long long)r->false_deaths, (unsigned long long)r->partition_deaths,
	        (unsigned long long)r->rejoins,
	        (unsigned long long)r->ev_suspect, (unsigned long long)r->ev_dead,
	        (unsigned long long)r->ev_left, (unsigned long long)r->ev_alive);
	fprintf(f, "  traffic: %.2f msgs and %.0f bytes per node per second (median second %.2f msgs); "
	           "%llu packets, %llu lost, %llu cut by partitions, %llu over MTU\n",
	        r->msgs_per_node_s, r->bytes_per_node_s, r->msgs_median, (unsigned long long)r->pkts,
	        (unsigned long long)r->lost, (unsigned long long)r->cut, (unsigned long long)r->too_big);
	fprintf(f, "  protocol at N=%u: first suspect median ~%.2f s, suspicion %.1f..%.1f s, %u retransmits\n",
	        r->nodes_start, r->pred_first_detect, r->pred_suspicion_min, r->pred_suspicion_max,
	        r->pred_retransmits);
	fprintf(f, "  cost: %.1f s wall (%.1f s building tables), %.2f sim-s per wall-s, %.0f bytes per node "
	           "(RSS %.1f MiB), %llu events\n",
	        r->wall_s, r->build_s, r->sim_per_wall, r->mem_per_node, r->rss_bytes / 1048576.0,
	        (unsigned long long)r->events);
	fprintf(f, "  digest: ");
	for (int i = 0; i < 16; i++)
		fprintf(f, "%02x", r->digest[i]);
	fprintf(f, "\n");
}

static void sim_csv_time(FILE *f, uint64_t t0, uint64_t t)
{
	if (t == UINT64_MAX)
		fputs(",", f);
	else
		fprintf(f, ",%.3f", sim_s(t0, t));
}

static FILE *sim_open(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fopen(path, "w");
}

static int sim_close(FILE *f)
{
	int bad = ferror(f);

	return (fclose(f) || bad) ? -EIO : 0;
}

/* curves: fraction of live nodes that know, vs seconds since the event */
static int sim_svg_curves(const struct sim *s, FILE *f)
{
	struct svg_chart c = { .title = "Who knows: crash/leave (down) and join (up) subjects",
	                       .xlabel = "seconds after the event", .ylabel = "fraction of live nodes" };
	double xs[SVG_SERIES_MAX][21], ys[SVG_SERIES_MAX][21];
	char names[SVG_SERIES_MAX][48];
	uint32_t nd = 0, nu = 0;

	for (uint32_t k = 0; k < s->n_subj && c.n_series < SVG_SERIES_MAX; k++) {
		const struct sim_subject *sj = &s->subj[k];
		size_t i = c.n_series, n = 0;

		if ((sj->up && nu >= 4) || (!sj->up && nd >= 4))
			continue;
		for (int q = 0; q <= 20; q++)
			if (sj->t_frac[q] != UINT64_MAX) {
				xs[i][n] = sim_s(sj->t0, sj->t_frac[q]);
				ys[i][n++] = q / 20.0;
			}
		if (n < 2)
			continue;
		snprintf(names[i], sizeof(names[i]), "%s node %u @%.0fs", sj->up ? "join" : "down", sj->node,
		         sj->t0 / 1000.0);
		c.s[i] = (struct svg_series){ names[i], xs[i], ys[i], n };
		c.n_series++;
		if (sj->up)
			nu++;
		else
			nd++;
	}
	return svg_chart_write(&c, f);
}

static int sim_svg_series(const struct sim *s, FILE *f, int which)
{
	struct svg_chart c = { 0 };
	double *x = calloc(s->n_samples + 1, sizeof(*x)), *y = calloc(s->n_samples + 1, sizeof(*y));
	double *y2 = calloc(s->n_samples + 1, sizeof(*y2));
	int rc;

	if (!x || !y || !y2) {
		free(x);
		free(y);
		free(y2);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->n_samples; i++) {
		const struct sim_sample *p = &s->samples[i];
		double dt = i ? (p->t - s->samples[i - 1].t) / 1000.0 : 0;

		x[i] = p->t / 1000.0;
		if (which == 0) {
			y[i] = dt > 0 && p->up ? p->pkts / dt / p->up : NAN;
			y2[i] = NAN;
		} else {
			y[i] = p->down_known < 0 ? NAN : p->down_known;
			y2[i] = p->join_known < 0 ? NAN : p->join_known;
		}
	}
	if (which == 0) {
		c.title = "Traffic";
		c.xlabel = "simulated seconds";
		c.ylabel = "messages per live node per second";
		c.s[0] = (struct svg_series){ "msgs/node/s", x, y, s->n_samples };
		c.n_series = 1;
	} else {
		c.title = "Latest crash/leave and join: fraction of live nodes that know";
		c.xlabel = "simulated seconds";
		c.ylabel = "fraction";
		c.s[0] = (struct svg_series){ "latest down", x, y, s->n_samples };
		c.s[1] = (struct svg_series){ "latest join", x, y2, s->n_samples };
		c.n_series = 2;
	}
	rc = svg_chart_write(&c, f);
	free(x);
	free(y);
	free(y2);
	return rc;
}

static int sim_svg_epochs(const struct sim *s, FILE *f)
{
	struct svg_chart c = { .title = "Ring convergence: distinct epochs among live nodes",
	                       .xlabel = "simulated seconds", .ylabel = "distinct epoch digests" };
	double *x = calloc(s->n_samples + 1, sizeof(*x)), *y = calloc(s->n_samples + 1, sizeof(*y));
	int rc = -ENOMEM;

	if (x && y) {
		for (uint32_t i = 0; i < s->n_samples; i++) {
			x[i] = s->samples[i].t / 1000.0;
			y[i] = s->samples[i].distinct;
		}
		c.s[0] = (struct svg_series){ "distinct epochs", x, y, s->n_samples };
		c.n_series = 1;
		rc = svg_chart_write(&c, f);
	}
	free(x);
	free(y);
	return rc;
}

int sim_write_csv(const struct sim *s, const char *dir)
{
	FILE *f;
	int rc = 0;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	if (!(f = sim_open(dir, "timeseries.csv")))
		return -errno;
	fprintf(f, "t_s,up,msgs_per_node_s,bytes_per_node_s,suspect_events,dead_events,false_deaths,"
	           "epochs_distinct,latest_down_known,latest_join_known,wall_s\n");
	for (uint32_t i = 0; i < s->n_samples; i++) {
		const struct sim_sample *p = &s->samples[i];
		double dt = i ? (p->t - s->samples[i - 1].t) / 1000.0 : 0;

		fprintf(f, "%.3f,%u,%.3f,%.1f,%llu,%llu,%llu,%u,", p->t / 1000.0, p->up,
		        dt > 0 && p->up ? p->pkts / dt / p->up : 0.0, dt > 0 && p->up ? p->bytes / dt / p->up : 0.0,
		        (unsigned long long)p->suspects, (unsigned long long)p->deaths,
		        (unsigned long long)p->false_deaths, p->distinct);
		if (p->down_known >= 0)
			fprintf(f, "%.4f", p->down_known);
		fputc(',', f);
		if (p->join_known >= 0)
			fprintf(f, "%.4f", p->join_known);
		fprintf(f, ",%.3f\n", p->wall);
	}
	rc = rc ? rc : sim_close(f);
	if (!(f = sim_open(dir, "subjects.csv")))
		return -errno;
	fprintf(f, "kind,node,t0_s,first_suspect_s,first_dead_s,done_s,t50_s,t90_s,t99_s,t100_s\n");
	for (uint32_t k = 0; k < s->n_subj; k++) {
		const struct sim_subject *sj = &s->subj[k];

		fprintf(f, "%s,%u,%.3f", sj->up ? "join" : sj->leave ? "leave" : "crash", sj->node, sj->t0 / 1000.0);
		sim_csv_time(f, sj->t0, sj->t_suspect);
		sim_csv_time(f, sj->t0, sj->t_dead);
		sim_csv_time(f, sj->t0, sj->t_done);
		sim_csv_time(f, sj->t0, sj->t_frac[10]);
		sim_csv_time(f, sj->t0, sj->t_frac[18]);
		sim_csv_time(f, sj->t0, sj->t_99);
		sim_csv_time(f, sj->t0, sj->t_frac[20]);
		fputc('\n', f);
	}
	rc = rc ? rc : sim_close(f);
	if (!(f = sim_open(dir, "ring.csv")))
		return -errno;
	fprintf(f, "t_s,converge_s,members,copies_moved,ideal,load_max_mean\n");
	for (uint32_t k = 0; k < s->n_chg; k++) {
		const struct sim_ringchg *x = &s->chg[k];

		fprintf(f, "%.3f,%.3f,%u,%.5f,%.5f,%.4f\n", x->t / 1000.0, x->converge_ms / 1000.0, x->members,
		        x->moved, x->ideal, x->load_max_mean);
	}
	rc = rc ? rc : sim_close(f);
	if (!(f = sim_open(dir, "curves.svg")))
		return -errno;
	rc = rc ? rc : sim_svg_curves(s, f);
	rc = sim_close(f) ? -EIO : rc;
	if (!(f = sim_open(dir, "known.svg")))
		return -errno;
	rc = rc ? rc : sim_svg_series(s, f, 1);
	rc = sim_close(f) ? -EIO : rc;
	if (!(f = sim_open(dir, "traffic.svg")))
		return -errno;
	rc = rc ? rc : sim_svg_series(s, f, 0);
	rc = sim_close(f) ? -EIO : rc;
	if (s->ring) {
		if (!(f = sim_open(dir, "epochs.svg")))
			return -errno;
		rc = rc ? rc : sim_svg_epochs(s, f);
		rc = sim_close(f) ? -EIO : rc;
	}
	return rc;
}

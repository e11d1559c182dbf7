/*
 * bench/bench_swim.c: SWIM figures on the in-process fake network
 * (tests/unit/fakenet.h), virtual time, default LAN settings.
 *
 *   bench_swim [N [seeds]]      (default N = 200, 3 seeds)
 *
 * Prints, per seed and as the median over seeds:
 *   - steady state: packets and bytes sent per node per second (no loss,
 *     after a 60 s warm-up, measured over 120 s; push-pull included);
 *   - join: protocol periods (P = 1 s) until every node knows a new node,
 *     with the default gossip fanout and with piggyback only (fanout 0,
 *     the SWIM paper's dissemination);
 *   - crash: seconds until every node marks a killed node dead;
 *   - the same steady-state figures at 10% random loss.
 * Wall-clock time is printed too but is not a protocol figure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/unit/fakenet.h"

struct figs {
	double pkts, bytes, join_rounds, crash_s, pkts_loss, bytes_loss, join_pb;
};

static void steady(struct fakenet *net, uint32_t n, double *pkts, double *bytes)
{
	uint64_t p0 = net->sent_pkts, b0 = net->sent_bytes;

	/* 120 s: one full push-pull period at N <= 256 (30 s x log2(N/32) + 1) */
	fn_run(net, 120000);
	*pkts = (double)(net->sent_pkts - p0) / n / 120.0;
	*bytes = (double)(net->sent_bytes - b0) / n / 120.0;
}

/* periods until a node joining node 0 is known alive by all n others */
static double join_periods(struct fakenet *net, uint32_t n, uint64_t seed)
{
	struct swim_addr seed_addr = fn_addr(0);
	uint32_t newbie = fn_add(net, seed);
	uint64_t t0 = net->now;

	swim_join(net->nodes[newbie].swim, &seed_addr, 1, net->now);
	net->nodes[newbie].deadline = swim_next_deadline(net->nodes[newbie].swim);
	while (fn_count_state(net, newbie, SWIM_ALIVE) < n && net->now - t0 < 120000)
		fn_run(net, 10);
	return (double)(net->now - t0) / net->base.probe_interval_ms;
}

/* the same with piggyback-only dissemination */
static double join_piggyback_only(uint32_t n, uint64_t seed)
{
	struct fakenet net;
	struct swim_config cfg;
	double r;

	swim_config_lan(&cfg);
	cfg.gossip_fanout = 0;
	fn_init(&net, n + 1, seed, &cfg);
	fn_boot(&net, n, seed, 120000);
	fn_run(&net, 60000);
	r = join_periods(&net, n, seed);
	fn_fini(&net);
	return r;
}

static int one(uint32_t n, uint64_t seed, struct figs *f)
{
	struct fakenet net;
	uint32_t victim;
	uint64_t t0;

	fn_init(&net, n + 1, seed, NULL);
	if (fn_boot(&net, n, seed, 120000) == UINT64_MAX) {
		fprintf(stderr, "N=%u did not converge\n", n);
		fn_fini(&net);
		return -1;
	}
	fn_run(&net, 60000);                       /* warm-up: boot gossip drains */
	steady(&net, n, &f->pkts, &f->bytes);

	/* join: one more node contacts node 0 */
	f->join_rounds = join_periods(&net, n, seed);
	f->join_pb = join_piggyback_only(n, seed);
	fn_run(&net, 30000);

	/* crash */
	victim = n / 2;
	net.nodes[victim].up = 0;
	t0 = net.now;
	while (fn_count_state(&net, victim, SWIM_DEAD) < n && net.now - t0 < 300000)
		fn_run(&net, 100);
	f->crash_s = (double)(net.now - t0) / 1000.0;
	fn_run(&net, 60000);

	net.loss = 0.10;
	fn_run(&net, 30000);
	steady(&net, n, &f->pkts_loss, &f->bytes_loss);
	fn_fini(&net);
	return 0;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), dcmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 200;
	int seeds = argc > 2 ? atoi(argv[2]) : 3;
	double v[7][64];
	struct timespec a, b;

	if (n < 3 || n > 5000 || seeds < 1 || seeds > 64) {
		fprintf(stderr, "usage: bench_swim [N (3..5000) [seeds (1..64)]]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	printf("bench_swim: N=%u, default LAN config (P=1000 ms), fake network 1-4 ms latency\n", n);
	for (int s = 0; s < seeds; s++) {
		struct figs f;

		if (one(n, 1000 + (uint64_t)s, &f))
			return 1;
		printf("seed %d: %.2f pkt/node/s, %.0f B/node/s; join reaches all in %.2f periods "
		       "(piggyback only: %.1f); crash dead at all in %.1f s; at 10%% loss %.2f pkt/node/s, "
		       "%.0f B/node/s\n", s, f.pkts, f.bytes, f.join_rounds, f.join_pb, f.crash_s,
		       f.pkts_loss, f.bytes_loss);
		v[0][s] = f.pkts;
		v[1][s] = f.bytes;
		v[2][s] = f.join_rounds;
		v[3][s] = f.crash_s;
		v[4][s] = f.pkts_loss;
		v[5][s] = f.bytes_loss;
		v[6][s] = f.join_pb;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("median over %d seeds at N=%u:\n", seeds, n);
	printf("  messages per node per second      %.2f\n", median(v[0], seeds));
	printf("  bytes per node per second         %.0f\n", median(v[1], seeds));
	printf("  periods until a join reaches all  %.2f (piggyback only: %.1f)\n", median(v[2], seeds),
	       median(v[6], seeds));
	printf("  seconds until a crash is dead at all %.1f\n", median(v[3], seeds));
	printf("  at 10%% loss: msgs/node/s %.2f, bytes/node/s %.0f\n", median(v[4], seeds), median(v[5], seeds));
	printf("wall time %.1f s\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}

/*
 * sim/sim.h: sheepsim's engine, thousands of virtual sheepnodes in one
 * process running the real gossip/ code (libsheepcore.a: swim, epoch,
 * ring) on a simulated network, in virtual time.
 *
 * Discrete events in one heap (sim/heap.h): packet deliveries, node
 * deadlines (swim_tick), scenario actions, samples.  Single-threaded and
 * deterministic: one seed drives node ids, per-node SWIM seeds, latency,
 * loss and victim choice; equal seed and scenario give an equal event-log
 * digest (BLAKE2b over every membership event: time, observer, subject,
 * kind).  Parallelism comes from running independent simulations in
 * separate processes (sheepsim --sweep).
 *
 * Lifecycle: sim_new() (builds and warm-starts the cluster) ->
 * sim_run() (repeatedly, to advance) -> sim_result() / sim_print_summary()
 * / sim_write_csv() -> sim_free().  No globals; several sims may coexist.
 */
#ifndef SHEEPMESH_SIM_SIM_H
#define SHEEPMESH_SIM_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "gossip/swim.h"
#include "sim/scenario.h"

struct sim;

struct sim_opts {
	struct swim_config swim;       /* timers etc. for every node (ids, addresses are set per node) */
	/* called about every 64k events and at the end; may be NULL */
	void (*progress)(void *ctx, uint64_t now_ms, uint64_t end_ms);
	void *progress_ctx;
};

/* Percentiles of a set of durations, seconds; n = how many. */
struct sim_pct {
	uint32_t n;
	double   p50, p90, p99, max;
};

struct sim_result {
	uint32_t nodes_start, nodes_up_end, nodes_total;
	uint64_t duration_ms;
	/* crash/leave detection, seconds after the crash */
	uint32_t downs, downs_unfinished;
	struct sim_pct first_suspect, first_dead, all_know;
	/* join dissemination, seconds after swim_join */
	uint32_t joins, joins_unfinished;
	struct sim_pct join50, join99, join100;
	uint64_t false_deaths;         /* DEAD about a node that was up (same generation) */
	uint64_t partition_deaths;     /* ... of which during or soon after a partition */
	uint64_t rejoins;              /* nodes that found themselves OUT in the epoch and rejoined */
	uint64_t ev_suspect, ev_dead, ev_join, ev_left, ev_alive;
	/* traffic (bytes include SIM_SEAL_OVERHEAD per packet) */
	uint64_t pkts, bytes, lost, cut, too_big;
	double   msgs_per_node_s, bytes_per_node_s;   /* whole run, push-pull bursts included */
	double   msgs_median;          /* median over samples of msgs per live node per second */
	/* ring / epochs */
	int      ring;                 /* tracking on? */
	uint32_t ring_changes, ring_unconverged, epochs_max_distinct;
	struct sim_pct ring_converge;
	double   moved_mean, ideal_mean, load_max_mean;
	uint64_t pulls, pull_bytes;    /* epoch pulls after digest mismatches */
	/* protocol predictions at the starting N (seconds) */
	double   pred_suspicion_min, pred_suspicion_max, pred_first_detect;
	uint32_t pred_retransmits;
	/* cost */
	double   wall_s, build_s;          /* total wall time, of which building the tables */
	double   sim_per_wall;         /* simulated s per wall s, building excluded */
	double   mem_per_node;
	uint64_t rss_bytes, events;
	uint8_t  digest[16];
};

#define SIM_SEAL_OVERHEAD 41           /* bytes a sealed packet adds to the body (SWIM.md) */

/*
 * Build the cluster of sc->nodes (warm: every table pre-filled as after a
 * converged boot; cold: all join node 0) and queue the scenario.  The
 * scenario is copied.  0, -EINVAL (bad scenario/config), -ENOMEM.
 */
int sim_new(struct sim **out, const struct sim_scenario *sc, const struct sim_opts *opts);
void sim_free(struct sim *s);

/* Run events up to virtual time min(until_ms, duration).  Returns 1 while
 * the scenario's end is not reached, 0 at the end, -ENOMEM. */
int sim_run(struct sim *s, uint64_t until_ms);
uint64_t sim_now(const struct sim *s);

/* Figures so far (final after sim_run returned 0). */
void sim_result(struct sim *s, struct sim_result *r);
/* Human-readable table. */
void sim_print_summary(const struct sim_result *r, FILE *f);
/* timeseries.csv, subjects.csv, ring.csv and curves.svg in dir (created).
 * 0 or -errno. */
int sim_write_csv(const struct sim *s, const char *dir);

/* Node count whose table holds `up` members alive, for tests. */
uint32_t sim_nodes_up(const struct sim *s);

#endif

/*
 * sim/sim_int.h: internals shared by sim.c (engine, network, nodes),
 * sim_track.c (detection/dissemination bookkeeping), sim_ep.c (epochs
 * and ring figures) and sim_report.c (summary, CSV, SVG).  Not a contract.
 */
#ifndef SHEEPMESH_SIM_SIM_INT_H
#define SHEEPMESH_SIM_SIM_INT_H

#include <sodium.h>

#include "gossip/epoch.h"
#include "gossip/ring.h"
#include "sim/heap.h"
#include "sim/sim.h"

#define SIM_PORT        7000
#define SIM_LINGER_MS   5000           /* a leaving node keeps answering this long */
#define SIM_DOWN_MS     10000          /* default restart down time */
#define SIM_JOIN_SEEDS  3

enum sim_ev_kind {
	SIM_EV_PKT = 1,
	SIM_EV_TICK,
	SIM_EV_ACTION,                 /* node = index into sc.acts */
	SIM_EV_START,                  /* (re)start node */
	SIM_EV_CRASH,                  /* crash node then restart after from ms (rolling) */
	SIM_EV_FREE,                   /* a leaving node goes away */
	SIM_EV_UNSLOW,
	SIM_EV_LOSS,                   /* restore base loss */
	SIM_EV_HEAL,
	SIM_EV_SAMPLE,
	SIM_EV_PULL,                   /* node pulls `from`'s epoch (digest mismatch) */
};

enum sim_view { SIM_VIEW_NONE = 0, SIM_VIEW_OLD, SIM_VIEW_CUR, SIM_VIEW_DOWN, SIM_VIEW_N };

struct sim_ep;

struct sim_node {
	struct sim    *sim;
	struct swim   *swim;           /* NULL while down */
	struct sim_ep *ep;             /* epoch (interned), kept while down: LMDB in a real node */
	uint8_t        id[SWIM_ID_LEN];
	uint32_t       i, life;
	uint8_t        up, leaving, part, started;
	uint8_t        dg_dirty;       /* epoch changed: hand swim the new digest when safe */
	uint32_t       slow_ms;
	uint64_t       sched;          /* earliest TICK queued for this life, UINT64_MAX = none */
	uint64_t       generation, incarnation;
	int32_t        subj;           /* active subject about this node, -1 */
	uint64_t       tx_pkts;
};

/* Something happened to a node (crash/leave: "down"; join/restart: "up");
 * we follow how the others learn it. */
struct sim_subject {
	uint32_t node;
	uint8_t  up;                   /* 1 join/rejoin, 0 crash/leave */
	uint8_t  active;
	uint8_t  leave;
	uint64_t gen;
	uint64_t t0, t_suspect, t_dead, t_done;   /* ms, UINT64_MAX = not yet */
	uint64_t t_frac[21];           /* first time the known fraction reached k*5% */
	uint64_t t_99;
	uint32_t cnt[SIM_VIEW_N];      /* up observers (subject excluded) per view */
	uint8_t *view;                 /* per observer node */
};

struct sim_sample {
	uint64_t t;
	uint32_t up, distinct;
	uint64_t pkts, bytes, suspects, deaths, false_deaths;
	float    down_known, join_known;  /* latest down / up subject, fraction, -1 none */
	double   wall;                 /* wall-clock seconds since sim_new() finished */
};

struct sim_ringchg {
	uint64_t t, converge_ms;
	uint32_t members;
	double   moved, ideal, load_max_mean;
};

struct sim {
	struct sim_scenario sc;
	struct sim_opts     opts;
	struct sim_heap     heap;
	uint64_t            now, end, rng;
	struct sim_node    *nodes;
	uint32_t            n, cap, n_up, n_leaving;
	uint32_t           *idmap;     /* open addressing, node index + 1 */
	uint32_t            idmap_cap;
	int                 booting;
	double              loss, base_loss;
	uint8_t             part_mode; /* 0 none, 1 symmetric, 2 minority -> majority cut */
	uint32_t            swim_pkt_max;
	crypto_generichash_state log;
	uint64_t            events;

	/* figures */
	uint64_t pkts, bytes, lost, cut, too_big;
	uint64_t ev[SWIM_EV_UPDATE + 1];
	uint64_t false_deaths, partition_deaths, rejoins;
	uint64_t part_healed;          /* ms when the last partition healed, UINT64_MAX never */
	struct sim_subject *subj;
	uint32_t n_subj, cap_subj;
	int32_t  last_down, last_up;
	struct sim_sample *samples;
	uint32_t n_samples, cap_samples;
	uint64_t s_pkts, s_bytes;      /* at the previous sample */
	uint64_t up_ms_acc;            /* integral of n_up over time, node-ms */
	uint64_t up_acc_t;

	/* epochs and ring (sim_ep.c) */
	int      ring;
	struct sim_ep **eptab;
	uint32_t ep_cap, ep_n, ep_distinct, ep_max_distinct;
	uint64_t ep_diverged;          /* UINT64_MAX while converged */
	uint8_t  ring_state[EPOCH_DIGEST_LEN];
	struct ring_member *ring_members;
	uint32_t ring_n;
	uint32_t *placement;           /* objects * 3 sim node indices */
	uint64_t *oids;
	struct sim_ringchg *chg;
	uint32_t n_chg, cap_chg;
	uint64_t pulls, pull_bytes;

	double   wall_start, wall_built;
	uint64_t rss0;                 /* bytes resident before the nodes were built */
};

/* sim.c */
uint64_t sim__rand(struct sim *s);
double sim__rand01(struct sim *s);
int64_t sim__node_by_id(const struct sim *s, const uint8_t id[SWIM_ID_LEN]);
/* the node learnt from the epochs that it was declared dead: rejoin at g+1 */
void sim__node_rejoin(struct sim *s, struct sim_node *nd);
/* a partition is active or healed less than the maximum suspicion ago */
int sim__partition_recent(const struct sim *s);

/* sim_track.c */
int  sim__subject_new(struct sim *s, uint32_t node, int up, int leave);
void sim__track_event(struct sim *s, struct sim_node *obs, const struct swim_member *m,
                      enum swim_event ev);
void sim__track_observer_down(struct sim *s, uint32_t obs);
void sim__track_check_all(struct sim *s);
void sim__track_free(struct sim *s);
double sim__subject_frac(const struct sim *s, const struct sim_subject *sj);
void sim__pct(double *v, uint32_t n, struct sim_pct *out);

uint64_t sim__rss(void);
double sim__wall(void);

/* sim_ep.c */
int  sim__ep_boot(struct sim *s);
/* nd starts (up = 1) or stops (0) counting: call after setting up/leaving */
void sim__ep_node_up(struct sim *s, struct sim_node *nd, int up);
/* node records a ring event (join IN at its generation, leave/dead OUT) */
void sim__ep_record(struct sim *s, struct sim_node *nd, const uint8_t id[SWIM_ID_LEN],
                    uint64_t version, uint8_t state, uint16_t weight, uint32_t zone);
/* `to` pulled `from`'s epoch (digests differed on a packet) */
void sim__ep_sync(struct sim *s, struct sim_node *to, struct sim_node *from);
void sim__ep_free(struct sim *s);
/* outside any swim call on nd: swim_set_digest() if its epoch changed */
void sim__ep_publish(struct sim *s, struct sim_node *nd);

#endif

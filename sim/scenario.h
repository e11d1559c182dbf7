/*
 * sim/scenario.h: what a simulation run does, from a small text file and
 * command-line flags.  One directive per line, '#' starts a comment:
 *
 *   nodes 1000                cluster size at start (warm: all know all)
 *   duration 300s             virtual time to run (ms, s, m, h)
 *   seed 42
 *   latency lan | wan | fixed:5ms
 *   loss 1%                   random loss per packet (also 0.01)
 *   mtu 1400                  packets above it are dropped; SWIM's body
 *                             budget is set to mtu - 81 (seal overhead)
 *   boot warm | cold          warm: tables pre-filled; cold: all join node 0
 *   ring on | off | auto      epoch/ring tracking (auto: on up to 2000 nodes)
 *   objects 100000            sample objects for placement figures
 *   sample 1s                 CSV time-series step
 *
 *   at TIME crash COUNT
 *   at TIME restart COUNT [down TIME]
 *   at TIME rolling COUNT every TIME [down TIME]
 *   at TIME leave COUNT
 *   at TIME join COUNT [over TIME]
 *   at TIME partition FRACTION [for TIME] [oneway]
 *   at TIME heal
 *   at TIME slow COUNT delay TIME [for TIME]
 *   at TIME loss PERCENT [for TIME]
 *
 * COUNT is a number of nodes or a percentage of the starting nodes ("1%",
 * at least one node when positive).  FRACTION is a percentage of live
 * nodes put on the minority side.  Errors name the line and the field.
 */
#ifndef SHEEPMESH_SIM_SCENARIO_H
#define SHEEPMESH_SIM_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

enum sim_act_kind {
	SIM_ACT_CRASH = 1,
	SIM_ACT_RESTART,
	SIM_ACT_ROLLING,
	SIM_ACT_LEAVE,
	SIM_ACT_JOIN,
	SIM_ACT_PARTITION,
	SIM_ACT_HEAL,
	SIM_ACT_SLOW,
	SIM_ACT_LOSS,
};

enum sim_latency { SIM_LAT_LAN = 0, SIM_LAT_WAN, SIM_LAT_FIXED };

struct sim_action {
	uint64_t at;                   /* ms */
	uint8_t  kind;                 /* enum sim_act_kind */
	uint8_t  pct;                  /* count is a percentage */
	uint8_t  oneway;               /* partition: minority -> majority only is cut */
	double   count;                /* nodes, or percent if pct; partition: percent */
	uint64_t dur;                  /* for / over / down, ms (0 = none / default) */
	uint64_t every;                /* rolling: gap between restarts */
	uint64_t delay;                /* slow: extra ms per packet */
	double   loss;                 /* loss: probability */
	int      line;
};

struct sim_scenario {
	uint32_t nodes;
	uint64_t duration_ms;
	uint64_t seed;
	uint8_t  latency;              /* enum sim_latency */
	uint32_t latency_ms;           /* fixed latency */
	double   loss;
	uint32_t mtu;
	uint8_t  cold_boot;
	int8_t   ring;                 /* 1 on, 0 off, -1 auto */
	uint32_t objects;
	uint64_t sample_ms;
	struct sim_action *acts;
	uint32_t n_acts, cap_acts;
};

/* Defaults: 200 nodes, 120 s, seed 1, LAN, no loss, MTU 1400, warm, ring auto,
 * 100000 objects, 1 s samples. */
void sim_scenario_init(struct sim_scenario *sc);
void sim_scenario_fini(struct sim_scenario *sc);

/*
 * Parse one line (directive or action).  0, or -EINVAL with a message in
 * err naming `where`:line, the field and the bad value; -ENOMEM.
 */
int sim_scenario_line(struct sim_scenario *sc, const char *line, const char *where, int lineno,
                      char *err, size_t errlen);
/* Every line of text (NUL-terminated); stops at the first error. */
int sim_scenario_text(struct sim_scenario *sc, const char *text, const char *where, char *err,
                      size_t errlen);
/* Read a file (at most 1 MiB) and parse it.  -errno for I/O errors. */
int sim_scenario_load(struct sim_scenario *sc, const char *path, char *err, size_t errlen);

/* "250ms", "1.5s", "5m", "2h" (bare number = seconds) -> ms.  0 or -EINVAL. */
int sim_parse_duration(const char *s, uint64_t *ms);
/* "1%" -> 0.01, "0.01" -> 0.01; must be in [0, 1].  0 or -EINVAL. */
int sim_parse_prob(const char *s, double *p);
/* Actual node count of a COUNT against a base (percent of base, >= 1 if > 0). */
uint32_t sim_action_count(const struct sim_action *a, uint32_t base);

#endif

/*
 * gossip/swim.h: SWIM membership with Lifeguard, as a sans-I/O state machine.
 *
 * No sockets, no clock, no globals, no logging: the caller feeds received
 * packet bodies (swim_on_packet) and the current time in ms (every call
 * takes `now`), calls swim_tick() at or after the deadline it returns, and
 * gets packets to send and membership events through the callbacks in
 * struct swim_env.  Randomness comes from a PRNG seeded by cfg->seed, so the
 * same seed and the same sequence of calls give the same outputs.
 *
 * Bodies are unsealed: the adapter wraps them with gossip/seal.h (the
 * nonce must be random, which would break determinism here).  Design
 * notes, formulas and the transport choices: gossip/SWIM.md.
 *
 * What goes out: per period one PING (+ PING-REQs to indirect_k members if
 * it times out); ACKs/NACKs for others; GOSSIP to gossip_fanout members
 * every gossip_interval_ms while updates wait; a direct PING to each
 * suspect every min-suspicion/2; push-pull chunks every
 * pushpull_interval_ms (scaled) and on swim_join().  Every body is at most
 * cfg.packet_max bytes.
 *
 * Adapter duties: persist the self incarnation (swim_member_at(s, 0)) and
 * pass it back in cfg.incarnation; pass a seq_base that grows across
 * restarts (e.g. CLOCK_REALTIME in microseconds); call swim_tick() at the
 * returned deadline and after anything that may have queued work (a
 * deadline in the past means "now").
 *
 * Callbacks run synchronously inside swim_* calls; they must not call back
 * into the same struct swim (copy what they need).  A `struct swim_member *`
 * passed to a callback is valid only during the callback.
 */
#ifndef SHEEPMESH_GOSSIP_SWIM_H
#define SHEEPMESH_GOSSIP_SWIM_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/member.h"
#include "gossip/wire.h"

#define SWIM_PACKET_MAX_DEFAULT (1400 - 81)   /* 1400 minus SEAL_OVERHEAD_MAX */
#define SWIM_PACKET_MIN         512
#define SWIM_DIGEST_LEN         WIRE_DIGEST_LEN   /* opaque ring digest on every packet */
#define SWIM_CONFIRM_MAX        8             /* Lifeguard confirmations remembered per suspicion */

enum swim_event {
	SWIM_EV_JOIN = 1,              /* first heard of (or back after dead/left) */
	SWIM_EV_ALIVE,                 /* suspect -> alive (refuted) */
	SWIM_EV_SUSPECT,
	SWIM_EV_DEAD,
	SWIM_EV_LEFT,
	SWIM_EV_UPDATE,                /* alive, new incarnation with other addresses or metadata */
};

struct swim_config {
	uint8_t          id[SWIM_ID_LEN];
	struct swim_addr gossip;       /* our UDP address as others reach it */
	struct swim_addr data;         /* our TCP data address */
	struct swim_meta meta;
	uint64_t         incarnation;  /* start value; persist it to survive restarts */
	uint64_t         seed;         /* PRNG seed */
	uint64_t         seq_base;     /* first packet seq - 1; must grow across restarts (SWIM.md) */
	uint32_t probe_interval_ms;    /* P: one probe per period */
	uint32_t probe_timeout_ms;     /* direct ack wait, then ping-req for the rest of P */
	uint32_t indirect_k;           /* relays asked per failed direct probe */
	uint32_t suspicion_mult;       /* alpha: min suspicion = alpha * max(1, log10 N) * P */
	uint32_t suspicion_max_mult;   /* beta: max suspicion = beta * min */
	uint32_t retransmit_mult;      /* lambda: each update sent lambda * ceil(log10(N + 1)) times */
	uint32_t awareness_max;        /* Lifeguard: timeouts scale by (score + 1), score < this */
	uint32_t pushpull_interval_ms; /* anti-entropy period (scaled up beyond 32 nodes), 0 = off */
	uint32_t leave_fanout;         /* members told directly on graceful leave */
	uint32_t gossip_interval_ms;   /* pending updates also pushed this often ... */
	uint32_t gossip_fanout;        /* ... to this many random members (0 = piggyback only) */
	uint32_t packet_max;           /* body bytes; sealed packet = body + seal overhead */
};

struct swim_env {
	void *ctx;
	/* Send body buf[len] to `to` (UDP).  Must copy what it keeps. */
	void (*send)(void *ctx, const struct swim_addr *to, const uint8_t *buf, size_t len);
	/* Membership change; may be NULL. */
	void (*on_event)(void *ctx, const struct swim_member *m, enum swim_event ev);
	/* Ring digest mismatch; may be NULL (added last: zero-initialised envs
	 * keep working).  Called after an accepted packet from a known member
	 * `from` carried a ring digest d that differs from ours, at most once
	 * per sender per protocol period (probe_interval_ms), and never while
	 * our own digest is unset.  Typical use: pull that member's ring. */
	void (*on_digest)(void *ctx, const struct swim_member *from, const uint8_t d[SWIM_DIGEST_LEN]);
};

struct swim_stats {
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
	uint64_t rx_type[WIRE_TYPE_MAX + 1];   /* accepted packets per message type */
	uint64_t rx_bad[WIRE_E_COUNT];         /* dropped per WIRE_E_* code: [-(code) + WIRE_E_FIRST] */
	uint64_t rx_replay;                    /* (sender, seq) seen before */
	uint64_t rx_too_old;                   /* seq below the replay window */
	uint64_t rx_self;                      /* claims to come from our own id */
	uint64_t rx_misdirected;               /* ping for another id */
	uint64_t rx_nomem;
	uint64_t probes, probes_failed, ping_reqs, nacks_rx, nacks_tx;
	uint64_t refutes, suspects, deaths, pushpulls;
	uint64_t updates_applied, updates_stale;
	uint64_t digest_mismatch;              /* on_digest calls (rate-limited mismatches) */
};

struct swim;

/* Defaults for a LAN (each value commented in swim_math.c). */
void swim_config_lan(struct swim_config *cfg);
/* Faster timers for a single host / tests: P = 200 ms. */
void swim_config_local(struct swim_config *cfg);

/*
 * Create a node that knows only itself.  id, gossip and data must be set;
 * zero timers take the LAN default; incarnation and seq_base at most 2^62.
 * 0, -EINVAL (bad config), -ENOMEM.
 */
int swim_new(struct swim **out, const struct swim_config *cfg, const struct swim_env *env,
             uint64_t now);
void swim_free(struct swim *s);

/*
 * One received, already unsealed body from `from` (the datagram's source,
 * where replies go; never NULL).  Returns 0 if accepted,
 * or the drop reason (WIRE_E_*, SWIM_DROP_*), always counted in stats;
 * a dropped packet changes nothing else.
 */
#define SWIM_DROP_REPLAY     (-5101)
#define SWIM_DROP_TOO_OLD    (-5102)
#define SWIM_DROP_SELF       (-5103)
#define SWIM_DROP_MISDIRECT  (-5104)
int swim_on_packet(struct swim *s, const struct swim_addr *from, const uint8_t *buf, size_t len,
                   uint64_t now);
/* Message for a SWIM_DROP_*, WIRE_E_* or -errno code; never NULL. */
const char *swim_strerror(int code);

/* Run everything due at `now`; returns the next deadline (ms, > now;
 * UINT64_MAX if nothing is pending). */
uint64_t swim_tick(struct swim *s, uint64_t now);
uint64_t swim_next_deadline(const struct swim *s);

/* Push-pull our table to these addresses and ask for theirs (join, or a
 * discovery hit).  0 or -EINVAL. */
int swim_join(struct swim *s, const struct swim_addr *seeds, size_t n, uint64_t now);

/* Graceful leave: mark ourselves left (new incarnation), tell leave_fanout
 * members directly, stop probing.  Keep calling tick/on_packet for a few
 * periods so acks carry the news, then swim_free(). */
int swim_leave(struct swim *s, uint64_t now);

/* New metadata (e.g. weight, generation): new incarnation, gossiped.
 * 0, -EINVAL after swim_leave, -EOVERFLOW if the incarnation is exhausted. */
int swim_set_meta(struct swim *s, const struct swim_meta *meta, uint64_t now);

/* Our ring digest, sent on every packet from now on (opaque here; the
 * layer above derives it from its ring version).  All zero = unset: no
 * digest is sent and received ones are ignored.  Setting a new value
 * does not reset the per-sender on_digest rate limit. */
void swim_set_digest(struct swim *s, const uint8_t d[SWIM_DIGEST_LEN]);
/* Our current digest (all zero if unset). */
const uint8_t *swim_get_digest(const struct swim *s);

/* Members (index 0 is self), valid until the next swim_* call that changes them. */
uint32_t swim_member_count(const struct swim *s);
const struct swim_member *swim_member_at(const struct swim *s, uint32_t i);
const struct swim_member *swim_member_find(const struct swim *s, const uint8_t id[SWIM_ID_LEN]);
/* Alive + suspect members, self included: the N of the formulas. */
uint32_t swim_live_count(const struct swim *s);
const struct swim_stats *swim_get_stats(const struct swim *s);
/* Lifeguard local health score, 0 = healthy. */
uint32_t swim_awareness(const struct swim *s);
/* Updates waiting to be piggybacked. */
uint32_t swim_pending_updates(const struct swim *s);

/* ---- protocol math, pure (swim_math.c), exposed for tests ---- */

/* Natural log without libm (deterministic everywhere); x > 0. */
double swim_ln(double x);
/* alpha * max(1, log10 n) * P, in ms. */
uint64_t swim_suspicion_min_ms(uint32_t alpha, uint32_t n, uint32_t interval_ms);
/* Lifeguard: max - (max - min) * ln(c + 1) / ln(k + 1), at least min; k < 1 gives min. */
uint64_t swim_suspicion_timeout_ms(uint32_t confirmations, uint32_t k, uint64_t min_ms,
                                   uint64_t max_ms);
/* lambda * ceil(log10(n + 1)). */
uint32_t swim_retransmit_limit(uint32_t lambda, uint32_t n);
/* timeout * (score + 1). */
uint64_t swim_awareness_scale(uint64_t timeout_ms, uint32_t score);
/* interval * (ceil(log2 n - log2 32) + 1) beyond 32 nodes, else interval. */
uint64_t swim_pushpull_scale(uint64_t interval_ms, uint32_t n);

#endif

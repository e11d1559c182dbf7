/*
 * gossip/swim_int.h: internals shared by swim.c (receive, lifecycle),
 * swim_probe.c (failure detection, timers), swim_merge.c (merge rules,
 * suspicion) and swim_dissem.c (piggyback queue, push-pull).  Not a contract.
 */
#ifndef SHEEPMESH_GOSSIP_SWIM_INT_H
#define SHEEPMESH_GOSSIP_SWIM_INT_H

#include <string.h>

#include "gossip/swim.h"

#define SWIM_RELAY_MAX 32              /* concurrent ping-req relays we serve */
#define SWIM_DEAD_RETRY_MS (15 * 60 * 1000)   /* push-pull may pick a member this long after its death */

/* One pending piggyback: the record sent is rebuilt from the table at send
 * time, so a newer change of the same member simply replaces it. */
struct swim_bcast {
	uint32_t idx;                  /* member index */
	uint32_t transmits;
	uint64_t order;                /* enqueue sequence: larger = fresher */
	uint8_t  from[SWIM_ID_LEN];    /* suspecter/declarer for short records */
};

/* Per-member state the wire never sees. */
struct swim_aux {
	uint32_t pp_seen;              /* last push-pull exchange id answered */
	uint32_t bq_slot;              /* 1 + index in the piggyback queue, 0 = not queued */
	uint64_t digest_next;          /* ms: no on_digest for this sender before then */
};

struct swim_suspicion {
	uint32_t idx;
	uint32_t k;                    /* confirmations that still shorten the timeout */
	uint32_t n;                    /* confirmations so far */
	uint32_t n_from;
	uint64_t start;                /* ms */
	uint64_t min_ms, max_ms;
	uint64_t deadline;             /* ms */
	uint64_t check_at;             /* ms: next direct ping carrying the suspicion */
	uint8_t  from[SWIM_CONFIRM_MAX][SWIM_ID_LEN];   /* who already counted */
};

struct swim_relay {
	uint8_t          used, nack_sent;
	uint32_t         my_probe;     /* seq of the ping we sent the target */
	uint32_t         req_probe;    /* requester's probe seq to echo */
	uint8_t          target[SWIM_ID_LEN];
	uint8_t          requester[SWIM_ID_LEN];
	struct swim_addr req_addr;
	uint64_t         nack_at, expire;
};

struct swim_probe {
	uint8_t  active, indirect_sent;
	uint32_t idx;                  /* target */
	uint32_t seq;
	uint32_t n_relays, nacks;
	uint32_t relays[16];           /* member indices asked to ping-req */
	uint64_t direct_deadline, end;
};

struct swim {
	struct swim_config   cfg;
	struct swim_env      env;
	struct member_table  t;        /* t.m[0] is self */
	uint64_t             rng[4];   /* xoshiro256** */
	uint64_t             tx_seq;
	uint32_t             probe_seq;
	uint32_t             pp_id;
	uint32_t             awareness;
	uint32_t             n_live;   /* alive + suspect, self included */
	uint8_t              leaving;
	uint8_t              has_digest;
	uint8_t              digest[SWIM_DIGEST_LEN];   /* ours, sent on every packet */

	uint32_t            *order;    /* probe list: shuffled member indices */
	uint32_t             n_order, cap_order, pos;
	struct swim_probe    probe;
	uint64_t             next_probe, next_pushpull, next_gossip;
	uint64_t             next_stranger_pp;   /* rate limit of push-pulls to unknown senders */

	struct swim_bcast   *bq;
	uint32_t             n_bq, cap_bq;
	uint64_t             bq_order;

	struct swim_suspicion *sus;
	uint32_t             n_sus, cap_sus;

	struct swim_relay    relays[SWIM_RELAY_MAX];

	struct swim_aux     *aux;      /* parallel to t.m, grown before t.m */
	uint32_t             cap_aux;

	struct swim_stats    stats;
	struct wire_update  *scratch;  /* WIRE_MAX_UPDATES, for decode and encode */
	struct wire_update  *scratch_tx;
	struct swim_bcast  **pick;     /* selection buffer for the piggyback queue */
	uint8_t             *txbuf;    /* packet_max bytes */
};

static inline int swim__id_eq(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, SWIM_ID_LEN) == 0;
}

/* alive or suspect: probed, placed, counted in N */
static inline int swim__live(uint8_t state)
{
	return state == SWIM_ALIVE || state == SWIM_SUSPECT;
}

static inline void swim__msg_init(struct wire_msg *msg, uint8_t type, uint32_t probe)
{
	memset(msg, 0, sizeof(*msg));
	msg->type = type;
	msg->probe = probe;
}

/* Fill in what every outgoing body carries: sender id and ring digest. */
static inline void swim__stamp(const struct swim *s, struct wire_msg *msg)
{
	memcpy(msg->sender, s->t.m[0].id, SWIM_ID_LEN);
	msg->has_digest = s->has_digest;
	memcpy(msg->digest, s->digest, SWIM_DIGEST_LEN);
}

/* swim.c */
uint64_t swim__rand(struct swim *s);
uint32_t swim__rand_below(struct swim *s, uint32_t n);
void swim__send(struct swim *s, const struct swim_addr *to, struct wire_msg *msg);
void swim__event(struct swim *s, uint32_t idx, enum swim_event ev);
/* state change keeping n_live right */
void swim__set_state(struct swim *s, uint32_t idx, uint8_t state, uint64_t now);

/* swim_merge.c */
void swim__apply(struct swim *s, const struct wire_update *u, const uint8_t *sender, int enqueue,
                 uint64_t now);
void swim__apply_suspect(struct swim *s, uint32_t idx, const uint8_t *from, uint64_t inc,
                         int enqueue, uint64_t now);
void swim__apply_down(struct swim *s, uint32_t idx, const uint8_t *from, uint64_t inc,
                      uint8_t state, int enqueue, uint64_t now);
void swim__sus_remove(struct swim *s, uint32_t idx);

/* swim_probe.c */
void swim__order_insert(struct swim *s, uint32_t idx);
void swim__awareness_apply(struct swim *s, int delta);
void swim__probe_acked(struct swim *s);
void swim__relay_start(struct swim *s, const struct wire_msg *msg, const struct swim_addr *from,
                       uint64_t now);
int swim__relay_ack(struct swim *s, const struct wire_msg *msg);

/* swim_dissem.c */
void swim__bq_push(struct swim *s, uint32_t idx, const uint8_t *from);
void swim__record(const struct swim *s, uint32_t idx, const uint8_t *from, struct wire_update *u);
/* Fill msg->updates (scratch_tx) from the queue within packet_max and send. */
void swim__send_piggyback(struct swim *s, const struct swim_addr *to, struct wire_msg *msg);
/* Same, with member `first`'s record placed first (Lifeguard buddy system). */
void swim__send_piggyback_first(struct swim *s, const struct swim_addr *to, struct wire_msg *msg,
                                uint32_t first);
void swim__pushpull_send(struct swim *s, const struct swim_addr *to, uint32_t flags);

#endif

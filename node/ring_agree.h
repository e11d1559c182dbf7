/*
 * ring_agree.h: the pure rules that turn what SWIM tells the gossip adapter
 * into ring events (gossip/epoch.h, gossip/RING.md "Rules for the adapter").
 * No I/O, no locks; unit-tested in tests/unit/test_node_ring.c.
 */
#ifndef NODE_RING_AGREE_H
#define NODE_RING_AGREE_H

#include <stdint.h>

#include "gossip/epoch.h"
#include "gossip/swim.h"

/*
 * The ring event a SWIM event about another member means, in *out:
 *   JOIN or UPDATE of an alive/suspect member -> IN at its generation
 *   (a join, a rejoin at generation+1, or a weight/zone change);
 *   DEAD (confirmed) or LEFT -> OUT at its generation.
 * SUSPECT and ALIVE (suspicion refuted) are no events: suspicion never
 * changes the ring.  Returns 1 if *out is an event, 0 if not (also for a
 * generation 0, which no node uses).
 */
int node_ring_event(const struct swim_member *m, enum swim_event ev, struct epoch_member *out);

/*
 * Were we declared OUT at (or beyond) our current generation?  Then the
 * node must rejoin: returns 1 with *next = the generation to rejoin at
 * (one above both ours and the OUT entry's), else 0.  `leaving` nodes
 * never rejoin.
 */
int node_ring_must_rejoin(const struct epoch *e, const uint8_t self[EPOCH_ID_LEN], uint64_t gen,
			  int leaving, uint64_t *next);

/* Our own entry: IN at gen (or OUT on leave) with our weight and zone. */
void node_ring_self_event(const uint8_t self[EPOCH_ID_LEN], uint64_t gen, uint8_t state,
			  uint16_t weight, uint32_t zone, struct epoch_member *out);

/*
 * Ring history pruning: given the stored versions' scalars oldest first,
 * the smallest scalar to keep so that the newest `keep` versions stay
 * (store_ring_prune()'s argument); 0 = keep all.
 */
uint64_t node_ring_keep_from(const uint64_t *scalars, uint32_t n, uint32_t keep);

#endif

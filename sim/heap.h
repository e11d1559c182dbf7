/*
 * sim/heap.h: the simulator's event queue, a binary min-heap ordered by
 * (time, insertion sequence).  Equal times pop in insertion order, which
 * is what makes a run reproducible: nothing depends on addresses or on
 * the heap's internal layout.  Caller memory (_init/_fini), no globals.
 */
#ifndef SHEEPMESH_SIM_HEAP_H
#define SHEEPMESH_SIM_HEAP_H

#include <stdint.h>

struct sim_ev {
	uint64_t at;                   /* virtual ms */
	uint64_t seq;                  /* set by sim_heap_push: FIFO among equal times */
	uint32_t kind;                 /* enum sim_ev_kind (sim_int.h) */
	uint32_t node;                 /* target node (or action index) */
	uint32_t from;                 /* packets: sending node */
	uint32_t len;                  /* packets: body length */
	uint32_t life;                 /* node life the event belongs to (stale if changed) */
	uint8_t *buf;                  /* packets: body (heap memory, owned by the event) */
};

struct sim_heap {
	struct sim_ev *ev;
	uint32_t n, cap;
	uint64_t seq;
};

void sim_heap_init(struct sim_heap *h);
/* Frees the heap array and every packet buffer still queued. */
void sim_heap_fini(struct sim_heap *h);
/* 0 or -ENOMEM.  ev->seq is assigned here. */
int sim_heap_push(struct sim_heap *h, struct sim_ev ev);
/* Earliest event into *out: 1, or 0 if empty. */
int sim_heap_pop(struct sim_heap *h, struct sim_ev *out);
/* Time of the earliest event, UINT64_MAX if empty. */
uint64_t sim_heap_peek(const struct sim_heap *h);

#endif

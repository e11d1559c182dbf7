/* sim/heap.c: event queue (see heap.h). */
#include "sim/heap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void sim_heap_init(struct sim_heap *h)
{
	memset(h, 0, sizeof(*h));
}

void sim_heap_fini(struct sim_heap *h)
{
	for (uint32_t i = 0; i < h->n; i++)
		free(h->ev[i].buf);
	free(h->ev);
	memset(h, 0, sizeof(*h));
}

static int sim_ev_less(const struct sim_ev *a, const struct sim_ev *b)
{
	return a->at != b->at ? a->at < b->at : a->seq < b->seq;
}

int sim_heap_push(struct sim_heap *h, struct sim_ev ev)
{
	uint32_t i;

	if (h->n == h->cap) {
		uint32_t ncap = h->cap ? h->cap * 2 : 1024;
		struct sim_ev *ne = realloc(h->ev, (size_t)ncap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		h->ev = ne;
		h->cap = ncap;
	}
	ev.seq = ++h->seq;
	i = h->n++;
	while (i > 0 && sim_ev_less(&ev, &h->ev[(i - 1) / 2])) {
		h->ev[i] = h->ev[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->ev[i] = ev;
	return 0;
}

int sim_heap_pop(struct sim_heap *h, struct sim_ev *out)
{
	struct sim_ev last;
	uint32_t i = 0;

	if (!h->n)
		return 0;
	*out = h->ev[0];
	last = h->ev[--h->n];
	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && sim_ev_less(&h->ev[c + 1], &h->ev[c]))
			c++;
		if (!sim_ev_less(&h->ev[c], &last))
			break;
		h->ev[i] = h->ev[c];
		i = c;
	}
	if (h->n)
		h->ev[i] = last;
	return 1;
}

uint64_t sim_heap_peek(const struct sim_heap *h)
{
	return h->n ? h->ev[0].at : UINT64_MAX;
}

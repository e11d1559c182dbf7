/* ring_agree.c: see ring_agree.h. */
#include "node/ring_agree.h"

#include <string.h>

void node_ring_self_event(const uint8_t self[EPOCH_ID_LEN], uint64_t gen, uint8_t state,
			  uint16_t weight, uint32_t zone, struct epoch_member *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->id, self, EPOCH_ID_LEN);
	out->version = gen;
	out->state = state;
	out->weight = weight;
	out->zone = zone;
}

int node_ring_event(const struct swim_member *m, enum swim_event ev, struct epoch_member *out)
{
	uint8_t state;

	switch (ev) {
	case SWIM_EV_JOIN:
	case SWIM_EV_UPDATE:
		/* a join learnt by push-pull may already be a death */
		if (m->state == SWIM_ALIVE || m->state == SWIM_SUSPECT)
			state = EPOCH_IN;
		else
			state = EPOCH_OUT;
		break;
	case SWIM_EV_DEAD:
	case SWIM_EV_LEFT:
		state = EPOCH_OUT;
		break;
	default:
		return 0;       /* SUSPECT, ALIVE: never a ring change */
	}
	if (m->meta.generation == 0)
		return 0;
	node_ring_self_event(m->id, m->meta.generation, state, m->meta.weight, m->meta.zone, out);
	return 1;
}

int node_ring_must_rejoin(const struct epoch *e, const uint8_t self[EPOCH_ID_LEN], uint64_t gen,
			  int leaving, uint64_t *next)
{
	const struct epoch_member *me = epoch_state_get(&e->state, self);

	if (leaving || !me || me->state != EPOCH_OUT || me->version < gen)
		return 0;
	/* learn the last generation first (the OUT may be for a later life) */
	*next = (me->version > gen ? me->version : gen) + 1;
	return 1;
}

uint64_t node_ring_keep_from(const uint64_t *scalars, uint32_t n, uint32_t keep)
{
	if (keep == 0 || n <= keep)
		return 0;
	return scalars[n - keep];
}

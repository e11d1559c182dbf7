/* gossip/member.c: member table (see member.h). */
#include "gossip/member.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void member_table_init(struct member_table *t)
{
	memset(t, 0, sizeof(*t));
}

void member_table_fini(struct member_table *t)
{
	free(t->m);
	free(t->by_id);
	memset(t, 0, sizeof(*t));
}

/* Position in by_id where id is or would be inserted; *found set. */
static uint32_t member_table_lower(const struct member_table *t, const uint8_t *id, int *found)
{
	uint32_t lo = 0, hi = t->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(t->m[t->by_id[mid]].id, id, SWIM_ID_LEN);

		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < t->n && memcmp(t->m[t->by_id[lo]].id, id, SWIM_ID_LEN) == 0;
	return lo;
}

int64_t member_table_find(const struct member_table *t, const uint8_t id[SWIM_ID_LEN])
{
	int found;
	uint32_t pos = member_table_lower(t, id, &found);

	return found ? (int64_t)t->by_id[pos] : -1;
}

int64_t member_table_add(struct member_table *t, const struct swim_member *m)
{
	int found;
	uint32_t pos = member_table_lower(t, m->id, &found);

	if (found)
		return -EEXIST;
	if (t->n == t->cap) {
		uint32_t ncap = t->cap ? t->cap * 2 : 16;
		struct swim_member *nm;
		uint32_t *ni;

		if (ncap > (1u << 24))
			return -ENOMEM;
		nm = realloc(t->m, (size_t)ncap * sizeof(*nm));
		if (!nm)
			return -ENOMEM;
		t->m = nm;
		ni = realloc(t->by_id, (size_t)ncap * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		t->by_id = ni;
		t->cap = ncap;
	}
	t->m[t->n] = *m;
	memmove(&t->by_id[pos + 1], &t->by_id[pos], (size_t)(t->n - pos) * sizeof(uint32_t));
	t->by_id[pos] = t->n;
	return t->n++;
}

int swim_addr_equal(const struct swim_addr *a, const struct swim_addr *b)
{
	size_t len = a->family == 6 ? 16 : 4;

	return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, len) == 0;
}

struct swim_addr swim_addr_v4(uint32_t ip, uint16_t port)
{
	struct swim_addr a;

	memset(&a, 0, sizeof(a));
	a.family = 4;
	a.ip[0] = ip >> 24;
	a.ip[1] = ip >> 16;
	a.ip[2] = ip >> 8;
	a.ip[3] = ip;
	a.port = port;
	return a;
}

const char *swim_state_name(int state)
{
	switch (state) {
	case SWIM_ALIVE: return "alive";
	case SWIM_SUSPECT: return "suspect";
	case SWIM_DEAD: return "dead";
	case SWIM_LEFT: return "left";
	}
	return "?";
}

/* gossip_view.c: the SM_MEMBERS and SM_STATUS views of node/gossip.h,
 * built under the adapter's mutex from worker threads. */
#include "node/gossip_int.h"
#include "node/netaddr.h"
#include "node/node_id.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- views (any thread) ---- */

struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (k < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)k < b->cap - b->n) {
			b->n += (size_t)k;
			return;
		}
		size_t nc = b->cap * 2 + (size_t)k;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
}

char *node_gossip_members_json(struct node_gossip *g, size_t *len)
{
	struct sbuf b = { .cap = 4096 };
	char hex[2 * SWIM_ID_LEN + 1], ga[NODE_ADDR_STRLEN], da[NODE_ADDR_STRLEN];

	if (!(b.p = malloc(b.cap)))
		return NULL;
	pthread_mutex_lock(&g->mu);
	sb_printf(&b, "{\"self\":\"%s\",\"cluster\":\"%s\",\"members\":[", g->idhex, g->cfg->cluster_name);
	uint32_t n = swim_member_count(g->swim);
	for (uint32_t i = 0; i < n; i++) {
		const struct swim_member *m = swim_member_at(g->swim, i);
		node_id_hex(m->id, hex);
		sb_printf(&b, "%s{\"id\":\"%s\",\"gossip\":\"%s\",\"data\":\"%s\",\"state\":\"%s\","
			  "\"incarnation\":%" PRIu64 ",\"generation\":%" PRIu64 ",\"zone\":%" PRIu32
			  ",\"weight\":%u}", i ? "," : "", hex, node_addr_format(&m->gossip, ga, sizeof(ga)),
			  node_addr_format(&m->data, da, sizeof(da)), swim_state_name(m->state),
			  m->incarnation, m->meta.generation, m->meta.zone, (unsigned)m->meta.weight);
	}
	pthread_mutex_unlock(&g->mu);
	sb_printf(&b, "]}\n");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.n;
	return b.p;
}

int node_gossip_status_json(struct node_gossip *g, char *buf, size_t cap)
{
	uint64_t wire_bad = 0;
	uint32_t states[SWIM_STATE_MAX + 1] = { 0 };

	pthread_mutex_lock(&g->mu);
	const struct swim_stats *st = swim_get_stats(g->swim);
	const struct seal_stats *ss = &g->seal.stats;
	for (int i = 0; i < WIRE_E_COUNT; i++)
		wire_bad += st->rx_bad[i];
	uint32_t n = swim_member_count(g->swim);
	for (uint32_t i = 0; i < n; i++)
		states[swim_member_at(g->swim, i)->state & 3]++;
	int k = snprintf(buf, cap,
		"{\"self\":\"%s\",\"cluster\":\"%s\",\"authenticated\":%s,\"keys\":%u,"
		"\"members\":%u,\"members_alive\":%u,\"members_suspect\":%u,\"members_dead\":%u,"
		"\"members_left\":%u,\"awareness\":%u,\"incarnation\":%" PRIu64 ","
		"\"packets_in\":%" PRIu64 ",\"packets_out\":%" PRIu64 ",\"bytes_in\":%" PRIu64
		",\"bytes_out\":%" PRIu64 ",\"send_errors\":%" PRIu64 ",\"receive_errors\":%" PRIu64 ","
		"\"dropped\":{\"truncated\":%" PRIu64 ",\"seal_short\":%" PRIu64 ",\"seal_tag\":%" PRIu64
		",\"seal_mode\":%" PRIu64 ",\"seal_auth\":%" PRIu64 ",\"seal_name\":%" PRIu64
		",\"seal_checksum\":%" PRIu64 ",\"wire\":%" PRIu64 ",\"replay\":%" PRIu64
		",\"too_old\":%" PRIu64 ",\"self\":%" PRIu64 ",\"misdirected\":%" PRIu64
		",\"no_mem\":%" PRIu64 "},"
		"\"probes\":%" PRIu64 ",\"probes_failed\":%" PRIu64 ",\"suspicions\":%" PRIu64
		",\"deaths\":%" PRIu64 ",\"refutations\":%" PRIu64 ",\"pushpulls\":%" PRIu64 ","
		"\"multicast\":%s,\"announcements_out\":%" PRIu64 ",\"announcements_in\":%" PRIu64
		",\"announcements_bad\":%" PRIu64 ",\"announcements_foreign\":%" PRIu64
		",\"discovery_joins\":%" PRIu64 ",\"seed_joins\":%" PRIu64 "}",
		g->idhex, g->cfg->cluster_name, g->seal.n_keys ? "true" : "false", g->seal.n_keys,
		n, states[SWIM_ALIVE], states[SWIM_SUSPECT], states[SWIM_DEAD], states[SWIM_LEFT],
		swim_awareness(g->swim), swim_member_at(g->swim, 0)->incarnation,
		g->rx_dgrams, g->tx_dgrams, st->rx_bytes, st->tx_bytes, g->tx_errors, g->rx_errors,
		g->rx_truncated, ss->short_pkt, ss->bad_tag, ss->wrong_mode, ss->open_failed,
		ss->name_mismatch, ss->bad_checksum, wire_bad, st->rx_replay, st->rx_too_old,
		st->rx_self, st->rx_misdirected, st->rx_nomem,
		st->probes, st->probes_failed, st->suspects, st->deaths, st->refutes, st->pushpulls,
		g->mcast.fd >= 0 ? "true" : "false", g->ann_tx, g->ann_rx, g->ann_bad, g->ann_other,
		g->ann_joins, g->seed_joins);
	pthread_mutex_unlock(&g->mu);
	return k < 0 || (size_t)k >= cap ? -1 : k;
}

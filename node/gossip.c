/*
 * gossip.c: see gossip.h.  The core is driven like tests/unit/fakenet.h
 * drives it: datagrams in (opened with gossip/seal.h, fed with their source
 * address), bodies out through env.send (sealed here), one ev_timer re-armed
 * to swim_next_deadline() after every call into the core.
 */
#include "node/gossip_int.h"
#include "node/discovery.h"
#include "node/netaddr.h"
#include "node/node_id.h"
#include "gossip/seal.h"
#include "gossip/swim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t real_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

#define drop_log node__drop_log

/* Rate-limited warning: hostile traffic must not flood the log. */
void node__drop_log(struct node_gossip *g, enum drop_class c, const char *fmt, ...)
{
	uint64_t now = mono_ms();
	char msg[300];
	va_list ap;

	if (g->droplog[c].last_ms && now - g->droplog[c].last_ms < DROP_LOG_INTERVAL_MS) {
		g->droplog[c].suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g->droplog[c].suppressed)
		log_warn(g->log, "gossip: %s (suppressed %" PRIu64 " similar)", msg, g->droplog[c].suppressed);
	else
		log_warn(g->log, "gossip: %s", msg);
	g->droplog[c].last_ms = now;
	g->droplog[c].suppressed = 0;
}

/* ---- core plumbing (loop thread, g->mu held) ---- */

static void persist_incarnation(struct node_gossip *g)
{
	const struct swim_member *self = swim_member_at(g->swim, 0);
	char err[512];

	if (!self)
		return;
	/* the next start uses saved + 1 as incarnation and ring generation, so
	 * the file also covers a ring rejoin's generation (gossip_ring.c) */
	uint64_t v = self->incarnation > g->r.generation ? self->incarnation : g->r.generation;
	if (v <= g->saved_inc)
		return;
	if (node_state_save(g->cfg->dir, v, err, sizeof(err)) < 0) {
		log_err(g->log, "gossip: %s (a restart may reuse an old incarnation)", err);
		return;
	}
	g->saved_inc = v;
}

static void rearm(struct node_gossip *g, uint64_t now)
{
	uint64_t dl = swim_next_deadline(g->swim);

	ev_timer_stop(g->loop, &g->tick);
	if (dl == UINT64_MAX)
		return;
	ev_timer_set(&g->tick, dl > now ? (double)(dl - now) / 1000.0 : 0.0, 0.0);
	ev_timer_start(g->loop, &g->tick);
}

/* after every call into the core (g->mu held): ring changes go out,
 * the incarnation is saved, the timer re-armed */
void node__after_core(struct node_gossip *g, uint64_t now)
{
	if (g->r.inited)
		node__ring_after_core(g, now);   /* may call swim_set_meta/_digest */
	persist_incarnation(g);
	rearm(g, now);
}
#define after_core node__after_core

static struct gsock *sock_for(struct node_gossip *g, uint8_t family)
{
	struct gsock *any = NULL;

	for (unsigned i = 0; i < g->nr_socks; i++) {
		struct gsock *s = &g->socks[i];
		if (s->bound.family != family)
			continue;
		/* the socket of our advertised address: replies come from it */
		if (memcmp(s->bound.ip, g->gossip_addr.ip, 16) == 0 || node_addr_is_any(&s->bound))
			return s;
		if (!any)
			any = s;
	}
	return any;
}

static void core_send(void *ctx, const struct swim_addr *to, const uint8_t *buf, size_t len)
{
	struct node_gossip *g = ctx;
	struct sockaddr_storage ss;
	struct gsock *s = sock_for(g, to->family);
	size_t n;

	if (!s || seal_pack_random(&g->seal, buf, len, g->txbuf, sizeof(g->txbuf), &n) < 0) {
		g->tx_errors++;
		return;
	}
	socklen_t sl = node_addr_to_sockaddr(to, &ss);
	if (sendto(s->fd, g->txbuf, n, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0) {
		g->tx_errors++;
		log_debug(g->log, "gossip: send to %s failed: %s",
			  node_addr_format(to, (char[NODE_ADDR_STRLEN]){ 0 }, NODE_ADDR_STRLEN), strerror(errno));
		return;
	}
	g->tx_dgrams++;
}

static void core_event(void *ctx, const struct swim_member *m, enum swim_event ev)
{
	struct node_gossip *g = ctx;
	char hex[2 * SWIM_ID_LEN + 1], ga[NODE_ADDR_STRLEN], da[NODE_ADDR_STRLEN];
	const char *what;

	if (memcmp(m->id, g->id, SWIM_ID_LEN) == 0)
		return;
	switch (ev) {
	case SWIM_EV_JOIN: what = "joined"; break;
	case SWIM_EV_ALIVE: what = "is alive again (suspicion refuted)"; break;
	case SWIM_EV_SUSPECT: what = "is suspect"; break;
	case SWIM_EV_DEAD: what = "is dead"; break;
	case SWIM_EV_LEFT: what = "left"; break;
	case SWIM_EV_UPDATE: what = "updated its record"; break;
	default: what = "changed"; break;
	}
	node_id_hex(m->id, hex);
	/* no swim_* call here: callbacks must not re-enter the core (swim.h);
	 * the ring change is published from after_core */
	node__ring_on_event(g, m, ev);
	log_info(g->log, "gossip: node %s (gossip %s, data %s) %s, incarnation %" PRIu64,
		 hex, node_addr_format(&m->gossip, ga, sizeof(ga)),
		 node_addr_format(&m->data, da, sizeof(da)), what, m->incarnation);
}

/* ---- timers ---- */

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node_gossip *g = w->data;
	uint64_t now = mono_ms();
	(void)loop;
	(void)revents;

	pthread_mutex_lock(&g->mu);
	swim_tick(g->swim, now);
	after_core(g, now);
	pthread_mutex_unlock(&g->mu);
}

static void join_seeds(struct node_gossip *g, uint64_t now)
{
	struct swim_addr seeds[NODE_MAX_JOIN];
	size_t n = 0;
	char err[512];

	for (unsigned i = 0; i < g->cfg->nr_join; i++) {
		struct swim_addr a;
		/* names are resolved at every attempt: a seed may come up later */
		if (node_addr_parse_hostport(g->cfg->join[i], 1, &a, err, sizeof(err)) < 0) {
			log_warn(g->log, "gossip: --join %s", err);
			continue;
		}
		if (swim_addr_equal(&a, &g->gossip_addr))
			continue;           /* ourselves: a shared seed list may name us */
		seeds[n++] = a;
	}
	if (!n)
		return;
	swim_join(g->swim, seeds, n, now);
	g->seed_joins++;
}

static void seeds_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node_gossip *g = w->data;
	uint64_t now = mono_ms();
	(void)revents;

	pthread_mutex_lock(&g->mu);
	/* alone (nobody answered yet, or everybody else died): ask the seeds */
	if (!g->leaving && swim_live_count(g->swim) <= 1) {
		join_seeds(g, now);
		after_core(g, now);
	}
	pthread_mutex_unlock(&g->mu);
	ev_timer_stop(loop, w);
	ev_timer_set(w, now - g->started_ms < SEED_FAST_WINDOW_MS ? SEED_RETRY_FAST_S : SEED_RETRY_SLOW_S, 0.);
	ev_timer_start(loop, w);
}

static void announce_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node_gossip *g = w->data;
	struct disc_announce a;
	uint8_t body[DISC_BODY_MAX];
	size_t n;
	(void)revents;

	memset(&a, 0, sizeof(a));
	snprintf(a.cluster, sizeof(a.cluster), "%s", g->cfg->cluster_name);
	memcpy(a.id, g->id, SWIM_ID_LEN);
	a.gossip = g->gossip_addr;
	int len = disc_announce_encode(&a, body, sizeof(body));
	pthread_mutex_lock(&g->mu);
	if (len > 0 && seal_pack_random(&g->seal, body, (size_t)len, g->txbuf, sizeof(g->txbuf), &n) == 0) {
		if (sendto(g->mcast.fd, g->txbuf, n, MSG_DONTWAIT, (struct sockaddr *)&g->mcast_to,
			   sizeof(g->mcast_to)) < 0) {
			g->tx_errors++;
			drop_log(g, DROP_ANNOUNCE, "multicast announcement to %s:%u failed: %s",
				 g->cfg->multicast_group, g->cfg->multicast_port, strerror(errno));
		} else {
			g->ann_tx++;
		}
	}
	pthread_mutex_unlock(&g->mu);
	/* 0, 1, 2, 4 s, then every 30 s with +-10% jitter so hosts do not sync */
	double d = disc_next_delay(g->n_announce++);
	if (d >= DISC_STEADY_S)
		d *= 0.9 + 0.2 * (double)randombytes_uniform(1001) / 1000.0;
	ev_timer_stop(loop, w);
	ev_timer_set(w, d, 0.);
	ev_timer_start(loop, w);
}

static void leave_finish(struct node_gossip *g)
{
	g->leave_done = 1;
	ev_timer_stop(g->loop, &g->leave_poll);
	if (g->done)
		g->done(g->done_arg);
}

/* Alive or suspect members other than ourselves. */
static uint32_t others_live(struct node_gossip *g)
{
	uint32_t n = swim_member_count(g->swim), live = 0;

	for (uint32_t i = 1; i < n; i++) {
		uint8_t st = swim_member_at(g->swim, i)->state;
		live += st == SWIM_ALIVE || st == SWIM_SUSPECT;
	}
	return live;
}

static void leave_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node_gossip *g = w->data;
	(void)loop;
	(void)revents;

	pthread_mutex_lock(&g->mu);
	uint32_t pending = swim_pending_updates(g->swim), others = others_live(g);
	pthread_mutex_unlock(&g->mu);
	if (pending == 0 || others == 0 || mono_ms() >= g->leave_deadline) {
		log_info(g->log, "gossip: leave announced (%s)", pending == 0 ? "all updates sent" :
			 others == 0 ? "nobody left to tell" : "time is up");
		leave_finish(g);
	}
}

/* ---- receive ---- */

static void on_seal_error(struct node_gossip *g, int rc, const struct sockaddr_storage *ss,
			  socklen_t sl, const char *what)
{
	struct swim_addr from;
	char a[NODE_ADDR_STRLEN] = "?";

	if (node_addr_from_sockaddr((const struct sockaddr *)ss, sl, &from) == 0)
		node_addr_format(&from, a, sizeof(a));
	drop_log(g, DROP_SEAL, "dropped %s from %s: %s", what, a, seal_strerror(rc));
}

static void gossip_rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gsock *s = w->data;
	struct node_gossip *g = s->g;
	uint64_t now = mono_ms();
	(void)loop;
	(void)revents;

	pthread_mutex_lock(&g->mu);
	for (int i = 0; i < RX_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct swim_addr from;
		size_t blen;
		ssize_t n = recvfrom(s->fd, g->rxbuf, sizeof(g->rxbuf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&ss, &sl);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				g->rx_errors++;   /* e.g. ICMP port unreachable reported on the socket */
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			continue;
		}
		g->rx_dgrams++;
		if ((size_t)n > sizeof(g->rxbuf)) {
			g->rx_truncated++;
			continue;
		}
		if (node_addr_from_sockaddr((struct sockaddr *)&ss, sl, &from) < 0)
			continue;
		int rc = seal_open(&g->seal, g->rxbuf, (size_t)n, g->body, sizeof(g->body), &blen);
		if (rc < 0) {
			on_seal_error(g, rc, &ss, sl, "gossip packet");
			continue;
		}
		rc = swim_on_packet(g->swim, &from, g->body, blen, now);
		if (rc < 0 && rc != SWIM_DROP_REPLAY && rc != SWIM_DROP_SELF)
			drop_log(g, DROP_WIRE, "dropped gossip packet from %s: %s",
				 node_addr_format(&from, (char[NODE_ADDR_STRLEN]){ 0 }, NODE_ADDR_STRLEN),
				 swim_strerror(rc));
	}
	after_core(g, now);
	pthread_mutex_unlock(&g->mu);
}

static int recently_joined(struct node_gossip *g, const uint8_t id[SWIM_ID_LEN], uint64_t now)
{
	for (unsigned i = 0; i < NR_RECENT; i++)
		if (g->recent[i].at && memcmp(g->recent[i].id, id, SWIM_ID_LEN) == 0 &&
		    now - g->recent[i].at < ANNOUNCE_BACKOFF_MS)
			return 1;
	memcpy(g->recent[g->recent_next].id, id, SWIM_ID_LEN);
	g->recent[g->recent_next].at = now;
	g->recent_next = (g->recent_next + 1) % NR_RECENT;
	return 0;
}

static void mcast_rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gsock *s = w->data;
	struct node_gossip *g = s->g;
	uint64_t now = mono_ms();
	(void)loop;
	(void)revents;

	pthread_mutex_lock(&g->mu);
	for (int i = 0; i < RX_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct disc_announce a;
		size_t blen;
		ssize_t n = recvfrom(s->fd, g->rxbuf, sizeof(g->rxbuf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&ss, &sl);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			continue;
		}
		if ((size_t)n > sizeof(g->rxbuf)) {
			g->ann_bad++;
			continue;
		}
		int rc = seal_open(&g->seal, g->rxbuf, (size_t)n, g->body, sizeof(g->body), &blen);
		if (rc < 0) {
			/* another cluster on the same group is normal: count, log rarely */
			g->ann_other++;
			on_seal_error(g, rc, &ss, sl, "announcement");
			continue;
		}
		rc = disc_announce_decode(g->body, blen, &a);
		if (rc < 0) {
			g->ann_bad++;
			drop_log(g, DROP_ANNOUNCE, "dropped %s", disc_strerror(rc));
			continue;
		}
		if (strcmp(a.cluster, g->cfg->cluster_name) != 0) {
			g->ann_other++;
			continue;
		}
		g->ann_rx++;
		if (memcmp(a.id, g->id, SWIM_ID_LEN) == 0 || g->leaving)
			continue;
		const struct swim_member *m = swim_member_find(g->swim, a.id);
		/* unknown, or gone in our view: push-pull (also merges two clusters) */
		if ((!m || m->state == SWIM_DEAD || m->state == SWIM_LEFT) &&
		    !recently_joined(g, a.id, now)) {
			char hex[2 * SWIM_ID_LEN + 1], ga[NODE_ADDR_STRLEN];
			node_id_hex(a.id, hex);
			log_info(g->log, "gossip: discovered node %s at %s by multicast", hex,
				 node_addr_format(&a.gossip, ga, sizeof(ga)));
			swim_join(g->swim, &a.gossip, 1, now);
			g->ann_joins++;
		}
	}
	after_core(g, now);
	pthread_mutex_unlock(&g->mu);
}

/* ---- start / stop ---- */

static int bind_udp(struct node_gossip *g, const char *ip, uint16_t port, int is_default)
{
	struct swim_addr a;
	struct sockaddr_storage ss;
	int one = 1;

	if (node_addr_parse_ip(ip, port, &a) < 0) {
		log_err(g->log, "gossip: listen address '%s' is not numeric", ip);
		return -1;
	}
	socklen_t sl = node_addr_to_sockaddr(&a, &ss);
	int fd = socket(a.family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (a.family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	struct gsock *s = &g->socks[g->nr_socks++];
	s->fd = fd;
	s->bound = a;
	s->g = g;
	ev_io_init(&s->io, gossip_rx_cb, fd, EV_READ);
	s->io.data = s;
	ev_io_start(g->loop, &s->io);
	log_info(g->log, "gossip: listening on udp %s", node_addr_format(&a, (char[NODE_ADDR_STRLEN]){ 0 },
									  NODE_ADDR_STRLEN));
	return 0;
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (is_default && a.family == 6 && (e == EAFNOSUPPORT || e == EADDRNOTAVAIL || e == EPROTONOSUPPORT)) {
		log_warn(g->log, "gossip: IPv6 unavailable (%s): no gossip on [::]:%u", strerror(e), port);
		return 0;
	}
	log_err(g->log, "gossip: cannot bind udp %s port %u (--gossip-port): %s", ip, port, strerror(e));
	return -1;
}

static int pick_advertise(struct node_gossip *g, uint16_t gport)
{
	const struct node_config *cfg = g->cfg;
	int all_specific = cfg->nr_listen > 0;

	for (unsigned i = 0; i < cfg->nr_listen; i++) {
		struct swim_addr a;
		if (node_addr_parse_ip(cfg->listen[i], 0, &a) < 0 || node_addr_is_any(&a))
			all_specific = 0;
	}
	if (cfg->advertise) {
		if (node_addr_parse_ip(cfg->advertise, gport, &g->gossip_addr) < 0) {
			log_err(g->log, "--advertise '%s' is not a numeric address", cfg->advertise);
			return -1;
		}
	} else if (all_specific) {
		/* the only (or first) address we listen on is the one others can use */
		node_addr_parse_ip(cfg->listen[0], gport, &g->gossip_addr);
	} else {
		node_addr_default_advertise(gport, &g->gossip_addr);
	}
	if (!sock_for(g, g->gossip_addr.family)) {
		log_err(g->log, "--advertise %s: no --listen address of that family to gossip from",
			node_addr_format_ip(&g->gossip_addr, (char[NODE_ADDR_STRLEN]){ 0 }, NODE_ADDR_STRLEN));
		return -1;
	}
	g->data_addr = g->gossip_addr;
	g->data_addr.port = (uint16_t)cfg->port;
	return 0;
}

static int setup_keys(struct node_gossip *g)
{
	const struct node_config *cfg = g->cfg;
	char err[600];

	if (seal_init(&g->seal, cfg->cluster_name) < 0) {
		log_err(g->log, "gossip: cannot initialise sealing (--cluster-name '%s', libsodium)",
			cfg->cluster_name);
		return -1;
	}
	for (unsigned i = 0; i < cfg->nr_key_files; i++) {
		uint8_t key[NODE_KEY_LEN];
		if (node_key_load(cfg->key_files[i], key, err, sizeof(err)) < 0) {
			log_err(g->log, "%s", err);
			return -1;
		}
		int rc = seal_key_add(&g->seal, key, i == 0);
		sodium_memzero(key, sizeof(key));
		if (rc < 0) {
			log_err(g->log, "--key-file %s: %s", cfg->key_files[i],
				rc == -EEXIST ? "same key as an earlier --key-file" : "too many keys");
			return -1;
		}
	}
	if (cfg->nr_key_files)
		log_info(g->log, "gossip: sealed with XChaCha20-Poly1305, %u key(s), primary %s",
			 cfg->nr_key_files, cfg->key_files[0]);
	else
		log_warn(g->log, "gossip is unauthenticated (no --key-file): packets carry the cluster "
			 "name '%s' and a checksum only; anyone on the network can forge them",
			 cfg->cluster_name);
	return 0;
}

static int setup_identity(struct node_gossip *g, uint64_t *inc)
{
	char err[600];
	uint64_t saved;

	int rc = node_id_load_or_create(g->cfg->dir, g->id, err, sizeof(err));
	if (rc < 0) {
		log_err(g->log, "%s", err);
		return -1;
	}
	node_id_hex(g->id, g->idhex);
	if (node_state_load(g->cfg->dir, &saved, err, sizeof(err)) < 0) {
		log_err(g->log, "%s", err);
		return -1;
	}
	/* raised at every start: news about our previous life loses */
	*inc = saved + 1;
	if (node_state_save(g->cfg->dir, *inc, err, sizeof(err)) < 0) {
		log_err(g->log, "%s", err);
		return -1;
	}
	g->saved_inc = *inc;
	log_info(g->log, "gossip: node id %s (%s), incarnation %" PRIu64, g->idhex,
		 rc == 1 ? "new" : "from " NODE_ID_FILE, *inc);
	return 0;
}

static void setup_multicast(struct node_gossip *g)
{
	const struct node_config *cfg = g->cfg;
	uint8_t iface[4];

	g->mcast.fd = -1;
	if (cfg->no_multicast) {
		log_info(g->log, "gossip: multicast discovery off (--no-multicast)");
		return;
	}
	if (g->gossip_addr.family != 4 || node_addr_is_loopback(&g->gossip_addr)) {
		/* a loopback or IPv6 address announced on a LAN helps nobody */
		log_info(g->log, "gossip: multicast discovery off: advertised address %s is %s "
			 "(use --join, or --advertise a LAN IPv4 address)",
			 node_addr_format_ip(&g->gossip_addr, (char[NODE_ADDR_STRLEN]){ 0 }, NODE_ADDR_STRLEN),
			 g->gossip_addr.family != 4 ? "IPv6" : "loopback");
		return;
	}
	memcpy(iface, g->gossip_addr.ip, 4);
	int fd = disc_socket_open(cfg->multicast_group, (uint16_t)cfg->multicast_port, iface);
	if (fd < 0) {
		log_warn(g->log, "gossip: multicast discovery off: cannot join %s:%u on %s: %s",
			 cfg->multicast_group, cfg->multicast_port,
			 node_addr_format_ip(&g->gossip_addr, (char[NODE_ADDR_STRLEN]){ 0 }, NODE_ADDR_STRLEN),
			 strerror(-fd));
		return;
	}
	g->mcast.fd = fd;
	g->mcast.g = g;
	memset(&g->mcast_to, 0, sizeof(g->mcast_to));
	g->mcast_to.sin_family = AF_INET;
	g->mcast_to.sin_port = htons((uint16_t)cfg->multicast_port);
	inet_pton(AF_INET, cfg->multicast_group, &g->mcast_to.sin_addr);
	ev_io_init(&g->mcast.io, mcast_rx_cb, fd, EV_READ);
	g->mcast.io.data = &g->mcast;
	ev_io_start(g->loop, &g->mcast.io);
	ev_timer_init(&g->announce, announce_cb, 0., 0.);
	g->announce.data = g;
	ev_timer_start(g->loop, &g->announce);
	log_info(g->log, "gossip: multicast discovery on %s:%u (ttl 1)", cfg->multicast_group,
		 cfg->multicast_port);
}

static void swim_settings(const struct node_config *cfg, struct swim_config *sc)
{
	uint32_t p = cfg->gossip_interval_ms;

	swim_config_lan(sc);
	if (p != sc->probe_interval_ms) {
		/* keep the LAN ratios: ack wait P/2, gossip push P/5, push-pull 30 P */
		sc->probe_interval_ms = p;
		sc->probe_timeout_ms = p / 2;
		sc->gossip_interval_ms = p / 5 < 20 ? 20 : p / 5;
		sc->pushpull_interval_ms = 30 * p < 5000 ? 5000 : 30 * p;
	}
}

int node_gossip_start(struct node_gossip **out, struct ev_loop *loop,
		      const struct node_config *cfg, struct node_log *log, struct store *st)
{
	struct node_gossip *g = calloc(1, sizeof(*g));
	struct swim_config sc;
	uint16_t gport = (uint16_t)(cfg->gossip_port ? cfg->gossip_port : cfg->port);
	uint64_t inc;

	*out = NULL;
	if (!g) {
		log_err(log, "gossip: out of memory");
		return -1;
	}
	g->loop = loop;
	g->log = log;
	g->cfg = cfg;
	g->mcast.fd = -1;
	pthread_mutex_init(&g->mu, NULL);
	ev_timer_init(&g->tick, tick_cb, 0., 0.);
	ev_timer_init(&g->seeds, seeds_cb, SEED_RETRY_FAST_S, 0.);
	ev_timer_init(&g->leave_poll, leave_poll_cb, 0.02, 0.02);
	g->tick.data = g->seeds.data = g->leave_poll.data = g;
	*out = g;   /* node_gossip_stop() cleans up whatever was set up */

	if (setup_keys(g) < 0 || setup_identity(g, &inc) < 0)
		return -1;
	if (cfg->nr_listen) {
		for (unsigned i = 0; i < cfg->nr_listen; i++)
			if (bind_udp(g, cfg->listen[i], gport, 0) < 0)
				return -1;
	} else if (bind_udp(g, "0.0.0.0", gport, 1) < 0 || bind_udp(g, "::", gport, 1) < 0) {
		return -1;
	}
	if (pick_advertise(g, gport) < 0)
		return -1;
	uint64_t gen = inc;             /* every start is a rejoin for the ring */
	if (node__ring_start(g, st, &gen) < 0)
		return -1;

	swim_settings(cfg, &sc);
	memcpy(sc.id, g->id, SWIM_ID_LEN);
	sc.gossip = g->gossip_addr;
	sc.data = g->data_addr;
	sc.meta.weight = (uint16_t)cfg->weight;
	sc.meta.zone = cfg->zone;
	sc.meta.generation = gen;
	sc.incarnation = inc;
	sc.seq_base = real_us();        /* grows across restarts (SWIM.md, replay) */
	randombytes_buf(&sc.seed, sizeof(sc.seed));
	struct swim_env env = { .ctx = g, .send = core_send, .on_event = core_event,
				.on_digest = node__ring_on_digest };
	uint64_t now = mono_ms();
	g->started_ms = now;
	int rc = swim_new(&g->swim, &sc, &env, now);
	if (rc < 0) {
		log_err(log, "gossip: cannot start the membership core: %s", swim_strerror(rc));
		return -1;
	}
	log_info(log, "gossip: cluster '%s', advertising gossip %s data %s, probe period %u ms",
		 cfg->cluster_name,
		 node_addr_format(&g->gossip_addr, (char[NODE_ADDR_STRLEN]){ 0 }, NODE_ADDR_STRLEN),
		 node_addr_format(&g->data_addr, (char[NODE_ADDR_STRLEN]){ 0 }, NODE_ADDR_STRLEN),
		 sc.probe_interval_ms);
	setup_multicast(g);
	pthread_mutex_lock(&g->mu);
	if (cfg->nr_join) {
		join_seeds(g, now);
		ev_timer_start(loop, &g->seeds);
	}
	after_core(g, now);
	pthread_mutex_unlock(&g->mu);
	return 0;
}

int node_gossip_leave(struct node_gossip *g, void (*done)(void *arg), void *arg)
{
	uint64_t now = mono_ms();

	if (!g || !g->swim || g->leave_done)
		return 1;
	if (g->leaving)
		return 0;
	g->leaving = 1;
	g->done = done;
	g->done_arg = arg;
	ev_timer_stop(g->loop, &g->seeds);
	if (g->mcast.fd >= 0)
		ev_timer_stop(g->loop, &g->announce);
	pthread_mutex_lock(&g->mu);
	uint32_t others = others_live(g);
	node__ring_leave(g);            /* our OUT: the others record it too (LEFT) */
	swim_leave(g->swim, now);
	after_core(g, now);
	pthread_mutex_unlock(&g->mu);
	if (!others) {
		g->leave_done = 1;
		return 1;
	}
	log_info(g->log, "gossip: leaving, telling %u live members", others);
	g->leave_deadline = now + NODE_GOSSIP_LEAVE_MAX_MS;
	ev_timer_start(g->loop, &g->leave_poll);
	return 0;
}

int node_gossip_leave_done(const struct node_gossip *g)
{
	return !g || !g->swim || g->leave_done;
}

void node_gossip_stop(struct node_gossip *g)
{
	if (!g)
		return;
	ev_timer_stop(g->loop, &g->tick);
	ev_timer_stop(g->loop, &g->seeds);
	ev_timer_stop(g->loop, &g->leave_poll);
	for (unsigned i = 0; i < g->nr_socks; i++) {
		ev_io_stop(g->loop, &g->socks[i].io);
		close(g->socks[i].fd);
	}
	if (g->mcast.fd >= 0) {
		ev_io_stop(g->loop, &g->mcast.io);
		ev_timer_stop(g->loop, &g->announce);
		close(g->mcast.fd);
	}
	node__ring_stop(g);             /* joins the puller before the core goes */
	if (g->swim) {
		persist_incarnation(g);
		swim_free(g->swim);
	}
	seal_fini(&g->seal);
	pthread_mutex_destroy(&g->mu);
	free(g);
}


/*
 * gossip/swim_math.c: the protocol's formulas and default settings, pure.
 *
 * No libm: the link lines do not carry -lm and determinism across hosts is
 * easier to argue with plain +,-,*,/ on doubles.
 */
#include "gossip/swim.h"

#include <string.h>

void swim_config_lan(struct swim_config *c)
{
	c->probe_interval_ms = 1000;       /* SWIM period; memberlist LAN default */
	c->probe_timeout_ms = 500;         /* > LAN RTT by far; the other half of P is for ping-req */
	c->indirect_k = 3;                 /* P(all k relay paths lost) small at 10% loss: 0.34^3 */
	c->suspicion_mult = 4;             /* alpha: min suspicion 4 * log10(N) periods */
	c->suspicion_max_mult = 6;         /* beta: a lone suspicion waits 6x longer */
	c->retransmit_mult = 4;            /* lambda: reaches all w.h.p. (SWIM paper section 4.1) */
	c->awareness_max = 8;              /* a sick node slows down at most 8x */
	c->pushpull_interval_ms = 30000;   /* full-table repair every 30 s (x log2 N/32 beyond 32) */
	c->leave_fanout = 4;               /* leave told directly to 4, then piggybacked */
	/* Piggyback alone spreads an update to ~2 new nodes per period: too slow
	 * against a 4*log10(N)-period suspicion at 10% loss (refutations lost
	 * the race in tests).  3 extra sends every 200 ms while updates wait,
	 * as memberlist does; nothing is sent when the queue is empty. */
	c->gossip_interval_ms = 200;
	c->gossip_fanout = 3;
	c->packet_max = SWIM_PACKET_MAX_DEFAULT;
}

void swim_config_local(struct swim_config *c)
{
	swim_config_lan(c);
	c->probe_interval_ms = 200;        /* loopback: RTT is microseconds */
	c->probe_timeout_ms = 100;
	c->pushpull_interval_ms = 10000;
	c->gossip_interval_ms = 50;
}

double swim_ln(double x)
{
	const double ln2 = 0.69314718055994530942;
	double z, z2, term, sum;
	int e = 0;

	if (x <= 0)
		return -1e300;
	/* x = m * 2^e with m in [1, 2) */
	while (x >= 2) {
		x /= 2;
		e++;
	}
	while (x < 1) {
		x *= 2;
		e--;
	}
	/* ln m = 2 atanh(z), z = (m-1)/(m+1) <= 1/3: 20 terms give < 1e-19 */
	z = (x - 1) / (x + 1);
	z2 = z * z;
	term = z;
	sum = 0;
	for (int k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= z2;
	}
	return e * ln2 + 2 * sum;
}

static double swim_log10(double x)
{
	return swim_ln(x) / 2.30258509299404568402;
}

uint64_t swim_suspicion_min_ms(uint32_t alpha, uint32_t n, uint32_t interval_ms)
{
	double scale = n > 10 ? swim_log10((double)n) : 1.0;

	return (uint64_t)((double)alpha * scale * (double)interval_ms + 0.5);   /* nearest ms */
}

uint64_t swim_suspicion_timeout_ms(uint32_t c, uint32_t k, uint64_t min_ms, uint64_t max_ms)
{
	double frac, raw;

	if (k < 1 || max_ms <= min_ms)
		return min_ms;
	if (c > k)
		c = k;
	frac = swim_ln((double)c + 1) / swim_ln((double)k + 1);
	raw = (double)max_ms - frac * (double)(max_ms - min_ms);
	return raw < (double)min_ms ? min_ms : (uint64_t)(raw + 0.5);
}

uint32_t swim_retransmit_limit(uint32_t lambda, uint32_t n)
{
	/* ceil(log10(n + 1)) by counting digits: exact, no floating point */
	uint32_t d = 0;
	uint64_t v = (uint64_t)n;   /* ceil(log10(n+1)) = number of decimal digits of n */

	while (v > 0) {
		d++;
		v /= 10;
	}
	return lambda * (d ? d : 1);
}

uint64_t swim_awareness_scale(uint64_t timeout_ms, uint32_t score)
{
	return timeout_ms * ((uint64_t)score + 1);
}

uint64_t swim_pushpull_scale(uint64_t interval_ms, uint32_t n)
{
	uint32_t mult = 1;

	/* ceil(log2(n) - log2(32)) + 1 = ceil(log2(n / 32)) + 1 */
	if (n <= 32)
		return interval_ms;
	for (uint64_t lim = 32; lim < n; lim *= 2)
		mult++;
	return interval_ms * mult;
}

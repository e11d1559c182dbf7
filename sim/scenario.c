/* sim/scenario.c: scenario text parser (see scenario.h). */
#include "sim/scenario.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_TOK_MAX 16

void sim_scenario_init(struct sim_scenario *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->nodes = 200;
	sc->duration_ms = 120000;
	sc->seed = 1;
	sc->latency = SIM_LAT_LAN;
	sc->mtu = 1400;
	sc->ring = -1;
	sc->objects = 100000;
	sc->sample_ms = 1000;
}

void sim_scenario_fini(struct sim_scenario *sc)
{
	free(sc->acts);
	sc->acts = NULL;
	sc->n_acts = sc->cap_acts = 0;
}

int sim_parse_duration(const char *s, uint64_t *ms)
{
	char *end;
	double v, mult = 1000;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v >= 0) || v > 1e9)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "s") || !*end)
		mult = 1000;
	else if (!strcmp(end, "m"))
		mult = 60000;
	else if (!strcmp(end, "h"))
		mult = 3600000;
	else
		return -EINVAL;
	*ms = (uint64_t)(v * mult + 0.5);
	return 0;
}

int sim_parse_prob(const char *s, double *p)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v >= 0))
		return -EINVAL;
	if (!strcmp(end, "%"))
		v /= 100;
	else if (*end)
		return -EINVAL;
	if (v > 1)
		return -EINVAL;
	*p = v;
	return 0;
}

/* COUNT: "12" or "1.5%" */
static int sim_parse_count(const char *s, double *v, uint8_t *pct)
{
	char *end;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	*v = strtod(s, &end);
	if (errno || end == s || !(*v >= 0) || *v > 1e7)
		return -EINVAL;
	if (!strcmp(end, "%")) {
		if (*v > 100)
			return -EINVAL;
		*pct = 1;
		return 0;
	}
	*pct = 0;
	if (*end || *v != floor(*v))
		return -EINVAL;
	return 0;
}

static int sim_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

uint32_t sim_action_count(const struct sim_action *a, uint32_t base)
{
	double c = a->pct ? a->count * base / 100.0 : a->count;
	uint32_t n = (uint32_t)(c + 0.5);

	return (n == 0 && c > 0) ? 1 : n;
}

static int sim_err(char *err, size_t errlen, const char *where, int line, const char *fmt, ...)
{
	va_list ap;
	int off = snprintf(err, errlen, "%s:%d: ", where, line);

	va_start(ap, fmt);
	if (off >= 0 && (size_t)off < errlen)
		vsnprintf(err + off, errlen - (size_t)off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

#define BAD(field, val, what) \
	sim_err(err, errlen, where, lineno, "field '%s': '%s' is not %s", field, val, what)
#define DUR_WHAT "a duration (e.g. 250ms, 30s, 5m)"
#define CNT_WHAT "a node count or percentage (e.g. 10, 1%)"
#define PROB_WHAT "a probability (e.g. 1% or 0.01)"

static int sim_act_push(struct sim_scenario *sc, const struct sim_action *a)
{
	if (sc->n_acts == sc->cap_acts) {
		uint32_t ncap = sc->cap_acts ? sc->cap_acts * 2 : 16;
		struct sim_action *na = realloc(sc->acts, (size_t)ncap * sizeof(*na));

		if (!na)
			return -ENOMEM;
		sc->acts = na;
		sc->cap_acts = ncap;
	}
	sc->acts[sc->n_acts++] = *a;
	return 0;
}

/* key VALUE pairs after the fixed arguments of an action */
static int sim_act_options(struct sim_action *a, char **tok, int nt, int i, const char *where,
                           int lineno, char *err, size_t errlen)
{
	while (i < nt) {
		const char *k = tok[i];
		uint64_t *dst = NULL;

		if (!strcmp(k, "oneway") && a->kind == SIM_ACT_PARTITION) {
			a->oneway = 1;
			i++;
			continue;
		}
		if (!strcmp(k, "for") && (a->kind == SIM_ACT_PARTITION || a->kind == SIM_ACT_SLOW ||
		                          a->kind == SIM_ACT_LOSS))
			dst = &a->dur;
		else if (!strcmp(k, "over") && a->kind == SIM_ACT_JOIN)
			dst = &a->dur;
		else if (!strcmp(k, "down") && (a->kind == SIM_ACT_RESTART || a->kind == SIM_ACT_ROLLING))
			dst = &a->dur;
		else if (!strcmp(k, "every") && a->kind == SIM_ACT_ROLLING)
			dst = &a->every;
		else if (!strcmp(k, "delay") && a->kind == SIM_ACT_SLOW)
			dst = &a->delay;
		else
			return sim_err(err, errlen, where, lineno, "field 'option': '%s' is not valid here", k);
		if (i + 1 >= nt)
			return sim_err(err, errlen, where, lineno, "field '%s': value missing", k);
		if (sim_parse_duration(tok[i + 1], dst))
			return BAD(k, tok[i + 1], DUR_WHAT);
		i += 2;
	}
	return 0;
}

static int sim_action_parse(struct sim_scenario *sc, char **tok, int nt, const char *where,
                            int lineno, char *err, size_t errlen)
{
	static const struct { char name[12]; uint8_t kind; } verbs[] = {
		{ "crash", SIM_ACT_CRASH }, { "restart", SIM_ACT_RESTART }, { "rolling", SIM_ACT_ROLLING },
		{ "leave", SIM_ACT_LEAVE }, { "join", SIM_ACT_JOIN }, { "partition", SIM_ACT_PARTITION },
		{ "heal", SIM_ACT_HEAL }, { "slow", SIM_ACT_SLOW }, { "loss", SIM_ACT_LOSS },
	};
	struct sim_action a;
	int i = 3, rc;

	memset(&a, 0, sizeof(a));
	a.line = lineno;
	if (nt < 3)
		return sim_err(err, errlen, where, lineno, "field 'action': missing (at TIME ACTION ...)");
	if (sim_parse_duration(tok[1], &a.at))
		return BAD("time", tok[1], DUR_WHAT);
	for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++)
		if (!strcmp(tok[2], verbs[k].name))
			a.kind = verbs[k].kind;
	if (!a.kind)
		return sim_err(err, errlen, where, lineno,
		               "field 'action': '%s' is not one of crash, restart, rolling, leave, join, "
		               "partition, heal, slow, loss", tok[2]);
	switch (a.kind) {
	case SIM_ACT_HEAL:
		break;
	case SIM_ACT_LOSS:
		if (nt < 4)
			return sim_err(err, errlen, where, lineno, "field 'loss': value missing");
		if (sim_parse_prob(tok[3], &a.loss))
			return BAD("loss", tok[3], PROB_WHAT);
		i = 4;
		break;
	case SIM_ACT_PARTITION:
		if (nt < 4)
			return sim_err(err, errlen, where, lineno, "field 'fraction': value missing");
		if (sim_parse_count(tok[3], &a.count, &a.pct) || !a.pct || a.count <= 0 || a.count >= 100)
			return BAD("fraction", tok[3], "a percentage between 0% and 100% (e.g. 30%)");
		i = 4;
		break;
	default:
		if (nt < 4)
			return sim_err(err, errlen, where, lineno, "field 'count': value missing");
		if (sim_parse_count(tok[3], &a.count, &a.pct))
			return BAD("count", tok[3], CNT_WHAT);
		i = 4;
		break;
	}
	rc = sim_act_options(&a, tok, nt, i, where, lineno, err, errlen);
	if (rc)
		return rc;
	if (a.kind == SIM_ACT_ROLLING && !a.every)
		return sim_err(err, errlen, where, lineno, "field 'every': required for rolling");
	if (a.kind == SIM_ACT_SLOW && !a.delay)
		return sim_err(err, errlen, where, lineno, "field 'delay': required for slow");
	if (sim_act_push(sc, &a))
		return sim_err(err, errlen, where, lineno, "out of memory");
	return 0;
}

int sim_scenario_line(struct sim_scenario *sc, const char *line, const char *where, int lineno,
                      char *err, size_t errlen)
{
	char buf[1024], *tok[SIM_TOK_MAX], *save = NULL, *p;
	int nt = 0;
	uint64_t u;

	if (strlen(line) >= sizeof(buf))
		return sim_err(err, errlen, where, lineno, "line longer than %zu bytes", sizeof(buf) - 1);
	strcpy(buf, line);
	if ((p = strchr(buf, '#')))
		*p = 0;
	for (p = strtok_r(buf, " \t\r\n", &save); p; p = strtok_r(NULL, " \t\r\n", &save)) {
		if (nt == SIM_TOK_MAX)
			return sim_err(err, errlen, where, lineno, "more than %d words", SIM_TOK_MAX);
		tok[nt++] = p;
	}
	if (!nt)
		return 0;
	if (!strcmp(tok[0], "at"))
		return sim_action_parse(sc, tok, nt, where, lineno, err, errlen);
	if (nt != 2)
		return sim_err(err, errlen, where, lineno, "field '%s': expected exactly one value", tok[0]);
	if (!strcmp(tok[0], "nodes")) {
		if (sim_parse_uint(tok[1], 1u << 20, &u) || u < 2)
			return BAD("nodes", tok[1], "a node count in [2, 1048576]");
		sc->nodes = (uint32_t)u;
	} else if (!strcmp(tok[0], "duration")) {
		if (sim_parse_duration(tok[1], &sc->duration_ms) || !sc->duration_ms)
			return BAD("duration", tok[1], DUR_WHAT);
	} else if (!strcmp(tok[0], "seed")) {
		if (sim_parse_uint(tok[1], UINT64_MAX, &sc->seed))
			return BAD("seed", tok[1], "an unsigned integer");
	} else if (!strcmp(tok[0], "latency")) {
		if (!strcmp(tok[1], "lan"))
			sc->latency = SIM_LAT_LAN;
		else if (!strcmp(tok[1], "wan"))
			sc->latency = SIM_LAT_WAN;
		else if (!strncmp(tok[1], "fixed:", 6) && !sim_parse_duration(tok[1] + 6, &u) && u < 60000) {
			sc->latency = SIM_LAT_FIXED;
			sc->latency_ms = (uint32_t)u;
		} else
			return BAD("latency", tok[1], "lan, wan or fixed:DURATION");
	} else if (!strcmp(tok[0], "loss")) {
		if (sim_parse_prob(tok[1], &sc->loss))
			return BAD("loss", tok[1], PROB_WHAT);
	} else if (!strcmp(tok[0], "mtu")) {
		if (sim_parse_uint(tok[1], 65535, &u) || u < 512 + 81)
			return BAD("mtu", tok[1], "a size in [593, 65535] bytes");
		sc->mtu = (uint32_t)u;
	} else if (!strcmp(tok[0], "boot")) {
		if (strcmp(tok[1], "warm") && strcmp(tok[1], "cold"))
			return BAD("boot", tok[1], "warm or cold");
		sc->cold_boot = !strcmp(tok[1], "cold");
	} else if (!strcmp(tok[0], "ring")) {
		if (!strcmp(tok[1], "on"))
			sc->ring = 1;
		else if (!strcmp(tok[1], "off"))
			sc->ring = 0;
		else if (!strcmp(tok[1], "auto"))
			sc->ring = -1;
		else
			return BAD("ring", tok[1], "on, off or auto");
	} else if (!strcmp(tok[0], "objects")) {
		if (sim_parse_uint(tok[1], 10000000, &u))
			return BAD("objects", tok[1], "a count in [0, 10000000]");
		sc->objects = (uint32_t)u;
	} else if (!strcmp(tok[0], "sample")) {
		if (sim_parse_duration(tok[1], &sc->sample_ms) || sc->sample_ms < 10)
			return BAD("sample", tok[1], "a duration of at least 10ms");
	} else {
		return sim_err(err, errlen, where, lineno,
		               "field 'directive': '%s' is not one of nodes, duration, seed, latency, loss, "
		               "mtu, boot, ring, objects, sample, at", tok[0]);
	}
	return 0;
}

int sim_scenario_text(struct sim_scenario *sc, const char *text, const char *where, char *err,
                      size_t errlen)
{
	int lineno = 0;

	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		char line[1024];
		int rc;

		lineno++;
		if (len >= sizeof(line))
			return sim_err(err, errlen, where, lineno, "line longer than %zu bytes", sizeof(line) - 1);
		memcpy(line, text, len);
		line[len] = 0;
		if (memchr(text, 0, len))
			return sim_err(err, errlen, where, lineno, "NUL byte in line");
		rc = sim_scenario_line(sc, line, where, lineno, err, errlen);
		if (rc)
			return rc;
		text += len + (nl ? 1 : 0);
	}
	return 0;
}

int sim_scenario_load(struct sim_scenario *sc, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	buf = malloc((1u << 20) + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	n = fread(buf, 1, 1u << 20, f);
	if (ferror(f) || !feof(f) || memchr(buf, 0, n)) {
		rc = ferror(f) ? -EIO : -EINVAL;
		snprintf(err, errlen, "%s: %s", path,
		         ferror(f) ? "read error" : memchr(buf, 0, n) ? "NUL byte in file" : "larger than 1 MiB");
		fclose(f);
		free(buf);
		return rc;
	}
	fclose(f);
	buf[n] = 0;
	rc = sim_scenario_text(sc, buf, path, err, errlen);
	free(buf);
	return rc;
}

/* log.c: see log.h. */
#include "node/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = { "err", "warn", "info", "debug" };

static const char *const bad_names[] = {
#define X(e, n) n,
	NODE_BAD_REASONS(X)
#undef X
};

void node_log_init(struct node_log *lg, int level)
{
	memset(lg, 0, sizeof(*lg));
	lg->level = level;
	lg->fd = STDERR_FILENO;
	pthread_mutex_init(&lg->mu, NULL);
	for (int i = 0; i < NODE_BAD_COUNT; i++)
		atomic_init(&lg->bad[i], 0);
}

void node_log_fini(struct node_log *lg)
{
	pthread_mutex_destroy(&lg->mu);
}

const char *node_log_level_name(int level)
{
	return level >= 0 && level <= NODE_LOG_DEBUG ? level_names[level] : "?";
}

int node_log_level_parse(const char *s)
{
	for (int i = 0; i <= NODE_LOG_DEBUG; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

const char *node_bad_reason_name(enum node_bad_reason r)
{
	return (unsigned)r < NODE_BAD_COUNT ? bad_names[r] : "?";
}

uint64_t node_log_bad_count(struct node_log *lg, enum node_bad_reason r)
{
	return (unsigned)r < NODE_BAD_COUNT ? atomic_load(&lg->bad[r]) : 0;
}

/* Formats "YYYY-mm-dd HH:MM:SS.mmm level: msg[suffix]\n" and writes it in
 * one call. Long messages are cut, never split. */
static void log_emit(struct node_log *lg, int level, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t n, cap = sizeof(line) - 1;   /* room for the newline */

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(line, cap, "%Y-%m-%d %H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, cap - n, ".%03ld %s: ", ts.tv_nsec / 1000000L,
			      node_log_level_name(level));
	if (n < cap) {
		int k = vsnprintf(line + n, cap - n, fmt, ap);
		if (k > 0)
			n = n + (size_t)k < cap ? n + (size_t)k : cap - 1;
	}
	if (suffix && n < cap) {
		int k = snprintf(line + n, cap - n, "%s", suffix);
		if (k > 0)
			n = n + (size_t)k < cap ? n + (size_t)k : cap - 1;
	}
	/* control characters from clients must not forge log lines */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = '?';
	line[n++] = '\n';
	ssize_t w = write(lg->fd, line, n);
	(void)w;   /* nowhere to report a failed log write */
}

void node_vlog(struct node_log *lg, int level, const char *fmt, va_list ap)
{
	if (level > lg->level)
		return;
	log_emit(lg, level, NULL, fmt, ap);
}

void node_log(struct node_log *lg, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	node_vlog(lg, level, fmt, ap);
	va_end(ap);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int log_vlimited(struct node_log *lg, unsigned key, int level, const char *fmt, va_list ap)
{
	uint64_t now = mono_ns(), suppressed;
	char suffix[64] = "";

	if (level > lg->level || key >= NODE_LIMIT_COUNT)
		return 0;
	pthread_mutex_lock(&lg->mu);
	if (lg->limit[key].logged &&
	    now - lg->limit[key].last_ns < (uint64_t)LOG_LIMIT_INTERVAL_S * 1000000000u) {
		lg->limit[key].suppressed++;
		pthread_mutex_unlock(&lg->mu);
		return 0;
	}
	suppressed = lg->limit[key].suppressed;
	lg->limit[key].suppressed = 0;
	lg->limit[key].last_ns = now;
	lg->limit[key].logged = 1;
	pthread_mutex_unlock(&lg->mu);
	if (suppressed)
		snprintf(suffix, sizeof(suffix), " (suppressed %llu similar)", (unsigned long long)suppressed);
	log_emit(lg, level, suffix, fmt, ap);
	return 1;
}

int node_log_limited(struct node_log *lg, enum node_limit_key key, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = log_vlimited(lg, (unsigned)key, level, fmt, ap);
	va_end(ap);
	return r;
}

void node_log_bad(struct node_log *lg, enum node_bad_reason r, const char *fmt, ...)
{
	va_list ap;
	if ((unsigned)r >= NODE_BAD_COUNT)
		return;
	atomic_fetch_add(&lg->bad[r], 1);
	va_start(ap, fmt);
	log_vlimited(lg, (unsigned)r, NODE_LOG_WARN, fmt, ap);
	va_end(ap);
}

void node_log_store_cb(void *ctx, int level, const char *fmt, ...)
{
	va_list ap;
	if (level < NODE_LOG_ERR)
		level = NODE_LOG_ERR;
	if (level > NODE_LOG_DEBUG)
		level = NODE_LOG_DEBUG;
	va_start(ap, fmt);
	node_vlog(ctx, level, fmt, ap);
	va_end(ap);
}

/*
 * log.h: sheepnode's logger. Lines go to stderr with a timestamp and a
 * level; one write(2) per line so threads never interleave inside a line.
 * Safe to call from any thread (the store logs from worker threads).
 *
 * Messages caused by clients go through a rate limiter: one line per key
 * per LOG_LIMIT_INTERVAL_S, the next one carrying "(suppressed N similar)".
 * A hostile client can therefore not flood the log, yet every bad request
 * is still counted (log_bad_count()), and the counts are in SM_STATUS.
 */
#ifndef NODE_LOG_H
#define NODE_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>

enum node_log_level { NODE_LOG_ERR = 0, NODE_LOG_WARN, NODE_LOG_INFO, NODE_LOG_DEBUG };

#define LOG_LIMIT_INTERVAL_S 10

/* Why a request was refused. X(enum suffix, JSON/log name). One list makes
 * the enum, the names and the counters, so they cannot drift. */
#define NODE_BAD_REASONS(X) \
	X(OVERSIZE_WRITE, "oversize_write")   /* WRITE data_length above max: connection closed */ \
	X(OVERSIZE_READ,  "oversize_read")    /* requested reply length above max */ \
	X(VERSION,        "version")          /* proto_ver > 2 */ \
	X(OPCODE,         "opcode")           /* unknown or unsupported opcode */ \
	X(LENGTH,         "length")           /* data_length not allowed for the opcode */ \
	X(FLAGS,          "flags")            /* WRITE flag missing or unexpected */ \
	X(NO_MEM,         "no_mem")           /* payload buffer could not be allocated */

enum node_bad_reason {
#define X(e, n) NODE_BAD_##e,
	NODE_BAD_REASONS(X)
#undef X
	NODE_BAD_COUNT
};

/* Rate-limit keys: every bad-request reason, plus a few daemon events that
 * clients can trigger at high rates. */
enum node_limit_key {
	NODE_LIMIT_CONN_REFUSED = NODE_BAD_COUNT,   /* --max-connections reached */
	NODE_LIMIT_ACCEPT_ERROR,                     /* accept() failed (EMFILE, ...) */
	NODE_LIMIT_CONN_ERROR,                       /* read/write error on a connection */
	NODE_LIMIT_STORE_RESULT,                     /* store returned a code we must not send */
	NODE_LIMIT_MEMORY,                           /* --max-buffer-mb reached */
	NODE_LIMIT_PEER,                             /* a replica or the leader failed a request */
	NODE_LIMIT_CATALOG,                          /* catalog sync/push trouble */
	NODE_LIMIT_COUNT
};

struct node_log {
	int level;                           /* messages above it are dropped */
	pthread_mutex_t mu;                  /* guards limit[] */
	struct {
		uint64_t last_ns;                /* CLOCK_MONOTONIC of the last line */
		uint64_t suppressed;             /* lines dropped since then */
		int logged;                      /* last_ns is valid */
	} limit[NODE_LIMIT_COUNT];
	atomic_uint_fast64_t bad[NODE_BAD_COUNT];
	int fd;                              /* where lines go (stderr) */
};

void node_log_init(struct node_log *lg, int level);
void node_log_fini(struct node_log *lg);

void node_log(struct node_log *lg, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void node_vlog(struct node_log *lg, int level, const char *fmt, va_list ap);

/* Logs at most once per LOG_LIMIT_INTERVAL_S per key; returns 1 if it
 * logged, 0 if the line was suppressed (and counted). */
int node_log_limited(struct node_log *lg, enum node_limit_key key, int level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Counts a bad request and logs it (rate-limited, level warn). */
void node_log_bad(struct node_log *lg, enum node_bad_reason r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

uint64_t node_log_bad_count(struct node_log *lg, enum node_bad_reason r);
const char *node_bad_reason_name(enum node_bad_reason r);

const char *node_log_level_name(int level);
/* "err", "warn", "info", "debug" -> level; -1 if unknown. */
int node_log_level_parse(const char *s);

/* Adapter for store_config.log (level numbers are the same, STORE_LOG_*). */
void node_log_store_cb(void *ctx, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(lg, ...)   node_log((lg), NODE_LOG_ERR, __VA_ARGS__)
#define log_warn(lg, ...)  node_log((lg), NODE_LOG_WARN, __VA_ARGS__)
#define log_info(lg, ...)  node_log((lg), NODE_LOG_INFO, __VA_ARGS__)
/* debug formatting is skipped entirely unless enabled */
#define log_debug(lg, ...) do { if ((lg)->level >= NODE_LOG_DEBUG) node_log((lg), NODE_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif

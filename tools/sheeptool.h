/*
 * sheeptool.h: what the sheeptool command files share (private to tools/;
 * sdclient.h is the wire library underneath).
 *
 * Each command is `int cmd_<group>_<name>(struct st_ctx *)` and returns an
 * exit code (ST_EXIT_*). Commands print their own results on stdout and
 * their errors on stderr through st_fail()/st_usage(), which name the
 * thing that failed and say what to do next.
 */
#ifndef SHEEPTOOL_H
#define SHEEPTOOL_H

#include <stdint.h>

#include "tools/sdclient.h"

/* Exit codes (doc/sheeptool.md lists them; scripts rely on them). */
enum {
	ST_EXIT_OK = 0,
	ST_EXIT_ERROR = 1,       /* anything not below */
	ST_EXIT_USAGE = 2,       /* bad command line: unknown option, bad size, ... */
	ST_EXIT_NOT_FOUND = 3,   /* no such VDI, snapshot or tag */
	ST_EXIT_UNAVAILABLE = 4, /* cannot reach the node, or it is not serving */
	ST_EXIT_UNSUPPORTED = 5, /* the node does not serve this (older sheepnode) */
	ST_EXIT_DEGRADED = 6,    /* cluster check: some object is short of good copies */
};

/* Options; each command declares which it accepts. */
enum {
	ST_OPT_CONN = 1 << 0,      /* -a, -p, -u, --timeout */
	ST_OPT_JSON = 1 << 1,      /* --json */
	ST_OPT_COPIES = 1 << 2,    /* --copies N */
	ST_OPT_SNAPSHOT = 1 << 3,  /* -s, --snapshot ID|TAG */
	ST_OPT_TAG = 1 << 4,       /* -t, --tag TAG */
	ST_OPT_FORCE = 1 << 5,     /* -f, --force */
	ST_OPT_LOCATE = 1 << 6,    /* --locate OID|VDI:INDEX (ring) */
	ST_OPT_SVG = 1 << 7,       /* --svg FILE (ring) */
	ST_OPT_REPAIR = 1 << 8,    /* --repair (cluster check) */
	ST_OPT_ALL = 1 << 9,       /* --all (node recovery) */
};

struct st_ctx;

struct st_cmd {
	const char *group;         /* "vdi", "node", or NULL for a top-level command */
	const char *name;
	int (*fn)(struct st_ctx *ctx);
	const char *args;          /* synopsis of the positional arguments */
	const char *help;          /* one line */
	const char *details;       /* more lines for `help CMD`, or NULL */
	unsigned opts;             /* ST_OPT_* accepted */
	int min_args, max_args;    /* positional arguments after the command */
};

struct st_ctx {
	const struct st_cmd *cmd;
	struct sd_addr addr;
	char addr_str[300];        /* addr for messages */
	char **argv;               /* positional arguments after the command */
	int argc;
	int json, force;
	int repair, all;           /* --repair, --all */
	unsigned copies;           /* 0: not given (cluster default) */
	const char *snapshot;      /* --snapshot value or NULL */
	const char *tag;           /* --tag value or NULL */
	const char *locate;        /* --locate value or NULL */
	const char *svg;           /* --svg value or NULL */
};

/* Connect to the node; on failure prints why (naming the address) and
 * returns ST_EXIT_UNAVAILABLE. */
int st_connect(struct st_ctx *ctx, struct sd_client **c);
/* "127.0.0.1:7000" or "unix:/path" for messages. */
const char *st_addr_str(const struct st_ctx *ctx);

/* Map a library result (0, SD_RES_* > 0, -errno) to an exit code. */
int st_exit_code(int ret);
/* Print "sheeptool: <what>: <reason>" and a hint line for ret; returns
 * st_exit_code(ret). */
int st_fail(const struct st_ctx *ctx, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Print "sheeptool: <message>" and the command's usage line; returns
 * ST_EXIT_USAGE. */
int st_usage(const struct st_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print "sheeptool: <message>" (no hint); returns code. */
int st_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Argument checks shared by the commands; they print and return
 * ST_EXIT_USAGE on bad input, 0 when fine. */
int st_check_name(const struct st_ctx *ctx, const char *what, const char *name);
int st_parse_size(const struct st_ctx *ctx, const char *what, const char *s, uint64_t *out);

/* Commands (tools/cmd_*.c). */
int cmd_vdi_create(struct st_ctx *ctx);
int cmd_vdi_list(struct st_ctx *ctx);
int cmd_vdi_info(struct st_ctx *ctx);
int cmd_vdi_delete(struct st_ctx *ctx);
int cmd_vdi_snapshot(struct st_ctx *ctx);
int cmd_vdi_clone(struct st_ctx *ctx);
int cmd_vdi_rollback(struct st_ctx *ctx);
int cmd_vdi_resize(struct st_ctx *ctx);
int cmd_vdi_read(struct st_ctx *ctx);
int cmd_vdi_write(struct st_ctx *ctx);
int cmd_vdi_import(struct st_ctx *ctx);
int cmd_vdi_export(struct st_ctx *ctx);
int cmd_node_info(struct st_ctx *ctx);
int cmd_node_list(struct st_ctx *ctx);
int cmd_keygen(struct st_ctx *ctx);
int cmd_version(struct st_ctx *ctx);
int cmd_ring(struct st_ctx *ctx);
int cmd_cluster_info(struct st_ctx *ctx);
int cmd_vdi_lock_list(struct st_ctx *ctx);
int cmd_vdi_lock_unlock(struct st_ctx *ctx);
int cmd_cluster_check(struct st_ctx *ctx);
int cmd_node_recovery(struct st_ctx *ctx);

/* The object-by-object check of `cluster check` without output, for
 * `cluster info`'s health (cmd_check.c): 0 with the counts filled, or an
 * exit code with why in err. */
struct ck_summary;
int st_check_quick(struct st_ctx *ctx, struct ck_summary *sum, char *err, size_t errlen);

/* Status documents (cmd_node.c). */

/* Ask the node at a for the JSON document of opcode (SD_OP_SM_STATUS,
 * SD_OP_SM_MEMBERS or SD_OP_SM_LOCKS); *doc is malloc'd, checked to be one JSON object, *len
 * its length. Returns a library result (-EBADMSG: malformed document). */
int st_status_fetch(struct st_ctx *ctx, const struct sd_addr *a, uint8_t opcode, char **doc,
		    size_t *len);
/* The raw value of member key of the JSON object obj[0..len) (top level
 * only; strings without their quotes, still escaped). 0 or -1. */
int st_json_get(const char *obj, size_t len, const char *key, const char **val, size_t *vlen);
/* The same for a non-negative integer. 0 or -1 (absent or not one). */
int st_json_get_u64(const char *obj, size_t len, const char *key, uint64_t *out);
/* Walk the JSON array arr[0..len): *pos = 0 before the first call; each
 * call gives the next element's raw span (strings without their quotes).
 * 1 = an element, 0 = the end, -1 = malformed. */
int st_json_array_next(const char *arr, size_t len, size_t *pos, const char **val, size_t *vlen);
/* The bytes of the raw JSON string contents s[0..n) into out (NUL
 * terminated, cut to fit cap); \u00XX gives byte XX, as our writers
 * escape bytes that are not UTF-8. Returns the length written. */
size_t st_json_unescape(const char *s, size_t n, char *out, size_t cap);

/* Helpers shared by cmd_vdi.c and cmd_vdi_io.c (cmd_vdi.c). */

/*
 * Find the vid of NAME (sel NULL: the working VDI) or of its snapshot sel:
 * all digits = snapshot id, falling back to a tag of that text; anything
 * else = tag. On success *snapid / *tag (either may be NULL) say which form
 * matched, for sd_disk_open(). Returns a library result.
 */
int st_vdi_lookup(struct sd_client *c, const char *name, const char *sel, uint32_t *vid,
		  uint32_t *snapid, const char **tag);
/* Open NAME (or its snapshot sel) as QEMU does; errors are printed.
 * Returns an exit code. */
int st_disk_open(struct st_ctx *ctx, const char *name, const char *sel, struct sd_disk **d);

#define SHEEPTOOL_TIMEOUT_MS 60000  /* default per-socket stall limit */

#endif

/*
 * sheeptool.c: the operator's command line. One table of commands drives
 * dispatch, option checks, `help` and `--help`; each command lives in a
 * tools/cmd_*.c file. Options may appear anywhere after the program name
 * (before or after the command), in "--opt value" or "--opt=value" form;
 * "--" ends them.
 */
#include "tools/sheeptool.h"
#include "tools/units.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct st_cmd st_cmds[] = {
	{ "vdi", "create", cmd_vdi_create, "NAME SIZE", "create a VDI (SIZE with units K, M, G, T)",
	  "SIZE is rounded up to a multiple of 512 bytes, as QEMU does. The limit is\n"
	  "2^20 objects (4 TiB with the default 4 MiB objects).",
	  ST_OPT_CONN | ST_OPT_COPIES, 2, 2 },
	{ "vdi", "list", cmd_vdi_list, "[NAME]", "list VDIs and snapshots (all, or those of NAME)",
	  "USED counts the objects a VDI owns, SHARED those it still shares with the\n"
	  "snapshot or clone base it came from (index slots x object size).",
	  ST_OPT_CONN | ST_OPT_JSON, 0, 1 },
	{ "vdi", "info", cmd_vdi_info, "NAME", "show one VDI or snapshot in detail", NULL,
	  ST_OPT_CONN | ST_OPT_JSON | ST_OPT_SNAPSHOT, 1, 1 },
	{ "vdi", "delete", cmd_vdi_delete, "NAME", "delete a VDI, or one snapshot with --snapshot",
	  "Deleting the working VDI keeps its snapshots; delete them one by one.",
	  ST_OPT_CONN | ST_OPT_SNAPSHOT, 1, 1 },
	{ "vdi", "snapshot", cmd_vdi_snapshot, "NAME", "take a snapshot of a VDI (optionally tagged)",
	  "The current state becomes the snapshot; the VDI keeps its name and goes on\n"
	  "from there (QEMU's sequence: header write with the tag, NEW_VDI).",
	  ST_OPT_CONN | ST_OPT_TAG, 1, 1 },
	{ "vdi", "clone", cmd_vdi_clone, "SNAPNAME[:ID|TAG] NEWNAME",
	  "create a VDI from a snapshot (copy-on-write)",
	  "Without :ID or :TAG (or --snapshot) the newest snapshot of SNAPNAME is used.",
	  ST_OPT_CONN | ST_OPT_SNAPSHOT, 2, 2 },
	{ "vdi", "rollback", cmd_vdi_rollback, "NAME", "return a VDI to a snapshot (--snapshot required)",
	  "The current working state of NAME is discarded (as QEMU's snapshot goto\n"
	  "does); take a snapshot first to keep it.",
	  ST_OPT_CONN | ST_OPT_SNAPSHOT, 1, 1 },
	{ "vdi", "resize", cmd_vdi_resize, "NAME SIZE", "grow a VDI (shrinking is refused)", NULL,
	  ST_OPT_CONN, 2, 2 },
	{ "vdi", "read", cmd_vdi_read, "NAME [OFFSET [LEN]]", "copy a range of a VDI to stdout",
	  "OFFSET and LEN take units; LEN defaults to the rest of the VDI.",
	  ST_OPT_CONN | ST_OPT_SNAPSHOT, 1, 3 },
	{ "vdi", "write", cmd_vdi_write, "NAME [OFFSET]", "copy stdin into a VDI at OFFSET",
	  "Fails without writing if stdin is a file that does not fit; a pipe that\n"
	  "runs past the end fails at that point (what was written stays).",
	  ST_OPT_CONN, 1, 2 },
	{ "vdi", "import", cmd_vdi_import, "NAME FILE", "create VDI NAME from a raw image file",
	  "All-zero object-sized ranges (4 MiB by default) and holes are not stored.",
	  ST_OPT_CONN | ST_OPT_COPIES, 2, 2 },
	{ "vdi", "export", cmd_vdi_export, "NAME FILE", "write a VDI (or snapshot) to a raw image file",
	  "Unallocated and all-zero ranges become holes in a regular FILE. FILE must\n"
	  "not exist unless --force is given.",
	  ST_OPT_CONN | ST_OPT_SNAPSHOT | ST_OPT_FORCE, 2, 2 },
	{ "vdi", "lock list", cmd_vdi_lock_list, "", "list the VDI locks the node holds (SM_LOCKS)",
	  "One line per lock: vid, VDI name, snapshot (id and tag, '-' for a working\n"
	  "VDI), type (normal or shared), holders and when it was taken. Locks exist\n"
	  "only on nodes started with --enforce-locks. On replicating nodes the\n"
	  "catalog leader takes all locks: its table is shown, whichever node is\n"
	  "asked. Exit code 5: the node does not serve SM_LOCKS (an older\n"
	  "sheepnode). --json prints the node's (or leader's) document.",
	  ST_OPT_CONN | ST_OPT_JSON, 0, 0 },
	{ "vdi", "lock unlock", cmd_vdi_lock_unlock, "NAME", "release the lock on a VDI (RELEASE_VDI)",
	  "Locks exist only on nodes started with --enforce-locks; a lock outlives\n"
	  "the client that took it (QEMU never releases after a crash). One unlock\n"
	  "drops one holder of a shared lock; the lock table (SM_LOCKS) says whether\n"
	  "a lock was held. Release only locks whose holder is gone.",
	  ST_OPT_CONN | ST_OPT_SNAPSHOT, 1, 1 },
	{ "node", "info", cmd_node_info, "", "show the node's status document (SM_STATUS)", NULL,
	  ST_OPT_CONN | ST_OPT_JSON, 0, 0 },
	{ "node", "list", cmd_node_list, "", "list the cluster members this node knows (SM_MEMBERS)",
	  "One line per member (* = the node asked): id, gossip and data address, state\n"
	  "(alive, suspect, dead, left), incarnation, zone and weight. USED,\n"
	  "CAPACITY and OBJECTS are asked of each alive member (SM_STATUS, 2 s\n"
	  "limit): the bytes its object index holds, the size of the file system of\n"
	  "its data directory, and the objects it stores. '-': not known (not\n"
	  "alive, no answer, older sheepnode).\n"
	  "--json prints the node's SM_MEMBERS document as is.",
	  ST_OPT_CONN | ST_OPT_JSON, 0, 0 },
	{ "node", "recovery", cmd_node_recovery, "", "show the recovery/anti-entropy/scrub status",
	  "From the node's SM_STATUS \"recovery\" section (or every alive member's with\n"
	  "--all): running or idle, ring epoch of the pass, objects done and left,\n"
	  "rate, bytes moved, copies pushed, pulled and removed, objects verified\n"
	  "and found in sync by summary, scrubbed, found corrupt and repaired,\n"
	  "passes, and the configured intervals and rate limit. A node that does not replicate has no recovery section:\n"
	  "shown as 'off'. Exit code 4 if a node asked did not answer.",
	  ST_OPT_CONN | ST_OPT_JSON | ST_OPT_ALL, 0, 0 },
	{ "cluster", "info", cmd_cluster_info, "", "show ring version, default copies, nodes, health",
	  "From the node asked: its ring epoch and digest, the cluster's default\n"
	  "copies (GET_CLUSTER_DEFAULT), member counts by state, whether it\n"
	  "replicates, and health: ok, degraded or unknown, with the reason. Without\n"
	  "replication each VDI lives only on the node that serves it: health is ok\n"
	  "when no member is suspect or dead. With it, a suspect or dead member\n"
	  "means degraded; otherwise health is the verdict of the object check of\n"
	  "'cluster check': ok only when it is clean, else \"degraded: N objects\n"
	  "short of copies\" (unknown if the check could not run).",
	  ST_OPT_CONN | ST_OPT_JSON, 0, 0 },
	{ "cluster", "check", cmd_cluster_check, "",
	  "check that every object has its copies (--repair: fix)",
	  "Asks every alive member for its object index (SM_OBJECTS) and reads the\n"
	  "VDI catalog (copies, objects each index references), computes each\n"
	  "object's replicas from the ring of the node asked (as `ring --locate`)\n"
	  "with its VDI's copies (or the cluster default), and reports per object:\n"
	  "copies missing (no copy, file gone from disk, node not alive or not\n"
	  "answering), stale (older version than the newest), checksum mismatches,\n"
	  "and extra copies on nodes that are not replicas (normal right after a\n"
	  "ring change, until recovery removes them); 'no copy left' when no node\n"
	  "has the object any more. Last line: objects, ok, degraded, extra,\n"
	  "orphan (no VDI owns them). Exit code 0: no object degraded (extra\n"
	  "copies allowed); 6: some object degraded.\n"
	  "--repair asks every alive node for a recovery pass now (SM_RECOVER),\n"
	  "waits for the passes and checks again, until clean or --timeout seconds\n"
	  "(default 60) have passed; a progress line on a terminal, quiet otherwise.",
	  ST_OPT_CONN | ST_OPT_JSON | ST_OPT_REPAIR, 0, 0 },
	{ NULL, "ring", cmd_ring, "", "show the ring: version, members, vnodes, shares",
	  "Asks the node for its epoch (SM_RING) and membership (SM_MEMBERS) and\n"
	  "computes the ring locally, as every node does. --locate prints the\n"
	  "replica nodes of an object (OID in hex, or VDI:INDEX); --svg draws the ring.",
	  ST_OPT_CONN | ST_OPT_JSON | ST_OPT_COPIES | ST_OPT_LOCATE | ST_OPT_SVG, 0, 0 },
	{ NULL, "keygen", cmd_keygen, "FILE", "write a new 32-byte cluster key to FILE (mode 0600)",
	  "FILE must not exist: an existing key is never overwritten.", 0, 1, 1 },
	{ NULL, "version", cmd_version, "", "print sheeptool's version", NULL, 0, 0, 0 },
};
#define ST_NR_CMDS (sizeof(st_cmds) / sizeof(st_cmds[0]))

struct st_optdef {
	unsigned bit;
	char shortname;
	const char *longname;
	const char *arg;            /* NULL: a flag */
	const char *help;
};

static const struct st_optdef st_optdefs[] = {
	{ ST_OPT_CONN, 'a', "address", "HOST", "node address (default 127.0.0.1)" },
	{ ST_OPT_CONN, 'p', "port", "PORT", "node port (default 7000)" },
	{ ST_OPT_CONN, 'u', "unix", "PATH", "connect to the node's unix socket instead" },
	{ ST_OPT_CONN, 0, "timeout", "SEC", "give up on a stalled node after SEC seconds (default 60)" },
	{ ST_OPT_JSON, 0, "json", NULL, "machine-readable output (doc/sheeptool.md)" },
	{ ST_OPT_COPIES, 0, "copies", "N", "number of copies, 1-31 (default: the cluster's)" },
	{ ST_OPT_SNAPSHOT, 's', "snapshot", "ID|TAG", "a snapshot, by id or by tag" },
	{ ST_OPT_TAG, 't', "tag", "TAG", "snapshot tag (up to 255 bytes)" },
	{ ST_OPT_FORCE, 'f', "force", NULL, "overwrite FILE if it exists" },
	{ ST_OPT_LOCATE, 0, "locate", "OID|VDI:INDEX", "replica nodes of an object" },
	{ ST_OPT_SVG, 0, "svg", "FILE", "draw the ring into FILE (SVG)" },
	{ ST_OPT_REPAIR, 0, "repair", NULL, "start recovery on every node, wait until clean" },
	{ ST_OPT_ALL, 0, "all", NULL, "every alive member, not only the node asked" },
};
#define ST_NR_OPTS (sizeof(st_optdefs) / sizeof(st_optdefs[0]))

/* ------------------------------------------------------------- messages */

const char *st_addr_str(const struct st_ctx *ctx)
{
	return ctx->addr_str;
}

static void addr_describe(struct st_ctx *ctx)
{
	const struct sd_addr *a = &ctx->addr;

	if (a->is_unix)
		snprintf(ctx->addr_str, sizeof(ctx->addr_str), "unix:%s", a->path);
	else if (strchr(a->host, ':'))
		snprintf(ctx->addr_str, sizeof(ctx->addr_str), "[%s]:%s", a->host, a->port);
	else
		snprintf(ctx->addr_str, sizeof(ctx->addr_str), "%s:%s", a->host, a->port);
}

static int is_transport_error(int ret)
{
	switch (-ret) {
	case ECONNREFUSED: case ECONNRESET: case ECONNABORTED: case EPIPE:
	case ETIMEDOUT: case EAGAIN: case EHOSTUNREACH: case ENETUNREACH:
	case EADDRNOTAVAIL: case ENOENT: case ENOTSOCK: case EACCES:
		return 1;
	default:
		return 0;
	}
}

int st_exit_code(int ret)
{
	if (ret == 0)
		return ST_EXIT_OK;
	if (ret < 0)
		return is_transport_error(ret) ? ST_EXIT_UNAVAILABLE : ST_EXIT_ERROR;
	switch (ret) {
	case SD_RES_NO_VDI: case SD_RES_NO_TAG: case SD_RES_NO_OBJ: case SD_RES_NO_BASE_VDI:
		return ST_EXIT_NOT_FOUND;
	case SD_RES_STARTUP: case SD_RES_SHUTDOWN: case SD_RES_WAIT_FOR_FORMAT:
	case SD_RES_WAIT_FOR_JOIN: case SD_RES_JOIN_FAILED: case SD_RES_HALT:
		return ST_EXIT_UNAVAILABLE;
	default:
		return ST_EXIT_ERROR;
	}
}

/* What to do about ret, or NULL. */
static const char *st_hint(int ret)
{
	if (ret < 0) {
		if (ret == -EAGAIN)
			return "the node stopped answering: check its log, or raise --timeout";
		if (is_transport_error(ret))
			return "is sheepnode running there? start it, or point -a/-p/-u at a running node";
		if (ret == -EPROTO)
			return "the node broke the protocol: check that it is a sheepnode of this version";
		return NULL;
	}
	switch (ret) {
	case SD_RES_NO_VDI: return "list VDIs with 'sheeptool vdi list'";
	case SD_RES_NO_TAG: return "list snapshots with 'sheeptool vdi list NAME'";
	case SD_RES_VDI_EXIST: return "choose another name, or delete the existing VDI first";
	case SD_RES_VDI_LOCKED: return "another client holds the VDI: stop it, or wait";
	case SD_RES_NO_SPACE: return "free space on the node's data directory";
	case SD_RES_FULL_VDI: return "all 2^24 VDI ids are used";
	case SD_RES_INVALID_PARMS: return "the node refused the request's parameters: see its log";
	case SD_RES_READONLY: return "that is a snapshot; write to the VDI itself, or clone the snapshot";
	case SD_RES_STARTUP: case SD_RES_WAIT_FOR_FORMAT: case SD_RES_WAIT_FOR_JOIN:
		return "the node is not ready yet: retry in a moment";
	case SD_RES_SHUTDOWN: case SD_RES_HALT:
		return "the node is shutting down or halted: check its log";
	default: return "see the node's log for details";
	}
}

static const char *st_reason(int ret)
{
	static const char *const text[] = {
		[SD_RES_NO_VDI] = "no such VDI", [SD_RES_NO_TAG] = "no such snapshot",
		[SD_RES_VDI_EXIST] = "already exists", [SD_RES_NO_OBJ] = "object not found",
		[SD_RES_EIO] = "I/O error on the node", [SD_RES_NO_SPACE] = "node out of space",
		[SD_RES_INVALID_PARMS] = "invalid parameters", [SD_RES_READONLY] = "read-only",
		[SD_RES_VDI_LOCKED] = "locked", [SD_RES_NO_BASE_VDI] = "base VDI not found",
		[SD_RES_SYSTEM_ERROR] = "system error on the node", [SD_RES_NO_MEM] = "node out of memory",
	};
	if (ret > 0 && (size_t)ret < sizeof(text) / sizeof(text[0]) && text[ret])
		return text[ret];
	return NULL;
}

int st_fail(const struct st_ctx *ctx, int ret, const char *fmt, ...)
{
	va_list ap;
	const char *hint = st_hint(ret), *why = st_reason(ret);

	(void)ctx;
	fputs("sheeptool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (ret > 0)
		fprintf(stderr, ": %s (%s)\n", why ? why : sd_client_strerror(ret), sd_client_strerror(ret));
	else if (ret < 0)
		fprintf(stderr, ": %s\n", sd_client_strerror(ret));
	else
		fputc('\n', stderr);
	if (hint)
		fprintf(stderr, "sheeptool: hint: %s\n", hint);
	return st_exit_code(ret);
}

int st_error(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("sheeptool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static void print_usage_line(FILE *f, const struct st_cmd *c)
{
	fprintf(f, "usage: sheeptool %s%s%s%s%s", c->group ? c->group : "", c->group ? " " : "",
		c->name, *c->args ? " " : "", c->args);
	for (size_t i = 0; i < ST_NR_OPTS; i++) {
		const struct st_optdef *o = &st_optdefs[i];

		if (!(c->opts & o->bit) || o->bit == ST_OPT_CONN)
			continue;
		fprintf(f, " [--%s%s%s]", o->longname, o->arg ? " " : "", o->arg ? o->arg : "");
	}
	fputc('\n', f);
}

int st_usage(const struct st_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fputs("sheeptool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (ctx && ctx->cmd)
		print_usage_line(stderr, ctx->cmd);
	return ST_EXIT_USAGE;
}

int st_check_name(const struct st_ctx *ctx, const char *what, const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return st_usage(ctx, "%s is empty", what);
	if (n >= SD_NAME_LEN)
		return st_usage(ctx, "%s '%.20s...' is %zu bytes long; the limit is %d", what, name, n,
				SD_NAME_LEN - 1);
	return 0;
}

int st_parse_size(const struct st_ctx *ctx, const char *what, const char *s, uint64_t *out)
{
	int ret = units_parse_size(s, out);

	if (ret == -ERANGE)
		return st_usage(ctx, "%s '%s' is too large", what, s);
	if (ret)
		return st_usage(ctx, "%s '%s' is not a size: use a number with an optional unit "
				"(K, M, G, T or KiB, MiB, GiB, TiB), e.g. 10G", what, s);
	return 0;
}

int st_connect(struct st_ctx *ctx, struct sd_client **c)
{
	int ret = sd_client_connect(c, &ctx->addr);

	if (ret) {
		/* whatever the errno, a node we cannot reach is "unavailable" */
		st_fail(ctx, ret, "cannot connect to node %s", st_addr_str(ctx));
		return ST_EXIT_UNAVAILABLE;
	}
	return 0;
}

/* ----------------------------------------------------------------- help */

static void print_opts(FILE *f, unsigned mask)
{
	for (size_t i = 0; i < ST_NR_OPTS; i++) {
		const struct st_optdef *o = &st_optdefs[i];
		char left[40];

		if (!(mask & o->bit))
			continue;
		if (o->shortname)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shortname, o->longname,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->longname, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		fprintf(f, "  %-24s %s\n", left, o->help);
	}
}

static void print_cmd_help(FILE *f, const struct st_cmd *c)
{
	print_usage_line(f, c);
	fprintf(f, "%s.\n", c->help);
	if (c->details)
		fprintf(f, "\n%s\n", c->details);
	if (c->opts) {
		fputs("\noptions:\n", f);
		print_opts(f, c->opts);
	}
	fputs("  -h, --help               show this help\n", f);
}

static void print_group_help(FILE *f, const char *group)
{
	fprintf(f, "usage: sheeptool %s COMMAND [ARGS] [OPTIONS]\n\ncommands:\n", group);
	for (size_t i = 0; i < ST_NR_CMDS; i++) {
		const struct st_cmd *c = &st_cmds[i];
		char left[64];

		if (!c->group || strcmp(c->group, group))
			continue;
		snprintf(left, sizeof(left), "%s %s", c->name, c->args);
		fprintf(f, "  %-32s %s\n", left, c->help);
	}
	fprintf(f, "\n'sheeptool help %s COMMAND' shows a command's options.\n", group);
}

static void print_main_help(FILE *f)
{
	fputs("usage: sheeptool [-a HOST] [-p PORT | -u PATH] COMMAND [ARGS] [OPTIONS]\n"
	      "Manage VDIs and nodes of a sheepmesh cluster.\n\ncommands:\n", f);
	for (size_t i = 0; i < ST_NR_CMDS; i++) {
		const struct st_cmd *c = &st_cmds[i];
		char left[64];

		snprintf(left, sizeof(left), "%s%s%s %s", c->group ? c->group : "",
			 c->group ? " " : "", c->name, c->args);
		fprintf(f, "  %-36s %s\n", left, c->help);
	}
	fputs("  help [COMMAND...]                    show help for a command\n"
	      "\nconnection options (any command that talks to a node):\n", f);
	print_opts(f, ST_OPT_CONN);
	fputs("\nother options:\n"
	      "      --version            print the version and exit\n"
	      "  -h, --help               show this help (also after any command)\n"
	      "\nexit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 node unavailable,\n"
	      "5 not supported by the node, 6 cluster check found degraded objects\n"
	      "See doc/sheeptool.md for the --json formats.\n", f);
}

static int is_group(const char *s)
{
	for (size_t i = 0; i < ST_NR_CMDS; i++)
		if (st_cmds[i].group && !strcmp(st_cmds[i].group, s))
			return 1;
	return 0;
}

static const struct st_cmd *find_cmd(const char *group, const char *name)
{
	for (size_t i = 0; i < ST_NR_CMDS; i++) {
		const struct st_cmd *c = &st_cmds[i];

		if (name && !strcmp(c->name, name) &&
		    ((!group && !c->group) || (group && c->group && !strcmp(group, c->group))))
			return c;
	}
	return NULL;
}

/* The command of group named by words[0] or "words[0] words[1]" (e.g.
 * "lock unlock"); *used (may be NULL) gets the number of words taken. */
static const struct st_cmd *find_cmd_words(const char *group, char **words, int n, int *used)
{
	const struct st_cmd *c = n > 0 ? find_cmd(group, words[0]) : NULL;
	char two[128];

	if (used)
		*used = 1;
	if (c || n < 2)
		return c;
	if ((size_t)snprintf(two, sizeof(two), "%s %s", words[0], words[1]) >= sizeof(two))
		return NULL;
	if (used)
		*used = 2;
	return find_cmd(group, two);
}

/* `help`, `help vdi`, `help vdi create`. */
static int cmd_help(int argc, char **argv)
{
	const struct st_cmd *c;

	if (argc == 0) {
		print_main_help(stdout);
		return 0;
	}
	if (is_group(argv[0])) {
		if (argc == 1) {
			print_group_help(stdout, argv[0]);
			return 0;
		}
		c = find_cmd_words(argv[0], argv + 1, argc - 1, NULL);
	} else if (!strcmp(argv[0], "help")) {
		fputs("usage: sheeptool help [COMMAND...]\nShow help for a command.\n", stdout);
		return 0;
	} else {
		c = find_cmd(NULL, argv[0]);
	}
	if (!c)
		return st_error(ST_EXIT_USAGE, "no command '%s%s%s': see 'sheeptool help'", argv[0],
				argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
	print_cmd_help(stdout, c);
	return 0;
}

/* --------------------------------------------------------------- parsing */

struct st_args {
	unsigned seen;              /* ST_OPT_* bits given */
	const char *seen_name[16];  /* first spelling per bit, for messages */
	int help, version;
	const char *host, *port, *unix_path, *timeout, *copies;
};

static int opt_index(unsigned bit)
{
	int i = 0;

	while (bit > 1) {
		bit >>= 1;
		i++;
	}
	return i;
}

/* Parse one option at argv[*i]; 0 or an exit code. */
static int parse_opt(struct st_ctx *ctx, struct st_args *a, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *val = NULL, *eq;
	const struct st_optdef *o = NULL;
	char name[64];

	if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
		a->help = 1;
		return 0;
	}
	if (!strcmp(arg, "--version")) {
		a->version = 1;
		return 0;
	}
	if (arg[1] == '-') {
		eq = strchr(arg, '=');
		snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - arg - 2) : 63, arg + 2);
		for (size_t k = 0; k < ST_NR_OPTS; k++)
			if (!strcmp(st_optdefs[k].longname, name))
				o = &st_optdefs[k];
		if (eq)
			val = eq + 1;
	} else {
		for (size_t k = 0; k < ST_NR_OPTS; k++)
			if (st_optdefs[k].shortname && st_optdefs[k].shortname == arg[1])
				o = &st_optdefs[k];
		if (o && arg[2])
			val = arg + 2;              /* -p7000 */
	}
	if (!o)
		return st_error(ST_EXIT_USAGE, "unknown option '%s': see 'sheeptool help'", arg);
	if (!o->arg && val)
		return st_error(ST_EXIT_USAGE, "option --%s takes no value (got '%s')", o->longname, val);
	if (o->arg && !val) {
		if (*i + 1 >= argc)
			return st_error(ST_EXIT_USAGE, "option '%s' needs a value (%s)", arg, o->arg);
		val = argv[++*i];
	}
	a->seen |= o->bit;
	if (!a->seen_name[opt_index(o->bit)])
		a->seen_name[opt_index(o->bit)] = arg;
	switch (o->bit) {
	case ST_OPT_CONN:
		if (o->shortname == 'a')
			a->host = val;
		else if (o->shortname == 'p')
			a->port = val;
		else if (o->shortname == 'u')
			a->unix_path = val;
		else
			a->timeout = val;
		break;
	case ST_OPT_JSON: ctx->json = 1; break;
	case ST_OPT_COPIES: a->copies = val; break;
	case ST_OPT_SNAPSHOT: ctx->snapshot = val; break;
	case ST_OPT_TAG: ctx->tag = val; break;
	case ST_OPT_FORCE: ctx->force = 1; break;
	case ST_OPT_LOCATE: ctx->locate = val; break;
	case ST_OPT_SVG: ctx->svg = val; break;
	case ST_OPT_REPAIR: ctx->repair = 1; break;
	case ST_OPT_ALL: ctx->all = 1; break;
	}
	return 0;
}

static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Apply the connection and value options; 0 or an exit code. */
static int apply_args(struct st_ctx *ctx, const struct st_args *a)
{
	unsigned long v, port = SD_DEFAULT_PORT;

	if (a->unix_path && (a->host || a->port))
		return st_usage(ctx, "-u connects to a unix socket: do not combine it with -a or -p");
	if (a->port && parse_uint(a->port, 1, 65535, &port))
		return st_usage(ctx, "port '%s' is not a number from 1 to 65535", a->port);
	if (a->unix_path) {
		if (sd_addr_unix(&ctx->addr, a->unix_path))
			return st_usage(ctx, "unix socket path '%s' is empty or longer than %zu bytes",
					a->unix_path, sizeof(ctx->addr.path) - 1);
	} else if (sd_addr_tcp(&ctx->addr, a->host ? a->host : "127.0.0.1", (unsigned)port)) {
		return st_usage(ctx, "address '%s' is too long", a->host);
	}
	addr_describe(ctx);
	ctx->addr.timeout_ms = SHEEPTOOL_TIMEOUT_MS;
	if (a->timeout) {
		if (parse_uint(a->timeout, 1, 86400, &v))
			return st_usage(ctx, "--timeout '%s' is not a number of seconds from 1 to 86400",
					a->timeout);
		ctx->addr.timeout_ms = (unsigned)v * 1000;
	}
	if (a->copies) {
		if (parse_uint(a->copies, 1, SD_MAX_COPIES, &v))
			return st_usage(ctx, "--copies '%s' is not a number from 1 to %d", a->copies,
					SD_MAX_COPIES);
		ctx->copies = (unsigned)v;
	}
	if (ctx->tag && strlen(ctx->tag) >= SD_TAG_LEN)
		return st_usage(ctx, "--tag is %zu bytes long; the limit is %d", strlen(ctx->tag),
				SD_TAG_LEN - 1);
	if (ctx->snapshot && (!*ctx->snapshot || strlen(ctx->snapshot) >= SD_TAG_LEN))
		return st_usage(ctx, "--snapshot must be a snapshot id or a tag of 1 to %d bytes",
				SD_TAG_LEN - 1);
	return 0;
}

int main(int argc, char **argv)
{
	struct st_ctx ctx;
	struct st_args a;
	char **pos = calloc((size_t)argc + 1, sizeof(*pos));
	int npos = 0, ret, rest = 0, used = 1;
	const struct st_cmd *c = NULL;

	memset(&ctx, 0, sizeof(ctx));
	memset(&a, 0, sizeof(a));
	if (!pos)
		return st_error(ST_EXIT_ERROR, "out of memory");
	for (int i = 1; i < argc; i++) {
		if (!rest && !strcmp(argv[i], "--")) {
			rest = 1;
		} else if (!rest && argv[i][0] == '-' && argv[i][1]) {
			ret = parse_opt(&ctx, &a, argc, argv, &i);
			if (ret) {
				free(pos);
				return ret;
			}
		} else {
			pos[npos++] = argv[i];
		}
	}
	ret = -1;
	if (npos == 0) {
		if (a.version)
			ret = cmd_version(&ctx);
		else if (a.help)
			print_main_help(stdout), ret = 0;
		else
			print_main_help(stderr), ret = ST_EXIT_USAGE;
	} else if (!strcmp(pos[0], "help")) {
		ret = cmd_help(npos - 1, pos + 1);
	} else if (is_group(pos[0])) {
		if (npos == 1) {
			print_group_help(a.help ? stdout : stderr, pos[0]);
			ret = a.help ? 0 : ST_EXIT_USAGE;
		} else if (!(c = find_cmd_words(pos[0], pos + 1, npos - 1, &used))) {
			ret = st_error(ST_EXIT_USAGE, "'%s%s%s' is not a '%s' command: see 'sheeptool help %s'",
				       pos[1], npos > 2 ? " " : "", npos > 2 ? pos[2] : "", pos[0], pos[0]);
		} else {
			ctx.argv = pos + 1 + used;
			ctx.argc = npos - 1 - used;
		}
	} else if (!(c = find_cmd(NULL, pos[0]))) {
		ret = st_error(ST_EXIT_USAGE, "unknown command '%s': see 'sheeptool help'", pos[0]);
	} else {
		ctx.argv = pos + 1;
		ctx.argc = npos - 1;
	}
	if (ret >= 0) {
		free(pos);
		return ret;
	}
	ctx.cmd = c;
	if (a.help) {
		print_cmd_help(stdout, c);
		free(pos);
		return 0;
	}
	unsigned bad = a.seen & ~c->opts;
	if (a.version)
		ret = st_usage(&ctx, "--version is an option of sheeptool itself, not of a command");
	else if (bad)
		ret = st_usage(&ctx, "option '%s' does not apply to '%s%s%s'",
			       a.seen_name[opt_index(bad & -bad)], c->group ? c->group : "",
			       c->group ? " " : "", c->name);
	else if (ctx.argc < c->min_args)
		ret = st_usage(&ctx, "missing argument%s", c->max_args - ctx.argc > 1 ? "s" : "");
	else if (ctx.argc > c->max_args)
		ret = st_usage(&ctx, "unexpected argument '%s'", ctx.argv[c->max_args]);
	else
		ret = apply_args(&ctx, &a);
	if (!ret)
		ret = c->fn(&ctx);
	free(pos);
	return ret;
}

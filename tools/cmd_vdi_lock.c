/*
 * cmd_vdi_lock.c: `vdi lock list` and `vdi lock unlock`.
 *
 * The Sheepdog wire protocol (spec §5.7) has LOCK_VDI and RELEASE_VDI but
 * nothing that reads locks, so `lock list` asks sheepmesh's own opcode
 * SD_OP_SM_LOCKS (0xE3, node/dispatch_locks.h) for the node's lock table
 * as JSON: --json prints that document as is (once checked), the text form
 * is a table. Locks exist only on nodes started with --enforce-locks;
 * elsewhere LOCK_VDI takes none and RELEASE_VDI is a no-op. RELEASE_VDI
 * answers SUCCESS whether or not a lock was held.
 *
 * Which node's table: on replicating nodes (SM_STATUS has a "repl"
 * section) every LOCK_VDI/RELEASE_VDI is executed by the catalog leader
 * (node/PEER.md), so the locks that count are the leader's. The node asked
 * says whether it is the leader ("repl"."leader"); if not, its alive
 * members (SM_MEMBERS) are asked the same until one says yes, and that
 * one's table is shown. Without replication each node's own table counts.
 */
#include "tools/sheeptool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEADER_TIMEOUT_MS 2000     /* per member asked whether it is the leader */

/* 1 if the node at a replicates and is the catalog leader, 0 if it
 * replicates and is not, -1 if it does not replicate or cannot tell. */
static int node_is_leader(struct st_ctx *ctx, const struct sd_addr *a)
{
	const char *sec, *v;
	size_t n, sec_n, vn;
	char *doc;
	int ret = -1;

	if (st_status_fetch(ctx, a, SD_OP_SM_STATUS, &doc, &n))
		return -1;
	if (st_json_get(doc, n, "repl", &sec, &sec_n) == 0 && sec_n && *sec == '{' &&
	    st_json_get(sec, sec_n, "leader", &v, &vn) == 0)
		ret = vn == 4 && !memcmp(v, "true", 4) ? 1 : vn == 5 && !memcmp(v, "false", 5) ? 0 : -1;
	free(doc);
	return ret;
}

/* The catalog leader among the alive members the node asked knows: its
 * data address into *a and "ID at ADDR" into who. 0, or -1 if none says
 * it is the leader (no answer, a ring change in progress). */
static int find_leader(struct st_ctx *ctx, struct sd_addr *a, char *who, size_t cap)
{
	const char *members, *m, *id, *data, *state;
	size_t len, members_n, m_n, id_n, data_n, state_n, pos = 0;
	char *doc, addr[128];
	int found = -1;

	if (st_status_fetch(ctx, &ctx->addr, SD_OP_SM_MEMBERS, &doc, &len))
		return -1;
	if (st_json_get(doc, len, "members", &members, &members_n) || *members != '[') {
		free(doc);
		return -1;
	}
	while (found < 0 && st_json_array_next(members, members_n, &pos, &m, &m_n) == 1) {
		if (st_json_get(m, m_n, "id", &id, &id_n) || st_json_get(m, m_n, "data", &data, &data_n) ||
		    st_json_get(m, m_n, "state", &state, &state_n) || state_n != 5 ||
		    memcmp(state, "alive", 5) || data_n == 0 || data_n >= sizeof(addr))
			continue;
		memcpy(addr, data, data_n);
		addr[data_n] = 0;
		if (sd_addr_parse(a, addr))
			continue;
		a->timeout_ms = LEADER_TIMEOUT_MS;
		if (node_is_leader(ctx, a) == 1) {
			snprintf(who, cap, "%.*s at %s", (int)(id_n < 64 ? id_n : 64), id, addr);
			a->timeout_ms = ctx->addr.timeout_ms;
			found = 0;
		}
	}
	free(doc);
	return found;
}

/* The address whose lock table counts (see the top of the file) into *a;
 * who gets "" (the node asked) or "the catalog leader ID at ADDR". A
 * replicating non-leader whose leader cannot be found: its own table, with
 * a warning on stderr. */
static void locks_node(struct st_ctx *ctx, struct sd_addr *a, char *who, size_t cap)
{
	char leader[200];

	*a = ctx->addr;
	*who = 0;
	if (node_is_leader(ctx, &ctx->addr) != 0)
		return;
	if (find_leader(ctx, a, leader, sizeof(leader)) == 0) {
		snprintf(who, cap, "the catalog leader %s", leader);
		return;
	}
	*a = ctx->addr;
	fprintf(stderr, "sheeptool: warning: node %s replicates but no alive member says it is "
		"the catalog leader (a ring change?): showing the node's own lock table, which "
		"may be out of date\n", st_addr_str(ctx));
}

/* One lock object of the SM_LOCKS document printed as a table row; -1 if
 * a field is missing or has the wrong type (the whole answer is then
 * refused, not half printed). */
static int lock_row(const char *o, size_t n, char *line, size_t cap)
{
	const char *name, *tag, *type, *snap;
	size_t name_n, tag_n, type_n, snap_n;
	uint64_t vid, snap_id, holders, taken;
	char nbuf[257 * 4], tbuf[257 * 4], when[64], sel[257 * 4 + 32];
	struct tm tm;
	time_t sec;

	if (n == 0 || *o != '{' || st_json_get_u64(o, n, "vid", &vid) || vid > 0xffffff ||
	    st_json_get(o, n, "name", &name, &name_n) || name[-1] != '"' ||
	    st_json_get(o, n, "tag", &tag, &tag_n) || tag[-1] != '"' ||
	    st_json_get(o, n, "type", &type, &type_n) || type[-1] != '"' ||
	    !((type_n == 6 && !memcmp(type, "normal", 6)) || (type_n == 6 && !memcmp(type, "shared", 6))) ||
	    st_json_get(o, n, "snapshot", &snap, &snap_n) ||
	    st_json_get_u64(o, n, "snap_id", &snap_id) || st_json_get_u64(o, n, "holders", &holders) ||
	    st_json_get_u64(o, n, "taken", &taken))
		return -1;
	st_json_unescape(name, name_n, nbuf, sizeof(nbuf));
	st_json_unescape(tag, tag_n, tbuf, sizeof(tbuf));
	/* a terminal gets no control bytes from a name */
	for (char *p = nbuf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	for (char *p = tbuf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (snap_n == 4 && !memcmp(snap, "true", 4))
		snprintf(sel, sizeof(sel), "%llu%s%s", (unsigned long long)snap_id, *tbuf ? " " : "", tbuf);
	else if (snap_n == 5 && !memcmp(snap, "false", 5))
		strcpy(sel, "-");
	else
		return -1;
	sec = (time_t)taken;
	if (!localtime_r(&sec, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
		strcpy(when, "-");
	snprintf(line, cap, "%06llx  %-24s %-12s %-7.*s %7llu  %s\n", (unsigned long long)vid, nbuf,
		 sel, (int)type_n, type, (unsigned long long)holders, when);
	return 0;
}

int cmd_vdi_lock_list(struct st_ctx *ctx)
{
	const char *locks, *el, *en;
	size_t len, locks_n, pos = 0, el_n, en_n, rows = 0;
	char *doc, line[4096], who[300];
	struct sd_addr a;
	int ret, enforced;

	locks_node(ctx, &a, who, sizeof(who));
	ret = st_status_fetch(ctx, &a, SD_OP_SM_LOCKS, &doc, &len);
	if (ret == -EBADMSG)
		return st_error(ST_EXIT_ERROR, "vdi lock list: node %s sent a malformed lock document: "
				"check that it runs sheepnode of this version", st_addr_str(ctx));
	if (ret == SD_RES_INVALID_PARMS)
		return st_error(ST_EXIT_UNSUPPORTED, "vdi lock list: node %s refused SM_LOCKS (INVALID_PARMS)\n"
				"sheeptool: hint: it is an older sheepnode without lock listing, or "
				"its lock table is larger than 4 MiB", st_addr_str(ctx));
	if (ret) {
		st_fail(ctx, ret, "vdi lock list: cannot get the locks of node %s", st_addr_str(ctx));
		return ret < 0 ? ST_EXIT_UNAVAILABLE : st_exit_code(ret);
	}
	if (st_json_get(doc, len, "enforce_locks", &en, &en_n) ||
	    !((en_n == 4 && !memcmp(en, "true", 4)) || (en_n == 5 && !memcmp(en, "false", 5))) ||
	    st_json_get(doc, len, "locks", &locks, &locks_n) || *locks != '[') {
		free(doc);
		return st_error(ST_EXIT_ERROR, "vdi lock list: node %s sent a lock document without "
				"\"enforce_locks\" or \"locks\"", st_addr_str(ctx));
	}
	enforced = en_n == 4;
	/* check every row before printing anything */
	while ((ret = st_json_array_next(locks, locks_n, &pos, &el, &el_n)) == 1 &&
	       lock_row(el, el_n, line, sizeof(line)) == 0)
		rows++;
	if (ret != 0) {
		free(doc);
		return st_error(ST_EXIT_ERROR, "vdi lock list: node %s sent a malformed entry in "
				"\"locks\" (entry %zu)", st_addr_str(ctx), rows);
	}
	if (ctx->json) {
		fwrite(doc, 1, len, stdout);
		if (len && doc[len - 1] != '\n')
			putchar('\n');
	} else {
		if (*who)
			printf("locks held by %s (node %s replicates: the leader takes them)\n", who,
			       st_addr_str(ctx));
		printf("%-6s  %-24s %-12s %-7s %7s  %s\n", "VID", "NAME", "SNAPSHOT", "TYPE", "HOLDERS",
		       "TAKEN");
		pos = 0;
		while (st_json_array_next(locks, locks_n, &pos, &el, &el_n) == 1 &&
		       lock_row(el, el_n, line, sizeof(line)) == 0)
			fputs(line, stdout);
		if (!enforced)
			printf("(%s runs without --enforce-locks: LOCK_VDI takes no locks there%s)\n",
			       *who ? "the leader" : "the node", rows ? "; these were taken by an earlier run" : "");
		else if (!rows)
			printf("(no locks held)\n");
	}
	free(doc);
	return fflush(stdout) ? st_error(ST_EXIT_ERROR, "cannot write to stdout") : 0;
}

/* The holders of vid's lock on the node: 1 (locked, *holders set), 0 (not
 * locked) or -1 (unknown: the node does not answer SM_LOCKS usefully). */
static int lock_holders(struct st_ctx *ctx, uint32_t vid, uint64_t *holders, int *enforced)
{
	const char *locks, *el, *en;
	size_t len, locks_n, pos = 0, el_n, en_n;
	char *doc, who[300];
	struct sd_addr a;
	uint64_t v;
	int ret, found = 0;

	locks_node(ctx, &a, who, sizeof(who));
	if (st_status_fetch(ctx, &a, SD_OP_SM_LOCKS, &doc, &len))
		return -1;
	if (st_json_get(doc, len, "enforce_locks", &en, &en_n) ||
	    st_json_get(doc, len, "locks", &locks, &locks_n) || *locks != '[') {
		free(doc);
		return -1;
	}
	*enforced = en_n == 4 && !memcmp(en, "true", 4);
	while ((ret = st_json_array_next(locks, locks_n, &pos, &el, &el_n)) == 1) {
		if (st_json_get_u64(el, el_n, "vid", &v) == 0 && v == vid &&
		    st_json_get_u64(el, el_n, "holders", holders) == 0) {
			found = 1;
			break;
		}
	}
	free(doc);
	return ret < 0 ? -1 : found;
}

int cmd_vdi_lock_unlock(struct st_ctx *ctx)
{
	const char *name = ctx->argv[0];
	struct sd_client *c;
	uint32_t vid;
	char what[600];
	int ret;

	if ((ret = st_check_name(ctx, "NAME", name)))
		return ret;
	if (ctx->snapshot)
		snprintf(what, sizeof(what), "snapshot '%s' of VDI '%s'", ctx->snapshot, name);
	else
		snprintf(what, sizeof(what), "VDI '%s'", name);
	if ((ret = st_connect(ctx, &c)))
		return ret;
	/* locks are keyed by vid (§5.7): find it without taking a lock */
	ret = st_vdi_lookup(c, name, ctx->snapshot, &vid, NULL, NULL);
	if (ret) {
		sd_client_close(c);
		return st_fail(ctx, ret, "vdi lock unlock: cannot find %s", what);
	}
	uint64_t holders = 0;
	int enforced = 1, known = lock_holders(ctx, vid, &holders, &enforced);

	if (known == 0) {
		sd_client_close(c);
		printf("%s (vid %06x) was not locked%s\n", what, vid,
		       enforced ? "" : " (the node runs without --enforce-locks)");
		return fflush(stdout) ? st_error(ST_EXIT_ERROR, "cannot write to stdout") : 0;
	}
	ret = sd_vdi_release(c, name, vid);
	sd_client_close(c);
	/* QEMU tolerates VDI_NOT_LOCKED too (§5.7) */
	if (ret == SD_RES_VDI_NOT_LOCKED) {
		printf("%s (vid %06x) was not locked\n", what, vid);
		return fflush(stdout) ? st_error(ST_EXIT_ERROR, "cannot write to stdout") : 0;
	}
	if (ret)
		return st_fail(ctx, ret, "vdi lock unlock: cannot release %s", what);
	if (known == 1 && holders > 1)
		printf("released one holder of the shared lock on %s (vid %06x); %llu remain\n", what,
		       vid, (unsigned long long)(holders - 1));
	else if (known == 1)
		printf("released the lock on %s (vid %06x)\n", what, vid);
	else    /* an older node: RELEASE_VDI answers SUCCESS whether or not a lock was held */
		printf("released the lock on %s (vid %06x), if it held one "
		       "(a shared lock loses one holder per unlock)\n", what, vid);
	return fflush(stdout) ? st_error(ST_EXIT_ERROR, "cannot write to stdout") : 0;
}

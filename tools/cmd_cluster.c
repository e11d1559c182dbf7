/*
 * cmd_cluster.c: `cluster info`. One SM_STATUS document (its "gossip",
 * "ring" and, once the node replicates, "repl" sections: one consistent
 * view of the node asked) and one GET_CLUSTER_DEFAULT.
 *
 * Health says only what is known. Without replication (no "repl" section)
 * each VDI lives only on the node that serves it, so "all replicas
 * present" means "every member that holds data is reachable": ok when no
 * member is suspect or dead, degraded otherwise. With replication, health
 * is the verdict of the same object-by-object check as `cluster check`
 * (st_check_quick, cmd_check.c): "ok" only when no object is short of
 * good copies, "degraded: N objects short of copies" otherwise, "unknown"
 * when the check itself failed. Its cost grows with the number of objects
 * (every member lists its index).
 */
#include "tools/check_view.h"
#include "tools/json_out.h"
#include "tools/sheeptool.h"
#include "tools/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cluster_view {
	const char *name, *self, *digest;   /* raw JSON string contents, or NULL */
	size_t name_n, self_n, digest_n;
	int has_ring, has_nodes, has_repl;
	uint64_t repl_nodes;                /* nodes in the replication view */
	uint64_t epoch, placed;
	uint64_t total, alive, suspect, dead, left;
	uint8_t copies, policy, shift;
	int checked;                        /* the object check ran */
	struct ck_summary sum;              /* its counts */
	char check_err[200];                /* why it did not, with replication */
};

/* The section key of doc as an object span, or -1. */
static int section(const char *doc, size_t len, const char *key, const char **s, size_t *n)
{
	return st_json_get(doc, len, key, s, n) || *n == 0 || **s != '{' ? -1 : 0;
}

static void view_parse(struct cluster_view *v, const char *doc, size_t len)
{
	const char *s;
	size_t n;

	if (section(doc, len, "ring", &s, &n) == 0 && !st_json_get_u64(s, n, "epoch", &v->epoch) &&
	    !st_json_get_u64(s, n, "members", &v->placed) &&
	    !st_json_get(s, n, "digest", &v->digest, &v->digest_n))
		v->has_ring = 1;
	if (section(doc, len, "gossip", &s, &n) == 0) {
		st_json_get(s, n, "cluster", &v->name, &v->name_n);
		st_json_get(s, n, "self", &v->self, &v->self_n);
		v->has_nodes = !st_json_get_u64(s, n, "members", &v->total) &&
			       !st_json_get_u64(s, n, "members_alive", &v->alive) &&
			       !st_json_get_u64(s, n, "members_suspect", &v->suspect) &&
			       !st_json_get_u64(s, n, "members_dead", &v->dead) &&
			       !st_json_get_u64(s, n, "members_left", &v->left);
	}
	if (section(doc, len, "repl", &s, &n) == 0 && !st_json_get_u64(s, n, "nodes", &v->repl_nodes))
		v->has_repl = 1;
}

/* The health word ("ok", "degraded", "unknown") and one line saying why. */
static const char *health_text(const struct cluster_view *v, char *buf, size_t cap)
{
	if (!v->has_nodes) {
		snprintf(buf, cap, "membership unknown (the node runs without gossip)");
		return "unknown";
	}
	if (v->has_repl && v->checked && v->sum.degraded) {
		snprintf(buf, cap, "%llu objects short of copies (of %llu); see 'sheeptool cluster check'",
			 (unsigned long long)v->sum.degraded, (unsigned long long)v->sum.objects);
		return "degraded";
	}
	if (v->has_repl && (v->suspect || v->dead)) {
		snprintf(buf, cap, "%llu member(s) suspect or dead: the copies they hold are missing "
			 "until they return or recovery replaces them",
			 (unsigned long long)(v->suspect + v->dead));
		return "degraded";
	}
	if (v->has_repl && v->checked) {
		snprintf(buf, cap, "every object has all its copies (%llu objects checked on %llu alive "
			 "member(s))", (unsigned long long)v->sum.objects, (unsigned long long)v->alive);
		return "ok";
	}
	if (v->has_repl) {
		snprintf(buf, cap, "%s", v->check_err);
		return "unknown";
	}
	if (v->suspect || v->dead) {
		snprintf(buf, cap, "%llu member(s) suspect or dead: the VDIs they serve are unreachable "
			 "until they return (data is not replicated)",
			 (unsigned long long)(v->suspect + v->dead));
		return "degraded";
	}
	snprintf(buf, cap, "all %llu known member(s) alive or left: every VDI is reachable on the "
		 "node that serves it", (unsigned long long)v->total);
	return "ok";
}

static void print_json(const struct st_ctx *ctx, const struct cluster_view *v, const char *health,
		       const char *detail)
{
	struct json_out j;

	json_out_init(&j, stdout);
	json_out_object(&j, NULL);
	json_out_str(&j, "node", st_addr_str(ctx));
	if (v->name)
		json_out_strn(&j, "cluster", v->name, v->name_n);
	else
		json_out_null(&j, "cluster");
	if (v->self)
		json_out_strn(&j, "self", v->self, v->self_n);
	else
		json_out_null(&j, "self");
	if (v->has_ring) {
		json_out_object(&j, "ring");
		json_out_u64(&j, "epoch", v->epoch);
		json_out_strn(&j, "digest", v->digest, v->digest_n);
		json_out_u64(&j, "members", v->placed);
		json_out_close(&j);
	} else {
		json_out_null(&j, "ring");
	}
	json_out_u64(&j, "copies", v->copies);
	json_out_u64(&j, "copy_policy", v->policy);
	json_out_u64(&j, "block_size_shift", v->shift);
	if (v->has_nodes) {
		json_out_object(&j, "nodes");
		json_out_u64(&j, "total", v->total);
		json_out_u64(&j, "alive", v->alive);
		json_out_u64(&j, "suspect", v->suspect);
		json_out_u64(&j, "dead", v->dead);
		json_out_u64(&j, "left", v->left);
		json_out_close(&j);
	} else {
		json_out_null(&j, "nodes");
	}
	json_out_bool(&j, "replication", v->has_repl);
	if (v->has_repl)
		json_out_u64(&j, "replication_nodes", v->repl_nodes);
	else
		json_out_null(&j, "replication_nodes");
	json_out_str(&j, "health", health);
	json_out_str(&j, "health_detail", detail);
	if (v->checked) {
		json_out_u64(&j, "objects_checked", v->sum.objects);
		json_out_u64(&j, "objects_degraded", v->sum.degraded);
	} else {
		json_out_null(&j, "objects_checked");
		json_out_null(&j, "objects_degraded");
	}
	json_out_close(&j);
	json_out_end(&j);
}

static void print_text(const struct st_ctx *ctx, const struct cluster_view *v, const char *health,
		       const char *detail)
{
	char osize[UNITS_BUF];

	printf("cluster:          %.*s\n", v->name ? (int)v->name_n : 1, v->name ? v->name : "-");
	printf("node asked:       %s (id %.*s)\n", st_addr_str(ctx), v->self ? (int)v->self_n : 1,
	       v->self ? v->self : "-");
	if (v->has_ring)
		printf("ring version:     epoch %llu, digest %.*s (%llu members placed)\n",
		       (unsigned long long)v->epoch, (int)v->digest_n, v->digest,
		       (unsigned long long)v->placed);
	else
		printf("ring version:     -\n");
	printf("default copies:   %u (copy policy %u, object size %s)\n", v->copies, v->policy,
	       v->shift < 64 ? units_format_size(1ULL << v->shift, osize, sizeof(osize)) : "?");
	if (v->has_nodes)
		printf("nodes:            %llu (%llu alive, %llu suspect, %llu dead, %llu left)\n",
		       (unsigned long long)v->total, (unsigned long long)v->alive,
		       (unsigned long long)v->suspect, (unsigned long long)v->dead,
		       (unsigned long long)v->left);
	else
		printf("nodes:            -\n");
	if (v->has_repl)
		printf("replication:      on (%llu node(s) in the replication view)\n",
		       (unsigned long long)v->repl_nodes);
	else
		printf("replication:      not yet (each VDI lives only on the node that serves it)\n");
	printf("health:           %s: %s\n", health, detail);
}

int cmd_cluster_info(struct st_ctx *ctx)
{
	struct cluster_view v;
	struct sd_client *c;
	char *doc, detail[256];
	const char *health;
	size_t len;
	int ret;

	memset(&v, 0, sizeof(v));
	ret = st_status_fetch(ctx, &ctx->addr, SD_OP_SM_STATUS, &doc, &len);
	if (ret == -EBADMSG)
		return st_error(ST_EXIT_ERROR, "cluster info: node %s sent a malformed status "
				"document: check that it runs sheepnode of this version",
				st_addr_str(ctx));
	if (ret) {
		st_fail(ctx, ret, "cluster info: cannot get the status of node %s", st_addr_str(ctx));
		/* whatever the errno, a node we cannot reach is "unavailable" */
		return ret < 0 ? ST_EXIT_UNAVAILABLE : st_exit_code(ret);
	}
	ret = st_connect(ctx, &c);
	if (ret) {
		free(doc);
		return ret;
	}
	ret = sd_cluster_default(c, &v.copies, &v.policy, &v.shift);
	sd_client_close(c);
	if (ret) {
		free(doc);
		return st_fail(ctx, ret, "cluster info: node %s did not send the cluster defaults",
			       st_addr_str(ctx));
	}
	view_parse(&v, doc, len);
	if (v.has_repl && v.has_nodes)
		v.checked = st_check_quick(ctx, &v.sum, v.check_err, sizeof(v.check_err)) == 0;
	else if (v.has_repl)
		snprintf(v.check_err, sizeof(v.check_err), "membership unknown: the object check needs it");
	health = health_text(&v, detail, sizeof(detail));
	if (ctx->json)
		print_json(ctx, &v, health, detail);
	else
		print_text(ctx, &v, health, detail);
	free(doc);
	return fflush(stdout) ? st_error(ST_EXIT_ERROR, "cannot write to stdout") : 0;
}

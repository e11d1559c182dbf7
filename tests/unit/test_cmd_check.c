/*
 * tests/unit/test_cmd_check.c: the logic behind `sheeptool cluster check`
 * (tools/check_view.c): each replica verdict (ok, no copy, file gone, node
 * not alive, unreachable, stale, checksum mismatch), extra copies, orphans,
 * objects the catalog references that no node lists (lost), the summary
 * counts, and the SM_OBJECTS page reader on good and hostile
 * documents. The ring is a real one built from an in-process epoch; the
 * .c files are included directly (they are linked only into sheeptool).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tools/json_out.c"
#include "tools/ring_view.c"
#include "tools/ring_members.c"
#include "tools/check_view.c"

#define NN 4
#define VID 0x00abcd
#define ORPHAN_VID 0x00dead

static void mkid(uint8_t id[RV_ID_LEN], unsigned k)
{
	for (int i = 0; i < RV_ID_LEN; i++)
		id[i] = (uint8_t)(k * 37 + i * 11);
}

static void build(struct ring_view *v)
{
	struct epoch e;
	uint8_t self[RV_ID_LEN], buf[4096];
	char err[256];
	size_t len;

	mkid(self, 0);
	epoch_init(&e);
	for (unsigned k = 0; k < NN; k++) {
		struct epoch_member ev;

		memset(&ev, 0, sizeof(ev));
		mkid(ev.id, k);
		ev.version = 1;
		ev.state = EPOCH_IN;
		ev.weight = 16;
		ev.zone = k + 1;
		assert_true(epoch_record(&e, self, &ev) >= 0);
	}
	assert_int_equal(epoch_encode(&e, buf, sizeof(buf), &len), 0);
	epoch_fini(&e);
	assert_int_equal(ring_view_build(v, buf, len, NULL, err, sizeof(err)), 0);
	assert_int_equal(v->n_rows, NN);
}

static unsigned copies3(void *ctx, uint32_t vid)
{
	(void)ctx;
	return vid == ORPHAN_VID ? 0 : 3;
}

/* replica node indexes of oid (3 of them) and the one node that is not */
static void replicas(const struct ring_view *v, uint64_t oid, uint32_t rep[3], uint32_t *other)
{
	const struct rv_row *rows[RING_MAX_COPIES];
	int seen[NN] = { 0 };

	assert_int_equal(ring_view_locate(v, oid, 3, rows), 3);
	for (int i = 0; i < 3; i++) {
		rep[i] = (uint32_t)(rows[i] - v->rows);
		seen[rep[i]] = 1;
	}
	for (uint32_t i = 0; i < NN; i++)
		if (!seen[i])
			*other = i;
}

static void add(struct ck_copy *c, size_t *n, uint64_t oid, uint32_t node, uint64_t version, int file,
		uint8_t csum_byte)
{
	memset(&c[*n], 0, sizeof(c[*n]));
	c[*n].oid = oid;
	c[*n].node = node;
	c[*n].version = version;
	c[*n].file = (uint8_t)file;
	c[*n].size = 4 << 20;
	if (csum_byte) {
		c[*n].csum_valid = 1;
		memset(c[*n].csum, csum_byte, 32);
	}
	(*n)++;
}

struct got {
	int n;
	struct { uint64_t oid; enum ck_status st; enum ck_rep rep[3]; size_t n_extra; unsigned found; } o[16];
};

static void collect(void *ctx, const struct ck_object *o)
{
	struct got *g = ctx;

	assert_true(g->n < 16);
	g->o[g->n].oid = o->oid;
	g->o[g->n].st = o->status;
	g->o[g->n].n_extra = o->n_extra;
	g->o[g->n].found = o->found;
	assert_int_equal(o->n_rep, o->status == CK_ORPHAN ? 0 : 3);
	for (unsigned k = 0; k < o->n_rep; k++)
		g->o[g->n].rep[k] = o->rep[k].rep;
	g->n++;
}

/* how many replicas of object i got verdict r */
static int count_rep(const struct got *g, int i, enum ck_rep r)
{
	int n = 0;

	for (int k = 0; k < 3; k++)
		n += g->o[i].rep[k] == r;
	return n;
}

static void test_verdicts(void **state)
{
	struct ring_view v;
	struct ck_node nodes[NN];
	struct ck_copy c[64];
	struct ck_summary sum;
	struct got g = { 0 };
	size_t n = 0;
	uint32_t rep[3], other;

	(void)state;
	build(&v);
	memset(nodes, 0, sizeof(nodes));
	/* oids in increasing order: the emit order */
	uint64_t o_ok = sd_data_oid(VID, 1), o_nocopy = sd_data_oid(VID, 2), o_gone = sd_data_oid(VID, 3),
		 o_stale = sd_data_oid(VID, 4), o_mism = sd_data_oid(VID, 5), o_orphan = sd_data_oid(ORPHAN_VID, 1),
		 o_vm = sd_vmstate_oid(VID, 0);

	replicas(&v, o_ok, rep, &other);
	for (int i = 0; i < 3; i++)
		add(c, &n, o_ok, rep[i], 10, 1, 0x11);
	add(c, &n, o_ok, rep[0], 10, 1, 0x11);          /* a duplicate entry is ignored */
	replicas(&v, o_nocopy, rep, &other);
	add(c, &n, o_nocopy, rep[0], 5, 1, 0);
	add(c, &n, o_nocopy, rep[2], 5, 1, 0);
	add(c, &n, o_nocopy, other, 5, 1, 0);            /* extra: not a replica */
	replicas(&v, o_gone, rep, &other);
	add(c, &n, o_gone, rep[0], 7, 1, 0);
	add(c, &n, o_gone, rep[1], 7, 0, 0);             /* record, no file */
	add(c, &n, o_gone, rep[2], 7, 1, 0);
	replicas(&v, o_stale, rep, &other);
	add(c, &n, o_stale, rep[0], 9, 1, 0);
	add(c, &n, o_stale, rep[1], 8, 1, 0);            /* older */
	add(c, &n, o_stale, rep[2], 9, 1, 0);
	replicas(&v, o_mism, rep, &other);
	add(c, &n, o_mism, rep[0], 3, 1, 0x22);
	add(c, &n, o_mism, rep[1], 3, 1, 0x22);
	add(c, &n, o_mism, rep[2], 3, 1, 0x33);          /* same version, other bytes */
	add(c, &n, o_orphan, 0, 1, 1, 0);
	replicas(&v, o_vm, rep, &other);
	for (int i = 0; i < 3; i++)
		add(c, &n, o_vm, rep[i], 4, 1, 0);
	/* shuffle-ish: analysis sorts */
	struct ck_copy t = c[0]; c[0] = c[n - 1]; c[n - 1] = t;

	assert_int_equal(ck_analyze(&v, nodes, c, n, NULL, 0, copies3, NULL, collect, &g, &sum), 0);
	assert_int_equal(g.n, 7);
	assert_true(g.o[0].oid == o_ok && g.o[0].st == CK_OK && count_rep(&g, 0, CK_REP_OK) == 3);
	assert_int_equal(g.o[0].found, 3);
	assert_true(g.o[1].oid == o_nocopy && g.o[1].st == CK_DEGRADED && count_rep(&g, 1, CK_REP_NO_COPY) == 1);
	assert_int_equal(g.o[1].n_extra, 1);
	assert_int_equal(g.o[1].found, 2);
	assert_true(g.o[2].oid == o_gone && g.o[2].st == CK_DEGRADED && count_rep(&g, 2, CK_REP_FILE_GONE) == 1);
	assert_int_equal(g.o[2].found, 2);
	assert_true(g.o[3].oid == o_stale && g.o[3].st == CK_DEGRADED && count_rep(&g, 3, CK_REP_STALE) == 1);
	assert_true(g.o[4].oid == o_mism && g.o[4].st == CK_DEGRADED && count_rep(&g, 4, CK_REP_MISMATCH) == 1);
	assert_true(g.o[5].oid == o_orphan && g.o[5].st == CK_ORPHAN);
	assert_true(g.o[6].oid == o_vm && g.o[6].st == CK_OK);
	assert_int_equal(sum.objects, 7);
	assert_int_equal(sum.ok, 2);
	assert_int_equal(sum.degraded, 4);
	assert_int_equal(sum.orphan, 1);
	assert_int_equal(sum.with_extra, 1);
	assert_int_equal(sum.extra, 1);
	assert_int_equal(sum.missing, 2);
	assert_int_equal(sum.stale, 1);
	assert_int_equal(sum.mismatch, 1);

	/* a node down / unreachable: every object it is a replica of is degraded */
	struct ck_copy c2[8];
	size_t n2 = 0;
	replicas(&v, o_ok, rep, &other);
	for (int i = 0; i < 3; i++)
		add(c2, &n2, o_ok, rep[i], 10, 1, 0);
	nodes[rep[1]].state = CK_NODE_DOWN;
	memset(&g, 0, sizeof(g));
	assert_int_equal(ck_analyze(&v, nodes, c2, n2, NULL, 0, copies3, NULL, collect, &g, &sum), 0);
	assert_true(g.o[0].st == CK_DEGRADED && count_rep(&g, 0, CK_REP_NODE_DOWN) == 1);
	assert_int_equal(sum.nodes_down, 1);
	nodes[rep[1]].state = CK_NODE_UNREACHABLE;
	memset(&g, 0, sizeof(g));
	assert_int_equal(ck_analyze(&v, nodes, c2, n2, NULL, 0, copies3, NULL, collect, &g, &sum), 0);
	assert_true(g.o[0].st == CK_DEGRADED && count_rep(&g, 0, CK_REP_UNREACHABLE) == 1);
	assert_int_equal(g.o[0].found, 2);
	assert_int_equal(sum.nodes_unreachable, 1);
	assert_int_equal(sum.missing, 1);
	/* objects the catalog references: one no node lists is lost (all
	 * replicas "no copy"); one that is listed is judged once */
	nodes[rep[1]].state = CK_NODE_LISTED;
	uint64_t refs[] = { o_ok, o_ok, sd_data_oid(VID, 9) };
	memset(&g, 0, sizeof(g));
	assert_int_equal(ck_analyze(&v, nodes, c2, n2, refs, 3, copies3, NULL, collect, &g, &sum), 0);
	assert_int_equal(g.n, 2);
	assert_true(g.o[0].oid == o_ok && g.o[0].st == CK_OK);
	assert_true(g.o[1].oid == sd_data_oid(VID, 9) && g.o[1].st == CK_DEGRADED &&
		    count_rep(&g, 1, CK_REP_NO_COPY) == 3);
	assert_int_equal(g.o[1].found, 0);
	assert_int_equal(sum.objects, 2);
	assert_int_equal(sum.degraded, 1);
	assert_int_equal(sum.lost, 1);
	assert_int_equal(sum.missing, 3);
	/* only references, nothing listed at all */
	assert_int_equal(ck_analyze(&v, nodes, NULL, 0, refs + 2, 1, copies3, NULL, NULL, NULL, &sum), 0);
	assert_int_equal(sum.objects, 1);
	assert_int_equal(sum.lost, 1);
	/* nothing listed: nothing to say */
	assert_int_equal(ck_analyze(&v, nodes, c2, 0, NULL, 0, copies3, NULL, NULL, NULL, &sum), 0);
	assert_int_equal(sum.objects, 0);
	ring_view_free(&v);
}

static int parse(const char *doc, struct ck_copy **c, size_t *n, size_t *cap, uint64_t *next, int *more,
		 char *err)
{
	return ck_page_parse(doc, strlen(doc), 2, c, n, cap, next, more, err, 200);
}

static void test_page_parse(void **state)
{
	struct ck_copy *c = NULL;
	size_t n = 0, cap = 0;
	uint64_t next = 0;
	int more = -1;
	char err[200];

	(void)state;
	assert_int_equal(parse("{\"objects\":[],\"next\":null}", &c, &n, &cap, &next, &more, err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(more, 0);
	assert_int_equal(parse(" { \"objects\" : [ {\"oid\":\"00abcd0000000001\",\"size\":4194304,\"version\":77,"
			       "\"csum_valid\":true,\"csum\":\"" "0102030405060708090a0b0c0d0e0f10"
			       "1112131415161718191a1b1c1d1e1f20\",\"file\":true,\"new\":-1.5},"
			       "{\"oid\":\"40abcd0000000000\",\"version\":1,\"file\":false,\"x\":\"y\"}],"
			       "\"next\":\"00abcd0000000009\"}\n", &c, &n, &cap, &next, &more, err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(more, 1);
	assert_int_equal(next, 0x00abcd0000000009ull);
	assert_int_equal(c[0].oid, 0x00abcd0000000001ull);
	assert_int_equal(c[0].version, 77);
	assert_int_equal(c[0].size, 4194304);
	assert_int_equal(c[0].node, 2);
	assert_true(c[0].file && c[0].csum_valid && c[0].csum[0] == 1 && c[0].csum[31] == 0x20);
	assert_true(c[1].oid == 0x40abcd0000000000ull && sd_oid_is_vmstate(c[1].oid) && !c[1].file && !c[1].csum_valid);

	/* hostile pages: refused whole, naming the field; nothing appended */
	static const char *const bad[][2] = {
		{ "{\"objects\":[{\"oid\":\"80abcd0000000000\",\"version\":1,\"file\":true}],\"next\":null}", "oid" },
		{ "{\"objects\":[{\"oid\":\"00ABCD0000000000\",\"version\":1,\"file\":true}],\"next\":null}", "oid" },
		{ "{\"objects\":[{\"oid\":\"00abcd00\",\"version\":1,\"file\":true}],\"next\":null}", "oid" },
		{ "{\"objects\":[{\"oid\":\"00abcd0000000000\",\"file\":true}],\"next\":null}", "required" },
		{ "{\"objects\":[{\"oid\":\"00abcd0000000000\",\"version\":-1,\"file\":true}],\"next\":null}", "version" },
		{ "{\"objects\":[{\"oid\":\"00abcd0000000000\",\"version\":99999999999999999999,\"file\":true}],\"next\":null}", "version" },
		{ "{\"objects\":[{\"oid\":\"00abcd0000000000\",\"version\":1,\"file\":1}],\"next\":null}", "file" },
		{ "{\"objects\":[{\"oid\":\"00abcd0000000000\",\"version\":1,\"file\":true,\"csum\":\"zz\"}],\"next\":null}", "csum" },
		{ "{\"objects\":[{}],\"next\":null}", "empty" },
		{ "{\"objects\":[{\"oid\":\"00abcd0000000000\",\"version\":1,\"file\":true}]}", "next" },
		{ "{\"objects\":[],\"next\":\"12\"}", "next" },
		{ "{\"objects\":[],\"next\":null}x", "after" },
		{ "{\"objects\":[", "" },
		{ "[]", "objects" },
		{ "{\"objects\":[{\"oid\":\"00abcd0000000000\",\"version\":1,\"file\":true,\"k\":\"a\\\"b\"}],\"next\":null}", "unknown" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t before = n;
		err[0] = 0;
		assert_int_equal(parse(bad[i][0], &c, &n, &cap, &next, &more, err), -EBADMSG);
		assert_int_equal(n, before);
		assert_int_equal(more, 0);
		if (!strstr(err, bad[i][1])) {
			print_error("case %zu: error '%s' does not name '%s'\n", i, err, bad[i][1]);
			fail();
		}
	}
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_page_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

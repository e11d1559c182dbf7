/*
 * tests/unit/test_cmd_ring.c: the logic behind `sheeptool ring`
 * (tools/ring_view.c) on epochs with several members built in-process:
 * SM_MEMBERS parsing (and its rejections), the joined rows, shares,
 * --locate against an independently built ring, the text/JSON/SVG output,
 * and hostile epoch bytes. The .c files are included directly: they are
 * linked only into sheeptool, not into a library.
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
#include "tools/ring_svg.c"

#define NM 6

static void mkid(uint8_t id[RV_ID_LEN], unsigned k)
{
	for (int i = 0; i < RV_ID_LEN; i++)
		id[i] = (uint8_t)(k * 37 + i * 11);
}

/*
 * Members 0..5: 0-3 IN (weights 16, 16, 32, 8; zones 1, 2, 3, 1), 4 OUT
 * (left), 5 IN with weight 0 (known, not placed). Every event recorded by
 * member 0.
 */
static void mkepoch(struct epoch *e)
{
	static const uint16_t w[NM] = { 16, 16, 32, 8, 16, 0 };
	uint8_t self[RV_ID_LEN];

	mkid(self, 0);
	epoch_init(e);
	for (unsigned k = 0; k < NM; k++) {
		struct epoch_member ev;

		memset(&ev, 0, sizeof(ev));
		mkid(ev.id, k);
		ev.version = 1;
		ev.state = EPOCH_IN;
		ev.weight = w[k];
		ev.zone = k < 4 ? (k % 3) + 1 : 0;
		assert_true(epoch_record(e, self, &ev) >= 0);
	}
	{
		struct epoch_member out;

		memset(&out, 0, sizeof(out));
		mkid(out.id, 4);
		out.version = 1;
		out.state = EPOCH_OUT;
		out.weight = 16;
		assert_int_equal(epoch_record(e, self, &out), 1);
	}
}

static size_t encode(const struct epoch *e, uint8_t *buf, size_t cap)
{
	size_t len;

	assert_int_equal(epoch_encode(e, buf, cap, &len), 0);
	return len;
}

/* SM_MEMBERS for members 0-4 plus 7 (a new node the epoch does not list) */
static size_t members_doc(char *out, size_t cap, const char *extra_member_key)
{
	static const char *states[] = { "alive", "alive", "suspect", "alive", "left", "dead", "x", "alive" };
	static const unsigned ks[] = { 0, 1, 2, 3, 4, 7 };
	char id[33];
	size_t n;

	{
		uint8_t b[RV_ID_LEN];

		mkid(b, 2);
		rv_hex(b, RV_ID_LEN, id);
	}
	n = (size_t)snprintf(out, cap, "{\"self\":\"%s\",\"cluster\":\"c\\u0041t\",\"extra\":[1,{\"a\":null}],"
			     "\"members\":[", id);
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		uint8_t b[RV_ID_LEN];

		mkid(b, ks[i]);
		rv_hex(b, RV_ID_LEN, id);
		n += (size_t)snprintf(out + n, cap - n,
				      "%s{\"id\":\"%s\",\"gossip\":\"10.0.0.%u:7000\",\"data\":\"10.0.0.%u:7000\","
				      "\"state\":\"%s\",\"incarnation\":%u,\"generation\":1,\"zone\":%u,"
				      "\"weight\":16%s}",
				      i ? "," : "", id, ks[i], ks[i], states[ks[i]], ks[i] * 3, ks[i] % 3 + 1,
				      extra_member_key ? extra_member_key : "");
	}
	n += (size_t)snprintf(out + n, cap - n, "]}\n");
	assert_true(n < cap);
	return n;
}

static void build(struct ring_view *v)
{
	struct epoch e;
	struct rv_members m;
	uint8_t buf[4096];
	char doc[8192], err[256];
	size_t len, dlen;

	mkepoch(&e);
	len = encode(&e, buf, sizeof(buf));
	epoch_fini(&e);
	dlen = members_doc(doc, sizeof(doc), ",\"future\":{\"x\":[true,false,-1.5e3]}");
	assert_int_equal(rv_members_parse(doc, dlen, &m, err, sizeof(err)), 0);
	assert_int_equal(ring_view_build(v, buf, len, &m, err, sizeof(err)), 0);
	assert_null(m.m);                      /* moved into the view */
}

static void test_members_parse(void **state)
{
	char doc[8192], err[256];
	struct rv_members m;
	size_t n;
	uint8_t id2[RV_ID_LEN];

	(void)state;
	n = members_doc(doc, sizeof(doc), NULL);
	assert_int_equal(rv_members_parse(doc, n, &m, err, sizeof(err)), 0);
	assert_int_equal(m.n, 6);
	mkid(id2, 2);
	assert_memory_equal(m.self, id2, RV_ID_LEN);
	assert_string_equal(m.cluster, "cAt");
	for (size_t i = 1; i < m.n; i++)                     /* sorted by id */
		assert_true(memcmp(m.m[i - 1].id, m.m[i].id, RV_ID_LEN) < 0);
	for (size_t i = 0; i < m.n; i++) {
		assert_int_equal(m.m[i].weight, 16);
		assert_true(!strncmp(m.m[i].data, "10.0.0.", 7));
	}
	rv_members_free(&m);
	assert_null(m.m);
	/* every strict prefix is rejected, never a crash */
	for (size_t l = 0; l + 1 < n; l++) {
		assert_int_not_equal(rv_members_parse(doc, l, &m, err, sizeof(err)), 0);
		assert_null(m.m);
	}
	/* empty members list is fine */
	{
		static const char empty[] = "{\"self\":\"00000000000000000000000000000000\",\"members\":[]}";

		assert_int_equal(rv_members_parse(empty, strlen(empty), &m, err, sizeof(err)), 0);
	}
	assert_int_equal(m.n, 0);
	rv_members_free(&m);
}

static void test_members_reject(void **state)
{
	static const struct { const char *doc, *field; } bad[] = {
		{ "[]", "document" },
		{ "{\"members\":[]}", "self (missing)" },
		{ "{\"self\":\"00000000000000000000000000000000\"}", "members (missing)" },
		{ "{\"self\":\"0000000000000000000000000000000\",\"members\":[]}", "self" },
		{ "{\"self\":\"0000000000000000000000000000000g\",\"members\":[]}", "self" },
		{ "{\"self\":\"00000000000000000000000000000000\",\"members\":[{\"id\":\"zz\"}]}", "members[].id" },
		{ "{\"self\":\"00000000000000000000000000000000\",\"members\":[{\"state\":\"alive\"}]}",
		  "members[].id (missing)" },
		{ "{\"self\":\"00000000000000000000000000000000\",\"members\":[{\"id\":"
		  "\"00000000000000000000000000000001\",\"state\":\"zombie\"}]}", "members[].state" },
		{ "{\"self\":\"00000000000000000000000000000000\",\"members\":[{\"id\":"
		  "\"00000000000000000000000000000001\",\"weight\":65536}]}", "members[].weight" },
		{ "{\"self\":\"00000000000000000000000000000000\",\"members\":[{\"id\":"
		  "\"00000000000000000000000000000001\",\"zone\":-1}]}", "members[].zone" },
		{ "{\"self\":\"00000000000000000000000000000000\",\"members\":[{\"id\":"
		  "\"00000000000000000000000000000001\",\"incarnation\":18446744073709551616}]}",
		  "members[].incarnation" },
		{ "{\"self\":\"00000000000000000000000000000000\",\"members\":[{\"id\":"
		  "\"00000000000000000000000000000001\",\"generation\":1.5}]}", "members[].generation" },
		{ "{\"self\":\"00000000000000000000000000000000\",\"members\":[{\"id\":"
		  "\"00000000000000000000000000000001\",\"data\":\"" "0123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789\"}]}", "members[].data" },
		{ "{\"self\":\"00000000000000000000000000000000\",\"members\":[{\"id\":"
		  "\"00000000000000000000000000000001\"},{\"id\":\"00000000000000000000000000000001\"}]}",
		  "members[].id (duplicate)" },
		{ "{\"self\":\"00000000000000000000000000000000\",\"members\":[]} x", "document (trailing bytes)" },
		{ "{\"self\":\"00000000000000000000000000000000\",\"members\":[],\"deep\":"
		  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", "unknown key" },
		{ "{\"self\":\"00000000000000000000000000000000\",\"members\":[],\"s\":\"a\x01\"}", "unknown key" },
	};
	char err[256];
	struct rv_members m;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = rv_members_parse(bad[i].doc, strlen(bad[i].doc), &m, err, sizeof(err));

		if (rc != -EBADMSG || strncmp(err, bad[i].field, strlen(bad[i].field)))
			printf("case %zu: rc %d err '%s', want field '%s'\n", i, rc, err, bad[i].field);
		assert_int_equal(rc, -EBADMSG);
		assert_true(!strncmp(err, bad[i].field, strlen(bad[i].field)));
		assert_null(m.m);
	}
	assert_int_equal(rv_members_parse(NULL, 0, &m, err, sizeof(err)), -EBADMSG);
}

static const struct rv_row *row_k(const struct ring_view *v, unsigned k)
{
	uint8_t id[RV_ID_LEN];

	mkid(id, k);
	for (size_t i = 0; i < v->n_rows; i++)
		if (!memcmp(v->rows[i].id, id, RV_ID_LEN))
			return &v->rows[i];
	return NULL;
}

static void test_rows_and_shares(void **state)
{
	struct ring_view v;
	double sum = 0;

	(void)state;
	build(&v);
	assert_int_equal(v.n_rows, 7);          /* 6 in the epoch + node 7 from gossip */
	assert_int_equal(ring_nr_nodes(v.ring), 4);
	assert_int_equal(ring_nr_vnodes(v.ring), (16 + 16 + 32 + 8) * RING_VNODES_PER_UNIT_DEFAULT);
	assert_int_equal(v.scalar, 7);          /* 6 joins + 1 leave, all by node 0 */
	for (size_t i = 1; i < v.n_rows; i++)
		assert_true(memcmp(v.rows[i - 1].id, v.rows[i].id, RV_ID_LEN) < 0);
	for (unsigned k = 0; k < 4; k++) {
		const struct rv_row *r = row_k(&v, k);

		assert_non_null(r);
		assert_true(r->ring_idx >= 0);
		assert_int_equal(r->vnodes, (uint32_t)r->weight * RING_VNODES_PER_UNIT_DEFAULT);
		assert_true(r->share > 0 && r->share < 1);
		assert_string_equal(rv_row_ring(r), "in");
		assert_ptr_equal(ring_view_row_of(&v, (uint32_t)r->ring_idx), r);
		sum += r->share;
	}
	assert_true(sum > 0.999999 && sum < 1.000001);
	/* the weight-32 node holds more than a weight-8 one */
	assert_true(row_k(&v, 2)->share > row_k(&v, 3)->share);
	assert_true(row_k(&v, 2)->self);
	assert_false(row_k(&v, 0)->self);
	/* left: in the epoch, out of the ring */
	assert_int_equal(row_k(&v, 4)->ring_idx, -1);
	assert_string_equal(rv_row_ring(row_k(&v, 4)), "out");
	assert_string_equal(rv_row_state(row_k(&v, 4)), "left");
	assert_int_equal(row_k(&v, 4)->vnodes, 0);
	/* weight 0: in, not placed, no gossip record */
	assert_int_equal(row_k(&v, 5)->ring_idx, -1);
	assert_null(row_k(&v, 5)->mem);
	assert_string_equal(rv_row_addr(row_k(&v, 5)), "-");
	assert_string_equal(rv_row_state(row_k(&v, 5)), "-");
	/* gossip-only: listed, not in the epoch */
	assert_null(row_k(&v, 7)->em);
	assert_string_equal(rv_row_ring(row_k(&v, 7)), "-");
	assert_string_equal(rv_row_addr(row_k(&v, 7)), "10.0.0.7:7000");
	ring_view_free(&v);
}

/* --locate agrees with a ring built independently from the same members. */
static void test_locate(void **state)
{
	struct ring_view v;
	struct ring *ref;
	struct ring_member rm[4];
	static const uint16_t w[4] = { 16, 16, 32, 8 };
	uint64_t primaries[4] = { 0 };

	(void)state;
	build(&v);
	for (unsigned k = 0; k < 4; k++) {
		mkid(rm[k].id, k);
		rm[k].weight = w[k];
		rm[k].zone = (k % 3) + 1;
	}
	assert_int_equal(ring_new(&ref, rm, 4, 0), 0);
	for (uint64_t i = 0; i < 4000; i++) {
		uint64_t oid = sd_data_oid((uint32_t)(i * 2654435761u) & SD_VID_MASK, (uint32_t)i);
		const struct rv_row *rows[RING_MAX_COPIES];
		uint32_t idx[RING_MAX_COPIES];
		unsigned copies = 1 + i % 5;
		int n = ring_view_locate(&v, oid, copies, rows);

		assert_int_equal(n, copies < 4 ? copies : 4);
		assert_int_equal(ring_locate(ref, ring_oid_hash(oid), copies, idx), n);
		for (int j = 0; j < n; j++) {
			assert_non_null(rows[j]);
			assert_memory_equal(rows[j]->id, ring_node(ref, idx[j])->id, RV_ID_LEN);
			assert_true(rows[j]->ring_idx >= 0);      /* never the left or weightless one */
			for (int q = 0; q < j; q++)
				assert_ptr_not_equal(rows[q], rows[j]);
		}
		/* 3 zones among 4 nodes: the first 3 replicas are in 3 zones */
		if (n >= 3)
			assert_true(rows[0]->zone != rows[1]->zone && rows[1]->zone != rows[2]->zone &&
				    rows[0]->zone != rows[2]->zone);
		primaries[rows[0]->ring_idx]++;
	}
	for (int k = 0; k < 4; k++)
		assert_true(primaries[k] > 0);
	assert_int_equal(ring_view_locate(&v, 1, RING_MAX_COPIES + 1, (const struct rv_row *[RING_MAX_COPIES + 1]){ 0 }), -EINVAL);
	ring_free(ref);
	ring_view_free(&v);
}

static void test_target_parse(void **state)
{
	struct rv_target t;
	char err[256];

	(void)state;
	assert_int_equal(rv_target_parse("0x00d9d57700000003", &t, err, sizeof(err)), 0);
	assert_int_equal(t.oid, 0x00d9d57700000003ull);
	assert_false(t.is_vdi);
	assert_int_equal(rv_target_parse("FFFFFFFFFFFFFFFF", &t, err, sizeof(err)), 0);
	assert_int_equal(t.oid, UINT64_MAX);
	assert_int_equal(rv_target_parse("7", &t, err, sizeof(err)), 0);
	assert_int_equal(t.oid, 7);
	assert_int_equal(rv_target_parse("disk:12", &t, err, sizeof(err)), 0);
	assert_true(t.is_vdi);
	assert_string_equal(t.vdi, "disk");
	assert_int_equal(t.index, 12);
	assert_int_equal(rv_target_parse("a:b:1048575", &t, err, sizeof(err)), 0);   /* last ':' splits */
	assert_string_equal(t.vdi, "a:b");
	assert_int_equal(t.index, SD_MAX_DATA_OBJS - 1);
	static const char *bad[] = { "", "0x", "xyz", "12345678901234567", "disk:", ":3", "disk:-1",
				     "disk:1048576", "disk:1e3", "disk:99999999999999999999", "0x-5" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(rv_target_parse(bad[i], &t, err, sizeof(err)), -EINVAL);
		assert_true(strstr(err, "--locate") != NULL);
	}
}

static char *render(const struct ring_view *v, int what, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	struct rv_target t = { .oid = 0x1234, .is_vdi = 1, .vdi = "d\"q", .index = 3 };

	assert_non_null(f);
	if (what == 0)
		ring_view_print_text(v, f);
	else if (what == 1)
		ring_view_print_json(v, f);
	else if (what == 2)
		assert_int_equal(ring_view_svg(v, f), 0);
	else
		ring_view_print_locate(v, &t, 3, 1, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* A whole JSON value (our reader's skipper is a syntax check) and nothing else. */
static int json_ok(const char *s, size_t n)
{
	struct jr r = { s, s, s + n, "" };

	if (jr_skip(&r, 0))
		return 0;
	jr_ws(&r);
	return r.p == r.end;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_render(void **state)
{
	struct ring_view v;
	char *s, id[33];
	size_t n;
	uint64_t ppm = 0;

	(void)state;
	build(&v);
	/* text: header, one line per row, self marked */
	s = render(&v, 0, &n);
	assert_non_null(strstr(s, "ring version:  epoch 7  digest "));
	for (size_t i = 0; i < v.n_rows; i++) {
		rv_hex(v.rows[i].id, RV_ID_LEN, id);
		assert_non_null(strstr(s, id));
	}
	rv_hex(row_k(&v, 2)->id, RV_ID_LEN, id);
	{
		char marked[40];

		snprintf(marked, sizeof(marked), "* %s", id);
		assert_non_null(strstr(s, marked));
	}
	assert_int_equal(count(s, "\n* "), 2);     /* the row and the legend line */
	assert_non_null(strstr(s, "cluster:       cAt"));
	free(s);
	/* json: well formed, one object per row, shares sum to 1e6 ppm */
	s = render(&v, 1, &n);
	assert_true(json_ok(s, n));
	assert_int_equal(count(s, "\"share_ppm\":"), v.n_rows);
	for (const char *p = s; (p = strstr(p, "\"share_ppm\":")); p++)
		ppm += strtoull(p + 12, NULL, 10);
	assert_true(ppm >= 999998 && ppm <= 1000002);
	assert_non_null(strstr(s, "\"epoch\":7,"));
	assert_non_null(strstr(s, "\"ring\":\"out\""));
	assert_non_null(strstr(s, "\"ring\":\"none\""));
	assert_non_null(strstr(s, "\"objects\":null"));
	free(s);
	/* locate json: quoted VDI name escaped, 3 replicas */
	s = render(&v, 3, &n);
	assert_true(json_ok(s, n));
	assert_non_null(strstr(s, "\"vdi\":\"d\\\"q\""));
	assert_int_equal(count(s, "\"id\":"), 3);
	free(s);
	/* svg: well formed enough (balanced groups, closing tag), one legend
	 * entry per placed node, arcs present */
	s = render(&v, 2, &n);
	assert_true(!strncmp(s, "<?xml", 5));
	assert_non_null(strstr(s, "</svg>\n"));
	assert_int_equal(count(s, "<g"), count(s, "</g>"));
	assert_int_equal(count(s, "<rect x=\"500\""), 4);
	assert_true(count(s, "<path ") >= 4);
	free(s);
	ring_view_free(&v);
}

/* Without SM_MEMBERS: still a full view, addresses unknown. A one-node
 * ring draws a full circle. */
static void test_no_members_single(void **state)
{
	struct epoch e;
	struct ring_view v;
	struct epoch_member ev;
	uint8_t buf[512];
	size_t len, n;
	char err[256], *s;

	(void)state;
	epoch_init(&e);
	memset(&ev, 0, sizeof(ev));
	mkid(ev.id, 9);
	ev.version = 1;
	ev.state = EPOCH_IN;
	ev.weight = RING_WEIGHT_DEFAULT;
	assert_int_equal(epoch_record(&e, ev.id, &ev), 1);
	len = encode(&e, buf, sizeof(buf));
	epoch_fini(&e);
	assert_int_equal(ring_view_build(&v, buf, len, NULL, err, sizeof(err)), 0);
	assert_int_equal(v.n_rows, 1);
	assert_true(v.rows[0].share > 0.999999);
	s = render(&v, 0, &n);
	assert_non_null(strstr(s, "100.00%"));
	assert_non_null(strstr(s, "did not answer SM_MEMBERS"));
	free(s);
	s = render(&v, 1, &n);
	assert_true(json_ok(s, n));
	assert_non_null(strstr(s, "\"self\":null"));
	assert_non_null(strstr(s, "\"address\":null"));
	free(s);
	s = render(&v, 2, &n);
	assert_int_equal(count(s, "<path "), 0);
	assert_int_equal(count(s, "<circle "), 2);
	free(s);
	ring_view_free(&v);
	/* an empty epoch: no rows, nothing placed, still renders */
	epoch_init(&e);
	len = encode(&e, buf, sizeof(buf));
	epoch_fini(&e);
	assert_int_equal(ring_view_build(&v, buf, len, NULL, err, sizeof(err)), 0);
	assert_int_equal(v.n_rows, 0);
	s = render(&v, 0, &n);
	assert_non_null(strstr(s, "(no members)"));
	free(s);
	s = render(&v, 2, &n);
	assert_non_null(strstr(s, "(no node placed)"));
	free(s);
	{
		const struct rv_row *rows[RING_MAX_COPIES];

		assert_int_equal(ring_view_locate(&v, 42, 3, rows), 0);
	}
	ring_view_free(&v);
}

/* Bad epoch bytes: an EPOCH_E_* code and a message; every prefix and many
 * mutations never crash. */
static void test_bad_epoch(void **state)
{
	struct epoch e;
	struct ring_view v;
	uint8_t buf[4096], mut[4096];
	size_t len;
	char err[256];
	uint64_t r = 99;
	int ok = 0;

	(void)state;
	mkepoch(&e);
	len = encode(&e, buf, sizeof(buf));
	epoch_fini(&e);
	assert_int_equal(ring_view_build(&v, (const uint8_t *)"\x92\x01", 2, NULL, err, sizeof(err)),
			 EPOCH_E_ENVELOPE);
	assert_true(!strncmp(err, "epoch: ", 7));
	ring_view_free(&v);
	for (size_t l = 0; l < len; l++) {
		assert_true(ring_view_build(&v, buf, l, NULL, err, sizeof(err)) != 0);
		ring_view_free(&v);
	}
	for (int i = 0; i < 3000; i++) {
		memcpy(mut, buf, len);
		for (int k = 0; k < 3; k++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			mut[(r >> 33) % len] = (uint8_t)(r >> 17);
		}
		if (ring_view_build(&v, mut, len, NULL, err, sizeof(err)) == 0) {
			ok++;
			assert_true(ring_nr_nodes(v.ring) <= v.n_rows);
		}
		ring_view_free(&v);
	}
	printf("# %d of 3000 mutated epochs still decoded\n", ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_members_parse),
		cmocka_unit_test(test_members_reject),
		cmocka_unit_test(test_rows_and_shares),
		cmocka_unit_test(test_locate),
		cmocka_unit_test(test_target_parse),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_no_members_single),
		cmocka_unit_test(test_bad_epoch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

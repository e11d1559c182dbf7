/* test_node_locks.c: store_list_locks() (store/locks_list.c) and the
 * SM_LOCKS document (node/dispatch_locks.c) on a real store in a temp dir:
 * what LOCK_VDI/RELEASE_VDI/DEL_VDI leave, vid order, early stop, JSON
 * escaping of raw name bytes, the client's size limit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "node/dispatch_locks.h"
#include "store_test_util.h"

static int setup_enforced(void **state)
{
	int rc = tstore_setup(state);
	struct tstore *ts = rc ? NULL : *state;

	if (rc)
		return rc;
	ts->cfg.enforce_locks = 1;
	return tstore_reopen(ts);
}

static int tlock(struct store *st, const char *name, uint32_t snapid, uint32_t type)
{
	struct store_vdi_req r;
	struct store_vdi_rsp rsp = {0};

	treq(&r, name, NULL, snapid);
	r.lock_type = type;
	return store_lock_vdi(st, &r, &rsp);
}

struct seen {
	int n, stop_after;
	struct store_lock_info l[8];
};

static int seen_cb(void *ctx, const struct store_lock_info *l)
{
	struct seen *s = ctx;

	if (s->n < 8)
		s->l[s->n] = *l;
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static char *doc_of(struct store *st, size_t max)
{
	char *doc;
	size_t len;

	assert_int_equal(node_dispatch_locks_json(st, max, &doc, &len), 0);
	assert_int_equal(strlen(doc), len);
	return doc;
}

static void test_empty(void **state)
{
	struct tstore *ts = *state;
	struct seen s = {0};
	char *doc;

	assert_int_equal(store_locks_enforced(ts->st), 1);
	assert_int_equal(store_list_locks(ts->st, seen_cb, &s), 0);
	assert_int_equal(s.n, 0);
	doc = doc_of(ts->st, 4096);
	assert_string_equal(doc, "{\"enforce_locks\":true,\"locks\":[]}");
	free(doc);
}

static void test_list(void **state)
{
	struct tstore *ts = *state;
	struct seen s = {0};
	uint32_t a, b, c;

	assert_int_equal(tnew(ts->st, "alpha", 1 << 22, 0, 0, 22, &a), 0);
	assert_int_equal(tnew(ts->st, "beta", 1 << 22, 0, 0, 22, &b), 0);
	assert_int_equal(tnew(ts->st, "gamma", 1 << 22, 0, 0, 22, &c), 0);
	assert_int_equal(tlock(ts->st, "alpha", 0, 0), SD_RES_SUCCESS);
	assert_int_equal(tlock(ts->st, "beta", 0, 1), SD_RES_SUCCESS);
	assert_int_equal(tlock(ts->st, "beta", 0, 1), SD_RES_SUCCESS);
	assert_int_equal(tlock(ts->st, "alpha", 0, 0), SD_RES_VDI_LOCKED);

	assert_int_equal(store_list_locks(ts->st, seen_cb, &s), 0);
	assert_int_equal(s.n, 2);                  /* gamma is not locked */
	assert_true(s.l[0].vid < s.l[1].vid);      /* vid order */
	for (int i = 0; i < 2; i++) {
		const struct store_lock_info *l = &s.l[i];
		int is_a = l->vid == a;

		assert_true(is_a || l->vid == b);
		assert_string_equal(l->name, is_a ? "alpha" : "beta");
		assert_int_equal(l->type, is_a ? 0 : 1);
		assert_int_equal(l->holders, is_a ? 1 : 2);
		assert_int_equal(l->is_snapshot, 0);
		assert_string_equal(l->tag, "");
		assert_true(l->time >> 32 > 1700000000u);
	}

	/* cb != 0 stops */
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(store_list_locks(ts->st, seen_cb, &s), 0);
	assert_int_equal(s.n, 1);

	/* one release drops one holder; the last drops the lock */
	assert_int_equal(store_release_vdi(ts->st, b, 1), SD_RES_SUCCESS);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_list_locks(ts->st, seen_cb, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.l[s.l[0].vid == b ? 0 : 1].holders, 1);
	assert_int_equal(store_release_vdi(ts->st, b, 1), SD_RES_SUCCESS);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_list_locks(ts->st, seen_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.l[0].vid, a);

	/* a deleted VDI loses its lock */
	assert_int_equal(tdel(ts->st, "alpha", NULL, 0, NULL), SD_RES_SUCCESS);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_list_locks(ts->st, seen_cb, &s), 0);
	assert_int_equal(s.n, 0);

	/* locks survive a reopen */
	assert_int_equal(tlock(ts->st, "gamma", 0, 0), SD_RES_SUCCESS);
	assert_int_equal(tstore_reopen(ts), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_list_locks(ts->st, seen_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.l[0].vid, c);
}

static void test_json(void **state)
{
	struct tstore *ts = *state;
	/* quote, backslash, a control byte, a lone 0xff, valid UTF-8 (é) */
	const char *name = "q\"b\\c\x01" "d\xff" "e\xc3\xa9";
	char *doc, expect[512];
	uint32_t vid;
	size_t len;

	assert_int_equal(tnew(ts->st, name, 1 << 22, 0, 0, 22, &vid), 0);
	assert_int_equal(tlock(ts->st, name, 0, 1), SD_RES_SUCCESS);
	doc = doc_of(ts->st, 4096);
	snprintf(expect, sizeof(expect),
		 "{\"enforce_locks\":true,\"locks\":[{\"vid\":%u,\"vid_hex\":\"%06x\","
		 "\"name\":\"q\\\"b\\\\c\\u0001d\\u00ffe\xc3\xa9\",\"snapshot\":false,\"snap_id\":1,"
		 "\"tag\":\"\",\"type\":\"shared\",\"holders\":1,\"taken\":", vid, vid);
	assert_memory_equal(doc, expect, strlen(expect));
	assert_string_equal(doc + strlen(doc) - 3, "}]}");
	len = strlen(doc);
	free(doc);

	/* exactly the limit fits; one byte less is -E2BIG, nothing returned */
	doc = doc_of(ts->st, len);
	free(doc);
	doc = (char *)1;
	assert_int_equal(node_dispatch_locks_json(ts->st, len - 1, &doc, &len), -E2BIG);
	assert_null(doc);
	assert_int_equal(node_dispatch_locks_json(ts->st, 10, &doc, &len), -E2BIG);
}

static void test_run(void **state)
{
	struct tstore *ts = *state;
	struct node_log *log = NULL;
	struct node_ctx ctx;
	struct node_req r;

	memset(&ctx, 0, sizeof(ctx));
	ctx.store = ts->st;
	ctx.log = log;
	ctx.max_request = 1u << 22;
	assert_int_equal(tnew(ts->st, "disk", 1 << 22, 0, 0, 22, NULL), 0);
	assert_int_equal(tlock(ts->st, "disk", 0, 0), SD_RES_SUCCESS);

	memset(&r, 0, sizeof(r));
	r.ctx = &ctx;
	r.hdr.opcode = SD_OP_SM_LOCKS;
	r.hdr.data_length = 65536;
	assert_int_equal(node_dispatch_locks_run(&r), SD_RES_SUCCESS);
	assert_non_null(r.out);
	assert_true(r.out_len > 40 && r.out_len < 400);
	assert_non_null(memmem(r.out, r.out_len, "\"name\":\"disk\"", 13));
	free(r.out);

	/* a reply buffer smaller than the document: refused, no payload */
	memset(&r, 0, sizeof(r));
	r.ctx = &ctx;
	r.hdr.opcode = SD_OP_SM_LOCKS;
	r.hdr.data_length = 20;
	assert_int_equal(node_dispatch_locks_run(&r), SD_RES_INVALID_PARMS);
	assert_null(r.out);
	assert_int_equal(r.out_len, 0);
}

/* store_lock_state/store_lock_apply: what the leader sends every node */
static void test_lock_apply(void **state)
{
	struct tstore *ts = *state;
	struct store_lock_state in = { .vid = 0x123456, .held = 1, .type = 1, .count = 3, .time = 77 }, out;

	assert_int_equal(store_lock_state(ts->st, in.vid, &out), 0);
	assert_int_equal(out.held, 0);
	assert_int_equal(store_lock_apply(ts->st, &in), 0);
	assert_int_equal(tstore_reopen(ts), 0);          /* durable */
	assert_int_equal(store_lock_state(ts->st, in.vid, &out), 0);
	assert_int_equal(out.held, 1);
	assert_int_equal(out.type, 1);
	assert_int_equal(out.count, 3);
	assert_true(out.time == 77);
	in.held = 0;
	assert_int_equal(store_lock_apply(ts->st, &in), 0);
	assert_int_equal(store_lock_state(ts->st, in.vid, &out), 0);
	assert_int_equal(out.held, 0);
	assert_int_equal(store_lock_apply(ts->st, &in), 0);   /* dropping no lock is fine */
	/* refused: vid 0 or out of range, unknown type, a held lock without holders */
	struct store_lock_state bad = { .vid = 0, .held = 1, .type = 0, .count = 1 };
	assert_int_equal(store_lock_apply(ts->st, &bad), -EINVAL);
	bad.vid = 1u << 24;
	assert_int_equal(store_lock_apply(ts->st, &bad), -EINVAL);
	bad.vid = 5;
	bad.type = 2;
	assert_int_equal(store_lock_apply(ts->st, &bad), -EINVAL);
	bad.type = 0;
	bad.count = 0;
	assert_int_equal(store_lock_apply(ts->st, &bad), -EINVAL);
	assert_int_equal(store_lock_state(ts->st, 5, &out), 0);
	assert_int_equal(out.held, 0);
}

static void test_not_enforced(void **state)
{
	struct tstore *ts = *state;
	struct seen s = {0};
	char *doc;

	assert_int_equal(store_locks_enforced(ts->st), 0);
	assert_int_equal(tnew(ts->st, "disk", 1 << 22, 0, 0, 22, NULL), 0);
	assert_int_equal(tlock(ts->st, "disk", 0, 0), SD_RES_SUCCESS);   /* takes nothing */
	assert_int_equal(store_list_locks(ts->st, seen_cb, &s), 0);
	assert_int_equal(s.n, 0);
	doc = doc_of(ts->st, 4096);
	assert_string_equal(doc, "{\"enforce_locks\":false,\"locks\":[]}");
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup_enforced, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_list, setup_enforced, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_json, setup_enforced, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_run, setup_enforced, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_not_enforced, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_lock_apply, setup_enforced, tstore_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

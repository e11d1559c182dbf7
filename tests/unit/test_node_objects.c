/* test_node_objects.c: the SM_OBJECTS page and SM_RECOVER's drop of index
 * records whose file is gone (node/dispatch_objects.c), on a real store in
 * a temp dir: oid order, paging by "next" under the client's size limit,
 * inode records left out, "file":false for a deleted file. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "node/dispatch_objects.h"
#include "store_test_util.h"

#define NOBJ 80

static uint32_t make_vdi(struct tstore *ts)
{
	uint32_t vid;
	static uint8_t buf[4096];

	assert_int_equal(tnew(ts->st, "objs", 1ull << 30, 0, 0, 0, &vid), SD_RES_SUCCESS);
	memset(buf, 0xab, sizeof(buf));
	for (uint32_t i = 0; i < NOBJ; i++)
		assert_int_equal(store_create_and_write_obj(ts->st, sd_data_oid(vid, i), 0, 0, 0,
							    sizeof(buf), buf), SD_RES_SUCCESS);
	return vid;
}

/* every oid of a page, appended to out[*n]; returns the "next" oid or 0 */
static uint64_t page_oids(const char *doc, uint64_t *out, size_t *n)
{
	const char *p = doc, *q;

	assert_true(!strncmp(doc, "{\"objects\":[", 12));
	while ((q = strstr(p, "{\"oid\":\""))) {
		out[(*n)++] = strtoull(q + 8, NULL, 16);
		p = q + 8;
	}
	q = strstr(doc, "],\"next\":");
	assert_non_null(q);
	if (!strcmp(q, "],\"next\":null}"))
		return 0;
	return strtoull(q + 10, NULL, 16);
}

static void test_pages(void **state)
{
	struct tstore *ts = *state;
	uint32_t vid = make_vdi(ts);
	uint64_t oids[NOBJ + 8], from = 0;
	size_t n = 0, pages = 0;
	char *doc;
	size_t len, count;

	assert_int_equal(node_dispatch_objects_json(ts->st, 0, SM_OBJECTS_MIN_REPLY - 1, &doc, &len, &count),
			 -EINVAL);
	do {
		assert_int_equal(node_dispatch_objects_json(ts->st, from, SM_OBJECTS_MIN_REPLY, &doc, &len,
							   &count), 0);
		assert_true(len <= SM_OBJECTS_MIN_REPLY);
		assert_int_equal(strlen(doc), len);
		assert_true(count > 0);
		size_t before = n;
		from = page_oids(doc, oids, &n);
		assert_int_equal(n - before, count);
		free(doc);
		pages++;
	} while (from);
	/* 80 entries of ~110 bytes do not fit in 4 KiB: several pages, and
	 * together every data object exactly once, in oid order, no inode */
	assert_true(pages > 1);
	assert_int_equal(n, NOBJ);
	for (uint32_t i = 0; i < NOBJ; i++)
		assert_int_equal(oids[i], sd_data_oid(vid, i));
	/* one large page holds them all, with the checksum of whole writes */
	assert_int_equal(node_dispatch_objects_json(ts->st, 0, 1 << 20, &doc, &len, &count), 0);
	assert_int_equal(count, NOBJ);
	assert_non_null(strstr(doc, "],\"next\":null}"));
	assert_null(strstr(doc, "\"file\":false"));
	free(doc);
}

static void test_missing_file(void **state)
{
	struct tstore *ts = *state;
	uint32_t vid = make_vdi(ts);
	uint64_t oid = sd_data_oid(vid, 7);
	char path[256], *doc, want[64];
	size_t len, count;
	struct store_obj_info oi;

	snprintf(path, sizeof(path), "%s/obj/%06x/%016" PRIx64, ts->dir, vid, oid);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(node_dispatch_objects_json(ts->st, oid, 1 << 20, &doc, &len, &count), 0);
	/* from oid on: the gone one first, marked, the next one present */
	snprintf(want, sizeof(want), "{\"objects\":[{\"oid\":\"%016" PRIx64 "\"", oid);
	assert_true(!strncmp(doc, want, strlen(want)));
	assert_int_equal(count, NOBJ - 7);
	char *f = strstr(doc, "\"file\":");
	assert_non_null(f);
	assert_true(!strncmp(f, "\"file\":false}", 13));
	assert_true(!strncmp(strstr(f + 1, "\"file\":"), "\"file\":true}", 12));
	free(doc);
	/* SM_RECOVER's first step: that record goes, the others stay */
	assert_int_equal(node_dispatch_objects_drop_missing(ts->st), 1);
	assert_int_equal(store_obj_stat(ts->st, oid, &oi), SD_RES_NO_OBJ);
	assert_int_equal(store_obj_stat(ts->st, oid + 1, &oi), SD_RES_SUCCESS);
	assert_int_equal(node_dispatch_objects_drop_missing(ts->st), 0);
	assert_int_equal(node_dispatch_objects_json(ts->st, 0, 1 << 20, &doc, &len, &count), 0);
	assert_int_equal(count, NOBJ - 1);
	free(doc);
}

/* the worker entry: SM_OBJECTS fills the reply, SM_RECOVER without a
 * recovery thread (a node that does not replicate) is SYSTEM_ERROR */
static void test_run(void **state)
{
	struct tstore *ts = *state;
	struct node_ctx c = { .store = ts->st, .max_request = 1u << 25 };
	struct node_req r;

	make_vdi(ts);
	memset(&r, 0, sizeof(r));
	r.ctx = &c;
	r.hdr.opcode = SD_OP_SM_OBJECTS;
	r.hdr.data_length = 1 << 20;
	assert_int_equal(node_dispatch_objects_run(&r), SD_RES_SUCCESS);
	assert_non_null(r.out);
	assert_true(r.out_len > 12 && r.out_len <= 1 << 20);
	assert_true(!memcmp(r.out, "{\"objects\":[{\"oid\":", 19));
	free(r.out);
	memset(&r, 0, sizeof(r));
	r.ctx = &c;
	r.hdr.opcode = SD_OP_SM_RECOVER;
	assert_int_equal(node_dispatch_objects_run(&r), SD_RES_SYSTEM_ERROR);
	assert_null(r.out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pages, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, tstore_setup, tstore_teardown),
		cmocka_unit_test_setup_teardown(test_run, tstore_setup, tstore_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

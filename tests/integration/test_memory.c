/*
 * test_memory.c: --max-buffer-mb bounds what clients that do not read
 * their replies can make the daemon hold, and nobody deadlocks.
 *
 * NCONN connections each pipeline PER_CONN reads of a whole 4 MiB object
 * and read nothing back for a while. Without the budget the daemon would
 * buffer nearly NCONN * PER_CONN * 4 MiB of replies; with it, the charged
 * bytes (SM_STATUS "buffered_bytes") stay within the budget plus one
 * request per connection. Afterwards every reply arrives, in full and
 * correct.
 */
#include "tests/integration/itest.h"

#define OBJ        (UINT32_C(4) << 20)
#define NCONN      6
#define PER_CONN   8
#define BUDGET_MB  16

static const char *const mem_flags[] = { "--max-object-shift", "22",
					 "--max-buffer-mb", "16", NULL };

static int mem_setup(void **state)
{
	return itest_setup_with(state, mem_flags);
}

/* "buffered_bytes" from the status document, or -1. */
static long long status_buffered(struct itest_node *n)
{
	enum { CAP = 65536 };
	struct sd_client *c = itest_connect(n);
	struct sd_req req = { .opcode = SD_OP_SM_STATUS, .data_length = CAP };
	struct sd_rsp rsp;
	char *doc = calloc(1, CAP + 1);
	long long v = -1;

	assert_non_null(doc);
	if (sd_client_request(c, &req, NULL, doc, CAP, &rsp) == 0) {
		const char *p = strstr(doc, "\"buffered_bytes\":");
		if (p)
			v = strtoll(p + strlen("\"buffered_bytes\":"), NULL, 10);
	}
	sd_client_close(c);
	free(doc);
	return v;
}

static void test_budget_bounds_unread_replies(void **state)
{
	struct itest_node *n = itest_node(state);
	struct sd_client *c, *cs[NCONN];
	struct sd_vdi_new_args na = { .name = "m", .size = UINT64_C(64) << 20 };
	uint32_t vid;
	uint8_t *want = malloc(OBJ), *got = malloc(OBJ);
	const long long bound = ((long long)BUDGET_MB << 20) + (long long)NCONN * OBJ;
	long long peak = 0;

	assert_non_null(want);
	assert_non_null(got);
	c = itest_connect(n);
	assert_int_equal(sd_vdi_new(c, &na, &vid), 0);
	itest_pattern(want, OBJ, 0, 42);
	struct sd_req w = { .opcode = SD_OP_CREATE_AND_WRITE_OBJ, .data_length = OBJ,
			    .flags = SD_FLAG_CMD_WRITE };
	w.obj.oid = sd_data_oid(vid, 0);
	struct sd_rsp rsp;
	assert_int_equal(sd_client_request(c, &w, want, NULL, 0, &rsp), 0);
	sd_client_close(c);

	for (int i = 0; i < NCONN; i++) {
		cs[i] = itest_connect(n);
		for (uint32_t k = 0; k < PER_CONN; k++) {
			struct sd_req r = { .opcode = SD_OP_READ_OBJ, .data_length = OBJ };
			r.id = 1000 * (uint32_t)i + k;
			r.obj.oid = sd_data_oid(vid, 0);
			assert_int_equal(sd_client_send(cs[i], &r, NULL), 0);
		}
	}
	/* nobody reads: watch what the daemon holds */
	for (int t = 0; t < 10; t++) {
		long long b = status_buffered(n);
		assert_true(b >= 0);
		if (b > peak)
			peak = b;
		itest_sleep_ms(50);
	}
	printf("peak buffered %lld bytes, bound %lld\n", peak, bound);
	assert_true(peak > 0);          /* the test did load the daemon */
	assert_true(peak <= bound);

	/* now read everything: all replies arrive, whole and right */
	for (int i = 0; i < NCONN; i++) {
		unsigned seen = 0;     /* replies come in completion order */
		for (uint32_t k = 0; k < PER_CONN; k++) {
			assert_int_equal(sd_client_recv_header(cs[i], &rsp), 0);
			assert_int_equal(rsp.result, 0);
			uint32_t j = rsp.id - 1000 * (uint32_t)i;
			assert_true(j < PER_CONN && !(seen & (1u << j)));
			seen |= 1u << j;
			assert_int_equal(rsp.data_length, OBJ);
			assert_int_equal(sd_client_recv_payload(cs[i], got, OBJ), 0);
			assert_memory_equal(got, want, OBJ);
		}
		sd_client_close(cs[i]);
	}
	/* only the status request itself is still charged */
	assert_int_equal(status_buffered(n), 65536);
	free(want);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_budget_bounds_unread_replies, mem_setup,
						itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

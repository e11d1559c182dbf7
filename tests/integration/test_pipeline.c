/*
 * test_pipeline.c: 256 requests in flight on one connection (§1.3: the
 * async connection is pipelined, replies come back in any order and are
 * matched by id). A sender thread writes all requests while the main
 * thread collects replies, so a daemon that applies back-pressure (stops
 * reading at --max-inflight) cannot deadlock the test.
 */
#include <pthread.h>

#include "tests/integration/itest.h"

#define NREQ 256
#define OBJ (UINT32_C(4) << 20)

struct preq {
	struct sd_req r;
	uint8_t *wbuf;              /* write payload */
	uint8_t *rbuf;              /* read destination */
	uint64_t pos;               /* pattern position */
	uint32_t seed;
	int replies;                /* how many replies carried this id */
	struct sd_rsp rsp;
};

struct pipe {
	struct sd_client *c;
	struct preq q[NREQ];
	int send_err;
};

/* Ids far from 0..255 and in no order: the server must echo, not count. */
static uint32_t scrambled_id(uint32_t i) { return i * 2654435761u ^ 0xabc00u; }

static void *sender(void *arg)
{
	struct pipe *p = arg;

	for (int i = 0; i < NREQ; i++) {
		int ret = sd_client_send(p->c, &p->q[i].r, p->q[i].wbuf);

		if (ret) {
			p->send_err = ret;
			break;
		}
	}
	return NULL;
}

static int lookup(void *ctx, const struct sd_rsp *rsp, void **buf, size_t *cap)
{
	struct pipe *p = ctx;

	for (int i = 0; i < NREQ; i++) {
		struct preq *q = &p->q[i];

		if (q->r.id != rsp->id)
			continue;
		q->replies++;
		q->rsp = *rsp;
		*buf = q->rbuf;
		*cap = q->rbuf && rsp->result == 0 ? q->r.data_length : 0;
		return 0;
	}
	return -1;
}

/* Send all, receive all, check one reply per id with the right shape. */
static void pipe_run(struct pipe *p)
{
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, sender, p), 0);
	for (int got = 0; got < NREQ; got++) {
		struct sd_rsp rsp;
		int ret = sd_client_recv_reply(p->c, &rsp, lookup, p);

		if (ret) {
			print_error("reply %d of %d: %s\n", got, NREQ, sd_client_strerror(ret));
			shutdown(sd_client_fd(p->c), SHUT_RDWR);   /* unblock the sender */
			pthread_join(th, NULL);
			fail();
		}
	}
	pthread_join(th, NULL);
	assert_int_equal(p->send_err, 0);
	for (int i = 0; i < NREQ; i++) {
		struct preq *q = &p->q[i];

		assert_int_equal(q->replies, 1);
		if (q->rsp.result)
			print_error("request %d (%s): %s\n", i, sd_opcode_name(q->r.opcode),
				    sd_client_strerror((int)q->rsp.result));
		assert_int_equal(q->rsp.result, 0);
		assert_int_equal(q->rsp.opcode, q->r.opcode);      /* §11.4 */
		assert_int_equal(q->rsp.data_length, q->rbuf ? q->r.data_length : 0);
	}
}

static void pipe_free(struct pipe *p)
{
	for (int i = 0; i < NREQ; i++) {
		free(p->q[i].wbuf);
		free(p->q[i].rbuf);
	}
	memset(p->q, 0, sizeof(p->q));
}

static void obj_req(struct preq *q, uint8_t op, uint64_t oid, uint64_t off, uint32_t len,
		    uint32_t i)
{
	memset(&q->r, 0, sizeof(q->r));
	q->r.opcode = op;
	q->r.flags = SD_FLAG_CMD_CACHE | (op == SD_OP_READ_OBJ ? 0 : SD_FLAG_CMD_WRITE);
	q->r.id = scrambled_id(i);
	q->r.data_length = len;
	q->r.obj.oid = oid;
	q->r.obj.offset = off;
	q->r.obj.copies = 1;
	q->pos = off;
}

static uint32_t make_vdi(struct itest_node *n)
{
	struct sd_client *c = itest_connect(n);
	struct sd_vdi_new_args na = { .name = "pipe", .size = 64 * (UINT64_C(1) << 20) };
	uint32_t vid = 0;
	uint8_t *zero = calloc(1, 4096);

	assert_non_null(zero);
	assert_int_equal(sd_vdi_new(c, &na, &vid), 0);
	/* objects 0-2 exist (raw object I/O: no index updates needed to
	 * address them by oid) */
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(sd_obj_create(c, sd_data_oid(vid, i), 0, 0, 4096, zero,
					       SD_FLAG_CMD_CACHE, 1), 0);
	free(zero);
	sd_client_close(c);
	return vid;
}

/* Mixed: even requests write 4 KiB into object 1, odd ones read 4 KiB
 * from object 0, which was filled before the pipeline started. */
static void test_pipeline_mixed(void **state)
{
	struct itest_node *n = itest_node(state);
	uint32_t vid = make_vdi(n);
	struct pipe *p = calloc(1, sizeof(*p));
	uint8_t *pre = malloc(NREQ / 2 * 4096);
	struct sd_client *c;

	assert_non_null(p);
	assert_non_null(pre);
	c = itest_connect(n);
	itest_pattern(pre, NREQ / 2 * 4096, 0, 1);
	assert_int_equal(sd_obj_write(c, sd_data_oid(vid, 0), 0, NREQ / 2 * 4096, pre,
				      SD_FLAG_CMD_CACHE, 1), 0);
	sd_client_close(c);

	p->c = itest_connect(n);
	for (uint32_t i = 0; i < NREQ; i++) {
		struct preq *q = &p->q[i];
		uint32_t k = i / 2;

		if (i % 2 == 0) {
			/* spread over the object, 4 KiB apart, no overlap */
			obj_req(q, SD_OP_WRITE_OBJ, sd_data_oid(vid, 1), (uint64_t)k * 12288, 4096, i);
			q->seed = 2;
			q->wbuf = malloc(4096);
			assert_non_null(q->wbuf);
			itest_pattern(q->wbuf, 4096, q->pos, q->seed);
		} else {
			/* reads in reverse order of position */
			obj_req(q, SD_OP_READ_OBJ, sd_data_oid(vid, 0),
				(uint64_t)(NREQ / 2 - 1 - k) * 4096, 4096, i);
			q->seed = 1;
			q->rbuf = malloc(4096);
			assert_non_null(q->rbuf);
			memset(q->rbuf, 0xa5, 4096);
		}
	}
	pipe_run(p);
	for (int i = 0; i < NREQ; i++)
		if (p->q[i].rbuf)
			assert_true(itest_pattern_check(p->q[i].rbuf, 4096, p->q[i].pos, 1));
	/* every write landed, nothing in between was touched */
	{
		uint8_t *all = malloc(OBJ);

		assert_non_null(all);
		assert_int_equal(sd_obj_read(p->c, sd_data_oid(vid, 1), 0, OBJ, all,
					     SD_FLAG_CMD_CACHE, 1), 0);
		for (uint32_t k = 0; k < NREQ / 2; k++) {
			uint64_t off = (uint64_t)k * 12288;

			assert_true(itest_pattern_check(all + off, 4096, off, 2));
			assert_true(itest_is_zero(all + off + 4096, 8192));
		}
		assert_true(itest_is_zero(all + (NREQ / 2) * 12288, OBJ - (NREQ / 2) * 12288));
		free(all);
	}
	sd_client_close(p->c);
	pipe_free(p);
	free(p);
	free(pre);
}

/* 256 concurrent writes of 512 bytes to disjoint ranges of ONE object:
 * a byte-range merge must keep all of them (§1.3, §11.7). */
static void test_pipeline_same_object(void **state)
{
	struct itest_node *n = itest_node(state);
	uint32_t vid = make_vdi(n);
	struct pipe *p = calloc(1, sizeof(*p));
	uint8_t *all = malloc(NREQ * 512);

	assert_non_null(p);
	assert_non_null(all);
	p->c = itest_connect(n);
	for (uint32_t i = 0; i < NREQ; i++) {
		struct preq *q = &p->q[i];
		/* interleave the positions so neighbours are not sent in order */
		uint32_t slot = (i * 37) % NREQ;

		obj_req(q, SD_OP_WRITE_OBJ, sd_data_oid(vid, 2), (uint64_t)slot * 512, 512, i);
		q->wbuf = malloc(512);
		assert_non_null(q->wbuf);
		itest_pattern(q->wbuf, 512, q->pos, 3);
	}
	pipe_run(p);
	assert_int_equal(sd_obj_read(p->c, sd_data_oid(vid, 2), 0, NREQ * 512, all,
				     SD_FLAG_CMD_CACHE, 1), 0);
	assert_true(itest_pattern_check(all, NREQ * 512, 0, 3));
	sd_client_close(p->c);
	pipe_free(p);
	free(p);
	free(all);
}

/* Index updates of the same inode from many requests at once: disjoint
 * 4-byte slots of one inode (what QEMU's async index writes look like). */
static void test_pipeline_inode_slots(void **state)
{
	struct itest_node *n = itest_node(state);
	uint32_t vid = make_vdi(n);
	struct pipe *p = calloc(1, sizeof(*p));
	uint8_t *idx = malloc(NREQ * 4);

	assert_non_null(p);
	assert_non_null(idx);
	p->c = itest_connect(n);
	/* slots 0-2 hold created objects; set them and 253 others to vid or 0
	 * (§6.2: a slot value is 0, the own vid or what is stored) */
	for (uint32_t i = 0; i < NREQ; i++) {
		struct preq *q = &p->q[i];

		obj_req(q, SD_OP_WRITE_OBJ, sd_inode_oid(vid), SD_INODE_INDEX_OFF + 4 * (uint64_t)i,
			4, i);
		q->wbuf = malloc(4);
		assert_non_null(q->wbuf);
		sd_put32(q->wbuf, i < 3 ? vid : 0);
	}
	pipe_run(p);
	assert_int_equal(sd_obj_read(p->c, sd_inode_oid(vid), SD_INODE_INDEX_OFF, NREQ * 4, idx,
				     SD_FLAG_CMD_CACHE, 0), 0);
	for (uint32_t i = 0; i < NREQ; i++)
		assert_int_equal(sd_get32(idx + 4 * i), i < 3 ? vid : 0);
	sd_client_close(p->c);
	pipe_free(p);
	free(p);
	free(idx);
}

struct conn_worker {
	struct itest_node *n;
	uint32_t vid, k;            /* worker k writes sectors k, k + 8, ... */
	int err;
};

#define NWORKERS 8
#define PER_WORKER 32

/* Each worker: its own connection, PER_WORKER writes pipelined, then the
 * replies; its sectors interleave with every other worker's. */
static void *conn_worker_run(void *arg)
{
	struct conn_worker *w = arg;
	struct sd_addr a = itest_addr(w->n, NULL);
	struct sd_client *c;
	uint8_t buf[512];

	w->err = sd_client_connect(&c, &a);
	if (w->err)
		return NULL;
	for (uint32_t i = 0; i < PER_WORKER && !w->err; i++) {
		uint64_t sector = (uint64_t)i * NWORKERS + w->k;
		struct sd_req r = { .opcode = SD_OP_WRITE_OBJ, .data_length = 512,
				    .flags = SD_FLAG_CMD_WRITE | SD_FLAG_CMD_CACHE, .id = i };

		r.obj.oid = sd_data_oid(w->vid, 2);
		r.obj.offset = sector * 512;
		itest_pattern(buf, 512, r.obj.offset, 4);
		w->err = sd_client_send(c, &r, buf);
	}
	for (uint32_t i = 0; i < PER_WORKER && !w->err; i++) {
		struct sd_rsp rsp;

		w->err = sd_client_recv_header(c, &rsp);
		if (!w->err && (rsp.result || rsp.data_length || rsp.id >= PER_WORKER))
			w->err = -EPROTO;
	}
	sd_client_close(c);
	return NULL;
}

/* Disjoint writes to one object from 8 connections at once: all kept
 * (§1.3 byte-range writes, read-your-writes across connections). */
static void test_multi_connection_same_object(void **state)
{
	struct itest_node *n = itest_node(state);
	uint32_t vid = make_vdi(n);
	struct conn_worker w[NWORKERS];
	pthread_t th[NWORKERS];
	uint8_t *all = malloc(NWORKERS * PER_WORKER * 512);
	struct sd_client *c;

	assert_non_null(all);
	for (uint32_t k = 0; k < NWORKERS; k++) {
		w[k] = (struct conn_worker){ .n = n, .vid = vid, .k = k };
		assert_int_equal(pthread_create(&th[k], NULL, conn_worker_run, &w[k]), 0);
	}
	for (uint32_t k = 0; k < NWORKERS; k++) {
		pthread_join(th[k], NULL);
		if (w[k].err)
			print_error("worker %u: %s\n", k, sd_client_strerror(w[k].err));
		assert_int_equal(w[k].err, 0);
	}
	c = itest_connect(n);
	assert_int_equal(sd_obj_read(c, sd_data_oid(vid, 2), 0, NWORKERS * PER_WORKER * 512, all,
				     SD_FLAG_CMD_CACHE, 1), 0);
	assert_true(itest_pattern_check(all, NWORKERS * PER_WORKER * 512, 0, 4));
	sd_client_close(c);
	free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pipeline_mixed, itest_setup, itest_teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_same_object, itest_setup, itest_teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_inode_slots, itest_setup, itest_teardown),
		cmocka_unit_test_setup_teardown(test_multi_connection_same_object, itest_setup,
						itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

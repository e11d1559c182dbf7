/*
 * tests/unit/test_sim.c: the simulator (sim/): event order, determinism,
 * a 200-node crash under 5% loss checked against the protocol's own
 * bound, ring convergence, and the scenario parser's error messages.
 * Runs the real gossip/ code (libsheepcore.a), all in virtual time.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim/heap.h"
#include "sim/scenario.h"
#include "sim/sim.h"

static void test_heap_order(void **state)
{
	struct sim_heap h;
	struct sim_ev ev;
	uint64_t x = 12345, last_at = 0;
	uint32_t last_node = 0, n = 0;

	(void)state;
	sim_heap_init(&h);
	/* 5000 events on 50 distinct times: ties must pop in push order */
	for (uint32_t i = 0; i < 5000; i++) {
		struct sim_ev e = { 0 };

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		e.at = (x >> 33) % 50;
		e.node = i;
		assert_int_equal(sim_heap_push(&h, e), 0);
	}
	assert_int_equal(sim_heap_peek(&h) < 50, 1);
	while (sim_heap_pop(&h, &ev)) {
		if (n) {
			assert_true(ev.at >= last_at);
			if (ev.at == last_at)
				assert_true(ev.node > last_node);
		}
		last_at = ev.at;
		last_node = ev.node;
		n++;
	}
	assert_int_equal(n, 5000);
	assert_int_equal(sim_heap_peek(&h), UINT64_MAX);
	/* fini frees queued packet buffers (ASan checks the leak) */
	{
		struct sim_ev e = { .at = 1, .buf = malloc(10) };

		assert_int_equal(sim_heap_push(&h, e), 0);
	}
	sim_heap_fini(&h);
}

static void run(const char *text, struct sim_result *r)
{
	struct sim_scenario sc;
	struct sim_opts o;
	struct sim *s;
	char err[256];

	sim_scenario_init(&sc);
	assert_int_equal(sim_scenario_text(&sc, text, "test", err, sizeof(err)), 0);
	memset(&o, 0, sizeof(o));
	swim_config_lan(&o.swim);
	assert_int_equal(sim_new(&s, &sc, &o), 0);
	while (sim_run(s, UINT64_MAX) > 0)
		;
	sim_result(s, r);
	sim_free(s);
	sim_scenario_fini(&sc);
}

static void test_determinism(void **state)
{
	static const char base[] = "nodes 60\nduration 40s\nloss 2%\nring on\nobjects 1000\n"
	                           "at 10s crash 1\nat 15s join 1\n";
	char t1[256], t2[256];
	struct sim_result a, b, c;

	(void)state;
	snprintf(t1, sizeof(t1), "%sseed 7\n", base);
	snprintf(t2, sizeof(t2), "%sseed 8\n", base);
	run(t1, &a);
	run(t1, &b);
	run(t2, &c);
	assert_memory_equal(a.digest, b.digest, sizeof(a.digest));
	assert_int_equal(a.pkts, b.pkts);
	assert_int_equal(a.ev_suspect, b.ev_suspect);
	assert_memory_not_equal(a.digest, c.digest, sizeof(a.digest));
	/* something actually happened in both runs */
	assert_true(a.ev_dead > 0 && c.ev_dead > 0);
}

/*
 * 200 nodes, 5% random loss, one crash at t = 10 s.  The protocol's bound
 * for "every live node knows": first detection within a few periods
 * (expected P / (1 - 1/e) = 1.6 s; we allow 8 P for Lifeguard's slowed
 * periods under loss), then at most the maximum suspicion timeout
 * beta * alpha * log10(N) * P = 55.2 s, then dissemination of the death,
 * which we bound by the retransmit budget's span: lambda log N gossip
 * rounds of 200 ms (2.4 s), rounded up to 5 s.  No live node may be
 * declared dead, and the crash cannot be confirmed before the minimum
 * suspicion timeout (9.2 s).
 */
static void test_crash_200_loss5(void **state)
{
	struct sim_result r;
	double bound;

	(void)state;
	run("nodes 200\nduration 90s\nloss 5%\nseed 3\nring off\nat 10s crash 1\n", &r);
	bound = 8 * 1.0 + r.pred_suspicion_max + 5.0;
	assert_int_equal(r.downs, 1);
	assert_int_equal(r.downs_unfinished, 0);
	assert_int_equal(r.all_know.n, 1);
	assert_true(r.all_know.max <= bound);
	assert_true(r.first_dead.max >= r.pred_suspicion_min);
	assert_true(r.first_suspect.max < r.first_dead.max);
	assert_int_equal(r.false_deaths, 0);
	assert_true(r.lost > 0);
	assert_int_equal(r.nodes_up_end, 199);
	printf("# 200 nodes, 5%% loss: suspect %.2f s, dead %.2f s, all know %.2f s (bound %.1f s)\n",
	       r.first_suspect.max, r.first_dead.max, r.all_know.max, bound);
}

/* Ring: after a crash and a join the epochs converge again and the
 * placement moved about what the change requires. */
static void test_ring_converges(void **state)
{
	struct sim_result r;

	(void)state;
	run("nodes 100\nduration 60s\nseed 5\nring on\nobjects 20000\nat 5s crash 1\nat 30s join 1\n", &r);
	assert_int_equal(r.ring, 1);
	assert_int_equal(r.ring_unconverged, 0);
	assert_true(r.ring_changes >= 2);
	assert_true(r.epochs_max_distinct > 1);
	/* 1 of 100 leaves, 1 of 100 joins: ideal 1%; consistent hashing stays near it */
	assert_true(r.ideal_mean > 0.009 && r.ideal_mean < 0.011);
	assert_true(r.moved_mean > 0.5 * r.ideal_mean && r.moved_mean < 2 * r.ideal_mean);
	assert_true(r.load_max_mean >= 1.0);
	assert_int_equal(r.joins_unfinished, 0);
	assert_int_equal(r.false_deaths, 0);
}

/* Graceful leave is known everywhere within a second (no suspicion);
 * a partition longer than the suspicion timeout makes both sides declare
 * each other dead, the nodes then find themselves OUT in the epoch, rejoin
 * at generation + 1 and the epochs converge again. */
static void test_leave_and_partition(void **state)
{
	struct sim_result r;

	(void)state;
	run("nodes 100\nduration 100s\nseed 9\nring on\nobjects 2000\nat 5s leave 2\n"
	    "at 20s partition 30% for 20s\n", &r);
	assert_int_equal(r.downs, 2);
	assert_int_equal(r.downs_unfinished, 0);
	assert_true(r.all_know.max < 2.0);
	assert_int_equal(r.first_suspect.n, 0);
	assert_true(r.partition_deaths > 0);
	assert_int_equal(r.false_deaths, r.partition_deaths);
	assert_true(r.rejoins > 0);
	assert_int_equal(r.ring_unconverged, 0);
	assert_true(r.cut > 0);
	assert_int_equal(r.nodes_up_end, 98);
}

static void expect_error(const char *text, const char *where_line, const char *field)
{
	struct sim_scenario sc;
	char err[512] = "";

	sim_scenario_init(&sc);
	assert_int_equal(sim_scenario_text(&sc, text, "scn", err, sizeof(err)), -EINVAL);
	if (!strstr(err, where_line) || !strstr(err, field))
		fail_msg("for %s: message '%s' lacks '%s' or '%s'", text, err, where_line, field);
	sim_scenario_fini(&sc);
}

static void test_scenario_errors(void **state)
{
	(void)state;
	expect_error("at 10x crash 1\n", "scn:1:", "'time'");
	expect_error("nodes abc\n", "scn:1:", "'nodes'");
	expect_error("nodes 1\n", "scn:1:", "'nodes'");
	expect_error("# comment\n\nat 5s explode 3\n", "scn:3:", "'action'");
	expect_error("at 5s crash\n", "scn:1:", "'count'");
	expect_error("at 5s crash 1.5\n", "scn:1:", "'count'");
	expect_error("at 5s crash -3\n", "scn:1:", "'count'");
	expect_error("nodes 10\nat 5s partition 150%\n", "scn:2:", "'fraction'");
	expect_error("loss 200%\n", "scn:1:", "'loss'");
	expect_error("loss 1%%\n", "scn:1:", "'loss'");
	expect_error("nodes 10\n\nat 1s slow 2\n", "scn:3:", "'delay'");
	expect_error("at 1s rolling 5 down 3s\n", "scn:1:", "'every'");
	expect_error("at 1s crash 5 for 3s\n", "scn:1:", "'option'");
	expect_error("at 1s join 5 over\n", "scn:1:", "'over'");
	expect_error("latency moon\n", "scn:1:", "'latency'");
	expect_error("mtu 100\n", "scn:1:", "'mtu'");
	expect_error("duration 0s\n", "scn:1:", "'duration'");
	expect_error("frobnicate 3\n", "scn:1:", "'directive'");
	expect_error("nodes 10 20\n", "scn:1:", "'nodes'");
	expect_error("seed 99999999999999999999999\n", "scn:1:", "'seed'");
}

static void test_scenario_ok(void **state)
{
	struct sim_scenario sc;
	char err[512];
	static const char *const files[] = { "steady.txt", "crash1pct.txt", "rolling-restart.txt",
	                                     "partition-heal.txt", "join-storm.txt" };
	char path[256];

	(void)state;
	sim_scenario_init(&sc);
	assert_int_equal(sim_scenario_text(&sc, "nodes 500 # comment\nduration 2m\nloss 0.5%\n"
	                                        "latency fixed:3ms\nat 30s partition 30% for 20s oneway\n"
	                                        "at 1s slow 3 delay 1500ms for 1m\nat 2s join 10% over 10s\n",
	                                   "ok", err, sizeof(err)), 0);
	assert_int_equal(sc.nodes, 500);
	assert_int_equal(sc.duration_ms, 120000);
	assert_true(sc.loss > 0.00499 && sc.loss < 0.00501);
	assert_int_equal(sc.latency_ms, 3);
	assert_int_equal(sc.n_acts, 3);
	assert_int_equal(sc.acts[0].oneway, 1);
	assert_int_equal(sc.acts[0].dur, 20000);
	assert_int_equal(sc.acts[1].delay, 1500);
	assert_int_equal(sim_action_count(&sc.acts[2], sc.nodes), 50);
	sim_scenario_fini(&sc);
	/* the shipped scenarios parse (source tree relative to the working dir) */
	if (access("sim/scenarios/steady.txt", R_OK) != 0) {
		skip();
		return;
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		sim_scenario_init(&sc);
		snprintf(path, sizeof(path), "sim/scenarios/%s", files[i]);
		if (sim_scenario_load(&sc, path, err, sizeof(err)))
			fail_msg("%s", err);
		sim_scenario_fini(&sc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_order),
		cmocka_unit_test(test_scenario_errors),
		cmocka_unit_test(test_scenario_ok),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_crash_200_loss5),
		cmocka_unit_test(test_ring_converges),
		cmocka_unit_test(test_leave_and_partition),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

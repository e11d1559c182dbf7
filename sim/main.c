/*
 * sim/main.c: the sheepsim command line.
 *
 *   sheepsim [--scenario FILE] [--nodes N] [--duration T] [--seed S]
 *            [--loss P] [--latency lan|wan|fixed:T] [--mtu B]
 *            [--boot warm|cold] [--ring on|off|auto] [--objects N]
 *            [--sample T] [--event "at 60s crash 1%"]... [--csv DIR]
 *            [--sweep N1,N2,...] [--jobs J] [--quiet]
 *
 * Flags override the scenario file's directives; --event adds actions.
 * --sweep runs the scenario once per N, J processes at a time (default 2),
 * and prints one table.  Exit status: 0 ok, 1 run failed, 2 bad usage.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim.h"

#define SWEEP_MAX 32

struct progress {
	int    on;
	double last, start;
};

static double now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress_cb(void *ctx, uint64_t now, uint64_t end)
{
	struct progress *p = ctx;
	double w = now_wall();
	int width = 30, fill;

	if (!p->on || (w - p->last < 0.25 && now < end))
		return;
	p->last = w;
	if (!end) {
		fprintf(stderr, "\r  building tables ... %.0f s", w - p->start);
		return;
	}
	fill = (int)(width * (double)now / end);
	fprintf(stderr, "\r  [%.*s%*s] %3.0f%% %6.1f/%.0f s sim, %.1f s wall", fill,
	        "##############################", width - fill, "", 100.0 * now / end, now / 1000.0,
	        end / 1000.0, w - p->start);
	if (now >= end)
		fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sheepsim [--scenario FILE] [--nodes N] [--duration T] [--seed S] [--loss P]\n"
	           "                [--latency lan|wan|fixed:T] [--mtu B] [--boot warm|cold]\n"
	           "                [--ring on|off|auto] [--objects N] [--sample T]\n"
	           "                [--event \"at 60s crash 1%%\"]... [--csv DIR]\n"
	           "                [--sweep N1,N2,...] [--jobs J] [--quiet]\n"
	           "scenario syntax: sim/README.md\n");
}

static int run_one(const struct sim_scenario *sc, const char *csv, int quiet, struct sim_result *r)
{
	struct sim_opts o;
	struct progress p = { .on = !quiet && isatty(2), .start = now_wall() };
	struct sim *s;
	int rc;

	memset(&o, 0, sizeof(o));
	swim_config_lan(&o.swim);
	o.progress = progress_cb;
	o.progress_ctx = &p;
	rc = sim_new(&s, sc, &o);
	if (rc) {
		fprintf(stderr, "sheepsim: cannot build the simulation: %s\n", strerror(-rc));
		return 1;
	}
	while ((rc = sim_run(s, UINT64_MAX)) > 0)
		;
	sim_result(s, r);
	if (csv) {
		rc = sim_write_csv(s, csv);
		if (rc)
			fprintf(stderr, "sheepsim: writing %s: %s\n", csv, strerror(-rc));
	}
	sim_free(s);
	return rc ? 1 : 0;
}

static int sweep(struct sim_scenario *sc, const char *list, int jobs, const char *csv)
{
	uint32_t ns[SWEEP_MAX], n = 0;
	struct sim_result res[SWEEP_MAX];
	int ok[SWEEP_MAX] = { 0 }, fds[SWEEP_MAX];
	pid_t pids[SWEEP_MAX];
	char *dup = strdup(list), *save = NULL, *t;
	uint32_t next = 0, running = 0, done = 0;

	if (!dup)
		return 1;
	for (t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v = strtoul(t, &end, 10);

		if (*end || v < 2 || v > (1u << 20) || n == SWEEP_MAX) {
			fprintf(stderr, "sheepsim: --sweep: '%s' is not a node count in [2, 1048576] (max %d values)\n",
			        t, SWEEP_MAX);
			free(dup);
			return 2;
		}
		ns[n++] = (uint32_t)v;
	}
	free(dup);
	if (csv && mkdir(csv, 0755) && errno != EEXIST) {
		fprintf(stderr, "sheepsim: --csv %s: %s\n", csv, strerror(errno));
		return 1;
	}
	while (done < n) {
		while (running < (uint32_t)jobs && next < n) {
			int pfd[2];

			if (pipe(pfd))
				return 1;
			pids[next] = fork();
			if (pids[next] < 0)
				return 1;
			if (pids[next] == 0) {
				struct sim_result r;
				char dir[4096];
				int rc;

				close(pfd[0]);
				sc->nodes = ns[next];
				snprintf(dir, sizeof(dir), "%s/n%u", csv ? csv : ".", ns[next]);
				rc = run_one(sc, csv ? dir : NULL, 1, &r);
				if (rc == 0 && write(pfd[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
					rc = 1;
				_exit(rc);
			}
			close(pfd[1]);
			fds[next] = pfd[0];
			fprintf(stderr, "  sweep: N=%u started (pid %d)\n", ns[next], (int)pids[next]);
			next++;
			running++;
		}
		{
			int st;
			pid_t p = wait(&st);

			if (p < 0)
				break;
			for (uint32_t k = 0; k < next; k++)
				if (pids[k] == p) {
					ok[k] = WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
					        read(fds[k], &res[k], sizeof(res[k])) == (ssize_t)sizeof(res[k]);
					close(fds[k]);
					fprintf(stderr, "  sweep: N=%u %s\n", ns[k], ok[k] ? "done" : "FAILED");
				}
			running--;
			done++;
		}
	}
	printf("%7s %9s %9s %9s %9s %9s %9s %8s %8s %9s %9s %8s %6s\n", "N", "suspect", "dead", "allknow",
	       "allknow", "join99", "join100", "msgs/n/s", "msgs/n/s", "bytes/n/s", "mem/node", "sim-s/s", "false");
	printf("%7s %9s %9s %9s %9s %9s %9s %8s %8s %9s %9s %8s %6s\n", "", "p50 s", "p50 s", "p50 s", "max s",
	       "p50 s", "p50 s", "all", "median", "all", "bytes", "", "deaths");
	for (uint32_t k = 0; k < n; k++) {
		const struct sim_result *r = &res[k];

		if (!ok[k]) {
			printf("%7u failed\n", ns[k]);
			continue;
		}
		printf("%7u %9.2f %9.2f %9.2f %9.2f %9.3f %9.3f %8.2f %8.2f %9.0f %9.0f %8.2f %6llu\n", ns[k],
		       r->first_suspect.p50, r->first_dead.p50, r->all_know.p50, r->all_know.max, r->join99.p50,
		       r->join100.p50, r->msgs_per_node_s, r->msgs_median, r->bytes_per_node_s, r->mem_per_node, r->sim_per_wall,
		       (unsigned long long)r->false_deaths);
	}
	printf("protocol: dead - suspect = min suspicion = 4*max(1,log10 N)*P; "
	       "first suspect median (1+ln 2)*P\n");
	for (uint32_t k = 0; k < n; k++)
		if (!ok[k])
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct sim_scenario sc;
	struct sim_result r;
	char err[512];
	const char *csv = NULL, *sweep_list = NULL;
	int quiet = 0, jobs = 2, rc;

	/* big member tables in their own mappings: capacity never touched
	 * (tables double) then costs address space, not memory */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	sim_scenario_init(&sc);
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--scenario") && i + 1 < argc) {
			rc = sim_scenario_load(&sc, argv[++i], err, sizeof(err));
			if (rc) {
				fprintf(stderr, "sheepsim: %s\n", err);
				return 2;
			}
		}
	for (int i = 1; i < argc; i++) {
		static const char keys[][10] = { "nodes", "duration", "seed", "loss", "latency", "mtu",
		                                 "boot", "ring", "objects", "sample", "" };
		const char *a = argv[i];
		char line[1100];
		int matched = 0;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--quiet")) {
			quiet = 1;
			continue;
		}
		if (strncmp(a, "--", 2) || i + 1 >= argc) {
			fprintf(stderr, "sheepsim: '%s': unknown flag or missing value\n", a);
			usage(stderr);
			return 2;
		}
		if (!strcmp(a, "--scenario")) {
			i++;
			continue;
		}
		if (!strcmp(a, "--csv")) {
			csv = argv[++i];
			continue;
		}
		if (!strcmp(a, "--sweep")) {
			sweep_list = argv[++i];
			continue;
		}
		if (!strcmp(a, "--jobs")) {
			jobs = atoi(argv[++i]);
			if (jobs < 1 || jobs > 64) {
				fprintf(stderr, "sheepsim: --jobs: '%s' is not in [1, 64]\n", argv[i]);
				return 2;
			}
			continue;
		}
		if (!strcmp(a, "--event")) {
			snprintf(line, sizeof(line), "%s", argv[++i]);
			matched = 1;
		}
		for (int k = 0; keys[k][0] && !matched; k++)
			if (!strcmp(a + 2, keys[k])) {
				snprintf(line, sizeof(line), "%s %s", keys[k], argv[++i]);
				matched = 1;
			}
		if (!matched) {
			fprintf(stderr, "sheepsim: '%s': unknown flag\n", a);
			usage(stderr);
			return 2;
		}
		if (sim_scenario_line(&sc, line, a, i, err, sizeof(err))) {
			fprintf(stderr, "sheepsim: %s\n", err);
			return 2;
		}
	}
	if (sweep_list) {
		rc = sweep(&sc, sweep_list, jobs, csv);
		sim_scenario_fini(&sc);
		return rc;
	}
	rc = run_one(&sc, csv, quiet, &r);
	if (rc == 0)
		sim_print_summary(&r, stdout);
	sim_scenario_fini(&sc);
	return rc;
}

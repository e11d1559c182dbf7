/* main.c: sheepnode's entry point: flags, logger, store, server, shutdown. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "node/config.h"
#include "node/log.h"
#include "node/node_id.h"
#include "node/server.h"
#include "store/store.h"

int main(int argc, char **argv)
{
	struct node_config cfg;
	struct node_log log;
	struct node_server srv;
	struct store_config scfg;
	struct store *st = NULL;
	char err[1024];
	int rc = 1;

	node_config_init(&cfg);
	switch (node_config_parse_args(&cfg, argc, argv, err, sizeof(err))) {
	case NODE_CONFIG_HELP:
		node_config_print_help(stdout);
		node_config_free(&cfg);
		return 0;
	case NODE_CONFIG_VERSION:
		printf("sheepnode %s\n", SHEEPNODE_VERSION);
		node_config_free(&cfg);
		return 0;
	case NODE_CONFIG_KEYGEN:
		rc = node_keygen(cfg.keygen, err, sizeof(err)) < 0 ? 1 : 0;
		if (rc)
			fprintf(stderr, "sheepnode: %s\n", err);
		else
			printf("sheepnode: wrote a new cluster key to %s (mode 0600)\n", cfg.keygen);
		node_config_free(&cfg);
		return rc;
	case NODE_CONFIG_ERROR:
		fprintf(stderr, "sheepnode: %s (see --help)\n", err);
		node_config_free(&cfg);
		return 2;
	default:
		break;
	}
	/* a client hanging up must not kill us; writes use MSG_NOSIGNAL too */
	signal(SIGPIPE, SIG_IGN);
	node_log_init(&log, cfg.log_level);
	log_info(&log, "sheepnode %s starting, data directory %s", SHEEPNODE_VERSION, cfg.dir);

	store_config_defaults(&scfg);
	scfg.dir = cfg.dir;
	scfg.force_plain = cfg.force_plain;
	scfg.default_copies = (uint8_t)cfg.copies;
	scfg.max_shift = (uint8_t)cfg.max_object_shift;
	scfg.enforce_locks = cfg.enforce_locks;
	scfg.log = node_log_store_cb;
	scfg.log_ctx = &log;
	int e = store_open(&st, &scfg);
	if (e < 0) {
		log_err(&log, "cannot open the store in %s: %s", cfg.dir, strerror(-e));
		goto out;
	}
	log_info(&log, "store backend: %s", store_backend_name(st));

	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop) {
		log_err(&log, "cannot create the event loop");
		goto out_store;
	}
	if (node_server_init(&srv, loop, &cfg, st, &log) == 0) {
		log_info(&log, "ready");
		node_server_run(&srv);
		node_server_fini(&srv);
		rc = 0;
	}
	ev_loop_destroy(loop);
out_store:
	store_close(st);      /* syncs */
	if (rc == 0)
		log_info(&log, "stopped");
out:
	node_log_fini(&log);
	node_config_free(&cfg);
	return rc;
}

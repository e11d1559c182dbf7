/*
 * config.h: sheepnode's settings, from command-line flags and an optional
 * config file ("key = value" lines, keys are the flag names without the
 * dashes). Flags override the file. Every value is checked strictly; errors
 * name the flag (or file, line and key) and quote the value.
 */
#ifndef NODE_CONFIG_H
#define NODE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SHEEPNODE_VERSION "0.1.0"      /* the one place the version lives */

#define NODE_MAX_LISTEN 16              /* --listen may be given this often */
#define NODE_MAX_JOIN   16              /* --join seeds */
#define NODE_MAX_KEYS   4               /* --key-file (SEAL_MAX_KEYS) */
#define NODE_CLUSTER_NAME_MAX 63        /* SEAL_NAME_MAX */

struct node_config {
	char *dir;                          /* data directory */
	unsigned port;                      /* TCP port of every --listen address */
	char *listen[NODE_MAX_LISTEN];      /* addresses; none = 0.0.0.0 and :: */
	unsigned nr_listen;
	char *unix_path;                    /* unix socket path, or NULL */
	unsigned workers;                   /* threads running store calls */
	unsigned max_connections;
	unsigned max_inflight;              /* per connection */
	unsigned max_buffer_mb;             /* request/reply buffers, all connections */
	unsigned max_object_shift;          /* largest object is 1 << this */
	unsigned copies;                    /* cluster default nr_copies */
	int force_plain;                    /* plain backend even on btrfs */
	int enforce_locks;                  /* exclusive LOCK_VDI */
	int log_level;                      /* enum node_log_level */
	char *config_file;                  /* --config, or NULL */
	/* gossip (node/gossip.h) */
	unsigned gossip_port;               /* UDP port; 0 = same number as --port */
	char *advertise;                    /* numeric IP others reach us at, or NULL = default */
	char *join[NODE_MAX_JOIN];          /* HOST:PORT seeds (PORT = their gossip port) */
	unsigned nr_join;
	char *key_files[NODE_MAX_KEYS];     /* first = primary (sends); all accepted */
	unsigned nr_key_files;
	char *cluster_name;                 /* default "sheepmesh" */
	char *multicast_group;              /* IPv4 group, default DISC_GROUP_DEFAULT */
	unsigned multicast_port;
	int no_multicast;
	unsigned gossip_interval_ms;        /* SWIM probe period */
	unsigned zone;                      /* failure domain, 0 = none */
	unsigned weight;                    /* ring weight, 16 = one default node */
	unsigned retry_ms;                  /* client request's wait for a usable ring */
	unsigned ae_interval_s;             /* anti-entropy pass period, 0 = ring changes only */
	unsigned scrub_interval_s;          /* scrub period, 0 = never */
	unsigned recovery_rate_mb;          /* MB/s for recovery, anti-entropy, scrub */
	char *keygen;                       /* --keygen FILE: write a key and exit */
};

/* Results of node_config_parse_args(). */
enum {
	NODE_CONFIG_ERROR = -1,
	NODE_CONFIG_RUN = 0,                /* start the daemon */
	NODE_CONFIG_HELP = 1,               /* --help given: print help, exit 0 */
	NODE_CONFIG_VERSION = 2,            /* --version given: print it, exit 0 */
	NODE_CONFIG_KEYGEN = 3,             /* --keygen FILE: cfg->keygen set, write it, exit */
};

/* Defaults for everything (strings are copies owned by cfg). */
void node_config_init(struct node_config *cfg);
void node_config_free(struct node_config *cfg);

/* Parses argv (argv[0] is the program name): --help/--version first, then
 * the --config file if any, then the other flags in order. On
 * NODE_CONFIG_ERROR, err holds one line naming the flag/key and value. */
int node_config_parse_args(struct node_config *cfg, int argc, char *const *argv,
			   char *err, size_t errlen);

/* Applies a config file on top of cfg. 0 or -1 with err set. */
int node_config_load_file(struct node_config *cfg, const char *path, char *err, size_t errlen);

/* Sets one option by its key (flag name without dashes). 0 or -1 with err
 * describing the value problem (the caller adds where it came from). */
int node_config_set(struct node_config *cfg, const char *key, const char *value,
		    char *err, size_t errlen);

void node_config_print_help(FILE *out);

/* Largest request or reply payload accepted:
 * max(SD_INODE_SIZE, SD_BITMAP_SIZE, 1 << max_object_shift). */
uint32_t node_config_max_request(const struct node_config *cfg);

#endif

/* config.c: see config.h. One table of options drives parsing and --help. */
#include "node/config.h"
#include "node/discovery.h"
#include "node/log.h"
#include "node/netaddr.h"
#include "sheepdog_proto.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

enum opt_kind { OPT_STR, OPT_UINT, OPT_BOOL, OPT_LEVEL, OPT_LISTEN, OPT_UNIX, OPT_CONFIG,
		OPT_JOIN, OPT_KEYFILE, OPT_ADVERTISE, OPT_MCAST, OPT_NAME };

struct opt {
	const char *key;
	enum opt_kind kind;
	unsigned min, max;               /* OPT_UINT range */
	const char *arg;                 /* metavariable for --help */
	const char *help;                /* text incl. the default */
};

static const struct opt opts[] = {
	{ "dir", OPT_STR, 0, 0, "PATH", "data directory (default /var/lib/sheepmesh)" },
	{ "port", OPT_UINT, 1, 65535, "N", "TCP port (default 7000)" },
	{ "listen", OPT_LISTEN, 0, 0, "ADDR", "listen address, repeatable (default 0.0.0.0 and ::)" },
	{ "unix", OPT_UNIX, 0, 0, "PATH", "also listen on this unix socket (default none)" },
	{ "workers", OPT_UINT, 1, 256, "N", "threads running disk I/O (default 8)" },
	{ "max-connections", OPT_UINT, 1, 1000000, "N", "open client connections (default 1024)" },
	{ "max-inflight", OPT_UINT, 1, 4096, "N", "requests in flight per connection (default 64)" },
	{ "max-buffer-mb", OPT_UINT, 16, 1048576, "N",
	  "MiB of request and reply buffers over all connections (default 1024)" },
	{ "max-object-shift", OPT_UINT, 22, SD_MAX_SHIFT, "N",
	  "largest object is 2^N bytes, 22-31 (default 25)" },
	{ "copies", OPT_UINT, 1, SD_MAX_COPIES, "N", "cluster default copy count, 1-31 (default 3)" },
	{ "force-plain", OPT_BOOL, 0, 0, NULL, "plain file backend even on btrfs (default off)" },
	{ "enforce-locks", OPT_BOOL, 0, 0, NULL, "exclusive LOCK_VDI (default off, spec 5.7)" },
	{ "log-level", OPT_LEVEL, 0, 0, "LEVEL", "err, warn, info or debug (default info)" },
	{ "config", OPT_CONFIG, 0, 0, "FILE", "read \"key = value\" lines first (default none)" },
	{ "gossip-port", OPT_UINT, 1, 65535, "N", "gossip UDP port (default: the --port number)" },
	{ "advertise", OPT_ADVERTISE, 0, 0, "ADDR",
	  "IP others reach this node at (default: the one --listen address, else the\n"
	  "                             first non-loopback IPv4 address, else 127.0.0.1)" },
	{ "join", OPT_JOIN, 0, 0, "HOST:PORT", "gossip seed (PORT = its gossip port), repeatable (default none)" },
	{ "no-multicast", OPT_BOOL, 0, 0, NULL, "no multicast discovery (default: on if the advertised\n"
	  "                             address is IPv4 and not loopback)" },
	{ "multicast-group", OPT_MCAST, 0, 0, "ADDR", "IPv4 discovery group (default " DISC_GROUP_DEFAULT ")" },
	{ "multicast-port", OPT_UINT, 1, 65535, "N", "discovery UDP port (default 7477)" },
	{ "cluster-name", OPT_NAME, 0, 0, "NAME", "cluster name, 1-63 of [A-Za-z0-9._-] (default sheepmesh)" },
	{ "key-file", OPT_KEYFILE, 0, 0, "FILE",
	  "32-byte cluster key (mode 0600), repeatable: the first seals what\n"
	  "                             we send, all open what we receive (default none)" },
	{ "gossip-interval", OPT_UINT, 100, 60000, "MS", "SWIM probe period in ms (default 1000)" },
	{ "zone", OPT_UINT, 0, 4294967295u, "N", "failure domain of this node, 0 = none (default 0)" },
	{ "weight", OPT_UINT, 1, 65535, "N", "ring weight, 16 = one default node (default 16)" },
	{ "anti-entropy-interval", OPT_UINT, 0, 86400, "S",
	  "compare every local object with its other replicas every S seconds,\n"
	  "                             0 = only when the ring changes (default 300)" },
	{ "scrub-interval", OPT_UINT, 0, 31536000, "S",
	  "re-read every local object and check its checksum every S seconds,\n"
	  "                             0 = never (default 86400)" },
	{ "recovery-rate", OPT_UINT, 1, 100000, "MB",
	  "MB/s that recovery, anti-entropy and scrub may move or read (default 100)" },
	{ "retry-ms", OPT_UINT, 100, 3600000, "MS",
	  "how long a client request waits for a usable ring (replica\n"
	  "                             down, ring changing) before EIO (default 30000)" },
};
#define NR_OPTS (sizeof(opts) / sizeof(opts[0]))

static const struct opt *opt_find(const char *key)
{
	for (size_t i = 0; i < NR_OPTS; i++)
		if (strcmp(opts[i].key, key) == 0)
			return &opts[i];
	return NULL;
}

void node_config_init(struct node_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dir = strdup("/var/lib/sheepmesh");
	cfg->port = SD_DEFAULT_PORT;
	cfg->workers = 8;
	cfg->retry_ms = 30000;
	cfg->ae_interval_s = 300;
	cfg->scrub_interval_s = 86400;
	cfg->recovery_rate_mb = 100;
	cfg->max_connections = 1024;
	cfg->max_inflight = 64;
	cfg->max_buffer_mb = 1024;
	cfg->max_object_shift = 25;
	cfg->copies = 3;
	cfg->log_level = NODE_LOG_INFO;
	cfg->cluster_name = strdup("sheepmesh");
	cfg->multicast_group = strdup(DISC_GROUP_DEFAULT);
	cfg->multicast_port = DISC_PORT_DEFAULT;
	cfg->gossip_interval_ms = 1000;
	cfg->weight = 16;
}

static void listen_clear(struct node_config *cfg)
{
	for (unsigned i = 0; i < cfg->nr_listen; i++)
		free(cfg->listen[i]);
	cfg->nr_listen = 0;
}

static void list_clear(char **v, unsigned *n)
{
	for (unsigned i = 0; i < *n; i++)
		free(v[i]);
	*n = 0;
}

void node_config_free(struct node_config *cfg)
{
	free(cfg->dir);
	free(cfg->unix_path);
	free(cfg->config_file);
	listen_clear(cfg);
	list_clear(cfg->join, &cfg->nr_join);
	list_clear(cfg->key_files, &cfg->nr_key_files);
	free(cfg->advertise);
	free(cfg->cluster_name);
	free(cfg->multicast_group);
	free(cfg->keygen);
	memset(cfg, 0, sizeof(*cfg));
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_bool(const char *s)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

static int set_str(char **dst, const char *value)
{
	char *c = strdup(value);
	if (!c)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

int node_config_set(struct node_config *cfg, const char *key, const char *value,
		    char *err, size_t errlen)
{
	const struct opt *o = opt_find(key);
	unsigned u;
	int b;

	if (!o) {
		snprintf(err, errlen, "unknown option '%s'", key);
		return -1;
	}
	switch (o->kind) {
	case OPT_UINT:
		if (parse_uint(value, o->min, o->max, &u) < 0) {
			snprintf(err, errlen, "invalid value '%s' for %s (expected an integer %u-%u)",
				 value, key, o->min, o->max);
			return -1;
		}
		if (strcmp(key, "port") == 0) cfg->port = u;
		else if (strcmp(key, "workers") == 0) cfg->workers = u;
		else if (strcmp(key, "max-connections") == 0) cfg->max_connections = u;
		else if (strcmp(key, "max-inflight") == 0) cfg->max_inflight = u;
		else if (strcmp(key, "max-buffer-mb") == 0) cfg->max_buffer_mb = u;
		else if (strcmp(key, "max-object-shift") == 0) cfg->max_object_shift = u;
		else if (strcmp(key, "copies") == 0) cfg->copies = u;
		else if (strcmp(key, "gossip-port") == 0) cfg->gossip_port = u;
		else if (strcmp(key, "multicast-port") == 0) cfg->multicast_port = u;
		else if (strcmp(key, "gossip-interval") == 0) cfg->gossip_interval_ms = u;
		else if (strcmp(key, "zone") == 0) cfg->zone = u;
		else if (strcmp(key, "weight") == 0) cfg->weight = u;
		else if (strcmp(key, "retry-ms") == 0) cfg->retry_ms = u;
		else if (strcmp(key, "anti-entropy-interval") == 0) cfg->ae_interval_s = u;
		else if (strcmp(key, "scrub-interval") == 0) cfg->scrub_interval_s = u;
		else if (strcmp(key, "recovery-rate") == 0) cfg->recovery_rate_mb = u;
		return 0;
	case OPT_BOOL:
		if ((b = parse_bool(value)) < 0) {
			snprintf(err, errlen, "invalid value '%s' for %s (expected yes/no, true/false, 1/0, on/off)",
				 value, key);
			return -1;
		}
		if (strcmp(key, "force-plain") == 0) cfg->force_plain = b;
		else if (strcmp(key, "no-multicast") == 0) cfg->no_multicast = b;
		else cfg->enforce_locks = b;
		return 0;
	case OPT_LEVEL:
		if ((b = node_log_level_parse(value)) < 0) {
			snprintf(err, errlen, "invalid value '%s' for %s (expected err, warn, info or debug)",
				 value, key);
			return -1;
		}
		cfg->log_level = b;
		return 0;
	case OPT_LISTEN: {
		unsigned char buf[sizeof(struct in6_addr)];
		if (inet_pton(AF_INET, value, buf) != 1 && inet_pton(AF_INET6, value, buf) != 1) {
			snprintf(err, errlen, "invalid value '%s' for %s (expected a numeric IPv4 or IPv6 address)",
				 value, key);
			return -1;
		}
		if (cfg->nr_listen >= NODE_MAX_LISTEN) {
			snprintf(err, errlen, "too many values for %s (at most %d): '%s'",
				 key, NODE_MAX_LISTEN, value);
			return -1;
		}
		if (!(cfg->listen[cfg->nr_listen] = strdup(value)))
			goto nomem;
		cfg->nr_listen++;
		return 0;
	}
	case OPT_UNIX: {
		struct sockaddr_un sun;
		if (!value[0] || strlen(value) >= sizeof(sun.sun_path)) {
			snprintf(err, errlen, "invalid value '%s' for %s (expected a path of 1-%zu bytes)",
				 value, key, sizeof(sun.sun_path) - 1);
			return -1;
		}
		return set_str(&cfg->unix_path, value) < 0 ? (snprintf(err, errlen, "out of memory"), -1) : 0;
	}
	case OPT_JOIN:
	case OPT_KEYFILE: {
		char **v = o->kind == OPT_JOIN ? cfg->join : cfg->key_files;
		unsigned *n = o->kind == OPT_JOIN ? &cfg->nr_join : &cfg->nr_key_files;
		unsigned max = o->kind == OPT_JOIN ? NODE_MAX_JOIN : NODE_MAX_KEYS;
		if (o->kind == OPT_JOIN) {
			struct swim_addr a;
			char why[300];
			if (node_addr_parse_hostport(value, 0, &a, why, sizeof(why)) < 0) {
				snprintf(err, errlen, "invalid value for %s: %s", key, why);
				return -1;
			}
		} else if (!value[0]) {
			snprintf(err, errlen, "invalid value '' for %s (expected a path)", key);
			return -1;
		}
		if (*n >= max) {
			snprintf(err, errlen, "too many values for %s (at most %u): '%s'", key, max, value);
			return -1;
		}
		if (!(v[*n] = strdup(value)))
			goto nomem;
		(*n)++;
		return 0;
	}
	case OPT_ADVERTISE: {
		struct swim_addr a;
		if (node_addr_parse_ip(value, 0, &a) < 0 || node_addr_is_any(&a)) {
			snprintf(err, errlen, "invalid value '%s' for %s (expected a numeric IPv4 or IPv6 "
				 "address, not a wildcard)", value, key);
			return -1;
		}
		return set_str(&cfg->advertise, value) < 0 ? (snprintf(err, errlen, "out of memory"), -1) : 0;
	}
	case OPT_MCAST: {
		struct in_addr g;
		if (inet_pton(AF_INET, value, &g) != 1 || !IN_MULTICAST(ntohl(g.s_addr))) {
			snprintf(err, errlen, "invalid value '%s' for %s (expected an IPv4 multicast address, "
				 "224.0.0.0-239.255.255.255)", value, key);
			return -1;
		}
		return set_str(&cfg->multicast_group, value) < 0 ? (snprintf(err, errlen, "out of memory"), -1) : 0;
	}
	case OPT_NAME: {
		size_t n = strlen(value);
		int ok = n >= 1 && n <= NODE_CLUSTER_NAME_MAX;
		for (size_t i = 0; ok && i < n; i++)
			ok = isalnum((unsigned char)value[i]) || strchr("._-", value[i]);
		if (!ok) {
			snprintf(err, errlen, "invalid value '%s' for %s (expected 1-%d characters of "
				 "A-Z a-z 0-9 . _ -)", value, key, NODE_CLUSTER_NAME_MAX);
			return -1;
		}
		return set_str(&cfg->cluster_name, value) < 0 ? (snprintf(err, errlen, "out of memory"), -1) : 0;
	}
	case OPT_STR:
	case OPT_CONFIG:
		if (!value[0]) {
			snprintf(err, errlen, "invalid value '' for %s (expected a path)", key);
			return -1;
		}
		if (set_str(o->kind == OPT_STR ? &cfg->dir : &cfg->config_file, value) < 0)
			goto nomem;
		return 0;
	}
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

int node_config_load_file(struct node_config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[4096], msg[512];
	unsigned lineno = 0;
	int listen_seen = 0, rc = 0;

	if (!f) {
		snprintf(err, errlen, "%s: cannot open config file: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long (max %zu bytes)", path, lineno, sizeof(line) - 2);
			rc = -1;
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%u: expected 'key = value', got '%s'", path, lineno, s);
			rc = -1;
			break;
		}
		*eq = 0;
		char *key = trim(s), *value = trim(eq + 1);
		if (strcmp(key, "config") == 0) {
			snprintf(err, errlen, "%s:%u: key 'config' is not allowed in a config file", path, lineno);
			rc = -1;
			break;
		}
		/* the file's listen lines replace the defaults, not add to them */
		if (strcmp(key, "listen") == 0 && !listen_seen) {
			listen_clear(cfg);
			listen_seen = 1;
		}
		if (node_config_set(cfg, key, value, msg, sizeof(msg)) < 0) {
			if (!opt_find(key))
				snprintf(err, errlen, "%s:%u: unknown key '%s'", path, lineno, key);
			else
				snprintf(err, errlen, "%s:%u: key '%s': %s", path, lineno, key, msg);
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

/* Splits "--key=value" / "--key value"; returns the option or NULL. *value
 * is NULL for a bool without "=". *consumed is 2 when the value was the next
 * argument. */
static int arg_split(int argc, char *const *argv, int i, char *key, size_t keylen,
		     const struct opt **o, const char **value, int *consumed, char *err, size_t errlen)
{
	const char *a = argv[i];
	if (strncmp(a, "--", 2) != 0 || !a[2]) {
		snprintf(err, errlen, "unexpected argument '%s' (options start with --)", a);
		return -1;
	}
	a += 2;
	const char *eq = strchr(a, '=');
	size_t n = eq ? (size_t)(eq - a) : strlen(a);
	if (n >= keylen)
		n = keylen - 1;
	memcpy(key, a, n);
	key[n] = 0;
	*o = opt_find(key);
	*consumed = 1;
	*value = eq ? eq + 1 : NULL;
	if (!*o) {
		snprintf(err, errlen, "unknown option '--%s'", key);
		return -1;
	}
	if (!eq && (*o)->kind != OPT_BOOL) {
		if (i + 1 >= argc) {
			snprintf(err, errlen, "option --%s needs a value", key);
			return -1;
		}
		*value = argv[i + 1];
		*consumed = 2;
	}
	return 0;
}

int node_config_parse_args(struct node_config *cfg, int argc, char *const *argv,
			   char *err, size_t errlen)
{
	char key[64], msg[512];
	const struct opt *o;
	const char *value;
	int used, listen_seen = 0, join_seen = 0, keys_seen = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return NODE_CONFIG_HELP;
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0)
			return NODE_CONFIG_VERSION;
	}
	/* --keygen FILE: a command, not a setting; nothing else may come with it */
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		if (strcmp(argv[i], "--keygen") == 0) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "option --keygen needs a value (the key file to create)");
				return NODE_CONFIG_ERROR;
			}
			v = argv[i + 1];
		} else if (strncmp(argv[i], "--keygen=", 9) == 0) {
			v = argv[i] + 9;
		}
		if (!v)
			continue;
		if (!v[0]) {
			snprintf(err, errlen, "invalid value '' for --keygen (expected a path)");
			return NODE_CONFIG_ERROR;
		}
		if (argc != (strchr(argv[i], '=') ? 2 : 3)) {
			snprintf(err, errlen, "--keygen FILE takes no other options");
			return NODE_CONFIG_ERROR;
		}
		if (set_str(&cfg->keygen, v) < 0) {
			snprintf(err, errlen, "out of memory");
			return NODE_CONFIG_ERROR;
		}
		return NODE_CONFIG_KEYGEN;
	}
	/* pass 1: syntax of every flag, and the config file */
	for (int i = 1; i < argc; i += used) {
		if (arg_split(argc, argv, i, key, sizeof(key), &o, &value, &used, err, errlen) < 0)
			return NODE_CONFIG_ERROR;
		if (o->kind == OPT_CONFIG &&
		    node_config_set(cfg, key, value, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "--%s: %s", key, msg);
			return NODE_CONFIG_ERROR;
		}
	}
	if (cfg->config_file && node_config_load_file(cfg, cfg->config_file, err, errlen) < 0)
		return NODE_CONFIG_ERROR;
	/* pass 2: flags override the file */
	for (int i = 1; i < argc; i += used) {
		if (arg_split(argc, argv, i, key, sizeof(key), &o, &value, &used, err, errlen) < 0)
			return NODE_CONFIG_ERROR;
		if (o->kind == OPT_CONFIG)
			continue;
		if (o->kind == OPT_LISTEN && !listen_seen) {
			listen_clear(cfg);
			listen_seen = 1;
		}
		/* lists from flags replace the config file's, as --listen does */
		if (o->kind == OPT_JOIN && !join_seen) {
			list_clear(cfg->join, &cfg->nr_join);
			join_seen = 1;
		}
		if (o->kind == OPT_KEYFILE && !keys_seen) {
			list_clear(cfg->key_files, &cfg->nr_key_files);
			keys_seen = 1;
		}
		if (node_config_set(cfg, key, value ? value : "yes", msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "--%s: %s", key, msg);
			return NODE_CONFIG_ERROR;
		}
	}
	return NODE_CONFIG_RUN;
}

void node_config_print_help(FILE *out)
{
	fprintf(out, "usage: sheepnode [OPTION]...\n"
		"Serves the Sheepdog block protocol (QEMU 5.2 sheepdog: URIs) from one local store.\n\n");
	for (size_t i = 0; i < NR_OPTS; i++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s%s%s", opts[i].key, opts[i].arg ? " " : "",
			 opts[i].arg ? opts[i].arg : "");
		fprintf(out, "  %-26s %s\n", left, opts[i].help);
	}
	fprintf(out, "  %-26s %s\n", "--help", "print this help and exit");
	fprintf(out, "  %-26s %s\n", "--version", "print the version and exit");
	fprintf(out, "  %-26s %s\n", "--keygen FILE", "write a new random cluster key to FILE (0600) and exit");
	fprintf(out, "\nOptions also take the form --key=value. A config file holds \"key = value\"\n"
		"lines (keys are the option names without dashes, # starts a comment);\n"
		"command-line options override it. See CONFIG.md.\n");
}

uint32_t node_config_max_request(const struct node_config *cfg)
{
	uint64_t m = (uint64_t)1 << cfg->max_object_shift;
	if (m < SD_INODE_SIZE)
		m = SD_INODE_SIZE;
	if (m < SD_BITMAP_SIZE)
		m = SD_BITMAP_SIZE;
	if (m > UINT32_MAX)
		m = UINT32_MAX;
	return (uint32_t)m;
}

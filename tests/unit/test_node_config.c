/* test_node_config.c: node/config.c: defaults, flags, config files, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "node/config.h"
#include "node/log.h"
#include "sheepdog_proto.h"

static int parse(struct node_config *cfg, char *err, size_t errlen, ...)
{
	char *argv[32] = { "sheepnode" };
	int argc = 1;
	va_list ap;
	va_start(ap, errlen);
	for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	err[0] = 0;
	return node_config_parse_args(cfg, argc, argv, err, errlen);
}

/* Writes text to a fresh temp file; returns its malloc'd path. */
static char *write_file(const char *text)
{
	char *path = strdup("/tmp/test_node_config.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_defaults(void **state)
{
	(void)state;
	struct node_config cfg;
	char err[256];
	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), NULL), NODE_CONFIG_RUN);
	assert_string_equal(cfg.dir, "/var/lib/sheepmesh");
	assert_int_equal(cfg.port, 7000);
	assert_int_equal(cfg.nr_listen, 0);
	assert_null(cfg.unix_path);
	assert_int_equal(cfg.workers, 8);
	assert_int_equal(cfg.max_connections, 1024);
	assert_int_equal(cfg.max_inflight, 64);
	assert_int_equal(cfg.max_object_shift, 25);
	assert_int_equal(cfg.copies, 3);
	assert_int_equal(cfg.force_plain, 0);
	assert_int_equal(cfg.enforce_locks, 0);
	assert_int_equal(cfg.log_level, NODE_LOG_INFO);
	assert_null(cfg.config_file);
	/* max(inode, bitmap, 2^25) */
	assert_int_equal(node_config_max_request(&cfg), 1u << 25);
	cfg.max_object_shift = 22;
	assert_int_equal(node_config_max_request(&cfg), SD_INODE_SIZE);
	cfg.max_object_shift = 31;
	assert_int_equal(node_config_max_request(&cfg), 1u << 31);
	node_config_free(&cfg);
}

static void test_help_version(void **state)
{
	(void)state;
	struct node_config cfg;
	char err[256];
	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--help", NULL), NODE_CONFIG_HELP);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--port", "1", "--version", NULL),
			 NODE_CONFIG_VERSION);
	/* --help wins even next to a bad flag */
	assert_int_equal(parse(&cfg, err, sizeof(err), "--bogus", "--help", NULL), NODE_CONFIG_HELP);
	node_config_free(&cfg);
}

static void test_each_flag(void **state)
{
	(void)state;
	struct node_config cfg;
	char err[256];
	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err),
			       "--dir", "/tmp/x", "--port=7001", "--listen", "127.0.0.1",
			       "--listen=::1", "--unix", "/tmp/s.sock", "--workers", "3",
			       "--max-connections", "10", "--max-inflight=5",
			       "--max-object-shift", "23", "--copies", "2", "--force-plain",
			       "--enforce-locks=yes", "--log-level", "debug", NULL),
			 NODE_CONFIG_RUN);
	assert_string_equal(cfg.dir, "/tmp/x");
	assert_int_equal(cfg.port, 7001);
	assert_int_equal(cfg.nr_listen, 2);
	assert_string_equal(cfg.listen[0], "127.0.0.1");
	assert_string_equal(cfg.listen[1], "::1");
	assert_string_equal(cfg.unix_path, "/tmp/s.sock");
	assert_int_equal(cfg.workers, 3);
	assert_int_equal(cfg.max_connections, 10);
	assert_int_equal(cfg.max_inflight, 5);
	assert_int_equal(cfg.max_object_shift, 23);
	assert_int_equal(cfg.copies, 2);
	assert_int_equal(cfg.force_plain, 1);
	assert_int_equal(cfg.enforce_locks, 1);
	assert_int_equal(cfg.log_level, NODE_LOG_DEBUG);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--force-plain=no", NULL), NODE_CONFIG_RUN);
	assert_int_equal(cfg.force_plain, 0);
	node_config_free(&cfg);
}

struct bad { const char *flag, *value, *needle; };

static void test_bad_values(void **state)
{
	(void)state;
	static const struct bad bad[] = {
		{ "--port", "0", "--port" }, { "--port", "65536", "65536" },
		{ "--port", "70x", "'70x'" }, { "--port", "-1", "'-1'" },
		{ "--workers", "0", "--workers" }, { "--workers", "", "--workers" },
		{ "--max-connections", "0", "--max-connections" },
		{ "--max-inflight", "99999999999999999999", "--max-inflight" },
		{ "--max-object-shift", "21", "'21'" }, { "--max-object-shift", "32", "'32'" },
		{ "--copies", "0", "--copies" }, { "--copies", "32", "'32'" },
		{ "--log-level", "loud", "'loud'" }, { "--listen", "localhost", "'localhost'" },
		{ "--listen", "1.2.3.4.5", "--listen" }, { "--dir", "", "--dir" },
		{ "--force-plain=maybe", NULL, "'maybe'" },
		{ "--unix", "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "--unix" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct node_config cfg;
		char err[512];
		node_config_init(&cfg);
		int r = parse(&cfg, err, sizeof(err), bad[i].flag, bad[i].value, NULL);
		if (r != NODE_CONFIG_ERROR || !strstr(err, bad[i].needle))
			fail_msg("%s %s: rc %d, err '%s' lacks '%s'", bad[i].flag,
				 bad[i].value ? bad[i].value : "", r, err, bad[i].needle);
		node_config_free(&cfg);
	}
}

static void test_bad_syntax(void **state)
{
	(void)state;
	struct node_config cfg;
	char err[256];
	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--nope", "1", NULL), NODE_CONFIG_ERROR);
	assert_non_null(strstr(err, "--nope"));
	assert_int_equal(parse(&cfg, err, sizeof(err), "--port", NULL), NODE_CONFIG_ERROR);
	assert_non_null(strstr(err, "--port"));
	assert_int_equal(parse(&cfg, err, sizeof(err), "stray", NULL), NODE_CONFIG_ERROR);
	assert_non_null(strstr(err, "stray"));
	/* too many --listen */
	char *argv[2 * NODE_MAX_LISTEN + 4] = { "sheepnode" };
	int argc = 1;
	for (int i = 0; i <= NODE_MAX_LISTEN; i++) {
		argv[argc++] = "--listen";
		argv[argc++] = "127.0.0.1";
	}
	assert_int_equal(node_config_parse_args(&cfg, argc, argv, err, sizeof(err)), NODE_CONFIG_ERROR);
	assert_non_null(strstr(err, "--listen"));
	node_config_free(&cfg);
}

static void test_file(void **state)
{
	(void)state;
	struct node_config cfg;
	char err[512];
	char *path = write_file("# sheepnode config\n\n"
				"dir = /srv/sheep   # trailing comment\n"
				"port=7100\n"
				"  listen = 127.0.0.1\n"
				"listen = ::1\n"
				"unix = /tmp/f.sock\n"
				"workers = 4\n"
				"max-connections = 7\n"
				"max-inflight = 9\n"
				"max-object-shift = 24\n"
				"copies = 1\n"
				"force-plain = true\n"
				"enforce-locks = on\n"
				"log-level = warn\n");
	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--config", path, NULL), NODE_CONFIG_RUN);
	assert_string_equal(cfg.dir, "/srv/sheep");
	assert_int_equal(cfg.port, 7100);
	assert_int_equal(cfg.nr_listen, 2);
	assert_string_equal(cfg.listen[1], "::1");
	assert_string_equal(cfg.unix_path, "/tmp/f.sock");
	assert_int_equal(cfg.workers, 4);
	assert_int_equal(cfg.max_connections, 7);
	assert_int_equal(cfg.max_inflight, 9);
	assert_int_equal(cfg.max_object_shift, 24);
	assert_int_equal(cfg.copies, 1);
	assert_int_equal(cfg.force_plain, 1);
	assert_int_equal(cfg.enforce_locks, 1);
	assert_int_equal(cfg.log_level, NODE_LOG_WARN);
	node_config_free(&cfg);

	/* flags override the file wherever they appear */
	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--port", "7200", "--config", path,
			       "--listen", "0.0.0.0", "--force-plain=no", NULL), NODE_CONFIG_RUN);
	assert_int_equal(cfg.port, 7200);
	assert_int_equal(cfg.nr_listen, 1);
	assert_string_equal(cfg.listen[0], "0.0.0.0");
	assert_int_equal(cfg.force_plain, 0);
	assert_int_equal(cfg.workers, 4);
	node_config_free(&cfg);
	unlink(path);
	free(path);
}

struct bad_file { const char *text, *needle1, *needle2; };

static void test_file_errors(void **state)
{
	(void)state;
	static const struct bad_file bad[] = {
		{ "port = 7000\nport = abc\n", ":2:", "port" },
		{ "\n\nbogus = 1\n", ":3:", "bogus" },
		{ "just words\n", ":1:", "key = value" },
		{ "copies = 99\n", ":1:", "copies" },
		{ "config = /etc/x\n", ":1:", "config" },
		{ "workers =\n", ":1:", "workers" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct node_config cfg;
		char err[512];
		char *path = write_file(bad[i].text);
		node_config_init(&cfg);
		int r = parse(&cfg, err, sizeof(err), "--config", path, NULL);
		if (r != NODE_CONFIG_ERROR || !strstr(err, path) || !strstr(err, bad[i].needle1) ||
		    !strstr(err, bad[i].needle2))
			fail_msg("file %zu: rc %d err '%s'", i, r, err);
		node_config_free(&cfg);
		unlink(path);
		free(path);
	}
	struct node_config cfg;
	char err[512];
	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--config", "/nonexistent/sheep.conf", NULL),
			 NODE_CONFIG_ERROR);
	assert_non_null(strstr(err, "/nonexistent/sheep.conf"));
	node_config_free(&cfg);
}

static void test_help_text(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	node_config_print_help(f);
	fclose(f);
	static const char *const keys[] = { "--dir", "--port", "--listen", "--unix", "--workers",
		"--max-connections", "--max-inflight", "--max-object-shift", "--copies",
		"--force-plain", "--enforce-locks", "--log-level", "--config", "--help", "--version" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strstr(buf, keys[i]))
			fail_msg("--help lacks %s", keys[i]);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_each_flag),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bad_syntax),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_help_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_node_gossip.c: the daemon side of gossip that needs no network:
 * node/node_id.c (identity, incarnation, key files), node/netaddr.c
 * (--join/--advertise parsing), node/discovery.c (announcement codec,
 * also sealed), and the gossip flags of node/config.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "gossip/seal.h"
#include "node/config.h"
#include "node/dispatch.h"
#include "node/discovery.h"
#include "node/netaddr.h"
#include "node/node_id.h"

static char *tmpdir_new(void)
{
	char *d = strdup("/tmp/test_node_gossip.XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void tmpdir_free(char *d)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
	free(d);
}

static void put(const char *dir, const char *name, const void *buf, size_t len, mode_t mode)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_node_id_create_load(void **state)
{
	(void)state;
	char *d = tmpdir_new(), err[600], p[512], hex[33];
	uint8_t id1[16], id2[16];
	struct stat st;

	assert_int_equal(node_id_load_or_create(d, id1, err, sizeof(err)), 1);
	snprintf(p, sizeof(p), "%s/node-id", d);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 33);
	assert_int_equal(node_id_load_or_create(d, id2, err, sizeof(err)), 0);
	assert_memory_equal(id1, id2, 16);
	/* the file holds the hex form */
	FILE *f = fopen(p, "r");
	char line[64] = "";
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	node_id_hex(id1, hex);
	assert_int_equal(strncmp(line, hex, 32), 0);
	/* no temp file left behind */
	snprintf(p, sizeof(p), "%s/node-id.tmp", d);
	assert_int_equal(access(p, F_OK), -1);
	/* a second node gets another id */
	char *d2 = tmpdir_new();
	assert_int_equal(node_id_load_or_create(d2, id2, err, sizeof(err)), 1);
	assert_memory_not_equal(id1, id2, 16);
	tmpdir_free(d2);
	tmpdir_free(d);
}

static void test_node_id_corrupt(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "\n", "xyz\n", "0123456789abcdef0123456789abcdef",          /* no newline */
		"0123456789abcdef0123456789abcdeg\n", "0123456789abcdef0123456789abcde\n",
		"0123456789abcdef0123456789abcdef0\n", "0123456789abcdef0123456789abcdef\n\n",
		" 123456789abcdef0123456789abcdef\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *d = tmpdir_new(), err[600] = "", p[512];
		uint8_t id[16];
		put(d, "node-id", bad[i], strlen(bad[i]), 0600);
		assert_int_equal(node_id_load_or_create(d, id, err, sizeof(err)), -1);
		snprintf(p, sizeof(p), "%s/node-id", d);
		if (!strstr(err, p) || !strstr(err, "corrupt"))
			fail_msg("case %zu: error does not name %s: %s", i, p, err);
		/* not replaced */
		struct stat st;
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_size, (off_t)strlen(bad[i]));
		tmpdir_free(d);
	}
	/* upper-case hex is accepted (hand-restored file) */
	char *d = tmpdir_new(), err[600];
	uint8_t id[16];
	put(d, "node-id", "0123456789ABCDEF0123456789abcdef\n", 33, 0600);
	assert_int_equal(node_id_load_or_create(d, id, err, sizeof(err)), 0);
	assert_int_equal(id[0], 0x01);
	assert_int_equal(id[7], 0xef);
	tmpdir_free(d);
	/* unwritable directory: an error, not a crash */
	assert_int_equal(node_id_load_or_create("/nonexistent/dir", id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/dir/node-id"));
}

static void test_state(void **state)
{
	(void)state;
	char *d = tmpdir_new(), err[600];
	uint64_t inc = 99;

	assert_int_equal(node_state_load(d, &inc, err, sizeof(err)), 0);
	assert_int_equal(inc, 0);
	assert_int_equal(node_state_save(d, 41, err, sizeof(err)), 0);
	assert_int_equal(node_state_load(d, &inc, err, sizeof(err)), 0);
	assert_int_equal(inc, 41);
	assert_int_equal(node_state_save(d, 42, err, sizeof(err)), 0);
	assert_int_equal(node_state_load(d, &inc, err, sizeof(err)), 0);
	assert_int_equal(inc, 42);
	static const char *const bad[] = { "", "incarnation\n", "incarnation 12", "incarnation -1\n",
		"incarnation 12x\n", "incarnation 99999999999999999999999\n", "inc 3\n",
		"incarnation 4611686018427387904\n" /* 2^62 */ };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(d, "gossip-state", bad[i], strlen(bad[i]), 0600);
		err[0] = 0;
		assert_int_equal(node_state_load(d, &inc, err, sizeof(err)), -1);
		if (!strstr(err, "gossip-state"))
			fail_msg("case %zu: error does not name the file: %s", i, err);
	}
	tmpdir_free(d);
}

static void test_key_files(void **state)
{
	(void)state;
	char *d = tmpdir_new(), err[600], p[512];
	uint8_t key[32], key2[32], raw[33] = { 1 };
	struct stat st;

	snprintf(p, sizeof(p), "%s/k", d);
	assert_int_equal(node_keygen(p, err, sizeof(err)), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_int_equal(node_key_load(p, key, err, sizeof(err)), 0);
	/* never overwritten */
	assert_int_equal(node_keygen(p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exists"));
	assert_int_equal(node_key_load(p, key2, err, sizeof(err)), 0);
	assert_memory_equal(key, key2, 32);
	/* group or world bits: refused, naming the flag and the file */
	static const mode_t modes[] = { 0640, 0604, 0660, 0644, 0610, 0601 };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(p, modes[i]), 0);
		err[0] = 0;
		assert_int_equal(node_key_load(p, key2, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "--key-file"));
		assert_non_null(strstr(err, p));
		assert_non_null(strstr(err, "mode"));
	}
	assert_int_equal(chmod(p, 0400), 0);
	assert_int_equal(node_key_load(p, key2, err, sizeof(err)), 0);
	/* wrong sizes */
	put(d, "short", raw, 31, 0600);
	snprintf(p, sizeof(p), "%s/short", d);
	assert_int_equal(node_key_load(p, key2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "32"));
	put(d, "long", raw, 33, 0600);
	snprintf(p, sizeof(p), "%s/long", d);
	assert_int_equal(node_key_load(p, key2, err, sizeof(err)), -1);
	put(d, "empty", raw, 0, 0600);
	snprintf(p, sizeof(p), "%s/empty", d);
	assert_int_equal(node_key_load(p, key2, err, sizeof(err)), -1);
	/* missing file, directory */
	snprintf(p, sizeof(p), "%s/none", d);
	assert_int_equal(node_key_load(p, key2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, p));
	assert_int_equal(node_key_load(d, key2, err, sizeof(err)), -1);
	assert_int_equal(node_keygen("", err, sizeof(err)), -1);
	tmpdir_free(d);
}

static void test_hostport(void **state)
{
	(void)state;
	struct swim_addr a;
	char err[400], buf[NODE_ADDR_STRLEN];

	assert_int_equal(node_addr_parse_hostport("10.1.2.3:7000", 0, &a, err, sizeof(err)), 0);
	assert_int_equal(a.family, 4);
	assert_int_equal(a.port, 7000);
	assert_string_equal(node_addr_format(&a, buf, sizeof(buf)), "10.1.2.3:7000");
	assert_int_equal(node_addr_parse_hostport("[fd00::1]:65535", 0, &a, err, sizeof(err)), 0);
	assert_int_equal(a.family, 6);
	assert_int_equal(a.port, 65535);
	assert_string_equal(node_addr_format(&a, buf, sizeof(buf)), "[fd00::1]:65535");
	/* names: syntax only without resolving, resolved with */
	assert_int_equal(node_addr_parse_hostport("seed-1.example.org:7000", 0, &a, err, sizeof(err)), 0);
	assert_int_equal(node_addr_parse_hostport("localhost:7001", 1, &a, err, sizeof(err)), 0);
	assert_true(node_addr_is_loopback(&a));
	assert_int_equal(a.port, 7001);
	static const char *const bad[] = { "10.1.2.3", "10.1.2.3:", "10.1.2.3:0", "10.1.2.3:65536",
		"10.1.2.3:7x", ":7000", "::1:7000", "[::1]7000", "[::1]", "[10.1.2.3]:7000",
		"[::1:7000", "0.0.0.0:7000", "[::]:7000", "a b:7000", "host/x:7000", "10.1.2.3:-1",
		"10.1.2.3:+7", "[]:7000", "", ":", "10.1.2.3:123456" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (node_addr_parse_hostport(bad[i], 0, &a, err, sizeof(err)) != -1)
			fail_msg("'%s' was accepted", bad[i]);
		if (!err[0])
			fail_msg("'%s': no message", bad[i]);
	}
	assert_int_equal(node_addr_parse_hostport("no-such-host.invalid:7000", 1, &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "resolve"));
}

static void test_ip_and_sockaddr(void **state)
{
	(void)state;
	struct swim_addr a, b;
	struct sockaddr_storage ss;
	char buf[NODE_ADDR_STRLEN];

	assert_int_equal(node_addr_parse_ip("192.0.2.9", 7, &a), 0);
	assert_false(node_addr_is_loopback(&a));
	assert_false(node_addr_is_any(&a));
	socklen_t sl = node_addr_to_sockaddr(&a, &ss);
	assert_int_equal(node_addr_from_sockaddr((struct sockaddr *)&ss, sl, &b), 0);
	assert_true(swim_addr_equal(&a, &b));
	assert_int_equal(node_addr_parse_ip("::1", 9, &a), 0);
	assert_true(node_addr_is_loopback(&a));
	sl = node_addr_to_sockaddr(&a, &ss);
	assert_int_equal(node_addr_from_sockaddr((struct sockaddr *)&ss, sl, &b), 0);
	assert_true(swim_addr_equal(&a, &b));
	/* v4-mapped v6 becomes v4 (a dual-stack socket's view) */
	assert_int_equal(node_addr_parse_ip("::ffff:10.0.0.1", 5, &a), 0);
	sl = node_addr_to_sockaddr(&a, &ss);
	assert_int_equal(node_addr_from_sockaddr((struct sockaddr *)&ss, sl, &b), 0);
	assert_int_equal(b.family, 4);
	assert_string_equal(node_addr_format(&b, buf, sizeof(buf)), "10.0.0.1:5");
	assert_int_equal(node_addr_parse_ip("0.0.0.0", 1, &a), 0);
	assert_true(node_addr_is_any(&a));
	assert_int_equal(node_addr_parse_ip("10.0.0.1:7", 1, &a), -1);
	assert_int_equal(node_addr_parse_ip("example.org", 1, &a), -1);
	assert_int_equal(node_addr_parse_ip("", 1, &a), -1);
	/* the default is never a wildcard, and loopback only as the fallback */
	node_addr_default_advertise(7000, &a);
	assert_int_equal(a.family, 4);
	assert_int_equal(a.port, 7000);
	assert_false(node_addr_is_any(&a));
}

static struct disc_announce sample(int family)
{
	struct disc_announce a;
	memset(&a, 0, sizeof(a));
	strcpy(a.cluster, "prod-1");
	for (int i = 0; i < 16; i++)
		a.id[i] = (uint8_t)(i * 17 + 1);
	if (family == 4)
		assert_int_equal(node_addr_parse_ip("10.77.0.3", 7002, &a.gossip), 0);
	else
		assert_int_equal(node_addr_parse_ip("fd00::77:3", 7002, &a.gossip), 0);
	return a;
}

static void test_announce_roundtrip(void **state)
{
	(void)state;
	uint8_t buf[DISC_BODY_MAX];
	struct disc_announce b;

	for (int fam = 4; fam <= 6; fam += 2) {
		struct disc_announce a = sample(fam);
		int n = disc_announce_encode(&a, buf, sizeof(buf));
		assert_int_equal(n, 3 + 1 + 1 + 6 + 16 + 1 + (fam == 4 ? 4 : 16) + 2);
		assert_int_equal(disc_announce_decode(buf, (size_t)n, &b), 0);
		assert_string_equal(a.cluster, b.cluster);
		assert_memory_equal(a.id, b.id, 16);
		assert_true(swim_addr_equal(&a.gossip, &b.gossip));
		/* every truncation is rejected, so is a trailing byte */
		for (int k = 0; k < n; k++)
			assert_true(disc_announce_decode(buf, (size_t)k, &b) < 0);
		buf[n] = 0;
		assert_int_equal(disc_announce_decode(buf, (size_t)n + 1, &b), DISC_E_LENGTH);
		/* too small a buffer for the encoder */
		assert_int_equal(disc_announce_encode(&a, buf, (size_t)n - 1), -1);
	}
	/* longest name fits DISC_BODY_MAX */
	struct disc_announce a = sample(6);
	memset(a.cluster, 'x', 63);
	a.cluster[63] = 0;
	assert_int_equal(disc_announce_encode(&a, buf, sizeof(buf)), DISC_BODY_MAX);
	/* encoder refuses what the decoder would */
	a = sample(4);
	a.cluster[0] = 0;
	assert_int_equal(disc_announce_encode(&a, buf, sizeof(buf)), -1);
	a = sample(4);
	a.gossip.family = 5;
	assert_int_equal(disc_announce_encode(&a, buf, sizeof(buf)), -1);
}

static void test_announce_garbage(void **state)
{
	(void)state;
	uint8_t buf[DISC_BODY_MAX + 8], good[DISC_BODY_MAX];
	struct disc_announce a = sample(4), b;
	int n = disc_announce_encode(&a, good, sizeof(good));

	/* each field corrupted on its own gets its own code */
	struct { size_t off; uint8_t val; int code; } cases[] = {
		{ 0, 'X', DISC_E_MAGIC }, { 3, 2, DISC_E_VERSION }, { 3, 0, DISC_E_VERSION },
		{ 4, 0, DISC_E_NAME }, { 4, 64, DISC_E_NAME }, { 5, ' ', DISC_E_NAME },
		{ 5, 0x80, DISC_E_NAME }, { 5 + 6 + 16, 5, DISC_E_ADDR }, { 5 + 6 + 16, 0, DISC_E_ADDR },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(buf, good, (size_t)n);
		buf[cases[i].off] = cases[i].val;
		int rc = disc_announce_decode(buf, (size_t)n, &b);
		if (rc != cases[i].code)
			fail_msg("case %zu: got %d (%s), want %d", i, rc, disc_strerror(rc), cases[i].code);
	}
	/* name length longer than the packet */
	memcpy(buf, good, (size_t)n);
	buf[4] = 60;
	assert_true(disc_announce_decode(buf, (size_t)n, &b) < 0);
	/* zero id, zero port, zero address */
	memcpy(buf, good, (size_t)n);
	memset(buf + 11, 0, 16);
	assert_int_equal(disc_announce_decode(buf, (size_t)n, &b), DISC_E_ID);
	memcpy(buf, good, (size_t)n);
	buf[n - 1] = buf[n - 2] = 0;
	assert_int_equal(disc_announce_decode(buf, (size_t)n, &b), DISC_E_ADDR);
	memcpy(buf, good, (size_t)n);
	memset(buf + n - 6, 0, 4);
	assert_int_equal(disc_announce_decode(buf, (size_t)n, &b), DISC_E_ADDR);
	/* random bytes: never accepted by chance with a wrong magic, never crash */
	srand(7);
	int accepted = 0;
	for (int it = 0; it < 20000; it++) {
		size_t len = (size_t)rand() % sizeof(buf);
		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)rand();
		if (it % 2 && len >= 5)
			memcpy(buf, "SMA\x01", 4);      /* get past the magic half the time */
		accepted += disc_announce_decode(buf, len, &b) == 0;
	}
	assert_true(accepted < 50);
	for (int c = DISC_E_LENGTH; c <= DISC_E_SHORT; c++)
		assert_non_null(disc_strerror(c));
}

static void test_announce_sealed(void **state)
{
	(void)state;
	struct seal s1, s2, plain;
	uint8_t k1[32], k2[32], body[DISC_BODY_MAX], pkt[256], out[256];
	struct disc_announce a = sample(4), b;
	size_t n, m;

	memset(k1, 1, 32);
	memset(k2, 2, 32);
	assert_int_equal(seal_init(&s1, "prod-1"), 0);
	assert_int_equal(seal_init(&s2, "prod-1"), 0);
	assert_int_equal(seal_init(&plain, "prod-1"), 0);
	assert_int_equal(seal_key_add(&s1, k1, 1), 0);
	assert_int_equal(seal_key_add(&s2, k2, 1), 0);
	int len = disc_announce_encode(&a, body, sizeof(body));
	assert_int_equal(seal_pack_random(&s1, body, (size_t)len, pkt, sizeof(pkt), &n), 0);
	assert_int_equal(seal_open(&s1, pkt, n, out, sizeof(out), &m), 0);
	assert_int_equal(disc_announce_decode(out, m, &b), 0);
	/* another key, or no key: dropped and counted */
	assert_int_equal(seal_open(&s2, pkt, n, out, sizeof(out), &m), SEAL_E_OPEN);
	assert_int_equal(s2.stats.open_failed, 1);
	assert_int_equal(seal_open(&plain, pkt, n, out, sizeof(out), &m), SEAL_E_MODE);
	/* a ring holding both keys accepts it (rotation) */
	assert_int_equal(seal_key_add(&s2, k1, 0), 0);
	assert_int_equal(seal_open(&s2, pkt, n, out, sizeof(out), &m), 0);
	/* a flipped bit anywhere fails */
	pkt[n / 2] ^= 1;
	assert_int_equal(seal_open(&s1, pkt, n, out, sizeof(out), &m), SEAL_E_OPEN);
	seal_fini(&s1);
	seal_fini(&s2);
	seal_fini(&plain);
}

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

static void test_config_flags(void **state)
{
	(void)state;
	struct node_config cfg;
	char err[600];

	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), NULL), NODE_CONFIG_RUN);
	assert_string_equal(cfg.cluster_name, "sheepmesh");
	assert_string_equal(cfg.multicast_group, "239.192.77.77");
	assert_int_equal(cfg.multicast_port, 7477);
	assert_int_equal(cfg.gossip_port, 0);
	assert_int_equal(cfg.no_multicast, 0);
	assert_int_equal(cfg.gossip_interval_ms, 1000);
	assert_int_equal(cfg.weight, 16);
	node_config_free(&cfg);

	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--join", "10.0.0.1:7000", "--join=[::1]:7001",
			       "--advertise", "10.0.0.9", "--gossip-port", "7100", "--no-multicast",
			       "--key-file", "/k1", "--key-file", "/k2", "--cluster-name", "a.b_c-9",
			       "--multicast-group", "239.1.2.3", "--multicast-port", "9999",
			       "--gossip-interval", "200", "--zone", "4294967295", "--weight", "32", NULL),
			 NODE_CONFIG_RUN);
	assert_int_equal(cfg.nr_join, 2);
	assert_string_equal(cfg.join[1], "[::1]:7001");
	assert_string_equal(cfg.advertise, "10.0.0.9");
	assert_int_equal(cfg.gossip_port, 7100);
	assert_int_equal(cfg.no_multicast, 1);
	assert_int_equal(cfg.nr_key_files, 2);
	assert_string_equal(cfg.key_files[0], "/k1");
	assert_string_equal(cfg.cluster_name, "a.b_c-9");
	assert_int_equal(cfg.zone, 4294967295u);
	assert_int_equal(cfg.weight, 32);
	node_config_free(&cfg);

	struct { const char *flag, *value; } bad[] = {
		{ "--join", "10.0.0.1" }, { "--join", "::1:7000" }, { "--join", "0.0.0.0:7000" },
		{ "--advertise", "example.org" }, { "--advertise", "0.0.0.0" }, { "--advertise", "::" },
		{ "--gossip-port", "0" }, { "--gossip-port", "65536" }, { "--multicast-group", "10.0.0.1" },
		{ "--multicast-group", "ff02::1" }, { "--multicast-port", "x" },
		{ "--cluster-name", "" }, { "--cluster-name", "has space" }, { "--cluster-name", "a\"b" },
		{ "--cluster-name", "0123456789012345678901234567890123456789012345678901234567890123" },
		{ "--key-file", "" }, { "--gossip-interval", "50" }, { "--weight", "0" },
		{ "--no-multicast=maybe", NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		node_config_init(&cfg);
		int rc = bad[i].value ? parse(&cfg, err, sizeof(err), bad[i].flag, bad[i].value, NULL)
				      : parse(&cfg, err, sizeof(err), bad[i].flag, NULL);
		if (rc != NODE_CONFIG_ERROR)
			fail_msg("%s %s accepted", bad[i].flag, bad[i].value ? bad[i].value : "");
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(bad[i].flag, "="), bad[i].flag);
		if (!strstr(err, name))
			fail_msg("%s: message does not name the flag: %s", bad[i].flag, err);
		node_config_free(&cfg);
	}
	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--key-file", "a", "--key-file", "b", "--key-file",
			       "c", "--key-file", "d", "--key-file", "e", NULL), NODE_CONFIG_ERROR);
	assert_non_null(strstr(err, "too many"));
	node_config_free(&cfg);
}

static void test_config_keygen(void **state)
{
	(void)state;
	struct node_config cfg;
	char err[600];

	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--keygen", "/tmp/x.key", NULL), NODE_CONFIG_KEYGEN);
	assert_string_equal(cfg.keygen, "/tmp/x.key");
	node_config_free(&cfg);
	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--keygen=/tmp/y.key", NULL), NODE_CONFIG_KEYGEN);
	assert_string_equal(cfg.keygen, "/tmp/y.key");
	node_config_free(&cfg);
	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--keygen", NULL), NODE_CONFIG_ERROR);
	assert_non_null(strstr(err, "--keygen"));
	node_config_free(&cfg);
	node_config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--port", "1", "--keygen", "f", NULL), NODE_CONFIG_ERROR);
	assert_non_null(strstr(err, "--keygen"));
	node_config_free(&cfg);
	/* help lists every gossip flag */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	node_config_print_help(f);
	fclose(f);
	static const char *const keys[] = { "--gossip-port", "--advertise", "--join", "--no-multicast",
		"--multicast-group", "--multicast-port", "--cluster-name", "--key-file", "--keygen",
		"--gossip-interval", "--zone", "--weight", "239.192.77.77", "7477" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strstr(buf, keys[i]))
			fail_msg("--help lacks %s", keys[i]);
	free(buf);
}

/* SM_MEMBERS (0xE1) is served like SM_STATUS: read-only, bounded reply */
static void test_dispatch_members(void **state)
{
	(void)state;
	struct node_ctx ctx;
	struct sd_req h;
	enum node_bad_reason why;

	memset(&ctx, 0, sizeof(ctx));
	ctx.max_request = 1u << 25;
	memset(&h, 0, sizeof(h));
	h.opcode = SD_OP_SM_MEMBERS;
	h.data_length = 1u << 20;
	assert_int_equal(node_dispatch_check(&ctx, &h, &why), 0);
	h.proto_ver = 2;
	assert_int_equal(node_dispatch_check(&ctx, &h, &why), 0);
	h.proto_ver = 3;
	assert_int_equal(node_dispatch_check(&ctx, &h, &why), SD_RES_VER_MISMATCH);
	assert_int_equal(why, NODE_BAD_VERSION);
	h.proto_ver = 0;
	h.flags = SD_FLAG_CMD_WRITE;
	h.data_length = 16;
	assert_int_equal(node_dispatch_check(&ctx, &h, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_FLAGS);
	h.flags = 0;
	h.data_length = (1u << 25) + 1;
	assert_int_equal(node_dispatch_check(&ctx, &h, &why), SD_RES_INVALID_PARMS);
	assert_int_equal(why, NODE_BAD_OVERSIZE_READ);
	assert_string_equal(sd_opcode_name(SD_OP_SM_MEMBERS), "SM_MEMBERS");
	assert_int_equal(SD_OP_SM_MEMBERS, 0xE1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_id_create_load),
		cmocka_unit_test(test_node_id_corrupt),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_ip_and_sockaddr),
		cmocka_unit_test(test_announce_roundtrip),
		cmocka_unit_test(test_announce_garbage),
		cmocka_unit_test(test_announce_sealed),
		cmocka_unit_test(test_config_flags),
		cmocka_unit_test(test_config_keygen),
		cmocka_unit_test(test_dispatch_members),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

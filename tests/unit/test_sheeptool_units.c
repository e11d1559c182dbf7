/*
 * test_sheeptool_units.c: sheeptool's pure helpers, tools/units.c (size
 * parsing and printing) and tools/json_out.c (the --json writer). The two
 * .c files are included directly: they are linked only into sheeptool, not
 * into a library.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tools/units.c"
#include "tools/json_out.c"

static void parse_ok(const char *s, uint64_t want)
{
	uint64_t v = 12345;

	if (units_parse_size(s, &v) != 0 || v != want)
		fail_msg("'%s': got %llu, want %llu", s, (unsigned long long)v, (unsigned long long)want);
}

static void parse_bad(const char *s, int want)
{
	uint64_t v = 777;

	assert_int_equal(units_parse_size(s, &v), want);
	assert_int_equal(v, 777);           /* untouched on error */
}

static void test_parse_units(void **state)
{
	(void)state;
	parse_ok("0", 0);
	parse_ok("512", 512);
	parse_ok("512B", 512);
	parse_ok("1K", 1024);
	parse_ok("1k", 1024);
	parse_ok("1KiB", 1024);
	parse_ok("4M", 4194304);
	parse_ok("4mib", 4194304);
	parse_ok("10G", UINT64_C(10737418240));
	parse_ok("1T", UINT64_C(1099511627776));
	parse_ok("2TiB", UINT64_C(2199023255552));
	parse_ok("1P", UINT64_C(1125899906842624));
}

static void test_parse_fractions(void **state)
{
	(void)state;
	parse_ok("1.5G", UINT64_C(1610612736));
	parse_ok("0.5K", 512);
	parse_ok("1.25M", 1310720);
	parse_ok("1.", 1);
	parse_bad("1.3K", -EINVAL);         /* 1331.2 bytes */
	parse_bad("2.5", -EINVAL);
	parse_bad("1.0000000001K", -EINVAL);
}

static void test_parse_bad(void **state)
{
	(void)state;
	parse_bad("", -EINVAL);
	parse_bad("abc", -EINVAL);
	parse_bad("12Q", -EINVAL);
	parse_bad("1KB", -EINVAL);          /* ambiguous: refused, not guessed */
	parse_bad("KB", -EINVAL);
	parse_bad("1 M", -EINVAL);
	parse_bad("-1", -EINVAL);
	parse_bad("1e3", -EINVAL);
	parse_bad("1BiB", -EINVAL);
	parse_bad("16E", -ERANGE);
	parse_bad("18446744073709551616", -ERANGE);
	parse_bad("99999999999999999999", -ERANGE);
	parse_bad("18446744073709551616", -ERANGE);
	parse_bad("17179869184G", -ERANGE);
	assert_int_equal(units_parse_size(NULL, &(uint64_t){ 0 }), -EINVAL);
}

static void test_parse_limits(void **state)
{
	(void)state;
	parse_ok("18446744073709551615", UINT64_MAX);
	parse_ok("17179869183G", UINT64_C(18446744072635809792));
	parse_ok("15.5P", UINT64_C(17451448556060672));
	parse_ok("18446744073709551609", UINT64_C(18446744073709551609));
	parse_ok("15.5E", UINT64_C(17870283321406128128));
	parse_ok("15.75E", UINT64_C(18158513697557839872));
	parse_bad("15.999999999E", -EINVAL);   /* not whole bytes */
}

static void test_format(void **state)
{
	char b[UNITS_BUF];

	(void)state;
	assert_string_equal(units_format_size(0, b, sizeof(b)), "0 B");
	assert_string_equal(units_format_size(1023, b, sizeof(b)), "1023 B");
	assert_string_equal(units_format_size(1024, b, sizeof(b)), "1 KiB");
	assert_string_equal(units_format_size(1536, b, sizeof(b)), "1.5 KiB");
	assert_string_equal(units_format_size(20971520, b, sizeof(b)), "20 MiB");
	assert_string_equal(units_format_size(UINT64_C(1610612736), b, sizeof(b)), "1.5 GiB");
	assert_string_equal(units_format_size(UINT64_C(4398046511104), b, sizeof(b)), "4 TiB");
	assert_string_equal(units_format_size(UINT64_MAX, b, sizeof(b)), "16.0 EiB");
}

/* Every exact printed size parses back to the same number. */
static void test_format_parse_roundtrip(void **state)
{
	char b[UNITS_BUF], in[UNITS_BUF + 4];

	(void)state;
	for (int shift = 0; shift < 63; shift++) {
		uint64_t v = UINT64_C(3) << shift, got;
		char *sp;

		units_format_size(v, b, sizeof(b));
		snprintf(in, sizeof(in), "%s", b);
		sp = strchr(in, ' ');
		assert_non_null(sp);
		memmove(sp, sp + 1, strlen(sp));  /* "3 MiB" -> "3MiB" */
		assert_int_equal(units_parse_size(in, &got), 0);
		assert_int_equal(got, v);
	}
}

/* Write with json_out into memory and return the text (static buffer). */
static char json_buf[4096];

static FILE *json_mem(void)
{
	FILE *f = fmemopen(json_buf, sizeof(json_buf), "w");

	assert_non_null(f);
	return f;
}

static void test_json_document(void **state)
{
	struct json_out j;
	FILE *f = json_mem();

	(void)state;
	json_out_init(&j, f);
	json_out_object(&j, NULL);
	json_out_str(&j, "name", "disk1");
	json_out_u64(&j, "size", UINT64_MAX);
	json_out_array(&j, "list");
	json_out_u64(&j, NULL, 1);
	json_out_bool(&j, NULL, 0);
	json_out_null(&j, NULL);
	json_out_object(&j, NULL);
	json_out_close(&j);
	json_out_close(&j);
	json_out_bool(&j, "ok", 1);
	json_out_close(&j);
	assert_int_equal(json_out_end(&j), 0);
	fclose(f);
	assert_string_equal(json_buf, "{\"name\":\"disk1\",\"size\":18446744073709551615,"
			    "\"list\":[1,false,null,{}],\"ok\":true}\n");
}

static void test_json_escapes(void **state)
{
	struct json_out j;
	FILE *f = json_mem();
	/* quote, backslash, newline, control, valid 2-byte and 3-byte UTF-8,
	 * a lone continuation byte, a truncated sequence, an overlong form,
	 * a UTF-16 surrogate encoded in UTF-8 */
	static const char in[] = "q\"b\\n\n\x01\x7f\xc3\xa9\xe2\x82\xac\x80\xe2\x82\xc0\xaf\xed\xa0\x80";

	(void)state;
	json_out_init(&j, f);
	json_out_str(&j, NULL, in);
	assert_int_equal(json_out_end(&j), 0);
	fclose(f);
	assert_string_equal(json_buf, "\"q\\\"b\\\\n\\n\\u0001\\u007f\xc3\xa9\xe2\x82\xac\\u0080"
			    "\\u00e2\\u0082\\u00c0\\u00af\\u00ed\\u00a0\\u0080\"\n");
}

static void test_json_unbalanced(void **state)
{
	struct json_out j;
	FILE *f = json_mem();

	(void)state;
	json_out_init(&j, f);
	json_out_object(&j, NULL);
	assert_int_equal(json_out_end(&j), -1);     /* still open */
	json_out_init(&j, f);
	json_out_close(&j);
	assert_int_equal(json_out_end(&j), -1);     /* closed nothing */
	json_out_init(&j, f);
	for (int i = 0; i < JSON_OUT_DEPTH + 3; i++)
		json_out_array(&j, NULL);
	assert_int_equal(json_out_end(&j), -1);     /* too deep: reported, no overflow */
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_units),
		cmocka_unit_test(test_parse_fractions),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_parse_roundtrip),
		cmocka_unit_test(test_json_document),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_json_unbalanced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

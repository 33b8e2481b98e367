// SPDX-License-Identifier: GPL-2.0
/* Unit tests: agent/json.c (the bounded JSON writer and its escaping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "json.h"

static char buf[4096];

/* Writes {"s": s[0..n)} and returns jb_finish(). */
static long one_string(const char *s, size_t n, size_t cap)
{
	struct jbuf jb;

	jb_init(&jb, buf, cap);
	jb_obj_open(&jb);
	jb_kv_strn(&jb, "s", s, n);
	jb_obj_close(&jb);
	return jb_finish(&jb);
}

/* Parses buf with json-c and returns the decoded "s" member (owned by *obj). */
static const char *decoded(struct json_object **obj, size_t *len)
{
	struct json_object *s;

	*obj = json_tokener_parse(buf);
	assert_non_null(*obj);
	assert_true(json_object_object_get_ex(*obj, "s", &s));
	*len = (size_t)json_object_get_string_len(s);
	return json_object_get_string(s);
}

static void test_object_shapes(void **state)
{
	struct jbuf jb;

	(void)state;
	jb_init(&jb, buf, sizeof(buf));
	jb_obj_open(&jb);
	jb_kv_str(&jb, "a", "x");
	jb_kv_u64(&jb, "b", 18446744073709551615ULL);
	jb_kv_i64(&jb, "c", INT64_MIN);
	jb_kv_i64(&jb, "d", -1);
	jb_kv_bool(&jb, "e", true);
	jb_key(&jb, "f");
	jb_arr_open(&jb);
	jb_u64(&jb, 0);
	jb_str(&jb, "");
	jb_null(&jb);
	jb_obj_open(&jb);
	jb_obj_close(&jb);
	jb_arr_close(&jb);
	jb_key(&jb, "g");
	jb_arr_open(&jb);
	jb_arr_close(&jb);
	jb_obj_close(&jb);
	assert_true(jb_finish(&jb) > 0);
	assert_string_equal(buf,
		"{\"a\":\"x\",\"b\":18446744073709551615,"
		"\"c\":-9223372036854775808,\"d\":-1,\"e\":true,"
		"\"f\":[0,\"\",null,{}],\"g\":[]}");
}

static void test_escapes_quotes_and_controls(void **state)
{
	const char in[] = "q\"b\\n\n r\r t\t \x01\x1f\x7f end";
	struct json_object *obj;
	const char *out;
	size_t len;

	(void)state;
	assert_true(one_string(in, sizeof(in) - 1, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"s\":\"q\\\"b\\\\n\\n r\\r t\\t "
				 "\\u0001\\u001f\\u007f end\"}");
	out = decoded(&obj, &len);
	assert_int_equal(len, sizeof(in) - 1);
	assert_memory_equal(out, in, len);
	json_object_put(obj);
}

static void test_embedded_nul_is_escaped(void **state)
{
	const char in[] = { 'a', '\0', 'b' };

	(void)state;
	assert_true(one_string(in, sizeof(in), sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"s\":\"a\\u0000b\"}");
}

static void test_valid_utf8_kept(void **state)
{
	/* é (2 bytes), € (3 bytes), 😀 (4 bytes) */
	const char in[] = "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	struct json_object *obj;
	const char *out;
	size_t len;

	(void)state;
	assert_true(one_string(in, sizeof(in) - 1, sizeof(buf)) > 0);
	out = decoded(&obj, &len);
	assert_int_equal(len, sizeof(in) - 1);
	assert_memory_equal(out, in, len);
	json_object_put(obj);
}

static void test_invalid_utf8_replaced(void **state)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{ "\xff", "\\ufffd" },			/* never valid */
		{ "\x80", "\\ufffd" },			/* lone continuation */
		{ "\xc3", "\\ufffd" },			/* truncated at the end */
		{ "\xc3(", "\\ufffd(" },		/* bad continuation */
		{ "\xc0\xaf", "\\ufffd\\ufffd" },	/* overlong '/' */
		{ "\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd" }, /* overlong 3 */
		{ "\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd" }, /* surrogate */
		{ "\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd" }, /* > U+10FFFF */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[128];
		struct json_object *obj;

		assert_true(one_string(cases[i].in, strlen(cases[i].in),
				       sizeof(buf)) > 0);
		snprintf(want, sizeof(want), "{\"s\":\"%s\"}", cases[i].want);
		assert_string_equal(buf, want);
		obj = json_tokener_parse(buf);
		assert_non_null(obj);
		json_object_put(obj);
	}
}

static void test_every_byte_gives_valid_json(void **state)
{
	char in[256];
	struct json_object *obj;
	int i;

	(void)state;
	for (i = 0; i < 256; i++)
		in[i] = (char)i;
	assert_true(one_string(in, sizeof(in), sizeof(buf)) > 0);
	obj = json_tokener_parse(buf);
	assert_non_null(obj);
	json_object_put(obj);
	/* the sizing helper covers the worst case */
	assert_true(strlen(buf) <= jb_escaped_max(sizeof(in)) + 6);
}

static void test_overflow_reported_never_overrun(void **state)
{
	char small[16];
	struct jbuf jb;
	size_t cap;

	(void)state;
	for (cap = 0; cap <= sizeof(small); cap++) {
		memset(small, 'Z', sizeof(small));
		jb_init(&jb, small, cap);
		jb_obj_open(&jb);
		jb_kv_str(&jb, "key", "value\x01");
		jb_obj_close(&jb);
		if (cap < 22)
			assert_int_equal(jb_finish(&jb), -1);
		/* nothing written past cap */
		if (cap < sizeof(small))
			assert_int_equal(small[cap], 'Z');
	}
	/* exactly enough room: {"key":"value\u0001"} is 21 bytes + NUL */
	{
		char exact[22];

		jb_init(&jb, exact, sizeof(exact));
		jb_obj_open(&jb);
		jb_kv_str(&jb, "key", "value\x01");
		jb_obj_close(&jb);
		assert_int_equal(jb_finish(&jb), 21);
		jb_init(&jb, exact, sizeof(exact) - 1);
		jb_obj_open(&jb);
		jb_kv_str(&jb, "key", "value\x01");
		jb_obj_close(&jb);
		assert_int_equal(jb_finish(&jb), -1);
	}
}

static void test_misuse_detected(void **state)
{
	struct jbuf jb;
	int i;

	(void)state;
	jb_init(&jb, buf, sizeof(buf));
	jb_obj_open(&jb);
	assert_int_equal(jb_finish(&jb), -1);		/* unclosed */

	jb_init(&jb, buf, sizeof(buf));
	jb_obj_close(&jb);
	assert_int_equal(jb_finish(&jb), -1);		/* close at depth 0 */

	jb_init(&jb, buf, sizeof(buf));
	jb_obj_open(&jb);
	jb_key(&jb, "k");
	jb_obj_close(&jb);
	assert_int_equal(jb_finish(&jb), -1);		/* key without value */

	jb_init(&jb, buf, sizeof(buf));
	for (i = 0; i < JB_MAX_DEPTH + 2; i++)
		jb_arr_open(&jb);
	for (i = 0; i < JB_MAX_DEPTH + 2; i++)
		jb_arr_close(&jb);
	assert_int_equal(jb_finish(&jb), -1);		/* too deep */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_shapes),
		cmocka_unit_test(test_escapes_quotes_and_controls),
		cmocka_unit_test(test_embedded_nul_is_escaped),
		cmocka_unit_test(test_valid_utf8_kept),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_every_byte_gives_valid_json),
		cmocka_unit_test(test_overflow_reported_never_overrun),
		cmocka_unit_test(test_misuse_detected),
	};

	return cmocka_run_group_tests_name("agent json", tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0
/* Unit tests: agent/cmdline.c (kernel command line parameters). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cmdline.h"

static void parse(const char *s, struct agent_cmdline *cfg)
{
	cmdline_parse_agent(s, strlen(s), cfg);
}

static void test_typical_line(void **state)
{
	struct agent_cmdline cfg;

	(void)state;
	parse("console=ttyS0 reboot=t panic=-1 agent.script=/tests/boot.sh "
	      "agent.exec=1 quiet\n", &cfg);
	assert_string_equal(cfg.script, "/tests/boot.sh");
	assert_true(cfg.exec_enabled);
	assert_false(cfg.script_too_long);
}

static void test_absent(void **state)
{
	struct agent_cmdline cfg;

	(void)state;
	parse("console=ttyS0 quiet", &cfg);
	assert_string_equal(cfg.script, "");
	assert_false(cfg.exec_enabled);
	parse("", &cfg);
	assert_string_equal(cfg.script, "");
	assert_false(cfg.exec_enabled);
}

static void test_exec_needs_exactly_1(void **state)
{
	struct agent_cmdline cfg;

	(void)state;
	parse("agent.exec", &cfg);
	assert_false(cfg.exec_enabled);
	parse("agent.exec=0", &cfg);
	assert_false(cfg.exec_enabled);
	parse("agent.exec=yes", &cfg);
	assert_false(cfg.exec_enabled);
	parse("agent.exec=11", &cfg);
	assert_false(cfg.exec_enabled);
	parse("xagent.exec=1 agent.execx=1", &cfg);
	assert_false(cfg.exec_enabled);
	/* last one wins */
	parse("agent.exec=1 agent.exec=0", &cfg);
	assert_false(cfg.exec_enabled);
	parse("agent.exec=0 agent.exec=1", &cfg);
	assert_true(cfg.exec_enabled);
}

static void test_trust_local_needs_exactly_1(void **state)
{
	struct agent_cmdline cfg;

	(void)state;
	parse("agent.exec=1", &cfg);
	assert_false(cfg.trust_local);
	parse("agent.trust_local", &cfg);
	assert_false(cfg.trust_local);
	parse("agent.trust_local=yes agent.trust_localx=1", &cfg);
	assert_false(cfg.trust_local);
	parse("agent.trust_local=1", &cfg);
	assert_true(cfg.trust_local);
	assert_false(cfg.exec_enabled);
	parse("agent.trust_local=1 agent.trust_local=0", &cfg);
	assert_false(cfg.trust_local);
}

static void test_prefix_is_not_a_match(void **state)
{
	struct agent_cmdline cfg;

	(void)state;
	parse("agent.scripts=/a agent.script2=/b", &cfg);
	assert_string_equal(cfg.script, "");
}

static void test_quotes_and_blanks(void **state)
{
	struct agent_cmdline cfg;

	(void)state;
	parse("a=1\tagent.script=\"/tests/with space.sh\"  b=2", &cfg);
	assert_string_equal(cfg.script, "/tests/with space.sh");
	parse("\"agent.script=/q.sh\"", &cfg);
	assert_string_equal(cfg.script, "/q.sh");
	/* an unterminated quote runs to the end */
	parse("agent.script=\"/x y", &cfg);
	assert_string_equal(cfg.script, "/x y");
}

static void test_too_long(void **state)
{
	char line[CMDLINE_VALUE_MAX * 3];
	struct agent_cmdline cfg;
	size_t n;

	(void)state;
	n = (size_t)snprintf(line, sizeof(line), "agent.script=");
	memset(line + n, 'a', CMDLINE_VALUE_MAX);	/* one too many */
	line[n + CMDLINE_VALUE_MAX] = '\0';
	parse(line, &cfg);
	assert_string_equal(cfg.script, "");
	assert_true(cfg.script_too_long);

	/* the longest value that fits */
	line[n + CMDLINE_VALUE_MAX - 1] = '\0';
	parse(line, &cfg);
	assert_int_equal(strlen(cfg.script), CMDLINE_VALUE_MAX - 1);
	assert_false(cfg.script_too_long);

	/* far longer than the word buffer */
	memset(line + n, 'b', sizeof(line) - n - 1);
	line[sizeof(line) - 1] = '\0';
	parse(line, &cfg);
	assert_true(cfg.script_too_long);
}

static void test_get_bare_key_and_no_nul(void **state)
{
	/* the buffer is not NUL-terminated: only n bytes may be read */
	static const char s[] = { 'a', 'g', 'e', 'n', 't', '.', 'x', ' ',
				  'k', '=', 'v' };
	char out[8];

	(void)state;
	assert_int_equal(cmdline_get(s, sizeof(s), "agent.x", out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(cmdline_get(s, sizeof(s), "k", out, sizeof(out)), 1);
	assert_string_equal(out, "v");
	assert_int_equal(cmdline_get(s, sizeof(s), "missing", out, sizeof(out)), 0);
	assert_int_equal(cmdline_get("k=toolong", 9, "k", out, 4), -1);
	assert_int_equal(cmdline_get("k=abc", 5, "k", out, 4), 1);
	assert_string_equal(out, "abc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typical_line),
		cmocka_unit_test(test_absent),
		cmocka_unit_test(test_exec_needs_exactly_1),
		cmocka_unit_test(test_trust_local_needs_exactly_1),
		cmocka_unit_test(test_prefix_is_not_a_match),
		cmocka_unit_test(test_quotes_and_blanks),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_get_bare_key_and_no_nul),
	};

	return cmocka_run_group_tests_name("agent cmdline", tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel command line (/proc/cmdline) parsing. Words are separated by
 * blanks; double quotes group blanks into a word and are removed
 * (`agent.script="/tests/a b.sh"`). When a key appears more than once the
 * last one wins, as with kernel parameters. Pure.
 */
#ifndef AGENT_CMDLINE_H
#define AGENT_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#define CMDLINE_VALUE_MAX 256

/*
 * Looks up key in s[0..n). Returns 1 and copies the value (NUL-terminated,
 * "" for a bare `key`) if found, 0 if absent, -1 if the last occurrence's
 * value does not fit in outsz bytes.
 */
int cmdline_get(const char *s, size_t n, const char *key, char *out,
		size_t outsz);

struct agent_cmdline {
	char script[CMDLINE_VALUE_MAX];	/* agent.script=PATH, "" if none */
	bool exec_enabled;		/* agent.exec=1 */
	bool trust_local;		/* agent.trust_local=1 */
	bool script_too_long;		/* agent.script was given but too long */
};

void cmdline_parse_agent(const char *s, size_t n, struct agent_cmdline *cfg);

#endif

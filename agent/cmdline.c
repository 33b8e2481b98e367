// SPDX-License-Identifier: GPL-2.0
/* Kernel command line parsing; see cmdline.h. */
#include "cmdline.h"

#include <string.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
}

/*
 * Copies the word starting at s[*pos] into word (quotes removed), advancing
 * *pos past it. Returns the word length, or -1 if it does not fit (the
 * word is still skipped).
 */
static long next_word(const char *s, size_t n, size_t *pos, char *word,
		      size_t wsz)
{
	bool quoted = false, fits = true;
	size_t len = 0;

	while (*pos < n && (quoted || !is_blank(s[*pos]))) {
		char c = s[(*pos)++];

		if (c == '"') {
			quoted = !quoted;
			continue;
		}
		if (len + 1 < wsz)
			word[len++] = c;
		else
			fits = false;
	}
	word[len] = '\0';
	return fits ? (long)len : -1;
}

int cmdline_get(const char *s, size_t n, const char *key, char *out,
		size_t outsz)
{
	/* key + '=' + value, plus the NUL */
	char word[CMDLINE_VALUE_MAX * 2];
	size_t klen = strlen(key), pos = 0;
	int found = 0;

	if (outsz == 0)
		return -1;
	while (pos < n) {
		long wlen;

		if (is_blank(s[pos])) {
			pos++;
			continue;
		}
		wlen = next_word(s, n, &pos, word, sizeof(word));
		/* a word too long for the buffer can only be our key's */
		if (wlen < 0) {
			if (strncmp(word, key, klen) == 0 &&
			    word[klen] == '=')
				found = -1;
			continue;
		}
		if (strncmp(word, key, klen) != 0)
			continue;
		if (word[klen] == '\0') {
			out[0] = '\0';
			found = 1;
		} else if (word[klen] == '=') {
			if (strlen(word + klen + 1) + 1 > outsz) {
				found = -1;
				continue;
			}
			strcpy(out, word + klen + 1);
			found = 1;
		}
	}
	return found;
}

void cmdline_parse_agent(const char *s, size_t n, struct agent_cmdline *cfg)
{
	char val[CMDLINE_VALUE_MAX];
	int r;

	memset(cfg, 0, sizeof(*cfg));
	r = cmdline_get(s, n, "agent.script", cfg->script, sizeof(cfg->script));
	if (r < 0) {
		cfg->script[0] = '\0';
		cfg->script_too_long = true;
	}
	r = cmdline_get(s, n, "agent.exec", val, sizeof(val));
	cfg->exec_enabled = r == 1 && strcmp(val, "1") == 0;
	r = cmdline_get(s, n, "agent.trust_local", val, sizeof(val));
	cfg->trust_local = r == 1 && strcmp(val, "1") == 0;
}

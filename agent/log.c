// SPDX-License-Identifier: GPL-2.0
/* Console output; see log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent_proto.h"
#include "fdio.h"

/* a uevent line: escaped fields of up to AGENT_UEVENT_MAX bytes */
static char line[AGENT_UEVENT_MAX * 6 + 256];

/* Console write failures cannot be reported anywhere else: ignore them. */
static void out(const char *s, size_t n)
{
	(void)write_all(STDOUT_FILENO, s, n);
}

void log_errno(const char *what)
{
	int e = errno;
	int n = snprintf(line, sizeof(line), "agent: %s: %s\n", what,
			 strerror(e));

	if (n > 0)
		out(line, (size_t)n < sizeof(line) ? (size_t)n :
			  sizeof(line) - 1);
	errno = e;
}

void log_msg(const char *fmt, ...)
{
	va_list ap;
	int n, m;

	n = snprintf(line, sizeof(line), "agent: ");
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	out(line, (size_t)n);
}

void log_upcall(const char *keyword, const char *json)
{
	size_t kl = strlen(keyword), jl = strlen(json);

	if (7 + kl + 1 + jl + 1 > sizeof(line)) {
		log_msg("%s line too long (%zu bytes), dropped", keyword, jl);
		return;
	}
	memcpy(line, "UPCALL ", 7);
	memcpy(line + 7, keyword, kl);
	line[7 + kl] = ' ';
	memcpy(line + 8 + kl, json, jl);
	line[8 + kl + jl] = '\n';
	out(line, 9 + kl + jl);
}

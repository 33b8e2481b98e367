// SPDX-License-Identifier: GPL-2.0
/* Status service request parsing; see request.h. */
#include "request.h"

#include <string.h>

#include "strutil.h"

static int word_is(const char *line, size_t n, const char *w)
{
	size_t wl = strlen(w);

	return n == wl && memcmp(line, w, wl) == 0;
}

void request_parse(const char *line, size_t n, struct request *req)
{
	memset(req, 0, sizeof(*req));
	n = trim_trailing_space(line, n);
	if (memchr(line, '\0', n)) {
		req->error = "request contains a NUL byte";
		return;
	}
	if (n == 0) {
		req->error = "empty request";
		return;
	}
	if (word_is(line, n, "status")) {
		req->kind = REQ_STATUS;
		return;
	}
	if (word_is(line, n, "reboot")) {
		req->kind = REQ_REBOOT;
		return;
	}
	if (n >= 4 && memcmp(line, "exec", 4) == 0 &&
	    (n == 4 || line[4] == ' ')) {
		size_t i = 4;

		while (i < n && line[i] == ' ')
			i++;
		if (i == n) {
			req->error = "exec: missing command";
			return;
		}
		req->kind = REQ_EXEC;
		req->arg = line + i;
		req->arg_len = n - i;
		return;
	}
	req->error = "unknown request";
}

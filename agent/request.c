// SPDX-License-Identifier: GPL-2.0
/* Status service request parsing; see request.h. */
#include "request.h"

#include <stdio.h>
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

const char *request_refused(enum req_kind kind, unsigned int peer_cid,
			    unsigned int local_cid, bool trust_local,
			    char *buf, size_t cap)
{
	/* VMADDR_CID_ANY (-1U) stands for "unknown", never for a peer */
	bool local = peer_cid == REQ_CID_LOCAL ||
		     (peer_cid == local_cid && local_cid != REQ_CID_ANY);

	if (kind != REQ_REBOOT && kind != REQ_EXEC)
		return NULL;
	if (peer_cid == REQ_CID_HOST || (local && trust_local))
		return NULL;
	snprintf(buf, cap,
		 "exec and reboot are only accepted from the host (CID 2), "
		 "not from CID %u%s", peer_cid,
		 local ? " (guest-local clients need agent.trust_local=1)" : "");
	return buf;
}

// SPDX-License-Identifier: MIT
/*
 * The guest agent's status service: one request line out, one reply line
 * back, then the agent closes. The reply is bounded by the caller's buffer.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

ssize_t upcall_agent_request(struct upcall *h, const char *request,
			     char *out, size_t outsz)
{
	int64_t deadline = uc_deadline(h);
	ssize_t n;
	int err;

	if (!request || !out || outsz < 2)
		return uc_fail(h, -EINVAL, "agent request: bad arguments");
	if (strchr(request, '\n'))
		return uc_fail(h, -EINVAL, "agent request must be one line");
	err = uc_check_usable(h, "agent request");
	if (err)
		return err;
	err = uc_write_all(h, request, strlen(request), deadline, "agent request");
	if (!err)
		err = uc_write_all(h, "\n", 1, deadline, "agent request");
	if (err)
		return uc_break(h, err);
	n = uc_read_line(h, out, outsz, deadline, "agent reply");
	if (n < 0)
		return uc_break(h, (int)n);
	if (n == 0)
		return uc_break(h, uc_fail(h, -ECONNRESET,
					   "agent reply: connection closed without a reply"));
	if (out[n - 1] == '\n')
		out[--n] = '\0';
	h->err[0] = '\0';
	return n;
}

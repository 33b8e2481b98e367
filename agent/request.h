/* SPDX-License-Identifier: GPL-2.0 */
/* Status service requests: one text line each. Pure. */
#ifndef AGENT_REQUEST_H
#define AGENT_REQUEST_H

#include <stddef.h>

enum req_kind {
	REQ_INVALID = 0,
	REQ_STATUS,
	REQ_REBOOT,
	REQ_EXEC,
};

struct request {
	enum req_kind kind;
	const char *arg;	/* exec: the command (points into the line) */
	size_t arg_len;
	const char *error;	/* REQ_INVALID: why */
};

/*
 * Parses one request line (without its '\n'; a trailing '\r' and blanks
 * are ignored). "status", "reboot", "exec <command>".
 */
void request_parse(const char *line, size_t n, struct request *req);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* Status service requests: one text line each, and who may make them. Pure. */
#ifndef AGENT_REQUEST_H
#define AGENT_REQUEST_H

#include <stdbool.h>
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

/* vsock CIDs (linux/vm_sockets.h), spelled out to keep this file pure */
#define REQ_CID_LOCAL 1u	/* VMADDR_CID_LOCAL: loopback */
#define REQ_CID_HOST 2u		/* VMADDR_CID_HOST */
#define REQ_CID_ANY 0xffffffffu	/* VMADDR_CID_ANY: unknown */

/*
 * Whether the peer at vsock CID peer_cid may make a request of this kind.
 * reboot and exec are for the host (CID 2) alone: only the host can
 * connect from CID 2, since a guest cannot bind to another CID than its
 * own. Guest-local peers (CID 1, or local_cid: the guest's own CID, the
 * local end of the connection) are admitted too when trust_local is set
 * (agent.trust_local=1, test guests). Every peer may ask for the status.
 *
 * Returns NULL if allowed, else the refusal message, written into buf
 * (cap bytes; a message that does not fit is cut).
 */
const char *request_refused(enum req_kind kind, unsigned int peer_cid,
			    unsigned int local_cid, bool trust_local,
			    char *buf, size_t cap);

#endif

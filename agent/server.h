/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vsock status service (port AGENT_STATUS_PORT): one request line per
 * connection, one JSON reply line, then close (docs/agent.md). Every client
 * is a small state machine in the loop with a deadline in each state, so a
 * silent or slow peer never holds up PID 1, and an exec request runs while
 * others are served.
 */
#ifndef AGENT_SERVER_H
#define AGENT_SERVER_H

#include <stdbool.h>

#include "exec.h"
#include "loop.h"

struct server_config {
	bool exec_enabled;		/* agent.exec=1 */
	bool trust_local;		/* agent.trust_local=1 */
	const struct exec_limits *exec_limits;
	/* `reboot`: called once the reply is out (or the client is gone) */
	void (*reboot)(void);
};

/*
 * Listens on vsock port AGENT_STATUS_PORT (VMADDR_CID_ANY). cfg must
 * outlive the server. 0, or -1 (reported on the console).
 */
int server_init(struct loop *l, const struct server_config *cfg);

#endif

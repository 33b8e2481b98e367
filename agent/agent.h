/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What main.c ties together: the parts that came up (reported in READY)
 * and the system setup PID 1 does before its loop starts. Dependencies
 * point one way: main -> {setup, server, script, shutdown, uevent_sock}
 * -> {exec, children} -> loop; nothing below calls back up except through
 * the callbacks it was given.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stdbool.h>

#include "agent_proto.h"
#include "cmdline.h"

struct agent {
	struct agent_cmdline cfg;
	/* what came up (reported in READY) */
	bool mounts_ok, console_ok, uevents_ok, vsock_ok, children_ok;
};

/* setup.c: mounts, console, environment */
void setup_mounts(struct agent *ag);
void setup_console(struct agent *ag);
void setup_environment(void);

/* status.c: the READY line */
void ready_announce(const struct agent *ag);

#endif

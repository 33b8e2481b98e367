/* SPDX-License-Identifier: GPL-2.0 */
/* agent.script=PATH: "/bin/sh PATH" on the console, then UPCALL SCRIPT-EXIT. */
#ifndef AGENT_SCRIPT_H
#define AGENT_SCRIPT_H

#include "cmdline.h"

/*
 * Starts the script cfg names (nothing if none; a path that was too long is
 * reported). cfg must outlive the script. Needs children_init() first.
 */
void script_start(const struct agent_cmdline *cfg);

#endif

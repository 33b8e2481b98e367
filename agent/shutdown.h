/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shutting the guest down as an init does: every other process gets
 * SIGTERM, then (after a grace period, or as soon as none is left) SIGKILL;
 * then sync() and reboot(2). Requests come from the signals busybox's
 * halt, poweroff and reboot send to PID 1 when run without -f (SIGUSR1,
 * SIGUSR2, SIGTERM: init/halt.c of busybox 1.35), and from the status
 * service's `reboot`. Only PID 1 ever runs the sequence.
 */
#ifndef AGENT_SHUTDOWN_H
#define AGENT_SHUTDOWN_H

#include "loop.h"

enum shutdown_how {
	SHUTDOWN_HALT,		/* reboot(RB_HALT_SYSTEM): the guest stops */
	SHUTDOWN_POWEROFF,	/* RB_POWER_OFF, or a reset without ACPI */
	SHUTDOWN_REBOOT,	/* RB_AUTOBOOT: -no-reboot ends QEMU */
};

/*
 * Blocks SIGTERM, SIGUSR1 and SIGUSR2 and watches them through a signalfd
 * in l. 0, or -1 (reported on the console).
 */
int shutdown_init(struct loop *l);

/* Starts the sequence; a request while one runs is reported and ignored. */
void shutdown_start(enum shutdown_how how);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * upcall-ctl: one transaction per VM at a time. Two runs against the same
 * VM must not interleave their QMP and upcall steps (both could pick the
 * same slot, or one could roll back a vCPU the other just gave the guest),
 * so each run holds flock()s on files next to the VM's sockets for its
 * whole transaction: <QMP socket>.lock and <hybrid vsock socket>.lock,
 * always in that order.
 */
#ifndef UPCALL_CTL_LOCK_H
#define UPCALL_CTL_LOCK_H

#include "ctl.h"

struct ctl_lock {
	int fd[2];
	unsigned int n;
};

/* Default of --lock-wait: longer than one default transaction. */
#define CTL_LOCK_WAIT_MS 30000

/* Take the locks of the VM the options name (none with --no-lock, or
 * with only --cid), waiting up to c->lock_wait_ms, and defer SIGINT,
 * SIGTERM and SIGHUP until ctl_unlock_vm() (interrupt.h). On failure
 * nothing is held and st says why (CTL_ECONN: EBUSY after the wait, or
 * the errno of a lock file that cannot be opened; CTL_EXIT_SIGNAL(sig):
 * a signal came while waiting) and the signals are back to normal. */
int ctl_lock_vm(struct ctl *c, struct ctl_lock *lk, struct ctl_status *st);
void ctl_unlock_vm(struct ctl_lock *lk);

#endif /* UPCALL_CTL_LOCK_H */

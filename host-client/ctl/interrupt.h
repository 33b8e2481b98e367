/* SPDX-License-Identifier: MIT */
/*
 * upcall-ctl: what SIGINT, SIGTERM and SIGHUP do to a transaction.
 *
 * Killing a run between QEMU's device_add and the guest's answer would
 * leave a device in QEMU that nobody reports (or a vCPU the guest runs on
 * that nobody names). So while a run holds the VM (lock.c takes and gives
 * back the deferral with the lock), the first of those signals is only
 * noted: the step in flight finishes (every wait is bounded by --timeout),
 * the run stops at the next safe point, undoes what the guest was never
 * told about, reports everything as usual (--json included) and exits
 * with 128 + the signal's number. A second signal ends the run at once
 * with the default action (SA_RESETHAND), as a user pressing ^C twice
 * expects.
 */
#ifndef UPCALL_CTL_INTERRUPT_H
#define UPCALL_CTL_INTERRUPT_H

#include "ctl.h"

/* Exit status of a run stopped by signal sig: the shell's convention. */
#define CTL_EXIT_SIGNAL(sig) (128 + (sig))

/* Start deferring the signals above. 0, or -errno from sigaction(). */
int ctl_interrupt_defer(void);

/* Give the signals back their previous actions. A signal noted stays
 * noted (ctl_interrupted() still reports it). */
void ctl_interrupt_restore(void);

/* The signal noted since ctl_interrupt_defer(), or 0. */
int ctl_interrupted(void);

/* Record in st that the run stopped at a safe point because of the noted
 * signal: code CTL_EXIT_SIGNAL(sig), errno EINTR, the message "SIGxxx:
 * " followed by fmt. Returns the code (or st's earlier code: the first
 * failure stays the cause). Call only when ctl_interrupted() != 0. */
int ctl_interrupt_fail(struct ctl_status *st, const char *fmt, ...) CTL_PRINTF(2, 3);

#endif /* UPCALL_CTL_INTERRUPT_H */

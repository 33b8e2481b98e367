/* SPDX-License-Identifier: MIT */
/* upcall-ctl cpu: carry a plan out against QEMU (QMP) and the guest. */
#ifndef UPCALL_CTL_CPU_EXEC_H
#define UPCALL_CTL_CPU_EXEC_H

#include "cpu-outcome.h"

/*
 * Run 'cpu add|del' as a says: with --qmp, list QEMU's vCPU slots, plan
 * (cpu-plan.h), device_add, ADD_CPU/DEL_CPU, device_del what the plan's
 * fates say; without, only the guest request. Fills *o (nothing is
 * printed except -v progress) and returns o->status.code.
 */
int cpu_execute(struct ctl *c, const struct cpu_args *a, struct cpu_outcome *o);

#endif /* UPCALL_CTL_CPU_EXEC_H */

/* SPDX-License-Identifier: MIT */
/* upcall-ctl cpu: print an outcome, as text or into the JSON document. */
#ifndef UPCALL_CTL_CPU_PRESENT_H
#define UPCALL_CTL_CPU_PRESENT_H

#include "cpu-outcome.h"

/* Print o (stdout/stderr, or c->result with --json). usage goes with a
 * usage error. Returns o->status.code. */
int cpu_present(struct ctl *c, const struct cpu_outcome *o, const char *usage);

#endif /* UPCALL_CTL_CPU_PRESENT_H */

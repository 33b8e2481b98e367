/* SPDX-License-Identifier: MIT */
/*
 * upcall-ctl cpu: what a run did, filled by cpu-exec.c and printed by
 * cpu-present.c (text or JSON). Plain data: no handles, no JSON objects.
 */
#ifndef UPCALL_CTL_CPU_OUTCOME_H
#define UPCALL_CTL_CPU_OUTCOME_H

#include "cpu-plan.h"
#include "ctl.h"

#define CPU_OUTCOME_WARNINGS 16

struct cpu_outcome {
	bool add;
	bool qemu;
	bool planned;           /* plan below is valid */
	struct cpu_plan plan;   /* items and offers, with their fates */
	/* add: items [0, nreached) are in QEMU (created or kept); ADD_CPU of
	 * the batch was sent (sent). del: at least one DEL_CPU was sent. */
	unsigned int nreached;
	bool sent;
	bool offered;           /* add: kept vCPUs were offered */
	bool have_reply;        /* the guest's last reply */
	struct upcall_reply reply;
	struct ctl_status status; /* the first failure; code CTL_OK if none */
	char warnings[CPU_OUTCOME_WARNINGS][512];
	unsigned int nwarnings;
};

#endif /* UPCALL_CTL_CPU_OUTCOME_H */

/* SPDX-License-Identifier: MIT */
/* upcall-ctl cpu: what cpu.c (command line, guest only) and cpu-qemu.c
 * (vCPUs created and removed through QMP) share. */
#ifndef UPCALL_CTL_CPU_H
#define UPCALL_CTL_CPU_H

#include "ctl.h"
#include "vcpu.h"

struct cpu_args {
	bool add;
	unsigned int count;
	uint8_t ids[UPCALL_MAX_CPU_BATCH];
	unsigned int n_ids;
	int unplug_wait_ms;
};


json_object *cpu_ids_json(const uint8_t *ids, unsigned int n);
/* The guest's reply as "guest": {"ret", "apic_index"} in the JSON. */
void cpu_reply_json(struct ctl *c, const struct upcall_reply *r);
/* How many of the batch the guest handled, or -1 if it did not say. */
long cpu_guest_done(const struct upcall_reply *r, unsigned int n);

/* Connect to QMP and list the vCPU slots; errors reported (CTL_EVMM). */
int cpu_open_qmp(struct ctl *c, struct qmp **q, struct vcpu_list *l);
int cpu_qemu_add(struct ctl *c, struct cpu_args *a, struct qmp *q,
		 struct vcpu_list *l);
int cpu_qemu_del(struct ctl *c, struct cpu_args *a, struct qmp *q,
		 struct vcpu_list *l);

#endif /* UPCALL_CTL_CPU_H */

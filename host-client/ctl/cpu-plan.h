/* SPDX-License-Identifier: MIT */
/*
 * upcall-ctl cpu: the decisions, as pure functions of their inputs (the
 * command line, QEMU's vCPU slots, the guest's replies). Which slots and
 * APIC IDs a command uses, what the guest's answer makes of each vCPU, and
 * so what must be rolled back. No I/O: cpu-exec.c carries a plan out and
 * cpu-present.c prints the result; tests/unit/host-client/test_plan.c
 * drives these with tables.
 */
#ifndef UPCALL_CTL_CPU_PLAN_H
#define UPCALL_CTL_CPU_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "upcall.h"
#include "vcpu.h"

/* The command line of 'cpu add|del'. */
struct cpu_args {
	bool add;
	unsigned int count;          /* COUNT when no APIC IDs are given */
	uint8_t ids[UPCALL_MAX_CPU_BATCH];
	unsigned int n_ids;          /* --apic-id list */
	int unplug_wait_ms;
};

/* What one vCPU of a command became. */
enum cpu_fate {
	CPU_FATE_NONE = 0,   /* not reached, or not asked (yet) */
	CPU_FATE_ADDED,      /* add: the guest took it */
	CPU_FATE_ROLLBACK,   /* add: created by this run and provably unused by
			      * the guest: to be removed from QEMU */
	CPU_FATE_NOT_TAKEN,  /* add: QEMU already had it, the guest did not
			      * take it (or gave it back): left as it was */
	CPU_FATE_RELEASED,   /* del: the guest let it go: to be removed */
	CPU_FATE_REFUSED,    /* del: the guest kept it */
	CPU_FATE_UNKNOWN,    /* the guest may or may not run on it (no reply,
			      * or a refusal without a trusted apic_index):
			      * left in QEMU and reported */
	CPU_FATE_ABSENT,     /* del: the guest has no such CPU (-ENODEV for
			      * it alone: released earlier, QEMU kept it):
			      * skipped, nothing to remove */
	CPU_FATE_GIVEN_BACK, /* add: a kept vCPU the guest took, then released
			      * again because the request could not be met
			      * in full: left in QEMU as it was, reported */
};

/* What QEMU did when asked to remove a vCPU. */
enum cpu_unplug {
	CPU_UNPLUG_NONE = 0, /* not asked */
	CPU_UNPLUG_DONE,     /* device_del accepted, DEVICE_DELETED seen */
	CPU_UNPLUG_PENDING,  /* device_del accepted, no DEVICE_DELETED in time */
	CPU_UNPLUG_FAILED,   /* device_del refused (pc, ACPI-free guest) */
};

struct cpu_item {
	/* plan */
	size_t slot;             /* index in the slot list (with QEMU) */
	uint8_t apic_id;         /* sent to the guest; after device_add, the
				  * value QEMU reports */
	bool create;             /* add: needs device_add (QEMU lacks it) */
	enum cpu_fate fate;
	int err;                 /* REFUSED/ABSENT: the guest's errno (> 0) */
	/* execution (filled by cpu-exec.c) */
	bool created;            /* device_add succeeded in this run */
	char device[64];         /* QEMU device name, "" without QEMU */
	enum cpu_unplug unplug;
};

struct cpu_plan {
	bool add;
	bool qemu;               /* vCPUs are created/removed through QMP */
	bool explicit_ids;       /* --apic-id: no second choice on refusal */
	long boot_apic;          /* del with QEMU: never removed, -1 unknown */
	/* add: the one ADD_CPU batch. del: the candidates, in the order they
	 * are asked; DEL_CPU batches walk them until want are released. */
	struct cpu_item item[UPCALL_MAX_CPU_BATCH];
	unsigned int n;
	unsigned int want;
	unsigned int next;       /* del: first candidate not asked yet */
	bool stop;               /* del: no further batch */
	bool singly;             /* del: a batch was refused as a whole: ask
				  * the rest one APIC ID at a time */
	/* add COUNT with fewer free slots than COUNT: hot-added vCPUs QEMU
	 * kept after 'cpu del' (pc cannot unplug them from an ACPI-free
	 * guest), offered to the guest alone, highest APIC ID first, until
	 * need of them are taken. */
	struct cpu_item offer[UPCALL_MAX_CPU_BATCH];
	unsigned int noffer;
	unsigned int need;
};

/* Why no plan could be made: an upcall-ctl exit code (ctl.h), a positive
 * errno and the message. */
struct cpu_plan_error {
	int code;
	int err;
	char msg[256];
};

/*
 * Plan 'cpu add|del' from the command line and, with QEMU (slots != NULL),
 * QEMU's vCPU slots (only apic_id, plugged and hotplugged are read).
 * Returns 0, or the exit code also left in *e.
 *   add --apic-id: each ID's free or hot-added slot, in the given order.
 *   add COUNT: the lowest free slots; if too few, kept vCPUs to offer.
 *   del --apic-id: those vCPUs; never the boot CPU (the lowest APIC ID
 *     among the vCPUs QEMU started with).
 *   del COUNT: every hot-added vCPU but the boot CPU, highest first.
 * Without QEMU only --apic-id is possible and the IDs go as they are.
 */
int cpu_plan_make(const struct cpu_args *a, const struct vcpu_slot *slots,
		  size_t nslots, bool qemu, struct cpu_plan *p,
		  struct cpu_plan_error *e);

/* A guest's answer to one ADD_CPU or DEL_CPU. replied is false when no
 * valid reply came (timeout, I/O error, malformed reply): the guest may
 * have acted on the request or not. */
struct cpu_answer {
	bool replied;
	struct upcall_reply r;
};

/* How many of a batch of n the guest handled: n on success, the trusted
 * apic_index of a refusal, or -1 when unknown. */
long cpu_answer_done(const struct cpu_answer *a, unsigned int n);

/*
 * add: the fates of the batch after the guest's answer to its ADD_CPU.
 * Success: all ADDED. A refusal with a trusted apic_index k: the first k
 * ADDED, the rest ROLLBACK if this run created them, else NOT_TAKEN.
 * No reply, or a refusal with an unknown index: all UNKNOWN; nothing is
 * rolled back, since the guest may run on any of them.
 */
void cpu_plan_add_answer(struct cpu_plan *p, const struct cpu_answer *a);

/* add: the guest was never told (a device_add failed): every vCPU this
 * run created (item.created) is ROLLBACK, the others stay NONE. */
void cpu_plan_add_not_sent(struct cpu_plan *p);

/* add: index into offer[] of the next kept vCPU to offer, or -1 when
 * need are taken or none is left. */
int cpu_plan_next_offer(const struct cpu_plan *p);
/* add: the guest's answer to offer[i] alone: ADDED on success, UNKNOWN
 * without a reply, NOT_TAKEN on a refusal (QEMU keeps it either way). */
void cpu_plan_offer_answer(struct cpu_plan *p, unsigned int i,
			   const struct cpu_answer *a);
/* add: how many offered vCPUs the guest took (fate ADDED). */
unsigned int cpu_plan_offers_taken(const struct cpu_plan *p);
/* add: the offers were not enough: the taken ones were given back with
 * one DEL_CPU, and this is its answer. Those the guest released are
 * NOT_TAKEN again; the rest keep ADDED (refused) or become UNKNOWN. */
void cpu_plan_giveback_answer(struct cpu_plan *p, const struct cpu_answer *a);

/* del: the next DEL_CPU batch, item[*first .. *first + *count), or false
 * when want are released, the candidates are used up or a step stopped. */
bool cpu_plan_del_next(const struct cpu_plan *p, unsigned int *first,
		       unsigned int *count);
/*
 * del: the guest's answer to the batch [first, first + count). Success:
 * all RELEASED. A refusal with a trusted index k > 0: the first k
 * RELEASED, item first + k refused, and (COUNT only) the next batch goes
 * on after it. A refusal with index 0 of a batch of more than one: the
 * guest validates DEL_CPU as a whole and refused all of it without saying
 * which ID it objects to (docs/kernel.md), so nothing is attributed and
 * every later batch holds one APIC ID (singly), starting again at first:
 * a lone ID's refusal names its culprit. A refused item is ABSENT when
 * the errno is ENODEV (the guest does not have that CPU: skipped in
 * COUNT mode), REFUSED otherwise; its errno goes to item.err. With
 * --apic-id the first refusal stops. No reply, or an unknown index: the
 * batch is UNKNOWN (the guest may have released some of it) and nothing
 * further is asked.
 */
void cpu_plan_del_answer(struct cpu_plan *p, unsigned int first,
			 unsigned int count, const struct cpu_answer *a);

/* Number of items (batch or offers) with this fate. */
unsigned int cpu_plan_count(const struct cpu_plan *p, enum cpu_fate fate);

#endif /* UPCALL_CTL_CPU_PLAN_H */

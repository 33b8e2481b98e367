// SPDX-License-Identifier: MIT
/*
 * upcall-ctl cpu: the planner. Pure: the same inputs give the same plan
 * and the same fates, with no QEMU and no guest behind it (see
 * cpu-plan.h for the rules, tests/unit/host-client/test_plan.c for them
 * as tables).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu-plan.h"
#include "ctl.h"

#define PLAN_MAX_SLOTS 1024

static int plan_fail(struct cpu_plan_error *e, int code, int err,
		     const char *fmt, ...) CTL_PRINTF(4, 5);

static int plan_fail(struct cpu_plan_error *e, int code, int err,
		     const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	e->err = err;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

static bool byte_apic(long apic)
{
	return apic >= 0 && apic <= 255;
}

/* Order slot indices by APIC ID; ties keep QEMU's order. */
static int cmp_apic(const void *x, const void *y, void *arg)
{
	const struct vcpu_slot *s = arg;
	size_t a = *(const size_t *)x, b = *(const size_t *)y;

	if (s[a].apic_id != s[b].apic_id)
		return s[a].apic_id < s[b].apic_id ? -1 : 1;
	return a < b ? -1 : a > b;
}

static void sort_by_apic(const struct vcpu_slot *s, size_t *idx, size_t n,
			 bool descending)
{
	qsort_r(idx, n, sizeof(idx[0]), cmp_apic, (void *)s);
	if (!descending)
		return;
	for (size_t i = 0; i < n / 2; i++) {
		size_t t = idx[i];

		idx[i] = idx[n - 1 - i];
		idx[n - 1 - i] = t;
	}
}

static void set_item(struct cpu_item *it, size_t slot, long apic, bool create)
{
	memset(it, 0, sizeof(*it));
	it->slot = slot;
	it->apic_id = (uint8_t)apic;
	it->create = create;
}

/* 1 if apic is the boot CPU (the lowest APIC ID among the vCPUs QEMU
 * started with), 2 if another vCPU QEMU started with, else 0. */
static int boot_or_cold(const struct vcpu_slot *s, size_t ns, long apic)
{
	long boot = -1;
	bool cold = false;

	for (size_t j = 0; j < ns; j++) {
		if (!s[j].plugged || s[j].hotplugged)
			continue;
		if (boot < 0 || s[j].apic_id < boot)
			boot = s[j].apic_id;
		cold |= s[j].apic_id == apic;
	}
	return !cold ? 0 : apic == boot ? 1 : 2;
}

static int plan_add(const struct cpu_args *a, const struct vcpu_slot *s,
		    size_t ns, struct cpu_plan *p, struct cpu_plan_error *e)
{
	size_t free_idx[PLAN_MAX_SLOTS], kept_idx[PLAN_MAX_SLOTS];
	unsigned int nfree = 0, nkept = 0, take;

	if (a->n_ids) {
		for (unsigned int i = 0; i < a->n_ids; i++) {
			size_t j;

			for (j = 0; j < ns; j++)
				if (s[j].apic_id == a->ids[i] &&
				    (!s[j].plugged || s[j].hotplugged))
					break;
			if (j == ns && boot_or_cold(s, ns, a->ids[i]) == 1)
				return plan_fail(e, CTL_EVMM, EEXIST,
						 "APIC ID %u is the boot CPU: the guest already runs on it",
						 a->ids[i]);
			if (j == ns && boot_or_cold(s, ns, a->ids[i]) == 2)
				return plan_fail(e, CTL_EVMM, EEXIST,
						 "APIC ID %u is a vCPU QEMU started with: the guest already has it",
						 a->ids[i]);
			if (j == ns)
				return plan_fail(e, CTL_EVMM, ENOENT,
						 "no free or hot-added vCPU slot with APIC ID %u",
						 a->ids[i]);
			/* A hot-added vCPU QEMU kept after 'cpu del' is only
			 * announced again. */
			set_item(&p->item[p->n++], j, a->ids[i], !s[j].plugged);
		}
		p->want = p->n;
		return CTL_OK;
	}
	for (size_t j = 0; j < ns; j++) {
		if (!byte_apic(s[j].apic_id))
			continue;
		if (!s[j].plugged && nfree < PLAN_MAX_SLOTS)
			free_idx[nfree++] = j;
		else if (s[j].hotplugged && nkept < PLAN_MAX_SLOTS)
			kept_idx[nkept++] = j;
	}
	sort_by_apic(s, free_idx, nfree, false);
	/* 'cpu del' takes the highest first: offer those first. */
	sort_by_apic(s, kept_idx, nkept, true);
	if (nfree < a->count && nfree + nkept < a->count)
		return plan_fail(e, CTL_EVMM, ENOSPC,
				 "asked for %u vCPU(s) but QEMU has %u free slot(s)",
				 a->count, nfree);
	take = nfree < a->count ? nfree : a->count;
	for (unsigned int i = 0; i < take; i++)
		set_item(&p->item[p->n++], free_idx[i], s[free_idx[i]].apic_id, true);
	p->need = a->count - take;
	if (p->need)
		for (unsigned int i = 0; i < nkept && p->noffer < UPCALL_MAX_CPU_BATCH; i++)
			set_item(&p->offer[p->noffer++], kept_idx[i],
				 s[kept_idx[i]].apic_id, false);
	p->want = a->count;
	return CTL_OK;
}

static int plan_del(const struct cpu_args *a, const struct vcpu_slot *s,
		    size_t ns, struct cpu_plan *p, struct cpu_plan_error *e)
{
	size_t hot[PLAN_MAX_SLOTS];
	unsigned int nhot = 0;

	/* The boot CPU: the lowest APIC ID among vCPUs not hot-added. */
	for (size_t j = 0; j < ns; j++)
		if (s[j].plugged && !s[j].hotplugged &&
		    (p->boot_apic < 0 || s[j].apic_id < p->boot_apic))
			p->boot_apic = s[j].apic_id;
	if (a->n_ids) {
		for (unsigned int i = 0; i < a->n_ids; i++) {
			size_t j;

			if (a->ids[i] == p->boot_apic)
				return plan_fail(e, CTL_EGUEST, EPERM,
						 "APIC ID %u is the boot CPU: it cannot be removed",
						 a->ids[i]);
			for (j = 0; j < ns; j++)
				if (s[j].plugged && s[j].apic_id == a->ids[i])
					break;
			if (j == ns)
				return plan_fail(e, CTL_EVMM, ENOENT,
						 "QEMU has no vCPU with APIC ID %u", a->ids[i]);
			set_item(&p->item[p->n++], j, a->ids[i], false);
		}
		p->want = p->n;
		return CTL_OK;
	}
	for (size_t j = 0; j < ns && nhot < PLAN_MAX_SLOTS; j++)
		if (s[j].plugged && s[j].hotplugged && s[j].apic_id != p->boot_apic &&
		    byte_apic(s[j].apic_id))
			hot[nhot++] = j;
	if (nhot < a->count)
		return plan_fail(e, CTL_EVMM, ENOENT,
				 "asked to remove %u vCPU(s) but only %u were hot-added",
				 a->count, nhot);
	sort_by_apic(s, hot, nhot, true);
	/* All candidates, highest first: DEL_CPU batches ask COUNT of them
	 * and go on past the ones the guest refuses. */
	for (unsigned int i = 0; i < nhot && p->n < UPCALL_MAX_CPU_BATCH; i++)
		set_item(&p->item[p->n++], hot[i], s[hot[i]].apic_id, false);
	p->want = a->count;
	return CTL_OK;
}

int cpu_plan_make(const struct cpu_args *a, const struct vcpu_slot *slots,
		  size_t nslots, bool qemu, struct cpu_plan *p,
		  struct cpu_plan_error *e)
{
	memset(p, 0, sizeof(*p));
	memset(e, 0, sizeof(*e));
	p->add = a->add;
	p->qemu = qemu;
	p->explicit_ids = a->n_ids > 0;
	p->boot_apic = -1;
	if (!qemu) {
		if (!a->n_ids)
			return plan_fail(e, CTL_EUSAGE, EINVAL,
					 "without --qmp give the vCPUs' APIC IDs (--apic-id): "
					 "COUNT needs QEMU to create or pick them");
		for (unsigned int i = 0; i < a->n_ids; i++)
			set_item(&p->item[p->n++], 0, a->ids[i], false);
		p->want = p->n;
		return CTL_OK;
	}
	return a->add ? plan_add(a, slots, nslots, p, e) :
			plan_del(a, slots, nslots, p, e);
}

long cpu_answer_done(const struct cpu_answer *a, unsigned int n)
{
	if (!a->replied)
		return -1;
	if (a->r.ret == 0)
		return n;
	return a->r.has_apic_index && a->r.apic_index < n ? (long)a->r.apic_index : -1;
}

void cpu_plan_add_answer(struct cpu_plan *p, const struct cpu_answer *a)
{
	long done = cpu_answer_done(a, p->n);

	for (unsigned int i = 0; i < p->n; i++) {
		struct cpu_item *it = &p->item[i];

		if (done < 0)
			it->fate = CPU_FATE_UNKNOWN;
		else if (i < (unsigned long)done)
			it->fate = CPU_FATE_ADDED;
		else
			it->fate = it->create ? CPU_FATE_ROLLBACK : CPU_FATE_NOT_TAKEN;
	}
}

void cpu_plan_add_not_sent(struct cpu_plan *p)
{
	for (unsigned int i = 0; i < p->n; i++)
		p->item[i].fate = p->item[i].created ? CPU_FATE_ROLLBACK : CPU_FATE_NONE;
}

unsigned int cpu_plan_offers_taken(const struct cpu_plan *p)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < p->noffer; i++)
		k += p->offer[i].fate == CPU_FATE_ADDED;
	return k;
}

int cpu_plan_next_offer(const struct cpu_plan *p)
{
	if (cpu_plan_offers_taken(p) >= p->need)
		return -1;
	for (unsigned int i = 0; i < p->noffer; i++) {
		if (p->offer[i].fate == CPU_FATE_UNKNOWN)
			return -1; /* no reply: stop talking to the guest */
		if (p->offer[i].fate == CPU_FATE_NONE)
			return (int)i;
	}
	return -1;
}

void cpu_plan_offer_answer(struct cpu_plan *p, unsigned int i,
			   const struct cpu_answer *a)
{
	if (i >= p->noffer)
		return;
	if (!a->replied)
		p->offer[i].fate = CPU_FATE_UNKNOWN;
	else
		p->offer[i].fate = a->r.ret == 0 ? CPU_FATE_ADDED : CPU_FATE_NOT_TAKEN;
}

void cpu_plan_giveback_answer(struct cpu_plan *p, const struct cpu_answer *a)
{
	unsigned int k = 0, taken = cpu_plan_offers_taken(p);
	long done = cpu_answer_done(a, taken);

	/* The DEL_CPU listed the taken offers in offer[] order. */
	for (unsigned int i = 0; i < p->noffer; i++) {
		struct cpu_item *it = &p->offer[i];

		if (it->fate != CPU_FATE_ADDED)
			continue;
		if (done < 0)
			it->fate = CPU_FATE_UNKNOWN;
		else if (k < (unsigned long)done)
			it->fate = CPU_FATE_GIVEN_BACK;
		k++;
	}
}

bool cpu_plan_del_next(const struct cpu_plan *p, unsigned int *first,
		       unsigned int *count)
{
	unsigned int released = cpu_plan_count(p, CPU_FATE_RELEASED), left;

	if (p->stop || released >= p->want || p->next >= p->n)
		return false;
	left = p->singly ? 1 : p->want - released;
	*first = p->next;
	*count = left < p->n - p->next ? left : p->n - p->next;
	return true;
}

void cpu_plan_del_answer(struct cpu_plan *p, unsigned int first,
			 unsigned int count, const struct cpu_answer *a)
{
	long done = cpu_answer_done(a, count);
	struct cpu_item *it;

	if (first >= p->n || count == 0 || count > p->n - first)
		return;
	if (done < 0) {
		for (unsigned int i = first; i < first + count; i++)
			p->item[i].fate = CPU_FATE_UNKNOWN;
		p->next = first + count;
		p->stop = true;
		return;
	}
	if (done == 0 && count > 1) {
		/* Refused as a whole: which ID is unknown. Ask them singly. */
		p->singly = true;
		p->next = first;
		return;
	}
	for (unsigned int i = first; i < first + (unsigned int)done; i++)
		p->item[i].fate = CPU_FATE_RELEASED;
	if ((unsigned int)done == count) {
		p->next = first + count;
		return;
	}
	it = &p->item[first + done];
	it->err = a->r.ret < 0 ? -a->r.ret : a->r.ret;
	it->fate = it->err == ENODEV ? CPU_FATE_ABSENT : CPU_FATE_REFUSED;
	p->next = first + (unsigned int)done + 1;
	if (p->explicit_ids)
		p->stop = true;
}

unsigned int cpu_plan_count(const struct cpu_plan *p, enum cpu_fate fate)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < p->n; i++)
		k += p->item[i].fate == fate;
	for (unsigned int i = 0; i < p->noffer; i++)
		k += p->offer[i].fate == fate;
	return k;
}

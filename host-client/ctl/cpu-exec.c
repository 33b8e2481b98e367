// SPDX-License-Identifier: MIT
/*
 * upcall-ctl cpu: the executor. It talks to QEMU (QMP) and the guest
 * (libupcall) in the order a plan needs, feeds each answer back to the
 * planner (cpu-plan.c decides what it means) and records everything in an
 * outcome. It prints nothing but -v progress: cpu-present.c does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cpu-exec.h"
#include "held.h"
#include "interrupt.h"
#include "qmp.h"
#include "vcpu.h"

static void warn(struct cpu_outcome *o, const char *fmt, ...) CTL_PRINTF(2, 3);

static void warn(struct cpu_outcome *o, const char *fmt, ...)
{
	va_list ap;

	if (o->nwarnings >= CPU_OUTCOME_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(o->warnings[o->nwarnings++], sizeof(o->warnings[0]), fmt, ap);
	va_end(ap);
}

/* A guest request's result as the planner takes it. */
static struct cpu_answer answer_of(struct cpu_outcome *o, int err,
				   const struct upcall_reply *r)
{
	struct cpu_answer a = { .replied = err == 0 };

	if (!err) {
		a.r = *r;
		o->reply = *r;
		o->have_reply = true;
	}
	return a;
}

static unsigned int item_ids(const struct cpu_item *it, unsigned int n,
			     uint8_t *ids)
{
	for (unsigned int i = 0; i < n; i++)
		ids[i] = it[i].apic_id;
	return n;
}

/*
 * device_del every item with the given fate, then wait (one shared
 * deadline) for QEMU's DEVICE_DELETED. QEMU's pc machine unplugs a vCPU
 * only through the guest's ACPI eject; with an ACPI-free guest it refuses
 * ("device unplug request for not supported device type") or never
 * confirms: that is recorded per item and as a warning.
 */
static void unplug(struct ctl *c, struct qmp *q, struct cpu_outcome *o,
		   struct cpu_item *items, unsigned int n, enum cpu_fate fate,
		   int wait_ms)
{
	for (unsigned int i = 0; i < n; i++) {
		struct cpu_item *it = &items[i];

		if (it->fate != fate)
			continue;
		if (qmp_device_del(q, it->device)) {
			ctl_debug(c, "device_del %s answered: refused", it->device);
			warn(o, "device_del %s: %s; the vCPU stays in QEMU", it->device,
			     qmp_last_error(q));
			it->unplug = CPU_UNPLUG_FAILED;
			continue;
		}
		ctl_debug(c, "device_del %s answered: accepted", it->device);
		it->unplug = CPU_UNPLUG_PENDING;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct cpu_item *it = &items[i];

		if (it->fate != fate || it->unplug != CPU_UNPLUG_PENDING)
			continue;
		if (wait_ms > 0 && !qmp_wait_event(q, "DEVICE_DELETED", it->device, wait_ms)) {
			it->unplug = CPU_UNPLUG_DONE;
			continue;
		}
		warn(o, "QEMU did not confirm the removal of %s (no DEVICE_DELETED)",
		     it->device);
		wait_ms = wait_ms > 0 ? 1 : 0; /* the deadline is shared: just drain */
	}
}

static void name_items(struct cpu_item *items, unsigned int n,
		       const struct vcpu_list *l)
{
	for (unsigned int i = 0; i < n; i++)
		if (items[i].slot < l->n)
			snprintf(items[i].device, sizeof(items[i].device), "%s",
				 vcpu_device_name(&l->slots[items[i].slot]));
}

/* Offer kept vCPUs one by one until the plan has enough; give the taken
 * ones back if it does not. Returns CTL_OK to go on with the batch. */
static int offer_kept(struct ctl *c, struct upcall *h, struct cpu_outcome *o)
{
	struct cpu_plan *p = &o->plan;
	struct upcall_reply r;
	struct cpu_answer ans;
	uint8_t ids[UPCALL_MAX_CPU_BATCH];
	unsigned int taken, k = 0;
	int i, err;

	o->offered = true;
	while ((i = cpu_plan_next_offer(p)) >= 0) {
		uint8_t id = p->offer[i].apic_id;

		/* Those taken so far stay: the guest runs on them. */
		if (ctl_interrupted())
			return ctl_interrupt_fail(&o->status,
						  "stopped before offering kept vCPU %s (APIC ID %u); %u kept vCPU(s) taken so far stay in the guest",
						  p->offer[i].device, id,
						  cpu_plan_offers_taken(p));

		err = upcall_cpu_add(h, &id, 1, &r);
		ans = answer_of(o, err, &r);
		cpu_plan_offer_answer(p, (unsigned int)i, &ans);
		if (err)
			return ctl_fail(&o->status, CTL_ECONN, err,
					"offering kept vCPU %s (APIC ID %u) to the guest: %s",
					p->offer[i].device, id, upcall_last_error(h));
		ctl_debug(c, "offered kept vCPU %s (APIC ID %u) to the guest: %s",
			  p->offer[i].device, id, r.ret ? upcall_strerror(r.ret) : "taken");
	}
	taken = cpu_plan_offers_taken(p);
	if (taken >= p->need)
		return CTL_OK;
	if (taken) {
		for (unsigned int j = 0; j < p->noffer; j++)
			if (p->offer[j].fate == CPU_FATE_ADDED)
				ids[k++] = p->offer[j].apic_id;
		err = upcall_cpu_del(h, ids, k, &r);
		ans = answer_of(o, err, &r);
		cpu_plan_giveback_answer(p, &ans);
		if (err || r.ret)
			return ctl_fail(&o->status, CTL_EVMM, ENOSPC,
					"not enough vCPUs, and giving back the %u vCPU(s) the guest took failed: %s",
					k, err ? upcall_last_error(h) : upcall_strerror(r.ret));
	}
	return ctl_fail(&o->status, CTL_EVMM, ENOSPC,
			"asked for %u more vCPU(s) than QEMU has free slots, but the guest took back only %u of %u kept vCPU(s)",
			p->need, taken, p->noffer);
}

static void exec_add(struct ctl *c, const struct cpu_args *a, struct qmp *q,
		     struct vcpu_list *l, struct cpu_outcome *o)
{
	struct cpu_plan *p = &o->plan;
	uint8_t ids[UPCALL_MAX_CPU_BATCH];
	struct upcall_reply r;
	struct cpu_answer ans;
	struct upcall *h = NULL;
	long done;
	int err;

	/* Reach the guest first: no vCPU is created if it cannot be told. */
	if (ctl_devmgr_get(c, &h, &o->status))
		return;
	if (p->need && offer_kept(c, h, o))
		goto out;
	for (unsigned int i = 0; i < p->n; i++) {
		struct cpu_item *it = &p->item[i];
		struct vcpu_slot *s = &l->slots[it->slot];

		if (ctl_interrupted()) {
			ctl_interrupt_fail(&o->status,
					   "stopped before device_add of vCPU %u of %u; the guest was told nothing: removing what this run created",
					   i + 1, p->n);
			cpu_plan_add_not_sent(p);
			unplug(c, q, o, p->item, p->n, CPU_FATE_ROLLBACK, a->unplug_wait_ms);
			goto out;
		}
		err = 0;
		if (it->create) {
			err = vcpu_plug(q, s);
			it->created = s->plugged;
		} else {
			ctl_debug(c, "%s is still in QEMU: announcing it again", s->id);
		}
		snprintf(it->device, sizeof(it->device), "%s", vcpu_device_name(s));
		if (err || s->apic_id < 0 || s->apic_id > 255) {
			ctl_fail(&o->status, CTL_EVMM, err ? err : ERANGE,
				 "device_add %s (vCPU %u of %u): %s", s->type, i + 1, p->n,
				 err ? qmp_last_error(q) : "APIC ID out of range");
			/* The guest has not been told about any: undo what this
			 * run created (this one too if it exists). */
			cpu_plan_add_not_sent(p);
			unplug(c, q, o, p->item, p->n, CPU_FATE_ROLLBACK, a->unplug_wait_ms);
			goto out;
		}
		it->apic_id = (uint8_t)s->apic_id; /* QEMU's word, not the guess */
		o->nreached = i + 1;
		ctl_debug(c, "vCPU %s: APIC ID %ld", it->device, s->apic_id);
	}
	if (p->n == 0)
		goto out;
	if (ctl_interrupted()) {
		cpu_plan_add_not_sent(p);
		ctl_interrupt_fail(&o->status,
				   "stopped before ADD_CPU was sent; the guest was told nothing: removing the %u vCPU(s) this run created",
				   cpu_plan_count(p, CPU_FATE_ROLLBACK));
		unplug(c, q, o, p->item, p->n, CPU_FATE_ROLLBACK, a->unplug_wait_ms);
		goto out;
	}

	ctl_debug(c, "sending ADD_CPU with %u APIC IDs", p->n);
	o->sent = true;
	err = upcall_cpu_add(h, ids, item_ids(p->item, p->n, ids), &r);
	ctl_debug(c, "ADD_CPU answered: %s", err ? "no reply" : "reply");
	ans = answer_of(o, err, &r);
	cpu_plan_add_answer(p, &ans);
	done = cpu_answer_done(&ans, p->n);
	if (err) {
		ctl_fail(&o->status, CTL_ECONN, err, "%s", upcall_last_error(h));
	} else if (r.ret && done < 0) {
		ctl_fail(&o->status, CTL_EGUEST, r.ret,
			 "guest refused ADD_CPU: %s; its reply does not say how far the batch got (no apic_index below %u), so nothing was rolled back",
			 upcall_strerror(r.ret), p->n);
	} else if (r.ret) {
		unsigned int back = cpu_plan_count(p, CPU_FATE_ROLLBACK);
		unsigned int kept = cpu_plan_count(p, CPU_FATE_NOT_TAKEN);

		ctl_fail(&o->status, CTL_EGUEST, r.ret,
			 "guest took %ld of %u vCPU(s), refused APIC ID %u: %s; removing the other %u from QEMU%s",
			 done, p->n, ids[done], upcall_strerror(r.ret), back,
			 kept ? " (those QEMU already had stay)" : "");
	}
	/* Whatever QEMU does with them, the guest's answer is the result. */
	unplug(c, q, o, p->item, p->n, CPU_FATE_ROLLBACK, a->unplug_wait_ms);
out:
	ctl_devmgr_put(c, h);
}

/* del: fewer released than wanted: say why, with the errno of the vCPU
 * the guest refused (never the last reply's, which may be a success). */
static void del_shortfall(struct cpu_outcome *o, unsigned int released)
{
	const struct cpu_plan *p = &o->plan;
	const struct cpu_item *refused = NULL;
	char absent[256] = "";
	size_t used = 0;

	for (unsigned int i = 0; i < p->n; i++) {
		const struct cpu_item *it = &p->item[i];

		if (it->fate == CPU_FATE_REFUSED && !refused)
			refused = it;
		if (it->fate == CPU_FATE_ABSENT && used < sizeof(absent)) {
			int w = snprintf(absent + used, sizeof(absent) - used, "%s%u",
					 used ? ", " : "", it->apic_id);

			if (w > 0)
				used += (size_t)w;
		}
	}
	if (refused)
		ctl_fail(&o->status, CTL_EGUEST, refused->err,
			 "guest released %u of %u vCPU(s), refused APIC ID %u: %s%s%s",
			 released, p->want, refused->apic_id,
			 upcall_strerror(-refused->err),
			 used ? "; it has no CPU with APIC ID " : "", absent);
	else if (used)
		ctl_fail(&o->status, CTL_EGUEST, ENODEV,
			 "guest released %u of %u vCPU(s); it has no CPU with APIC ID %s%s",
			 released, p->want, absent,
			 p->qemu ? " (released earlier, still in QEMU)" : "");
	else
		ctl_fail(&o->status, CTL_EGUEST, ENOENT,
			 "guest released %u of %u vCPU(s): no more candidates",
			 released, p->want);
}

/* DEL_CPU batches until the plan has released enough. */
static void exec_del(struct ctl *c, const struct cpu_args *a, struct qmp *q,
		     struct cpu_outcome *o)
{
	struct cpu_plan *p = &o->plan;
	unsigned int first, count, released;
	uint8_t ids[UPCALL_MAX_CPU_BATCH];
	struct upcall_reply r;
	struct cpu_answer ans;
	struct upcall *h;
	int err;

	if (ctl_devmgr_get(c, &h, &o->status))
		return;
	while (cpu_plan_del_next(p, &first, &count)) {
		if (ctl_interrupted()) {
			ctl_interrupt_fail(&o->status,
					   "stopped after %u of %u vCPU(s) were released; those go on being removed from QEMU",
					   cpu_plan_count(p, CPU_FATE_RELEASED), p->want);
			break;
		}
		ctl_debug(c, "sending DEL_CPU with %u APIC IDs", count);
		o->sent = true;
		err = upcall_cpu_del(h, ids, item_ids(p->item + first, count, ids), &r);
		ctl_debug(c, "DEL_CPU answered: %s", err ? "no reply" : "reply");
		ans = answer_of(o, err, &r);
		cpu_plan_del_answer(p, first, count, &ans);
		if (err) {
			ctl_fail(&o->status, CTL_ECONN, err, "%s", upcall_last_error(h));
			break;
		}
		if (r.ret && cpu_answer_done(&ans, count) < 0) {
			ctl_fail(&o->status, CTL_EGUEST, r.ret,
				 "guest refused DEL_CPU: %s; its reply does not say how far the batch got (no apic_index below %u), so no vCPU of that request was removed from QEMU",
				 upcall_strerror(r.ret), count);
			break;
		}
		if (r.ret && cpu_answer_done(&ans, count) == 0 && count > 1)
			ctl_debug(c, "guest refused the whole DEL_CPU batch (%s) without naming an APIC ID: asking them one at a time",
				  upcall_strerror(r.ret));
		else if (r.ret)
			ctl_debug(c, "guest refused to release APIC ID %u: %s",
				  ids[cpu_answer_done(&ans, count)], upcall_strerror(r.ret));
	}
	ctl_devmgr_put(c, h);
	released = cpu_plan_count(p, CPU_FATE_RELEASED);
	if (released < p->want && o->have_reply)
		del_shortfall(o, released);
	/* The guest let them go: that stands even if QEMU keeps them. */
	if (q)
		unplug(c, q, o, p->item, p->n, CPU_FATE_RELEASED, a->unplug_wait_ms);
}

/* Without QEMU: one ADD_CPU with the given APIC IDs. */
static void exec_guest_only(struct ctl *c, struct cpu_outcome *o)
{
	struct cpu_plan *p = &o->plan;
	uint8_t ids[UPCALL_MAX_CPU_BATCH];
	const char *name = p->add ? "ADD_CPU" : "DEL_CPU";
	struct upcall_reply r;
	struct cpu_answer ans;
	struct upcall *h;
	long done;
	int err;

	if (ctl_devmgr_get(c, &h, &o->status))
		return;
	ctl_debug(c, "sending %s with %u APIC IDs", name, p->n);
	o->sent = true;
	item_ids(p->item, p->n, ids);
	err = p->add ? upcall_cpu_add(h, ids, p->n, &r) : upcall_cpu_del(h, ids, p->n, &r);
	ans = answer_of(o, err, &r);
	if (p->add)
		cpu_plan_add_answer(p, &ans);
	else
		cpu_plan_del_answer(p, 0, p->n, &ans);
	done = cpu_answer_done(&ans, p->n);
	if (err)
		ctl_fail(&o->status, CTL_ECONN, err, "%s", upcall_last_error(h));
	else if (r.ret && done >= 0)
		ctl_fail(&o->status, CTL_EGUEST, r.ret,
			 "guest refused %s at APIC ID %u (%ld of %u done): %s",
			 name, ids[done], done, p->n, upcall_strerror(r.ret));
	else if (r.ret)
		ctl_fail(&o->status, CTL_EGUEST, r.ret,
			 "guest refused %s: %s (no valid apic_index in its reply: how far the batch got is unknown)",
			 name, upcall_strerror(r.ret));
	ctl_devmgr_put(c, h);
}

static int open_qmp(struct ctl *c, struct qmp **q, struct vcpu_list *l,
		    struct ctl_status *st)
{
	int err;

	*q = ctl_qmp_get(c, st);
	if (!*q)
		return st->code;
	/* Asked every time, on a held connection too: the slots are QEMU's
	 * state, which another QMP client may have changed meanwhile. */
	err = vcpu_list_get_cached(*q, l, c->held ? &c->held->apic : NULL);
	if (err) {
		ctl_fail(st, CTL_EVMM, err, "query-hotpluggable-cpus: %s",
			 qmp_last_error(*q)[0] ? qmp_last_error(*q) : "unexpected reply");
		ctl_qmp_put(c, *q);
		*q = NULL;
		return CTL_EVMM;
	}
	ctl_debug(c, "QMP: %u vCPU slots", (unsigned int)l->n);
	return CTL_OK;
}

int cpu_execute(struct ctl *c, const struct cpu_args *a, struct cpu_outcome *o)
{
	struct cpu_plan_error pe;
	struct vcpu_list l = { 0 };
	struct qmp *q = NULL;

	memset(o, 0, sizeof(*o));
	o->add = a->add;
	o->qemu = c->qmp != NULL;
	if (o->qemu && open_qmp(c, &q, &l, &o->status))
		return o->status.code;
	if (cpu_plan_make(a, l.slots, l.n, o->qemu, &o->plan, &pe)) {
		ctl_fail(&o->status, pe.code, pe.err, "%s", pe.msg);
	} else {
		o->planned = true;
		if (!o->qemu && !a->add) {
			exec_del(c, a, NULL, o); /* same batches, nothing to unplug */
		} else if (!o->qemu) {
			exec_guest_only(c, o);
		} else {
			name_items(o->plan.item, o->plan.n, &l);
			name_items(o->plan.offer, o->plan.noffer, &l);
			if (a->add)
				exec_add(c, a, q, &l, o);
			else
				exec_del(c, a, q, o);
		}
	}
	vcpu_list_free(&l);
	ctl_qmp_put(c, q);
	return o->status.code;
}

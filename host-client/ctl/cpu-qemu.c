// SPDX-License-Identifier: MIT
/*
 * upcall-ctl cpu add|del with QEMU: pick vCPU slots, device_add or
 * device_del them around the guest's ADD_CPU/DEL_CPU, and roll back what
 * the guest did not take. QEMU's pc machine keeps vCPUs it cannot unplug
 * from an ACPI-free guest; this file copes with that too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* Report a warning: stderr in human mode, "warnings" in the JSON. */
static void warn(struct ctl *c, const char *msg)
{
	json_object *w;

	if (!c->json) {
		fprintf(stderr, "%s: warning: %s\n", c->prog, msg);
		return;
	}
	if (!json_object_object_get_ex(c->result, "warnings", &w)) {
		w = json_object_new_array();
		json_object_object_add(c->result, "warnings", w);
	}
	json_object_array_add(w, json_object_new_string(msg));
}

/*
 * device_del each slot, then wait (one shared deadline) for QEMU's
 * DEVICE_DELETED. Names go to the JSON arrays KEY (unplug requested),
 * KEY_pending (no DEVICE_DELETED in time) and KEY_failed (QEMU refused
 * device_del). QEMU's pc machine unplugs a vCPU only through the guest's
 * ACPI eject; with an ACPI-free guest it refuses ("device unplug request
 * for not supported device type") or never confirms. Returns how many
 * vCPUs were not confirmed removed.
 */
static unsigned int unplug_slots(struct ctl *c, struct qmp *q,
				 struct vcpu_slot **s, unsigned int n,
				 int wait_ms, const char *key)
{
	json_object *done = json_object_new_array();
	json_object *pending = json_object_new_array();
	json_object *failed = json_object_new_array();
	bool requested[UPCALL_MAX_CPU_BATCH] = { false };
	unsigned int bad = 0;
	char k[64], msg[768];

	for (unsigned int i = 0; i < n; i++) {
		int err = vcpu_unplug(q, s[i]);

		if (err) {
			snprintf(msg, sizeof(msg), "device_del %s: %s; the vCPU stays in QEMU",
				 vcpu_device_name(s[i]), qmp_last_error(q));
			warn(c, msg);
			json_object_array_add(failed, json_object_new_string(vcpu_device_name(s[i])));
			bad++;
			continue;
		}
		requested[i] = true;
		json_object_array_add(done, json_object_new_string(vcpu_device_name(s[i])));
	}
	for (unsigned int i = 0; i < n; i++) {
		if (!requested[i])
			continue;
		if (wait_ms > 0 && !qmp_wait_event(q, "DEVICE_DELETED",
						   vcpu_device_name(s[i]), wait_ms))
			continue;
		json_object_array_add(pending, json_object_new_string(vcpu_device_name(s[i])));
		snprintf(msg, sizeof(msg), "QEMU did not confirm the removal of %s (no DEVICE_DELETED)",
			 vcpu_device_name(s[i]));
		warn(c, msg);
		wait_ms = wait_ms > 0 ? 1 : 0; /* the deadline is shared: just drain */
		bad++;
	}
	json_object_object_add(c->result, key, done);
	snprintf(k, sizeof(k), "%s_pending", key);
	if (json_object_array_length(pending))
		json_object_object_add(c->result, k, pending);
	else
		json_object_put(pending);
	snprintf(k, sizeof(k), "%s_failed", key);
	if (json_object_array_length(failed))
		json_object_object_add(c->result, k, failed);
	else
		json_object_put(failed);
	return bad;
}

static int cmp_apic_desc(const void *x, const void *y)
{
	const struct vcpu_slot *a = *(struct vcpu_slot *const *)x;
	const struct vcpu_slot *b = *(struct vcpu_slot *const *)y;

	return (a->apic_id < b->apic_id) - (a->apic_id > b->apic_id);
}

static int cmp_apic_asc(const void *x, const void *y)
{
	return cmp_apic_desc(y, x);
}

int cpu_open_qmp(struct ctl *c, struct qmp **q, struct vcpu_list *l)
{
	char errbuf[512];
	int err;

	*q = qmp_open(c->qmp, c->timeout_ms, &err, errbuf, sizeof(errbuf));
	if (!*q)
		return ctl_error(c, CTL_EVMM, err, "%s", errbuf);
	err = vcpu_list_get(*q, l);
	if (err) {
		ctl_error(c, CTL_EVMM, err, "query-hotpluggable-cpus: %s",
			  qmp_last_error(*q)[0] ? qmp_last_error(*q) :
			  "unexpected reply");
		qmp_close(*q);
		*q = NULL;
		return CTL_EVMM;
	}
	return CTL_OK;
}

/*
 * QEMU's pc machine cannot unplug vCPUs from an ACPI-free guest, so after
 * 'cpu del' they stay in QEMU, offline in the guest, and their slots are
 * not free. To reuse them, offer each hot-added vCPU to the guest alone:
 * it takes those it does not have and refuses those it has (an APIC ID of
 * a present CPU is an error). Stops after need; if fewer were taken, gives
 * them back (DEL_CPU) and fails, leaving things as they were.
 */
static int reclaim_kept(struct ctl *c, struct upcall *h, struct vcpu_slot **kept,
			unsigned int nkept, unsigned int need, uint8_t *got,
			unsigned int *ngot)
{
	struct upcall_reply r;
	int err;

	*ngot = 0;
	for (unsigned int i = 0; i < nkept && *ngot < need; i++) {
		uint8_t id = (uint8_t)kept[i]->apic_id;

		err = upcall_cpu_add(h, &id, 1, &r);
		if (err)
			return ctl_error(c, CTL_ECONN, err, "%s", upcall_last_error(h));
		ctl_debug(c, "offered kept vCPU %s (APIC ID %u) to the guest: %s",
			  kept[i]->id, id, r.ret ? upcall_strerror(r.ret) : "taken");
		if (r.ret == 0)
			got[(*ngot)++] = id;
	}
	json_object_object_add(c->result, "reannounced", cpu_ids_json(got, *ngot));
	if (*ngot >= need)
		return CTL_OK;
	if (*ngot) {
		err = upcall_cpu_del(h, got, *ngot, &r);
		if (err || r.ret)
			return ctl_error(c, CTL_EVMM, ENOSPC,
					 "not enough vCPUs, and giving back the %u vCPU(s) the guest took failed: %s",
					 *ngot, err ? upcall_last_error(h) : upcall_strerror(r.ret));
	}
	return ctl_error(c, CTL_EVMM, ENOSPC,
			 "asked for %u more vCPU(s) than QEMU has free slots, but the guest took back only %u of %u kept vCPU(s)",
			 need, *ngot, nkept);
}

int cpu_qemu_add(struct ctl *c, struct cpu_args *a, struct qmp *q,
		   struct vcpu_list *l)
{
	struct vcpu_slot *pick[UPCALL_MAX_CPU_BATCH], *created[UPCALL_MAX_CPU_BATCH];
	bool reuse[UPCALL_MAX_CPU_BATCH] = { false };
	unsigned int n = 0, ncreated = 0, want = a->n_ids ? a->n_ids : a->count;
	uint8_t ids[UPCALL_MAX_CPU_BATCH];
	struct upcall *h = NULL;
	json_object *devs;
	struct upcall_reply r;
	long done;
	int rc, err;

	if (a->n_ids) {
		for (unsigned int i = 0; i < a->n_ids; i++) {
			size_t j;

			for (j = 0; j < l->n; j++)
				if (l->slots[j].apic_id == a->ids[i] &&
				    (!l->slots[j].plugged || l->slots[j].hotplugged))
					break;
			if (j == l->n)
				return ctl_error(c, CTL_EVMM, ENOENT,
						 "no free or hot-added vCPU slot with APIC ID %u",
						 a->ids[i]);
			/* A hot-added vCPU QEMU kept after 'cpu del' (pc cannot
			 * unplug from an ACPI-free guest) is only announced again. */
			reuse[n] = l->slots[j].plugged;
			pick[n++] = &l->slots[j];
		}
	} else {
		struct vcpu_slot *free_slots[1024], *kept[UPCALL_MAX_CPU_BATCH];
		unsigned int nfree = 0, nkept = 0, ngot = 0;
		uint8_t got[UPCALL_MAX_CPU_BATCH];

		for (size_t j = 0; j < l->n && nfree < 1024; j++)
			if (!l->slots[j].plugged && l->slots[j].apic_id >= 0 &&
			    l->slots[j].apic_id <= 255)
				free_slots[nfree++] = &l->slots[j];
		for (size_t j = 0; j < l->n && nkept < UPCALL_MAX_CPU_BATCH; j++)
			if (l->slots[j].hotplugged && l->slots[j].apic_id >= 0 &&
			    l->slots[j].apic_id <= 255)
				kept[nkept++] = &l->slots[j];
		qsort(free_slots, nfree, sizeof(free_slots[0]), cmp_apic_asc);
		/* 'cpu del' takes the highest first: offer those first. */
		qsort(kept, nkept, sizeof(kept[0]), cmp_apic_desc);
		if (nfree < want && nfree + nkept < want)
			return ctl_error(c, CTL_EVMM, ENOSPC,
					 "asked for %u vCPU(s) but QEMU has %u free slot(s)",
					 want, nfree);
		rc = ctl_open_devmgr(c, &h);
		if (rc)
			return rc;
		if (nfree < want) {
			rc = reclaim_kept(c, h, kept, nkept, want - nfree, got, &ngot);
			if (rc) {
				upcall_free(h);
				return rc;
			}
			want -= ngot;
		}
		for (unsigned int i = 0; i < want; i++)
			pick[n++] = free_slots[i];
		if (n == 0) {
			upcall_free(h);
			json_object_object_add(c->result, "apic_ids", cpu_ids_json(got, ngot));
			for (unsigned int i = 0; i < ngot; i++)
				ctl_info(c, "guest took back vCPU with APIC ID %u", got[i]);
			return CTL_OK;
		}
	}

	/* Reach the guest first: no vCPU is created if it cannot be told. */
	if (!h) {
		rc = ctl_open_devmgr(c, &h);
		if (rc)
			return rc;
	}

	devs = json_object_new_array();
	json_object_object_add(c->result, "devices", devs);
	for (unsigned int i = 0; i < n; i++) {
		err = 0;
		if (reuse[i]) {
			ctl_debug(c, "%s is still in QEMU: announcing it again", pick[i]->id);
		} else {
			err = vcpu_plug(q, pick[i]);
			if (pick[i]->plugged)
				created[ncreated++] = pick[i];
		}

		if (err || pick[i]->apic_id < 0 || pick[i]->apic_id > 255) {
			rc = ctl_error(c, CTL_EVMM, err ? err : ERANGE,
				       "device_add %s (vCPU %u of %u): %s", pick[i]->type,
				       i + 1, n, err ? qmp_last_error(q) : "APIC ID out of range");
			/* Undo the vCPUs created so far (this one too if it
			 * exists); the guest has not been told about any. */
			unplug_slots(c, q, created, ncreated, a->unplug_wait_ms, "rolled_back");
			upcall_free(h);
			return rc;
		}
		ctl_debug(c, "vCPU %s: APIC ID %ld", pick[i]->id, pick[i]->apic_id);
		json_object_array_add(devs, json_object_new_string(pick[i]->id));
		ids[i] = (uint8_t)pick[i]->apic_id;
	}
	json_object_object_add(c->result, "apic_ids", cpu_ids_json(ids, n));

	ctl_debug(c, "sending ADD_CPU with %u APIC IDs", n);
	err = upcall_cpu_add(h, ids, n, &r);
	if (err) {
		/* The guest may or may not have acted: leave the vCPUs. */
		rc = ctl_error(c, CTL_ECONN, err, "%s; the vCPUs created stay in QEMU",
			       upcall_last_error(h));
		upcall_free(h);
		return rc;
	}
	upcall_free(h);
	cpu_reply_json(c, &r);
	done = cpu_guest_done(&r, n);
	if (r.ret == 0) {
		for (unsigned int i = 0; i < n; i++)
			ctl_info(c, "added vCPU %s (APIC ID %u)", pick[i]->id, ids[i]);
		return CTL_OK;
	}
	if (done < 0)
		return ctl_error(c, CTL_EGUEST, r.ret,
				 "guest refused ADD_CPU: %s; its reply has no valid apic_index, so nothing was rolled back",
				 upcall_strerror(r.ret));
	rc = ctl_error(c, CTL_EGUEST, r.ret,
		       "guest took %ld of %u vCPU(s), refused APIC ID %u: %s; removing the other %ld from QEMU",
		       done, n, ids[done < n ? done : 0], upcall_strerror(r.ret),
		       (long)n - done);
	json_object_object_add(c->result, "accepted", cpu_ids_json(ids, (unsigned int)done));
	/* Remove only what this run created: a vCPU QEMU already had may be
	 * the guest's own (it refuses an APIC ID it has). Whatever QEMU does
	 * with them, the guest's refusal is the result. */
	ncreated = 0;
	for (unsigned int i = (unsigned int)done; i < n; i++)
		if (!reuse[i])
			created[ncreated++] = pick[i];
	unplug_slots(c, q, created, ncreated, a->unplug_wait_ms, "rolled_back");
	return rc;
}

int cpu_qemu_del(struct ctl *c, struct cpu_args *a, struct qmp *q,
		   struct vcpu_list *l)
{
	struct vcpu_slot *pick[UPCALL_MAX_CPU_BATCH], *released[UPCALL_MAX_CPU_BATCH];
	unsigned int n = 0, want, next = 0, nrel = 0, nrefused = 0;
	uint8_t ids[UPCALL_MAX_CPU_BATCH], rel_ids[UPCALL_MAX_CPU_BATCH];
	uint8_t refused_ids[UPCALL_MAX_CPU_BATCH];
	struct upcall_reply r;
	struct upcall *h;
	long boot_apic = -1, done;
	int rc = CTL_OK, err, last_ret = 0;

	/* The boot CPU: the lowest APIC ID among vCPUs not hot-added. */
	for (size_t j = 0; j < l->n; j++)
		if (l->slots[j].plugged && !l->slots[j].hotplugged &&
		    (boot_apic < 0 || l->slots[j].apic_id < boot_apic))
			boot_apic = l->slots[j].apic_id;
	if (a->n_ids) {
		for (unsigned int i = 0; i < a->n_ids; i++) {
			size_t j;

			if (a->ids[i] == boot_apic)
				return ctl_error(c, CTL_EGUEST, EPERM,
						 "APIC ID %u is the boot CPU: it cannot be removed",
						 a->ids[i]);
			for (j = 0; j < l->n; j++)
				if (l->slots[j].plugged && l->slots[j].apic_id == a->ids[i])
					break;
			if (j == l->n)
				return ctl_error(c, CTL_EVMM, ENOENT,
						 "QEMU has no vCPU with APIC ID %u", a->ids[i]);
			pick[n++] = &l->slots[j];
		}
	} else {
		struct vcpu_slot *hot[1024];
		unsigned int nhot = 0;

		for (size_t j = 0; j < l->n && nhot < 1024; j++)
			if (l->slots[j].plugged && l->slots[j].hotplugged &&
			    l->slots[j].apic_id != boot_apic &&
			    l->slots[j].apic_id >= 0 && l->slots[j].apic_id <= 255)
				hot[nhot++] = &l->slots[j];
		qsort(hot, nhot, sizeof(hot[0]), cmp_apic_desc);
		if (nhot < a->count)
			return ctl_error(c, CTL_EVMM, ENOENT,
					 "asked to remove %u vCPU(s) but only %u were hot-added",
					 a->count, nhot);
		/* All candidates, highest first; the loop below asks for
		 * COUNT of them. */
		for (unsigned int i = 0; i < nhot && n < UPCALL_MAX_CPU_BATCH; i++)
			pick[n++] = hot[i];
	}
	want = a->n_ids ? n : a->count;
	for (unsigned int i = 0; i < n; i++)
		ids[i] = (uint8_t)pick[i]->apic_id;

	rc = ctl_open_devmgr(c, &h);
	if (rc)
		return rc;
	/*
	 * One DEL_CPU for the batch. With COUNT, a vCPU the guest refuses
	 * (typically one QEMU kept after an earlier 'cpu del', already gone
	 * from the guest) is skipped and the next candidate asked instead.
	 */
	while (nrel < want && next < n) {
		unsigned int bn = want - nrel < n - next ? want - nrel : n - next;

		err = upcall_cpu_del(h, ids + next, bn, &r);
		if (err) {
			rc = ctl_error(c, CTL_ECONN, err, "%s", upcall_last_error(h));
			break;
		}
		cpu_reply_json(c, &r);
		done = cpu_guest_done(&r, bn);
		if (done < 0) {
			rc = ctl_error(c, CTL_EGUEST, r.ret,
				       "guest refused DEL_CPU: %s; its reply has no valid apic_index, so no vCPU of that request was removed from QEMU",
				       upcall_strerror(r.ret));
			break;
		}
		for (long i = 0; i < done; i++) {
			released[nrel] = pick[next + i];
			rel_ids[nrel++] = ids[next + i];
		}
		if (r.ret == 0) {
			next += bn;
			continue;
		}
		last_ret = r.ret;
		refused_ids[nrefused++] = ids[next + done];
		ctl_debug(c, "guest refused to release APIC ID %u: %s", ids[next + done],
			  upcall_strerror(r.ret));
		next += (unsigned int)done + 1;
		if (a->n_ids)
			break;
	}
	upcall_free(h);
	/* What the guest was asked for: up to the last ID it answered on. */
	json_object_object_add(c->result, "apic_ids", cpu_ids_json(ids, next < n ? next : n));
	json_object_object_add(c->result, "released", cpu_ids_json(rel_ids, nrel));
	if (nrefused)
		json_object_object_add(c->result, "refused", cpu_ids_json(refused_ids, nrefused));
	if (!rc && nrel < want)
		rc = ctl_error(c, CTL_EGUEST, last_ret,
			       "guest released %u of %u vCPU(s), refused APIC ID %u: %s",
			       nrel, want, refused_ids[nrefused ? nrefused - 1 : 0],
			       upcall_strerror(last_ret));
	/* The guest let them go: that stands even if QEMU keeps the vCPUs
	 * (see unplug_slots), which is reported as warnings. */
	if (nrel > 0)
		unplug_slots(c, q, released, nrel, a->unplug_wait_ms, "removed");
	for (unsigned int i = 0; i < nrel && !rc; i++)
		ctl_info(c, "removed vCPU %s (APIC ID %u) from the guest",
			 vcpu_device_name(released[i]), rel_ids[i]);
	return rc;
}


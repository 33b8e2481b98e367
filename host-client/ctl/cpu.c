// SPDX-License-Identifier: MIT
/*
 * upcall-ctl cpu add|del: tell the guest about vCPUs, and with --qmp create
 * or remove them in QEMU around that, rolling back what the guest did not
 * take.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "vcpu.h"

/* Default wait for DEVICE_DELETED: QEMU confirms at once when it can. */
#define CPU_UNPLUG_WAIT_MS 3000

static const char cpu_usage[] =
	"Usage: upcall-ctl [OPTIONS] cpu add [COUNT | --apic-id ID...]\n"
	"       upcall-ctl [OPTIONS] cpu del [COUNT | --apic-id ID...]\n"
	"\n"
	"Hot-add or hot-remove vCPUs. With --qmp (or --run), 'add' creates COUNT\n"
	"vCPUs in QEMU (device_add), announces their APIC IDs to the guest in one\n"
	"ADD_CPU request, and removes again those the guest did not take; 'del'\n"
	"picks the COUNT hot-added vCPUs with the highest APIC IDs, asks the guest\n"
	"to release them (DEL_CPU) and then removes the released ones from QEMU.\n"
	"Without --qmp only the guest is told, and APIC IDs must be given.\n"
	"\n"
	"  COUNT                 number of vCPUs, 1..255 (default 1)\n"
	"  --apic-id ID[,ID...]  these APIC IDs (0..255); may repeat, and further\n"
	"                        arguments are taken as more IDs\n"
	"  --unplug-wait SECS    how long to wait for QEMU's DEVICE_DELETED after\n"
	"                        device_del (default: 3, or --timeout if shorter;\n"
	"                        0: do not wait)\n"
	"  -h, --help            this text\n";

struct cpu_args {
	bool add;
	unsigned int count;
	uint8_t ids[UPCALL_MAX_CPU_BATCH];
	unsigned int n_ids;
	int unplug_wait_ms;
};

static int add_ids(struct ctl *c, struct cpu_args *a, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int rc = CTL_OK;

	if (!copy)
		return ctl_error(c, CTL_EUSAGE, ENOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint32_t v;

		if (ctl_parse_u32(tok, &v) || v > 255) {
			rc = ctl_usage_error(c, NULL,
					     "--apic-id: '%s' is not an APIC ID 0..255", tok);
			break;
		}
		for (unsigned int i = 0; i < a->n_ids; i++) {
			if (a->ids[i] == v) {
				rc = ctl_usage_error(c, NULL, "APIC ID %u given twice", v);
				goto out;
			}
		}
		if (a->n_ids >= UPCALL_MAX_CPU_BATCH) {
			rc = ctl_usage_error(c, NULL, "more than %u APIC IDs",
					     UPCALL_MAX_CPU_BATCH);
			break;
		}
		a->ids[a->n_ids++] = (uint8_t)v;
	}
	if (rc == CTL_OK && a->n_ids == 0)
		rc = ctl_usage_error(c, NULL, "--apic-id: empty list");
out:
	free(copy);
	return rc;
}

static json_object *ids_json(const uint8_t *ids, unsigned int n)
{
	json_object *arr = json_object_new_array();

	for (unsigned int i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_int(ids[i]));
	return arr;
}

static void add_reply_json(struct ctl *c, const struct upcall_reply *r)
{
	json_object *g = json_object_new_object();

	json_object_object_add(g, "ret", json_object_new_int(r->ret));
	if (r->has_apic_index)
		json_object_object_add(g, "apic_index",
				       json_object_new_int64(r->apic_index));
	else
		json_object_object_add(g, "apic_index", NULL);
	json_object_object_add(c->result, "guest", g);
}

/* Send one ADD_CPU/DEL_CPU. Returns CTL_OK when a reply came (see r). */
static int guest_request(struct ctl *c, bool add, const uint8_t *ids,
			 unsigned int n, struct upcall_reply *r)
{
	struct upcall *h;
	int rc, err;

	rc = ctl_open_devmgr(c, &h);
	if (rc)
		return rc;
	ctl_debug(c, "sending %s with %u APIC IDs", add ? "ADD_CPU" : "DEL_CPU", n);
	err = add ? upcall_cpu_add(h, ids, n, r) : upcall_cpu_del(h, ids, n, r);
	if (err) {
		rc = ctl_error(c, CTL_ECONN, err, "%s", upcall_last_error(h));
		upcall_free(h);
		return rc;
	}
	upcall_free(h);
	add_reply_json(c, r);
	return CTL_OK;
}

/* How many of the batch the guest handled, or -1 if it did not say. */
static long guest_done(const struct upcall_reply *r, unsigned int n)
{
	if (r->ret == 0)
		return n;
	return r->has_apic_index ? (long)r->apic_index : -1;
}

static int guest_only(struct ctl *c, struct cpu_args *a)
{
	struct upcall_reply r;
	long done;
	int rc;

	json_object_object_add(c->result, "apic_ids", ids_json(a->ids, a->n_ids));
	rc = guest_request(c, a->add, a->ids, a->n_ids, &r);
	if (rc)
		return rc;
	done = guest_done(&r, a->n_ids);
	if (r.ret == 0) {
		ctl_info(c, "guest %s %u vCPU(s)", a->add ? "added" : "removed", a->n_ids);
		return CTL_OK;
	}
	if (done >= 0)
		return ctl_error(c, CTL_EGUEST, r.ret,
				 "guest refused %s at APIC ID %u (%ld of %u done): %s",
				 a->add ? "ADD_CPU" : "DEL_CPU", a->ids[done < a->n_ids ? done : 0],
				 done, a->n_ids, upcall_strerror(r.ret));
	return ctl_error(c, CTL_EGUEST, r.ret,
			 "guest refused %s: %s (no valid apic_index in its reply)",
			 a->add ? "ADD_CPU" : "DEL_CPU", upcall_strerror(r.ret));
}

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

static int open_qmp(struct ctl *c, struct qmp **q, struct vcpu_list *l)
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
	json_object_object_add(c->result, "reannounced", ids_json(got, *ngot));
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

static int vmm_add(struct ctl *c, struct cpu_args *a, struct qmp *q,
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
	int rc;

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
			json_object_object_add(c->result, "apic_ids", ids_json(got, ngot));
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
		int err = 0;

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
	json_object_object_add(c->result, "apic_ids", ids_json(ids, n));

	ctl_debug(c, "sending ADD_CPU with %u APIC IDs", n);
	int err = upcall_cpu_add(h, ids, n, &r);

	if (err) {
		/* The guest may or may not have acted: leave the vCPUs. */
		rc = ctl_error(c, CTL_ECONN, err, "%s (vCPUs %s left in QEMU)",
			       upcall_last_error(h), "created");
		upcall_free(h);
		return rc;
	}
	upcall_free(h);
	add_reply_json(c, &r);
	done = guest_done(&r, n);
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
	json_object_object_add(c->result, "accepted", ids_json(ids, (unsigned int)done));
	/* Whatever QEMU does with them, the guest's refusal is the result. */
	unplug_slots(c, q, pick + done, n - (unsigned int)done, a->unplug_wait_ms,
		     "rolled_back");
	return rc;
}

static int vmm_del(struct ctl *c, struct cpu_args *a, struct qmp *q,
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
		add_reply_json(c, &r);
		done = guest_done(&r, bn);
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
	json_object_object_add(c->result, "apic_ids", ids_json(ids, next < n ? next : n));
	json_object_object_add(c->result, "released", ids_json(rel_ids, nrel));
	if (nrefused)
		json_object_object_add(c->result, "refused", ids_json(refused_ids, nrefused));
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

static int parse_args(struct ctl *c, int argc, char **argv, struct cpu_args *a)
{
	static const struct option opts[] = {
		{ "apic-id", required_argument, NULL, 'a' },
		{ "unplug-wait", required_argument, NULL, 'w' },
		CTL_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc;

	memset(a, 0, sizeof(*a));
	a->unplug_wait_ms = -1;
	optind = 0; /* reset getopt; GNU getopt moves positionals to the end */
	while ((opt = getopt_long(argc, argv, CTL_GLOBAL_SHORTOPTS, opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			rc = add_ids(c, a, optarg);
			if (rc)
				return rc;
			break;
		case 'w': {
			char *end;
			double s = strtod(optarg, &end);

			if (*end || end == optarg || !(s >= 0) || s > 86400)
				return ctl_usage_error(c, NULL, "--unplug-wait: bad value '%s'", optarg);
			a->unplug_wait_ms = (int)(s * 1000.0);
			break;
		}
		case 'h':
			return -1;
		case '?':
			return ctl_usage_error(c, cpu_usage, "cpu %s: bad option", argv[0]);
		default:
			if (ctl_global_option(c, opt, optarg))
				return CTL_EUSAGE;
		}
	}
	if (a->n_ids) {
		/* "--apic-id 1 2 3": the remaining arguments are more IDs. */
		for (; optind < argc; optind++) {
			rc = add_ids(c, a, argv[optind]);
			if (rc)
				return rc;
		}
		return CTL_OK;
	}
	a->count = 1;
	if (optind < argc) {
		uint32_t v;

		if (ctl_parse_u32(argv[optind], &v) || v < 1 || v > UPCALL_MAX_CPU_BATCH)
			return ctl_usage_error(c, cpu_usage, "COUNT must be 1..%u, not '%s'",
					       UPCALL_MAX_CPU_BATCH, argv[optind]);
		a->count = v;
		optind++;
	}
	if (optind < argc)
		return ctl_usage_error(c, cpu_usage, "unexpected argument '%s'", argv[optind]);
	return CTL_OK;
}

int cpu_main(struct ctl *c, int argc, char **argv)
{
	struct cpu_args a;
	struct vcpu_list l = { 0 };
	struct qmp *q = NULL;
	int rc;

	if (argc < 2)
		return ctl_usage_error(c, cpu_usage, "cpu: missing action (add or del)");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help"))
		return ctl_help(c, cpu_usage);
	if (strcmp(argv[1], "add") && strcmp(argv[1], "del"))
		return ctl_usage_error(c, cpu_usage, "cpu: unknown action '%s'", argv[1]);
	rc = parse_args(c, argc - 1, argv + 1, &a);
	if (rc < 0)
		return ctl_help(c, cpu_usage);
	if (rc)
		return rc;
	a.add = !strcmp(argv[1], "add");
	if (a.unplug_wait_ms < 0)
		a.unplug_wait_ms = c->timeout_ms < CPU_UNPLUG_WAIT_MS ? c->timeout_ms :
				   CPU_UNPLUG_WAIT_MS;
	json_object_object_add(c->result, "command",
			       json_object_new_string(a.add ? "cpu add" : "cpu del"));

	if (!c->qmp) {
		if (!a.n_ids)
			return ctl_usage_error(c, cpu_usage,
					       "without --qmp give the vCPUs' APIC IDs (--apic-id): "
					       "COUNT needs QEMU to create or pick them");
		return guest_only(c, &a);
	}
	rc = open_qmp(c, &q, &l);
	if (rc)
		return rc;
	rc = a.add ? vmm_add(c, &a, q, &l) : vmm_del(c, &a, q, &l);
	vcpu_list_free(&l);
	qmp_close(q);
	return rc;
}

// SPDX-License-Identifier: MIT
/*
 * upcall-ctl cpu: the one place that prints what 'cpu add|del' did, from
 * its outcome: human text (stdout for what was done, stderr for errors,
 * unknown states and warnings) or keys of the JSON document (--json).
 */
#include <stdio.h>
#include <string.h>

#include "cpu-present.h"

typedef bool (*item_pred)(const struct cpu_item *it, int arg);

static bool fate_is(const struct cpu_item *it, int fate)
{
	return it->fate == (enum cpu_fate)fate;
}

static bool any(const struct cpu_item *it, int arg)
{
	(void)it;
	(void)arg;
	return true;
}

static bool unplug_is(const struct cpu_item *it, int state)
{
	return it->unplug == (enum cpu_unplug)state;
}

static bool unplug_asked(const struct cpu_item *it, int arg)
{
	(void)arg;
	return it->unplug == CPU_UNPLUG_DONE || it->unplug == CPU_UNPLUG_PENDING;
}

/* Append the APIC IDs (or device names) of the items matching to arr. */
static json_object *add_items(json_object *arr, const struct cpu_item *items,
			      unsigned int n, item_pred pred, int arg, bool names)
{
	for (unsigned int i = 0; i < n; i++) {
		if (!pred(&items[i], arg))
			continue;
		json_object_array_add(arr, names ?
				      json_object_new_string(items[i].device) :
				      json_object_new_int(items[i].apic_id));
	}
	return arr;
}

static json_object *list(const struct cpu_item *items, unsigned int n,
			 item_pred pred, int arg, bool names)
{
	return add_items(json_object_new_array(), items, n, pred, arg, names);
}

static void put(struct ctl *c, const char *key, json_object *v)
{
	json_object_object_add(c->result, key, v);
}

/* KEY (device_del asked), KEY_pending, KEY_failed for items of a fate. */
static void put_unplug(struct ctl *c, const struct cpu_plan *p, const char *key)
{
	char k[64];
	json_object *v;

	put(c, key, list(p->item, p->n, unplug_asked, 0, true));
	snprintf(k, sizeof(k), "%s_pending", key);
	v = list(p->item, p->n, unplug_is, CPU_UNPLUG_PENDING, true);
	if (json_object_array_length(v))
		put(c, k, v);
	else
		json_object_put(v);
	snprintf(k, sizeof(k), "%s_failed", key);
	v = list(p->item, p->n, unplug_is, CPU_UNPLUG_FAILED, true);
	if (json_object_array_length(v))
		put(c, k, v);
	else
		json_object_put(v);
}

static void put_reply(struct ctl *c, const struct upcall_reply *r)
{
	json_object *g = json_object_new_object();

	json_object_object_add(g, "ret", json_object_new_int(r->ret));
	json_object_object_add(g, "apic_index", r->has_apic_index ?
			       json_object_new_int64(r->apic_index) : NULL);
	put(c, "guest", g);
}

static void json_keys(struct ctl *c, const struct cpu_outcome *o)
{
	const struct cpu_plan *p = &o->plan;

	if (!o->qemu && o->add) {
		put(c, "apic_ids", list(p->item, p->n, any, 0, false));
	} else if (!o->qemu && !o->sent) {
		put(c, "apic_ids", list(p->item, p->n, any, 0, false));
	} else if (o->add) {
		if (o->offered)
			put(c, "reannounced", list(p->offer, p->noffer, fate_is,
						   CPU_FATE_ADDED, false));
		/* Taken and released again: the guest's state did change. */
		if (cpu_plan_count(p, CPU_FATE_GIVEN_BACK))
			put(c, "given_back", list(p->offer, p->noffer, fate_is,
						  CPU_FATE_GIVEN_BACK, false));
		if (o->nreached || o->sent)
			put(c, "devices", list(p->item, o->nreached, any, 0, true));
		if (o->sent)
			put(c, "apic_ids", list(p->item, p->n, any, 0, false));
		else if (o->offered && p->n == 0 && o->status.code == CTL_OK)
			put(c, "apic_ids", list(p->offer, p->noffer, fate_is,
						CPU_FATE_ADDED, false));
		if (cpu_plan_count(p, CPU_FATE_ROLLBACK) || cpu_plan_count(p, CPU_FATE_NOT_TAKEN))
			put(c, "accepted", list(p->item, p->n, fate_is, CPU_FATE_ADDED, false));
		if (cpu_plan_count(p, CPU_FATE_ROLLBACK))
			put_unplug(c, p, "rolled_back");
	} else if (o->sent) {
		put(c, "apic_ids", list(p->item, p->next < p->n ? p->next : p->n,
					any, 0, false));
		put(c, "released", list(p->item, p->n, fate_is, CPU_FATE_RELEASED, false));
		if (cpu_plan_count(p, CPU_FATE_REFUSED))
			put(c, "refused", list(p->item, p->n, fate_is, CPU_FATE_REFUSED, false));
		if (cpu_plan_count(p, CPU_FATE_ABSENT))
			put(c, "absent", list(p->item, p->n, fate_is, CPU_FATE_ABSENT, false));
		if (o->qemu && cpu_plan_count(p, CPU_FATE_RELEASED))
			put_unplug(c, p, "removed");
	}
	if (o->have_reply)
		put_reply(c, &o->reply);
	if (cpu_plan_count(p, CPU_FATE_UNKNOWN)) {
		json_object *ids = list(p->item, p->n, fate_is, CPU_FATE_UNKNOWN, false);

		put(c, "unknown_apic_ids", add_items(ids, p->offer, p->noffer, fate_is,
						     CPU_FATE_UNKNOWN, false));
		if (o->qemu) {
			json_object *names = list(p->item, p->n, fate_is, CPU_FATE_UNKNOWN, true);

			put(c, "unknown", add_items(names, p->offer, p->noffer, fate_is,
						    CPU_FATE_UNKNOWN, true));
		}
	}
	if (o->nwarnings) {
		json_object *w = json_object_new_array();

		for (unsigned int i = 0; i < o->nwarnings; i++)
			json_object_array_add(w, json_object_new_string(o->warnings[i]));
		put(c, "warnings", w);
	}
}

/* "upcall-cpu-1 (APIC ID 1), ..." for items of a fate, into buf. */
static void describe(const struct cpu_item *items, unsigned int n,
		     enum cpu_fate fate, bool names, char *buf, size_t len,
		     size_t *used)
{
	for (unsigned int i = 0; i < n; i++) {
		int w;

		if (items[i].fate != fate || *used >= len)
			continue;
		if (names && items[i].device[0])
			w = snprintf(buf + *used, len - *used, "%s%s (APIC ID %u)",
				     *used ? ", " : "", items[i].device, items[i].apic_id);
		else
			w = snprintf(buf + *used, len - *used, "%sAPIC ID %u",
				     *used ? ", " : "", items[i].apic_id);
		if (w > 0)
			*used += (size_t)w;
	}
}

static void text(struct ctl *c, const struct cpu_outcome *o)
{
	const struct cpu_plan *p = &o->plan;
	char buf[4096];
	size_t used = 0;

	if (cpu_plan_count(p, CPU_FATE_UNKNOWN)) {
		buf[0] = '\0';
		describe(p->item, p->n, CPU_FATE_UNKNOWN, o->qemu, buf, sizeof(buf), &used);
		describe(p->offer, p->noffer, CPU_FATE_UNKNOWN, o->qemu, buf, sizeof(buf), &used);
		fprintf(stderr, "%s: in an unknown state (the guest may or may not run on them%s): %s\n",
			c->prog, o->qemu ? "; left in QEMU" : "", buf);
	}
	if (cpu_plan_count(p, CPU_FATE_GIVEN_BACK)) {
		used = 0;
		buf[0] = '\0';
		describe(p->offer, p->noffer, CPU_FATE_GIVEN_BACK, o->qemu, buf,
			 sizeof(buf), &used);
		fprintf(stderr, "%s: the guest took these kept vCPUs and released them again: %s\n",
			c->prog, buf);
	}
	for (unsigned int i = 0; i < o->nwarnings; i++)
		fprintf(stderr, "%s: warning: %s\n", c->prog, o->warnings[i]);
	if (o->status.code != CTL_OK || !o->planned)
		return;
	if (!o->qemu) {
		printf("guest %s %u vCPU(s)\n", o->add ? "added" : "removed", p->n);
		return;
	}
	for (unsigned int i = 0; i < p->noffer; i++)
		if (p->offer[i].fate == CPU_FATE_ADDED)
			printf("guest took back vCPU with APIC ID %u\n", p->offer[i].apic_id);
	for (unsigned int i = 0; i < p->n; i++) {
		const struct cpu_item *it = &p->item[i];

		if (it->fate == CPU_FATE_ADDED)
			printf("added vCPU %s (APIC ID %u)\n", it->device, it->apic_id);
		else if (it->fate == CPU_FATE_RELEASED)
			printf("removed vCPU %s (APIC ID %u) from the guest\n",
			       it->device, it->apic_id);
	}
}

int cpu_present(struct ctl *c, const struct cpu_outcome *o, const char *usage)
{
	json_object_object_add(c->result, "command",
			       json_object_new_string(o->add ? "cpu add" : "cpu del"));
	/* The cause first, then what it left behind. */
	ctl_report(c, &o->status, usage);
	if (c->json && o->planned)
		json_keys(c, o);
	else
		text(c, o);
	return o->status.code;
}

/* SPDX-License-Identifier: MIT */
/* QEMU vCPU slots through QMP: list, plug, unplug. */
#ifndef UPCALL_CTL_VCPU_H
#define UPCALL_CTL_VCPU_H

#include <stdbool.h>

#include "qmp.h"

#define VCPU_ID_PREFIX "upcall-cpu-"
#define VCPU_PERIPHERAL "/machine/peripheral/"

struct vcpu_slot {
	char type[64];          /* CPU model's QOM type, for device_add */
	json_object *props;     /* socket-id, core-id, thread-id... (owned) */
	bool plugged;
	bool hotplugged;        /* added with device_add (has an id) */
	char qom_path[256];
	char id[64];            /* device id of a hot-added vCPU */
	long apic_id;           /* QEMU's value when plugged, else predicted */
};

struct vcpu_list {
	struct vcpu_slot *slots;
	size_t n;
};

/* query-hotpluggable-cpus, then the APIC ID of each slot: read with
 * qom-get for plugged vCPUs, computed from the topology for free slots. */
int vcpu_list_get(struct qmp *q, struct vcpu_list *l);

/*
 * APIC IDs QEMU gave plugged vCPUs, kept across the commands of a batch
 * (held.h). A vCPU's APIC ID follows from its slot (QEMU computes it from
 * the slot's socket/die/core/thread ids), so an entry is keyed by QOM path
 * and the slot's props together: the same path in the same slot has the
 * same APIC ID, whatever was unplugged and plugged meanwhile; anything
 * else is asked again.
 */
#define VCPU_CACHE_MAX 256
struct vcpu_apic_cache {
	struct {
		char qom_path[256];
		char props[256];     /* the slot's props, as JSON text */
		long apic_id;
	} e[VCPU_CACHE_MAX];
	unsigned int n;
};

/* vcpu_list_get(), asking QEMU (qom-get) only for the APIC IDs the cache
 * (may be NULL) does not hold, and adding those to it. */
int vcpu_list_get_cached(struct qmp *q, struct vcpu_list *l,
			 struct vcpu_apic_cache *cache);
void vcpu_list_free(struct vcpu_list *l);
/* device_add the slot as VCPU_ID_PREFIX<apic id>, then read its real APIC
 * ID back with qom-get. */
int vcpu_plug(struct qmp *q, struct vcpu_slot *s);
/* The name DEVICE_DELETED will carry for this vCPU. */
const char *vcpu_device_name(const struct vcpu_slot *s);

#endif /* UPCALL_CTL_VCPU_H */

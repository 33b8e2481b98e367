// SPDX-License-Identifier: MIT
/*
 * QEMU vCPU slots. query-hotpluggable-cpus lists every possible vCPU with
 * its topology properties; the plugged ones carry a qom-path. An x86 APIC
 * ID packs the topology IDs into bit fields whose widths follow from the
 * counts (QEMU's apicid_from_topo_ids); the counts are the highest IDs the
 * slots use plus one. The prediction only names the device and matches
 * --apic-id: the value sent to the guest is always read back from QEMU.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vcpu.h"

static long prop(json_object *props, const char *name)
{
	json_object *v;

	if (!props || !json_object_object_get_ex(props, name, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	return (long)json_object_get_int64(v);
}

/* Bits needed for IDs 0..count-1. */
static int width_for(long count)
{
	int w = 0;

	while (count > 1 && (1L << w) < count)
		w++;
	return w;
}

static int qom_get_apic_id(struct qmp *q, const char *path, long *apic)
{
	json_object *args = json_object_new_object();
	json_object *ret = NULL;
	int err;

	json_object_object_add(args, "path", json_object_new_string(path));
	json_object_object_add(args, "property", json_object_new_string("apic-id"));
	err = qmp_execute(q, "qom-get", args, &ret);
	if (err)
		return err;
	if (!json_object_is_type(ret, json_type_int)) {
		json_object_put(ret);
		return -EPROTO;
	}
	*apic = (long)json_object_get_int64(ret);
	json_object_put(ret);
	return 0;
}

static const char *props_text(const struct vcpu_slot *s)
{
	return json_object_to_json_string_ext(s->props, JSON_C_TO_STRING_PLAIN);
}

/* The index of a plugged slot's cache entry, or -1. */
static int cache_find(const struct vcpu_apic_cache *c, const struct vcpu_slot *s)
{
	const char *props = props_text(s);

	for (unsigned int i = 0; c && i < c->n; i++)
		if (!strcmp(c->e[i].qom_path, s->qom_path) && !strcmp(c->e[i].props, props))
			return (int)i;
	return -1;
}

static void cache_add(struct vcpu_apic_cache *c, const struct vcpu_slot *s)
{
	const char *props = props_text(s);
	int i = cache_find(c, s);

	if (!c || i >= 0 || c->n >= VCPU_CACHE_MAX ||
	    strlen(props) >= sizeof(c->e[0].props))
		return; /* not kept: asked again next time */
	/* The same path in another slot is stale: replaced. */
	for (i = 0; i < (int)c->n; i++)
		if (!strcmp(c->e[i].qom_path, s->qom_path))
			break;
	if (i == (int)c->n)
		c->n++;
	snprintf(c->e[i].qom_path, sizeof(c->e[i].qom_path), "%s", s->qom_path);
	snprintf(c->e[i].props, sizeof(c->e[i].props), "%s", props);
	c->e[i].apic_id = s->apic_id;
}

/* QEMU's APIC ID of every plugged vCPU: from the cache when it has the
 * vCPU, else one qom-get each (a QMP round trip, 1-3 ms on a busy host). */
static int plugged_apic_ids(struct qmp *q, struct vcpu_list *l,
			    struct vcpu_apic_cache *cache)
{
	for (size_t i = 0; i < l->n; i++) {
		struct vcpu_slot *s = &l->slots[i];
		int hit, err;

		if (!s->plugged)
			continue;
		hit = cache_find(cache, s);
		if (hit >= 0) {
			s->apic_id = cache->e[hit].apic_id;
			continue;
		}
		err = qom_get_apic_id(q, s->qom_path, &s->apic_id);
		if (err)
			return err;
		cache_add(cache, s);
	}
	return 0;
}

void vcpu_list_free(struct vcpu_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		json_object_put(l->slots[i].props);
	free(l->slots);
	l->slots = NULL;
	l->n = 0;
}

int vcpu_list_get(struct qmp *q, struct vcpu_list *l)
{
	return vcpu_list_get_cached(q, l, NULL);
}

int vcpu_list_get_cached(struct qmp *q, struct vcpu_list *l,
			 struct vcpu_apic_cache *cache)
{
	long max_thread = 0, max_core = 0, max_die = 0;
	int tw, cw, dw;
	json_object *ret = NULL;
	size_t n;
	int err;

	memset(l, 0, sizeof(*l));
	err = qmp_execute(q, "query-hotpluggable-cpus", NULL, &ret);
	if (err)
		return err;
	if (!json_object_is_type(ret, json_type_array)) {
		json_object_put(ret);
		return -EPROTO;
	}
	n = json_object_array_length(ret);
	l->slots = calloc(n ? n : 1, sizeof(*l->slots));
	if (!l->slots) {
		json_object_put(ret);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(ret, i);
		struct vcpu_slot *s = &l->slots[l->n];
		json_object *v;

		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "type", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    !json_object_object_get_ex(e, "props", &s->props) ||
		    !json_object_is_type(s->props, json_type_object)) {
			s->props = NULL;
			continue;
		}
		snprintf(s->type, sizeof(s->type), "%s", json_object_get_string(v));
		json_object_get(s->props);
		if (json_object_object_get_ex(e, "qom-path", &v) &&
		    json_object_is_type(v, json_type_string)) {
			const char *p = json_object_get_string(v);

			s->plugged = true;
			snprintf(s->qom_path, sizeof(s->qom_path), "%s", p);
			if (!strncmp(p, VCPU_PERIPHERAL, strlen(VCPU_PERIPHERAL)) &&
			    !strchr(p + strlen(VCPU_PERIPHERAL), '/')) {
				s->hotplugged = true;
				snprintf(s->id, sizeof(s->id), "%s",
					 p + strlen(VCPU_PERIPHERAL));
			}
		}
		if (prop(s->props, "thread-id") > max_thread)
			max_thread = prop(s->props, "thread-id");
		if (prop(s->props, "core-id") > max_core)
			max_core = prop(s->props, "core-id");
		if (prop(s->props, "die-id") > max_die)
			max_die = prop(s->props, "die-id");
		l->n++;
	}
	json_object_put(ret);

	tw = width_for(max_thread + 1);
	cw = width_for(max_core + 1);
	dw = width_for(max_die + 1);
	for (size_t i = 0; i < l->n; i++) {
		struct vcpu_slot *s = &l->slots[i];
		long t = prop(s->props, "thread-id"), c = prop(s->props, "core-id");
		long d = prop(s->props, "die-id"), so = prop(s->props, "socket-id");

		if (s->plugged)
			continue; /* QEMU's word, below */
		if (so < 0) {
			s->apic_id = -1; /* not an x86 topology we know */
			continue;
		}
		s->apic_id = (so << (tw + cw + dw)) | ((d < 0 ? 0 : d) << (tw + cw)) |
			     ((c < 0 ? 0 : c) << tw) | (t < 0 ? 0 : t);
	}
	err = plugged_apic_ids(q, l, cache);
	if (err)
		vcpu_list_free(l);
	return err;
}

int vcpu_plug(struct qmp *q, struct vcpu_slot *s)
{
	json_object *args = json_object_new_object();
	char path[sizeof(VCPU_PERIPHERAL) + sizeof(s->id)];
	long apic;
	int err;

	snprintf(s->id, sizeof(s->id), VCPU_ID_PREFIX "%ld", s->apic_id);
	json_object_object_add(args, "driver", json_object_new_string(s->type));
	json_object_object_add(args, "id", json_object_new_string(s->id));
	json_object_object_foreach(s->props, key, val)
		json_object_object_add(args, key, json_object_get(val));
	err = qmp_execute(q, "device_add", args, NULL);
	if (err) {
		s->id[0] = '\0';
		return err;
	}
	s->plugged = true;
	s->hotplugged = true;
	snprintf(path, sizeof(path), VCPU_PERIPHERAL "%s", s->id);
	snprintf(s->qom_path, sizeof(s->qom_path), "%s", path);
	err = qom_get_apic_id(q, path, &apic);
	if (err)
		return err;
	s->apic_id = apic;
	return 0;
}

const char *vcpu_device_name(const struct vcpu_slot *s)
{
	return s->id[0] ? s->id : s->qom_path;
}

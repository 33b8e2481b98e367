// SPDX-License-Identifier: MIT
/*
 * upcall-ctl mem, QEMU's side: the DIMMs QEMU has (query-memory-devices),
 * plugging a pc-dimm backed by a shared memfd, and device_del.
 *
 * The backend must be shared (share=on) and fd-based: the vhost-user vsock
 * backend maps every RAM region QEMU tells it about, hot-added DIMMs
 * included, through the fd QEMU passes with the new memory table.
 *
 * QEMU's pc machine plugs a DIMM through its ACPI memory hotplug device:
 * device_add needs nothing from the guest (QEMU maps the RAM and picks the
 * address), but device_del only raises an ACPI event and waits for the
 * guest's ACPI eject, which a guest without ACPI never does. The DIMM then
 * stays in QEMU, mapped and with its RAM, until the VM ends; a second
 * device_del is refused. mem.c reuses such a DIMM on the next add of the
 * same size.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "mem.h"

int mem_parse_size(const char *s, uint64_t *bytes)
{
	unsigned long long n;
	unsigned int shift;
	const char *u;
	char *end;

	if (!s || !*s || *s < '0' || *s > '9')
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		uint64_t x;
		int err = ctl_parse_u64(s, &x);

		if (err)
			return err;
		if (!x)
			return -EINVAL;
		*bytes = x;
		return 0;
	}
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || end == s)
		return -EINVAL;
	u = end;
	switch (*u) {
	case '\0': shift = 0; break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: return -EINVAL;
	}
	if (*u) {
		u++;
		if (!strcmp(u, "iB") || !strcmp(u, "B"))
			u += strlen(u);
		if (*u)
			return -EINVAL;
	}
	if (n == 0)
		return -EINVAL;
	if (shift && n > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = (uint64_t)n << shift;
	return 0;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* QEMU prints sizes and addresses as JSON integers, up to 2^64 - 1. */
static bool get_u64(json_object *o, const char *key, uint64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return false;
	errno = 0;
	*out = json_object_get_uint64(v);
	return errno == 0;
}

int mem_qemu_read_map(struct qmp *q, struct mem_qemu_map *m)
{
	json_object *ret = NULL;
	int err;

	memset(m, 0, sizeof(*m));
	err = qmp_execute(q, "query-memory-devices", NULL, &ret);
	if (err)
		return err;
	for (size_t i = 0; i < json_object_array_length(ret) && m->n < MEM_MAX_DIMMS; i++) {
		json_object *dev = json_object_array_get_idx(ret, i), *data;
		const char *type = get_str(dev, "type"), *id;
		struct mem_dimm *d = &m->dimm[m->n];

		/* pc-dimm only; nvdimm, virtio-mem etc. are not ours to touch */
		if (!type || strcmp(type, "dimm") ||
		    !json_object_object_get_ex(dev, "data", &data) ||
		    !get_u64(data, "addr", &d->addr) || !get_u64(data, "size", &d->size))
			continue;
		id = get_str(data, "id");
		snprintf(d->id, sizeof(d->id), "%s", id ? id : "");
		d->ours = !strncmp(d->id, MEM_DIMM_PREFIX, sizeof(MEM_DIMM_PREFIX) - 1);
		m->n++;
	}
	json_object_put(ret);
	return 0;
}

int mem_qemu_find_id(const struct mem_qemu_map *m, const char *id)
{
	for (unsigned int i = 0; i < m->n; i++)
		if (!strcmp(m->dimm[i].id, id))
			return (int)i;
	return -1;
}

int mem_qemu_find_range(const struct mem_qemu_map *m, uint64_t base,
			uint64_t size)
{
	for (unsigned int i = 0; i < m->n; i++)
		if (m->dimm[i].addr == base && m->dimm[i].size == size)
			return (int)i;
	return -1;
}

static void delete_object(struct qmp *q, const char *id)
{
	json_object *args = json_object_new_object();

	json_object_object_add(args, "id", json_object_new_string(id));
	/* Best effort: the caller reports the error that made it clean up. */
	(void)qmp_execute(q, "object-del", args, NULL);
}

int mem_qemu_plug(struct qmp *q, const struct mem_qemu_map *m, uint64_t size,
		  char *id, size_t idlen, uint64_t *addr, char *why,
		  size_t whylen)
{
	struct mem_qemu_map *after;
	char backend[64], want[64];
	json_object *args;
	unsigned int n;
	int err, i;

	/* The lowest N whose DIMM id is free (its backend went with it) */
	for (n = 0; n < MEM_MAX_DIMMS; n++) {
		snprintf(want, sizeof(want), MEM_DIMM_PREFIX "%u", n);
		if (mem_qemu_find_id(m, want) < 0)
			break;
	}
	if (n == MEM_MAX_DIMMS) {
		snprintf(why, whylen, "QEMU has %u DIMMs of ours already", n);
		return -ENOSPC;
	}
	snprintf(id, idlen, MEM_DIMM_PREFIX "%u", n);
	snprintf(backend, sizeof(backend), MEM_BACKEND_PREFIX "%u", n);

	args = json_object_new_object();
	json_object_object_add(args, "qom-type", json_object_new_string("memory-backend-memfd"));
	json_object_object_add(args, "id", json_object_new_string(backend));
	json_object_object_add(args, "size", json_object_new_uint64(size));
	json_object_object_add(args, "share", json_object_new_boolean(1));
	err = qmp_execute(q, "object-add", args, NULL);
	if (err) {
		snprintf(why, whylen, "object-add memory-backend-memfd %s: %s", backend,
			 qmp_last_error(q));
		return err;
	}

	args = json_object_new_object();
	json_object_object_add(args, "driver", json_object_new_string("pc-dimm"));
	json_object_object_add(args, "id", json_object_new_string(id));
	json_object_object_add(args, "memdev", json_object_new_string(backend));
	err = qmp_execute(q, "device_add", args, NULL);
	if (err) {
		snprintf(why, whylen, "device_add pc-dimm %s: %s", id, qmp_last_error(q));
		delete_object(q, backend);
		return err;
	}

	after = calloc(1, sizeof(*after));
	if (!after) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	err = mem_qemu_read_map(q, after);
	i = err ? -1 : mem_qemu_find_id(after, id);
	if (i < 0) {
		snprintf(why, whylen, "the new DIMM %s is not in query-memory-devices%s%s", id,
			 err ? ": " : "", err ? qmp_last_error(q) : "");
		free(after);
		return err ? err : -EPROTO;
	}
	*addr = after->dimm[i].addr;
	free(after);
	return 0;
}

int mem_qemu_unplug(struct qmp *q, const char *id, int wait_ms)
{
	char backend[64];
	int err;

	err = qmp_device_del_wait(q, id, wait_ms);
	if (err)
		return err;
	if (!strncmp(id, MEM_DIMM_PREFIX, sizeof(MEM_DIMM_PREFIX) - 1)) {
		snprintf(backend, sizeof(backend), MEM_BACKEND_PREFIX "%s",
			 id + sizeof(MEM_DIMM_PREFIX) - 1);
		delete_object(q, backend);
	}
	return 0;
}

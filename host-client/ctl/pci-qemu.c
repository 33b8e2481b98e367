// SPDX-License-Identifier: MIT
/*
 * upcall-ctl pci, QEMU's side: which slots of pci.0 hold what (query-pci,
 * query-block), plugging a virtio-blk-pci disk into a slot, and device_del.
 *
 * QEMU's pc machine hot-plugs on pci.0 through its ACPI PCI hotplug
 * controller. device_add needs nothing from the guest. device_del only
 * raises an ACPI event and waits for the guest's ACPI eject, which a guest
 * without ACPI never does: the device stays in QEMU, at its slot and with
 * its id and disk, until the VM ends. A second device_del is refused ("is
 * already in the process of unplug"), and the slot cannot take another
 * device. The device still answers, so the guest can take it back with
 * ADD_PCI: pci.c reuses such a device when the same disk is added again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pci.h"

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool get_int(json_object *o, const char *key, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

/* One entry of query-pci's "devices" list of bus 0. */
static void map_device(struct pci_qemu_map *m, json_object *d)
{
	int64_t slot, fn, v;
	json_object *o;
	struct pci_qemu_slot *s;

	if (!get_int(d, "slot", &slot) || !get_int(d, "function", &fn) ||
	    slot < 0 || slot >= (int64_t)PCI_SLOTS)
		return;
	s = &m->slot[slot];
	/* Any function makes the slot taken; function 0 names the device. */
	if (s->present && fn != 0)
		return;
	s->present = true;
	copy(s->id, sizeof(s->id), get_str(d, "qdev_id"));
	if (json_object_object_get_ex(d, "class_info", &o))
		copy(s->desc, sizeof(s->desc), get_str(o, "desc"));
	if (json_object_object_get_ex(d, "id", &o)) {
		if (get_int(o, "vendor", &v))
			s->vendor = (uint16_t)v;
		if (get_int(o, "device", &v))
			s->device = (uint16_t)v;
	}
}

/* "/machine/peripheral/<id>[/...]" -> the slot of <id>, or -1. */
static int slot_of_qdev_path(const struct pci_qemu_map *m, const char *path)
{
	static const char prefix[] = "/machine/peripheral/";
	char id[64];
	const char *end;
	size_t n;

	if (!path || strncmp(path, prefix, sizeof(prefix) - 1))
		return -1;
	path += sizeof(prefix) - 1;
	end = strchr(path, '/');
	n = end ? (size_t)(end - path) : strlen(path);
	if (n == 0 || n >= sizeof(id))
		return -1;
	memcpy(id, path, n);
	id[n] = '\0';
	return pci_qemu_find_id(m, id);
}

int pci_qemu_read_map(struct qmp *q, struct pci_qemu_map *m)
{
	json_object *ret = NULL, *devs;
	int err;

	memset(m, 0, sizeof(*m));
	err = qmp_execute(q, "query-pci", NULL, &ret);
	if (err)
		return err;
	for (size_t i = 0; i < json_object_array_length(ret); i++) {
		json_object *bus = json_object_array_get_idx(ret, i);
		int64_t nr;

		if (!get_int(bus, "bus", &nr) || nr != 0 ||
		    !json_object_object_get_ex(bus, "devices", &devs))
			continue;
		for (size_t k = 0; k < json_object_array_length(devs); k++)
			map_device(m, json_object_array_get_idx(devs, k));
	}
	json_object_put(ret);

	ret = NULL;
	err = qmp_execute(q, "query-block", NULL, &ret);
	if (err)
		return err;
	for (size_t i = 0; i < json_object_array_length(ret); i++) {
		json_object *b = json_object_array_get_idx(ret, i), *ins;
		int slot = slot_of_qdev_path(m, get_str(b, "qdev"));

		if (slot < 0 || !json_object_object_get_ex(b, "inserted", &ins))
			continue;
		copy(m->slot[slot].file, sizeof(m->slot[slot].file), get_str(ins, "file"));
	}
	json_object_put(ret);
	return 0;
}

int pci_qemu_find_id(const struct pci_qemu_map *m, const char *id)
{
	for (unsigned int s = 0; s < PCI_SLOTS; s++)
		if (m->slot[s].present && !strcmp(m->slot[s].id, id))
			return (int)s;
	return -1;
}

int pci_qemu_find_file(const struct pci_qemu_map *m, const char *file)
{
	for (unsigned int s = 0; s < PCI_SLOTS; s++)
		if (m->slot[s].present && !strcmp(m->slot[s].file, file))
			return (int)s;
	return -1;
}

int pci_qemu_free_slot(const struct pci_qemu_map *m)
{
	for (unsigned int s = 0; s < PCI_SLOTS; s++)
		if (!m->slot[s].present)
			return (int)s;
	return -1;
}

static void node_name(char *buf, size_t len, const char *id)
{
	snprintf(buf, len, "%s-drive", id);
}

static void delete_node(struct qmp *q, const char *node)
{
	json_object *args = json_object_new_object();

	json_object_object_add(args, "node-name", json_object_new_string(node));
	/* Best effort: the caller reports the error that made it clean up. */
	(void)qmp_execute(q, "blockdev-del", args, NULL);
}

int pci_qemu_plug_disk(struct qmp *q, unsigned int slot, const char *file,
		       char *id, size_t idlen, char *why, size_t whylen)
{
	json_object *args, *f;
	char node[96], addr[8];
	int err;

	snprintf(id, idlen, PCI_ID_PREFIX "%02x", slot);
	node_name(node, sizeof(node), id);
	snprintf(addr, sizeof(addr), "0x%x", slot);

	f = json_object_new_object();
	json_object_object_add(f, "driver", json_object_new_string("file"));
	json_object_object_add(f, "filename", json_object_new_string(file));
	args = json_object_new_object();
	json_object_object_add(args, "node-name", json_object_new_string(node));
	json_object_object_add(args, "driver", json_object_new_string("raw"));
	json_object_object_add(args, "file", f);
	err = qmp_execute(q, "blockdev-add", args, NULL);
	if (err) {
		snprintf(why, whylen, "blockdev-add of %s: %s", file, qmp_last_error(q));
		return err;
	}

	args = json_object_new_object();
	json_object_object_add(args, "driver", json_object_new_string("virtio-blk-pci"));
	json_object_object_add(args, "drive", json_object_new_string(node));
	json_object_object_add(args, "id", json_object_new_string(id));
	json_object_object_add(args, "bus", json_object_new_string("pci.0"));
	json_object_object_add(args, "addr", json_object_new_string(addr));
	err = qmp_execute(q, "device_add", args, NULL);
	if (err) {
		/* QEMU's reason for device_add, before blockdev-del replaces it */
		snprintf(why, whylen, "device_add virtio-blk-pci at pci.0 slot %#x: %s",
			 slot, qmp_last_error(q));
		delete_node(q, node);
		return err;
	}
	return 0;
}

int pci_qemu_unplug(struct qmp *q, const char *id, int wait_ms)
{
	char node[96];
	int err;

	err = qmp_device_del_wait(q, id, wait_ms);
	if (err)
		return err;
	if (!strncmp(id, PCI_ID_PREFIX, sizeof(PCI_ID_PREFIX) - 1)) {
		node_name(node, sizeof(node), id);
		delete_node(q, node);
	}
	return 0;
}

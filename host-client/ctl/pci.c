// SPDX-License-Identifier: MIT
/*
 * upcall-ctl pci add|del: tell the guest to scan (ADD_PCI) or remove
 * (DEL_PCI) one slot of a PCI bus. With --qmp, QEMU's side too: add plugs
 * a virtio-blk-pci disk (--disk FILE) into a free slot of pci.0 first, or
 * names a device QEMU already has (--device ID); del asks QEMU to unplug
 * the device after the guest let it go. pci-qemu.c talks to QEMU.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "interrupt.h"
#include "pci.h"

/* How long pci del waits for QEMU's DEVICE_DELETED by default (capped by
 * --timeout). QEMU's pc machine never sends it for an ACPI-free guest. */
#define PCI_UNPLUG_WAIT_MS 1000

static const char pci_usage[] =
	"Usage: upcall-ctl [OPTIONS] pci add [--slot BB:DD.F | --bus B --devfn D]\n"
	"                                    [--disk FILE | --device ID]\n"
	"       upcall-ctl [OPTIONS] pci del --slot BB:DD.F | --bus B --devfn D |\n"
	"                                    --disk FILE | --device ID\n"
	"\n"
	"add: the guest scans the slot and adds the device it finds there (ADD_PCI).\n"
	"del: the guest stops and removes the device in the slot (DEL_PCI).\n"
	"The slot is on PCI domain 0; the guest works on whole slots (function 0).\n"
	"\n"
	"With --qmp (or --run), QEMU's side too:\n"
	"  add --disk FILE   plug a virtio-blk-pci disk backed by FILE (raw) into\n"
	"                    the lowest free slot of pci.0 (or --slot), then ADD_PCI;\n"
	"                    if the guest refuses, QEMU is asked to unplug it again.\n"
	"                    A disk left in QEMU by an earlier pci del is reused.\n"
	"  add --device ID   the slot of QEMU device ID on pci.0, then ADD_PCI\n"
	"  del               DEL_PCI, then device_del of QEMU's device in the slot\n"
	"                    (found by --slot, --disk or --device)\n"
	"QEMU's pc machine cannot finish an unplug for a guest without ACPI: the\n"
	"device stays in QEMU, in its slot, and a later add of it reuses it.\n"
	"\n"
	"  --slot BB:DD.F        bus, slot (device) and function in hex, as lspci\n"
	"                        prints them (a domain 0000: prefix is accepted)\n"
	"  --bus B --devfn D     the same as numbers (devfn = slot << 3 | function)\n"
	"  --disk FILE           raw disk image for a virtio-blk-pci device\n"
	"  --device ID           QEMU device id\n"
	"  --unplug-wait SECS    how long del waits for QEMU's DEVICE_DELETED\n"
	"                        (default 1, at most --timeout; 0: do not wait)\n"
	"  -h, --help            this text\n";

struct pci_args {
	bool add;
	bool have_slot;
	uint8_t bus, devfn;
	const char *disk;
	char disk_path[PATH_MAX];
	const char *device;
	int unplug_wait_ms;
};

static void slot_name(char *buf, size_t len, uint8_t bus, uint8_t devfn)
{
	snprintf(buf, len, "%02x:%02x.%u", bus, devfn >> 3, devfn & 7u);
}

/* "[0000:]BB:DD.F", hex, domain 0 only. */
static int parse_slot(const char *s, uint8_t *bus, uint8_t *devfn)
{
	unsigned int dom = 0, b, d, f;
	char tail;

	if (sscanf(s, "%4x:%2x:%2x.%1u%c", &dom, &b, &d, &f, &tail) != 4) {
		dom = 0;
		if (sscanf(s, "%2x:%2x.%1u%c", &b, &d, &f, &tail) != 3)
			return -EINVAL;
	}
	if (dom != 0 || b > 0xff || d > 0x1f || f > 7 || strchr(s, ' ') ||
	    strchr(s, '-') || strchr(s, '+'))
		return -EINVAL;
	*bus = (uint8_t)b;
	*devfn = (uint8_t)(d << 3 | f);
	return 0;
}

static int parse_args(struct ctl *c, int argc, char **argv, struct pci_args *a)
{
	static const struct option opts[] = {
		{ "slot", required_argument, NULL, 's' },
		{ "bus", required_argument, NULL, 'b' },
		{ "devfn", required_argument, NULL, 'f' },
		{ "disk", required_argument, NULL, 'k' },
		{ "device", required_argument, NULL, 'd' },
		{ "unplug-wait", required_argument, NULL, 'w' },
		CTL_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	bool have_bus = false, have_devfn = false, have_slot = false;
	uint32_t v;
	int opt;

	a->unplug_wait_ms = -1;
	optind = 0;
	while ((opt = getopt_long(argc, argv, CTL_GLOBAL_SHORTOPTS, opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (parse_slot(optarg, &a->bus, &a->devfn))
				return ctl_usage_error(c, NULL,
						       "--slot: want BB:DD.F in hex (bus, slot 00-1f, function 0-7) on domain 0000, not '%s'",
						       optarg);
			have_slot = true;
			break;
		case 'b':
			if (ctl_parse_u32(optarg, &v) || v > 0xff)
				return ctl_usage_error(c, NULL, "--bus: want 0..255, not '%s'", optarg);
			a->bus = (uint8_t)v;
			have_bus = true;
			break;
		case 'f':
			if (ctl_parse_u32(optarg, &v) || v > 0xff)
				return ctl_usage_error(c, NULL, "--devfn: want 0..255, not '%s'", optarg);
			a->devfn = (uint8_t)v;
			have_devfn = true;
			break;
		case 'k':
			a->disk = optarg;
			break;
		case 'd':
			a->device = optarg;
			break;
		case 'w': {
			double s;

			if (ctl_parse_seconds(optarg, &s))
				return ctl_usage_error(c, NULL, "--unplug-wait: bad value '%s'", optarg);
			a->unplug_wait_ms = (int)(s * 1000.0);
			break;
		}
		case 'h':
			return -1;
		case '?':
			return ctl_usage_error(c, pci_usage, "pci %s: bad option", argv[0]);
		default:
			if (ctl_global_option(c, opt, optarg))
				return CTL_EUSAGE;
		}
	}
	if (optind < argc)
		return ctl_usage_error(c, pci_usage, "unexpected argument '%s'", argv[optind]);
	if (have_slot && (have_bus || have_devfn))
		return ctl_usage_error(c, pci_usage, "give either --slot or --bus/--devfn");
	if (have_bus != have_devfn)
		return ctl_usage_error(c, pci_usage, "--bus and --devfn go together");
	if (a->disk && a->device)
		return ctl_usage_error(c, pci_usage, "give either --disk or --device");
	a->have_slot = have_slot || have_bus;
	if (a->disk && !realpath(a->disk, a->disk_path))
		return ctl_usage_error(c, NULL, "--disk: %s: %s", a->disk, strerror(errno));
	return CTL_OK;
}

static void slot_json(struct ctl *c, uint8_t bus, uint8_t devfn)
{
	json_object *o = json_object_new_object();
	char name[16];

	slot_name(name, sizeof(name), bus, devfn);
	json_object_object_add(o, "slot", json_object_new_string(name));
	json_object_object_add(o, "bus", json_object_new_int(bus));
	json_object_object_add(o, "devfn", json_object_new_int(devfn));
	json_object_object_add(c->result, "pci", o);
}

/*
 * One ADD_PCI or DEL_PCI. CTL_OK with *ret set when the guest answered
 * (ret may be a refusal); otherwise the failure is reported.
 */
static int guest_request(struct ctl *c, bool add, uint8_t bus, uint8_t devfn,
			 int *ret)
{
	struct upcall_reply r;
	struct upcall *h;
	json_object *o;
	int rc, err;

	rc = ctl_open_devmgr(c, &h);
	if (rc)
		return rc;
	err = add ? upcall_pci_add(h, bus, devfn, &r) : upcall_pci_del(h, bus, devfn, &r);
	if (err) {
		rc = ctl_error(c, CTL_ECONN, err, "%s", upcall_last_error(h));
		upcall_free(h);
		return rc;
	}
	upcall_free(h);
	o = json_object_new_object();
	json_object_object_add(o, "ret", json_object_new_int(r.ret));
	json_object_object_add(c->result, "guest", o);
	*ret = r.ret;
	return CTL_OK;
}

static int refused(struct ctl *c, bool add, uint8_t bus, uint8_t devfn, int ret)
{
	char name[16];

	slot_name(name, sizeof(name), bus, devfn);
	return ctl_error(c, CTL_EGUEST, ret, "guest refused %s of %s: %s (%d)",
			 add ? "ADD_PCI" : "DEL_PCI", name, upcall_strerror(ret), ret);
}

/* Without QMP: only the guest is told; the slot was given. */
static int guest_only(struct ctl *c, struct pci_args *a)
{
	char name[16];
	int rc, ret;

	slot_json(c, a->bus, a->devfn);
	rc = guest_request(c, a->add, a->bus, a->devfn, &ret);
	if (rc)
		return rc;
	if (ret)
		return refused(c, a->add, a->bus, a->devfn, ret);
	slot_name(name, sizeof(name), a->bus, a->devfn);
	ctl_info(c, "guest %s PCI %s", a->add ? "added" : "removed", name);
	return CTL_OK;
}

/*
 * After a failed add: ask QEMU to take back the disk we plugged. On pc it
 * stays (see pci-qemu.c); the same disk's next add reuses it.
 */
static void roll_back(struct ctl *c, struct pci_args *a, struct qmp *q,
		      const char *id, unsigned int slot)
{
	int err = pci_qemu_unplug(q, id, a->unplug_wait_ms);

	if (!err) {
		json_object_object_add(c->result, "rolled_back", json_object_new_string(id));
		return;
	}
	json_object_object_add(c->result, "left_behind", json_object_new_string(id));
	if (err == -ETIMEDOUT)
		ctl_warn(c, "QEMU keeps %s in slot %02x of pci.0 (its unplug needs the guest's ACPI); "
		     "'pci add --disk %s' reuses it", id, slot, a->disk_path);
	else
		ctl_warn(c, "device_del %s: %s; it stays in QEMU", id, qmp_last_error(q));
}

/* The QEMU device and slot pci add|del means, from --device, --disk or
 * --slot. CTL_OK with *slot < 0 when only a new disk names nothing yet. */
static int resolve(struct ctl *c, struct pci_args *a, const struct pci_qemu_map *m,
		   int *slot)
{
	*slot = -1;
	if (a->device) {
		*slot = pci_qemu_find_id(m, a->device);
		if (*slot < 0)
			return ctl_error(c, CTL_EVMM, ENODEV,
					 "QEMU has no device '%s' on pci.0", a->device);
	} else if (a->disk) {
		*slot = pci_qemu_find_file(m, a->disk_path);
		if (*slot < 0 && !a->add)
			return ctl_error(c, CTL_EVMM, ENODEV,
					 "QEMU has no device on pci.0 backed by %s", a->disk_path);
	} else if (a->bus == 0) {
		*slot = a->devfn >> 3;
	}
	if (*slot >= 0 && a->have_slot && (a->bus != 0 || a->devfn != (uint8_t)(*slot << 3)))
		return ctl_usage_error(c, NULL, "%s is in slot 00:%02x.0 of QEMU's pci.0, not the one given",
				       a->device ? a->device : a->disk_path, *slot);
	return CTL_OK;
}

static int qemu_add(struct ctl *c, struct pci_args *a, struct qmp *q,
		    const struct pci_qemu_map *m)
{
	char id[64] = "", why[768], name[16];
	bool created = false, reused = false;
	int slot, rc, ret, err;

	rc = resolve(c, a, m, &slot);
	if (rc)
		return rc;
	if (a->disk && slot >= 0) {
		reused = true;
		snprintf(id, sizeof(id), "%s", m->slot[slot].id);
	} else if (a->disk) {
		if (a->have_slot) {
			if (a->bus != 0 || (a->devfn & 7u))
				return ctl_usage_error(c, NULL,
						       "--disk goes into a slot of pci.0 (bus 00, function 0)");
			slot = a->devfn >> 3;
			if (m->slot[slot].present)
				return ctl_error(c, CTL_EVMM, EBUSY,
						 "slot %02x of pci.0 holds %s%s%s",
						 slot, m->slot[slot].desc,
						 m->slot[slot].id[0] ? " " : "", m->slot[slot].id);
		} else {
			slot = pci_qemu_free_slot(m);
			if (slot < 0)
				return ctl_error(c, CTL_EVMM, ENOSPC, "no free slot on pci.0");
		}
		err = pci_qemu_plug_disk(q, (unsigned int)slot, a->disk_path, id, sizeof(id),
					 why, sizeof(why));
		if (err)
			return ctl_error(c, CTL_EVMM, err, "%s", why);
		created = true;
	} else if (slot >= 0) {
		snprintf(id, sizeof(id), "%s", m->slot[slot].id);
	} else if (!a->have_slot) {
		return ctl_usage_error(c, pci_usage,
				       "pci add needs --disk, --device or --slot/--bus/--devfn");
	}
	if (slot >= 0) {
		a->bus = 0;
		if (!a->have_slot)
			a->devfn = (uint8_t)(slot << 3);
	}
	slot_json(c, a->bus, a->devfn);
	if (id[0])
		json_object_object_add(c->result, "device", json_object_new_string(id));
	if (a->disk) {
		json_object_object_add(c->result, "disk", json_object_new_string(a->disk_path));
		json_object_object_add(c->result, "reused", json_object_new_boolean(reused));
	}

	if (ctl_interrupted()) {
		struct ctl_status st = { 0 };

		if (created)
			roll_back(c, a, q, id, (unsigned int)slot);
		ctl_interrupt_fail(&st, "stopped before ADD_PCI was sent: the guest was told nothing%s",
				   created ? "; removing the device this run created" : "");
		return ctl_report(c, &st, NULL);
	}
	rc = guest_request(c, true, a->bus, a->devfn, &ret);
	if (rc || ret) {
		if (created)
			roll_back(c, a, q, id, (unsigned int)slot);
		if (rc)
			return rc;
		if (reused && ret == -EEXIST)
			return ctl_error(c, CTL_EGUEST, ret,
					 "%s is already plugged: the guest has slot 00:%02x.0 (%s)",
					 a->disk_path, slot, id);
		return refused(c, true, a->bus, a->devfn, ret);
	}
	slot_name(name, sizeof(name), a->bus, a->devfn);
	if (a->disk)
		ctl_info(c, "guest added PCI %s: virtio-blk-pci %s (%s%s)", name, id,
			 a->disk_path, reused ? ", reused" : "");
	else
		ctl_info(c, "guest added PCI %s%s%s", name, id[0] ? ": " : "", id);
	return CTL_OK;
}

static int qemu_del(struct ctl *c, struct pci_args *a, struct qmp *q,
		    const struct pci_qemu_map *m)
{
	const char *id = NULL;
	char name[16];
	int slot, rc, ret, err;

	if (!a->have_slot && !a->disk && !a->device)
		return ctl_usage_error(c, pci_usage,
				       "pci del needs --slot/--bus/--devfn, --disk or --device");
	rc = resolve(c, a, m, &slot);
	if (rc)
		return rc;
	if (slot >= 0) {
		a->bus = 0;
		if (!a->have_slot)
			a->devfn = (uint8_t)(slot << 3);
		if (m->slot[slot].present && m->slot[slot].id[0])
			id = m->slot[slot].id;
	}
	slot_json(c, a->bus, a->devfn);
	if (id)
		json_object_object_add(c->result, "device", json_object_new_string(id));

	if (ctl_interrupted()) {
		struct ctl_status st = { 0 };

		ctl_interrupt_fail(&st, "stopped before DEL_PCI was sent: nothing was done");
		return ctl_report(c, &st, NULL);
	}
	rc = guest_request(c, false, a->bus, a->devfn, &ret);
	if (rc)
		return rc;
	if (ret)
		return refused(c, false, a->bus, a->devfn, ret);
	slot_name(name, sizeof(name), a->bus, a->devfn);
	ctl_info(c, "guest removed PCI %s", name);

	if (!id) {
		if (slot >= 0 && m->slot[slot].present)
			ctl_warn(c, "QEMU's device in slot %02x has no id: it cannot be asked to unplug it",
			     slot);
		return CTL_OK;
	}
	err = pci_qemu_unplug(q, id, a->unplug_wait_ms);
	if (!err) {
		json_object_object_add(c->result, "qemu", json_object_new_string("removed"));
		ctl_info(c, "QEMU removed %s", id);
	} else if (err == -ETIMEDOUT) {
		json_object_object_add(c->result, "qemu", json_object_new_string("left_behind"));
		ctl_warn(c, "QEMU keeps %s in slot %02x of pci.0: it finishes an unplug only "
		     "through the guest's ACPI; adding the same device again reuses it", id, slot);
	} else {
		json_object_object_add(c->result, "qemu", json_object_new_string("unplug_failed"));
		ctl_warn(c, "device_del %s: %s", id, qmp_last_error(q));
	}
	return CTL_OK;
}

/* QEMU's side and the guest's, with a map of QEMU's slots */
static int with_qemu(struct ctl *c, struct pci_args *a)
{
	struct pci_qemu_map *m;
	struct qmp *q;
	char errbuf[512];
	int rc, err;

	q = qmp_open(c->qmp, c->timeout_ms, &err, errbuf, sizeof(errbuf));
	if (!q)
		return ctl_error(c, CTL_EVMM, err, "%s", errbuf);
	m = calloc(1, sizeof(*m));
	if (!m) {
		qmp_close(q);
		return ctl_error(c, CTL_EVMM, ENOMEM, "out of memory");
	}
	err = pci_qemu_read_map(q, m);
	if (err)
		rc = ctl_error(c, CTL_EVMM, err, "reading QEMU's PCI slots: %s",
			       qmp_last_error(q));
	else
		rc = a->add ? qemu_add(c, a, q, m) : qemu_del(c, a, q, m);
	free(m);
	qmp_close(q);
	return rc;
}

static int pci_parse(struct ctl *c, int argc, char **argv, bool add, void *args)
{
	struct pci_args *a = args;

	a->add = add;
	return parse_args(c, argc, argv, a);
}

static int pci_check(struct ctl *c, void *args)
{
	struct pci_args *a = args;

	if (!c->qmp && (a->disk || a->device))
		return ctl_usage_error(c, pci_usage, "--disk and --device need --qmp (or --run)");
	if (!c->qmp && !a->have_slot)
		return ctl_usage_error(c, pci_usage, "pci %s needs --slot or --bus/--devfn",
				       a->add ? "add" : "del");
	return CTL_OK;
}

/* QEMU's slots and the guest's answer, under the VM's lock (lock.h) */
static int pci_run(struct ctl *c, void *args)
{
	return c->qmp ? with_qemu(c, args) : guest_only(c, args);
}

int pci_main(struct ctl *c, int argc, char **argv)
{
	struct pci_args a = { 0 };
	const struct ctl_action act = {
		.name = "pci",
		.usage = pci_usage,
		.args = &a,
		.unplug_wait_ms = &a.unplug_wait_ms,
		.default_unplug_wait_ms = PCI_UNPLUG_WAIT_MS,
		.command_json = true,
		.parse = pci_parse,
		.check = pci_check,
		.run = pci_run,
	};

	return ctl_action(c, argc, argv, &act);
}

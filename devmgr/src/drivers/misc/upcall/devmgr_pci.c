// SPDX-License-Identifier: GPL-2.0
/*
 * Upcall device manager: PCI device hot-add and hot-remove.
 *
 * A VMM without a hotplug controller the guest could use (no ACPI, no
 * SHPC or PCIe hotplug port) plugs a device into a slot of a PCI bus and
 * asks the guest to pick it up: ADD_PCI scans that one slot, assigns
 * resources to what it finds and adds it, so the drivers probe it. DEL_PCI
 * stops and removes the device before the VMM unplugs it.
 *
 * Both work on whole slots, as PCI hotplug controllers and VMMs do: devfn
 * must name function 0, ADD_PCI adds every function the slot's device has
 * and DEL_PCI removes them all. A request naming another function is
 * refused, as scanning from there would skip function 0.
 *
 * Everything runs under the PCI core's rescan/remove lock, the lock the
 * hotplug drivers and the sysfs rescan and remove files take, so these
 * requests cannot race with each other or with those. The lock is held
 * across driver probe and removal, as in those callers, so an action runs
 * as a bounded action (upcall_dm_run_bounded()): a driver that never
 * returns from probe or removal gets its request answered -ETIMEDOUT while
 * it goes on in the background. Since every PCI action needs the rescan
 * lock that one holds, PCI requests are answered -EBUSY at once until it
 * ends (upcall_dm_pci_busy), instead of queueing behind it; CPU and
 * virtio-mmio requests are not held up at all.
 */

#define pr_fmt(fmt) "upcall: devmgr: " fmt

#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "devmgr.h"

/* The domain Dragonball's requests address; they carry no domain field. */
#define UPCALL_DM_PCI_DOMAIN	0

/* A PCI action is running (perhaps in the background after a timeout) */
static DEFINE_MUTEX(upcall_dm_pci_lock);
static bool upcall_dm_pci_busy;

/* One request, handed to its bounded action, which frees it */
struct upcall_dm_pci_action {
	u8 busno;
	u8 devfn;
	bool add;
};

/* The number of functions of the slot of @devfn the PCI core has. */
static unsigned int upcall_dm_pci_slot_count(struct pci_bus *bus, u8 devfn)
{
	unsigned int fn, n = 0;
	struct pci_dev *dev;

	for (fn = 0; fn < 8; fn++) {
		dev = pci_get_slot(bus, PCI_DEVFN(PCI_SLOT(devfn), fn));
		if (dev) {
			n++;
			pci_dev_put(dev);
		}
	}
	return n;
}

/*
 * Parts of the chipset: the host bridge and the ISA/LPC bridge behind
 * which the legacy devices sit. Removing them breaks the guest, and no
 * VMM hot-plugs them.
 */
static bool upcall_dm_pci_is_chipset(struct pci_dev *dev)
{
	return dev->class >> 8 == PCI_CLASS_BRIDGE_HOST ||
	       dev->class >> 8 == PCI_CLASS_BRIDGE_ISA;
}

static void upcall_dm_pci_log_added(struct pci_bus *bus, u8 devfn)
{
	struct pci_dev *dev;
	unsigned int fn;

	for (fn = 0; fn < 8; fn++) {
		dev = pci_get_slot(bus, PCI_DEVFN(PCI_SLOT(devfn), fn));
		if (!dev)
			continue;
		pci_info(dev, "[%04x:%04x] class %#08x hot-added\n",
			 dev->vendor, dev->device, dev->class);
		pci_dev_put(dev);
	}
}

/*
 * Removes every function of the slot of @devfn, the highest first and
 * function 0 last, as the PCI core removes a bus: the other functions may
 * depend on function 0. Also right for functions that were scanned but
 * not added yet.
 */
static void upcall_dm_pci_remove_slot(struct pci_bus *bus, u8 devfn)
{
	struct pci_dev *dev;
	int fn;

	for (fn = 7; fn >= 0; fn--) {
		dev = pci_get_slot(bus, PCI_DEVFN(PCI_SLOT(devfn), fn));
		if (!dev)
			continue;
		pci_stop_and_remove_bus_device(dev);
		pci_dev_put(dev);
	}
}

/*
 * The helper that numbers and scans the buses behind a hot-added bridge
 * (pci_hp_add_bridge()) is private to the PCI core, so bridges are
 * refused rather than added without what is behind them.
 */
static bool upcall_dm_pci_slot_has_bridge(struct pci_bus *bus, u8 devfn)
{
	struct pci_dev *dev;
	bool bridge = false;
	unsigned int fn;

	for (fn = 0; fn < 8; fn++) {
		dev = pci_get_slot(bus, PCI_DEVFN(PCI_SLOT(devfn), fn));
		if (!dev)
			continue;
		bridge |= pci_is_bridge(dev);
		pci_dev_put(dev);
	}
	return bridge;
}

static int upcall_dm_pci_do_add(u8 busno, u8 devfn)
{
	struct pci_bus *bus;
	int ret = 0;

	pci_lock_rescan_remove();
	bus = pci_find_bus(UPCALL_DM_PCI_DOMAIN, busno);
	if (!bus) {
		ret = -ENODEV;
		goto out;
	}
	if (upcall_dm_pci_slot_count(bus, devfn)) {
		ret = -EEXIST;
		goto out;
	}

	/* Nothing answered the configuration reads: the slot is empty */
	if (!pci_scan_slot(bus, devfn)) {
		ret = -ENODEV;
		goto out;
	}

	if (upcall_dm_pci_slot_has_bridge(bus, devfn)) {
		upcall_dm_pci_remove_slot(bus, devfn);
		ret = -EOPNOTSUPP;
		goto out;
	}

	pci_assign_unassigned_bus_resources(bus);
	pci_bus_add_devices(bus);
	upcall_dm_pci_log_added(bus, devfn);
out:
	pci_unlock_rescan_remove();
	if (ret)
		pr_debug("PCI %04x:%02x:%02x.%u: hot-add failed: %d\n",
			 UPCALL_DM_PCI_DOMAIN, busno, PCI_SLOT(devfn),
			 PCI_FUNC(devfn), ret);
	return ret;
}

static int upcall_dm_pci_do_del(u8 busno, u8 devfn)
{
	struct pci_bus *bus;
	struct pci_dev *dev;
	unsigned int fn;
	int ret = 0;

	pci_lock_rescan_remove();
	bus = pci_find_bus(UPCALL_DM_PCI_DOMAIN, busno);
	if (!bus || !upcall_dm_pci_slot_count(bus, devfn)) {
		ret = -ENODEV;
		goto out;
	}

	for (fn = 0; fn < 8; fn++) {
		dev = pci_get_slot(bus, PCI_DEVFN(PCI_SLOT(devfn), fn));
		if (!dev)
			continue;
		if (upcall_dm_pci_is_chipset(dev))
			ret = -EPERM;
		pci_dev_put(dev);
	}
	if (ret)
		goto out;

	upcall_dm_pci_remove_slot(bus, devfn);
	pr_info("PCI %04x:%02x:%02x: hot-removed\n", UPCALL_DM_PCI_DOMAIN,
		busno, PCI_SLOT(devfn));
out:
	pci_unlock_rescan_remove();
	if (ret)
		pr_debug("PCI %04x:%02x:%02x.%u: hot-remove failed: %d\n",
			 UPCALL_DM_PCI_DOMAIN, busno, PCI_SLOT(devfn),
			 PCI_FUNC(devfn), ret);
	return ret;
}

/* Bounded action: runs one request, frees it, then lets the next one in */
static int upcall_dm_pci_action_fn(void *data)
{
	struct upcall_dm_pci_action *act = data;
	int ret;

	if (act->add)
		ret = upcall_dm_pci_do_add(act->busno, act->devfn);
	else
		ret = upcall_dm_pci_do_del(act->busno, act->devfn);
	kfree(act);

	mutex_lock(&upcall_dm_pci_lock);
	upcall_dm_pci_busy = false;
	mutex_unlock(&upcall_dm_pci_lock);
	return ret;
}

static int upcall_dm_pci_request(u8 busno, u8 devfn, bool add)
{
	struct upcall_dm_pci_action *act;
	char what[48];

	if (PCI_FUNC(devfn))
		return -EINVAL;

	act = kmalloc(sizeof(*act), GFP_KERNEL);
	if (!act)
		return -ENOMEM;
	act->busno = busno;
	act->devfn = devfn;
	act->add = add;

	mutex_lock(&upcall_dm_pci_lock);
	if (upcall_dm_pci_busy) {
		mutex_unlock(&upcall_dm_pci_lock);
		kfree(act);
		pr_debug("PCI %04x:%02x:%02x: refused, a PCI action still runs\n",
			 UPCALL_DM_PCI_DOMAIN, busno, PCI_SLOT(devfn));
		return -EBUSY;
	}
	upcall_dm_pci_busy = true;
	mutex_unlock(&upcall_dm_pci_lock);

	snprintf(what, sizeof(what), "PCI %04x:%02x:%02x hot-%s",
		 UPCALL_DM_PCI_DOMAIN, busno, PCI_SLOT(devfn),
		 add ? "add" : "remove");
	/* act belongs to the action from here on */
	return upcall_dm_run_bounded(upcall_dm_pci_action_fn, act, what);
}

int upcall_dm_pci_add(u8 busno, u8 devfn)
{
	return upcall_dm_pci_request(busno, devfn, true);
}

int upcall_dm_pci_del(u8 busno, u8 devfn)
{
	return upcall_dm_pci_request(busno, devfn, false);
}

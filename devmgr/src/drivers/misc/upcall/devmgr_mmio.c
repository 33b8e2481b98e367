// SPDX-License-Identifier: GPL-2.0
/*
 * Upcall device manager: virtio-mmio device hot-add and hot-remove.
 *
 * ADD_MMIO registers a "virtio-mmio" platform device with the register
 * window and interrupt the VMM names, exactly like virtio_mmio.device= on
 * the command line does at boot, so the virtio-mmio driver probes it and
 * the virtio driver of the device type binds. DEL_MMIO unregisters it,
 * which unbinds the drivers (a virtio-blk disk goes away even if it is in
 * use: I/O to it fails from then on, the block layer keeps the objects
 * alive for their remaining users). DEL_MMIO also removes a device that
 * virtio_mmio.device= announced at boot.
 *
 * Interrupts may be shared: the virtio-mmio driver requests its interrupt
 * with IRQF_SHARED and its handler looks at its own device's interrupt
 * status, and VMMs such as Dragonball give every hot-added device the
 * same legacy interrupt.
 *
 * Registration and unregistration run driver probe and removal, which
 * wait for the device and may never return (a disk whose interrupt is not
 * the one the VMM named). They run as bounded actions
 * (upcall_dm_run_bounded()), and no lock is held across them: each window
 * has one entry in upcall_dm_mmio_devs, which is ADDING or REMOVING while
 * its action runs, and requests for a busy window are answered -EBUSY.
 * Entries are created, changed and freed only under upcall_dm_mmio_lock.
 * A busy entry belongs to its action: the action sets the next state, or
 * unlinks and frees the entry, as its last access. So an entry and its
 * platform device pointer are never used after removal, and a new device
 * cannot claim a window the old one still holds.
 */

#define pr_fmt(fmt) "upcall: devmgr: " fmt

#include <linux/device.h>
#include <linux/interrupt.h>
#include <linux/ioport.h>
#include <linux/irq.h>
#include <linux/irqnr.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/slab.h>

#include "devmgr.h"

/* The name of the virtio-mmio platform driver and of its devices */
#define UPCALL_DM_VIRTIO_MMIO	"virtio-mmio"

enum upcall_dm_mmio_state {
	UPCALL_DM_MMIO_ADDING,		/* being registered and probed */
	UPCALL_DM_MMIO_READY,		/* added over upcall, bound */
	UPCALL_DM_MMIO_REMOVING,	/* being unregistered */
};

struct upcall_dm_mmio_dev {
	struct list_head node;
	struct platform_device *pdev;	/* set once registered */
	u64 base;
	u64 size;
	u32 irq;
	enum upcall_dm_mmio_state state;
	bool boot;			/* announced at boot, we hold a reference */
	char what[64];			/* for log messages */
};

static DEFINE_MUTEX(upcall_dm_mmio_lock);
static LIST_HEAD(upcall_dm_mmio_devs);

static bool upcall_dm_overlap(u64 a, u64 a_size, u64 b, u64 b_size)
{
	return a <= b + (b_size - 1) && b <= a + (a_size - 1);
}

struct upcall_dm_mmio_match {
	u64 base;
	u64 size;
	bool exact;	/* same window, or any overlap */
};

/*
 * Matches a virtio-mmio platform device that nobody added over upcall (one
 * announced at boot with virtio_mmio.device=) by its register window.
 */
static int upcall_dm_mmio_match_dev(struct device *dev, const void *data)
{
	const struct upcall_dm_mmio_match *m = data;
	struct platform_device *pdev = to_platform_device(dev);
	struct resource *res;

	if (strcmp(pdev->name, UPCALL_DM_VIRTIO_MMIO))
		return 0;
	res = platform_get_resource(pdev, IORESOURCE_MEM, 0);
	if (!res)
		return 0;
	if (m->exact)
		return res->start == m->base && resource_size(res) == m->size;
	return upcall_dm_overlap(m->base, m->size, res->start, resource_size(res));
}

/* A virtio-mmio device not in our list, with a reference, or NULL */
static struct platform_device *upcall_dm_mmio_find_other(u64 base, u64 size,
							 bool exact)
{
	const struct upcall_dm_mmio_match m = {
		.base = base,
		.size = size,
		.exact = exact,
	};
	struct upcall_dm_mmio_dev *d;
	struct device *dev;

	lockdep_assert_held(&upcall_dm_mmio_lock);

	dev = bus_find_device(&platform_bus_type, NULL, &m, upcall_dm_mmio_match_dev);
	if (!dev)
		return NULL;
	list_for_each_entry(d, &upcall_dm_mmio_devs, node) {
		if (d->pdev == to_platform_device(dev)) {
			put_device(dev);
			return NULL;
		}
	}
	return to_platform_device(dev);
}

/*
 * Can @irq be used by one more virtio-mmio device? It must exist and either
 * be free or only have handlers that allow sharing; can_request_irq() is
 * the interrupt core's answer to exactly that question.
 */
static int upcall_dm_mmio_check_irq(u32 irq)
{
	struct irq_data *data;

	if (!irq || irq >= nr_irqs)
		return -EINVAL;
	/* No descriptor, or no interrupt controller behind it */
	data = irq_get_irq_data(irq);
	if (!data || irq_data_get_irq_chip(data) == &no_irq_chip)
		return -EINVAL;
	if (can_request_irq(irq, IRQF_SHARED))
		return 0;
	/* In use without sharing, or an interrupt nobody may request */
	return irq_has_action(irq) ? -EBUSY : -EINVAL;
}

static int upcall_dm_mmio_check(u64 base, u64 size, u32 irq)
{
	struct upcall_dm_mmio_dev *d;
	struct platform_device *other;

	lockdep_assert_held(&upcall_dm_mmio_lock);

	if (size < UPCALL_DM_MMIO_MIN_SIZE)
		return -EINVAL;

	list_for_each_entry(d, &upcall_dm_mmio_devs, node) {
		if (upcall_dm_overlap(base, size, d->base, d->size))
			return d->state == UPCALL_DM_MMIO_READY ? -EEXIST : -EBUSY;
	}
	other = upcall_dm_mmio_find_other(base, size, false);
	if (other) {
		put_device(&other->dev);
		return -EEXIST;
	}

	/* RAM, devices found at boot and regions other drivers claimed */
	if (!request_mem_region(base, size, "upcall virtio-mmio"))
		return -EBUSY;
	release_mem_region(base, size);

	return upcall_dm_mmio_check_irq(irq);
}

static bool upcall_dm_mmio_bound(struct platform_device *pdev)
{
	bool bound;

	/* A modular driver may bind later, when user space loads it */
	if (!IS_BUILTIN(CONFIG_VIRTIO_MMIO))
		return true;

	device_lock(&pdev->dev);
	bound = device_is_bound(&pdev->dev);
	device_unlock(&pdev->dev);
	return bound;
}

/* Bounded action: registers the device of an ADDING entry */
static int upcall_dm_mmio_add_fn(void *data)
{
	struct upcall_dm_mmio_dev *d = data;
	struct resource res[] = {
		DEFINE_RES_MEM(d->base, d->size),
		DEFINE_RES_IRQ(d->irq),
	};
	const struct platform_device_info info = {
		.name = UPCALL_DM_VIRTIO_MMIO,
		.id = PLATFORM_DEVID_AUTO,
		.res = res,
		.num_res = ARRAY_SIZE(res),
	};
	struct platform_device *pdev;
	int ret = 0;

	/* Probes the device: may wait for it for as long as it takes */
	pdev = platform_device_register_full(&info);
	if (IS_ERR(pdev)) {
		ret = PTR_ERR(pdev);
	} else if (!upcall_dm_mmio_bound(pdev)) {
		/* The VMM said a device is there: fail if no driver took it */
		platform_device_unregister(pdev);
		ret = -ENODEV;
	}

	if (!ret)
		pr_info("%s: %s hot-added\n", dev_name(&pdev->dev), d->what);
	else
		pr_debug("%s: hot-add failed: %d\n", d->what, ret);

	mutex_lock(&upcall_dm_mmio_lock);
	if (ret) {
		list_del(&d->node);
		kfree(d);
	} else {
		d->pdev = pdev;
		d->state = UPCALL_DM_MMIO_READY;
	}
	mutex_unlock(&upcall_dm_mmio_lock);
	return ret;
}

int upcall_dm_mmio_add(u64 base, u64 size, u32 irq)
{
	struct upcall_dm_mmio_dev *d;
	char what[sizeof(d->what)];
	int ret;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->base = base;
	d->size = size;
	d->irq = irq;
	d->state = UPCALL_DM_MMIO_ADDING;
	snprintf(d->what, sizeof(d->what), "virtio-mmio at %#llx size %#llx IRQ %u",
		 base, size, irq);
	/* d belongs to the action once it runs */
	strscpy(what, d->what, sizeof(what));

	mutex_lock(&upcall_dm_mmio_lock);
	ret = upcall_dm_mmio_check(base, size, irq);
	if (!ret)
		list_add_tail(&d->node, &upcall_dm_mmio_devs);
	mutex_unlock(&upcall_dm_mmio_lock);
	if (ret) {
		pr_debug("%s: refused: %d\n", what, ret);
		kfree(d);
		return ret;
	}

	return upcall_dm_run_bounded(upcall_dm_mmio_add_fn, d, what);
}

/* Bounded action: unregisters the device of a REMOVING entry, frees it */
static int upcall_dm_mmio_del_fn(void *data)
{
	struct upcall_dm_mmio_dev *d = data;

	pr_info("%s: %s hot-removed\n", dev_name(&d->pdev->dev), d->what);
	/* Unbinds the drivers: may wait for the device */
	platform_device_unregister(d->pdev);
	if (d->boot)
		put_device(&d->pdev->dev);

	mutex_lock(&upcall_dm_mmio_lock);
	list_del(&d->node);
	mutex_unlock(&upcall_dm_mmio_lock);
	kfree(d);
	return 0;
}

int upcall_dm_mmio_del(u64 base, u64 size)
{
	struct upcall_dm_mmio_dev *d, *found = NULL, *boot;
	struct platform_device *pdev;
	char what[sizeof(d->what)];
	int ret = 0;

	/* For a device announced at boot, which has no entry yet */
	boot = kzalloc(sizeof(*boot), GFP_KERNEL);
	if (!boot)
		return -ENOMEM;

	mutex_lock(&upcall_dm_mmio_lock);
	list_for_each_entry(d, &upcall_dm_mmio_devs, node) {
		if (d->base == base && d->size == size) {
			found = d;
			break;
		}
	}
	if (found) {
		if (found->state != UPCALL_DM_MMIO_READY)
			ret = -EBUSY;
	} else {
		pdev = upcall_dm_mmio_find_other(base, size, true);
		if (pdev) {
			found = boot;
			boot = NULL;
			found->pdev = pdev;
			found->base = base;
			found->size = size;
			found->boot = true;
			snprintf(found->what, sizeof(found->what),
				 "virtio-mmio at %#llx size %#llx (boot)", base, size);
			list_add_tail(&found->node, &upcall_dm_mmio_devs);
		} else {
			ret = -ENODEV;
		}
	}
	if (!ret) {
		found->state = UPCALL_DM_MMIO_REMOVING;
		strscpy(what, found->what, sizeof(what));
	}
	mutex_unlock(&upcall_dm_mmio_lock);
	kfree(boot);
	if (ret) {
		pr_debug("virtio-mmio at %#llx size %#llx: hot-remove refused: %d\n",
			 base, size, ret);
		return ret;
	}

	return upcall_dm_run_bounded(upcall_dm_mmio_del_fn, found, what);
}

/*
 * At exit, after every bounded action ended: only READY entries are left,
 * devices this module added. Remove them, waiting as long as it takes.
 */
void upcall_dm_mmio_del_all(void)
{
	struct upcall_dm_mmio_dev *d;

	for (;;) {
		mutex_lock(&upcall_dm_mmio_lock);
		d = list_first_entry_or_null(&upcall_dm_mmio_devs,
					     struct upcall_dm_mmio_dev, node);
		if (d)
			d->state = UPCALL_DM_MMIO_REMOVING;
		mutex_unlock(&upcall_dm_mmio_lock);
		if (!d)
			break;
		upcall_dm_mmio_del_fn(d);
	}
}

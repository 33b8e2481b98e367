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
 * alive for their remaining users).
 *
 * Each device added here is tracked by one entry in upcall_dm_mmio_devs.
 * An entry is created, looked up and freed only under upcall_dm_mmio_lock,
 * and the lock is held across platform_device_unregister(), so an entry
 * and its platform device pointer are never used after removal, and a new
 * device cannot claim a window the old one still holds.
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

struct upcall_dm_mmio_dev {
	struct list_head node;
	struct platform_device *pdev;
	u64 base;
	u64 size;
	u32 irq;
};

static DEFINE_MUTEX(upcall_dm_mmio_lock);
static LIST_HEAD(upcall_dm_mmio_devs);

static bool upcall_dm_overlap(u64 a, u64 a_size, u64 b, u64 b_size)
{
	return a <= b + (b_size - 1) && b <= a + (a_size - 1);
}

/*
 * Interrupts are not shared: on x86 without ACPI the IRQs of virtio-mmio
 * devices are ISA interrupts routed by the MP table, which are edge
 * triggered, and an edge can be lost when two devices share the line.
 */
static int upcall_dm_mmio_check(u64 base, u64 size, u32 irq)
{
	struct upcall_dm_mmio_dev *d;

	if (!irq || irq >= nr_irqs || !irq_get_irq_data(irq))
		return -EINVAL;

	list_for_each_entry(d, &upcall_dm_mmio_devs, node) {
		if (upcall_dm_overlap(base, size, d->base, d->size))
			return -EEXIST;
		if (d->irq == irq)
			return -EBUSY;
	}

	/* RAM, devices found at boot and regions other drivers claimed */
	if (!request_mem_region(base, size, "upcall virtio-mmio"))
		return -EBUSY;
	release_mem_region(base, size);

	if (irq_has_action(irq))
		return -EBUSY;

	return 0;
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

int upcall_dm_mmio_add(u64 base, u64 size, u32 irq)
{
	struct resource res[] = {
		DEFINE_RES_MEM(base, size),
		DEFINE_RES_IRQ(irq),
	};
	const struct platform_device_info info = {
		.name = "virtio-mmio",
		.id = PLATFORM_DEVID_AUTO,
		.res = res,
		.num_res = ARRAY_SIZE(res),
	};
	struct upcall_dm_mmio_dev *d;
	struct platform_device *pdev;
	int ret;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;

	mutex_lock(&upcall_dm_mmio_lock);
	ret = upcall_dm_mmio_check(base, size, irq);
	if (ret)
		goto err;

	pdev = platform_device_register_full(&info);
	if (IS_ERR(pdev)) {
		ret = PTR_ERR(pdev);
		goto err;
	}

	/* The VMM said a device is there: fail if no driver could take it */
	if (!upcall_dm_mmio_bound(pdev)) {
		platform_device_unregister(pdev);
		ret = -ENODEV;
		goto err;
	}

	d->pdev = pdev;
	d->base = base;
	d->size = size;
	d->irq = irq;
	list_add_tail(&d->node, &upcall_dm_mmio_devs);
	mutex_unlock(&upcall_dm_mmio_lock);

	pr_info("%s: virtio-mmio at %#llx size %#llx IRQ %u hot-added\n",
		dev_name(&pdev->dev), base, size, irq);
	return 0;

err:
	mutex_unlock(&upcall_dm_mmio_lock);
	kfree(d);
	pr_debug("virtio-mmio at %#llx size %#llx IRQ %u: hot-add failed: %d\n",
		 base, size, irq, ret);
	return ret;
}

static void upcall_dm_mmio_remove(struct upcall_dm_mmio_dev *d)
{
	lockdep_assert_held(&upcall_dm_mmio_lock);

	list_del(&d->node);
	pr_info("%s: virtio-mmio at %#llx hot-removed\n",
		dev_name(&d->pdev->dev), d->base);
	platform_device_unregister(d->pdev);
	kfree(d);
}

int upcall_dm_mmio_del(u64 base, u64 size)
{
	struct upcall_dm_mmio_dev *d;
	int ret = -ENODEV;

	mutex_lock(&upcall_dm_mmio_lock);
	list_for_each_entry(d, &upcall_dm_mmio_devs, node) {
		if (d->base == base && d->size == size) {
			upcall_dm_mmio_remove(d);
			ret = 0;
			break;
		}
	}
	mutex_unlock(&upcall_dm_mmio_lock);
	return ret;
}

void upcall_dm_mmio_del_all(void)
{
	struct upcall_dm_mmio_dev *d, *tmp;

	mutex_lock(&upcall_dm_mmio_lock);
	list_for_each_entry_safe(d, tmp, &upcall_dm_mmio_devs, node)
		upcall_dm_mmio_remove(d);
	mutex_unlock(&upcall_dm_mmio_lock);
}

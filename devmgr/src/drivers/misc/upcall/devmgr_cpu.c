// SPDX-License-Identifier: GPL-2.0
/*
 * Upcall device manager: x86 vCPU hot-add and hot-remove.
 *
 * The VMM creates (or will destroy) the vCPU; the guest does what the ACPI
 * processor driver does for a hot-added or ejected processor, with the same
 * locks in the same order:
 *
 *   lock_device_hotplug()                    whole batch
 *     cpu_maps_update_begin(), cpus_write_lock()
 *       topology_hotplug_apic()              CPU becomes present
 *       arch_register_cpu()                  /sys/devices/system/cpu/cpuN
 *     device_online()                        bring-up through INIT/SIPI
 *
 * and in reverse for removal, with device_offline() first, except that the
 * CPU's device is unregistered before the CPU maps and hotplug locks are
 * taken (upcall_dm_cpu_unplug() says why). Going through
 * the driver core keeps the device's online state, sysfs and uevents
 * consistent with what user space sees.
 *
 * Only APIC IDs enumerated at boot as not present (disabled MP table
 * entries, or hotplug_apic_ids=) can be hot-added.
 */

#define pr_fmt(fmt) "upcall: devmgr: " fmt

#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/device.h>
#include <linux/ktime.h>
#include <linux/smp.h>

#include <asm/apic.h>
#include <asm/cpu.h>

#include "devmgr.h"

/* The present CPU with APIC ID @apic_id, or -ENODEV */
static int upcall_dm_present_cpu(u32 apic_id)
{
	unsigned int cpu;

	for_each_present_cpu(cpu) {
		if (cpu_physical_id(cpu) == apic_id)
			return cpu;
	}
	return -ENODEV;
}

/*
 * Undoes arch_register_cpu() and topology_hotplug_apic() for the offline
 * @cpu. Called with the device hotplug lock held.
 *
 * The device goes first, outside the CPU maps and hotplug locks: removing
 * its sysfs files waits until nobody uses them, and a writer to
 * cpuN/online holds its file in use while it takes those two locks
 * (online_store(), device_offline(), cpu_device_down()). That writer only
 * trylocks the device hotplug lock and backs off while we hold it, so it
 * cannot take the CPU back online meanwhile, and the removal never waits
 * for a task that waits for us (which lockdep could not see).
 */
static void upcall_dm_cpu_unplug(unsigned int cpu)
{
	arch_unregister_cpu(cpu);
	cpu_maps_update_begin();
	cpus_write_lock();
	topology_hotunplug_apic(cpu);
	cpus_write_unlock();
	cpu_maps_update_done();
}

static int upcall_dm_cpu_add_one(u32 apic_id)
{
	ktime_t start = ktime_get(), registered;
	struct device *dev;
	int cpu, ret;

	if (upcall_dm_present_cpu(apic_id) >= 0)
		return -EEXIST;

	cpu_maps_update_begin();
	cpus_write_lock();
	cpu = topology_hotplug_apic(apic_id, CPU_ACPIID_INVALID);
	if (cpu < 0) {
		ret = cpu;
	} else {
		ret = arch_register_cpu(cpu);
		if (ret)
			topology_hotunplug_apic(cpu);
	}
	cpus_write_unlock();
	cpu_maps_update_done();
	if (ret)
		return ret;

	registered = ktime_get();
	dev = get_cpu_device(cpu);
	ret = dev ? device_online(dev) : -ENODEV;
	if (ret < 0) {
		upcall_dm_cpu_unplug(cpu);
		return ret;
	}

	/*
	 * The two durations tell our part (present + registered) from the
	 * kernel's own bring-up (device_online(): the cpuhp states up to
	 * CPUHP_ONLINE); tests/bench/hotplug-bench.py reads them.
	 */
	pr_info("CPU%d (APIC ID %u) hot-added (registered in %lld us, online in %lld us)\n",
		cpu, apic_id, ktime_us_delta(registered, start),
		ktime_us_delta(ktime_get(), registered));
	return 0;
}

int upcall_dm_cpu_add(const u8 *apic_ids, unsigned int count,
		      unsigned int *done)
{
	unsigned int i;
	int ret = 0;

	lock_device_hotplug();
	for (i = 0; i < count; i++) {
		ret = upcall_dm_cpu_add_one(apic_ids[i]);
		if (ret) {
			pr_debug("APIC ID %u: hot-add failed: %d\n", apic_ids[i], ret);
			break;
		}
	}
	unlock_device_hotplug();

	*done = i;
	return ret;
}

int upcall_dm_cpu_del(const u8 *apic_ids, unsigned int count,
		      unsigned int *done)
{
	unsigned int i, online;
	int cpu, ret = 0;

	lock_device_hotplug();
	online = num_online_cpus();

	/*
	 * Check the whole batch before taking any CPU down. If the check
	 * fails, no CPU was removed and *done is 0.
	 */
	for (i = 0; i < count; i++) {
		cpu = upcall_dm_present_cpu(apic_ids[i]);
		if (cpu < 0)
			ret = -ENODEV;
		/* The boot CPU, or one the tick needs (nohz_full) */
		else if (!cpu_is_hotpluggable(cpu))
			ret = -EPERM;
		else if (cpu_online(cpu) && --online == 0)
			ret = -EBUSY;
		if (ret) {
			pr_debug("APIC ID %u: cannot be hot-removed: %d\n", apic_ids[i], ret);
			i = 0;
			goto out;
		}
	}

	for (i = 0; i < count; i++) {
		cpu = upcall_dm_present_cpu(apic_ids[i]);
		ret = device_offline(get_cpu_device(cpu));
		if (ret < 0) {
			pr_debug("APIC ID %u: hot-remove failed: %d\n", apic_ids[i], ret);
			goto out;
		}
		upcall_dm_cpu_unplug(cpu);
		pr_info("CPU%d (APIC ID %u) hot-removed\n", cpu, apic_ids[i]);
	}
	ret = 0;
out:
	unlock_device_hotplug();
	*done = i;
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Upcall device manager: memory hot-add and hot-remove.
 *
 * The VMM maps RAM at a guest-physical range and sends ADD_MEM {base,
 * size}; the guest adds that range as System RAM and onlines it to
 * ZONE_MOVABLE, so that it can be taken away again. DEL_MEM {base, size}
 * offlines and removes a range an earlier ADD_MEM added; the VMM unmaps
 * the RAM only after the guest said yes. No ACPI memory device and no
 * virtio-mem device is involved.
 *
 * Everything that can be checked is checked before anything is touched:
 * the range must be whole memory blocks (memory_block_size_bytes()), not
 * empty, not wrap around, lie within what the kernel can map and the CPU
 * can address, and (for ADD_MEM) overlap no resource of the iomem tree:
 * RAM, reserved ranges and device windows alike. DEL_MEM accepts only a
 * range exactly as an ADD_MEM added it, so memory the firmware described
 * can never be removed this way.
 *
 * The memory is added with add_memory_driver_managed(), as virtio-mem
 * and dax/kmem do: the firmware map does not list it, so a kexec'ed
 * kernel does not take it for boot RAM. The kernel onlines it according
 * to its default online policy; blocks that policy left offline are
 * onlined movable here. Removal is offline_and_remove_memory(), which
 * offlines every block of the range or none: when one block cannot be
 * offlined (unmovable pages), the blocks already offlined are onlined
 * again and the request is answered with its error (-EBUSY), the memory
 * stays online and in use.
 *
 * Offlining moves the pages in use to memory outside the range, and the
 * kernel allocates the new pages with __GFP_RETRY_MAYFAIL: that does not
 * call the OOM killer itself, but it takes memory down to the min
 * watermarks of the zones the kernel itself allocates from, and pages
 * moved there stay there when offlining gives up. The next ordinary
 * allocation then finds nothing and the OOM killer kills a process. So
 * DEL_MEM first checks that the whole range fits into the available
 * memory (si_mem_available(), MemAvailable in /proc/meminfo: free and
 * reclaimable pages above the watermark reserves): its used pages need
 * room elsewhere and its free pages disappear with it. A larger range is
 * refused -EBUSY before any page is isolated. While offlining runs, the
 * same figure is watched: when it reaches zero (others allocated in the
 * meantime), offlining is stopped before its next migration pass.
 *
 * Offlining migrates pages away, which may take long, and the kernel
 * retries migration until it succeeds. So each action runs as a bounded
 * action (upcall_dm_run_bounded()): the request is answered -ETIMEDOUT
 * after upcall_devmgr.timeout_ms while the action goes on; until it ends,
 * further memory requests are answered -EBUSY at once. Other requests are
 * not held up.
 */

#define pr_fmt(fmt) "upcall: devmgr: " fmt

#include <linux/completion.h>
#include <linux/device.h>
#include <linux/ioport.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/numa.h>
#include <linux/processor.h>
#include <linux/range.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>

#include "devmgr.h"

/* The name /proc/iomem shows for the ranges; the core wants this format */
#define UPCALL_DM_MEM_RES_NAME	"System RAM (upcall)"

/* How often a DEL_MEM looks at the deadline and the available memory */
#define UPCALL_DM_MEM_POLL_MS		20

/* Bounds of the mem_offline_ms parameter: 100 ms to one hour */
#define UPCALL_DM_MEM_MIN_OFFLINE_MS	100U
#define UPCALL_DM_MEM_MAX_OFFLINE_MS	(60U * 60 * 1000)

static unsigned int mem_offline_ms = 2000;
module_param(mem_offline_ms, uint, 0444);
MODULE_PARM_DESC(mem_offline_ms, "Milliseconds DEL_MEM tries to offline memory before it gives up with -EBUSY (default 2000)");

/* One range an ADD_MEM added */
struct upcall_dm_mem_range {
	struct list_head node;
	u64 base;
	u64 size;
};

/*
 * upcall_dm_mem_lock protects the list of added ranges and the busy
 * flag; it is never held across an action.
 */
static DEFINE_MUTEX(upcall_dm_mem_lock);
static LIST_HEAD(upcall_dm_mem_ranges);
static bool upcall_dm_mem_busy;

/* One request, handed to its bounded action, which frees it */
struct upcall_dm_mem_action {
	u64 base;
	u64 size;
	bool add;
	struct upcall_dm_mem_range *range;	/* ADD_MEM: the entry to list */
};

/* Whether the CPU and the kernel's linear map can reach [base, base+size) */
static bool upcall_dm_mem_reachable(u64 base, u64 size)
{
	struct range pluggable = mhp_get_pluggable_range(true);
	u64 last = base + size - 1;

	if (base < pluggable.start || last > pluggable.end)
		return false;
#ifdef CONFIG_X86
	if (boot_cpu_data.x86_phys_bits < 64 &&
	    last >> boot_cpu_data.x86_phys_bits)
		return false;
#endif
	return true;
}

/*
 * The checks both requests share. The caller checked that @size is not
 * zero and that the range does not wrap around.
 */
static int upcall_dm_mem_check(u64 base, u64 size)
{
	u64 block = memory_block_size_bytes();

	if (!IS_ALIGNED(base, block) || !IS_ALIGNED(size, block)) {
		pr_debug("memory %#llx+%#llx: not whole %#llx byte blocks\n",
			 base, size, block);
		return -EINVAL;
	}
	if (!upcall_dm_mem_reachable(base, size)) {
		pr_debug("memory %#llx+%#llx: beyond the physical address limit\n",
			 base, size);
		return -ERANGE;
	}
	return 0;
}

/* Under upcall_dm_mem_lock: the listed range overlapping the range, if any */
static struct upcall_dm_mem_range *upcall_dm_mem_find(u64 base, u64 size)
{
	struct upcall_dm_mem_range *r;

	list_for_each_entry(r, &upcall_dm_mem_ranges, node) {
		if (base <= r->base + r->size - 1 && r->base <= base + size - 1)
			return r;
	}
	return NULL;
}

/* Onlines movable a block the default online policy left offline */
static int upcall_dm_mem_online_block(struct memory_block *mem, void *arg)
{
	int ret;

	if (mem->state != MEM_OFFLINE)
		return 0;
	mem->online_type = MMOP_ONLINE_MOVABLE;
	ret = device_online(&mem->dev);
	return ret < 0 ? ret : 0;
}

static int upcall_dm_mem_do_add(struct upcall_dm_mem_action *act)
{
	int nid = memory_add_physaddr_to_nid(act->base);
	int ret;

	if (nid == NUMA_NO_NODE)
		nid = 0;
	ret = add_memory_driver_managed(nid, act->base, act->size,
					UPCALL_DM_MEM_RES_NAME, MHP_NONE);
	if (ret) {
		pr_debug("memory %#llx+%#llx: adding failed: %d\n",
			 act->base, act->size, ret);
		return ret;
	}

	/*
	 * Added and kept even if onlining fails below: the blocks exist
	 * and the range is listed, so DEL_MEM can remove it again.
	 */
	lock_device_hotplug();
	ret = walk_memory_blocks(act->base, act->size, NULL,
				 upcall_dm_mem_online_block);
	unlock_device_hotplug();

	mutex_lock(&upcall_dm_mem_lock);
	list_add_tail(&act->range->node, &upcall_dm_mem_ranges);
	mutex_unlock(&upcall_dm_mem_lock);
	act->range = NULL;

	if (ret)
		pr_warn("memory %#llx-%#llx hot-added, but onlining failed: %d\n",
			act->base, act->base + act->size - 1, ret);
	else
		pr_info("memory %#llx-%#llx hot-added on node %d\n",
			act->base, act->base + act->size - 1, nid);
	return ret;
}

/* One offline_and_remove_memory() in a thread that may be interrupted */
struct upcall_dm_mem_offline {
	struct completion done;
	u64 base;
	u64 size;
	int ret;
};

static int upcall_dm_mem_offline_thread(void *data)
{
	struct upcall_dm_mem_offline *off = data;

	/* Offlining gives up when a signal is pending: the deadline */
	allow_signal(SIGKILL);
	off->ret = offline_and_remove_memory(off->base, off->size);
	flush_signals(current);
	complete(&off->done);
	return 0;
}

/*
 * Whether the range fits into the available memory (MemAvailable):
 * offlining moves the range's used pages elsewhere and its free pages go
 * away with it, so afterwards the available memory is less by the whole
 * range. It must not go below zero, that is below the watermark
 * reserves (totalreserve_pages) the kernel keeps for its own allocations.
 */
static bool upcall_dm_mem_fits(u64 base, u64 size)
{
	unsigned long pages = size >> PAGE_SHIFT;
	long avail = si_mem_available();

	if (avail >= 0 && pages <= (unsigned long)avail)
		return true;
	pr_info("memory %#llx-%#llx: hot-remove refused, it stays online: %lu MiB do not fit into the %ld MiB available\n",
		base, base + size - 1, pages >> (20 - PAGE_SHIFT),
		avail >> (20 - PAGE_SHIFT));
	return false;
}

/*
 * Offlines and removes the range, or gives up with the range online
 * again: -EBUSY after mem_offline_ms, or as soon as the available memory
 * ran out while offlining moved pages (others allocated meanwhile).
 */
static int upcall_dm_mem_offline_and_remove(u64 base, u64 size)
{
	struct upcall_dm_mem_offline off = { .base = base, .size = size };
	unsigned int ms = clamp(mem_offline_ms, UPCALL_DM_MEM_MIN_OFFLINE_MS,
				UPCALL_DM_MEM_MAX_OFFLINE_MS);
	unsigned long start = jiffies;
	bool late = false;
	struct task_struct *t;

	init_completion(&off.done);
	t = kthread_create(upcall_dm_mem_offline_thread, &off, "upcall_dm_offline");
	if (IS_ERR(t))
		return PTR_ERR(t);
	get_task_struct(t);
	wake_up_process(t);
	while (!wait_for_completion_timeout(&off.done,
					    msecs_to_jiffies(UPCALL_DM_MEM_POLL_MS))) {
		late = time_after_eq(jiffies, start + msecs_to_jiffies(ms));
		if (!late && si_mem_available() > 0)
			continue;
		send_sig(SIGKILL, t, 1);
		/* Offlining checks for signals between its migration passes */
		wait_for_completion(&off.done);
		break;
	}
	put_task_struct(t);

	if (off.ret != -EINTR)
		return off.ret;
	if (late)
		pr_info("memory %#llx-%#llx: not offline after %u ms, gave up\n",
			base, base + size - 1, ms);
	else
		pr_info("memory %#llx-%#llx: no memory left to move its pages to after %u ms, gave up\n",
			base, base + size - 1, jiffies_to_msecs(jiffies - start));
	return -EBUSY;
}

static int upcall_dm_mem_do_del(struct upcall_dm_mem_action *act)
{
	struct upcall_dm_mem_range *r;
	int ret;

	/* Refused before any page is isolated or moved */
	if (!upcall_dm_mem_fits(act->base, act->size))
		return -EBUSY;

	ret = upcall_dm_mem_offline_and_remove(act->base, act->size);
	if (ret) {
		pr_info("memory %#llx-%#llx: hot-remove refused, it stays online: %d\n",
			act->base, act->base + act->size - 1, ret);
		return ret;
	}

	mutex_lock(&upcall_dm_mem_lock);
	r = upcall_dm_mem_find(act->base, act->size);
	list_del(&r->node);
	mutex_unlock(&upcall_dm_mem_lock);
	kfree(r);
	pr_info("memory %#llx-%#llx hot-removed\n",
		act->base, act->base + act->size - 1);
	return 0;
}

/* Bounded action: runs one request, frees it, then lets the next one in */
static int upcall_dm_mem_action_fn(void *data)
{
	struct upcall_dm_mem_action *act = data;
	int ret;

	if (act->add)
		ret = upcall_dm_mem_do_add(act);
	else
		ret = upcall_dm_mem_do_del(act);
	kfree(act->range);
	kfree(act);

	mutex_lock(&upcall_dm_mem_lock);
	upcall_dm_mem_busy = false;
	mutex_unlock(&upcall_dm_mem_lock);
	return ret;
}

/*
 * Under upcall_dm_mem_lock: the refusals that depend on what was added.
 * ADD_MEM: a range overlapping one added earlier is -EEXIST, as is one
 * overlapping other System RAM; one overlapping any other memory
 * resource (reserved, a device window) -EADDRINUSE. DEL_MEM: only a
 * range exactly as added (-ENOENT otherwise).
 */
static int upcall_dm_mem_check_state(u64 base, u64 size, bool add)
{
	struct upcall_dm_mem_range *r = upcall_dm_mem_find(base, size);

	if (!add)
		return r && r->base == base && r->size == size ? 0 : -ENOENT;
	if (r)
		return -EEXIST;
	if (region_intersects(base, size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT)
		return -EEXIST;
	if (region_intersects(base, size, IORESOURCE_MEM,
			      IORES_DESC_NONE) != REGION_DISJOINT)
		return -EADDRINUSE;
	return 0;
}

static int upcall_dm_mem_request(u64 base, u64 size, bool add)
{
	struct upcall_dm_mem_action *act;
	char what[64];
	int ret;

	ret = upcall_dm_mem_check(base, size);
	if (ret)
		return ret;

	act = kzalloc(sizeof(*act), GFP_KERNEL);
	if (!act)
		return -ENOMEM;
	act->base = base;
	act->size = size;
	act->add = add;
	if (add) {
		act->range = kzalloc(sizeof(*act->range), GFP_KERNEL);
		if (!act->range) {
			kfree(act);
			return -ENOMEM;
		}
		act->range->base = base;
		act->range->size = size;
	}

	mutex_lock(&upcall_dm_mem_lock);
	if (upcall_dm_mem_busy)
		ret = -EBUSY;
	else
		ret = upcall_dm_mem_check_state(base, size, add);
	if (!ret)
		upcall_dm_mem_busy = true;
	mutex_unlock(&upcall_dm_mem_lock);
	if (ret) {
		pr_debug("memory %#llx+%#llx: %s refused: %d\n", base, size,
			 add ? "ADD_MEM" : "DEL_MEM", ret);
		kfree(act->range);
		kfree(act);
		return ret;
	}

	snprintf(what, sizeof(what), "memory %#llx+%#llx hot-%s", base, size,
		 add ? "add" : "remove");
	/* act belongs to the action from here on */
	return upcall_dm_run_bounded(upcall_dm_mem_action_fn, act, what);
}

int upcall_dm_mem_add(u64 base, u64 size)
{
	return upcall_dm_mem_request(base, size, true);
}

int upcall_dm_mem_del(u64 base, u64 size)
{
	return upcall_dm_mem_request(base, size, false);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Upcall device manager service ('d').
 *
 * After the service is selected it greets the VMM, then serves requests
 * one at a time: read exactly one 1024 byte request, validate every field,
 * act, and answer with exactly one 1024 byte reply, whatever happened.
 * The connection stays open for further requests until the VMM closes it
 * (or, if the server has an idle timeout, it stays idle for that long).
 *
 * Requests from different connections run concurrently; each kind of
 * action serializes itself (a CPU batch holds the device hotplug lock, a
 * virtio-mmio window is marked busy while it is added or removed). Driver
 * probe and removal run with a bounded wait (upcall_dm_run_bounded()), so
 * a device that never answers costs that device, not the service: its
 * request is answered -ETIMEDOUT and the next requests are served.
 */

#define pr_fmt(fmt) "upcall: devmgr: " fmt

#include <linux/bitmap.h>
#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/string_helpers.h>
#include <linux/upcall.h>
#include <linux/workqueue.h>

#include "devmgr.h"

/* Bounds of the timeout_ms parameter: 100 ms to one hour */
#define UPCALL_DM_MIN_TIMEOUT_MS	100U
#define UPCALL_DM_MAX_TIMEOUT_MS	(60U * 60 * 1000)

static unsigned int timeout_ms = 5000;
module_param(timeout_ms, uint, 0444);
MODULE_PARM_DESC(timeout_ms, "Milliseconds a request waits for a driver probe or removal before it is answered with -ETIMEDOUT (default 5000)");

/* Runs the bounded actions; destroyed (drained) at exit */
static struct workqueue_struct *upcall_dm_wq;

/*
 * One bounded action. Two users hold it: the request waiting for it and
 * the work item running it; the last one to let go frees it.
 */
struct upcall_dm_job {
	struct work_struct work;
	struct completion done;
	refcount_t users;
	int (*fn)(void *data);
	void *data;
	int ret;
	bool abandoned;		/* the request stopped waiting */
	unsigned long start;	/* jiffies */
	char what[64];
};

static void upcall_dm_job_work(struct work_struct *work)
{
	struct upcall_dm_job *job = container_of(work, struct upcall_dm_job, work);

	job->ret = job->fn(job->data);
	complete(&job->done);
	if (!refcount_dec_and_test(&job->users))
		return;

	/* The request is gone, so it was answered -ETIMEDOUT */
	if (job->abandoned)
		pr_notice("%s: finished %u ms after its request timed out: %d\n",
			  job->what, jiffies_to_msecs(jiffies - job->start), job->ret);
	kfree(job);
}

/* See devmgr.h for the rules */
int upcall_dm_run_bounded(int (*fn)(void *data), void *data, const char *what)
{
	struct upcall_dm_job *job;
	int ret;

	/*
	 * The caller hands @data over with this call, so the helper must not
	 * fail before fn runs: otherwise an -ENOMEM of the helper could not
	 * be told from one of fn, and nobody would own @data. The job is a
	 * small allocation; __GFP_NOFAIL only makes explicit that it waits
	 * for memory instead of failing.
	 */
	job = kzalloc(sizeof(*job), GFP_KERNEL | __GFP_NOFAIL);
	INIT_WORK(&job->work, upcall_dm_job_work);
	init_completion(&job->done);
	refcount_set(&job->users, 2);
	job->fn = fn;
	job->data = data;
	job->start = jiffies;
	strscpy(job->what, what, sizeof(job->what));

	queue_work(upcall_dm_wq, &job->work);
	if (wait_for_completion_timeout(&job->done, msecs_to_jiffies(timeout_ms))) {
		ret = job->ret;
	} else {
		ret = -ETIMEDOUT;
		job->abandoned = true;
	}

	if (refcount_dec_and_test(&job->users)) {
		/* It ended after the timeout but before we let go: a result */
		ret = job->ret;
		kfree(job);
	} else if (ret == -ETIMEDOUT) {
		pr_notice("%s: not done after %u ms, answered -ETIMEDOUT; it goes on in the background\n",
			  what, timeout_ms);
	}
	return ret;
}

static int upcall_dm_cpu_request(const struct upcall_dm_msg *req, u32 type,
				 unsigned int *apic_index)
{
	const struct upcall_dm_cpu_req *cpu = &req->cpu;
	DECLARE_BITMAP(seen, ARRAY_SIZE(cpu->apic_ids));
	unsigned int i;

	*apic_index = 0;
	if (le32_to_cpu(req->hdr.msg_size) != UPCALL_DM_CPU_REQ_SIZE)
		return -EINVAL;
	if (!cpu->count)
		return -EINVAL;

	/*
	 * An APIC ID named twice is refused before anything is done, so
	 * apic_index stays 0: it tells the VMM how many APIC IDs the guest
	 * handled, which is what the VMM rolls back from.
	 */
	bitmap_zero(seen, ARRAY_SIZE(cpu->apic_ids));
	for (i = 0; i < cpu->count; i++) {
		if (__test_and_set_bit(cpu->apic_ids[i], seen)) {
			pr_debug("APIC ID %u repeated at index %u\n", cpu->apic_ids[i], i);
			return -EINVAL;
		}
	}

	if (type == UPCALL_DM_ADD_CPU)
		return upcall_dm_cpu_add(cpu->apic_ids, cpu->count, apic_index);
	return upcall_dm_cpu_del(cpu->apic_ids, cpu->count, apic_index);
}

static int upcall_dm_mmio_request(const struct upcall_dm_msg *req, u32 type)
{
	u64 base = le64_to_cpu(req->mmio.mmio_base);
	u64 size = le64_to_cpu(req->mmio.mmio_size);
	u32 irq = le32_to_cpu(req->mmio.mmio_irq);

	if (le32_to_cpu(req->hdr.msg_size) != UPCALL_DM_MMIO_REQ_SIZE)
		return -EINVAL;
	/* An empty window, or one that wraps around the address space */
	if (!size || size - 1 > U64_MAX - base)
		return -EINVAL;

	if (type == UPCALL_DM_ADD_MMIO)
		return upcall_dm_mmio_add(base, size, irq);
	return upcall_dm_mmio_del(base, size);
}

/*
 * Memory actions validate the range against the memory block size and
 * the resources of the guest, and run bounded (devmgr_mem.c).
 */
static int upcall_dm_mem_request(const struct upcall_dm_msg *req, u32 type)
{
	u64 base = le64_to_cpu(req->mem.base);
	u64 size = le64_to_cpu(req->mem.size);

	if (le32_to_cpu(req->hdr.msg_size) != UPCALL_DM_MEM_REQ_SIZE)
		return -EINVAL;
	/* An empty range, or one that wraps around the address space */
	if (!size || size - 1 > U64_MAX - base)
		return -EINVAL;

	if (type == UPCALL_DM_ADD_MEM)
		return upcall_dm_mem_add(base, size);
	return upcall_dm_mem_del(base, size);
}

/*
 * The PCI actions take the PCI core's own rescan/remove lock and run as
 * bounded actions (devmgr_pci.c), so a PCI driver that blocks in probe or
 * removal holds up neither this connection nor CPU and virtio-mmio
 * requests.
 */
static int upcall_dm_pci_request(const struct upcall_dm_msg *req, u32 type)
{
	if (le32_to_cpu(req->hdr.msg_size) != UPCALL_DM_PCI_REQ_SIZE)
		return -EINVAL;

	if (type == UPCALL_DM_ADD_PCI)
		return upcall_dm_pci_add(req->pci.busno, req->pci.devfn);
	return upcall_dm_pci_del(req->pci.busno, req->pci.devfn);
}

/* Fills @rep with the answer to @req; every request gets one */
static void upcall_dm_process(const struct upcall_dm_msg *req,
			      struct upcall_dm_msg *rep)
{
	u32 type = le32_to_cpu(req->hdr.msg_type);
	bool cpu_type = type == UPCALL_DM_ADD_CPU || type == UPCALL_DM_DEL_CPU;
	unsigned int apic_index = 0;
	int ret;

	if (le32_to_cpu(req->hdr.magic_version) != UPCALL_DM_MAGIC_VERSION)
		ret = -EPROTO;
	else if (req->hdr.msg_flags)
		ret = -EINVAL;
	else if (cpu_type)
		ret = upcall_dm_cpu_request(req, type, &apic_index);
	else if (type == UPCALL_DM_ADD_MMIO || type == UPCALL_DM_DEL_MMIO)
		ret = upcall_dm_mmio_request(req, type);
	else if (type == UPCALL_DM_ADD_PCI || type == UPCALL_DM_DEL_PCI)
		ret = upcall_dm_pci_request(req, type);
	else if (type == UPCALL_DM_ADD_MEM || type == UPCALL_DM_DEL_MEM)
		ret = upcall_dm_mem_request(req, type);
	else
		ret = -EOPNOTSUPP;

	memset(rep, 0, sizeof(*rep));
	rep->hdr.magic_version = cpu_to_le32(UPCALL_DM_MAGIC_VERSION);
	rep->hdr.msg_type = cpu_to_le32(type);
	rep->reply.ret = cpu_to_le32(ret);
	if (cpu_type) {
		rep->hdr.msg_size = cpu_to_le32(UPCALL_DM_CPU_REPLY_SIZE);
		rep->reply.apic_index = cpu_to_le32(apic_index);
	} else {
		rep->hdr.msg_size = cpu_to_le32(UPCALL_DM_MMIO_REPLY_SIZE);
	}

	pr_debug("request type %u: %d (apic_index %u)\n", type, ret, apic_index);
}

static void upcall_dm_handle(struct upcall_conn *conn)
{
	struct upcall_dm_msg *req, *rep;
	int ret;

	req = kmalloc(sizeof(*req), GFP_KERNEL);
	rep = kzalloc(sizeof(*rep), GFP_KERNEL);
	if (!req || !rep)
		goto out;

	/* Greeting: CONNECT with an empty payload */
	rep->hdr.magic_version = cpu_to_le32(UPCALL_DM_MAGIC_VERSION);
	ret = upcall_conn_write(conn, rep, sizeof(*rep));

	while (!ret) {
		ret = upcall_conn_read(conn, req, sizeof(*req));
		if (ret)
			break;
		upcall_dm_process(req, rep);
		ret = upcall_conn_write(conn, rep, sizeof(*rep));
	}
	pr_debug("CID %u: connection ends (%d)\n", upcall_conn_peer_cid(conn), ret);
out:
	kfree(req);
	kfree(rep);
}

static struct upcall_service upcall_dm_service = {
	.id = 'd',
	.name = "device manager",
	.owner = THIS_MODULE,
	.handle = upcall_dm_handle,
};

static int __init upcall_dm_init(void)
{
	int ret;

	if (timeout_ms < UPCALL_DM_MIN_TIMEOUT_MS || timeout_ms > UPCALL_DM_MAX_TIMEOUT_MS) {
		timeout_ms = clamp(timeout_ms, UPCALL_DM_MIN_TIMEOUT_MS, UPCALL_DM_MAX_TIMEOUT_MS);
		pr_warn("timeout_ms out of range, using %u\n", timeout_ms);
	}

	/* Unbound: an action that never ends occupies one worker, not a CPU's pool */
	upcall_dm_wq = alloc_workqueue("upcall_dm", WQ_UNBOUND, 0);
	if (!upcall_dm_wq)
		return -ENOMEM;

	ret = upcall_register_service(&upcall_dm_service);
	if (ret) {
		destroy_workqueue(upcall_dm_wq);
		return ret;
	}

	pr_info("service 'd' ready (vCPU hotplug: %s, virtio-mmio hotplug: %s, PCI hotplug: %s, memory hotplug: %s)\n",
		str_yes_no(IS_ENABLED(CONFIG_UPCALL_DEVMGR_CPU)),
		str_yes_no(IS_ENABLED(CONFIG_UPCALL_DEVMGR_MMIO)),
		str_yes_no(IS_ENABLED(CONFIG_UPCALL_DEVMGR_PCI)),
		str_yes_no(IS_ENABLED(CONFIG_UPCALL_DEVMGR_MEM)));
	return 0;
}

/*
 * Devices added over upcall are removed with the module: nothing could
 * remove them afterwards. Hot-added CPUs stay, they are ordinary CPUs.
 * No request runs once the service is unregistered; destroying the work
 * queue then waits for actions still running in the background (for one
 * that never ends, this waits forever: its device cannot be freed).
 */
static void __exit upcall_dm_exit(void)
{
	upcall_unregister_service(&upcall_dm_service);
	destroy_workqueue(upcall_dm_wq);
	upcall_dm_mmio_del_all();
}

module_init(upcall_dm_init);
module_exit(upcall_dm_exit);

MODULE_DESCRIPTION("Upcall device manager: vCPU, virtio-mmio, PCI and memory hotplug requested by the VMM");
MODULE_LICENSE("GPL");

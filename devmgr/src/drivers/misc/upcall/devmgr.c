// SPDX-License-Identifier: GPL-2.0
/*
 * Upcall device manager service ('d').
 *
 * After the service is selected it greets the VMM, then serves requests
 * one at a time: read exactly one 1024 byte request, validate every field,
 * act, and answer with exactly one 1024 byte reply, whatever happened.
 * The connection stays open for further requests until the VMM closes it
 * or it stays idle for longer than the server's idle timeout.
 *
 * Requests from different connections are serialized by upcall_dm_lock,
 * so a batch of CPUs or a device is added or removed as a whole before
 * the next request starts.
 */

#define pr_fmt(fmt) "upcall: devmgr: " fmt

#include <linux/bitmap.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string_choices.h>
#include <linux/upcall.h>

#include "devmgr.h"

static DEFINE_MUTEX(upcall_dm_lock);

static int upcall_dm_cpu_request(const struct upcall_dm_msg *req, u32 type,
				 unsigned int *apic_index)
{
	const struct upcall_dm_cpu_req *cpu = &req->cpu;
	DECLARE_BITMAP(seen, ARRAY_SIZE(cpu->apic_ids));
	unsigned int i;
	int ret;

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

	mutex_lock(&upcall_dm_lock);
	if (type == UPCALL_DM_ADD_CPU)
		ret = upcall_dm_cpu_add(cpu->apic_ids, cpu->count, apic_index);
	else
		ret = upcall_dm_cpu_del(cpu->apic_ids, cpu->count, apic_index);
	mutex_unlock(&upcall_dm_lock);
	return ret;
}

static int upcall_dm_mmio_request(const struct upcall_dm_msg *req, u32 type)
{
	u64 base = le64_to_cpu(req->mmio.mmio_base);
	u64 size = le64_to_cpu(req->mmio.mmio_size);
	u32 irq = le32_to_cpu(req->mmio.mmio_irq);
	int ret;

	if (le32_to_cpu(req->hdr.msg_size) != UPCALL_DM_MMIO_REQ_SIZE)
		return -EINVAL;
	/* An empty window, or one that wraps around the address space */
	if (!size || size - 1 > U64_MAX - base)
		return -EINVAL;

	mutex_lock(&upcall_dm_lock);
	if (type == UPCALL_DM_ADD_MMIO)
		ret = upcall_dm_mmio_add(base, size, irq);
	else
		ret = upcall_dm_mmio_del(base, size);
	mutex_unlock(&upcall_dm_lock);
	return ret;
}

/*
 * Not under upcall_dm_lock: the PCI actions take the PCI core's own
 * rescan/remove lock, so a PCI driver that blocks in probe or removal
 * does not hold up CPU and virtio-mmio requests.
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

	ret = upcall_register_service(&upcall_dm_service);
	if (ret)
		return ret;

	pr_info("service 'd' ready (vCPU hotplug: %s, virtio-mmio hotplug: %s, PCI hotplug: %s)\n",
		str_yes_no(IS_ENABLED(CONFIG_UPCALL_DEVMGR_CPU)),
		str_yes_no(IS_ENABLED(CONFIG_UPCALL_DEVMGR_MMIO)),
		str_yes_no(IS_ENABLED(CONFIG_UPCALL_DEVMGR_PCI)));
	return 0;
}

/*
 * Devices added over upcall are removed with the module: nothing could
 * remove them afterwards. Hot-added CPUs stay, they are ordinary CPUs.
 */
static void __exit upcall_dm_exit(void)
{
	upcall_unregister_service(&upcall_dm_service);
	upcall_dm_mmio_del_all();
}

module_init(upcall_dm_init);
module_exit(upcall_dm_exit);

MODULE_DESCRIPTION("Upcall device manager: vCPU, virtio-mmio and PCI hotplug requested by the VMM");
MODULE_LICENSE("GPL");

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Upcall device manager: wire format of the messages and the actions the
 * requests map to.
 *
 * The format is the one of Dragonball's device manager service, so that
 * a guest works with VMMs speaking that protocol: every message is 1024
 * bytes, little endian, a 16 byte header followed by a payload.
 */
#ifndef _UPCALL_DEVMGR_H
#define _UPCALL_DEVMGR_H

#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/stddef.h>
#include <linux/types.h>

#define UPCALL_DM_MAGIC_VERSION		0x444D0100	/* 'D' 'M' 1.0 */
#define UPCALL_DM_MSG_LEN		1024

enum upcall_dm_msg_type {
	UPCALL_DM_CONNECT	= 0,
	UPCALL_DM_ADD_CPU	= 1,
	UPCALL_DM_DEL_CPU	= 2,
	UPCALL_DM_ADD_MEM	= 3,
	UPCALL_DM_DEL_MEM	= 4,
	UPCALL_DM_ADD_MMIO	= 5,
	UPCALL_DM_DEL_MMIO	= 6,
	UPCALL_DM_ADD_PCI	= 7,
	UPCALL_DM_DEL_PCI	= 8,
};

struct upcall_dm_header {
	__le32 magic_version;
	__le32 msg_size;	/* bytes of payload that are meaningful */
	__le32 msg_type;
	__le32 msg_flags;	/* reserved, 0 */
};

/* ADD_CPU and DEL_CPU request payload (x86_64) */
struct upcall_dm_cpu_req {
	u8 count;
	u8 apic_ver;
	u8 apic_ids[256];
};

/*
 * ADD_MMIO and DEL_MMIO request payload. The peers lay it out as a C struct
 * with natural alignment on x86_64, which ends in 4 bytes of padding; the
 * padding is spelled out so that the layout does not depend on the ABI
 * (i386 aligns 64 bit fields to 4 bytes and would drop it).
 */
struct upcall_dm_mmio_req {
	__le64 mmio_base;
	__le64 mmio_size;
	__le32 mmio_irq;
	u8 reserved[4];
};

/*
 * ADD_MEM and DEL_MEM request payload: a guest-physical range. Our
 * extension: Dragonball reserved the types but defined no payload.
 */
struct upcall_dm_mem_req {
	__le64 base;
	__le64 size;
};

/* ADD_PCI and DEL_PCI request payload: a slot of PCI domain 0 */
struct upcall_dm_pci_req {
	u8 busno;
	u8 devfn;
};

/* Reply payload: ret for every reply, apic_index for CPU replies only */
struct upcall_dm_reply {
	__le32 ret;		/* 0 or a negative errno */
	__le32 apic_index;
};

struct upcall_dm_msg {
	struct upcall_dm_header hdr;
	union {
		struct upcall_dm_cpu_req cpu;
		struct upcall_dm_mmio_req mmio;
		struct upcall_dm_mem_req mem;
		struct upcall_dm_pci_req pci;
		struct upcall_dm_reply reply;
		u8 payload[UPCALL_DM_MSG_LEN - sizeof(struct upcall_dm_header)];
	};
};

#define UPCALL_DM_CPU_REQ_SIZE		258
#define UPCALL_DM_MMIO_REQ_SIZE		24
#define UPCALL_DM_CPU_REPLY_SIZE	4
#define UPCALL_DM_MMIO_REPLY_SIZE	0
/* A virtio-mmio window holds at least the register block */
#define UPCALL_DM_MMIO_MIN_SIZE		0x200
#define UPCALL_DM_PCI_REQ_SIZE		2
#define UPCALL_DM_PCI_REPLY_SIZE	0
#define UPCALL_DM_MEM_REQ_SIZE		16
#define UPCALL_DM_MEM_REPLY_SIZE	0

static_assert(sizeof(struct upcall_dm_header) == 16);
static_assert(sizeof(struct upcall_dm_cpu_req) == UPCALL_DM_CPU_REQ_SIZE);
static_assert(sizeof(struct upcall_dm_mmio_req) == UPCALL_DM_MMIO_REQ_SIZE);
static_assert(sizeof(struct upcall_dm_pci_req) == UPCALL_DM_PCI_REQ_SIZE);
static_assert(sizeof(struct upcall_dm_mem_req) == UPCALL_DM_MEM_REQ_SIZE);
static_assert(sizeof(struct upcall_dm_msg) == UPCALL_DM_MSG_LEN);
static_assert(offsetof(struct upcall_dm_msg, hdr.msg_size) == 4);
static_assert(offsetof(struct upcall_dm_msg, hdr.msg_type) == 8);
static_assert(offsetof(struct upcall_dm_msg, hdr.msg_flags) == 12);
static_assert(offsetof(struct upcall_dm_msg, cpu.count) == 16);
static_assert(offsetof(struct upcall_dm_msg, cpu.apic_ver) == 17);
static_assert(offsetof(struct upcall_dm_msg, cpu.apic_ids) == 18);
static_assert(offsetof(struct upcall_dm_msg, mmio.mmio_base) == 16);
static_assert(offsetof(struct upcall_dm_msg, mmio.mmio_size) == 24);
static_assert(offsetof(struct upcall_dm_msg, mmio.mmio_irq) == 32);
static_assert(offsetof(struct upcall_dm_msg, mmio.reserved) == 36);
static_assert(offsetof(struct upcall_dm_msg, mem.base) == 16);
static_assert(offsetof(struct upcall_dm_msg, mem.size) == 24);
static_assert(offsetof(struct upcall_dm_msg, pci.busno) == 16);
static_assert(offsetof(struct upcall_dm_msg, pci.devfn) == 17);
static_assert(offsetof(struct upcall_dm_msg, reply.ret) == 16);
static_assert(offsetof(struct upcall_dm_msg, reply.apic_index) == 20);

/*
 * Bounded waits for actions that may never finish.
 *
 * Probing or removing a device runs driver code which waits for the
 * device, e.g. a disk that reads its partition table. If the device never
 * answers (the VMM named the wrong interrupt), neither does the driver.
 * Such an action runs in a work item of the device manager, and the
 * request waits for it at most upcall_devmgr.timeout_ms:
 *
 *	ret = upcall_dm_run_bounded(fn, data, "virtio-mmio at 0x...");
 *
 * Return: what fn(data) returned if it finished in time; -ETIMEDOUT if it
 * did not (fn goes on in the background, and its result is logged when it
 * ends). The helper itself never fails: fn always runs, so whatever else
 * is returned (-ENOMEM included) is fn's own result.
 *
 * Rules for the caller:
 * - After -ETIMEDOUT, fn still owns @data: the caller must not touch it.
 *   The usual way is a per-device state under the caller's lock: the
 *   caller marks the device busy before the call, fn clears the mark (or
 *   frees the device) as its last access, and requests for a busy device
 *   are answered -EBUSY instead of waiting.
 * - No lock may be held across the call, and fn must not take a lock a
 *   request holds while it waits: other requests must go on meanwhile.
 * - @what names the action in log messages; it is copied.
 * - The device manager's exit waits for every fn still running (it
 *   destroys the work queue) before it removes devices.
 */
int upcall_dm_run_bounded(int (*fn)(void *data), void *data, const char *what);

/*
 * CPU actions. @apic_ids holds @count distinct APIC IDs. The return value
 * is 0 or a negative errno; *@done is set to the number of APIC IDs
 * handled before the first failure (@count on success).
 */
#ifdef CONFIG_UPCALL_DEVMGR_CPU
int upcall_dm_cpu_add(const u8 *apic_ids, unsigned int count,
		      unsigned int *done);
int upcall_dm_cpu_del(const u8 *apic_ids, unsigned int count,
		      unsigned int *done);
#else
static inline int upcall_dm_cpu_add(const u8 *apic_ids, unsigned int count,
				    unsigned int *done)
{
	*done = 0;
	return -EOPNOTSUPP;
}

static inline int upcall_dm_cpu_del(const u8 *apic_ids, unsigned int count,
				    unsigned int *done)
{
	*done = 0;
	return -EOPNOTSUPP;
}
#endif

/*
 * virtio-mmio actions. The caller checked that @size is not zero and that
 * the window does not wrap around. upcall_dm_mmio_del_all() runs at exit,
 * after every bounded action ended.
 */
#ifdef CONFIG_UPCALL_DEVMGR_MMIO
int upcall_dm_mmio_add(u64 base, u64 size, u32 irq);
int upcall_dm_mmio_del(u64 base, u64 size);
void upcall_dm_mmio_del_all(void);
#else
static inline int upcall_dm_mmio_add(u64 base, u64 size, u32 irq)
{
	return -EOPNOTSUPP;
}

static inline int upcall_dm_mmio_del(u64 base, u64 size)
{
	return -EOPNOTSUPP;
}

static inline void upcall_dm_mmio_del_all(void) { }
#endif

/*
 * PCI actions on the slot of @devfn on bus @busno of domain 0. @devfn
 * must name function 0 (-EINVAL otherwise); the whole slot is added or
 * removed. Bounded like the other driver actions: -ETIMEDOUT when the
 * action did not finish in time, -EBUSY while an earlier one still runs.
 */
#ifdef CONFIG_UPCALL_DEVMGR_PCI
int upcall_dm_pci_add(u8 busno, u8 devfn);
int upcall_dm_pci_del(u8 busno, u8 devfn);
#else
static inline int upcall_dm_pci_add(u8 busno, u8 devfn)
{
	return -EOPNOTSUPP;
}

static inline int upcall_dm_pci_del(u8 busno, u8 devfn)
{
	return -EOPNOTSUPP;
}
#endif

/*
 * Memory actions on the guest-physical range [@base, @base + @size). The
 * caller checked that @size is not zero and that the range does not wrap
 * around. Bounded like the driver actions: -ETIMEDOUT when the action did
 * not finish in time, -EBUSY while an earlier one still runs.
 */
#ifdef CONFIG_UPCALL_DEVMGR_MEM
int upcall_dm_mem_add(u64 base, u64 size);
int upcall_dm_mem_del(u64 base, u64 size);
#else
static inline int upcall_dm_mem_add(u64 base, u64 size)
{
	return -EOPNOTSUPP;
}

static inline int upcall_dm_mem_del(u64 base, u64 size)
{
	return -EOPNOTSUPP;
}
#endif

#endif /* _UPCALL_DEVMGR_H */

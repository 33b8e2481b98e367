// SPDX-License-Identifier: MIT
/*
 * Session: the device-manager conversation on a connected stream. Select
 * the service, check the greeting, then one request and one reply at a
 * time. Arguments are checked before anything is sent.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "internal.h"

int upcall_devmgr_start(struct upcall *h)
{
	static const uint8_t service = UPCALL_SERVICE_DEVMGR;
	int64_t deadline = uc_deadline(h);
	uint8_t buf[UPCALL_MSG_SIZE];
	struct upcall_header hdr;
	int err;

	err = uc_write_all(h, &service, 1, deadline, "service selection");
	if (err)
		return err;
	err = uc_read_all(h, buf, sizeof(buf), deadline, "greeting");
	if (err)
		return err;
	if (upcall_check_greeting(buf, sizeof(buf)) < 0) {
		upcall_decode_header(buf, &hdr);
		return uc_fail(h, -EPROTO,
			       "greeting: got {magic 0x%08" PRIx32 ", size %" PRIu32
			       ", type %" PRIu32 ", flags %" PRIu32
			       "}, expected {0x%08x, 0, 0, 0}",
			       hdr.magic_version, hdr.msg_size, hdr.msg_type,
			       hdr.msg_flags, UPCALL_MAGIC_VERSION);
	}
	h->err[0] = '\0';
	return 0;
}

/* Send an encoded request and decode its reply. */
static int exchange(struct upcall *h, const uint8_t *req, uint32_t type,
		    unsigned int count, struct upcall_reply *reply)
{
	int64_t deadline = uc_deadline(h);
	uint8_t buf[UPCALL_MSG_SIZE];
	struct upcall_header hdr;
	const char *name = upcall_msg_type_name(type);
	int err;

	err = uc_write_all(h, req, UPCALL_MSG_SIZE, deadline, name);
	if (err)
		return err;
	err = uc_read_all(h, buf, sizeof(buf), deadline, name);
	if (err)
		return err;
	err = upcall_decode_reply(buf, sizeof(buf), type, count, reply);
	if (err) {
		upcall_decode_header(buf, &hdr);
		return uc_fail(h, err,
			       "%s reply malformed: magic 0x%08" PRIx32 ", size %" PRIu32
			       ", type %" PRIu32 ", ret %d, apic_index %" PRIu32
			       " (expected magic 0x%08x, type %" PRIu32 ")",
			       name, hdr.magic_version, hdr.msg_size, hdr.msg_type,
			       reply->ret, reply->apic_index, UPCALL_MAGIC_VERSION, type);
	}
	if (reply->ret != 0)
		uc_fail(h, 0, "guest refused %s: %s (%d)%s", name,
			upcall_strerror(reply->ret), reply->ret,
			reply->msg_type == UPCALL_MSG_ADD_CPU ||
			reply->msg_type == UPCALL_MSG_DEL_CPU ?
			(reply->has_apic_index ? "" : ", apic_index out of range") : "");
	else
		h->err[0] = '\0';
	return 0;
}

static int cpu_request(struct upcall *h, enum upcall_msg_type type,
		       const uint8_t *apic_ids, unsigned int count,
		       struct upcall_reply *reply)
{
	uint8_t req[UPCALL_MSG_SIZE];

	if (!reply)
		return uc_fail(h, -EINVAL, "no reply buffer");
	memset(reply, 0, sizeof(*reply));
	if (count < 1 || count > UPCALL_MAX_CPU_BATCH)
		return uc_fail(h, -EINVAL, "CPU count %u out of range 1..%u",
			       count, UPCALL_MAX_CPU_BATCH);
	if (!apic_ids)
		return uc_fail(h, -EINVAL, "no APIC ID list");
	if (upcall_encode_cpu(req, type, apic_ids, count) < 0)
		return uc_fail(h, -EINVAL, "cannot encode %s",
			       upcall_msg_type_name(type));
	return exchange(h, req, type, count, reply);
}

int upcall_cpu_add(struct upcall *h, const uint8_t *apic_ids,
		   unsigned int count, struct upcall_reply *reply)
{
	return cpu_request(h, UPCALL_MSG_ADD_CPU, apic_ids, count, reply);
}

int upcall_cpu_del(struct upcall *h, const uint8_t *apic_ids,
		   unsigned int count, struct upcall_reply *reply)
{
	return cpu_request(h, UPCALL_MSG_DEL_CPU, apic_ids, count, reply);
}

static int mmio_request(struct upcall *h, enum upcall_msg_type type,
			uint64_t base, uint64_t size, uint32_t irq,
			struct upcall_reply *reply)
{
	uint8_t req[UPCALL_MSG_SIZE];

	if (!reply)
		return uc_fail(h, -EINVAL, "no reply buffer");
	memset(reply, 0, sizeof(*reply));
	if (size == 0)
		return uc_fail(h, -EINVAL, "MMIO size must not be zero");
	if (base + (size - 1) < base)
		return uc_fail(h, -EINVAL,
			       "MMIO window 0x%" PRIx64 " + 0x%" PRIx64
			       " wraps around the address space", base, size);
	if (upcall_encode_mmio(req, type, base, size, irq) < 0)
		return uc_fail(h, -EINVAL, "cannot encode %s",
			       upcall_msg_type_name(type));
	return exchange(h, req, type, 0, reply);
}

int upcall_mmio_add(struct upcall *h, uint64_t base, uint64_t size,
		    uint32_t irq, struct upcall_reply *reply)
{
	return mmio_request(h, UPCALL_MSG_ADD_MMIO, base, size, irq, reply);
}

int upcall_mmio_del(struct upcall *h, uint64_t base, uint64_t size,
		    uint32_t irq, struct upcall_reply *reply)
{
	return mmio_request(h, UPCALL_MSG_DEL_MMIO, base, size, irq, reply);
}

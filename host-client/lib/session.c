// SPDX-License-Identifier: MIT
/*
 * Session: the device-manager conversation on a connected stream. Select
 * the service, check the greeting, then one request and one reply at a
 * time. Arguments are checked before anything is sent. Any failure once
 * bytes may have moved breaks the handle (uc_break): one request, one
 * reply, and never a late reply read as the next request's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

int upcall_devmgr_start(struct upcall *h)
{
	static const uint8_t service = UPCALL_SERVICE_DEVMGR;
	int64_t deadline = uc_deadline(h);
	uint8_t buf[UPCALL_MSG_SIZE];
	struct upcall_header hdr;
	int err;

	err = uc_check_usable(h, "service selection");
	if (err)
		return err;
	if (h->devmgr)
		return uc_fail(h, -EINVAL,
			       "device manager already selected on this connection");
	err = uc_write_all(h, &service, 1, deadline, "service selection");
	if (err)
		return uc_break(h, err);
	err = uc_read_all(h, buf, sizeof(buf), deadline, "greeting");
	if (err)
		return uc_break(h, err);
	if (upcall_check_greeting(buf, sizeof(buf)) < 0) {
		upcall_decode_header(buf, &hdr);
		uc_fail(h, -EPROTO,
			       "greeting: got {magic 0x%08" PRIx32 ", size %" PRIu32
			       ", type %" PRIu32 ", flags %" PRIu32
			       "}, expected {0x%08x, 0, 0, 0}",
			       hdr.magic_version, hdr.msg_size, hdr.msg_type,
			       hdr.msg_flags, UPCALL_MAGIC_VERSION);
		return uc_break(h, -EPROTO);
	}
	h->devmgr = true;
	h->err[0] = '\0';
	return 0;
}

/* Raw fields of a reply the decoder refused, for the error message. */
static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint32_t get_ret(const uint8_t *buf)
{
	return get_u32(buf + 16);
}

static uint32_t get_index(const uint8_t *buf)
{
	return get_u32(buf + 20);
}

/* Send an encoded request and decode its reply. */
static int exchange(struct upcall *h, const uint8_t *req, uint32_t type,
		    unsigned int count, struct upcall_reply *reply)
{
	int64_t deadline = uc_deadline(h);
	uint8_t buf[UPCALL_MSG_SIZE];
	struct upcall_header hdr;
	const char *name = upcall_msg_type_name(type);
	char want[96] = "";
	int err;

	err = uc_check_usable(h, name);
	if (err)
		return err;
	if (!h->devmgr)
		return uc_fail(h, -EINVAL,
			       "%s: the device manager is not selected (call upcall_devmgr_start first)",
			       name);
	err = uc_write_all(h, req, UPCALL_MSG_SIZE, deadline, name);
	if (err)
		return uc_break(h, err);
	err = uc_read_all(h, buf, sizeof(buf), deadline, name);
	if (err)
		return uc_break(h, err);
	err = upcall_decode_reply(buf, sizeof(buf), type, count, reply);
	if (err) {
		upcall_decode_header(buf, &hdr);
		if (type == UPCALL_MSG_ADD_CPU || type == UPCALL_MSG_DEL_CPU)
			snprintf(want, sizeof(want),
				 ", and for a success of this batch of %u: size >= 4, apic_index %u",
				 count, count);
		uc_fail(h, err,
			"%s reply malformed: magic 0x%08" PRIx32 ", size %" PRIu32
			", type %" PRIu32 ", ret %" PRId32 ", apic_index %" PRIu32
			" (expected magic 0x%08x, type %" PRIu32
			", ret 0 or a negative errno%s)",
			name, hdr.magic_version, hdr.msg_size, hdr.msg_type,
			(int32_t)get_ret(buf), get_index(buf), UPCALL_MAGIC_VERSION,
			type, want);
		memset(reply, 0, sizeof(*reply));
		return uc_break(h, err);
	}
	if (reply->ret != 0)
		uc_fail(h, 0, "guest refused %s: %s (%d)%s", name,
			upcall_strerror(reply->ret), reply->ret,
			reply->msg_type == UPCALL_MSG_ADD_CPU ||
			reply->msg_type == UPCALL_MSG_DEL_CPU ?
			(reply->has_apic_index ? "" : "; how far the batch got is unknown (no apic_index below the batch size)") : "");
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

int uc_exchange(struct upcall *h, const uint8_t *req, uint32_t type,
		struct upcall_reply *reply)
{
	return exchange(h, req, type, 0, reply);
}

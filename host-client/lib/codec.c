// SPDX-License-Identifier: MIT
/*
 * Pure encoding and decoding of device-manager messages. No I/O here, so
 * this file can be fuzzed and checked against golden byte images alone.
 * The layout is little-endian whatever the host; bytes are placed one by
 * one rather than through struct overlays so padding never leaks.
 */
#include <errno.h>
#include <string.h>

#include "upcall.h"

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_header(uint8_t *buf, uint32_t size, uint32_t type)
{
	memset(buf, 0, UPCALL_MSG_SIZE);
	put_le32(buf + 0, UPCALL_MAGIC_VERSION);
	put_le32(buf + 4, size);
	put_le32(buf + 8, type);
	put_le32(buf + 12, 0);
}

int upcall_encode_cpu(uint8_t *buf, enum upcall_msg_type type,
		      const uint8_t *apic_ids, unsigned int count)
{
	if (type != UPCALL_MSG_ADD_CPU && type != UPCALL_MSG_DEL_CPU)
		return -EINVAL;
	if (count < 1 || count > UPCALL_MAX_CPU_BATCH || !apic_ids)
		return -EINVAL;
	put_header(buf, UPCALL_CPU_PAYLOAD_SIZE, type);
	buf[UPCALL_HDR_SIZE + 0] = (uint8_t)count;
	buf[UPCALL_HDR_SIZE + 1] = 0; /* apic_ver: unused by the guest */
	memcpy(buf + UPCALL_HDR_SIZE + 2, apic_ids, count);
	return 0;
}

int upcall_encode_mmio(uint8_t *buf, enum upcall_msg_type type,
		       uint64_t base, uint64_t size, uint32_t irq)
{
	if (type != UPCALL_MSG_ADD_MMIO && type != UPCALL_MSG_DEL_MMIO)
		return -EINVAL;
	/* The window [base, base + size) must be non-empty and not wrap. */
	if (size == 0 || base + (size - 1) < base)
		return -EINVAL;
	put_header(buf, UPCALL_MMIO_PAYLOAD_SIZE, type);
	put_le64(buf + UPCALL_HDR_SIZE + 0, base);
	put_le64(buf + UPCALL_HDR_SIZE + 8, size);
	put_le32(buf + UPCALL_HDR_SIZE + 16, irq);
	/* bytes 20..23 of the payload are the C struct's tail padding: zero */
	return 0;
}

int upcall_encode_pci(uint8_t *buf, enum upcall_msg_type type,
		      uint8_t busno, uint8_t devfn)
{
	if (type != UPCALL_MSG_ADD_PCI && type != UPCALL_MSG_DEL_PCI)
		return -EINVAL;
	put_header(buf, UPCALL_PCI_PAYLOAD_SIZE, type);
	buf[UPCALL_HDR_SIZE + 0] = busno;
	buf[UPCALL_HDR_SIZE + 1] = devfn;
	return 0;
}

int upcall_encode_mem(uint8_t *buf, enum upcall_msg_type type,
		      uint64_t base, uint64_t size)
{
	if (type != UPCALL_MSG_ADD_MEM && type != UPCALL_MSG_DEL_MEM)
		return -EINVAL;
	if (size == 0 || base + (size - 1) < base)
		return -EINVAL;
	put_header(buf, UPCALL_MEM_PAYLOAD_SIZE, type);
	put_le64(buf + UPCALL_HDR_SIZE + 0, base);
	put_le64(buf + UPCALL_HDR_SIZE + 8, size);
	return 0;
}

void upcall_decode_header(const uint8_t *buf, struct upcall_header *hdr)
{
	hdr->magic_version = get_le32(buf + 0);
	hdr->msg_size = get_le32(buf + 4);
	hdr->msg_type = get_le32(buf + 8);
	hdr->msg_flags = get_le32(buf + 12);
}

int upcall_check_greeting(const uint8_t *buf, size_t len)
{
	struct upcall_header hdr;

	if (len != UPCALL_MSG_SIZE)
		return -EMSGSIZE;
	upcall_decode_header(buf, &hdr);
	/* The same rule as dbs-upcall: all four fields exactly. */
	if (hdr.magic_version != UPCALL_MAGIC_VERSION || hdr.msg_size != 0 ||
	    hdr.msg_type != UPCALL_MSG_CONNECT || hdr.msg_flags != 0)
		return -EPROTO;
	return 0;
}

static bool is_cpu_type(uint32_t type)
{
	return type == UPCALL_MSG_ADD_CPU || type == UPCALL_MSG_DEL_CPU;
}

/* Largest errno the kernel hands out as a negative return (MAX_ERRNO). */
#define UPCALL_MAX_ERRNO 4095

/*
 * The type-specific part of a CPU reply. A success must carry apic_index
 * == count. A failure is a refusal whatever its payload: Kata's guest
 * answers every failure with msg_size 0 and leaves apic_index as the reply
 * buffer held it, so an index is trusted only when present and below the
 * batch size (the index of the APIC ID that failed).
 */
static int decode_cpu_payload(const uint8_t *buf, const struct upcall_header *hdr,
			      unsigned int count, struct upcall_reply *reply)
{
	bool present = hdr->msg_size >= UPCALL_CPU_REPLY_SIZE;

	if (present)
		reply->apic_index = get_le32(buf + 20);
	if (reply->ret == 0) {
		if (!present || reply->apic_index != count)
			return -EPROTO;
		reply->has_apic_index = true;
		return 0;
	}
	reply->has_apic_index = present && reply->apic_index < count;
	return 0;
}

int upcall_decode_reply(const uint8_t *buf, size_t len, uint32_t expect_type,
			unsigned int count, struct upcall_reply *reply)
{
	struct upcall_header hdr;

	memset(reply, 0, sizeof(*reply));
	if (len != UPCALL_MSG_SIZE)
		return -EMSGSIZE;
	upcall_decode_header(buf, &hdr);
	if (hdr.magic_version != UPCALL_MAGIC_VERSION)
		return -EPROTO;
	if (hdr.msg_type != expect_type)
		return -EPROTO;
	if (hdr.msg_size > UPCALL_MSG_SIZE - UPCALL_HDR_SIZE)
		return -EPROTO;
	reply->msg_type = hdr.msg_type;
	reply->msg_size = hdr.msg_size;
	reply->ret = (int32_t)get_le32(buf + 16);
	/* ret is 0 or a negative errno; anything else is not an answer. */
	if (reply->ret > 0 || reply->ret < -UPCALL_MAX_ERRNO)
		return -EPROTO;
	if (is_cpu_type(hdr.msg_type))
		return decode_cpu_payload(buf, &hdr, count, reply);
	return 0;
}

int upcall_parse_hybrid_reply(const char *line, size_t len,
			      uint32_t *host_port)
{
	uint64_t port = 0;
	size_t i;

	/* Exactly "OK <decimal port>\n". */
	if (len < 5 || memcmp(line, "OK ", 3) != 0 || line[len - 1] != '\n')
		return -ECONNREFUSED;
	for (i = 3; i < len - 1; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -ECONNREFUSED;
		port = port * 10 + (uint64_t)(line[i] - '0');
		if (port > UINT32_MAX)
			return -ECONNREFUSED;
	}
	if (host_port)
		*host_port = (uint32_t)port;
	return 0;
}

const char *upcall_msg_type_name(uint32_t type)
{
	static const char *const names[] = {
		"CONNECT", "ADD_CPU", "DEL_CPU", "ADD_MEM", "DEL_MEM",
		"ADD_MMIO", "DEL_MMIO", "ADD_PCI", "DEL_PCI",
	};

	if (type < sizeof(names) / sizeof(names[0]))
		return names[type];
	return "UNKNOWN";
}

// SPDX-License-Identifier: MIT
/*
 * Memory requests, our extension of the device-manager protocol: ADD_MEM
 * and DEL_MEM name a guest-physical range, payload {__le64 base, __le64
 * size} (docs/protocol.md). The guest judges alignment (its memory block
 * size) and overlap; only an empty or wrapping range is refused here.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static int mem_request(struct upcall *h, enum upcall_msg_type type,
		       uint64_t base, uint64_t size, struct upcall_reply *reply)
{
	uint8_t req[UPCALL_MSG_SIZE];

	if (!reply)
		return uc_fail(h, -EINVAL, "no reply buffer");
	memset(reply, 0, sizeof(*reply));
	if (upcall_encode_mem(req, type, base, size) < 0)
		return uc_fail(h, -EINVAL, "%s: empty or wrapping range",
			       upcall_msg_type_name(type));
	return uc_exchange(h, req, type, reply);
}

int upcall_mem_add(struct upcall *h, uint64_t base, uint64_t size,
		   struct upcall_reply *reply)
{
	return mem_request(h, UPCALL_MSG_ADD_MEM, base, size, reply);
}

int upcall_mem_del(struct upcall *h, uint64_t base, uint64_t size,
		   struct upcall_reply *reply)
{
	return mem_request(h, UPCALL_MSG_DEL_MEM, base, size, reply);
}

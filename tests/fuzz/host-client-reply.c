// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the reply decoder and the greeting check over arbitrary
 * bytes. The first two bytes pick the expected type and the batch size;
 * the rest is the message (zero padded or cut to 1024 bytes). Checks the
 * decoder's promises (upcall.h: struct upcall_reply, upcall_decode_reply),
 * Kata-shaped failures included, not just the absence of crashes.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "upcall.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t msg[UPCALL_MSG_SIZE] = { 0 };
	struct upcall_reply r;
	uint32_t type;
	unsigned int count;
	size_t len;

	if (size < 2)
		return 0;
	type = data[0] % 10;
	count = data[1];
	len = size - 2 > sizeof(msg) ? sizeof(msg) : size - 2;
	memcpy(msg, data + 2, len);

	if (upcall_decode_reply(msg, sizeof(msg), type, count, &r) == 0) {
		bool cpu = type == 1 || type == 2;

		if (r.msg_type != type)
			abort();
		/* ret is 0 or a negative errno, never anything else. */
		if (r.ret > 0 || r.ret < -4095)
			abort();
		/* A success is well formed: the whole batch, said in the reply. */
		if (cpu && r.ret == 0 &&
		    (!r.has_apic_index || r.apic_index != count || r.msg_size < 4))
			abort();
		/* A failure's index is trusted only below the batch size and
		 * only if the reply carries it (Kata: msg_size 0). */
		if (cpu && r.ret != 0 && r.has_apic_index &&
		    (r.apic_index >= count || r.msg_size < 4))
			abort();
		if (!cpu && r.has_apic_index)
			abort();
	}
	/* A short buffer is never a reply or a greeting. */
	if (upcall_decode_reply(msg, len, type, count, &r) == 0 && len != sizeof(msg))
		abort();
	if (upcall_check_greeting(msg, sizeof(msg)) == 0 &&
	    (msg[0] != 0x00 || msg[1] != 0x01 || msg[2] != 0x4d || msg[3] != 0x44))
		abort();
	return 0;
}

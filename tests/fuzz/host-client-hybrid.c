// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the hybrid vsock handshake reply parser. Accepting a line
 * means it is "OK <digits>\n" with the port it reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upcall.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	uint32_t port = 0;
	char again[32];
	size_t digits;

	if (upcall_parse_hybrid_reply(line, size, &port) != 0)
		return 0;
	if (size < 5 || memcmp(line, "OK ", 3) || line[size - 1] != '\n')
		abort();
	/* Leading zeros aside, the digits are the port in decimal. */
	digits = 3;
	while (digits < size - 2 && line[digits] == '0')
		digits++;
	snprintf(again, sizeof(again), "%u", port);
	if (strlen(again) != size - 1 - digits ||
	    memcmp(again, line + digits, strlen(again)))
		abort();
	return 0;
}

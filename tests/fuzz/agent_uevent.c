// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: agent/uevent.c + agent/json.c. Any datagram must parse
 * without reading out of bounds, and an accepted one must give JSON that
 * fits the buffer the agent uses.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "agent_proto.h"
#include "json.h"
#include "uevent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char json[AGENT_UEVENT_MAX * 6 + 128];
	struct uevent ev;
	struct jbuf jb;

	if (uevent_parse((const char *)data, size, AGENT_UEVENT_MAX, &ev))
		return 0;
	jb_init(&jb, json, sizeof(json));
	uevent_to_json(&ev, &jb);
	if (jb_finish(&jb) < 0)
		abort();	/* the agent's buffer must always suffice */
	return 0;
}

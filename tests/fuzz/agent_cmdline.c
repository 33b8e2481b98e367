// SPDX-License-Identifier: GPL-2.0
/* libFuzzer harness: agent/cmdline.c, agent/request.c, agent/cpulist.c. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "cpulist.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct agent_cmdline cfg;
	struct request req;

	cmdline_parse_agent(s, size, &cfg);
	if (strlen(cfg.script) >= sizeof(cfg.script))
		abort();
	request_parse(s, size, &req);
	if (req.kind == REQ_EXEC &&
	    (req.arg < s || req.arg + req.arg_len > s + size || !req.arg_len))
		abort();
	/* the status service's admission: never NULL for these peers */
	if (size >= 8) {
		char why[64];
		unsigned int peer, local;

		memcpy(&peer, data, sizeof(peer));
		memcpy(&local, data + 4, sizeof(local));
		if (peer != REQ_CID_HOST && peer != REQ_CID_LOCAL &&
		    peer != local &&
		    !request_refused(REQ_EXEC, peer, local, true, why,
				     sizeof(why)))
			abort();
		if (request_refused(req.kind, peer, local, false, why,
				    sizeof(why)) &&
		    strlen(why) >= sizeof(why))
			abort();
	}
	(void)cpulist_count(s, size);
	return 0;
}

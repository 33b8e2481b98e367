// SPDX-License-Identifier: GPL-2.0
/*
 * upcall guest agent: PID 1 of the test guests. Sets the system up, then
 * serves uevents, children and status clients from one event loop. It never
 * exits (that would panic the kernel): a failed setup step is reported and
 * the rest keeps working.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "fdio.h"
#include "log.h"

static struct agent ag;

static void read_cmdline(struct agent *a)
{
	char buf[4096];
	ssize_t n = read_small_file("/proc/cmdline", buf, sizeof(buf));

	if (n < 0) {
		log_errno("read /proc/cmdline");
		n = 0;
	}
	cmdline_parse_agent(buf, (size_t)n, &a->cfg);
}

int main(void)
{
	ag.uevent.fd = -1;
	ag.listener.fd = -1;
	ag.sigchld.fd = -1;

	setup_mounts(&ag);
	setup_console(&ag);
	setup_environment();
	if (getpid() != 1)
		log_msg("warning: not PID 1 (pid %d); orphans are not ours",
			(int)getpid());
	read_cmdline(&ag);

	if (loop_init(&ag) < 0) {
		/* nothing can be served without the loop: just stay alive */
		log_msg("fatal: no event loop; idling");
		for (;;)
			pause();
	}
	ag.children_ok = children_init(&ag) == 0;
	ag.uevents_ok = uevent_init(&ag) == 0;
	ag.vsock_ok = server_init(&ag) == 0;

	ready_announce(&ag);
	script_start(&ag);
	loop_run(&ag);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * upcall guest agent: PID 1 of the test guests. Sets the system up, then
 * serves uevents, children, signals and status clients from one event
 * loop. It never exits (that would panic the kernel): a failed setup step
 * is reported and the rest keeps working.
 */
#include <unistd.h>

#include "agent.h"
#include "children.h"
#include "exec.h"
#include "fdio.h"
#include "log.h"
#include "loop.h"
#include "script.h"
#include "server.h"
#include "shutdown.h"
#include "uevent_sock.h"

static struct agent ag;
static struct server_config server_cfg;

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

/* the status service's `reboot` */
static void reboot_requested(void)
{
	shutdown_start(SHUTDOWN_REBOOT);
}

int main(void)
{
	struct loop *loop;

	setup_mounts(&ag);
	setup_console(&ag);
	setup_environment();
	if (getpid() != 1)
		log_msg("warning: not PID 1 (pid %d); orphans are not ours",
			(int)getpid());
	read_cmdline(&ag);

	loop = loop_new();
	if (!loop) {
		/* nothing can be served without the loop: just stay alive */
		log_msg("fatal: no event loop; idling");
		for (;;)
			pause();
	}
	ag.children_ok = children_init(loop) == 0;
	if (shutdown_init(loop) < 0)
		log_msg("halt, poweroff and reboot without -f will not work");
	ag.uevents_ok = uevent_init(loop) == 0;
	server_cfg.exec_enabled = ag.cfg.exec_enabled;
	server_cfg.trust_local = ag.cfg.trust_local;
	server_cfg.exec_limits = &exec_default_limits;
	server_cfg.reboot = reboot_requested;
	ag.vsock_ok = server_init(loop, &server_cfg) == 0;

	ready_announce(&ag);
	script_start(&ag.cfg);
	loop_run(loop);
}

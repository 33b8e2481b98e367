// SPDX-License-Identifier: GPL-2.0
/* agent.script=PATH: run "/bin/sh PATH" on the console after READY. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "json.h"
#include "log.h"

void script_start(struct agent *ag)
{
	pid_t pid;

	if (ag->cfg.script_too_long)
		log_msg("agent.script: path too long (max %d bytes), not run",
			CMDLINE_VALUE_MAX - 1);
	if (ag->cfg.script[0] == '\0')
		return;
	pid = fork();
	if (pid < 0) {
		log_errno("script: fork");
		return;
	}
	if (pid == 0) {
		children_reset_signals();
		/* own session: the script may use the console as its tty */
		if (setsid() < 0)
			log_errno("script: setsid");
		execl("/bin/sh", "sh", ag->cfg.script, (char *)NULL);
		log_errno("script: exec /bin/sh");
		_exit(127);
	}
	ag->script_pid = pid;
}

bool script_child_exited(struct agent *ag, pid_t pid, int wstatus)
{
	char buf[CMDLINE_VALUE_MAX * 6 + 128];
	struct jbuf jb;

	if (ag->script_pid == 0 || pid != ag->script_pid)
		return false;
	ag->script_pid = 0;
	jb_init(&jb, buf, sizeof(buf));
	jb_obj_open(&jb);
	jb_kv_str(&jb, "script", ag->cfg.script);
	jb_kv_i64(&jb, "status", child_exit_code(wstatus));
	if (WIFSIGNALED(wstatus))
		jb_kv_i64(&jb, "signal", WTERMSIG(wstatus));
	jb_obj_close(&jb);
	if (jb_finish(&jb) < 0)
		log_msg("script: SCRIPT-EXIT line does not fit");
	else
		log_upcall("SCRIPT-EXIT", buf);
	return true;
}

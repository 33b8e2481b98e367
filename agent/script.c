// SPDX-License-Identifier: GPL-2.0
/* agent.script=PATH; see script.h. */
#include "script.h"

#include <sys/wait.h>
#include <unistd.h>

#include "children.h"
#include "json.h"
#include "log.h"

static const struct agent_cmdline *script_cfg;
static struct child_watch script_child;

static void on_exit_status(struct child_watch *cw, int wstatus)
{
	char buf[CMDLINE_VALUE_MAX * 6 + 128];
	struct jbuf jb;

	(void)cw;
	jb_init(&jb, buf, sizeof(buf));
	jb_obj_open(&jb);
	jb_kv_str(&jb, "script", script_cfg->script);
	jb_kv_i64(&jb, "status", child_exit_code(wstatus));
	if (WIFSIGNALED(wstatus))
		jb_kv_i64(&jb, "signal", WTERMSIG(wstatus));
	jb_obj_close(&jb);
	if (jb_finish(&jb) < 0)
		log_msg("script: SCRIPT-EXIT line does not fit");
	else
		log_upcall("SCRIPT-EXIT", buf);
}

void script_start(const struct agent_cmdline *cfg)
{
	pid_t pid;

	if (cfg->script_too_long)
		log_msg("agent.script: path too long (max %d bytes), not run",
			CMDLINE_VALUE_MAX - 1);
	if (cfg->script[0] == '\0')
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
		execl("/bin/sh", "sh", cfg->script, (char *)NULL);
		log_errno("script: exec /bin/sh");
		_exit(127);
	}
	script_cfg = cfg;
	children_watch(&script_child, pid, on_exit_status);
}

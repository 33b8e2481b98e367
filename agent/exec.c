// SPDX-License-Identifier: GPL-2.0
/* Starting the shell of an `exec` request; server.c tracks it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"

pid_t exec_spawn(const char *cmd, size_t len, int *out_fd)
{
	int p[2];
	char *copy;
	pid_t pid;

	copy = strndup(cmd, len);
	if (!copy) {
		log_errno("exec: strndup");
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		log_errno("exec: pipe2");
		free(copy);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_errno("exec: fork");
		close(p[0]);
		close(p[1]);
		free(copy);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		children_reset_signals();
		/* own group, so a timeout kills everything it started */
		if (setpgid(0, 0) < 0)
			_exit(126);
		/* EACCES in the parent's setpgid means this one ran first */
		if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
		    dup2(p[1], STDOUT_FILENO) < 0 ||
		    dup2(p[1], STDERR_FILENO) < 0)
			_exit(126);
		execl("/bin/sh", "sh", "-c", copy, (char *)NULL);
		_exit(127);
	}
	free(copy);
	/* also in the parent: no window where a kill(-pid) could miss */
	if (setpgid(pid, pid) < 0 && errno != EACCES && errno != ESRCH)
		log_errno("exec: setpgid");
	if (close(p[1]) < 0)
		log_errno("exec: close");
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0)
		log_errno("exec: O_NONBLOCK");
	*out_fd = p[0];
	return pid;
}

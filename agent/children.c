// SPDX-License-Identifier: GPL-2.0
/*
 * Child processes: SIGCHLD arrives through a signalfd in the event loop,
 * and every exited child is reaped -- our own (script, exec shells) and the
 * orphans the kernel reparents to PID 1.
 */
#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"

static void reap(struct agent *ag)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				log_errno("waitpid");
			return;
		}
		if (pid == 0)
			return;
		if (script_child_exited(ag, pid, st))
			continue;
		(void)server_child_exited(ag, pid, st);
	}
}

static void on_sigchld(struct agent *ag, struct watch *w, uint32_t events)
{
	struct signalfd_siginfo si[8];
	ssize_t r;

	(void)events;
	/* drain; the signals themselves carry nothing waitpid doesn't */
	do {
		r = read(w->fd, si, sizeof(si));
	} while (r > 0 || (r < 0 && errno == EINTR));
	if (r < 0 && errno != EAGAIN)
		log_errno("read signalfd");
	reap(ag);
}

static sigset_t blocked;

int children_init(struct agent *ag)
{
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGCHLD);
	sigaddset(&blocked, SIGPIPE);	/* EPIPE from write() instead */
	if (sigprocmask(SIG_BLOCK, &blocked, NULL) < 0) {
		log_errno("sigprocmask");
		return -1;
	}
	sigdelset(&blocked, SIGPIPE);
	ag->sigchld.fn = on_sigchld;
	ag->sigchld.fd = signalfd(-1, &blocked, SFD_NONBLOCK | SFD_CLOEXEC);
	sigaddset(&blocked, SIGPIPE);
	if (ag->sigchld.fd < 0) {
		log_errno("signalfd");
		return -1;
	}
	if (loop_add(ag, &ag->sigchld, EPOLLIN) < 0)
		return -1;
	/* children that exited before the signalfd existed */
	reap(ag);
	return 0;
}

void children_reset_signals(void)
{
	/* after fork, before exec: children start with nothing blocked */
	sigset_t none;

	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		log_errno("sigprocmask (child)");
}

int child_exit_code(int wstatus)
{
	/* shell convention: exit code, or 128 + signal number */
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return -1;
}

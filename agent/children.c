// SPDX-License-Identifier: GPL-2.0
/* Child processes; see children.h. */
#include "children.h"

#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

static struct child_watch *watched;
static struct watch sigchld = { .fd = -1 };

static void dispatch(pid_t pid, int wstatus)
{
	struct child_watch **p;

	for (p = &watched; *p; p = &(*p)->next) {
		struct child_watch *cw = *p;

		if (cw->pid == pid) {
			*p = cw->next;
			cw->next = NULL;
			cw->pid = 0;
			cw->fn(cw, wstatus);
			return;
		}
	}
	/* an orphan, or a child whose owner gave up on it: nothing to do */
}

bool children_reap(void)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				return false;
			log_errno("waitpid");
			return true;
		}
		if (pid == 0)
			return true;
		dispatch(pid, st);
	}
}

static void on_sigchld(struct watch *w, uint32_t events)
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
	(void)children_reap();
}

int children_init(struct loop *l)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		log_errno("sigprocmask");
		return -1;
	}
	sigdelset(&set, SIGPIPE);
	sigchld.fn = on_sigchld;
	sigchld.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigchld.fd < 0) {
		log_errno("signalfd");
		return -1;
	}
	if (loop_add(l, &sigchld, EPOLLIN) < 0) {
		loop_close(&sigchld);
		return -1;
	}
	/* children that exited before the signalfd existed */
	(void)children_reap();
	return 0;
}

void children_watch(struct child_watch *cw, pid_t pid, child_fn fn)
{
	cw->pid = pid;
	cw->fn = fn;
	cw->next = watched;
	watched = cw;
}

void children_unwatch(struct child_watch *cw)
{
	struct child_watch **p;

	for (p = &watched; *p; p = &(*p)->next) {
		if (*p == cw) {
			*p = cw->next;
			break;
		}
	}
	cw->next = NULL;
	cw->pid = 0;
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

// SPDX-License-Identifier: GPL-2.0
/* Commands of `exec` requests; see exec.h. */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent_proto.h"
#include "log.h"

const struct exec_limits exec_default_limits = {
	.timeout_ms = AGENT_EXEC_TIMEOUT_MS,
	.keep_max = AGENT_EXEC_OUTPUT_MAX,
	.read_max = AGENT_EXEC_READ_MAX,
	/* one default pipe buffer: a steady writer gets a turn per round */
	.step_max = 64 * 1024,
};

/* Forks "/bin/sh -c cmd"; returns its pid and the pipe's read end. */
static pid_t spawn(const char *cmd, size_t len, int *out_fd)
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
		/* own group, so a kill reaches everything it started */
		if (setpgid(0, 0) < 0)
			_exit(126);
		if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
		    dup2(p[1], STDOUT_FILENO) < 0 ||
		    dup2(p[1], STDERR_FILENO) < 0)
			_exit(126);
		execl("/bin/sh", "sh", "-c", copy, (char *)NULL);
		_exit(127);
	}
	free(copy);
	/*
	 * Also in the parent: no window where a kill(-pid) could miss.
	 * EACCES: the child already ran exec (so it already ran setpgid).
	 */
	if (setpgid(pid, pid) < 0 && errno != EACCES && errno != ESRCH)
		log_errno("exec: setpgid");
	if (close(p[1]) < 0)
		log_errno("exec: close");
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0)
		log_errno("exec: O_NONBLOCK");
	*out_fd = p[0];
	return pid;
}

static void kill_group(struct exec_job *job, const char *why)
{
	log_msg("exec: %s, killing process group %d", why, (int)job->pid);
	if (kill(-job->pid, SIGKILL) < 0 && errno != ESRCH)
		log_errno("exec: kill");
}

enum step { STEP_MORE, STEP_EMPTY, STEP_CLOSED };

/*
 * Reads at most one step of output; keeps the first keep_max bytes and
 * discards the rest, so the command never blocks on a full pipe. Returns
 * STEP_EMPTY when the pipe had nothing more for now, STEP_CLOSED when it
 * is closed (EOF, error, or we stopped reading), STEP_MORE when the step
 * was used up: a command that writes without end gets no more than its
 * share of the loop.
 */
static enum step read_step(struct exec_job *job)
{
	const struct exec_limits *lim = job->lim;
	size_t budget = lim->step_max;
	char discard[4096];

	while (job->pipe.fd >= 0 && budget > 0) {
		size_t room = lim->keep_max - job->out_len;
		char *dst = room ? job->out + job->out_len : discard;
		size_t want = room ? room : sizeof(discard);
		ssize_t r;

		if (want > budget)
			want = budget;
		r = read(job->pipe.fd, dst, want);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return STEP_EMPTY;
			log_errno("exec: read");
			loop_close(&job->pipe);
			break;
		}
		if (r == 0) {
			loop_close(&job->pipe);
			break;
		}
		budget -= (size_t)r;
		job->read_total += (size_t)r;
		if (room)
			job->out_len += (size_t)r;
		else
			job->truncated = true;
		if (job->read_total > lim->read_max && !job->output_limit) {
			job->output_limit = true;
			job->truncated = true;
			kill_group(job, "output limit reached");
			/* nothing more is wanted; writers get EPIPE */
			loop_close(&job->pipe);
		}
	}
	return job->pipe.fd >= 0 ? STEP_MORE : STEP_CLOSED;
}

static void finish(struct exec_job *job)
{
	/* a background child may still hold the pipe: we do not wait for it */
	loop_close(&job->pipe);
	loop_timer_del(&job->timer);
	job->done(job);
}

/*
 * After the shell has exited, what it wrote is still read step by step,
 * until the pipe is empty or closed; only then does the job end.
 */
static void on_pipe(struct watch *w, uint32_t events)
{
	struct exec_job *job = container_of(w, struct exec_job, pipe);

	(void)events;
	if (read_step(job) != STEP_MORE && job->exited)
		finish(job);
}

static void on_exit_status(struct child_watch *cw, int wstatus)
{
	struct exec_job *job = container_of(cw, struct exec_job, child);

	job->wstatus = wstatus;
	job->exited = true;
	if (read_step(job) != STEP_MORE)
		finish(job);
}

static void on_deadline(struct loop_timer *t, unsigned long long now)
{
	struct exec_job *job = container_of(t, struct exec_job, timer);

	(void)now;
	if (!job->exited) {
		job->timed_out = true;
		kill_group(job, "timed out");
		/* the reaper collects it later; it is no longer ours */
		children_unwatch(&job->child);
	}
	(void)read_step(job);
	finish(job);
}

int exec_start(struct loop *l, struct exec_job *job, const char *cmd,
	       size_t len, const struct exec_limits *lim, exec_done_fn done)
{
	memset(job, 0, sizeof(*job));
	job->lim = lim;
	job->done = done;
	job->pipe.fd = -1;
	job->out = malloc(lim->keep_max ? lim->keep_max : 1);
	if (!job->out) {
		log_errno("exec: malloc");
		return -1;
	}
	job->pid = spawn(cmd, len, &job->pipe.fd);
	if (job->pid < 0) {
		exec_release(job);
		return -1;
	}
	children_watch(&job->child, job->pid, on_exit_status);
	loop_timer_add(l, &job->timer, on_deadline);
	loop_timer_arm(&job->timer, lim->timeout_ms);
	job->pipe.fn = on_pipe;
	/* without the watch there is no output, but the status still comes */
	if (loop_add(l, &job->pipe, EPOLLIN) < 0) {
		if (close(job->pipe.fd) < 0)
			log_errno("exec: close");
		job->pipe.fd = -1;
	}
	return 0;
}

void exec_release(struct exec_job *job)
{
	free(job->out);
	job->out = NULL;
}

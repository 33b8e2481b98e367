/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One command run for an `exec` request: "/bin/sh -c CMD" in its own
 * process group, stdin /dev/null, stdout and stderr into one pipe that the
 * event loop reads. Everything about it is bounded: the output kept, the
 * output read in all (a command writing more is killed), the bytes read per
 * loop callback (so a command that never stops writing cannot hold the
 * loop), and the wall-clock time (then the whole group is killed).
 */
#ifndef AGENT_EXEC_H
#define AGENT_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "children.h"
#include "loop.h"

struct exec_limits {
	unsigned long long timeout_ms;	/* then SIGKILL to the group */
	size_t keep_max;	/* output bytes kept for the reply */
	size_t read_max;	/* output bytes read in all, then SIGKILL */
	size_t step_max;	/* output bytes read per loop callback */
};

/* The limits docs/agent.md documents (agent_proto.h). */
extern const struct exec_limits exec_default_limits;

struct exec_job;
/*
 * The job ended; the result fields are valid. Called from a loop callback:
 * the job's memory may be released only later (see loop.h), its output
 * with exec_release() at any time.
 */
typedef void (*exec_done_fn)(struct exec_job *job);

struct exec_job {
	/* result, valid when done runs */
	int wstatus;		/* waitpid() status, unless timed_out */
	bool timed_out;		/* killed at the deadline */
	bool output_limit;	/* killed for writing more than read_max */
	bool truncated;		/* more output than keep_max */
	char *out;		/* the first out_len bytes of the output */
	size_t out_len;

	/* private */
	const struct exec_limits *lim;
	exec_done_fn done;
	pid_t pid;		/* also the process group id */
	size_t read_total;
	bool exited;		/* wstatus is known */
	struct watch pipe;
	struct child_watch child;
	struct loop_timer timer;
};

/*
 * Starts cmd[0..len) (need not be NUL-terminated). job is the caller's
 * memory (contents ignored); lim must outlive the job. 0 on success: done
 * will be called exactly once. -1 if it cannot start (reported on the
 * console; done is not called, nothing to release).
 */
int exec_start(struct loop *l, struct exec_job *job, const char *cmd,
	       size_t len, const struct exec_limits *lim, exec_done_fn done);

/* Frees the output buffer; safe to call more than once. */
void exec_release(struct exec_job *job);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Child processes: SIGCHLD arrives through a signalfd in the event loop and
 * every exited child is reaped, our own and the orphans the kernel
 * reparents to PID 1. A file that starts a child registers a struct
 * child_watch for its pid and gets the exit status through its callback;
 * children nobody watches are reaped silently.
 */
#ifndef AGENT_CHILDREN_H
#define AGENT_CHILDREN_H

#include <stdbool.h>
#include <sys/types.h>

#include "loop.h"

struct child_watch;

/* wstatus as from waitpid(); the watch is already removed when it runs */
typedef void (*child_fn)(struct child_watch *cw, int wstatus);

struct child_watch {
	pid_t pid;
	child_fn fn;
	struct child_watch *next;	/* owned by children.c */
};

/*
 * Blocks SIGCHLD and SIGPIPE (EPIPE from write() instead) and watches a
 * signalfd for SIGCHLD in l. 0, or -1 (reported on the console).
 */
int children_init(struct loop *l);

/*
 * Calls fn once pid has exited. Register in the same callback that started
 * the child: its exit is only noticed from the loop, so it cannot be missed.
 */
void children_watch(struct child_watch *cw, pid_t pid, child_fn fn);
/* Forgets cw (no-op if not registered); the child is reaped silently. */
void children_unwatch(struct child_watch *cw);

/* Reaps what has exited; true if any child (running or zombie) is left. */
bool children_reap(void);

/* Restores the signal state a child should start with (after fork). */
void children_reset_signals(void);
/* Shell convention: the exit code, or 128 + the signal number. */
int child_exit_code(int wstatus);

#endif

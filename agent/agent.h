/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's state and its one event loop. Every fd the loop watches is a
 * struct watch whose handler lives in the file that owns that fd.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent_proto.h"
#include "cmdline.h"

struct agent;
struct watch;

typedef void (*watch_fn)(struct agent *ag, struct watch *w, uint32_t events);

struct watch {
	int fd;
	watch_fn fn;
};

struct client;

struct agent {
	int epfd;
	struct agent_cmdline cfg;

	/* what came up (reported in READY) */
	bool mounts_ok, console_ok, uevents_ok, vsock_ok, children_ok;

	struct watch sigchld;	/* children.c */
	struct watch uevent;	/* uevent_sock.c */
	struct watch listener;	/* server.c */
	struct client *clients[AGENT_MAX_CLIENTS];

	pid_t script_pid;	/* script.c, 0 when none runs */
	bool reboot_requested;
};

/* loop.c */
int loop_init(struct agent *ag);
int loop_add(struct agent *ag, struct watch *w, uint32_t events);
int loop_mod(struct agent *ag, struct watch *w, uint32_t events);
void loop_del(struct agent *ag, struct watch *w);
void loop_run(struct agent *ag);	/* never returns */

/* setup.c: mounts and console */
void setup_mounts(struct agent *ag);
void setup_console(struct agent *ag);
void setup_environment(void);

/* children.c: SIGCHLD, reaping, spawning */
int children_init(struct agent *ag);
/* Restores the signal state a child should start with (after fork). */
void children_reset_signals(void);
/* Shell convention: the exit code, or 128 + the signal number. */
int child_exit_code(int wstatus);

/* uevent_sock.c */
int uevent_init(struct agent *ag);

/* server.c: the vsock status service */
int server_init(struct agent *ag);
/* Earliest client deadline (now_ms() clock), 0 if none. */
unsigned long long server_next_deadline(struct agent *ag);
void server_tick(struct agent *ag, unsigned long long now);
/* A child exited: returns true if it was an exec request's shell. */
bool server_child_exited(struct agent *ag, pid_t pid, int wstatus);

/* exec.c: starts "/bin/sh -c cmd" in its own process group with
 * stdout+stderr on a pipe; returns the pid and the pipe's read end. */
pid_t exec_spawn(const char *cmd, size_t len, int *out_fd);

/* script.c */
void script_start(struct agent *ag);
bool script_child_exited(struct agent *ag, pid_t pid, int wstatus);

/* status.c: the status reply; returns jb_finish() */
struct jbuf;
long status_build(struct jbuf *jb);
/* CPUs online now, -1 if unknown */
long cpus_online(void);
/* the READY line */
void ready_announce(struct agent *ag);

/* power.c */
void power_reboot(void);

#endif

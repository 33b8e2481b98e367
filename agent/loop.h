/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's one event loop: epoll over file descriptors plus timers.
 * It knows nothing of what it drives: every fd is a struct watch and every
 * deadline a struct loop_timer, each embedded in the object of the file
 * that owns it, whose callback finds that object with container_of().
 *
 * Rules for callbacks: do a bounded amount of work and return (the loop is
 * level-triggered, so an fd with more to do is reported again, after the
 * others have had their turn). An object may be freed only outside the
 * batch of epoll events that could still name it: arm its timer with
 * loop_timer_arm(t, 0) and free it from the timer callback (timers run
 * after the whole batch).
 */
#ifndef AGENT_LOOP_H
#define AGENT_LOOP_H

#include <stddef.h>
#include <stdint.h>

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct loop;
struct watch;
struct loop_timer;

/* events: the EPOLL* bits epoll reported */
typedef void (*watch_fn)(struct watch *w, uint32_t events);
/* now: the loop's now_ms() when the timer was found due */
typedef void (*timer_fn)(struct loop_timer *t, unsigned long long now);

struct watch {
	int fd;			/* -1 when none */
	watch_fn fn;
	struct loop *loop;	/* set by loop_add() */
};

struct loop_timer {
	unsigned long long deadline;	/* now_ms() clock; 0 = not armed */
	timer_fn fn;
	/* owned by the loop */
	struct loop_timer *next;
	unsigned long long round;
	struct loop *loop;
};

/* Returns NULL (reported on the console) if epoll cannot be created. */
struct loop *loop_new(void);
/* Closes the epoll fd; watches and timers must be removed first. */
void loop_free(struct loop *l);

/* epoll_ctl on w->fd; 0, or -1 (reported on the console). */
int loop_add(struct loop *l, struct watch *w, uint32_t events);
int loop_mod(struct watch *w, uint32_t events);
/* Stops watching w (no-op if it is not watched); does not close the fd. */
void loop_del(struct watch *w);
/* loop_del() and close(), then w->fd = -1; no-op when w->fd < 0. */
void loop_close(struct watch *w);

/* Registers t (not armed). A timer must be removed before it is freed. */
void loop_timer_add(struct loop *l, struct loop_timer *t, timer_fn fn);
void loop_timer_del(struct loop_timer *t);
/* Fires t once, in_ms milliseconds from now (0: after this batch). */
void loop_timer_arm(struct loop_timer *t, unsigned long long in_ms);
void loop_timer_disarm(struct loop_timer *t);

/*
 * One round: waits for events (at most max_wait_ms, -1 for no limit other
 * than the timers), dispatches them, then fires every timer that is due.
 * A timer re-armed for "now" by its own callback fires in the next round.
 */
void loop_run_once(struct loop *l, int max_wait_ms);
/* Rounds forever. */
void loop_run(struct loop *l) __attribute__((noreturn));

#endif

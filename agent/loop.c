// SPDX-License-Identifier: GPL-2.0
/* The event loop; see loop.h. Never blocks on a peer: only epoll_wait waits. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"

struct loop {
	int epfd;
	struct loop_timer *timers;
	unsigned long long round;
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l) {
		log_errno("loop: calloc");
		return NULL;
	}
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		log_errno("epoll_create1");
		free(l);
		return NULL;
	}
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	if (close(l->epfd) < 0)
		log_errno("loop: close");
	free(l);
}

static int ctl(struct loop *l, int op, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(l->epfd, op, w->fd, &ev);
}

int loop_add(struct loop *l, struct watch *w, uint32_t events)
{
	w->loop = l;
	if (ctl(l, EPOLL_CTL_ADD, w, events) < 0) {
		log_errno("epoll_ctl add");
		return -1;
	}
	return 0;
}

int loop_mod(struct watch *w, uint32_t events)
{
	if (!w->loop || ctl(w->loop, EPOLL_CTL_MOD, w, events) < 0) {
		log_errno("epoll_ctl mod");
		return -1;
	}
	return 0;
}

void loop_del(struct watch *w)
{
	/* ENOENT: not watched at the moment (e.g. taken out by its owner) */
	if (w->fd >= 0 && w->loop &&
	    epoll_ctl(w->loop->epfd, EPOLL_CTL_DEL, w->fd, NULL) < 0 &&
	    errno != ENOENT)
		log_errno("epoll_ctl del");
}

void loop_close(struct watch *w)
{
	if (w->fd < 0)
		return;
	loop_del(w);
	if (close(w->fd) < 0)
		log_errno("close");
	w->fd = -1;
}

void loop_timer_add(struct loop *l, struct loop_timer *t, timer_fn fn)
{
	t->fn = fn;
	t->deadline = 0;
	t->round = 0;
	t->loop = l;
	t->next = l->timers;
	l->timers = t;
}

void loop_timer_del(struct loop_timer *t)
{
	struct loop_timer **p;

	if (!t->loop)
		return;
	for (p = &t->loop->timers; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	t->loop = NULL;
	t->next = NULL;
	t->deadline = 0;
}

void loop_timer_arm(struct loop_timer *t, unsigned long long in_ms)
{
	/* 0 means "not armed", so "now" is at least 1 */
	unsigned long long now = now_ms();

	t->deadline = (now ? now : 1) + in_ms;
}

void loop_timer_disarm(struct loop_timer *t)
{
	t->deadline = 0;
}

/* epoll_wait timeout: until the earliest timer, at most max_wait_ms. */
static int wait_ms(struct loop *l, int max_wait_ms)
{
	unsigned long long next = 0, now = now_ms();
	struct loop_timer *t;
	unsigned long long left;

	for (t = l->timers; t; t = t->next)
		if (t->deadline && (!next || t->deadline < next))
			next = t->deadline;
	if (!next)
		return max_wait_ms;
	left = next > now ? next - now : 0;
	/* re-evaluated every minute at least; clocks never jump back */
	if (left > 60000)
		left = 60000;
	if (max_wait_ms >= 0 && left > (unsigned long long)max_wait_ms)
		left = (unsigned long long)max_wait_ms;
	return (int)left;
}

/*
 * A callback may add, remove, free or re-arm any timer, so after each call
 * the search starts over; a timer fires at most once per round.
 */
static void fire_timers(struct loop *l)
{
	unsigned long long now = now_ms();
	struct loop_timer *t;

	l->round++;
	for (;;) {
		for (t = l->timers; t; t = t->next)
			if (t->deadline && t->deadline <= now &&
			    t->round != l->round)
				break;
		if (!t)
			return;
		t->round = l->round;
		t->deadline = 0;
		t->fn(t, now);
	}
}

#define LOOP_BATCH 16

void loop_run_once(struct loop *l, int max_wait_ms)
{
	struct epoll_event evs[LOOP_BATCH];
	int n, i;

	n = epoll_wait(l->epfd, evs, LOOP_BATCH, wait_ms(l, max_wait_ms));
	if (n < 0) {
		if (errno != EINTR) {
			log_errno("epoll_wait");
			/* do not spin on a persistent error */
			sleep(1);
		}
		n = 0;
	}
	for (i = 0; i < n; i++) {
		struct watch *w = evs[i].data.ptr;

		/* closed by an earlier callback of this batch */
		if (w->fd >= 0)
			w->fn(w, evs[i].events);
	}
	fire_timers(l);
}

void loop_run(struct loop *l)
{
	for (;;)
		loop_run_once(l, -1);
}

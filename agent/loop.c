// SPDX-License-Identifier: GPL-2.0
/* The agent's single epoll loop: fds, client deadlines. Never blocks on a peer. */
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent.h"
#include "fdio.h"
#include "log.h"

int loop_init(struct agent *ag)
{
	ag->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ag->epfd < 0) {
		log_errno("epoll_create1");
		return -1;
	}
	return 0;
}

int loop_add(struct agent *ag, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (epoll_ctl(ag->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0) {
		log_errno("epoll_ctl add");
		return -1;
	}
	return 0;
}

int loop_mod(struct agent *ag, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (epoll_ctl(ag->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0) {
		log_errno("epoll_ctl mod");
		return -1;
	}
	return 0;
}

void loop_del(struct agent *ag, struct watch *w)
{
	/* closing the fd would drop it too; this keeps the order explicit */
	/* ENOENT: not watched at the moment (a client running exec) */
	if (epoll_ctl(ag->epfd, EPOLL_CTL_DEL, w->fd, NULL) < 0 &&
	    errno != ENOENT)
		log_errno("epoll_ctl del");
}

#define LOOP_BATCH 16

void loop_run(struct agent *ag)
{
	struct epoll_event evs[LOOP_BATCH];

	for (;;) {
		unsigned long long deadline = server_next_deadline(ag);
		unsigned long long now = now_ms();
		int timeout = -1, n, i;

		if (deadline) {
			unsigned long long left = deadline > now ?
						  deadline - now : 0;

			timeout = left > 60000 ? 60000 : (int)left;
		}
		n = epoll_wait(ag->epfd, evs, LOOP_BATCH, timeout);
		if (n < 0) {
			if (errno != EINTR) {
				log_errno("epoll_wait");
				/* do not spin on a persistent error */
				sleep(1);
			}
			n = 0;
		}
		/*
		 * A handler may free a client whose other watch is later in
		 * this batch; server.c defers frees to server_tick() for that.
		 */
		for (i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;

			if (w->fd >= 0)
				w->fn(ag, w, evs[i].events);
		}
		server_tick(ag, now_ms());
	}
}

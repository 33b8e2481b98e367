// SPDX-License-Identifier: MIT
#include "loop.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int64_t now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int loop_init(struct loop *l)
{
	memset(l, 0, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

void loop_fini(struct loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

void ev_init(struct ev_handler *h, int fd, ev_fn fn)
{
	h->fd = fd;
	h->fn = fn;
	h->events = 0;
	h->registered = false;
}

int ev_set(struct loop *l, struct ev_handler *h, uint32_t events)
{
	struct epoll_event ee = { .events = events, .data.ptr = h };
	int op;

	if (h->registered && h->events == events)
		return 0;
	op = h->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(l->epfd, op, h->fd, &ee) != 0) {
		int err = errno;

		log_err("epoll_ctl(fd %d): %s", h->fd, strerror(err));
		return -err;
	}
	h->registered = true;
	h->events = events;
	return 0;
}

void ev_del(struct loop *l, struct ev_handler *h)
{
	if (!h->registered)
		return;
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, h->fd, NULL) != 0)
		log_warn("epoll_ctl(DEL fd %d): %s", h->fd, strerror(errno));
	h->registered = false;
	h->events = 0;
}

int loop_run_once(struct loop *l, int max_ms)
{
	struct epoll_event evs[64];
	int timeout = max_ms;
	int n;

	if (l->next_timeout) {
		int t = l->next_timeout(l->ctx);

		if (t >= 0 && (timeout < 0 || t < timeout))
			timeout = t;
	}
	n = epoll_wait(l->epfd, evs, 64, timeout);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		log_err("epoll_wait: %s", strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		struct ev_handler *h = evs[i].data.ptr;

		/*
		 * A handler earlier in this batch may have unregistered h
		 * (objects are freed only in after_batch, so h is valid).
		 */
		if (h->registered)
			h->fn(h, evs[i].events);
	}
	if (l->after_batch)
		l->after_batch(l->ctx);
	return n;
}

int loop_run(struct loop *l)
{
	while (!l->stop) {
		int r = loop_run_once(l, -1);

		if (r < 0)
			return r;
	}
	return 0;
}

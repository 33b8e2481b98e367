/* SPDX-License-Identifier: MIT */
/*
 * The one epoll event loop of upcall-vsockd. Every fd is registered with an
 * ev_handler embedded in the struct that owns the fd; the handler's
 * callback lives in the file that owns that state.
 */
#ifndef VSOCKD_LOOP_H
#define VSOCKD_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct ev_handler;
typedef void (*ev_fn)(struct ev_handler *h, uint32_t events);

struct ev_handler {
	int fd;
	uint32_t events;	/* current epoll interest */
	bool registered;
	ev_fn fn;
};

struct loop {
	int epfd;
	bool stop;
	/* Called after each batch of events: deferred work and frees. */
	void (*after_batch)(void *ctx);
	/* Milliseconds until the nearest deadline, or -1 for none. */
	int (*next_timeout)(void *ctx);
	void *ctx;
};

#define container_of(ptr, type, member)                                        \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

int loop_init(struct loop *l);
void loop_fini(struct loop *l);
void ev_init(struct ev_handler *h, int fd, ev_fn fn);
/* Register, change the interest of, or unregister h (idempotent). */
int ev_set(struct loop *l, struct ev_handler *h, uint32_t events);
void ev_del(struct loop *l, struct ev_handler *h);
/* Waits at most max_ms (or the nearest deadline) and dispatches. */
int loop_run_once(struct loop *l, int max_ms);
int loop_run(struct loop *l);
int64_t now_ms(void);

#endif

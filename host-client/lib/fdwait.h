/* SPDX-License-Identifier: MIT */
/*
 * Deadline helpers of libupcall that upcall-ctl's QMP client uses too.
 * upcall-ctl links libupcall statically, so it can call them; they are not
 * part of the public API and the shared library does not export them.
 */
#ifndef UPCALL_FDWAIT_H
#define UPCALL_FDWAIT_H

#include <stdint.h>

/* Milliseconds on the monotonic clock. */
int64_t uc_now_ms(void);

/* Wait until fd is ready for events (POLLIN/POLLOUT) or the deadline (in
 * uc_now_ms() time) passes: 0, -ETIMEDOUT, or -errno from poll(). */
int uc_wait_fd(int fd, short events, int64_t deadline);

#endif /* UPCALL_FDWAIT_H */

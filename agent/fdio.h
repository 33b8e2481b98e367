/* SPDX-License-Identifier: GPL-2.0 */
/* File descriptor helpers that deal with EINTR and partial transfers. */
#ifndef AGENT_FDIO_H
#define AGENT_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* Writes all n bytes to a blocking fd; 0 on success, -1 with errno set. */
int write_all(int fd, const void *buf, size_t n);

/*
 * Reads a whole (small, e.g. sysfs/procfs) file into buf, NUL-terminated,
 * at most cap - 1 bytes. Returns the length or -1 with errno set.
 */
ssize_t read_small_file(const char *path, char *buf, size_t cap);

/* Monotonic and since-boot clocks in milliseconds. */
unsigned long long now_ms(void);
unsigned long long boottime_ms(void);

#endif

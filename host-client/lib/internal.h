/* SPDX-License-Identifier: MIT */
/* Private to libupcall: the handle and the I/O helpers shared by its files. */
#ifndef UPCALL_INTERNAL_H
#define UPCALL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "fdwait.h"
#include "upcall.h"

struct upcall {
	int fd;
	int timeout_ms;
	bool devmgr;            /* service selected and greeting checked */
	bool broken;            /* an exchange failed midway: see uc_break() */
	char err[256];
	char broken_cause[256]; /* the failure that broke the handle */
};

#define UC_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Record a message for upcall_last_error() and return err (negative). */
int uc_fail(struct upcall *h, int err, const char *fmt, ...) UC_PRINTF(3, 4);

/*
 * An exchange failed after bytes may have moved (timeout, I/O error,
 * malformed message): the stream is out of step, and a late answer could
 * be taken for the next request's. Close the connection, remember why, and
 * return err. Later calls fail in uc_check_usable() until a new connect.
 */
int uc_break(struct upcall *h, int err);
/* 0 if h can carry a new exchange; -EPIPE (broken) or -ENOTCONN, with a
 * message naming what, otherwise. */
int uc_check_usable(struct upcall *h, const char *what);
/* A new connection: forget the old one's state. */
void uc_reset_state(struct upcall *h);

/* Deadline for one call on h, starting now. */
int64_t uc_deadline(const struct upcall *h);

/* Write or read exactly len bytes before the deadline, looping over short
 * transfers and EINTR. what names the data in error messages. */
int uc_write_all(struct upcall *h, const void *buf, size_t len,
		 int64_t deadline, const char *what);
int uc_read_all(struct upcall *h, void *buf, size_t len, int64_t deadline,
		const char *what);
/* Read up to and including '\n', one byte at a time so nothing after the
 * line is consumed. Returns the length (line is NUL-terminated), 0 on EOF
 * before any byte, -EMSGSIZE when no '\n' comes within max - 1 bytes. */
ssize_t uc_read_line(struct upcall *h, char *line, size_t max,
		     int64_t deadline, const char *what);

/* Send an encoded request of a type without a reply payload (MMIO, PCI)
 * and decode its reply, as the upcall_*_add/del calls do. */
int uc_exchange(struct upcall *h, const uint8_t *req, uint32_t type,
		struct upcall_reply *reply);

#endif /* UPCALL_INTERNAL_H */

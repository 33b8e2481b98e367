// SPDX-License-Identifier: MIT
/*
 * Transport: getting a connected stream to a guest port (kernel AF_VSOCK or
 * a hybrid vsock Unix socket) and moving bytes over it with deadlines.
 * Sockets are non-blocking; every wait is a poll() bounded by the deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "internal.h"

int uc_fail(struct upcall *h, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->err, sizeof(h->err), fmt, ap);
	va_end(ap);
	return err;
}

int uc_break(struct upcall *h, int err)
{
	if (!h->broken) {
		h->broken = true;
		snprintf(h->broken_cause, sizeof(h->broken_cause), "%s", h->err);
	}
	if (h->fd >= 0) {
		close(h->fd);
		h->fd = -1;
	}
	h->devmgr = false;
	return err;
}

int uc_check_usable(struct upcall *h, const char *what)
{
	if (h->broken)
		return uc_fail(h, -EPIPE,
			       "%s: connection unusable since an earlier exchange failed (%s); reconnect first",
			       what, h->broken_cause);
	if (h->fd < 0)
		return uc_fail(h, -ENOTCONN, "%s: not connected", what);
	return 0;
}

void uc_reset_state(struct upcall *h)
{
	h->broken = false;
	h->devmgr = false;
	h->broken_cause[0] = '\0';
}

bool upcall_is_broken(const struct upcall *h)
{
	return h->broken;
}

int64_t uc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t uc_deadline(const struct upcall *h)
{
	return uc_now_ms() + h->timeout_ms;
}

int uc_wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int64_t left = deadline - uc_now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int uc_write_all(struct upcall *h, const void *buf, size_t len,
		 int64_t deadline, const char *what)
{
	const uint8_t *p = buf;
	size_t done = 0;

	if (h->fd < 0)
		return uc_fail(h, -ENOTCONN, "%s: not connected", what);
	while (done < len) {
		ssize_t n = send(h->fd, p + done, len - done,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		int err;

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return uc_fail(h, -errno, "%s: send failed after %zu of %zu bytes: %s",
				       what, done, len, strerror(errno));
		err = uc_wait_fd(h->fd, POLLOUT, deadline);
		if (err == -ETIMEDOUT)
			return uc_fail(h, err, "%s: timed out after %d ms sending (%zu of %zu bytes sent)",
				       what, h->timeout_ms, done, len);
		if (err)
			return uc_fail(h, err, "%s: poll: %s", what, strerror(-err));
	}
	return 0;
}

int uc_read_all(struct upcall *h, void *buf, size_t len, int64_t deadline,
		const char *what)
{
	uint8_t *p = buf;
	size_t done = 0;

	if (h->fd < 0)
		return uc_fail(h, -ENOTCONN, "%s: not connected", what);
	while (done < len) {
		ssize_t n = recv(h->fd, p + done, len - done, MSG_DONTWAIT);
		int err;

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0)
			return uc_fail(h, -ECONNRESET,
				       "%s: peer closed the connection after %zu of %zu bytes",
				       what, done, len);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return uc_fail(h, -errno, "%s: receive failed after %zu of %zu bytes: %s",
				       what, done, len, strerror(errno));
		err = uc_wait_fd(h->fd, POLLIN, deadline);
		if (err == -ETIMEDOUT)
			return uc_fail(h, err, "%s: timed out after %d ms (%zu of %zu bytes received)",
				       what, h->timeout_ms, done, len);
		if (err)
			return uc_fail(h, err, "%s: poll: %s", what, strerror(-err));
	}
	return 0;
}

ssize_t uc_read_line(struct upcall *h, char *line, size_t max,
		     int64_t deadline, const char *what)
{
	size_t done = 0;

	if (h->fd < 0)
		return uc_fail(h, -ENOTCONN, "%s: not connected", what);
	while (done + 1 < max) {
		char c;
		ssize_t n = recv(h->fd, &c, 1, MSG_DONTWAIT);
		int err;

		if (n == 1) {
			line[done++] = c;
			if (c == '\n')
				break;
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return uc_fail(h, -errno, "%s: receive failed: %s", what,
				       strerror(errno));
		err = uc_wait_fd(h->fd, POLLIN, deadline);
		if (err == -ETIMEDOUT)
			return uc_fail(h, err, "%s: timed out after %d ms waiting for a line",
				       what, h->timeout_ms);
		if (err)
			return uc_fail(h, err, "%s: poll: %s", what, strerror(-err));
	}
	line[done] = '\0';
	if (done > 0 && done + 1 >= max && line[done - 1] != '\n')
		return uc_fail(h, -EMSGSIZE, "%s: line longer than %zu bytes",
			       what, max - 1);
	return (ssize_t)done;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* connect() on a non-blocking socket, waiting for completion until the
 * deadline. */
static int connect_wait(int fd, const struct sockaddr *sa, socklen_t len,
			int64_t deadline)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	int err;

	while (connect(fd, sa, len) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			/* Unix socket backlog full: try again shortly. */
			struct timespec ts = { 0, 10 * 1000 * 1000 };

			if (uc_now_ms() >= deadline)
				return -ETIMEDOUT;
			nanosleep(&ts, NULL);
			continue;
		}
		if (errno != EINPROGRESS)
			return -errno;
		err = uc_wait_fd(fd, POLLOUT, deadline);
		if (err)
			return err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return -errno;
		return soerr ? -soerr : 0;
	}
	return 0;
}

struct upcall *upcall_new(void)
{
	struct upcall *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->fd = -1;
	h->timeout_ms = UPCALL_DEFAULT_TIMEOUT_MS;
	return h;
}

void upcall_close(struct upcall *h)
{
	if (h && h->fd >= 0) {
		close(h->fd);
		h->fd = -1;
	}
	if (h)
		h->devmgr = false;
}

void upcall_free(struct upcall *h)
{
	if (!h)
		return;
	upcall_close(h);
	free(h);
}

int upcall_set_timeout(struct upcall *h, int timeout_ms)
{
	if (timeout_ms <= 0)
		return uc_fail(h, -EINVAL, "timeout must be positive, not %d ms",
			       timeout_ms);
	h->timeout_ms = timeout_ms;
	return 0;
}

int upcall_get_timeout(const struct upcall *h)
{
	return h->timeout_ms;
}

int upcall_fd(const struct upcall *h)
{
	return h->fd;
}

const char *upcall_last_error(const struct upcall *h)
{
	return h->err[0] ? h->err : "no error";
}

const char *upcall_strerror(int err)
{
	const char *s;

	if (err >= 0)
		return "success";
	s = strerrordesc_np(-err);
	return s ? s : "unknown error";
}

int upcall_connect_fd(struct upcall *h, int fd)
{
	int err;

	if (fd < 0)
		return uc_fail(h, -EBADF, "invalid file descriptor %d", fd);
	err = set_nonblock(fd);
	if (err)
		return uc_fail(h, err, "cannot make fd %d non-blocking: %s", fd,
			       strerror(-err));
	upcall_close(h);
	uc_reset_state(h);
	h->fd = fd;
	h->err[0] = '\0';
	return 0;
}

int upcall_connect_vsock(struct upcall *h, uint32_t cid, uint32_t port)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = cid,
		.svm_port = port,
	};
	int64_t deadline = uc_deadline(h);
	int fd, err;

	upcall_close(h);
	uc_reset_state(h);
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return uc_fail(h, -errno, "vsock socket: %s", strerror(errno));
	err = connect_wait(fd, (struct sockaddr *)&sa, sizeof(sa), deadline);
	if (err) {
		close(fd);
		if (err == -ETIMEDOUT)
			return uc_fail(h, err, "vsock %u:%u: connect timed out after %d ms",
				       cid, port, h->timeout_ms);
		return uc_fail(h, err, "vsock %u:%u: connect: %s", cid, port,
			       strerror(-err));
	}
	h->fd = fd;
	h->err[0] = '\0';
	return 0;
}

int upcall_connect_hybrid(struct upcall *h, const char *uds_path,
			  uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = uc_deadline(h);
	char req[32], line[64];
	ssize_t n;
	int fd, err;

	upcall_close(h);
	uc_reset_state(h);
	if (!uds_path || !*uds_path)
		return uc_fail(h, -EINVAL, "empty Unix socket path");
	if (strlen(uds_path) >= sizeof(sa.sun_path))
		return uc_fail(h, -ENAMETOOLONG, "%s: Unix socket path too long",
			       uds_path);
	memcpy(sa.sun_path, uds_path, strlen(uds_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return uc_fail(h, -errno, "Unix socket: %s", strerror(errno));
	err = connect_wait(fd, (struct sockaddr *)&sa, sizeof(sa), deadline);
	if (err) {
		close(fd);
		return uc_fail(h, err, "%s: connect: %s", uds_path,
			       strerror(-err));
	}
	h->fd = fd;

	snprintf(req, sizeof(req), "CONNECT %u\n", port);
	err = uc_write_all(h, req, strlen(req), deadline, "hybrid handshake");
	if (err)
		goto fail;
	n = uc_read_line(h, line, sizeof(line), deadline, "hybrid handshake");
	if (n < 0 && n != -EMSGSIZE) {
		err = (int)n;
		goto fail;
	}
	if (n == 0) {
		err = uc_fail(h, -ECONNREFUSED,
			      "%s: guest port %u refused (connection closed instead of OK)",
			      uds_path, port);
		goto fail;
	}
	if (n < 0 || upcall_parse_hybrid_reply(line, (size_t)n, NULL) < 0) {
		/* Keep the reply printable in the message. */
		for (char *p = line; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				*p = '?';
		err = uc_fail(h, -ECONNREFUSED,
			      "%s: guest port %u refused (reply \"%s\")",
			      uds_path, port, line);
		goto fail;
	}
	h->err[0] = '\0';
	return 0;
fail:
	upcall_close(h);
	return err;
}

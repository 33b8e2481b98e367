// SPDX-License-Identifier: MIT
/*
 * The hybrid-vsock listener: host programs connect to --uds-path, write
 * "CONNECT <port>\n" and, once the guest accepts, read "OK <host port>\n"
 * followed by the stream.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "vsock_dev.h"

#define LINE_TIMEOUT_MS 5000

int host_uds_parse_connect(const char *line, uint32_t *port)
{
	static const char prefix[] = "CONNECT ";
	uint64_t v = 0;
	const char *p;

	if (strncmp(line, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	p = line + sizeof(prefix) - 1;
	if (*p == '\0')
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*port = (uint32_t)v;
	return 0;
}

void host_uds_line_input(struct vsock_conn *c)
{
	for (;;) {
		char ch;
		ssize_t n = read(c->ev.fd, &ch, 1);
		uint32_t port;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			log_dbg("host client closed before a CONNECT line");
			conn_close(c, false);
			return;
		}
		if (ch != '\n') {
			if (c->line_len >= VSOCK_LINE_MAX - 1) {
				log_warn("host client: request line too long; "
					 "closing");
				conn_close(c, false);
				return;
			}
			c->line[c->line_len++] = ch;
			continue;
		}
		if (c->line_len && c->line[c->line_len - 1] == '\r')
			c->line_len--;
		c->line[c->line_len] = '\0';
		if (host_uds_parse_connect(c->line, &port) != 0) {
			log_warn("host client: bad request line \"%s\" "
				 "(want \"CONNECT <port>\"); closing", c->line);
			conn_close(c, false);
			return;
		}
		conn_host_connect(c, port);
		return;
	}
}

static void accept_clients(struct ev_handler *h, uint32_t events)
{
	struct host_uds *u = container_of(h, struct host_uds, ev);

	(void)events;
	for (;;) {
		struct vsock_conn *c;
		int fd = accept4(h->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_warn("accept on %s: %s", u->path,
					 strerror(errno));
			return;
		}
		c = conn_new(u->dev, fd);
		if (!c) {
			log_err("out of memory for a host client");
			close(fd);
			continue;
		}
		c->deadline_ms = now_ms() + LINE_TIMEOUT_MS;
		conn_update_events(c);
	}
}

int uds_listen(const char *path, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, err;
	bool tmp;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("%s: socket path too long (max %zu bytes)", path,
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("%s exists and is not a socket", path);
			return -EEXIST;
		}
		if (unlink(path) != 0) {
			err = errno;
			log_err("remove stale %s: %s", path, strerror(err));
			return -err;
		}
	}
	/*
	 * Bind under a temporary name and rename into place once listening,
	 * so whoever waits for the path never meets a socket that refuses.
	 */
	tmp = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.new", path) <
	      (int)sizeof(sa.sun_path);
	if (!tmp)
		strcpy(sa.sun_path, path);
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		log_err("socket: %s", strerror(err));
		return -err;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, backlog) != 0 ||
	    (tmp && rename(sa.sun_path, path) != 0)) {
		err = errno;
		log_err("listen on %s: %s", path, strerror(err));
		unlink(sa.sun_path);
		close(fd);
		return -err;
	}
	return fd;
}

int host_uds_open(struct host_uds *u, struct vsock_dev *d, const char *path)
{
	int fd;

	memset(u, 0, sizeof(*u));
	u->dev = d;
	u->ev.fd = -1;
	if (strlen(path) >= sizeof(u->path))
		return -ENAMETOOLONG;
	strcpy(u->path, path);
	fd = uds_listen(path, 128);
	if (fd < 0)
		return fd;
	ev_init(&u->ev, fd, accept_clients);
	if (ev_set(d->loop, &u->ev, EPOLLIN) != 0) {
		close(fd);
		unlink(path);
		u->ev.fd = -1;
		return -EIO;
	}
	log_info("hybrid vsock listening on %s", path);
	return 0;
}

void host_uds_close(struct host_uds *u)
{
	if (u->ev.fd < 0)
		return;
	ev_del(u->dev->loop, &u->ev);
	close(u->ev.fd);
	u->ev.fd = -1;
	if (unlink(u->path) != 0 && errno != ENOENT)
		log_warn("remove %s: %s", u->path, strerror(errno));
}

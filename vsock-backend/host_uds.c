// SPDX-License-Identifier: MIT
/*
 * The hybrid-vsock listener: host programs connect to --uds-path, write
 * "CONNECT <port>\n" and, once the guest accepts, read "OK <host port>\n"
 * followed by the stream.
 */
#include "host_uds.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

/*
 * Firecracker, Cloud Hypervisor and vhost-device-vsock read the line up to
 * its newline, split it on whitespace, compare the first word with
 * "connect" ignoring case and parse the second as a u32; Kata's runtime-rs
 * sends "connect <port>\n". We accept the same keyword in any case and any
 * run of spaces or tabs around and between the two words (a CR before the
 * newline too), and refuse anything else, extra words included.
 */
int host_uds_parse_connect(const char *line, uint32_t *port)
{
	uint64_t v = 0;
	const char *p = line;
	size_t n;

	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	n = strcspn(p, " \t\r");
	if (n != 7 || strncasecmp(p, "connect", 7) != 0)
		return -1;
	p += n;
	if (*p != ' ' && *p != '\t')
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	if (*p != '\0')
		return -1;
	*port = (uint32_t)v;
	return 0;
}

static void client_close(struct uds_client *cl, bool close_fd)
{
	struct host_uds *u = cl->u;

	if (cl->dead)
		return;
	ev_del(u->loop, &cl->ev);
	if (close_fd && close(cl->ev.fd) != 0)
		log_warn("close(fd %d): %s", cl->ev.fd, strerror(errno));
	cl->ev.fd = -1;
	cl->dead = true;
	u->nclients--;
}

/* The line is complete: hand the client over to the device. */
static void client_line(struct uds_client *cl)
{
	struct host_uds *u = cl->u;
	uint32_t port;
	int fd = cl->ev.fd, r;

	if (cl->len && cl->line[cl->len - 1] == '\r')
		cl->len--;
	cl->line[cl->len] = '\0';
	if (host_uds_parse_connect(cl->line, &port) != 0) {
		u->stats.bad_lines++;
		log_rl(&u->rl, LOG_WARN, "host client: bad request line \"%s\" "
		       "(want \"CONNECT <port>\"); closing", cl->line);
		client_close(cl, true);
		return;
	}
	client_close(cl, false);
	r = vsock_dev_host_connect(u->dev, fd, port);
	if (r != 0) {
		/* The device counts its refusals. */
		log_rl(&u->rl, LOG_WARN, "host client for guest port %u "
		       "refused: %s", port,
		       r == -EBUSY ? "connection limit reached" : strerror(-r));
		close(fd);
	}
}

static void client_event(struct ev_handler *h, uint32_t events)
{
	struct uds_client *cl = container_of(h, struct uds_client, ev);

	(void)events;
	while (!cl->dead) {
		char ch;
		ssize_t n = read(cl->ev.fd, &ch, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			log_dbg("host client closed before a CONNECT line");
			client_close(cl, true);
			return;
		}
		if (ch == '\n') {
			client_line(cl);
			return;
		}
		if (cl->len >= HOST_UDS_LINE_MAX - 1) {
			cl->u->stats.bad_lines++;
			log_rl(&cl->u->rl, LOG_WARN, "host client: request line "
			       "too long; closing");
			client_close(cl, true);
			return;
		}
		cl->line[cl->len++] = ch;
	}
}

static void accept_clients(struct ev_handler *h, uint32_t events)
{
	struct host_uds *u = container_of(h, struct host_uds, ev);

	(void)events;
	for (;;) {
		struct uds_client *cl;
		int fd = accept_guarded(&u->guard, h->fd, u->path);

		if (fd == -ECONNABORTED)
			continue;
		if (fd == -EMFILE) {
			/* Paused; host_uds_tick() re-arms it. */
			if (ev_set(u->loop, &u->ev, 0) != 0)
				log_err("%s: cannot pause the listener", u->path);
			return;
		}
		if (fd < 0)
			return;
		/* Pending clients count against the limit: each holds an fd. */
		if (!vsock_dev_has_room(u->dev, u->nclients)) {
			u->stats.refused_limit++;
			log_rl(&u->rl, LOG_WARN, "%s: connection limit (%u) "
			       "reached: refusing a host client", u->path,
			       u->dev->max_conns);
			close(fd);
			continue;
		}
		cl = calloc(1, sizeof(*cl));
		if (!cl) {
			log_rl(&u->rl, LOG_ERROR, "out of memory for a host "
			       "client");
			close(fd);
			continue;
		}
		cl->u = u;
		cl->deadline_ms = now_ms() + HOST_UDS_LINE_TIMEOUT_MS;
		ev_init(&cl->ev, fd, client_event);
		cl->next = u->clients;
		u->clients = cl;
		u->nclients++;
		u->stats.accepted++;
		if (ev_set(u->loop, &cl->ev, EPOLLIN) != 0)
			client_close(cl, true);
	}
}

void host_uds_tick(struct host_uds *u)
{
	int64_t now = now_ms();
	struct uds_client **pp = &u->clients;

	if (u->ev.fd >= 0 && accept_guard_due(&u->guard, now) &&
	    ev_set(u->loop, &u->ev, EPOLLIN) != 0)
		log_err("%s: cannot re-arm the listener", u->path);
	while (*pp) {
		struct uds_client *cl = *pp;

		if (!cl->dead && cl->deadline_ms <= now) {
			u->stats.timeouts++;
			log_rl(&u->rl, LOG_INFO, "host client sent no CONNECT "
			       "line in time; closing");
			client_close(cl, true);
		}
		if (cl->dead) {
			*pp = cl->next;
			free(cl);
			continue;
		}
		pp = &cl->next;
	}
}

int host_uds_next_timeout(const struct host_uds *u)
{
	int64_t now = now_ms(), best = -1;
	int g = accept_guard_timeout(&u->guard, now);

	for (const struct uds_client *cl = u->clients; cl; cl = cl->next)
		if (!cl->dead && (best < 0 || cl->deadline_ms < best))
			best = cl->deadline_ms;
	if (best >= 0)
		best = best <= now ? 0 : best - now;
	if (g >= 0 && (best < 0 || g < best))
		best = g;
	return (int)best;
}

int host_uds_open(struct host_uds *u, struct loop *loop, struct vsock_dev *d,
		  const char *path, mode_t mode)
{
	int fd, r;

	memset(u, 0, sizeof(*u));
	u->loop = loop;
	u->dev = d;
	u->ev.fd = -1;
	if (strlen(path) >= sizeof(u->path))
		return -ENAMETOOLONG;
	strcpy(u->path, path);
	r = accept_guard_init(&u->guard);
	if (r != 0)
		return r;
	fd = uds_listen(path, 128, mode);
	if (fd < 0) {
		accept_guard_fini(&u->guard);
		return fd;
	}
	ev_init(&u->ev, fd, accept_clients);
	if (ev_set(loop, &u->ev, EPOLLIN) != 0) {
		close(fd);
		unlink(path);
		u->ev.fd = -1;
		accept_guard_fini(&u->guard);
		return -EIO;
	}
	log_info("hybrid vsock listening on %s (mode %04o)", path,
		 (unsigned)mode);
	return 0;
}

void host_uds_close(struct host_uds *u)
{
	for (struct uds_client *cl = u->clients; cl; cl = cl->next)
		client_close(cl, true);
	host_uds_tick(u);
	if (u->ev.fd < 0)
		return;
	ev_del(u->loop, &u->ev);
	close(u->ev.fd);
	u->ev.fd = -1;
	accept_guard_fini(&u->guard);
	if (unlink(u->path) != 0 && errno != ENOENT)
		log_warn("remove %s: %s", u->path, strerror(errno));
}

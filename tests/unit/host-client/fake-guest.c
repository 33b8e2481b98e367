// SPDX-License-Identifier: MIT
/*
 * Fake guest for the host-client tests: hybrid handshake, the device
 * manager's greeting and replies, and the agent's status line, each with
 * switches for the misbehaviours the client must survive.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fake.h"

static void pause_us(unsigned int us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static int write_bytes(struct fake_guest *g, int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		size_t chunk = g->dribble ? 1 : len;
		ssize_t n = send(fd, p, chunk, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		if (g->dribble)
			pause_us(20);
	}
	return 0;
}

/* 1: got len bytes, 0: EOF or error first. */
static int read_bytes(struct fake_guest *g, int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, g->dribble ? 1 : len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

static void wait_eof(int fd)
{
	char c;

	while (recv(fd, &c, 1, 0) > 0)
		;
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static void serve_agent(struct fake_guest *g, int fd)
{
	char buf[1024];
	size_t total = 0;

	if (g->agent_no_read) {
		while (!g->stop)
			pause_us(10000);
		return;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0)
			return;
		total += (size_t)n;
		if (memchr(buf, '\n', (size_t)n))
			break;
		if (g->slow_read_us)
			pause_us(g->slow_read_us);
	}
	pthread_mutex_lock(&g->lock);
	g->agent_bytes = total;
	pthread_mutex_unlock(&g->lock);
	if (g->status_line) {
		write_bytes(g, fd, g->status_line, strlen(g->status_line));
		write_bytes(g, fd, "\n", 1);
	}
}

static void serve(struct fake_guest *g, int fd)
{
	struct timeval tv = { 5, 0 };
	uint8_t msg[1024], reply[1024];
	unsigned char service;
	unsigned int replies = 0;
	uint8_t stale[4];

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	pthread_mutex_lock(&g->lock);
	g->connections++;
	pthread_mutex_unlock(&g->lock);
	if (g->hybrid) {
		size_t n = 0;
		char c;
		const char *r = g->hybrid_reply ? g->hybrid_reply : "OK 1073741824\n";

		while (n + 1 < sizeof(g->hybrid_line) && recv(fd, &c, 1, 0) == 1) {
			g->hybrid_line[n++] = c;
			if (c == '\n')
				break;
		}
		g->hybrid_line[n] = '\0';
		if (sscanf(g->hybrid_line, "CONNECT %u", &g->port) != 1)
			return;
		if (g->hybrid_close)
			return;
		if (write_bytes(g, fd, r, strlen(r)) || strncmp(r, "OK ", 3))
			return;
		if (g->port == 1219) {
			serve_agent(g, fd);
			return;
		}
	}
	if (!read_bytes(g, fd, &service, 1))
		return;
	g->service = service;
	if (g->silent) {
		wait_eof(fd);
		return;
	}
	memset(msg, 0, sizeof(msg));
	le32(msg, 0x444D0100);
	if (g->bad_greeting)
		le32(msg + 8, 1);
	if (write_bytes(g, fd, msg, sizeof(msg)))
		return;
	le32(stale, g->kata_fill);
	while (read_bytes(g, fd, msg, sizeof(msg))) {
		uint32_t type = msg[8] | msg[9] << 8 | msg[10] << 16 | (uint32_t)msg[11] << 24;

		pthread_mutex_lock(&g->lock);
		if (g->n_req < FAKE_MAX_REQ)
			memcpy(g->req[g->n_req++], msg, sizeof(msg));
		pthread_mutex_unlock(&g->lock);
		if (g->no_reply) {
			wait_eof(fd);
			return;
		}
		if (g->kata) {
			/* Kata's guest reuses one reply buffer: fill it once. */
			if (replies == 0)
				for (size_t i = 0; i < sizeof(reply); i += 4)
					le32(reply + i, g->kata_fill);
			le32(reply + 16, 0);
		} else {
			memset(reply, 0, sizeof(reply));
		}
		le32(reply, g->bad_magic || replies < g->garbage_replies ?
		     0x444D0200 : 0x444D0100);
		le32(reply + 8, type);
		le32(reply + 12, 0);
		if (type == 1 || type == 2) {
			unsigned int count = msg[16];

			le32(reply + 4, 4);
			if (g->track_present) {
				unsigned int k = 0;
				bool whole = false;

				/* The kernel refuses a DEL_CPU naming an absent
				 * CPU as a whole, without saying which. */
				if (type == 2 && g->del_whole)
					for (unsigned int j = 0; j < count; j++)
						whole |= !g->present[msg[18 + j]];
				/* Like the guest: stop at the first ID it cannot act on. */
				for (; !whole && k < count; k++) {
					uint8_t id = msg[18 + k];

					if (g->present[id] == (type == 1))
						break;
					g->present[id] = type == 1;
				}
				if (whole || k < count)
					le32(reply + 16, (uint32_t)(type == 1 ? -EEXIST : -ENODEV));
				le32(reply + 20, k);
			} else if (g->cpu_accept >= 0 && (unsigned int)g->cpu_accept < count) {
				le32(reply + 16, (uint32_t)(g->cpu_errno ? g->cpu_errno : -EBUSY));
				le32(reply + 20, g->cpu_stale_index ? 0xdeadbeef :
				     (uint32_t)g->cpu_accept);
			} else {
				le32(reply + 20, count);
			}
		} else if (type == 5 || type == 6) {
			le32(reply + 16, (uint32_t)g->mmio_ret);
		} else if (type == 7 || type == 8) {
			le32(reply + 16, (uint32_t)g->pci_ret);
		} else {
			le32(reply + 16, (uint32_t)-EOPNOTSUPP);
		}
		if (g->kata && (reply[16] | reply[17] | reply[18] | reply[19])) {
			/* A failure: msg_size 0, apic_index not written. */
			le32(reply + 4, 0);
			if (type == 1 || type == 2)
				memcpy(reply + 20, stale, 4);
		}
		memcpy(stale, reply + 20, 4);
		replies++;
		if (g->reply_delay_ms)
			pause_us(g->reply_delay_ms * 1000);
		if (g->close_mid_reply) {
			write_bytes(g, fd, reply, 512);
			return;
		}
		if (write_bytes(g, fd, reply, sizeof(reply)))
			return;
	}
}

static void *pair_thread(void *arg)
{
	struct fake_guest *g = arg;

	serve(g, g->fd);
	close(g->fd);
	return NULL;
}

static void *listen_thread(void *arg)
{
	struct fake_guest *g = arg;

	while (!g->stop) {
		struct pollfd pfd = { .fd = g->fd, .events = POLLIN };
		int fd;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		fd = accept(g->fd, NULL, NULL);
		if (fd < 0)
			continue;
		serve(g, fd);
		close(fd);
	}
	close(g->fd);
	return NULL;
}

void fake_guest_init(struct fake_guest *g)
{
	memset(g, 0, sizeof(*g));
	g->cpu_accept = -1;
	g->service = -1;
	g->fd = -1;
	pthread_mutex_init(&g->lock, NULL);
}

int fake_guest_start_pair(struct fake_guest *g, int *client_fd)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	g->fd = sv[1];
	*client_fd = sv[0];
	return -pthread_create(&g->thread, NULL, pair_thread, g);
}

int fake_guest_start_listen(struct fake_guest *g, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	g->hybrid = true;
	g->listener = true;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	g->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g->fd < 0)
		return -errno;
	if (bind(g->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(g->fd, 8) < 0) {
		close(g->fd);
		return -errno;
	}
	return -pthread_create(&g->thread, NULL, listen_thread, g);
}

void fake_guest_stop(struct fake_guest *g)
{
	g->stop = true;
	pthread_join(g->thread, NULL);
	pthread_mutex_destroy(&g->lock);
}

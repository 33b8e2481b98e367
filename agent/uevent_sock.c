// SPDX-License-Identifier: GPL-2.0
/* Kernel uevents from the netlink socket, one UPCALL UEVENT line each. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "agent_proto.h"
#include "json.h"
#include "log.h"
#include "uevent.h"
#include "uevent_sock.h"

/* one byte more than accepted, so an oversized message is recognised */
static char msg[AGENT_UEVENT_MAX + 1];
static char json[AGENT_UEVENT_MAX * 6 + 128];

static void handle_one(const char *buf, size_t len)
{
	struct uevent ev;
	struct jbuf jb;
	int err = uevent_parse(buf, len, AGENT_UEVENT_MAX, &ev);

	if (err == UEVENT_NOT_KERNEL)
		return;
	if (err) {
		log_msg("uevent: dropped a malformed message (%zu bytes): %s",
			len, uevent_strerror(err));
		return;
	}
	jb_init(&jb, json, sizeof(json));
	uevent_to_json(&ev, &jb);
	if (jb_finish(&jb) < 0) {
		log_msg("uevent: message too large to print (%zu bytes)", len);
		return;
	}
	log_upcall("UEVENT", json);
}

/* messages taken per callback: a burst cannot hold the loop */
#define UEVENT_BATCH 64

static struct watch uev = { .fd = -1 };

static void on_uevent(struct watch *w, uint32_t events)
{
	int n;

	(void)events;
	for (n = 0; n < UEVENT_BATCH; n++) {
		struct sockaddr_nl from;
		struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) };
		struct msghdr mh = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};
		ssize_t r = recvmsg(w->fd, &mh, MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* the socket overflowed: events were lost */
				log_msg("uevent: receive queue overflowed, events lost");
				continue;
			}
			if (errno != EAGAIN)
				log_errno("uevent: recvmsg");
			return;
		}
		/* only the kernel (port id 0) sends real uevents */
		if (mh.msg_namelen != sizeof(from) || from.nl_pid != 0)
			continue;
		if (mh.msg_flags & MSG_TRUNC) {
			log_msg("uevent: dropped an oversized message (> %d bytes)",
				AGENT_UEVENT_MAX);
			continue;
		}
		handle_one(msg, (size_t)r);
	}
}

int uevent_init(struct loop *l)
{
	struct sockaddr_nl addr = {
		.nl_family = AF_NETLINK,
		.nl_groups = 1,	/* kernel uevents */
	};
	int bufsz = 1 << 20;

	uev.fn = on_uevent;
	uev.fd = socket(AF_NETLINK,
			       SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			       NETLINK_KOBJECT_UEVENT);
	if (uev.fd < 0) {
		log_errno("uevent: socket");
		return -1;
	}
	/* bursts (many CPUs at once) must not overflow the default queue */
	if (setsockopt(uev.fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
		       sizeof(bufsz)) < 0 &&
	    setsockopt(uev.fd, SOL_SOCKET, SO_RCVBUF, &bufsz,
		       sizeof(bufsz)) < 0)
		log_errno("uevent: SO_RCVBUF");
	if (bind(uev.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		log_errno("uevent: bind");
		goto fail;
	}
	if (loop_add(l, &uev, EPOLLIN) < 0)
		goto fail;
	return 0;
fail:
	loop_close(&uev);
	return -1;
}

/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user back-end side, as QEMU's vhost-user-vsock-pci and
 * vhost-user-vsock-device drive it: one front-end at a time on --socket;
 * a second one is accepted and closed at once (logged), so that its QEMU
 * fails with an error instead of waiting in the backlog; when the served
 * one goes away the next one is accepted.
 */
#ifndef VSOCKD_VHOST_USER_H
#define VSOCKD_VHOST_USER_H

#include <stddef.h>
#include <stdint.h>

#include "listener.h"
#include "log.h"
#include "loop.h"
#include "virtqueue.h"
#include "vsock_dev.h"

#define VU_MAX_FDS 8
#define VU_HDR_SIZE 12
#define VU_MAX_PAYLOAD 512

struct vhost_user;

struct vu_vring {
	struct vhost_user *vu;
	unsigned idx;
	struct ev_handler kick_ev;	/* fd -1: none */
	int call_fd, err_fd;
	bool enabled;
	uint32_t num;
	uint16_t base;
	uint64_t desc_uva, avail_uva, used_uva;
};

struct vu_map {
	void *addr;
	size_t len;
};

struct vhost_user {
	struct loop *loop;
	struct vsock_dev *dev;
	char path[108];
	struct ev_handler listen_ev;
	struct ev_handler conn_ev;	/* the front-end; fd -1: none */

	uint64_t features, protocol_features;
	struct vq_memory mem;
	struct vu_map maps[VQ_MAX_REGIONS];
	struct vu_vring vr[VSOCK_NUM_QUEUES];
	unsigned sessions;
	unsigned refused;		/* front-ends refused: one was served */
	struct log_ratelimit refuse_rl;
	struct accept_guard guard;

	/* message being received */
	uint8_t msg[VU_HDR_SIZE + VU_MAX_PAYLOAD];
	size_t have;
	int fds[VU_MAX_FDS];
	unsigned nfds;
};

/* Listens on path with permissions mode. 0 or -errno. */
int vhost_user_open(struct vhost_user *vu, struct loop *loop,
		    struct vsock_dev *dev, const char *path, mode_t mode);
void vhost_user_close(struct vhost_user *vu);
/* After each event batch: re-arms a listener paused for lack of fds. */
void vhost_user_tick(struct vhost_user *vu);
/* Milliseconds until that, or -1. */
int vhost_user_next_timeout(const struct vhost_user *vu);

/* Exposed for the tests: feature bits offered. */
uint64_t vhost_user_features(void);
uint64_t vhost_user_protocol_features(void);

#endif

// SPDX-License-Identifier: MIT
#include "vhost_user.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_vsock.h>

#include "log.h"

/* Message types (vhost-user specification). */
enum {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
};

#define VHOST_USER_VERSION 0x1u
#define VHOST_USER_VERSION_MASK 0x3u
#define VHOST_USER_REPLY 0x4u
#define VHOST_USER_NEED_REPLY 0x8u
#define VHOST_USER_VRING_IDX_MASK 0xffu
#define VHOST_USER_VRING_NOFD 0x100u

#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VHOST_USER_PROTOCOL_F_CONFIG 9

#define VU_CONFIG_HDR 12
#define VSOCK_CONFIG_SIZE sizeof(struct virtio_vsock_config)

uint64_t vhost_user_features(void)
{
	return 1ull << VIRTIO_F_VERSION_1 |
	       1ull << VIRTIO_RING_F_EVENT_IDX |
	       1ull << VHOST_USER_F_PROTOCOL_FEATURES;
}

uint64_t vhost_user_protocol_features(void)
{
	return 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK |
	       1ull << VHOST_USER_PROTOCOL_F_CONFIG;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void unmap_all(struct vu_map *maps, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (maps[i].addr && munmap(maps[i].addr, maps[i].len) != 0)
			log_warn("munmap: %s", strerror(errno));
		maps[i].addr = NULL;
		maps[i].len = 0;
	}
}

static void vring_stop(struct vhost_user *vu, struct vu_vring *vr)
{
	if (vsock_dev_queue_running(vu->dev, vr->idx))
		vr->base = vsock_dev_queue_stop(vu->dev, vr->idx);
	if (vr->kick_ev.fd >= 0) {
		ev_del(vu->loop, &vr->kick_ev);
		close_fd(&vr->kick_ev.fd);
	}
}

static void vring_reset(struct vhost_user *vu, struct vu_vring *vr)
{
	vring_stop(vu, vr);
	close_fd(&vr->call_fd);
	close_fd(&vr->err_fd);
	vr->enabled = false;
	vr->num = 0;
	vr->base = 0;
	vr->desc_uva = vr->avail_uva = vr->used_uva = 0;
}

/*
 * Back to the state before any front-end spoke. dev_reset: the device
 * drops its connections too (RESET_OWNER, exit); otherwise the front-end
 * went away and the device decides what survives it.
 */
static void reset_device(struct vhost_user *vu, bool dev_reset)
{
	for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++)
		vring_reset(vu, &vu->vr[i]);
	if (dev_reset)
		vsock_dev_reset(vu->dev);
	else
		vsock_dev_frontend_gone(vu->dev);
	vsock_dev_set_memory(vu->dev, NULL);
	unmap_all(vu->maps, VQ_MAX_REGIONS);
	memset(&vu->mem, 0, sizeof(vu->mem));
	vu->features = vu->protocol_features = 0;
}

static void kick_event(struct ev_handler *h, uint32_t events)
{
	struct vu_vring *vr = container_of(h, struct vu_vring, kick_ev);
	uint64_t n;

	(void)events;
	if (read(h->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("queue %u: kick eventfd: %s", vr->idx,
			 strerror(errno));
	if (vsock_dev_queue_running(vr->vu->dev, vr->idx))
		vsock_dev_kick(vr->vu->dev, vr->idx);
}

/* Starts the ring once it has a kick fd and is enabled. */
static int vring_try_start(struct vhost_user *vu, struct vu_vring *vr)
{
	struct vsock_ring_cfg cfg = {
		.num = vr->num,
		.desc_uva = vr->desc_uva,
		.avail_uva = vr->avail_uva,
		.used_uva = vr->used_uva,
		.base = vr->base,
		.event_idx = vu->features & 1ull << VIRTIO_RING_F_EVENT_IDX,
	};

	if (vsock_dev_queue_running(vu->dev, vr->idx) || vr->kick_ev.fd < 0 ||
	    !vr->enabled)
		return 0;
	if (ev_set(vu->loop, &vr->kick_ev, EPOLLIN) != 0)
		return -EIO;
	return vsock_dev_queue_start(vu->dev, vr->idx, &cfg, vr->call_fd);
}

static int send_reply(struct vhost_user *vu, uint32_t req, const void *payload,
		      uint32_t size)
{
	uint8_t out[VU_HDR_SIZE + VU_MAX_PAYLOAD];
	uint32_t flags = VHOST_USER_VERSION | VHOST_USER_REPLY;
	ssize_t n;

	memcpy(out, &req, 4);
	memcpy(out + 4, &flags, 4);
	memcpy(out + 8, &size, 4);
	memcpy(out + VU_HDR_SIZE, payload, size);
	/* The front-end waits for this reply, so its socket buffer is empty. */
	n = send(vu->conn_ev.fd, out, VU_HDR_SIZE + size,
		 MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n != (ssize_t)(VU_HDR_SIZE + size)) {
		log_err("vhost-user reply: %s",
			n < 0 ? strerror(errno) : "short write");
		return -EIO;
	}
	return 0;
}

static int reply_u64(struct vhost_user *vu, uint32_t req, uint64_t v)
{
	return send_reply(vu, req, &v, sizeof(v));
}

static int take_fd(struct vhost_user *vu)
{
	int fd;

	if (vu->nfds == 0)
		return -1;
	fd = vu->fds[0];
	memmove(vu->fds, vu->fds + 1, (vu->nfds - 1) * sizeof(int));
	vu->nfds--;
	return fd;
}

static int set_mem_table(struct vhost_user *vu, const uint8_t *p, uint32_t size)
{
	struct vq_memory mem = { 0 };
	struct vu_map maps[VQ_MAX_REGIONS] = { 0 };
	uint32_t n;

	if (size < 8)
		return -EPROTO;
	memcpy(&n, p, 4);
	if (n == 0 || n > VQ_MAX_REGIONS || size < 8 + 32 * n ||
	    vu->nfds != n) {
		log_err("SET_MEM_TABLE: %u regions, %u fds, %u bytes", n,
			vu->nfds, size);
		return -EPROTO;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *r = p + 8 + 32 * i;
		uint64_t gpa, len, uva, off;
		int fd = take_fd(vu);
		void *addr;

		memcpy(&gpa, r, 8);
		memcpy(&len, r + 8, 8);
		memcpy(&uva, r + 16, 8);
		memcpy(&off, r + 24, 8);
		if (len == 0 || off > SIZE_MAX - len ||
		    gpa > UINT64_MAX - len || uva > UINT64_MAX - len) {
			close(fd);
			unmap_all(maps, VQ_MAX_REGIONS);
			return -EPROTO;
		}
		addr = mmap(NULL, len + off, PROT_READ | PROT_WRITE, MAP_SHARED,
			    fd, 0);
		close(fd);
		if (addr == MAP_FAILED) {
			log_err("SET_MEM_TABLE: mmap region %u (%llu bytes): %s",
				i, (unsigned long long)len, strerror(errno));
			unmap_all(maps, VQ_MAX_REGIONS);
			return -ENOMEM;
		}
		maps[i].addr = addr;
		maps[i].len = len + off;
		mem.r[i].gpa = gpa;
		mem.r[i].size = len;
		mem.r[i].uva = uva;
		mem.r[i].host = (uint8_t *)addr + off;
		log_dbg("region %u: gpa 0x%llx size 0x%llx uva 0x%llx", i,
			(unsigned long long)gpa, (unsigned long long)len,
			(unsigned long long)uva);
	}
	mem.n = n;
	/* Install the new table, re-point running rings, drop the old maps. */
	vu->mem = mem;
	vsock_dev_set_memory(vu->dev, &vu->mem);
	unmap_all(vu->maps, VQ_MAX_REGIONS);
	memcpy(vu->maps, maps, sizeof(maps));
	log_info("memory table: %u regions", n);
	return 0;
}

/* The payloads' layouts are the kernel vhost ABI's (linux/vhost_types.h). */
static int vring_state(const uint8_t *p, uint32_t size, uint32_t *idx,
		       uint32_t *num)
{
	struct vhost_vring_state st;

	if (size < sizeof(st))
		return -EPROTO;
	memcpy(&st, p, sizeof(st));
	*idx = st.index;
	*num = st.num;
	return *idx < VSOCK_NUM_QUEUES ? 0 : -EPROTO;
}

static int vring_fd_msg(struct vhost_user *vu, const uint8_t *p, uint32_t size,
			struct vu_vring **vr, int *fd)
{
	uint64_t v;
	unsigned idx;

	if (size < 8)
		return -EPROTO;
	memcpy(&v, p, 8);
	idx = v & VHOST_USER_VRING_IDX_MASK;
	if (idx >= VSOCK_NUM_QUEUES)
		return -EPROTO;
	*vr = &vu->vr[idx];
	if (v & VHOST_USER_VRING_NOFD) {
		*fd = -1;
		return vu->nfds == 0 ? 0 : -EPROTO;
	}
	if (vu->nfds != 1)
		return -EPROTO;
	*fd = take_fd(vu);
	return 0;
}

static int get_config(struct vhost_user *vu, const uint8_t *p, uint32_t size)
{
	uint8_t out[VU_CONFIG_HDR + 256] = { 0 };
	uint8_t cfg[VSOCK_CONFIG_SIZE];
	uint32_t off, len;

	if (size < VU_CONFIG_HDR)
		return -EPROTO;
	memcpy(&off, p, 4);
	memcpy(&len, p + 4, 4);
	if (len > 256 || size != VU_CONFIG_HDR + len || off > VSOCK_CONFIG_SIZE)
		return -EPROTO;
	for (int i = 0; i < 8; i++)
		cfg[i] = (uint8_t)(vsock_dev_guest_cid(vu->dev) >> (8 * i));
	memcpy(out, p, VU_CONFIG_HDR);
	memcpy(out + VU_CONFIG_HDR, cfg + off,
	       len < VSOCK_CONFIG_SIZE - off ? len : VSOCK_CONFIG_SIZE - off);
	return send_reply(vu, VHOST_USER_GET_CONFIG, out, VU_CONFIG_HDR + len);
}

/* Handles one message. *replied: it sent its own reply. */
static int dispatch(struct vhost_user *vu, uint32_t req, const uint8_t *p,
		    uint32_t size, bool *replied)
{
	struct vu_vring *vr;
	uint32_t idx, num;
	uint64_t v;
	int fd, r;

	*replied = false;
	switch (req) {
	case VHOST_USER_GET_FEATURES:
		*replied = true;
		return reply_u64(vu, req, vhost_user_features());
	case VHOST_USER_SET_FEATURES:
		if (size < 8)
			return -EPROTO;
		memcpy(&v, p, 8);
		if (v & ~vhost_user_features()) {
			log_err("SET_FEATURES 0x%llx: not offered",
				(unsigned long long)v);
			return -EPROTO;
		}
		vu->features = v;
		/* Without protocol features, rings start enabled. */
		for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++)
			if (!(v & 1ull << VHOST_USER_F_PROTOCOL_FEATURES))
				vu->vr[i].enabled = true;
		return 0;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		*replied = true;
		return reply_u64(vu, req, vhost_user_protocol_features());
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		if (size < 8)
			return -EPROTO;
		memcpy(&v, p, 8);
		if (v & ~vhost_user_protocol_features())
			return -EPROTO;
		vu->protocol_features = v;
		return 0;
	case VHOST_USER_GET_QUEUE_NUM:
		*replied = true;
		return reply_u64(vu, req, VSOCK_NUM_QUEUES);
	case VHOST_USER_SET_OWNER:
		return 0;
	case VHOST_USER_RESET_OWNER:
		reset_device(vu, true);
		return 0;
	case VHOST_USER_SET_MEM_TABLE:
		return set_mem_table(vu, p, size);
	case VHOST_USER_SET_VRING_NUM:
		if (vring_state(p, size, &idx, &num))
			return -EPROTO;
		if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1)))
			return -EPROTO;
		vu->vr[idx].num = num;
		return 0;
	case VHOST_USER_SET_VRING_BASE:
		if (vring_state(p, size, &idx, &num) || num > UINT16_MAX)
			return -EPROTO;
		vu->vr[idx].base = (uint16_t)num;
		return 0;
	case VHOST_USER_SET_VRING_ADDR: {
		struct vhost_vring_addr a;

		if (size < sizeof(a))
			return -EPROTO;
		memcpy(&a, p, sizeof(a));
		if (a.index >= VSOCK_NUM_QUEUES)
			return -EPROTO;
		vr = &vu->vr[a.index];
		vr->desc_uva = a.desc_user_addr;
		vr->used_uva = a.used_user_addr;
		vr->avail_uva = a.avail_user_addr;
		return 0;
	}
	case VHOST_USER_GET_VRING_BASE: {
		uint32_t out[2];

		if (vring_state(p, size, &idx, &num))
			return -EPROTO;
		vr = &vu->vr[idx];
		vring_stop(vu, vr);
		out[0] = idx;
		out[1] = vr->base;
		*replied = true;
		return send_reply(vu, req, out, sizeof(out));
	}
	case VHOST_USER_SET_VRING_KICK:
		if (vring_fd_msg(vu, p, size, &vr, &fd))
			return -EPROTO;
		if (fd < 0) {
			log_err("queue %u: polling without a kick fd is not "
				"supported", vr->idx);
			return -EPROTO;
		}
		vring_stop(vu, vr);
		ev_init(&vr->kick_ev, fd, kick_event);
		return vring_try_start(vu, vr);
	case VHOST_USER_SET_VRING_CALL:
		if (vring_fd_msg(vu, p, size, &vr, &fd))
			return -EPROTO;
		close_fd(&vr->call_fd);
		vr->call_fd = fd;
		if (vsock_dev_queue_running(vu->dev, vr->idx))
			vsock_dev_set_call_fd(vu->dev, vr->idx, fd);
		return 0;
	case VHOST_USER_SET_VRING_ERR:
		if (vring_fd_msg(vu, p, size, &vr, &fd))
			return -EPROTO;
		close_fd(&vr->err_fd);
		vr->err_fd = fd;
		return 0;
	case VHOST_USER_SET_VRING_ENABLE:
		if (vring_state(p, size, &idx, &num))
			return -EPROTO;
		vr = &vu->vr[idx];
		vr->enabled = num != 0;
		if (vr->enabled)
			return vring_try_start(vu, vr);
		if (vsock_dev_queue_running(vu->dev, idx))
			vr->base = vsock_dev_queue_stop(vu->dev, idx);
		return 0;
	case VHOST_USER_GET_CONFIG:
		*replied = true;
		return get_config(vu, p, size);
	case VHOST_USER_SET_CONFIG:
		log_err("SET_CONFIG: the vsock configuration is read-only");
		return -EPERM;
	default:
		r = -EPROTO;
		log_err("unsupported vhost-user request %u", req);
		return r;
	}
}

static void frontend_gone(struct vhost_user *vu, const char *why)
{
	log_info("front-end disconnected (%s); resetting and waiting for the "
		 "next one on %s", why, vu->path);
	ev_del(vu->loop, &vu->conn_ev);
	close_fd(&vu->conn_ev.fd);
	for (unsigned i = 0; i < vu->nfds; i++)
		close(vu->fds[i]);
	vu->nfds = 0;
	vu->have = 0;
	reset_device(vu, false);
	if (ev_set(vu->loop, &vu->listen_ev, EPOLLIN) != 0)
		log_err("cannot listen for front-ends any more");
}

static void handle_message(struct vhost_user *vu)
{
	uint32_t req, flags, size;
	bool replied;
	int r;

	memcpy(&req, vu->msg, 4);
	memcpy(&flags, vu->msg + 4, 4);
	memcpy(&size, vu->msg + 8, 4);
	log_dbg("vhost-user request %u flags 0x%x size %u fds %u", req, flags,
		size, vu->nfds);
	r = dispatch(vu, req, vu->msg + VU_HDR_SIZE, size, &replied);
	for (unsigned i = 0; i < vu->nfds; i++)
		close(vu->fds[i]);	/* fds the request did not use */
	vu->nfds = 0;
	vu->have = 0;
	if (r == 0 && !replied && (flags & VHOST_USER_NEED_REPLY))
		r = reply_u64(vu, req, 0);
	if (r != 0) {
		log_err("vhost-user request %u failed: %s", req, strerror(-r));
		frontend_gone(vu, "protocol error");
	}
}

/* Collects SCM_RIGHTS fds; too many is a protocol error. */
static int collect_fds(struct vhost_user *vu, struct msghdr *mh)
{
	int err = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (vu->nfds < VU_MAX_FDS) {
				vu->fds[vu->nfds++] = fd;
			} else {
				close(fd);
				err = -EPROTO;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		err = -EPROTO;
	return err;
}

static void frontend_event(struct ev_handler *h, uint32_t events)
{
	struct vhost_user *vu = container_of(h, struct vhost_user, conn_ev);

	(void)events;
	for (;;) {
		union {
			char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		size_t want;
		uint32_t size, flags;
		ssize_t n;

		if (vu->have < VU_HDR_SIZE) {
			want = VU_HDR_SIZE - vu->have;
		} else {
			memcpy(&size, vu->msg + 8, 4);
			want = VU_HDR_SIZE + size - vu->have;
		}
		iov.iov_base = vu->msg + vu->have;
		iov.iov_len = want;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(h->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			frontend_gone(vu, strerror(errno));
			return;
		}
		if (n == 0) {
			frontend_gone(vu, "end of file");
			return;
		}
		if (collect_fds(vu, &mh) != 0) {
			log_err("vhost-user message with too many fds");
			frontend_gone(vu, "protocol error");
			return;
		}
		vu->have += (size_t)n;
		if (vu->have < VU_HDR_SIZE)
			continue;
		memcpy(&flags, vu->msg + 4, 4);
		memcpy(&size, vu->msg + 8, 4);
		if ((flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
		    size > VU_MAX_PAYLOAD) {
			log_err("bad vhost-user header: flags 0x%x size %u",
				flags, size);
			frontend_gone(vu, "protocol error");
			return;
		}
		if (vu->have == VU_HDR_SIZE + size) {
			handle_message(vu);
			if (vu->conn_ev.fd < 0)
				return;
		}
	}
}

static void accept_frontend(struct ev_handler *h, uint32_t events)
{
	struct vhost_user *vu = container_of(h, struct vhost_user, listen_ev);
	int fd;

	(void)events;
	fd = accept_guarded(&vu->guard, h->fd, vu->path);
	if (fd == -EMFILE) {
		if (ev_set(vu->loop, &vu->listen_ev, 0) != 0)
			log_err("%s: cannot pause the listener", vu->path);
		return;
	}
	if (fd < 0)
		return;
	if (vu->conn_ev.fd >= 0) {
		/*
		 * One guest per daemon: its CID and hybrid sockets are ours.
		 * A second front-end closed at once fails to start with an
		 * error (QEMU: "Failed to read msg header") instead of
		 * waiting in the backlog for ever.
		 */
		vu->refused++;
		log_rl(&vu->refuse_rl, LOG_ERROR,
		       "refusing a second front-end on %s: session %u is being "
		       "served (one VM per upcall-vsockd)", vu->path,
		       vu->sessions);
		close(fd);
		return;
	}
	vu->sessions++;
	log_info("front-end connected on %s (session %u)", vu->path,
		 vu->sessions);
	ev_init(&vu->conn_ev, fd, frontend_event);
	if (ev_set(vu->loop, &vu->conn_ev, EPOLLIN) != 0)
		close_fd(&vu->conn_ev.fd);
}

void vhost_user_tick(struct vhost_user *vu)
{
	if (vu->listen_ev.fd >= 0 && accept_guard_due(&vu->guard, now_ms()) &&
	    ev_set(vu->loop, &vu->listen_ev, EPOLLIN) != 0)
		log_err("%s: cannot re-arm the listener", vu->path);
}

int vhost_user_next_timeout(const struct vhost_user *vu)
{
	return accept_guard_timeout(&vu->guard, now_ms());
}

int vhost_user_open(struct vhost_user *vu, struct loop *loop,
		    struct vsock_dev *dev, const char *path, mode_t mode)
{
	int fd, r;

	memset(vu, 0, sizeof(*vu));
	vu->loop = loop;
	vu->dev = dev;
	vu->conn_ev.fd = -1;
	vu->listen_ev.fd = -1;
	for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++) {
		vu->vr[i].vu = vu;
		vu->vr[i].idx = i;
		vu->vr[i].kick_ev.fd = -1;
		vu->vr[i].call_fd = -1;
		vu->vr[i].err_fd = -1;
	}
	if (strlen(path) >= sizeof(vu->path))
		return -ENAMETOOLONG;
	strcpy(vu->path, path);
	r = accept_guard_init(&vu->guard);
	if (r != 0)
		return r;
	fd = uds_listen(path, 4, mode);
	if (fd < 0) {
		accept_guard_fini(&vu->guard);
		return fd;
	}
	ev_init(&vu->listen_ev, fd, accept_frontend);
	if (ev_set(loop, &vu->listen_ev, EPOLLIN) != 0) {
		close(fd);
		unlink(path);
		vu->listen_ev.fd = -1;
		accept_guard_fini(&vu->guard);
		return -EIO;
	}
	log_info("vhost-user socket listening on %s (mode %04o)", path,
		 (unsigned)mode);
	return 0;
}

void vhost_user_close(struct vhost_user *vu)
{
	if (vu->conn_ev.fd >= 0) {
		ev_del(vu->loop, &vu->conn_ev);
		close_fd(&vu->conn_ev.fd);
	}
	reset_device(vu, true);
	if (vu->listen_ev.fd >= 0) {
		ev_del(vu->loop, &vu->listen_ev);
		close_fd(&vu->listen_ev.fd);
		accept_guard_fini(&vu->guard);
		if (unlink(vu->path) != 0 && errno != ENOENT)
			log_warn("remove %s: %s", vu->path, strerror(errno));
	}
}

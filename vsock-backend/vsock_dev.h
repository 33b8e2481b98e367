/* SPDX-License-Identifier: MIT */
/*
 * The virtio-vsock device: its three virtqueues, the table of connections
 * and the packets it owes the guest. The device owns the connection table:
 * every connection is created (within --max-connections) and removed
 * here, and only here. vsock_dev.c moves packets between the rings and
 * the connections and acts on the verdicts the connections' state machine
 * (vsock_conn.h, below this file) returns: keep, close, or close and owe
 * the guest an RST. host_uds.c (above this file) owns host clients until
 * their request line is complete; vhost_user.c (above) drives the device
 * through the start/stop/kick interface below.
 */
#ifndef VSOCKD_VSOCK_DEV_H
#define VSOCKD_VSOCK_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "loop.h"
#include "virtqueue.h"
#include "vsock_conn.h"
#include "vsock_packet.h"

#define VSOCK_NUM_QUEUES 3
#define VSOCK_RST_QUEUE 256
#define VSOCK_EPHEMERAL_FIRST 0x40000000u
/* Firecracker's per-device limit. */
#define VSOCK_DEFAULT_MAX_CONNS 1023

/* A ring as the front-end describes it (vhost-user SET_VRING_*). */
struct vsock_ring_cfg {
	unsigned num;
	uint64_t desc_uva, avail_uva, used_uva;
	uint16_t base;		/* next avail index to consume */
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
};

/*
 * Where a ring stood when it stopped, in guest-physical terms (front-end
 * addresses change with the front-end process): a restart at the same
 * place is the same driver resuming, anything else a new driver.
 */
struct vsock_ring_mark {
	bool valid;
	unsigned num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail;
};

struct vsock_queue {
	struct virtqueue vq;
	bool started;
	int call_fd;		/* -1: no interrupts */
	bool need_notify;
	struct vsock_ring_mark mark;
};

struct vsock_rst {
	uint32_t local_port, peer_port;
};

struct vsock_dev {
	struct loop *loop;
	/* Shared with every connection: CID, --tx-buffer-size, counters. */
	struct conn_ctx cx;
	unsigned max_conns;		/* --max-connections */
	const char *uds_path;		/* guest-initiated: <uds_path>_<port> */

	const struct vq_memory *mem;
	struct vsock_queue q[VSOCK_NUM_QUEUES];

	struct vsock_conn *head, *tail;	/* live connections */
	unsigned nconns;
	struct vsock_conn *zombies;	/* freed after the current batch */
	uint32_t next_port;

	struct vsock_rst rst[VSOCK_RST_QUEUE];	/* RSTs owed, no connection */
	unsigned rst_first, rst_count;

	bool reset_event_pending;
	/* The front-end went away: connections wait this long for it. */
	int reconnect_timeout_ms;
	int64_t detached_deadline_ms;	/* 0: a front-end is attached */
};

void vsock_dev_init(struct vsock_dev *d, struct loop *loop, uint64_t cid,
		    uint32_t buf_alloc, const char *uds_path);
void vsock_dev_fini(struct vsock_dev *d);

/*
 * The interface the vhost-user layer drives the device with. It never
 * writes the device's queue fields itself.
 *
 * vsock_dev_set_memory: the guest memory table (owned by the caller, valid
 * until the next call; NULL: none). Running rings are re-translated; one
 * that no longer fits is stopped.
 * vsock_dev_queue_start: the ring becomes usable and is processed at once.
 * 0, or -EINVAL when the ring does not lie inside guest memory. Pausing a
 * VM stops and restarts the rings (QEMU: SET_VRING_ENABLE 0 and
 * GET_VRING_BASE on `stop`); a restart at the place a ring stopped keeps
 * every connection, a ring that starts anywhere else belongs to a reset
 * driver, whose connections are gone, so their host sides are closed.
 * vsock_dev_queue_stop: returns the next avail index (for GET_VRING_BASE).
 * vsock_dev_kick: the guest notified the queue.
 * vsock_dev_frontend_gone: the front-end disconnected. Connections wait
 * reconnect_timeout_ms for a front-end that resumes the same rings.
 * vsock_dev_reset: back to the initial state (RESET_OWNER, exit): every
 * connection is dropped, host sides closed.
 */
void vsock_dev_set_memory(struct vsock_dev *d, const struct vq_memory *mem);
int vsock_dev_queue_start(struct vsock_dev *d, unsigned qi,
			  const struct vsock_ring_cfg *cfg, int call_fd);
uint16_t vsock_dev_queue_stop(struct vsock_dev *d, unsigned qi);
bool vsock_dev_queue_running(const struct vsock_dev *d, unsigned qi);
void vsock_dev_set_call_fd(struct vsock_dev *d, unsigned qi, int call_fd);
void vsock_dev_kick(struct vsock_dev *d, unsigned qi);
void vsock_dev_frontend_gone(struct vsock_dev *d);
void vsock_dev_reset(struct vsock_dev *d);
/* Moves owed packets into the rx queue and raises interrupts. */
void vsock_dev_flush(struct vsock_dev *d);
void vsock_dev_process_tx(struct vsock_dev *d);
void vsock_dev_after_batch(struct vsock_dev *d);
int vsock_dev_next_timeout(struct vsock_dev *d);
/*
 * The counters as "name=value" pairs separated by sep, into buf (snprintf
 * semantics: returns the length it needed).
 */
int vsock_dev_format_stats(const struct vsock_dev *d, char *buf, size_t len,
			   const char *sep);
bool vsock_dev_running(const struct vsock_dev *d);

/*
 * Whether `pending` more connections (host clients still sending their
 * request line) fit under --max-connections next to the live ones.
 */
bool vsock_dev_has_room(const struct vsock_dev *d, unsigned pending);
/*
 * A host client asked for guest port guest_port. 0: the device owns fd
 * (non-blocking) and sends the guest a REQUEST; -EBUSY: the connection
 * limit is reached, -ENOMEM: out of memory (the caller still owns fd).
 */
int vsock_dev_host_connect(struct vsock_dev *d, int fd, uint32_t guest_port);

/* The CID the guest is told it has (device config space). */
uint64_t vsock_dev_guest_cid(const struct vsock_dev *d);
/* A host port for a host-initiated connection, unique among live ones. */
uint32_t vsock_dev_alloc_port(struct vsock_dev *d);

#endif

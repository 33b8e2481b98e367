/* SPDX-License-Identifier: MIT */
/*
 * The virtio-vsock device: its three virtqueues, the table of connections
 * and the packets it owes the guest. The device owns the connection table:
 * every connection is created (within --max-connections) and removed
 * here. vsock_dev.c moves packets between the rings and the connections;
 * vsock_conn.c is the per-connection state machine and owns each
 * connection's Unix-socket fd. host_uds.c (above this file) owns host
 * clients until their request line is complete.
 */
#ifndef VSOCKD_VSOCK_DEV_H
#define VSOCKD_VSOCK_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "loop.h"
#include "virtqueue.h"
#include "vsock_packet.h"

#define VSOCK_NUM_QUEUES 3
#define VSOCK_RST_QUEUE 256
#define VSOCK_EPHEMERAL_FIRST 0x40000000u
/* Firecracker's per-device limit. */
#define VSOCK_DEFAULT_MAX_CONNS 1023

enum conn_state {
	CONN_CONNECTING,	/* REQUEST owed or sent, waiting for RESPONSE */
	CONN_ESTABLISHED,
	CONN_CLOSING,		/* guest shut both ways: flush, then RST */
	CONN_DEAD,		/* unlinked, freed after the event batch */
};

/* Control packets a connection owes the guest (bit set). */
enum {
	PEND_REQUEST = 1u << 0,
	PEND_RESPONSE = 1u << 1,
	PEND_SHUTDOWN = 1u << 2,
	PEND_CREDIT_UPDATE = 1u << 3,
	PEND_CREDIT_REQUEST = 1u << 4,
};

struct vsock_dev;

struct vsock_conn {
	struct vsock_dev *dev;
	struct ev_handler ev;	/* the host side's Unix socket */
	struct vsock_conn *prev, *next;
	enum conn_state state;
	bool host_initiated;
	uint32_t local_port;	/* host side port */
	uint32_t peer_port;	/* guest side port */
	int64_t deadline_ms;	/* 0: none */

	/*
	 * guest -> host: bytes received but not yet written to the socket.
	 * Allocated (buf_cap bytes) the first time data must wait.
	 */
	uint8_t *buf;
	uint32_t buf_cap, buf_head, buf_len;
	uint32_t rx_cnt;	/* guest payload bytes received */
	uint32_t fwd_cnt;	/* of those, written to the socket */
	uint32_t fwd_cnt_sent;	/* fwd_cnt last advertised to the guest */
	char ok_line[24];	/* "OK <port>\n", written before any data */
	uint8_t ok_len, ok_off;

	/* host -> guest */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t tx_cnt;	/* payload bytes sent to the guest */
	bool credit_requested;	/* CREDIT_REQUEST sent since credit ran out */

	uint32_t pend;		/* PEND_* */
	uint32_t shutdown_to_send;
	uint32_t peer_shutdown;	/* VSOCK_SHUTDOWN_* received */
	bool readable;		/* socket may have data; epoll IN is off */
	bool eof;		/* socket read returned 0 */
	bool hup;		/* socket hung up: no more epoll */
	bool wr_shut;		/* we shut the socket's write side */
};

/* A ring as the front-end describes it (vhost-user SET_VRING_*). */
struct vsock_ring_cfg {
	unsigned num;
	uint64_t desc_uva, avail_uva, used_uva;
	uint16_t base;		/* next avail index to consume */
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

/* Counters for operators (--stats, SIGUSR1, a line at exit). */
struct vsock_stats {
	uint64_t conns_opened, conns_closed;
	uint64_t refused_limit;		/* over --max-connections */
	uint64_t rst_sent, rst_received;
	uint64_t credit_stalls;		/* host data waited for guest credit */
	uint64_t credit_updates;	/* CREDIT_UPDATEs sent on their own */
	uint64_t bytes_to_guest, bytes_to_host;
	uint64_t bad_chains, bad_packets, unknown_conn;
};

struct vsock_dev {
	struct loop *loop;
	uint64_t guest_cid;
	uint32_t buf_alloc;		/* --tx-buffer-size */
	unsigned max_conns;		/* --max-connections */
	int connect_timeout_ms;
	const char *uds_path;		/* guest-initiated: <uds_path>_<port> */

	const struct vq_memory *mem;
	struct vsock_queue q[VSOCK_NUM_QUEUES];

	struct vsock_conn *head, *tail;	/* live connections */
	unsigned nconns;
	struct vsock_conn *zombies;	/* freed after the current batch */
	uint32_t next_port;

	struct vsock_rst rst[VSOCK_RST_QUEUE];	/* RSTs owed, no connection */
	unsigned rst_first, rst_count;

	struct log_ratelimit guest_rl;	/* log lines the guest causes */
	bool reset_event_pending;
	/* The front-end went away: connections wait this long for it. */
	int reconnect_timeout_ms;
	int64_t detached_deadline_ms;	/* 0: a front-end is attached */
	struct vsock_stats stats;
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

/* Internal to the device and connection files. */
void vsock_dev_queue_rst(struct vsock_dev *d, uint32_t local_port,
			 uint32_t peer_port);
struct vsock_conn *vsock_dev_find(struct vsock_dev *d, uint32_t local_port,
				  uint32_t peer_port);
/* A host port for a host-initiated connection, unique among live ones. */
uint32_t vsock_dev_alloc_port(struct vsock_dev *d);
/* Unlinks c; its memory is freed after the current event batch. */
void vsock_dev_bury(struct vsock_dev *d, struct vsock_conn *c);

/* vsock_conn.c: the state machine. */
/* A connection for fd, not linked anywhere yet; NULL: out of memory. */
struct vsock_conn *conn_new(struct vsock_dev *d, int fd);
/* Host client asked for guest port from local_port: owes a REQUEST. */
void conn_host_connect(struct vsock_conn *c, uint32_t local_port,
		       uint32_t guest_port);
/* The guest's REQUEST h reached a host listener on fd: owes a RESPONSE. */
void conn_guest_accepted(struct vsock_conn *c, const struct vsock_hdr *h);
void conn_guest_packet(struct vsock_conn *c, const struct vsock_hdr *h,
		       const struct vq_chain *chain);
/* Whether c owes the guest a packet now. */
bool conn_wants_rx(const struct vsock_conn *c);
/* Fills the rx chain with c's next packet; returns bytes used or 0. */
uint32_t conn_fill_rx(struct vsock_conn *c, const struct vq_chain *chain);
/* Closes the host side; rst: tell the guest too. */
void conn_close(struct vsock_conn *c, bool rst);
void conn_update_events(struct vsock_conn *c);
uint32_t conn_peer_credit(const struct vsock_conn *c);
/*
 * Bytes the guest will send us before it waits for a credit update:
 * min(our buffer, the guest's own buf_alloc).
 */
uint32_t conn_guest_window(const struct vsock_conn *c);
void conn_timeout(struct vsock_conn *c);

#endif

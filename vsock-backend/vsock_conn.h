/* SPDX-License-Identifier: MIT */
/*
 * One vsock stream connection between a guest socket and a host Unix
 * socket: a state machine driven by guest packets, host socket events and
 * rx buffers offered to it. It owns its Unix-socket fd and its buffer, but
 * never the table it lives in: every entry point returns a verdict, and
 * the caller (the device, vsock_dev.c) acts on it: keep the connection,
 * close it quietly, or close it and owe the guest an RST. Packets for the
 * guest are written only into the rx chain the caller hands over
 * (conn_fill_rx). Nothing here calls the device; the device includes this
 * file, never the other way round.
 */
#ifndef VSOCKD_VSOCK_CONN_H
#define VSOCKD_VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "loop.h"
#include "virtqueue.h"
#include "vsock_packet.h"

enum conn_state {
	CONN_CONNECTING,	/* REQUEST owed or sent, waiting for RESPONSE */
	CONN_ESTABLISHED,
	CONN_CLOSING,		/* guest shut both ways: flush, then RST */
	CONN_DEAD,		/* host side closed; the owner frees it */
};

/*
 * What the owner must do after an entry point returned. CONN_KEEP: nothing.
 * CONN_CLOSE: remove the connection (conn_release), tell the guest nothing
 * (it already knows: it sent an RST, or the RST went out in the packet
 * just filled). CONN_RESET: remove it and send the guest an RST for
 * (local_port, peer_port) if the guest knows the connection
 * (conn_guest_knows).
 */
enum conn_verdict {
	CONN_KEEP = 0,
	CONN_CLOSE,
	CONN_RESET,
};

/* Control packets a connection owes the guest (bit set). */
enum {
	PEND_REQUEST = 1u << 0,
	PEND_RESPONSE = 1u << 1,
	PEND_SHUTDOWN = 1u << 2,
	PEND_CREDIT_UPDATE = 1u << 3,
	PEND_CREDIT_REQUEST = 1u << 4,
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
	uint64_t kicks, interrupts;	/* notifications each way */
};

/*
 * What every connection of one device shares: owned by the device,
 * read (and counted into) by its connections.
 */
struct conn_ctx {
	struct loop *loop;
	uint64_t guest_cid;
	uint32_t buf_alloc;		/* each connection's buffer */
	int connect_timeout_ms;		/* guest answer / guest close */
	struct log_ratelimit guest_rl;	/* log lines the guest causes */
	struct vsock_stats stats;
};

struct vsock_conn {
	struct conn_ctx *cx;
	struct ev_handler ev;	/* the host side's Unix socket */
	struct vsock_conn *prev, *next;	/* the owner's list */
	enum conn_state state;
	bool host_initiated;
	uint32_t local_port;	/* host side port */
	uint32_t peer_port;	/* guest side port */
	int64_t deadline_ms;	/* 0: none; then conn_timeout() */

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
	uint32_t peer_shutdown;	/* VIRTIO_VSOCK_SHUTDOWN_* received */
	bool readable;		/* socket may have data; epoll IN is off */
	bool eof;		/* socket read returned 0 */
	bool hup;		/* socket hung up: no more epoll */
	bool wr_shut;		/* we shut the socket's write side */
};

/*
 * A connection for the non-blocking fd, in CONN_CONNECTING, linked
 * nowhere; host socket events go to on_event (the owner's handler, which
 * calls conn_host_event). NULL: out of memory (the caller keeps fd).
 */
struct vsock_conn *conn_new(struct conn_ctx *cx, int fd, ev_fn on_event);
/*
 * Closes the host side (idempotent) and marks c CONN_DEAD. Only the owner
 * calls it, when it removes c; conn_free() afterwards, once no event of
 * the current batch can name c any more.
 */
void conn_release(struct vsock_conn *c);
void conn_free(struct vsock_conn *c);
/* Whether the guest has heard of c (an RST for it means something). */
bool conn_guest_knows(const struct vsock_conn *c);

/*
 * A host client asked for guest_port from local_port: c owes the guest a
 * REQUEST and waits for its answer until now + connect_timeout_ms.
 */
enum conn_verdict conn_host_connect(struct vsock_conn *c, uint32_t local_port,
				    uint32_t guest_port);
/* The guest's REQUEST h reached a host listener: c owes a RESPONSE. */
enum conn_verdict conn_guest_accepted(struct vsock_conn *c,
				      const struct vsock_hdr *h);
/* A guest packet h for c; its payload is in chain after the header. */
enum conn_verdict conn_guest_packet(struct vsock_conn *c,
				    const struct vsock_hdr *h,
				    const struct vq_chain *chain);
/* epoll events on the host socket. */
enum conn_verdict conn_host_event(struct vsock_conn *c, uint32_t events);
/* c's deadline passed. */
enum conn_verdict conn_timeout(struct vsock_conn *c);

/* Whether c owes the guest a packet now. */
bool conn_wants_rx(const struct vsock_conn *c);
/*
 * Writes c's next packet (header, payload read from the host socket) into
 * the device-writable part of chain; *used: bytes written, 0 when c had
 * nothing after all (its socket ran dry). The packet in the chain is to
 * be delivered whatever the verdict.
 */
enum conn_verdict conn_fill_rx(struct vsock_conn *c,
			       const struct vq_chain *chain, uint32_t *used);

/* Credit the guest gives us now (host -> guest bytes). */
uint32_t conn_peer_credit(const struct vsock_conn *c);
/*
 * Bytes the guest will send us before it waits for a credit update:
 * min(our buffer, the guest's own buf_alloc).
 */
uint32_t conn_guest_window(const struct vsock_conn *c);

#endif

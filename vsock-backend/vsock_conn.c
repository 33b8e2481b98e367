// SPDX-License-Identifier: MIT
/*
 * One vsock stream connection between a guest socket and a host Unix
 * socket: the state machine driven by guest packets, the credit
 * accounting of both directions, and the Unix socket's I/O. Every entry
 * point returns a verdict for the owner (see vsock_conn.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "vsock_conn.h"

#include "log.h"

struct vsock_conn *conn_new(struct conn_ctx *cx, int fd, ev_fn on_event)
{
	struct vsock_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->buf_cap = cx->buf_alloc;
	c->cx = cx;
	c->state = CONN_CONNECTING;
	ev_init(&c->ev, fd, on_event);
	return c;
}

uint32_t conn_peer_credit(const struct vsock_conn *c)
{
	/* u32 arithmetic: the counters wrap, their difference does not. */
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 :
						c->peer_buf_alloc - in_flight;
}

bool conn_guest_knows(const struct vsock_conn *c)
{
	return c->state != CONN_DEAD &&
	       !(c->state == CONN_CONNECTING && (c->pend & PEND_REQUEST));
}

void conn_release(struct vsock_conn *c)
{
	if (c->ev.fd >= 0) {
		ev_del(c->cx->loop, &c->ev);
		if (close(c->ev.fd) != 0)
			log_warn("close(fd %d): %s", c->ev.fd, strerror(errno));
		c->ev.fd = -1;
	}
	c->state = CONN_DEAD;
}

void conn_free(struct vsock_conn *c)
{
	free(c->buf);
	free(c);
}

static bool has_output(const struct vsock_conn *c)
{
	return c->ok_off < c->ok_len || c->buf_len > 0;
}

/* Arms epoll for what c can use now. */
static enum conn_verdict update_events(struct vsock_conn *c)
{
	uint32_t ev = 0;

	if (c->state == CONN_DEAD || c->hup)
		return CONN_KEEP;
	switch (c->state) {
	case CONN_CONNECTING:
		ev = 0;	/* hang-ups and errors are always reported */
		break;
	case CONN_ESTABLISHED:
		/*
		 * Without credit, poll only until data shows up once: that
		 * is when a CREDIT_REQUEST is worth sending.
		 */
		if (!c->eof && !c->readable &&
		    (conn_peer_credit(c) > 0 || !c->credit_requested) &&
		    !(c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_RCV))
			ev |= EPOLLIN;
		/* fallthrough */
	case CONN_CLOSING:
		if (has_output(c))
			ev |= EPOLLOUT;
		break;
	case CONN_DEAD:
		return CONN_KEEP;
	}
	return ev_set(c->cx->loop, &c->ev, ev) != 0 ? CONN_RESET : CONN_KEEP;
}

uint32_t conn_guest_window(const struct vsock_conn *c)
{
	return c->peer_buf_alloc < c->buf_cap ? c->peer_buf_alloc : c->buf_cap;
}

/*
 * Asks for a CREDIT_UPDATE once the guest believes less than half of its
 * window is free. The window is the smaller of our buffer and the guest's
 * own buf_alloc: Linux since 6.12.68 (virtio_transport_get_credit() capped
 * to the local buf_alloc) never keeps more than its own receive buffer in
 * flight, whatever we offer, so with a bigger --tx-buffer-size waiting for
 * half of *our* buffer would never send the update it waits for. libkrun
 * fixed the same stall the same way.
 */
static void maybe_credit_update(struct vsock_conn *c)
{
	uint32_t believed_used = c->rx_cnt - c->fwd_cnt_sent;

	if (c->fwd_cnt == c->fwd_cnt_sent)
		return;
	if (believed_used >= conn_guest_window(c) / 2)
		c->pend |= PEND_CREDIT_UPDATE;
}

/* Whether both directions are finished, so that an RST ends it cleanly. */
static bool all_done(const struct vsock_conn *c)
{
	if (has_output(c))
		return false;
	if (c->state == CONN_CLOSING)
		return true;
	return (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND) && c->eof &&
	       !(c->pend & PEND_SHUTDOWN);
}

/* Writes buffered guest data to the socket. */
static enum conn_verdict conn_write(struct vsock_conn *c)
{
	while (has_output(c)) {
		struct iovec iov[2];
		struct msghdr msg = { .msg_iov = iov };
		bool ok_part = c->ok_off < c->ok_len;
		ssize_t n;

		if (ok_part) {
			iov[0].iov_base = c->ok_line + c->ok_off;
			iov[0].iov_len = c->ok_len - c->ok_off;
			msg.msg_iovlen = 1;
		} else {
			uint32_t first = c->buf_cap - c->buf_head;

			if (first > c->buf_len)
				first = c->buf_len;
			iov[0].iov_base = c->buf + c->buf_head;
			iov[0].iov_len = first;
			iov[1].iov_base = c->buf;
			iov[1].iov_len = c->buf_len - first;
			msg.msg_iovlen = iov[1].iov_len ? 2 : 1;
		}
		n = sendmsg(c->ev.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			log_rl(&c->cx->guest_rl, LOG_INFO,
			       "conn %u <-> %u: host side write: %s; resetting",
				 c->local_port, c->peer_port, strerror(errno));
			return CONN_RESET;
		}
		if (ok_part) {
			c->ok_off += (uint8_t)n;
			continue;
		}
		c->buf_head = (uint32_t)((c->buf_head + (size_t)n) % c->buf_cap);
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
		c->cx->stats.bytes_to_host += (uint64_t)n;
	}
	maybe_credit_update(c);
	if (!has_output(c) && (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND) &&
	    !c->wr_shut && !c->hup) {
		/* The guest will send no more: pass the EOF on. */
		if (shutdown(c->ev.fd, SHUT_WR) != 0 && errno != ENOTCONN)
			log_dbg("shutdown(SHUT_WR): %s", strerror(errno));
		c->wr_shut = true;
	}
	return all_done(c) ? CONN_RESET : CONN_KEEP;
}

enum conn_verdict conn_host_event(struct vsock_conn *c, uint32_t events)
{
	enum conn_verdict v;

	switch (c->state) {
	case CONN_DEAD:
		return CONN_KEEP;
	case CONN_CONNECTING:
		log_rl(&c->cx->guest_rl, LOG_INFO,
		       "host client for guest port %u went away before the "
			 "guest answered", c->peer_port);
		return CONN_RESET;
	case CONN_ESTABLISHED:
	case CONN_CLOSING:
		break;
	}
	if (events & EPOLLERR) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->ev.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		log_rl(&c->cx->guest_rl, LOG_INFO,
		       "conn %u <-> %u: host side error: %s; resetting",
			 c->local_port, c->peer_port, strerror(err));
		return CONN_RESET;
	}
	if (events & EPOLLHUP) {
		/*
		 * The client closed both ways. Level-triggered HUP would fire
		 * forever: stop polling, drain what it left, then finish.
		 */
		c->hup = true;
		c->readable = true;
		ev_del(c->cx->loop, &c->ev);
	}
	if (events & EPOLLIN)
		c->readable = true;
	if (events & (EPOLLOUT | EPOLLHUP)) {
		v = conn_write(c);
		if (v != CONN_KEEP)
			return v;
	}
	return update_events(c);
}

enum conn_verdict conn_host_connect(struct vsock_conn *c, uint32_t local_port,
				    uint32_t guest_port)
{
	c->host_initiated = true;
	c->local_port = local_port;
	c->peer_port = guest_port;
	c->state = CONN_CONNECTING;
	c->pend |= PEND_REQUEST;
	c->deadline_ms = now_ms() + c->cx->connect_timeout_ms;
	log_dbg("host client -> guest port %u (host port %u)", guest_port,
		c->local_port);
	return update_events(c);
}

static void take_credit(struct vsock_conn *c, const struct vsock_hdr *h)
{
	uint32_t before = conn_peer_credit(c);

	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (before == 0 && conn_peer_credit(c) > 0)
		c->credit_requested = false;
}

enum conn_verdict conn_guest_accepted(struct vsock_conn *c,
				      const struct vsock_hdr *h)
{
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->state = CONN_ESTABLISHED;
	c->pend |= PEND_RESPONSE;
	take_credit(c, h);
	return update_events(c);
}

static enum conn_verdict guest_rw(struct vsock_conn *c, const struct vsock_hdr *h,
		     const struct vq_chain *chain)
{
	uint32_t tail, first;

	if (c->state != CONN_ESTABLISHED ||
	    (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND)) {
		log_rl(&c->cx->guest_rl, LOG_INFO,
		       "conn %u <-> %u: data after shutdown; resetting",
			 c->local_port, c->peer_port);
		return CONN_RESET;
	}
	/* An empty RW only carries credit, already taken: nothing to store. */
	if (!h->len)
		return CONN_KEEP;
	if (!c->buf) {
		/* Lazily: memory is live connections x buffered data. */
		c->buf = malloc(c->buf_cap);
		if (!c->buf) {
			log_err("conn %u <-> %u: out of memory for its buffer; "
				"resetting", c->local_port, c->peer_port);
			return CONN_RESET;
		}
	}
	if (h->len > c->buf_cap - c->buf_len) {
		log_rl(&c->cx->guest_rl, LOG_WARN,
		       "conn %u <-> %u: guest sent %u bytes with %u credit; "
			 "resetting", c->local_port, c->peer_port, h->len,
			 c->buf_cap - c->buf_len);
		return CONN_RESET;
	}
	tail = (uint32_t)(((size_t)c->buf_head + c->buf_len) % c->buf_cap);
	first = c->buf_cap - tail;
	if (first > h->len)
		first = h->len;
	vq_segs_read(chain->out, chain->nout, VSOCK_HDR_LEN, c->buf + tail,
		     first);
	vq_segs_read(chain->out, chain->nout, VSOCK_HDR_LEN + first, c->buf,
		     h->len - first);
	c->buf_len += h->len;
	c->rx_cnt += h->len;
	return conn_write(c);
}

enum conn_verdict conn_guest_packet(struct vsock_conn *c,
				    const struct vsock_hdr *h,
				    const struct vq_chain *chain)
{
	enum conn_verdict v;

	if (c->state == CONN_DEAD)
		return CONN_KEEP;
	take_credit(c, h);
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != CONN_CONNECTING || (c->pend & PEND_REQUEST))
			return CONN_RESET;
		c->state = CONN_ESTABLISHED;
		c->deadline_ms = 0;
		c->ok_len = (uint8_t)snprintf(c->ok_line, sizeof(c->ok_line),
					      "OK %u\n", c->local_port);
		log_dbg("conn %u <-> %u established", c->local_port,
			c->peer_port);
		v = conn_write(c);
		if (v != CONN_KEEP)
			return v;
		break;
	case VIRTIO_VSOCK_OP_RST:
		if (c->state == CONN_CONNECTING)
			log_rl(&c->cx->guest_rl, LOG_INFO,
			       "guest refused connection to port %u",
				 c->peer_port);
		return CONN_CLOSE;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (c->state == CONN_CONNECTING)
			return CONN_RESET;
		c->peer_shutdown |= h->flags &
				    (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
		if (c->peer_shutdown ==
		    (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)) {
			c->state = CONN_CLOSING;
			c->pend &= ~(uint32_t)PEND_CREDIT_UPDATE;
		}
		v = conn_write(c);
		if (v != CONN_KEEP)
			return v;
		break;
	case VIRTIO_VSOCK_OP_RW:
		v = guest_rw(c, h, chain);
		if (v != CONN_KEEP)
			return v;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pend |= PEND_CREDIT_UPDATE;
		break;
	default:
		/* REQUEST on a live connection, or an unknown op. */
		log_rl(&c->cx->guest_rl, LOG_INFO,
		       "conn %u <-> %u: unexpected %s (op %u); resetting",
			 c->local_port, c->peer_port, vsock_op_name(h->op),
			 h->op);
		return CONN_RESET;
	}
	return update_events(c);
}

static bool may_read(const struct vsock_conn *c)
{
	return c->state == CONN_ESTABLISHED && c->readable && !c->eof &&
	       !(c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_RCV);
}

bool conn_wants_rx(const struct vsock_conn *c)
{
	switch (c->state) {
	case CONN_DEAD:
		return false;
	case CONN_CONNECTING:
		return c->pend & PEND_REQUEST;
	case CONN_ESTABLISHED:
	case CONN_CLOSING:
		break;
	}
	if (c->pend)
		return true;
	if (!may_read(c))
		return false;
	return conn_peer_credit(c) > 0 || !c->credit_requested;
}

/* Reads host data into the chain after the header: >0 bytes, 0 EOF, -1. */
static ssize_t read_into(struct vsock_conn *c, const struct vq_chain *chain,
			 uint32_t max)
{
	struct iovec iov[VQ_MAX_SEGS];
	unsigned n = 0;
	size_t skip = VSOCK_HDR_LEN, left = max;
	ssize_t r;

	for (unsigned i = 0; i < chain->nin && left; i++) {
		size_t len = chain->in[i].len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		iov[n].iov_base = chain->in[i].base + skip;
		iov[n].iov_len = len - skip < left ? len - skip : left;
		left -= iov[n].iov_len;
		skip = 0;
		n++;
	}
	do {
		r = readv(c->ev.fd, iov, (int)n);
	} while (r < 0 && errno == EINTR);
	return r;
}

enum conn_verdict conn_fill_rx(struct vsock_conn *c,
			       const struct vq_chain *chain, uint32_t *used)
{
	struct conn_ctx *cx = c->cx;
	struct vsock_hdr h = {
		.src_cid = VMADDR_CID_HOST,
		.dst_cid = cx->guest_cid,
		.src_port = c->local_port,
		.dst_port = c->peer_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.buf_alloc = c->buf_cap,
		.fwd_cnt = c->fwd_cnt,
	};
	uint8_t raw[VSOCK_HDR_LEN];
	enum conn_verdict after = CONN_KEEP;

	*used = 0;
	if (c->pend & PEND_REQUEST) {
		h.op = VIRTIO_VSOCK_OP_REQUEST;
		c->pend &= ~(uint32_t)PEND_REQUEST;
	} else if (c->pend & PEND_RESPONSE) {
		h.op = VIRTIO_VSOCK_OP_RESPONSE;
		c->pend &= ~(uint32_t)PEND_RESPONSE;
	}
	if (h.op == 0 && may_read(c)) {
		uint32_t credit = conn_peer_credit(c);
		uint32_t room = chain->in_len - VSOCK_HDR_LEN;

		if (credit == 0) {
			h.op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
			c->credit_requested = true;
			cx->stats.credit_stalls++;
		} else if (room > 0) {
			uint32_t max = room < credit ? room : credit;
			ssize_t r;

			if (max > VSOCK_MAX_PKT_PAYLOAD)
				max = VSOCK_MAX_PKT_PAYLOAD;
			r = read_into(c, chain, max);
			if (r > 0) {
				h.op = VIRTIO_VSOCK_OP_RW;
				h.len = (uint32_t)r;
				c->tx_cnt += (uint32_t)r;
				cx->stats.bytes_to_guest += (uint64_t)r;
			} else if (r == 0) {
				c->eof = true;
				c->readable = false;
				c->pend |= PEND_SHUTDOWN;
				c->shutdown_to_send |= VIRTIO_VSOCK_SHUTDOWN_SEND;
				if (c->hup) {
					/* Nobody reads what the guest sends. */
					c->shutdown_to_send |= VIRTIO_VSOCK_SHUTDOWN_RCV;
					c->deadline_ms = now_ms() +
							 cx->connect_timeout_ms;
				}
			} else if (errno == EAGAIN) {
				c->readable = false;
			} else {
				log_rl(&cx->guest_rl, LOG_INFO,
				       "conn %u <-> %u: host side read: %s; "
					 "resetting", c->local_port,
					 c->peer_port, strerror(errno));
				/* The RST goes out in this packet. */
				h.op = VIRTIO_VSOCK_OP_RST;
				after = CONN_CLOSE;
			}
		}
	}
	if (h.op == 0 && (c->pend & PEND_SHUTDOWN)) {
		h.op = VIRTIO_VSOCK_OP_SHUTDOWN;
		h.flags = c->shutdown_to_send;
		c->pend &= ~(uint32_t)PEND_SHUTDOWN;
		/* Both ways finished: the RST after it ends the stream. */
		if (all_done(c))
			after = CONN_RESET;
	}
	if (h.op == 0 && (c->pend & PEND_CREDIT_UPDATE)) {
		h.op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
		cx->stats.credit_updates++;
	}
	if (h.op == 0 && (c->pend & PEND_CREDIT_REQUEST)) {
		h.op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
		c->pend &= ~(uint32_t)PEND_CREDIT_REQUEST;
	}
	if (h.op == 0)
		return update_events(c);
	/* Every packet carries fwd_cnt, so it is also a credit update. */
	c->fwd_cnt_sent = c->fwd_cnt;
	c->pend &= ~(uint32_t)PEND_CREDIT_UPDATE;
	vsock_hdr_encode(&h, raw);
	vq_segs_write(chain->in, chain->nin, 0, raw, sizeof(raw));
	log_dbg("host %s %u -> %u len %u flags %u", vsock_op_name(h.op),
		h.src_port, h.dst_port, h.len, h.flags);
	if (h.op == VIRTIO_VSOCK_OP_RST)
		cx->stats.rst_sent++;
	*used = VSOCK_HDR_LEN + h.len;
	return after != CONN_KEEP ? after : update_events(c);
}

enum conn_verdict conn_timeout(struct vsock_conn *c)
{
	if (c->state == CONN_CONNECTING)
		log_rl(&c->cx->guest_rl, LOG_INFO,
		       "guest did not answer a connection to port %u in "
			 "time; closing the host client", c->peer_port);
	else
		log_rl(&c->cx->guest_rl, LOG_INFO,
		       "conn %u <-> %u: guest did not finish closing; "
			 "resetting", c->local_port, c->peer_port);
	return CONN_RESET;
}

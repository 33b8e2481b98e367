// SPDX-License-Identifier: MIT
#include "vsock_dev.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

void vsock_dev_init(struct vsock_dev *d, struct loop *loop, uint64_t cid,
		    uint32_t buf_alloc, const char *uds_path)
{
	memset(d, 0, sizeof(*d));
	d->loop = loop;
	d->cx.loop = loop;
	d->cx.guest_cid = cid;
	d->cx.buf_alloc = buf_alloc;
	d->cx.connect_timeout_ms = 5000;
	d->uds_path = uds_path;
	d->max_conns = VSOCK_DEFAULT_MAX_CONNS;
	d->reconnect_timeout_ms = 5000;
	d->next_port = VSOCK_EPHEMERAL_FIRST;
	for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++)
		d->q[i].call_fd = -1;
}

uint64_t vsock_dev_guest_cid(const struct vsock_dev *d)
{
	return d->cx.guest_cid;
}

bool vsock_dev_running(const struct vsock_dev *d)
{
	return d->q[VSOCK_QUEUE_RX].started && d->q[VSOCK_QUEUE_TX].started;
}

static void link_conn(struct vsock_dev *d, struct vsock_conn *c)
{
	c->next = NULL;
	c->prev = d->tail;
	if (d->tail)
		d->tail->next = c;
	else
		d->head = c;
	d->tail = c;
	d->nconns++;
}

static void unlink_conn(struct vsock_dev *d, struct vsock_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		d->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		d->tail = c->prev;
	c->prev = c->next = NULL;
	d->nconns--;
}

static void queue_rst(struct vsock_dev *d, uint32_t local_port,
		      uint32_t peer_port);

/*
 * The one place a connection leaves the table: its host side is closed
 * now, its memory freed after the current event batch (an event later in
 * the batch may still name it). rst: owe the guest an RST if it knows c.
 */
static void remove_conn(struct vsock_dev *d, struct vsock_conn *c, bool rst)
{
	if (c->state == CONN_DEAD)
		return;
	log_dbg("conn %u <-> %u: closing%s", c->local_port, c->peer_port,
		rst ? " with RST" : "");
	if (rst && conn_guest_knows(c))
		queue_rst(d, c->local_port, c->peer_port);
	conn_release(c);
	unlink_conn(d, c);
	c->next = d->zombies;
	d->zombies = c;
	d->cx.stats.conns_closed++;
}

/* Acts on what a connection's state machine answered. true: c is gone. */
static bool apply(struct vsock_dev *d, struct vsock_conn *c,
		  enum conn_verdict v)
{
	switch (v) {
	case CONN_KEEP:
		return false;
	case CONN_CLOSE:
		remove_conn(d, c, false);
		return true;
	case CONN_RESET:
		remove_conn(d, c, true);
		return true;
	}
	return false;
}

static void conn_event(struct ev_handler *h, uint32_t events)
{
	struct vsock_conn *c = container_of(h, struct vsock_conn, ev);
	struct vsock_dev *d = container_of(c->cx, struct vsock_dev, cx);

	apply(d, c, conn_host_event(c, events));
}

static struct vsock_conn *find_conn(struct vsock_dev *d, uint32_t local_port,
				  uint32_t peer_port)
{
	for (struct vsock_conn *c = d->head; c; c = c->next)
		if (c->local_port == local_port && c->peer_port == peer_port)
			return c;
	return NULL;
}

bool vsock_dev_has_room(const struct vsock_dev *d, unsigned pending)
{
	return d->nconns < d->max_conns &&
	       pending < d->max_conns - d->nconns;
}

/* The one place a connection enters the table. */
static struct vsock_conn *adopt(struct vsock_dev *d, int fd)
{
	struct vsock_conn *c;

	if (d->nconns >= d->max_conns)
		return NULL;
	c = conn_new(&d->cx, fd, conn_event);
	if (c) {
		link_conn(d, c);
		d->cx.stats.conns_opened++;
	}
	return c;
}

int vsock_dev_host_connect(struct vsock_dev *d, int fd, uint32_t guest_port)
{
	struct vsock_conn *c;

	if (d->nconns >= d->max_conns) {
		d->cx.stats.refused_limit++;
		return -EBUSY;
	}
	c = adopt(d, fd);
	if (!c)
		return -ENOMEM;
	apply(d, c, conn_host_connect(c, vsock_dev_alloc_port(d), guest_port));
	return 0;
}

/* Guest REQUEST to host port P: connect <uds_path>_<P>. */
static void guest_request(struct vsock_dev *d, const struct vsock_hdr *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int fd, n;

	if (d->nconns >= d->max_conns) {
		d->cx.stats.refused_limit++;
		log_rl(&d->cx.guest_rl, LOG_WARN, "guest connect to host port %u: "
		       "connection limit (%u) reached; refusing", h->dst_port,
		       d->max_conns);
		queue_rst(d, h->dst_port, h->src_port);
		return;
	}
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", d->uds_path,
		     h->dst_port);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		log_rl(&d->cx.guest_rl, LOG_WARN, "guest connect to host port %u: "
		       "socket path too long", h->dst_port);
		queue_rst(d, h->dst_port, h->src_port);
		return;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_rl(&d->cx.guest_rl, LOG_ERROR, "socket: %s", strerror(errno));
		queue_rst(d, h->dst_port, h->src_port);
		return;
	}
	/* A Unix connect completes at once or fails (EAGAIN: backlog full). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		log_rl(&d->cx.guest_rl, LOG_INFO, "guest port %u -> host port %u: "
		       "%s: %s; refusing", h->src_port, h->dst_port,
		       sa.sun_path, strerror(errno));
		close(fd);
		queue_rst(d, h->dst_port, h->src_port);
		return;
	}
	c = adopt(d, fd);
	if (!c) {
		log_rl(&d->cx.guest_rl, LOG_ERROR, "out of memory for a connection");
		close(fd);
		queue_rst(d, h->dst_port, h->src_port);
		return;
	}
	log_dbg("guest port %u -> %s", h->src_port, sa.sun_path);
	apply(d, c, conn_guest_accepted(c, h));
}

static bool port_in_use(struct vsock_dev *d, uint32_t port)
{
	for (struct vsock_conn *c = d->head; c; c = c->next)
		if (c->local_port == port)
			return true;
	return false;
}

uint32_t vsock_dev_alloc_port(struct vsock_dev *d)
{
	/* At most nconns ports are taken, so this ends within nconns + 1. */
	for (;;) {
		uint32_t p = d->next_port;

		d->next_port = p == UINT32_MAX - 1 ? VSOCK_EPHEMERAL_FIRST :
						     p + 1;
		if (!port_in_use(d, p))
			return p;
	}
}

static void queue_rst(struct vsock_dev *d, uint32_t local_port,
		      uint32_t peer_port)
{
	struct vsock_rst *r;

	if (d->rst_count == VSOCK_RST_QUEUE) {
		log_rl(&d->cx.guest_rl, LOG_WARN, "RST queue full, dropping RST "
		       "%u -> %u", local_port,
			 peer_port);
		return;
	}
	r = &d->rst[(d->rst_first + d->rst_count) % VSOCK_RST_QUEUE];
	r->local_port = local_port;
	r->peer_port = peer_port;
	d->rst_count++;
}

static void notify(struct vsock_dev *d, unsigned qi)
{
	d->q[qi].need_notify = true;
}

static void raise_interrupts(struct vsock_dev *d)
{
	for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++) {
		struct vsock_queue *q = &d->q[i];
		uint64_t one = 1;

		if (!q->need_notify)
			continue;
		q->need_notify = false;
		if (q->call_fd < 0 || !vq_wants_interrupt(&q->vq)) {
			log_dbg("queue %u: no interrupt (call fd %d)", i,
				q->call_fd);
			continue;
		}
		d->cx.stats.interrupts++;
		if (write(q->call_fd, &one, sizeof(one)) != sizeof(one) &&
		    errno != EAGAIN)
			log_warn("queue %u: call eventfd: %s", i,
				 strerror(errno));
	}
}

/*
 * The next chain of q. When the ring is empty, the driver is asked to
 * kick for its next buffer (EVENT_IDX) and the ring looked at once more,
 * so a buffer added meanwhile is not left waiting for a kick that never
 * comes.
 */
static enum vq_pop_result pop(struct vsock_dev *d, struct vsock_queue *q,
			      struct vq_chain *chain)
{
	enum vq_pop_result r = vq_pop(&q->vq, d->mem, chain);

	if (r == VQ_EMPTY && vq_enable_notify(&q->vq))
		r = vq_pop(&q->vq, d->mem, chain);
	return r;
}

static void ring_broken(struct vsock_dev *d, unsigned qi)
{
	log_err("queue %u: guest published an invalid avail index or head; "
		"stopping the queue", qi);
	d->q[qi].started = false;
}

static void handle_packet(struct vsock_dev *d, const struct vsock_hdr *h,
			  const struct vq_chain *chain)
{
	struct vsock_conn *c;

	log_dbg("guest %s %u -> %u len %u flags %u buf_alloc %u fwd_cnt %u",
		vsock_op_name(h->op), h->src_port, h->dst_port, h->len,
		h->flags, h->buf_alloc, h->fwd_cnt);
	if (h->op == VIRTIO_VSOCK_OP_RST)
		d->cx.stats.rst_received++;
	if (h->src_cid != d->cx.guest_cid || h->dst_cid != VMADDR_CID_HOST) {
		/* Not addressed to us, or a spoofed source: nobody to answer. */
		d->cx.stats.bad_packets++;
		log_dbg("dropping packet cid %llu -> %llu",
			(unsigned long long)h->src_cid,
			(unsigned long long)h->dst_cid);
		return;
	}
	c = find_conn(d, h->dst_port, h->src_port);
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM) {
		d->cx.stats.bad_packets++;
		if (c)
			remove_conn(d, c, true);
		else if (h->op != VIRTIO_VSOCK_OP_RST)
			queue_rst(d, h->dst_port, h->src_port);
		return;
	}
	if (!c) {
		if (h->op == VIRTIO_VSOCK_OP_REQUEST) {
			guest_request(d, h);
			return;
		}
		d->cx.stats.unknown_conn++;
		if (h->op != VIRTIO_VSOCK_OP_RST)
			queue_rst(d, h->dst_port, h->src_port);
		return;
	}
	apply(d, c, conn_guest_packet(c, h, chain));
}

/*
 * A packet whose header names more payload than its descriptors hold (or
 * more than any packet may carry). Skipping it would leave a hole in the
 * stream: the connection it belongs to is reset instead (RST both ways),
 * and a packet for no connection gets an RST as any other would.
 */
static void bad_length(struct vsock_dev *d, const struct vsock_hdr *h,
		       const struct vq_chain *chain)
{
	struct vsock_conn *c;

	d->cx.stats.bad_packets++;
	log_rl(&d->cx.guest_rl, LOG_WARN, "tx: %s %u -> %u says %u payload bytes, "
	       "its descriptors hold %u; resetting", vsock_op_name(h->op),
	       h->src_port, h->dst_port, h->len,
	       chain->out_len - VSOCK_HDR_LEN);
	if (h->src_cid != d->cx.guest_cid || h->dst_cid != VMADDR_CID_HOST)
		return;
	c = find_conn(d, h->dst_port, h->src_port);
	if (c)
		remove_conn(d, c, true);
	else if (h->op != VIRTIO_VSOCK_OP_RST)
		queue_rst(d, h->dst_port, h->src_port);
}

void vsock_dev_process_tx(struct vsock_dev *d)
{
	struct vsock_queue *q = &d->q[VSOCK_QUEUE_TX];
	struct vq_chain chain;

	while (q->started) {
		struct vsock_hdr h;
		enum vq_pop_result r = pop(d, q, &chain);

		if (r == VQ_EMPTY)
			break;
		if (r == VQ_BAD_RING) {
			ring_broken(d, VSOCK_QUEUE_TX);
			break;
		}
		if (r == VQ_BAD_CHAIN) {
			d->cx.stats.bad_chains++;
			log_rl(&d->cx.guest_rl, LOG_WARN, "tx: malformed descriptor "
			       "chain (head %u) dropped", chain.head);
		} else {
			enum vsock_parse_result pr = vsock_parse_chain(&chain, &h);

			if (pr == VSOCK_PKT_OK)
				handle_packet(d, &h, &chain);
			else if (pr == VSOCK_PKT_BAD_LEN)
				bad_length(d, &h, &chain);
			else {
				d->cx.stats.bad_packets++;
				log_rl(&d->cx.guest_rl, LOG_WARN, "tx: packet "
				       "shorter than a header (%u bytes) dropped",
				       chain.out_len);
			}
		}
		vq_push(&q->vq, chain.head, 0);
		notify(d, VSOCK_QUEUE_TX);
	}
	vsock_dev_flush(d);
}

static void send_reset_event(struct vsock_dev *d)
{
	struct vsock_queue *q = &d->q[VSOCK_QUEUE_EVENT];
	struct vq_chain chain;
	/* Little-endian on the wire, as every virtio 1.x field. */
	struct virtio_vsock_event ev = {
		.id = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET),
	};
	enum vq_pop_result r;

	if (!d->reset_event_pending || !q->started)
		return;
	r = pop(d, q, &chain);
	if (r == VQ_EMPTY)
		return;
	if (r == VQ_BAD_RING) {
		ring_broken(d, VSOCK_QUEUE_EVENT);
		return;
	}
	if (r == VQ_CHAIN && chain.in_len >= sizeof(ev)) {
		vq_segs_write(chain.in, chain.nin, 0, &ev, sizeof(ev));
		vq_push(&q->vq, chain.head, sizeof(ev));
		d->reset_event_pending = false;
		log_info("sent TRANSPORT_RESET event to the guest");
	} else {
		vq_push(&q->vq, chain.head, 0);
	}
	notify(d, VSOCK_QUEUE_EVENT);
}

static struct vsock_conn *next_sender(struct vsock_dev *d)
{
	for (struct vsock_conn *c = d->head; c; c = c->next)
		if (conn_wants_rx(c))
			return c;
	return NULL;
}

static void fill_rst(struct vsock_dev *d, const struct vq_chain *chain)
{
	struct vsock_rst *r = &d->rst[d->rst_first];
	struct vsock_hdr h = {
		.src_cid = VMADDR_CID_HOST,
		.dst_cid = d->cx.guest_cid,
		.src_port = r->local_port,
		.dst_port = r->peer_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = VIRTIO_VSOCK_OP_RST,
		.buf_alloc = d->cx.buf_alloc,
	};
	uint8_t raw[VSOCK_HDR_LEN];

	vsock_hdr_encode(&h, raw);
	vq_segs_write(chain->in, chain->nin, 0, raw, sizeof(raw));
	d->rst_first = (d->rst_first + 1) % VSOCK_RST_QUEUE;
	d->rst_count--;
	d->cx.stats.rst_sent++;
}

void vsock_dev_flush(struct vsock_dev *d)
{
	struct vsock_queue *q = &d->q[VSOCK_QUEUE_RX];
	struct vq_chain chain;

	unsigned idle = 0;

	send_reset_event(d);
	/*
	 * A connection that had nothing after all (its socket ran dry) stops
	 * wanting rx, so idle rounds are bounded; the guard keeps it so.
	 */
	while (vsock_dev_running(d) && idle <= d->nconns + 1) {
		struct vsock_conn *c = NULL;
		enum vq_pop_result r;
		uint32_t used;

		if (d->rst_count == 0) {
			c = next_sender(d);
			if (!c)
				break;
		}
		r = pop(d, q, &chain);
		if (r == VQ_EMPTY)
			break;
		if (r == VQ_BAD_RING) {
			ring_broken(d, VSOCK_QUEUE_RX);
			break;
		}
		if (r == VQ_BAD_CHAIN || chain.in_len < VSOCK_HDR_LEN) {
			d->cx.stats.bad_chains++;
			log_rl(&d->cx.guest_rl, LOG_WARN, "rx: unusable buffer "
			       "(head %u) returned empty", chain.head);
			vq_push(&q->vq, chain.head, 0);
			notify(d, VSOCK_QUEUE_RX);
			continue;
		}
		if (!c) {
			fill_rst(d, &chain);
			used = VSOCK_HDR_LEN;
		} else {
			enum conn_verdict v = conn_fill_rx(c, &chain, &used);

			/* Round robin: the connection just served goes last. */
			if (!apply(d, c, v) && c != d->tail) {
				unlink_conn(d, c);
				link_conn(d, c);
			}
		}
		if (used == 0) {
			vq_unpop(&q->vq);
			idle++;
			continue;
		}
		idle = 0;
		vq_push(&q->vq, chain.head, used);
		notify(d, VSOCK_QUEUE_RX);
	}
	raise_interrupts(d);
}

static void process(struct vsock_dev *d, unsigned qi)
{
	if (qi == VSOCK_QUEUE_TX)
		vsock_dev_process_tx(d);
	else
		vsock_dev_flush(d);
}

void vsock_dev_kick(struct vsock_dev *d, unsigned qi)
{
	d->cx.stats.kicks++;
	process(d, qi);
}

static void drop_all_connections(struct vsock_dev *d)
{
	while (d->head)
		remove_conn(d, d->head, false);
	d->rst_first = d->rst_count = 0;
}

/*
 * The guest driver that knew our connections is gone (reset, or a new
 * guest behind a new front-end): close their host sides. RSTs would reach
 * nobody, and the RSTs still owed belong to the old driver too. Host
 * clients whose REQUEST the guest never saw keep waiting for the new one.
 */
static void drop_guest_connections(struct vsock_dev *d, const char *why)
{
	struct vsock_conn *c, *next;
	unsigned n = 0;

	for (c = d->head; c; c = next) {
		next = c->next;
		if (!conn_guest_knows(c))
			continue;
		remove_conn(d, c, false);
		n++;
	}
	d->rst_first = d->rst_count = 0;
	for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++)
		d->q[i].mark.valid = false;
	if (n)
		log_info("%s: closed %u connections", why, n);
}

static int ring_mark(const struct vsock_dev *d, const struct virtqueue *vq,
		     uint16_t last_avail, struct vsock_ring_mark *m)
{
	memset(m, 0, sizeof(*m));
	if (!d->mem || vq_uva_to_gpa(d->mem, vq->desc_uva, &m->desc_gpa) ||
	    vq_uva_to_gpa(d->mem, vq->avail_uva, &m->avail_gpa) ||
	    vq_uva_to_gpa(d->mem, vq->used_uva, &m->used_gpa))
		return -1;
	m->num = vq->num;
	m->last_avail = last_avail;
	m->valid = true;
	return 0;
}

void vsock_dev_set_memory(struct vsock_dev *d, const struct vq_memory *mem)
{
	d->mem = mem;
	for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++) {
		struct vsock_queue *q = &d->q[i];

		if (!q->started)
			continue;
		if (!mem || vq_map_rings(&q->vq, mem) != 0) {
			log_err("queue %u: rings not in the new memory table", i);
			q->started = false;
		}
	}
}

bool vsock_dev_queue_running(const struct vsock_dev *d, unsigned qi)
{
	return qi < VSOCK_NUM_QUEUES && d->q[qi].started;
}

void vsock_dev_set_call_fd(struct vsock_dev *d, unsigned qi, int call_fd)
{
	if (qi < VSOCK_NUM_QUEUES)
		d->q[qi].call_fd = call_fd;
}

/*
 * Pause and resume keep connections: QEMU stops every ring on `stop`
 * (SET_VRING_ENABLE 0, GET_VRING_BASE) and restarts it where it stopped
 * on `cont`, and the guest's sockets live on meanwhile. vhost-device-vsock
 * and Firecracker keep connections across a pause the same way. A driver
 * reset (guest reboot, driver reload) re-creates the rings from avail
 * index 0, usually elsewhere in memory: the guest's sockets are gone
 * (virtio_vsock_remove() resets them), so ours go too. A new front-end
 * that resumes the same rings at the same index is the same guest (a
 * reconnecting front-end); anything else is treated as a new guest, which
 * hears of it by a TRANSPORT_RESET event when we own the event queue
 * (virtio 1.2, 5.10.6.6 "Device Events": the driver then shuts down its
 * established connections).
 */
static void check_continuity(struct vsock_dev *d, unsigned qi)
{
	struct vsock_queue *q = &d->q[qi];
	struct vsock_ring_mark now;
	bool same;

	if (qi == VSOCK_QUEUE_EVENT)
		return;
	if (ring_mark(d, &q->vq, q->vq.last_avail, &now) != 0)
		now.valid = false;
	if (!q->mark.valid) {
		q->mark = now;
		return;
	}
	same = now.valid && now.num == q->mark.num &&
	       now.desc_gpa == q->mark.desc_gpa &&
	       now.avail_gpa == q->mark.avail_gpa &&
	       now.used_gpa == q->mark.used_gpa &&
	       now.last_avail == q->mark.last_avail;
	if (same) {
		if (d->nconns)
			log_info("queue %u resumed where it stopped (avail %u): "
				 "keeping %u connections", qi, now.last_avail,
				 d->nconns);
		q->mark = now;
		return;
	}
	log_info("queue %u restarted at avail %u (stopped at %u, ring %s): "
		 "the driver was reset", qi, now.last_avail, q->mark.last_avail,
		 now.desc_gpa == q->mark.desc_gpa ? "same" : "moved");
	if (d->detached_deadline_ms)
		d->reset_event_pending = true;
	drop_guest_connections(d, "driver reset");
	q->mark = now;
}

int vsock_dev_queue_start(struct vsock_dev *d, unsigned qi,
			  const struct vsock_ring_cfg *cfg, int call_fd)
{
	struct vsock_queue *q;

	if (qi >= VSOCK_NUM_QUEUES || !d->mem)
		return -EINVAL;
	q = &d->q[qi];
	memset(&q->vq, 0, sizeof(q->vq));
	q->vq.num = cfg->num;
	q->vq.desc_uva = cfg->desc_uva;
	q->vq.avail_uva = cfg->avail_uva;
	q->vq.used_uva = cfg->used_uva;
	if (vq_map_rings(&q->vq, d->mem) != 0) {
		log_err("queue %u: ring addresses outside the memory table "
			"(or bad size %u)", qi, cfg->num);
		return -EINVAL;
	}
	q->vq.last_avail = cfg->base;
	q->vq.used_idx = vq_used_idx_in_memory(&q->vq);
	q->vq.event_idx = cfg->event_idx;
	q->call_fd = call_fd;
	q->need_notify = false;
	check_continuity(d, qi);
	q->started = true;
	log_info("queue %u started (size %u, avail %u)", qi, cfg->num,
		 cfg->base);
	if (vsock_dev_running(d))
		d->detached_deadline_ms = 0;
	process(d, qi);
	return 0;
}

uint16_t vsock_dev_queue_stop(struct vsock_dev *d, unsigned qi)
{
	struct vsock_queue *q;

	if (qi >= VSOCK_NUM_QUEUES)
		return 0;
	q = &d->q[qi];
	if (!q->started)
		return q->vq.last_avail;
	q->started = false;
	if (qi != VSOCK_QUEUE_EVENT &&
	    ring_mark(d, &q->vq, q->vq.last_avail, &q->mark) != 0)
		q->mark.valid = false;
	log_info("queue %u stopped at avail %u (%u connections kept)", qi,
		 q->vq.last_avail, d->nconns);
	return q->vq.last_avail;
}

static void stop_all_queues(struct vsock_dev *d)
{
	for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++) {
		vsock_dev_queue_stop(d, i);
		memset(&d->q[i].vq, 0, sizeof(d->q[i].vq));
		d->q[i].call_fd = -1;
		d->q[i].need_notify = false;
	}
}

void vsock_dev_frontend_gone(struct vsock_dev *d)
{
	stop_all_queues(d);
	d->mem = NULL;
	if (d->reconnect_timeout_ms <= 0) {
		d->reset_event_pending = true;
		drop_guest_connections(d, "front-end gone");
		return;
	}
	d->detached_deadline_ms = now_ms() + d->reconnect_timeout_ms;
	if (d->nconns)
		log_info("keeping %u connections for %d ms for a front-end that "
			 "resumes the same rings", d->nconns,
			 d->reconnect_timeout_ms);
}

void vsock_dev_reset(struct vsock_dev *d)
{
	drop_all_connections(d);
	stop_all_queues(d);
	for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++)
		d->q[i].mark.valid = false;
	d->detached_deadline_ms = 0;
}

void vsock_dev_after_batch(struct vsock_dev *d)
{
	int64_t now = now_ms();
	struct vsock_conn *c, *next;

	if (d->detached_deadline_ms && d->detached_deadline_ms <= now) {
		d->detached_deadline_ms = 0;
		d->reset_event_pending = true;
		drop_guest_connections(d, "no front-end resumed the rings in time");
	}
	for (c = d->head; c; c = next) {
		next = c->next;
		if (c->deadline_ms && c->deadline_ms <= now) {
			c->deadline_ms = 0;
			apply(d, c, conn_timeout(c));
		}
	}
	vsock_dev_flush(d);
	while (d->zombies) {
		c = d->zombies;
		d->zombies = c->next;
		conn_free(c);
	}
}

int vsock_dev_format_stats(const struct vsock_dev *d, char *buf, size_t len,
			   const char *sep)
{
	const struct vsock_stats *s = &d->cx.stats;

	return snprintf(buf, len,
			"connections=%u%sconnections_opened=%llu%s"
			"connections_closed=%llu%srefused_limit=%llu%s"
			"rst_sent=%llu%srst_received=%llu%scredit_stalls=%llu%s"
			"credit_updates=%llu%sbytes_to_guest=%llu%s"
			"bytes_to_host=%llu%sbad_chains=%llu%sbad_packets=%llu%s"
			"unknown_connection=%llu%skicks=%llu%sinterrupts=%llu",
			d->nconns, sep, (unsigned long long)s->conns_opened, sep,
			(unsigned long long)s->conns_closed, sep,
			(unsigned long long)s->refused_limit, sep,
			(unsigned long long)s->rst_sent, sep,
			(unsigned long long)s->rst_received, sep,
			(unsigned long long)s->credit_stalls, sep,
			(unsigned long long)s->credit_updates, sep,
			(unsigned long long)s->bytes_to_guest, sep,
			(unsigned long long)s->bytes_to_host, sep,
			(unsigned long long)s->bad_chains, sep,
			(unsigned long long)s->bad_packets, sep,
			(unsigned long long)s->unknown_conn, sep,
			(unsigned long long)s->kicks, sep,
			(unsigned long long)s->interrupts);
}

int vsock_dev_next_timeout(struct vsock_dev *d)
{
	int64_t now = now_ms(), best = d->detached_deadline_ms ?
					      d->detached_deadline_ms : -1;

	for (struct vsock_conn *c = d->head; c; c = c->next) {
		if (!c->deadline_ms)
			continue;
		if (best < 0 || c->deadline_ms < best)
			best = c->deadline_ms;
	}
	if (best < 0)
		return -1;
	return best <= now ? 0 : (int)(best - now);
}

void vsock_dev_fini(struct vsock_dev *d)
{
	vsock_dev_reset(d);
	vsock_dev_after_batch(d);
}

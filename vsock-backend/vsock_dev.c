// SPDX-License-Identifier: MIT
#include "vsock_dev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

void vsock_dev_init(struct vsock_dev *d, struct loop *loop, uint64_t cid,
		    uint32_t buf_alloc, const char *uds_path)
{
	memset(d, 0, sizeof(*d));
	d->loop = loop;
	d->guest_cid = cid;
	d->buf_alloc = buf_alloc;
	d->uds_path = uds_path;
	d->connect_timeout_ms = 5000;
	d->next_port = VSOCK_EPHEMERAL_FIRST;
	for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++)
		d->q[i].call_fd = -1;
}

bool vsock_dev_running(const struct vsock_dev *d)
{
	return d->q[VSOCK_QUEUE_RX].started && d->q[VSOCK_QUEUE_TX].started;
}

void vsock_dev_link(struct vsock_dev *d, struct vsock_conn *c)
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

/* Called by conn_close(): the connection leaves the table now, memory later. */
void vsock_dev_bury(struct vsock_dev *d, struct vsock_conn *c)
{
	unlink_conn(d, c);
	c->next = d->zombies;
	d->zombies = c;
}

struct vsock_conn *vsock_dev_find(struct vsock_dev *d, uint32_t local_port,
				  uint32_t peer_port)
{
	for (struct vsock_conn *c = d->head; c; c = c->next)
		if (c->state != CONN_LINE && c->local_port == local_port &&
		    c->peer_port == peer_port)
			return c;
	return NULL;
}

static bool port_in_use(struct vsock_dev *d, uint32_t port)
{
	for (struct vsock_conn *c = d->head; c; c = c->next)
		if (c->state != CONN_LINE && c->local_port == port)
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

void vsock_dev_queue_rst(struct vsock_dev *d, uint32_t local_port,
			 uint32_t peer_port)
{
	struct vsock_rst *r;

	if (d->rst_count == VSOCK_RST_QUEUE) {
		log_warn("RST queue full, dropping RST %u -> %u", local_port,
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
		if (write(q->call_fd, &one, sizeof(one)) != sizeof(one) &&
		    errno != EAGAIN)
			log_warn("queue %u: call eventfd: %s", i,
				 strerror(errno));
	}
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
	if (h->src_cid != d->guest_cid || h->dst_cid != VSOCK_HOST_CID) {
		/* Not addressed to us, or a spoofed source: nobody to answer. */
		d->stats.bad_packets++;
		log_dbg("dropping packet cid %llu -> %llu",
			(unsigned long long)h->src_cid,
			(unsigned long long)h->dst_cid);
		return;
	}
	c = vsock_dev_find(d, h->dst_port, h->src_port);
	if (h->type != VSOCK_TYPE_STREAM) {
		d->stats.bad_packets++;
		if (c)
			conn_close(c, true);
		else if (h->op != VSOCK_OP_RST)
			vsock_dev_queue_rst(d, h->dst_port, h->src_port);
		return;
	}
	if (!c) {
		if (h->op == VSOCK_OP_REQUEST) {
			conn_guest_request(d, h);
			return;
		}
		d->stats.unknown_conn++;
		if (h->op != VSOCK_OP_RST)
			vsock_dev_queue_rst(d, h->dst_port, h->src_port);
		return;
	}
	conn_guest_packet(c, h, chain);
}

void vsock_dev_process_tx(struct vsock_dev *d)
{
	struct vsock_queue *q = &d->q[VSOCK_QUEUE_TX];
	struct vq_chain chain;

	while (q->started) {
		struct vsock_hdr h;
		enum vq_pop_result r = vq_pop(&q->vq, d->mem, &chain);

		if (r == VQ_EMPTY)
			break;
		if (r == VQ_BAD_RING) {
			ring_broken(d, VSOCK_QUEUE_TX);
			break;
		}
		if (r == VQ_BAD_CHAIN) {
			d->stats.bad_chains++;
			log_warn("tx: malformed descriptor chain (head %u) dropped",
				 chain.head);
		} else if (vsock_parse_chain(&chain, &h) != VSOCK_PKT_OK) {
			d->stats.bad_packets++;
			log_warn("tx: malformed packet (%u bytes) dropped",
				 chain.out_len);
		} else {
			handle_packet(d, &h, &chain);
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
	uint8_t ev[4] = { VSOCK_EVENT_TRANSPORT_RESET, 0, 0, 0 };
	enum vq_pop_result r;

	if (!d->reset_event_pending || !q->started)
		return;
	r = vq_pop(&q->vq, d->mem, &chain);
	if (r == VQ_EMPTY)
		return;
	if (r == VQ_BAD_RING) {
		ring_broken(d, VSOCK_QUEUE_EVENT);
		return;
	}
	if (r == VQ_CHAIN && chain.in_len >= sizeof(ev)) {
		vq_segs_write(chain.in, chain.nin, 0, ev, sizeof(ev));
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
		.src_cid = VSOCK_HOST_CID,
		.dst_cid = d->guest_cid,
		.src_port = r->local_port,
		.dst_port = r->peer_port,
		.type = VSOCK_TYPE_STREAM,
		.op = VSOCK_OP_RST,
		.buf_alloc = d->buf_alloc,
	};
	uint8_t raw[VSOCK_HDR_LEN];

	vsock_hdr_encode(&h, raw);
	vq_segs_write(chain->in, chain->nin, 0, raw, sizeof(raw));
	d->rst_first = (d->rst_first + 1) % VSOCK_RST_QUEUE;
	d->rst_count--;
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
		r = vq_pop(&q->vq, d->mem, &chain);
		if (r == VQ_EMPTY)
			break;
		if (r == VQ_BAD_RING) {
			ring_broken(d, VSOCK_QUEUE_RX);
			break;
		}
		if (r == VQ_BAD_CHAIN || chain.in_len < VSOCK_HDR_LEN) {
			d->stats.bad_chains++;
			log_warn("rx: unusable buffer (head %u) returned empty",
				 chain.head);
			vq_push(&q->vq, chain.head, 0);
			notify(d, VSOCK_QUEUE_RX);
			continue;
		}
		if (!c) {
			fill_rst(d, &chain);
			used = VSOCK_HDR_LEN;
		} else {
			used = conn_fill_rx(c, &chain);
			/* Round robin: the connection just served goes last. */
			if (c->state != CONN_DEAD && c != d->tail) {
				unlink_conn(d, c);
				vsock_dev_link(d, c);
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

void vsock_dev_kick(struct vsock_dev *d, unsigned qi)
{
	if (qi == VSOCK_QUEUE_TX)
		vsock_dev_process_tx(d);
	else
		vsock_dev_flush(d);
}

static void drop_all_connections(struct vsock_dev *d)
{
	while (d->head)
		conn_close(d->head, false);
	d->rst_first = d->rst_count = 0;
}

void vsock_dev_queue_started(struct vsock_dev *d, unsigned qi)
{
	d->q[qi].started = true;
	log_info("queue %u started (size %u)", qi, d->q[qi].vq.num);
	vsock_dev_kick(d, qi);
}

void vsock_dev_queue_stopped(struct vsock_dev *d, unsigned qi)
{
	bool was_running = vsock_dev_running(d);

	d->q[qi].started = false;
	log_info("queue %u stopped", qi);
	/*
	 * The guest driver is being reset or the VM stopped: its sockets
	 * are gone, so the host sides go too, without RSTs nobody reads.
	 */
	if (was_running && qi != VSOCK_QUEUE_EVENT && d->nconns) {
		log_info("device stopped: closing %u connections", d->nconns);
		drop_all_connections(d);
	}
}

void vsock_dev_reset(struct vsock_dev *d)
{
	drop_all_connections(d);
	for (unsigned i = 0; i < VSOCK_NUM_QUEUES; i++) {
		memset(&d->q[i].vq, 0, sizeof(d->q[i].vq));
		d->q[i].started = false;
		d->q[i].need_notify = false;
	}
}

void vsock_dev_after_batch(struct vsock_dev *d)
{
	int64_t now = now_ms();
	struct vsock_conn *c, *next;

	for (c = d->head; c; c = next) {
		next = c->next;
		if (c->deadline_ms && c->deadline_ms <= now) {
			c->deadline_ms = 0;
			conn_timeout(c);
		}
	}
	vsock_dev_flush(d);
	while (d->zombies) {
		c = d->zombies;
		d->zombies = c->next;
		free(c->buf);
		free(c);
	}
}

int vsock_dev_next_timeout(struct vsock_dev *d)
{
	int64_t now = now_ms(), best = -1;

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

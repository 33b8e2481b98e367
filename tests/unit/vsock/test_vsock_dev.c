// SPDX-License-Identifier: MIT
/*
 * Unit tests of the vsock device and connection state machine: a synthetic
 * guest drives the tx/rx rings in malloc'd memory; host sides are real Unix
 * sockets (socketpairs and listeners in a temporary folder). No QEMU.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "guestmem.h"
#include "host_uds.h"
#include "log.h"
#include "loop.h"
#include "vsock_dev.h"
#include "vsock_packet.h"

#define UNUSED __attribute__((unused))
#define CID 3
#define BUF 4096
#define RXBUF (VSOCK_HDR_LEN + 4096)

static struct guestmem g;
static struct loop lp;
static struct vsock_dev d;
static char dir[64], uds[96];
static uint64_t rx_gpa[GM_QSIZE];

static void after(void *ctx)
{
	vsock_dev_after_batch(ctx);
}

static int next_to(void *ctx)
{
	return vsock_dev_next_timeout(ctx);
}

static struct vsock_ring_cfg ring_cfg(unsigned qi, uint16_t base)
{
	struct vsock_ring_cfg cfg = {
		.num = g.q[qi].vq.num,
		.desc_uva = g.q[qi].vq.desc_uva,
		.avail_uva = g.q[qi].vq.avail_uva,
		.used_uva = g.q[qi].vq.used_uva,
		.base = base,
	};
	return cfg;
}

static void start_queue(unsigned qi, uint16_t base)
{
	struct vsock_ring_cfg cfg = ring_cfg(qi, base);

	assert_int_equal(vsock_dev_queue_start(&d, qi, &cfg, -1), 0);
}

static int setup(void **state UNUSED)
{
	gm_init(&g);
	assert_int_equal(loop_init(&lp), 0);
	snprintf(dir, sizeof(dir), "/tmp/vsock-unit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(uds, sizeof(uds), "%s/h.sock", dir);
	vsock_dev_init(&d, &lp, CID, BUF, uds);
	lp.ctx = &d;
	lp.after_batch = after;
	lp.next_timeout = next_to;
	vsock_dev_set_memory(&d, &g.table);
	for (unsigned i = 0; i < 2; i++)
		start_queue(i, 0);
	return 0;
}

static int teardown(void **state UNUSED)
{
	char cmd[128];

	vsock_dev_fini(&d);
	loop_fini(&lp);
	gm_fini(&g);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void post_rx(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = gm_alloc(&g, RXBUF);
		struct gm_seg s = { a, RXBUF, 1 };
		uint16_t head = gm_add_chain(&g, VSOCK_QUEUE_RX, &s, 1);

		rx_gpa[head] = a;
	}
	vsock_dev_kick(&d, VSOCK_QUEUE_RX);
}

static struct vsock_hdr mkhdr(uint16_t op, uint32_t src, uint32_t dst)
{
	struct vsock_hdr h = {
		.src_cid = CID, .dst_cid = VMADDR_CID_HOST,
		.src_port = src, .dst_port = dst,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = 65536, .fwd_cnt = 0,
	};
	return h;
}

/* The guest sends h (+ payload) as a header and a payload descriptor. */
static void guest_send(const struct vsock_hdr *h, const void *payload,
		       uint32_t len)
{
	uint64_t a = gm_alloc(&g, VSOCK_HDR_LEN), b = gm_alloc(&g, len + 1);
	struct gm_seg s[2] = { { a, VSOCK_HDR_LEN, 0 }, { b, len, 0 } };
	uint32_t id, used;

	vsock_hdr_encode(h, gm_ptr(&g, a));
	if (len)
		memcpy(gm_ptr(&g, b), payload, len);
	gm_add_chain(&g, VSOCK_QUEUE_TX, s, len ? 2 : 1);
	vsock_dev_kick(&d, VSOCK_QUEUE_TX);
	/* Every tx buffer comes back, whatever was in it. */
	assert_int_equal(gm_used(&g, VSOCK_QUEUE_TX, &id, &used), 1);
}

static void guest_op(uint16_t op, uint32_t src, uint32_t dst)
{
	struct vsock_hdr h = mkhdr(op, src, dst);

	guest_send(&h, NULL, 0);
}

/* Next packet the device put in the rx ring; 0 if none. */
static int rx_next(struct vsock_hdr *h, uint8_t *payload)
{
	uint32_t id, len;
	uint8_t *p;

	if (!gm_used(&g, VSOCK_QUEUE_RX, &id, &len))
		return 0;
	assert_true(id < GM_QSIZE);
	assert_true(len >= VSOCK_HDR_LEN);
	p = gm_ptr(&g, rx_gpa[id]);
	vsock_hdr_decode(p, h);
	assert_int_equal(h->len, len - VSOCK_HDR_LEN);
	assert_int_equal(h->src_cid, VMADDR_CID_HOST);
	assert_int_equal(h->dst_cid, CID);
	if (payload)
		memcpy(payload, p + VSOCK_HDR_LEN, h->len);
	return 1;
}

static void expect_rx(uint16_t op, uint32_t src, uint32_t dst)
{
	struct vsock_hdr h;

	assert_int_equal(rx_next(&h, NULL), 1);
	assert_string_equal(vsock_op_name(h.op), vsock_op_name(op));
	assert_int_equal(h.src_port, src);
	assert_int_equal(h.dst_port, dst);
}

static void expect_no_rx(void)
{
	struct vsock_hdr h;

	assert_int_equal(rx_next(&h, NULL), 0);
}

/* Runs the event loop until it has nothing more to do right now. */
static void pump(void)
{
	for (int i = 0; i < 10; i++)
		loop_run_once(&lp, 0);
}

static int listen_port(uint32_t port)
{
	char path[128];

	snprintf(path, sizeof(path), "%s_%u", uds, port);
	return uds_listen(path, 8, 0600);
}

static int accept_one(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* Guest connects to host port 1234; returns the host end. */
static int guest_connects(uint32_t guest_port)
{
	int lfd = listen_port(1234), fd;

	assert_true(lfd >= 0);
	guest_op(VIRTIO_VSOCK_OP_REQUEST, guest_port, 1234);
	expect_rx(VIRTIO_VSOCK_OP_RESPONSE, 1234, guest_port);
	fd = accept_one(lfd);
	close(lfd);
	return fd;
}

/* Host client connects to guest port; returns client end and host port. */
static int host_connects(uint32_t guest_port, uint32_t *host_port)
{
	struct vsock_hdr h;
	char line[32] = { 0 };
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(vsock_dev_host_connect(&d, sv[0], guest_port), 0);
	vsock_dev_flush(&d);
	assert_int_equal(rx_next(&h, NULL), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, guest_port);
	assert_int_equal(h.buf_alloc, BUF);
	*host_port = h.src_port;
	guest_op(VIRTIO_VSOCK_OP_RESPONSE, guest_port, h.src_port);
	assert_true(read(sv[1], line, sizeof(line) - 1) > 0);
	snprintf((char[32]){ 0 }, 32, "%s", line);
	{
		char want[32];

		snprintf(want, sizeof(want), "OK %u\n", *host_port);
		assert_string_equal(line, want);
	}
	return sv[1];
}

static void guest_request_forwarded_to_host_socket(void **state UNUSED)
{
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	uint8_t buf[64];
	int fd;

	post_rx(8);
	fd = guest_connects(5000);
	h.len = 5;
	guest_send(&h, "hello", 5);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(write(fd, "world!", 6), 6);
	pump();
	assert_int_equal(rx_next(&h, buf), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.len, 6);
	assert_int_equal(h.fwd_cnt, 5);	/* our fwd_cnt travels with data */
	assert_memory_equal(buf, "world!", 6);
	/* Counters for operators. */
	assert_int_equal(d.cx.stats.bytes_to_host, 5);
	assert_int_equal(d.cx.stats.bytes_to_guest, 6);
	assert_int_equal(d.cx.stats.conns_opened, 1);
	{
		char line[512];

		vsock_dev_format_stats(&d, line, sizeof(line), " ");
		assert_non_null(strstr(line, "connections=1 "));
		assert_non_null(strstr(line, " bytes_to_host=5 "));
	}
	close(fd);
}

static void guest_request_without_listener_gets_rst(void **state UNUSED)
{
	post_rx(4);
	guest_op(VIRTIO_VSOCK_OP_REQUEST, 5000, 4321);
	expect_rx(VIRTIO_VSOCK_OP_RST, 4321, 5000);
	assert_int_equal(d.nconns, 0);
}

static void host_connect_handshake(void **state UNUSED)
{
	uint32_t port;
	int fd;

	post_rx(4);
	fd = host_connects(1219, &port);
	assert_true(port >= VSOCK_EPHEMERAL_FIRST);
	assert_int_equal(d.nconns, 1);
	close(fd);
}

static void host_connect_refused_by_guest(void **state UNUSED)
{
	struct vsock_hdr h;
	char b;
	int sv[2];

	post_rx(4);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(vsock_dev_host_connect(&d, sv[0], 99), 0);
	vsock_dev_flush(&d);
	assert_int_equal(rx_next(&h, NULL), 1);
	guest_op(VIRTIO_VSOCK_OP_RST, 99, h.src_port);
	pump();
	assert_int_equal(read(sv[1], &b, 1), 0);	/* closed, no OK */
	expect_no_rx();	/* no RST answers an RST */
	close(sv[1]);
}

static void host_connect_times_out(void **state UNUSED)
{
	struct vsock_hdr h;
	char b;
	int sv[2];

	post_rx(4);
	d.cx.connect_timeout_ms = 30;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(vsock_dev_host_connect(&d, sv[0], 99), 0);
	vsock_dev_flush(&d);
	assert_int_equal(rx_next(&h, NULL), 1);
	for (int i = 0; i < 20 && d.nconns; i++)
		loop_run_once(&lp, 50);
	assert_int_equal(d.nconns, 0);
	assert_int_equal(read(sv[1], &b, 1), 0);
	/* The guest saw a REQUEST, so it is told the attempt is over. */
	expect_rx(VIRTIO_VSOCK_OP_RST, h.src_port, 99);
	close(sv[1]);
}

static void unknown_connection_gets_rst(void **state UNUSED)
{
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 7, 8);

	post_rx(4);
	h.len = 3;
	guest_send(&h, "abc", 3);
	expect_rx(VIRTIO_VSOCK_OP_RST, 8, 7);
	guest_op(VIRTIO_VSOCK_OP_RST, 7, 8);
	guest_op(VIRTIO_VSOCK_OP_RESPONSE, 9, 10);
	expect_rx(VIRTIO_VSOCK_OP_RST, 10, 9);
	expect_no_rx();
	assert_int_equal(d.cx.stats.unknown_conn, 3);
	assert_int_equal(d.cx.stats.rst_sent, 2);
	assert_int_equal(d.cx.stats.rst_received, 1);
}

static void wrong_cid_dropped(void **state UNUSED)
{
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_REQUEST, 5000, 1234);

	post_rx(4);
	h.src_cid = 42;
	guest_send(&h, NULL, 0);
	h.src_cid = CID;
	h.dst_cid = 7;
	guest_send(&h, NULL, 0);
	expect_no_rx();
	assert_int_equal(d.cx.stats.bad_packets, 2);
}

static void non_stream_type_gets_rst(void **state UNUSED)
{
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_REQUEST, 5000, 1234);

	post_rx(4);
	h.type = 2;	/* SEQPACKET: not offered */
	guest_send(&h, NULL, 0);
	expect_rx(VIRTIO_VSOCK_OP_RST, 1234, 5000);
}

static void unknown_op_resets_connection(void **state UNUSED)
{
	char b;
	int fd;

	post_rx(4);
	fd = guest_connects(5000);
	guest_op(42, 5000, 1234);
	expect_rx(VIRTIO_VSOCK_OP_RST, 1234, 5000);
	assert_int_equal(d.nconns, 0);
	assert_int_equal(read(fd, &b, 1), 0);
	close(fd);
}

static void request_on_live_connection_resets_it(void **state UNUSED)
{
	int fd;

	post_rx(4);
	fd = guest_connects(5000);
	guest_op(VIRTIO_VSOCK_OP_REQUEST, 5000, 1234);
	expect_rx(VIRTIO_VSOCK_OP_RST, 1234, 5000);
	assert_int_equal(d.nconns, 0);
	close(fd);
}

static void too_short_header_dropped(void **state UNUSED)
{
	uint64_t a = gm_alloc(&g, 64);
	struct gm_seg s = { a, 20, 0 };
	uint32_t id, len;

	post_rx(4);
	gm_add_chain(&g, VSOCK_QUEUE_TX, &s, 1);
	vsock_dev_kick(&d, VSOCK_QUEUE_TX);
	assert_int_equal(gm_used(&g, VSOCK_QUEUE_TX, &id, &len), 1);
	assert_int_equal(d.cx.stats.bad_packets, 1);
	expect_no_rx();
}

/* Item 6 of issue 12: no connection: an RST, as for any other packet. */
static void length_beyond_chain_gets_rst(void **state UNUSED)
{
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	uint64_t a = gm_alloc(&g, 128);
	struct gm_seg s = { a, VSOCK_HDR_LEN + 10, 0 };
	uint32_t id, len;

	post_rx(4);
	h.len = 11;	/* one more than the chain holds */
	vsock_hdr_encode(&h, gm_ptr(&g, a));
	gm_add_chain(&g, VSOCK_QUEUE_TX, &s, 1);
	vsock_dev_kick(&d, VSOCK_QUEUE_TX);
	assert_int_equal(gm_used(&g, VSOCK_QUEUE_TX, &id, &len), 1);
	expect_rx(VIRTIO_VSOCK_OP_RST, 1234, 5000);
	h.len = 0xffffffff;	/* and an absurd one */
	vsock_hdr_encode(&h, gm_ptr(&g, a));
	gm_add_chain(&g, VSOCK_QUEUE_TX, &s, 1);
	vsock_dev_kick(&d, VSOCK_QUEUE_TX);
	assert_int_equal(gm_used(&g, VSOCK_QUEUE_TX, &id, &len), 1);
	expect_rx(VIRTIO_VSOCK_OP_RST, 1234, 5000);
	assert_int_equal(d.cx.stats.bad_packets, 2);
	expect_no_rx();
}

/*
 * Item 6 of issue 12: on a live connection a RW packet whose length
 * disagrees with its descriptors resets the connection instead of being
 * skipped (which left a hole in the stream).
 */
static void bad_length_on_live_connection_resets_it(void **state UNUSED)
{
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	uint64_t a = gm_alloc(&g, 128);
	struct gm_seg s = { a, VSOCK_HDR_LEN + 10, 0 };
	uint32_t id, len;
	char buf[16];
	int fd;

	post_rx(4);
	fd = guest_connects(5000);
	h.len = 3;
	guest_send(&h, "abc", 3);
	h.len = 20;	/* the descriptors hold 10 */
	vsock_hdr_encode(&h, gm_ptr(&g, a));
	gm_add_chain(&g, VSOCK_QUEUE_TX, &s, 1);
	vsock_dev_kick(&d, VSOCK_QUEUE_TX);
	assert_int_equal(gm_used(&g, VSOCK_QUEUE_TX, &id, &len), 1);
	expect_rx(VIRTIO_VSOCK_OP_RST, 1234, 5000);
	assert_int_equal(d.nconns, 0);
	/* The host got what came before, then the end: no hole. */
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);
}

static void malformed_chain_keeps_serving(void **state UNUSED)
{
	uint32_t id, len;

	post_rx(4);
	gm_desc(&g, VSOCK_QUEUE_TX, 0, gm_alloc(&g, 64), 64,
		VRING_DESC_F_NEXT, 0);	/* loop */
	gm_publish(&g, VSOCK_QUEUE_TX, 0);
	g.q[VSOCK_QUEUE_TX].next_desc = 1;
	vsock_dev_kick(&d, VSOCK_QUEUE_TX);
	assert_int_equal(gm_used(&g, VSOCK_QUEUE_TX, &id, &len), 1);
	assert_int_equal(d.cx.stats.bad_chains, 1);
	/* and the next, good packet is handled */
	guest_op(VIRTIO_VSOCK_OP_REQUEST, 5000, 4321);
	expect_rx(VIRTIO_VSOCK_OP_RST, 4321, 5000);
}

static void zero_credit_sends_no_data(void **state UNUSED)
{
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_REQUEST, 5000, 1234);
	uint8_t big[1000], buf[4096];
	uint32_t total = 0;
	int lfd = listen_port(1234), fd;

	post_rx(8);
	h.buf_alloc = 0;	/* the guest has no room at all */
	guest_send(&h, NULL, 0);
	expect_rx(VIRTIO_VSOCK_OP_RESPONSE, 1234, 5000);
	fd = accept_one(lfd);
	memset(big, 'x', sizeof(big));
	assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	pump();
	/* No data; the device asks once for credit. */
	expect_rx(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 1234, 5000);
	expect_no_rx();
	assert_int_equal(d.cx.stats.credit_stalls, 1);
	/* The guest grants 100 bytes: exactly 100 come. */
	h = mkhdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 5000, 1234);
	h.buf_alloc = 100;
	guest_send(&h, NULL, 0);
	pump();
	while (rx_next(&h, buf))
		if (h.op == VIRTIO_VSOCK_OP_RW)
			total += h.len;
	assert_int_equal(total, 100);
	/* It consumed them: 100 more. */
	h = mkhdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 5000, 1234);
	h.buf_alloc = 100;
	h.fwd_cnt = 100;
	guest_send(&h, NULL, 0);
	pump();
	total = 0;
	while (rx_next(&h, buf))
		if (h.op == VIRTIO_VSOCK_OP_RW)
			total += h.len;
	assert_int_equal(total, 100);
	close(fd);
	close(lfd);
}

static void credit_counters_wrap(void **state UNUSED)
{
	struct vsock_conn c = { 0 };

	c.peer_buf_alloc = 100;
	c.peer_fwd_cnt = 0xfffffff0u;
	c.tx_cnt = 5;	/* wrapped: 21 bytes in flight */
	assert_int_equal(conn_peer_credit(&c), 79);
	c.tx_cnt = 0xfffffff0u + 100;
	assert_int_equal(conn_peer_credit(&c), 0);
	c.tx_cnt = 0xfffffff0u + 101;	/* the guest shrank its buffer */
	assert_int_equal(conn_peer_credit(&c), 0);
	c.peer_buf_alloc = 0;
	c.tx_cnt = c.peer_fwd_cnt;
	assert_int_equal(conn_peer_credit(&c), 0);
}

static void data_after_wrapped_counters(void **state UNUSED)
{
	struct vsock_hdr h;
	uint8_t buf[64];
	int fd;

	post_rx(8);
	fd = guest_connects(5000);
	/* Force both directions' counters just below 2^32. */
	d.head->tx_cnt = 0xfffffffcu;
	d.head->peer_fwd_cnt = 0xfffffffcu;
	d.head->rx_cnt = d.head->fwd_cnt = d.head->fwd_cnt_sent = 0xfffffffeu;
	assert_int_equal(write(fd, "0123456789", 10), 10);
	pump();
	assert_int_equal(rx_next(&h, buf), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.len, 10);
	assert_int_equal(d.head->tx_cnt, 6);
	h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	h.len = 4;
	guest_send(&h, "abcd", 4);
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	assert_int_equal(d.head->fwd_cnt, 2);
	close(fd);
}

static void guest_exceeding_credit_is_reset(void **state UNUSED)
{
	static uint8_t big[BUF + 1];
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	int fd;

	post_rx(4);
	fd = guest_connects(5000);
	h.len = sizeof(big);
	guest_send(&h, big, sizeof(big));
	expect_rx(VIRTIO_VSOCK_OP_RST, 1234, 5000);
	assert_int_equal(d.nconns, 0);
	close(fd);
}

static void credit_request_answered(void **state UNUSED)
{
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	uint8_t buf[64];
	int fd;

	post_rx(4);
	fd = guest_connects(5000);
	h.len = 7;
	guest_send(&h, "1234567", 7);
	assert_int_equal(read(fd, buf, sizeof(buf)), 7);
	guest_op(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 5000, 1234);
	assert_int_equal(rx_next(&h, NULL), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(h.fwd_cnt, 7);
	assert_int_equal(h.buf_alloc, BUF);
	close(fd);
}

static void credit_update_when_guest_runs_low(void **state UNUSED)
{
	static uint8_t data[3000];
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	static uint8_t buf[4096];
	int fd;

	post_rx(4);
	fd = guest_connects(5000);
	h.len = sizeof(data);	/* more than half our buffer */
	guest_send(&h, data, sizeof(data));
	assert_int_equal(read(fd, buf, sizeof(buf)), (ssize_t)sizeof(data));
	assert_int_equal(rx_next(&h, NULL), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(h.fwd_cnt, sizeof(data));
	close(fd);
}

/*
 * Item 3 of issue 12: a guest whose own buffer is smaller than ours stops
 * after its own buf_alloc in flight (Linux >= 6.12.68). The update must
 * come after half of *that* window, not half of ours.
 */
static void credit_update_uses_smaller_window(void **state UNUSED)
{
	static uint8_t data[600], buf[4096];
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_REQUEST, 5000, 1234);
	int lfd = listen_port(1234), fd;

	post_rx(4);
	h.buf_alloc = 1024;	/* the guest's buffer: a quarter of ours */
	guest_send(&h, NULL, 0);
	expect_rx(VIRTIO_VSOCK_OP_RESPONSE, 1234, 5000);
	fd = accept_one(lfd);
	assert_int_equal(conn_guest_window(d.head), 1024);
	h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	h.buf_alloc = 1024;
	h.len = sizeof(data);	/* > 512, half its window; < half of ours */
	guest_send(&h, data, sizeof(data));
	assert_int_equal(read(fd, buf, sizeof(buf)), (ssize_t)sizeof(data));
	assert_int_equal(rx_next(&h, NULL), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(h.fwd_cnt, sizeof(data));
	/* Below half of the window: no update yet. */
	h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	h.buf_alloc = 1024;
	h.len = 100;
	guest_send(&h, data, 100);
	assert_int_equal(read(fd, buf, sizeof(buf)), 100);
	expect_no_rx();
	close(fd);
	close(lfd);
}

static void guest_data_buffered_while_host_is_slow(void **state UNUSED)
{
	static uint8_t chunk[1000];
	static uint8_t buf[1 << 20];
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	size_t total = 0;
	int sz = 4096, fd;
	ssize_t n;

	post_rx(8);
	fd = guest_connects(5000);
	/* Shrink the host socket's buffers so that the back-end must hold data. */
	assert_int_equal(setsockopt(d.head->ev.fd, SOL_SOCKET, SO_SNDBUF, &sz,
				    sizeof(sz)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)), 0);
	h.len = sizeof(chunk);
	for (int i = 0; i < 50 && d.nconns == 1; i++) {
		h.fwd_cnt = 0;
		/* Respect credit, as a correct guest does. */
		if (d.head->buf_cap - d.head->buf_len < sizeof(chunk))
			break;
		guest_send(&h, chunk, sizeof(chunk));
	}
	assert_int_equal(d.nconns, 1);
	assert_true(d.head->buf_len > 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	for (int i = 0; i < 100; i++) {
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			total += (size_t)n;
		pump();
		if (d.head->buf_len == 0 && n < 0)
			break;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	assert_int_equal(total, d.head->rx_cnt);
	assert_int_equal(d.head->fwd_cnt, d.head->rx_cnt);
	close(fd);
}

static void guest_shutdown_then_host_close(void **state UNUSED)
{
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_SHUTDOWN, 5000, 1234);
	char b;
	int fd;

	post_rx(8);
	fd = guest_connects(5000);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
	guest_send(&h, NULL, 0);
	assert_int_equal(read(fd, &b, 1), 0);	/* EOF passed on */
	close(fd);
	pump();
	assert_int_equal(rx_next(&h, NULL), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_true(h.flags & VIRTIO_VSOCK_SHUTDOWN_SEND);
	expect_rx(VIRTIO_VSOCK_OP_RST, 1234, 5000);	/* both done */
	assert_int_equal(d.nconns, 0);
}

static void guest_full_shutdown_flushes_then_resets(void **state UNUSED)
{
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	char buf[16];
	int fd;

	post_rx(8);
	fd = guest_connects(5000);
	h.len = 3;
	guest_send(&h, "bye", 3);
	h = mkhdr(VIRTIO_VSOCK_OP_SHUTDOWN, 5000, 1234);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND | VIRTIO_VSOCK_SHUTDOWN_RCV;
	guest_send(&h, NULL, 0);
	expect_rx(VIRTIO_VSOCK_OP_RST, 1234, 5000);
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);
}

static void host_client_vanishing_resets_guest(void **state UNUSED)
{
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	uint32_t port;
	int fd;

	post_rx(8);
	fd = host_connects(80, &port);
	close(fd);
	pump();
	/* The host side is gone both ways: SHUTDOWN of both directions... */
	assert_int_equal(rx_next(&h, NULL), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND | VIRTIO_VSOCK_SHUTDOWN_RCV);
	/* ...and data the guest still sends ends it with an RST. */
	h = mkhdr(VIRTIO_VSOCK_OP_RW, 80, port);
	h.len = 4;
	guest_send(&h, "late", 4);
	expect_rx(VIRTIO_VSOCK_OP_RST, port, 80);
	assert_int_equal(d.nconns, 0);
}

static void requests_wait_for_rx_buffers(void **state UNUSED)
{
	int lfd = listen_port(1234), fd;

	guest_op(VIRTIO_VSOCK_OP_REQUEST, 5000, 1234);
	expect_no_rx();
	post_rx(1);
	expect_rx(VIRTIO_VSOCK_OP_RESPONSE, 1234, 5000);
	fd = accept_one(lfd);
	close(fd);
	close(lfd);
}

static void host_ports_are_unique(void **state UNUSED)
{
	struct vsock_hdr h;
	uint32_t seen[12];
	int sv[12][2];

	for (int i = 0; i < 12; i++) {

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK,
					    0, sv[i]), 0);
		assert_int_equal(vsock_dev_host_connect(&d, sv[i][0], 1219), 0);
	}
	post_rx(12);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(rx_next(&h, NULL), 1);
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
		seen[i] = h.src_port;
		for (int j = 0; j < i; j++)
			assert_int_not_equal(seen[i], seen[j]);
	}
	/* Wrap the allocator onto a live port: it is skipped. */
	d.next_port = seen[3];
	assert_int_not_equal(vsock_dev_alloc_port(&d), seen[3]);
	for (int i = 0; i < 12; i++)
		close(sv[i][1]);
}

/*
 * Item 1 of issue 12: QEMU's `stop` stops every ring (SET_VRING_ENABLE 0,
 * GET_VRING_BASE) and `cont` restarts them where they stopped. The guest's
 * sockets live on, so ours do: data flows again after the restart.
 */
static void pause_resume_keeps_connections(void **state UNUSED)
{
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	uint16_t rx_base, tx_base;
	uint8_t buf[64];
	int fd;

	post_rx(4);
	fd = guest_connects(5000);
	rx_base = vsock_dev_queue_stop(&d, VSOCK_QUEUE_RX);
	tx_base = vsock_dev_queue_stop(&d, VSOCK_QUEUE_TX);
	assert_int_equal(tx_base, 1);	/* the REQUEST */
	/* While paused the host writes; nothing reaches the rings. */
	assert_int_equal(write(fd, "ping", 4), 4);
	pump();
	assert_int_equal(d.nconns, 1);
	start_queue(VSOCK_QUEUE_RX, rx_base);
	start_queue(VSOCK_QUEUE_TX, tx_base);
	pump();
	assert_int_equal(d.nconns, 1);
	assert_int_equal(rx_next(&h, buf), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(buf, "ping", 4);
	h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	h.len = 4;
	guest_send(&h, "pong", 4);
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "pong", 4);
	close(fd);
}

/*
 * A ring that restarts anywhere but where it stopped belongs to a reset
 * driver (reboot, driver reload): the guest's sockets are gone, so the
 * host sides are closed, without RSTs nobody would read.
 */
static void driver_reset_closes_host_sides(void **state UNUSED)
{
	char b;
	int fd;

	post_rx(4);
	fd = guest_connects(5000);
	vsock_dev_queue_stop(&d, VSOCK_QUEUE_RX);
	vsock_dev_queue_stop(&d, VSOCK_QUEUE_TX);
	start_queue(VSOCK_QUEUE_RX, 0);
	pump();
	assert_int_equal(d.nconns, 0);
	assert_int_equal(read(fd, &b, 1), 0);
	close(fd);
	expect_no_rx();	/* no RST for a socket the guest no longer has */
}

/*
 * The front-end went away: connections wait reconnect_timeout_ms for one
 * that resumes the same rings (same guest), then their host sides close.
 */
static void frontend_gone_keeps_then_drops(void **state UNUSED)
{
	uint16_t rx_base, tx_base;
	char b;
	int fd;

	post_rx(4);
	fd = guest_connects(5000);
	rx_base = d.q[VSOCK_QUEUE_RX].vq.last_avail;
	tx_base = d.q[VSOCK_QUEUE_TX].vq.last_avail;
	d.reconnect_timeout_ms = 60000;
	vsock_dev_frontend_gone(&d);
	pump();
	assert_int_equal(d.nconns, 1);
	/* The same guest comes back: same rings, same indices. */
	vsock_dev_set_memory(&d, &g.table);
	start_queue(VSOCK_QUEUE_RX, rx_base);
	start_queue(VSOCK_QUEUE_TX, tx_base);
	assert_int_equal(d.nconns, 1);
	assert_false(d.reset_event_pending);
	/* Gone again, and nobody comes back in time. */
	d.reconnect_timeout_ms = 30;
	vsock_dev_frontend_gone(&d);
	for (int i = 0; i < 20 && d.nconns; i++)
		loop_run_once(&lp, 50);
	assert_int_equal(d.nconns, 0);
	assert_true(d.reset_event_pending);
	assert_int_equal(read(fd, &b, 1), 0);
	close(fd);
}

/* A new guest behind a new front-end: old connections go at once. */
static void new_frontend_new_rings_drops(void **state UNUSED)
{
	char b;
	int fd;

	post_rx(4);
	fd = guest_connects(5000);
	d.reconnect_timeout_ms = 60000;
	vsock_dev_frontend_gone(&d);
	vsock_dev_set_memory(&d, &g.table);
	start_queue(VSOCK_QUEUE_RX, 0);
	assert_int_equal(d.nconns, 0);
	assert_true(d.reset_event_pending);
	assert_int_equal(read(fd, &b, 1), 0);
	close(fd);
}

/* Item 2 of issue 12: at most max_conns connections, beyond: refused. */
static void connection_limit_refuses_cleanly(void **state UNUSED)
{
	int lfd = listen_port(1234), fds[2], sv[2];

	post_rx(8);
	d.max_conns = 2;
	guest_op(VIRTIO_VSOCK_OP_REQUEST, 5000, 1234);
	expect_rx(VIRTIO_VSOCK_OP_RESPONSE, 1234, 5000);
	guest_op(VIRTIO_VSOCK_OP_REQUEST, 5001, 1234);
	expect_rx(VIRTIO_VSOCK_OP_RESPONSE, 1234, 5001);
	fds[0] = accept_one(lfd);
	fds[1] = accept_one(lfd);
	/* The third guest connection gets an RST, the host nothing. */
	guest_op(VIRTIO_VSOCK_OP_REQUEST, 5002, 1234);
	expect_rx(VIRTIO_VSOCK_OP_RST, 1234, 5002);
	assert_int_equal(d.nconns, 2);
	assert_int_equal(d.cx.stats.refused_limit, 1);
	/* A host client too: the caller keeps (and closes) its fd. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(vsock_dev_host_connect(&d, sv[0], 80), -EBUSY);
	assert_false(vsock_dev_has_room(&d, 0));
	close(sv[0]);
	close(sv[1]);
	/* One goes away: room again. */
	close(fds[0]);
	pump();
	while (d.nconns == 2 && rx_next(&(struct vsock_hdr){ 0 }, NULL))
		pump();
	guest_op(VIRTIO_VSOCK_OP_RST, 5000, 1234);
	assert_true(vsock_dev_has_room(&d, 0));
	assert_false(vsock_dev_has_room(&d, 1));
	close(fds[1]);
	close(lfd);
}

/* Memory is live connections x buffered data: no buffer until needed. */
static void buffer_allocated_only_when_data_waits(void **state UNUSED)
{
	struct vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1234);
	uint8_t buf[8];
	int fd;

	post_rx(4);
	fd = guest_connects(5000);
	assert_null(d.head->buf);
	h.len = 3;
	guest_send(&h, "abc", 3);
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	close(fd);
}

static void transport_reset_event_after_reconnect(void **state UNUSED)
{
	uint64_t a = gm_alloc(&g, 8);
	struct gm_seg s = { a, 8, 1 };
	uint32_t id, len, ev;

	memset(gm_ptr(&g, a), 0xff, 8);
	d.reset_event_pending = true;	/* set when a front-end went away */
	gm_add_chain(&g, VSOCK_QUEUE_EVENT, &s, 1);
	start_queue(VSOCK_QUEUE_EVENT, 0);
	assert_int_equal(gm_used(&g, VSOCK_QUEUE_EVENT, &id, &len), 1);
	assert_int_equal(len, 4);
	memcpy(&ev, gm_ptr(&g, a), 4);
	assert_int_equal(ev, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	assert_false(d.reset_event_pending);
	/* Only once. */
	gm_add_chain(&g, VSOCK_QUEUE_EVENT, &s, 1);
	vsock_dev_kick(&d, VSOCK_QUEUE_EVENT);
	assert_int_equal(gm_used(&g, VSOCK_QUEUE_EVENT, &id, &len), 0);
}

static void connect_line_parsing(void **state UNUSED)
{
	uint32_t port = 0;

	assert_int_equal(host_uds_parse_connect("CONNECT 219", &port), 0);
	assert_int_equal(port, 219);
	assert_int_equal(host_uds_parse_connect("CONNECT 4294967295", &port), 0);
	assert_int_equal(port, 4294967295u);
	assert_int_equal(host_uds_parse_connect("CONNECT 4294967296", &port), -1);
	assert_int_equal(host_uds_parse_connect("CONNECT ", &port), -1);
	assert_int_equal(host_uds_parse_connect("CONNECT -1", &port), -1);
	assert_int_equal(host_uds_parse_connect("CONNECT 12x", &port), -1);
	assert_int_equal(host_uds_parse_connect("", &port), -1);
	/* Issue 10 item 4: any case, spaces as the other implementations. */
	assert_int_equal(host_uds_parse_connect("connect 12", &port), 0);
	assert_int_equal(port, 12);
	assert_int_equal(host_uds_parse_connect("Connect 13", &port), 0);
	assert_int_equal(port, 13);
	assert_int_equal(host_uds_parse_connect("CONNECT  14", &port), 0);
	assert_int_equal(port, 14);
	assert_int_equal(host_uds_parse_connect("  connect\t15  \r", &port), 0);
	assert_int_equal(port, 15);
	/* Still malformed. */
	assert_int_equal(host_uds_parse_connect("connect", &port), -1);
	assert_int_equal(host_uds_parse_connect("connect   ", &port), -1);
	assert_int_equal(host_uds_parse_connect("connect12", &port), -1);
	assert_int_equal(host_uds_parse_connect("connects 12", &port), -1);
	assert_int_equal(host_uds_parse_connect("CONNECT 12 13", &port), -1);
	assert_int_equal(host_uds_parse_connect("CONNECT +12", &port), -1);
	assert_int_equal(host_uds_parse_connect("CONNECT 0x10", &port), -1);
	assert_int_equal(host_uds_parse_connect("HELLO 12", &port), -1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(guest_request_forwarded_to_host_socket),
		T(guest_request_without_listener_gets_rst),
		T(host_connect_handshake),
		T(host_connect_refused_by_guest),
		T(host_connect_times_out),
		T(unknown_connection_gets_rst),
		T(wrong_cid_dropped),
		T(non_stream_type_gets_rst),
		T(unknown_op_resets_connection),
		T(request_on_live_connection_resets_it),
		T(too_short_header_dropped),
		T(length_beyond_chain_gets_rst),
		T(bad_length_on_live_connection_resets_it),
		T(malformed_chain_keeps_serving),
		T(zero_credit_sends_no_data),
		T(credit_counters_wrap),
		T(data_after_wrapped_counters),
		T(guest_exceeding_credit_is_reset),
		T(credit_request_answered),
		T(credit_update_when_guest_runs_low),
		T(credit_update_uses_smaller_window),
		T(guest_data_buffered_while_host_is_slow),
		T(guest_shutdown_then_host_close),
		T(guest_full_shutdown_flushes_then_resets),
		T(host_client_vanishing_resets_guest),
		T(requests_wait_for_rx_buffers),
		T(host_ports_are_unique),
		T(pause_resume_keeps_connections),
		T(driver_reset_closes_host_sides),
		T(frontend_gone_keeps_then_drops),
		T(new_frontend_new_rings_drops),
		T(connection_limit_refuses_cleanly),
		T(buffer_allocated_only_when_data_waits),
		T(transport_reset_event_after_reconnect),
		T(connect_line_parsing),
	};

	log_set_level(LOG_SILENT);
	return cmocka_run_group_tests_name("vsock_dev", tests, NULL, NULL);
}

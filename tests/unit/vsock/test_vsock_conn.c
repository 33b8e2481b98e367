// SPDX-License-Identifier: MIT
/*
 * The connection state machine on its own (vsock_conn.h), without a
 * device: guest packets, host socket events and rx buffers go in, a
 * verdict (keep, close, reset) and the packet written into the rx buffer
 * come out. The host side is one end of a socketpair.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "vsock_conn.h"

#define UNUSED __attribute__((unused))
#define BUF 4096
#define GUEST_CID 3
#define GUEST_PORT 1219
#define HOST_PORT 0x40000000u

static struct loop loop;
static struct conn_ctx cx;
static struct vsock_conn *c;
static int peer;		/* the host client's end */

static void no_event(struct ev_handler *h UNUSED, uint32_t events UNUSED)
{
}

static int setup(void **state UNUSED)
{
	int sv[2];

	log_set_level(LOG_SILENT);
	assert_int_equal(loop_init(&loop), 0);
	memset(&cx, 0, sizeof(cx));
	cx.loop = &loop;
	cx.guest_cid = GUEST_CID;
	cx.buf_alloc = BUF;
	cx.connect_timeout_ms = 1000;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	peer = sv[1];
	c = conn_new(&cx, sv[0], no_event);
	assert_non_null(c);
	return 0;
}

static int teardown(void **state UNUSED)
{
	conn_release(c);
	conn_free(c);
	close(peer);
	loop_fini(&loop);
	return 0;
}

/* A guest packet: header (and payload) in one device-readable segment. */
static uint8_t pkt[VSOCK_HDR_LEN + BUF * 2];
static struct vq_chain chain;

static const struct vsock_hdr *guest_pkt(uint16_t op, uint32_t flags,
					 const void *data, uint32_t len)
{
	static struct vsock_hdr h;

	h = (struct vsock_hdr){
		.src_cid = GUEST_CID, .dst_cid = VMADDR_CID_HOST,
		.src_port = GUEST_PORT, .dst_port = HOST_PORT,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = op, .flags = flags,
		.len = len, .buf_alloc = 65536,
	};
	vsock_hdr_encode(&h, pkt);
	if (len)
		memcpy(pkt + VSOCK_HDR_LEN, data, len);
	memset(&chain, 0, sizeof(chain));
	chain.out[0] = (struct vq_seg){ pkt, VSOCK_HDR_LEN + len };
	chain.nout = 1;
	chain.out_len = VSOCK_HDR_LEN + len;
	return &h;
}

static enum conn_verdict guest(uint16_t op, uint32_t flags, const void *data,
			       uint32_t len)
{
	const struct vsock_hdr *h = guest_pkt(op, flags, data, len);

	return conn_guest_packet(c, h, &chain);
}

/* Offers one rx buffer; returns the verdict, the packet in *out. */
static uint8_t rxbuf[VSOCK_HDR_LEN + BUF];

static enum conn_verdict rx(struct vsock_hdr *out, uint32_t *used)
{
	struct vq_chain in = { .nin = 1, .in_len = sizeof(rxbuf) };
	enum conn_verdict v;

	in.in[0] = (struct vq_seg){ rxbuf, sizeof(rxbuf) };
	memset(rxbuf, 0, sizeof(rxbuf));
	v = conn_fill_rx(c, &in, used);
	if (*used)
		vsock_hdr_decode(rxbuf, out);
	return v;
}

/* Host client connected and the guest accepted: ESTABLISHED, "OK" read. */
static void establish(void)
{
	struct vsock_hdr h;
	uint32_t used;
	char line[32];

	assert_int_equal(conn_host_connect(c, HOST_PORT, GUEST_PORT), CONN_KEEP);
	assert_int_equal(rx(&h, &used), CONN_KEEP);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(guest(VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0), CONN_KEEP);
	assert_int_equal(c->state, CONN_ESTABLISHED);
	assert_int_equal(read(peer, line, sizeof(line)), 14);
	assert_memory_equal(line, "OK 1073741824\n", 14);
}

static void host_connect_sends_request_then_ok_line(void **state UNUSED)
{
	struct vsock_hdr h;
	uint32_t used;

	assert_int_equal(conn_host_connect(c, HOST_PORT, GUEST_PORT), CONN_KEEP);
	/* The guest has not heard of it: an RST would mean nothing. */
	assert_false(conn_guest_knows(c));
	assert_true(conn_wants_rx(c));
	assert_int_equal(rx(&h, &used), CONN_KEEP);
	assert_int_equal(used, VSOCK_HDR_LEN);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(h.src_cid, VMADDR_CID_HOST);
	assert_int_equal(h.dst_cid, GUEST_CID);
	assert_int_equal(h.src_port, HOST_PORT);
	assert_int_equal(h.dst_port, GUEST_PORT);
	assert_int_equal(h.buf_alloc, BUF);
	assert_true(conn_guest_knows(c));
	assert_false(conn_wants_rx(c));
	assert_int_equal(guest(VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0), CONN_KEEP);
}

static void guest_refusal_closes_without_rst(void **state UNUSED)
{
	struct vsock_hdr h;
	uint32_t used;

	conn_host_connect(c, HOST_PORT, GUEST_PORT);
	rx(&h, &used);
	/* The guest sent the RST itself: close, owe nothing. */
	assert_int_equal(guest(VIRTIO_VSOCK_OP_RST, 0, NULL, 0), CONN_CLOSE);
}

static void protocol_violations_reset(void **state UNUSED)
{
	struct vsock_hdr h;
	uint32_t used;

	conn_host_connect(c, HOST_PORT, GUEST_PORT);
	rx(&h, &used);
	/* SHUTDOWN before the handshake completed. */
	assert_int_equal(guest(VIRTIO_VSOCK_OP_SHUTDOWN, 3, NULL, 0), CONN_RESET);
}

static void second_response_resets(void **state UNUSED)
{
	establish();
	assert_int_equal(guest(VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0), CONN_RESET);
}

static void request_on_live_connection_resets(void **state UNUSED)
{
	establish();
	assert_int_equal(guest(VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0), CONN_RESET);
}

static void unknown_op_resets(void **state UNUSED)
{
	establish();
	assert_int_equal(guest(99, 0, NULL, 0), CONN_RESET);
}

static void data_flows_to_host_and_credit_is_kept(void **state UNUSED)
{
	char got[8];

	establish();
	assert_int_equal(guest(VIRTIO_VSOCK_OP_RW, 0, "hello", 5), CONN_KEEP);
	assert_int_equal(read(peer, got, sizeof(got)), 5);
	assert_memory_equal(got, "hello", 5);
	assert_int_equal(c->fwd_cnt, 5);
	assert_int_equal(cx.stats.bytes_to_host, 5);
}

/*
 * An RW packet with no payload is legal (virtio spec 5.10.6: len may be 0)
 * and carries only credit: nothing is buffered, no buffer is allocated,
 * and data after it still flows. Found by the fuzzer: the empty packet
 * reached the copy into a connection's not yet allocated buffer.
 */
static void empty_rw_carries_only_credit(void **state UNUSED)
{
	char got[8];

	establish();
	assert_int_equal(guest(VIRTIO_VSOCK_OP_RW, 0, NULL, 0), CONN_KEEP);
	assert_null(c->buf);
	assert_int_equal(c->buf_len, 0);
	assert_int_equal(c->rx_cnt, 0);
	assert_int_equal(c->state, CONN_ESTABLISHED);
	assert_int_equal(guest(VIRTIO_VSOCK_OP_RW, 0, "ab", 2), CONN_KEEP);
	assert_int_equal(guest(VIRTIO_VSOCK_OP_RW, 0, NULL, 0), CONN_KEEP);
	assert_int_equal(read(peer, got, sizeof(got)), 2);
	assert_memory_equal(got, "ab", 2);
	assert_int_equal(c->rx_cnt, 2);
}

static void data_beyond_credit_resets(void **state UNUSED)
{
	static uint8_t big[BUF + 1];

	establish();
	assert_int_equal(guest(VIRTIO_VSOCK_OP_RW, 0, big, sizeof(big)),
			 CONN_RESET);
}

static void data_after_guest_shutdown_resets(void **state UNUSED)
{
	establish();
	assert_int_equal(guest(VIRTIO_VSOCK_OP_SHUTDOWN,
			       VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0), CONN_KEEP);
	assert_int_equal(guest(VIRTIO_VSOCK_OP_RW, 0, "x", 1), CONN_RESET);
}

static void host_data_becomes_rw_packet(void **state UNUSED)
{
	struct vsock_hdr h;
	uint32_t used;

	establish();
	assert_int_equal(write(peer, "ping", 4), 4);
	assert_int_equal(conn_host_event(c, EPOLLIN), CONN_KEEP);
	assert_true(conn_wants_rx(c));
	assert_int_equal(rx(&h, &used), CONN_KEEP);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.len, 4);
	assert_int_equal(used, VSOCK_HDR_LEN + 4);
	assert_memory_equal(rxbuf + VSOCK_HDR_LEN, "ping", 4);
	/* The socket ran dry: nothing more, and no packet for it. */
	assert_int_equal(rx(&h, &used), CONN_KEEP);
	assert_int_equal(used, 0);
	assert_false(conn_wants_rx(c));
}

static void no_credit_asks_for_it_once(void **state UNUSED)
{
	struct vsock_hdr h;
	uint32_t used;

	establish();
	c->peer_buf_alloc = 0;
	assert_int_equal(write(peer, "x", 1), 1);
	conn_host_event(c, EPOLLIN);
	assert_int_equal(rx(&h, &used), CONN_KEEP);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	assert_int_equal(cx.stats.credit_stalls, 1);
	/* Until credit comes, no second request and no data. */
	assert_false(conn_wants_rx(c));
}

static void host_eof_then_guest_shutdown_ends_with_reset(void **state UNUSED)
{
	struct vsock_hdr h;
	uint32_t used;

	establish();
	assert_int_equal(shutdown(peer, SHUT_WR), 0);
	conn_host_event(c, EPOLLIN);
	/* EOF from the host: the guest is told with SHUTDOWN(SEND). */
	assert_int_equal(rx(&h, &used), CONN_KEEP);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	/* The guest finishes too: both ways done, the owner sends the RST. */
	assert_int_equal(guest(VIRTIO_VSOCK_OP_SHUTDOWN,
			       VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0), CONN_RESET);
}

static void guest_full_shutdown_resets_once_flushed(void **state UNUSED)
{
	establish();
	assert_int_equal(guest(VIRTIO_VSOCK_OP_SHUTDOWN,
			       VIRTIO_VSOCK_SHUTDOWN_SEND |
			       VIRTIO_VSOCK_SHUTDOWN_RCV, NULL, 0), CONN_RESET);
}

static void host_client_gone_while_connecting_resets(void **state UNUSED)
{
	struct vsock_hdr h;
	uint32_t used;

	conn_host_connect(c, HOST_PORT, GUEST_PORT);
	rx(&h, &used);
	close(peer);
	peer = -1;
	assert_int_equal(conn_host_event(c, EPOLLHUP), CONN_RESET);
	peer = socket(AF_UNIX, SOCK_STREAM, 0);	/* for teardown */
}

static void host_write_error_resets(void **state UNUSED)
{
	establish();
	close(peer);
	peer = socket(AF_UNIX, SOCK_STREAM, 0);
	/* The host reader is gone: writing the guest's data fails. */
	assert_int_equal(guest(VIRTIO_VSOCK_OP_RW, 0, "data", 4), CONN_RESET);
}

static void deadline_resets(void **state UNUSED)
{
	assert_int_equal(conn_host_connect(c, HOST_PORT, GUEST_PORT), CONN_KEEP);
	assert_true(c->deadline_ms > 0);
	assert_int_equal(conn_timeout(c), CONN_RESET);
}

static void release_is_idempotent_and_dead_ignores_input(void **state UNUSED)
{
	struct vsock_hdr h;
	uint32_t used;

	establish();
	conn_release(c);
	assert_int_equal(c->state, CONN_DEAD);
	assert_int_equal(c->ev.fd, -1);
	assert_false(conn_guest_knows(c));
	conn_release(c);
	assert_int_equal(guest(VIRTIO_VSOCK_OP_RW, 0, "x", 1), CONN_KEEP);
	assert_int_equal(conn_host_event(c, EPOLLIN), CONN_KEEP);
	assert_false(conn_wants_rx(c));
	(void)h;
	(void)used;
}

static void guest_accepted_owes_response(void **state UNUSED)
{
	struct vsock_hdr h;
	uint32_t used;
	const struct vsock_hdr *req = guest_pkt(VIRTIO_VSOCK_OP_REQUEST, 0,
						NULL, 0);

	assert_int_equal(conn_guest_accepted(c, req), CONN_KEEP);
	assert_true(conn_guest_knows(c));
	assert_int_equal(rx(&h, &used), CONN_KEEP);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(h.src_port, HOST_PORT);
	assert_int_equal(h.dst_port, GUEST_PORT);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(host_connect_sends_request_then_ok_line),
		T(guest_refusal_closes_without_rst),
		T(protocol_violations_reset),
		T(second_response_resets),
		T(request_on_live_connection_resets),
		T(unknown_op_resets),
		T(data_flows_to_host_and_credit_is_kept),
		T(empty_rw_carries_only_credit),
		T(data_beyond_credit_resets),
		T(data_after_guest_shutdown_resets),
		T(host_data_becomes_rw_packet),
		T(no_credit_asks_for_it_once),
		T(host_eof_then_guest_shutdown_ends_with_reset),
		T(guest_full_shutdown_resets_once_flushed),
		T(host_client_gone_while_connecting_resets),
		T(host_write_error_resets),
		T(deadline_resets),
		T(release_is_idempotent_and_dead_ignores_input),
		T(guest_accepted_owes_response),
	};

	return cmocka_run_group_tests_name("vsock_conn", tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the virtqueue walker, the packet parser and the
 * device's tx path, on guest memory made of fuzzer bytes.
 *
 * Input layout: byte 0 ring size (log2, 1..8), byte 1 split point of the
 * memory table (two regions, adjacent in guest-physical space), bytes 2-3
 * the starting avail index, then the contents of guest memory: descriptor
 * table at 0, avail ring at 0x1000, used ring at 0x2000 (tx queue), rx
 * queue rings at 0x3000..0x5000, buffers anywhere. The last byte sets the
 * connection limit (1..4).
 *
 * Host sockets are real: host ports 1234 and 1235 have listeners, so guest
 * REQUESTs to them create connections (up to the limit; beyond it they get
 * RSTs). The harness then writes input bytes into the accepted host ends
 * in several small writes and pumps the rx ring, so the way host data is
 * packed into the guest's rx buffers (and credit, EOF and reset paths) runs
 * on fuzzer-made descriptor chains too.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "loop.h"
#include "virtqueue.h"
#include "vsock_dev.h"
#include "vsock_packet.h"

#define MEM_SIZE 0x10000
#define GPA_BASE 0x40000000ull
#define UVA_BASE 0x7f0000000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t mem[MEM_SIZE];
static const uint8_t fill[64] = { 0x5a };

static void walk_only(struct virtqueue *vq, const struct vq_memory *m)
{
	static struct vq_chain c;
	static uint8_t scratch[VSOCK_MAX_PKT_PAYLOAD];

	for (int i = 0; i < 64; i++) {
		struct vsock_hdr h;
		enum vq_pop_result r = vq_pop(vq, m, &c);

		if (r == VQ_EMPTY || r == VQ_BAD_RING)
			return;
		if (r == VQ_CHAIN && vsock_parse_chain(&c, &h) == VSOCK_PKT_OK) {
			size_t got = vq_segs_read(c.out, c.nout, VSOCK_HDR_LEN,
						  scratch, h.len);

			if (got != h.len)
				__builtin_trap();	/* parser promised h.len */
		}
		if (r == VQ_CHAIN && c.in_len)
			vq_segs_write(c.in, c.nin, 0, fill, c.in_len < 64 ? c.in_len : 64);
		vq_push(vq, c.head, 0);
	}
}

static char uds[64];
static int listeners[2] = { -1, -1 };
static struct loop lp = { .epfd = -1 };

/* Once per process: an epoll loop and the two host listeners. */
static void host_setup(void)
{
	static char dir[] = "/tmp/vsock-fuzz-XXXXXX";
	char path[96];

	if (lp.epfd >= 0)
		return;
	if (loop_init(&lp) != 0 || !mkdtemp(dir))
		abort();
	snprintf(uds, sizeof(uds), "%s/v", dir);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s_%d", uds, 1234 + i);
		listeners[i] = uds_listen(path, 64, 0600);
		if (listeners[i] < 0)
			abort();
	}
}

/* Host ends: input bytes in small writes, pumped into the rx ring. */
static void host_traffic(struct vsock_dev *d, const uint8_t *data, size_t size)
{
	int fds[8], n = 0;
	size_t off = 0;

	for (int i = 0; i < 2; i++) {
		int fd;

		while (n < 8 && (fd = accept4(listeners[i], NULL, NULL,
					      SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
			fds[n++] = fd;
	}
	for (int round = 0; round < 4 && n; round++) {
		for (int i = 0; i < n; i++) {
			size_t len = size - off < 300 ? size - off : 300;

			if (len && send(fds[i], data + off, len,
					 MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
				off += len;
			if (round == 2 && (i & 1))
				shutdown(fds[i], SHUT_WR);
		}
		loop_run_once(&lp, 0);
		vsock_dev_kick(d, VSOCK_QUEUE_RX);
		vsock_dev_process_tx(d);
	}
	while (n)
		close(fds[--n]);
	loop_run_once(&lp, 0);
	vsock_dev_kick(d, VSOCK_QUEUE_RX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vq_memory m;
	static struct vsock_dev d;
	static int call_fd = -1;
	struct virtqueue vq;
	unsigned num, split;
	uint16_t start;
	bool event_idx;

	if (size < 4)
		return 0;
	log_set_level(LOG_SILENT);
	host_setup();
	num = 1u << (1 + data[0] % 8);
	split = (data[1] + 1u) * 0x100;	/* 0x100..0x10000 */
	start = (uint16_t)(data[2] | data[3] << 8);
	memset(mem, 0, sizeof(mem));
	memcpy(mem, data + 4, size - 4 < MEM_SIZE ? size - 4 : MEM_SIZE);

	memset(&m, 0, sizeof(m));
	m.n = split < MEM_SIZE ? 2 : 1;
	m.r[0] = (struct vq_region){ GPA_BASE, split, UVA_BASE, mem };
	if (m.n == 2)
		m.r[1] = (struct vq_region){ GPA_BASE + split, MEM_SIZE - split,
					     UVA_BASE + 0x100000 + split, mem + split };

	/* 1. the walker and the parser on the tx rings */
	memset(&vq, 0, sizeof(vq));
	vq.num = num;
	vq.desc_uva = UVA_BASE;
	vq.avail_uva = UVA_BASE + 0x1000;
	vq.used_uva = UVA_BASE + 0x2000;
	vq.last_avail = start;
	if (split <= 0x2000 + 8 * num + 6) {
		/* rings straddle the regions: must be refused */
		if (vq_map_rings(&vq, &m) == 0)
			__builtin_trap();
		return 0;
	}
	if (vq_map_rings(&vq, &m) != 0)
		return 0;
	walk_only(&vq, &m);

	/* 2. the same bytes through the device: tx packets, RSTs into rx */
	memcpy(mem, data + 4, size - 4 < MEM_SIZE ? size - 4 : MEM_SIZE);
	vsock_dev_init(&d, &lp, 3, 4096, uds);
	d.max_conns = 1 + data[size - 1] % 4;
	/* EVENT_IDX from the input; an interrupt fd so used_event is read. */
	event_idx = data[size - 1] & 0x40;
	if (call_fd < 0)
		call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vsock_dev_set_memory(&d, &m);
	if (split > 0x4000 + 8 * num + 6) {
		struct vsock_ring_cfg rx = {
			.num = num, .desc_uva = UVA_BASE,
			.avail_uva = UVA_BASE + 0x3000,
			.used_uva = UVA_BASE + 0x4000,
			.event_idx = event_idx,
		};
		struct vsock_ring_cfg tx = {
			.num = num, .desc_uva = vq.desc_uva,
			.avail_uva = vq.avail_uva, .used_uva = vq.used_uva,
			.base = start,
			.event_idx = event_idx,
		};

		/* Starting a queue processes it (tx) or fills it (rx). */
		if (vsock_dev_queue_start(&d, VSOCK_QUEUE_RX, &rx, call_fd) == 0 &&
		    vsock_dev_queue_start(&d, VSOCK_QUEUE_TX, &tx, call_fd) == 0) {
			if (d.nconns > d.max_conns)
				__builtin_trap();	/* the limit holds */
			host_traffic(&d, data + 4, size - 4);
		}
	}
	vsock_dev_fini(&d);
	vsock_dev_after_batch(&d);
	return 0;
}

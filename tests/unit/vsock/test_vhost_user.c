// SPDX-License-Identifier: MIT
/*
 * Unit tests of the vhost-user back-end side: a fake front-end speaks the
 * protocol over a real Unix socket (memfd for guest RAM, eventfds for
 * kick/call), the daemon's loop runs in between. No QEMU.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "loop.h"
#include "vhost_user.h"
#include "vsock_dev.h"

#define UNUSED __attribute__((unused))
#define RAM (1u << 20)
#define UVA 0x7f1200000000ull

static struct loop lp;
static struct vsock_dev d;
static struct vhost_user vu;
static char dir[64], sock[96];
static int fe = -1;

static void after(void *ctx)
{
	vsock_dev_after_batch(ctx);
}

static void pump(void)
{
	for (int i = 0; i < 5; i++)
		loop_run_once(&lp, 0);
}

static int connect_fe(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 2 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	pump();
	return fd;
}

static int setup(void **state UNUSED)
{
	assert_int_equal(loop_init(&lp), 0);
	snprintf(dir, sizeof(dir), "/tmp/vsock-unit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/vu.sock", dir);
	vsock_dev_init(&d, &lp, 77, 4096, "/nonexistent");
	lp.ctx = &d;
	lp.after_batch = after;
	assert_int_equal(vhost_user_open(&vu, &lp, &d, sock, 0600), 0);
	fe = connect_fe();
	return 0;
}

static int teardown(void **state UNUSED)
{
	char cmd[128];

	if (fe >= 0)
		close(fe);
	pump();
	vhost_user_close(&vu);
	vsock_dev_fini(&d);
	loop_fini(&lp);
	assert_int_equal(access(sock, F_OK), -1);	/* socket removed */
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Sends one message (header + payload + fds) as a front-end does. */
static void send_msg(uint32_t req, uint32_t flags, const void *payload,
		     uint32_t size, const int *fds, unsigned nfds)
{
	uint8_t buf[12 + 512];
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, 12 + size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	memcpy(buf, &req, 4);
	memcpy(buf + 4, &flags, 4);
	memcpy(buf + 8, &size, 4);
	if (size)
		memcpy(buf + 12, payload, size);
	if (nfds) {
		struct cmsghdr *cm;

		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	assert_int_equal(sendmsg(fe, &mh, MSG_NOSIGNAL), (ssize_t)(12 + size));
	pump();
}

static void send_u64(uint32_t req, uint64_t v, const int *fds, unsigned n)
{
	send_msg(req, 1, &v, 8, fds, n);
}

/* Reads one reply; returns its payload size. */
static uint32_t read_reply(uint32_t req, void *payload, uint32_t max)
{
	uint8_t hdr[12];
	uint32_t r, flags, size;

	assert_int_equal(recv(fe, hdr, 12, MSG_WAITALL), 12);
	memcpy(&r, hdr, 4);
	memcpy(&flags, hdr + 4, 4);
	memcpy(&size, hdr + 8, 4);
	assert_int_equal(r, req);
	assert_int_equal(flags, 0x5);	/* version 1, reply */
	assert_true(size <= max);
	if (size)
		assert_int_equal(recv(fe, payload, size, MSG_WAITALL), (ssize_t)size);
	return size;
}

static void expect_disconnected(void)
{
	char b;

	assert_int_equal(recv(fe, &b, 1, 0), 0);
	close(fe);
	/* The back-end takes the next front-end. */
	fe = connect_fe();
	send_msg(1, 1, NULL, 0, NULL, 0);
	{
		uint64_t f;

		assert_int_equal(read_reply(1, &f, 8), 8);
	}
}

static void features_negotiated(void **state UNUSED)
{
	uint64_t f;

	send_msg(1, 1, NULL, 0, NULL, 0);
	assert_int_equal(read_reply(1, &f, 8), 8);
	assert_true(f & (1ull << 32));	/* VERSION_1 */
	assert_true(f & (1ull << 30));	/* PROTOCOL_FEATURES */
	assert_true(f & (1ull << 29));	/* EVENT_IDX */
	assert_false(f & (1ull << 28));	/* no INDIRECT_DESC */
	send_msg(15, 1, NULL, 0, NULL, 0);
	assert_int_equal(read_reply(15, &f, 8), 8);
	assert_int_equal(f, (1ull << 3) | (1ull << 9));	/* REPLY_ACK, CONFIG */
	send_u64(16, f, NULL, 0);
	send_u64(2, (1ull << 32) | (1ull << 30), NULL, 0);
	/* REPLY_ACK: a request with NEED_REPLY gets a zero status. */
	send_msg(3, 1 | 8, NULL, 0, NULL, 0);
	assert_int_equal(read_reply(3, &f, 8), 8);
	assert_int_equal(f, 0);
}

static void config_reports_guest_cid(void **state UNUSED)
{
	uint8_t req[12 + 8] = { 0 }, rep[12 + 8];
	uint32_t size = 8;
	uint64_t cid;

	memcpy(req + 4, &size, 4);
	send_msg(24, 1, req, sizeof(req), NULL, 0);
	assert_int_equal(read_reply(24, rep, sizeof(rep)), 20);
	memcpy(&cid, rep + 12, 8);
	assert_int_equal(cid, 77);
}

static void unoffered_feature_disconnects(void **state UNUSED)
{
	send_u64(2, 1ull << 28, NULL, 0);	/* INDIRECT_DESC was not offered */
	expect_disconnected();
}

static void bad_version_disconnects(void **state UNUSED)
{
	send_msg(1, 2, NULL, 0, NULL, 0);
	expect_disconnected();
}

static void oversized_message_disconnects(void **state UNUSED)
{
	uint8_t hdr[12] = { 5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0 };	/* 64 KiB */

	assert_int_equal(send(fe, hdr, 12, MSG_NOSIGNAL), 12);
	pump();
	expect_disconnected();
}

static void unknown_request_disconnects(void **state UNUSED)
{
	send_msg(99, 1, NULL, 0, NULL, 0);
	expect_disconnected();
}

static void mem_table_fd_count_mismatch_disconnects(void **state UNUSED)
{
	uint8_t p[8 + 32] = { 1 };	/* one region, but no fd */

	send_msg(5, 1, p, sizeof(p), NULL, 0);
	expect_disconnected();
}

/* A memfd as guest RAM, mapped by the back-end. */
static int send_mem_table(void)
{
	uint8_t p[8 + 32] = { 0 };
	uint64_t gpa = 0, size = RAM, uva = UVA, off = 0;
	uint32_t n = 1;
	int fd = memfd_create("ram", MFD_CLOEXEC);
	uint64_t ack;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, RAM), 0);
	memcpy(p, &n, 4);
	memcpy(p + 8, &gpa, 8);
	memcpy(p + 16, &size, 8);
	memcpy(p + 24, &uva, 8);
	memcpy(p + 32, &off, 8);
	send_msg(5, 1 | 8, p, sizeof(p), &fd, 1);
	assert_int_equal(read_reply(5, &ack, 8), 8);
	assert_int_equal(ack, 0);
	return fd;
}

static void vring_setup(unsigned idx, uint64_t desc)
{
	uint32_t st[2] = { idx, 64 };
	uint8_t addr[40] = { 0 };
	uint64_t avail = desc + 16 * 64, used = desc + 0x1000;

	send_msg(8, 1, st, 8, NULL, 0);
	st[1] = 0;
	send_msg(10, 1, st, 8, NULL, 0);
	memcpy(addr, &idx, 4);
	memcpy(addr + 8, &desc, 8);
	memcpy(addr + 16, &used, 8);
	memcpy(addr + 24, &avail, 8);
	send_msg(9, 1, addr, 40, NULL, 0);
}

static void rings_start_and_stop(void **state UNUSED)
{
	int ram, kick[2], call;
	uint32_t st[2];

	send_u64(2, (1ull << 32) | (1ull << 30), NULL, 0);
	ram = send_mem_table();
	assert_int_equal(vu.mem.n, 1);
	for (unsigned i = 0; i < 2; i++) {
		vring_setup(i, UVA + 0x10000 * (i + 1));
		kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		send_u64(12, i, &kick[i], 1);
		/* Protocol features negotiated: rings wait to be enabled. */
		assert_false(d.q[i].started);
		st[0] = i;
		st[1] = 1;
		send_msg(18, 1, st, 8, NULL, 0);
		assert_true(d.q[i].started);
	}
	call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	send_u64(13, 0, &call, 1);
	assert_int_equal(d.q[0].call_fd >= 0, 1);
	/* GET_VRING_BASE stops the ring and reports where it stopped. */
	st[0] = 1;
	st[1] = 0;
	send_msg(11, 1, st, 8, NULL, 0);
	assert_int_equal(read_reply(11, st, 8), 8);
	assert_int_equal(st[0], 1);
	assert_int_equal(st[1], 0);
	assert_false(d.q[1].started);
	/* A new memory table replaces (and unmaps) the old one. */
	close(send_mem_table());
	assert_int_equal(vu.mem.n, 1);
	assert_true(d.q[0].started);
	close(ram);
	close(kick[0]);
	close(kick[1]);
	close(call);
}

static void ring_outside_memory_disconnects(void **state UNUSED)
{
	int ram, kick;
	uint32_t st[2] = { 0, 1 };

	send_u64(2, (1ull << 32) | (1ull << 30), NULL, 0);
	ram = send_mem_table();
	vring_setup(0, UVA + RAM - 64);	/* rings run past the end of RAM */
	kick = eventfd(0, EFD_CLOEXEC);
	send_u64(12, 0, &kick, 1);
	send_msg(18, 1, st, 8, NULL, 0);
	expect_disconnected();
	assert_int_equal(vu.mem.n, 0);	/* reset: memory unmapped */
	close(ram);
	close(kick);
}

/*
 * Item 5 of issue 12: a second front-end on the same socket used to sit in
 * the backlog with no error. It is accepted and closed at once (its QEMU
 * fails to start), and the first one keeps being served.
 */
static void second_frontend_refused(void **state UNUSED)
{
	uint64_t f;
	char b;
	int second;

	second = connect_fe();
	pump();
	assert_int_equal(recv(second, &b, 1, 0), 0);	/* closed, not queued */
	close(second);
	assert_int_equal(vu.refused, 1);
	send_msg(1, 1, NULL, 0, NULL, 0);
	assert_int_equal(read_reply(1, &f, 8), 8);
	/* Once the first one leaves, the next one is served. */
	close(fe);
	pump();
	fe = connect_fe();
	send_msg(1, 1, NULL, 0, NULL, 0);
	assert_int_equal(read_reply(1, &f, 8), 8);
	assert_int_equal(vu.sessions, 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(features_negotiated),
		T(config_reports_guest_cid),
		T(unoffered_feature_disconnects),
		T(bad_version_disconnects),
		T(oversized_message_disconnects),
		T(unknown_request_disconnects),
		T(mem_table_fd_count_mismatch_disconnects),
		T(rings_start_and_stop),
		T(ring_outside_memory_disconnects),
		T(second_frontend_refused),
	};

	log_set_level(LOG_SILENT);
	return cmocka_run_group_tests_name("vhost_user", tests, NULL, NULL);
}

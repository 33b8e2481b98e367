// SPDX-License-Identifier: MIT
/*
 * Unit tests of the hybrid listener (host_uds.c) and the accept guard
 * (listener.c): real Unix sockets in a temporary folder, the daemon's loop
 * in between. The device has no rings, so requests only wait in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "host_uds.h"
#include "log.h"
#include "loop.h"
#include "vsock_dev.h"

#define UNUSED __attribute__((unused))

static struct loop lp;
static struct vsock_dev d;
static struct host_uds u;
static char dir[64], path[96];

static void after(void *ctx UNUSED)
{
	host_uds_tick(&u);
	vsock_dev_after_batch(&d);
}

static void pump(void)
{
	for (int i = 0; i < 5; i++)
		loop_run_once(&lp, 0);
}

static int setup(void **state UNUSED)
{
	assert_int_equal(loop_init(&lp), 0);
	snprintf(dir, sizeof(dir), "/tmp/vsock-unit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vsock.sock", dir);
	vsock_dev_init(&d, &lp, 3, 4096, path);
	lp.after_batch = after;
	assert_int_equal(host_uds_open(&u, &lp, &d, path, 0600), 0);
	return 0;
}

static int teardown(void **state UNUSED)
{
	char cmd[128];

	host_uds_close(&u);
	vsock_dev_fini(&d);
	loop_fini(&lp);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static int client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 2 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* The client was closed without a reply (EOF). */
static void expect_closed(int fd)
{
	char b;

	assert_int_equal(recv(fd, &b, 1, 0), 0);
	close(fd);
}

static void request_line_hands_client_to_device(void **state UNUSED)
{
	int fd = client();

	pump();
	assert_int_equal(u.nclients, 1);
	assert_int_equal(write(fd, "CONNECT 1219\n", 13), 13);
	pump();
	assert_int_equal(u.nclients, 0);
	assert_int_equal(d.nconns, 1);
	assert_int_equal(d.head->peer_port, 1219);
	close(fd);
}

static void bad_line_closed(void **state UNUSED)
{
	int fd = client();

	assert_int_equal(write(fd, "HELLO 12\n", 9), 9);
	pump();
	expect_closed(fd);
	assert_int_equal(u.stats.bad_lines, 1);
	assert_int_equal(d.nconns, 0);
}

/* Item 2: clients beyond the limit (pending ones included) are refused. */
static void limit_refuses_host_clients(void **state UNUSED)
{
	int a, b, c;

	d.max_conns = 2;
	a = client();
	b = client();
	pump();
	assert_int_equal(u.nclients, 2);
	c = client();
	pump();
	expect_closed(c);
	assert_int_equal(u.stats.refused_limit, 1);
	/* A pending client that completes its line still fits. */
	assert_int_equal(write(a, "CONNECT 1\n", 10), 10);
	pump();
	assert_int_equal(d.nconns, 1);
	assert_int_equal(u.nclients, 1);
	close(a);
	close(b);
}

/*
 * Item 2: out of descriptors, accept() fails with EMFILE and a
 * level-triggered listener would spin. The spare descriptor sheds the
 * pending client (it sees EOF); without a spare the listener pauses.
 */
static void out_of_fds_never_spins(void **state UNUSED)
{
	struct rlimit old, low;
	int fds[256], n = 0, c1, c2, r;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < 256 && (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		n++;
	assert_true(n > 0 && n < 256);
	close(fds[--n]);	/* room for exactly one client socket */
	c1 = client();
	r = loop_run_once(&lp, 0);
	assert_true(r >= 1);
	expect_closed(c1);
	assert_int_equal(u.guard.shed, 1);
	assert_int_equal(u.ev.events, EPOLLIN);
	/* No spare either: the listener pauses instead of spinning. */
	close(u.guard.spare_fd);
	u.guard.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(u.guard.spare_fd >= 0);
	c2 = client();		/* in the slot c1 left */
	fds[n] = u.guard.spare_fd;	/* steal the spare */
	n++;
	u.guard.spare_fd = -1;
	loop_run_once(&lp, 0);
	assert_int_equal(u.nclients, 0);
	assert_int_equal(u.ev.events, 0);	/* paused */
	assert_true(u.guard.resume_ms > 0);
	assert_true(host_uds_next_timeout(&u) >= 0);
	assert_int_equal(loop_run_once(&lp, 0), 0);	/* nothing fires */
	/* Descriptors come back: after the pause it accepts again. */
	while (n)
		close(fds[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	for (int i = 0; i < 20 && u.nclients == 0; i++)
		loop_run_once(&lp, 50);
	assert_int_equal(u.nclients, 1);
	assert_true(u.guard.spare_fd >= 0);
	close(c2);
}

/* Item 8: the socket is created owner-only (or with the mode asked). */
static void socket_mode(void **state UNUSED)
{
	struct stat st;
	struct host_uds u2;
	char p2[128];

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(p2, sizeof(p2), "%s/shared.sock", dir);
	assert_int_equal(host_uds_open(&u2, &lp, &d, p2, 0660), 0);
	assert_int_equal(stat(p2, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	host_uds_close(&u2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(request_line_hands_client_to_device),
		T(bad_line_closed),
		T(limit_refuses_host_clients),
		T(out_of_fds_never_spins),
		T(socket_mode),
	};

	log_set_level(LOG_SILENT);
	return cmocka_run_group_tests_name("host_uds", tests, NULL, NULL);
}

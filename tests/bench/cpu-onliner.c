// SPDX-License-Identifier: GPL-2.0
/*
 * cpu-onliner: the udev rule that onlines hot-added CPUs, for the ACPI side
 * of `make bench-hotplug` (tests/bench/hotplug-bench.py). Guest program,
 * static musl; runs in the ACPI comparison guest only.
 *
 *   cpu-onliner PORT [IDLE_SECONDS]
 *
 * Connects to the host (vsock CID 2) on PORT and writes "ready\n". Then,
 * for every kernel uevent "add" of a CPU (SUBSYSTEM=cpu, DEVPATH
 * /devices/system/cpu/cpuN), writes "1" to /sys/devices/system/cpu/cpuN/online,
 * as udev's rule (SUBSYSTEM=="cpu", ACTION=="add", ATTR{online}="1") does,
 * and reports to the host one line per CPU:
 *
 *   online N T_UEVENT T_ONLINE      the write returned: CPU N is online
 *   error N ERRNO T_UEVENT T_ONLINE the write failed (ERRNO is a number)
 *
 * T_* are the guest's CLOCK_MONOTONIC in microseconds when the uevent was
 * read and when the write returned (writing "online" returns once the CPU
 * has reached CPUHP_ONLINE). Exits when the host closes the connection,
 * or after IDLE_SECONDS (default 900) without a uevent or host activity.
 * Exit status: 0 after the host closed, 1 on any error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UEVENT_BUF 8192

static unsigned long long now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return 0;
	return (unsigned long long)ts.tv_sec * 1000000ULL +
	       (unsigned long long)ts.tv_nsec / 1000;
}

/* Writes all of buf (a stream socket may take less than asked). */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The CPU number of a "add" uevent of a CPU device, or -1. */
static int cpu_of_add_event(const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	const char *action = NULL, *subsystem = NULL, *devpath = NULL;
	char *tail;
	long cpu;

	/* "ACTION@DEVPATH\0" then "KEY=VALUE\0" parts */
	while (p < end) {
		size_t n = strnlen(p, (size_t)(end - p));

		if (!strncmp(p, "ACTION=", 7))
			action = p + 7;
		else if (!strncmp(p, "SUBSYSTEM=", 10))
			subsystem = p + 10;
		else if (!strncmp(p, "DEVPATH=", 8))
			devpath = p + 8;
		p += n + 1;
	}
	if (!action || !subsystem || !devpath || strcmp(action, "add") ||
	    strcmp(subsystem, "cpu") || strncmp(devpath, "/devices/system/cpu/cpu", 23))
		return -1;
	errno = 0;
	cpu = strtol(devpath + 23, &tail, 10);
	if (errno || tail == devpath + 23 || *tail || cpu < 0 || cpu > 4095)
		return -1;
	return (int)cpu;
}

/* Writes "1" to the CPU's online file; 0 or an errno value. */
static int online_cpu(int cpu)
{
	char path[64];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (write(fd, "1", 1) != 1)
		err = errno ? errno : EIO;
	if (close(fd) && !err)
		err = errno;
	return err;
}

int main(int argc, char **argv)
{
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	struct sockaddr_vm vm = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST };
	static char buf[UEVENT_BUF];
	int rcvbuf = 1 << 20, nlfd, vfd;
	long port, idle = 900;
	char *end, line[128];

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: cpu-onliner PORT [IDLE_SECONDS]\n");
		return 1;
	}
	port = strtol(argv[1], &end, 10);
	if (*end || port <= 0 || port > 0xfffffffeL) {
		fprintf(stderr, "cpu-onliner: bad port %s\n", argv[1]);
		return 1;
	}
	if (argc == 3) {
		idle = strtol(argv[2], &end, 10);
		if (*end || idle <= 0 || idle > 86400) {
			fprintf(stderr, "cpu-onliner: bad idle time %s\n", argv[2]);
			return 1;
		}
	}

	/* Listen first, so that no uevent after "ready" can be missed. */
	nlfd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	if (nlfd < 0 || bind(nlfd, (struct sockaddr *)&nl, sizeof(nl))) {
		perror("cpu-onliner: uevent socket");
		return 1;
	}
	if (setsockopt(nlfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)))
		perror("cpu-onliner: SO_RCVBUF (continuing)");

	vm.svm_port = (unsigned int)port;
	vfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (vfd < 0 || connect(vfd, (struct sockaddr *)&vm, sizeof(vm))) {
		perror("cpu-onliner: connecting to the host");
		return 1;
	}
	if (write_all(vfd, "ready\n", 6)) {
		perror("cpu-onliner: writing to the host");
		return 1;
	}

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = nlfd, .events = POLLIN },
			{ .fd = vfd, .events = POLLIN },
		};
		unsigned long long t_event, t_online;
		ssize_t n;
		int cpu, err, r;

		r = poll(pfd, 2, (int)(idle * 1000));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror("cpu-onliner: poll");
			return 1;
		}
		if (r == 0) {
			fprintf(stderr, "cpu-onliner: idle for %ld s, exiting\n", idle);
			return 1;
		}
		if (pfd[1].revents) {
			/* The host sends nothing: data or EOF both end the run. */
			n = read(vfd, buf, sizeof(buf));
			return n == 0 ? 0 : 1;
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		n = recv(nlfd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			/* ENOBUFS: a burst was lost; say so, the host will time out */
			perror("cpu-onliner: uevent recv");
			continue;
		}
		t_event = now_us();
		buf[n] = '\0';
		cpu = cpu_of_add_event(buf, (size_t)n);
		if (cpu < 0)
			continue;
		err = online_cpu(cpu);
		t_online = now_us();
		if (err)
			snprintf(line, sizeof(line), "error %d %d %llu %llu\n", cpu, err,
				 t_event, t_online);
		else
			snprintf(line, sizeof(line), "online %d %llu %llu\n", cpu, t_event,
				 t_online);
		if (write_all(vfd, line, strlen(line))) {
			perror("cpu-onliner: writing to the host");
			return 1;
		}
	}
}

// SPDX-License-Identifier: GPL-2.0
/*
 * agent-query: a guest-side client of the agent's status service, for test
 * scripts inside the guest (vsock loopback, CID 1):
 *
 *   agent-query [-c CID] [-p PORT] [-t SECONDS] [-w SECONDS] [-N] REQUEST...
 *
 * Sends the words of REQUEST joined by spaces plus '\n', prints the reply
 * line to stdout. Exit status 0 on a reply, 1 on an error (printed).
 * For testing the service's limits: -w waits after connecting before
 * sending, -N sends no '\n' but shuts the sending side down, and requests
 * up to 16 KiB can be sent (the service accepts 4 KiB).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "agent_proto.h"
#include "fdio.h"

#define REPLY_MAX (512 * 1024)

static int fail(const char *what)
{
	fprintf(stderr, "agent-query: %s: %s\n", what, strerror(errno));
	return 1;
}

static unsigned long num(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "agent-query: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_LOCAL,
		.svm_port = AGENT_STATUS_PORT,
	};
	unsigned long timeout_s = 35;
	static char req[4 * AGENT_REQ_MAX];
	unsigned long wait_s = 0;
	int newline = 1;
	size_t rlen = 0, got = 0;
	char *reply;
	int opt, fd, i;
	unsigned long long deadline;

	while ((opt = getopt(argc, argv, "c:p:t:w:N")) != -1) {
		switch (opt) {
		case 'c':
			addr.svm_cid = (unsigned int)num(optarg, "CID");
			break;
		case 'p':
			addr.svm_port = (unsigned int)num(optarg, "port");
			break;
		case 't':
			timeout_s = num(optarg, "timeout");
			break;
		case 'w':
			wait_s = num(optarg, "wait");
			break;
		case 'N':
			newline = 0;
			break;
		default:
			fprintf(stderr, "usage: agent-query [-c CID] [-p PORT] "
					"[-t SECONDS] [-w SECONDS] [-N] REQUEST...\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "agent-query: no request\n");
		return 2;
	}
	for (i = optind; i < argc; i++) {
		size_t l = strlen(argv[i]);

		if (rlen + l + 2 > sizeof(req)) {
			fprintf(stderr, "agent-query: request too long\n");
			return 2;
		}
		if (i > optind)
			req[rlen++] = ' ';
		memcpy(req + rlen, argv[i], l);
		rlen += l;
	}
	if (newline)
		req[rlen++] = '\n';

	/* the service may answer (an error) and close before we finish */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return fail("signal");
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail("socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return fail("connect");
	if (wait_s)
		sleep((unsigned int)wait_s);
	if (write_all(fd, req, rlen) < 0)
		fprintf(stderr, "agent-query: write: %s (reading a reply anyway)\n",
			strerror(errno));
	/* -N: end of file marks the end of the request */
	else if (!newline && shutdown(fd, SHUT_WR) < 0)
		return fail("shutdown");
	reply = malloc(REPLY_MAX);
	if (!reply)
		return fail("malloc");
	deadline = now_ms() + timeout_s * 1000ULL;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		unsigned long long now = now_ms();
		ssize_t r;
		int pr;

		if (now >= deadline) {
			fprintf(stderr, "agent-query: timed out\n");
			return 1;
		}
		pr = poll(&p, 1, (int)(deadline - now));
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			return fail("poll");
		}
		if (pr == 0)
			continue;
		if (got == REPLY_MAX) {
			fprintf(stderr, "agent-query: reply too long\n");
			return 1;
		}
		r = read(fd, reply + got, REPLY_MAX - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return fail("read");
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got == 0) {
		fprintf(stderr, "agent-query: connection closed without a reply\n");
		return 1;
	}
	if (write_all(STDOUT_FILENO, reply, got) < 0)
		return fail("write stdout");
	if (close(fd) < 0)
		return fail("close");
	free(reply);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * vsock-echo: guest-side peer for the vsock back-end's tests and benchmark.
 *
 *   vsock-echo [-d] server PORT      echo every connection until EOF
 *   vsock-echo [-d] sink PORT        read and discard, report bytes on stderr
 *   vsock-echo client CID PORT BYTES send BYTES, half-close, read the echo
 *                                    back, verify it; prints "ok BYTES SUM"
 *   vsock-echo send CID PORT BYTES   send BYTES, then close; prints "sent"
 *
 * -d: detach (fork, new session, stdio to /dev/null) once listening, so it
 * can be started through the agent's exec request.
 * -w SECS (server, sink): wait SECS after accepting a connection before
 * reading it, so the host's data piles up in the guest meanwhile. The byte pattern is
 * byte i = (i * 7 + i / 4096) & 0xff; SUM is the 32-bit sum of the bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#define CHUNK 65536

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + i / 4096);
}

static int parse_u64(const char *s, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return (errno || end == s || *end) ? -1 : 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int listen_on(unsigned port)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = port,
	};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, 128) != 0) {
		perror("vsock-echo: listen");
		return -1;
	}
	return fd;
}

static int connect_to(unsigned cid, unsigned port)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = cid,
		.svm_port = port,
	};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("vsock-echo: connect");
		return -1;
	}
	return fd;
}

static void detach(void)
{
	pid_t pid = fork();
	int null;

	if (pid < 0) {
		perror("vsock-echo: fork");
		exit(1);
	}
	if (pid > 0)
		_exit(0);
	setsid();
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
}

static unsigned wait_secs;

/* Serves one connection: echo (or discard) until EOF. */
static void serve(int fd, int echo)
{
	static uint8_t buf[CHUNK];
	unsigned long long total = 0;

	if (wait_secs)
		sleep(wait_secs);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (unsigned long long)n;
		if (echo && write_all(fd, buf, (size_t)n) != 0)
			break;
	}
	if (!echo)
		fprintf(stderr, "sink: %llu bytes\n", total);
	close(fd);
}

static int run_server(unsigned port, int echo, int daemonize)
{
	int lfd = listen_on(port);

	if (lfd < 0)
		return 1;
	if (daemonize)
		detach();
	/* Children are reaped automatically. */
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pid_t pid;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("vsock-echo: accept");
			return 1;
		}
		pid = fork();
		if (pid == 0) {
			close(lfd);
			serve(fd, echo);
			_exit(0);
		}
		if (pid < 0)
			perror("vsock-echo: fork");
		close(fd);
	}
}

static int run_client(unsigned cid, unsigned port, unsigned long long bytes,
		      int expect_echo)
{
	static uint8_t out[CHUNK], in[CHUNK];
	unsigned long long sent = 0, got = 0;
	uint32_t sum = 0;
	int fd = connect_to(cid, port);
	pid_t pid;
	int status;

	if (fd < 0)
		return 1;
	if (!expect_echo) {
		while (sent < bytes) {
			size_t n = bytes - sent < CHUNK ? bytes - sent : CHUNK;

			for (size_t i = 0; i < n; i++)
				out[i] = pattern(sent + i);
			if (write_all(fd, out, n) != 0) {
				perror("vsock-echo: write");
				return 1;
			}
			sent += n;
		}
		close(fd);
		printf("sent %llu\n", sent);
		return 0;
	}
	/* A writer process and a reader: the echo flows back concurrently. */
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		while (sent < bytes) {
			size_t n = bytes - sent < CHUNK ? bytes - sent : CHUNK;

			for (size_t i = 0; i < n; i++)
				out[i] = pattern(sent + i);
			if (write_all(fd, out, n) != 0)
				_exit(1);
			sent += n;
		}
		shutdown(fd, SHUT_WR);
		_exit(0);
	}
	for (;;) {
		ssize_t n = read(fd, in, sizeof(in));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("vsock-echo: read");
			return 1;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (in[i] != pattern(got + (unsigned long long)i)) {
				fprintf(stderr, "vsock-echo: mismatch at byte %llu\n",
					got + (unsigned long long)i);
				return 1;
			}
			sum += in[i];
		}
		got += (unsigned long long)n;
	}
	close(fd);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "vsock-echo: writer failed\n");
		return 1;
	}
	if (got != bytes) {
		fprintf(stderr, "vsock-echo: got %llu of %llu bytes back\n", got,
			bytes);
		return 1;
	}
	printf("ok %llu %u\n", got, sum);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vsock-echo [-d] [-w SECS] server|sink PORT\n"
		"       vsock-echo client|send CID PORT BYTES\n");
}

int main(int argc, char **argv)
{
	unsigned long long port, cid, bytes;
	int daemonize = 0;

	for (;;) {
		if (argc > 1 && strcmp(argv[1], "-d") == 0) {
			daemonize = 1;
			argv++;
			argc--;
		} else if (argc > 2 && strcmp(argv[1], "-w") == 0) {
			unsigned long long w;

			if (parse_u64(argv[2], &w) || w > 3600) {
				usage();
				return 2;
			}
			wait_secs = (unsigned)w;
			argv += 2;
			argc -= 2;
		} else {
			break;
		}
	}
	if (argc == 3 && (!strcmp(argv[1], "server") || !strcmp(argv[1], "sink"))) {
		if (parse_u64(argv[2], &port) || port > UINT32_MAX) {
			usage();
			return 2;
		}
		return run_server((unsigned)port, !strcmp(argv[1], "server"),
				  daemonize);
	}
	if (argc == 5 && (!strcmp(argv[1], "client") || !strcmp(argv[1], "send"))) {
		if (parse_u64(argv[2], &cid) || cid > UINT32_MAX ||
		    parse_u64(argv[3], &port) || port > UINT32_MAX ||
		    parse_u64(argv[4], &bytes)) {
			usage();
			return 2;
		}
		return run_client((unsigned)cid, (unsigned)port, bytes,
				  !strcmp(argv[1], "client"));
	}
	usage();
	return 2;
}

// SPDX-License-Identifier: MIT
/*
 * upcall-vsockd: a vhost-user virtio-vsock back-end that connects guest
 * vsock streams to host Unix sockets (the "hybrid vsock" convention).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "host_uds.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "vhost_user.h"
#include "vsock_dev.h"

#ifndef VERSION
#define VERSION "unknown"
#endif

#define DEFAULT_CID 3
#define DEFAULT_TX_BUFFER (64u * 1024)
#define MIN_TX_BUFFER 4096u
#define MAX_TX_BUFFER (16u * 1024 * 1024)

struct options {
	const char *socket_path;
	const char *uds_path;
	uint64_t guest_cid;
	uint32_t tx_buffer_size;
	int connect_timeout_ms;
	int reconnect_timeout_ms;
	unsigned max_conns;
	mode_t socket_mode;
	const char *stats_path;
	enum log_level level;
};

struct daemon {
	const struct options *opt;
	struct loop loop;
	struct vsock_dev dev;
	struct vhost_user vu;
	struct host_uds uds;
	struct ev_handler sig_ev;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: upcall-vsockd --socket PATH --uds-path PATH [OPTION]...\n"
		"vhost-user virtio-vsock back-end with hybrid Unix-socket connections.\n"
		"\n"
		"  --socket PATH            vhost-user socket to listen on (QEMU connects:\n"
		"                           -chardev socket,path=PATH)\n"
		"  --uds-path PATH          host side: clients connect here and write\n"
		"                           \"CONNECT <port>\\n\" (keyword in any case, spaces\n"
		"                           and tabs around the words); guest connections\n"
		"                           to host port P go to PATH_P\n"
		"  --guest-cid N            guest CID reported to the guest (default %d)\n"
		"  --tx-buffer-size BYTES   per-connection buffer for guest data, the credit\n"
		"                           the guest gets (default 64K; %uK..%uM; K/M suffix)\n"
		"  --connect-timeout MS     how long the guest has to accept a host\n"
		"                           connection (default 5000)\n"
		"  --reconnect-timeout MS   how long guest connections wait for a front-end\n"
		"                           that resumes the same rings after the front-end\n"
		"                           disconnected (default 5000; 0: close at once)\n"
		"  --max-connections N      connections at once, host clients still sending\n"
		"                           their request line included (default %u,\n"
		"                           like Firecracker; 1..65536). More are refused:\n"
		"                           host clients are closed, guests get a reset.\n"
		"                           Memory for guest data is at most N times\n"
		"                           --tx-buffer-size\n"
		"  --socket-mode MODE       permissions (octal) of both Unix sockets the\n"
		"                           daemon creates (default 0600: owner only; every\n"
		"                           host user who can connect to --uds-path is the\n"
		"                           host, CID 2, to the guest). 0660 lets a group in\n"
		"  --stats PATH             on SIGUSR1 and at exit, write the counters to\n"
		"                           PATH as name=value lines (they always go to\n"
		"                           the log too, on SIGUSR1 and at exit)\n"
		"  --log-level LEVEL        silent, error, warn, info (default), debug\n"
		"  -v, --verbose            log-level debug     -q, --quiet  log-level warn\n"
		"  -h, --help               this text           -V, --version\n"
		"\n"
		"Signals: SIGTERM/SIGINT stop it (counters logged); SIGUSR1 logs the counters\n"
		"(and writes --stats PATH).\n",
		DEFAULT_CID, MIN_TX_BUFFER / 1024, MAX_TX_BUFFER / (1024 * 1024),
		VSOCK_DEFAULT_MAX_CONNS);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	*out = v;
	return (int)(end - s);
}

static int parse_size(const char *s, uint32_t *out)
{
	uint64_t v, mult = 1;
	int n = parse_u64(s, &v);
	const char *suffix;

	if (n < 0)
		return -1;
	suffix = s + n;
	if (!strcmp(suffix, "K") || !strcmp(suffix, "KiB"))
		mult = 1024;
	else if (!strcmp(suffix, "M") || !strcmp(suffix, "MiB"))
		mult = 1024 * 1024;
	else if (*suffix)
		return -1;
	if (v > UINT32_MAX / mult)
		return -1;
	*out = (uint32_t)(v * mult);
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "uds-path", required_argument, NULL, 'u' },
		{ "guest-cid", required_argument, NULL, 'c' },
		{ "tx-buffer-size", required_argument, NULL, 'b' },
		{ "connect-timeout", required_argument, NULL, 't' },
		{ "reconnect-timeout", required_argument, NULL, 'r' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "socket-mode", required_argument, NULL, 'M' },
		{ "stats", required_argument, NULL, 'S' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int opt;

	*o = (struct options){
		.guest_cid = DEFAULT_CID,
		.tx_buffer_size = DEFAULT_TX_BUFFER,
		.connect_timeout_ms = 5000,
		.reconnect_timeout_ms = 5000,
		.max_conns = VSOCK_DEFAULT_MAX_CONNS,
		.socket_mode = SOCKET_MODE_DEFAULT,
		.level = LOG_INFO,
	};
	while ((opt = getopt_long(argc, argv, "vqhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o->socket_path = optarg;
			break;
		case 'u':
			o->uds_path = optarg;
			break;
		case 'c':
			/* 0-2 are reserved, U32_MAX is "any" for the guest. */
			if (parse_u64(optarg, &v) != (int)strlen(optarg) ||
			    v < 3 || v >= UINT32_MAX) {
				fprintf(stderr, "upcall-vsockd: --guest-cid: "
					"'%s' is not a CID in 3..4294967294\n",
					optarg);
				return 2;
			}
			o->guest_cid = v;
			break;
		case 'b':
			if (parse_size(optarg, &o->tx_buffer_size) != 0 ||
			    o->tx_buffer_size < MIN_TX_BUFFER ||
			    o->tx_buffer_size > MAX_TX_BUFFER) {
				fprintf(stderr, "upcall-vsockd: --tx-buffer-size: "
					"'%s' is not a size in %uK..%uM\n",
					optarg, MIN_TX_BUFFER / 1024,
					MAX_TX_BUFFER / (1024 * 1024));
				return 2;
			}
			break;
		case 't':
			if (parse_u64(optarg, &v) != (int)strlen(optarg) ||
			    v < 1 || v > 3600000) {
				fprintf(stderr, "upcall-vsockd: --connect-timeout: "
					"'%s' is not milliseconds in 1..3600000\n",
					optarg);
				return 2;
			}
			o->connect_timeout_ms = (int)v;
			break;
		case 'r':
			if (parse_u64(optarg, &v) != (int)strlen(optarg) ||
			    v > 3600000) {
				fprintf(stderr, "upcall-vsockd: --reconnect-timeout: "
					"'%s' is not milliseconds in 0..3600000\n",
					optarg);
				return 2;
			}
			o->reconnect_timeout_ms = (int)v;
			break;
		case 'm':
			if (parse_u64(optarg, &v) != (int)strlen(optarg) ||
			    v < 1 || v > 65536) {
				fprintf(stderr, "upcall-vsockd: --max-connections: "
					"'%s' is not a number in 1..65536\n",
					optarg);
				return 2;
			}
			o->max_conns = (unsigned)v;
			break;
		case 'S':
			o->stats_path = optarg;
			break;
		case 'M': {
			char *end;
			unsigned long m;

			errno = 0;
			m = strtoul(optarg, &end, 8);
			if (errno || end == optarg || *end || m > 0777 ||
			    *optarg < '0' || *optarg > '7') {
				fprintf(stderr, "upcall-vsockd: --socket-mode: "
					"'%s' is not an octal mode in 0..0777\n",
					optarg);
				return 2;
			}
			o->socket_mode = (mode_t)m;
			break;
		}
		case 'l':
			if (log_parse_level(optarg, &o->level) != 0) {
				fprintf(stderr, "upcall-vsockd: --log-level: "
					"'%s' is not silent, error, warn, info or debug\n",
					optarg);
				return 2;
			}
			break;
		case 'v':
			o->level = LOG_DEBUG;
			break;
		case 'q':
			o->level = LOG_WARN;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("upcall-vsockd %s\n", VERSION);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "upcall-vsockd: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (!o->socket_path || !o->uds_path) {
		fprintf(stderr, "upcall-vsockd: --socket and --uds-path are "
			"required (see --help)\n");
		return 2;
	}
	return 0;
}

/* All counters: the device's, the hybrid listener's, the front-end's. */
static void format_stats(const struct daemon *dm, char *buf, size_t len,
			 const char *sep)
{
	int n = vsock_dev_format_stats(&dm->dev, buf, len, sep);

	if (n < 0 || (size_t)n >= len)
		return;
	snprintf(buf + n, len - (size_t)n,
		 "%shost_clients_accepted=%llu%shost_clients_refused=%llu%s"
		 "host_clients_shed=%llu%sbad_request_lines=%llu%s"
		 "request_line_timeouts=%llu%sfrontend_sessions=%u%s"
		 "frontends_refused=%u", sep,
		 (unsigned long long)dm->uds.stats.accepted, sep,
		 (unsigned long long)dm->uds.stats.refused_limit, sep,
		 (unsigned long long)dm->uds.guard.shed, sep,
		 (unsigned long long)dm->uds.stats.bad_lines, sep,
		 (unsigned long long)dm->uds.stats.timeouts, sep,
		 dm->vu.sessions, sep, dm->vu.refused);
}

/* The counters to the log and, with --stats PATH, atomically to PATH. */
static void dump_stats(const struct daemon *dm)
{
	char line[1024], tmp[4200];
	FILE *f;
	int n;

	format_stats(dm, line, sizeof(line), " ");
	log_stats("%s", line);
	if (!dm->opt->stats_path)
		return;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", dm->opt->stats_path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		log_warn("--stats %s: path too long", dm->opt->stats_path);
		return;
	}
	format_stats(dm, line, sizeof(line), "\n");
	f = fopen(tmp, "we");
	if (!f || fprintf(f, "%s\n", line) < 0 || fclose(f) != 0 ||
	    rename(tmp, dm->opt->stats_path) != 0) {
		log_warn("--stats %s: %s", dm->opt->stats_path, strerror(errno));
		unlink(tmp);
	}
}

static void signal_event(struct ev_handler *h, uint32_t events)
{
	struct daemon *dm = container_of(h, struct daemon, sig_ev);
	struct signalfd_siginfo si;

	(void)events;
	while (read(h->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			dump_stats(dm);
			continue;
		}
		log_info("signal %u: shutting down", si.ssi_signo);
		dm->loop.stop = true;
	}
}

static void after_batch(void *ctx)
{
	struct daemon *dm = ctx;

	host_uds_tick(&dm->uds);
	vhost_user_tick(&dm->vu);
	vsock_dev_after_batch(&dm->dev);
}

static int min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	return b >= 0 && b < a ? b : a;
}

static int next_timeout(void *ctx)
{
	struct daemon *dm = ctx;

	return min_timeout(min_timeout(vsock_dev_next_timeout(&dm->dev),
				       host_uds_next_timeout(&dm->uds)),
			   vhost_user_next_timeout(&dm->vu));
}

/*
 * Each connection holds one descriptor (two while a host client still
 * sends its line). Raise the soft open-file limit towards what the limit
 * needs; when the hard limit is lower, say so: accept() failures are then
 * shed (see listener.h), never spun on.
 */
static void fit_fd_limit(unsigned max_conns)
{
	rlim_t want = (rlim_t)max_conns * 2 + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		log_warn("open-file limit %llu (hard) is below the %llu that "
			 "%u connections may need; extra clients will be refused",
			 (unsigned long long)rl.rlim_max,
			 (unsigned long long)want, max_conns);
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn("setrlimit(RLIMIT_NOFILE, %llu): %s",
			 (unsigned long long)want, strerror(errno));
}

int main(int argc, char **argv)
{
	struct daemon dm;
	struct options o;
	sigset_t mask;
	int r, sfd;

	r = parse_options(argc, argv, &o);
	if (r)
		return r == 1 ? 0 : 2;
	log_set_level(o.level);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return 1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) {
		perror("sigprocmask");
		return 1;
	}
	memset(&dm, 0, sizeof(dm));
	dm.opt = &o;
	if (loop_init(&dm.loop) != 0) {
		perror("epoll_create1");
		return 1;
	}
	dm.loop.ctx = &dm;
	dm.loop.after_batch = after_batch;
	dm.loop.next_timeout = next_timeout;
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		perror("signalfd");
		return 1;
	}
	ev_init(&dm.sig_ev, sfd, signal_event);
	vsock_dev_init(&dm.dev, &dm.loop, o.guest_cid, o.tx_buffer_size,
		       o.uds_path);
	dm.dev.cx.connect_timeout_ms = o.connect_timeout_ms;
	dm.dev.reconnect_timeout_ms = o.reconnect_timeout_ms;
	dm.dev.max_conns = o.max_conns;
	fit_fd_limit(o.max_conns);
	r = ev_set(&dm.loop, &dm.sig_ev, EPOLLIN);
	if (r == 0)
		r = vhost_user_open(&dm.vu, &dm.loop, &dm.dev, o.socket_path,
				    o.socket_mode);
	if (r == 0) {
		r = host_uds_open(&dm.uds, &dm.loop, &dm.dev, o.uds_path,
				  o.socket_mode);
		if (r != 0)
			vhost_user_close(&dm.vu);
	}
	if (r != 0) {
		log_err("start-up failed: %s", strerror(-r));
		close(sfd);
		loop_fini(&dm.loop);
		return 1;
	}
	log_info("ready: guest CID %llu, buffer %u bytes, at most %u "
		 "connections (guest data buffers at most %llu MiB)",
		 (unsigned long long)o.guest_cid, o.tx_buffer_size, o.max_conns,
		 (unsigned long long)o.max_conns * o.tx_buffer_size >> 20);
	r = loop_run(&dm.loop);
	dump_stats(&dm);
	host_uds_close(&dm.uds);
	vhost_user_close(&dm.vu);
	vsock_dev_fini(&dm.dev);
	ev_del(&dm.loop, &dm.sig_ev);
	close(sfd);
	loop_fini(&dm.loop);
	return r == 0 ? 0 : 1;
}

/* SPDX-License-Identifier: MIT */
/*
 * The hybrid-vsock listener (--uds-path). It owns the listening socket and
 * every host client until the client's request line is complete; then it
 * hands the client's fd to the device (vsock_dev_host_connect), which owns
 * the connection from there on. Nothing here is called by the device.
 */
#ifndef VSOCKD_HOST_UDS_H
#define VSOCKD_HOST_UDS_H

#include <stdint.h>
#include <sys/types.h>

#include "listener.h"
#include "log.h"
#include "loop.h"
#include "vsock_dev.h"

#define HOST_UDS_LINE_MAX 32		/* request line, newline included */
#define HOST_UDS_LINE_TIMEOUT_MS 5000

struct host_uds;

/* A host client that has not finished its request line yet. */
struct uds_client {
	struct ev_handler ev;
	struct host_uds *u;
	struct uds_client *next;
	int64_t deadline_ms;
	bool dead;		/* closed, freed after the event batch */
	unsigned len;
	char line[HOST_UDS_LINE_MAX];
};

struct host_uds_stats {
	uint64_t accepted, refused_limit, bad_lines, timeouts;
};

struct host_uds {
	struct ev_handler ev;
	struct loop *loop;
	struct vsock_dev *dev;
	struct accept_guard guard;
	char path[108];
	struct uds_client *clients;	/* pending, and dead ones until freed */
	unsigned nclients;		/* pending */
	struct host_uds_stats stats;
	struct log_ratelimit rl;
};

/* Listens on path with permissions mode. 0 or -errno. */
int host_uds_open(struct host_uds *u, struct loop *loop, struct vsock_dev *d,
		  const char *path, mode_t mode);
void host_uds_close(struct host_uds *u);
/* After each event batch: deadlines, a paused listener, freeing. */
void host_uds_tick(struct host_uds *u);
/* Milliseconds until the next deadline, or -1. */
int host_uds_next_timeout(const struct host_uds *u);

/*
 * Parses a request line (without its newline): the keyword CONNECT in any
 * case, then the decimal port (0..4294967295), separated and surrounded by
 * any run of spaces or tabs (a CR counts as a space). 0 on success, -1
 * otherwise.
 */
int host_uds_parse_connect(const char *line, uint32_t *port);

#endif

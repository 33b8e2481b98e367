/* SPDX-License-Identifier: MIT */
/*
 * Listening Unix sockets for both of upcall-vsockd's listeners (the
 * vhost-user socket and the hybrid socket), and an accept() that never
 * spins. A level-triggered listener whose accept()
 * fails with EMFILE/ENFILE reports the same pending client again at once,
 * so a daemon out of descriptors burns a core and floods its log. The
 * guard keeps one spare descriptor: on EMFILE it frees the spare, accepts
 * the pending client, closes it (the client sees EOF: refused) and takes
 * the spare back. If even that fails (the whole system is out of files),
 * the caller stops listening until accept_guard_due() says to try again.
 */
#ifndef VSOCKD_LISTENER_H
#define VSOCKD_LISTENER_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"

#include <sys/types.h>

#define ACCEPT_GUARD_RETRY_MS 200
#define SOCKET_MODE_DEFAULT 0600

/*
 * Listening Unix socket at path (a stale socket file is replaced) with
 * permissions mode (0600 by default: every host user who can connect to
 * the hybrid socket is CID 2 to the guest). The path appears only once the
 * socket listens with its final mode. Returns the fd or -errno.
 */
int uds_listen(const char *path, int backlog, mode_t mode);

struct accept_guard {
	int spare_fd;		/* -1: none (could not be re-opened) */
	int64_t resume_ms;	/* listening paused until then; 0: not paused */
	uint64_t shed;		/* clients accepted and closed for lack of fds */
	struct log_ratelimit rl;
};

/* Opens the spare descriptor. 0 or -errno. */
int accept_guard_init(struct accept_guard *g);
void accept_guard_fini(struct accept_guard *g);

/*
 * Accepts one client (non-blocking, close-on-exec). Returns its fd, or
 * -EAGAIN when none is pending, -ECONNABORTED when one was shed (call
 * again), or -EMFILE when the caller must stop listening (resume_ms is
 * set; any other accept error counts as this, logged rate-limited). what
 * names the socket in logs.
 */
int accept_guarded(struct accept_guard *g, int lfd, const char *what);

/* Whether a paused listener should be re-armed now (clears the pause). */
bool accept_guard_due(struct accept_guard *g, int64_t now);
/* Milliseconds until then, or -1 when not paused. */
int accept_guard_timeout(const struct accept_guard *g, int64_t now);

#endif

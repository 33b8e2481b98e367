// SPDX-License-Identifier: MIT
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"

static int open_spare(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int accept_guard_init(struct accept_guard *g)
{
	memset(g, 0, sizeof(*g));
	g->spare_fd = open_spare();
	return g->spare_fd < 0 ? -errno : 0;
}

void accept_guard_fini(struct accept_guard *g)
{
	if (g->spare_fd >= 0)
		close(g->spare_fd);
	g->spare_fd = -1;
}

int accept_guarded(struct accept_guard *g, int lfd, const char *what)
{
	int fd, err;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		err = errno;
		if (err == EINTR || err == ECONNABORTED)
			continue;
		break;
	}
	if (err == EAGAIN)
		return -EAGAIN;
	if ((err == EMFILE || err == ENFILE) && g->spare_fd >= 0) {
		/*
		 * accept() takes a descriptor before it looks at the backlog,
		 * so EMFILE does not even say a client is pending.
		 */
		close(g->spare_fd);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		err = fd < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
		g->spare_fd = open_spare();
		if (fd < 0 && err == EAGAIN && g->spare_fd >= 0)
			return -EAGAIN;
		if (fd >= 0) {
			g->shed++;
			log_rl(&g->rl, LOG_WARN,
			       "%s: out of file descriptors (%s): refused a "
			       "client", what, strerror(err));
			return -ECONNABORTED;
		}
	}
	/*
	 * Out of files without a spare, or an error that would repeat on
	 * the same pending client: either way, trying again at once spins.
	 */
	g->resume_ms = now_ms() + ACCEPT_GUARD_RETRY_MS;
	log_rl(&g->rl, LOG_WARN, "%s: accept: %s; not accepting for %d ms",
	       what, strerror(err), ACCEPT_GUARD_RETRY_MS);
	return -EMFILE;
}

bool accept_guard_due(struct accept_guard *g, int64_t now)
{
	if (!g->resume_ms || now < g->resume_ms)
		return false;
	g->resume_ms = 0;
	if (g->spare_fd < 0)
		g->spare_fd = open_spare();
	return true;
}

int accept_guard_timeout(const struct accept_guard *g, int64_t now)
{
	if (!g->resume_ms)
		return -1;
	return g->resume_ms <= now ? 0 : (int)(g->resume_ms - now);
}

int uds_listen(const char *path, int backlog, mode_t mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_umask;
	int fd, err;
	bool tmp;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("%s: socket path too long (max %zu bytes)", path,
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("%s exists and is not a socket", path);
			return -EEXIST;
		}
		if (unlink(path) != 0) {
			err = errno;
			log_err("remove stale %s: %s", path, strerror(err));
			return -err;
		}
	}
	/*
	 * Bind under a temporary name and rename into place once listening,
	 * so whoever waits for the path never meets a socket that refuses.
	 */
	tmp = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.new", path) <
	      (int)sizeof(sa.sun_path);
	if (!tmp)
		strcpy(sa.sun_path, path);
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		log_err("socket: %s", strerror(err));
		return -err;
	}
	/*
	 * fchmod() on a socket does not change its file: bind owner-only,
	 * then chmod the bound name before it is renamed into place, so no
	 * one ever sees it with a wider mode than asked for.
	 */
	old_umask = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (err != 0 || chmod(sa.sun_path, mode) != 0 ||
	    listen(fd, backlog) != 0 ||
	    (tmp && rename(sa.sun_path, path) != 0)) {
		err = errno;
		log_err("listen on %s: %s", path, strerror(err));
		unlink(sa.sun_path);
		close(fd);
		return -err;
	}
	return fd;
}

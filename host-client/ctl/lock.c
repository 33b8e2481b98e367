// SPDX-License-Identifier: MIT
/*
 * upcall-ctl: the per-VM transaction lock (see lock.h). flock() goes with
 * the open file, so a crashed run never leaves a stale lock behind; the
 * files stay (removing one could split waiters between two inodes). The
 * holder writes its pid into the file so a waiter can say who holds it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fdwait.h"
#include "interrupt.h"
#include "lock.h"

static void note_holder(int fd)
{
	char pid[32];
	/* Fixed width, so it overwrites any earlier holder's pid (at most
	 * 20 digits) without an ftruncate(), which costs a metadata update
	 * (0.4-0.9 ms on ext4 here) on every run. */
	int len = snprintf(pid, sizeof(pid), "%-20ld\n", (long)getpid());

	/* Only for a waiter's message: a read-only lock file just lacks it. */
	if (pwrite(fd, pid, (size_t)len, 0) != len)
		return;
}

static long read_holder(int fd)
{
	char buf[32] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return sscanf(buf, "%ld", &pid) == 1 ? pid : -1;
}

static int lock_one(struct ctl *c, const char *sock, int64_t deadline,
		    int *out, struct ctl_status *st)
{
	char path[PATH_MAX];
	struct stat sb;
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	int fd;

	/* No socket, no VM to protect: the connection fails on its own, with
	 * its own message, and no lock file is left where there is no VM. */
	if (stat(sock, &sb) < 0 && errno == ENOENT)
		return CTL_OK;
	if (snprintf(path, sizeof(path), "%s.lock", sock) >= (int)sizeof(path))
		return ctl_fail(st, CTL_ECONN, ENAMETOOLONG, "%s.lock: path too long", sock);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 && (errno == EACCES || errno == EROFS))
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return ctl_fail(st, CTL_ECONN, errno,
				"cannot open the VM's lock file %s: %s (--no-lock runs without it)",
				path, strerror(errno));
	ctl_debug(c, "locking %s", path);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		long holder;

		if (ctl_interrupted()) {
			ctl_interrupt_fail(st, "stopped while waiting for the VM's lock %s; nothing was done",
					   path);
			close(fd);
			return st->code;
		}
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			ctl_fail(st, CTL_ECONN, errno, "flock %s: %s", path, strerror(errno));
			close(fd);
			return st->code;
		}
		if (uc_now_ms() >= deadline) {
			char who[48] = "another upcall-ctl";

			holder = read_holder(fd);
			if (holder > 0)
				snprintf(who, sizeof(who), "another upcall-ctl (pid %ld)", holder);
			ctl_fail(st, CTL_ECONN, EBUSY,
				 "%s is working on this VM: %s still locked after %d.%03d s (--lock-wait)",
				 who, path, c->lock_wait_ms / 1000, c->lock_wait_ms % 1000);
			close(fd);
			return st->code;
		}
		nanosleep(&pause, NULL);
	}
	note_holder(fd);
	*out = fd;
	return CTL_OK;
}

int ctl_lock_vm(struct ctl *c, struct ctl_lock *lk, struct ctl_status *st)
{
	int64_t deadline = uc_now_ms() + c->lock_wait_ms;
	const char *socks[2] = { c->qmp, c->uds };

	int err;

	lk->n = 0;
	/* From here to ctl_unlock_vm() a signal only stops the run at a
	 * safe point (interrupt.h), with or without the lock files. */
	err = ctl_interrupt_defer();
	if (err)
		return ctl_fail(st, CTL_ECONN, err, "sigaction: %s", strerror(-err));
	if (c->no_lock)
		return CTL_OK;
	/* Always QMP first, then the guest's socket: no two runs can each
	 * hold the lock the other waits for. */
	for (unsigned int i = 0; i < 2; i++) {
		if (!socks[i])
			continue;
		lk->fd[lk->n] = -1;
		if (lock_one(c, socks[i], deadline, &lk->fd[lk->n], st)) {
			ctl_unlock_vm(lk);
			return st->code;
		}
		if (lk->fd[lk->n] >= 0)
			lk->n++;
	}
	return CTL_OK;
}

void ctl_unlock_vm(struct ctl_lock *lk)
{
	/* Closing releases the flock. Reverse order of taking. */
	while (lk->n > 0)
		close(lk->fd[--lk->n]);
	ctl_interrupt_restore();
}

// SPDX-License-Identifier: GPL-2.0
/* PID 1 setup: file systems, console, environment. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"

struct mountpoint {
	const char *target, *fstype, *data;
	unsigned long flags;
};

static const struct mountpoint mounts[] = {
	{ "/dev", "devtmpfs", "mode=0755", MS_NOSUID },
	{ "/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
	{ "/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
	{ "/tmp", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV },
	{ "/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV },
};

void setup_mounts(struct agent *ag)
{
	size_t i;

	ag->mounts_ok = true;
	for (i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		const struct mountpoint *m = &mounts[i];
		char what[64];

		if (mkdir(m->target, 0755) < 0 && errno != EEXIST) {
			snprintf(what, sizeof(what), "mkdir %s", m->target);
			log_errno(what);
		}
		/* EBUSY: already mounted (e.g. CONFIG_DEVTMPFS_MOUNT) */
		if (mount(m->fstype, m->target, m->fstype, m->flags, m->data) < 0 &&
		    errno != EBUSY) {
			snprintf(what, sizeof(what), "mount %s on %s",
				 m->fstype, m->target);
			log_errno(what);
			ag->mounts_ok = false;
		}
	}
}

void setup_console(struct agent *ag)
{
	int fd, i;

	/* the fresh devtmpfs has its own node; reopen on it */
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0) {
		log_errno("open /dev/console");
		ag->console_ok = false;
		return;
	}
	ag->console_ok = true;
	for (i = 0; i < 3; i++) {
		if (fd != i && dup2(fd, i) < 0) {
			log_errno("dup2 console");
			ag->console_ok = false;
		}
	}
	if (fd > 2 && close(fd) < 0)
		log_errno("close console");
}

void setup_environment(void)
{
	if (setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1) < 0 ||
	    setenv("HOME", "/", 1) < 0)
		log_errno("setenv");
	umask(022);
	if (chdir("/") < 0)
		log_errno("chdir /");
}

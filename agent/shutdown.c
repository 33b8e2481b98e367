// SPDX-License-Identifier: GPL-2.0
/* halt, poweroff, reboot; see shutdown.h. */
#include "shutdown.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "children.h"
#include "fdio.h"
#include "log.h"

/* time the processes get to exit after SIGTERM, then after SIGKILL */
#define TERM_GRACE_MS 2000
#define KILL_GRACE_MS 1000
/* how often the sequence looks whether every process is gone */
#define POLL_MS 20

enum phase { IDLE, TERM_SENT, KILL_SENT };

static struct {
	struct watch sigfd;
	struct loop_timer timer;
	enum phase phase;
	enum shutdown_how how;
	unsigned long long phase_end;
} sd = { .sigfd = { .fd = -1 } };

static const char *const how_name[] = {
	[SHUTDOWN_HALT] = "halt",
	[SHUTDOWN_POWEROFF] = "poweroff",
	[SHUTDOWN_REBOOT] = "reboot",
};

/*
 * Without a power-off handler, Linux's reboot(2) turns RB_POWER_OFF into a
 * halt (kernel/reboot.c), which would leave the VM running with stopped
 * CPUs. On x86 that handler is ACPI's, and /sys/firmware/acpi exists only
 * when ACPI is up; the test guests have none (acpi=off / no CONFIG_ACPI).
 */
static bool can_power_off(void)
{
	return access("/sys/firmware/acpi", F_OK) == 0;
}

static void final_step(void)
{
	int cmd = RB_AUTOBOOT;

	sync();
	switch (sd.how) {
	case SHUTDOWN_HALT:
		cmd = RB_HALT_SYSTEM;
		break;
	case SHUTDOWN_POWEROFF:
		if (can_power_off()) {
			cmd = RB_POWER_OFF;
			break;
		}
		/* a reset ends QEMU under -no-reboot, as tools/vm runs it */
		log_msg("poweroff: no power-off method (no ACPI): resetting instead");
		break;
	case SHUTDOWN_REBOOT:
		break;
	}
	log_msg("%s: processes stopped, file systems synced, calling reboot(2)",
		how_name[sd.how]);
	if (reboot(cmd) < 0)
		log_errno("reboot");
	/* still here: serve on, a new request may try again */
	sd.phase = IDLE;
}

static void on_timer(struct loop_timer *t, unsigned long long now)
{
	bool left = children_reap();

	if (left && now < sd.phase_end) {
		loop_timer_arm(t, POLL_MS);
		return;
	}
	if (left && sd.phase == TERM_SENT) {
		log_msg("%s: processes left after %d ms, sending SIGKILL",
			how_name[sd.how], TERM_GRACE_MS);
		if (kill(-1, SIGKILL) < 0 && errno != ESRCH)
			log_errno("kill -1 SIGKILL");
		sd.phase = KILL_SENT;
		sd.phase_end = now_ms() + KILL_GRACE_MS;
		loop_timer_arm(t, POLL_MS);
		return;
	}
	if (left)
		log_msg("%s: processes still left, going on", how_name[sd.how]);
	final_step();
}

void shutdown_start(enum shutdown_how how)
{
	if (sd.phase != IDLE) {
		log_msg("%s requested while a %s is under way: ignored",
			how_name[how], how_name[sd.how]);
		return;
	}
	/* kill(-1) from anything but PID 1 would hit the whole machine */
	if (getpid() != 1) {
		log_msg("%s: not PID 1, not shutting anything down",
			how_name[how]);
		return;
	}
	sd.how = how;
	sd.phase = TERM_SENT;
	sd.phase_end = now_ms() + TERM_GRACE_MS;
	log_msg("%s: sending SIGTERM to all processes", how_name[how]);
	/* every process but PID 1 itself (kill(2)) */
	if (kill(-1, SIGTERM) < 0 && errno != ESRCH)
		log_errno("kill -1 SIGTERM");
	loop_timer_arm(&sd.timer, 0);
}

static void on_signal(struct watch *w, uint32_t events)
{
	struct signalfd_siginfo si;
	ssize_t r;

	(void)events;
	for (;;) {
		enum shutdown_how how;
		const char *name;

		r = read(w->fd, &si, sizeof(si));
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(si))
			break;
		switch (si.ssi_signo) {
		case SIGUSR1:
			how = SHUTDOWN_HALT;
			name = "SIGUSR1";
			break;
		case SIGUSR2:
			how = SHUTDOWN_POWEROFF;
			name = "SIGUSR2";
			break;
		default:
			how = SHUTDOWN_REBOOT;
			name = "SIGTERM";
			break;
		}
		log_msg("%s: %s (from pid %u)", name, how_name[how],
			(unsigned int)si.ssi_pid);
		shutdown_start(how);
	}
	if (r < 0 && errno != EAGAIN)
		log_errno("read signalfd");
}

int shutdown_init(struct loop *l)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		log_errno("sigprocmask");
		return -1;
	}
	loop_timer_add(l, &sd.timer, on_timer);
	sd.sigfd.fn = on_signal;
	sd.sigfd.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sd.sigfd.fd < 0) {
		log_errno("signalfd");
		return -1;
	}
	if (loop_add(l, &sd.sigfd, EPOLLIN) < 0) {
		loop_close(&sd.sigfd);
		return -1;
	}
	return 0;
}

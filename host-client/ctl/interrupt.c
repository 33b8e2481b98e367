// SPDX-License-Identifier: MIT
/*
 * upcall-ctl: deferring SIGINT/SIGTERM/SIGHUP during a transaction
 * (interrupt.h says why and what a run does with them).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "interrupt.h"

static const int deferred[] = { SIGINT, SIGTERM, SIGHUP };
static struct sigaction saved[sizeof(deferred) / sizeof(deferred[0])];
static bool active;
static volatile sig_atomic_t noted;

static void note(int sig)
{
	/* Only the first counts; SA_RESETHAND lets the next one kill. */
	if (!noted)
		noted = sig;
}

int ctl_interrupt_defer(void)
{
	struct sigaction sa;

	if (active)
		return 0;
	noted = 0; /* a new transaction: only its own signals count */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = note;
	sa.sa_flags = SA_RESETHAND; /* no SA_RESTART: waits see EINTR and
				     * loop on their own deadlines */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(deferred) / sizeof(deferred[0]); i++) {
		if (sigaction(deferred[i], &sa, &saved[i]) < 0) {
			int err = errno;

			while (i-- > 0)
				sigaction(deferred[i], &saved[i], NULL);
			return -err;
		}
	}
	active = true;
	return 0;
}

void ctl_interrupt_restore(void)
{
	if (!active)
		return;
	/* Restoring the actions we saved cannot fail for these signals. */
	for (size_t i = 0; i < sizeof(deferred) / sizeof(deferred[0]); i++)
		(void)sigaction(deferred[i], &saved[i], NULL);
	active = false;
}

int ctl_interrupted(void)
{
	return noted;
}

int ctl_interrupt_fail(struct ctl_status *st, const char *fmt, ...)
{
	const char *name = sigabbrev_np(noted);
	char what[sizeof(st->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return ctl_fail(st, CTL_EXIT_SIGNAL(noted), EINTR, "SIG%s: %s",
			name ? name : "?", what);
}

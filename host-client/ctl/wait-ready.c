// SPDX-License-Identifier: MIT
/*
 * upcall-ctl wait-ready: retry until the guest's upcall server answers with
 * the device manager's greeting, or the time is up.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

/* Without --timeout a boot gets this long (TCG guests are slow). */
#define WAIT_READY_DEFAULT_MS 30000
#define WAIT_READY_RETRY_MS 100

static const char wait_ready_usage[] =
	"Usage: upcall-ctl [OPTIONS] wait-ready [--timeout SECONDS]\n"
	"\n"
	"Connect to the guest's upcall server again and again until its device\n"
	"manager answers with the expected greeting. Exits 0 when it does, 3\n"
	"when the time is up (default 30 s) with the last error.\n"
	"\n"
	"  --timeout SECONDS   give up after this long\n"
	"  -h, --help          this text\n";

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int wait_ready_main(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	char last[512] = "no attempt made";
	long long start = mono_ms(), deadline;
	int opt, total_ms, attempts = 0, last_err = ETIMEDOUT;

	optind = 0;
	while ((opt = getopt_long(argc, argv, CTL_GLOBAL_SHORTOPTS, opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			return ctl_help(c, wait_ready_usage);
		case '?':
			return ctl_usage_error(c, wait_ready_usage, "wait-ready: bad option");
		default:
			if (ctl_global_option(c, opt, optarg))
				return CTL_EUSAGE;
		}
	}
	if (optind < argc)
		return ctl_usage_error(c, wait_ready_usage, "unexpected argument '%s'",
				       argv[optind]);
	if (!c->uds && !c->have_cid)
		return ctl_usage_error(c, NULL,
				       "no guest address: give --uds PATH, --cid N or --run DIR");
	json_object_object_add(c->result, "command", json_object_new_string("wait-ready"));
	total_ms = c->timeout_set ? c->timeout_ms : WAIT_READY_DEFAULT_MS;
	deadline = start + total_ms;

	for (;;) {
		long long left = deadline - mono_ms();
		struct upcall *h = upcall_new();
		int err;

		if (!h)
			return ctl_error(c, CTL_ECONN, ENOMEM, "out of memory");
		attempts++;
		/* Each attempt gets what is left, at most 2 s: a stuck attempt
		 * must not eat the whole budget. */
		upcall_set_timeout(h, left < 1 ? 1 : left > 2000 ? 2000 : (int)left);
		err = c->uds ? upcall_connect_hybrid(h, c->uds, c->port) :
			       upcall_connect_vsock(h, c->cid, c->port);
		if (!err)
			err = upcall_devmgr_start(h);
		if (!err) {
			upcall_free(h);
			json_object_object_add(c->result, "attempts", json_object_new_int(attempts));
			json_object_object_add(c->result, "elapsed_ms",
					       json_object_new_int64(mono_ms() - start));
			ctl_info(c, "guest ready after %lld ms (%d attempt%s)",
				 mono_ms() - start, attempts, attempts == 1 ? "" : "s");
			return CTL_OK;
		}
		if (strcmp(last, upcall_last_error(h)))
			ctl_debug(c, "attempt %d: %s", attempts, upcall_last_error(h));
		/* An attempt cut short by the overall deadline says less than
		 * what the attempts before it ran into. */
		if (err != -ETIMEDOUT || attempts == 1 || mono_ms() < deadline) {
			snprintf(last, sizeof(last), "%s", upcall_last_error(h));
			last_err = -err;
		}
		upcall_free(h);
		left = deadline - mono_ms();
		if (left <= 0)
			break;
		struct timespec ts = { 0, (left < WAIT_READY_RETRY_MS ? left :
					   WAIT_READY_RETRY_MS) * 1000000L };
		nanosleep(&ts, NULL);
	}
	json_object_object_add(c->result, "attempts", json_object_new_int(attempts));
	return ctl_error(c, CTL_ECONN, last_err,
			 "guest not ready after %d ms (%d attempts); last error: %s",
			 total_ms, attempts, last);
}

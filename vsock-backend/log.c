// SPDX-License-Identifier: MIT
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level threshold = LOG_INFO;

static const char *const level_names[] = {
	[LOG_SILENT] = "silent",
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	threshold = level;
}

enum log_level log_get_level(void)
{
	return threshold;
}

int log_parse_level(const char *name, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	if (level > threshold || level == LOG_SILENT)
		return;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		ts.tv_sec = ts.tv_nsec = 0;
	fprintf(stderr, "upcall-vsockd[%ld.%03ld] %s: ", (long)ts.tv_sec,
		ts.tv_nsec / 1000000, level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void log_stats(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	if (threshold == LOG_SILENT)
		return;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		ts.tv_sec = ts.tv_nsec = 0;
	fprintf(stderr, "upcall-vsockd[%ld.%03ld] stats: ", (long)ts.tv_sec,
		ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static long long mono_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int log_ratelimit_ok(struct log_ratelimit *rl)
{
	long long now = mono_ms();

	if (rl->window_start_ms == 0 ||
	    now - rl->window_start_ms >= LOG_RL_INTERVAL_MS) {
		if (rl->suppressed)
			log_msg(LOG_WARN, "%u similar messages suppressed in the "
				"last %d s", rl->suppressed,
				LOG_RL_INTERVAL_MS / 1000);
		rl->window_start_ms = now ? now : 1;
		rl->printed = rl->suppressed = 0;
	}
	if (rl->printed < LOG_RL_BURST) {
		rl->printed++;
		return 1;
	}
	rl->suppressed++;
	return 0;
}

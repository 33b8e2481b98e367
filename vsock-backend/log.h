/* SPDX-License-Identifier: MIT */
/* Leveled logging to stderr for upcall-vsockd. */
#ifndef VSOCKD_LOG_H
#define VSOCKD_LOG_H

/* LOG_SILENT: nothing at all (for the fuzzer and quiet tests). */
enum log_level { LOG_SILENT = 0, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/*
 * The threshold is the only process-wide state of the daemon: it is set
 * once from the command line and read by every component that logs.
 */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
int log_parse_level(const char *name, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Counters the operator asked for: printed at every level but silent. */
void log_stats(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Rate limit for messages an outside party can cause at will (guest
 * packets, host clients, accept failures): at most LOG_RL_BURST lines per
 * LOG_RL_INTERVAL_MS per limiter, then one line saying how many were
 * suppressed. Each limiter lives in the struct that owns the source.
 */
#define LOG_RL_BURST 10
#define LOG_RL_INTERVAL_MS 5000

struct log_ratelimit {
	long long window_start_ms;
	unsigned printed, suppressed;
};

/* Whether the next message may be printed (counts it either way). */
int log_ratelimit_ok(struct log_ratelimit *rl);

#define log_rl(rl, level, ...)                                                 \
	do {                                                                   \
		if (log_get_level() >= (level) && log_ratelimit_ok(rl))        \
			log_msg((level), __VA_ARGS__);                         \
	} while (0)

#define log_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_dbg(...)                                                           \
	do {                                                                   \
		if (log_get_level() >= LOG_DEBUG)                              \
			log_msg(LOG_DEBUG, __VA_ARGS__);                       \
	} while (0)

#endif

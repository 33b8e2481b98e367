/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Console output. Human messages start with "agent: "; machine lines are
 * "UPCALL <KEYWORD> <json>" (docs/agent.md) and go out in one write so
 * they are not interleaved with other console writers mid-line.
 */
#ifndef AGENT_LOG_H
#define AGENT_LOG_H

/* "agent: <what>: <strerror(errno)>" */
void log_errno(const char *what);
/* "agent: <formatted message>" */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "UPCALL <keyword> <json>" */
void log_upcall(const char *keyword, const char *json);

#endif

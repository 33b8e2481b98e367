/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's CPU list syntax ("0-3,5", "" for none), as found in
 * /sys/devices/system/cpu/{online,present,possible}. Pure.
 */
#ifndef AGENT_CPULIST_H
#define AGENT_CPULIST_H

#include <stddef.h>

/* CPU numbers above this are rejected (the kernel's NR_CPUS is lower). */
#define CPULIST_MAX_CPU 65535

/*
 * Counts the CPUs in s[0..n) (a trailing newline is allowed). Returns the
 * count, or -1 if the text is not a valid list (garbage, reversed range,
 * number too big, empty element,
 * ranges out of order or overlapping).
 */
long cpulist_count(const char *s, size_t n);

#endif

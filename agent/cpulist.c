// SPDX-License-Identifier: GPL-2.0
/* CPU list counting; see cpulist.h. */
#include "cpulist.h"

#include <stdbool.h>
#include <stdint.h>

#include "strutil.h"

/* Reads a decimal number at s[*i..n), advancing *i. */
static bool read_num(const char *s, size_t n, size_t *i, uint64_t *v)
{
	size_t start = *i;

	while (*i < n && s[*i] >= '0' && s[*i] <= '9')
		(*i)++;
	return parse_u64_dec(s + start, *i - start, v) &&
	       *v <= CPULIST_MAX_CPU;
}

long cpulist_count(const char *s, size_t n)
{
	long count = 0;
	size_t i = 0;
	bool first = true;
	uint64_t prev_hi = 0;

	n = trim_trailing_space(s, n);
	if (n == 0)
		return 0;
	for (;;) {
		uint64_t lo, hi;

		if (!read_num(s, n, &i, &lo))
			return -1;
		hi = lo;
		if (i < n && s[i] == '-') {
			i++;
			if (!read_num(s, n, &i, &hi) || hi < lo)
				return -1;
		}
		/* the kernel prints ascending, disjoint ranges */
		if (!first && lo <= prev_hi)
			return -1;
		first = false;
		prev_hi = hi;
		count += (long)(hi - lo + 1);
		if (i == n)
			return count;
		if (s[i] != ',')
			return -1;
		i++;
	}
}

/* SPDX-License-Identifier: GPL-2.0 */
/* Small strict number parsers over (pointer, length) strings. Pure. */
#ifndef AGENT_STRUTIL_H
#define AGENT_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* All n bytes must be decimal digits (1..20 of them) without overflow. */
bool parse_u64_dec(const char *p, size_t n, uint64_t *out);
/* All n bytes must be hex digits (1..16), an optional 0x prefix allowed. */
bool parse_u64_hex(const char *p, size_t n, uint64_t *out);
/* Length of s[0..n) without trailing spaces, tabs and newlines. */
size_t trim_trailing_space(const char *s, size_t n);

/* Copies src into dst[dstsz]; false (and dst = "") if it does not fit. */
bool str_copy(char *dst, size_t dstsz, const char *src);

#endif

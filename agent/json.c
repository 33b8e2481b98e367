// SPDX-License-Identifier: GPL-2.0
/* Bounded JSON writer; see json.h. Pure: no I/O, unit-tested. */
#include "json.h"

#include <string.h>

void jb_init(struct jbuf *jb, char *buf, size_t cap)
{
	memset(jb, 0, sizeof(*jb));
	jb->buf = buf;
	jb->cap = cap;
	jb->first[0] = true;
	if (cap > 0)
		buf[0] = '\0';
}

/* Always keeps one byte free for the final NUL. */
static void put(struct jbuf *jb, const char *s, size_t n)
{
	if (jb->overflow)
		return;
	if (jb->cap == 0 || n > jb->cap - 1 - jb->len) {
		jb->overflow = true;
		return;
	}
	memcpy(jb->buf + jb->len, s, n);
	jb->len += n;
}

static void putc_(struct jbuf *jb, char c)
{
	put(jb, &c, 1);
}

/* Separator before a value (in an array) or before a key (in an object). */
static void before_item(struct jbuf *jb)
{
	if (jb->after_key) {
		jb->after_key = false;
		return;
	}
	if (!jb->first[jb->depth])
		putc_(jb, ',');
	jb->first[jb->depth] = false;
}

static void open_(struct jbuf *jb, char c)
{
	before_item(jb);
	if (jb->depth + 1 >= JB_MAX_DEPTH) {
		jb->error = true;
		return;
	}
	putc_(jb, c);
	jb->depth++;
	jb->first[jb->depth] = true;
}

static void close_(struct jbuf *jb, char c)
{
	if (jb->depth == 0 || jb->after_key) {
		jb->error = true;
		return;
	}
	putc_(jb, c);
	jb->depth--;
}

void jb_obj_open(struct jbuf *jb)
{
	open_(jb, '{');
}

void jb_obj_close(struct jbuf *jb)
{
	close_(jb, '}');
}

void jb_arr_open(struct jbuf *jb)
{
	open_(jb, '[');
}

void jb_arr_close(struct jbuf *jb)
{
	close_(jb, ']');
}

/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there
 * are not valid UTF-8 (bad lead byte, overlong form, surrogate, > U+10FFFF,
 * or truncated).
 */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static void put_escaped(struct jbuf *jb, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	putc_(jb, '"');
	while (i < n) {
		unsigned char c = p[i];
		size_t seq;
		char esc[6];

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7f) {
			run++;
			i++;
			continue;
		}
		put(jb, s + i - run, run);
		run = 0;
		switch (c) {
		case '"':
			put(jb, "\\\"", 2);
			break;
		case '\\':
			put(jb, "\\\\", 2);
			break;
		case '\n':
			put(jb, "\\n", 2);
			break;
		case '\r':
			put(jb, "\\r", 2);
			break;
		case '\t':
			put(jb, "\\t", 2);
			break;
		default:
			if (c < 0x80) {	/* other controls and DEL */
				esc[0] = '\\';
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 0xf];
				put(jb, esc, 6);
				break;
			}
			seq = utf8_seq_len(p + i, n - i);
			if (seq == 0) {
				put(jb, "\\ufffd", 6);
				break;
			}
			put(jb, s + i, seq);
			i += seq - 1;
			break;
		}
		i++;
	}
	put(jb, s + i - run, run);
	putc_(jb, '"');
}

size_t jb_escaped_max(size_t n)
{
	/* worst case: every byte becomes a 6-byte \uXXXX, plus the quotes */
	return n * 6 + 2;
}

void jb_key(struct jbuf *jb, const char *key)
{
	if (jb->depth == 0 || jb->after_key) {
		jb->error = true;
		return;
	}
	before_item(jb);
	put_escaped(jb, key, strlen(key));
	putc_(jb, ':');
	jb->after_key = true;
}

void jb_strn(struct jbuf *jb, const char *s, size_t n)
{
	before_item(jb);
	put_escaped(jb, s, n);
}

void jb_str(struct jbuf *jb, const char *s)
{
	jb_strn(jb, s, strlen(s));
}

void jb_u64(struct jbuf *jb, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	before_item(jb);
	put(jb, tmp + i, sizeof(tmp) - i);
}

void jb_i64(struct jbuf *jb, int64_t v)
{
	uint64_t mag;

	if (v >= 0) {
		jb_u64(jb, (uint64_t)v);
		return;
	}
	/* -(v + 1) + 1 avoids overflow at INT64_MIN */
	mag = (uint64_t)(-(v + 1)) + 1;
	before_item(jb);
	putc_(jb, '-');
	jb->after_key = true;	/* the digits continue this same value */
	jb_u64(jb, mag);
}

void jb_bool(struct jbuf *jb, bool v)
{
	before_item(jb);
	if (v)
		put(jb, "true", 4);
	else
		put(jb, "false", 5);
}

void jb_null(struct jbuf *jb)
{
	before_item(jb);
	put(jb, "null", 4);
}

void jb_kv_str(struct jbuf *jb, const char *key, const char *s)
{
	jb_key(jb, key);
	jb_str(jb, s);
}

void jb_kv_strn(struct jbuf *jb, const char *key, const char *s, size_t n)
{
	jb_key(jb, key);
	jb_strn(jb, s, n);
}

void jb_kv_u64(struct jbuf *jb, const char *key, uint64_t v)
{
	jb_key(jb, key);
	jb_u64(jb, v);
}

void jb_kv_i64(struct jbuf *jb, const char *key, int64_t v)
{
	jb_key(jb, key);
	jb_i64(jb, v);
}

void jb_kv_bool(struct jbuf *jb, const char *key, bool v)
{
	jb_key(jb, key);
	jb_bool(jb, v);
}

long jb_finish(struct jbuf *jb)
{
	if (jb->overflow || jb->error || jb->depth != 0 || jb->after_key ||
	    jb->cap == 0)
		return -1;
	jb->buf[jb->len] = '\0';
	return (long)jb->len;
}

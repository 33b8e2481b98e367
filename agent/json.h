/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A bounded JSON writer. It never allocates and never writes past the
 * buffer: on overflow it sets a flag and jb_finish() reports failure, so a
 * caller can send an error instead of a cut-off object.
 *
 * Strings are written from arbitrary bytes: quotes, backslashes and control
 * characters are escaped, valid UTF-8 is kept, and every byte that is not
 * part of valid UTF-8 becomes U+FFFD, so the output is always valid JSON.
 */
#ifndef AGENT_JSON_H
#define AGENT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JB_MAX_DEPTH 8

struct jbuf {
	char *buf;
	size_t cap;
	size_t len;
	int depth;
	bool overflow;
	bool error;			/* misuse: unbalanced or too deep */
	bool after_key;			/* a key was written, a value is due */
	bool first[JB_MAX_DEPTH];	/* nothing written yet in this level */
};

void jb_init(struct jbuf *jb, char *buf, size_t cap);

void jb_obj_open(struct jbuf *jb);
void jb_obj_close(struct jbuf *jb);
void jb_arr_open(struct jbuf *jb);
void jb_arr_close(struct jbuf *jb);

void jb_key(struct jbuf *jb, const char *key);
void jb_strn(struct jbuf *jb, const char *s, size_t n);
void jb_str(struct jbuf *jb, const char *s);
void jb_u64(struct jbuf *jb, uint64_t v);
void jb_i64(struct jbuf *jb, int64_t v);
void jb_bool(struct jbuf *jb, bool v);
void jb_null(struct jbuf *jb);

/* key + value shorthands */
void jb_kv_str(struct jbuf *jb, const char *key, const char *s);
void jb_kv_strn(struct jbuf *jb, const char *key, const char *s, size_t n);
void jb_kv_u64(struct jbuf *jb, const char *key, uint64_t v);
void jb_kv_i64(struct jbuf *jb, const char *key, int64_t v);
void jb_kv_bool(struct jbuf *jb, const char *key, bool v);

/*
 * NUL-terminates and returns the length, or -1 if the buffer overflowed,
 * containers are unbalanced or the writer was misused.
 */
long jb_finish(struct jbuf *jb);

/* Bytes the escaped form of s[0..n) needs at most (for sizing buffers). */
size_t jb_escaped_max(size_t n);

#endif

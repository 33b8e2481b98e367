// SPDX-License-Identifier: GPL-2.0
/* Kernel uevent parsing and its JSON form. Pure: no I/O, unit-tested. */
#include "uevent.h"

#include <string.h>

#include "json.h"
#include "strutil.h"

static bool key_is(const char *p, size_t keylen, const char *key)
{
	return strlen(key) == keylen && memcmp(p, key, keylen) == 0;
}

static void take_field(struct uevent *ev, const char *p, size_t n)
{
	const char *eq = memchr(p, '=', n);
	size_t klen;
	struct ustr val;

	if (!eq || eq == p) {
		ev->bad_fields++;
		return;
	}
	ev->nfields++;
	klen = (size_t)(eq - p);
	val.p = eq + 1;
	val.n = n - klen - 1;

	if (key_is(p, klen, "ACTION"))
		ev->action = val;
	else if (key_is(p, klen, "DEVPATH"))
		ev->devpath = val;
	else if (key_is(p, klen, "SUBSYSTEM"))
		ev->subsystem = val;
	else if (key_is(p, klen, "DEVNAME"))
		ev->devname = val;
	else if (key_is(p, klen, "DEVTYPE"))
		ev->devtype = val;
	else if (key_is(p, klen, "DRIVER"))
		ev->driver = val;
	else if (key_is(p, klen, "MAJOR"))
		ev->major = val;
	else if (key_is(p, klen, "MINOR"))
		ev->minor = val;
	else if (key_is(p, klen, "MODALIAS"))
		ev->modalias = val;
	else if (key_is(p, klen, "SEQNUM")) {
		ev->seqnum_raw = val;
		ev->has_seqnum = parse_u64_dec(val.p, val.n, &ev->seqnum);
	}
}

int uevent_parse(const char *buf, size_t len, size_t max, struct uevent *ev)
{
	const char *at;
	size_t pos, hlen;

	memset(ev, 0, sizeof(*ev));
	if (len == 0)
		return UEVENT_EMPTY;
	if (len > max)
		return UEVENT_TOO_BIG;
	if (len >= 8 && memcmp(buf, "libudev", 8) == 0)
		return UEVENT_NOT_KERNEL;

	/* header: up to the first NUL (or the end) */
	hlen = strnlen(buf, len);
	at = memchr(buf, '@', hlen);
	if (!at || at == buf || at == buf + hlen - 1)
		return UEVENT_NO_HEADER;
	ev->action.p = buf;
	ev->action.n = (size_t)(at - buf);
	ev->devpath.p = at + 1;
	ev->devpath.n = hlen - ev->action.n - 1;

	pos = hlen + 1;
	while (pos < len) {
		size_t flen = strnlen(buf + pos, len - pos);

		if (flen > 0)
			take_field(ev, buf + pos, flen);
		pos += flen + 1;
	}
	return UEVENT_OK;
}

const char *uevent_strerror(int err)
{
	switch (err) {
	case UEVENT_OK:
		return "ok";
	case UEVENT_EMPTY:
		return "empty message";
	case UEVENT_TOO_BIG:
		return "message too big";
	case UEVENT_NO_HEADER:
		return "no ACTION@DEVPATH header";
	case UEVENT_NOT_KERNEL:
		return "not a kernel uevent";
	}
	return "unknown error";
}

static void kv_opt(struct jbuf *jb, const char *key, struct ustr s)
{
	if (s.p)
		jb_kv_strn(jb, key, s.p, s.n);
}

void uevent_to_json(const struct uevent *ev, struct jbuf *jb)
{
	jb_obj_open(jb);
	kv_opt(jb, "action", ev->action);
	kv_opt(jb, "devpath", ev->devpath);
	kv_opt(jb, "subsystem", ev->subsystem);
	kv_opt(jb, "devname", ev->devname);
	kv_opt(jb, "devtype", ev->devtype);
	kv_opt(jb, "driver", ev->driver);
	kv_opt(jb, "major", ev->major);
	kv_opt(jb, "minor", ev->minor);
	if (ev->has_seqnum)
		jb_kv_u64(jb, "seqnum", ev->seqnum);
	else if (ev->seqnum_raw.p)
		kv_opt(jb, "seqnum_raw", ev->seqnum_raw);
	if (ev->bad_fields)
		jb_kv_u64(jb, "bad_fields", ev->bad_fields);
	jb_obj_close(jb);
}

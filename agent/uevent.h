/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel uevent datagrams (NETLINK_KOBJECT_UEVENT, group 1):
 *   "ACTION@DEVPATH\0KEY=VALUE\0KEY=VALUE\0..."
 * The parser only points into the caller's buffer; it never needs the
 * buffer to end with a NUL and never reads past len.
 */
#ifndef AGENT_UEVENT_H
#define AGENT_UEVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ustr {
	const char *p;	/* NULL when absent */
	size_t n;
};

struct uevent {
	struct ustr action;	/* from ACTION=, else from the header */
	struct ustr devpath;	/* from DEVPATH=, else from the header */
	struct ustr subsystem;
	struct ustr devname;
	struct ustr devtype;
	struct ustr driver;
	struct ustr major;
	struct ustr minor;
	struct ustr modalias;	/* parsed, not printed: a CPU's is ~1 KiB */
	struct ustr seqnum_raw;
	bool has_seqnum;	/* SEQNUM= present and a valid number */
	uint64_t seqnum;
	unsigned int nfields;	/* KEY=VALUE fields seen */
	unsigned int bad_fields;	/* fields without '=' or with empty key */
};

enum uevent_err {
	UEVENT_OK = 0,
	UEVENT_EMPTY = -1,	/* zero length */
	UEVENT_TOO_BIG = -2,	/* longer than the limit */
	UEVENT_NO_HEADER = -3,	/* first part is not ACTION@DEVPATH */
	UEVENT_NOT_KERNEL = -4,	/* a udev daemon's "libudev" message */
};

/* Parses buf[0..len) into ev; max is the size limit (AGENT_UEVENT_MAX). */
int uevent_parse(const char *buf, size_t len, size_t max, struct uevent *ev);
const char *uevent_strerror(int err);

/* Writes ev as one JSON object (see docs/agent.md); returns jb_finish(). */
struct jbuf;
void uevent_to_json(const struct uevent *ev, struct jbuf *jb);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel uevents from netlink, printed as UPCALL UEVENT lines. */
#ifndef AGENT_UEVENT_SOCK_H
#define AGENT_UEVENT_SOCK_H

#include "loop.h"

/* Opens the NETLINK_KOBJECT_UEVENT socket in l. 0, or -1 (reported). */
int uevent_init(struct loop *l);

#endif

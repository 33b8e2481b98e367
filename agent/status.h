/* SPDX-License-Identifier: GPL-2.0 */
/* The status service's `status` reply, read from sysfs and procfs. */
#ifndef AGENT_STATUS_H
#define AGENT_STATUS_H

struct jbuf;

/* Writes the status object into jb; returns jb_finish(jb). */
long status_build(struct jbuf *jb);
/* The "memory" member: MemTotal, block size, blocks (memstatus.c) */
void memory_status(struct jbuf *jb);
/* CPUs online now, -1 if unknown */
long cpus_online(void);

#endif

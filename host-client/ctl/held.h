/* SPDX-License-Identifier: MIT */
/*
 * upcall-ctl: connections a batch keeps across its commands (batch.c).
 * A command asks for its QMP connection and its device-manager session
 * through these functions instead of opening its own: outside a batch
 * (c->held NULL) they open a new one and the put functions close it;
 * inside, the first command opens it, later ones reuse it, and one found
 * broken (QEMU or the guest went away, a timeout left the stream out of
 * step) is closed and opened again for the next command.
 */
#ifndef UPCALL_CTL_HELD_H
#define UPCALL_CTL_HELD_H

#include "ctl.h"
#include "qmp.h"
#include "vcpu.h"

struct ctl_held {
	struct qmp *qmp;          /* NULL until a command needs QMP */
	struct upcall *devmgr;    /* NULL until one needs the guest */
	/* APIC IDs of plugged vCPUs already asked; emptied with a new QMP
	 * connection (QEMU may have restarted). */
	struct vcpu_apic_cache apic;
	unsigned int qmp_opens;   /* connections made, for -v and the tests */
	unsigned int devmgr_opens;
};

/* The device-manager session (greeting checked): held or new. Failures go
 * to st (CTL_ECONN / CTL_EUSAGE), nothing is printed. */
int ctl_devmgr_get(struct ctl *c, struct upcall **out, struct ctl_status *st);
/* Done with h: closed unless the batch holds it. NULL is ignored. */
void ctl_devmgr_put(struct ctl *c, struct upcall *h);

/* QMP at c->qmp, capabilities negotiated: held or new. NULL on failure
 * with st filled (CTL_EVMM). */
struct qmp *ctl_qmp_get(struct ctl *c, struct ctl_status *st);
void ctl_qmp_put(struct ctl *c, struct qmp *q);

/* Close whatever the batch holds. */
void ctl_held_close(struct ctl_held *hd);

#endif /* UPCALL_CTL_HELD_H */

// SPDX-License-Identifier: MIT
/*
 * upcall-ctl: the connections a batch holds (held.h). A VMM keeps its
 * upcall connection and its QMP monitor for the VM's lifetime; a batch
 * does the same for its lines, so a command pays only for its requests.
 */
#include <errno.h>

#include "held.h"

int ctl_devmgr_get(struct ctl *c, struct upcall **out, struct ctl_status *st)
{
	struct ctl_held *hd = c->held;
	int rc;

	if (hd && hd->devmgr && !upcall_is_broken(hd->devmgr)) {
		ctl_debug(c, "device manager: held connection");
		*out = hd->devmgr;
		return CTL_OK;
	}
	if (hd && hd->devmgr) {
		/* Broken by an earlier line: its stream may still carry a late
		 * reply, so it is never reused. */
		ctl_debug(c, "device manager: the held connection failed earlier (%s): reconnecting",
			  upcall_last_error(hd->devmgr));
		upcall_free(hd->devmgr);
		hd->devmgr = NULL;
	}
	rc = ctl_devmgr_connect(c, out, st);
	if (rc == CTL_OK && hd) {
		hd->devmgr = *out;
		hd->devmgr_opens++;
	}
	return rc;
}

void ctl_devmgr_put(struct ctl *c, struct upcall *h)
{
	if (c->held && c->held->devmgr == h)
		return;
	upcall_free(h);
}

struct qmp *ctl_qmp_get(struct ctl *c, struct ctl_status *st)
{
	struct ctl_held *hd = c->held;
	char errbuf[512];
	struct qmp *q;
	int err;

	if (hd && hd->qmp && !qmp_is_broken(hd->qmp)) {
		ctl_debug(c, "QMP: held connection");
		qmp_drop_events(hd->qmp); /* an earlier command's, not ours */
		return hd->qmp;
	}
	if (hd && hd->qmp) {
		ctl_debug(c, "QMP: the held connection failed earlier (%s): reconnecting",
			  qmp_last_error(hd->qmp));
		qmp_close(hd->qmp);
		hd->qmp = NULL;
	}
	q = qmp_open(c->qmp, c->timeout_ms, &err, errbuf, sizeof(errbuf));
	if (!q) {
		ctl_fail(st, CTL_EVMM, err, "%s", errbuf);
		return NULL;
	}
	ctl_debug(c, "QMP: connected");
	if (hd) {
		hd->qmp = q;
		hd->qmp_opens++;
		hd->apic.n = 0;
	}
	return q;
}

void ctl_qmp_put(struct ctl *c, struct qmp *q)
{
	if (!q || (c->held && c->held->qmp == q))
		return;
	qmp_close(q);
}

void ctl_held_close(struct ctl_held *hd)
{
	if (hd->qmp)
		qmp_close(hd->qmp);
	if (hd->devmgr)
		upcall_free(hd->devmgr);
	hd->qmp = NULL;
	hd->devmgr = NULL;
}

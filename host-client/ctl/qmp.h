/* SPDX-License-Identifier: MIT */
/* A small QMP client: one command at a time, events kept for later. */
#ifndef UPCALL_CTL_QMP_H
#define UPCALL_CTL_QMP_H

#include <stdbool.h>

#include <json.h>

struct qmp;

/* Connect, read the greeting, negotiate capabilities. NULL on failure with
 * *err (negative errno) and a message in errbuf. */
struct qmp *qmp_open(const char *path, int timeout_ms, int *err,
		     char *errbuf, size_t errlen);
void qmp_close(struct qmp *q);
/* Run a command; args (may be NULL) is consumed. On success *ret (if not
 * NULL) holds the "return" value, to be put by the caller. -EREMOTEIO
 * when QEMU answers with an error (see qmp_last_error). */
int qmp_execute(struct qmp *q, const char *cmd, json_object *args,
		json_object **ret);
/* Wait for an event named name whose data.device or data.path equals
 * device (device may be NULL), looking first at events already received. */
int qmp_wait_event(struct qmp *q, const char *name, const char *device,
		   int timeout_ms);
/* device_del id: asks QEMU to unplug the device. 0 once QEMU accepted the
 * request (the removal itself may come later, as DEVICE_DELETED),
 * -EREMOTEIO when QEMU refused it (qmp_last_error says why), another
 * negative errno when the connection failed. Any DEVICE_DELETED for id
 * received before the request (queued or unread) is dropped first: it
 * answers an earlier device_del, not this one. */
int qmp_device_del(struct qmp *q, const char *id);
/* qmp_device_del(), then wait up to wait_ms for id's DEVICE_DELETED. 0 once
 * QEMU removed the device, -ETIMEDOUT when it still has it after wait_ms
 * (or at once when wait_ms <= 0: QEMU's pc machine removes a DIMM, a PCI
 * device or a vCPU only after the guest's ACPI eject), else the error of
 * qmp_device_del(). */
int qmp_device_del_wait(struct qmp *q, const char *id, int wait_ms);
const char *qmp_last_error(const struct qmp *q);
/* True once the connection itself failed (QEMU closed it, a send or
 * receive error, a message over the size limit): every later command
 * would fail too. A timeout or an
 * error reply leaves it usable (replies are matched by id). */
bool qmp_is_broken(const struct qmp *q);
/* Forget the events received so far (not those still unread in the
 * socket): a held connection's user calls it before each new transaction.
 * What keeps an earlier transaction's DEVICE_DELETED (same device id)
 * from answering a later wait is qmp_device_del(), which also drops the
 * unread ones. */
void qmp_drop_events(struct qmp *q);
/* Class of QEMU's last error ("GenericError", "DeviceNotFound"...). */
const char *qmp_last_error_class(const struct qmp *q);

#endif /* UPCALL_CTL_QMP_H */

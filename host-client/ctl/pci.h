/* SPDX-License-Identifier: MIT */
/*
 * upcall-ctl pci: what pci.c (command line, the guest's side) and
 * pci-qemu.c (QEMU's side: its slots of pci.0, plugging a disk, device_del)
 * share.
 */
#ifndef UPCALL_CTL_PCI_H
#define UPCALL_CTL_PCI_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "qmp.h"

#define PCI_SLOTS 32u
/* Our devices' QEMU ids: "upcall-pci-" and the slot, two hex digits. */
#define PCI_ID_PREFIX "upcall-pci-"

/* What QEMU has at function 0 of one slot of its bus 0 (pci.0). */
struct pci_qemu_slot {
	bool present;
	char id[64];          /* qdev id, "" for a device created without one */
	char desc[64];        /* class description, e.g. "SCSI controller" */
	uint16_t vendor, device;
	char file[PATH_MAX];  /* backing file of a block device, else "" */
};

struct pci_qemu_map {
	struct pci_qemu_slot slot[PCI_SLOTS];
};

/* Read QEMU's bus 0 (query-pci) and the files behind its block devices
 * (query-block). 0, or a negative errno with the reason in qmp_last_error. */
int pci_qemu_read_map(struct qmp *q, struct pci_qemu_map *m);
/* The slot of the device with qdev id, or -1. */
int pci_qemu_find_id(const struct pci_qemu_map *m, const char *id);
/* The slot of a device backed by file (a resolved path), or -1. */
int pci_qemu_find_file(const struct pci_qemu_map *m, const char *file);
/* The lowest empty slot, or -1 when all 32 are taken. */
int pci_qemu_free_slot(const struct pci_qemu_map *m);

/* blockdev-add of file (raw) and device_add of a virtio-blk-pci using it at
 * slot of pci.0, with qdev id PCI_ID_PREFIX + slot (written to id). On a
 * failure nothing is left behind (the node is deleted again). 0 or a
 * negative errno, with QEMU's reason in why. */
int pci_qemu_plug_disk(struct qmp *q, unsigned int slot, const char *file,
		       char *id, size_t idlen, char *why, size_t whylen);
/* device_del id, then wait up to wait_ms for QEMU's DEVICE_DELETED; when it
 * came and the device was ours, delete its block node too. 0 once QEMU
 * removed it, -ETIMEDOUT when QEMU still has it (QEMU's pc machine: the
 * unplug waits for an ACPI eject the guest never does), another negative
 * errno when QEMU refused device_del. */
int pci_qemu_unplug(struct qmp *q, const char *id, int wait_ms);

#endif /* UPCALL_CTL_PCI_H */

/* SPDX-License-Identifier: MIT */
/*
 * upcall-ctl mem: what mem.c (command line, the guest's side) and
 * mem-qemu.c (QEMU's side: its DIMMs, a shared memory backend plus a
 * pc-dimm, device_del) share, and the size parser.
 */
#ifndef UPCALL_CTL_MEM_H
#define UPCALL_CTL_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qmp.h"

/* Our QEMU ids: "upcall-dimm-N" for the pc-dimm, "upcall-mem-N" for its
 * memory backend (N decimal, the same for both). */
#define MEM_DIMM_PREFIX "upcall-dimm-"
#define MEM_BACKEND_PREFIX "upcall-mem-"
#define MEM_MAX_DIMMS 256u

/* One DIMM QEMU has (query-memory-devices). */
struct mem_dimm {
	char id[64];      /* qdev id, "" without one */
	uint64_t addr;    /* guest-physical base */
	uint64_t size;    /* bytes */
	bool ours;        /* id starts with MEM_DIMM_PREFIX */
};

struct mem_qemu_map {
	unsigned int n;
	struct mem_dimm dimm[MEM_MAX_DIMMS];
};

/*
 * A memory size: a number of bytes (decimal or 0x hex), or a decimal
 * number with a suffix K, M, G or T (powers of 1024; "KiB", "MiB"... and
 * "KB", "MB"... mean the same). Not zero. 0, -EINVAL for anything else,
 * -ERANGE beyond 64 bits.
 */
int mem_parse_size(const char *s, uint64_t *bytes);

/* Read QEMU's DIMMs (query-memory-devices), in QEMU's order. 0 or a
 * negative errno with the reason in qmp_last_error. */
int mem_qemu_read_map(struct qmp *q, struct mem_qemu_map *m);
/* The index of the DIMM with qdev id, of the DIMM at [base, base+size), or
 * -1. */
int mem_qemu_find_id(const struct mem_qemu_map *m, const char *id);
int mem_qemu_find_range(const struct mem_qemu_map *m, uint64_t base,
			uint64_t size);
/* object-add of a shared memfd backend of size bytes (so that the
 * vhost-user backend can map it) and device_add of a pc-dimm using it,
 * with the lowest number N free in m. The new DIMM's id goes to id, its
 * address (read back with query-memory-devices) to *addr. On a failure
 * nothing is left behind. 0 or a negative errno, QEMU's reason in why. */
int mem_qemu_plug(struct qmp *q, const struct mem_qemu_map *m, uint64_t size,
		  char *id, size_t idlen, uint64_t *addr, char *why,
		  size_t whylen);
/* device_del id, then wait up to wait_ms for DEVICE_DELETED; when it came
 * and the DIMM was ours, delete its backend too. 0 once QEMU removed it,
 * -ETIMEDOUT when QEMU still has it (QEMU's pc machine: a DIMM unplug
 * waits for the guest's ACPI), another negative errno when QEMU refused
 * device_del. */
int mem_qemu_unplug(struct qmp *q, const char *id, int wait_ms);

#endif /* UPCALL_CTL_MEM_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsers for the kernel's text files the status reply is built from
 * (/proc/iomem, /proc/interrupts, virtio ids). Pure: they take the text,
 * the caller reads the file.
 */
#ifndef AGENT_SYSPARSE_H
#define AGENT_SYSPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Finds the /proc/iomem line whose resource name is exactly name
 * ("feb00e00-feb00fff : virtio-mmio.0", any nesting depth).
 */
bool iomem_find(const char *text, size_t n, const char *name,
		uint64_t *start, uint64_t *end);

/*
 * Finds the IRQ number of the /proc/interrupts line that lists the action
 * name (e.g. "virtio0"; shared lines list several, comma-separated).
 */
bool interrupts_find(const char *text, size_t n, const char *name,
		     unsigned int *irq);

/*
 * Device-tree style platform device names encode the register base:
 * "feb00e00.virtio_mmio". Returns false for other names ("virtio-mmio.0").
 */
bool platform_name_base(const char *name, uint64_t *base);

/*
 * The value of one /proc/meminfo line, in bytes: "MemTotal:  245760 kB"
 * for key "MemTotal". False if the key is missing or its value is not
 * "<decimal> kB" within 64 bits.
 */
bool meminfo_bytes(const char *text, size_t n, const char *key,
		   uint64_t *bytes);

/* Name of a virtio device type id ("block" for 2), NULL if unknown. */
const char *virtio_type_name(unsigned long id);

#endif

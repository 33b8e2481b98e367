/* SPDX-License-Identifier: MIT */
/* devices.json of a launcher run folder: where each extra disk sits. */
#ifndef UPCALL_CTL_DEVICES_H
#define UPCALL_CTL_DEVICES_H

#include <stddef.h>
#include <stdint.h>

struct mmio_device {
	uint64_t base;
	uint64_t size;
	uint32_t irq;
};

/* Find device id in the JSON file path. The file holds an array of
 * {"id","file","base","size","irq"} objects (or {"devices": [...]});
 * numbers may be JSON integers or strings such as "0xfeb00e00".
 * 0, -ENOENT (no such id), or another negative errno with errbuf set. */
int devices_lookup(const char *path, const char *id, struct mmio_device *d,
		   char *errbuf, size_t errlen);

#endif /* UPCALL_CTL_DEVICES_H */

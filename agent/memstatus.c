// SPDX-License-Identifier: GPL-2.0
/*
 * The "memory" part of the status reply: MemTotal, the memory block size
 * and every memory block with its state, so the host sees what ADD_MEM and
 * DEL_MEM did (docs/agent.md). Read from /proc/meminfo and
 * /sys/devices/system/memory.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdio.h"
#include "json.h"
#include "log.h"
#include "status.h"
#include "strutil.h"
#include "sysparse.h"

#define MEM_DIR "/sys/devices/system/memory"
/* 256 blocks of 128 MiB: 32 GiB; more are cut (the reply is at most 64 KiB) */
#define MAX_BLOCKS 256

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The indexes N of MEM_DIR/memoryN, sorted; -1 if the folder is missing. */
static int block_indexes(uint64_t *idx, int max, bool *truncated)
{
	DIR *d = opendir(MEM_DIR);
	struct dirent *e;
	int n = 0;

	*truncated = false;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "memory", 6) ||
		    !parse_u64_dec(e->d_name + 6, strlen(e->d_name + 6), &idx[n]))
			continue;
		if (n == max) {
			*truncated = true;
			break;
		}
		n++;
	}
	if (closedir(d) < 0)
		log_errno("closedir");
	qsort(idx, (size_t)n, sizeof(idx[0]), u64_cmp);
	return n;
}

/* Reads MEM_DIR/memoryN/name without the trailing newline; false if not. */
static bool block_attr(uint64_t n, const char *name, char *buf, size_t sz)
{
	char path[96];
	ssize_t len;

	snprintf(path, sizeof(path), MEM_DIR "/memory%llu/%s",
		 (unsigned long long)n, name);
	len = read_small_file(path, buf, sz);
	if (len < 0)
		return false;
	buf[trim_trailing_space(buf, (size_t)len)] = '\0';
	return true;
}

void memory_status(struct jbuf *jb)
{
	static uint64_t idx[MAX_BLOCKS];
	char buf[4096], state[32], zone[64], base[24];
	uint64_t total, block = 0;
	bool have_block, truncated;
	long online = 0;
	ssize_t len;
	int n, i;

	jb_key(jb, "memory");
	jb_obj_open(jb);
	len = read_small_file("/proc/meminfo", buf, sizeof(buf));
	jb_key(jb, "total_bytes");
	if (len >= 0 && meminfo_bytes(buf, (size_t)len, "MemTotal", &total))
		jb_u64(jb, total);
	else
		jb_null(jb);

	/* sysfs prints the block size in hex without 0x */
	len = read_small_file(MEM_DIR "/block_size_bytes", buf, sizeof(buf));
	have_block = len >= 0 &&
		     parse_u64_hex(buf, trim_trailing_space(buf, (size_t)len), &block) &&
		     block;
	jb_key(jb, "block_size_bytes");
	if (have_block)
		jb_u64(jb, block);
	else
		jb_null(jb);

	n = block_indexes(idx, MAX_BLOCKS, &truncated);
	jb_key(jb, "blocks");
	jb_arr_open(jb);
	for (i = 0; i < n; i++) {
		jb_obj_open(jb);
		jb_kv_u64(jb, "index", idx[i]);
		if (have_block && idx[i] <= UINT64_MAX / block) {
			snprintf(base, sizeof(base), "0x%llx",
				 (unsigned long long)(idx[i] * block));
			jb_kv_str(jb, "base", base);
		}
		if (block_attr(idx[i], "state", state, sizeof(state))) {
			jb_kv_str(jb, "state", state);
			if (!strcmp(state, "online")) {
				online++;
				/* for an online block, the one zone it is in */
				if (block_attr(idx[i], "valid_zones", zone, sizeof(zone)))
					jb_kv_str(jb, "zone", zone);
			}
		}
		jb_obj_close(jb);
	}
	jb_arr_close(jb);
	jb_kv_i64(jb, "blocks_online", online);
	if (truncated)
		jb_kv_bool(jb, "blocks_truncated", true);
	jb_obj_close(jb);
}

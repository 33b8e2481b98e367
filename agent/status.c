// SPDX-License-Identifier: GPL-2.0
/*
 * The status reply and the READY line: CPUs, virtio devices, block devices,
 * read from sysfs/procfs and written with the pure parsers.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "status.h"
#include "cpulist.h"
#include "fdio.h"
#include "json.h"
#include "log.h"
#include "strutil.h"
#include "sysparse.h"

#define CPU_DIR "/sys/devices/system/cpu/"
#define VIRTIO_DIR "/sys/bus/virtio/devices"
#define BLOCK_DIR "/sys/block"
#define MAX_ENTRIES 256

static char iomem[32 * 1024];
static char interrupts[32 * 1024];

static void kv_kernel_release(struct jbuf *jb)
{
	struct utsname u;

	if (uname(&u) == 0)
		jb_kv_str(jb, "kernel", u.release);
}

/* "online": "0-1", "online_count": 2 (count null if unreadable) */
static long cpu_set(struct jbuf *jb, const char *name)
{
	char path[64], buf[512], key[32];
	ssize_t n;
	long count = -1;

	snprintf(path, sizeof(path), CPU_DIR "%s", name);
	n = read_small_file(path, buf, sizeof(buf));
	jb_key(jb, name);
	if (n < 0) {
		jb_null(jb);
	} else {
		n = (ssize_t)trim_trailing_space(buf, (size_t)n);
		jb_strn(jb, buf, (size_t)n);
		count = cpulist_count(buf, (size_t)n);
	}
	snprintf(key, sizeof(key), "%s_count", name);
	jb_key(jb, key);
	if (count < 0)
		jb_null(jb);
	else
		jb_i64(jb, count);
	return count;
}

long cpus_online(void)
{
	char buf[512];
	ssize_t n = read_small_file(CPU_DIR "online", buf, sizeof(buf));

	return n < 0 ? -1 : cpulist_count(buf, (size_t)n);
}

/* Orders "virtio2" before "virtio10", "vda" before "vdb". */
static int name_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x, y);
}

/* Sorted entry names of dir (without . and ..); caller frees. */
static int list_dir(const char *dir, char **names, int max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while (n < max && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		names[n] = strdup(e->d_name);
		if (!names[n])
			break;
		n++;
	}
	if (closedir(d) < 0)
		log_errno("closedir");
	qsort(names, (size_t)n, sizeof(names[0]), name_cmp);
	return n;
}

static void free_names(char **names, int n)
{
	while (n > 0)
		free(names[--n]);
}

/* Last path component of the symlink at path ("" if unreadable). */
static void link_base(const char *path, char *out, size_t outsz)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *slash;

	out[0] = '\0';
	if (n < 0)
		return;
	target[n] = '\0';
	slash = strrchr(target, '/');
	/* a name longer than out is no name we know: leave it empty */
	(void)str_copy(out, outsz, slash ? slash + 1 : target);
}

static void virtio_mmio_info(struct jbuf *jb, const char *parent)
{
	uint64_t base, start, end;
	bool have_iomem = iomem_find(iomem, strlen(iomem), parent, &start, &end);
	char hex[24];

	if (have_iomem) {
		base = start;
		jb_kv_u64(jb, "mmio_size", end - start + 1);
	} else if (!platform_name_base(parent, &base)) {
		return;
	}
	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)base);
	jb_kv_str(jb, "mmio_base", hex);
}

static void virtio_device(struct jbuf *jb, const char *name)
{
	char path[PATH_MAX], target[PATH_MAX], buf[64], parent[256], drv[64];
	const char *p, *slash;
	uint64_t id;
	unsigned int irq;
	ssize_t n;

	jb_obj_open(jb);
	jb_kv_str(jb, "name", name);
	snprintf(path, sizeof(path), VIRTIO_DIR "/%s/device", name);
	n = read_small_file(path, buf, sizeof(buf));
	if (n >= 0 &&
	    parse_u64_hex(buf, trim_trailing_space(buf, (size_t)n), &id)) {
		jb_kv_u64(jb, "device_id", id);
		p = virtio_type_name((unsigned long)id);
		jb_kv_str(jb, "type", p ? p : "unknown");
	}
	snprintf(path, sizeof(path), VIRTIO_DIR "/%s/driver", name);
	link_base(path, drv, sizeof(drv));
	if (drv[0])
		jb_kv_str(jb, "driver", drv);

	/* .../devices/platform/virtio-mmio.0/virtio0: the parent is the transport */
	snprintf(path, sizeof(path), VIRTIO_DIR "/%s", name);
	n = readlink(path, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		slash = strrchr(target, '/');
		if (slash) {
			target[slash - target] = '\0';
			slash = strrchr(target, '/');
			(void)str_copy(parent, sizeof(parent),
				       slash ? slash + 1 : target);
			jb_kv_str(jb, "parent", parent);
			snprintf(path, sizeof(path), VIRTIO_DIR "/%s/../driver",
				 name);
			link_base(path, drv, sizeof(drv));
			if (strcmp(drv, "virtio-mmio") == 0) {
				jb_kv_str(jb, "transport", "mmio");
				virtio_mmio_info(jb, parent);
			} else if (strstr(target, "/pci")) {
				jb_kv_str(jb, "transport", "pci");
			}
		}
	}
	/* virtio_mmio and virtio_pci name their IRQ after the device */
	if (interrupts_find(interrupts, strlen(interrupts), name, &irq))
		jb_kv_u64(jb, "irq", irq);
	jb_obj_close(jb);
}

static void virtio_devices(struct jbuf *jb)
{
	char *names[MAX_ENTRIES];
	int n, i;

	if (read_small_file("/proc/iomem", iomem, sizeof(iomem)) < 0)
		iomem[0] = '\0';
	if (read_small_file("/proc/interrupts", interrupts,
			    sizeof(interrupts)) < 0)
		interrupts[0] = '\0';
	jb_key(jb, "virtio");
	jb_arr_open(jb);
	n = list_dir(VIRTIO_DIR, names, MAX_ENTRIES);
	for (i = 0; i < n; i++)
		virtio_device(jb, names[i]);
	jb_arr_close(jb);
	if (n > 0)
		free_names(names, n);
}

static void block_devices(struct jbuf *jb)
{
	char *names[MAX_ENTRIES], path[PATH_MAX], buf[64], dev[64];
	uint64_t sectors;
	ssize_t len;
	int n, i;

	jb_key(jb, "block");
	jb_arr_open(jb);
	n = list_dir(BLOCK_DIR, names, MAX_ENTRIES);
	for (i = 0; i < n; i++) {
		jb_obj_open(jb);
		jb_kv_str(jb, "name", names[i]);
		snprintf(path, sizeof(path), BLOCK_DIR "/%s/size", names[i]);
		len = read_small_file(path, buf, sizeof(buf));
		/* sysfs counts 512-byte sectors whatever the block size */
		if (len >= 0 &&
		    parse_u64_dec(buf, trim_trailing_space(buf, (size_t)len),
				  &sectors) && sectors <= UINT64_MAX / 512)
			jb_kv_u64(jb, "size_bytes", sectors * 512);
		snprintf(path, sizeof(path), BLOCK_DIR "/%s/device", names[i]);
		link_base(path, dev, sizeof(dev));
		if (dev[0])
			jb_kv_str(jb, "device", dev);
		jb_obj_close(jb);
	}
	jb_arr_close(jb);
	if (n > 0)
		free_names(names, n);
}

long status_build(struct jbuf *jb)
{
	jb_obj_open(jb);
	jb_kv_str(jb, "version", AGENT_VERSION);
	kv_kernel_release(jb);
	jb_kv_u64(jb, "uptime_ms", boottime_ms());
	jb_key(jb, "cpus");
	jb_obj_open(jb);
	cpu_set(jb, "online");
	cpu_set(jb, "present");
	cpu_set(jb, "possible");
	jb_obj_close(jb);
	memory_status(jb);
	virtio_devices(jb);
	block_devices(jb);
	jb_obj_close(jb);
	return jb_finish(jb);
}

void ready_announce(const struct agent *ag)
{
	char buf[1024];
	struct jbuf jb;
	long online = cpus_online();

	jb_init(&jb, buf, sizeof(buf));
	jb_obj_open(&jb);
	jb_kv_str(&jb, "version", AGENT_VERSION);
	jb_kv_u64(&jb, "uptime_ms", boottime_ms());
	jb_key(&jb, "cpus_online");
	if (online < 0)
		jb_null(&jb);
	else
		jb_i64(&jb, online);
	kv_kernel_release(&jb);
	jb_kv_u64(&jb, "status_port", AGENT_STATUS_PORT);
	jb_kv_bool(&jb, "exec", ag->cfg.exec_enabled);
	jb_kv_bool(&jb, "trust_local", ag->cfg.trust_local);
	if (ag->cfg.script[0])
		jb_kv_str(&jb, "script", ag->cfg.script);
	/* what works; a false here was explained on the console before */
	jb_kv_bool(&jb, "mounts", ag->mounts_ok);
	jb_kv_bool(&jb, "uevents", ag->uevents_ok);
	jb_kv_bool(&jb, "vsock", ag->vsock_ok);
	jb_obj_close(&jb);
	if (jb_finish(&jb) < 0) {
		log_msg("READY line does not fit");
		return;
	}
	log_upcall("READY", buf);
}

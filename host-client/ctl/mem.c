// SPDX-License-Identifier: MIT
/*
 * upcall-ctl mem add|del: tell the guest to add a guest-physical range as
 * RAM (ADD_MEM) or to offline and remove it (DEL_MEM), our extension of
 * the protocol. With --qmp, QEMU's side too: add plugs a pc-dimm backed by
 * a shared memfd first and sends its address; del removes the DIMM from
 * the guest, then asks QEMU to unplug it. mem-qemu.c talks to QEMU.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "interrupt.h"
#include "mem.h"

/* How long mem del waits for QEMU's DEVICE_DELETED by default (capped by
 * --timeout). QEMU's pc machine never sends it for an ACPI-free guest. */
#define MEM_UNPLUG_WAIT_MS 1000

static const char mem_usage[] =
	"Usage: upcall-ctl [OPTIONS] mem add SIZE [--base ADDR]\n"
	"       upcall-ctl [OPTIONS] mem del [--base ADDR --size SIZE | --device ID]\n"
	"\n"
	"add: the guest adds [ADDR, ADDR + SIZE) as RAM and onlines it (ADD_MEM).\n"
	"del: the guest offlines and removes the range (DEL_MEM); it refuses\n"
	"     (EBUSY) when the kernel cannot offline it, and the memory stays.\n"
	"Both are our extension of the protocol. The guest wants whole memory\n"
	"blocks (128 MiB on x86_64 guests below 64 GiB; the agent's status says).\n"
	"\n"
	"With --qmp (or --run), QEMU's side too:\n"
	"  add SIZE          plug a pc-dimm of SIZE backed by a shared memfd (QEMU\n"
	"                    picks the address), then ADD_MEM; if the guest refuses,\n"
	"                    QEMU is asked to unplug it. A DIMM of the same size left\n"
	"                    in QEMU by an earlier mem del is reused instead.\n"
	"  del               DEL_MEM of our DIMM named by --device or --base/--size\n"
	"                    (default: the highest one the guest has), then\n"
	"                    device_del of it\n"
	"QEMU's pc machine cannot finish a DIMM unplug for a guest without ACPI:\n"
	"the DIMM stays in QEMU, mapped and holding its host memory, until the VM\n"
	"ends; a later add of the same size reuses it.\n"
	"\n"
	"  SIZE                  bytes, or with a suffix K, M, G, T (1024-based)\n"
	"  --base ADDR           guest-physical address (without --qmp)\n"
	"  --size SIZE           the range's size for del --base\n"
	"  --device ID           QEMU's id of the DIMM (del)\n"
	"  --unplug-wait SECS    how long del waits for QEMU's DEVICE_DELETED\n"
	"                        (default 1, at most --timeout; 0: do not wait)\n"
	"  -h, --help            this text\n";

struct mem_args {
	bool add;
	bool have_base, have_size;
	uint64_t base, size;
	const char *device;
	int unplug_wait_ms;
};

static int parse_args(struct ctl *c, int argc, char **argv, struct mem_args *a)
{
	static const struct option opts[] = {
		{ "base", required_argument, NULL, 'b' },
		{ "size", required_argument, NULL, 's' },
		{ "device", required_argument, NULL, 'd' },
		{ "unplug-wait", required_argument, NULL, 'w' },
		CTL_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	double secs;
	int opt;

	a->unplug_wait_ms = -1;
	optind = 0;
	while ((opt = getopt_long(argc, argv, CTL_GLOBAL_SHORTOPTS, opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			if (ctl_parse_u64(optarg, &a->base))
				return ctl_usage_error(c, NULL, "--base: want an address, not '%s'", optarg);
			a->have_base = true;
			break;
		case 's':
			if (mem_parse_size(optarg, &a->size))
				return ctl_usage_error(c, NULL, "--size: want a size such as 128M, not '%s'",
						       optarg);
			a->have_size = true;
			break;
		case 'd':
			a->device = optarg;
			break;
		case 'w':
			if (ctl_parse_seconds(optarg, &secs))
				return ctl_usage_error(c, NULL, "--unplug-wait: bad value '%s'", optarg);
			a->unplug_wait_ms = (int)(secs * 1000.0);
			break;
		case 'h':
			return -1;
		case '?':
			return ctl_usage_error(c, mem_usage, "mem %s: bad option", argv[0]);
		default:
			if (ctl_global_option(c, opt, optarg))
				return CTL_EUSAGE;
		}
	}
	if (a->add) {
		if (optind >= argc)
			return ctl_usage_error(c, mem_usage, "mem add: missing SIZE");
		if (a->have_size)
			return ctl_usage_error(c, mem_usage, "mem add takes SIZE, not --size");
		if (mem_parse_size(argv[optind], &a->size))
			return ctl_usage_error(c, NULL, "mem add: want a size such as 128M, not '%s'",
					       argv[optind]);
		a->have_size = true;
		optind++;
		if (a->device)
			return ctl_usage_error(c, mem_usage, "mem add does not take --device");
	}
	if (optind < argc)
		return ctl_usage_error(c, mem_usage, "unexpected argument '%s'", argv[optind]);
	if (!a->add && a->have_base != a->have_size)
		return ctl_usage_error(c, mem_usage, "mem del: --base and --size go together");
	if (a->device && a->have_base)
		return ctl_usage_error(c, mem_usage, "give either --device or --base/--size");
	if (a->have_base && a->size - 1 > UINT64_MAX - a->base)
		return ctl_usage_error(c, NULL, "the range wraps around the address space");
	return CTL_OK;
}

static void range_json(struct ctl *c, uint64_t base, uint64_t size)
{
	json_object *o = json_object_new_object();
	char hex[24];

	snprintf(hex, sizeof(hex), "0x%" PRIx64, base);
	json_object_object_add(o, "base", json_object_new_string(hex));
	json_object_object_add(o, "size", json_object_new_uint64(size));
	json_object_object_add(c->result, "mem", o);
}

/*
 * A safe point (interrupt.h): before a request is sent, a noted signal
 * stops the run. CTL_OK to go on, else the run's exit code (reported).
 */
static int stop_point(struct ctl *c, bool add, const char *what)
{
	struct ctl_status st = { 0 };

	if (!ctl_interrupted())
		return CTL_OK;
	ctl_interrupt_fail(&st, "stopped before %s was sent%s", add ? "ADD_MEM" : "DEL_MEM", what);
	return ctl_report(c, &st, NULL);
}

/*
 * One ADD_MEM or DEL_MEM. CTL_OK with *ret set when the guest answered
 * (ret may be a refusal); otherwise the failure is reported.
 */
static int guest_request(struct ctl *c, bool add, uint64_t base, uint64_t size,
			 int *ret)
{
	struct upcall_reply r;
	struct upcall *h;
	json_object *o;
	int rc, err;

	rc = ctl_open_devmgr(c, &h);
	if (rc)
		return rc;
	err = add ? upcall_mem_add(h, base, size, &r) : upcall_mem_del(h, base, size, &r);
	if (err) {
		rc = ctl_error(c, CTL_ECONN, err, "%s", upcall_last_error(h));
		upcall_free(h);
		return rc;
	}
	upcall_free(h);
	o = json_object_new_object();
	json_object_object_add(o, "ret", json_object_new_int(r.ret));
	json_object_object_add(c->result, "guest", o);
	*ret = r.ret;
	return CTL_OK;
}

static int refused(struct ctl *c, bool add, uint64_t base, uint64_t size, int ret)
{
	return ctl_error(c, CTL_EGUEST, ret, "guest refused %s of 0x%" PRIx64 "+0x%" PRIx64
			 ": %s (%d)", add ? "ADD_MEM" : "DEL_MEM", base, size,
			 upcall_strerror(ret), ret);
}

/* Without QMP: only the guest is told; the range was given. */
static int guest_only(struct ctl *c, struct mem_args *a)
{
	int rc, ret;

	range_json(c, a->base, a->size);
	rc = stop_point(c, a->add, ": nothing was done");
	if (rc)
		return rc;
	rc = guest_request(c, a->add, a->base, a->size, &ret);
	if (rc)
		return rc;
	if (ret)
		return refused(c, a->add, a->base, a->size, ret);
	ctl_info(c, "guest %s memory 0x%" PRIx64 "+0x%" PRIx64 " (%" PRIu64 " MiB)",
		 a->add ? "added" : "removed", a->base, a->size, a->size >> 20);
	return CTL_OK;
}

static void qemu_unplug(struct ctl *c, struct mem_args *a, struct qmp *q,
			const char *id, const char *key_ok, const char *why)
{
	int err = mem_qemu_unplug(q, id, a->unplug_wait_ms);

	if (!err) {
		json_object_object_add(c->result, "qemu", json_object_new_string(key_ok));
		ctl_info(c, "QEMU removed %s", id);
	} else if (err == -ETIMEDOUT) {
		json_object_object_add(c->result, "qemu", json_object_new_string("left_behind"));
		ctl_warn(c, "QEMU keeps %s%s: it finishes a DIMM unplug only through the guest's ACPI; "
		     "its host memory stays allocated until the VM ends, and 'mem add' of the "
		     "same size reuses it", id, why);
	} else {
		json_object_object_add(c->result, "qemu", json_object_new_string("unplug_failed"));
		ctl_warn(c, "device_del %s: %s", id, qmp_last_error(q));
	}
}

static int qemu_add(struct ctl *c, struct mem_args *a, struct qmp *q,
		    const struct mem_qemu_map *m)
{
	char id[64], why[768];
	uint64_t addr = 0;
	int rc, ret = 0, err;

	/* A DIMM of ours of this size that the guest does not have: reuse it */
	for (unsigned int i = 0; i < m->n; i++) {
		const struct mem_dimm *d = &m->dimm[i];

		if (!d->ours || d->size != a->size)
			continue;
		rc = stop_point(c, true, ": nothing was done");
		if (rc)
			return rc;
		rc = guest_request(c, true, d->addr, d->size, &ret);
		if (rc)
			return rc;
		if (ret == -EEXIST)
			continue;
		range_json(c, d->addr, d->size);
		json_object_object_add(c->result, "device", json_object_new_string(d->id));
		json_object_object_add(c->result, "reused", json_object_new_boolean(1));
		if (ret)
			return refused(c, true, d->addr, d->size, ret);
		ctl_info(c, "guest added memory 0x%" PRIx64 "+0x%" PRIx64 " (%" PRIu64
			 " MiB): DIMM %s, reused", d->addr, d->size, d->size >> 20, d->id);
		return CTL_OK;
	}

	err = mem_qemu_plug(q, m, a->size, id, sizeof(id), &addr, why, sizeof(why));
	if (err)
		return ctl_error(c, CTL_EVMM, err, "%s", why);
	range_json(c, addr, a->size);
	json_object_object_add(c->result, "device", json_object_new_string(id));
	json_object_object_add(c->result, "reused", json_object_new_boolean(0));

	if (ctl_interrupted()) {
		qemu_unplug(c, a, q, id, "rolled_back", ": the run stopped before its ADD_MEM");
		return stop_point(c, true, ": the guest was told nothing; unplugging the DIMM this run created");
	}
	rc = guest_request(c, true, addr, a->size, &ret);
	if (rc || ret) {
		qemu_unplug(c, a, q, id, "rolled_back", " after its ADD_MEM failed");
		if (rc)
			return rc;
		return refused(c, true, addr, a->size, ret);
	}
	ctl_info(c, "guest added memory 0x%" PRIx64 "+0x%" PRIx64 " (%" PRIu64 " MiB): DIMM %s",
		 addr, a->size, a->size >> 20, id);
	return CTL_OK;
}

static int qemu_del(struct ctl *c, struct mem_args *a, struct qmp *q,
		    const struct mem_qemu_map *m)
{
	const struct mem_dimm *d = NULL;
	int i, rc, ret = -ENOENT;

	if (a->device || a->have_base) {
		i = a->device ? mem_qemu_find_id(m, a->device) :
				mem_qemu_find_range(m, a->base, a->size);
		if (i < 0)
			return ctl_error(c, CTL_EVMM, ENODEV, "QEMU has no DIMM %s%s",
					 a->device ? a->device : "at that range",
					 a->device ? "" : " (--base/--size)");
		d = &m->dimm[i];
		rc = stop_point(c, false, ": nothing was done");
		if (rc)
			return rc;
		rc = guest_request(c, false, d->addr, d->size, &ret);
		if (rc)
			return rc;
	} else {
		/* The highest of our DIMMs the guest has: it answers ENOENT for others */
		for (i = (int)m->n - 1; i >= 0; i--) {
			if (!m->dimm[i].ours)
				continue;
			d = &m->dimm[i];
			rc = stop_point(c, false, ": nothing was removed");
			if (rc)
				return rc;
			rc = guest_request(c, false, d->addr, d->size, &ret);
			if (rc)
				return rc;
			if (ret != -ENOENT)
				break;
		}
		if (!d || ret == -ENOENT)
			return ctl_error(c, CTL_EGUEST, ENOENT,
					 "the guest has none of upcall-ctl's DIMMs (mem add adds one)");
	}
	range_json(c, d->addr, d->size);
	if (d->id[0])
		json_object_object_add(c->result, "device", json_object_new_string(d->id));
	if (ret)
		return refused(c, false, d->addr, d->size, ret);
	ctl_info(c, "guest removed memory 0x%" PRIx64 "+0x%" PRIx64 " (%" PRIu64 " MiB)",
		 d->addr, d->size, d->size >> 20);
	if (!d->id[0]) {
		ctl_warn(c, "QEMU's DIMM at 0x%" PRIx64 " has no id: it cannot be asked to unplug it",
		     d->addr);
		return CTL_OK;
	}
	qemu_unplug(c, a, q, d->id, "removed", "");
	return CTL_OK;
}

/* QEMU's side and the guest's, with a map of QEMU's DIMMs */
static int with_qemu(struct ctl *c, struct mem_args *a)
{
	struct mem_qemu_map *m;
	struct qmp *q;
	char errbuf[512];
	int rc, err;

	q = qmp_open(c->qmp, c->timeout_ms, &err, errbuf, sizeof(errbuf));
	if (!q)
		return ctl_error(c, CTL_EVMM, err, "%s", errbuf);
	m = calloc(1, sizeof(*m));
	if (!m) {
		qmp_close(q);
		return ctl_error(c, CTL_EVMM, ENOMEM, "out of memory");
	}
	err = mem_qemu_read_map(q, m);
	if (err)
		rc = ctl_error(c, CTL_EVMM, err, "reading QEMU's DIMMs: %s", qmp_last_error(q));
	else
		rc = a->add ? qemu_add(c, a, q, m) : qemu_del(c, a, q, m);
	free(m);
	qmp_close(q);
	return rc;
}

static int mem_parse(struct ctl *c, int argc, char **argv, bool add, void *args)
{
	struct mem_args *a = args;

	a->add = add;
	return parse_args(c, argc, argv, a);
}

static int mem_check(struct ctl *c, void *args)
{
	struct mem_args *a = args;

	if (!c->qmp && a->device)
		return ctl_usage_error(c, mem_usage, "--device needs --qmp (or --run)");
	if (!c->qmp && !a->have_base)
		return ctl_usage_error(c, mem_usage, "mem %s needs --base (and the size) without --qmp",
				       a->add ? "add" : "del");
	if (c->qmp && a->add && a->have_base)
		return ctl_usage_error(c, mem_usage, "with --qmp, QEMU picks the address: no --base");
	return CTL_OK;
}

/* QEMU's DIMMs and the guest's answer, under the VM's lock (lock.h) */
static int mem_run(struct ctl *c, void *args)
{
	return c->qmp ? with_qemu(c, args) : guest_only(c, args);
}

int mem_main(struct ctl *c, int argc, char **argv)
{
	struct mem_args a = { 0 };
	const struct ctl_action act = {
		.name = "mem",
		.usage = mem_usage,
		.args = &a,
		.unplug_wait_ms = &a.unplug_wait_ms,
		.default_unplug_wait_ms = MEM_UNPLUG_WAIT_MS,
		.command_json = true,
		.parse = mem_parse,
		.check = mem_check,
		.run = mem_run,
	};

	return ctl_action(c, argc, argv, &act);
}

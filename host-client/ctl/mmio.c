// SPDX-License-Identifier: MIT
/*
 * upcall-ctl mmio add|del: announce or withdraw a virtio-mmio transport.
 * QEMU cannot hotplug on its virtio-mmio bus, so the device already exists
 * (created at launch, unannounced); only the guest is told here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "devices.h"
#include "interrupt.h"
#include "lock.h"
#include "qmp.h"

static const char mmio_usage[] =
	"Usage: upcall-ctl [OPTIONS] mmio add|del --base B --size S --irq I\n"
	"       upcall-ctl [OPTIONS] mmio add|del --device ID\n"
	"\n"
	"Tell the guest to register (add) or unregister (del) the virtio-mmio\n"
	"transport at [B, B+S) with interrupt I. With --device, base, size and\n"
	"irq come from the run folder's devices.json (--devices FILE, or --run\n"
	"DIR); explicit --base/--size/--irq override it. With --qmp, QEMU is\n"
	"asked first whether a device with that id exists.\n"
	"\n"
	"  --base B      transport base address (decimal or 0x hex)\n"
	"  --size S      window size, non-zero (QEMU's transports: 0x200)\n"
	"  --irq I       interrupt line\n"
	"  --device ID   QEMU device id, looked up in devices.json\n"
	"  -h, --help    this text\n";

/* qom-get <peripheral>/ID type: does QEMU know this device? */
static int check_qemu_device(struct ctl *c, const char *id)
{
	char errbuf[512], path[256];
	json_object *args, *ret = NULL;
	struct qmp *q;
	int err;

	q = qmp_open(c->qmp, c->timeout_ms, &err, errbuf, sizeof(errbuf));
	if (!q)
		return ctl_error(c, CTL_EVMM, err, "%s", errbuf);
	snprintf(path, sizeof(path), "/machine/peripheral/%s", id);
	args = json_object_new_object();
	json_object_object_add(args, "path", json_object_new_string(path));
	json_object_object_add(args, "property", json_object_new_string("type"));
	err = qmp_execute(q, "qom-get", args, &ret);
	if (err) {
		int rc = ctl_error(c, CTL_EVMM, err, "QEMU has no device '%s': %s",
				   id, qmp_last_error(q));

		qmp_close(q);
		return rc;
	}
	if (json_object_is_type(ret, json_type_string))
		json_object_object_add(c->result, "qemu_type",
				       json_object_new_string(json_object_get_string(ret)));
	json_object_put(ret);
	qmp_close(q);
	return CTL_OK;
}

int mmio_main(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "base", required_argument, NULL, 'b' },
		{ "size", required_argument, NULL, 's' },
		{ "irq", required_argument, NULL, 'i' },
		{ "device", required_argument, NULL, 'd' },
		CTL_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	bool have_base = false, have_size = false, have_irq = false, add;
	struct mmio_device dev = { 0 };
	struct ctl_status st = { 0 };
	struct ctl_lock lk;
	const char *device = NULL;
	struct upcall_reply r;
	struct upcall *h;
	json_object *o;
	int opt, rc, err;
	uint64_t v;

	if (argc < 2)
		return ctl_usage_error(c, mmio_usage, "mmio: missing action (add or del)");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help"))
		return ctl_help(c, mmio_usage);
	if (strcmp(argv[1], "add") && strcmp(argv[1], "del"))
		return ctl_usage_error(c, mmio_usage, "mmio: unknown action '%s'", argv[1]);
	add = !strcmp(argv[1], "add");
	argc--;
	argv++;
	optind = 0;
	while ((opt = getopt_long(argc, argv, CTL_GLOBAL_SHORTOPTS, opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			if (ctl_parse_u64(optarg, &dev.base))
				return ctl_usage_error(c, NULL, "--base: not a number: '%s'", optarg);
			have_base = true;
			break;
		case 's':
			if (ctl_parse_u64(optarg, &dev.size))
				return ctl_usage_error(c, NULL, "--size: not a number: '%s'", optarg);
			have_size = true;
			break;
		case 'i':
			if (ctl_parse_u64(optarg, &v) || v > UINT32_MAX)
				return ctl_usage_error(c, NULL, "--irq: not an IRQ number: '%s'", optarg);
			dev.irq = (uint32_t)v;
			have_irq = true;
			break;
		case 'd':
			device = optarg;
			break;
		case 'h':
			return ctl_help(c, mmio_usage);
		case '?':
			return ctl_usage_error(c, mmio_usage, "mmio: bad option");
		default:
			if (ctl_global_option(c, opt, optarg))
				return CTL_EUSAGE;
		}
	}
	if (optind < argc)
		return ctl_usage_error(c, mmio_usage, "unexpected argument '%s'", argv[optind]);
	json_object_object_add(c->result, "command",
			       json_object_new_string(add ? "mmio add" : "mmio del"));

	if (device) {
		struct mmio_device found;
		char errbuf[512];

		json_object_object_add(c->result, "device", json_object_new_string(device));
		if (!have_base || !have_size || !have_irq) {
			if (!c->devices)
				return ctl_usage_error(c, NULL,
						       "--device needs devices.json: give --devices FILE or --run DIR, or --base/--size/--irq");
			err = devices_lookup(c->devices, device, &found, errbuf, sizeof(errbuf));
			if (err)
				return ctl_error(c, CTL_EVMM, err, "%s", errbuf);
			if (!have_base)
				dev.base = found.base;
			if (!have_size)
				dev.size = found.size;
			if (!have_irq)
				dev.irq = found.irq;
		}
	} else if (!have_base || !have_size || !have_irq) {
		return ctl_usage_error(c, mmio_usage,
				       "mmio %s needs --base, --size and --irq (or --device)",
				       add ? "add" : "del");
	}
	if (dev.size == 0)
		return ctl_usage_error(c, NULL, "--size must not be zero");
	if (dev.base + (dev.size - 1) < dev.base)
		return ctl_usage_error(c, NULL,
				       "window 0x%" PRIx64 " + 0x%" PRIx64 " wraps around the address space",
				       dev.base, dev.size);

	o = json_object_new_object();
	json_object_object_add(o, "base", json_object_new_uint64(dev.base));
	json_object_object_add(o, "size", json_object_new_uint64(dev.size));
	json_object_object_add(o, "irq", json_object_new_int64(dev.irq));
	json_object_object_add(c->result, "mmio", o);

	/* QEMU's word and the guest's under the VM's lock (lock.h). */
	if (ctl_lock_vm(c, &lk, &st))
		return ctl_report(c, &st, NULL);
	rc = device && c->qmp ? check_qemu_device(c, device) : CTL_OK;
	if (rc == CTL_OK && ctl_interrupted()) {
		ctl_interrupt_fail(&st, "stopped before %s was sent: nothing was done",
				   add ? "ADD_MMIO" : "DEL_MMIO");
		rc = ctl_report(c, &st, NULL);
	}
	if (rc == CTL_OK)
		rc = ctl_open_devmgr(c, &h);
	if (rc) {
		ctl_unlock_vm(&lk);
		return rc;
	}
	err = add ? upcall_mmio_add(h, dev.base, dev.size, dev.irq, &r) :
		    upcall_mmio_del(h, dev.base, dev.size, dev.irq, &r);
	if (err)
		rc = ctl_error(c, CTL_ECONN, err, "%s", upcall_last_error(h));
	upcall_free(h);
	ctl_unlock_vm(&lk);
	if (rc)
		return rc;
	o = json_object_new_object();
	json_object_object_add(o, "ret", json_object_new_int(r.ret));
	json_object_object_add(c->result, "guest", o);
	if (r.ret != 0)
		return ctl_error(c, CTL_EGUEST, r.ret,
				 "guest refused %s of 0x%" PRIx64 "+0x%" PRIx64 " irq %" PRIu32 ": %s (%d)",
				 add ? "ADD_MMIO" : "DEL_MMIO", dev.base, dev.size, dev.irq,
				 upcall_strerror(r.ret), r.ret);
	ctl_info(c, "guest %s virtio-mmio 0x%" PRIx64 "+0x%" PRIx64 " irq %" PRIu32,
		 add ? "registered" : "unregistered", dev.base, dev.size, dev.irq);
	return CTL_OK;
}

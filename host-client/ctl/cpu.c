// SPDX-License-Identifier: MIT
/*
 * upcall-ctl cpu add|del: the command line. The plan (cpu-plan.c), its
 * execution against QEMU and the guest (cpu-exec.c) and the printing
 * (cpu-present.c) live apart; this file parses and calls them in turn.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu-exec.h"
#include "cpu-present.h"
#include "lock.h"

/* Default wait for DEVICE_DELETED: QEMU confirms at once when it can. */
#define CPU_UNPLUG_WAIT_MS 3000

static const char cpu_usage[] =
	"Usage: upcall-ctl [OPTIONS] cpu add [COUNT | --apic-id ID...]\n"
	"       upcall-ctl [OPTIONS] cpu del [COUNT | --apic-id ID...]\n"
	"\n"
	"Hot-add or hot-remove vCPUs. With --qmp (or --run), 'add' creates COUNT\n"
	"vCPUs in QEMU (device_add), announces their APIC IDs to the guest in one\n"
	"ADD_CPU request, and removes again those the guest did not take; 'del'\n"
	"picks the COUNT hot-added vCPUs with the highest APIC IDs, asks the guest\n"
	"to release them (DEL_CPU) and then removes the released ones from QEMU.\n"
	"Without --qmp only the guest is told, and APIC IDs must be given.\n"
	"\n"
	"  COUNT                 number of vCPUs, 1..255 (default 1)\n"
	"  --apic-id ID[,ID...]  these APIC IDs (0..255); may repeat, and further\n"
	"                        arguments are taken as more IDs\n"
	"  --unplug-wait SECS    how long to wait for QEMU's DEVICE_DELETED after\n"
	"                        device_del (default: 3, or --timeout if shorter;\n"
	"                        0: do not wait)\n"
	"  -h, --help            this text\n";

static int add_ids(struct ctl *c, struct cpu_args *a, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int rc = CTL_OK;

	if (!copy)
		return ctl_error(c, CTL_EUSAGE, ENOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint32_t v;

		if (ctl_parse_u32(tok, &v) || v > 255) {
			rc = ctl_usage_error(c, NULL,
					     "--apic-id: '%s' is not an APIC ID 0..255", tok);
			break;
		}
		for (unsigned int i = 0; i < a->n_ids; i++) {
			if (a->ids[i] == v) {
				rc = ctl_usage_error(c, NULL, "APIC ID %u given twice", v);
				goto out;
			}
		}
		if (a->n_ids >= UPCALL_MAX_CPU_BATCH) {
			rc = ctl_usage_error(c, NULL, "more than %u APIC IDs",
					     UPCALL_MAX_CPU_BATCH);
			break;
		}
		a->ids[a->n_ids++] = (uint8_t)v;
	}
	if (rc == CTL_OK && a->n_ids == 0)
		rc = ctl_usage_error(c, NULL, "--apic-id: empty list");
out:
	free(copy);
	return rc;
}

static int parse_args(struct ctl *c, int argc, char **argv, struct cpu_args *a)
{
	static const struct option opts[] = {
		{ "apic-id", required_argument, NULL, 'a' },
		{ "unplug-wait", required_argument, NULL, 'w' },
		CTL_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc;

	memset(a, 0, sizeof(*a));
	a->unplug_wait_ms = -1;
	optind = 0; /* reset getopt; GNU getopt moves positionals to the end */
	while ((opt = getopt_long(argc, argv, CTL_GLOBAL_SHORTOPTS, opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			rc = add_ids(c, a, optarg);
			if (rc)
				return rc;
			break;
		case 'w': {
			double s;

			if (ctl_parse_seconds(optarg, &s))
				return ctl_usage_error(c, NULL, "--unplug-wait: bad value '%s'", optarg);
			a->unplug_wait_ms = (int)(s * 1000.0);
			break;
		}
		case 'h':
			return -1;
		case '?':
			return ctl_usage_error(c, cpu_usage, "cpu %s: bad option", argv[0]);
		default:
			if (ctl_global_option(c, opt, optarg))
				return CTL_EUSAGE;
		}
	}
	if (a->n_ids) {
		/* "--apic-id 1 2 3": the remaining arguments are more IDs. */
		for (; optind < argc; optind++) {
			rc = add_ids(c, a, argv[optind]);
			if (rc)
				return rc;
		}
		return CTL_OK;
	}
	a->count = 1;
	if (optind < argc) {
		uint32_t v;

		if (ctl_parse_u32(argv[optind], &v) || v < 1 || v > UPCALL_MAX_CPU_BATCH)
			return ctl_usage_error(c, cpu_usage, "COUNT must be 1..%u, not '%s'",
					       UPCALL_MAX_CPU_BATCH, argv[optind]);
		a->count = v;
		optind++;
	}
	if (optind < argc)
		return ctl_usage_error(c, cpu_usage, "unexpected argument '%s'", argv[optind]);
	return CTL_OK;
}

int cpu_main(struct ctl *c, int argc, char **argv)
{
	struct cpu_outcome *o;
	struct ctl_lock lk;
	struct cpu_args a;
	int rc;

	if (argc < 2)
		return ctl_usage_error(c, cpu_usage, "cpu: missing action (add or del)");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help"))
		return ctl_help(c, cpu_usage);
	if (strcmp(argv[1], "add") && strcmp(argv[1], "del"))
		return ctl_usage_error(c, cpu_usage, "cpu: unknown action '%s'", argv[1]);
	rc = parse_args(c, argc - 1, argv + 1, &a);
	if (rc < 0)
		return ctl_help(c, cpu_usage);
	if (rc)
		return rc;
	a.add = !strcmp(argv[1], "add");
	if (a.unplug_wait_ms < 0)
		a.unplug_wait_ms = c->timeout_ms < CPU_UNPLUG_WAIT_MS ? c->timeout_ms :
				   CPU_UNPLUG_WAIT_MS;
	o = calloc(1, sizeof(*o)); /* the plan holds 2 x 255 items */
	if (!o)
		return ctl_error(c, CTL_ECONN, ENOMEM, "out of memory");
	/* The whole QMP + guest transaction under the VM's lock; printing
	 * comes after it is released. */
	if (ctl_lock_vm(c, &lk, &o->status) == CTL_OK) {
		cpu_execute(c, &a, o);
		ctl_unlock_vm(&lk);
	}
	o->add = a.add;
	o->qemu = c->qmp != NULL;
	rc = cpu_present(c, o, cpu_usage);
	free(o);
	return rc;
}

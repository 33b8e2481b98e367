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

/* The arguments and the outcome, for ctl_action()'s callbacks */
struct cpu_run {
	struct cpu_args a;
	struct cpu_outcome *o;
};

static int cpu_parse(struct ctl *c, int argc, char **argv, bool add, void *args)
{
	struct cpu_run *r = args;
	int rc = parse_args(c, argc, argv, &r->a);

	r->a.add = add;
	return rc;
}

static int cpu_run(struct ctl *c, void *args)
{
	struct cpu_run *r = args;

	cpu_execute(c, &r->a, r->o);
	return CTL_OK;
}

static int cpu_show(struct ctl *c, void *args, int rc)
{
	struct cpu_run *r = args;

	(void)rc; /* the outcome holds the result, the lock's failure too */
	r->o->add = r->a.add;
	r->o->qemu = c->qmp != NULL;
	return cpu_present(c, r->o, cpu_usage);
}

int cpu_main(struct ctl *c, int argc, char **argv)
{
	struct cpu_run r = { 0 };
	struct ctl_action act = {
		.name = "cpu",
		.usage = cpu_usage,
		.args = &r,
		.unplug_wait_ms = &r.a.unplug_wait_ms,
		.default_unplug_wait_ms = CPU_UNPLUG_WAIT_MS,
		.parse = cpu_parse,
		.run = cpu_run,
		.present = cpu_show,
	};
	int rc;

	r.o = calloc(1, sizeof(*r.o)); /* the plan holds 2 x 255 items */
	if (!r.o)
		return ctl_error(c, CTL_ECONN, ENOMEM, "out of memory");
	act.lock_status = &r.o->status;
	rc = ctl_action(c, argc, argv, &act);
	free(r.o);
	return rc;
}

// SPDX-License-Identifier: MIT
/*
 * upcall-ctl: drive the guest's upcall device manager from the host.
 * This file is only the subcommand table, the global options and the final
 * JSON document; each subcommand lives in its own file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const struct {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
	const char *description;
} subcommands[] = {
	{ "batch", batch_main, "cpu add|del commands from stdin, over held connections" },
	{ "cpu", cpu_main, "hot-add or hot-remove vCPUs (add|del)" },
	{ "mem", mem_main, "hot-add or hot-remove guest memory (add|del)" },
	{ "mmio", mmio_main, "announce or withdraw a virtio-mmio device (add|del)" },
	{ "pci", pci_main, "hot-add or hot-remove a PCI device (add|del)" },
	{ "status", status_main, "show the guest agent's status" },
	{ "wait-ready", wait_ready_main, "wait until the guest's upcall server answers" },
};

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "Usage: %s [OPTIONS] SUBCOMMAND [ARGUMENTS]\n\n", prog);
	fprintf(f, "Subcommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-12s %s\n", subcommands[i].name, subcommands[i].description);
	fprintf(f,
		"\nOptions (also accepted after the subcommand):\n"
		"  --uds PATH         hybrid vsock Unix socket of the VMM\n"
		"  --cid N            guest CID, kernel AF_VSOCK instead of --uds\n"
		"  --port N           guest port of the upcall server (default 219)\n"
		"  --qmp PATH         QEMU's QMP socket: create/remove vCPUs and PCI devices there\n"
		"  --run DIR          launcher run folder: DIR/vsock.sock, DIR/qmp.sock,\n"
		"                     DIR/devices.json\n"
		"  --devices FILE     devices.json for 'mmio --device'\n"
		"  --timeout SECONDS  timeout of each step (default 5)\n"
		"  --lock-wait SECONDS  cpu/mmio: how long to wait while another\n"
		"                     upcall-ctl works on the same VM (default 30)\n"
		"  --no-lock          cpu/mmio: do not take the VM's lock files\n"
		"  --json             print one JSON object on stdout, errors included\n"
		"  -v, --verbose      show progress on stderr; twice: with CLOCK_MONOTONIC\n"
		"                     times (seconds.microseconds)\n"
		"  -h, --help         this text; SUBCOMMAND --help for one subcommand\n"
		"  --version          print the version\n"
		"\nExit status: 0 ok, 1 the guest refused, 2 usage error,\n"
		"3 connection, timeout, protocol failure or VM busy (lock), 4 QMP/VMM\n"
		"failure.\n"
		"See upcall-ctl(1).\n");
}

static void usage_text(struct ctl *c, const char *prog)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		usage(stdout, prog);
		return;
	}
	usage(f, prog);
	fclose(f);
	ctl_help(c, buf);
	free(buf);
}

/* --json must be known before the first error is reported. */
static bool wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json"))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "version", no_argument, NULL, 'V' },
		CTL_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *prog = "upcall-ctl";
	struct ctl c;
	int opt, rc = -1;

	ctl_init(&c, prog);
	c.json = wants_json(argc, argv);
	opterr = 0; /* errors are reported by us, in JSON when asked */
	while (rc < 0 &&
	       (opt = getopt_long(argc, argv, "+" CTL_GLOBAL_SHORTOPTS, opts, NULL)) != -1) {
		switch (opt) {
		case 'V':
			if (c.json)
				json_object_object_add(c.result, "version",
						       json_object_new_string(UPCALL_VERSION));
			else
				printf("upcall-ctl %s\n", UPCALL_VERSION);
			rc = CTL_OK;
			break;
		case 'h':
			usage_text(&c, prog);
			rc = CTL_OK;
			break;
		case '?':
			rc = ctl_usage_error(&c, NULL, "unknown or incomplete option '%s'",
					     argv[optind - 1]);
			break;
		default:
			if (ctl_global_option(&c, opt, optarg))
				rc = CTL_EUSAGE;
		}
	}
	if (rc < 0 && optind >= argc)
		rc = ctl_usage_error(&c, NULL, "missing subcommand (batch, cpu, mem, mmio, pci, status, wait-ready)");
	if (rc < 0) {
		const char *name = argv[optind];

		for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
			if (!strcmp(name, subcommands[i].name))
				rc = subcommands[i].fn(&c, argc - optind, argv + optind);
		if (rc < 0)
			rc = ctl_usage_error(&c, NULL, "unknown subcommand '%s'", name);
	}
	if (c.json && !c.printed)
		ctl_print_result(&c, rc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
				 JSON_C_TO_STRING_NOSLASHESCAPE);
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CTL_OK)
		rc = CTL_ECONN;
	ctl_fini(&c);
	return rc;
}

// SPDX-License-Identifier: MIT
/*
 * fake-vm: a launcher run folder without a VM, for the CLI tests.
 *
 *   fake-vm --dir DIR [--cpu-accept K] [--cpu-errno ERRNO] [--kata]
 *           [--reply-delay-ms MS] [--mmio-ret ERRNO] [--pci-ret ERRNO]
 *           [--status JSON]
 *           [--bad-greeting] [--silent] [--slots N] [--track-cpus]
 *           [--refuse-device-del]
 *
 * --kata answers failures as Kata's guest does (msg_size 0, apic_index
 * left stale); --reply-delay-ms holds every device-manager reply back.
 * --track-cpus makes the guest keep its set of CPUs (the boot CPU, APIC
 * ID 0, present) and validate DEL_CPU as a whole like the kernel;
 * --refuse-device-del makes QEMU refuse vCPU unplug (pc, no ACPI), so
 * released vCPUs stay parked in QEMU.
 *
 * Serves DIR/vsock.sock (hybrid vsock: device manager on 219, agent status
 * on 1219) and DIR/qmp.sock (fake QEMU), writes DIR/devices.json with one
 * disk "d1", then DIR/ready, and runs until SIGTERM or SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake.h"

static void path_in(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

int main(int argc, char **argv)
{
	static struct fake_guest g;
	static struct fake_qmp q;
	const char *dir = NULL;
	char p[4096];
	unsigned int slots = 4;
	bool refuse_del = false;
	sigset_t set;
	FILE *f;
	int sig;

	fake_guest_init(&g);
	g.status_line = "{\"ready\":true,\"cpus_online\":1,\"uptime_ms\":1234}";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--dir") && v)
			dir = argv[++i];
		else if (!strcmp(a, "--cpu-accept") && v)
			g.cpu_accept = atoi(argv[++i]);
		else if (!strcmp(a, "--cpu-errno") && v)
			g.cpu_errno = -atoi(argv[++i]);
		else if (!strcmp(a, "--kata"))
			g.kata = true;
		else if (!strcmp(a, "--reply-delay-ms") && v)
			g.reply_delay_ms = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(a, "--mmio-ret") && v)
			g.mmio_ret = -atoi(argv[++i]);
		else if (!strcmp(a, "--pci-ret") && v)
			g.pci_ret = -atoi(argv[++i]);
		else if (!strcmp(a, "--status") && v)
			g.status_line = argv[++i];
		else if (!strcmp(a, "--slots") && v)
			slots = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(a, "--track-cpus"))
			g.track_present = g.del_whole = g.present[0] = true;
		else if (!strcmp(a, "--refuse-device-del"))
			refuse_del = true;
		else if (!strcmp(a, "--bad-greeting"))
			g.bad_greeting = true;
		else if (!strcmp(a, "--silent"))
			g.silent = true;
		else {
			fprintf(stderr, "fake-vm: bad argument '%s'\n", a);
			return 2;
		}
	}
	if (!dir || slots < 1 || slots > FAKE_QMP_SLOTS) {
		fprintf(stderr, "usage: fake-vm --dir DIR [options]\n");
		return 2;
	}
	fake_qmp_init(&q, slots);
	q.refuse_device_del = refuse_del;
	q.device_deleted = true;
	q.events = true;
	q.known_device = "d1";

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	path_in(p, sizeof(p), dir, "devices.json");
	f = fopen(p, "w");
	if (!f)
		return 1;
	fputs("[\n {\"id\": \"d1\", \"file\": \"/dev/null\", \"base\": \"0xfeb00000\", "
	      "\"size\": \"0x200\", \"irq\": 5}\n]\n", f);
	fclose(f);
	path_in(p, sizeof(p), dir, "vsock.sock");
	if (fake_guest_start_listen(&g, p))
		return 1;
	path_in(p, sizeof(p), dir, "qmp.sock");
	if (fake_qmp_start(&q, p))
		return 1;
	path_in(p, sizeof(p), dir, "ready");
	f = fopen(p, "w");
	if (!f)
		return 1;
	fclose(f);
	sigwait(&set, &sig);
	fake_guest_stop(&g);
	fake_qmp_stop(&q);
	return 0;
}

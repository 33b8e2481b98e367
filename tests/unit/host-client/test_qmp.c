// SPDX-License-Identifier: MIT
/*
 * upcall-ctl's QEMU side against a fake QMP server and a fake guest: slot
 * choice, the device_add sequence, rollback by apic_index, failures midway,
 * removal of the highest hot-added vCPUs, and mmio --device.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl.h"
#include "fake.h"
#include "interrupt.h"
#include "mem.h"
#include "vcpu.h"

struct fixture {
	struct fake_guest g;
	struct fake_qmp q;
	struct ctl c;
	char dir[64], uds[128], qmp[128], devices[128];
	bool started;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/host-client-qmp-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->uds, sizeof(f->uds), "%s/vsock.sock", f->dir);
	snprintf(f->qmp, sizeof(f->qmp), "%s/qmp.sock", f->dir);
	snprintf(f->devices, sizeof(f->devices), "%s/devices.json", f->dir);
	fake_guest_init(&f->g);
	fake_qmp_init(&f->q, 4);
	f->q.events = true;
	f->q.device_deleted = true;
	ctl_init(&f->c, "upcall-ctl");
	f->c.json = true;
	f->c.uds = f->uds;
	f->c.qmp = f->qmp;
	f->c.timeout_ms = 2000;
	*state = f;
	return 0;
}

static void start(struct fixture *f)
{
	assert_int_equal(fake_guest_start_listen(&f->g, f->uds), 0);
	assert_int_equal(fake_qmp_start(&f->q, f->qmp), 0);
	f->started = true;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->started) {
		fake_guest_stop(&f->g);
		fake_qmp_stop(&f->q);
	}
	ctl_fini(&f->c);
	unlink(f->uds);
	unlink(f->qmp);
	unlink(f->devices);
	for (const char *const *p = (const char *const[]){ f->uds, f->qmp, NULL }; *p; p++) {
		char lock[160];

		snprintf(lock, sizeof(lock), "%s.lock", *p); /* the VM lock (lock.h) */
		unlink(lock);
	}
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

/* Run "upcall-ctl <words>" in-process; returns the exit code. */
static int run(struct fixture *f, const char *words)
{
	char buf[256], *argv[16], *save = NULL;
	int argc = 0;

	/* Each run starts a fresh JSON document, as a new process would. */
	json_object_put(f->c.result);
	f->c.result = json_object_new_object();
	json_object_object_add(f->c.result, "ok", json_object_new_boolean(1));
	snprintf(buf, sizeof(buf), "%s", words);
	for (char *t = strtok_r(buf, " ", &save); t && argc < 15; t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc] = NULL;
	if (!strcmp(argv[0], "cpu"))
		return cpu_main(&f->c, argc, argv);
	return mmio_main(&f->c, argc, argv);
}

static const char *result_str(struct fixture *f, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(f->c.result, key, &v))
		return "(absent)";
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

/* The APIC IDs of the n-th request the guest received. */
static void assert_guest_request(struct fixture *f, unsigned int n, int type,
				 const uint8_t *ids, unsigned int count)
{
	assert_true(f->g.n_req > n);
	assert_int_equal(f->g.req[n][8], type);
	assert_int_equal(f->g.req[n][16], count);
	assert_memory_equal(f->g.req[n] + 18, ids, count);
}

static void add_two(void **state)
{
	struct fixture *f = *state;
	static const uint8_t want[] = { 1, 2 };

	start(f);
	assert_int_equal(run(f, "cpu add 2"), CTL_OK);
	assert_int_equal(f->q.nlog, 2);
	assert_string_equal(f->q.log[0], "device_add upcall-cpu-1 driver=qemu64-x86_64-cpu "
			    "socket-id=1 die-id=-1 core-id=0 thread-id=0");
	assert_string_equal(f->q.log[1], "device_add upcall-cpu-2 driver=qemu64-x86_64-cpu "
			    "socket-id=2 die-id=-1 core-id=0 thread-id=0");
	assert_int_equal(f->g.n_req, 1); /* ONE ADD_CPU for the batch */
	assert_guest_request(f, 0, 1, want, 2);
	assert_string_equal(result_str(f, "apic_ids"), "[1,2]");
	assert_string_equal(result_str(f, "devices"), "[\"upcall-cpu-1\",\"upcall-cpu-2\"]");
	assert_string_equal(result_str(f, "ok"), "true");
}

static void add_rollback_by_apic_index(void **state)
{
	struct fixture *f = *state;
	static const uint8_t want[] = { 1, 2, 3 };

	f->g.cpu_accept = 1; /* the guest takes 1 of 3 */
	start(f);
	assert_int_equal(run(f, "cpu add 3"), CTL_EGUEST);
	assert_guest_request(f, 0, 1, want, 3);
	assert_int_equal(f->q.nlog, 5);
	assert_string_equal(f->q.log[3], "device_del upcall-cpu-2");
	assert_string_equal(f->q.log[4], "device_del upcall-cpu-3");
	assert_string_equal(result_str(f, "accepted"), "[1]");
	assert_string_equal(result_str(f, "rolled_back"), "[\"upcall-cpu-2\",\"upcall-cpu-3\"]");
	assert_string_equal(result_str(f, "ok"), "false");
	assert_non_null(strstr(result_str(f, "error"), "took 1 of 3"));
	/* upcall-cpu-1 stays plugged, the others are free again. */
	assert_true(f->q.slots[1].plugged);
	assert_false(f->q.slots[2].plugged);
	assert_false(f->q.slots[3].plugged);
}

static void add_stale_index_no_rollback(void **state)
{
	struct fixture *f = *state;

	f->g.cpu_accept = 0;
	f->g.cpu_stale_index = true;
	start(f);
	assert_int_equal(run(f, "cpu add 2"), CTL_EGUEST);
	assert_int_equal(f->q.nlog, 2); /* two device_add, no device_del */
	assert_non_null(strstr(result_str(f, "error"), "nothing was rolled back"));
}

/* Kata's guest refuses with msg_size 0: a refusal (exit 1), and since
 * how far the batch got is unknown, no vCPU is removed; both are named. */
static void add_kata_refusal_unknown(void **state)
{
	struct fixture *f = *state;

	f->g.kata = true;
	f->g.kata_fill = 1; /* a plausible stale index: must not be trusted */
	f->g.cpu_accept = 0;
	f->g.cpu_errno = -EINVAL;
	start(f);
	assert_int_equal(run(f, "cpu add 2"), CTL_EGUEST);
	assert_int_equal(f->q.nlog, 2); /* two device_add, no device_del */
	assert_string_equal(result_str(f, "errno"), "22");
	assert_string_equal(result_str(f, "unknown"), "[\"upcall-cpu-1\",\"upcall-cpu-2\"]");
	assert_string_equal(result_str(f, "unknown_apic_ids"), "[1,2]");
	assert_string_equal(result_str(f, "rolled_back"), "(absent)");
	assert_string_equal(result_str(f, "guest"), "{\"ret\":-22,\"apic_index\":null}");
	assert_true(f->q.slots[1].plugged);
	assert_true(f->q.slots[2].plugged);
}

/* No reply in time: exit 3, the vCPUs created stay and are named. */
static void add_timeout_unknown(void **state)
{
	struct fixture *f = *state;

	f->g.reply_delay_ms = 600;
	f->c.timeout_ms = 300;
	start(f);
	assert_int_equal(run(f, "cpu add 1"), CTL_ECONN);
	assert_int_equal(f->q.nlog, 1);
	assert_string_equal(result_str(f, "unknown"), "[\"upcall-cpu-1\"]");
	assert_non_null(strstr(result_str(f, "error"), "timed out"));
}

static void add_device_add_fails_midway(void **state)
{
	struct fixture *f = *state;

	f->q.fail_device_add_at = 2;
	start(f);
	assert_int_equal(run(f, "cpu add 3"), CTL_EVMM);
	assert_int_equal(f->q.nlog, 3);
	assert_string_equal(f->q.log[2], "device_del upcall-cpu-1");
	assert_int_equal(f->g.n_req, 0); /* the guest was told nothing */
	assert_non_null(strstr(result_str(f, "error"), "injected device_add failure"));
	assert_false(f->q.slots[1].plugged);
}

static void add_not_enough_slots(void **state)
{
	struct fixture *f = *state;

	start(f);
	assert_int_equal(run(f, "cpu add 4"), CTL_EVMM);
	assert_int_equal(f->q.nlog, 0);
	assert_non_null(strstr(result_str(f, "error"), "3 free slot(s)"));
}

static void add_by_apic_id(void **state)
{
	struct fixture *f = *state;
	static const uint8_t want[] = { 3 };

	start(f);
	assert_int_equal(run(f, "cpu add --apic-id 3"), CTL_OK);
	assert_int_equal(f->q.nlog, 1);
	assert_non_null(strstr(f->q.log[0], "upcall-cpu-3 "));
	assert_non_null(strstr(f->q.log[0], "socket-id=3 "));
	assert_guest_request(f, 0, 1, want, 1);
}

static void plug_hot(struct fixture *f, int slot)
{
	f->q.slots[slot].plugged = true;
	f->q.slots[slot].hot = true;
	snprintf(f->q.slots[slot].id, sizeof(f->q.slots[slot].id), "upcall-cpu-%d", slot);
}

static unsigned int qom_gets(struct fixture *f)
{
	unsigned int n;

	pthread_mutex_lock(&f->q.lock);
	n = f->q.qom_gets;
	f->q.qom_gets = 0;
	pthread_mutex_unlock(&f->q.lock);
	return n;
}

/* A batch's held connection asks each plugged vCPU's APIC ID once: the
 * same QOM path in the same slot is answered from the cache, the same
 * path in another slot is asked again; without a cache, every time. */
static void apic_cache_same_path_same_slot(void **state)
{
	struct fixture *f = *state;
	struct vcpu_apic_cache *cache = calloc(1, sizeof(*cache));
	struct vcpu_list l;
	char err[256];
	struct qmp *q;
	int e;

	assert_non_null(cache);
	fake_qmp_init(&f->q, 12);
	for (int i = 1; i < 9; i++)
		plug_hot(f, i);
	start(f);
	q = qmp_open(f->qmp, 2000, &e, err, sizeof(err));
	assert_non_null(q);
	qom_gets(f);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(vcpu_list_get(q, &l), 0);
		assert_int_equal(qom_gets(f), 9);
		vcpu_list_free(&l);
	}
	for (int round = 0; round < 2; round++) {
		assert_int_equal(vcpu_list_get_cached(q, &l, cache), 0);
		assert_int_equal(qom_gets(f), round ? 0 : 9);
		assert_int_equal(l.n, 12);
		for (size_t i = 0; i < l.n; i++) {
			json_object *so;

			assert_true(json_object_object_get_ex(l.slots[i].props, "socket-id", &so));
			assert_int_equal(l.slots[i].apic_id, json_object_get_int(so));
		}
		vcpu_list_free(&l);
	}
	/* upcall-cpu-3 now sits in socket 10's slot: asked again, and
	 * its new APIC ID is the one used. */
	pthread_mutex_lock(&f->q.lock);
	f->q.slots[3].plugged = false;
	plug_hot(f, 10);
	snprintf(f->q.slots[10].id, sizeof(f->q.slots[10].id), "upcall-cpu-3");
	pthread_mutex_unlock(&f->q.lock);
	assert_int_equal(vcpu_list_get_cached(q, &l, cache), 0);
	assert_int_equal(qom_gets(f), 1);
	e = 0;
	for (size_t i = 0; i < l.n; i++) {
		if (!strcmp(l.slots[i].qom_path, "/machine/peripheral/upcall-cpu-3")) {
			assert_int_equal(l.slots[i].apic_id, 10);
			e++;
		}
	}
	assert_int_equal(e, 1);
	vcpu_list_free(&l);
	qmp_close(q);
	free(cache);
}

/*
 * A DEVICE_DELETED QEMU sent for an earlier device_del of the same id
 * (one nobody waited for: 'cpu del --unplug-wait 0', a wait that timed
 * out), still unread on a held connection when the next transaction
 * starts, must not answer the wait of a later device_del: that one is
 * for a new vCPU under the same name, which QEMU may still hold.
 */
static void stale_device_deleted_not_taken(void **state)
{
	struct fixture *f = *state;
	struct vcpu_list l;
	char err[256];
	struct qmp *q;
	int e, slot = -1;

	f->q.events = false;
	plug_hot(f, 1);
	start(f);
	q = qmp_open(f->qmp, 2000, &e, err, sizeof(err));
	assert_non_null(q);
	/* Line 1: device_del without a wait; QEMU's event stays unread. */
	assert_int_equal(qmp_device_del(q, "upcall-cpu-1"), 0);
	usleep(50 * 1000); /* the event is in the socket */
	/* Line 2 on the held connection: what a batch does between lines,
	 * then the same slot plugged again under the same name. */
	qmp_drop_events(q);
	assert_int_equal(vcpu_list_get(q, &l), 0);
	for (size_t i = 0; i < l.n; i++)
		if (!l.slots[i].plugged && l.slots[i].apic_id == 1)
			slot = (int)i;
	assert_true(slot >= 0);
	assert_int_equal(vcpu_plug(q, &l.slots[slot]), 0);
	vcpu_list_free(&l);
	/* Its removal: this time QEMU sends no event (the guest has not
	 * ejected it), so the wait must time out, not take line 1's. */
	pthread_mutex_lock(&f->q.lock);
	f->q.device_deleted = false;
	pthread_mutex_unlock(&f->q.lock);
	assert_int_equal(qmp_device_del_wait(q, "upcall-cpu-1", 200), -ETIMEDOUT);
	qmp_close(q);
}

/*
 * A message longer than the reader's limit leaves the stream out of step
 * (its rest is still to come): the connection is broken, so a batch's
 * next line opens a new one instead of failing on this one forever.
 */
static void qmp_oversized_message_breaks(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[256];
	struct qmp *q;
	pid_t pid;
	int ls, e, st;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->qmp);
	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static const char hello[] = "{\"QMP\": {}}\n";
		static const char ok[] = "{\"return\": {}, \"id\": 1}\n";
		static char big[65536];
		char in[512];
		int fd = accept(ls, NULL, NULL);

		memset(big, 'x', sizeof(big));
		if (fd < 0 || write(fd, hello, sizeof(hello) - 1) < 0 ||
		    read(fd, in, sizeof(in)) <= 0 || write(fd, ok, sizeof(ok) - 1) < 0 ||
		    read(fd, in, sizeof(in)) <= 0)
			_exit(1);
		for (int i = 0; i < 80; i++) /* 5 MiB, no newline */
			if (write(fd, big, sizeof(big)) < 0)
				_exit(0);
		_exit(0);
	}
	close(ls);
	q = qmp_open(f->qmp, 2000, &e, err, sizeof(err));
	assert_non_null(q);
	assert_false(qmp_is_broken(q));
	assert_int_equal(qmp_execute(q, "query-status", NULL, NULL), -EMSGSIZE);
	assert_true(qmp_is_broken(q));
	qmp_close(q);
	assert_int_equal(waitpid(pid, &st, 0), pid);
}

/* A vCPU QEMU kept after 'cpu del' is announced again, not re-created. */
static void add_reuses_kept_vcpu(void **state)
{
	struct fixture *f = *state;
	static const uint8_t want[] = { 2, 3 };

	plug_hot(f, 2);
	start(f);
	assert_int_equal(run(f, "cpu add --apic-id 2 3"), CTL_OK);
	assert_int_equal(f->q.nlog, 1);
	assert_non_null(strstr(f->q.log[0], "device_add upcall-cpu-3 "));
	assert_guest_request(f, 0, 1, want, 2);
	assert_string_equal(result_str(f, "devices"), "[\"upcall-cpu-2\",\"upcall-cpu-3\"]");
	/* The boot CPU is never a candidate. */
	assert_int_equal(run(f, "cpu add --apic-id 0"), CTL_EVMM);
}

/* The guest refuses a kept vCPU it already has: only the vCPU this run
 * created is rolled back, never the guest's own. */
static void add_rollback_spares_kept_vcpu(void **state)
{
	struct fixture *f = *state;

	plug_hot(f, 2);
	f->g.track_present = true;
	f->g.present[0] = f->g.present[2] = true;
	start(f);
	assert_int_equal(run(f, "cpu add --apic-id 2 3"), CTL_EGUEST);
	assert_int_equal(f->q.nlog, 2);
	assert_non_null(strstr(f->q.log[0], "device_add upcall-cpu-3 "));
	assert_string_equal(f->q.log[1], "device_del upcall-cpu-3");
	assert_true(f->q.slots[2].plugged);
	assert_string_equal(result_str(f, "rolled_back"), "[\"upcall-cpu-3\"]");
}

/* QEMU kept vCPUs 2 and 3 after 'cpu del' (pc, no ACPI eject) and has no
 * free slot: 'cpu add' offers the kept ones, highest first, one by one. */
static void add_takes_back_kept_vcpus(void **state)
{
	struct fixture *f = *state;
	static const uint8_t three[] = { 3 }, two[] = { 2 }, one[] = { 1 };

	plug_hot(f, 1);
	plug_hot(f, 2);
	plug_hot(f, 3);
	f->g.track_present = true;
	f->g.present[0] = f->g.present[1] = true; /* 2 and 3 are offline */
	start(f);
	assert_int_equal(run(f, "cpu add 1"), CTL_OK);
	assert_int_equal(f->q.nlog, 0); /* nothing created */
	assert_int_equal(f->g.n_req, 1);
	assert_guest_request(f, 0, 1, three, 1);
	assert_string_equal(result_str(f, "reannounced"), "[3]");
	/* Asking for 2 more: 2 is taken, 1 refused (present): 2 is given back. */
	assert_int_equal(run(f, "cpu add 2"), CTL_EVMM);
	assert_int_equal(f->g.n_req, 5);
	assert_guest_request(f, 1, 1, three, 1); /* refused: present */
	assert_guest_request(f, 2, 1, two, 1);
	assert_guest_request(f, 3, 1, one, 1);
	assert_guest_request(f, 4, 2, two, 1);   /* DEL_CPU: given back */
	assert_false(f->g.present[2]);
	assert_non_null(strstr(result_str(f, "error"), "took back only 1 of 3"));
	/* The guest ran on 2 for a moment: the result says so. */
	assert_string_equal(result_str(f, "given_back"), "[2]");
	assert_string_equal(result_str(f, "reannounced"), "[]");
}

/* 'cpu del 1' when the highest hot-added vCPU is one QEMU kept (already gone
 * from the guest): the guest refuses it, the next one is asked. */
static void del_skips_kept_vcpu(void **state)
{
	struct fixture *f = *state;
	static const uint8_t three[] = { 3 }, two[] = { 2 };

	plug_hot(f, 1);
	plug_hot(f, 2);
	plug_hot(f, 3);
	f->g.track_present = true;
	f->g.present[0] = f->g.present[1] = f->g.present[2] = true;
	start(f);
	assert_int_equal(run(f, "cpu del 1"), CTL_OK);
	assert_int_equal(f->g.n_req, 2);
	assert_guest_request(f, 0, 2, three, 1);
	assert_guest_request(f, 1, 2, two, 1);
	assert_int_equal(f->q.nlog, 1);
	assert_string_equal(f->q.log[0], "device_del upcall-cpu-2");
	assert_string_equal(result_str(f, "absent"), "[3]");
	assert_string_equal(result_str(f, "released"), "[2]");
	assert_string_equal(result_str(f, "apic_ids"), "[3,2]");
	/* With explicit IDs there is no second choice: exit 1. */
	assert_int_equal(run(f, "cpu del --apic-id 3"), CTL_EGUEST);
	assert_int_equal(f->g.n_req, 3);
}

/* Two threads per core, two cores per socket: APIC ID = s<<2 | c<<1 | t. */
static void add_smt_topology(void **state)
{
	struct fixture *f = *state;
	static const uint8_t want[] = { 1, 2 };

	fake_qmp_init(&f->q, 8);
	f->q.threads = 2;
	f->q.cores = 2;
	for (int i = 0; i < 8; i++) {
		f->q.slots[i].socket = i / 4;
		f->q.slots[i].core = (i / 2) % 2;
		f->q.slots[i].thread = i % 2;
	}
	start(f);
	assert_int_equal(run(f, "cpu add 2"), CTL_OK);
	assert_string_equal(f->q.log[0], "device_add upcall-cpu-1 driver=qemu64-x86_64-cpu "
			    "socket-id=0 die-id=-1 core-id=0 thread-id=1");
	assert_string_equal(f->q.log[1], "device_add upcall-cpu-2 driver=qemu64-x86_64-cpu "
			    "socket-id=0 die-id=-1 core-id=1 thread-id=0");
	assert_guest_request(f, 0, 1, want, 2);
}


/* Kata-shaped refusal of DEL_CPU: some of the batch may be gone from the
 * guest, some not: nothing is removed from QEMU. */
static void del_kata_refusal_unknown(void **state)
{
	struct fixture *f = *state;

	plug_hot(f, 1);
	plug_hot(f, 2);
	f->g.kata = true;
	f->g.cpu_accept = 1;
	start(f);
	assert_int_equal(run(f, "cpu del 2"), CTL_EGUEST);
	assert_int_equal(f->q.nlog, 0);
	assert_string_equal(result_str(f, "unknown"), "[\"upcall-cpu-2\",\"upcall-cpu-1\"]");
	assert_string_equal(result_str(f, "released"), "[]");
	assert_string_equal(result_str(f, "removed"), "(absent)");
}

static void del_highest_two(void **state)
{
	struct fixture *f = *state;
	static const uint8_t want[] = { 3, 2 };

	plug_hot(f, 1);
	plug_hot(f, 2);
	plug_hot(f, 3);
	start(f);
	assert_int_equal(run(f, "cpu del 2"), CTL_OK);
	assert_guest_request(f, 0, 2, want, 2);
	assert_int_equal(f->q.nlog, 2);
	assert_string_equal(f->q.log[0], "device_del upcall-cpu-3");
	assert_string_equal(f->q.log[1], "device_del upcall-cpu-2");
	assert_string_equal(result_str(f, "removed"), "[\"upcall-cpu-3\",\"upcall-cpu-2\"]");
	assert_string_equal(result_str(f, "removed_pending"), "(absent)");
	assert_true(f->q.slots[1].plugged);
}

static void del_partial_release(void **state)
{
	struct fixture *f = *state;

	plug_hot(f, 1);
	plug_hot(f, 2);
	f->g.cpu_accept = 1; /* the guest releases only the first */
	start(f);
	assert_int_equal(run(f, "cpu del 2"), CTL_EGUEST);
	assert_int_equal(f->q.nlog, 1);
	assert_string_equal(f->q.log[0], "device_del upcall-cpu-2");
	assert_string_equal(result_str(f, "released"), "[2]");
}

static void del_never_boot_cpu(void **state)
{
	struct fixture *f = *state;

	plug_hot(f, 1);
	start(f);
	assert_int_equal(run(f, "cpu del 2"), CTL_EVMM); /* only 1 hot-added */
	assert_int_equal(run(f, "cpu del --apic-id 0"), CTL_EGUEST);
	assert_non_null(strstr(result_str(f, "error"), "boot CPU"));
	assert_int_equal(f->g.n_req, 0);
	assert_int_equal(f->q.nlog, 0);
}

/* QEMU without DEVICE_DELETED (pc with an ACPI-free guest): the guest's
 * release stands, the removal is reported as pending. */
static void del_no_device_deleted(void **state)
{
	struct fixture *f = *state;

	plug_hot(f, 1);
	f->q.device_deleted = false;
	start(f);
	assert_int_equal(run(f, "cpu del 1 --unplug-wait 0.2"), CTL_OK);
	assert_string_equal(result_str(f, "removed_pending"), "[\"upcall-cpu-1\"]");
}

/* QEMU refuses device_del (pc, ACPI-free guest): the guest's release
 * stands (exit 0), the vCPU is reported as kept by QEMU. */
static void del_device_del_refused(void **state)
{
	struct fixture *f = *state;

	plug_hot(f, 1);
	plug_hot(f, 2);
	f->q.refuse_device_del = true;
	start(f);
	assert_int_equal(run(f, "cpu del 1"), CTL_OK);
	assert_int_equal(f->g.n_req, 1);
	assert_string_equal(result_str(f, "removed_failed"), "[\"upcall-cpu-2\"]");
	assert_non_null(strstr(result_str(f, "warnings"), "not supported device type"));
	assert_true(f->q.slots[2].plugged);
}

static void add_rollback_refused(void **state)
{
	struct fixture *f = *state;

	f->g.cpu_accept = 0;
	f->q.refuse_device_del = true;
	start(f);
	assert_int_equal(run(f, "cpu add 2"), CTL_EGUEST);
	assert_string_equal(result_str(f, "rolled_back_failed"),
			    "[\"upcall-cpu-1\",\"upcall-cpu-2\"]");
	assert_string_equal(result_str(f, "errno"), "16");
}

/* ^C (SIGINT) while QEMU adds the second of three vCPUs: the run stops at
 * the next safe point, before the guest is told anything, and removes the
 * two vCPUs it created; exit 128 + SIGINT, everything reported. */
static void add_interrupted_before_guest(void **state)
{
	struct fixture *f = *state;

	f->q.signal_at_device_add = 2;
	f->q.signal = SIGINT;
	start(f);
	assert_int_equal(run(f, "cpu add 3"), CTL_EXIT_SIGNAL(SIGINT));
	assert_int_equal(f->g.n_req, 0);
	assert_int_equal(f->q.nlog, 4);
	assert_string_equal(f->q.log[2], "device_del upcall-cpu-1");
	assert_string_equal(f->q.log[3], "device_del upcall-cpu-2");
	assert_string_equal(result_str(f, "devices"), "[\"upcall-cpu-1\",\"upcall-cpu-2\"]");
	assert_string_equal(result_str(f, "rolled_back"), "[\"upcall-cpu-1\",\"upcall-cpu-2\"]");
	assert_string_equal(result_str(f, "errno"), "4");
	assert_non_null(strstr(result_str(f, "error"), "SIGINT: stopped before device_add of vCPU 3 of 3"));
	/* The signal belonged to that run: the next one is not stopped. */
	f->q.signal = 0;
	assert_int_equal(run(f, "cpu add 1"), CTL_OK);
	assert_int_equal(f->g.n_req, 1);
}

static void qmp_silent_times_out(void **state)
{
	struct fixture *f = *state;

	f->q.silent = true;
	f->c.timeout_ms = 200;
	start(f);
	assert_int_equal(run(f, "cpu add 1"), CTL_EVMM);
	assert_non_null(strstr(result_str(f, "error"), "no reply within 200 ms"));
	assert_int_equal(f->g.n_req, 0);
}

static void qmp_missing_socket(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, "cpu add 1"), CTL_EVMM);
	assert_string_equal(result_str(f, "errno"), "2");
}

static void guest_unreachable_creates_nothing(void **state)
{
	struct fixture *f = *state;

	f->g.hybrid_reply = "ERR\n";
	start(f);
	assert_int_equal(run(f, "cpu add 2"), CTL_ECONN);
	assert_int_equal(f->q.nlog, 0);
}

static void write_devices(struct fixture *f)
{
	FILE *fp = fopen(f->devices, "w");

	assert_non_null(fp);
	fputs("[\n {\"id\": \"d1\", \"file\": \"/tmp/d1.img\", \"base\": \"0xfeb00000\", "
	      "\"size\": \"0x200\", \"irq\": 5},\n"
	      " {\"id\": \"d2\", \"file\": \"/tmp/d2.img\", \"base\": 4272947712, "
	      "\"size\": 512, \"irq\": 6},\n"
	      " {\"id\": \"broken\", \"base\": \"zz\", \"size\": \"0x200\", \"irq\": 7}\n]\n", fp);
	fclose(fp);
	f->c.devices = f->devices;
}

static void mmio_by_device(void **state)
{
	struct fixture *f = *state;

	write_devices(f);
	f->q.known_device = "d2";
	start(f);
	assert_int_equal(run(f, "mmio add --device d2"), CTL_OK);
	assert_int_equal(f->g.n_req, 1);
	/* ADD_MMIO base 0xfeb00200 (decimal in the file) size 0x200 irq 6 */
	assert_int_equal(f->g.req[0][8], 5);
	assert_int_equal(f->g.req[0][16], 0x00);
	assert_int_equal(f->g.req[0][17], 0x02);
	assert_int_equal(f->g.req[0][18], 0xb0);
	assert_int_equal(f->g.req[0][19], 0xfe);
	assert_int_equal(f->g.req[0][25], 0x02);
	assert_int_equal(f->g.req[0][32], 6);
	assert_string_equal(result_str(f, "qemu_type"), "\"virtio-blk-device\"");
}

static void mmio_device_errors(void **state)
{
	struct fixture *f = *state;

	write_devices(f);
	f->q.known_device = "d2";
	start(f);
	assert_int_equal(run(f, "mmio add --device nosuch"), CTL_EVMM);
	assert_non_null(strstr(result_str(f, "error"), "no device with id"));
	assert_int_equal(run(f, "mmio add --device broken"), CTL_EVMM);
	/* In devices.json but unknown to QEMU. */
	assert_int_equal(run(f, "mmio del --device d1"), CTL_EVMM);
	assert_int_equal(f->g.n_req, 0);
	/* The guest says no: exit 1. */
	f->g.mmio_ret = -EEXIST;
	assert_int_equal(run(f, "mmio add --device d2"), CTL_EGUEST);
	assert_int_equal(f->g.n_req, 1);
}

/* mem_parse_size: sizes of upcall-ctl mem (pure, no fake needed) */
static void mem_sizes(void **state)
{
	static const char *const bad[] = {
		"", "0", "0M", "-1M", "+1M", " 1M", "1M ", "1.5G", "M", "1MM",
		"1Mi", "1mib", "1P", "0x", "0x0", "12abc", "99999999999999999999",
	};
	uint64_t v = 0;

	(void)state;
	assert_int_equal(mem_parse_size("134217728", &v), 0);
	assert_true(v == 128ULL << 20);
	assert_int_equal(mem_parse_size("128M", &v), 0);
	assert_true(v == 128ULL << 20);
	assert_int_equal(mem_parse_size("128MiB", &v), 0);
	assert_true(v == 128ULL << 20);
	assert_int_equal(mem_parse_size("1g", &v), 0);
	assert_true(v == 1ULL << 30);
	assert_int_equal(mem_parse_size("4KB", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(mem_parse_size("2T", &v), 0);
	assert_true(v == 2ULL << 40);
	assert_int_equal(mem_parse_size("0x8000000", &v), 0);
	assert_true(v == 128ULL << 20);
	assert_int_equal(mem_parse_size("16777215T", &v), 0);
	assert_int_equal(mem_parse_size("16777216T", &v), -ERANGE);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		if (mem_parse_size(bad[i], &v) == 0)
			fail_msg("'%s' parsed as %llu", bad[i], (unsigned long long)v);
		assert_int_equal(v, 42);
	}
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(add_two),
		T(add_rollback_by_apic_index),
		T(add_stale_index_no_rollback),
		T(add_kata_refusal_unknown),
		T(add_timeout_unknown),
		T(del_kata_refusal_unknown),
		T(add_device_add_fails_midway),
		T(add_not_enough_slots),
		T(add_by_apic_id),
		T(stale_device_deleted_not_taken),
		T(qmp_oversized_message_breaks),
		T(add_reuses_kept_vcpu),
		T(apic_cache_same_path_same_slot),
		T(add_takes_back_kept_vcpus),
		T(add_rollback_spares_kept_vcpu),
		T(del_skips_kept_vcpu),
		T(add_smt_topology),
		T(del_highest_two),
		T(del_partial_release),
		T(del_never_boot_cpu),
		T(del_no_device_deleted),
		T(del_device_del_refused),
		T(add_rollback_refused),
		T(add_interrupted_before_guest),
		T(qmp_silent_times_out),
		T(qmp_missing_socket),
		T(guest_unreachable_creates_nothing),
		T(mmio_by_device),
		T(mmio_device_errors),
		cmocka_unit_test(mem_sizes),
	};

	return cmocka_run_group_tests_name("qmp", tests, NULL, NULL);
}

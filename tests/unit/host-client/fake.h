/* SPDX-License-Identifier: MIT */
/*
 * Test doubles for the host client: a fake guest (hybrid vsock handshake,
 * device manager, agent status service) and a fake QEMU QMP server. Each
 * runs in its own thread and records what it received. Their wire code is
 * written independently of libupcall's codec on purpose.
 */
#ifndef UPCALL_TEST_FAKE_H
#define UPCALL_TEST_FAKE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define FAKE_MAX_REQ 16

struct fake_guest {
	/* behaviour */
	bool hybrid;             /* expect "CONNECT <port>\n" first */
	const char *hybrid_reply;/* default "OK 1073741824\n" */
	bool hybrid_close;       /* close instead of answering the handshake */
	bool dribble;            /* read and write one byte at a time */
	bool silent;             /* never send the greeting */
	bool bad_greeting;       /* greeting with msg_type 1 */
	bool no_reply;           /* never answer a request */
	bool close_mid_reply;    /* send 512 bytes of the reply, then close */
	bool bad_magic;          /* replies with a wrong magic */
	int cpu_accept;          /* >= 0: fail CPU batches at this index */
	int32_t cpu_errno;       /* the ret of such a failure (default -EBUSY) */
	bool cpu_stale_index;    /* on failure leave apic_index = 0xdeadbeef */
	/* Like Kata's guest: a failed request is answered with msg_size 0 and
	 * the reply buffer otherwise as the previous reply (or kata_fill, at
	 * first) left it, so offset 20 holds a stale apic_index. */
	bool kata;
	uint32_t kata_fill;      /* first contents of the reply buffer's words */
	unsigned int reply_delay_ms; /* wait this long before each reply */
	unsigned int garbage_replies; /* the first N replies: wrong magic */
	int32_t mmio_ret;
	int32_t pci_ret;         /* ret of ADD_PCI / DEL_PCI replies */
	bool track_present;      /* refuse ADD of present / DEL of absent IDs */
	bool present[256];
	bool del_whole;          /* with track_present: DEL_CPU validated as a
				  * whole like the kernel (an absent ID:
				  * -ENODEV, apic_index 0, nothing released) */
	const char *status_line; /* agent reply (port 1219), without '\n' */
	unsigned int slow_read_us; /* agent: pause between 1 KiB reads */
	bool agent_no_read;      /* agent: never read the request */

	/* results */
	char hybrid_line[64];
	unsigned int port;       /* port asked in the handshake */
	int service;             /* service byte, -1 if none */
	uint8_t req[FAKE_MAX_REQ][1024];
	unsigned int n_req;
	size_t agent_bytes;      /* size of the agent request received */
	unsigned int connections;

	/* plumbing */
	int fd;                  /* socketpair end or listener */
	bool listener;
	volatile bool stop;
	pthread_t thread;
	pthread_mutex_t lock;
};

void fake_guest_init(struct fake_guest *g);
/* socketpair: *client_fd is the host side; one connection served. */
int fake_guest_start_pair(struct fake_guest *g, int *client_fd);
/* Unix socket listener at path; connections served one after another
 * until fake_guest_stop(). Implies hybrid. */
int fake_guest_start_listen(struct fake_guest *g, const char *path);
void fake_guest_stop(struct fake_guest *g);

#define FAKE_QMP_SLOTS 16
#define FAKE_QMP_LOG 64

struct fake_qmp_slot {
	int socket, die, core, thread; /* die < 0: no die-id property */
	bool plugged, hot;
	char id[64];
};

struct fake_qmp {
	struct fake_qmp_slot slots[FAKE_QMP_SLOTS];
	unsigned int nslots;
	int cores, threads, dies;   /* topology, for the APIC IDs QEMU reports */
	int fail_device_add_at;     /* n-th device_add (1-based) fails */
	int signal_at_device_add;   /* n-th device_add (1-based): send ... */
	int signal;                 /* ... this signal to the process */
	bool events;                /* an unrelated event before every reply */
	bool device_deleted;        /* DEVICE_DELETED after device_del */
	bool refuse_device_del;     /* as QEMU 7.2 pc with an ACPI-free guest */
	bool silent;                /* no answer after qmp_capabilities */
	const char *known_device;   /* qom-get /machine/peripheral/<it> type */

	char log[FAKE_QMP_LOG][160];
	unsigned int nlog;
	unsigned int qom_gets;      /* qom-get apic-id commands answered */

	int fd;
	volatile bool stop;
	pthread_t thread;
	pthread_mutex_t lock;
};

/* nslots sockets of 1 core and 1 thread, socket 0 plugged (boot CPU). */
void fake_qmp_init(struct fake_qmp *q, unsigned int nslots);
int fake_qmp_start(struct fake_qmp *q, const char *path);
void fake_qmp_stop(struct fake_qmp *q);
/* APIC ID as QEMU computes it for a slot. */
long fake_qmp_apic(const struct fake_qmp *q, const struct fake_qmp_slot *s);

#endif

// SPDX-License-Identifier: MIT
/*
 * libupcall against a fake guest: golden byte images of every request,
 * the greeting rule, replies good and bad, timeouts, short transfers,
 * the hybrid handshake and the agent status line.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake.h"
#include "upcall.h"

/* A 1024-byte image: the hex digits given (spaces ignored), then zeros.
 * Written from the protocol page, not from the encoder. */
static void golden(uint8_t *img, const char *hex)
{
	size_t n = 0;

	memset(img, 0, 1024);
	for (const char *p = hex; *p; p++) {
		unsigned int v;

		if (*p == ' ')
			continue;
		assert_true(sscanf(p, "%2x", &v) == 1);
		img[n++] = (uint8_t)v;
		p++;
	}
}

/* ADD_CPU {1, 2, 3}: magic, msg_size 258, type 1, flags 0, count 3,
 * apic_ver 0, ids. */
#define GOLDEN_ADD_CPU "00014d44 02010000 01000000 00000000 03 00 010203"
#define GOLDEN_DEL_CPU "00014d44 02010000 02000000 00000000 02 00 0705"
/* ADD_MMIO base 0xfeb00e00 size 0x200 irq 12: msg_size 24. */
#define GOLDEN_ADD_MMIO "00014d44 18000000 05000000 00000000 " \
	"000eb0fe00000000 0002000000000000 0c000000 00000000"
#define GOLDEN_DEL_MMIO "00014d44 18000000 06000000 00000000 " \
	"00c0fefe01000000 0010000000000000 05000000 00000000"

/* ADD_PCI bus 0 slot 5 (devfn 0x28), DEL_PCI bus 1 devfn 0xf0: msg_size 2,
 * payload u8 busno, u8 devfn (Dragonball's layout). */
#define GOLDEN_ADD_PCI "00014d44 02000000 07000000 00000000 00 28"
#define GOLDEN_DEL_PCI "00014d44 02000000 08000000 00000000 01 f0"

/* ADD_MEM base 4 GiB size 128 MiB, DEL_MEM base 0x1234_5600_0000 size
 * 1 GiB: msg_size 16, payload __le64 base, __le64 size (our extension). */
#define GOLDEN_ADD_MEM "00014d44 10000000 03000000 00000000 " \
	"0000000001000000 0000000800000000"
#define GOLDEN_DEL_MEM "00014d44 10000000 04000000 00000000 " \
	"0000005634120000 0000004000000000"

static const uint8_t ids123[] = { 1, 2, 3 };
static const uint8_t ids75[] = { 7, 5 };

/* ---- codec (pure) ---- */

static void codec_cpu_golden(void **state)
{
	uint8_t img[1024], buf[1024];

	(void)state;
	golden(img, GOLDEN_ADD_CPU);
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(upcall_encode_cpu(buf, UPCALL_MSG_ADD_CPU, ids123, 3), 0);
	assert_memory_equal(buf, img, 1024);
	golden(img, GOLDEN_DEL_CPU);
	assert_int_equal(upcall_encode_cpu(buf, UPCALL_MSG_DEL_CPU, ids75, 2), 0);
	assert_memory_equal(buf, img, 1024);
}

static void codec_mmio_golden(void **state)
{
	uint8_t img[1024], buf[1024];

	(void)state;
	golden(img, GOLDEN_ADD_MMIO);
	memset(buf, 0x55, sizeof(buf));
	assert_int_equal(upcall_encode_mmio(buf, UPCALL_MSG_ADD_MMIO, 0xfeb00e00, 0x200, 12), 0);
	assert_memory_equal(buf, img, 1024);
	golden(img, GOLDEN_DEL_MMIO);
	assert_int_equal(upcall_encode_mmio(buf, UPCALL_MSG_DEL_MMIO, 0x1fefec000ULL, 0x1000, 5), 0);
	assert_memory_equal(buf, img, 1024);
}

static void codec_pci_golden(void **state)
{
	uint8_t img[1024], buf[1024];

	(void)state;
	golden(img, GOLDEN_ADD_PCI);
	memset(buf, 0x55, sizeof(buf));
	assert_int_equal(upcall_encode_pci(buf, UPCALL_MSG_ADD_PCI, 0, 0x28), 0);
	assert_memory_equal(buf, img, 1024);
	golden(img, GOLDEN_DEL_PCI);
	assert_int_equal(upcall_encode_pci(buf, UPCALL_MSG_DEL_PCI, 1, 0xf0), 0);
	assert_memory_equal(buf, img, 1024);
	assert_int_equal(upcall_encode_pci(buf, UPCALL_MSG_ADD_MMIO, 0, 0x28), -EINVAL);
	assert_int_equal(upcall_encode_pci(buf, UPCALL_MSG_DEL_CPU, 0, 0x28), -EINVAL);
}

static void codec_mem_golden(void **state)
{
	uint8_t img[1024], buf[1024];

	(void)state;
	golden(img, GOLDEN_ADD_MEM);
	assert_int_equal(upcall_encode_mem(buf, UPCALL_MSG_ADD_MEM, 1ULL << 32, 128ULL << 20), 0);
	assert_memory_equal(buf, img, 1024);
	golden(img, GOLDEN_DEL_MEM);
	assert_int_equal(upcall_encode_mem(buf, UPCALL_MSG_DEL_MEM, 0x123456000000ULL, 1ULL << 30), 0);
	assert_memory_equal(buf, img, 1024);
	/* wrong type, empty range, a range that wraps; the very top is fine */
	assert_int_equal(upcall_encode_mem(buf, UPCALL_MSG_ADD_MMIO, 0, 4096), -EINVAL);
	assert_int_equal(upcall_encode_mem(buf, UPCALL_MSG_ADD_MEM, 1ULL << 32, 0), -EINVAL);
	assert_int_equal(upcall_encode_mem(buf, UPCALL_MSG_DEL_MEM, ~0ULL - 0xfff, 0x2000), -EINVAL);
	assert_int_equal(upcall_encode_mem(buf, UPCALL_MSG_DEL_MEM, ~0ULL - 0xfff, 0x1000), 0);
}

static void codec_encode_rejects(void **state)
{
	uint8_t buf[1024], ids[256] = { 0 };

	(void)state;
	assert_int_equal(upcall_encode_cpu(buf, UPCALL_MSG_ADD_CPU, ids, 0), -EINVAL);
	assert_int_equal(upcall_encode_cpu(buf, UPCALL_MSG_ADD_CPU, ids, 256), -EINVAL);
	assert_int_equal(upcall_encode_cpu(buf, UPCALL_MSG_ADD_CPU, ids, 255), 0);
	assert_int_equal(buf[16], 255);
	assert_int_equal(upcall_encode_cpu(buf, UPCALL_MSG_ADD_MMIO, ids, 1), -EINVAL);
	assert_int_equal(upcall_encode_mmio(buf, UPCALL_MSG_ADD_MMIO, 0x1000, 0, 5), -EINVAL);
	assert_int_equal(upcall_encode_mmio(buf, UPCALL_MSG_ADD_MMIO, ~0ULL - 0xfff, 0x2000, 5), -EINVAL);
	/* A window that ends exactly at the top of the address space is fine. */
	assert_int_equal(upcall_encode_mmio(buf, UPCALL_MSG_ADD_MMIO, ~0ULL - 0xfff, 0x1000, 5), 0);
	assert_int_equal(upcall_encode_mmio(buf, UPCALL_MSG_ADD_CPU, 0x1000, 0x200, 5), -EINVAL);
}

static void codec_greeting(void **state)
{
	uint8_t img[1024];

	(void)state;
	golden(img, "00014d44");
	assert_int_equal(upcall_check_greeting(img, 1024), 0);
	assert_int_equal(upcall_check_greeting(img, 1023), -EMSGSIZE);
	/* Each of the four header fields must be exact. */
	golden(img, "00024d44");
	assert_int_equal(upcall_check_greeting(img, 1024), -EPROTO);
	golden(img, "00014d44 04000000");
	assert_int_equal(upcall_check_greeting(img, 1024), -EPROTO);
	golden(img, "00014d44 00000000 01000000");
	assert_int_equal(upcall_check_greeting(img, 1024), -EPROTO);
	golden(img, "00014d44 00000000 00000000 01000000");
	assert_int_equal(upcall_check_greeting(img, 1024), -EPROTO);
}

static void codec_replies(void **state)
{
	struct upcall_reply r;
	uint8_t img[1024];

	(void)state;
	/* CPU success: ret 0, apic_index == count. */
	golden(img, "00014d44 04000000 01000000 00000000 00000000 03000000");
	assert_int_equal(upcall_decode_reply(img, 1024, 1, 3, &r), 0);
	assert_int_equal(r.ret, 0);
	assert_true(r.has_apic_index);
	assert_int_equal(r.apic_index, 3);
	/* CPU failure at index 1 with -EBUSY (-16 = 0xfffffff0). */
	golden(img, "00014d44 04000000 02000000 00000000 f0ffffff 01000000");
	assert_int_equal(upcall_decode_reply(img, 1024, 2, 3, &r), 0);
	assert_int_equal(r.ret, -EBUSY);
	assert_true(r.has_apic_index);
	assert_int_equal(r.apic_index, 1);
	/* A stale index beyond the batch is flagged, not trusted. */
	golden(img, "00014d44 04000000 01000000 00000000 eaffffff efbeadde");
	assert_int_equal(upcall_decode_reply(img, 1024, 1, 3, &r), 0);
	assert_int_equal(r.ret, -EINVAL);
	assert_false(r.has_apic_index);
	/* Success that does not cover the batch is a protocol error. */
	golden(img, "00014d44 04000000 01000000 00000000 00000000 02000000");
	assert_int_equal(upcall_decode_reply(img, 1024, 1, 3, &r), -EPROTO);
	/* CPU reply too short for apic_index. */
	golden(img, "00014d44 00000000 01000000 00000000 00000000 03000000");
	assert_int_equal(upcall_decode_reply(img, 1024, 1, 3, &r), -EPROTO);
	/* Wrong magic, wrong type, absurd size, wrong length. */
	golden(img, "00014d45 04000000 01000000 00000000 00000000 03000000");
	assert_int_equal(upcall_decode_reply(img, 1024, 1, 3, &r), -EPROTO);
	golden(img, "00014d44 04000000 02000000 00000000 00000000 03000000");
	assert_int_equal(upcall_decode_reply(img, 1024, 1, 3, &r), -EPROTO);
	golden(img, "00014d44 f9030000 05000000");
	assert_int_equal(upcall_decode_reply(img, 1024, 5, 0, &r), -EPROTO);
	assert_int_equal(upcall_decode_reply(img, 16, 5, 0, &r), -EMSGSIZE);
	/* MMIO reply: msg_size 0, ret only. -EEXIST = 0xffffffef. */
	golden(img, "00014d44 00000000 05000000 00000000 efffffff");
	assert_int_equal(upcall_decode_reply(img, 1024, 5, 0, &r), 0);
	assert_int_equal(r.ret, -EEXIST);
	assert_false(r.has_apic_index);
	/* Generic reply (PCI): ret only. */
	golden(img, "00014d44 00000000 07000000 00000000 edffffff");
	assert_int_equal(upcall_decode_reply(img, 1024, 7, 0, &r), 0);
	assert_int_equal(r.ret, -ENODEV);
}

/*
 * Replies shaped like Kata's guest's: every failure has msg_size 0 and
 * leaves apic_index as the reply buffer held it. A failure is a refusal
 * carrying ret; an index is trusted only if present and below the batch.
 */
static void codec_kata_replies(void **state)
{
	static const struct {
		const char *img;
		uint32_t type;
		unsigned int count;
		int rc;          /* of upcall_decode_reply */
		int32_t ret;
		bool has_index;
		uint32_t index;
	} t[] = {
		/* The reply: {0x444D0100, 0, 1, 0, ret -22}. */
		{ "00014d44 00000000 01000000 00000000 eaffffff", 1, 1, 0, -EINVAL, false, 0 },
		/* msg_size 0, stale bytes where apic_index would be. */
		{ "00014d44 00000000 01000000 00000000 f0ffffff 01000000", 1, 3, 0, -EBUSY, false, 0 },
		{ "00014d44 00000000 02000000 00000000 edffffff efbeadde", 2, 2, 0, -ENODEV, false, 0 },
		/* msg_size 4 but the index is not below the batch: unknown. */
		{ "00014d44 04000000 01000000 00000000 efffffff 03000000", 1, 3, 0, -EEXIST, false, 3 },
		{ "00014d44 04000000 01000000 00000000 efffffff 04000000", 1, 3, 0, -EEXIST, false, 4 },
		{ "00014d44 04000000 02000000 00000000 f0ffffff efbeadde", 2, 1, 0, -EBUSY, false, 0xdeadbeef },
		/* A trusted index: below the batch size. */
		{ "00014d44 04000000 01000000 00000000 efffffff 02000000", 1, 3, 0, -EEXIST, true, 2 },
		{ "00014d44 04000000 01000000 00000000 efffffff 00000000", 1, 1, 0, -EEXIST, true, 0 },
		/* A longer msg_size is fine; apic_index is still at offset 20. */
		{ "00014d44 08000000 01000000 00000000 efffffff 01000000", 1, 3, 0, -EEXIST, true, 1 },
		/* The largest errno the kernel uses. */
		{ "00014d44 00000000 01000000 00000000 01f0ffff", 1, 1, 0, -4095, false, 0 },
		/* Successes must still be well formed. */
		{ "00014d44 00000000 01000000 00000000 00000000 01000000", 1, 1, -EPROTO, 0, false, 0 },
		{ "00014d44 04000000 01000000 00000000 00000000 00000000", 1, 1, -EPROTO, 0, false, 0 },
		{ "00014d44 04000000 02000000 00000000 00000000 03000000", 2, 2, -EPROTO, 0, false, 0 },
		/* ret neither 0 nor a negative errno: not an answer. */
		{ "00014d44 04000000 01000000 00000000 05000000 00000000", 1, 1, -EPROTO, 0, false, 0 },
		{ "00014d44 00000000 05000000 00000000 00f0ffff", 5, 0, -EPROTO, 0, false, 0 },
		{ "00014d44 00000000 05000000 00000000 00000080", 5, 0, -EPROTO, 0, false, 0 },
		/* MMIO failure, Kata style (msg_size 0 like any MMIO reply). */
		{ "00014d44 00000000 06000000 00000000 edffffff 41414141", 6, 0, 0, -ENODEV, false, 0 },
	};
	struct upcall_reply r;
	uint8_t img[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		golden(img, t[i].img);
		print_message("# row %zu: %s\n", i, t[i].img);
		assert_int_equal(upcall_decode_reply(img, 1024, t[i].type, t[i].count, &r), t[i].rc);
		if (t[i].rc)
			continue;
		assert_int_equal(r.ret, t[i].ret);
		assert_int_equal(r.has_apic_index, t[i].has_index);
		if (t[i].has_index || t[i].index)
			assert_int_equal(r.apic_index, t[i].index);
	}
}

static void codec_hybrid(void **state)
{
	static const char *const bad[] = {
		"OK\n", "OK \n", "OK 12x\n", "ERR 1\n", "OK 1", "ok 1\n",
		"OK 99999999999\n", "OK -1\n", " OK 1\n", "",
	};
	uint32_t port = 0;

	(void)state;
	assert_int_equal(upcall_parse_hybrid_reply("OK 1073741824\n", 14, &port), 0);
	assert_int_equal(port, 1073741824u);
	assert_int_equal(upcall_parse_hybrid_reply("OK 5\n", 5, NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(upcall_parse_hybrid_reply(bad[i], strlen(bad[i]), &port),
				 -ECONNREFUSED);
}

/* ---- sessions against the fake guest ---- */

struct fixture {
	struct fake_guest g;
	struct upcall *h;
	char dir[64];
	char path[128];
	bool joined;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	fake_guest_init(&f->g);
	f->h = upcall_new();
	snprintf(f->dir, sizeof(f->dir), "/tmp/host-client-test-XXXXXX");
	if (!f->h || !mkdtemp(f->dir)) {
		upcall_free(f->h);
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/vsock.sock", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	upcall_free(f->h); /* closes the client end: the fake sees EOF */
	if (f->g.fd >= 0 && !f->joined)
		fake_guest_stop(&f->g);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Start the fake on a socketpair and hand the host end to the handle. */
static void start_pair(struct fixture *f)
{
	int fd;

	assert_int_equal(fake_guest_start_pair(&f->g, &fd), 0);
	assert_int_equal(upcall_connect_fd(f->h, fd), 0);
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* End the conversation and wait for the fake, keeping its records. */
static void run_and_stop(struct fixture *f)
{
	upcall_close(f->h);
	f->g.stop = true;
	pthread_join(f->g.thread, NULL);
	f->joined = true;
}

static void session_golden_requests(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;
	uint8_t img[1024];

	start_pair(f);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_cpu_add(f->h, ids123, 3, &r), 0);
	assert_int_equal(upcall_cpu_del(f->h, ids75, 2, &r), 0);
	assert_int_equal(upcall_mmio_add(f->h, 0xfeb00e00, 0x200, 12, &r), 0);
	assert_int_equal(r.ret, 0);
	assert_int_equal(upcall_mmio_del(f->h, 0x1fefec000ULL, 0x1000, 5, &r), 0);
	run_and_stop(f);
	assert_int_equal(f->g.service, 'd');
	assert_int_equal(f->g.n_req, 4);
	golden(img, GOLDEN_ADD_CPU);
	assert_memory_equal(f->g.req[0], img, 1024);
	golden(img, GOLDEN_DEL_CPU);
	assert_memory_equal(f->g.req[1], img, 1024);
	golden(img, GOLDEN_ADD_MMIO);
	assert_memory_equal(f->g.req[2], img, 1024);
	golden(img, GOLDEN_DEL_MMIO);
	assert_memory_equal(f->g.req[3], img, 1024);
}

static void session_pci(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;
	uint8_t img[1024];

	start_pair(f);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_pci_add(f->h, 0, 0x28, &r), 0);
	assert_int_equal(r.ret, 0);
	assert_int_equal(r.msg_type, UPCALL_MSG_ADD_PCI);
	f->g.pci_ret = -ENODEV;
	assert_int_equal(upcall_pci_del(f->h, 1, 0xf0, &r), 0);
	assert_int_equal(r.ret, -ENODEV);
	assert_false(r.has_apic_index);
	assert_non_null(strstr(upcall_last_error(f->h), "guest refused DEL_PCI"));
	assert_int_equal(upcall_pci_add(f->h, 0, 0x28, NULL), -EINVAL);
	run_and_stop(f);
	assert_int_equal(f->g.n_req, 2);
	golden(img, GOLDEN_ADD_PCI);
	assert_memory_equal(f->g.req[0], img, 1024);
	golden(img, GOLDEN_DEL_PCI);
	assert_memory_equal(f->g.req[1], img, 1024);
}

static void session_partial_cpu(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;

	f->g.cpu_accept = 1;
	f->g.cpu_errno = -EEXIST;
	start_pair(f);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_cpu_add(f->h, ids123, 3, &r), 0);
	assert_int_equal(r.ret, -EEXIST);
	assert_true(r.has_apic_index);
	assert_int_equal(r.apic_index, 1);
	assert_non_null(strstr(upcall_last_error(f->h), "guest refused ADD_CPU"));
}

static void session_stale_index(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;

	f->g.cpu_accept = 0;
	f->g.cpu_stale_index = true;
	start_pair(f);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_cpu_del(f->h, ids75, 2, &r), 0);
	assert_int_equal(r.ret, -EBUSY);
	assert_false(r.has_apic_index);
}

/* Kata's guest refuses: msg_size 0, ret -22. A refusal, not a broken
 * connection: the handle goes on serving. */
static void session_kata_refusal(void **state)
{
	struct fixture *f = *state;
	static const uint8_t one[] = { 1 };
	struct upcall_reply r;

	f->g.kata = true;
	f->g.kata_fill = 0x00000001; /* looks like a plausible index */
	f->g.cpu_accept = 0;
	f->g.cpu_errno = -EINVAL;
	start_pair(f);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_cpu_add(f->h, one, 1, &r), 0);
	assert_int_equal(r.ret, -EINVAL);
	assert_int_equal(r.msg_size, 0);
	assert_false(r.has_apic_index);
	assert_non_null(strstr(upcall_last_error(f->h), "guest refused ADD_CPU"));
	assert_non_null(strstr(upcall_last_error(f->h), "unknown"));
	assert_false(upcall_is_broken(f->h));
	assert_int_equal(upcall_mmio_add(f->h, 0xfeb00e00, 0x200, 12, &r), 0);
	assert_int_equal(r.ret, 0);
}

/* Kata's guest after a success of 3 keeps apic_index 3 in its buffer; a
 * failed batch of 2 then reads 3 at offset 20 (msg_size 0): unknown. */
static void session_kata_stale_index(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;

	f->g.kata = true;
	f->g.track_present = true;
	start_pair(f);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_cpu_add(f->h, ids123, 3, &r), 0);
	assert_int_equal(r.ret, 0);
	assert_int_equal(r.apic_index, 3);
	assert_int_equal(upcall_cpu_del(f->h, ids75, 2, &r), 0);
	assert_int_equal(r.ret, -ENODEV);
	assert_false(r.has_apic_index);
	run_and_stop(f);
	assert_int_equal(f->g.n_req, 2);
}

/* A reply that comes after the timeout must never be read as the next
 * request's: the handle is broken and refuses further calls. */
static void session_broken_after_timeout(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;

	f->g.reply_delay_ms = 400;
	start_pair(f);
	assert_int_equal(upcall_set_timeout(f->h, 150), 0);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_cpu_add(f->h, ids123, 3, &r), -ETIMEDOUT);
	assert_true(upcall_is_broken(f->h));
	usleep(500 * 1000); /* the late reply has been sent by now */
	assert_int_equal(upcall_cpu_add(f->h, ids123, 3, &r), -EPIPE);
	assert_non_null(strstr(upcall_last_error(f->h), "unusable"));
	assert_non_null(strstr(upcall_last_error(f->h), "ADD_CPU: timed out"));
	assert_int_equal(upcall_mmio_del(f->h, 0xfeb00e00, 0x200, 12, &r), -EPIPE);
	assert_int_equal(upcall_devmgr_start(f->h), -EPIPE);
	assert_int_equal(upcall_fd(f->h), -1);
	run_and_stop(f);
	assert_int_equal(f->g.n_req, 1); /* nothing was sent after the timeout */
}

/* A garbage reply (wrong magic) breaks the handle too, even though the
 * guest's next reply would be well formed. */
static void session_broken_after_garbage(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;

	f->g.garbage_replies = 1;
	start_pair(f);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_cpu_del(f->h, ids75, 2, &r), -EPROTO);
	assert_true(upcall_is_broken(f->h));
	assert_int_equal(upcall_cpu_del(f->h, ids75, 2, &r), -EPIPE);
	assert_non_null(strstr(upcall_last_error(f->h), "reply malformed"));
	run_and_stop(f);
	assert_int_equal(f->g.n_req, 1);
}

/* A broken handle works again after a new connection; a request before
 * the device manager is selected is refused without sending anything. */
static void session_reconnect_after_broken(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;

	f->g.garbage_replies = 1;
	assert_int_equal(fake_guest_start_listen(&f->g, f->path), 0);
	assert_int_equal(upcall_connect_hybrid(f->h, f->path, 219), 0);
	assert_int_equal(upcall_cpu_add(f->h, ids75, 2, &r), -EINVAL);
	assert_non_null(strstr(upcall_last_error(f->h), "upcall_devmgr_start"));
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_devmgr_start(f->h), -EINVAL);
	assert_int_equal(upcall_cpu_add(f->h, ids75, 2, &r), -EPROTO);
	assert_int_equal(upcall_cpu_add(f->h, ids75, 2, &r), -EPIPE);
	f->g.garbage_replies = 0;
	assert_int_equal(upcall_connect_hybrid(f->h, f->path, 219), 0);
	assert_false(upcall_is_broken(f->h));
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_cpu_add(f->h, ids75, 2, &r), 0);
	assert_int_equal(r.ret, 0);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* The fake reads and writes one byte at a time while SIGALRM keeps
 * interrupting poll(): every transfer must still complete. */
static void session_dribble_eintr(void **state)
{
	struct fixture *f = *state;
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	struct itimerval it = { { 0, 2000 }, { 0, 2000 } }, off = { { 0, 0 }, { 0, 0 } };
	struct upcall_reply r;
	uint8_t img[1024];

	f->g.dribble = true;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: poll() sees EINTR */
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	alarms = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	start_pair(f);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_cpu_add(f->h, ids123, 3, &r), 0);
	assert_int_equal(upcall_mmio_add(f->h, 0xfeb00e00, 0x200, 12, &r), 0);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	assert_int_equal(r.ret, 0);
	run_and_stop(f);
	assert_true(alarms > 0);
	golden(img, GOLDEN_ADD_CPU);
	assert_memory_equal(f->g.req[0], img, 1024);
	golden(img, GOLDEN_ADD_MMIO);
	assert_memory_equal(f->g.req[1], img, 1024);
}

static void session_bad_greeting(void **state)
{
	struct fixture *f = *state;

	f->g.bad_greeting = true;
	start_pair(f);
	assert_int_equal(upcall_devmgr_start(f->h), -EPROTO);
	assert_non_null(strstr(upcall_last_error(f->h), "greeting"));
	assert_non_null(strstr(upcall_last_error(f->h), "type 1"));
}

static void session_bad_magic(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;

	f->g.bad_magic = true;
	start_pair(f);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_cpu_add(f->h, ids123, 3, &r), -EPROTO);
	assert_non_null(strstr(upcall_last_error(f->h), "0x444d0200"));
}

static void session_timeout_greeting(void **state)
{
	struct fixture *f = *state;
	long long t0;

	f->g.silent = true;
	start_pair(f);
	assert_int_equal(upcall_set_timeout(f->h, 200), 0);
	t0 = ms_now();
	assert_int_equal(upcall_devmgr_start(f->h), -ETIMEDOUT);
	assert_in_range(ms_now() - t0, 190, 3000);
	assert_non_null(strstr(upcall_last_error(f->h), "timed out"));
}

static void session_timeout_reply(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;

	f->g.no_reply = true;
	start_pair(f);
	upcall_set_timeout(f->h, 150);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_mmio_add(f->h, 0xfeb00e00, 0x200, 12, &r), -ETIMEDOUT);
	assert_non_null(strstr(upcall_last_error(f->h), "ADD_MMIO"));
}

static void session_close_mid_message(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;

	f->g.close_mid_reply = true;
	start_pair(f);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_cpu_add(f->h, ids123, 3, &r), -ECONNRESET);
	assert_non_null(strstr(upcall_last_error(f->h), "after 512 of 1024 bytes"));
}

static void session_validation(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;
	uint8_t ids[256] = { 0 };

	start_pair(f);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_cpu_add(f->h, ids, 0, &r), -EINVAL);
	assert_non_null(strstr(upcall_last_error(f->h), "out of range"));
	assert_int_equal(upcall_cpu_del(f->h, ids, 256, &r), -EINVAL);
	assert_int_equal(upcall_cpu_add(f->h, NULL, 2, &r), -EINVAL);
	assert_int_equal(upcall_mmio_add(f->h, 0x1000, 0, 5, &r), -EINVAL);
	assert_non_null(strstr(upcall_last_error(f->h), "zero"));
	assert_int_equal(upcall_mmio_del(f->h, ~0ULL, 2, 5, &r), -EINVAL);
	assert_non_null(strstr(upcall_last_error(f->h), "wraps"));
	assert_int_equal(upcall_set_timeout(f->h, 0), -EINVAL);
	run_and_stop(f);
	assert_int_equal(f->g.n_req, 0); /* nothing was sent */
}

static void session_not_connected(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;

	assert_int_equal(upcall_devmgr_start(f->h), -ENOTCONN);
	assert_int_equal(upcall_cpu_add(f->h, ids123, 3, &r), -ENOTCONN);
	f->joined = true;
}

/* ---- hybrid vsock handshake ---- */

static void hybrid_ok(void **state)
{
	struct fixture *f = *state;
	struct upcall_reply r;

	assert_int_equal(fake_guest_start_listen(&f->g, f->path), 0);
	assert_int_equal(upcall_connect_hybrid(f->h, f->path, 219), 0);
	assert_int_equal(upcall_devmgr_start(f->h), 0);
	assert_int_equal(upcall_cpu_add(f->h, ids75, 2, &r), 0);
	assert_int_equal(r.ret, 0);
	assert_string_equal(f->g.hybrid_line, "CONNECT 219\n");
	assert_int_equal(f->g.port, 219);
}

static void hybrid_refused(void **state)
{
	struct fixture *f = *state;

	f->g.hybrid_reply = "ERR no listener\n";
	assert_int_equal(fake_guest_start_listen(&f->g, f->path), 0);
	assert_int_equal(upcall_connect_hybrid(f->h, f->path, 219), -ECONNREFUSED);
	assert_non_null(strstr(upcall_last_error(f->h), "ERR no listener"));
	assert_int_equal(upcall_fd(f->h), -1);
}

static void hybrid_eof(void **state)
{
	struct fixture *f = *state;

	f->g.hybrid_close = true;
	assert_int_equal(fake_guest_start_listen(&f->g, f->path), 0);
	assert_int_equal(upcall_connect_hybrid(f->h, f->path, 219), -ECONNREFUSED);
	assert_non_null(strstr(upcall_last_error(f->h), "closed"));
}

static void hybrid_garbage(void **state)
{
	struct fixture *f = *state;
	static char junk[200];

	memset(junk, 'x', sizeof(junk) - 1);
	junk[0] = '\x01';
	f->g.hybrid_reply = junk;
	assert_int_equal(fake_guest_start_listen(&f->g, f->path), 0);
	assert_int_equal(upcall_connect_hybrid(f->h, f->path, 219), -ECONNREFUSED);
	assert_non_null(strstr(upcall_last_error(f->h), "refused"));
}

static void hybrid_no_socket(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(upcall_connect_hybrid(f->h, f->path, 219), -ENOENT);
	assert_non_null(strstr(upcall_last_error(f->h), f->path));
	f->joined = true;
}

/* ---- agent status service ---- */

static void agent_status(void **state)
{
	struct fixture *f = *state;
	char out[256];

	f->g.status_line = "{\"ready\":true,\"cpus\":2}";
	assert_int_equal(fake_guest_start_listen(&f->g, f->path), 0);
	assert_int_equal(upcall_connect_hybrid(f->h, f->path, UPCALL_AGENT_PORT), 0);
	assert_int_equal(upcall_agent_request(f->h, "status", out, sizeof(out)),
			 (ssize_t)strlen(f->g.status_line));
	assert_string_equal(out, f->g.status_line);
	assert_int_equal(f->g.port, 1219);
	assert_int_equal(f->g.agent_bytes, 7);
}

static void agent_reply_too_long(void **state)
{
	struct fixture *f = *state;
	char out[16];

	f->g.status_line = "{\"a\":\"0123456789abcdef\"}";
	assert_int_equal(fake_guest_start_listen(&f->g, f->path), 0);
	assert_int_equal(upcall_connect_hybrid(f->h, f->path, UPCALL_AGENT_PORT), 0);
	assert_int_equal(upcall_agent_request(f->h, "status", out, sizeof(out)), -EMSGSIZE);
}

static void agent_no_reply(void **state)
{
	struct fixture *f = *state;
	char out[64];

	assert_int_equal(fake_guest_start_listen(&f->g, f->path), 0);
	assert_int_equal(upcall_connect_hybrid(f->h, f->path, UPCALL_AGENT_PORT), 0);
	assert_int_equal(upcall_agent_request(f->h, "status", out, sizeof(out)), -ECONNRESET);
	assert_int_equal(upcall_agent_request(f->h, "two\nlines", out, sizeof(out)), -EINVAL);
}

/* A request far bigger than the socket buffer against a slow reader: the
 * sends come back short and with EAGAIN, and all of it must arrive. */
static void agent_short_writes(void **state)
{
	struct fixture *f = *state;
	size_t len = 1u << 20;
	char *big = malloc(len + 1), out[64];

	assert_non_null(big);
	memset(big, 'a', len);
	big[len] = '\0';
	f->g.status_line = "{}";
	f->g.slow_read_us = 10;
	upcall_set_timeout(f->h, 20000);
	assert_int_equal(fake_guest_start_listen(&f->g, f->path), 0);
	assert_int_equal(upcall_connect_hybrid(f->h, f->path, UPCALL_AGENT_PORT), 0);
	assert_int_equal(upcall_agent_request(f->h, big, out, sizeof(out)), 2);
	assert_int_equal(f->g.agent_bytes, len + 1);
	free(big);
}

static void agent_write_timeout(void **state)
{
	struct fixture *f = *state;
	size_t len = 4u << 20;
	char *big = malloc(len + 1), out[64];

	assert_non_null(big);
	memset(big, 'a', len);
	big[len] = '\0';
	f->g.agent_no_read = true;
	assert_int_equal(fake_guest_start_listen(&f->g, f->path), 0);
	assert_int_equal(upcall_connect_hybrid(f->h, f->path, UPCALL_AGENT_PORT), 0);
	upcall_set_timeout(f->h, 200);
	assert_int_equal(upcall_agent_request(f->h, big, out, sizeof(out)), -ETIMEDOUT);
	assert_non_null(strstr(upcall_last_error(f->h), "sending"));
	free(big);
}

static void strerror_text(void **state)
{
	(void)state;
	assert_string_equal(upcall_strerror(-ETIMEDOUT), "Connection timed out");
	assert_string_equal(upcall_strerror(0), "success");
	assert_string_equal(upcall_msg_type_name(5), "ADD_MMIO");
	assert_string_equal(upcall_msg_type_name(99), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(codec_cpu_golden),
		cmocka_unit_test(codec_mmio_golden),
		cmocka_unit_test(codec_pci_golden),
		cmocka_unit_test(codec_mem_golden),
		cmocka_unit_test(codec_encode_rejects),
		cmocka_unit_test(codec_greeting),
		cmocka_unit_test(codec_replies),
		cmocka_unit_test(codec_kata_replies),
		cmocka_unit_test(codec_hybrid),
		cmocka_unit_test(strerror_text),
		cmocka_unit_test_setup_teardown(session_golden_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(session_pci, setup, teardown),
		cmocka_unit_test_setup_teardown(session_partial_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(session_stale_index, setup, teardown),
		cmocka_unit_test_setup_teardown(session_kata_refusal, setup, teardown),
		cmocka_unit_test_setup_teardown(session_kata_stale_index, setup, teardown),
		cmocka_unit_test_setup_teardown(session_broken_after_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(session_broken_after_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(session_reconnect_after_broken, setup, teardown),
		cmocka_unit_test_setup_teardown(session_dribble_eintr, setup, teardown),
		cmocka_unit_test_setup_teardown(session_bad_greeting, setup, teardown),
		cmocka_unit_test_setup_teardown(session_bad_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(session_timeout_greeting, setup, teardown),
		cmocka_unit_test_setup_teardown(session_timeout_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(session_close_mid_message, setup, teardown),
		cmocka_unit_test_setup_teardown(session_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(session_not_connected, setup, teardown),
		cmocka_unit_test_setup_teardown(hybrid_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(hybrid_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(hybrid_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(hybrid_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(hybrid_no_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(agent_status, setup, teardown),
		cmocka_unit_test_setup_teardown(agent_reply_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(agent_no_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(agent_short_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(agent_write_timeout, setup, teardown),
	};

	return cmocka_run_group_tests_name("host-client", tests, NULL, NULL);
}

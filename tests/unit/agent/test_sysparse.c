// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests: agent/cpulist.c, agent/request.c, agent/sysparse.c and
 * agent/strutil.c (the text the status service reads and receives).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpulist.h"
#include "request.h"
#include "strutil.h"
#include "sysparse.h"

static long count(const char *s)
{
	return cpulist_count(s, strlen(s));
}

static void test_cpulist_valid(void **state)
{
	(void)state;
	assert_int_equal(count("0\n"), 1);
	assert_int_equal(count("0-3"), 4);
	assert_int_equal(count("0-3,5\n"), 5);
	assert_int_equal(count("0,2,4-7"), 6);
	assert_int_equal(count("1-1"), 1);
	assert_int_equal(count(""), 0);
	assert_int_equal(count("\n"), 0);
	assert_int_equal(count("0-65535"), 65536);
}

static void test_cpulist_invalid(void **state)
{
	static const char *const bad[] = {
		"x", "0-", "-3", "3-1", "0,,1", "0,", ",0", "0 1", "1-2-3",
		"0x1", "65536", "99999999999999999999999", "2,1", "0-3,2",
		"0-3,3", " 0", "0\n1",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (count(bad[i]) != -1)
			fail_msg("'%s' accepted", bad[i]);
	}
}

static void test_cpulist_bounded_read(void **state)
{
	/* "0-3" followed by bytes that must not be read */
	static const char s[] = { '0', '-', '3', '9' };

	(void)state;
	assert_int_equal(cpulist_count(s, 3), 4);
	assert_int_equal(cpulist_count(s, 4), 40);
}

static void test_request_parse(void **state)
{
	struct request r;

	(void)state;
	request_parse("status", 6, &r);
	assert_int_equal(r.kind, REQ_STATUS);
	request_parse("status\r", 7, &r);
	assert_int_equal(r.kind, REQ_STATUS);
	request_parse("reboot", 6, &r);
	assert_int_equal(r.kind, REQ_REBOOT);
	request_parse("exec  echo hi >/dev/null 2>&1 &", 31, &r);
	assert_int_equal(r.kind, REQ_EXEC);
	assert_int_equal(r.arg_len, 25);
	assert_memory_equal(r.arg, "echo hi >/dev/null 2>&1 &", 25);

	request_parse("exec", 4, &r);
	assert_int_equal(r.kind, REQ_INVALID);
	assert_string_equal(r.error, "exec: missing command");
	request_parse("exec   ", 7, &r);
	assert_int_equal(r.kind, REQ_INVALID);
	request_parse("execute", 7, &r);
	assert_int_equal(r.kind, REQ_INVALID);
	assert_string_equal(r.error, "unknown request");
	request_parse("STATUS", 6, &r);
	assert_int_equal(r.kind, REQ_INVALID);
	request_parse("statusx", 7, &r);
	assert_int_equal(r.kind, REQ_INVALID);
	request_parse("", 0, &r);
	assert_string_equal(r.error, "empty request");
	request_parse("sta\0tus", 7, &r);
	assert_int_equal(r.kind, REQ_INVALID);
	assert_string_equal(r.error, "request contains a NUL byte");
}

static const char iomem[] =
	"00000000-00000fff : Reserved\n"
	"00100000-07fdffff : System RAM\n"
	"  01000000-01a00e56 : Kernel code\n"
	"feb00000-feb001ff : virtio-mmio.1\n"
	"  feb00e00-feb00fff : virtio-mmio.0\n"
	"fec00000-fec003ff : IOAPIC 0\n"
	"fee00000-fee00fff : Local APIC";	/* no final newline */

static void test_iomem(void **state)
{
	uint64_t s, e;

	(void)state;
	assert_true(iomem_find(iomem, strlen(iomem), "virtio-mmio.0", &s, &e));
	assert_int_equal(s, 0xfeb00e00);
	assert_int_equal(e, 0xfeb00fff);
	assert_true(iomem_find(iomem, strlen(iomem), "virtio-mmio.1", &s, &e));
	assert_int_equal(s, 0xfeb00000);
	assert_true(iomem_find(iomem, strlen(iomem), "Local APIC", &s, &e));
	assert_int_equal(s, 0xfee00000);
	assert_false(iomem_find(iomem, strlen(iomem), "virtio-mmio", &s, &e));
	assert_false(iomem_find(iomem, strlen(iomem), "virtio-mmio.2", &s, &e));
	assert_false(iomem_find("garbage : virtio-mmio.0\n", 24, "virtio-mmio.0",
				&s, &e));
	assert_false(iomem_find("", 0, "x", &s, &e));
}

static const char interrupts[] =
	"           CPU0       CPU1       \n"
	"  0:         35          0   IO-APIC   2-edge      timer\n"
	"  4:        120          0   IO-APIC   4-edge      ttyS0\n"
	"  5:          3          0   IO-APIC   5-edge      virtio10, virtio1\n"
	" 12:          7          0   IO-APIC  12-edge      virtio0\n"
	"NMI:          0          0   Non-maskable interrupts\n"
	"LOC:       1234       1200   Local timer interrupts\n";

static void test_interrupts(void **state)
{
	unsigned int irq;

	(void)state;
	assert_true(interrupts_find(interrupts, strlen(interrupts), "virtio0", &irq));
	assert_int_equal(irq, 12);
	assert_true(interrupts_find(interrupts, strlen(interrupts), "virtio1", &irq));
	assert_int_equal(irq, 5);
	assert_true(interrupts_find(interrupts, strlen(interrupts), "virtio10", &irq));
	assert_int_equal(irq, 5);
	assert_false(interrupts_find(interrupts, strlen(interrupts), "virtio2", &irq));
	assert_false(interrupts_find(interrupts, strlen(interrupts), "Local", &irq));
	assert_false(interrupts_find("", 0, "virtio0", &irq));
}

static void test_platform_name_and_types(void **state)
{
	uint64_t base;

	(void)state;
	assert_true(platform_name_base("feb00e00.virtio_mmio", &base));
	assert_int_equal(base, 0xfeb00e00);
	assert_false(platform_name_base("virtio-mmio.0", &base));
	assert_false(platform_name_base(".virtio", &base));
	assert_false(platform_name_base("feb00e00.", &base));
	assert_false(platform_name_base("feb00e00", &base));
	assert_string_equal(virtio_type_name(2), "block");
	assert_string_equal(virtio_type_name(19), "vsock");
	assert_null(virtio_type_name(0));
	assert_null(virtio_type_name(9999));
}

static void test_number_parsers(void **state)
{
	uint64_t v;
	char d[8];

	(void)state;
	assert_true(parse_u64_dec("18446744073709551615", 20, &v));
	assert_true(v == UINT64_MAX);
	assert_false(parse_u64_dec("18446744073709551616", 20, &v));
	assert_false(parse_u64_dec("", 0, &v));
	assert_false(parse_u64_dec("1 ", 2, &v));
	assert_true(parse_u64_hex("0x0002", 6, &v));
	assert_int_equal(v, 2);
	assert_true(parse_u64_hex("FfFfFfFfFfFfFfFf", 16, &v));
	assert_false(parse_u64_hex("10000000000000000", 17, &v));
	assert_false(parse_u64_hex("0x", 2, &v));
	assert_false(parse_u64_hex("0xg", 3, &v));
	assert_true(str_copy(d, sizeof(d), "1234567"));
	assert_false(str_copy(d, sizeof(d), "12345678"));
	assert_string_equal(d, "");
}

static void test_meminfo(void **state)
{
	const char *mi = "MemTotal:         245760 kB\nMemFree:  1 kB\n"
			 "Bad:   12 MB\nHuge: 18014398509481984 kB\nMemAvailable:\t7 kB";
	uint64_t v = 0;

	(void)state;
	assert_true(meminfo_bytes(mi, strlen(mi), "MemTotal", &v));
	assert_true(v == 245760ULL * 1024);
	assert_true(meminfo_bytes(mi, strlen(mi), "MemFree", &v));
	assert_int_equal(v, 1024);
	/* a prefix of a key is not the key */
	assert_false(meminfo_bytes(mi, strlen(mi), "Mem", &v));
	assert_false(meminfo_bytes(mi, strlen(mi), "Bad", &v));
	/* 2^54 kB does not fit 64 bits in bytes */
	assert_false(meminfo_bytes(mi, strlen(mi), "Huge", &v));
	/* a tab instead of spaces, no newline at the end */
	assert_false(meminfo_bytes(mi, strlen(mi), "MemAvailable", &v));
	assert_false(meminfo_bytes(mi, strlen(mi), "Absent", &v));
	assert_false(meminfo_bytes("MemTotal: kB", 12, "MemTotal", &v));
	/* only the n bytes given are read */
	assert_false(meminfo_bytes(mi, 20, "MemTotal", &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpulist_valid),
		cmocka_unit_test(test_cpulist_invalid),
		cmocka_unit_test(test_cpulist_bounded_read),
		cmocka_unit_test(test_request_parse),
		cmocka_unit_test(test_iomem),
		cmocka_unit_test(test_interrupts),
		cmocka_unit_test(test_platform_name_and_types),
		cmocka_unit_test(test_number_parsers),
		cmocka_unit_test(test_meminfo),
	};

	return cmocka_run_group_tests_name("agent sysparse", tests, NULL, NULL);
}

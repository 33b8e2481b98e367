// SPDX-License-Identifier: GPL-2.0
/* Unit tests: agent/uevent.c (kernel uevent parsing and its JSON form). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "json.h"
#include "uevent.h"

#define MAX 8192

static char out[MAX * 6 + 128];

static void to_json(const struct uevent *ev)
{
	struct jbuf jb;

	jb_init(&jb, out, sizeof(out));
	uevent_to_json(ev, &jb);
	assert_true(jb_finish(&jb) > 0);
}

static void assert_ustr(struct ustr s, const char *want)
{
	assert_non_null(s.p);
	assert_int_equal(s.n, strlen(want));
	assert_memory_equal(s.p, want, s.n);
}

/* A message as the kernel sends it: parts separated and ended by NULs. */
static const char cpu_online[] =
	"online@/devices/system/cpu/cpu1\0"
	"ACTION=online\0DEVPATH=/devices/system/cpu/cpu1\0"
	"SUBSYSTEM=cpu\0DRIVER=processor\0SEQNUM=1234\0";

static void test_cpu_event(void **state)
{
	struct uevent ev;

	(void)state;
	assert_int_equal(uevent_parse(cpu_online, sizeof(cpu_online) - 1, MAX,
				      &ev), UEVENT_OK);
	assert_ustr(ev.action, "online");
	assert_ustr(ev.devpath, "/devices/system/cpu/cpu1");
	assert_ustr(ev.subsystem, "cpu");
	assert_ustr(ev.driver, "processor");
	assert_null(ev.devname.p);
	assert_true(ev.has_seqnum);
	assert_int_equal(ev.seqnum, 1234);
	assert_int_equal(ev.nfields, 5);
	assert_int_equal(ev.bad_fields, 0);
	to_json(&ev);
	assert_string_equal(out,
		"{\"action\":\"online\",\"devpath\":\"/devices/system/cpu/cpu1\","
		"\"subsystem\":\"cpu\",\"driver\":\"processor\",\"seqnum\":1234}");
}

static void test_block_event_all_fields(void **state)
{
	static const char msg[] =
		"add@/devices/platform/virtio-mmio.0/virtio0/block/vda\0"
		"ACTION=add\0DEVPATH=/devices/platform/virtio-mmio.0/virtio0/block/vda\0"
		"SUBSYSTEM=block\0MAJOR=254\0MINOR=0\0DEVNAME=vda\0"
		"DEVTYPE=disk\0DISKSEQ=1\0SEQNUM=77\0";
	struct uevent ev;
	struct json_object *obj, *v;

	(void)state;
	assert_int_equal(uevent_parse(msg, sizeof(msg) - 1, MAX, &ev), UEVENT_OK);
	assert_ustr(ev.devname, "vda");
	assert_ustr(ev.devtype, "disk");
	assert_ustr(ev.major, "254");
	assert_ustr(ev.minor, "0");
	to_json(&ev);
	obj = json_tokener_parse(out);
	assert_non_null(obj);
	assert_true(json_object_object_get_ex(obj, "devname", &v));
	assert_string_equal(json_object_get_string(v), "vda");
	assert_true(json_object_object_get_ex(obj, "seqnum", &v));
	assert_int_equal(json_object_get_int64(v), 77);
	/* fields we do not report are left out */
	assert_false(json_object_object_get_ex(obj, "DISKSEQ", &v));
	json_object_put(obj);
}

static void test_no_trailing_nul(void **state)
{
	/* the last field runs to the end of the datagram */
	static const char msg[] = "remove@/devices/x\0SUBSYSTEM=virtio\0SEQNUM=9";
	char *copy = malloc(sizeof(msg) - 1);	/* ASan catches a read past it */
	struct uevent ev;

	(void)state;
	assert_non_null(copy);
	memcpy(copy, msg, sizeof(msg) - 1);
	assert_int_equal(uevent_parse(copy, sizeof(msg) - 1, MAX, &ev), UEVENT_OK);
	assert_ustr(ev.action, "remove");
	assert_ustr(ev.subsystem, "virtio");
	assert_true(ev.has_seqnum);
	assert_int_equal(ev.seqnum, 9);
	free(copy);
}

static void test_header_only(void **state)
{
	/* no NUL at all: header only; action/devpath come from it */
	static const char msg[] = "change@/devices/y";
	char *copy = malloc(sizeof(msg) - 1);
	struct uevent ev;

	(void)state;
	assert_non_null(copy);
	memcpy(copy, msg, sizeof(msg) - 1);
	assert_int_equal(uevent_parse(copy, sizeof(msg) - 1, MAX, &ev), UEVENT_OK);
	assert_ustr(ev.action, "change");
	assert_ustr(ev.devpath, "/devices/y");
	assert_false(ev.has_seqnum);
	to_json(&ev);
	assert_string_equal(out, "{\"action\":\"change\",\"devpath\":\"/devices/y\"}");
	free(copy);
}

static void test_missing_and_bad_fields(void **state)
{
	static const char msg[] =
		"add@/devices/z\0NOEQUALS\0=novalue\0\0\0SEQNUM=12x\0SUBSYSTEM=\0";
	struct uevent ev;

	(void)state;
	assert_int_equal(uevent_parse(msg, sizeof(msg) - 1, MAX, &ev), UEVENT_OK);
	assert_int_equal(ev.bad_fields, 2);
	assert_false(ev.has_seqnum);
	assert_ustr(ev.seqnum_raw, "12x");
	assert_ustr(ev.subsystem, "");
	to_json(&ev);
	assert_string_equal(out,
		"{\"action\":\"add\",\"devpath\":\"/devices/z\",\"subsystem\":\"\","
		"\"seqnum_raw\":\"12x\",\"bad_fields\":2}");
}

static void test_seqnum_overflow(void **state)
{
	static const char msg[] = "add@/d\0SEQNUM=18446744073709551616\0";
	struct uevent ev;

	(void)state;
	assert_int_equal(uevent_parse(msg, sizeof(msg) - 1, MAX, &ev), UEVENT_OK);
	assert_false(ev.has_seqnum);
}

static void test_rejected_messages(void **state)
{
	static const char libudev[] = "libudev\0\xfe\xed\xca\xfe rest";
	struct uevent ev;

	(void)state;
	assert_int_equal(uevent_parse("", 0, MAX, &ev), UEVENT_EMPTY);
	assert_int_equal(uevent_parse("no-at-sign\0A=b", 14, MAX, &ev),
			 UEVENT_NO_HEADER);
	assert_int_equal(uevent_parse("@/devpath", 9, MAX, &ev), UEVENT_NO_HEADER);
	assert_int_equal(uevent_parse("add@", 4, MAX, &ev), UEVENT_NO_HEADER);
	assert_int_equal(uevent_parse("add@\0DEVPATH=/x", 15, MAX, &ev),
			 UEVENT_NO_HEADER);
	assert_int_equal(uevent_parse(libudev, sizeof(libudev) - 1, MAX, &ev),
			 UEVENT_NOT_KERNEL);
	assert_string_equal(uevent_strerror(UEVENT_NO_HEADER),
			    "no ACTION@DEVPATH header");
}

static void test_oversized(void **state)
{
	char *big = malloc(MAX + 1);
	struct uevent ev;

	(void)state;
	assert_non_null(big);
	memset(big, 'A', MAX + 1);
	memcpy(big, "add@/x", 6);
	assert_int_equal(uevent_parse(big, MAX + 1, MAX, &ev), UEVENT_TOO_BIG);
	/* exactly at the limit is accepted, and its JSON fits the buffer */
	big[6] = '\0';
	memcpy(big + 7, "DEVNAME=", 8);
	memset(big + 15, '\x01', MAX - 15);	/* worst case for escaping */
	assert_int_equal(uevent_parse(big, MAX, MAX, &ev), UEVENT_OK);
	assert_int_equal(ev.devname.n, MAX - 15);
	to_json(&ev);
	free(big);
}

static void test_garbage_never_crashes(void **state)
{
	/* pseudo-random bytes, fixed seed: the parser must not read past len */
	unsigned int seed = 12345;
	int round;

	(void)state;
	for (round = 0; round < 2000; round++) {
		size_t len = (size_t)(rand_r(&seed) % 300), i;
		char *msg = malloc(len ? len : 1);
		struct uevent ev;
		struct jbuf jb;

		assert_non_null(msg);
		for (i = 0; i < len; i++) {
			int r = rand_r(&seed) % 8;

			msg[i] = r == 0 ? '\0' : r == 1 ? '@' : r == 2 ? '=' :
				 (char)(rand_r(&seed) & 0xff);
		}
		if (uevent_parse(msg, len, MAX, &ev) == UEVENT_OK) {
			struct json_object *obj;

			jb_init(&jb, out, sizeof(out));
			uevent_to_json(&ev, &jb);
			assert_true(jb_finish(&jb) > 0);
			obj = json_tokener_parse(out);
			assert_non_null(obj);
			json_object_put(obj);
		}
		free(msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_event),
		cmocka_unit_test(test_block_event_all_fields),
		cmocka_unit_test(test_no_trailing_nul),
		cmocka_unit_test(test_header_only),
		cmocka_unit_test(test_missing_and_bad_fields),
		cmocka_unit_test(test_seqnum_overflow),
		cmocka_unit_test(test_rejected_messages),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_garbage_never_crashes),
	};

	return cmocka_run_group_tests_name("agent uevent", tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0
/* Unit tests: agent/request.c, who may make which request (parsing: test_sysparse.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "request.h"

#define OWN_CID 3u
#define ANY_CID 0xffffffffu

static const char *refused(enum req_kind k, unsigned int peer, bool trust)
{
	static char buf[256];

	return request_refused(k, peer, OWN_CID, trust, buf, sizeof(buf));
}

static void test_host_may_do_everything(void **state)
{
	(void)state;
	assert_null(refused(REQ_STATUS, REQ_CID_HOST, false));
	assert_null(refused(REQ_REBOOT, REQ_CID_HOST, false));
	assert_null(refused(REQ_EXEC, REQ_CID_HOST, false));
}

static void test_status_is_open_to_all(void **state)
{
	unsigned int peers[] = { 0, 1, OWN_CID, 4, 1000, ANY_CID };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
		assert_null(refused(REQ_STATUS, peers[i], false));
		/* a bad request is answered with its own error, not refused */
		assert_null(refused(REQ_INVALID, peers[i], false));
	}
}

static void test_local_peers_refused_unless_trusted(void **state)
{
	enum req_kind kinds[] = { REQ_REBOOT, REQ_EXEC };
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		/* loopback (CID 1) and the guest's own CID */
		assert_string_equal(refused(kinds[i], REQ_CID_LOCAL, false),
			"exec and reboot are only accepted from the host "
			"(CID 2), not from CID 1 (guest-local clients need "
			"agent.trust_local=1)");
		assert_string_equal(refused(kinds[i], OWN_CID, false),
			"exec and reboot are only accepted from the host "
			"(CID 2), not from CID 3 (guest-local clients need "
			"agent.trust_local=1)");
		assert_null(refused(kinds[i], REQ_CID_LOCAL, true));
		assert_null(refused(kinds[i], OWN_CID, true));
	}
}

static void test_other_peers_always_refused(void **state)
{
	/* the hypervisor (0), other VMs, and a CID that is unknown */
	unsigned int peers[] = { 0, 4, 1000, ANY_CID };
	enum req_kind kinds[] = { REQ_REBOOT, REQ_EXEC };
	size_t i, k;
	char buf[256], msg[128];

	(void)state;
	for (k = 0; k < 2; k++) {
		for (i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
			const char *r;

			r = request_refused(kinds[k], peers[i], OWN_CID, true,
					    buf, sizeof(buf));
			snprintf(msg, sizeof(msg),
				 "exec and reboot are only accepted from the "
				 "host (CID 2), not from CID %u", peers[i]);
			assert_non_null(r);
			assert_string_equal(r, msg);
		}
	}
	/* an unknown local CID does not make an unknown peer local */
	assert_non_null(request_refused(REQ_EXEC, ANY_CID, ANY_CID, true,
					buf, sizeof(buf)));
}

static void test_refusal_cut_to_buffer(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_non_null(request_refused(REQ_EXEC, 1, 3, false, buf, sizeof(buf)));
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_may_do_everything),
		cmocka_unit_test(test_status_is_open_to_all),
		cmocka_unit_test(test_local_peers_refused_unless_trusted),
		cmocka_unit_test(test_other_peers_always_refused),
		cmocka_unit_test(test_refusal_cut_to_buffer),
	};

	return cmocka_run_group_tests_name("agent request", tests, NULL, NULL);
}

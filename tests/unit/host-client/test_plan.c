// SPDX-License-Identifier: MIT
/*
 * upcall-ctl's cpu planner as tables: QEMU's slots and the command line
 * in, the plan out; a plan and the guest's answers in, each vCPU's fate
 * (and so what is rolled back) out. No QEMU, no guest: cpu-plan.c is pure.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu-plan.h"
#include "ctl.h"

/* Slot shorthand: APIC ID, plugged, hot-added. */
#define FREE(a) { .apic_id = (a) }
#define BOOT(a) { .apic_id = (a), .plugged = true }
#define HOT(a) { .apic_id = (a), .plugged = true, .hotplugged = true }
#define END { .apic_id = -2 }

static size_t nslots(const struct vcpu_slot *s)
{
	size_t n = 0;

	while (s[n].apic_id != -2)
		n++;
	return n;
}

/* "1+ 2+ 3=": APIC IDs of a list, '+' created by this run, '=' kept. */
static void items_str(const struct cpu_item *it, unsigned int n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%u%c", i ? " " : "",
					 it[i].apic_id, it[i].create ? '+' : '=');
}

static const char fate_ch[] = {
	[CPU_FATE_NONE] = '.', [CPU_FATE_ADDED] = 'A', [CPU_FATE_ROLLBACK] = 'R',
	[CPU_FATE_NOT_TAKEN] = 'N', [CPU_FATE_RELEASED] = 'D', [CPU_FATE_REFUSED] = 'X',
	[CPU_FATE_UNKNOWN] = '?', [CPU_FATE_ABSENT] = 'O', [CPU_FATE_GIVEN_BACK] = 'G',
};

static void fates_str(const struct cpu_item *it, unsigned int n, char *buf)
{
	for (unsigned int i = 0; i < n; i++)
		buf[i] = fate_ch[it[i].fate];
	buf[n] = '\0';
}

static void args_of(struct cpu_args *a, bool add, unsigned int count, const char *ids)
{
	memset(a, 0, sizeof(*a));
	a->add = add;
	a->count = count;
	for (const char *p = ids; p && *p;) {
		char *end;

		a->ids[a->n_ids++] = (uint8_t)strtoul(p, &end, 10);
		p = *end ? end + 1 : end;
	}
}

/* ---- which slots, which APIC IDs ---- */

static void plan_table(void **state)
{
	static const struct vcpu_slot four_free[] = { BOOT(0), FREE(1), FREE(2), FREE(3), END };
	/* QEMU's order is not APIC order. */
	static const struct vcpu_slot shuffled[] = { FREE(3), BOOT(0), FREE(2), FREE(1), END };
	static const struct vcpu_slot one_free[] = { BOOT(0), HOT(1), HOT(2), FREE(3), END };
	static const struct vcpu_slot all_hot[] = { BOOT(0), HOT(1), HOT(2), HOT(3), END };
	static const struct vcpu_slot two_boot[] = { BOOT(4), BOOT(2), HOT(1), HOT(3), END };
	static const struct vcpu_slot big_apic[] = { BOOT(0), FREE(300), FREE(1), END };
	static const struct {
		const char *name;
		const struct vcpu_slot *slots; /* NULL: without QEMU */
		bool add;
		unsigned int count;
		const char *ids;
		int rc, err;
		const char *items, *offers;
		unsigned int want, need;
	} t[] = {
		{ "add 2: lowest free", four_free, true, 2, NULL, 0, 0, "1+ 2+", "", 2, 0 },
		{ "add 2: APIC order, not QEMU's", shuffled, true, 2, NULL, 0, 0, "1+ 2+", "", 2, 0 },
		{ "add 3: all free", four_free, true, 3, NULL, 0, 0, "1+ 2+ 3+", "", 3, 0 },
		{ "add 4: too few", four_free, true, 4, NULL, CTL_EVMM, ENOSPC, "", "", 0, 0 },
		{ "add 1: the one free slot", one_free, true, 1, NULL, 0, 0, "3+", "", 1, 0 },
		{ "add 2: one free, kept to offer", one_free, true, 2, NULL, 0, 0, "3+", "2= 1=", 2, 1 },
		{ "add 1: none free, offer kept, highest first", all_hot, true, 1, NULL, 0, 0, "", "3= 2= 1=", 1, 1 },
		{ "add 4: none free, too few kept", all_hot, true, 4, NULL, CTL_EVMM, ENOSPC, "", "", 0, 0 },
		{ "add --apic-id: given order", four_free, true, 0, "3,1", 0, 0, "3+ 1+", "", 2, 0 },
		{ "add --apic-id: kept vCPU announced again", one_free, true, 0, "2,3", 0, 0, "2= 3+", "", 2, 0 },
		{ "add --apic-id: the boot CPU is no slot", four_free, true, 0, "0", CTL_EVMM, EEXIST, "", "", 0, 0 },
		{ "add --apic-id: a second boot vCPU is no slot", two_boot, true, 0, "4", CTL_EVMM, EEXIST, "", "", 0, 0 },
		{ "add --apic-id: unknown", four_free, true, 0, "9", CTL_EVMM, ENOENT, "", "", 0, 0 },
		{ "add: APIC IDs above 255 are skipped", big_apic, true, 1, NULL, 0, 0, "1+", "", 1, 0 },
		{ "del 2: highest hot-added", all_hot, false, 2, NULL, 0, 0, "3= 2= 1=", "", 2, 0 },
		{ "del 3: too few", one_free, false, 3, NULL, CTL_EVMM, ENOENT, "", "", 0, 0 },
		{ "del --apic-id 0: boot CPU", all_hot, false, 0, "0", CTL_EGUEST, EPERM, "", "", 0, 0 },
		{ "del: boot CPU is the lowest not hot-added", two_boot, false, 0, "2", CTL_EGUEST, EPERM, "", "", 0, 0 },
		{ "del --apic-id 4: a second boot vCPU may go", two_boot, false, 0, "4", 0, 0, "4=", "", 1, 0 },
		{ "del --apic-id: not in QEMU", one_free, false, 0, "3", CTL_EVMM, ENOENT, "", "", 0, 0 },
		{ "no QEMU: IDs as given", NULL, true, 0, "7,5", 0, 0, "7= 5=", "", 2, 0 },
		{ "no QEMU: COUNT is a usage error", NULL, false, 1, NULL, CTL_EUSAGE, EINVAL, "", "", 0, 0 },
	};
	struct cpu_plan p;
	struct cpu_plan_error e;
	struct cpu_args a;
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		print_message("# %s\n", t[i].name);
		args_of(&a, t[i].add, t[i].count, t[i].ids);
		assert_int_equal(cpu_plan_make(&a, t[i].slots, t[i].slots ? nslots(t[i].slots) : 0,
					       t[i].slots != NULL, &p, &e), t[i].rc);
		if (t[i].rc) {
			assert_int_equal(e.code, t[i].rc);
			assert_int_equal(e.err, t[i].err);
			assert_true(e.msg[0]);
			continue;
		}
		items_str(p.item, p.n, buf, sizeof(buf));
		assert_string_equal(buf, t[i].items);
		items_str(p.offer, p.noffer, buf, sizeof(buf));
		assert_string_equal(buf, t[i].offers);
		assert_int_equal(p.want, t[i].want);
		assert_int_equal(p.need, t[i].need);
	}
}

/* ---- what the guest's answer makes of each vCPU ---- */

#define REPLY(ret_, has_, idx_) { .replied = true, .r = { .ret = (ret_), \
	.has_apic_index = (has_), .apic_index = (idx_) } }
#define NO_REPLY { .replied = false }
#define OK(n) REPLY(0, true, n)

/* Build an add plan: "+" created by this run, "=" QEMU already had it. */
static void add_plan(struct cpu_plan *p, const char *kinds)
{
	memset(p, 0, sizeof(*p));
	p->add = true;
	p->qemu = true;
	for (const char *k = kinds; *k; k++) {
		struct cpu_item *it = &p->item[p->n];

		it->apic_id = (uint8_t)(p->n + 1);
		it->create = *k == '+';
		it->created = it->create;
		p->n++;
	}
	p->want = p->n;
}

static void add_answer_table(void **state)
{
	static const struct {
		const char *name, *kinds;
		struct cpu_answer a;
		const char *fates;
		unsigned int rollback;
	} t[] = {
		{ "success", "+++", OK(3), "AAA", 0 },
		{ "took 1 of 3", "+++", REPLY(-EBUSY, true, 1), "ARR", 2 },
		{ "took none", "++", REPLY(-EEXIST, true, 0), "RR", 2 },
		{ "took 2 of 3", "+++", REPLY(-EINVAL, true, 2), "AAR", 1 },
		{ "kept vCPUs are never rolled back", "=+", REPLY(-EEXIST, true, 0), "NR", 1 },
		{ "kept after the failure", "+=", REPLY(-EEXIST, true, 1), "AN", 0 },
		/* Kata: msg_size 0, no index: the guest may run on any of them. */
		{ "refusal, index unknown", "+++", REPLY(-EINVAL, false, 0), "???", 0 },
		{ "refusal, index unknown, kept too", "=+", REPLY(-EINVAL, false, 0), "??", 0 },
		/* Defence in depth: an index the decoder would never trust. */
		{ "refusal, index == count", "++", REPLY(-EBUSY, true, 2), "??", 0 },
		{ "refusal, index > count", "++", REPLY(-EBUSY, true, 7), "??", 0 },
		{ "no reply (timeout)", "++", NO_REPLY, "??", 0 },
	};
	struct cpu_plan p;
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		print_message("# %s\n", t[i].name);
		add_plan(&p, t[i].kinds);
		cpu_plan_add_answer(&p, &t[i].a);
		fates_str(p.item, p.n, buf);
		assert_string_equal(buf, t[i].fates);
		assert_int_equal(cpu_plan_count(&p, CPU_FATE_ROLLBACK), t[i].rollback);
	}
}

/* device_add failed at the third vCPU: the guest was never told. */
static void add_not_sent(void **state)
{
	struct cpu_plan p;
	char buf[16];

	(void)state;
	add_plan(&p, "+=++");
	p.item[3].created = false; /* never reached */
	cpu_plan_add_not_sent(&p);
	fates_str(p.item, p.n, buf);
	assert_string_equal(buf, "R.R.");
}

/* Offers of kept vCPUs, one at a time, until need are taken. */
static void offer_table(void **state)
{
	static const struct {
		const char *name;
		unsigned int noffer, need;
		struct cpu_answer a[4];
		unsigned int nanswers;   /* answers the planner asks for */
		const char *fates;
		unsigned int taken;
	} t[] = {
		{ "first taken", 3, 1, { OK(1) }, 1, "A..", 1 },
		{ "refused, then taken", 3, 1, { REPLY(-EEXIST, true, 0), OK(1) }, 2, "NA.", 1 },
		/* Kata refuses a present CPU with msg_size 0: still not taken. */
		{ "Kata refusal, then taken", 2, 1, { REPLY(-EEXIST, false, 0), OK(1) }, 2, "NA", 1 },
		{ "none taken", 2, 1, { REPLY(-EEXIST, true, 0), REPLY(-EEXIST, true, 0) }, 2, "NN", 0 },
		{ "two needed", 3, 2, { OK(1), REPLY(-EEXIST, true, 0), OK(1) }, 3, "ANA", 2 },
		{ "no reply stops the offers", 3, 1, { NO_REPLY }, 1, "?..", 0 },
	};
	struct cpu_plan p;
	char buf[16];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsigned int asked = 0;
		int k;

		print_message("# %s\n", t[i].name);
		memset(&p, 0, sizeof(p));
		p.add = true;
		p.noffer = t[i].noffer;
		p.need = t[i].need;
		for (unsigned int j = 0; j < p.noffer; j++)
			p.offer[j].apic_id = (uint8_t)(10 - j);
		while ((k = cpu_plan_next_offer(&p)) >= 0) {
			assert_true(asked < t[i].nanswers);
			assert_int_equal(k, (int)asked); /* in order */
			cpu_plan_offer_answer(&p, (unsigned int)k, &t[i].a[asked++]);
		}
		assert_int_equal(asked, t[i].nanswers);
		fates_str(p.offer, p.noffer, buf);
		assert_string_equal(buf, t[i].fates);
		assert_int_equal(cpu_plan_offers_taken(&p), t[i].taken);
	}
}

/* Not enough offers taken: what giving them back leaves. */
static void giveback_table(void **state)
{
	static const struct {
		const char *name;
		struct cpu_answer a;
		const char *fates;
	} t[] = {
		{ "given back", OK(2), "GNG." },
		{ "guest keeps the second", REPLY(-EBUSY, true, 1), "GNA." },
		{ "index unknown", REPLY(-EBUSY, false, 0), "?N?." },
		{ "no reply", NO_REPLY, "?N?." },
	};
	struct cpu_plan p;
	char buf[16];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		print_message("# %s\n", t[i].name);
		memset(&p, 0, sizeof(p));
		p.noffer = 4;
		p.need = 3;
		p.offer[0].fate = CPU_FATE_ADDED;
		p.offer[1].fate = CPU_FATE_NOT_TAKEN;
		p.offer[2].fate = CPU_FATE_ADDED;
		cpu_plan_giveback_answer(&p, &t[i].a);
		fates_str(p.offer, p.noffer, buf);
		assert_string_equal(buf, t[i].fates);
	}
}

/* DEL_CPU batches: a sequence of answers in, batches asked and fates out. */
static void del_table(void **state)
{
	static const struct {
		const char *name;
		unsigned int n, want;
		bool explicit_ids;
		struct cpu_answer a[8];
		const char *batches;     /* "first+count ..." the planner asked */
		const char *fates;
	} t[] = {
		{ "release 2 of 3 candidates", 3, 2, false, { OK(2) }, "0+2", "DD." },
		{ "skip a refused candidate", 3, 1, false,
		  { REPLY(-EBUSY, true, 0), OK(1) }, "0+1 1+1", "XD." },
		{ "refused midway, go on after it", 4, 2, false,
		  { REPLY(-EBUSY, true, 1), OK(1) }, "0+2 2+1", "DXD." },
		{ "candidates run out", 2, 2, false,
		  { REPLY(-EBUSY, true, 1) }, "0+2", "DX" },
		{ "explicit IDs: no second choice", 3, 3, true,
		  { REPLY(-EBUSY, true, 1) }, "0+3", "DX." },
		/* Kata: a failed DEL_CPU with msg_size 0: some may be gone. */
		{ "index unknown: nothing removed, stop", 3, 2, false,
		  { REPLY(-EBUSY, false, 0) }, "0+2", "??." },
		{ "no reply: stop", 3, 1, false,
		  { REPLY(-EBUSY, true, 0), NO_REPLY }, "0+1 1+1", "X?." },
		/* A lone ID the guest does not have (released earlier). */
		{ "absent candidate skipped", 3, 1, false,
		  { REPLY(-ENODEV, true, 0), OK(1) }, "0+1 1+1", "OD." },
		/* The tester's case: candidates 7 6 5 4 3, 6 and 5 parked; the
		 * batch 7 6 5 is refused as a whole: no culprit named, the
		 * IDs go singly from the start of the batch. */
		{ "whole-batch refusal: singly, skip the absent", 5, 3, false,
		  { REPLY(-ENODEV, true, 0), OK(1), REPLY(-ENODEV, true, 0),
		    REPLY(-ENODEV, true, 0), OK(1), OK(1) },
		  "0+3 0+1 1+1 2+1 3+1 4+1", "DOODD" },
		{ "whole-batch refusal: EPERM names its culprit singly", 3, 2, false,
		  { REPLY(-EPERM, true, 0), OK(1), REPLY(-EPERM, true, 0), OK(1) },
		  "0+2 0+1 1+1 2+1", "DXD" },
		/* --apic-id 3,5 with 5 absent: 3 goes, 5 is named. */
		{ "explicit IDs, whole-batch refusal", 2, 2, true,
		  { REPLY(-ENODEV, true, 0), OK(1), REPLY(-ENODEV, true, 0) },
		  "0+2 0+1 1+1", "DO" },
		{ "explicit IDs, first absent: stop", 2, 2, true,
		  { REPLY(-ENODEV, true, 0), REPLY(-ENODEV, true, 0) },
		  "0+2 0+1", "O." },
		{ "singly: no reply stops", 3, 2, false,
		  { REPLY(-ENODEV, true, 0), NO_REPLY }, "0+2 0+1", "?.." },
	};
	struct cpu_plan p;
	char batches[64], buf[16];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsigned int first, count, k = 0;
		size_t used = 0;

		print_message("# %s\n", t[i].name);
		memset(&p, 0, sizeof(p));
		p.n = t[i].n;
		p.want = t[i].want;
		p.explicit_ids = t[i].explicit_ids;
		batches[0] = '\0';
		while (cpu_plan_del_next(&p, &first, &count)) {
			assert_true(k < 8);
			used += (size_t)snprintf(batches + used, sizeof(batches) - used, "%s%u+%u",
						 k ? " " : "", first, count);
			cpu_plan_del_answer(&p, first, count, &t[i].a[k++]);
		}
		assert_string_equal(batches, t[i].batches);
		fates_str(p.item, p.n, buf);
		assert_string_equal(buf, t[i].fates);
	}
}

static void answer_done(void **state)
{
	static const struct cpu_answer ok = OK(3), part = REPLY(-EBUSY, true, 1),
		kata = REPLY(-EINVAL, false, 0), stale = REPLY(-EINVAL, true, 3),
		none = NO_REPLY;

	(void)state;
	assert_int_equal(cpu_answer_done(&ok, 3), 3);
	assert_int_equal(cpu_answer_done(&part, 3), 1);
	assert_int_equal(cpu_answer_done(&kata, 3), -1);
	assert_int_equal(cpu_answer_done(&stale, 3), -1);
	assert_int_equal(cpu_answer_done(&none, 3), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plan_table),
		cmocka_unit_test(add_answer_table),
		cmocka_unit_test(add_not_sent),
		cmocka_unit_test(offer_table),
		cmocka_unit_test(giveback_table),
		cmocka_unit_test(del_table),
		cmocka_unit_test(answer_done),
	};

	return cmocka_run_group_tests_name("cpu-plan", tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/* Unit tests of the split-virtqueue walker on synthetic guest memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "guestmem.h"
#include "virtqueue.h"

static struct guestmem g;
static struct vq_chain chain;

static int setup(void **state __attribute__((unused)))
{

	gm_init(&g);
	assert_int_equal(vq_map_rings(&g.q[0].vq, &g.table), 0);
	return 0;
}

static int teardown(void **state __attribute__((unused)))
{

	gm_fini(&g);
	return 0;
}

static void empty_ring(void **state __attribute__((unused)))
{

	assert_false(vq_has_avail(&g.q[0].vq));
	assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_EMPTY);
}

static void chain_with_read_and_write_parts(void **state __attribute__((unused)))
{
	uint64_t a = gm_alloc(&g, 44), b = gm_alloc(&g, 100),
		 c = gm_alloc(&g, 4096);
	struct gm_seg s[] = { { a, 44, 0 }, { b, 100, 0 }, { c, 4096, 1 } };
	uint16_t head;

	memset(gm_ptr(&g, a), 0xab, 44);
	head = gm_add_chain(&g, 0, s, 3);
	assert_true(vq_has_avail(&g.q[0].vq));
	assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_CHAIN);
	assert_int_equal(chain.head, head);
	assert_int_equal(chain.nout, 2);
	assert_int_equal(chain.nin, 1);
	assert_int_equal(chain.out_len, 144);
	assert_int_equal(chain.in_len, 4096);
	assert_ptr_equal(chain.out[0].base, gm_ptr(&g, a));
	assert_ptr_equal(chain.in[0].base, gm_ptr(&g, c));
	assert_int_equal(chain.out[0].base[43], 0xab);
	assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_EMPTY);
}

static void push_publishes_used_entry(void **state __attribute__((unused)))
{
	uint32_t id, len;
	struct gm_seg s = { gm_alloc(&g, 64), 64, 1 };
	uint16_t head = gm_add_chain(&g, 0, &s, 1);

	assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_CHAIN);
	vq_push(&g.q[0].vq, chain.head, 60);
	assert_int_equal(gm_used(&g, 0, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 60);
	assert_int_equal(gm_used(&g, 0, &id, &len), 0);
}

static void unpop_returns_the_chain(void **state __attribute__((unused)))
{
	struct gm_seg s = { gm_alloc(&g, 64), 64, 1 };
	uint16_t head = gm_add_chain(&g, 0, &s, 1);

	assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_CHAIN);
	vq_unpop(&g.q[0].vq);
	assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_CHAIN);
	assert_int_equal(chain.head, head);
}

static void interrupt_suppression_flag(void **state __attribute__((unused)))
{
	uint16_t flags = VRING_AVAIL_F_NO_INTERRUPT;

	assert_true(vq_wants_interrupt(&g.q[0].vq));
	memcpy(gm_ptr(&g, g.q[0].avail_gpa), &flags, 2);
	assert_false(vq_wants_interrupt(&g.q[0].vq));
}

/* One buffer popped and pushed back used (the device's half of a round). */
static void use_one(void)
{
	struct gm_seg s = { gm_alloc(&g, 64), 64, 1 };

	gm_add_chain(&g, 0, &s, 1);
	assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_CHAIN);
	vq_push(&g.q[0].vq, chain.head, 1);
}

static void set_used_event(uint16_t v)
{
	memcpy(gm_ptr(&g, g.q[0].avail_gpa + 4 + 2 * GM_QSIZE), &v, 2);
}

/*
 * virtio 1.2, 2.7.7.2: with EVENT_IDX the device notifies only when the
 * used index passes used_event since its last notification; the flag is
 * ignored; the first batch after a start always notifies.
 */
static void event_idx_interrupts_follow_used_event(void **state __attribute__((unused)))
{
	uint16_t flags = VRING_AVAIL_F_NO_INTERRUPT;

	g.q[0].vq.event_idx = true;
	memcpy(gm_ptr(&g, g.q[0].avail_gpa), &flags, 2);
	set_used_event(0);
	use_one();			/* used 1 */
	assert_true(vq_wants_interrupt(&g.q[0].vq));	/* first: always */
	set_used_event(2);		/* driver: wake me once entry 2 is used */
	use_one();			/* used 2: entry 1 used, 2 not yet */
	assert_false(vq_wants_interrupt(&g.q[0].vq));
	use_one();			/* used 3: entry 2 used */
	assert_true(vq_wants_interrupt(&g.q[0].vq));
	use_one();			/* used 4: already told past 2 */
	assert_false(vq_wants_interrupt(&g.q[0].vq));
	/* A batch that jumps over used_event still notifies. */
	set_used_event(4);
	use_one();
	use_one();			/* used 6, event 4 in (4, 6] */
	assert_true(vq_wants_interrupt(&g.q[0].vq));
}

/* virtio 1.2, 2.7.10: avail_event tells the driver when to kick. */
static void event_idx_avail_event_published(void **state __attribute__((unused)))
{
	uint16_t ev;
	struct gm_seg s = { gm_alloc(&g, 64), 64, 1 };

	/* Without EVENT_IDX the driver always kicks: nothing to publish. */
	assert_false(vq_enable_notify(&g.q[0].vq));
	g.q[0].vq.event_idx = true;
	use_one();
	use_one();
	assert_false(vq_enable_notify(&g.q[0].vq));
	memcpy(&ev, gm_ptr(&g, g.q[0].used_gpa + 4 + 8 * GM_QSIZE), 2);
	assert_int_equal(ev, 2);	/* kick me for the buffer at index 2 */
	/* A buffer that arrived before the re-check is reported. */
	gm_add_chain(&g, 0, &s, 1);
	assert_true(vq_enable_notify(&g.q[0].vq));
}

static void expect_bad_chain(void)
{
	assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_BAD_CHAIN);
	/* The bad chain is consumed: the ring moves on. */
	assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_EMPTY);
}

static void descriptor_outside_memory(void **state __attribute__((unused)))
{
	struct gm_seg s = { GM_GPA + GM_SIZE - 10, 64, 0 };


	gm_add_chain(&g, 0, &s, 1);
	expect_bad_chain();
	s.gpa = 0x1000;	/* below the region */
	gm_add_chain(&g, 0, &s, 1);
	expect_bad_chain();
}

static void descriptor_address_wraps(void **state __attribute__((unused)))
{
	struct gm_seg s = { UINT64_MAX - 16, 64, 0 };


	gm_add_chain(&g, 0, &s, 1);
	expect_bad_chain();
	assert_null(vq_gpa_to_host(&g.table, UINT64_MAX - 10, 100));
	assert_null(vq_gpa_to_host(&g.table, GM_GPA, UINT64_MAX));
	assert_non_null(vq_gpa_to_host(&g.table, GM_GPA, GM_SIZE));
	assert_null(vq_gpa_to_host(&g.table, GM_GPA + 1, GM_SIZE));
}

static void descriptor_loop(void **state __attribute__((unused)))
{
	uint64_t a = gm_alloc(&g, 16);


	gm_desc(&g, 0, 0, a, 16, VRING_DESC_F_NEXT, 1);
	gm_desc(&g, 0, 1, a, 16, VRING_DESC_F_NEXT, 0);
	gm_publish(&g, 0, 0);
	expect_bad_chain();
	gm_desc(&g, 0, 2, a, 16, VRING_DESC_F_NEXT, 2);	/* self loop */
	gm_publish(&g, 0, 2);
	expect_bad_chain();
}

static void next_index_out_of_range(void **state __attribute__((unused)))
{

	gm_desc(&g, 0, 0, gm_alloc(&g, 16), 16, VRING_DESC_F_NEXT, GM_QSIZE);
	gm_publish(&g, 0, 0);
	expect_bad_chain();
}

static void indirect_descriptor_refused(void **state __attribute__((unused)))
{

	gm_desc(&g, 0, 0, gm_alloc(&g, 32), 32, VRING_DESC_F_INDIRECT, 0);
	gm_publish(&g, 0, 0);
	expect_bad_chain();
}

static void readable_after_writable_refused(void **state __attribute__((unused)))
{
	struct gm_seg s[] = { { gm_alloc(&g, 64), 64, 1 },
			      { gm_alloc(&g, 64), 64, 0 } };


	gm_add_chain(&g, 0, s, 2);
	expect_bad_chain();
}

static void total_length_overflow(void **state __attribute__((unused)))
{
	/* A fake 16 GiB region: the walker computes, never dereferences. */
	struct vq_memory big = g.table;


	big.n = 2;
	big.r[1].gpa = 1ull << 40;
	big.r[1].size = 16ull << 30;
	big.r[1].uva = 1ull << 44;
	big.r[1].host = g.mem;
	gm_desc(&g, 0, 0, 1ull << 40, 0xF0000000u, VRING_DESC_F_NEXT, 1);
	gm_desc(&g, 0, 1, (1ull << 40) + 0xF0000000u, 0xF0000000u, 0, 0);
	gm_publish(&g, 0, 0);
	assert_int_equal(vq_pop(&g.q[0].vq, &big, &chain), VQ_BAD_CHAIN);
}

static void too_many_segments(void **state __attribute__((unused)))
{
	uint64_t a = gm_alloc(&g, 16), table = gm_alloc(&g, 16 * 128);
	uint8_t *saved_desc = g.q[0].vq.desc;

	/* A bigger ring (own table) so the chain is not a loop, only long. */
	g.q[0].vq.num = 128;
	g.q[0].vq.desc = gm_ptr(&g, table);
	for (uint16_t i = 0; i <= VQ_MAX_SEGS; i++) {
		uint8_t *d = gm_ptr(&g, table + 16 * (uint64_t)i);
		uint32_t len = 16;
		uint16_t flags = i < VQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0;
		uint16_t next = (uint16_t)(i + 1);

		memcpy(d, &a, 8);
		memcpy(d + 8, &len, 4);
		memcpy(d + 12, &flags, 2);
		memcpy(d + 14, &next, 2);
	}
	gm_publish(&g, 0, 0);
	assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_BAD_CHAIN);
	g.q[0].vq.num = GM_QSIZE;
	g.q[0].vq.desc = saved_desc;
}

static void bad_avail_index_and_head(void **state __attribute__((unused)))
{
	uint16_t idx = GM_QSIZE + 5, head = GM_QSIZE;
	uint8_t *avail = gm_ptr(&g, g.q[0].avail_gpa);


	memcpy(avail + 2, &idx, 2);	/* more entries than the ring holds */
	assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_BAD_RING);
	idx = 1;
	memcpy(avail + 2, &idx, 2);
	memcpy(avail + 4, &head, 2);	/* head beyond the table */
	assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_BAD_RING);
}

static void avail_index_wraps(void **state __attribute__((unused)))
{
	struct gm_seg s = { gm_alloc(&g, 64), 64, 1 };


	/* Start both sides just below the u16 wrap. */
	g.q[0].vq.last_avail = 0xfffe;
	g.q[0].avail_idx = 0xfffe;
	for (int i = 0; i < 4; i++) {
		gm_add_chain(&g, 0, &s, 1);
		assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_CHAIN);
	}
	assert_int_equal(g.q[0].vq.last_avail, 2);
	assert_int_equal(vq_pop(&g.q[0].vq, &g.table, &chain), VQ_EMPTY);
}

static void buffer_split_across_regions(void **state __attribute__((unused)))
{
	struct vq_memory two = { 0 };
	struct gm_seg s = { GM_GPA + 0x20000 - 10, 30, 0 };


	/* Two regions adjacent in guest-physical space, apart in ours. */
	two.n = 2;
	two.r[0] = g.table.r[0];
	two.r[0].size = 0x20000;
	two.r[1].gpa = GM_GPA + 0x20000;
	two.r[1].size = GM_SIZE - 0x20000;
	two.r[1].uva = GM_UVA + 0x20000;
	two.r[1].host = g.mem + 0x20000;
	gm_add_chain(&g, 0, &s, 1);
	assert_int_equal(vq_pop(&g.q[0].vq, &two, &chain), VQ_CHAIN);
	assert_int_equal(chain.nout, 2);
	assert_int_equal(chain.out[0].len, 10);
	assert_int_equal(chain.out[1].len, 20);
	assert_int_equal(chain.out_len, 30);
}

static void rings_outside_memory(void **state __attribute__((unused)))
{
	struct virtqueue vq = g.q[1].vq;


	vq.used_uva = GM_UVA + GM_SIZE - 8;
	assert_int_equal(vq_map_rings(&vq, &g.table), -22);
	vq = g.q[1].vq;
	vq.num = 3;	/* not a power of two */
	assert_int_equal(vq_map_rings(&vq, &g.table), -22);
	vq = g.q[1].vq;
	assert_int_equal(vq_map_rings(&vq, &g.table), 0);
}

static void segment_copies(void **state __attribute__((unused)))
{
	uint8_t a[5] = { 1, 2, 3, 4, 5 }, b[7] = { 0 }, out[12];
	struct vq_seg segs[2] = { { a, 5 }, { b, 7 } };


	assert_int_equal(vq_segs_write(segs, 2, 3, "xyzw", 4), 4);
	assert_int_equal(a[3], 'x');
	assert_int_equal(b[1], 'w');
	assert_int_equal(vq_segs_read(segs, 2, 0, out, sizeof(out)), 12);
	assert_int_equal(out[4], 'y');
	/* Past the end: only what exists is copied. */
	assert_int_equal(vq_segs_read(segs, 2, 10, out, 10), 2);
	assert_int_equal(vq_segs_write(segs, 2, 12, "q", 1), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(empty_ring),
		T(chain_with_read_and_write_parts),
		T(push_publishes_used_entry),
		T(unpop_returns_the_chain),
		T(interrupt_suppression_flag),
		T(event_idx_interrupts_follow_used_event),
		T(event_idx_avail_event_published),
		T(descriptor_outside_memory),
		T(descriptor_address_wraps),
		T(descriptor_loop),
		T(next_index_out_of_range),
		T(indirect_descriptor_refused),
		T(readable_after_writable_refused),
		T(total_length_overflow),
		T(too_many_segments),
		T(bad_avail_index_and_head),
		T(avail_index_wraps),
		T(buffer_split_across_regions),
		T(rings_outside_memory),
		T(segment_copies),
	};

	return cmocka_run_group_tests_name("virtqueue", tests, NULL, NULL);
}

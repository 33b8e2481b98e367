/* SPDX-License-Identifier: MIT */
/*
 * Synthetic guest memory and a tiny virtio "driver" for the vsock back-end's
 * unit tests: rings and buffers live in a malloc'd block that the back-end
 * sees through a vq_memory table, exactly as it sees QEMU's shared RAM.
 */
#ifndef VSOCK_TEST_GUESTMEM_H
#define VSOCK_TEST_GUESTMEM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtqueue.h"

#define GM_SIZE (4u << 20)
#define GM_GPA 0x100000ull		/* guest physical base */
#define GM_UVA 0x7f0000000000ull	/* front-end virtual base */
#define GM_QSIZE 16

struct gm_queue {
	struct virtqueue vq;	/* the back-end's view */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx;	/* driver's next avail index */
	uint16_t used_seen;	/* driver's consumed used index */
	uint16_t next_desc;	/* descriptor allocator (wraps) */
};

struct guestmem {
	uint8_t *mem;
	struct vq_memory table;
	uint64_t data_next;	/* bump allocator for buffers (gpa) */
	struct gm_queue q[3];
};

static inline void *gm_ptr(struct guestmem *g, uint64_t gpa)
{
	return g->mem + (gpa - GM_GPA);
}

static inline uint64_t gm_alloc(struct guestmem *g, uint64_t len)
{
	uint64_t a = g->data_next;

	g->data_next += (len + 63) & ~63ull;
	if (g->data_next > GM_GPA + GM_SIZE)	/* recycle: tests are short */
		g->data_next = GM_GPA + 0x10000, a = g->data_next,
		g->data_next += (len + 63) & ~63ull;
	return a;
}

static inline void gm_init(struct guestmem *g)
{
	memset(g, 0, sizeof(*g));
	g->mem = calloc(1, GM_SIZE);
	g->table.n = 1;
	g->table.r[0].gpa = GM_GPA;
	g->table.r[0].size = GM_SIZE;
	g->table.r[0].uva = GM_UVA;
	g->table.r[0].host = g->mem;
	for (unsigned i = 0; i < 3; i++) {
		struct gm_queue *q = &g->q[i];
		uint64_t base = GM_GPA + 0x1000 * i;

		q->desc_gpa = base;
		q->avail_gpa = base + 16 * GM_QSIZE;
		q->used_gpa = base + 0x800;
		q->vq.num = GM_QSIZE;
		q->vq.desc_uva = q->desc_gpa - GM_GPA + GM_UVA;
		q->vq.avail_uva = q->avail_gpa - GM_GPA + GM_UVA;
		q->vq.used_uva = q->used_gpa - GM_GPA + GM_UVA;
	}
	g->data_next = GM_GPA + 0x10000;
}

static inline void gm_fini(struct guestmem *g)
{
	free(g->mem);
	g->mem = NULL;
}

struct gm_seg {
	uint64_t gpa;
	uint32_t len;
	int write;
};

/* Writes a raw descriptor. */
static inline void gm_desc(struct guestmem *g, unsigned qi, uint16_t i,
			   uint64_t addr, uint32_t len, uint16_t flags,
			   uint16_t next)
{
	uint8_t *d = gm_ptr(g, g->q[qi].desc_gpa + 16 * (uint64_t)i);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Publishes head in the avail ring. */
static inline void gm_publish(struct guestmem *g, unsigned qi, uint16_t head)
{
	struct gm_queue *q = &g->q[qi];
	uint8_t *a = gm_ptr(g, q->avail_gpa);

	memcpy(a + 4 + 2 * (q->avail_idx % GM_QSIZE), &head, 2);
	q->avail_idx++;
	memcpy(a + 2, &q->avail_idx, 2);
}

/* Adds a chain of segments; returns its head. */
static inline uint16_t gm_add_chain(struct guestmem *g, unsigned qi,
				    const struct gm_seg *s, unsigned n)
{
	struct gm_queue *q = &g->q[qi];
	uint16_t head = q->next_desc % GM_QSIZE;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % GM_QSIZE);
		uint16_t flags = (uint16_t)((s[i].write ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0));

		gm_desc(g, qi, idx, s[i].gpa, s[i].len, flags,
			(uint16_t)((idx + 1) % GM_QSIZE));
	}
	q->next_desc = (uint16_t)(q->next_desc + n);
	gm_publish(g, qi, head);
	return head;
}

/* Next used element, if any. */
static inline int gm_used(struct guestmem *g, unsigned qi, uint32_t *id,
			  uint32_t *len)
{
	struct gm_queue *q = &g->q[qi];
	uint8_t *u = gm_ptr(g, q->used_gpa);
	uint16_t idx;

	memcpy(&idx, u + 2, 2);
	if (idx == q->used_seen)
		return 0;
	memcpy(id, u + 4 + 8 * (q->used_seen % GM_QSIZE), 4);
	memcpy(len, u + 8 + 8 * (q->used_seen % GM_QSIZE), 4);
	q->used_seen++;
	return 1;
}

#endif

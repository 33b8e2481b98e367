// SPDX-License-Identifier: MIT
#include "virtqueue.h"

#include <errno.h>
#include <string.h>

/*
 * Guest memory is shared with a running guest: read every field exactly
 * once into a local copy, through these helpers, and validate the copy.
 */
static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;	/* x86_64 is little-endian like virtio 1.x */
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void st16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void st32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void *translate(const struct vq_memory *m, uint64_t addr, uint64_t len,
		       bool uva)
{
	for (unsigned i = 0; i < m->n && i < VQ_MAX_REGIONS; i++) {
		const struct vq_region *r = &m->r[i];
		uint64_t start = uva ? r->uva : r->gpa;
		uint64_t off;

		if (addr < start)
			continue;
		off = addr - start;
		/* off + len <= size, written so that nothing overflows */
		if (off >= r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

void *vq_gpa_to_host(const struct vq_memory *m, uint64_t gpa, uint64_t len)
{
	return translate(m, gpa, len, false);
}

void *vq_uva_to_host(const struct vq_memory *m, uint64_t uva, uint64_t len)
{
	return translate(m, uva, len, true);
}

int vq_uva_to_gpa(const struct vq_memory *m, uint64_t uva, uint64_t *gpa)
{
	for (unsigned i = 0; i < m->n && i < VQ_MAX_REGIONS; i++) {
		const struct vq_region *r = &m->r[i];

		if (uva >= r->uva && uva - r->uva < r->size) {
			*gpa = r->gpa + (uva - r->uva);
			return 0;
		}
	}
	return -1;
}

/* Largest piece of [gpa, gpa+len) that starts at gpa and is in one region. */
static uint8_t *translate_prefix(const struct vq_memory *m, uint64_t gpa,
				 uint64_t len, uint64_t *got)
{
	for (unsigned i = 0; i < m->n && i < VQ_MAX_REGIONS; i++) {
		const struct vq_region *r = &m->r[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		if (off >= r->size)
			continue;
		*got = r->size - off < len ? r->size - off : len;
		return r->host + off;
	}
	return NULL;
}

int vq_map_rings(struct virtqueue *vq, const struct vq_memory *m)
{
	uint64_t n = vq->num;

	vq->desc = vq_uva_to_host(m, vq->desc_uva, 16 * n);
	vq->avail = vq_uva_to_host(m, vq->avail_uva, 6 + 2 * n);
	vq->used = vq_uva_to_host(m, vq->used_uva, 6 + 8 * n);
	if (!vq->desc || !vq->avail || !vq->used || n == 0 ||
	    n > VQ_MAX_SIZE || (n & (n - 1))) {
		vq->desc = vq->avail = vq->used = NULL;
		return -EINVAL;
	}
	return 0;
}

bool vq_has_avail(const struct virtqueue *vq)
{
	if (!vq->avail)
		return false;
	return ld16(vq->avail + 2) != vq->last_avail;
}

/* Adds the guest buffer [addr, addr+len) as one or more segments. */
static int add_segments(const struct vq_memory *m, uint64_t addr, uint32_t len,
			struct vq_seg *segs, unsigned *n)
{
	uint64_t left = len;

	while (left > 0) {
		uint64_t got;
		uint8_t *p = translate_prefix(m, addr, left, &got);

		if (!p || *n >= VQ_MAX_SEGS)
			return -1;
		segs[*n].base = p;
		segs[*n].len = (uint32_t)got;
		(*n)++;
		left -= got;
		if (addr > UINT64_MAX - got)
			return left ? -1 : 0;
		addr += got;
	}
	return 0;
}

enum vq_pop_result vq_pop(struct virtqueue *vq, const struct vq_memory *m,
			  struct vq_chain *c)
{
	uint16_t avail_idx, head, i;
	unsigned count = 0;
	bool seen_write = false;

	if (!vq->avail || !vq->desc || !vq->used)
		return VQ_EMPTY;
	avail_idx = ld16(vq->avail + 2);
	if (avail_idx == vq->last_avail)
		return VQ_EMPTY;
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->num)
		return VQ_BAD_RING;
	/* Read the ring entry only after seeing the index that covers it. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = ld16(vq->avail + 4 + 2 * (vq->last_avail & (vq->num - 1)));
	if (head >= vq->num)
		return VQ_BAD_RING;
	vq->last_avail++;

	memset(c, 0, offsetof(struct vq_chain, out));
	c->head = head;
	i = head;
	for (;;) {
		const uint8_t *d = vq->desc + sizeof(struct vring_desc) * (size_t)i;
		uint64_t addr = ld64(d + offsetof(struct vring_desc, addr));
		uint32_t len = ld32(d + offsetof(struct vring_desc, len));
		uint16_t flags = ld16(d + offsetof(struct vring_desc, flags));
		uint16_t next = ld16(d + offsetof(struct vring_desc, next));

		/* A chain longer than the ring must contain a loop. */
		if (++count > vq->num)
			return VQ_BAD_CHAIN;
		if (flags & VRING_DESC_F_INDIRECT)
			return VQ_BAD_CHAIN;
		if (flags & VRING_DESC_F_WRITE) {
			seen_write = true;
			if (len > UINT32_MAX - c->in_len)
				return VQ_BAD_CHAIN;
			if (add_segments(m, addr, len, c->in, &c->nin))
				return VQ_BAD_CHAIN;
			c->in_len += len;
		} else {
			/* Readable after writable is forbidden by the spec. */
			if (seen_write)
				return VQ_BAD_CHAIN;
			if (len > UINT32_MAX - c->out_len)
				return VQ_BAD_CHAIN;
			if (add_segments(m, addr, len, c->out, &c->nout))
				return VQ_BAD_CHAIN;
			c->out_len += len;
		}
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		if (next >= vq->num)
			return VQ_BAD_CHAIN;
		i = next;
	}
	return VQ_CHAIN;
}

void vq_unpop(struct virtqueue *vq)
{
	vq->last_avail--;
}

void vq_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	uint8_t *e;

	if (!vq->used)
		return;
	e = vq->used + 4 + 8 * (size_t)(vq->used_idx & (vq->num - 1));
	st32(e, head);
	st32(e + 4, len);
	vq->used_idx++;
	/* The element must be visible before the index that publishes it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	st16(vq->used + 2, vq->used_idx);
}

bool vq_wants_interrupt(struct virtqueue *vq)
{
	uint16_t used_event, old;
	bool valid;

	if (!vq->avail)
		return false;
	/* Order our used->idx store before reading flags or used_event. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(ld16(vq->avail) & VRING_AVAIL_F_NO_INTERRUPT);
	/* used_event sits after the avail ring: avail->ring[num]. */
	used_event = ld16(vq->avail + 4 + 2 * (size_t)vq->num);
	old = vq->signalled_used;
	valid = vq->signalled_valid;
	vq->signalled_used = vq->used_idx;
	vq->signalled_valid = true;
	/*
	 * After a (re)start we do not know what the driver was told last, so
	 * the first batch always notifies (as QEMU's virtio does).
	 */
	return !valid || vring_need_event(used_event, vq->used_idx, old);
}

bool vq_enable_notify(struct virtqueue *vq)
{
	if (!vq->event_idx || !vq->used || !vq->avail)
		return false;
	/* avail_event sits after the used ring: used->ring[num]. */
	st16(vq->used + 4 + 8 * (size_t)vq->num, vq->last_avail);
	/*
	 * Publish avail_event before looking at avail->idx again: a buffer
	 * the driver added before it saw our avail_event gets no kick.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_has_avail(vq);
}

uint16_t vq_used_idx_in_memory(const struct virtqueue *vq)
{
	return vq->used ? ld16(vq->used + 2) : 0;
}

size_t vq_segs_read(const struct vq_seg *segs, unsigned n, size_t off,
		    void *dst, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t take;

		if (off >= segs[i].len) {
			off -= segs[i].len;
			continue;
		}
		take = segs[i].len - off;
		if (take > len - done)
			take = len - done;
		memcpy((uint8_t *)dst + done, segs[i].base + off, take);
		done += take;
		off = 0;
	}
	return done;
}

size_t vq_segs_write(const struct vq_seg *segs, unsigned n, size_t off,
		     const void *src, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t take;

		if (off >= segs[i].len) {
			off -= segs[i].len;
			continue;
		}
		take = segs[i].len - off;
		if (take > len - done)
			take = len - done;
		memcpy(segs[i].base + off, (const uint8_t *)src + done, take);
		done += take;
		off = 0;
	}
	return done;
}

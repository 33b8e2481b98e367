/* SPDX-License-Identifier: MIT */
/*
 * Guest memory table and split-virtqueue walker. Pure: no fds, no syscalls,
 * every guest-controlled value (ring indices, descriptor addresses, lengths,
 * next pointers) is bounds-checked against the memory table, so it can be
 * fed arbitrary bytes by the unit tests and the fuzzer.
 *
 * Ring features: VIRTIO_RING_F_EVENT_IDX when negotiated (virtio 1.2,
 * 2.7.7 and 2.7.10: used_event and avail_event); no INDIRECT_DESC, so an
 * indirect descriptor is a malformed chain.
 */
#ifndef VSOCKD_VIRTQUEUE_H
#define VSOCKD_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* VRING_DESC_F_*, VRING_AVAIL_F_NO_INTERRUPT, struct vring_desc. */
#include <linux/virtio_ring.h>

#define VQ_MAX_REGIONS 8
#define VQ_MAX_SIZE 32768
#define VQ_MAX_SEGS 64


struct vq_region {
	uint64_t gpa;		/* guest physical address */
	uint64_t size;
	uint64_t uva;		/* front-end (QEMU) virtual address */
	uint8_t *host;		/* our mapping */
};

struct vq_memory {
	struct vq_region r[VQ_MAX_REGIONS];
	unsigned n;
};

/* Host pointer for [gpa, gpa+len) if it lies inside one region, else NULL. */
void *vq_gpa_to_host(const struct vq_memory *m, uint64_t gpa, uint64_t len);
void *vq_uva_to_host(const struct vq_memory *m, uint64_t uva, uint64_t len);
/* Guest-physical address of a front-end address: 0, or -1 outside memory. */
int vq_uva_to_gpa(const struct vq_memory *m, uint64_t uva, uint64_t *gpa);

struct vq_seg {
	uint8_t *base;
	uint32_t len;
};

/* One descriptor chain, split into device-readable and -writable parts. */
struct vq_chain {
	uint16_t head;
	unsigned nout, nin;
	uint32_t out_len, in_len;
	struct vq_seg out[VQ_MAX_SEGS];
	struct vq_seg in[VQ_MAX_SEGS];
};

struct virtqueue {
	unsigned num;		/* ring size, power of two */
	uint64_t desc_uva, avail_uva, used_uva;
	/* Pointers into guest memory, valid while the memory table is. */
	uint8_t *desc, *avail, *used;
	uint16_t last_avail;	/* next avail slot to consume */
	uint16_t used_idx;	/* next used slot to fill */
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
	/* used_idx when the driver was last notified (event_idx only). */
	uint16_t signalled_used;
	bool signalled_valid;
};

enum vq_pop_result {
	VQ_EMPTY = 0,
	VQ_CHAIN = 1,
	VQ_BAD_CHAIN = -1,	/* consumed; give it back with vq_push(.., 0) */
	VQ_BAD_RING = -2,	/* avail index or head unusable: stop the ring */
};

/* Translates the ring addresses; 0 or -EINVAL if any lies outside memory. */
int vq_map_rings(struct virtqueue *vq, const struct vq_memory *m);
/* Walks the next available chain into c. */
enum vq_pop_result vq_pop(struct virtqueue *vq, const struct vq_memory *m,
			  struct vq_chain *c);
/* Hands back the chain popped last, unused (nothing to put into it yet). */
void vq_unpop(struct virtqueue *vq);
bool vq_has_avail(const struct virtqueue *vq);
void vq_push(struct virtqueue *vq, uint16_t head, uint32_t len);
/*
 * Whether the driver wants an interrupt for the entries pushed since the
 * last call that returned true. Without EVENT_IDX: unless the driver set
 * VRING_AVAIL_F_NO_INTERRUPT. With it (virtio 1.2, 2.7.7.2): only when
 * the used index moved past the driver's used_event since the last
 * notification; the caller must then notify (the call records it).
 */
bool vq_wants_interrupt(struct virtqueue *vq);
/*
 * The device is about to wait for a kick: with EVENT_IDX, asks the
 * driver (avail_event = last_avail, virtio 1.2, 2.7.10) to notify for the
 * next buffer it adds. Returns true when buffers arrived meanwhile, so the
 * caller must look again instead of waiting. Without EVENT_IDX the driver
 * notifies always (we never set VRING_USED_F_NO_NOTIFY): false.
 */
bool vq_enable_notify(struct virtqueue *vq);
/* used->idx as the driver sees it, to resume a ring. */
uint16_t vq_used_idx_in_memory(const struct virtqueue *vq);

/* Scatter-gather copies; return the bytes copied. */
size_t vq_segs_read(const struct vq_seg *segs, unsigned n, size_t off,
		    void *dst, size_t len);
size_t vq_segs_write(const struct vq_seg *segs, unsigned n, size_t off,
		     const void *src, size_t len);

#endif

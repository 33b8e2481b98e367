/* SPDX-License-Identifier: MIT */
/* virtio-vsock packet header: layout, constants, pure encode/decode. */
#ifndef VSOCKD_VSOCK_PACKET_H
#define VSOCKD_VSOCK_PACKET_H

#include <stdint.h>
#include <sys/socket.h>

#include <linux/virtio_vsock.h>
#include <linux/vm_sockets.h>

#include "virtqueue.h"

/*
 * Layouts and constants come from the kernel's UAPI headers (Debian's
 * linux-libc-dev): struct virtio_vsock_hdr, VIRTIO_VSOCK_OP_*,
 * VIRTIO_VSOCK_TYPE_*, VIRTIO_VSOCK_SHUTDOWN_*, VIRTIO_VSOCK_EVENT_*,
 * VMADDR_CID_HOST. Only the queue numbering (virtio spec 5.10.2) is ours.
 */
#define VSOCK_HDR_LEN ((uint32_t)sizeof(struct virtio_vsock_hdr))
_Static_assert(sizeof(struct virtio_vsock_hdr) == 44,
	       "virtio-vsock header is 44 bytes on the wire");

#define VSOCK_QUEUE_RX 0
#define VSOCK_QUEUE_TX 1
#define VSOCK_QUEUE_EVENT 2

/* Largest payload accepted in one guest packet (Linux sends <= 64 KiB). */
#define VSOCK_MAX_PKT_PAYLOAD (64u * 1024)

struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

void vsock_hdr_decode(const uint8_t b[44], struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[44]);

enum vsock_parse_result {
	VSOCK_PKT_OK = 0,
	VSOCK_PKT_SHORT = -1,	/* chain shorter than a header */
	VSOCK_PKT_BAD_LEN = -2,	/* hdr.len beyond the chain or too big (h filled) */
};

/* Parses a guest tx chain: header, and the payload's offset in the chain. */
enum vsock_parse_result vsock_parse_chain(const struct vq_chain *c,
					  struct vsock_hdr *h);
const char *vsock_op_name(uint16_t op);

#endif

/* SPDX-License-Identifier: MIT */
/* virtio-vsock packet header: layout, constants, pure encode/decode. */
#ifndef VSOCKD_VSOCK_PACKET_H
#define VSOCKD_VSOCK_PACKET_H

#include <stdint.h>

#include "virtqueue.h"

#define VSOCK_HDR_LEN 44
#define VSOCK_HOST_CID 2
#define VSOCK_TYPE_STREAM 1

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_SHUTDOWN_RCV 1u
#define VSOCK_SHUTDOWN_SEND 2u

#define VSOCK_QUEUE_RX 0
#define VSOCK_QUEUE_TX 1
#define VSOCK_QUEUE_EVENT 2
#define VSOCK_EVENT_TRANSPORT_RESET 0

/* Largest payload accepted in one guest packet (Linux sends <= 64 KiB). */
#define VSOCK_MAX_PKT_PAYLOAD (64u * 1024)

struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

void vsock_hdr_decode(const uint8_t b[VSOCK_HDR_LEN], struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[VSOCK_HDR_LEN]);

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

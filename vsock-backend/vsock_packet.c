// SPDX-License-Identifier: MIT
#include "vsock_packet.h"

#include <stddef.h>
#include <string.h>

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Field offsets from the UAPI struct: the wire format is little-endian. */
#define OFF(f) offsetof(struct virtio_vsock_hdr, f)

void vsock_hdr_decode(const uint8_t b[44], struct vsock_hdr *h)
{
	h->src_cid = get64(b + OFF(src_cid));
	h->dst_cid = get64(b + OFF(dst_cid));
	h->src_port = get32(b + OFF(src_port));
	h->dst_port = get32(b + OFF(dst_port));
	h->len = get32(b + OFF(len));
	h->type = get16(b + OFF(type));
	h->op = get16(b + OFF(op));
	h->flags = get32(b + OFF(flags));
	h->buf_alloc = get32(b + OFF(buf_alloc));
	h->fwd_cnt = get32(b + OFF(fwd_cnt));
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[44])
{
	put64(b + OFF(src_cid), h->src_cid);
	put64(b + OFF(dst_cid), h->dst_cid);
	put32(b + OFF(src_port), h->src_port);
	put32(b + OFF(dst_port), h->dst_port);
	put32(b + OFF(len), h->len);
	put16(b + OFF(type), h->type);
	put16(b + OFF(op), h->op);
	put32(b + OFF(flags), h->flags);
	put32(b + OFF(buf_alloc), h->buf_alloc);
	put32(b + OFF(fwd_cnt), h->fwd_cnt);
}

enum vsock_parse_result vsock_parse_chain(const struct vq_chain *c,
					  struct vsock_hdr *h)
{
	uint8_t raw[VSOCK_HDR_LEN];

	if (c->out_len < VSOCK_HDR_LEN ||
	    vq_segs_read(c->out, c->nout, 0, raw, sizeof(raw)) != sizeof(raw))
		return VSOCK_PKT_SHORT;
	vsock_hdr_decode(raw, h);
	if (h->len > c->out_len - VSOCK_HDR_LEN ||
	    h->len > VSOCK_MAX_PKT_PAYLOAD)
		return VSOCK_PKT_BAD_LEN;
	return VSOCK_PKT_OK;
}

const char *vsock_op_name(uint16_t op)
{
	static const char *const names[] = {
		"INVALID", "REQUEST", "RESPONSE", "RST",
		"SHUTDOWN", "RW", "CREDIT_UPDATE", "CREDIT_REQUEST",
	};

	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "UNKNOWN";
}

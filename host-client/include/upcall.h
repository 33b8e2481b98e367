/* SPDX-License-Identifier: MIT */
/*
 * libupcall: host side of the upcall device-manager protocol.
 *
 * One handle per connection, no global state. Every function that may block
 * honours the handle's timeout. Functions return 0 (or a length) on success
 * and a negative errno on failure; upcall_last_error() then says what
 * happened in words.
 *
 * A timeout, an I/O error or a malformed message in the middle of an
 * exchange leaves the stream out of step (a late reply may still come):
 * the handle is then broken. Its connection is closed and every later call
 * fails with -EPIPE, naming the first failure, until one of the
 * upcall_connect_*() functions connects it again.
 *
 * Typical use:
 *
 *	struct upcall *h = upcall_new();
 *	upcall_connect_hybrid(h, "/run/vm/vsock.sock", UPCALL_DEFAULT_PORT);
 *	upcall_devmgr_start(h);
 *	uint8_t ids[] = { 1, 2 };
 *	struct upcall_reply r;
 *	upcall_cpu_add(h, ids, 2, &r);	// then look at r.ret and r.apic_index
 *	upcall_free(h);
 */
#ifndef UPCALL_H
#define UPCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Wire facts (see docs/protocol.md). */
#define UPCALL_MSG_SIZE 1024u
#define UPCALL_HDR_SIZE 16u
#define UPCALL_MAGIC_VERSION 0x444D0100u
#define UPCALL_DEFAULT_PORT 219u
#define UPCALL_AGENT_PORT 1219u
#define UPCALL_SERVICE_DEVMGR 'd'
#define UPCALL_CPU_PAYLOAD_SIZE 258u
#define UPCALL_MMIO_PAYLOAD_SIZE 24u
#define UPCALL_PCI_PAYLOAD_SIZE 2u
#define UPCALL_MEM_PAYLOAD_SIZE 16u /* our extension, docs/protocol.md */
#define UPCALL_CPU_REPLY_SIZE 4u
#define UPCALL_MAX_CPU_BATCH 255u
#define UPCALL_DEFAULT_TIMEOUT_MS 5000

enum upcall_msg_type {
	UPCALL_MSG_CONNECT = 0,
	UPCALL_MSG_ADD_CPU = 1,
	UPCALL_MSG_DEL_CPU = 2,
	UPCALL_MSG_ADD_MEM = 3,
	UPCALL_MSG_DEL_MEM = 4,
	UPCALL_MSG_ADD_MMIO = 5,
	UPCALL_MSG_DEL_MMIO = 6,
	UPCALL_MSG_ADD_PCI = 7,
	UPCALL_MSG_DEL_PCI = 8,
};

struct upcall_header {
	uint32_t magic_version;
	uint32_t msg_size;
	uint32_t msg_type;
	uint32_t msg_flags;
};

/* A decoded reply. ret is the guest's answer: 0 or a negative errno. */
struct upcall_reply {
	uint32_t msg_type;
	uint32_t msg_size;
	int32_t ret;
	/*
	 * CPU replies only: how many APIC IDs of the batch the guest handled
	 * (on a failure, the index of the one that failed). has_apic_index is
	 * false when the index cannot be trusted: a failed reply without the
	 * field (msg_size 0, as Kata's guest answers every failure) or with
	 * an index not below the batch size (a stale buffer). How far the
	 * batch got is then unknown. apic_index holds the raw value, if any.
	 */
	bool has_apic_index;
	uint32_t apic_index;
};

/* ---- codec: pure, no I/O (bytes <-> structs) ---- */

/* Fill buf (UPCALL_MSG_SIZE bytes) with a CPU request. -EINVAL on a bad type
 * or a count outside 1..UPCALL_MAX_CPU_BATCH. */
int upcall_encode_cpu(uint8_t *buf, enum upcall_msg_type type,
		      const uint8_t *apic_ids, unsigned int count);
/* Fill buf with an MMIO request. -EINVAL on a bad type, a zero size or a
 * window that wraps around the address space. */
int upcall_encode_mmio(uint8_t *buf, enum upcall_msg_type type,
		       uint64_t base, uint64_t size, uint32_t irq);
/* Fill buf with a PCI request for the slot devfn (slot << 3 | function) of
 * bus busno, PCI domain 0. -EINVAL on a bad type. */
int upcall_encode_pci(uint8_t *buf, enum upcall_msg_type type,
		      uint8_t busno, uint8_t devfn);
/* Fill buf with a memory request (our extension of the protocol) for the
 * guest-physical range [base, base + size) in bytes. -EINVAL on a bad type,
 * a zero size or a range that wraps around the address space; alignment is
 * the guest's to judge (its memory block size). */
int upcall_encode_mem(uint8_t *buf, enum upcall_msg_type type,
		      uint64_t base, uint64_t size);
void upcall_decode_header(const uint8_t *buf, struct upcall_header *hdr);
/* 0 if buf (len bytes) is exactly the device manager's greeting, -EPROTO
 * (or -EMSGSIZE for a wrong length) otherwise. */
int upcall_check_greeting(const uint8_t *buf, size_t len);
/* Decode a reply to a request of type expect_type (and, for CPU requests,
 * of count APIC IDs). A failure (ret < 0) decodes whatever its msg_size
 * (see struct upcall_reply); a success must be well formed (a CPU success
 * has msg_size >= 4 and apic_index == count). -EMSGSIZE unless len is
 * UPCALL_MSG_SIZE; -EPROTO on a wrong magic or type, a msg_size beyond the
 * message, a ret that is neither 0 nor a negative errno (-4095..-1), or a
 * malformed success. */
int upcall_decode_reply(const uint8_t *buf, size_t len,
			uint32_t expect_type, unsigned int count,
			struct upcall_reply *reply);
/* Parse a hybrid vsock handshake line ("OK <port>\n"). 0 and *host_port
 * on success, -ECONNREFUSED otherwise. */
int upcall_parse_hybrid_reply(const char *line, size_t len,
			      uint32_t *host_port);

/* ---- handle, transport, session ---- */

struct upcall;

/* NULL only when out of memory. */
struct upcall *upcall_new(void);
void upcall_free(struct upcall *h);
/* Timeout of each call on this handle, in milliseconds (> 0). */
int upcall_set_timeout(struct upcall *h, int timeout_ms);
int upcall_get_timeout(const struct upcall *h);

/* Kernel vsock: connect to (cid, port). */
int upcall_connect_vsock(struct upcall *h, uint32_t cid, uint32_t port);
/* Hybrid vsock: connect to the VMM's Unix socket and ask for guest port
 * with "CONNECT <port>\n". -ECONNREFUSED if the VMM does not answer "OK". */
int upcall_connect_hybrid(struct upcall *h, const char *uds_path,
			  uint32_t port);
/* Adopt an already-connected stream socket (the handle owns it then). */
int upcall_connect_fd(struct upcall *h, int fd);
void upcall_close(struct upcall *h);
int upcall_fd(const struct upcall *h);

/* Select the device-manager service and check the guest's greeting. */
int upcall_devmgr_start(struct upcall *h);

/* Send one request and read its reply. Return 0 when a valid reply came
 * back: then reply->ret says whether the guest accepted it (a refusal is
 * not an error of the call and leaves the handle usable). -EINVAL for bad
 * arguments (nothing sent), -ENOTCONN before a connection, -EINVAL before
 * upcall_devmgr_start(), -EPIPE on a broken handle (nothing sent); a
 * timeout, I/O error or malformed reply returns its errno and breaks the
 * handle. */
int upcall_cpu_add(struct upcall *h, const uint8_t *apic_ids,
		   unsigned int count, struct upcall_reply *reply);
int upcall_cpu_del(struct upcall *h, const uint8_t *apic_ids,
		   unsigned int count, struct upcall_reply *reply);
int upcall_mmio_add(struct upcall *h, uint64_t base, uint64_t size,
		    uint32_t irq, struct upcall_reply *reply);
int upcall_mmio_del(struct upcall *h, uint64_t base, uint64_t size,
		    uint32_t irq, struct upcall_reply *reply);
/* PCI: tell the guest to scan (add) or remove (del) the slot devfn of bus
 * busno (domain 0), after the VMM plugged the device in or before it
 * unplugs it. The reply carries only ret. Same return values as above. */
int upcall_pci_add(struct upcall *h, uint8_t busno, uint8_t devfn,
		   struct upcall_reply *reply);
int upcall_pci_del(struct upcall *h, uint8_t busno, uint8_t devfn,
		   struct upcall_reply *reply);
/* Memory (our extension): the guest adds [base, base + size) as RAM and
 * onlines it (add; the VMM backs the range with RAM first), or offlines and
 * removes a range an earlier add added (del; the VMM keeps it backed until
 * the guest said 0). The reply carries only ret. Same return values as
 * above. */
int upcall_mem_add(struct upcall *h, uint64_t base, uint64_t size,
		   struct upcall_reply *reply);
int upcall_mem_del(struct upcall *h, uint64_t base, uint64_t size,
		   struct upcall_reply *reply);

/* Agent status service (guest port UPCALL_AGENT_PORT): send one request
 * line (without '\n') on a connected handle and read one reply line into
 * out (NUL-terminated, without the '\n'). Returns the line's length,
 * -EMSGSIZE if it does not fit in outsz - 1 bytes. */
ssize_t upcall_agent_request(struct upcall *h, const char *request,
			     char *out, size_t outsz);

/* True once an exchange failed midway (see the top of this file). */
bool upcall_is_broken(const struct upcall *h);

/* What went wrong in the last failing call on this handle. */
const char *upcall_last_error(const struct upcall *h);
/* Text for a negative errno returned by this library. */
const char *upcall_strerror(int err);
const char *upcall_msg_type_name(uint32_t type);

#ifdef __cplusplus
}
#endif

#endif /* UPCALL_H */

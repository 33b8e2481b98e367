// SPDX-License-Identifier: MIT
/*
 * PCI requests: ADD_PCI and DEL_PCI name one slot of PCI domain 0 by bus
 * number and devfn, Dragonball's payload {u8 busno, u8 devfn}. Every value
 * of the two bytes is encodable; the guest judges them (an absent bus, an
 * empty or taken slot, a function other than 0).
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static int pci_request(struct upcall *h, enum upcall_msg_type type,
		       uint8_t busno, uint8_t devfn, struct upcall_reply *reply)
{
	uint8_t req[UPCALL_MSG_SIZE];

	if (!reply)
		return uc_fail(h, -EINVAL, "no reply buffer");
	memset(reply, 0, sizeof(*reply));
	if (upcall_encode_pci(req, type, busno, devfn) < 0)
		return uc_fail(h, -EINVAL, "cannot encode %s",
			       upcall_msg_type_name(type));
	return uc_exchange(h, req, type, reply);
}

int upcall_pci_add(struct upcall *h, uint8_t busno, uint8_t devfn,
		   struct upcall_reply *reply)
{
	return pci_request(h, UPCALL_MSG_ADD_PCI, busno, devfn, reply);
}

int upcall_pci_del(struct upcall *h, uint8_t busno, uint8_t devfn,
		   struct upcall_reply *reply)
{
	return pci_request(h, UPCALL_MSG_DEL_PCI, busno, devfn, reply);
}

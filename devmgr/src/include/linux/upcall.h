/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Upcall: a vsock channel on which the VMM asks the guest kernel to act.
 *
 * The upcall server accepts stream connections on a vsock port. The first
 * byte a client sends selects a service; the connection then belongs to
 * that service's handler until the handler returns.
 */
#ifndef _LINUX_UPCALL_H
#define _LINUX_UPCALL_H

#include <linux/list.h>
#include <linux/types.h>

struct module;
struct upcall_conn;

/**
 * struct upcall_service - an in-kernel service reachable over upcall
 * @id:      selector byte the client sends first (e.g. 'd')
 * @name:    name used in log messages
 * @owner:   module that provides @handle, pinned while a handler runs
 * @handle:  serves one connection; runs in process context, may sleep,
 *           and returns when the conversation is over. The server closes
 *           the connection afterwards.
 * @node:    server private
 * @active:  server private, number of running handlers
 */
struct upcall_service {
	u8 id;
	const char *name;
	struct module *owner;
	void (*handle)(struct upcall_conn *conn);

	struct list_head node;
	unsigned int active;
};

int upcall_register_service(struct upcall_service *svc);
void upcall_unregister_service(struct upcall_service *svc);

int upcall_conn_read(struct upcall_conn *conn, void *buf, size_t len);
int upcall_conn_write(struct upcall_conn *conn, const void *buf, size_t len);
u32 upcall_conn_peer_cid(const struct upcall_conn *conn);

#endif /* _LINUX_UPCALL_H */

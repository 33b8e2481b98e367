// SPDX-License-Identifier: GPL-2.0
/*
 * Upcall server: accepts vsock stream connections from the VMM and hands
 * each one to the in-kernel service selected by the first byte received.
 *
 * One kernel thread owns the listening socket and does nothing but accept,
 * check the peer and queue the connection. Each connection is then served
 * by a work item on an unbound workqueue: a handler may sleep for as long
 * as its client takes without holding up the listener or the other
 * connections.
 *
 * A VMM may keep one connection for the VM's lifetime, so an established
 * connection is not closed for being idle unless idle_timeout says so.
 * What stays bounded is a message that started to arrive (its rest must
 * follow within UPCALL_MSG_TIMEOUT) and a reply the peer does not read.
 * At most max_conns connections are served; when a new one arrives at the
 * limit, the connection that has waited longest for its next message is
 * closed to make room (a restarted VMM must always get in), and only if
 * none is waiting is the new one refused.
 *
 * Locking: upcall_lock protects the service list, the connection list,
 * the counters and each connection's idle state. Handlers never run under
 * it. A connection's socket is released only after the connection left
 * the list, so code holding upcall_lock may shut down any listed socket
 * to interrupt its handler.
 */

#define pr_fmt(fmt) "upcall: " fmt

#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <linux/upcall.h>
#include <linux/vm_sockets.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>
#include <net/sock.h>

/* How long a new connection may take to send its service selector */
#define UPCALL_SELECT_TIMEOUT		(10 * HZ)
/* How long the rest of a message may take once its first byte arrived */
#define UPCALL_MSG_TIMEOUT		(10 * HZ)
/* Upper bound of the idle_timeout parameter, one day */
#define UPCALL_MAX_IDLE_TIMEOUT		(24U * 60 * 60)

static unsigned int port = 219;
module_param(port, uint, 0444);
MODULE_PARM_DESC(port, "vsock port to listen on (default 219)");

static bool any_peer;
module_param(any_peer, bool, 0644);
MODULE_PARM_DESC(any_peer, "Serve every peer CID, not only the host (default: host only)");

static unsigned int max_conns = 8;
module_param(max_conns, uint, 0444);
MODULE_PARM_DESC(max_conns, "Connections served at once; at the limit the one idle longest makes room (default 8)");

static unsigned int idle_timeout;
module_param(idle_timeout, uint, 0444);
MODULE_PARM_DESC(idle_timeout, "Seconds a connection may wait for its next message before it is closed, 0: never (default 0)");

struct upcall_conn {
	struct list_head node;		/* in upcall_conns */
	struct socket *sock;
	struct work_struct work;
	struct upcall_service *svc;	/* while a handler runs */
	u32 peer_cid;
	/* Under upcall_lock: */
	bool idle;			/* waiting for a selector or a message */
	bool evicted;			/* closed to make room for another */
	unsigned long idle_since;	/* jiffies */
};

static DEFINE_MUTEX(upcall_lock);
static LIST_HEAD(upcall_services);
static LIST_HEAD(upcall_conns);
/* Connections in upcall_conns, and how many of them were evicted */
static unsigned int upcall_nr_conns;
static unsigned int upcall_nr_evicted;
static bool upcall_stopping;
/* Woken when a connection ends or a handler returns */
static DECLARE_WAIT_QUEUE_HEAD(upcall_waitq);

static struct workqueue_struct *upcall_wq;
static struct socket *upcall_listen_sock;
static struct task_struct *upcall_listener;

/* One receive of at most @len bytes: the number received or an errno */
static int upcall_recv_some(struct socket *sock, void *buf, size_t len,
			    long timeout)
{
	struct kvec vec = {
		.iov_base = buf,
		.iov_len = len,
	};
	struct msghdr msg = { };
	int ret;

	WRITE_ONCE(sock->sk->sk_rcvtimeo, timeout);
	ret = kernel_recvmsg(sock, &msg, &vec, 1, len, 0);
	if (ret == 0)
		return -ECONNRESET;
	if (ret == -EAGAIN)
		return -ETIMEDOUT;
	return ret;
}

static int upcall_recv_exact(struct socket *sock, void *buf, size_t len,
			     long timeout)
{
	unsigned long deadline = jiffies + timeout;
	size_t done = 0;

	while (done < len) {
		long left = (long)(deadline - jiffies);
		int ret;

		if (left <= 0)
			return -ETIMEDOUT;
		ret = upcall_recv_some(sock, buf + done, len - done, left);
		if (ret < 0)
			return ret;
		done += ret;
	}
	return 0;
}

/*
 * Marks @conn as waiting for its next message (from @since), or as busy.
 * A connection evicted while it waited stays closed: -ECONNRESET, so that
 * a request whose first bytes raced with the eviction is not acted on.
 */
static int upcall_conn_set_idle(struct upcall_conn *conn, bool idle,
				unsigned long since)
{
	int ret = 0;

	mutex_lock(&upcall_lock);
	if (conn->evicted)
		ret = -ECONNRESET;
	conn->idle = idle && !conn->evicted;
	conn->idle_since = since;
	mutex_unlock(&upcall_lock);
	return ret;
}

/**
 * upcall_conn_read - read one message of exactly @len bytes
 * @conn: the connection passed to the service handler
 * @buf:  destination
 * @len:  number of bytes to read
 *
 * Waits for the first bytes of the message for as long as the idle
 * timeout allows (by default without limit; the connection counts as idle
 * meanwhile and may be closed to make room for a new connection), then
 * for the rest, across as many partial reads as the transport delivers,
 * at most UPCALL_MSG_TIMEOUT.
 *
 * Return: 0 on success, -ETIMEDOUT when a timeout expired, -ECONNRESET
 * when the peer closed the connection or the server shut it down, another
 * negative errno on other errors. After an error the handler should return.
 */
int upcall_conn_read(struct upcall_conn *conn, void *buf, size_t len)
{
	long idle = idle_timeout ? (long)idle_timeout * HZ : MAX_SCHEDULE_TIMEOUT;
	int ret, busy;

	if (!len)
		return 0;

	ret = upcall_conn_set_idle(conn, true, jiffies);
	if (ret)
		return ret;
	ret = upcall_recv_some(conn->sock, buf, len, idle);
	busy = upcall_conn_set_idle(conn, false, jiffies);
	if (ret < 0)
		return ret;
	if (busy)
		return busy;
	if ((size_t)ret == len)
		return 0;
	return upcall_recv_exact(conn->sock, buf + ret, len - ret, UPCALL_MSG_TIMEOUT);
}
EXPORT_SYMBOL_GPL(upcall_conn_read);

/**
 * upcall_conn_write - write @len bytes to an upcall connection
 * @conn: the connection passed to the service handler
 * @buf:  data
 * @len:  number of bytes to write
 *
 * A peer that does not take the bytes within UPCALL_MSG_TIMEOUT fails
 * the write.
 *
 * Return: 0 when every byte was queued, a negative errno otherwise.
 */
int upcall_conn_write(struct upcall_conn *conn, const void *buf, size_t len)
{
	struct socket *sock = conn->sock;
	unsigned long deadline = jiffies + UPCALL_MSG_TIMEOUT;
	size_t done = 0;

	while (done < len) {
		struct kvec vec = {
			.iov_base = (void *)buf + done,
			.iov_len = len - done,
		};
		struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
		long left = (long)(deadline - jiffies);
		int ret;

		if (left <= 0)
			return -ETIMEDOUT;
		WRITE_ONCE(sock->sk->sk_sndtimeo, left);
		ret = kernel_sendmsg(sock, &msg, &vec, 1, vec.iov_len);
		if (ret == -EAGAIN)
			return -ETIMEDOUT;
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -EIO;
		done += ret;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(upcall_conn_write);

/**
 * upcall_conn_peer_cid - the vsock CID of the connection's peer
 * @conn: the connection passed to the service handler
 *
 * Return: the peer's CID (VMADDR_CID_HOST unless any_peer is set).
 */
u32 upcall_conn_peer_cid(const struct upcall_conn *conn)
{
	return conn->peer_cid;
}
EXPORT_SYMBOL_GPL(upcall_conn_peer_cid);

/**
 * upcall_register_service - make a service reachable over upcall
 * @svc: the service; must stay valid until upcall_unregister_service()
 *
 * Return: 0, -EINVAL for a service without handler, or -EEXIST when
 * another service uses the same selector byte.
 */
int upcall_register_service(struct upcall_service *svc)
{
	struct upcall_service *s;
	int ret = 0;

	if (!svc->handle)
		return -EINVAL;

	mutex_lock(&upcall_lock);
	list_for_each_entry(s, &upcall_services, node) {
		if (s->id == svc->id) {
			ret = -EEXIST;
			goto out;
		}
	}
	svc->active = 0;
	list_add_tail(&svc->node, &upcall_services);
out:
	mutex_unlock(&upcall_lock);
	if (ret)
		pr_err("service '%s': selector 0x%02x is taken\n", svc->name, svc->id);
	return ret;
}
EXPORT_SYMBOL_GPL(upcall_register_service);

/**
 * upcall_unregister_service - remove a service
 * @svc: a service added with upcall_register_service()
 *
 * New connections can no longer select the service. Connections it is
 * serving are shut down, and the function returns only after every one of
 * its handlers has returned, so the caller may free @svc afterwards.
 */
void upcall_unregister_service(struct upcall_service *svc)
{
	struct upcall_conn *conn;

	mutex_lock(&upcall_lock);
	list_del(&svc->node);
	list_for_each_entry(conn, &upcall_conns, node) {
		if (conn->svc == svc)
			kernel_sock_shutdown(conn->sock, SHUT_RDWR);
	}
	mutex_unlock(&upcall_lock);

	wait_event(upcall_waitq, !READ_ONCE(svc->active));
}
EXPORT_SYMBOL_GPL(upcall_unregister_service);

/* Finds the service for @id and pins it for @conn */
static struct upcall_service *upcall_get_service(struct upcall_conn *conn,
						 u8 id)
{
	struct upcall_service *s, *found = NULL;

	mutex_lock(&upcall_lock);
	list_for_each_entry(s, &upcall_services, node) {
		if (s->id != id)
			continue;
		if (!upcall_stopping && try_module_get(s->owner)) {
			WRITE_ONCE(s->active, s->active + 1);
			conn->svc = s;
			found = s;
		}
		break;
	}
	mutex_unlock(&upcall_lock);
	return found;
}

static void upcall_put_service(struct upcall_conn *conn)
{
	struct upcall_service *svc = conn->svc;
	struct module *owner = svc->owner;

	mutex_lock(&upcall_lock);
	WRITE_ONCE(svc->active, svc->active - 1);
	conn->svc = NULL;
	mutex_unlock(&upcall_lock);
	wake_up(&upcall_waitq);
	module_put(owner);
}

static void upcall_conn_work(struct work_struct *work)
{
	struct upcall_conn *conn = container_of(work, struct upcall_conn, work);
	struct upcall_service *svc;
	u8 id;
	int ret;

	ret = upcall_recv_exact(conn->sock, &id, 1, UPCALL_SELECT_TIMEOUT);
	if (!ret)
		ret = upcall_conn_set_idle(conn, false, jiffies);
	if (ret) {
		pr_debug("CID %u: no service selector (%d)\n", conn->peer_cid, ret);
		goto out;
	}

	svc = upcall_get_service(conn, id);
	if (!svc) {
		pr_debug("CID %u: no service 0x%02x\n", conn->peer_cid, id);
		goto out;
	}

	pr_debug("CID %u: service '%s'\n", conn->peer_cid, svc->name);
	svc->handle(conn);
	upcall_put_service(conn);
out:
	mutex_lock(&upcall_lock);
	list_del(&conn->node);
	upcall_nr_conns--;
	if (conn->evicted)
		upcall_nr_evicted--;
	mutex_unlock(&upcall_lock);
	wake_up(&upcall_waitq);

	sock_release(conn->sock);
	kfree(conn);
}

/*
 * At max_conns: closes the connection that has waited longest for its
 * next message, so that a new one can be served. It keeps counting until
 * its work item ends. Returns false if every connection is busy.
 */
static bool upcall_evict_idlest(u32 new_cid)
{
	struct upcall_conn *conn, *idlest = NULL;

	lockdep_assert_held(&upcall_lock);

	list_for_each_entry(conn, &upcall_conns, node) {
		if (conn->idle && !conn->evicted &&
		    (!idlest || time_before(conn->idle_since, idlest->idle_since)))
			idlest = conn;
	}
	if (!idlest)
		return false;

	idlest->evicted = true;
	idlest->idle = false;
	upcall_nr_evicted++;
	kernel_sock_shutdown(idlest->sock, SHUT_RDWR);
	pr_notice_ratelimited("%u connections open: closing one from CID %u idle for %u s to serve a new one from CID %u\n",
			      max_conns, idlest->peer_cid,
			      jiffies_to_msecs(jiffies - idlest->idle_since) / 1000, new_cid);
	return true;
}

/* Takes over @sock: serves it or closes it */
static void upcall_conn_start(struct socket *sock)
{
	struct sockaddr_vm addr = { };
	struct upcall_conn *conn;
	int ret;

	ret = kernel_getpeername(sock, (struct sockaddr *)&addr);
	if (ret < 0)
		goto drop;

	if (!READ_ONCE(any_peer) && addr.svm_cid != VMADDR_CID_HOST) {
		pr_notice_ratelimited("refused connection from CID %u\n", addr.svm_cid);
		goto drop;
	}

	conn = kzalloc(sizeof(*conn), GFP_KERNEL);
	if (!conn)
		goto drop;
	conn->sock = sock;
	conn->peer_cid = addr.svm_cid;
	/* Until the selector arrives it counts as idle */
	conn->idle = true;
	conn->idle_since = jiffies;
	INIT_WORK(&conn->work, upcall_conn_work);

	mutex_lock(&upcall_lock);
	if (upcall_stopping ||
	    (upcall_nr_conns - upcall_nr_evicted >= max_conns &&
	     !upcall_evict_idlest(addr.svm_cid))) {
		mutex_unlock(&upcall_lock);
		pr_warn_ratelimited("%u connections busy, closing one from CID %u\n",
				    max_conns, addr.svm_cid);
		kfree(conn);
		goto drop;
	}
	upcall_nr_conns++;
	list_add_tail(&conn->node, &upcall_conns);
	mutex_unlock(&upcall_lock);

	queue_work(upcall_wq, &conn->work);
	return;

drop:
	sock_release(sock);
}

/*
 * The listener blocks in accept(). upcall_stop() interrupts it with a
 * kernel-only SIGKILL (user space cannot signal a kernel thread), so a
 * pending signal means "stop".
 */
static int upcall_listen_fn(void *data)
{
	struct socket *lsock = data;

	allow_signal(SIGKILL);

	while (!kthread_should_stop() && !signal_pending(current)) {
		struct socket *sock;
		int ret;

		ret = kernel_accept(lsock, &sock, 0);
		if (!ret) {
			upcall_conn_start(sock);
			continue;
		}
		if (signal_pending(current))
			break;
		/* Transient failure such as -ENOMEM: retry, but do not spin */
		pr_warn_ratelimited("accept failed: %d\n", ret);
		schedule_timeout_interruptible(HZ / 10);
	}

	flush_signals(current);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop())
			break;
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

static void upcall_stop(void)
{
	struct upcall_conn *conn;

	mutex_lock(&upcall_lock);
	upcall_stopping = true;
	mutex_unlock(&upcall_lock);

	if (upcall_listener) {
		send_sig(SIGKILL, upcall_listener, 1);
		kthread_stop(upcall_listener);
		upcall_listener = NULL;
	}

	/* No new connections now; end the ones being served */
	mutex_lock(&upcall_lock);
	list_for_each_entry(conn, &upcall_conns, node)
		kernel_sock_shutdown(conn->sock, SHUT_RDWR);
	mutex_unlock(&upcall_lock);

	if (upcall_wq) {
		destroy_workqueue(upcall_wq);
		upcall_wq = NULL;
	}
	WARN_ON(upcall_nr_conns);

	if (upcall_listen_sock) {
		sock_release(upcall_listen_sock);
		upcall_listen_sock = NULL;
	}
}

static int __init upcall_init(void)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = port,
	};
	struct task_struct *task;
	int ret;

	if (port == VMADDR_PORT_ANY) {
		pr_err("invalid port %u\n", port);
		return -EINVAL;
	}
	if (!max_conns) {
		pr_warn("max_conns=0 is invalid, using 1\n");
		max_conns = 1;
	}
	if (idle_timeout > UPCALL_MAX_IDLE_TIMEOUT) {
		idle_timeout = UPCALL_MAX_IDLE_TIMEOUT;
		pr_warn("idle_timeout out of range, using %u s\n", idle_timeout);
	}

	upcall_wq = alloc_workqueue("upcall", WQ_UNBOUND, max_conns);
	if (!upcall_wq)
		return -ENOMEM;

	ret = sock_create_kern(&init_net, AF_VSOCK, SOCK_STREAM, 0,
			       &upcall_listen_sock);
	if (ret) {
		pr_err("cannot create vsock socket: %d\n", ret);
		upcall_listen_sock = NULL;
		goto err;
	}

	ret = kernel_bind(upcall_listen_sock, (struct sockaddr *)&addr,
			  sizeof(addr));
	if (ret) {
		pr_err("cannot bind vsock port %u: %d\n", port, ret);
		goto err;
	}

	ret = kernel_listen(upcall_listen_sock, max_conns);
	if (ret) {
		pr_err("cannot listen on vsock port %u: %d\n", port, ret);
		goto err;
	}

	task = kthread_run(upcall_listen_fn, upcall_listen_sock, "upcall");
	if (IS_ERR(task)) {
		ret = PTR_ERR(task);
		goto err;
	}
	upcall_listener = task;

	pr_info("listening on vsock port %u\n", port);
	return 0;

err:
	upcall_stop();
	return ret;
}

static void __exit upcall_exit(void)
{
	upcall_stop();
}

/* After the vsock core, which registers AF_VSOCK from a device initcall */
late_initcall(upcall_init);
module_exit(upcall_exit);

MODULE_DESCRIPTION("Upcall server: vsock channel for requests from the VMM");
MODULE_LICENSE("GPL");

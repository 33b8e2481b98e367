// SPDX-License-Identifier: GPL-2.0
/* The vsock status service; see server.h. */
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "agent_proto.h"
#include "children.h"
#include "json.h"
#include "log.h"
#include "request.h"
#include "status.h"

enum client_state {
	C_READ,		/* waiting for the request line */
	C_EXEC,		/* exec request: command running */
	C_WRITE,	/* sending the reply */
	C_LINGER,	/* reboot: reply sent, waiting for the peer to close */
	C_DEAD,		/* closed; freed by its timer after this loop round */
};

struct client {
	struct watch sock;
	struct loop_timer timer;	/* the state's deadline */
	enum client_state state;
	unsigned int slot;
	unsigned int peer_cid, local_cid;
	char req[AGENT_REQ_MAX + 1];
	size_t req_len;
	char *reply;
	size_t reply_len, reply_off;
	bool reboot_after;
	struct exec_job job;
};

#define LINGER_MS 2000

static struct {
	struct loop *loop;
	const struct server_config *cfg;
	struct watch listener;
	struct client *clients[AGENT_MAX_CLIENTS];
} srv = { .listener = { .fd = -1 } };

static void set_state(struct client *c, enum client_state s,
		      unsigned long long timeout_ms)
{
	c->state = s;
	loop_timer_arm(&c->timer, timeout_ms);
}

/* Closes the connection; the memory goes after this loop round. */
static void client_kill(struct client *c)
{
	loop_close(&c->sock);
	set_state(c, C_DEAD, 0);
}

static void client_free(struct client *c)
{
	srv.clients[c->slot] = NULL;
	loop_timer_del(&c->timer);
	exec_release(&c->job);
	free(c->reply);
	free(c);
}

static void do_reboot(void)
{
	if (srv.cfg->reboot)
		srv.cfg->reboot();
}

/* Takes ownership of buf (malloc'd, NUL-terminated JSON without '\n'). */
static void client_reply(struct client *c, char *buf, size_t len)
{
	buf[len] = '\n';	/* callers leave room for it */
	c->reply = buf;
	c->reply_len = len + 1;
	c->reply_off = 0;
	set_state(c, C_WRITE, AGENT_REPLY_TIMEOUT_MS);
	if (loop_mod(&c->sock, EPOLLOUT) < 0)
		client_kill(c);
}

/* Replies {"ok":true} (key "ok") or {"<key>":"<msg>"}. */
static void reply_small(struct client *c, const char *key, const char *msg)
{
	size_t cap = jb_escaped_max(strlen(msg)) + 64;
	char *buf = malloc(cap);
	struct jbuf jb;
	long n;

	if (!buf) {
		log_errno("server: malloc");
		client_kill(c);
		return;
	}
	jb_init(&jb, buf, cap - 1);
	jb_obj_open(&jb);
	if (strcmp(key, "ok") == 0)
		jb_kv_bool(&jb, "ok", true);
	else
		jb_kv_str(&jb, key, msg);
	jb_obj_close(&jb);
	n = jb_finish(&jb);
	if (n < 0) {
		free(buf);
		client_kill(c);
		return;
	}
	client_reply(c, buf, (size_t)n);
}

static void reply_error(struct client *c, const char *msg)
{
	reply_small(c, "error", msg);
}

#define STATUS_MAX (64 * 1024)

static void do_status(struct client *c)
{
	char *buf = malloc(STATUS_MAX + 1);
	struct jbuf jb;
	long n;

	if (!buf) {
		log_errno("server: malloc");
		reply_error(c, "out of memory");
		return;
	}
	jb_init(&jb, buf, STATUS_MAX);
	n = status_build(&jb);
	if (n < 0) {
		free(buf);
		reply_error(c, "status does not fit in the reply");
		return;
	}
	client_reply(c, buf, (size_t)n);
}

static unsigned int running_execs(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < AGENT_MAX_CLIENTS; i++)
		if (srv.clients[i] && srv.clients[i]->state == C_EXEC)
			n++;
	return n;
}

static void exec_done(struct exec_job *job)
{
	struct client *c = container_of(job, struct client, job);
	size_t cap = jb_escaped_max(job->out_len) + 128;
	char *buf;
	struct jbuf jb;
	long n;

	/* the socket was taken out of the loop while the command ran */
	if (loop_add(srv.loop, &c->sock, EPOLLOUT) < 0) {
		client_kill(c);
		return;
	}
	buf = malloc(cap);
	if (!buf) {
		log_errno("server: malloc");
		exec_release(job);
		reply_error(c, "out of memory");
		return;
	}
	jb_init(&jb, buf, cap - 1);
	jb_obj_open(&jb);
	if (job->timed_out) {
		jb_kv_i64(&jb, "status", -1);
		jb_kv_bool(&jb, "timeout", true);
	} else {
		jb_kv_i64(&jb, "status", child_exit_code(job->wstatus));
		if (WIFSIGNALED(job->wstatus))
			jb_kv_i64(&jb, "signal", WTERMSIG(job->wstatus));
	}
	jb_kv_strn(&jb, "output", job->out, job->out_len);
	if (job->truncated)
		jb_kv_bool(&jb, "truncated", true);
	if (job->output_limit)
		jb_kv_bool(&jb, "output_limit", true);
	jb_obj_close(&jb);
	n = jb_finish(&jb);
	exec_release(job);
	if (n < 0) {
		free(buf);
		reply_error(c, "exec reply does not fit");
		return;
	}
	client_reply(c, buf, (size_t)n);
}

static void do_exec(struct client *c, const char *cmd, size_t len)
{
	if (!srv.cfg->exec_enabled) {
		reply_error(c, "exec is disabled (boot with agent.exec=1)");
		return;
	}
	if (running_execs() >= AGENT_MAX_EXECS) {
		reply_error(c, "too many exec requests running");
		return;
	}
	if (exec_start(srv.loop, &c->job, cmd, len, srv.cfg->exec_limits,
		       exec_done) < 0) {
		reply_error(c, "cannot start /bin/sh");
		return;
	}
	/* the socket is not watched while the command runs; the job has
	 * its own deadline */
	loop_del(&c->sock);
	c->state = C_EXEC;
	loop_timer_disarm(&c->timer);
}

static void dispatch(struct client *c, size_t len)
{
	struct request req;
	char why[192];

	request_parse(c->req, len, &req);
	if (req.kind == REQ_INVALID) {
		reply_error(c, req.error ? req.error : "invalid request");
		return;
	}
	if (request_refused(req.kind, c->peer_cid, c->local_cid,
			    srv.cfg->trust_local, why, sizeof(why))) {
		log_msg("server: refused %s from CID %u",
			req.kind == REQ_EXEC ? "exec" : "reboot", c->peer_cid);
		reply_error(c, why);
		return;
	}
	switch (req.kind) {
	case REQ_STATUS:
		do_status(c);
		return;
	case REQ_REBOOT:
		if (c->peer_cid == REQ_CID_HOST)
			log_msg("reboot requested by the host (CID 2)");
		else
			log_msg("reboot requested by guest-local CID %u",
				c->peer_cid);
		c->reboot_after = true;
		reply_small(c, "ok", "");
		return;
	case REQ_EXEC:
		do_exec(c, req.arg, req.arg_len);
		return;
	case REQ_INVALID:
		break;
	}
}

static void read_request(struct client *c)
{
	for (;;) {
		size_t room = AGENT_REQ_MAX - c->req_len;
		char *nl;
		ssize_t r;

		if (room == 0) {
			reply_error(c, "request too long");
			return;
		}
		r = read(c->sock.fd, c->req + c->req_len, room);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				client_kill(c);
			return;
		}
		if (r == 0) {
			/* a last line without '\n' still counts */
			if (c->req_len > 0)
				dispatch(c, c->req_len);
			else
				client_kill(c);
			return;
		}
		nl = memchr(c->req + c->req_len, '\n', (size_t)r);
		c->req_len += (size_t)r;
		if (nl) {
			dispatch(c, (size_t)(nl - c->req));
			return;
		}
	}
}

/* The reply is out, or cannot be delivered: a reboot happens either way. */
static void end_reply(struct client *c, bool delivered)
{
	if (!c->reboot_after) {
		client_kill(c);
		return;
	}
	/* let the reply reach the host before the VM goes away */
	if (!delivered || shutdown(c->sock.fd, SHUT_WR) < 0 ||
	    loop_mod(&c->sock, EPOLLIN | EPOLLRDHUP) < 0) {
		client_kill(c);
		do_reboot();
		return;
	}
	set_state(c, C_LINGER, LINGER_MS);
}

static void write_reply(struct client *c)
{
	while (c->reply_off < c->reply_len) {
		ssize_t w = write(c->sock.fd, c->reply + c->reply_off,
				  c->reply_len - c->reply_off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			/* the peer went away */
			end_reply(c, false);
			return;
		}
		c->reply_off += (size_t)w;
	}
	end_reply(c, true);
}

static void on_sock(struct watch *w, uint32_t events)
{
	struct client *c = container_of(w, struct client, sock);
	char junk[256];

	(void)events;
	switch (c->state) {
	case C_READ:
		read_request(c);
		break;
	case C_WRITE:
		write_reply(c);
		break;
	case C_LINGER:
		/* anything but "no data yet" ends the wait */
		if (read(c->sock.fd, junk, sizeof(junk)) < 0 &&
		    (errno == EAGAIN || errno == EINTR))
			break;
		client_kill(c);
		do_reboot();
		break;
	case C_EXEC:
	case C_DEAD:
		break;
	}
}

static void on_timer(struct loop_timer *t, unsigned long long now)
{
	struct client *c = container_of(t, struct client, timer);

	(void)now;
	switch (c->state) {
	case C_READ:
		reply_error(c, "timed out waiting for the request line");
		break;
	case C_WRITE:
		end_reply(c, false);
		break;
	case C_LINGER:
		client_kill(c);
		do_reboot();
		break;
	case C_DEAD:
		client_free(c);
		break;
	case C_EXEC:
		break;	/* the job's own deadline ends it */
	}
}

static void accept_one(int fd, const struct sockaddr_vm *peer)
{
	struct sockaddr_vm local;
	socklen_t len = sizeof(local);
	struct client *c;
	unsigned int i;

	for (i = 0; i < AGENT_MAX_CLIENTS; i++)
		if (!srv.clients[i])
			break;
	if (i == AGENT_MAX_CLIENTS) {
		log_msg("server: %d clients already, connection refused",
			AGENT_MAX_CLIENTS);
		if (close(fd) < 0)
			log_errno("server: close");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		log_errno("server: calloc");
		if (close(fd) < 0)
			log_errno("server: close");
		return;
	}
	c->slot = i;
	c->peer_cid = peer->svm_cid;
	/* the guest's own CID when a guest process connected to it */
	c->local_cid = VMADDR_CID_ANY;
	if (getsockname(fd, (struct sockaddr *)&local, &len) == 0 &&
	    len >= sizeof(local) && local.svm_family == AF_VSOCK)
		c->local_cid = local.svm_cid;
	c->sock.fd = fd;
	c->sock.fn = on_sock;
	c->job.pipe.fd = -1;
	loop_timer_add(srv.loop, &c->timer, on_timer);
	set_state(c, C_READ, AGENT_REQ_TIMEOUT_MS);
	srv.clients[i] = c;
	if (loop_add(srv.loop, &c->sock, EPOLLIN | EPOLLRDHUP) < 0)
		client_kill(c);
}

/* connections taken per callback: a flood cannot hold the loop */
#define ACCEPT_BATCH 16

static void on_listener(struct watch *w, uint32_t events)
{
	int n;

	(void)events;
	for (n = 0; n < ACCEPT_BATCH; n++) {
		struct sockaddr_vm peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(w->fd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_errno("server: accept");
			return;
		}
		if (len < sizeof(peer) || peer.svm_family != AF_VSOCK) {
			/* no CID known: treat it as nobody's */
			peer.svm_cid = VMADDR_CID_ANY;
		}
		accept_one(fd, &peer);
	}
}

int server_init(struct loop *l, const struct server_config *cfg)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = AGENT_STATUS_PORT,
	};

	srv.loop = l;
	srv.cfg = cfg;
	srv.listener.fn = on_listener;
	srv.listener.fd = socket(AF_VSOCK,
				 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv.listener.fd < 0) {
		log_errno("server: vsock socket");
		return -1;
	}
	if (bind(srv.listener.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		log_msg("server: bind vsock port %d: %s", AGENT_STATUS_PORT,
			strerror(errno));
		goto fail;
	}
	if (listen(srv.listener.fd, AGENT_MAX_CLIENTS) < 0) {
		log_errno("server: listen");
		goto fail;
	}
	if (loop_add(l, &srv.listener, EPOLLIN) < 0)
		goto fail;
	return 0;
fail:
	loop_close(&srv.listener);
	return -1;
}

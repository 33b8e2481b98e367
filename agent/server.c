// SPDX-License-Identifier: GPL-2.0
/*
 * The vsock status service: one request line per connection, one JSON
 * reply line, then close. Every client is a small state machine driven by
 * the event loop with a deadline in each state, so a silent or slow peer
 * never holds up PID 1, and an exec request runs while others are served.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "agent.h"
#include "fdio.h"
#include "json.h"
#include "log.h"
#include "request.h"

enum client_state {
	C_READ,		/* waiting for the request line */
	C_EXEC,		/* exec request: shell running */
	C_WRITE,	/* sending the reply */
	C_LINGER,	/* reboot: reply sent, waiting for the peer to close */
	C_DEAD,		/* closed, freed in server_tick() */
};

struct client {
	struct watch sock;
	enum client_state state;
	unsigned long long deadline;
	char req[AGENT_REQ_MAX + 1];
	size_t req_len;
	char *reply;
	size_t reply_len, reply_off;
	bool reboot_after;

	/* exec */
	struct watch pipe;
	pid_t pid;
	char *out;
	size_t out_len;
	bool truncated;
};

#define CLIENT_OF(w, member) \
	((struct client *)(void *)((char *)(w) - offsetof(struct client, member)))

#define LINGER_MS 2000

static unsigned int running_execs(struct agent *ag)
{
	unsigned int i, n = 0;

	for (i = 0; i < AGENT_MAX_CLIENTS; i++)
		if (ag->clients[i] && ag->clients[i]->state == C_EXEC)
			n++;
	return n;
}

static void close_watch(struct agent *ag, struct watch *w)
{
	if (w->fd < 0)
		return;
	loop_del(ag, w);
	if (close(w->fd) < 0)
		log_errno("server: close");
	w->fd = -1;
}

static void client_kill(struct agent *ag, struct client *c)
{
	close_watch(ag, &c->sock);
	close_watch(ag, &c->pipe);
	c->state = C_DEAD;
}

static void on_sock(struct agent *ag, struct watch *w, uint32_t events);

/* Takes ownership of buf (malloc'd, NUL-terminated JSON without '\n'). */
static void client_reply(struct agent *ag, struct client *c, char *buf,
			 size_t len)
{
	buf[len] = '\n';	/* callers leave room for it */
	c->reply = buf;
	c->reply_len = len + 1;
	c->reply_off = 0;
	c->state = C_WRITE;
	c->deadline = now_ms() + AGENT_REPLY_TIMEOUT_MS;
	if (loop_mod(ag, &c->sock, EPOLLOUT) < 0)
		client_kill(ag, c);
}

/* Replies {"ok":true} (key "ok") or {"<key>":"<msg>"}. */
static void reply_small(struct agent *ag, struct client *c, const char *key,
			const char *msg)
{
	size_t cap = jb_escaped_max(strlen(msg)) + 64;
	char *buf = malloc(cap);
	struct jbuf jb;
	long n;

	if (!buf) {
		log_errno("server: malloc");
		client_kill(ag, c);
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
		client_kill(ag, c);
		return;
	}
	client_reply(ag, c, buf, (size_t)n);
}

static void reply_error(struct agent *ag, struct client *c, const char *msg)
{
	reply_small(ag, c, "error", msg);
}

#define STATUS_MAX (64 * 1024)

static void do_status(struct agent *ag, struct client *c)
{
	char *buf = malloc(STATUS_MAX + 1);
	struct jbuf jb;
	long n;

	if (!buf) {
		log_errno("server: malloc");
		reply_error(ag, c, "out of memory");
		return;
	}
	jb_init(&jb, buf, STATUS_MAX);
	n = status_build(&jb);
	if (n < 0) {
		free(buf);
		reply_error(ag, c, "status does not fit in the reply");
		return;
	}
	client_reply(ag, c, buf, (size_t)n);
}

static void on_pipe(struct agent *ag, struct watch *w, uint32_t events);

static void do_exec(struct agent *ag, struct client *c, const char *cmd,
		    size_t len)
{
	if (!ag->cfg.exec_enabled) {
		reply_error(ag, c, "exec is disabled (boot with agent.exec=1)");
		return;
	}
	if (running_execs(ag) >= AGENT_MAX_EXECS) {
		reply_error(ag, c, "too many exec requests running");
		return;
	}
	c->out = malloc(AGENT_EXEC_OUTPUT_MAX);
	if (!c->out) {
		log_errno("server: malloc");
		reply_error(ag, c, "out of memory");
		return;
	}
	c->pid = exec_spawn(cmd, len, &c->pipe.fd);
	if (c->pid < 0) {
		reply_error(ag, c, "cannot start /bin/sh");
		return;
	}
	c->pipe.fn = on_pipe;
	if (loop_add(ag, &c->pipe, EPOLLIN) < 0) {
		/* no output then, but the exit status still comes */
		if (close(c->pipe.fd) < 0)
			log_errno("server: close");
		c->pipe.fd = -1;
	}
	/* the socket is not watched while the command runs */
	loop_del(ag, &c->sock);
	c->state = C_EXEC;
	c->deadline = now_ms() + AGENT_EXEC_TIMEOUT_MS;
}

static void dispatch(struct agent *ag, struct client *c, size_t len)
{
	struct request req;

	request_parse(c->req, len, &req);
	switch (req.kind) {
	case REQ_STATUS:
		do_status(ag, c);
		return;
	case REQ_REBOOT:
		c->reboot_after = true;
		reply_small(ag, c, "ok", "");
		return;
	case REQ_EXEC:
		do_exec(ag, c, req.arg, req.arg_len);
		return;
	case REQ_INVALID:
		break;
	}
	reply_error(ag, c, req.error ? req.error : "invalid request");
}

static void read_request(struct agent *ag, struct client *c)
{
	for (;;) {
		size_t room = AGENT_REQ_MAX - c->req_len;
		char *nl;
		ssize_t r;

		if (room == 0) {
			reply_error(ag, c, "request too long");
			return;
		}
		r = read(c->sock.fd, c->req + c->req_len, room);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				client_kill(ag, c);
			return;
		}
		if (r == 0) {
			/* a last line without '\n' still counts */
			if (c->req_len > 0)
				dispatch(ag, c, c->req_len);
			else
				client_kill(ag, c);
			return;
		}
		nl = memchr(c->req + c->req_len, '\n', (size_t)r);
		c->req_len += (size_t)r;
		if (nl) {
			dispatch(ag, c, (size_t)(nl - c->req));
			return;
		}
	}
}

static void finish_write(struct agent *ag, struct client *c)
{
	if (!c->reboot_after) {
		client_kill(ag, c);
		return;
	}
	/* let the reply reach the host before the VM goes away */
	if (shutdown(c->sock.fd, SHUT_WR) < 0 ||
	    loop_mod(ag, &c->sock, EPOLLIN | EPOLLRDHUP) < 0) {
		client_kill(ag, c);
		ag->reboot_requested = true;
		return;
	}
	c->state = C_LINGER;
	c->deadline = now_ms() + LINGER_MS;
}

static void write_reply(struct agent *ag, struct client *c)
{
	while (c->reply_off < c->reply_len) {
		ssize_t w = write(c->sock.fd, c->reply + c->reply_off,
				  c->reply_len - c->reply_off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			/* the peer went away; a reboot still happens */
			if (c->reboot_after)
				ag->reboot_requested = true;
			client_kill(ag, c);
			return;
		}
		c->reply_off += (size_t)w;
	}
	finish_write(ag, c);
}

static void on_sock(struct agent *ag, struct watch *w, uint32_t events)
{
	struct client *c = CLIENT_OF(w, sock);
	char junk[256];

	(void)events;
	switch (c->state) {
	case C_READ:
		read_request(ag, c);
		break;
	case C_WRITE:
		write_reply(ag, c);
		break;
	case C_LINGER:
		/* anything but "no data yet" ends the wait */
		if (read(c->sock.fd, junk, sizeof(junk)) < 0 &&
		    (errno == EAGAIN || errno == EINTR))
			break;
		client_kill(ag, c);
		ag->reboot_requested = true;
		break;
	case C_EXEC:
	case C_DEAD:
		break;
	}
}

/* Reads what the command wrote; keeps the first AGENT_EXEC_OUTPUT_MAX bytes. */
static void drain_pipe(struct agent *ag, struct client *c)
{
	char discard[4096];

	while (c->pipe.fd >= 0) {
		size_t room = AGENT_EXEC_OUTPUT_MAX - c->out_len;
		ssize_t r;

		if (room)
			r = read(c->pipe.fd, c->out + c->out_len, room);
		else	/* keep the pipe flowing so the command never blocks */
			r = read(c->pipe.fd, discard, sizeof(discard));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_errno("exec: read");
			if (errno == EAGAIN)
				return;
			close_watch(ag, &c->pipe);
			return;
		}
		if (r == 0) {
			close_watch(ag, &c->pipe);
			return;
		}
		if (room)
			c->out_len += (size_t)r;
		else
			c->truncated = true;
	}
}

static void on_pipe(struct agent *ag, struct watch *w, uint32_t events)
{
	(void)events;
	drain_pipe(ag, CLIENT_OF(w, pipe));
}

static void exec_reply(struct agent *ag, struct client *c, int wstatus,
		       bool timed_out)
{
	size_t cap = jb_escaped_max(c->out_len) + 128;
	char *buf;
	struct jbuf jb;
	long n;

	drain_pipe(ag, c);
	/* a background child may hold the pipe open: we do not wait for it */
	close_watch(ag, &c->pipe);
	c->pid = 0;
	/* the socket was taken out of the loop while the command ran */
	if (loop_add(ag, &c->sock, EPOLLOUT) < 0) {
		client_kill(ag, c);
		return;
	}
	buf = malloc(cap);
	if (!buf) {
		log_errno("server: malloc");
		free(c->out);
		c->out = NULL;
		reply_error(ag, c, "out of memory");
		return;
	}
	jb_init(&jb, buf, cap - 1);
	jb_obj_open(&jb);
	if (timed_out) {
		jb_kv_i64(&jb, "status", -1);
		jb_kv_bool(&jb, "timeout", true);
	} else {
		jb_kv_i64(&jb, "status", child_exit_code(wstatus));
		if (WIFSIGNALED(wstatus))
			jb_kv_i64(&jb, "signal", WTERMSIG(wstatus));
	}
	jb_kv_strn(&jb, "output", c->out, c->out_len);
	if (c->truncated)
		jb_kv_bool(&jb, "truncated", true);
	jb_obj_close(&jb);
	n = jb_finish(&jb);
	free(c->out);
	c->out = NULL;
	if (n < 0) {
		free(buf);
		reply_error(ag, c, "exec reply does not fit");
		return;
	}
	client_reply(ag, c, buf, (size_t)n);
}

bool server_child_exited(struct agent *ag, pid_t pid, int wstatus)
{
	unsigned int i;

	for (i = 0; i < AGENT_MAX_CLIENTS; i++) {
		struct client *c = ag->clients[i];

		if (c && c->state == C_EXEC && c->pid == pid) {
			exec_reply(ag, c, wstatus, false);
			return true;
		}
	}
	return false;
}

static void client_free(struct agent *ag, unsigned int i)
{
	struct client *c = ag->clients[i];

	free(c->reply);
	free(c->out);
	free(c);
	ag->clients[i] = NULL;
}

static void on_timeout(struct agent *ag, struct client *c)
{
	switch (c->state) {
	case C_READ:
		reply_error(ag, c, "timed out waiting for the request line");
		break;
	case C_EXEC:
		log_msg("exec: timed out after %d ms, killing process group %d",
			AGENT_EXEC_TIMEOUT_MS, (int)c->pid);
		if (kill(-c->pid, SIGKILL) < 0)
			log_errno("exec: kill");
		/* the reaper collects it later; it is no longer ours */
		exec_reply(ag, c, 0, true);
		break;
	case C_WRITE:
		if (c->reboot_after)
			ag->reboot_requested = true;
		client_kill(ag, c);
		break;
	case C_LINGER:
		client_kill(ag, c);
		ag->reboot_requested = true;
		break;
	case C_DEAD:
		break;
	}
}

unsigned long long server_next_deadline(struct agent *ag)
{
	unsigned long long next = 0;
	unsigned int i;

	for (i = 0; i < AGENT_MAX_CLIENTS; i++) {
		struct client *c = ag->clients[i];

		if (!c)
			continue;
		if (c->state == C_DEAD)
			return 1;	/* free it right away */
		if (!next || c->deadline < next)
			next = c->deadline;
	}
	return next;
}

void server_tick(struct agent *ag, unsigned long long now)
{
	unsigned int i;

	for (i = 0; i < AGENT_MAX_CLIENTS; i++) {
		struct client *c = ag->clients[i];

		if (c && c->state != C_DEAD && now >= c->deadline)
			on_timeout(ag, c);
		if (c && c->state == C_DEAD)
			client_free(ag, i);
	}
	if (ag->reboot_requested) {
		ag->reboot_requested = false;
		power_reboot();
	}
}

static void accept_one(struct agent *ag, int fd)
{
	struct client *c;
	unsigned int i;

	for (i = 0; i < AGENT_MAX_CLIENTS; i++)
		if (!ag->clients[i])
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
	c->sock.fd = fd;
	c->sock.fn = on_sock;
	c->pipe.fd = -1;
	c->state = C_READ;
	c->deadline = now_ms() + AGENT_REQ_TIMEOUT_MS;
	if (loop_add(ag, &c->sock, EPOLLIN | EPOLLRDHUP) < 0) {
		if (close(fd) < 0)
			log_errno("server: close");
		free(c);
		return;
	}
	ag->clients[i] = c;
}

static void on_listener(struct agent *ag, struct watch *w, uint32_t events)
{
	(void)events;
	for (;;) {
		int fd = accept4(w->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_errno("server: accept");
			return;
		}
		accept_one(ag, fd);
	}
}

int server_init(struct agent *ag)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = AGENT_STATUS_PORT,
	};

	ag->listener.fn = on_listener;
	ag->listener.fd = socket(AF_VSOCK,
				 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ag->listener.fd < 0) {
		log_errno("server: vsock socket");
		return -1;
	}
	if (bind(ag->listener.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		log_msg("server: bind vsock port %d: %s", AGENT_STATUS_PORT,
			strerror(errno));
		goto fail;
	}
	if (listen(ag->listener.fd, AGENT_MAX_CLIENTS) < 0) {
		log_errno("server: listen");
		goto fail;
	}
	if (loop_add(ag, &ag->listener, EPOLLIN) < 0)
		goto fail;
	return 0;
fail:
	if (close(ag->listener.fd) < 0)
		log_errno("server: close");
	ag->listener.fd = -1;
	return -1;
}

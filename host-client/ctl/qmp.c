// SPDX-License-Identifier: MIT
/*
 * QMP client. Messages are JSON objects separated by newlines; each one is
 * parsed with json-c, never matched as text. Replies are matched to
 * commands by "id"; asynchronous events that arrive meanwhile are kept so
 * that qmp_wait_event() can find them later.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../lib/fdwait.h"
#include "qmp.h"

/* QEMU's replies (query-qmp-schema aside) stay far below this. */
#define QMP_MAX_LINE (4u << 20)

struct qmp {
	int fd;
	int timeout_ms;
	unsigned int next_id;
	char *buf;
	size_t len, cap;
	json_object *events; /* array of received, not yet consumed events */
	char err[512];
	char err_class[64];
	/* The connection failed (closed, I/O error): a holder reconnects. */
	bool broken;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct qmp *q, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->err, sizeof(q->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *qmp_last_error(const struct qmp *q)
{
	return q->err;
}

const char *qmp_last_error_class(const struct qmp *q)
{
	return q->err_class;
}

bool qmp_is_broken(const struct qmp *q)
{
	return q->broken;
}

void qmp_drop_events(struct qmp *q)
{
	json_object_put(q->events);
	q->events = json_object_new_array();
}

static int send_all(struct qmp *q, const char *s, size_t len, int64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(q->fd, s + done, len - done,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		int err;

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			q->broken = true;
			return fail(q, -errno, "QMP send: %s", strerror(errno));
		}
		err = uc_wait_fd(q->fd, POLLOUT, deadline);
		if (err) {
			/* A command half sent: the stream is out of step. */
			if (done)
				q->broken = true;
			return fail(q, err, "QMP send: %s", strerror(-err));
		}
	}
	return 0;
}

/* Read the next JSON object (one line) into *obj before the deadline. */
static int read_message(struct qmp *q, json_object **obj, int64_t deadline)
{
	for (;;) {
		char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		ssize_t n;
		int err;

		if (nl) {
			size_t line_len = (size_t)(nl - q->buf);
			struct json_tokener *tok;
			enum json_tokener_error jerr;

			bool blank = true;

			for (size_t i = 0; i < line_len; i++)
				if (q->buf[i] != ' ' && q->buf[i] != '\r' &&
				    q->buf[i] != '\t')
					blank = false;
			if (blank) {
				memmove(q->buf, nl + 1, q->len - line_len - 1);
				q->len -= line_len + 1;
				continue;
			}
			tok = json_tokener_new();
			if (!tok)
				return fail(q, -ENOMEM, "out of memory");
			*obj = json_tokener_parse_ex(tok, q->buf, (int)line_len);
			jerr = json_tokener_get_error(tok);
			json_tokener_free(tok);
			memmove(q->buf, nl + 1, q->len - line_len - 1);
			q->len -= line_len + 1;
			if (jerr != json_tokener_success || !*obj ||
			    !json_object_is_type(*obj, json_type_object)) {
				json_object_put(*obj);
				*obj = NULL;
				return fail(q, -EPROTO, "QMP: malformed message (%s)",
					    json_tokener_error_desc(jerr));
			}
			return 0;
		}
		if (q->len >= QMP_MAX_LINE) {
			/* Its rest is still to come: the stream is out of
			 * step for good, and the buffer stays full. */
			q->broken = true;
			return fail(q, -EMSGSIZE, "QMP: message longer than %u bytes",
				    QMP_MAX_LINE);
		}
		if (q->cap - q->len < 4096) {
			size_t cap = q->cap ? q->cap * 2 : 8192;
			char *b = realloc(q->buf, cap);

			if (!b)
				return fail(q, -ENOMEM, "out of memory");
			q->buf = b;
			q->cap = cap;
		}
		n = recv(q->fd, q->buf + q->len, q->cap - q->len, MSG_DONTWAIT);
		if (n > 0) {
			q->len += (size_t)n;
			continue;
		}
		if (n == 0) {
			q->broken = true;
			return fail(q, -ECONNRESET, "QMP: connection closed by QEMU");
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			q->broken = true;
			return fail(q, -errno, "QMP receive: %s", strerror(errno));
		}
		err = uc_wait_fd(q->fd, POLLIN, deadline);
		if (err == -ETIMEDOUT)
			return fail(q, err, "QMP: no answer within %d ms",
				    q->timeout_ms);
		if (err)
			return fail(q, err, "QMP poll: %s", strerror(-err));
	}
}

static void keep_event(struct qmp *q, json_object *msg)
{
	json_object_array_add(q->events, msg);
}

int qmp_execute(struct qmp *q, const char *cmd, json_object *args,
		json_object **ret)
{
	int64_t deadline = uc_now_ms() + q->timeout_ms;
	json_object *req = json_object_new_object();
	unsigned int id = ++q->next_id;
	const char *text;
	char *line;
	int err;

	if (ret)
		*ret = NULL;
	q->err[0] = '\0';
	q->err_class[0] = '\0';
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", args);
	json_object_object_add(req, "id", json_object_new_int64(id));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (asprintf(&line, "%s\n", text) < 0) {
		json_object_put(req);
		return fail(q, -ENOMEM, "out of memory");
	}
	json_object_put(req);
	err = send_all(q, line, strlen(line), deadline);
	free(line);
	if (err)
		return err;

	for (;;) {
		json_object *msg, *v, *mid;

		err = read_message(q, &msg, deadline);
		if (err) {
			if (err == -ETIMEDOUT)
				fail(q, err, "QMP %s: no reply within %d ms", cmd,
				     q->timeout_ms);
			return err;
		}
		if (json_object_object_get_ex(msg, "event", NULL)) {
			keep_event(q, msg);
			continue;
		}
		/* A reply to some other command (not ours): ignore it. */
		if (!json_object_object_get_ex(msg, "id", &mid) ||
		    json_object_get_int64(mid) != (int64_t)id) {
			json_object_put(msg);
			continue;
		}
		if (json_object_object_get_ex(msg, "return", &v)) {
			if (ret)
				*ret = json_object_get(v);
			json_object_put(msg);
			return 0;
		}
		if (json_object_object_get_ex(msg, "error", &v)) {
			json_object *cls, *desc;
			const char *d = "unknown error";

			if (json_object_object_get_ex(v, "desc", &desc) &&
			    json_object_is_type(desc, json_type_string))
				d = json_object_get_string(desc);
			if (json_object_object_get_ex(v, "class", &cls) &&
			    json_object_is_type(cls, json_type_string))
				snprintf(q->err_class, sizeof(q->err_class), "%s",
					 json_object_get_string(cls));
			fail(q, -EREMOTEIO, "QMP %s: %s", cmd, d);
			json_object_put(msg);
			return -EREMOTEIO;
		}
		json_object_put(msg);
		return fail(q, -EPROTO, "QMP %s: reply has neither return nor error", cmd);
	}
}

static bool event_matches(json_object *ev, const char *name, const char *device)
{
	json_object *e, *data, *dev;

	if (!json_object_object_get_ex(ev, "event", &e) ||
	    !json_object_is_type(e, json_type_string) ||
	    strcmp(json_object_get_string(e), name) != 0)
		return false;
	if (!device)
		return true;
	if (!json_object_object_get_ex(ev, "data", &data))
		return false;
	/* Devices with an id are named by it; others by their QOM path. */
	if (json_object_object_get_ex(data, "device", &dev) &&
	    json_object_is_type(dev, json_type_string) &&
	    strcmp(json_object_get_string(dev), device) == 0)
		return true;
	return json_object_object_get_ex(data, "path", &dev) &&
	       json_object_is_type(dev, json_type_string) &&
	       strcmp(json_object_get_string(dev), device) == 0;
}

int qmp_wait_event(struct qmp *q, const char *name, const char *device,
		   int timeout_ms)
{
	int64_t deadline = uc_now_ms() + timeout_ms;

	for (size_t i = 0; i < json_object_array_length(q->events); i++) {
		if (event_matches(json_object_array_get_idx(q->events, i), name,
				  device)) {
			json_object_array_del_idx(q->events, i, 1);
			return 0;
		}
	}
	for (;;) {
		json_object *msg;
		int err = read_message(q, &msg, deadline);

		if (err == -ETIMEDOUT)
			return fail(q, err, "QMP: no %s event for %s within %d ms",
				    name, device ? device : "any device", timeout_ms);
		if (err)
			return err;
		if (event_matches(msg, name, device)) {
			json_object_put(msg);
			return 0;
		}
		if (json_object_object_get_ex(msg, "event", NULL))
			keep_event(q, msg);
		else
			json_object_put(msg);
	}
}

/*
 * Before a device_del of id: forget every DEVICE_DELETED for id QEMU has
 * sent so far, queued or still unread in the socket. Such an event
 * answers an earlier device_del of the same name (one nobody waited for,
 * or whose wait timed out) and must not answer this one's wait: the
 * device under that name now may be a new one QEMU still holds. QMP
 * keeps order on the stream, so any event for this removal comes after
 * what is read here.
 */
static void drop_device_deleted(struct qmp *q, const char *id)
{
	json_object *msg;
	int err;

	/* Deadline 0: only what is already there, no wait. A malformed line
	 * is consumed by read_message(), so the loop always moves on. */
	while ((err = read_message(q, &msg, 0)) != -ETIMEDOUT) {
		if (err == -EPROTO)
			continue;
		if (err)
			break; /* the device_del itself reports it */
		if (json_object_object_get_ex(msg, "event", NULL))
			keep_event(q, msg);
		else
			json_object_put(msg); /* a late reply to an earlier id */
	}
	for (size_t i = json_object_array_length(q->events); i-- > 0;)
		if (event_matches(json_object_array_get_idx(q->events, i),
				  "DEVICE_DELETED", id))
			json_object_array_del_idx(q->events, i, 1);
	q->err[0] = '\0';
}

int qmp_device_del(struct qmp *q, const char *id)
{
	json_object *args = json_object_new_object();

	drop_device_deleted(q, id);

	json_object_object_add(args, "id", json_object_new_string(id));
	return qmp_execute(q, "device_del", args, NULL);
}

int qmp_device_del_wait(struct qmp *q, const char *id, int wait_ms)
{
	int err = qmp_device_del(q, id);

	if (err)
		return err;
	if (wait_ms <= 0 || qmp_wait_event(q, "DEVICE_DELETED", id, wait_ms))
		return -ETIMEDOUT;
	return 0;
}

struct qmp *qmp_open(const char *path, int timeout_ms, int *err,
		     char *errbuf, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = uc_now_ms() + timeout_ms;
	struct qmp *q;
	json_object *greeting = NULL;
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		*err = -ENAMETOOLONG;
		snprintf(errbuf, errlen, "%s: QMP socket path too long", path);
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*err = -errno;
		snprintf(errbuf, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	/* A Unix stream connect completes at once or fails (EAGAIN: the
	 * listener's backlog is full, as when QEMU serves another client). */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || uc_now_ms() >= deadline) {
			*err = errno == EAGAIN ? -ETIMEDOUT : -errno;
			snprintf(errbuf, errlen, "%s: QMP connect: %s", path,
				 strerror(-*err));
			close(fd);
			return NULL;
		}
		nanosleep(&ts, NULL);
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		close(fd);
		*err = -ENOMEM;
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	q->fd = fd;
	q->timeout_ms = timeout_ms;
	q->events = json_object_new_array();

	e = read_message(q, &greeting, deadline);
	if (!e && !json_object_object_get_ex(greeting, "QMP", NULL))
		e = fail(q, -EPROTO, "%s: not a QMP greeting", path);
	json_object_put(greeting);
	if (!e)
		e = qmp_execute(q, "qmp_capabilities", NULL, NULL);
	if (e) {
		*err = e;
		snprintf(errbuf, errlen, "%s: %s", path, q->err);
		qmp_close(q);
		return NULL;
	}
	*err = 0;
	return q;
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	close(q->fd);
	free(q->buf);
	json_object_put(q->events);
	free(q);
}

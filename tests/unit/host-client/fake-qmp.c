// SPDX-License-Identifier: MIT
/*
 * Fake QEMU QMP server: enough of query-hotpluggable-cpus, device_add,
 * device_del, qom-get and events to test upcall-ctl's vCPU logic, with a
 * log of the commands that changed something.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json.h>

#include "fake.h"

static int bits_for(int count)
{
	int b = 0;

	while ((1 << b) < count)
		b++;
	return b;
}

long fake_qmp_apic(const struct fake_qmp *q, const struct fake_qmp_slot *s)
{
	int tb = bits_for(q->threads), cb = bits_for(q->cores), db = bits_for(q->dies);

	return ((long)s->socket << (tb + cb + db)) | ((long)(s->die < 0 ? 0 : s->die) << (tb + cb)) |
	       ((long)s->core << tb) | s->thread;
}

void fake_qmp_init(struct fake_qmp *q, unsigned int nslots)
{
	memset(q, 0, sizeof(*q));
	q->cores = q->threads = q->dies = 1;
	q->nslots = nslots;
	for (unsigned int i = 0; i < nslots; i++) {
		q->slots[i].socket = (int)i;
		q->slots[i].die = -1;
	}
	q->slots[0].plugged = true;
	q->fd = -1;
	pthread_mutex_init(&q->lock, NULL);
}

static void send_obj(int fd, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s);

	/* QEMU ends its messages with CRLF. */
	if (send(fd, s, len, MSG_NOSIGNAL) != (ssize_t)len ||
	    send(fd, "\r\n", 2, MSG_NOSIGNAL) != 2)
		return;
}

static void send_event(int fd, const char *name, json_object *data)
{
	json_object *ev = json_object_new_object();

	json_object_object_add(ev, "event", json_object_new_string(name));
	json_object_object_add(ev, "data", data ? data : json_object_new_object());
	send_obj(fd, ev);
	json_object_put(ev);
}

static void send_return(int fd, json_object *id, json_object *ret)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "return", ret ? ret : json_object_new_object());
	if (id)
		json_object_object_add(o, "id", json_object_get(id));
	send_obj(fd, o);
	json_object_put(o);
}

static void send_error(int fd, json_object *id, const char *cls, const char *desc)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(o, "error", e);
	if (id)
		json_object_object_add(o, "id", json_object_get(id));
	send_obj(fd, o);
	json_object_put(o);
}

static void slot_path(const struct fake_qmp_slot *s, unsigned int i, char *buf, size_t len)
{
	if (s->hot)
		snprintf(buf, len, "/machine/peripheral/%s", s->id);
	else
		snprintf(buf, len, "/machine/unattached/device[%u]", i);
}

static void logf_(struct fake_qmp *q, const char *s)
{
	pthread_mutex_lock(&q->lock);
	if (q->nlog < FAKE_QMP_LOG)
		snprintf(q->log[q->nlog++], sizeof(q->log[0]), "%s", s);
	pthread_mutex_unlock(&q->lock);
}

static int arg_int(json_object *args, const char *k, int dflt)
{
	json_object *v;

	if (json_object_object_get_ex(args, k, &v) && json_object_is_type(v, json_type_int))
		return json_object_get_int(v);
	return dflt;
}

static const char *arg_str(json_object *args, const char *k)
{
	json_object *v;

	if (json_object_object_get_ex(args, k, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "";
}

static void handle(struct fake_qmp *q, int fd, json_object *msg, unsigned int *adds)
{
	json_object *id = NULL, *args = NULL, *x;
	const char *cmd = "";
	char path[128], line[160];

	json_object_object_get_ex(msg, "id", &id);
	json_object_object_get_ex(msg, "arguments", &args);
	if (json_object_object_get_ex(msg, "execute", &x))
		cmd = json_object_get_string(x);
	if (!strcmp(cmd, "qmp_capabilities")) {
		send_return(fd, id, NULL);
		return;
	}
	if (q->silent)
		return;
	if (q->events) {
		send_event(fd, "RTC_CHANGE", NULL);
		json_object *d = json_object_new_object();

		json_object_object_add(d, "device", json_object_new_string("some-other-device"));
		send_event(fd, "DEVICE_DELETED", d);
	}
	if (!strcmp(cmd, "query-hotpluggable-cpus")) {
		json_object *arr = json_object_new_array();

		/* QEMU lists the slots from the highest down. */
		for (unsigned int i = q->nslots; i-- > 0;) {
			struct fake_qmp_slot *s = &q->slots[i];
			json_object *e = json_object_new_object(), *p = json_object_new_object();

			json_object_object_add(e, "type", json_object_new_string("qemu64-x86_64-cpu"));
			json_object_object_add(e, "vcpus-count", json_object_new_int(1));
			json_object_object_add(p, "socket-id", json_object_new_int(s->socket));
			if (s->die >= 0)
				json_object_object_add(p, "die-id", json_object_new_int(s->die));
			json_object_object_add(p, "core-id", json_object_new_int(s->core));
			json_object_object_add(p, "thread-id", json_object_new_int(s->thread));
			json_object_object_add(e, "props", p);
			if (s->plugged) {
				slot_path(s, i, path, sizeof(path));
				json_object_object_add(e, "qom-path", json_object_new_string(path));
			}
			json_object_array_add(arr, e);
		}
		send_return(fd, id, arr);
		return;
	}
	if (!strcmp(cmd, "qom-get")) {
		const char *p = arg_str(args, "path"), *prop = arg_str(args, "property");

		if (!strcmp(prop, "apic-id")) {
			pthread_mutex_lock(&q->lock);
			q->qom_gets++;
			pthread_mutex_unlock(&q->lock);
			for (unsigned int i = 0; i < q->nslots; i++) {
				slot_path(&q->slots[i], i, path, sizeof(path));
				if (q->slots[i].plugged && !strcmp(p, path)) {
					send_return(fd, id, json_object_new_int64(
							    fake_qmp_apic(q, &q->slots[i])));
					return;
				}
			}
		}
		if (!strcmp(prop, "type") && q->known_device) {
			snprintf(path, sizeof(path), "/machine/peripheral/%s", q->known_device);
			if (!strcmp(p, path)) {
				send_return(fd, id, json_object_new_string("virtio-blk-device"));
				return;
			}
		}
		snprintf(line, sizeof(line), "Device '%s' not found", p);
		send_error(fd, id, "DeviceNotFound", line);
		return;
	}
	if (!strcmp(cmd, "device_add")) {
		int so = arg_int(args, "socket-id", -1), co = arg_int(args, "core-id", -1);
		int th = arg_int(args, "thread-id", -1), di = arg_int(args, "die-id", -1);

		snprintf(line, sizeof(line), "device_add %s driver=%s socket-id=%d die-id=%d core-id=%d thread-id=%d",
			 arg_str(args, "id"), arg_str(args, "driver"), so, di, co, th);
		logf_(q, line);
		if ((int)++*adds == q->fail_device_add_at) {
			send_error(fd, id, "GenericError", "injected device_add failure");
			return;
		}
		/* A user's ^C (or a supervisor's SIGTERM) while QEMU works. */
		if ((int)*adds == q->signal_at_device_add && q->signal)
			kill(getpid(), q->signal);
		for (unsigned int i = 0; i < q->nslots; i++) {
			struct fake_qmp_slot *s = &q->slots[i];

			if (s->socket == so && s->core == co && s->thread == th && s->die == di) {
				if (s->plugged)
					break;
				s->plugged = s->hot = true;
				snprintf(s->id, sizeof(s->id), "%s", arg_str(args, "id"));
				send_return(fd, id, NULL);
				return;
			}
		}
		send_error(fd, id, "GenericError", "no free slot with these properties");
		return;
	}
	if (!strcmp(cmd, "device_del")) {
		const char *dev = arg_str(args, "id");

		snprintf(line, sizeof(line), "device_del %s", dev);
		logf_(q, line);
		if (q->refuse_device_del) {
			/* QEMU 7.2's answer on pc while the guest has not switched
			 * the ACPI CPU hotplug interface to its modern mode. */
			send_error(fd, id, "GenericError",
				   "acpi: device unplug request for not supported device type: qemu64-x86_64-cpu");
			return;
		}
		for (unsigned int i = 0; i < q->nslots; i++) {
			struct fake_qmp_slot *s = &q->slots[i];

			slot_path(s, i, path, sizeof(path));
			if (s->plugged && ((s->hot && !strcmp(s->id, dev)) || !strcmp(path, dev))) {
				send_return(fd, id, NULL);
				if (q->device_deleted) {
					json_object *d = json_object_new_object();

					if (s->hot)
						json_object_object_add(d, "device", json_object_new_string(s->id));
					json_object_object_add(d, "path", json_object_new_string(path));
					s->plugged = s->hot = false;
					s->id[0] = '\0';
					send_event(fd, "DEVICE_DELETED", d);
				}
				return;
			}
		}
		snprintf(line, sizeof(line), "Device '%s' not found", dev);
		send_error(fd, id, "DeviceNotFound", line);
		return;
	}
	send_error(fd, id, "CommandNotFound", "The command is not found");
}

static void serve(struct fake_qmp *q, int fd)
{
	static const char greeting[] =
		"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
		"\"package\": \"fake\"}, \"capabilities\": [\"oob\"]}}\r\n";
	char buf[65536];
	size_t len = 0;
	unsigned int adds = 0;

	if (send(fd, greeting, sizeof(greeting) - 1, MSG_NOSIGNAL) < 0)
		return;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t n;

		if (q->stop)
			return;
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len))) {
			json_object *msg;

			*nl = '\0';
			msg = json_tokener_parse(buf);
			if (msg)
				handle(q, fd, msg, &adds);
			json_object_put(msg);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
		if (len >= sizeof(buf) - 1)
			return;
	}
}

static void *qmp_thread(void *arg)
{
	struct fake_qmp *q = arg;

	while (!q->stop) {
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		int fd;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		fd = accept(q->fd, NULL, NULL);
		if (fd < 0)
			continue;
		serve(q, fd);
		close(fd);
	}
	close(q->fd);
	return NULL;
}

int fake_qmp_start(struct fake_qmp *q, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->fd < 0)
		return -errno;
	if (bind(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(q->fd, 8) < 0) {
		close(q->fd);
		return -errno;
	}
	return -pthread_create(&q->thread, NULL, qmp_thread, q);
}

void fake_qmp_stop(struct fake_qmp *q)
{
	q->stop = true;
	pthread_join(q->thread, NULL);
	pthread_mutex_destroy(&q->lock);
}

// SPDX-License-Identifier: MIT
/*
 * upcall-ctl helpers shared by the subcommands: global options, reporting
 * (human text or one JSON document), number parsing, connecting.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "lock.h"

void ctl_init(struct ctl *c, const char *prog)
{
	memset(c, 0, sizeof(*c));
	c->prog = prog;
	c->port = UPCALL_DEFAULT_PORT;
	c->agent_port = UPCALL_AGENT_PORT;
	c->timeout_ms = UPCALL_DEFAULT_TIMEOUT_MS;
	c->lock_wait_ms = CTL_LOCK_WAIT_MS;
	c->result = json_object_new_object();
	json_object_object_add(c->result, "ok", json_object_new_boolean(1));
}

void ctl_fini(struct ctl *c)
{
	json_object_put(c->result);
	c->result = NULL;
}

int ctl_parse_u64(const char *s, uint64_t *v)
{
	unsigned long long x;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || *end)
		return -EINVAL;
	*v = x;
	return 0;
}

int ctl_parse_u32(const char *s, uint32_t *v)
{
	uint64_t x;
	int err = ctl_parse_u64(s, &x);

	if (err)
		return err;
	if (x > UINT32_MAX)
		return -ERANGE;
	*v = (uint32_t)x;
	return 0;
}

/* Seconds as a decimal number, 0 to one day (86400); -EINVAL otherwise. */
int ctl_parse_seconds(const char *s, double *secs)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || !(v >= 0) || v > 86400)
		return -EINVAL;
	*secs = v;
	return 0;
}

int ctl_parse_port(const char *s, uint32_t *v)
{
	uint32_t x;
	int err = ctl_parse_u32(s, &x);

	if (err)
		return err;
	if (x == UINT32_MAX)
		return -ERANGE; /* VMADDR_PORT_ANY: no peer listens on it */
	*v = x;
	return 0;
}

/* --run DIR: the launcher's run folder names every socket. */
static void set_run_dir(struct ctl *c, const char *dir)
{
	snprintf(c->run_paths[0], PATH_MAX, "%s/vsock.sock", dir);
	snprintf(c->run_paths[1], PATH_MAX, "%s/qmp.sock", dir);
	snprintf(c->run_paths[2], PATH_MAX, "%s/devices.json", dir);
	c->uds = c->run_paths[0];
	c->qmp = c->run_paths[1];
	c->devices = c->run_paths[2];
}

int ctl_global_option(struct ctl *c, int opt, const char *arg)
{
	uint64_t secs_ms;
	uint32_t v;

	if (c->in_batch_line && strchr("UCPQRDTWNJv", opt))
		return ctl_usage_error(c, NULL,
				       "global options (--run, --timeout, -v...) go before 'batch', not on one of its lines");
	switch (opt) {
	case 'U':
		c->uds = arg;
		c->have_cid = false;
		return 0;
	case 'C':
		if (ctl_parse_u32(arg, &v))
			return ctl_usage_error(c, NULL, "--cid: not a CID: '%s'", arg);
		c->cid = v;
		c->have_cid = true;
		c->uds = NULL;
		return 0;
	case 'P':
		if (ctl_parse_port(arg, &v))
			return ctl_usage_error(c, NULL, "--port: not a vsock port (0..4294967294): '%s'", arg);
		c->port = v;
		return 0;
	case 'Q':
		c->qmp = arg;
		return 0;
	case 'R':
		set_run_dir(c, arg);
		return 0;
	case 'D':
		c->devices = arg;
		return 0;
	case 'T': {
		/* Seconds, with up to three decimals ("0.5"). */
		double s;

		if (ctl_parse_seconds(arg, &s) || !(s > 0))
			return ctl_usage_error(c, NULL,
					       "--timeout: not a positive number of seconds: '%s'", arg);
		secs_ms = (uint64_t)(s * 1000.0);
		c->timeout_ms = secs_ms ? (int)secs_ms : 1;
		c->timeout_set = true;
		return 0;
	}
	case 'W': {
		double s;

		if (ctl_parse_seconds(arg, &s))
			return ctl_usage_error(c, NULL,
					       "--lock-wait: not a number of seconds: '%s'", arg);
		c->lock_wait_ms = (int)(s * 1000.0);
		return 0;
	}
	case 'N':
		c->no_lock = true;
		return 0;
	case 'J':
		c->json = true;
		return 0;
	case 'v':
		c->verbose++;
		return 0;
	}
	return 1;
}

static void CTL_PRINTF(4, 0) vreport(struct ctl *c, int code, int err,
				       const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err < 0)
		err = -err;
	if (c->json) {
		json_object_object_add(c->result, "ok", json_object_new_boolean(0));
		/* The first error is the cause; later ones are consequences. */
		if (!json_object_object_get_ex(c->result, "error", NULL)) {
			json_object_object_add(c->result, "error",
					       json_object_new_string(msg));
			json_object_object_add(c->result, "errno",
					       json_object_new_int(err));
			json_object_object_add(c->result, "exit_code",
					       json_object_new_int(code));
		}
	} else {
		fprintf(stderr, "%s: %s\n", c->prog, msg);
	}
}

int ctl_error(struct ctl *c, int code, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, code, err, fmt, ap);
	va_end(ap);
	return code;
}

int ctl_usage_error(struct ctl *c, const char *usage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, CTL_EUSAGE, EINVAL, fmt, ap);
	va_end(ap);
	if (c->json)
		json_object_object_add(c->result, "usage_error",
				       json_object_new_boolean(1));
	else if (usage)
		fputs(usage, stderr);
	else
		fprintf(stderr, "Try '%s --help'.\n", c->prog);
	return CTL_EUSAGE;
}

int ctl_help(struct ctl *c, const char *usage)
{
	if (c->json)
		json_object_object_add(c->result, "usage",
				       json_object_new_string(usage));
	else
		fputs(usage, stdout);
	return CTL_OK;
}

void ctl_info(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	if (c->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void ctl_warn(struct ctl *c, const char *fmt, ...)
{
	json_object *w;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!c->json) {
		fprintf(stderr, "%s: warning: %s\n", c->prog, msg);
		return;
	}
	if (!json_object_object_get_ex(c->result, "warnings", &w)) {
		w = json_object_new_array();
		json_object_object_add(c->result, "warnings", w);
	}
	json_object_array_add(w, json_object_new_string(msg));
}

void ctl_debug(struct ctl *c, const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	if (!c->verbose)
		return;
	fprintf(stderr, "%s: ", c->prog);
	/* -vv: CLOCK_MONOTONIC, the clock a benchmark on the same host reads
	 * (tests/bench/hotplug-bench.py times each step with it). */
	if (c->verbose > 1 && !clock_gettime(CLOCK_MONOTONIC, &ts))
		fprintf(stderr, "[%lld.%06ld] ", (long long)ts.tv_sec, ts.tv_nsec / 1000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ctl_fail(struct ctl_status *st, int code, int err, const char *fmt, ...)
{
	va_list ap;

	if (st->code != CTL_OK)
		return st->code; /* the first failure is the cause */
	st->code = code;
	st->err = err < 0 ? -err : err;
	va_start(ap, fmt);
	vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
	va_end(ap);
	return code;
}

int ctl_report(struct ctl *c, const struct ctl_status *st, const char *usage)
{
	if (st->code == CTL_OK)
		return CTL_OK;
	if (st->code == CTL_EUSAGE)
		return ctl_usage_error(c, usage, "%s", st->msg);
	return ctl_error(c, st->code, st->err, "%s", st->msg);
}

int ctl_guest_connect(struct ctl *c, uint32_t port, struct upcall **out,
		      struct ctl_status *st)
{
	struct upcall *h;
	int err;

	*out = NULL;
	if (!c->uds && !c->have_cid)
		return ctl_fail(st, CTL_EUSAGE, EINVAL,
				"no guest address: give --uds PATH, --cid N or --run DIR");
	h = upcall_new();
	if (!h)
		return ctl_fail(st, CTL_ECONN, ENOMEM, "out of memory");
	upcall_set_timeout(h, c->timeout_ms);
	if (c->uds) {
		ctl_debug(c, "connecting to %s, guest port %u", c->uds, port);
		err = upcall_connect_hybrid(h, c->uds, port);
	} else {
		ctl_debug(c, "connecting to vsock %u:%u", c->cid, port);
		err = upcall_connect_vsock(h, c->cid, port);
	}
	if (err) {
		ctl_fail(st, CTL_ECONN, err, "%s", upcall_last_error(h));
		upcall_free(h);
		return CTL_ECONN;
	}
	*out = h;
	return CTL_OK;
}

int ctl_devmgr_connect(struct ctl *c, struct upcall **out, struct ctl_status *st)
{
	int rc = ctl_guest_connect(c, c->port, out, st);
	int err;

	if (rc)
		return rc;
	err = upcall_devmgr_start(*out);
	if (err < 0) {
		rc = ctl_fail(st, CTL_ECONN, err, "device manager: %s",
			      upcall_last_error(*out));
		upcall_free(*out);
		*out = NULL;
		return rc;
	}
	ctl_debug(c, "device manager greeting OK");
	return CTL_OK;
}

int ctl_action(struct ctl *c, int argc, char **argv, const struct ctl_action *a)
{
	struct ctl_status own = { 0 };
	struct ctl_status *st = a->lock_status ? a->lock_status : &own;
	struct ctl_lock lk;
	char command[32];
	bool add;
	int rc;

	if (argc < 2)
		return ctl_usage_error(c, a->usage, "%s: missing action (add or del)", a->name);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help"))
		return ctl_help(c, a->usage);
	if (strcmp(argv[1], "add") && strcmp(argv[1], "del"))
		return ctl_usage_error(c, a->usage, "%s: unknown action '%s'", a->name, argv[1]);
	add = !strcmp(argv[1], "add");
	rc = a->parse(c, argc - 1, argv + 1, add, a->args);
	if (rc < 0)
		return ctl_help(c, a->usage);
	if (rc)
		return rc;
	if (*a->unplug_wait_ms < 0)
		*a->unplug_wait_ms = c->timeout_ms < a->default_unplug_wait_ms ?
				     c->timeout_ms : a->default_unplug_wait_ms;
	if (a->command_json) {
		snprintf(command, sizeof(command), "%s %s", a->name, argv[1]);
		json_object_object_add(c->result, "command", json_object_new_string(command));
	}
	if (a->check) {
		rc = a->check(c, a->args);
		if (rc)
			return rc;
	}

	/* The whole QMP + guest transaction under the VM's lock; printing
	 * comes after it is released. A batch holds the lock for all its
	 * lines already. */
	if (c->held) {
		rc = a->run(c, a->args);
	} else if (ctl_lock_vm(c, &lk, st) == CTL_OK) {
		rc = a->run(c, a->args);
		ctl_unlock_vm(&lk);
	} else {
		rc = a->lock_status ? st->code : ctl_report(c, st, NULL);
	}
	return a->present ? a->present(c, a->args, rc) : rc;
}

int ctl_connect(struct ctl *c, uint32_t port, struct upcall **out)
{
	struct ctl_status st = { 0 };

	if (ctl_guest_connect(c, port, out, &st))
		return ctl_report(c, &st, NULL);
	return CTL_OK;
}

int ctl_open_devmgr(struct ctl *c, struct upcall **out)
{
	struct ctl_status st = { 0 };

	if (ctl_devmgr_connect(c, out, &st))
		return ctl_report(c, &st, NULL);
	return CTL_OK;
}

void ctl_print_result(struct ctl *c, int rc, int flags)
{
	json_object_object_add(c->result, "ok", json_object_new_boolean(rc == CTL_OK));
	if (rc != CTL_OK && !json_object_object_get_ex(c->result, "exit_code", NULL))
		json_object_object_add(c->result, "exit_code", json_object_new_int(rc));
	puts(json_object_to_json_string_ext(c->result, flags));
}

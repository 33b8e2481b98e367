/* SPDX-License-Identifier: MIT */
/* upcall-ctl: state shared by the subcommands and their helpers. */
#ifndef UPCALL_CTL_H
#define UPCALL_CTL_H

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <json.h>

#include "upcall.h"

/* Exit codes (documented in upcall-ctl.1). */
enum ctl_exit {
	CTL_OK = 0,
	CTL_EGUEST = 1,   /* the guest refused or the request failed */
	CTL_EUSAGE = 2,   /* bad command line */
	CTL_ECONN = 3,    /* cannot connect, timeout, protocol violation */
	CTL_EVMM = 4,     /* QMP / VMM failure */
};

struct ctl_held;

struct ctl {
	const char *prog;
	const char *uds;          /* hybrid vsock Unix socket */
	uint32_t cid;
	bool have_cid;
	uint32_t port;            /* device-manager port */
	uint32_t agent_port;      /* agent status service port */
	const char *qmp;          /* QMP Unix socket */
	const char *devices;      /* devices.json of a launcher run folder */
	int timeout_ms;
	bool timeout_set;
	int lock_wait_ms;         /* how long to wait for the VM's lock */
	bool no_lock;
	bool json;
	int verbose;
	/* The JSON document printed at the end (--json). */
	json_object *result;
	/* 'batch': the VM's lock is held and the connections are kept across
	 * its lines (held.h); NULL for a single command. */
	struct ctl_held *held;
	/* Parsing a batch line: global options are refused there. */
	bool in_batch_line;
	/* The output was printed already (batch): main() prints nothing. */
	bool printed;
	char run_paths[3][PATH_MAX];
};

#define CTL_PRINTF(a, b) __attribute__((format(printf, a, b)))

/*
 * With --json: adds "ok" (rc == CTL_OK) and, on failure, "exit_code" rc
 * unless an error already set one, to c->result and prints it as one
 * json-c string with @flags (JSON_C_TO_STRING_*) and a newline.
 */
void ctl_print_result(struct ctl *c, int rc, int flags);

/* The options every subcommand accepts too. */
#define CTL_GLOBAL_LONGOPTS                                   \
	{ "uds", required_argument, NULL, 'U' },              \
	{ "cid", required_argument, NULL, 'C' },              \
	{ "port", required_argument, NULL, 'P' },             \
	{ "qmp", required_argument, NULL, 'Q' },              \
	{ "run", required_argument, NULL, 'R' },              \
	{ "devices", required_argument, NULL, 'D' },          \
	{ "timeout", required_argument, NULL, 'T' },          \
	{ "lock-wait", required_argument, NULL, 'W' },        \
	{ "no-lock", no_argument, NULL, 'N' },                \
	{ "json", no_argument, NULL, 'J' },                   \
	{ "verbose", no_argument, NULL, 'v' },                \
	{ "help", no_argument, NULL, 'h' }
#define CTL_GLOBAL_SHORTOPTS "vh"

void ctl_init(struct ctl *c, const char *prog);
void ctl_fini(struct ctl *c);
/* Apply a global option: 0 if it was one, 1 if not, CTL_EUSAGE if its
 * argument is bad (already reported). */
int ctl_global_option(struct ctl *c, int opt, const char *arg);

/* Report a failure (stderr, or the JSON document) and return code. err is
 * a positive or negative errno, or 0. */
int ctl_error(struct ctl *c, int code, int err, const char *fmt, ...)
	CTL_PRINTF(4, 5);
/* A command-line error: message plus the usage text; returns CTL_EUSAGE. */
int ctl_usage_error(struct ctl *c, const char *usage, const char *fmt, ...)
	CTL_PRINTF(3, 4);
/* --help: the usage text on stdout (inside JSON with --json). */
int ctl_help(struct ctl *c, const char *usage);
/* Human-mode message on stdout; nothing with --json. */
void ctl_info(struct ctl *c, const char *fmt, ...) CTL_PRINTF(2, 3);
/* A warning: on stderr in human mode, appended to the "warnings" array of
 * the JSON document with --json. */
void ctl_warn(struct ctl *c, const char *fmt, ...) CTL_PRINTF(2, 3);
/* With -v: a progress message on stderr. */
void ctl_debug(struct ctl *c, const char *fmt, ...) CTL_PRINTF(2, 3);

/* A failure not reported yet: exit code (CTL_*), positive errno, text.
 * Code CTL_OK: none. Lets the code that acts leave printing to others. */
struct ctl_status {
	int code;
	int err;
	char msg[1024];
};

/* Record a failure in st unless one is there already (the first failure
 * is the cause); returns st->code. err: positive or negative errno. */
int ctl_fail(struct ctl_status *st, int code, int err, const char *fmt, ...)
	CTL_PRINTF(4, 5);
/* Report st as ctl_error() / ctl_usage_error() (with usage) would; returns
 * st->code. */
int ctl_report(struct ctl *c, const struct ctl_status *st, const char *usage);
/* Connect to a guest port / to the device manager (greeting checked) as
 * the options say; failures go to st, nothing is printed. */
int ctl_guest_connect(struct ctl *c, uint32_t port, struct upcall **out,
		      struct ctl_status *st);
int ctl_devmgr_connect(struct ctl *c, struct upcall **out, struct ctl_status *st);

/* Connect to a guest port as the options say; errors reported (CTL_*). */
int ctl_connect(struct ctl *c, uint32_t port, struct upcall **out);
/* Connect to the device manager and check its greeting. */
int ctl_open_devmgr(struct ctl *c, struct upcall **out);

/* Strict number parsing (decimal or 0x hex): 0 or -EINVAL/-ERANGE. */
int ctl_parse_u64(const char *s, uint64_t *v);
int ctl_parse_u32(const char *s, uint32_t *v);
/* A vsock port: 32 bits (70000 is valid), but not 0xffffffff
 * (VMADDR_PORT_ANY). Same errors as ctl_parse_u32. */
int ctl_parse_port(const char *s, uint32_t *v);
int ctl_parse_seconds(const char *s, double *secs);

/*
 * An action subcommand ("NAME add|del [OPTION]..."): what ctl_action()
 * needs to know of it. The callbacks get args back.
 */
struct ctl_action {
	const char *name;          /* "cpu", "pci", "mem" */
	const char *usage;         /* its usage text */
	void *args;                /* the subcommand's parsed arguments */
	/* --unplug-wait: parse() leaves -1 there when not given; it then
	 * becomes default_unplug_wait_ms, at most --timeout. */
	int *unplug_wait_ms;
	int default_unplug_wait_ms;
	/* Add {"command": "NAME add|del"} to the JSON document after parsing. */
	bool command_json;
	/* Where a failure to take the VM's lock goes; NULL: ctl_action()
	 * reports it itself and returns its exit code. */
	struct ctl_status *lock_status;
	/* Parse the options; argv[0] is the action. A negative value asks for
	 * the usage text (--help), else CTL_OK or an exit code (reported). */
	int (*parse)(struct ctl *c, int argc, char **argv, bool add, void *args);
	/* Optional: checks after parsing that need no VM; CTL_OK or an exit
	 * code (reported). */
	int (*check)(struct ctl *c, void *args);
	/* The transaction, under the VM's lock; returns the exit code. */
	int (*run)(struct ctl *c, void *args);
	/* Optional: after the lock is released (also when it could not be
	 * taken): prints the outcome, gets run()'s or the lock's code and
	 * returns the final exit code. */
	int (*present)(struct ctl *c, void *args, int rc);
};

/* Runs an action subcommand: "help", a missing or unknown action, parse,
 * the --unplug-wait default, the "command" JSON, check, then run() under
 * the VM's lock (lock.h) and present(). Returns the exit code (CTL_*). */
int ctl_action(struct ctl *c, int argc, char **argv, const struct ctl_action *a);

/* Subcommands. argv[0] is the subcommand's name. */
int cpu_main(struct ctl *c, int argc, char **argv);
int mem_main(struct ctl *c, int argc, char **argv);
int mmio_main(struct ctl *c, int argc, char **argv);
int pci_main(struct ctl *c, int argc, char **argv);
int status_main(struct ctl *c, int argc, char **argv);
int batch_main(struct ctl *c, int argc, char **argv);
int wait_ready_main(struct ctl *c, int argc, char **argv);

#endif /* UPCALL_CTL_H */

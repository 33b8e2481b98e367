// SPDX-License-Identifier: MIT
/*
 * upcall-ctl status: ask the guest agent (vsock port 1219) for its view,
 * one "status" line out, one JSON line back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* The agent's reply is one line; anything bigger is not a status. */
#define STATUS_MAX (64u * 1024)

static const char status_usage[] =
	"Usage: upcall-ctl [OPTIONS] status [--agent-port PORT]\n"
	"\n"
	"Ask the guest agent for its status (guest vsock port 1219, request\n"
	"\"status\") and print it: a summary, or with --json the agent's JSON\n"
	"object under \"status\".\n"
	"\n"
	"  --agent-port PORT   the agent's port (default 1219)\n"
	"  -h, --help          this text\n";

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return "?";
	return json_object_get_string(v);
}

/* The agent's status (docs/agent.md) in a few lines; keys this version
 * does not know are printed as they are. */
static void print_summary(json_object *st)
{
	json_object_object_foreach(st, key, val) {
		if (!strcmp(key, "cpus") && json_object_is_type(val, json_type_object)) {
			printf("%-10s online %s (%s), present %s (%s), possible %s (%s)\n", key,
			       str_of(val, "online"), str_of(val, "online_count"),
			       str_of(val, "present"), str_of(val, "present_count"),
			       str_of(val, "possible"), str_of(val, "possible_count"));
		} else if (!strcmp(key, "virtio") && json_object_is_type(val, json_type_array)) {
			for (size_t i = 0; i < json_object_array_length(val); i++) {
				json_object *d = json_object_array_get_idx(val, i);

				printf("%-10s %s %s driver %s", i ? "" : key, str_of(d, "name"),
				       str_of(d, "type"), str_of(d, "driver"));
				if (!strcmp(str_of(d, "transport"), "mmio"))
					printf(" mmio %s+%s irq %s", str_of(d, "mmio_base"),
					       str_of(d, "mmio_size"), str_of(d, "irq"));
				putchar('\n');
			}
		} else if (!strcmp(key, "block") && json_object_is_type(val, json_type_array)) {
			for (size_t i = 0; i < json_object_array_length(val); i++) {
				json_object *d = json_object_array_get_idx(val, i);

				printf("%-10s %s %s bytes on %s\n", i ? "" : key, str_of(d, "name"),
				       str_of(d, "size_bytes"), str_of(d, "device"));
			}
		} else if (json_object_is_type(val, json_type_object) ||
			   json_object_is_type(val, json_type_array)) {
			printf("%-10s %s\n", key,
			       json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN));
		} else {
			printf("%-10s %s\n", key, json_object_get_string(val));
		}
	}
}

int status_main(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "agent-port", required_argument, NULL, 'p' },
		CTL_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct json_tokener *tok;
	struct upcall *h;
	json_object *st;
	char *line;
	ssize_t n;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, CTL_GLOBAL_SHORTOPTS, opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (ctl_parse_port(optarg, &c->agent_port))
				return ctl_usage_error(c, NULL, "--agent-port: not a vsock port (0..4294967294): '%s'", optarg);
			break;
		case 'h':
			return ctl_help(c, status_usage);
		case '?':
			return ctl_usage_error(c, status_usage, "status: bad option");
		default:
			if (ctl_global_option(c, opt, optarg))
				return CTL_EUSAGE;
		}
	}
	if (optind < argc)
		return ctl_usage_error(c, status_usage, "unexpected argument '%s'", argv[optind]);
	json_object_object_add(c->result, "command", json_object_new_string("status"));

	rc = ctl_connect(c, c->agent_port, &h);
	if (rc)
		return rc;
	line = malloc(STATUS_MAX);
	if (!line) {
		upcall_free(h);
		return ctl_error(c, CTL_ECONN, ENOMEM, "out of memory");
	}
	n = upcall_agent_request(h, "status", line, STATUS_MAX);
	if (n < 0) {
		rc = ctl_error(c, CTL_ECONN, (int)n, "agent status: %s", upcall_last_error(h));
		goto out;
	}
	tok = json_tokener_new();
	st = tok ? json_tokener_parse_ex(tok, line, (int)n) : NULL;
	if (!st || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(st, json_type_object)) {
		json_object_put(st);
		rc = ctl_error(c, CTL_ECONN, EPROTO,
			       "agent status: reply is not a JSON object: %.200s", line);
		json_tokener_free(tok);
		goto out;
	}
	json_tokener_free(tok);
	if (json_object_object_get_ex(st, "error", NULL)) {
		/* The agent's own error reply: {"error": "..."} */
		rc = ctl_error(c, CTL_EGUEST, EREMOTEIO, "agent: %s", str_of(st, "error"));
		json_object_put(st);
		goto out;
	}
	if (!c->json)
		print_summary(st);
	json_object_object_add(c->result, "status", st);
	rc = CTL_OK;
out:
	free(line);
	upcall_free(h);
	return rc;
}

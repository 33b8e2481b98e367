/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's external interface: the vsock status service and the limits
 * it enforces. docs/agent.md documents every value here; change both
 * together (and docs/architecture.md for the port).
 */
#ifndef AGENT_PROTO_H
#define AGENT_PROTO_H

#ifndef AGENT_VERSION
#define AGENT_VERSION "0.0.0-dev"
#endif

/* vsock port of the status service (AF_VSOCK stream, VMADDR_CID_ANY). */
#define AGENT_STATUS_PORT 1219

/* A request is one line; longer ones get an error reply. */
#define AGENT_REQ_MAX 4096
/* A client must send its request line within this time. */
#define AGENT_REQ_TIMEOUT_MS 5000
/* A reply that the peer does not read within this time is dropped. */
#define AGENT_REPLY_TIMEOUT_MS 10000
/* Clients served at once; further connections are closed at once. */
#define AGENT_MAX_CLIENTS 16

/* exec: wall-clock limit, then the whole process group is killed. */
#define AGENT_EXEC_TIMEOUT_MS 30000
/* exec: output kept (stdout+stderr); the rest is read and discarded. */
#define AGENT_EXEC_OUTPUT_MAX (64 * 1024)
/*
 * exec: output read in all (kept or discarded); a command writing more is
 * killed (SIGKILL to its process group), so one that never stops writing
 * (`exec yes`) ends at once instead of at the deadline.
 */
#define AGENT_EXEC_READ_MAX (16 * 1024 * 1024)
/* exec: commands running at once. */
#define AGENT_MAX_EXECS 4

/* Largest uevent datagram accepted from the kernel. */
#define AGENT_UEVENT_MAX 8192

#endif

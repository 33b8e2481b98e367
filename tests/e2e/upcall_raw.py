#!/usr/bin/env python3
"""Raw upcall protocol client for end-to-end abuse tests.

upcall-ctl only sends well-formed requests; this script sends the malformed
ones a hostile or buggy host could send, over the hybrid vsock Unix socket,
and prints what the guest answered as one JSON object, so bats tests can
assert on it. Every socket operation has a timeout.

Usage: upcall_raw.py --uds PATH [--port 219] [--timeout S] SCENARIO
Scenarios:
  greeting      select 'd', print the greeting header
  wrong-magic   a CPU request with a bad magic_version
  unknown-type  a request of type 42
  bad-size      an ADD_MMIO request whose msg_size is not 24
  zero-count    an ADD_CPU request with count 0
  del-boot-cpu  a DEL_CPU request for APIC ID 0, the boot CPU
  short-close   half a request, then close (guest must drop it quietly)
  vanish        half a request, then reset the connection (SO_LINGER 0)
  no-service    connect and never send the service byte; report whether the
                guest closed the connection within --idle seconds
  bad-service   select an unknown service byte; report whether it closed
  two-clients   two connections at once, each gets a greeting and an answer
"""

import argparse
import json
import socket
import struct
import sys
import time

MAGIC = 0x444D0100
MSG_LEN = 1024
HDR = struct.Struct("<IIII")
TYPE_ADD_CPU = 1
TYPE_DEL_CPU = 2
TYPE_ADD_MMIO = 5


class ProtocolError(Exception):
    pass


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ProtocolError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def recv_line(sock, limit=64):
    line = b""
    while not line.endswith(b"\n"):
        if len(line) >= limit:
            raise ProtocolError(f"handshake line too long: {line!r}")
        chunk = sock.recv(1)
        if not chunk:
            raise ProtocolError(f"EOF during handshake after {line!r}")
        line += chunk
    return line.decode("ascii", "replace").strip()


def connect(args):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(args.timeout)
    sock.connect(args.uds)
    sock.sendall(f"CONNECT {args.port}\n".encode())
    line = recv_line(sock)
    if not line.startswith("OK "):
        raise ProtocolError(f"hybrid handshake refused: {line!r}")
    return sock


def open_service(args):
    sock = connect(args)
    sock.sendall(b"d")
    greeting = HDR.unpack(recv_exact(sock, MSG_LEN)[:16])
    if greeting != (MAGIC, 0, 0, 0):
        raise ProtocolError(f"unexpected greeting {greeting}")
    return sock


def message(magic, size, mtype, payload=b""):
    msg = HDR.pack(magic, size, mtype, 0) + payload
    return msg.ljust(MSG_LEN, b"\0")


def cpu_payload(apic_ids):
    ids = bytes(apic_ids).ljust(256, b"\0")
    return struct.pack("<BB", len(apic_ids), 0x14) + ids


def mmio_payload(base, size, irq):
    return struct.pack("<QQI4x", base, size, irq)


def decode_reply(raw):
    magic, size, mtype, flags = HDR.unpack(raw[:16])
    (ret,) = struct.unpack("<i", raw[16:20])
    reply = {"magic": magic, "msg_size": size, "msg_type": mtype,
             "msg_flags": flags, "ret": ret}
    # CPU replies carry a 4-byte payload after ret: u32 apic_index.
    if mtype in (TYPE_ADD_CPU, TYPE_DEL_CPU) and size >= 4:
        (reply["apic_index"],) = struct.unpack("<I", raw[20:24])
    return reply


def exchange(sock, msg):
    sock.sendall(msg)
    return decode_reply(recv_exact(sock, MSG_LEN))


def closed_within(sock, seconds):
    """True if the peer closes the connection within `seconds`."""
    sock.settimeout(seconds)
    try:
        return sock.recv(MSG_LEN) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def scenario(args):
    name = args.scenario
    if name == "greeting":
        sock = connect(args)
        sock.sendall(b"d")
        raw = recv_exact(sock, MSG_LEN)
        magic, size, mtype, flags = HDR.unpack(raw[:16])
        return {"magic": magic, "msg_size": size, "msg_type": mtype,
                "msg_flags": flags, "rest_zero": not any(raw[16:])}
    if name == "wrong-magic":
        sock = open_service(args)
        return exchange(sock, message(0x12345678, 258, TYPE_ADD_CPU,
                                      cpu_payload([1])))
    if name == "unknown-type":
        sock = open_service(args)
        return exchange(sock, message(MAGIC, 0, 42))
    if name == "bad-size":
        sock = open_service(args)
        return exchange(sock, message(MAGIC, 16, TYPE_ADD_MMIO,
                                      mmio_payload(0xfeb00000, 0x200, 5)))
    if name == "zero-count":
        sock = open_service(args)
        return exchange(sock, message(MAGIC, 258, TYPE_ADD_CPU,
                                      cpu_payload([])))
    if name == "del-boot-cpu":
        sock = open_service(args)
        return exchange(sock, message(MAGIC, 258, TYPE_DEL_CPU,
                                      cpu_payload([0])))
    if name in ("short-close", "vanish"):
        sock = open_service(args)
        sock.sendall(message(MAGIC, 258, TYPE_ADD_CPU, cpu_payload([1]))[:300])
        if name == "vanish":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        sock.close()
        return {"sent": 300, "closed": True}
    if name == "no-service":
        sock = connect(args)
        start = time.monotonic()
        closed = closed_within(sock, args.idle)
        return {"closed": closed,
                "after_s": round(time.monotonic() - start, 2)}
    if name == "bad-service":
        sock = connect(args)
        sock.sendall(b"?")
        return {"closed": closed_within(sock, args.idle)}
    if name == "two-clients":
        first = open_service(args)
        second = open_service(args)
        replies = [exchange(s, message(MAGIC, 0, 42)) for s in (second, first)]
        return {"replies": replies}
    raise SystemExit(f"unknown scenario {name!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uds", required=True)
    parser.add_argument("--port", type=int, default=219)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--idle", type=float, default=15.0)
    parser.add_argument("scenario")
    args = parser.parse_args()
    try:
        result = scenario(args)
    except (OSError, ProtocolError) as err:
        print(json.dumps({"error": str(err)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Small device-manager client for the kernel series' tests.

Speaks the upcall device-manager protocol (docs/kernel.md) to a guest over
the hybrid vsock Unix socket of upcall-vsockd ("CONNECT <port>\\n", "OK ...").
One connection per run; the requests given on the command line are sent in
order on it and every reply is printed as one JSON line. Every socket
operation has a timeout.

Usage: upcall_dm.py --uds RUN/vsock.sock [--port 219] [--timeout S] REQUEST...

Requests (each one word, fields separated by ':'):
  greeting                       select 'd' and print the greeting (implicit
                                 before the first other request)
  cpu-add:IDS  cpu-del:IDS       IDS: APIC IDs, e.g. 1 or 1,2 (may be empty)
  mmio-add:BASE:SIZE:IRQ         numbers in C syntax (0xfeb00e00)
  mmio-del:BASE:SIZE:IRQ
  pci-add:BUS:DEVFN  pci-del:BUS:DEVFN   Dragonball's bytes: msg_size 2,
                                 payload u8 busno, u8 devfn (0x28 = 05.0)
  mem-add:BASE:SIZE  mem-del:BASE:SIZE   our extension: msg_size 16,
                                 payload __le64 base, __le64 size
  raw:MAGIC:SIZE:TYPE:FLAGS[:HEX]  any header, payload bytes in hex
  trickle:cpu-add:IDS            a request sent in 7-byte pieces, 20 ms apart
  half-close:REQUEST             the first half of REQUEST, then close the
                                 connection (must be the last request)
  partial:REQUEST                the first half of REQUEST, connection kept
                                 open (follow with wait-close)
  idle:SECONDS                   wait; report whether the guest closed the
                                 connection meanwhile (and when)
  select:BYTE                    send a raw service selector (hex), e.g. 3f
  wait-close:SECONDS             report whether the guest closes within SECONDS
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
TYPES = {"cpu-add": 1, "cpu-del": 2, "mmio-add": 5, "mmio-del": 6,
         "pci-add": 7, "pci-del": 8, "mem-add": 3, "mem-del": 4}


class Error(Exception):
    pass


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise Error(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def connect(uds, port, timeout):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(uds)
    sock.sendall(f"CONNECT {port}\n".encode())
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk or len(line) > 64:
            raise Error(f"hybrid handshake failed: {line!r}")
        line += chunk
    if not line.startswith(b"OK "):
        raise Error(f"guest port {port} refused: {line!r}")
    return sock


def message(magic, size, mtype, flags=0, payload=b""):
    return (HDR.pack(magic, size, mtype, flags) + payload).ljust(MSG_LEN, b"\0")


def cpu_message(mtype, ids):
    apic = bytes(ids)
    payload = struct.pack("<BB", len(apic), 0x14) + apic.ljust(256, b"\0")
    return message(MAGIC, 258, mtype, 0, payload)


def parse_ids(text):
    return [int(x, 0) for x in text.split(",") if x != ""]


def decode(raw):
    magic, size, mtype, flags = HDR.unpack(raw[:16])
    ret, index = struct.unpack("<iI", raw[16:24])
    out = {"magic": magic, "msg_size": size, "msg_type": mtype,
           "msg_flags": flags, "ret": ret}
    if mtype in (1, 2):
        out["apic_index"] = index
    out["rest_zero"] = not any(raw[24:]) and (mtype in (1, 2) or index == 0)
    return out


def build(word):
    parts = word.split(":")
    kind = parts[0]
    if kind in ("cpu-add", "cpu-del"):
        return cpu_message(TYPES[kind], parse_ids(parts[1] if len(parts) > 1 else ""))
    if kind in ("mmio-add", "mmio-del"):
        base, size, irq = (int(x, 0) for x in parts[1:4])
        return message(MAGIC, 24, TYPES[kind], 0, struct.pack("<QQI4x", base, size, irq))
    if kind in ("pci-add", "pci-del"):
        busno, devfn = (int(x, 0) for x in parts[1:3])
        return message(MAGIC, 2, TYPES[kind], 0, struct.pack("<BB", busno, devfn))
    if kind in ("mem-add", "mem-del"):
        base, size = (int(x, 0) for x in parts[1:3])
        return message(MAGIC, 16, TYPES[kind], 0, struct.pack("<QQ", base, size))
    if kind == "raw":
        magic, size, mtype, flags = (int(x, 0) for x in parts[1:5])
        payload = bytes.fromhex(parts[5]) if len(parts) > 5 else b""
        return message(magic, size, mtype, flags, payload)
    raise Error(f"unknown request {word!r}")


def closed_within(sock, seconds):
    sock.settimeout(seconds)
    start = time.monotonic()
    try:
        data = sock.recv(MSG_LEN)
        closed = data == b""
    except socket.timeout:
        closed = False
    except ConnectionResetError:
        closed = True
    return {"closed": closed, "after_s": round(time.monotonic() - start, 2)}


def run(args):
    sock = connect(args.uds, args.port, args.timeout)
    selected = False

    def select():
        nonlocal selected
        if selected:
            return None
        selected = True
        start = time.monotonic()
        sock.sendall(b"d")
        raw = recv_exact(sock, MSG_LEN)
        magic, size, mtype, flags = HDR.unpack(raw[:16])
        return {"greeting": [magic, size, mtype, flags],
                "rest_zero": not any(raw[16:]),
                "ms": round((time.monotonic() - start) * 1000, 1)}

    for word in args.requests:
        kind = word.split(":")[0]
        if kind == "greeting":
            print(json.dumps(select()), flush=True)
            continue
        if kind == "select":
            selected = True
            sock.sendall(bytes([int(word.split(":")[1], 16)]))
            continue
        if kind in ("idle", "wait-close"):
            print(json.dumps(closed_within(sock, float(word.split(":")[1]))), flush=True)
            continue
        greeting = select()
        if greeting and not greeting["rest_zero"]:
            raise Error(f"bad greeting {greeting}")
        if kind == "half-close":
            sock.sendall(build(word.split(":", 1)[1])[:MSG_LEN // 2])
            sock.close()
            print(json.dumps({"sent": MSG_LEN // 2, "closed": True}), flush=True)
            return
        if kind == "partial":
            sock.sendall(build(word.split(":", 1)[1])[:MSG_LEN // 2])
            print(json.dumps({"sent": MSG_LEN // 2}), flush=True)
            continue
        if kind == "trickle":
            msg = build(word.split(":", 1)[1])
            start = time.monotonic()
            for i in range(0, MSG_LEN, 7):
                sock.sendall(msg[i:i + 7])
                time.sleep(0.02)
        else:
            msg = build(word)
            start = time.monotonic()
            sock.sendall(msg)
        reply = decode(recv_exact(sock, MSG_LEN))
        reply["ms"] = round((time.monotonic() - start) * 1000, 1)
        print(json.dumps(reply), flush=True)
    sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uds", required=True)
    parser.add_argument("--port", type=int, default=219)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("requests", nargs="+")
    args = parser.parse_args()
    try:
        run(args)
    except (OSError, Error) as err:
        print(json.dumps({"error": str(err)}), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

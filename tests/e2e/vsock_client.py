#!/usr/bin/env python3
"""Host-side peer for the vsock back-end's e2e tests and benchmark.

Talks the hybrid-vsock convention: connect to the back-end's --uds-path,
write "CONNECT <port>\\n", read "OK <host port>\\n", then the stream.

  vsock_client.py echo UDS PORT BYTES [--conns N]   echo through the guest's
        vsock-echo server; checks every byte; prints "ok N BYTES SHA256"
  vsock_client.py request UDS PORT LINE [--after FILE]   one request line,
        one reply line; with --after, connect first and send the line only
        once FILE exists (the connection is held meanwhile)
  vsock_client.py drip UDS PORT TOTAL CHUNK MS   through the guest's echo
        server: TOTAL bytes written CHUNK bytes every MS milliseconds,
        half-close, read the echo back and check it; "ok TOTAL"
  vsock_client.py flood UDS PORT N HOLD   open N connections at once, hold
        them HOLD seconds; "ok ACCEPTED REFUSED" (refused: EOF or error
        instead of "OK")
  vsock_client.py refused UDS PORT          succeeds if the guest refuses
  vsock_client.py serve-echo PATH COUNT     echo server on a Unix socket
        (guest -> host connections), serves COUNT connections, then exits
  vsock_client.py bench-send UDS PORT BYTES   host -> guest sink: MB/s
  vsock_client.py bench-recv PATH BYTES        accept one guest connection on
        PATH, read BYTES: MB/s (start the guest sender meanwhile)
  vsock_client.py bench-rtt UDS PORT SIZE COUNT   round trips through the
        guest echo server: p50/p99 in microseconds
All waits have timeouts (--timeout, default 120 s).
"""
import argparse
import hashlib
import os
import socket
import sys
import threading
import time


PERIOD = 1 << 20  # the pattern repeats every MiB
_BLOCK = bytes(((i * 7 + i // 4096) & 0xFF) for i in range(PERIOD))


def pattern_block(offset, n):
    """Bytes [offset, offset+n) of the pattern guest vsock-echo uses:
    byte i = (i * 7 + i // 4096) & 0xff. Chunks never cross a MiB."""
    o = offset % PERIOD
    assert o + n <= PERIOD
    return _BLOCK[o:o + n]


def hybrid_connect(uds, port, timeout):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(uds)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            s.close()
            raise ConnectionRefusedError("guest port %d refused (EOF)" % port)
        line += c
        if len(line) > 64:
            raise ConnectionError("reply line too long")
    if not line.startswith(b"OK "):
        raise ConnectionRefusedError("guest port %d: %r" % (port, line))
    return s, int(line[3:].strip())


CHUNK = 65536


def echo_once(uds, port, nbytes, timeout, result, idx):
    try:
        s, _ = hybrid_connect(uds, port, timeout)
        err = []

        def writer():
            try:
                off = 0
                while off < nbytes:
                    n = min(CHUNK, nbytes - off)
                    s.sendall(pattern_block(off, n))
                    off += n
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                err.append(e)

        t = threading.Thread(target=writer)
        t.start()
        h = hashlib.sha256()
        want = hashlib.sha256()
        got = 0
        while True:
            data = s.recv(262144)
            if not data:
                break
            h.update(data)
            got += len(data)
        t.join(timeout)
        s.close()
        off = 0
        while off < nbytes:
            n = min(CHUNK, nbytes - off)
            want.update(pattern_block(off, n))
            off += n
        if err:
            raise err[0]
        if got != nbytes:
            raise ValueError("got %d of %d bytes back" % (got, nbytes))
        if h.hexdigest() != want.hexdigest():
            raise ValueError("checksum mismatch")
        result[idx] = h.hexdigest()
    except Exception as e:  # reported by the caller
        result[idx] = e


def cmd_echo(a):
    result = [None] * a.conns
    threads = [threading.Thread(target=echo_once,
                                args=(a.uds, a.port, a.bytes, a.timeout, result, i))
               for i in range(a.conns)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(a.timeout)
    secs = time.monotonic() - start
    bad = [r for r in result if not isinstance(r, str)]
    if bad:
        for r in bad:
            print("error: %s" % (r if r else "timed out"), file=sys.stderr)
        return 1
    print("ok %d %d %s %.1fs" % (a.conns, a.bytes, result[0], secs))
    return 0


def wait_for_file(path, timeout):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError("%s did not appear" % path)
        time.sleep(0.05)


def cmd_request(a):
    s, _ = hybrid_connect(a.uds, a.port, a.timeout)
    if a.after:
        print("connected", file=sys.stderr, flush=True)
        wait_for_file(a.after, a.timeout)
    s.sendall(a.line.encode() + b"\n")
    reply = b""
    while not reply.endswith(b"\n"):
        c = s.recv(4096)
        if not c:
            break
        reply += c
    s.close()
    sys.stdout.write(reply.decode(errors="replace"))
    return 0 if reply.endswith(b"\n") else 1


def cmd_drip(a):
    s, _ = hybrid_connect(a.uds, a.port, a.timeout)
    err = []

    def writer():
        try:
            off = 0
            while off < a.total:
                n = min(a.chunk, a.total - off, PERIOD - off % PERIOD)
                s.sendall(pattern_block(off, n))
                off += n
                time.sleep(a.ms / 1000.0)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=writer)
    t.start()
    got = bytearray()
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            got += data
    except OSError as e:
        err.append(e)
    t.join(a.timeout)
    s.close()
    if err:
        print("error: %s after %d bytes back" % (err[0], len(got)),
              file=sys.stderr)
        return 1
    want = b"".join(pattern_block(o, min(CHUNK, a.total - o))
                    for o in range(0, a.total, CHUNK))
    if bytes(got) != want:
        print("error: got %d of %d bytes back%s" %
              (len(got), a.total, "" if len(got) != a.total else ", corrupted"),
              file=sys.stderr)
        return 1
    print("ok %d" % a.total)
    return 0


def cmd_flood(a):
    socks, accepted, refused = [], 0, 0
    for _ in range(a.n):
        try:
            s, _ = hybrid_connect(a.uds, a.port, a.timeout)
            socks.append(s)
            accepted += 1
        except (OSError, ConnectionError):
            refused += 1
    print("held", file=sys.stderr, flush=True)
    time.sleep(a.hold)
    for s in socks:
        s.close()
    print("ok %d %d" % (accepted, refused))
    return 0


def cmd_refused(a):
    try:
        s, _ = hybrid_connect(a.uds, a.port, a.timeout)
    except ConnectionRefusedError as e:
        print("refused: %s" % e)
        return 0
    s.close()
    print("error: guest accepted port %d" % a.port, file=sys.stderr)
    return 1


def cmd_serve_echo(a):
    try:
        os.unlink(a.path)
    except FileNotFoundError:
        pass
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(a.path + ".tmp")
    ls.listen(16)
    os.rename(a.path + ".tmp", a.path)
    ls.settimeout(a.timeout)
    for _ in range(a.count):
        c, _ = ls.accept()
        c.settimeout(a.timeout)
        total = 0
        while True:
            data = c.recv(65536)
            if not data:
                break
            total += len(data)
            c.sendall(data)
        c.close()
        print("served %d bytes" % total, flush=True)
    ls.close()
    os.unlink(a.path)
    return 0


def cmd_bench_send(a):
    s, _ = hybrid_connect(a.uds, a.port, a.timeout)
    block = _BLOCK[:CHUNK]
    start = time.monotonic()
    left = a.bytes
    while left > 0:
        n = min(CHUNK, left)
        s.sendall(block[:n])
        left -= n
    s.shutdown(socket.SHUT_WR)
    # The sink closes after it has read everything: that ends the clock.
    while s.recv(4096):
        pass
    secs = time.monotonic() - start
    s.close()
    print("%.1f" % (a.bytes / secs / 1e6))
    return 0


def cmd_bench_recv(a):
    try:
        os.unlink(a.path)
    except FileNotFoundError:
        pass
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(a.path + ".tmp")
    ls.listen(1)
    os.rename(a.path + ".tmp", a.path)
    ls.settimeout(a.timeout)
    print("listening", flush=True)
    c, _ = ls.accept()
    c.settimeout(a.timeout)
    start = time.monotonic()
    got = 0
    while True:
        data = c.recv(262144)
        if not data:
            break
        got += len(data)
    secs = time.monotonic() - start
    c.close()
    ls.close()
    os.unlink(a.path)
    if got != a.bytes:
        print("error: got %d of %d bytes" % (got, a.bytes), file=sys.stderr)
        return 1
    print("%.1f" % (got / secs / 1e6))
    return 0


def cmd_bench_rtt(a):
    s, _ = hybrid_connect(a.uds, a.port, a.timeout)
    msg = _BLOCK[:a.size]
    times = []
    for _ in range(a.count):
        t0 = time.monotonic()
        s.sendall(msg)
        got = 0
        while got < a.size:
            data = s.recv(a.size - got)
            if not data:
                raise ConnectionError("echo server closed")
            got += len(data)
        times.append(time.monotonic() - t0)
    s.close()
    times.sort()
    p50 = times[len(times) // 2] * 1e6
    p99 = times[min(len(times) - 1, (len(times) * 99) // 100)] * 1e6
    print("%.0f %.0f" % (p50, p99))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timeout", type=float, default=120.0)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("uds")
    e.add_argument("port", type=int)
    e.add_argument("bytes", type=int)
    e.add_argument("--conns", type=int, default=1)
    r = sub.add_parser("request")
    r.add_argument("uds")
    r.add_argument("port", type=int)
    r.add_argument("line")
    r.add_argument("--after")
    d = sub.add_parser("drip")
    d.add_argument("uds")
    d.add_argument("port", type=int)
    d.add_argument("total", type=int)
    d.add_argument("chunk", type=int)
    d.add_argument("ms", type=float)
    fl = sub.add_parser("flood")
    fl.add_argument("uds")
    fl.add_argument("port", type=int)
    fl.add_argument("n", type=int)
    fl.add_argument("hold", type=float)
    f = sub.add_parser("refused")
    f.add_argument("uds")
    f.add_argument("port", type=int)
    s = sub.add_parser("serve-echo")
    s.add_argument("path")
    s.add_argument("count", type=int)
    b = sub.add_parser("bench-send")
    b.add_argument("uds")
    b.add_argument("port", type=int)
    b.add_argument("bytes", type=int)
    b = sub.add_parser("bench-recv")
    b.add_argument("path")
    b.add_argument("bytes", type=int)
    b = sub.add_parser("bench-rtt")
    b.add_argument("uds")
    b.add_argument("port", type=int)
    b.add_argument("size", type=int)
    b.add_argument("count", type=int)
    a = p.parse_args()
    return {"echo": cmd_echo, "request": cmd_request, "refused": cmd_refused,
            "drip": cmd_drip, "flood": cmd_flood,
            "serve-echo": cmd_serve_echo, "bench-send": cmd_bench_send,
            "bench-recv": cmd_bench_recv, "bench-rtt": cmd_bench_rtt}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Small QMP client for tools/vm and the e2e tests.

Usage:
  qmp.py SOCK JSON           send one command, e.g. '{"execute":"query-cpus-fast"}'
                             (qmp_capabilities is sent first); print the reply's
                             "return" value as JSON; exit 1 on an "error" reply
  qmp.py SOCK --hmp CMDLINE  run a human monitor command and print its text
  qmp.py SOCK --mmio-map     print the virtio-mmio transports that hold a
                             device, as JSON [{"id", "type", "base", "size",
                             "irq", "slot"}], read from "info qtree"

Every wait has a timeout (--timeout S, default 10). Asynchronous events
are skipped.
"""
import json
import re
import socket
import sys

# QEMU microvm with acpi=off: 8 virtio-mmio transports at 0xfeb00000 +
# n * 0x200, transport n wired to IOAPIC pin 5 + n (hw/i386/microvm.c;
# with auto-kernel-cmdline=on QEMU announces a device in the last slot as
# virtio_mmio.device=512@0xfeb00e00:12).
MMIO_BASE = 0xFEB00000
MMIO_SIZE = 0x200
MMIO_IRQ_BASE = 5
MMIO_TRANSPORTS = 8


class QmpError(Exception):
    pass


class Qmp:
    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.file = self.sock.makefile("rw", encoding="utf-8")
        greeting = self._read()
        if "QMP" not in greeting:
            raise QmpError("no QMP greeting: %r" % greeting)
        self.execute({"execute": "qmp_capabilities"})

    def _read(self):
        line = self.file.readline()
        if not line:
            raise QmpError("QMP socket closed")
        return json.loads(line)

    def execute(self, cmd):
        self.file.write(json.dumps(cmd) + "\n")
        self.file.flush()
        while True:
            reply = self._read()
            if "event" in reply:
                continue
            if "error" in reply:
                raise QmpError("%s: %s" % (reply["error"].get("class"),
                                           reply["error"].get("desc")))
            return reply.get("return")

    def hmp(self, line):
        return self.execute({"execute": "human-monitor-command",
                             "arguments": {"command-line": line}})


def mmio_map(qtree):
    """Parse 'info qtree' into the occupied virtio-mmio transports."""
    result = []
    transport_indent = None
    base = None
    seen = 0
    for line in qtree.splitlines():
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if text.startswith("dev: virtio-mmio,"):
            transport_indent, base = indent, None
            seen += 1
            continue
        if transport_indent is None:
            continue
        if indent <= transport_indent:
            transport_indent = None
            if text.startswith("dev: virtio-mmio,"):
                transport_indent, base = indent, None
                seen += 1
            continue
        m = re.match(r"mmio ([0-9a-f]+)/([0-9a-f]+)$", text)
        if m and base is None:
            base, size = int(m.group(1), 16), int(m.group(2), 16)
            continue
        m = re.match(r'dev: ([\w-]+), id "(.*)"$', text)
        if m and base is not None:
            slot = (base - MMIO_BASE) // MMIO_SIZE
            if (base - MMIO_BASE) % MMIO_SIZE or size != MMIO_SIZE or \
                    not 0 <= slot < MMIO_TRANSPORTS:
                raise QmpError("unexpected virtio-mmio transport layout: "
                               "base 0x%x size 0x%x" % (base, size))
            result.append({"id": m.group(2), "type": m.group(1),
                           "base": "0x%x" % base, "size": "0x%x" % size,
                           "irq": MMIO_IRQ_BASE + slot, "slot": slot})
            transport_indent = None
    if seen and seen != MMIO_TRANSPORTS:
        raise QmpError("expected %d virtio-mmio transports, QEMU has %d"
                       % (MMIO_TRANSPORTS, seen))
    return result


def main(argv):
    timeout = 10.0
    if "--timeout" in argv:
        i = argv.index("--timeout")
        timeout = float(argv[i + 1])
        del argv[i:i + 2]
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    try:
        qmp = Qmp(argv[1], timeout)
        if argv[2] == "--hmp":
            sys.stdout.write(qmp.hmp(" ".join(argv[3:])))
        elif argv[2] == "--mmio-map":
            print(json.dumps(mmio_map(qmp.hmp("info qtree"))))
        else:
            print(json.dumps(qmp.execute(json.loads(argv[2]))))
    except (OSError, QmpError, ValueError) as e:
        sys.stderr.write("qmp: %s: %s\n" % (argv[1], e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

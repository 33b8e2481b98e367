#!/usr/bin/env python3
"""vCPU hotplug, upcall against ACPI, side by side (`make bench-hotplug`).

Two guests on QEMU `pc` (TCG), the same kernel source, base configuration,
initramfs, QEMU options and kernel command line:

  upcall  build/guest/bzImage: the kernel series, no ACPI; vCPUs through
          `upcall-ctl --run DIR cpu add|del` (QMP device_add + ADD_CPU;
          DEL_CPU), the reply comes once the guest has onlined (offlined and
          unregistered) the CPUs.
  ACPI    build/bench/acpi/bzImage: no series, CONFIG_ACPI, ACPI_PROCESSOR,
          ACPI_HOTPLUG_CPU and the benchmark-only patch of
          tests/bench/acpi-kernel/; vCPUs through QMP device_add, onlined in
          the guest by cpu-onliner (udev's rule: write 1 to .../online on the
          CPU's "add" uevent), which reports each online CPU over vsock;
          removed through QMP device_del until QEMU has unplugged the vCPU
          (the guest offlines and ejects through ACPI: DEVICE_DELETED, or
          the guest's successful eject _OST; see wait_vcpu_unplugged()).

A third guest, the same upcall kernel, takes the same steps through one
`upcall-ctl batch` (held connections: one process, one VM lock, one QMP
connection and one device-manager session for all its steps, as a VMM
holds its own), so that the table separates the protocol from the
command-line tool's set-up (--no-held leaves it out).

Each run boots each guest once (rotating which goes first) and measures,
on the host's CLOCK_MONOTONIC: boot to the agent's READY line (the
launcher's BOOT_TO_READY_MS), hot-add of 1 vCPU, hot-add of 4 more,
hot-remove of 1. Both kernels get the same lpj= (by default the value the
upcall kernel's boot CPU computes at a first, uncounted boot, or, when it
cannot calibrate its TSC, the host's TSC frequency / HZ), so no hot-added
CPU calibrates its delay loop, and the same tsc_early_khz= (by default
lpj= * HZ / 1000), so that both delay on the TSC. SIGTERM stops the
guests and the run. Then one more upcall guest gives the breakdown of single vCPU adds: the host client's steps (upcall-ctl -vv
times), the wire (a request the guest refuses at once), and the guest's
part from its own log line (time to register the CPU, time in
device_online(), i.e. the kernel's cpuhp bring-up).

Usage: hotplug-bench.py [--runs N] [--lpj auto|none|N] [--tsc-khz auto|none|N]
                        [--append ARGS] [--upcall-only] [--no-held]
                        [--no-breakdown | --breakdown-only] [--breakdown-adds N]
Environment: BENCH_UPCALL_KERNEL, BENCH_ACPI_KERNEL, BENCH_TRACE_KERNEL,
BENCH_INITRD, BENCH_ONLINER override the images, BENCH_CTL the upcall-ctl
(e.g. an older build, with --no-held if it has no `batch`). Prints figures only; it
fails (exit 1) when a step fails or a guest ends in an unexpected state.
"""
import argparse
import gzip
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
VM = os.path.join(TOP, "tools", "vm")
CTL = os.environ.get("BENCH_CTL", os.path.join(TOP, "build", "bin", "upcall-ctl"))
MAXCPUS = 6          # 1 at boot, +1, +4 (then -1)
ONLINER_PORT = 7300  # guest -> host vsock port of cpu-onliner
STEP_TIMEOUT = 60.0  # seconds, any single step


class BenchError(Exception):
    pass


def now_ms():
    return time.monotonic() * 1000.0


# --- initramfs: the project's, plus /bench/cpu-onliner -----------------------

def _newc(name, mode, data, ino):
    name_b = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (
        ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0))
    out = hdr.encode() + name_b
    out += b"\0" * (-len(out) % 4)
    out += data + b"\0" * (-len(data) % 4)
    return out


def make_initrd(base, onliner, out):
    """base + a second gzip'd newc archive with /bench/cpu-onliner (the
    kernel unpacks concatenated archives in order)."""
    with open(onliner, "rb") as f:
        prog = f.read()
    cpio = (_newc("bench", 0o40755, b"", 1) +
            _newc("bench/cpu-onliner", 0o100755, prog, 2) +
            _newc("TRAILER!!!", 0, b"", 0))
    with open(base, "rb") as f:
        data = f.read()
    with open(out, "wb") as f:
        f.write(data + gzip.compress(cpio, mtime=0))


# --- QMP ----------------------------------------------------------------------

class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(STEP_TIMEOUT)
        self.sock.connect(path)
        self.buf = b""
        self.events = []
        if "QMP" not in self._read():
            raise BenchError("no QMP greeting on %s" % path)
        self.cmd("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError("QMP socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._read()
            if "event" in r:
                self.events.append(r)
            elif "error" in r:
                raise BenchError("QMP %s: %s" % (name, r["error"].get("desc")))
            else:
                return r.get("return")

    def next_event(self, deadline):
        """The oldest event not yet taken (events that came with a command's
        reply first), waiting until DEADLINE (time.monotonic() seconds);
        None when the deadline passes."""
        while not self.events:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                r = self._read()
            except socket.timeout:
                continue
            finally:
                self.sock.settimeout(STEP_TIMEOUT)
            if "event" in r:
                self.events.append(r)
        return self.events.pop(0)

    def wait_vcpu_unplugged(self, dev, timeout):
        """Waits, after device_del of vCPU DEV, until QEMU has removed it.

        QEMU sends DEVICE_DELETED when a device object is finalized. QEMU
        7.2 never finalizes an ejected vCPU (seen here: the one DEVICE_DELETED
        after the eject is its lapic child's, path .../DEV/lapic, no device
        id, while query-hotpluggable-cpus already lists the slot as free), so
        DEVICE_DELETED for DEV is not the only end: the guest's _OST for the
        eject (ACPI_DEVICE_OST, source 3 = eject request, status 0) for
        DEV's slot also is. The guest evaluates that _OST after _EJ0, and
        QEMU unplugs the vCPU inside _EJ0's register write, so by then the
        vCPU is gone; the caller checks that with query-hotpluggable-cpus.
        DEV's slot is learnt from its earlier _OST events (hot-add, "eject in
        progress"), which carry the device id. Returns the event's name.
        Raises BenchError on a failed eject (_OST status other than 0 or
        0x84, "ejection in progress") or at the timeout, naming the events
        that came."""
        deadline = time.monotonic() + timeout
        slot, seen = None, []
        while True:
            e = self.next_event(deadline)
            if e is None:
                raise BenchError("no DEVICE_DELETED for %s and no successful eject _OST "
                                 "for its slot %s within %.0f s; events: %s"
                                 % (dev, slot, timeout, " ".join(seen) or "none"))
            name, data = e["event"], e.get("data", {})
            if name == "DEVICE_DELETED" and data.get("device") == dev:
                return name
            info = data.get("info", {}) if name == "ACPI_DEVICE_OST" else {}
            seen.append("%s%s" % (name, json.dumps(info or data, sort_keys=True)))
            if info.get("device") == dev:
                slot = info.get("slot")
            if name == "DEVICE_UNPLUG_GUEST_ERROR" and data.get("device") == dev:
                raise BenchError("the guest refused to unplug %s" % dev)
            if not info or info.get("source") != 3 or slot is None or \
                    info.get("slot") != slot:
                continue
            if info.get("status") == 0:
                return name
            if info.get("status") != 0x84:
                raise BenchError("the guest failed to eject %s: _OST status %#x"
                                 % (dev, info.get("status", -1)))

    def close(self):
        self.sock.close()


# --- guests -------------------------------------------------------------------

def hybrid_connect(uds, port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(STEP_TIMEOUT)
    s.connect(uds)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c or len(line) > 64:
            raise BenchError("guest port %d refused the connection" % port)
        line += c
    if not line.startswith(b"OK "):
        raise BenchError("guest port %d: %r" % (port, line))
    return s


def read_line(s, buf):
    while b"\n" not in buf[0]:
        chunk = s.recv(4096)
        if not chunk:
            raise BenchError("connection closed")
        buf[0] += chunk
    line, buf[0] = buf[0].split(b"\n", 1)
    return line.decode()


class Guest:
    def __init__(self, kind, run_dir, kernel, initrd, append):
        self.kind, self.dir = kind, run_dir
        self.kernel, self.initrd, self.append = kernel, initrd, append
        self.qmp = None
        self.onliner = None
        self.obuf = [b""]
        self.added = []

    def start(self):
        env = dict(os.environ)
        env.pop("VM_APPEND", None)  # both guests get exactly self.append
        # A SIGTERM waits until `tools/vm start` is done: killed half-way,
        # it can leave a daemon that its pid files do not name yet, which
        # `tools/vm stop` then cannot find. The child gets SIGTERM back.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            out = subprocess.run(
                [VM, "start", "--dir", self.dir, "--machine", "pc", "--cpus", "1",
                 "--maxcpus", str(MAXCPUS), "--kernel", self.kernel, "--initrd",
                 self.initrd, "--append", self.append, "--timeout", "180"],
                env=env, capture_output=True, text=True, timeout=240,
                preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, mask))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if out.returncode:
            raise BenchError("%s guest did not start: %s%s" % (
                self.kind, out.stdout, out.stderr))
        facts = {}
        with open(os.path.join(self.dir, "vm.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                facts[k] = v.strip("'\"")
        self.boot_ms = float(facts["BOOT_TO_READY_MS"])
        con = self.console()
        m = re.search(r'UPCALL READY (\{.*\})', con)
        self.kernel_version = json.loads(m.group(1)).get("kernel") if m else "?"
        # The clock behind ktime_get() and CLOCK_MONOTONIC in the guest
        # (the last switch before READY): it differs between the guests.
        cs = re.findall(r"clocksource: Switched to clocksource (\S+)", con)
        self.clocksource = cs[-1] if cs else "?"

    def console(self):
        with open(os.path.join(self.dir, "console.log"), errors="replace") as f:
            return f.read()

    def exec(self, command):
        s = hybrid_connect(os.path.join(self.dir, "vsock.sock"), 1219)
        try:
            s.sendall(b"exec " + command.encode() + b"\n")
            reply = read_line(s, [b""])
        finally:
            s.close()
        r = json.loads(reply)
        if r.get("status") != 0:
            raise BenchError("%s guest: exec %r: %s" % (self.kind, command, reply))
        return r.get("output", "")

    def open_qmp(self):
        self.qmp = Qmp(os.path.join(self.dir, "qmp.sock"))

    def start_onliner(self):
        path = os.path.join(self.dir, "vsock.sock_%d" % ONLINER_PORT)
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ls.settimeout(STEP_TIMEOUT)
        if os.path.exists(path):
            os.unlink(path)
        ls.bind(path)
        ls.listen(1)
        try:
            self.exec("/bench/cpu-onliner %d </dev/null >/dev/console 2>&1 &" % ONLINER_PORT)
            self.onliner, _ = ls.accept()
        finally:
            ls.close()
        self.onliner.settimeout(STEP_TIMEOUT)
        if read_line(self.onliner, self.obuf) != "ready":
            raise BenchError("cpu-onliner did not say ready")

    def free_slots(self):
        slots = [s for s in self.qmp.cmd("query-hotpluggable-cpus") if "qom-path" not in s]
        return sorted(slots, key=lambda s: s["props"].get("socket-id", 0))

    # ACPI: device_add, the guest onlines, cpu-onliner reports.
    def acpi_add(self, n):
        slots = self.free_slots()[:n]
        if len(slots) < n:
            raise BenchError("QEMU has %d free vCPU slots, need %d" % (len(slots), n))
        t0 = now_ms()
        for s in slots:
            dev = "bcpu%d" % s["props"]["socket-id"]
            args = {"driver": s["type"], "id": dev}
            args.update(s["props"])
            self.qmp.cmd("device_add", args)
            self.added.append(dev)
        t_qmp = now_ms()
        guest = []
        for _ in range(n):
            line = read_line(self.onliner, self.obuf).split()
            if line[0] != "online":
                raise BenchError("ACPI guest could not online a CPU: %s" % " ".join(line))
            guest.append((int(line[3]) - int(line[2])) / 1000.0)
        t1 = now_ms()
        return t1 - t0, t_qmp - t0, guest

    def acpi_del(self):
        dev = self.added.pop()
        t0 = now_ms()
        self.qmp.cmd("device_del", {"id": dev})
        self.qmp.wait_vcpu_unplugged(dev, STEP_TIMEOUT)
        t1 = now_ms()
        path = "/machine/peripheral/" + dev
        if any(s.get("qom-path") == path for s in self.qmp.cmd("query-hotpluggable-cpus")):
            raise BenchError("the guest ejected %s but QEMU still has it" % dev)
        return t1 - t0

    def ctl(self, *args, verbose=False):
        cmd = [CTL] + (["-vv"] if verbose else []) + ["--run", self.dir] + list(args)
        t0 = now_ms()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP_TIMEOUT)
        t1 = now_ms()
        if out.returncode:
            raise BenchError("%s: exit %d: %s%s" % (" ".join(cmd), out.returncode,
                                                     out.stdout, out.stderr))
        return t1 - t0, t0, t1, out.stderr

    def batch_open(self):
        """`upcall-ctl -vv --json --run DIR batch`: one process, one VM lock,
        one QMP connection and one device-manager session for every later
        batch() command, as a VMM holds its own."""
        self.batch_err = open(os.path.join(self.dir, "batch.err"), "w+")
        self.batch_proc = subprocess.Popen(
            [CTL, "-vv", "--json", "--run", self.dir, "batch"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.batch_err)
        self.batch_buf = b""
        self.batch_errpos = 0
        # Its connections are opened when it starts, as a VMM's are when
        # the VM starts: not part of the first step.
        deadline = time.monotonic() + STEP_TIMEOUT
        while "device manager greeting OK" not in open(self.batch_err.name).read():
            if time.monotonic() > deadline or self.batch_proc.poll() is not None:
                raise BenchError("upcall-ctl batch did not connect: %s"
                                 % open(self.batch_err.name).read())
            time.sleep(0.01)

    def batch(self, *args):
        """One line to the held batch; returns (ms, t0, t1, its -vv lines), the
        time from writing the line to reading its JSON result."""
        p = self.batch_proc
        fd = p.stdout.fileno()
        t0 = now_ms()
        p.stdin.write((" ".join(args) + "\n").encode())
        p.stdin.flush()
        deadline = time.monotonic() + STEP_TIMEOUT
        while b"\n" not in self.batch_buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise BenchError("upcall-ctl batch: no result for %r within %.0f s"
                                 % (" ".join(args), STEP_TIMEOUT))
            chunk = os.read(fd, 65536)
            if not chunk:
                raise BenchError("upcall-ctl batch ended (exit %s) at %r"
                                 % (p.wait(), " ".join(args)))
            self.batch_buf += chunk
        t1 = now_ms()
        line, self.batch_buf = self.batch_buf.split(b"\n", 1)
        r = json.loads(line)
        self.batch_err.seek(self.batch_errpos)
        err = self.batch_err.read()
        self.batch_errpos = self.batch_err.tell()
        if not r.get("ok"):
            raise BenchError("upcall-ctl batch: %r: %s" % (" ".join(args), line.decode()))
        return t1 - t0, t0, t1, err

    def batch_close(self):
        p = getattr(self, "batch_proc", None)
        if not p:
            return
        self.batch_proc = None
        try:
            p.stdin.close()
            p.wait(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        self.batch_err.close()

    def online_list(self):
        return self.exec("cat /sys/devices/system/cpu/online").strip()

    def stop(self):
        self.batch_close()
        for c in (self.qmp, self.onliner):
            if c:
                c.close()
        subprocess.run([VM, "stop", "--dir", self.dir], capture_output=True, timeout=60)


# --- statistics and table -----------------------------------------------------

def pct(values, p):
    v = sorted(values)
    return v[max(0, math.ceil(p / 100.0 * len(v)) - 1)]


def row(name, up, ac, unit="ms"):
    def three(v):
        if not v:
            return "%26s" % "-"
        return "%8.1f %8.1f %8.1f" % (statistics.median(v), pct(v, 90), max(v))
    ratio = "%6.2f" % (statistics.median(up) / statistics.median(ac)) if up and ac else "     -"
    print("%-24s %s   %s   %s" % (name + " (%s)" % unit, three(up), three(ac), ratio))


def qemu_version():
    out = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True)
    m = re.search(r"version (\S+)", out.stdout)
    return m.group(1) if m else "?"


# --- the comparison -----------------------------------------------------------

def host_part(step, res, key, request):
    """Records a step's time and its host-side part: the total less QMP
    device_add (QEMU's) and the guest request's round trip (wire + guest),
    from upcall-ctl -vv's CLOCK_MONOTONIC marks. step: (ms, t0, t1, stderr)."""
    total, t0, t1, err = step
    h = host_marks(err, request)
    if "send" not in h or "reply" not in h:
        raise BenchError("upcall-ctl -vv did not print the %s marks: %s" % (request, err))
    other = h["reply"] - h["send"]
    if "unplugged" in h and h["unplugged"] > h["reply"]:
        other += h["unplugged"] - h["reply"]  # QEMU's device_del (pc refuses it)
    if request == "ADD_CPU":
        if "vcpu" not in h or "slots" not in h:
            raise BenchError("upcall-ctl -vv did not print the device_add marks: %s" % err)
        # device_add starts after the slot query (and, per command, after the
        # guest connection, which comes first); the last vCPU mark ends it.
        other += h["vcpu"] - max(h["slots"], h.get("greet", h["slots"]))
    res[key].append(total)
    res[key + "_host"].append(total - other)
    return total


def run_upcall(g, res, held=False):
    """Per command (`upcall-ctl --run DIR cpu ...`, a new process each) or,
    held, the same lines through one `upcall-ctl batch`."""
    g.start()
    res["boot"].append(g.boot_ms)
    if held:
        g.batch_open()
        step = g.batch
    else:
        def step(*args):
            return g.ctl(*args, verbose=True)
    host_part(step("cpu", "add", "1"), res, "add1", "ADD_CPU")
    m = HOTADD_RE.findall(g.console())
    if len(m) != 1:
        raise BenchError("upcall guest logged %d hot-added lines after one add" % len(m))
    res["up_add1_reg"].append(int(m[0][2]) / 1000.0)
    res["up_add1_online"].append(int(m[0][3]) / 1000.0)
    host_part(step("cpu", "add", "4"), res, "add4", "ADD_CPU")
    # QEMU pc cannot unplug a vCPU without ACPI: the guest's release is the
    # end (--unplug-wait 0: do not wait for a DEVICE_DELETED that never comes).
    host_part(step("cpu", "del", "--unplug-wait", "0", "1"), res, "del1", "DEL_CPU")
    g.batch_close()


def run_acpi(g, res):
    g.start()
    res["boot"].append(g.boot_ms)
    m = re.search(r"Allowing \d+ present CPUs plus (\d+) hotplug CPUs", g.console())
    if not m or int(m.group(1)) < MAXCPUS - 1:
        raise BenchError("ACPI guest does not expect hot-added CPUs (%s); is the "
                         "benchmark-only patch applied?" % (m.group(0) if m else "no smpboot line"))
    g.open_qmp()
    g.start_onliner()
    total, qmp_ms, guest = g.acpi_add(1)
    res["add1"].append(total)
    res["acpi_add1_qmp"].append(qmp_ms)
    res["acpi_add1_guest"].append(guest[0])
    res["add4"].append(g.acpi_add(4)[0])
    res["del1"].append(g.acpi_del())


def keep_console(g, name):
    """Copies a failed guest's console to build/bench/failed/NAME.console.log
    (the run's directory is removed) and says where."""
    dst = os.path.join(TOP, "build", "bench", "failed", name + ".console.log")
    try:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(os.path.join(g.dir, "console.log"), dst)
        sys.stderr.write("hotplug-bench: %s guest's console kept in %s\n" % (g.kind, dst))
    except OSError as e:
        sys.stderr.write("hotplug-bench: could not keep the console: %s\n" % e)


def guest_round(kind, kernel, initrd, append, tmp, i, res):
    g = Guest(kind, os.path.join(tmp, "%s-%d" % (kind, i)), kernel, initrd, append)
    try:
        if kind == "acpi":
            run_acpi(g, res)
        else:
            run_upcall(g, res, held=kind == "held")
        online = g.online_list()
        if online != "0-%d" % (MAXCPUS - 2):
            raise BenchError("%s guest ends with CPUs %s online, expected 0-%d"
                             % (kind, online, MAXCPUS - 2))
        res["kernel"] = g.kernel_version
        res["clocksource"].add(g.clocksource)
    except BenchError:
        keep_console(g, "%s-%d" % (kind, i))
        raise
    finally:
        g.stop()
    shutil.rmtree(g.dir, ignore_errors=True)


def host_tsc_khz():
    """The host's TSC frequency in kHz, or None. Under TCG the guest's RDTSC
    reads the host's TSC (QEMU's cpu_get_host_ticks()), so this is also the
    guest's TSC frequency. /proc/cpuinfo's "cpu MHz" is the TSC frequency
    only when the TSC is constant (and the host does not scale it), which
    the constant_tsc flag says."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return None
    flags = re.search(r"^flags\s*:(.*)$", info, re.M)
    mhz = re.search(r"^cpu MHz\s*:\s*([0-9.]+)$", info, re.M)
    if not flags or not mhz or "constant_tsc" not in flags.group(1).split():
        return None
    return round(float(mhz.group(1)) * 1000)


def learn_lpj(kernel, initrd, append, tmp):
    """The boot CPU's lpj= when it is derived from the TSC frequency
    ("Calibrating delay loop (skipped), value calculated using timer
    frequency"). Under heavy load the guest cannot calibrate its TSC (the
    PIT calibration fails and the upcall kernel has no HPET or ACPI PM
    timer to fall back on: "Marking TSC unstable due to could not calculate
    TSC khz"): then the host's TSC frequency / HZ, which is the same value.
    Up to 2 boots. Returns (lpj, how)."""
    for attempt in range(2):
        g = Guest("upcall", os.path.join(tmp, "lpj%d" % attempt), kernel, initrd, append)
        try:
            g.start()
            m = re.search(r"value calculated using timer frequency.*\(lpj=(\d+)\)", g.console())
        finally:
            g.stop()
        if m:
            return int(m.group(1)), "computed from the TSC by the upcall kernel's boot CPU " \
                "at an uncounted boot"
    khz = host_tsc_khz()
    if khz is None:
        raise BenchError("the guest could not calibrate its TSC and the host's TSC "
                         "frequency is unknown (no constant_tsc): give --lpj N")
    hz = kernel_hz(kernel)
    return khz * 1000 // hz, ("the host's TSC, %d kHz, / HZ=%d: 2 boots here could not "
                              "calibrate the guest's TSC" % (khz, hz))


# --- breakdown of one upcall vCPU add -----------------------------------------

HOTADD_RE = re.compile(r"upcall: devmgr: CPU(\d+) \(APIC ID (\d+)\) hot-added "
                       r"\(registered in (\d+) us, online in (\d+) us\)")


def host_marks(stderr, request):
    """CLOCK_MONOTONIC ms of the steps upcall-ctl -vv prints."""
    marks = {}
    for line in stderr.splitlines():
        m = re.match(r"upcall-ctl: \[(\d+)\.(\d+)\] (.*)$", line)
        if not m:
            continue
        t = int(m.group(1)) * 1000.0 + int(m.group(2)) / 1000.0
        for key, pat in (("qmp", "QMP: connected"), ("slots", "QMP: .* vCPU slots"),
                         ("greet", "device manager greeting OK"),
                         ("vcpu", r"vCPU .*: APIC ID"), ("send", "sending " + request),
                         ("reply", request + " answered"),
                         ("unplugged", r"device_del .* answered")):
            if re.match(pat, m.group(3)):
                marks[key] = t
    return marks


def kernel_hz(kernel):
    with open(kernel + ".config") as f:
        m = re.search(r"^CONFIG_HZ=(\d+)$", f.read(), re.M)
    if not m:
        raise BenchError("%s.config has no CONFIG_HZ" % kernel)
    return int(m.group(1))


def breakdown(kernel, initrd, append, tmp, adds, lpj):
    """`upcall-ctl -vv --run DIR cpu add 1`, ADDS times on one guest, each
    preceded by a DEL_CPU of an absent APIC ID (answered -ENODEV at once)
    that measures the round trip without guest work: the wire. The guest
    prints how long registering and device_online() took (ktime_get(); the
    guest runs with tsc=reliable so that its clocksource is the TSC, not
    4 ms jiffies)."""
    append += " tsc=reliable"
    if lpj and "tsc_early_khz=" not in append:
        # lpj is TSC cycles per jiffy: the TSC's frequency, which the guest
        # cannot always measure against the PIT on a loaded host.
        append += " tsc_early_khz=%d" % (lpj * kernel_hz(kernel) // 1000)
    g = Guest("upcall", os.path.join(tmp, "breakdown"), kernel, initrd, append)
    rows = []
    uds = os.path.join(g.dir, "vsock.sock")
    try:
        g.start()
        for _ in range(adds):
            out = subprocess.run([CTL, "-vv", "--uds", uds, "cpu", "del", "--apic-id", "254"],
                                 capture_output=True, text=True, timeout=STEP_TIMEOUT)
            w = host_marks(out.stderr, "DEL_CPU")
            if out.returncode != 1 or "send" not in w or "reply" not in w:
                raise BenchError("DEL_CPU of an absent APIC ID: exit %d: %s"
                                 % (out.returncode, out.stderr))
            _, t0, t1, err = g.ctl("cpu", "add", "1", verbose=True)
            h = host_marks(err, "ADD_CPU")
            need = ("qmp", "slots", "greet", "vcpu", "send", "reply")
            if any(k not in h for k in need):
                raise BenchError("upcall-ctl -vv did not print every step: %s" % err)
            m = HOTADD_RE.findall(g.console())
            if not m:
                raise BenchError("the guest logged no hot-added line with durations")
            reg_ms, online_ms = int(m[-1][2]) / 1000.0, int(m[-1][3]) / 1000.0
            rtt, wire = h["reply"] - h["send"], w["reply"] - w["send"]
            rows.append({
                "start": h["qmp"] - t0, "query": h["slots"] - h["qmp"],
                "connect": h["greet"] - h["slots"], "device_add": h["vcpu"] - h["greet"],
                "wire": wire, "registered": reg_ms, "bringup": online_ms,
                "guest_rest": rtt - wire - reg_ms - online_ms,
                "exit": t1 - h["reply"], "total": t1 - t0})
    finally:
        g.stop()
    return rows


def print_breakdown(rows):
    def med(k):
        return statistics.median(r[k] for r in rows)
    print("\nBreakdown of one upcall vCPU add (`upcall-ctl --run DIR cpu add 1`, "
          "median of %d adds on one guest, ms)" % len(rows))
    parts = [
        ("host: process start, VM lock, QMP connect", "start"),
        ("host: QMP query-hotpluggable-cpus", "query"),
        ("host: vsock connect + devmgr greeting", "connect"),
        ("host+QEMU: QMP device_add (+ qom-get)", "device_add"),
        ("wire: request out + reply back (1)", "wire"),
        ("guest: vCPU made present + registered (2)", "registered"),
        ("guest: kernel bring-up, device_online() (2)", "bringup"),
        ("guest: rest (request, log line, reply) (3)", "guest_rest"),
        ("host: reply -> exit", "exit"),
    ]
    for name, k in parts:
        print("  %-46s %7.1f" % (name, med(k)))
    print("  %-46s %7.1f" % ("total (host command)", med("total")))
    ours = sum(med(k) for k in ("start", "query", "connect", "wire", "registered",
                                "guest_rest", "exit"))
    print("  %-46s %7.1f" % ("ours: all but bring-up and device_add", ours))
    print("  (1) round trip of a DEL_CPU the guest refuses at once (absent APIC ID)\n"
          "  (2) the guest's own ktime_get() figures (upcall: devmgr: ... hot-added line)\n"
          "  (3) ADD_CPU round trip minus (1) and (2)")


def on_sigterm(signum, frame):
    # SystemExit unwinds through the finally blocks, which stop the guests.
    sys.exit("hotplug-bench: terminated (signal %d), guests stopped" % signum)


def main():
    signal.signal(signal.SIGTERM, on_sigterm)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--lpj", default="auto")
    ap.add_argument("--tsc-khz", default="auto",
                    help="tsc_early_khz= for both guests: auto (from lpj=), none, or N")
    ap.add_argument("--append", default="")
    ap.add_argument("--no-breakdown", action="store_true")
    ap.add_argument("--breakdown-adds", type=int, default=5)
    ap.add_argument("--breakdown-only", action="store_true",
                    help="only the breakdown (needs no ACPI kernel)")
    ap.add_argument("--no-held", action="store_true",
                    help="no upcall guest driven through `upcall-ctl batch` (held connections)")
    ap.add_argument("--upcall-only", action="store_true",
                    help="no ACPI guest (e.g. to compare two upcall command lines)")
    a = ap.parse_args()
    if a.runs < 1 or not 1 <= a.breakdown_adds <= MAXCPUS - 1:
        ap.error("--runs >= 1, --breakdown-adds 1..%d" % (MAXCPUS - 1))
    up_k = os.environ.get("BENCH_UPCALL_KERNEL", os.path.join(TOP, "build/guest/bzImage"))
    ac_k = os.environ.get("BENCH_ACPI_KERNEL", os.path.join(TOP, "build/bench/acpi/bzImage"))
    base = os.environ.get("BENCH_INITRD", os.path.join(TOP, "build/guest/initramfs.cpio.gz"))
    onl = os.environ.get("BENCH_ONLINER", os.path.join(TOP, "build/bench/cpu-onliner"))
    no_acpi = a.breakdown_only or a.upcall_only
    for f in (up_k, base, onl, CTL) + (() if no_acpi else (ac_k,)):
        if not os.path.exists(f):
            sys.exit("hotplug-bench: %s is missing (make bench-hotplug builds it)" % f)
    tmp = tempfile.mkdtemp(prefix="hotplug-bench.")
    try:
        initrd = os.path.join(tmp, "initramfs.cpio.gz")
        make_initrd(base, onl, initrd)
        append = ("agent.exec=1 " + a.append).strip()
        if a.lpj == "auto":
            lpj, why = learn_lpj(up_k, initrd, append, tmp)
            how = "lpj=%d on both guests (%s)" % (lpj, why)
        elif a.lpj == "none":
            lpj, how = None, "no lpj= (every hot-added CPU calibrates its delay loop)"
        else:
            lpj = int(a.lpj)
            how = "lpj=%d on both (--lpj)" % lpj
        if lpj:
            append += " lpj=%d" % lpj
        # The TSC's frequency, for both guests alike. Without it, a guest
        # that cannot calibrate its TSC against the PIT (often, on a loaded
        # host) calibrates it against the HPET if it has one (the ACPI
        # guest: QEMU's ACPI tables describe it) and otherwise gives the TSC
        # up (the upcall guest), and then its udelay() is the lpj= loop,
        # whose speed under TCG is not the TSC's: the two guests' CPU
        # bring-ups would not run the same delays.
        if a.tsc_khz == "auto" and lpj:
            khz = lpj * kernel_hz(up_k) // 1000
            how += "; tsc_early_khz=%d on both (lpj= * HZ), so both delay on the TSC" % khz
        elif a.tsc_khz in ("auto", "none"):
            khz = None
            how += "; no tsc_early_khz= (a guest without a PIT or HPET calibration " \
                "delays on the lpj= loop)"
        else:
            khz = int(a.tsc_khz)
            how += "; tsc_early_khz=%d on both (--tsc-khz)" % khz
        if khz:
            append += " tsc_early_khz=%d" % khz
        if a.breakdown_only:
            print("calibration: " + how)
            print_breakdown(breakdown(up_k, initrd, append, tmp, a.breakdown_adds, lpj))
            return
        res = {k: {"add1": [], "add4": [], "del1": [], "boot": [], "acpi_add1_qmp": [],
                   "acpi_add1_guest": [], "up_add1_reg": [], "up_add1_online": [],
                   "add1_host": [], "add4_host": [], "del1_host": [],
                   "clocksource": set()}
               for k in ("upcall", "held", "acpi")}
        kinds = {"upcall": up_k, "held": up_k, "acpi": ac_k}
        for i in range(a.runs):
            order = (("upcall", "held", "acpi"), ("acpi", "held", "upcall"),
                     ("held", "acpi", "upcall"))[i % 3]
            for kind in order:
                if (kind == "acpi" and a.upcall_only) or (kind == "held" and a.no_held):
                    continue
                guest_round(kind, kinds[kind], initrd, append, tmp, i, res[kind])
            sys.stderr.write("hotplug-bench: run %d/%d done\n" % (i + 1, a.runs))
        up, hd, ac = res["upcall"], res["held"], res["acpi"]
        print("\nvCPU hotplug, upcall vs ACPI (QEMU %s TCG, pc, kernel %s, %d runs each, "
              "alternating)" % (qemu_version(), up.get("kernel", "?"), a.runs))
        print("guest command line: console=ttyS0 panic=-1 [hotplug_apic_ids=1-%d] %s"
              % (MAXCPUS - 1, append))
        print("calibration: " + how)
        print("guest clocksource after boot: upcall %s, ACPI %s"
              % ("/".join(sorted(up["clocksource"] | hd["clocksource"])) or "-",
                 "/".join(sorted(ac["clocksource"])) or "-"))
        print("%-24s %26s   %26s   %6s" % ("", "upcall p50/p90/max", "ACPI p50/p90/max",
                                         "up/ACPI"))
        row("hot-add 1 vCPU", up["add1"], ac["add1"])
        row("hot-add 4 vCPUs", up["add4"], ac["add4"])
        row("hot-remove 1 vCPU", up["del1"], ac["del1"])
        row("boot to READY", up["boot"], ac["boot"])
        if not a.no_held:
            print("upcall over held connections (`upcall-ctl batch`: one process, VM lock, "
                  "QMP connection and device-manager session for all three steps), same "
                  "ACPI column:")
            row("hot-add 1 vCPU, held", hd["add1"], ac["add1"])
            row("hot-add 4 vCPUs, held", hd["add4"], ac["add4"])
            row("hot-remove 1 vCPU, held", hd["del1"], ac["del1"])
            row("boot to READY, held", hd["boot"], ac["boot"])
        print("upcall host-side part, p50 ms (total less QEMU's device_add/device_del and "
              "the guest request's round trip; upcall-ctl -vv marks):")
        for name, k in (("hot-add 1", "add1"), ("hot-add 4", "add4"), ("hot-remove 1", "del1")):
            line = "  %-14s per command %7.1f" % (name, statistics.median(up[k + "_host"]))
            if not a.no_held:
                line += "   held %7.1f" % statistics.median(hd[k + "_host"])
            print(line)
        print("upcall hot-add 1, parts (p50, the guest's ktime_get()): present + "
              "registered %.1f ms, device_online() %.1f ms"
              % (statistics.median(up["up_add1_reg"]), statistics.median(up["up_add1_online"])))
        if up["clocksource"] & {"jiffies", "refined-jiffies"}:
            print("  (refined-jiffies: the guest's own figures are in 4 ms steps; --append "
                  "'tsc=reliable tsc_early_khz=KHZ' gives the guest the TSC, as the "
                  "breakdown does)")
        if not a.upcall_only:
            su, sa = os.path.getsize(up_k), os.path.getsize(ac_k)
            print("%-24s %26d   %26d   %6.2f" % ("bzImage (bytes)", su, sa, su / sa))
            print("ACPI hot-add 1, parts (p50): QMP device_add %.1f ms; in the guest, "
                  "uevent read -> online written %.1f ms"
                  % (statistics.median(ac["acpi_add1_qmp"]),
                     statistics.median(ac["acpi_add1_guest"])))
        if not a.no_breakdown:
            print_breakdown(breakdown(up_k, initrd, append, tmp, a.breakdown_adds, lpj))
    except (BenchError, OSError, subprocess.TimeoutExpired, ValueError, KeyError) as e:
        sys.exit("hotplug-bench: %s" % e)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

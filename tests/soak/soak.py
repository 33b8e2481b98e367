#!/usr/bin/env python3
"""make soak: thousands of hotplug cycles against real guests, with figures.

Phases (each on its own VM, started and stopped with tools/vm):
  cpu1   pc, 1 of 4 vCPUs: `upcall-ctl --run cpu add 1` / `cpu del 1`
  cpu3   same VM: `cpu add 3` / `cpu del 3` (one request each)
  mmio   microvm with an unannounced virtio-blk disk: `mmio add --device
         d1`, read the whole disk in the guest and compare its SHA-256
         with the host file's, `mmio del --device d1`
  both   microvm, two clients at once: the mmio cycle above and, on a
         second connection, DEL_CPU / ADD_CPU of boot vCPU 1 (APIC ID 1)

For each phase it reports failures, p50/p99/max latency per operation,
the guest's Slab, SUnreclaim and MemFree averaged over the first and the
last window of cycles (100, or a quarter of the cycles when fewer than
400) and their drift, the largest /proc/slabinfo changes when the kernel
has it, the guest's vmalloc areas before and after (/proc/vmallocinfo:
the mapped ones, where a mapping left behind would show, and the freed
ones the kernel has not purged yet, which slabinfo's vmap_area still
counts), and upcall-vsockd's open fds and RSS before and after. At the end
of each VM: the kmemleak scan (--kmemleak) and the console check of
tests/e2e/lib.bash. Exit status 1 if anything failed.

Usage: soak.py [--cycles N] [--phases cpu1,cpu3,mmio] [--out DIR]
               [--kernel BZIMAGE] [--append ARGS] [--kmemleak]
SOAK_CYCLES in the environment is the default for --cycles.
"""

import argparse
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VM = os.path.join(TOP, "tools", "vm")
CTL = os.path.join(TOP, "build", "bin", "upcall-ctl")
LIB = os.path.join(TOP, "tests", "e2e", "lib.bash")
# Each upcall-ctl step and each guest command must finish within this.
STEP_TIMEOUT_S = 60


class SoakError(Exception):
    pass


def now_ms():
    return time.monotonic() * 1000.0


def guest_exec(run, cmd, timeout=STEP_TIMEOUT_S):
    """Runs cmd in the guest through the agent's exec request (hybrid
    vsock, port 1219); returns (status, output)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(os.path.join(run, "vsock.sock"))
        s.sendall(b"CONNECT 1219\n")
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                raise SoakError("vsock: closed during CONNECT")
            buf += chunk
        line, _, rest = buf.partition(b"\n")
        if not line.startswith(b"OK "):
            raise SoakError("vsock: CONNECT 1219 refused: %r" % line)
        s.sendall(b"exec " + cmd.encode() + b"\n")
        buf = rest
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except (OSError, socket.timeout) as e:
        raise SoakError("exec %r: %s" % (cmd, e)) from e
    finally:
        s.close()
    try:
        reply = json.loads(buf.decode(errors="replace").strip().splitlines()[0])
    except (ValueError, IndexError) as e:
        raise SoakError("exec %r: bad reply %r" % (cmd, buf[:200])) from e
    return reply.get("status"), reply.get("output", "")


def ctl(run, *args, uds_only=False):
    """Runs upcall-ctl --json; returns (ok, milliseconds, reply object)."""
    where = ["--uds", os.path.join(run, "vsock.sock")] if uds_only else ["--run", run]
    cmd = [CTL] + where + ["--timeout", str(STEP_TIMEOUT_S), "--json"] + list(args)
    t0 = now_ms()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP_TIMEOUT_S * 3)
    except subprocess.TimeoutExpired:
        # Counted as this operation's failure; the soak goes on.
        return False, now_ms() - t0, {"ok": False, "error": "upcall-ctl still running after %d s" %
                                      (STEP_TIMEOUT_S * 3)}
    except OSError as e:
        # upcall-ctl could not be started (e.g. replaced by a rebuild at
        # that moment): this operation's failure too, not the soak's end.
        return False, now_ms() - t0, {"ok": False, "error": "cannot run %s: %s" % (CTL, e)}
    ms = now_ms() - t0
    try:
        reply = json.loads(p.stdout)
    except ValueError:
        reply = {"ok": False, "error": "no JSON: %r %r" % (p.stdout[:200], p.stderr[:200])}
    return p.returncode == 0 and reply.get("ok", True), ms, reply


def proc_figures(pid):
    """Open fds and resident memory (kB) of a host process. RssShmem is
    separate because upcall-vsockd maps the guest's RAM (a shared memfd):
    every guest page a virtqueue buffer used counts once it was touched."""
    fig = {"fds": len(os.listdir("/proc/%d/fd" % pid))}
    keys = {"VmRSS:": "rss_kb", "RssAnon:": "anon_kb", "RssShmem:": "shmem_kb"}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k = line.split()
            if k and k[0] in keys:
                fig[keys[k[0]]] = int(k[1])
    return fig


MEM_CMD = "cat /proc/meminfo; cat /sys/devices/system/cpu/online"


def guest_mem(run):
    status, out = guest_exec(run, MEM_CMD)
    if status != 0:
        raise SoakError("meminfo: status %s: %s" % (status, out))
    m = {}
    for line in out.splitlines():
        f = re.match(r"^(\w+):\s+(\d+) kB$", line)
        if f and f.group(1) in ("MemFree", "Slab", "SUnreclaim"):
            m[f.group(1)] = int(f.group(2))
    m["online"] = out.strip().splitlines()[-1]
    return m


def slabinfo(run):
    """{cache: active_objs} from /proc/slabinfo, or None without it."""
    try:
        status, out = guest_exec(run, "cat /proc/slabinfo 2>/dev/null || true")
    except SoakError as e:
        print("soak: no slabinfo: %s" % e, file=sys.stderr)
        return None
    caches = {}
    for line in out.splitlines():
        if line.startswith(("slabinfo", "#")):
            continue
        f = line.split()
        if len(f) > 2 and f[1].isdigit():
            caches[f[0]] = int(f[1])
    return caches or None


def vmalloc_live(run):
    """{"areas": N, "ioremap": N, "unpurged": N} from the guest's
    /proc/vmallocinfo: the mapped vmalloc areas, of them ioremaps, and the
    areas freed but not yet purged, which the kernel lists as "unpurged
    vm_area" (mm/vmalloc.c frees vmap areas lazily, up to
    lazy_max_pages()); None when it cannot be read."""
    try:
        status, out = guest_exec(run, "cat /proc/vmallocinfo")
    except SoakError as e:
        print("soak: no vmallocinfo: %s" % e, file=sys.stderr)
        return None
    if status != 0:
        return None
    lines = [l for l in out.splitlines() if l.startswith("0x")]
    unpurged = sum(1 for l in lines if "unpurged vm_area" in l)
    return {"areas": len(lines) - unpurged, "unpurged": unpurged,
            "ioremap": sum(1 for l in lines if " ioremap" in l)}


def percentile(values, p):
    v = sorted(values)
    if not v:
        return None
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


# A phase stops after this many cycles in a row had a failure: the guest
# or the daemon is gone or wedged, and every further cycle would only wait
# for its timeouts. What was measured until then is still reported.
MAX_FAILED_CYCLES = 5


class Phase:
    def __init__(self, name, cycles):
        self.name = name
        self.cycles = cycles
        self.window = 100 if cycles >= 400 else max(1, cycles // 4)
        self.lat = {}
        self.failures = {}
        self.messages = []
        self.mem_first = []
        self.mem_last = []
        self.extra = {}
        self.nfail = 0          # failures recorded so far
        self.failed_in_row = 0  # cycles in a row with a failure

    def record(self, op, ok, ms, detail=None):
        self.lat.setdefault(op, []).append(ms)
        self.failures.setdefault(op, 0)
        if not ok:
            self.failures[op] += 1
            self.nfail += 1
            if len(self.messages) < 10:
                self.messages.append("%s: %s" % (op, detail))

    def cycle_done(self, i, failures_before):
        """After cycle i: False (and a recorded failure) when the phase
        must stop, MAX_FAILED_CYCLES cycles in a row having failed."""
        self.failed_in_row = self.failed_in_row + 1 if self.nfail > failures_before else 0
        if self.failed_in_row < MAX_FAILED_CYCLES:
            return True
        self.record("phase aborted", False, 0,
                    "%d cycles in a row failed; stopped after cycle %d of %d" %
                    (MAX_FAILED_CYCLES, i + 1, self.cycles))
        return False

    def sample(self, run, i):
        if self.window <= i < self.cycles - self.window:
            return
        try:
            m = guest_mem(run)
        except SoakError as e:
            self.record("guest meminfo", False, 0, e)
            return
        (self.mem_first if i < self.window else self.mem_last).append(m)

    def report(self):
        def mean(rows, key):
            vals = [r[key] for r in rows if key in r]
            return sum(vals) / len(vals) if vals else None

        mem = {}
        for key in ("Slab", "SUnreclaim", "MemFree"):
            a, b = mean(self.mem_first, key), mean(self.mem_last, key)
            mem[key] = {"first_kb": a, "last_kb": b,
                        "drift_kb": None if a is None or b is None else b - a}
        return {
            "phase": self.name,
            "cycles": self.cycles,
            "window": self.window,
            "failures": self.failures,
            "messages": self.messages,
            "latency_ms": {op: {"n": len(v), "p50": percentile(v, 50),
                                "p99": percentile(v, 99), "max": max(v)}
                           for op, v in self.lat.items()},
            "memory": mem,
            **self.extra,
        }


def vm_start(run, args, machine_args):
    cmd = [VM, "start", "--dir", run, "--timeout", "300"] + machine_args
    if args.kernel:
        cmd += ["--kernel", args.kernel]
    cmd += ["--append", ("agent.exec=1 " + (args.append or "")).strip()]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SoakError("VM did not start: %s%s" % (p.stdout, p.stderr))
    print("soak: " + p.stdout.strip().splitlines()[-1], flush=True)


def vm_end(run, args):
    """kmemleak (optional) while it runs, stop, console check; returns the
    list of problems found."""
    problems = []
    env = dict(os.environ, E2E_DEBUG="1" if args.kmemleak else "0")
    for check in (["e2e_kmemleak_check", run], None, ["e2e_assert_console_clean", run]):
        if check is None:
            subprocess.run([VM, "stop", "--dir", run], capture_output=True)
            continue
        p = subprocess.run(["bash", "-c", 'source "$0"; "$@"', LIB] + check,
                           capture_output=True, text=True, env=env)
        if p.returncode != 0:
            problems.append(p.stderr.strip())
    return problems


def vsockd_pid(run):
    with open(os.path.join(run, "vsockd.pid")) as f:
        return int(f.read().strip())


def cpu_phases(args, out):
    run = os.path.join(out, "pc")
    vm_start(run, args, ["--machine", "pc", "--cpus", "1", "--maxcpus", "4"])
    results = []
    try:
        mem0 = kernel_memory(run)
        for k in [int(p[3:]) for p in args.phases if p.startswith("cpu")]:
            ph = Phase("cpu%d" % k, args.cycles)
            pid = vsockd_pid(run)
            ph.extra["vsockd_before"] = proc_figures(pid)
            for i in range(args.cycles):
                nfail = ph.nfail
                ok, ms, r = ctl(run, "cpu", "add", str(k))
                ph.record("cpu add %d" % k, ok, ms, r)
                ok, ms, r = ctl(run, "cpu", "del", str(k))
                good = ok and r.get("guest", {}).get("apic_index") == k
                ph.record("cpu del %d" % k, good, ms, r)
                ph.sample(run, i)
                if i % 100 == 99:
                    print("soak: %s cycle %d" % (ph.name, i + 1), flush=True)
                if not ph.cycle_done(i, nfail):
                    break
            ph.extra["vsockd_after"] = proc_figures(pid)
            try:
                online = guest_mem(run)["online"]
            except SoakError as e:
                online = "unknown (%s)" % e
            if online != "0":
                ph.record("final state", False, 0, "online CPUs %s, want 0" % online)
            results.append(ph)
        if results:
            results[-1].extra.update(kernel_memory_change(mem0, kernel_memory(run)))
    finally:
        problems = vm_end(run, args)
    if results:
        results[-1].extra["vm_end_problems"] = problems
    return results


def kernel_memory(run):
    """The guest kernel's allocations a phase compares: slabinfo() and
    vmalloc_live(), taken before and after it."""
    return {"slab": slabinfo(run), "vmalloc": vmalloc_live(run)}


def kernel_memory_change(before, after):
    """Report keys for what both samples of kernel_memory() hold:
    slabinfo_growth, vmalloc_live."""
    extra = {}
    if before["slab"] and after["slab"]:
        extra["slabinfo_growth"] = slab_growth(before["slab"], after["slab"])
    if before["vmalloc"] and after["vmalloc"]:
        extra["vmalloc_live"] = {"before": before["vmalloc"], "after": after["vmalloc"]}
    return extra


def slab_growth(a, b):
    diff = {c: b.get(c, 0) - a.get(c, 0) for c in set(a) | set(b)}
    top = sorted(diff.items(), key=lambda kv: -abs(kv[1]))[:8]
    return {c: d for c, d in top if d}


def make_disk(path):
    data = os.urandom(1 << 20)
    with open(path, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


# Waits (in the guest, up to 10 s) for a virtio disk and prints its hash.
READ_CMD = ("for i in $(seq 200); do d=$(ls /sys/block | grep ^vd | head -n1); "
            "[ -n \"$d\" ] && [ -b /dev/$d ] && break; sleep 0.05; done; "
            "sha256sum /dev/$d")


def mmio_cycle(ph, run, i, sha):
    ok, ms, r = ctl(run, "mmio", "add", "--device", "d1")
    ph.record("mmio add", ok, ms, r)
    t0 = now_ms()
    try:
        status, outp = guest_exec(run, READ_CMD)
    except SoakError as e:
        status, outp = None, str(e)
    got = outp.split()[0] if outp.split() else ""
    ph.record("mmio read 1 MiB", status == 0 and got == sha, now_ms() - t0,
              "status %s: %s" % (status, outp.strip()[:200]))
    ok, ms, r = ctl(run, "mmio", "del", "--device", "d1")
    ph.record("mmio del", ok, ms, r)


def mmio_phase(args, out, with_cpu):
    name = "both" if with_cpu else "mmio"
    run = os.path.join(out, name)
    os.makedirs(out, exist_ok=True)
    img = os.path.join(out, name + "-d1.img")
    sha = make_disk(img)
    vm_start(run, args, ["--machine", "microvm", "--cpus", "2", "--disk", "d1=" + img])
    ph = Phase(name, args.cycles)
    try:
        mem0 = kernel_memory(run)
        pid = vsockd_pid(run)
        ph.extra["vsockd_before"] = proc_figures(pid)
        stop = threading.Event()
        cpu_thread = None
        if with_cpu:
            # Second client: DEL_CPU / ADD_CPU of boot vCPU 1 (APIC ID 1,
            # parked in QEMU between the two), without QMP.
            def cpu_loop():
                while not stop.is_set():
                    for op in ("del", "add"):
                        ok, ms, r = ctl(run, "cpu", op, "--apic-id", "1", uds_only=True)
                        ph.record("cpu %s apic 1 (concurrent)" % op, ok, ms, r)
            cpu_thread = threading.Thread(target=cpu_loop)
            cpu_thread.start()
        try:
            for i in range(args.cycles):
                nfail = ph.nfail
                mmio_cycle(ph, run, i, sha)
                ph.sample(run, i)
                if i % 100 == 99:
                    print("soak: %s cycle %d" % (name, i + 1), flush=True)
                if not ph.cycle_done(i, nfail):
                    break
        finally:
            stop.set()
            if cpu_thread:
                cpu_thread.join()
        ph.extra["vsockd_after"] = proc_figures(pid)
        ph.extra.update(kernel_memory_change(mem0, kernel_memory(run)))
    finally:
        ph.extra["vm_end_problems"] = vm_end(run, args)
    return [ph]


def print_report(rep):
    print("\n== %s: %d cycles (memory windows: first/last %d) ==" %
          (rep["phase"], rep["cycles"], rep["window"]))
    print("  %-32s %6s %6s %9s %9s %9s" % ("operation", "n", "fail", "p50 ms", "p99 ms", "max ms"))
    for op, l in rep["latency_ms"].items():
        print("  %-32s %6d %6d %9.1f %9.1f %9.1f" %
              (op, l["n"], rep["failures"].get(op, 0), l["p50"], l["p99"], l["max"]))
    for key, m in rep["memory"].items():
        if m["drift_kb"] is not None:
            print("  guest %-10s first %9.0f kB  last %9.0f kB  drift %+8.0f kB" %
                  (key, m["first_kb"], m["last_kb"], m["drift_kb"]))
        elif m["first_kb"] is not None:
            print("  guest %-10s first %9.0f kB  last: not sampled (phase stopped early)" %
                  (key, m["first_kb"]))
    if "slabinfo_growth" in rep:
        print("  slabinfo active objects, largest changes: %s" %
              (", ".join("%s %+d" % kv for kv in rep["slabinfo_growth"].items()) or "none"))
    if "vmalloc_live" in rep:
        b, a = rep["vmalloc_live"]["before"], rep["vmalloc_live"]["after"]
        print("  guest vmalloc areas (/proc/vmallocinfo): mapped %d -> %d (ioremap %d -> %d), "
              "freed but not yet purged %d -> %d" %
              (b["areas"], a["areas"], b["ioremap"], a["ioremap"],
               b.get("unpurged", 0), a.get("unpurged", 0)))
    if "vsockd_before" in rep:
        b, a = rep["vsockd_before"], rep["vsockd_after"]
        print("  upcall-vsockd fds %d -> %d, RSS %d -> %d kB (anon %d -> %d, guest RAM %d -> %d)" %
              (b["fds"], a["fds"], b["rss_kb"], a["rss_kb"], b.get("anon_kb", 0),
               a.get("anon_kb", 0), b.get("shmem_kb", 0), a.get("shmem_kb", 0)))
    for m in rep["messages"]:
        print("  FAIL " + m)
    for p in rep.get("vm_end_problems", []):
        print("  END-OF-VM " + p.replace("\n", "\n    "))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=int(os.environ.get("SOAK_CYCLES", "1000")))
    ap.add_argument("--phases", default="cpu1,cpu3,mmio")
    ap.add_argument("--out", default=os.path.join(TOP, "build", "soak", "normal"))
    ap.add_argument("--kernel")
    ap.add_argument("--append", default="")
    ap.add_argument("--kmemleak", action="store_true")
    args = ap.parse_args()
    args.phases = [p for p in args.phases.split(",") if p]
    bad = set(args.phases) - {"cpu1", "cpu3", "mmio", "both"}
    if bad or args.cycles < 1:
        ap.error("phases are cpu1,cpu3,mmio,both; cycles >= 1")
    os.makedirs(args.out, exist_ok=True)
    start = time.monotonic()
    results = []
    try:
        if any(p.startswith("cpu") for p in args.phases):
            results += cpu_phases(args, args.out)
        if "mmio" in args.phases:
            results += mmio_phase(args, args.out, with_cpu=False)
        if "both" in args.phases:
            results += mmio_phase(args, args.out, with_cpu=True)
    except SoakError as e:
        print("soak: error: %s" % e, file=sys.stderr)
        return 1
    reports = [r.report() for r in results]
    for rep in reports:
        print_report(rep)
    failed = sum(sum(r["failures"].values()) + len(r.get("vm_end_problems", [])) for r in reports)
    summary = {"kernel": args.kernel or "build/guest/bzImage", "cycles": args.cycles,
               "seconds": round(time.monotonic() - start), "failures": failed,
               "phases": reports}
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("\nsoak: %d failure(s) in %d s; report in %s" %
          (failed, summary["seconds"], os.path.join(args.out, "report.json")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

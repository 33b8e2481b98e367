#!/usr/bin/env python3
"""upcall-ctl's own cost per command, against a running guest (figures only).

Usage: ctl-probe.py RUN_DIR [--before CTL] [--runs N]

RUN_DIR is a `tools/vm start --machine pc` run folder (hot-add some vCPUs
first: each plugged vCPU costs a qom-get per command). Alternating, N times
each, times from spawn to exit (ms, host CLOCK_MONOTONIC):
  qmp    `--run DIR cpu del --apic-id 254`: QMP connect, slots, APIC IDs,
         then "no such vCPU" (exit 4): no guest request
  guest  `--uds DIR/vsock.sock cpu del --apic-id 254`: connect, greeting,
         a DEL_CPU the guest refuses at once (exit 1)
  start  `--version`: process start alone
for build/bin/upcall-ctl and, with --before, another build; then the same
two probes as lines of one `upcall-ctl --json batch` (held connections).
Used for docs/hotplug-bench.md ("Held connections, and the per-command
cost").
"""
import argparse
import json
import os
import select
import statistics
import subprocess
import time

TOP = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
CTL = os.path.join(TOP, "build", "bin", "upcall-ctl")


def once(ctl, args, rc):
    t = time.monotonic()
    r = subprocess.run([ctl] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=30).returncode
    if r != rc:
        raise SystemExit("%s %s: exit %d, expected %d" % (ctl, " ".join(args), r, rc))
    return (time.monotonic() - t) * 1000


def held(args, line, rc, n):
    p = subprocess.Popen([CTL, "--json"] + args + ["batch"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    fd, buf, out = p.stdout.fileno(), b"", []
    try:
        for _ in range(n):
            t = time.monotonic()
            p.stdin.write(line.encode() + b"\n")
            p.stdin.flush()
            while b"\n" not in buf:
                if not select.select([fd], [], [], 30)[0]:
                    raise SystemExit("batch: no answer in 30 s")
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise SystemExit("batch ended")
                buf += chunk
            out.append((time.monotonic() - t) * 1000)
            first, buf = buf.split(b"\n", 1)
            if json.loads(first).get("exit_code", 0) != rc:
                raise SystemExit("batch: %s" % first.decode())
    finally:
        p.stdin.close()
        p.wait(timeout=30)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run")
    ap.add_argument("--before", help="another upcall-ctl build to compare")
    ap.add_argument("--runs", type=int, default=40)
    a = ap.parse_args()
    qmp = ["--run", a.run, "cpu", "del", "--apic-id", "254"]
    guest = ["--uds", os.path.join(a.run, "vsock.sock"), "cpu", "del", "--apic-id", "254"]
    builds = [("this build", CTL)] + ([("before", a.before)] if a.before else [])
    res = {}
    for _ in range(a.runs):
        for name, ctl in builds:
            res.setdefault("qmp, %s" % name, []).append(once(ctl, qmp, 4))
            res.setdefault("guest, %s" % name, []).append(once(ctl, guest, 1))
            res.setdefault("start, %s" % name, []).append(once(ctl, ["--version"], 0))
    res["qmp, held (batch line)"] = held(qmp[:2], "cpu del --apic-id 254", 4, a.runs)
    res["guest, held (batch line)"] = held(guest[:2], "cpu del --apic-id 254", 1, a.runs)
    print("load average: " + open("/proc/loadavg").read().strip())
    for k, v in res.items():
        v.sort()
        print("%-28s n=%d p10 %6.2f p50 %6.2f p90 %6.2f ms"
              % (k, len(v), v[len(v) // 10], statistics.median(v), v[9 * len(v) // 10]))


if __name__ == "__main__":
    main()

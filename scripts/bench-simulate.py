#!/usr/bin/env python3
"""Simulator benchmark: `fleetcmd simulate` vs a Python asyncio fleet (Benchmarks/baseline_fleet.py), same run.

For 10,000 and 50,000 devices (one address of 127/8 each, port 19100): time until every device listens (the
ready file), resident memory of the whole process tree once ready, and, at 10,000 devices, the replies/s a
fleet run's pattern gets (FleetBench fanout: 200 conversations at once, each a new connection to the next
device, one command, close). Prints a Markdown table with ratios against the baseline. Run by hand:

    scripts/bench-simulate.py          # builds release binaries first
"""
import json
import os
import subprocess
import sys
import tempfile
import time

from bench_common import ROOT, build_fleetbench, build_fleetcmd, raise_nofile, stop

PORT = 19100








def tree(pid):
    """The pid and all its descendants (children of every thread: workers are spawned from any thread)."""
    pids, seen = [pid], []
    while pids:
        p = pids.pop()
        seen.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    pids += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            pass
    return seen


def tree_rss_kb(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (FileNotFoundError, StopIteration):
            pass
    return total


def tree_cpu_seconds(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except FileNotFoundError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def start(kind, fleetcmd, devices, second_octet, ready):
    base = f"127.{second_octet}.0.0"
    if kind == "fleetcmd simulate":
        argv = [fleetcmd, "simulate", "--devices", str(devices), "--addresses", f"{base}/16", "--port", str(PORT),
                "--ready-file", ready]
    else:
        argv = [sys.executable, os.path.join(ROOT, "Benchmarks/baseline_fleet.py"), base, str(devices), str(PORT), ready]
    began = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, preexec_fn=raise_nofile)
    while not os.path.exists(ready):
        if proc.poll() is not None:
            raise SystemExit(f"{kind} stopped while starting")
        if time.monotonic() - began > 300:
            proc.kill()
            raise SystemExit(f"{kind} did not get ready in 300 s")
        time.sleep(0.01)
    return proc, time.monotonic() - began, base





def main():
    raise_nofile()
    fleetcmd, bench = build_fleetcmd(), build_fleetbench()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for devices in (10_000, 50_000):
            results = {}
            kinds = ["fleetcmd simulate", "asyncio baseline"]
            before = sys.argv[sys.argv.index("--before") + 1] if "--before" in sys.argv else None
            if before:  # --before PATH: an earlier commit's fleetcmd, measured in the same run
                kinds.insert(1, "fleetcmd simulate (--before)")
            for index, kind in enumerate(kinds):
                ready = os.path.join(scratch, f"ready-{devices}-{index}")
                binary = before if kind.endswith("(--before)") else fleetcmd
                proc, took, base = start(kind.removesuffix(" (--before)"), binary, devices, 70 + index, ready)
                try:
                    time.sleep(1)
                    rss = tree_rss_kb(proc.pid)
                    load = None
                    if devices == 10_000:
                        cpu = tree_cpu_seconds(proc.pid)
                        out = subprocess.run([bench, "fanout", base, str(devices), str(PORT), "200", "5"],
                                             capture_output=True, text=True, check=True, preexec_fn=raise_nofile).stdout
                        load = json.loads(out)
                        load["cpu"] = (tree_cpu_seconds(proc.pid) - cpu) / load["seconds"]
                    results[kind] = (took, rss, load)
                finally:
                    stop(proc)
                time.sleep(2)  # let the sockets of the last run go
            rows.append((devices, results))
    print("| devices | simulator | ready in | RSS (all processes) | replies/s, new connection each (200 at once) | p50 / p99 ms | simulator CPU under that load |")
    print("|---|---|---|---|---|---|---|")
    for devices, results in rows:
        bt, brss, bload = results["asyncio baseline"]
        for kind, (took, rss, load) in results.items():
            rate = "" if load is None else f"{load['replies_per_s']:,.0f} ({load['replies_per_s'] / bload['replies_per_s']:.1f}x), {load['failures']} failed"
            lat = "" if load is None else f"{load['p50_ms']:.2f} / {load['p99_ms']:.2f}"
            cpu = "" if load is None else f"{load['cpu'] * 100:.0f} % of a core ({load['cpu'] / bload['cpu']:.2f}x)"
            print(f"| {devices:,} | {kind} | {took:.2f} s ({bt / took:.1f}x faster) | {rss / 1024:.0f} MB ({rss / brss:.2f}x) | {rate} | {lat} | {cpu} |")


if __name__ == "__main__":
    main()

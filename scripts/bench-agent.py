#!/usr/bin/env python3
"""Agent benchmark: fleetcmd agent vs an article-style asyncio agent, measured in the same run.

Reports, for each agent: replies/s and p50/p99 latency under pipelined load (Benchmarks' FleetBench load
generator, closed loop), and RSS holding 10,000 idle connections. Figures are printed as a Markdown table
with ratios against the baseline. Run by hand (not in CI):

    scripts/bench-agent.py            # builds release binaries first
"""
import json
import os
import socket
import subprocess
import sys
import time

from bench_common import ROOT, build_fleetbench, build_fleetcmd, raise_nofile









def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_fleetcmd(binary):
    port = free_port()
    proc = subprocess.Popen([binary, "agent", "--bind", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                             "--max-connections", "19000", "--max-connections-per-source", "19000", "--idle-timeout", "10m"],
                            stderr=subprocess.PIPE, text=True, preexec_fn=raise_nofile)
    for line in proc.stderr:
        if "agent listening" in line:
            break
    return proc, port


def start_baseline():
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "Benchmarks/baseline_agent.py"), str(port)],
                            stdout=subprocess.PIPE, text=True, preexec_fn=raise_nofile)
    proc.stdout.readline()
    return proc, port


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def load(bench, port, connections, depth, seconds):
    out = subprocess.run([bench, "load", "127.0.0.1", str(port), str(connections), str(depth), str(seconds)],
                         capture_output=True, text=True, check=True, preexec_fn=raise_nofile).stdout
    return json.loads(out)


def idle_rss(pid, port, count=10_000):
    before = rss_kb(pid)
    socks = []
    for i in range(count):
        s = socket.socket()
        s.bind((f"127.0.{10 + i // 250}.{i % 250 + 1}", 0))
        s.connect(("127.0.0.1", port))
        socks.append(s)
    # Make sure the agent has accepted them all: a PING on the last one must be answered.
    socks[-1].sendall(b"\x1bPING\r")
    socks[-1].settimeout(30)
    assert socks[-1].recv(16).startswith(b"PONG")
    time.sleep(1)  # let the agent settle after accepting 10,000 connections
    after = rss_kb(pid)
    for s in socks:
        s.close()
    return before, after


def main():
    raise_nofile()
    fleetcmd, bench = build_fleetcmd(), build_fleetbench()
    results = {}
    runs = [("fleetcmd agent", lambda: start_fleetcmd(fleetcmd)), ("asyncio baseline", start_baseline)]
    if "--before" in sys.argv:  # --before PATH: an earlier commit's fleetcmd, measured in the same run
        before = sys.argv[sys.argv.index("--before") + 1]
        runs.insert(1, ("fleetcmd agent (--before)", lambda: start_fleetcmd(before)))
    for name, starter in runs:
        proc, port = starter()
        try:
            results[name] = {
                "pipelined": load(bench, port, 100, 16, 5),
                "single": load(bench, port, 1, 1, 3),
                "idle": idle_rss(proc.pid, port),
            }
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    base = results["asyncio baseline"]
    print("| agent | replies/s (100 conns x 16 in flight) | p50 / p99 ms | replies/s (1 conn, 1 in flight) | RSS idle -> 10,000 conns |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        p, s, (before, after) = r["pipelined"], r["single"], r["idle"]
        ratio = p["replies_per_s"] / base["pipelined"]["replies_per_s"]
        ratio1 = s["replies_per_s"] / base["single"]["replies_per_s"]
        print(f"| {name} | {p['replies_per_s']:,.0f} ({ratio:.1f}x) | {p['p50_ms']:.2f} / {p['p99_ms']:.2f} | "
              f"{s['replies_per_s']:,.0f} ({ratio1:.1f}x) | {before / 1024:.1f} MB -> {after / 1024:.1f} MB "
              f"({(after - before) / 10_000:.1f} KB/conn) |")


if __name__ == "__main__":
    main()

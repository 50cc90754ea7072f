#!/usr/bin/env python3
"""Agent benchmark: `fleetcmd agent` at its default settings against a minimal C epoll server, same run.

The yardsticks are C (Benchmarks/ceiling): `lean_server` answers every ESC ... CR frame with PONG NUL and does
nothing else; `lean_load` is the load generator for every server, so no server is measured through a slower
client. Jobs, each run in alternating rounds (the machine is noisy; medians are reported):

  pipelined   64 connections x 16 PINGs in flight
  ping-pong   1 connection, 1 PING in flight
  connect     32 at once: a new connection per PING (connect, PING, reply, close)

Servers: the C server; fleetcmd agent with its defaults (info level: one audit line per command, to a file as a
service's stderr would be); the same with --log-level warning; optionally an earlier binary (--before BIN); the
article-style asyncio agent. Also: the agent's resident memory for 10,000 idle connections, and CPU seconds per
100,000 replies in the pipelined job. Run by hand (not in CI):

    scripts/bench-agent.py [--rounds 3] [--seconds 3] [--before PATH]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from bench_common import ROOT, build_c, build_fleetcmd, cpu_seconds, median, raise_nofile

PORT = 19401
JOBS = [("pipelined", ["pipelined", "64", "16"]), ("ping-pong", ["pipelined", "1", "1"]), ("connect", ["connect", "32"])]


def wait_listening(port, proc, timeout=20):
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not listen")


def start(server, log):
    kind, binary, extra = server
    if kind == "c":
        argv = [binary, "127.0.0.1", str(PORT)]
    elif kind == "python":
        argv = [sys.executable, os.path.join(ROOT, "Benchmarks/baseline_agent.py"), str(PORT)]
    else:
        argv = [binary, "agent", "--bind", "127.0.0.1", "--port", str(PORT), "--max-connections", "19000",
                "--max-connections-per-source", "19000", "--idle-timeout", "10m", *extra]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, preexec_fn=raise_nofile)
    wait_listening(PORT, proc)
    return proc


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def idle_rss(pid, count=10_000):
    before = rss_kb(pid)
    socks = []
    for i in range(count):
        s = socket.socket()
        s.bind((f"127.0.{10 + i // 250}.{i % 250 + 1}", 0))
        s.connect(("127.0.0.1", PORT))
        socks.append(s)
    socks[-1].sendall(b"\x1bPING\r")
    socks[-1].settimeout(30)
    assert socks[-1].recv(16).startswith(b"PONG")
    time.sleep(1)
    after = rss_kb(pid)
    for s in socks:
        s.close()
    return (after - before) * 1024 / count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--before", help="an earlier fleetcmd binary, measured at its defaults in the same run")
    parser.add_argument("--no-python", action="store_true")
    options = parser.parse_args()
    raise_nofile()
    fleetcmd, server, load = build_fleetcmd(), build_c("lean_server"), build_c("lean_load")
    servers = {"C epoll server": ("c", server, []), "fleetcmd agent (defaults)": ("fleetcmd", fleetcmd, []),
               "fleetcmd agent --log-level warning": ("fleetcmd", fleetcmd, ["--log-level", "warning"])}
    if options.before:
        servers["earlier fleetcmd (defaults)"] = ("fleetcmd", options.before, [])
    if not options.no_python:
        servers["asyncio baseline"] = ("python", None, [])
    results = {name: {job: [] for job, _ in JOBS} | {"cpu": []} for name in servers}
    for round_number in range(options.rounds):
        for name, spec in servers.items():
            with tempfile.TemporaryFile() as log:
                proc = start(spec, log)
                try:
                    for job, args in JOBS:
                        cpu_before = cpu_seconds(proc.pid)
                        out = subprocess.run([load, args[0], "127.0.0.1", str(PORT), *args[1:], str(options.seconds)],
                                             capture_output=True, text=True, check=True).stdout
                        figures = json.loads(out)
                        results[name][job].append(figures["replies_per_s"])
                        if job == "pipelined":
                            results[name]["cpu"].append((cpu_seconds(proc.pid) - cpu_before) / figures["replies"] * 1e5)
                finally:
                    stop(proc)
        print(f"round {round_number + 1} of {options.rounds} done", file=sys.stderr)
    idle = {}
    for name, spec in servers.items():
        if spec[0] == "fleetcmd":
            with tempfile.TemporaryFile() as log:
                proc = start(spec, log)
                try:
                    idle[name] = idle_rss(proc.pid)
                finally:
                    stop(proc)
    c = results["C epoll server"]
    print(f"medians of {options.rounds} alternating rounds of {options.seconds:g} s; ratios against the C server "
          "measured in the same run")
    print()
    print("| server | pipelined replies/s | ping-pong replies/s | connection per command replies/s | "
          "CPU-s per 100k replies (pipelined) | idle connection |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        cells = []
        for job, _ in JOBS:
            value = median(r[job])
            cells.append(f"{value:,.0f} ({value / median(c[job]):.2f}x)")
        cpu = median(r["cpu"])
        cells.append(f"{cpu:.2f} ({cpu / median(c['cpu']):.1f}x C)")
        cells.append(f"{idle[name] / 1024:.1f} KB" if name in idle else "")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

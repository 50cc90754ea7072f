#!/usr/bin/env python3
"""Runner benchmark: `fleetcmd run` (default settings: journal on; `--format jsonl` read from a pipe) vs the minimal C epoll client
(Benchmarks/ceiling/lean_fanout.c) and an asyncio fan-out (Benchmarks/baseline_fanout.py), same run, same fleet.

Starts `fleetcmd simulate` (a separate process) with N devices (one 127/8 address each), then runs PING across
the whole fleet with each client: devices/s, peak RSS and CPU seconds (from wait4). Two fleets: instant replies,
and every device taking 5 ms to answer. Prints a Markdown table with ratios against C and against asyncio, and a
devices-vs-seconds plot (docs/runner-bench.svg) when asked.

A third fleet is not ours at all: the C server (Benchmarks/ceiling/lean_server.c) listening on the same N
addresses (sizes up to 15,000: a socket each). The simulator is fleetcmd, shares the machine's two cores with the
client under test and is slower than C, which hides part of a client's cost; against C devices the runner's own
cost shows whole (the hardest yardstick here). Run by hand:

    scripts/bench-run.py [--sizes 1000,10000,50000] [--rounds 5] [--plot docs/runner-bench.svg] [--no-c-fleet]
        [--before OTHER_FLEETCMD]

The machine is noisy (a single run moves by 20% and more): with --rounds N every client runs N times in turn,
alternating, against the same fleet, and each figure is the median run's (by wall time).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from bench_common import ROOT, build_c, build_fleetcmd, raise_nofile, start_simulator, stop

PORT = 19500
C_FLEET_MAX = 15_000


def start_c_fleet(server, size, inventory):
    """The C server on the simulator's addresses (127.80.0.1 onwards), and an inventory listing them."""
    proc = subprocess.Popen([server, "127.80.0.1", str(PORT), str(size)], stdout=subprocess.PIPE, text=True,
                            preexec_fn=raise_nofile)
    if proc.stdout.readline().strip() != "listening":
        raise SystemExit("the C fleet did not start")
    with open(inventory, "w") as f:
        for index in range(size):
            f.write(f"127.80.{(index + 1) >> 8}.{(index + 1) & 0xFF}:{PORT}\n")
    return proc








def timed(argv, stdout=subprocess.DEVNULL):
    """Runs argv; returns (seconds, peak RSS MB, CPU seconds, stdout text)."""
    began = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE if stdout is None else stdout, stderr=subprocess.DEVNULL,
                            preexec_fn=raise_nofile, text=True)
    out = proc.stdout.read() if stdout is None else ""
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.monotonic() - began
    return took, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--plot")
    parser.add_argument("--before", help="another fleetcmd binary (an earlier commit's) to run against the same fleets")
    parser.add_argument("--no-c-fleet", action="store_true", help="skip the fleet of C devices")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each client, in turn; medians reported")
    options = parser.parse_args()
    raise_nofile()
    fleetcmd = build_fleetcmd()
    c_client = os.path.join(tempfile.gettempdir(), "fleetcmd-lean-fanout")
    subprocess.run(["gcc", "-O2", "-o", c_client, os.path.join(ROOT, "Benchmarks/ceiling/lean_fanout.c")], check=True)
    c_server = build_c("lean_server")
    rows = []

    def clients(scratch, latency, size, inventory):
        """Runs each client `--rounds` times in turn across the fleet that is up; returns the median run of each
        (ours, asyncio, C, before)."""
        runs = {"ours": [], "base": [], "c": [], "before": []}
        for round in range(options.rounds):
            # As users run it: journal on, one JSON line per device read from a pipe as results arrive.
            ours = timed([fleetcmd, "run", "-i", inventory, "--forks", "1000", "--retries", "0", "--format", "jsonl",
                          "--journal", os.path.join(scratch, f"j-{latency}-{size}-{time.time()}.jsonl"), "PING"],
                         stdout=None)
            assert len(ours[3].splitlines()) == size, "a result line per device"
            runs["ours"].append(ours)
            base = timed([sys.executable, os.path.join(ROOT, "Benchmarks/baseline_fanout.py"), inventory, "PING",
                          "1000"], stdout=None)
            base_result = json.loads(base[3])
            assert base_result["failed"] == 0, base_result
            runs["base"].append(base)
            c = timed([c_client, "127.80.0.0", str(size), str(PORT), "1000"], stdout=None)
            assert c[3].startswith(f"{size} ok of {size}"), c[3]
            runs["c"].append(c)
            if options.before:
                before = timed([options.before, "run", "-i", inventory, "--forks", "1000", "--retries", "0",
                                "--format", "jsonl", "--journal",
                                os.path.join(scratch, f"b-{latency}-{size}-{time.time()}.jsonl"), "PING"],
                               stdout=None)
                assert len(before[3].splitlines()) == size, "a result line per device"
                runs["before"].append(before)

        def median(results):
            return sorted(results, key=lambda run: run[0])[len(results) // 2] if results else None

        return median(runs["ours"]), median(runs["base"]), median(runs["c"]), median(runs["before"])

    with tempfile.TemporaryDirectory() as scratch:
        for latency in ("0", "5ms"):
            profile = os.path.join(scratch, f"p{latency}.yaml")
            with open(profile, "w") as f:
                f.write("faults: []\n" if latency == "0" else f"faults:\n  - {{kind: latency, rate: 1, fixed: {latency}}}\n")
            for size in [int(s) for s in options.sizes.split(",")]:
                ready = os.path.join(scratch, f"ready-{latency}-{size}")
                inventory = os.path.join(scratch, f"fleet-{size}.txt")
                sim, _ = start_simulator(fleetcmd, ready, "--devices", str(size), "--addresses", "127.80.0.0/16",
                                         "--port", str(PORT), "--profile", profile, "--inventory-out", inventory)
                try:
                    ours, base, c, before = clients(scratch, latency, size, inventory)
                finally:
                    stop(sim)
                rows.append((latency, size, ours, base, c, before))
                time.sleep(1)
        if not options.no_c_fleet:
            for size in [int(s) for s in options.sizes.split(",") if int(s) <= C_FLEET_MAX]:
                inventory = os.path.join(scratch, f"c-fleet-{size}.txt")
                fleet = start_c_fleet(c_server, size, inventory)
                try:
                    ours, base, c, before = clients(scratch, "C devices", size, inventory)
                finally:
                    stop(fleet)
                rows.append(("C devices", size, ours, base, c, before))
                time.sleep(1)
    print("| replies | devices | fleetcmd run: devices/s | peak RSS | CPU s | C epoll: devices/s | CPU s | vs C | asyncio: devices/s | CPU s | vs asyncio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for latency, size, ours, base, c, _ in rows:
        print(f"| {label(latency)} | {size:,} | {size / ours[0]:,.0f} | {ours[1]:.0f} MB | {ours[2]:.2f} | "
              f"{size / c[0]:,.0f} | {c[2]:.2f} | **{c[0] / ours[0]:.2f}×** | "
              f"{size / base[0]:,.0f} | {base[2]:.2f} | **{base[0] / ours[0]:.1f}×** |")
    if options.before:
        print()
        print("| replies | devices | this build: devices/s | CPU s | --before: devices/s | CPU s | speed vs before | CPU vs before |")
        print("|---|---|---|---|---|---|---|---|")
        for latency, size, ours, _, _, before in rows:
            print(f"| {label(latency)} | {size:,} | {size / ours[0]:,.0f} | {ours[2]:.2f} | "
                  f"{size / before[0]:,.0f} | {before[2]:.2f} | **{before[0] / ours[0]:.2f}×** | {ours[2] / before[2]:.2f}× |")
    if options.plot:
        plot(rows, options.plot)


def label(latency):
    return {"0": "instant", "C devices": "instant, C devices"}.get(latency, latency)


def plot(rows, path):
    """A small SVG: devices (x) vs seconds (y), one line per client and latency."""
    width, height, margin = 640, 360, 50
    max_devices = max(r[1] for r in rows)
    max_seconds = max(max(r[2][0], r[3][0]) for r in rows)
    series = {}
    for latency, size, ours, base, _, _ in rows:
        if latency == "C devices":
            continue
        series.setdefault(f"fleetcmd run ({label(latency)})", []).append((size, ours[0]))
        series.setdefault(f"asyncio ({label(latency)})", []).append((size, base[0]))
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
             f'<line x1="{margin}" y1="{height - margin}" x2="{width - 10}" y2="{height - margin}" stroke="black"/>',
             f'<line x1="{margin}" y1="10" x2="{margin}" y2="{height - margin}" stroke="black"/>',
             f'<text x="{width / 2}" y="{height - 10}" text-anchor="middle">devices (max {max_devices:,})</text>',
             f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" text-anchor="middle">seconds (max {max_seconds:.1f})</text>']
    for index, (name, points) in enumerate(series.items()):
        coords = " ".join(f"{margin + (width - margin - 10) * d / max_devices:.1f},{height - margin - (height - margin - 10) * s / max_seconds:.1f}" for d, s in sorted(points))
        parts.append(f'<polyline fill="none" stroke="{colors[index % 4]}" stroke-width="2" points="{coords}"/>')
        parts.append(f'<text x="{margin + 10}" y="{20 + 14 * index}" fill="{colors[index % 4]}">{name}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A/B: two fleetcmd binaries (this build and an earlier commit's) running the same `run` against the same
simulated fleet, alternating A, B, A, B, … so that neither gets the quieter turns; prints the medians.

    scripts/bench-ab.py --before /tmp/fleetcmd-OLD [--devices 10000] [--rounds 5] [--latency 0|5ms]

Devices/s is end to end (process start, inventory, journal, output); CPU from wait4. Run by hand.
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time

from bench_common import build_fleetcmd, raise_nofile, start_simulator, stop

PORT = 19600


def timed(argv):
    began = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=raise_nofile)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, argv
    return time.monotonic() - began, usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True)
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency", default="0")
    options = parser.parse_args()
    raise_nofile()
    after = build_fleetcmd()
    with tempfile.TemporaryDirectory() as scratch:
        profile = os.path.join(scratch, "p.yaml")
        with open(profile, "w") as f:
            f.write("faults: []\n" if options.latency == "0" else
                    f"faults:\n  - {{kind: latency, rate: 1, fixed: {options.latency}}}\n")
        inventory = os.path.join(scratch, "fleet.txt")
        sim, _ = start_simulator(after, os.path.join(scratch, "ready"), "--devices", str(options.devices),
                                 "--addresses", "127.82.0.0/16", "--port", str(PORT), "--profile", profile,
                                 "--inventory-out", inventory)
        results = {"after": [], "before": []}
        try:
            for round in range(options.rounds):
                order = [("after", after), ("before", options.before)]
                if round % 2:
                    order.reverse()
                for name, binary in order:
                    journal = os.path.join(scratch, f"{name}-{round}.jsonl")
                    results[name].append(timed([binary, "run", "-i", inventory, "--forks", "1000", "--retries", "0",
                                                "--journal", journal, "PING"]))
                    time.sleep(1)
        finally:
            stop(sim)
    print(f"{options.devices:,} devices, replies {'instant' if options.latency == '0' else options.latency}, "
          f"{options.rounds} rounds each, alternating")
    print("| build | devices/s (median) | CPU s (median) |")
    print("|---|---|---|")
    medians = {}
    for name in ("after", "before"):
        seconds = statistics.median(r[0] for r in results[name])
        cpu = statistics.median(r[1] for r in results[name])
        medians[name] = (seconds, cpu)
        print(f"| {name} | {options.devices / seconds:,.0f} | {cpu:.2f} |")
    print(f"after vs before: speed {medians['before'][0] / medians['after'][0]:.2f}×, "
          f"CPU {medians['after'][1] / medians['before'][1]:.2f}×")


if __name__ == "__main__":
    main()

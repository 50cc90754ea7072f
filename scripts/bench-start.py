#!/usr/bin/env python3
"""Start-up benchmark: `fleetcmd send HOST:PORT PING` as a whole process against the article's client in C
(Benchmarks/ceiling/lean_send.c), both answered by the C server (Benchmarks/ceiling/lean_server.c), same run.

Also `fleetcmd --version` (start-up and argument parsing, no network) and /bin/true (what starting any process
costs here), the shipped binary's size (stripped, as scripts/release.sh installs it) and how many symbols it exports.
Rounds alternate between the programs, so a noisy moment hits all of them; figures are medians. Run by hand:

    scripts/bench-start.py [--runs 200] [--before OTHER_FLEETCMD]
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import time

from bench_common import build_c, build_fleetcmd, median

PORT = 19180


def once(argv):
    began = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    took = time.perf_counter() - began
    return took, done


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--before", help="another fleetcmd binary (an earlier commit's), measured in the same rounds")
    options = parser.parse_args()
    fleetcmd = build_fleetcmd()
    server = subprocess.Popen([build_c("lean_server"), "127.0.0.1", str(PORT)], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        send = build_c("lean_send")
        target = f"127.0.0.1:{PORT}"
        programs = {
            "/bin/true (any process)": ["/bin/true"],
            "C one-shot client": [send, "127.0.0.1", str(PORT), "PING"],
            "fleetcmd --version": [fleetcmd, "--version"],
            "fleetcmd send": [fleetcmd, "send", target, "PING"],
        }
        if options.before:
            programs["--before: fleetcmd --version"] = [options.before, "--version"]
            programs["--before: fleetcmd send"] = [options.before, "send", target, "PING"]
        for name, argv in programs.items():  # each answers once before timing, and answers right
            _, done = once(argv)
            assert done.returncode == 0, (name, done.returncode)
            if "send" in name or "C one-shot" in name:
                assert done.stdout.strip() == b"PONG", (name, done.stdout)
        times = {name: [] for name in programs}
        for _ in range(options.runs):
            for name, argv in programs.items():
                times[name].append(once(argv)[0])
    finally:
        server.terminate()
        server.wait()
    c = median(times["C one-shot client"])
    print(f"{options.runs} runs each, medians (ms), rounds alternating:")
    print()
    print("| program | median ms | vs the C one-shot client |")
    print("|---|---|---|")
    for name in programs:
        value = median(times[name])
        print(f"| {name} | {value * 1000:.2f} | {value / c:.1f}× |")
    with tempfile.TemporaryDirectory() as scratch:
        stripped = os.path.join(scratch, "fleetcmd")
        shutil.copy(fleetcmd, stripped)
        subprocess.run(["strip", stripped], check=True)
        size = os.path.getsize(stripped)
    symbols = subprocess.run(["readelf", "--dyn-syms", "-W", fleetcmd], stdout=subprocess.PIPE, text=True).stdout
    exported = sum(1 for line in symbols.splitlines()
                   if len(line.split()) >= 8 and line.split()[4] == "GLOBAL" and line.split()[6] != "UND")
    print()
    print(f"binary as shipped (stripped): {size / 1e6:.1f} MB; symbols it exports: {exported}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Inventory scale: `fleetcmd run -i INV --list-hosts` over Ansible INI inventories shaped like the simulator's
(`dev0000001 ansible_host=127.x.y.z fleetcmd_port=19600` under one group), 10k to 1M hosts.

Prints wall seconds, peak RSS and hosts/s per size, the growth factor between sizes (10x hosts should cost ~10x
time: linear), and, as the floor measured in the same run, `awk` splitting the same file into name and address
(what any reader of the file must at least do). The aim (issue 15): 1,000,000 hosts in <= 10 s and <= 2 GiB.

    scripts/bench-inventory.py [--sizes 10000,100000,1000000]
"""
import argparse
import os
import subprocess
import tempfile
import time

from bench_common import build_fleetcmd


def write_inventory(path, size):
    with open(path, "w") as f:
        f.write(f"# A simulated fleet of {size} devices (fleetcmd simulate).\n[simulated]\n")
        for i in range(size):
            a = (127 << 24) + (80 << 16) + 1 + i
            f.write(f"dev{i + 1:07d} ansible_host={a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255} fleetcmd_port=19600\n")


def timed(argv):
    began = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    lines = sum(1 for _ in proc.stdout)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.monotonic() - began, usage.ru_maxrss / 1024, lines, status


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    options = parser.parse_args()
    fleetcmd = build_fleetcmd()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in [int(s) for s in options.sizes.split(",")]:
            path = os.path.join(scratch, f"fleet-{size}.ini")
            write_inventory(path, size)
            ours = timed([fleetcmd, "run", "-i", path, "--list-hosts", "PING"])
            assert ours[3] == 0 and ours[2] == size, ours
            floor = timed(["awk", "NF == 3 { split($2, a, \"=\"); split($3, p, \"=\"); print $1, a[2] \":\" p[2] }", path])
            rows.append((size, ours, floor))
    print("| hosts | fleetcmd --list-hosts | peak RSS | hosts/s | growth vs previous size | awk floor | vs awk |")
    print("|---|---|---|---|---|---|---|")
    previous = None
    for size, ours, floor in rows:
        growth = f"{ours[0] / previous[1][0]:.1f}x time for {size / previous[0]:.0f}x hosts" if previous else ""
        print(f"| {size:,} | {ours[0]:.2f} s | {ours[1]:.0f} MB | {size / ours[0]:,.0f} | {growth} | {floor[0]:.2f} s | "
              f"{floor[0] / ours[0]:.2f}x |")
        previous = (size, ours)


if __name__ == "__main__":
    main()

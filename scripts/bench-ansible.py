#!/usr/bin/env python3
"""Ansible benchmark: the same 500-device job as per-host module tasks (forks 50) and as one run_once
`fleetcmd run`, same run, same simulated fleet. Needs scripts/install-test-deps.sh (ansible-core in
.build/ansible-venv). Prints a Markdown table. Run by hand:

    scripts/bench-ansible.py [--devices 500]
"""
import argparse
import os
import subprocess
import tempfile
import time

from bench_common import ROOT, build_fleetcmd, raise_nofile, start_simulator, stop

VENV = os.path.join(ROOT, ".build", "ansible-venv", "bin")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=500)
    options = parser.parse_args()
    raise_nofile()
    fleetcmd = build_fleetcmd()
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([os.path.join(VENV, "ansible-galaxy"), "collection", "build", os.path.join(ROOT, "ansible/collection"),
                        "--output-path", work], check=True, stdout=subprocess.DEVNULL)
        tarball = next(f for f in os.listdir(work) if f.endswith(".tar.gz"))
        subprocess.run([os.path.join(VENV, "ansible-galaxy"), "collection", "install", os.path.join(work, tarball), "-p",
                        os.path.join(work, "collections")], check=True, stdout=subprocess.DEVNULL)
        os.makedirs(os.path.join(work, "bin"))
        os.symlink(fleetcmd, os.path.join(work, "bin", "fleetcmd"))
        env = dict(os.environ, PATH=f"{work}/bin:{VENV}:{os.environ['PATH']}", ANSIBLE_COLLECTIONS_PATH=os.path.join(work, "collections"),
                   FLEETCMD_STATE_DIR=os.path.join(work, "state"))
        ready = os.path.join(work, "ready")
        inventory = os.path.join(work, "fleet.yaml")
        sim, _ = start_simulator(fleetcmd, ready, "--devices", str(options.devices), "--addresses", "127.82.0.0/16",
                                 "--port", "19600", "--inventory-out", inventory)
        rows = []
        try:
            for name, playbook, forks in (("per-host module (forks 50)", "per-host.yml", "50"), ("run_once fleetcmd run", "fast.yml", "50")):
                began = time.monotonic()
                res = subprocess.run([os.path.join(VENV, "ansible-playbook"), "-i", inventory,
                                      os.path.join(ROOT, "examples/ansible", playbook), "-f", forks],
                                     env=env, capture_output=True, text=True)
                took = time.monotonic() - began
                assert res.returncode == 0, res.stdout[-2000:]
                rows.append((name, took))
        finally:
            stop(sim)
    base = rows[0][1]
    print(f"| {options.devices} devices | seconds | devices/s | ratio |")
    print("|---|---|---|---|")
    for name, took in rows:
        print(f"| {name} | {took:.1f} | {options.devices / took:,.0f} | {base / took:.1f}× faster |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""TLS cost benchmark: the same fleet run over plaintext, TLS, and mutual TLS, measured in the same run.

One `fleetcmd agent` listens on N plaintext addresses (127.4.x.y) and N TLS addresses (127.5.x.y) that share one
certificate (DNS:fleet.test, so the runner checks the name with --servername). `fleetcmd run` sends PING to every
address; the figure is devices/s, reported as ratios against the plaintext run (which uses the runner's lean
socket path; TLS goes through DeviceClient and swift-nio-ssl). Run by hand (not in CI):

    scripts/bench-tls.py [--devices 500] [--rounds 3]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from bench_common import build_fleetcmd, raise_nofile, stop


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=19700)
    args = parser.parse_args()
    raise_nofile()
    fleetcmd = build_fleetcmd()
    work = tempfile.mkdtemp(prefix="fleetcmd-bench-tls-")
    pki = os.path.join(work, "pki")
    subprocess.run([fleetcmd, "tls", "init", "--dir", pki, "--agent", "fleet.test", "--client", "ops"], check=True,
                   stdout=subprocess.DEVNULL)
    n = args.devices
    plain = [f"127.4.{i // 250}.{i % 250 + 1}" for i in range(n)]
    secure = [f"127.5.{i // 250}.{i % 250 + 1}" for i in range(n)]
    config = os.path.join(work, "agent.yaml")
    with open(config, "w") as f:
        listen = [f'"{a}:{args.port}"' for a in plain] + [f'"tls://{a}:{args.port}"' for a in secure]
        f.write(f"listen: [{', '.join(listen)}]\n")
        f.write(f"tls: {{cert: {pki}/agents/fleet.test.pem, key: {pki}/agents/fleet.test.key, "
                f"client_ca: {pki}/ca.pem, client_verification: optional}}\n")
        f.write("limits: {max_connections: 20000, max_connections_per_source: 20000}\nlog_level: error\n")
    agent = subprocess.Popen([fleetcmd, "agent", "--config", config], stderr=subprocess.PIPE, text=True,
                             preexec_fn=raise_nofile)
    seen = 0
    while seen < 2 * n:
        line = agent.stderr.readline()
        if not line:
            raise SystemExit("agent stopped while starting")
        seen += "agent listening on" in line
    inventories = {}
    for name, hosts in [("plain", plain), ("tls", secure)]:
        path = os.path.join(work, f"{name}.txt")
        with open(path, "w") as f:
            f.write("".join(f"{h}:{args.port}\n" for h in hosts))
        inventories[name] = path
    tls_flags = ["--ca-file", f"{pki}/ca.pem", "--servername", "fleet.test"]
    mtls_flags = tls_flags + ["--cert", f"{pki}/clients/ops.pem", "--key", f"{pki}/clients/ops.key"]
    cases = [("plaintext (lean sockets)", "plain", []), ("TLS", "tls", tls_flags), ("mutual TLS", "tls", mtls_flags)]
    results = {label: [] for label, _, _ in cases}
    try:
        for _ in range(args.rounds):
            for label, inventory, flags in cases:
                began = time.monotonic()
                r = subprocess.run([fleetcmd, "run", "-i", inventories[inventory], "--no-journal", "--no-progress",
                                    "--format", "jsonl", "--forks", "200", *flags, "PING"],
                                   capture_output=True, text=True)
                took = time.monotonic() - began
                ok = sum(json.loads(line)["outcome"] == "ok" for line in r.stdout.splitlines())
                if ok != n:
                    raise SystemExit(f"{label}: only {ok}/{n} ok: {r.stderr[-500:]}")
                results[label].append(n / took)
    finally:
        stop(agent)
    base = max(results["plaintext (lean sockets)"])
    print(f"| run over {n} devices (best of {args.rounds}) | devices/s | vs plaintext |")
    print("|---|---|---|")
    for label, _, _ in cases:
        best = max(results[label])
        print(f"| {label} | {best:,.0f} | {best / base:.2f}x |")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Run-store benchmark (issue 18): devices/s of a run shared through PostgreSQL by 1, 2 and 4 `fleetcmd worker`
processes, beside the file-journal runner (`fleetcmd run`, its defaults) and the minimal C epoll client
(Benchmarks/ceiling/lean_fanout.c), same fleet, same run.

A private PostgreSQL cluster (Debian's server, as Tests/interop/pg_support.py starts it for the tests, but with the
server's default durability: fsync on, synchronous commits) on loopback; `fleetcmd simulate` with N devices that
answer at once. For each worker count: a fresh database, `run --store URL --detach PING` (the run and its N device
rows created: timed apart), then K workers `worker --store URL --until-idle` started together; devices/s is N over
the time until the last worker exits. CPU: the workers' (wait4) and the server's (its processes, reaped children
included). Also printed: the store's bytes per device (table and indexes) after a run. Run by hand:

    scripts/bench-store.py [--sizes 10000,50000] [--workers 1,2,4] [--fleetcmd PATH]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

from bench_common import ROOT, build_c, build_fleetcmd, raise_nofile, start_simulator, stop

sys.path.insert(0, os.path.join(ROOT, "Tests", "interop"))
import pg_support  # noqa: E402

PORT = 19600


def wait_all(procs):
    """Waits for every process; returns (seconds since `began` of the first, summed CPU seconds, return codes)."""
    cpu, codes = 0.0, []
    for proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        cpu += usage.ru_utime + usage.ru_stime
        codes.append(os.waitstatus_to_exitcode(status))
    return cpu, codes


def timed(argv):
    began = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=raise_nofile)
    cpu, codes = wait_all([proc])
    return time.monotonic() - began, cpu, codes[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--fleetcmd", help="a release fleetcmd binary (default: build one in .build-release)")
    parser.add_argument("--pgbench-devices", type=int, default=1000000,
                        help="devices in the store-only load (pgbench, no fleetcmd); 0 skips it")
    parser.add_argument("--pgbench-clients", default="1,4,16")
    options = parser.parse_args()
    raise_nofile()
    fleetcmd = options.fleetcmd or build_fleetcmd()
    c_client = build_c("lean_fanout")
    cluster = pg_support.Cluster(settings="")
    rows = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for size in [int(s) for s in options.sizes.split(",")]:
                ready = os.path.join(scratch, f"ready-{size}")
                inventory = os.path.join(scratch, f"fleet-{size}.txt")
                sim, _ = start_simulator(fleetcmd, ready, "--devices", str(size), "--addresses", "127.90.0.0/16",
                                         "--port", str(PORT), "--inventory-out", inventory)
                try:
                    c = timed([c_client, "127.90.0.0", str(size), str(PORT), "1000"])
                    journal = timed([fleetcmd, "run", "-i", inventory, "--retries", "0", "--no-progress", "--journal",
                                     os.path.join(scratch, f"j-{size}.jsonl"), "PING"])
                    assert journal[2] == 0, "every device ok with the file journal"
                    results = {"c": c, "journal": journal}
                    for count in [int(k) for k in options.workers.split(",")]:
                        database = f"bench_{size}_{count}"
                        cluster.create_database(database)
                        url = cluster.url(database).replace(f":{cluster.PASSWORD}@", "@")
                        env = dict(os.environ, PGPASSWORD=cluster.PASSWORD)
                        began = time.monotonic()
                        created = subprocess.run([fleetcmd, "run", "-i", inventory, "--store", url, "--detach",
                                                  "--retries", "0", "PING"], capture_output=True, text=True, env=env)
                        assert created.returncode == 0, created.stderr
                        create_seconds = time.monotonic() - began
                        server_before = cluster.cpu_seconds()
                        began = time.monotonic()
                        workers = [subprocess.Popen([fleetcmd, "worker", "--store", url, "--until-idle"],
                                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                                    preexec_fn=raise_nofile) for _ in range(count)]
                        cpu, codes = wait_all(workers)
                        took = time.monotonic() - began
                        server = cluster.cpu_seconds() - server_before
                        assert codes == [0] * count, codes
                        ok = cluster.psql("SELECT count(*) FROM fleetcmd_devices WHERE outcome = 'ok'", database)
                        assert int(ok) == size, f"{ok} of {size} ok"
                        stored = int(cluster.psql("SELECT pg_total_relation_size('fleetcmd_devices')", database))
                        results[count] = (took, cpu, server, create_seconds, stored / size)
                finally:
                    stop(sim)
                rows.append((size, results))
                time.sleep(1)
        sustained = []
        if options.pgbench_devices:
            for clients in [int(c) for c in options.pgbench_clients.split(",")]:
                sustained.append((clients, store_only(fleetcmd, cluster, options.pgbench_devices, clients)))
    finally:
        cluster.close()
    print("| devices | client | devices/s | vs file journal | vs C | client CPU s | store CPU s | "
          "CPU µs per device (client + store) |")
    print("|---|---|---|---|---|---|---|---|")
    for size, results in rows:
        c, journal = results["c"], results["journal"]
        print(f"| {size:,} | C epoll client (no journal) | {size / c[0]:,.0f} | {journal[0] / c[0]:.2f}× | 1.00× | "
              f"{c[1]:.2f} | | {c[1] / size * 1e6:.0f} |")
        print(f"| {size:,} | fleetcmd run, file journal | {size / journal[0]:,.0f} | 1.00× | {c[0] / journal[0]:.2f}× | "
              f"{journal[1]:.2f} | | {journal[1] / size * 1e6:.0f} |")
        for key, value in results.items():
            if not isinstance(key, int):
                continue
            took, cpu, server, _, _ = value
            print(f"| {size:,} | {key} worker{'s' if key > 1 else ''}, PostgreSQL store | {size / took:,.0f} | "
                  f"**{journal[0] / took:.2f}×** | {c[0] / took:.2f}× | {cpu:.2f} | {server:.2f} | "
                  f"{(cpu + server) / size * 1e6:.0f} |")
    print()
    print("| devices | creating the run in the store (rows inserted) | store bytes per device (table + indexes) |")
    print("|---|---|---|")
    for size, results in rows:
        first = next(v for k, v in results.items() if isinstance(k, int))
        print(f"| {size:,} | {first[3]:.2f} s ({size / first[3]:,.0f} devices/s) | {first[4]:,.0f} |")
    if sustained:
        print()
        print(f"Store only (pgbench, {options.pgbench_devices:,} devices in one run, batches of {BATCH}: claim, intent, "
              "outcome, each its own transaction, as a worker's lane does):")
        print()
        print("| pgbench clients (lanes) | batches/s | devices/s the server sustains | server CPU s | CPU µs per device |")
        print("|---|---|---|---|---|")
        for clients, (tps, devices_per_second, cpu) in sustained:
            print(f"| {clients} | {tps:,.0f} | {devices_per_second:,.0f} | {cpu:.2f} | "
                  f"{cpu / options.pgbench_devices * 1e6:.1f} |")


BATCH = 250  # a worker's default lane: --forks 1000 in four lanes

# One lane's batch as fleetcmd's RunStore sends it (claim with SKIP LOCKED from where the client's last claim ended,
# intents, outcomes: three transactions), the device rows addressed by key as there (a range of positions here, an
# array of them there). `hi` carries the cursor from one batch to the next (-D hi=-1 to begin).
PGBENCH_SCRIPT = f"""\\set w random(1, 1000000000)
WITH picked AS (
    SELECT d.run_id, d.position FROM fleetcmd_devices d JOIN fleetcmd_runs r ON r.id = d.run_id AND r.finished_at IS NULL
    WHERE d.state <> 'done' AND d.state = 'pending' AND coalesce(d.site, '') = '' AND (d.run_id, d.position) > ('load', :hi)
    ORDER BY d.run_id, d.position LIMIT {BATCH} FOR UPDATE OF d SKIP LOCKED
), claimed AS (
    UPDATE fleetcmd_devices d SET state = 'claimed', worker = 'w' || :w, lease_until = now() + interval '30 s'
    FROM picked WHERE d.run_id = picked.run_id AND d.position = picked.position RETURNING d.position
) SELECT coalesce(min(position), -1) AS lo, coalesce(max(position), -2) AS hi FROM claimed
\\gset
UPDATE fleetcmd_devices SET state = 'sending', intent_at = now()
WHERE run_id = 'load' AND position BETWEEN :lo AND :hi AND worker = 'w' || :w AND state = 'claimed';
UPDATE fleetcmd_devices SET state = 'done', outcome = 'ok', finished_at = now(),
    result = '{{"address":"127.0.0.1:9100","device":"dev000001","outcome":"ok","replies":["PONG"]}}'
WHERE run_id = 'load' AND position BETWEEN :lo AND :hi AND worker = 'w' || :w AND state = 'sending';
"""


def store_only(fleetcmd, cluster, devices, clients):
    """pgbench over a store holding one run of `devices` rows: batches/s, devices/s, server CPU seconds."""
    database = f"load_{clients}"
    cluster.create_database(database)
    env = dict(os.environ, PGPASSWORD=cluster.PASSWORD)
    url = cluster.url(database).replace(f":{cluster.PASSWORD}@", "@")
    listed = subprocess.run([fleetcmd, "runs", "--store", url], capture_output=True, text=True, env=env)
    assert listed.returncode == 0, listed.stderr  # the schema, as fleetcmd creates it
    cluster.psql("INSERT INTO fleetcmd_runs (id, arguments, commands, devices, idempotent) "
                 f"VALUES ('load', '[]', '[\"PING\"]', {devices}, false)", database)
    cluster.psql("INSERT INTO fleetcmd_devices (run_id, position, name, address, host) "
                 "SELECT 'load', i, 'dev' || lpad(i::text, 7, '0'), '127.0.0.1:' || (10000 + i % 50000), "
                 f"""'{{"values": {{"ansible_host": "127.0.0.1"}}}}' FROM generate_series(0, {devices - 1}) AS i""",
                 database)
    cluster.psql("ANALYZE fleetcmd_devices", database)  # as fleetcmd does after creating a run
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(PGBENCH_SCRIPT)
        script = f.name
    os.chmod(script, 0o644)
    batches = -(-devices // BATCH)
    before = cluster.cpu_seconds()
    began = time.monotonic()
    res = subprocess.run([os.path.join(cluster.bin, "pgbench"), "-n", "-h", "127.0.0.1", "-p", str(cluster.port),
                          "-U", "fleet", "-c", str(clients), "-j", str(min(clients, 2)),
                          "-t", str(-(-batches // clients) + 2), "-D", "hi=-1", "-f", script, database],
                         capture_output=True, text=True, env=env)
    took = time.monotonic() - began
    cpu = cluster.cpu_seconds() - before
    os.remove(script)
    assert res.returncode == 0, res.stdout + res.stderr
    done = int(cluster.psql("SELECT count(*) FROM fleetcmd_devices WHERE state = 'done'", database))
    assert done == devices, f"{done} of {devices} done"
    cluster.psql(f"DROP DATABASE {database}", "postgres")
    return batches / took, devices / took, cpu


if __name__ == "__main__":
    main()

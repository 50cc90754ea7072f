"""Runs shared by many workers through PostgreSQL (a private cluster on loopback, pg_support.py), with the journal's
guarantees: workers killed with SIGKILL at random points never make a device receive the command twice (the
simulator's per-device counters prove it) and leave every device ok or unknown; --site workers claim only their
devices; the store stopped and restarted mid-run loses nothing and sends nothing without an intent; the schema is
created from nothing and migrated from the previous version; the store's password is in no output and no record."""
import json
import os
import random
import signal
import subprocess
import time

import pytest

import pg_support
from sim_support import Simulator, block

pytestmark = pytest.mark.skipif(pg_support.binaries() is None or os.geteuid() != 0,
                                reason="needs a PostgreSQL server (.ci/run installs it) and root for runuser")
DEVICES = int(os.environ.get("FLEETCMD_STORE_DEVICES", "20000"))


@pytest.fixture(scope="module")
def cluster():
    c = pg_support.Cluster()
    yield c
    c.close()


@pytest.fixture
def database(cluster, request):
    name = "t_" + request.node.name.lower().replace("[", "_").replace("]", "")[:40]
    cluster.create_database(name)
    return name


def fleetcmd_run(fleetcmd, *args, timeout=300, env=None):
    return subprocess.run([fleetcmd, *args], capture_output=True, text=True, timeout=timeout, env=env)


def start_worker(fleetcmd, url, *args):
    return subprocess.Popen([fleetcmd, "worker", "--store", url, "--until-idle", "--lease", "2s", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def slow_profile(tmp_path, delay):
    """Every device answers after `delay`, so that a run takes long enough to be interrupted."""
    profile = tmp_path / "slow.yaml"
    profile.write_text(f"state: true\nfaults:\n  - {{kind: latency, rate: 1, fixed: {delay}}}\n")
    return str(profile)


def states(cluster, database, run):
    rows = cluster.psql(f"SELECT state, coalesce(outcome, ''), count(*) FROM fleetcmd_devices WHERE run_id = '{run}' "
                        "GROUP BY 1, 2 ORDER BY 1, 2", database)
    return {tuple(line.split("|")[:2]): int(line.split("|")[2]) for line in rows.splitlines()}


def done_count(cluster, database):
    """Devices done so far (0 while the schema or the run is not there yet)."""
    try:
        return int(cluster.psql("SELECT count(*) FROM fleetcmd_devices WHERE state = 'done'", database))
    except AssertionError:
        return 0


def assert_never_twice(sim, show):
    """Per device: received at most once; ok devices exactly once; every device ok or unknown."""
    stats = sim.refresh_stats()
    received = {d["device"]: d["received"] for d in stats["devices"]}
    twice = [name for name, count in received.items() if count > 1]
    assert not twice, f"{len(twice)} devices received the command twice: {twice[:10]}"
    outcomes = {}
    for record in show["results"]:
        outcomes[record["outcome"]] = outcomes.get(record["outcome"], 0) + 1
        if record["outcome"] == "ok":
            assert received[record["device"]] == 1, record
    assert set(outcomes) <= {"ok", "unknown"}, outcomes
    return outcomes


def test_workers_killed_at_random_and_the_store_restarted_never_send_twice(fleetcmd, cluster, database, tmp_path):
    url = cluster.url(database)
    sim = Simulator(fleetcmd, tmp_path, "--devices", str(DEVICES), "--addresses", block(),
                    "--profile", slow_profile(tmp_path, "5ms"))
    try:
        created = fleetcmd_run(fleetcmd, "run", "-i", str(sim.inventory), "--store", url, "--detach", "SET x 1")
        assert created.returncode == 0, created.stderr
        run = created.stdout.strip()
        workers = [start_worker(fleetcmd, url, "--forks", "300") for _ in range(3)]
        rng = random.Random()
        killed = []
        # kill two workers at random points while the run is under way, one of them replaced by a fresh one, and
        # restart the store once between the two kills (down longer than the workers' lease)
        for _ in range(2):
            time.sleep(rng.uniform(0.3, 2.0))
            victim = rng.choice([w for w in workers if w.poll() is None])
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            killed.append(victim)
            workers.remove(victim)
            if len(killed) == 1:
                workers.append(start_worker(fleetcmd, url, "--forks", "300"))
                time.sleep(rng.uniform(0.2, 1.0))
                cluster.stop("fast")
                time.sleep(2.5)
                cluster.start()
        for worker in workers:
            code, _, err = finish(worker)
            assert code == 0, err
            assert cluster.PASSWORD not in err
        assert states(cluster, database, run).keys() <= {("done", "ok"), ("done", "unknown")}
        show = fleetcmd_run(fleetcmd, "runs", "show", run, "--store", url, "-o", "json")
        assert show.returncode == 0, show.stderr
        document = json.loads(show.stdout)
        assert document["devices"] == DEVICES and len(document["results"]) == DEVICES
        assert all(r["worker"] and r["address"] and r["device"] for r in document["results"])
        outcomes = assert_never_twice(sim, document)
        assert outcomes.get("ok", 0) + outcomes.get("unknown", 0) == DEVICES
        # a killed worker leaves at most its window (--forks) unknown: what it had claimed but not started was
        # claimed again by the others once its lease ran out
        assert outcomes.get("unknown", 0) <= 2 * 300, outcomes
    finally:
        sim.stop()


def test_sites_claim_only_their_devices(fleetcmd, cluster, database, tmp_path):
    url = cluster.url(database)
    sim = Simulator(fleetcmd, tmp_path, "--devices", "60", "--addresses", block())
    try:
        hosts = json.loads(fleetcmd_run(fleetcmd, "inventory", "-i", str(sim.inventory), "--list").stdout)
        lines = ["[all]"]
        for index, name in enumerate(sorted(hosts["_meta"]["hostvars"])):
            values = hosts["_meta"]["hostvars"][name]
            site = ["", "fleetcmd_site=north", "fleetcmd_site=south"][index % 3]
            lines.append(f"{name} ansible_host={values['ansible_host']} fleetcmd_port={values['fleetcmd_port']} {site}")
        inventory = tmp_path / "sites.ini"
        inventory.write_text("\n".join(lines) + "\n")
        created = fleetcmd_run(fleetcmd, "run", "-i", str(inventory), "--store", url, "--detach", "ID")
        run = created.stdout.strip()
        north = start_worker(fleetcmd, url, "--site", "north")
        code, _, err = finish(north)
        assert code == 0, err
        # north and the site-less devices done; south's wait for a south worker
        show = json.loads(fleetcmd_run(fleetcmd, "runs", "show", run, "--store", url, "-o", "json").stdout)
        by_site = {}
        for r in show["results"]:
            by_site.setdefault(r["site"], set()).add(r["outcome"])
        assert by_site[None] == {"ok"} and by_site["north"] == {"ok"} and by_site["south"] == {"pending"}, by_site
        # runs watch follows the run until the south worker has finished it: a record per change, by site and
        # worker, and the run's exit status (0: every device ok); its text form prints the view at the end
        watch = subprocess.Popen([fleetcmd, "runs", "watch", run, "--store", url, "--interval", "0.2", "-o", "jsonl"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        assert watch.poll() is None, watch.communicate()
        south = start_worker(fleetcmd, url, "--site", "south")
        assert finish(south)[0] == 0
        code, out, err = finish(watch, timeout=60)
        assert code == 0, err
        records = [json.loads(line) for line in out.splitlines()]
        assert not records[0]["finished"] and records[0]["done"] == 40, records[0]
        last = records[-1]
        assert last["finished"] and last["devices"] == last["done"] == last["ok"] == 60, last
        assert last["counts"] == {"ok": 60} and last["waiting"] == last["sending"] == 0
        assert {(x["site"], x["devices"], x["done"]) for x in last["sites"]} == {
            (None, 20, 20), ("north", 20, 20), ("south", 20, 20)}, last["sites"]
        assert sorted(w["site"] for w in last["workers"]) == ["north", "south"], last["workers"]
        assert sum(w["done"] for w in last["workers"]) == 60
        text = fleetcmd_run(fleetcmd, "runs", "watch", run, "--store", url)
        assert text.returncode == 0, text.stderr
        lines = text.stdout.splitlines()
        assert lines[0].startswith(f"run {run} (ID): finished: 60 devices, 60 done (ok 60), 0 sending, 0 waiting")
        assert lines[1].split() == ["SITE", "DEVICES", "WAITING", "SENDING", "DONE", "OK"]
        assert lines[2].split() == ["-", "20", "0", "0", "20", "20"] and lines[3].split()[0] == "north"
        assert any(line.startswith("WORKER") for line in lines)
        missing = fleetcmd_run(fleetcmd, "runs", "watch", "no-such-run", "--store", url)
        assert missing.returncode == 64 and "no run no-such-run in store" in missing.stderr, missing.stderr
        show = json.loads(fleetcmd_run(fleetcmd, "runs", "show", run, "--store", url, "-o", "json").stdout)
        assert {r["outcome"] for r in show["results"]} == {"ok"}
        workers = {r["site"]: set() for r in show["results"]}
        for r in show["results"]:
            workers[r["site"]].add(r["worker"])
        assert workers["north"].isdisjoint(workers["south"])
        assert_never_twice(sim, show)
    finally:
        sim.stop()


def test_the_store_stopped_and_restarted_mid_run_loses_nothing(fleetcmd, cluster, database, tmp_path):
    url = cluster.url(database)
    sim = Simulator(fleetcmd, tmp_path, "--devices", "3000", "--addresses", block(),
                    "--profile", slow_profile(tmp_path, "20ms"))
    try:
        coordinator = subprocess.Popen(
            [fleetcmd, "run", "-i", str(sim.inventory), "--store", url, "--forks", "20", "--no-progress", "SET y 2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        began = time.monotonic()
        # the run created and under way (some devices done), however slow the machine is
        while done_count(cluster, database) == 0:
            assert coordinator.poll() is None, coordinator.communicate()
            assert time.monotonic() - began < 120, "no device done after 120 s"
            time.sleep(0.1)
        assert coordinator.poll() is None, "the run ended before the store was stopped"
        cluster.stop("fast")
        time.sleep(3)
        cluster.start()
        out, err = coordinator.communicate(timeout=300)
        took = time.monotonic() - began
        assert coordinator.returncode in (0, 12), err  # 12: some devices unknown (their outcome was in flight)
        assert "starting nothing new until the store answers" in err and "answers again" in err, err
        assert took < 60, f"the run took {took:.0f} s after a 3 s outage"
        assert cluster.PASSWORD not in out + err
        run = err.split("run ", 1)[1].split(":", 1)[0]
        show = json.loads(fleetcmd_run(fleetcmd, "runs", "show", run, "--store", url, "-o", "json").stdout)
        assert len(show["results"]) == 3000
        outcomes = assert_never_twice(sim, show)
        assert outcomes.get("ok", 0) > 2500, outcomes
    finally:
        sim.stop()


def test_schema_from_nothing_and_from_the_previous_version(fleetcmd, cluster, tmp_path):
    fresh = "schema_fresh"
    cluster.create_database(fresh)
    listed = fleetcmd_run(fleetcmd, "runs", "--store", cluster.url(fresh))
    assert listed.returncode == 0, listed.stderr
    assert cluster.psql("SELECT max(version) FROM fleetcmd_schema", fresh) == "3"
    # a store left at an earlier version with a run in it, then opened by this fleetcmd: each version's index
    # appears with it
    inventory = tmp_path / "one.ini"
    inventory.write_text("a ansible_host=127.0.0.1 fleetcmd_port=1\n")
    added = {1: "fleetcmd_devices_open", 2: "fleetcmd_devices_open_by_site"}
    for previous in (1, 2):
        old = f"schema_v{previous}"
        cluster.create_database(old)
        env = dict(os.environ, FLEETCMD_STORE_SCHEMA=str(previous))
        created = fleetcmd_run(fleetcmd, "run", "-i", str(inventory), "--store", cluster.url(old), "--detach", "PING",
                               env=env)
        assert created.returncode == 0, created.stderr
        assert cluster.psql("SELECT max(version) FROM fleetcmd_schema", old) == str(previous)
        index = f"SELECT count(*) FROM pg_indexes WHERE indexname = '{added[previous]}'"
        assert cluster.psql(index, old) == "0"
        shown = fleetcmd_run(fleetcmd, "runs", "show", created.stdout.strip(), "--store", cluster.url(old), "-o",
                             "json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["results"][0]["outcome"] == "pending"
        assert cluster.psql("SELECT max(version) FROM fleetcmd_schema", old) == "3"
        assert cluster.psql(index, old) == "1"
    # a store newer than this fleetcmd is refused, not touched
    cluster.psql("INSERT INTO fleetcmd_schema (version) VALUES (99)", old)
    refused = fleetcmd_run(fleetcmd, "runs", "--store", cluster.url(old))
    assert refused.returncode == 1 and "newer than this fleetcmd" in refused.stderr


def test_the_store_password_is_in_no_output_or_record(fleetcmd, cluster, database, tmp_path):
    url = cluster.url(database)
    inventory = tmp_path / "one.ini"
    inventory.write_text("a ansible_host=127.0.0.1 fleetcmd_port=1\n")
    done = fleetcmd_run(fleetcmd, "run", "-i", str(inventory), "--store", url, "--retries", "0", "PING")
    assert done.returncode == 11, done.stderr  # refused
    assert cluster.PASSWORD not in done.stdout + done.stderr
    assert cluster.PASSWORD not in cluster.psql("SELECT arguments::text || host::text FROM fleetcmd_runs, "
                                                "fleetcmd_devices", database)
    wrong = fleetcmd_run(fleetcmd, "runs", "--store", url.replace(cluster.PASSWORD, "not-it"))
    assert wrong.returncode == 1
    assert "authentication failed" in wrong.stderr and "not-it" not in wrong.stderr, wrong.stderr
    unreachable = fleetcmd_run(fleetcmd, "runs", "--store", f"postgres://fleet:x@127.0.0.1:1/{database}")
    warning, error = unreachable.stderr.splitlines()
    assert unreachable.returncode == 1 and "cannot connect" in error, unreachable.stderr
    # a password in --store is seen by every user of the machine (process list): said once; $PGPASSWORD and
    # $FLEETCMD_STORE are not
    assert warning.startswith("fleetcmd: warning: the password in --store can be read by other users"), warning
    assert done.stderr.count("warning: the password in --store") == 1, done.stderr
    quiet = dict(os.environ, PGPASSWORD=cluster.PASSWORD)
    listed = fleetcmd_run(fleetcmd, "runs", "--store", cluster.url(database, password=False), env=quiet)
    assert listed.returncode == 0 and "warning" not in listed.stderr, listed.stderr
    listed = fleetcmd_run(fleetcmd, "runs", env=dict(os.environ, FLEETCMD_STORE=url))
    assert listed.returncode == 0 and "warning" not in listed.stderr, listed.stderr
    unknown = fleetcmd_run(fleetcmd, "runs", "--store", url + "&connect_timeout=5")
    assert unknown.returncode == 64 and "'connect_timeout' is not one fleetcmd knows" in unknown.stderr


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(folder, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem",
            "-days", "2", "-subj", f"/CN={name}", cwd=folder)


def test_tls_to_the_store_is_verified_with_openssl_made_certificates(fleetcmd, cluster, tmp_path):
    """sslmode=verify-full with sslrootcert: a server certificate (made with openssl, IP SAN 127.0.0.1) signed by the
    CA given is accepted; another CA, or a certificate for another name, is refused in one line; require encrypts
    without checking (libpq's modes); a TLS-only store refuses sslmode=disable."""
    folder = tmp_path / "pki"
    folder.mkdir()
    make_ca(folder, "ca")
    make_ca(folder, "other-ca")
    for name, san in (("server", "IP:127.0.0.1"), ("elsewhere", "DNS:db.example")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=folder)
        (folder / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=folder)
    cluster.use_tls(str(folder / "server.pem"), str(folder / "server.key"))
    try:
        name = "tls_store"
        cluster.create_database(name)
        base = cluster.url(name).split("?")[0]
        ok = fleetcmd_run(fleetcmd, "runs", "--store", f"{base}?sslmode=verify-full&sslrootcert={folder}/ca.pem")
        assert ok.returncode == 0, ok.stderr
        other = fleetcmd_run(fleetcmd, "runs", "--store", f"{base}?sslmode=verify-full&sslrootcert={folder}/other-ca.pem")
        assert other.returncode == 1, other.stderr
        assert other.stderr.splitlines()[-1].endswith("the TLS handshake failed: the store's certificate is not "
                                                      "trusted (sslrootcert) or TLS is refused"), other.stderr
        assert "BoringSSL" not in other.stderr and "NIOSSL" not in other.stderr and ".swift" not in other.stderr
        required = fleetcmd_run(fleetcmd, "runs", "--store", f"{base}?sslmode=require")
        assert required.returncode == 0, required.stderr
        unreadable = fleetcmd_run(fleetcmd, "runs", "--store", f"{base}?sslmode=verify-full&sslrootcert={folder}/none")
        assert unreadable.returncode == 1 and f"sslrootcert {folder}/none: cannot read it" in unreadable.stderr
        plain = fleetcmd_run(fleetcmd, "runs", "--store", f"{base}?sslmode=disable")
        assert plain.returncode == 1 and "no encryption" in plain.stderr, plain.stderr
        # the certificate for another name: verify-ca accepts it (chain only), verify-full does not
        cluster.use_tls(str(folder / "elsewhere.pem"), str(folder / "elsewhere.key"))
        chain = fleetcmd_run(fleetcmd, "runs", "--store", f"{base}?sslmode=verify-ca&sslrootcert={folder}/ca.pem")
        assert chain.returncode == 0, chain.stderr
        named = fleetcmd_run(fleetcmd, "runs", "--store", f"{base}?sslmode=verify-full&sslrootcert={folder}/ca.pem")
        assert named.returncode == 1, named.stderr
        assert named.stderr.splitlines()[-1].endswith("the store's TLS certificate does not name this host "
                                                      "(sslmode=verify-full)"), named.stderr
    finally:
        cluster.use_tls(None, None)

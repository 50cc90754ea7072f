"""`fleetcmd run` end to end against `fleetcmd simulate`: outcomes and exit codes, JSON output, follow-up host
files, shards, inventory errors, the journal, and the crash test: SIGKILL at random points, resume, and prove
with the simulator's counters that no device received the command twice."""
import json
import os
import random
import signal
import subprocess
import time

import pytest

from sim_support import Simulator, block


def run(fleetcmd, *args, state=None, stdin=None, timeout=120):
    env = dict(os.environ)
    if state:
        env["FLEETCMD_STATE_DIR"] = str(state)
    return subprocess.run([fleetcmd, "run", *args], capture_output=True, text=True, timeout=timeout, env=env, input=stdin)


@pytest.fixture
def fleet(fleetcmd, tmp_path):
    started = []

    def start(*args, devices=60):
        directory = tmp_path / f"sim{len(started)}"
        directory.mkdir(exist_ok=True)
        sim = Simulator(fleetcmd, directory, "--devices", str(devices), "--addresses", block(),
                        "--port", "19300", *args)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.kill()


def test_outcomes_json_and_exit_codes(fleetcmd, fleet, tmp_path):
    profile = tmp_path / "profile.yaml"
    profile.write_text("faults:\n  - {kind: refuse, devices: [3, 7]}\n  - {kind: never-reply, devices: [5]}\n")
    sim = fleet("--profile", str(profile), devices=40)
    inv = str(sim.inventory)
    state = tmp_path / "state"

    res = run(fleetcmd, "-i", inv, "--format", "json", "--reply-timeout", "500ms", "--retry-backoff", "10ms", "ID", "PING", state=state)
    assert res.returncode == 11, res.stderr
    results = json.loads(res.stdout)  # nothing but JSON on stdout
    assert [r["device"] for r in results] == [f"dev{n:03d}" for n in range(1, 41)]
    by = {r["device"]: r for r in results}
    assert by["dev001"]["outcome"] == "ok" and by["dev001"]["replies"] == ["dev001 #1", "PONG"]
    assert by["dev001"]["address"].endswith(".1:19300")
    assert set(by["dev001"]["timings"]) >= {"total_ms"} and by["dev001"]["attempts"] == 1
    assert by["dev003"]["outcome"] == "refused" and by["dev003"]["attempts"] == 3
    assert by["dev005"]["outcome"] == "reply-timeout" and by["dev005"]["attempts"] == 1
    assert "failed to connect to device" in by["dev007"]["error"]
    assert "40 devices: 37 ok, 3 failed" in res.stderr

    # Text: grouped replies, failures by outcome, a summary; the ok/failed host files drive a follow-up run.
    res = run(fleetcmd, "-i", inv, "--limit", "dev00*", "--reply-timeout", "500ms", "--retries", "0",
              "--ok-hosts", str(tmp_path / "ok.txt"), "--failed-hosts", str(tmp_path / "failed.txt"), "PING", state=state)
    assert res.returncode == 11
    assert "dev[001-002,004,006,008-009] (6)\n  PONG\n" in res.stdout
    assert "  refused (2): dev[003,007]\n  reply-timeout (1): dev005\n" in res.stdout
    assert (tmp_path / "failed.txt").read_text() == "dev003\ndev005\ndev007\n"
    res = run(fleetcmd, "-i", inv, "--limit", f"@{tmp_path / 'ok.txt'}", "--format", "jsonl", "PING", state=state)
    assert res.returncode == 0
    assert len([json.loads(line) for line in res.stdout.splitlines()]) == 6

    # Error replies: exit 10; --stop-on-error sends nothing after the first one.
    before = {d["device"]: d["received"] for d in sim.refresh_stats()["devices"]}
    res = run(fleetcmd, "-i", inv, "--limit", "dev01*", "--stop-on-error", "BOGUS", "INCR n", state=state)
    assert res.returncode == 10
    assert "dev[010-019] (10)  [error-reply]\n  ERR unknown command\n" in res.stdout
    stats = sim.refresh_stats()
    assert all(d["received"] - before[d["device"]] == (1 if d["device"].startswith("dev01") else 0) for d in stats["devices"])

    # Usage and inventory errors.
    assert run(fleetcmd, "-i", inv, state=state).returncode == 64
    # A backwards range stands for no host in Ansible; fleetcmd says so, and an empty selection is exit 64.
    bad = tmp_path / "bad.ini"
    bad.write_text("[g]\nh[3:1]\n")
    res = run(fleetcmd, "-i", str(bad), "PING", state=state)
    assert res.returncode == 64 and f"{bad}:2: the host range 'h[3:1]' stands for no host" in res.stderr
    assert "the inventory has no device; nothing to do" in res.stderr
    # What Ansible rejects is exit 78, with the file and line.
    worse = tmp_path / "worse.ini"
    worse.write_text("[g]\nh[01:100]\n")
    res = run(fleetcmd, "-i", str(worse), "PING", state=state)
    assert res.returncode == 78 and f"{worse}:2: host range must specify equal-length" in res.stderr
    # A term that matches nothing is a warning, as in Ansible; nothing selected overall is exit 64 in every mode.
    for mode in ("text", "json", "jsonl"):
        res = run(fleetcmd, "-i", inv, "--limit", "nosuch", "--format", mode, "PING", state=state)
        assert res.returncode == 64, res.stderr
        assert "Could not match supplied host pattern, ignoring: nosuch" in res.stderr
        assert "--limit 'nosuch' matches no device; nothing to do" in res.stderr
        assert res.stdout == ""


def test_stdin_inventory_shards_and_runs(fleetcmd, fleet, tmp_path):
    sim = fleet(devices=90)
    plain = "".join(f"{line}\n" for line in sim.inventory.read_text().splitlines() if "ansible_host" in line)
    names = [line.split(":")[0].strip() for line in plain.splitlines()]
    state = tmp_path / "state"
    seen = []
    for k in (1, 2, 3):
        res = run(fleetcmd, "-i", str(sim.inventory), "--shard", f"{k}/3", "--format", "jsonl", "PING", state=state)
        assert res.returncode == 0, res.stderr
        seen += [json.loads(line)["device"] for line in res.stdout.splitlines()]
    assert sorted(seen) == sorted(names) and len(seen) == 90  # every device exactly once
    # A plain host:port list on stdin.
    addresses = "".join(d["address"] + "\n" for d in sim.refresh_stats()["devices"][:5])
    res = run(fleetcmd, "-i", "-", "--format", "jsonl", "ID", stdin=addresses, state=state)
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 5
    # Past runs.
    listing = subprocess.run([fleetcmd, "runs"], capture_output=True, text=True, env={**os.environ, "FLEETCMD_STATE_DIR": str(state)})
    assert listing.returncode == 0 and len(listing.stdout.splitlines()) == 5  # header + 4 runs
    run_id = listing.stdout.splitlines()[1].split()[0]
    show = subprocess.run([fleetcmd, "runs", "show", run_id], capture_output=True, text=True, env={**os.environ, "FLEETCMD_STATE_DIR": str(state)})
    assert show.returncode == 0 and f"run {run_id}" in show.stdout and "ok (" in show.stdout


def test_sigkill_at_random_points_never_sends_twice(fleetcmd, fleet, tmp_path):
    """2,000 devices, each slow enough (30 ms) that a run takes seconds; the runner is killed with SIGKILL at
    random points and resumed until it finishes. The simulator's counters prove no device got the command twice,
    and every device is either answered (and counted once) or reported unknown."""
    profile = tmp_path / "slow.yaml"
    profile.write_text("faults:\n  - {kind: latency, rate: 1, fixed: 30ms}\n")
    sim = fleet("--profile", str(profile), devices=2000)
    journal = tmp_path / "crash.jsonl"
    rng = random.Random(int(os.environ.get("CRASH_SEED", time.time())))
    env = {**os.environ, "FLEETCMD_STATE_DIR": str(tmp_path / "state")}
    kills = 0
    args = ["-i", str(sim.inventory), "--forks", "60", "--journal", str(journal), "INCR hits"]
    while kills < 5:
        proc = subprocess.Popen([fleetcmd, "run", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(rng.uniform(0.15, 0.7))
        if proc.poll() is not None:
            break  # it finished before the kill
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        kills += 1
        if journal.exists():
            args = ["--resume", str(journal)]
    assert kills >= 1
    # On a loaded machine every kill may land before the first run wrote its journal: then it starts afresh here.
    final_args = ["--resume", str(journal)] if journal.exists() else args
    final = subprocess.run([fleetcmd, "run", *final_args, "--format", "json"], capture_output=True,
                           text=True, timeout=120, env=env)
    assert final.returncode in (0, 12), final.stderr
    results = {r["device"]: r for r in json.loads(final.stdout)}
    assert len(results) == 2000
    counters = {d["device"]: d for d in sim.refresh_stats()["devices"]}
    unknown = 0
    for name, result in results.items():
        received = counters[name]["received"]
        assert received <= 1, f"{name} received the command {received} times"
        assert result["outcome"] in ("ok", "unknown"), result
        if result["outcome"] == "ok":
            assert received == 1 and counters[name]["replied"] == 1, (name, counters[name])
            assert result["replies"] == ["1"]
        else:
            unknown += 1
    # Only devices in flight at a kill can be unknown: at most forks per kill.
    assert unknown <= 60 * kills
    print(f"kills={kills} unknown={unknown}")


def test_a_disk_slow_to_flush_the_journal_times_out_no_device(fleetcmd, fleet, tmp_path):
    """`fdatasync` made to take 5 s (a shim preloaded into fleetcmd; an NFS home or a busy disk does the same):
    every device answers within 100-500 ms, well inside the 3 s timeouts (a loaded CI machine must not make a real
    timeout), so none may be reported as timed out. Before, the flush held up the thread serving the devices, which
    then found their deadlines passed before it read the replies that had come meanwhile."""
    shim = tmp_path / "slowsync.c"
    shim.write_text("#include <time.h>\n"
                    "int fdatasync(int fd) { (void)fd; struct timespec t = {5, 0}; nanosleep(&t, 0); return 0; }\n")
    library = tmp_path / "slowsync.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(shim)], check=True)
    profile = tmp_path / "profile.yaml"
    profile.write_text("faults:\n  - {kind: latency, min: 100ms, max: 500ms, rate: 1}\n")
    sim = fleet("--profile", str(profile), devices=300)
    env = dict(os.environ, LD_PRELOAD=str(library))
    res = subprocess.run(
        [fleetcmd, "run", "-i", str(sim.inventory), "--format", "jsonl", "--connect-timeout", "3s",
         "--reply-timeout", "3s", "--retries", "0", "--journal", str(tmp_path / "journal.jsonl"), "PING"],
        capture_output=True, text=True, timeout=120, env=env)
    results = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(results) == 300, res.stderr
    assert [r.get("error") for r in results if r["outcome"] != "ok"][:3] == [], res.stderr
    assert res.returncode == 0, res.stderr

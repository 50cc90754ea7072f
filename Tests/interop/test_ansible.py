"""Ansible integration with real ansible-core (installed by scripts/install-test-deps.sh into .build/ansible-venv):
the collection builds and installs with ansible-galaxy; the per-host module over 50 simulated devices, check mode,
and the run_once fast path over 1,000 devices, with a failing device reported as failed with its outcome."""
import json
import os
import subprocess

import pytest

from conftest import ROOT
from sim_support import Simulator, block

VENV = os.environ.get("ANSIBLE_VENV") or os.path.join(ROOT, ".build", "ansible-venv")
EXAMPLES = os.path.join(ROOT, "examples", "ansible")


@pytest.fixture(scope="module")
def ansible(fleetcmd, tmp_path_factory):
    """Environment for ansible-playbook with the collection built and installed, fleetcmd on PATH."""
    bin_dir = os.path.join(VENV, "bin")
    assert os.path.exists(os.path.join(bin_dir, "ansible-playbook")), f"ansible-core is missing: run scripts/install-test-deps.sh ({VENV})"
    work = tmp_path_factory.mktemp("ansible")
    built = subprocess.run([os.path.join(bin_dir, "ansible-galaxy"), "collection", "build", os.path.join(ROOT, "ansible", "collection"),
                            "--output-path", str(work)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    tarball = next(work.glob("fleetcmd-fleet-*.tar.gz"))
    collections = work / "collections"
    installed = subprocess.run([os.path.join(bin_dir, "ansible-galaxy"), "collection", "install", str(tarball), "-p", str(collections)],
                               capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stderr
    tools = work / "bin"
    tools.mkdir()
    os.symlink(os.path.abspath(fleetcmd), tools / "fleetcmd")
    env = dict(os.environ)
    env.update({
        "PATH": f"{tools}:{bin_dir}:{env['PATH']}",
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_STDOUT_CALLBACK": "json_results",
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(os.path.dirname(os.path.abspath(__file__)), "ansible_callbacks"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(work / "remote"),
        "FLEETCMD_STATE_DIR": str(work / "state"),
    })
    return env


def playbook(env, inventory, name, *extra, timeout=600):
    res = subprocess.run([os.path.join(VENV, "bin", "ansible-playbook"), "-i", str(inventory), os.path.join(EXAMPLES, name), *extra],
                         capture_output=True, text=True, timeout=timeout, env=env)
    try:
        report = json.loads(res.stdout)
    except ValueError:
        raise AssertionError(f"ansible-playbook did not print JSON (exit {res.returncode}): {res.stdout[-2000:]} {res.stderr[-2000:]}")
    return res.returncode, report


def task_results(report, task_index):
    return report["plays"][0]["tasks"][task_index]["hosts"]


@pytest.fixture
def fleet(fleetcmd, tmp_path):
    started = []

    def start(devices, *args):
        directory = tmp_path / f"sim{len(started)}"
        directory.mkdir()
        if args and args[0] == "--fault-profile-line":  # kind:device -> a profile giving that one device the fault
            kind, device = args[1].split(":")
            profile = directory / "profile.yaml"
            profile.write_text(f"faults:\n  - {{kind: {kind}, devices: [{device}]}}\n")
            args = ("--profile", str(profile))
        sim = Simulator(fleetcmd, directory, "--devices", str(devices), "--addresses", block(), "--port", "19400", *args)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.kill()


def test_per_host_module_and_check_mode(ansible, fleet):
    # Device 7 refuses: it must be reported failed, with its outcome; the rest answer.
    sim = fleet(50, "--fault-profile-line", "refuse:7")
    rc, report = playbook(ansible, sim.inventory, "per-host.yml", "-f", "50")
    assert rc == 2  # a host failed
    hosts = task_results(report, 0)
    assert len(hosts) == 50
    assert hosts["dev001"]["outcome"] == "ok" and hosts["dev001"]["replies"] == ["dev001 #1", "PONG"]
    assert hosts["dev001"]["changed"] is True and not hosts["dev001"].get("failed")
    assert hosts["dev007"]["failed"] is True and hosts["dev007"]["outcome"] == "refused"
    assert "failed to connect to device" in hosts["dev007"]["msg"]
    assert sum(1 for h in hosts.values() if h["outcome"] == "ok") == 49
    assert report["stats"]["dev007"]["failures"] == 1 and report["stats"]["dev001"]["failures"] == 0

    # Check mode: nothing is sent.
    before = sim.refresh_stats()["totals"]["received"]
    rc, report = playbook(ansible, sim.inventory, "per-host.yml", "--check", "-f", "50")
    assert rc == 0
    hosts = task_results(report, 0)
    assert all(h["outcome"] == "skipped" and h["would_send"] == ["ID", "PING"] for h in hosts.values())
    assert sim.refresh_stats()["totals"]["received"] == before


def test_run_once_fast_path_over_a_thousand_devices(ansible, fleet):
    sim = fleet(1000, "--fault-profile-line", "never-reply:500")
    rc, report = playbook(ansible, sim.inventory, "fast.yml", "-f", "50")
    assert rc == 2  # dev0500 fails in the per-host follow-up task
    run = task_results(report, 0)
    assert len(run) == 1  # run_once: one module execution for the whole fleet
    result = next(iter(run.values()))
    assert len(result["devices"]) == 1000
    assert result["summary"] == {"ok": 999, "reply-timeout": 1}
    assert result["run_id"]
    follow = task_results(report, 1)
    failed = {name for name, h in follow.items() if h.get("failed")}
    assert failed == {"dev0500"}
    assert "reply-timeout" in follow["dev0500"]["msg"] or "reply" in follow["dev0500"]["msg"]
    counters = {d["device"]: d["received"] for d in sim.refresh_stats()["devices"]}
    assert all(v == 1 for v in counters.values())  # every device got ID exactly once

    # Check mode lists the devices and sends nothing.
    rc, report = playbook(ansible, sim.inventory, "fast.yml", "--check", "--limit", "dev00*")
    assert rc == 0, "a check-mode skip must not fail the follow-up task"
    result = next(iter(task_results(report, 0).values()))
    assert set(result["devices"]) == {f"dev{n:04d}" for n in range(1, 100)}
    assert all(v == 1 for v in {d["device"]: d["received"] for d in sim.refresh_stats()["devices"]}.values())

    # A --limit with subscripts: run_once runs exactly the play's hosts (Ansible resolves the pattern, not fleetcmd).
    rc, report = playbook(ansible, sim.inventory, "fast.yml", "--limit", "all[10:12],all[-1]")
    result = next(iter(task_results(report, 0).values()))
    assert set(result["devices"]) == {"dev0011", "dev0012", "dev0013", "dev1000"}
    assert rc == 0

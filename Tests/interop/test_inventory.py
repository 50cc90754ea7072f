"""`fleetcmd inventory` against `ansible-inventory` (real ansible-core, from .build/ansible-venv) on the same sources:
--list, --host and --graph print the same, for files, directories, executable inventory scripts and several -i."""
import json
import os
import subprocess

import pytest

from conftest import ROOT

VENV = os.environ.get("ANSIBLE_VENV") or os.path.join(ROOT, ".build", "ansible-venv")
ANSIBLE_INVENTORY = os.path.join(VENV, "bin", "ansible-inventory")

INI = """\
loose:2222
[web]   # the web tier
web[01:03] color=blue
[db]
db-a ansible_host=10.0.0.9 fleetcmd_port=7000
web02
[site:children]
web
db
[site:vars]
fleetcmd_port=9300
"""

SCRIPT = """#!/usr/bin/env python3
import json, sys
if sys.argv[1:] == ["--list"]:
    print(json.dumps({
        "_meta": {"hostvars": {"s1": {"fleetcmd_port": 4000}, "s2": {"ansible_host": "127.0.0.5"}}},
        "all": {"children": ["scripted"]},
        "scripted": {"hosts": ["s1", "s2"], "vars": {"color": "green"}},
    }))
else:
    print("{}")
"""


def both(tmp_path, *args):
    a = subprocess.run([ANSIBLE_INVENTORY, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    return a


@pytest.fixture
def sources(tmp_path):
    (tmp_path / "hosts.ini").write_text(INI)
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "web.yml").write_text("fleetcmd_port: 9400\n")
    script = tmp_path / "dynamic.py"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    return tmp_path


@pytest.mark.parametrize("args", [
    ["-i", "hosts.ini", "--list"],
    ["-i", "hosts.ini", "--list", "--limit", "site[1:2],loose"],
    ["-i", "hosts.ini", "--host", "web02"],
    ["-i", "hosts.ini", "--graph"],
    ["-i", "hosts.ini", "--graph", "site"],
    ["-i", "dynamic.py", "--list"],
    ["-i", "hosts.ini", "-i", "dynamic.py", "--list"],
    ["-i", "hosts.ini", "-i", "x1,x2:2000,", "--graph"],
])
def test_prints_what_ansible_inventory_prints(fleetcmd, sources, args):
    expected = subprocess.run([ANSIBLE_INVENTORY, *args], capture_output=True, text=True, timeout=120, cwd=sources)
    assert expected.returncode == 0, expected.stderr
    got = subprocess.run([fleetcmd, "inventory", *args], capture_output=True, text=True, timeout=60, cwd=sources)
    assert got.returncode == 0, got.stderr
    if "--graph" in args:
        assert got.stdout.strip() == expected.stdout.strip()
    else:
        assert json.loads(got.stdout) == json.loads(expected.stdout)


def test_a_failing_inventory_script_is_an_error_that_shows_its_stderr(fleetcmd, tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("#!/bin/sh\necho 'cannot reach the CMDB' >&2\nexit 3\n")
    script.chmod(0o755)
    r = subprocess.run([fleetcmd, "run", "-i", str(script), "--list-hosts"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 78
    assert "inventory script failed (exit 3): cannot reach the CMDB" in r.stderr


def test_list_hosts_prints_ansibles_order(fleetcmd, sources):
    expected = subprocess.run(
        [os.path.join(VENV, "bin", "ansible"), "all", "-i", "hosts.ini", "--limit", "db:web", "--list-hosts"],
        capture_output=True, text=True, timeout=120, cwd=sources)
    names = [line.strip() for line in expected.stdout.splitlines()[1:]]
    got = subprocess.run([fleetcmd, "run", "-i", "hosts.ini", "--limit", "db:web", "--list-hosts"],
                         capture_output=True, text=True, timeout=60, cwd=sources)
    assert [line.split()[0] for line in got.stdout.splitlines()] == names
    assert "web01 web01:9400" in got.stdout  # group_vars/web.yml beside the inventory
    assert "db-a 10.0.0.9:7000" in got.stdout

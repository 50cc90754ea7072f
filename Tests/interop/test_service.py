"""The agent as a systemd service, tested without systemd: the sd_notify datagrams at a socket of our own, the
unit file through `systemd-analyze verify` and `security --offline`, and the metrics through `promtool`."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = os.path.join(ROOT, "dist", "fleetcmd-agent.service")


def start_agent(fleetcmd, *args, env=None):
    agent = subprocess.Popen([fleetcmd, "agent", "--bind", "127.0.0.1", "--port", "0", *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    for line in agent.stderr:
        lines.append(line)
        if "agent listening on" in line:
            break
    return agent, "".join(lines)


def test_sd_notify_ready_reloading_watchdog_and_stopping(fleetcmd):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="300000")
        agent, _ = start_agent(fleetcmd, env=env)
        try:
            ready = sock.recv(4096).decode()
            assert ready.startswith("READY=1\n"), ready
            assert re.search(r"^STATUS=listening on 127\.0\.0\.1:\d+$", ready, re.M), ready
            assert f"MAINPID={agent.pid}" in ready
            pings = 0
            while pings < 2:  # every 150 ms
                message = sock.recv(4096).decode()
                assert message == "WATCHDOG=1", message
                pings += 1
            agent.send_signal(signal.SIGHUP)
            seen = []
            while not any(m.startswith("READY=1") for m in seen):
                message = sock.recv(4096).decode()
                if message != "WATCHDOG=1":
                    seen.append(message)
            assert seen[0].startswith("RELOADING=1\n") and re.search(r"^MONOTONIC_USEC=\d+$", seen[0], re.M), seen
            agent.send_signal(signal.SIGTERM)
            while True:
                message = sock.recv(4096).decode()
                if message.startswith("STOPPING=1"):
                    break
                assert message == "WATCHDOG=1", message
            assert agent.wait(timeout=20) == 0
        finally:
            if agent.poll() is None:
                agent.kill()
            sock.close()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None and not os.environ.get("CI"),
                    reason="systemd-analyze not installed (CI installs it)")
def test_the_unit_verifies_and_is_hardened(fleetcmd, tmp_path):
    unit = tmp_path / "fleetcmd-agent.service"
    unit.write_text(open(UNIT).read().replace("/usr/local/bin/fleetcmd", fleetcmd))
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
    assert verify.stderr.strip() == "", verify.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
                              capture_output=True, text=True, timeout=60)
    score = re.search(r"Overall exposure level for fleetcmd-agent\.service: (\d+\.\d)", security.stdout)
    assert score, security.stdout + security.stderr
    assert float(score.group(1)) <= 2.0, security.stdout  # docs/agent.md says 1.4 OK
    text = unit.read_text()
    for setting in ["Type=notify", "DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes",
                    "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "WatchdogSec="]:
        assert setting in text
    check = subprocess.run([fleetcmd, "agent", "--config", os.path.join(ROOT, "dist", "agent.yaml"),
                            "--check-config"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr


@pytest.mark.skipif(shutil.which("promtool") is None and not os.environ.get("CI"),
                    reason="promtool not installed (CI installs it)")
def test_metrics_are_described_complete_from_the_start_and_promtool_clean(fleetcmd):
    agent, started = start_agent(fleetcmd, "--metrics", "127.0.0.1:0")
    try:
        port = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", started).group(1)
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                               timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        types = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
        helps = set(re.findall(r"^# HELP (\S+) \S", text, re.M))
        assert types and types == helps, types ^ helps
        for family in ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                       "process_start_time_seconds", "process_max_fds"]:
            assert re.search(rf"^{family} [0-9.e+]+$", text, re.M), family
        # Counters exist from the start, at zero, before anything happened.
        for series in ["fleet_agent_connections_total 0", "fleet_agent_frames_total 0",
                       'fleet_agent_errors_total{kind="too_large"} 0', "fleet_log_lines_dropped_total 0"]:
            assert f"\n{series}\n" in text, series
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=20)


def test_version_names_the_commit(fleetcmd):
    version = subprocess.run([fleetcmd, "--version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0
    # scripts/release.sh puts the commit in (release-check.sh checks it there); other builds say "unknown".
    assert re.fullmatch(r"\d+\.\d+\.\d+ \(commit ([0-9a-f]{7,}(-dirty)?|unknown)\)\n", version.stdout), version.stdout

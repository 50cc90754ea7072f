"""The agent as a systemd service, tested without systemd: the sd_notify datagrams at a socket of our own, the
unit file through `systemd-analyze verify` and `security --offline`, and the metrics through `promtool`."""
import json
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
    # Answered before the config file is read (as `git --version`): a broken one does not hide the version, while
    # a command still reports it.
    with tempfile.TemporaryDirectory() as scratch:
        broken = os.path.join(scratch, "config.yaml")
        with open(broken, "w") as f:
            f.write("forks: [\n")
        env = dict(os.environ, FLEETCMD_CONFIG=broken)
        again = subprocess.run([fleetcmd, "--version"], capture_output=True, text=True, timeout=30, env=env)
        assert (again.returncode, again.stdout, again.stderr) == (0, version.stdout, "")
        command = subprocess.run([fleetcmd, "presets"], capture_output=True, text=True, timeout=30, env=env)
        assert command.returncode != 0 and "config.yaml" in command.stderr, command.stderr


def agent_log(fleetcmd, log_format, journal=None, commands=()):
    """Runs an agent with its stderr on a pipe of our own (JOURNAL_STREAM names that pipe when `journal` is "match",
    another file when "other"), sends `commands` over raw sockets, stops it, and returns its stderr lines."""
    read_end, write_end = os.pipe()
    env = dict(os.environ)
    env.pop("JOURNAL_STREAM", None)
    status = os.fstat(write_end)
    if journal == "match":
        env["JOURNAL_STREAM"] = f"{status.st_dev}:{status.st_ino}"
    elif journal == "other":
        env["JOURNAL_STREAM"] = f"{status.st_dev}:{status.st_ino + 1}"
    agent = subprocess.Popen([fleetcmd, "agent", "--bind", "127.0.0.1", "--port", "0", "--log-format", log_format,
                              "--max-frame", "64"], stdout=subprocess.DEVNULL, stderr=write_end, env=env)
    os.close(write_end)
    reader = os.fdopen(read_end, "r")
    lines = []
    for line in reader:
        lines.append(line.rstrip("\n"))
        if "agent listening on" in line:
            break
    port = int(re.search(r"127\.0\.0\.1:(\d+)", lines[-1]).group(1))
    for command in commands:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"\x1b" + command + b"\r")
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
    agent.send_signal(signal.SIGTERM)
    lines += [line.rstrip("\n") for line in reader]
    reader.close()
    assert agent.wait(timeout=20) == 0
    return lines


FORGERY = b'ECHO a "quoted" outcome=forged \\ tab\tend'
LOG_COMMANDS = (b"PING", FORGERY, b"NOSUCH thing", b"X" * 100)
LEAKS = ("NIO", ".swift", "/.build/", "Error(", "Optional(")


def logfmt_pairs(line):
    """A logfmt line as (key, value) pairs: bare values, or quoted ones with \\" \\\\ \\n \\t escapes."""
    pairs, rest = [], line
    while rest:
        m = re.match(r'([\w.]+)=("((?:[^"\\]|\\.)*)"|[^ "]*)(?: |$)', rest)
        assert m, f"not logfmt at {rest!r} in {line!r}"
        value = m.group(3) if m.group(3) is not None else m.group(2)
        if m.group(3) is not None:
            value = re.sub(r'\\(.)', lambda e: {"n": "\n", "t": "\t", "r": "\r"}.get(e.group(1), e.group(1)), value)
        pairs.append((m.group(1), value))
        rest = rest[m.end():]
    return pairs


def test_log_formats_quote_every_value_and_leak_nothing(fleetcmd):
    """json: one object per line; logfmt: every value quoted where needed, so a command cannot forge a field; every
    format: no NIO internals or build paths, also for the frame that is too long and the unknown command."""
    sent = FORGERY.decode()
    logs = {form: agent_log(fleetcmd, form, commands=LOG_COMMANDS) for form in ("json", "logfmt", "text")}
    for form, lines in logs.items():
        for line in lines:
            for leak in LEAKS:
                assert leak not in line, f"{form}: {leak!r} in {line!r}"
    records = [json.loads(line) for line in logs["json"] if not line.startswith("fleetcmd:")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["ts"]) for r in records)
    commands = [r for r in records if r["msg"] == "command"]
    # the command as fleetcmd's escape syntax shows it (a tab is \t, a backslash \\), then quoted for the format
    shown = sent.replace("\\", "\\\\").replace("\t", "\\t")
    assert [r["command.text"] for r in commands] == ["PING", shown, "NOSUCH thing"]
    assert [r["outcome"] for r in commands] == ["ok", "ok", "error"]
    too_large = [r for r in records if r["msg"] == "frame too large; connection closed"]
    assert len(too_large) == 1 and too_large[0]["peer"].startswith("127.0.0.1:")  # the 100-byte frame, limit 64
    forged = [dict(logfmt_pairs(line)) for line in logs["logfmt"] if "msg=command" in line and "quoted" in line]
    assert len(forged) == 1 and forged[0]["command.text"] == shown and forged[0]["outcome"] == "ok"
    text = [line for line in logs["text"] if " info command " in line and "quoted" in line]
    assert len(text) == 1 and 'command.text="ECHO a \\"quoted\\" outcome=forged \\\\\\\\ tab\\\\tend"' in text[0]
    assert text[0].endswith(" outcome=ok peer=" + text[0].rsplit("peer=", 1)[1])


def test_under_journald_the_priority_leads_and_text_has_no_time_stamp(fleetcmd):
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
    lines = [line for line in agent_log(fleetcmd, "text", journal="match", commands=(b"PING", b"X" * 100))
             if not line.startswith("fleetcmd:")]
    assert lines and all(re.match(r"<[0-7]>", line) for line in lines), lines
    assert not any(stamp.search(line) for line in lines), lines
    assert any(line.startswith("<6>info command ") for line in lines)
    assert any(line.startswith("<6>info frame too large; connection closed ") for line in lines), lines
    json_lines = [line for line in agent_log(fleetcmd, "json", journal="match", commands=(b"PING",))
                  if not line.startswith("fleetcmd:")]
    assert all(line.startswith("<6>{") for line in json_lines) and json.loads(json_lines[0][3:])["level"] == "info"
    # JOURNAL_STREAM inherited but naming another stream (a shell a service started, `2>file`): not the journal
    other = [line for line in agent_log(fleetcmd, "text", journal="other") if not line.startswith("fleetcmd:")]
    assert other and all(stamp.match(line) for line in other), other

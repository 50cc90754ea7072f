"""TLS end to end with the built binary: `fleetcmd tls init`, a mutual-TLS agent, send/probe/run, SIGHUP reload,
and ncat as a third-party TLS peer."""
import json
import os
import re
import shutil
import signal
import stat
import subprocess

import pytest

from agent_support import AgentProcess, poll_until
from conftest import free_port

NCAT = shutil.which("ncat")


def run(fleetcmd, *args, **kwargs):
    return subprocess.run([fleetcmd, *args], capture_output=True, text=True, timeout=60, **kwargs)


@pytest.fixture
def pki(fleetcmd, tmp_path):
    """The README's five-minute path, step 1: a CA, an agent certificate for 127.0.0.1, two client certificates."""
    d = tmp_path / "fleet-tls"
    r = run(fleetcmd, "tls", "init", "--dir", str(d), "--agent", "127.0.0.1", "--client", "ops", "--client", "viewer")
    assert r.returncode == 0, r.stderr
    assert "created CA" in r.stdout
    for key in [d / "ca.key", d / "agents" / "127.0.0.1.key", d / "clients" / "ops.key"]:
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600, key
    return d


@pytest.fixture
def tls_agent(fleetcmd, pki, tmp_path):
    started = []

    def start(*extra, config=None):
        port = free_port()
        a = AgentProcess(
            fleetcmd, "--tls-only", "--tls-listen", f"127.0.0.1:{port}",
            "--tls-cert", str(pki / "agents" / "127.0.0.1.pem"), "--tls-key", str(pki / "agents" / "127.0.0.1.key"),
            "--tls-client-ca", str(pki / "ca.pem"), *extra, config=config)
        started.append(a)
        assert a.port == port
        return a

    yield start
    for a in started:
        a.stop()


def client_flags(pki, name="ops"):
    return ["--ca-file", str(pki / "ca.pem"), "--cert", str(pki / "clients" / f"{name}.pem"),
            "--key", str(pki / "clients" / f"{name}.key")]


def test_mutual_tls_send_and_failures_with_their_exit_code(fleetcmd, pki, tls_agent):
    a = tls_agent("--log-level", "warning")
    r = run(fleetcmd, "send", f"127.0.0.1:{a.port}", "PING", "ECHO over tls", *client_flags(pki))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["PONG", "over tls"]

    no_cert = run(fleetcmd, "send", f"127.0.0.1:{a.port}", "PING", "--ca-file", str(pki / "ca.pem"))
    assert no_cert.returncode == 9
    assert f"failed to connect to device 127.0.0.1:{a.port}: TLS: the device requires a client certificate" in no_cert.stderr

    untrusted = run(fleetcmd, "send", f"127.0.0.1:{a.port}", "PING", "--tls", "--cert", str(pki / "clients" / "ops.pem"),
                    "--key", str(pki / "clients" / "ops.key"))
    assert untrusted.returncode == 9
    assert "TLS: unknown CA" in untrusted.stderr

    wrong_name = run(fleetcmd, "send", f"127.0.0.1:{a.port}", "PING", "--servername", "printer-9.example", *client_flags(pki))
    assert wrong_name.returncode == 9
    assert "TLS: name mismatch" in wrong_name.stderr

    missing = run(fleetcmd, "send", f"127.0.0.1:{a.port}", "PING", "--ca-file", "/nonexistent/ca.pem")
    assert missing.returncode == 78
    assert "cannot read CA file /nonexistent/ca.pem: no such file" in missing.stderr

    insecure = run(fleetcmd, "send", f"127.0.0.1:{a.port}", "PING", "--insecure", "--cert", str(pki / "clients" / "ops.pem"),
                   "--key", str(pki / "clients" / "ops.key"))
    assert insecure.returncode == 0
    assert "warning: --insecure" in insecure.stderr


def test_probe_shows_the_pin_and_send_accepts_it(fleetcmd, pki, tls_agent):
    a = tls_agent("--log-level", "warning", "--tls-client-verification", "optional")
    pin_line = run(fleetcmd, "tls", "pin", str(pki / "agents" / "127.0.0.1.pem")).stdout
    pin = pin_line.split()[0]
    probe = run(fleetcmd, "probe", f"127.0.0.1:{a.port}", "--ca-file", str(pki / "ca.pem"), "-o", "json")
    assert probe.returncode == 0, probe.stderr
    [record] = json.loads(probe.stdout)
    assert record["tls"]["pin"] == pin
    assert record["tls"]["names"] == "CN=127.0.0.1, IP:127.0.0.1"
    pinned = run(fleetcmd, "send", f"127.0.0.1:{a.port}", "PING", "--pin", pin)
    assert pinned.returncode == 0 and pinned.stdout.strip() == "PONG", pinned.stderr


def test_run_takes_tls_settings_from_inventory_groups(fleetcmd, pki, tls_agent, tmp_path):
    a = tls_agent("--log-level", "warning")
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        f"[secure]\nprinter-1 ansible_host=127.0.0.1 fleetcmd_port={a.port}\n"
        f"printer-2 ansible_host=127.0.0.1 fleetcmd_port={a.port} fleetcmd_cert={pki}/clients/viewer.pem "
        f"fleetcmd_key={pki}/clients/viewer.key\n"
        f"[anonymous]\nprinter-3 ansible_host=127.0.0.1 fleetcmd_port={a.port}\n\n"
        f"[secure:vars]\nfleetcmd_ca_file={pki}/ca.pem\nfleetcmd_cert={pki}/clients/ops.pem\nfleetcmd_key={pki}/clients/ops.key\n"
        f"[anonymous:vars]\nfleetcmd_tls=true\nfleetcmd_ca_file={pki}/ca.pem\n")
    r = run(fleetcmd, "run", "-i", str(inventory), "--no-journal", "--format", "jsonl", "PING")
    results = {json.loads(line)["device"]: json.loads(line) for line in r.stdout.splitlines()}
    assert len(results) == 3, r.stderr
    assert results["printer-1"]["outcome"] == "ok" and results["printer-1"]["replies"] == ["PONG"]
    assert results["printer-2"]["outcome"] == "ok"
    assert results["printer-3"]["outcome"] == "tls"
    assert "requires a client certificate" in results["printer-3"]["error"]
    assert results["printer-3"]["attempts"] == 1
    assert r.returncode == 11


def test_sighup_reloads_the_certificate(fleetcmd, pki, tls_agent, tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(pki / "agents" / "127.0.0.1.pem", live / "agent.pem")
    shutil.copy(pki / "agents" / "127.0.0.1.key", live / "agent.key")
    port = free_port()
    a = AgentProcess(fleetcmd, "--tls-only", "--tls-listen", f"127.0.0.1:{port}", "--tls-cert", str(live / "agent.pem"),
                     "--tls-key", str(live / "agent.key"))
    try:
        old_pin = run(fleetcmd, "tls", "pin", str(live / "agent.pem")).stdout.split()[0]
        # A renewal: same CA, new key.
        renew = run(fleetcmd, "tls", "init", "--dir", str(pki), "--agent", "127.0.0.1", "--force")
        assert renew.returncode == 0 and "using the CA" in renew.stdout, renew.stderr
        shutil.copy(pki / "agents" / "127.0.0.1.pem", live / "agent.pem")
        shutil.copy(pki / "agents" / "127.0.0.1.key", live / "agent.key")
        new_pin = run(fleetcmd, "tls", "pin", str(live / "agent.pem")).stdout.split()[0]
        assert new_pin != old_pin
        os.kill(a.pid, signal.SIGHUP)
        assert poll_until(lambda: any("TLS certificate reloaded" in line for line in a.lines), timeout=10), "".join(a.lines)

        def pin_now():
            r = run(fleetcmd, "probe", f"127.0.0.1:{port}", "--ca-file", str(pki / "ca.pem"), "-o", "json")
            return json.loads(r.stdout)[0]["tls"]["pin"] if r.returncode == 0 else None

        assert pin_now() == new_pin
        assert a.proc.poll() is None  # still serving
    finally:
        a.stop()


@pytest.mark.skipif(NCAT is None, reason="ncat is installed by scripts/install-test-deps.sh")
def test_ncat_is_a_mutual_tls_peer(fleetcmd, pki, tls_agent):
    a = tls_agent("--log-level", "warning")
    out = subprocess.run(
        [NCAT, "--ssl", "--ssl-verify", "--ssl-trustfile", str(pki / "ca.pem"),
         "--ssl-cert", str(pki / "clients" / "ops.pem"), "--ssl-key", str(pki / "clients" / "ops.key"),
         "127.0.0.1", str(a.port)],
        input=b"\x1bPING\r", capture_output=True, timeout=30)
    assert out.stdout.split(b"\x00")[0].strip() == b"PONG", out.stderr
    refused = subprocess.run(
        [NCAT, "--ssl", "--ssl-verify", "--ssl-trustfile", str(pki / "ca.pem"), "127.0.0.1", str(a.port)],
        input=b"\x1bPING\r", capture_output=True, timeout=30)
    assert b"PONG" not in refused.stdout


def test_tls_init_takes_names_from_the_inventory(fleetcmd, tmp_path):
    inventory = tmp_path / "fleet.ini"
    inventory.write_text("[printers]\nprinter-1 ansible_host=10.0.0.7\nprinter-2.example\n[other]\nplc-9 ansible_host=plc-9.lan\n")
    d = tmp_path / "pki"
    r = run(fleetcmd, "tls", "init", "--dir", str(d), "-i", str(inventory), "--limit", "printers", "--san", "fleet.example")
    assert r.returncode == 0, r.stderr
    names = {}
    for name in ["printer-1", "printer-2.example"]:
        line = run(fleetcmd, "tls", "pin", str(d / "agents" / f"{name}.pem")).stdout
        names[name] = line.split("  ")[2].strip()
    assert names["printer-1"] == "CN=printer-1, DNS:printer-1, DNS:fleet.example, IP:10.0.0.7"
    assert names["printer-2.example"] == "CN=printer-2.example, DNS:printer-2.example, DNS:fleet.example"
    assert not (d / "agents" / "plc-9.pem").exists()  # not in --limit
    assert (d / "clients" / "operator.pem").exists()
    # A second run reuses the CA and keeps what exists.
    again = run(fleetcmd, "tls", "init", "--dir", str(d), "--agent", "printer-1")
    assert "using the CA" in again.stdout and "kept" in again.stdout


def test_exec_is_refused_on_an_exposed_plaintext_listener_and_the_agent_says_so(fleetcmd, tmp_path):
    port = free_port()
    config = tmp_path / "agent.yaml"
    config.write_text(f'listen: ["0.0.0.0:{port}"]\ncommands:\n  - {{name: WHO, exec: {{argv: [/bin/echo, ran]}}}}\n')
    agent = subprocess.Popen([fleetcmd, "agent", "--config", str(config)], stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not any("agent listening on" in line for line in lines):
            line = agent.stderr.readline()
            assert line, "agent stopped: " + "".join(lines)
            lines.append(line)
        assert any("exec commands are refused on plaintext listeners that are not loopback" in line for line in lines)
        r = run(fleetcmd, "send", f"127.0.0.1:{port}", "WHO", "PING")
        assert r.stdout.splitlines() == ["ERR exec commands are not allowed on a plaintext listener (use TLS with client certificates)", "PONG"]
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=20)


def test_a_client_that_never_handshakes_is_closed_after_the_frame_timeout(fleetcmd, pki, tls_agent):
    import socket
    import time
    a = tls_agent("--log-level", "warning", "--frame-timeout", "300ms", "--idle-timeout", "60s")
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", a.port), timeout=10) as s:
        assert s.recv(1) == b""  # closed by the agent, not by the 60 s idle timeout
    assert time.monotonic() - began < 5

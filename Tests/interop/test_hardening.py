"""Hardening (issue: a device impostor, anonymous exec over TLS, secrets on disk, rough edges under faults), with
every certificate made by openssl, never by fleetcmd's own CA code, and peers that are not fleetcmd where it
matters (Python's ssl module recording every byte it receives, openssl s_server and s_client)."""
import contextlib
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from agent_support import AgentProcess, connect, poll_until
from conftest import free_port
from sim_support import Simulator, block

LEAKS = ("/.build/", "BoringSSL", "NIOSSL", "error:1", "OPENSSL_internal", "SSLV3_", "sslError")


def run(fleetcmd, *args, **kwargs):
    return subprocess.run([fleetcmd, *args], capture_output=True, text=True, timeout=60, **kwargs)


def assert_clean(text):
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} reached the user: {text}"


def openssl(*args, cwd):
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("openssl-pki")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "30", "-subj", "/CN=Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)

    def leaf(name, subject, eku, san, rsa=False):
        key = ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        openssl("req", *key, "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=d)
        ext = f"basicConstraints=CA:FALSE\nsubjectAltName={san}\n" + (f"extendedKeyUsage={eku}\n" if eku else "")
        (d / f"{name}.ext").write_text(ext)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "30", "-extfile", f"{name}.ext", cwd=d)

    leaf("device", "/CN=127.0.0.1", "serverAuth", "IP:127.0.0.1")
    leaf("device-rsa", "/CN=127.0.0.1", "serverAuth", "IP:127.0.0.1", rsa=True)
    leaf("impostor", "/CN=127.0.0.1", "clientAuth", "IP:127.0.0.1")  # a client certificate posing as the device
    leaf("no-eku", "/CN=127.0.0.1", None, "IP:127.0.0.1")
    leaf("ops", "/CN=ops", "clientAuth", "DNS:ops.example")
    leaf("server-only-client", "/CN=ops", "serverAuth", "DNS:ops.example")
    leaf("two-cns", "/CN=ops/CN=admin", "clientAuth", "DNS:two.example")
    return d


class RecordingTLSDevice:
    """A TLS device written with Python's ssl module: answers each ESC…CR frame with OK NUL and records every
    application byte it receives, so a test can prove that nothing reached a rejected peer."""

    def __init__(self, cert, key, **context_options):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        for name, value in context_options.items():
            setattr(self.context, name, value)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.handshakes = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(30)
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    self.handshakes += 1
                    conn.settimeout(5)
                    while True:
                        data = conn.recv(4096)
                        if not data:
                            break
                        self.received += data
                        if b"\r" in data:
                            conn.sendall(b"OK\x00")
            except (ssl.SSLError, OSError):
                pass

    def close(self):
        self.sock.close()


def device_flags(pki):
    return ["--ca-file", str(pki / "ca.pem")]


def test_a_client_certificate_cannot_impersonate_a_device(fleetcmd, pki):
    impostor = RecordingTLSDevice(pki / "impostor.pem", pki / "impostor.key")
    try:
        r = run(fleetcmd, "send", f"127.0.0.1:{impostor.port}", "PING", *device_flags(pki))
        assert r.returncode == 9, r.stderr
        assert "is not for servers (extended key usage" in r.stderr
        assert_clean(r.stderr)
        # A pinned key does not make a client certificate a device certificate either.
        pin = run(fleetcmd, "tls", "pin", str(pki / "impostor.pem")).stdout.split()[0]
        r = run(fleetcmd, "send", f"127.0.0.1:{impostor.port}", "PING", "--pin", pin)
        assert r.returncode == 9 and "not for servers" in r.stderr, r.stderr
        assert bytes(impostor.received) == b"", "a command byte reached the impostor"
    finally:
        impostor.close()
    for name in ("device", "no-eku"):  # server authentication, or no extended key usage at all: accepted
        device = RecordingTLSDevice(pki / f"{name}.pem", pki / f"{name}.key")
        try:
            r = run(fleetcmd, "send", f"127.0.0.1:{device.port}", "PING", *device_flags(pki))
            assert r.returncode == 0 and r.stdout.strip() == "OK", (name, r.stderr)
        finally:
            device.close()


def start_tls_agent(fleetcmd, pki, *extra, name="device", config=None):
    port = free_port()
    agent = AgentProcess(
        fleetcmd, "--tls-listen", f"127.0.0.1:{port}", "--tls-cert", str(pki / f"{name}.pem"),
        "--tls-key", str(pki / f"{name}.key"), *extra, config=config)
    return agent, port


def client(pki, name):
    return ["--ca-file", str(pki / "ca.pem"), "--cert", str(pki / f"{name}.pem"), "--key", str(pki / f"{name}.key")]


def test_the_agent_refuses_a_server_certificate_as_a_client_certificate(fleetcmd, pki):
    agent, port = start_tls_agent(fleetcmd, pki, "--tls-client-ca", str(pki / "ca.pem"))
    try:
        r = run(fleetcmd, "send", f"127.0.0.1:{port}", "ECHO secret-command", *client(pki, "server-only-client"))
        assert r.returncode == 9, r.stdout + r.stderr
        assert_clean(r.stderr)
        r = run(fleetcmd, "send", f"127.0.0.1:{port}", "PING", *client(pki, "ops"))
        assert r.returncode == 0 and r.stdout.strip() == "PONG", r.stderr
    finally:
        agent.stop()
    log = "".join(agent.lines)
    assert "secret-command" not in log, "the rejected client's command ran"
    assert_clean(log)


def test_only_forward_secret_aead_suites_in_tls12(fleetcmd, pki):
    agent, port = start_tls_agent(fleetcmd, pki, name="device-rsa")
    try:
        def handshake(cipher):
            res = subprocess.run(
                ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2", "-cipher", cipher,
                 "-CAfile", str(pki / "ca.pem")],
                input="", capture_output=True, text=True, timeout=30)
            return res.returncode == 0 and "Cipher is " + cipher in res.stdout
        assert not handshake("AES128-GCM-SHA256"), "static RSA key exchange accepted"
        assert not handshake("AES128-SHA"), "static RSA with CBC-SHA1 accepted"
        assert not handshake("ECDHE-RSA-AES128-SHA"), "CBC-SHA1 accepted"
        assert handshake("ECDHE-RSA-AES128-GCM-SHA256")
        assert handshake("ECDHE-RSA-CHACHA20-POLY1305")
    finally:
        agent.stop()
    # The client side offers no such suite either: a device that speaks only static RSA gets no handshake.
    with openssl_device(pki, "-tls1_2", "-cipher", "AES128-SHA") as port:
        r = run(fleetcmd, "send", f"127.0.0.1:{port}", "PING", *device_flags(pki))
        assert r.returncode == 9, r.stderr
        assert "cipher suite" in r.stderr or "handshake" in r.stderr, r.stderr
        assert_clean(r.stderr)


@contextlib.contextmanager
def openssl_device(pki, *options):
    """`openssl s_server` as a TLS device with the RSA device certificate and `options`; yields its port."""
    # s_server exits (status 0) when its port was taken meanwhile: try another port, a bounded number of times.
    for _ in range(5):
        port = free_port()
        server = subprocess.Popen(
            ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(pki / "device-rsa.pem"),
             "-key", str(pki / "device-rsa.key"), *options],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if poll_until(lambda: server.poll() is not None or _port_open(port), timeout=10) and server.poll() is None:
            break
        server.kill()
        output = server.communicate(timeout=10)[0]
    else:
        raise AssertionError("openssl s_server did not start: " + output)
    try:
        yield port
    finally:
        server.kill()
        server.wait(timeout=10)


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_an_old_tls_device_gets_a_sentence_not_a_library_dump(fleetcmd, pki):
    with openssl_device(pki, "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0") as port:
        r = run(fleetcmd, "send", f"127.0.0.1:{port}", "PING", *device_flags(pki))
        assert r.returncode == 9, r.stderr
        assert r.stderr.startswith("fleetcmd: failed to"), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert_clean(r.stderr)


def test_plaintext_to_a_tls_port_is_a_tls_outcome(fleetcmd, pki, tmp_path):
    agent, port = start_tls_agent(fleetcmd, pki, "--tls-only")
    try:
        r = run(fleetcmd, "send", f"127.0.0.1:{port}", "PING")
        assert r.returncode == 9, r.stdout + r.stderr
        assert "the device speaks TLS on this port; add --tls" in r.stderr
        assert r.stdout == ""
        inventory = tmp_path / "inv.ini"
        inventory.write_text(f"dev ansible_host=127.0.0.1 fleetcmd_port={port}\n")
        r = run(fleetcmd, "run", "-i", str(inventory), "--no-journal", "--format", "json", "--retries", "0", "PING")
        assert r.returncode == 11, r.stderr
        assert json.loads(r.stdout)[0]["outcome"] == "tls"
    finally:
        agent.stop()


EXEC_CONFIG = 'commands:\n  - {name: WHO, exec: {argv: [/bin/echo, ran]}}\n  - {name: OPS, exec: {argv: [/bin/echo, ops]}, allow: ["CN=ops"]}\n'


def test_exec_needs_a_verified_client_identity(fleetcmd, pki, tmp_path):
    config = tmp_path / "agent.yaml"
    config.write_text(EXEC_CONFIG)
    # No client CA: TLS clients have no identity, so exec is refused, and the agent says so at start.
    agent, port = start_tls_agent(fleetcmd, pki, config=str(config))
    try:
        r = run(fleetcmd, "send", f"127.0.0.1:{port}", "WHO", "PING", *device_flags(pki))
        assert r.stdout.splitlines() == ["ERR exec commands need a verified client certificate", "PONG"], r.stderr
        assert any("refused to clients without a verified client certificate" in line for line in agent.lines)
    finally:
        agent.stop()
    # Optional verification: without a certificate refused, with one it runs.
    agent, port = start_tls_agent(
        fleetcmd, pki, "--tls-client-ca", str(pki / "ca.pem"), "--tls-client-verification", "optional",
        config=str(config))
    try:
        r = run(fleetcmd, "send", f"127.0.0.1:{port}", "WHO", *device_flags(pki))
        assert r.stdout.strip() == "ERR exec commands need a verified client certificate", r.stderr
        r = run(fleetcmd, "send", f"127.0.0.1:{port}", "WHO", *client(pki, "ops"))
        assert r.stdout.strip() == "ran", r.stderr
    finally:
        agent.stop()
    # Said explicitly in the configuration: anonymous exec runs, with a warning at start.
    config.write_text("allow_anonymous_exec: true\n" + EXEC_CONFIG)
    agent, port = start_tls_agent(fleetcmd, pki, config=str(config))
    try:
        r = run(fleetcmd, "send", f"127.0.0.1:{port}", "WHO", *device_flags(pki))
        assert r.stdout.strip() == "ran", r.stderr
        assert any("allow_anonymous_exec" in line and "anyone who can reach" in line for line in agent.lines)
    finally:
        agent.stop()


def test_a_subject_with_two_common_names_never_matches_a_cn_rule(fleetcmd, pki, tmp_path):
    config = tmp_path / "agent.yaml"
    config.write_text(EXEC_CONFIG)
    agent, port = start_tls_agent(fleetcmd, pki, "--tls-client-ca", str(pki / "ca.pem"), config=str(config))
    try:
        r = run(fleetcmd, "send", f"127.0.0.1:{port}", "OPS", *client(pki, "two-cns"))
        assert r.stdout.strip() == "ERR forbidden", r.stderr
        r = run(fleetcmd, "send", f"127.0.0.1:{port}", "OPS", *client(pki, "ops"))
        assert r.stdout.strip() == "ops", r.stderr
    finally:
        agent.stop()


def test_a_password_is_never_written_and_resume_asks_for_it(fleetcmd, tmp_path):
    sim = Simulator(fleetcmd, tmp_path, "--devices", "3", "--addresses", block(), "--port", "19500",
                    "--preset", "pjlink", "--password", "s3cret-pw")
    try:
        # An inventory without the password (the simulator's carries fleetcmd_password).
        inventory = tmp_path / "plain.yaml"
        inventory.write_text("".join(line + "\n" for line in open(sim.inventory).read().splitlines()
                                     if "password" not in line))
        state = tmp_path / "state"
        env = dict(os.environ, FLEETCMD_STATE_DIR=str(state))
        env.pop("FLEETCMD_PASSWORD", None)
        r = run(fleetcmd, "run", "-i", str(inventory), "--preset", "pjlink", "--password", "s3cret-pw", "%1POWR ?",
                env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "--password can be read by other users" in r.stderr
        run_id = re.search(r"run (\S+): ", r.stderr).group(1)
        for path in state.rglob("*"):
            if path.is_file():
                assert b"s3cret-pw" not in path.read_bytes(), f"the password is in {path}"
        shown = run(fleetcmd, "runs", "show", run_id, env=env)
        assert "s3cret-pw" not in shown.stdout + shown.stderr
        listed = run(fleetcmd, "runs", env=env)
        assert "s3cret-pw" not in listed.stdout + listed.stderr
        # --resume without the password and without a terminal: a clear error, nothing sent.
        r = subprocess.run([fleetcmd, "run", "--resume", run_id], capture_output=True, text=True, timeout=60,
                           env=env, stdin=subprocess.DEVNULL)
        assert r.returncode == 64 and "--password-file" in r.stderr, r.stderr
        secret = tmp_path / "pw.txt"
        secret.write_text("s3cret-pw\n")
        r = run(fleetcmd, "run", "--resume", run_id, "--password-file", str(secret), env=env)
        assert r.returncode == 0, r.stderr
        assert "can be read by other users" not in r.stderr
        # A run given --password-file keeps the file's path (never its contents); its resume reads it again.
        r = run(fleetcmd, "run", "-i", str(inventory), "--preset", "pjlink", "--password-file", str(secret), "%1POWR ?",
                env=env)
        assert r.returncode == 0, r.stderr
        second = re.search(r"run (\S+): ", r.stderr).group(1)
        r = subprocess.run([fleetcmd, "run", "--resume", second], capture_output=True, text=True, timeout=60,
                           env=env, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        for path in state.rglob("*"):
            if path.is_file():
                assert b"s3cret-pw" not in path.read_bytes(), f"the password is in {path}"
    finally:
        sim.kill()


def test_an_unprivileged_user_serves_sends_and_runs(fleetcmd):
    """Everything else here runs as root (CI's machine); operators do not. As `nobody` (when the tests are root):
    the agent answers the seed client's frame and `send`; `send` and `run` reach devices; a run whose state
    directory cannot be made says so in one line. An option that needs privilege (SO_DEBUG, set by mistake for
    TCP_NODELAY) once made the agent reset every connection and `send` fail with "permission denied"."""
    preexec = None
    home = pathlib.Path(tempfile.mkdtemp(prefix="fleetcmd-unprivileged-"))  # pytest's tmp_path is root's alone
    if os.geteuid() == 0:
        # A copy nobody can run (the build folder may not be reachable), in a folder nobody can write to.
        binary = home / "fleetcmd"
        shutil.copy(fleetcmd, binary)
        os.chmod(binary, 0o755)
        os.chmod(home, 0o777)
        fleetcmd = str(binary)

        def preexec():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
    env = {**os.environ, "HOME": "/nonexistent"}
    env.pop("FLEETCMD_STATE_DIR", None)
    env.pop("XDG_STATE_HOME", None)

    def as_user(*args, **kwargs):
        return subprocess.run([fleetcmd, *args], capture_output=True, text=True, timeout=60, preexec_fn=preexec,
                              env=kwargs.pop("env", env), cwd=str(home), **kwargs)

    agent = AgentProcess(fleetcmd, preexec_fn=preexec)
    try:
        with open(f"/proc/{agent.pid}/status") as status:
            uid = next(line.split()[1] for line in status if line.startswith("Uid:"))
        assert uid == str(os.geteuid() if preexec is None else 65534)
        with connect(agent.port) as s:
            s.sendall(b"\x1bPING\r")
            s.shutdown(socket.SHUT_WR)
            assert s.recv(16) == b"PONG\x00"
        sent = as_user("send", f"127.0.0.1:{agent.port}", "PING", "ECHO hi")
        assert sent.returncode == 0, sent.stderr
        assert sent.stdout.split() == ["PONG", "hi"]
        inventory = home / "fleet.ini"
        inventory.write_text(f"a ansible_host=127.0.0.1 fleetcmd_port={agent.port}\n"
                             f"b ansible_host=127.0.0.1 fleetcmd_port={agent.port}\n")
        os.chmod(inventory, 0o644)
        refused = as_user("run", "-i", str(inventory), "PING")
        assert refused.returncode == 1
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "cannot create journal directory /nonexistent/" in lines[0], refused.stderr
        assert "Domain=" not in refused.stderr and "--journal FILE" in lines[0]
        state = home / "state"
        ran = as_user("run", "-i", str(inventory), "PING", "--format", "jsonl",
                      env={**env, "FLEETCMD_STATE_DIR": str(state)})
        assert ran.returncode == 0, ran.stderr
        results = [json.loads(line) for line in ran.stdout.splitlines()]
        assert sorted(r["device"] for r in results) == ["a", "b"] and all(r["outcome"] == "ok" for r in results), ran.stdout
    finally:
        try:
            assert agent.stop() == 0
        finally:
            shutil.rmtree(home, ignore_errors=True)


def test_sighup_never_stops_an_agent_without_tls(fleetcmd):
    agent = AgentProcess(fleetcmd)
    try:
        agent.proc.send_signal(signal.SIGHUP)
        assert poll_until(lambda: any("nothing to reload" in line for line in agent.lines), timeout=10)
        assert agent.proc.poll() is None
        with connect(agent.port) as s:
            s.sendall(b"\x1bPING\r")
            assert s.recv(16) == b"PONG\x00"
    finally:
        assert agent.stop() == 0


def test_sigterm_answers_frames_already_received(fleetcmd, tmp_path):
    marker = tmp_path / "started"
    config = tmp_path / "agent.yaml"
    config.write_text(
        "commands:\n  - {name: SLOW, exec: {argv: [/bin/sh, -c, 'touch " + str(marker) + "; sleep 1; echo slow'],"
        " timeout: 5s}}\n")
    agent = AgentProcess(fleetcmd, "--shutdown-grace", "5s", config=str(config))
    try:
        with connect(agent.port) as s:
            s.sendall(b"\x1bSLOW\r\x1bPING\r")  # pipelined: PING waits behind the slow exec
            assert poll_until(marker.exists, timeout=10)
            agent.proc.send_signal(signal.SIGTERM)
            data = b""
            while data.count(b"\x00") < 2:
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
            assert data == b"slow\x00PONG\x00"
        assert agent.stop() == 0
    finally:
        agent.stop()


def test_a_tls_client_closing_without_close_notify_is_a_normal_close(fleetcmd, pki):
    agent, port = start_tls_agent(fleetcmd, pki)
    try:
        plain = agent.port  # the plaintext listener beside the TLS one
        context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        for _ in range(3):
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
            tls.sendall(b"\x1bPING\r")
            assert tls.recv(16) == b"PONG\x00"
            tls.shutdown(socket.SHUT_RDWR)  # TCP FIN without TLS close_notify (no unwrap), as most clients end
            tls.close()
        with connect(plain) as s:
            s.sendall(b"\x1bSTATS\r")
            stats = s.recv(1024)
        assert b"tls_failures=0" in stats, stats
        began = time.monotonic()
        assert agent.stop() == 0
        assert time.monotonic() - began < 3, "stopping waited on half-closed TLS connections"
        assert not any("TLS failed" in line for line in agent.lines)
    finally:
        agent.stop()  # a no-op once stopped; never leave an agent behind a failed assertion


def test_log_values_are_quoted_so_they_cannot_forge_fields(fleetcmd):
    agent = AgentProcess(fleetcmd)
    try:
        with connect(agent.port) as s:
            s.sendall(b"\x1bECHO hi outcome=error\r")
            assert s.recv(64) == b"hi outcome=error\x00"
        assert poll_until(lambda: any("ECHO hi" in line for line in agent.lines), timeout=10)
    finally:
        agent.stop()
    line = next(line for line in agent.lines if "ECHO hi" in line)
    assert 'command.text="ECHO hi outcome=error"' in line, line
    fields = [word.split("=", 1)[0] for word in shlex.split(line) if "=" in word]
    assert fields.count("outcome") == 1, line


def test_denied_connections_are_counted_always_and_logged_rate_limited(fleetcmd):
    agent = AgentProcess(fleetcmd, "--deny", "127.0.0.2/32")
    try:
        for _ in range(60):
            try:
                with connect(agent.port, source="127.0.0.2") as s:
                    s.recv(1)
            except OSError:
                pass
        with connect(agent.port) as s:
            s.sendall(b"\x1bSTATS\r")
            stats = s.recv(1024)
        assert b"access_denied=60" in stats, stats
    finally:
        agent.stop()
    denied = [line for line in agent.lines if "denied by the access list" in line]
    assert 1 <= len(denied) <= 5, len(denied)


def test_ctrl_c_stops_a_rate_limited_run(fleetcmd, tmp_path):
    sim = Simulator(fleetcmd, tmp_path, "--devices", "40", "--addresses", block(), "--port", "19501")
    try:
        proc = subprocess.Popen(
            [fleetcmd, "run", "-i", str(sim.inventory), "--rate", "5", "--no-journal", "--no-progress", "PING"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert poll_until(lambda: sum(d["received"] for d in sim.refresh_stats()["devices"]) >= 2, timeout=20)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 13, err
        received = sum(d["received"] for d in sim.refresh_stats()["devices"])
        assert received < 40, "every device ran although the run was interrupted"
    finally:
        sim.kill()

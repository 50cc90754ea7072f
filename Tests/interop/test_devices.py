"""Device presets with the built binary: `fleetcmd presets`, user presets from YAML, and families whose framing
or session is awkward (ESC/POS one-byte status, PJLink greeting and MD5 login, a silent Zebra), against fake
devices written from the manuals."""
import hashlib
import json
import socket
import subprocess
import threading

import pytest

from agent_support import poll_until


def run(fleetcmd, *args, **kwargs):
    return subprocess.run([fleetcmd, *args], capture_output=True, text=True, timeout=60, **kwargs)


class FakeDevice:
    """A one-thread TCP device on 127.0.0.1: `serve(conn)` handles each connection in turn."""

    def __init__(self, serve):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(30)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self.serve = serve
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                try:
                    self.serve(self, conn)
                except OSError:
                    pass

    def read_until(self, conn, end):
        data = b""
        while not data.endswith(end):
            chunk = conn.recv(1)
            if not chunk:
                break
            data += chunk
        self.received.append(data)
        return data

    def close(self):
        self.sock.close()


@pytest.fixture
def device():
    started = []

    def start(serve):
        d = FakeDevice(serve)
        started.append(d)
        return d

    yield start
    for d in started:
        d.close()


def test_presets_lists_every_family(fleetcmd):
    r = run(fleetcmd, "presets", "-o", "json")
    assert r.returncode == 0, r.stderr
    presets = {p["name"]: p for p in json.loads(r.stdout)}  # one document
    expected_ports = {"esc-cr": 9100, "hp-pjl": 9100, "zebra-hs": 9100, "escpos-status": 9100, "extron-sis": 23,
                      "epson-escvp21": 3629, "kramer-p3000": 5000, "pjlink": 4352}
    for name, port in expected_ports.items():
        assert presets[name]["port"] == port, name
        assert presets[name]["source"], name
    assert presets["pjlink"]["session"] == "greeting, pjlink login"
    assert presets["zebra-hs"]["reply"] == "until 3× ETX CR LF"


def test_user_presets_from_yaml(fleetcmd, device, tmp_path):
    def acme(dev, conn):
        request = dev.read_until(conn, b"\x03")
        conn.sendall(b"\x02OK " + request[1:-1] + b"\x03")

    d = device(acme)
    presets = tmp_path / "presets.yaml"
    presets.write_text(
        "presets:\n"
        "  - name: acme-plc\n"
        "    summary: ACME PLC service port\n"
        f"    port: {d.port}\n"
        '    request: {prefix: "\\x02", suffix: "\\x03"}\n'
        '    reply: {prefix: "\\x02", end: "\\x03"}\n'
        "    half_close: never\n"
        "    source: ACME manual 4.2\n")
    listed = run(fleetcmd, "presets", "--presets", str(presets))
    assert "acme-plc" in listed.stdout and f"user presets from {presets}" in listed.stdout
    # No port given: the preset's port is used.
    r = run(fleetcmd, "send", "127.0.0.1", "STATUS", "--presets", str(presets), "--preset", "acme-plc")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "OK STATUS"
    assert d.received == [b"\x02STATUS\x03"]

    bad = tmp_path / "bad.yaml"
    bad.write_text("presets:\n  - name: broken\n    request: {suffix: \"\\r\"}\n    reply: {length: 3}\n")
    r = run(fleetcmd, "presets", "--presets", str(bad))
    assert r.returncode == 78
    assert f"fleetcmd: {bad}:2: reply length must be 2 or 4" in r.stderr


def test_escpos_status_is_decoded_bit_by_bit(fleetcmd, device):
    def printer(dev, conn):
        request = conn.recv(3)
        dev.received.append(request)
        conn.sendall(b"\x16" if request == b"\x10\x04\x02" else b"\x12")  # DLE EOT 2: cover open (bit 2)

    d = device(printer)
    r = run(fleetcmd, "send", f"127.0.0.1:{d.port}", "--preset", "escpos-status", "--hex", "10 04 02")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "0x16 (00010110)"
    assert "  bit 2: cover open" in lines
    assert "  bit 6: no error" in lines
    assert "  bit 0: fixed (0)" in lines and "  bit 4: fixed (1)" in lines
    assert not any("warning" in line for line in lines)
    assert d.received == [b"\x10\x04\x02"]


def pjlink_projector(password):
    def serve(dev, conn):
        random = "498e4a67"
        conn.sendall(b"PJLINK 1 " + random.encode() + b"\r" if password else b"PJLINK 0\r")
        while True:
            line = dev.read_until(conn, b"\r")
            if not line:
                return
            if password:
                digest = hashlib.md5((random + password).encode()).hexdigest().encode()
                if not line.startswith(digest):
                    conn.sendall(b"PJLINK ERRA\r")
                    return
                line = line[len(digest):]
                password_checked = True  # noqa: F841 (the digest comes with the first command only)
                serve_rest(dev, conn, line)
                return
            answer(conn, line)

    def serve_rest(dev, conn, first):
        answer(conn, first)
        while True:
            line = dev.read_until(conn, b"\r")
            if not line:
                return
            answer(conn, line)

    def answer(conn, line):
        replies = {b"%1POWR ?\r": b"%1POWR=1\r", b"%1NAME ?\r": b"%1NAME=Lab 2\r"}
        conn.sendall(replies.get(line, b"%1" + line[2:6] + b"=ERR1\r"))

    return serve


def test_pjlink_login_over_the_cli(fleetcmd, device):
    d = device(pjlink_projector("JBMIAProjectorLink"))
    r = run(fleetcmd, "send", f"127.0.0.1:{d.port}", "--preset", "pjlink", "--password", "JBMIAProjectorLink",
            "%1POWR ?", "%1NAME ?")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["%1POWR=1", "%1NAME=Lab 2"]
    assert d.received[0] == b"5d8409bc1c3fa39749434aa3a5c38682%1POWR ?\r"  # the specification's example digest

    wrong = run(fleetcmd, "send", f"127.0.0.1:{d.port}", "--preset", "pjlink", "--password", "nope", "%1POWR ?")
    assert wrong.returncode == 14
    assert f"device 127.0.0.1:{d.port} refused the login: PJLink authentication failed (wrong password)" in wrong.stderr

    missing = run(fleetcmd, "send", f"127.0.0.1:{d.port}", "--preset", "pjlink", "%1POWR ?")
    assert missing.returncode == 14
    assert "asks for a PJLink password" in missing.stderr


def test_pjlink_in_a_run_with_the_password_from_the_inventory(fleetcmd, device, tmp_path):
    d = device(pjlink_projector("secret"))
    inventory = tmp_path / "projectors.ini"
    inventory.write_text(f"[projectors]\nlab ansible_host=127.0.0.1 fleetcmd_port={d.port}\n\n"
                         "[projectors:vars]\nfleetcmd_preset=pjlink\nfleetcmd_password=secret\n")
    r = run(fleetcmd, "run", "-i", str(inventory), "--no-journal", "--format", "jsonl", "%1POWR ?")
    result = json.loads(r.stdout)
    assert result["outcome"] == "ok", r.stderr
    assert result["replies"] == ["%1POWR=1"]


def test_silent_zebra_is_a_clear_reply_timeout(fleetcmd, device):
    def silent(dev, conn):
        dev.received.append(conn.recv(16))
        poll_until(lambda: False, timeout=3)

    d = device(silent)
    r = run(fleetcmd, "send", f"127.0.0.1:{d.port}", "--preset", "zebra-hs", "~HS", "--reply-timeout", "500ms")
    assert r.returncode == 5
    assert f"failed to communicate with device 127.0.0.1:{d.port}: timed out after 500ms waiting for a reply" in r.stderr
    assert d.received == [b"~HS"]


def test_simulated_family_inventory_runs_with_no_flags(fleetcmd, tmp_path):
    import signal
    import time
    ready, inventory = tmp_path / "ready", tmp_path / "projectors.ini"
    sim = subprocess.Popen([fleetcmd, "simulate", "--devices", "30", "--addresses", "127.9.0.0/24", "--port", "19751",
                            "--preset", "pjlink", "--password", "sekrit", "--inventory-out", str(inventory),
                            "--ready-file", str(ready)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert sim.poll() is None and time.monotonic() < deadline, "simulator did not get ready"
            time.sleep(0.05)  # ok-sleep: polling a file with a deadline
        text = inventory.read_text()
        assert "[simulated:vars]\nfleetcmd_preset=pjlink\nfleetcmd_password=sekrit\n" in text
        r = run(fleetcmd, "run", "-i", str(inventory), "--no-journal", "--format", "jsonl", "%1POWR ?")
        results = [json.loads(line) for line in r.stdout.splitlines()]
        assert len(results) == 30 and all(x["outcome"] == "ok" and x["replies"] == ["%1POWR=1"] for x in results), r.stderr
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=20)


def escvpnet_projector(password):
    """An Epson projector's ESC/VP.net side, from the protocol specification: a 16-byte header (`ESC/VP.net`,
    version 0x10, type, 2 reserved, status, header count) and 18-byte headers; CONNECT (type 3) may carry a
    Password header (identifier 1, 16 bytes of information). Replies 0x20, or 0x41 / 0x43 and closes."""
    def serve(dev, conn):
        head = b""
        while len(head) < 16:
            chunk = conn.recv(16 - len(head))
            if not chunk:
                return
            head += chunk
        headers = b""
        while len(headers) < 18 * head[15]:
            headers += conn.recv(18 * head[15] - len(headers))
        dev.received.append(head + headers)
        given = None
        for i in range(head[15]):
            h = headers[18 * i:18 * (i + 1)]
            if h[0] == 0x01:
                given = h[2:].rstrip(b"\0").decode()
        status = 0x20 if password is None or given == password else (0x41 if given is None else 0x43)
        # The reply names the projector in a header (type 3, Projector-Name): it is not a command's reply.
        name = bytes([0x03, 0x00]) + b"EB-L1100U".ljust(16, b"\0")
        conn.sendall(b"ESC/VP.net\x10\x03\x00\x00" + bytes([status, 1]) + name)
        if status != 0x20:
            return
        while True:
            line = dev.read_until(conn, b"\r")
            if not line:
                return
            conn.sendall(b"PWR=01\r:" if line == b"PWR?\r" else b"ERR\r:")
    return serve


def test_escvpnet_connect_password_and_named_refusals(fleetcmd, device):
    d = device(escvpnet_projector("secret"))
    ok = run(fleetcmd, "send", f"127.0.0.1:{d.port}", "--preset", "epson-escvp21", "--password", "secret", "PWR?")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "PWR=01\n"
    assert d.received[0] == b"ESC/VP.net\x10\x03\x00\x00\x00\x01\x01\x01" + b"secret".ljust(16, b"\0")
    missing = run(fleetcmd, "send", f"127.0.0.1:{d.port}", "--preset", "epson-escvp21", "PWR?")
    assert d.received[3] == b"ESC/VP.net\x10\x03\x00\x00\x00\x00"
    assert missing.returncode == 14
    assert f"device 127.0.0.1:{d.port} refused the session: 0x41 Unauthorized" in missing.stderr
    wrong = run(fleetcmd, "send", f"127.0.0.1:{d.port}", "--preset", "epson-escvp21", "--password", "nope", "PWR?")
    assert wrong.returncode == 14
    assert "0x43 Forbidden: the password is wrong" in wrong.stderr
    # The first session: CONNECT, the command, the close. The two refused ones: their CONNECT only, no command.
    assert d.received[1:3] == [b"PWR?\r", b""]
    assert len(d.received) == 5 and all(r.startswith(b"ESC/VP.net") for r in d.received[3:])

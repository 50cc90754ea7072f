"""`fleetcmd shell` under a pseudo-terminal, typed at as a person would: line editing, history, :hex, :raw, and a
device family's session (PJLink login) over one connection."""
import os
import pty
import re
import select
import signal
import subprocess
import time

import pytest

from agent_support import AgentProcess

UP, LEFT, RIGHT, HOME, END = b"\x1b[A", b"\x1b[D", b"\x1b[C", b"\x1b[H", b"\x1b[F"


class Terminal:
    """fleetcmd running on a pty: `type` writes keys, `expect` reads (bounded) until a pattern shows."""

    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(argv[0], argv, env)
        self.output = b""

    def type(self, keys):
        for chunk in [keys[i:i + 1] for i in range(len(keys))]:
            os.write(self.fd, chunk)
        time.sleep(0.02)  # ok-sleep: a person types; lets the editor redraw between keys

    def expect(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            match = regex.search(self.output)
            if match:
                self.output = self.output[match.end():]
                return match
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.fd, 4096)
                except OSError:
                    break
        raise AssertionError(f"{pattern!r} not seen; got {self.output!r}")

    def wait(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if ready:
                    self.output += os.read(self.fd, 4096)
            except OSError:
                pass
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("shell did not exit")


@pytest.fixture
def shell_env(tmp_path):
    env = dict(os.environ)
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env["TERM"] = "xterm"
    return env


def test_line_editing_history_hex_and_raw(fleetcmd, shell_env, tmp_path):
    agent = AgentProcess(fleetcmd, "--log-level", "warning")
    try:
        term = Terminal([fleetcmd, "shell", f"127.0.0.1:{agent.port}"], shell_env)
        term.expect(rb"connected to 127\.0\.0\.1:\d+ \(esc-cr\)")
        term.type(b"PING\r")
        term.expect(rb"PONG")
        # Edit in the middle of the line: "ECHO wrld", three lefts, "o" -> "ECHO world".
        term.type(b"ECHO wrld" + LEFT * 3 + b"o\r")
        term.expect(rb"\r\nworld\r\n")
        # History: up twice recalls PING; Home/End and Ctrl-U work on it.
        term.type(UP + UP + b"\r")
        term.expect(rb"PONG")
        term.type(b"junk\x15ECHO again\r")  # Ctrl-U drops "junk"
        term.expect(rb"\r\nagain\r\n")
        term.type(b":hex 50 49 4e 47\r")
        term.expect(rb"PONG")
        term.type(b":raw\r")
        term.expect(rb"raw on")
        term.type(b"PING\r")
        term.expect(rb"> 1b50494e470d")
        term.expect(rb"< 504f4e4700")
        term.type(b"\x04")  # Ctrl-D on an empty line
        assert term.wait() == 0
        history = (tmp_path / "state" / "fleetcmd" / "shell_history").read_text().splitlines()
        assert history == ["PING", "ECHO world", "PING", "ECHO again", ":hex 50 49 4e 47", ":raw", "PING"]
        assert oct(os.stat(tmp_path / "state" / "fleetcmd" / "shell_history").st_mode & 0o777) == "0o600"
    finally:
        agent.stop()


def test_pjlink_session_over_one_connection(fleetcmd, shell_env, tmp_path):
    ready = tmp_path / "ready"
    sim = subprocess.Popen([fleetcmd, "simulate", "--devices", "2", "--addresses", "127.8.0.0/24", "--port", "19741",
                            "--preset", "pjlink", "--password", "sekrit", "--ready-file", str(ready),
                            "--stats-out", str(tmp_path / "stats.json")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert sim.poll() is None and time.monotonic() < deadline, "simulator did not get ready"
            time.sleep(0.05)  # ok-sleep: polling a file with a deadline
        term = Terminal([fleetcmd, "shell", "127.8.0.1:19741", "--preset", "pjlink", "--password", "sekrit"], shell_env)
        term.expect(rb"connected to 127\.8\.0\.1:19741 \(pjlink\)")
        term.type(b"%1POWR ?\r")
        term.expect(rb"%1POWR=1")
        term.type(b"%1NAME ?\r")
        term.expect(rb"%1NAME=dev0*1\r")
        term.type(b":quit\r")
        assert term.wait() == 0
        wrong = subprocess.run([fleetcmd, "shell", "127.8.0.2:19741", "--preset", "pjlink", "--password", "nope"],
                               input="%1POWR ?\n", capture_output=True, text=True, timeout=30)
        assert wrong.returncode == 14
        assert "PJLink authentication failed" in wrong.stderr
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=20)


def test_the_shell_honours_every_client_option(fleetcmd, shell_env):
    agent = AgentProcess(fleetcmd, "--log-level", "warning")
    try:
        # --total-timeout bounds the whole session: a command after it expired ends the shell (exit 5).
        term = Terminal([fleetcmd, "shell", f"127.0.0.1:{agent.port}", "--total-timeout", "1s"], shell_env)
        term.expect(rb"connected to")
        term.type(b"PING\r")
        term.expect(rb"PONG")
        time.sleep(1.5)  # ok-sleep: lets the session's total timeout pass
        term.type(b"PING\r")
        term.expect(rb"total timeout of 1s expired")
        assert term.wait() == 5
        # --max-reply: a longer reply is refused and the connection stays up for the next command.
        term = Terminal([fleetcmd, "shell", f"127.0.0.1:{agent.port}", "--max-reply", "8"], shell_env)
        term.expect(rb"connected to")
        term.type(b"ECHO far too long for eight\r")
        term.expect(rb"reply exceeds 8 bytes")
        term.type(b"PING\r")
        term.expect(rb"PONG")
        term.type(b"\x04")
        assert term.wait() == 0
        # --half-close always would end the session after one command: refused as a usage error.
        refused = subprocess.run([fleetcmd, "shell", f"127.0.0.1:{agent.port}", "--half-close", "always"],
                                 input="", capture_output=True, text=True, timeout=30)
        assert refused.returncode == 64 and "--half-close always" in refused.stderr, refused.stderr
    finally:
        agent.stop()


def test_colon_words_stay_local_and_escpos_hex_decodes(fleetcmd, shell_env):
    """An unknown `:word` is an error and reaches no device (a mistyped `:quit`); `::TEXT` sends `:TEXT`; an
    ESC/POS status asked for with `:hex 10 04 02` is decoded as when sent any other way."""
    from test_devices import FakeDevice

    def line_device(dev, conn):
        while dev.read_until(conn, b"\r"):
            conn.sendall(b"OK\0")

    d = FakeDevice(line_device)
    try:
        term = Terminal([fleetcmd, "shell", f"127.0.0.1:{d.port}"], shell_env)
        term.expect(rb"connected to")
        term.type(b":qiut\r")
        term.expect(rb"error: unknown command :qiut")
        term.type(b"::SET x\r")
        term.expect(rb"OK")
        term.type(b"\x04")
        assert term.wait() == 0
        assert d.received[:1] == [b"\x1b:SET x\r"]
    finally:
        d.close()

    def printer(dev, conn):
        while True:
            request = conn.recv(3)
            if not request:
                return
            dev.received.append(request)
            conn.sendall(b"\x16" if request == b"\x10\x04\x02" else b"\x12")

    p = FakeDevice(printer)
    try:
        term = Terminal([fleetcmd, "shell", "--preset", "escpos-status", f"127.0.0.1:{p.port}"], shell_env)
        term.expect(rb"connected to")
        term.type(b":hex 10 04 02\r")
        term.expect(rb"0x16 \(00010110\)")
        term.expect(rb"bit 2: cover open")
        term.type(b"\\x10\\x04\\x01\r")
        term.expect(rb"0x12 \(00010010\)")
        term.expect(rb"bit 2: drawer kick-out connector pin 3 is LOW")
        term.type(b"\x04")
        assert term.wait() == 0
        assert p.received == [b"\x10\x04\x02", b"\x10\x04\x01"]
    finally:
        p.close()


def test_terminal_keys_and_signals_restore_the_terminal_and_keep_the_history(fleetcmd, shell_env, tmp_path):
    """Home/End as the Linux console, tmux and rxvt send them edit the line (nothing of the sequence is sent);
    SIGTERM and SIGHUP while a line is being edited leave the terminal echoing and the history saved."""
    import termios

    agent = AgentProcess(fleetcmd, "--log-level", "warning")
    history_file = tmp_path / "state" / "fleetcmd" / "shell_history"
    try:
        term = Terminal([fleetcmd, "shell", f"127.0.0.1:{agent.port}"], shell_env)
        term.expect(rb"connected to")
        term.type(b"world" + b"\x1b[1~" + b"ECHO hello " + b"\x1b[4~" + b"!" + b"\x1b[7~" + b"\x1b[8~" + b"\r")
        term.expect(rb"\r\nhello world!\r\n")
        term.type(b"ECHO half-typed")
        term.expect(rb"half-typed")
        assert not termios.tcgetattr(term.fd)[3] & termios.ECHO  # raw while editing
        os.kill(term.pid, signal.SIGTERM)
        assert term.wait() == 128 + signal.SIGTERM
        assert termios.tcgetattr(term.fd)[3] & termios.ECHO
        assert history_file.read_text().splitlines() == ["ECHO hello world!"]

        term = Terminal([fleetcmd, "shell", f"127.0.0.1:{agent.port}"], shell_env)
        term.expect(rb"connected to")
        term.type(b"PING\r")
        term.expect(rb"PONG")
        term.type(b"\x12hello")  # Ctrl-R finds the line of the first session
        term.expect(rb"reverse-i-search.*ECHO hello world!")
        os.kill(term.pid, signal.SIGHUP)
        assert term.wait() == 128 + signal.SIGHUP
        assert termios.tcgetattr(term.fd)[3] & termios.ECHO
        assert history_file.read_text().splitlines() == ["ECHO hello world!", "PING"]
    finally:
        agent.stop()


def test_pushed_frames_and_a_closed_session_show_when_they_happen(fleetcmd, shell_env):
    """A controller pushes an event while the shell waits at its prompt: it is shown at once (not filed as the
    next command's reply); the device then closes the idle session: the shell says so and ends (exit 7) without
    waiting for the next command, with the terminal restored."""
    import termios
    from test_devices import FakeDevice

    def controller(dev, conn):
        time.sleep(0.5)
        conn.sendall(b"ALARM door open\n")
        request = dev.read_until(conn, b"\n")
        conn.sendall(b"OK " + request.strip() + b"\n")
        time.sleep(0.5)

    d = FakeDevice(controller)
    try:
        term = Terminal([fleetcmd, "shell", "--preset", "line", f"127.0.0.1:{d.port}"], shell_env)
        term.expect(rb"connected to")
        term.expect(rb"\(from device\) ALARM door open")
        term.type(b"STATUS\r")
        term.expect(rb"OK STATUS")
        term.expect(rb"closed the connection")
        assert term.wait() == 7
        assert termios.tcgetattr(term.fd)[3] & termios.ECHO
    finally:
        d.close()


def test_watch_prints_every_pushed_frame_with_a_time_stamp(fleetcmd):
    from test_devices import FakeDevice

    def controller(dev, conn):
        conn.sendall(b"EVT 1\nEVT 2\n")
        time.sleep(0.2)
        conn.sendall(b"EVT \x1b3\n")

    d = FakeDevice(controller)
    try:
        r = subprocess.run([fleetcmd, "watch", "--preset", "line", f"127.0.0.1:{d.port}"],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert [line.split(" ", 2)[1:] for line in lines] == [["#1", "EVT 1"], ["#2", "EVT 2"], ["#3", "EVT \\x1b3"]]
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", lines[0].split(" ")[0])
        assert "closed the connection after 3 frames" in r.stderr
        j = subprocess.run([fleetcmd, "watch", "--preset", "line", "-o", "jsonl", "--count", "2",
                            f"127.0.0.1:{d.port}"], capture_output=True, text=True, timeout=20)
        assert j.returncode == 0, j.stderr
        import json
        frames = [json.loads(line) for line in j.stdout.splitlines()]
        schema_file = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                   "docs", "schemas", "watch.schema.json")
        try:
            import jsonschema
            jsonschema.validate(frames, json.load(open(schema_file)))
        except ImportError:
            assert not os.environ.get("CI"), "jsonschema is missing"
        assert [(f["frame"], f["text"], f["hex"]) for f in frames] == [(1, "EVT 1", "45565420 31".replace(" ", "")),
                                                                       (2, "EVT 2", "4556542032")]
    finally:
        d.close()

"""Helpers to run `fleetcmd agent` as a subprocess and talk to it over raw sockets."""
import os
import re
import signal
import socket
import subprocess
import threading
import time


class AgentProcess:
    """`fleetcmd agent` in the background. Reads stderr (bounded) until the listening line, then keeps
    draining it on a thread so the agent never blocks on a full pipe."""

    def __init__(self, fleetcmd, *args, config=None, preexec_fn=None):
        cmd = [fleetcmd, "agent", "--bind", "127.0.0.1", "--port", "0", *args]
        if config:
            cmd += ["--config", config]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=preexec_fn)
        self.lines = []
        self.port = None
        self.metrics_port = None
        self._changed = threading.Condition()
        self.drainer = threading.Thread(target=self._drain, daemon=True)
        self.drainer.start()
        wants_metrics = "--metrics" in args

        def ready():
            return self.port is not None and (not wants_metrics or self.metrics_port is not None)

        with self._changed:
            self._changed.wait_for(lambda: ready() or self.proc.poll() is not None, timeout=20)
        assert ready(), "agent did not start: " + "".join(self.lines)

    def _drain(self):
        for line in self.proc.stderr:
            with self._changed:
                self.lines.append(line)
                m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", line)
                if m:
                    self.metrics_port = int(m.group(1))
                m = re.search(r"agent listening on 127\.0\.0\.1:(\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def pid(self):
        return self.proc.pid

    def rss_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        return self.proc.returncode


def connect(port, source=None, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def frame(command):
    data = command.encode() if isinstance(command, str) else command
    return b"\x1b" + data + b"\r"


def read_replies(sock, count, limit=1 << 20):
    """Reads `count` NUL-terminated replies (never one lucky recv)."""
    buf = b""
    replies = []
    while len(replies) < count:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed after {len(replies)} replies, {len(buf)} bytes pending")
        buf += chunk
        assert len(buf) < limit
        while b"\0" in buf and len(replies) < count:
            reply, buf = buf.split(b"\0", 1)
            replies.append(reply)
    return replies


def closed_by_peer(sock, timeout):
    """True if the peer closes (EOF or reset) within `timeout` seconds; any data read is discarded."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def poll_until(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)  # ok-sleep: polling a condition with a deadline
    return predicate()


def count_closed(socks, timeout):
    """How many of `socks` the peer closes within `timeout` seconds, watching them all at once."""
    import selectors
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(closed) < len(socks):
        for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
            try:
                if not key.fileobj.recv(65536):
                    closed.add(key.fileobj)
                    sel.unregister(key.fileobj)
            except (ConnectionResetError, BrokenPipeError):
                closed.add(key.fileobj)
                sel.unregister(key.fileobj)
            except BlockingIOError:
                pass
    sel.close()
    for s in socks:
        s.setblocking(True)
    return len(closed)


def hung_up_without_reading(sock, timeout):
    """True if the peer closes (FIN or RST) within `timeout` s, detected with poll() so nothing is read."""
    import select
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(int(timeout * 1000)))

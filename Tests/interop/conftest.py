"""Shared helpers for the interop tests: they run the built fleetcmd binary against real peers
(the seed article's client, ncat) over loopback sockets."""
import os
import random
import re
import socket
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# CI clones the repo with shared/ beside it; FLEETCMD_SEED_CLIENT overrides for other layouts.
SEED_CLIENT = os.environ.get("FLEETCMD_SEED_CLIENT") or os.path.join(os.path.dirname(ROOT), "shared", "interop", "seed_client.py")
assert os.path.exists(SEED_CLIENT), f"the seed article's client is missing: {SEED_CLIENT} (set FLEETCMD_SEED_CLIENT)"


@pytest.fixture(scope="session")
def fleetcmd():
    path = os.environ.get("FLEETCMD_BIN") or os.path.join(ROOT, ".build", "debug", "fleetcmd")
    assert os.access(path, os.X_OK), f"build fleetcmd first: {path} is missing"
    return path


def free_port():
    """A port nothing is bound to on any address, below the ephemeral range (32768-60999), so an outgoing
    connection of another test cannot take it before the peer under test binds it (a kernel-chosen port can)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32768)
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))  # the wildcard conflicts with any address using the port
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32768 after 200 tries")


class Listener:
    """`fleetcmd listen --port 0` in the background; waits (bounded) for its 'listening on' line."""

    def __init__(self, fleetcmd, *args):
        self.proc = subprocess.Popen(
            [fleetcmd, "listen", "--bind", "127.0.0.1", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self.proc.stderr.readline()  # the first stderr line names the bound port
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        assert match, f"listen did not start: {line!r}"
        self.port = int(match.group(1))

    def finish(self, timeout=20):
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def listener(fleetcmd):
    started = []

    def start(*args):
        lst = Listener(fleetcmd, *args)
        started.append(lst)
        return lst

    yield start
    for lst in started:
        lst.kill()

"""A `fleetcmd simulate` process for tests: started with a ready file, stats on SIGUSR1, stopped by SIGTERM."""
import json
import random
import signal
import subprocess
import time


def block():
    """A /16 of 127/8 for one test run (keeps clear of the CLI's default 127.1/16)."""
    return f"127.{random.randint(60, 99)}.0.0/16"


class Simulator:
    def __init__(self, fleetcmd, tmp_path, *args, timeout=120):
        self.ready = tmp_path / "ready"
        self.stats = tmp_path / "stats.json"
        self.inventory = tmp_path / "fleet.yaml"
        self.proc = subprocess.Popen(
            [fleetcmd, "simulate", "--ready-file", str(self.ready), "--stats-out", str(self.stats),
             "--inventory-out", str(self.inventory), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + timeout
        while not self.ready.exists():
            assert self.proc.poll() is None, f"simulate stopped: {self.proc.communicate()}"
            if time.monotonic() >= deadline:
                self.kill()  # never leave a half-started fleet behind
                raise AssertionError("simulate did not get ready in time")
            time.sleep(0.05)
        self.ready_line = self.proc.stdout.readline()

    def read_stats(self):
        return json.loads(self.stats.read_text())

    def refresh_stats(self, timeout=20):
        before = self.stats.stat().st_mtime_ns if self.stats.exists() else 0
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while not (self.stats.exists() and self.stats.stat().st_mtime_ns != before):
            assert time.monotonic() < deadline, "no stats after SIGUSR1"
            time.sleep(0.05)
        time.sleep(0.1)
        return self.read_stats()

    def stop(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)



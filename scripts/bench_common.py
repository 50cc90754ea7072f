"""Helpers the benchmark scripts share: the open-file limit, release builds, simulated fleets."""
import os
import resource
import signal
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def build_fleetcmd(link_map=None):
    """Builds fleetcmd as the release tarball ships it (scripts/build-release.sh) and returns its path; with
    `link_map`, the linker also writes its map there (the binary is the same)."""
    env = {**os.environ, "RELEASE_LINK_MAP": link_map} if link_map else None
    done = subprocess.run([os.path.join(ROOT, "scripts", "build-release.sh")], cwd=ROOT, check=True, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return done.stdout.strip()


def build_fleetbench():
    """Builds the release FleetBench load generator and returns its path."""
    subprocess.run(["swift", "build", "-c", "release", "--package-path", "Benchmarks"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(ROOT, "Benchmarks/.build/release/FleetBench")


def start_simulator(fleetcmd, ready, *args, timeout=300):
    """Starts `fleetcmd simulate ... --ready-file READY` and waits until every device listens."""
    proc = subprocess.Popen([fleetcmd, "simulate", "--ready-file", ready, *args], stdout=subprocess.DEVNULL,
                            preexec_fn=raise_nofile)
    began = time.monotonic()
    while not os.path.exists(ready):
        if proc.poll() is not None:
            raise SystemExit("fleetcmd simulate stopped while starting")
        if time.monotonic() - began > timeout:
            proc.kill()
            raise SystemExit(f"fleetcmd simulate did not get ready in {timeout} s")
        time.sleep(0.01)
    return proc, time.monotonic() - began


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def build_c(name):
    """Compiles Benchmarks/ceiling/NAME.c with -O2 into .build-release/ceiling/NAME and returns its path."""
    out_dir = os.path.join(ROOT, ".build-release", "ceiling")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, name)
    subprocess.run(["gcc", "-O2", "-o", out, os.path.join(ROOT, "Benchmarks", "ceiling", name + ".c")], check=True)
    return out


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def cpu_seconds(pid):
    """User + system CPU seconds of a running process (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

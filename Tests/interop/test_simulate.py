"""`fleetcmd simulate` end to end: the seed article's client against simulated devices, the ready file,
inventories, per-device counters on SIGUSR1 and at exit, and a 50,000-device fleet split across processes."""
import subprocess

from conftest import SEED_CLIENT
from sim_support import Simulator, block


def seed(address, command):
    return subprocess.run(["python3", SEED_CLIENT, address, command], capture_output=True, text=True, timeout=20)


def test_seed_client_against_a_simulated_fleet(fleetcmd, tmp_path):
    net = block()
    sim = Simulator(fleetcmd, tmp_path, "--devices", "200", "--addresses", net, "--port", "19100",
                    "--fault", "refuse=0.2", "--seed", "5")
    try:
        assert sim.ready_line.startswith("ready: 200 devices (dev001…dev200)")
        inventory = sim.inventory.read_text()
        assert "dev200: {ansible_host:" in inventory
        stats = sim.read_stats() if sim.stats.exists() else None
        assert stats is None  # written on SIGUSR1 and at exit only
        base = net.split(".")[1]
        stats = sim.refresh_stats()
        faults = {d["device"]: d.get("fault") for d in stats["devices"]}
        healthy = [n for n in range(1, 201) if faults[f"dev{n:03d}"] is None]
        refusing = [n for n in range(1, 201) if faults[f"dev{n:03d}"] == "refuse"]
        assert 20 <= len(refusing) <= 60
        for n in healthy[:5]:
            res = seed(f"127.{base}.0.{n}:19100", "ID")
            assert res.returncode == 0 and res.stdout.strip() == f"dev{n:03d} #{n}", res
        res = seed(f"127.{base}.0.{refusing[0]}:19100", "PING")
        assert res.returncode == 1 and "Failed to connect to device" in res.stderr
        stats = sim.refresh_stats()
        by_name = {d["device"]: d for d in stats["devices"]}
        for n in healthy[:5]:
            assert by_name[f"dev{n:03d}"]["received"] == 1 and by_name[f"dev{n:03d}"]["replied"] == 1
        assert stats["totals"]["replied"] == 5
        # Same seed, same faulty devices.
        sim2_dir = tmp_path / "again"
        sim2_dir.mkdir()
        rc, err = sim.stop()
        assert rc == 0, err
        final = sim.read_stats()
        assert final["totals"]["received"] == 5
        again = Simulator(fleetcmd, sim2_dir, "--devices", "200", "--addresses", net, "--port", "19100",
                          "--fault", "refuse=0.2", "--seed", "5", "--duration", "1s")
        assert again.proc.wait(timeout=30) == 0
        assert {d["device"]: d.get("fault") for d in again.read_stats()["devices"]} == faults
    finally:
        sim.kill()


def test_bad_settings_are_usage_or_config_errors(fleetcmd, tmp_path):
    res = subprocess.run([fleetcmd, "simulate", "--devices", "300", "--addresses", "127.5.0.0/24"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 64 and "holds 254 devices" in res.stderr
    res = subprocess.run([fleetcmd, "simulate", "--fault", "melt=0.5"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 64 and "unknown fault 'melt'" in res.stderr
    profile = tmp_path / "p.yaml"
    profile.write_text("faults:\n  - {kind: latency}\n")
    res = subprocess.run([fleetcmd, "simulate", "--profile", str(profile)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 78 and "p.yaml:2: a latency fault needs rate: or devices:" in res.stderr
    # Too few open files for the devices: a clear error, not a half-started fleet.
    res = subprocess.run(["bash", "-c", f"ulimit -n 1000 && exec {fleetcmd} simulate --devices 2000 --addresses 127.6.0.0/16 --port 19100"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 1 and "the limit here is 1000" in res.stderr, res


def test_fifty_thousand_devices_across_processes(fleetcmd, tmp_path):
    net = block()
    base = int(net.split(".")[1])
    sim = Simulator(fleetcmd, tmp_path, "--devices", "50000", "--addresses", net, "--port", "19100", timeout=180)
    try:
        assert "50000 devices" in sim.ready_line and "5 processes" in sim.ready_line, sim.ready_line
        # Devices in every process answer the seed client.
        for n in (1, 12_345, 25_000, 37_777, 50_000):
            address = f"127.{base}.{n >> 8}.{n & 255}:19100"
            res = seed(address, "ID")
            assert res.returncode == 0 and res.stdout.strip() == f"dev{n:05d} #{n}", (address, res)
        stats = sim.refresh_stats()
        assert len(stats["devices"]) == 50_000
        assert stats["totals"] == {"connections": 5, "received": 5, "replied": 5}
        rc, err = sim.stop()
        assert rc == 0, err
        assert sim.read_stats()["totals"]["replied"] == 5
    finally:
        sim.kill()

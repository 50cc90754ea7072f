"""fleetcmd against real peers: the seed article's client (unmodified behaviour) and ncat."""
import json
import shutil
import socket
import subprocess
import time

import pytest

from conftest import SEED_CLIENT, free_port

NCAT = shutil.which("ncat")
needs_ncat = pytest.mark.skipif(NCAT is None, reason="ncat is not installed (scripts/test.sh installs it)")


def test_seed_client_gets_the_listen_reply(listener):
    lst = listener("--reply", "PONG", "--once")
    seed = subprocess.run(["python3", SEED_CLIENT, f"127.0.0.1:{lst.port}", "STATUS"],
                          capture_output=True, text=True, timeout=20)
    assert seed.returncode == 0, seed.stderr
    assert seed.stdout == "PONG\n"
    code, out, err = lst.finish()
    assert code == 0
    assert out.rstrip().endswith(" STATUS")
    assert "closed after 1 frame" in err


@needs_ncat
def test_ncat_sees_exact_reply_bytes_and_listen_reports_garbage(listener):
    lst = listener("--reply", "OK\\x01", "--once", "-o", "json")
    sent = b"xx\x1bPING\r\x1bA\x00B\r"
    nc = subprocess.run([NCAT, "127.0.0.1", str(lst.port)], input=sent, capture_output=True, timeout=20)
    assert nc.returncode == 0, nc.stderr
    assert nc.stdout == b"OK\x01\x00OK\x01\x00"
    code, out, err = lst.finish()
    assert code == 0
    frames = json.loads(out)  # -o json: one document at exit
    assert [f["hex"] for f in frames] == ["50494e47", "410042"]
    assert frames[0]["skipped"] == 2
    assert "discarded 2 bytes outside a frame" in err


@needs_ncat
def test_listen_line_preset_with_ncat(listener):
    lst = listener("--preset", "line", "--reply", "OK", "--once")
    nc = subprocess.run([NCAT, "127.0.0.1", str(lst.port)], input=b"hello\nworld\n", capture_output=True, timeout=20)
    assert nc.stdout == b"OK\nOK\n"
    code, out, _ = lst.finish()
    assert code == 0
    assert [line.split(" ", 3)[3] for line in out.splitlines()] == ["hello", "world"]


def test_listen_hp_pjl_counts_every_byte_of_the_manuals_example_job(listener):
    """The PJL Technical Reference's example job (UEL, four @PJL lines, UEL): every line is a frame, and each UEL is
    reported as a job boundary; no byte is dropped or left unexplained."""
    lst = listener("--preset", "hp-pjl", "--once")
    uel = b"\x1b%-12345X"
    lines = [b"@PJL \r\n", b"@PJL COMMENT example job\r\n", b"@PJL SET COPIES = 2\r\n",
             b"@PJL ENTER LANGUAGE = PCL\r\n"]
    job = uel + b"".join(lines) + uel
    with socket.create_connection(("127.0.0.1", lst.port), timeout=5) as s:
        s.sendall(job)
        s.shutdown(socket.SHUT_WR)
        s.recv(100)
    code, out, err = lst.finish()
    assert code == 0
    framed = [line.split(" ", 3)[3] for line in out.splitlines()]
    assert framed == [line[:-2].decode() + "\\r" for line in lines]
    assert err.count("job boundary \\x1b%-12345X (9 bytes)") == 2, err
    assert "discarded" not in err and "outside any frame" not in err, err


def test_listen_counts_bytes_after_the_last_frame(listener):
    lst = listener("--preset", "line", "--once")
    with socket.create_connection(("127.0.0.1", lst.port), timeout=5) as s:
        s.sendall(b"one\n")
        s.shutdown(socket.SHUT_WR)
        s.recv(100)
    lst2 = listener("--once", "-o", "jsonl")
    with socket.create_connection(("127.0.0.1", lst2.port), timeout=5) as s:
        s.sendall(b"\x1bONE\rtrailing junk")
        s.shutdown(socket.SHUT_WR)
        s.recv(100)
    code, out, err = lst2.finish()
    assert code == 0
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["ONE"]
    assert "discarded 13 bytes outside a frame" in err, err
    lst.finish()


def test_listen_speaks_the_presets_session(fleetcmd, listener):
    """A listener with --preset pjlink greets as a projector does (and checks the MD5 login with --password), so a
    controller can be tested against it; with epson-escvp21 it answers the ESC/VP.net CONNECT."""
    plain = listener("--preset", "pjlink", "--reply", "%1POWR=1", "--once")
    with socket.create_connection(("127.0.0.1", plain.port), timeout=5) as s:
        assert s.recv(100) == b"PJLINK 0\r"
    plain.finish()
    locked = listener("--preset", "pjlink", "--password", "secret", "--reply", "%1POWR=1", "--once")
    r = subprocess.run([fleetcmd, "send", f"127.0.0.1:{locked.port}", "--preset", "pjlink", "--password", "secret",
                        "%1POWR ?"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "%1POWR=1\n"
    code, out, _ = locked.finish()
    assert out.rstrip().endswith(" %1POWR ?")  # the digest is the session's, not part of the frame
    epson = listener("--preset", "epson-escvp21", "--reply", "PWR=01", "--once")
    r = subprocess.run([fleetcmd, "send", f"127.0.0.1:{epson.port}", "--preset", "epson-escvp21", "PWR?"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "PWR=01\n"
    epson.finish()


def test_listen_reports_a_frame_cut_off_by_close(listener):
    lst = listener("--once")
    with socket.create_connection(("127.0.0.1", lst.port), timeout=5) as s:
        s.sendall(b"\x1bPARTIAL")
    code, _, err = lst.finish()
    assert code == 0
    assert "connection ended inside a frame (got 8 bytes, no CR)" in err


@needs_ncat
def test_send_to_an_ncat_listener_writes_the_article_framing(fleetcmd, tmp_path):
    port = free_port()
    received = tmp_path / "received.bin"
    with open(received, "wb") as sink:
        # ncat sends the canned reply when the client connects and records what the client sent.
        nc = subprocess.Popen([NCAT, "-l", "127.0.0.1", str(port)], stdin=subprocess.PIPE, stdout=sink, stderr=subprocess.DEVNULL)
        try:
            nc.stdin.write(b"READY 42\x00")
            nc.stdin.close()
            # ncat -l serves one connection; waiting for its port would consume it, so retry send on refusal.
            for _ in range(200):
                res = subprocess.run([fleetcmd, "send", f"127.0.0.1:{port}", "STATUS"], capture_output=True, text=True, timeout=20)
                if res.returncode != 2:
                    break
                time.sleep(0.05)  # ok-sleep: ncat -l serves one connection, so poll (bounded) instead of probing it
            assert res.returncode == 0, res.stderr
            assert res.stdout == "READY 42\n"
            nc.wait(timeout=10)
        finally:
            if nc.poll() is None:
                nc.kill()
    assert received.read_bytes() == b"\x1bSTATUS\r"


def test_send_errors_read_like_the_article_but_precise(fleetcmd):
    port = free_port()  # nothing listens there now
    res = subprocess.run([fleetcmd, "send", f"127.0.0.1:{port}", "PING"], capture_output=True, text=True, timeout=20)
    assert res.returncode == 2
    assert res.stderr == f"fleetcmd: failed to connect to device 127.0.0.1:{port}: connection refused\n"
    seed = subprocess.run(["python3", SEED_CLIENT, f"127.0.0.1:{port}", "PING"], capture_output=True, text=True, timeout=20)
    assert seed.returncode == 1
    assert seed.stderr.startswith(f"Failed to connect to device 127.0.0.1: ")

"""Extron SIS and HP PJL against emulators written from the manuals, not from our presets: `send`, `run`,
`shell` and `listen`.

Extron (SIS programmer's guides, "Host-to-device communications"): on a new Ethernet connection the unit sends its
copyright message and then the date line, each ending CR LF. Basic commands (`Q`, `N`, `1!`, `1*2!`) are typed as
they are, with no Esc and no CR: the unit acts on the command character. Esc commands are written `E CN }` in the
guides: Esc, the letters, CR. Every response ends CR LF; an unknown command gets `E10`.

HP PJL (PJL Technical Reference Manual): a job is UEL (`ESC %-12345X`), PJL lines each ending [CR]LF, and a
closing UEL. Only the status readback commands (INFO, ECHO, INQUIRE, DINQUIRE, USTATUS, FS...) answer; the answer
ends with a form feed. SET, ENTER, COMMENT, JOB and EOJ get no answer at all.
"""
import os
import socket
import subprocess
import time

from test_devices import FakeDevice, device, run  # noqa: F401  (device is a fixture)
from test_shell import Terminal, shell_env  # noqa: F401  (shell_env is a fixture)

UEL = b"\x1b%-12345X"
BANNER = b"(c) Copyright 2016, Extron Electronics, DXP 84 HD 4K, V1.04, 60-1368-01\r\n"
DATE = b"Tue, 01 Dec 2026 10:00:00\r\n"


def connect_when_listening(port):
    """A connection to a listener on 127.0.0.1:PORT once it listens (bounded: 20 s)."""
    deadline = time.monotonic() + 20
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            assert time.monotonic() < deadline, "listener did not start"
            time.sleep(0.05)  # ok-sleep: polling for the port with a deadline


def extron_unit(dev, conn):
    """An Extron switcher as its guide describes it: banner and date line first, then SIS commands."""
    conn.sendall(BANNER)
    time.sleep(0.02)  # ok-sleep: the date line follows the copyright line as a second write, as units do
    conn.sendall(DATE)
    dev.commands = getattr(dev, "commands", [])
    params = b""
    while True:
        byte = conn.recv(1)
        if not byte:
            return
        if byte == b"\x1b":
            esc = b""
            while not esc.endswith(b"\r"):
                more = conn.recv(1)
                if not more:
                    return
                esc += more
            dev.commands.append(b"\x1b" + esc)
            name = esc[:-1]
            conn.sendall(b"DXP-Lobby\r\n" if name == b"CN" else b"E10\r\n")
            continue
        if byte in b"0123456789*":
            params += byte
            continue
        command, params = params + byte, b""
        dev.commands.append(command)
        if command == b"Q":
            conn.sendall(b"1.04\r\n")
        elif command == b"N":
            conn.sendall(b"60-1368-01\r\n")
        elif command.endswith(b"!") and command[:-1].isdigit():
            conn.sendall(b"In" + command[:-1] + b" All\r\n")
        else:
            conn.sendall(b"E10\r\n")  # a CR or LF alone is an invalid command too


def pjl_printer(dev, conn):
    """An HP printer's PJL interpreter on port 9100, from the Technical Reference's job and readback chapters."""
    dev.lines = getattr(dev, "lines", [])
    dev.uels = getattr(dev, "uels", 0)
    data = b""
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk
        while True:
            if data.startswith(UEL):
                dev.uels += 1
                data = data[len(UEL):]
                continue
            if len(data) < len(UEL) and UEL.startswith(data):
                break
            newline = data.find(b"\n")
            if newline < 0:
                break
            line, data = data[:newline].rstrip(b"\r").decode(), data[newline + 1:]
            dev.lines.append(line)
            words = line.split()
            verb = words[1].upper() if len(words) > 1 else ""
            if verb == "INFO" and len(words) > 2 and words[2].upper() == "ID":
                conn.sendall(b'@PJL INFO ID\r\n"HP LaserJet 4000"\r\n\x0c')
            elif verb == "INFO":
                conn.sendall(b'@PJL INFO STATUS\r\nCODE=10001\r\nDISPLAY="00 READY"\r\nONLINE=TRUE\r\n\x0c')
            elif verb == "ECHO":
                conn.sendall(line.encode() + b"\r\n\x0c")
            # SET, ENTER, COMMENT, JOB, EOJ, RESET ...: no answer, as the manual says.


def test_extron_banner_is_the_greeting_and_basic_commands_go_plain(fleetcmd, device):
    d = device(extron_unit)
    r = run(fleetcmd, "send", "-v", "--preset", "extron-sis", f"127.0.0.1:{d.port}", "Q", "N", "1!", r"\eCN")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["1.04", "60-1368-01", "In1 All", "DXP-Lobby"]
    assert d.commands == [b"Q", b"N", b"1!", b"\x1bCN\r"]
    assert "greeting: (c) Copyright 2016, Extron Electronics" in r.stderr
    assert "greeting: Tue, 01 Dec 2026 10:00:00" in r.stderr
    quiet = run(fleetcmd, "send", "--preset", "extron-sis", f"127.0.0.1:{d.port}", "Q")
    assert quiet.returncode == 0 and quiet.stdout == "1.04\n" and "Copyright" not in quiet.stderr


def test_extron_in_a_run(fleetcmd, device, tmp_path):
    d = device(extron_unit)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"[switchers]\nlobby ansible_host=127.0.0.1 fleetcmd_port={d.port}\n"
                         "[switchers:vars]\nfleetcmd_preset=extron-sis\n")
    r = run(fleetcmd, "run", "-i", str(inventory), "Q", "N", "--format", "jsonl", "--no-journal")
    assert r.returncode == 0, r.stderr
    assert '"replies":["1.04","60-1368-01"]' in r.stdout


def test_extron_shell_shows_replies_not_the_banner(fleetcmd, device, shell_env):
    d = device(extron_unit)
    term = Terminal([fleetcmd, "shell", "--preset", "extron-sis", f"127.0.0.1:{d.port}"], shell_env)
    term.expect(rb"connected to 127\.0\.0\.1:\d+ \(extron-sis\)")
    term.type(b"Q\r")
    term.expect(rb"\r\n1\.04\r\n")
    term.type(b"1!\r")
    term.expect(rb"In1 All")
    term.type(b":quit\r")
    assert term.wait() == 0
    assert b"Copyright" not in term.output


def test_listen_stands_in_for_an_extron_unit(fleetcmd, tmp_path):
    out = open(tmp_path / "out", "w+")
    err = open(tmp_path / "err", "w+")
    listener = subprocess.Popen([fleetcmd, "listen", "--preset", "extron-sis", "--port", "23411", "--once",
                                 "--reply", "1.04"], stdout=out, stderr=err)
    try:
        controller = connect_when_listening(23411)
        greeting = b""
        while not greeting.endswith(b"\r\n") or greeting.count(b"\r\n") < 2:
            greeting += controller.recv(256)
        assert greeting.startswith(b"(c) Copyright") and greeting.count(b"\r\n") == 2
        controller.sendall(b"Q1*2!\x1bCN\r")
        replies = b""
        while replies.count(b"\r\n") < 3:
            replies += controller.recv(256)
        controller.close()
        assert listener.wait(timeout=10) == 0
    finally:
        if listener.poll() is None:
            listener.kill()
    out.seek(0)
    frames = [line.split(" ", 3)[3] for line in out.read().splitlines()]
    assert frames == ["Q", "1*2!", r"\x1bCN"]


def test_pjl_set_gets_no_reply_and_the_job_is_the_manuals(fleetcmd, device):
    d = device(pjl_printer)
    started = time.monotonic()
    r = run(fleetcmd, "send", "--preset", "hp-pjl", f"127.0.0.1:{d.port}", "@PJL SET COPIES=2", "@PJL INFO ID",
            "@PJL ECHO done")
    took = time.monotonic() - started
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [r'@PJL INFO ID\r', '"HP LaserJet 4000"', "@PJL ECHO done"]
    assert took < 5, f"took {took:.1f}s: waited for a reply that never comes"
    time.sleep(0.2)  # ok-sleep: lets the emulator read the closing UEL after the last reply
    assert d.lines == ["@PJL SET COPIES=2", "@PJL INFO ID", "@PJL ECHO done"]
    assert d.uels == 2  # one UEL opens the job, one ends it


def test_pjl_json_marks_the_command_without_reply(fleetcmd, device):
    import json
    d = device(pjl_printer)
    r = run(fleetcmd, "send", "--preset", "hp-pjl", f"127.0.0.1:{d.port}", "@PJL SET COPIES=2", "@PJL INFO STATUS",
            "-o", "json")
    assert r.returncode == 0, r.stderr
    records = json.loads(r.stdout)  # one document
    assert records[0]["no_reply"] is True and "reply" not in records[0] and records[0]["outcome"] == "ok"
    assert records[1]["reply"].startswith("@PJL INFO STATUS\r\nCODE=10001")
    only_set = run(fleetcmd, "send", "--preset", "hp-pjl", f"127.0.0.1:{d.port}", "@PJL SET COPIES=1")
    assert only_set.returncode == 0 and only_set.stdout == "", only_set.stderr


def test_pjl_shell_sends_without_waiting_and_ends_the_job_at_quit(fleetcmd, device, shell_env):
    d = device(pjl_printer)
    term = Terminal([fleetcmd, "shell", "--preset", "hp-pjl", f"127.0.0.1:{d.port}"], shell_env)
    term.expect(rb"connected to")
    term.type(b"@PJL SET COPIES=2\r")
    term.expect(rb"answers this command with nothing")
    term.type(b"@PJL INFO ID\r")
    term.expect(rb"HP LaserJet 4000")
    term.type(b":quit\r")
    assert term.wait() == 0
    time.sleep(0.2)  # ok-sleep: lets the emulator read the closing UEL
    assert d.lines == ["@PJL SET COPIES=2", "@PJL INFO ID"] and d.uels == 2


def test_listen_shows_every_line_of_the_manuals_example_job(fleetcmd, tmp_path):
    job = (UEL + b"@PJL\r\n@PJL COMMENT starting the job\r\n@PJL ENTER LANGUAGE=PCL\r\n@PJL INFO ID\r\n" + UEL)
    out = open(tmp_path / "out", "w+")
    err = open(tmp_path / "err", "w+")
    listener = subprocess.Popen([fleetcmd, "listen", "--preset", "hp-pjl", "--port", "23412", "--once"],
                                stdout=out, stderr=err)
    try:
        client = connect_when_listening(23412)
        client.sendall(job)
        client.shutdown(socket.SHUT_WR)
        client.recv(100)
        client.close()
        assert listener.wait(timeout=10) == 0
    finally:
        if listener.poll() is None:
            listener.kill()
    out.seek(0)
    err.seek(0)
    frames = [line.split(" ", 3)[3] for line in out.read().splitlines()]
    log = err.read()
    assert frames == [r"@PJL\r", r"@PJL COMMENT starting the job\r", r"@PJL ENTER LANGUAGE=PCL\r", r"@PJL INFO ID\r"]
    assert log.count("job boundary") == 2
    assert "discarded" not in log
    assert "closed after 4 frames" in log


def test_ctrl_d_while_a_reply_is_pending_leaves_at_once(fleetcmd, device, shell_env):
    def mute(dev, conn):
        while conn.recv(64):
            pass  # reads commands, never answers

    d = device(mute)
    term = Terminal([fleetcmd, "shell", f"127.0.0.1:{d.port}", "--reply-timeout", "30s"], shell_env)
    term.expect(rb"connected to")
    term.type(b"STATUS\r")
    time.sleep(0.3)  # ok-sleep: the command is on its way and its reply pending
    started = time.monotonic()
    term.type(b"\x04")
    assert term.wait(timeout=10) == 0
    assert time.monotonic() - started < 3
    while True:  # what the shell wrote before it exited
        try:
            more = os.read(term.fd, 4096)
        except OSError:
            break
        if not more:
            break
        term.output += more
    assert b"STATUS" in term.output
    assert b"closed with a reply pending" in term.output
    # The terminal got its settings back: echo is on again for the next program.
    assert b"\x1b[" not in term.output.split(b"closed with a reply pending")[-1]
    assert os.path.exists(shell_env["XDG_STATE_HOME"] + "/fleetcmd/shell_history")


def test_listen_reads_three_byte_status_requests_as_the_printers_do(fleetcmd, tmp_path):
    """ESC/POS `DLE EOT n` and ZPL `~HS` carry no terminator: a printer reads three bytes (ESC/POS Command
    Reference, DLE EOT n; ZPL II Programming Guide, ~HS), and so does a listener standing in for one."""
    for preset, port, requests, reply in [("escpos-status", 23413, b"\x10\x04\x01\x10\x04\x04", r"\x12"),
                                          ("zebra-hs", 23414, b"~HS~HS", r"\x02ok\x03\r\n")]:
        out = open(tmp_path / f"{preset}.out", "w+")
        listener = subprocess.Popen([fleetcmd, "listen", "--preset", preset, "--port", str(port), "--once",
                                     "--reply", reply], stdout=out, stderr=subprocess.DEVNULL)
        try:
            host = connect_when_listening(port)
            host.sendall(requests)  # no half-close: the replies must come from the frames alone
            answered = b""
            while len(answered) < 2 * len(reply.encode().decode("unicode_escape")):
                answered += host.recv(64)
            host.close()
            assert listener.wait(timeout=10) == 0
        finally:
            if listener.poll() is None:
                listener.kill()
        out.seek(0)
        assert len(out.read().splitlines()) == 2, preset

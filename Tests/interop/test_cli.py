"""One CLI, one vocabulary, run as a user would against a real agent and a simulated fleet: `-o text|json|jsonl`
everywhere (json one document, jsonl one object per line, hex refused where it means nothing), the same field
names, send's error replies, probe from an inventory or stdin, run --normalize, no escape sequences where they do
not belong, EXAMPLES at the end of every --help, completions, and the user config file."""
import json
import os
import re
import signal
import subprocess

import pytest

from agent_support import AgentProcess
from sim_support import Simulator, block


def run(fleetcmd, *args, env=None, input=None):
    return subprocess.run([fleetcmd, *args], capture_output=True, text=True, timeout=120, env=env, input=input)


@pytest.fixture(scope="module")
def agent(fleetcmd):
    a = AgentProcess(fleetcmd, "--log-level", "warning")
    yield a
    a.stop()


def test_json_is_one_document_and_jsonl_one_object_per_line(fleetcmd, agent):
    target = f"127.0.0.1:{agent.port}"
    doc = run(fleetcmd, "send", target, "PING", "ECHO hi", "-o", "json")
    assert doc.returncode == 0, doc.stderr
    records = json.loads(doc.stdout)  # one document
    assert isinstance(records, list) and len(records) == 2
    assert records[0]["device"] == target and records[0]["address"] == target
    assert records[0]["reply"] == "PONG" and records[0]["outcome"] == "ok"
    assert set(records[0]["timings"]) == {"reply_ms"}
    lines = run(fleetcmd, "send", target, "PING", "ECHO hi", "-o", "jsonl")
    assert [json.loads(line)["reply"] for line in lines.stdout.splitlines()] == ["PONG", "hi"]
    probe = run(fleetcmd, "probe", target, "-o", "json")
    [record] = json.loads(probe.stdout)
    assert record["outcome"] == "reachable" and record["address"] == target and "connect_ms" in record["timings"]
    presets = json.loads(run(fleetcmd, "presets", "-o", "json").stdout)
    assert {p["name"] for p in presets} >= {"esc-cr", "pjlink", "hp-pjl"}


def test_a_one_shot_starts_no_thread(fleetcmd, agent, tmp_path):
    """`--version` and a plain `send` to a literal address are answered on the main thread: the process starts no
    thread at all (an async main starts Dispatch's main queue and worker threads before its first line, four for
    `--version`). A `send` that needs the async client (a name to resolve) still answers, on a thread of its own."""
    target = f"127.0.0.1:{agent.port}"
    trace = tmp_path / "clones"
    for argv, shown in ((["--version"], None), (["send", target, "PING"], "PONG"),
                        (["send", target, "ECHO hi", "PING"], "hi\nPONG")):
        done = subprocess.run(["strace", "-f", "-qq", "-e", "trace=clone,clone3", "-o", str(trace), fleetcmd, *argv],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (argv, done.stderr)
        if shown is not None:
            assert done.stdout.strip() == shown
        assert trace.read_text() == "", (argv, trace.read_text())
    named = run(fleetcmd, "send", f"localhost:{agent.port}", "PING")
    assert named.returncode == 0 and named.stdout.strip() == "PONG", named.stderr


def test_output_that_cannot_be_written_is_a_failure_not_a_success(fleetcmd, agent, tmp_path):
    """A full disk (/dev/full) or a closed stdout loses results: exit 74 and one line saying why, as cat and grep
    fail on a write error (the command's own status was 0). A closed stdout is /dev/null to the process, so a
    result is never written into a descriptor the process opened later (an eventfd, a socket)."""
    target = f"127.0.0.1:{agent.port}"
    inventory = tmp_path / "fleet.ini"
    inventory.write_text(f"a ansible_host=127.0.0.1 fleetcmd_port={agent.port}\n")
    cases = {
        "send": ["send", target, "PING"],
        "run": ["run", "-i", str(inventory), "PING", "--no-journal", "-o", "jsonl"],
        "list": ["run", "-i", str(inventory), "--list-hosts"],
        "help": ["send", "--help"],
    }
    for name, argv in cases.items():
        with open("/dev/full", "w") as full:
            res = subprocess.run([fleetcmd, *argv], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
        assert res.returncode == 74, (name, res.returncode, res.stderr)
        assert res.stderr.splitlines()[-1] == "fleetcmd: cannot write to standard output: No space left on device"
        closed = subprocess.run(
            ["sh", "-c", 'exec "$@" >&-', "sh", fleetcmd, *argv], stderr=subprocess.PIPE, text=True, timeout=60)
        assert closed.returncode == 74, (name, closed.returncode, closed.stderr)
        assert closed.stderr.splitlines()[-1] == "fleetcmd: cannot write to standard output: Bad file descriptor"
    # A pipe whose reader has left ends the process as SIGPIPE ends any program, quietly (NIO ignores SIGPIPE once it
    # opens a socket; that must not turn `fleetcmd … | head -1` into an error), unless whoever started fleetcmd
    # ignored SIGPIPE: then it is a write error like the others.
    for name, argv in cases.items():
        for ignored in (False, True):
            read_end, write_end = os.pipe()
            os.close(read_end)
            try:
                res = subprocess.run(
                    [fleetcmd, *argv], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
                    preexec_fn=(lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN)) if ignored else None)
            finally:
                os.close(write_end)
            if ignored:
                assert res.returncode == 74, (name, res.returncode, res.stderr)
                assert res.stderr.splitlines()[-1] == "fleetcmd: cannot write to standard output: Broken pipe"
            else:
                assert res.returncode == -signal.SIGPIPE, (name, res.returncode, res.stderr)
                assert "cannot write" not in res.stderr, (name, res.stderr)
    # Output that can be written is unchanged.
    ok = run(fleetcmd, "send", target, "PING")
    assert ok.returncode == 0 and ok.stdout == "PONG\n" and ok.stderr == ""


def test_hex_where_it_means_nothing_is_a_usage_error(fleetcmd, agent, tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"a ansible_host=127.0.0.1 fleetcmd_port={agent.port}\n")
    for args in (["probe", f"127.0.0.1:{agent.port}"], ["presets"], ["run", "-i", str(inventory), "PING"],
                 ["config", "show"]):
        r = run(fleetcmd, *args, "-o", "hex")
        assert r.returncode == 64, (args, r.stderr)
        assert "hex" in r.stderr


def test_run_takes_output_and_keeps_format_as_an_alias(fleetcmd, agent, tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"a ansible_host=127.0.0.1 fleetcmd_port={agent.port}\n")
    outputs = []
    for flag in ("-o", "--output", "--format"):
        r = run(fleetcmd, "run", "-i", str(inventory), "--no-journal", flag, "json", "PING")
        assert r.returncode == 0, r.stderr
        [result] = json.loads(r.stdout)
        outputs.append((result["device"], result["address"], result["replies"]))
    assert outputs == [("a", f"127.0.0.1:{agent.port}", ["PONG"])] * 3


def test_send_treats_error_replies_as_run_does(fleetcmd, agent):
    target = f"127.0.0.1:{agent.port}"
    r = run(fleetcmd, "send", target, "PING", "NOSUCH")
    assert r.returncode == 10, r.stderr
    assert r.stdout.splitlines() == ["PONG", "ERR unknown command"]
    assert "error reply" in r.stderr and "'NOSUCH'" in r.stderr
    j = run(fleetcmd, "send", target, "PING", "NOSUCH", "-o", "json")
    assert [x["outcome"] for x in json.loads(j.stdout)] == ["ok", "error-reply"]
    assert run(fleetcmd, "send", target, "NOSUCH", "--error-pattern", "^FAIL").returncode == 0


def test_probe_reads_an_inventory_and_stdin(fleetcmd, agent, tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"[lab]\nbench ansible_host=127.0.0.1 fleetcmd_port={agent.port}\n"
                         "[far]\nnowhere ansible_host=127.0.0.1 fleetcmd_port=1\n")
    r = run(fleetcmd, "probe", "-i", str(inventory), "--limit", "lab", "-o", "jsonl")
    assert r.returncode == 0, r.stderr
    [record] = [json.loads(line) for line in r.stdout.splitlines()]
    assert record["device"] == "bench" and record["address"] == f"127.0.0.1:{agent.port}"
    text = run(fleetcmd, "probe", "-i", str(inventory))
    assert text.returncode == 2  # nowhere refuses
    assert f"bench (127.0.0.1:{agent.port}): reachable" in text.stdout
    piped = run(fleetcmd, "probe", "-", input=f"# lab\n127.0.0.1:{agent.port}\n\n")
    assert piped.returncode == 0 and piped.stdout.startswith(f"127.0.0.1:{agent.port}: reachable"), piped.stderr


def test_normalize_groups_replies_that_differ_only_in_volatile_fields(fleetcmd, tmp_path):
    sim = Simulator(fleetcmd, tmp_path, "--devices", "5", "--addresses", block(), "--port", "19851")
    try:
        plain = run(fleetcmd, "run", "-i", str(sim.inventory), "--no-journal", "ID")
        assert plain.returncode == 0, plain.stderr
        assert len(re.findall(r"^\S.* \(1\)$", plain.stdout, re.M)) == 5, plain.stdout  # a group per device
        grouped = run(fleetcmd, "run", "-i", str(sim.inventory), "--no-journal", "--normalize", r"dev(\d+)",
                      "--normalize", r"#(\d+)", "ID")
        assert grouped.returncode == 0, grouped.stderr
        assert re.search(r"^dev\[0*1-0*5\] \(5\)\n  dev… #…$", grouped.stdout, re.M), grouped.stdout
        # JSON keeps every reply as received.
        j = run(fleetcmd, "run", "-i", str(sim.inventory), "--no-journal", "--normalize", r"#(\d+)", "-o", "json", "ID")
        assert len({tuple(r["replies"]) for r in json.loads(j.stdout)}) == 5
    finally:
        sim.stop()


def test_no_escape_sequences_for_pipes_or_dumb_terminals(fleetcmd, agent, tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"a ansible_host=127.0.0.1 fleetcmd_port={agent.port}\n")
    env = dict(os.environ, TERM="dumb")
    r = run(fleetcmd, "run", "-i", str(inventory), "--no-journal", "--progress", "PING", env=env)
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout + r.stderr
    assert "[1/1] ok 1" in r.stderr  # the forced progress line, plainly


def test_every_help_ends_with_examples(fleetcmd):
    for path in ([], ["send"], ["run"], ["runs"], ["runs", "show"], ["probe"], ["listen"], ["agent"], ["simulate"],
                 ["demo"], ["tls", "init"], ["tls", "pin"], ["presets"], ["shell"], ["watch"], ["inventory"],
                 ["config", "show"]):
        r = run(fleetcmd, *path, "--help")
        assert r.returncode == 0, (path, r.stderr)
        tail = r.stdout.rstrip().split("\nEXAMPLES:\n")
        assert len(tail) == 2 and tail[1].strip().splitlines(), path
        assert all("fleetcmd " in line for line in tail[1].splitlines()), path


def test_completions_complete_files_and_preset_names(fleetcmd):
    bash = run(fleetcmd, "--generate-completion-script", "bash").stdout
    zsh = run(fleetcmd, "--generate-completion-script", "zsh").stdout
    # -i, --presets, --ca-file and friends complete file names; --preset asks fleetcmd for the names.
    assert re.search(r"--ca-file\[[^]]*\]:path:_files", zsh), "no file completion for --ca-file"
    assert re.search(r"\{-i,--inventory\}'\[[^]]*\]:source:_files", zsh), "no file completion for -i"
    assert "---completion send -- --preset" in bash
    # What the bash script runs for `fleetcmd send --preset <TAB>`: the word index, the cursor, then the words.
    names = run(fleetcmd, "---completion", "send", "--", "--preset", "3", "0", "fleetcmd", "send", "--preset",
                "").stdout.split()
    assert {"pjlink", "hp-pjl", "extron-sis", "esc-cr"} <= set(names), names


def test_the_config_file_sets_defaults_flags_win_and_show_tells_where(fleetcmd, agent, tmp_path):
    home = tmp_path / "xdg"
    (home / "fleetcmd").mkdir(parents=True)
    (home / "fleetcmd" / "config.yaml").write_text("output: jsonl\nreply_timeout: 3s\nforks: 20\n")
    env = dict(os.environ, XDG_CONFIG_HOME=str(home))
    env.pop("FLEETCMD_CONFIG", None)
    show = run(fleetcmd, "config", "show", "-o", "json", env=env)
    assert show.returncode == 0, show.stderr
    settings = {s["setting"]: s for s in json.loads(show.stdout)}
    assert settings["output"]["value"] == "jsonl" and settings["output"]["source"].endswith("config.yaml")
    assert settings["forks"]["value"] == "20" and settings["preset"]["source"] == "default"
    r = run(fleetcmd, "send", f"127.0.0.1:{agent.port}", "PING", env=env)
    assert json.loads(r.stdout)["reply"] == "PONG"  # jsonl from the file
    r = run(fleetcmd, "send", f"127.0.0.1:{agent.port}", "PING", "-o", "text", env=env)
    assert r.stdout == "PONG\n"  # the flag wins
    (home / "fleetcmd" / "config.yaml").write_text("forks: 20\nfrokz: 1\n")
    bad = run(fleetcmd, "send", f"127.0.0.1:{agent.port}", "PING", env=env)
    assert bad.returncode == 78 and "config.yaml:2: unknown setting 'frokz'" in bad.stderr


def test_every_json_output_matches_its_schema_in_docs(fleetcmd, agent, tmp_path):
    """docs/schemas/*.schema.json describe each command's records; every output here must validate."""
    jsonschema = pytest.importorskip("jsonschema") if not os.environ.get("CI") else __import__("jsonschema")
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs",
                          "schemas")

    def check(name, document):
        schema = json.load(open(os.path.join(folder, f"{name}.schema.json")))
        jsonschema.validate(document, schema)
        assert document, name

    target = f"127.0.0.1:{agent.port}"
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"a ansible_host=127.0.0.1 fleetcmd_port={agent.port}\nb ansible_host=127.0.0.1 "
                         "fleetcmd_port=1\n")
    check("send", json.loads(run(fleetcmd, "send", target, "PING", "NOSUCH", "-o", "json").stdout))
    check("send", json.loads(run(fleetcmd, "send", "127.0.0.1:1", "PING", "-o", "json").stdout))
    check("probe", json.loads(run(fleetcmd, "probe", "-i", str(inventory), "-o", "json").stdout))
    check("run", json.loads(run(fleetcmd, "run", "-i", str(inventory), "--no-journal", "--retries", "0", "-o",
                                "json", "PING").stdout))
    check("run", [json.loads(line) for line in run(fleetcmd, "run", "-i", str(inventory), "--no-journal",
                                                   "--retries", "0", "-o", "jsonl", "PING").stdout.splitlines()])
    check("presets", json.loads(run(fleetcmd, "presets", "-o", "json").stdout))
    check("config-show", json.loads(run(fleetcmd, "config", "show", "-o", "json",
                                        env=dict(os.environ, FLEETCMD_CONFIG=str(tmp_path / "none.yaml"))).stdout))
    # listen: a frame over loopback (watch records are checked in test_shell.py).
    listener = subprocess.Popen([fleetcmd, "listen", "--port", "0", "--bind", "127.0.0.1", "--once", "-o", "json",
                                 "--reply", "OK"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = listener.stderr.readline()
    port = int(re.search(r"listening on [\d.]+:(\d+)", line).group(1))
    assert run(fleetcmd, "send", f"127.0.0.1:{port}", "HELLO").returncode == 0
    out, _ = listener.communicate(timeout=20)
    check("listen", json.loads(out))


def test_runs_list_and_show_take_the_same_output_formats(fleetcmd, agent, tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"a ansible_host=127.0.0.1 fleetcmd_port={agent.port}\n"
                         "b ansible_host=127.0.0.1 fleetcmd_port=1\n")
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    r = run(fleetcmd, "run", "-i", str(inventory), "--retries", "0", "PING", env=env)
    assert r.returncode == 11, r.stderr
    [listed] = json.loads(run(fleetcmd, "runs", "list", "-o", "json", env=env).stdout)
    assert listed["devices"] == 2 and listed["ok"] == 1 and listed["not_ok"] == 1 and listed["commands"] == ["PING"]
    shown = json.loads(run(fleetcmd, "runs", "show", listed["run"], "-o", "json", env=env).stdout)
    assert shown["run"] == listed["run"] and shown["counts"] == {"ok": 1, "refused": 1}
    assert [(d["device"], d["outcome"]) for d in shown["results"]] == [("a", "ok"), ("b", "refused")]
    # Every record has every field: a file journal's devices name no worker and no site, as null.
    assert all(d["worker"] is None and d["site"] is None for d in shown["results"]), shown["results"]
    lines = run(fleetcmd, "runs", "show", listed["run"], "-o", "jsonl", env=env).stdout.splitlines()
    assert [json.loads(line)["device"] for line in lines] == ["a", "b"]

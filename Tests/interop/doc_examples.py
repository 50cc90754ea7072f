"""Runs the `console` examples of README.md and docs/*.md and compares what they print with what the docs show.

The rules (docs/cli.md, "Examples in these docs are tested"):

- Every ```console block is a transcript: lines that start with `$ ` are commands (a line ending in `\\` continues
  on the next), the lines after a command are what it prints, stdout and stderr together, as a terminal shows them.
  Lines that start with `#` between commands and blank lines are commentary. A command with a here-document
  (`cat > fleet.ini <<'EOF'`) takes the lines up to its end marker.
- Each block runs on its own: one bash session, an empty working folder, a HOME of its own, `fleetcmd` on PATH,
  no terminal (TERM=dumb). Whatever a block needs (a device, a simulated fleet, an inventory) it starts or writes
  itself, with commands a reader can copy.
- A command ending in `&` runs in the background, as in a shell; what it prints appears where a terminal would
  show it: right after it (its ready line), or among the lines of later commands (a listener's log lines).
- In expected lines, `[..]` stands for any text within the line (times, ports, counters, run ids), and a line that
  is only `...` for any number of lines.
- When the block ends, its background jobs are stopped.

Usable by hand: `python3 Tests/interop/doc_examples.py [FILE...]` runs the blocks of the named files (default:
README.md and docs/*.md) with FLEETCMD_BIN or .build/debug/fleetcmd.
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLACEHOLDER = "[..]"
ANY_LINES = "..."


class Block:
    def __init__(self, path, line, steps):
        self.path = path  # relative to ROOT
        self.line = line  # 1-based line of the opening fence
        self.steps = steps  # [(command, [expected lines])]

    @property
    def name(self):
        return f"{self.path}:{self.line}"


def blocks_in(path):
    """The console blocks of one markdown file (fences may be indented, as in lists)."""
    lines = open(path, encoding="utf-8").read().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        fence = re.match(r"^(\s*)```console\s*$", lines[index])
        if not fence:
            index += 1
            continue
        indent, start, body = fence.group(1), index + 1, []
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            text = lines[index]
            body.append(text[len(indent):] if text.startswith(indent) else text.lstrip())
            index += 1
        blocks.append(Block(os.path.relpath(path, ROOT), start, parse(body)))
        index += 1
    return blocks


def parse(body):
    steps, index = [], 0
    while index < len(body):
        text = body[index]
        if text.startswith("$ "):
            command = text[2:]
            while command.rstrip().endswith("\\") and index + 1 < len(body):
                index += 1
                command = command.rstrip()[:-1] + " " + body[index].strip()
            heredoc = re.search(r"<<-?\s*'?(\w+)'?", command)
            if heredoc:  # `cat > FILE <<'EOF'`: the lines up to EOF belong to the command
                while index + 1 < len(body):
                    index += 1
                    command += "\n" + body[index]
                    if body[index] == heredoc.group(1):
                        break
            steps.append((command, []))
        elif text.strip() == "" or text.startswith("#"):
            pass
        elif steps:
            steps[-1][1].append(text)
        else:
            raise ValueError(f"output before any command: {text!r}")
        index += 1
    return steps


def all_blocks(files=None):
    files = files or [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    return [block for path in files for block in blocks_in(path)]


def line_matches(pattern, text):
    parts = [re.escape(part) for part in pattern.split(PLACEHOLDER)]
    return re.fullmatch(".*?".join(parts), text) is not None


def match(expected, sources):
    """Whether `expected` is an interleaving of the lines of `sources` (each kept in its order), every line of every
    source used; `...` takes any number of lines from any source. Small inputs: a memoised search."""
    memo = {}

    def go(e, positions):
        key = (e, positions)
        if key in memo:
            return memo[key]
        result = False
        if e == len(expected):
            result = all(p == len(s) for p, s in zip(positions, sources))
        elif expected[e] == ANY_LINES:
            result = go(e + 1, positions) or any(
                go(e, positions[:i] + (p + 1,) + positions[i + 1:])
                for i, (p, s) in enumerate(zip(positions, sources)) if p < len(s))
        else:
            result = any(
                go(e + 1, positions[:i] + (p + 1,) + positions[i + 1:])
                for i, (p, s) in enumerate(zip(positions, sources))
                if p < len(s) and line_matches(expected[e], s[p]))
        memo[key] = result
        return result

    return go(0, tuple(0 for _ in sources))


def visible(text):
    return [line for line in text.splitlines() if line.strip()]


class Session:
    """One bash process for one block; commands go in on stdin, each followed by a marker on stdout."""

    def __init__(self, fleetcmd, scratch):
        self.scratch = scratch
        self.work = os.path.join(scratch, "work")
        self.spool = os.path.join(scratch, "spool")
        home = os.path.join(scratch, "home")
        for folder in (self.work, self.spool, home):
            os.makedirs(folder)
        env = {
            "PATH": os.path.dirname(os.path.abspath(fleetcmd)) + ":/usr/local/bin:/usr/bin:/bin",
            "HOME": home, "TERM": "dumb", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC",
        }
        self.bash = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=self.work, env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.count = 0
        # job control as in an interactive shell: each background job is its own process group, so `kill %1`
        # signals the program, not only the subshell around it
        self._send("set -m")
        self.background = []  # spool files of background jobs
        self.seen = {}  # spool file -> lines already matched

    def _send(self, script):
        self.count += 1
        marker = f"__fleetcmd_doc_step_{self.count}__"
        # the marker keeps `$?` as the script left it, for a later `echo $?`
        self.bash.stdin.write(script + f"\n__status=$?; printf '%s\\n' {marker}; (exit $__status)\n")
        self.bash.stdin.flush()
        while True:
            line = self.bash.stdout.readline()
            if not line:
                raise RuntimeError("the shell ended")
            if line.strip() == marker:
                return

    def _new_background_lines(self):
        fresh = []
        for spool in self.background:
            with open(spool, encoding="utf-8", errors="replace") as handle:
                lines = visible(handle.read())
            # a line still being written has no newline yet: leave it for later
            done = lines if open(spool, "rb").read().endswith(b"\n") else lines[:-1]
            fresh.append(done[self.seen[spool]:])
        return fresh

    def _consume(self, fresh):
        for spool, lines in zip(self.background, fresh):
            self.seen[spool] += len(lines)

    def run(self, command, expected, timeout=60):
        """Runs one command; returns None if its output (and the background's meanwhile) is as expected, else a
        description of the difference."""
        background = re.match(r"^(.*?)\s*&\s*(#.*)?$", command)
        if background:
            spool = os.path.join(self.spool, f"job{len(self.background) + 1}.out")
            self.background.append(spool)
            self.seen[spool] = 0
            open(spool, "w").close()
            # `exec`: the job is the program itself, as `cmd &` at a prompt makes it (a signal to %1 reaches it,
            # not a subshell around it)
            self._send(f"{{ exec {background.group(1)}\n}} > {spool} 2>&1 < /dev/null &")
            own = []
        else:
            out = os.path.join(self.spool, f"step{self.count + 1}.out")
            self._send(f"{{ {command}\n}} > {out} 2>&1 < /dev/null")
            with open(out, encoding="utf-8", errors="replace") as handle:
                own = visible(handle.read())
        # Wait for background output: until the expectation holds and the output has been quiet a little, or the
        # time is up. (A background job's ready line can take a while on a loaded machine.)
        # A foreground command's own output is complete; only background lines can still come.
        deadline = time.monotonic() + (timeout if background else min(timeout, 10) if self.background else 0)
        settled, last = None, None
        while True:
            fresh = self._new_background_lines()
            if match(expected, [own] + fresh):
                snapshot = [len(lines) for lines in fresh]
                quiet = snapshot == last and settled is not None and time.monotonic() - settled > 0.3
                if not self.background or quiet:
                    self._consume(fresh)
                    return None
                if snapshot != last:
                    settled, last = time.monotonic(), snapshot
            if time.monotonic() > deadline:
                shown = own + [line for lines in fresh for line in lines]
                self._consume(fresh)
                return "expected:\n  " + "\n  ".join(expected) + "\ngot:\n  " + "\n  ".join(shown)
            time.sleep(0.05)

    def close(self):
        """Stops every process of the block: SIGTERM, time for its graceful stop, then SIGKILL (found by session
        id, since background jobs are process groups of their own)."""
        members = self._members()
        for pid in members:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while self._members() and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self._members():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.bash.wait(timeout=10)

    def _members(self):
        """The live processes of the bash session (its session id is bash's pid)."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == self.bash.pid and fields[0] != "Z":  # session id; zombies are gone already
                found.append(int(entry))
        return found


def run_block(block, fleetcmd):
    """Runs a block; returns a list of failures (empty when every command printed what the docs show)."""
    scratch = tempfile.mkdtemp(prefix="fleetcmd-doc-")
    session = Session(fleetcmd, scratch)
    failures = []
    try:
        for command, expected in block.steps:
            difference = session.run(command, expected)
            if difference:
                failures.append(f"{block.name}: $ {command}\n{difference}")
                break  # later steps depend on this one
    finally:
        session.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return failures


def main(argv):
    fleetcmd = os.environ.get("FLEETCMD_BIN") or os.path.join(ROOT, ".build", "debug", "fleetcmd")
    files = [os.path.abspath(path) for path in argv] or None
    failed = 0
    for block in all_blocks(files):
        failures = run_block(block, fleetcmd)
        print(("FAIL " if failures else "ok   ") + block.name, flush=True)
        for failure in failures:
            print(failure, flush=True)
        failed += bool(failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

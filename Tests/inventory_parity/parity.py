#!/usr/bin/env python3
"""Differential test: fleetcmd's inventory reading and host selection against real ansible-core.

For each case (a random inventory: INI, YAML, a directory with group_vars/host_vars, ranges, children, variables;
and a random --limit pattern), the oracle is ansible-core itself, in-process (InventoryManager, VariableManager:
the code `ansible all -i SRC --limit P --list-hosts` runs), and for every tenth case also the `ansible-inventory
--list` command line. fleetcmd is the built binary: `fleetcmd run -i SRC --limit P --list-hosts` (names in order,
address, port) and `fleetcmd inventory --list` (groups and variables). A disagreement is shrunk to the smallest
inventory and pattern that still show it, printed, and the run fails.

Run with the Python that has ansible-core (scripts/install-test-deps.sh puts it in .build/ansible-venv):
  .build/ansible-venv/bin/python Tests/inventory_parity/parity.py --fleetcmd .build/debug/fleetcmd --cases 2000
  ... --seed N (reproduce a case), --minutes M (run until M minutes are up), --corpus (the fixed tricky cases)
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

os.environ["ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED"] = "1"  # a source Ansible cannot parse is an error, not a warning
os.environ.setdefault("ANSIBLE_LOCALHOST_WARNING", "0")
os.environ.setdefault("ANSIBLE_INVENTORY_UNPARSED_WARNING", "0")
os.environ.setdefault("ANSIBLE_DEPRECATION_WARNINGS", "0")

from ansible.errors import AnsibleError  # noqa: E402
from ansible.inventory.manager import InventoryManager  # noqa: E402
from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.utils.display import Display  # noqa: E402
from ansible.vars.manager import VariableManager  # noqa: E402

Display().verbosity = 0
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PORT = 9100


class Case:
    """An inventory (files by relative path; the source is `source`, a file or '.' for the folder) and a limit."""

    def __init__(self, files, source, limit, limit_file=None):
        self.files = dict(files)
        self.source = source
        self.limit = limit
        self.limit_file = limit_file

    def materialize(self, root):
        for path, text in self.files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", newline="") as f:
                f.write(text)
        limit = self.limit
        if self.limit_file is not None:
            with open(os.path.join(root, "limit.txt"), "w") as f:
                f.write(self.limit_file)
            limit = limit.replace("@limit.txt", "@" + os.path.join(root, "limit.txt"))
        if "," in self.source:
            return self.source, limit  # a comma list, as -i takes it
        return os.path.join(root, "inv") if self.source == "." else os.path.join(root, "inv", self.source), limit

    def describe(self):
        out = [f"source: {self.source}   --limit {self.limit!r}"]
        if self.limit_file is not None:
            out.append(f"limit.txt:\n{self.limit_file}")
        for path, text in sorted(self.files.items()):
            out.append(f"--- {path}\n{text}")
        return "\n".join(out)


def order_is_fixed(inventory):
    """Ansible walks group levels below the first through a Python set: where two groups of one level both add
    children, the order between those children is the set's (object addresses), not a rule fleetcmd can follow."""
    top = inventory.groups["all"]
    seen = set([top]) | set(top.child_groups)
    frontier = [top] + list(top.child_groups)
    while frontier:
        contributors = 0
        nxt = []
        for g in frontier:
            new = [c for c in g.child_groups if c not in seen]
            if new:
                contributors += 1
            for c in new:
                if c not in nxt:
                    nxt.append(c)
        if contributors > 1:
            return False
        seen.update(nxt)
        frontier = nxt
    return True


def text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def oracle(source, limit):
    """('error', kind) or ('hosts', [(name, address, port)], order_fixed)."""
    loader = DataLoader()
    try:
        inventory = InventoryManager(loader=loader, sources=[source])
    except AnsibleError:
        return ("error", "inventory")
    except Exception:
        return ("error", "inventory")
    variables = VariableManager(loader=loader, inventory=inventory)
    try:
        inventory.subset(limit)
        hosts = inventory.get_hosts("all")
    except AnsibleError:
        return ("error", "pattern")
    result = []
    for host in hosts:
        v = variables.get_vars(host=host, include_hostvars=False, stage="all")
        address = text(v.get("ansible_host")) or host.name
        port = DEFAULT_PORT
        for key in ("fleetcmd_port", "device_port", "ansible_port"):
            if key in v:
                port = int(text(v[key]))
                break
        result.append((host.name, f"{address}:{port}" if ":" not in address else f"[{address}]:{port}"))
    return ("hosts", result, order_is_fixed(inventory))


def oracle_varies(source, limit, runs=6):
    """Whether ansible itself selects different hosts from one process to the next (set order follows object
    addresses and hash seeds), which `order_is_fixed` cannot always foresee. Only asked where a subscript makes the
    order matter."""
    venv_bin = os.path.dirname(sys.executable)
    seen = set()
    for seed in range(runs):
        r = subprocess.run([os.path.join(venv_bin, "ansible"), "all", "-i", source, "--limit", limit, "--list-hosts"],
                           capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONHASHSEED": str(seed)})
        seen.add(r.stdout)
        if len(seen) > 1:
            return True
    return False


def fleet(fleetcmd, source, limit):
    res = subprocess.run([fleetcmd, "run", "-i", source, "--limit", limit, "--list-hosts"],
                         capture_output=True, text=True, timeout=60)
    if res.returncode == 78:
        return ("error", "inventory", res.stderr)
    if res.returncode == 64:
        return ("empty-or-pattern", res.stderr)
    if res.returncode != 0:
        return ("crash", res.returncode, res.stderr)
    lines = [tuple(line.split(" ", 1)) for line in res.stdout.splitlines() if line]
    return ("hosts", lines)


def compare(fleetcmd, case, full=False):
    """None when fleetcmd agrees with ansible-core, else a description of the difference."""
    root = tempfile.mkdtemp(prefix="parity-")
    try:
        source, limit = case.materialize(root)
        expected = oracle(source, limit)
        got = fleet(fleetcmd, source, limit)
        if got[0] == "crash":
            return f"fleetcmd exited {got[1]}: {got[2].strip()}"
        if expected[0] == "error":
            if expected[1] == "inventory" and got[0] == "error":
                return None
            if expected[1] == "pattern" and got[0] == "empty-or-pattern":
                return None
            return f"ansible-core: {expected[1]} error; fleetcmd: {got[0]} {got[1:] if got[0] != 'hosts' else got[1]}"
        names = expected[1]
        agrees = (got[0] == "hosts" and [tuple(h) for h in got[1]] == names) or (got[0] == "empty-or-pattern" and not names)
        if ("[" in case.limit or case.limit_file is not None) and got[0] in ("hosts", "empty-or-pattern") and (
                not agrees and (not expected[2] or oracle_varies(source, limit))):
            # Subscripts slice an order Ansible leaves to Python's set order: which hosts they select (even whether
            # any remain after a `!group[0:1]`) changes from one ansible run to the next. No one answer to compare.
            return None
        if not names:
            if got[0] == "empty-or-pattern":
                return None
            return f"ansible-core selects no host; fleetcmd: {got}"
        if got[0] != "hosts":
            return f"ansible-core selects {names}; fleetcmd: {got[0]} {got[-1].strip()}"
        mine = [(n, a) for n, a in got[1]]
        if expected[2]:
            if mine != names:
                return f"ansible-core: {names}\nfleetcmd:     {mine}"
        elif any(ch in case.limit for ch in "[") or case.limit_file is not None:
            pass  # subscripts slice an order Ansible leaves to Python's set order: no one answer to compare
        elif sorted(mine) != sorted(names):
            return f"ansible-core (order not fixed): {sorted(names)}\nfleetcmd: {sorted(mine)}"
        if full:
            venv_bin = os.path.dirname(sys.executable)
            a = subprocess.run([os.path.join(venv_bin, "ansible-inventory"), "-i", source, "--list", "--limit", limit],
                               capture_output=True, text=True, timeout=120)
            b = subprocess.run([fleetcmd, "inventory", "-i", source, "--list", "--limit", limit],
                               capture_output=True, text=True, timeout=60)
            if a.returncode == 0:
                if b.returncode != 0:
                    return f"ansible-inventory --list worked; fleetcmd inventory --list exited {b.returncode}: {b.stderr}"
                ja, jb = json.loads(a.stdout), json.loads(b.stdout)
                if not expected[2]:
                    for g in list(ja) + list(jb):  # group host lists can follow the unfixed order too
                        for d in (ja.get(g), jb.get(g)):
                            if isinstance(d, dict) and "hosts" in d:
                                d["hosts"] = sorted(d["hosts"])
                if ja != jb:
                    return ("ansible-inventory --list differs:\n" + json.dumps(ja, sort_keys=True)[:3000]
                            + "\nfleetcmd inventory --list:\n" + json.dumps(jb, sort_keys=True)[:3000])
        return None
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- generator

GROUPS = ["web", "db", "lab", "g1", "g2", "edge", "all_x", "h1"]  # h1 is also a host name: Ansible's group/host clash
HOSTS = ["h1", "h2", "h3", "web1", "db-a", "dev01", "10.0.0.5", "prn.lab", "x_y"]
VALUES = ["1", "0x1f", "'quoted'", '"two words"', "True", "[1, 2]", "{'k': 'v'}", "plain", "1.5", "None", "a#b",
          "5 # note", "-3", "007", "1_000", "u'x'", "(1,)", "{1,2}"]


def host_entry(r):
    kind = r.random()
    if kind < 0.15:
        return r.choice(["r[1:3]", "r[01:03]", "n[a:c]", "z[:2]", "s[0:6:2]", "m[y:B]", "k[1:2]x[1:2]"])
    name = r.choice(HOSTS)
    if r.random() < 0.2 and not name[0].isdigit():
        name += f":{r.choice([2222, 9100, 22])}"
    return name


def ini_value(r):
    return r.choice(VALUES)


def ini_var(r):
    # No explicit ansible_port: fleetcmd takes a device's port from `name:port` (which Ansible stores as
    # ansible_port) but not from an ansible_port variable, which in shared inventories is the SSH port.
    key = r.choice(["color", "ansible_host", "fleetcmd_port", "device_port", "ansible_group_priority", "n", "site"])
    if key in ("fleetcmd_port", "device_port"):
        return key, str(r.choice([9100, 2000, 22, 30000]))
    if key == "ansible_host":
        return key, r.choice(["127.0.0.9", "alias.lab", "::1"])
    if key == "ansible_group_priority":
        return key, str(r.choice([1, 2, 10]))
    return key, ini_value(r)


def gen_ini(r, groups):
    lines = []
    if r.random() < 0.5:
        for _ in range(r.randint(1, 3)):
            lines.append(host_entry(r))
    defined = []
    order = groups[:]
    r.shuffle(order)
    for g in order:
        kind = r.random()
        comment = r.choice(["", "", " # comment", "  ;x"]) if r.random() < 0.3 else ""
        if comment.strip().startswith(";"):
            comment = ""  # Ansible treats '; x' after a header as part of a host line; keep headers valid
        if kind < 0.6:
            lines.append(f"[{g}]{comment}")
            for _ in range(r.randint(0, 3)):
                vs = " ".join(f"{k}={v if ' ' not in v else repr(v)}" for k, v in (ini_var(r) for _ in range(r.randint(0, 2)))
                              if k != "ansible_group_priority")
                lines.append((host_entry(r) + " " + vs).strip())
            defined.append(g)
        elif kind < 0.85 and defined:
            lines.append(f"[{g}:children]{comment}")
            for c in r.sample(defined, r.randint(1, min(2, len(defined)))):
                lines.append(c)
            defined.append(g)
        else:
            lines.append(f"[{g}]")
            lines.append(host_entry(r))
            defined.append(g)
        if r.random() < 0.4:
            lines.append(f"[{g}:vars]")
            for _ in range(r.randint(1, 2)):
                k, v = ini_var(r)
                lines.append(f"{k}={v}")
    if r.random() < 0.3:
        lines.append("[all:vars]")
        k, v = ini_var(r)
        if k != "ansible_group_priority":
            lines.append(f"{k}={v}")
    if r.random() < 0.15:
        lines.append("[ungrouped]")
        lines.append(r.choice(HOSTS))
    if r.random() < 0.05:  # things Ansible rejects
        lines.append(r.choice(["[ghost:vars]\nx=1", "[web:children]\nundefined_group", "bad[01:100]", "[g1:weird]"]))
    if r.random() < 0.05:
        lines.insert(0, "# a comment\n; another")
    nl = "\r\n" if r.random() < 0.15 else "\n"
    return nl.join(lines) + nl


def yaml_value(r):
    return r.choice(["1", "'quoted'", "two words", "true", "yes", "[1, 2]", "{k: v}", "~", "1.5", "0x10", "012",
                     '"007"', "1e3", "on"])


def gen_yaml_group(r, name, depth, defined):
    out = []
    pad = "  " * depth
    if r.random() < 0.7:
        out.append(f"{pad}hosts:")
        used = set()
        for _ in range(r.randint(1, 3)):
            h = host_entry(r)
            if h in used:
                continue  # a repeated key: fleetcmd refuses it on purpose (docs/inventory.md)
            used.add(h)
            if r.random() < 0.4:
                k, v = ini_var(r)
                if k == "ansible_group_priority":
                    k = "n"
                v = v if k in ("ansible_host",) or v.isdigit() else yaml_value(r)
                out.append(f"{pad}  {h!s}:")
                out.append(f"{pad}    {k}: {v}")
            else:
                out.append(f"{pad}  {h}:")
    if r.random() < 0.4:
        out.append(f"{pad}vars:")
        k, v = ini_var(r)
        out.append(f"{pad}  {k}: {v if k != 'n' else yaml_value(r)}")
    if depth < 6 and r.random() < 0.4:
        out.append(f"{pad}children:")
        for c in r.sample(GROUPS, r.randint(1, 2)):
            if c in defined or c == name:
                continue
            defined.add(c)
            out.append(f"{pad}  {c}:")
            out.extend(gen_yaml_group(r, c, depth + 2, defined))
    return out


def gen_yaml(r):
    lines = ["all:"]
    defined = set()
    lines.extend(gen_yaml_group(r, "all", 1, defined))
    if r.random() < 0.2:
        lines.insert(0, "---")
    if r.random() < 0.15:  # an anchor and a merge key
        lines = ["x-common: &common", "  color: blue", "  n: 1"] + lines
        lines += ["lab:", "  vars:", "    <<: *common", "    n: 2"]
    return "\n".join(lines) + "\n"


def gen_vars_files(r, files, base):
    for kind, names in (("group_vars", GROUPS + ["all"]), ("host_vars", HOSTS)):
        for name in r.sample(names, r.randint(0, 2)):
            k, v = ini_var(r)
            if k == "ansible_group_priority":
                k = "n"
            body = f"{k}: {v}\n" if k != "n" else f"n: {yaml_value(r)}\n"
            form = r.choice(["", ".yml", ".yaml", ".json", "/"])
            if form == ".json":
                files[f"{base}/{kind}/{name}.json"] = json.dumps({k: int(v) if v.isdigit() else v})
            elif form == "/":
                files[f"{base}/{kind}/{name}/a.yml"] = body
                files[f"{base}/{kind}/{name}/b"] = f"{k}: {v}\n"
            else:
                files[f"{base}/{kind}/{name}{form}"] = body


def gen_pattern(r, files):
    terms = []
    for i in range(r.randint(1, 3)):
        kind = r.random()
        if kind < 0.3:
            t = r.choice(GROUPS + ["all", "ungrouped"])
        elif kind < 0.5:
            t = r.choice(HOSTS + ["r2", "n1", "nothere"])
        elif kind < 0.65:
            t = r.choice(["h*", "*1", "g?", "d*", "*[0-2]", "web*", "*.lab", "[hw]*", "[!h]*"])
        elif kind < 0.75:
            t = r.choice(["~h[0-3]", "~(web|db)", "~.*1$", "~dev", "~^r"])
        elif kind < 0.9:
            t = r.choice(GROUPS + ["all"]) + r.choice(["[0]", "[-1]", "[1:3]", "[2:]", "[0:0]", "[1]", "[5]", "[0-1]"])
        else:
            t = r.choice(["10.0.0.5", "r[1:2]"])
        if i > 0 and r.random() < 0.4:
            t = r.choice(["!", "&"]) + t
        terms.append(t)
    sep = r.choice([",", ",", ":"])
    if sep == ":" and any("~" in t or ":" in t or "[" in t for t in terms):
        sep = ","
    limit_file = None
    if r.random() < 0.08:
        limit_file = "\n".join(r.choice(GROUPS + HOSTS + ["!h1", "w*", ""]) for _ in range(r.randint(1, 3))) + "\n"
        terms.append("@limit.txt")
        sep = ","
    return sep.join(terms), limit_file


def generate(r):
    files = {}
    shape = r.random()
    if shape < 0.45:
        files["inv/hosts.ini"] = gen_ini(r, r.sample(GROUPS, r.randint(1, 5)))
        source = "hosts.ini"
    elif shape < 0.7:
        files["inv/hosts.yml"] = gen_yaml(r)
        source = "hosts.yml"
    elif shape < 0.8:
        # A plain host[:port] list with distinct hosts: Ansible INI semantics hold.
        hosts = r.sample(["a1", "a2:2000", "127.0.0.1:20001", "b[1:2]", "10.1.1.1"], 3)
        files["inv/list"] = "\n".join(hosts) + "\n"
        source = "list"
    else:
        files["inv/10-first.ini"] = gen_ini(r, r.sample(GROUPS, r.randint(1, 3)))
        files["inv/20-second.yaml"] = gen_yaml(r)
        if r.random() < 0.3:
            files["inv/README.md"] = "ignored\n"
            files["inv/.hidden"] = "[junk\n"
        source = "."
    if r.random() < 0.5:
        gen_vars_files(r, files, "inv")
    limit, limit_file = gen_pattern(r, files)
    return Case(files, source, limit, limit_file)


def shrink(fleetcmd, case, problem):
    """Drops inventory lines, files and pattern terms while the same kind of disagreement stays."""
    kind = problem.split(":")[0][:40]

    def fails(c):
        try:
            found = compare(fleetcmd, c)
        except Exception:
            return False
        return found is not None and found.split(":")[0][:40] == kind
    changed = True
    rounds = 0
    while changed and rounds < 30:
        changed = False
        rounds += 1
        for path in list(case.files):
            trial = Case({k: v for k, v in case.files.items() if k != path}, case.source, case.limit, case.limit_file)
            if any(p.startswith("inv/") for p in trial.files) and fails(trial):
                case, changed = trial, True
                continue
            lines = case.files[path].split("\n")
            i = 0
            while i < len(lines):
                trial_files = dict(case.files)
                trial_files[path] = "\n".join(lines[:i] + lines[i + 1:])
                trial = Case(trial_files, case.source, case.limit, case.limit_file)
                if fails(trial):
                    case, lines, changed = trial, lines[:i] + lines[i + 1:], True
                else:
                    i += 1
        terms = case.limit.split(",")
        if len(terms) > 1:
            for i in range(len(terms)):
                trial = Case(case.files, case.source, ",".join(terms[:i] + terms[i + 1:]), case.limit_file)
                if fails(trial):
                    case, changed = trial, True
                    break
    return case


def corpus_cases():
    with open(os.path.join(HERE, "corpus.json")) as f:
        for entry in json.load(f):
            yield entry["name"], Case(entry["files"], entry["source"], entry["limit"], entry.get("limit_file"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fleetcmd", required=True)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=0)
    parser.add_argument("--corpus", action="store_true")
    parser.add_argument("--full-every", type=int, default=10, help="also compare ansible-inventory --list every N cases")
    args = parser.parse_args()
    failures = 0
    passed = 0
    if args.corpus:
        for name, case in corpus_cases():
            problem = compare(args.fleetcmd, case, full=True)
            if problem:
                failures += 1
                print(f"corpus case {name!r} disagrees:\n{problem}\n{case.describe()}\n")
            else:
                passed += 1
        print(f"corpus: {passed} passed, {failures} failed")
        return 1 if failures else 0
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else None
    r = random.Random(args.seed)
    print(f"inventory parity: seed {args.seed}", flush=True)
    index = 0
    started = time.monotonic()
    while True:
        if deadline is None and index >= args.cases:
            break
        if deadline is not None and time.monotonic() > deadline:
            break
        case = generate(r)
        problem = compare(args.fleetcmd, case, full=(index % args.full_every == 0))
        if problem:
            failures += 1
            small = shrink(args.fleetcmd, case, problem)
            print(f"case {index} (seed {args.seed}) disagrees:\n{problem}\nas first generated:\n{case.describe()}\n"
                  f"shrunk: {compare(args.fleetcmd, small, full=True) or problem}\n"
                  f"smallest inventory and pattern showing it:\n{small.describe()}\n", flush=True)
            if failures >= 5:
                break
        else:
            passed += 1
        index += 1
    print(f"inventory parity: {index} cases in {time.monotonic() - started:.0f} s (seed {args.seed})")
    print(f"{passed} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Start-up benchmark: `fleetcmd send HOST:PORT PING` as a whole process against the article's client in C
(Benchmarks/ceiling/lean_send.c), both answered by the C server (Benchmarks/ceiling/lean_server.c), same run.

Also `fleetcmd --version` (start-up and argument parsing, no network) and /bin/true (what starting any process
costs here), the shipped binary's size (stripped, as scripts/release.sh installs it) and how many symbols it exports,
and where that size comes from: the linker's map of the same build, its bytes summed per library (which archive or
module each input section came from). Rounds alternate between the programs, so a noisy moment hits all of them;
figures are medians. Run by hand:

    scripts/bench-start.py [--runs 200] [--before OTHER_FLEETCMD] [--size-only]
"""
import argparse
import collections
import os
import re
import shutil
import subprocess
import tempfile
import time

from bench_common import build_c, build_fleetcmd, median

PORT = 19180

# Where each library of the link goes in the size report, first match wins; anything else is "other libraries".
ICU = "ICU, code and data (lib_FoundationICU; linked because Foundation is)"
FOUNDATION = ("Foundation beyond FoundationEssentials (Foundation, CoreFoundation, FoundationInternationalization, "
              "_FoundationCollections)")
POSTGRES = "postgres-nio and what only it brings (its pool, swift-async-algorithms)"
YAMS = "Yams and its libyaml"
ORIGINS = [
    (ICU, r"^lib_FoundationICU\.a$"),
    (FOUNDATION, r"^lib(Foundation|CoreFoundation|FoundationInternationalization|_FoundationCollections|"
                 r"_FoundationCShims)\.a$"),
    ("FoundationEssentials", r"^libFoundationEssentials\.a$"),
    ("Swift runtime, standard library, Concurrency, Regex, Dispatch, libstdc++",
     r"^lib(swift|dispatch|BlocksRuntime|stdc\+\+)"),
    ("BoringSSL, twice (swift-nio-ssl's and swift-crypto's copies)", r"BoringSSL|CryptoBoringWrapper"),
    ("swift-crypto, swift-certificates, swift-asn1", r"^(Crypto|CryptoExtras|X509|SwiftASN1|_Certificate\w*|CXKCP|"
                                                     r"_CryptoExtras)$"),
    (POSTGRES, r"^(PostgresNIO|_ConnectionPoolModule|AsyncAlgorithms)$"),
    (YAMS, r"^(Yams|CYaml)$"),
    ("SwiftNIO (swift-nio, swift-nio-ssl's Swift part)", r"^(_?C?NIO\w*|_NIODataStructures)$"),
    ("fleetcmd's own modules", r"^(C?Fleet\w*|fleetcmd)$"),
]
# Output sections that are not in the stripped file, or not bytes at all.
NOT_SHIPPED = re.compile(r"^\.(debug|comment|bss|tbss|symtab|strtab|shstrtab|note\.gnu\.gold)")


def link_map_sizes(map_path):
    """Bytes per library from a GNU gold map (the `Memory map` part): each input section line names its size and
    its object, `/path/libX.a(member.o)` for an archive's, `.../NAME.build/file.o` for a package module's."""
    sizes = collections.Counter()
    output_section = None
    name_alone = False
    entry = re.compile(r"^ \S+\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$")
    continued = re.compile(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$")
    in_map = False
    with open(map_path, errors="replace") as lines:
        for line in lines:
            if not in_map:
                in_map = line.startswith("Memory map")
                continue
            if line[:1] not in (" ", "\n", ""):
                output_section = line.split()[0]
                name_alone = False
                continue
            if output_section is None or NOT_SHIPPED.match(output_section):
                continue
            found = entry.match(line)
            if not found and name_alone:  # a long input section name stands on its own line
                found = continued.match(line)
            name_alone = not found and re.match(r"^ \S+\s*$", line) is not None
            if not found:
                continue
            size, source = int(found.group(1), 16), found.group(2).strip()
            archive = re.search(r"/([^/]+\.a)\(", source)
            module = re.search(r"/([^/]+)\.build/", source)
            library = archive.group(1) if archive else module.group(1) if module else os.path.basename(source)
            sizes[library] += size
    return sizes


def size_report(stripped_size):
    """The release binary's bytes by origin, from the linker's map of the same build."""
    with tempfile.TemporaryDirectory() as scratch:
        map_path = os.path.join(scratch, "fleetcmd.map")
        build_fleetcmd(link_map=map_path)
        sizes = link_map_sizes(map_path)
    groups = collections.Counter()
    for library, size in sizes.items():
        origin = next((name for name, pattern in ORIGINS if re.search(pattern, library)), "other libraries")
        groups[origin] += size
    attributed = sum(groups.values())
    print()
    print(f"where the {stripped_size / 1e6:.1f} MB come from (the linker's map of this build):")
    print()
    print("| origin | MB | share |")
    print("|---|---|---|")
    for origin, size in groups.most_common():
        print(f"| {origin} | {size / 1e6:.1f} | {size / stripped_size:.0%} |")
    rest = stripped_size - attributed
    print(f"| unwind tables, relocations, ELF headers (not split by origin) | {rest / 1e6:.1f} | "
          f"{rest / stripped_size:.0%} |")
    foundation = groups[ICU] + groups[FOUNDATION]
    dependencies = groups[POSTGRES] + groups[YAMS]
    print()
    print(f"without Foundation beyond FoundationEssentials and ICU: at most {(stripped_size - foundation) / 1e6:.1f} MB; "
          f"without postgres-nio and Yams too: at most {(stripped_size - foundation - dependencies) / 1e6:.1f} MB "
          "(their share of the unwind tables and relocations is left in)")


def once(argv):
    began = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    took = time.perf_counter() - began
    return took, done


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--before", help="another fleetcmd binary (an earlier commit's), measured in the same rounds")
    parser.add_argument("--size-only", action="store_true", help="only the binary's size and where it comes from")
    options = parser.parse_args()
    fleetcmd = build_fleetcmd()
    if not options.size_only:
        time_programs(fleetcmd, options)
    report_size(fleetcmd)


def time_programs(fleetcmd, options):
    server = subprocess.Popen([build_c("lean_server"), "127.0.0.1", str(PORT)], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        send = build_c("lean_send")
        target = f"127.0.0.1:{PORT}"
        programs = {
            "/bin/true (any process)": ["/bin/true"],
            "C one-shot client": [send, "127.0.0.1", str(PORT), "PING"],
            "fleetcmd --version": [fleetcmd, "--version"],
            "fleetcmd send": [fleetcmd, "send", target, "PING"],
        }
        if options.before:
            programs["--before: fleetcmd --version"] = [options.before, "--version"]
            programs["--before: fleetcmd send"] = [options.before, "send", target, "PING"]
        for name, argv in programs.items():  # each answers once before timing, and answers right
            _, done = once(argv)
            assert done.returncode == 0, (name, done.returncode)
            if "send" in name or "C one-shot" in name:
                assert done.stdout.strip() == b"PONG", (name, done.stdout)
        times = {name: [] for name in programs}
        for _ in range(options.runs):
            for name, argv in programs.items():
                times[name].append(once(argv)[0])
    finally:
        server.terminate()
        server.wait()
    c = median(times["C one-shot client"])
    print(f"{options.runs} runs each, medians (ms), rounds alternating:")
    print()
    print("| program | median ms | vs the C one-shot client |")
    print("|---|---|---|")
    for name in programs:
        value = median(times[name])
        print(f"| {name} | {value * 1000:.2f} | {value / c:.1f}× |")


def report_size(fleetcmd):
    with tempfile.TemporaryDirectory() as scratch:
        stripped = os.path.join(scratch, "fleetcmd")
        shutil.copy(fleetcmd, stripped)
        subprocess.run(["strip", stripped], check=True)
        size = os.path.getsize(stripped)
    symbols = subprocess.run(["readelf", "--dyn-syms", "-W", fleetcmd], stdout=subprocess.PIPE, text=True).stdout
    exported = sum(1 for line in symbols.splitlines()
                   if len(line.split()) >= 8 and line.split()[4] == "GLOBAL" and line.split()[6] != "UND")
    print()
    print(f"binary as shipped (stripped): {size / 1e6:.1f} MB; symbols it exports: {exported}")
    size_report(size)


if __name__ == "__main__":
    main()

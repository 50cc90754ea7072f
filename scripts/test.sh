#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need, builds, then runs the Swift tests,
# the interop tests against real peers (the seed article's client, ncat) and a bounded fuzz run.
# Environment: FUZZ_SECONDS (default 60; 0 skips the fuzz run), RELEASE_CHECK (default 1; 0 skips building and
# checking the release tarball).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each phase says when it starts (seconds since the start), so a slow one shows in the log.
phase() { echo "== $1 (at ${SECONDS}s)"; }

scripts/install-test-deps.sh

# Simulated fleets open many sockets; raise the soft limit up to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

phase "swift format (the style in .swift-format; fix with: swift format format -i -r Sources Tests Package.swift)"
swift format lint --strict -r Sources Tests Package.swift

phase "swift build"
swift build --build-tests
export FLEETCMD_BIN="$(swift build --show-bin-path)/fleetcmd"

phase "swift test"
swift test --skip-build

# Two builds of their own go on in the background, at the lowest priority, while the interop tests run on the debug
# build (they mostly wait on sockets and timers, so they keep the CPU they need): the release tarball (a static
# release build, about 8 minutes on two cores), then the fuzzers (a sanitizer build, going on while the tarball is
# checked and the parity checks run). The inventory parity checks run against the tarball's binary: the shipped
# program is the one that must agree with ansible-core, and a debug build spends about 0.2 s per start in
# swift-argument-parser's debug-only self-checks, most of the parity time.
seconds="${FUZZ_SECONDS:-60}"
background_pid=""
background_log="$(mktemp)"
release_ready="$(mktemp -u)"  # made once the tarball is built: its check need not wait for the fuzzers' build
release_made=0
if [ "${RELEASE_CHECK:-1}" != 0 ] || [ "$seconds" != "0" ]; then
    phase "release tarball and fuzzers (building in the background)"
    [ "${RELEASE_CHECK:-1}" != 0 ] && release_made=1
    (
        set -e
        if [ "$release_made" = 1 ]; then nice -n 19 scripts/release.sh; fi
        touch "$release_ready"
        if [ "$seconds" != "0" ]; then
            nice -n 19 swift build --sanitize fuzzer --product FleetFramingFuzz --scratch-path .build-fuzz >/dev/null
            nice -n 19 swift build --sanitize fuzzer --product FleetParsersFuzz --scratch-path .build-fuzz >/dev/null
        fi
    ) >"$background_log" 2>&1 &
    background_pid=$!
fi

background_failed() {
    echo "-- the background builds failed (last 60 lines):"
    tail -n 60 "$background_log"
    exit 1
}

phase "interop (pytest)"
python3 -m pytest -q Tests/interop

phase "ansible-test sanity (the fleetcmd.fleet collection)"
scripts/ansible-sanity.sh

parity_bin="$FLEETCMD_BIN"
if [ "$release_made" = 1 ]; then
    phase "release tarball built; release check (the tarball's binary with the Swift toolchain hidden)"
    while [ ! -e "$release_ready" ] && kill -0 "$background_pid" 2>/dev/null; do sleep 2; done
    if [ ! -e "$release_ready" ]; then
        wait "$background_pid" || true
        background_failed
    fi
    grep -E '^dist/out/' "$background_log" || true
    version="$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' Sources/FleetFraming/FleetVersion.swift)"
    tarball="dist/out/fleetcmd-$version-linux-$(uname -m).tar.gz"
    scripts/release-check.sh "$tarball"
    unpacked="$(mktemp -d)"
    tar -xzf "$tarball" -C "$unpacked"
    parity_bin="$(echo "$unpacked"/fleetcmd-*/bin/fleetcmd)"
fi

phase "inventory parity with ansible-core (a fixed seed, a fresh seed, the corpus of tricky cases; $parity_bin)"
ANSIBLE_PY="${ANSIBLE_VENV:-.build/ansible-venv}/bin/python"
parity_log="$(mktemp)"
parity() {  # ansible-core's own warnings go to a log, shown only when a check fails
    if ! "$ANSIBLE_PY" Tests/inventory_parity/parity.py --fleetcmd "$parity_bin" "$@" 2>"$parity_log"; then
        echo "-- ansible-core's warnings (last 40 lines):"
        tail -n 40 "$parity_log"
        return 1
    fi
}
parity --corpus
parity --cases "${PARITY_CASES:-2000}" --seed 1 --full-every 40
parity --cases "${PARITY_FRESH_CASES:-1000}" --seed "${PARITY_SEED:-$(date +%s)}" --full-every 40
rm -f "$parity_log"
[ -n "${unpacked:-}" ] && rm -rf "$unpacked"

if [ -n "$background_pid" ]; then
    phase "background builds done (the fuzzers)"
    wait "$background_pid" || background_failed
fi
rm -f "$release_ready"

if [ "$seconds" != "0" ]; then
    phase "fuzz (${seconds}s)"
    scripts/fuzz.sh "$seconds"
fi
phase "all tests passed"

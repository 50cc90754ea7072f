#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need, builds, then runs the Swift tests,
# the interop tests against real peers (the seed article's client, ncat) and a bounded fuzz run.
# Environment: FUZZ_SECONDS (default 60; 0 skips the fuzz run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

# Simulated fleets open many sockets; raise the soft limit up to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "== swift format (the style in .swift-format; fix with: swift format format -i -r Sources Tests Package.swift)"
swift format lint --strict -r Sources Tests Package.swift

echo "== swift build"
swift build --build-tests
export FLEETCMD_BIN="$(swift build --show-bin-path)/fleetcmd"

echo "== swift test"
swift test --skip-build

echo "== inventory parity with ansible-core (a fixed seed, a fresh seed, the corpus of tricky cases)"
ANSIBLE_PY="${ANSIBLE_VENV:-.build/ansible-venv}/bin/python"
parity_log="$(mktemp)"
parity() {  # ansible-core's own warnings go to a log, shown only when a check fails
    if ! "$ANSIBLE_PY" Tests/inventory_parity/parity.py --fleetcmd "$FLEETCMD_BIN" "$@" 2>"$parity_log"; then
        echo "-- ansible-core's warnings (last 40 lines):"
        tail -n 40 "$parity_log"
        return 1
    fi
}
parity --corpus
parity --cases "${PARITY_CASES:-2000}" --seed 1 --full-every 40
parity --cases "${PARITY_FRESH_CASES:-500}" --seed "${PARITY_SEED:-$(date +%s)}" --full-every 40
rm -f "$parity_log"

echo "== ansible-test sanity (the fleetcmd.fleet collection)"
scripts/ansible-sanity.sh

echo "== interop (pytest)"
python3 -m pytest -q Tests/interop

seconds="${FUZZ_SECONDS:-60}"
if [ "$seconds" != "0" ]; then
    echo "== fuzz (${seconds}s)"
    scripts/fuzz.sh "$seconds"
fi
echo "== all tests passed"

#!/usr/bin/env bash
# Builds the libFuzzer target over FleetFraming (the reply/request scanner, escape and hex parsers) and runs it
# for a bounded time on a copy of the seed corpus. Any crash fails and leaves a reproducer in fuzz-artifacts/.
# Usage: scripts/fuzz.sh [SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
swift build --sanitize fuzzer --product FleetFramingFuzz --scratch-path .build-fuzz >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp Fuzz/corpus/* "$work/"
mkdir -p fuzz-artifacts
SWIFT_BACKTRACE=enable=no .build-fuzz/debug/FleetFramingFuzz "$work" \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=fuzz-artifacts/ -print_final_stats=1 2>&1 | tail -n 12

#!/usr/bin/env bash
# Bounded libFuzzer runs: FleetFramingFuzz (the reply/request scanner, escape and hex parsers) for SECONDS, beside
# FleetParsersFuzz on each parser of user files (inventory INI/YAML/JSON, host patterns, agent config, user
# presets, run journal) for PARSER_SECONDS each, every one from its seed corpus (Fuzz/). Any crash fails and
# leaves a reproducer in fuzz-artifacts/. Campaign figures: docs/fuzzing.md.
# Usage: scripts/fuzz.sh [SECONDS] [PARSER_SECONDS]   (defaults 60 and 10)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
parser_seconds="${2:-${PARSER_FUZZ_SECONDS:-10}}"
swift build --sanitize fuzzer --product FleetFramingFuzz --scratch-path .build-fuzz >/dev/null
swift build --sanitize fuzzer --product FleetParsersFuzz --scratch-path .build-fuzz >/dev/null
mkdir -p fuzz-artifacts
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

run() {  # binary corpus-dir seconds
    local binary="$1" corpus="$2" time="$3"
    local dir="$work/$(basename "$corpus")"
    mkdir -p "$dir"
    cp "$corpus"/* "$dir/"
    local status=0
    SWIFT_BACKTRACE=enable=no ".build-fuzz/debug/$binary" "$dir" \
        -max_total_time="$time" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix=fuzz-artifacts/ -print_final_stats=1 >"$dir.log" 2>&1 || status=$?
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$dir.log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$dir.log"
        return "$status"
    fi
}

parsers() {
    for target in inventory-ini inventory-yaml inventory-json pattern agent-config presets journal; do
        echo "-- FleetParsersFuzz $target (${parser_seconds}s)"
        # Valid entries that stand for millions of hosts are linear but slow under instrumentation: a smaller cap.
        FLEETCMD_MAX_HOSTS_PER_ENTRY=100000 FLEETCMD_FUZZ_TARGET="$target" \
            run FleetParsersFuzz "Fuzz/parsers/$target" "$parser_seconds" || return
    done
}

# The framing fuzzer and the parser fuzzers run side by side (one core each); their reports follow in that order.
( echo "-- FleetFramingFuzz (${seconds}s)"; run FleetFramingFuzz Fuzz/corpus "$seconds" ) >"$work/framing.out" 2>&1 &
framing=$!
parsers_status=0
parsers >"$work/parsers.out" 2>&1 || parsers_status=$?
framing_status=0
wait "$framing" || framing_status=$?
cat "$work/framing.out" "$work/parsers.out"
[ "$framing_status" -eq 0 ] && [ "$parsers_status" -eq 0 ]

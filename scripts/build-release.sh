#!/usr/bin/env bash
# Builds the release fleetcmd exactly as the tarball ships it and prints the binary's path: a release build with the
# Swift runtime linked in (--static-swift-stdlib) and no dynamic symbol table beyond what the C library needs.
#
# Why --no-export-dynamic: the toolchain's static-stdlib link arguments export every symbol of the program (40,000
# of them). At start-up the Swift runtime's back-trace set-up calls dladdr(3) on its own address, which walks the
# whole dynamic symbol table: a fifth of `fleetcmd --version`'s CPU (perf). Exported symbols are also roots for
# --gc-sections, so the linker kept code nothing calls. Nothing looks our symbols up by name.
# Why --disable-local-rpath: the runtime is linked in, so the binary needs no library of its own, and a run path of
# $ORIGIN would make the loader look for libc, libm, libstdc++ and libgcc_s in the binary's folder first (about 25
# failed system calls per start), and load one that someone could write there (a download folder, /tmp).
# Used by scripts/release.sh (then stripped) and by the benchmarks (scripts/bench_common.py), so the figures are
# the shipped program's. Environment: RELEASE_SCRATCH (default .build-release-static); RELEASE_LINK_MAP, a file the
# linker writes its map to (which archive and object every byte of the binary came from; scripts/bench-start.py
# reads it for the size report; the binary is the same with or without it).
# Why libstdc++ is linked in: the Swift runtime, ICU and BoringSSL are C++, and loading the system's libstdc++.so
# (and resolving its 1,600 symbol relocations) was a seventh of a one-shot `send`; linked in, the binary needs only
# libc, libm and libgcc_s, so it also runs where no libstdc++ is installed. SwiftPM passes `-lstdc++`, so the
# linker is shown a folder where that name finds the static archive (the one the toolchain's clang would use).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="${RELEASE_SCRATCH:-.build-release-static}"
map=()
if [[ -n "${RELEASE_LINK_MAP:-}" ]]; then map=(-Xlinker "-Map=$RELEASE_LINK_MAP"); fi
clang="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
archive="$("$clang" -print-file-name=libstdc++.a)"
[[ "$archive" = /* && -f "$archive" ]] || { echo "no static libstdc++ (libstdc++.a) for $clang" >&2; exit 1; }
mkdir -p "$scratch/static-libstdc++"
ln -sf "$archive" "$scratch/static-libstdc++/libstdc++.a"
swift build -c release --product fleetcmd --static-swift-stdlib --disable-local-rpath --scratch-path "$scratch" \
    -Xlinker --no-export-dynamic -Xlinker "-L$(readlink -f "$scratch")/static-libstdc++" ${map[@]+"${map[@]}"} >&2
echo "$(swift build -c release --static-swift-stdlib --disable-local-rpath --scratch-path "$scratch" --show-bin-path)/fleetcmd"

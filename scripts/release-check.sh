#!/usr/bin/env bash
# Proves a release tarball stands alone: checks its SHA-256, unpacks it, and runs its fleetcmd in a mount
# namespace where the Swift toolchain (and every folder holding a Swift runtime library) is hidden under an empty
# tmpfs: --version names the commit, an agent from the tarball answers a send from the tarball over loopback,
# every console example of the shipped README and docs prints what they show, and the man pages, completions, unit and examples are where the Install section says.
# Usage: scripts/release-check.sh dist/out/fleetcmd-VERSION-linux-x86_64.tar.gz
set -euo pipefail
tarball="$(readlink -f "$1")"
(cd "$(dirname "$tarball")" && sha256sum --quiet -c "$(basename "$tarball").sha256")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xzf "$tarball"
root="$(echo "$work"/fleetcmd-*)"
for file in bin/fleetcmd share/man/man1/fleetcmd.1 share/man/man1/fleetcmd-agent.1 \
    share/bash-completion/completions/fleetcmd share/zsh/site-functions/_fleetcmd \
    share/fish/vendor_completions.d/fleetcmd.fish lib/systemd/system/fleetcmd-agent.service \
    share/doc/fleetcmd/examples/agent.yaml share/doc/fleetcmd/examples/inventory.ini LICENSE README.md; do
    [ -s "$root/$file" ] || { echo "missing from the tarball: $file"; exit 1; }
done
# Only the C library's own (libc, libm, libgcc_s, the loader) may be needed, and from the system's folders only: no
# run path (with $ORIGIN, a libc.so.6 written next to the binary would be loaded in place of the system's).
needed="$(readelf -d "$root/bin/fleetcmd" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
if grep -Evq '^(libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|ld-linux-[a-z0-9_-]+\.so\.[0-9]+)$' <<<"$needed"; then
    echo "bin/fleetcmd needs more than the C library:" $needed; exit 1
fi
if readelf -d "$root/bin/fleetcmd" | grep -Eq '\((RPATH|RUNPATH)\)'; then
    echo "bin/fleetcmd has a run path (scripts/build-release.sh links it without):"
    readelf -d "$root/bin/fleetcmd" | grep -E 'PATH'; exit 1
fi

# Linked without exporting the program's symbols (scripts/build-release.sh says why): only the C library's imports
# and a handful of the linker's own remain.
exported="$(readelf --dyn-syms -W "$root/bin/fleetcmd" | awk '$5 == "GLOBAL" && $7 != "UND"' | wc -l)"
if [ "$exported" -gt 100 ]; then
    echo "bin/fleetcmd exports $exported symbols: it was not linked by scripts/build-release.sh"; exit 1
fi

# Every folder with a Swift runtime library, and the toolchain the `swift` on PATH comes from.
hidden=()
while IFS= read -r library; do hidden+=("$(dirname "$library")"); done < <(
    find / -xdev \( -path /proc -o -path "$work" \) -prune -o -name 'libswiftCore.so*' -print 2>/dev/null)
if command -v swift >/dev/null 2>&1; then
    hidden+=("$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")")
fi
printf "%s\n" "${hidden[@]}" | sort -ur >"$work/hidden"  # deepest first: a parent mounted later hides them all
echo "hiding: $(tr '\n' ' ' <"$work/hidden")"

# As root a mount namespace of our own; otherwise a user namespace gives one (where the kernel allows it).
namespace=(unshare -m --propagation private)
[ "$(id -u)" = 0 ] || namespace=(unshare -r -m --propagation private)
"${namespace[@]}" bash -euo pipefail -c '
    while IFS= read -r folder; do mount -t tmpfs none "$folder"; done <"$1/hidden"
    bin="$2/bin/fleetcmd"
    if command -v swift >/dev/null 2>&1 && swift --version >/dev/null 2>&1; then
        echo "the toolchain is still reachable"; exit 1
    fi
    "$bin" --version
    "$bin" --version | grep -Eq "^[0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]{7,}(-dirty)?\)$"
    "$bin" agent --bind 127.0.0.1 --port 0 --log-level warning 2>"$1/agent.err" &
    agent=$!
    for _ in $(seq 100); do grep -q "agent listening on" "$1/agent.err" && break; sleep 0.1; done
    port="$(sed -n "s/.*agent listening on 127.0.0.1:\([0-9]*\).*/\1/p" "$1/agent.err")"
    reply="$("$bin" send "127.0.0.1:$port" PING)"
    kill "$agent"; wait "$agent" || true
    [ "$reply" = PONG ] || { echo "send got: $reply"; exit 1; }
    echo "send through the tarball'"'"'s agent: $reply"
    # The docs as shipped, every console example run with the tarball'"'"'s binary.
    FLEETCMD_BIN="$bin" python3 "$3" "$2/README.md" "$2"/share/doc/fleetcmd/*.md
' _ "$work" "$root" "$(dirname "$(readlink -f "$0")")/../Tests/interop/doc_examples.py"
echo "release check passed: $(basename "$tarball")"

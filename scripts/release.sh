#!/usr/bin/env bash
# Builds the release tarball: dist/out/fleetcmd-VERSION-linux-x86_64.tar.gz and its .sha256.
#
# In it: bin/fleetcmd (scripts/build-release.sh: the Swift runtime linked in, no exported symbols; stripped, no run path
# into the toolchain), man pages (swift-argument-parser's generate-manual), bash/zsh/fish completions, the systemd
# unit, an example agent configuration and inventory, README.md and LICENSE. `fleetcmd --version` names the commit.
# Check it stands alone with scripts/release-check.sh.
# Environment: RELEASE_SCRATCH (default .build-release-static), RELEASE_OUT (default dist/out).
set -euo pipefail
cd "$(dirname "$0")/.."

version="$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' Sources/FleetFraming/FleetVersion.swift)"
commit="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
if [ "$commit" != unknown ] && ! git diff --quiet HEAD -- Sources Package.swift 2>/dev/null; then
    commit="$commit-dirty"
fi
scratch="${RELEASE_SCRATCH:-.build-release-static}"
out="${RELEASE_OUT:-dist/out}"
name="fleetcmd-$version-linux-$(uname -m)"

header=Sources/CFleetBuildInfo/build_commit.h
trap 'rm -f "$header"' EXIT
printf '#define FLEETCMD_COMMIT "%s"\n' "$commit" >"$header"
# An incremental build does not know build_info.c depends on a header that did not exist when it was last compiled.
touch Sources/CFleetBuildInfo/build_info.c

echo "== building $name (commit $commit)"
fleetcmd="$(RELEASE_SCRATCH="$scratch" scripts/build-release.sh)"
swift build -c release --product generate-manual --scratch-path "$scratch" >/dev/null
bin="$(swift build -c release --show-bin-path --scratch-path "$scratch")"

stage="$(mktemp -d)"
trap 'rm -f "$header"; rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/bin" "$root/share/man/man1" "$root/share/bash-completion/completions" \
    "$root/share/zsh/site-functions" "$root/share/fish/vendor_completions.d" "$root/lib/systemd/system" \
    "$root/share/doc/fleetcmd/examples"
install -m 0755 "$fleetcmd" "$root/bin/fleetcmd"
strip "$root/bin/fleetcmd"
"$bin/generate-manual" "$root/bin/fleetcmd" --multi-page --output-directory "$root/share/man/man1" >/dev/null
# `man fleetcmd-agent`, as git names its pages: fleetcmd.tls.pin.1 -> fleetcmd-tls-pin.1, cross references too.
for page in "$root"/share/man/man1/fleetcmd.*.1; do
    sed -i -e '/^\.\(Xr fleetcmd\|Dt FLEETCMD\)\./s/\./-/2g' "$page"
    base="$(basename "$page" .1)"
    mv "$page" "$root/share/man/man1/${base//./-}.1"
done
sed -i -e '/^\.Xr fleetcmd\./s/\./-/2g' "$root/share/man/man1/fleetcmd.1"
"$root/bin/fleetcmd" --generate-completion-script bash >"$root/share/bash-completion/completions/fleetcmd"
"$root/bin/fleetcmd" --generate-completion-script zsh >"$root/share/zsh/site-functions/_fleetcmd"
"$root/bin/fleetcmd" --generate-completion-script fish >"$root/share/fish/vendor_completions.d/fleetcmd.fish"
install -m 0644 dist/fleetcmd-agent.service "$root/lib/systemd/system/fleetcmd-agent.service"
install -m 0644 dist/agent.yaml dist/inventory.ini "$root/share/doc/fleetcmd/examples/"
install -m 0644 README.md LICENSE "$root/"
install -m 0644 docs/*.md "$root/share/doc/fleetcmd/"

mkdir -p "$out"
tarball="$out/$name.tar.gz"
tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$tarball" "$name"
(cd "$out" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
echo "$tarball ($(du -h "$tarball" | cut -f1); bin/fleetcmd $(du -h "$root/bin/fleetcmd" | cut -f1))"

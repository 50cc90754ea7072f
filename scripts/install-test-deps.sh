#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, and nothing when it is already there:
# ncat (Debian) for the interop tests, pytest (PyPI) to run them.
set -euo pipefail
if ! command -v ncat >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ncat >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ncat >/dev/null
    fi
fi
if ! python3 -m pytest --version >/dev/null 2>&1; then
    python3 -m pip install --quiet pytest
fi

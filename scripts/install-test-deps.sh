#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, and nothing when it is already there:
# ncat, openssl and strace (Debian) for the interop tests, systemd-analyze and promtool (Debian) for the service tests,
# PostgreSQL (Debian) for the run-store tests,
# pytest and jsonschema (PyPI) to run them, ansible-core (PyPI, in a virtual environment under .build/ so it touches nothing
# else) for the Ansible integration tests.
set -euo pipefail
apt_install() {
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    fi
}
# openssl makes the hardening tests' certificates (never fleetcmd's own CA code).
if ! command -v openssl >/dev/null 2>&1; then apt_install openssl; fi
if ! command -v ncat >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ncat >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ncat >/dev/null
    fi
fi
# strace shows that a one-shot (`--version`, a plain `send`) starts no thread.
if ! command -v strace >/dev/null 2>&1; then apt_install strace; fi
# systemd-analyze checks the agent's unit file; promtool (Debian's prometheus) checks its metrics.
if ! command -v systemd-analyze >/dev/null 2>&1; then apt_install systemd; fi
if ! command -v promtool >/dev/null 2>&1; then apt_install --no-install-recommends prometheus; fi
# PostgreSQL for the run-store tests, which start a private cluster of their own (so no main cluster is created).
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        mkdir -p /etc/postgresql-common
        echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    fi
    apt_install --no-install-recommends postgresql
fi
if ! python3 -m pytest --version >/dev/null 2>&1; then
    python3 -m pip install --quiet pytest
fi
# jsonschema checks every JSON output against its schema in docs/schemas.
if ! python3 -c 'import jsonschema' >/dev/null 2>&1; then
    python3 -m pip install --quiet jsonschema
fi
ANSIBLE_VENV="${ANSIBLE_VENV:-.build/ansible-venv}"
if [ ! -x "$ANSIBLE_VENV/bin/ansible-playbook" ]; then
    python3 -m venv "$ANSIBLE_VENV"
    "$ANSIBLE_VENV/bin/pip" install --quiet 'ansible-core>=2.19,<2.20'
fi

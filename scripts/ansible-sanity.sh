#!/usr/bin/env bash
# `ansible-test sanity` for the fleetcmd.fleet collection (pylint, validate-modules, pep8, yamllint, …), as CI runs
# it. ansible-test needs the collection under ansible_collections/NAMESPACE/NAME, so it runs on a copy.
#
# ansible-test bootstraps pip in each of its virtual environments with a get-pip script that it downloads from
# a file server of Ansible's CI, which is out of reach here; PyPI is not. When that script is not cached, this writes
# a stand-in that runs the pip of ansible-core's own environment to install the requested pip from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
ANSIBLE_VENV="$(cd "${ANSIBLE_VENV:-.build/ansible-venv}" && pwd)"
python="$ANSIBLE_VENV/bin/python"
site="$("$python" -c 'import os, pip; print(os.path.dirname(os.path.dirname(pip.__file__)))')"
tests="$("$python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')"
pip_version="$(grep -oE "pip='[0-9.]+'" "$tests/_internal/python_requirements.py" | head -n 1 | cut -d"'" -f2)"
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -f "$cache" ]; then
    mkdir -p "$(dirname "$cache")"
    cat > "$cache" <<PY
# Stand-in for pip's get-pip.py (written by fleetcmd's scripts/ansible-sanity.sh): installs the requested pip
# from PyPI with the pip of ansible-core's environment.
import runpy, sys
sys.path.insert(0, "$site")
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install", "--ignore-installed"] + args
runpy.run_module("pip", run_name="__main__", alter_sys=True)
PY
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ansible_collections/fleetcmd"
cp -r ansible/collection "$work/ansible_collections/fleetcmd/fleet"
cd "$work/ansible_collections/fleetcmd/fleet"
version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
status=0
"$ANSIBLE_VENV/bin/ansible-test" sanity --python "$version" --requirements >"$work/sanity.log" 2>&1 || status=$?
# The requirements' installation is noise; the tests' own lines (and every error) are shown.
grep -P "^(Running sanity test|ERROR|FATAL|WARNING: (?!Using locale))" "$work/sanity.log" || true
if [ "$status" -ne 0 ]; then
    echo "ansible-test sanity failed (exit $status); last lines:"
    tail -n 30 "$work/sanity.log"
    exit "$status"
fi
echo "ansible-test sanity: passed"

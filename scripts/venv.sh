#!/usr/bin/env bash
# The Python venv for tests and benchmarks (peers and checkers only, never a runtime dependency).
# Idempotent: does nothing when the venv already has what the requirements list.
set -euo pipefail
cd "$(dirname "$0")/.."
req=scripts/requirements-test.txt
stamp=.venv/.kiln-requirements
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then exit 0; fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r "$req"
cp "$req" "$stamp"

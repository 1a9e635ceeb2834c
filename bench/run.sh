#!/usr/bin/env bash
# `make bench`: every benchmark, side by side with its peer, in one run, then the summary table
# (bench/summary.py). `make bench BIG=1` adds the scaling runs (bench/scaling.py). The peers live in
# .venv-bench (scripts/requirements-bench.txt), made here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-bench/bin/python ] || ! cmp -s scripts/requirements-bench.txt .venv-bench/.kiln-requirements; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install -q --disable-pip-version-check -r scripts/requirements-bench.txt
  cp scripts/requirements-bench.txt .venv-bench/.kiln-requirements
fi
python3 bench/ingest.py
python3 bench/clean.py --python .venv-bench/bin/python
python3 bench/dedup.py --python .venv-bench/bin/python
python3 bench/engine.py
python3 bench/tokenize.py --python .venv-bench/bin/python
# BIG=1: how each prep stage's time and memory grow with its input (1×, 4×, 16×).
if [ "${BIG:-0}" = 1 ]; then python3 bench/scaling.py; fi
# The one table: printed, at the top of RESULTS.md and in the README.
python3 bench/summary.py

#!/usr/bin/env bash
# `make bench`: every benchmark, side by side with its peer, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 bench/ingest.py "$@"

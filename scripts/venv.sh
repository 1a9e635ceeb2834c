#!/usr/bin/env bash
# The Python venv for tests and benchmarks (peers and checkers only, never a runtime dependency).
# Idempotent: does nothing when the venv already has what the requirements list.
set -euo pipefail
cd "$(dirname "$0")/.."
req=scripts/requirements-test.txt
stamp=.venv/.kiln-requirements
if ! { [ -x .venv/bin/python ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; }; then
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
fi
# GPT-2's published vocabulary, for the test that it encodes exactly as tiktoken's gpt2 does.
# PyPI is the only source reachable here: openai-whisper (MIT) ships it as a tiktoken rank file.
asset=.venv/assets/gpt2.tiktoken
if [ ! -s "$asset" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    openai-whisper==20250625 -d "$tmp"
  tar -xzf "$tmp"/openai_whisper-20250625.tar.gz -C "$tmp" openai_whisper-20250625/whisper/assets/gpt2.tiktoken
  mkdir -p .venv/assets
  cp "$tmp"/openai_whisper-20250625/whisper/assets/gpt2.tiktoken "$asset"
fi

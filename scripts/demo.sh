#!/usr/bin/env bash
# `make demo`: the sample pipeline, as far as it exists: ingest of samples/ into out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/demo
prep=.build/release/prep
echo "== prep ingest samples/ -> $out/docs"
status=0
"$prep" ingest samples --out "$out/docs" --config pipelines/demo-ingest.yaml --force || status=$?
# samples/truncated.tar.gz is damaged on purpose: exit status 3 means "some inputs had errors,
# the output is valid", which is what the demo shows.
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
  echo "demo: prep ingest failed with exit status $status" >&2
  exit "$status"
fi
echo
echo "== first document of the first shard"
first=$(ls "$out"/docs/docs-*.jsonl.zst | head -n 1)
zstd -dc "$first" | head -n 1 | cut -c 1-300 || true
echo "..."
echo
echo "Outputs:"
echo "  shards:   $out/docs/docs-*.jsonl.zst   (read them with: zstd -dc FILE | head)"
echo "  manifest: $out/docs/manifest.json       (inputs, outputs, counts, drop reasons, timings)"

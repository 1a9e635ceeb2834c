#!/usr/bin/env bash
# `make demo`: the sample pipeline as far as it exists: ingest -> clean -> dedup of samples/,
# into out/demo/.
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
echo "== prep clean $out/docs -> $out/clean (dropped documents with their reason in $out/rejected)"
"$prep" clean "$out/docs" --out "$out/clean" --rejected "$out/rejected" --force

echo
echo "== prep dedup $out/clean -> $out/dedup (removed documents in $out/removed)"
"$prep" dedup "$out/clean" --out "$out/dedup" --removed "$out/removed" --force

echo
echo "== first kept document"
first=$(ls "$out"/dedup/docs-*.jsonl.zst | head -n 1)
zstd -dc "$first" | head -n 1 | cut -c 1-300 || true
echo "..."
echo
echo "Outputs (each folder has its manifest.json: inputs, outputs, counts, reasons, timings):"
echo "  $out/docs      ingested documents      (zstd -dc FILE | head)"
echo "  $out/clean     cleaned documents       $out/rejected: dropped ones, metadata.drop_reason"
echo "  $out/dedup     deduplicated documents  $out/removed: removed ones, metadata.duplicate_of"

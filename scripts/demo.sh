#!/usr/bin/env bash
# `make demo`: the sample pipeline as far as it exists: ingest -> clean -> dedup ->
# train-tokenizer -> tokenize of samples/, into out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/demo
prep=.build/release/prep

echo "== prep ingest samples/raw -> $out/docs"
status=0
"$prep" ingest samples/raw --out "$out/docs" --config pipelines/demo-ingest.yaml --force || status=$?
# samples/raw/truncated.tar.gz is damaged on purpose: exit status 3 means "some inputs had errors,
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
echo "== prep train-tokenizer $out/dedup -> $out/tokenizer (byte-level BPE, 4096 tokens)"
"$prep" train-tokenizer "$out/dedup" --vocab-size 4096 --out "$out/tokenizer"

echo
echo "== prep tokenize $out/dedup -> $out/tokens (llm.c shards, 5% validation)"
"$prep" tokenize "$out/dedup" --tokenizer "$out/tokenizer" --out "$out/tokens" --val-fraction 0.05

echo
echo "== prep tokenize samples/tasks/chat -> $out/sft-chat (SFT examples with loss masks)"
"$prep" tokenize samples/tasks/chat/train.jsonl --format chat --tokenizer "$out/tokenizer" \
  --out "$out/sft-chat" --max-tokens 256
"$prep" inspect "$out"/sft-chat/train_00000_000000.bin --tokenizer "$out/tokenizer" --limit 3 | tail -n 1 | cut -c 1-240

echo
echo "== prep encode / decode with the new tokenizer"
ids=$("$prep" encode --tokenizer "$out/tokenizer" "Kiln turns raw text into training data. 中文也是一等公民。")
echo "ids: $ids"
"$prep" decode --tokenizer "$out/tokenizer" $ids

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
echo "  $out/tokenizer tokenizer.json, vocab.json + merges.txt, tokenizer.tiktoken, gpt2_tokenizer.bin, vocab.txt"
echo "  $out/tokens    train_*.bin / val_*.bin llm.c token shards, with .idx beside each"
echo "  $out/sft-chat  SFT token shards of samples/tasks/chat, loss mask in each .idx (prep inspect FILE)"

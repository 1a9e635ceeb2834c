#!/usr/bin/env bash
# `make demo`: the sample pipeline (pipelines/demo.yaml) end to end on samples/, into out/demo/:
# ingest -> clean -> dedup -> train a tokenizer -> tokenize -> pre-train a small GPT -> fine-tune
# it on the sample task (Chinese review sentiment) -> evaluate both on held-out reviews -> generate.
# A second `make demo` skips every stage whose inputs and options are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/demo
bin=.build/release

"$bin/prep" run pipelines/demo.yaml "$@"

echo
echo "== the downstream task, before and after fine-tuning (200 held-out reviews)"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
for name in ("pretrained", "finetuned"):
    r = json.load(open(f"{out}/eval-{name}.json"))["tasks"][0]
    print(f"  {name:11s} accuracy {r['accuracy']:.3f} ({r['correct']} of {r['classified']}), "
          f"loss of the reference answers {r['answer_loss']:.3f} per token")
g = json.load(open(f"{out}/generate.json"))
print("  generate:", g["prompt"].replace("\n", "⏎"), "->", g["text"])
PY

echo
echo "== SFT shards with their loss mask (trained tokens in ⟦…⟧)"
"$bin/prep" inspect "$out"/sft-sentiment/train_00000_000000.bin --tokenizer "$out/tokenizer" --limit 3 | sed -n '2p;4p'

echo
echo "Outputs (each stage's folder has its manifest or summary):"
echo "  $out/docs, clean, dedup       documents (zstd -dc FILE | head); rejected/, removed/ with reasons"
echo "  $out/tokenizer                tokenizer.json, vocab.json + merges.txt, tokenizer.tiktoken, vocab.txt"
echo "  $out/tokens, sft-sentiment    llm.c token shards with .idx (loss masks for SFT)"
echo "  $out/init.bin                 the random initialisation (tune info FILE)"
echo "  $out/pretrain, finetune       model_*.bin checkpoints, metrics.jsonl, loss.svg, summary.json"
echo "  $out/eval-*.json              tune eval results; $out/pipeline-summary.json: every stage"

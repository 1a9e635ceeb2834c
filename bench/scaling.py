#!/usr/bin/env python3
"""How Kiln's costs grow with the input (`make bench BIG=1`): every prep stage (ingest, clean,
dedup, train-tokenizer, tokenize) on 1×, 4× and 16× of a base corpus, each reading ingest's
output of it (not the previous stage's: clean drops many lines of the shuffled passes, so a chain
would hand the later stages less and less), with wall time, CPU time and
peak RSS of each, and the growth of time per MB and of memory from 1× to 16×.

The corpus is real text from ../shared/corpora (English and Chinese documents). Larger sizes need
more text than the corpora hold, so pass p > 0 shuffles the words of every line with a seed
(p, document): word and character statistics stay those of real text, and the copies are neither
exact nor near duplicates of each other (their word 5-grams differ), so dedup does the same kind
of work at every size instead of removing whole passes.

  scaling.py [--base-mb MB] [--scales 1,4,16] [--threads N]"""
import argparse, json, os, random, shutil, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CORPORA, PREP, ROOT, WORK, machine, run, write_section

def corpus_docs():
    docs = []
    for name in ("en-docs.jsonl.zst", "zh-docs.jsonl.zst"):
        raw = subprocess.run(["zstd", "-dc", os.path.join(CORPORA, name)], check=True, capture_output=True).stdout
        docs += [json.loads(l)["text"] for l in raw.splitlines() if l.strip()]
    random.Random(7).shuffle(docs)  # English and Chinese mixed through the corpus
    return docs

def shuffled(text, seed):
    rng = random.Random(seed)
    lines = []
    for line in text.split("\n"):
        words = line.split(" ")
        if len(words) > 1:
            rng.shuffle(words)
        else:  # Chinese: a line without spaces; shuffle its characters in runs of 4
            runs = [line[i:i + 4] for i in range(0, len(line), 4)]
            rng.shuffle(runs)
            words = ["".join(runs)]
        lines.append(" ".join(words))
    return "\n".join(lines)

def make_corpus(path, mb, docs):
    """A JSONL file of about `mb` megabytes of text (UTF-8 bytes of the text fields)."""
    if os.path.exists(path):
        return
    target, total, n = mb * 1_000_000, 0, 0
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        while total < target:
            p, d = divmod(n, len(docs))
            text = docs[d] if p == 0 else shuffled(docs[d], p * 1_000_003 + d)
            f.write(json.dumps({"id": f"p{p:02d}-{d:06d}", "text": text}, ensure_ascii=False) + "\n")
            total += len(text.encode())
            n += 1
    os.rename(tmp, path)

def stages(src, out, threads):
    t = ["--threads", str(threads), "--quiet"]
    return [
        ("ingest", [PREP, "ingest", src, "--out", f"{out}/docs"] + t),
        ("clean", [PREP, "clean", f"{out}/docs", "--out", f"{out}/clean"] + t),
        ("dedup", [PREP, "dedup", f"{out}/docs", "--out", f"{out}/dedup"] + t),
        ("train-tokenizer", [PREP, "train-tokenizer", f"{out}/docs", "--vocab-size", "8192", "--out", f"{out}/tok"] + t),
        ("tokenize", [PREP, "tokenize", f"{out}/docs", "--tokenizer", f"{out}/tok", "--out", f"{out}/data"] + t),
    ]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-mb", type=int, default=16)
    ap.add_argument("--scales", default="1,4,16")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    scales = [int(s) for s in a.scales.split(",")]
    docs = corpus_docs()
    os.makedirs(WORK, exist_ok=True)
    results = {}
    for s in scales:
        mb = a.base_mb * s
        src = os.path.join(WORK, f"scaling-{mb}mb.jsonl")
        make_corpus(src, mb, docs)
        out = os.path.join(WORK, "scaling-out")
        shutil.rmtree(out, ignore_errors=True)
        for name, cmd in stages(src, out, a.threads):
            wall, cpu, rss = run(cmd)
            results.setdefault(name, []).append({"scale": s, "input_mb": mb, "seconds": round(wall, 2),
                                                  "cpu_s": round(cpu, 2), "peak_rss_mib": round(rss, 1)})
            print(f"{name:16} {s:3}× {mb:5} MB  {wall:8.2f} s  {cpu:8.2f} s CPU  {rss:8.1f} MiB", flush=True)
        shutil.rmtree(out, ignore_errors=True)
    first, last = scales[0], scales[-1]
    growth = {}
    for name, rows in results.items():
        a0, a1 = rows[0], rows[-1]
        growth[name] = {"time_per_mb": round((a1["seconds"] / a1["input_mb"]) / (a0["seconds"] / a0["input_mb"]), 2),
                        "memory": round(a1["peak_rss_mib"] / a0["peak_rss_mib"], 2)}
    result = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "threads": a.threads,
              "base_mb": a.base_mb, "scales": scales, "stages": results, "growth": growth}
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    json.dump(result, open(os.path.join(ROOT, "bench/results/scaling.json"), "w"), indent=2)
    head = "| stage | " + " | ".join(f"{s}× ({a.base_mb * s} MB): s, peak RSS" for s in scales) + \
           f" | time per MB {last}× / {first}× | memory {last}× / {first}× |"
    lines = [head, "|---|" + "---|" * (len(scales) + 2)]
    for name, rows in results.items():
        cells = " | ".join(f"{r['seconds']} s, {r['peak_rss_mib']} MiB" for r in rows)
        lines.append(f"| {name} | {cells} | {growth[name]['time_per_mb']} | {growth[name]['memory']} |")
    table = "\n".join(lines)
    print(table)
    write_section("scaling", f"Measured {result['date']} on {result['machine']}, `--threads {a.threads}`, by "
                  "`make bench BIG=1` (bench/scaling.py). Every stage reads ingest's output of the same input (clean "
                  "drops many of the shuffled passes' lines, so a chain would feed the later stages less); the input "
                  "is real English and Chinese text, with word-shuffled passes past the corpora's size (see the "
                  "script). Time per MB near 1 and memory near 1 mean linear time and flat memory.\n\n" + table)

main()

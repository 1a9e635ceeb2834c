#!/usr/bin/env python3
"""`prep dedup` beside datasketch's MinHashLSH (128 permutations, word 5-grams) and datatrove's
four-stage MinHash flow (MinhashDedupSignature → MinhashDedupBuckets → MinhashDedupCluster →
MinhashDedupFilter, default MinhashConfig: 14 buckets × 8 hashes, word 5-grams, English) on the
same documents: real text from ../shared/corpora with planted near duplicates (5% of words
changed). Each datatrove stage runs as its own process with a LocalPipelineExecutor (one task,
one worker; the buckets stage one task per bucket, one worker); its time is the sum of the four
stages and its peak memory the largest of them. Prints wall time, MB/s, peak memory and the
recall of planted copies for all three; writes bench/results/dedup.json and the dedup section of
bench/RESULTS.md.

  dedup.py [--python VENV_PYTHON] [--mb MB]"""
import argparse, json, os, random, shutil, statistics, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CORPORA, PREP, ROOT, WORK, machine, run, write_section

DATASKETCH = r'''
import json, sys, time
from datasketch import MinHash, MinHashLSH
src, out, threshold = sys.argv[1], sys.argv[2], float(sys.argv[3])
lsh = MinHashLSH(threshold=threshold, num_perm=128)
removed = []
for line in open(src):
    d = json.loads(line)
    words = d["text"].lower().split()
    m = MinHash(num_perm=128)
    m.update_batch([" ".join(words[i:i + 5]).encode() for i in range(max(1, len(words) - 4))])
    if lsh.query(m):
        removed.append(d["id"])
    else:
        lsh.insert(d["id"], m)
json.dump(removed, open(out, "w"))
'''

DATATROVE = r'''
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                              MinhashDedupFilter, MinhashDedupSignature)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.typeshelper import Languages
if __name__ == "__main__":
    stage, src, work = sys.argv[1], sys.argv[2], sys.argv[3]
    config = MinhashConfig()  # datatrove's defaults: 14 buckets x 8 hashes, 5-grams
    reader = lambda: JsonlReader(src, glob_pattern="*.jsonl")
    if stage == "signature":
        pipeline, tasks = [reader(), MinhashDedupSignature(output_folder=f"{work}/signatures", config=config,
                                                           language=Languages.english)], 1
    elif stage == "buckets":
        pipeline, tasks = [MinhashDedupBuckets(input_folder=f"{work}/signatures", output_folder=f"{work}/buckets",
                                               config=config)], config.num_buckets
    elif stage == "cluster":
        pipeline, tasks = [MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove_ids",
                                               config=config)], 1
    elif stage == "filter":
        pipeline, tasks = [reader(),
                           MinhashDedupFilter(input_folder=f"{work}/remove_ids",
                                              exclusion_writer=JsonlWriter(f"{work}/removed", compression=None)),
                           JsonlWriter(f"{work}/deduplicated", compression=None)], 1
    else:
        sys.exit(f"unknown stage {stage}")
    LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=f"{work}/logs/{stage}").run()
'''
DATATROVE_STAGES = ("signature", "buckets", "cluster", "filter")

def corpus(mb):
    path = os.path.join(WORK, f"dedup-{mb}")
    f = os.path.join(path, "docs-00000-00000.jsonl")
    if os.path.exists(f):
        return path, json.load(open(os.path.join(path, "planted.json")))
    os.makedirs(path, exist_ok=True)
    raw = subprocess.run(["zstd", "-dc", os.path.join(CORPORA, "en-docs.jsonl.zst")], check=True, capture_output=True).stdout
    rng = random.Random(1)
    docs, total = [], 0
    for l in raw.splitlines():
        d = json.loads(l)
        if len(d["text"]) < 500:
            continue
        docs.append({"id": d["id"], "text": d["text"], "source": {"input": "corpus"}, "metadata": {}})
        total += len(d["text"].encode())
        if total >= mb * 1_000_000:
            break
    planted = []
    for d in rng.sample(docs, len(docs) // 10):
        words = d["text"].split(" ")
        for i in rng.sample(range(len(words)), max(1, len(words) // 20)):
            words[i] = "changed"
        copy = {"id": d["id"] + "-copy", "text": " ".join(words), "source": {"input": "planted"}, "metadata": {}}
        docs.append(copy)
        planted.append(copy["id"])
    with open(f, "w") as out:
        for d in docs:
            out.write(json.dumps(d, ensure_ascii=False) + "\n")
    json.dump(planted, open(os.path.join(path, "planted.json"), "w"))
    return path, planted

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv-bench/bin/python"))
    ap.add_argument("--mb", type=int, default=50)
    a = ap.parse_args()
    src, planted = corpus(a.mb)
    jsonl = os.path.join(src, "docs-00000-00000.jsonl")
    mb = os.path.getsize(jsonl) / 1e6
    script = os.path.join(WORK, "datasketch_dedup.py")
    open(script, "w").write(DATASKETCH)
    kout = os.path.join(WORK, "kiln-dedup-out")
    rout = os.path.join(WORK, "kiln-dedup-removed")
    shutil.rmtree(kout, ignore_errors=True); shutil.rmtree(rout, ignore_errors=True)
    k_wall, _, k_rss = run([PREP, "dedup", src, "--out", kout, "--removed", rout, "--threads", "1", "--quiet"])
    removed_k = set(json.loads(l)["id"] for f in sorted(os.listdir(rout)) if f.startswith("docs-")
                    for l in subprocess.run(["zstd", "-dc", os.path.join(rout, f)], capture_output=True, check=True).stdout.decode().splitlines())
    dsout = os.path.join(WORK, "datasketch-removed.json")
    d_wall, _, d_rss = run([a.python, script, jsonl, dsout, "0.5"])
    removed_d = set(json.load(open(dsout)))
    dt_script = os.path.join(WORK, "datatrove_dedup.py")
    open(dt_script, "w").write(DATATROVE)
    dt_work = os.path.join(WORK, "datatrove-dedup")
    shutil.rmtree(dt_work, ignore_errors=True)  # the executors skip tasks their logs mark completed
    dt_stages, t_wall, t_rss = {}, 0.0, 0.0
    for stage in DATATROVE_STAGES:
        w, _, r = run([a.python, dt_script, stage, src, dt_work],
                      env={**os.environ, "RAYON_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
        dt_stages[stage] = {"seconds": round(w, 2), "peak_rss_mib": round(r, 1)}
        t_wall += w; t_rss = max(t_rss, r)

    def jsonl_ids(folder):  # the exclusion writer makes no file when nothing is removed
        folder = os.path.join(dt_work, folder)
        return set(json.loads(l)["id"] for f in (sorted(os.listdir(folder)) if os.path.isdir(folder) else [])
                   if f.endswith(".jsonl") for l in open(os.path.join(folder, f)))
    removed_t, kept_t = jsonl_ids("removed"), jsonl_ids("deduplicated")
    all_ids = set(json.loads(l)["id"] for l in open(jsonl))
    if removed_t != all_ids - kept_t:
        sys.exit(f"datatrove: exclusion writer has {len(removed_t)} documents, output lacks {len(all_ids - kept_t)}")
    p = set(planted)
    rows = [{"tool": "kiln", "seconds": round(k_wall, 2), "mb_s": round(mb / k_wall, 2), "peak_rss_mib": round(k_rss, 1),
             "removed": len(removed_k), "planted_recall": round(len(p & removed_k) / len(p), 3)},
            {"tool": "datasketch MinHashLSH (threshold 0.5)", "seconds": round(d_wall, 2), "mb_s": round(mb / d_wall, 2),
             "peak_rss_mib": round(d_rss, 1), "removed": len(removed_d), "planted_recall": round(len(p & removed_d) / len(p), 3)},
            {"tool": "datatrove MinHash, 4 stages (14 buckets × 8 hashes)", "seconds": round(t_wall, 2), "mb_s": round(mb / t_wall, 2),
             "peak_rss_mib": round(t_rss, 1), "removed": len(removed_t), "planted_recall": round(len(p & removed_t) / len(p), 3),
             "stages": dt_stages}]
    result = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "input_mb": round(mb, 1), "planted": len(p), "rows": rows}
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    json.dump(result, open(os.path.join(ROOT, "bench/results/dedup.json"), "w"), indent=2)
    lines = ["| what | seconds | MB/s | peak RSS | removed | recall of planted copies |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['tool']} | {r['seconds']} | {r['mb_s']} | {r['peak_rss_mib']} MiB | {r['removed']} | {r['planted_recall']} |")
    lines.append(f"| ratio Kiln / datasketch | {round(d_wall / k_wall, 1)}× faster | | | | |")
    lines.append(f"| ratio Kiln / datatrove | {round(t_wall / k_wall, 1)}× faster | | | | |")
    table = "\n".join(lines)
    print(table)
    stage_text = ", ".join(f"{k} {v['seconds']} s" for k, v in dt_stages.items())
    print(f"datatrove stages: {stage_text}")
    write_section("dedup", f"Measured {result['date']} on {result['machine']}, one thread: {result['input_mb']} MB of "
                  f"English documents with {len(p)} planted copies (5% of words changed). datatrove runs its four-stage "
                  "MinHash flow (signature, buckets, cluster, filter) with its default MinhashConfig (14 buckets × 8 "
                  "hashes, word 5-grams, English tokenizer), each stage a LocalPipelineExecutor with one worker (one "
                  "task, or one per bucket for the buckets stage); its seconds are the sum of the four stages "
                  f"({stage_text}) and its peak RSS the largest of them. A document counts as removed when datatrove's "
                  "exclusion writer holds it.\n\n" + table)

main()

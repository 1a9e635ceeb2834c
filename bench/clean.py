#!/usr/bin/env python3
"""`prep clean` beside datatrove's GopherQualityFilter → GopherRepetitionFilter → C4QualityFilter
on the same documents (English and Chinese from ../shared/corpora), one task each.

Kiln runs with the same three filters and nothing else (no normalisation, no language id), so the
work is the same. Prints wall time, MB/s, peak memory and how far the kept sets agree, per
language; writes bench/results/clean.json and the clean section of bench/RESULTS.md.

  clean.py [--python VENV_PYTHON] [--repeat N] [--mb MB]"""
import argparse, json, os, shutil, statistics, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CORPORA, PREP, ROOT, WORK, machine, run, write_section

DATATROVE = r'''
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter, C4QualityFilter
from datatrove.pipeline.writers import JsonlWriter
if __name__ == "__main__":
    src, out = sys.argv[1], sys.argv[2]
    LocalPipelineExecutor(pipeline=[
        JsonlReader(src, glob_pattern="*.jsonl"),
        GopherQualityFilter(), GopherRepetitionFilter(), C4QualityFilter(),
        JsonlWriter(out, compression=None),
    ], tasks=1, workers=1, logging_dir=out + "-logs").run()
'''

KILN_CONFIG = """normalize:
  enabled: false
language:
  enabled: false
"""

def corpus(lang, mb):
    path = os.path.join(WORK, f"clean-{lang}-{mb}")
    f = os.path.join(path, "docs-00000-00000.jsonl")
    if os.path.exists(f):
        return path
    os.makedirs(path, exist_ok=True)
    raw = subprocess.run(["zstd", "-dc", os.path.join(CORPORA, f"{lang}-docs.jsonl.zst")], check=True, capture_output=True).stdout
    lines = raw.splitlines()
    total, out = 0, []
    while total < mb * 1_000_000:
        for l in lines:
            d = json.loads(l)
            d["id"] = f"{d['id']}-{len(out)}"
            out.append(json.dumps({"id": d["id"], "text": d["text"], "source": {"input": d.get("source", "corpus")}, "metadata": {}}, ensure_ascii=False))
            total += len(d["text"].encode())
            if total >= mb * 1_000_000:
                break
    open(f, "w").write("\n".join(out) + "\n")
    return path

def kept_ids_jsonl(folder):
    ids = set()
    for name in os.listdir(folder):
        if name.endswith(".jsonl"):
            for l in open(os.path.join(folder, name)):
                ids.add(json.loads(l)["id"])
    return ids

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv-bench/bin/python"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--mb", type=int, default=20)
    a = ap.parse_args()
    script = os.path.join(WORK, "datatrove_clean.py")
    os.makedirs(WORK, exist_ok=True)
    open(script, "w").write(DATATROVE)
    cfg = os.path.join(WORK, "clean-bench.yaml")
    open(cfg, "w").write(KILN_CONFIG)
    rows = []
    for lang in ("en", "zh"):
        src = corpus(lang, a.mb)
        text_mb = os.path.getsize(os.path.join(src, "docs-00000-00000.jsonl")) / 1e6
        k_t, d_t, k_rss, d_rss = [], [], [], []
        for _ in range(a.repeat):
            dout = os.path.join(WORK, "dt-out")
            shutil.rmtree(dout, ignore_errors=True); shutil.rmtree(dout + "-logs", ignore_errors=True)
            w, _, r = run([a.python, script, src, dout], env={**os.environ, "RAYON_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
            d_t.append(w); d_rss.append(r)
            kout = os.path.join(WORK, "kiln-clean-out")
            shutil.rmtree(kout, ignore_errors=True)
            w, _, r = run([PREP, "clean", src, "--out", kout, "--config", cfg, "--threads", "1", "--quiet"])
            k_t.append(w); k_rss.append(r)
        dt_ids = kept_ids_jsonl(dout)
        kiln_ids = set(json.loads(l)["id"] for f in sorted(os.listdir(kout)) if f.startswith("docs-")
                       for l in subprocess.run(["zstd", "-dc", os.path.join(kout, f)], capture_output=True, check=True).stdout.decode().splitlines())
        both = len(dt_ids & kiln_ids)
        agree = both / max(1, len(dt_ids | kiln_ids))
        km, dm = statistics.median(k_t), statistics.median(d_t)
        rows.append({"language": lang, "input_mb": round(text_mb, 1), "kiln_s": round(km, 3), "datatrove_s": round(dm, 3),
                     "kiln_mb_s": round(text_mb / km, 2), "datatrove_mb_s": round(text_mb / dm, 3),
                     "ratio": round(dm / km, 1), "kiln_peak_rss_mib": round(max(k_rss), 1),
                     "datatrove_peak_rss_mib": round(max(d_rss), 1), "kiln_kept": len(kiln_ids),
                     "datatrove_kept": len(dt_ids), "kept_agreement": round(agree, 3)})
    result = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "repeat": a.repeat, "rows": rows}
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    json.dump(result, open(os.path.join(ROOT, "bench/results/clean.json"), "w"), indent=2)
    lines = ["| what | Kiln | datatrove | ratio | goal | peak RSS Kiln / datatrove | kept Kiln / datatrove (agreement) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        note = "" if r["language"] == "en" else " — datatrove's filters are English-only; the kept sets are expected to differ"
        lines.append(f"| clean, Gopher + C4 filters, {r['language']}, {r['input_mb']} MB | {r['kiln_s']} s ({r['kiln_mb_s']} MB/s) "
                     f"| {r['datatrove_s']} s ({r['datatrove_mb_s']} MB/s) | {r['ratio']}× | ≥ 100× | "
                     f"{r['kiln_peak_rss_mib']} / {r['datatrove_peak_rss_mib']} MiB | {r['kiln_kept']} / {r['datatrove_kept']} "
                     f"({r['kept_agreement']}){note} |")
    table = "\n".join(lines)
    print(table)
    write_section("clean", f"Measured {result['date']} on {result['machine']}, one task each, medians of {a.repeat}. "
                  "Kiln runs only the three filters here (normalisation and language id off). Agreement is the Jaccard "
                  "index of the two kept sets of document ids.\n\n" + table)

main()

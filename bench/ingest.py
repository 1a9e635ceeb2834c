#!/usr/bin/env python3
"""`prep ingest` beside `gzip -dc` (the floor: decompressing the same archive and nothing else).

Runs each pair alternately, several times, and prints medians, the spread and the ratio; writes
bench/results/ingest.json and the ingest section of bench/RESULTS.md.

  ingest.py [--repeat N] [--size-mb MB]"""
import argparse, json, os, platform, shutil, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PREP, ROOT, WORK, machine, run, write_section

def gzip_floor(paths):
    with open(os.devnull, "wb") as null:
        return run(["sh", "-c", "gzip -dc " + " ".join(paths)], stdout=null)

def kiln(paths, threads):
    out = os.path.join(WORK, "out")
    shutil.rmtree(out, ignore_errors=True)
    r = run([PREP, "ingest", *paths, "--out", out, "--threads", str(threads), "--quiet"])
    m = json.load(open(os.path.join(out, "manifest.json")))
    return r, m["counts"]["text_bytes"], m["counts"]["documents"]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--size-mb", type=int, default=200)
    a = ap.parse_args()
    corpus = os.path.join(WORK, f"corpus-{a.size_mb}")
    if not os.path.exists(os.path.join(corpus, "one.tar.gz")):
        subprocess.run([sys.executable, os.path.join(ROOT, "bench/make-corpus.py"),
                        os.path.join(ROOT, "../shared/corpora"), corpus, str(a.size_mb)], check=True)
    one = [os.path.join(corpus, "one.tar.gz")]
    four = sorted(os.path.join(corpus, "four", f) for f in os.listdir(os.path.join(corpus, "four")))
    cases = [("one tar.gz, --threads 1", one, 1), ("four tar.gz, --threads 2", four, 2)]
    rows = []
    for name, paths, threads in cases:
        g, k, cpu, rss = [], [], [], []
        text = docs = 0
        for _ in range(a.repeat):  # alternate the two tools
            g.append(gzip_floor(paths)[0])
            (wall, c, r), text, docs = kiln(paths, threads)
            k.append(wall); cpu.append(c); rss.append(r)
        gm, km = statistics.median(g), statistics.median(k)
        spread = lambda xs: (max(xs) - min(xs)) / statistics.median(xs)
        rows.append({
            "case": name, "documents": docs, "text_mb": round(text / 1e6, 1),
            "gzip_s": round(gm, 3), "kiln_s": round(km, 3), "kiln_cpu_s": round(statistics.median(cpu), 3),
            "kiln_text_mb_s": round(text / 1e6 / km, 1), "gzip_text_mb_s": round(text / 1e6 / gm, 1),
            "ratio": round(gm / km, 2), "goal": 0.8 if threads == 1 else 1.0,
            "spread_gzip": round(spread(g), 2), "spread_kiln": round(spread(k), 2),
            "kiln_peak_rss_mib": round(max(rss), 1),
            "noisy": spread(g) > 0.15 or spread(k) > 0.15,
        })
    load = os.getloadavg()
    result = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "load_before": load, "repeat": a.repeat, "rows": rows}
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    json.dump(result, open(os.path.join(ROOT, "bench/results/ingest.json"), "w"), indent=2)
    lines = ["| what | Kiln | gzip -dc (floor) | ratio | goal | peak RSS | note |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| ingest {r['case']}: {r['text_mb']} MB text, {r['documents']} docs | {r['kiln_s']} s "
                     f"({r['kiln_text_mb_s']} MB/s, {r['kiln_cpu_s']} s CPU) | {r['gzip_s']} s ({r['gzip_text_mb_s']} MB/s) "
                     f"| {r['ratio']} | ≥ {r['goal']} | {r['kiln_peak_rss_mib']} MiB | "
                     f"{'noisy: spread ' + str(max(r['spread_gzip'], r['spread_kiln'])) if r['noisy'] else 'median of ' + str(a.repeat)} |")
    table = "\n".join(lines)
    print(table)
    write_section("ingest", f"Measured {result['date']} on {result['machine']} (load {load[0]:.2f} before the run). "
                  "MB/s are megabytes of document text out per second; gzip -dc decompresses the same archives "
                  "to /dev/null and nothing else. Kiln's CPU time includes its shard-writer thread "
                  "(zstd compression and SHA-256 of the output run beside the reading thread).\n\n" + table)

main()

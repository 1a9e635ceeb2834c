#!/usr/bin/env python3
"""The GPT engine's training step (`tune bench`): forward + backward tokens/s and achieved
GFLOP/s for GPT-2 small (d12) at B=4,T=64 and B=8,T=256 on one and two threads, each beside the
sgemm ceiling measured in the same run. Repeats the whole measurement (default 3 times,
alternating shapes and thread counts) and reports medians and the spread.

PyTorch is not installed here (about 5 GB with its GPU libraries): its numbers below come from
../shared/docs/PEERS.md (measured once on this kind of machine), not from this run, and the table
says so.

  engine.py [--repeat N] [--steps N]"""
import argparse, json, os, statistics, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, machine, write_section

TUNE = os.path.join(ROOT, ".build/release/tune")
# PEERS.md: PyTorch 2.15 fp32 on two threads, d12.
PYTORCH = {(4, 64): 151.0, (8, 256): 240.0}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    runs = {}
    core = "?"
    for k in range(a.repeat):
        for shape in ("4x64", "8x256"):
            for threads in ((1, 2) if k % 2 == 0 else (2, 1)):
                out = subprocess.run([TUNE, "bench", "--shape", shape, "--threads", str(threads), "--steps", str(a.steps), "--json"],
                                     check=True, capture_output=True).stdout
                doc = json.loads(out)
                core = doc["core"]
                for r in doc["rows"]:
                    runs.setdefault((r["b"], r["t"], r["threads"]), []).append(r)
    rows, raw = [], []
    for (B, T, th), rs in sorted(runs.items()):
        tps = [r["tokens_per_second"] for r in rs]
        frac = [r["fraction_of_ceiling"] for r in rs]
        ceil = [r["sgemm_ceiling_gflops"] for r in rs]
        gf = [r["gflops"] for r in rs]
        med = statistics.median
        noisy = (max(ceil) - min(ceil)) / med(ceil) > 0.2
        peer = PYTORCH.get((B, T)) if th == 2 else None
        goal = "≥ 75% of the ceiling" if (B, T) == (8, 256) else ("≥ PyTorch's 151 tokens/s" if th == 2 else "")
        met = ""
        if (B, T) == (8, 256):
            met = "met" if med(frac) >= 0.75 else "not met"
        elif th == 2 and peer:
            met = "met" if med(tps) >= peer else "not met"
        rows.append(f"| d12 B={B} T={T}, {th} thread{'s' if th > 1 else ''} | {med(tps):.0f} tokens/s, {med(gf):.0f} GFLOP/s "
                    f"({min(tps):.0f}–{max(tps):.0f}) | sgemm ceiling {med(ceil):.0f} GFLOP/s{' (noisy)' if noisy else ''} | "
                    f"{100 * med(frac):.0f}% of the ceiling{f'; {med(tps) / peer:.2f}× PyTorch (PEERS.md: {peer:.0f} tokens/s)' if peer else ''} | "
                    f"{goal} {met} |")
        raw.append({"B": B, "T": T, "threads": th, "runs": rs})
    body = (f"Measured {subprocess.run(['date', '-u', '+%Y-%m-%d'], capture_output=True, text=True).stdout.strip()} on {machine()}; "
            f"OpenBLAS core {core}. Medians of {a.repeat} alternating rounds (range in brackets); the ceiling is a "
            "2048×3072×768 sgemm measured just before each step timing, on the same threads.\n\n"
            "| what | Kiln | ceiling | ratio | goal |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    print(body)
    write_section("engine: GPT-2 small training step (tune bench)", body)
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    json.dump({"date": time.strftime("%Y-%m-%d"), "machine": machine(), "core": core, "rows": raw}, open(os.path.join(ROOT, "bench/results/engine.json"), "w"), indent=1)

if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The one table of `make bench`: every goal of Kiln's benchmarks, read from bench/results/*.json
(written by the benchmarks in the same run), printed, and written at the top of bench/RESULTS.md
and into the README's performance section (between its `bench-summary` markers).

A ratio is given only when the two tools' outputs agree (same token ids, same merges, kept sets
within the tolerance stated in the row); otherwise the row says why there is none. A row measured
with a spread over 15% between repeats says the machine was too noisy to trust it.

  summary.py [--no-readme]"""
import json, os, statistics, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, write_section

RESULTS = os.path.join(ROOT, "bench/results")
NOISY = 0.15
# Kept-set agreement (Jaccard index of kept document ids) under which two cleaners did not do the
# same work and no ratio is given.
CLEAN_AGREEMENT = 0.9
# PyTorch 2.15 fp32, two threads, d12 B=4 T=64 (../shared/docs/PEERS.md; bench/engine.py has it too).
PYTORCH_B4_T64 = 151.0

def load(name):
    path = os.path.join(RESULTS, name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None

def met(ratio, goal):
    return "met" if ratio >= goal else "**not met**"

def rows():
    out, dates, machines = [], set(), set()
    def note(d):
        if d:
            dates.add(d.get("date", "?")); machines.add(d.get("machine", "?"))
        return d

    if (ing := note(load("ingest"))):
        for r in ing["rows"]:
            # From the seconds, not the rounded ratio: 0.997 is not ≥ 1.0.
            ratio = r["gzip_s"] / r["kiln_s"]
            out.append([f"ingest {r['case']}, MB/s of text out", f"{r['kiln_text_mb_s']} MB/s, {r['kiln_peak_rss_mib']} MiB",
                        f"`gzip -dc` {r['gzip_text_mb_s']} MB/s (the floor)", f"{ratio:.3f}", f"≥ {r['goal']}",
                        met(ratio, r["goal"]), "same archives",
                        f"noisy (spread {max(r['spread_gzip'], r['spread_kiln'])})" if r["noisy"] else f"median of {ing['repeat']}"])
    if (cl := note(load("clean"))):
        for r in cl["rows"]:
            agree = r["kept_agreement"] >= CLEAN_AGREEMENT
            out.append([f"clean, Gopher + C4 filters, {r['language']} {r['input_mb']} MB, one thread",
                        f"{r['kiln_mb_s']} MB/s, {r['kiln_peak_rss_mib']} MiB", f"datatrove {r['datatrove_mb_s']} MB/s, {r['datatrove_peak_rss_mib']} MiB",
                        f"{r['ratio']}×" if agree else "—", "≥ 100×", met(r["ratio"], 100) if agree else "no ratio",
                        f"kept {r['kiln_kept']} / {r['datatrove_kept']}, Jaccard {r['kept_agreement']}"
                        + ("" if agree else f" < {CLEAN_AGREEMENT}: not the same work (datatrove's filters are English-only)"),
                        f"median of {cl['repeat']}"])
    if (dd := note(load("dedup"))):
        by = {r["tool"].split(" ")[0]: r for r in dd["rows"]}
        k = by["kiln"]
        for peer, goal in (("datatrove", 50.0), ("datasketch", None)):
            p = by.get(peer)
            if not p:
                continue
            ratio = round(p["seconds"] / k["seconds"], 1)
            out.append([f"dedup, MinHash, {dd['input_mb']} MB with {dd['planted']} planted near copies, one thread",
                        f"{k['seconds']} s, {k['peak_rss_mib']} MiB", f"{p['tool']} {p['seconds']} s, {p['peak_rss_mib']} MiB",
                        f"{ratio}×", f"≥ {goal:g}×" if goal else "", met(ratio, goal) if goal else "",
                        f"recall of planted copies {k['planted_recall']} / {p['planted_recall']}", "one run"])
    if (tk := note(load("tokenize"))):
        for r in tk["train"]:
            same = r["merges_identical"]
            spread = max(r["spread_kiln"], r["spread_hf"])
            out.append([f"BPE train, {tk['en']['text_mb']} MB English, vocabulary {r['vocab']}, one thread",
                        f"{r['kiln_s']} s, {r['kiln_peak_rss_mib']} MiB", f"HF tokenizers {r['hf_s']} s, {r['hf_peak_rss_mib']} MiB",
                        f"{r['ratio']}×" if same else "—", f"≥ {r['goal']:g}×",
                        met(r["ratio"], r["goal"]) if same else "no ratio",
                        "identical merges" if same else f"merges differ after {r['leading_equal_merges']}",
                        f"noisy (spread {spread})" if spread > NOISY else f"median of {tk['repeat']}"])
        for e in tk["encode"]:
            rws = {r["tool"]: r for r in e["rows"]}
            for tool, peer, goal in (("kiln-1", "tiktoken-1", 2.0 if e["lang"] == "en" else None),
                                     ("kiln-2", "tiktoken-2", None), ("kiln-2", "kiln-1", None)):
                kr, pr = rws.get(tool), rws.get(peer)
                if not kr or not pr:
                    continue
                ratio = round(pr["seconds"] / kr["seconds"], 2)
                threads = tool[-1]
                scaling = peer.startswith("kiln")
                spread = max(kr["spread"], pr["spread"])
                out.append([f"BPE encode, {e['lang']} {e['text_mb']} MB, " + ("2 threads / 1 thread (Kiln scaling, whole process)" if scaling else f"{threads} thread{'s' if threads == '2' else ''}"),
                            f"{kr['mb_s']} MB/s", f"{'Kiln 1 thread' if scaling else 'tiktoken'} {pr['mb_s']} MB/s",
                            f"{ratio}×" if e["ids_agree"] else "—",
                            "" if scaling else (f"≥ {goal:g}× tiktoken" if goal else ""),
                            (met(ratio, goal) if goal else "") if e["ids_agree"] else "no ratio",
                            "same token ids" if e["ids_agree"] else "token ids differ",
                            f"noisy (spread {spread})" if spread > NOISY else f"median of {tk.get('encode_repeat', tk['repeat'])}"])
            if "kiln_start_s" in e and "kiln-1" in rws and "kiln-2" in rws:
                st, k1, k2 = e["kiln_start_s"], rws["kiln-1"], rws["kiln-2"]
                # Older results hold one start (measured on one thread) for both.
                s1, s2 = (st["1"], st["2"]) if isinstance(st, dict) else (st, st)
                ratio = round((k1["seconds"] - s1) / (k2["seconds"] - s2), 2)
                spread = max(k1["spread"], k2["spread"])
                out.append([f"BPE encode, {e['lang']} {e['text_mb']} MB, 2 threads / 1 thread, encoding work "
                            f"(Kiln's fixed start, {s1} s / {s2} s, taken off)",
                            f"{k2['seconds'] - s2:.3f} s", f"Kiln 1 thread {k1['seconds'] - s1:.3f} s",
                            f"{ratio}×" if e["ids_agree"] else "—", "near-linear",
                            met(ratio, 1.8) if e["ids_agree"] else "no ratio",
                            "same token ids" if e["ids_agree"] else "token ids differ",
                            f"noisy (spread {spread})" if spread > NOISY else f"median of {tk.get('encode_repeat', tk['repeat'])}"])
                if "pair_s" in e:
                    two = round((k1["seconds"] - s1) / (e["pair_s"] - s1), 2)
                    out.append([f"BPE encode, {e['lang']} {e['text_mb']} MB, two `--threads 1` processes at once, "
                                "half the shards each, encoding work",
                                f"{e['pair_s'] - s1:.3f} s", f"Kiln 1 thread {k1['seconds'] - s1:.3f} s",
                                f"{two}×", "", "", f"Kiln's 2 threads: {ratio / two:.2f}× of that",
                                f"median of {tk.get('encode_repeat', tk['repeat'])}"])
    if (en := note(load("engine"))):
        for r in en["rows"]:
            fr = statistics.median(x["fraction_of_ceiling"] for x in r["runs"])
            tps = statistics.median(x["tokens_per_second"] for x in r["runs"])
            gf = statistics.median(x["gflops"] for x in r["runs"])
            ceil = statistics.median(x["sgemm_ceiling_gflops"] for x in r["runs"])
            big = (r["B"], r["T"]) == (8, 256)
            out.append([f"train step d12, B={r['B']} T={r['T']}, {r['threads']} thread{'s' if r['threads'] > 1 else ''}",
                        f"{tps:.0f} tokens/s, {gf:.0f} GFLOP/s", f"sgemm ceiling {ceil:.0f} GFLOP/s, same run",
                        f"{100 * fr:.0f}%", "≥ 75%" if big else "", met(fr, 0.75) if big else "",
                        "same model, same threads", f"{len(r['runs'])} run{'s' if len(r['runs']) > 1 else ''}"])
            if (r["B"], r["T"], r["threads"]) == (4, 64, 2):
                out.append([f"train step d12, B=4 T=64, 2 threads, against PyTorch", f"{tps:.0f} tokens/s",
                            f"PyTorch {PYTORCH_B4_T64} tokens/s (PEERS.md, not this run: not installable here)",
                            f"{tps / PYTORCH_B4_T64:.2f}×", "≥ 1×", met(tps / PYTORCH_B4_T64, 1.0), "same shapes", ""])
    return out, dates, machines

def main():
    out, dates, machines = rows()
    if not out:
        sys.exit("no results in bench/results: run make bench first")
    head = "| what | Kiln | peer | ratio | goal | met | outputs | spread |\n|---|---|---|---|---|---|---|---|"
    table = head + "\n" + "\n".join("| " + " | ".join(r) + " |" for r in out)
    when = f"Measured {', '.join(sorted(dates))} on {'; '.join(sorted(machines))}."
    body = (when + " Ratios are Kiln's speed over the peer's, measured side by side in the same run "
            "(the sections below give each benchmark's details). Peak memory is each process's maximum "
            "resident set, from the OS.\n\n" + table)
    print(table)
    write_section("summary", body, first=True)
    if "--no-readme" not in sys.argv:
        readme = os.path.join(ROOT, "README.md")
        text = open(readme).read()
        start, end = "<!-- bench-summary:start -->", "<!-- bench-summary:end -->"
        if start in text and end in text:
            block = f"{start}\n<!-- generated by bench/summary.py from bench/results; do not edit by hand -->\n{body}\n{end}"
            text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
            open(readme, "w").write(text)

main()

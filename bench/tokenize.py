#!/usr/bin/env python3
"""`prep train-tokenizer` beside HF tokenizers' BpeTrainer, and `prep tokenize` beside tiktoken
(`encode_ordinary`, `encode_ordinary_batch`) and HF tokenizers (`encode_batch`), on the same
documents and the same vocabulary.

Input: about --mb megabytes of English documents from ../shared/corpora for training, and about
--encode-mb of them (spread evenly over the corpus, which is ordered by source) for encoding; all of
the Chinese documents for the Chinese rows. Each set is written as SHARDS Kiln document shards
(plain JSONL, documents dealt round-robin so that two threads have equal work); the peers read the
same shards.

Training: GPT-2 byte-level BPE (GPT-2 split pattern, all 256 bytes, `<|endoftext|>`, min frequency
2, no token length limit) at the --vocab sizes, one thread each (HF with RAYON_NUM_THREADS=1), each
run its own process under /usr/bin/time (wall, CPU and peak RSS; the HF side includes Python's start
and reading the shards, as Kiln's includes parsing them). The two merge lists are compared: the
number of equal leading merges is printed, and a ratio is reported only when they are identical.

Encoding: the vocabulary HF trained at the largest --vocab size, loaded by all three (Kiln reads the
tokenizer.json, tiktoken gets an Encoding built from its vocabulary with tiktoken's GPT-2 pattern;
for Chinese, the vocabulary HF trained on the Chinese shards). Kiln's time is the whole
`prep tokenize` process (start, loading the tokenizer, parsing the JSONL, encoding, writing the
llm.c shard and its index, SHA-256 of inputs and outputs); the peers' is the encode call alone,
timed inside Python after the texts are loaded. Their ids are compared document by document with
Kiln's token shard, and Kiln's two thread counts byte for byte; a ratio over ids that differ is not
reported. (`prep encode` on standard input is no purer measure of Kiln's encoder: it also formats
every id as decimal text, and ran slower than `prep tokenize` on the same text.)

Scaling: Kiln's fixed start (process start, loading the tokenizer, the manifest) is measured on a
one-document input with each thread count and taken off, to give the scaling of the encoding work
(the goal, "near-linear", read as ≥ 1.8×). Beside it, the same work split the other way: two
`--threads 1` processes started at once, each on half of the shards, which share nothing but the
machine (a check on what two cores give here; it came out below Kiln's two threads, each process
loading its own tokenizer and tables).

Runs alternate tool by tool within each repeat (the order reversed every other repeat); medians,
the spread ((max - min) / median) and the load before and after are recorded. Writes
bench/results/tokenize.json and the tokenize section of bench/RESULTS.md.

  tokenize.py [--python VENV_PYTHON] [--mb MB] [--encode-mb MB] [--repeat N] [--encode-repeat N]
              [--vocab 8192,32768]
              [--no-zh]"""
import argparse, array, json, os, shutil, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CORPORA, PREP, ROOT, WORK, machine, run, run_together, write_section

SHARDS = 8
EOT = "<|endoftext|>"

PEER = r'''
import array, json, os, sys, time

def texts(folder):
    out = []
    for f in sorted(os.listdir(folder)):
        if f.startswith("docs-") and f.endswith(".jsonl"):
            with open(os.path.join(folder, f), encoding="utf-8") as fh:
                out += [json.loads(l)["text"] for l in fh]
    return out

def byte_decoder():  # GPT-2's bytes_to_unicode, inverted
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return {chr(c): b for b, c in zip(bs, cs)}

def write_ids(path, docs, eot):
    """Every document as <|endoftext|> then its ids, as Kiln's shard holds them."""
    flat, lengths = array.array("I"), array.array("I")
    for ids in docs:
        flat.append(eot); flat.extend(ids); lengths.append(len(ids))
    with open(path, "wb") as f:
        flat.tofile(f)
    with open(path + ".len", "wb") as f:
        lengths.tofile(f)

mode, folder, arg, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
if mode == "hf-train":
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    def docs():
        for f in sorted(os.listdir(folder)):
            if f.startswith("docs-") and f.endswith(".jsonl"):
                with open(os.path.join(folder, f), encoding="utf-8") as fh:
                    for l in fh:
                        yield json.loads(l)["text"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=int(arg), min_frequency=2, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(docs(), trainer)
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    sys.exit(0)

tj = json.load(open(arg, encoding="utf-8"))
specials = {t["content"]: t["id"] for t in tj["added_tokens"]}
eot = specials["<|endoftext|>"]
data = texts(folder)
nbytes = sum(len(t.encode()) for t in data)
if mode.startswith("tiktoken"):
    import tiktoken
    dec = byte_decoder()
    ranks = {bytes(dec[c] for c in t): i for t, i in tj["model"]["vocab"].items() if t not in specials}
    # tiktoken's own form of GPT-2's split pattern (its r50k_base / gpt2 encodings).
    pat = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
    enc = tiktoken.Encoding("bench", pat_str=pat, mergeable_ranks=ranks, special_tokens=specials)
    t, c = time.perf_counter(), time.process_time()
    if mode == "tiktoken-1":
        ids = [enc.encode_ordinary(x) for x in data]
    else:
        ids = enc.encode_ordinary_batch(data, num_threads=int(mode.split("-")[1]))
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
else:
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(arg)
    t, c = time.perf_counter(), time.process_time()
    ids = [e.ids for e in tok.encode_batch(data, add_special_tokens=False)]
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
write_ids(out, ids, eot)
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "bytes": nbytes, "documents": len(data)}))
'''


def corpus(lang, mb):
    """The documents of ../shared/corpora/LANG-docs.jsonl.zst up to about `mb` MB of text (all of
    them when mb is None; past the end the corpus is repeated with a pass number in the ids)."""
    raw = subprocess.run(["zstd", "-dc", os.path.join(CORPORA, f"{lang}-docs.jsonl.zst")], check=True,
                         capture_output=True).stdout
    src = [json.loads(l) for l in raw.splitlines()]
    docs, total, n = [], 0, 0
    while mb is None or total < mb * 1_000_000:
        d = src[n % len(src)]
        docs.append({"id": f"{d['id']}-{n // len(src)}" if n >= len(src) else d["id"], "text": d["text"],
                     "source": {"input": f"{lang}-docs.jsonl"}, "metadata": {}})
        total += len(d["text"].encode())
        n += 1
        if mb is None and n == len(src):
            break
    return docs


def sample(docs, mb):
    """Documents spread evenly over `docs` (the corpus is ordered by source) up to about `mb` MB."""
    total = sum(len(d["text"].encode()) for d in docs)
    f = min(1.0, mb * 1_000_000 / total)
    return [d for i, d in enumerate(docs) if int((i + 1) * f) > int(i * f)]


def shards(name, make):
    """A folder of SHARDS Kiln document shards (plain JSONL, schemas/document.schema.json), the
    documents dealt round-robin so that every shard holds a like share of every source."""
    path = os.path.join(WORK, name)
    if os.path.exists(os.path.join(path, "done")):
        return path
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    docs = make()
    for k in range(SHARDS):
        with open(os.path.join(path, f"docs-00000-{k:05d}.jsonl"), "w", encoding="utf-8") as f:
            for d in docs[k::SHARDS]:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    open(os.path.join(path, "done"), "w").close()
    return path


def text_stats(folder):
    n = b = 0
    for f in sorted(os.listdir(folder)):
        if f.startswith("docs-"):
            for l in open(os.path.join(folder, f), encoding="utf-8"):
                n += 1
                b += len(json.loads(l)["text"].encode())
    return n, b


def merges(path):
    """The merges of a tokenizer.json as (left, right) pairs of byte-level strings."""
    return [tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
            for m in json.load(open(path, encoding="utf-8"))["model"]["merges"]]


def leading_equal(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def kiln_ids(out):
    """Kiln's token shards (llm.c layout: 256 int32 header, then uint16/uint32 tokens), in order."""
    flat = array.array("I")
    names = sorted(f for f in os.listdir(out) if f.startswith("train_") and f.endswith(".bin"))
    for name in names:
        data = open(os.path.join(out, name), "rb").read()
        header = array.array("i", data[:1024])
        magic, count = header[0], header[2]
        tokens = array.array("H" if magic == 20240520 else "I", data[1024:])
        if len(tokens) != count:
            sys.exit(f"{name}: header says {count} tokens, file holds {len(tokens)}")
        flat.extend(tokens if tokens.typecode == "I" else array.array("I", tokens))
    return flat


def agreement(kiln, peer_path, eot):
    """(documents whose ids are identical, documents, Kiln tokens, peer tokens)."""
    peer = array.array("I")
    peer.frombytes(open(peer_path, "rb").read())
    lengths = array.array("I")
    lengths.frombytes(open(peer_path + ".len", "rb").read())
    if kiln == peer:
        return len(lengths), len(lengths), len(kiln), len(peer)
    # Kiln's documents are split at its end-of-text tokens (encode_ordinary never yields one).
    starts = [i for i, t in enumerate(kiln) if t == eot] + [len(kiln)]
    same, p = 0, 0
    for k, n in enumerate(lengths):
        if k + 1 < len(starts) and kiln[starts[k]:starts[k + 1]] == peer[p:p + n + 1]:
            same += 1
        p += n + 1
    return same, len(lengths), len(kiln), len(peer)


def spread(xs):
    return round((max(xs) - min(xs)) / statistics.median(xs), 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv-bench/bin/python"))
    ap.add_argument("--mb", type=int, default=50, help="MB of English text (default 50)")
    ap.add_argument("--encode-mb", type=int, default=20,
                    help="MB of the English documents (spread over all of them) that are encoded (default 20)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each training (default 3)")
    ap.add_argument("--encode-repeat", type=int, default=5,
                    help="runs of each encoding, which takes under a second and varies more (default 5)")
    ap.add_argument("--vocab", default="8192,32768")
    ap.add_argument("--no-zh", action="store_true", help="skip the Chinese encoding rows")
    a = ap.parse_args()
    vocabs = [int(v) for v in a.vocab.split(",")]
    load = os.getloadavg()
    peer = os.path.join(WORK, "tokenize_peer.py")
    open(peer, "w").write(PEER)
    one_thread = {**os.environ, "RAYON_NUM_THREADS": "1", "RAYON_RS_NUM_CPUS": "1", "OMP_NUM_THREADS": "1"}
    two_threads = {**os.environ, "RAYON_NUM_THREADS": "2", "RAYON_RS_NUM_CPUS": "2", "TOKENIZERS_PARALLELISM": "true"}
    result = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "load_before": [round(x, 2) for x in load],
              "repeat": a.repeat, "encode_repeat": a.encode_repeat, "train": [], "encode": []}

    # Training, English.
    en = shards(f"tokenize-en-{a.mb}", lambda: corpus("en", a.mb))
    en_docs, en_bytes = text_stats(en)
    en_mb = en_bytes / 1e6
    result["en"] = {"documents": en_docs, "text_mb": round(en_mb, 1), "shards": SHARDS}
    hf_dirs = {}
    for v in vocabs:
        kt, kr, ht, hr, kc, hc = [], [], [], [], [], []
        kout = os.path.join(WORK, f"tok-kiln-{v}")
        hout = os.path.join(WORK, f"tok-hf-{v}")
        for r in range(a.repeat):  # alternate, the starting tool switching every repeat
            order = ["kiln", "hf"] if r % 2 == 0 else ["hf", "kiln"]
            for tool in order:
                if tool == "kiln":
                    shutil.rmtree(kout, ignore_errors=True)
                    w, c, m = run([PREP, "train-tokenizer", en, "--out", kout, "--vocab-size", str(v),
                                   "--min-frequency", "2", "--max-token-length", "0", "--special", EOT,
                                   "--pattern", "gpt2", "--threads", "1", "--quiet"])
                    kt.append(w); kr.append(m); kc.append(c)
                else:
                    shutil.rmtree(hout, ignore_errors=True)
                    w, c, m = run([a.python, peer, "hf-train", en, str(v), hout], env=one_thread)
                    ht.append(w); hr.append(m); hc.append(c)
        hf_dirs[v] = hout
        km = json.load(open(os.path.join(kout, "manifest.json")))
        mk, mh = merges(os.path.join(kout, "tokenizer.json")), merges(os.path.join(hout, "tokenizer.json"))
        equal = leading_equal(mk, mh)
        identical = mk == mh
        k_med, h_med = statistics.median(kt), statistics.median(ht)
        ratio = round(h_med / k_med, 2) if identical else None
        k_rss, h_rss = statistics.median(kr), statistics.median(hr)
        result["train"].append({
            "vocab": v, "kiln_s": round(k_med, 2), "hf_s": round(h_med, 2), "kiln_runs_s": [round(x, 2) for x in kt],
            "hf_runs_s": [round(x, 2) for x in ht], "kiln_cpu_s": round(statistics.median(kc), 2),
            "hf_cpu_s": round(statistics.median(hc), 2), "spread_kiln": spread(kt), "spread_hf": spread(ht),
            "kiln_peak_rss_mib": round(k_rss, 1), "hf_peak_rss_mib": round(h_rss, 1),
            "merges_kiln": len(mk), "merges_hf": len(mh), "leading_equal_merges": equal, "merges_identical": identical,
            "kiln_pruned_pretokens": km["pruned_pre_tokens"], "distinct_pretokens": km["distinct_pre_tokens"],
            "ratio": ratio, "goal": 3.0,
            "met": bool(identical and ratio >= 3.0 and k_rss <= h_rss),
        })

    # Encoding: one vocabulary (HF's, at the largest size) for all three.
    vocab = max(vocabs)
    en_enc = en if a.encode_mb >= a.mb else shards(f"tokenize-en-{a.mb}-enc-{a.encode_mb}",
                                                   lambda: sample(corpus("en", a.mb), a.encode_mb))
    cases = [("en", en_enc, text_stats(en_enc)[1] / 1e6, hf_dirs[vocab])]
    if not a.no_zh:
        zh = shards("tokenize-zh-all", lambda: corpus("zh", None))
        zh_docs, zh_bytes = text_stats(zh)
        result["zh"] = {"documents": zh_docs, "text_mb": round(zh_bytes / 1e6, 1), "shards": SHARDS}
        # A vocabulary for Chinese, trained once by each tool (untimed setup); its merges are compared too.
        zk, zhf = os.path.join(WORK, f"tok-kiln-zh-{vocab}"), os.path.join(WORK, f"tok-hf-zh-{vocab}")
        shutil.rmtree(zk, ignore_errors=True); shutil.rmtree(zhf, ignore_errors=True)
        zkw = run([PREP, "train-tokenizer", zh, "--out", zk, "--vocab-size", str(vocab), "--min-frequency", "2",
                   "--max-token-length", "0", "--special", EOT, "--pattern", "gpt2", "--threads", "1", "--quiet"])
        zhw = run([a.python, peer, "hf-train", zh, str(vocab), zhf], env=one_thread)
        mk, mh = merges(os.path.join(zk, "tokenizer.json")), merges(os.path.join(zhf, "tokenizer.json"))
        result["zh"]["train_once"] = {"vocab": vocab, "kiln_s": round(zkw[0], 2), "hf_s": round(zhw[0], 2),
                                      "kiln_peak_rss_mib": round(zkw[2], 1), "hf_peak_rss_mib": round(zhw[2], 1),
                                      "leading_equal_merges": leading_equal(mk, mh), "merges": len(mh),
                                      "merges_identical": mk == mh}
        cases.append(("zh", zh, zh_bytes / 1e6, zhf))
    tools = [("kiln-1", "Kiln `prep tokenize --threads 1`"), ("kiln-2", "Kiln `prep tokenize --threads 2`"),
             ("tiktoken-1", "tiktoken `encode_ordinary`, 1 thread"),
             ("tiktoken-2", "tiktoken `encode_ordinary_batch`, 2 threads"),
             ("hf-1", "HF `encode_batch`, 1 thread"), ("hf-2", "HF `encode_batch`, 2 threads")]
    for lang, folder, mb, tokdir in cases:
        tokjson = os.path.join(tokdir, "tokenizer.json")
        eot = {t["content"]: t["id"] for t in json.load(open(tokjson, encoding="utf-8"))["added_tokens"]}[EOT]
        times = {t: [] for t, _ in tools}
        rss = {t: [] for t, _ in tools}
        cpu = {t: [] for t, _ in tools}
        outputs = {}
        # Kiln's fixed start (process, loading the tokenizer, manifest): the same command on a
        # folder of one short document, so that the encoding work's scaling can be told apart.
        one = os.path.join(WORK, "tokenize-one-doc")
        os.makedirs(one, exist_ok=True)
        with open(os.path.join(one, "docs-00000-00000.jsonl"), "w") as f:
            f.write(json.dumps({"id": "one", "text": "One short document. 一个短文档。"}, ensure_ascii=False) + "\n")
        starts = {1: [], 2: []}
        for r in range(a.encode_repeat):
            for n in (1, 2):
                out = os.path.join(WORK, f"tokens-{lang}-start")
                shutil.rmtree(out, ignore_errors=True)
                starts[n].append(run([PREP, "tokenize", one, "--tokenizer", tokdir, "--out", out, "--threads", str(n),
                                      "--quiet"])[0])
        start = {n: statistics.median(v) for n, v in starts.items()}
        # Splitting the input instead of using threads: two one-thread processes at once, each on
        # half of the shards (each loads the tokenizer; nothing else is shared but the machine).
        halves = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".jsonl"))
        halves = [halves[0::2], halves[1::2]]
        pair = []
        for r in range(a.encode_repeat):
            order = tools if r % 2 == 0 else tools[::-1]
            for tool, _ in order:
                if tool.startswith("kiln"):
                    out = os.path.join(WORK, f"tokens-{lang}-{tool}")
                    shutil.rmtree(out, ignore_errors=True)
                    w, c, m = run([PREP, "tokenize", folder, "--tokenizer", tokdir, "--out", out,
                                   "--threads", tool[-1], "--quiet"])
                    cpu[tool].append(c)
                    outputs[tool] = out
                else:
                    out = os.path.join(WORK, f"ids-{lang}-{tool}.bin")
                    fd = os.path.join(WORK, f"ids-{lang}-{tool}.json")
                    with open(fd, "w") as so:
                        _, _, m = run([a.python, peer, tool, folder, tokjson, out], stdout=so,
                                      env=one_thread if tool.endswith("-1") else two_threads)
                    t = json.load(open(fd))
                    w = t["seconds"]
                    cpu[tool].append(t["cpu_seconds"])
                    outputs[tool] = out
                times[tool].append(w); rss[tool].append(m)
            outs = [os.path.join(WORK, f"tokens-{lang}-half-{h}") for h in (0, 1)]
            for out in outs:
                shutil.rmtree(out, ignore_errors=True)
            pair.append(run_together([[PREP, "tokenize", *halves[h], "--tokenizer", tokdir, "--out", outs[h],
                                       "--threads", "1", "--quiet"] for h in (0, 1)])[0])
        # Agreement: Kiln's shards (both thread counts) against every peer's ids.
        k1 = kiln_ids(outputs["kiln-1"])
        k2 = kiln_ids(outputs["kiln-2"])
        agree = {}
        for tool, _ in tools:
            if tool.startswith("kiln"):
                continue
            agree[tool] = agreement(k1, outputs[tool], eot)
        kiln_same = k1 == k2
        docs = agree["tiktoken-1"][1]
        med = {t: statistics.median(v) for t, v in times.items()}
        med_pair = statistics.median(pair)
        scaling = round((med["kiln-1"] - start[1]) / (med["kiln-2"] - start[2]), 2)
        two_processes = round((med["kiln-1"] - start[1]) / (med_pair - start[1]), 2)
        rows = []
        for tool, label in tools:
            mbs = mb / med[tool]
            row = {"tool": tool, "what": label, "seconds": round(med[tool], 3), "mb_s": round(mbs, 2),
                   "runs_s": [round(x, 3) for x in times[tool]], "spread": spread(times[tool]),
                   "peak_rss_mib": round(statistics.median(rss[tool]), 1)}
            if tool in agree:
                s, n, kt, pt = agree[tool]
                row["agree_docs"], row["documents"], row["kiln_tokens"], row["peer_tokens"] = s, n, kt, pt
            else:
                row["same_as_threads_1"] = kiln_same
            row["cpu_s"] = round(statistics.median(cpu[tool]), 3)
            rows.append(row)
        byname = {r["tool"]: r for r in rows}
        agrees = all(s == n for s, n, _, _ in agree.values()) and kiln_same

        def ratio(k, p):
            ok = byname[p]["agree_docs"] == byname[p]["documents"] and kiln_same
            return round(med[p] / med[k], 2) if ok else None
        comparisons = [
            ("Kiln 1 thread / tiktoken 1 thread", ratio("kiln-1", "tiktoken-1"), 2.0),
            ("Kiln 2 threads / tiktoken 2 threads", ratio("kiln-2", "tiktoken-2"), None),
            ("Kiln 2 threads / tiktoken 1 thread", ratio("kiln-2", "tiktoken-1"), None),
            ("Kiln 1 thread / HF 1 thread", ratio("kiln-1", "hf-1"), None),
            ("Kiln 2 threads / HF 2 threads", ratio("kiln-2", "hf-2"), None),
            ("Kiln 2 threads / Kiln 1 thread (scaling, whole process)", round(med["kiln-1"] / med["kiln-2"], 2), None),
            (f"Kiln 2 threads / Kiln 1 thread (scaling of the encoding work: the fixed start, {start[1]:.3f} s "
             f"on one thread and {start[2]:.3f} s on two, taken off)", scaling, 1.8),
            ("Two `--threads 1` processes at once, half of the shards each (splitting the input instead of "
             f"using threads; {med_pair:.3f} s), against one on all of them (start taken off both)", two_processes, None),
            ("Kiln's two threads against those two processes (encoding work)", round(scaling / two_processes, 2), None),
        ]
        result["encode"].append({"lang": lang, "vocab": vocab, "vocab_from": f"HF BpeTrainer on the {lang} shards",
                                 "text_mb": round(mb, 1), "documents": docs,
                                 "kiln_start_s": {str(n): round(v, 3) for n, v in start.items()},
                                 "kiln_start_runs_s": {str(n): [round(x, 3) for x in v] for n, v in starts.items()},
                                 "pair_s": round(med_pair, 3), "pair_runs_s": [round(x, 3) for x in pair], "tokens": len(k1) - docs,
                                 "ids_agree": agrees, "kiln_threads_same_bytes": kiln_same, "rows": rows,
                                 "ratios": [{"what": w, "ratio": r, "goal": g,
                                             "met": None if g is None else (r is not None and r >= g)}
                                            for w, r, g in comparisons]})

    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    json.dump(result, open(os.path.join(ROOT, "bench/results/tokenize.json"), "w"), indent=2)

    # The table.
    noisy = []
    lines = [f"Training: {result['en']['text_mb']} MB of English ({en_docs} documents in {SHARDS} shards), GPT-2 "
             "byte-level BPE, `<|endoftext|>`, min frequency 2, no length limit, one thread each "
             "(HF: `BpeTrainer` over `ByteLevel(add_prefix_space=False)`, RAYON_NUM_THREADS=1). "
             "Whole processes under /usr/bin/time; medians of "
             f"{a.repeat}, alternated. A ratio is given only when the merge lists are identical.", "",
             "| vocabulary | Kiln | HF tokenizers | ratio (HF / Kiln time) | goal | peak RSS Kiln / HF | CPU s Kiln / HF | merges equal (leading / total) | met |",
             "|---|---|---|---|---|---|---|---|---|"]
    for t in result["train"]:
        if max(t["spread_kiln"], t["spread_hf"]) > 0.15:
            noisy.append(f"training {t['vocab']} (spread {max(t['spread_kiln'], t['spread_hf'])})")
        lines.append(f"| {t['vocab']} | {t['kiln_s']} s (±{t['spread_kiln']}) | {t['hf_s']} s (±{t['spread_hf']}) | "
                     f"{str(t['ratio']) + '×' if t['ratio'] is not None else 'not reported: merges differ'} | ≥ 3× and no more memory | "
                     f"{t['kiln_peak_rss_mib']} / {t['hf_peak_rss_mib']} MiB | {t['kiln_cpu_s']} / {t['hf_cpu_s']} | "
                     f"{t['leading_equal_merges']} / {t['merges_hf']}{' (identical)' if t['merges_identical'] else ''} | "
                     f"{'yes' if t['met'] else 'no'} |")
    for e in result["encode"]:
        lines += ["", f"Encoding, {'English' if e['lang'] == 'en' else 'Chinese'}: {e['text_mb']} MB, {e['documents']} "
                  f"documents, {e['tokens']} tokens, the {e['vocab']}-token vocabulary {e['vocab_from']}. "
                  "Kiln: the whole `prep tokenize` process (JSONL in, llm.c shard and index out); peers: the encode "
                  f"call only, texts already in memory (their peak RSS holds the texts and Python's lists of ids). "
                  f"Medians of {a.encode_repeat}, alternated; ± is (max − min) / median; CPU is user + system seconds (all "
                  "threads) of Kiln's whole process and of the peers' encode call. \"Near-linear on two threads\" is read as ≥ 1.8×. Agreement: documents whose ids "
                  "equal Kiln's token shard, compared document by document.", "",
                  "| what | seconds | MB/s | CPU s | peak RSS | ids equal to Kiln's |", "|---|---|---|---|---|---|"]
        for r in e["rows"]:
            if r["spread"] > 0.15:
                noisy.append(f"{e['lang']} {r['tool']} (spread {r['spread']})")
            agree = (f"{r['agree_docs']} / {r['documents']} docs" if "agree_docs" in r
                     else ("same bytes as --threads 1" if r["same_as_threads_1"] else "DIFFERS from --threads 1"))
            lines.append(f"| {r['what']} | {r['seconds']} (±{r['spread']}) | {r['mb_s']} | {r['cpu_s']} | "
                         f"{r['peak_rss_mib']} MiB | {agree} |")
        lines += ["", "| ratio | value | goal | met |", "|---|---|---|---|"]
        for c in e["ratios"]:
            v = f"{c['ratio']}×" if c["ratio"] is not None else "not reported: ids differ"
            lines.append(f"| {c['what']} | {v} | {'≥ ' + str(c['goal']) + '×' if c['goal'] else '—'} | "
                         f"{'—' if c['met'] is None else ('yes' if c['met'] else 'no')} |")
    if "zh" in result and "train_once" in result["zh"]:
        z = result["zh"]["train_once"]
        lines += ["", f"The Chinese vocabulary (trained once by each tool on {result['zh']['text_mb']} MB, one thread, "
                  f"not repeated): Kiln {z['kiln_s']} s, "
                  f"{z['kiln_peak_rss_mib']} MiB; HF {z['hf_s']} s, {z['hf_peak_rss_mib']} MiB; merges equal "
                  f"{z['leading_equal_merges']} / {z['merges']}{' (identical)' if z['merges_identical'] else ''}."]
    if noisy:
        lines += ["", "**Noisy** (spread over 0.15; the machine is shared): " + ", ".join(noisy) + "."]
    table = "\n".join(lines)
    print(table)
    write_section("tokenize", f"Measured {result['date']} on {result['machine']} (load {load[0]:.2f} before the run, "
                  f"{result['load_after'][0]:.2f} after).\n\n" + table)


main()

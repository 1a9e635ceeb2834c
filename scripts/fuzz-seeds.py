#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (Fuzz/corpus/TARGET/) from samples/.

Archives, compressed streams, WARC records, HTML and JSONL come from samples/raw; tokenizer
files and token shards from running `prep train-tokenizer` and `prep tokenize` on a few sample
documents; checkpoints and config.json from `tune init` and `tune export` with a tiny model;
SFT records from samples/tasks; stage configurations from `prep clean|dedup --print-config`.
Every seed is kept small (a few KB): libFuzzer mutates small inputs faster, and the seeds are
committed.

    scripts/fuzz-seeds.py [--prep .build/release/prep] [--tune .build/release/tune] [--out Fuzz/corpus]
"""
import argparse
import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RAW = os.path.join(ROOT, "samples", "raw")


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Corpus:
    def __init__(self, out):
        self.out = out

    def add(self, target, name, data):
        folder = os.path.join(self.out, target)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


def run(*args, cwd=None):
    subprocess.run(list(args), check=True, cwd=cwd, stdout=subprocess.DEVNULL)


def warc_records(data, count):
    """The first `count` records of an uncompressed WARC, each as its own bytes."""
    records, pos = [], 0
    while len(records) < count:
        head_end = data.index(b"\r\n\r\n", pos) + 4
        header = data[pos:head_end].decode("utf-8", "replace")
        length = next(int(line.split(":", 1)[1]) for line in header.split("\r\n") if line.lower().startswith("content-length:"))
        end = head_end + length + 4
        records.append(data[pos:end])
        pos = end
    return records


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prep", default=os.path.join(ROOT, ".build", "release", "prep"))
    ap.add_argument("--tune", default=os.path.join(ROOT, ".build", "release", "tune"))
    ap.add_argument("--out", default=os.path.join(ROOT, "Fuzz", "corpus"))
    args = ap.parse_args()
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    c = Corpus(args.out)
    notes = {name: read(os.path.join(RAW, "notes", name)) for name in sorted(os.listdir(os.path.join(RAW, "notes")))}
    text = notes["plain.txt"]
    zh = read(os.path.join(RAW, "zh-gb18030.txt")).decode("gb18030").encode("utf-8")[:600]

    # gzip and zstd streams: one member, several members, a stored name, empty, cut short.
    c.add("gzip", "one-member.gz", gzip.compress(text, mtime=0))
    c.add("gzip", "three-members.gz", gzip.compress(b"", mtime=0) + gzip.compress(zh, mtime=0) + gzip.compress(b"x\n", mtime=0))
    named = io.BytesIO()
    with gzip.GzipFile(filename="plain.txt", mode="wb", fileobj=named, mtime=0) as g:
        g.write(text[:300])
    c.add("gzip", "named.gz", named.getvalue())
    c.add("gzip", "truncated.gz", gzip.compress(text, mtime=0)[:200])
    c.add("gzip", "stored.gz", gzip.compress(zh[:200], compresslevel=0, mtime=0))
    with tempfile.TemporaryDirectory() as t:
        for name, data in [("plain.zst", text), ("zh.zst", zh)]:
            src = os.path.join(t, "in")
            with open(src, "wb") as f:
                f.write(data)
            run("zstd", "-q", "-f", "-19", src, "-o", os.path.join(t, name))
            c.add("zstd", name, read(os.path.join(t, name)))
        run("zstd", "-q", "-f", "--content-size", "-1", src, "-o", os.path.join(t, "one.zst"))
        frames = read(os.path.join(t, "one.zst"))
        c.add("zstd", "two-frames.zst", frames + read(os.path.join(t, "plain.zst")))
        c.add("zstd", "truncated.zst", frames[: len(frames) // 2])

    # Archives: tar (ustar, gnu, pax), tar.gz, zip (deflate and stored), cpio, ar, 7z, a nested zip.
    for fmt, name in [(tarfile.USTAR_FORMAT, "ustar.tar"), (tarfile.GNU_FORMAT, "gnu.tar"), (tarfile.PAX_FORMAT, "pax.tar")]:
        b = io.BytesIO()
        with tarfile.open(fileobj=b, mode="w", format=fmt) as tf:
            for member, data in [("notes/plain.txt", text[:400]), ("notes/zh.txt", zh[:200]), ("empty", b"")]:
                info = tarfile.TarInfo(member)
                info.size, info.mtime = len(data), 0
                tf.addfile(info, io.BytesIO(data))
        # Only the blocks that hold data: tar pads to 10 KB with zeros.
        c.add("archive", name, b.getvalue().rstrip(b"\0") + b"\0" * 1024)
    c.add("archive", "ustar.tar.gz", gzip.compress(read(os.path.join(args.out, "archive", "ustar.tar")), mtime=0))
    for method, name in [(zipfile.ZIP_DEFLATED, "deflate.zip"), (zipfile.ZIP_STORED, "stored.zip")]:
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w", method) as zf:
            zf.writestr(zipfile.ZipInfo("a.txt", (1980, 1, 1, 0, 0, 0)), text[:300])
            zf.writestr(zipfile.ZipInfo("dir/b.md", (1980, 1, 1, 0, 0, 0)), notes["readme.md"][:300])
        c.add("archive", name, b.getvalue())
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo("inner.zip", (1980, 1, 1, 0, 0, 0)), read(os.path.join(args.out, "archive", "deflate.zip")))
    c.add("archive", "nested.zip", b.getvalue())
    with tempfile.TemporaryDirectory() as t:
        for name, data in [("a.txt", text[:300]), ("b.txt", zh[:150])]:
            with open(os.path.join(t, name), "wb") as f:
                f.write(data)
        for fmt, name in [("cpio", "newc.cpio"), ("7zip", "small.7z"), ("ar", "small.ar")]:
            opts = ["--format", fmt] if fmt != "cpio" else ["--format", "newc"]
            run("bsdtar", "-cf", os.path.join(t, name), *opts, "a.txt", "b.txt", cwd=t)
            c.add("archive", name, read(os.path.join(t, name)))
    c.add("archive", "truncated.tar.gz", read(os.path.join(RAW, "truncated.tar.gz"))[:1500])

    # WARC and WET records (uncompressed: the target reads the decompressed stream).
    warc = gzip.decompress(read(os.path.join(RAW, "crawl.warc.gz")))
    records = warc_records(warc, 6)
    c.add("warc", "warcinfo-request-response.warc", b"".join(records[:3])[:6000])
    for k, r in enumerate(records[2:6]):
        if b"WARC-Type: response" in r[:200] and len(r) < 8000:
            c.add("warc", f"response-{k}.warc", r)
    wet = warc_records(gzip.decompress(read(os.path.join(RAW, "crawl.warc.wet.gz"))), 3)
    c.add("warc", "wet.warc", b"".join(wet)[:6000])

    # HTML: the bodies of the crawl's responses, cut to a few KB, and small pages.
    n = 0
    for r in warc_records(warc, 30):
        if b"WARC-Type: response" not in r[:200]:
            continue
        body = r.split(b"\r\n\r\n", 2)[-1]
        c.add("html", f"page-{n}.html", body[:4000])
        n += 1
        if n == 4:
            break
    c.add("html", "small.html", b'<!doctype html><html><head><meta charset="gb2312"><title>T &amp; t</title>'
          b"<style>p{}</style></head><body><p>One &lt;two&gt; &#x4E2D;&#25991;</p><pre>  code\n</pre>"
          b"<table><tr><td>a<td>b</table><script>x()</script><ul><li>i<li>j</ul></body></html>")

    # JSONL: document lines from the samples, a chat example, and odd JSON.
    c4 = gzip.decompress(read(os.path.join(RAW, "web-c4.jsonl.gz"))).split(b"\n")
    c.add("jsonl", "c4.jsonl", b"\n".join(line[:1200] if len(line) <= 1200 else line for line in c4[:3] if len(line) <= 1500) + b"\n")
    chat = read(os.path.join(ROOT, "samples", "tasks", "chat", "train.jsonl")).split(b"\n")
    c.add("jsonl", "chat.jsonl", b"\n".join(chat[:3]) + b"\n")
    c.add("jsonl", "odd.jsonl", '{"id":"a","text":"\\ud83d\\ude00 \\u00e9\\n","metadata":{"n":-1.5e+10,"b":[true,false,null]},'
          '"source":{"input":"x","url":"https://e/"}}\n[1, 2.0, "x", {}]\n"\\ud800"\n{"text": 7}\n'.encode())

    # Tokenizer files and token shards, made by prep from two sample notes.
    with tempfile.TemporaryDirectory() as t:
        run(args.prep, "ingest", os.path.join(RAW, "notes"), "--out", os.path.join(t, "docs"), "--compression", "none", "--quiet")
        run(args.prep, "train-tokenizer", os.path.join(t, "docs"), "--vocab-size", "300", "--min-frequency", "2",
            "--special", "<|endoftext|>", "--special", "<|im_start|>", "--out", os.path.join(t, "tok"), "--quiet")
        tok = os.path.join(t, "tok")
        c.add("tokenizer-json", "tokenizer.json", read(os.path.join(tok, "tokenizer.json")))
        c.add("vocab-merges", "vocab-merges", read(os.path.join(tok, "vocab.json")) + b"\0" + read(os.path.join(tok, "merges.txt")))
        c.add("tiktoken", "tokenizer.tiktoken", read(os.path.join(tok, "tokenizer.tiktoken")))
        c.add("gpt2-tokenizer-bin", "trained.bin", read(os.path.join(tok, "gpt2_tokenizer.bin")))
        run(args.prep, "train-tokenizer", os.path.join(t, "docs"), "--vocab-size", "280", "--pattern", "o200k",
            "--out", os.path.join(t, "tok-o200k"), "--quiet")
        c.add("tokenizer-json", "tokenizer-o200k.json", read(os.path.join(t, "tok-o200k", "tokenizer.json")))
        run(args.prep, "tokenize", os.path.join(t, "docs"), "--tokenizer", tok, "--out", os.path.join(t, "tokens"), "--quiet")
        chatfile = os.path.join(t, "chat.jsonl")
        with open(chatfile, "wb") as f:
            f.write(b"\n".join(chat[:2]) + b"\n")
        run(args.prep, "tokenize", chatfile, "--format", "chat", "--tokenizer", tok, "--out", os.path.join(t, "sft"), "--quiet")
        for folder in ["tokens", "sft"]:
            d = os.path.join(t, folder)
            for name in sorted(os.listdir(d)):
                if name.endswith(".bin"):
                    shard = read(os.path.join(d, name))
                    index = read(os.path.join(d, name + ".idx"))
                    if len(shard) > 6000:  # keep the seeds small: a shorter shard with an index that fits it
                        continue
                    c.add("token-shard", f"{folder}-{name}", struct.pack("<I", len(shard)) + shard + index)
        # A short shard of each width, without an index.
        for magic, version, fmt in [(20240520, 1, "<H"), (20240801, 7, "<I")]:
            tokens = [5, 300, 0, 299, 65535 if fmt == "<H" else 70000]
            shard = struct.pack("<256i", magic, version, len(tokens), *([0] * 253)) + b"".join(struct.pack(fmt, x) for x in tokens)
            c.add("token-shard", f"plain-{version}.bin", struct.pack("<I", len(shard)) + shard)

        # Checkpoints: a tiny GPT-2 (L1 C4 NH2 T4 V8) as llm.c float32 and bfloat16, and as safetensors.
        model = os.path.join(t, "model.bin")
        run(args.tune, "init", "--layers", "1", "--channels", "4", "--heads", "2", "--vocab", "8", "--max-seq", "4",
            "--seed", "1", "--out", model, "--quiet")
        c.add("llmc-checkpoint", "float32.bin", read(model))
        run(args.tune, "export", model, "--to", "llmc-bf16", "--out", os.path.join(t, "bf16.bin"))
        c.add("llmc-checkpoint", "bfloat16.bin", read(os.path.join(t, "bf16.bin")))
        run(args.tune, "export", model, "--to", "hf", "--out", os.path.join(t, "hf"))
        c.add("safetensors", "model.safetensors", read(os.path.join(t, "hf", "model.safetensors")))
        # config.json: the tiny model's (what the hf-config target's weights are), with
        # GPT2Config's other key names, and GPT-2 small's and GPT-3's shapes, which those weights
        # cannot hold.
        config = read(os.path.join(t, "hf", "config.json"))
        c.add("hf-config", "tiny.json", config)
        tiny = json.loads(config)
        aliases = {"model_type": "gpt2", "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 4,
                   "max_position_embeddings": 4, "vocab_size": 8, "n_inner": None, "layer_norm_epsilon": 1e-5}
        c.add("hf-config", "aliases.json", json.dumps(aliases).encode())
        c.add("hf-config", "gpt2-small.json", json.dumps(dict(tiny, n_ctx=1024, n_positions=1024, n_embd=768, n_layer=12,
                                                               n_head=12, vocab_size=50257), indent=2).encode())
        c.add("hf-config", "gpt3-175b.json", json.dumps(dict(tiny, n_ctx=2048, n_positions=2048, n_embd=12288, n_layer=96,
                                                              n_head=96, vocab_size=50257), indent=2).encode())

        # Stage configurations: every option of clean and dedup as --print-config writes them.
        for stage in ["clean", "dedup"]:
            printed = subprocess.run([args.prep, stage, "--print-config"], check=True, stdout=subprocess.PIPE).stdout
            c.add("stage-config", f"{stage}.yaml", printed)

    # Text for the BPE encoder and the pre-tokenizers (the reference regex is slow: short pieces).
    for name, data in [("english.txt", text[:1000]), ("chinese.txt", zh[:400]), ("mixed.txt", "It's 12345 — naïve café 😀👍🏽\r\n\n  x\u00a0y\u0085z ſ'S'LL".encode()),
                       ("bytes.bin", bytes(range(256)))]:
        c.add("bpe", name, data)
        c.add("pretokenizer", name, data[:200])

    # llm.c's tokenizer table with the 256 bytes and <|endoftext|>: the smallest a tokenizer can be.
    header = struct.pack("<4i", 20240328, 2, 257, 256) + b"\0" * 1008
    c.add("gpt2-tokenizer-bin", "bytes.bin", header + b"".join(bytes([1, b]) for b in range(256)) + b"\x0d<|endoftext|>")

    # SFT records of each format: chat and prompt-completion lines from samples/tasks, alpaca and
    # odd ones written here.
    pc = read(os.path.join(ROOT, "samples", "tasks", "sentiment-zh", "train.jsonl")).split(b"\n")
    c.add("sft-records", "chat.jsonl", b"\n".join(chat[:2]) + b"\n")
    c.add("sft-records", "prompt-completion.jsonl", b"\n".join(pc[:2]) + b"\n")
    c.add("sft-records", "alpaca.jsonl", b'{"instruction": "Translate to French.", "input": "good morning", "output": "bonjour"}\n'
          b'{"instruction": "Name a colour.", "input": "", "output": "Blue."}\n')
    c.add("sft-records", "turns.jsonl", '{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, '
          '{"role": "assistant", "content": ""}, {"role": "user", "content": "中文？"}, {"role": "assistant", "content": "好 😀"}]}\n'
          '{"messages": [{"role": "user", "content": "end <|endoftext|> here"}, {"role": "assistant", "content": "<|im_end|>"}]}\n'
          '{"prompt": "", "completion": ""}\n'.encode())

    # Stage configurations written here: ingest (which has no --print-config) and a chat template.
    c.add("stage-config", "ingest.yaml", b"text_field: body\nid_field: url\ncompression: gz\ncompression_level: 6\n"
          b"shard_size: 1048576\nmax_entry_size: 1073741824\nmax_ratio: 200.5\nmax_document_size: 67108864\nstrict: true\n")
    c.add("stage-config", "template.yaml", b'name: chatml\nbegin: ""\nsystem: "<|im_start|>system\\n{content}<|im_end|>\\n"\n'
          b'user: "<|im_start|>user\\n{content}<|im_end|>\\n"\nassistant: "<|im_start|>assistant\\n{content}<|im_end|>\\n"\n')
    c.add("stage-config", "clean-some.yaml", b"language:\n  enabled: true\n  keep: [zh, en]\npii:\n  enabled: true\n")
    c.add("stage-config", "dedup-some.yaml", b"minhash:\n  bands: 16\n  rows: 8\n  jaccard_threshold: 0.7\n")

    # Pipeline files.
    for name in sorted(os.listdir(os.path.join(ROOT, "pipelines"))):
        if name.endswith(".yaml"):
            c.add("pipeline-yaml", name, read(os.path.join(ROOT, "pipelines", name)))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark inputs for `prep ingest`, made from ../shared/corpora: a tar.gz of text files of
about TARGET megabytes (the corpora's documents, one file each, repeated with a pass number until
the size is reached), and the same files split into four tar.gz archives.

usage: make-corpus.py CORPORA OUTDIR [TARGET_MB]"""
import gzip, io, json, os, subprocess, sys, tarfile

corpora, out = sys.argv[1], sys.argv[2]
target = int(sys.argv[3]) * 1_000_000 if len(sys.argv) > 3 else 200_000_000
os.makedirs(out, exist_ok=True)
docs = []
for name in ("en-docs.jsonl.zst", "zh-docs.jsonl.zst"):
    raw = subprocess.run(["zstd", "-dc", os.path.join(corpora, name)], check=True, capture_output=True).stdout
    docs += [json.loads(l)["text"].encode() for l in raw.splitlines()]

def members():
    total, n = 0, 0
    while total < target:
        for d in docs:
            yield f"pass{n // len(docs):02d}/doc{n:07d}.txt", d
            total += len(d)
            n += 1
            if total >= target:
                return

def write(path, items):
    with open(path, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=6, mtime=0) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for name, data in items:
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = len(data), 1704067200, 0o644
                    tar.addfile(info, io.BytesIO(data))

items = list(members())
write(os.path.join(out, "one.tar.gz"), items)
os.makedirs(os.path.join(out, "four"), exist_ok=True)
for k in range(4):
    write(os.path.join(out, "four", f"part{k}.tar.gz"), items[k::4])
print(f"{len(items)} files, {sum(len(d) for _, d in items) / 1e6:.1f} MB of text")

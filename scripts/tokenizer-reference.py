#!/usr/bin/env python3
"""Reference encodings from tiktoken and HF tokenizers, for Kiln's tokenizer tests.

  tokenizer-reference.py train OUTDIR TEXTFILE... --vocab-size N [--jsonl]
      Trains a GPT-2 style byte-level BPE with HF's BpeTrainer (<|endoftext|> special) and
      writes OUTDIR/tokenizer.json.

  tokenizer-reference.py encode TOKDIR TEXTFILE [--jsonl] [--digest] [--pattern gpt2|cl100k|o200k]
                                [--special TEXT=ID ...]
      Loads the tokenizer in TOKDIR with tiktoken and with HF tokenizers, each from the files it
      reads (see load_tiktoken / load_hf), encodes TEXTFILE (one text, or with --jsonl each line's
      "text" field as one document) without special tokens, and prints one JSON object:
        {"tiktoken": ..., "tiktoken_from": "...", "hf": ..., "hf_from": "..."}
      where each encoding is a list of id lists (one per document), or with --digest a list of
      [count, sha] per document: sha = the first 16 hex digits of SHA-256 over the ids as
      little-endian uint32. A library that cannot read the folder gives null.

  tokenizer-reference.py published NAME ASSET TEXTFILE [--jsonl] [--digest]
      tiktoken's own named encoding NAME (r50k_base: GPT-2's), built offline from the rank file
      ASSET (checked by tiktoken against its published hash); prints {"name", "n_vocab", "eot",
      "tiktoken": ids or digests}.

  tokenizer-reference.py time TOKDIR TEXTFILE [--jsonl]
      Single-thread tiktoken encode_ordinary speed in MB/s (best of 3), as JSON.
"""
import argparse
import base64
import glob
import hashlib
import json
import os
import struct
import sys
import time

PATTERNS = {
    # tiktoken's r50k_base / gpt2 (FORMATS.md 3.2)
    "gpt2": r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s""",
    "cl100k": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
    "o200k": "|".join([
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]),
}


def bytes_to_unicode():
    """GPT-2's byte -> character table (openai/gpt-2 encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


UNICODE_TO_BYTE = {c: b for b, c in bytes_to_unicode().items()}


def decode_token(s):
    try:
        return bytes(UNICODE_TO_BYTE[c] for c in s)
    except KeyError:
        return None


def read_texts(path, jsonl):
    with open(path, "rb") as f:
        data = f.read()
    if not jsonl:
        return [data.decode("utf-8")]
    return [json.loads(line)["text"] for line in data.split(b"\n") if line.strip()]


def split_vocab(vocab, merges, specials):
    """Mergeable ranks (single bytes and merge products, rank = id) and special tokens (the rest
    of the vocabulary) of a byte-level vocabulary, as Kiln reads HF layouts."""
    products = set()
    for a, b in merges:
        products.add(decode_token(a) + decode_token(b))
    ranks = {}
    special_tokens = dict(specials)
    for k, v in vocab.items():
        b = decode_token(k)
        if k not in special_tokens and b is not None and (len(b) == 1 or b in products):
            ranks[b] = v
        else:
            special_tokens[k] = v
    return ranks, special_tokens


def read_merges_txt(path):
    with open(path, encoding="utf-8") as f:
        return [tuple(line.split()) for line in f.read().split("\n")[1:-1]]


def load_tiktoken(tokdir, pattern, specials):
    """tiktoken from tiktoken's own loaders where they apply: load_tiktoken_bpe for a .tiktoken
    file, data_gym_to_mergeable_bpe_ranks for GPT-2 layout vocab.json + merges.txt; otherwise
    (HF layouts) ranks = the vocabulary's ids of bytes and merge products."""
    import tiktoken
    import tiktoken.load

    files = glob.glob(os.path.join(tokdir, "*.tiktoken"))
    vocab_json = os.path.join(tokdir, "vocab.json")
    merges_txt = os.path.join(tokdir, "merges.txt")
    tok_json = os.path.join(tokdir, "tokenizer.json")
    if os.path.exists(tok_json):
        with open(tok_json, encoding="utf-8") as f:
            spec = json.load(f)
        added = {t["content"]: t["id"] for t in spec.get("added_tokens", [])}
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in spec["model"]["merges"]]
        ranks, special_tokens = split_vocab(spec["model"]["vocab"], merges, {**added, **specials})
        source = "tokenizer.json vocab"
    elif os.path.exists(vocab_json) and os.path.exists(merges_txt):
        with open(vocab_json, encoding="utf-8") as f:
            vocab = json.load(f)
        ranks, special_tokens = split_vocab(vocab, read_merges_txt(merges_txt), specials)
        source = "vocab.json ids"
        try:
            ranks = tiktoken.load.data_gym_to_mergeable_bpe_ranks(merges_txt, vocab_json)
            source = "data_gym_to_mergeable_bpe_ranks"
        except AssertionError:
            pass
    elif len(files) == 1:
        ranks = tiktoken.load.load_tiktoken_bpe(files[0])
        special_tokens = specials
        source = "load_tiktoken_bpe"
    else:
        return None, None
    enc = tiktoken.Encoding("kiln-test", pat_str=PATTERNS[pattern], mergeable_ranks=ranks,
                            special_tokens=special_tokens)
    return enc, source


def load_hf(tokdir):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    tok_json = os.path.join(tokdir, "tokenizer.json")
    vocab_json = os.path.join(tokdir, "vocab.json")
    merges_txt = os.path.join(tokdir, "merges.txt")
    if os.path.exists(tok_json):
        return Tokenizer.from_file(tok_json), "Tokenizer.from_file"
    if os.path.exists(vocab_json) and os.path.exists(merges_txt):
        tok = Tokenizer(models.BPE.from_file(vocab_json, merges_txt))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        return tok, "BPE.from_file"
    return None, None


def digest(ids):
    h = hashlib.sha256(struct.pack("<%dI" % len(ids), *ids)).hexdigest()[:16]
    return [len(ids), h]


def cmd_encode(args):
    specials = {}
    for s in args.special:
        text, _, ident = s.rpartition("=")
        specials[text] = int(ident)
    texts = read_texts(args.textfile, args.jsonl)
    out = {}
    enc, source = load_tiktoken(args.tokdir, args.pattern, specials)
    if enc is not None:
        ids = enc.encode_ordinary_batch(texts)
        out["tiktoken"] = [digest(x) for x in ids] if args.digest else ids
    else:
        out["tiktoken"] = None
    out["tiktoken_from"] = source
    hf, source = load_hf(args.tokdir)
    # HF from vocab.json + merges.txt gets the ByteLevel pre-tokenizer, i.e. GPT-2's pattern.
    if hf is not None and (args.pattern == "gpt2" or source == "Tokenizer.from_file"):
        ids = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
        out["hf"] = [digest(x) for x in ids] if args.digest else ids
    else:
        out["hf"] = None
    out["hf_from"] = source
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


def cmd_published(args):
    """tiktoken's own named encoding (e.g. r50k_base, GPT-2's), built offline from the rank file
    given: placed in a TIKTOKEN_CACHE_DIR under the name tiktoken derives from the URL, and
    checked by tiktoken against the hash it publishes for it."""
    import tempfile
    import tiktoken
    from tiktoken_ext import openai_public
    cache = tempfile.mkdtemp()
    url = "https://openaipublic.blob.core.windows.net/encodings/%s.tiktoken" % args.name
    key = hashlib.sha1(url.encode()).hexdigest()
    with open(args.asset, "rb") as f, open(os.path.join(cache, key), "wb") as g:
        g.write(f.read())
    os.environ["TIKTOKEN_CACHE_DIR"] = cache
    enc = tiktoken.get_encoding(args.name)
    texts = read_texts(args.textfile, args.jsonl)
    ids = enc.encode_ordinary_batch(texts)
    json.dump({"name": enc.name, "n_vocab": enc.n_vocab, "eot": enc.eot_token,
               "tiktoken": [digest(x) for x in ids] if args.digest else ids}, sys.stdout)
    sys.stdout.write("\n")


def cmd_train(args):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    texts = []
    for path in args.textfiles:
        texts += read_texts(path, args.jsonl)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=args.vocab_size, min_frequency=2, show_progress=False,
                                  special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    os.makedirs(args.outdir, exist_ok=True)
    tok.save(os.path.join(args.outdir, "tokenizer.json"))


def cmd_time(args):
    enc, _ = load_tiktoken(args.tokdir, args.pattern, {})
    texts = read_texts(args.textfile, args.jsonl)
    size = sum(len(t.encode("utf-8")) for t in texts)
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        for t in texts:
            enc.encode_ordinary(t)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    json.dump({"bytes": size, "seconds": best, "mb_per_s": size / best / 1e6}, sys.stdout)
    sys.stdout.write("\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("encode")
    e.add_argument("tokdir")
    e.add_argument("textfile")
    e.add_argument("--jsonl", action="store_true")
    e.add_argument("--digest", action="store_true")
    e.add_argument("--pattern", default="gpt2", choices=sorted(PATTERNS))
    e.add_argument("--special", action="append", default=[], help="TEXT=ID, for .tiktoken folders")
    t = sub.add_parser("train")
    t.add_argument("outdir")
    t.add_argument("textfiles", nargs="+")
    t.add_argument("--vocab-size", type=int, required=True)
    t.add_argument("--jsonl", action="store_true")
    n = sub.add_parser("published")
    n.add_argument("name")
    n.add_argument("asset")
    n.add_argument("textfile")
    n.add_argument("--jsonl", action="store_true")
    n.add_argument("--digest", action="store_true")
    s = sub.add_parser("time")
    s.add_argument("tokdir")
    s.add_argument("textfile")
    s.add_argument("--jsonl", action="store_true")
    s.add_argument("--pattern", default="gpt2", choices=sorted(PATTERNS))
    args = p.parse_args()
    {"encode": cmd_encode, "train": cmd_train, "time": cmd_time, "published": cmd_published}[args.command](args)


if __name__ == "__main__":
    main()

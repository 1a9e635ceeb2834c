// Visible text of an HTML page, by one forward scan over its bytes.
//
// This is not an HTML5 tree builder. It follows the HTML5 tokenizer where the tokenizer decides
// what is text (tag and attribute syntax with quoted values, comments, raw-text elements such as
// <script>, character references) and stands in for the tree with a few counters: inside <pre>,
// inside a list, inside <head>, inside an element whose content is never shown (<svg>,
// <template>, ...). Every loop only moves forward and each byte is looked at a bounded number of
// times, so the time is linear on any input, a megabyte of "<" or an unclosed comment included.
//
// Layout of the result, close to what html2text and trafilatura keep:
//   - paragraph-like blocks (p, div, h1-h6, table, ul, ...) are separated by one blank line;
//   - br, li, tr, dt, dd start a new line; td and th cells on one line are separated by a tab;
//   - outside <pre>, whitespace runs collapse to one space and lines are trimmed; inside <pre>,
//     spaces and newlines are kept (only the trailing spaces of each line are removed);
//   - never more than one blank line in a row, no leading blank lines, no final newline.
// The input is taken as UTF-8; bytes that are not valid UTF-8 are copied through unchanged.

public enum HTMLText {
    /// Visible text of an HTML document given as UTF-8 bytes, as UTF-8 bytes.
    public static func extract(_ html: [UInt8]) -> [UInt8] {
        html.withUnsafeBufferPointer { Extractor.run($0) }
    }

    /// The charset declared in the first 2 KB, by `<meta charset=...>` or by
    /// `<meta http-equiv="Content-Type" content="text/html; charset=...">`, lowercased; nil when
    /// there is none.
    public static func declaredCharset(_ html: [UInt8]) -> String? {
        html.withUnsafeBufferPointer { buffer in
            Prescan.charset(UnsafeBufferPointer(rebasing: buffer.prefix(2048)))
        }
    }

    /// The text of the first `<title>` (not counting titles inside `<svg>` or `<math>`),
    /// entity-decoded and whitespace-collapsed; nil when there is none, when it is unclosed, or
    /// when it holds only whitespace.
    public static func title(_ html: [UInt8]) -> String? {
        html.withUnsafeBufferPointer { Prescan.title($0) }
    }

    /// True when the bytes look like HTML: after an optional UTF-8 byte order mark, whitespace and
    /// comments they start with `<!doctype html`, `<html`, `<head` or `<body`; or their first
    /// 1024 bytes contain `<html`, `<body`, `<p>` or `<div` (ASCII case ignored).
    public static func looksLikeHTML(_ head: [UInt8]) -> Bool {
        head.withUnsafeBufferPointer { Prescan.looksLikeHTML($0) }
    }
}

// MARK: - Bytes and tags

extension HTMLText {
    typealias Bytes = UnsafeBufferPointer<UInt8>

    /// What a tag does to the text, by its lowercased name.
    fileprivate enum Kind: UInt8 {
        case other      // inline or unknown elements: no effect
        case headMeta   // meta, link, base: may stand in <head>, hold no text
        case block      // p, div, h1-h6, ...: a blank line before and after
        case list       // ul, ol, dl: like block, but a single line break when nested in a list
        case line       // li, tr, dt, dd, ...: a line break before and after
        case br
        case cell       // td, th: a tab before, unless first on its line
        case pre
        case rawHead    // script, style, title, noscript, noframes: raw text, dropped; may be in <head>
        case raw        // iframe, textarea, noembed: raw text, dropped
        case dropHead   // template: content dropped up to the matching end tag; may be in <head>
        case drop       // svg, math, object, ...: content dropped up to the matching end tag
        case head
        case body

        var isRaw: Bool { self == .rawHead || self == .raw }
    }

    fileprivate struct Tag {
        var key: UInt64         // lowercased name packed big-endian; 0 when longer than 8 bytes
        var nameLength: Int
        var kind: Kind
        var end: Int            // index just past the closing '>'
        var selfClosing: Bool
    }

    fileprivate enum Scan {
        @inline(__always) static func isSpace(_ b: UInt8) -> Bool {
            b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D || b == 0x0C
        }
        @inline(__always) static func isLetter(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 }
        @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
        @inline(__always) static func isAlnum(_ b: UInt8) -> Bool { isLetter(b) || isDigit(b) }
        @inline(__always) static func lower(_ b: UInt8) -> UInt8 { b &- 0x41 < 26 ? b | 0x20 : b }

        /// Packs up to 8 ASCII bytes big-endian, the key of both tables.
        static func pack(_ name: String) -> UInt64 {
            name.utf8.reduce(0) { $0 << 8 | UInt64($1) }
        }

        /// A '<' opens markup only before a letter, "/" and a letter, "!" or "?"; otherwise it
        /// is text, as in "a < b".
        @inline(__always) static func isTagStart(_ p: Bytes, _ i: Int) -> Bool {
            let n = p.count
            guard i + 1 < n else { return false }
            let c = p[i + 1]
            if isLetter(c) || c == UInt8(ascii: "!") || c == UInt8(ascii: "?") { return true }
            return c == UInt8(ascii: "/") && i + 2 < n && isLetter(p[i + 2])
        }

        /// Whether `p[at...]` starts with `word` (lowercase ASCII), ignoring ASCII case.
        static func hasPrefix(_ p: Bytes, _ at: Int, _ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard at + count <= p.count else { return false }
            let w = word.utf8Start
            for k in 0..<count where lower(p[at + k]) != w[k] { return false }
            return true
        }

        /// Reads a tag whose name starts at `nameAt` up to and past its '>'; nil when the input
        /// ends first. `visit` sees each attribute's name and value ranges.
        @inline(__always)
        static func readTag(_ p: Bytes, nameAt: Int,
                            visit: (Range<Int>, Range<Int>) -> Void = { _, _ in }) -> Tag? {
            let n = p.count
            var j = nameAt
            var key: UInt64 = 0
            while j < n {
                let c = p[j]
                if isSpace(c) || c == UInt8(ascii: "/") || c == UInt8(ascii: ">") { break }
                if j - nameAt < 8 { key = key << 8 | UInt64(lower(c)) }
                j += 1
            }
            let length = j - nameAt
            var kind = Kind.other
            if length <= 8 {
                kind = Tables.tagKinds[key] ?? .other
            } else {
                key = 0
                if length == 10 && (hasPrefix(p, nameAt, "blockquote") || hasPrefix(p, nameAt, "figcaption")) {
                    kind = .block
                }
            }
            guard let (end, selfClosing) = scanAttributes(p, from: j, visit) else { return nil }
            return Tag(key: key, nameLength: length, kind: kind, end: end, selfClosing: selfClosing)
        }

        /// Attributes as the HTML5 tokenizer reads them: a quote opens a value only after '=',
        /// so `<a title="x>y">` ends at the second '>'. Returns the index past '>' and whether
        /// the tag ended in "/>"; nil when the input ends first.
        @inline(__always)
        static func scanAttributes(_ p: Bytes, from: Int,
                                   _ visit: (Range<Int>, Range<Int>) -> Void) -> (Int, Bool)? {
            let n = p.count
            var j = from
            while true {
                while j < n && isSpace(p[j]) { j += 1 }
                guard j < n else { return nil }
                let c = p[j]
                if c == UInt8(ascii: ">") { return (j + 1, false) }
                if c == UInt8(ascii: "/") {
                    j += 1
                    if j < n && p[j] == UInt8(ascii: ">") { return (j + 1, true) }
                    continue
                }
                let nameStart = j
                j += 1
                while j < n {
                    let d = p[j]
                    if isSpace(d) || d == UInt8(ascii: "/") || d == UInt8(ascii: ">") || d == UInt8(ascii: "=") { break }
                    j += 1
                }
                let name = nameStart..<j
                while j < n && isSpace(p[j]) { j += 1 }
                var value = j..<j
                if j < n && p[j] == UInt8(ascii: "=") {
                    j += 1
                    while j < n && isSpace(p[j]) { j += 1 }
                    guard j < n else { return nil }
                    let quote = p[j]
                    if quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") {
                        let valueStart = j + 1
                        j = valueStart
                        while j < n && p[j] != quote { j += 1 }
                        guard j < n else { return nil }
                        value = valueStart..<j
                        j += 1
                    } else {
                        let valueStart = j
                        while j < n && !isSpace(p[j]) && p[j] != UInt8(ascii: ">") { j += 1 }
                        value = valueStart..<j
                    }
                }
                visit(name, value)
            }
        }

        /// Skips `<!...>` starting at the '<': a comment up to "-->" (or "--!>"), CDATA up to
        /// "]]>", anything else (a doctype) up to '>'. Returns the index past it, or `p.count`
        /// when it is unclosed.
        static func skipDeclaration(_ p: Bytes, _ i: Int) -> Int {
            let n = p.count
            if i + 3 < n && p[i + 2] == UInt8(ascii: "-") && p[i + 3] == UInt8(ascii: "-") {
                let j = i + 4
                // "<!-->" and "<!--->" are whole (empty) comments in HTML5.
                if j < n && p[j] == UInt8(ascii: ">") { return j + 1 }
                if j + 1 < n && p[j] == UInt8(ascii: "-") && p[j + 1] == UInt8(ascii: ">") { return j + 2 }
                var k = j
                while k + 2 < n {
                    if p[k] == UInt8(ascii: "-") && p[k + 1] == UInt8(ascii: "-") {
                        if p[k + 2] == UInt8(ascii: ">") { return k + 3 }
                        if p[k + 2] == UInt8(ascii: "!") && k + 3 < n && p[k + 3] == UInt8(ascii: ">") { return k + 4 }
                    }
                    k += 1
                }
                return n
            }
            if hasPrefix(p, i + 2, "[cdata[") {
                var k = i + 9
                while k + 2 < n {
                    if p[k] == UInt8(ascii: "]") && p[k + 1] == UInt8(ascii: "]") && p[k + 2] == UInt8(ascii: ">") {
                        return k + 3
                    }
                    k += 1
                }
                return n
            }
            return skipPast(p, UInt8(ascii: ">"), from: i + 2)
        }

        /// The index past the next `byte` at or after `from`, or `p.count`.
        static func skipPast(_ p: Bytes, _ byte: UInt8, from: Int) -> Int {
            var k = from
            while k < p.count {
                if p[k] == byte { return k + 1 }
                k += 1
            }
            return p.count
        }

        /// Finds the end tag of a raw-text element (script, style, title, ...) from `from`,
        /// ignoring case. Returns where the end tag starts and the index past its '>';
        /// `(p.count, p.count)` when there is none. Like browsers, a "</script>" inside a
        /// JavaScript string ends the element.
        static func findEndTag(_ p: Bytes, from: Int, key: UInt64, length: Int) -> (start: Int, end: Int) {
            let n = p.count
            var k = from
            while k + 1 < n {
                if p[k] == UInt8(ascii: "<") && p[k + 1] == UInt8(ascii: "/") {
                    let nameStart = k + 2
                    var m = 0
                    while m < length && nameStart + m < n
                        && UInt64(lower(p[nameStart + m])) == (key >> UInt64(8 * (length - 1 - m))) & 0xFF {
                        m += 1
                    }
                    if m == length {
                        let after = nameStart + length
                        if after == n { return (k, n) }
                        let c = p[after]
                        if isSpace(c) || c == UInt8(ascii: "/") || c == UInt8(ascii: ">") {
                            let end = scanAttributes(p, from: after) { _, _ in }?.0 ?? n
                            return (k, end)
                        }
                    }
                }
                k += 1
            }
            return (n, n)
        }

        /// Skips the content of an element whose content is never shown (`<svg>`, `<template>`,
        /// ...) from just past its start tag to just past its matching end tag, counting nested
        /// elements of the same name. Returns `p.count` when it is unclosed.
        static func skipElement(_ p: Bytes, from: Int, key: UInt64) -> Int {
            let n = p.count
            var i = from
            var depth = 1
            while i < n {
                if p[i] != UInt8(ascii: "<") || !isTagStart(p, i) {
                    i += 1
                    continue
                }
                let c = p[i + 1]
                if c == UInt8(ascii: "!") { i = skipDeclaration(p, i); continue }
                if c == UInt8(ascii: "?") { i = skipPast(p, UInt8(ascii: ">"), from: i + 2); continue }
                let isEnd = c == UInt8(ascii: "/")
                guard let tag = readTag(p, nameAt: isEnd ? i + 2 : i + 1) else { return n }
                i = tag.end
                if tag.key == key {
                    if isEnd {
                        depth -= 1
                        if depth == 0 { return i }
                    } else if !tag.selfClosing {
                        depth += 1
                    }
                } else if !isEnd && tag.kind.isRaw {
                    i = findEndTag(p, from: i, key: tag.key, length: tag.nameLength).end
                }
            }
            return n
        }

        /// Decodes the character reference at `i` (a '&'). Numeric references may omit the ';';
        /// named ones may omit it only for the legacy Latin-1 names and amp, lt, gt, quot, and
        /// only when no letter or digit follows (so "&copy2020" and "AT&T" stay as written).
        /// Returns the code point and the index past the reference; nil for anything else, which
        /// then stays as written.
        static func decodeReference(_ p: Bytes, _ i: Int) -> (UInt32, Int)? {
            let n = p.count
            var j = i + 1
            guard j < n else { return nil }
            if p[j] == UInt8(ascii: "#") {
                j += 1
                let hex = j < n && (p[j] | 0x20) == UInt8(ascii: "x")
                if hex { j += 1 }
                let digitsStart = j
                var value: UInt32 = 0
                while j < n {
                    let c = p[j]
                    let digit: UInt32
                    if isDigit(c) {
                        digit = UInt32(c &- 0x30)
                    } else if hex && (c | 0x20) &- 0x61 < 6 {
                        digit = UInt32((c | 0x20) &- 0x61 + 10)
                    } else {
                        break
                    }
                    // Saturate: anything past U+10FFFF is invalid however long it goes on.
                    if value <= 0x10FFFF { value = value * (hex ? 16 : 10) + digit }
                    j += 1
                }
                guard j > digitsStart else { return nil }
                if j < n && p[j] == UInt8(ascii: ";") { j += 1 }
                return (numericScalar(value), j)
            }
            // Named: the longest HTML4 name, "thetasym", has 8 characters.
            while j < n && j - i <= 9 && isAlnum(p[j]) { j += 1 }
            let length = j - i - 1
            guard length > 0 && length <= 8 else { return nil }
            var key: UInt64 = 0
            for k in (i + 1)..<j { key = key << 8 | UInt64(p[k]) }
            guard let scalar = Tables.entities[key] else { return nil }
            if j < n && p[j] == UInt8(ascii: ";") { return (scalar, j + 1) }
            let legacy = (0xA0...0xFF).contains(scalar) || scalar == 0x22 || scalar == 0x26
                || scalar == 0x3C || scalar == 0x3E
            return legacy ? (scalar, j) : nil
        }

        /// HTML5's rules for numeric references: 0, surrogates and values past U+10FFFF become
        /// U+FFFD; 0x80-0x9F are read as Windows-1252, as pages written in it expect.
        static func numericScalar(_ value: UInt32) -> UInt32 {
            if value == 0 || value > 0x10FFFF || (0xD800...0xDFFF).contains(value) { return 0xFFFD }
            if value & ~0x1F == 0x80 {
                let mapped = Tables.windows1252[Int(value - 0x80)]
                return mapped == 0 ? value : UInt32(mapped)
            }
            return value
        }
    }
}

// MARK: - Output

extension HTMLText {
    /// Builds the text: spaces and line breaks are held back until the next visible character,
    /// so runs collapse, lines come out trimmed and the end has no trailing whitespace.
    fileprivate struct Writer {
        var out: [UInt8] = []
        var pendingSpace = false
        var pendingCell = false
        var pendingBreak = 0        // newlines wanted before the next text: 1 a line break, 2 a blank line

        init(capacity: Int) { out.reserveCapacity(capacity) }

        @inline(__always) mutating func prepare() {
            if pendingBreak != 0 || pendingSpace || pendingCell { settle() }
        }

        mutating func settle() {
            defer { pendingBreak = 0; pendingSpace = false; pendingCell = false }
            guard let last = out.last else { return }
            if pendingBreak > 0 {
                stripTrailingBlanks()
                guard !out.isEmpty else { return }
                var have = trailingNewlines()
                while have < pendingBreak { out.append(0x0A); have += 1 }
            } else if last != 0x0A && last != 0x20 && last != 0x09 {
                out.append(pendingCell ? 0x09 : 0x20)
            }
        }

        @inline(__always) mutating func content(_ p: Bytes, _ start: Int, _ end: Int) {
            prepare()
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[start..<end]))
        }

        @inline(__always) mutating func byte(_ b: UInt8) {
            prepare()
            out.append(b)
        }

        /// A decoded character reference. &nbsp; (and a raw U+00A0) becomes a plain space and
        /// collapses with the whitespace around it: text for training wants one kind of space.
        mutating func scalar(_ c: UInt32, pre: Bool) {
            switch c {
            case 0x20, 0x0C, 0xA0: space(0x20, pre: pre)
            case 0x09: space(0x09, pre: pre)
            case 0x0A, 0x0D: if pre { preNewline() } else { pendingSpace = true }
            default:
                prepare()
                if c < 0x80 {
                    out.append(UInt8(c))
                } else if c < 0x800 {
                    out.append(0xC0 | UInt8(c >> 6))
                    out.append(0x80 | UInt8(c & 0x3F))
                } else if c < 0x10000 {
                    out.append(0xE0 | UInt8(c >> 12))
                    out.append(0x80 | UInt8((c >> 6) & 0x3F))
                    out.append(0x80 | UInt8(c & 0x3F))
                } else {
                    out.append(0xF0 | UInt8(c >> 18))
                    out.append(0x80 | UInt8((c >> 12) & 0x3F))
                    out.append(0x80 | UInt8((c >> 6) & 0x3F))
                    out.append(0x80 | UInt8(c & 0x3F))
                }
            }
        }

        @inline(__always) mutating func space(_ b: UInt8, pre: Bool) {
            if pre { byte(b) } else { pendingSpace = true }
        }

        /// A newline inside <pre>: kept, but never a second blank line nor a leading one.
        mutating func preNewline() {
            prepare()
            stripTrailingBlanks()
            if !out.isEmpty && trailingNewlines() < 2 { out.append(0x0A) }
        }

        mutating func lineBreak(_ count: Int) { pendingBreak = max(pendingBreak, count) }

        /// `<br>` adds to what is pending, so "a<br><br>b" leaves a blank line.
        mutating func br() { pendingBreak = min(2, pendingBreak + 1) }

        mutating func cell() { pendingCell = true }

        mutating func stripTrailingBlanks() {
            while let last = out.last, last == 0x20 || last == 0x09 { out.removeLast() }
        }

        func trailingNewlines() -> Int {
            let c = out.count
            guard c > 0 && out[c - 1] == 0x0A else { return 0 }
            return c > 1 && out[c - 2] == 0x0A ? 2 : 1
        }

        mutating func finish() -> [UInt8] {
            while let last = out.last, Scan.isSpace(last) { out.removeLast() }
            return out
        }

        /// Emits text from `i` up to the next tag (or the end): whitespace, character references
        /// and a literal '<' handled here. Returns where it stopped.
        mutating func text(_ p: Bytes, from i0: Int, pre: Bool) -> Int {
            let n = p.count
            var i = i0
            while i < n {
                let b = p[i]
                if !Writer.isSpecial(b) {
                    let start = i
                    i += 1
                    while i < n {
                        let c = p[i]
                        if !Writer.isSpecial(c) { i += 1; continue }
                        // A single space between ordinary bytes stays in the run, so that a
                        // sentence is copied in one piece.
                        if c == 0x20 && !pre && i + 1 < n && !Writer.isSpecial(p[i + 1]) { i += 2; continue }
                        break
                    }
                    content(p, start, i)
                    continue
                }
                switch b {
                case UInt8(ascii: "<"):
                    if Scan.isTagStart(p, i) { return i }
                    byte(b)
                    i += 1
                case UInt8(ascii: "&"):
                    if let (c, end) = Scan.decodeReference(p, i) {
                        scalar(c, pre: pre)
                        i = end
                    } else {
                        byte(b)
                        i += 1
                    }
                case 0xC2:
                    if i + 1 < n && p[i + 1] == 0xA0 {
                        space(0x20, pre: pre)
                        i += 2
                    } else {
                        byte(b)
                        i += 1
                    }
                case 0x20, 0x0C:
                    space(0x20, pre: pre)
                    i += 1
                case 0x09:
                    space(0x09, pre: pre)
                    i += 1
                case 0x0A:
                    if pre { preNewline() } else { pendingSpace = true }
                    i += 1
                case 0x0D:
                    // Inside <pre>, "\r\n" and a lone "\r" are each one newline.
                    if !pre {
                        pendingSpace = true
                    } else if i + 1 >= n || p[i + 1] != 0x0A {
                        preNewline()
                    }
                    i += 1
                default:
                    byte(b)     // another control byte: copied through
                    i += 1
                }
            }
            return n
        }

        /// Bytes that end a plain run of text: '<', '&', whitespace and control bytes, and 0xC2
        /// (the lead byte of U+00A0).
        @inline(__always) static func isSpecial(_ b: UInt8) -> Bool {
            b <= 0x20 || b == UInt8(ascii: "<") || b == UInt8(ascii: "&") || b == 0xC2
        }
    }
}

// MARK: - Extraction

extension HTMLText {
    fileprivate enum Extractor {
        static func run(_ p: Bytes) -> [UInt8] {
            let n = p.count
            var w = Writer(capacity: n / 4 + 64)
            var i = 0
            var preDepth = 0
            var listDepth = 0
            var inHead = false      // inside <head>: only whitespace, and head elements, until it ends
            var headDone = false    // a later <head> tag is ignored, as browsers do

            while i < n {
                if p[i] != UInt8(ascii: "<") || !Scan.isTagStart(p, i) {
                    if inHead {
                        // Whitespace stays in the head; anything else starts the body.
                        var j = i
                        while j < n && Scan.isSpace(p[j]) { j += 1 }
                        if j == n || (p[j] == UInt8(ascii: "<") && Scan.isTagStart(p, j)) {
                            i = j
                            continue
                        }
                        inHead = false
                        headDone = true
                    }
                    i = w.text(p, from: i, pre: preDepth > 0)
                    continue
                }
                let c = p[i + 1]
                if c == UInt8(ascii: "!") { i = Scan.skipDeclaration(p, i); continue }
                if c == UInt8(ascii: "?") { i = Scan.skipPast(p, UInt8(ascii: ">"), from: i + 2); continue }
                let isEnd = c == UInt8(ascii: "/")
                // An unclosed tag at the end of the input is dropped.
                guard let tag = Scan.readTag(p, nameAt: isEnd ? i + 2 : i + 1) else { break }
                i = tag.end

                if isEnd {
                    if inHead {
                        if tag.kind == .head || tag.kind == .body {
                            inHead = false
                            headDone = true
                        }
                        continue
                    }
                    switch tag.kind {
                    case .block:
                        w.lineBreak(2)
                    case .list:
                        listDepth = max(0, listDepth - 1)
                        w.lineBreak(listDepth > 0 ? 1 : 2)
                    case .line:
                        w.lineBreak(1)
                    case .br:
                        w.br()      // browsers read "</br>" as "<br>"
                    case .pre:
                        preDepth = max(0, preDepth - 1)
                        w.lineBreak(2)
                    default:
                        break
                    }
                    continue
                }

                if inHead {
                    switch tag.kind {
                    case .headMeta, .head, .rawHead, .dropHead: break
                    default:
                        inHead = false
                        headDone = true
                    }
                }
                switch tag.kind {
                case .other, .headMeta:
                    break
                case .block:
                    w.lineBreak(2)
                case .list:
                    w.lineBreak(listDepth > 0 ? 1 : 2)
                    listDepth += 1
                case .line:
                    w.lineBreak(1)
                case .br:
                    w.br()
                case .cell:
                    w.cell()
                case .pre:
                    w.lineBreak(2)
                    preDepth += 1
                    // A newline right after <pre> is not part of its content.
                    if i < n && p[i] == 0x0D { i += 1 }
                    if i < n && p[i] == 0x0A { i += 1 }
                case .rawHead, .raw:
                    i = Scan.findEndTag(p, from: i, key: tag.key, length: tag.nameLength).end
                case .dropHead, .drop:
                    if !tag.selfClosing { i = Scan.skipElement(p, from: i, key: tag.key) }
                case .head:
                    if !headDone && w.out.isEmpty { inHead = true }
                case .body:
                    headDone = true
                }
            }
            return w.finish()
        }
    }
}

// MARK: - Charset, title, sniffing

extension HTMLText {
    fileprivate enum Prescan {
        static func charset(_ p: Bytes) -> String? {
            let n = p.count
            let metaKey = Scan.pack("meta")
            var i = 0
            while i < n {
                if p[i] != UInt8(ascii: "<") || !Scan.isTagStart(p, i) {
                    i += 1
                    continue
                }
                let c = p[i + 1]
                if c == UInt8(ascii: "!") { i = Scan.skipDeclaration(p, i); continue }
                if c == UInt8(ascii: "?") { i = Scan.skipPast(p, UInt8(ascii: ">"), from: i + 2); continue }
                let isEnd = c == UInt8(ascii: "/")
                var charset: Range<Int>? = nil
                var content: Range<Int>? = nil
                var isContentType = false
                guard let tag = Scan.readTag(p, nameAt: isEnd ? i + 2 : i + 1, visit: { name, value in
                    if equals(p, name, "charset") {
                        if charset == nil { charset = value }
                    } else if equals(p, name, "content") {
                        if content == nil { content = value }
                    } else if equals(p, name, "http-equiv") {
                        isContentType = equals(p, trimmed(p, value), "content-type")
                    }
                }) else { return nil }
                i = tag.end
                guard !isEnd && tag.key == metaKey else { continue }
                if let range = charset, let name = label(p, range) { return name }
                if isContentType, let range = content, let name = charsetInContent(p, range) { return name }
            }
            return nil
        }

        /// The charset in a Content-Type value such as `text/html; charset="utf-8"`.
        static func charsetInContent(_ p: Bytes, _ range: Range<Int>) -> String? {
            var k = range.lowerBound
            while k + 7 <= range.upperBound {
                if Scan.hasPrefix(p, k, "charset") {
                    var j = k + 7
                    while j < range.upperBound && Scan.isSpace(p[j]) { j += 1 }
                    if j < range.upperBound && p[j] == UInt8(ascii: "=") {
                        j += 1
                        while j < range.upperBound && Scan.isSpace(p[j]) { j += 1 }
                        var end = j
                        if j < range.upperBound && (p[j] == UInt8(ascii: "\"") || p[j] == UInt8(ascii: "'")) {
                            let quote = p[j]
                            j += 1
                            end = j
                            while end < range.upperBound && p[end] != quote { end += 1 }
                        } else {
                            while end < range.upperBound && !Scan.isSpace(p[end]) && p[end] != UInt8(ascii: ";") { end += 1 }
                        }
                        return label(p, j..<end)
                    }
                }
                k += 1
            }
            return nil
        }

        /// A charset label: trimmed of whitespace and quotes, ASCII-lowercased; nil when empty.
        static func label(_ p: Bytes, _ range: Range<Int>) -> String? {
            var r = trimmed(p, range)
            while !r.isEmpty && (p[r.lowerBound] == UInt8(ascii: "\"") || p[r.lowerBound] == UInt8(ascii: "'")) {
                r = (r.lowerBound + 1)..<r.upperBound
            }
            while !r.isEmpty && (p[r.upperBound - 1] == UInt8(ascii: "\"") || p[r.upperBound - 1] == UInt8(ascii: "'")) {
                r = r.lowerBound..<(r.upperBound - 1)
            }
            r = trimmed(p, r)
            guard !r.isEmpty else { return nil }
            return String(decoding: p[r].map(Scan.lower), as: UTF8.self)
        }

        static func trimmed(_ p: Bytes, _ range: Range<Int>) -> Range<Int> {
            var lo = range.lowerBound
            var hi = range.upperBound
            while lo < hi && Scan.isSpace(p[lo]) { lo += 1 }
            while hi > lo && Scan.isSpace(p[hi - 1]) { hi -= 1 }
            return lo..<hi
        }

        static func equals(_ p: Bytes, _ range: Range<Int>, _ word: StaticString) -> Bool {
            range.count == word.utf8CodeUnitCount && Scan.hasPrefix(p, range.lowerBound, word)
        }

        static func title(_ p: Bytes) -> String? {
            let n = p.count
            let (titleKey, svgKey, mathKey) = (Scan.pack("title"), Scan.pack("svg"), Scan.pack("math"))
            var i = 0
            while i < n {
                if p[i] != UInt8(ascii: "<") || !Scan.isTagStart(p, i) {
                    i += 1
                    continue
                }
                let c = p[i + 1]
                if c == UInt8(ascii: "!") { i = Scan.skipDeclaration(p, i); continue }
                if c == UInt8(ascii: "?") { i = Scan.skipPast(p, UInt8(ascii: ">"), from: i + 2); continue }
                let isEnd = c == UInt8(ascii: "/")
                guard let tag = Scan.readTag(p, nameAt: isEnd ? i + 2 : i + 1) else { return nil }
                i = tag.end
                if isEnd { continue }
                if tag.key == titleKey {
                    let close = Scan.findEndTag(p, from: i, key: tag.key, length: tag.nameLength)
                    guard close.start < n else { return nil }
                    // Title content is text only (RCDATA): a '<' inside it is a character.
                    let content = UnsafeBufferPointer(rebasing: p[i..<close.start])
                    var w = Writer(capacity: content.count)
                    var k = 0
                    while k < content.count {
                        k = w.text(content, from: k, pre: false)
                        if k < content.count {
                            w.byte(UInt8(ascii: "<"))
                            k += 1
                        }
                    }
                    let text = w.finish()
                    return text.isEmpty ? nil : String(decoding: text, as: UTF8.self)
                }
                if tag.kind.isRaw {
                    i = Scan.findEndTag(p, from: i, key: tag.key, length: tag.nameLength).end
                } else if (tag.key == svgKey || tag.key == mathKey) && !tag.selfClosing {
                    i = Scan.skipElement(p, from: i, key: tag.key)
                }
            }
            return nil
        }

        static func looksLikeHTML(_ p: Bytes) -> Bool {
            let n = p.count
            var i = 0
            if n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF { i = 3 }
            while true {
                while i < n && Scan.isSpace(p[i]) { i += 1 }
                guard Scan.hasPrefix(p, i, "<!--") else { break }
                i = Scan.skipDeclaration(p, i)
            }
            for word: StaticString in ["<!doctype html", "<html", "<head", "<body"]
                where Scan.hasPrefix(p, i, word) && endsName(p, i + word.utf8CodeUnitCount) {
                return true
            }
            let limit = min(n, 1024)
            var k = 0
            while k < limit {
                if p[k] == UInt8(ascii: "<") {
                    if Scan.hasPrefix(p, k, "<p>") { return true }
                    for word: StaticString in ["<html", "<body", "<div"]
                        where Scan.hasPrefix(p, k, word) && endsName(p, k + word.utf8CodeUnitCount) {
                        return true
                    }
                }
                k += 1
            }
            return false
        }

        /// Whether a tag name can end at `j`: "<div>" and "<div class" count, "<divider" does not.
        static func endsName(_ p: Bytes, _ j: Int) -> Bool {
            j >= p.count || Scan.isSpace(p[j]) || p[j] == UInt8(ascii: ">") || p[j] == UInt8(ascii: "/")
        }
    }
}

// MARK: - Tables

extension HTMLText {
    fileprivate enum Tables {
        static let tagKinds: [UInt64: Kind] = {
            let blocks = ["p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
                          "table", "header", "footer", "nav", "aside", "hr", "form", "main",
                          "figure", "address", "fieldset", "details", "center", "hgroup", "menu",
                          "dir", "dialog", "search"]   // and "blockquote", "figcaption": see readTag
            let lines = ["li", "tr", "dt", "dd", "caption", "thead", "tbody", "tfoot", "summary",
                         "legend", "option"]
            var kinds: [UInt64: Kind] = [:]
            for name in blocks { kinds[Scan.pack(name)] = .block }
            for name in lines { kinds[Scan.pack(name)] = .line }
            for name in ["ul", "ol", "dl"] { kinds[Scan.pack(name)] = .list }
            for name in ["td", "th"] { kinds[Scan.pack(name)] = .cell }
            for name in ["meta", "link", "base", "basefont", "bgsound"] { kinds[Scan.pack(name)] = .headMeta }
            for name in ["script", "style", "title", "noscript", "noframes"] { kinds[Scan.pack(name)] = .rawHead }
            for name in ["iframe", "textarea", "noembed"] { kinds[Scan.pack(name)] = .raw }
            // Content that a browser never shows: fallback content of media and plug-ins, form
            // option lists, inline graphics.
            for name in ["svg", "math", "object", "select", "video", "audio", "canvas"] {
                kinds[Scan.pack(name)] = .drop
            }
            kinds[Scan.pack("template")] = .dropHead
            kinds[Scan.pack("br")] = .br
            kinds[Scan.pack("pre")] = .pre
            kinds[Scan.pack("listing")] = .pre
            kinds[Scan.pack("head")] = .head
            kinds[Scan.pack("body")] = .body
            return kinds
        }()

        /// The 252 named character references of HTML 4.01 (HTMLlat1, HTMLsymbol, HTMLspecial),
        /// plus apos and the upper-case AMP, LT, GT, QUOT, COPY, REG that HTML5 also accepts.
        /// lang and rang take their HTML5 values (U+27E8, U+27E9) rather than HTML 4's
        /// deprecated U+2329, U+232A.
        static let entities: [UInt64: UInt32] = {
            var table: [UInt64: UInt32] = [:]
            // HTMLlat1: U+00A0 through U+00FF in order.
            let latin1 = """
                nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr \
                deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest \
                Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml \
                ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig \
                agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml \
                eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml
                """
            for (offset, name) in latin1.split(separator: " ").enumerated() {
                table[Scan.pack(String(name))] = 0xA0 + UInt32(offset)
            }
            for (name, scalar) in others { table[Scan.pack(name)] = scalar }
            return table
        }()

        private static let others: [(String, UInt32)] = [
            // HTMLspecial
            ("quot", 34), ("amp", 38), ("lt", 60), ("gt", 62), ("apos", 39),
            ("QUOT", 34), ("AMP", 38), ("LT", 60), ("GT", 62), ("COPY", 169), ("REG", 174),
            ("OElig", 338), ("oelig", 339), ("Scaron", 352), ("scaron", 353), ("Yuml", 376),
            ("circ", 710), ("tilde", 732), ("ensp", 8194), ("emsp", 8195), ("thinsp", 8201),
            ("zwnj", 8204), ("zwj", 8205), ("lrm", 8206), ("rlm", 8207), ("ndash", 8211),
            ("mdash", 8212), ("lsquo", 8216), ("rsquo", 8217), ("sbquo", 8218), ("ldquo", 8220),
            ("rdquo", 8221), ("bdquo", 8222), ("dagger", 8224), ("Dagger", 8225), ("permil", 8240),
            ("lsaquo", 8249), ("rsaquo", 8250), ("euro", 8364),
            // HTMLsymbol: Latin and Greek letters
            ("fnof", 402),
            ("Alpha", 913), ("Beta", 914), ("Gamma", 915), ("Delta", 916), ("Epsilon", 917),
            ("Zeta", 918), ("Eta", 919), ("Theta", 920), ("Iota", 921), ("Kappa", 922),
            ("Lambda", 923), ("Mu", 924), ("Nu", 925), ("Xi", 926), ("Omicron", 927), ("Pi", 928),
            ("Rho", 929), ("Sigma", 931), ("Tau", 932), ("Upsilon", 933), ("Phi", 934),
            ("Chi", 935), ("Psi", 936), ("Omega", 937),
            ("alpha", 945), ("beta", 946), ("gamma", 947), ("delta", 948), ("epsilon", 949),
            ("zeta", 950), ("eta", 951), ("theta", 952), ("iota", 953), ("kappa", 954),
            ("lambda", 955), ("mu", 956), ("nu", 957), ("xi", 958), ("omicron", 959), ("pi", 960),
            ("rho", 961), ("sigmaf", 962), ("sigma", 963), ("tau", 964), ("upsilon", 965),
            ("phi", 966), ("chi", 967), ("psi", 968), ("omega", 969), ("thetasym", 977),
            ("upsih", 978), ("piv", 982),
            // punctuation and letter-like symbols
            ("bull", 8226), ("hellip", 8230), ("prime", 8242), ("Prime", 8243), ("oline", 8254),
            ("frasl", 8260), ("weierp", 8472), ("image", 8465), ("real", 8476), ("trade", 8482),
            ("alefsym", 8501),
            // arrows
            ("larr", 8592), ("uarr", 8593), ("rarr", 8594), ("darr", 8595), ("harr", 8596),
            ("crarr", 8629), ("lArr", 8656), ("uArr", 8657), ("rArr", 8658), ("dArr", 8659),
            ("hArr", 8660),
            // mathematical operators
            ("forall", 8704), ("part", 8706), ("exist", 8707), ("empty", 8709), ("nabla", 8711),
            ("isin", 8712), ("notin", 8713), ("ni", 8715), ("prod", 8719), ("sum", 8721),
            ("minus", 8722), ("lowast", 8727), ("radic", 8730), ("prop", 8733), ("infin", 8734),
            ("ang", 8736), ("and", 8743), ("or", 8744), ("cap", 8745), ("cup", 8746), ("int", 8747),
            ("there4", 8756), ("sim", 8764), ("cong", 8773), ("asymp", 8776), ("ne", 8800),
            ("equiv", 8801), ("le", 8804), ("ge", 8805), ("sub", 8834), ("sup", 8835),
            ("nsub", 8836), ("sube", 8838), ("supe", 8839), ("oplus", 8853), ("otimes", 8855),
            ("perp", 8869), ("sdot", 8901),
            // technical, shapes, card suits
            ("lceil", 8968), ("rceil", 8969), ("lfloor", 8970), ("rfloor", 8971),
            ("lang", 10216), ("rang", 10217), ("loz", 9674),
            ("spades", 9824), ("clubs", 9827), ("hearts", 9829), ("diams", 9830),
        ]

        /// HTML5's reading of numeric references &#128; to &#159; as Windows-1252; 0 where that
        /// code page has no character (the value is then kept).
        static let windows1252: [UInt16] = [
            0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
            0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
            0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
            0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
        ]
    }
}

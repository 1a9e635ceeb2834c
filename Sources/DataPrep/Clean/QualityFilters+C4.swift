// C4's line filter (Raffel et al. 2020, section 2.2) as datatrove's C4QualityFilter applies it,
// check by check in its order: a line with a word over `maxWordLength` goes, citation marks are
// cut out, then lines without terminal punctuation, lines of too few words, "lorem ipsum" (drops
// the document), "javascript", "{" (drops the document) and policy phrases; a document left
// with too few sentences is dropped.
//
// Chinese:
//   - A line's words are its whitespace-separated pieces, as in C4, except that every Han
//     character or kana is a word of its own (and the pieces between them count one each).
//     Otherwise a Chinese sentence is one "word": every Chinese line would have too few words,
//     and a long paragraph would be one word over 1,000 characters.
//   - Terminal punctuation adds 。！？ and the full-width period ．, and a line may end in
//     closing quotes or brackets after it (」』”’）》】〉» and ")"), as Chinese and English
//     sentences in quotes do. ASCII " and ' end a line whatever precedes them, as in datatrove.
//   - Sentences end at 。！？ even without a following space, since Chinese puts none.
//   - Policy phrases add Chinese footer and navigation lines (版权所有, 隐私政策, 返回顶部,
//     上一篇, ...), simplified and traditional.
//   - Phrases are matched ignoring ASCII case only; Python's `lower()` also folds other
//     scripts, which no phrase here needs.

extension QualityFilters {
    /// C4-style line filtering: the kept text (lines joined by "\n"), the lines removed for each
    /// reason ("c4:word_too_long", "c4:no_terminal_punctuation", "c4:too_few_words",
    /// "c4:javascript", "c4:policy"; "c4:citation" counts lines whose citation marks were cut
    /// out, which stay), and the reason the whole document is dropped, or nil: "c4:lorem_ipsum",
    /// "c4:curly_bracket", "c4:too_few_sentences". A dropped document's text is returned as given.
    public static func c4(_ text: String, _ o: C4Options)
        -> (text: String, removedLines: [String: Int], drop: String?) {
        guard o.enabled else { return (text, [:], nil) }
        var t = text
        let (kept, removed, drop) = t.withUTF8 { c4Filter($0, o) }
        return (drop == nil ? String(decoding: kept, as: UTF8.self) : text, removed, drop)
    }

    static func c4Filter(_ p: UnsafeBufferPointer<UInt8>, _ o: C4Options) -> ([UInt8], [String: Int], String?) {
        let phrases = PhraseMatcher.of(o)
        var out: [UInt8] = []
        out.reserveCapacity(p.count)
        var tooLong = 0, citations = 0, noTerminal = 0, tooFew = 0, javascript = 0, policy = 0
        var sentences = 0
        var kept = 0
        var scratch: [UInt8] = []
        var drop: String?

        // The checks after citations are cut out; false stops the document.
        func check(_ q: UnsafeBufferPointer<UInt8>, _ words: Int) -> Bool {
            if o.filterNoTerminalPunctuation && !endsWithTerminal(q) {
                noTerminal += 1
                return true
            }
            if words < o.minWordsPerLine {
                tooFew += 1
                return true
            }
            var found = phrases.find(q)
            found.lorem = found.lorem && o.filterLoremIpsum
            found.javascript = found.javascript && o.filterJavascript
            found.policy = found.policy && o.filterPolicy
            if found.lorem {
                drop = "c4:lorem_ipsum"
                return false
            }
            if found.javascript {
                javascript += 1
                return true
            }
            if o.filterCurlyBracket && q.contains(UInt8(ascii: "{")) {
                drop = "c4:curly_bracket"
                return false
            }
            if found.policy {
                policy += 1
                return true
            }
            sentences += o.splitParagraph ? sentenceCount(q) : 1
            if kept > 0 { out.append(o.splitParagraph ? 0x0A : 0x20) }
            out.append(contentsOf: q)
            kept += 1
            return true
        }
        // One unit: a line, or a sentence when `splitParagraph` is off.
        func unit(_ range: Range<Int>) -> Bool {
            let r = TextBytes.stripRange(p, range.lowerBound, range.upperBound)
            // datatrove counts words before cutting citations out.
            let (words, longest) = lineWords(p, r)
            if o.maxWordLength > 0 && longest > o.maxWordLength {
                tooLong += 1
                return true
            }
            let line = UnsafeBufferPointer(rebasing: p[r])
            if o.removeCitations && removeCitations(line, into: &scratch) {
                citations += 1
                return scratch.withUnsafeBufferPointer { check($0, words) }
            }
            return check(line, words)
        }

        if o.splitParagraph {
            var start = 0
            var i = 0
            while i < p.count {
                if p[i] == 0x0A {
                    if !unit(start..<i) { break }
                    start = i + 1
                }
                i += 1
            }
            // Python's `splitlines()`: no line after a final "\n", none in an empty text.
            if drop == nil && start < p.count { _ = unit(start..<p.count) }
        } else {
            forEachSentence(p, 0..<p.count) { unit($0) }
        }

        var removed: [String: Int] = [:]
        for (key, count) in [("c4:word_too_long", tooLong), ("c4:citation", citations),
                             ("c4:no_terminal_punctuation", noTerminal), ("c4:too_few_words", tooFew),
                             ("c4:javascript", javascript), ("c4:policy", policy)] where count > 0 {
            removed[key] = count
        }
        if drop == nil && o.minNumSentences > 0 && sentences < o.minNumSentences { drop = "c4:too_few_sentences" }
        if drop != nil { return ([], removed, drop) }
        let r = out.withUnsafeBufferPointer { TextBytes.stripRange($0, 0, $0.count) }
        if r.count != out.count { out = Array(out[r]) }
        return (out, removed, nil)
    }

    /// C4's words of a line (whitespace-separated pieces, every Han character or kana a word of
    /// its own) and the longest of them in Unicode scalars.
    static func lineWords(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> (words: Int, longest: Int) {
        var words = 0, longest = 0, run = 0
        var i = r.lowerBound
        while i < r.upperBound {
            let b = p[i]
            if b < 0x80 {
                if b > 0x20 {
                    if run == 0 { words += 1 }
                    run += 1
                    if run > longest { longest = run }
                } else if TextBytes.isPythonSpace(UInt32(b)) {
                    run = 0
                } else {
                    if run == 0 { words += 1 }
                    run += 1
                    if run > longest { longest = run }
                }
                i += 1
                continue
            }
            let (s, width) = TextBytes.decodeScalar(p, i)
            i += width
            if TextBytes.isUnicodeSpace(s) {
                run = 0
            } else if TextBytes.isCJK(s) {
                run = 0
                words += 1
                if longest == 0 { longest = 1 }
            } else {
                if run == 0 { words += 1 }
                run += 1
                if run > longest { longest = run }
            }
        }
        return (words, longest)
    }

    /// Cuts Wikipedia citation marks out of `line` into `out`, as datatrove's
    /// `re.sub(r"\[\d*]|\[edit]|\[citation needed]", "", line)`; false (and `out` untouched)
    /// when there are none.
    static func removeCitations(_ line: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Bool {
        guard line.contains(UInt8(ascii: "[")) else { return false }
        let edit = Array("[edit]".utf8), needed = Array("[citation needed]".utf8)
        func matches(_ at: Int, _ word: [UInt8]) -> Bool {
            at + word.count <= line.count && word.indices.allSatisfy { line[at + $0] == word[$0] }
        }
        var result: [UInt8] = []
        result.reserveCapacity(line.count)
        var found = false
        var i = 0
        while i < line.count {
            if line[i] == UInt8(ascii: "[") {
                var j = i + 1
                while j < line.count && line[j] >= 0x30 && line[j] <= 0x39 { j += 1 }
                var skip = 0
                if j < line.count && line[j] == UInt8(ascii: "]") { skip = j + 1 - i }
                else if matches(i, edit) { skip = edit.count }
                else if matches(i, needed) { skip = needed.count }
                if skip > 0 {
                    found = true
                    i += skip
                    continue
                }
            }
            result.append(line[i])
            i += 1
        }
        if found { out = result }
        return found
    }

    /// Whether a line ends a sentence: in . ? ! 。 ！ ？ ．, possibly followed by closing quotes
    /// or brackets, but not in "..."; or in an ASCII quote (datatrove's " and ').
    static func endsWithTerminal(_ q: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let last = q.last else { return false }
        if last == UInt8(ascii: "\"") || last == UInt8(ascii: "'") { return true }
        var end = q.count
        while end > 0 {
            let (s, first) = q[end - 1] < 0x80 ? (UInt32(q[end - 1]), end - 1)
                : TextBytes.decodeScalar(q, endingAt: end)
            if isCloser(s) {
                end = first
                continue
            }
            switch s {
            case 0x2E:   // "."
                return !(end >= 3 && q[end - 2] == 0x2E && q[end - 3] == 0x2E)
            case 0x3F, 0x21, 0x3002, 0xFF01, 0xFF1F, 0xFF0E:   // ? ! 。 ！ ？ ．
                return true
            default:
                return false
            }
        }
        return false
    }

    /// ” ’ 」 』 ） ) 》 】 〉 » " ': may follow a sentence's final punctuation.
    @inline(__always)
    static func isCloser(_ s: UInt32) -> Bool {
        switch s {
        case 0x201D, 0x2019, 0x300D, 0x300F, 0xFF09, 0x29, 0x300B, 0x3011, 0x3009, 0xBB, 0x22, 0x27: return true
        default: return false
        }
    }

    /// Sentences in a line (at least 1 for a non-empty line).
    static func sentenceCount(_ q: UnsafeBufferPointer<UInt8>) -> Int {
        var count = 0
        forEachSentence(q, 0..<q.count) { _ in
            count += 1
            return true
        }
        return count
    }

    /// Calls `body` with each sentence of `r` (not stripped; blank ones skipped) until it returns
    /// false. A sentence ends after a run of terminal punctuation and closing marks that is
    /// followed by whitespace or the end, or that holds a Chinese 。！？; a run of ASCII "." does
    /// not end one before a lowercase letter or digit ("e.g. this", "p. 12"), a rough stand-in for
    /// punkt's abbreviation rules. A blank line also ends one.
    static func forEachSentence(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ body: (Range<Int>) -> Bool) {
        var start = r.lowerBound
        var i = r.lowerBound
        let end = r.upperBound
        func emit(_ e: Int) -> Bool {
            defer { start = e }
            return TextBytes.stripRange(p, start, e).isEmpty ? true : body(start..<e)
        }
        while i < end {
            let b = p[i]
            // Nothing but terminals and newlines matters here.
            if b < 0x80 && b != 0x2E && b != 0x3F && b != 0x21 && b != 0x0A {
                i += 1
                continue
            }
            var s = UInt32(b), width = 1
            if b >= 0x80 { (s, width) = TextBytes.decodeScalar(p, i) }
            let wide = s == 0x3002 || s == 0xFF01 || s == 0xFF1F
            if b == 0x0A {
                var j = i + 1
                while j < end && (p[j] == 0x20 || p[j] == 0x09 || p[j] == 0x0D) { j += 1 }
                if j < end && p[j] == 0x0A {
                    if !emit(i) { return }
                    i = j + 1
                    start = i
                    continue
                }
                i += 1
                continue
            }
            guard s == 0x2E || s == 0x3F || s == 0x21 || s == 0xFF0E || wide else {
                i += width
                continue
            }
            // The run of terminals and closers.
            var cjk = wide
            var onlyDots = s == 0x2E
            var j = i + width
            while j < end {
                var t = UInt32(p[j]), w = 1
                if p[j] >= 0x80 { (t, w) = TextBytes.decodeScalar(p, j) }
                let tWide = t == 0x3002 || t == 0xFF01 || t == 0xFF1F
                guard t == 0x2E || t == 0x3F || t == 0x21 || t == 0xFF0E || tWide || isCloser(t) else { break }
                cjk = cjk || tWide
                onlyDots = onlyDots && (t == 0x2E || isCloser(t))
                j += w
            }
            var boundary = cjk || j == end
            if !boundary && p[j] < 0x80 && TextBytes.isPythonSpace(UInt32(p[j])) {
                boundary = true
                if onlyDots {
                    var k = j
                    while k < end && p[k] < 0x80 && TextBytes.isPythonSpace(UInt32(p[k])) { k += 1 }
                    if k < end && ((p[k] >= 0x61 && p[k] <= 0x7A) || (p[k] >= 0x30 && p[k] <= 0x39)) {
                        boundary = false
                    }
                }
            }
            if boundary && !emit(j) { return }
            i = j
        }
        if start < end { _ = emit(end) }
    }
}

/// Finds C4's phrases in a line, ignoring ASCII case, in one pass: each position's first two
/// (lowercased) bytes are looked up in a 4,096-bit filter before any phrase is compared.
struct PhraseMatcher: Sendable {
    private enum Kind: Sendable { case lorem, javascript, policy }
    private var phrases: [(bytes: [UInt8], kind: Kind)] = []
    private var filter = [UInt64](repeating: 0, count: 64)
    /// Policy phrases of one byte (or none), which the filter cannot hold.
    private var short: [(bytes: [UInt8], kind: Kind)] = []

    private static let defaultOptions = C4Options()
    private static let defaults = PhraseMatcher(policy: defaultOptions.policySubstrings
                                                + defaultOptions.chinesePolicySubstrings)

    /// The phrases of `o`, prepared once for the default lists.
    static func of(_ o: C4Options) -> PhraseMatcher {
        o.policySubstrings == defaultOptions.policySubstrings
            && o.chinesePolicySubstrings == defaultOptions.chinesePolicySubstrings
            ? defaults : PhraseMatcher(policy: o.policySubstrings + o.chinesePolicySubstrings)
    }

    /// Finds "lorem ipsum", "javascript" and the `policy` phrases.
    init(policy: [String]) {
        var all: [(String, Kind)] = policy.map { ($0, .policy) }
        all.append(("lorem ipsum", .lorem))
        all.append(("javascript", .javascript))
        for (s, kind) in all {
            let bytes = s.utf8.map(PhraseMatcher.lower)
            if bytes.count < 2 {
                short.append((bytes, kind))
            } else {
                phrases.append((bytes, kind))
                let key = PhraseMatcher.key(bytes[0], bytes[1])
                filter[key >> 6] |= 1 << UInt64(key & 63)
            }
        }
    }

    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
    @inline(__always) static func key(_ a: UInt8, _ b: UInt8) -> Int { (Int(a) << 4 ^ Int(b)) & 0xFFF }

    func find(_ q: UnsafeBufferPointer<UInt8>) -> (lorem: Bool, javascript: Bool, policy: Bool) {
        var lorem = false, javascript = false, policy = false
        func mark(_ kind: Kind) {
            switch kind {
            case .lorem: lorem = true
            case .javascript: javascript = true
            case .policy: policy = true
            }
        }
        for (bytes, kind) in short where bytes.isEmpty || q.contains(where: { PhraseMatcher.lower($0) == bytes[0] }) {
            mark(kind)
        }
        if q.count < 2 || phrases.isEmpty { return (lorem, javascript, policy) }
        filter.withUnsafeBufferPointer { filter in
            var b1 = PhraseMatcher.lower(q[0])
            for i in 0..<(q.count - 1) {
                let b0 = b1
                b1 = PhraseMatcher.lower(q[i + 1])
                let key = PhraseMatcher.key(b0, b1)
                guard filter[key >> 6] & (1 << UInt64(key & 63)) != 0 else { continue }
                for (bytes, kind) in phrases where bytes[0] == b0 && bytes[1] == b1 && i + bytes.count <= q.count {
                    var k = 2
                    while k < bytes.count && PhraseMatcher.lower(q[i + k]) == bytes[k] { k += 1 }
                    if k == bytes.count { mark(kind) }
                }
            }
        }
        return (lorem, javascript, policy)
    }
}

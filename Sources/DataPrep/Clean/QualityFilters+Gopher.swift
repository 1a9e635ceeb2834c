// Gopher's quality heuristics (Rae et al. 2021, section A.1.1), as datatrove's
// GopherQualityFilter computes them, in its order. datatrove counts spaCy tokens; here words are
// `Words`' and punctuation marks are counted as tokens beside them (see Words.swift), so the
// ratios datatrove takes over all tokens ("#" per token, alphabetic tokens) keep their meaning.
//
// Chinese (and Japanese) text, where every Han character or kana is a word:
//   - The mean word length would be 1 and fail the 3-character minimum. It is taken over the
//     other words only, and skipped when more than 30% of the letters are Han or kana: the few
//     Latin words of a Chinese page (identifiers, units, version numbers) say nothing about it.
//   - Stop words: Gopher asks for two of "the be to of and that have with" to tell prose from
//     lists and tables. Hits of `chineseStopWords` (的 了 是 在 ...) count with them, so Chinese
//     prose passes and a run of Chinese keywords does not.
//   - Han characters are letters (as Python's `isalpha` says), so Chinese words are alphabetic.
//   - Bullets: besides datatrove's "•" and "-", lines may start with ● ◆ ■ · ・, the bullets of
//     Chinese web pages. An ellipsis is "..." or "…", so Chinese "……" counts as two, as in Python.

extension QualityFilters {
    /// nil when the document passes, else the reason: "gopher_quality:gopher_short_doc",
    /// "gopher_long_doc", "gopher_below_avg_threshold", "gopher_above_avg_threshold",
    /// "gopher_too_many_hashes", "gopher_too_many_ellipsis", "gopher_too_many_bullets",
    /// "gopher_too_many_end_ellipsis", "gopher_below_alpha_threshold" or
    /// "gopher_enough_stop_words" (datatrove's names, the last meaning "not enough"), each
    /// prefixed with "gopher_quality:".
    public static func gopherQuality(_ text: String, _ o: GopherQualityOptions) -> String? {
        guard o.enabled else { return nil }
        var t = text
        return t.withUTF8 { qualityReason($0, o) }.map { "gopher_quality:" + $0 }
    }

    static func qualityReason(_ p: UnsafeBufferPointer<UInt8>, _ o: GopherQualityOptions) -> String? {
        let scan = WordScan(p, hashing: false)
        let nWords = scan.words.count
        // datatrove's `n_words`: every spaCy token, punctuation included.
        let nTokens = Double(nWords + scan.symbolTokens + scan.clitics + 2 * scan.hyphens)
        if o.minDocWords > 0 && nWords < o.minDocWords { return "gopher_short_doc" }
        if o.maxDocWords > 0 && nWords > o.maxDocWords { return "gopher_long_doc" }

        if scan.cjkWords * 10 <= scan.letters * 3 {
            var others = 0, length = 0
            for w in scan.words where w.flags & WordScan.isCJK == 0 {
                others += 1
                length += Int(w.length)
            }
            if others > 0 {   // the mean of nothing is NaN in numpy, which fails no comparison
                let mean = Double(length) / Double(others)
                if o.minAvgWordLength > 0 && mean < o.minAvgWordLength { return "gopher_below_avg_threshold" }
                if o.maxAvgWordLength > 0 && mean > o.maxAvgWordLength { return "gopher_above_avg_threshold" }
            }
        }

        let marks = lineMarks(p)
        if nTokens > 0 && o.maxSymbolWordRatio > 0 {
            if Double(marks.hashes) / nTokens > o.maxSymbolWordRatio { return "gopher_too_many_hashes" }
            if Double(marks.ellipses) / nTokens > o.maxSymbolWordRatio { return "gopher_too_many_ellipsis" }
        }
        if marks.lines > 0 {
            let lines = Double(marks.lines)
            if o.maxBulletLinesRatio > 0 && Double(marks.bulletLines) / lines > o.maxBulletLinesRatio {
                return "gopher_too_many_bullets"
            }
            if o.maxEllipsisLinesRatio > 0 && Double(marks.ellipsisLines) / lines > o.maxEllipsisLinesRatio {
                return "gopher_too_many_end_ellipsis"
            }
        }
        if nTokens > 0 && o.minAlphaWordsRatio > 0 {
            var alphabetic = scan.clitics + scan.hyphens
            for w in scan.words where w.flags & WordScan.hasLetter != 0 { alphabetic += 1 }
            if Double(alphabetic) / nTokens < o.minAlphaWordsRatio { return "gopher_below_alpha_threshold" }
        }
        if o.minStopWords > 0
            && StopWords.of(o).hits(p, scan, atLeast: o.minStopWords) < o.minStopWords {
            return "gopher_enough_stop_words"
        }
        return nil
    }

    /// What the line checks need, in one pass: "#" marks, ellipses ("..." without overlap, and
    /// "…"), and Python's `splitlines()` lines with how many start with a bullet after leading
    /// whitespace and how many end with an ellipsis before trailing whitespace.
    static func lineMarks(_ p: UnsafeBufferPointer<UInt8>)
        -> (hashes: Int, ellipses: Int, lines: Int, bulletLines: Int, ellipsisLines: Int) {
        var hashes = 0, ellipses = 0, lines = 0, bullets = 0, endEllipses = 0
        var lineStart = 0
        var i = 0
        let n = p.count
        func line(_ a: Int, _ b: Int) {
            lines += 1
            let r = TextBytes.stripRange(p, a, b)
            if r.isEmpty { return }
            let first = p[r.lowerBound]
            if first < 0x80 {
                if first == UInt8(ascii: "-") { bullets += 1 }
            } else {
                switch TextBytes.decodeScalar(p, r.lowerBound).0 {
                case 0x2022, 0x25CF, 0x25C6, 0x25A0, 0x00B7, 0x30FB: bullets += 1   // • ● ◆ ■ · ・
                default: break
                }
            }
            let z = r.upperBound
            if z - r.lowerBound >= 3 && p[z - 1] == 0x2E && p[z - 2] == 0x2E && p[z - 3] == 0x2E {
                endEllipses += 1
            } else if z - r.lowerBound >= 3 && p[z - 1] == 0xA6 && p[z - 2] == 0x80 && p[z - 3] == 0xE2 {
                endEllipses += 1   // U+2026 …
            }
        }
        while i < n {
            let b = p[i]
            // Letters, digits and most marks: nothing to do.
            if b > 0x2E && b < 0xC2 {
                i += 1
                continue
            }
            switch b {
            case UInt8(ascii: "#"):
                hashes += 1
                i += 1
            case UInt8(ascii: "."):
                if i + 2 < n && p[i + 1] == 0x2E && p[i + 2] == 0x2E {
                    ellipses += 1
                    i += 3
                } else {
                    i += 1
                }
            case 0x0A, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E:
                line(lineStart, i)
                i += 1
                lineStart = i
            case 0x0D:
                line(lineStart, i)
                i += (i + 1 < n && p[i + 1] == 0x0A) ? 2 : 1
                lineStart = i
            case 0xC2 where i + 1 < n && p[i + 1] == 0x85:   // U+0085 NEL
                line(lineStart, i)
                i += 2
                lineStart = i
            case 0xE2 where i + 2 < n && p[i + 1] == 0x80:
                switch p[i + 2] {
                case 0xA6: ellipses += 1; i += 3
                case 0xA8, 0xA9:   // U+2028, U+2029
                    line(lineStart, i)
                    i += 3
                    lineStart = i
                default: i += 1
                }
            default:
                i += 1
            }
        }
        if lineStart < n { line(lineStart, n) }
        return (hashes, ellipses, lines, bullets, endEllipses)
    }
}

/// Stop words ready to match: each one's words (as `Words` splits it: "没有" is two) as bytes,
/// and whether each touches the one before.
struct StopWords: Sendable {
    private var patterns: [[(bytes: [UInt8], touches: Bool)]] = []

    init(_ stopWords: [String]) {
        for s in stopWords {
            var s = s
            let pattern = s.withUTF8 { q in
                let words = WordScan(q, hashing: false).words
                return words.enumerated().map { k, w in
                    (Array(q[Int(w.start)..<Int(w.end)]), k > 0 && words[k - 1].end == w.start)
                }
            }
            if !pattern.isEmpty { patterns.append(pattern) }
        }
    }

    private static let defaultOptions = GopherQualityOptions()
    private static let defaults = StopWords(defaultOptions.stopWords + defaultOptions.chineseStopWords)

    /// The stop words of `o`, prepared once for the default lists.
    static func of(_ o: GopherQualityOptions) -> StopWords {
        o.stopWords == defaultOptions.stopWords && o.chineseStopWords == defaultOptions.chineseStopWords
            ? defaults : StopWords(o.stopWords + o.chineseStopWords)
    }

    /// Occurrences of the stop words in the text, counted until `atLeast`: equal words that
    /// touch where the stop word's own words touch. Case-sensitive, as datatrove's.
    func hits(_ p: UnsafeBufferPointer<UInt8>, _ scan: WordScan, atLeast: Int) -> Int {
        if patterns.isEmpty { return 0 }
        var hits = 0
        let words = scan.words
        @inline(__always) func equal(_ w: WordScan.Word, _ bytes: [UInt8]) -> Bool {
            let a = Int(w.start)
            guard Int(w.end) - a == bytes.count, p[a] == bytes[0] else { return false }
            for k in 1..<bytes.count where p[a + k] != bytes[k] { return false }
            return true
        }
        for i in words.indices {
            for pattern in patterns where i + pattern.count <= words.count && equal(words[i], pattern[0].bytes) {
                var matched = true
                for k in 1..<pattern.count {
                    let w = words[i + k]
                    if !equal(w, pattern[k].bytes) || (pattern[k].touches && words[i + k - 1].end != w.start) {
                        matched = false
                        break
                    }
                }
                if matched {
                    hits += 1
                    if hits >= atLeast { return hits }
                }
            }
        }
        return hits
    }
}

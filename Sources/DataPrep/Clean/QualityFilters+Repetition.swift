// Gopher's repetition filter (Rae et al. 2021, table A1), as datatrove's GopherRepetitionFilter
// computes it: duplicate paragraphs and lines, the most frequent 2- to 4-gram, and the characters
// covered by repeated 5- to 10-grams. N-grams are of tokens, words and punctuation marks both,
// as datatrove's spaCy tokens are (see Words.swift); for Chinese they are n-grams of characters.
// The same thresholds hold there: in the long reviews and documents of zh-docs the most frequent
// character pair (我们, 酒店, 设备) covers 2 to 4% of the text, far under 20%, while a page that
// repeats a phrase fails as an English one does (see the tests).

extension QualityFilters {
    /// nil when the document passes, else the reason: "gopher_repetition:dup_para_frac",
    /// "...:dup_para_char_frac", "...:dup_line_frac", "...:dup_line_char_frac", "...:top_2_gram",
    /// "...:duplicated_5_n_grams" (datatrove's names), checked in datatrove's order.
    public static func gopherRepetition(_ text: String, _ o: GopherRepetitionOptions) -> String? {
        // datatrove divides by len(text) and fails on an empty text; nothing repeats in it.
        guard o.enabled, !text.isEmpty else { return nil }
        var t = text
        return t.withUTF8 { repetitionReason($0, o) }
    }

    static func repetitionReason(_ p: UnsafeBufferPointer<UInt8>, _ o: GopherRepetitionOptions) -> String? {
        let total = Double(TextBytes.scalarCount(p, 0, p.count))

        // Paragraphs: `re.split(r"\n{2,}", text.strip())`.
        let paragraphs = duplicatePieces(p, TextBytes.stripRange(p, 0, p.count), minBreak: 2)
        if o.dupParagraphFraction > 0
            && Double(paragraphs.duplicates) / Double(paragraphs.pieces) > o.dupParagraphFraction {
            return "gopher_repetition:dup_para_frac"
        }
        if o.dupParagraphCharFraction > 0 && Double(paragraphs.chars) / total > o.dupParagraphCharFraction {
            return "gopher_repetition:dup_para_char_frac"
        }
        // Lines: `re.split("\n+", text)`, not stripped.
        let lines = duplicatePieces(p, 0..<p.count, minBreak: 1)
        if o.dupLineFraction > 0 && Double(lines.duplicates) / Double(lines.pieces) > o.dupLineFraction {
            return "gopher_repetition:dup_line_frac"
        }
        if o.dupLineCharFraction > 0 && Double(lines.chars) / total > o.dupLineCharFraction {
            return "gopher_repetition:dup_line_char_frac"
        }

        let scan = WordScan(p, hashing: true, keepingSymbols: true)
        let m = scan.words.count
        if m == 0 { return nil }
        // Characters of the tokens before each token, and the boundaries up to each token
        // where two tokens touch and one is Han or kana: Chinese has no space there.
        var lengthPrefix = [Int](repeating: 0, count: m + 1)
        var touchPrefix = [Int](repeating: 0, count: m)
        var previous = scan.words[0]
        lengthPrefix[1] = Int(previous.length)
        for i in 1..<m {
            let w = scan.words[i]
            lengthPrefix[i + 1] = lengthPrefix[i] + Int(w.length)
            let touch = previous.end == w.start && (previous.flags | w.flags) & WordScan.isCJK != 0
            touchPrefix[i] = touchPrefix[i - 1] + (touch ? 1 : 0)
            previous = w
        }
        let table = NGramTable(capacityFor: m)
        var grams = NGramHashes(words: scan.hashes)

        // Most documents are far from every limit, and bounds that take one pass over the
        // tokens show it; the exact measure runs only where a bound reaches the limit.
        let top = o.topNGrams.filter { $0.n >= 1 && m >= $0.n }
        if !top.isEmpty {
            let bounds = NGramBounds.top(tokenCounts: table.occurrences(scan.hashes, m), lengthPrefix: lengthPrefix,
                                         touchPrefix: touchPrefix, ns: top.map(\.n))
            for limit in top where Double(bounds[limit.n]) / total > limit.fraction {
                grams.advance(to: limit.n)
                let (count, first) = table.top(grams.hashes, grams.count)
                // datatrove measures an n-gram as `" ".join(n_gram)`: its tokens and n - 1
                // spaces, less the spaces Chinese does not have.
                let chars = lengthPrefix[first + limit.n] - lengthPrefix[first] + (limit.n - 1)
                    - (touchPrefix[first + limit.n - 1] - touchPrefix[first])
                if Double(chars * count) / total > limit.fraction {
                    return "gopher_repetition:top_\(limit.n)_gram"
                }
            }
        }

        let dup = o.dupNGrams.filter { $0.n >= 1 && m >= $0.n }
        guard let base = dup.map(\.n).min() else { return nil }
        grams.advance(to: base)
        let baseCounts = table.occurrences(grams.hashes, grams.count)
        for limit in dup {
            let bound = NGramBounds.duplicate(baseCounts: baseCounts, base: base, n: limit.n,
                                              lengthPrefix: lengthPrefix)
            if Double(bound) / total <= limit.fraction { continue }
            grams.advance(to: limit.n)
            let chars = table.duplicateChars(grams.hashes, grams.count, n: limit.n, lengthPrefix: lengthPrefix)
            if Double(chars) / total > limit.fraction {
                return "gopher_repetition:duplicated_\(limit.n)_n_grams"
            }
        }
        return nil
    }

    /// datatrove's `find_duplicates` over the pieces of `range` split at runs of at least
    /// `minBreak` "\n": pieces, pieces equal to an earlier one, and their characters.
    static func duplicatePieces(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, minBreak: Int)
        -> (pieces: Int, duplicates: Int, chars: Int) {
        var breaks = 0
        for i in range where p[i] == 0x0A { breaks += 1 }
        return withUnsafeTemporaryAllocation(of: (hash: UInt64, start: Int, end: Int).self,
                                             capacity: breaks / max(1, minBreak) + 1) { pieces in
            var count = 0
            var start = range.lowerBound
            var i = range.lowerBound
            let end = range.upperBound
            while i < end {
                if p[i] != 0x0A {
                    i += 1
                    continue
                }
                var j = i + 1
                while j < end && p[j] == 0x0A { j += 1 }
                if j - i >= minBreak {
                    pieces[count] = (TextBytes.hashBytes(p, start, i), start, i)
                    count += 1
                    start = j
                }
                i = j
            }
            pieces[count] = (TextBytes.hashBytes(p, start, end), start, end)
            count += 1

            var duplicates = 0, chars = 0
            func duplicate(_ k: Int) {
                duplicates += 1
                chars += TextBytes.scalarCount(p, pieces[k].start, pieces[k].end)
            }
            if count <= 48 {
                // A short page: comparing with the earlier pieces beats building a table.
                for k in 1..<count where (0..<k).contains(where: { pieces[$0].hash == pieces[k].hash }) {
                    duplicate(k)
                }
            } else {
                let seen = NGramTable(capacityFor: count)
                seen.removeAll()
                for k in 0..<count where !seen.insert(pieces[k].hash) { duplicate(k) }
            }
            return (count, duplicates, chars)
        }
    }
}

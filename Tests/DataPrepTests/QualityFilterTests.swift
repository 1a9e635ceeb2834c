import Foundation
import Testing
import TestSupport
@testable import DataPrep

// The quality filters of `prep clean` (C4, Gopher repetition, Gopher quality): documents that
// must pass and documents that must drop, in English and Chinese; the fast repetition measures
// against a plain reference written as datatrove writes them; and drop rates on the corpora.

/// The corpora's documents (id, text), read once.
private enum Corpus {
    struct Doc: Sendable {
        var id: String
        var text: String
    }

    static let en = load("en-docs.jsonl.zst")
    static let zh = load("zh-docs.jsonl.zst")

    static func load(_ name: String) -> [Doc] {
        guard let out = try? Fixtures.run("zstd", ["-dc", Fixtures.corpora + "/" + name]).stdout else { return [] }
        return out.split(separator: "\n").compactMap { line in
            (try? Document.parse(Array(line.utf8))).map { Doc(id: $0.id, text: $0.text) }
        }
    }

    static func text(_ id: String) -> String? {
        (id.hasPrefix("zh") ? zh : en).first { $0.id == id }?.text
    }
}

private let c4Defaults = C4Options()
private let repetitionDefaults = GopherRepetitionOptions()
private let qualityDefaults = GopherQualityOptions()

/// English filler prose of `words` words, none repeated in a way the filters notice.
private func prose(_ words: Int, seed: UInt64 = 1) -> String {
    let vocabulary = ["river", "morning", "garden", "letter", "window", "teacher", "station", "winter", "market",
                      "bridge", "story", "village", "mountain", "kitchen", "harbor", "forest", "lantern", "orchard",
                      "meadow", "castle", "valley", "journey", "painter", "candle", "sailor", "library", "quiet",
                      "yellow", "ancient", "gentle", "bright", "narrow", "distant", "careful", "walked", "found",
                      "carried", "opened", "watched", "remembered", "the", "of", "and", "with", "to", "that"]
    var rng = TestRandom(seed: seed)
    var out: [String] = []
    for k in 0..<words {
        out.append(vocabulary[Int(rng.next() % UInt64(vocabulary.count))])
        if k % 11 == 10 { out[out.count - 1] += "." }
    }
    return out.joined(separator: " ") + "."
}

// MARK: - Words

@Suite("Words.split")
struct WordsTests {
    @Test(arguments: [
        ("Don't stop: the well-known 3.14, 1,000 and 3:16.",
         ["Don't", "stop", "the", "well-known", "3.14", "1,000", "and", "3:16"]),
        ("中文abc，测试。", ["中", "文", "abc", "测", "试"]),
        ("ひらがなカタカナ・テスト", ["ひ", "ら", "が", "な", "カ", "タ", "カ", "ナ", "テ", "ス", "ト"]),
        ("한국어 텍스트", ["한국어", "텍스트"]),
        ("", []),
        ("a", ["a"]),
        ("...", []),
        ("I ❤️ 🍕 pizza", ["I", "pizza"]),
        ("cafe\u{301} naïve", ["cafe\u{301}", "naïve"]),
        ("e.g. x--y 'quoted' -dash", ["e", "g", "x", "y", "quoted", "dash"]),
        ("snake_case __init__ Yahweh’s", ["snake_case", "init", "Yahweh’s"]),
        ("第６个ＴＣＵ通道", ["第", "６", "个", "ＴＣＵ", "通", "道"]),
    ])
    func split(text: String, expected: [String]) {
        #expect(Words.split(text).map(String.init) == expected)
    }

    @Test func invalidUTF8IsReplacedAndSkipped() {
        let s = String(decoding: [0x61, 0xFF, 0x62, 0x20, 0xE4, 0xB8], as: UTF8.self)
        #expect(Words.split(s).map(String.init) == ["a", "b"])
    }

    @Test func punctuationIsCountedAsTokens() {
        var s = "Hello, world... (yes)!! don't well-known"
        let scan = s.withUTF8 { WordScan($0, hashing: false) }
        #expect(scan.words.count == 5)
        // , ... ( ) ! !  — a run of "." is one token, other marks one each, as spaCy splits them
        #expect(scan.symbolTokens == 6)
        #expect(scan.clitics == 1 && scan.hyphens == 1)
        let kept = s.withUTF8 { WordScan($0, hashing: true, keepingSymbols: true) }
        #expect(kept.words.count == 11 && kept.hashes.count == 11)
    }

    @Test func hanIsCountedForTheMeanLengthRule() {
        var s = "中文文本 with some English"
        let scan = s.withUTF8 { WordScan($0, hashing: false) }
        #expect(scan.cjkWords == 4)
        #expect(scan.letters == 4 + 15)
    }
}

// MARK: - Gopher quality

/// `s` `count` times, joined by `separator`.
private func repeated(_ s: String, _ count: Int, _ separator: String = " ") -> String {
    Array(repeating: s, count: count).joined(separator: separator)
}

private let qualityDrops: [(text: String, reason: String)] = [
    ("Too short to matter.", "gopher_short_doc"),
    (repeated("a b c d e f", 12) + " the of", "gopher_below_avg_threshold"),
    (repeated("incomprehensibilities", 60) + " the of", "gopher_above_avg_threshold"),
    (repeated("#tag the words #of people are #here with them", 8), "gopher_too_many_hashes"),
    (repeated("and then the story goes on... with them", 10), "gopher_too_many_ellipsis"),
    (repeated("• an item of the list with some words", 12, "\n"), "gopher_too_many_bullets"),
    (repeated("the story of the river goes on and on with the people in it...", 8, "\n"),
     "gopher_too_many_end_ellipsis"),
    ("the of " + repeated("12345 67890 13579 24680 11223", 12), "gopher_below_alpha_threshold"),
    (repeated("buy cheap phones online today great prices fast shipping best deals", 6),
     "gopher_enough_stop_words"),
    // Chinese keyword stuffing: characters enough, but none of the function words of prose.
    (repeated("最便宜手机，特价手机，正品手机批发，", 5, ""), "gopher_enough_stop_words"),
    ("短文本。", "gopher_short_doc"),
]

@Suite("QualityFilters.gopherQuality")
struct GopherQualityTests {
    @Test(arguments: qualityDrops)
    func drops(text: String, reason: String) {
        #expect(QualityFilters.gopherQuality(text, qualityDefaults) == "gopher_quality:" + reason)
    }

    @Test func englishProsePasses() {
        #expect(QualityFilters.gopherQuality(prose(80), qualityDefaults) == nil)
    }

    /// Chinese prose passes although every character is a word of length 1: the mean word
    /// length is skipped when Han dominates, and 的/了/是... count as stop words.
    @Test func chineseProsePasses() {
        let text = """
        我们到的时候已经是晚上了，服务员很热情地帮我们拿行李。房间不大，但是很干净，窗外就是湖，\
        早上起来可以看到很多人在湖边散步。早餐的品种不多，味道还可以。总的来说，这次住得很满意，\
        下次来杭州还会选这家酒店。
        """
        #expect(QualityFilters.gopherQuality(text, qualityDefaults) == nil)
    }

    /// A Chinese page with a few English words keeps its mean-length check off; an English page
    /// with a few Chinese characters measures its English words only.
    @Test func meanLengthIsOverNonHanWords() {
        let english = prose(60) + " 中文。"
        #expect(QualityFilters.gopherQuality(english, qualityDefaults) == nil)
        var o = qualityDefaults
        o.minAvgWordLength = 8
        #expect(QualityFilters.gopherQuality(english, o) == "gopher_quality:gopher_below_avg_threshold")
        let chinese = "我们在 Linux 的 a b c 上面看到了很多人都说这个东西好用，也有人说不好用，你自己去看吧。我觉得还不错。"
            + "他们说要去那里，我就跟着去了。"
        #expect(QualityFilters.gopherQuality(chinese, o) == nil)
    }

    @Test func optionsAreHonoured() {
        var o = qualityDefaults
        o.maxDocWords = 10
        #expect(QualityFilters.gopherQuality(prose(80), o) == "gopher_quality:gopher_long_doc")
        o.enabled = false
        #expect(QualityFilters.gopherQuality("", o) == nil)
        var none = qualityDefaults
        none.minDocWords = 0
        none.minStopWords = 0
        #expect(QualityFilters.gopherQuality("", none) == nil)
        var english = qualityDefaults
        english.chineseStopWords = []
        #expect(QualityFilters.gopherQuality(Array(repeating: "我们到的时候已经是晚上了。", count: 6).joined(), english)
                == "gopher_quality:gopher_enough_stop_words")
    }
}

// MARK: - Gopher repetition

private let repetitionDrops: [(text: String, reason: String)] = [
    (repeated("Click here to win a prize.", 10, "\n") + "\n" + prose(100), "dup_line_frac"),
    ("The first paragraph of the page is here.\n\nThe first paragraph of the page is here.\n\nAnother.",
     "dup_para_frac"),
    ([prose(120, seed: 2), "Short one.", prose(120, seed: 2), prose(40, seed: 3)].joined(separator: "\n\n"),
     "dup_para_char_frac"),
    ([prose(120, seed: 2), "Short one.", prose(120, seed: 2), prose(40, seed: 3)].joined(separator: "\n"),
     "dup_line_char_frac"),
    (repeated("cheap phones", 30) + " " + prose(60), "top_2_gram"),
    (repeated("the cheap phones", 20) + " " + prose(120), "top_3_gram"),
    (repeated("buy the cheap phones", 20) + " " + prose(200), "top_4_gram"),
    (repeated("最便宜 手机", 60), "top_2_gram"),
    (repeated("点击这里 点击这里 点击这里", 30, "\n"), "dup_line_frac"),
    ("hello world", "top_2_gram"),   // as in datatrove: a two-word document is all one 2-gram
]

@Suite("QualityFilters.gopherRepetition")
struct GopherRepetitionTests {
    @Test(arguments: repetitionDrops)
    func drops(text: String, reason: String) {
        #expect(QualityFilters.gopherRepetition(text, repetitionDefaults) == "gopher_repetition:" + reason)
    }

    /// A sentence said five times among other words: no 2- to 4-gram stands out, but the
    /// repeated 5-grams cover more than 15% of the text.
    @Test func duplicatedNGrams() {
        let sentence = "the ancient castle stood above the valley where painters gathered every spring"
        var parts: [String] = []
        for k in 0..<5 { parts += [sentence, prose(25, seed: UInt64(10 + k))] }
        let text = parts.joined(separator: " ")
        #expect(QualityFilters.gopherRepetition(text, repetitionDefaults) == "gopher_repetition:duplicated_5_n_grams")
    }

    @Test func proseAndEmptyTextPass() {
        #expect(QualityFilters.gopherRepetition(prose(300), repetitionDefaults) == nil)
        #expect(QualityFilters.gopherRepetition("", repetitionDefaults) == nil)
        var off = repetitionDefaults
        off.enabled = false
        #expect(QualityFilters.gopherRepetition("hello world", off) == nil)
    }

    /// The fast measures (hashed n-grams, bounds that skip the exact count) against datatrove's
    /// algorithm written plainly over token strings, on random documents built to repeat.
    @Test func fastMatchesReferenceOnRandomDocuments() {
        var rng = TestRandom(seed: 42)
        let pieces = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", ",", ".", "!", "中", "文", "的", "字",
                      "。", "，", "long-word", "x", "42", "...", " ", " ", " ", "\n", "\n\n"]
        var checked = 0
        for _ in 0..<400 {
            var text = ""
            let n = Int(rng.next() % 300)
            var k = 0
            while k < n {
                if rng.next() % 10 == 0 && text.count > 10 {
                    // repeat an earlier stretch
                    let scalars = Array(text.unicodeScalars)
                    let a = Int(rng.next() % UInt64(scalars.count))
                    let b = min(scalars.count, a + 1 + Int(rng.next() % 40))
                    text.unicodeScalars.append(contentsOf: scalars[a..<b])
                } else {
                    text += pieces[Int(rng.next() % UInt64(pieces.count))]
                    if rng.next() % 2 == 0 { text += " " }
                }
                k += 1
            }
            var o = repetitionDefaults
            if rng.next() % 2 == 0 {   // limits that reach the exact paths more often
                o.topNGrams = o.topNGrams.map { NGramLimit(n: $0.n, fraction: $0.fraction / 4) }
                o.dupNGrams = o.dupNGrams.map { NGramLimit(n: $0.n, fraction: $0.fraction / 4) }
            }
            #expect(QualityFilters.gopherRepetition(text, o) == ReferenceRepetition.reason(text, o), "\(text.debugDescription)")
            checked += 1
        }
        #expect(checked == 400)
    }

    @Test func fastMatchesReferenceOnCorpora() throws {
        let docs = Array(Corpus.en.prefix(150)) + Array(Corpus.zh.suffix(150))
        try #require(docs.count == 300)
        for doc in docs {
            #expect(QualityFilters.gopherRepetition(doc.text, repetitionDefaults)
                    == ReferenceRepetition.reason(doc.text, repetitionDefaults), "\(doc.id)")
        }
    }

    @Test func reference() {
        // datatrove's helpers on the values its own functions give.
        #expect(ReferenceRepetition.findDuplicates(["a", "b", "a", "a", "cc", "cc"]) == (3, 4))
        #expect(ReferenceRepetition.findAllDuplicate(Array("abcabcabc").map(String.init), 3) == 6)
        #expect(ReferenceRepetition.lines("a\n\nb\n") == ["a", "b", ""])
        #expect(ReferenceRepetition.lines("\n") == ["", ""])
        #expect(ReferenceRepetition.paragraphs("  a\n\n\nb\n \nc\n\n ") == ["a", "b\n \nc"])
    }
}

/// datatrove's GopherRepetitionFilter, written as plainly as its Python: token strings, n-grams
/// joined into strings, a dictionary and a set. Only the tokens come from `WordScan`.
private enum ReferenceRepetition {
    static func findDuplicates(_ x: [String]) -> (Int, Int) {
        var seen = Set<String>()
        var elements = 0, chars = 0
        for e in x {
            if seen.contains(e) {
                elements += 1
                chars += e.unicodeScalars.count
            } else {
                seen.insert(e)
            }
        }
        return (elements, chars)
    }

    static func findAllDuplicate(_ words: [String], _ n: Int) -> Int {
        var seen = Set<String>()
        var chars = 0, i = 0
        while i < words.count - n + 1 {
            let gram = words[i..<(i + n)].joined()
            if seen.contains(gram) {
                chars += gram.unicodeScalars.count
                i += n
            } else {
                seen.insert(gram)
                i += 1
            }
        }
        return chars
    }

    /// `re.split("\n+", text)`.
    static func lines(_ text: String) -> [String] {
        let parts = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { String($0) }
        return parts.enumerated().filter { !$0.element.isEmpty || $0.offset == 0 || $0.offset == parts.count - 1 }
            .map(\.element)
    }

    /// `re.split(r"\n{2,}", text.strip())`.
    static func paragraphs(_ text: String) -> [String] {
        var scalars = Array(text.unicodeScalars)
        while let f = scalars.first, TextBytes.isPythonSpace(f.value) { scalars.removeFirst() }
        while let l = scalars.last, TextBytes.isPythonSpace(l.value) { scalars.removeLast() }
        var out: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            if scalars[i] == "\n" {
                var j = i
                while j < scalars.count && scalars[j] == "\n" { j += 1 }
                if j - i >= 2 {
                    out.append(String(current))
                    current = String.UnicodeScalarView()
                } else {
                    current.append("\n")
                }
                i = j
            } else {
                current.append(scalars[i])
                i += 1
            }
        }
        out.append(String(current))
        return out
    }

    static func reason(_ text: String, _ o: GopherRepetitionOptions) -> String? {
        if text.isEmpty { return nil }
        let total = Double(text.unicodeScalars.count)
        let paras = paragraphs(text)
        let (pd, pc) = findDuplicates(paras)
        if Double(pd) / Double(paras.count) > o.dupParagraphFraction { return "gopher_repetition:dup_para_frac" }
        if Double(pc) / total > o.dupParagraphCharFraction { return "gopher_repetition:dup_para_char_frac" }
        let ls = lines(text)
        let (ld, lc) = findDuplicates(ls)
        if Double(ld) / Double(ls.count) > o.dupLineFraction { return "gopher_repetition:dup_line_frac" }
        if Double(lc) / total > o.dupLineCharFraction { return "gopher_repetition:dup_line_char_frac" }

        var t = text
        let scan = t.withUTF8 { WordScan($0, hashing: false, keepingSymbols: true) }
        let bytes = Array(text.utf8)
        let words = scan.words.map { String(decoding: bytes[Int($0.start)..<Int($0.end)], as: UTF8.self) }
        // `" ".join(n_gram)`, without the space between touching tokens where one is Han or kana.
        func joined(_ i: Int, _ n: Int) -> String {
            var s = words[i]
            for j in (i + 1)..<(i + n) {
                let a = scan.words[j - 1], b = scan.words[j]
                if !(a.end == b.start && (a.flags | b.flags) & WordScan.isCJK != 0) { s += " " }
                s += words[j]
            }
            return s
        }
        for limit in o.topNGrams where words.count >= limit.n {
            var counts: [String: Int] = [:]
            var order: [String] = []
            var firstText: [String: String] = [:]
            for i in 0...(words.count - limit.n) {
                let key = words[i..<(i + limit.n)].joined(separator: "\u{0}")
                if counts[key] == nil {
                    order.append(key)
                    firstText[key] = joined(i, limit.n)
                }
                counts[key, default: 0] += 1
            }
            // `Counter.most_common(1)`: the largest count, the first seen among equals.
            var best = order[0]
            for key in order where counts[key]! > counts[best]! { best = key }
            if Double(firstText[best]!.unicodeScalars.count * counts[best]!) / total > limit.fraction {
                return "gopher_repetition:top_\(limit.n)_gram"
            }
        }
        for limit in o.dupNGrams where words.count >= limit.n {
            if Double(findAllDuplicate(words, limit.n)) / total > limit.fraction {
                return "gopher_repetition:duplicated_\(limit.n)_n_grams"
            }
        }
        return nil
    }
}

// MARK: - C4

private let fiveSentences =
    "This is the first sentence here. This is the second one here. A third sentence is here. "
    + "Here is the fourth one. And this is the fifth one."

@Suite("QualityFilters.c4")
struct C4Tests {
    @Test func keepsLinesThatEndSentencesAndCountsTheOthers() {
        let text = """
        A Title Without Punctuation
        \(fiveSentences)
        Too short.
        This line trails off into nothing...
        Please enable JavaScript to view the comments.
        We use cookies to give you the best experience.
        Read our Privacy Policy before you go on.
        版权所有 © 2024 某某网络科技有限公司。
        他说：「明天我们一起去看看吧。」
        The city grew fast in those years.[1] Its harbour was busy.[citation needed]
        """
        let r = QualityFilters.c4(text, c4Defaults)
        #expect(r.drop == nil)
        #expect(r.text == fiveSentences + "\n他说：「明天我们一起去看看吧。」\nThe city grew fast in those years. Its harbour was busy.")
        #expect(r.removedLines == ["c4:no_terminal_punctuation": 2, "c4:too_few_words": 1, "c4:javascript": 1,
                                   "c4:policy": 3, "c4:citation": 1])
    }

    @Test(arguments: [
        ("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" + fiveSentences, "c4:lorem_ipsum"),
        (fiveSentences + "\nThe function returns {a: 1} as its value.", "c4:curly_bracket"),
        ("One sentence only. And a second one.", "c4:too_few_sentences"),
        ("Click here\nBuy now\nHome | About | Contact", "c4:too_few_sentences"),
        ("", "c4:too_few_sentences"),
        ("我们到的时候已经是晚上了。服务员很热情。", "c4:too_few_sentences"),
    ])
    func drops(text: String, reason: String) {
        let r = QualityFilters.c4(text, c4Defaults)
        #expect(r.drop == reason)
        #expect(r.text == text)   // a dropped document comes back as it was
    }

    @Test func chineseSentencesAndLines() {
        // No spaces in Chinese: every character is a word, 。！？ end sentences without a space.
        let text = "我们到的时候已经是晚上了。服务员很热情！房间干净吗？很干净。早餐一般。\n上一篇：酒店点评。\n好。"
        let r = QualityFilters.c4(text, c4Defaults)
        #expect(r.drop == nil)
        #expect(r.text == "我们到的时候已经是晚上了。服务员很热情！房间干净吗？很干净。早餐一般。")
        #expect(r.removedLines == ["c4:policy": 1, "c4:too_few_words": 1])
        // A 1,200-character Chinese paragraph is not one 1,200-character word.
        let long = String(repeating: "我们到的时候已经是晚上了。", count: 100)
        #expect(QualityFilters.c4(long, c4Defaults).drop == nil)
        let longWord = String(repeating: "x", count: 1001) + " is one very long word.\n" + fiveSentences
        #expect(QualityFilters.c4(longWord, c4Defaults).removedLines == ["c4:word_too_long": 1])
    }

    @Test(arguments: [
        ("He said so.", true), ("He said \"so.\"", true), ("It's 'quoted'", true), ("(See above.)", true),
        ("他说：「好。」", true), ("真的吗？", true), ("好！”", true), ("Ｆｕｌｌ．", true),
        ("It trails...", false), ("A list:", false), ("No punctuation", false), ("……", false), ("", false),
    ])
    func terminalPunctuation(line: String, ends: Bool) {
        var s = line
        #expect(s.withUTF8 { QualityFilters.endsWithTerminal($0) } == ends)
    }

    @Test(arguments: [
        ("One. Two! Three? Four.", 4), ("e.g. this one. And 3.14 is pi.", 2), ("一。二！三？四", 4),
        ("No end", 1), ("", 0), ("Wait... what?", 1),
    ])
    func sentenceCount(line: String, count: Int) {
        var s = line
        #expect(s.withUTF8 { QualityFilters.sentenceCount($0) } == count)
    }

    @Test func sentencesInsteadOfLines() {
        var o = c4Defaults
        o.splitParagraph = false
        let text = "This is the first sentence\nhere. This is the second one here. Menu\n\n"
            + "A third sentence is here. Here is the fourth one. And this is the fifth one."
        let r = QualityFilters.c4(text, o)
        #expect(r.drop == nil)
        #expect(r.text == "This is the first sentence\nhere. This is the second one here. A third sentence is here. "
                + "Here is the fourth one. And this is the fifth one.")
        #expect(r.removedLines == ["c4:no_terminal_punctuation": 1])
    }

    @Test func optionsAreHonoured() {
        var o = c4Defaults
        o.enabled = false
        #expect(QualityFilters.c4("x {", o) == ("x {", [:], nil))
        o = c4Defaults
        o.minNumSentences = 0
        o.filterNoTerminalPunctuation = false
        o.minWordsPerLine = 0
        #expect(QualityFilters.c4("Menu\nHome", o).text == "Menu\nHome")
        o.removeCitations = false
        #expect(QualityFilters.c4("Grew.[1]", o).text == "Grew.[1]")
        o.policySubstrings = ["home"]
        o.chinesePolicySubstrings = []
        #expect(QualityFilters.c4("Menu\nHOME page", o).text == "Menu")
    }
}

// MARK: - Options

@Suite("Quality filter options")
struct QualityOptionsTests {
    @Test func defaultsAreDatatroves() {
        let q = GopherQualityOptions()
        #expect(q.minDocWords == 50 && q.maxDocWords == 100_000 && q.minAvgWordLength == 3 && q.maxAvgWordLength == 10)
        #expect(q.maxSymbolWordRatio == 0.1 && q.maxBulletLinesRatio == 0.9 && q.maxEllipsisLinesRatio == 0.3)
        #expect(q.minAlphaWordsRatio == 0.8 && q.minStopWords == 2 && q.stopWords.count == 8)
        let r = GopherRepetitionOptions()
        #expect(r.topNGrams.map(\.n) == [2, 3, 4] && r.dupNGrams.map(\.n) == Array(5...10))
        #expect(r.dupNGrams.map(\.fraction) == [0.15, 0.14, 0.13, 0.12, 0.11, 0.10])
        let c = C4Options()
        #expect(c.minNumSentences == 5 && c.minWordsPerLine == 3 && c.maxWordLength == 1000)
    }

    @Test func snakeCaseRoundTrip() throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        var c = C4Options()
        c.minNumSentences = 3
        var q = GopherQualityOptions()
        q.chineseStopWords = ["的"]
        var r = GopherRepetitionOptions()
        r.topNGrams = [NGramLimit(n: 2, fraction: 0.5)]
        #expect(try decoder.decode(C4Options.self, from: encoder.encode(c)) == c)
        #expect(try decoder.decode(GopherQualityOptions.self, from: encoder.encode(q)) == q)
        #expect(try decoder.decode(GopherRepetitionOptions.self, from: encoder.encode(r)) == r)
        let keys = String(decoding: try encoder.encode(q), as: UTF8.self)
        #expect(keys.contains("\"min_alpha_words_ratio\"") && keys.contains("\"chinese_stop_words\""))
    }
}

// MARK: - Spam

/// Whole spam pages, English and Chinese, through all three filters with the defaults:
/// (page, C4's reason, the repetition reason, the quality reason), nil where a filter keeps it.
private let spamPages: [(text: String, c4: String?, repetition: String?, quality: String?)] = [
    (repeated("最便宜 手机 特价 手机 正品 手机", 20), "c4:too_few_sentences", "gopher_repetition:top_2_gram",
     "gopher_quality:gopher_enough_stop_words"),
    (repeated("点击这里 点击这里 点击这里", 30, "\n"), "c4:too_few_sentences", "gopher_repetition:dup_line_frac", nil),
    ((1...40).map { "http://www.example.com/page\($0).html 下载地址\($0)" }.joined(separator: "\n"),
     "c4:too_few_sentences", "gopher_repetition:top_3_gram", "gopher_quality:gopher_below_alpha_threshold"),
    ((1...40).map { "<a href=\"/item/\($0)\">Item \($0)</a>" }.joined(separator: "\n"),
     "c4:too_few_sentences", "gopher_repetition:top_3_gram", "gopher_quality:gopher_below_avg_threshold"),
    ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " + prose(80), "c4:lorem_ipsum", nil, nil),
    ("This site requires JavaScript. Please enable JavaScript in your browser settings and reload the page.",
     "c4:too_few_sentences", "gopher_repetition:top_4_gram", "gopher_quality:gopher_short_doc"),
    ("首页 | 新闻 | 体育 | 娱乐 | 财经 | 科技 | 汽车 | 房产 | 旅游 | 教育 | 登录 | 注册 | 版权所有",
     "c4:too_few_sentences", nil, "gopher_quality:gopher_short_doc"),
    ("Buy now!", "c4:too_few_sentences", "gopher_repetition:top_2_gram", "gopher_quality:gopher_short_doc"),
]

@Suite("Spam pages")
struct SpamTests {
    @Test(arguments: spamPages)
    func dropped(text: String, c4: String?, repetition: String?, quality: String?) {
        #expect(QualityFilters.c4(text, c4Defaults).drop == c4)
        #expect(QualityFilters.gopherRepetition(text, repetitionDefaults) == repetition)
        #expect(QualityFilters.gopherQuality(text, qualityDefaults) == quality)
        #expect(c4 != nil || repetition != nil || quality != nil)
    }
}

// MARK: - Corpora

@Suite("Quality filters on the corpora")
struct QualityCorpusTests {
    /// Real prose: Bible chapters, a commentary, a Python tutorial page, a Linux document, a long
    /// Chinese hotel review, a Chinese Linux document and a section of a Chinese manual.
    @Test(arguments: ["en-000000", "en-000002", "en-000004", "en-003312", "en-000101",
                      "zh-000048", "zh-000132", "zh-000254"])
    func realProsePassesAllThree(id: String) throws {
        let text = try #require(Corpus.text(id))
        let c4 = QualityFilters.c4(text, c4Defaults)
        #expect(c4.drop == nil)
        #expect(!c4.text.isEmpty)
        #expect(QualityFilters.gopherRepetition(text, repetitionDefaults) == nil)
        #expect(QualityFilters.gopherQuality(text, qualityDefaults) == nil)
        // and so does what C4 keeps of it
        #expect(QualityFilters.gopherRepetition(c4.text, repetitionDefaults) == nil)
    }

    /// The share of documents each filter drops, printed for the record. datatrove (spaCy
    /// tokens) drops 12.5% (C4), 14.6% (repetition) and 26.7% (quality) of en-docs; the
    /// expectations here are loose.
    @Test func dropRates() throws {
        struct Rates { var docs = 0, c4 = 0, repetition = 0, quality = 0, all = 0 }
        func measure(_ docs: [Corpus.Doc]) -> Rates {
            var r = Rates()
            for doc in docs {
                r.docs += 1
                let c = QualityFilters.c4(doc.text, c4Defaults).drop != nil
                let g = QualityFilters.gopherRepetition(doc.text, repetitionDefaults) != nil
                let q = QualityFilters.gopherQuality(doc.text, qualityDefaults) != nil
                r.c4 += c ? 1 : 0
                r.repetition += g ? 1 : 0
                r.quality += q ? 1 : 0
                r.all += (c || g || q) ? 1 : 0
            }
            return r
        }
        func share(_ k: Int, _ r: Rates) -> Double { Double(k) / Double(max(1, r.docs)) }
        // Every third document keeps the debug build quick.
        let en = measure(Corpus.en.enumerated().filter { $0.offset % 3 == 0 }.map(\.element))
        let zh = measure(Corpus.zh.enumerated().filter { $0.offset % 3 == 0 }.map(\.element))
        let longZh = measure(Corpus.zh.filter { $0.text.unicodeScalars.count >= 300 && !$0.text.contains("\u{1B}") })
        for (name, r) in [("en", en), ("zh", zh), ("zh >= 300 chars", longZh)] {
            print("drop rates \(name) (\(r.docs) docs): c4 \(share(r.c4, r)), repetition \(share(r.repetition, r)), "
                  + "quality \(share(r.quality, r)), any \(share(r.all, r))")
        }
        try #require(en.docs > 1000 && zh.docs > 1000)
        #expect(share(en.c4, en) < 0.25 && share(en.repetition, en) < 0.3 && share(en.quality, en) < 0.4)
        // Chinese reviews are mostly short, so most fall to C4's five sentences and Gopher's 50 words.
        #expect(share(zh.c4, zh) > 0.5 && share(zh.quality, zh) > 0.3)
        // Long Chinese documents are mostly good prose, and the Gopher filters keep most of them.
        #expect(share(longZh.repetition, longZh) < 0.3 && share(longZh.quality, longZh) < 0.5)
    }
}

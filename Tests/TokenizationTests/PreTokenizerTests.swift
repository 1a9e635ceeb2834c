import Foundation
import Testing
import TestSupport
@testable import Tokenization

// The scanner against tiktoken's own output (golden pieces), against the Swift Regex reference
// (edge cases, corpora, random strings), on invalid UTF-8, and on inputs that would expose
// anything worse than linear time.
//
// Pieces are compared as UTF-8 bytes or byte ranges, never as Strings: String's == is canonical
// equivalence ("e\u{301}" == "\u{E9}"), which would hide a wrong cut.

// MARK: - Helpers

/// The scanner's byte ranges over `text`.
private func scannerRanges(_ text: String, _ pattern: PreTokenizerPattern) -> [Range<Int>] {
    var text = text
    var ranges: [Range<Int>] = []
    text.withUTF8 { PreTokenizer(pattern).split($0, into: &ranges) }
    return ranges
}

/// The reference's pieces as byte ranges of `text`.
private func referenceRanges(_ text: String, _ pattern: PreTokenizerPattern) -> [Range<Int>] {
    let utf8 = text.utf8
    return PreTokenizer.referenceSplit(text, pattern).map { piece in
        let lower = utf8.distance(from: utf8.startIndex, to: piece.startIndex)
        return lower..<(lower + piece.utf8.count)
    }
}

/// Whether `ranges` are non-empty, contiguous and cover `0..<count`.
private func covers(_ ranges: [Range<Int>], _ count: Int) -> Bool {
    var position = 0
    for range in ranges {
        guard range.lowerBound == position, !range.isEmpty else { return false }
        position = range.upperBound
    }
    return position == count
}

/// A short account of where two splits of `text` part, for a failure message.
private func difference(_ text: String, _ fast: [Range<Int>], _ reference: [Range<Int>]) -> String? {
    guard fast != reference else { return nil }
    let bytes = Array(text.utf8)
    let index = zip(fast, reference).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        ?? min(fast.count, reference.count)
    func show(_ ranges: [Range<Int>]) -> String {
        ranges[index..<min(ranges.count, index + 3)]
            .map { String(reflecting: String(decoding: bytes[$0], as: UTF8.self)) }.joined(separator: " ")
    }
    return "piece \(index) at byte \(index < fast.count ? fast[index].lowerBound : -1): "
        + "scanner [\(show(fast))] reference [\(show(reference))]"
}

/// Whether tiktoken 0.14 sees `scalar` as unassigned while this runtime's Swift Regex does not:
/// the scanner follows tiktoken there, so the reference cannot be compared.
private func isNewerThanTiktoken(_ scalar: Unicode.Scalar) -> Bool {
    guard let age = scalar.properties.age else { return false }
    return age > PreTokenizer.CharacterClass.unicodeVersion
}

// MARK: - Golden pieces from tiktoken

/// One text and the pieces tiktoken 0.14.0 cuts it into, per pattern (made with
/// `Encoding(pat_str=..., mergeable_ranks=<every substring of the text>)`, so that each piece
/// comes back as one token).
struct Golden: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    let gpt2: [String]
    let cl100k: [String]
    let o200k: [String]

    init(_ name: String, _ text: String, gpt2: [String], cl100k: [String], o200k: [String]) {
        self.name = name
        self.text = text
        self.gpt2 = gpt2
        self.cl100k = cl100k
        self.o200k = o200k
    }

    func pieces(_ pattern: PreTokenizerPattern) -> [String] {
        switch pattern {
        case .gpt2: gpt2
        case .cl100k: cl100k
        case .o200k: o200k
        }
    }

    var testDescription: String { name }
}

let goldenCases: [Golden] = [
        Golden("empty", "",
               gpt2: [],
               cl100k: [],
               o200k: []),
        Golden("one byte", "x",
               gpt2: ["x"],
               cl100k: ["x"],
               o200k: ["x"]),
        Golden("one space", " ",
               gpt2: [" "],
               cl100k: [" "],
               o200k: [" "]),
        Golden("one newline", "\n",
               gpt2: ["\n"],
               cl100k: ["\n"],
               o200k: ["\n"]),
        Golden("apostrophe", "'",
               gpt2: ["'"],
               cl100k: ["'"],
               o200k: ["'"]),
        Golden("emoji ZWJ", "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466} family",
               gpt2: ["\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}", " family"],
               cl100k: ["\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}", " family"],
               o200k: ["\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}", " family"]),
        Golden("flags", "\u{1F1FA}\u{1F1F8}\u{1F1EB}\u{1F1F7} flags",
               gpt2: ["\u{1F1FA}\u{1F1F8}\u{1F1EB}\u{1F1F7}", " flags"],
               cl100k: ["\u{1F1FA}\u{1F1F8}\u{1F1EB}\u{1F1F7}", " flags"],
               o200k: ["\u{1F1FA}\u{1F1F8}\u{1F1EB}\u{1F1F7}", " flags"]),
        Golden("skin tone", "ok\u{1F44D}\u{1F3FD}!",
               gpt2: ["ok", "\u{1F44D}\u{1F3FD}!"],
               cl100k: ["ok", "\u{1F44D}\u{1F3FD}!"],
               o200k: ["ok", "\u{1F44D}\u{1F3FD}!"]),
        Golden("CJK", "\u{4E2D}\u{6587}\u{5206}\u{8BCD}\u{6D4B}\u{8BD5}\u{FF0C}\u{597D}\u{7684}\u{3002}",
               gpt2: ["\u{4E2D}\u{6587}\u{5206}\u{8BCD}\u{6D4B}\u{8BD5}", "\u{FF0C}", "\u{597D}\u{7684}", "\u{3002}"],
               cl100k: ["\u{4E2D}\u{6587}\u{5206}\u{8BCD}\u{6D4B}\u{8BD5}", "\u{FF0C}\u{597D}\u{7684}", "\u{3002}"],
               o200k: ["\u{4E2D}\u{6587}\u{5206}\u{8BCD}\u{6D4B}\u{8BD5}", "\u{FF0C}\u{597D}\u{7684}", "\u{3002}"]),
        Golden("Japanese", "\u{65E5}\u{672C}\u{8A9E}\u{306E}\u{30C6}\u{30AD}\u{30B9}\u{30C8}",
               gpt2: ["\u{65E5}\u{672C}\u{8A9E}\u{306E}\u{30C6}\u{30AD}\u{30B9}\u{30C8}"],
               cl100k: ["\u{65E5}\u{672C}\u{8A9E}\u{306E}\u{30C6}\u{30AD}\u{30B9}\u{30C8}"],
               o200k: ["\u{65E5}\u{672C}\u{8A9E}\u{306E}\u{30C6}\u{30AD}\u{30B9}\u{30C8}"]),
        Golden("Korean", "\u{D55C}\u{AD6D}\u{C5B4} \u{D14D}\u{C2A4}\u{D2B8}",
               gpt2: ["\u{D55C}\u{AD6D}\u{C5B4}", " \u{D14D}\u{C2A4}\u{D2B8}"],
               cl100k: ["\u{D55C}\u{AD6D}\u{C5B4}", " \u{D14D}\u{C2A4}\u{D2B8}"],
               o200k: ["\u{D55C}\u{AD6D}\u{C5B4}", " \u{D14D}\u{C2A4}\u{D2B8}"]),
        Golden("combining marks", "e\u{301}te\u{301} cafe\u{301}s",
               gpt2: ["e", "\u{301}", "te", "\u{301}", " cafe", "\u{301}", "s"],
               cl100k: ["e", "\u{301}te", "\u{301}", " cafe", "\u{301}s"],
               o200k: ["e\u{301}te\u{301}", " cafe\u{301}s"]),
        Golden("enclosing mark", "a\u{20DD} b",
               gpt2: ["a", "\u{20DD}", " b"],
               cl100k: ["a", "\u{20DD}", " b"],
               o200k: ["a\u{20DD}", " b"]),
        Golden("don't", "don't",
               gpt2: ["don", "'t"],
               cl100k: ["don", "'t"],
               o200k: ["don't"]),
        Golden("DON'T", "DON'T",
               gpt2: ["DON", "'", "T"],
               cl100k: ["DON", "'T"],
               o200k: ["DON'T"]),
        Golden("I'm", "I'm",
               gpt2: ["I", "'m"],
               cl100k: ["I", "'m"],
               o200k: ["I'm"]),
        Golden("I'M fine", "I'M fine",
               gpt2: ["I", "'", "M", " fine"],
               cl100k: ["I", "'M", " fine"],
               o200k: ["I'M", " fine"]),
        Golden("contractions", "we'll've they're you'd it's",
               gpt2: ["we", "'ll", "'ve", " they", "'re", " you", "'d", " it", "'s"],
               cl100k: ["we", "'ll", "'ve", " they", "'re", " you", "'d", " it", "'s"],
               o200k: ["we'll", "'ve", " they're", " you'd", " it's"]),
        Golden("long s", "\n'\u{17F}a x'\u{17F}",
               gpt2: ["\n", "'", "\u{17F}a", " x", "'", "\u{17F}"],
               cl100k: ["\n", "'\u{17F}", "a", " x", "'\u{17F}"],
               o200k: ["\n", "'\u{17F}a", " x'\u{17F}"]),
        Golden("quote runs", "''s \"'re\"",
               gpt2: ["''", "s", " \"'", "re", "\""],
               cl100k: ["''", "s", " \"'", "re", "\""],
               o200k: ["''", "s", " \"'", "re", "\""]),
        Golden("digits", "12345678",
               gpt2: ["12345678"],
               cl100k: ["123", "456", "78"],
               o200k: ["123", "456", "78"]),
        Golden("digit groups", "1 22 333 4444 55555",
               gpt2: ["1", " 22", " 333", " 4444", " 55555"],
               cl100k: ["1", " ", "22", " ", "333", " ", "444", "4", " ", "555", "55"],
               o200k: ["1", " ", "22", " ", "333", " ", "444", "4", " ", "555", "55"]),
        Golden("spaces then word", "          word",
               gpt2: ["         ", " word"],
               cl100k: ["         ", " word"],
               o200k: ["         ", " word"]),
        Golden("space runs", "a  b   c    d",
               gpt2: ["a", " ", " b", "  ", " c", "   ", " d"],
               cl100k: ["a", " ", " b", "  ", " c", "   ", " d"],
               o200k: ["a", " ", " b", "  ", " c", "   ", " d"]),
        Golden("CRLF CRLF", "\r\n\r\n",
               gpt2: ["\r\n\r\n"],
               cl100k: ["\r\n\r\n"],
               o200k: ["\r\n\r\n"]),
        Golden("CRLF in text", "a\r\n\r\nb",
               gpt2: ["a", "\r\n\r", "\n", "b"],
               cl100k: ["a", "\r\n\r\n", "b"],
               o200k: ["a", "\r\n\r\n", "b"]),
        Golden("CRLF space at end", "T\r\n\r\n ",
               gpt2: ["T", "\r\n\r\n "],
               cl100k: ["T", "\r\n\r\n "],
               o200k: ["T", "\r\n\r\n", " "]),
        Golden("tabs", "\tindented\t\tcode\t",
               gpt2: ["\t", "indented", "\t", "\t", "code", "\t"],
               cl100k: ["\tindented", "\t", "\tcode", "\t"],
               o200k: ["\tindented", "\t", "\tcode", "\t"]),
        Golden("trailing spaces", "end   ",
               gpt2: ["end", "   "],
               cl100k: ["end", "   "],
               o200k: ["end", "   "]),
        Golden("trailing space newline", "x   \n",
               gpt2: ["x", "   \n"],
               cl100k: ["x", "   \n"],
               o200k: ["x", "   \n"]),
        Golden("trailing whitespace mix", "end \n \n",
               gpt2: ["end", " \n \n"],
               cl100k: ["end", " \n \n"],
               o200k: ["end", " \n \n"]),
        Golden("endoftext", "<|endoftext|>",
               gpt2: ["<|", "endoftext", "|>"],
               cl100k: ["<|", "endoftext", "|>"],
               o200k: ["<|", "endoftext", "|>"]),
        Golden("endoftext in text", "hello<|endoftext|>world",
               gpt2: ["hello", "<|", "endoftext", "|>", "world"],
               cl100k: ["hello", "<|", "endoftext", "|>", "world"],
               o200k: ["hello", "<|", "endoftext", "|>", "world"]),
        Golden("Arabic", "\u{645}\u{631}\u{62D}\u{628}\u{627} \u{628}\u{627}\u{644}\u{639}\u{627}\u{644}\u{645}",
               gpt2: ["\u{645}\u{631}\u{62D}\u{628}\u{627}", " \u{628}\u{627}\u{644}\u{639}\u{627}\u{644}\u{645}"],
               cl100k: ["\u{645}\u{631}\u{62D}\u{628}\u{627}", " \u{628}\u{627}\u{644}\u{639}\u{627}\u{644}\u{645}"],
               o200k: ["\u{645}\u{631}\u{62D}\u{628}\u{627}", " \u{628}\u{627}\u{644}\u{639}\u{627}\u{644}\u{645}"]),
        Golden("Arabic harakat", "\u{645}\u{64E}\u{631}\u{652}\u{62D}\u{64E}\u{628}\u{64B}\u{627}",
               gpt2: ["\u{645}", "\u{64E}", "\u{631}", "\u{652}", "\u{62D}", "\u{64E}", "\u{628}", "\u{64B}", "\u{627}"],
               cl100k: ["\u{645}", "\u{64E}\u{631}", "\u{652}\u{62D}", "\u{64E}\u{628}", "\u{64B}\u{627}"],
               o200k: ["\u{645}\u{64E}\u{631}\u{652}\u{62D}\u{64E}\u{628}\u{64B}\u{627}"]),
        Golden("Hindi virama", "\u{939}\u{93F}\u{928}\u{94D}\u{926}\u{940} \u{928}\u{92E}\u{938}\u{94D}\u{924}\u{947}",
               gpt2: ["\u{939}", "\u{93F}", "\u{928}", "\u{94D}", "\u{926}", "\u{940}", " \u{928}\u{92E}\u{938}", "\u{94D}", "\u{924}", "\u{947}"],
               cl100k: ["\u{939}", "\u{93F}\u{928}", "\u{94D}\u{926}", "\u{940}", " \u{928}\u{92E}\u{938}", "\u{94D}\u{924}", "\u{947}"],
               o200k: ["\u{939}\u{93F}\u{928}\u{94D}\u{926}\u{940}", " \u{928}\u{92E}\u{938}\u{94D}\u{924}\u{947}"]),
        Golden("fullwidth digits", "\u{FF11}\u{FF12}\u{FF13}\u{FF14}\u{FF15} \u{FF21}\u{FF22}\u{FF23}",
               gpt2: ["\u{FF11}\u{FF12}\u{FF13}\u{FF14}\u{FF15}", " \u{FF21}\u{FF22}\u{FF23}"],
               cl100k: ["\u{FF11}\u{FF12}\u{FF13}", "\u{FF14}\u{FF15}", " \u{FF21}\u{FF22}\u{FF23}"],
               o200k: ["\u{FF11}\u{FF12}\u{FF13}", "\u{FF14}\u{FF15}", " \u{FF21}\u{FF22}\u{FF23}"]),
        Golden("Roman numerals", "\u{216B} \u{216B}\u{216B}\u{216B}\u{216B}",
               gpt2: ["\u{216B}", " \u{216B}\u{216B}\u{216B}\u{216B}"],
               cl100k: ["\u{216B}", " ", "\u{216B}\u{216B}\u{216B}", "\u{216B}"],
               o200k: ["\u{216B}", " ", "\u{216B}\u{216B}\u{216B}", "\u{216B}"]),
        Golden("superscripts", "x\u{B2} + y\u{B3} = \u{BD}",
               gpt2: ["x", "\u{B2}", " +", " y", "\u{B3}", " =", " \u{BD}"],
               cl100k: ["x", "\u{B2}", " +", " y", "\u{B3}", " =", " ", "\u{BD}"],
               o200k: ["x", "\u{B2}", " +", " y", "\u{B3}", " =", " ", "\u{BD}"]),
        Golden("CamelCase", "HelloWorld HTTPServer iPhone",
               gpt2: ["HelloWorld", " HTTPServer", " iPhone"],
               cl100k: ["HelloWorld", " HTTPServer", " iPhone"],
               o200k: ["Hello", "World", " HTTPServer", " i", "Phone"]),
        Golden("slashes", "x/y//z\n/ /usr/bin/env",
               gpt2: ["x", "/", "y", "//", "z", "\n", "/", " /", "usr", "/", "bin", "/", "env"],
               cl100k: ["x", "/y", "//", "z", "\n", "/", " /", "usr", "/bin", "/env"],
               o200k: ["x", "/y", "//", "z", "\n", "/", " /", "usr", "/bin", "/env"]),
        Golden("punctuation newlines", "end.\n\nNext!\r\n",
               gpt2: ["end", ".", "\n", "\n", "Next", "!", "\r\n"],
               cl100k: ["end", ".\n\n", "Next", "!\r\n"],
               o200k: ["end", ".\n\n", "Next", "!\r\n"]),
        Golden("no-break spaces", "\u{A0}nbsp a\u{3000}b \u{85}x",
               gpt2: ["\u{A0}", "nbsp", " a", "\u{3000}", "b", " ", "\u{85}", "x"],
               cl100k: ["\u{A0}nbsp", " a", "\u{3000}b", " ", "\u{85}x"],
               o200k: ["\u{A0}nbsp", " a", "\u{3000}b", " ", "\u{85}x"]),
        Golden("information separator", "a\u{1C}b\u{1F}",
               gpt2: ["a", "\u{1C}", "b", "\u{1F}"],
               cl100k: ["a", "\u{1C}b", "\u{1F}"],
               o200k: ["a", "\u{1C}b", "\u{1F}"]),
        Golden("zero width", "a\u{200B}b\u{FEFF}c",
               gpt2: ["a", "\u{200B}", "b", "\u{FEFF}", "c"],
               cl100k: ["a", "\u{200B}b", "\u{FEFF}c"],
               o200k: ["a", "\u{200B}b", "\u{FEFF}c"]),
        Golden("titlecase", "\u{1C5}emo \u{1C4}EMO",
               gpt2: ["\u{1C5}emo", " \u{1C4}EMO"],
               cl100k: ["\u{1C5}emo", " \u{1C4}EMO"],
               o200k: ["\u{1C5}emo", " \u{1C4}EMO"]),
        Golden("modifier letter", "\u{2B0}a a\u{2B0}",
               gpt2: ["\u{2B0}a", " a\u{2B0}"],
               cl100k: ["\u{2B0}a", " a\u{2B0}"],
               o200k: ["\u{2B0}a", " a\u{2B0}"]),
        Golden("private use", "\u{E000}x\u{10FFFF}",
               gpt2: ["\u{E000}", "x", "\u{10FFFF}"],
               cl100k: ["\u{E000}x", "\u{10FFFF}"],
               o200k: ["\u{E000}x", "\u{10FFFF}"]),
        Golden("math letters", "\u{1D400}\u{1D41A}\u{1D400}",
               gpt2: ["\u{1D400}\u{1D41A}\u{1D400}"],
               cl100k: ["\u{1D400}\u{1D41A}\u{1D400}"],
               o200k: ["\u{1D400}\u{1D41A}", "\u{1D400}"]),
        Golden("CJK extension B", "\u{20000}\u{20001}a",
               gpt2: ["\u{20000}\u{20001}a"],
               cl100k: ["\u{20000}\u{20001}a"],
               o200k: ["\u{20000}\u{20001}a"]),
        Golden("Unicode 17 letter", "\u{88F}a \u{C5C}b",
               gpt2: ["\u{88F}", "a", " \u{C5C}", "b"],
               cl100k: ["\u{88F}a", " \u{C5C}", "b"],
               o200k: ["\u{88F}a", " \u{C5C}", "b"]),
        Golden("mark after prefix", "!\u{301}A \u{301}AB",
               gpt2: ["!\u{301}", "A", " \u{301}", "AB"],
               cl100k: ["!\u{301}", "A", " \u{301}", "AB"],
               o200k: ["!\u{301}", "A", " \u{301}", "AB"]),
]

@Test(arguments: goldenCases)
func scannerAndReferenceMatchTiktoken(_ golden: Golden) {
    let referenceApplies = !golden.text.unicodeScalars.contains(where: isNewerThanTiktoken)
    for pattern in PreTokenizerPattern.allCases {
        let expected = golden.pieces(pattern).map { Array($0.utf8) }
        #expect(expected.flatMap { $0 } == Array(golden.text.utf8), "golden \(pattern) pieces")
        let pieces = PreTokenizer(pattern).split(golden.text)
        #expect(pieces.map { Array($0.utf8) } == expected, "scanner, \(pattern)")
        let ranges = scannerRanges(golden.text, pattern)
        #expect(ranges.map(\.count) == expected.map(\.count), "scanner ranges, \(pattern)")
        if referenceApplies {
            let reference = PreTokenizer.referenceSplit(golden.text, pattern)
            #expect(reference.map { Array($0.utf8) } == expected, "reference, \(pattern)")
        }
    }
}

// MARK: - Edge cases against the reference

let edgeCases: [String] = [
    "", "a", " ", "\n", "'", "\u{0}", "\u{7F}",
    "\u{1F469}\u{200D}\u{1F4BB} \u{1F3F3}\u{FE0F}\u{200D}\u{1F308} \u{1F1EF}\u{1F1F5}\u{1F1E9}\u{1F1EA}",
    "\u{1F44B}\u{1F3FF}\u{1F44B}\u{1F3FB}hi", "漢字かなカナ한글 中文，标点。", "a\u{300}\u{301}\u{302}b \u{300}x",
    "don't DON'T I'm I'M We'Ve THEY'RE she'D it'll 'tis", "12345678 1234567 ١٢٣٤٥ ๑๒๓",
    String(repeating: " ", count: 50) + "word", String(repeating: "\t", count: 7) + "x",
    "\r\n\r\n", "\r\r\n\n \r\n", "a\r\n \r\n b", "\ttab\t \tend\t", "trailing   ", "trailing \u{3000}",
    "lines\n\n\n", "<|endoftext|><|endoftext|>", "The end.<|endoftext|>Next", "السلام عليكم ورحمة الله",
    "क्षत्रिय स्वतंत्रता", "１２３４ｶﾀｶﾅ", "Ⅻ ⅻ Ⅷ", "x²³ ¼½¾ ⁿ", "ΑΒΓ αβγ ΣΊΣΥΦΟΣ", "İstanbul ß ẞ",
    "camelCaseWords XMLHttpRequest ÉCOLEétude", "/usr/local/bin// \n/ ?!/\n", "$100,000.00 (approx.)",
    "\u{A0}\u{A0}x \u{2028}\u{2029}\u{85}", "\u{1C}\u{1D}\u{1E}\u{1F} \u{B}\u{C}", "\u{17F}\u{17F}'\u{17F}\u{17F}",
    "'\u{17F} '\u{212A} 'LL 'Ll ’s", "\u{1D400}\u{1D401}\u{1D41A}", "ǅa ǈA ǋ", "a\u{2B0}\u{2B0}A",
]

@Test(arguments: edgeCases, PreTokenizerPattern.allCases)
func scannerMatchesReferenceOnEdgeCases(_ text: String, _ pattern: PreTokenizerPattern) {
    let fast = scannerRanges(text, pattern)
    #expect(covers(fast, text.utf8.count))
    #expect(difference(text, fast, referenceRanges(text, pattern)) == nil)
}

// MARK: - Real documents

/// Every `count / 300`-th document of a corpus (so all its sources are in), at most 300.
private func sampleDocuments(_ file: String, count: Int = 300) throws -> [String] {
    let result = try Fixtures.run("zstd", ["-dc", Fixtures.corpora + "/" + file])
    guard result.status == 0 else { throw CorpusError(message: "zstd -dc \(file): \(result.stderr)") }
    let lines = result.stdout.utf8.split(separator: UInt8(ascii: "\n"))
    let step = max(1, lines.count / count)
    return try stride(from: 0, to: lines.count, by: step).prefix(count).map { index in
        let object = try JSONSerialization.jsonObject(with: Data(lines[index]))
        guard let text = (object as? [String: Any])?["text"] as? String else {
            throw CorpusError(message: "\(file) line \(index + 1) has no text")
        }
        return text
    }
}

private struct CorpusError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Each corpus is read once for the three patterns.
private let englishSample = Result { try sampleDocuments("en-docs.jsonl.zst") }
private let chineseSample = Result { try sampleDocuments("zh-docs.jsonl.zst") }

private func checkCorpus(_ file: String, _ sample: Result<[String], any Error>, _ pattern: PreTokenizerPattern) throws {
    let documents = try sample.get()
    #expect(documents.count == 300)
    var failures = 0
    for (index, text) in documents.enumerated() {
        let fast = scannerRanges(text, pattern)
        #expect(covers(fast, text.utf8.count))
        if let difference = difference(text, fast, referenceRanges(text, pattern)) {
            failures += 1
            if failures <= 3 { Issue.record("\(file) document \(index), \(pattern): \(difference)") }
        }
    }
    #expect(failures == 0, "\(failures) of \(documents.count) documents differ")
}

@Test(arguments: PreTokenizerPattern.allCases)
func englishDocuments(_ pattern: PreTokenizerPattern) throws {
    try checkCorpus("en-docs.jsonl.zst", englishSample, pattern)
}

@Test(arguments: PreTokenizerPattern.allCases)
func chineseDocuments(_ pattern: PreTokenizerPattern) throws {
    try checkCorpus("zh-docs.jsonl.zst", chineseSample, pattern)
}

// MARK: - Random strings

/// Characters and fragments that sit on the edges of the patterns' classes.
private let trickyPool: [String] = [
    "a", "z", "A", "Z", "s", "S", "t", "T", "l", "L", "v", "V", "e", "E", "r", "R", "d", "D", "m", "M",
    "ll", "re", "VE", "'", "'", "'", "\"", "0", "7", "123", " ", " ", " ", "  ", "\t", "\n", "\r", "\r\n",
    "\u{B}", "\u{C}", "\u{85}", "\u{A0}", "\u{1680}", "\u{2000}", "\u{2028}", "\u{202F}", "\u{3000}",
    "\u{1C}", "\u{1F}", "\u{200B}", "\u{FEFF}", "\u{180E}", "\u{AD}", "!", ".", ",", "/", "//", "-", "(",
    "$", "<|endoftext|>", "é", "e\u{301}", "\u{301}", "\u{903}", "\u{20DD}", "\u{17F}", "\u{212A}",
    "\u{1C5}", "\u{2B0}", "\u{AA}", "中", "文", "ひ", "カ", "한", "ع", "\u{64E}", "ह", "ि", "्", "١",
    "１", "Ⅻ", "²", "½", "😀", "👨\u{200D}👩\u{200D}👧", "🇺🇸", "\u{200D}", "\u{FE0F}", "\u{1D400}",
    "\u{1D41A}", "\u{20000}", "\u{E0001}", "\u{1F3FB}", "İ", "ß", "Σ", "ς", "\u{2126}", "\u{378}",
    "\u{E000}", "\u{10FFFF}", "Hello", "WORLD", "don't", "I'M", "we're", "x/y",
]

@Test(arguments: PreTokenizerPattern.allCases)
func scannerMatchesReferenceOnRandomStrings(_ pattern: PreTokenizerPattern) {
    var random = TestRandom(seed: 0x5EED_0000 + UInt64(pattern.rawValue.utf8.count))
    var failures = 0
    for _ in 0..<2000 {
        let length = Int.random(in: 0...16, using: &random)
        let text = (0..<length).map { _ in trickyPool.randomElement(using: &random) ?? "" }.joined()
        let fast = scannerRanges(text, pattern)
        #expect(covers(fast, text.utf8.count))
        if let difference = difference(text, fast, referenceRanges(text, pattern)) {
            failures += 1
            if failures <= 3 { Issue.record("\(pattern) \(String(reflecting: text)): \(difference)") }
        }
    }
    #expect(failures == 0)
}

// MARK: - Invalid UTF-8

/// `bytes` as a String with each byte that does not start a well-formed UTF-8 sequence replaced
/// by U+FFFD (the scanner's reading of invalid bytes: one symbol each), and for each UTF-8 byte of
/// that String the offset in `bytes` it comes from, followed by `bytes.count`.
private func replacingInvalidBytes(_ bytes: [UInt8]) -> (text: String, origin: [Int]) {
    var out: [UInt8] = []
    var origin: [Int] = []
    var i = 0
    while i < bytes.count {
        var parser = Unicode.UTF8.ForwardParser()
        var input = bytes[i...].makeIterator()
        if case .valid(let sequence) = parser.parseScalar(from: &input) {
            out += sequence
            origin += i..<(i + sequence.count)
            i += sequence.count
        } else {
            out += [0xEF, 0xBF, 0xBD]
            origin += [i, i, i]
            i += 1
        }
    }
    origin.append(bytes.count)
    return (String(decoding: out, as: UTF8.self), origin)
}

@Test(arguments: PreTokenizerPattern.allCases)
func invalidBytesAreSymbols(_ pattern: PreTokenizerPattern) {
    let invalid: [[UInt8]] = [[0x80], [0xBF], [0xC0], [0xC1], [0xC2], [0xE4, 0xB8], [0xED, 0xA0, 0x80],
                              [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5], [0xFE], [0xFF]]
    var random = TestRandom(seed: 0xBAD_0000 + UInt64(pattern.rawValue.utf8.count))
    var failures = 0
    for _ in 0..<1000 {
        var bytes: [UInt8] = []
        for _ in 0..<Int.random(in: 0...16, using: &random) {
            switch Int.random(in: 0..<4, using: &random) {
            case 0: bytes += invalid.randomElement(using: &random) ?? []
            case 1: bytes.append(UInt8.random(in: 0...255, using: &random))
            default: bytes += Array((trickyPool.randomElement(using: &random) ?? "").utf8)
            }
        }
        var ranges: [Range<Int>] = []
        bytes.withUnsafeBufferPointer { PreTokenizer(pattern).split($0, into: &ranges) }
        #expect(covers(ranges, bytes.count))
        let (text, origin) = replacingInvalidBytes(bytes)
        let expected = referenceRanges(text, pattern).map { origin[$0.lowerBound]..<origin[$0.upperBound] }
        if ranges != expected {
            failures += 1
            if failures <= 3 { Issue.record("\(pattern) \(bytes): scanner \(ranges) reference \(expected)") }
        }
    }
    #expect(failures == 0)
}

// MARK: - Linear time

/// A megabyte made of `unit` repeated between `prefix` and `suffix`.
struct Pathological: Sendable, CustomTestStringConvertible {
    let name: String
    let prefix: String
    let unit: [UInt8]
    let suffix: String

    init(_ name: String, _ unit: String, prefix: String = "", suffix: String = "") {
        self.init(name, Array(unit.utf8), prefix: prefix, suffix: suffix)
    }

    init(_ name: String, _ unit: [UInt8], prefix: String = "", suffix: String = "") {
        self.name = name
        self.prefix = prefix
        self.unit = unit
        self.suffix = suffix
    }

    func bytes(size: Int) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        while bytes.count < size { bytes += unit }
        return bytes + Array(suffix.utf8)
    }

    var testDescription: String { name }
}

let pathologicalCases: [Pathological] = [
    Pathological("letters", "a"), Pathological("capitals", "A"), Pathological("digits", "7"),
    Pathological("punctuation", "!"), Pathological("apostrophes", "'"), Pathological("contractions", "'s"),
    Pathological("spaces", " "), Pathological("spaces then a word", " ", suffix: "word"),
    Pathological("spaces then a line break", " ", prefix: "x", suffix: "\nx"),
    Pathological("line break then spaces", " ", prefix: "\n", suffix: "x"),
    Pathological("line breaks", "\n"), Pathological("CRLF", "\r\n"), Pathological("tabs then a word", "\t", suffix: "x"),
    Pathological("ideographic spaces", "\u{3000}"), Pathological("combining marks", "\u{301}"),
    Pathological("mark then capitals", "A", prefix: "\u{301}"), Pathological("capitals then a small letter", "A", suffix: "a"),
    Pathological("capitals and marks", "AB\u{301}"), Pathological("CJK", "中"), Pathological("emoji", "😀"),
    Pathological("no spaces", "word,word.Word!42"), Pathological("space and letter", " a"),
    Pathological("space and punctuation", " ."), Pathological("symbol and space", "! "),
    Pathological("invalid bytes", [0xFF]), Pathological("truncated sequences", [0xE4, 0xB8]),
]

@Test(arguments: pathologicalCases)
func splitIsLinear(_ input: Pathological) {
    let bytes = input.bytes(size: 1 << 20)
    for pattern in PreTokenizerPattern.allCases {
        var ranges: [Range<Int>] = []
        let elapsed = ContinuousClock().measure {
            bytes.withUnsafeBufferPointer { PreTokenizer(pattern).split($0, into: &ranges) }
        }
        #expect(covers(ranges, bytes.count), "\(pattern)")
        // A quadratic scan of a megabyte takes hours; a linear one milliseconds (seconds in a
        // debug build on a slow machine).
        #expect(elapsed < .seconds(20), "\(pattern): \(elapsed)")
        // The same shape, small enough for the reference's backtracking.
        let small = input.bytes(size: 2000)
        if let text = String(validating: small, as: UTF8.self) {
            #expect(difference(text, scannerRanges(text, pattern), referenceRanges(text, pattern)) == nil,
                    "\(pattern)")
        }
    }
}

// MARK: - API

@Test func splitAppendsToRanges() {
    let tokenizer = PreTokenizer(.gpt2)
    var ranges: [Range<Int>] = [0..<1]
    let text: [UInt8] = Array("Hi there".utf8)
    text.withUnsafeBufferPointer { tokenizer.split($0, into: &ranges) }
    #expect(ranges == [0..<1, 0..<2, 2..<8])
    UnsafeBufferPointer<UInt8>(start: nil, count: 0).withMemoryRebound(to: UInt8.self) {
        tokenizer.split($0, into: &ranges)
    }
    #expect(ranges.count == 3)
    #expect(tokenizer.split("").isEmpty)
}

@Test func patternsAreCodableByName() throws {
    let data = try JSONEncoder().encode(PreTokenizerPattern.allCases)
    #expect(String(decoding: data, as: UTF8.self) == #"["gpt2","cl100k","o200k"]"#)
    #expect(try JSONDecoder().decode([PreTokenizerPattern].self, from: data) == PreTokenizerPattern.allCases)
}

@Test func referencePatternDiffersOnlyByLongS() {
    for pattern in PreTokenizerPattern.allCases {
        let source = pattern.regexSource
        let reference = PreTokenizer.referencePattern(pattern)
        #expect(reference.replacing("ſ", with: "").replacing("[s]", with: "s") == source)
        #expect(pattern == .gpt2 || reference.contains("ſ"))
    }
}

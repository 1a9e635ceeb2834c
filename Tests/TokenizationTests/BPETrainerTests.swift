@testable import Tokenization
import Testing
import TestSupport

/// The BPE trainer: golden merges, the tie rule, the fast trainer against the slow reference on
/// random and real text, vocabulary size and stopping rules, and independence from input order.
@Suite struct BPETrainerTests {
    // MARK: helpers

    static func options(vocab: Int, minFrequency: UInt64 = 1, maxTokenLength: Int = 0,
                        specials: [String] = []) -> BPETrainerOptions {
        var o = BPETrainerOptions()
        o.vocabSize = vocab
        o.minFrequency = minFrequency
        o.maxTokenLength = maxTokenLength
        o.specialTokens = specials
        return o
    }

    static func flat(_ merges: [(left: Int, right: Int)]) -> [[Int]] { merges.map { [$0.left, $0.right] } }

    static func counts(_ words: [String: UInt64]) -> [[UInt8]: UInt64] {
        Dictionary(uniqueKeysWithValues: words.map { (Array($0.key.utf8), $0.value) })
    }

    /// Pre-tokens of `text` for these tests: split at spaces, each piece after the first keeping
    /// its leading space (the real pre-tokenizer is not the trainer's concern).
    static func spaceSplitCounts(_ text: ArraySlice<UInt8>) -> [[UInt8]: UInt64] {
        var counts: [[UInt8]: UInt64] = [:]
        var start = text.startIndex
        for i in text.indices.dropFirst() where text[i] == 0x20 {
            counts[Array(text[start..<i]), default: 0] += 1
            start = i
        }
        if start < text.endIndex { counts[Array(text[start...]), default: 0] += 1 }
        return counts
    }

    /// The start of a corpus file's JSONL (escapes and all: it is just text here), decompressed
    /// once for all the tests.
    static func corpusPrefix(_ file: String, bytes: Int) throws -> ArraySlice<UInt8> {
        let all = try #require(file.hasPrefix("zh") ? zhPrefix : enPrefix, "cannot read \(file)")
        try #require(all.count >= bytes, "\(file) is shorter than \(bytes) bytes")
        return all[..<bytes]
    }

    static let enPrefix = decompressedPrefix("en-docs.jsonl.zst")
    static let zhPrefix = decompressedPrefix("zh-docs.jsonl.zst")

    static func decompressedPrefix(_ file: String) -> [UInt8]? {
        guard let r = try? Fixtures.run("zstd", ["-dc", Fixtures.corpora + "/" + file]), r.status == 0 else { return nil }
        return Array(r.stdout.utf8.prefix(400_000))
    }

    /// Fast and reference trainers agree, and the tokens they make are distinct byte strings that
    /// respect the length limit.
    static func expectSameAsReference(_ counts: [[UInt8]: UInt64], _ o: BPETrainerOptions,
                                      sourceLocation: SourceLocation = #_sourceLocation) {
        let fast = BPETrainer.train(counts: counts, options: o)
        let slow = BPETrainer.referenceMerges(counts: counts, options: o)
        #expect(flat(fast) == flat(slow), "options \(o)", sourceLocation: sourceLocation)
        let tokens = BPETrainer.tokens(merges: fast)
        #expect(Set(tokens).count == tokens.count, "a byte string made twice", sourceLocation: sourceLocation)
        if o.maxTokenLength > 0 {
            #expect(tokens.allSatisfy { $0.count <= o.maxTokenLength }, sourceLocation: sourceLocation)
        }
    }

    // MARK: golden merges

    /// minbpe's Wikipedia example, "aaabdaaabac": (a, a) comes first with 4, overlapping
    /// occurrences counted; then (a, b) and (aa, a) tie at 2 and (a, b) wins, a byte pair being
    /// smaller than any pair that starts with a merged token (minbpe, which takes the first pair
    /// it counted, makes "aaa" instead).
    @Test func wikipediaExample() {
        let merges = BPETrainer.train(counts: Self.counts(["aaabdaaabac": 1]), options: Self.options(vocab: 259))
        #expect(Self.flat(merges) == [[97, 97], [97, 98], [256, 257]])
        #expect(BPETrainer.tokens(merges: merges).suffix(3) == [Array("aa".utf8), Array("ab".utf8), Array("aaab".utf8)])
    }

    /// HF tokenizers' own trainer test (models/bpe/trainer.rs `test_train`): min_frequency 2
    /// leaves exactly the merges re, are, is.
    @Test func hfTokenizersTrainExample() {
        let counts = Self.counts(["roses": 1, "are": 2, "red": 1, "voilets": 1, "blue": 1, "BERT": 1,
                                  "is": 2, "big": 1, "and": 1, "so": 1, "GPT-2": 1])
        let merges = BPETrainer.train(counts: counts, options: Self.options(vocab: 30000, minFrequency: 2))
        let r = 114, e = 101, a = 97, i = 105, s = 115
        #expect(Self.flat(merges) == [[r, e], [a, 256], [i, s]])
    }

    /// The first merges that HF tokenizers 0.23.3 learns (BpeTrainer, min_frequency 2, the byte-level
    /// alphabet, the same pre-token counts): the trainer agrees with it.
    @Test func matchesHFTokenizersOnRealText() throws {
        let counts = Self.spaceSplitCounts(try Self.corpusPrefix("en-docs.jsonl.zst", bytes: 200_000))
        let merges = BPETrainer.train(counts: counts, options: Self.options(vocab: 256 + 100, minFrequency: 2))
        let tokens = BPETrainer.tokens(merges: merges)
        let text = merges.prefix(30).map { [String(decoding: tokens[$0.left], as: UTF8.self),
                                              String(decoding: tokens[$0.right], as: UTF8.self)] }
        let hf: [[String]] = [
            ["-", "-"], ["\\", "n"], [" ", "t"], ["--", "--"], ["h", "e"], ["^", "^"], ["~", "~"],
            [" ", "a"], [" t", "he"], ["r", "e"], ["i", "n"], ["\\", "t"], [" ", "o"], ["\\n", "\\n"],
            ["e", "r"], [" ", "s"], ["----", "----"], [" ", "w"], ["n", "d"], ["e", "s"], ["a", "t"],
            ["o", "n"], [" ", "f"], ["i", "s"], ["i", "t"], ["~~", "~~"], [" ", "b"], [" o", "f"],
            ["o", "r"], [" ", "c"],
        ]
        #expect(text == hf)
    }

    /// Ties go to the smaller pair in GPT-2's byte numbering, where letters come before the space
    /// ('a' is 64, ' ' is 220), not in byte order (' ' is 0x20, 'a' 0x61).
    @Test func tiesFollowGPT2ByteOrder() {
        let merges = BPETrainer.train(counts: Self.counts([" a": 1, "ab": 1]), options: Self.options(vocab: 258))
        #expect(Self.flat(merges) == [[97, 98], [32, 97]])
        // A merged token ranks after every byte: after "ab" (3 times), "  " and "ab"+"c" tie at 2,
        // and the space pair (220, 220) goes before (256, 'c').
        let more = BPETrainer.train(counts: Self.counts(["abc": 2, "ab": 1, "  ": 2]), options: Self.options(vocab: 259))
        #expect(Self.flat(more) == [[97, 98], [32, 32], [256, 99]])
    }

    @Test func gpt2ByteRanks() {
        let r = BPETrainer.gpt2ByteRank
        #expect(Set(r).count == 256)
        #expect(r[0x21] == 0 && r[0x30] == 15 && r[0x41] == 32 && r[0x61] == 64 && r[0x7E] == 93)
        #expect(r[0xA1] == 94 && r[0xFF] == 187 && r[0x00] == 188 && r[0x09] == 197 && r[0x0A] == 198)
        #expect(r[0x20] == 220 && r[0x7F] == 221 && r[0xA0] == 254 && r[0xAD] == 255)
    }

    // MARK: edge inputs

    @Test(arguments: [
        [:],
        ["a": 5],
        ["x": 3, "y": 1],
        ["ab": 0],
    ] as [[String: UInt64]])
    func nothingToMerge(_ words: [String: UInt64]) {
        #expect(BPETrainer.train(counts: Self.counts(words), options: Self.options(vocab: 1000)).isEmpty)
    }

    @Test(arguments: [
        ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": 3, "aaa": 1],
        ["👍🏽 ok": 2, "👍 ok": 3, "🇺🇳🇺🇳": 2],
        ["中文字符串中文": 4, "字符串": 2, " 中文": 3],
        ["abababab": 2, "babababa": 2, "aabb": 1],
    ] as [[String: UInt64]])
    func edgeCasesMatchTheReference(_ words: [String: UInt64]) {
        Self.expectSameAsReference(Self.counts(words), Self.options(vocab: 400))
        Self.expectSameAsReference(Self.counts(words), Self.options(vocab: 400, minFrequency: 3, maxTokenLength: 3))
    }

    @Test func invalidUTF8AndEveryByte() {
        var counts: [[UInt8]: UInt64] = [[0xFF, 0xFE, 0xFF, 0xFE]: 3, [0x80, 0x80, 0x80]: 2, [0, 0, 1]: 2]
        counts[(0...255).map(UInt8.init)] = 2
        counts[(0...255).reversed().map(UInt8.init)] = 1
        Self.expectSameAsReference(counts, Self.options(vocab: 600))
    }

    // MARK: fast against reference

    /// Random words over small alphabets (many ties, long runs of one letter) with random limits.
    @Test(arguments: 0..<8)
    func randomCorporaMatchTheReference(_ seed: UInt64) {
        var rng = TestRandom(seed: seed)
        for _ in 0..<50 {
            var counts: [[UInt8]: UInt64] = [:]
            let alphabet = Int.random(in: 1...5, using: &rng)
            for _ in 0..<Int.random(in: 1...40, using: &rng) {
                let word = (0..<Int.random(in: 1...20, using: &rng)).map { _ in
                    UInt8([0x20, 0x61, 0x62, 0xE4, 0xFF][Int.random(in: 0..<alphabet, using: &rng)])
                }
                counts[word, default: 0] += UInt64.random(in: 1...6, using: &rng)
            }
            let o = Self.options(vocab: 256 + Int.random(in: 0...120, using: &rng),
                                 minFrequency: UInt64.random(in: 0...3, using: &rng),
                                 maxTokenLength: [0, 0, 2, 3, 5].randomElement(using: &rng) ?? 0)
            Self.expectSameAsReference(counts, o)
        }
    }

    /// Real text, English and Chinese, with limits on frequency and token length.
    @Test(arguments: [
        ("en-docs.jsonl.zst", 1, 0), ("en-docs.jsonl.zst", 2, 0), ("en-docs.jsonl.zst", 5, 4),
        ("zh-docs.jsonl.zst", 2, 0), ("zh-docs.jsonl.zst", 3, 6),
    ] as [(String, UInt64, Int)])
    func realTextMatchesTheReference(_ file: String, _ minFrequency: UInt64, _ maxTokenLength: Int) throws {
        let counts = Self.spaceSplitCounts(try Self.corpusPrefix(file, bytes: 200_000))
        Self.expectSameAsReference(counts, Self.options(vocab: 256 + 100, minFrequency: minFrequency,
                                                        maxTokenLength: maxTokenLength))
    }

    /// A long run at a high minimum frequency: training stops on frequency, not on size.
    @Test func stopsWhenNoPairIsFrequentEnough() throws {
        let counts = Self.spaceSplitCounts(try Self.corpusPrefix("en-docs.jsonl.zst", bytes: 100_000))
        let o = Self.options(vocab: 100_000, minFrequency: 40)
        let merges = BPETrainer.train(counts: counts, options: o)
        #expect(merges.count > 20 && merges.count < o.mergeCount)
        #expect(Self.flat(merges) == Self.flat(BPETrainer.referenceMerges(counts: counts, options: o)))
    }

    /// Dropping the lists of merged pairs (done on big inputs only) changes nothing.
    @Test func compactingPlacesChangesNothing() throws {
        let counts = Self.spaceSplitCounts(try Self.corpusPrefix("zh-docs.jsonl.zst", bytes: 200_000))
        let o = Self.options(vocab: 256 + 2000, minFrequency: 2)
        var engine = BPETrainer.Engine(counts: counts, options: o)
        engine.compactionFloor = 0
        #expect(Self.flat(engine.run(mergeCount: o.mergeCount)) == Self.flat(BPETrainer.train(counts: counts, options: o)))
        #expect(engine.compactions >= 1)
    }

    // MARK: size, specials, order

    @Test(arguments: [256, 257, 300, 1000])
    func vocabularySizeIsExactAndCountsSpecials(_ vocab: Int) throws {
        let counts = Self.spaceSplitCounts(try Self.corpusPrefix("en-docs.jsonl.zst", bytes: 100_000))
        let specials = ["<|endoftext|>", "<|pad|>"]
        let o = Self.options(vocab: vocab, specials: specials)
        let merges = BPETrainer.train(counts: counts, options: o)
        #expect(merges.count == max(0, vocab - 256 - specials.count))
        #expect(BPETrainer.tokens(merges: merges).count + specials.count == max(vocab, 256 + specials.count))
        if vocab >= 258 { #expect(throws: Never.self) { try o.validate() } }
        else { #expect(throws: BPETrainerError.self) { try o.validate() } }
        // The default options: 8,192 tokens with <|endoftext|>, so 7,935 merges at most.
        #expect(BPETrainerOptions.defaults.mergeCount == 8192 - 256 - 1)
    }

    /// The same counts built in different orders (so the dictionary iterates differently) give
    /// the same merges.
    @Test func inputOrderDoesNotMatter() throws {
        let counts = Self.spaceSplitCounts(try Self.corpusPrefix("en-docs.jsonl.zst", bytes: 150_000))
        let o = Self.options(vocab: 256 + 400, minFrequency: 2)
        let expected = Self.flat(BPETrainer.train(counts: counts, options: o))
        var rng = TestRandom(seed: 7)
        for capacity in [0, 1 << 17] {
            var shuffled: [[UInt8]: UInt64] = [:]
            shuffled.reserveCapacity(capacity)
            for (k, v) in counts.shuffled(using: &rng) { shuffled[k] = v }
            #expect(Self.flat(BPETrainer.train(counts: shuffled, options: o)) == expected)
        }
    }

    @Test func validateRejectsBadOptions() {
        var o = BPETrainerOptions()
        #expect(throws: Never.self) { try o.validate() }
        o.maxTokenLength = -1
        #expect(throws: BPETrainerError.self) { try o.validate() }
        o = BPETrainerOptions()
        o.specialTokens = ["<|a|>", "<|a|>"]
        #expect(throws: BPETrainerError.self) { try o.validate() }
        o.specialTokens = [""]
        #expect(throws: BPETrainerError.self) { try o.validate() }
    }

    @Test func tokensOfMerges() {
        let tokens = BPETrainer.tokens(merges: [(104, 105), (256, 256), (32, 257)])
        #expect(tokens.count == 259)
        #expect(tokens[0] == [0] && tokens[255] == [255])
        #expect(tokens[256...] == [Array("hi".utf8), Array("hihi".utf8), Array(" hihi".utf8)])
    }
}

import Testing
import TestSupport
@testable import Tokenization

// MARK: Shared test data

/// Documents of the corpora in ../shared/corpora (empty when the corpus cannot be read).
enum Corpus {
    static let english: [[UInt8]] = documents("en-docs")
    static let chinese: [[UInt8]] = documents("zh-docs")

    /// The first documents of `docs` up to about `bytes` bytes.
    static func prefix(_ docs: [[UInt8]], bytes: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var total = 0
        for d in docs where total < bytes {
            out.append(d)
            total += d.count
        }
        return out
    }

    private static func documents(_ name: String) -> [[UInt8]] {
        guard let r = try? Fixtures.run("zstd", ["-dc", Fixtures.corpora + "/\(name).jsonl.zst"]), r.status == 0 else {
            return []
        }
        // Kiln's own JSON reader: Foundation's JSONSerialization drops a U+FEFF that begins a string.
        return r.stdout.utf8.split(separator: UInt8(ascii: "\n")).compactMap { line in
            (try? JSONReader.parse(Array(line)))?["text"]?.string.map { Array($0.utf8) }
        }
    }
}

/// Vocabularies for the tests, learned by a naive trainer (no GPT-2 vocabulary is available offline).
enum TestVocabulary {
    /// minbpe style over pre-tokenized words: count adjacent pairs, merge the most frequent (the
    /// smallest pair on a tie), repeat. Single bytes come first in GPT-2's order, then one token per
    /// merge (a merge that spells an existing token reuses it), so the result has GPT-2's layout.
    static func train(_ texts: [[UInt8]], merges: Int) -> [[UInt8]] {
        let pre = PreTokenizer(.gpt2)
        var wordCounts: [[UInt8]: Int] = [:]
        var ranges: [Range<Int>] = []
        for t in texts {
            t.withUnsafeBufferPointer { text in
                ranges.removeAll(keepingCapacity: true)
                pre.split(text, into: &ranges)
                for r in ranges { wordCounts[Array(text[r]), default: 0] += 1 }
            }
        }
        var vocab = ByteLevel.gpt2ByteOrder.map { [$0] }
        var idOf: [[UInt8]: Int] = [:]
        for (i, t) in vocab.enumerated() { idOf[t] = i }
        var words = wordCounts.filter { $0.key.count > 1 }
            .sorted { $0.key.lexicographicallyPrecedes($1.key) }
            .map { (ids: $0.key.map { idOf[[$0]] ?? 0 }, count: $0.value) }
        // Pair counts, kept up to date as words change.
        var pairCounts: [Int: Int] = [:]
        func count(_ ids: [Int], _ weight: Int) {
            for i in 0 ..< ids.count - 1 { pairCounts[ids[i] << 20 | ids[i + 1], default: 0] += weight }
        }
        for w in words { count(w.ids, w.count) }
        for _ in 0..<merges {
            guard let best = pairCounts.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }), best.value >= 2 else { break }
            let a = best.key >> 20, b = best.key & 0xFFFFF
            let token = vocab[a] + vocab[b]
            let id: Int
            if let existing = idOf[token] {
                id = existing
            } else {
                id = vocab.count
                vocab.append(token)
                idOf[token] = id
            }
            for w in words.indices where words[w].ids.count > 1 {
                let old = words[w].ids
                var found = false
                for i in 0 ..< old.count - 1 where old[i] == a && old[i + 1] == b {
                    found = true
                    break
                }
                guard found else { continue }
                var ids: [Int] = []
                var i = 0
                while i < old.count {
                    if i + 1 < old.count, old[i] == a, old[i + 1] == b {
                        ids.append(id)
                        i += 2
                    } else {
                        ids.append(old[i])
                        i += 1
                    }
                }
                count(old, -words[w].count)
                if ids.count > 1 { count(ids, words[w].count) }
                words[w].ids = ids
            }
        }
        return vocab
    }

    /// 400 merges learned from about 120 kB of English and 40 kB of Chinese text.
    static let mixed: [[UInt8]] = train(Corpus.prefix(Corpus.english, bytes: 120_000)
        + Corpus.prefix(Corpus.chinese, bytes: 40_000), merges: 400)

    static let endOfText = "<|endoftext|>"

    /// `mixed` with `<|endoftext|>` after the last token, as in GPT-2.
    static func tokenizer() throws -> Tokenizer {
        try Tokenizer(vocabulary: mixed, specialTokens: [endOfText: mixed.count], pattern: .gpt2)
    }
}

/// A small deterministic random generator (SplitMix64), so failures reproduce.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: Tests

@Suite struct BPETests {
    @Test func sha256KnownVectors() {
        func hex(_ s: String) -> String {
            var sha = SHA256()
            sha.update(Array(s.utf8))
            return sha.finalize().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
        // FIPS 180-4 examples and the empty string.
        #expect(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex(String(repeating: "a", count: 1000))
            == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func byteLevelTable() {
        #expect(ByteLevel.scalarForByte[0x20] == "\u{120}")  // 'Ġ'
        #expect(ByteLevel.scalarForByte[0x0A] == "\u{10A}")  // 'Ċ'
        #expect(ByteLevel.scalarForByte[0x00] == "\u{100}")
        #expect(ByteLevel.scalarForByte[0x7F] == "\u{121}")
        #expect(ByteLevel.scalarForByte[0xA0] == "\u{142}")
        #expect(ByteLevel.scalarForByte[0xAD] == "\u{143}")
        #expect(ByteLevel.scalarForByte[0x41] == "A")
        // GPT-2's single-byte ids (FORMATS.md §3.3).
        let order = ByteLevel.gpt2ByteOrder
        #expect(order[0] == UInt8(ascii: "!") && order[15] == UInt8(ascii: "0") && order[64] == UInt8(ascii: "a"))
        #expect(order[187] == 0xFF && order[188] == 0x00 && order[198] == 0x0A && order[220] == 0x20)
        #expect(order[221] == 0x7F && order[254] == 0xA0 && order[255] == 0xAD)
        let all = (0...255).map(UInt8.init)
        #expect(ByteLevel.decode(ByteLevel.encode(all)) == all)
        #expect(Set(ByteLevel.scalarForByte).count == 256)
        #expect(ByteLevel.decode("a b") == nil)
    }

    /// Random rank tables over a three-letter alphabet make many overlapping tokens and ties; the
    /// loop, the heap and the reference must agree on every piece, short and long.
    @Test(arguments: 0..<6)
    func fastMatchesReferenceOnRandomRanks(seed: Int) throws {
        var rng = SeededRandom(seed: UInt64(seed))
        let letters: [UInt8] = Array("abc".utf8)
        var tokens = Set((0...255).map { [UInt8($0)] })
        while tokens.count < 256 + 60 {
            tokens.insert((0 ..< Int.random(in: 2...6, using: &rng)).map { _ in letters.randomElement(using: &rng) ?? 0 })
        }
        let ordered = Array(tokens).shuffled(using: &rng)
        let ranks = Dictionary(uniqueKeysWithValues: ordered.enumerated().map { ($0.element, $0.offset) })
        let bpe = try BytePairEncoding(ranks: ranks)
        for _ in 0..<300 {
            let n = Int.random(in: 1...120, using: &rng)
            let piece = (0..<n).map { _ in letters.randomElement(using: &rng) ?? 0 }
            let expected = BytePairEncoding.referenceEncode(piece, ranks: ranks)
            piece.withUnsafeBufferPointer { p in
                bpe.withHandle { h in
                    var fast: [Int] = [], long: [Int] = [], short: [Int] = []
                    h.encode(p, into: &fast)
                    #expect(fast == expected, "piece \(String(decoding: piece, as: UTF8.self))")
                    // Both merge loops, whatever the length, without the whole-piece shortcut.
                    if n >= 2 { h.mergeLong(p, limit: BytePairEncoding.noRank, into: &long) }
                    if n <= BytePairEncoding.heapThreshold { h.mergeShort(p, limit: BytePairEncoding.noRank, into: &short) }
                    if ranks[piece] == nil {
                        if n >= 2 { #expect(long == expected) }
                        if n <= BytePairEncoding.heapThreshold { #expect(short == expected) }
                    }
                }
            }
        }
    }

    /// Every piece of real English and Chinese text, through the fast encoder and the reference.
    @Test func fastMatchesReferenceOnCorpusText() throws {
        let docs = Corpus.prefix(Corpus.english, bytes: 300_000) + Corpus.prefix(Corpus.chinese, bytes: 150_000)
        try #require(!docs.isEmpty, "corpora not readable")
        let tokenizer = try TestVocabulary.tokenizer()
        let ranks = tokenizer.ranks
        var ranges: [Range<Int>] = []
        var pieces = 0, mismatches = 0
        for doc in docs {
            doc.withUnsafeBufferPointer { text in
                ranges.removeAll(keepingCapacity: true)
                tokenizer.preTokenizer.split(text, into: &ranges)
                tokenizer.bpe.withHandle { h in
                    for r in ranges {
                        var ids: [Int] = []
                        h.encode(UnsafeBufferPointer(rebasing: text[r]), into: &ids)
                        pieces += 1
                        if ids != BytePairEncoding.referenceEncode(Array(text[r]), ranks: ranks) { mismatches += 1 }
                    }
                }
            }
        }
        #expect(pieces > 50_000)
        #expect(mismatches == 0)
    }

    static let roundTripCases: [(String, [UInt8])] = [
        ("empty", []),
        ("one byte", [0x41]),
        ("NUL and controls", [0, 1, 2, 0x7F, 0x0A, 0x0D, 0x09]),
        ("emoji", Array("I 👍🏽 this! 👨‍👩‍👧‍👦 family 🏳️‍🌈".utf8)),
        ("CJK", Array("中文分词测试，日本語のテキスト、한국어 텍스트。".utf8)),
        ("invalid UTF-8", [0xFF, 0xFE, 0x80, 0x41, 0xC3, 0x28, 0xE2, 0x82, 0xF0, 0x9F, 0x98, 0x20, 0xC0, 0xAF]),
        ("lone surrogate encoded", [0xED, 0xA0, 0x80, 0x61]),
        ("truncated at end", Array("héllo".utf8) + [0xE4, 0xB8]),
        ("spaces", Array("   a  b\t\t\n\n  \r\n ".utf8)),
        ("special spelled", Array("x<|endoftext|>y<|endoftext|>".utf8)),
        ("contractions", Array("I'm we'll they're you've it's 'd 'S".utf8)),
        ("all bytes", (0...255).map(UInt8.init)),
    ]

    @Test(arguments: roundTripCases)
    func decodeInvertsEncode(name: String, bytes: [UInt8]) throws {
        let tokenizer = try TestVocabulary.tokenizer()
        #expect(try tokenizer.decode(tokenizer.encodeOrdinary(bytes)) == bytes, "\(name)")
        #expect(try tokenizer.decode(tokenizer.encode(bytes, allowedSpecial: [TestVocabulary.endOfText])) == bytes)
        let bytesOnly = try Tokenizer(vocabulary: (0...255).map { [UInt8($0)] }, pattern: .gpt2)
        #expect(bytesOnly.encodeOrdinary(bytes) == bytes.map(Int.init))
    }

    @Test func decodeInvertsEncodeOnRandomBytes() throws {
        let tokenizer = try TestVocabulary.tokenizer()
        var rng = SeededRandom(seed: 42)
        let text = Array("the quick brown fox 中文 ".utf8)
        for _ in 0..<200 {
            let n = Int.random(in: 0...3000, using: &rng)
            // Half random bytes, half text with random bytes mixed in.
            let bytes: [UInt8] = Bool.random(using: &rng)
                ? (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                : (0..<n).map { _ in Int.random(in: 0..<10, using: &rng) == 0
                    ? UInt8.random(in: 0...255, using: &rng) : text.randomElement(using: &rng) ?? 0 }
            #expect(try tokenizer.decode(tokenizer.encodeOrdinary(bytes)) == bytes)
        }
    }

    @Test func decodeInvertsEncodeOnCorpusText() throws {
        let docs = Corpus.prefix(Corpus.english, bytes: 500_000) + Corpus.prefix(Corpus.chinese, bytes: 200_000)
        try #require(!docs.isEmpty, "corpora not readable")
        let tokenizer = try TestVocabulary.tokenizer()
        var bytes = 0, tokens = 0
        for doc in docs {
            let ids = tokenizer.encodeOrdinary(doc)
            #expect(try tokenizer.decode(ids) == doc)
            bytes += doc.count
            tokens += ids.count
        }
        // The merges must do something: well under one token per byte.
        #expect(Double(tokens) < 0.6 * Double(bytes))
    }

    /// One megabyte without spaces is one pre-token; the heap keeps it O(n log n) where a scan for
    /// the lowest pair would take hours.
    @Test(arguments: ["repeated", "letters"])
    func pathologicalInputFinishesQuickly(kind: String) throws {
        // The test vocabulary plus runs of "a", so that the repeated input has merges to make.
        let runs = [2, 3, 4, 8, 16, 64].map { [UInt8](repeating: UInt8(ascii: "a"), count: $0) }
        let tokenizer = try Tokenizer(vocabulary: TestVocabulary.mixed + runs.filter { !TestVocabulary.mixed.contains($0) },
                                      pattern: .gpt2)
        var rng = SeededRandom(seed: 7)
        let letters = Array("etaoinshrdlu".utf8)
        let input: [UInt8] = kind == "repeated"
            ? [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
            : (0 ..< 1 << 20).map { _ in letters.randomElement(using: &rng) ?? 0 }
        let clock = ContinuousClock()
        var ids: [Int] = []
        let elapsed = clock.measure { ids = tokenizer.encodeOrdinary(input) }
        #expect(try tokenizer.decode(ids) == input)
        #expect(ids.count < input.count)
        // Debug builds run this in about a second; quadratic merging would take hours.
        #expect(elapsed < .seconds(60))

        // A few kilobytes of the same, heap against reference.
        let short = Array(input.prefix(1500))
        #expect(tokenizer.encodeOrdinary(short) == BytePairEncoding.referenceEncode(short, ranks: tokenizer.ranks))
    }

    @Test func specialTokens() throws {
        let vocab = TestVocabulary.mixed
        let eot = vocab.count, fim = vocab.count + 1, fimLong = vocab.count + 2
        let tokenizer = try Tokenizer(vocabulary: vocab,
                                      specialTokens: ["<|endoftext|>": eot, "<|fim|>": fim, "<|fim|>x": fimLong],
                                      pattern: .gpt2)
        let text = "Hello<|endoftext|> world<|fim|>x<|fim|>"
        let ordinary = tokenizer.encodeOrdinary(text)
        #expect(!ordinary.contains(eot) && !ordinary.contains(fim) && !ordinary.contains(fimLong))
        #expect(tokenizer.encode(text, allowedSpecial: []) == ordinary)

        let withEOT = tokenizer.encode(text, allowedSpecial: ["<|endoftext|>"])
        #expect(withEOT.filter { $0 >= eot } == [eot])
        #expect(Array(withEOT.prefix(while: { $0 != eot })) == tokenizer.encodeOrdinary("Hello"))
        #expect(Array(withEOT.drop(while: { $0 != eot }).dropFirst())
            == tokenizer.encodeOrdinary(" world<|fim|>x<|fim|>"))

        // Leftmost, then longest.
        let all = tokenizer.encode(text, allowedSpecial: Set(tokenizer.specialTokens.keys))
        #expect(all.filter { $0 >= eot } == [eot, fimLong, fim])
        #expect(try tokenizer.decode(all) == Array(text.utf8))

        // At the ends, back to back, and text that only starts like one.
        #expect(tokenizer.encode("<|fim|><|fim|>", allowedSpecial: ["<|fim|>"]) == [fim, fim])
        #expect(tokenizer.encode("<|fim", allowedSpecial: ["<|fim|>"]) == tokenizer.encodeOrdinary("<|fim"))
        #expect(tokenizer.encode("", allowedSpecial: ["<|fim|>"]) == [])
        // Names that are not special tokens are ignored.
        #expect(tokenizer.encode(text, allowedSpecial: ["Hello"]) == ordinary)
        #expect(tokenizer.bytes(forToken: eot) == Array("<|endoftext|>".utf8))
    }

    @Test func vocabularyChecks() throws {
        let bytes = (0...255).map { [UInt8($0)] }
        #expect(throws: TokenizerError.missingByte(0x41)) {
            try Tokenizer(vocabulary: bytes.filter { $0 != [0x41] } + [[0x41, 0x41]], pattern: .gpt2)
        }
        #expect(throws: TokenizerError.duplicateRank(256)) {
            try Tokenizer(vocabulary: bytes + [[0x41]], pattern: .gpt2)
        }
        #expect(throws: TokenizerError.emptyToken) { try Tokenizer(vocabulary: bytes + [[]], pattern: .gpt2) }
        #expect(throws: TokenizerError.specialTokenIDInUse("<|x|>", 3)) {
            try Tokenizer(vocabulary: bytes, specialTokens: ["<|x|>": 3], pattern: .gpt2)
        }
        #expect(throws: TokenizerError.emptySpecialToken) {
            try Tokenizer(vocabulary: bytes, specialTokens: ["": 300], pattern: .gpt2)
        }
        var ranks = Dictionary(uniqueKeysWithValues: bytes.enumerated().map { ($0.element, $0.offset) })
        ranks[[0x61, 0x62]] = 0
        #expect(throws: TokenizerError.duplicateRank(0)) { try Tokenizer(ranks: ranks, pattern: .gpt2) }

        // Holes in the id space: tiktoken's n_vocab is one past the largest id.
        ranks[[0x61, 0x62]] = 300
        let holes = try Tokenizer(ranks: ranks, specialTokens: ["<|endoftext|>": 400], pattern: .gpt2)
        #expect(holes.vocabularySize == 401)
        #expect(holes.encodeOrdinary("ab") == [300])
        #expect(throws: TokenizerError.unknownTokenID(299)) { try holes.decode([97, 299]) }
        #expect(throws: TokenizerError.unknownTokenID(-1)) { try holes.decode([-1]) }
        #expect(throws: TokenizerError.unknownTokenID(401)) { try holes.decode([401]) }
        #expect(holes.bytes(forToken: 299) == nil)
    }

    @Test func fingerprint() throws {
        let a = try TestVocabulary.tokenizer()
        let b = try TestVocabulary.tokenizer()
        #expect(a.fingerprint == b.fingerprint)
        #expect(a.fingerprint.count == 64 && a.fingerprint.allSatisfy(\.isHexDigit))
        let noSpecial = try Tokenizer(vocabulary: TestVocabulary.mixed, pattern: .gpt2)
        let otherPattern = try Tokenizer(vocabulary: TestVocabulary.mixed,
                                         specialTokens: [TestVocabulary.endOfText: TestVocabulary.mixed.count],
                                         pattern: .cl100k)
        let fewer = try Tokenizer(vocabulary: Array(TestVocabulary.mixed.dropLast()),
                                  specialTokens: [TestVocabulary.endOfText: TestVocabulary.mixed.count],
                                  pattern: .gpt2)
        #expect(Set([a.fingerprint, noSpecial.fingerprint, otherPattern.fingerprint, fewer.fingerprint]).count == 4)
        // The canonical text is fixed; this value was computed from it with Python's hashlib:
        // "kiln-tokenizer 1\npattern <PreTokenizerPattern.gpt2.regexSource>\nranks 257\n0 AA==\n...
        //  256 YWI=\nspecial 1\n257 PHxlbmRvZnRleHR8Pg==\n"
        let tiny = try Tokenizer(vocabulary: (0...255).map { [UInt8($0)] } + [[0x61, 0x62]],
                                 specialTokens: ["<|endoftext|>": 257], pattern: .gpt2)
        #expect(tiny.fingerprint == "00ffcae9eafd972048795b6e9ec99bf60b6b349f00613cba1ec9e5278b9e3d2e")
    }
}

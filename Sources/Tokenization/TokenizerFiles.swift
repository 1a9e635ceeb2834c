// Tokenizer files read and written (FORMATS.md §2.6, §3.4–3.6):
//   tokenizer.json           HF tokenizers: BPE model, ByteLevel pre-tokenizer and decoder, added tokens
//   vocab.json + merges.txt  GPT-2's encoder.json + vocab.bpe layout (HF `BPE.from_file`)
//   *.tiktoken               `base64(token) rank` lines; special tokens and pattern come separately
//   gpt2_tokenizer.bin       llm.c's decode-only table (written; read back for checks)
//
// Kiln encodes with tiktoken's semantics: a token's rank is its id, and any adjacent pair whose
// concatenation is a token may merge. A merge list is therefore read as "this token's id is its
// priority", which holds when ids grow in merge order (GPT-2's files, HF's trainer); a file where
// they do not is refused rather than encoded differently from HF. Merge lists are written by
// recovering each token's pair from the ranks (§3.3, the reverse direction).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A tokenizer file that cannot be read or written, naming the file.
public struct TokenizerFileError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Reading and writing tokenizer files.
public enum TokenizerFiles {
    // MARK: Patterns

    /// The split regexes of the patterns in tokenizer.json files: the first of each is the one Kiln
    /// writes, the others are equivalent forms it accepts (FORMATS.md §3.2), tiktoken's
    /// (`PreTokenizerPattern.regexSource`) among them.
    static let patternRegexes: [(pattern: PreTokenizerPattern, regexes: [String])] = [
        (.gpt2, [
            #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#,
            #"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"#,
        ]),
        // The classic form first: HF's regex engine (Oniguruma) reads tiktoken's `\p{N}{1,3}+` as
        // "one or more groups of 1-3 digits", so a file with the possessive form splits numbers
        // differently in HF (seen on the English corpus).
        (.cl100k, [
            #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
            #"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"#,
        ]),
        (.o200k, [
            [#"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
             #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
             #"\p{N}{1,3}"#,
             #" ?[^\s\p{L}\p{N}]+[\r\n/]*"#,
             #"\s*[\r\n]+"#,
             #"\s+(?!\S)"#,
             #"\s+"#].joined(separator: "|"),
        ]),
    ]

    /// The regex Kiln writes into tokenizer.json for `pattern`.
    static func huggingFaceRegex(for pattern: PreTokenizerPattern) -> String {
        patternRegexes.first { $0.pattern == pattern }?.regexes[0] ?? ""
    }

    /// The pattern a regex in a tokenizer.json stands for.
    static func pattern(forRegex regex: String) -> PreTokenizerPattern? {
        patternRegexes.first { $0.regexes.contains(regex) }?.pattern
            ?? PreTokenizerPattern.allCases.first { $0.regexSource == regex }
    }

    // MARK: A folder

    /// Reads the tokenizer in `directory`: `tokenizer.json`, else `vocab.json` + `merges.txt` (or
    /// `encoder.json` + `vocab.bpe`), else its one `*.tiktoken` file. A .tiktoken file holds neither
    /// the pattern nor the special tokens: they come from the arguments, else from the file's name
    /// (`gpt2`, `r50k_base`, `p50k_base`, `cl100k_base`, `o200k_base`, FORMATS.md §3.5), else GPT-2's
    /// pattern with `<|endoftext|>` right after the last rank.
    public static func load(directory: String, tiktokenPattern: PreTokenizerPattern? = nil,
                            tiktokenSpecialTokens: [String: Int]? = nil) throws(TokenizerFileError) -> Tokenizer {
        let names = try listDirectory(directory)
        let dir = directory.hasSuffix("/") ? directory : directory + "/"
        if names.contains("tokenizer.json") { return try readHuggingFace(path: dir + "tokenizer.json") }
        if names.contains("vocab.json"), names.contains("merges.txt") {
            return try readVocabMerges(vocab: dir + "vocab.json", merges: dir + "merges.txt")
        }
        if names.contains("encoder.json"), names.contains("vocab.bpe") {
            return try readVocabMerges(vocab: dir + "encoder.json", merges: dir + "vocab.bpe")
        }
        let tiktoken = names.filter { $0.hasSuffix(".tiktoken") }.sorted()
        guard tiktoken.count == 1 else {
            throw TokenizerFileError(path: directory, message: tiktoken.isEmpty
                ? "no tokenizer.json, vocab.json + merges.txt, encoder.json + vocab.bpe or .tiktoken file"
                : "more than one .tiktoken file: \(tiktoken.joined(separator: ", "))")
        }
        let path = dir + tiktoken[0]
        let known = knownTiktoken[String(tiktoken[0].dropLast(".tiktoken".count))]
        let ranks = try parseTiktoken(try readFile(path), path: path)
        let pattern = tiktokenPattern ?? known?.pattern ?? .gpt2
        let specials = tiktokenSpecialTokens ?? known?.specialTokens
            ?? ["<|endoftext|>": (ranks.values.max() ?? -1) + 1]
        return try tokenizer(ranks: ranks, specialTokens: specials, pattern: pattern, path: path)
    }

    // MARK: HF tokenizer.json

    public static func readHuggingFace(path: String) throws(TokenizerFileError) -> Tokenizer {
        try parseHuggingFace(try readFile(path), path: path)
    }

    /// A tokenizer.json with a byte-level BPE model. Refused: normalizers, a prefix space,
    /// subword prefixes/suffixes, dropout and split patterns other than the known ones. The
    /// post-processor (which only adds tokens around a sequence in HF) is ignored. Every added token
    /// becomes a special token: encoded only where the caller allows it.
    public static func parseHuggingFace(_ bytes: [UInt8], path: String) throws(TokenizerFileError) -> Tokenizer {
        let root = try parseJSON(bytes, path: path)
        func fail(_ message: String) -> TokenizerFileError { TokenizerFileError(path: path, message: message) }
        guard let model = root["model"], model.members != nil else { throw fail("no model") }
        if let type = model["type"], type.string != "BPE" { throw fail("model type is not BPE") }
        if let d = model["dropout"], !d.isNull { throw fail("BPE dropout is not supported") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key], !v.isNull, v.string != "" { throw fail("\(key) is not supported") }
        }
        if let n = root["normalizer"], !n.isNull { throw fail("normalizers are not supported") }
        let pattern = try hfPattern(root["pre_tokenizer"] ?? JSONValue.null, fail: fail)

        guard let vocabMembers = model["vocab"]?.members else { throw fail("model has no vocab object") }
        var vocab: [(String, Int)] = []
        vocab.reserveCapacity(vocabMembers.count)
        for m in vocabMembers {
            guard let id = m.value.int else { throw fail("vocab entry \(m.key) has no integer id") }
            vocab.append((m.key, id))
        }
        guard let mergeValues = model["merges"]?.array else { throw fail("model has no merges array") }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeValues.count)
        for (k, m) in mergeValues.enumerated() {
            if let s = m.string {
                let parts = s.unicodeScalars.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw fail("merge \(k) is not two tokens: \(s)") }
                merges.append((String(String.UnicodeScalarView(parts[0])), String(String.UnicodeScalarView(parts[1]))))
            } else if let pair = m.array, pair.count == 2, let a = pair[0].string, let b = pair[1].string {
                merges.append((a, b))
            } else {
                throw fail("merge \(k) is neither \"A B\" nor [A, B]")
            }
        }
        var added: [(String, Int)] = []
        for t in root["added_tokens"]?.array ?? [] {
            guard let content = t["content"]?.string, let id = t["id"]?.int else {
                throw fail("an added token has no content or id")
            }
            added.append((content, id))
        }
        return try tokenizer(vocab: vocab, merges: merges, added: added, pattern: pattern, path: path)
    }

    private static func hfPattern(_ pre: JSONValue,
                                  fail: (String) -> TokenizerFileError) throws(TokenizerFileError) -> PreTokenizerPattern {
        func byteLevel(_ v: JSONValue, regex: Bool) throws(TokenizerFileError) {
            // HF's defaults: add_prefix_space true, use_regex true.
            guard v["add_prefix_space"]?.bool == false else {
                throw fail("ByteLevel pre-tokenizer with add_prefix_space is not supported")
            }
            guard (v["use_regex"]?.bool ?? true) == regex else {
                throw fail(regex ? "ByteLevel pre-tokenizer without its regex splits nothing"
                                 : "a Split followed by ByteLevel with use_regex splits twice")
            }
        }
        switch pre["type"]?.string {
        case "ByteLevel":
            try byteLevel(pre, regex: true)
            return .gpt2
        case "Sequence":
            guard let steps = pre["pretokenizers"]?.array, steps.count == 2,
                  steps[0]["type"]?.string == "Split", steps[1]["type"]?.string == "ByteLevel" else {
                throw fail("pre-tokenizer Sequence is not [Split, ByteLevel]")
            }
            let split = steps[0]
            guard split["behavior"]?.string == "Isolated", split["invert"]?.bool != true,
                  let regex = split["pattern"]?["Regex"]?.string else {
                throw fail("Split pre-tokenizer is not an isolated regex split")
            }
            guard let known = pattern(forRegex: regex) else { throw fail("unknown split regex \(regex)") }
            try byteLevel(steps[1], regex: false)
            return known
        default:
            throw fail("pre-tokenizer is not ByteLevel or [Split, ByteLevel]")
        }
    }

    public static func writeHuggingFace(_ tokenizer: Tokenizer, to path: String) throws(TokenizerFileError) {
        try writeFile(try huggingFaceJSON(tokenizer, path: path), to: path)
    }

    /// tokenizer.json as tokenizers writes it for GPT-2 (key order, one vocab entry or merge a line),
    /// with `ignore_merges` true, which is tiktoken's whole-piece shortcut.
    static func huggingFaceJSON(_ tokenizer: Tokenizer, path: String) throws(TokenizerFileError) -> [UInt8] {
        let merges = try mergeList(tokenizer, path: path)
        let vocab = try vocabEntries(tokenizer, path: path, specialsMayCollide: true)
        let byteLevel = JSONValue.object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)),
                                          ("trim_offsets", .bool(true)), ("use_regex", .bool(true))])
        let pre: JSONValue
        if tokenizer.pattern == .gpt2 {
            pre = byteLevel
        } else {
            pre = .object([("type", .string("Sequence")), ("pretokenizers", .array([
                .object([("type", .string("Split")), ("pattern", .object([("Regex", .string(huggingFaceRegex(for: tokenizer.pattern)))])),
                         ("behavior", .string("Isolated")), ("invert", .bool(false))]),
                .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)),
                         ("trim_offsets", .bool(true)), ("use_regex", .bool(false))]),
            ]))])
        }
        var w = JSONWriter()
        w.raw("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
        for (i, (text, id)) in tokenizer.specialTokens.sorted(by: { $0.value < $1.value }).enumerated() {
            w.raw(i == 0 ? "\n    " : ",\n    ")
            w.value(.object([("id", .number(String(id))), ("content", .string(text)), ("single_word", .bool(false)),
                             ("lstrip", .bool(false)), ("rstrip", .bool(false)), ("normalized", .bool(false)),
                             ("special", .bool(true))]))
        }
        w.raw(tokenizer.specialTokens.isEmpty ? "],\n" : "\n  ],\n")
        w.raw("  \"normalizer\": null,\n  \"pre_tokenizer\": ")
        w.value(pre)
        w.raw(",\n  \"post_processor\": ")
        w.value(.object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)),
                         ("trim_offsets", .bool(false)), ("use_regex", .bool(true))]))
        w.raw(",\n  \"decoder\": ")
        w.value(byteLevel)
        w.raw(",\n  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n")
        w.raw("    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n")
        w.raw("    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": true,\n")
        w.raw("    \"vocab\": {")
        for (i, e) in vocab.enumerated() {
            w.raw(i == 0 ? "\n      " : ",\n      ")
            w.string(e.key)
            w.raw(": \(e.id)")
        }
        w.raw("\n    },\n    \"merges\": [")
        for (i, m) in merges.enumerated() {
            w.raw(i == 0 ? "\n      [" : ",\n      [")
            w.string(m.0)
            w.raw(", ")
            w.string(m.1)
            w.raw("]")
        }
        w.raw(merges.isEmpty ? "]\n  }\n}\n" : "\n    ]\n  }\n}\n")
        return w.bytes
    }

    // MARK: vocab.json + merges.txt

    /// GPT-2's encoder.json + vocab.bpe layout. For files tiktoken's
    /// `data_gym_to_mergeable_bpe_ranks` accepts, the ranks are exactly its ranks (single bytes, then
    /// one rank per merge line, checked against vocab.json); `<|endoftext|>` and any other entry that
    /// is neither a byte nor made by a merge is a special token. The first line is skipped when it is
    /// a `#version` header.
    public static func readVocabMerges(vocab: String, merges: String,
                                       pattern: PreTokenizerPattern = .gpt2) throws(TokenizerFileError) -> Tokenizer {
        try parseVocabMerges(vocab: try readFile(vocab), vocabPath: vocab, merges: try readFile(merges), mergesPath: merges,
                             pattern: pattern)
    }

    /// `readVocabMerges` on bytes already read; the paths name the files in errors.
    public static func parseVocabMerges(vocab vocabBytes: [UInt8], vocabPath vocab: String, merges mergesBytes: [UInt8],
                                        mergesPath merges: String,
                                        pattern: PreTokenizerPattern = .gpt2) throws(TokenizerFileError) -> Tokenizer {
        let root = try parseJSON(vocabBytes, path: vocab)
        guard let members = root.members else { throw TokenizerFileError(path: vocab, message: "not a JSON object") }
        var entries: [(String, Int)] = []
        entries.reserveCapacity(members.count)
        for m in members {
            guard let id = m.value.int else {
                throw TokenizerFileError(path: vocab, message: "entry \(m.key) has no integer id")
            }
            entries.append((m.key, id))
        }
        let pairs = try parseMerges(mergesBytes, path: merges)
        return try tokenizer(vocab: entries, merges: pairs, added: [], pattern: pattern, path: vocab)
    }

    /// Merge lines as tiktoken splits them: on "\n", each line on whitespace into exactly two.
    static func parseMerges(_ bytes: [UInt8], path: String) throws(TokenizerFileError) -> [(String, String)] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TokenizerFileError(path: path, message: "not UTF-8")
        }
        // Scalars, not Characters: "\r\n" is one Character.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        var firstLine = 1
        if let first = lines.first, String(String.UnicodeScalarView(first)).hasPrefix("#version") {
            lines.removeFirst()
            firstLine = 2
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        var merges: [(String, String)] = []
        merges.reserveCapacity(lines.count)
        for (k, line) in lines.enumerated() {
            let parts = line.split(whereSeparator: { $0.properties.isWhitespace })
            guard parts.count == 2 else {
                throw TokenizerFileError(path: path, message: "line \(k + firstLine) is not two tokens")
            }
            merges.append((String(String.UnicodeScalarView(parts[0])), String(String.UnicodeScalarView(parts[1]))))
        }
        return merges
    }

    /// Writes vocab.json (tokens by id, as tiktoken and HF write it, special tokens included) and
    /// merges.txt (`#version: 0.2` then one merge a line).
    public static func writeVocabMerges(_ tokenizer: Tokenizer, vocab: String,
                                        merges: String) throws(TokenizerFileError) {
        let pairs = try mergeList(tokenizer, path: merges)
        var w = JSONWriter()
        w.raw("{")
        for (i, e) in try vocabEntries(tokenizer, path: vocab, specialsMayCollide: false).enumerated() {
            if i > 0 { w.raw(", ") }
            w.string(e.key)
            w.raw(": \(e.id)")
        }
        w.raw("}")
        var m = Array("#version: 0.2\n".utf8)
        for p in pairs { m += Array("\(p.0) \(p.1)\n".utf8) }
        try writeFile(w.bytes, to: vocab)
        try writeFile(m, to: merges)
    }

    // MARK: llm.c gpt2_tokenizer.bin

    /// llm.c's decode table: token bytes by id and the end-of-text id.
    public struct LlmcTokenTable: Sendable, Equatable {
        public var tokens: [[UInt8]]
        public var endOfText: Int
    }

    static let llmcMagic: Int32 = 20240328

    /// Writes version 2: a 256 × int32 header (magic, version, token count, EOT id), then each token
    /// as a length byte and its bytes. Every id below `vocabularySize` must have a token of 1...255
    /// bytes. `endOfText` defaults to the id of `<|endoftext|>`.
    public static func writeLlmc(_ tokenizer: Tokenizer, to path: String,
                                 endOfText: Int? = nil) throws(TokenizerFileError) {
        guard let eot = endOfText ?? tokenizer.specialTokens["<|endoftext|>"] else {
            throw TokenizerFileError(path: path, message: "no <|endoftext|> token and no end-of-text id given")
        }
        let n = tokenizer.vocabularySize
        guard tokenizer.bytes(forToken: eot) != nil else {
            throw TokenizerFileError(path: path, message: "end-of-text id \(eot) has no token")
        }
        var header = [Int32](repeating: 0, count: 256)
        header[0] = llmcMagic
        header[1] = 2
        header[2] = Int32(n)
        header[3] = Int32(eot)
        var out: [UInt8] = []
        for v in header { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        for id in 0..<n {
            guard let bytes = tokenizer.bytes(forToken: id) else {
                throw TokenizerFileError(path: path, message: "id \(id) has no token; llm.c's table has no holes")
            }
            guard bytes.count < 256 else {
                throw TokenizerFileError(path: path, message: "token \(id) is longer than 255 bytes")
            }
            out.append(UInt8(bytes.count))
            out += bytes
        }
        try writeFile(out, to: path)
    }

    /// Reads a gpt2_tokenizer.bin (versions 1 and 2, as llm.c's `tokenizer_init` does).
    public static func readLlmc(path: String) throws(TokenizerFileError) -> LlmcTokenTable {
        let bytes = try readFile(path)
        func fail(_ message: String) -> TokenizerFileError { TokenizerFileError(path: path, message: message) }
        guard bytes.count >= 1024 else { throw fail("shorter than the 1024-byte header") }
        /// Header slot i, a little-endian int32.
        func int32(_ i: Int) -> Int {
            let u = UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16
                | UInt32(bytes[4 * i + 3]) << 24
            return Int(Int32(bitPattern: u))
        }
        guard int32(0) == Int(llmcMagic) else { throw fail("bad magic \(int32(0))") }
        let version = int32(1), n = int32(2)
        let eot: Int
        switch version {
        case 1:
            guard n == 50257 else { throw fail("version 1 requires 50257 tokens, not \(n)") }
            eot = 50256
        case 2:
            eot = int32(3)
        default:
            throw fail("unsupported version \(version)")
        }
        guard n > 0, eot >= 0, eot < n else { throw fail("bad token count \(n) or end-of-text id \(eot)") }
        // Each token takes at least 2 bytes (its length and one byte): check the count against the
        // file before reserving for it (a 1 KB file may claim 2^31 tokens, 16 GiB of arrays).
        guard n <= (bytes.count - 1024) / 2 else {
            throw fail("the header claims \(n) tokens, which need at least \(1024 + 2 * n) bytes; the file has \(bytes.count)")
        }
        var tokens: [[UInt8]] = []
        tokens.reserveCapacity(n)
        var pos = 1024
        for id in 0..<n {
            guard pos < bytes.count else { throw fail("ends inside token \(id)") }
            let length = Int(bytes[pos])
            guard length > 0 else { throw fail("token \(id) has length 0") }
            guard pos + 1 + length <= bytes.count else { throw fail("ends inside token \(id)") }
            tokens.append(Array(bytes[pos + 1 ..< pos + 1 + length]))
            pos += 1 + length
        }
        guard pos == bytes.count else { throw fail("\(bytes.count - pos) bytes after the last token") }
        return LlmcTokenTable(tokens: tokens, endOfText: eot)
    }

    // MARK: Shared

    static func tokenizer(ranks: [[UInt8]: Int], specialTokens: [String: Int],
                                  pattern: PreTokenizerPattern, path: String) throws(TokenizerFileError) -> Tokenizer {
        do {
            return try Tokenizer(ranks: ranks, specialTokens: specialTokens, pattern: pattern)
        } catch {
            throw TokenizerFileError(path: path, message: error.description)
        }
    }

    /// The tokenizer of a byte-level vocabulary (token string -> id), its merges in priority order and
    /// its added tokens. Mergeable tokens: the 256 single bytes and the tokens the merges make; ids
    /// of merged tokens must grow in merge order (so rank = id = priority). Everything else in the
    /// vocabulary, and every added token, is a special token.
    private static func tokenizer(vocab: [(String, Int)], merges: [(String, String)], added: [(String, Int)],
                                  pattern: PreTokenizerPattern, path: String) throws(TokenizerFileError) -> Tokenizer {
        func fail(_ message: String) -> TokenizerFileError { TokenizerFileError(path: path, message: message) }
        var idOfBytes: [ByteKey: Int] = [:]
        idOfBytes.reserveCapacity(vocab.count)
        var decoded: [[UInt8]?] = []
        decoded.reserveCapacity(vocab.count)
        var seenIDs = Set<Int>(minimumCapacity: vocab.count)
        for (key, id) in vocab {
            guard seenIDs.insert(id).inserted else { throw fail("id \(id) appears twice in the vocabulary") }
            let bytes = ByteLevel.decode(key)
            decoded.append(bytes)
            if let bytes { idOfBytes[ByteKey(bytes)] = id }
        }
        var rankOf: [ByteKey: Int] = [:]
        rankOf.reserveCapacity(merges.count + 256)
        var tokens: [(bytes: [UInt8], rank: Int)] = []
        tokens.reserveCapacity(merges.count + 256)
        for b in 0...255 {
            guard let id = idOfBytes[ByteKey([UInt8(b)])] else { throw fail("the vocabulary has no token for byte \(b)") }
            rankOf[ByteKey([UInt8(b)])] = id
            tokens.append(([UInt8(b)], id))
        }
        var lastID = -1
        for (k, merge) in merges.enumerated() {
            guard let a = ByteLevel.decode(merge.0), let b = ByteLevel.decode(merge.1) else {
                throw fail("merge \(k + 1) (\(merge.0) \(merge.1)) is not byte-level text")
            }
            let token = ByteKey(a + b)
            guard let id = idOfBytes[token] else {
                throw fail("merge \(k + 1) makes \(merge.0 + merge.1), which is not in the vocabulary")
            }
            if rankOf[token] != nil { continue }
            guard id > lastID else {
                throw fail("merge \(k + 1) makes id \(id) after id \(lastID): ids do not follow merge order")
            }
            lastID = id
            rankOf[token] = id
            tokens.append((token.bytes, id))
        }
        var specials: [String: Int] = [:]
        for ((key, id), bytes) in zip(vocab, decoded) {
            if let bytes, rankOf[ByteKey(bytes)] == id { continue }
            specials[key] = id
        }
        for (content, id) in added {
            if rankOf[ByteKey(Array(content.utf8))] == id { continue }
            if let other = specials.updateValue(id, forKey: content), other != id {
                throw fail("added token \(content) has id \(id) and \(other)")
            }
        }
        do {
            return try Tokenizer(tokens: tokens, specialTokens: specials, pattern: pattern)
        } catch {
            throw TokenizerFileError(path: path, message: error.description)
        }
    }

    /// Each multi-byte token's two parts in rank order, as byte-level text.
    static func mergeList(_ tokenizer: Tokenizer, path: String) throws(TokenizerFileError) -> [(String, String)] {
        var merges: [(String, String)] = []
        for t in tokenizer.bpe.tokens where t.bytes.count > 1 {
            guard let (a, b) = tokenizer.bpe.mergeParts(rank: t.rank) else {
                throw TokenizerFileError(path: path, message:
                    "token \(t.rank) (\(ByteLevel.encode(t.bytes))) is not the merge of two tokens of lower rank")
            }
            merges.append((ByteLevel.encode(tokenizer.bpe.bytes(rank: a)), ByteLevel.encode(tokenizer.bpe.bytes(rank: b))))
        }
        return merges
    }

    /// vocab entries by id: mergeable tokens as byte-level text, special tokens as themselves. A
    /// special token spelled like a mergeable token is left out when `specialsMayCollide` (the file
    /// lists it elsewhere), else refused.
    private static func vocabEntries(_ tokenizer: Tokenizer, path: String,
                                     specialsMayCollide: Bool) throws(TokenizerFileError) -> [(key: String, id: Int)] {
        var entries = tokenizer.bpe.tokens.map { (key: ByteLevel.encode($0.bytes), id: $0.rank) }
        let keys = Set(entries.map(\.key))
        for (text, id) in tokenizer.specialTokens {
            if keys.contains(text) {
                if specialsMayCollide { continue }
                throw TokenizerFileError(path: path, message: "special token \(text) is spelled like a mergeable token")
            }
            entries.append((text, id))
        }
        return entries.sorted { $0.id < $1.id }
    }

    private static func parseJSON(_ bytes: [UInt8], path: String) throws(TokenizerFileError) -> JSONValue {
        do {
            return try JSONReader.parse(bytes)
        } catch {
            throw TokenizerFileError(path: path, message: "JSON error at byte \(error.offset): \(error.message)")
        }
    }

    // MARK: Files

    static func readFile(_ path: String) throws(TokenizerFileError) -> [UInt8] {
        guard let f = fopen(path, "rb") else { throw TokenizerFileError(path: path, message: "cannot open: \(lastError())") }
        defer { fclose(f) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            out += chunk[0..<n]
            if n < chunk.count {
                if ferror(f) != 0 { throw TokenizerFileError(path: path, message: "read error: \(lastError())") }
                return out
            }
        }
    }

    /// Writes through a temporary file and a rename, so a reader never sees half a file.
    static func writeFile(_ bytes: [UInt8], to path: String) throws(TokenizerFileError) {
        let temporary = path + ".tmp-\(getpid())"
        guard let f = fopen(temporary, "wb") else {
            throw TokenizerFileError(path: path, message: "cannot create: \(lastError())")
        }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let closed = fclose(f)
        guard written == bytes.count, closed == 0, rename(temporary, path) == 0 else {
            let message = lastError()
            unlink(temporary)
            throw TokenizerFileError(path: path, message: "write error: \(message)")
        }
    }

    static func listDirectory(_ path: String) throws(TokenizerFileError) -> [String] {
        guard let dir = opendir(path) else { throw TokenizerFileError(path: path, message: "cannot open: \(lastError())") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}

/// A byte string as a dictionary key, hashed in one call (an array of bytes as a key is hashed
/// byte by byte, which made loading a large vocabulary slow).
private struct ByteKey: Hashable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
}

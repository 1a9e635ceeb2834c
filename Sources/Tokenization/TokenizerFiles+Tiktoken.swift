// tiktoken's rank files (FORMATS.md §3.5): one `base64(token) rank` line per mergeable token, in
// rank order. The pattern and the special tokens are not in the file.

extension TokenizerFiles {
    /// tiktoken's encodings by file name: pattern and special tokens (tiktoken_ext/openai_public.py).
    static let knownTiktoken: [String: (pattern: PreTokenizerPattern, specialTokens: [String: Int])] = [
        "gpt2": (.gpt2, ["<|endoftext|>": 50256]),
        "r50k_base": (.gpt2, ["<|endoftext|>": 50256]),
        "p50k_base": (.gpt2, ["<|endoftext|>": 50256]),
        "cl100k_base": (.cl100k, ["<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                                  "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276]),
        "o200k_base": (.o200k, ["<|endoftext|>": 199999, "<|endofprompt|>": 200018]),
    ]

    /// A .tiktoken rank file with the pattern and special tokens it does not hold.
    public static func readTiktoken(path: String, pattern: PreTokenizerPattern,
                                    specialTokens: [String: Int]) throws(TokenizerFileError) -> Tokenizer {
        let ranks = try parseTiktoken(try readFile(path), path: path)
        return try tokenizer(ranks: ranks, specialTokens: specialTokens, pattern: pattern, path: path)
    }

    /// `readTiktoken` on bytes already read; `path` names the file in errors.
    public static func parseTiktoken(_ bytes: [UInt8], path: String, pattern: PreTokenizerPattern,
                                     specialTokens: [String: Int]) throws(TokenizerFileError) -> Tokenizer {
        try tokenizer(ranks: try parseTiktoken(bytes, path: path), specialTokens: specialTokens, pattern: pattern, path: path)
    }

    /// tiktoken's `load_tiktoken_bpe`: non-empty lines of `base64(token) rank`.
    static func parseTiktoken(_ bytes: [UInt8], path: String) throws(TokenizerFileError) -> [[UInt8]: Int] {
        var ranks: [[UInt8]: Int] = [:]
        var lineNumber = 0
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            let fields = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D })
            if fields.isEmpty { continue }
            guard fields.count == 2, let token = Base64.decode(fields[0]),
                  let rank = Int(String(decoding: fields[1], as: UTF8.self)) else {
                throw TokenizerFileError(path: path, message: "line \(lineNumber) is not `base64 rank`")
            }
            guard ranks.updateValue(rank, forKey: token) == nil else {
                throw TokenizerFileError(path: path, message: "line \(lineNumber) repeats a token")
            }
        }
        return ranks
    }

    /// Writes the ranks (not the special tokens) in rank order, as `dump_tiktoken_bpe` does.
    public static func writeTiktoken(_ tokenizer: Tokenizer, to path: String) throws(TokenizerFileError) {
        var out: [UInt8] = []
        for t in tokenizer.bpe.tokens { out += Array("\(Base64.encode(t.bytes)) \(t.rank)\n".utf8) }
        try writeFile(out, to: path)
    }
}

/// Standard base64 with padding (RFC 4648 §4), as .tiktoken files use.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let values: [UInt8] = {
        var v = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { v[Int(c)] = UInt8(i) }
        return v
    }()

    /// Appends the padded base64 of `bytes` to `out`.
    static func append(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        let n = bytes.count
        var i = 0
        while i + 3 <= n {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(v >> 18 & 63)]); out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)]); out.append(alphabet[Int(v & 63)])
            i += 3
        }
        if i < n {
            let v = UInt32(bytes[i]) << 16 | (i + 1 < n ? UInt32(bytes[i + 1]) << 8 : 0)
            out.append(alphabet[Int(v >> 18 & 63)]); out.append(alphabet[Int(v >> 12 & 63)])
            out.append(i + 1 < n ? alphabet[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
    }

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var it = bytes.makeIterator()
        while let b0 = it.next() {
            let b1 = it.next(), b2 = it.next()
            let n = UInt32(b0) << 16 | UInt32(b1 ?? 0) << 8 | UInt32(b2 ?? 0)
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(b1 == nil ? UInt8(ascii: "=") : alphabet[Int(n >> 6 & 63)])
            out.append(b2 == nil ? UInt8(ascii: "=") : alphabet[Int(n & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Nil unless the text is canonical padded base64.
    static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        let chars = Array(text)
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        var i = 0
        while i < chars.count {
            let last = i + 4 == chars.count
            let pad = last ? (chars[i + 3] == UInt8(ascii: "=") ? (chars[i + 2] == UInt8(ascii: "=") ? 2 : 1) : 0) : 0
            var n: UInt32 = 0
            for k in 0..<4 {
                let c = chars[i + k]
                if k >= 4 - pad { n <<= 6; continue }
                let v = values[Int(c)]
                guard v != 0xFF else { return nil }
                n = n << 6 | UInt32(v)
            }
            out.append(UInt8(n >> 16 & 0xFF))
            if pad < 2 { out.append(UInt8(n >> 8 & 0xFF)) }
            if pad < 1 { out.append(UInt8(n & 0xFF)) }
            i += 4
        }
        return out
    }
}

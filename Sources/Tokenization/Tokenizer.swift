// A GPT-style tokenizer: the pre-tokenizer splits text into pieces, byte-level BPE turns each piece
// into ids, and special tokens (`<|endoftext|>` and the caller's own) are recognised only where the
// caller allows them, as in tiktoken (FORMATS.md §3.7).

import Synchronization

/// What can be wrong with a vocabulary, or with ids given to `decode`.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    case missingByte(UInt8)
    case emptyToken
    case duplicateRank(Int)
    case rankOutOfRange(Int)
    case emptySpecialToken
    case specialTokenIDInUse(String, Int)
    case unknownTokenID(Int)

    public var description: String {
        switch self {
        case .missingByte(let b): "the vocabulary has no token for the byte 0x\(String(b, radix: 16))"
        case .emptyToken: "the vocabulary has an empty token"
        case .duplicateRank(let r): "two tokens have the rank \(r)"
        case .rankOutOfRange(let r): "rank or id \(r) is negative or too large"
        case .emptySpecialToken: "a special token is the empty string"
        case .specialTokenIDInUse(let s, let id): "special token \(s) has id \(id), which another token has"
        case .unknownTokenID(let id): "no token has id \(id)"
        }
    }
}

/// A byte-level BPE tokenizer with tiktoken's semantics: pre-tokenizer, mergeable ranks (a token's
/// rank is its id) and special tokens.
public struct Tokenizer: Sendable {
    /// How text is split before BPE.
    public let pattern: PreTokenizerPattern
    /// Special tokens and their ids; they are never produced by BPE.
    public let specialTokens: [String: Int]
    /// One past the largest id (tiktoken's `n_vocab`); ids below it may have holes.
    public let vocabularySize: Int
    /// A stable hex digest (SHA-256) of the pattern, the ranks (and so the merges) and the special
    /// tokens: two tokenizers with the same fingerprint give the same ids. Computed on first use
    /// (about a tenth of loading a 32k vocabulary), once, by whichever thread asks first.
    public var fingerprint: String {
        fingerprintOnce.value { Self.fingerprint(bpe: bpe, specialTokens: specialTokens, pattern: pattern) }
    }
    private let fingerprintOnce = Once<String>()

    let bpe: BytePairEncoding
    let preTokenizer: PreTokenizer
    /// Special tokens by id, as bytes.
    let specialBytes: [Int: [UInt8]]

    /// A tokenizer from mergeable ranks (byte string -> rank = id). Every single byte must be a
    /// token; ranks and special ids must all differ.
    public init(ranks: [[UInt8]: Int], specialTokens: [String: Int] = [:],
                pattern: PreTokenizerPattern) throws(TokenizerError) {
        try self.init(tokens: ranks.map { (bytes: $0.key, rank: $0.value) }, specialTokens: specialTokens, pattern: pattern)
    }

    /// The same from (token, rank) entries with distinct bytes, in any order (no dictionary of
    /// byte arrays to build: loading a large vocabulary is faster).
    init(tokens: [(bytes: [UInt8], rank: Int)], specialTokens: [String: Int],
         pattern: PreTokenizerPattern) throws(TokenizerError) {
        let bpe = try BytePairEncoding(tokens: tokens)
        var specialBytes: [Int: [UInt8]] = [:]
        for (text, id) in specialTokens.sorted(by: { $0.value < $1.value }) {
            guard !text.isEmpty else { throw .emptySpecialToken }
            guard id >= 0, id < BytePairEncoding.rankLimit else { throw .rankOutOfRange(id) }
            guard !bpe.hasToken(rank: id), specialBytes[id] == nil else { throw .specialTokenIDInUse(text, id) }
            specialBytes[id] = Array(text.utf8)
        }
        self.bpe = bpe
        self.pattern = pattern
        self.preTokenizer = PreTokenizer(pattern)
        self.specialTokens = specialTokens
        self.specialBytes = specialBytes
        self.vocabularySize = max(bpe.rankCount, (specialTokens.values.max() ?? -1) + 1)
    }

    /// A tokenizer from mergeable tokens in rank order (the token at index i has rank i).
    public init(vocabulary: [[UInt8]], specialTokens: [String: Int] = [:],
                pattern: PreTokenizerPattern) throws(TokenizerError) {
        var ranks: [[UInt8]: Int] = [:]
        for (rank, token) in vocabulary.enumerated() {
            if ranks.updateValue(rank, forKey: token) != nil { throw .duplicateRank(rank) }
        }
        try self.init(ranks: ranks, specialTokens: specialTokens, pattern: pattern)
    }

    /// The mergeable tokens and their ranks.
    public var ranks: [[UInt8]: Int] {
        Dictionary(uniqueKeysWithValues: bpe.tokens.map { (Array($0.bytes), $0.rank) })
    }

    /// The mergeable tokens in rank order.
    public var mergeableTokens: [(rank: Int, bytes: [UInt8])] {
        bpe.tokens.map { ($0.rank, Array($0.bytes)) }
    }

    /// The bytes of one token (mergeable or special), or nil when no token has this id.
    public func bytes(forToken id: Int) -> [UInt8]? {
        if bpe.hasToken(rank: id) { return Array(bpe.bytes(rank: id)) }
        return specialBytes[id]
    }

    // MARK: Encoding

    /// The ids of `bytes` (any bytes, not only UTF-8), special tokens spelled in it encoded as text.
    public func encodeOrdinary(_ bytes: [UInt8]) -> [Int] {
        bytes.withUnsafeBufferPointer { text in
            var ids: [Int] = []
            ids.reserveCapacity(text.count / 3)
            var ranges: [Range<Int>] = []
            bpe.withHandle { encodeOrdinary(text, handle: $0, ranges: &ranges, into: &ids) }
            return ids
        }
    }

    public func encodeOrdinary(_ text: String) -> [Int] { encodeOrdinary(Array(text.utf8)) }

    /// The ids of `text`, where the special tokens named in `allowedSpecial` become their ids and any
    /// other spelling of a special token is ordinary text. Where allowed specials overlap, the
    /// leftmost wins, then the longest.
    public func encode(_ bytes: [UInt8], allowedSpecial: Set<String>) -> [Int] {
        let allowed = specialTokens.filter { allowedSpecial.contains($0.key) }
            .map { (bytes: Array($0.key.utf8), id: $0.value) }
            .sorted { $0.bytes.count > $1.bytes.count }
        if allowed.isEmpty { return encodeOrdinary(bytes) }
        var first = [Bool](repeating: false, count: 256)
        for s in allowed { first[Int(s.bytes[0])] = true }
        return bytes.withUnsafeBufferPointer { text in
            var ids: [Int] = []
            ids.reserveCapacity(text.count / 3)
            var ranges: [Range<Int>] = []
            bpe.withHandle { handle in
                var start = 0, i = 0
                while i < text.count {
                    guard first[Int(text[i])],
                          let s = allowed.first(where: { text[i...].starts(with: $0.bytes) }) else {
                        i += 1
                        continue
                    }
                    encodeOrdinary(UnsafeBufferPointer(rebasing: text[start ..< i]), handle: handle,
                                   ranges: &ranges, into: &ids)
                    ids.append(s.id)
                    i += s.bytes.count
                    start = i
                }
                encodeOrdinary(UnsafeBufferPointer(rebasing: text[start...]), handle: handle,
                               ranges: &ranges, into: &ids)
            }
            return ids
        }
    }

    public func encode(_ text: String, allowedSpecial: Set<String>) -> [Int] {
        encode(Array(text.utf8), allowedSpecial: allowedSpecial)
    }

    /// Pre-tokenizes `text` and appends the ids of every piece. Bytes the pre-tokenizer leaves
    /// between pieces are encoded as pieces of their own, so every byte is encoded.
    private func encodeOrdinary(_ text: UnsafeBufferPointer<UInt8>, handle: BytePairEncoding.Handle,
                                ranges: inout [Range<Int>], into ids: inout [Int]) {
        guard !text.isEmpty else { return }
        ranges.removeAll(keepingCapacity: true)
        preTokenizer.split(text, into: &ranges)
        var end = 0
        for r in ranges {
            precondition(r.lowerBound >= end && r.upperBound <= text.count, "pre-tokenizer ranges out of order")
            if r.lowerBound > end { handle.encode(UnsafeBufferPointer(rebasing: text[end ..< r.lowerBound]), into: &ids) }
            handle.encode(UnsafeBufferPointer(rebasing: text[r]), into: &ids)
            end = r.upperBound
        }
        if end < text.count { handle.encode(UnsafeBufferPointer(rebasing: text[end...]), into: &ids) }
    }

    // MARK: Decoding

    /// The bytes of `ids` (special tokens as their text); throws on an id no token has.
    public func decode(_ ids: [Int]) throws(TokenizerError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        for id in ids {
            if bpe.hasToken(rank: id) {
                out += bpe.bytes(rank: id)
            } else if let s = specialBytes[id] {
                out += s
            } else {
                throw .unknownTokenID(id)
            }
        }
        return out
    }

    // MARK: Fingerprint

    /// SHA-256 of a canonical text: the pattern's regex (tiktoken's form), then `rank base64(token)`
    /// lines in rank order, then `id base64(text)` lines of the special tokens in id order.
    private static func fingerprint(bpe: BytePairEncoding, specialTokens: [String: Int],
                                    pattern: PreTokenizerPattern) -> String {
        // The text hashed: a header, "RANK BASE64\n" per token, then the special tokens. Built in
        // one buffer (a 32k vocabulary is about half a megabyte) and hashed once.
        var text = Array("kiln-tokenizer 1\npattern \(pattern.regexSource)\n".utf8)
        text += Array("ranks \(bpe.tokens.count)\n".utf8)
        text.reserveCapacity(text.count + bpe.tokens.count * 16)
        for t in bpe.tokens {
            appendDecimal(t.rank, to: &text)
            text.append(UInt8(ascii: " "))
            t.bytes.withUnsafeBufferPointer { Base64.append($0, to: &text) }
            text.append(UInt8(ascii: "\n"))
        }
        text += Array("special \(specialTokens.count)\n".utf8)
        for (special, id) in specialTokens.sorted(by: { $0.value < $1.value }) {
            text += Array("\(id) \(Base64.encode(Array(special.utf8)))\n".utf8)
        }
        var sha = SHA256()
        sha.update(text)
        return sha.finalize().map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    private static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        guard value >= 10 else { out.append(UInt8(ascii: "0") + UInt8(value)); return }
        appendDecimal(value / 10, to: &out)
        out.append(UInt8(ascii: "0") + UInt8(value % 10))
    }
}

/// A value made at most once, on first use, by whichever thread asks first; the others wait.
final class Once<Value: Sendable>: Sendable {
    private let stored = Mutex<Value?>(nil)

    func value(_ make: () -> Value) -> Value {
        stored.withLock { v in
            if let v { return v }
            let made = make()
            v = made
            return made
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// SHA-256 (FIPS 180-4), for fingerprints: swift-crypto is not a dependency of this module.
struct SHA256 {
    private var state: [UInt32] = [0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A,
                                   0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19]
    private var block: [UInt8] = []
    private var length: UInt64 = 0
    /// The message schedule, kept between blocks so that no block allocates.
    private var schedule = [UInt32](repeating: 0, count: 64)

    private static let k: [UInt32] = [
        0x428A_2F98, 0x7137_4491, 0xB5C0_FBCF, 0xE9B5_DBA5, 0x3956_C25B, 0x59F1_11F1, 0x923F_82A4, 0xAB1C_5ED5,
        0xD807_AA98, 0x1283_5B01, 0x2431_85BE, 0x550C_7DC3, 0x72BE_5D74, 0x80DE_B1FE, 0x9BDC_06A7, 0xC19B_F174,
        0xE49B_69C1, 0xEFBE_4786, 0x0FC1_9DC6, 0x240C_A1CC, 0x2DE9_2C6F, 0x4A74_84AA, 0x5CB0_A9DC, 0x76F9_88DA,
        0x983E_5152, 0xA831_C66D, 0xB003_27C8, 0xBF59_7FC7, 0xC6E0_0BF3, 0xD5A7_9147, 0x06CA_6351, 0x1429_2967,
        0x27B7_0A85, 0x2E1B_2138, 0x4D2C_6DFC, 0x5338_0D13, 0x650A_7354, 0x766A_0ABB, 0x81C2_C92E, 0x9272_2C85,
        0xA2BF_E8A1, 0xA81A_664B, 0xC24B_8B70, 0xC76C_51A3, 0xD192_E819, 0xD699_0624, 0xF40E_3585, 0x106A_A070,
        0x19A4_C116, 0x1E37_6C08, 0x2748_774C, 0x34B0_BCB5, 0x391C_0CB3, 0x4ED8_AA4A, 0x5B9C_CA4F, 0x682E_6FF3,
        0x748F_82EE, 0x78A5_636F, 0x84C8_7814, 0x8CC7_0208, 0x90BE_FFFA, 0xA450_6CEB, 0xBEF9_A3F7, 0xC671_78F2,
    ]

    mutating func update(_ bytes: [UInt8]) {
        length &+= UInt64(bytes.count)
        var i = 0
        // Fill a partial block first, then hash whole blocks straight from the input.
        while i < bytes.count && !block.isEmpty {
            block.append(bytes[i]); i += 1
            if block.count == 64 { compress(block, at: 0); block.removeAll(keepingCapacity: true) }
        }
        while bytes.count - i >= 64 { compress(bytes, at: i); i += 64 }
        block.append(contentsOf: bytes[i...])
    }

    mutating func finalize() -> [UInt8] {
        let bits = length &* 8
        block.append(0x80)
        if block.count > 56 {
            while block.count < 64 { block.append(0) }
            compress(block, at: 0)
            block.removeAll(keepingCapacity: true)
        }
        while block.count < 56 { block.append(0) }
        for i in (0..<8).reversed() { block.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i)))) }
        compress(block, at: 0)
        return state.flatMap { w in (0..<4).reversed().map { UInt8(truncatingIfNeeded: w >> (8 * UInt32($0))) } }
    }

    /// One 64-byte block of `data` starting at `offset`.
    private mutating func compress(_ data: [UInt8], at offset: Int) {
        var w = schedule
        w.withUnsafeMutableBufferPointer { w in
            data.withUnsafeBufferPointer { d in
                for i in 0..<16 {
                    let j = offset + 4 * i
                    w[i] = UInt32(d[j]) << 24 | UInt32(d[j + 1]) << 16 | UInt32(d[j + 2]) << 8 | UInt32(d[j + 3])
                }
            }
            for i in 16..<64 {
                let s0 = w[i - 15].rotatedRight(7) ^ w[i - 15].rotatedRight(18) ^ (w[i - 15] >> 3)
                let s1 = w[i - 2].rotatedRight(17) ^ w[i - 2].rotatedRight(19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, h) = (state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7])
            Self.k.withUnsafeBufferPointer { k in
                for i in 0..<64 {
                    let s1 = e.rotatedRight(6) ^ e.rotatedRight(11) ^ e.rotatedRight(25)
                    let ch = (e & f) ^ (~e & g)
                    let t1 = h &+ s1 &+ ch &+ k[i] &+ w[i]
                    let s0 = a.rotatedRight(2) ^ a.rotatedRight(13) ^ a.rotatedRight(22)
                    let maj = (a & b) ^ (a & c) ^ (b & c)
                    let t2 = s0 &+ maj
                    (h, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
                }
            }
            state[0] &+= a; state[1] &+= b; state[2] &+= c; state[3] &+= d
            state[4] &+= e; state[5] &+= f; state[6] &+= g; state[7] &+= h
        }
        schedule = w
    }
}

extension UInt32 {
    fileprivate func rotatedRight(_ n: UInt32) -> UInt32 { (self >> n) | (self << (32 - n)) }
}

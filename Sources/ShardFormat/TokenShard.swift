import Crypto
#if canImport(Glibc)
import Glibc
#endif

/// llm.c token shards: a 1024-byte header of 256 little-endian int32 (magic, version, token
/// count, zeros), then the tokens, packed. GPT-2-sized vocabularies use uint16 tokens (magic
/// 20240520, version 1, the only kind llm.c's C loader reads); larger ones uint32 (magic
/// 20240801, version 7, as llm.c's Llama-3 scripts write them). See schemas/token-shards.md.
public enum TokenShard {
    public static let headerBytes = 1024
    public static let magic16: Int32 = 20240520
    public static let version16: Int32 = 1
    public static let magic32: Int32 = 20240801
    public static let version32: Int32 = 7
    /// llm.c's C loader seeks with a 32-bit int: shards must stay under 2 GiB.
    public static let maxFileBytes: Int64 = (1 << 31) - 1

    public enum Width: Int, Codable, Sendable {
        case uint16 = 2, uint32 = 4
        /// The narrowest width that holds every id of a vocabulary of `size` tokens.
        public static func forVocabulary(_ size: Int) -> Width { size <= 65536 ? .uint16 : .uint32 }
        public var magic: Int32 { self == .uint16 ? TokenShard.magic16 : TokenShard.magic32 }
        public var version: Int32 { self == .uint16 ? TokenShard.version16 : TokenShard.version32 }
    }

    public struct FormatError: Error, CustomStringConvertible, Equatable {
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    /// The bytes of a shard holding `tokens`.
    public static func encode(_ tokens: [UInt32], width: Width) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: headerBytes + tokens.count * width.rawValue)
        out.withUnsafeMutableBytes { p in
            p.storeBytes(of: width.magic.littleEndian, toByteOffset: 0, as: Int32.self)
            p.storeBytes(of: width.version.littleEndian, toByteOffset: 4, as: Int32.self)
            p.storeBytes(of: Int32(tokens.count).littleEndian, toByteOffset: 8, as: Int32.self)
            var o = headerBytes
            for t in tokens {
                if width == .uint16 {
                    p.storeBytes(of: UInt16(t).littleEndian, toByteOffset: o, as: UInt16.self)
                } else {
                    p.storeBytes(of: t.littleEndian, toByteOffset: o, as: UInt32.self)
                }
                o += width.rawValue
            }
        }
        return out
    }

    /// Reads a shard, checking magic, version, count and the file size before the data is trusted.
    public static func decode(_ bytes: [UInt8], path: String) throws -> (tokens: [UInt32], width: Width) {
        guard bytes.count >= headerBytes else {
            throw FormatError(path: path, message: "\(bytes.count) bytes: shorter than the 1024-byte header")
        }
        let (magic, version, count) = bytes.withUnsafeBytes { p in
            (Int32(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: Int32.self)),
             Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: Int32.self)),
             Int32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: Int32.self)))
        }
        let width: Width
        switch (magic, version) {
        case (magic16, version16): width = .uint16
        case (magic32, version32): width = .uint32
        case (magic16, _), (magic32, _):
            throw FormatError(path: path, message: "unsupported version \(version) for magic \(magic)")
        default:
            throw FormatError(path: path, message: "not a token shard (magic \(magic))")
        }
        guard count >= 0 else { throw FormatError(path: path, message: "negative token count \(count)") }
        let expected = headerBytes + Int(count) * width.rawValue
        guard bytes.count == expected else {
            throw FormatError(path: path, message: "the header says \(count) tokens (\(expected) bytes) but the file has \(bytes.count) bytes")
        }
        var tokens = [UInt32](repeating: 0, count: Int(count))
        bytes.withUnsafeBytes { p in
            for k in 0..<Int(count) {
                let o = headerBytes + k * width.rawValue
                tokens[k] = width == .uint16 ? UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
                    : UInt32(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt32.self))
            }
        }
        return (tokens, width)
    }
}

/// Kiln's index beside each token shard (`<shard>.idx`): where each document starts, the
/// optional loss mask, and the SHA-256 of the shard it describes. Little-endian:
///
///     0   8  magic "KILNIDX\0"
///     8   4  version (1)
///     12  4  flags: bit 0 = a loss mask follows
///     16  8  documents D
///     24  8  tokens N
///     32  32 SHA-256 of the shard file
///     64  8*(D+1) token offset of each document's first token (its end-of-text), then N
///     ..  ceil(N/8) loss mask bits, token k at byte k/8, bit k%8 (1 = trained), when flagged
public struct TokenIndex: Equatable, Sendable {
    public static let magic: [UInt8] = Array("KILNIDX\u{0}".utf8)
    public static let version: UInt32 = 1
    public static let headerBytes = 64

    /// Token offsets where documents start, then the total (D + 1 values).
    public var offsets: [UInt64]
    /// One flag per token when the shard is supervised data.
    public var mask: [Bool]?
    public var shardSHA256: [UInt8]

    public init(offsets: [UInt64], mask: [Bool]?, shardSHA256: [UInt8]) {
        self.offsets = offsets
        self.mask = mask
        self.shardSHA256 = shardSHA256
    }

    public var documents: Int { max(0, offsets.count - 1) }
    public var tokens: UInt64 { offsets.last ?? 0 }

    public func encode() -> [UInt8] {
        var out = Self.magic
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(Self.version)
        put(UInt32(mask == nil ? 0 : 1))
        put(UInt64(documents))
        put(tokens)
        out.append(contentsOf: shardSHA256)
        for o in offsets { put(o) }
        if let mask {
            var bits = [UInt8](repeating: 0, count: (mask.count + 7) / 8)
            for (k, m) in mask.enumerated() where m { bits[k >> 3] |= 1 << UInt8(k & 7) }
            out.append(contentsOf: bits)
        }
        return out
    }

    public static func decode(_ b: [UInt8], path: String) throws -> TokenIndex {
        func fail(_ m: String) -> TokenShard.FormatError { TokenShard.FormatError(path: path, message: m) }
        guard b.count >= headerBytes, Array(b[0..<8]) == magic else { throw fail("not a Kiln token index") }
        func u32(_ o: Int) -> UInt32 { b.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt32.self)) } }
        func u64(_ o: Int) -> UInt64 { b.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt64.self)) } }
        guard u32(8) == version else { throw fail("unsupported index version \(u32(8))") }
        let hasMask = u32(12) & 1 == 1
        let docs = u64(16), tokens = u64(24)
        guard docs < UInt64(Int32.max), tokens < (1 << 40) else { throw fail("implausible counts: \(docs) documents, \(tokens) tokens") }
        let maskBytes = hasMask ? Int((tokens + 7) / 8) : 0
        let expected = headerBytes + 8 * Int(docs + 1) + maskBytes
        guard b.count == expected else { throw fail("\(b.count) bytes, the header implies \(expected)") }
        let offsets = (0...Int(docs)).map { u64(headerBytes + 8 * $0) }
        guard offsets.last == tokens, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw fail("document offsets are not increasing up to the token count")
        }
        var mask: [Bool]?
        if hasMask {
            let start = headerBytes + 8 * Int(docs + 1)
            mask = (0..<Int(tokens)).map { b[start + ($0 >> 3)] & (1 << UInt8($0 & 7)) != 0 }
        }
        return TokenIndex(offsets: offsets, mask: mask, shardSHA256: Array(b[32..<64]))
    }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }
}

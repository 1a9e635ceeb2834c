// GPT-2's byte <-> character table ("bytes_to_unicode", openai/gpt-2 src/encoder.py), used to write
// byte-level tokens as text in vocab.json, merges.txt and tokenizer.json (FORMATS.md §3.1).
//
// 188 bytes stand for themselves: '!'...'~' (0x21...0x7E), 0xA1...0xAC and 0xAE...0xFF. The other 68
// (0x00...0x20, 0x7F...0xA0, 0xAD), taken in increasing order, map to U+0100, U+0101, ... U+0143.
// The same order, printable bytes first, is GPT-2's rank order of the 256 single-byte tokens.

/// The byte-level alphabet of GPT-2 style tokenizers.
enum ByteLevel {
    /// The character that stands for each byte.
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 0x100
        for b in 0..<256 {
            if standsForItself(UInt8(b)) {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                // 0x100...0x143 are all valid scalars.
                table[b] = Unicode.Scalar(next) ?? " "
                next += 1
            }
        }
        return table
    }()

    /// The byte for each character of the alphabet, indexed by code point (0 ..< 0x144); 0xFFFF
    /// where the code point is not in the alphabet.
    private static let byteForCodePoint: [UInt16] = {
        var table = [UInt16](repeating: 0xFFFF, count: 0x144)
        for (b, s) in scalarForByte.enumerated() { table[Int(s.value)] = UInt16(b) }
        return table
    }()

    /// GPT-2's ranks of the single-byte tokens: the 188 bytes that stand for themselves in byte
    /// order, then the other 68 in byte order (tiktoken `data_gym_to_mergeable_bpe_ranks`).
    static let gpt2ByteOrder: [UInt8] = {
        let printable = (0..<256).map(UInt8.init).filter(standsForItself)
        let others = (0..<256).map(UInt8.init).filter { !standsForItself($0) }
        return printable + others
    }()

    static func standsForItself(_ b: UInt8) -> Bool {
        (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
    }

    /// The byte that `scalar` stands for, or nil when it is not in the alphabet.
    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = Int(scalar.value)
        guard v < byteForCodePoint.count else { return nil }
        let b = byteForCodePoint[v]
        return b == 0xFFFF ? nil : UInt8(b)
    }

    /// Writes bytes as alphabet characters ("Ġthe" for " the").
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(scalarForByte[Int(b)]) }
        return String(s)
    }

    /// The bytes a string of alphabet characters stands for, or nil when it holds another character.
    static func decode(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            guard let b = byte(for: s) else { return nil }
            bytes.append(b)
        }
        return bytes
    }
}

import ArchiveIO
#if canImport(Glibc)
import Glibc
#endif

/// Text of unknown encoding turned into UTF-8 with `\n` line endings.
public struct DecodedText: Equatable, Sendable {
    public var text: String
    /// "utf-8", "utf-8-bom", "utf-16le", "utf-16be", "gb18030", "big5", or the declared charset.
    public var encoding: String
    /// Bytes that were not valid in any encoding tried and became U+FFFD.
    public var replacedBytes: Int
}

/// Decoding rules, in order: a byte-order mark decides (UTF-8, UTF-16); valid UTF-8 is UTF-8;
/// then a charset the document declares (HTML meta, HTTP header); then GB18030 or Big5 when the
/// bytes are valid there (common for Chinese files); anything else is UTF-8 with each invalid
/// sequence replaced by U+FFFD, and the count reported.
public enum TextDecoding {
    public static func decode(_ bytes: [UInt8], declaredCharset: String? = nil) -> DecodedText {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            let (s, bad) = lossyUTF8(bytes[3...])
            return DecodedText(text: normalizeNewlines(s), encoding: "utf-8-bom", replacedBytes: bad)
        }
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            let enc = bytes[0] == 0xFF ? "UTF-16LE" : "UTF-16BE"
            if let u = Charset.toUTF8(Array(bytes[2...]), from: enc) {
                return DecodedText(text: normalizeNewlines(String(decoding: u, as: UTF8.self)),
                                   encoding: enc.lowercased(), replacedBytes: 0)
            }
        }
        if let s = String(validating: bytes, as: UTF8.self) {
            return DecodedText(text: normalizeNewlines(s), encoding: "utf-8", replacedBytes: 0)
        }
        if let declared = declaredCharset?.lowercased(), !declared.hasPrefix("utf-8"), declared != "utf8",
           let u = Charset.toUTF8(bytes, from: iconvName(declared)) {
            return DecodedText(text: normalizeNewlines(String(decoding: u, as: UTF8.self)),
                               encoding: declared, replacedBytes: 0)
        }
        if let (u, enc) = chineseLegacy(bytes) {
            return DecodedText(text: normalizeNewlines(String(decoding: u, as: UTF8.self)),
                               encoding: enc, replacedBytes: 0)
        }
        let (s, bad) = lossyUTF8(bytes[...])
        return DecodedText(text: normalizeNewlines(s), encoding: "utf-8", replacedBytes: bad)
    }

    /// glibc's names for the charsets that web pages declare under other labels.
    static func iconvName(_ label: String) -> String {
        switch label {
        case "gb2312", "gbk", "x-gbk", "gb_2312-80", "cp936": return "GB18030"
        case "big5-hkscs", "x-x-big5", "cn-big5": return "BIG5-HKSCS"
        case "latin1", "iso-8859-1", "us-ascii", "ascii": return "WINDOWS-1252"
        default: return label.uppercased()
        }
    }

    /// GB18030 or Big5, when the bytes are valid in one of them. Big5 text is almost always valid
    /// GB18030 too (the byte ranges overlap), so when both decode, the trail bytes decide: common
    /// Chinese in GB2312 (what GB18030 text is mostly made of) has trail bytes of 0xA1 or more,
    /// while about two fifths of Big5 characters have trail bytes 0x40–0x7E.
    static func chineseLegacy(_ bytes: [UInt8]) -> ([UInt8], String)? {
        let gb = Charset.toUTF8(bytes, from: "GB18030")
        let big5 = Charset.toUTF8(bytes, from: "BIG5-HKSCS")
        switch (gb, big5) {
        case (nil, nil): return nil
        case let (g?, nil): return (g, "gb18030")
        case let (nil, b?): return (b, "big5")
        case let (g?, b?):
            var pairs = 0
            var lowTrail = 0
            var k = 0
            while k + 1 < bytes.count {
                if bytes[k] >= 0x81 {
                    pairs += 1
                    if bytes[k + 1] < 0xA1 { lowTrail += 1 }
                    k += 2
                } else {
                    k += 1
                }
            }
            return pairs > 0 && lowTrail * 5 >= pairs ? (b, "big5") : (g, "gb18030")
        }
    }

    /// `\r\n` and lone `\r` become `\n`.
    public static func normalizeNewlines(_ s: String) -> String {
        var s = s
        let hasCR = s.withUTF8 { b in b.count > 0 && memchr(b.baseAddress!, 0x0D, b.count) != nil }
        guard hasCR else { return s }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var previousCR = false
        s.withUTF8 { b in
            for c in b {
                if c == 0x0D {
                    out.append(0x0A)
                    previousCR = true
                } else {
                    if !(c == 0x0A && previousCR) { out.append(c) }
                    previousCR = false
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when the text is empty or only spaces, tabs and line breaks.
    public static func isBlank(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { b in
            for c in b where !(c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D) { return false }
            return true
        }
    }

    /// Length of the longest valid UTF-8 prefix (all of it when the bytes are valid).
    public static func validUTF8Prefix(_ bytes: ArraySlice<UInt8>) -> Int {
        bytes.withUnsafeBufferPointer { b in
            let n = b.count
            var i = 0
            while i < n {
                // ASCII fast path, eight bytes at a time.
                while i + 8 <= n {
                    let w = UnsafeRawPointer(b.baseAddress! + i).loadUnaligned(as: UInt64.self)
                    if w & 0x8080_8080_8080_8080 != 0 { break }
                    i += 8
                }
                if i >= n { break }
                let c = b[i]
                if c < 0x80 { i += 1; continue }
                let len = sequenceLength(b, i)
                if len == 0 { return i }
                i += len
            }
            return n
        }
    }

    /// Length of the valid UTF-8 sequence at `i`, or 0 (RFC 3629: no overlongs, no surrogates).
    @inline(__always)
    static func sequenceLength(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        let n = b.count
        let c = b[i]
        func cont(_ k: Int) -> Bool { k < n && b[k] & 0xC0 == 0x80 }
        switch c {
        case 0xC2...0xDF:
            return cont(i + 1) ? 2 : 0
        case 0xE0:
            return i + 1 < n && (0xA0...0xBF).contains(b[i + 1]) && cont(i + 2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF:
            return cont(i + 1) && cont(i + 2) ? 3 : 0
        case 0xED:
            return i + 1 < n && (0x80...0x9F).contains(b[i + 1]) && cont(i + 2) ? 3 : 0
        case 0xF0:
            return i + 1 < n && (0x90...0xBF).contains(b[i + 1]) && cont(i + 2) && cont(i + 3) ? 4 : 0
        case 0xF1...0xF3:
            return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0
        case 0xF4:
            return i + 1 < n && (0x80...0x8F).contains(b[i + 1]) && cont(i + 2) && cont(i + 3) ? 4 : 0
        default:
            return 0
        }
    }

    /// UTF-8 with each invalid byte replaced by U+FFFD; returns the text and the number of
    /// invalid bytes.
    public static func lossyUTF8(_ bytes: ArraySlice<UInt8>) -> (String, Int) {
        let valid = validUTF8Prefix(bytes)
        if valid == bytes.count { return (String(decoding: bytes, as: UTF8.self), 0) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var bad = 0
        bytes.withUnsafeBufferPointer { b in
            var i = 0
            while i < b.count {
                let c = b[i]
                if c < 0x80 { out.append(c); i += 1; continue }
                let len = sequenceLength(b, i)
                if len == 0 {
                    out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                    bad += 1
                    i += 1
                } else {
                    out.append(contentsOf: b[i..<(i + len)])
                    i += len
                }
            }
        }
        return (String(decoding: out, as: UTF8.self), bad)
    }
}

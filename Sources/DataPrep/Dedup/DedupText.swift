/// The text normalization shared by exact and near dedup.
///
/// One pass over the UTF-8 bytes folds case and drops every separator, and cuts what is left
/// into tokens. The normalized text is the tokens concatenated, so the exact key and the shingles
/// see the same text:
///
/// - dropped (separators): Unicode general categories Z* (spaces), P* (punctuation), Cc (controls:
///   tab, newline) and Cf (format: soft hyphen, zero-width space, BOM), and the ASCII symbols
///   (dollar, plus, less-than, equals, greater-than, caret, backtick, bar, tilde): in ASCII only
///   letters and digits are kept;
/// - kept, and lowercased with the scalar's Unicode lowercase mapping: everything else;
/// - a token is a run of kept scalars between separators, except in scripts written without
///   spaces between words (Han, kana, Thai, Lao, Khmer, Myanmar), where each scalar is a token
///   of its own. Word 5-grams therefore become character 5-grams in Chinese text, and mixed text
///   gets both.
enum DedupText {
    /// What a scalar is for dedup: packed in a UInt32 as `kind << 24 | lowercase scalar`, with
    /// `special` set when the lowercase mapping has more than one scalar (U+0130 İ → i̇).
    static let separator: UInt32 = 0
    static let word: UInt32 = 1
    static let ideograph: UInt32 = 2
    static let special: UInt32 = 1 << 28

    /// Entries for the Basic Multilingual Plane (256 KiB, built once), so the hot loop looks a
    /// scalar up instead of asking the Unicode property tables each time.
    static let bmp: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 0x10000)
        for v in 0..<UInt32(0x10000) {
            t[Int(v)] = entry(v)
        }
        return t
    }()

    /// Scripts written without spaces between words; each of their scalars is a token.
    @inline(__always)
    static func isIdeographic(_ v: UInt32) -> Bool {
        switch v {
        case 0x0E00...0x0EFF,  // Thai, Lao
             0x1000...0x109F,  // Myanmar
             0x1780...0x17FF,  // Khmer
             0x3040...0x30FF,  // Hiragana, Katakana
             0x31F0...0x31FF,  // Katakana phonetic extensions
             0x3400...0x4DBF,  // CJK Extension A
             0x4E00...0x9FFF,  // CJK Unified Ideographs
             0xF900...0xFAFF,  // CJK Compatibility Ideographs
             0xFF66...0xFF9F,  // halfwidth Katakana
             0x20000...0x3FFFF:  // CJK Extensions B and later, compatibility supplement
            return true
        default:
            return false
        }
    }

    /// The packed entry of one scalar value, from the Unicode tables (the slow path).
    static func entry(_ v: UInt32) -> UInt32 {
        guard let s = Unicode.Scalar(v) else { return separator << 24 }  // surrogates
        if v < 0x80 {
            let c = UInt8(v)
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): return word << 24 | (v + 32)
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return word << 24 | v
            default: return separator << 24  // controls, space, punctuation and symbols
            }
        }
        let p = s.properties
        switch p.generalCategory {
        case .spaceSeparator, .lineSeparator, .paragraphSeparator,
             .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation,
             .control, .format:
            return separator << 24
        default:
            break
        }
        let kind = isIdeographic(v) ? ideograph : word
        guard p.changesWhenLowercased else { return kind << 24 | v }
        let lower = p.lowercaseMapping.unicodeScalars
        if lower.count == 1, let l = lower.first { return kind << 24 | l.value }
        return kind << 24 | special | v
    }

    /// Normalizes `text` into `ws.norm` and records where each token ends in `ws.tokenEnds`.
    /// Returns (normalized byte count, token count).
    static func normalize(_ text: String, into ws: MinHasher.Workspace) -> (bytes: Int, tokens: Int) {
        var text = text
        return text.withUTF8 { src in
            ws.reserve(inputBytes: src.count)
            return bmp.withUnsafeBufferPointer { table in
                normalize(src, table: table, norm: ws.norm, tokenEnds: ws.tokenEnds)
            }
        }
    }

    /// The hot loop. `norm` holds at least 2 * src.count + 16 bytes (a lowercase mapping grows
    /// a scalar's UTF-8 by at most half: U+023A, two bytes, becomes U+2C65, three) and
    /// `tokenEnds` at least src.count + 1 entries.
    static func normalize(_ src: UnsafeBufferPointer<UInt8>, table: UnsafeBufferPointer<UInt32>,
                          norm: UnsafeMutablePointer<UInt8>, tokenEnds: UnsafeMutablePointer<UInt32>)
        -> (bytes: Int, tokens: Int) {
        precondition(table.count == 0x10000)
        guard let p = src.baseAddress else { return (0, 0) }
        let n = src.count
        var i = 0
        var out = 0
        var tokens = 0
        var inWord = false
        while i < n {
            let b0 = UInt32(p[i])
            var v: UInt32
            if b0 < 0x80 {
                v = b0
                i += 1
            } else if b0 < 0xE0 {
                v = (b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F)
                i += 2
            } else if b0 < 0xF0 {
                v = (b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F)
                i += 3
            } else {
                v = (b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6
                    | UInt32(p[i + 3] & 0x3F)
                i += 4
            }
            let e = v < 0x10000 ? table[Int(v)] : entry(v)
            let kind = (e >> 24) & 3
            if kind == separator {
                if inWord {
                    tokenEnds[tokens] = UInt32(out)
                    tokens += 1
                    inWord = false
                }
                continue
            }
            if kind == ideograph && inWord {
                tokenEnds[tokens] = UInt32(out)
                tokens += 1
            }
            if e & special != 0 {
                if let s = Unicode.Scalar(e & 0x1F_FFFF) {
                    for l in s.properties.lowercaseMapping.unicodeScalars {
                        out += appendUTF8(l.value, to: norm + out)
                    }
                }
            } else {
                out += appendUTF8(e & 0x1F_FFFF, to: norm + out)
            }
            if kind == ideograph {
                tokenEnds[tokens] = UInt32(out)
                tokens += 1
                inWord = false
            } else {
                inWord = true
            }
        }
        if inWord {
            tokenEnds[tokens] = UInt32(out)
            tokens += 1
        }
        return (out, tokens)
    }

    @inline(__always)
    static func appendUTF8(_ v: UInt32, to q: UnsafeMutablePointer<UInt8>) -> Int {
        if v < 0x80 {
            q[0] = UInt8(v)
            return 1
        } else if v < 0x800 {
            q[0] = UInt8(0xC0 | v >> 6)
            q[1] = UInt8(0x80 | v & 0x3F)
            return 2
        } else if v < 0x10000 {
            q[0] = UInt8(0xE0 | v >> 12)
            q[1] = UInt8(0x80 | (v >> 6) & 0x3F)
            q[2] = UInt8(0x80 | v & 0x3F)
            return 3
        } else {
            q[0] = UInt8(0xF0 | v >> 18)
            q[1] = UInt8(0x80 | (v >> 12) & 0x3F)
            q[2] = UInt8(0x80 | (v >> 6) & 0x3F)
            q[3] = UInt8(0x80 | v & 0x3F)
            return 4
        }
    }
}

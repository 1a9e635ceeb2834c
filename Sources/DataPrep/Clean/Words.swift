// Words as the quality filters count them, found in one pass over a text's UTF-8 bytes.
//
// datatrove tokenizes with spaCy (or NLTK) and then sets punctuation tokens aside where a check
// needs words. A tokenizer would cost far more than the filters themselves, so the rules here are
// simple and close to spaCy's on English:
//   - A word is a run of letters and digits, with the combining marks that follow them. An
//     apostrophe or hyphen (' ’ - ‐ _) between two of them stays inside it ("don't",
//     "well-known"), and so does . , : or / between digits ("3.14", "1,000", "3:16", "1/2").
//     spaCy makes two tokens of "don't" and "Yahweh's" and three of "well-known"; those splits
//     are counted (`clitics`, `hyphens`) so that the ratios over tokens come out as datatrove's.
//   - Every Han character and every kana is a word of its own. Chinese and Japanese put no spaces
//     between words, and a character is the unit that needs no dictionary: counting characters
//     makes a 50-word minimum about a sentence or two of Chinese, close to 50 English words.
//   - Punctuation and symbols are not words. They are tokens all the same, one per mark except
//     that a run of "." or "-" is one ("...", "----"), as spaCy splits them: datatrove's symbol
//     and alphabetic ratios divide by all tokens, and its n-grams are of all tokens.
//   - Whitespace is Python's `str.isspace` set; format characters (zero-width joiners, soft
//     hyphens) neither end nor start a word, nor do combining marks outside a word (an emoji's
//     variation selector).

/// Words of a text, Chinese-aware: runs of letters and digits (with inner apostrophes and
/// hyphens) for scripts that use spaces, and every Han character and every kana as a word of its
/// own. Punctuation and symbols are not words.
public enum Words {
    /// The words of `text`, in order.
    public static func split(_ text: String) -> [Substring] {
        var t = text
        let scan = t.withUTF8 { WordScan($0, hashing: false) }
        let scalars = text.unicodeScalars
        let u = text.utf8
        return scan.words.map { w in
            let a = u.index(u.startIndex, offsetBy: Int(w.start))
            let b = u.index(a, offsetBy: Int(w.end - w.start))
            return Substring(scalars[a..<b])
        }
    }
}

/// The words of a UTF-8 buffer with what the filters need of them.
struct WordScan {
    struct Word {
        /// Byte offsets of the word in the buffer.
        var start: Int32
        var end: Int32
        /// Length in Unicode scalars (Python's `len`).
        var length: Int32
        var flags: UInt8
    }

    /// The word contains a letter (Python's `str.isalpha` on one of its characters).
    static let hasLetter: UInt8 = 1
    /// The word is one Han character or one kana.
    static let isCJK: UInt8 = 2
    /// The token is a punctuation mark or symbol (only with `keepingSymbols`).
    static let isSymbol: UInt8 = 4

    var words: [Word] = []
    /// A 64-bit hash of each word's bytes, when asked for.
    var hashes: [UInt64] = []
    /// Punctuation and symbol tokens.
    var symbolTokens = 0
    /// Words that are a Han character or a kana.
    var cjkWords = 0
    /// Letters inside words, Han and kana included.
    var letters = 0
    /// Apostrophes inside words, where spaCy splits off a clitic ("do" "n't", "Yahweh" "’s").
    var clitics = 0
    /// Hyphens inside words before a letter, where spaCy splits ("well" "-" "known").
    var hyphens = 0

    /// Scans `p`. With `keepingSymbols`, punctuation and symbol tokens are in `words` too
    /// (flagged `isSymbol`), as spaCy's tokens are in datatrove's n-grams.
    init(_ p: UnsafeBufferPointer<UInt8>, hashing: Bool, keepingSymbols: Bool = false) {
        precondition(p.count < Int(Int32.max), "a document over 2 GiB")
        let n = p.count
        var words: [Word] = []
        var hashes: [UInt64] = []
        var symbolTokens = 0, cjkWords = 0, letters = 0, clitics = 0, hyphens = 0
        words.reserveCapacity(n / 5 + 1)
        var inWord = false
        var wStart = 0, wLength: Int32 = 0
        var wLetter = false
        var lastDigit = false          // the word's last scalar is a digit
        var prevSymbol: UInt32 = .max  // the scalar just before, when it was a symbol
        var i = 0

        // Ends the current word at byte `end`.
        func close(_ end: Int) {
            if !inWord { return }
            inWord = false
            words.append(Word(start: Int32(wStart), end: Int32(end), length: wLength,
                              flags: wLetter ? WordScan.hasLetter : 0))
        }

        while i < n {
            let b = p[i]
            var scalar = UInt32(b)
            var width = 1
            var cls: ScalarClass
            if b < 0x80 {
                cls = TextBytes.asciiClass(b)
            } else {
                (scalar, width) = TextBytes.decodeScalar(p, i)
                cls = TextBytes.classify(scalar)
            }
            switch cls {
            case .letter, .digit:
                if !inWord {
                    inWord = true
                    wStart = i
                    wLength = 0
                    wLetter = false
                }
                wLength += 1
                if cls == .letter {
                    wLetter = true
                    letters += 1
                }
                lastDigit = cls == .digit
                prevSymbol = .max
                i += width
                // The rest of an ASCII run, in a tight loop: most of English text.
                while i < n {
                    let c = p[i]
                    let letter = (c | 0x20) &- 0x61 < 26, digit = c &- 0x30 < 10
                    if !(letter || digit) { break }
                    wLength += 1
                    if letter {
                        wLetter = true
                        letters += 1
                    }
                    lastDigit = digit
                    i += 1
                }
                continue
            case .cjk:
                close(i)
                words.append(Word(start: Int32(i), end: Int32(i + width), length: 1,
                                  flags: WordScan.hasLetter | WordScan.isCJK))
                cjkWords += 1
                letters += 1
                prevSymbol = .max
            case .space:
                close(i)
                prevSymbol = .max
            case .format, .mark:
                if inWord { wLength += 1 }
            case .joiner, .numberSeparator, .symbol:
                if inWord && i + width < n {
                    let next = TextBytes.nextClass(p, i + width)
                    let inner = cls == .joiner ? (next == .letter || next == .digit)
                        : cls == .numberSeparator ? (lastDigit && next == .digit) : false
                    if inner {
                        if cls == .joiner {
                            if scalar == 0x27 || scalar == 0x2019 { clitics += 1 }
                            else if (scalar == 0x2D || scalar == 0x2010) && next == .letter { hyphens += 1 }
                        }
                        wLength += 1
                        i += width
                        continue
                    }
                }
                close(i)
                // One token per mark, except a run of "." or "-" ("...", "----"), as spaCy splits them.
                if scalar != prevSymbol || (scalar != 0x2E && scalar != 0x2D) {
                    symbolTokens += 1
                    if keepingSymbols {
                        words.append(Word(start: Int32(i), end: Int32(i + width), length: 1, flags: WordScan.isSymbol))
                    }
                } else if keepingSymbols {
                    words[words.count - 1].end = Int32(i + width)
                    words[words.count - 1].length += 1
                }
                prevSymbol = scalar
            }
            i += width
        }
        close(n)
        if hashing {
            hashes.reserveCapacity(words.count)
            for w in words { hashes.append(TextBytes.hashBytes(p, Int(w.start), Int(w.end))) }
        }
        self.words = words
        self.hashes = hashes
        self.symbolTokens = symbolTokens
        self.cjkWords = cjkWords
        self.letters = letters
        self.clitics = clitics
        self.hyphens = hyphens
    }
}

enum ScalarClass: UInt8 {
    case space, letter, digit, cjk, symbol
    /// ' ’ - ‐ _: inside a word between letters or digits, else a symbol.
    case joiner
    /// . , : / inside a number between digits ("3.14", "1,000", "3:16", "1/2"), else a symbol.
    case numberSeparator
    /// Unicode format characters (Cf): part of a word they stand in, otherwise nothing.
    case format
    /// Combining marks: part of the word they follow; after anything else (an emoji's variation
    /// selector) nothing.
    case mark
}

/// UTF-8 and scalar helpers of the quality filters, on buffers of valid UTF-8 (Swift strings
/// are). Lengths are in Unicode scalars, as Python counts them.
enum TextBytes {
    @inline(__always)
    static func asciiClass(_ b: UInt8) -> ScalarClass {
        switch b {
        case 0x09...0x0D, 0x1C...0x20: return .space
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): return .letter
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return .digit
        case UInt8(ascii: "'"), UInt8(ascii: "-"), UInt8(ascii: "_"): return .joiner
        case UInt8(ascii: "."), UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "/"): return .numberSeparator
        default: return .symbol
        }
    }

    /// Decodes the scalar that starts at `i` (a lead byte of valid UTF-8, as Swift strings are).
    /// A sequence cut short by the end of the buffer reads as U+FFFD over its first byte.
    @inline(__always)
    static func decodeScalar(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
        let b0 = UInt32(p[i])
        if b0 < 0xE0 {
            guard i + 1 < p.count else { return (0xFFFD, 1) }
            return (((b0 & 0x1F) << 6) | (UInt32(p[i + 1]) & 0x3F), 2)
        }
        if b0 < 0xF0 {
            guard i + 2 < p.count else { return (0xFFFD, 1) }
            return (((b0 & 0x0F) << 12) | ((UInt32(p[i + 1]) & 0x3F) << 6) | (UInt32(p[i + 2]) & 0x3F), 3)
        }
        guard i + 3 < p.count else { return (0xFFFD, 1) }
        return (((b0 & 0x07) << 18) | ((UInt32(p[i + 1]) & 0x3F) << 12) | ((UInt32(p[i + 2]) & 0x3F) << 6)
                | (UInt32(p[i + 3]) & 0x3F), 4)
    }

    /// The scalar that ends just before byte `end` (> 0): (scalar, its first byte).
    @inline(__always)
    static func decodeScalar(_ p: UnsafeBufferPointer<UInt8>, endingAt end: Int) -> (UInt32, Int) {
        var s = end - 1
        while s > 0 && end - s < 4 && p[s] & 0xC0 == 0x80 { s -= 1 }
        return (decodeScalar(p, s).0, s)
    }

    @inline(__always)
    static func nextClass(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> ScalarClass {
        let b = p[i]
        return b < 0x80 ? asciiClass(b) : classify(decodeScalar(p, i).0)
    }

    /// Han ideographs (unified, extensions A to I, compatibility), the iteration and zero marks, and
    /// kana (hiragana, katakana, half-width katakana), less the katakana middle dot, a punctuation mark.
    @inline(__always)
    static func isCJK(_ s: UInt32) -> Bool {
        switch s {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0xF900...0xFAFF, 0x20000...0x323AF, 0x3005...0x3007,
             0x3041...0x3096, 0x309D...0x309F, 0x30A1...0x30FA, 0x30FC...0x30FF, 0x31F0...0x31FF,
             0xFF66...0xFF9F:
            return true
        default:
            return false
        }
    }

    /// Python's `str.isspace` beyond ASCII.
    @inline(__always)
    static func isUnicodeSpace(_ s: UInt32) -> Bool {
        switch s {
        case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// Python's `str.isspace` for any scalar.
    @inline(__always)
    static func isPythonSpace(_ s: UInt32) -> Bool {
        s < 0x80 ? (s == 0x20 || (s >= 0x09 && s <= 0x0D) || (s >= 0x1C && s <= 0x1F)) : isUnicodeSpace(s)
    }

    static func classify(_ s: UInt32) -> ScalarClass {
        if s < 0x80 { return asciiClass(UInt8(s)) }
        if isCJK(s) { return .cjk }
        if isUnicodeSpace(s) { return .space }
        switch s {
        case 0x2019, 0x2010: return .joiner
        // Chinese and general punctuation without a table lookup: 、。〃〈〉《》「」『』【】〔〕
        // ！＂＃...／ ：；＜＝＞？＠ ［＼］＾＿｀ ｛｜｝～｟｠｡｢｣､･, dashes, quotes, bullets, …
        case 0x3001...0x3004, 0x3008...0x3020, 0xFF01...0xFF0F, 0xFF1A...0xFF20, 0xFF3B...0xFF40,
             0xFF5B...0xFF65, 0x2011...0x2018, 0x201A...0x2027, 0x2030...0x205E:
            return .symbol
        default: break
        }
        guard let u = Unicode.Scalar(s) else { return .symbol }
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .digit
        case .nonspacingMark, .spacingMark, .enclosingMark:
            return .mark
        case .format:
            return .format
        default:
            return .symbol
        }
    }

    // MARK: Byte helpers shared by the filters

    /// A 64-bit hash of bytes `start..<end`, eight bytes at a time. Used only to compare pieces of
    /// one document with each other, where a collision among a million pieces has odds of 1 in 10^7.
    @inline(__always)
    static func hashBytes(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt64 {
        let raw = UnsafeRawBufferPointer(p)
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(end - start)
        var i = start
        while i + 8 <= end {
            h = mixHash(h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian)
            i += 8
        }
        if i < end {
            let rest = end - i
            var v: UInt64 = 0
            if i + 8 <= p.count {
                // One load and a mask (little-endian: the first bytes are the low ones).
                v = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian & (~0 >> UInt64(64 - 8 * rest))
            } else {
                var shift: UInt64 = 0
                while i < end {
                    v |= UInt64(p[i]) << shift
                    shift += 8
                    i += 1
                }
            }
            h = mixHash(h ^ v)
        }
        // MurmurHash3's finaliser: every input bit reaches every output bit.
        h ^= h >> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h &*= 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }

    @inline(__always)
    static func mixHash(_ x: UInt64) -> UInt64 {
        let m = x &* 0x9FB2_1C65_1E98_DF25
        return m ^ (m >> 29)
    }

    /// Unicode scalars in bytes `start..<end` (Python's `len` of that piece).
    @inline(__always)
    static func scalarCount(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        var c = 0
        var i = start
        while i < end {
            c &+= p[i] & 0xC0 != 0x80 ? 1 : 0
            i += 1
        }
        return c
    }

    /// Bytes `start..<end` less Python-whitespace at both ends (`str.strip()`).
    static func stripRange(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Range<Int> {
        var a = start
        while a < end {
            let b = p[a]
            if b < 0x80 {
                if !isPythonSpace(UInt32(b)) { break }
                a += 1
            } else {
                let (s, w) = decodeScalar(p, a)
                if !isUnicodeSpace(s) { break }
                a += w
            }
        }
        var z = end
        while z > a {
            let b = p[z - 1]
            if b < 0x80 {
                if !isPythonSpace(UInt32(b)) { break }
                z -= 1
            } else {
                let (s, first) = decodeScalar(p, endingAt: z)
                if !isUnicodeSpace(s) { break }
                z = first
            }
        }
        return a..<z
    }
}

// The hand-made scanners behind PreTokenizer.split: one loop per pattern that decodes UTF-8 on
// the fly and decides each piece with bounded look-ahead, so a split is linear in the input.
//
// How each regex alternation is decided (leftmost-first: the first alternative that matches at the
// position wins, and within it the first path a backtracking engine would find):
//
// * `\s+(?!\S)` takes a white-space run less its last character, unless the run ends the text
//   (then all of it) or is one character long (then `\s` or `\s+` takes that one).
// * `\s*[\r\n]` and `\s*[\r\n]+` end after the last CR or LF of the white-space run.
// * o200k's `P?U*W+` (U = Lu Lt Lm Lo M, W = Ll Lm Lo M, P the optional prefix): U* backs off
//   until W+ can start, so the piece ends at the end of the W run after the U run when an Ll
//   follows the U run, else just after the last Lm/Lo/M inside the U run, else that prefix choice
//   fails. `P?U+W*` then takes the whole U run. The prefix `[^\r\n\p{L}\p{N}]?` is tried taken,
//   then not taken; not taken can only matter when it is a mark (M is in U and W but not in L).

extension PreTokenizer {
    /// A character's class as the three patterns see it; each is a bit in the masks of `Mask`.
    enum CharacterClass {
        static let upper: UInt8 = 0 // Lu, Lt
        static let lower: UInt8 = 1 // Ll
        static let otherLetter: UInt8 = 2 // Lm, Lo
        static let mark: UInt8 = 3 // Mn, Mc, Me
        static let number: UInt8 = 4 // Nd, Nl, No
        static let space: UInt8 = 5 // U+0020, the only space that may prefix a word
        static let newline: UInt8 = 6 // CR, LF
        static let otherSpace: UInt8 = 7 // the rest of White_Space (tab, U+0085, U+00A0, U+3000, ...)
        static let symbol: UInt8 = 8 // everything else, and each byte of invalid UTF-8

        /// The Unicode version whose character assignments the classes follow: that of the regex
        /// crate inside tiktoken 0.14.0 (regex-syntax, Unicode 16.0). The Swift 6.3 runtime knows
        /// Unicode 17.0, whose 4,699 new letters, marks and numbers tiktoken still sees as
        /// unassigned, so they are symbols here too; pinning the version also keeps a split from
        /// changing with the runtime. A runtime with older tables than this classifies the newer
        /// scalars as unassigned.
        static let unicodeVersion = (major: 16, minor: 0)

        /// The class of a scalar. `\s` in Rust's regex crate (and so in tiktoken) is the Unicode
        /// White_Space property, which `isWhitespace` is; no White_Space scalar is a letter,
        /// mark or number.
        static func of(_ scalar: Unicode.Scalar) -> UInt8 {
            switch scalar.value {
            case 0x20: return space
            case 0x0A, 0x0D: return newline
            default: break
            }
            let properties = scalar.properties
            guard let age = properties.age, age <= unicodeVersion else { return symbol }
            if properties.isWhitespace { return otherSpace }
            switch properties.generalCategory {
            case .uppercaseLetter, .titlecaseLetter: return upper
            case .lowercaseLetter: return lower
            case .modifierLetter, .otherLetter: return otherLetter
            case .nonspacingMark, .spacingMark, .enclosingMark: return mark
            case .decimalNumber, .letterNumber, .otherNumber: return number
            default: return symbol
            }
        }
    }

    /// Sets of character classes, as masks of `1 << class`.
    enum Mask {
        static let upper: UInt16 = 1 << CharacterClass.upper
        static let lower: UInt16 = 1 << CharacterClass.lower
        static let otherLetter: UInt16 = 1 << CharacterClass.otherLetter
        static let mark: UInt16 = 1 << CharacterClass.mark
        static let number: UInt16 = 1 << CharacterClass.number
        static let space: UInt16 = 1 << CharacterClass.space
        static let newline: UInt16 = 1 << CharacterClass.newline
        static let otherSpace: UInt16 = 1 << CharacterClass.otherSpace
        static let symbol: UInt16 = 1 << CharacterClass.symbol

        /// `\p{L}`
        static let letter = upper | lower | otherLetter
        /// `\s`
        static let whitespace = space | newline | otherSpace
        /// `[^\s\p{L}\p{N}]`
        static let punctuation = mark | symbol
        /// `[^\r\n\p{L}\p{N}]`
        static let prefix = mark | symbol | space | otherSpace
        /// o200k's `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`
        static let o200kUpper = upper | otherLetter | mark
        /// o200k's `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`
        static let o200kLower = lower | otherLetter | mark
        /// In both of o200k's case classes.
        static let o200kBoth = otherLetter | mark
        /// In either of o200k's case classes: `[\p{L}\p{M}]`.
        static let o200kLetter = letter | mark
    }

    /// The classes of the Basic Multilingual Plane, one byte per scalar (64 KiB), built once from
    /// the standard library's Unicode tables (about 10 ms). Plane 1 (emoji, historic scripts,
    /// mathematical letters) gets a table of its own, built the first time a text needs it, since
    /// asking the standard library costs some 100 ns a scalar; higher planes ask it directly.
    /// Surrogate code points get `symbol`; they never come out of the decoder.
    struct CharacterTable: @unchecked Sendable { // immutable once built, never freed
        let bmp: UnsafePointer<UInt8>
        /// The masks (not classes) of ASCII, for the loops that run over English text.
        let ascii: UnsafePointer<UInt16>

        static let shared = CharacterTable()
        nonisolated(unsafe) static let plane1 = classes(of: 0x10000..<0x20000) // read-only once built

        private init() {
            let table = Self.classes(of: 0..<0x10000)
            let ascii = UnsafeMutablePointer<UInt16>.allocate(capacity: 0x80)
            for value in 0..<0x80 { ascii[value] = 1 << table[value] }
            bmp = table
            self.ascii = UnsafePointer(ascii)
        }

        private static func classes(of values: Range<UInt32>) -> UnsafePointer<UInt8> {
            let table = UnsafeMutablePointer<UInt8>.allocate(capacity: values.count)
            for value in values {
                table[Int(value - values.lowerBound)] =
                    Unicode.Scalar(value).map(CharacterClass.of) ?? CharacterClass.symbol
            }
            return UnsafePointer(table)
        }

        /// The class of a scalar above U+FFFF.
        static func supplementaryClass(_ scalar: UInt32) -> UInt8 {
            if scalar < 0x20000 { return plane1[Int(scalar &- 0x10000)] }
            return Unicode.Scalar(scalar).map(CharacterClass.of) ?? CharacterClass.symbol
        }
    }

    /// One split in progress over `base[0..<end]`. Every method takes a position `i < end` at the
    /// start of a character (or of an invalid byte) and returns a position after it.
    struct Scanner {
        let base: UnsafePointer<UInt8>
        let end: Int
        let bmp: UnsafePointer<UInt8>
        let ascii: UnsafePointer<UInt16>

        init(base: UnsafePointer<UInt8>, count: Int, table: CharacterTable) {
            precondition(count >= 0)
            self.base = base
            self.end = count
            self.bmp = table.bmp
            self.ascii = table.ascii
        }

        // MARK: Decoding

        /// The class mask of the character at `i` and the position after it.
        @inline(__always)
        func character(at i: Int) -> (mask: UInt16, next: Int) {
            let b0 = base[i]
            if b0 < 0x80 { return (ascii[Int(b0)], i &+ 1) }
            return multibyteCharacter(at: i, b0)
        }

        /// Decodes one well-formed UTF-8 sequence (RFC 3629: no overlong forms, no surrogates,
        /// nothing above U+10FFFF); anything else is a one-byte symbol.
        func multibyteCharacter(at i: Int, _ b0: UInt8) -> (mask: UInt16, next: Int) {
            let invalid = (Mask.symbol, i &+ 1)
            let left = end &- i
            let scalar: UInt32
            let length: Int
            if b0 < 0xC2 {
                return invalid
            } else if b0 < 0xE0 {
                guard left >= 2 else { return invalid }
                let b1 = base[i &+ 1]
                guard b1 & 0xC0 == 0x80 else { return invalid }
                scalar = UInt32(b0 & 0x1F) << 6 | UInt32(b1 & 0x3F)
                length = 2
            } else if b0 < 0xF0 {
                guard left >= 3 else { return invalid }
                let b1 = base[i &+ 1], b2 = base[i &+ 2]
                let low: UInt8 = b0 == 0xE0 ? 0xA0 : 0x80
                let high: UInt8 = b0 == 0xED ? 0x9F : 0xBF
                guard b1 >= low, b1 <= high, b2 & 0xC0 == 0x80 else { return invalid }
                scalar = UInt32(b0 & 0x0F) << 12 | UInt32(b1 & 0x3F) << 6 | UInt32(b2 & 0x3F)
                length = 3
            } else if b0 < 0xF5 {
                guard left >= 4 else { return invalid }
                let b1 = base[i &+ 1], b2 = base[i &+ 2], b3 = base[i &+ 3]
                let low: UInt8 = b0 == 0xF0 ? 0x90 : 0x80
                let high: UInt8 = b0 == 0xF4 ? 0x8F : 0xBF
                guard b1 >= low, b1 <= high, b2 & 0xC0 == 0x80, b3 & 0xC0 == 0x80 else { return invalid }
                scalar = UInt32(b0 & 0x07) << 18 | UInt32(b1 & 0x3F) << 12 | UInt32(b2 & 0x3F) << 6
                    | UInt32(b3 & 0x3F)
                length = 4
            } else {
                return invalid
            }
            if scalar < 0x10000 { return (1 &<< UInt16(bmp[Int(scalar)]), i &+ length) }
            return (1 &<< UInt16(CharacterTable.supplementaryClass(scalar)), i &+ length)
        }

        /// Cuts the whole text with `piece`, which returns where the piece at a position ends.
        /// Pieces go to `ranges` in batches: appending one at a time to an `inout` array checks
        /// its uniqueness and capacity per piece, a tenth of the time on English text.
        @inline(__always)
        func split(into ranges: inout [Range<Int>], _ piece: (Int) -> Int) {
            withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: 256) { batch in
                var i = 0, n = 0
                while i < end {
                    let e = piece(i)
                    batch.initializeElement(at: n, to: Range(uncheckedBounds: (i, e)))
                    n &+= 1
                    if n == batch.count {
                        ranges.append(contentsOf: batch)
                        n = 0
                    }
                    i = e
                }
                ranges.append(contentsOf: batch[..<n])
            }
        }

        // MARK: Runs

        /// The end of the run of characters in `set` that starts at `i`.
        @inline(__always)
        func skip(from i: Int, while set: UInt16) -> Int {
            var i = i
            while i < end {
                let b = base[i]
                if b < 0x80 {
                    if ascii[Int(b)] & set == 0 { break }
                    i &+= 1
                    continue
                }
                let (mask, next) = multibyteCharacter(at: i, b)
                if mask & set == 0 { break }
                i = next
            }
            return i
        }

        /// The end of the run of CR and LF (and, for o200k, "/") bytes that starts at `i`.
        @inline(__always)
        func skipLineBreaks(from i: Int, slash: Bool) -> Int {
            var i = i
            while i < end {
                let b = base[i]
                guard b == 0x0A || b == 0x0D || (slash && b == 0x2F) else { break }
                i &+= 1
            }
            return i
        }

        /// The end of at most three characters of `\p{N}` starting with the one that ends at `j`.
        @inline(__always)
        func skipDigits(after j: Int) -> Int {
            var k = j
            for _ in 0..<2 where k < end {
                let (mask, next) = character(at: k)
                if mask & Mask.number == 0 { break }
                k = next
            }
            return k
        }

        /// The white-space run that starts with the character `[i, j)` of class `mask`: where it
        /// ends, where its last character starts, and the end of its last CR or LF (-1 if none).
        @inline(__always)
        func whitespaceRun(_ i: Int, _ j: Int, _ mask: UInt16) -> (end: Int, lastStart: Int, lineBreakEnd: Int) {
            var k = j, last = i
            var lineBreakEnd = mask == Mask.newline ? j : -1
            while k < end {
                let (m, next) = character(at: k)
                if m & Mask.whitespace == 0 { break }
                if m == Mask.newline { lineBreakEnd = next }
                last = k
                k = next
            }
            return (k, last, lineBreakEnd)
        }

        /// The end of a contraction `'s 't 're 've 'm 'll 'd` whose apostrophe is at `i`, or nil.
        /// Case-insensitive means Unicode simple case folding, as Rust's regex does it: the only
        /// non-ASCII scalar that folds to one of these letters is U+017F ſ (to s).
        @inline(__always)
        func contractionEnd(_ i: Int, caseInsensitive: Bool) -> Int? {
            let j = i &+ 1
            guard j < end else { return nil }
            // Setting bit 5 lowercases exactly the ASCII letters, and maps no other byte to one.
            let fold: UInt8 = caseInsensitive ? 0x20 : 0
            let b1 = base[j] | fold
            if b1 == UInt8(ascii: "s") || b1 == UInt8(ascii: "t") || b1 == UInt8(ascii: "m")
                || b1 == UInt8(ascii: "d") {
                return j &+ 1
            }
            guard j &+ 1 < end else { return nil }
            if caseInsensitive && base[j] == 0xC5 && base[j &+ 1] == 0xBF { return j &+ 2 }
            let b2 = base[j &+ 1] | fold
            if (b1 == UInt8(ascii: "l") && b2 == UInt8(ascii: "l"))
                || (b1 == UInt8(ascii: "v") && b2 == UInt8(ascii: "e"))
                || (b1 == UInt8(ascii: "r") && b2 == UInt8(ascii: "e")) {
                return j &+ 2
            }
            return nil
        }

        // MARK: gpt2

        /// `'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s`
        func splitGPT2(into ranges: inout [Range<Int>]) {
            split(into: &ranges, gpt2Piece)
        }

        @inline(__always)
        func gpt2Piece(at i: Int) -> Int {
            if base[i] == UInt8(ascii: "'"), let e = contractionEnd(i, caseInsensitive: false) { return e }
            let (mask, j) = character(at: i)
            if mask == Mask.space && j < end {
                let (next, k) = character(at: j)
                if next & Mask.letter != 0 { return skip(from: k, while: Mask.letter) }
                if next & Mask.number != 0 { return skip(from: k, while: Mask.number) }
                if next & Mask.punctuation != 0 { return skip(from: k, while: Mask.punctuation) }
            }
            if mask & Mask.letter != 0 { return skip(from: j, while: Mask.letter) }
            if mask & Mask.number != 0 { return skip(from: j, while: Mask.number) }
            if mask & Mask.punctuation != 0 { return skip(from: j, while: Mask.punctuation) }
            let run = whitespaceRun(i, j, mask)
            if run.end == end || run.lastStart == i { return run.end }
            return run.lastStart
        }

        // MARK: cl100k

        /// `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`
        func splitCL100K(into ranges: inout [Range<Int>]) {
            split(into: &ranges, cl100kPiece)
        }

        @inline(__always)
        func cl100kPiece(at i: Int) -> Int {
            if base[i] == UInt8(ascii: "'"), let e = contractionEnd(i, caseInsensitive: true) { return e }
            let (mask, j) = character(at: i)
            if mask & Mask.letter != 0 { return skip(from: j, while: Mask.letter) }
            if mask & Mask.prefix != 0 && j < end {
                let (next, k) = character(at: j)
                if next & Mask.letter != 0 { return skip(from: k, while: Mask.letter) }
                if mask == Mask.space && next & Mask.punctuation != 0 {
                    return skipLineBreaks(from: skip(from: k, while: Mask.punctuation), slash: false)
                }
            }
            if mask & Mask.number != 0 { return skipDigits(after: j) }
            if mask & Mask.punctuation != 0 {
                return skipLineBreaks(from: skip(from: j, while: Mask.punctuation), slash: false)
            }
            let run = whitespaceRun(i, j, mask)
            if run.end == end { return run.end }
            if run.lineBreakEnd >= 0 { return run.lineBreakEnd }
            if run.lastStart == i { return run.end }
            return run.lastStart
        }

        // MARK: o200k

        /// The seven alternatives of o200k_base (see `PreTokenizerPattern.regexSource`).
        func splitO200K(into ranges: inout [Range<Int>]) {
            split(into: &ranges, o200kPiece)
        }

        @inline(__always)
        func o200kPiece(at i: Int) -> Int {
            let (mask, j) = character(at: i)
            if mask & (Mask.number | Mask.newline) == 0, let e = o200kWord(at: i, mask, j) {
                if e < end && base[e] == UInt8(ascii: "'"), let c = contractionEnd(e, caseInsensitive: true) {
                    return c
                }
                return e
            }
            if mask & Mask.number != 0 { return skipDigits(after: j) }
            if mask == Mask.space && j < end {
                let (next, k) = character(at: j)
                if next & Mask.punctuation != 0 {
                    return skipLineBreaks(from: skip(from: k, while: Mask.punctuation), slash: true)
                }
            }
            if mask & Mask.punctuation != 0 {
                return skipLineBreaks(from: skip(from: j, while: Mask.punctuation), slash: true)
            }
            let run = whitespaceRun(i, j, mask)
            if run.lineBreakEnd >= 0 { return run.lineBreakEnd }
            if run.end == end || run.lastStart == i { return run.end }
            return run.lastStart
        }

        /// The first two alternatives without their contraction suffix: the end of the word that
        /// starts at `i` (whose character `[i, j)` has class `mask`), or nil.
        @inline(__always)
        func o200kWord(at i: Int, _ mask: UInt16, _ j: Int) -> Int? {
            // The prefix is taken when it can be; a mark can also start the word itself.
            let start = mask & Mask.prefix != 0 ? j : i
            let markStart = mask == Mask.mark ? i : -1
            // Most prefixes (spaces, punctuation) are not followed by a word: decide that once.
            let startsWord = start == i || (start < end && character(at: start).mask & Mask.o200kLetter != 0)
            if startsWord, let e = upperThenLower(from: start) { return e }
            if markStart >= 0, let e = upperThenLower(from: markStart) { return e }
            if startsWord, let e = upperThenMaybeLower(from: start) { return e }
            if markStart >= 0, let e = upperThenMaybeLower(from: markStart) { return e }
            return nil
        }

        /// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+` at `p`, as a backtracking
        /// engine finds it: the greedy U* gives characters back until W+ can start.
        @inline(__always)
        func upperThenLower(from p: Int) -> Int? {
            var k = p
            var lastBothEnd = -1
            while k < end {
                let (mask, next) = character(at: k)
                if mask & Mask.o200kUpper == 0 {
                    if mask == Mask.lower { return skip(from: next, while: Mask.o200kLower) }
                    break
                }
                if mask & Mask.o200kBoth != 0 { lastBothEnd = next }
                k = next
            }
            // U* keeps everything before the last character that is also in W; W+ takes that
            // one, and the next is Lu or Lt or ends the U run without an Ll, so W+ stops there.
            return lastBothEnd >= 0 ? lastBothEnd : nil
        }

        /// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*` at `p`.
        @inline(__always)
        func upperThenMaybeLower(from p: Int) -> Int? {
            let q = skip(from: p, while: Mask.o200kUpper)
            guard q > p else { return nil }
            return skip(from: q, while: Mask.o200kLower)
        }
    }
}

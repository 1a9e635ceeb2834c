import Foundation

/// Text normalisation, the first step of `prep clean`.
public struct NormalizeOptions: Codable, Equatable, Sendable {
    public enum Form: String, Codable, Sendable { case nfc, nfkc, none }

    /// Unicode normal form. NFC (the default) only composes; NFKC also folds compatibility
    /// characters, which turns Chinese full-width punctuation (，。！) into ASCII: choose it
    /// knowingly.
    public var unicode = Form.nfc
    /// C0 and C1 control characters other than tab and newline, and DEL.
    public var removeControl = true
    /// Zero-width space, word joiner, BOM and soft hyphen. Zero-width joiners and non-joiners
    /// stay: emoji sequences and Persian need them.
    public var removeZeroWidth = true
    /// Runs of spaces and tabs inside a line become one space; indentation at the start of a
    /// line is kept (code needs it).
    public var collapseSpaces = true
    public var trimTrailingSpaces = true
    /// At most this many blank lines in a row (and none at the start or end).
    public var maxBlankLines = 1
    public var enabled = true

    public init() {}
}

public enum Normalizer {
    public static func normalize(_ text: String, _ o: NormalizeOptions) -> String {
        guard o.enabled else { return text }
        var t = TextDecoding.normalizeNewlines(text)
        switch o.unicode {
        case .nfc:
            if !t.utf8.allSatisfyASCII { t = String(decoding: t._nfcCodeUnits, as: UTF8.self) }
        case .nfkc:
            if !t.utf8.allSatisfyASCII { t = nfkc(t) }
        case .none:
            break
        }
        return cleanLines(t, o)
    }

    /// NFKC through Foundation, a line at a time: normalisation never crosses a newline, and
    /// Foundation slows down badly on long strings.
    static func nfkc(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.utf8.allSatisfyASCII ? String($0) : String($0).precomposedStringWithCompatibilityMapping }
            .joined(separator: "\n")
    }

    /// Removes characters, collapses spaces, trims lines and limits blank lines, in one pass over
    /// the UTF-8 bytes (every character it touches is ASCII or has a fixed UTF-8 form).
    static func cleanLines(_ text: String, _ o: NormalizeOptions) -> String {
        var text = text
        return text.withUTF8 { b -> String in
            var out: [UInt8] = []
            out.reserveCapacity(b.count)
            var line: [UInt8] = []
            var blankRun = 0
            var started = false
            func endLine() {
                if o.trimTrailingSpaces {
                    while let last = line.last, last == 0x20 || last == 0x09 { line.removeLast() }
                }
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                    if started { blankRun += 1 }
                } else {
                    if started {
                        out.append(0x0A)
                        for _ in 0..<min(blankRun, o.maxBlankLines) { out.append(0x0A) }
                    }
                    out.append(contentsOf: line)
                    started = true
                    blankRun = 0
                }
                line.removeAll(keepingCapacity: true)
            }
            var inIndent = true
            var previousSpace = false
            var i = 0
            let n = b.count
            while i < n {
                let c = b[i]
                if c == 0x0A {
                    endLine()
                    inIndent = true
                    previousSpace = false
                    i += 1
                    continue
                }
                if o.removeControl && ((c < 0x20 && c != 0x09) || c == 0x7F) { i += 1; continue }
                if c == 0xC2 && i + 1 < n {
                    let d = b[i + 1]
                    // C1 controls U+0080–U+009F; soft hyphen U+00AD.
                    if (o.removeControl && d >= 0x80 && d <= 0x9F) || (o.removeZeroWidth && d == 0xAD) { i += 2; continue }
                }
                if o.removeZeroWidth && i + 2 < n {
                    // U+200B zero-width space, U+2060 word joiner, U+FEFF byte-order mark.
                    let (x, y, z) = (c, b[i + 1], b[i + 2])
                    if (x == 0xE2 && y == 0x80 && z == 0x8B) || (x == 0xE2 && y == 0x81 && z == 0xA0)
                        || (x == 0xEF && y == 0xBB && z == 0xBF) {
                        i += 3
                        continue
                    }
                }
                let isSpace = c == 0x20 || c == 0x09
                if isSpace && o.collapseSpaces && !inIndent {
                    if !previousSpace { line.append(0x20) }
                    previousSpace = true
                    i += 1
                    continue
                }
                if !isSpace { inIndent = false }
                previousSpace = isSpace
                line.append(c)
                i += 1
            }
            endLine()
            return String(decoding: out, as: UTF8.self)
        }
    }
}

extension String.UTF8View {
    /// True when every byte is ASCII (checked eight bytes at a time).
    var allSatisfyASCII: Bool {
        var s = String(self)
        return s.withUTF8 { b in
            var i = 0
            let n = b.count
            while i + 8 <= n {
                if UnsafeRawPointer(b.baseAddress! + i).loadUnaligned(as: UInt64.self) & SWAR.highs != 0 { return false }
                i += 8
            }
            while i < n {
                if b[i] >= 0x80 { return false }
                i += 1
            }
            return true
        }
    }
}

extension Substring.UTF8View {
    var allSatisfyASCII: Bool { String(Substring(self)).utf8.allSatisfyASCII }
}

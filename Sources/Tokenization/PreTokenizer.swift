// The pre-tokenizers of byte-level BPE: the regexes that cut text into pieces before BPE merges
// bytes inside each piece (FORMATS.md §3.2). The fast path is a hand-made scanner
// (PreTokenizer+Scanner.swift); the reference is Swift Regex on the same pattern
// (PreTokenizer+Reference.swift), and the tests hold the one to the other.

/// The pre-tokenization regexes of OpenAI's encodings, as tiktoken 0.14 writes them.
public enum PreTokenizerPattern: String, Codable, Sendable, CaseIterable {
    /// GPT-2, r50k_base, p50k_base and p50k_edit (tiktoken's `r50k_pat_str`).
    case gpt2
    /// cl100k_base (GPT-3.5, GPT-4).
    case cl100k
    /// o200k_base (GPT-4o).
    case o200k

    /// The regex source exactly as tiktoken writes it (for files we export, e.g. tokenizer.json
    /// and for tiktoken's `Encoding(pat_str=...)`).
    ///
    /// gpt2 and cl100k are tiktoken's current forms with possessive quantifiers and `\s++$`. For
    /// gpt2 tiktoken calls that equivalent to the original GPT-2 release pattern; for cl100k it
    /// differs from the December 2022 form at the very end of a text that ends in white space with
    /// a line break followed by more white space ("T\r\n\r\n " ends in one piece, not two).
    public var regexSource: String {
        switch self {
        case .gpt2:
            #"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"#
        case .cl100k:
            #"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"#
        case .o200k:
            [
                #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
                #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
                #"\p{N}{1,3}"#,
                #" ?[^\s\p{L}\p{N}]+[\r\n/]*"#,
                #"\s*[\r\n]+"#,
                #"\s+(?!\S)"#,
                #"\s+"#,
            ].joined(separator: "|")
        }
    }
}

/// Splits text into pre-tokens exactly as tiktoken's regex for one of the patterns does.
///
/// Semantics follow tiktoken (Rust `fancy-regex` over Unicode scalars), not Swift's Characters:
/// `\p{L}`, `\p{N}`, `\p{M}` and the letter subcategories are Unicode general categories, `\s` is
/// the Unicode White_Space property (so U+0085 and U+00A0 are spaces, U+001C..U+001F and U+200B
/// are not), `$` is the end of the text only, and `(?i)` uses Unicode simple case folding, so
/// `'ſ` (U+017F) is a contraction like `'s`. Pieces can end inside a grapheme cluster (a base
/// letter and a combining mark may fall into different pieces under gpt2 and cl100k).
///
/// Bytes that are not well-formed UTF-8: each byte that does not begin a complete, well-formed
/// sequence (a stray continuation byte, a truncated sequence, an overlong form, a surrogate, a
/// value above U+10FFFF) is one character of its own that is neither a letter, a number nor
/// white space, so it joins the punctuation class `[^\s\p{L}\p{N}]`, as U+FFFD would. tiktoken
/// accepts only `str`, so there is nothing to compare with there; the split still covers every
/// byte exactly once.
public struct PreTokenizer: Sendable {
    public let pattern: PreTokenizerPattern

    public init(_ pattern: PreTokenizerPattern) {
        self.pattern = pattern
    }

    /// Builds the Unicode class tables every split reads (the Basic Multilingual Plane and plane 1,
    /// from the standard library's Unicode properties; several milliseconds), if not built yet. A
    /// loader with a core to spare calls it on another thread while the vocabulary loads; otherwise
    /// the first split builds them.
    public static func prepareTables() {
        _ = CharacterTable.shared
        _ = CharacterTable.plane1
    }

    /// Splits UTF-8 text into pre-token byte ranges, exactly as tiktoken's regex does. The ranges
    /// are offsets into `text`, contiguous, non-empty and cover the whole input; they are appended
    /// to `ranges` (which is not cleared first, so a caller can reuse one array with
    /// `removeAll(keepingCapacity: true)`). Linear time; allocates only to grow `ranges`.
    public func split(_ text: UnsafeBufferPointer<UInt8>, into ranges: inout [Range<Int>]) {
        guard let base = text.baseAddress, !text.isEmpty else { return }
        let scanner = Scanner(base: base, count: text.count, table: CharacterTable.shared)
        switch pattern {
        case .gpt2: scanner.splitGPT2(into: &ranges)
        case .cl100k: scanner.splitCL100K(into: &ranges)
        case .o200k: scanner.splitO200K(into: &ranges)
        }
    }

    /// Splits `text` into pre-tokens. The pieces are cut on Unicode scalar boundaries (not
    /// Character boundaries) and concatenate to `text`.
    public func split(_ text: String) -> [Substring] {
        var text = text
        text.makeContiguousUTF8()
        var ranges: [Range<Int>] = []
        text.utf8.withContiguousStorageIfAvailable { split($0, into: &ranges) }
        let utf8 = text.utf8
        let scalars = text.unicodeScalars
        return ranges.map { range in
            let lower = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
            let upper = utf8.index(lower, offsetBy: range.count)
            return Substring(scalars[lower..<upper])
        }
    }
}

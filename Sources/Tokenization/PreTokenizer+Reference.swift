// The slow, obviously right pre-tokenizer: Swift Regex running tiktoken's pattern, for the tests
// to hold the scanner to (STYLE.md: a naive reference beside every fast path).

extension PreTokenizer {
    /// `regexSource` as Swift Regex must be given it to mean what it means to tiktoken.
    ///
    /// Swift Regex runs in Unicode-scalar mode (tiktoken's regex sees scalars, not Characters);
    /// there `\s` is White_Space, `\p{...}` are the same general categories, and `$` matches
    /// only at the end of the text, as in Rust. One difference remains: Rust's `(?i)` uses Unicode
    /// simple case folding, under which U+017F ſ matches `s`, and Swift's does not, so `ſ` is
    /// added beside the `s` of the case-insensitive contractions.
    static func referencePattern(_ pattern: PreTokenizerPattern) -> String {
        switch pattern {
        case .gpt2:
            pattern.regexSource
        case .cl100k:
            pattern.regexSource.replacing("'(?i:[sdmt]|", with: "'(?i:[sdmtſ]|")
        case .o200k:
            pattern.regexSource.replacing("(?i:'s|", with: "(?i:'[sſ]|")
        }
    }

    /// The slow, obviously right reference built on Swift Regex with the same pattern, for the
    /// tests and the fuzz target that hold the scanner to it.
    public static func referenceSplit(_ text: String, _ pattern: PreTokenizerPattern) -> [Substring] {
        let regex: Regex<AnyRegexOutput>
        do {
            regex = try Regex(referencePattern(pattern)).matchingSemantics(.unicodeScalar)
        } catch {
            preconditionFailure("the reference pattern of \(pattern) does not compile: \(error)")
        }
        // Slice by scalars: a piece may end inside a Character, which `text[range]` would round.
        return text.matches(of: regex).map { Substring(text.unicodeScalars[$0.range]) }
    }
}

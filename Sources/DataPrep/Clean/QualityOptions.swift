// Options of the document quality filters of `prep clean`. The thresholds are datatrove's
// defaults (GopherQualityFilter, GopherRepetitionFilter, C4QualityFilter), which are those of
// the Gopher paper (Rae et al. 2021, table A1) and of C4 (Raffel et al. 2020). Each default is
// written once, here; configuration only overrides it. A numeric threshold of 0 turns its check
// off, as `None` or 0 does in datatrove (Python treats both as false).

/// Gopher's quality heuristics (Rae et al. 2021, section A.1.1), over words as `Words` splits them.
public struct GopherQualityOptions: Codable, Equatable, Sendable {
    public var enabled = true
    /// Fewer words than this (punctuation and symbols are not words): "gopher_short_doc".
    public var minDocWords = 50
    /// More words than this: "gopher_long_doc".
    public var maxDocWords = 100_000
    /// Mean word length, in Unicode scalars; skipped for documents written mostly in Han script.
    public var minAvgWordLength = 3.0
    public var maxAvgWordLength = 10.0
    /// "#" per token, and "..." or "…" per token (tokens are words and punctuation marks).
    public var maxSymbolWordRatio = 0.1
    /// Share of lines that start with a bullet.
    public var maxBulletLinesRatio = 0.9
    /// Share of lines that end with "..." or "…".
    public var maxEllipsisLinesRatio = 0.3
    /// At least this share of tokens must contain a letter (Han characters are letters).
    /// datatrove calls it `max_non_alpha_words_ratio`, though it is a lower bound on alphabetic words.
    public var minAlphaWordsRatio = 0.8
    /// At least this many occurrences of words of `stopWords` and `chineseStopWords` together.
    public var minStopWords = 2
    /// Gopher's English stop words, matched case-sensitively as datatrove does.
    public var stopWords = ["the", "be", "to", "of", "and", "that", "have", "with"]
    /// Very common Chinese function words (a character each, or a few adjacent characters), so
    /// that Chinese prose passes the stop-word check and Chinese keyword lists do not.
    public var chineseStopWords = [
        "的", "了", "是", "在", "和", "有", "我", "也", "不", "就", "这", "都", "人", "他", "她",
        "们", "你", "上", "中", "个", "到", "说", "要", "去", "会", "着", "没有", "看", "好", "自己",
        "那",
    ]

    public init() {}
}

/// One n-gram threshold of Gopher's repetition filter: n words, and a fraction of the characters.
public struct NGramLimit: Codable, Equatable, Sendable {
    public var n: Int
    public var fraction: Double

    public init(n: Int, fraction: Double) {
        self.n = n
        self.fraction = fraction
    }
}

/// Gopher's repetition heuristics (Rae et al. 2021, table A1). Fractions of lines or paragraphs
/// are of their counts; character fractions are of the document's length in Unicode scalars.
public struct GopherRepetitionOptions: Codable, Equatable, Sendable {
    public var enabled = true
    /// Share of lines that repeat an earlier line.
    public var dupLineFraction = 0.3
    /// Share of paragraphs (split on blank lines) that repeat an earlier one.
    public var dupParagraphFraction = 0.3
    /// Characters in repeated lines, as a share of the document's characters.
    public var dupLineCharFraction = 0.2
    public var dupParagraphCharFraction = 0.2
    /// Characters of the most frequent n-gram times its count, as a share of the document's.
    public var topNGrams = [
        NGramLimit(n: 2, fraction: 0.2), NGramLimit(n: 3, fraction: 0.18), NGramLimit(n: 4, fraction: 0.16),
    ]
    /// Characters covered by n-grams seen before (scanning without overlap), as a share.
    public var dupNGrams = [
        NGramLimit(n: 5, fraction: 0.15), NGramLimit(n: 6, fraction: 0.14), NGramLimit(n: 7, fraction: 0.13),
        NGramLimit(n: 8, fraction: 0.12), NGramLimit(n: 9, fraction: 0.11), NGramLimit(n: 10, fraction: 0.10),
    ]

    public init() {}
}

/// C4's line and page heuristics (Raffel et al. 2020, section 2.2), as datatrove's C4QualityFilter
/// applies them, with Chinese punctuation and boilerplate added.
public struct C4Options: Codable, Equatable, Sendable {
    public var enabled = true
    /// Lines are the text's "\n"-separated lines (C4's choice); when false, sentences are the
    /// units instead, and the kept ones are joined with a space.
    public var splitParagraph = true
    /// Remove Wikipedia-style citation marks: "[1]", "[]", "[edit]", "[citation needed]".
    public var removeCitations = true
    /// Remove lines that do not end in . ? ! " ' (or 。 ！ ？ ．, or any of these followed by
    /// closing quotes or brackets), and lines that end in "...".
    public var filterNoTerminalPunctuation = true
    /// Drop the document when fewer sentences than this are left (0 turns it off).
    public var minNumSentences = 5
    /// Remove lines with fewer words than this; a Han or kana character is a word (0: off).
    public var minWordsPerLine = 3
    /// Remove lines with a word longer than this, in Unicode scalars (0: off).
    public var maxWordLength = 1000
    /// Drop the document when a line contains "lorem ipsum".
    public var filterLoremIpsum = true
    /// Remove lines that mention "javascript".
    public var filterJavascript = true
    /// Drop the document when a line contains "{".
    public var filterCurlyBracket = true
    /// Remove lines that contain any of `policySubstrings` or `chinesePolicySubstrings`.
    public var filterPolicy = true
    /// Matched ignoring ASCII case, as all the phrases here are.
    public var policySubstrings = [
        "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
    ]
    /// Footer, navigation and cookie lines of Chinese sites, simplified and traditional. Bare
    /// "cookie" is not here: it would remove English lines about baking.
    public var chinesePolicySubstrings = [
        "版权所有", "版權所有", "隐私政策", "隱私政策", "隱私權政策", "使用条款", "使用條款", "服务条款",
        "服務條款", "用户协议", "用戶協議", "免责声明", "免責聲明", "使用cookie", "cookie政策", "icp备",
        "返回顶部", "返回頂部", "上一篇", "下一篇", "首页", "首頁",
    ]

    public init() {}
}

/// Language identification for a document's `lang` field: "zh", "en" or "other".
///
/// Deterministic, and linear in a bounded prefix of the text (`prefixBytes` of UTF-8). One
/// pass counts letters by script (Unicode scalar ranges) and looks the Latin-script words up
/// in built-in stop-word lists for English, French, German, Spanish, Italian, Portuguese and
/// Dutch (`StopWords`). Then, in order:
///
/// 1. **Chinese or Japanese** when Han and Kana outweigh every other non-Latin script (at
///    `cjkWeight` letters a character) and number at least `hanPerStopWord` per stop word of
///    the best Latin-script language. Latin letters count against Chinese only through their
///    stop words, because the code, commands and names inside Chinese technical documents are
///    Latin letters but not Latin prose. Kana at `kanaShareForJapanese` or more of the Han and
///    Kana make the text Japanese: "other". (Kanji-only Japanese, rare beyond a headline,
///    reads as "zh".)
/// 2. **Latin prose** when one language's stop words make up `minProseRate` or more of the
///    words, and at least two: "en" when English has the most (ties go to English), "other"
///    when another language does.
/// 3. **Latin text that is not prose** (tables, lists of names, code, a word or two): a weak
///    "en", or "other" when `maxAccentedShareForEnglish` or more of its letters are outside
///    ASCII. So a Latin-script language without a list may come out as a weak "en".
/// 4. **Any other script** (Cyrillic, Arabic, Hangul, Greek, Hebrew, Indic, Thai, ...): "other".
///
/// Confidence, in 0...1: the winning script's share of the weighted letters, times
/// `min(1, weighted letters / fullEvidence)` (so very short text gets its script's best guess
/// at a low confidence), times 0.5-1 by the stop-word margin over the next language for Latin
/// prose, or `notProseConfidence` for rule 3. Text without letters (empty, digits,
/// punctuation, emoji) is ("other", 0).
public enum LanguageID {
    public struct Result: Equatable, Sendable {
        public var language: String
        public var confidence: Double

        public init(language: String, confidence: Double) {
            self.language = language
            self.confidence = confidence
        }
    }

    /// UTF-8 bytes looked at: about 1,400 English words or 2,700 Han characters. Accuracy on
    /// the corpora is the same with 4 KB; 8 KB leaves room for a long English or code preamble
    /// before Chinese prose.
    static let prefixBytes = 8192
    /// One Han, Kana or Hangul character counts as this many letters of an alphabet.
    static let cjkWeight = 3
    /// Kana share of Han plus Kana from which text is Japanese. Japanese prose is 40-70% Kana;
    /// Chinese text has none, or a few in quoted names and emoticons (1% in the one document
    /// of the Chinese corpus that has any).
    static let kanaShareForJapanese = 0.10
    /// Share of the words that must be stop words of one language for Latin text to count as
    /// prose in it. Prose is 30-50%; code with English comments in the corpora is above 10%;
    /// lists of device names and tables of contents are 0-5%. One hit is never enough.
    static let minProseRate = 0.06
    /// Share of Latin letters outside ASCII above which Latin text that is not prose is not
    /// taken for English (English has almost none; Polish, Czech, Vietnamese have 5-30%).
    static let maxAccentedShareForEnglish = 0.02
    /// Confidence factor for Latin text without enough stop words to call it prose.
    static let notProseConfidence = 0.3
    /// Han and Kana characters per stop word from which CJK text outweighs Latin prose. A
    /// Chinese sentence has about 3.5 characters per stop word of its English translation, so
    /// 1.5 calls a document Chinese unless about 70% of its prose is in a Latin script: the
    /// Chinese Linux and Debian documents carry long English code comments and commands.
    static let hanPerStopWord = 1.5
    /// Weighted letters (about 20 English words or 33 Han characters) from which the length
    /// no longer lowers the confidence.
    static let fullEvidence = 100.0

    public static func identify(_ text: String) -> Result {
        let evidence = text.utf8.withContiguousStorageIfAvailable {
            Evidence(utf8: UnsafeBufferPointer(rebasing: $0.prefix(prefixBytes)))
        } ?? Array(text.utf8.prefix(prefixBytes)).withUnsafeBufferPointer { Evidence(utf8: $0) }
        return evidence.decide()
    }
}

// MARK: - Counting

extension LanguageID {
    /// Stop-word languages, as bit positions of `StopWords.table` masks and lanes of
    /// `Evidence.hits`; English first.
    enum Lang: Int, CaseIterable {
        case en, fr, de, es, it, pt, nl
        static let count = 7
    }

    /// What the prefix of a text holds: letters per script and stop-word hits per language.
    struct Evidence {
        var latin = 0, han = 0, kana = 0, hangul = 0, cyrillic = 0, greek = 0, arabic = 0, hebrew = 0
        var otherLetters = 0
        /// Latin letters outside ASCII (é, ß, ł, ư, ...).
        var latinAccented = 0
        /// Latin-script words (runs of Latin letters) and stop-word hits per `Lang`.
        var words = 0
        var hits = SIMD8<Int32>()

        init() {}

        /// Counts scripts and Latin words of `utf8`; an incomplete sequence at the end (a cut
        /// prefix) is ignored, invalid bytes are skipped.
        init(utf8 p: UnsafeBufferPointer<UInt8>) {
            StopWords.table.withUnsafeBufferPointer { table in count(p, table) }
        }

        private mutating func count(_ p: UnsafeBufferPointer<UInt8>, _ table: UnsafeBufferPointer<UInt64>) {
            precondition(table.count == StopWords.slots)
            let n = p.count
            var i = 0
            var hash = StopWords.seed
            var wordLength = 0  // scalars in the current Latin word; 0 outside a word
            var identifier = false  // the current word cannot be a stop word
            while i < n {
                let b = p[i]
                if b < 0x80 {
                    i += 1
                    let lower = b | 0x20
                    if lower >= 0x61 && lower <= 0x7A {
                        latin += 1
                        hash = StopWords.mix(hash, UInt32(lower))
                        // A capital after the first letter ("IN", "DE") is no stop word.
                        if wordLength > 0 && b < 0x61 { identifier = true }
                        wordLength += 1
                    } else {
                        // Letters next to digits or "_" ("em28xx", "si470x", "is_on") are parts
                        // of identifiers, not words.
                        let joins = (b >= 0x30 && b <= 0x39) || b == 0x5F
                        if wordLength > 0 {
                            endWord(hash, wordLength, identifier || joins, table)
                            hash = StopWords.seed
                            wordLength = 0
                        }
                        identifier = joins
                    }
                    continue
                }
                // Multi-byte sequence: decode one scalar.
                var scalar: UInt32
                var length: Int
                if b & 0xE0 == 0xC0 { scalar = UInt32(b & 0x1F); length = 2 }
                else if b & 0xF0 == 0xE0 { scalar = UInt32(b & 0x0F); length = 3 }
                else if b & 0xF8 == 0xF0 { scalar = UInt32(b & 0x07); length = 4 }
                else { i += 1; continue }  // stray continuation or invalid lead byte
                if i + length > n { break }
                var valid = true
                for k in 1..<length {
                    let c = p[i + k]
                    if c & 0xC0 != 0x80 { valid = false; break }
                    scalar = scalar << 6 | UInt32(c & 0x3F)
                }
                if !valid { i += 1; continue }
                i += length
                if isLatinLetter(scalar) {
                    latin += 1
                    latinAccented += 1
                    // Latin-1 capitals (À-Þ, not ×) lower-case by +0x20.
                    let capital = scalar >= 0xC0 && scalar <= 0xDE && scalar != 0xD7
                    if capital && wordLength > 0 { identifier = true }
                    let lower = capital ? scalar + 0x20 : scalar
                    hash = StopWords.mix(hash, lower)
                    wordLength += 1
                    continue
                }
                if wordLength > 0 {
                    endWord(hash, wordLength, identifier, table)
                    hash = StopWords.seed
                    wordLength = 0
                }
                identifier = false
                countScript(scalar)
            }
            if wordLength > 0 { endWord(hash, wordLength, identifier, table) }
        }

        private mutating func endWord(_ hash: UInt64, _ length: Int, _ identifier: Bool,
                                      _ table: UnsafeBufferPointer<UInt64>) {
            words += 1
            // The longest stop word has 7 letters; longer words cannot hit.
            if length <= 8 && !identifier {
                let mask = StopWords.lookup(hash, table)
                if mask != 0 {
                    for l in 0..<Lang.count where mask & (1 << l) != 0 { hits[l] += 1 }
                }
            }
        }

        /// Latin-1 and Latin Extended-A/B letters (not × and ÷), and Latin Extended Additional
        /// (Vietnamese).
        private func isLatinLetter(_ s: UInt32) -> Bool {
            (s >= 0xC0 && s <= 0x24F && s != 0xD7 && s != 0xF7) || (s >= 0x1E00 && s <= 0x1EFF)
        }

        private mutating func countScript(_ s: UInt32) {
            switch s {
            case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0xF900...0xFAFF, 0x20000...0x2FA1F:
                han += 1
            case 0x3040...0x309F, 0x30A0...0x30FA, 0x30FC...0x30FF, 0x31F0...0x31FF, 0xFF66...0xFF9D:
                // Not U+30FB (・), which Chinese text uses between parts of foreign names.
                kana += 1
            case 0xAC00...0xD7AF, 0x1100...0x11FF, 0x3130...0x318F:
                hangul += 1
            case 0x0400...0x052F:
                cyrillic += 1
            case 0x0370...0x03FF, 0x1F00...0x1FFF:
                greek += 1
            case 0x0600...0x06FF, 0x0750...0x077F, 0x08A0...0x08FF, 0xFB50...0xFDFF, 0xFE70...0xFEFF:
                arabic += 1
            case 0x0590...0x05FF:
                hebrew += 1
            case 0x0530...0x058F,  // Armenian
                 0x0900...0x0DFF,  // Indic scripts
                 0x0E00...0x0EFF,  // Thai, Lao
                 0x10A0...0x10FF,  // Georgian
                 0x1200...0x137F:  // Ethiopic
                otherLetters += 1
            default:
                break  // digits, punctuation, symbols, emoji, spaces
            }
        }

        /// The decision described on `LanguageID`.
        func decide() -> Result {
            let w = LanguageID.cjkWeight
            let cjkChars = han + kana
            let cjk = cjkChars * w
            let topAlphabet = max(cyrillic, greek, arabic, hebrew, hangul * w, otherLetters)
            let total = latin + cjk + cyrillic + greek + arabic + hebrew + hangul * w + otherLetters
            guard total > 0 else { return Result(language: "other", confidence: 0) }
            let amount = min(1, Double(total) / LanguageID.fullEvidence)
            var bestHits = 0
            for l in 0..<Lang.count { bestHits = max(bestHits, Int(hits[l])) }

            // Han and Kana against Latin prose, which stop words measure: the code, commands,
            // markup and names inside Chinese documents have few stop words.
            if cjkChars > 0 && Double(cjkChars) >= LanguageID.hanPerStopWord * Double(bestHits)
                && cjk >= topAlphabet {
                let share = Double(cjk) / Double(total)
                let kanaShare = Double(kana) / Double(cjkChars)
                let language = kanaShare >= LanguageID.kanaShareForJapanese ? "other" : "zh"
                return Result(language: language, confidence: share * amount)
            }
            if latin >= topAlphabet {
                let share = Double(latin) / Double(total)
                let rate = Double(bestHits) / Double(max(words, 1))
                let en = Int(hits[Lang.en.rawValue])
                if rate >= LanguageID.minProseRate && bestHits >= 2 {
                    // Prose: the language with the most stop words (a tie goes to English).
                    if en == bestHits {
                        var rival = 0
                        for l in 1..<Lang.count { rival = max(rival, Int(hits[l])) }
                        let margin = Double(en - rival) / Double(en)
                        return Result(language: "en", confidence: share * amount * (0.5 + 0.5 * margin))
                    }
                    let margin = Double(bestHits - en) / Double(bestHits)
                    return Result(language: "other", confidence: share * amount * (0.5 + 0.5 * margin))
                }
                // Not prose: lists, tables, identifiers, code, a few words. Without diacritics
                // that is English in practice (names and code are), but only a weak guess.
                let accented = Double(latinAccented) / Double(latin)
                let language = accented >= LanguageID.maxAccentedShareForEnglish ? "other" : "en"
                return Result(language: language, confidence: share * amount * LanguageID.notProseConfidence)
            }
            return Result(language: "other", confidence: Double(topAlphabet) / Double(total) * amount)
        }
    }
}

// MARK: - Stop words

extension LanguageID {
    /// Stop-word lists, hashed into one open-addressing table of (hash, language mask).
    ///
    /// English: the function words among the 120 most frequent words of the corpora's English
    /// instruction and chat data (`sft/alpaca_en_demo.json`, `sft/chat/en`), which the accuracy
    /// measurement does not use; content words ("data", "check") left out. The other languages
    /// are hand-picked lists of about 50 of their most frequent words: our corpora hold no text
    /// in them. Words are split at apostrophes, so French elisions (l', d', qu') are words.
    enum StopWords {
        static let lists: [(Lang, String)] = [
            (.en, """
                the and to of is in for or that it can you my on as are with your an this be \
                not by from if their what have has was they which any more into such its about one \
                her we do would then at he other all how also but will up when our these she there \
                them some who his so were had been no than
                """),
            (.fr, """
                de la le et les des en un une du est que qui dans pour pas au sur il elle ne se ce \
                par plus sont avec son sa ses aux mais ou nous vous ils on leur été être cette comme \
                tout fait je lui était ont avait même bien sans peut aussi ces tous
                """),
            (.de, """
                der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als \
                auch es an werden aus er hat dass sie nach wird bei einer um am sind noch wie einem \
                über einen so zum war haben nur oder aber vor zur bis ich wir
                """),
            (.es, """
                de la que el en los del se las por un para con no una su al lo como más pero \
                sus le ya este sí porque esta entre cuando muy sin sobre también me hasta hay \
                donde desde todo nos es está son fue ha era ser había eso han dos yo
                """),
            (.it, """
                di il la che in un per non una del della le si con da sono lo al gli come \
                ma più ha anche nel alla dei se questo delle ci mi nella su era ne questa degli \
                tra quando essere molto perché questi dopo stato loro sul ancora solo
                """),
            (.pt, """
                de que do da em um para com não uma os no se na por mais as dos como mas \
                foi ao ele das tem seu sua ou ser quando muito há nos já está eu também pelo \
                pela até isso ela entre são você sobre ainda pode mesmo sem
                """),
            (.nl, """
                de en van het een in is dat op te zijn voor met die niet aan er om ook als dan \
                maar bij of uit nog worden door naar wordt tot ze hij werd wel over kan meer heeft \
                ik je was deze al zich geen hun zo we wat
                """),
        ]

        static let seed: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a offset basis

        @inline(__always)
        static func mix(_ h: UInt64, _ scalar: UInt32) -> UInt64 {
            (h ^ UInt64(scalar)) &* 0x0000_0100_0000_01B3  // FNV-1a prime, one step per scalar
        }

        static func hash(_ word: String) -> UInt64 {
            var h = seed
            for s in word.unicodeScalars { h = mix(h, s.value) }
            return h
        }

        /// 1,024 slots for about 400 words: probes stay short.
        static let slots = 1024

        /// Slots of `(hash with its low byte cleared) | language mask`, 0 when empty; built
        /// once from `lists`.
        static let table: [UInt64] = {
            var table = [UInt64](repeating: 0, count: slots)
            for (lang, list) in lists {
                for word in list.split(separator: " ") {
                    let key = hash(String(word)) & ~0xFF
                    var i = Int(truncatingIfNeeded: key >> 8) & (slots - 1)
                    while table[i] != 0 && table[i] & ~0xFF != key { i = (i + 1) & (slots - 1) }
                    table[i] |= key | 1 << UInt64(lang.rawValue)
                }
            }
            return table
        }()

        /// The language mask of the word with hash `h`, 0 when it is no stop word.
        @inline(__always)
        static func lookup(_ h: UInt64, _ table: UnsafeBufferPointer<UInt64>) -> UInt8 {
            let key = h & ~0xFF
            var i = Int(truncatingIfNeeded: key >> 8) & (slots - 1)
            while true {
                let e = table[i]
                if e & ~0xFF == key { return UInt8(truncatingIfNeeded: e) }
                if e == 0 { return 0 }
                i = (i + 1) & (slots - 1)
            }
        }
    }
}

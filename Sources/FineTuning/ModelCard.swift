import Foundation

/// What an llm.c model file cannot say about itself: which tokenizer its ids belong to. Kiln
/// writes it beside the model (`<model>.kiln.json`) so that `tune run` can refuse token shards
/// made with another tokenizer; a checkpoint from another tool has none, and only its vocabulary
/// size can be checked (with a warning).
public struct ModelCard: Codable, Equatable, Sendable {
    public var kilnVersion: String
    /// SHA-256 fingerprint of the tokenizer (as in `prep tokenize`'s manifest).
    public var tokenizerFingerprint: String?
    public var vocabularySize: Int
    public var endOfText: Int?
    /// What made the model: "tune init", "tune run", "tune export", an imported file…
    public var madeBy: String
    /// The checkpoint this one was trained from, if any.
    public var base: String?

    public init(kilnVersion: String, tokenizerFingerprint: String?, vocabularySize: Int, endOfText: Int?,
                madeBy: String, base: String? = nil) {
        self.kilnVersion = kilnVersion
        self.tokenizerFingerprint = tokenizerFingerprint
        self.vocabularySize = vocabularySize
        self.endOfText = endOfText
        self.madeBy = madeBy
        self.base = base
    }

    public static func path(for model: String) -> String { model + ".kiln.json" }

    public static func read(for model: String) -> ModelCard? {
        guard let data = FileManager.default.contents(atPath: path(for: model)) else { return nil }
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return try? d.decode(ModelCard.self, from: data)
    }

    public func write(for model: String) throws {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try e.encode(self) + Data("\n".utf8), to: ModelCard.path(for: model))
    }
}

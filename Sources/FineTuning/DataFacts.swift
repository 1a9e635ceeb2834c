import Foundation
import ShardFormat

/// What a `prep tokenize` folder's manifest records about the data: the tokenizer's
/// fingerprint, vocabulary size and end-of-text id, and the chat template of SFT shards.
/// Plain llm.c shards made by other tools have no manifest: every fact is then nil.
public struct DataFacts: Sendable {
    public var fingerprint: String?
    public var vocabularySize: Int?
    public var endOfText: Int?
    public var template: ChatTemplate?

    public init(fingerprint: String? = nil, vocabularySize: Int? = nil, endOfText: Int? = nil, template: ChatTemplate? = nil) {
        self.fingerprint = fingerprint
        self.vocabularySize = vocabularySize
        self.endOfText = endOfText
        self.template = template
    }

    /// Reads the first manifest (by name) of the folder `spec` that describes a tokenizer;
    /// `spec` may also be a shard pattern or a file, which has no manifest.
    public static func read(_ spec: String) -> DataFacts {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: spec, isDirectory: &isDir), isDir.boolValue else { return DataFacts() }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: spec)) ?? [])
            .filter { $0.hasPrefix("manifest") && $0.hasSuffix(".json") }.sorted()
        for n in names {
            guard let data = FileManager.default.contents(atPath: spec + "/" + n),
                  let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let tok = obj["tokenizer"] as? [String: Any] else { continue }
            var template: ChatTemplate? = nil
            if let opts = obj["options"] as? [String: Any], let t = opts["template"],
               let tdata = try? JSONSerialization.data(withJSONObject: t) {
                template = try? ConfigFile.decoder.decode(ChatTemplate.self, from: tdata)
            }
            return DataFacts(fingerprint: tok["fingerprint"] as? String, vocabularySize: tok["vocabulary_size"] as? Int,
                             endOfText: tok["end_of_text"] as? Int, template: template)
        }
        return DataFacts()
    }
}

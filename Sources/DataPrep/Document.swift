import Crypto

/// Where a document came from: the input file as it was named, the archive member (nested
/// members joined with `!/`), and for web records the URL and WARC record id.
public struct DocumentSource: Equatable, Sendable {
    public var input: String
    public var member: String?
    public var url: String?
    public var record: String?

    public init(input: String, member: String? = nil, url: String? = nil, record: String? = nil) {
        self.input = input
        self.member = member
        self.url = url
        self.record = record
    }
}

/// One document of a shard: a line `{"id", "text", "source": {...}, "metadata": {...}}`
/// (datatrove's and dolma's fields, with `source` structured; see schemas/document.schema.json).
public struct Document: Equatable, Sendable {
    public var id: String
    public var text: String
    public var source: DocumentSource
    public var metadata: [JSONMember]

    public init(id: String, text: String, source: DocumentSource, metadata: [JSONMember] = []) {
        self.id = id
        self.text = text
        self.source = source
        self.metadata = metadata
    }

    /// A stable id from where the document came from: the first 128 bits of SHA-256 over the
    /// input name, the member and the position inside it (line or record number), in hex.
    public static func stableID(input: String, member: String?, position: String?) -> String {
        var h = SHA256()
        var key: [UInt8] = []
        key.reserveCapacity(input.utf8.count + (member?.utf8.count ?? 0) + (position?.utf8.count ?? 0) + 16)
        key.append(contentsOf: "kiln-doc-v1\u{0}".utf8)
        key.append(contentsOf: input.utf8)
        key.append(0)
        key.append(contentsOf: (member ?? "").utf8)
        key.append(0)
        key.append(contentsOf: (position ?? "").utf8)
        h.update(data: key)
        let hex = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 32)
        for (k, byte) in h.finalize().prefix(16).enumerated() {
            out[2 * k] = hex[Int(byte >> 4)]
            out[2 * k + 1] = hex[Int(byte & 15)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The record as one JSON line, with the trailing newline.
    public func jsonLine() -> [UInt8] {
        var w = JSONWriter(capacity: text.utf8.count + 256)
        w.raw("{\"id\":")
        w.writeString(id)
        w.raw(",\"text\":")
        w.writeString(text)
        w.raw(",\"source\":{\"input\":")
        w.writeString(source.input)
        if let m = source.member { w.raw(",\"member\":"); w.writeString(m) }
        if let u = source.url { w.raw(",\"url\":"); w.writeString(u) }
        if let r = source.record { w.raw(",\"record\":"); w.writeString(r) }
        w.raw("},\"metadata\":")
        w.write(.object(metadata))
        w.raw("}\n")
        return w.bytes
    }

    public enum RecordError: Error, CustomStringConvertible, Equatable {
        case notAnObject
        case missingField(String)
        public var description: String {
            switch self {
            case .notAnObject: return "the record is not a JSON object"
            case let .missingField(f): return "the record has no string field \"\(f)\""
            }
        }
    }

    /// Reads a record written by `jsonLine` (or any object with string `id` and `text`).
    public static func parse(_ line: [UInt8]) throws -> Document {
        let v = try JSONParser.parse(line)
        guard case let .object(members) = v else { throw RecordError.notAnObject }
        guard let id = v["id"]?.stringValue else { throw RecordError.missingField("id") }
        guard let text = v["text"]?.stringValue else { throw RecordError.missingField("text") }
        var source = DocumentSource(input: "")
        if let s = v["source"] {
            source.input = s["input"]?.stringValue ?? ""
            source.member = s["member"]?.stringValue
            source.url = s["url"]?.stringValue
            source.record = s["record"]?.stringValue
        }
        var metadata: [JSONMember] = []
        if case let .object(m)? = v["metadata"] { metadata = m }
        _ = members
        return Document(id: id, text: text, source: source, metadata: metadata)
    }
}

import ArchiveIO
import Foundation

/// A problem with one input, as the manifest and the log report it.
public struct InputIssue: Codable, Equatable, Sendable, CustomStringConvertible {
    public var input: String
    public var member: String?
    /// Byte offset: in the file for compressed data, in the decompressed stream otherwise.
    public var offset: Int64?
    /// Line number for JSONL input.
    public var line: Int?
    /// The counter it was added to, e.g. `truncated` or `invalid_json`.
    public var kind: String
    public var message: String

    public var description: String {
        var s = input
        if let m = member { s += " [\(m)]" }
        if let l = line { s += " line \(l)" }
        if let o = offset { s += " at byte \(o)" }
        return s + ": " + message
    }
}

public struct InputRecord: Codable, Equatable, Sendable {
    public var path: String
    public var size: Int64
    public var mtimeNs: Int64
    public var sha256: String
    public var documents: Int
    public var errors: Int
}

public struct OutputRecord: Codable, Equatable, Sendable {
    /// File name inside the output folder.
    public var path: String
    public var documents: Int
    /// Size of the file as written (compressed).
    public var bytes: Int64
    /// Bytes of JSONL before compression.
    public var uncompressedBytes: Int64
    public var sha256: String
}

public struct IngestCounts: Codable, Equatable, Sendable {
    public var inputs = 0
    public var inputBytes: Int64 = 0
    public var documents = 0
    /// Bytes of document text (UTF-8) written.
    public var textBytes: Int64 = 0
    /// Entries and documents skipped, by reason.
    public var skipped: [String: Int] = [:]
    /// Errors, by kind. Any error makes the exit status 3.
    public var errors: [String: Int] = [:]
    /// Invalid bytes replaced by U+FFFD.
    public var replacedBytes = 0
    /// Documents converted from another encoding than UTF-8, by encoding.
    public var encodings: [String: Int] = [:]

    public var errorCount: Int { errors.values.reduce(0, +) }

    mutating func add(_ o: IngestCounts) {
        documents += o.documents
        textBytes += o.textBytes
        for (k, v) in o.skipped { skipped[k, default: 0] += v }
        for (k, v) in o.errors { errors[k, default: 0] += v }
        replacedBytes += o.replacedBytes
        for (k, v) in o.encodings { encodings[k, default: 0] += v }
    }
}

public struct IngestManifest: StageManifest {
    public struct Task: Codable, Equatable, Sendable {
        public var index: Int
        public var count: Int
    }
    public struct Timings: Codable, Equatable, Sendable {
        public var startedAt: String
        public var finishedAt: String
        public var seconds: Double
        /// Text out per second, in MB (10^6 bytes).
        public var textMegabytesPerSecond: Double

        /// From `started` to now, with the rate of `bytes` (in MB, 10^6 bytes) per second.
        public static func since(_ started: Date, bytes: Int64) -> Timings {
            let finished = Date()
            let seconds = finished.timeIntervalSince(started)
            let iso = ISO8601DateFormatter()
            return Timings(startedAt: iso.string(from: started), finishedAt: iso.string(from: finished),
                           seconds: (seconds * 1000).rounded() / 1000,
                           textMegabytesPerSecond: seconds > 0 ? (Double(bytes) / 1e6 / seconds * 100).rounded() / 100 : 0)
        }
    }

    public var kilnVersion = Kiln.version
    public var stage = "ingest"
    /// Written only when every output is in place; a manifest without it is never written.
    public var complete = true
    public var task: Task
    public var threads: Int
    public var options: IngestOptions
    public var inputs: [InputRecord]
    public var outputs: [OutputRecord]
    public var counts: IngestCounts
    /// Up to `maxIssues` errors, in input order (the counts are complete).
    public var issues: [InputIssue]
    public var issuesOmitted: Int
    public var timings: Timings

    public static let maxIssues = 1000

    /// `manifest.json` for a single task, `manifest-<task>.json` when the inputs are split.
    public static func fileName(task: Int, count: Int) -> String {
        count == 1 ? "manifest.json" : String(format: "manifest-%05d.json", task)
    }

}

/// What every stage's manifest shares: JSON with snake_case keys and sorted keys, written
/// atomically with a final newline, read back with the same conventions.
public protocol StageManifest: Codable, Equatable, Sendable {}

extension StageManifest {
    public static var encoder: JSONEncoder { IngestManifest.jsonEncoder }
    public static var decoder: JSONDecoder { IngestManifest.jsonDecoder }

    public func write(to path: String) throws {
        var data = Array(try Self.encoder.encode(self))
        data.append(0x0A)
        try AtomicFileWriter.write(data, to: path)
    }

    public static func read(_ path: String) throws -> Self {
        try decoder.decode(Self.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

extension IngestManifest {
    static let jsonEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }()

    static let jsonDecoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()


}

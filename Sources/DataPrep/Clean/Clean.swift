import ArchiveIO
import Foundation
import ShardFormat

/// Language identification as a step of `prep clean`: every kept document gets
/// `metadata.lang` and `metadata.lang_score`; `keep` drops the others with the reason `lang:<code>`.
public struct LanguageOptions: Codable, Equatable, Sendable {
    public var enabled = true
    /// Languages to keep ("zh", "en", "other"); empty keeps every language.
    public var keep: [String] = []
    public init() {}
}

public struct PIIOptions: Codable, Equatable, Sendable {
    /// Replace e-mail addresses, IP addresses and phone numbers with placeholders.
    public var enabled = false
    public init() {}
}

/// Everything that decides what `prep clean` writes, each default written once (here and in
/// the option types of each step). Stored in the manifest; `--config` takes the same keys in
/// snake_case, nested per step.
public struct CleanOptions: Codable, Equatable, Sendable {
    public var normalize = NormalizeOptions()
    public var language = LanguageOptions()
    public var pii = PIIOptions()
    public var c4 = C4Options()
    public var gopherRepetition = GopherRepetitionOptions()
    public var gopherQuality = GopherQualityOptions()
    public var compression = IngestOptions.defaults.compression
    public var compressionLevel = IngestOptions.defaults.compressionLevel
    public var shardSize = IngestOptions.defaults.shardSize

    public init() {}
    public static let defaults = CleanOptions()

    public static func fromYAML(_ yaml: String) throws -> CleanOptions {
        try decodeSnakeCaseYAML(yaml, into: CleanOptions())
    }
}

/// What happened to one document.
public enum CleanOutcome: Equatable, Sendable {
    case kept(Document)
    /// The document as it was read, and the reason (`gopher_quality:…`, `c4:…`, `lang:…`, `empty`).
    case dropped(Document, reason: String)
}

public struct CleanStats: Codable, Equatable, Sendable {
    public struct Tally: Codable, Equatable, Sendable {
        public var documents = 0
        public var bytes: Int64 = 0
    }
    public var documentsIn = 0
    public var bytesIn: Int64 = 0
    public var kept = Tally()
    /// Dropped documents and their text bytes, by reason.
    public var dropped: [String: Tally] = [:]
    /// Lines removed from kept and dropped documents, by reason.
    public var removedLines: [String: Int] = [:]
    /// Placeholders put in, by kind.
    public var pii: [String: Int] = [:]
    /// Documents by identified language (all documents read).
    public var languages: [String: Int] = [:]
    /// Lines of the input that were not document records.
    public var invalidRecords = 0

    mutating func add(_ o: CleanStats) {
        documentsIn += o.documentsIn
        bytesIn += o.bytesIn
        kept.documents += o.kept.documents
        kept.bytes += o.kept.bytes
        for (k, v) in o.dropped {
            dropped[k, default: Tally()].documents += v.documents
            dropped[k, default: Tally()].bytes += v.bytes
        }
        for (k, v) in o.removedLines { removedLines[k, default: 0] += v }
        for (k, v) in o.pii { pii[k, default: 0] += v }
        for (k, v) in o.languages { languages[k, default: 0] += v }
        invalidRecords += o.invalidRecords
    }
}

/// One document through the steps of `prep clean`, in order: normalise, identify the language
/// (and filter by it), mask PII, C4 line filters, Gopher repetition, Gopher quality.
public struct Cleaner: Sendable {
    public let options: CleanOptions

    public init(_ options: CleanOptions) { self.options = options }

    public func clean(_ doc: Document, stats: inout CleanStats) -> CleanOutcome {
        let o = options
        var text = Normalizer.normalize(doc.text, o.normalize)
        var metadata = doc.metadata.filter { $0.key != "lang" && $0.key != "lang_score" }
        if o.language.enabled {
            let lang = LanguageID.identify(text)
            stats.languages[lang.language, default: 0] += 1
            metadata.append(JSONMember("lang", .string(lang.language)))
            metadata.append(JSONMember("lang_score", .number(String(format: "%.3f", lang.confidence))))
            if !o.language.keep.isEmpty && !o.language.keep.contains(lang.language) {
                return .dropped(doc, reason: "lang:\(lang.language)")
            }
        }
        if o.pii.enabled {
            let (masked, counts) = PIIMasker.mask(text)
            text = masked
            for (k, v) in counts { stats.pii[k, default: 0] += v }
        }
        if o.c4.enabled {
            let r = QualityFilters.c4(text, o.c4)
            for (k, v) in r.removedLines { stats.removedLines[k, default: 0] += v }
            if let reason = r.drop { return .dropped(doc, reason: reason) }
            text = r.text
        }
        if TextDecoding.isBlank(text) { return .dropped(doc, reason: "empty") }
        if o.gopherRepetition.enabled, let reason = QualityFilters.gopherRepetition(text, o.gopherRepetition) {
            return .dropped(doc, reason: reason)
        }
        if o.gopherQuality.enabled, let reason = QualityFilters.gopherQuality(text, o.gopherQuality) {
            return .dropped(doc, reason: reason)
        }
        return .kept(Document(id: doc.id, text: text, source: doc.source, metadata: metadata))
    }
}

public struct CleanManifest: StageManifest {
    public var kilnVersion = Kiln.version
    public var stage = "clean"
    public var complete = true
    public var task: IngestManifest.Task
    public var threads: Int
    public var options: CleanOptions
    public var inputs: [InputRecord]
    public var outputs: [OutputRecord]
    /// Shards of dropped documents (with `metadata.drop_reason`), when `--rejected` is given.
    public var rejectedOutputs: [OutputRecord]
    public var rejectedDirectory: String?
    public var counts: CleanStats
    public var timings: IngestManifest.Timings


}

public struct CleanResult: Sendable {
    public var manifest: CleanManifest
    public var manifestPath: String
    public var upToDate: Bool
}

public enum Clean {
    /// Cleans the shards `inputs` (this task's share) into `outDir`, and the dropped documents into
    /// `rejectedDir` when it is given.
    public static func run(inputs: [IngestInput], outDir: String, rejectedDir: String?, options: CleanOptions,
                           layout: RunLayout, force: Bool = false,
                           progress: IngestProgress = IngestProgress()) throws -> CleanResult {
        let started = Date()
        try StageFolder.prepare(outDir)
        if let rejectedDir { try StageFolder.prepare(rejectedDir) }
        let manifestName = IngestManifest.fileName(task: layout.taskIndex, count: layout.taskCount)
        let manifestPath = outDir + "/" + manifestName
        if !force, let old = try? CleanManifest.read(manifestPath), old.complete, old.kilnVersion == Kiln.version,
           old.options == options, old.rejectedDirectory == rejectedDir,
           old.task == .init(index: layout.taskIndex, count: layout.taskCount),
           old.inputs.map({ [$0.path, "\($0.size)", "\($0.mtimeNs)"] }) == inputs.map({ [$0.path, "\($0.size)", "\($0.mtimeNs)"] }),
           outputsExist(old.outputs, in: outDir), outputsExist(old.rejectedOutputs, in: rejectedDir ?? outDir) {
            return CleanResult(manifest: old, manifestPath: manifestPath, upToDate: true)
        }
        try StageFolder.removeStale(outDir, manifestName: manifestName, prefix: Ingest.shardPrefix, task: layout.taskIndex)
        if let rejectedDir {
            try StageFolder.removeStale(rejectedDir, manifestName: nil, prefix: Ingest.shardPrefix, task: layout.taskIndex)
        }

        func output(_ dir: String) -> OrderedOutput {
            OrderedOutput(writer: BackgroundShardWriter(ShardWriter(
                directory: dir, prefix: Ingest.shardPrefix, task: layout.taskIndex, compression: options.compression,
                level: options.compressionLevel, shardSize: options.shardSize)),
                directory: dir, task: layout.taskIndex, bufferLimit: Ingest.spillThreshold)
        }
        let outputs = [output(outDir)] + (rejectedDir.map { [output($0)] } ?? [])
        let cleaner = Cleaner(options)
        progress.start(totalBytes: inputs.reduce(0) { $0 + $1.size }, inputs: inputs.count)
        let threads = max(1, min(layout.threads, inputs.count))
        let results: [(CleanStats, String)]
        do {
            results = try OrderedWorkers.run(count: inputs.count, threads: threads, outputs: outputs) { k, emit in
                var stats = CleanStats()
                let input = inputs[k]
                defer { progress.finish(k, size: input.size) }
                let digest = try Shards.forEachDocument(in: input.path, expectedSize: input.size,
                                                        onInvalidLine: { _ in stats.invalidRecords += 1 }) { doc, _ in
                    stats.documentsIn += 1
                    stats.bytesIn += Int64(doc.text.utf8.count)
                    switch cleaner.clean(doc, stats: &stats) {
                    case let .kept(d):
                        stats.kept.documents += 1
                        stats.kept.bytes += Int64(d.text.utf8.count)
                        try emit(0, d)
                        progress.addDocument()
                    case let .dropped(d, reason):
                        stats.dropped[reason, default: .init()].documents += 1
                        stats.dropped[reason, default: .init()].bytes += Int64(d.text.utf8.count)
                        if outputs.count > 1 {
                            var r = d
                            r.metadata.append(JSONMember("drop_reason", .string(reason)))
                            try emit(1, r)
                        }
                    }
                }
                return (stats, digest)
            }
        } catch let e as IngestError {
            throw e
        } catch let e as Shards.RecordError {
            throw IngestError.output("\(e)")
        } catch let e as Shards.ReadError {
            throw IngestError.output("cannot read an input: \(e)")
        } catch {
            throw IngestError.output("cannot write the output: \(error)")
        }
        let kept = try outputs[0].writer.finish()
        let rejected = outputs.count > 1 ? try outputs[1].writer.finish() : []
        var counts = CleanStats()
        var records: [InputRecord] = []
        for (k, (s, digest)) in results.enumerated() {
            counts.add(s)
            records.append(InputRecord(path: inputs[k].path, size: inputs[k].size, mtimeNs: inputs[k].mtimeNs,
                                       sha256: digest, documents: s.documentsIn, errors: s.invalidRecords))
        }
        let manifest = CleanManifest(
            task: .init(index: layout.taskIndex, count: layout.taskCount), threads: threads, options: options,
            inputs: records, outputs: kept, rejectedOutputs: rejected, rejectedDirectory: rejectedDir, counts: counts,
            timings: .since(started, bytes: counts.bytesIn))
        do { try manifest.write(to: manifestPath) } catch { throw IngestError.output("\(error)") }
        return CleanResult(manifest: manifest, manifestPath: manifestPath, upToDate: false)
    }

    static func outputsExist(_ outputs: [OutputRecord], in dir: String) -> Bool {
        outputs.allSatisfy { o in
            var st = stat()
            return stat(dir + "/" + o.path, &st) == 0 && Int64(st.st_size) == o.bytes
        }
    }
}

import ArchiveIO
import Foundation
import ShardFormat

/// Everything that decides what `prep dedup` writes; stored in its manifests.
public struct DedupOptions: Codable, Equatable, Sendable {
    public var minhash = MinHashOptions()
    /// Memory for band hashes and merge buffers; past it they spill to sorted runs on disk.
    public var memoryBudget: Int64 = 2 << 30
    public var compression = IngestOptions.defaults.compression
    public var compressionLevel = IngestOptions.defaults.compressionLevel
    public var shardSize = IngestOptions.defaults.shardSize

    public init() {}
    public static let defaults = DedupOptions()

    public static func fromYAML(_ yaml: String) throws -> DedupOptions {
        try decodeSnakeCaseYAML(yaml, into: DedupOptions())
    }
}

/// `prep dedup` as three steps a build farm can spread out, and as one command that runs them
/// in turn:
///
/// 1. `signatures` (per task): MinHash signatures, band hashes and exact keys of the task's
///    documents, numbered in global input order, into `WORK/signatures-<task>/`.
/// 2. `cluster` (once): merges every task's sorted band runs, confirms candidate pairs by
///    estimated Jaccard similarity, forms clusters with union-find and writes
///    `WORK/removals.bin` (removed document, kept document, reason) and `WORK/kept-ids.jsonl`.
/// 3. `filter` (per task): copies the task's documents except the removed ones.
///
/// Tasks take contiguous runs of the sorted shards, so that document numbers follow the input
/// order whatever the split; the document kept in a cluster is always its first in input order.
public enum Dedup {
    public static let removalsFile = "removals.bin"
    public static let keptIDsFile = "kept-ids.jsonl"

    static func signatureFolder(_ work: String, task: Int) -> String {
        String(format: "%@/signatures-%05d", work, task)
    }

    /// This task's contiguous share of the sorted shards, and how many shards come before it.
    public static func split(_ inputs: [IngestInput], taskIndex: Int, taskCount: Int) -> (inputs: [IngestInput], first: Int) {
        let lo = inputs.count * taskIndex / taskCount
        let hi = inputs.count * (taskIndex + 1) / taskCount
        return (Array(inputs[lo..<hi]), lo)
    }

    /// Documents in each shard: from the manifests beside the shards when they describe them
    /// (same name and size), otherwise by reading the shard.
    static func documentCounts(_ shards: [IngestInput]) throws -> [Int] {
        var known: [String: (Int64, Int)] = [:]
        let folders = Set(shards.map { ($0.path as NSString).deletingLastPathComponent })
        for folder in folders {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for name in names where name.hasPrefix("manifest") && name.hasSuffix(".json") {
                guard let data = FileManager.default.contents(atPath: folder + "/" + name),
                      let v = try? JSONParser.parse(Array(data)), case let .array(outputs)? = v["outputs"] else { continue }
                for o in outputs {
                    if let p = o["path"]?.stringValue, case let .number(b)? = o["bytes"], case let .number(d)? = o["documents"],
                       let bytes = Int64(b), let docs = Int(d) {
                        known[folder + "/" + p] = (bytes, docs)
                    }
                }
            }
        }
        return try shards.map { s in
            if let (bytes, docs) = known[s.path], bytes == s.size { return docs }
            var n = 0
            try Shards.forEachDocument(in: s.path, expectedSize: s.size, onInvalidLine: { _ in }) { _, _ in n += 1 }
            return n
        }
    }

    public struct SignatureSummary: Codable, Equatable, Sendable {
        public var documents: Int
        public var baseDocument: UInt64
        public var seconds: Double
    }

    /// Step 1 for one task: its shards' signatures into `WORK/signatures-<task>/`, with the
    /// documents' ids beside them (`ids.jsonl`, one JSON string per line).
    public static func signatures(allInputs: [IngestInput], work: String, options: DedupOptions, layout: RunLayout,
                                  progress: IngestProgress = IngestProgress()) throws -> SignatureSummary {
        let started = Date()
        try StageFolder.prepare(work)
        let (mine, first) = split(allInputs, taskIndex: layout.taskIndex, taskCount: layout.taskCount)
        let before = try documentCounts(Array(allInputs[0..<first])).reduce(0, +)
        let folder = signatureFolder(work, task: layout.taskIndex)
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let hasher = try MinHasher(options.minhash)
        let writer = try SignatureWriter(folder: folder, options: options.minhash, baseDoc: UInt64(before),
                                         memoryBudget: Int(options.memoryBudget))
        let ids = try AtomicFileWriter(path: folder + "/ids.jsonl")
        progress.start(totalBytes: mine.reduce(0) { $0 + $1.size }, inputs: mine.count)
        // Sketches are computed on every thread, shard by shard, and added in shard order.
        let commit = OrderedCommit()
        do {
            _ = try OrderedWorkers.run(count: mine.count, threads: layout.threads, outputs: []) { k, _ in
                var sketches: [(DedupSketch, String)] = []
                let ws = MinHasher.Workspace()
                do {
                    try Shards.forEachDocument(in: mine[k].path, expectedSize: mine[k].size, onInvalidLine: { _ in }) { doc, _ in
                        sketches.append((hasher.sketch(of: doc.text, workspace: ws), doc.id))
                    }
                } catch {
                    commit.fail(error)
                    throw error
                }
                try commit.inTurn(k) {
                    for (s, id) in sketches {
                        _ = try writer.add(s)
                        var w = JSONWriter()
                        w.writeString(id)
                        w.bytes.append(0x0A)
                        try ids.write(w.bytes)
                    }
                }
                progress.finish(k, size: mine[k].size)
                return 0
            }
        } catch {
            writer.discard()
            throw error
        }
        try ids.commit()
        let task = try writer.finish()
        return SignatureSummary(documents: Int(task.count), baseDocument: UInt64(before),
                                seconds: Date().timeIntervalSince(started))
    }

    /// Step 2: clusters every task folder under `work` into the removal list.
    public static func cluster(work: String, options: DedupOptions) throws -> DedupStats {
        let folders = ((try? FileManager.default.contentsOfDirectory(atPath: work)) ?? [])
            .filter { $0.hasPrefix("signatures-") }.sorted().map { work + "/" + $0 }
        guard !folders.isEmpty else { throw DedupError.invalid("\(work): no signatures-* folders (run `prep dedup signatures` first)") }
        let temp = work + "/.cluster-tmp"
        try? FileManager.default.removeItem(atPath: temp)
        try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: temp) }
        let removalsPath = work + "/" + removalsFile
        let stats = try DedupCluster.run(folders: folders, options: options.minhash, removalPath: removalsPath,
                                         tempDirectory: temp, memoryBudget: Int(options.memoryBudget))
        // The ids of the kept documents of every cluster, for the removed documents' records.
        var wanted = Set(try RemovalFile.read(removalsPath).map(\.kept))
        let out = try AtomicFileWriter(path: work + "/" + keptIDsFile)
        var doc: UInt64 = 0
        for folder in folders where !wanted.isEmpty {
            let reader = try Shards.lines(of: folder + "/ids.jsonl")
            while let line = try reader.readLine(maxLength: Int.max) {
                defer { doc += 1 }
                guard case let .line(bytes) = line, wanted.remove(doc) != nil else { continue }
                try out.write(Array("[\(doc),".utf8) + bytes + Array("]\n".utf8))
            }
        }
        try out.commit()
        return stats
    }

    public struct FilterSummary: Sendable {
        public var kept: Int
        public var removed: [String: Int]
        public var outputs: [OutputRecord]
        public var removedOutputs: [OutputRecord]
        /// SHA-256 (hex) of each of the task's input shards, taken as they were read.
        public var inputSHA256: [String]
    }

    /// Step 3 for one task: its shards without the removed documents, into `outDir`; the removed
    /// ones, with `metadata.duplicate_of` (the kept document's id) and `metadata.dedup_reason`
    /// and `metadata.jaccard`, into `removedDir` when given.
    public static func filter(allInputs: [IngestInput], work: String, outDir: String, removedDir: String?,
                              options: DedupOptions, layout: RunLayout,
                              progress: IngestProgress = IngestProgress()) throws -> FilterSummary {
        try StageFolder.prepare(outDir)
        try StageFolder.removeStale(outDir, manifestName: nil, prefix: Ingest.shardPrefix, task: layout.taskIndex)
        if let removedDir {
            try StageFolder.prepare(removedDir)
            try StageFolder.removeStale(removedDir, manifestName: nil, prefix: Ingest.shardPrefix, task: layout.taskIndex)
        }
        let (mine, first) = split(allInputs, taskIndex: layout.taskIndex, taskCount: layout.taskCount)
        let counts = try documentCounts(Array(allInputs[0..<(first + mine.count)]))
        let base = counts[0..<first].reduce(0, +)
        var starts: [Int] = []
        var s = base
        for c in counts[first...] { starts.append(s); s += c }

        let removals = try RemovalFile.Reader(path: work + "/" + removalsFile)
        var keptIDs: [UInt64: String] = [:]
        if removedDir != nil {
            let reader = try Shards.lines(of: work + "/" + keptIDsFile)
            while let line = try reader.readLine(maxLength: Int.max) {
                guard case let .line(b) = line, case let .array(pair) = try JSONParser.parse(b), pair.count == 2,
                      case let .number(n) = pair[0], let doc = UInt64(n), let id = pair[1].stringValue else { continue }
                keptIDs[doc] = id
            }
        }
        func output(_ dir: String) -> OrderedOutput {
            OrderedOutput(writer: BackgroundShardWriter(ShardWriter(
                directory: dir, prefix: Ingest.shardPrefix, task: layout.taskIndex, compression: options.compression,
                level: options.compressionLevel, shardSize: options.shardSize)),
                directory: dir, task: layout.taskIndex, bufferLimit: Ingest.spillThreshold)
        }
        let outputs = [output(outDir)] + (removedDir.map { [output($0)] } ?? [])
        let lock = NSLock()
        progress.start(totalBytes: mine.reduce(0) { $0 + $1.size }, inputs: mine.count)
        let results = try OrderedWorkers.run(count: mine.count, threads: layout.threads, outputs: outputs) { k, emit in
            // Each shard reads its own slice of the removal list.
            let start = UInt64(starts[k])
            var pending: [DedupRemoval] = []
            lock.lock()
            do {
                try removals.seek(toDoc: start)
                while let r = try removals.next(), r.doc < start + UInt64(counts[first + k]) { pending.append(r) }
            } catch { lock.unlock(); throw error }
            lock.unlock()
            var kept = 0
            var removed: [String: Int] = [:]
            var next = 0
            var doc = start
            // The second read of the shard: its size is checked again, so a shard cut short
            // since the signatures were computed is an error, not fewer documents.
            let digest = try Shards.forEachDocument(in: mine[k].path, expectedSize: mine[k].size,
                                                    onInvalidLine: { _ in }) { d, _ in
                defer { doc += 1 }
                if next < pending.count && pending[next].doc == doc {
                    let r = pending[next]
                    next += 1
                    removed[r.reason.rawValue, default: 0] += 1
                    if outputs.count > 1 {
                        var x = d
                        x.metadata.append(JSONMember("duplicate_of", .string(keptIDs[r.kept] ?? "")))
                        x.metadata.append(JSONMember("dedup_reason", .string(r.reason.rawValue)))
                        x.metadata.append(JSONMember("jaccard", .number(String(format: "%.3f", r.jaccard))))
                        try emit(1, x)
                    }
                    return
                }
                kept += 1
                try emit(0, d)
                progress.addDocument()
            }
            progress.finish(k, size: mine[k].size)
            return (kept, removed, digest)
        }
        var summary = FilterSummary(kept: 0, removed: [:], outputs: [], removedOutputs: [], inputSHA256: [])
        for (k, r, digest) in results {
            summary.kept += k
            for (reason, n) in r { summary.removed[reason, default: 0] += n }
            summary.inputSHA256.append(digest)
        }
        summary.outputs = try outputs[0].writer.finish()
        if outputs.count > 1 { summary.removedOutputs = try outputs[1].writer.finish() }
        return summary
    }
}

/// Runs blocks in the order of their indices, whatever order the threads reach them in. A job
/// that fails calls `fail`, which releases everyone waiting.
final class OrderedCommit: @unchecked Sendable {
    private let cond = NSCondition()
    private var next = 0
    private var failure: Error?

    func fail(_ error: Error) {
        cond.lock()
        if failure == nil { failure = error }
        cond.broadcast()
        cond.unlock()
    }

    func inTurn(_ index: Int, _ body: () throws -> Void) throws {
        cond.lock()
        while next != index && failure == nil { cond.wait() }
        if let f = failure { cond.unlock(); throw f }
        cond.unlock()
        defer {
            cond.lock()
            next += 1
            cond.broadcast()
            cond.unlock()
        }
        try body()
    }
}

public struct DedupManifest: StageManifest {
    public var kilnVersion = Kiln.version
    public var stage = "dedup"
    public var complete = true
    public var task: IngestManifest.Task
    public var threads: Int
    public var options: DedupOptions
    /// The similarity above which a pair becomes a candidate half of the time, (1/b)^(1/r).
    public var impliedThreshold: Double
    public var inputs: [InputRecord]
    public var outputs: [OutputRecord]
    public var removedOutputs: [OutputRecord]
    public var removedDirectory: String?
    public var documents: Int
    public var kept: Int
    /// Removed documents by reason (exact, near).
    public var removed: [String: Int]
    /// The clustering's statistics (of all tasks; absent in a filter step's manifest when the
    /// cluster step ran elsewhere).
    public var clusters: DedupStats?
    public var timings: IngestManifest.Timings


}

public struct DedupRunResult: Sendable {
    public var manifest: DedupManifest
    public var manifestPath: String
    public var upToDate: Bool
}

extension Dedup {
    /// The three steps in one process, with a work folder inside `outDir` that is removed at
    /// the end; or, for the `filter` step of a farm run, step 3 alone on an existing `work`.
    public static func run(inputs: [IngestInput], outDir: String, removedDir: String?, options: DedupOptions,
                           layout: RunLayout, work existingWork: String? = nil, force: Bool = false,
                           progress: IngestProgress = IngestProgress()) throws -> DedupRunResult {
        let started = Date()
        try options.minhash.validate()
        try StageFolder.prepare(outDir)
        let manifestName = IngestManifest.fileName(task: layout.taskIndex, count: layout.taskCount)
        let manifestPath = outDir + "/" + manifestName
        let (mine, _) = split(inputs, taskIndex: layout.taskIndex, taskCount: layout.taskCount)
        if !force, existingWork == nil, let old = try? DedupManifest.read(manifestPath), old.complete,
           old.kilnVersion == Kiln.version, old.options == options, old.removedDirectory == removedDir,
           old.task == .init(index: layout.taskIndex, count: layout.taskCount),
           old.inputs.map({ [$0.path, "\($0.size)", "\($0.mtimeNs)"] }) == mine.map({ [$0.path, "\($0.size)", "\($0.mtimeNs)"] }),
           Clean.outputsExist(old.outputs, in: outDir), Clean.outputsExist(old.removedOutputs, in: removedDir ?? outDir) {
            return DedupRunResult(manifest: old, manifestPath: manifestPath, upToDate: true)
        }
        unlink(manifestPath)
        var stats: DedupStats?
        let work = existingWork ?? outDir + "/.dedup-work"
        // Our own work folder (signatures of every document) goes when the run fails too; a
        // farm's work folder is the farm's.
        defer { if existingWork == nil { try? FileManager.default.removeItem(atPath: work) } }
        if existingWork != nil {
            if let data = FileManager.default.contents(atPath: work + "/cluster.json") {
                stats = try? IngestManifest.decoder.decode(DedupStats.self, from: data)
            }
        } else {
            try? FileManager.default.removeItem(atPath: work)
            _ = try signatures(allInputs: inputs, work: work, options: options,
                               layout: RunLayout(taskIndex: 0, taskCount: 1, threads: layout.threads))
            stats = try cluster(work: work, options: options)
        }
        let f = try filter(allInputs: inputs, work: work, outDir: outDir, removedDir: removedDir, options: options,
                           layout: layout, progress: progress)
        // Before the manifest: a complete manifest never sits beside a work folder.
        if existingWork == nil { try? FileManager.default.removeItem(atPath: work) }
        var records: [InputRecord] = []
        // Read from the earlier stage's manifests when they describe the shards (cheap).
        let counts = try documentCounts(mine)
        for ((i, n), digest) in zip(zip(mine, counts), f.inputSHA256) {
            records.append(InputRecord(path: i.path, size: i.size, mtimeNs: i.mtimeNs, sha256: digest,
                                       documents: n, errors: 0))
        }
        let bytes = mine.reduce(Int64(0)) { $0 + $1.size }
        let manifest = DedupManifest(
            task: .init(index: layout.taskIndex, count: layout.taskCount), threads: layout.threads, options: options,
            impliedThreshold: (options.minhash.impliedThreshold * 1000).rounded() / 1000,
            inputs: records, outputs: f.outputs, removedOutputs: f.removedOutputs, removedDirectory: removedDir,
            documents: f.kept + f.removed.values.reduce(0, +), kept: f.kept, removed: f.removed, clusters: stats,
            timings: .since(started, bytes: bytes))
        try manifest.write(to: manifestPath)
        return DedupRunResult(manifest: manifest, manifestPath: manifestPath, upToDate: false)
    }

    /// Step 2 with its statistics written to `WORK/cluster.json`.
    public static func clusterStep(work: String, options: DedupOptions) throws -> DedupStats {
        let stats = try cluster(work: work, options: options)
        var data = Array(try IngestManifest.encoder.encode(stats))
        data.append(0x0A)
        try AtomicFileWriter.write(data, to: work + "/cluster.json")
        return stats
    }
}

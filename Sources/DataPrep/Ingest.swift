import ArchiveIO
import Dispatch
import Foundation

/// One input file of `prep ingest`.
public struct IngestInput: Equatable, Sendable {
    /// The path as it was given or found under a given folder; documents name it as `source.input`.
    public var path: String
    public var size: Int64
    public var mtimeNs: Int64
}

public enum IngestError: Error, CustomStringConvertible {
    case inputNotFound(String)
    case noInputs
    case output(String)
    case strict(InputIssue)

    public var description: String {
        switch self {
        case let .inputNotFound(p): return "\(p): no such file or folder"
        case .noInputs: return "no input files found"
        case let .output(m): return m
        case let .strict(i): return "input error (--strict): \(i)"
        }
    }
}

/// Live counters for a progress display; the CLI polls `snapshot`.
public final class IngestProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var total: Int64 = 0
    private var finished: Int64 = 0
    private var current: [Int: Int64] = [:]
    private var docs = 0
    private var inputsDone = 0
    private var inputsTotal = 0

    public init() {}

    public struct Snapshot: Sendable {
        public var bytesRead: Int64
        public var totalBytes: Int64
        public var documents: Int
        public var inputsDone: Int
        public var inputsTotal: Int
    }

    public func snapshot() -> Snapshot {
        lock.lock(); defer { lock.unlock() }
        let inFlight = current.values.reduce(0, +)
        return Snapshot(bytesRead: finished + inFlight, totalBytes: total, documents: docs,
                        inputsDone: inputsDone, inputsTotal: inputsTotal)
    }

    func start(totalBytes: Int64, inputs: Int) {
        lock.lock(); total = totalBytes; inputsTotal = inputs; lock.unlock()
    }

    func update(_ index: Int, _ bytes: Int64) {
        lock.lock(); current[index] = bytes; lock.unlock()
    }

    func addDocument() {
        lock.lock(); docs += 1; lock.unlock()
    }

    func finish(_ index: Int, size: Int64) {
        lock.lock()
        current[index] = nil
        finished += size
        inputsDone += 1
        lock.unlock()
    }
}

public struct IngestResult: Sendable {
    public var manifest: IngestManifest
    public var manifestPath: String
    /// True when a complete manifest for the same inputs and options was found and nothing ran.
    public var upToDate: Bool
}

public enum Ingest {
    public static let shardPrefix = "docs"
    /// Documents a worker keeps in memory while an earlier input is still being read; past it
    /// they go to a spill file.
    public static let spillThreshold = 32 << 20

    /// Expands files, folders (recursively) and list files into the sorted list of input files.
    /// Hidden files (names starting with ".") and anything under `excluding` are left out.
    public static func enumerateInputs(_ paths: [String], excluding: String? = nil) throws -> [IngestInput] {
        var found: [String: IngestInput] = [:]
        let excluded = excluding.map { canonical($0) }
        for p in paths {
            var st = stat()
            guard stat(p, &st) == 0 else { throw IngestError.inputNotFound(p) }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                try walk(p, into: &found, excluding: excluded)
            } else {
                found[p] = IngestInput(path: p, size: Int64(st.st_size), mtimeNs: mtime(st))
            }
        }
        return found.values.sorted { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }
    }

    /// Paths listed one per line in `file` (blank lines and `#` comments ignored).
    public static func readInputList(_ file: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: file) else { throw IngestError.inputNotFound(file) }
        return String(decoding: data, as: UTF8.self).split(separator: "\n")
            .map { $0.trimmingCharacters() }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    private static func canonical(_ p: String) -> String {
        URL(fileURLWithPath: p).standardizedFileURL.resolvingSymlinksInPath().path
    }

    private static func mtime(_ st: stat) -> Int64 {
        Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }

    private static func walk(_ dir: String, into found: inout [String: IngestInput], excluding: String?) throws {
        if let ex = excluding, canonical(dir) == ex { return }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        for name in names where !name.hasPrefix(".") {
            let path = dir.hasSuffix("/") ? dir + name : dir + "/" + name
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                try walk(path, into: &found, excluding: excluding)
            } else if (st.st_mode & S_IFMT) == S_IFREG {
                found[path] = IngestInput(path: path, size: Int64(st.st_size), mtimeNs: mtime(st))
            }
        }
    }

    /// This task's share of the sorted inputs: a contiguous run of them, as dedup and tokenize
    /// take theirs. Its shards are named after the task, so the tasks' outputs read in name order
    /// hold the documents in the order of a single-task run (round-robin shares would interleave
    /// the inputs, and change which duplicate dedup keeps and the order of the token stream).
    public static func split(_ inputs: [IngestInput], taskIndex: Int, taskCount: Int) -> [IngestInput] {
        Dedup.split(inputs, taskIndex: taskIndex, taskCount: taskCount).inputs
    }

    /// Ingests `inputs` (already this task's share) into `outDir`.
    public static func run(inputs: [IngestInput], outDir: String, options: IngestOptions, layout: RunLayout,
                           force: Bool = false, progress: IngestProgress = IngestProgress(),
                           onIssue: @escaping @Sendable (InputIssue) -> Void = { _ in },
                           bufferLimit: Int = Ingest.spillThreshold) throws -> IngestResult {
        let started = Date()
        try StageFolder.prepare(outDir)
        let manifestPath = outDir + "/" + IngestManifest.fileName(task: layout.taskIndex, count: layout.taskCount)
        if !force, let old = try? IngestManifest.read(manifestPath),
           isUpToDate(old, inputs: inputs, outDir: outDir, options: options, layout: layout) {
            return IngestResult(manifest: old, manifestPath: manifestPath, upToDate: true)
        }
        try removeStaleOutputs(outDir: outDir, manifestPath: manifestPath, task: layout.taskIndex)

        let output = OrderedOutput(
            writer: BackgroundShardWriter(ShardWriter(
                directory: outDir, prefix: shardPrefix, task: layout.taskIndex, compression: options.compression,
                level: options.compressionLevel, shardSize: options.shardSize)),
            directory: outDir, task: layout.taskIndex, bufferLimit: bufferLimit)
        progress.start(totalBytes: inputs.reduce(0) { $0 + $1.size }, inputs: inputs.count)
        let threads = max(1, min(layout.threads, inputs.count))
        struct Result {
            var counts: IngestCounts
            var issues: [InputIssue]
            var sha256: String
        }
        let results: [Result]
        do {
            results = try OrderedWorkers.run(count: inputs.count, threads: threads, outputs: [output]) { k, emit in
                let input = inputs[k]
                defer { progress.finish(k, size: input.size) }
                let job = IngestJob(
                    input: input, options: options,
                    emit: { document in
                        try emit(0, document)
                        progress.addDocument()
                    },
                    onProgress: { bytes in progress.update(k, bytes) },
                    onIssue: onIssue)
                do {
                    try job.run()
                    return Result(counts: job.counts, issues: job.issues,
                                  sha256: try job.inputSHA256 ?? sha256(ofFile: input.path))
                } catch ArchiveIOError.io(let path, let op, let code) where path == input.path {
                    // The input itself cannot be read: an input error, not a run failure.
                    let issue = InputIssue(input: input.path, member: nil, offset: nil, line: nil, kind: "read_error",
                                           message: ArchiveIOError.io(path: path, operation: op, errno: code).description)
                    onIssue(issue)
                    var counts = IngestCounts()
                    counts.errors["read_error"] = 1
                    return Result(counts: counts, issues: [issue], sha256: "")
                }
            }
        } catch let e as IngestError {
            throw e
        } catch {
            throw IngestError.output("cannot write the output: \(error)")
        }
        let outputs: [OutputRecord]
        do { outputs = try output.writer.finish() } catch { throw IngestError.output("\(error)") }

        var counts = IngestCounts()
        var issues: [InputIssue] = []
        var records: [InputRecord] = []
        for (k, r) in results.enumerated() {
            counts.inputs += 1
            counts.inputBytes += inputs[k].size
            counts.add(r.counts)
            issues.append(contentsOf: r.issues)
            records.append(InputRecord(path: inputs[k].path, size: inputs[k].size, mtimeNs: inputs[k].mtimeNs,
                                       sha256: r.sha256, documents: r.counts.documents, errors: r.counts.errorCount))
        }
        if options.strict, let first = issues.first {
            for o in outputs { unlink(outDir + "/" + o.path) }
            throw IngestError.strict(first)
        }
        let manifest = IngestManifest(
            task: .init(index: layout.taskIndex, count: layout.taskCount),
            threads: threads,
            options: options,
            inputs: records,
            outputs: outputs,
            counts: counts,
            issues: Array(issues.prefix(IngestManifest.maxIssues)),
            issuesOmitted: max(0, issues.count - IngestManifest.maxIssues),
            timings: .since(started, bytes: counts.textBytes))
        do { try manifest.write(to: manifestPath) } catch { throw IngestError.output("\(error)") }
        return IngestResult(manifest: manifest, manifestPath: manifestPath, upToDate: false)
    }

    static func isUpToDate(_ m: IngestManifest, inputs: [IngestInput], outDir: String, options: IngestOptions,
                           layout: RunLayout) -> Bool {
        guard m.complete, m.kilnVersion == Kiln.version, m.options == options,
              m.task.index == layout.taskIndex, m.task.count == layout.taskCount,
              m.inputs.count == inputs.count else { return false }
        for (a, b) in zip(m.inputs, inputs) where a.path != b.path || a.size != b.size || a.mtimeNs != b.mtimeNs {
            return false
        }
        for o in m.outputs {
            var st = stat()
            guard stat(outDir + "/" + o.path, &st) == 0, Int64(st.st_size) == o.bytes else { return false }
        }
        return true
    }

    static func removeStaleOutputs(outDir: String, manifestPath: String, task: Int) throws {
        try StageFolder.removeStale(outDir, manifestName: (manifestPath as NSString).lastPathComponent,
                                    prefix: shardPrefix, task: task)
    }
}


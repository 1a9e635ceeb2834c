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

    /// This task's share of the sorted inputs: every `count`-th input, starting at `index`.
    public static func split(_ inputs: [IngestInput], taskIndex: Int, taskCount: Int) -> [IngestInput] {
        inputs.enumerated().filter { $0.offset % taskCount == taskIndex }.map(\.element)
    }

    /// Ingests `inputs` (already this task's share) into `outDir`.
    public static func run(inputs: [IngestInput], outDir: String, options: IngestOptions, layout: RunLayout,
                           force: Bool = false, progress: IngestProgress = IngestProgress(),
                           onIssue: @escaping @Sendable (InputIssue) -> Void = { _ in },
                           bufferLimit: Int = Ingest.spillThreshold) throws -> IngestResult {
        let started = Date()
        do {
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        } catch {
            throw IngestError.output("\(outDir): cannot create the output folder: \(error.localizedDescription)")
        }
        guard access(outDir, W_OK) == 0 else {
            throw IngestError.output("\(outDir): the output folder is not writable")
        }
        let manifestPath = outDir + "/" + IngestManifest.fileName(task: layout.taskIndex, count: layout.taskCount)
        if !force, let old = try? IngestManifest.read(manifestPath),
           isUpToDate(old, inputs: inputs, outDir: outDir, options: options, layout: layout) {
            return IngestResult(manifest: old, manifestPath: manifestPath, upToDate: true)
        }
        try removeStaleOutputs(outDir: outDir, manifestPath: manifestPath, task: layout.taskIndex)

        let state = RunState(inputs: inputs, options: options, progress: progress, onIssue: onIssue,
                             output: OrderedOutput(writer: BackgroundShardWriter(ShardWriter(
                                directory: outDir, prefix: shardPrefix, task: layout.taskIndex,
                                compression: options.compression, level: options.compressionLevel,
                                shardSize: options.shardSize)), directory: outDir, task: layout.taskIndex,
                                bufferLimit: bufferLimit))
        progress.start(totalBytes: inputs.reduce(0) { $0 + $1.size }, inputs: inputs.count)
        let threads = max(1, min(layout.threads, inputs.count))
        DispatchQueue.concurrentPerform(iterations: threads) { _ in state.work() }
        if let failure = state.failure {
            state.output.writer.abandon()
            throw failure
        }

        let outputs: [OutputRecord]
        do { outputs = try state.output.writer.finish() } catch { throw IngestError.output("\(error)") }

        var counts = IngestCounts()
        var issues: [InputIssue] = []
        var records: [InputRecord] = []
        for (k, r) in state.results.enumerated() {
            guard let r else { continue }
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
        let finished = Date()
        let seconds = finished.timeIntervalSince(started)
        let iso = ISO8601DateFormatter()
        let manifest = IngestManifest(
            task: .init(index: layout.taskIndex, count: layout.taskCount),
            threads: threads,
            options: options,
            inputs: records,
            outputs: outputs,
            counts: counts,
            issues: Array(issues.prefix(IngestManifest.maxIssues)),
            issuesOmitted: max(0, issues.count - IngestManifest.maxIssues),
            timings: .init(startedAt: iso.string(from: started), finishedAt: iso.string(from: finished),
                           seconds: (seconds * 1000).rounded() / 1000,
                           textMegabytesPerSecond: seconds > 0 ? (Double(counts.textBytes) / 1e6 / seconds * 100).rounded() / 100 : 0))
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

    /// Removes this task's manifest first (so it never describes other shards), then its shards
    /// and any temporary files a killed run left.
    static func removeStaleOutputs(outDir: String, manifestPath: String, task: Int) throws {
        unlink(manifestPath)
        let mine = String(format: "%@-%05d-", shardPrefix, task)
        let manifestTemp = "." + (manifestPath as NSString).lastPathComponent + ".tmp-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outDir)) ?? []
        for name in names where name.hasPrefix(mine) || (name.hasPrefix("." + mine) && name.contains(".tmp-"))
            || name.hasPrefix(manifestTemp) {
            if unlink(outDir + "/" + name) != 0 && errno != ENOENT {
                throw IngestError.output("\(outDir)/\(name): cannot remove a stale output")
            }
        }
    }
}

/// Shared state of one run's worker threads.
private final class RunState: @unchecked Sendable {
    struct Result {
        var counts: IngestCounts
        var issues: [InputIssue]
        var sha256: String
    }

    let inputs: [IngestInput]
    let options: IngestOptions
    let progress: IngestProgress
    let onIssue: @Sendable (InputIssue) -> Void
    let output: OrderedOutput
    private let lock = NSLock()
    private var next = 0
    private(set) var results: [Result?]
    private(set) var failure: Error?

    init(inputs: [IngestInput], options: IngestOptions, progress: IngestProgress,
         onIssue: @escaping @Sendable (InputIssue) -> Void, output: OrderedOutput) {
        self.inputs = inputs
        self.options = options
        self.progress = progress
        self.onIssue = onIssue
        self.output = output
        results = Array(repeating: nil, count: inputs.count)
    }

    private func take() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard failure == nil, next < inputs.count else { return nil }
        next += 1
        return next - 1
    }

    func work() {
        while let k = take() {
            let input = inputs[k]
            var buffer = OrderedOutput.Pending()
            let job = IngestJob(
                input: input, options: options,
                emit: { [output, progress] document in
                    try output.emit(k, document, pending: &buffer)
                    progress.addDocument()
                },
                onProgress: { [progress] bytes in progress.update(k, bytes) },
                onIssue: onIssue)
            do {
                try job.run()
                let digest = try job.inputSHA256 ?? sha256(ofFile: input.path)
                try output.finish(k, pending: buffer)
                lock.lock()
                results[k] = Result(counts: job.counts, issues: job.issues, sha256: digest)
                lock.unlock()
            } catch ArchiveIOError.io(let path, let op, let code) where path == input.path {
                // The input itself cannot be read: an input error, not a run failure.
                let issue = InputIssue(input: input.path, member: nil, offset: nil, line: nil, kind: "read_error",
                                       message: ArchiveIOError.io(path: path, operation: op, errno: code).description)
                onIssue(issue)
                var counts = IngestCounts()
                counts.errors["read_error"] = 1
                do { try output.finish(k, pending: OrderedOutput.Pending()) } catch { fail(error) }
                lock.lock()
                results[k] = Result(counts: counts, issues: [issue], sha256: "")
                lock.unlock()
            } catch {
                fail(error)
                output.abort(error)
            }
            progress.finish(k, size: input.size)
        }
    }

    private func fail(_ error: Error) {
        lock.lock()
        if failure == nil {
            failure = (error as? IngestError) ?? IngestError.output("cannot write the output: \(error)")
        }
        lock.unlock()
    }
}

/// Writes the documents of the inputs in input order, whatever order the threads finish in.
///
/// The worker on the first unfinished input hands its documents straight to the shard writer;
/// the others keep theirs in memory up to `bufferLimit` and then spill them, as JSON lines, to a
/// temporary file that the writer copies into the shards when their turn comes. So every worker
/// keeps working, and memory stays bounded whatever the inputs' sizes.
final class OrderedOutput: @unchecked Sendable {
    struct Pending {
        var records: [Document] = []
        var bytes = 0
        var spill: SpillFile?
    }

    private let bufferLimit: Int

    let writer: BackgroundShardWriter
    private let directory: String
    private let task: Int
    private let cond = NSCondition()
    private var head = 0
    private var done: [Int: Pending] = [:]
    private var failure: Error?

    init(writer: BackgroundShardWriter, directory: String, task: Int, bufferLimit: Int) {
        self.writer = writer
        self.bufferLimit = bufferLimit
        self.directory = directory
        self.task = task
    }

    func emit(_ index: Int, _ record: Document, pending: inout Pending) throws {
        cond.lock()
        if let f = failure { cond.unlock(); throw f }
        if head == index {
            defer { cond.unlock() }
            try flush(&pending)
            try guarded { try writer.write(record) }
            return
        }
        cond.unlock()
        pending.records.append(record)
        pending.bytes += record.text.utf8.count + 256
        if pending.bytes > bufferLimit { try spill(index, &pending) }
    }

    /// Moves the buffered documents to the input's spill file (outside the lock: this is the
    /// worker's own data).
    private func spill(_ index: Int, _ pending: inout Pending) throws {
        if pending.spill == nil {
            pending.spill = try SpillFile(path: String(format: "%@/%@-%05d-spill-%06d", directory, Ingest.shardPrefix, task, index))
        }
        for d in pending.records { try pending.spill!.append(d.jsonLine()) }
        pending.records = []
        pending.bytes = 0
    }

    func finish(_ index: Int, pending: Pending) throws {
        cond.lock(); defer { cond.unlock() }
        if let f = failure { throw f }
        done[index] = pending
        while var p = done.removeValue(forKey: head) {
            try flush(&p)
            head += 1
        }
        cond.broadcast()
    }

    func abort(_ error: Error) {
        cond.lock()
        if failure == nil { failure = error }
        cond.broadcast()
        cond.unlock()
    }

    private func flush(_ pending: inout Pending) throws {
        if let s = pending.spill { try guarded { try writer.write(spill: s) } }
        for r in pending.records { try guarded { try writer.write(r) } }
        pending = Pending()
    }

    private func guarded(_ body: () throws -> Void) throws {
        do { try body() } catch {
            failure = error
            cond.broadcast()
            throw error
        }
    }
}

/// JSON lines waiting for their turn, in a temporary file beside the shards (removed when the
/// object goes away; a killed run's are removed by the next run).
final class SpillFile: @unchecked Sendable {
    private let file: AtomicFileWriter
    init(path: String) throws { file = try AtomicFileWriter(path: path) }
    func append(_ line: [UInt8]) throws { try file.write(line) }
    /// Flushes the file and returns its path for reading.
    func close() throws -> String {
        try file.finish()
        return file.temporaryPath
    }
}

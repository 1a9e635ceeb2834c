import ArchiveIO
import Dispatch
import Foundation

/// Runs one job per input on a few threads, and writes the documents the jobs emit in input
/// order: the output bytes do not depend on the thread count.
///
/// Inputs are handed out in order, so the first unfinished input always has a worker. A job may
/// emit on several channels (kept and rejected documents, say), each with an `OrderedOutput`.
enum OrderedWorkers {
    /// Calls `body(k, emit)` for every input k; `emit(channel, document)` queues a document on
    /// `outputs[channel]`. An error thrown by a job stops every worker and is rethrown here; the
    /// outputs' writers are abandoned then.
    static func run<Result>(count: Int, threads: Int, outputs: [OrderedOutput],
                            body: @escaping (Int, @escaping (Int, Document) throws -> Void) throws -> Result) throws -> [Result] {
        let state = WorkerState<Result>(count: count, outputs: outputs, body: body)
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, count))) { _ in state.work() }
        if let failure = state.failure {
            for o in outputs { o.writer.abandon() }
            throw failure
        }
        return state.results.map { $0! }
    }
}

private final class WorkerState<Result>: @unchecked Sendable {
    let count: Int
    let outputs: [OrderedOutput]
    let body: (Int, @escaping (Int, Document) throws -> Void) throws -> Result
    private let lock = NSLock()
    private var next = 0
    var results: [Result?]
    var failure: Error?

    init(count: Int, outputs: [OrderedOutput], body: @escaping (Int, @escaping (Int, Document) throws -> Void) throws -> Result) {
        self.count = count
        self.outputs = outputs
        self.body = body
        results = Array(repeating: nil, count: count)
    }

    private func take() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard failure == nil, next < count else { return nil }
        next += 1
        return next - 1
    }

    func work() {
        while let k = take() {
            var pending = Array(repeating: OrderedOutput.Pending(), count: outputs.count)
            do {
                let r = try body(k) { channel, document in
                    try self.outputs[channel].emit(k, document, pending: &pending[channel])
                }
                for (c, o) in outputs.enumerated() { try o.finish(k, pending: pending[c]) }
                lock.lock()
                results[k] = r
                lock.unlock()
            } catch {
                lock.lock()
                if failure == nil { failure = error }
                lock.unlock()
                for o in outputs { o.abort(error) }
            }
        }
    }
}

/// An output folder of a stage: created if needed, checked for writing, and cleared of this
/// task's shards and temporary files before a run (its manifest first, so that a manifest never
/// describes shards it did not write).
enum StageFolder {
    static func prepare(_ dir: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw IngestError.output("\(dir): cannot create the output folder: \(error.localizedDescription)")
        }
        guard access(dir, W_OK) == 0 else { throw IngestError.output("\(dir): the output folder is not writable") }
    }

    static func removeStale(_ dir: String, manifestName: String?, prefix: String, task: Int) throws {
        if let manifestName { unlink(dir + "/" + manifestName) }
        let mine = String(format: "%@-%05d-", prefix, task)
        let manifestTemp = manifestName.map { "." + $0 + ".tmp-" }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        for name in names where name.hasPrefix(mine) || (name.hasPrefix("." + mine) && name.contains(".tmp-"))
            || (manifestTemp.map { name.hasPrefix($0) } ?? false) {
            if unlink(dir + "/" + name) != 0 && errno != ENOENT {
                throw IngestError.output("\(dir)/\(name): cannot remove a stale output")
            }
        }
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

/// Transforms a stream of batches on a few threads and hands the results on in the batches'
/// order: the caller's `produce` submits batches one after another, `transform` runs on
/// `threads` threads of its own, and `consume` sees each result in submission order (one at a
/// time). At most `window` batches are in flight — submitted and not yet consumed — so memory
/// stays bounded whatever the input's size, and `produce` waits when the window is full. The
/// results, and so the output bytes, do not depend on the thread count. With one thread there
/// are no workers: each batch is transformed and consumed on the caller's thread as it comes.
///
/// The first error thrown by `produce`, `transform` or `consume` stops the pipeline and is
/// rethrown here.
enum OrderedPipeline {
    static func run<Batch, Output>(threads: Int, window: Int,
                                   produce: (_ submit: @escaping (Batch) throws -> Void) throws -> Void,
                                   transform: @escaping (Batch) throws -> Output,
                                   consume: @escaping (Output) throws -> Void) throws {
        // One thread means one: the batches are transformed and consumed as they are made.
        guard threads > 1 else {
            try produce { try consume(try transform($0)) }
            return
        }
        let state = PipelineState(window: max(1, window), transform: transform, consume: consume)
        let workers = (0 ..< max(1, threads)).map { _ in
            let t = Thread { state.work() }
            t.stackSize = 8 << 20
            return t
        }
        for t in workers { t.start() }
        do {
            try produce { try state.submit($0) }
            state.finishSubmitting()
        } catch {
            state.fail(error)
        }
        state.waitForWorkers(workers.count)
        if let failure = state.failure { throw failure }
    }
}

private final class PipelineState<Batch, Output>: @unchecked Sendable {
    private let window: Int
    private let transform: (Batch) throws -> Output
    private let consume: (Output) throws -> Void
    private let cond = NSCondition()
    private var queue: [(Int, Batch)] = []
    private var submitted = 0
    private var consumed = 0
    private var ready: [Int: Output] = [:]
    private var draining = false
    private var closed = false
    private var exited = 0
    private(set) var failure: Error?

    init(window: Int, transform: @escaping (Batch) throws -> Output, consume: @escaping (Output) throws -> Void) {
        self.window = window
        self.transform = transform
        self.consume = consume
    }

    func submit(_ batch: Batch) throws {
        cond.lock(); defer { cond.unlock() }
        while failure == nil && submitted - consumed >= window { cond.wait() }
        if let failure { throw failure }
        queue.append((submitted, batch))
        submitted += 1
        cond.broadcast()
    }

    func finishSubmitting() {
        cond.lock()
        closed = true
        cond.broadcast()
        cond.unlock()
    }

    func fail(_ error: Error) {
        cond.lock()
        if failure == nil { failure = error }
        closed = true
        cond.broadcast()
        cond.unlock()
    }

    /// Waits until every worker has exited: after the last batch is consumed, or after a failure.
    func waitForWorkers(_ count: Int) {
        cond.lock()
        while exited < count { cond.wait() }
        cond.unlock()
    }

    private func take() -> (Int, Batch)? {
        cond.lock(); defer { cond.unlock() }
        while failure == nil && queue.isEmpty && !closed { cond.wait() }
        guard failure == nil, !queue.isEmpty else { return nil }
        // The queue holds at most `window` batches, and a batch taken must not stay referenced.
        return queue.removeFirst()
    }

    func work() {
        while let (seq, batch) = take() {
            do {
                let out = try transform(batch)
                try deliver(seq, out)
            } catch {
                fail(error)
            }
        }
        cond.lock()
        exited += 1
        cond.broadcast()
        cond.unlock()
    }

    /// Stores a result; the thread that finds the next one in order ready consumes every result
    /// that is ready in turn, outside the lock, while the others go on transforming.
    private func deliver(_ seq: Int, _ out: Output) throws {
        cond.lock()
        ready[seq] = out
        guard !draining else { cond.unlock(); return }
        draining = true
        defer { draining = false; cond.broadcast(); cond.unlock() }
        while failure == nil, let next = ready.removeValue(forKey: consumed) {
            cond.unlock()
            do { try consume(next) } catch { cond.lock(); throw error }
            cond.lock()
            consumed += 1
            cond.broadcast()
        }
    }
}

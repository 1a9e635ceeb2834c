import ArchiveIO
import Crypto
import Foundation

/// Writes JSONL records into shards `<prefix>-<task>-<n><ext>`, each under a temporary name until
/// it is complete, closing a shard once it holds `shardSize` bytes of JSONL.
final class ShardWriter {
    private let directory: String
    private let prefix: String
    private let task: Int
    private let compression: ShardCompression
    private let level: Int32
    private let shardSize: Int64

    private var file: AtomicFileWriter?
    private var sink: ByteSink?
    private var hasher = HashBox()
    private var documents = 0
    private var uncompressed: Int64 = 0
    private(set) var outputs: [OutputRecord] = []

    init(directory: String, prefix: String, task: Int, compression: ShardCompression,
         level: Int32, shardSize: Int64) {
        self.directory = directory
        self.prefix = prefix
        self.task = task
        self.compression = compression
        self.level = level
        self.shardSize = shardSize
    }

    static func shardName(prefix: String, task: Int, index: Int, compression: ShardCompression) -> String {
        String(format: "%@-%05d-%05d", prefix, task, index) + compression.fileExtension
    }

    func write(_ record: [UInt8]) throws {
        if sink != nil && uncompressed > 0 && uncompressed + Int64(record.count) > shardSize {
            try closeShard()
        }
        if sink == nil { try openShard() }
        try sink!.write(record)
        uncompressed += Int64(record.count)
        documents += 1
    }

    private func openShard() throws {
        let name = Self.shardName(prefix: prefix, task: task, index: outputs.count, compression: compression)
        let f = try AtomicFileWriter(path: directory + "/" + name)
        let box = HashBox()
        hasher = box
        f.observer = { box.update($0) }
        file = f
        switch compression {
        // One zstd worker: JSON encoding (this thread) and compression overlap, which is what
        // lets two reading threads plus the writer fill two cores.
        case .zstd: sink = try ZstdEncoder(f, level: level, workers: 1)
        case .gz: sink = try GzipEncoder(f, level: level > 9 ? 9 : max(level, 1))
        case .none: sink = f
        }
        documents = 0
        uncompressed = 0
    }

    private func closeShard() throws {
        guard let f = file, let s = sink else { return }
        try s.finish()
        let size = f.bytesWritten
        try f.commit()
        outputs.append(OutputRecord(path: String(f.path.split(separator: "/").last ?? ""),
                                    documents: documents, bytes: size,
                                    uncompressedBytes: uncompressed, sha256: hasher.hex()))
        file = nil
        sink = nil
    }

    /// Closes the last shard and returns every shard written.
/// Drops the shard being written: its temporary file goes with its writer. After an error,
    /// so that a failed run leaves no `.NAME.tmp-PID` behind even if the process exits at once.
    func discard() {
        sink = nil
        file = nil
    }

        func finish() throws -> [OutputRecord] {
        try closeShard()
        return outputs
    }
}

/// An incremental SHA-256 that a closure can feed.
final class HashBox {
    private var h = SHA256()
    func update(_ bytes: UnsafeRawBufferPointer) { h.update(bufferPointer: bytes) }
    func digest() -> [UInt8] { Array(h.finalize()) }
    func hex() -> String { digest().map { String(format: "%02x", $0) }.joined() }
}

/// SHA-256 of a file, in hex.
func sha256(ofFile path: String) throws -> String {
    try hashing(file: path).hex()
}

/// SHA-256 of a file.
func sha256Bytes(ofFile path: String) throws -> [UInt8] {
    try hashing(file: path).digest()
}

private func hashing(file path: String) throws -> HashBox {
    let src = try FileSource(path: path)
    let box = HashBox()
    let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buf.deallocate() }
    while true {
        let n = try src.read(into: buf)
        if n == 0 { break }
        box.update(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
    }
    return box
}

/// A `ShardWriter` on a thread of its own: documents are handed over in batches, and their
/// serialisation, compression, hashing and writing overlap with reading. The order of the records is kept, so the bytes are
/// the same as with a plain `ShardWriter`. At most `maxQueued` batches wait, so memory stays
/// bounded when the disk or the compressor is the slower side.
final class BackgroundShardWriter: @unchecked Sendable {
    private let writer: ShardWriter
    private let cond = NSCondition()
    private enum Item {
        case documents([Document])
        case spill(SpillFile)
    }
    private var queue: [Item] = []
    private var batch: [Document] = []
    private var batchBytes = 0
    private var closed = false
    private var done = false
    private var failure: Error?
    private var thread: Thread?

    static let batchBytesLimit = 1 << 20
    static let maxQueued = 16

    init(_ writer: ShardWriter) {
        self.writer = writer
        let t = Thread { [unowned self] in self.drain() }
        t.name = "kiln-shard-writer"
        thread = t
        t.start()
    }

    func write(_ document: Document) throws {
        batch.append(document)
        batchBytes += document.text.utf8.count + 256
        if batchBytes >= Self.batchBytesLimit { try handOver() }
    }

    /// Queues a spill file's lines, after everything written so far.
    func write(spill: SpillFile) throws {
        try handOver()
        cond.lock(); defer { cond.unlock() }
        while queue.count >= Self.maxQueued && failure == nil { cond.wait() }
        if let f = failure { throw f }
        queue.append(.spill(spill))
        cond.broadcast()
    }

    private func handOver() throws {
        guard !batch.isEmpty else { return }
        cond.lock(); defer { cond.unlock() }
        while queue.count >= Self.maxQueued && failure == nil { cond.wait() }
        if let f = failure { throw f }
        queue.append(.documents(batch))
        batch = []
        batchBytes = 0
        cond.broadcast()
    }

    private func drain() {
        while true {
            cond.lock()
            while queue.isEmpty && !closed { cond.wait() }
            if queue.isEmpty && closed {
                done = true
                cond.broadcast()
                cond.unlock()
                return
            }
            let next = queue.removeFirst()
            cond.broadcast()
            cond.unlock()
            if failure != nil { continue }
            do {
                switch next {
                case let .documents(docs):
                    for d in docs { try writer.write(d.jsonLine()) }
                case let .spill(file):
                    let reader = BufferedReader(try FileSource(path: try file.close()))
                    while let line = try reader.readLine(maxLength: Int.max) {
                        guard case var .line(bytes) = line else { continue }
                        bytes.append(0x0A)
                        try writer.write(bytes)
                    }
                }
            } catch {
                cond.lock()
                failure = error
                cond.broadcast()
                cond.unlock()
            }
        }
    }

    /// Writes what is left, stops the thread and returns every shard written.
    func finish() throws -> [OutputRecord] {
        try handOver()
        cond.lock()
        closed = true
        cond.broadcast()
        while !done { cond.wait() }
        let f = failure
        cond.unlock()
        if let f { writer.discard(); throw f }
        return try writer.finish()
    }

    /// Stops the thread after an error elsewhere; nothing more is written.
    func abandon() {
        cond.lock()
        if failure == nil { failure = CancellationError() }
        queue.removeAll()
        closed = true
        cond.broadcast()
        while !done { cond.wait() }
        cond.unlock()
        writer.discard()
    }
}

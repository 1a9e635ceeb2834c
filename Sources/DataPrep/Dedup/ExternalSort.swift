#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One record of the dedup sorts, ordered by (k0, k1, doc).
///
/// Band records hold (band index, band hash, document); exact records hold the 128-bit exact
/// key (h1, h2) and the document. Sorting puts equal keys next to each other in document order,
/// so the first of each group is the document that comes first in the input, whatever order the
/// records were added in and however the input was split into runs or tasks.
public struct DedupRecord: Comparable, Hashable, Sendable {
    public var k0: UInt64
    public var k1: UInt64
    public var doc: UInt64

    public init(k0: UInt64, k1: UInt64, doc: UInt64) {
        self.k0 = k0
        self.k1 = k1
        self.doc = doc
    }

    @inline(__always)
    public static func < (x: DedupRecord, y: DedupRecord) -> Bool {
        if x.k0 != y.k0 { return x.k0 < y.k0 }
        if x.k1 != y.k1 { return x.k1 < y.k1 }
        return x.doc < y.doc
    }

    /// Same key, any document.
    @inline(__always)
    func sameKey(_ y: DedupRecord) -> Bool { k0 == y.k0 && k1 == y.k1 }

    var byteSwapped: DedupRecord { DedupRecord(k0: k0.byteSwapped, k1: k1.byteSwapped, doc: doc.byteSwapped) }
}

/// A sorted run of records on disk.
///
/// Layout (little-endian):
///
///     offset  size  field
///          0     8  magic "KILNRUN\0"
///          8     4  version = 1
///         12     4  kind: 1 = band records, 2 = exact records, 0 = other
///         16     8  count: records that follow (2^64 − 1 while the file is being written)
///         24     8  reserved, 0
///         32  24·n  records: k0 u64, k1 u64, doc u64, in ascending (k0, k1, doc) order
///
/// The file size must be exactly 32 + 24 · count; a reader checks it and the order.
public enum RunFile {
    public static let magic = "KILNRUN\u{0}"
    public static let version: UInt32 = 1
    public static let headerSize = 32
    public static let recordSize = 24
    public static let bandKind: UInt32 = 1
    public static let exactKind: UInt32 = 2
    /// The count a header holds until the file is complete.
    static let unfinished = UInt64.max

    static func header(kind: UInt32, count: UInt64) -> [UInt8] {
        var h = DedupHeaderBytes(magic: magic)
        h.append(version)
        h.append(kind)
        h.append(count)
        h.pad(to: headerSize)
        return h.bytes
    }

    /// Writes an already sorted run in one go.
    static func write(_ records: UnsafeBufferPointer<DedupRecord>, kind: UInt32, to path: String) throws {
        let w = try Writer(path: path, kind: kind, bufferRecords: 0)
        try w.append(records)
        try w.finish()
    }

    /// Appends records to a run file; `finish` writes the count into the header.
    final class Writer {
        let path: String
        let kind: UInt32
        private var fd: Int32
        private var buffer: [DedupRecord] = []
        private let bufferRecords: Int
        private(set) var count: UInt64 = 0
        private var last: DedupRecord?

        init(path: String, kind: UInt32, bufferRecords: Int = 8192) throws {
            self.path = path
            self.kind = kind
            self.bufferRecords = bufferRecords
            fd = try DedupIO.create(path)
            // The count stays `unfinished` until `finish`: such a run is refused.
            try header(kind: kind, count: unfinished).withUnsafeBytes { try DedupIO.writeAll(fd, $0, path: path) }
            buffer.reserveCapacity(bufferRecords)
        }

        deinit {
            if fd >= 0 { close(fd) }
        }

        func append(_ r: DedupRecord) throws {
            buffer.append(r)
            if buffer.count >= bufferRecords { try flush() }
        }

        func append(_ records: UnsafeBufferPointer<DedupRecord>) throws {
            try flush()
            try writeRecords(records)
        }

        private func flush() throws {
            guard !buffer.isEmpty else { return }
            try buffer.withUnsafeBufferPointer { try writeRecords($0) }
            buffer.removeAll(keepingCapacity: true)
        }

        private func writeRecords(_ records: UnsafeBufferPointer<DedupRecord>) throws {
            guard let first = records.first else { return }
            precondition(last.map { !(first < $0) } ?? true, "run records out of order")
            last = records.last
            count += UInt64(records.count)
            if DedupIO.isLittleEndian {
                try DedupIO.writeAll(fd, UnsafeRawBufferPointer(records), path: path)
            } else {
                let swapped = records.map(\.byteSwapped)
                try swapped.withUnsafeBytes { try DedupIO.writeAll(fd, $0, path: path) }
            }
        }

        func finish() throws {
            try flush()
            try header(kind: kind, count: count).withUnsafeBytes {
                try DedupIO.pwriteAll(fd, $0, at: 0, path: path)
            }
            let rc = close(fd)
            fd = -1
            if rc != 0 { throw DedupError.io(path: path, operation: "close", errno: errno) }
        }
    }

    /// Reads a run from start to end through a buffer, checking the header, the size and the
    /// order of the records.
    final class Reader {
        let path: String
        private(set) var count: UInt64
        private let fd: Int32
        private var buffer: [DedupRecord]
        private var position = 0
        private var filled = 0
        private var remaining: UInt64
        private var last: DedupRecord?

        init(path: String, kind: UInt32, bufferRecords: Int) throws {
            self.path = path
            let fd = try DedupIO.openRead(path)
            self.fd = fd
            buffer = []
            count = 0
            remaining = 0
            var h = DedupHeaderBytes(reading: try DedupIO.readHeader(fd, size: headerSize, path: path))
            guard h.expectMagic(magic) else { throw DedupError.corrupt(path: path, message: "not a dedup run file (bad magic)") }
            let v = h.u32()
            guard v == version else { throw DedupError.corrupt(path: path, message: "run file version \(v), expected \(version)") }
            let k = h.u32()
            guard k == kind else { throw DedupError.corrupt(path: path, message: "run of kind \(k), expected \(kind)") }
            count = h.u64()
            guard count != unfinished else { throw DedupError.corrupt(path: path, message: "an unfinished run (its writer did not finish)") }
            let size = try DedupIO.size(fd, path: path)
            let (records, overflow) = count.multipliedReportingOverflow(by: UInt64(recordSize))
            guard !overflow, UInt64(size) == UInt64(headerSize) + records else {
                throw DedupError.corrupt(path: path, message: "size \(size) does not match \(count) records (an unfinished or truncated run)")
            }
            guard lseek(fd, off_t(headerSize), SEEK_SET) == off_t(headerSize) else {
                throw DedupError.io(path: path, operation: "seek", errno: errno)
            }
            remaining = count
            buffer = [DedupRecord](repeating: DedupRecord(k0: 0, k1: 0, doc: 0), count: max(1, bufferRecords))
        }

        deinit { close(fd) }

        func next() throws -> DedupRecord? {
            if position == filled {
                guard remaining > 0 else { return nil }
                let want = Int(min(UInt64(buffer.count), remaining))
                let got = try buffer.withUnsafeMutableBytes { raw in
                    try DedupIO.readSome(fd, UnsafeMutableRawBufferPointer(rebasing: raw[0..<(want * recordSize)]), path: path)
                }
                guard got == want * recordSize else {
                    throw DedupError.corrupt(path: path, message: "the run ends before its \(count) records")
                }
                if !DedupIO.isLittleEndian {
                    for i in 0..<want { buffer[i] = buffer[i].byteSwapped }
                }
                remaining -= UInt64(want)
                filled = want
                position = 0
            }
            let r = buffer[position]
            position += 1
            if let last, r < last {
                throw DedupError.corrupt(path: path, message: "records out of order")
            }
            last = r
            return r
        }
    }
}

/// Sorts more records than fit in memory: `add` buffers up to `memoryBudget` bytes, then sorts
/// the buffer and writes it as a run (`prefix-00000.run`, …) into `directory`. `finish` writes
/// the last run and returns all run paths; `RunMerger` reads them back as one sorted stream.
public final class ExternalSorter {
    public let directory: String
    public let prefix: String
    public let kind: UInt32
    /// Records held before a run is written: memoryBudget / 24, at least 1.
    public let capacity: Int
    public private(set) var runs: [String] = []
    public private(set) var count: UInt64 = 0
    private var buffer: [DedupRecord] = []

    public init(directory: String, prefix: String, kind: UInt32, memoryBudget: Int) {
        self.directory = directory
        self.prefix = prefix
        self.kind = kind
        capacity = max(1, memoryBudget / MemoryLayout<DedupRecord>.stride)
        buffer.reserveCapacity(min(capacity, 1 << 20))
    }

    public func add(_ r: DedupRecord) throws {
        buffer.append(r)
        count += 1
        if buffer.count >= capacity { try spill() }
    }

    private func spill() throws {
        guard !buffer.isEmpty else { return }
        buffer.sort()
        let path = "\(directory)/\(prefix)-\(Self.zeroPadded(runs.count)).run"
        try buffer.withUnsafeBufferPointer { try RunFile.write($0, kind: kind, to: path) }
        runs.append(path)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes the last run; returns the paths of all runs, in the order they were written.
    public func finish() throws -> [String] {
        try spill()
        buffer = []
        return runs
    }

    static func zeroPadded(_ n: Int) -> String {
        let s = String(n)
        return s.count >= 5 ? s : String(repeating: "0", count: 5 - s.count) + s
    }
}

/// Merges sorted runs into one sorted stream with a binary heap. When there are more runs than
/// `fanIn` (open files are limited), groups of `fanIn` runs are first merged into intermediate
/// runs in a private folder under `tempDirectory`, pass after pass; those are removed as soon as
/// they are read, and the folder when the merger goes away. The input runs are left alone.
public final class RunMerger {
    private var readers: [RunFile.Reader] = []
    /// Heap of (record, reader index); ties broken by reader index so the stream is stable.
    private var heap: [(DedupRecord, Int)] = []
    private var scratch: String?
    private var intermediates: [String] = []
    public let total: UInt64

    public init(paths: [String], kind: UInt32, tempDirectory: String, memoryBudget: Int, fanIn: Int = 64) throws {
        precondition(fanIn >= 2)
        var paths = paths
        var pass = 0
        while paths.count > fanIn {
            let dir: String
            if let s = scratch { dir = s } else {
                dir = try DedupIO.makeTemporaryDirectory(in: tempDirectory, label: "merge")
                scratch = dir
            }
            var next: [String] = []
            for (g, start) in stride(from: 0, to: paths.count, by: fanIn).enumerated() {
                let group = Array(paths[start..<min(start + fanIn, paths.count)])
                let out = "\(dir)/pass\(pass)-\(ExternalSorter.zeroPadded(g)).run"
                let inner = try RunMerger(paths: group, kind: kind, tempDirectory: tempDirectory,
                                          memoryBudget: memoryBudget, fanIn: fanIn)
                let w = try RunFile.Writer(path: out, kind: kind)
                while let r = try inner.next() { try w.append(r) }
                try w.finish()
                next.append(out)
            }
            for p in paths where intermediates.contains(p) { DedupIO.remove(p) }
            intermediates = next
            paths = next
            pass += 1
        }
        let perReader = max(256, min(1 << 16, memoryBudget / RunFile.recordSize / max(1, paths.count)))
        var total: UInt64 = 0
        for p in paths {
            let r = try RunFile.Reader(path: p, kind: kind, bufferRecords: perReader)
            total += r.count
            readers.append(r)
        }
        self.total = total
        for (i, r) in readers.enumerated() {
            if let rec = try r.next() { push((rec, i)) }
        }
    }

    deinit {
        readers = []
        for p in intermediates { DedupIO.remove(p) }
        if let scratch { DedupIO.removeDirectory(scratch) }
    }

    /// The next record in (k0, k1, doc) order, or nil at the end.
    public func next() throws -> DedupRecord? {
        guard let (top, source) = heap.first else { return nil }
        if let rec = try readers[source].next() {
            heap[0] = (rec, source)
            siftDown(0)
        } else {
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                siftDown(0)
            }
        }
        return top
    }

    @inline(__always)
    private static func less(_ x: (DedupRecord, Int), _ y: (DedupRecord, Int)) -> Bool {
        x.0 < y.0 || (x.0 == y.0 && x.1 < y.1)
    }

    private func push(_ e: (DedupRecord, Int)) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.less(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private func siftDown(_ start: Int) {
        var i = start
        let n = heap.count
        while true {
            let l = 2 * i + 1
            guard l < n else { return }
            var m = l
            if l + 1 < n && Self.less(heap[l + 1], heap[l]) { m = l + 1 }
            guard Self.less(heap[m], heap[i]) else { return }
            heap.swapAt(i, m)
            i = m
        }
    }
}

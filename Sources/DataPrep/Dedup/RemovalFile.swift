#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum DedupReason: String, Codable, Sendable {
    /// The normalized text equals the kept document's.
    case exact
    /// The kept document's cluster was joined by MinHash candidates confirmed by Jaccard.
    case near
}

/// One document that dedup removes, and the document of its cluster that stays.
public struct DedupRemoval: Equatable, Sendable {
    public var doc: UInt64
    /// The first document of the cluster in input order, which is kept.
    public var kept: UInt64
    public var reason: DedupReason
    /// Estimated Jaccard similarity between `doc` and `kept` (fraction of equal signature slots;
    /// 1 for exact duplicates).
    public var jaccard: Double

    public init(doc: UInt64, kept: UInt64, reason: DedupReason, jaccard: Double) {
        self.doc = doc
        self.kept = kept
        self.reason = reason
        self.jaccard = jaccard
    }
}

/// The cluster step's output: the removed documents in ascending order, for the filter step
/// of each task to read its own range from.
///
/// Layout (little-endian):
///
///     offset  size  field
///          0     8  magic "KILNRMV\0"
///          8     4  version = 1
///         12     4  record size = 24
///         16     8  count: records that follow (2^64 − 1 while the file is being written)
///         24     8  documents: all documents of the run (kept and removed)
///         32  24·n  records: doc u64, kept u64, jaccard f32, reason u32 (1 exact, 2 near),
///                   in ascending doc order
public enum RemovalFile {
    public static let magic = "KILNRMV\u{0}"
    public static let version: UInt32 = 1
    public static let headerSize = 32
    public static let recordSize = 24

    static func header(count: UInt64, documents: UInt64) -> [UInt8] {
        var h = DedupHeaderBytes(magic: magic)
        h.append(version)
        h.append(UInt32(recordSize))
        h.append(count)
        h.append(documents)
        h.pad(to: headerSize)
        return h.bytes
    }

    /// Appends removals in ascending doc order; `finish` writes the count.
    final class Writer {
        let path: String
        let documents: UInt64
        private var fd: Int32
        private var buffer: [UInt8] = []
        private(set) var count: UInt64 = 0
        private var lastDoc: UInt64?

        init(path: String, documents: UInt64) throws {
            self.path = path
            self.documents = documents
            fd = try DedupIO.create(path)
            try header(count: RunFile.unfinished, documents: documents).withUnsafeBytes { try DedupIO.writeAll(fd, $0, path: path) }
            buffer.reserveCapacity(1 << 16)
        }

        deinit {
            if fd >= 0 { close(fd) }
        }

        func append(_ r: DedupRemoval) throws {
            precondition(lastDoc.map { $0 < r.doc } ?? true, "removals out of order")
            lastDoc = r.doc
            DedupIO.appendLE(r.doc, to: &buffer)
            DedupIO.appendLE(r.kept, to: &buffer)
            DedupIO.appendLE(Float(r.jaccard).bitPattern, to: &buffer)
            DedupIO.appendLE(r.reason == .exact ? UInt32(1) : 2, to: &buffer)
            count += 1
            if buffer.count >= 1 << 16 { try flush() }
        }

        private func flush() throws {
            try buffer.withUnsafeBytes { try DedupIO.writeAll(fd, $0, path: path) }
            buffer.removeAll(keepingCapacity: true)
        }

        func finish() throws {
            try flush()
            try header(count: count, documents: documents).withUnsafeBytes {
                try DedupIO.pwriteAll(fd, $0, at: 0, path: path)
            }
            let rc = close(fd)
            fd = -1
            if rc != 0 { throw DedupError.io(path: path, operation: "close", errno: errno) }
        }
    }

    /// Reads a removal file in order, from the start or from any document on (a filter task
    /// seeks to its own first document and stops past its last).
    public final class Reader {
        public let path: String
        /// Records in the file.
        public private(set) var count: UInt64 = 0
        /// Documents of the whole run.
        public private(set) var documents: UInt64 = 0
        private let fd: Int32
        private var index: UInt64 = 0
        private var buffer: [UInt8] = []
        private var position = 0
        private var lastDoc: UInt64?

        public init(path: String) throws {
            self.path = path
            fd = try DedupIO.openRead(path)
            var h = DedupHeaderBytes(reading: try DedupIO.readHeader(fd, size: headerSize, path: path))
            guard h.expectMagic(magic) else { throw DedupError.corrupt(path: path, message: "not a dedup removal file (bad magic)") }
            let v = h.u32()
            guard v == version else { throw DedupError.corrupt(path: path, message: "removal file version \(v), expected \(version)") }
            let size = h.u32()
            guard size == UInt32(recordSize) else { throw DedupError.corrupt(path: path, message: "record size \(size), expected \(recordSize)") }
            count = h.u64()
            documents = h.u64()
            guard count != RunFile.unfinished else { throw DedupError.corrupt(path: path, message: "an unfinished removal file") }
            let fileSize = try DedupIO.size(fd, path: path)
            let (bytes, overflow) = count.multipliedReportingOverflow(by: UInt64(recordSize))
            guard !overflow, UInt64(fileSize) == UInt64(headerSize) + bytes else {
                throw DedupError.corrupt(path: path, message: "size \(fileSize) does not match \(count) records (an unfinished or truncated file)")
            }
        }

        deinit { close(fd) }

        private func docAt(_ i: UInt64) throws -> UInt64 {
            var v: UInt64 = 0
            try withUnsafeMutableBytes(of: &v) {
                try DedupIO.preadAll(fd, $0, at: Int64(headerSize) + Int64(i) * Int64(recordSize), path: path)
            }
            return UInt64(littleEndian: v)
        }

        /// Positions the reader at the first removal whose doc is at least `doc`.
        public func seek(toDoc doc: UInt64) throws {
            var lo: UInt64 = 0
            var hi = count
            while lo < hi {
                let mid = lo + (hi - lo) / 2
                if try docAt(mid) < doc { lo = mid + 1 } else { hi = mid }
            }
            index = lo
            buffer = []
            position = 0
            lastDoc = nil
        }

        /// The next removal, or nil at the end of the file.
        public func next() throws -> DedupRemoval? {
            if position == buffer.count {
                guard index < count else { return nil }
                let n = Int(min(count - index, 4096))
                buffer = [UInt8](repeating: 0, count: n * recordSize)
                try buffer.withUnsafeMutableBytes {
                    try DedupIO.preadAll(fd, $0, at: Int64(headerSize) + Int64(index) * Int64(recordSize), path: path)
                }
                index += UInt64(n)
                position = 0
            }
            let (doc, kept, jaccard, code) = buffer.withUnsafeBytes { b in
                (DedupIO.loadLE64(b, at: position), DedupIO.loadLE64(b, at: position + 8),
                 Float(bitPattern: DedupIO.loadLE32(b, at: position + 16)), DedupIO.loadLE32(b, at: position + 20))
            }
            position += recordSize
            guard code == 1 || code == 2 else { throw DedupError.corrupt(path: path, message: "unknown reason code \(code) for document \(doc)") }
            guard kept < doc, doc < documents, lastDoc.map({ $0 < doc }) ?? true else {
                throw DedupError.corrupt(path: path, message: "bad record for document \(doc) (kept \(kept), of \(documents) documents)")
            }
            lastDoc = doc
            return DedupRemoval(doc: doc, kept: kept, reason: code == 1 ? .exact : .near, jaccard: Double(jaccard))
        }
    }

    /// All removals of a file.
    public static func read(_ path: String) throws -> [DedupRemoval] {
        let r = try Reader(path: path)
        var out: [DedupRemoval] = []
        out.reserveCapacity(Int(r.count))
        while let x = try r.next() { out.append(x) }
        return out
    }
}

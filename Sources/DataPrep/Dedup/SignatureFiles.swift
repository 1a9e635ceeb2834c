#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The files one signature task leaves in its folder, for the cluster step:
///
///     signatures.bin      header + one signature per document (below)
///     bands-00000.run …   band records (band, band hash, doc), sorted runs (`RunFile`, kind 1)
///     exact-00000.run …   exact records (h1, h2, doc), sorted runs (`RunFile`, kind 2)
///
/// `signatures.bin` (little-endian):
///
///     offset  size  field
///          0     8  magic "KILNSIG\0"
///          8     4  version = 1 (changes whenever the normalization or hashing does)
///         12     4  P: signature slots per document (num_permutations; 0 when near is off)
///         16     4  bands
///         20     4  rows
///         24     4  ngram
///         28     4  flags: bit 0 exact dedup on, bit 1 near dedup on
///         32     8  seed
///         40     8  base: the first document's number
///         48     8  count: documents (2^64 − 1 until the task finishes)
///         56     4  band runs
///         60     4  exact runs
///         64  4·P·n signatures: document base + i at 64 + 4·P·i, P × u32
///
/// The count is written last and the size must be exactly 64 + 4·P·count, so an unfinished or
/// truncated task is refused. Document numbers are global: a task numbers its documents from
/// the base the caller gives it, and the tasks of one run must cover 0..<N without gaps or
/// overlaps.
public struct DedupTaskFolder: Equatable, Sendable {
    public static let signatureFile = "signatures.bin"
    public static let magic = "KILNSIG\u{0}"
    public static let version: UInt32 = 1
    public static let headerSize = 64

    public var path: String
    public var permutations: Int
    public var bands: Int
    public var rows: Int
    public var ngram: Int
    public var exact: Bool
    public var near: Bool
    public var seed: UInt64
    public var baseDoc: UInt64
    public var count: UInt64
    public var bandRunCount: Int
    public var exactRunCount: Int

    public var signaturePath: String { path + "/" + Self.signatureFile }
    public var bandRuns: [String] { (0..<bandRunCount).map { "\(path)/bands-\(ExternalSorter.zeroPadded($0)).run" } }
    public var exactRuns: [String] { (0..<exactRunCount).map { "\(path)/exact-\(ExternalSorter.zeroPadded($0)).run" } }

    /// Reads and checks the header of a finished task folder.
    public static func open(_ path: String) throws -> DedupTaskFolder {
        let file = path + "/" + signatureFile
        let fd = try DedupIO.openRead(file)
        defer { close(fd) }
        var h = DedupHeaderBytes(reading: try DedupIO.readHeader(fd, size: headerSize, path: file))
        guard h.expectMagic(magic) else { throw DedupError.corrupt(path: file, message: "not a dedup signature file (bad magic)") }
        let v = h.u32()
        guard v == version else {
            throw DedupError.corrupt(path: file, message: "signature file version \(v), expected \(version): compute the signatures again")
        }
        let p = Int(h.u32())
        let bands = Int(h.u32())
        let rows = Int(h.u32())
        let ngram = Int(h.u32())
        let flags = h.u32()
        let seed = h.u64()
        let base = h.u64()
        let count = h.u64()
        let bandRuns = Int(h.u32())
        let exactRuns = Int(h.u32())
        guard count != RunFile.unfinished else {
            throw DedupError.corrupt(path: file, message: "an unfinished task (its signature step did not finish)")
        }
        let size = try DedupIO.size(fd, path: file)
        let (bytes, overflow) = count.multipliedReportingOverflow(by: UInt64(4 * p))
        guard !overflow, UInt64(size) == UInt64(headerSize) + bytes else {
            throw DedupError.corrupt(path: file, message: "size \(size) does not match \(count) signatures of \(p) slots (an unfinished or truncated task)")
        }
        return DedupTaskFolder(path: path, permutations: p, bands: bands, rows: rows, ngram: ngram,
                               exact: flags & 1 != 0, near: flags & 2 != 0, seed: seed, baseDoc: base,
                               count: count, bandRunCount: bandRuns, exactRunCount: exactRuns)
    }

    /// Whether signatures of this folder can be clustered with `options`.
    func matches(_ options: MinHashOptions) -> Bool {
        permutations == (options.near ? options.numPermutations : 0) && bands == options.bands
            && rows == options.rows && ngram == options.ngram && seed == options.seed
            && exact == options.exact && near == options.near
    }

    /// Deletes the task's files, and the folder when nothing else is in it.
    public func remove() {
        for p in bandRuns + exactRuns + [signaturePath] { DedupIO.remove(p) }
        DedupIO.removeDirectory(path)
    }
}

/// Step one of dedup, for one task: computes each document's sketch and writes the task's
/// folder (`DedupTaskFolder`). Documents get the numbers base, base + 1, … in the order they
/// are added. Memory: `memoryBudget` bytes of band and exact records before a sorted run is
/// written, plus a 256 KiB signature buffer.
public final class SignatureWriter {
    public let folder: String
    public let options: MinHashOptions
    public let baseDoc: UInt64
    public private(set) var count: UInt64 = 0
    public var nextDoc: UInt64 { baseDoc + count }

    let hasher: MinHasher
    private let workspace = MinHasher.Workspace()
    private let bandSorter: ExternalSorter?
    private let exactSorter: ExternalSorter?
    private let signaturePath: String
    private var fd: Int32
    private var pending: [UInt32] = []
    private var finished = false

    public init(folder: String, options: MinHashOptions, baseDoc: UInt64 = 0, memoryBudget: Int) throws {
        try options.validate()
        hasher = try MinHasher(options)
        self.folder = folder
        self.options = options
        self.baseDoc = baseDoc
        try DedupIO.makeDirectory(folder)
        // Band records outnumber exact ones bands to one: share the budget in that ratio.
        let share = max(1, memoryBudget / (options.bands + 1))
        bandSorter = options.near
            ? ExternalSorter(directory: folder, prefix: "bands", kind: RunFile.bandKind,
                             memoryBudget: options.exact ? memoryBudget - share : memoryBudget)
            : nil
        exactSorter = options.exact
            ? ExternalSorter(directory: folder, prefix: "exact", kind: RunFile.exactKind,
                             memoryBudget: options.near ? share : memoryBudget)
            : nil
        signaturePath = folder + "/" + DedupTaskFolder.signatureFile
        fd = try DedupIO.create(signaturePath)
        pending.reserveCapacity(1 << 16)
        // The count stays `unfinished` until `finish`.
        try header(count: RunFile.unfinished, bandRuns: 0, exactRuns: 0).withUnsafeBytes {
            try DedupIO.writeAll(fd, $0, path: signaturePath)
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    private func header(count: UInt64, bandRuns: Int, exactRuns: Int) -> [UInt8] {
        var h = DedupHeaderBytes(magic: DedupTaskFolder.magic)
        h.append(DedupTaskFolder.version)
        h.append(UInt32(options.near ? options.numPermutations : 0))
        h.append(UInt32(options.bands))
        h.append(UInt32(options.rows))
        h.append(UInt32(options.ngram))
        h.append(UInt32((options.exact ? 1 : 0) | (options.near ? 2 : 0)))
        h.append(options.seed)
        h.append(baseDoc)
        h.append(count)
        h.append(UInt32(bandRuns))
        h.append(UInt32(exactRuns))
        h.pad(to: DedupTaskFolder.headerSize)
        return h.bytes
    }

    /// Sketches `text` and adds it; returns its document number.
    @discardableResult
    public func add(text: String) throws -> UInt64 {
        try add(hasher.sketch(of: text, workspace: workspace))
    }

    /// Adds a sketch computed elsewhere (on another thread, with the same options).
    @discardableResult
    public func add(_ sketch: DedupSketch) throws -> UInt64 {
        precondition(!finished, "SignatureWriter.add after finish")
        let doc = baseDoc + count
        if let exactSorter {
            try exactSorter.add(DedupRecord(k0: sketch.exactKey.h1, k1: sketch.exactKey.h2, doc: doc))
        }
        if let bandSorter {
            guard sketch.signature.count == options.numPermutations else {
                throw DedupError.invalid("a sketch with \(sketch.signature.count) slots, expected \(options.numPermutations)")
            }
            if sketch.shingles > 0 {
                for band in 0..<options.bands {
                    try bandSorter.add(DedupRecord(k0: UInt64(band), k1: hasher.bandHash(sketch.signature, band: band), doc: doc))
                }
            }
            pending.append(contentsOf: sketch.signature)
            if pending.count >= 1 << 16 { try flush() }
        }
        count += 1
        return doc
    }

    private func flush() throws {
        guard !pending.isEmpty else { return }
        if !DedupIO.isLittleEndian {
            for i in pending.indices { pending[i] = pending[i].littleEndian }
        }
        try pending.withUnsafeBytes { try DedupIO.writeAll(fd, $0, path: signaturePath) }
        pending.removeAll(keepingCapacity: true)
    }

    /// Writes the last runs and the header; returns the finished folder.
    public func finish() throws -> DedupTaskFolder {
        precondition(!finished, "SignatureWriter.finish called twice")
        finished = true
        try flush()
        let bandRuns = try bandSorter?.finish().count ?? 0
        let exactRuns = try exactSorter?.finish().count ?? 0
        try header(count: count, bandRuns: bandRuns, exactRuns: exactRuns).withUnsafeBytes {
            try DedupIO.pwriteAll(fd, $0, at: 0, path: signaturePath)
        }
        let rc = close(fd)
        fd = -1
        if rc != 0 { throw DedupError.io(path: signaturePath, operation: "close", errno: errno) }
        return try DedupTaskFolder.open(folder)
    }

    /// Removes every file the writer wrote, and its folder when that is left empty (finished
    /// or not).
    public func discard() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        for p in (bandSorter?.runs ?? []) + (exactSorter?.runs ?? []) { DedupIO.remove(p) }
        DedupIO.remove(signaturePath)
        DedupIO.removeDirectory(folder)
    }
}

/// Reads any document's signature from the tasks' signature files with `pread`, so the cluster
/// step holds no signatures in memory.
final class SignatureStore {
    let tasks: [DedupTaskFolder]
    let permutations: Int
    let documents: UInt64
    private var fds: [Int32] = []
    private var bases: [UInt64]

    /// `tasks` in any order; together they must number documents 0..<N without gaps or overlaps.
    init(tasks: [DedupTaskFolder]) throws {
        let sorted = tasks.sorted { ($0.baseDoc, $0.path) < ($1.baseDoc, $1.path) }
        var next: UInt64 = 0
        for t in sorted {
            guard t.baseDoc == next else {
                let what = t.baseDoc < next ? "overlap" : "leave a gap"
                throw DedupError.invalid("task folders \(what) at document \(min(next, t.baseDoc)): \(t.path) starts at \(t.baseDoc), expected \(next)")
            }
            next += t.count
        }
        self.tasks = sorted
        bases = sorted.map(\.baseDoc)
        documents = next
        permutations = sorted.first?.permutations ?? 0
        for t in sorted { fds.append(try DedupIO.openRead(t.signaturePath)) }
    }

    deinit {
        for fd in fds { close(fd) }
    }

    /// The task that holds `doc`: the last one whose base is at most `doc` (an empty task
    /// shares its base with the next one, so it is never the last such).
    private func task(of doc: UInt64) -> Int {
        var lo = 0
        var hi = bases.count
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if bases[mid] <= doc { lo = mid } else { hi = mid }
        }
        return lo
    }

    /// Reads `doc`'s signature into `out` (`permutations` slots).
    func read(_ doc: UInt64, into out: UnsafeMutablePointer<UInt32>) throws {
        precondition(doc < documents)
        let t = task(of: doc)
        let offset = Int64(DedupTaskFolder.headerSize) + Int64(doc - tasks[t].baseDoc) * Int64(4 * permutations)
        try DedupIO.preadAll(fds[t], UnsafeMutableRawBufferPointer(start: out, count: 4 * permutations),
                             at: offset, path: tasks[t].signaturePath)
        if !DedupIO.isLittleEndian {
            for i in 0..<permutations { out[i] = UInt32(littleEndian: out[i]) }
        }
    }
}

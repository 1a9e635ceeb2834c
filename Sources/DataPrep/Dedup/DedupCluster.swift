/// Counts of one cluster step, for the manifest.
public struct DedupStats: Codable, Equatable, Sendable {
    public var documents: UInt64 = 0
    /// Removed because their normalized text equals the kept document's.
    public var exactDuplicates: UInt64 = 0
    /// Removed as near duplicates of the kept document.
    public var nearDuplicates: UInt64 = 0
    /// Signature comparisons made for pairs that shared a band bucket.
    public var candidatePairs: UInt64 = 0
    /// Comparisons at or above the Jaccard threshold, each of which joined two clusters.
    public var confirmedPairs: UInt64 = 0
    /// Clusters of two or more documents (each keeps one).
    public var clusters: UInt64 = 0
    /// Documents in the largest cluster.
    public var largestCluster: UInt64 = 0

    public init() {}

    public var removed: UInt64 { exactDuplicates + nearDuplicates }
    public var kept: UInt64 { documents - removed }
}

public struct DedupResult: Equatable, Sendable {
    /// Removed documents in ascending order.
    public var removals: [DedupRemoval]
    public var stats: DedupStats

    public init(removals: [DedupRemoval], stats: DedupStats) {
        self.removals = removals
        self.stats = stats
    }
}

/// Step two of dedup: clusters the documents of all tasks and writes the removal file.
///
/// 1. Exact: the exact records of all tasks are merged in (h1, h2, doc) order; every document
///    of a group with equal keys joins the group's first.
/// 2. Near: the band records are merged in (band, hash, doc) order. In each bucket (equal band
///    and hash) the first document is a representative; each later one is compared with the
///    representatives (at most `representativesPerBucket`, so a bucket of a million copies of
///    a boilerplate page costs a million comparisons, not a million squared) unless union-find
///    says it is already in one's cluster, and joins the first whose estimated Jaccard is at
///    least the threshold; one that matches none becomes a representative while there is room.
///    datatrove compares with the first document only; a few more catch buckets where two
///    unrelated families collide.
/// 3. Every document whose root is not itself is removed, in favour of its root: the smallest
///    document number of its cluster, the first in input order.
///
/// The streams are sorted, so the result depends only on the documents and their numbers, not
/// on how the records were split into runs, tasks or threads. Memory: union-find (4 bytes per
/// document), a copy of it after the exact step when both steps run, the merge buffers (about
/// `memoryBudget`), and one cluster-size counter per cluster.
public enum DedupCluster {
    public static let representativesPerBucket = 4

    /// Clusters the finished task folders at `folders`.
    public static func run(folders: [String], options: MinHashOptions, removalPath: String,
                           tempDirectory: String, memoryBudget: Int) throws -> DedupStats {
        try run(tasks: folders.map(DedupTaskFolder.open), options: options, removalPath: removalPath,
                tempDirectory: tempDirectory, memoryBudget: memoryBudget)
    }

    public static func run(tasks: [DedupTaskFolder], options: MinHashOptions, removalPath: String,
                           tempDirectory: String, memoryBudget: Int) throws -> DedupStats {
        try options.validate()
        for t in tasks where !t.matches(options) {
            throw DedupError.invalid("\(t.path): signatures were computed with other options (slots \(t.permutations), bands \(t.bands), rows \(t.rows), ngram \(t.ngram), seed \(t.seed), exact \(t.exact), near \(t.near))")
        }
        let store = try SignatureStore(tasks: tasks)
        let n = store.documents
        guard n < UInt64(UInt32.max) else {
            throw DedupError.invalid("\(n) documents: one dedup run handles at most \(UInt32.max - 1)")
        }
        var uf = UnionFind(count: Int(n))
        var stats = DedupStats()
        stats.documents = n

        // 1. Exact duplicates.
        var exactLeader: [UInt32]?
        if options.exact {
            let merger = try RunMerger(paths: store.tasks.flatMap(\.exactRuns), kind: RunFile.exactKind,
                                       tempDirectory: tempDirectory, memoryBudget: memoryBudget)
            var leader: DedupRecord?
            var joined = false
            while let r = try merger.next() {
                guard r.doc < n else { throw corruptRecord(r, n, store) }
                if let l = leader, l.sameKey(r) {
                    uf.union(UInt32(l.doc), UInt32(r.doc))
                    joined = true
                } else {
                    leader = r
                }
            }
            // Each exact group's members point straight at its first document: keep that to
            // tell exact from near removals once near unions have moved the roots.
            if joined && options.near { exactLeader = uf.parent }
        }

        // 2. Near duplicates.
        if options.near {
            try clusterBands(store: store, options: options, uf: &uf, stats: &stats,
                             tempDirectory: tempDirectory, memoryBudget: memoryBudget)
        }

        // 3. The removal list.
        let writer = try RemovalFile.Writer(path: removalPath, documents: n)
        let p = store.permutations
        let sigDoc = UnsafeMutablePointer<UInt32>.allocate(capacity: max(p, 1))
        defer { sigDoc.deallocate() }
        let sigKept = UnsafeMutablePointer<UInt32>.allocate(capacity: max(p, 1))
        defer { sigKept.deallocate() }
        var loadedKept: UInt32?
        var clusterSize: [UInt32: UInt64] = [:]
        for d in 0..<UInt32(n) {
            let root = uf.find(d)
            if root == d { continue }
            let exact: Bool
            if !options.exact {
                exact = false
            } else if let exactLeader {
                exact = exactLeader[Int(d)] == root
            } else {
                exact = !options.near
            }
            var jaccard = 1.0
            if !exact {
                try store.read(UInt64(d), into: sigDoc)
                if loadedKept != root {
                    try store.read(UInt64(root), into: sigKept)
                    loadedKept = root
                }
                jaccard = Double(MinHasher.equalSlots(sigDoc, sigKept, count: p)) / Double(p)
                stats.nearDuplicates += 1
            } else {
                stats.exactDuplicates += 1
            }
            try writer.append(DedupRemoval(doc: UInt64(d), kept: UInt64(root),
                                           reason: exact ? .exact : .near, jaccard: jaccard))
            clusterSize[root, default: 1] += 1
        }
        try writer.finish()
        stats.clusters = UInt64(clusterSize.count)
        stats.largestCluster = clusterSize.values.max() ?? 0
        return stats
    }

    /// The smallest number of equal slots (of `p`) whose fraction reaches `threshold`.
    static func requiredSlots(threshold: Double, permutations p: Int) -> Int {
        var e = Int((threshold * Double(p)).rounded(.up))
        while e > 0 && Double(e - 1) / Double(p) >= threshold { e -= 1 }
        while Double(e) / Double(p) < threshold { e += 1 }
        return e
    }

    private static func corruptRecord(_ r: DedupRecord, _ n: UInt64, _ store: SignatureStore) -> DedupError {
        .corrupt(path: store.tasks.map(\.path).joined(separator: ", "),
                 message: "a record names document \(r.doc), but the tasks hold \(n) documents")
    }

    private static func clusterBands(store: SignatureStore, options: MinHashOptions, uf: inout UnionFind,
                                     stats: inout DedupStats, tempDirectory: String, memoryBudget: Int) throws {
        let p = options.numPermutations
        let need = requiredSlots(threshold: options.jaccardThreshold, permutations: p)
        let maxReps = representativesPerBucket
        let merger = try RunMerger(paths: store.tasks.flatMap(\.bandRuns), kind: RunFile.bandKind,
                                   tempDirectory: tempDirectory, memoryBudget: memoryBudget)
        // Representatives of the current bucket; their signatures are read only when a
        // comparison needs them (most buckets hold one document and read nothing).
        var repDocs: [UInt32] = []
        var repLoaded: [Bool] = []
        let repSigs = UnsafeMutablePointer<UInt32>.allocate(capacity: maxReps * p)
        defer { repSigs.deallocate() }
        let current = UnsafeMutablePointer<UInt32>.allocate(capacity: p)
        defer { current.deallocate() }
        var bucket: DedupRecord?

        while let r = try merger.next() {
            guard r.doc < store.documents else { throw corruptRecord(r, store.documents, store) }
            let d = UInt32(r.doc)
            guard bucket.map({ $0.sameKey(r) }) ?? false else {
                bucket = r
                repDocs.removeAll(keepingCapacity: true)
                repLoaded.removeAll(keepingCapacity: true)
                repDocs.append(d)
                repLoaded.append(false)
                continue
            }
            let root = uf.find(d)
            var already = false
            for rep in repDocs where uf.find(rep) == root {
                already = true
                break
            }
            if already { continue }
            try store.read(UInt64(d), into: current)
            var joined = false
            for k in 0..<repDocs.count {
                let sig = repSigs + k * p
                if !repLoaded[k] {
                    try store.read(UInt64(repDocs[k]), into: sig)
                    repLoaded[k] = true
                }
                stats.candidatePairs += 1
                if MinHasher.equalSlots(sig, current, count: p) >= need {
                    uf.union(repDocs[k], d)
                    stats.confirmedPairs += 1
                    joined = true
                    break
                }
            }
            if !joined && repDocs.count < maxReps {
                (repSigs + repDocs.count * p).update(from: current, count: p)
                repDocs.append(d)
                repLoaded.append(true)
            }
        }
    }
}

/// Dedup in one process: a thin composition of the three steps (`SignatureWriter`,
/// `DedupCluster`, `RemovalFile`) with a single task, so its removal list is byte for byte the
/// one a farm of tasks computes. Its files live in a private folder under `tempDirectory`,
/// removed by `finish` (or when the clusterer goes away unfinished).
public final class DedupClusterer {
    public let options: MinHashOptions
    public let memoryBudget: Int
    private let work: String
    private let writer: SignatureWriter
    private var finished = false

    public init(options: MinHashOptions = .defaults, memoryBudget: Int, tempDirectory: String) throws {
        try options.validate()
        self.options = options
        self.memoryBudget = memoryBudget
        let work = try DedupIO.makeTemporaryDirectory(in: tempDirectory, label: "kiln-dedup")
        self.work = work
        do {
            writer = try SignatureWriter(folder: work + "/task", options: options, baseDoc: 0, memoryBudget: memoryBudget)
        } catch {
            DedupIO.removeDirectory(work + "/task")
            DedupIO.removeDirectory(work)
            throw error
        }
    }

    deinit {
        if !finished {
            writer.discard()
            DedupIO.removeDirectory(work)
        }
    }

    /// Adds document `doc`; documents must come numbered 0, 1, 2, … in input order.
    public func add(doc: UInt64, text: String) throws {
        guard doc == writer.nextDoc else {
            throw DedupError.invalid("document \(doc) added where \(writer.nextDoc) was expected (numbers must be dense and in order)")
        }
        try writer.add(text: text)
    }

    /// Adds a sketch computed elsewhere (by `MinHasher` with the same options).
    public func add(doc: UInt64, sketch: DedupSketch) throws {
        guard doc == writer.nextDoc else {
            throw DedupError.invalid("document \(doc) added where \(writer.nextDoc) was expected (numbers must be dense and in order)")
        }
        try writer.add(sketch)
    }

    /// Clusters what was added. With `removalPath`, the removal file is also left there.
    public func finish(removalPath: String? = nil) throws -> DedupResult {
        precondition(!finished, "DedupClusterer.finish called twice")
        finished = true
        let scratchRemovals = work + "/removed.bin"
        defer {
            writer.discard()
            DedupIO.remove(scratchRemovals)
            DedupIO.removeDirectory(work)
        }
        let task = try writer.finish()
        let path = removalPath ?? scratchRemovals
        let stats = try DedupCluster.run(tasks: [task], options: options, removalPath: path,
                                         tempDirectory: work, memoryBudget: memoryBudget)
        return DedupResult(removals: try RemovalFile.read(path), stats: stats)
    }
}

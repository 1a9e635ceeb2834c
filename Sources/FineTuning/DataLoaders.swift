import Foundation
import ShardFormat

/// The order in which continued pretraining reads its windows.
public enum DataOrder: String, Codable, Sendable, CaseIterable {
    /// llm.c's loader exactly (`llmc/dataloader.h`): chunks of B×T+1 tokens per rank, shards and
    /// chunks shuffled by MT19937 seeded 42 + rank, so losses can be compared step by step.
    case llmc
    /// Every window of T+1 tokens of every shard, shuffled each epoch with `--seed`, as one
    /// stream of rows that the ranks share: N ranks of batch B read what one rank of batch N×B
    /// reads.
    case shuffle
    /// The windows in file order, no shuffling.
    case sequential
}

/// How supervised examples fill rows.
public enum Packing: String, Codable, Sendable, CaseIterable {
    /// Examples follow each other in a row until the next does not fit; attention stays inside
    /// each example (block-diagonal, through the batch's document ids).
    case packed
    /// One example per row, the rest of the row padded with untrained positions.
    case padded
}

/// Where a loader is in its stream: enough to continue bit for bit after a restart.
public struct DataPosition: Codable, Equatable, Sendable {
    /// Batches (or rows, for the row-stream loaders) consumed since the start.
    public var consumed: Int
    public var epoch: Int
    public init(consumed: Int, epoch: Int) {
        self.consumed = consumed
        self.epoch = epoch
    }
}

/// A source of batches that can report and restore its position.
public protocol BatchLoader {
    mutating func next() -> TrainingBatch
    var position: DataPosition { get }
    /// Goes back to the start and replays the stream (without reading tokens) up to `p`.
    mutating func seek(to p: DataPosition)
    /// Batches in one pass over the data (for step counts and reports).
    var batchesPerEpoch: Int { get }
}

/// Continued pretraining: windows of T+1 tokens (inputs and targets shifted by one), every
/// position trained.
public struct WindowLoader: BatchLoader {
    public let shards: [MappedShard]
    public let B: Int, T: Int, rank: Int, worldSize: Int
    public let order: DataOrder
    public let seed: UInt32

    // llm.c's state (order .llmc and .sequential).
    private var shardIndices: [Int] = []
    private var intraIndices: [Int] = []
    private var currentShard = 0
    private var currentSample = 0
    private var rng: MersenneTwister
    // The shared row stream (order .shuffle): every window as (shard, start).
    private var windows: [(shard: Int, start: Int)] = []
    private var windowOrder: [Int] = []
    private var row = 0
    private(set) public var position = DataPosition(consumed: 0, epoch: 0)

    public init(shards: [MappedShard], B: Int, T: Int, rank: Int = 0, worldSize: Int = 1,
                order: DataOrder, seed: UInt32 = 42) throws {
        precondition(B > 0 && T > 0 && rank >= 0 && rank < worldSize)
        guard !shards.isEmpty else { throw DataError(message: "no token shards") }
        self.shards = shards
        self.B = B; self.T = T; self.rank = rank; self.worldSize = worldSize
        self.order = order
        self.seed = seed
        rng = MersenneTwister(seed: order == .llmc ? UInt32(42 + rank) : seed)
        switch order {
        case .llmc, .sequential:
            // llm.c refuses a shard too small for one chunk of every rank.
            for s in shards where s.count < worldSize * B * T + 1 {
                throw DataError(message: "\(s.path): \(s.count) tokens, fewer than the \(worldSize * B * T + 1) of one batch (B=\(B), T=\(T), ranks=\(worldSize))")
            }
            shardIndices = Array(shards.indices)
        case .shuffle:
            for (k, s) in shards.enumerated() where s.count > T {
                for w in 0..<((s.count - 1) / T) { windows.append((k, w * T)) }
            }
            guard windows.count >= B * worldSize else {
                throw DataError(message: "the shards hold \(windows.count) windows of \(T + 1) tokens, fewer than one batch of \(B * worldSize) rows")
            }
        }
        reset()
    }

    public var batchesPerEpoch: Int {
        switch order {
        case .llmc, .sequential: return shards.reduce(0) { $0 + samples(in: $1) }
        case .shuffle: return windows.count / (B * worldSize)
        }
    }

    private func samples(in s: MappedShard) -> Int { (s.count - 1) / (worldSize * B * T) }

    /// llm.c's `dataloader_reset`: a new epoch; the shard order is permuted again (cumulatively,
    /// from the previous order, as llm.c does), then the first shard's chunks.
    private mutating func reset() {
        switch order {
        case .llmc, .sequential:
            currentShard = 0
            currentSample = 0
            if order == .llmc {
                var indices = shardIndices
                permuteInPlace(&indices)
                shardIndices = indices
            }
            loadShard()
        case .shuffle:
            row = 0
            windowOrder = rng.permutation(windows.count)
        }
    }

    private mutating func permuteInPlace(_ a: inout [Int]) {
        var i = a.count - 1
        while i > 0 {
            let j = Int(rng.next() % UInt32(i + 1))
            a.swapAt(i, j)
            i -= 1
        }
    }

    private mutating func loadShard() {
        if order == .llmc { intraIndices = rng.permutation(samples(in: shards[shardIndices[currentShard]])) }
    }

    /// llm.c's `dataloader_advance_`.
    private mutating func advance() {
        if currentShard == shards.count - 1 {
            position.epoch += 1
            reset()
            return
        }
        currentShard += 1
        currentSample = 0
        loadShard()
    }

    /// The start of the next chunk (llm.c) and moves past it.
    private mutating func step() -> (shard: Int, start: Int) {
        let shard = shardIndices[currentShard]
        if currentSample >= samples(in: shards[shard]) { advance() }
        let s = shardIndices[currentShard]
        let idx = order == .llmc ? intraIndices[currentSample] : currentSample
        currentSample += 1
        return (s, idx * worldSize * B * T + rank * B * T)
    }

    /// The window of the next global row (order .shuffle).
    private mutating func nextRow() -> (shard: Int, start: Int) {
        if row == windows.count {
            position.epoch += 1
            reset()
        }
        defer { row += 1 }
        return windows[windowOrder[row]]
    }

    public mutating func next() -> TrainingBatch {
        var inputs: [Int32] = [], targets: [Int32] = []
        inputs.reserveCapacity(B * T)
        targets.reserveCapacity(B * T)
        switch order {
        case .llmc, .sequential:
            let (s, start) = step()
            var buf: [Int32] = []
            shards[s].copy(start ..< start + B * T + 1, into: &buf)
            inputs = Array(buf[0..<(B * T)])
            targets = Array(buf[1...(B * T)])
        case .shuffle:
            // A step takes B × worldSize rows of the shared stream; this rank keeps its B.
            for r in 0..<(B * worldSize) {
                let w = nextRow()
                guard r / B == rank else { continue }
                var buf: [Int32] = []
                shards[w.shard].copy(w.start ..< w.start + T + 1, into: &buf)
                inputs += buf[0..<T]
                targets += buf[1...T]
            }
        }
        position.consumed += 1
        return TrainingBatch(B: B, T: T, inputs: inputs, targets: targets, weights: nil, documentIDs: nil)
    }

    public mutating func seek(to p: DataPosition) {
        rng = MersenneTwister(seed: order == .llmc ? UInt32(42 + rank) : seed)
        shardIndices = Array(shards.indices)
        position = DataPosition(consumed: 0, epoch: 0)
        reset()
        for _ in 0..<p.consumed {
            switch order {
            case .llmc, .sequential: _ = step()
            case .shuffle: for _ in 0..<(B * worldSize) { _ = nextRow() }
            }
            position.consumed += 1
        }
    }
}

/// Supervised examples from SFT shards (their index gives where each example starts and the
/// loss mask): each example of L tokens gives L−1 positions, input token k scored on token k+1
/// with the mask bit of token k+1. Rows come from one stream that every rank builds alike;
/// a step takes B × worldSize rows and each rank keeps its B.
public struct ExampleLoader: BatchLoader {
    public let B: Int, T: Int, rank: Int, worldSize: Int
    public let packing: Packing
    public let seed: UInt32
    /// The token that fills padding (any valid id: its weight is 0).
    public let padToken: Int32

    private let shards: [MappedShard]
    /// Each example: its first token's global position and its length (cut to T+1).
    private let examples: [(start: Int, length: Int)]
    private let shardStarts: [Int]
    /// Examples longer than T+1 tokens, cut to fit a row.
    public let cutExamples: Int

    private var rng: MersenneTwister
    private var order: [Int] = []
    private var cursor = 0
    private(set) public var position = DataPosition(consumed: 0, epoch: 0)

    public init(shards: [MappedShard], B: Int, T: Int, rank: Int = 0, worldSize: Int = 1,
                packing: Packing, seed: UInt32, padToken: Int32) throws {
        precondition(B > 0 && T > 0 && rank >= 0 && rank < worldSize)
        self.shards = shards
        self.B = B; self.T = T; self.rank = rank; self.worldSize = worldSize
        self.packing = packing
        self.seed = seed
        self.padToken = padToken
        var starts: [Int] = []
        var at = 0
        var found: [Int] = []
        for s in shards {
            guard let idx = s.index, idx.mask != nil else {
                throw DataError(message: "\(s.path): no loss mask in its index: not SFT data (prep tokenize --format chat|alpaca|prompt-completion)")
            }
            starts.append(at)
            found += idx.offsets.dropLast().map { at + Int($0) }
            at += s.count
        }
        shardStarts = starts
        var ex: [(Int, Int)] = []
        var cut = 0
        for (k, start) in found.enumerated() {
            let end = k + 1 < found.count ? found[k + 1] : at
            let length = end - start
            if length < 2 { continue }
            if length > T + 1 { cut += 1 }
            ex.append((start, min(length, T + 1)))
        }
        guard !ex.isEmpty else { throw DataError(message: "the shards hold no examples") }
        examples = ex
        cutExamples = cut
        rng = MersenneTwister(seed: seed)
        order = rng.permutation(examples.count)
    }

    public var batchesPerEpoch: Int {
        switch packing {
        case .padded: return max(1, examples.count / (B * worldSize))
        case .packed:
            let positions = examples.reduce(0) { $0 + $1.length - 1 }
            return max(1, positions / (T * B * worldSize))
        }
    }

    private func locate(_ global: Int) -> (shard: Int, offset: Int) {
        var lo = 0, hi = shardStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if shardStarts[mid] <= global { lo = mid } else { hi = mid - 1 }
        }
        return (lo, global - shardStarts[lo])
    }

    private func token(_ global: Int) -> Int32 {
        let (s, o) = locate(global)
        return shards[s][o]
    }

    private func trained(_ global: Int) -> Bool {
        let (s, o) = locate(global)
        return shards[s].index!.mask![o]
    }

    /// The next example in this epoch's order (a new epoch reshuffles).
    private mutating func nextExample() -> (start: Int, length: Int) {
        if cursor == order.count {
            position.epoch += 1
            cursor = 0
            order = rng.permutation(examples.count)
        }
        defer { cursor += 1 }
        return examples[order[cursor]]
    }

    private var pending: (start: Int, length: Int)? = nil

    /// The examples of the next row of the stream.
    private mutating func nextRowExamples() -> [(start: Int, length: Int)] {
        var row: [(start: Int, length: Int)] = []
        var used = 0
        while true {
            let e = pending ?? nextExample()
            pending = nil
            if row.isEmpty || (packing == .packed && used + e.length - 1 <= T) {
                row.append(e)
                used += e.length - 1
                if packing == .padded { break }
            } else {
                pending = e
                break
            }
            if used == T { break }
        }
        return row
    }

    public mutating func next() -> TrainingBatch {
        var inputs: [Int32] = [], targets: [Int32] = [], weights: [Float] = [], ids: [Int32] = []
        for r in 0..<(B * worldSize) {
            let row = nextRowExamples()
            guard r / B == rank else { continue }
            var n = 0
            for (k, e) in row.enumerated() {
                for i in 0..<(e.length - 1) {
                    inputs.append(token(e.start + i))
                    targets.append(token(e.start + i + 1))
                    weights.append(trained(e.start + i + 1) ? 1 : 0)
                    ids.append(Int32(k))
                }
                n += e.length - 1
            }
            for _ in n..<T {
                inputs.append(padToken)
                targets.append(padToken)
                weights.append(0)
                ids.append(-1)
            }
        }
        position.consumed += 1
        return TrainingBatch(B: B, T: T, inputs: inputs, targets: targets, weights: weights,
                             documentIDs: packing == .packed ? ids : nil)
    }

    public mutating func seek(to p: DataPosition) {
        rng = MersenneTwister(seed: seed)
        order = rng.permutation(examples.count)
        cursor = 0
        pending = nil
        position = DataPosition(consumed: 0, epoch: 0)
        for _ in 0..<p.consumed {
            for _ in 0..<(B * worldSize) { _ = nextRowExamples() }
            position.consumed += 1
        }
    }
}

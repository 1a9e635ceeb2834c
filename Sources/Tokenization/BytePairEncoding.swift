// Byte-level BPE with tiktoken's semantics (FORMATS.md §3.3).
//
// Ranks map byte strings to integers; a token's rank is its id. A pre-token starts as its single
// bytes; the adjacent pair whose concatenation has the lowest rank is merged (the leftmost one on a
// tie), again and again, until no adjacent concatenation is a token. As in tiktoken, a pre-token that
// is itself a token is emitted at once.
//
// Every symbol during a merge is a token, so "the concatenation of symbols A and B is the token C"
// is a lookup of the pair (rank A, rank B) in a table built from every split of every token into two
// tokens. That table stands in for tiktoken's byte-string lookups and gives the same answers.
//
// Short pieces (nearly all of them) use tiktoken's loop: scan for the lowest pair, merge, repeat.
// That is quadratic in the piece length, and one megabyte without spaces is one piece, so longer
// pieces use a linked list of symbols and a min-heap of (rank, position) pairs: O(n log n).
// `referenceEncode` is the slow, obviously right version the tests hold the fast one to.

/// The mergeable part of a tokenizer: the ranks, their lookup tables and the encoder.
final class BytePairEncoding: Sendable {
    /// One past the largest rank.
    let rankCount: Int
    /// The bytes of every token, in rank order.
    let arena: [UInt8]
    /// The token of rank r is `arena[starts[r] ..< starts[r + 1]]`; empty where no token has rank r.
    let starts: [Int32]
    /// The rank of each single byte.
    let byteRanks: [UInt32]
    /// Whole-token lookup, open addressing: the hash's top 32 bits | (rank + 1); 0 is an empty slot.
    let tokenSlots: [UInt64]
    /// Pair lookup, open addressing: (rank A << 42) | (rank B << 21) | rank of their
    /// concatenation, 21 bits each, so that one slot is 8 bytes (the table stays in L2 cache);
    /// `emptySlot` marks a free slot.
    let pairSlots: [UInt64]
    /// The longest token, in bytes.
    let maxTokenLength: Int

    static let emptySlot = UInt64.max
    static let rankBits = 21

    /// "No pair": larger than any rank.
    static let noRank = UInt32.max
    /// Pieces longer than this use the heap.
    static let heapThreshold = 48
    /// Ranks (and ids) stay below this: three fit in a pair slot (2,097,152 tokens, ten times
    /// o200k's vocabulary).
    static let rankLimit = 1 << rankBits

    /// `ranks` maps each mergeable token to its rank; ranks are distinct, every single byte is a
    /// token, and no token is empty.
    convenience init(ranks: [[UInt8]: Int]) throws(TokenizerError) {
        try self.init(tokens: ranks.map { (bytes: $0.key, rank: $0.value) })
    }

    /// The same from a list of (token, rank) in any order; the caller guarantees that no two
    /// entries have the same bytes (a dictionary's keys, say).
    init(tokens: [(bytes: [UInt8], rank: Int)]) throws(TokenizerError) {
        var byRank = tokens
        byRank.sort { $0.rank < $1.rank }
        var previous = -1
        for entry in byRank {
            guard entry.rank >= 0, entry.rank < Self.rankLimit else { throw .rankOutOfRange(entry.rank) }
            guard entry.rank != previous else { throw .duplicateRank(entry.rank) }
            guard !entry.bytes.isEmpty else { throw .emptyToken }
            previous = entry.rank
        }
        var byteRanks = [UInt32](repeating: Self.noRank, count: 256)
        for entry in byRank where entry.bytes.count == 1 { byteRanks[Int(entry.bytes[0])] = UInt32(entry.rank) }
        if let missing = byteRanks.firstIndex(of: Self.noRank) { throw .missingByte(UInt8(missing)) }

        rankCount = previous + 1
        let totalBytes = byRank.reduce(0) { $0 + $1.bytes.count }
        guard totalBytes < Int(Int32.max) else { throw .rankOutOfRange(rankCount) }
        var arena: [UInt8] = []
        arena.reserveCapacity(totalBytes)
        var starts = [Int32](repeating: 0, count: rankCount + 1)
        var i = 0
        for r in 0..<rankCount {
            starts[r] = Int32(arena.count)
            if i < byRank.count, byRank[i].rank == r {
                arena += byRank[i].bytes
                i += 1
            }
        }
        starts[rankCount] = Int32(arena.count)

        // Whole-token table at most half full.
        var tokenSlots = [UInt64](repeating: 0, count: Self.tableSize(for: byRank.count))
        let tokenMask = tokenSlots.count - 1
        arena.withUnsafeBufferPointer { a in
            // The arena holds at least the 256 single bytes.
            guard let arenaBase = a.baseAddress else { return }
            for entry in byRank {
                let s = Int(starts[entry.rank]), n = entry.bytes.count
                let h = hashBytes(UnsafeRawPointer(arenaBase + s), n)
                var slot = Int(truncatingIfNeeded: h) & tokenMask
                while tokenSlots[slot] != 0 { slot = (slot + 1) & tokenMask }
                tokenSlots[slot] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(entry.rank + 1)
            }
        }

        // Every split of every token into two tokens.
        var pairs: [(key: UInt64, rank: UInt32)] = []
        arena.withUnsafeBufferPointer { a in
            starts.withUnsafeBufferPointer { st in
                tokenSlots.withUnsafeBufferPointer { slots in
                    guard let arenaBase = a.baseAddress else { return }
                    let lookup = TokenLookup(arena: a, starts: st, slots: slots)
                    for entry in byRank where entry.bytes.count > 1 {
                        let base = arenaBase + Int(st[entry.rank])
                        for k in 1..<entry.bytes.count {
                            guard let left = lookup.rank(base, k),
                                  let right = lookup.rank(base + k, entry.bytes.count - k) else { continue }
                            pairs.append((UInt64(left) << Self.rankBits | UInt64(right), UInt32(entry.rank)))
                        }
                    }
                }
            }
        }
        var pairSlots = [UInt64](repeating: Self.emptySlot, count: Self.tableSize(for: pairs.count))
        let pairMask = pairSlots.count - 1
        for p in pairs {
            var slot = pairHash(p.key) & pairMask
            while pairSlots[slot] != Self.emptySlot { slot = (slot + 1) & pairMask }
            pairSlots[slot] = p.key << Self.rankBits | UInt64(p.rank)
        }

        self.arena = arena
        self.starts = starts
        self.byteRanks = byteRanks
        self.tokenSlots = tokenSlots
        self.pairSlots = pairSlots
        self.maxTokenLength = byRank.reduce(1) { max($0, $1.bytes.count) }
    }

    private static func tableSize(for count: Int) -> Int {
        var size = 16
        while size < 2 * count { size *= 2 }
        return size
    }

    /// Whether some token has rank `r`.
    func hasToken(rank r: Int) -> Bool { r >= 0 && r < rankCount && starts[r] < starts[r + 1] }

    /// The bytes of the token of rank `r` (empty when there is none).
    func bytes(rank r: Int) -> ArraySlice<UInt8> {
        guard r >= 0, r < rankCount else { return [] }
        return arena[Int(starts[r]) ..< Int(starts[r + 1])]
    }

    /// The mergeable tokens in rank order.
    var tokens: [(rank: Int, bytes: ArraySlice<UInt8>)] {
        (0..<rankCount).filter(hasToken(rank:)).map { ($0, bytes(rank: $0)) }
    }

    /// Runs `body` with the tables as buffer pointers (for the hot loops).
    func withHandle<R>(_ body: (Handle) throws -> R) rethrows -> R {
        try arena.withUnsafeBufferPointer { a in
            try starts.withUnsafeBufferPointer { st in
                try byteRanks.withUnsafeBufferPointer { br in
                    try tokenSlots.withUnsafeBufferPointer { ts in
                        try pairSlots.withUnsafeBufferPointer { ps in
                            try body(Handle(lookup: TokenLookup(arena: a, starts: st, slots: ts),
                                            byteRanks: br, pairSlots: ps, maxTokenLength: maxTokenLength))
                        }
                    }
                }
            }
        }
    }

    /// The two tokens that merge into the token of rank `r`: BPE on its bytes with only the ranks
    /// below `r`, which must end in exactly two parts (FORMATS.md §3.3, the reverse direction).
    /// Nil for single bytes and for tokens that BPE cannot build from two smaller ones.
    func mergeParts(rank r: Int) -> (Int, Int)? {
        guard hasToken(rank: r), starts[r + 1] - starts[r] > 1 else { return nil }
        var parts: [Int] = []
        withHandle { h in
            arena.withUnsafeBufferPointer { a in
                let piece = UnsafeBufferPointer(rebasing: a[Int(starts[r]) ..< Int(starts[r + 1])])
                h.merge(piece, limit: UInt32(r), into: &parts)
            }
        }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    /// The slow, obviously right encoder (minbpe style, with tiktoken's whole-piece shortcut and
    /// leftmost-first ties): scan every adjacent pair for the lowest rank, merge it, repeat.
    static func referenceEncode(_ piece: [UInt8], ranks: [[UInt8]: Int]) -> [Int] {
        if let r = ranks[piece] { return [r] }
        var parts = piece.map { [$0] }
        while parts.count > 1 {
            var best: (rank: Int, index: Int)?
            for i in 0 ..< parts.count - 1 {
                if let r = ranks[parts[i] + parts[i + 1]], r < best?.rank ?? Int.max { best = (r, i) }
            }
            guard let best else { break }
            parts[best.index] += parts[best.index + 1]
            parts.remove(at: best.index + 1)
        }
        return parts.map { part in
            guard let r = ranks[part] else { preconditionFailure("a byte is not a token") }
            return r
        }
    }
}

/// Whole-token lookup over borrowed tables.
struct TokenLookup {
    let arena: UnsafeBufferPointer<UInt8>
    let starts: UnsafeBufferPointer<Int32>
    let slots: UnsafeBufferPointer<UInt64>

    /// The rank of the token spelled by `count` bytes at `p`, if any.
    @inline(__always)
    func rank(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt32? {
        let h = hashBytes(UnsafeRawPointer(p), count)
        let tag = h & 0xFFFF_FFFF_0000_0000
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        guard let base = arena.baseAddress else { return nil }
        while true {
            let s = slots[slot]
            if s == 0 { return nil }
            if s & 0xFFFF_FFFF_0000_0000 == tag {
                let r = Int(s & 0xFFFF_FFFF) - 1
                let start = Int(starts[r]), end = Int(starts[r + 1])
                if end - start == count, bytesEqual(base + start, p, count) { return UInt32(r) }
            }
            slot = (slot + 1) & mask
        }
    }
}

extension BytePairEncoding {
    /// The tables as buffer pointers, valid inside `withHandle`; the hot loops live here.
    struct Handle {
        let lookup: TokenLookup
        let byteRanks: UnsafeBufferPointer<UInt32>
        let pairSlots: UnsafeBufferPointer<UInt64>
        let maxTokenLength: Int

        /// The rank of the concatenation of tokens `a` and `b` if it is a token ranked below
        /// `limit`, else `noRank`.
        @inline(__always)
        func pairRank(_ a: UInt32, _ b: UInt32, _ limit: UInt32) -> UInt32 {
            let key = UInt64(a) << slotShift | UInt64(b)
            let mask = pairSlots.count - 1
            var slot = pairHash(key) & mask
            while true {
                let s = pairSlots[slot]
                if s >> slotShift == key {
                    let rank = UInt32(truncatingIfNeeded: s) & rankMask
                    return rank < limit ? rank : noRank
                }
                if s == emptySlot { return noRank }
                slot = (slot + 1) & mask
            }
        }

        /// Appends the ids of one pre-token.
        @inline(__always)
        func encode(_ piece: UnsafeBufferPointer<UInt8>, into ids: inout [Int]) {
            let n = piece.count
            guard n > 1, let base = piece.baseAddress else {
                if n == 1 { ids.append(Int(byteRanks[Int(piece[0])])) }
                return
            }
            if n <= maxTokenLength, let r = lookup.rank(base, n) {
                ids.append(Int(r))
                return
            }
            merge(piece, limit: noRank, into: &ids)
        }

        /// Appends the ranks BPE leaves of `piece`, using only merges ranked below `limit`.
        func merge(_ piece: UnsafeBufferPointer<UInt8>, limit: UInt32, into ids: inout [Int]) {
            if piece.count <= heapThreshold {
                mergeShort(piece, limit: limit, into: &ids)
            } else {
                mergeLong(piece, limit: limit, into: &ids)
            }
        }

        /// tiktoken's loop: find the lowest pair (leftmost on a tie), merge it, repeat. O(n²).
        func mergeShort(_ piece: UnsafeBufferPointer<UInt8>, limit: UInt32, into ids: inout [Int]) {
            let n = piece.count
            precondition(n >= 1 && n <= heapThreshold)
            // symbols: (n) ranks of the current parts; pairs: (n - 1) rank of each adjacent pair.
            // On the stack; the closure touches no outside state, so no exclusivity checks.
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 2 * n) { buffer in
                guard let symbols = buffer.baseAddress else { return }
                let count = mergeShort(piece, limit: limit, symbols: symbols, pairs: symbols + n)
                for i in 0 ..< count { ids.append(Int(symbols[i])) }
            }
        }

        @inline(__always)
        private func mergeShort(_ piece: UnsafeBufferPointer<UInt8>, limit: UInt32,
                                symbols: UnsafeMutablePointer<UInt32>, pairs: UnsafeMutablePointer<UInt32>) -> Int {
            let n = piece.count
            for i in 0 ..< n { symbols[i] = byteRanks[Int(piece[i])] }
            for i in 0 ..< n - 1 { pairs[i] = pairRank(symbols[i], symbols[i + 1], limit) }
            var count = n
            while count > 1 {
                var best = noRank, at = 0
                for i in 0 ..< count - 1 where pairs[i] < best {
                    best = pairs[i]
                    at = i
                }
                if best == noRank { break }
                symbols[at] = best
                var j = at + 1
                while j < count - 1 {
                    symbols[j] = symbols[j + 1]
                    pairs[j] = pairs[j + 1]
                    j += 1
                }
                count -= 1
                pairs[at] = at + 1 < count ? pairRank(best, symbols[at + 1], limit) : noRank
                if at > 0 { pairs[at - 1] = pairRank(symbols[at - 1], best, limit) }
            }
            return count
        }

        /// The same merges with a linked list of symbols and a min-heap keyed by (rank, position),
        /// so that the leftmost of equal ranks comes first, as in the loop above. O(n log n).
        /// Heap entries go stale when a neighbour merges; one is live while `pairs[position]` still
        /// holds its rank (a symbol only grows, so its pair never returns to an earlier rank).
        func mergeLong(_ piece: UnsafeBufferPointer<UInt8>, limit: UInt32, into ids: inout [Int]) {
            let n = piece.count
            precondition(n >= 2 && n < Int(Int32.max))
            // symbols, pairs: (n) indexed by the byte position where a symbol starts.
            // next, prev: (n) neighbours in the list (n and -1 at the ends). heap: (3n) entries,
            // n - 1 at first and at most two more per merge.
            let symbols = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: n)
            let pairs = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: n)
            let next = UnsafeMutableBufferPointer<Int32>.allocate(capacity: n)
            let prev = UnsafeMutableBufferPointer<Int32>.allocate(capacity: n)
            var heap = MinHeap(capacity: 3 * n)
            defer {
                symbols.deallocate()
                pairs.deallocate()
                next.deallocate()
                prev.deallocate()
                heap.deallocate()
            }
            for i in 0 ..< n {
                symbols[i] = byteRanks[Int(piece[i])]
                next[i] = Int32(i + 1)
                prev[i] = Int32(i - 1)
            }
            pairs[n - 1] = noRank
            for i in 0 ..< n - 1 {
                pairs[i] = pairRank(symbols[i], symbols[i + 1], limit)
                if pairs[i] != noRank { heap.append(UInt64(pairs[i]) << 32 | UInt64(i)) }
            }
            heap.heapify()
            while let top = heap.popMin() {
                let rank = UInt32(top >> 32), i = Int(top & 0xFFFF_FFFF)
                guard pairs[i] == rank else { continue }
                let j = Int(next[i]), k = Int(next[j])
                symbols[i] = rank
                pairs[j] = noRank
                next[i] = Int32(k)
                if k < n {
                    prev[k] = Int32(i)
                    pairs[i] = pairRank(rank, symbols[k], limit)
                    if pairs[i] != noRank { heap.push(UInt64(pairs[i]) << 32 | UInt64(i)) }
                } else {
                    pairs[i] = noRank
                }
                let p = Int(prev[i])
                if p >= 0 {
                    pairs[p] = pairRank(symbols[p], rank, limit)
                    if pairs[p] != noRank { heap.push(UInt64(pairs[p]) << 32 | UInt64(p)) }
                }
            }
            var i = 0
            while i < n {
                ids.append(Int(symbols[i]))
                i = Int(next[i])
            }
        }
    }
}

private let noRank = BytePairEncoding.noRank
private let slotShift = UInt64(BytePairEncoding.rankBits)
private let rankMask = UInt32(BytePairEncoding.rankLimit - 1)
private let emptySlot = BytePairEncoding.emptySlot
private let heapThreshold = BytePairEncoding.heapThreshold

/// A binary min-heap of UInt64 keys in a fixed allocation.
private struct MinHeap {
    private let storage: UnsafeMutablePointer<UInt64>
    private let capacity: Int
    private var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    func deallocate() { storage.deallocate() }

    /// Adds a key without keeping the heap order; call `heapify` before popping.
    mutating func append(_ key: UInt64) {
        precondition(count < capacity)
        storage[count] = key
        count += 1
    }

    mutating func heapify() {
        var i = count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    mutating func push(_ key: UInt64) {
        precondition(count < capacity)
        var i = count
        count += 1
        while i > 0 {
            let parent = (i - 1) / 2
            if storage[parent] <= key { break }
            storage[i] = storage[parent]
            i = parent
        }
        storage[i] = key
    }

    mutating func popMin() -> UInt64? {
        guard count > 0 else { return nil }
        let top = storage[0]
        count -= 1
        if count > 0 {
            storage[0] = storage[count]
            siftDown(0)
        }
        return top
    }

    private func siftDown(_ start: Int) {
        var i = start
        let key = storage[i]
        while true {
            var child = 2 * i + 1
            if child >= count { break }
            if child + 1 < count, storage[child + 1] < storage[child] { child += 1 }
            if key <= storage[child] { break }
            storage[i] = storage[child]
            i = child
        }
        storage[i] = key
    }
}

/// A fast, non-cryptographic hash of a short byte string (only for in-memory tables).
@inline(__always)
func hashBytes(_ p: UnsafeRawPointer, _ n: Int) -> UInt64 {
    var h = 0x9E37_79B9_7F4A_7C15 &* UInt64(truncatingIfNeeded: n &+ 1)
    var w: UInt64
    if n >= 8 {
        var i = 0
        while i + 8 <= n {
            h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 29
            i += 8
        }
        w = i < n ? p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) : 0
    } else if n >= 4 {
        w = UInt64(p.loadUnaligned(as: UInt32.self)) << 32
            | UInt64(p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
    } else if n > 0 {
        w = UInt64(p.load(as: UInt8.self)) << 16
            | UInt64(p.load(fromByteOffset: n >> 1, as: UInt8.self)) << 8
            | UInt64(p.load(fromByteOffset: n - 1, as: UInt8.self))
    } else {
        w = 0
    }
    h = (h ^ w) &* 0x94D0_49BB_1331_11EB
    h ^= h >> 32
    h = h &* 0xFF51_AFD7_ED55_8CCD
    h ^= h >> 29
    return h
}

@inline(__always)
func pairHash(_ key: UInt64) -> Int {
    Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32)
}

@inline(__always)
func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if UnsafeRawPointer(a).loadUnaligned(fromByteOffset: i, as: UInt64.self)
            != UnsafeRawPointer(b).loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

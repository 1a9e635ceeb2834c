// Counting n-grams of one document by their 64-bit hashes, without building a string per n-gram
// as datatrove does (`" ".join(words[i:i+n])` into a Counter or a set). The hot loops of the
// repetition filter live here, on buffer pointers.

/// The hashes of a document's word n-grams, for growing n: `hashes[i]` is the n-gram that starts
/// at word i, for i in 0..<count. Going from n to n + 1 folds in one more word per position.
struct NGramHashes {
    private let words: [UInt64]
    private(set) var hashes: [UInt64]
    private(set) var n = 1

    init(words: [UInt64]) {
        self.words = words
        hashes = words
    }

    /// N-grams in the document: words - n + 1, or 0.
    var count: Int { max(0, words.count - n + 1) }

    /// Makes `hashes` those of n-grams of length `n` (>= 1).
    mutating func advance(to n: Int) {
        precondition(n >= 1)
        var k = self.n
        if n < k {
            hashes = words
            k = 1
        }
        let m = words.count
        let words = self.words
        if k < n && m > k {
            hashes.withUnsafeMutableBufferPointer { h in
                words.withUnsafeBufferPointer { w in
                    while k < n {
                        // Order matters ("a b" is not "b a"): the hash so far is multiplied
                        // before the next word is folded in.
                        for i in 0..<max(0, m - k) {
                            h[i] = TextBytes.mixHash(h[i] ^ (w[i + k] &* 0xD6E8_FEB8_6659_FD93))
                        }
                        k += 1
                    }
                }
            }
        }
        self.n = n
    }
}

/// An open-addressing table of 64-bit keys, each with a count and the position where it was
/// first seen: linear probing, a power-of-two capacity of at least twice the keys it will hold.
/// Its memory is its own (a class with raw buffers), so the hot loops need no array accessors.
final class NGramTable {
    private let keys: UnsafeMutableBufferPointer<UInt64>
    private let counts: UnsafeMutableBufferPointer<Int32>
    private let firsts: UnsafeMutableBufferPointer<Int32>
    private let shift: UInt64
    private let mask: Int

    init(capacityFor n: Int) {
        var bits: UInt64 = 4
        while (1 << bits) < 2 * n { bits += 1 }
        keys = .allocate(capacity: 1 << bits)
        counts = .allocate(capacity: 1 << bits)
        firsts = .allocate(capacity: 1 << bits)
        shift = 64 - bits
        mask = (1 << bits) - 1
    }

    deinit {
        keys.deallocate()
        counts.deallocate()
        firsts.deallocate()
    }

    /// The slot of `k` (not 0): where it is, or the empty slot where it would go.
    @inline(__always)
    private func slot(_ k: UInt64) -> Int {
        var s = Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while keys[s] != k && keys[s] != 0 { s = (s + 1) & mask }
        return s
    }

    /// Empties the table.
    func removeAll() { keys.update(repeating: 0) }

    /// Adds `key`; false when it was there already.
    func insert(_ key: UInt64) -> Bool {
        let k = key == 0 ? 1 : key
        let s = slot(k)
        if keys[s] == k { return false }
        keys[s] = k
        return true
    }

    /// For each of `hashes[0..<m]`, how many times it occurs there.
    func occurrences(_ hashes: [UInt64], _ m: Int) -> [Int32] {
        precondition(m <= hashes.count && 2 * m <= keys.count)
        keys.update(repeating: 0)
        var slots = [Int32](repeating: 0, count: m)
        var result = [Int32](repeating: 0, count: m)
        hashes.withUnsafeBufferPointer { h in
            slots.withUnsafeMutableBufferPointer { slots in
                for i in 0..<m {
                    let k = h[i] == 0 ? 1 : h[i]
                    let s = slot(k)
                    if keys[s] == 0 {
                        keys[s] = k
                        counts[s] = 0
                    }
                    counts[s] += 1
                    slots[i] = Int32(s)
                }
                result.withUnsafeMutableBufferPointer { result in
                    for i in 0..<m { result[i] = counts[Int(slots[i])] }
                }
            }
        }
        return result
    }

    /// The most frequent of `hashes[0..<m]`: its count and where it first occurs. A tie goes to
    /// the one seen first, as `Counter.most_common(1)` gives it.
    func top(_ hashes: [UInt64], _ m: Int) -> (count: Int, first: Int) {
        precondition(m <= hashes.count && 2 * m <= keys.count)
        keys.update(repeating: 0)
        var bestCount: Int32 = 0, bestFirst: Int32 = .max
        hashes.withUnsafeBufferPointer { h in
            for i in 0..<m {
                let k = h[i] == 0 ? 1 : h[i]   // 0 marks an empty slot
                let s = slot(k)
                if keys[s] == 0 {
                    keys[s] = k
                    counts[s] = 0
                    firsts[s] = Int32(i)
                }
                counts[s] += 1
                let c = counts[s], f = firsts[s]
                if c > bestCount || (c == bestCount && f < bestFirst) {
                    bestCount = c
                    bestFirst = f
                }
            }
        }
        return (Int(bestCount), bestCount == 0 ? 0 : Int(bestFirst))
    }

    /// datatrove's `find_all_duplicate`: walks the n-grams `hashes[0..<m]` from the start; an
    /// n-gram seen before adds its characters (`lengthPrefix[i + n] - lengthPrefix[i]`, its words
    /// without separators) and the walk jumps past its n words; any other is remembered and the
    /// walk moves on by one word. The n-grams jumped over are never remembered.
    func duplicateChars(_ hashes: [UInt64], _ m: Int, n: Int, lengthPrefix: [Int]) -> Int {
        precondition(m <= hashes.count && 2 * m <= keys.count && (m == 0 || lengthPrefix.count >= m + n))
        keys.update(repeating: 0)
        var chars = 0
        hashes.withUnsafeBufferPointer { h in
            lengthPrefix.withUnsafeBufferPointer { len in
                var i = 0
                while i < m {
                    let k = h[i] == 0 ? 1 : h[i]
                    let s = slot(k)
                    if keys[s] == k {
                        chars += len[i + n] - len[i]
                        i += n
                    } else {
                        keys[s] = k
                        i += 1
                    }
                }
            }
        }
        return chars
    }
}

/// Cheap upper bounds for the repetition checks, from counts that take one table pass.
enum NGramBounds {
    /// For each n in `ns` (index n of the result): the largest (fewest occurrences among an
    /// n-gram's tokens) × (the n-gram's characters) over all n-grams. No n-gram occurs more
    /// often than its rarest token, so this bounds count × characters of the most frequent one.
    /// Characters are `lengthPrefix` differences plus n - 1 separators, less the touching
    /// boundaries counted in `touchPrefix` (`touchPrefix[j]`: those among tokens 0...j).
    static func top(tokenCounts: [Int32], lengthPrefix: [Int], touchPrefix: [Int], ns: [Int]) -> [Int] {
        let m = tokenCounts.count
        precondition(lengthPrefix.count == m + 1 && touchPrefix.count == m)
        let maxN = ns.max() ?? 0
        var bounds = [Int](repeating: 0, count: maxN + 1)
        var wanted = [Bool](repeating: false, count: maxN + 1)
        for n in ns where n >= 1 { wanted[n] = true }
        tokenCounts.withUnsafeBufferPointer { c in
            lengthPrefix.withUnsafeBufferPointer { len in
                touchPrefix.withUnsafeBufferPointer { touch in
                    bounds.withUnsafeMutableBufferPointer { bounds in
                        wanted.withUnsafeBufferPointer { wanted in
                            for i in 0..<m {
                                var fewest = c[i]
                                var n = 1
                                while n <= maxN && i + n <= m {
                                    fewest = min(fewest, c[i + n - 1])
                                    if wanted[n] {
                                        let chars = len[i + n] - len[i] + (n - 1) - (touch[i + n - 1] - touch[i])
                                        bounds[n] = max(bounds[n], Int(fewest) * chars)
                                    }
                                    n += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        return bounds
    }

    /// Characters of the tokens covered by runs of repeated base-grams (`baseCounts[i] >= 2`)
    /// long enough to hold an n-gram (n - base + 1 base-grams). Every repeated n-gram lies in
    /// such a run, and datatrove's walk counts non-overlapping ones, so this bounds its count.
    static func duplicate(baseCounts: [Int32], base: Int, n: Int, lengthPrefix: [Int]) -> Int {
        var bound = 0
        baseCounts.withUnsafeBufferPointer { c in
            lengthPrefix.withUnsafeBufferPointer { len in
                var i = 0
                while i < c.count {
                    if c[i] < 2 {
                        i += 1
                        continue
                    }
                    var j = i
                    while j < c.count && c[j] >= 2 { j += 1 }
                    if j - i >= n - base + 1 { bound += len[j - 1 + base] - len[i] }
                    i = j
                }
            }
        }
        return bound
    }
}

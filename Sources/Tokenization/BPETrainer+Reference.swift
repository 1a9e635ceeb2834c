// The slow, obviously right trainer that the fast one is tested against (minbpe's way): every
// merge recounts every pair of every word, takes the most frequent (ties as `BPETrainer.tieKey`
// says), and rewrites every word.

extension BPETrainer {
    /// The merges that `train` must learn, found the slow way. For tests only: each merge costs
    /// a pass over all the words and a table of (vocabulary size)² counts.
    static func referenceMerges(counts: [[UInt8]: UInt64], options: BPETrainerOptions) -> [(left: Int, right: Int)] {
        let minFrequency = max(1, options.minFrequency)
        let maxLength = options.maxTokenLength > 0 ? options.maxTokenLength : Int.max
        // All words one after another, each followed by -1; `weight` holds the count of the word
        // of each symbol. (Flat arrays keep debug builds of the tests quick.)
        var ids: [Int] = []
        var weight: [UInt64] = []
        for (word, count) in counts.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            for b in word {
                ids.append(Int(b))
                weight.append(count)
            }
            ids.append(-1)
            weight.append(0)
        }
        var length = [Int](repeating: 1, count: 256)
        var merges: [(left: Int, right: Int)] = []

        while merges.count < options.mergeCount {
            // The count of every pair (left, right) of the token ids made so far is at
            // pairCounts[left * size + right].
            let size = 256 + merges.count
            var pairCounts = [UInt64](repeating: 0, count: size * size)
            for k in 1..<ids.count where ids[k - 1] >= 0 && ids[k] >= 0 {
                pairCounts[ids[k - 1] * size + ids[k]] += weight[k]
            }
            var best: (left: Int, right: Int, count: UInt64)?
            for k in 1..<ids.count where ids[k - 1] >= 0 && ids[k] >= 0 {
                let left = ids[k - 1], right = ids[k]
                let count = pairCounts[left * size + right]
                if length[left] + length[right] > maxLength { continue }
                if let b = best, count < b.count || (count == b.count
                    && tieKey(left, right) >= tieKey(b.left, b.right)) { continue }
                best = (left, right, count)
            }
            guard let best, best.count >= minFrequency else { break }

            // Replace every occurrence, left to right.
            let new = 256 + merges.count
            merges.append((best.left, best.right))
            length.append(length[best.left] + length[best.right])
            var merged: [Int] = [], mergedWeight: [UInt64] = []
            var k = 0
            while k < ids.count {
                if k + 1 < ids.count, ids[k] == best.left, ids[k + 1] == best.right {
                    merged.append(new)
                    k += 2
                } else {
                    merged.append(ids[k])
                    k += 1
                }
                mergedWeight.append(weight[k - 1])
            }
            ids = merged
            weight = mergedWeight
        }
        return merges
    }
}

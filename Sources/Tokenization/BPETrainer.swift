// Byte-level BPE training: the ordered merges of a vocabulary, learned from pre-token counts.
//
// Token ids: 0...255 are the single bytes in byte order (how tiktoken's byte-level vocabularies
// number them; GPT-2's own files number the first 256 by bytes_to_unicode, FORMATS.md §3.3), merge
// k makes token 256 + k, and the caller appends the special tokens after the merges.
//
// The algorithm is the usual incremental one (HF tokenizers' BpeTrainer, tiktoken's educational
// trainer): each distinct pre-token ("word") is kept once, as token ids with its count; pair counts
// are kept up to date, with the list of places where each pair occurs, and a max-heap picks the
// next merge. A merge visits only the places of its pair and adjusts the counts of the pairs around
// each occurrence. `referenceMerges` (BPETrainer+Reference.swift) recounts everything every merge,
// as minbpe does, and the tests hold the two to identical output (and HF tokenizers 0.23 gives
// the same merges for the same counts: checked on 50 MB of English and 12 MB of Chinese).

/// What `BPETrainer.train` learns. Each default is written here once.
public struct BPETrainerOptions: Codable, Equatable, Sendable {
    /// Size of the finished vocabulary: 256 single bytes + the merges + the special tokens.
    public var vocabSize = 8192
    /// A pair seen fewer times than this (summed over the corpus) is never merged; 0 acts as 1.
    public var minFrequency: UInt64 = 2
    /// Longest token, in bytes, that a merge may make; 0: no limit.
    public var maxTokenLength = 0
    /// Appended by the caller after the merges; they count towards `vocabSize`.
    public var specialTokens = ["<|endoftext|>"]

    public init() {}

    public static let defaults = BPETrainerOptions()

    /// How many merges make the vocabulary `vocabSize` tokens long (0 when it is too small).
    public var mergeCount: Int { max(0, vocabSize - 256 - specialTokens.count) }

    /// Rejects options that cannot make the vocabulary they describe.
    public func validate() throws(BPETrainerError) {
        if vocabSize < 256 + specialTokens.count {
            throw BPETrainerError(message: "vocab_size \(vocabSize) is below the 256 single bytes plus "
                + "\(specialTokens.count) special token(s)")
        }
        if maxTokenLength < 0 {
            throw BPETrainerError(message: "max_token_length \(maxTokenLength) is negative (0: no limit)")
        }
        var seen = Set<String>()
        for s in specialTokens {
            if s.isEmpty { throw BPETrainerError(message: "a special token is empty") }
            if !seen.insert(s).inserted { throw BPETrainerError(message: "special token \(s) is listed twice") }
        }
    }
}

public struct BPETrainerError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

public enum BPETrainer {
    /// Learns merges from pre-token counts until the vocabulary (256 bytes + merges + specials)
    /// reaches `options.vocabSize` or no pair that may be merged has frequency ≥ `minFrequency`.
    ///
    /// - Parameter counts: each distinct pre-token's bytes and how often it occurs.
    /// - Returns: the merges in the order learned, as pairs of token ids; merge k makes token 256 + k.
    ///
    /// Frequency of a pair: every pre-token adds its count once for each place where the pair's
    /// two tokens stand side by side, overlapping places included ("aaa" holds (a, a) twice), as
    /// minbpe and HF tokenizers count; a merge replaces the occurrences left to right, without
    /// overlap.
    ///
    /// Ties: among the pairs of highest frequency the one with the smallest
    /// `(tieRank(left), tieRank(right))` is merged first (see `tieRank`). This is HF tokenizers'
    /// rule, so for the same counts the merges are the same as its byte-level BPE trainer's.
    /// The result depends on nothing else: not on the order of `counts`, nor on threads (there
    /// are none).
    ///
    /// The options are used as given (`validate()` rejects those that make little sense); a
    /// vocabulary too small for the bytes and specials gets no merges.
    public static func train(counts: [[UInt8]: UInt64], options: BPETrainerOptions) -> [(left: Int, right: Int)] {
        var engine = Engine(counts: counts, options: options)
        return engine.run(mergeCount: options.mergeCount)
    }

    /// The bytes of every token: the 256 single bytes, then one per merge.
    /// A merge may only name tokens made before it.
    public static func tokens(merges: [(left: Int, right: Int)]) -> [[UInt8]] {
        var tokens = (0...255).map { [UInt8($0)] }
        tokens.reserveCapacity(256 + merges.count)
        for (k, m) in merges.enumerated() {
            let id = 256 + k
            precondition(m.left >= 0 && m.left < id && m.right >= 0 && m.right < id,
                         "merge \(k) (\(m.left), \(m.right)) names a token not made before it")
            tokens.append(tokens[m.left] + tokens[m.right])
        }
        return tokens
    }

    /// The order in which tied pairs are merged: a token's id in GPT-2's numbering, where single
    /// bytes come in bytes_to_unicode order (the printable bytes '!'...'~', 0xA1...0xAC,
    /// 0xAE...0xFF, then the other 68 in byte order; FORMATS.md §3.1, §3.3) and merged tokens in
    /// the order made. HF tokenizers' trainer breaks ties by the smaller pair of ids
    /// (`Merge::cmp` in models/bpe/trainer.rs), and its byte-level ids are those characters sorted
    /// by code point, which is this order.
    @inline(__always)
    static func tieRank(_ token: Int) -> Int {
        token < 256 ? Int(gpt2ByteRank[token]) : token
    }

    /// `(tieRank(left), tieRank(right))` as one number: a smaller key wins a tie.
    @inline(__always)
    static func tieKey(_ left: Int, _ right: Int) -> UInt64 {
        UInt64(tieRank(left)) << 32 | UInt64(tieRank(right))
    }

    /// GPT-2's id of each byte (bytes_to_unicode order).
    static let gpt2ByteRank: [UInt16] = {
        var rank = [UInt16](repeating: 0, count: 256)
        let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var next: UInt16 = 0
        for b in printable { rank[b] = next; next += 1 }
        let isPrintable = Set(printable)
        for b in 0...255 where !isPrintable.contains(b) { rank[b] = next; next += 1 }
        return rank
    }()
}

// MARK: - The incremental trainer

extension BPETrainer {
    /// The state of one training run. Every symbol of every distinct word is one `Node` in a flat
    /// array (words one after another): its token id, its neighbours in the word (a doubly linked
    /// list, as in HF tokenizers' `Word`) and its word, whose count is `wordCount[word]`.
    ///
    /// Every pair of neighbouring tokens in any word has an entry (index `p`) in the pair table with
    /// its exact frequency and the places where it starts. A pair's list of places is written once,
    /// in the round that creates the pair: a pair gains occurrences only when one of its tokens has
    /// just been made, so every place it will ever occur is known then (the list keeps places the
    /// pair has left since; a merge checks each). The lists are in text order, so overlapping
    /// occurrences ("aaa") are merged left to right. The heap holds at most one entry per pair; an
    /// entry whose count is stale (a pair's count only goes down after the round that made it) is
    /// pushed back with the current count when it comes to the top.
    struct Engine {
        /// One symbol of a word; 16 bytes, so that a merge reads all of it at once.
        struct Node {
            /// Token id; -1 once merged into the node on its left.
            var symbol: Int32
            /// Indices of the neighbours in `nodes`, -1 at the ends of the word.
            var next: Int32
            var previous: Int32
            var word: Int32
        }

        var nodes: [Node] = []
        var wordCount: [UInt64] = []

        /// Length in bytes of each token made so far.
        var tokenLength = [Int32](repeating: 1, count: 256)

        // Pairs, by index p: key = left << 32 | right (token ids), frequency, and the places
        // places[placeStart[p] ..< placeStart[p] + placeCount[p]].
        var pairTable = PairTable()
        var pairKey: [UInt64] = []
        var pairCount: [UInt64] = []
        var placeStart: [Int] = []
        var placeCount: [Int32] = []
        var places: [Int32] = []
        /// Entries of `places` that belong to pairs merged or never to be merged.
        var deadPlaces = 0
        /// `places` is compacted once more than this many entries, and more than half of it, are
        /// dead (a test lowers it); `compactions` counts the times.
        var compactionFloor = 1 << 20
        var compactions = 0

        /// (pair, place) for each occurrence that a pair gained during the current round.
        var events: [PairEvent] = []
        var heap = PairHeap()

        let minFrequency: UInt64
        let maxTokenLength: Int32

        init(counts: [[UInt8]: UInt64], options: BPETrainerOptions) {
            minFrequency = max(1, options.minFrequency)
            maxTokenLength = options.maxTokenLength > 0 ? Int32(clamping: options.maxTokenLength) : .max

            // Words in byte order, so that the run does not depend on the dictionary's order even in
            // its memory layout. A word of one byte has no pair and is left out.
            var words: [(bytes: [UInt8], count: UInt64)] = []
            for (bytes, count) in counts where bytes.count >= 2 && count > 0 { words.append((bytes, count)) }
            words.sort { $0.bytes.lexicographicallyPrecedes($1.bytes) }
            let total = words.reduce(0) { $0 + $1.bytes.count }
            precondition(total < Int(Int32.max), "more than 2^31 bytes of distinct pre-tokens")
            nodes.reserveCapacity(total)
            wordCount.reserveCapacity(words.count)
            for (w, (bytes, count)) in words.enumerated() {
                let start = Int32(nodes.count), last = start + Int32(bytes.count) - 1
                for (k, b) in bytes.enumerated() {
                    let i = start + Int32(k)
                    nodes.append(Node(symbol: Int32(b), next: i == last ? -1 : i + 1,
                                      previous: i == start ? -1 : i - 1, word: Int32(w)))
                }
                wordCount.append(count)
            }

            // Round 0 creates the pairs of bytes.
            events.reserveCapacity(total)
            for i in 0..<nodes.count where nodes[i].next >= 0 {
                add(nodes[i].symbol, nodes[i + 1].symbol, wordCount[Int(nodes[i].word)], at: Int32(i))
            }
            finishRound(firstNewPair: 0)
            events = []  // a round's events are a few of the first round's
        }

        mutating func run(mergeCount: Int) -> [(left: Int, right: Int)] {
            var merges: [(left: Int, right: Int)] = []
            merges.reserveCapacity(mergeCount)
            while merges.count < mergeCount, let top = heap.pop() {
                let p = Int(top.pair)
                let current = pairCount[p]
                if current != top.count {
                    if current >= minFrequency { heap.push(PairHeap.Entry(count: current, tie: top.tie, pair: top.pair)) }
                    else { retire(p) }
                    continue
                }
                let left = Int32(truncatingIfNeeded: pairKey[p] >> 32)
                let right = Int32(truncatingIfNeeded: pairKey[p] & 0xFFFF_FFFF)
                merges.append((Int(left), Int(right)))
                merge(pair: p, left: left, right: right, into: Int32(tokenLength.count))
            }
            return merges
        }

        // MARK: merging

        /// Replaces each occurrence of (a, b) by n, in text order, and moves the counts of the pairs
        /// around it. The left neighbour may be an n just made, the right one is not yet merged, so
        /// each update sees the word as it is at that moment and the counts end equal to a recount.
        mutating func merge(pair p: Int, left a: Int32, right b: Int32, into n: Int32) {
            tokenLength.append(tokenLength[Int(a)] + tokenLength[Int(b)])
            let firstNewPair = pairKey.count
            let start = placeStart[p], end = start + Int(placeCount[p])
            for s in start..<end {
                let i = Int(places[s])
                let node = nodes[i]
                guard node.symbol == a, node.next >= 0 else { continue }
                let j = Int(node.next)
                let second = nodes[j]
                guard second.symbol == b else { continue }
                let count = wordCount[Int(node.word)]
                pairCount[p] -= count
                if node.previous >= 0 {
                    let before = nodes[Int(node.previous)].symbol
                    remove(before, a, count)
                    add(before, n, count, at: node.previous)
                }
                if second.next >= 0 {
                    let k = Int(second.next)
                    let after = nodes[k].symbol
                    remove(b, after, count)
                    add(n, after, count, at: Int32(i))
                    nodes[k].previous = Int32(i)
                }
                nodes[i].symbol = n
                nodes[i].next = second.next
                nodes[j].symbol = -1
            }
            assert(pairCount[p] == 0, "pair count drifted from the words")
            pairCount[p] = 0
            retire(p)
            finishRound(firstNewPair: firstNewPair)
        }

        @inline(__always)
        static func key(_ left: Int32, _ right: Int32) -> UInt64 {
            UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        }

        /// One more occurrence of (left, right), starting at symbol `place` of a word that occurs
        /// `count` times.
        @inline(__always)
        mutating func add(_ left: Int32, _ right: Int32, _ count: UInt64, at place: Int32) {
            let key = Self.key(left, right)
            let (p, isNew) = pairTable.findOrInsert(key, value: Int32(pairKey.count))
            if isNew {
                pairKey.append(key)
                pairCount.append(count)
                placeStart.append(0)
                placeCount.append(0)
            } else {
                pairCount[Int(p)] += count
            }
            events.append(PairEvent(pair: p, place: place))
        }

        /// One occurrence fewer of (left, right), a pair that is in some word.
        @inline(__always)
        mutating func remove(_ left: Int32, _ right: Int32, _ count: UInt64) {
            let p = Int(pairTable.find(Self.key(left, right)))
            pairCount[p] -= count
        }

        /// Writes the places of the pairs created this round (those from `firstNewPair` on) and puts
        /// on the heap those that may be merged.
        mutating func finishRound(firstNewPair: Int) {
            let newPairs = pairKey.count - firstNewPair
            guard newPairs > 0 else { events.removeAll(keepingCapacity: true); return }
            // Counting sort of the events by pair; being stable, it keeps each list in text order.
            var cursor = [Int](repeating: 0, count: newPairs)
            for e in events { cursor[Int(e.pair) - firstNewPair] += 1 }
            var start = places.count
            for k in 0..<newPairs {
                placeStart[firstNewPair + k] = start
                placeCount[firstNewPair + k] = Int32(cursor[k])
                let n = cursor[k]
                cursor[k] = start
                start += n
            }
            places.append(contentsOf: repeatElement(0, count: events.count))
            for e in events {
                let k = Int(e.pair) - firstNewPair
                places[cursor[k]] = e.place
                cursor[k] += 1
            }
            events.removeAll(keepingCapacity: true)

            for p in firstNewPair..<pairKey.count {
                let key = pairKey[p]
                let left = Int(key >> 32), right = Int(key & 0xFFFF_FFFF)
                if pairCount[p] >= minFrequency, tokenLength[left] + tokenLength[right] <= maxTokenLength {
                    heap.push(PairHeap.Entry(count: pairCount[p], tie: BPETrainer.tieKey(left, right), pair: Int32(p)))
                } else {
                    retire(p)
                }
            }
            compactPlacesIfWasteful()
        }

        /// Marks a pair's places as no longer needed: the pair was merged, or it never can be.
        mutating func retire(_ p: Int) {
            deadPlaces += Int(placeCount[p])
            placeCount[p] = 0
        }

        /// Drops the places of retired pairs once they are most of `places`. Pairs' lists lie in the
        /// order of their indices, so the live ones can slide down in place.
        mutating func compactPlacesIfWasteful() {
            guard deadPlaces > compactionFloor, deadPlaces * 2 > places.count else { return }
            var kept = 0
            for p in 0..<pairKey.count where placeCount[p] > 0 {
                let start = placeStart[p], n = Int(placeCount[p])
                placeStart[p] = kept
                for k in 0..<n { places[kept + k] = places[start + k] }
                kept += n
            }
            places.removeLast(places.count - kept)
            deadPlaces = 0
            compactions += 1
        }
    }

    struct PairEvent {
        var pair: Int32
        var place: Int32
    }

    /// Open-addressing hash map from a pair key to its index, linear probing; entries are never
    /// removed (a pair keeps its index for the whole run).
    struct PairTable {
        static let empty = UInt64.max  // no pair of token ids below 2^31 has this key
        var keys = [UInt64](repeating: PairTable.empty, count: 1 << 16)
        var values = [Int32](repeating: 0, count: 1 << 16)
        var count = 0

        @inline(__always)
        static func slot(_ key: UInt64, _ mask: Int) -> Int {
            var h = key &* 0x9E37_79B9_7F4A_7C15  // Fibonacci hashing, high bits folded down
            h ^= h >> 29
            return Int(truncatingIfNeeded: h) & mask
        }

        /// The index stored for `key`, or -1.
        @inline(__always)
        func find(_ key: UInt64) -> Int32 {
            let mask = keys.count - 1
            var i = Self.slot(key, mask)
            while true {
                let k = keys[i]
                if k == key { return values[i] }
                if k == Self.empty { return -1 }
                i = (i + 1) & mask
            }
        }

        /// The index stored for `key`, or `value` stored as its index when it is new.
        @inline(__always)
        mutating func findOrInsert(_ key: UInt64, value: Int32) -> (Int32, inserted: Bool) {
            if count * 2 >= keys.count { grow() }
            let mask = keys.count - 1
            var i = Self.slot(key, mask)
            while true {
                let k = keys[i]
                if k == key { return (values[i], false) }
                if k == Self.empty {
                    keys[i] = key
                    values[i] = value
                    count += 1
                    return (value, true)
                }
                i = (i + 1) & mask
            }
        }

        mutating func grow() {
            let oldKeys = keys, oldValues = values
            keys = [UInt64](repeating: Self.empty, count: oldKeys.count * 2)
            values = [Int32](repeating: 0, count: oldKeys.count * 2)
            let mask = keys.count - 1
            for j in 0..<oldKeys.count where oldKeys[j] != Self.empty {
                var i = Self.slot(oldKeys[j], mask)
                while keys[i] != Self.empty { i = (i + 1) & mask }
                keys[i] = oldKeys[j]
                values[i] = oldValues[j]
            }
        }
    }

    /// Binary max-heap of pairs: higher count first, then the smaller tie key.
    struct PairHeap {
        struct Entry {
            var count: UInt64
            var tie: UInt64
            var pair: Int32

            @inline(__always)
            func before(_ o: Entry) -> Bool {
                count != o.count ? count > o.count : tie < o.tie
            }
        }

        var items: [Entry] = []

        mutating func push(_ e: Entry) {
            items.append(e)
            var i = items.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                if !items[i].before(items[parent]) { break }
                items.swapAt(i, parent)
                i = parent
            }
        }

        mutating func pop() -> Entry? {
            guard let top = items.first else { return nil }
            let last = items.removeLast()
            if items.isEmpty { return top }
            items[0] = last
            var i = 0
            let n = items.count
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                var c = l
                if l + 1 < n, items[l + 1].before(items[l]) { c = l + 1 }
                if !items[c].before(items[i]) { break }
                items.swapAt(i, c)
                i = c
            }
            return top
        }
    }
}

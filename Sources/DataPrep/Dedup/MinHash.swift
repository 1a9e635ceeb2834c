#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `prep dedup` looks for, and how hard. Each default is written here once.
///
/// Near duplicates follow the MinHash-LSH recipe of datatrove and FineWeb: each document is cut
/// into shingles (word `ngram`-grams; character grams in Han text, see `DedupText`), hashed
/// `numPermutations` times, and the signature's slots are grouped into `bands` of `rows`. Two
/// documents become a candidate pair when all rows of some band agree, which happens with
/// probability 1 - (1 - J^rows)^bands for Jaccard similarity J; the curve's midpoint is
/// `impliedThreshold`. Unlike datatrove, a candidate pair is merged only when the signatures'
/// estimated Jaccard similarity is at least `jaccardThreshold`, so band collisions between
/// documents that share only boilerplate do not join them.
public struct MinHashOptions: Codable, Equatable, Sendable {
    /// Signature length: independent hash functions per document.
    public var numPermutations = 128
    /// LSH bands × rows must equal `numPermutations`. 32 × 4 puts the S-curve's midpoint at
    /// (1/32)^(1/4) ≈ 0.42: a copy with 5% of its words changed shares only about 63% of its word
    /// 5-grams with the original (J ≈ 0.63) and still becomes a candidate with probability 0.996.
    /// Datatrove's 14 × 8 (midpoint 0.72) misses nearly all such copies. The many extra
    /// candidates cost little: each is confirmed against `jaccardThreshold`.
    public var bands = 32
    public var rows = 4
    /// Tokens per shingle (words; characters in Han text).
    public var ngram = 5
    /// Seeds the permutations and the token hashes; a different seed gives different signatures.
    public var seed: UInt64 = 1
    /// A candidate pair is merged when the fraction of equal signature slots reaches this. At
    /// 0.5 the planted 5%-changed copies (J ≈ 0.63) are merged and distinct pages that share
    /// a header and footer are not (precision 1.0, recall 0.998 in DedupEngineTests).
    public var jaccardThreshold = 0.5
    /// Remove documents whose normalized text equals an earlier one's.
    public var exact = true
    /// Remove near duplicates (MinHash).
    public var near = true

    public init() {}

    public static let defaults = MinHashOptions()

    /// The similarity at which a pair is as likely as not to become a candidate: (1/b)^(1/r).
    public var impliedThreshold: Double { MinHasher.impliedThreshold(bands: bands, rows: rows) }

    /// Fails on values the engine cannot use.
    public func validate() throws {
        guard numPermutations > 0, numPermutations <= 4096 else {
            throw DedupError.invalid("num_permutations must be between 1 and 4096 (got \(numPermutations))")
        }
        // Both come from a file: a product past Int.max must be refused, not trap.
        let product = bands.multipliedReportingOverflow(by: rows)
        guard bands > 0, rows > 0, !product.overflow, product.partialValue == numPermutations else {
            throw DedupError.invalid("bands × rows must equal num_permutations (got \(bands) × \(rows), \(numPermutations))")
        }
        guard ngram >= 1, ngram <= 64 else {
            throw DedupError.invalid("ngram must be between 1 and 64 (got \(ngram))")
        }
        guard jaccardThreshold > 0, jaccardThreshold <= 1 else {
            throw DedupError.invalid("jaccard_threshold must be in (0, 1] (got \(jaccardThreshold))")
        }
    }
}

/// A 128-bit key of a document's normalized text: MurmurHash3_x64_128, seed 0, over the text
/// with case folded and whitespace, punctuation and ASCII symbols dropped (`DedupText`). Two
/// documents with the same key are exact duplicates.
public struct ExactKey: Hashable, Sendable {
    public var h1: UInt64
    public var h2: UInt64

    public init(h1: UInt64, h2: UInt64) {
        self.h1 = h1
        self.h2 = h2
    }

    public init(_ text: String) {
        let ws = MinHasher.Workspace()
        let (bytes, _) = DedupText.normalize(text, into: ws)
        self = ExactKey(normalizedBytes: UnsafeRawBufferPointer(start: ws.norm, count: bytes))
    }

    init(normalizedBytes: UnsafeRawBufferPointer) {
        let (a, b) = MurmurHash3.x64_128(normalizedBytes, seed: 0)
        self.init(h1: a, h2: b)
    }

    public static func hash128(_ text: String) -> (UInt64, UInt64) {
        let k = ExactKey(text)
        return (k.h1, k.h2)
    }

    /// The normalized text the key is computed from (for reports and tests).
    public static func normalized(_ text: String) -> String {
        let ws = MinHasher.Workspace()
        let (bytes, _) = DedupText.normalize(text, into: ws)
        return String(decoding: UnsafeBufferPointer(start: ws.norm, count: bytes), as: UTF8.self)
    }
}

/// What dedup keeps of one document: its exact key and its MinHash signature.
public struct DedupSketch: Equatable, Sendable {
    public var exactKey: ExactKey
    /// `numPermutations` minimum hash values; empty when near dedup is off.
    public var signature: [UInt32]
    /// Shingles hashed; 0 when the normalized text is empty (such a document gets no band
    /// records: it can only be an exact duplicate).
    public var shingles: Int

    public init(exactKey: ExactKey, signature: [UInt32], shingles: Int) {
        self.exactKey = exactKey
        self.signature = signature
        self.shingles = shingles
    }
}

/// Computes signatures. A value type holding only the permutation parameters, so threads can
/// share one; each thread brings its own `Workspace`.
public struct MinHasher: Sendable {
    public let options: MinHashOptions
    /// Permutation i maps a 64-bit shingle hash x to the high 32 bits of a[i]·x + b[i] (mod 2^64):
    /// multiply-shift hashing (Dietzfelbinger et al. 1997) on already well-mixed input.
    let a: [UInt64]
    let b: [UInt64]
    let tokenSeed: UInt64
    let shingleSeed: UInt64
    let bandSeed: UInt64

    public init(_ options: MinHashOptions) throws {
        try options.validate()
        self.options = options
        var rng = SplitMix64(seed: options.seed)
        tokenSeed = rng.next()
        shingleSeed = rng.next()
        bandSeed = rng.next()
        var a: [UInt64] = []
        var b: [UInt64] = []
        for _ in 0..<options.numPermutations {
            a.append(rng.next() | 1)
            b.append(rng.next())
        }
        self.a = a
        self.b = b
    }

    /// The similarity at which a pair is as likely as not to share a band: (1/b)^(1/r).
    public static func impliedThreshold(bands: Int, rows: Int) -> Double {
        pow(1.0 / Double(bands), 1.0 / Double(rows))
    }

    /// The probability that a pair with Jaccard similarity `j` becomes a candidate.
    public static func candidateProbability(jaccard j: Double, bands: Int, rows: Int) -> Double {
        1 - pow(1 - pow(j, Double(rows)), Double(bands))
    }

    /// The fraction of slots where two signatures agree: an unbiased estimate of the Jaccard
    /// similarity of the two shingle sets, with standard deviation √(J(1−J)/numPermutations).
    public static func estimatedJaccard(_ x: [UInt32], _ y: [UInt32]) -> Double {
        precondition(x.count == y.count && !x.isEmpty)
        var equal = 0
        for i in x.indices where x[i] == y[i] { equal += 1 }
        return Double(equal) / Double(x.count)
    }

    @inline(__always)
    static func equalSlots(_ x: UnsafePointer<UInt32>, _ y: UnsafePointer<UInt32>, count: Int) -> Int {
        var equal = 0
        for i in 0..<count where x[i] == y[i] { equal += 1 }
        return equal
    }

    /// Scratch buffers reused from one document to the next (one per thread).
    public final class Workspace {
        var norm: UnsafeMutablePointer<UInt8>
        var tokenEnds: UnsafeMutablePointer<UInt32>
        var capacity: Int
        var mins: [UInt32] = []

        public init() {
            capacity = 4096
            norm = .allocate(capacity: 2 * capacity + 16)
            tokenEnds = .allocate(capacity: capacity + 1)
        }

        deinit {
            norm.deallocate()
            tokenEnds.deallocate()
        }

        func reserve(inputBytes n: Int) {
            guard n > capacity else { return }
            norm.deallocate()
            tokenEnds.deallocate()
            capacity = max(n, 2 * capacity)
            norm = .allocate(capacity: 2 * capacity + 16)
            tokenEnds = .allocate(capacity: capacity + 1)
        }
    }

    /// The signature alone.
    public func signature(of text: String) -> [UInt32] {
        sketch(of: text, workspace: Workspace()).signature
    }

    public func sketch(of text: String) -> DedupSketch {
        sketch(of: text, workspace: Workspace())
    }

    /// Normalizes `text` once, hashes it for the exact key and, when near dedup is on, computes
    /// the MinHash signature over its shingles.
    public func sketch(of text: String, workspace ws: Workspace) -> DedupSketch {
        let (bytes, tokens) = DedupText.normalize(text, into: ws)
        let key = ExactKey(normalizedBytes: UnsafeRawBufferPointer(start: ws.norm, count: bytes))
        guard options.near else { return DedupSketch(exactKey: key, signature: [], shingles: 0) }
        let p = options.numPermutations
        var sig = [UInt32](repeating: .max, count: p)
        let shingles = sig.withUnsafeMutableBufferPointer { mins in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    minhash(norm: ws.norm, tokenEnds: ws.tokenEnds, tokens: tokens,
                            a: pa.baseAddress!, b: pb.baseAddress!, mins: mins.baseAddress!, count: p)
                }
            }
        }
        return DedupSketch(exactKey: key, signature: sig, shingles: shingles)
    }

    /// Hashes each token, combines `ngram` consecutive token hashes into a shingle hash and
    /// folds every shingle into the running minima. A text with fewer tokens than `ngram` is one
    /// shingle of all its tokens. Returns the number of shingles.
    func minhash(norm: UnsafeMutablePointer<UInt8>, tokenEnds: UnsafeMutablePointer<UInt32>, tokens: Int,
                 a: UnsafePointer<UInt64>, b: UnsafePointer<UInt64>, mins: UnsafeMutablePointer<UInt32>,
                 count p: Int) -> Int {
        guard tokens > 0 else { return 0 }
        let n = options.ngram
        // The last n token hashes, each written twice (at k and k + n): once `slot` has moved
        // past the newest, the window from oldest to newest is ring[slot ..< slot + n], with no
        // modulo in the loop.
        let ring = UnsafeMutablePointer<UInt64>.allocate(capacity: 2 * n)
        defer { ring.deallocate() }
        var start = 0
        var slot = 0
        for t in 0..<tokens {
            let end = Int(tokenEnds[t])
            let h = Self.hashBytes(norm + start, count: end - start, seed: tokenSeed)
            start = end
            ring[slot] = h
            ring[slot + n] = h
            slot += 1
            if slot == n { slot = 0 }
            if t + 1 >= n {
                var x = shingleSeed
                for k in slot..<(slot + n) { x = Self.combine(x, ring[k]) }
                Self.fold(Self.fmix64(x), a: a, b: b, mins: mins, count: p)
            }
        }
        if tokens < n {
            var x = shingleSeed
            for k in 0..<tokens { x = Self.combine(x, ring[k]) }
            Self.fold(Self.fmix64(x), a: a, b: b, mins: mins, count: p)
            return 1
        }
        return tokens - n + 1
    }

    /// The inner loop: `count` permutations of one shingle hash.
    @inline(__always)
    static func fold(_ x: UInt64, a: UnsafePointer<UInt64>, b: UnsafePointer<UInt64>,
                     mins: UnsafeMutablePointer<UInt32>, count p: Int) {
        for i in 0..<p {
            let v = UInt32(truncatingIfNeeded: (x &* a[i] &+ b[i]) >> 32)
            if v < mins[i] { mins[i] = v }
        }
    }

    /// One 64-bit hash per band of `rows` slots, with the band's index mixed in.
    public func bandHashes(_ sig: [UInt32]) -> [UInt64] {
        precondition(sig.count == options.numPermutations)
        var out = [UInt64](repeating: 0, count: options.bands)
        for band in 0..<options.bands {
            out[band] = bandHash(sig, band: band)
        }
        return out
    }

    @inline(__always)
    func bandHash(_ sig: [UInt32], band: Int) -> UInt64 {
        let r = options.rows
        var h = bandSeed ^ (UInt64(band) &* 0x9E37_79B9_7F4A_7C15)
        for k in 0..<r { h = Self.combine(h, UInt64(sig[band * r + k])) }
        return Self.fmix64(h ^ UInt64(r))
    }

    /// Sebastiano Vigna's SplitMix64: the permutation parameters from the seed.
    struct SplitMix64 {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    // MARK: hashing helpers

    /// One step of an order-sensitive combination of 64-bit values (the body of MurmurHash3's
    /// block loop).
    @inline(__always)
    static func combine(_ h: UInt64, _ v: UInt64) -> UInt64 {
        var k = v &* 0x87C3_7B91_1142_53D5
        k = (k << 31) | (k >> 33)
        k = k &* 0x4CF5_AD43_2745_937F
        var h = h ^ k
        h = (h << 27) | (h >> 37)
        return h &* 5 &+ 0x52DC_E729
    }

    /// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
    @inline(__always)
    static func fmix64(_ x: UInt64) -> UInt64 {
        var k = x
        k ^= k >> 33
        k = k &* 0xFF51_AFD7_ED55_8CCD
        k ^= k >> 33
        k = k &* 0xC4CE_B9FE_1A85_EC53
        k ^= k >> 33
        return k
    }

    /// A 64-bit hash of a token's bytes (little-endian words through `combine`, then `fmix64`).
    @inline(__always)
    static func hashBytes(_ p: UnsafeMutablePointer<UInt8>, count n: Int, seed: UInt64) -> UInt64 {
        var h = seed ^ (UInt64(n) &* 0x9E37_79B9_7F4A_7C15)
        let raw = UnsafeRawPointer(p)
        var i = 0
        while i + 8 <= n {
            h = combine(h, UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
            i += 8
        }
        if i < n {
            var k: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                k |= UInt64(p[i]) << shift
                shift += 8
                i += 1
            }
            h = combine(h, k)
        }
        return fmix64(h)
    }
}

/// MurmurHash3_x64_128 (Austin Appleby, public domain), written out from the reference
/// `MurmurHash3.cpp`; tested against the reference's outputs.
enum MurmurHash3 {
    static func x64_128(_ data: UnsafeRawBufferPointer, seed: UInt32) -> (UInt64, UInt64) {
        let c1: UInt64 = 0x87C3_7B91_1142_53D5
        let c2: UInt64 = 0x4CF5_AD43_2745_937F
        let len = data.count
        var h1 = UInt64(seed)
        var h2 = UInt64(seed)
        @inline(__always) func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
        let blocks = len / 16
        if let base = data.baseAddress {
            for i in 0..<blocks {
                var k1 = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 16 * i, as: UInt64.self))
                var k2 = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 16 * i + 8, as: UInt64.self))
                k1 = k1 &* c1; k1 = rotl(k1, 31); k1 = k1 &* c2; h1 ^= k1
                h1 = rotl(h1, 27); h1 = h1 &+ h2; h1 = h1 &* 5 &+ 0x52DC_E729
                k2 = k2 &* c2; k2 = rotl(k2, 33); k2 = k2 &* c1; h2 ^= k2
                h2 = rotl(h2, 31); h2 = h2 &+ h1; h2 = h2 &* 5 &+ 0x3849_5AB5
            }
            let tail = 16 * blocks
            let rest = len & 15
            var k1: UInt64 = 0
            var k2: UInt64 = 0
            if rest > 8 {
                for j in stride(from: rest - 1, through: 8, by: -1) {
                    k2 ^= UInt64(data[tail + j]) << (8 * UInt64(j - 8))
                }
                k2 = k2 &* c2; k2 = rotl(k2, 33); k2 = k2 &* c1; h2 ^= k2
            }
            if rest > 0 {
                for j in stride(from: min(rest, 8) - 1, through: 0, by: -1) {
                    k1 ^= UInt64(data[tail + j]) << (8 * UInt64(j))
                }
                k1 = k1 &* c1; k1 = rotl(k1, 31); k1 = k1 &* c2; h1 ^= k1
            }
        }
        h1 ^= UInt64(len)
        h2 ^= UInt64(len)
        h1 = h1 &+ h2
        h2 = h2 &+ h1
        h1 = MinHasher.fmix64(h1)
        h2 = MinHasher.fmix64(h2)
        h1 = h1 &+ h2
        h2 = h2 &+ h1
        return (h1, h2)
    }
}

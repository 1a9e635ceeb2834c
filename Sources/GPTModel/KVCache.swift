// Generation with a key/value cache: each new position runs through the model once, attending
// to the keys and values of the earlier positions kept from previous calls.
//
//   keys, values: (L, B, maxT, C)     one allocation, with the scratch below
//   scratch for up to maxT new positions per sequence: x, ln, atty, proj (B, maxT, C),
//   qkv (B, maxT, 3C), fch, fchGelu (B, maxT, 4C), mean, rstd (B, maxT); the last position's
//   lnf (B, C) and logits (B, Vp); attention rows (threads, maxT)

import Kernels

/// Keys and values of the positions seen so far, for B sequences of up to `maxT` positions.
public final class KVCache {
    public let B: Int
    public let maxT: Int
    /// Positions already in the cache (the same for every sequence).
    public private(set) var count = 0
    let config: GPTConfig
    let attentionThreads: Int
    private let memory: UnsafeMutableBufferPointer<Float>
    private let offsets: [Int]

    enum Slot: Int, CaseIterable { case keys, values, x, ln, atty, proj, qkv, fch, fchGelu, mean, rstd, lnf, logits, rows }

    init(config: GPTConfig, B: Int, maxT: Int, threads: Int) {
        precondition(B >= 1 && maxT >= 1 && maxT <= config.maxSeqLen)
        self.config = config
        self.B = B
        self.maxT = maxT
        attentionThreads = threads
        let C = config.channels, L = config.numLayers, rows = B * maxT
        var offsets: [Int] = [], at = 0
        for s in Slot.allCases {
            offsets.append(at)
            switch s {
            case .keys, .values: at += L * rows * C
            case .x, .ln, .atty, .proj: at += rows * C
            case .qkv: at += rows * 3 * C
            case .fch, .fchGelu: at += rows * 4 * C
            case .mean, .rstd: at += rows
            case .lnf: at += B * C
            case .logits: at += B * config.paddedVocabSize
            case .rows: at += threads * maxT
            }
        }
        offsets.append(at)
        self.offsets = offsets
        memory = .allocate(capacity: at)
        memory.initialize(repeating: 0)
    }

    deinit { memory.deallocate() }

    /// Forgets every position, keeping the allocation.
    public func reset() { count = 0 }

    func advance(_ n: Int) { count += n }

    subscript(_ s: Slot) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: memory[offsets[s.rawValue] ..< offsets[s.rawValue + 1]])
    }

    /// Layer l's slice of the keys or values.
    func cache(_ s: Slot, layer l: Int) -> UnsafeMutableBufferPointer<Float> {
        precondition(s == .keys || s == .values)
        let n = B * maxT * config.channels, o = offsets[s.rawValue] + l * n
        return UnsafeMutableBufferPointer(rebasing: memory[o ..< o + n])
    }
}

extension GPT {
    /// A cache for B sequences of up to `maxT` positions (the model's maximum by default).
    public func makeCache(batch B: Int, maxT: Int? = nil) -> KVCache {
        KVCache(config: config, B: B, maxT: maxT ?? config.maxSeqLen, threads: threads)
    }

    /// Feeds `tokens`, (B, n) row-major: n new tokens for each of the cache's B sequences, at
    /// positions cache.count ..< cache.count + n. Returns the logits of the last new position of
    /// each sequence, (B, Vp), of which the first V per row are real tokens. They equal the full
    /// forward's logits at those positions up to float rounding.
    public func forwardIncremental(_ tokens: [Int32], cache: KVCache) -> [Float] {
        let B = cache.B, C = config.channels, NH = config.numHeads, L = config.numLayers
        let V = config.vocabSize, Vp = config.paddedVocabSize, th = threads
        precondition(cache.config == config, "the cache belongs to another model shape")
        precondition(!tokens.isEmpty && tokens.count % B == 0, "\(tokens.count) tokens for \(B) sequences")
        let n = tokens.count / B, start = cache.count, N = B * n
        precondition(start + n <= cache.maxT, "cache full: \(start) + \(n) positions exceed \(cache.maxT)")
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= V }) {
            preconditionFailure("token \(bad) outside the vocabulary 0..<\(V)")
        }
        let positions = (0..<N).map { Int32(start + $0 % n) }
        let x = cache[.x], ln = cache[.ln], qkv = cache[.qkv], atty = cache[.atty], proj = cache[.proj]
        let fch = cache[.fch], fchGelu = cache[.fchGelu], mean = cache[.mean], rstd = cache[.rstd]
        tokens.withUnsafeBufferPointer { tok in
            positions.withUnsafeBufferPointer { pos in
                Encoder.forward(out: x, tokens: tok, positions: pos, wte: p(.wte), wpe: p(.wpe),
                                N: N, C: C, threads: th)
            }
        }
        for l in 0..<L {
            LayerNorm.forward(out: ln, mean: mean, rstd: rstd, inp: x.ro, weight: p(.ln1w, l),
                              bias: p(.ln1b, l), N: N, C: C, threads: th)
            Matmul.forward(out: qkv, inp: ln.ro, weight: p(.qkvw, l), bias: p(.qkvb, l),
                           N: N, C: C, OC: 3 * C, threads: th)
            Attention.forwardCached(out: atty, qkv: qkv.ro, kCache: cache.cache(.keys, layer: l),
                                    vCache: cache.cache(.values, layer: l), scratch: cache[.rows], start: start, n: n,
                                    B: B, maxT: cache.maxT, C: C, NH: NH, threads: min(th, cache.attentionThreads))
            Matmul.forward(out: proj, inp: atty.ro, weight: p(.attprojw, l), bias: p(.attprojb, l),
                           N: N, C: C, OC: C, threads: th)
            // In place: each element of x is read once, then written, at the same index.
            Residual.forward(out: x, a: x.ro, b: proj.ro, N: N * C, threads: th)
            LayerNorm.forward(out: ln, mean: mean, rstd: rstd, inp: x.ro, weight: p(.ln2w, l),
                              bias: p(.ln2b, l), N: N, C: C, threads: th)
            Matmul.forward(out: fch, inp: ln.ro, weight: p(.fcw, l), bias: p(.fcb, l),
                           N: N, C: C, OC: 4 * C, threads: th)
            GELU.forward(out: fchGelu, inp: fch.ro, N: N * 4 * C, threads: th)
            Matmul.forward(out: proj, inp: fchGelu.ro, weight: p(.fcprojw, l), bias: p(.fcprojb, l),
                           N: N, C: 4 * C, OC: C, threads: th)
            Residual.forward(out: x, a: x.ro, b: proj.ro, N: N * C, threads: th)
        }
        cache.advance(n)
        // Only the last position of each sequence needs the final LayerNorm and the logits.
        let last = cache[.lnf]
        for b in 0..<B {
            let from = ((b * n + n - 1) * C)
            UnsafeMutableBufferPointer(rebasing: ln[b * C ..< (b + 1) * C])
                .update(fromContentsOf: x[from ..< from + C])
        }
        LayerNorm.forward(out: last, mean: mean, rstd: rstd, inp: ln.ro, weight: p(.lnfw),
                          bias: p(.lnfb), N: B, C: C, threads: th)
        let logits = cache[.logits]
        Matmul.forward(out: logits, inp: last.ro, weight: p(.wte), bias: nil, N: B, C: C, OC: Vp, threads: th)
        return Array(logits)
    }
}
